//! `lambdasim report RESULTS --out DIR`: a sweep's results as a Markdown report and a
//! self-contained HTML page, with the figures the keep-alive papers use:
//!
//! - the Pareto front of the 75th-percentile app's cold-start percentage against wasted
//!   memory-time normalized to a baseline policy (a fixed 10-minute TTL by default), as in
//!   "Serverless in the Wild" (Shahrad et al., ATC'20, Fig. 16);
//! - the cold-start ratio against memory size, one line per policy, and FaasCache's "% increase
//!   in execution time" (Fuerst and Sharma, ASPLOS'21, Fig. 7): the time invocations spent
//!   beyond their execution, over their execution time.
//!
//! Each figure is written as SVG and PNG. The text is drawn with a bundled font (DejaVu Sans), so
//! the report renders the same on a host without fonts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// A sweep's results table.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The grid's axes: the columns between `seed` and `invocations`.
    pub axes: Vec<String>,
}

/// The policy axis and the memory axis the figures use.
pub const POLICY: &str = "policies.keep_alive";
pub const MEMORY: &str = "cluster.memory_mb";

/// Splits one CSV line, honouring quotes.
fn split(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

impl Results {
    /// Reads `lambdasim sweep`'s CSV; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Results, String> {
        let mut lines = text.lines();
        let columns = split(lines.next().ok_or(format!("{origin}: empty file"))?);
        let (Some(seed), Some(first_metric)) = (
            columns.iter().position(|c| c == "seed"),
            columns.iter().position(|c| c == "invocations"),
        ) else {
            return Err(format!(
                "{origin}: not a sweep's results (no seed and invocations columns)"
            ));
        };
        let axes = columns[seed + 1..first_metric].to_vec();
        let mut rows = Vec::new();
        for (n, line) in lines.enumerate() {
            let row = split(line);
            if row.len() != columns.len() {
                return Err(format!(
                    "{origin}, line {}: {} cells, expected {}",
                    n + 2,
                    row.len(),
                    columns.len()
                ));
            }
            rows.push(row);
        }
        Ok(Results {
            columns,
            rows,
            axes,
        })
    }

    fn col(&self, name: &str) -> Result<usize, String> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("the results have no {name} column"))
    }

    fn num(&self, row: &[String], name: &str) -> Result<f64, String> {
        let i = self.col(name)?;
        row[i]
            .parse()
            .map_err(|_| format!("{name}: {:?} is not a number", row[i]))
    }
}

/// Named lines of a figure: each a series' name and its points.
pub type Series = Vec<(String, Vec<(f64, f64)>)>;

/// A point of a figure and the run it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub series: String,
    pub x: f64,
    pub y: f64,
}

/// The Pareto figure's points: for every run, its wasted memory-time as a percentage of the
/// baseline policy's in the run with the same other grid values and seed, and its
/// 75th-percentile app's cold-start percentage. Runs without a baseline run are left out.
pub fn pareto_points(r: &Results, baseline: &str) -> Result<Vec<Point>, String> {
    let policy = r.col(POLICY)?;
    let key = |row: &[String]| -> Vec<String> {
        let mut k: Vec<String> = r
            .axes
            .iter()
            .filter(|a| a.as_str() != POLICY)
            .map(|a| row[r.columns.iter().position(|c| c == a).unwrap_or(0)].clone())
            .collect();
        k.push(row[1].clone());
        k
    };
    let mut base = BTreeMap::new();
    for row in &r.rows {
        if row[policy] == baseline {
            base.insert(key(row), r.num(row, "wasted_gb_s")?);
        }
    }
    if base.is_empty() {
        return Err(format!(
            "no run has the baseline policy {baseline:?}; the policies are {}",
            policies(r)?.join(", ")
        ));
    }
    let mut points = Vec::new();
    for row in &r.rows {
        if let Some(&b) = base.get(&key(row))
            && b > 0.0
        {
            points.push(Point {
                series: row[policy].clone(),
                x: 100.0 * r.num(row, "wasted_gb_s")? / b,
                y: r.num(row, "p75_app_cold_pct")?,
            });
        }
    }
    Ok(points)
}

/// The points no other point beats on both axes (lower is better on both), by increasing x.
pub fn pareto_front(points: &[Point]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|l| p.1 < l.1) {
            front.push(p);
        }
    }
    front
}

/// The distinct values of the policy axis, in order of appearance.
fn policies(r: &Results) -> Result<Vec<String>, String> {
    let i = r.col(POLICY)?;
    let mut out: Vec<String> = Vec::new();
    for row in &r.rows {
        if !out.contains(&row[i]) {
            out.push(row[i].clone());
        }
    }
    Ok(out)
}

/// `metric` against memory size, one series per policy, averaged over seeds and other axes.
pub fn by_memory(
    r: &Results,
    metric: impl Fn(&[String]) -> Result<f64, String>,
) -> Result<Series, String> {
    let (policy, memory) = (r.col(POLICY)?, r.col(MEMORY)?);
    let mut out = Vec::new();
    for p in policies(r)? {
        let mut sums: BTreeMap<u64, (f64, u32)> = BTreeMap::new();
        for row in r.rows.iter().filter(|row| row[policy] == p) {
            let mb: f64 = row[memory]
                .parse()
                .map_err(|_| format!("{MEMORY}: {:?} is not a number", row[memory]))?;
            let e = sums.entry(mb as u64).or_insert((0.0, 0));
            e.0 += metric(row)?;
            e.1 += 1;
        }
        let line = sums
            .into_iter()
            .map(|(mb, (sum, n))| (mb as f64, sum / f64::from(n)))
            .collect();
        out.push((p, line));
    }
    Ok(out)
}

/// Registers the bundled font once; plotters draws every text with it.
fn font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is bundled and valid; a failure would only lose the text, not the plot.
            let _ = plotters::style::register_font("sans-serif", style, bytes);
        }
    });
}

/// Size of every figure, in pixels.
pub const FIGURE: (u32, u32) = (900, 560);

/// A figure: lines (or points) per series, and an optional black front line.
pub struct Figure<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: &'a Series,
    pub lines: bool,
    pub front: Option<&'a [(f64, f64)]>,
}

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    f: &Figure,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: &dyn std::fmt::Display| format!("drawing {:?}: {e}", f.title);
    area.fill(&WHITE).map_err(|e| err(&e))?;
    let all: Vec<(f64, f64)> = f
        .series
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    let span = |v: Vec<f64>| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            (0.0, 1.0)
        } else if hi - lo < 1e-9 {
            (lo - 1.0, hi + 1.0)
        } else {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        }
    };
    let (x0, x1) = span(all.iter().map(|p| p.0).collect());
    let (y0, y1) = span(all.iter().map(|p| p.1).collect());
    let mut chart = ChartBuilder::on(&area)
        .caption(f.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0.min(0.0).max(y0)..y1)
        .map_err(|e| err(&e))?;
    let decimals = |lo: f64, hi: f64| {
        if hi - lo >= 20.0 {
            0
        } else if hi - lo >= 2.0 {
            1
        } else {
            2
        }
    };
    let (xd, yd) = (decimals(x0, x1), decimals(y0, y1));
    let x_fmt = move |v: &f64| format!("{v:.xd$}");
    let y_fmt = move |v: &f64| format!("{v:.yd$}");
    chart
        .configure_mesh()
        .x_desc(f.x_label)
        .y_desc(f.y_label)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (name, points)) in f.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if f.lines {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| err(&e))?
            .label(short(name))
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
    }
    if let Some(front) = f.front {
        chart
            .draw_series(LineSeries::new(
                front.iter().copied(),
                BLACK.stroke_width(1),
            ))
            .map_err(|e| err(&e))?
            .label("Pareto front")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    }
    // The legend goes in the corner with the fewest points.
    let corner = |left: bool, top: bool| {
        all.iter()
            .filter(|p| {
                let fx = (p.0 - x0) / (x1 - x0);
                let fy = (p.1 - y0) / (y1 - y0);
                (fx < 0.5) == left && (fy >= 0.5) == top
            })
            .count()
    };
    let position = [
        (SeriesLabelPosition::UpperRight, corner(false, true)),
        (SeriesLabelPosition::UpperLeft, corner(true, true)),
        (SeriesLabelPosition::LowerRight, corner(false, false)),
        (SeriesLabelPosition::LowerLeft, corner(true, false)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .map_or(SeriesLabelPosition::UpperRight, |(p, _)| p);
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;
    area.present().map_err(|e| err(&e))?;
    Ok(())
}

/// A legend label of at most 32 characters.
fn short(name: &str) -> String {
    if name.chars().count() <= 32 {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(31).collect();
        s.push('…');
        s
    }
}

/// Writes `<stem>.svg` and `<stem>.png` in `dir`; returns the SVG's text.
pub fn render(dir: &Path, stem: &str, figure: &Figure) -> Result<String, String> {
    font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    draw(SVGBackend::new(&svg, FIGURE).into_drawing_area(), figure)?;
    draw(BitMapBackend::new(&png, FIGURE).into_drawing_area(), figure)?;
    std::fs::read_to_string(&svg).map_err(|e| format!("reading {}: {e}", svg.display()))
}

/// Escapes text for HTML.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The columns of the report's table.
const TABLE: [(&str, &str); 8] = [
    ("cold_start_ratio", "cold starts %"),
    ("p75_app_cold_pct", "p75 app cold %"),
    ("wasted_gb_s", "wasted GB-s"),
    ("latency_p99_ms", "latency p99 ms"),
    ("startup_p99_ms", "startup p99 ms"),
    ("dropped", "dropped"),
    ("failed", "failed"),
    ("evicted", "evicted"),
];

/// Writes `report.md`, `report.html` and the figures into `dir`; returns the files written.
pub fn write(r: &Results, dir: &Path, baseline: &str) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    let mut md = String::new();
    let mut page = String::new();
    let _ = writeln!(
        md,
        "# Sweep report\n\n{} runs over {}.\n",
        r.rows.len(),
        r.axes.join(", ")
    );
    let _ = writeln!(
        page,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sweep report</title>\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}\
         </style></head><body>\n<h1>Sweep report</h1>\n<p>{} runs over {}.</p>",
        r.rows.len(),
        html(&r.axes.join(", "))
    );
    let has = |c: &str| r.columns.iter().any(|x| x == c);
    let mut figures: Vec<(&str, String, String)> = Vec::new();
    if has(POLICY) {
        let points = pareto_points(r, baseline)?;
        let mut series: Series = Vec::new();
        for p in &points {
            match series.iter_mut().find(|(n, _)| *n == p.series) {
                Some((_, s)) => s.push((p.x, p.y)),
                None => series.push((p.series.clone(), vec![(p.x, p.y)])),
            }
        }
        let front = pareto_front(&points);
        let svg = render(
            dir,
            "pareto",
            &Figure {
                title: "Cold starts against wasted memory",
                x_label: &format!("wasted memory-time, % of {baseline}"),
                y_label: "75th-percentile app cold starts (%)",
                series: &series,
                lines: false,
                front: Some(&front),
            },
        )?;
        figures.push((
            "pareto",
            format!(
                "The 75th-percentile app's cold-start percentage against wasted memory-time, as a \
                 percentage of {baseline}'s in the run with the same other settings; the line is \
                 the Pareto front (lower and further left is better)."
            ),
            svg,
        ));
    }
    if has(POLICY) && has(MEMORY) {
        let cold = by_memory(r, |row| Ok(100.0 * r.num(row, "cold_start_ratio")?))?;
        let svg = render(
            dir,
            "cold-vs-memory",
            &Figure {
                title: "Cold-start ratio against memory",
                x_label: "memory per worker (MB)",
                y_label: "cold starts (%)",
                series: &cold,
                lines: true,
                front: None,
            },
        )?;
        figures.push((
            "cold-vs-memory",
            "The cold-start ratio against each worker's memory, one line per policy.".into(),
            svg,
        ));
        let increase = by_memory(r, |row| {
            let (lat, exec) = (r.num(row, "latency_mean_ms")?, r.num(row, "exec_mean_ms")?);
            Ok(if exec > 0.0 {
                100.0 * (lat - exec) / exec
            } else {
                0.0
            })
        })?;
        let svg = render(
            dir,
            "increase-vs-memory",
            &Figure {
                title: "Increase in execution time against memory",
                x_label: "memory per worker (MB)",
                y_label: "increase in execution time (%)",
                series: &increase,
                lines: true,
                front: None,
            },
        )?;
        figures.push((
            "increase-vs-memory",
            "FaasCache's \"% increase in execution time\": the time completed invocations spent \
             beyond their execution (queueing and cold starts) over their execution time."
                .into(),
            svg,
        ));
    }
    for (stem, caption, svg) in &figures {
        let _ = writeln!(
            md,
            "![{stem}]({stem}.png)\n\n{caption} ([SVG]({stem}.svg))\n"
        );
        let _ = writeln!(
            page,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            html(caption)
        );
        files.push(dir.join(format!("{stem}.svg")));
        files.push(dir.join(format!("{stem}.png")));
    }
    // The table: one row per run.
    let head: Vec<String> = ["run".to_string(), "seed".to_string()]
        .into_iter()
        .chain(r.axes.iter().cloned())
        .chain(TABLE.iter().map(|(_, t)| t.to_string()))
        .collect();
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(head.len()));
    let _ = write!(page, "<table><tr>");
    for h in &head {
        let _ = write!(page, "<th>{}</th>", html(h));
    }
    let _ = writeln!(page, "</tr>");
    for row in &r.rows {
        let mut cells = vec![row[0].clone(), row[1].clone()];
        for a in &r.axes {
            cells.push(row[r.col(a)?].clone());
        }
        for (c, _) in TABLE {
            let v = r.num(row, c)?;
            cells.push(if c == "cold_start_ratio" {
                format!("{:.2}", 100.0 * v)
            } else if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            });
        }
        let _ = writeln!(
            md,
            "| {} |",
            cells
                .iter()
                .map(|c| c.replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = write!(page, "<tr>");
        for c in &cells {
            let _ = write!(page, "<td>{}</td>", html(c));
        }
        let _ = writeln!(page, "</tr>");
    }
    let _ = writeln!(page, "</table>\n</body></html>");
    for (name, text) in [("report.md", &md), ("report.html", &page)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two policies at two memory sizes, one seed. Wasted GB-s: ttl 100 and 50, lru 80 and 75;
    /// p75 app cold %: ttl 10 and 5, lru 20 and 4.
    const CSV: &str = "\
run,seed,cluster.memory_mb,policies.keep_alive,invocations,cold_start_ratio,p75_app_cold_pct,latency_mean_ms,exec_mean_ms,latency_p99_ms,startup_p99_ms,wasted_gb_s,dropped,failed,evicted
0,1,1024,ttl(idle=10m),10,0.5,10,30,20,50,5,100,0,0,3
1,1,1024,lru,10,0.6,20,40,20,60,6,80,0,0,4
2,1,2048,ttl(idle=10m),10,0.1,5,22,20,40,2,50,0,0,1
3,1,2048,lru,10,0.2,4,21,20,30,1,75,0,0,0
";

    fn results() -> Results {
        Results::parse(CSV, "test.csv").unwrap()
    }

    #[test]
    fn pareto_points_are_normalized_to_the_baseline_with_the_same_settings() {
        let r = results();
        assert_eq!(r.axes, ["cluster.memory_mb", "policies.keep_alive"]);
        let points = pareto_points(&r, "ttl(idle=10m)").unwrap();
        let xy: Vec<(&str, f64, f64)> = points
            .iter()
            .map(|p| (p.series.as_str(), p.x, p.y))
            .collect();
        // lru at 1024 MB wasted 80 of ttl's 100 (80%); at 2048 MB 75 of 50 (150%).
        assert_eq!(
            xy,
            [
                ("ttl(idle=10m)", 100.0, 10.0),
                ("lru", 80.0, 20.0),
                ("ttl(idle=10m)", 100.0, 5.0),
                ("lru", 150.0, 4.0),
            ]
        );
        // The front: (80, 20), then (100, 5), then (150, 4); (100, 10) is beaten by (100, 5).
        assert_eq!(
            pareto_front(&points),
            [(80.0, 20.0), (100.0, 5.0), (150.0, 4.0)]
        );
        let e = pareto_points(&r, "hybrid").unwrap_err();
        assert!(e.contains("ttl(idle=10m), lru"), "{e}");
    }

    #[test]
    fn memory_lines_average_per_policy_and_size() {
        let r = results();
        let cold = by_memory(&r, |row| Ok(100.0 * r.num(row, "cold_start_ratio")?)).unwrap();
        assert_eq!(cold[0].0, "ttl(idle=10m)");
        assert_eq!(cold[0].1, [(1024.0, 50.0), (2048.0, 10.0)]);
        assert_eq!(cold[1].1, [(1024.0, 60.0), (2048.0, 20.0)]);
    }

    #[test]
    fn the_report_writes_tables_and_figures_that_decode() {
        let dir = std::env::temp_dir().join(format!("lambdasim-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = write(&results(), &dir, "ttl(idle=10m)").unwrap();
        assert_eq!(files.len(), 8);
        for f in &files {
            assert!(f.exists(), "{}", f.display());
        }
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        // Run 1: lru at 1024 MB, 60% cold, p75 app 20%, 80 GB-s wasted.
        assert!(
            md.contains("| 1 | 1 | 1024 | lru | 60.00 | 20 | 80 | 60 | 6 | 0 | 0 | 4 |"),
            "{md}"
        );
        assert!(md.contains("![pareto](pareto.png)"));
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert_eq!(html.matches("<svg").count(), 3);
        assert!(html.contains("<td>lru</td>"));
        for stem in ["pareto", "cold-vs-memory", "increase-vs-memory"] {
            let png = image::open(dir.join(format!("{stem}.png"))).unwrap();
            assert_eq!((png.width(), png.height()), FIGURE, "{stem}");
            let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
            assert!(svg.contains("<text"), "{stem}.svg has no text");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_results_are_named() {
        assert!(Results::parse("", "x.csv").unwrap_err().contains("x.csv"));
        assert!(
            Results::parse("a,b\n1,2\n", "x.csv")
                .unwrap_err()
                .contains("not a sweep's results")
        );
        let e = Results::parse("run,seed,invocations\n0,1\n", "x.csv").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let quoted = Results::parse(
            "run,seed,policies.keep_alive,invocations\n0,1,\"{ kind = \"\"lru\"\" }\",5\n",
            "q.csv",
        )
        .unwrap();
        assert_eq!(quoted.rows[0][2], "{ kind = \"lru\" }");
    }
}
