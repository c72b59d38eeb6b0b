//! The decisions the controller delegates. Implementations live in the `policies` crate.
//!
//! Policies read the platform through `&Platform` and answer; they never change platform state,
//! never read a clock (time is handed in) and use no randomness but their own seeded generator.

use workloads::{FunctionId, Time};

use workloads::packages::{PackageCatalog, PackageId};

use crate::WorkerId;
use crate::install_cache::InstallCaches;
use crate::platform::{Platform, Sandbox, SandboxId};
use crate::record::{DestroyReason, StartKind};

/// What to do with a sandbox that has no invocation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleDecision {
    /// Destroy it now.
    Destroy,
    /// Keep it warm. With a deadline, the policy is asked again (`on_deadline`) once that time
    /// has passed and the sandbox is still unused; without one it stays until evicted.
    Keep { until: Option<Time> },
    /// Pause (freeze) it, with an optional deadline as for `Keep`.
    Pause { until: Option<Time> },
    /// Destroy it now and load a fresh sandbox of the same function on the same worker at `at`,
    /// then keep that one warm as `Keep { until }` would: a pre-warming policy's "unload, and
    /// load again just before the next invocation is expected". A later decision for the same
    /// function replaces a pre-warm that has not happened yet.
    Prewarm { at: Time, until: Option<Time> },
}

/// Keep-alive and eviction: how long unused sandboxes live, and which go first when memory runs
/// out.
pub trait KeepAlive {
    /// The name used in scenario files, summaries and reports.
    fn name(&self) -> &'static str;

    /// `sandbox` just finished its last running invocation and nobody is waiting for it.
    fn on_idle(&mut self, now: Time, sandbox: &Sandbox, platform: &Platform) -> IdleDecision;

    /// A deadline set by an earlier decision has passed and `sandbox` is still idle or paused.
    fn on_deadline(&mut self, now: Time, sandbox: &Sandbox, platform: &Platform) -> IdleDecision;

    /// Chooses sandboxes on `worker` to evict so that at least `need_mb` more memory is free.
    /// Only idle and paused sandboxes may be chosen. With eviction `shortfall` (the default),
    /// `need_mb` is what the new sandbox lacks, the controller asks only when the worker's idle
    /// and paused sandboxes together would free it, and evicts the chosen ones only if together
    /// they do; with `whole-size`, `need_mb` is the new sandbox's whole size and the chosen ones
    /// are evicted whatever they free.
    ///
    /// The default evicts the least recently used first, the classic cache policy, walking the
    /// platform's recency order so that it touches only its victims. Policies that answer true to
    /// [`KeepAlive::may_kill_running`] may also choose running sandboxes (not provisioned ones,
    /// not ones being created); their invocations then fail.
    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_mb: u64,
        platform: &Platform,
        victims: &mut Vec<SandboxId>,
    ) {
        least_recently_used(worker, need_mb, platform, victims);
    }

    /// An invocation of `function` arrived (before it is placed).
    fn on_arrival(&mut self, _now: Time, _function: FunctionId, _platform: &Platform) {}

    /// An invocation started in `sandbox`, as `kind` says; for a cold start, when the sandbox
    /// became ready.
    fn on_start(&mut self, _now: Time, _sandbox: &Sandbox, _kind: StartKind, _platform: &Platform) {
    }

    /// `sandbox` was destroyed for `reason`; the platform no longer holds it.
    fn on_destroyed(
        &mut self,
        _now: Time,
        _sandbox: &Sandbox,
        _reason: DestroyReason,
        _platform: &Platform,
    ) {
    }

    /// For policies that expire sandboxes lazily, as FaasCache's simulator does: before an
    /// invocation of `function` looks for a sandbox on `worker`, the idle or paused sandboxes of it
    /// there that have expired, to be destroyed first (reason `expired`). Called on every arrival
    /// only when [`KeepAlive::expires_lazily`] is true.
    fn expired(
        &mut self,
        _now: Time,
        _function: FunctionId,
        _worker: WorkerId,
        _platform: &Platform,
        _expired: &mut Vec<SandboxId>,
    ) {
    }

    /// Whether [`KeepAlive::expired`] should be asked on every arrival.
    fn expires_lazily(&self) -> bool {
        false
    }

    /// Whether the policy acts at every arrival before it is placed
    /// ([`KeepAlive::before_arrival`]) and chooses which idle sandbox an invocation reuses
    /// ([`KeepAlive::choose_reuse`]), as a policy that keeps its own pool of sandboxes does.
    fn keeps_pool(&self) -> bool {
        false
    }

    /// Only when [`KeepAlive::keeps_pool`]: called first at every arrival. Sandboxes the policy
    /// unloads go in `actions.unload` (destroyed, reason `not-kept`); sandboxes to load ahead of
    /// time in `actions.prewarm`, created in that order where the worker has the memory free,
    /// ready at once in the simulator (each is reported to [`KeepAlive::on_created`]).
    fn before_arrival(&mut self, _now: Time, _platform: &Platform, _actions: &mut ArrivalActions) {}

    /// Only when [`KeepAlive::keeps_pool`]: the idle sandbox of `function` on `worker` that an
    /// invocation arriving now takes, if any (after [`KeepAlive::expired`] was asked).
    fn choose_reuse(
        &mut self,
        _now: Time,
        function: FunctionId,
        worker: WorkerId,
        platform: &Platform,
    ) -> Option<SandboxId> {
        platform.reusable_on(function, worker)
    }

    /// Only when [`KeepAlive::keeps_pool`]: a sandbox was created, for an invocation that runs
    /// for `duration` once it is ready, or ahead of time (`None`: pre-warmed or provisioned).
    fn on_created(
        &mut self,
        _now: Time,
        _sandbox: &Sandbox,
        _duration: Option<Time>,
        _platform: &Platform,
    ) {
    }

    /// Only when [`KeepAlive::keeps_pool`]: an invocation that runs for `duration` was given
    /// `sandbox` now: an idle or paused one
    /// (`kind` warm, unpause or prewarmed, it starts now) or one just created for it (`kind`
    /// cold or zygote fork, it starts when the sandbox is ready, which [`KeepAlive::on_start`]
    /// reports).
    fn on_placed(
        &mut self,
        _now: Time,
        _sandbox: &Sandbox,
        _kind: StartKind,
        _duration: Time,
        _platform: &Platform,
    ) {
    }

    /// The controller evicted `victims` on `worker`, all of them chosen by the last
    /// [`KeepAlive::choose_victims`]; it calls this only when it carries out that choice.
    fn on_evicted(
        &mut self,
        _now: Time,
        _worker: WorkerId,
        _victims: &[SandboxId],
        _platform: &Platform,
    ) {
    }

    /// Whether [`KeepAlive::choose_victims`] may choose running sandboxes.
    fn may_kill_running(&self) -> bool {
        false
    }

    /// Whether the policy keeps a free-memory goal, evicting in the background: then
    /// [`KeepAlive::background_victims`] is asked whenever a worker's memory use changed.
    fn evicts_in_background(&self) -> bool {
        false
    }

    /// Sandboxes on `worker` to evict now, without any request waiting for memory. Only idle and
    /// paused sandboxes that are not provisioned are evicted.
    fn background_victims(
        &mut self,
        _now: Time,
        _worker: WorkerId,
        _platform: &Platform,
        _victims: &mut Vec<SandboxId>,
    ) {
    }
}

/// What a policy that keeps its own pool wants done at an arrival, before anything else
/// ([`KeepAlive::before_arrival`]).
#[derive(Clone, Debug, Default)]
pub struct ArrivalActions {
    /// Idle sandboxes to destroy (reason `not-kept`).
    pub unload: Vec<SandboxId>,
    /// Sandboxes to load now, in this order, on workers with the memory free.
    pub prewarm: Vec<(FunctionId, WorkerId)>,
}

impl ArrivalActions {
    pub fn clear(&mut self) {
        self.unload.clear();
        self.prewarm.clear();
    }
}

/// Appends the idle and paused sandboxes of `worker`, least recently used first, until they free
/// `need_mb`; returns what they free (less than `need_mb` if all of them do not suffice).
pub fn least_recently_used(
    worker: WorkerId,
    need_mb: u64,
    platform: &Platform,
    victims: &mut Vec<SandboxId>,
) -> u64 {
    let mut freed = 0u64;
    for sb in platform.evictable(worker) {
        if freed >= need_mb {
            break;
        }
        victims.push(sb.id);
        freed += u64::from(sb.memory_mb);
    }
    freed
}

/// Placement: which worker an invocation goes to.
pub trait Scheduler {
    /// The name used in scenario files, summaries and reports.
    fn name(&self) -> &'static str;

    /// Picks the worker for an invocation of `function` arriving at `now`.
    fn select(&mut self, now: Time, function: FunctionId, platform: &Platform) -> WorkerId;
}

/// Which installed packages leave a worker's disk when a cold start needs room.
pub trait InstallPolicy {
    /// The name used in scenario files and reports.
    fn name(&self) -> &'static str;

    /// Chooses installed packages on `worker` to remove so that at least `need_bytes` are freed;
    /// never one in `keep` (the packages the cold start itself uses). The controller removes the
    /// chosen ones only if together they free enough.
    #[allow(clippy::too_many_arguments)]
    fn choose_victims(
        &mut self,
        now: Time,
        worker: WorkerId,
        need_bytes: u64,
        keep: &[PackageId],
        caches: &InstallCaches,
        catalog: &PackageCatalog,
        victims: &mut Vec<PackageId>,
    );

    /// A cold start used `package` on `worker` (installed it or found it).
    fn on_use(
        &mut self,
        _now: Time,
        _worker: WorkerId,
        _package: PackageId,
        _caches: &InstallCaches,
        _catalog: &PackageCatalog,
    ) {
    }
}
