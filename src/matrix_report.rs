//! The report of a validation matrix: `validation.md`, a self-contained `validation.html` (its
//! CSS and figures inline, SVG drawn here), and `matrix.json` with every cell's result.
//!
//! Both documents have a heat map (cells by verdict, the last axis across, the other axes
//! down), one table of every cell's main numbers, and a section per cell: its comparison, why
//! it missed (from the per-phase and per-start-kind comparison) or why it is invalid, and in
//! the HTML its latency and startup-delay CDFs overlaid and its phases side by side.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::matrix::{Cdf, CellResult, CellVerdict, Limits, counts, label};
use crate::sweep::Axis;
use crate::validate::{Tolerances, Verdict, shown_values};

/// What the report is about, besides the cells.
pub struct Context<'a> {
    pub axes: &'a [Axis],
    pub tolerances: &'a Tolerances,
    pub limits: &'a Limits,
    /// A line about the host (cgroup layout, CPUs), or empty.
    pub host: String,
    /// The command that made the matrix.
    pub command: String,
}

fn tolerance_text(t: &Tolerances) -> String {
    let mut parts = vec![
        format!("cold-start ratio ±{} pp", t.cold_start_pp),
        format!("latency p50 ±{}%", t.latency_p50_pct),
        format!("p99 ±{}%", t.latency_p99_pct),
    ];
    let optional = [
        ("latency KS ≤ ", t.latency_ks, ""),
        ("latency W1 ≤ ", t.latency_w1_pct, "% of the mean"),
        ("startup-delay KS ≤ ", t.startup_ks, ""),
        ("start-kind agreement ≥ ", t.start_kind_agreement_pct, "%"),
        ("wasted memory-time ±", t.wasted_memory_pct, "%"),
    ];
    for (name, v, unit) in optional {
        if let Some(v) = v {
            parts.push(format!("{name}{v}{unit}"));
        }
    }
    parts.join(", ")
}

fn limits_text(l: &Limits) -> String {
    let mut s = format!(
        "arrivals dispatched late ≤ {} ms at p99, driver busy ≤ {}%, CPU steal ≤ {}%, mean run \
         queue ≤ {} per CPU",
        l.late_p99_ms, l.driver_busy_pct, l.steal_pct, l.run_queue_per_cpu
    );
    if let Some(b) = l.host_busy_pct {
        let _ = write!(s, ", host CPU busy ≤ {b}%");
    }
    s
}

fn mark(v: CellVerdict) -> &'static str {
    match v {
        CellVerdict::Pass => "✓ pass",
        CellVerdict::Fail => "✗ FAIL",
        CellVerdict::Invalid => "~ invalid",
    }
}

/// The heat map's layout: row labels (every axis but the last), column labels (the last
/// axis's values) and the cell at each place. Seeds, when there are several, join the rows.
struct Grid {
    rows: Vec<String>,
    columns: Vec<String>,
    at: Vec<Vec<Option<usize>>>,
}

fn grid(axes: &[Axis], cells: &[CellResult]) -> Grid {
    let seeds: std::collections::BTreeSet<u64> = cells.iter().map(|c| c.seed).collect();
    let row_of = |c: &CellResult| {
        let n = c.values.len().saturating_sub(1);
        let mut parts: Vec<String> = axes
            .iter()
            .zip(&c.values[..n])
            .map(|(_, v)| v.clone())
            .collect();
        if seeds.len() > 1 {
            parts.push(format!("seed {}", c.seed));
        }
        if parts.is_empty() {
            "all".to_string()
        } else {
            parts.join(" · ")
        }
    };
    let column_of = |c: &CellResult| c.values.last().cloned().unwrap_or_else(|| "cell".into());
    let mut rows: Vec<String> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for c in cells {
        let (r, k) = (row_of(c), column_of(c));
        if !rows.contains(&r) {
            rows.push(r);
        }
        if !columns.contains(&k) {
            columns.push(k);
        }
    }
    let mut at = vec![vec![None; columns.len()]; rows.len()];
    for (i, c) in cells.iter().enumerate() {
        let r = rows.iter().position(|x| *x == row_of(c)).unwrap_or(0);
        let k = columns.iter().position(|x| *x == column_of(c)).unwrap_or(0);
        at[r][k] = Some(i);
    }
    Grid { rows, columns, at }
}

/// `real / simulated` of a row, with its difference.
fn pair(c: &CellResult, metric: &str, digits: usize) -> String {
    c.row(metric).map_or(String::new(), |r| {
        format!(
            "{:.digits$} / {:.digits$} ({})",
            r.real, r.simulated, r.difference
        )
    })
}

fn distance(c: &CellResult, metric: &str) -> String {
    c.row(metric)
        .map_or(String::new(), |r| r.difference.clone())
}

/// The report's numbers: cells by verdict, real time, time scales.
fn overview(ctx: &Context, cells: &[CellResult]) -> Vec<String> {
    let (pass, fail, invalid) = counts(cells);
    let wall: f64 = cells.iter().map(|c| c.wall_s).sum();
    let scales: std::collections::BTreeSet<String> =
        cells.iter().map(|c| format!("x{}", c.time_scale)).collect();
    let mut lines = vec![
        format!(
            "{} cells: {pass} pass, {fail} fail, {invalid} invalid (the host fell behind).",
            cells.len()
        ),
        format!(
            "Tolerances of every cell: {}.",
            tolerance_text(ctx.tolerances)
        ),
        format!(
            "A cell is invalid when its host fell behind: {}.",
            limits_text(ctx.limits)
        ),
        format!(
            "Time scales: {}; the cells took {:.1} minutes of wall-clock time.",
            scales.into_iter().collect::<Vec<_>>().join(", "),
            wall / 60.0
        ),
    ];
    if !ctx.host.is_empty() {
        lines.push(ctx.host.clone());
    }
    if !ctx.command.is_empty() {
        lines.push(format!("Made by `{}`.", ctx.command));
    }
    lines
}

const TABLE_HEAD: &str = "| cell | exec | CPU model | invocations | cold-start % real / sim | p50 ms real / sim | p99 ms real / sim | latency KS | startup KS | late p99 ms | driver busy % | verdict |";

fn table_row(c: &CellResult) -> [String; 12] {
    [
        format!("{}", c.index),
        c.exec.clone(),
        c.cpu_model.clone(),
        c.invocations.to_string(),
        pair(c, "cold-start ratio %", 2),
        pair(c, "latency p50 ms", 1),
        pair(c, "latency p99 ms", 1),
        distance(c, "latency KS distance"),
        distance(c, "startup delay KS distance"),
        format!("{:.2}", c.saturation.late_p99_ms),
        format!("{:.1}", c.saturation.driver_busy_pct),
        mark(c.verdict).to_string(),
    ]
}

/// `validation.md`.
pub fn markdown(ctx: &Context, cells: &[CellResult]) -> String {
    let mut out = String::from("# Validation matrix: the simulator against real runs\n\n");
    for line in overview(ctx, cells) {
        let _ = writeln!(out, "{line}");
    }
    let g = grid(ctx.axes, cells);
    let corner = if ctx.axes.len() > 1 {
        ctx.axes[..ctx.axes.len() - 1]
            .iter()
            .map(|a| a.key.as_str())
            .collect::<Vec<_>>()
            .join(" · ")
    } else {
        String::new()
    };
    let last = ctx.axes.last().map_or("", |a| a.key.as_str());
    let _ = writeln!(
        out,
        "\n## Heat map\n\nColumns: `{last}`. ✓ pass, ✗ misses a tolerance, ~ invalid (the host fell \
         behind). Each mark names its cell.\n"
    );
    let _ = write!(out, "| {corner} |");
    for k in &g.columns {
        let _ = write!(out, " {} |", k.replace('|', "\\|"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(g.columns.len()));
    out.push('\n');
    for (r, row) in g.rows.iter().zip(&g.at) {
        let _ = write!(out, "| {} |", r.replace('|', "\\|"));
        for at in row {
            match at {
                Some(i) => {
                    let c = &cells[*i];
                    let _ = write!(out, " {} (cell {}) |", mark(c.verdict), c.index);
                }
                None => out.push_str(" |"),
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "\n## Every cell\n\n{TABLE_HEAD}");
    out.push_str("|---:|---|---|---:|---|---|---|---:|---:|---:|---:|---|\n");
    for c in cells {
        let _ = writeln!(out, "| {} |", table_row(c).join(" | "));
    }
    for c in cells {
        let _ = writeln!(
            out,
            "\n## Cell {}: {}\n\n**{}**. Time scale x{}, durations / {}, `exec = {}`, CPU model `{}`, {} \
             invocations, {:.0} s. Host: late by {:.2} ms at p99 ({:.2} ms at most), driver busy \
             {:.1}%, CPU {:.0}% busy ({:.0}% at most), {:.1}% stolen, run queue {:.1} on average \
             ({} at p99) on {} CPUs.\n",
            c.index,
            label(ctx.axes, &c.values),
            mark(c.verdict),
            c.time_scale,
            c.duration_scale,
            c.exec,
            c.cpu_model,
            c.invocations,
            c.wall_s,
            c.saturation.late_p99_ms,
            c.saturation.late_max_ms,
            c.saturation.driver_busy_pct,
            c.saturation.host_busy_pct,
            c.saturation.host_busy_max_pct,
            c.saturation.steal_pct,
            c.saturation.run_queue_mean,
            c.saturation.run_queue_p99,
            c.saturation.cpus,
        );
        for e in &c.explanation {
            let _ = writeln!(out, "- {e}");
        }
        if !c.explanation.is_empty() {
            out.push('\n');
        }
        out.push_str("| metric | real | simulated | difference | tolerance | verdict |\n|---|---:|---:|---:|---:|---|\n");
        for r in &c.rows {
            let verdict = match r.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Info => "",
            };
            let (real, sim) = shown_values(r);
            let _ = writeln!(
                out,
                "| {} | {real} | {sim} | {} | {} | {verdict} |",
                r.metric, r.difference, r.tolerance
            );
        }
        if c.paired > 0 {
            let _ = writeln!(
                out,
                "\nMean phases of the {} invocations that started in both runs, ms (real / \
                 simulated): {}.",
                c.paired,
                c.paired_phases
                    .iter()
                    .map(|p| format!("{} {:.3} / {:.3}", p.phase, p.real_ms, p.sim_ms))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\nRecords: `cells/{:03}/real-records.csv` and `sim-records.csv`; the {} invocations that \
             started differently are in `cells/{:03}/differences.csv`.",
            c.index, c.differing, c.index
        );
    }
    out
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const REAL_COLOR: &str = "#1f77b4";
const SIM_COLOR: &str = "#ff7f0e";

/// Two CDFs overlaid, as inline SVG: a log x axis when the values span more than a decade.
pub fn cdf_svg(title: &str, unit: &str, cdf: &Cdf) -> String {
    let (w, h, left, bottom, top, right) = (360.0, 220.0, 46.0, 34.0, 22.0, 10.0);
    let values = cdf.real.iter().chain(&cdf.simulated).map(|p| p[0]);
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><title>{}</title>",
        esc(title)
    );
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"14\" font-size=\"12\">{}</text>",
        esc(title)
    );
    if !lo.is_finite() || !hi.is_finite() {
        svg.push_str("<text x=\"60\" y=\"110\" font-size=\"12\">no values</text></svg>");
        return svg;
    }
    let log = lo > 0.0 && hi / lo > 10.0;
    let (a, b) = if log {
        (lo.log10(), hi.log10())
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let x = |v: f64| {
        let v = if log { v.max(lo).log10() } else { v };
        left + (v - a) / (b - a) * (w - left - right)
    };
    let y = |p: f64| top + (1.0 - p) * (h - top - bottom);
    // Axes, grid lines at 0, 0.5 and 1, and the ends of the x range.
    let _ = write!(
        svg,
        "<g stroke=\"#999\" stroke-width=\"0.5\"><line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\"/></g>",
        y(0.0),
        w - right,
        y(0.0),
        y(0.0)
    );
    for p in [0.0, 0.5, 1.0] {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{p}</text>",
            left - 4.0,
            y(p) + 3.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{left}\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{} {}{}</text>",
        h - bottom + 14.0,
        short(lo),
        w - right,
        h - bottom + 14.0,
        short(hi),
        esc(unit),
        if log { " (log)" } else { "" }
    );
    for (points, color, dash) in [
        (&cdf.real, REAL_COLOR, ""),
        (&cdf.simulated, SIM_COLOR, " stroke-dasharray=\"5,3\""),
    ] {
        // A step function: each value rises from the previous fraction to its own.
        let mut d = String::new();
        let mut last = 0.0;
        for (i, p) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1} L{:.1},{:.1} ",
                if i == 0 { "M" } else { "L" },
                x(p[0]),
                y(last),
                x(p[0]),
                y(p[1])
            );
            last = p[1];
        }
        let _ = write!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"{dash}/>",
            d.trim_end()
        );
    }
    let _ = write!(
        svg,
        "<g font-size=\"10\"><rect x=\"{}\" y=\"{}\" width=\"10\" height=\"3\" fill=\"{REAL_COLOR}\"/><text x=\"{}\" y=\"{}\">real</text><rect x=\"{}\" y=\"{}\" width=\"10\" height=\"3\" fill=\"{SIM_COLOR}\"/><text x=\"{}\" y=\"{}\">simulated</text></g></svg>",
        w - 100.0,
        y(0.2),
        w - 86.0,
        y(0.2) + 4.0,
        w - 100.0,
        y(0.1),
        w - 86.0,
        y(0.1) + 4.0
    );
    svg
}

fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The mean phases of the invocations that started in both runs, real and simulated side by
/// side, as inline SVG.
pub fn phases_svg(c: &CellResult) -> String {
    let n = c.paired_phases.len();
    let (w, label_w, bar_h, gap) = (360.0, 60.0, 7.0, 6.0);
    let h = 24.0 + n as f64 * (2.0 * bar_h + gap) + 8.0;
    let max = c
        .paired_phases
        .iter()
        .flat_map(|p| [p.real_ms, p.sim_ms])
        .fold(0.0, f64::max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><title>Mean phases, ms</title><text x=\"0\" y=\"14\" font-size=\"12\">Mean phases of invocations started in both runs, ms</text>"
    );
    for (i, p) in c.paired_phases.iter().enumerate() {
        let y0 = 24.0 + i as f64 * (2.0 * bar_h + gap);
        let scale = |v: f64| {
            if max > 0.0 {
                (w - label_w - 70.0) * v / max
            } else {
                0.0
            }
        };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"10\">{}</text><rect x=\"{label_w}\" y=\"{y0}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"{REAL_COLOR}\"/><rect x=\"{label_w}\" y=\"{}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"{SIM_COLOR}\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"9\">{} / {}</text>",
            y0 + bar_h + 3.0,
            esc(&p.phase),
            scale(p.real_ms),
            y0 + bar_h,
            scale(p.sim_ms),
            label_w + scale(p.real_ms.max(p.sim_ms)) + 4.0,
            y0 + bar_h + 3.0,
            short(p.real_ms),
            short(p.sim_ms)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `validation.html`: the same report, self-contained, with figures.
pub fn html(ctx: &Context, cells: &[CellResult]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Validation matrix</title><style>\
         body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}\
         table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
         td,th{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left}\
         td.num{text-align:right}\
         .pass{background:#c8ecc8}.fail{background:#f5b8b8}.invalid{background:#ddd;color:#555}\
         .heat td{text-align:center;min-width:7em}.heat td.rowlabel{text-align:left}\
         .figs{display:flex;flex-wrap:wrap;gap:1em}\
         section{border-top:1px solid #ccc;margin-top:2em}\
         </style></head><body>\n<h1>Validation matrix: the simulator against real runs</h1>\n",
    );
    for line in overview(ctx, cells) {
        let _ = writeln!(out, "<p>{}</p>", esc(&line));
    }
    let g = grid(ctx.axes, cells);
    let last = ctx.axes.last().map_or("", |a| a.key.as_str());
    let corner = if ctx.axes.len() > 1 {
        ctx.axes[..ctx.axes.len() - 1]
            .iter()
            .map(|a| a.key.as_str())
            .collect::<Vec<_>>()
            .join(" · ")
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<h2>Heat map</h2><p>Columns: <code>{}</code>. Green: every tolerance met; red: a \
         tolerance missed; grey: invalid, the host fell behind. A mark links to its cell.</p>\
         <table class=\"heat\"><tr><th>{}</th>",
        esc(last),
        esc(&corner)
    );
    for k in &g.columns {
        let _ = write!(out, "<th>{}</th>", esc(k));
    }
    out.push_str("</tr>\n");
    for (r, row) in g.rows.iter().zip(&g.at) {
        let _ = write!(out, "<tr><td class=\"rowlabel\">{}</td>", esc(r));
        for at in row {
            match at {
                Some(i) => {
                    let c = &cells[*i];
                    let _ = write!(
                        out,
                        "<td class=\"{}\"><a href=\"#cell-{}\">{}</a></td>",
                        c.verdict.as_str(),
                        c.index,
                        esc(mark(c.verdict))
                    );
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n<h2>Every cell</h2><table><tr>");
    for h in TABLE_HEAD.trim_matches('|').split(" | ") {
        let _ = write!(out, "<th>{}</th>", esc(h.trim()));
    }
    out.push_str("</tr>\n");
    for c in cells {
        let _ = write!(out, "<tr class=\"{}\">", c.verdict.as_str());
        for (i, v) in table_row(c).iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<td><a href=\"#cell-{}\">{}</a></td>", c.index, v);
            } else {
                let _ = write!(out, "<td>{}</td>", esc(v));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    for c in cells {
        let _ = write!(
            out,
            "<section id=\"cell-{}\"><h2>Cell {}: {}</h2><p class=\"{}\"><b>{}</b>. Time scale x{}, \
             durations / {}, exec {}, CPU model {}, {} invocations, {:.0} s. Host: late by {:.2} ms \
             at p99 ({:.2} ms at most), driver busy {:.1}%, CPU {:.0}% busy, {:.1}% stolen, run \
             queue {:.1} on average.</p>",
            c.index,
            c.index,
            esc(&label(ctx.axes, &c.values)),
            c.verdict.as_str(),
            esc(mark(c.verdict)),
            c.time_scale,
            c.duration_scale,
            esc(&c.exec),
            esc(&c.cpu_model),
            c.invocations,
            c.wall_s,
            c.saturation.late_p99_ms,
            c.saturation.late_max_ms,
            c.saturation.driver_busy_pct,
            c.saturation.host_busy_pct,
            c.saturation.steal_pct,
            c.saturation.run_queue_mean,
        );
        if !c.explanation.is_empty() {
            out.push_str("<ul>");
            for e in &c.explanation {
                let _ = write!(out, "<li>{}</li>", esc(e));
            }
            out.push_str("</ul>");
        }
        let _ = write!(
            out,
            "<div class=\"figs\">{}{}{}</div>",
            cdf_svg("Latency CDF", "ms", &c.latency_cdf),
            cdf_svg("Startup delay CDF", "ms", &c.startup_cdf),
            phases_svg(c)
        );
        out.push_str("<table><tr><th>metric</th><th>real</th><th>simulated</th><th>difference</th><th>tolerance</th><th>verdict</th></tr>");
        for r in &c.rows {
            let (class, verdict) = match r.verdict {
                Verdict::Pass => (" class=\"pass\"", "pass"),
                Verdict::Fail => (" class=\"fail\"", "FAIL"),
                Verdict::Info => ("", ""),
            };
            let (real, sim) = shown_values(r);
            let _ = write!(
                out,
                "<tr{class}><td>{}</td><td class=\"num\">{real}</td><td class=\"num\">{sim}</td><td class=\"num\">{}</td><td>{}</td><td>{verdict}</td></tr>",
                esc(&r.metric),
                esc(&r.difference),
                esc(&r.tolerance)
            );
        }
        out.push_str("</table>");
        if !c.confusion.is_empty() {
            let pairs: Vec<String> = c
                .confusion
                .iter()
                .map(|k| format!("{} real / {} simulated: {}", k.real, k.simulated, k.count))
                .collect();
            let _ = write!(
                out,
                "<p>Started differently, by start kind: {}.</p>",
                esc(&pairs.join("; "))
            );
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Writes `validation.md`, `validation.html` and `matrix.json` into `dir`; returns their paths.
pub fn write(ctx: &Context, cells: &[CellResult], dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let json = serde_json::to_string_pretty(cells).map_err(|e| Error::Output(e.to_string()))?;
    let mut files = Vec::new();
    for (name, text) in [
        ("validation.md", markdown(ctx, cells)),
        ("validation.html", html(ctx, cells)),
        ("matrix.json", json),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| Error::Output(format!("writing {}: {e}", path.display())))?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Saturation, goals};
    use crate::validate::{PairedPhase, Row};

    fn cell(index: usize, values: [&str; 2], verdict: CellVerdict) -> CellResult {
        let row = |metric: &str, real: f64, simulated: f64, v: Verdict| Row {
            metric: metric.into(),
            real,
            simulated,
            difference: format!("{:+.1}%", simulated - real),
            tolerance: "±5%".into(),
            verdict: v,
        };
        let fail = if verdict == CellVerdict::Fail {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        let mut c = CellResult {
            fingerprint: String::new(),
            index,
            values: values.map(String::from).to_vec(),
            seed: 1,
            time_scale: 4.0,
            duration_scale: 4.0,
            exec: "sleep".into(),
            cpu_model: "ignored".into(),
            invocations: 100,
            wall_s: 30.0,
            verdict: CellVerdict::Pass,
            misses: Vec::new(),
            explanation: Vec::new(),
            saturation: Saturation {
                late_p99_ms: if verdict == CellVerdict::Invalid {
                    50.0
                } else {
                    1.0
                },
                ..Saturation::default()
            },
            rows: vec![
                row("invocations", 100.0, 100.0, Verdict::Info),
                row("cold-start ratio %", 5.0, 5.0, Verdict::Pass),
                row("latency p50 ms", 10.0, 12.0, fail),
                row("create p50 of cold starts ms", 17.0, 20.0, Verdict::Info),
            ],
            differing: 3,
            confusion: vec![crate::validate::Confusion {
                real: "warm".into(),
                simulated: "cold".into(),
                count: 3,
            }],
            paired: 97,
            paired_phases: vec![
                PairedPhase {
                    phase: "create".into(),
                    real_ms: 1.0,
                    sim_ms: 2.5,
                },
                PairedPhase {
                    phase: "exec".into(),
                    real_ms: 8.0,
                    sim_ms: 8.1,
                },
            ],
            latency_cdf: Cdf {
                real: vec![[1.0, 0.0], [1.0, 0.5], [100.0, 1.0]],
                simulated: vec![[1.2, 0.0], [1.2, 0.5], [90.0, 1.0]],
            },
            startup_cdf: Cdf::default(),
        };
        c.saturation.assess(&Limits::default(), 4.0);
        c.judge();
        c
    }

    #[test]
    fn an_invalid_cell_is_told_the_highest_time_scale_at_which_the_same_cell_kept_up() {
        let axes = [
            Axis {
                key: "policies.keep_alive".into(),
                values: Vec::new(),
            },
            Axis {
                key: "real.time_scale".into(),
                values: Vec::new(),
            },
        ];
        let at = |index, ka: &str, k: f64, verdict| CellResult {
            time_scale: k,
            verdict,
            ..cell(index, [ka, &format!("{k:.1}")], verdict)
        };
        let mut cells = vec![
            at(0, "ttl", 4.0, CellVerdict::Pass),
            at(1, "ttl", 16.0, CellVerdict::Fail),
            at(2, "ttl", 32.0, CellVerdict::Invalid),
            at(3, "lru", 8.0, CellVerdict::Pass),
            at(4, "lru", 32.0, CellVerdict::Invalid),
            at(5, "hybrid", 32.0, CellVerdict::Invalid),
        ];
        let before: Vec<usize> = cells.iter().map(|c| c.explanation.len()).collect();
        crate::matrix::note_time_scales_kept_up(&axes, &mut cells);
        assert_eq!(
            cells[2].explanation.last().unwrap(),
            "The same cell kept up at time scale 16 in this matrix."
        );
        assert!(
            cells[4]
                .explanation
                .last()
                .unwrap()
                .contains("time scale 8 ")
        );
        let after: Vec<usize> = cells.iter().map(|c| c.explanation.len()).collect();
        assert_eq!(
            after,
            [
                before[0],
                before[1],
                before[2] + 1,
                before[3],
                before[4] + 1,
                before[5]
            ]
        );
        // Without a time-scale axis nothing is added.
        crate::matrix::note_time_scales_kept_up(&axes[..1], &mut cells);
        assert_eq!(
            cells
                .iter()
                .map(|c| c.explanation.len())
                .collect::<Vec<_>>(),
            after
        );
    }

    #[test]
    fn the_report_has_a_heat_map_a_table_and_a_section_per_cell_with_its_explanation() {
        let axes = [
            Axis {
                key: "policies.keep_alive".into(),
                values: vec![],
            },
            Axis {
                key: "policies.scheduler".into(),
                values: vec![],
            },
        ];
        let cells = vec![
            cell(0, ["ttl", "hash"], CellVerdict::Pass),
            cell(1, ["ttl", "pasch"], CellVerdict::Fail),
            cell(2, ["lru", "hash"], CellVerdict::Invalid),
        ];
        assert_eq!(
            cells.iter().map(|c| c.verdict).collect::<Vec<_>>(),
            [CellVerdict::Pass, CellVerdict::Fail, CellVerdict::Invalid]
        );
        let (t, l) = (goals(), Limits::default());
        let ctx = Context {
            axes: &axes,
            tolerances: &t,
            limits: &l,
            host: String::new(),
            command: "lambdasim validate --matrix plan.toml".into(),
        };
        let md = markdown(&ctx, &cells);
        assert!(md.contains("3 cells: 1 pass, 1 fail, 1 invalid"), "{md}");
        // Rows: keep-alive; columns: scheduler; lru has no pasch cell.
        assert!(
            md.contains("| policies.keep_alive | hash | pasch |"),
            "{md}"
        );
        assert!(
            md.contains("| ttl | ✓ pass (cell 0) | ✗ FAIL (cell 1) |"),
            "{md}"
        );
        assert!(md.contains("| lru | ~ invalid (cell 2) | |"), "{md}");
        // The miss is explained by the phase that differs most and by the start kinds.
        assert!(
            md.contains("latency p50 ms: real 10.000, simulated 12.000"),
            "{md}"
        );
        assert!(
            md.contains("mostly in create 1.000 ms real, 2.500 ms simulated"),
            "{md}"
        );
        assert!(md.contains("warm real but cold simulated: 3"), "{md}");
        assert!(
            md.contains("median create is 17.000 ms real and 20.000 ms simulated"),
            "{md}"
        );
        // The invalid cell says why and which time scale would do.
        assert!(
            md.contains("arrivals dispatched late, p99 50.0 ms > 5 ms"),
            "{md}"
        );
        assert!(md.contains("A time scale of about 0.5"), "{md}");
        // cell.json keeps a cell for a later run: it reads back as it was.
        for c in &cells {
            let json = serde_json::to_string_pretty(c).unwrap();
            let back: CellResult = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, c);
        }
        let page = html(&ctx, &cells);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(page.matches("<section id=\"cell-").count(), 3);
        assert_eq!(page.matches("<svg ").count(), 9);
        assert!(
            page.contains("<td class=\"fail\"><a href=\"#cell-1\">"),
            "{page}"
        );
        assert!(!page.contains("<script"), "self-contained and static");
    }

    #[test]
    fn cdf_svg_steps_through_both_samples_and_uses_a_log_axis_over_a_decade() {
        let cdf = Cdf {
            real: vec![[1.0, 0.0], [1.0, 0.5], [100.0, 1.0]],
            simulated: vec![[2.0, 0.0], [2.0, 1.0]],
        };
        let svg = cdf_svg("Latency <CDF>", "ms", &cdf);
        assert_eq!(svg.matches("<path ").count(), 2);
        assert!(svg.contains("(log)"));
        assert!(svg.contains("Latency &lt;CDF&gt;"));
        let flat = cdf_svg("x", "ms", &Cdf::default());
        assert!(flat.contains("no values"));
    }
}
