//! `lambdasim real`: a scenario replayed on this host by the real backend, through the same
//! controller and policies as `lambdasim run`, with the same records and summary.
//!
//! Time is the wall clock, in µs from the start. The workload is scaled before the controller
//! sees it: arrivals are divided by `time_scale` (60: a trace minute in a second) and execution and
//! initialization times by `duration_scale`. Policies' own times (a TTL, say) are wall-clock
//! times: scale them in the scenario if the trace is scaled.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use analysis::{CsvRecords, Metrics, Summary};
use real::driver::{DriveStats, STOP, drive, signal_name, stop_on_signals};
use real::host_load::{HostLoad, Sampler};
use real::{RealBackend, RealConfig};
use sim::record::{RecordSink, Tee};
use workloads::Workload;

use crate::scenario::Scenario;
use crate::{Error, build_controller, load_workload};

/// How to run a scenario for real.
#[derive(Clone, Debug)]
pub struct RealOptions {
    /// Trace time per wall-clock time: arrivals happen `time_scale` times sooner.
    pub time_scale: f64,
    /// Execution and initialization times are divided by this.
    pub duration_scale: f64,
    pub backend: RealConfig,
}

/// What a real run produced.
#[derive(Debug)]
pub struct RealResult {
    pub summary: Summary,
    /// The run's metrics, for what the summary leaves out (distributions, memory over time).
    pub metrics: Metrics,
    pub drive: DriveStats,
    /// How busy the host was while the workload ran.
    pub host: HostLoad,
    /// The cgroup layout used: v1 or v2.
    pub cgroups: &'static str,
    /// Whether cgroup migrations were cheap (`favordynmods`), and why not.
    pub favor: String,
    /// How the workers' CPUs were limited.
    pub cpu: String,
    /// The signal that stopped the run early, if one did; every sandbox and cgroup is removed
    /// all the same, and the summary covers the invocations that ended before it.
    pub interrupted: Option<i32>,
}

impl RealResult {
    /// The error a run stopped by a signal ends with (exit code 128 + the signal, as a shell
    /// reports a process the signal killed), if it was, or by a fault of the host (exit 3).
    pub fn interruption(&self) -> Option<Error> {
        if let Some(fault) = &self.drive.fault {
            return Some(Error::Host(format!(
                "{fault}; the run stopped: every sandbox and cgroup of the run was removed; the summary covers what ended before it"
            )));
        }
        self.interrupted.map(|signal| {
            Error::Interrupted(
                format!(
                    "interrupted by {}: every sandbox and cgroup of the run was removed; the summary covers what ended before it",
                    signal_name(signal)
                ),
                signal,
            )
        })
    }
}

/// `workload` as real mode runs it: arrivals divided by `time_scale`, execution and
/// initialization times by `duration_scale`.
pub fn scale_workload(workload: Workload, time_scale: f64, duration_scale: f64) -> Workload {
    let mut catalog = workload.catalog;
    for f in &mut catalog.functions {
        f.init = f.init.map(|us| (us as f64 / duration_scale).round() as u64);
    }
    let invocations = workload.invocations.map(move |r| {
        r.map(|mut inv| {
            inv.arrival = (inv.arrival as f64 / time_scale).round() as u64;
            inv.duration = (inv.duration as f64 / duration_scale).round() as u64;
            inv
        })
    });
    Workload {
        catalog,
        invocations: Box::new(invocations),
    }
}

/// The backend's settings for `scenario`, with each worker limited to its cores when the
/// scenario models CPU, and a description of that limit for the run's heading.
fn worker_cpu(scenario: &Scenario, config: &RealConfig) -> (RealConfig, String) {
    let cores = scenario.controller.workers.first().map_or(0, |w| w.cores);
    let workers = scenario.controller.workers.len() as u64;
    if scenario.cpu == sim::CpuModel::Ignored {
        return (
            config.clone(),
            "workers' CPU unlimited (cpu ignored)".into(),
        );
    }
    let host = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let total = workers * u64::from(cores);
    let mut text = format!(
        "workers limited to {cores} core{} each (CFS bandwidth)",
        if cores == 1 { "" } else { "s" }
    );
    if total > host {
        text.push_str(&format!(
            "; their {total} cores exceed this host's {host} CPUs, so they also compete"
        ));
    }
    let config = RealConfig {
        worker_cores: Some(f64::from(cores)),
        ..config.clone()
    };
    (config, text)
}

/// Ends a real run once its driver returned `driven`: the records written out, then every
/// sandbox and cgroup removed (also when the driver failed); the driver's stats.
fn end_run(
    csv: Option<CsvRecords<&mut dyn Write>>,
    backend: &mut RealBackend,
    driven: Result<DriveStats, real::driver::DriveError>,
) -> Result<DriveStats, Error> {
    let written = csv.map_or(Ok(()), |csv| {
        csv.finish()
            .map(|_| ())
            .map_err(|e| Error::Output(format!("cannot write records: {e}")))
    });
    let finished = backend.finish();
    let stats = driven.map_err(|e| Error::Input(e.to_string()))?;
    finished.map_err(|e| Error::Host(format!("cleaning up: {e}")))?;
    written?;
    Ok(stats)
}

/// This host made ready for a real run: its backend, and what the run's heading says of it.
struct Host {
    backend: RealBackend,
    /// The cgroup layout: v1 or v2.
    cgroups: &'static str,
    /// Cheap cgroup migrations; held until the run's end (dropped after the backend finished).
    favor: real::dynmods::Favor,
    /// How the workers' CPUs are limited.
    cpu: String,
}

/// Finds the host's cgroups, makes this process the reaper of its sandboxes and the handler of
/// Ctrl-C, and sets up the backend for `scenario`'s workers with `config` and `packages`.
fn set_up_host(
    scenario: &Scenario,
    config: RealConfig,
    packages: &workloads::packages::PackageCatalog,
) -> Result<Host, Error> {
    let host = |e: &dyn std::fmt::Display| {
        Error::Host(format!(
            "real mode needs root (or a delegated cgroup subtree) and cgroup v1 (memory, cpu, pids, freezer) or v2 with the memory controller: {e}"
        ))
    };
    let fs: Arc<dyn real::cgroup::CgroupFs> =
        Arc::from(real::cgroup::detect().map_err(|e| host(&e))?);
    let cgroups = fs.kind();
    real::spawn::become_reaper().map_err(|e| host(&e))?;
    stop_on_signals().map_err(|e| host(&e))?;
    let favor = real::dynmods::favor(config.favor_dynmods);
    let workers: Vec<u64> = scenario
        .controller
        .workers
        .iter()
        .map(|w| w.memory_mb)
        .collect();
    let (config, cpu) = worker_cpu(scenario, &config);
    let backend = RealBackend::new(fs, config, &workers, packages).map_err(|e| host(&e))?;
    Ok(Host {
        backend,
        cgroups,
        favor,
        cpu,
    })
}

/// An error unless the time and duration scales (see [`scale_workload`]) are positive numbers.
pub fn check_scales(time_scale: f64, duration_scale: f64) -> Result<(), Error> {
    for (flag, v) in [
        ("--time-scale", time_scale),
        ("--duration-scale", duration_scale),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::Input(format!(
                "{flag} must be a positive number, got {v}"
            )));
        }
    }
    Ok(())
}

/// Runs `scenario` on this host; writes per-invocation records to `records` and reports
/// everything to `extra` too, if given.
pub fn run_real(
    scenario: &Scenario,
    options: &RealOptions,
    records: Option<&mut dyn Write>,
    extra: Option<&mut dyn RecordSink>,
) -> Result<RealResult, Error> {
    check_scales(options.time_scale, options.duration_scale)?;
    if scenario.controller.concurrency != 1 {
        return Err(Error::Input(format!(
            "cluster.concurrency must be 1 in real mode (a runner runs one invocation at a time), got {}",
            scenario.controller.concurrency
        )));
    }
    let (workload, _trace) = load_workload(scenario)?;
    let workload = scale_workload(workload, options.time_scale, options.duration_scale);
    if workload
        .catalog
        .functions
        .iter()
        .any(|f| f.concurrency.is_some_and(|c| c > 1))
    {
        return Err(Error::Input(
            "a function of the workload has a concurrency above 1, which real mode cannot run"
                .into(),
        ));
    }
    let invocations = workload.invocations;
    let catalog = workload.catalog;
    let mut controller = build_controller(scenario, catalog)?;

    let Host {
        mut backend,
        cgroups: kind,
        favor,
        cpu,
    } = set_up_host(
        scenario,
        options.backend.clone(),
        &controller.catalog().packages,
    )?;

    let mut metrics = Metrics::new();
    let mut csv = records.map(CsvRecords::new);
    let sampler = Sampler::start();
    let driven = drive(
        &mut controller,
        &mut backend,
        invocations,
        &mut Tee(&mut metrics, Tee(csv.as_mut(), extra)),
        &STOP,
    );
    let host = sampler.finish();
    let stats = end_run(csv, &mut backend, driven)?;
    let signal = STOP.load(Ordering::SeqCst);
    let mut summary = metrics.summary();
    let interrupted = (stats.stopped || signal != 0).then_some(signal);
    summary.interrupted = match &stats.fault {
        Some(fault) => Some(format!("a fault of the host ({fault})")),
        None => interrupted.map(signal_name),
    };
    Ok(RealResult {
        summary,
        metrics,
        drive: stats,
        host,
        favor: favor.describe(),
        cpu,
        cgroups: kind,
        interrupted,
    })
}

/// How to serve users' functions for real.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Address to listen on, such as `127.0.0.1:5000` (port 0: any free port).
    pub listen: String,
    pub registry: real::functions::FunctionRegistry,
    /// The Python interpreter that runs the handlers.
    pub python: std::path::PathBuf,
    /// Memory of every function's sandboxes, in MB (the registry gives none).
    pub memory_mb: u32,
    /// Where the functions' packages come from; needed when one has a `requirements.txt`.
    pub packages: Option<real::pip::PackageSource>,
    pub limits: real::serve::ServerLimits,
    pub backend: RealConfig,
    /// Where to write the native trace of what was served (see
    /// [`crate::validate::ServedWorkload`]), if anywhere.
    pub trace: Option<std::path::PathBuf>,
}

/// The registry's packages, each installed once and imported once on this host to measure what
/// it costs (the controller's package model works with these costs), an unpinned one pinned to
/// the version pip chose. In the registry's order of requirements (sorted, each once).
pub fn measure_packages(
    registry: &real::functions::FunctionRegistry,
    python: &std::path::Path,
    source: Option<&real::pip::PackageSource>,
    staging: &std::path::Path,
) -> Result<Vec<(workloads::packages::Package, real::python::PythonPackage)>, Error> {
    let mut wanted: Vec<&real::functions::Requirement> = registry
        .functions
        .iter()
        .flat_map(|f| &f.requirements)
        .collect();
    wanted.sort();
    wanted.dedup();
    let Some(first) = registry
        .functions
        .iter()
        .find(|f| !f.requirements.is_empty())
    else {
        return Ok(Vec::new());
    };
    let Some(source) = source else {
        return Err(Error::Input(format!(
            "{}: function {} needs packages; give --wheels DIR (a directory of wheels) or \
             --index-url URL (a package index) to install them from",
            first
                .handler
                .with_file_name(real::functions::REQUIREMENTS_FILE)
                .display(),
            first.name
        )));
    };
    let mut out = Vec::new();
    for (i, r) in wanted.iter().enumerate() {
        let target = staging.join(format!("p{i}"));
        let m = real::pip::measure(python, source, &r.to_string(), &r.name, &target)
            .map_err(Error::Input)?;
        let version = match &r.version {
            Some(v) => v.clone(),
            None => real::pip::installed_version(&target, &r.name).ok_or_else(|| {
                Error::Input(format!(
                    "pip installed {} but no version of it shows",
                    r.name
                ))
            })?,
        };
        let popularity = registry
            .functions
            .iter()
            .filter(|f| f.requirements.iter().any(|q| q.name == r.name))
            .count() as f64;
        out.push((
            workloads::packages::Package {
                name: r.name.clone(),
                version: version.clone(),
                deps: Vec::new(),
                install_ms: m.install_ms,
                disk_bytes: m.disk_bytes,
                import_ms: m.import_ms,
                import_mb: m.import_mb,
                popularity,
            },
            real::python::PythonPackage {
                requirement: format!("{}=={version}", r.name),
                modules: m.modules,
            },
        ));
    }
    Ok(out)
}

/// The workload catalogue of a registry: its functions in order, each its own app, each of
/// `memory_mb`, with the `packages` that [`measure_packages`] gave.
pub fn registry_catalog(
    registry: &real::functions::FunctionRegistry,
    memory_mb: u32,
    packages: &[(workloads::packages::Package, real::python::PythonPackage)],
) -> Result<workloads::Catalog, Error> {
    if memory_mb == 0 {
        return Err(Error::Input(
            "--function-memory-mb must be at least 1".into(),
        ));
    }
    Ok(workloads::Catalog {
        functions: registry
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| workloads::Function {
                name: f.name.clone(),
                app: workloads::AppId(i as u32),
                memory_mb: f.memory_mb.unwrap_or(memory_mb),
                concurrency: None,
                init: None,
                packages: {
                    let mut ids: Vec<workloads::packages::PackageId> = f
                        .requirements
                        .iter()
                        .filter_map(|r| packages.iter().position(|(p, _)| p.name == r.name))
                        .map(|i| workloads::packages::PackageId(i as u32))
                        .collect();
                    ids.sort();
                    ids
                },
            })
            .collect(),
        apps: registry
            .functions
            .iter()
            .map(|f| workloads::App {
                name: f.name.clone(),
            })
            .collect(),
        packages: workloads::packages::PackageCatalog {
            packages: packages.iter().map(|(p, _)| p.clone()).collect(),
        },
    })
}

/// Serves the registry's functions over HTTP with `scenario`'s cluster and policies until a
/// signal (Ctrl-C, SIGTERM, SIGHUP) stops it; `listening` learns the address once requests are
/// taken. Writes per-invocation records to `records`. A signal is the normal end here: the
/// result's `interrupted` is `None` unless a fault of the host stopped it.
pub fn run_serve(
    scenario: &Scenario,
    options: &ServeOptions,
    records: Option<&mut dyn Write>,
    listening: &mut dyn FnMut(std::net::SocketAddr),
) -> Result<RealResult, Error> {
    if scenario.controller.concurrency != 1 {
        return Err(Error::Input(format!(
            "cluster.concurrency must be 1 in real mode (a runner runs one invocation at a time), got {}",
            scenario.controller.concurrency
        )));
    }
    let staging = std::env::temp_dir().join(format!(
        "lambdasim-serve-staging-{}",
        real::run_id::this_process()
    ));
    let measured = measure_packages(
        &options.registry,
        &options.python,
        options.packages.as_ref(),
        &staging,
    );
    let _ = std::fs::remove_dir_all(&staging);
    let measured = measured?;
    let catalog = registry_catalog(&options.registry, options.memory_mb, &measured)?;
    let names: std::collections::HashMap<String, workloads::FunctionId> = catalog
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), workloads::FunctionId(i as u32)))
        .collect();
    let mut handlers = real::python::PythonHandlers::new(
        options.python.clone(),
        options
            .registry
            .functions
            .iter()
            .map(|f| f.handler.clone())
            .collect(),
    );
    if let Some(source) = &options.packages {
        handlers = handlers.with_packages(
            source.clone(),
            measured.into_iter().map(|(_, p)| p).collect(),
        );
    }
    let handlers = Arc::new(handlers);
    let mut controller = build_controller(scenario, catalog)?;
    let config = RealConfig {
        runtime: real::Runtime::Python(handlers.clone()),
        ..options.backend.clone()
    };
    let Host {
        mut backend,
        cgroups: kind,
        favor,
        cpu,
    } = set_up_host(scenario, config, &controller.catalog().packages)?;
    let (work, requests) = std::sync::mpsc::channel();
    let server = real::serve::Server::start(
        &options.listen,
        names,
        work,
        backend.waker(),
        options.limits.clone(),
    );
    let mut server = match server {
        Ok(s) => s,
        Err(e) => {
            let _ = backend.finish();
            return Err(Error::Host(e.to_string()));
        }
    };
    listening(server.addr());

    let mut metrics = Metrics::new();
    let mut csv = records.map(CsvRecords::new);
    let mut served = options
        .trace
        .as_ref()
        .map(|_| crate::validate::ServedWorkload::default());
    let sampler = Sampler::start();
    let driven = {
        let mut sink = Tee(&mut metrics, Tee(csv.as_mut(), served.as_mut()));
        let mut stats = |s: &Tee<&mut Metrics, _>| analysis::to_json(&s.0.summary()).into_bytes();
        real::serve::serve(
            &mut controller,
            &mut backend,
            &handlers,
            &requests,
            &mut sink,
            &mut stats,
            &STOP,
        )
    };
    server.close();
    drop(requests);
    let host_load = sampler.finish();
    let stats = end_run(csv, &mut backend, driven)?;
    if let (Some(served), Some(dir)) = (served, &options.trace) {
        served.write(dir).map_err(Error::Output)?;
    }
    let mut summary = metrics.summary();
    summary.interrupted = stats
        .fault
        .as_ref()
        .map(|fault| format!("a fault of the host ({fault})"));
    Ok(RealResult {
        summary,
        metrics,
        drive: stats,
        host: host_load,
        favor: favor.describe(),
        cpu,
        cgroups: kind,
        interrupted: None,
    })
}
