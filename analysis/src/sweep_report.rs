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
use std::path::{Path, PathBuf};

use crate::page::Page;
use crate::plot::{Bars, Figure, Series, Style, render, render_bars, time_unit};

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

/// Percentiles at which a sweep's results hold the latency and startup-delay distributions.
pub const CDF_PERCENTILES: [f64; 20] = [
    0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 98.0, 99.0,
    99.5, 99.9, 99.99, 100.0,
];

/// The column of `metric`'s (`latency` or `startup`) `pct`-th percentile, such as
/// `latency_q99.9_ms`.
pub fn cdf_column(metric: &str, pct: f64) -> String {
    format!("{metric}_q{pct}_ms")
}

/// Equal parts of a run's span over which a sweep's results give the memory in use.
pub const MEMORY_POINTS: usize = 48;

/// The column of the cluster's mean memory in use over part `i` of the span, in GB.
pub fn memory_column(i: usize) -> String {
    format!("used_gb_t{i:02}")
}

/// The startup phases, in order; each has a `<phase>_mean_ms` column.
pub const PHASES: [&str; 5] = ["queue", "create", "install", "import", "init"];

/// One CSV line, ending in a line break: cells with a comma, a quote or a line break are quoted,
/// quotes doubled.
pub fn csv_line(cells: &[String]) -> String {
    let mut line = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

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

    /// The table as CSV, as `lambdasim sweep` writes it (see [`csv_line`]).
    pub fn to_csv(&self) -> String {
        let mut out = csv_line(&self.columns);
        for row in &self.rows {
            out.push_str(&csv_line(row));
        }
        out
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

/// The runs the per-policy figures (CDFs, phases, memory over time) compare: one value of
/// every axis but the policy, and one seed. `at` chooses values; an axis it leaves out takes
/// the median of its values if it is the memory axis (the lower one of an even count), else
/// its first value; the seed is the first one unless `at` has `seed`.
pub fn focus(r: &Results, at: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    for (key, _) in at {
        if key != "seed" && (key == POLICY || !r.axes.contains(key)) {
            let axes: Vec<&str> = r
                .axes
                .iter()
                .map(String::as_str)
                .filter(|a| *a != POLICY)
                .chain(["seed"])
                .collect();
            return Err(format!(
                "--at {key}: not an axis the figures can be fixed at; these are {}",
                axes.join(", ")
            ));
        }
    }
    let mut out = Vec::new();
    let keys = r
        .axes
        .iter()
        .filter(|a| a.as_str() != POLICY)
        .map(String::as_str)
        .chain(["seed"]);
    for key in keys {
        let i = r.col(key)?;
        let mut values: Vec<&String> = Vec::new();
        for row in &r.rows {
            if !values.contains(&&row[i]) {
                values.push(&row[i]);
            }
        }
        let value = match at.iter().find(|(k, _)| k == key) {
            Some((_, v)) => {
                if !values.contains(&v) {
                    let list: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
                    return Err(format!(
                        "--at {key}={v}: no run has it; its values are {}",
                        list.join(", ")
                    ));
                }
                v.clone()
            }
            None if key == MEMORY => {
                let mut sizes: Vec<(f64, &String)> = values
                    .iter()
                    .map(|v| v.parse::<f64>().map(|n| (n, *v)))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("{MEMORY}: a value is not a number"))?;
                sizes.sort_by(|a, b| a.0.total_cmp(&b.0));
                sizes
                    .get(sizes.len().saturating_sub(1) / 2)
                    .map(|(_, v)| (*v).clone())
                    .unwrap_or_default()
            }
            None => values.first().map(|v| (*v).clone()).unwrap_or_default(),
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Per policy, the first run at `focus`.
fn focused_runs<'r>(
    r: &'r Results,
    focus: &[(String, String)],
) -> Result<Vec<(String, &'r [String])>, String> {
    let policy = r.col(POLICY)?;
    let cols: Vec<(usize, &String)> = focus
        .iter()
        .map(|(k, v)| r.col(k).map(|i| (i, v)))
        .collect::<Result<_, _>>()?;
    let mut out: Vec<(String, &[String])> = Vec::new();
    for row in &r.rows {
        if cols.iter().all(|(i, v)| &row[*i] == *v) && !out.iter().any(|(p, _)| *p == row[policy]) {
            out.push((row[policy].clone(), row.as_slice()));
        }
    }
    Ok(out)
}

/// Per policy at `focus`, the distribution `metric` (`latency` or `startup`) as CDF points.
pub fn cdfs(r: &Results, focus: &[(String, String)], metric: &str) -> Result<Series, String> {
    focused_runs(r, focus)?
        .into_iter()
        .map(|(p, row)| {
            let points = CDF_PERCENTILES
                .iter()
                .map(|&pct| Ok((r.num(row, &cdf_column(metric, pct))?, pct / 100.0)))
                .collect::<Result<Vec<_>, String>>()?;
            Ok((p, points))
        })
        .collect()
}

/// Per policy at `focus`, the memory in use (GB) at the middle of each part of the span, in
/// the unit [`time_unit`] gives for the longest span.
pub fn memory_lines(
    r: &Results,
    focus: &[(String, String)],
) -> Result<(Series, &'static str), String> {
    let runs = focused_runs(r, focus)?;
    let mut longest = 0f64;
    for (_, row) in &runs {
        longest = longest.max(r.num(row, "span_s")?);
    }
    let (unit, secs) = time_unit(longest);
    let series = runs
        .into_iter()
        .map(|(p, row)| {
            let span = r.num(row, "span_s")?;
            let points = (0..MEMORY_POINTS)
                .map(|i| {
                    let t = (i as f64 + 0.5) * span / MEMORY_POINTS as f64 / secs;
                    Ok((t, r.num(row, &memory_column(i))?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok((p, points))
        })
        .collect::<Result<Series, String>>()?;
    Ok((series, unit))
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
/// `baseline` is the policy wasted memory is compared with; `at` fixes axes for the per-policy
/// figures (see [`focus`]).
pub fn write(
    r: &Results,
    dir: &Path,
    baseline: &str,
    at: &[(String, String)],
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut page = Page::new("Sweep report");
    page.paragraph(&format!(
        "{} runs over {}.",
        r.rows.len(),
        r.axes.join(", ")
    ));
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
                style: Style::Points,
                log_x: false,
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
                style: Style::Marked,
                log_x: false,
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
                style: Style::Marked,
                log_x: false,
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
    if has(POLICY) && has(&cdf_column("latency", 0.0)) {
        let focus = focus(r, at)?;
        // Axes with one value are the same in every run: not worth naming.
        let varied = |key: &str| {
            r.col(key).is_ok_and(|i| {
                r.rows
                    .first()
                    .is_some_and(|first| r.rows.iter().any(|row| row[i] != first[i]))
            })
        };
        let named: Vec<String> = focus
            .iter()
            .filter(|(k, _)| varied(k))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        let at_text = if named.is_empty() {
            "the sweep's only setting".to_string()
        } else {
            named.join(", ")
        };
        for (metric, stem, title, what) in [
            (
                "latency",
                "latency-cdf",
                "Latency",
                "end-to-end latency of completed invocations",
            ),
            (
                "startup",
                "startup-cdf",
                "Startup delay",
                "startup delay of started invocations",
            ),
        ] {
            let series = cdfs(r, &focus, metric)?;
            let svg = render(
                dir,
                stem,
                &Figure {
                    title: &format!("{title} CDF"),
                    x_label: "ms (log scale)",
                    y_label: "fraction of invocations",
                    series: &series,
                    style: Style::Marked,
                    log_x: true,
                    front: None,
                },
            )?;
            figures.push((
                stem,
                format!(
                    "The {what}, one line per policy, at {at_text}: points at the percentiles \
                     {}; values under {} ms are drawn at it.",
                    CDF_PERCENTILES.map(|p| p.to_string()).join(", "),
                    crate::plot::LOG_FLOOR
                ),
                svg,
            ));
        }
        let runs = focused_runs(r, &focus)?;
        let categories: Vec<String> = runs.iter().map(|(p, _)| p.clone()).collect();
        let parts = PHASES
            .iter()
            .map(|ph| {
                let values = runs
                    .iter()
                    .map(|(_, row)| r.num(row, &format!("{ph}_mean_ms")))
                    .collect::<Result<Vec<f64>, String>>()?;
                Ok((ph.to_string(), values))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let svg = render_bars(
            dir,
            "startup-phases",
            &Bars {
                title: "Startup delay by phase",
                y_label: "mean per started invocation (ms)",
                categories: &categories,
                parts: &parts,
            },
        )?;
        figures.push((
            "startup-phases",
            format!(
                "Where the startup delay goes: the mean of each phase over started invocations \
                 (warm starts count as 0 for create, install and import), at {at_text}."
            ),
            svg,
        ));
        let (series, unit) = memory_lines(r, &focus)?;
        let svg = render(
            dir,
            "memory-over-time",
            &Figure {
                title: "Memory in use over time",
                x_label: &format!("time ({unit})"),
                y_label: "memory in use, all workers (GB)",
                series: &series,
                style: Style::Lines,
                log_x: false,
                front: None,
            },
        )?;
        figures.push((
            "memory-over-time",
            format!(
                "The memory held by sandboxes and zygotes on all workers, busy or not, averaged \
                 over each {}th of the run, at {at_text}.",
                MEMORY_POINTS
            ),
            svg,
        ));
    }
    for (stem, caption, svg) in &figures {
        page.figure(dir, stem, svg, caption);
    }
    // The table: one row per run.
    let head: Vec<String> = ["run".to_string(), "seed".to_string()]
        .into_iter()
        .chain(r.axes.iter().cloned())
        .chain(TABLE.iter().map(|(_, t)| t.to_string()))
        .collect();
    let mut rows = Vec::new();
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
        rows.push(cells);
    }
    page.table(&head, &rows);
    page.write(dir)
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
        let files = write(&results(), &dir, "ttl(idle=10m)", &[]).unwrap();
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
            assert_eq!((png.width(), png.height()), crate::plot::FIGURE, "{stem}");
            let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
            assert!(svg.contains("<text"), "{stem}.svg has no text");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Two policies at three memory sizes and two seeds, with every column `lambdasim sweep`
    /// writes for the per-policy figures. A run's latency at percentile p is
    /// `p + run`, its startup delay `p / 10`, its queue phase `run` ms and its memory in use
    /// in part i `i + run` GB; spans are 7,200 s.
    fn full_results() -> Results {
        let mut head = vec![
            "run",
            "seed",
            MEMORY,
            POLICY,
            "invocations",
            "cold_start_ratio",
            "p75_app_cold_pct",
            "latency_mean_ms",
            "exec_mean_ms",
            "latency_p99_ms",
            "startup_p99_ms",
            "wasted_gb_s",
            "dropped",
            "failed",
            "evicted",
            "span_s",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        head.extend(PHASES.iter().map(|p| format!("{p}_mean_ms")));
        for m in ["latency", "startup"] {
            head.extend(CDF_PERCENTILES.iter().map(|&p| cdf_column(m, p)));
        }
        head.extend((0..MEMORY_POINTS).map(memory_column));
        let mut text = head.join(",");
        text.push('\n');
        let mut run = 0;
        for mb in [1024, 2048, 4096] {
            for policy in ["ttl(idle=10m)", "lru"] {
                for seed in [1, 2] {
                    let r = f64::from(run);
                    let mut row: Vec<String> = vec![
                        run.to_string(),
                        seed.to_string(),
                        mb.to_string(),
                        policy.to_string(),
                    ];
                    row.extend(
                        [
                            "10", "0.5", "10", "30", "20", "50", "5", "100", "0", "0", "3", "7200",
                        ]
                        .map(String::from),
                    );
                    row.push(format!("{r}"));
                    row.extend(["1", "0", "0", "2"].map(String::from));
                    row.extend(CDF_PERCENTILES.iter().map(|p| format!("{}", p + r)));
                    row.extend(CDF_PERCENTILES.iter().map(|p| format!("{}", p / 10.0)));
                    row.extend((0..MEMORY_POINTS).map(|i| format!("{}", i as f64 + r)));
                    text.push_str(&row.join(","));
                    text.push('\n');
                    run += 1;
                }
            }
        }
        Results::parse(&text, "full.csv").unwrap()
    }

    #[test]
    fn per_policy_figures_show_the_runs_at_the_focus() {
        let r = full_results();
        let f = focus(&r, &[]).unwrap();
        // The median of three memory sizes, and the first seed.
        assert_eq!(
            f,
            [
                (MEMORY.to_string(), "2048".to_string()),
                ("seed".to_string(), "1".to_string())
            ]
        );
        // Runs 4 (ttl) and 6 (lru) are at 2048 MB with seed 1.
        let latency = cdfs(&r, &f, "latency").unwrap();
        assert_eq!(latency.len(), 2);
        assert_eq!(latency[0].0, "ttl(idle=10m)");
        assert_eq!(latency[0].1[0], (4.0, 0.0));
        assert_eq!(latency[1].1[19], (106.0, 1.0));
        let (memory, unit) = memory_lines(&r, &f).unwrap();
        assert_eq!(unit, "hours");
        // 48 parts of 2 h: the first centred on 75 s.
        assert_eq!(memory[1].1[0], (75.0 / 3600.0, 6.0));
        let at = [
            (MEMORY.to_string(), "4096".to_string()),
            ("seed".to_string(), "2".to_string()),
        ];
        let f = focus(&r, &at).unwrap();
        assert_eq!(cdfs(&r, &f, "startup").unwrap()[1].1[19], (10.0, 1.0));
        assert_eq!(cdfs(&r, &f, "latency").unwrap()[1].1[0], (11.0, 0.0));
        let e = focus(&r, &[(MEMORY.to_string(), "3000".to_string())]).unwrap_err();
        assert!(e.contains("1024, 2048, 4096"), "{e}");
        let e = focus(&r, &[("cluster.workers".to_string(), "3".to_string())]).unwrap_err();
        assert!(e.contains("cluster.memory_mb, seed"), "{e}");

        let dir =
            std::env::temp_dir().join(format!("lambdasim-full-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = write(&r, &dir, "ttl(idle=10m)", &[]).unwrap();
        // Seven figures, each as SVG and PNG, and the two pages.
        assert_eq!(files.len(), 16);
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert_eq!(html.matches("<svg").count(), 7);
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(md.contains("at cluster.memory_mb = 2048, seed = 1"), "{md}");
        for stem in [
            "latency-cdf",
            "startup-cdf",
            "startup-phases",
            "memory-over-time",
        ] {
            let png = image::open(dir.join(format!("{stem}.png"))).unwrap();
            assert_eq!((png.width(), png.height()), crate::plot::FIGURE, "{stem}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn results_go_back_to_the_same_csv() {
        assert_eq!(results().to_csv(), CSV);
        let quoted = "run,seed,policies.keep_alive,invocations\n0,1,\"{ kind = \"\"lru\"\" }\",5\n";
        assert_eq!(Results::parse(quoted, "q.csv").unwrap().to_csv(), quoted);
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
