//! Fixed keep-alive time: an idle sandbox is kept warm for a fixed `idle` time and destroyed when
//! it runs out. Under memory pressure the least recently used idle sandboxes are evicted first.
//!
//! This is the policy of the commercial platforms that "Serverless in the Wild" (Shahrad et al.,
//! USENIX ATC'20) studies, where AWS Lambda and Azure Functions kept sandboxes for 10 to 20
//! minutes; that paper, and FaasCache (Fuerst and Sharma, ASPLOS'21), use it as the baseline.
//! Sweeps of 1 to 120 minutes are common.
//!
//! Parameters:
//! - `idle` (default 10 minutes);
//! - `refresh`: `"reuse"` (default) restarts the time on every reuse, so a sandbox lives until it
//!   has been idle for `idle`; `"once"` sets the deadline when the sandbox first becomes idle and
//!   never moves it, so a sandbox lives `idle` past its first use however busy it is (DSLab's
//!   default fixed keep-alive);
//! - `lazy`: `false` (default) destroys a sandbox when its time runs out; `true` checks expiry
//!   only when an invocation of the function looks for a sandbox, as FaasCache's simulator does:
//!   until then an expired sandbox holds its memory (and can be evicted).

use serde::{Deserialize, Serialize};
use sim::{IdleDecision, KeepAlive, Platform, Sandbox, SandboxId, WorkerId};
use workloads::{Duration, FunctionId, Time};

/// When the keep-alive time starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refresh {
    /// At the end of every use.
    #[default]
    Reuse,
    /// When the sandbox first becomes idle.
    Once,
}

/// Keeps idle sandboxes for a fixed time.
#[derive(Clone, Copy, Debug)]
pub struct FixedTtl {
    idle: Time,
    refresh: Refresh,
    lazy: bool,
}

impl FixedTtl {
    pub fn new(idle: Duration) -> Self {
        Self::with(idle, Refresh::Reuse, false)
    }

    pub fn with(idle: Duration, refresh: Refresh, lazy: bool) -> Self {
        FixedTtl {
            idle: idle.micros(),
            refresh,
            lazy,
        }
    }

    /// When `sandbox` expires.
    fn expiry(&self, sandbox: &Sandbox) -> Time {
        let start = match self.refresh {
            Refresh::Reuse => sandbox.last_used,
            Refresh::Once => sandbox.first_idle.unwrap_or(sandbox.last_used),
        };
        start.saturating_add(self.idle)
    }
}

impl KeepAlive for FixedTtl {
    fn name(&self) -> &'static str {
        "ttl"
    }

    fn on_idle(&mut self, now: Time, sandbox: &Sandbox, _platform: &Platform) -> IdleDecision {
        if self.lazy {
            return IdleDecision::Keep { until: None };
        }
        let until = self.expiry(sandbox);
        if until <= now {
            IdleDecision::Destroy
        } else {
            IdleDecision::Keep { until: Some(until) }
        }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Destroy
    }

    fn expires_lazily(&self) -> bool {
        self.lazy
    }

    fn expired(
        &mut self,
        now: Time,
        function: FunctionId,
        worker: WorkerId,
        platform: &Platform,
        expired: &mut Vec<SandboxId>,
    ) {
        expired.extend(
            platform
                .idle_sandboxes(function, worker)
                .filter(|sb| self.expiry(sb) <= now)
                .map(|sb| sb.id),
        );
    }
}
