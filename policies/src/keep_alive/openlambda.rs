//! OpenLambda's sandbox lifecycle (Hendrickson et al., "Serverless Computation with OpenLambda",
//! HotCloud'16; the worker's `SOCKEvictor` in open-lambda/open-lambda): a sandbox is paused (its
//! cgroup frozen) as soon as it has nothing to run, with no idle timer; paused sandboxes hold their
//! memory until memory runs short. Then they are evicted in the order they were paused, oldest
//! first, aiming to keep a free-memory goal (20% of the worker's memory) with at most 8 evictions
//! at a time. A running sandbox is killed only when nothing else frees enough memory.
//!
//! Parameters:
//! - `free_goal` (default 0.2): fraction of a worker's memory the evictor tries to keep free;
//!   0 evicts only for a sandbox that needs the memory;
//! - `max_evictions` (default 8): evictions per round. OpenLambda bounds the evictions in flight
//!   because destroying a sandbox takes time; here destruction is immediate, so the bound applies
//!   to each round the evictor runs (after every change of a worker's memory);
//! - `kill_running` (default true): when paused and idle sandboxes cannot free enough for a new
//!   sandbox, kill running ones (least recently started first); their invocations fail
//!   (`killed`).
//!
//! OpenLambda can also shrink a paused sandbox's memory limit to what it uses; the traces give no
//! memory use, so this is not modeled.

use sim::policy::least_recently_used;
use sim::{IdleDecision, KeepAlive, Platform, Sandbox, SandboxId, SandboxState, WorkerId};
use workloads::Time;

/// Pause on idle, evict paused sandboxes oldest first under memory pressure.
#[derive(Clone, Copy, Debug)]
pub struct OpenLambda {
    free_goal: f64,
    max_evictions: u32,
    kill_running: bool,
}

impl OpenLambda {
    pub fn new(free_goal: f64, max_evictions: u32, kill_running: bool) -> Self {
        OpenLambda {
            free_goal,
            max_evictions,
            kill_running,
        }
    }

    fn goal_mb(&self, platform: &Platform, worker: WorkerId) -> u64 {
        (platform.worker(worker).memory.capacity_mb as f64 * self.free_goal) as u64
    }
}

impl KeepAlive for OpenLambda {
    fn name(&self) -> &'static str {
        "openlambda"
    }

    fn on_idle(&mut self, _now: Time, _sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        IdleDecision::Pause { until: None }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Pause { until: None }
    }

    /// Paused (and idle) sandboxes in the order they were paused, then, if allowed and still
    /// short, running ones least recently started first.
    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_mb: u64,
        platform: &Platform,
        victims: &mut Vec<SandboxId>,
    ) {
        let mut freed = least_recently_used(worker, need_mb, platform, victims);
        if freed >= need_mb || !self.kill_running {
            return;
        }
        let mut running: Vec<&Sandbox> = platform
            .all_sandboxes()
            .filter(|sb| sb.worker == worker && sb.state == SandboxState::Running && !sb.pinned)
            .collect();
        running.sort_by_key(|sb| (sb.last_used, sb.id));
        for sb in running {
            if freed >= need_mb {
                break;
            }
            victims.push(sb.id);
            freed += u64::from(sb.memory_mb);
        }
    }

    fn may_kill_running(&self) -> bool {
        self.kill_running
    }

    fn evicts_in_background(&self) -> bool {
        self.free_goal > 0.0
    }

    /// Below the free goal, evicts paused sandboxes oldest first, at most `max_evictions`.
    fn background_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        platform: &Platform,
        victims: &mut Vec<SandboxId>,
    ) {
        let goal = self.goal_mb(platform, worker);
        let mut free = platform.worker(worker).memory.free_mb();
        if free >= goal {
            return;
        }
        for sb in platform.evictable(worker).take(self.max_evictions as usize) {
            if free >= goal {
                break;
            }
            victims.push(sb.id);
            free += u64::from(sb.memory_mb);
        }
    }
}
