//! What a run tells the outside world: one [`Record`] per invocation and a few state-change
//! notifications, delivered to a [`RecordSink`]. The schema is the same for the simulated and the
//! real backend, so that their results can be compared field by field.

use serde::Serialize;
use workloads::{AppId, Catalog, FunctionId, Time};

use crate::WorkerId;
use crate::platform::WorkerSpec;

/// How an invocation got a sandbox to run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartKind {
    /// A new sandbox was created for it.
    Cold,
    /// An idle sandbox of its function was reused.
    Warm,
    /// A paused sandbox of its function was unpaused.
    Unpause,
    /// A sandbox created ahead of time by a pre-warming policy was used for the first time.
    Prewarmed,
    /// A sandbox forked from a zygote that had some of its packages imported.
    ZygoteFork,
}

impl StartKind {
    pub const ALL: [StartKind; 5] = [
        StartKind::Cold,
        StartKind::Warm,
        StartKind::Unpause,
        StartKind::Prewarmed,
        StartKind::ZygoteFork,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StartKind::Cold => "cold",
            StartKind::Warm => "warm",
            StartKind::Unpause => "unpause",
            StartKind::Prewarmed => "prewarmed",
            StartKind::ZygoteFork => "zygote-fork",
        }
    }

    /// The kind [`StartKind::as_str`] names.
    pub fn parse(name: &str) -> Option<StartKind> {
        StartKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the invocation paid for creating a sandbox.
    pub fn is_cold(self) -> bool {
        matches!(self, StartKind::Cold | StartKind::ZygoteFork)
    }
}

/// Why an invocation was not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The worker had no memory to free and its queue was full.
    QueueFull,
    /// The worker had no memory to free and the platform drops instead of queueing.
    NoMemory,
    /// The function needs more memory than any sandbox on the chosen worker could ever have.
    TooLarge,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [
        DropReason::QueueFull,
        DropReason::NoMemory,
        DropReason::TooLarge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue-full",
            DropReason::NoMemory => "no-memory",
            DropReason::TooLarge => "too-large",
        }
    }
}

/// Why a started invocation did not complete (reported by backends that can fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailReason {
    /// The sandbox crashed or exited while running the invocation.
    SandboxCrashed,
    /// The sandbox exceeded its memory limit and was killed.
    OutOfMemory,
    /// The platform killed the sandbox to free memory for another (OpenLambda's last resort).
    Killed,
    /// The invocation did not end in time (real mode's watchdog): its sandbox was killed.
    Timeout,
}

impl FailReason {
    pub const ALL: [FailReason; 4] = [
        FailReason::SandboxCrashed,
        FailReason::OutOfMemory,
        FailReason::Killed,
        FailReason::Timeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::SandboxCrashed => "sandbox-crashed",
            FailReason::OutOfMemory => "out-of-memory",
            FailReason::Killed => "killed",
            FailReason::Timeout => "timeout",
        }
    }
}

/// How an invocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    Dropped(DropReason),
    Failed(FailReason),
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Dropped(_) => "dropped",
            Outcome::Failed(_) => "failed",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Ok => "",
            Outcome::Dropped(r) => r.as_str(),
            Outcome::Failed(r) => r.as_str(),
        }
    }

    /// The outcome [`Outcome::as_str`] and [`Outcome::reason`] name, if they name one.
    pub fn parse(outcome: &str, reason: &str) -> Option<Outcome> {
        match outcome {
            "ok" if reason.is_empty() => Some(Outcome::Ok),
            "dropped" => DropReason::ALL
                .into_iter()
                .find(|r| r.as_str() == reason)
                .map(Outcome::Dropped),
            "failed" => FailReason::ALL
                .into_iter()
                .find(|r| r.as_str() == reason)
                .map(Outcome::Failed),
            _ => None,
        }
    }
}

/// Where an invocation's time went, in microseconds.
///
/// `queue + create + install + import + init` is the startup delay (`start - arrival`) and
/// `exec` is `end - start`. For a warm start `init` holds the dispatch overhead, for an unpause
/// the unpause cost; `create`, `install` and `import` are then zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Phases {
    /// Waiting in the worker's queue for memory, then for a core (with a CPU model that makes
    /// invocations wait).
    pub queue: Time,
    /// Creating the sandbox (namespaces, cgroup, runtime process).
    pub create: Time,
    /// Installing packages that the worker's install cache lacked.
    pub install: Time,
    /// Importing packages that the sandbox (or its zygote) had not imported.
    pub import: Time,
    /// Runtime and handler initialization (cold), dispatch (warm) or unpause.
    pub init: Time,
    /// Running the handler.
    pub exec: Time,
}

impl Phases {
    pub fn startup(&self) -> Time {
        self.queue + self.create + self.install + self.import + self.init
    }
}

/// One invocation, from arrival to completion or drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Position of the invocation in the input stream, from 0.
    pub id: u64,
    pub function: FunctionId,
    pub app: AppId,
    /// The worker it was placed on.
    pub worker: WorkerId,
    pub arrival: Time,
    /// When the handler started running (the drop time for dropped invocations).
    pub start: Time,
    /// When the handler finished (the drop time for dropped invocations).
    pub end: Time,
    /// `None` for invocations that never started.
    pub start_kind: Option<StartKind>,
    pub phases: Phases,
    pub outcome: Outcome,
}

impl Record {
    pub fn latency(&self) -> Time {
        self.end - self.arrival
    }

    pub fn startup_delay(&self) -> Time {
        self.start - self.arrival
    }
}

/// Memory of one worker, in MB, right after a change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryState {
    pub capacity_mb: u64,
    /// Held by sandboxes that are being created (reserved) or running invocations.
    pub busy_mb: u64,
    /// Held by idle (warm) sandboxes.
    pub idle_mb: u64,
    /// Held by paused sandboxes.
    pub paused_mb: u64,
    /// Held by zygotes (the import cache).
    pub zygote_mb: u64,
}

impl MemoryState {
    pub fn used_mb(&self) -> u64 {
        self.busy_mb + self.idle_mb + self.paused_mb + self.zygote_mb
    }

    pub fn free_mb(&self) -> u64 {
        self.capacity_mb.saturating_sub(self.used_mb())
    }
}

/// Why a sandbox was destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestroyReason {
    /// The keep-alive policy chose not to keep it after an invocation.
    NotKept,
    /// Its keep-alive time ran out.
    Expired,
    /// It was evicted to make room for another sandbox.
    Evicted,
    /// The run ended with the sandbox still alive.
    Shutdown,
    /// It crashed or was killed by the host.
    Crashed,
}

impl DestroyReason {
    pub const ALL: [DestroyReason; 5] = [
        DestroyReason::NotKept,
        DestroyReason::Expired,
        DestroyReason::Evicted,
        DestroyReason::Shutdown,
        DestroyReason::Crashed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DestroyReason::NotKept => "not-kept",
            DestroyReason::Expired => "expired",
            DestroyReason::Evicted => "evicted",
            DestroyReason::Shutdown => "shutdown",
            DestroyReason::Crashed => "crashed",
        }
    }
}

/// A change in a sandbox's life that metrics count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SandboxEvent {
    Created {
        function: FunctionId,
        memory_mb: u32,
    },
    Paused {
        function: FunctionId,
    },
    Unpaused {
        function: FunctionId,
    },
    Destroyed {
        function: FunctionId,
        reason: DestroyReason,
    },
    /// A cold start needed `hits + misses` packages: `hits` were on the worker's disk, `misses`
    /// (`bytes` in all) had to be installed.
    Installed {
        function: FunctionId,
        hits: u32,
        misses: u32,
        bytes: u64,
    },
    /// The install cache removed `packages` packages (`bytes` in all) to make room.
    Uninstalled {
        packages: u32,
        bytes: u64,
    },
    /// A cold start needed `hits + misses` packages imported: `hits` were already imported by
    /// the zygote it forked from (one that existed before it), `misses` were imported for it,
    /// in new zygotes or in the sandbox itself.
    Imported {
        function: FunctionId,
        hits: u32,
        misses: u32,
    },
    /// A zygote importing `packages` packages (its ancestors' included) was created, holding
    /// `memory_mb` of the worker's memory.
    ZygoteCreated {
        packages: u32,
        memory_mb: u64,
    },
    /// A zygote was destroyed: evicted to make room, or at the end of the run.
    ZygoteDestroyed {
        memory_mb: u64,
        reason: DestroyReason,
    },
}

/// Static facts about a run that sinks need before the first record.
#[derive(Clone, Copy, Debug)]
pub struct RunInfo<'a> {
    pub catalog: &'a Catalog,
    /// Each worker's resources, indexed by worker id.
    pub workers: &'a [WorkerSpec],
}

/// Receives everything a run reports. Calls arrive in non-decreasing `now` order; records are
/// delivered when the invocation ends (completes or is dropped).
pub trait RecordSink {
    fn begin(&mut self, _info: &RunInfo<'_>) {}
    fn invocation(&mut self, record: &Record);
    fn memory(&mut self, _now: Time, _worker: WorkerId, _state: &MemoryState) {}
    fn sandbox(&mut self, _now: Time, _worker: WorkerId, _event: SandboxEvent) {}
    /// The run is over at `now`; no call follows.
    fn end(&mut self, _now: Time) {}
}

/// Sends everything to two sinks, in order.
pub struct Tee<A, B>(pub A, pub B);

impl<A: RecordSink, B: RecordSink> RecordSink for Tee<A, B> {
    fn begin(&mut self, info: &RunInfo<'_>) {
        self.0.begin(info);
        self.1.begin(info);
    }
    fn invocation(&mut self, record: &Record) {
        self.0.invocation(record);
        self.1.invocation(record);
    }
    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        self.0.memory(now, worker, state);
        self.1.memory(now, worker, state);
    }
    fn sandbox(&mut self, now: Time, worker: WorkerId, event: SandboxEvent) {
        self.0.sandbox(now, worker, event);
        self.1.sandbox(now, worker, event);
    }
    fn end(&mut self, now: Time) {
        self.0.end(now);
        self.1.end(now);
    }
}

/// No sink, or one: an absent sink records nothing.
impl<S: RecordSink> RecordSink for Option<S> {
    fn begin(&mut self, info: &RunInfo<'_>) {
        if let Some(s) = self {
            s.begin(info);
        }
    }
    fn invocation(&mut self, record: &Record) {
        if let Some(s) = self {
            s.invocation(record);
        }
    }
    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        if let Some(s) = self {
            s.memory(now, worker, state);
        }
    }
    fn sandbox(&mut self, now: Time, worker: WorkerId, event: SandboxEvent) {
        if let Some(s) = self {
            s.sandbox(now, worker, event);
        }
    }
    fn end(&mut self, now: Time) {
        if let Some(s) = self {
            s.end(now);
        }
    }
}

impl<S: RecordSink + ?Sized> RecordSink for &mut S {
    fn begin(&mut self, info: &RunInfo<'_>) {
        (**self).begin(info);
    }
    fn invocation(&mut self, record: &Record) {
        (**self).invocation(record);
    }
    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        (**self).memory(now, worker, state);
    }
    fn sandbox(&mut self, now: Time, worker: WorkerId, event: SandboxEvent) {
        (**self).sandbox(now, worker, event);
    }
    fn end(&mut self, now: Time) {
        (**self).end(now);
    }
}
