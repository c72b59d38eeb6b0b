//! No keep-alive: every sandbox is destroyed when its invocation ends, so every invocation is a
//! cold start. The lower bound on memory and the upper bound on cold starts that other policies
//! are measured against. No parameters.

use sim::{IdleDecision, KeepAlive, Platform, Sandbox};
use workloads::Time;

/// Destroys sandboxes as soon as they are idle.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKeepAlive;

impl KeepAlive for NoKeepAlive {
    fn name(&self) -> &'static str {
        "none"
    }

    fn on_idle(&mut self, _now: Time, _sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        IdleDecision::Destroy
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Destroy
    }
}
