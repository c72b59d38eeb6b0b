//! Package-aware scheduling, PASch (Aumala, Boza, Ortiz-Avilés, Totoy, Abad, "Beyond Load
//! Balancing: Package-Aware Scheduling for Serverless Platforms", CCGrid'19): functions that share
//! their largest package go to the same few workers, so those workers' install and import caches
//! already hold it.
//!
//! The function's key is its largest package (by disk size; the function's name when it has no
//! packages). Consistent hashing maps the key to two affinity workers: the first two distinct
//! workers clockwise from the key on a ring with `vnodes` points per worker. The invocation goes to
//! the less loaded of the two (fewer invocations in flight; the first on ties). If that worker is
//! loaded beyond `threshold` invocations in flight per core, PASch gives up on affinity and sends
//! the invocation to the least loaded worker overall (a warm one first, as `least-loaded` does).
//!
//! Parameters: `threshold` (default 1.0: saturated when a worker has as many invocations in flight
//! as cores) and `vnodes` (default 100).

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

use super::bits::{Ring, least_loaded_then_warm, splitmix64};

/// PASch: two affinity workers from the largest package, least loaded above a threshold.
#[derive(Clone, Debug)]
pub struct Pasch {
    threshold: f64,
    vnodes: u32,
    ring: Ring,
}

impl Pasch {
    pub fn new(threshold: f64, vnodes: u32) -> Self {
        Pasch {
            threshold,
            vnodes: vnodes.max(1),
            ring: Ring::default(),
        }
    }

    /// The first two distinct workers clockwise from `key` (the same one twice with one worker).
    fn affinity(&self, key: u64) -> (u32, u32) {
        let mut it = self.ring.clockwise(key);
        let first = it.next().expect("the ring has points");
        let second = it.find(|&w| w != first).unwrap_or(first);
        (first, second)
    }
}

impl Scheduler for Pasch {
    fn name(&self) -> &'static str {
        "pasch"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let workers = platform.workers().len() as u32;
        if self.ring.is_empty() {
            self.ring = Ring::new(workers, self.vnodes);
        }
        let info = platform.function(function);
        let key = splitmix64(info.largest_package_hash.unwrap_or(info.name_hash));
        let (a, b) = self.affinity(key);
        let load = |w: u32| platform.in_flight(WorkerId(w));
        let chosen = if load(b) < load(a) { b } else { a };
        let cores = f64::from(platform.worker(WorkerId(chosen)).cores.max(1));
        if f64::from(load(chosen)) >= self.threshold * cores {
            least_loaded_then_warm(function, platform)
        } else {
            WorkerId(chosen)
        }
    }
}
