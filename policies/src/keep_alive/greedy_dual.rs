//! Greedy-Dual keep-alive and the eviction orders it is compared with: idle sandboxes are kept
//! until memory runs out, and then the one of lowest priority is evicted first.
//!
//! FaasCache (Fuerst and Sharma, "FaasCache: Keeping Serverless Computing Alive with Greedy-Dual
//! Caching", ASPLOS'21) shows that keeping functions warm is caching them, with sandboxes as
//! variable-size objects whose misses (cold starts) cost different amounts. Its policy is
//! Greedy-Dual-Size-Frequency: priority = clock + frequency × cost / size, and the clock rises to
//! the priority of each evicted sandbox, so that sandboxes not used for a long time age out. Its
//! simulator also implements the baselines below, which differ only in the priority.
//!
//! The semantics follow the paper's simulator (github.com/aFuerst/faascache-sim,
//! `code/split/LambdaScheduler.py`, `calc_priority`, `Eviction`, `Landlord_Charge_Rent` and
//! `runActivation`), per worker:
//!
//! - **frequency** of a function is the sum, over its live sandboxes on the worker, of the
//!   invocations each has started, hits and misses alike (the simulator's `Container.frequency`,
//!   bumped by `run()` on every activation and summed over `container_clones`). A sandbox takes
//!   its own count with it when it is destroyed, so the count is lost entirely once the function's
//!   last sandbox there is gone.
//! - **cost** is the function's cold-start overhead in microseconds (the simulator's `run_time -
//!   warm_time`), given per function to [`GreedyDual::new`]; **size** is the sandbox's memory in
//!   MB.
//! - the priority is recomputed whenever an invocation starts in one of the function's sandboxes
//!   on the worker (a cold start when its sandbox is ready), and **all** of the function's
//!   sandboxes there take it: the simulator assigns the new priority to every clone. So a priority
//!   belongs to a (function, worker) pair.
//! - an eviction takes the lowest priority first until enough memory is free, and sets the
//!   worker's clock to the priority of the last sandbox it took (the highest of the round). Ties
//!   go to the sandbox idle the longest (its last use, which for an idle sandbox is the end of its
//!   last invocation), then to the lowest sandbox id. The simulator's heap breaks ties
//!   arbitrarily.
//!
//! Variants (`priority` on each start, of the function on the worker):
//!
//! - `gd`: clock + frequency × cost / size.
//! - `freq`: clock + frequency × cost (the simulator's `FREQ`; no size).
//! - `size`: clock + frequency / size (the simulator's `SIZE`; no cost).
//! - `lru`: the time of the start. All of a function's sandboxes share it, so this orders
//!   functions by their last start on the worker (then sandboxes within a function by their last
//!   use), unlike the sandbox-level [`super::Lru`].
//! - `landlord` (Young's Landlord, the simulator's `LND`): a start resets the function's credit
//!   to its cost. Each eviction round first charges rent: with δ the least credit / size over all
//!   the worker's started sandboxes, running ones included, every one's credit drops by δ × size
//!   (floored at 0); then the lowest credits go first until enough is free. Rent is charged once
//!   per round, as in the simulator, so a round may evict sandboxes with credit left. The
//!   simulator uses the function's warm time as Landlord's cost (its code notes the cold-start
//!   overhead as the alternative); this uses the cold-start cost like the others.
//! - `rand` (the simulator's `RAND`): a uniform integer in 0..10 drawn on each start from the
//!   policy's seeded generator. Ties, which are frequent, go as above.
//!
//! Sandboxes never expire (`on_idle` keeps them with no deadline); sandboxes being created,
//! running or provisioned are never chosen, nor are the sandboxes of a function before its first
//! start. Priorities are `f64`, ordered by `f64::total_cmp`; the arithmetic is deterministic.
//!
//! Cost: each (function, worker) keeps its idle sandboxes in a list ordered by last use, and each
//! worker a binary min-heap with one valid entry per function holding idle sandboxes there (its
//! priority and its longest-idle sandbox). A change of a function's priority or longest-idle
//! sandbox pushes a new entry and leaves the old one stale, skipped when popped and dropped when
//! stale entries outnumber valid ones. So a start, an idle or a destroy costs O(1) list work and
//! at most one push (O(log m), m the functions idle on the worker, and O(1) on average when
//! priorities grow, as `gd`'s and `lru`'s do), and each victim O(log m) amortized; nothing scans.
//! Landlord's rent, which changes every priority, rebuilds the worker's heap: O(k) per eviction
//! round, k the functions with started sandboxes on the worker.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use sim::record::{DestroyReason, StartKind};
use sim::{IdleDecision, KeepAlive, Platform, Sandbox, SandboxId, WorkerId};
use workloads::{FunctionId, Time};

/// Which priority a [`GreedyDual`] policy gives a function's sandboxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Greedy-Dual-Size-Frequency: clock + frequency × cost / size.
    Gd,
    /// The time of the function's last start on the worker.
    Lru,
    /// clock + frequency × cost.
    Freq,
    /// clock + frequency / size.
    Size,
    /// Young's Landlord: credit reset to the cost on each start, rent charged on each eviction.
    Landlord,
    /// A random integer in 0..10 drawn on each start.
    Rand,
    /// FaasCache's per-function histogram policy (`HIST`), which only its container pool runs
    /// (see [`super::faascache`]); a [`GreedyDual`] given it orders functions as `lru` does.
    Hist,
}

impl Variant {
    pub const ALL: [Variant; 7] = [
        Variant::Gd,
        Variant::Lru,
        Variant::Freq,
        Variant::Size,
        Variant::Landlord,
        Variant::Rand,
        Variant::Hist,
    ];

    /// The variant's name: `gd`, `lru`, `freq`, `size`, `landlord` or `rand`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Gd => "gd",
            Variant::Lru => "lru",
            Variant::Freq => "freq",
            Variant::Size => "size",
            Variant::Landlord => "landlord",
            Variant::Rand => "rand",
            Variant::Hist => "hist",
        }
    }

    /// The variant of a name [`Variant::name`] gives.
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Whether the priority uses the functions' cold-start costs.
    pub fn uses_cost(self) -> bool {
        matches!(self, Variant::Gd | Variant::Freq | Variant::Landlord)
    }
}

/// End of a list; a slot or group that is not in use.
const NIL: u32 = u32::MAX;

/// A priority with a total order (`f64::total_cmp`), so that it can order a heap.
#[derive(Clone, Copy, Debug)]
struct Priority(f64);

impl Priority {
    /// Maps -0 to 0, which `total_cmp` would order below it.
    fn new(p: f64) -> Self {
        Priority(if p == 0.0 { 0.0 } else { p })
    }
}

impl PartialEq for Priority {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Priority {}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// An entry of a worker's eviction heap, ordered by a function's priority, then its
/// longest-idle sandbox's last use and id. It stands for that group while the group's `version`
/// is still `version`; a change of the group's priority or longest-idle sandbox pushes a new
/// entry instead of finding the old one, which goes stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    priority: Priority,
    idle_since: Time,
    sandbox: u32,
    group: u32,
    version: u32,
}

/// What the policy knows of a sandbox slot.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Its (function, worker) group, or `NIL` until its first start.
    group: u32,
    /// Invocations started in it, counted into its group's frequency.
    uses: u64,
    /// Its last use when it became idle.
    idle_since: Time,
    /// Neighbours in its group's idle list, while `listed`.
    prev: u32,
    next: u32,
    listed: bool,
}

impl Slot {
    const EMPTY: Slot = Slot {
        group: NIL,
        uses: 0,
        idle_since: 0,
        prev: NIL,
        next: NIL,
        listed: false,
    };
}

/// The started sandboxes of one function on one worker.
#[derive(Clone, Debug)]
struct Group {
    function: FunctionId,
    worker: WorkerId,
    /// Live sandboxes that have started an invocation.
    members: u32,
    /// Invocations started in them.
    freq: u64,
    /// Memory of one sandbox, MB (at least 1).
    size_mb: u32,
    /// The priority (Landlord: the credit) all of them share.
    priority: f64,
    /// Its idle sandboxes, least recently used first: (last use, id) ascending.
    head: u32,
    tail: u32,
    /// Position in its worker's `groups`, while it has members.
    position: u32,
    /// Bumped whenever its entry in its worker's heap changes.
    version: u32,
}

#[derive(Clone, Debug, Default)]
struct WorkerState {
    /// Priority of the last sandbox evicted.
    clock: f64,
    /// A min-heap with one valid entry per group with idle sandboxes, and stale entries.
    heap: BinaryHeap<Reverse<Entry>>,
    /// Groups with idle sandboxes: the valid entries in `heap`.
    live: u32,
    /// Groups with members, for Landlord's rent.
    groups: Vec<u32>,
}

/// Keeps idle sandboxes until memory is needed and evicts the lowest priority first, the
/// priority being the [`Variant`]'s.
#[derive(Clone, Debug)]
pub struct GreedyDual {
    variant: Variant,
    costs: Vec<u64>,
    rng: Xoshiro256PlusPlus,
    slots: Vec<Slot>,
    groups: Vec<Group>,
    /// Per function: (worker, group) sorted by worker.
    group_index: Vec<Vec<(WorkerId, u32)>>,
    workers: Vec<WorkerState>,
}

impl GreedyDual {
    /// `costs[f]` is function `f`'s cold-start cost in microseconds (sandbox creation plus
    /// initialization); only `gd`, `freq` and `landlord` read it (see [`Variant::uses_cost`]),
    /// and a start of a function it does not cover then panics. `seed` feeds `rand`.
    pub fn new(variant: Variant, costs: Vec<u64>, seed: u64) -> Self {
        GreedyDual {
            variant,
            costs,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            slots: Vec::new(),
            groups: Vec::new(),
            group_index: Vec::new(),
            workers: Vec::new(),
        }
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    fn cost(&self, function: FunctionId) -> f64 {
        match self.costs.get(function.index()) {
            Some(&c) => c as f64,
            None => panic!(
                "greedy-dual ({}): no cold-start cost for function {} ({} given)",
                self.variant.name(),
                function.0,
                self.costs.len()
            ),
        }
    }

    fn worker_state(&mut self, worker: WorkerId) -> &mut WorkerState {
        let w = worker.index();
        if w >= self.workers.len() {
            self.workers.resize_with(w + 1, WorkerState::default);
        }
        &mut self.workers[w]
    }

    /// The group of `function` on `worker`, created if missing.
    fn group_of(&mut self, function: FunctionId, worker: WorkerId) -> u32 {
        let f = function.index();
        if f >= self.group_index.len() {
            self.group_index.resize_with(f + 1, Vec::new);
        }
        match self.group_index[f].binary_search_by_key(&worker, |&(w, _)| w) {
            Ok(i) => self.group_index[f][i].1,
            Err(i) => {
                let g = self.groups.len() as u32;
                self.groups.push(Group {
                    function,
                    worker,
                    members: 0,
                    freq: 0,
                    size_mb: 1,
                    priority: 0.0,
                    head: NIL,
                    tail: NIL,
                    position: NIL,
                    version: 0,
                });
                self.group_index[f].insert(i, (worker, g));
                self.worker_state(worker);
                g
            }
        }
    }

    /// The group of a sandbox, joining it on first sight.
    #[inline]
    fn register(&mut self, sandbox: &Sandbox) -> u32 {
        let i = sandbox.id.index();
        if i >= self.slots.len() {
            self.slots.resize(i + 1, Slot::EMPTY);
        }
        if self.slots[i].group != NIL {
            return self.slots[i].group;
        }
        let g = self.group_of(sandbox.function, sandbox.worker);
        self.slots[i] = Slot {
            group: g,
            ..Slot::EMPTY
        };
        let group = &mut self.groups[g as usize];
        group.members += 1;
        if group.members == 1 {
            let list = &mut self.workers[group.worker.index()].groups;
            group.position = list.len() as u32;
            list.push(g);
        }
        g
    }

    /// Replaces a group's heap entry after a change of its priority or longest-idle sandbox.
    /// The old entry goes stale; the heap is compacted when stale entries outnumber valid ones,
    /// so this costs O(1) amortized besides the push (O(1) on average when priorities grow, as
    /// `gd`'s and `lru`'s do; O(log n) at worst).
    #[inline]
    fn touch(&mut self, g: u32) {
        let group = &mut self.groups[g as usize];
        group.version = group.version.wrapping_add(1);
        if group.head == NIL {
            return;
        }
        let entry = Entry {
            priority: Priority::new(group.priority),
            idle_since: self.slots[group.head as usize].idle_since,
            sandbox: group.head,
            group: g,
            version: group.version,
        };
        let state = &mut self.workers[group.worker.index()];
        state.heap.push(Reverse(entry));
        if state.heap.len() > 2 * state.live as usize + 64 {
            let groups = &self.groups;
            state
                .heap
                .retain(|Reverse(e)| groups[e.group as usize].version == e.version);
        }
    }

    /// Puts an idle sandbox into its group's list, in (last use, id) order. Sandboxes become
    /// idle in time order, so this looks back only over ties.
    fn link(&mut self, id: u32) {
        let slot = self.slots[id as usize];
        let g = slot.group;
        let key = (slot.idle_since, id);
        let mut after = self.groups[g as usize].tail;
        while after != NIL && (self.slots[after as usize].idle_since, after) > key {
            after = self.slots[after as usize].prev;
        }
        let new_head = after == NIL;
        let group = &mut self.groups[g as usize];
        if group.head == NIL {
            self.workers[group.worker.index()].live += 1;
        }
        let next = if after == NIL {
            group.head
        } else {
            self.slots[after as usize].next
        };
        if after == NIL {
            group.head = id;
        } else {
            self.slots[after as usize].next = id;
        }
        if next == NIL {
            group.tail = id;
        } else {
            self.slots[next as usize].prev = id;
        }
        let slot = &mut self.slots[id as usize];
        slot.prev = after;
        slot.next = next;
        slot.listed = true;
        if new_head {
            self.touch(g);
        }
    }

    /// Takes a sandbox out of its group's idle list, if it is there.
    #[inline]
    fn unlink(&mut self, id: u32) {
        let Some(&slot) = self.slots.get(id as usize) else {
            return;
        };
        if !slot.listed {
            return;
        }
        let g = slot.group;
        let group = &mut self.groups[g as usize];
        let was_head = group.head == id;
        if slot.prev == NIL {
            group.head = slot.next;
        } else {
            self.slots[slot.prev as usize].next = slot.next;
        }
        if slot.next == NIL {
            group.tail = slot.prev;
        } else {
            self.slots[slot.next as usize].prev = slot.prev;
        }
        let s = &mut self.slots[id as usize];
        s.prev = NIL;
        s.next = NIL;
        s.listed = false;
        if was_head {
            let group = &self.groups[g as usize];
            if group.head == NIL {
                self.workers[group.worker.index()].live -= 1;
            }
            self.touch(g);
        }
    }

    #[inline]
    fn set_priority(&mut self, g: u32, priority: f64) {
        if Priority::new(priority) == Priority::new(self.groups[g as usize].priority) {
            return;
        }
        self.groups[g as usize].priority = priority;
        self.touch(g);
    }

    /// The variant's priority for group `g` after a start at `now`.
    #[inline]
    fn priority(&mut self, now: Time, g: u32) -> f64 {
        let group = &self.groups[g as usize];
        let clock = self.workers[group.worker.index()].clock;
        let freq = group.freq as f64;
        let size = f64::from(group.size_mb);
        match self.variant {
            Variant::Gd => clock + freq * self.cost(group.function) / size,
            Variant::Freq => clock + freq * self.cost(group.function),
            Variant::Size => clock + freq / size,
            Variant::Lru | Variant::Hist => now as f64,
            Variant::Landlord => self.cost(group.function),
            Variant::Rand => f64::from(self.rng.random_range(0..10u32)),
        }
    }

    /// Landlord's rent: every started sandbox on the worker pays δ × its size, δ the least
    /// credit per MB among them. Changes every priority, so the worker's heap is rebuilt: O(m),
    /// m the functions with started sandboxes on the worker.
    fn charge_rent(&mut self, w: usize) {
        let state = &mut self.workers[w];
        let delta = state
            .groups
            .iter()
            .map(|&g| {
                let group = &self.groups[g as usize];
                group.priority / f64::from(group.size_mb)
            })
            .fold(f64::INFINITY, f64::min);
        if !(delta.is_finite() && delta > 0.0) {
            return;
        }
        let mut entries = std::mem::take(&mut state.heap).into_vec();
        entries.clear();
        for &g in &state.groups {
            let group = &mut self.groups[g as usize];
            let credit = group.priority - delta * f64::from(group.size_mb);
            group.priority = if credit > 0.0 { credit } else { 0.0 };
            group.version = group.version.wrapping_add(1);
            if group.head != NIL {
                entries.push(Reverse(Entry {
                    priority: Priority::new(group.priority),
                    idle_since: self.slots[group.head as usize].idle_since,
                    sandbox: group.head,
                    group: g,
                    version: group.version,
                }));
            }
        }
        state.heap = BinaryHeap::from(entries);
    }
}

impl KeepAlive for GreedyDual {
    fn name(&self) -> &'static str {
        match self.variant {
            Variant::Gd => "greedy-dual",
            Variant::Lru => "greedy-dual-lru",
            Variant::Freq => "greedy-dual-freq",
            Variant::Size => "greedy-dual-size",
            Variant::Landlord => "greedy-dual-landlord",
            Variant::Rand => "greedy-dual-rand",
            Variant::Hist => "greedy-dual-hist",
        }
    }

    fn on_idle(&mut self, _now: Time, sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        if sandbox.is_evictable() {
            self.register(sandbox);
            let slot = &mut self.slots[sandbox.id.index()];
            if !slot.listed {
                slot.idle_since = sandbox.last_used;
                self.link(sandbox.id.0);
            }
        }
        IdleDecision::Keep { until: None }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Keep { until: None }
    }

    fn on_start(&mut self, now: Time, sandbox: &Sandbox, _kind: StartKind, _p: &Platform) {
        let g = self.register(sandbox);
        self.unlink(sandbox.id.0);
        self.slots[sandbox.id.index()].uses += 1;
        let group = &mut self.groups[g as usize];
        group.freq += 1;
        group.size_mb = sandbox.memory_mb.max(1);
        let priority = self.priority(now, g);
        self.set_priority(g, priority);
    }

    fn on_destroyed(
        &mut self,
        _now: Time,
        sandbox: &Sandbox,
        _reason: DestroyReason,
        _platform: &Platform,
    ) {
        let Some(&slot) = self.slots.get(sandbox.id.index()) else {
            return;
        };
        if slot.group == NIL {
            return;
        }
        self.unlink(sandbox.id.0);
        self.slots[sandbox.id.index()] = Slot::EMPTY;
        let group = &mut self.groups[slot.group as usize];
        group.freq = group.freq.saturating_sub(slot.uses);
        group.members -= 1;
        if group.members == 0 {
            // The function's last started sandbox here is gone, and its frequency with it.
            group.freq = 0;
            let position = group.position as usize;
            group.position = NIL;
            let list = &mut self.workers[group.worker.index()].groups;
            list.swap_remove(position);
            if let Some(&moved) = list.get(position) {
                self.groups[moved as usize].position = position as u32;
            }
        }
    }

    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_mb: u64,
        platform: &Platform,
        victims: &mut Vec<SandboxId>,
    ) {
        let w = worker.index();
        if w >= self.workers.len() {
            return;
        }
        if self.variant == Variant::Landlord {
            self.charge_rent(w);
        }
        let start = victims.len();
        let mut freed = 0u64;
        let mut last = None;
        while freed < need_mb {
            let Some(Reverse(entry)) = self.workers[w].heap.pop() else {
                break;
            };
            if self.groups[entry.group as usize].version != entry.version {
                continue;
            }
            let id = entry.sandbox;
            self.unlink(id);
            let sb = platform.sandbox(SandboxId(id));
            debug_assert!(sb.is_evictable() && sb.worker == worker);
            freed += u64::from(sb.memory_mb);
            victims.push(SandboxId(id));
            last = Some(entry.priority);
        }
        if freed < need_mb {
            // Not enough (the controller asks only when there is): it evicts nothing, so the
            // order stays as it was; Landlord's rent stays charged, as in the simulator.
            for id in victims.drain(start..) {
                self.link(id.0);
            }
            return;
        }
        if let Some(Priority(p)) = last {
            self.workers[w].clock = p;
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each scenario runs on one worker through the real controller and the simulated backend,
    //! with 10 ms create + 25 ms init + 1 ms dispatch: a cold start arriving at t starts (and
    //! updates its priority) at t + 35 ms and, running 10 ms, becomes idle at t + 46 ms; a warm
    //! start arriving at t starts at t and becomes idle at t + 11 ms. Costs are given to the
    //! policy directly, so the arithmetic does not depend on the cost model. A probe wrapped
    //! around the policy logs every start's frequency and priority, every eviction round's clock
    //! and every evicted sandbox, and checks every round against a brute-force sort of the
    //! worker's idle sandboxes.

    use std::cell::RefCell;
    use std::rc::Rc;

    use rand::{RngExt, SeedableRng};
    use sim::record::SandboxEvent;
    use sim::{
        Controller, ControllerConfig, CostModel, QueueMode, Record, RecordSink, Scheduler,
        SimBackend, WorkerSpec, simulate,
    };
    use workloads::{App, AppId, Catalog, Duration, Function, Invocation};

    use super::*;

    const MS: Time = 1_000;
    const SEC: Time = 1_000_000;

    #[derive(Clone, Debug, Default, PartialEq)]
    struct Log {
        /// (time, function, frequency, priority) after each start.
        starts: Vec<(Time, u32, u64, f64)>,
        /// The worker's clock after each eviction round.
        clocks: Vec<f64>,
        /// After each eviction round: (function, priority) of each function started on the
        /// worker, by function.
        rounds: Vec<Vec<(u32, f64)>>,
        /// (time, function, sandbox id, created at) of each evicted sandbox.
        evicted: Vec<(Time, u32, u32, Time)>,
    }

    impl GreedyDual {
        fn group_state(&self, function: FunctionId, worker: WorkerId) -> Option<&Group> {
            let index = self.group_index.get(function.index())?;
            let i = index.binary_search_by_key(&worker, |&(w, _)| w).ok()?;
            Some(&self.groups[index[i].1 as usize])
        }

        /// Everything is released once every sandbox is gone.
        fn assert_empty(&self) {
            assert!(self.slots.iter().all(|s| s.group == NIL && !s.listed));
            for g in &self.groups {
                assert_eq!((g.members, g.freq, g.head, g.tail), (0, 0, NIL, NIL));
            }
            for w in &self.workers {
                assert!(w.live == 0 && w.groups.is_empty());
                assert!(
                    w.heap
                        .iter()
                        .all(|Reverse(e)| self.groups[e.group as usize].version != e.version)
                );
            }
        }
    }

    struct Probe {
        inner: GreedyDual,
        log: Rc<RefCell<Log>>,
        /// Set at shutdown, for the final check.
        done: Rc<RefCell<Option<GreedyDual>>>,
    }

    impl KeepAlive for Probe {
        fn name(&self) -> &'static str {
            self.inner.name()
        }

        fn on_idle(&mut self, now: Time, sandbox: &Sandbox, platform: &Platform) -> IdleDecision {
            self.inner.on_idle(now, sandbox, platform)
        }

        fn on_deadline(&mut self, now: Time, sandbox: &Sandbox, p: &Platform) -> IdleDecision {
            self.inner.on_deadline(now, sandbox, p)
        }

        fn on_start(&mut self, now: Time, sandbox: &Sandbox, kind: StartKind, p: &Platform) {
            self.inner.on_start(now, sandbox, kind, p);
            let g = self
                .inner
                .group_state(sandbox.function, sandbox.worker)
                .expect("a started sandbox has a group");
            self.log
                .borrow_mut()
                .starts
                .push((now, sandbox.function.0, g.freq, g.priority));
        }

        fn on_destroyed(
            &mut self,
            now: Time,
            sandbox: &Sandbox,
            reason: DestroyReason,
            platform: &Platform,
        ) {
            if reason == DestroyReason::Evicted {
                self.log.borrow_mut().evicted.push((
                    now,
                    sandbox.function.0,
                    sandbox.id.0,
                    sandbox.created_at,
                ));
            }
            self.inner.on_destroyed(now, sandbox, reason, platform);
            if platform.live_sandboxes() == 0 && reason == DestroyReason::Shutdown {
                *self.done.borrow_mut() = Some(self.inner.clone());
            }
        }

        fn choose_victims(
            &mut self,
            now: Time,
            worker: WorkerId,
            need_mb: u64,
            platform: &Platform,
            victims: &mut Vec<SandboxId>,
        ) {
            let start = victims.len();
            self.inner
                .choose_victims(now, worker, need_mb, platform, victims);
            // The definition, by brute force over the platform's idle sandboxes (after rent).
            let mut all: Vec<((Priority, Time, u32), u32)> = platform
                .evictable(worker)
                .map(|sb| {
                    let p = self
                        .inner
                        .group_state(sb.function, worker)
                        .expect("an idle sandbox has a group")
                        .priority;
                    ((Priority::new(p), sb.last_used, sb.id.0), sb.memory_mb)
                })
                .collect();
            all.sort();
            let mut expected = Vec::new();
            let mut freed = 0u64;
            for ((_, _, id), mb) in all {
                if freed >= need_mb {
                    break;
                }
                expected.push(SandboxId(id));
                freed += u64::from(mb);
            }
            if freed < need_mb {
                expected.clear();
            }
            assert_eq!(victims[start..], expected[..], "victims at {now}");

            let mut log = self.log.borrow_mut();
            log.clocks.push(self.inner.workers[worker.index()].clock);
            let mut round: Vec<(u32, f64)> = self.inner.workers[worker.index()]
                .groups
                .iter()
                .map(|&g| {
                    let g = &self.inner.groups[g as usize];
                    (g.function.0, g.priority)
                })
                .collect();
            round.sort_by_key(|&(f, _)| f);
            log.rounds.push(round);
        }
    }

    /// Each invocation goes to worker `function % workers`.
    struct ByFunction;

    impl Scheduler for ByFunction {
        fn name(&self) -> &'static str {
            "by-function"
        }

        fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
            WorkerId(function.0 % platform.workers().len() as u32)
        }
    }

    #[derive(Default)]
    struct Sink {
        records: Vec<Record>,
        destroyed: Vec<(u32, DestroyReason)>,
    }

    impl RecordSink for Sink {
        fn invocation(&mut self, record: &Record) {
            self.records.push(*record);
        }

        fn sandbox(&mut self, _now: Time, _worker: WorkerId, event: SandboxEvent) {
            if let SandboxEvent::Destroyed { function, reason } = event {
                self.destroyed.push((function.0, reason));
            }
        }
    }

    struct Outcome {
        /// Start kind of each invocation in order ("dropped" if it never started).
        kinds: Vec<&'static str>,
        /// Functions of the evicted sandboxes, in order, from the sink.
        evicted: Vec<u32>,
        log: Log,
    }

    struct Scenario {
        memory: Vec<u32>,
        workers: usize,
        capacity_mb: u64,
        queue: QueueMode,
    }

    impl Scenario {
        fn one_worker(memory: &[u32], capacity_mb: u64) -> Self {
            Scenario {
                memory: memory.to_vec(),
                workers: 1,
                capacity_mb,
                queue: QueueMode::Drop,
            }
        }

        fn run(&self, policy: GreedyDual, invocations: &[(u32, Time, Time)]) -> Outcome {
            let catalog = Catalog {
                packages: Default::default(),
                functions: self
                    .memory
                    .iter()
                    .enumerate()
                    .map(|(i, &memory_mb)| Function {
                        name: format!("f{i}"),
                        app: AppId(0),
                        memory_mb,
                        concurrency: None,
                        init: None,
                        packages: Vec::new(),
                    })
                    .collect(),
                apps: vec![App {
                    name: "a0".to_string(),
                }],
            };
            let config = ControllerConfig {
                workers: vec![
                    WorkerSpec {
                        memory_mb: self.capacity_mb,
                        cores: 4,
                    };
                    self.workers
                ],
                concurrency: 1,
                queue: self.queue,
                ..Default::default()
            };
            let log = Rc::new(RefCell::new(Log::default()));
            let done = Rc::new(RefCell::new(None));
            let probe = Probe {
                inner: policy,
                log: Rc::clone(&log),
                done: Rc::clone(&done),
            };
            let mut controller =
                Controller::new(catalog, &config, Box::new(probe), Box::new(ByFunction));
            let mut backend = SimBackend::new(CostModel {
                create: Duration(10 * MS).into(),
                init: Duration(25 * MS).into(),
                fork: Duration(2 * MS).into(),
                dispatch: Duration(MS).into(),
                pause: Duration(MS).into(),
                unpause: Duration(MS).into(),
                ..CostModel::default()
            });
            let mut sink = Sink::default();
            let stream = invocations.iter().map(|&(f, arrival, duration)| {
                Ok(Invocation {
                    function: FunctionId(f),
                    arrival,
                    duration,
                })
            });
            simulate(&mut controller, &mut backend, stream, &mut sink).expect("the run works");
            done.borrow()
                .as_ref()
                .expect("the run ends with a shutdown")
                .assert_empty();
            let mut records = sink.records;
            records.sort_by_key(|r| r.id);
            let log = log.borrow().clone();
            Outcome {
                kinds: records
                    .iter()
                    .map(|r| r.start_kind.map_or("dropped", |k| k.as_str()))
                    .collect(),
                evicted: sink
                    .destroyed
                    .iter()
                    .filter(|&&(_, r)| r == DestroyReason::Evicted)
                    .map(|&(f, _)| f)
                    .collect(),
                log,
            }
        }
    }

    /// Invocations of 10 ms: (function, arrival).
    fn short(list: &[(u32, Time)]) -> Vec<(u32, Time, Time)> {
        list.iter().map(|&(f, t)| (f, t, 10 * MS)).collect()
    }

    /// (function, frequency, priority) of each start.
    fn starts(log: &Log) -> Vec<(u32, u64, f64)> {
        log.starts.iter().map(|&(_, f, n, p)| (f, n, p)).collect()
    }

    #[test]
    fn greedy_dual_variant_names() {
        let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
        assert_eq!(
            names,
            ["gd", "lru", "freq", "size", "landlord", "rand", "hist"]
        );
        for v in Variant::ALL {
            assert_eq!(Variant::from_name(v.name()), Some(v));
        }
        assert_eq!(Variant::from_name("gdsf"), None);
        assert_eq!(
            GreedyDual::new(Variant::Gd, vec![], 1).name(),
            "greedy-dual"
        );
        assert_eq!(
            GreedyDual::new(Variant::Landlord, vec![], 1).name(),
            "greedy-dual-landlord"
        );
    }

    /// Four 100 MB functions, room for three; cost / size = 1, 3, 2, 4.
    ///
    /// | t  | arrival | evicts (priorities)          | clock | start: freq, priority |
    /// |----|---------|------------------------------|-------|-----------------------|
    /// | 0s | f0 cold |                              | 0     | 1, 0 + 1×1 = 1        |
    /// | 1s | f1 cold |                              | 0     | 1, 3                  |
    /// | 2s | f2 cold |                              | 0     | 1, 2                  |
    /// | 3s | f3 cold | f0 (f0 1, f1 3, f2 2)        | 1     | 1, 1 + 4 = 5          |
    /// | 4s | f0 cold | f2 (f1 3, f2 2, f3 5)        | 2     | 1 (lost), 2 + 1 = 3   |
    /// | 5s | f2 cold | f1 (f1 3 = f0 3: f1 idle since 1.046 s, f0 since 4.046 s) | 3 | 1, 3 + 2 = 5 |
    /// | 6s | f3 warm |                              | 3     | 2, 3 + 2×4 = 11       |
    /// | 7s | f1 cold | f0 (f0 3, f2 5, f3 11)       | 3     | 1, 3 + 3 = 6          |
    #[test]
    fn greedy_dual_gd_evicts_lowest_priority_and_advances_clock() {
        let run = Scenario::one_worker(&[100; 4], 300).run(
            GreedyDual::new(Variant::Gd, vec![100, 300, 200, 400], 0),
            &short(&[
                (0, 0),
                (1, SEC),
                (2, 2 * SEC),
                (3, 3 * SEC),
                (0, 4 * SEC),
                (2, 5 * SEC),
                (3, 6 * SEC),
                (1, 7 * SEC),
            ]),
        );
        assert_eq!(run.evicted, [0, 2, 1, 0]);
        assert_eq!(
            run.kinds,
            [
                "cold", "cold", "cold", "cold", "cold", "cold", "warm", "cold"
            ]
        );
        assert_eq!(run.log.clocks, [1.0, 2.0, 3.0, 3.0]);
        assert_eq!(
            starts(&run.log),
            [
                (0, 1, 1.0),
                (1, 1, 3.0),
                (2, 1, 2.0),
                (3, 1, 5.0),
                (0, 1, 3.0),
                (2, 1, 5.0),
                (3, 2, 11.0),
                (1, 1, 6.0)
            ]
        );
        // Cold starts update the priority when the sandbox is ready, warm ones on arrival.
        assert_eq!(run.log.starts[0].0, 35 * MS);
        assert_eq!(run.log.starts[6].0, 6 * SEC);
    }

    /// Equal priorities and equal last uses: the lowest sandbox id goes first.
    ///
    /// f0 and f1 (100 MB, cost 100, so priority 1 each) arrive together at 0 s, get sandboxes
    /// 0 and 1 in arrival order, start at 35 ms and go idle at 46 ms. f2 at 1 s needs one of
    /// them out: the one with sandbox 0. Swapping the arrival order swaps the victim. Two
    /// sandboxes of one function idle since the same time: again sandbox 0 first.
    #[test]
    fn greedy_dual_ties_go_to_least_recently_used_then_lowest_id() {
        let scenario = Scenario::one_worker(&[100; 3], 200);
        let gd = || GreedyDual::new(Variant::Gd, vec![100; 3], 0);

        let run = scenario.run(gd(), &short(&[(0, 0), (1, 0), (2, SEC)]));
        assert_eq!(run.log.starts[0].3, run.log.starts[1].3);
        assert_eq!(run.evicted, [0]);
        assert_eq!(run.log.evicted[0].2, 0);

        let run = scenario.run(gd(), &short(&[(1, 0), (0, 0), (2, SEC)]));
        assert_eq!(run.evicted, [1]);
        assert_eq!(run.log.evicted[0].2, 0);

        // f0 twice at 0 s: sandboxes 0 and 1, both idle at 46 ms with priority 2 (freq 2).
        let run = scenario.run(gd(), &short(&[(0, 0), (0, 0), (1, SEC)]));
        assert_eq!(starts(&run.log), [(0, 1, 1.0), (0, 2, 2.0), (1, 1, 3.0)]);
        assert_eq!(run.log.evicted, [(SEC, 0, 0, 0)]);
        assert_eq!(run.kinds, ["cold", "cold", "cold"]);

        // Same again with the higher id going idle first. Sandbox A (id 0) is idle from 46 ms;
        // B (id 1, arriving while A is created) runs until 2.037 s. At 10 s f0 (1 s) takes the
        // most recently used, B; at 10.5 s f0 (0.5 s) takes A; both end at 11.001 s, B first.
        // At 12 s f1 needs one of them (f0's priority is 4 for both): A, the lower id.
        let run = scenario.run(
            gd(),
            &[
                (0, 0, 10 * MS),
                (0, MS, 2 * SEC),
                (0, 10 * SEC, SEC),
                (0, 10 * SEC + SEC / 2, SEC / 2),
                (1, 12 * SEC, 10 * MS),
            ],
        );
        assert_eq!(run.log.evicted, [(12 * SEC, 0, 0, 0)]);
        assert_eq!(run.kinds, ["cold", "cold", "warm", "warm", "cold"]);
    }

    /// Three 100 MB functions of cost 100 (priority = clock + freq), room for two.
    ///
    /// | t  | arrival | evicts (priorities)             | clock | start: freq, priority |
    /// |----|---------|---------------------------------|-------|-----------------------|
    /// | 0s | f0 cold |                                 | 0     | 1, 1                  |
    /// | 1s | f0 warm |                                 | 0     | 2, 2                  |
    /// | 2s | f0 warm |                                 | 0     | 3, 3                  |
    /// | 3s | f1 cold |                                 | 0     | 1, 1                  |
    /// | 4s | f2 cold | f1 (f0 3, f1 1)                 | 1     | 1, 2                  |
    /// | 5s | f1 cold | f2 (f0 3, f2 2)                 | 2     | 1, 3                  |
    /// | 6s | f2 cold | f0 (f0 3 idle since 2.011 s, f1 3 since 5.046 s) | 3 | 1, 4  |
    /// | 7s | f0 cold | f1 (f1 3, f2 4)                 | 3     | 1 (lost), 4           |
    /// | 8s | f2 warm |                                 | 3     | 2, 5                  |
    /// | 9s | f1 cold | f0 (f0 4, f2 5)                 | 4     | 1, 5                  |
    ///
    /// Had f0 kept its frequency at 7 s (4: priority 7), f2 would have gone at 9 s.
    #[test]
    fn greedy_dual_frequency_is_lost_with_the_last_sandbox() {
        let run = Scenario::one_worker(&[100; 3], 200).run(
            GreedyDual::new(Variant::Gd, vec![100; 3], 0),
            &short(&[
                (0, 0),
                (0, SEC),
                (0, 2 * SEC),
                (1, 3 * SEC),
                (2, 4 * SEC),
                (1, 5 * SEC),
                (2, 6 * SEC),
                (0, 7 * SEC),
                (2, 8 * SEC),
                (1, 9 * SEC),
            ]),
        );
        assert_eq!(run.evicted, [1, 2, 0, 1, 0]);
        assert_eq!(
            run.kinds,
            [
                "cold", "warm", "warm", "cold", "cold", "cold", "cold", "cold", "warm", "cold"
            ]
        );
        assert_eq!(run.log.clocks, [1.0, 2.0, 3.0, 3.0, 4.0]);
        assert_eq!(
            starts(&run.log),
            [
                (0, 1, 1.0),
                (0, 2, 2.0),
                (0, 3, 3.0),
                (1, 1, 1.0),
                (2, 1, 2.0),
                (1, 1, 3.0),
                (2, 1, 4.0),
                (0, 1, 4.0),
                (2, 2, 5.0),
                (1, 1, 5.0)
            ]
        );
    }

    /// The frequency is the sum of the uses of the function's live sandboxes: an evicted
    /// sandbox takes its own uses with it, as in the simulator.
    ///
    /// 100 MB functions of cost 100, room for three.
    /// - 0 s f0 (2 s): cold, sandbox A; starts at 35 ms: freq 1, priority 1; idle at 2.036 s.
    /// - 1 ms f0 (2 s): A is being created, so cold, sandbox B; starts at 36 ms: freq 2, 2;
    ///   idle at 2.037 s.
    /// - 3 s f0: warm in the most recently used, B: freq 3, priority 3; B idle at 3.011 s.
    /// - 4 s f1: cold, priority 1. Memory is full.
    /// - 5 s f2: evicts f1 (1 < 3); clock 1; f2 priority 2.
    /// - 6 s f1: evicts f2 (2 < 3); clock 2; f1 priority 3.
    /// - 7 s f2: f0 3 = f1 3; f0's longest idle, A (2.036 s), is older than f1's (6.046 s):
    ///   evicts A, which takes its 1 use; clock 3; f2 priority 4.
    /// - 8 s f0: warm in B: freq 2 + 1 = 3, priority 3 + 3 = 6 (7 had A's use stayed).
    #[test]
    fn greedy_dual_frequency_counts_each_sandbox_uses() {
        let run = Scenario::one_worker(&[100; 3], 300).run(
            GreedyDual::new(Variant::Gd, vec![100; 3], 0),
            &[
                (0, 0, 2 * SEC),
                (0, MS, 2 * SEC),
                (0, 3 * SEC, 10 * MS),
                (1, 4 * SEC, 10 * MS),
                (2, 5 * SEC, 10 * MS),
                (1, 6 * SEC, 10 * MS),
                (2, 7 * SEC, 10 * MS),
                (0, 8 * SEC, 10 * MS),
            ],
        );
        let evicted: Vec<(u32, Time)> = run.log.evicted.iter().map(|e| (e.1, e.3)).collect();
        assert_eq!(evicted, [(1, 4 * SEC), (2, 5 * SEC), (0, 0)]);
        assert_eq!(
            run.kinds,
            [
                "cold", "cold", "warm", "cold", "cold", "cold", "cold", "warm"
            ]
        );
        assert_eq!(
            starts(&run.log),
            [
                (0, 1, 1.0),
                (0, 2, 2.0),
                (0, 3, 3.0),
                (1, 1, 1.0),
                (2, 1, 2.0),
                (1, 1, 3.0),
                (2, 1, 4.0),
                (0, 3, 6.0)
            ]
        );
    }

    /// A sandbox being created is never a victim, even in the lowest-priority function.
    ///
    /// 100 MB functions, costs f0 100, f1 300, f2 100, room for three.
    /// - 0 s f0: cold, sandbox A (id 0): freq 1, priority 1; idle at 46 ms.
    /// - 1 s f1: cold, priority 3.
    /// - 2 s f0: warm in A: freq 2, priority 2; A busy until 2.011 s.
    /// - 2.005 s f0: A is busy: cold, sandbox B, being created until 2.040 s. Memory is full.
    /// - 2.020 s f2: f0 (2) holds idle A and B in creation, f1 (3) is idle: evicts A, never B.
    ///   B then starts at 2.040 s with A's 2 uses gone: freq 1, priority 2 + 1 = 3.
    #[test]
    fn greedy_dual_never_chooses_a_sandbox_being_created() {
        let run = Scenario::one_worker(&[100; 3], 300).run(
            GreedyDual::new(Variant::Gd, vec![100, 300, 100], 0),
            &short(&[
                (0, 0),
                (1, SEC),
                (0, 2 * SEC),
                (0, 2 * SEC + 5 * MS),
                (2, 2 * SEC + 20 * MS),
            ]),
        );
        assert_eq!(run.log.evicted, [(2 * SEC + 20 * MS, 0, 0, 0)]);
        assert_eq!(run.kinds, ["cold", "cold", "warm", "cold", "cold"]);
        assert_eq!(run.log.starts[3], (2 * SEC + 40 * MS, 0, 1, 3.0));
    }

    /// `lru` gives all of a function's sandboxes the time of its last start.
    ///
    /// 100 MB functions, room for three.
    /// - 0 s f0 (2 s): cold, sandbox A, started at 35 ms; idle at 2.036 s.
    /// - 1 s f0: A busy: cold, sandbox B, started at 1.035 s; idle at 1.046 s.
    /// - 3 s f1: cold, started at 3.035 s. Memory is full.
    /// - 4 s f0: warm in the most recently used, A: f0's priority is 4 s.
    /// - 5 s f2: f0 (4 s) against f1 (3.035 s): evicts f1, although B, idle since 1.046 s, is the
    ///   sandbox used least recently.
    /// - 6 s f1: f0 (4 s) against f2 (5.035 s): evicts f0's longest idle, B.
    #[test]
    fn greedy_dual_lru_orders_functions_by_last_start() {
        let run = Scenario::one_worker(&[100; 3], 300).run(
            GreedyDual::new(Variant::Lru, vec![], 0),
            &[
                (0, 0, 2 * SEC),
                (0, SEC, 10 * MS),
                (1, 3 * SEC, 10 * MS),
                (0, 4 * SEC, 10 * MS),
                (2, 5 * SEC, 10 * MS),
                (1, 6 * SEC, 10 * MS),
            ],
        );
        let evicted: Vec<(u32, Time)> = run.log.evicted.iter().map(|e| (e.1, e.3)).collect();
        assert_eq!(evicted, [(1, 3 * SEC), (0, SEC)]);
        assert_eq!(run.kinds, ["cold", "cold", "cold", "warm", "cold", "cold"]);
        let priorities: Vec<f64> = run.log.starts.iter().map(|s| s.3).collect();
        assert_eq!(
            priorities,
            [
                35_000.0,
                1_035_000.0,
                3_035_000.0,
                4_000_000.0,
                5_035_000.0,
                6_035_000.0
            ]
        );
    }

    /// `freq` is clock + freq × cost, whatever the size; `gd` divides by the size.
    ///
    /// f0 100 MB cost 300, f1 200 MB cost 100, f2 100 MB cost 100; room for 300 MB.
    /// - 0 s f0: freq: 300 (gd: 3). 1 s f1: freq: 100 (gd: 0.5). Memory is full.
    /// - 2 s f1 warm: freq 2: 200 (gd: 1).
    /// - 3 s f2: evicts f1 in both (200 < 300; 1 < 3). Clock 200 (gd: 1). f2: 300 (gd: 2).
    /// - 4 s f1 (200 MB, 100 free): freq: f0 300 = f2 300, f0 idle longer: evicts f0; clock
    ///   300; f1 400. gd: f0 3, f2 2: evicts f2.
    #[test]
    fn greedy_dual_freq_ignores_size() {
        let scenario = Scenario::one_worker(&[100, 200, 100], 300);
        let trace = short(&[(0, 0), (1, SEC), (1, 2 * SEC), (2, 3 * SEC), (1, 4 * SEC)]);
        let costs = vec![300, 100, 100];

        let run = scenario.run(GreedyDual::new(Variant::Freq, costs.clone(), 0), &trace);
        assert_eq!(run.evicted, [1, 0]);
        assert_eq!(run.kinds, ["cold", "cold", "warm", "cold", "cold"]);
        assert_eq!(run.log.clocks, [200.0, 300.0]);
        assert_eq!(
            starts(&run.log),
            [
                (0, 1, 300.0),
                (1, 1, 100.0),
                (1, 2, 200.0),
                (2, 1, 300.0),
                (1, 1, 400.0)
            ]
        );

        let run = scenario.run(GreedyDual::new(Variant::Gd, costs, 0), &trace);
        assert_eq!(run.evicted, [1, 2]);
        assert_eq!(run.log.clocks, [1.0, 2.0]);
    }

    /// `size` is clock + freq / size, whatever the cost.
    ///
    /// f0 100 MB cost 10^6, f1 200 MB cost 1, f2 100 MB cost 1; room for 300 MB.
    /// - 0 s f0: 1/100 = 0.01. 1 s f1: 1/200 = 0.005. Memory is full.
    /// - 2 s f2: evicts f1 (0.005); clock 0.005; f2 0.005 + 0.01 = 0.015.
    /// - 3 s f1 (100 free): f0 0.01 < f2 0.015: evicts f0 (gd would keep it, its cost is
    ///   huge); clock 0.01; f1 0.01 + 0.005 = 0.015.
    /// - 3.5 s f2 warm: freq 2: 0.01 + 2/100 = 0.03.
    /// - 4 s f0: f1 0.015 < f2 0.03: evicts f1; clock 0.015; f0 0.015 + 0.01.
    #[test]
    fn greedy_dual_size_ignores_cost() {
        let run = Scenario::one_worker(&[100, 200, 100], 300).run(
            GreedyDual::new(Variant::Size, vec![1_000_000, 1, 1], 0),
            &short(&[
                (0, 0),
                (1, SEC),
                (2, 2 * SEC),
                (1, 3 * SEC),
                (2, 3 * SEC + SEC / 2),
                (0, 4 * SEC),
            ]),
        );
        assert_eq!(run.evicted, [1, 0, 1]);
        assert_eq!(run.kinds, ["cold", "cold", "cold", "cold", "warm", "cold"]);
        assert_eq!(run.log.clocks, [0.005, 0.01, 0.01 + 0.005]);
        assert_eq!(
            starts(&run.log),
            [
                (0, 1, 0.01),
                (1, 1, 0.005),
                (2, 1, 0.005 + 0.01),
                (1, 1, 0.01 + 0.005),
                (2, 2, 0.01 + 0.02),
                (0, 1, 0.01 + 0.005 + 0.01)
            ]
        );
    }

    /// Landlord: rent, eviction of the least credit, and a start resetting the credit.
    ///
    /// f0 100 MB cost 500, f1 200 MB cost 600, f2 100 MB cost 300; room for 300 MB.
    /// - 0 s f0: credit 500. 1 s f1: credit 600. Memory is full.
    /// - 2 s f2: rent δ = min(500/100, 600/200) = 3: f0 500 - 300 = 200, f1 600 - 600 = 0;
    ///   evicts f1. f2 starts: 300.
    /// - 3 s f0 warm: credit back to 500.
    /// - 4 s f1 (200 MB, 100 free): δ = min(500/100, 300/100) = 3: f0 200, f2 0: evicts f2.
    ///   f1 starts: 600. (Without the reset f0 would be at 200: δ = 2, evicting f0.)
    /// - 5 s f2: δ = min(200/100, 600/200) = 2: f0 0, f1 200: evicts f0. f2 starts: 300.
    #[test]
    fn greedy_dual_landlord_charges_rent_and_resets_credit() {
        let run = Scenario::one_worker(&[100, 200, 100], 300).run(
            GreedyDual::new(Variant::Landlord, vec![500, 600, 300], 0),
            &short(&[
                (0, 0),
                (1, SEC),
                (2, 2 * SEC),
                (0, 3 * SEC),
                (1, 4 * SEC),
                (2, 5 * SEC),
            ]),
        );
        assert_eq!(run.evicted, [1, 2, 0]);
        assert_eq!(run.kinds, ["cold", "cold", "cold", "warm", "cold", "cold"]);
        assert_eq!(
            run.log.rounds,
            [
                vec![(0, 200.0), (1, 0.0)],
                vec![(0, 200.0), (2, 0.0)],
                vec![(0, 0.0), (1, 200.0)]
            ]
        );
        let credits: Vec<f64> = run.log.starts.iter().map(|s| s.3).collect();
        assert_eq!(credits, [500.0, 600.0, 300.0, 500.0, 600.0, 300.0]);
    }

    /// Landlord's rent is set by every started sandbox, running ones included, as the
    /// simulator charges its whole pool; running sandboxes pay it too but are not evicted.
    ///
    /// 100 MB functions, costs f0 500, f1 100, f2 400, f3 300; room for three.
    /// - 0 s f0: 500. 1 s f2: 400. 2 s f1 (10 s): 100, running until 12.036 s. Full.
    /// - 3 s f3: δ = min(5, 1, 4) = 1 (set by running f1): f0 400, f1 0, f2 300. Of the idle
    ///   ones f2 has the least credit: evicted with 300 left. f3 starts: 300.
    /// - 4 s f2: δ = 0 (f1): nothing changes; f3 300 < f0 400: evicts f3.
    ///   (Rent over idle sandboxes only would have left f0 at 100 and evicted f0 here.)
    #[test]
    fn greedy_dual_landlord_rent_counts_running_sandboxes() {
        let run = Scenario::one_worker(&[100; 4], 300).run(
            GreedyDual::new(Variant::Landlord, vec![500, 100, 400, 300], 0),
            &[
                (0, 0, 10 * MS),
                (2, SEC, 10 * MS),
                (1, 2 * SEC, 10 * SEC),
                (3, 3 * SEC, 10 * MS),
                (2, 4 * SEC, 10 * MS),
            ],
        );
        assert_eq!(run.evicted, [2, 3]);
        assert_eq!(
            run.log.rounds,
            [
                vec![(0, 400.0), (1, 0.0), (2, 300.0)],
                vec![(0, 400.0), (1, 0.0), (3, 300.0)]
            ]
        );
        assert_eq!(run.kinds, ["cold"; 5]);
    }

    /// `rand` draws each start's priority from its seeded generator: the same seed gives the
    /// same run, and the draws are those of `Xoshiro256PlusPlus::seed_from_u64(seed)`.
    ///
    /// Four 100 MB functions, room for three; f0, f1, f2, f3, f0, f1, f2, f3 a second apart.
    /// With seed 7 the draws are 0, 1, 7 for the first three cold starts, then (evicting the
    /// least):
    /// - 3 s f3: f0 0, f1 1, f2 7: evicts f0; f3 draws 4.
    /// - 4 s f0: f1 1, f2 7, f3 4: evicts f1; f0 draws 9.
    /// - 5 s f1: f2 7, f3 4, f0 9: evicts f3; f1 draws 4.
    /// - 6 s f2: warm; draws 7.
    /// - 7 s f3: f2 7, f0 9, f1 4: evicts f1; f3 draws 3.
    #[test]
    fn greedy_dual_rand_is_seeded_and_deterministic() {
        let scenario = Scenario::one_worker(&[100; 4], 300);
        let trace = short(
            &(0..8)
                .map(|i| (i % 4, Time::from(i) * SEC))
                .collect::<Vec<_>>(),
        );
        let run = scenario.run(GreedyDual::new(Variant::Rand, vec![], 7), &trace);

        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let draws: Vec<f64> = (0..run.log.starts.len())
            .map(|_| f64::from(rng.random_range(0..10u32)))
            .collect();
        assert_eq!(draws, [0.0, 1.0, 7.0, 4.0, 9.0, 4.0, 7.0, 3.0]);
        let priorities: Vec<f64> = run.log.starts.iter().map(|s| s.3).collect();
        assert_eq!(priorities, draws);
        assert_eq!(run.evicted, [0, 1, 3, 1]);
        assert_eq!(
            run.kinds,
            [
                "cold", "cold", "cold", "cold", "cold", "cold", "warm", "cold"
            ]
        );

        let again = scenario.run(GreedyDual::new(Variant::Rand, vec![], 7), &trace);
        assert_eq!(again.log, run.log);
        let other = scenario.run(GreedyDual::new(Variant::Rand, vec![], 8), &trace);
        assert_ne!(other.log.starts, run.log.starts);
    }

    /// Random workloads on two workers, every variant, queueing on: each eviction round matches
    /// the brute-force definition (checked by the probe), and every structure is empty after the
    /// final shutdown (checked by the run).
    #[test]
    fn greedy_dual_matches_brute_force_on_random_workloads() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2021);
        let memory: Vec<u32> = (0..12)
            .map(|_| [50, 100, 150, 200][rng.random_range(0..4usize)])
            .collect();
        let costs: Vec<u64> = (0..12).map(|_| rng.random_range(1..100_000u64)).collect();
        let mut t = 0;
        let trace: Vec<(u32, Time, Time)> = (0..3000)
            .map(|_| {
                t += rng.random_range(0..150 * MS);
                let f = rng.random_range(0..12u32);
                (f, t, rng.random_range(MS..2 * SEC))
            })
            .collect();
        let scenario = Scenario {
            memory,
            workers: 2,
            capacity_mb: 500,
            queue: QueueMode::Queue { capacity: 4 },
        };
        for variant in Variant::ALL {
            let run = scenario.run(GreedyDual::new(variant, costs.clone(), 3), &trace);
            assert!(run.log.evicted.len() > 100, "{variant:?} evicts");
            assert_eq!(run.kinds.len(), trace.len());
        }
    }
}
