//! The real backend: each sandbox is a runner process in a cgroup of its own (taken from its
//! worker's pool) and in new namespaces; each worker has a cgroup holding its sandboxes', an
//! install directory, and zygotes that sandboxes fork from.
//!
//! The controller calls the [`Backend`] methods from the driver's thread and they return at once:
//! every sandbox has a thread of its own that carries out its commands in order (create, run,
//! pause, unpause, destroy) and reports completions, with the time each phase took, through a
//! channel the driver reads. Destroying a sandbox kills its process at once, even in the middle of
//! an invocation; its thread then gives its cgroup back. Completions of a sandbox destroyed since
//! are dropped (sandbox ids are reused, so each carries its sandbox's epoch).
//!
//! Everything the backend makes lives under the cgroup `lambdasim/<pid>` (`<pid>.<n>` for a later
//! backend of the same process) and the work directory;
//! [`RealBackend::finish`] (or dropping the backend, also when unwinding from a panic) kills and
//! removes all of it.

use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sim::WorkerId;
use sim::backend::{Backend, Completion, CreateRequest, InvocationHandle, Timer, ZygoteId};
use sim::platform::SandboxId;
use sim::record::FailReason;
use workloads::Time;
use workloads::packages::{PackageCatalog, PackageId};

use crate::cgroup::{CgroupError, CgroupFs, CpuQuota, Limits, Pool, remove_tree};
use crate::channel::Channel;
use crate::confine::{SANDBOX_GID, SANDBOX_UID};
use crate::python::PythonHandlers;
use crate::run_id::RunLock;
use crate::runner::View;
use crate::spawn::{Namespaces, fork_from_zygote, spawn_runner};
use crate::store::{InstallDir, Registry};

/// How an invocation spends its duration in the runner, and a sandbox its initialization and
/// import CPU times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecMode {
    /// Spinning on a core.
    #[default]
    Busy,
    /// Sleeping.
    Sleep,
}

impl ExecMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecMode::Busy => "busy",
            ExecMode::Sleep => "sleep",
        }
    }
}

/// What runs in the sandboxes.
#[derive(Clone, Debug, Default)]
pub enum Runtime {
    /// lambdasim's own runner: an invocation spins or sleeps for its duration.
    #[default]
    Synthetic,
    /// Users' Python handlers (see [`crate::python`]): a sandbox's runner becomes the Python
    /// runtime, loads its function's `f.py` as its initialization, and calls `f` with each
    /// invocation's body; the result waits in [`PythonHandlers`] for whoever asked.
    Python(Arc<PythonHandlers>),
}

impl Runtime {
    /// `synthetic` or `python`, as a cost profile's `[calibration]` table names it.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Synthetic => "synthetic",
            Runtime::Python(_) => "python",
        }
    }
}

/// The real backend's settings.
#[derive(Clone, Debug)]
pub struct RealConfig {
    /// The `lambdasim` executable, started as `lambdasim real-runner` in each sandbox.
    pub runner: PathBuf,
    /// Where the package registry and the workers' install directories go.
    pub work_dir: PathBuf,
    /// A sandbox's memory limit is its memory times this, plus `overhead_mb`.
    pub memory_scale: f64,
    /// Memory of the runner process itself, added to every limit, in MB.
    pub overhead_mb: u64,
    /// Share of its sandbox's (scaled) memory a sandbox fills when its handler initializes, and
    /// holds from then on.
    pub touch_fraction: f64,
    /// CPU limit of a sandbox in cores (`None`: none); at most the worker's.
    pub cpu_cores: Option<f64>,
    /// CPU limit of each worker in cores, shared by its sandboxes (`None`: none): the worker's
    /// cgroup gets a CFS bandwidth quota of this many cores per [`WORKER_CPU_PERIOD_US`], so a
    /// worker runs as many invocations at once as the simulator's CPU model lets it, however
    /// many CPUs the host has. Real mode sets it from the scenario's cores when the scenario
    /// models CPU (`cpu = "shared"` or `"isolated"`).
    pub worker_cores: Option<f64>,
    /// Processes a sandbox may have.
    pub pids: u64,
    /// Child cgroups each worker keeps ready.
    pub pool: usize,
    pub mode: ExecMode,
    /// Give sandboxes a network namespace.
    pub net: bool,
    /// Confine sandboxes (see [`crate::confine`]): a read-only view of the host's root with only
    /// their scratch directory writable, an unprivileged user without capabilities,
    /// `no_new_privs`, a seccomp filter and a cgroup namespace. Zygotes keep the privileges
    /// they need to make sandboxes; they run the platform's imports only, no handler.
    pub confine: bool,
    /// Package files on disk are the catalogue's sizes times this.
    pub disk_scale: f64,
    /// Import memory and import CPU time are the catalogue's times these.
    pub import_memory_scale: f64,
    pub import_cpu_scale: f64,
    /// How long past its expected end (its duration, stretched by the CPU limit) an invocation
    /// may go unanswered before its sandbox is killed and it fails as `timeout`.
    pub invocation_timeout: Duration,
    /// Make cgroup migrations cheap while the run lasts (see [`crate::dynmods`]).
    pub favor_dynmods: bool,
    pub runtime: Runtime,
}

/// The CFS bandwidth period of a worker's CPU limit, in µs: short, so that the kernel shares a
/// worker's cores among its sandboxes in steps of milliseconds (as processor sharing does),
/// rather than letting them all run for part of a long period and then stopping them all.
pub const WORKER_CPU_PERIOD_US: u64 = 10_000;

/// How often the run's cgroups are looked at.
const FAULT_CHECK: Duration = Duration::from_millis(250);

/// How often a sandbox's thread looks whether its idle runner died.
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// The most a sandbox's memory may be scaled by, or filled: more is a typo, not an experiment.
const MAX_SCALE: f64 = 1_000.0;

impl RealConfig {
    /// Checks the values a user sets; the message names the command-line flag, the value and
    /// what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let range = |flag: &str, v: f64, zero_ok: bool| {
            let low_ok = if zero_ok { v >= 0.0 } else { v > 0.0 };
            if v.is_finite() && low_ok && v <= MAX_SCALE {
                Ok(())
            } else {
                Err(format!(
                    "{flag} must be a number {} and at most {MAX_SCALE}, got {v}",
                    if zero_ok { "of at least 0" } else { "above 0" }
                ))
            }
        };
        range("--memory-scale", self.memory_scale, false)?;
        range("--touch", self.touch_fraction, true)?;
        range("--disk-scale", self.disk_scale, false)?;
        if let Some(cores) = self.cpu_cores {
            // A CFS quota below 1 ms per 100 ms period is refused by the kernel.
            if !(cores.is_finite() && (0.01..=1_000_000.0).contains(&cores)) {
                return Err(format!(
                    "--cpu-limit must be a number of cores from 0.01 to 1000000, got {cores}"
                ));
            }
        }
        if let Some(cores) = self.worker_cores {
            // The kernel's least quota is 1 ms, a tenth of the worker's period.
            if !(cores.is_finite() && (0.1..=1_000_000.0).contains(&cores)) {
                return Err(format!(
                    "a worker's cores must be a number from 0.1 to 1000000 in real mode, got {cores}"
                ));
            }
        }
        if self.invocation_timeout.is_zero() {
            return Err("--invocation-timeout must be longer than 0s".to_string());
        }
        if self.pool > 1_000_000 {
            return Err(format!(
                "--pool must be at most 1000000 cgroups per worker, got {}",
                self.pool
            ));
        }
        Ok(())
    }
}

impl Default for RealConfig {
    fn default() -> Self {
        RealConfig {
            runner: PathBuf::from("lambdasim"),
            work_dir: std::env::temp_dir()
                .join(format!("lambdasim-real-{}", crate::run_id::this_process())),
            memory_scale: 1.0 / 16.0,
            overhead_mb: 64,
            touch_fraction: 0.5,
            cpu_cores: None,
            worker_cores: None,
            pids: 64,
            pool: 8,
            mode: ExecMode::Busy,
            net: false,
            confine: true,
            disk_scale: 0.01,
            import_memory_scale: 1.0,
            import_cpu_scale: 1.0,
            invocation_timeout: Duration::from_secs(60),
            favor_dynmods: true,
            runtime: Runtime::Synthetic,
        }
    }
}

/// What went wrong setting the backend up.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("{0}")]
    Setup(String),
}

/// A zygote of a worker: a runner that imported packages and forks sandboxes.
#[derive(Default)]
struct Zygote {
    state: Mutex<ZygoteState>,
    /// Signalled when the zygote is ready (or failed) and when a pending use ends.
    ready: Condvar,
    /// Sandboxes asked to fork from it (or to create it) that have not done so yet: it is
    /// destroyed only after them.
    pending: std::sync::atomic::AtomicU32,
}

impl Zygote {
    /// Ends one pending use.
    fn release(&self) {
        let guard = self.state.lock();
        self.pending.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        self.ready.notify_all();
    }
}

#[derive(Default)]
enum ZygoteState {
    #[default]
    Creating,
    Ready {
        channel: Channel,
        group: String,
    },
    Failed,
}

/// State shared by the driver and the sandbox threads.
struct Shared {
    fs: Arc<dyn CgroupFs>,
    config: RealConfig,
    start: Instant,
    /// `lambdasim/<pid>`.
    run_group: String,
    pools: Vec<Mutex<Pool>>,
    registry: Option<Registry>,
    installs: Vec<InstallDir>,
    catalog: PackageCatalog,
    /// Per worker and zygote slot; a slot is reused once its zygote is destroyed.
    zygotes: Mutex<HashMap<(u32, u32), Arc<Zygote>>>,
    /// A fault of the host that ends the run (its cgroups vanished), once seen.
    fault: Mutex<Option<String>>,
    /// Installs (worker, package) that failed: a sandbox waiting for one tries it itself.
    failed_installs: Mutex<std::collections::HashSet<(u32, PackageId)>>,
}

impl Shared {
    fn now(&self) -> Time {
        self.start.elapsed().as_micros() as Time
    }

    fn sandbox_limits(&self, memory_mb: u32) -> Limits {
        let mb = (f64::from(memory_mb) * self.config.memory_scale).ceil() as u64
            + self.config.overhead_mb;
        self.limits(mb)
    }

    fn limits(&self, mb: u64) -> Limits {
        Limits {
            memory_bytes: Some(mb << 20),
            // cgroup v1 refuses a child a larger share of a CPU than its parent has.
            cpu: self.config.cpu_cores.map(|cores| CpuQuota {
                quota_us: (cores.min(self.config.worker_cores.unwrap_or(f64::INFINITY)) * 100_000.0)
                    .round()
                    .max(1000.0) as u64,
                period_us: 100_000,
            }),
            pids: Some(self.config.pids),
        }
    }

    fn take_group(&self, worker: u32, limits: &Limits) -> Result<(String, bool), String> {
        let mut pool = self.pools[worker as usize]
            .lock()
            .map_err(|_| "a cgroup pool is poisoned".to_string())?;
        pool.take(limits).map_err(|e| {
            if matches!(e, CgroupError::Vanished(_)) {
                self.set_fault(e.to_string());
            }
            e.to_string()
        })
    }

    fn set_fault(&self, fault: String) {
        if let Ok(mut f) = self.fault.lock() {
            f.get_or_insert(fault);
        }
    }

    fn give_back(&self, worker: u32, group: String) {
        if let Ok(mut pool) = self.pools[worker as usize].lock()
            && let Err(e) = pool.give_back(group)
        {
            crate::log!("lambdasim real: returning a cgroup: {e}");
        }
    }

    /// Has the runner on `channel` import `package` from the worker's install directory: the
    /// synthetic import, or the Python modules for real.
    fn import(&self, channel: &Channel, worker: u32, package: PackageId) -> Result<(), String> {
        if let Runtime::Python(h) = &self.config.runtime {
            let dir = self.installs[worker as usize].package_dir(self.catalog.package(package));
            crate::python::add_path(channel, &dir).map_err(|e| e.to_string())?;
            for module in h
                .packages
                .get(package.index())
                .map_or(&[][..], |p| &p.modules)
            {
                match crate::python::import(channel, module).map_err(|e| e.to_string())? {
                    crate::python::Answer::Done(_) => {}
                    crate::python::Answer::Refused(why) => return Err(why),
                }
            }
            return Ok(());
        }
        channel
            .send(&self.import_command(worker, package))
            .map_err(|e| e.to_string())?;
        channel.expect("ok").map(|_| ()).map_err(|e| e.to_string())
    }

    fn import_command(&self, worker: u32, package: PackageId) -> String {
        let p = self.catalog.package(package);
        let dir = self.installs[worker as usize].package_dir(p);
        format!(
            "import\t{}\t{}\t{}\t{}",
            dir.display(),
            p.import_mb * self.config.import_memory_scale,
            p.import_ms * self.config.import_cpu_scale,
            self.config.mode.as_str()
        )
    }
}

/// Commands to a sandbox's thread.
enum Command {
    Create(OwnedRequest),
    Run {
        invocation: InvocationHandle,
        /// Its position in the input stream.
        id: u64,
        duration: Time,
    },
    Pause,
    Unpause,
    Destroy,
}

/// A [`CreateRequest`] the sandbox thread can own.
struct OwnedRequest {
    function: usize,
    worker: u32,
    memory_mb: u32,
    init: Option<Time>,
    install: Vec<PackageId>,
    installed: Vec<PackageId>,
    spawn: Vec<(u32, Option<u32>, Vec<PackageId>)>,
    fork: Option<u32>,
    import: Vec<PackageId>,
    /// The zygotes it creates or forks from, each with a pending use counted, so that none is
    /// destroyed before the sandbox is done with it.
    zygotes: Vec<(u32, Arc<Zygote>)>,
}

struct SandboxHandle {
    commands: Sender<Command>,
    /// Set when the controller destroys the sandbox, before its process is killed.
    killed: Arc<AtomicBool>,
    /// The runner's pid once known (0 before).
    pid: Arc<AtomicI32>,
    thread: Option<JoinHandle<()>>,
}

/// A completion tagged with the epoch of its sandbox.
type Tagged = (u32, Completion);

/// The epoch of a [`Waker`]'s message, which no sandbox reaches.
const WAKE: u32 = u32::MAX;

/// Wakes the driver up from [`RealBackend::recv`] (which then returns `None`), so that it can
/// look at work that comes from elsewhere, such as requests to a server.
#[derive(Clone, Debug)]
pub struct Waker(Sender<Tagged>);

impl Waker {
    pub fn wake(&self) {
        let _ = self.0.send((
            WAKE,
            Completion::Timer(Timer::Sandbox {
                sandbox: SandboxId(u32::MAX),
                generation: 0,
            }),
        ));
    }
}

/// The real data plane. See the module documentation.
pub struct RealBackend {
    shared: Arc<Shared>,
    sandboxes: Vec<Option<SandboxHandle>>,
    epochs: Vec<u32>,
    /// The id of the invocation each handle stands for (see [`Backend::track_invocation`]).
    ids: Vec<u64>,
    completions: Receiver<Tagged>,
    sender: Sender<Tagged>,
    timers: BinaryHeap<std::cmp::Reverse<(Time, u64)>>,
    timer_of: HashMap<u64, Timer>,
    next_timer: u64,
    finished: bool,
    /// Threads of destroyed sandboxes still cleaning up; joined before the run's cgroups go.
    detached: Vec<JoinHandle<()>>,
    /// Held while the run lives (see [`crate::run_id`]); released once everything is removed.
    lock: Option<RunLock>,
    /// When [`RealBackend::fault`] last looked at the run's cgroups.
    checked: Instant,
}

impl RealBackend {
    /// Sets up `workers` workers of `memory_mb` each: the run's cgroups (with pools of child
    /// cgroups), the package registry for `catalog` and the workers' install directories.
    pub fn new(
        fs: Arc<dyn CgroupFs>,
        config: RealConfig,
        workers: &[u64],
        catalog: &PackageCatalog,
    ) -> Result<Self, RealError> {
        crate::cgroup::check_privileges(fs.as_ref())?;
        if let Runtime::Python(h) = &config.runtime
            && !catalog.is_empty()
            && (h.source.is_none() || h.packages.len() != catalog.packages.len())
        {
            return Err(RealError::Setup(
                "the Python runtime needs a package source and each package's requirement".into(),
            ));
        }
        // `lambdasim/<run>`, or `lambdasim/<run>.<n>` for a later backend of the same process.
        static BACKENDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = BACKENDS.fetch_add(1, Ordering::SeqCst);
        let name = match n {
            0 => crate::run_id::this_process().to_string(),
            n => format!("{}.{n}", crate::run_id::this_process()),
        };
        let lock = RunLock::acquire(&name)
            .map_err(|e| RealError::Setup(format!("cannot take the run's lock: {e}")))?;
        let run_group = format!("lambdasim/{name}");
        fs.create(&run_group)?;
        let made_work_dir = !config.work_dir.exists();
        match Self::set_up(fs.clone(), config, workers, catalog, run_group.clone()) {
            Ok(mut backend) => {
                backend.lock = Some(lock);
                Ok(backend)
            }
            Err(e) => {
                // Undo what was made before the failure: no group or directory outlives it.
                let _ = remove_tree(fs.as_ref(), &run_group);
                let _ = fs.remove("lambdasim");
                if made_work_dir {
                    let _ = std::fs::remove_dir_all(&e.1);
                }
                Err(e.0)
            }
        }
    }

    /// The rest of [`RealBackend::new`] once the run's group exists; on failure, the error and
    /// the work directory, for the caller to undo.
    fn set_up(
        fs: Arc<dyn CgroupFs>,
        config: RealConfig,
        workers: &[u64],
        catalog: &PackageCatalog,
        run_group: String,
    ) -> Result<Self, (RealError, PathBuf)> {
        let work_dir = config.work_dir.clone();
        let undo = |e: RealError| (e, work_dir.clone());
        let mut pools = Vec::new();
        for (w, &memory_mb) in workers.iter().enumerate() {
            let parent = format!("{run_group}/w{w}");
            fs.create(&parent).map_err(|e| undo(e.into()))?;
            fs.set_limits(
                &parent,
                &Limits {
                    memory_bytes: Some(
                        ((memory_mb as f64 * config.memory_scale).ceil() as u64 + 256) << 20,
                    ),
                    cpu: config.worker_cores.map(|cores| CpuQuota {
                        quota_us: (cores * WORKER_CPU_PERIOD_US as f64).round() as u64,
                        period_us: WORKER_CPU_PERIOD_US,
                    }),
                    ..Limits::default()
                },
            )
            .map_err(|e| undo(e.into()))?;
            let mut pool = Pool::new(fs.clone(), parent, config.pool.max(1) * 4);
            pool.fill(config.pool).map_err(|e| undo(e.into()))?;
            pools.push(Mutex::new(pool));
        }
        let setup = |what: &str, e: &dyn std::fmt::Display| {
            undo(RealError::Setup(format!(
                "{what} in {}: {e}",
                config.work_dir.display()
            )))
        };
        std::fs::create_dir_all(&config.work_dir)
            .map_err(|e| setup("cannot create the work directory", &e))?;
        // The Python runtime installs users' packages with pip: no synthetic archives.
        let python = matches!(config.runtime, Runtime::Python(_));
        let registry = if catalog.is_empty() || python {
            None
        } else {
            Some(
                Registry::create(
                    &config.work_dir.join("registry"),
                    catalog,
                    config.disk_scale,
                )
                .map_err(|e| setup("cannot build the package registry", &e))?,
            )
        };
        std::fs::create_dir_all(config.work_dir.join("scratch"))
            .map_err(|e| setup("cannot create the scratch directory", &e))?;
        if config.confine {
            // One empty mount point serves every sandbox: each binds onto it in its own mount
            // namespace.
            std::fs::create_dir_all(config.work_dir.join("root"))
                .map_err(|e| setup("cannot create the root mount point", &e))?;
        }
        let installs = (0..workers.len())
            .map(|w| InstallDir::new(config.work_dir.join(format!("w{w}"))))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| setup("cannot create install directories", &e))?;
        let (sender, completions) = channel();
        Ok(RealBackend {
            shared: Arc::new(Shared {
                fs,
                config,
                start: Instant::now(),
                run_group,
                pools,
                registry,
                installs,
                catalog: catalog.clone(),
                zygotes: Mutex::new(HashMap::new()),
                fault: Mutex::new(None),
                failed_installs: Mutex::new(std::collections::HashSet::new()),
            }),
            sandboxes: Vec::new(),
            epochs: Vec::new(),
            ids: Vec::new(),
            completions,
            sender,
            timers: BinaryHeap::new(),
            timer_of: HashMap::new(),
            next_timer: 0,
            finished: false,
            detached: Vec::new(),
            lock: None,
            checked: Instant::now(),
        })
    }

    /// A fault of the host that must end the run, if one happened: the run's cgroup or a
    /// worker's vanished under it (looked at every [`FAULT_CHECK`], and whenever a sandbox
    /// could not get a cgroup). The run cannot go on honestly: its limits are gone.
    pub fn fault(&mut self) -> Option<String> {
        if self.checked.elapsed() >= FAULT_CHECK {
            self.checked = Instant::now();
            let fs = self.shared.fs.as_ref();
            let run = &self.shared.run_group;
            let missing = std::iter::once(run.clone())
                .chain((0..self.shared.pools.len()).map(|w| format!("{run}/w{w}")))
                .find(|g| !fs.exists(g));
            if let Some(group) = missing {
                self.shared
                    .set_fault(CgroupError::Vanished(group).to_string());
            }
        }
        self.shared.fault.lock().ok().and_then(|f| f.clone())
    }

    /// Microseconds since the backend started: the driver's clock.
    pub fn now(&self) -> Time {
        self.shared.now()
    }

    /// The pid of a sandbox's runner, once it has one.
    pub fn sandbox_pid(&self, sandbox: SandboxId) -> Option<i32> {
        let handle = self.sandboxes.get(sandbox.index())?.as_ref()?;
        Some(handle.pid.load(Ordering::SeqCst)).filter(|&p| p > 0)
    }

    /// The run's cgroup, `lambdasim/<pid>` (`lambdasim/<pid>.<n>` for the n-th backend after the
    /// first in one process).
    pub fn run_group(&self) -> &str {
        &self.shared.run_group
    }

    /// When the earliest timer is due.
    pub fn next_timer(&self) -> Option<Time> {
        self.timers.peek().map(|r| r.0.0)
    }

    /// The earliest timer if it is due at `now`.
    pub fn pop_due_timer(&mut self, now: Time) -> Option<(Time, Timer)> {
        let &std::cmp::Reverse((at, id)) = self.timers.peek()?;
        if at > now {
            return None;
        }
        self.timers.pop();
        self.timer_of.remove(&id).map(|t| (at, t))
    }

    /// A handle that makes [`RealBackend::recv`] return early.
    pub fn waker(&self) -> Waker {
        Waker(self.sender.clone())
    }

    /// The next completion of a live sandbox, waiting at most `timeout`, or until a [`Waker`]
    /// wakes it (then `None`).
    pub fn recv(&mut self, timeout: Duration) -> Option<Completion> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.completions.recv_timeout(left) {
                Ok((WAKE, _)) => return None,
                Ok((epoch, c)) => {
                    let sandbox = match c {
                        Completion::SandboxReady { sandbox, .. }
                        | Completion::InvocationDone { sandbox, .. }
                        | Completion::SandboxFailed { sandbox, .. } => sandbox,
                        Completion::Timer(_) => return Some(c),
                    };
                    if self.epochs.get(sandbox.index()) == Some(&epoch)
                        && self
                            .sandboxes
                            .get(sandbox.index())
                            .is_some_and(|s| s.is_some())
                    {
                        return Some(c);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Destroys what is left (sandboxes, zygotes, cgroups, the work directory) and waits for
    /// every sandbox thread.
    pub fn finish(&mut self) -> Result<(), RealError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        for i in 0..self.sandboxes.len() {
            self.destroy_now(SandboxId(i as u32));
        }
        for handle in &mut self.sandboxes {
            if let Some(h) = handle.as_mut()
                && let Some(t) = h.thread.take()
            {
                let _ = t.join();
            }
        }
        for t in self.detached.drain(..) {
            let _ = t.join();
        }
        let zygotes: Vec<Arc<Zygote>> = self
            .shared
            .zygotes
            .lock()
            .map(|mut z| z.drain().map(|(_, z)| z).collect())
            .unwrap_or_default();
        for z in zygotes {
            kill_zygote(&self.shared, &z, None);
        }
        for pool in &self.shared.pools {
            if let Ok(mut p) = pool.lock() {
                let _ = p.drain();
            }
        }
        let result = remove_tree(self.shared.fs.as_ref(), &self.shared.run_group);
        // The parent `lambdasim` group stays for other runs; removing it fails while it has some.
        let _ = self.shared.fs.remove("lambdasim");
        let _ = std::fs::remove_dir_all(&self.shared.config.work_dir);
        // What could not be removed is `cleanup`'s: leave it a free lock that says the run died.
        match (self.lock.take(), &result) {
            (Some(lock), Err(_)) => lock.release_keeping_file(),
            (lock, _) => drop(lock),
        }
        result.map(|_| ()).map_err(RealError::from)
    }

    fn destroy_now(&mut self, sandbox: SandboxId) {
        let Some(Some(handle)) = self.sandboxes.get_mut(sandbox.index()) else {
            return;
        };
        if handle.killed.swap(true, Ordering::SeqCst) {
            return;
        }
        let pid = handle.pid.load(Ordering::SeqCst);
        if pid > 0 {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = handle.commands.send(Command::Destroy);
    }

    fn command(&self, sandbox: SandboxId, command: Command) {
        if let Some(Some(handle)) = self.sandboxes.get(sandbox.index()) {
            let _ = handle.commands.send(command);
        }
    }
}

impl Drop for RealBackend {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            crate::log!("lambdasim real: cleaning up: {e}");
        }
    }
}

impl Backend for RealBackend {
    fn create_sandbox(&mut self, _now: Time, sandbox: SandboxId, request: &CreateRequest) {
        let i = sandbox.index();
        if self.sandboxes.len() <= i {
            self.sandboxes.resize_with(i + 1, || None);
            self.epochs.resize(i + 1, 0);
        }
        // Zygotes this sandbox creates exist from now on, so that later forks wait for them; the
        // ones it uses are held until it is done with them.
        let mut held = Vec::new();
        if let Ok(mut zygotes) = self.shared.zygotes.lock() {
            let w = request.worker.0;
            for s in request.spawn {
                zygotes.insert((w, s.zygote.0), Arc::new(Zygote::default()));
            }
            let used = request
                .spawn
                .iter()
                .flat_map(|s| [Some(s.zygote.0), s.parent.map(|p| p.0)])
                .chain([request.fork.map(|z| z.0)])
                .flatten();
            for slot in used {
                if held.iter().any(|(s, _)| *s == slot) {
                    continue;
                }
                if let Some(z) = zygotes.get(&(w, slot)) {
                    z.pending.fetch_add(1, Ordering::SeqCst);
                    held.push((slot, z.clone()));
                }
            }
        }
        let (tx, rx) = channel();
        let killed = Arc::new(AtomicBool::new(false));
        let pid = Arc::new(AtomicI32::new(0));
        let owned = OwnedRequest {
            function: request.function.index(),
            worker: request.worker.0,
            memory_mb: request.memory_mb,
            init: request.init,
            install: request.install.to_vec(),
            installed: request.installed.to_vec(),
            spawn: request
                .spawn
                .iter()
                .map(|s| (s.zygote.0, s.parent.map(|p| p.0), s.import.clone()))
                .collect(),
            fork: request.fork.map(|z| z.0),
            import: request.import.to_vec(),
            zygotes: held,
        };
        let _ = tx.send(Command::Create(owned));
        let thread = {
            let shared = self.shared.clone();
            let sender = self.sender.clone();
            let killed = killed.clone();
            let pid = pid.clone();
            let epoch = self.epochs[i];
            std::thread::Builder::new()
                .name(format!("sandbox-{i}"))
                .spawn(move || {
                    let mut sb = SandboxThread {
                        shared,
                        sandbox,
                        epoch,
                        sender,
                        killed,
                        pid,
                        worker: 0,
                        group: None,
                        channel: None,
                        oom_before: 0,
                        dead: false,
                        touch_bytes: 0,
                        scratch: None,
                    };
                    sb.run(rx);
                })
                .ok()
        };
        self.sandboxes[i] = Some(SandboxHandle {
            commands: tx,
            killed,
            pid,
            thread,
        });
    }

    fn start_invocation(
        &mut self,
        _now: Time,
        sandbox: SandboxId,
        invocation: InvocationHandle,
        duration: Time,
    ) {
        let id = self.ids.get(invocation.0 as usize).copied().unwrap_or(0);
        self.command(
            sandbox,
            Command::Run {
                invocation,
                id,
                duration,
            },
        );
    }

    fn track_invocation(&mut self, handle: InvocationHandle, id: u64) {
        let i = handle.0 as usize;
        if self.ids.len() <= i {
            self.ids.resize(i + 1, 0);
        }
        self.ids[i] = id;
    }

    fn pause(&mut self, _now: Time, sandbox: SandboxId) {
        self.command(sandbox, Command::Pause);
    }

    fn unpause(&mut self, _now: Time, sandbox: SandboxId) {
        self.command(sandbox, Command::Unpause);
    }

    fn destroy(&mut self, _now: Time, sandbox: SandboxId) {
        self.destroy_now(sandbox);
        let i = sandbox.index();
        if let Some(slot) = self.sandboxes.get_mut(i)
            && let Some(mut handle) = slot.take()
        {
            // The thread finishes on its own; it is waited for only at the end of the run.
            self.detached.retain(|t| !t.is_finished());
            if let Some(t) = handle.thread.take() {
                self.detached.push(t);
            }
            self.epochs[i] = self.epochs[i].wrapping_add(1);
        }
    }

    fn destroy_zygote(&mut self, _now: Time, worker: WorkerId, zygote: ZygoteId) {
        let z = self
            .shared
            .zygotes
            .lock()
            .ok()
            .and_then(|mut z| z.remove(&(worker.0, zygote.0)));
        if let Some(z) = z {
            let shared = self.shared.clone();
            // Killing takes a few milliseconds: not on the driver's thread.
            self.detached.retain(|t| !t.is_finished());
            self.detached.push(std::thread::spawn(move || {
                kill_zygote(&shared, &z, Some(worker.0))
            }));
        }
    }

    fn set_timer(&mut self, at: Time, timer: Timer) {
        let id = self.next_timer;
        self.next_timer += 1;
        self.timer_of.insert(id, timer);
        self.timers.push(std::cmp::Reverse((at, id)));
    }
}

/// Kills a zygote (once it is created and the sandboxes asked to use it have) and returns its
/// cgroup.
fn kill_zygote(shared: &Shared, z: &Zygote, worker: Option<u32>) {
    let Ok(mut state) = z.state.lock() else {
        return;
    };
    // Wait until it exists and no sandbox that was to use it still has to (at most a minute).
    let end = Instant::now() + Duration::from_secs(60);
    while (matches!(*state, ZygoteState::Creating) || z.pending.load(Ordering::SeqCst) > 0)
        && Instant::now() < end
    {
        match z.ready.wait_timeout(state, Duration::from_millis(100)) {
            Ok((s, _)) => state = s,
            Err(_) => return,
        }
    }
    if let ZygoteState::Ready { group, .. } = std::mem::replace(&mut *state, ZygoteState::Failed) {
        let _ = shared.fs.kill_all(&group);
        match worker {
            Some(w) => shared.give_back(w, group),
            None => {
                let _ = shared.fs.remove(&group);
            }
        }
    }
}

/// The zygote `slot` a request holds.
fn held(r: &OwnedRequest, slot: u32) -> Option<Arc<Zygote>> {
    r.zygotes
        .iter()
        .find(|(s, _)| *s == slot)
        .map(|(_, z)| z.clone())
}

/// Turns a fresh runner into the Python runtime's.
fn become_python(channel: &Channel, handlers: &PythonHandlers) -> Result<(), String> {
    channel
        .send(&format!("exec\tpython\t{}", handlers.interpreter.display()))
        .map_err(|e| e.to_string())?;
    channel
        .expect("ready")
        .map(|_| ())
        .map_err(|e| format!("starting the Python runtime: {e}"))
}

/// Phases of a sandbox's creation, in µs.
#[derive(Default)]
struct Phases {
    create: Time,
    install: Time,
    import: Time,
    init: Time,
}

struct SandboxThread {
    shared: Arc<Shared>,
    sandbox: SandboxId,
    epoch: u32,
    sender: Sender<Tagged>,
    killed: Arc<AtomicBool>,
    pid: Arc<AtomicI32>,
    worker: u32,
    group: Option<String>,
    channel: Option<Channel>,
    oom_before: u64,
    /// Its process is gone.
    dead: bool,
    /// Memory the sandbox fills and holds, in bytes.
    touch_bytes: u64,
    /// Its scratch directory, removed with it.
    scratch: Option<PathBuf>,
}

fn micros(d: Duration) -> Time {
    d.as_micros() as Time
}

impl SandboxThread {
    fn report(&self, c: Completion) {
        let _ = self.sender.send((self.epoch, c));
    }

    fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn run(&mut self, commands: Receiver<Command>) {
        loop {
            // An idle sandbox gets no command to notice its runner's death by: look now and then.
            let command = match commands.recv_timeout(IDLE_CHECK) {
                Ok(command) => command,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if !self.dead
                        && !self.killed()
                        && self.channel.as_ref().is_some_and(|c| c.peer_closed())
                    {
                        self.fail();
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match command {
                Command::Create(request) => match self.create_holding(&request) {
                    Ok(p) => {
                        if let Runtime::Python(h) = &self.shared.config.runtime {
                            h.clear_failure(request.function);
                        }
                        self.report(Completion::SandboxReady {
                            sandbox: self.sandbox,
                            create: p.create,
                            install: p.install,
                            import: p.import,
                            init: p.init,
                        })
                    }
                    Err(e) => {
                        if !self.killed() {
                            crate::log!("lambdasim real: sandbox {}: {e}", self.sandbox.0);
                            if let Runtime::Python(h) = &self.shared.config.runtime {
                                h.note_failure(request.function, e);
                            }
                            self.fail();
                        }
                    }
                },
                Command::Run {
                    invocation,
                    id,
                    duration,
                } => match &self.shared.config.runtime {
                    Runtime::Synthetic => self.invoke(invocation, duration),
                    Runtime::Python(handlers) => {
                        let handlers = handlers.clone();
                        self.call(&handlers, invocation, id)
                    }
                },
                Command::Pause => {
                    if let Some(g) = &self.group
                        && !self.dead
                        && let Err(e) = self.shared.fs.freeze(g)
                    {
                        crate::log!("lambdasim real: pausing sandbox {}: {e}", self.sandbox.0);
                    }
                }
                Command::Unpause => {
                    if let Some(g) = &self.group
                        && !self.dead
                        && let Err(e) = self.shared.fs.thaw(g)
                    {
                        crate::log!("lambdasim real: unpausing sandbox {}: {e}", self.sandbox.0);
                    }
                }
                Command::Destroy => break,
            }
        }
        self.channel = None;
        if let Some(group) = self.group.take() {
            let _ = self.shared.fs.thaw(&group);
            let _ = self.shared.fs.kill_all(&group);
            self.shared.give_back(self.worker, group);
        }
        if let Some(dir) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// [`SandboxThread::create`], then ends the request's hold on its zygotes.
    fn create_holding(&mut self, request: &OwnedRequest) -> Result<Phases, String> {
        let created = self.create(request);
        for (_, z) in &request.zygotes {
            z.release();
        }
        created
    }

    /// The watchdog: kills an invocation's sandbox that did not answer in time and reports it
    /// failed as `timeout`.
    fn time_out(&mut self) {
        if self.dead {
            return;
        }
        self.dead = true;
        self.pid.store(0, Ordering::SeqCst);
        if let Some(g) = &self.group {
            let _ = self.shared.fs.thaw(g);
            let _ = self.shared.fs.kill_all(g);
        }
        self.report(Completion::SandboxFailed {
            sandbox: self.sandbox,
            reason: FailReason::Timeout,
        });
    }

    /// Reports the sandbox dead, out of memory if its cgroup saw an OOM kill.
    fn fail(&mut self) {
        if self.dead {
            return;
        }
        self.dead = true;
        // Its pid may be reused once reaped: never signal it again.
        self.pid.store(0, Ordering::SeqCst);
        let oom = self
            .group
            .as_ref()
            .and_then(|g| self.shared.fs.oom_kills(g).ok())
            .is_some_and(|n| n > self.oom_before);
        let reason = if oom {
            FailReason::OutOfMemory
        } else {
            FailReason::SandboxCrashed
        };
        self.report(Completion::SandboxFailed {
            sandbox: self.sandbox,
            reason,
        });
    }

    fn invoke(&mut self, invocation: InvocationHandle, duration: Time) {
        if self.dead {
            return;
        }
        let Some(channel) = &self.channel else {
            return;
        };
        let bytes = self.touch_bytes;
        let mode = self.shared.config.mode.as_str();
        // A runner that is stopped or stuck never answers: the watchdog gives it its duration,
        // stretched by the CPU limit, and the configured slack.
        let config = &self.shared.config;
        let stretch = config.cpu_cores.map_or(1.0, |c| (1.0 / c).max(1.0));
        let deadline = Duration::from_micros((duration as f64 * stretch) as u64)
            .saturating_add(config.invocation_timeout);
        let sent = channel.set_timeout(Some(deadline)).and_then(|()| {
            channel.send(&format!(
                "run\t{}\t{duration}\t{bytes}\t{mode}",
                invocation.0
            ))
        });
        let answer = sent.and_then(|()| channel.recv());
        let at = self.shared.now();
        if let Err(e) = &answer
            && matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
            && !self.killed()
        {
            self.time_out();
            return;
        }
        match answer {
            Ok(Some(m)) => match m.fields()[..] {
                ["done", _, us] => {
                    let ran: Time = us.parse().unwrap_or(0);
                    self.report(Completion::InvocationDone {
                        sandbox: self.sandbox,
                        invocation,
                        started: at.saturating_sub(ran),
                        cpu_wait: 0,
                    });
                }
                _ => {
                    crate::log!(
                        "lambdasim real: sandbox {}: unexpected answer {:?}",
                        self.sandbox.0,
                        m.text
                    );
                    self.fail();
                }
            },
            _ => {
                if !self.killed() {
                    self.fail();
                }
            }
        }
    }
}

impl SandboxThread {
    /// Calls the user's handler with invocation `id`'s body; the result waits in `handlers`. An
    /// exception is the handler's answer (the invocation ran); a sandbox that dies or does not
    /// answer within the invocation timeout fails it.
    fn call(&mut self, handlers: &PythonHandlers, invocation: InvocationHandle, id: u64) {
        if self.dead {
            return;
        }
        let Some(channel) = &self.channel else {
            return;
        };
        let body = handlers.take_body(id);
        let timeout = self.shared.config.invocation_timeout;
        let answer = channel
            .set_timeout(Some(timeout))
            .and_then(|()| crate::python::call(channel, id, &body));
        let at = self.shared.now();
        match answer {
            Ok(result) => {
                let ran = result.micros;
                handlers.put_result(id, result);
                self.report(Completion::InvocationDone {
                    sandbox: self.sandbox,
                    invocation,
                    started: at.saturating_sub(ran),
                    cpu_wait: 0,
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) && !self.killed() =>
            {
                self.time_out()
            }
            Err(_) => {
                if !self.killed() {
                    self.fail();
                }
            }
        }
    }

    /// Creates the sandbox: a cgroup from the pool, the packages installed, the zygotes it needs,
    /// its runner (forked from a zygote or started fresh), the rest of its imports, and its
    /// handler's initialization.
    fn create(&mut self, r: &OwnedRequest) -> Result<Phases, String> {
        let shared = self.shared.clone();
        self.worker = r.worker;
        let t = Instant::now();
        let mut phases = Phases::default();
        let limits = shared.sandbox_limits(r.memory_mb);
        self.touch_bytes =
            ((f64::from(r.memory_mb) * shared.config.memory_scale * shared.config.touch_fraction)
                * (1u64 << 20) as f64) as u64;
        let (group, _pooled) = shared.take_group(r.worker, &limits)?;
        self.oom_before = shared.fs.oom_kills(&group).unwrap_or(0);
        self.group = Some(group.clone());
        let mut create = micros(t.elapsed());

        let t = Instant::now();
        self.install(r)?;
        phases.install = micros(t.elapsed());

        let t = Instant::now();
        for (zygote, parent, import) in &r.spawn {
            self.make_zygote(r, *zygote, *parent, import)?;
        }
        let zygotes_us = micros(t.elapsed());

        let t = Instant::now();
        let scratch = shared
            .config
            .work_dir
            .join("scratch")
            .join(format!("{}-{}", self.sandbox.0, self.epoch));
        std::fs::create_dir_all(&scratch)
            .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
        let confine = shared.config.confine;
        if confine {
            // The one place a confined sandbox may write.
            std::os::unix::fs::chown(&scratch, Some(SANDBOX_UID), Some(SANDBOX_GID))
                .map_err(|e| format!("handing {} to the sandbox: {e}", scratch.display()))?;
        }
        self.scratch = Some(scratch.clone());
        let view = View {
            scratch: Some(scratch),
            root: shared
                .config
                .confine
                .then(|| shared.config.work_dir.join("root")),
            net: shared.config.net,
        };
        let channel = match r.fork {
            Some(z) => self.fork_from(r, z, Some(&view), &group)?.0,
            None => {
                let (pid, channel) = spawn_runner(
                    &shared.config.runner,
                    Namespaces {
                        pid: true,
                        net: shared.config.net,
                    },
                    &view,
                )
                .map_err(|e| e.to_string())?;
                self.pid.store(pid.as_raw(), Ordering::SeqCst);
                shared
                    .fs
                    .add_process(&group, pid.as_raw() as u32)
                    .map_err(|e| e.to_string())?;
                channel.expect("ready").map_err(|e| e.to_string())?;
                channel
            }
        };
        if confine {
            // In its cgroup now, which becomes the root of its cgroup namespace. A Python runner
            // (forked from a Python zygote) installs the seccomp filter itself.
            let python = r.fork.is_some() && matches!(shared.config.runtime, Runtime::Python(_));
            let command = if python {
                let filter = crate::confine::filter_hex().map_err(|e| e.to_string())?;
                format!("confine\t{SANDBOX_UID}\t{SANDBOX_GID}\t{filter}")
            } else {
                format!("confine\t{SANDBOX_UID}\t{SANDBOX_GID}")
            };
            channel.send(&command).map_err(|e| e.to_string())?;
            channel.expect("ok").map_err(|e| e.to_string())?;
        }
        if r.fork.is_none()
            && let Runtime::Python(handlers) = &shared.config.runtime
        {
            become_python(&channel, handlers)?;
        }
        if self.killed() {
            return Err("destroyed while being created".into());
        }
        create += micros(t.elapsed());
        phases.create = create;

        let t = Instant::now();
        for &p in &r.import {
            shared.import(&channel, r.worker, p)?;
        }
        phases.import = zygotes_us + micros(t.elapsed());

        // The handler's initialization: it fills the memory the sandbox then holds, and runs
        // for the function's initialization time; or a user's handler is loaded.
        let t = Instant::now();
        let init = r.init.unwrap_or(0);
        if let Runtime::Python(handlers) = &shared.config.runtime {
            let file = handlers
                .handlers
                .get(r.function)
                .ok_or_else(|| format!("no handler for function {}", r.function))?;
            match crate::python::load_handler(&channel, file).map_err(|e| e.to_string())? {
                crate::python::Answer::Done(_) => {}
                crate::python::Answer::Refused(why) => return Err(why),
            }
        } else if init > 0 || self.touch_bytes > 0 {
            channel
                .send(&format!(
                    "init\t{init}\t{}\t{}",
                    self.touch_bytes,
                    shared.config.mode.as_str()
                ))
                .map_err(|e| e.to_string())?;
            channel.expect("ok").map_err(|e| e.to_string())?;
        }
        phases.init = micros(t.elapsed());
        self.channel = Some(channel);
        Ok(phases)
    }

    /// Installs the packages the worker lacks and waits for those another sandbox is installing.
    fn install(&self, r: &OwnedRequest) -> Result<(), String> {
        let shared = &self.shared;
        if r.install.is_empty() && r.installed.is_empty() {
            return Ok(());
        }
        let dir = &shared.installs[r.worker as usize];
        let install_one = |p: PackageId| -> Result<u64, String> {
            let package = shared.catalog.package(p);
            match &shared.config.runtime {
                Runtime::Python(h) => {
                    let (Some(source), Some(py)) = (&h.source, h.packages.get(p.index())) else {
                        return Err(format!("no package source for {}", package.key()));
                    };
                    dir.install_with(package, |temp, _| {
                        crate::pip::install(&h.interpreter, source, &py.requirement, temp)
                            .map(|()| 0)
                            .map_err(crate::store::StoreError::Installer)
                    })
                }
                Runtime::Synthetic => {
                    let registry = shared
                        .registry
                        .as_ref()
                        .ok_or("packages to install but no registry")?;
                    dir.install(registry, package)
                }
            }
            .map_err(|e| e.to_string())
        };
        let failed = |p: PackageId, result: Result<u64, String>| {
            if let Ok(mut f) = shared.failed_installs.lock() {
                if result.is_err() {
                    f.insert((r.worker, p));
                } else {
                    f.remove(&(r.worker, p));
                }
            }
            result
        };
        for &p in &r.install {
            failed(p, install_one(p))?;
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        for &p in &r.installed {
            let package = shared.catalog.package(p);
            while !dir.is_installed(package) {
                if self.killed() {
                    return Err("destroyed while waiting for a package's install".into());
                }
                let gave_up = shared
                    .failed_installs
                    .lock()
                    .is_ok_and(|f| f.contains(&(r.worker, p)));
                if gave_up || Instant::now() > deadline {
                    // Its installer failed or died first, or it was removed meanwhile: do it here.
                    failed(p, install_one(p))?;
                    break;
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        }
        Ok(())
    }

    /// Creates zygote `slot` of the worker: started fresh or forked from `parent`, then importing
    /// `import`.
    fn make_zygote(
        &mut self,
        r: &OwnedRequest,
        slot: u32,
        parent: Option<u32>,
        import: &[PackageId],
    ) -> Result<(), String> {
        let shared = self.shared.clone();
        let worker = r.worker;
        let Some(z) = held(r, slot) else {
            return Ok(());
        };
        let mb: f64 = import
            .iter()
            .map(|&p| shared.catalog.package(p).import_mb * shared.config.import_memory_scale)
            .sum();
        let limits = shared.limits(mb.ceil() as u64 + shared.config.overhead_mb);
        let made = (|| -> Result<(Channel, Pid, String), String> {
            let (group, _) = shared.take_group(worker, &limits)?;
            let (channel, pid) = match parent {
                Some(p) => self.fork_from(r, p, None, &group)?,
                None => {
                    let (pid, channel) = spawn_runner(
                        &shared.config.runner,
                        Namespaces {
                            pid: false,
                            net: false,
                        },
                        &View::default(),
                    )
                    .map_err(|e| e.to_string())?;
                    shared
                        .fs
                        .add_process(&group, pid.as_raw() as u32)
                        .map_err(|e| e.to_string())?;
                    channel.expect("ready").map_err(|e| e.to_string())?;
                    if let Runtime::Python(handlers) = &shared.config.runtime {
                        become_python(&channel, handlers)?;
                    }
                    (channel, pid)
                }
            };
            for &p in import {
                shared.import(&channel, worker, p)?;
            }
            Ok((channel, pid, group))
        })();
        let mut state = z.state.lock().map_err(|_| "a zygote lock is poisoned")?;
        let result = match made {
            Ok((channel, _pid, group)) => {
                *state = ZygoteState::Ready { channel, group };
                Ok(())
            }
            Err(e) => {
                *state = ZygoteState::Failed;
                Err(format!("creating a zygote: {e}"))
            }
        };
        drop(state);
        z.ready.notify_all();
        result
    }

    /// Forks a process from zygote `slot` of the worker (waiting for it to be ready) into
    /// `group`: a sandbox with view `sandbox` (in a PID namespace of its own) or, without one, a
    /// child zygote.
    fn fork_from(
        &self,
        r: &OwnedRequest,
        slot: u32,
        sandbox: Option<&View>,
        group: &str,
    ) -> Result<(Channel, Pid), String> {
        let as_zygote = sandbox.is_none();
        let worker = r.worker;
        let z = held(r, slot).ok_or_else(|| format!("zygote {slot} of worker {worker} is gone"))?;
        let mut state = z.state.lock().map_err(|_| "a zygote lock is poisoned")?;
        while matches!(*state, ZygoteState::Creating) {
            state = z
                .ready
                .wait(state)
                .map_err(|_| "a zygote lock is poisoned")?;
        }
        let ZygoteState::Ready { channel: zc, .. } = &*state else {
            return Err(format!("zygote {slot} of worker {worker} failed"));
        };
        let (pid, ours) = fork_from_zygote(zc, sandbox).map_err(|e| e.to_string())?;
        drop(state);
        let pid = pid.as_raw();
        if !as_zygote {
            self.pid.store(pid, Ordering::SeqCst);
        }
        self.shared
            .fs
            .add_process(group, pid as u32)
            .map_err(|e| e.to_string())?;
        Ok((ours, Pid::from_raw(pid)))
    }
}
