//! Locality: DSLab FaaS's `LocalityBasedScheduler` (osukhoroslov/dslab, crates/dslab-faas,
//! `scheduler.rs`), as its experiments configure it (identity hash, step 1). Each function has a
//! home worker, its index in the catalog modulo the workers (DSLab hashes the application id
//! with the identity hasher, and gives each function its own application), and workers are
//! probed from there one by one, wrapping around.
//!
//! - `warm = true` (default; DSLab's `warm_only`): the first worker holding a sandbox of the
//!   function that can take the invocation now; if none does, the first probed worker with the
//!   memory free for a new sandbox; if none has, the home worker.
//! - `warm = false`: the first probed worker with the memory free for a new sandbox, else the
//!   home worker.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// Probes workers from the function's home.
#[derive(Clone, Copy, Debug)]
pub struct Locality {
    warm: bool,
}

impl Locality {
    pub fn new(warm: bool) -> Self {
        Locality { warm }
    }
}

impl Scheduler for Locality {
    fn name(&self) -> &'static str {
        "locality"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let n = platform.workers().len();
        let home = function.index() % n;
        let need = u64::from(platform.function(function).memory_mb);
        let mut fits = None;
        for step in 0..n {
            let w = WorkerId(((home + step) % n) as u32);
            if self.warm && platform.has_reusable(function, w) {
                return w;
            }
            if platform.worker(w).memory.free_mb() >= need {
                if !self.warm {
                    return w;
                }
                fits.get_or_insert(w);
            }
        }
        fits.unwrap_or(WorkerId(home as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testkit::{Cluster, FUNCTION_MB, worker_of as worker};

    /// Three workers; f4's home is 4 % 3 = worker 1. Worker 1 has room but nothing warm, worker
    /// 2 holds an idle sandbox of f4: `warm` goes on to worker 2, `warm = false` stays home.
    /// With worker 1 full (one f0 running fills its 100 MB), `warm = false` goes on to worker 2;
    /// `warm` finds f1 warm nowhere and takes the first worker with room after home, worker 2.
    #[test]
    fn locality_probes_from_the_home_worker() {
        let mut c = Cluster::with_workers(5, &[worker(1000), worker(1000), worker(1000)]);
        c.warm(4, 2);
        let f4 = FunctionId(4);
        assert_eq!(Locality::new(true).select(0, f4, c.platform()), WorkerId(2));
        assert_eq!(
            Locality::new(false).select(0, f4, c.platform()),
            WorkerId(1)
        );

        let mut c = Cluster::with_workers(
            5,
            &[worker(1000), worker(u64::from(FUNCTION_MB)), worker(1000)],
        );
        let _busy = c.start(0, 1);
        assert_eq!(
            Locality::new(false).select(0, f4, c.platform()),
            WorkerId(2)
        );
        let f1 = FunctionId(1);
        assert_eq!(Locality::new(true).select(0, f1, c.platform()), WorkerId(2));
    }
}
