//! The decisions the controller delegates. Implementations live in the `policies` crate.
//!
//! Policies read the platform through `&Platform` and answer; they never change platform state,
//! never read a clock (time is handed in) and use no randomness but their own seeded generator.

use workloads::{FunctionId, Time};

use crate::WorkerId;
use crate::platform::{Platform, Sandbox, SandboxId};

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
    /// Only idle and paused sandboxes may be chosen. The controller evicts the chosen ones only if
    /// together they free enough, and it asks only when the worker's idle and paused sandboxes
    /// together would.
    ///
    /// The default evicts the least recently used first, the classic cache policy, walking the
    /// platform's recency order so that it touches only its victims.
    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_mb: u64,
        platform: &Platform,
        victims: &mut Vec<SandboxId>,
    ) {
        let mut freed = 0u64;
        for sb in platform.evictable(worker) {
            if freed >= need_mb {
                break;
            }
            victims.push(sb.id);
            freed += u64::from(sb.memory_mb);
        }
    }
}

/// Placement: which worker an invocation goes to.
pub trait Scheduler {
    /// The name used in scenario files, summaries and reports.
    fn name(&self) -> &'static str;

    /// Picks the worker for an invocation of `function` arriving at `now`.
    fn select(&mut self, now: Time, function: FunctionId, platform: &Platform) -> WorkerId;
}
