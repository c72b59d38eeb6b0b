//! Measurements through the real backend itself, with a run's own settings: what the controller
//! sees when it drives [`RealBackend`] (its sandbox threads, scratch directories, private views,
//! memory filling and package store), rather than the bare primitives [`crate::measure`] times.
//!
//! Sandboxes are created one at a time, alternately with a small and a large memory size, so
//! that the cost of filling memory can be told from the rest; each runs a few short invocations,
//! each after a short idle time, and is destroyed. Then as many sandboxes are forked from one
//! zygote, one at a time. Then packages are installed and imported, one per sandbox: small ones,
//! large ones, and small ones that fill memory as they import.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sim::WorkerId;
use sim::backend::{Backend, Completion, CreateRequest, InvocationHandle, ZygoteId, ZygoteSpawn};
use sim::platform::SandboxId;
use workloads::packages::{Package, PackageCatalog, PackageId};
use workloads::{FunctionId, Time};

use crate::backend::{RealBackend, RealConfig};
use crate::cgroup::CgroupFs;
use crate::measure::Series;

/// Memory sizes of the probed sandboxes, in MB before the memory scale.
pub const SMALL_MB: u32 = 128;
pub const LARGE_MB: u32 = 2048;
/// File sizes of the probed packages, in MB of the catalogue (before the disk scale).
pub const SMALL_PACKAGE_MB: u64 = 10;
pub const LARGE_PACKAGE_MB: u64 = 200;
/// Import memory of the probed packages that fill memory, in MB of the catalogue (before the
/// import memory scale); the others fill none.
pub const PACKAGE_MEMORY_MB: f64 = 64.0;
/// Duration of the invocations that measure the dispatch overhead, in µs.
pub const PROBE_RUN_US: Time = 2_000;
/// Invocations per sandbox.
const RUNS: usize = 4;
/// Idle time before each of them.
const IDLE: Duration = Duration::from_millis(10);

/// What the probe measured, in µs.
#[derive(Debug, Default)]
pub struct Probe {
    /// From the create command to the sandbox's readiness, less its initialization.
    pub create: Series,
    /// The same for a sandbox forked from a ready zygote (that imported nothing).
    pub create_forked: Series,
    /// Initialization (filling memory) of small and large sandboxes.
    pub init_small: Series,
    pub init_large: Series,
    /// From the start of an invocation to its end as the driver sees it, less its duration.
    pub dispatch: Series,
    /// Installing and importing small and large packages.
    pub install_small: Series,
    pub install_large: Series,
    pub import_small: Series,
    pub import_large: Series,
    /// Importing a small package that fills [`PACKAGE_MEMORY_MB`] of memory.
    pub import_memory: Series,
}

/// Package `i` of the probe: in turn small, large, and small filling memory; none takes CPU
/// time to import.
fn probe_package(i: usize) -> Package {
    let (mb, import_mb) = match i % 3 {
        0 => (SMALL_PACKAGE_MB, 0.0),
        1 => (LARGE_PACKAGE_MB, 0.0),
        _ => (SMALL_PACKAGE_MB, PACKAGE_MEMORY_MB),
    };
    Package {
        name: format!("probe-{i}"),
        version: "1".into(),
        deps: Vec::new(),
        install_ms: 0.0,
        disk_bytes: mb << 20,
        import_ms: 0.0,
        import_mb,
        popularity: 1.0,
    }
}

/// Runs `trials` sandboxes (and at most 60 package installs and imports) through a
/// [`RealBackend`] with `config`, on one worker; removes everything it made.
///
/// With the Python runtime, sandboxes run its handler for function 0 and packages are not
/// probed: `real serve` installs and imports each package of its registry with pip at its start
/// and measures them there.
pub fn probe(fs: Arc<dyn CgroupFs>, config: RealConfig, trials: usize) -> Result<Probe, String> {
    let packages = match config.runtime {
        crate::Runtime::Synthetic => trials.clamp(3, 60),
        crate::Runtime::Python(_) => 0,
    };
    let catalog = PackageCatalog {
        packages: (0..packages).map(probe_package).collect(),
    };
    // A worker large enough that its own limit never binds.
    let worker_mb = u64::from(LARGE_MB) * 8;
    let mut backend = RealBackend::new(fs, config, &[worker_mb], &catalog)
        .map_err(|e| format!("setting up the real backend: {e}"))?;
    let result = run(&mut backend, trials, packages);
    let finished = backend
        .finish()
        .map_err(|e| format!("cleaning up the real backend: {e}"));
    let probe = result?;
    finished?;
    Ok(probe)
}

/// The next completion, which must come within a minute.
fn next(backend: &mut RealBackend) -> Result<Completion, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no answer from a sandbox within a minute".into());
        }
        match backend.recv(left) {
            Some(Completion::SandboxFailed { sandbox, reason }) => {
                return Err(format!(
                    "sandbox {} failed ({}); is its memory within the host's?",
                    sandbox.0,
                    reason.as_str()
                ));
            }
            Some(c) => return Ok(c),
            None => {}
        }
    }
}

/// Creates sandbox `id` and waits until it is ready: (wall time, install, import, init).
fn create(
    backend: &mut RealBackend,
    id: u32,
    request: &CreateRequest,
) -> Result<(Time, Time, Time, Time), String> {
    let t = backend.now();
    backend.create_sandbox(t, SandboxId(id), request);
    match next(backend)? {
        Completion::SandboxReady {
            install,
            import,
            init,
            ..
        } => Ok((backend.now() - t, install, import, init)),
        other => Err(format!("expected a ready sandbox, got {other:?}")),
    }
}

fn run(backend: &mut RealBackend, trials: usize, packages: usize) -> Result<Probe, String> {
    let mut p = Probe {
        create: Series::new("create", "sandbox create, through the backend"),
        create_forked: Series::new(
            "create_forked",
            "sandbox forked from a zygote, through the backend",
        ),
        init_small: Series::new("init_small", "initialization, small sandbox"),
        init_large: Series::new("init_large", "initialization, large sandbox"),
        dispatch: Series::new("dispatch", "invocation overhead, through the backend"),
        install_small: Series::new("install_small", "package install, small package"),
        install_large: Series::new("install_large", "package install, large package"),
        import_small: Series::new("import_small", "package import, small package"),
        import_large: Series::new("import_large", "package import, large package"),
        import_memory: Series::new(
            "import_memory",
            "package import, small package filling memory",
        ),
    };
    let mut id = 0;
    for i in 0..trials.max(2) {
        let large = i % 2 == 1;
        let mb = if large { LARGE_MB } else { SMALL_MB };
        let request = CreateRequest::plain(FunctionId(0), WorkerId(0), mb, Some(0));
        let (wall, _, _, init) = create(backend, id, &request)?;
        p.create.micros.push(wall.saturating_sub(init));
        if large {
            p.init_large.micros.push(init);
        } else {
            p.init_small.micros.push(init);
        }
        for r in 0..RUNS {
            // Invocations of a replayed trace come apart, not back to back: the host idles in
            // between, and waking from that is part of what each one costs.
            std::thread::sleep(IDLE);
            let t = backend.now();
            backend.start_invocation(t, SandboxId(id), InvocationHandle(r as u32), PROBE_RUN_US);
            match next(backend)? {
                Completion::InvocationDone { .. } => {
                    p.dispatch
                        .micros
                        .push((backend.now() - t).saturating_sub(PROBE_RUN_US));
                }
                other => return Err(format!("expected an invocation's end, got {other:?}")),
            }
        }
        backend.destroy(backend.now(), SandboxId(id));
        id += 1;
    }
    // Sandboxes forked from one zygote, started fresh by the first of them (not counted).
    let spawn = [ZygoteSpawn {
        zygote: ZygoteId(0),
        parent: None,
        import: Vec::new(),
    }];
    for i in 0..=trials.max(2) {
        let request = CreateRequest {
            spawn: if i == 0 { &spawn } else { &[] },
            fork: Some(ZygoteId(0)),
            ..CreateRequest::plain(FunctionId(0), WorkerId(0), SMALL_MB, Some(0))
        };
        let (wall, _, import, init) = create(backend, id, &request)?;
        if i > 0 {
            p.create_forked
                .micros
                .push(wall.saturating_sub(import + init));
        }
        backend.destroy(backend.now(), SandboxId(id));
        id += 1;
    }
    backend.destroy_zygote(backend.now(), WorkerId(0), ZygoteId(0));
    for i in 0..packages {
        let package = [PackageId(i as u32)];
        let request = CreateRequest {
            install: &package,
            import: &package,
            ..CreateRequest::plain(FunctionId(0), WorkerId(0), SMALL_MB, None)
        };
        let (_, install, import, _) = create(backend, id, &request)?;
        match i % 3 {
            0 => {
                p.install_small.micros.push(install);
                p.import_small.micros.push(import);
            }
            1 => {
                p.install_large.micros.push(install);
                p.import_large.micros.push(import);
            }
            _ => p.import_memory.micros.push(import),
        }
        backend.destroy(backend.now(), SandboxId(id));
        id += 1;
    }
    Ok(p)
}

impl Probe {
    /// Every series, in the order of the table.
    pub fn series(&self) -> [&Series; 10] {
        let [a, b, c, d, e] = self.sandbox_series();
        let [f, g, h, i, j] = self.package_series();
        [a, b, c, d, e, f, g, h, i, j]
    }

    /// The sandboxes' series: creation, initialization and dispatch.
    pub fn sandbox_series(&self) -> [&Series; 5] {
        [
            &self.create,
            &self.create_forked,
            &self.init_small,
            &self.init_large,
            &self.dispatch,
        ]
    }

    /// The packages' series, empty when packages were not probed (the Python runtime).
    pub fn package_series(&self) -> [&Series; 5] {
        [
            &self.install_small,
            &self.install_large,
            &self.import_small,
            &self.import_large,
            &self.import_memory,
        ]
    }
}

/// The probe's measurements as a table.
pub fn render(probe: &Probe) -> String {
    format!(
        "\nthrough the real backend: sandboxes of {SMALL_MB} and {LARGE_MB} MB, packages of \
         {SMALL_PACKAGE_MB} and {LARGE_PACKAGE_MB} MB (and {PACKAGE_MEMORY_MB} MB of import memory)\n\n{}",
        // (The Python runtime's packages are not probed.)
        crate::measure::table(
            &probe
                .series()
                .into_iter()
                .filter(|s| !s.micros.is_empty())
                .collect::<Vec<_>>()
        )
    )
}
