//! The simulated data plane: every command takes the time the cost model says, and completions
//! come back through the event queue.
//!
//! How invocations share a worker's cores is the [`CpuModel`]'s business (see [`crate::cpu`]).
//! Under the default `ignored` model an invocation's end is known when it starts and goes straight
//! into the queue, as it always did; under `isolated` and `shared` the CPU model keeps each busy
//! worker's predicted next end in its own agenda, replaced whenever a command changes that
//! worker, and the backend merges the two by (time, sequence) key.
//!
//! The run loop reads the time of the next event with [`SimBackend::next_time`] and decides from
//! it whether an arrival comes first, so the next event is always a real completion. The only
//! events that can go stale are ends of invocations whose sandbox was destroyed under the ignored
//! model; they are dropped as soon as they reach the head of the queue, after every destruction
//! and every [`SimBackend::pop`].

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use serde::{Deserialize, Serialize};
use workloads::{Duration, Time};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::backend::{Backend, Completion, CreateRequest, InvocationHandle, Timer};
use crate::cost::Cost;
use crate::cpu::{Cpu, CpuModel, event_key};
use crate::platform::SandboxId;

/// Durations of the sandbox operations.
///
/// The defaults are order-of-magnitude figures for an OpenLambda worker with SOCK lean
/// containers, not measurements of any host; set them for the host you model.
/// - `create` 10 ms: a lean container built from bind mounts and a pre-created cgroup without a
///   network namespace, as SOCK (Oakes et al., USENIX ATC'18) does, 18 times faster than Docker in
///   that paper, whose containers take hundreds of milliseconds to start.
/// - `init` 25 ms: starting a Python interpreter and loading the handler, the runtime cost that
///   SOCK's zygotes avoid. Importing popular libraries adds about 100 ms more (same paper); it is
///   not included.
/// - `dispatch` 1 ms: forwarding a request to a warm sandbox's server over a local socket.
/// - `fork` 2 ms: forking a sandbox's process from a zygote and moving it into the sandbox's
///   cgroup and namespaces, on top of `create`; SOCK's zygotes make this the whole cost of
///   starting the runtime with the zygote's packages already imported.
/// - `pause` and `unpause` 1 ms: a cgroup freezer transition. OpenLambda (Hendrickson et al.,
///   HotCloud'16) pauses idle containers instead of keeping them running because resuming one
///   costs far less than starting a new one.
///
/// Each cost is a fixed duration or a distribution measured on a host (see [`crate::cost`]);
/// measured costs are drawn anew for every operation, from the backend's own random stream.
///
/// The terms that default to zero (`init_base`, `init_per_gb`, `packages`) are for a model of a
/// particular host, as `lambdasim calibrate` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostModel {
    /// Creating a sandbox: namespaces, cgroup, root file system, runtime process.
    pub create: Cost,
    /// Initializing the runtime and the handler in a new sandbox, for a function without an
    /// initialization time of its own.
    pub init: Cost,
    /// Paid by every new sandbox's initialization on top of the handler's own time (the
    /// function's, or `init`): handing the sandbox its initialization and hearing back.
    pub init_base: Cost,
    /// Filling a new sandbox's memory as it initializes, per GB of the sandbox's memory.
    pub init_per_gb: Duration,
    /// Forking a process from a zygote: a sandbox's runtime, or a child zygote.
    pub fork: Cost,
    /// Creating a sandbox whose runtime is forked from a zygote, in place of `create` + `fork`.
    /// Where a fork replaces starting the runtime (as in real mode, where a forked sandbox takes
    /// a cgroup and a fork, not a fresh runner too), this is what `lambdasim calibrate` measures
    /// through the backend. Without it, a forked sandbox costs `create` and then `fork`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_forked: Option<Cost>,
    /// Handing a request to a ready sandbox.
    pub dispatch: Cost,
    /// Freezing a sandbox.
    pub pause: Cost,
    /// Thawing a sandbox.
    pub unpause: Cost,
    /// What installing and importing a package costs on the modelled host, in place of the
    /// catalogue's install and import times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackageCosts>,
}

/// Package costs as functions of a package's catalogue entry: its files' size, its import
/// memory and its import CPU time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PackageCosts {
    /// Installing a package, per package (drawn for each installation)...
    pub install: Cost,
    /// ... and per GB of its files.
    pub install_per_gb: Duration,
    /// Importing a package, per package (drawn for each import)...
    pub import: Cost,
    /// ... per GB of its files, which an import reads...
    pub import_per_gb: Duration,
    /// ... per GB of its import memory, which an import fills...
    pub import_memory_per_gb: Duration,
    /// ... and its import CPU time times this.
    pub import_cpu: f64,
}

impl Default for PackageCosts {
    fn default() -> Self {
        PackageCosts {
            install: Cost::ZERO,
            install_per_gb: Duration::ZERO,
            import: Cost::ZERO,
            import_per_gb: Duration::ZERO,
            import_memory_per_gb: Duration::ZERO,
            import_cpu: 1.0,
        }
    }
}

/// `per_gb` for `mb` MB, in µs.
fn per_gb(per_gb: Duration, mb: f64) -> Time {
    (per_gb.micros() as f64 * mb / 1024.0).round() as Time
}

impl PackageCosts {
    /// The install and import time of `package` in µs, without the per-package draws.
    pub fn of(&self, package: &workloads::packages::Package) -> (Time, Time) {
        let disk_mb = package.disk_bytes as f64 / (1u64 << 20) as f64;
        let install = per_gb(self.install_per_gb, disk_mb);
        let import = per_gb(self.import_per_gb, disk_mb)
            + per_gb(self.import_memory_per_gb, package.import_mb)
            + (package.import_ms * self.import_cpu * 1000.0).round() as Time;
        (install, import)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.import_cpu.is_finite() && self.import_cpu >= 0.0 {
            Ok(())
        } else {
            Err(format!(
                "costs.packages.import_cpu must be a non-negative number, got {}",
                self.import_cpu
            ))
        }
    }
}

impl CostModel {
    /// The install and import time of `package` in µs, without per-package draws: the
    /// catalogue's times, or those of the host model in `packages`.
    pub fn package_times(&self, package: &workloads::packages::Package) -> (Time, Time) {
        let us = |ms: f64| (ms * 1000.0).round() as Time;
        match &self.packages {
            Some(model) => model.of(package),
            None => (us(package.install_ms), us(package.import_ms)),
        }
    }
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            create: Duration::from_millis(10).into(),
            init: Duration::from_millis(25).into(),
            fork: Duration::from_millis(2).into(),
            create_forked: None,
            dispatch: Duration::from_millis(1).into(),
            pause: Duration::from_millis(1).into(),
            unpause: Duration::from_millis(1).into(),
            init_base: Cost::ZERO,
            init_per_gb: Duration::ZERO,
            packages: None,
        }
    }
}

/// An event at `key`: time in the high 64 bits, insertion order in the low, the total order of
/// [`crate::engine::EventQueue`].
///
/// Under the ignored CPU model an `InvocationDone` carries its sandbox's epoch in `cpu_wait`
/// (which that model reports as 0) until it is popped, so that the end of a destroyed sandbox's
/// invocation is recognised.
struct Scheduled {
    key: u128,
    event: Completion,
}

/// An entry of the event heap: the event's key and where the event waits in the queue's slab.
/// Half the size of a [`Scheduled`], so that a sift moves less and more of the heap stays in
/// cache.
#[derive(Clone, Copy)]
struct Entry {
    key: u128,
    slot: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// The engine's event queue with a peek at the next event, which the backend needs to drop stale
/// events before their time is reported, and a sequence counter it shares with the CPU model's
/// agenda.
///
/// Timers have a lane of their own: keep-alive deadlines are mostly set in increasing order
/// (`now` plus a fixed time), so a timer later than every timer in the lane is appended to a FIFO
/// in O(1) and never enters the heap; only out-of-order timers do. The heap then holds mostly
/// invocation ends, a few per running invocation, instead of one entry per idle sandbox. Keys are
/// unique, so events leave in exactly the order one heap would give.
///
/// The heap holds keys and slab slots ([`Entry`]); the events themselves wait in `events`, whose
/// free slots are reused, so the slab's size is the heap's largest.
///
/// Popping the heap's head only marks it taken (`taken`): the next push overwrites it and sifts
/// the new event down from the root, one pass instead of a pop's pass to the bottom and back up
/// plus a push's pass up; the next pop (or a lookup at the head) removes it for real if no push
/// came first. While it is marked, the smallest event left in the heap is the smaller of the
/// root's two children. A taken root's slot is already free.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Entry>,
    /// The heap's root was popped and is waiting to be overwritten or removed.
    taken: bool,
    events: Vec<Completion>,
    free: Vec<u32>,
    timers: VecDeque<Scheduled>,
    next_seq: u64,
}

impl Queue {
    #[inline]
    fn push(&mut self, time: Time, event: Completion) {
        let key = event_key(time, &mut self.next_seq);
        self.heap_push(key, event);
    }

    #[inline]
    fn push_timer(&mut self, time: Time, event: Completion) {
        let key = event_key(time, &mut self.next_seq);
        if self.timers.back().is_none_or(|last| last.key < key) {
            self.timers.push_back(Scheduled { key, event });
        } else {
            self.heap_push(key, event);
        }
    }

    #[inline]
    fn heap_push(&mut self, key: u128, event: Completion) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.events[slot as usize] = event;
                slot
            }
            None => {
                self.events.push(event);
                (self.events.len() - 1) as u32
            }
        };
        let entry = Entry { key, slot };
        if self.taken {
            self.taken = false;
            // Dropping the `PeekMut` sifts the new root down to its place.
            *self
                .heap
                .peek_mut()
                .expect("a taken root is still in the heap") = entry;
        } else {
            self.heap.push(entry);
        }
    }

    /// The heap's smallest entry that is not taken.
    #[inline]
    fn heap_head(&self) -> Option<&Entry> {
        if !self.taken {
            return self.heap.peek();
        }
        match self.heap.as_slice() {
            [_, a, b, ..] => Some(if a.key < b.key { a } else { b }),
            [_, a] => Some(a),
            _ => None,
        }
    }

    /// The next event's key and the event: the heap's head or the timer lane's, whichever key
    /// is smaller.
    #[inline]
    fn head(&self) -> Option<(u128, &Completion)> {
        let heap = self
            .heap_head()
            .map(|e| (e.key, &self.events[e.slot as usize]));
        let timer = self.timers.front().map(|s| (s.key, &s.event));
        match (heap, timer) {
            (Some(h), Some(t)) => Some(if t.0 < h.0 { t } else { h }),
            (h, t) => h.or(t),
        }
    }

    fn peek(&self) -> Option<(Time, &Completion)> {
        self.head().map(|(key, event)| ((key >> 64) as Time, event))
    }

    #[inline]
    fn peek_time(&self) -> Option<Time> {
        self.peek_key().map(|key| (key >> 64) as Time)
    }

    #[inline]
    fn peek_key(&self) -> Option<u128> {
        match (self.heap_head(), self.timers.front()) {
            (Some(h), Some(t)) => Some(h.key.min(t.key)),
            (h, t) => h.map(|h| h.key).or(t.map(|t| t.key)),
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(Time, Completion)> {
        if self.taken {
            self.taken = false;
            self.heap.pop();
        }
        let from_timers = match (self.heap.peek(), self.timers.front()) {
            (Some(h), Some(t)) => t.key < h.key,
            (None, Some(_)) => true,
            _ => false,
        };
        let (key, event) = if from_timers {
            let s = self.timers.pop_front()?;
            (s.key, s.event)
        } else {
            let e = *self.heap.peek()?;
            self.taken = true;
            self.free.push(e.slot);
            (e.key, self.events[e.slot as usize])
        };
        Some(((key >> 64) as Time, event))
    }
}

/// What the backend knows about one sandbox slot.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// When its last lifecycle operation (create, pause, unpause) ends. Commands to one sandbox
    /// run in order, so a start waits for this.
    ready_at: Time,
    /// Under the ignored CPU model: when the last invocation started in it ends.
    busy_until: Time,
    /// Bumped when it is destroyed, so that ends of its invocations are recognised as stale.
    epoch: u32,
    worker: u32,
}

fn slot_mut(slots: &mut Vec<Slot>, sandbox: SandboxId) -> &mut Slot {
    let i = sandbox.index();
    if i >= slots.len() {
        slots.resize(i + 1, Slot::default());
    }
    &mut slots[i]
}

/// A backend that models costs instead of running anything.
pub struct SimBackend {
    costs: CostModel,
    model: CpuModel,
    queue: Queue,
    slots: Vec<Slot>,
    /// The isolated or shared model's state; `None` under `ignored`.
    cpu: Option<Cpu>,
    /// Under the ignored model: invocation ends earlier than this may belong to a destroyed
    /// sandbox, and are checked against its epoch when they reach the head of the queue. 0 when
    /// none can, which keeps the check off the hot path.
    stale_before: Time,
    /// Per package: (install, import) time in µs.
    package_costs: Vec<(Time, Time)>,
    /// Per worker and package: when its last installation there ends.
    installed_at: Vec<Vec<Time>>,
    /// Per worker and zygote slot: when the zygote last created there is ready.
    zygote_ready: Vec<Vec<Time>>,
    /// Draws of measured costs; untouched while every cost is fixed.
    rng: Xoshiro256PlusPlus,
}

impl SimBackend {
    /// A backend with the ignored CPU model: unlimited cores.
    pub fn new(costs: CostModel) -> Self {
        Self::with_cpu(costs, CpuModel::Ignored, Vec::new())
    }

    /// A backend with CPU model `cpu` on workers with `cores[w]` cores each (unused under
    /// [`CpuModel::Ignored`]).
    ///
    /// # Panics
    /// Under `isolated` or `shared`, if a worker has no core; later, if a sandbox is created on a
    /// worker that `cores` does not cover.
    pub fn with_cpu(costs: CostModel, cpu: CpuModel, cores: Vec<u32>) -> Self {
        SimBackend {
            costs,
            model: cpu,
            queue: Queue::default(),
            slots: Vec::new(),
            stale_before: 0,
            cpu: Cpu::new(cpu, &cores),
            package_costs: Vec::new(),
            installed_at: Vec::new(),
            zygote_ready: Vec::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(0),
        }
    }

    /// Seeds the draws of measured costs.
    pub fn seed_costs(&mut self, seed: u64) {
        self.rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    }

    /// Sets each package's install and import time in µs, indexed by package id.
    pub fn set_package_costs(&mut self, costs: Vec<(Time, Time)>) {
        self.package_costs = costs;
    }

    /// Install and import time of a sandbox whose packages start installing at `start`: the
    /// missing packages install one after another, the sandbox also waits for packages another
    /// sandbox is still installing; then the zygotes it needs are created, each forked from its
    /// parent (or started fresh) and importing its own packages, the sandbox waits for the zygote
    /// it forks from to be ready, and it imports the rest of its packages one after another.
    fn packages(&mut self, start: Time, request: &CreateRequest<'_>) -> (Time, Time) {
        if request.install.is_empty()
            && request.installed.is_empty()
            && request.import.is_empty()
            && request.fork.is_none()
        {
            return (0, 0);
        }
        let costs = &self.package_costs;
        let cost =
            |p: workloads::packages::PackageId| costs.get(p.index()).copied().unwrap_or((0, 0));
        let w = request.worker.index();
        if self.installed_at.len() <= w {
            self.installed_at.resize(w + 1, Vec::new());
            self.zygote_ready.resize(w + 1, Vec::new());
        }
        // Per-package draws of a host model.
        let model = self.costs.packages.as_ref();
        let draw = |c: fn(&PackageCosts) -> &Cost, rng: &mut Xoshiro256PlusPlus| {
            model.map_or(0, |m| c(m).sample(rng))
        };
        let mut done = start;
        for &p in request.install {
            done += cost(p).0 + draw(|m| &m.install, &mut self.rng);
            let at = &mut self.installed_at[w];
            if at.len() <= p.index() {
                at.resize(p.index() + 1, 0);
            }
            at[p.index()] = done;
        }
        for &p in request.installed {
            if let Some(&t) = self.installed_at[w].get(p.index()) {
                done = done.max(t);
            }
        }
        let installed = done;
        let ready = &mut self.zygote_ready[w];
        for spawn in request.spawn {
            let begin = match spawn.parent {
                Some(parent) => {
                    done.max(ready.get(parent.0 as usize).copied().unwrap_or(0))
                        + self.costs.fork.sample(&mut self.rng)
                }
                None => done + self.costs.create.sample(&mut self.rng),
            };
            done = begin;
            for &p in &spawn.import {
                done += cost(p).1 + draw(|m| &m.import, &mut self.rng);
            }
            let slot = spawn.zygote.0 as usize;
            if ready.len() <= slot {
                ready.resize(slot + 1, 0);
            }
            ready[slot] = done;
        }
        if let Some(zygote) = request.fork {
            done = done.max(ready.get(zygote.0 as usize).copied().unwrap_or(0));
        }
        let mut import = 0;
        for &p in request.import {
            import += cost(p).1 + draw(|m| &m.import, &mut self.rng);
        }
        (installed - start, done - installed + import)
    }

    pub fn costs(&self) -> &CostModel {
        &self.costs
    }

    pub fn cpu_model(&self) -> CpuModel {
        self.model
    }

    /// When the next completion is due. Commands must not be issued later than this without
    /// popping it first.
    #[inline]
    pub fn next_time(&self) -> Option<Time> {
        match &self.cpu {
            None => self.queue.peek_time(),
            Some(cpu) => {
                let key = match (self.queue.peek_key(), cpu.next_key()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                key.map(|k| (k >> 64) as Time)
            }
        }
    }

    /// Takes the next completion.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, Completion)> {
        if let Some(cpu) = &self.cpu
            && let Some(key) = cpu.next_key()
            && self.queue.peek_key().is_none_or(|q| key < q)
        {
            return Some(self.finish_cpu());
        }
        let (t, mut completion) = self.queue.pop()?;
        if let Completion::InvocationDone {
            sandbox, cpu_wait, ..
        } = &mut completion
        {
            debug_assert!(!self.is_stale_done(t, *sandbox, *cpu_wait));
            *cpu_wait = 0;
        }
        self.settle();
        Some((t, completion))
    }

    /// The CPU model's next invocation end is due.
    #[inline(never)]
    fn finish_cpu(&mut self) -> (Time, Completion) {
        let cpu = self.cpu.as_mut().expect("checked by the caller");
        cpu.finish_next(&mut self.queue.next_seq)
    }

    /// Runs an operation of `cost` on a sandbox after the ones before it; returns its end.
    fn sequence(&mut self, now: Time, sandbox: SandboxId, cost: Time) -> Time {
        let slot = slot_mut(&mut self.slots, sandbox);
        let end = slot.ready_at.max(now) + cost;
        slot.ready_at = end;
        end
    }

    /// Whether an ignored-model invocation end, due at `t` and carrying `epoch`, belongs to a
    /// destroyed sandbox.
    fn is_stale_done(&self, t: Time, sandbox: SandboxId, epoch: Time) -> bool {
        t < self.stale_before && u64::from(self.slots[sandbox.index()].epoch) != epoch
    }

    /// Drops stale events from the head of the queue, so that `next_time` is a real completion's.
    #[inline]
    fn settle(&mut self) {
        if self.stale_before != 0 {
            self.drop_stale();
        }
    }

    #[inline(never)]
    fn drop_stale(&mut self) {
        while let Some((t, event)) = self.queue.peek() {
            if t >= self.stale_before {
                // Every end that may be a destroyed sandbox's is earlier than `stale_before`;
                // once the head is past it, none is left.
                break;
            }
            match *event {
                Completion::InvocationDone {
                    sandbox, cpu_wait, ..
                } if self.is_stale_done(t, sandbox, cpu_wait) => {
                    self.queue.pop();
                }
                _ => return,
            }
        }
        self.stale_before = 0;
    }
}

impl Backend for SimBackend {
    fn create_sandbox(&mut self, now: Time, sandbox: SandboxId, request: &CreateRequest) {
        if let Some(cpu) = &self.cpu {
            assert!(
                request.worker.index() < cpu.num_workers(),
                "sandbox created on worker {}, but the CPU model was given {} workers' cores",
                request.worker.0,
                cpu.num_workers()
            );
        }
        let slot = slot_mut(&mut self.slots, sandbox);
        slot.ready_at = now;
        slot.busy_until = 0;
        slot.worker = request.worker.0;
        // A forked sandbox costs `create_forked` where the model has it, else `create` + `fork`
        // (drawn after the rest, in the order of the model without `create_forked`).
        let forked = request.fork.and(self.costs.create_forked.as_ref());
        let base = forked.unwrap_or(&self.costs.create).sample(&mut self.rng);
        let init = request
            .init
            .unwrap_or_else(|| self.costs.init.sample(&mut self.rng))
            + self.costs.init_base.sample(&mut self.rng)
            + per_gb(self.costs.init_per_gb, f64::from(request.memory_mb));
        let (install, import) = self.packages(now + base, request);
        let create = base
            + match (request.fork, &self.costs.create_forked) {
                (Some(_), None) => self.costs.fork.sample(&mut self.rng),
                _ => 0,
            };
        let ready = self.sequence(now, sandbox, create + install + import + init);
        self.queue.push(
            ready,
            Completion::SandboxReady {
                sandbox,
                create,
                install,
                import,
                init,
            },
        );
    }

    fn create_ready(&mut self, now: Time, sandbox: SandboxId, request: &CreateRequest) -> bool {
        let slot = slot_mut(&mut self.slots, sandbox);
        slot.ready_at = now;
        slot.busy_until = 0;
        slot.worker = request.worker.0;
        true
    }

    fn start_invocation(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        invocation: InvocationHandle,
        duration: Time,
    ) {
        let slot = slot_mut(&mut self.slots, sandbox);
        let started = slot.ready_at.max(now) + self.costs.dispatch.sample(&mut self.rng);
        let Some(cpu) = &mut self.cpu else {
            let end = started + duration;
            slot.busy_until = slot.busy_until.max(end);
            self.queue.push(
                end,
                Completion::InvocationDone {
                    sandbox,
                    invocation,
                    started,
                    cpu_wait: u64::from(slot.epoch),
                },
            );
            return;
        };
        // The request reaches the sandbox at `started`; the CPU model decides when it runs.
        let seq = &mut self.queue.next_seq;
        cpu.start(
            now,
            slot.worker,
            sandbox,
            invocation,
            started,
            duration,
            seq,
        );
    }

    fn pause(&mut self, now: Time, sandbox: SandboxId) {
        let cost = self.costs.pause.sample(&mut self.rng);
        self.sequence(now, sandbox, cost);
    }

    fn unpause(&mut self, now: Time, sandbox: SandboxId) {
        let cost = self.costs.unpause.sample(&mut self.rng);
        self.sequence(now, sandbox, cost);
    }

    /// Destroys a sandbox. Its invocations still running or waiting are never reported.
    fn destroy(&mut self, now: Time, sandbox: SandboxId) {
        let Some(slot) = self.slots.get_mut(sandbox.index()) else {
            return;
        };
        slot.epoch = slot.epoch.wrapping_add(1);
        match &mut self.cpu {
            None => {
                if slot.busy_until >= now {
                    // An invocation of it may not have been reported yet: its end must not be.
                    self.stale_before = self.stale_before.max(slot.busy_until + 1);
                    self.settle();
                }
            }
            Some(cpu) => cpu.destroy(now, slot.worker, sandbox, &mut self.queue.next_seq),
        }
    }

    fn set_timer(&mut self, at: Time, timer: Timer) {
        self.queue.push_timer(at, Completion::Timer(timer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorkerId;
    use crate::backend::ZygoteId;
    use crate::engine::EventQueue;
    use workloads::FunctionId;

    const MS: Time = 1_000;
    const SEC: Time = 1_000_000;
    /// With the default costs, an invocation started at 0 in a sandbox created at 0 reaches it
    /// after creation (10 ms), initialization (25 ms) and dispatch (1 ms).
    const T0: Time = 36 * MS;

    fn request(worker: u32) -> CreateRequest<'static> {
        CreateRequest::plain(FunctionId(0), WorkerId(worker), 128, None)
    }

    fn zero_costs() -> CostModel {
        CostModel {
            create: Cost::ZERO,
            init: Cost::ZERO,
            fork: Cost::ZERO,
            dispatch: Cost::ZERO,
            pause: Cost::ZERO,
            unpause: Cost::ZERO,
            ..CostModel::default()
        }
    }

    /// (time, sandbox, invocation, started, cpu_wait) of an invocation's end.
    type Done = (Time, u32, u32, Time, Time);

    fn as_done((t, c): (Time, Completion)) -> Option<Done> {
        match c {
            Completion::InvocationDone {
                sandbox,
                invocation,
                started,
                cpu_wait,
            } => Some((t, sandbox.0, invocation.0, started, cpu_wait)),
            _ => None,
        }
    }

    /// Pops every completion due at or before `until`; returns the invocation ends among them.
    fn pop_until(b: &mut SimBackend, until: Time) -> Vec<Done> {
        let mut out = Vec::new();
        while b.next_time().is_some_and(|t| t <= until) {
            let next = b.next_time();
            let popped = b.pop().unwrap();
            assert_eq!(Some(popped.0), next, "pop disagrees with next_time");
            out.extend(as_done(popped));
        }
        out
    }

    fn pop_all(b: &mut SimBackend) -> Vec<Done> {
        pop_until(b, Time::MAX)
    }

    /// A backend with sandboxes 0..n created at 0 on worker 0 (ready at 35 ms).
    fn backend(model: CpuModel, cores: u32, sandboxes: u32) -> SimBackend {
        let mut b = SimBackend::with_cpu(CostModel::default(), model, vec![cores]);
        for s in 0..sandboxes {
            b.create_sandbox(0, SandboxId(s), &request(0));
        }
        b
    }

    fn start(b: &mut SimBackend, now: Time, sandbox: u32, duration: Time) {
        b.start_invocation(now, SandboxId(sandbox), InvocationHandle(sandbox), duration);
    }

    /// The phases a sandbox created at 0 with `request` reports.
    fn ready_phases(b: &mut SimBackend, request: &CreateRequest) -> (Time, Time, Time, Time, Time) {
        b.create_sandbox(0, SandboxId(0), request);
        match b.pop().unwrap() {
            (
                t,
                Completion::SandboxReady {
                    create,
                    install,
                    import,
                    init,
                    ..
                },
            ) => (t, create, install, import, init),
            other => panic!("expected a ready sandbox, got {other:?}"),
        }
    }

    #[test]
    fn a_host_model_adds_a_fixed_and_a_per_gb_initialization_and_prices_packages_by_size() {
        let costs = CostModel {
            create: Cost::micros_fixed(4_000),
            init_base: Cost::micros_fixed(300),
            init_per_gb: Duration(32_000),
            packages: Some(PackageCosts {
                install: Cost::micros_fixed(1_000),
                install_per_gb: Duration(10_240),
                import: Cost::micros_fixed(1_200),
                import_per_gb: Duration(5_120),
                import_memory_per_gb: Duration(900_000),
                import_cpu: 2.0,
            }),
            ..zero_costs()
        };
        // 512 MB: init 300 + 32,000 / 2 = 16,300 µs, on top of the function's own 5,000.
        let mut b = SimBackend::new(costs.clone());
        let plain = CreateRequest::plain(FunctionId(0), WorkerId(0), 512, Some(5_000));
        assert_eq!(ready_phases(&mut b, &plain), (25_300, 4_000, 0, 0, 21_300));
        // 100 MB of files, 8 MB of import memory and 20 ms of import CPU time: install
        // 1,000 + 1,000 µs; import 1,200 + 500 + 7,031 (900,000 / 128, rounded) + 40,000 µs.
        let package = workloads::packages::Package {
            name: "p".into(),
            version: "1".into(),
            deps: Vec::new(),
            install_ms: 9_999.0,
            disk_bytes: 100 << 20,
            import_ms: 20.0,
            import_mb: 8.0,
            popularity: 1.0,
        };
        assert_eq!(costs.package_times(&package), (1_000, 47_531));
        let mut b = SimBackend::new(costs.clone());
        b.set_package_costs(vec![costs.package_times(&package)]);
        let ids = [workloads::packages::PackageId(0)];
        let request = CreateRequest {
            install: &ids,
            import: &ids,
            ..CreateRequest::plain(FunctionId(0), WorkerId(0), 0, Some(0))
        };
        let (_, create, install, import, init) = ready_phases(&mut b, &request);
        assert_eq!((create, install, import, init), (4_000, 2_000, 48_731, 300));
        // Without the host model, the catalogue's own times.
        let catalogue = CostModel {
            packages: None,
            ..costs
        };
        assert_eq!(catalogue.package_times(&package), (9_999_000, 20_000));
    }

    #[test]
    fn a_forked_sandbox_costs_create_and_fork_unless_the_model_prices_a_forked_create() {
        let costs = CostModel {
            create: Cost::micros_fixed(4_000),
            fork: Cost::micros_fixed(1_000),
            ..zero_costs()
        };
        let spawn = [crate::backend::ZygoteSpawn {
            zygote: ZygoteId(0),
            parent: None,
            import: Vec::new(),
        }];
        // The first fork waits for its zygote, started fresh (4,000 µs, counted as import).
        let first = CreateRequest {
            spawn: &spawn,
            fork: Some(ZygoteId(0)),
            ..request(0)
        };
        let forked = CreateRequest {
            fork: Some(ZygoteId(0)),
            ..request(0)
        };
        let mut b = SimBackend::new(costs.clone());
        assert_eq!(ready_phases(&mut b, &first), (9_000, 5_000, 0, 4_000, 0));
        b.destroy(9_000, SandboxId(0));
        b.create_sandbox(9_000, SandboxId(1), &forked);
        let ready = b.pop().unwrap();
        assert!(
            matches!(
                ready.1,
                Completion::SandboxReady {
                    create: 5_000,
                    import: 0,
                    ..
                }
            ),
            "{ready:?}"
        );
        // A measured forked create replaces both: 1,500 µs, and the zygote still starts fresh.
        let costs = CostModel {
            create_forked: Some(Cost::micros_fixed(1_500)),
            ..costs
        };
        let mut b = SimBackend::new(costs);
        assert_eq!(ready_phases(&mut b, &first), (5_500, 1_500, 0, 4_000, 0));
        let plain = ready_phases(&mut SimBackend::new(zero_costs()), &request(0));
        assert_eq!(plain, (0, 0, 0, 0, 0));
    }

    #[test]
    fn isolated_one_core_second_invocation_waits_for_the_core() {
        let mut b = backend(CpuModel::Isolated, 1, 2);
        // Both started at 0 on sandboxes still being created: both reach them at T0 = 36 ms.
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 10 * SEC);
        assert_eq!(
            pop_all(&mut b),
            vec![
                // The first gets the core at once and runs 10 s.
                (T0 + 10 * SEC, 0, 0, T0, 0),
                // The second waits 10 s for it, then runs 10 s: ends at 20 s (+ 36 ms).
                (T0 + 20 * SEC, 1, 1, T0 + 10 * SEC, 10 * SEC),
            ]
        );
    }

    #[test]
    fn isolated_grants_cores_in_request_order() {
        let mut b = backend(CpuModel::Isolated, 1, 3);
        start(&mut b, 0, 0, 10 * SEC); // holds the only core from T0 to T0 + 10 s
        b.pause(0, SandboxId(1)); // after its creation: ready again at 36 ms
        pop_until(&mut b, SEC);
        // At 1 s: sandbox 1 is unpaused (1 ms) and dispatched (1 ms): its request arrives at
        // 1.002 s. Half a millisecond later sandbox 2, warm, gets a request at 1.0015 s: it is
        // first in line although its command came second.
        b.unpause(SEC, SandboxId(1));
        start(&mut b, SEC, 1, SEC);
        start(&mut b, SEC + 500, 2, SEC);
        assert_eq!(
            pop_all(&mut b),
            vec![
                (T0 + 10 * SEC, 0, 0, T0, 0),
                // 10.036 s - 1.0015 s = 9.0345 s of waiting, then 1 s of running.
                (
                    T0 + 11 * SEC,
                    2,
                    2,
                    T0 + 10 * SEC,
                    T0 + 10 * SEC - (SEC + 1_500)
                ),
                (
                    T0 + 12 * SEC,
                    1,
                    1,
                    T0 + 11 * SEC,
                    T0 + 11 * SEC - (SEC + 2 * MS)
                ),
            ]
        );
    }

    #[test]
    fn shared_one_core_two_equal_invocations_end_together() {
        let mut b = backend(CpuModel::Shared, 1, 2);
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 10 * SEC);
        // Each runs at rate 1/2: 10 s of work take 20 s. Nobody waits for a core.
        assert_eq!(
            pop_all(&mut b),
            vec![(T0 + 20 * SEC, 0, 0, T0, 0), (T0 + 20 * SEC, 1, 1, T0, 0)]
        );
    }

    #[test]
    fn shared_one_core_short_invocation_ends_first() {
        let mut b = backend(CpuModel::Shared, 1, 2);
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 4 * SEC);
        // Both at rate 1/2 until the 4 s one has had its 4 s: at 8 s. The 10 s one has had 4 s
        // by then and runs its last 6 s alone: ends at 14 s.
        assert_eq!(
            pop_all(&mut b),
            vec![(T0 + 8 * SEC, 1, 1, T0, 0), (T0 + 14 * SEC, 0, 0, T0, 0)]
        );
    }

    #[test]
    fn shared_two_cores_third_invocation_slows_all_from_its_arrival() {
        let mut b = backend(CpuModel::Shared, 2, 3);
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 10 * SEC);
        // Two invocations on two cores: no slowdown.
        assert_eq!(b.next_time(), Some(35 * MS)); // the sandboxes are ready
        pop_until(&mut b, 35 * MS);
        assert_eq!(b.next_time(), Some(T0 + 10 * SEC));
        // A third is dispatched 1 ms before T0 + 5 s and reaches its sandbox at T0 + 5 s, when
        // the first two have had 5 s each. From then on each runs at 2/3: the first two need
        // 5 s / (2/3) = 7.5 s more and end at T0 + 12.5 s; the third has had 5 s by then and
        // runs its last 5 s at full speed: ends at T0 + 17.5 s. The prediction already counts
        // the request that has not arrived yet.
        start(&mut b, T0 + 5 * SEC - MS, 2, 10 * SEC);
        assert_eq!(b.next_time(), Some(T0 + 12_500 * MS));
        assert_eq!(
            pop_all(&mut b),
            vec![
                (T0 + 12_500 * MS, 0, 0, T0, 0),
                (T0 + 12_500 * MS, 1, 1, T0, 0),
                (T0 + 17_500 * MS, 2, 2, T0 + 5 * SEC, 0),
            ]
        );
    }

    #[test]
    fn shared_two_cores_two_invocations_run_at_full_speed() {
        let mut b = backend(CpuModel::Shared, 2, 2);
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 3 * SEC);
        assert_eq!(
            pop_all(&mut b),
            vec![(T0 + 3 * SEC, 1, 1, T0, 0), (T0 + 10 * SEC, 0, 0, T0, 0)]
        );
    }

    #[test]
    fn a_request_arriving_as_an_invocation_ends_comes_after_that_end() {
        for model in [CpuModel::Isolated, CpuModel::Shared] {
            let mut b = backend(model, 1, 2);
            start(&mut b, 0, 0, 10 * SEC);
            pop_until(&mut b, 35 * MS);
            // Dispatched 1 ms earlier, it reaches its warm sandbox just as the first one ends:
            // it neither waits (isolated) nor slows the first one down (shared).
            start(&mut b, T0 + 10 * SEC - MS, 1, 2 * SEC);
            assert_eq!(
                pop_all(&mut b),
                vec![
                    (T0 + 10 * SEC, 0, 0, T0, 0),
                    (T0 + 12 * SEC, 1, 1, T0 + 10 * SEC, 0),
                ],
                "{model}"
            );
        }
    }

    #[test]
    fn isolated_destroy_drops_queued_and_running_invocations() {
        let mut b = backend(CpuModel::Isolated, 1, 3);
        start(&mut b, 0, 0, 10 * SEC); // runs from T0
        start(&mut b, 0, 1, 10 * SEC); // queued
        start(&mut b, 0, 2, 10 * SEC); // queued behind it
        pop_until(&mut b, T0 + 2 * SEC);
        b.destroy(T0 + 2 * SEC, SandboxId(1)); // the first in the queue goes
        assert_eq!(b.next_time(), Some(T0 + 10 * SEC));
        pop_until(&mut b, T0 + 4 * SEC);
        // The running one goes: its core passes to sandbox 2 at once, which waited 4 s.
        b.destroy(T0 + 4 * SEC, SandboxId(0));
        assert_eq!(b.next_time(), Some(T0 + 14 * SEC));
        assert_eq!(
            pop_all(&mut b),
            vec![(T0 + 14 * SEC, 2, 2, T0 + 4 * SEC, 4 * SEC)]
        );
    }

    #[test]
    fn shared_destroy_speeds_up_the_others() {
        let mut b = backend(CpuModel::Shared, 1, 3);
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 10 * SEC);
        pop_until(&mut b, T0 + 4 * SEC);
        // After 4 s at rate 1/2 each has had 2 s; the survivor's last 8 s run alone.
        b.destroy(T0 + 4 * SEC, SandboxId(1));
        assert_eq!(b.next_time(), Some(T0 + 12 * SEC));
        // A request destroyed before it reaches its sandbox changes nothing. Had it arrived (at
        // T0 + 6 s + 1 ms), its 1 s at rate 1/2 would have ended first, 2 s later.
        start(&mut b, T0 + 6 * SEC, 2, SEC);
        assert_eq!(b.next_time(), Some(T0 + 8 * SEC + MS));
        b.destroy(T0 + 6 * SEC, SandboxId(2));
        assert_eq!(b.next_time(), Some(T0 + 12 * SEC));
        assert_eq!(pop_all(&mut b), vec![(T0 + 12 * SEC, 0, 0, T0, 0)]);
    }

    #[test]
    fn destroying_a_sandbox_on_its_end_time_drops_the_end() {
        for model in CpuModel::ALL {
            let mut b = backend(model, 1, 2);
            start(&mut b, 0, 0, SEC);
            start(&mut b, 0, 1, 3 * SEC);
            pop_until(&mut b, 35 * MS);
            let first = b.next_time().unwrap();
            // The controller acts at that time for another reason before the end is popped.
            b.destroy(first, SandboxId(0));
            let ends = pop_all(&mut b);
            assert_eq!(ends.len(), 1, "{model}: {ends:?}");
            assert_eq!(ends[0].1, 1, "{model}");
        }
    }

    #[test]
    fn ignored_destroy_drops_running_invocation_and_the_slot_lives_on() {
        let mut b = backend(CpuModel::Ignored, 1, 2);
        start(&mut b, 0, 0, 10 * SEC);
        start(&mut b, 0, 1, 10 * SEC);
        pop_until(&mut b, SEC);
        b.destroy(SEC, SandboxId(0));
        assert_eq!(b.next_time(), Some(T0 + 10 * SEC)); // sandbox 1's
        // The slot is reused at once; its new invocation is reported.
        b.create_sandbox(SEC, SandboxId(0), &request(0));
        b.start_invocation(SEC, SandboxId(0), InvocationHandle(7), 2 * SEC);
        assert_eq!(
            pop_all(&mut b),
            vec![
                (SEC + T0 + 2 * SEC, 0, 7, SEC + T0, 0),
                (T0 + 10 * SEC, 1, 1, T0, 0),
            ]
        );
    }

    #[test]
    fn the_queue_gives_events_in_key_order_whatever_the_mix_of_operations() {
        // Pushes to the heap and to the timer lane (in and out of order), pops and peeks in
        // bursts of every size, including pushes right after a pop (which overwrite the taken
        // root) and peeks while it is taken; every peek and pop must give the smallest
        // (time, insertion) pair left.
        let mut q = Queue::default();
        let mut reference: Vec<(Time, u64)> = Vec::new();
        let mut x: u64 = 99;
        let mut rand = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let timer = |n: u64| Completion::InvocationDone {
            sandbox: SandboxId(n as u32),
            invocation: InvocationHandle(0),
            started: 0,
            cpu_wait: 0,
        };
        let seq_of = |c: &Completion| match c {
            Completion::InvocationDone { sandbox, .. } => u64::from(sandbox.0),
            _ => unreachable!(),
        };
        let (mut seq, mut now) = (0u64, 0);
        for round in 0..3_000u64 {
            for _ in 0..rand() % 5 {
                let t = now + rand() % 50;
                if rand() % 3 == 0 {
                    q.push_timer(t, timer(seq));
                } else {
                    q.push(t, timer(seq));
                }
                reference.push((t, seq));
                seq += 1;
            }
            for _ in 0..(round + rand()) % 4 {
                reference.sort_unstable();
                let expected = (!reference.is_empty()).then(|| reference.remove(0));
                assert_eq!(q.peek_time(), expected.map(|e| e.0), "round {round}");
                let got = q.pop().map(|(t, c)| (t, seq_of(&c)));
                assert_eq!(got, expected, "round {round}");
                if let Some((t, _)) = got {
                    now = t;
                }
            }
        }
        reference.sort_unstable();
        let rest: Vec<_> = std::iter::from_fn(|| q.pop().map(|(t, c)| (t, seq_of(&c)))).collect();
        assert_eq!(rest, reference);
        assert!(q.peek().is_none());
    }

    /// The backend as it was before CPU models, for comparison.
    struct Original {
        costs: CostModel,
        queue: EventQueue<Completion>,
        ready_at: Vec<Time>,
    }

    impl Original {
        fn slot(&mut self, sandbox: SandboxId) -> &mut Time {
            let i = sandbox.index();
            if i >= self.ready_at.len() {
                self.ready_at.resize(i + 1, 0);
            }
            &mut self.ready_at[i]
        }

        fn sequence(&mut self, now: Time, sandbox: SandboxId, cost: Time) -> Time {
            let slot = self.slot(sandbox);
            let end = (*slot).max(now) + cost;
            *slot = end;
            end
        }
    }

    impl Backend for Original {
        fn create_sandbox(&mut self, now: Time, sandbox: SandboxId, request: &CreateRequest) {
            *self.slot(sandbox) = now;
            let create = self.costs.create.mean_micros();
            let init = request.init.unwrap_or(self.costs.init.mean_micros());
            let ready = self.sequence(now, sandbox, create + init);
            self.queue.push(
                ready,
                Completion::SandboxReady {
                    sandbox,
                    create,
                    install: 0,
                    import: 0,
                    init,
                },
            );
        }

        fn start_invocation(
            &mut self,
            now: Time,
            sandbox: SandboxId,
            invocation: InvocationHandle,
            duration: Time,
        ) {
            let started = (*self.slot(sandbox)).max(now) + self.costs.dispatch.mean_micros();
            self.queue.push(
                started + duration,
                Completion::InvocationDone {
                    sandbox,
                    invocation,
                    started,
                    cpu_wait: 0,
                },
            );
        }

        fn pause(&mut self, now: Time, sandbox: SandboxId) {
            self.sequence(now, sandbox, self.costs.pause.mean_micros());
        }

        fn unpause(&mut self, now: Time, sandbox: SandboxId) {
            self.sequence(now, sandbox, self.costs.unpause.mean_micros());
        }

        fn destroy(&mut self, _now: Time, _sandbox: SandboxId) {}

        fn set_timer(&mut self, at: Time, timer: Timer) {
            self.queue.push(at, Completion::Timer(timer));
        }
    }

    trait Driven: Backend {
        fn next_time(&self) -> Option<Time>;
        fn pop(&mut self) -> Option<(Time, Completion)>;
    }

    impl Driven for SimBackend {
        fn next_time(&self) -> Option<Time> {
            SimBackend::next_time(self)
        }
        fn pop(&mut self) -> Option<(Time, Completion)> {
            SimBackend::pop(self)
        }
    }

    impl Driven for Original {
        fn next_time(&self) -> Option<Time> {
            self.queue.peek_time()
        }
        fn pop(&mut self) -> Option<(Time, Completion)> {
            self.queue.pop()
        }
    }

    struct ScriptSandbox {
        worker: u32,
        paused: bool,
        /// Invocations started in it and not reported yet.
        outstanding: Vec<u32>,
    }

    /// What a random command script saw.
    #[derive(Debug, Default, PartialEq)]
    struct Trace {
        events: Vec<(Time, Completion)>,
        /// Per invocation handle: (worker, duration).
        invocations: Vec<(u32, Time)>,
        /// Invocations whose sandbox was destroyed under them.
        killed: Vec<u32>,
    }

    /// Drives a backend as a controller would, with random commands from a seed: creations on
    /// `workers` workers, starts (unpausing paused sandboxes first), pauses and destructions of
    /// unused sandboxes (and, with `kill`, of used ones), timers. Commands come at times no later
    /// than the next completion, as the run loop guarantees, and often at the same time. Checks
    /// that completions come in time order, never before the command that caused them, and only
    /// for invocations that were started and not killed.
    fn run_script<B: Driven>(b: &mut B, seed: u64, workers: u32, kill: bool) -> Trace {
        let mut x = seed;
        let mut rand = move |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let mut sandboxes: Vec<Option<ScriptSandbox>> = Vec::new();
        let mut trace = Trace::default();
        let mut now: Time = 0;
        let pop = |b: &mut B,
                   until: Time,
                   sandboxes: &mut Vec<Option<ScriptSandbox>>,
                   trace: &mut Trace| {
            while let Some(t) = b.next_time()
                && t <= until
            {
                let (t, c) = b.pop().unwrap();
                assert!(trace.events.last().is_none_or(|&(last, _)| last <= t));
                if let Completion::InvocationDone {
                    sandbox,
                    invocation,
                    ..
                } = c
                {
                    let sb = sandboxes[sandbox.index()]
                        .as_mut()
                        .expect("an end reported for a destroyed sandbox");
                    let i = sb
                        .outstanding
                        .iter()
                        .position(|&h| h == invocation.0)
                        .expect("an end reported twice, or for a killed invocation");
                    sb.outstanding.swap_remove(i);
                }
                trace.events.push((t, c));
            }
        };
        for step in 0..3_000u32 {
            now += [0, 0, 1, 100, 700, 2_000, 9_000, 40_000][rand(8) as usize];
            pop(b, now, &mut sandboxes, &mut trace);
            let live: Vec<usize> = (0..sandboxes.len())
                .filter(|&i| sandboxes[i].is_some())
                .collect();
            let pick = (!live.is_empty()).then(|| live[rand(live.len() as u64) as usize]);
            match rand(10) {
                0 | 1 => {
                    let slot = sandboxes
                        .iter()
                        .position(Option::is_none)
                        .unwrap_or(sandboxes.len());
                    if slot == sandboxes.len() {
                        sandboxes.push(None);
                    }
                    let worker = rand(u64::from(workers)) as u32;
                    let mut req = request(worker);
                    req.init = (rand(2) == 0).then(|| rand(50 * MS));
                    b.create_sandbox(now, SandboxId(slot as u32), &req);
                    sandboxes[slot] = Some(ScriptSandbox {
                        worker,
                        paused: false,
                        outstanding: Vec::new(),
                    });
                }
                2..=6 => {
                    if let Some(i) = pick {
                        let sb = sandboxes[i].as_mut().unwrap();
                        if sb.paused {
                            b.unpause(now, SandboxId(i as u32));
                            sb.paused = false;
                        }
                        let duration = [0, 1, 3 * MS, 40 * MS, 300 * MS, 2 * SEC][rand(6) as usize]
                            + rand(1_000);
                        let h = trace.invocations.len() as u32;
                        trace.invocations.push((sb.worker, duration));
                        sb.outstanding.push(h);
                        b.start_invocation(now, SandboxId(i as u32), InvocationHandle(h), duration);
                    }
                }
                7 => {
                    if let Some(i) = pick {
                        let sb = sandboxes[i].as_mut().unwrap();
                        if sb.outstanding.is_empty() && !sb.paused {
                            sb.paused = true;
                            b.pause(now, SandboxId(i as u32));
                        }
                    }
                }
                8 => {
                    if let Some(i) = pick
                        && (kill || sandboxes[i].as_ref().unwrap().outstanding.is_empty())
                    {
                        let sb = sandboxes[i].take().unwrap();
                        trace.killed.extend(sb.outstanding);
                        b.destroy(now, SandboxId(i as u32));
                    }
                }
                _ => b.set_timer(
                    now + rand(20 * MS),
                    Timer::Sandbox {
                        sandbox: SandboxId(rand(8) as u32),
                        generation: step,
                    },
                ),
            }
            assert!(
                b.next_time().is_none_or(|t| t >= now),
                "step {step}: a completion due at {:?}, before the command at {now}",
                b.next_time()
            );
        }
        pop(b, Time::MAX, &mut sandboxes, &mut trace);
        assert!(b.next_time().is_none());
        let left: usize = sandboxes
            .iter()
            .flatten()
            .map(|s| s.outstanding.len())
            .sum();
        assert_eq!(left, 0, "invocations never reported");
        trace
    }

    #[test]
    fn ignored_model_gives_the_same_events_as_the_original_backend() {
        for seed in 0..6 {
            let original = run_script(
                &mut Original {
                    costs: CostModel::default(),
                    queue: EventQueue::new(),
                    ready_at: Vec::new(),
                },
                seed,
                3,
                false,
            );
            let new = run_script(&mut SimBackend::new(CostModel::default()), seed, 3, false);
            assert!(!new.invocations.is_empty());
            assert_eq!(new, original, "seed {seed}");
            let explicit = SimBackend::with_cpu(CostModel::default(), CpuModel::Ignored, vec![]);
            assert_eq!(run_script(&mut { explicit }, seed, 3, false), original);
        }
    }

    /// The invocation ends of a trace, sorted, for comparisons that ignore the order of events
    /// at the same time.
    fn sorted_ends(trace: &Trace) -> Vec<Done> {
        let mut ends: Vec<Done> = trace.events.iter().copied().filter_map(as_done).collect();
        ends.sort_unstable();
        ends
    }

    #[test]
    fn runs_are_deterministic_and_end_every_invocation_once() {
        for model in CpuModel::ALL {
            for (seed, kill) in [(1, false), (2, true), (3, true)] {
                let cores = vec![1, 2, 3];
                let run = || {
                    let mut b = SimBackend::with_cpu(CostModel::default(), model, cores.clone());
                    run_script(&mut b, seed, 3, kill)
                };
                let first = run();
                assert_eq!(first, run(), "{model}, seed {seed}");
                let ends = sorted_ends(&first).len();
                assert_eq!(
                    ends + first.killed.len(),
                    first.invocations.len(),
                    "{model}, seed {seed}"
                );
                assert_eq!(kill, !first.killed.is_empty(), "{model}, seed {seed}");
            }
        }
    }

    #[test]
    fn isolated_never_runs_more_invocations_than_cores() {
        let cores = vec![1, 2, 3];
        for seed in 0..4 {
            let mut b =
                SimBackend::with_cpu(CostModel::default(), CpuModel::Isolated, cores.clone());
            let trace = run_script(&mut b, seed, 3, seed % 2 == 1);
            let mut edges: Vec<(u32, Time, i32)> = Vec::new();
            let mut waited = 0;
            for (end, _, h, started, cpu_wait) in sorted_ends(&trace) {
                let (worker, duration) = trace.invocations[h as usize];
                assert_eq!(
                    end - started,
                    duration,
                    "isolated invocations run at full speed"
                );
                assert!(cpu_wait <= started);
                waited += cpu_wait;
                edges.push((worker, started, 1));
                edges.push((worker, end, -1));
            }
            assert!(waited > 0, "seed {seed}: the script never filled a worker");
            // Ends before starts at the same time: a core freed at t is free at t.
            edges.sort_unstable();
            let mut busy = [0i32; 3];
            for (worker, _, delta) in edges {
                busy[worker as usize] += delta;
                assert!(busy[worker as usize] <= cores[worker as usize] as i32);
            }
        }
    }

    #[test]
    fn shared_stretches_but_never_shortens_and_never_waits() {
        for seed in 0..4 {
            let mut b = SimBackend::with_cpu(CostModel::default(), CpuModel::Shared, vec![1, 2, 3]);
            let trace = run_script(&mut b, seed, 3, seed % 2 == 1);
            let mut stretched = 0;
            for (end, _, h, started, cpu_wait) in sorted_ends(&trace) {
                let (_, duration) = trace.invocations[h as usize];
                assert_eq!(cpu_wait, 0);
                assert!(end - started >= duration);
                stretched += end - started - duration;
            }
            assert!(
                stretched > 0,
                "seed {seed}: the script never oversubscribed a worker"
            );
        }
    }

    #[test]
    fn with_enough_cores_every_model_matches_ignored() {
        for seed in 0..4 {
            let ignored = run_script(&mut SimBackend::new(CostModel::default()), seed, 3, true);
            for model in [CpuModel::Isolated, CpuModel::Shared] {
                let mut b = SimBackend::with_cpu(CostModel::default(), model, vec![10_000; 3]);
                let trace = run_script(&mut b, seed, 3, true);
                assert_eq!(
                    sorted_ends(&trace),
                    sorted_ends(&ignored),
                    "{model}, seed {seed}"
                );
                assert_eq!(trace.killed, ignored.killed);
            }
        }
    }

    /// Requests (time, duration) on one worker, each in its own sandbox, with zero costs so that
    /// a request reaches its sandbox when it is issued. Returns the ends by request index.
    fn run_requests(model: CpuModel, cores: u32, requests: &[(Time, Time)]) -> Vec<Done> {
        let mut b = SimBackend::with_cpu(zero_costs(), model, vec![cores]);
        let mut ends = Vec::new();
        for (i, &(at, duration)) in requests.iter().enumerate() {
            ends.extend(pop_until(&mut b, at));
            b.create_sandbox(at, SandboxId(i as u32), &request(0));
            b.start_invocation(
                at,
                SandboxId(i as u32),
                InvocationHandle(i as u32),
                duration,
            );
        }
        ends.extend(pop_all(&mut b));
        ends.sort_unstable_by_key(|d| d.2);
        ends
    }

    fn random_requests(seed: u64, n: usize) -> Vec<(Time, Time)> {
        let mut x = seed;
        let mut rand = move |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let mut at = 0;
        (0..n)
            .map(|_| {
                at += [0, rand(10), rand(100 * MS), rand(SEC)][rand(4) as usize];
                (at, 1 + rand(3 * SEC))
            })
            .collect()
    }

    #[test]
    fn isolated_matches_a_direct_fifo_computation() {
        for (seed, cores) in [(1, 1), (2, 2), (3, 4)] {
            let requests = random_requests(seed, 60);
            // FIFO on c cores: in request order, each takes the core that frees up first.
            let mut free = vec![0; cores as usize];
            let expected: Vec<Done> = requests
                .iter()
                .enumerate()
                .map(|(i, &(at, d))| {
                    let core = (0..free.len()).min_by_key(|&c| free[c]).unwrap();
                    let started = free[core].max(at);
                    free[core] = started + d;
                    (started + d, i as u32, i as u32, started, started - at)
                })
                .collect();
            assert_eq!(run_requests(CpuModel::Isolated, cores, &requests), expected);
        }
    }

    #[test]
    fn shared_matches_a_direct_processor_sharing_computation() {
        for (seed, cores) in [(4, 1), (5, 2), (6, 3)] {
            let requests = random_requests(seed, 60);
            // Step from event to event in floating point: every running invocation gets
            // min(1, c/n) of a core.
            let mut remaining: Vec<(usize, f64)> = Vec::new();
            let mut ends = vec![0.0f64; requests.len()];
            let mut now = 0.0f64;
            let mut next = 0;
            while next < requests.len() || !remaining.is_empty() {
                let n = remaining.len() as f64;
                let rate = if n == 0.0 {
                    1.0
                } else {
                    (f64::from(cores) / n).min(1.0)
                };
                let first_end = remaining
                    .iter()
                    .map(|&(_, r)| now + r / rate)
                    .fold(f64::INFINITY, f64::min);
                let arrival = requests.get(next).map_or(f64::INFINITY, |r| r.0 as f64);
                let t = first_end.min(arrival);
                for (_, r) in &mut remaining {
                    *r -= (t - now) * rate;
                }
                now = t;
                remaining.retain(|&(i, r)| {
                    let done = r <= 1e-6;
                    if done {
                        ends[i] = now;
                    }
                    !done
                });
                if arrival <= t {
                    remaining.push((next, requests[next].1 as f64));
                    next += 1;
                }
            }
            let got = run_requests(CpuModel::Shared, cores, &requests);
            for (i, &(end, _, _, started, cpu_wait)) in got.iter().enumerate() {
                assert_eq!((started, cpu_wait), (requests[i].0, 0));
                // Ours is rounded up to the microsecond.
                let exact = ends[i];
                assert!(
                    end as f64 >= exact - 1e-3 && (end as f64) < exact + 1.0 + 1e-3,
                    "seed {seed}, request {i}: ends at {end}, exactly at {exact}"
                );
            }
        }
    }

    mod with_controller {
        use super::*;
        use crate::controller::{Controller, ControllerConfig, QueueMode};
        use crate::platform::{Platform, Sandbox, SandboxState, WorkerSpec};
        use crate::policy::{IdleDecision, KeepAlive, Scheduler};
        use crate::record::{Outcome, Record, RecordSink};
        use workloads::{App, AppId, Catalog, Function, Invocation};

        /// Keeps idle sandboxes 50 ms; with `kill`, evicts running ones too when memory is
        /// short.
        struct Policy {
            kill: bool,
        }

        impl KeepAlive for Policy {
            fn name(&self) -> &'static str {
                "test"
            }
            fn on_idle(&mut self, now: Time, _: &Sandbox, _: &Platform) -> IdleDecision {
                IdleDecision::Keep {
                    until: Some(now + 50 * MS),
                }
            }
            fn on_deadline(&mut self, _: Time, _: &Sandbox, _: &Platform) -> IdleDecision {
                IdleDecision::Destroy
            }
            fn may_kill_running(&self) -> bool {
                self.kill
            }
            fn choose_victims(
                &mut self,
                _: Time,
                worker: WorkerId,
                need_mb: u64,
                platform: &Platform,
                victims: &mut Vec<SandboxId>,
            ) {
                let mut freed = 0;
                for sb in platform.all_sandboxes() {
                    let usable =
                        sb.state.is_evictable() || self.kill && sb.state == SandboxState::Running;
                    if freed < need_mb && sb.worker == worker && usable {
                        victims.push(sb.id);
                        freed += u64::from(sb.memory_mb);
                    }
                }
            }
        }

        struct ByFunction;

        impl Scheduler for ByFunction {
            fn name(&self) -> &'static str {
                "by-function"
            }
            fn select(&mut self, _: Time, function: FunctionId, platform: &Platform) -> WorkerId {
                WorkerId(function.0 % platform.workers().len() as u32)
            }
        }

        #[derive(Default)]
        struct Records(Vec<Record>);

        impl RecordSink for Records {
            fn invocation(&mut self, record: &Record) {
                self.0.push(*record);
            }
        }

        fn run(model: CpuModel, kill: bool) -> Vec<Record> {
            let functions = 6;
            let catalog = Catalog {
                packages: Default::default(),
                functions: (0..functions)
                    .map(|f| Function {
                        name: format!("f{f}"),
                        app: AppId(0),
                        memory_mb: 256,
                        concurrency: None,
                        init: None,
                        packages: Vec::new(),
                    })
                    .collect(),
                apps: vec![App { name: "a".into() }],
            };
            let workers = vec![
                WorkerSpec {
                    memory_mb: 1024,
                    cores: 2,
                };
                3
            ];
            let config = ControllerConfig {
                workers: workers.clone(),
                concurrency: 2,
                queue: QueueMode::Queue { capacity: 50 },
                ..ControllerConfig::default()
            };
            let mut controller = Controller::new(
                catalog,
                &config,
                Box::new(Policy { kill }),
                Box::new(ByFunction),
            );
            let cores = workers.iter().map(|w| w.cores).collect();
            let mut backend = SimBackend::with_cpu(CostModel::default(), model, cores);
            let mut x: u64 = 99;
            let mut rand = move |n: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % n
            };
            let mut arrival = 0;
            let invocations: Vec<Invocation> = (0..3_000)
                .map(|_| {
                    arrival += [0, 1, MS, 10 * MS][rand(4) as usize];
                    Invocation {
                        function: FunctionId(rand(functions) as u32),
                        arrival,
                        duration: 1 + rand(200 * MS),
                    }
                })
                .collect();
            let mut records = Records::default();
            let stats = crate::run::simulate(
                &mut controller,
                &mut backend,
                invocations.iter().copied().map(Ok),
                &mut records,
            )
            .unwrap();
            assert_eq!(stats.invocations, 3_000);
            let mut records = records.0;
            records.sort_unstable_by_key(|r| r.id);
            assert!(records.iter().map(|r| r.id).eq(0..3_000), "one record each");
            for r in &records {
                if r.outcome != Outcome::Ok {
                    continue;
                }
                let duration = invocations[r.id as usize].duration;
                assert_eq!(r.phases.exec, r.end - r.start);
                match model {
                    CpuModel::Shared => assert!(r.phases.exec >= duration),
                    _ => assert_eq!(r.phases.exec, duration),
                }
            }
            records
        }

        #[test]
        fn every_model_runs_a_workload_through_the_controller() {
            for kill in [false, true] {
                let ignored = run(CpuModel::Ignored, kill);
                let isolated = run(CpuModel::Isolated, kill);
                let shared = run(CpuModel::Shared, kill);
                assert_eq!(shared, run(CpuModel::Shared, kill), "deterministic");
                for records in [&ignored, &isolated, &shared] {
                    let failed = records
                        .iter()
                        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
                        .count();
                    assert_eq!(kill, failed > 0, "kill {kill}: {failed} killed");
                }
                let total = |records: &[Record]| -> Time {
                    records
                        .iter()
                        .filter(|r| r.outcome == Outcome::Ok)
                        .map(|r| r.end - r.arrival)
                        .sum()
                };
                // Two cores per worker, up to eight invocations on it: waiting for or sharing
                // cores makes invocations slower.
                assert!(total(&isolated) > total(&ignored), "kill {kill}");
                assert!(total(&shared) > total(&ignored), "kill {kill}");
            }
        }
    }
}
