//! `lambdasim bench`: simulation throughput and memory on a fixed synthetic scenario.
//!
//! The scenarios are fixed so that numbers are comparable across commits. Both have 400 apps on
//! 100 workers with 8 GB each, a 10-minute keep-alive and the least-loaded scheduler:
//! - `azure400`: 400 functions (one per app) at 75 invocations per second, the scale of the
//!   public Azure Functions 2019 sample of 400 functions (about 73 per second over its day);
//! - `stress`: 1000 functions at 500 invocations per second, Zipf 1.0, so that popular functions
//!   hold hundreds of sandboxes across all workers and memory is under pressure.
//!
//! Each measurement runs in a child process, so that its peak resident memory (`VmHWM`) is its
//! own. The baseline, in the same run, is generating the workload alone: the difference is the
//! cost of simulating it.
//!
//! The simulations are run at several trace lengths: if memory is O(functions + live sandboxes)
//! as designed, peak memory stays flat while the trace gets longer.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use clap::Args;
use policies::{KeepAliveConfig, SchedulerConfig};
use workloads::Duration;
use workloads::synthetic::SyntheticSpec;

use crate::scenario::{RawCluster, RawPolicies, RawScenario, RawWorkload};
use crate::{Error, load_workload};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Scenarios to measure, comma separated: azure400, stress.
    #[arg(long, value_delimiter = ',', default_value = "azure400,stress", value_parser = ["azure400", "stress"])]
    scenarios: Vec<String>,
    /// Trace lengths to simulate, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1h,4h,16h")]
    lengths: Vec<Duration>,
    /// Runs per length; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Measure every keep-alive policy (with the least-loaded scheduler) and every scheduler (with
    /// a 10-minute TTL) on the azure400 scenario instead, at the first of --lengths.
    #[arg(long)]
    policies: bool,
    /// Give the scenarios packages: the synthetic package catalogue (200 packages), about 3
    /// packages per function, an unbounded install cache and a dynamic zygote tree of 1024 MB per
    /// worker.
    #[arg(long)]
    packages: bool,
    /// Compare package caches and schedulers on scenarios/packages.toml instead: startup delay
    /// and cold-start cost without caches, with an install cache, and with a static or dynamic
    /// zygote tree too, under least-loaded and PASch scheduling.
    #[arg(long)]
    caches: bool,
    /// Measure the real backend's operations on this host instead (root and cgroups needed):
    /// sandbox creation with fresh and pooled cgroups, runner start, warm invocation overhead,
    /// pause, unpause, destroy, zygote fork, package install and import, no-op throughput.
    #[arg(long)]
    real: bool,
    /// With --real: trials per operation.
    #[arg(long, default_value_t = 200, value_name = "N")]
    trials: usize,
    /// Internal: the child's measurement has packages.
    #[arg(long, hide = true)]
    child_packages: bool,
    /// Internal: keep-alive policy of the child's measurement.
    #[arg(long, hide = true)]
    child_keep_alive: Option<String>,
    /// Internal: scheduler of the child's measurement.
    #[arg(long, hide = true)]
    child_scheduler: Option<String>,
    /// Measure the Azure 2019 trace reader instead: parse speed on generated full-size day
    /// files and replay memory as the number of days grows.
    #[arg(long)]
    traces: bool,
    /// With --traces: functions per generated day file.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    trace_functions: usize,
    /// With --traces: numbers of days to replay, comma separated (days 1..=max are generated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4",
        value_name = "LIST"
    )]
    trace_days: Vec<u32>,
    /// With --traces: where to write the day files (default: a temporary directory, removed
    /// afterwards).
    #[arg(long, value_name = "DIR")]
    trace_dir: Option<std::path::PathBuf>,
    /// Measure `lambdasim aggregate` on a large records file instead (polars feature): time and
    /// peak memory against reading the file's bytes.
    #[arg(long)]
    aggregate: bool,
    /// With --aggregate: rows of the records file to write (the stress scenario's records).
    #[arg(long, default_value_t = 10_000_000, value_name = "N")]
    records_rows: u64,
    /// With --aggregate: the records file to measure; written there first if missing (default:
    /// a temporary file, removed afterwards).
    #[arg(long, value_name = "FILE")]
    records_file: Option<std::path::PathBuf>,
    /// Internal: run one measurement in this process and print it as one line.
    #[arg(long, hide = true, value_parser = ["simulate", "generate", "read", "open", "replay", "scan", "aggregate", "aggregate-function"])]
    child: Option<String>,
    /// Internal: trace length of the child's measurement.
    #[arg(long, hide = true)]
    length: Option<Duration>,
    /// Internal: scenario of the child's measurement.
    #[arg(long, hide = true, value_parser = ["azure400", "stress"])]
    scenario: Option<String>,
}

/// A benchmark scenario for a trace of `length`.
pub fn scenario(name: &str, length: Duration) -> RawScenario {
    let (functions, rate, zipf) = match name {
        "azure400" => (400, 75.0, 1.5),
        _ => (1000, 500.0, 1.0),
    };
    RawScenario {
        preset: None,
        packages: Default::default(),
        model: Default::default(),
        validation: Default::default(),
        real: Default::default(),
        source: Default::default(),
        seed: 1,
        cluster: RawCluster {
            workers: 100,
            memory_mb: 8192,
            cores: 16,
            ..RawCluster::default()
        },
        costs: Default::default(),
        policies: RawPolicies {
            keep_alive: KeepAliveConfig::Ttl {
                idle: Duration::from_mins(10),
                refresh: Default::default(),
                lazy: false,
            },
            scheduler: SchedulerConfig::LeastLoaded,
        },
        workload: RawWorkload::Synthetic(SyntheticSpec {
            functions,
            apps: 400,
            duration: length,
            rate,
            zipf,
            ..SyntheticSpec::default()
        }),
    }
}

/// One measurement.
#[derive(Clone, Copy, Debug)]
struct Sample {
    invocations: u64,
    events: u64,
    seconds: f64,
    peak_rss_kb: u64,
}

/// Runs `lambdasim bench` with `args` in a child process and returns the `n` numbers of the
/// one line it prints, or an error with what it printed.
pub(crate) fn child_numbers(args: &[&std::ffi::OsStr], n: usize) -> Result<Vec<f64>, Error> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Output(format!("cannot find the lambdasim executable: {e}")))?;
    let out = Command::new(exe)
        .arg("bench")
        .args(args)
        .output()
        .map_err(|e| Error::Output(format!("cannot start a benchmark process: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let numbers: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    if out.status.success() && numbers.len() == n {
        Ok(numbers)
    } else {
        Err(Error::Output(format!(
            "benchmark process failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

pub(crate) fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Policies a measurement overrides, as `--keep-alive` and `--scheduler` write them.
#[derive(Clone, Debug, Default)]
struct PolicyOverride {
    keep_alive: Option<String>,
    scheduler: Option<String>,
    packages: bool,
}

/// The keep-alive policies and schedulers `--policies` measures (and the tests run).
pub const KEEP_ALIVES: [&str; 14] = [
    "none",
    "ttl,idle=10m",
    "ttl,idle=10m,refresh=once",
    "ttl,idle=10m,lazy=true",
    "lru",
    "openlambda",
    "hybrid",
    "greedy-dual,variant=gd",
    "greedy-dual,variant=lru",
    "greedy-dual,variant=freq",
    "greedy-dual,variant=size",
    "greedy-dual,variant=landlord",
    "greedy-dual,variant=rand",
    "ttl,idle=120m",
];
/// Every scheduler, with its default parameters.
pub const SCHEDULERS: &[&str] = SchedulerConfig::KINDS;

/// A benchmark scenario for a trace of `length`, with the keep-alive policy and scheduler given
/// as `--keep-alive` and `--scheduler` write them, and with packages if `packages`: exactly what
/// one measurement of `lambdasim bench` simulates, before validation.
pub fn scenario_with(
    name: &str,
    length: Duration,
    keep_alive: Option<&str>,
    scheduler: Option<&str>,
    packages: bool,
) -> Result<RawScenario, Error> {
    let mut raw = scenario(name, length);
    if let Some(text) = keep_alive {
        raw.policies.keep_alive = crate::spec::parse_policy("--keep-alive", text)?;
    }
    if let Some(text) = scheduler {
        raw.policies.scheduler = crate::spec::parse_policy("--scheduler", text)?;
    }
    if packages {
        raw.packages.catalog = crate::scenario::CatalogSource::Synthetic(Default::default());
        raw.packages.import_cache = policies::ImportCacheSpec::Dynamic {
            capacity_mb: 1024,
            base_mb: 10,
        };
    }
    Ok(raw)
}

fn measure(
    kind: &str,
    name: &str,
    length: Duration,
    policies: &PolicyOverride,
) -> Result<Sample, Error> {
    let scenario = scenario_with(
        name,
        length,
        policies.keep_alive.as_deref(),
        policies.scheduler.as_deref(),
        policies.packages,
    )?
    .validate()?;
    match kind {
        "generate" => {
            let (workload, _) = load_workload(&scenario)?;
            let started = Instant::now();
            let mut invocations = 0u64;
            let mut checksum = 0u64;
            for inv in workload.invocations {
                let inv = inv.map_err(|e| Error::Input(e.to_string()))?;
                invocations += 1;
                checksum = checksum.wrapping_add(inv.duration);
            }
            std::hint::black_box(checksum);
            Ok(Sample {
                invocations,
                events: invocations,
                seconds: started.elapsed().as_secs_f64(),
                peak_rss_kb: peak_rss_kb(),
            })
        }
        _ => {
            let result = crate::run(&scenario, None)?;
            Ok(Sample {
                invocations: result.stats.invocations,
                events: result.stats.events,
                seconds: result.elapsed_secs,
                peak_rss_kb: peak_rss_kb(),
            })
        }
    }
}

fn spawn(
    kind: &str,
    name: &str,
    length: Duration,
    policies: &PolicyOverride,
) -> Result<Sample, Error> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::Output(format!("cannot find the lambdasim executable: {e}")))?;
    let mut command = Command::new(exe);
    command.args([
        "bench",
        "--child",
        kind,
        "--scenario",
        name,
        "--length",
        &length.to_string(),
    ]);
    if let Some(k) = &policies.keep_alive {
        command.args(["--child-keep-alive", k]);
    }
    if let Some(s) = &policies.scheduler {
        command.args(["--child-scheduler", s]);
    }
    if policies.packages {
        command.arg("--child-packages");
    }
    let out = command
        .output()
        .map_err(|e| Error::Output(format!("cannot start a benchmark process: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let parse = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (parse(0), parse(1), parse(2), parse(3)) {
        (Some(i), Some(e), Some(s), Some(p)) if out.status.success() => Ok(Sample {
            invocations: i as u64,
            events: e as u64,
            seconds: s,
            peak_rss_kb: p as u64,
        }),
        _ => Err(Error::Output(format!(
            "benchmark process failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ))),
    }
}

fn best_of(
    kind: &str,
    name: &str,
    length: Duration,
    repeat: u32,
    policies: &PolicyOverride,
) -> Result<Sample, Error> {
    let mut best: Option<Sample> = None;
    for _ in 0..repeat.max(1) {
        let s = spawn(kind, name, length, policies)?;
        if best.is_none_or(|b| s.seconds < b.seconds) {
            best = Some(s);
        }
    }
    Ok(best.expect("at least one run"))
}

/// Runs the benchmark (or, with `--child`, one measurement) and returns the report text.
pub fn run(args: &BenchArgs) -> Result<String, Error> {
    if let Some(kind) = args
        .child
        .as_deref()
        .filter(|k| ["read", "open", "replay"].contains(k))
    {
        let dir = args.trace_dir.as_deref().ok_or_else(|| {
            Error::Input("internal: a trace measurement needs --trace-dir".to_string())
        })?;
        let days = args.trace_days.first().copied().unwrap_or(1);
        let s = crate::bench_trace::measure(kind, dir, days)?;
        return Ok(format!(
            "{} {} {:.6} {}\n",
            s.bytes, s.invocations, s.seconds, s.peak_rss_kb
        ));
    }
    if let Some(kind) = args
        .child
        .as_deref()
        .filter(|k| k.starts_with("aggregate") || *k == "scan")
    {
        let file = args.records_file.as_deref().ok_or_else(|| {
            Error::Input("internal: an aggregation measurement needs --records-file".to_string())
        })?;
        #[cfg(feature = "polars")]
        return crate::bench_aggregate::measure(kind, file);
        #[cfg(not(feature = "polars"))]
        return Err(Error::Input(format!(
            "measuring {kind} on {} needs the polars feature",
            file.display()
        )));
    }
    if args.aggregate {
        if args.records_rows == 0 {
            return Err(Error::Input("--records-rows must be positive".to_string()));
        }
        #[cfg(feature = "polars")]
        return crate::bench_aggregate::run(
            args.records_rows,
            args.records_file.as_deref(),
            args.repeat,
        );
        #[cfg(not(feature = "polars"))]
        return Err(Error::Input(
            "bench --aggregate needs lambdasim built with the polars feature: cargo build \
             --release --features polars"
                .to_string(),
        ));
    }
    if args.traces {
        if args.trace_functions == 0 || args.trace_days.iter().any(|&d| d == 0 || d > 14) {
            return Err(Error::Input(
                "--trace-functions must be positive and --trace-days between 1 and 14".to_string(),
            ));
        }
        return crate::bench_trace::run(
            args.trace_functions,
            &args.trace_days,
            args.trace_dir.as_deref(),
            args.repeat,
        );
    }
    if let Some(kind) = &args.child {
        let length = args.length.unwrap_or(Duration(4 * 3_600_000_000));
        let name = args.scenario.as_deref().unwrap_or("stress");
        let policies = PolicyOverride {
            keep_alive: args.child_keep_alive.clone(),
            scheduler: args.child_scheduler.clone(),
            packages: args.child_packages,
        };
        let s = measure(kind, name, length, &policies)?;
        return Ok(format!(
            "{} {} {:.6} {}\n",
            s.invocations, s.events, s.seconds, s.peak_rss_kb
        ));
    }
    if args.policies {
        return policy_table(args);
    }
    if args.caches {
        return crate::bench_caches::run();
    }
    if args.real {
        return real_bench(args.trials);
    }
    let mut report = String::new();
    let _ = writeln!(
        report,
        "lambdasim bench: 400 apps on 100 workers x 8192 MB, keep-alive ttl(idle=10m), scheduler least-loaded, seed 1"
    );
    let _ = writeln!(
        report,
        "  azure400: 400 functions, 75 invocations/s, Zipf 1.5;  stress: 1000 functions, 500 invocations/s, Zipf 1.0"
    );
    let _ = writeln!(
        report,
        "  best of {} runs, each in its own process; generating the workload alone is the baseline{}\n",
        args.repeat.max(1),
        if args.packages {
            "; with packages (synthetic catalogue, unbounded install caches, dynamic zygote trees of 1024 MB)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        report,
        "{:<9} {:<10} {:>6} {:>12} {:>12} {:>9} {:>9} {:>10} {:>8}",
        "scenario",
        "measure",
        "trace",
        "invocations",
        "events",
        "seconds",
        "M inv/s",
        "M events/s",
        "peak MB"
    );
    for name in &args.scenarios {
        for &length in &args.lengths {
            for kind in ["generate", "simulate"] {
                let policies = PolicyOverride {
                    packages: args.packages,
                    ..PolicyOverride::default()
                };
                let s = best_of(kind, name, length, args.repeat, &policies)?;
                let _ = writeln!(
                    report,
                    "{:<9} {:<10} {:>6} {:>12} {:>12} {:>9.3} {:>9.2} {:>10.2} {:>8.1}",
                    name,
                    kind,
                    length.to_string(),
                    s.invocations,
                    s.events,
                    s.seconds,
                    s.invocations as f64 / s.seconds / 1e6,
                    s.events as f64 / s.seconds / 1e6,
                    s.peak_rss_kb as f64 / 1024.0
                );
            }
        }
    }
    Ok(report)
}

/// Throughput of every policy on azure400.
fn policy_table(args: &BenchArgs) -> Result<String, Error> {
    let length = args
        .lengths
        .first()
        .copied()
        .unwrap_or(Duration(4 * 3_600_000_000));
    let mut report = String::new();
    let _ = writeln!(
        report,
        "lambdasim bench --policies: azure400 ({length}), 400 functions on 100 workers x 8192 MB; \
         best of {} runs, each in its own process\n",
        args.repeat.max(1)
    );
    let _ = writeln!(
        report,
        "{:<32} {:<16} {:>12} {:>9} {:>9} {:>8}",
        "keep-alive", "scheduler", "invocations", "seconds", "M inv/s", "peak MB"
    );
    let rows = KEEP_ALIVES
        .iter()
        .map(|k| PolicyOverride {
            keep_alive: Some(k.to_string()),
            scheduler: Some("least-loaded".to_string()),
            packages: args.packages,
        })
        .chain(SCHEDULERS.iter().map(|s| PolicyOverride {
            keep_alive: Some("ttl,idle=10m".to_string()),
            scheduler: Some(s.to_string()),
            packages: args.packages,
        }));
    for policies in rows {
        let s = best_of("simulate", "azure400", length, args.repeat, &policies)?;
        let _ = writeln!(
            report,
            "{:<32} {:<16} {:>12} {:>9.3} {:>9.2} {:>8.1}",
            policies.keep_alive.as_deref().unwrap_or_default(),
            policies.scheduler.as_deref().unwrap_or_default(),
            s.invocations,
            s.seconds,
            s.invocations as f64 / s.seconds / 1e6,
            s.peak_rss_kb as f64 / 1024.0
        );
    }
    Ok(report)
}

/// A directory under the system's temporary directory, removed when dropped.
pub(crate) struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub(crate) fn new(name: &str) -> Result<Self, Error> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Output(format!("cannot create {}: {e}", dir.display())))?;
        Ok(ScratchDir(dir))
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(target_os = "linux")]
fn real_bench(trials: usize) -> Result<String, Error> {
    let host = |e: &dyn std::fmt::Display| Error::Host(format!("bench --real: {e}"));
    let fs: std::sync::Arc<dyn real::cgroup::CgroupFs> =
        std::sync::Arc::from(real::cgroup::detect().map_err(|e| host(&e))?);
    real::cgroup::check_privileges(fs.as_ref()).map_err(|e| host(&e))?;
    real::spawn::become_reaper().map_err(|e| host(&e))?;
    let exe = std::env::current_exe().map_err(|e| host(&e))?;
    let work = std::env::temp_dir().join(format!("lambdasim-real-{}", std::process::id()));
    let kind = fs.kind();
    let report = real::measure::measure(fs, &exe, &work, trials).map_err(|e| host(&e))?;
    Ok(real::measure::render(&report, kind, trials))
}

#[cfg(not(target_os = "linux"))]
fn real_bench(_trials: usize) -> Result<String, Error> {
    Err(Error::Host("bench --real runs on Linux only".into()))
}
