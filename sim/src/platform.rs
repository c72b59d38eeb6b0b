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
    /// Its invocations have ended, but the platform takes it back only at the next arrival
    /// (release `next-arrival`, FaasCache's model): it can neither take an invocation nor be
    /// evicted until then.
    Finished,
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
    /// Provisioned: kept warm for the whole run, never expired or evicted.
    pub pinned: bool,
    /// Created ahead of time by a pre-warming policy and not used yet.
    pub prewarmed: bool,
    /// When it was last paused, if it is paused.
    pub paused_at: Option<Time>,
    /// When it first became idle, if it has been.
    pub first_idle: Option<Time>,
    /// Forked from a zygote rather than started fresh.
    pub forked: bool,
    /// Destroyed by its keep-alive policy as it became idle, and holding its memory until the
    /// events of that instant are done (unload `end-of-instant`); it is `Finished` until then.
    pub retiring: bool,
    /// Index of its (function, worker) pool in the function's pool list.
    pool: u32,
    /// Neighbours in its pool's list (running with room, idle or paused), if it is in one.
    pool_prev: u32,
    pool_next: u32,
    /// Stamp of its entry in its worker's recency queue, set when it last became idle.
    recency_stamp: u64,
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
    /// A stable hash (FNV-1a of `name==version`) of the function's largest package by disk size,
    /// for package-aware schedulers; `None` without packages.
    pub largest_package_hash: Option<u64>,
    /// A stable hash of the packages of the deepest zygote the function can fork from, for
    /// zygote-affinity schedulers: with a static zygote tree, its deepest node's; otherwise the
    /// function's whole package set (the zygote a dynamic tree grows for it). `None` without
    /// packages, or when only the tree's root matches.
    pub zygote_hash: Option<u64>,
}

/// A worker machine.
#[derive(Clone, Debug)]
pub struct Worker {
    pub id: WorkerId,
    pub memory: MemoryState,
    pub cores: u32,
    /// Invocations waiting for memory, oldest first: (handle into the controller's table,
    /// function).
    queue: VecDeque<(u32, FunctionId)>,
    /// Live sandboxes on this worker.
    pub sandboxes: u32,
    /// Idle and paused sandboxes in the order they became idle, which is the order of their last
    /// use, as (sandbox, stamp) entries. Reuse does not touch the queue: an entry whose sandbox is
    /// no longer idle, or became idle again later with a new stamp, is stale and skipped, and the
    /// queue is compacted when stale entries outnumber live ones. So keeping recency order costs
    /// O(1) amortized per state change, and an LRU eviction walks only its victims (and any stale
    /// entries in front of them).
    recency: VecDeque<(SandboxId, u64)>,
    /// Idle and paused sandboxes on this worker: the live entries of `recency`.
    evictable: u32,
    /// Memory of pinned (provisioned) sandboxes that are idle or paused: not reclaimable.
    pinned_idle_mb: u64,
}

impl Worker {
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }
}

/// End of an intrusive list.
const NIL: u32 = u32::MAX;

/// An intrusive doubly linked list of sandboxes; the links live in the sandboxes.
#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };
}

/// The sandboxes of one function on one worker that could take an invocation now, by kind.
///
/// Finding a sandbox for an arrival is the hot path of every simulation, so it is an index, not a
/// scan (a popular function can have hundreds of sandboxes), and it is kept where the scheduler
/// has just looked: each list's ends live in this small entry and the links in the sandboxes, so
/// taking a sandbox touches only memory the invocation needs anyway.
///
/// Each list is in the order its sandboxes joined it: the tail of `idle` is the most recently
/// used idle sandbox, which reuse takes in O(1); any sandbox leaves its list in O(1).
#[derive(Clone, Copy, Debug)]
struct Pool {
    worker: WorkerId,
    /// Invocations of the function queued on the worker, so that a completion looks through the
    /// queue only when one of them is there.
    waiting: u32,
    /// Live sandboxes of the function on the worker, in any state.
    live: u32,
    /// Running sandboxes below their concurrency limit.
    running: List,
    idle: List,
    paused: List,
}

impl Pool {
    fn is_empty(&self) -> bool {
        self.running.head == NIL && self.idle.head == NIL && self.paused.head == NIL
    }

    fn list(&mut self, kind: Reuse) -> &mut List {
        match kind {
            Reuse::Running => &mut self.running,
            Reuse::Idle => &mut self.idle,
            Reuse::Paused => &mut self.paused,
        }
    }
}

/// Which of a pool's lists a sandbox belongs in, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reuse {
    Running,
    Idle,
    Paused,
}

impl Sandbox {
    /// Whether the keep-alive policy may evict it now: idle or paused, and not provisioned.
    pub fn is_evictable(&self) -> bool {
        self.state.is_evictable() && !self.pinned
    }

    fn reuse(&self) -> Option<Reuse> {
        match self.state {
            SandboxState::Running if self.running < self.concurrency => Some(Reuse::Running),
            SandboxState::Idle => Some(Reuse::Idle),
            SandboxState::Paused => Some(Reuse::Paused),
            _ => None,
        }
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
    /// For each function, one pool per worker it has ever had a sandbox on, in order of creation
    /// (a sandbox knows its pool by that position). Pools are kept when they empty, so their
    /// number is bounded by the (function, worker) pairs a run touches, not by its length.
    pools: Vec<Vec<Pool>>,
    /// For each function, (worker, pool position) sorted by worker, to find a pool by binary
    /// search.
    pool_index: Vec<Vec<(WorkerId, u32)>>,
    /// Invocations assigned to each worker that have not ended (queued, waiting for a sandbox or
    /// running). Dense, because load-aware schedulers read every worker's on every arrival.
    in_flight: Vec<u32>,
    /// Bitsets over workers, `words` 64-bit words each, so that a load-aware scheduler finds the
    /// least loaded worker with a warm sandbox in a few word operations instead of a scan of all
    /// workers: `reusable_bits` holds one per function (workers with a reusable sandbox of it),
    /// `load_bits` one per load level k (workers with exactly k invocations in flight).
    words: usize,
    reusable_bits: Vec<u64>,
    load_bits: Vec<u64>,
    /// The lowest load level with a worker on it.
    min_load: u32,
    /// The largest memory of any worker: nothing on any worker is ever more reclaimable.
    max_capacity_mb: u64,
    /// Source of recency stamps.
    next_stamp: u64,
    live: usize,
    /// Which idle (or paused) sandbox an invocation reuses.
    reuse_order: ReuseOrder,
    /// With [`ReuseOrder::SwapSet`]: per function, per pool position, its idle sandboxes in the
    /// set's order.
    swap_sets: Vec<Vec<Vec<u32>>>,
}

/// Which of a function's idle sandboxes on a worker an invocation takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReuseOrder {
    /// The most recently used: the others age and expire (OpenWhisk, OpenLambda).
    #[default]
    Mru,
    /// The least recently used: load spreads over all warm sandboxes, which stay warm longer.
    Lru,
    /// DSLab FaaS's: the first of the function's idle sandboxes on the worker in an ordered set
    /// where a sandbox that becomes idle is appended and one that leaves is replaced by the
    /// last (`IndexSet::swap_remove`), so neither the most nor the least recently used.
    SwapSet,
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

/// A stable hash of a set of packages (FNV-1a of their sorted `name==version` keys), `None` for
/// none.
pub fn packages_hash(
    catalog: &workloads::packages::PackageCatalog,
    packages: &[workloads::packages::PackageId],
) -> Option<u64> {
    if packages.is_empty() {
        return None;
    }
    let mut keys: Vec<String> = packages.iter().map(|&p| catalog.package(p).key()).collect();
    keys.sort_unstable();
    keys.dedup();
    Some(fnv1a(keys.join(",").as_bytes()))
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
                largest_package_hash: catalog
                    .packages
                    .largest_package(&f.packages)
                    .map(|p| fnv1a(catalog.packages.package(p).key().as_bytes())),
                zygote_hash: packages_hash(&catalog.packages, &f.packages),
            })
            .collect::<Vec<_>>();
        let words = workers.len().div_ceil(64);
        let workers: Vec<Worker> = workers
            .iter()
            .enumerate()
            .map(|(i, spec)| Worker {
                id: WorkerId(i as u32),
                memory: MemoryState {
                    capacity_mb: spec.memory_mb,
                    ..MemoryState::default()
                },
                cores: spec.cores,
                queue: VecDeque::new(),
                sandboxes: 0,
                recency: VecDeque::new(),
                evictable: 0,
                pinned_idle_mb: 0,
            })
            .collect();
        Platform {
            pool_index: vec![Vec::new(); functions.len()],
            in_flight: vec![0; workers.len()],
            words,
            reusable_bits: vec![0; functions.len() * words],
            load_bits: (0..words)
                .map(|i| {
                    let rest = workers.len() - i * 64;
                    if rest >= 64 {
                        u64::MAX
                    } else {
                        (1u64 << rest) - 1
                    }
                })
                .collect(),
            min_load: 0,
            max_capacity_mb: workers
                .iter()
                .map(|w| w.memory.capacity_mb)
                .max()
                .unwrap_or(0),
            next_stamp: 0,
            pools: vec![Vec::new(); functions.len()],
            workers,
            functions,
            sandboxes: Vec::new(),
            generations: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            reuse_order: ReuseOrder::Mru,
            swap_sets: Vec::new(),
        }
    }

    /// Sets which idle sandbox reuse takes; before the first sandbox exists.
    pub fn set_reuse_order(&mut self, order: ReuseOrder) {
        self.reuse_order = order;
        if order == ReuseOrder::SwapSet {
            self.swap_sets = vec![Vec::new(); self.functions.len()];
        }
    }

    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    pub fn worker(&self, id: WorkerId) -> &Worker {
        &self.workers[id.index()]
    }

    /// Invocations assigned to `worker` that have not ended: queued, waiting for a sandbox, or
    /// running.
    pub fn in_flight(&self, worker: WorkerId) -> u32 {
        self.in_flight[worker.index()]
    }

    /// In-flight invocations of every worker, indexed by worker id.
    pub fn in_flight_all(&self) -> &[u32] {
        &self.in_flight
    }

    /// Workers holding a sandbox of `function` that can take an invocation now, as a bitset
    /// (bit `w % 64` of word `w / 64` for worker `w`).
    pub fn reusable_mask(&self, function: FunctionId) -> &[u64] {
        let start = function.index() * self.words;
        &self.reusable_bits[start..start + self.words]
    }

    /// Workers with exactly `load` invocations in flight, as a bitset like
    /// [`Platform::reusable_mask`]; empty beyond the highest load reached so far.
    pub fn load_mask(&self, load: u32) -> &[u64] {
        let start = load as usize * self.words;
        self.load_bits.get(start..start + self.words).unwrap_or(&[])
    }

    /// The lowest number of invocations in flight on any worker: the first non-empty level of
    /// [`Platform::load_mask`].
    pub fn min_load(&self) -> u32 {
        self.min_load
    }

    /// The largest memory of any worker, an upper bound of [`Platform::reclaimable_mb`].
    pub fn max_capacity_mb(&self) -> u64 {
        self.max_capacity_mb
    }

    /// One more than the highest load level [`Platform::load_mask`] knows.
    pub fn load_levels(&self) -> u32 {
        (self.load_bits.len() / self.words.max(1)) as u32
    }

    pub(crate) fn add_in_flight(&mut self, worker: WorkerId, delta: i32) {
        let w = worker.index();
        let old = self.in_flight[w];
        let new = old
            .checked_add_signed(delta)
            .expect("in-flight count stays valid");
        self.in_flight[w] = new;
        let (word, bit) = (w / 64, 1u64 << (w % 64));
        self.load_bits[old as usize * self.words + word] &= !bit;
        let at = new as usize * self.words;
        if at >= self.load_bits.len() {
            self.load_bits.resize(at + self.words, 0);
        }
        self.load_bits[at + word] |= bit;
        if new < self.min_load {
            self.min_load = new;
        }
        // The last worker left the lowest level: the next non-empty one is at most `new`.
        while self.min_load < new && self.load_mask(self.min_load).iter().all(|&b| b == 0) {
            self.min_load += 1;
        }
    }

    pub fn function(&self, id: FunctionId) -> &FunctionInfo {
        &self.functions[id.index()]
    }

    pub(crate) fn set_zygote_hash(&mut self, id: FunctionId, hash: Option<u64>) {
        self.functions[id.index()].zygote_hash = hash;
    }

    /// Adds `created` MB of zygotes to `worker`'s memory and takes `destroyed` MB away.
    pub(crate) fn change_zygote_mb(&mut self, worker: WorkerId, created: u64, destroyed: u64) {
        let m = &mut self.workers[worker.index()].memory;
        m.zygote_mb = m.zygote_mb + created - destroyed;
    }

    pub fn num_functions(&self) -> usize {
        self.functions.len()
    }

    pub fn sandbox(&self, id: SandboxId) -> &Sandbox {
        self.sandboxes[id.index()]
            .as_ref()
            .expect("sandbox id refers to a live sandbox")
    }

    /// The sandbox an invocation of `function` on `worker` would reuse: a running one below its
    /// concurrency limit, else an idle one, else a paused one; of those, the most recently used
    /// (or the least, with [`ReuseOrder::Lru`]).
    pub fn reusable_on(&self, function: FunctionId, worker: WorkerId) -> Option<SandboxId> {
        let pool = self.pool(function, worker)?;
        let end = |list: &List| match self.reuse_order {
            ReuseOrder::Mru => list.tail,
            ReuseOrder::Lru => list.head,
            ReuseOrder::SwapSet => {
                // A retiring sandbox keeps its place in the set until it is gone, but takes
                // nothing.
                let sb = (list.head != NIL).then(|| self.sandbox(SandboxId(list.head)));
                sb.and_then(|sb| {
                    self.swap_sets[sb.function.index()][sb.pool as usize]
                        .iter()
                        .find(|&&x| self.sandbox(SandboxId(x)).state == SandboxState::Idle)
                })
                .copied()
                .unwrap_or(list.head)
            }
        };
        [pool.running.tail, end(&pool.idle), end(&pool.paused)]
            .into_iter()
            .find(|&id| id != NIL)
            .map(SandboxId)
    }

    /// The idle, then paused, sandboxes of `function` on `worker`, least recently used first.
    pub fn idle_sandboxes(
        &self,
        function: FunctionId,
        worker: WorkerId,
    ) -> impl Iterator<Item = &Sandbox> + '_ {
        let heads = self
            .pool(function, worker)
            .map_or([NIL, NIL], |p| [p.idle.head, p.paused.head]);
        heads.into_iter().flat_map(move |head| {
            let mut next = head;
            std::iter::from_fn(move || {
                (next != NIL).then(|| {
                    let sb = self.sandbox(SandboxId(next));
                    next = sb.pool_next;
                    sb
                })
            })
        })
    }

    /// Live sandboxes of `function` on `worker` in any state.
    pub fn sandboxes_of(&self, function: FunctionId, worker: WorkerId) -> u32 {
        self.pool(function, worker).map_or(0, |p| p.live)
    }

    /// Workers that hold a sandbox of `function` able to take an invocation now, in id order.
    pub fn workers_with_reusable(
        &self,
        function: FunctionId,
    ) -> impl Iterator<Item = WorkerId> + '_ {
        self.reusable_mask(function)
            .iter()
            .enumerate()
            .flat_map(|(i, &word)| {
                let mut bits = word;
                std::iter::from_fn(move || {
                    (bits != 0).then(|| {
                        let b = bits.trailing_zeros();
                        bits &= bits - 1;
                        WorkerId(i as u32 * 64 + b)
                    })
                })
            })
    }

    /// Number of live sandboxes.
    pub fn live_sandboxes(&self) -> usize {
        self.live
    }

    /// Live sandboxes, in id order.
    pub fn all_sandboxes(&self) -> impl Iterator<Item = &Sandbox> + '_ {
        self.sandboxes.iter().flatten()
    }

    /// Idle and paused sandboxes on `worker`, least recently used first (ties in the order they
    /// became idle).
    pub fn evictable(&self, worker: WorkerId) -> Evictable<'_> {
        Evictable {
            platform: self,
            entries: self.workers[worker.index()].recency.iter(),
        }
    }

    /// Whether `worker` could start `function` now without creating a sandbox.
    pub fn has_reusable(&self, function: FunctionId, worker: WorkerId) -> bool {
        let w = worker.index();
        self.reusable_mask(function)[w / 64] & (1u64 << (w % 64)) != 0
    }

    fn pool(&self, function: FunctionId, worker: WorkerId) -> Option<&Pool> {
        let index = &self.pool_index[function.index()];
        let i = index.binary_search_by_key(&worker, |&(w, _)| w).ok()?;
        Some(&self.pools[function.index()][index[i].1 as usize])
    }

    /// Memory on `worker` that is free now or held by idle and paused sandboxes that are not
    /// provisioned.
    pub fn reclaimable_mb(&self, worker: WorkerId) -> u64 {
        let w = &self.workers[worker.index()];
        let m = &w.memory;
        m.capacity_mb
            .saturating_sub(m.busy_mb)
            .saturating_sub(m.zygote_mb)
            .saturating_sub(w.pinned_idle_mb)
    }

    pub(crate) fn generation(&self, id: SandboxId) -> u32 {
        self.generations[id.index()]
    }

    pub(crate) fn bump_generation(&mut self, id: SandboxId) -> u32 {
        let g = &mut self.generations[id.index()];
        *g = g.wrapping_add(1);
        *g
    }

    /// For fields that do not affect the indexes; `set_state` and `add_running` change the rest.
    pub(crate) fn sandbox_mut(&mut self, id: SandboxId) -> &mut Sandbox {
        self.sandboxes[id.index()]
            .as_mut()
            .expect("sandbox id refers to a live sandbox")
    }

    /// Keeps a sandbox's pool lists in step with a change of its state or running count.
    fn move_in_pool(&mut self, id: SandboxId, before: Option<Reuse>, after: Option<Reuse>) {
        if before == after {
            return;
        }
        let sb = self.sandbox(id);
        let (function, position) = (sb.function.index(), sb.pool as usize);
        if self.reuse_order == ReuseOrder::SwapSet {
            let retiring = sb.retiring;
            let sets = &mut self.swap_sets[function];
            if sets.len() <= position {
                sets.resize_with(position + 1, Vec::new);
            }
            let set = &mut sets[position];
            if before == Some(Reuse::Idle)
                && !retiring
                && let Some(i) = set.iter().position(|&x| x == id.0)
            {
                set.swap_remove(i);
            }
            if after == Some(Reuse::Idle) {
                set.push(id.0);
            }
        }
        let pool = &mut self.pools[function][position];
        let was_empty = pool.is_empty();
        if let Some(kind) = before {
            unlink(&mut self.sandboxes, pool.list(kind), id);
        }
        if let Some(kind) = after {
            push_back(&mut self.sandboxes, pool.list(kind), id);
        }
        if was_empty != pool.is_empty() {
            let w = pool.worker.index();
            self.reusable_bits[function * self.words + w / 64] ^= 1u64 << (w % 64);
        }
    }

    /// The position of the pool of `function` on `worker`, created if missing.
    fn pool_for(&mut self, function: FunctionId, worker: WorkerId) -> u32 {
        let index = &mut self.pool_index[function.index()];
        match index.binary_search_by_key(&worker, |&(w, _)| w) {
            Ok(i) => index[i].1,
            Err(i) => {
                let pools = &mut self.pools[function.index()];
                let position = pools.len() as u32;
                pools.push(Pool {
                    worker,
                    waiting: 0,
                    live: 0,
                    running: List::EMPTY,
                    idle: List::EMPTY,
                    paused: List::EMPTY,
                });
                index.insert(i, (worker, position));
                position
            }
        }
    }

    /// Appends an invocation to `worker`'s queue.
    pub(crate) fn enqueue(&mut self, worker: WorkerId, function: FunctionId, handle: u32) {
        let position = self.pool_for(function, worker) as usize;
        self.pools[function.index()][position].waiting += 1;
        self.workers[worker.index()]
            .queue
            .push_back((handle, function));
    }

    /// The invocation at the head of `worker`'s queue.
    pub(crate) fn queue_head(&self, worker: WorkerId) -> Option<(u32, FunctionId)> {
        self.workers[worker.index()].queue.front().copied()
    }

    /// Removes the head of `worker`'s queue.
    pub(crate) fn dequeue(&mut self, worker: WorkerId) {
        if let Some((_, function)) = self.workers[worker.index()].queue.pop_front() {
            self.waiting_mut(function, worker).waiting -= 1;
        }
    }

    /// Removes and returns the oldest queued invocation of `function` on `worker`, if any.
    pub(crate) fn dequeue_function(
        &mut self,
        worker: WorkerId,
        function: FunctionId,
    ) -> Option<u32> {
        if self.workers[worker.index()].queue.is_empty()
            || self.pool(function, worker).is_none_or(|p| p.waiting == 0)
        {
            return None;
        }
        let queue = &mut self.workers[worker.index()].queue;
        let position = queue.iter().position(|&(_, f)| f == function)?;
        let (handle, _) = queue.remove(position)?;
        self.waiting_mut(function, worker).waiting -= 1;
        Some(handle)
    }

    fn waiting_mut(&mut self, function: FunctionId, worker: WorkerId) -> &mut Pool {
        let position = self.pool_for(function, worker) as usize;
        &mut self.pools[function.index()][position]
    }

    pub(crate) fn is_live(&self, id: SandboxId) -> bool {
        self.sandboxes
            .get(id.index())
            .is_some_and(|slot| slot.is_some())
    }

    /// Adds a sandbox in the `Creating` state and reserves its memory: `memory_mb`, or the
    /// function's.
    pub(crate) fn insert_sandbox(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        memory_mb: Option<u32>,
        pinned: bool,
    ) -> SandboxId {
        let pool = self.pool_for(function, worker);
        self.pools[function.index()][pool as usize].live += 1;
        let info = &self.functions[function.index()];
        let id = match self.free_slots.pop() {
            Some(slot) => SandboxId(slot),
            None => {
                self.sandboxes.push(None);
                self.generations.push(0);
                SandboxId((self.sandboxes.len() - 1) as u32)
            }
        };
        let memory_mb = memory_mb.unwrap_or(info.memory_mb);
        let sandbox = Sandbox {
            id,
            function,
            worker,
            memory_mb,
            state: SandboxState::Creating,
            running: 0,
            concurrency: info.concurrency,
            created_at: now,
            last_used: now,
            uses: 0,
            deadline: None,
            timer_at: None,
            pinned,
            prewarmed: false,
            paused_at: None,
            first_idle: None,
            forked: false,
            retiring: false,
            pool,
            pool_prev: NIL,
            pool_next: NIL,
            recency_stamp: 0,
        };
        self.workers[worker.index()].memory.busy_mb += u64::from(memory_mb);
        self.workers[worker.index()].sandboxes += 1;
        self.sandboxes[id.index()] = Some(sandbox);
        self.bump_generation(id);
        self.live += 1;
        id
    }

    /// Moves a sandbox to a new state, keeping the worker's memory split in step.
    pub(crate) fn set_state(&mut self, id: SandboxId, state: SandboxState) {
        let running = self.sandbox(id).running;
        self.transition(id, state, running);
    }

    /// Sets a sandbox's state and running count together, and keeps every index in step: the
    /// worker's memory split, the pool lists and the recency list.
    pub(crate) fn transition(&mut self, id: SandboxId, state: SandboxState, running: u32) {
        let sb = self.sandboxes[id.index()]
            .as_mut()
            .expect("sandbox id refers to a live sandbox");
        let old = sb.state;
        let before = sb.reuse();
        sb.state = state;
        sb.running = running;
        let after = sb.reuse();
        let (worker, pinned) = (sb.worker, sb.pinned);
        if old != state {
            let mb = u64::from(sb.memory_mb);
            let w = &mut self.workers[worker.index()];
            *bucket(&mut w.memory, old) -= mb;
            *bucket(&mut w.memory, state) += mb;
            if pinned {
                match (old.is_evictable(), state.is_evictable()) {
                    (false, true) => w.pinned_idle_mb += mb,
                    (true, false) => w.pinned_idle_mb -= mb,
                    _ => {}
                }
            }
        }
        self.move_in_pool(id, before, after);
        if !pinned {
            match (old.is_evictable(), state.is_evictable()) {
                (false, true) => self.lru_push_back(id),
                (true, false) => self.lru_unlink(id),
                _ => {}
            }
        }
    }

    fn lru_push_back(&mut self, id: SandboxId) {
        self.next_stamp += 1;
        let stamp = self.next_stamp;
        let sb = self.sandboxes[id.index()]
            .as_mut()
            .expect("sandbox id refers to a live sandbox");
        sb.recency_stamp = stamp;
        let worker = &mut self.workers[sb.worker.index()];
        worker.recency.push_back((id, stamp));
        worker.evictable += 1;
    }

    fn lru_unlink(&mut self, id: SandboxId) {
        let w = self.sandbox(id).worker.index();
        self.workers[w].evictable -= 1;
        let worker = &self.workers[w];
        if worker.recency.len() > 2 * worker.evictable as usize + 64 {
            let mut recency = std::mem::take(&mut self.workers[w].recency);
            recency.retain(|&(sb, stamp)| self.is_recent(sb, stamp) && sb != id);
            self.workers[w].recency = recency;
        }
    }

    /// Whether a recency entry still stands for an idle or paused sandbox.
    fn is_recent(&self, id: SandboxId, stamp: u64) -> bool {
        self.sandboxes[id.index()]
            .as_ref()
            .is_some_and(|sb| sb.recency_stamp == stamp && sb.is_evictable())
    }

    /// Removes a sandbox and releases its memory.
    pub(crate) fn remove_sandbox(&mut self, id: SandboxId) -> Sandbox {
        let sb = self.sandbox(id);
        if self.reuse_order == ReuseOrder::SwapSet && sb.retiring {
            let (function, pool) = (sb.function.index(), sb.pool as usize);
            let set = &mut self.swap_sets[function][pool];
            if let Some(i) = set.iter().position(|&x| x == id.0) {
                set.swap_remove(i);
            }
        }
        let sb = self.sandbox(id);
        if sb.is_evictable() {
            self.lru_unlink(id);
        }
        self.move_in_pool(id, self.sandbox(id).reuse(), None);
        let sb = self.sandboxes[id.index()]
            .take()
            .expect("sandbox id refers to a live sandbox");
        self.pools[sb.function.index()][sb.pool as usize].live -= 1;
        let worker = &mut self.workers[sb.worker.index()];
        *bucket(&mut worker.memory, sb.state) -= u64::from(sb.memory_mb);
        if sb.pinned && sb.state.is_evictable() {
            worker.pinned_idle_mb -= u64::from(sb.memory_mb);
        }
        worker.sandboxes -= 1;
        self.bump_generation(id);
        self.free_slots.push(id.0);
        self.live -= 1;
        sb
    }
}

/// Iterator over a worker's idle and paused sandboxes, least recently used first.
pub struct Evictable<'a> {
    platform: &'a Platform,
    entries: std::collections::vec_deque::Iter<'a, (SandboxId, u64)>,
}

impl<'a> Iterator for Evictable<'a> {
    type Item = &'a Sandbox;

    fn next(&mut self) -> Option<&'a Sandbox> {
        for &(id, stamp) in self.entries.by_ref() {
            if self.platform.is_recent(id, stamp) {
                return Some(self.platform.sandbox(id));
            }
        }
        None
    }
}

fn bucket(memory: &mut MemoryState, state: SandboxState) -> &mut u64 {
    match state {
        SandboxState::Creating | SandboxState::Running | SandboxState::Finished => {
            &mut memory.busy_mb
        }
        SandboxState::Idle => &mut memory.idle_mb,
        SandboxState::Paused => &mut memory.paused_mb,
    }
}

fn links(sandboxes: &mut [Option<Sandbox>], id: u32) -> &mut Sandbox {
    sandboxes[id as usize]
        .as_mut()
        .expect("a pool list links live sandboxes")
}

/// Appends `id` to `list`.
fn push_back(sandboxes: &mut [Option<Sandbox>], list: &mut List, id: SandboxId) {
    let sb = links(sandboxes, id.0);
    sb.pool_prev = list.tail;
    sb.pool_next = NIL;
    if list.tail == NIL {
        list.head = id.0;
    } else {
        links(sandboxes, list.tail).pool_next = id.0;
    }
    list.tail = id.0;
}

/// Takes `id` out of `list`, keeping the order of the rest.
fn unlink(sandboxes: &mut [Option<Sandbox>], list: &mut List, id: SandboxId) {
    let sb = links(sandboxes, id.0);
    let (prev, next) = (sb.pool_prev, sb.pool_next);
    sb.pool_prev = NIL;
    sb.pool_next = NIL;
    if prev == NIL {
        list.head = next;
    } else {
        links(sandboxes, prev).pool_next = next;
    }
    if next == NIL {
        list.tail = prev;
    } else {
        links(sandboxes, next).pool_prev = prev;
    }
}
