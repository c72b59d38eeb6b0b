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
        let warm = platform
            .workers_with_reusable(function)
            .min_by_key(|&w| (platform.in_flight(w), w));
        if let Some(worker) = warm {
            return worker;
        }
        platform
            .workers()
            .iter()
            .min_by_key(|w| {
                (
                    platform.in_flight(w.id),
                    std::cmp::Reverse(platform.reclaimable_mb(w.id)),
                    w.id,
                )
            })
            .map(|w| w.id)
            .expect("a cluster has at least one worker")
    }
}
