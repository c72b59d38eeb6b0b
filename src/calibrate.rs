//! `lambdasim calibrate --out host.toml`: measures this host's sandbox operations with real
//! sandboxes and writes a cost profile, whose `[costs]` table `run --costs`, `sweep --costs` and
//! `validate --costs` simulate with. Every cost is a distribution (quantiles at equally spaced
//! probabilities), not a mean, so the simulator draws costs as varied as the host's.
//!
//! Most costs are measured through the real backend itself ([`real::probe`]), with the real-mode
//! settings given (memory scale, memory filled, execution mode, disk scale), since that is what
//! real mode runs:
//! - `create`: from the create command to a ready sandbox, less its initialization;
//! - `create_forked`: the same for a sandbox forked from a ready zygote, which replaces
//!   `create` + `fork` for such a sandbox (a fork replaces starting a runner, not the cgroup);
//! - `init_base` and `init_per_gb`: a new sandbox's initialization, which fills the memory it then
//!   holds, split into a fixed part and a part per GB of the sandbox's memory (from sandboxes of
//!   two sizes); `init` is 0, since real mode initializes only functions with an init time of
//!   their own, which the simulator adds by itself;
//! - `dispatch`: an invocation's time from start to end as the driver sees it, less its
//!   duration;
//! - `[costs.packages]`: installs and imports per package and per GB of files (from packages of
//!   two sizes), and imports per GB of memory filled.
//!
//! `fork`, `pause` and `unpause` come from the primitives ([`real::measure`]): forking a process
//! from a zygote and moving it into its cgroup (what a child zygote costs), freezing and thawing
//! a cgroup. Everything else
//! measured goes to a `[measured]` table, for reference, and the settings to `[calibration]`.

use std::fmt::Write as _;

use real::measure::{Report, Series};
use real::probe::{self, Probe};
use workloads::Time;

/// The quantiles of a series at `n` equally spaced probabilities from 0 to 1 (nearest rank).
fn quantiles(series: &Series, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| series.quantile(i as f64 / (n - 1) as f64))
        .collect()
}

fn inline_quantiles(q: &[u64]) -> String {
    let q: Vec<String> = q.iter().map(u64::to_string).collect();
    format!("{{ quantiles_us = [{}] }}", q.join(", "))
}

fn inline(series: &Series, n: usize) -> String {
    inline_quantiles(&quantiles(series, n))
}

/// The cost per GB, in µs, that explains the difference of the medians of `small` and `large`,
/// measured at `small_gb` and `large_gb` (never negative).
fn per_gb(small: &Series, large: &Series, small_gb: f64, large_gb: f64) -> Time {
    let rise = large.quantile(0.5) as f64 - small.quantile(0.5) as f64;
    (rise / (large_gb - small_gb)).max(0.0).round() as Time
}

/// The distribution of `series` less `per_gb` times `gb`: the fixed part of a cost.
fn base(series: &Series, n: usize, per_gb: Time, gb: f64) -> String {
    let less = (per_gb as f64 * gb).round() as u64;
    inline_quantiles(
        &quantiles(series, n)
            .iter()
            .map(|q| q.saturating_sub(less))
            .collect::<Vec<_>>(),
    )
}

/// The cost profile of `report` and `probe`, measured with `config`, with `n` quantiles per
/// distribution (at least 2); `about` describes the host and the measurement in the header.
pub fn profile(
    report: &Report,
    probe: &Probe,
    config: &real::RealConfig,
    n: usize,
    about: &str,
) -> Result<String, String> {
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
    // The Python runtime's packages are measured by `real serve` itself, with pip.
    let python = matches!(config.runtime, real::Runtime::Python(_));
    let packages = if python {
        &[][..]
    } else {
        &probe.package_series()[..]
    };
    for s in probe.sandbox_series().iter().chain(packages) {
        if s.micros.is_empty() {
            return Err(format!("the measurements have no {} timings", s.key));
        }
    }
    let gb = |mb: f64| mb / 1024.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Cost profile measured by `lambdasim calibrate`: {about}.\n\
         # Each distribution is {n} quantiles, at probabilities 0, 1/{m}, ..., 1, in microseconds.\n\
         # `lambdasim run --costs FILE`, `sweep --costs FILE` and `validate --costs FILE` simulate\n\
         # with [costs].\n",
        m = n - 1
    );
    let mode = config.mode.as_str();
    let _ = writeln!(
        out,
        "# The real-mode settings of the measurement; `lambdasim validate` warns when a run's differ.\n\
         [calibration]\nmemory_scale = {}\ntouch = {}\nexec = \"{mode}\"\ndisk_scale = {}\n\
         favor_dynmods = {}\nruntime = \"{}\"\n",
        config.memory_scale,
        config.touch_fraction,
        config.disk_scale,
        config.favor_dynmods,
        config.runtime.name(),
    );
    let _ = writeln!(out, "[costs]");
    let _ = writeln!(
        out,
        "# from the create command to a ready sandbox, less its initialization, through the backend\n\
         create = {}",
        inline(&probe.create, n)
    );
    let init_per_gb = per_gb(
        &probe.init_small,
        &probe.init_large,
        gb(f64::from(probe::SMALL_MB)),
        gb(f64::from(probe::LARGE_MB)),
    );
    let _ = writeln!(
        out,
        "# a new sandbox's initialization fills the memory it holds: a fixed part, and a part per\n\
         # GB of the sandbox's memory (from sandboxes of {} and {} MB)\n\
         init_base = {}\ninit_per_gb = \"{init_per_gb}us\"",
        probe::SMALL_MB,
        probe::LARGE_MB,
        base(
            &probe.init_small,
            n,
            init_per_gb,
            gb(f64::from(probe::SMALL_MB))
        )
    );
    let _ = writeln!(
        out,
        "# Real mode initializes only functions with an init time of their own, which the\n\
         # simulator adds by itself.\ninit = \"0us\""
    );
    let _ = writeln!(
        out,
        "# an invocation's time from start to end as the driver sees it, less its duration ({} ms, {})\n\
         dispatch = {}",
        probe::PROBE_RUN_US as f64 / 1000.0,
        if python {
            "a Python handler sleeping"
        } else {
            mode
        },
        inline(&probe.dispatch, n)
    );
    // Forks as the run makes them: confined (the default) or not.
    let fork_key = if config.confine {
        "fork_confined"
    } else {
        "fork"
    };
    let _ = writeln!(
        out,
        "# a sandbox forked from a ready zygote, from the create command to its readiness, less\n\
         # its initialization, through the backend: in place of create + fork\n\
         create_forked = {}",
        inline(&probe.create_forked, n)
    );
    for (name, key, note) in [
        (
            "fork",
            fork_key,
            "a zygote forked from another, moved into its cgroup",
        ),
        ("pause", "pause", "freezing a sandbox's cgroup"),
        ("unpause", "unpause", "thawing a sandbox's cgroup"),
    ] {
        let _ = writeln!(out, "# {note}\n{name} = {}", inline(find(key)?, n));
    }
    if python {
        let _ = writeln!(
            out,
            "\n# No [costs.packages]: `real serve` installs and imports each package of its registry with\n\
             # pip at its start, measures both, and gives the simulator those costs in its trace.\n"
        );
    } else {
        write_package_costs(&mut out, probe, config, n);
    }
    let _ = writeln!(
        out,
        "# Measured too, not part of the cost model.\n[measured]"
    );
    for s in report.series.iter().chain([
        &probe.init_small,
        &probe.init_large,
        &probe.install_large,
        &probe.import_large,
        &probe.import_memory,
    ]) {
        if ![fork_key, "pause", "unpause"].contains(&s.key) && !s.micros.is_empty() {
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

/// The `[costs.packages]` table: installs and imports per package, per GB of files and per GB of
/// import memory, from the probe's packages.
fn write_package_costs(out: &mut String, probe: &Probe, config: &real::RealConfig, n: usize) {
    let gb = |mb: f64| mb / 1024.0;
    let small = gb(probe::SMALL_PACKAGE_MB as f64);
    let large = gb(probe::LARGE_PACKAGE_MB as f64);
    let install_per_gb = per_gb(&probe.install_small, &probe.install_large, small, large);
    let import_per_gb = per_gb(&probe.import_small, &probe.import_large, small, large);
    let import_memory_per_gb = per_gb(
        &probe.import_small,
        &probe.import_memory,
        0.0,
        gb(probe::PACKAGE_MEMORY_MB),
    );
    let _ = writeln!(
        out,
        "\n# Packages as real mode installs and imports them (files at {} of the catalogue's sizes),\n\
         # per package, per GB of the catalogue's file sizes and per GB of import memory; from\n\
         # packages of {} and {} MB, and of {} MB of import memory.\n\
         [costs.packages]\ninstall = {}\ninstall_per_gb = \"{install_per_gb}us\"\n\
         import = {}\nimport_per_gb = \"{import_per_gb}us\"\n\
         import_memory_per_gb = \"{import_memory_per_gb}us\"\nimport_cpu = {}\n",
        config.disk_scale,
        probe::SMALL_PACKAGE_MB,
        probe::LARGE_PACKAGE_MB,
        probe::PACKAGE_MEMORY_MB,
        base(&probe.install_small, n, install_per_gb, small),
        base(&probe.import_small, n, import_per_gb, small),
        config.import_cpu_scale,
    );
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
    fn a_profile_gives_the_measured_quantiles_and_per_gb_slopes_as_costs() {
        let report = Report {
            series: vec![
                series("fork", vec![1_200; 10]),
                series("fork_confined", vec![1_500; 10]),
                series("pause", vec![120]),
                series("unpause", vec![100, 110]),
                series("destroy", vec![1_000, 1_100]),
            ],
            noop_per_s: 65_000.0,
            sandboxes: 8,
        };
        // Initialization: 400 µs at 128 MB and 1,360 µs at 2,048 MB: 512 µs per GB, 336 µs base.
        let probe = Probe {
            create: series("create", (1..=100).map(|i| 2_000 + i * 10).collect()),
            create_forked: series("create_forked", vec![1_700, 1_800, 1_900]),
            init_small: series("init_small", vec![390, 400, 410]),
            init_large: series("init_large", vec![1_350, 1_360, 1_370]),
            dispatch: series("dispatch", vec![30, 31, 33, 40]),
            // 10 MB: 1,000 µs, 200 MB: 2,900 µs, so 10,240 µs per GB and 900 µs base.
            install_small: series("install_small", vec![1_000]),
            install_large: series("install_large", vec![2_900]),
            import_small: series("import_small", vec![300]),
            import_large: series("import_large", vec![300]),
            // 64 MB of memory: 1,100 µs more, 17,600 µs per GB.
            import_memory: series("import_memory", vec![1_400]),
        };
        let config = real::RealConfig::default();
        let text = profile(&report, &probe, &config, 5, "a test").unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let costs: sim::CostModel =
            serde::Deserialize::deserialize(table["costs"].clone()).unwrap();
        let measured =
            |q: Vec<u64>| sim::Cost::Measured(std::sync::Arc::new(sim::Quantiles::new(q).unwrap()));
        // Nearest rank at 0, 0.25, 0.5, 0.75 and 1 of 2,010..3,000.
        assert_eq!(
            costs.create,
            measured(vec![2_010, 2_250, 2_500, 2_750, 3_000])
        );
        assert_eq!(
            costs.create_forked,
            Some(measured(vec![1_700, 1_700, 1_800, 1_900, 1_900]))
        );
        assert_eq!(costs.init, sim::Cost::ZERO);
        assert_eq!(costs.init_per_gb, workloads::Duration(512));
        assert_eq!(costs.init_base, measured(vec![326, 326, 336, 346, 346]));
        assert_eq!(costs.dispatch.mean_micros(), 32);
        // Forks as the run makes them: confined by default.
        assert_eq!(costs.fork.mean_micros(), 1_500);
        let unconfined = real::RealConfig {
            confine: false,
            ..config.clone()
        };
        let text_unconfined = profile(&report, &probe, &unconfined, 5, "a test").unwrap();
        let table_unconfined: toml::Table = toml::from_str(&text_unconfined).unwrap();
        let costs_unconfined: sim::CostModel =
            serde::Deserialize::deserialize(table_unconfined["costs"].clone()).unwrap();
        assert_eq!(costs_unconfined.fork.mean_micros(), 1_200);
        let p = costs.packages.expect("a package model");
        assert_eq!(p.install_per_gb, workloads::Duration(10_240));
        assert_eq!(p.install.mean_micros(), 900);
        assert_eq!(p.import_per_gb, workloads::Duration(0));
        assert_eq!(p.import.mean_micros(), 300);
        assert_eq!(p.import_memory_per_gb, workloads::Duration(17_600));
        assert_eq!(p.import_cpu, 1.0);
        assert_eq!(table["calibration"]["exec"].as_str(), Some("busy"));
        assert!(text.contains("destroy = { quantiles_us = [1000, 1000, 1000, 1100, 1100] }"));
        assert!(text.contains("init_large = { quantiles_us"));
        assert!(text.contains("noop_per_second = 65000"));
        let mut missing = report;
        missing.series.retain(|s| s.key != "fork_confined");
        let e = profile(&missing, &probe, &config, 5, "x").unwrap_err();
        assert!(e.contains("fork"), "{e}");
        let e = profile(&missing, &probe, &config, 1, "x").unwrap_err();
        assert!(e.contains("at least 2"), "{e}");
        let no_dispatch = Probe {
            dispatch: series("dispatch", Vec::new()),
            ..probe
        };
        let e = profile(&missing, &no_dispatch, &config, 5, "x").unwrap_err();
        assert!(e.contains("no dispatch timings"), "{e}");
    }
}
