//! Hash affinity with step probing, as OpenWhisk's `ShardingContainerPoolBalancer` does: a
//! function's home worker is its name's hash modulo the number of workers, and its step size is a
//! number co-prime to the worker count chosen by the same hash, so that the probe sequence
//! `home, home + step, home + 2 step, ...` visits every worker once and different functions
//! spread their overflow differently. The invocation goes to the first worker on that sequence
//! with room: a sandbox of the function that can take it, or enough memory that is free or held
//! by idle and paused sandboxes. If no worker has room it goes to its home worker, where it
//! queues (OpenWhisk picks a random worker instead; the home keeps this policy free of
//! randomness). Affinity concentrates a function's invocations on few workers, which keeps its
//! sandboxes warm. No parameters.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// Function affinity with co-prime step probing.
#[derive(Clone, Debug, Default)]
pub struct HashAffinity {
    /// Step sizes co-prime to the number of workers, computed on first use.
    steps: Vec<u32>,
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Scheduler for HashAffinity {
    fn name(&self) -> &'static str {
        "hash"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let n = platform.workers().len() as u32;
        if self.steps.is_empty() {
            self.steps = (1..=n).filter(|&s| gcd(s, n) == 1).collect();
        }
        let hash = platform.function(function).name_hash;
        let home = (hash % u64::from(n)) as u32;
        let step = self.steps[((hash >> 32) % self.steps.len() as u64) as usize];
        let need = u64::from(platform.function(function).memory_mb);
        let mut w = home;
        for _ in 0..n {
            let worker = WorkerId(w);
            if platform.has_reusable(function, worker) || platform.reclaimable_mb(worker) >= need {
                return worker;
            }
            w = (w + step) % n;
        }
        WorkerId(home)
    }
}
