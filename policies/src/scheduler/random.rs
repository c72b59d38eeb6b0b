//! Random placement: each invocation goes to a uniformly random worker. The load-oblivious
//! baseline of Mitzenmacher's "power of two choices" analysis; its generator is seeded from the
//! scenario's seed, so runs are reproducible. No parameters.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// Picks a worker uniformly at random.
#[derive(Clone, Debug)]
pub struct RandomScheduler {
    rng: Xoshiro256PlusPlus,
}

impl RandomScheduler {
    pub fn new(seed: u64) -> Self {
        RandomScheduler {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }
}

impl Scheduler for RandomScheduler {
    fn name(&self) -> &'static str {
        "random"
    }

    fn select(&mut self, _now: Time, _function: FunctionId, platform: &Platform) -> WorkerId {
        let n = platform.workers().len() as u32;
        WorkerId(self.rng.random_range(0..n))
    }
}
