//! `lambdasim bench --caches`: what package caches and package-aware scheduling do to startup
//! delay, on `scenarios/packages.toml` (embedded).
//!
//! The scenario runs under four cache set-ups (no caches; install cache only; install cache and a
//! static zygote tree; install cache and a dynamic zygote tree), each with the least-loaded and the
//! PASch scheduler, and the table reports startup delay over all started invocations, the cost of
//! a cold start (its startup delay less queueing), the cold-start ratio and the caches' hit ratios.

use std::fmt::Write as _;

use policies::{ImportCacheSpec, InstallCacheConfig, SchedulerConfig};

use crate::Error;
use crate::scenario::RawScenario;

/// The scenario the comparison runs, as shipped in `scenarios/packages.toml`.
pub const PACKAGES_SCENARIO: &str = include_str!("../scenarios/packages.toml");

/// The cache set-ups compared: a label, the install cache and the import cache.
pub fn setups(base: &RawScenario) -> Vec<(&'static str, InstallCacheConfig, ImportCacheSpec)> {
    let install = base.packages.install_cache.clone();
    let import_mb = match base.packages.import_cache {
        ImportCacheSpec::Dynamic { capacity_mb, .. } => capacity_mb,
        _ => 512,
    };
    vec![
        (
            "no caches",
            InstallCacheConfig::None {},
            ImportCacheSpec::None {},
        ),
        ("install cache", install.clone(), ImportCacheSpec::None {}),
        (
            "install + static tree",
            install.clone(),
            ImportCacheSpec::StaticTree {
                tree: None,
                nodes: None,
                min_share: None,
                capacity_mb: Some(import_mb),
                base_mb: 10,
            },
        ),
        (
            "install + dynamic tree",
            install,
            ImportCacheSpec::Dynamic {
                capacity_mb: import_mb,
                base_mb: 10,
            },
        ),
    ]
}

/// Runs the comparison and returns it as a Markdown table.
pub fn run() -> Result<String, Error> {
    let base = RawScenario::parse(PACKAGES_SCENARIO, "scenarios/packages.toml")?;
    let mut out = String::new();
    let scenario = base.clone().validate()?;
    let _ = writeln!(
        out,
        "lambdasim bench --caches: scenarios/packages.toml\n\n{}",
        scenario.describe()
    );
    let _ = writeln!(
        out,
        "| caches | scheduler | startup mean ms | startup p99 ms | cold-start cost mean ms | cold-start cost p99 ms | import per cold start ms | cold starts % | install hits % | import hits % | zygote peak MB |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (label, install, import) in setups(&base) {
        let pasch: SchedulerConfig = crate::spec::parse_policy("--scheduler", "pasch")?;
        for scheduler in [SchedulerConfig::LeastLoaded, pasch] {
            let mut raw = base.clone();
            raw.packages.install_cache = install.clone();
            raw.packages.import_cache = import.clone();
            raw.policies.scheduler = scheduler.clone();
            let result = crate::run(&raw.validate()?, None)?;
            let s = &result.summary;
            let _ = writeln!(
                out,
                "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {} |",
                scheduler.kind(),
                s.startup_delay_ms.mean,
                s.startup_delay_ms.p99,
                s.cold_start_ms.mean,
                s.cold_start_ms.p99,
                s.phases_ms.import.total / s.starts.cold.max(1) as f64,
                100.0 * s.starts.cold_start_ratio,
                100.0 * s.packages.install_hit_ratio,
                100.0 * s.packages.import_hit_ratio,
                s.memory.max_worker_peak_zygote_mb,
            );
        }
    }
    Ok(out)
}
