//! Least loaded, warm first: among the workers that could start the function without a cold
//! start (a running sandbox with room, an idle or a paused one), the one with the fewest
//! invocations in flight; if there is none, the worker with the fewest invocations in flight
//! overall, then the most memory free or reclaimable. Ties go to the lowest worker id.
//!
//! Join-the-shortest-queue is the classic load-balancing baseline; preferring a worker that holds
//! a warm sandbox is what OpenWhisk's and OpenLambda's balancers add for serverless, since a cold
//! start costs far more than a slightly longer queue. No parameters.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// Fewest invocations in flight, preferring workers with a warm sandbox of the function.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastLoaded;

impl Scheduler for LeastLoaded {
    fn name(&self) -> &'static str {
        "least-loaded"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        // Scanned on every arrival, so the comparison key is packed into one integer:
        // (in flight, worker id) for warm candidates, then (in flight, reclaimable memory
        // reversed, worker id) for all.
        let loads = platform.in_flight_all();
        let warm = platform
            .workers_with_reusable(function)
            .map(|w| (u64::from(loads[w.index()]) << 32) | u64::from(w.0))
            .min();
        if let Some(key) = warm {
            return WorkerId(key as u32);
        }
        platform
            .workers()
            .iter()
            .map(|w| {
                (
                    loads[w.id.index()],
                    std::cmp::Reverse(platform.reclaimable_mb(w.id)),
                    w.id,
                )
            })
            .min()
            .map(|(_, _, w)| w)
            .expect("a cluster has at least one worker")
    }
}
