//! Scheduling policies: which worker an invocation goes to.
//!
//! In a scenario file: `scheduler = { kind = "least-loaded" }`.

mod hash;
mod least_loaded;
mod random;
mod round_robin;

use serde::{Deserialize, Serialize};
use sim::Scheduler;

pub use hash::HashAffinity;
pub use least_loaded::LeastLoaded;
pub use random::RandomScheduler;
pub use round_robin::RoundRobin;

/// A scheduling policy and its parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SchedulerConfig {
    /// Workers in turn.
    RoundRobin,
    /// A uniformly random worker (seeded).
    Random,
    /// The worker with the fewest invocations in flight, preferring one with a warm sandbox.
    #[default]
    LeastLoaded,
    /// Function affinity: a home worker from the function's name, probing onwards when full.
    Hash,
}

impl SchedulerConfig {
    /// Names accepted for `kind`.
    pub const KINDS: &'static [&'static str] = &["round-robin", "random", "least-loaded", "hash"];

    /// Builds the policy; `seed` feeds the policies that draw random numbers.
    pub fn build(&self, seed: u64) -> Box<dyn Scheduler> {
        match self {
            SchedulerConfig::RoundRobin => Box::new(RoundRobin::default()),
            SchedulerConfig::Random => Box::new(RandomScheduler::new(seed)),
            SchedulerConfig::LeastLoaded => Box::new(LeastLoaded),
            SchedulerConfig::Hash => Box::new(HashAffinity::default()),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            SchedulerConfig::RoundRobin => "round-robin",
            SchedulerConfig::Random => "random",
            SchedulerConfig::LeastLoaded => "least-loaded",
            SchedulerConfig::Hash => "hash",
        }
    }
}
