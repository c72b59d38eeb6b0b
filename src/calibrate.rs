//! `lambdasim calibrate --out host.toml`: measures this host's sandbox operations with real
//! sandboxes ([`real::measure`]) and writes a cost profile, whose `[costs]` table `run --costs`
//! and `sweep --costs` simulate with. Every cost is a distribution (quantiles at equally spaced
//! probabilities), not a mean, so the simulator draws costs as varied as the host's.
//!
//! How the measurements map onto the cost model, as real mode uses the host:
//! - `create`: a sandbox created with a pooled cgroup (real mode keeps a pool per worker): take
//!   the cgroup, clone the runner into new namespaces, exec, wait until it is ready;
//! - `init`: 0, since real mode initializes only functions with an init time of their own
//!   (which the simulator adds by itself);
//! - `fork`: forking a sandbox from a zygote and moving it into its cgroup;
//! - `dispatch`: a no-op invocation's round trip to a warm sandbox;
//! - `pause` and `unpause`: freezing and thawing a sandbox's cgroup.
//!
//! Everything else measured (fresh cgroups, runner start, destroy, package install and import, a
//! 10 ms busy invocation, no-op throughput) goes to a `[measured]` table, for reference.

use std::fmt::Write as _;

use real::measure::{Report, Series};

/// The quantiles of a series at `n` equally spaced probabilities from 0 to 1 (nearest rank).
fn quantiles(series: &Series, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| series.quantile(i as f64 / (n - 1) as f64))
        .collect()
}

fn inline(series: &Series, n: usize) -> String {
    let q: Vec<String> = quantiles(series, n).iter().map(u64::to_string).collect();
    format!("{{ quantiles_us = [{}] }}", q.join(", "))
}

/// The cost profile of `report`, with `n` quantiles per distribution (at least 2); `about`
/// describes the host and the measurement in the header.
pub fn profile(report: &Report, n: usize, about: &str) -> Result<String, String> {
    if n < 2 {
        return Err(format!("--quantiles must be at least 2, got {n}"));
    }
    let find = |key: &str| {
        report
            .series
            .iter()
            .find(|s| s.key == key && !s.micros.is_empty())
            .ok_or_else(|| format!("the measurements have no {key} timings"))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Cost profile measured by `lambdasim calibrate`: {about}.\n\
         # Each distribution is {n} quantiles, at probabilities 0, 1/{m}, ..., 1, in microseconds.\n\
         # `lambdasim run --costs FILE` and `lambdasim sweep --costs FILE` simulate with [costs].\n",
        m = n - 1
    );
    let _ = writeln!(out, "[costs]");
    for (name, key, note) in [
        (
            "create",
            "create_pooled",
            "a sandbox in a pooled cgroup: take the cgroup, clone the runner, wait until ready",
        ),
        (
            "fork",
            "fork",
            "a sandbox forked from a zygote, moved into its cgroup",
        ),
        (
            "dispatch",
            "warm",
            "a no-op invocation's round trip to a warm sandbox",
        ),
        ("pause", "pause", "freezing a sandbox's cgroup"),
        ("unpause", "unpause", "thawing a sandbox's cgroup"),
    ] {
        let _ = writeln!(out, "# {note}\n{name} = {}", inline(find(key)?, n));
    }
    let _ = writeln!(
        out,
        "# Real mode initializes only functions with an init time of their own, which the\n\
         # simulator adds by itself.\ninit = \"0us\"\n"
    );
    let _ = writeln!(
        out,
        "# Measured too, not part of the cost model.\n[measured]"
    );
    for s in &report.series {
        if !["create_pooled", "fork", "warm", "pause", "unpause"].contains(&s.key)
            && !s.micros.is_empty()
        {
            let _ = writeln!(out, "# {}\n{} = {}", s.name, s.key, inline(s, n));
        }
    }
    let _ = writeln!(
        out,
        "# no-op invocations per second, {} sandboxes running them back to back\n\
         noop_per_second = {:.0}",
        report.sandboxes, report.noop_per_s
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(key: &'static str, micros: Vec<u64>) -> Series {
        Series {
            key,
            name: "a measurement",
            micros,
        }
    }

    #[test]
    fn a_profile_gives_the_measured_quantiles_as_costs() {
        let report = Report {
            series: vec![
                series("create_pooled", (1..=100).map(|i| 2_000 + i * 10).collect()),
                series("fork", vec![1_500; 10]),
                series("warm", vec![30, 31, 33, 40]),
                series("pause", vec![120]),
                series("unpause", vec![100, 110]),
                series("destroy", vec![1_000, 1_100]),
            ],
            noop_per_s: 65_000.0,
            sandboxes: 8,
        };
        let text = profile(&report, 5, "a test").unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let costs: sim::CostModel =
            serde::Deserialize::deserialize(table["costs"].clone()).unwrap();
        // Nearest rank at 0, 0.25, 0.5, 0.75 and 1 of 2,010..3,000.
        assert_eq!(
            costs.create,
            sim::Cost::Measured(std::sync::Arc::new(
                sim::Quantiles::new(vec![2_010, 2_250, 2_500, 2_750, 3_000]).unwrap()
            ))
        );
        assert_eq!(costs.init, sim::Cost::ZERO);
        assert_eq!(costs.dispatch.mean_micros(), 32);
        assert!(text.contains("destroy = { quantiles_us = [1000, 1000, 1000, 1100, 1100] }"));
        assert!(text.contains("noop_per_second = 65000"));
        let mut missing = report;
        missing.series.retain(|s| s.key != "fork");
        assert!(profile(&missing, 5, "x").unwrap_err().contains("fork"));
        assert!(
            profile(&missing, 1, "x")
                .unwrap_err()
                .contains("at least 2")
        );
    }
}
