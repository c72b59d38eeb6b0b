//! lambdasim: replay serverless invocation traces against keep-alive and scheduling policies on
//! a discrete-event model of an OpenLambda-style cluster.
//!
//! This crate wires the library crates together for the command line: scenario files
//! ([`scenario`]), running one simulation ([`run`]), sweeps of many ([`sweep`]), a scenario on
//! real sandboxes (`real_mode`, Linux), and the benchmarks ([`bench`](mod@bench), [`bench_caches`],
//! [`bench_trace`]).

pub mod bench;
#[cfg(feature = "polars")]
pub mod bench_aggregate;
pub mod bench_caches;
pub mod bench_trace;
#[cfg(target_os = "linux")]
pub mod calibrate;
pub mod config_file;
pub mod load;
pub mod matrix;
pub mod matrix_report;
#[cfg(target_os = "linux")]
pub mod profile;
pub mod real_mode;
pub mod scenario;
pub mod spec;
pub mod sweep;
pub mod validate;

use std::io::Write;
use std::time::Instant;

use analysis::{CsvRecords, Metrics, Summary};
use sim::record::{RecordSink, Tee};
use sim::{Controller, RunStats, SimBackend, SimError, simulate_until};
use workloads::Workload;
use workloads::trace::{LoadReport, Selection, TraceFormat};

use scenario::{RawWorkload, Scenario};

/// A failure the user can act on. `Input` errors (bad scenario, flags or trace files) exit with
/// code 2, everything else with 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Output(String),
    /// The host cannot run real sandboxes (privileges, cgroups) or a sandbox could not be set up.
    #[error("{0}")]
    Host(String),
    /// Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) after cleaning up; the signal's number.
    #[error("{0}")]
    Interrupted(String, i32),
    /// A validation found the simulation outside its tolerances.
    #[error("{0}")]
    Mismatch(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Output(_) => 1,
            Error::Host(_) => 3,
            Error::Interrupted(_, signal) => 128 + signal,
            Error::Mismatch(_) => 4,
        }
    }
}

/// What one simulation produced.
#[derive(Debug)]
pub struct RunResult {
    pub summary: Summary,
    /// The run's metrics, for what the summary leaves out (distributions, memory over time).
    pub metrics: Metrics,
    pub stats: RunStats,
    /// What the trace reader found, when the workload replays a trace.
    pub trace: Option<TraceLoad>,
    /// Wall-clock time of the simulation proper, in seconds (not part of any saved output, so
    /// that outputs stay reproducible).
    pub elapsed_secs: f64,
}

/// Seeds for independent consumers of randomness, derived from the scenario seed with
/// SplitMix64 so that, say, the random scheduler's choices do not echo the workload generator's.
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const SCHEDULER_STREAM: u64 = 1;
const KEEP_ALIVE_STREAM: u64 = 2;
const COSTS_STREAM: u64 = 4;

/// Each function's cold-start cost in µs: sandbox creation plus its initialization (its own, or
/// the cost model's).
fn cold_costs(catalog: &workloads::Catalog, costs: &sim::CostModel) -> Vec<u64> {
    catalog
        .functions
        .iter()
        .map(|f| costs.create.mean_micros() + f.init.unwrap_or(costs.init.mean_micros()))
        .collect()
}

/// What opening a trace found and what sampling kept.
#[derive(Clone, Debug)]
pub struct TraceLoad {
    pub format: TraceFormat,
    /// Functions and apps in the trace after cleaning, before sampling.
    pub functions: usize,
    pub apps: usize,
    pub report: LoadReport,
    pub selection: Selection,
}

impl TraceLoad {
    /// A few lines for the header of a run's output.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "trace       {} functions in {} apps read from {} file(s)",
            self.functions,
            self.apps,
            self.report.files.len()
        );
        if !self.report.dropped.is_empty() {
            let dropped: Vec<String> = self
                .report
                .dropped
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            s.push_str(&format!("; left out: {}", dropped.join(", ")));
        }
        if self.report.bad_rows > 0 {
            s.push_str(&format!(
                "; {} malformed rows skipped",
                self.report.bad_rows
            ));
        }
        s.push_str(&format!(
            "\n            replaying {} functions with {} recorded invocations in the window",
            self.selection.functions, self.selection.invocations
        ));
        if self.selection.scale != 1.0 {
            s.push_str(&format!(", rate x{:.4}", self.selection.scale));
        }
        s.push('\n');
        for note in &self.report.notes {
            s.push_str(&format!("            note: {note}\n"));
        }
        s
    }
}

const PACKAGES_STREAM: u64 = 3;

/// Gives the workload the scenario's package catalogue, and every function without packages a
/// set drawn by popularity (closed over dependencies). Functions that already have packages (a
/// native trace with `packages.json`) keep them.
fn attach_packages(workload: &mut Workload, scenario: &Scenario) -> Result<(), Error> {
    use scenario::CatalogSource;
    use workloads::packages::{PackageCatalog, assign};
    let input = |e: workloads::WorkloadError| Error::Input(format!("packages: {e}"));
    let seed = derive_seed(scenario.seed, PACKAGES_STREAM);
    let catalog = match &scenario.raw.packages.catalog {
        CatalogSource::None => return Ok(()),
        CatalogSource::Synthetic(spec) => PackageCatalog::synthetic(spec, seed).map_err(input)?,
        CatalogSource::Reqbench { dir } => PackageCatalog::read_reqbench(dir).map_err(input)?.0,
        CatalogSource::Native { path } => PackageCatalog::read_native(path).map_err(input)?,
    };
    if !workload.catalog.packages.is_empty() {
        return Err(Error::Input(
            "packages.catalog: the trace brings its own packages.json; set packages.catalog to \"none\" to use it"
                .to_string(),
        ));
    }
    let functions = workload.catalog.functions.len();
    let sets = assign(&catalog, functions, &scenario.raw.packages.assign, seed).map_err(input)?;
    for (f, set) in workload.catalog.functions.iter_mut().zip(sets) {
        f.packages = set;
    }
    workload.catalog.packages = catalog;
    Ok(())
}

/// Builds the scenario's workload: generates it, or opens, samples and shapes the trace (read on
/// a thread of its own when the scenario's `reader_thread` is set; a synthetic workload is
/// generated on the caller's thread); then attaches packages.
pub fn load_workload(scenario: &Scenario) -> Result<(Workload, Option<TraceLoad>), Error> {
    let (mut workload, load) = load_workload_only(scenario)?;
    attach_packages(&mut workload, scenario)?;
    Ok((workload, load))
}

fn load_workload_only(scenario: &Scenario) -> Result<(Workload, Option<TraceLoad>), Error> {
    let input = |e: workloads::WorkloadError| Error::Input(format!("workload: {e}"));
    match scenario.workload.as_trace() {
        None => {
            let RawWorkload::Synthetic(spec) = &scenario.workload else {
                unreachable!("a workload that is not a trace is synthetic");
            };
            Ok((spec.build(scenario.seed).map_err(input)?, None))
        }
        Some((format, spec)) => {
            let trace = workloads::trace::open(format, spec, scenario.seed).map_err(input)?;
            let (functions, apps) = (trace.catalog.functions.len(), trace.catalog.apps.len());
            let report = trace.report.clone();
            let (mut workload, selection) =
                trace.into_workload(spec, scenario.seed).map_err(input)?;
            if scenario.reader_thread {
                workload.invocations = workloads::prefetch::prefetch(workload.invocations);
            }
            Ok((
                workload,
                Some(TraceLoad {
                    format,
                    functions,
                    apps,
                    report,
                    selection,
                }),
            ))
        }
    }
}

/// The platform keeps a bitset over workers for every function; refuse sizes whose index alone
/// would not fit in memory rather than fail to allocate it.
fn check_size(functions: usize, workers: usize) -> Result<(), Error> {
    const LIMIT_BYTES: usize = 4 << 30;
    let bytes = functions
        .saturating_mul(workers.div_ceil(64))
        .saturating_mul(8);
    if bytes > LIMIT_BYTES {
        return Err(Error::Input(format!(
            "{functions} functions on {workers} workers need {} GiB for the platform's indexes, more than the {} GiB allowed; use fewer functions or workers",
            bytes >> 30,
            LIMIT_BYTES >> 30
        )));
    }
    Ok(())
}

/// The scenario's provisioned sandboxes, with function names resolved in the catalog.
fn provisioned(
    scenario: &Scenario,
    catalog: &workloads::Catalog,
) -> Result<Vec<(workloads::FunctionId, u32)>, Error> {
    scenario
        .raw
        .cluster
        .provisioned
        .iter()
        .map(|p| {
            catalog
                .functions
                .iter()
                .position(|f| f.name == p.function)
                .map(|i| (workloads::FunctionId(i as u32), p.count))
                .ok_or_else(|| {
                    Error::Input(format!(
                        "cluster.provisioned: function {:?} is not in the workload",
                        p.function
                    ))
                })
        })
        .collect()
}

/// The controller for `scenario` with its policies and caches, over `catalog`.
pub fn build_controller(
    scenario: &Scenario,
    catalog: workloads::Catalog,
) -> Result<Controller, Error> {
    check_size(catalog.functions.len(), scenario.controller.workers.len())?;
    scenario::check_cold_cost(&scenario.costs, &catalog)?;
    let init_us: Vec<u64> = catalog
        .functions
        .iter()
        .map(|f| f.init.unwrap_or(scenario.costs.init.mean_micros()))
        .collect();
    let keep_alive = scenario
        .keep_alive
        .build_in(
            scenario.raw.model.pool,
            &cold_costs(&catalog, &scenario.costs),
            &init_us,
            derive_seed(scenario.seed, KEEP_ALIVE_STREAM),
        )
        .map_err(|e| Error::Input(format!("policies.{e}")))?;
    let mut config = scenario.controller.clone();
    config.provisioned = provisioned(scenario, &catalog)?;
    let mut controller = Controller::new(
        catalog,
        &config,
        keep_alive,
        scenario
            .scheduler
            .build(derive_seed(scenario.seed, SCHEDULER_STREAM)),
    );
    if !controller.catalog().packages.is_empty() {
        if let Some((policy, capacity)) = scenario.raw.packages.install_cache.build() {
            controller = controller.with_install_cache(policy, capacity);
        }
        if let Some(config) = scenario
            .raw
            .packages
            .import_cache
            .build(controller.catalog())
            .map_err(|e| Error::Input(format!("packages.import_cache: {e}")))?
        {
            controller = controller.with_import_cache(config);
        }
    }
    Ok(controller)
}

/// Runs one simulation of `scenario`, writing per-invocation records to `records` if given.
pub fn run(scenario: &Scenario, records: Option<&mut dyn Write>) -> Result<RunResult, Error> {
    let (workload, trace) = load_workload(scenario)?;
    let mut result = run_workload(scenario, workload, records, None)?;
    result.trace = trace;
    Ok(result)
}

/// Simulates `workload` under `scenario`'s platform and policies, writing per-invocation records
/// to `records` and reporting everything to `extra` too, if given.
pub fn run_workload(
    scenario: &Scenario,
    workload: Workload,
    records: Option<&mut dyn Write>,
    extra: Option<&mut dyn RecordSink>,
) -> Result<RunResult, Error> {
    run_workload_until(scenario, workload, records, extra, None)
}

/// [`run_workload`], going on until `end` (µs) if the last invocation ends before it (see
/// [`sim::simulate_until`]).
pub fn run_workload_until(
    scenario: &Scenario,
    workload: Workload,
    records: Option<&mut dyn Write>,
    extra: Option<&mut dyn RecordSink>,
    end: Option<workloads::Time>,
) -> Result<RunResult, Error> {
    let mut controller = build_controller(scenario, workload.catalog)?;
    let cores = scenario
        .controller
        .workers
        .iter()
        .map(|w| w.cores)
        .collect();
    let mut backend = SimBackend::with_cpu(scenario.costs.clone(), scenario.cpu, cores);
    backend.seed_costs(derive_seed(scenario.seed, COSTS_STREAM));
    if !controller.catalog().packages.is_empty() {
        backend.set_package_costs(
            controller
                .catalog()
                .packages
                .packages
                .iter()
                .map(|p| scenario.costs.package_times(p))
                .collect(),
        );
    }
    let mut metrics = Metrics::new();
    let started = Instant::now();
    let mut csv = records.map(CsvRecords::new);
    let stats = simulate_until(
        &mut controller,
        &mut backend,
        workload.invocations,
        &mut Tee(&mut metrics, Tee(csv.as_mut(), extra)),
        end,
    );
    if let Some(csv) = csv {
        csv.finish()
            .map_err(|e| Error::Output(format!("cannot write records: {e}")))?;
    }
    let stats = stats.map_err(|e: SimError| Error::Input(e.to_string()))?;
    Ok(RunResult {
        summary: metrics.summary(),
        metrics,
        stats,
        trace: None,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}
