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
//! Timers are never cancelled: a sandbox keeps at most one pending timer, which on firing either
//! finds the deadline moved later (and re-arms), finds the sandbox in use (and does nothing), or
//! hands the sandbox to the keep-alive policy. Arming an earlier timer bumps the sandbox's
//! generation, which makes the later one stale.

use workloads::{Catalog, FunctionId, Invocation, Time};

use crate::WorkerId;
use crate::backend::{Backend, Completion, CreateRequest, InvocationHandle, Timer};
use crate::platform::{Platform, SandboxId, SandboxState, WorkerSpec};
use crate::policy::{IdleDecision, KeepAlive, Scheduler};
use crate::record::{
    DestroyReason, DropReason, Outcome, Phases, Record, RecordSink, RunInfo, SandboxEvent,
    StartKind,
};

/// What happens to an invocation that finds no memory on its worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueMode {
    /// Wait in the worker's FIFO queue, which holds at most `capacity` invocations.
    Queue { capacity: u32 },
    /// Drop it at once.
    Drop,
}

/// Platform parameters the controller enforces.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerConfig {
    pub workers: Vec<WorkerSpec>,
    /// Invocations one sandbox runs at once, unless a function says otherwise.
    pub concurrency: u32,
    pub queue: QueueMode,
}

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
    init: Time,
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
}

impl Controller {
    pub fn new(
        catalog: Catalog,
        config: &ControllerConfig,
        keep_alive: Box<dyn KeepAlive>,
        scheduler: Box<dyn Scheduler>,
    ) -> Self {
        let platform = Platform::new(&catalog, &config.workers, config.concurrency.max(1));
        Controller {
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

    /// Invocations that arrived and have not ended.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
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
            init: 0,
        });
        self.next_id += 1;
        self.in_flight += 1;
        self.platform.add_in_flight(worker, 1);

        if let Some(sandbox) = self.platform.reusable_on(function, worker) {
            self.start_in(now, handle, sandbox, backend);
            self.notify_memory(now, worker, sink);
            return;
        }
        let need = u64::from(self.platform.function(function).memory_mb);
        if need > self.platform.worker(worker).memory.capacity_mb {
            self.drop_invocation(now, handle, DropReason::TooLarge, sink);
            return;
        }
        if self.platform.worker(worker).queue_len() == 0
            && let ColdStart::Started = self.cold_start(now, handle, backend, sink)
        {
            self.notify_memory(now, worker, sink);
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
                init,
            } => {
                let handle = self.created_for[sandbox.index()];
                let p = &mut self.pending[handle.0 as usize];
                p.create = create;
                p.init = init;
                let duration = p.duration;
                let sb = self.platform.sandbox_mut(sandbox);
                sb.uses = 1;
                sb.last_used = now;
                self.platform.transition(sandbox, SandboxState::Running, 1);
                backend.start_invocation(now, sandbox, handle, duration);
            }
            Completion::InvocationDone {
                sandbox,
                invocation,
                started,
                cpu_wait,
            } => self.finish(now, sandbox, invocation, started, cpu_wait, backend, sink),
            Completion::Timer(timer) => self.on_timer(now, timer, backend, sink),
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
        self.free_pending.push(handle.0);
        self.in_flight -= 1;
        self.platform.add_in_flight(p.worker, -1);
        p
    }

    /// Starts an invocation in an existing sandbox that has room.
    fn start_in<B: Backend + ?Sized>(
        &mut self,
        now: Time,
        handle: InvocationHandle,
        sandbox: SandboxId,
        backend: &mut B,
    ) {
        let state = self.platform.sandbox(sandbox).state;
        let kind = match state {
            SandboxState::Paused => {
                backend.unpause(now, sandbox);
                StartKind::Unpause
            }
            _ => StartKind::Warm,
        };
        let p = &mut self.pending[handle.0 as usize];
        p.kind = kind;
        p.placed = now;
        let duration = p.duration;
        let sb = self.platform.sandbox_mut(sandbox);
        sb.uses += 1;
        sb.last_used = now;
        sb.deadline = None;
        let running = sb.running + 1;
        self.platform
            .transition(sandbox, SandboxState::Running, running);
        backend.start_invocation(now, sandbox, handle, duration);
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
        let need = u64::from(self.platform.function(function).memory_mb);
        let free = self.platform.worker(worker).memory.free_mb();
        if free < need {
            if self.platform.reclaimable_mb(worker) < need {
                return ColdStart::NoRoom;
            }
            let mut victims = std::mem::take(&mut self.victims);
            victims.clear();
            self.keep_alive
                .choose_victims(now, worker, need - free, &self.platform, &mut victims);
            victims.sort_unstable();
            victims.dedup();
            victims.retain(|&id| {
                self.platform.is_live(id) && {
                    let sb = self.platform.sandbox(id);
                    sb.worker == worker && sb.state.is_evictable()
                }
            });
            let freed: u64 = victims
                .iter()
                .map(|&id| u64::from(self.platform.sandbox(id).memory_mb))
                .sum();
            if free + freed < need {
                self.victims = victims;
                return ColdStart::NoRoom;
            }
            for &id in &victims {
                self.destroy(now, id, DestroyReason::Evicted, backend, sink);
            }
            self.victims = victims;
        }
        let sandbox = self.platform.insert_sandbox(now, function, worker);
        if self.created_for.len() <= sandbox.index() {
            self.created_for
                .resize(sandbox.index() + 1, InvocationHandle(u32::MAX));
        }
        self.created_for[sandbox.index()] = handle;
        let p = &mut self.pending[handle.0 as usize];
        p.kind = StartKind::Cold;
        p.placed = now;
        let memory_mb = self.platform.sandbox(sandbox).memory_mb;
        sink.sandbox(
            now,
            worker,
            SandboxEvent::Created {
                function,
                memory_mb,
            },
        );
        backend.create_sandbox(
            now,
            sandbox,
            &CreateRequest {
                function,
                worker,
                memory_mb,
                init: self.catalog.function(function).init,
            },
        );
        ColdStart::Started
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
        let phases = Phases {
            queue,
            create: p.create,
            install: 0,
            import: 0,
            init: startup - queue - p.create,
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
        if let Some(h) = self.platform.dequeue_function(worker, function) {
            self.platform
                .transition(sandbox, SandboxState::Running, running);
            self.start_in(now, InvocationHandle(h), sandbox, backend);
        } else if running > 0 {
            self.platform
                .transition(sandbox, SandboxState::Running, running);
        } else {
            self.platform.transition(sandbox, SandboxState::Idle, 0);
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
        self.drain_queue(now, worker, backend, sink);
        self.notify_memory(now, worker, sink);
    }

    fn on_timer<B: Backend + ?Sized, S: RecordSink + ?Sized>(
        &mut self,
        now: Time,
        timer: Timer,
        backend: &mut B,
        sink: &mut S,
    ) {
        let id = timer.sandbox;
        if !self.platform.is_live(id) || self.platform.generation(id) != timer.generation {
            return;
        }
        let sb = self.platform.sandbox_mut(id);
        sb.timer_at = None;
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
            IdleDecision::Destroy => {
                self.destroy(now, sandbox, reason, backend, sink);
                return;
            }
            IdleDecision::Keep { until } => until,
            IdleDecision::Pause { until } => {
                let sb = self.platform.sandbox(sandbox);
                if sb.state != SandboxState::Paused {
                    let (worker, function) = (sb.worker, sb.function);
                    self.platform.set_state(sandbox, SandboxState::Paused);
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
        if sb.timer_at.is_some_and(|pending| pending <= at) {
            return;
        }
        sb.timer_at = Some(at);
        let generation = self.platform.bump_generation(sandbox);
        backend.set_timer(
            at,
            Timer {
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
                self.start_in(now, handle, sandbox, backend);
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
