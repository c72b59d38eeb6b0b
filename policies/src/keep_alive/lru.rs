//! Keep forever, evict least recently used: idle sandboxes never expire and are evicted only
//! when a new sandbox needs their memory, least recently used first. FaasCache (Fuerst and
//! Sharma, ASPLOS'21) shows keep-alive is a caching problem; LRU is the classic cache baseline and
//! the "no unloading" end of keep-alive policies. No parameters.

use sim::{IdleDecision, KeepAlive, Platform, Sandbox};
use workloads::Time;

/// Keeps idle sandboxes until memory pressure evicts them, least recently used first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lru;

impl KeepAlive for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn on_idle(&mut self, _now: Time, _sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        IdleDecision::Keep { until: None }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Keep { until: None }
    }
}
