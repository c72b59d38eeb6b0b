//! The controller: the only code that changes platform state and the only caller of policies.
//!
//! It reacts to two kinds of input, arrivals and completions, and answers with backend commands.
//! The same controller drives the simulated and the real backend.
//!
//! Placement of an invocation on its worker, in order:
//! 1. a sandbox of its function with room: a running one below its concurrency limit, else the
//!    most recently used idle one, else the most recently used paused one (unpaused first);
//! 2. otherwise, if nothing is queued ahead of it, a new sandbox, evicting idle and paused
//!    sandboxes chosen by the keep-alive policy when memory is short;
//! 3. otherwise it waits in the worker's FIFO queue (or is dropped, by configuration, or when the
//!    queue is full). A queued invocation leaves the queue when a sandbox of its function finishes
//!    an invocation (it takes that sandbox) or, at the head of the queue, when memory frees up.
//!
//! `ControllerConfig`'s modelling choices change steps of this as peers' simulators do: which
//! idle sandbox is taken (or the keep-alive policy's own pool chooses), how much is evicted,
//! whether an arrival may pass the queue, which queued invocation a finished sandbox goes to,
//! when a finished sandbox is free again, and the order of simultaneous events.
//!
//! Timers are never cancelled: a sandbox keeps at most one pending timer, which on firing either
//! finds the deadline moved later (and re-arms), finds the sandbox in use (and does nothing), or
//! hands the sandbox to the keep-alive policy. Arming an earlier timer bumps the sandbox's
//! generation, which makes the later one stale. (With `ties = "arrivals-first"`, every new
//! deadline gets a timer of its own, so that it takes its place among simultaneous events when
//! it is set.)

use workloads::{Catalog, FunctionId, Invocation, Time};

use crate::WorkerId;
use crate::backend::{Backend, Completion, CreateRequest, InvocationHandle, Timer};
use crate::install_cache::InstallCaches;
use crate::platform::{Platform, ReuseOrder, SandboxId, SandboxState, WorkerSpec};
use crate::policy::{ArrivalActions, IdleDecision, InstallPolicy, KeepAlive, Scheduler};
use crate::record::{
    DestroyReason, DropReason, FailReason, Outcome, Phases, Record, RecordSink, RunInfo,
    SandboxEvent, StartKind,
};
use crate::zygotes::{ImportCacheConfig, ImportCaches, TreeMode};

/// What happens to an invocation that finds no memory on its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueMode {
    /// Wait in the worker's FIFO queue, which holds at most `capacity` invocations.
    Queue { capacity: u32 },
    /// Drop it at once.
    Drop,
}

/// How much a cold start that lacks memory evicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvictionMode {
    /// Victims until the shortfall is free, and none at all if the worker's idle and paused
    /// sandboxes cannot free it.
    #[default]
    Shortfall,
    /// FaasCache's: victims until their sizes add up to the new sandbox's whole size, whatever is
    /// free already; they stay evicted even when the sandbox still does not fit.
    WholeSize,
    /// DSLab FaaS's: nothing is evicted; the invocation waits (or is dropped) until memory frees
    /// up as sandboxes expire.
    None,
}

/// Whether an arrival that needs a new sandbox may start one while others wait in its worker's
/// queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Admission {
    /// It waits behind them (first come, first served).
    #[default]
    BehindQueue,
    /// DSLab FaaS's: it starts a sandbox if memory allows and queues only if not.
    Bypass,
}

/// Which queued invocation takes a sandbox whose invocation ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handoff {
    /// The oldest queued invocation of the sandbox's function, wherever it is in the queue.
    #[default]
    Function,
    /// DSLab FaaS's: none directly; the queue is served from its head only.
    Head,
}

/// When a sandbox that its keep-alive policy destroys as it becomes idle gives its memory back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnloadTiming {
    /// At once, so that an invocation queued behind it may take the memory in the same step.
    #[default]
    Immediate,
    /// DSLab FaaS's: when the events already due at that instant are done (DSLab schedules the
    /// container's end with no delay); until then it holds its memory and takes no invocation.
    EndOfInstant,
}

/// Which goes first when an arrival and a completion or timer fall at the same time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieOrder {
    /// Completions and timers: an invocation that ends as another arrives leaves its sandbox
    /// warm for it.
    #[default]
    CompletionsFirst,
    /// DSLab FaaS's: arrivals, which then see neither a sandbox freed at that instant nor the
    /// expiry of one whose keep-alive ends then; the other events follow in the order they were
    /// scheduled, a keep-alive deadline when it was last set.
    ArrivalsFirst,
}

/// When a sandbox whose invocations have ended can be reused or evicted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseMode {
    /// As soon as its last invocation ends.
    #[default]
    AtEnd,
    /// FaasCache's: only when the next arrival (of any function) is handled; until then it holds
    /// its memory as if it were running, and its idle time starts then. Sandboxes are released
    /// in the order their last invocations arrived.
    NextArrival,
}

/// Platform parameters the controller enforces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControllerConfig {
    pub workers: Vec<WorkerSpec>,
    /// Invocations one sandbox runs at once, unless a function says otherwise.
    pub concurrency: u32,
    pub queue: QueueMode,
    /// Which idle sandbox of a function an invocation reuses.
    pub reuse: ReuseOrder,
    /// Provisioned concurrency: this many sandboxes of each function, created at the start, kept
    /// warm for the whole run and never evicted.
    pub provisioned: Vec<(FunctionId, u32)>,
    /// Every sandbox gets this much memory instead of its function's (OpenLambda's fixed
    /// per-sandbox limit).
    pub sandbox_memory_mb: Option<u32>,
    pub eviction: EvictionMode,
    pub release: ReleaseMode,
    pub admission: Admission,
    pub handoff: Handoff,
    pub ties: TieOrder,
    pub unload: UnloadTiming,
}

impl Default for QueueMode {
    fn default() -> Self {
        QueueMode::Queue { capacity: 1000 }
    }
}

/// How a cold start began: forked from a zygote or not.
fn cold_kind(forked: bool) -> StartKind {
    if forked {
        StartKind::ZygoteFork
    } else {
        StartKind::Cold
    }
}

/// No invocation: a sandbox created ahead of time (pre-warmed or provisioned).
const NO_INVOCATION: InvocationHandle = InvocationHandle(u32::MAX);

/// Not in a sandbox (yet).
const NO_SANDBOX: u32 = u32::MAX;

/// An invocation between its arrival and its end.
#[derive(Clone, Copy, Debug)]
struct Pending {
    id: u64,
    function: FunctionId,
    worker: WorkerId,
    arrival: Time,
    duration: Time,
    /// When it left the queue (its arrival if it never queued).
    placed: Time,
    kind: StartKind,
    create: Time,
    install: Time,
    import: Time,
    init: Time,
    /// The sandbox it runs (or will run) in, or `NO_SANDBOX`.
    sandbox: u32,
}

enum ColdStart {
    Started,
    NoRoom,
}

/// The control plane.
pub struct Controller {
    catalog: Catalog,
    platform: Platform,
    keep_alive: Box<dyn KeepAlive>,
    scheduler: Box<dyn Scheduler>,
    queue_mode: QueueMode,
    workers: Vec<WorkerSpec>,
    pending: Vec<Pending>,
    free_pending: Vec<u32>,
    /// Per sandbox slot: the invocation a sandbox in creation is for.
    created_for: Vec<InvocationHandle>,
    next_id: u64,
    in_flight: u64,
    victims: Vec<SandboxId>,
    /// Per function: the token of its latest pre-warm; older pre-warms are stale.
    prewarm_token: Vec<u32>,
    /// Pre-warmed sandboxes still being created, which an arrival may claim.
    prewarming: Vec<SandboxId>,
    sandbox_memory_mb: Option<u32>,
    provisioned: Vec<(FunctionId, u32)>,
    /// Cached answers of the keep-alive policy.
    lazy_expiry: bool,
    background: bool,
    may_kill: bool,
    pool_policy: bool,
    arrival_actions: ArrivalActions,
    eviction: EvictionMode,
    release: ReleaseMode,
    admission: Admission,
    handoff: Handoff,
    ties: TieOrder,
    unload: UnloadTiming,
    /// Sandboxes whose invocations ended, held until the next arrival (release `next-arrival`),
    /// with the id of the last invocation each ran.
    held: Vec<(u64, SandboxId)>,
    /// Per-worker install caches and their eviction policy; `None` installs every package of a
    /// cold start and keeps none.
    install: Option<(InstallCaches, Box<dyn InstallPolicy>)>,
    /// Per-worker trees of zygotes; `None` imports every package in every new sandbox.
    zygotes: Option<ImportCaches>,
}

impl Controller {
    pub fn new(
        catalog: Catalog,
        config: &ControllerConfig,
        keep_alive: Box<dyn KeepAlive>,
        scheduler: Box<dyn Scheduler>,
    ) -> Self {
        let mut platform = Platform::new(&catalog, &config.workers, config.concurrency.max(1));
        platform.set_reuse_order(config.reuse);
        let functions = catalog.functions.len();
        Controller {
            prewarm_token: vec![0; functions],
            prewarming: Vec::new(),
            sandbox_memory_mb: config.sandbox_memory_mb,
            provisioned: config.provisioned.clone(),
            lazy_expiry: keep_alive.expires_lazily(),
            background: keep_alive.evicts_in_background(),
            may_kill: keep_alive.may_kill_running(),
            pool_policy: keep_alive.keeps_pool(),
            arrival_actions: ArrivalActions::default(),
            eviction: config.eviction,
            release: config.release,
            admission: config.admission,
            handoff: config.handoff,
            ties: config.ties,
            unload: config.unload,
            held: Vec::new(),
            install: None,
            zygotes: None,
            catalog,
            platform,
            keep_alive,
            scheduler,
            queue_mode: config.queue,
            workers: config.workers.clone(),
            pending: Vec::new(),
            free_pending: Vec::new(),
            created_for: Vec::new(),
            next_id: 0,
            in_flight: 0,
            victims: Vec::new(),
        }
    }

    /// Keeps installed packages in per-worker install caches of `capacity_bytes` each (`None`:
    /// unlimited), evicting as `policy` chooses. Without this, a cold start installs all of its
    /// function's packages and keeps none.
    pub fn with_install_cache(
        mut self,
        policy: Box<dyn InstallPolicy>,
        capacity_bytes: Option<u64>,
    ) -> Self {
        let caches = InstallCaches::new(
            self.workers.len(),
            self.catalog.packages.len(),
            capacity_bytes,
        );
        self.install = Some((caches, policy));
        self
    }

    /// Keeps zygotes in per-worker import caches shaped and sized by `config`. With a static
    /// tree, each function's zygote hash becomes that of its deepest node.
    pub fn with_import_cache(mut self, config: ImportCacheConfig) -> Self {
        let caches = ImportCaches::new(config, self.workers.len(), &self.catalog);
        if let TreeMode::Static(tree) = &caches.config().mode {
            for f in 0..self.catalog.functions.len() {
                let function = FunctionId(f as u32);
                let node = caches.static_target(function).unwrap_or(0);
                let hash = crate::platform::packages_hash(
                    &self.catalog.packages,
                    &tree.node(node).packages,
                );
                self.platform.set_zygote_hash(function, hash);
            }
        }
        self.zygotes = Some(caches);
        self
    }

    /// The import caches, if zygotes are kept.
    pub fn import_caches(&self) -> Option<&ImportCaches> {
        self.zygotes.as_ref()
    }

    /// The install caches, if packages are cached.
    pub fn install_caches(&self) -> Option<&InstallCaches> {
        self.install.as_ref().map(|(c, _)| c)
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// What sinks need to know before the first record.
    pub fn run_info(&self) -> RunInfo<'_> {
        RunInfo {
            catalog: &self.catalog,
            workers: &self.workers,
        }
    }

    /// Whether arrivals go before completions and timers due at the same time.
    pub fn arrivals_first(&self) -> bool {
        self.ties == TieOrder::ArrivalsFirst
    }

    /// Invocations waiting in workers' queues.
    pub fn queued(&self) -> usize {
        self.platform.workers().iter().map(|w| w.queue_len()).sum()
    }

    /// Invocations that arrived and have not ended.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Memory a sandbox of `function` takes.
    fn memory_of(&self, function: FunctionId) -> u32 {
        self.sandbox_memory_mb
            .unwrap_or_else(|| self.platform.function(function).memory_mb)
    }

    /// Sets up what must exist before the first arrival: provisioned sandboxes, placed on the
    /// workers in turn (skipping a worker without room). Fails if they do not fit.
    pub fn start<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        backend: &mut B,
        sink: &mut S,
    ) -> Result<(), String> {
        let workers = self.platform.workers().len();
        let mut next = 0usize;
        for (function, count) in self.provisioned.clone() {
            let need = u64::from(self.memory_of(function));
            for _ in 0..count {
                let worker = (0..workers)
                    .map(|i| WorkerId(((next + i) % workers) as u32))
                    .find(|&w| self.platform.worker(w).memory.free_mb() >= need)
                    .ok_or_else(|| {
                        format!(
                            "provisioned sandboxes do not fit: no worker has {need} MB free for another \
                             sandbox of {}",
                            self.catalog.function(function).name
                        )
                    })?;
                next = worker.index() + 1;
                self.create(
                    now,
                    function,
                    worker,
                    NO_INVOCATION,
                    None,
                    true,
                    backend,
                    sink,
                );
                self.notify_memory(now, worker, sink);
            }
        }
        Ok(())
    }

    /// The id the next arrival gets: its position in the input stream, as records number it.
    pub fn next_invocation_id(&self) -> u64 {
        self.next_id
    }

    /// An invocation arrives.
    pub fn on_arrival<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        invocation: &Invocation,
        backend: &mut B,
        sink: &mut S,
    ) {
        let function = invocation.function;
        if !self.held.is_empty() {
            self.release_held(now, backend, sink);
        }
        if self.pool_policy {
            self.pool_actions(now, backend, sink);
        }
        self.keep_alive.on_arrival(now, function, &self.platform);
        let worker = self.scheduler.select(now, function, &self.platform);
        assert!(
            worker.index() < self.platform.workers().len(),
            "scheduler {} chose worker {} of {}",
            self.scheduler.name(),
            worker.0,
            self.platform.workers().len()
        );
        let handle = self.track(Pending {
            id: self.next_id,
            function,
            worker,
            arrival: now,
            duration: invocation.duration,
            placed: now,
            kind: StartKind::Cold,
            create: 0,
            install: 0,
            import: 0,
            init: 0,
            sandbox: NO_SANDBOX,
        });
        backend.track_invocation(handle, self.next_id);
        self.next_id += 1;
        self.in_flight += 1;
        self.platform.add_in_flight(worker, 1);

        if self.lazy_expiry {
            let mut expired = std::mem::take(&mut self.victims);
            expired.clear();
            self.keep_alive
                .expired(now, function, worker, &self.platform, &mut expired);
            for &id in &expired {
                if self.platform.is_live(id) && self.platform.sandbox(id).is_evictable() {
                    self.destroy(now, id, DestroyReason::Expired, backend, sink);
                }
            }
            self.victims = expired;
        }
        let reuse = if self.pool_policy {
            self.keep_alive
                .choose_reuse(now, function, worker, &self.platform)
        } else {
            self.platform.reusable_on(function, worker)
        };
        if let Some(sandbox) = reuse {
            self.start_in(now, handle, sandbox, backend, sink);
            self.notify_memory(now, worker, sink);
            return;
        }
        if self.claim_prewarming(now, handle, function, worker) {
            return;
        }
        let need = u64::from(self.memory_of(function));
        if need > self.platform.worker(worker).memory.capacity_mb {
            self.drop_invocation(now, handle, DropReason::TooLarge, sink);
            return;
        }
        if (self.platform.worker(worker).queue_len() == 0 || self.admission == Admission::Bypass)
            && let ColdStart::Started = self.cold_start(now, handle, backend, sink)
        {
            self.notify_memory(now, worker, sink);
            self.background_evict(now, worker, backend, sink);
            return;
        }
        match self.queue_mode {
            QueueMode::Drop => self.drop_invocation(now, handle, DropReason::NoMemory, sink),
            QueueMode::Queue { capacity } => {
                if self.platform.worker(worker).queue_len() >= capacity as usize {
                    self.drop_invocation(now, handle, DropReason::QueueFull, sink);
                } else {
                    self.platform.enqueue(worker, function, handle.0);
                }
            }
        }
    }

    /// A backend reports a completion.
    pub fn on_completion<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        completion: Completion,
        backend: &mut B,
        sink: &mut S,
    ) {
        match completion {
            Completion::SandboxReady {
                sandbox,
                create,
                install,
                import,
                init,
            } => {
                if !self.platform.is_live(sandbox) {
                    return;
                }
                let handle = self.created_for[sandbox.index()];
                if handle == NO_INVOCATION {
                    self.ready_ahead(now, sandbox, backend, sink);
                    return;
                }
                let p = &mut self.pending[handle.0 as usize];
                p.create = create;
                p.install = install;
                p.import = import;
                p.init = init;
                p.sandbox = sandbox.0;
                let (duration, kind) = (p.duration, p.kind);
                let sb = self.platform.sandbox_mut(sandbox);
                sb.uses = 1;
                sb.last_used = now;
                self.platform.transition(sandbox, SandboxState::Running, 1);
                self.keep_alive
                    .on_start(now, self.platform.sandbox(sandbox), kind, &self.platform);
                backend.start_invocation(now, sandbox, handle, duration);
            }
            Completion::InvocationDone {
                sandbox,
                invocation,
                started,
                cpu_wait,
            } => {
                // A killed sandbox's invocations have already ended (failed).
                let p = &self.pending[invocation.0 as usize];
                if self.platform.is_live(sandbox) && p.sandbox == sandbox.0 {
                    self.finish(now, sandbox, invocation, started, cpu_wait, backend, sink);
                }
            }
            Completion::Timer(timer) => self.on_timer(now, timer, backend, sink),
            Completion::SandboxFailed { sandbox, reason } => {
                if !self.platform.is_live(sandbox) {
                    return;
                }
                let worker = self.platform.sandbox(sandbox).worker;
                if self.platform.sandbox(sandbox).state == SandboxState::Creating {
                    if let Some(i) = self.prewarming.iter().position(|&id| id == sandbox) {
                        self.prewarming.swap_remove(i);
                    }
                    let handle = self.created_for[sandbox.index()];
                    if handle != NO_INVOCATION {
                        self.fail_invocation(now, handle, reason, sink);
                    }
                }
                self.kill_invocations(now, sandbox, reason, sink);
                self.destroy(now, sandbox, DestroyReason::Crashed, backend, sink);
                self.drain_queue(now, worker, backend, sink);
                self.notify_memory(now, worker, sink);
            }
        }
    }

    /// Destroys every remaining sandbox at the end of a run. Call only when nothing is in flight.
    pub fn shutdown<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        backend: &mut B,
        sink: &mut S,
    ) {
        assert_eq!(self.in_flight, 0, "shutdown with invocations in flight");
        let ids: Vec<(WorkerId, SandboxId)> = self
            .platform
            .all_sandboxes()
            .map(|sb| (sb.worker, sb.id))
            .collect();
        for &(worker, id) in &ids {
            self.destroy(now, id, DestroyReason::Shutdown, backend, sink);
            if self.platform.worker(worker).sandboxes == 0 {
                self.notify_memory(now, worker, sink);
            }
        }
        for w in 0..self.workers.len() {
            let worker = WorkerId(w as u32);
            let Some(zygotes) = &mut self.zygotes else {
                break;
            };
            let gone = zygotes.clear(worker);
            if !gone.is_empty() {
                self.destroy_zygotes(now, worker, &gone, DestroyReason::Shutdown, backend, sink);
                self.notify_memory(now, worker, sink);
            }
        }
    }

    /// Tells the backend and the sink that zygotes of `worker` are gone, and frees their memory.
    fn destroy_zygotes<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        worker: WorkerId,
        gone: &[(crate::backend::ZygoteId, u64)],
        reason: DestroyReason,
        backend: &mut B,
        sink: &mut S,
    ) {
        for &(zygote, memory_mb) in gone {
            backend.destroy_zygote(now, worker, zygote);
            self.platform.change_zygote_mb(worker, 0, memory_mb);
            sink.sandbox(
                now,
                worker,
                SandboxEvent::ZygoteDestroyed { memory_mb, reason },
            );
        }
    }

    /// Release `next-arrival`: the sandboxes held since their invocations ended become idle, in
    /// the order their last invocations arrived, and the keep-alive policy hears of each.
    fn release_held<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        backend: &mut B,
        sink: &mut S,
    ) {
        let mut held = std::mem::take(&mut self.held);
        held.sort_unstable();
        for &(_, sandbox) in &held {
            if !self.platform.is_live(sandbox)
                || self.platform.sandbox(sandbox).state != SandboxState::Finished
            {
                continue;
            }
            // Held as if running until now: its idle time starts here.
            let sb = self.platform.sandbox_mut(sandbox);
            sb.last_used = now;
            let worker = sb.worker;
            self.become_idle(now, sandbox, backend, sink);
            self.drain_queue(now, worker, backend, sink);
            self.notify_memory(now, worker, sink);
        }
        held.clear();
        self.held = held;
    }

    /// A policy with its own pool acts before an arrival: it unloads sandboxes and loads others
    /// ahead of time, each where its worker has the memory free.
    fn pool_actions<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        backend: &mut B,
        sink: &mut S,
    ) {
        let mut actions = std::mem::take(&mut self.arrival_actions);
        actions.clear();
        self.keep_alive
            .before_arrival(now, &self.platform, &mut actions);
        for &id in &actions.unload {
            if self.platform.is_live(id) && self.platform.sandbox(id).is_evictable() {
                let worker = self.platform.sandbox(id).worker;
                self.destroy(now, id, DestroyReason::NotKept, backend, sink);
                self.notify_memory(now, worker, sink);
            }
        }
        for &(function, worker) in &actions.prewarm {
            let need = u64::from(self.memory_of(function));
            if self.platform.worker(worker).memory.free_mb() < need {
                continue;
            }
            self.create_ready(now, function, worker, backend, sink);
            self.notify_memory(now, worker, sink);
        }
        self.arrival_actions = actions;
    }

    /// Creates a sandbox of `function` on `worker` that counts as loaded earlier: idle now if
    /// the backend can make it so (the simulator), else pre-warmed as usual. Its first use is a
    /// warm start. Memory must be free.
    fn create_ready<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        backend: &mut B,
        sink: &mut S,
    ) {
        let sandbox = self.new_sandbox(now, function, worker, NO_INVOCATION, false, sink);
        let memory_mb = self.platform.sandbox(sandbox).memory_mb;
        let request = CreateRequest::plain(
            function,
            worker,
            memory_mb,
            self.catalog.function(function).init,
        );
        if backend.create_ready(now, sandbox, &request) {
            let sb = self.platform.sandbox_mut(sandbox);
            sb.first_idle = Some(now);
            self.platform.transition(sandbox, SandboxState::Idle, 0);
            self.apply(
                now,
                sandbox,
                IdleDecision::Keep { until: None },
                DestroyReason::NotKept,
                backend,
                sink,
            );
        } else {
            self.prewarming.push(sandbox);
        }
    }

    /// Adds a sandbox of `function` on `worker`, created for the invocation `handle` (or for
    /// none), reserves its memory and reports it to the sink and to a policy with a pool.
    fn new_sandbox<S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        handle: InvocationHandle,
        pinned: bool,
        sink: &mut S,
    ) -> SandboxId {
        let sandbox =
            self.platform
                .insert_sandbox(now, function, worker, self.sandbox_memory_mb, pinned);
        if self.created_for.len() <= sandbox.index() {
            self.created_for.resize(sandbox.index() + 1, NO_INVOCATION);
        }
        self.created_for[sandbox.index()] = handle;
        let memory_mb = self.platform.sandbox(sandbox).memory_mb;
        sink.sandbox(
            now,
            worker,
            SandboxEvent::Created {
                function,
                memory_mb,
            },
        );
        if self.pool_policy {
            let duration =
                (handle != NO_INVOCATION).then(|| self.pending[handle.0 as usize].duration);
            self.keep_alive.on_created(
                now,
                self.platform.sandbox(sandbox),
                duration,
                &self.platform,
            );
        }
        sandbox
    }

    /// Tells a policy with a pool that an invocation was given `sandbox`.
    fn placed(&mut self, now: Time, sandbox: SandboxId, handle: InvocationHandle) {
        if self.pool_policy {
            let p = &self.pending[handle.0 as usize];
            self.keep_alive.on_placed(
                now,
                self.platform.sandbox(sandbox),
                p.kind,
                p.duration,
                &self.platform,
            );
        }
    }

    fn track(&mut self, p: Pending) -> InvocationHandle {
        match self.free_pending.pop() {
            Some(slot) => {
                self.pending[slot as usize] = p;
                InvocationHandle(slot)
            }
            None => {
                self.pending.push(p);
                InvocationHandle((self.pending.len() - 1) as u32)
            }
        }
    }

    fn untrack(&mut self, handle: InvocationHandle) -> Pending {
        let p = self.pending[handle.0 as usize];
        self.pending[handle.0 as usize].sandbox = NO_SANDBOX;
        self.free_pending.push(handle.0);
        self.in_flight -= 1;
        self.platform.add_in_flight(p.worker, -1);
        p
    }

    /// Starts an invocation in an existing sandbox that has room.
    fn start_in<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        handle: InvocationHandle,
        sandbox: SandboxId,
        backend: &mut B,
        sink: &mut S,
    ) {
        let sb = self.platform.sandbox(sandbox);
        let kind = match sb.state {
            SandboxState::Paused => {
                let (worker, function) = (sb.worker, sb.function);
                backend.unpause(now, sandbox);
                sink.sandbox(now, worker, SandboxEvent::Unpaused { function });
                StartKind::Unpause
            }
            _ if sb.prewarmed => StartKind::Prewarmed,
            _ => StartKind::Warm,
        };
        let p = &mut self.pending[handle.0 as usize];
        p.kind = kind;
        p.placed = now;
        p.sandbox = sandbox.0;
        let duration = p.duration;
        let sb = self.platform.sandbox_mut(sandbox);
        sb.uses += 1;
        sb.last_used = now;
        sb.deadline = None;
        sb.prewarmed = false;
        sb.paused_at = None;
        let running = sb.running + 1;
        self.platform
            .transition(sandbox, SandboxState::Running, running);
        self.placed(now, sandbox, handle);
        self.keep_alive
            .on_start(now, self.platform.sandbox(sandbox), kind, &self.platform);
        backend.start_invocation(now, sandbox, handle, duration);
    }

    /// Hands a pre-warmed sandbox that is still being created on `worker` to an arrival that
    /// found nothing warm: it waits for the sandbox instead of creating another.
    fn claim_prewarming(
        &mut self,
        now: Time,
        handle: InvocationHandle,
        function: FunctionId,
        worker: WorkerId,
    ) -> bool {
        let Some(i) = self.prewarming.iter().position(|&id| {
            let sb = self.platform.sandbox(id);
            sb.function == function && sb.worker == worker
        }) else {
            return false;
        };
        let sandbox = self.prewarming.swap_remove(i);
        self.created_for[sandbox.index()] = handle;
        let forked = self.platform.sandbox(sandbox).forked;
        let p = &mut self.pending[handle.0 as usize];
        p.kind = cold_kind(forked);
        p.placed = now;
        self.placed(now, sandbox, handle);
        true
    }

    /// A sandbox created ahead of time is ready: it waits idle for its first invocation.
    fn ready_ahead<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        backend: &mut B,
        sink: &mut S,
    ) {
        if let Some(i) = self.prewarming.iter().position(|&id| id == sandbox) {
            self.prewarming.swap_remove(i);
        }
        let sb = self.platform.sandbox_mut(sandbox);
        sb.last_used = now;
        sb.prewarmed = true;
        sb.first_idle = Some(now);
        let (worker, function, pinned, until) = (sb.worker, sb.function, sb.pinned, sb.deadline);
        self.platform.transition(sandbox, SandboxState::Idle, 0);
        if let Some(h) = self.platform.dequeue_function(worker, function) {
            self.start_in(now, InvocationHandle(h), sandbox, backend, sink);
        } else if !pinned {
            self.apply(
                now,
                sandbox,
                IdleDecision::Keep { until },
                DestroyReason::NotKept,
                backend,
                sink,
            );
        }
        self.drain_queue(now, worker, backend, sink);
        self.notify_memory(now, worker, sink);
    }

    /// Creates a sandbox for the invocation, evicting if memory is short.
    fn cold_start<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        handle: InvocationHandle,
        backend: &mut B,
        sink: &mut S,
    ) -> ColdStart {
        let Pending {
            function, worker, ..
        } = self.pending[handle.0 as usize];
        if !self.make_room(now, function, worker, backend, sink) {
            return ColdStart::NoRoom;
        }
        let p = &mut self.pending[handle.0 as usize];
        p.kind = StartKind::Cold;
        p.placed = now;
        let sandbox = self.create(now, function, worker, handle, None, false, backend, sink);
        self.placed(now, sandbox, handle);
        ColdStart::Started
    }

    /// Frees memory on `worker` for a sandbox of `function`, evicting what the keep-alive policy
    /// chooses; false if that cannot free enough (then nothing is evicted).
    fn make_room<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        backend: &mut B,
        sink: &mut S,
    ) -> bool {
        let need = u64::from(self.memory_of(function));
        let free = self.platform.worker(worker).memory.free_mb();
        if free < need && self.eviction == EvictionMode::None {
            return false;
        }
        if free < need {
            let whole = self.eviction == EvictionMode::WholeSize;
            // Every zygote can go, leaves first.
            let zygote_mb = self.zygotes.as_ref().map_or(0, |z| z.used_mb(worker));
            if !whole && !self.may_kill && self.platform.reclaimable_mb(worker) + zygote_mb < need {
                return false;
            }
            let mut victims = std::mem::take(&mut self.victims);
            victims.clear();
            let target = if whole { need } else { need - free };
            self.keep_alive
                .choose_victims(now, worker, target, &self.platform, &mut victims);
            victims.sort_unstable();
            victims.dedup();
            let may_kill = self.may_kill;
            victims.retain(|&id| {
                self.platform.is_live(id) && {
                    let sb = self.platform.sandbox(id);
                    sb.worker == worker
                        && (sb.is_evictable()
                            || may_kill && sb.state == SandboxState::Running && !sb.pinned)
                }
            });
            let freed: u64 = victims
                .iter()
                .map(|&id| u64::from(self.platform.sandbox(id).memory_mb))
                .sum();
            // Zygotes give way when sandboxes cannot free enough.
            if !whole && free + freed + zygote_mb < need {
                self.victims = victims;
                return false;
            }
            for &id in &victims {
                self.destroy(now, id, DestroyReason::Evicted, backend, sink);
            }
            self.keep_alive
                .on_evicted(now, worker, &victims, &self.platform);
            self.victims = victims;
            if whole && free + freed + zygote_mb < need {
                self.notify_memory(now, worker, sink);
                return false;
            }
            let short = need.saturating_sub(free + freed);
            if short > 0
                && let Some(zygotes) = &mut self.zygotes
            {
                let gone = zygotes.evict_for_memory(worker, short);
                self.destroy_zygotes(now, worker, &gone, DestroyReason::Evicted, backend, sink);
            }
        }
        true
    }

    /// Creates a sandbox of `function` on `worker` for the invocation `handle` (or for none: a
    /// pre-warmed or provisioned sandbox, kept until `until` once ready). Memory must be free.
    #[allow(clippy::too_many_arguments)]
    fn create<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        handle: InvocationHandle,
        until: Option<Time>,
        pinned: bool,
        backend: &mut B,
        sink: &mut S,
    ) -> SandboxId {
        let sandbox = self.new_sandbox(now, function, worker, handle, pinned, sink);
        if handle == NO_INVOCATION {
            self.platform.sandbox_mut(sandbox).deadline = until;
            if !pinned {
                self.prewarming.push(sandbox);
            }
        }
        let memory_mb = self.platform.sandbox(sandbox).memory_mb;
        let packages = std::mem::take(&mut self.catalog.functions[function.index()].packages);
        let (install, installed) = self.plan_install(now, function, worker, &packages, sink);
        let imports = self.plan_imports(now, function, worker, &packages, backend, sink);
        let import = imports.as_ref().map_or(&packages[..], |p| &p.import[..]);
        let fork = imports.as_ref().and_then(|p| p.fork);
        if fork.is_some() {
            self.platform.sandbox_mut(sandbox).forked = true;
            if handle != NO_INVOCATION {
                self.pending[handle.0 as usize].kind = StartKind::ZygoteFork;
            }
        }
        backend.create_sandbox(
            now,
            sandbox,
            &CreateRequest {
                function,
                worker,
                memory_mb,
                init: self.catalog.function(function).init,
                install: &install,
                installed: &installed,
                spawn: imports.as_ref().map_or(&[], |p| &p.spawn[..]),
                fork,
                import,
            },
        );
        self.catalog.functions[function.index()].packages = packages;
        sandbox
    }

    /// What a cold start on `worker` imports itself and which zygote it forks from, creating and
    /// evicting zygotes as the import cache decides; `None` without an import cache (or
    /// packages).
    fn plan_imports<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        packages: &[workloads::packages::PackageId],
        backend: &mut B,
        sink: &mut S,
    ) -> Option<crate::zygotes::ImportPlan> {
        if packages.is_empty() {
            return None;
        }
        let Some(zygotes) = &mut self.zygotes else {
            sink.sandbox(
                now,
                worker,
                SandboxEvent::Imported {
                    function,
                    hits: 0,
                    misses: packages.len() as u32,
                },
            );
            return None;
        };
        let free = self.platform.worker(worker).memory.free_mb();
        let plan = zygotes.plan(worker, function, packages, free);
        self.destroy_zygotes(
            now,
            worker,
            &plan.evicted,
            DestroyReason::Evicted,
            backend,
            sink,
        );
        for &(packages, memory_mb) in &plan.created {
            self.platform.change_zygote_mb(worker, memory_mb, 0);
            sink.sandbox(
                now,
                worker,
                SandboxEvent::ZygoteCreated {
                    packages,
                    memory_mb,
                },
            );
        }
        sink.sandbox(
            now,
            worker,
            SandboxEvent::Imported {
                function,
                hits: plan.hits,
                misses: packages.len() as u32 - plan.hits,
            },
        );
        Some(plan)
    }

    /// Which of a cold start's `packages` must be installed on `worker` and which are there,
    /// updating the worker's install cache (evicting to make room as its policy chooses).
    fn plan_install<S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        packages: &[workloads::packages::PackageId],
        sink: &mut S,
    ) -> (
        Vec<workloads::packages::PackageId>,
        Vec<workloads::packages::PackageId>,
    ) {
        if packages.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let catalog = &self.catalog.packages;
        let bytes_of = |ids: &[workloads::packages::PackageId]| -> u64 {
            ids.iter().map(|&p| catalog.package(p).disk_bytes).sum()
        };
        let Some((caches, policy)) = &mut self.install else {
            sink.sandbox(
                now,
                worker,
                SandboxEvent::Installed {
                    function,
                    hits: 0,
                    misses: packages.len() as u32,
                    bytes: bytes_of(packages),
                },
            );
            return (packages.to_vec(), Vec::new());
        };
        let plan = caches.plan(worker, packages);
        let need = bytes_of(&plan.missing);
        let mut kept: &[workloads::packages::PackageId] = &plan.missing;
        let shortfall = caches.shortfall(worker, need);
        if shortfall > 0 {
            let mut victims = Vec::new();
            policy.choose_victims(
                now,
                worker,
                shortfall,
                packages,
                caches,
                catalog,
                &mut victims,
            );
            victims.sort_unstable();
            victims.dedup();
            victims.retain(|p| caches.entry(worker, *p).installed && !packages.contains(p));
            let freed = bytes_of(&victims);
            if freed >= shortfall {
                for &p in &victims {
                    caches.remove(worker, p, catalog);
                }
                sink.sandbox(
                    now,
                    worker,
                    SandboxEvent::Uninstalled {
                        packages: victims.len() as u32,
                        bytes: freed,
                    },
                );
            } else {
                // They do not fit: installed for this sandbox alone.
                kept = &[];
            }
        }
        caches.record(worker, packages, kept, now, catalog);
        for &p in packages {
            policy.on_use(now, worker, p, caches, catalog);
        }
        sink.sandbox(
            now,
            worker,
            SandboxEvent::Installed {
                function,
                hits: plan.hits.len() as u32,
                misses: plan.missing.len() as u32,
                bytes: need,
            },
        );
        (plan.missing, plan.hits)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        handle: InvocationHandle,
        started: Time,
        cpu_wait: Time,
        backend: &mut B,
        sink: &mut S,
    ) {
        let p = self.untrack(handle);
        // Waiting for a core is queueing too, after the wait for memory.
        let queue = p.placed - p.arrival + cpu_wait;
        let startup = started - p.arrival;
        // An invocation that claimed a pre-warmed sandbox already being created waited only for
        // the rest of its creation: it is charged no more of each phase than it waited.
        let mut left = startup - queue;
        let mut charge = |phase: Time| {
            let c = phase.min(left);
            left -= c;
            c
        };
        let (create, install, import) = (charge(p.create), charge(p.install), charge(p.import));
        let phases = Phases {
            queue,
            create,
            install,
            import,
            init: left,
            exec: now - started,
        };
        let function = self.platform.sandbox(sandbox).function;
        sink.invocation(&Record {
            id: p.id,
            function: p.function,
            app: self.platform.function(function).app,
            worker: p.worker,
            arrival: p.arrival,
            start: started,
            end: now,
            start_kind: Some(p.kind),
            phases,
            outcome: Outcome::Ok,
        });

        let worker = p.worker;
        let sb = self.platform.sandbox_mut(sandbox);
        sb.last_used = now;
        let running = sb.running - 1;
        let handoff = match self.handoff {
            Handoff::Function => self.platform.dequeue_function(worker, function),
            Handoff::Head => None,
        };
        if let Some(h) = handoff {
            self.platform
                .transition(sandbox, SandboxState::Running, running);
            self.start_in(now, InvocationHandle(h), sandbox, backend, sink);
        } else if running > 0 {
            self.platform
                .transition(sandbox, SandboxState::Running, running);
        } else if self.release == ReleaseMode::NextArrival {
            self.platform.transition(sandbox, SandboxState::Finished, 0);
            self.held.push((p.id, sandbox));
        } else {
            self.become_idle(now, sandbox, backend, sink);
        }
        self.drain_queue(now, worker, backend, sink);
        self.notify_memory(now, worker, sink);
        self.background_evict(now, worker, backend, sink);
    }

    /// A sandbox that ran its last invocation becomes idle, and the keep-alive policy decides
    /// what happens to it.
    fn become_idle<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        backend: &mut B,
        sink: &mut S,
    ) {
        let sb = self.platform.sandbox_mut(sandbox);
        sb.first_idle.get_or_insert(now);
        let pinned = sb.pinned;
        self.platform.transition(sandbox, SandboxState::Idle, 0);
        // Provisioned sandboxes stay warm whatever the policy would say.
        if !pinned {
            let decision =
                self.keep_alive
                    .on_idle(now, self.platform.sandbox(sandbox), &self.platform);
            self.apply(
                now,
                sandbox,
                decision,
                DestroyReason::NotKept,
                backend,
                sink,
            );
        }
    }

    fn on_timer<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        timer: Timer,
        backend: &mut B,
        sink: &mut S,
    ) {
        let (id, generation) = match timer {
            Timer::Sandbox {
                sandbox,
                generation,
            } => (sandbox, generation),
            Timer::Prewarm {
                function,
                worker,
                until,
                token,
            } => {
                self.prewarm(now, function, worker, until, token, backend, sink);
                return;
            }
        };
        if !self.platform.is_live(id) || self.platform.generation(id) != generation {
            return;
        }
        let sb = self.platform.sandbox_mut(id);
        sb.timer_at = None;
        if sb.retiring {
            let worker = sb.worker;
            self.destroy(now, id, DestroyReason::NotKept, backend, sink);
            self.drain_queue(now, worker, backend, sink);
            self.notify_memory(now, worker, sink);
            self.background_evict(now, worker, backend, sink);
            return;
        }
        let Some(deadline) = sb.deadline else {
            return;
        };
        if !sb.state.is_evictable() {
            return;
        }
        if now < deadline {
            sb.timer_at = Some(deadline);
            backend.set_timer(deadline, timer);
            return;
        }
        sb.deadline = None;
        let worker = sb.worker;
        let decision = self
            .keep_alive
            .on_deadline(now, self.platform.sandbox(id), &self.platform);
        self.apply(now, id, decision, DestroyReason::Expired, backend, sink);
        self.drain_queue(now, worker, backend, sink);
        self.notify_memory(now, worker, sink);
        self.background_evict(now, worker, backend, sink);
    }

    /// A pre-warm is due: load a sandbox of `function` on `worker` unless a later decision
    /// replaced this one or the worker already holds a sandbox of the function.
    #[allow(clippy::too_many_arguments)]
    fn prewarm<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        until: Option<Time>,
        token: u32,
        backend: &mut B,
        sink: &mut S,
    ) {
        if self.prewarm_token[function.index()] != token
            || self.platform.sandboxes_of(function, worker) > 0
            || self.platform.worker(worker).queue_len() > 0
            || !self.make_room(now, function, worker, backend, sink)
        {
            return;
        }
        self.create(
            now,
            function,
            worker,
            NO_INVOCATION,
            until,
            false,
            backend,
            sink,
        );
        self.notify_memory(now, worker, sink);
    }

    /// Evicts what a policy with a free-memory goal wants gone from `worker`.
    fn background_evict<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        worker: WorkerId,
        backend: &mut B,
        sink: &mut S,
    ) {
        if !self.background {
            return;
        }
        let mut victims = std::mem::take(&mut self.victims);
        victims.clear();
        self.keep_alive
            .background_victims(now, worker, &self.platform, &mut victims);
        victims.sort_unstable();
        victims.dedup();
        let mut evicted = false;
        for &id in &victims {
            if self.platform.is_live(id) && {
                let sb = self.platform.sandbox(id);
                sb.worker == worker && sb.is_evictable()
            } {
                self.destroy(now, id, DestroyReason::Evicted, backend, sink);
                evicted = true;
            }
        }
        self.victims = victims;
        if evicted {
            self.drain_queue(now, worker, backend, sink);
            self.notify_memory(now, worker, sink);
        }
    }

    /// Carries out a keep-alive decision for an idle or paused sandbox.
    fn apply<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        decision: IdleDecision,
        reason: DestroyReason,
        backend: &mut B,
        sink: &mut S,
    ) {
        let until = match decision {
            IdleDecision::Destroy
                if self.unload == UnloadTiming::EndOfInstant
                    && reason == DestroyReason::NotKept
                    && self.platform.sandbox(sandbox).state == SandboxState::Idle =>
            {
                self.platform.sandbox_mut(sandbox).retiring = true;
                self.platform.transition(sandbox, SandboxState::Finished, 0);
                let sb = self.platform.sandbox_mut(sandbox);
                sb.timer_at = Some(now);
                let generation = self.platform.bump_generation(sandbox);
                backend.set_timer(
                    now,
                    Timer::Sandbox {
                        sandbox,
                        generation,
                    },
                );
                return;
            }
            IdleDecision::Destroy => {
                self.destroy(now, sandbox, reason, backend, sink);
                return;
            }
            IdleDecision::Prewarm { at, until } => {
                let sb = self.platform.sandbox(sandbox);
                let (function, worker) = (sb.function, sb.worker);
                self.destroy(now, sandbox, reason, backend, sink);
                let token = &mut self.prewarm_token[function.index()];
                *token = token.wrapping_add(1);
                let token = *token;
                backend.set_timer(
                    at.max(now),
                    Timer::Prewarm {
                        function,
                        worker,
                        until,
                        token,
                    },
                );
                return;
            }
            IdleDecision::Keep { until } => until,
            IdleDecision::Pause { until } => {
                let sb = self.platform.sandbox(sandbox);
                if sb.state != SandboxState::Paused {
                    let (worker, function) = (sb.worker, sb.function);
                    self.platform.set_state(sandbox, SandboxState::Paused);
                    self.platform.sandbox_mut(sandbox).paused_at = Some(now);
                    backend.pause(now, sandbox);
                    sink.sandbox(now, worker, SandboxEvent::Paused { function });
                }
                until
            }
        };
        let sb = self.platform.sandbox_mut(sandbox);
        sb.deadline = until;
        let Some(at) = until else {
            return;
        };
        let at = at.max(now);
        // An earlier pending timer re-arms for the later deadline when it fires. DSLab's order
        // places a deadline among simultaneous events by when it was set, so then the pending
        // timer goes stale and a new one is set now.
        if self.ties == TieOrder::CompletionsFirst
            && sb.timer_at.is_some_and(|pending| pending <= at)
        {
            return;
        }
        sb.timer_at = Some(at);
        let generation = self.platform.bump_generation(sandbox);
        backend.set_timer(
            at,
            Timer::Sandbox {
                sandbox,
                generation,
            },
        );
    }

    fn destroy<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        reason: DestroyReason,
        backend: &mut B,
        sink: &mut S,
    ) {
        if self.platform.sandbox(sandbox).state == SandboxState::Running {
            self.kill_invocations(now, sandbox, FailReason::Killed, sink);
        }
        let sb = self.platform.remove_sandbox(sandbox);
        backend.destroy(now, sandbox);
        sink.sandbox(
            now,
            sb.worker,
            SandboxEvent::Destroyed {
                function: sb.function,
                reason,
            },
        );
        self.keep_alive
            .on_destroyed(now, &sb, reason, &self.platform);
    }

    /// Ends the invocations running in `sandbox` as failed with `reason`.
    fn kill_invocations<S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        reason: FailReason,
        sink: &mut S,
    ) {
        let running: Vec<u32> = (0..self.pending.len() as u32)
            .filter(|&h| self.pending[h as usize].sandbox == sandbox.0)
            .collect();
        for h in running {
            self.fail_invocation(now, InvocationHandle(h), reason, sink);
        }
    }

    /// Ends one invocation as failed with `reason`.
    fn fail_invocation<S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        handle: InvocationHandle,
        reason: FailReason,
        sink: &mut S,
    ) {
        let p = self.untrack(handle);
        sink.invocation(&Record {
            id: p.id,
            function: p.function,
            app: self.platform.function(p.function).app,
            worker: p.worker,
            arrival: p.arrival,
            start: p.placed,
            end: now,
            start_kind: Some(p.kind),
            phases: Phases {
                queue: p.placed - p.arrival,
                create: p.create,
                ..Phases::default()
            },
            outcome: Outcome::Failed(reason),
        });
    }

    /// Starts queued invocations from the head of the worker's queue while they fit.
    fn drain_queue<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        worker: WorkerId,
        backend: &mut B,
        sink: &mut S,
    ) {
        while let Some((head, function)) = self.platform.queue_head(worker) {
            let handle = InvocationHandle(head);
            if let Some(sandbox) = self.platform.reusable_on(function, worker) {
                self.platform.dequeue(worker);
                self.start_in(now, handle, sandbox, backend, sink);
                continue;
            }
            match self.cold_start(now, handle, backend, sink) {
                ColdStart::Started => self.platform.dequeue(worker),
                ColdStart::NoRoom => break,
            }
        }
    }

    fn drop_invocation<S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        handle: InvocationHandle,
        reason: DropReason,
        sink: &mut S,
    ) {
        let p = self.untrack(handle);
        sink.invocation(&Record {
            id: p.id,
            function: p.function,
            app: self.platform.function(p.function).app,
            worker: p.worker,
            arrival: p.arrival,
            start: now,
            end: now,
            start_kind: None,
            phases: Phases::default(),
            outcome: Outcome::Dropped(reason),
        });
    }

    fn notify_memory<S: RecordSink + ?Sized>(&self, now: Time, worker: WorkerId, sink: &mut S) {
        sink.memory(now, worker, &self.platform.worker(worker).memory);
    }
}
