//! Pull-based scheduling as Hiku does it, bound at arrival: an invocation goes to a worker whose
//! sandbox of its function is free for it, the least loaded such worker; if there is none, to the
//! least-connected worker, where it starts cold.
//!
//! Akbari and Hauswirth, "Hiku: Pull-Based Scheduling for Serverless Computing", CCGrid 2025
//! (arXiv 2502.15534), built for OpenLambda (github.com/saman-akbari/hiku-scheduler,
//! `src/balancer/pull_based.go`). Hiku decouples choosing a worker from assigning work: when a
//! worker finishes a request, its sandbox, idle again, enqueues the worker in that function's idle
//! queue, a priority queue ordered by the worker's open connections (requests in flight), and an
//! evicted sandbox leaves it. An arriving request takes the head of its function's queue, the least
//! loaded worker with an idle sandbox of the function; only if the queue is empty does it go to the
//! worker with the fewest connections (least connections, at random among ties). Against
//! hash-based scheduling (consistent hashing with bounded loads in Hiku's code) the paper reports
//! 14.9% lower latency and cold starts down from 43% to 30%.
//!
//! This simulator binds each invocation to a worker when it arrives, so the policy is the
//! push-equivalent of Hiku's pull queues: instead of keeping the queues it reads them off the
//! platform. The workers Hiku's queue for a function holds are those with a reusable sandbox of it
//! (idle, paused, or running below its concurrency limit, which is a sandbox that could take the
//! request now), and popping the queue is taking the least loaded of them. The choice is the same,
//! without the queue's bookkeeping and without stale entries.
//!
//! Ties, which Hiku's heap breaks arbitrarily: among equally loaded workers with a reusable
//! sandbox, the one whose sandbox (the one the invocation would take) was used last, which is the
//! worker that pulled most recently, then the lowest id. Without a reusable sandbox anywhere: the
//! fewest invocations in flight, then the most free memory (free, not reclaimable: a cold start
//! there evicts nothing), then the lowest id, instead of Hiku's random tie-break.
//!
//! Parameter `prefer` (default `least-loaded`): the order among workers with a reusable sandbox.
//! `least-loaded` is Hiku's. `most-recent` takes the worker whose reusable sandbox was used last
//! (largest `last_used`), then the fewest invocations in flight, then the lowest id: the reading of
//! "the worker that pulled it" as the most recently idle sandbox, which favours the warmest sandbox
//! over balance.
//!
//! Cost: `least-loaded` finds the lowest load level holding a warm worker through the platform's
//! bitsets (a few word operations per level) and looks up the sandbox of each warm worker on that
//! level; `most-recent` looks up the sandbox of every warm worker; the fallback visits the workers
//! on the lowest load level. O(workers) at worst, no allocation.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};
use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

use super::bits::{min_warm_load, ones_of_both};

/// Which worker with a reusable sandbox of the function the pull policy prefers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullPreference {
    /// The fewest invocations in flight, as Hiku's idle queues order workers.
    #[default]
    LeastLoaded,
    /// The sandbox used last.
    MostRecent,
}

impl PullPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            PullPreference::LeastLoaded => "least-loaded",
            PullPreference::MostRecent => "most-recent",
        }
    }
}

/// Hiku's pull-based placement, bound at arrival.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pull {
    prefer: PullPreference,
}

impl Pull {
    pub fn new(prefer: PullPreference) -> Self {
        Pull { prefer }
    }
}

/// When the sandbox `function` would reuse on `worker` was last used.
fn last_used(function: FunctionId, worker: WorkerId, platform: &Platform) -> Time {
    platform
        .reusable_on(function, worker)
        .map_or(0, |sb| platform.sandbox(sb).last_used)
}

/// The least loaded worker with a reusable sandbox of `function`; among equals the one whose
/// sandbox was used last, then the lowest id.
fn least_loaded_warm(function: FunctionId, platform: &Platform) -> Option<WorkerId> {
    let load = min_warm_load(function, platform)?;
    ones_of_both(platform.load_mask(load), platform.reusable_mask(function))
        .map(|w| (last_used(function, w, platform), Reverse(w)))
        .max()
        .map(|(_, Reverse(w))| w)
}

/// The worker whose reusable sandbox of `function` was used last; among equals the least loaded,
/// then the lowest id.
fn most_recent_warm(function: FunctionId, platform: &Platform) -> Option<WorkerId> {
    let loads = platform.in_flight_all();
    platform
        .workers_with_reusable(function)
        .map(|w| {
            let t = last_used(function, w, platform);
            (t, Reverse(loads[w.index()]), Reverse(w))
        })
        .max()
        .map(|(_, _, Reverse(w))| w)
}

/// Least connections: the fewest invocations in flight, then the most free memory, then the
/// lowest id.
fn least_connected(platform: &Platform) -> WorkerId {
    let level = platform.load_mask(platform.min_load());
    ones_of_both(level, level)
        .map(|w| (platform.worker(w).memory.free_mb(), Reverse(w)))
        .max()
        .map(|(_, Reverse(w))| w)
        .expect("a cluster has at least one worker")
}

impl Scheduler for Pull {
    fn name(&self) -> &'static str {
        "pull"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let warm = match self.prefer {
            PullPreference::LeastLoaded => least_loaded_warm(function, platform),
            PullPreference::MostRecent => most_recent_warm(function, platform),
        };
        warm.unwrap_or_else(|| least_connected(platform))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{Cluster, FUNCTION_MB};
    use super::*;
    use sim::WorkerSpec;

    const F: FunctionId = FunctionId(0);

    #[test]
    fn goes_to_the_least_loaded_worker_that_pulled_the_function() {
        // Four workers; f1 supplies load, f0 is placed.
        let mut c = Cluster::new(2, &[4; 4]);
        let mut hiku = Pull::new(PullPreference::LeastLoaded);
        let mut recent = Pull::new(PullPreference::MostRecent);
        // t = 0: f0 idle on w1. t = 10: f0 idle on w3. t = 20: f0 idle on w2.
        c.warm(0, 1);
        c.advance(10);
        c.warm(0, 3);
        c.advance(10);
        c.warm(0, 2);
        // In flight: w0 0, w1 2, w2 1, w3 1.
        c.load(1, 1, 2);
        c.load(1, 2, 1);
        c.load(1, 3, 1);
        assert_eq!(c.platform().in_flight_all(), [0, 2, 1, 1]);
        // Hiku: of the warm workers w1 (2), w2 (1), w3 (1), the least loaded are w2 and w3; the
        // tie goes to the sandbox used last: w2's (t = 20) over w3's (t = 10). w0, less loaded
        // but cold, is not considered.
        assert_eq!(hiku.select(c.now(), F, c.platform()), WorkerId(2));
        // Most recent: w2's sandbox (t = 20) is the latest.
        assert_eq!(recent.select(c.now(), F, c.platform()), WorkerId(2));
        // One more on w2: w3 (1) is now the least loaded warm worker; most-recent stays on w2.
        c.start(1, 2);
        assert_eq!(hiku.select(c.now(), F, c.platform()), WorkerId(3));
        assert_eq!(recent.select(c.now(), F, c.platform()), WorkerId(2));
        // t = 30: use w1's sandbox again (start and finish f0 on w1): w1 has the latest sandbox.
        // Most-recent moves to w1 although it carries 2; Hiku stays on w3.
        c.advance(10);
        c.warm(0, 1);
        assert_eq!(recent.select(c.now(), F, c.platform()), WorkerId(1));
        assert_eq!(hiku.select(c.now(), F, c.platform()), WorkerId(3));
    }

    #[test]
    fn ties_on_load_and_last_use_go_to_the_lower_id() {
        // w1 and w2 both got an idle f0 sandbox at t = 0 and carry nothing.
        let mut c = Cluster::new(1, &[4; 3]);
        c.warm(0, 2);
        c.warm(0, 1);
        for prefer in [PullPreference::LeastLoaded, PullPreference::MostRecent] {
            assert_eq!(Pull::new(prefer).select(0, F, c.platform()), WorkerId(1));
        }
    }

    #[test]
    fn without_a_warm_sandbox_goes_to_the_least_connected_worker_with_the_most_free_memory() {
        // Three workers with 1000 MB. f0 never ran. w0 has 1 in flight (f1); w1 and w2 none, but
        // w2 holds an idle f2 sandbox (100 MB), so w1 has more free memory.
        let spec = WorkerSpec {
            memory_mb: 1_000,
            cores: 4,
        };
        let mut c = Cluster::with_workers(3, &[spec; 3]);
        c.start(1, 0);
        c.warm(2, 2);
        let p = c.platform();
        assert_eq!(p.in_flight_all(), [1, 0, 0]);
        assert_eq!(
            p.worker(WorkerId(2)).memory.free_mb(),
            1_000 - u64::from(FUNCTION_MB)
        );
        // Least connected: w1 and w2 at 0; more free memory: w1.
        for prefer in [PullPreference::LeastLoaded, PullPreference::MostRecent] {
            assert_eq!(Pull::new(prefer).select(0, F, p), WorkerId(1));
        }
        // With the same free memory (an idle f2 sandbox on w1 too), the lower id: w1 still.
        c.warm(2, 1);
        assert_eq!(Pull::default().select(0, F, c.platform()), WorkerId(1));
        // Load w1: w2 is alone at 0.
        c.start(1, 1);
        assert_eq!(Pull::default().select(0, F, c.platform()), WorkerId(2));
    }

    #[test]
    fn a_running_sandbox_with_room_counts_as_pulled() {
        // Sandboxes run 2 invocations at once. f0 runs on w1, in a sandbox with room for one
        // more: Hiku's queue would hold w1 (a request released there or not, the sandbox can take
        // one), so f0 goes to w1 although w0 carries nothing.
        let spec = WorkerSpec {
            memory_mb: 10_000,
            cores: 4,
        };
        let mut c = Cluster::with_concurrency(1, &[spec; 2], 2);
        c.start(0, 1);
        assert!(c.platform().has_reusable(F, WorkerId(1)));
        assert_eq!(Pull::default().select(0, F, c.platform()), WorkerId(1));
        // A second invocation fills that sandbox: nothing is reusable, least connected is w0.
        c.start(0, 1);
        assert!(!c.platform().has_reusable(F, WorkerId(1)));
        assert_eq!(Pull::default().select(0, F, c.platform()), WorkerId(0));
    }
}
