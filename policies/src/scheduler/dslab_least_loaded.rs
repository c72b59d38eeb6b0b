//! DSLab FaaS's least-loaded placement (osukhoroslov/dslab, crates/dslab-faas, `scheduler.rs`,
//! `LeastLoadedScheduler` with `prefer_warm`, `use_invocation_count` and `avoid_queueing`, as its
//! experiments set them), kept apart from lambdasim's own `least-loaded` because it differs:
//!
//! - a worker's load is its invocations in flight plus its queue's length (so a queued
//!   invocation counts twice, as in DSLab);
//! - each worker also gets a token: 1 if it can take the invocation without queueing (a sandbox
//!   of the function with room, or the memory for a new one), else 0;
//! - workers are scanned in order: one becomes the choice if its token is higher than the
//!   choice's or its load is lower (whatever the tokens); at an equal token and load, a worker
//!   with a warm sandbox of the function replaces a choice without one.
//!
//! No parameters. The loads are whole numbers here, where DSLab compares them as `f64` with a
//! margin of 1e-9: the same order.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// DSLab FaaS's least-loaded worker.
#[derive(Clone, Copy, Debug, Default)]
pub struct DslabLeastLoaded;

impl Scheduler for DslabLeastLoaded {
    fn name(&self) -> &'static str {
        "dslab-least-loaded"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let need = u64::from(platform.function(function).memory_mb);
        let mut best = WorkerId(0);
        let mut best_token = 0u8;
        let mut best_load = u64::MAX;
        let mut best_warm = false;
        for w in platform.workers() {
            let warm = platform.has_reusable(function, w.id);
            let token = u8::from(warm || w.memory.free_mb() >= need);
            let load = u64::from(platform.in_flight(w.id)) + w.queue_len() as u64;
            if token > best_token || load < best_load {
                (best, best_token, best_load, best_warm) = (w.id, token, load, warm);
            } else if token == best_token && load == best_load && !best_warm && warm {
                (best, best_warm) = (w.id, true);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testkit::{Cluster, FUNCTION_MB, worker_of as worker};

    /// Loads (in flight): worker 0 has 2, worker 1 has 1 and no room left (its 100 MB hold one
    /// running f0), worker 2 has 1 and room. Scanning: worker 0 (token 1, load 2) is the first
    /// choice; worker 1 has token 0 but a lower load, 1 < 2, so it replaces it (DSLab's `or`);
    /// worker 2 has token 1 > 0 and replaces it. With an idle f1 sandbox on worker 1 instead,
    /// worker 1 has token 1 and load 1 (its idle sandbox runs nothing), and worker 2, with the
    /// same token and load but nothing warm, does not replace it.
    #[test]
    fn dslab_least_loaded_takes_tokens_loads_and_warmth_in_dslab_order() {
        let mb = u64::from(FUNCTION_MB);
        let mut c = Cluster::with_workers(3, &[worker(10 * mb), worker(mb), worker(10 * mb)]);
        let _a = c.load(0, 0, 2);
        let _b = c.start(0, 1);
        let _c = c.start(2, 2);
        let f1 = FunctionId(1);
        assert_eq!(DslabLeastLoaded.select(0, f1, c.platform()), WorkerId(2));

        let mut c = Cluster::with_workers(3, &[worker(10 * mb), worker(2 * mb), worker(10 * mb)]);
        let _a = c.load(0, 0, 2);
        c.warm(1, 1);
        let _b = c.start(0, 1);
        let _c = c.start(2, 2);
        assert_eq!(DslabLeastLoaded.select(0, f1, c.platform()), WorkerId(1));
    }
}
