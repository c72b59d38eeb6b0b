//! Platform state: workers, the sandboxes on them and the functions they host.
//!
//! Policies see this state only through `&Platform`; the controller is the only code that
//! changes it.

use std::collections::VecDeque;

use workloads::{AppId, Catalog, FunctionId, Time};

use crate::WorkerId;
use crate::record::MemoryState;

/// Dense index of a sandbox slot. Slots are reused after a sandbox is destroyed; anything that
/// refers to a sandbox across time (timers) also carries a generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SandboxId(pub u32);

impl SandboxId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a sandbox is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxState {
    /// Being created; its memory is already reserved.
    Creating,
    /// Running at least one invocation.
    Running,
    /// Warm and idle: it can take an invocation at once, or be evicted.
    Idle,
    /// Frozen: it holds its memory but no CPU; it can be unpaused for an invocation, or evicted.
    Paused,
}

impl SandboxState {
    /// Idle and paused sandboxes hold memory that can be reclaimed without hurting anyone.
    pub fn is_evictable(self) -> bool {
        matches!(self, SandboxState::Idle | SandboxState::Paused)
    }
}

/// A sandbox (container) holding one function's code.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub id: SandboxId,
    pub function: FunctionId,
    pub worker: WorkerId,
    pub memory_mb: u32,
    pub state: SandboxState,
    /// Invocations running in it now.
    pub running: u32,
    /// Invocations it may run at once.
    pub concurrency: u32,
    pub created_at: Time,
    /// When it last started or finished an invocation (creation counts as a use).
    pub last_used: Time,
    /// Invocations it has started.
    pub uses: u64,
    /// When the keep-alive policy wants to hear about it again, if it is idle or paused.
    pub deadline: Option<Time>,
    /// When the pending timer for this sandbox fires, if one is pending.
    pub(crate) timer_at: Option<Time>,
}

impl Sandbox {
    /// Whether one more invocation can start in it without creating anything.
    pub fn has_room(&self) -> bool {
        match self.state {
            SandboxState::Running => self.running < self.concurrency,
            SandboxState::Idle | SandboxState::Paused => true,
            SandboxState::Creating => false,
        }
    }
}

/// What the platform needs to know about a function, resolved once at load.
#[derive(Clone, Debug)]
pub struct FunctionInfo {
    pub app: AppId,
    pub memory_mb: u32,
    pub concurrency: u32,
    /// A stable hash of the function's name (FNV-1a), for affinity schedulers: it does not
    /// change when a trace is sampled or reordered.
    pub name_hash: u64,
}

/// A worker machine.
#[derive(Clone, Debug)]
pub struct Worker {
    pub id: WorkerId,
    pub memory: MemoryState,
    pub cores: u32,
    /// Invocations assigned to this worker that have not ended: queued, waiting for a sandbox,
    /// or running.
    pub in_flight: u32,
    /// Invocations waiting for memory, oldest first (handles into the controller's table).
    pub(crate) queue: VecDeque<u32>,
    /// Sandboxes on this worker, in no particular order.
    pub(crate) sandboxes: Vec<SandboxId>,
}

impl Worker {
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    pub fn sandboxes(&self) -> &[SandboxId] {
        &self.sandboxes
    }

    /// Memory that running or starting sandboxes hold; the rest of the capacity is free or
    /// reclaimable by eviction.
    pub fn committed_mb(&self) -> u64 {
        self.memory.busy_mb
    }
}

/// The whole platform: workers, live sandboxes and per-function indexes.
pub struct Platform {
    workers: Vec<Worker>,
    functions: Vec<FunctionInfo>,
    sandboxes: Vec<Option<Sandbox>>,
    /// A generation per slot, bumped whenever a slot's sandbox changes or its timer is replaced.
    generations: Vec<u32>,
    free_slots: Vec<u32>,
    by_function: Vec<Vec<SandboxId>>,
    live: usize,
}

/// A worker's resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerSpec {
    pub memory_mb: u64,
    pub cores: u32,
}

/// FNV-1a, 64 bit: tiny, stable across platforms and releases (unlike `std`'s hasher).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Platform {
    pub fn new(catalog: &Catalog, workers: &[WorkerSpec], default_concurrency: u32) -> Self {
        let functions = catalog
            .functions
            .iter()
            .map(|f| FunctionInfo {
                app: f.app,
                memory_mb: f.memory_mb,
                concurrency: f.concurrency.unwrap_or(default_concurrency).max(1),
                name_hash: fnv1a(f.name.as_bytes()),
            })
            .collect::<Vec<_>>();
        let workers = workers
            .iter()
            .enumerate()
            .map(|(i, spec)| Worker {
                id: WorkerId(i as u32),
                memory: MemoryState {
                    capacity_mb: spec.memory_mb,
                    ..MemoryState::default()
                },
                cores: spec.cores,
                in_flight: 0,
                queue: VecDeque::new(),
                sandboxes: Vec::new(),
            })
            .collect();
        Platform {
            by_function: vec![Vec::new(); functions.len()],
            workers,
            functions,
            sandboxes: Vec::new(),
            generations: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
        }
    }

    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    pub fn worker(&self, id: WorkerId) -> &Worker {
        &self.workers[id.index()]
    }

    pub fn function(&self, id: FunctionId) -> &FunctionInfo {
        &self.functions[id.index()]
    }

    pub fn num_functions(&self) -> usize {
        self.functions.len()
    }

    pub fn sandbox(&self, id: SandboxId) -> &Sandbox {
        self.sandboxes[id.index()]
            .as_ref()
            .expect("sandbox id refers to a live sandbox")
    }

    /// Live sandboxes of a function, on any worker.
    pub fn sandboxes_of(&self, function: FunctionId) -> &[SandboxId] {
        &self.by_function[function.index()]
    }

    /// Number of live sandboxes.
    pub fn live_sandboxes(&self) -> usize {
        self.live
    }

    /// Whether `worker` could start `function` now without creating a sandbox.
    pub fn has_reusable(&self, function: FunctionId, worker: WorkerId) -> bool {
        self.by_function[function.index()].iter().any(|&id| {
            let sb = self.sandbox(id);
            sb.worker == worker && sb.has_room()
        })
    }

    /// Memory on `worker` that is free now or held by idle and paused sandboxes.
    pub fn reclaimable_mb(&self, worker: WorkerId) -> u64 {
        let m = &self.workers[worker.index()].memory;
        m.capacity_mb.saturating_sub(m.busy_mb)
    }

    pub(crate) fn generation(&self, id: SandboxId) -> u32 {
        self.generations[id.index()]
    }

    pub(crate) fn bump_generation(&mut self, id: SandboxId) -> u32 {
        let g = &mut self.generations[id.index()];
        *g = g.wrapping_add(1);
        *g
    }

    pub(crate) fn sandbox_mut(&mut self, id: SandboxId) -> &mut Sandbox {
        self.sandboxes[id.index()]
            .as_mut()
            .expect("sandbox id refers to a live sandbox")
    }

    pub(crate) fn is_live(&self, id: SandboxId) -> bool {
        self.sandboxes
            .get(id.index())
            .is_some_and(|slot| slot.is_some())
    }

    pub(crate) fn worker_mut(&mut self, id: WorkerId) -> &mut Worker {
        &mut self.workers[id.index()]
    }

    /// Adds a sandbox in the `Creating` state and reserves its memory.
    pub(crate) fn insert_sandbox(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
    ) -> SandboxId {
        let info = &self.functions[function.index()];
        let id = match self.free_slots.pop() {
            Some(slot) => SandboxId(slot),
            None => {
                self.sandboxes.push(None);
                self.generations.push(0);
                SandboxId((self.sandboxes.len() - 1) as u32)
            }
        };
        let sandbox = Sandbox {
            id,
            function,
            worker,
            memory_mb: info.memory_mb,
            state: SandboxState::Creating,
            running: 0,
            concurrency: info.concurrency,
            created_at: now,
            last_used: now,
            uses: 0,
            deadline: None,
            timer_at: None,
        };
        self.workers[worker.index()].memory.busy_mb += u64::from(info.memory_mb);
        self.workers[worker.index()].sandboxes.push(id);
        self.by_function[function.index()].push(id);
        self.sandboxes[id.index()] = Some(sandbox);
        self.bump_generation(id);
        self.live += 1;
        id
    }

    /// Moves a sandbox to a new state, keeping the worker's memory split in step.
    pub(crate) fn set_state(&mut self, id: SandboxId, state: SandboxState) {
        let sb = self.sandboxes[id.index()]
            .as_mut()
            .expect("sandbox id refers to a live sandbox");
        let old = sb.state;
        if old == state {
            return;
        }
        sb.state = state;
        let mb = u64::from(sb.memory_mb);
        let memory = &mut self.workers[sb.worker.index()].memory;
        *bucket(memory, old) -= mb;
        *bucket(memory, state) += mb;
    }

    /// Removes a sandbox and releases its memory.
    pub(crate) fn remove_sandbox(&mut self, id: SandboxId) -> Sandbox {
        let sb = self.sandboxes[id.index()]
            .take()
            .expect("sandbox id refers to a live sandbox");
        let worker = &mut self.workers[sb.worker.index()];
        *bucket(&mut worker.memory, sb.state) -= u64::from(sb.memory_mb);
        remove_id(&mut worker.sandboxes, id);
        remove_id(&mut self.by_function[sb.function.index()], id);
        self.bump_generation(id);
        self.free_slots.push(id.0);
        self.live -= 1;
        sb
    }
}

fn bucket(memory: &mut MemoryState, state: SandboxState) -> &mut u64 {
    match state {
        SandboxState::Creating | SandboxState::Running => &mut memory.busy_mb,
        SandboxState::Idle => &mut memory.idle_mb,
        SandboxState::Paused => &mut memory.paused_mb,
    }
}

fn remove_id(list: &mut Vec<SandboxId>, id: SandboxId) {
    if let Some(pos) = list.iter().position(|&x| x == id) {
        list.swap_remove(pos);
    }
}
