//! FaasCache's container pool, reproduced operation for operation, so that a run gives the
//! same hits, misses and drops as FaasCache's own simulator on the same trace.
//!
//! FaasCache (Fuerst and Sharma, "FaasCache: Keeping Serverless Computing Alive with Greedy-Dual
//! Caching", ASPLOS'21) evaluates its policies with a simulator
//! (github.com/aFuerst/faascache-sim, `code/split/LambdaScheduler.py`) whose results depend on
//! details that a cleaner model does not share: every container of a server lives in one Python
//! list kept as a binary heap by `heapq` and re-heapified after every arrival, a hit takes the
//! first idle container of the function in the list's order, and ties between equal priorities
//! go by that order. This policy keeps the same list per worker, with the same `heapq`
//! operations in the same sequence, and the same floating-point arithmetic on the same values:
//! times in milliseconds (the trace's microseconds divided by 1000), priorities as the simulator
//! computes them. It is selected by `[model] pool = "heap"` (which the `faascache` preset sets),
//! for these policies:
//!
//! - `ttl` (`lazy = true`, FaasCache's `TTL`): a container is purged when its function is looked
//!   up and its last access (the arrival of its last invocation) is more than `idle` ago,
//!   strictly; until then it holds its memory and is evicted by last access.
//! - `lru` and `greedy-dual,variant=lru` (`LRU`): priority = the last access of the function's
//!   last invocation, given to all of its containers.
//! - `greedy-dual` variants `gd`, `freq`, `size` (`GD`, `FREQ`, `SIZE`): clock + frequency x
//!   cost / size, clock + frequency x cost, clock + frequency / size, where frequency is the
//!   sum of the invocations started by the function's containers in the pool, cost the cold
//!   time less the warm time of the invocation that created the container, size its memory in
//!   MB, and the clock the priority of the last container evicted.
//! - `greedy-dual,variant=landlord` (`LND`): the credit is reset to the container's warm time on
//!   every access; each eviction round first charges every container (running ones too) rent:
//!   the least credit per MB times its size.
//! - `greedy-dual,variant=hist` (`HIST`): a per-function histogram of inter-arrival times in
//!   1-minute bins over 4 hours, with a running mean and variance (Welford). With two or more
//!   samples and a variance-to-mean ratio of at most 2, the function's TTL becomes 1.1 x the
//!   99th percentile bin and its pre-warm time 0.9 x the 5th; otherwise the TTL is 2 hours and
//!   nothing is pre-warmed. On every arrival, every function whose pre-warm time has not yet
//!   passed since its last arrival gets one more container loaded (if memory is free), and a
//!   container of a function with a pre-warm time is unloaded when it finishes. Containers are
//!   purged lazily by the TTL, as `ttl` does, and evicted by last access.
//!
//! In every policy, after an access all containers of the function take the accessed one's new
//! priority; a container is busy from the arrival of its invocation until the first arrival at
//! or after its end (cold invocations run for the cold time, warm ones for the warm time); a
//! cold start without room pops containers off the heap until the popped idle ones add up to the
//! new container's size (the controller's `eviction = "whole-size"`), putting the running ones
//! it met back.
//!
//! Costs: FaasCache's simulator is O(containers) per arrival, and so is this (a heapify of the
//! worker's list after every access), which is fast enough for its traces but not lambdasim's
//! usual O(1) per arrival.

use sim::record::{DestroyReason, StartKind};
use sim::{ArrivalActions, IdleDecision, KeepAlive, Platform, Sandbox, SandboxId, WorkerId};
use workloads::{FunctionId, Time};

/// Which of FaasCache's policies the pool runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolPolicy {
    /// `TTL`: purged when looked up more than `ttl_ms` after its last access.
    Ttl {
        ttl_ms: f64,
    },
    Lru,
    Gd,
    Freq,
    Size,
    Landlord,
    Hist,
}

impl PoolPolicy {
    /// FaasCache's name of the policy.
    pub fn name(self) -> &'static str {
        match self {
            PoolPolicy::Ttl { .. } => "TTL",
            PoolPolicy::Lru => "LRU",
            PoolPolicy::Gd => "GD",
            PoolPolicy::Freq => "FREQ",
            PoolPolicy::Size => "SIZE",
            PoolPolicy::Landlord => "LND",
            PoolPolicy::Hist => "HIST",
        }
    }
}

/// Inter-arrival times HIST tracks: 4 hours of 1-minute bins.
const HIST_BINS: usize = 4 * 60;
/// HIST's TTL while its histogram says nothing better: 2 hours, in ms.
const HIST_DEFAULT_TTL_MS: f64 = 2.0 * 60.0 * 60.0 * 1000.0;

/// A sandbox as the pool knows it (the simulator's `Container` with its `LambdaData`).
#[derive(Clone, Copy, Debug)]
struct Container {
    live: bool,
    function: FunctionId,
    worker: WorkerId,
    size_mb: u64,
    /// Cold and warm time of the invocation that created it, ms (its `metadata`).
    run_ms: f64,
    warm_ms: f64,
    last_access_ms: f64,
    /// Invocations it has started.
    frequency: u64,
    /// When its running invocation ends, while it runs.
    finish_ms: Option<f64>,
}

/// One worker's pool: the simulator's `ContainerPool`, `running_c`, `mem_used` and `Clock`.
#[derive(Clone, Debug, Default)]
struct WorkerPool {
    /// (priority, sandbox) in the list's order, a binary heap by priority.
    heap: Vec<(f64, u32)>,
    /// Running containers in the order they started (`running_c`'s insertion order).
    running: Vec<u32>,
    mem_used_mb: u64,
    clock: f64,
}

/// An eviction round chosen but not yet carried out: the worker's heap and clock after it.
#[derive(Clone, Debug)]
struct PendingEviction {
    worker: WorkerId,
    heap: Vec<(f64, u32)>,
    clock: f64,
    victims: Vec<u32>,
}

/// What HIST knows of a function.
#[derive(Clone, Debug)]
struct History {
    last_seen_ms: Option<f64>,
    /// Whether it has an histogram yet (`IT_histogram` has the function).
    tracked: bool,
    bins: Vec<f64>,
    count: u64,
    mean: f64,
    m2: f64,
    ttl_ms: f64,
    prewarm_ms: f64,
    /// Cold and warm time of its first invocation (`rep`), for the containers pre-warmed.
    rep: Option<(f64, f64)>,
    /// Where its last invocation was placed, where pre-warmed containers go.
    worker: WorkerId,
}

impl Default for History {
    fn default() -> Self {
        History {
            last_seen_ms: None,
            tracked: false,
            bins: Vec::new(),
            count: 0,
            mean: 0.0,
            m2: 0.0,
            ttl_ms: HIST_DEFAULT_TTL_MS,
            prewarm_ms: 0.0,
            rep: None,
            worker: WorkerId(0),
        }
    }
}

/// FaasCache's simulator's keep-alive and eviction, as a keep-alive policy with its own pool.
#[derive(Clone, Debug)]
pub struct FaasCachePool {
    policy: PoolPolicy,
    /// Each function's initialization time (cold less warm), µs.
    init_us: Vec<u64>,
    containers: Vec<Container>,
    workers: Vec<WorkerPool>,
    history: Vec<History>,
    /// Functions in the order HIST first saw them (its dictionaries' order).
    seen: Vec<FunctionId>,
    /// The container the current arrival takes, found when its function was looked up.
    pick: Option<SandboxId>,
    pending: Option<PendingEviction>,
}

/// Trace time in FaasCache's unit, milliseconds, as its driver feeds it.
fn ms(t: Time) -> f64 {
    t as f64 / 1000.0
}

impl FaasCachePool {
    /// `init_us[f]` is function f's initialization time in µs: its cold time less its warm time.
    pub fn new(policy: PoolPolicy, init_us: Vec<u64>) -> Self {
        FaasCachePool {
            policy,
            init_us,
            containers: Vec::new(),
            workers: Vec::new(),
            history: Vec::new(),
            seen: Vec::new(),
            pick: None,
            pending: None,
        }
    }

    pub fn policy(&self) -> PoolPolicy {
        self.policy
    }

    fn pool(&mut self, worker: WorkerId) -> &mut WorkerPool {
        let w = worker.index();
        if w >= self.workers.len() {
            self.workers.resize_with(w + 1, WorkerPool::default);
        }
        &mut self.workers[w]
    }

    fn history(&mut self, function: FunctionId) -> &mut History {
        let f = function.index();
        if f >= self.history.len() {
            self.history.resize_with(f + 1, History::default);
        }
        &mut self.history[f]
    }

    /// Cold and warm time in ms of an invocation of `function` that runs for `duration_us`.
    fn times(&self, function: FunctionId, duration_us: Time) -> (f64, f64) {
        let init = self.init_us.get(function.index()).copied().unwrap_or(0);
        (ms(init + duration_us), ms(duration_us))
    }

    /// The simulator's `calc_priority` for container `c` as the pool on its worker holds now.
    fn priority(&self, c: u32) -> f64 {
        let k = &self.containers[c as usize];
        let pool = &self.workers[k.worker.index()];
        let frequency = || -> u64 {
            pool.heap
                .iter()
                .filter(|&&(_, x)| self.containers[x as usize].function == k.function)
                .map(|&(_, x)| self.containers[x as usize].frequency)
                .sum()
        };
        let cost = k.run_ms - k.warm_ms;
        let size = k.size_mb as f64;
        match self.policy {
            PoolPolicy::Gd => pool.clock + frequency() as f64 * (cost / size),
            PoolPolicy::Freq => pool.clock + frequency() as f64 * cost,
            PoolPolicy::Size => pool.clock + frequency() as f64 / size,
            PoolPolicy::Landlord => k.warm_ms,
            PoolPolicy::Lru | PoolPolicy::Ttl { .. } | PoolPolicy::Hist => k.last_access_ms,
        }
    }

    /// The simulator's `RemoveFromPool`: out of the list, which is heapified again.
    fn remove(&mut self, c: u32) {
        let k = &mut self.containers[c as usize];
        k.live = false;
        let (worker, size) = (k.worker, k.size_mb);
        let pool = &mut self.workers[worker.index()];
        if let Some(i) = pool.heap.iter().position(|&(_, x)| x == c) {
            pool.heap.remove(i);
            heapify(&mut pool.heap);
        }
        pool.running.retain(|&x| x != c);
        pool.mem_used_mb -= size;
    }

    /// The TTL a container of `function` lives by, if the policy has one.
    fn ttl_ms(&self, function: FunctionId) -> Option<f64> {
        match self.policy {
            PoolPolicy::Ttl { ttl_ms } => Some(ttl_ms),
            PoolPolicy::Hist => Some(
                self.history
                    .get(function.index())
                    .map_or(HIST_DEFAULT_TTL_MS, |h| h.ttl_ms),
            ),
            _ => None,
        }
    }

    /// HIST's `track_activation`.
    fn track(&mut self, function: FunctionId, now_ms: f64) {
        let h = self.history(function);
        let iat = h.last_seen_ms.map(|last| now_ms - last);
        h.last_seen_ms = Some(now_ms);
        if !h.tracked {
            h.tracked = true;
            h.bins = vec![0.0; HIST_BINS];
            h.count = 0;
            h.mean = 0.0;
            h.m2 = 0.0;
            h.ttl_ms = HIST_DEFAULT_TTL_MS;
            h.prewarm_ms = 0.0;
            self.seen.push(function);
            return;
        }
        let Some(iat) = iat else {
            return;
        };
        let minute = (iat / 60_000.0).floor();
        if minute >= HIST_BINS as f64 {
            return;
        }
        // Welford's update, in the simulator's order of operations.
        h.count += 1;
        let delta = minute - h.mean;
        h.mean += delta / h.count as f64;
        let delta2 = minute - h.mean;
        h.m2 += delta * delta2;
        h.bins[minute as usize] += 1.0;
        if h.count < 2 {
            h.ttl_ms = HIST_DEFAULT_TTL_MS;
            h.prewarm_ms = 0.0;
            return;
        }
        let (mean, variance) = (h.mean, h.m2 / h.count as f64);
        let total: f64 = h.bins.iter().sum();
        let mut cdf = Vec::with_capacity(HIST_BINS);
        let mut acc = 0.0;
        for &b in &h.bins {
            acc += b / total;
            cdf.push(acc);
        }
        let head = percentile_bin(&cdf, 0.05, true);
        let tail = percentile_bin(&cdf, 0.99, false);
        if mean == 0.0 || variance / mean <= 2.0 {
            h.ttl_ms = (tail * 60 * 1000) as f64 * 1.1;
            h.prewarm_ms = (head * 60 * 1000) as f64 * 0.9;
        } else {
            h.ttl_ms = HIST_DEFAULT_TTL_MS;
            h.prewarm_ms = 0.0;
        }
    }
}

/// The simulator's `_find_precentile`: the bin before the first that passes `percent` (`head`),
/// or the one after it.
fn percentile_bin(cdf: &[f64], percent: f64, head: bool) -> u64 {
    for (i, &value) in cdf.iter().enumerate() {
        if percent < value {
            return if head {
                i.saturating_sub(1) as u64
            } else {
                (i + 1).min(cdf.len()) as u64
            };
        }
    }
    cdf.len() as u64
}

/// Python's `heapq`, on (priority, sandbox) pairs compared by priority with `<` alone, as the
/// simulator's `Container.__lt__` does: the same algorithms, so the same list after the same
/// operations (CPython's C version builds the same heaps as these).
fn sift_down(heap: &mut [(f64, u32)], start: usize, mut pos: usize) {
    let item = heap[pos];
    while pos > start {
        let parent = (pos - 1) >> 1;
        if item.0 < heap[parent].0 {
            heap[pos] = heap[parent];
            pos = parent;
            continue;
        }
        break;
    }
    heap[pos] = item;
}

// `!(a < b)` is Python's test, kept as written: it is how ties pick the right child.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn sift_up(heap: &mut [(f64, u32)], mut pos: usize) {
    let end = heap.len();
    let start = pos;
    let item = heap[pos];
    let mut child = 2 * pos + 1;
    while child < end {
        let right = child + 1;
        if right < end && !(heap[child].0 < heap[right].0) {
            child = right;
        }
        heap[pos] = heap[child];
        pos = child;
        child = 2 * pos + 1;
    }
    heap[pos] = item;
    sift_down(heap, start, pos);
}

fn heapify(heap: &mut [(f64, u32)]) {
    for i in (0..heap.len() / 2).rev() {
        sift_up(heap, i);
    }
}

fn heap_push(heap: &mut Vec<(f64, u32)>, item: (f64, u32)) {
    heap.push(item);
    let last = heap.len() - 1;
    sift_down(heap, 0, last);
}

fn heap_pop(heap: &mut Vec<(f64, u32)>) -> Option<(f64, u32)> {
    let last = heap.pop()?;
    if heap.is_empty() {
        return Some(last);
    }
    let top = std::mem::replace(&mut heap[0], last);
    sift_up(heap, 0);
    Some(top)
}

impl KeepAlive for FaasCachePool {
    fn name(&self) -> &'static str {
        "faascache-pool"
    }

    fn keeps_pool(&self) -> bool {
        true
    }

    fn expires_lazily(&self) -> bool {
        true
    }

    fn on_idle(&mut self, _now: Time, _sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        IdleDecision::Keep { until: None }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Keep { until: None }
    }

    /// `cleanup_finished` (with HIST's unloading after use) and `PreWarmContainers`.
    fn before_arrival(&mut self, now: Time, platform: &Platform, actions: &mut ArrivalActions) {
        // An eviction chosen at an earlier arrival and not carried out is void.
        self.pending = None;
        let t = ms(now);
        for w in 0..self.workers.len() {
            let running = std::mem::take(&mut self.workers[w].running);
            let mut still = Vec::with_capacity(running.len());
            let mut finished = Vec::new();
            for c in running {
                // Where lambdasim's costs make a sandbox busy for longer than FaasCache's times
                // say, it stays busy until the platform has it idle.
                match self.containers[c as usize].finish_ms {
                    Some(end)
                        if t >= end && platform.sandbox(SandboxId(c)).state.is_evictable() =>
                    {
                        finished.push(c)
                    }
                    _ => still.push(c),
                }
            }
            self.workers[w].running = still;
            for c in finished {
                let k = &mut self.containers[c as usize];
                k.finish_ms = None;
                let function = k.function;
                let unload = self.policy == PoolPolicy::Hist
                    && self
                        .history
                        .get(function.index())
                        .is_some_and(|h| h.tracked && h.prewarm_ms != 0.0);
                if unload {
                    self.remove(c);
                    actions.unload.push(SandboxId(c));
                }
            }
            // `heapify` is not idempotent on ties (a sift-up moves the root to a leaf even past
            // equal children), so every one of the simulator's calls is made, here and below.
            heapify(&mut self.workers[w].heap);
        }
        if self.policy == PoolPolicy::Hist {
            for &f in &self.seen {
                let h = &self.history[f.index()];
                let last = h.last_seen_ms.unwrap_or(t);
                if h.prewarm_ms != 0.0 && h.prewarm_ms + last >= t {
                    actions.prewarm.push((f, h.worker));
                }
            }
        }
    }

    fn on_arrival(&mut self, now: Time, function: FunctionId, _platform: &Platform) {
        if self.policy == PoolPolicy::Hist {
            self.track(function, ms(now));
        }
    }

    /// `find_container`: the function's idle containers in the list's order, less those its TTL
    /// purges; the first left is the one [`KeepAlive::choose_reuse`] gives.
    fn expired(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        _platform: &Platform,
        expired: &mut Vec<SandboxId>,
    ) {
        let t = ms(now);
        self.pool(worker);
        let candidates: Vec<u32> = self.workers[worker.index()]
            .heap
            .iter()
            .map(|&(_, c)| c)
            .filter(|&c| {
                let k = &self.containers[c as usize];
                k.function == function && k.finish_ms.is_none()
            })
            .collect();
        let ttl = self.ttl_ms(function);
        // `PurgeOldTTL` heapifies once more after its removals; HIST's purge does not.
        let heapify_after = matches!(self.policy, PoolPolicy::Ttl { .. }) && !candidates.is_empty();
        let mut pick = None;
        for c in candidates {
            let stale = ttl.is_some_and(|ttl| self.containers[c as usize].last_access_ms + ttl < t);
            if stale {
                self.remove(c);
                expired.push(SandboxId(c));
            } else if pick.is_none() {
                pick = Some(SandboxId(c));
            }
        }
        if heapify_after {
            heapify(&mut self.workers[worker.index()].heap);
        }
        self.pick = pick;
    }

    fn choose_reuse(
        &mut self,
        _now: Time,
        _function: FunctionId,
        _worker: WorkerId,
        _platform: &Platform,
    ) -> Option<SandboxId> {
        self.pick.take()
    }

    /// `AddToPool`: the new container joins the list with the priority it has before its first
    /// access.
    fn on_created(
        &mut self,
        now: Time,
        sandbox: &Sandbox,
        duration: Option<Time>,
        _platform: &Platform,
    ) {
        let (run_ms, warm_ms) = match duration {
            Some(d) => self.times(sandbox.function, d),
            None => self
                .history
                .get(sandbox.function.index())
                .and_then(|h| h.rep)
                .unwrap_or_else(|| self.times(sandbox.function, 0)),
        };
        let c = sandbox.id.0;
        let i = c as usize;
        if i >= self.containers.len() {
            self.containers.resize(
                i + 1,
                Container {
                    live: false,
                    function: FunctionId(0),
                    worker: WorkerId(0),
                    size_mb: 0,
                    run_ms: 0.0,
                    warm_ms: 0.0,
                    last_access_ms: 0.0,
                    frequency: 0,
                    finish_ms: None,
                },
            );
        }
        self.containers[i] = Container {
            live: true,
            function: sandbox.function,
            worker: sandbox.worker,
            size_mb: u64::from(sandbox.memory_mb),
            run_ms,
            warm_ms,
            last_access_ms: ms(now),
            frequency: 0,
            finish_ms: None,
        };
        self.pool(sandbox.worker).mem_used_mb += u64::from(sandbox.memory_mb);
        let priority = self.priority(c);
        let heap = &mut self.workers[sandbox.worker.index()].heap;
        heap_push(heap, (priority, c));
        // `cache_miss` heapifies after adding; a pre-warm only pushes.
        if duration.is_some() {
            heapify(heap);
        }
    }

    /// An access (`runActivation` after the container is found or added): the container runs,
    /// its function's containers take its new priority, and the list is heapified.
    fn on_placed(
        &mut self,
        now: Time,
        sandbox: &Sandbox,
        kind: StartKind,
        duration: Time,
        _platform: &Platform,
    ) {
        let t = ms(now);
        let (run_ms, warm_ms) = self.times(sandbox.function, duration);
        let cold = matches!(kind, StartKind::Cold | StartKind::ZygoteFork);
        let h = self.history(sandbox.function);
        h.worker = sandbox.worker;
        h.rep.get_or_insert((run_ms, warm_ms));
        let c = sandbox.id.0;
        let k = &mut self.containers[c as usize];
        k.frequency += 1;
        let was_running = k.finish_ms.is_some();
        k.finish_ms = Some(t + if cold { run_ms } else { warm_ms });
        k.last_access_ms = t;
        let function = k.function;
        // A queued invocation may take a sandbox the pool has not seen finish yet.
        if !was_running {
            self.workers[sandbox.worker.index()].running.push(c);
        }
        let priority = self.priority(c);
        let containers = &self.containers;
        let heap = &mut self.workers[sandbox.worker.index()].heap;
        for entry in heap.iter_mut() {
            if containers[entry.1 as usize].function == function {
                entry.0 = priority;
            }
        }
        heapify(heap);
    }

    /// `Eviction`: with Landlord, rent first; then containers off the top of the heap until the
    /// idle ones popped add up to `need_mb`, the running ones met going back. Worked on a copy,
    /// which [`KeepAlive::on_evicted`] makes the pool's.
    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_mb: u64,
        _platform: &Platform,
        victims: &mut Vec<SandboxId>,
    ) {
        self.pool(worker);
        let pool = &self.workers[worker.index()];
        if pool.running.len() == pool.heap.len() {
            self.pending = None;
            return;
        }
        let mut heap = pool.heap.clone();
        if self.policy == PoolPolicy::Landlord {
            let delta = heap
                .iter()
                .map(|&(p, c)| p / self.containers[c as usize].size_mb as f64)
                .fold(f64::INFINITY, |a, b| if b < a { b } else { a });
            for entry in heap.iter_mut() {
                entry.0 -= delta * self.containers[entry.1 as usize].size_mb as f64;
            }
            heapify(&mut heap);
        }
        let mut to_free = need_mb as i128;
        let mut saved = Vec::new();
        let mut evicted: Vec<(f64, u32)> = Vec::new();
        while to_free > 0 {
            let Some(victim) = heap_pop(&mut heap) else {
                break;
            };
            let k = &self.containers[victim.1 as usize];
            if k.finish_ms.is_some() {
                saved.push(victim);
            } else {
                to_free -= i128::from(k.size_mb);
                evicted.push(victim);
            }
        }
        for entry in saved {
            heap_push(&mut heap, entry);
        }
        let clock = evicted.last().map_or(pool.clock, |&(p, _)| p);
        victims.extend(evicted.iter().map(|&(_, c)| SandboxId(c)));
        self.pending = Some(PendingEviction {
            worker,
            heap,
            clock,
            victims: evicted.into_iter().map(|(_, c)| c).collect(),
        });
    }

    fn on_evicted(
        &mut self,
        _now: Time,
        worker: WorkerId,
        _victims: &[SandboxId],
        _platform: &Platform,
    ) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        if pending.worker != worker {
            return;
        }
        let mut freed = 0;
        for &c in &pending.victims {
            let k = &mut self.containers[c as usize];
            k.live = false;
            freed += k.size_mb;
        }
        let pool = &mut self.workers[worker.index()];
        pool.heap = pending.heap;
        pool.clock = pending.clock;
        pool.mem_used_mb -= freed;
    }

    fn on_destroyed(
        &mut self,
        _now: Time,
        sandbox: &Sandbox,
        _reason: DestroyReason,
        _platform: &Platform,
    ) {
        let c = sandbox.id.0;
        let live = self.containers.get(c as usize).is_some_and(|k| k.live);
        let evicting = self
            .pending
            .as_ref()
            .is_some_and(|p| p.victims.contains(&c));
        if live && !evicting {
            self.remove(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's heapq on [5, 3, 8, 1, 9, 2] (heapify) gives [1, 3, 2, 5, 9, 8]; pushing 0 gives
    /// [0, 3, 1, 5, 9, 8, 2]; popping then returns 0 and leaves [1, 3, 2, 5, 9, 8].
    #[test]
    fn heap_operations_match_python_heapq() {
        let mut heap: Vec<(f64, u32)> = [5.0, 3.0, 8.0, 1.0, 9.0, 2.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, i as u32))
            .collect();
        heapify(&mut heap);
        let prios = |h: &[(f64, u32)]| h.iter().map(|e| e.0).collect::<Vec<_>>();
        assert_eq!(prios(&heap), [1.0, 3.0, 2.0, 5.0, 9.0, 8.0]);
        heap_push(&mut heap, (0.0, 6));
        assert_eq!(prios(&heap), [0.0, 3.0, 1.0, 5.0, 9.0, 8.0, 2.0]);
        assert_eq!(heap_pop(&mut heap), Some((0.0, 6)));
        assert_eq!(prios(&heap), [1.0, 3.0, 2.0, 5.0, 9.0, 8.0]);
    }

    /// Ties move as in Python, where a sift-up takes an item down to a leaf even past equal
    /// children (taking the right one on ties) and stops it there: heapify of [a, b, c, d], all
    /// equal, sifts b with d ([a, d, c, b]), then a down the right side ([c, d, a, b]); a pop
    /// then moves b to the root and down the right side again, [a, d, b]; a second heapify
    /// gives [b, d, a]. Heapify is not idempotent, which is why every call must be made.
    #[test]
    fn ties_follow_python_order() {
        let ids = |h: &[(f64, u32)]| h.iter().map(|e| e.1).collect::<Vec<_>>();
        let mut heap = vec![(1.0, 0), (1.0, 1), (1.0, 2), (1.0, 3)];
        heapify(&mut heap);
        assert_eq!(ids(&heap), [2, 3, 0, 1]);
        assert_eq!(heap_pop(&mut heap), Some((1.0, 2)));
        assert_eq!(ids(&heap), [0, 3, 1]);
        heapify(&mut heap);
        assert_eq!(ids(&heap), [1, 3, 0]);
    }

    /// The percentile bins: with all samples in bin 3, the 5th percentile's head is bin 2 and
    /// the 99th's tail bin 4; past the end the length.
    #[test]
    fn percentile_bins_as_faascache_finds_them() {
        let mut cdf = vec![0.0; 10];
        for v in cdf.iter_mut().skip(3) {
            *v = 1.0;
        }
        assert_eq!(percentile_bin(&cdf, 0.05, true), 2);
        assert_eq!(percentile_bin(&cdf, 0.99, false), 4);
        assert_eq!(percentile_bin(&[0.0; 4], 0.99, false), 4);
    }
}
