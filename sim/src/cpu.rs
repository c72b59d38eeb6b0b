//! CPU models of the simulated backend: how the invocations on one worker share its cores.
//!
//! - `ignored` (FaasCache's model): cores are unlimited, an invocation runs for exactly its
//!   duration. The backend does no CPU bookkeeping at all; this module is not involved.
//! - `isolated`: each invocation holds one core for its whole duration. When all of a worker's
//!   cores are busy it waits in the worker's FIFO queue, in the order the requests reached their
//!   sandboxes; the wait is reported as `cpu_wait` and `started` is when it got its core.
//! - `shared` (processor sharing): the n invocations running on a worker with c cores each
//!   progress at rate min(1, c/n), so an oversubscribed worker stretches them all. Nobody waits
//!   (`cpu_wait` is 0): the stretch shows in the execution phase.
//!
//! An invocation asks for CPU when its request reaches the sandbox, that is after the dispatch
//! cost and after the sandbox's pending lifecycle operations (creation, unpause). Creating,
//! initializing, pausing and unpausing a sandbox take no core: they are modelled as costs of the
//! container runtime, and counting them against the invocations' cores would make a cold start's
//! cost depend on the load, which none of the cost figures were measured with.
//!
//! # Exactness with the run loop
//!
//! The run loop asks the backend when its next completion is due (`next_time`, with `&self`) and
//! compares that with the next arrival. So the time the backend reports must be the time of a
//! real completion, not of an internal step. Every worker therefore keeps its requests that have
//! not reached their sandbox yet (`pending`, ordered by request time) and *predicts*, with a
//! read-only simulation of those requests, when its next invocation will end if no new command
//! arrives. Only that prediction is scheduled, one event per busy worker; any command that
//! changes the worker (a request, a completion, a destruction) recomputes it.
//!
//! The predictions live in an indexed heap over workers (`Agenda`) rather than as
//! generation-tagged events in the backend's queue: a changed prediction replaces the old one in
//! place, so no stale event is ever left for `next_time` to report or for the queue to carry. Its
//! keys are (time, sequence) pairs drawn from the backend queue's own sequence counter, and the
//! backend takes whichever of the two heads has the smaller key, so events are ordered exactly as
//! if they were all in one queue: by time, then by when they were (re)scheduled.
//!
//! State is advanced for real only up to the time of the current command or completion (requests
//! that reached their sandbox by then join the worker); the run loop never issues a command later
//! than a worker's prediction, so the real advance takes exactly the steps the prediction took,
//! with the same integer arithmetic.
//!
//! A request that reaches its sandbox in the same microsecond as an invocation on its worker ends
//! joins after that end (in the prediction and for real alike), so it finds the core that end
//! frees.
//!
//! # Processor sharing arithmetic
//!
//! Each shared worker keeps a virtual clock: at real time t, every running invocation has received
//! V of service since the worker last became busy, both in picoseconds ([`SERVICE_PER_US`] per
//! microsecond). With n invocations on c cores, V advances by `dt * min(c, n) / n`, rounded down,
//! and only when n changes. An invocation of duration d that joins at V0 is done when V reaches
//! `V0 + d * 10^6`; the picosecond at which that happens is rounded up (so V has reached it), the
//! invocation leaves the worker at that picosecond, and its completion is reported at the next
//! whole microsecond, as every event time in the simulator is. So the others speed up at the
//! exact end, not at the rounded one, and rounding errors do not accumulate: each step loses less
//! than a picosecond of service. All of it is integer arithmetic (u128), so results are identical
//! on every machine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use workloads::Time;

use crate::backend::{Completion, InvocationHandle};
use crate::platform::SandboxId;

/// How the invocations on a worker share its cores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuModel {
    /// Unlimited cores: an invocation runs for exactly its duration (FaasCache's model).
    #[default]
    Ignored,
    /// One core per invocation for its whole duration; invocations wait for a free core in FIFO
    /// order.
    Isolated,
    /// Processor sharing: n invocations on c cores each run at rate min(1, c/n).
    Shared,
}

impl CpuModel {
    pub const ALL: [CpuModel; 3] = [CpuModel::Ignored, CpuModel::Isolated, CpuModel::Shared];

    /// The name used in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CpuModel::Ignored => "ignored",
            CpuModel::Isolated => "isolated",
            CpuModel::Shared => "shared",
        }
    }
}

impl fmt::Display for CpuModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CpuModel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        CpuModel::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown CPU model {s:?}: expected one of ignored, isolated, shared")
            })
    }
}

/// Units of the processor-sharing clock per microsecond of service: V is in picoseconds.
pub const SERVICE_PER_US: u128 = 1_000_000;

/// An event key: time in the high 64 bits, the backend's sequence number in the low, the total
/// order of [`crate::engine::EventQueue`].
pub(crate) fn event_key(time: Time, seq: &mut u64) -> u128 {
    let key = (u128::from(time) << 64) | u128::from(*seq);
    *seq += 1;
    key
}

/// Not in the agenda.
const ABSENT: u32 = u32::MAX;

/// Every busy worker's predicted next end: a binary min-heap of (event key, worker) with each
/// worker's position, so that a prediction is replaced or removed in place in O(log workers).
#[derive(Debug)]
struct Agenda {
    heap: Vec<(u128, u32)>,
    pos: Vec<u32>,
}

impl Agenda {
    fn new(workers: usize) -> Self {
        Agenda {
            heap: Vec::with_capacity(workers),
            pos: vec![ABSENT; workers],
        }
    }

    fn peek(&self) -> Option<(u128, u32)> {
        self.heap.first().copied()
    }

    /// Schedules `worker` at `key`, or unschedules it.
    fn set(&mut self, worker: u32, key: Option<u128>) {
        let at = self.pos[worker as usize];
        match (at, key) {
            (ABSENT, None) => {}
            (ABSENT, Some(key)) => {
                self.heap.push((key, worker));
                let i = self.heap.len() - 1;
                self.pos[worker as usize] = i as u32;
                self.sift_up(i);
            }
            (i, Some(key)) => {
                let i = i as usize;
                let old = self.heap[i].0;
                self.heap[i].0 = key;
                if key < old {
                    self.sift_up(i);
                } else {
                    self.sift_down(i);
                }
            }
            (i, None) => self.remove_at(i as usize),
        }
    }

    fn remove_at(&mut self, i: usize) {
        let last = self.heap.pop().expect("removing from an empty agenda");
        if i < self.heap.len() {
            self.pos[self.heap[i].1 as usize] = ABSENT;
            self.heap[i] = last;
            self.pos[last.1 as usize] = i as u32;
            self.sift_down(i);
            self.sift_up(i);
        } else {
            self.pos[last.1 as usize] = ABSENT;
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[i].0 >= self.heap[parent].0 {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let left = 2 * i + 1;
            if left >= self.heap.len() {
                break;
            }
            let right = left + 1;
            let child = if right < self.heap.len() && self.heap[right].0 < self.heap[left].0 {
                right
            } else {
                left
            };
            if self.heap[child].0 >= self.heap[i].0 {
                break;
            }
            self.swap(i, child);
            i = child;
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a].1 as usize] = a as u32;
        self.pos[self.heap[b].1 as usize] = b as u32;
    }
}

/// An invocation known to the CPU model.
#[derive(Clone, Copy, Debug)]
struct Job {
    sandbox: SandboxId,
    invocation: InvocationHandle,
    /// When the request reached the sandbox and asked for CPU.
    requested: Time,
    /// When it got a core (isolated) or joined the running set (shared).
    started: Time,
    duration: Time,
    /// Order of the command that started it: breaks ties between equal times.
    seq: u64,
}

/// A processor-sharing worker's virtual clock: at real time `t` every running invocation had
/// received `v` of service since the worker last became busy, both in picoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Clock {
    t: u128,
    v: u128,
}

impl Clock {
    /// The clock at `to` (picoseconds), with `running` invocations on `cores` cores since `t`.
    fn advanced(self, running: usize, cores: u32, to: u128) -> Clock {
        debug_assert!(to >= self.t, "clock moved back from {} to {to}", self.t);
        let dt = to - self.t;
        let (n, c) = (running as u128, u128::from(cores));
        let dv = if n <= c { dt } else { div_floor(dt * c, n) };
        Clock {
            t: to,
            v: self.v + dv,
        }
    }

    /// The clock just before an invocation joins at `at` (microseconds): restarted from zero on
    /// an idle worker.
    fn joined(self, running: usize, cores: u32, at: Time) -> Clock {
        let at = u128::from(at) * SERVICE_PER_US;
        if running == 0 {
            Clock { t: at, v: 0 }
        } else {
            self.advanced(running, cores, at)
        }
    }

    /// The first picosecond at which V reaches `end`, if `running` (at least one) invocations
    /// keep running.
    fn reaches(self, running: usize, cores: u32, end: u128) -> u128 {
        let rem = end.saturating_sub(self.v);
        self.t
            + if running <= cores as usize {
                rem
            } else {
                div_ceil(rem * running as u128, u128::from(cores))
            }
    }

    /// Whether the invocation that ends at V = `end` is reported at or before microsecond `at`.
    fn ends_by(self, running: usize, cores: u32, end: u128, at: Time) -> bool {
        let at = u128::from(at) * SERVICE_PER_US;
        // At rate 1 or less, V cannot reach `end` sooner than `rem` picoseconds from now: that
        // settles most cases without a division.
        self.t + end.saturating_sub(self.v) <= at && self.reaches(running, cores, end) <= at
    }

    /// The microsecond at which the invocation that ends at V = `end` is reported.
    fn end_time(self, running: usize, cores: u32, end: u128) -> Time {
        let at = div_ceil(self.reaches(running, cores, end), SERVICE_PER_US);
        Time::try_from(at).unwrap_or(Time::MAX)
    }
}

/// `a / b` rounded down, in 64 bits when the operands fit: a 128-bit division is a library call.
fn div_floor(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(a / b),
        _ => a / b,
    }
}

/// `a / b` rounded up, as [`div_floor`].
fn div_ceil(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) => u128::from(a.div_ceil(b)),
        _ => a.div_ceil(b),
    }
}

fn service(duration: Time) -> u128 {
    u128::from(duration) * SERVICE_PER_US
}

/// How one worker shares its cores, with the invocations that have reached their sandboxes.
#[derive(Debug)]
enum Discipline {
    Isolated {
        /// Invocations holding a core, by (end, seq).
        running: BinaryHeap<Reverse<(Time, u64, u32)>>,
        /// Invocations waiting for a core, oldest request first. Non-empty only when every core
        /// is busy.
        waiting: VecDeque<u32>,
    },
    Shared {
        clock: Clock,
        /// Running invocations, by (V at which they end, seq).
        running: BinaryHeap<Reverse<(u128, u64, u32)>>,
    },
}

#[derive(Debug)]
struct WorkerCpu {
    cores: u32,
    /// Its prediction in the agenda, if any.
    scheduled: Option<Time>,
    /// Requests that have not reached their sandbox yet, as (request time, job), ordered by
    /// request time and then by command order.
    pending: VecDeque<(Time, u32)>,
    discipline: Discipline,
}

impl WorkerCpu {
    /// Whether the first running invocation ends at or before `at` if nothing joins.
    fn ends_by(&self, at: Time) -> bool {
        match &self.discipline {
            Discipline::Isolated { running, .. } => running
                .peek()
                .is_some_and(|&Reverse((end, _, _))| end <= at),
            Discipline::Shared { clock, running } => {
                running.peek().is_some_and(|&Reverse((end, _, _))| {
                    clock.ends_by(running.len(), self.cores, end, at)
                })
            }
        }
    }

    /// Lets the requests that reached their sandbox by `to` join the worker, up to the first end
    /// (a request at the time of an end joins after it).
    fn advance(&mut self, jobs: &mut [Job], to: Time) {
        while let Some(&(at, j)) = self.pending.front()
            && at <= to
            && !self.ends_by(at)
        {
            self.pending.pop_front();
            self.join(jobs, at, j);
        }
    }

    fn join(&mut self, jobs: &mut [Job], at: Time, j: u32) {
        let cores = self.cores;
        let job = &mut jobs[j as usize];
        match &mut self.discipline {
            Discipline::Isolated { running, waiting } => {
                if running.len() < cores as usize {
                    job.started = at;
                    running.push(Reverse((at + job.duration, job.seq, j)));
                } else {
                    waiting.push_back(j);
                }
            }
            Discipline::Shared { clock, running } => {
                *clock = clock.joined(running.len(), cores, at);
                job.started = at;
                running.push(Reverse((clock.v + service(job.duration), job.seq, j)));
            }
        }
    }

    /// Gives free cores to waiting invocations at `now` (isolated only).
    fn fill_cores(&mut self, jobs: &mut [Job], now: Time) {
        if let Discipline::Isolated { running, waiting } = &mut self.discipline {
            while running.len() < self.cores as usize
                && let Some(j) = waiting.pop_front()
            {
                let job = &mut jobs[j as usize];
                job.started = now;
                running.push(Reverse((now + job.duration, job.seq, j)));
            }
        }
    }

    /// When the next invocation on this worker ends if no command changes it: a read-only run of
    /// the pending requests up to the first end, with the arithmetic of `join` and `finish`.
    fn predict(&self, jobs: &[Job]) -> Option<Time> {
        let cores = self.cores;
        match &self.discipline {
            Discipline::Isolated { running, .. } => {
                let mut first = running.peek().map(|&Reverse((end, _, _))| end);
                let mut free = (cores as usize).saturating_sub(running.len());
                for &(at, j) in &self.pending {
                    // Without a free core a request can start only after the first end.
                    if free == 0 || first.is_some_and(|f| f <= at) {
                        break;
                    }
                    free -= 1;
                    let end = at + jobs[j as usize].duration;
                    first = Some(first.map_or(end, |f| f.min(end)));
                }
                first
            }
            Discipline::Shared { clock, running } => {
                let mut clock = *clock;
                let mut n = running.len();
                let mut first = running.peek().map(|&Reverse((end, _, _))| end);
                for &(at, j) in &self.pending {
                    if let Some(end) = first
                        && clock.ends_by(n, cores, end, at)
                    {
                        return Some(clock.end_time(n, cores, end));
                    }
                    clock = clock.joined(n, cores, at);
                    n += 1;
                    let end = clock.v + service(jobs[j as usize].duration);
                    first = Some(first.map_or(end, |f| f.min(end)));
                }
                first.map(|end| clock.end_time(n, cores, end))
            }
        }
    }
}

/// The CPU state of every worker under the isolated or shared model.
#[derive(Debug)]
pub(crate) struct Cpu {
    workers: Vec<WorkerCpu>,
    agenda: Agenda,
    jobs: Vec<Job>,
    free_jobs: Vec<u32>,
    next_seq: u64,
    /// Per sandbox slot: its jobs in the model, so that destroying a sandbox without any (the
    /// usual case) costs nothing.
    sandbox_jobs: Vec<u32>,
    /// Scratch list of jobs removed by a destruction.
    removed: Vec<u32>,
}

impl Cpu {
    /// The model's state for workers with `cores[w]` cores each; `None` for the ignored model,
    /// which keeps no state.
    ///
    /// # Panics
    /// If a worker has no core: its invocations would never end.
    pub fn new(model: CpuModel, cores: &[u32]) -> Option<Cpu> {
        let shared = match model {
            CpuModel::Ignored => return None,
            CpuModel::Isolated => false,
            CpuModel::Shared => true,
        };
        let workers = cores
            .iter()
            .enumerate()
            .map(|(w, &cores)| {
                assert!(
                    cores > 0,
                    "worker {w} has no cores: under the {model} CPU model its invocations would never end"
                );
                WorkerCpu {
                    cores,
                    scheduled: None,
                    pending: VecDeque::new(),
                    discipline: if shared {
                        Discipline::Shared {
                            clock: Clock::default(),
                            running: BinaryHeap::new(),
                        }
                    } else {
                        Discipline::Isolated {
                            running: BinaryHeap::new(),
                            waiting: VecDeque::new(),
                        }
                    },
                }
            })
            .collect();
        Some(Cpu {
            agenda: Agenda::new(cores.len()),
            workers,
            jobs: Vec::new(),
            free_jobs: Vec::new(),
            next_seq: 0,
            sandbox_jobs: Vec::new(),
            removed: Vec::new(),
        })
    }

    pub fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// The event key of the next invocation end, if any is running or requested.
    pub fn next_key(&self) -> Option<u128> {
        self.agenda.peek().map(|(key, _)| key)
    }

    /// An invocation's request, issued at `now`, reaches `sandbox` on `worker` at `requested`
    /// and then needs CPU for `duration`. `seq` is the backend's event sequence counter.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        now: Time,
        worker: u32,
        sandbox: SandboxId,
        invocation: InvocationHandle,
        requested: Time,
        duration: Time,
        seq: &mut u64,
    ) {
        let job = Job {
            sandbox,
            invocation,
            requested,
            started: requested,
            duration,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let j = match self.free_jobs.pop() {
            Some(j) => {
                self.jobs[j as usize] = job;
                j
            }
            None => {
                self.jobs.push(job);
                (self.jobs.len() - 1) as u32
            }
        };
        let s = sandbox.index();
        if s >= self.sandbox_jobs.len() {
            self.sandbox_jobs.resize(s + 1, 0);
        }
        self.sandbox_jobs[s] += 1;
        let w = &mut self.workers[worker as usize];
        w.advance(&mut self.jobs, now);
        // Requests mostly come in order (the dispatch cost is the same for all).
        if w.pending.back().is_none_or(|&(at, _)| at <= requested) {
            w.pending.push_back((requested, j));
        } else {
            let pos = w.pending.partition_point(|&(at, _)| at <= requested);
            w.pending.insert(pos, (requested, j));
        }
        self.reschedule(worker, seq);
    }

    /// The next invocation end is due: ends it and reports it with its time.
    ///
    /// # Panics
    /// If nothing is scheduled.
    pub fn finish_next(&mut self, seq: &mut u64) -> (Time, Completion) {
        // The worker keeps its place in the agenda until its next prediction replaces it there.
        let (key, worker) = self.agenda.peek().expect("no invocation end is scheduled");
        let now = (key >> 64) as Time;
        let w = &mut self.workers[worker as usize];
        w.advance(&mut self.jobs, now);
        let cores = w.cores;
        let j = match &mut w.discipline {
            Discipline::Isolated { running, .. } => {
                let Reverse((end, _, j)) = running
                    .pop()
                    .expect("a CPU completion on a worker with nothing running");
                debug_assert_eq!(end, now, "isolated invocation ends at {end}, not {now}");
                j
            }
            Discipline::Shared { clock, running } => {
                let n = running.len();
                let Reverse((end, _, j)) = running
                    .pop()
                    .expect("a CPU completion on a worker with nothing running");
                // It leaves at the exact picosecond it is done, unless a destruction at this
                // microsecond already moved the clock past it.
                let at = clock.reaches(n, cores, end);
                if at > clock.t {
                    *clock = clock.advanced(n, cores, at);
                }
                debug_assert!(clock.v >= end, "invocation ended before its service");
                debug_assert_eq!(div_ceil(clock.t, SERVICE_PER_US), u128::from(now));
                clock.v = clock.v.max(end);
                j
            }
        };
        w.fill_cores(&mut self.jobs, now);
        let job = self.jobs[j as usize];
        self.free_jobs.push(j);
        self.sandbox_jobs[job.sandbox.index()] -= 1;
        let completion = Completion::InvocationDone {
            sandbox: job.sandbox,
            invocation: job.invocation,
            started: job.started,
            cpu_wait: job.started - job.requested,
        };
        // Even an unchanged time is a new event, after those already scheduled for it.
        let w = &mut self.workers[worker as usize];
        let next = w.predict(&self.jobs);
        w.scheduled = next;
        self.agenda.set(worker, next.map(|at| event_key(at, seq)));
        (now, completion)
    }

    /// `sandbox` on `worker` is destroyed at `now`: its invocations leave the model unreported,
    /// and the cores they held go to the others.
    pub fn destroy(&mut self, now: Time, worker: u32, sandbox: SandboxId, seq: &mut u64) {
        if self
            .sandbox_jobs
            .get(sandbox.index())
            .is_none_or(|&n| n == 0)
        {
            return;
        }
        let Cpu {
            workers,
            jobs,
            removed,
            ..
        } = self;
        let w = &mut workers[worker as usize];
        w.advance(jobs, now);
        let cores = w.cores;
        let mut mine = |j: u32| {
            let hit = jobs[j as usize].sandbox == sandbox;
            if hit {
                removed.push(j);
            }
            hit
        };
        w.pending.retain(|&(_, j)| !mine(j));
        match &mut w.discipline {
            Discipline::Isolated { running, waiting } => {
                running.retain(|&Reverse((_, _, j))| !mine(j));
                waiting.retain(|&j| !mine(j));
            }
            Discipline::Shared { clock, running } => {
                let before = running.len();
                let advanced = clock.advanced(before, cores, u128::from(now) * SERVICE_PER_US);
                running.retain(|&Reverse((_, _, j))| !mine(j));
                if running.len() != before {
                    *clock = advanced;
                }
            }
        }
        w.fill_cores(jobs, now);
        debug_assert_eq!(
            removed.len() as u32,
            self.sandbox_jobs[sandbox.index()],
            "destroyed sandbox's jobs not all found on worker {worker}"
        );
        self.free_jobs.append(&mut self.removed);
        self.sandbox_jobs[sandbox.index()] = 0;
        self.reschedule(worker, seq);
    }

    /// Recomputes `worker`'s prediction; if it changed, reschedules it with a new sequence
    /// number, as a new event would get.
    fn reschedule(&mut self, worker: u32, seq: &mut u64) {
        let w = &mut self.workers[worker as usize];
        let next = w.predict(&self.jobs);
        if next == w.scheduled {
            return;
        }
        w.scheduled = next;
        self.agenda.set(worker, next.map(|at| event_key(at, seq)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_default_is_ignored() {
        assert_eq!(CpuModel::default(), CpuModel::Ignored);
        for m in CpuModel::ALL {
            assert_eq!(m.to_string().parse::<CpuModel>(), Ok(m));
            let de = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(m.name());
            assert_eq!(CpuModel::deserialize(de).unwrap(), m);
        }
        assert!("processor-sharing".parse::<CpuModel>().is_err());
    }

    #[test]
    fn clock_rounding_reaches_the_end_it_predicts() {
        // 3 invocations on 2 cores: rate 2/3, which no binary fraction represents. Whatever the
        // start, V has reached the end at the rounded-up picosecond, and not one before.
        for (t, v, rem) in [(0, 0, 1u128), (7, 5, 10_000_000), (3, 1, 999_999_999_999)] {
            let clock = Clock { t, v };
            let end = v + rem;
            let at = clock.reaches(3, 2, end);
            assert!(clock.advanced(3, 2, at).v >= end);
            assert!(clock.advanced(3, 2, at - 1).v < end);
        }
        // Rate 1: exact. 2 s of work at rate 2/3 from 1 us: 3 s later.
        let clock = Clock::default().joined(0, 4, 10);
        assert_eq!(clock.end_time(1, 4, service(5)), 15);
        let clock = Clock::default().joined(0, 2, 1);
        assert_eq!(clock.end_time(3, 2, service(2_000_000)), 3_000_001);
    }

    #[test]
    fn agenda_keeps_the_smallest_key_on_top_through_updates() {
        let mut agenda = Agenda::new(20);
        let mut reference: Vec<Option<u128>> = vec![None; 20];
        let mut x: u64 = 7;
        for _ in 0..5_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let worker = ((x >> 33) % 20) as u32;
            match (x >> 40) % 4 {
                0 => {
                    agenda.set(worker, None);
                    reference[worker as usize] = None;
                }
                1 => {
                    let top = agenda.peek();
                    if let Some((_, w)) = top {
                        agenda.set(w, None);
                    }
                    let expected = reference
                        .iter()
                        .enumerate()
                        .filter_map(|(w, k)| k.map(|k| (k, w as u32)))
                        .min();
                    assert_eq!(top, expected);
                    if let Some((_, w)) = top {
                        reference[w as usize] = None;
                    }
                }
                _ => {
                    let key = u128::from((x >> 20) % 1_000) << 64 | u128::from(worker);
                    agenda.set(worker, Some(key));
                    reference[worker as usize] = Some(key);
                }
            }
            let expected = reference
                .iter()
                .enumerate()
                .filter_map(|(w, k)| k.map(|k| (k, w as u32)))
                .min();
            assert_eq!(agenda.peek(), expected);
        }
    }
}
