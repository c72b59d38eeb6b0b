//! Round-robin: each invocation goes to the next worker in turn, ignoring load and warm
//! sandboxes. The simplest load balancer (the default of many HTTP balancers) and the baseline
//! that locality-aware schedulers are measured against. No parameters.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// Cycles through the workers.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobin {
    next: u32,
}

impl Scheduler for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }

    fn select(&mut self, _now: Time, _function: FunctionId, platform: &Platform) -> WorkerId {
        let n = platform.workers().len() as u32;
        let w = self.next % n;
        self.next = (w + 1) % n;
        WorkerId(w)
    }
}
