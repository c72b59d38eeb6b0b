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
        if let Some(worker) = least_loaded_warm(function, platform) {
            return worker;
        }
        // The least loaded workers are exactly those on the lowest occupied load level, so only
        // they are compared, by memory free or reclaimable, then id. The scan goes in id order
        // and stops at a worker with all the memory any worker has: none after it can win.
        let ceiling = platform.max_capacity_mb();
        let mut best: Option<(u64, WorkerId)> = None;
        'scan: for (i, &word) in platform.load_mask(platform.min_load()).iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let w = WorkerId(i as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
                let room = platform.reclaimable_mb(w);
                if best.is_none_or(|(r, _)| room > r) {
                    best = Some((room, w));
                    if room >= ceiling {
                        break 'scan;
                    }
                }
            }
        }
        best.map(|(_, w)| w)
            .expect("every worker is on some load level, the lowest one included")
    }
}

/// Load levels searched through the platform's bitsets before falling back to a scan: the search
/// costs a few word operations per level, the scan one step per warm worker.
const LEVELS_SEARCHED: u32 = 32;

/// The worker with the fewest invocations in flight (then the lowest id) among those holding a
/// warm sandbox of `function`. Runs on every arrival, so it walks load levels upwards from the
/// lowest occupied one and intersects each level's workers with the function's warm workers, a
/// few word operations per level; only when every warm worker is loaded far above the least
/// loaded worker does it scan them.
fn least_loaded_warm(function: FunctionId, platform: &Platform) -> Option<WorkerId> {
    let warm = platform.reusable_mask(function);
    if warm.iter().all(|&w| w == 0) {
        return None;
    }
    let lowest = platform.min_load();
    for load in lowest..platform.load_levels().min(lowest + LEVELS_SEARCHED) {
        let level = platform.load_mask(load);
        for (i, (&a, &b)) in warm.iter().zip(level).enumerate() {
            let both = a & b;
            if both != 0 {
                return Some(WorkerId(i as u32 * 64 + both.trailing_zeros()));
            }
        }
    }
    let loads = platform.in_flight_all();
    platform
        .workers_with_reusable(function)
        .map(|w| (u64::from(loads[w.index()]) << 32) | u64::from(w.0))
        .min()
        .map(|key| WorkerId(key as u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testkit::random_clusters;

    /// The rule as the module states it, by comparing every worker.
    fn scan(function: FunctionId, platform: &Platform) -> WorkerId {
        let warm = platform
            .workers()
            .iter()
            .filter(|w| platform.has_reusable(function, w.id))
            .min_by_key(|w| (platform.in_flight(w.id), w.id));
        let any = || {
            platform
                .workers()
                .iter()
                .min_by_key(|w| {
                    let room = platform.reclaimable_mb(w.id);
                    (platform.in_flight(w.id), std::cmp::Reverse(room), w.id)
                })
                .expect("a cluster has workers")
        };
        warm.unwrap_or_else(any).id
    }

    #[test]
    fn the_bitset_search_chooses_what_comparing_every_worker_chooses() {
        // Asked after every change, for a random function.
        let mut checked = 0;
        random_clusters(11, 60, true, |round, c, rng| {
            let f = FunctionId(rng.below(4) as u32);
            assert_eq!(
                LeastLoaded.select(0, f, c.platform()),
                scan(f, c.platform()),
                "round {round}, {} workers, {f:?}",
                c.platform().workers().len()
            );
            checked += 1;
        });
        assert!(checked > 2_000, "{checked} choices checked");
    }
}
