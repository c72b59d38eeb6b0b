//! Zygote affinity, as OpenLambda's `hashZygote` load balancer does it: the invocation goes to the
//! worker found by hashing the function's deepest zygote node, so functions that fork from the same
//! zygote share a worker, whose import cache then holds that zygote.
//!
//! The key is [`sim::platform::FunctionInfo::zygote_hash`]: the packages of the deepest node of the
//! static zygote tree whose packages the function needs all of, or, without a static tree, the
//! function's whole package set (the zygote a dynamic tree grows for it). The worker is the key
//! modulo the number of workers, as in OpenLambda. Two departures, both documented:
//! - a function that matches only the tree's root (or has no packages) is keyed by its name.
//!   OpenLambda hashes the root node too, which sends all such functions to one worker;
//! - with a finite `threshold`, a worker loaded to `threshold` invocations in flight per core or
//!   more is skipped for the least loaded worker (a warm one first), as PASch does. The default,
//!   `inf`, never skips: OpenLambda's rule.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

use super::bits::{least_loaded_then_warm, splitmix64};

/// Hash of the deepest zygote node, modulo the workers.
#[derive(Clone, Debug)]
pub struct ZygoteHash {
    threshold: f64,
}

impl ZygoteHash {
    pub fn new(threshold: f64) -> Self {
        ZygoteHash { threshold }
    }
}

impl Scheduler for ZygoteHash {
    fn name(&self) -> &'static str {
        "zygote-hash"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let workers = platform.workers().len() as u64;
        let info = platform.function(function);
        let key = splitmix64(info.zygote_hash.unwrap_or(info.name_hash));
        let home = WorkerId((key % workers) as u32);
        if self.threshold.is_finite() {
            let cores = f64::from(platform.worker(home).cores.max(1));
            if f64::from(platform.in_flight(home)) >= self.threshold * cores {
                return least_loaded_then_warm(function, platform);
            }
        }
        home
    }
}
