//! A [`Summary`] as text a researcher reads at a glance, and as JSON for scripts.

use std::fmt::{self, Write};

use sim::record::{DestroyReason, DropReason, FailReason, StartKind};

use crate::metrics::{LatencyStats, Summary, WorkerMemory};

/// Above this many workers the memory section gives min, max and mean over workers instead of
/// one line per worker, so the report stays one screen long.
const MAX_LISTED_WORKERS: usize = 16;

const LABEL: usize = 26;
const VALUE: usize = 14;

/// The summary as aligned plain text (no colors, so it survives logs and files).
pub fn render_text(summary: &Summary) -> String {
    let mut t = String::new();
    render(&mut t, summary).expect("writing to a String cannot fail");
    t
}

/// The summary as pretty-printed JSON with a trailing newline. Field order follows the structs
/// and maps are sorted, so equal summaries give byte-identical files.
pub fn to_json(summary: &Summary) -> String {
    let mut json =
        serde_json::to_string_pretty(summary).expect("a summary has only string keys and numbers");
    json.push('\n');
    json
}

fn render(t: &mut String, s: &Summary) -> fmt::Result {
    if let Some(signal) = &s.interrupted {
        writeln!(
            t,
            "  INTERRUPTED by {signal}: this covers the invocations that ended before it; those in flight were abandoned\n"
        )?;
    }
    line(
        t,
        "span",
        &format!("{:.3} s", s.span_s),
        "simulated, or wall-clock in real mode",
    )?;

    let inv = &s.invocations;
    writeln!(t, "\nInvocations")?;
    line(t, "total", &inv.total.to_string(), "")?;
    count_line(t, "completed", inv.completed, inv.total)?;
    count_line(t, "dropped", inv.dropped, inv.total)?;
    for r in DropReason::ALL {
        sub_line(t, r.as_str(), inv.dropped_by_reason[r.as_str()])?;
    }
    count_line(t, "failed", inv.failed, inv.total)?;
    for r in FailReason::ALL {
        sub_line(t, r.as_str(), inv.failed_by_reason[r.as_str()])?;
    }

    let st = &s.starts;
    writeln!(t, "\nStarts (% of started)")?;
    line(t, "started", &st.started.to_string(), "")?;
    for k in StartKind::ALL {
        count_line(t, k.as_str(), st.by_kind[k.as_str()], st.started)?;
    }
    line(
        t,
        "cold-start ratio",
        &format!("{:.2} %", 100.0 * st.cold_start_ratio),
        "cold and zygote-fork starts",
    )?;

    let app = &s.cold_start_per_app;
    writeln!(t, "\nCold starts per app (Shahrad et al., ATC'20, Fig. 15)")?;
    writeln!(
        t,
        "  Each app's % of its starts that were cold; 75% of apps had at most the p75 value."
    )?;
    line(t, "apps with starts", &app.apps.to_string(), "")?;
    for (name, value) in [
        ("p25", app.p25_pct),
        ("p50", app.p50_pct),
        ("p75", app.p75_pct),
        ("p90", app.p90_pct),
        ("p99", app.p99_pct),
    ] {
        let note = if name == "p75" {
            "<-- the 75th-percentile app"
        } else {
            ""
        };
        line(t, name, &format!("{value:.2} %"), note)?;
    }
    line(
        t,
        "apps with no cold start",
        &format!("{:.2} %", 100.0 * app.zero_cold_start_fraction),
        "",
    )?;

    writeln!(t, "\nLatency (ms)")?;
    writeln!(
        t,
        "  {:<16}{:>10} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "", "count", "mean", "p50", "p90", "p99", "p99.9", "max"
    )?;
    latency_row(t, "end-to-end", &s.latency_ms)?;
    latency_row(t, "startup delay", &s.startup_delay_ms)?;
    latency_row(t, "cold-start cost", &s.cold_start_ms)?;

    let ph = &s.phases_ms;
    writeln!(
        t,
        "\nPhases of started invocations (ms; p50 and p99 over cold starts)"
    )?;
    writeln!(
        t,
        "  {:<16}{:>14} {:>17} {:>11} {:>11}",
        "", "mean", "total", "cold p50", "cold p99"
    )?;
    for (name, p) in [
        ("queue", &ph.queue),
        ("create", &ph.create),
        ("install", &ph.install),
        ("import", &ph.import),
        ("init", &ph.init),
    ] {
        writeln!(
            t,
            "  {name:<16}{:>14.3} {:>17.3} {:>11.3} {:>11.3}",
            p.mean, p.total, p.cold_p50, p.cold_p99
        )?;
    }
    writeln!(
        t,
        "  {:<16}{:>14.3} {:>17.3}",
        "exec", ph.exec.mean, ph.exec.total
    )?;

    let m = &s.memory;
    writeln!(t, "\nMemory")?;
    line(
        t,
        "wasted memory-time",
        &format!("{:.3} GB-s", m.wasted_gb_s),
        "held by idle or paused sandboxes",
    )?;
    line(t, "  idle", &format!("{:.3} GB-s", m.idle_gb_s), "")?;
    line(t, "  paused", &format!("{:.3} GB-s", m.paused_gb_s), "")?;
    line(
        t,
        "used memory-time",
        &format!("{:.3} GB-s", m.used_gb_s),
        "",
    )?;
    line(
        t,
        "peak used (max worker)",
        &format!("{} MB", m.max_worker_peak_used_mb),
        "",
    )?;
    line(
        t,
        "mean used (mean worker)",
        &format!("{:.1} MB", m.mean_worker_mean_used_mb),
        "",
    )?;
    workers(t, &m.workers)?;

    let sb = &s.sandboxes;
    writeln!(t, "\nSandboxes")?;
    line(t, "created", &sb.created.to_string(), "")?;
    line(t, "paused", &sb.paused.to_string(), "")?;
    line(t, "unpaused", &sb.unpaused.to_string(), "")?;
    line(t, "destroyed", &sb.destroyed.to_string(), "")?;
    for r in DestroyReason::ALL {
        sub_line(t, r.as_str(), sb.destroyed_by_reason[r.as_str()])?;
    }

    let p = &s.packages;
    if p.install_hits + p.install_misses > 0 {
        writeln!(t, "\nPackages (needed by cold starts)")?;
        count_line(
            t,
            "installed",
            p.install_misses,
            p.install_hits + p.install_misses,
        )?;
        count_line(
            t,
            "found installed",
            p.install_hits,
            p.install_hits + p.install_misses,
        )?;
        line(
            t,
            "bytes installed",
            &format!("{:.1} MB", p.installed_mb),
            "",
        )?;
        line(
            t,
            "uninstalled",
            &p.uninstalled.to_string(),
            &format!("{:.1} MB, to make room in install caches", p.uninstalled_mb),
        )?;
        let imports = p.import_hits + p.import_misses;
        count_line(t, "imported", p.import_misses, imports)?;
        count_line(t, "found in zygote", p.import_hits, imports)?;
        if p.zygotes_created > 0 {
            line(
                t,
                "zygotes created",
                &p.zygotes_created.to_string(),
                &format!("{} evicted", p.zygotes_evicted),
            )?;
            line(
                t,
                "zygote memory-time",
                &format!("{:.3} GB-s", m.zygote_gb_s),
                &format!("peak {} MB on one worker", m.max_worker_peak_zygote_mb),
            )?;
        }
    }
    Ok(())
}

fn line(t: &mut String, label: &str, value: &str, note: &str) -> fmt::Result {
    write!(t, "  {label:<LABEL$}{value:>VALUE$}")?;
    if !note.is_empty() {
        write!(t, "   {note}")?;
    }
    writeln!(t)
}

/// A count with its share of `whole`; the share is left out when `whole` is 0.
fn count_line(t: &mut String, label: &str, n: u64, whole: u64) -> fmt::Result {
    let share = if whole == 0 {
        String::new()
    } else {
        format!("{:6.2} %", 100.0 * n as f64 / whole as f64)
    };
    line(t, label, &n.to_string(), &share)
}

fn sub_line(t: &mut String, label: &str, n: u64) -> fmt::Result {
    line(t, &format!("  {label}"), &n.to_string(), "")
}

fn latency_row(t: &mut String, name: &str, l: &LatencyStats) -> fmt::Result {
    writeln!(
        t,
        // A space before every number keeps columns apart even when one outgrows its width.
        "  {name:<16}{:>10} {:>11.3} {:>11.3} {:>11.3} {:>11.3} {:>11.3} {:>11.3}",
        l.count, l.mean, l.p50, l.p90, l.p99, l.p999, l.max
    )
}

fn workers(t: &mut String, workers: &[WorkerMemory]) -> fmt::Result {
    if workers.is_empty() {
        return Ok(());
    }
    if workers.len() <= MAX_LISTED_WORKERS {
        writeln!(
            t,
            "\n  {:<8}{:>14}{:>14}{:>14}",
            "worker", "capacity MB", "peak MB", "mean MB"
        )?;
        for w in workers {
            writeln!(
                t,
                "  {:<8}{:>14}{:>14}{:>14.1}",
                w.worker, w.capacity_mb, w.peak_used_mb, w.mean_used_mb
            )?;
        }
        return Ok(());
    }
    writeln!(
        t,
        "\n  {:<8}{:>14}{:>14}{:>14}   over {} workers",
        "",
        "min",
        "max",
        "mean",
        workers.len()
    )?;
    min_max_mean(t, "peak MB", workers.iter().map(|w| w.peak_used_mb as f64))?;
    min_max_mean(t, "mean MB", workers.iter().map(|w| w.mean_used_mb))
}

fn min_max_mean(
    t: &mut String,
    label: &str,
    values: impl Iterator<Item = f64> + Clone,
) -> fmt::Result {
    let n = values.clone().count() as f64;
    writeln!(
        t,
        "  {label:<8}{:>14.1}{:>14.1}{:>14.1}",
        values.clone().fold(f64::INFINITY, f64::min),
        values.clone().fold(f64::NEG_INFINITY, f64::max),
        values.sum::<f64>() / n
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metrics;
    use crate::fixture;
    use sim::WorkerId;
    use sim::record::RecordSink;

    fn scenario() -> Summary {
        fixture::summary()
    }

    #[test]
    fn text_shows_the_key_numbers() {
        // Numbers from the metrics tests: 7 invocations, 4 completed (57.14 %), cold-start ratio
        // 2/5 = 40 %, p75 app 100 %, mean latency 300.25 ms, wasted 14.5 GB-s (13 idle, 1.5
        // paused), worker 1 peaks at 2048 MB, 2 sandboxes destroyed at shutdown.
        let text = render_text(&scenario());
        println!("{text}");
        for expected in [
            "span",
            "10.000 s",
            "57.14 %",
            "300.250",
            "14.500 GB-s",
            "13.000 GB-s",
            "1.500 GB-s",
            "2048",
            "716.8",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from\n{text}");
        }
        let ratio = text
            .lines()
            .find(|l| l.starts_with("  cold-start ratio"))
            .unwrap();
        assert!(ratio.contains("40.00 %"));
        let p75 = text.lines().find(|l| l.starts_with("  p75")).unwrap();
        assert!(p75.contains("100.00 %") && p75.contains("75th-percentile app"));
        let shutdown = text.lines().find(|l| l.contains("shutdown")).unwrap();
        assert!(shutdown.trim_end().ends_with(" 2"));
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn many_workers_are_summarized_not_listed() {
        // 20 workers; worker i holds i x 100 MB busy for the whole 1 s run, so peaks and means
        // range from 0 to 1900 with mean 950.
        let mut metrics = Metrics::new();
        for i in 0..20 {
            metrics.memory(
                0,
                WorkerId(i),
                &fixture::memory(4096, u64::from(i) * 100, 0, 0),
            );
        }
        metrics.end(fixture::S);
        let text = render_text(&metrics.summary());
        assert!(text.contains("over 20 workers"), "{text}");
        let peak = text.lines().find(|l| l.contains("peak MB")).unwrap();
        assert_eq!(
            peak.split_whitespace().collect::<Vec<_>>(),
            ["peak", "MB", "0.0", "1900.0", "950.0"]
        );
        assert!(!text.contains("capacity MB"));
    }

    #[test]
    fn json_field_names_are_stable() {
        let json = to_json(&scenario());
        assert!(json.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["span_s"], 10.0);
        assert_eq!(v["invocations"]["dropped_by_reason"]["queue-full"], 1);
        assert_eq!(v["invocations"]["failed_by_reason"]["out-of-memory"], 0);
        assert_eq!(v["starts"]["by_kind"]["zygote-fork"], 1);
        assert_eq!(v["starts"]["cold_start_ratio"], 0.4);
        assert_eq!(v["cold_start_per_app"]["p75_pct"], 100.0);
        assert_eq!(v["latency_ms"]["p999"], 700.0);
        assert_eq!(v["startup_delay_ms"]["max"], 200.0);
        assert_eq!(v["phases_ms"]["exec"]["total"], 1025.0);
        // Two cold starts (cold and zygote fork) created in 100 and 40 ms, installed 50 and 0.
        assert_eq!(v["phases_ms"]["create"]["cold_p99"], 100.0);
        let p50 = v["phases_ms"]["create"]["cold_p50"].as_f64().unwrap();
        assert!((40.0..40.1).contains(&p50), "{p50}");
        assert_eq!(v["phases_ms"]["install"]["cold_p50"], 0.0);
        assert_eq!(v["memory"]["wasted_gb_s"], 14.5);
        assert_eq!(v["memory"]["workers"][1]["peak_used_mb"], 2048);
        assert_eq!(v["sandboxes"]["destroyed_by_reason"]["shutdown"], 2);
        // Top-level keys in the order of `Summary`'s fields.
        let top: Vec<&str> = json
            .lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            top,
            [
                "span_s",
                "invocations",
                "starts",
                "cold_start_per_app",
                "latency_ms",
                "startup_delay_ms",
                "cold_start_ms",
                "phases_ms",
                "memory",
                "sandboxes",
                "packages",
            ]
        );
        // Same summary, same bytes.
        assert_eq!(json, to_json(&scenario()));
    }
}
