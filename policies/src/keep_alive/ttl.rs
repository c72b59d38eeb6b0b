//! Fixed keep-alive time: an idle sandbox is kept warm for a fixed `idle` time after its last
//! use, the timer restarting on every reuse, and destroyed when it runs out. Under memory
//! pressure the least recently used idle sandboxes are evicted first.
//!
//! This is the policy of the commercial platforms that "Serverless in the Wild" (Shahrad et al.,
//! USENIX ATC'20) studies, where AWS Lambda and Azure Functions kept sandboxes for 10 to 20
//! minutes; that paper, and FaasCache (Fuerst and Sharma, ASPLOS'21), use it as the baseline.
//!
//! Parameter: `idle` (default 10 minutes).

use sim::{IdleDecision, KeepAlive, Platform, Sandbox};
use workloads::{Duration, Time};

/// Keeps idle sandboxes for a fixed time after their last use.
#[derive(Clone, Copy, Debug)]
pub struct FixedTtl {
    idle: Time,
}

impl FixedTtl {
    pub fn new(idle: Duration) -> Self {
        FixedTtl {
            idle: idle.micros(),
        }
    }
}

impl KeepAlive for FixedTtl {
    fn name(&self) -> &'static str {
        "ttl"
    }

    fn on_idle(&mut self, now: Time, _sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        IdleDecision::Keep {
            until: Some(now + self.idle),
        }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Destroy
    }
}
