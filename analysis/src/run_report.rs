//! `lambdasim run --report DIR`: one run as a Markdown report and a self-contained HTML page,
//! with its summary, its latency, startup-delay and cold-start-cost CDFs, its startup delay
//! broken down by phase for each start kind, and the cluster's memory over time.

use std::path::{Path, PathBuf};

use crate::metrics::{Dist, Metrics};
use crate::page::Page;
use crate::plot::{Bars, Figure, LOG_FLOOR, Series, Style, render, render_bars, time_unit};
use crate::sweep_report::PHASES;

/// The phases of [`Metrics::phases_by_kind`], in its order.
const ALL_PHASES: [&str; 6] = ["queue", "create", "install", "import", "init", "exec"];

/// Writes `report.md`, `report.html` and the figures of a run into `dir`; `description` (the
/// scenario, say) heads the report. Returns the files written.
pub fn write(metrics: &Metrics, description: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let summary = metrics.summary();
    let mut page = Page::new("Run report");
    page.preformatted(&format!(
        "{}\n{}",
        description.trim_end(),
        crate::render_text(&summary)
    ));

    let cdfs: Series = [
        ("latency", Dist::Latency),
        ("startup delay", Dist::StartupDelay),
        ("cold-start cost", Dist::ColdStart),
    ]
    .into_iter()
    .filter_map(|(name, d)| {
        let mut points = metrics.cdf(d);
        // The curve rises from 0 at the smallest value, as a CDF does.
        let &(first, _) = points.first()?;
        points.insert(0, (first, 0.0));
        Some((name.to_string(), points))
    })
    .collect();
    if !cdfs.is_empty() {
        let svg = render(
            dir,
            "cdf",
            &Figure {
                title: "Latency, startup delay and cold-start cost",
                x_label: "ms (log scale)",
                y_label: "fraction of invocations",
                series: &cdfs,
                style: Style::Lines,
                log_x: true,
                front: None,
            },
        )?;
        page.figure(
            dir,
            "cdf",
            &svg,
            &format!(
                "CDFs of the end-to-end latency of completed invocations, the startup delay of \
                 started ones, and the cost of cold starts (startup delay less queueing); \
                 values under {LOG_FLOOR} ms are drawn at it."
            ),
        );
    }

    let by_kind = metrics.phases_by_kind();
    if !by_kind.is_empty() {
        let categories: Vec<String> = by_kind
            .iter()
            .map(|(k, n, _)| format!("{} ({n})", k.as_str()))
            .collect();
        let parts: Vec<(String, Vec<f64>)> = PHASES
            .iter()
            .enumerate()
            .map(|(i, ph)| {
                let values = by_kind.iter().map(|(_, _, means)| means[i]).collect();
                (ph.to_string(), values)
            })
            .collect();
        let svg = render_bars(
            dir,
            "startup-phases",
            &Bars {
                title: "Startup delay by phase and start kind",
                y_label: "mean per start (ms)",
                categories: &categories,
                parts: &parts,
            },
        )?;
        page.figure(
            dir,
            "startup-phases",
            &svg,
            "The mean startup delay of each start kind (starts in brackets), by phase.",
        );
        let head: Vec<String> = ["start kind", "starts"]
            .into_iter()
            .chain(ALL_PHASES)
            .map(|h| {
                if h == "start kind" || h == "starts" {
                    h.to_string()
                } else {
                    format!("{h} ms")
                }
            })
            .collect();
        let rows: Vec<Vec<String>> = by_kind
            .iter()
            .map(|(k, n, means)| {
                [k.as_str().to_string(), n.to_string()]
                    .into_iter()
                    .chain(means.iter().map(|m| format!("{m:.3}")))
                    .collect()
            })
            .collect();
        page.paragraph("Mean of each phase per start, in ms:");
        page.table(&head, &rows);
    }

    let memory = metrics.memory_over_time();
    if !memory.is_empty() {
        let (unit, secs) = time_unit(summary.span_s);
        let line = |f: &dyn Fn(&crate::timeline::MemoryPoint) -> f64| -> Vec<(f64, f64)> {
            memory
                .iter()
                .map(|p| ((p.start_s + p.end_s) / 2.0 / secs, f(p) / 1024.0))
                .collect()
        };
        let series: Series = vec![
            ("busy".into(), line(&|p| p.busy_mb)),
            ("idle".into(), line(&|p| p.idle_mb)),
            ("paused".into(), line(&|p| p.paused_mb)),
            ("zygotes".into(), line(&|p| p.zygote_mb)),
        ];
        let capacity = memory.iter().map(|p| p.capacity_mb).fold(0.0, f64::max) / 1024.0;
        let svg = render(
            dir,
            "memory",
            &Figure {
                title: "Memory in use over time",
                x_label: &format!("time ({unit})"),
                y_label: "memory, all workers (GB)",
                series: &series,
                style: Style::Stacked,
                log_x: false,
                front: None,
            },
        )?;
        page.figure(
            dir,
            "memory",
            &svg,
            &format!(
                "Memory held on all workers, stacked: by sandboxes creating or running \
                 invocations (busy), idle ones, paused ones, and zygotes; each point is the \
                 mean over {:.3} s. The workers have {capacity:.1} GB in all.",
                memory[0].end_s - memory[0].start_s
            ),
        );
    }
    page.write(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn a_run_report_has_its_figures_and_numbers() {
        let mut metrics = Metrics::new();
        fixture::run(&mut metrics);
        let dir = std::env::temp_dir().join(format!("lambdasim-run-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = write(&metrics, "fixture scenario", &dir).unwrap();
        assert_eq!(files.len(), 8);
        for f in &files {
            assert!(f.exists(), "{}", f.display());
        }
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(
            md.starts_with("# Run report\n\n```text\nfixture scenario\n"),
            "{md}"
        );
        // The cold start: create 100, install 50, import 30, init 20, exec 500 ms.
        assert!(
            md.contains("| cold | 1 | 0.000 | 100.000 | 50.000 | 30.000 | 20.000 | 500.000 |"),
            "{md}"
        );
        assert!(md.contains("| warm | 2 | 2.000 |"), "{md}");
        // 1,000 buckets of 10 ms over the 10 s run; 3 GB in all.
        assert!(
            md.contains("mean over 0.010 s. The workers have 3.0 GB"),
            "{md}"
        );
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert_eq!(html.matches("<svg").count(), 3);
        for stem in ["cdf", "startup-phases", "memory"] {
            let png = image::open(dir.join(format!("{stem}.png"))).unwrap();
            assert_eq!((png.width(), png.height()), crate::plot::FIGURE, "{stem}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_run_has_a_report_without_figures() {
        let dir =
            std::env::temp_dir().join(format!("lambdasim-empty-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = write(&Metrics::new(), "nothing", &dir).unwrap();
        assert_eq!(files.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
