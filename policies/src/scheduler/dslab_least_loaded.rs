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
        // No worker's load is below the lowest in-flight count, and the scan below takes the
        // first worker with a token at that load the moment it meets it (a token beats no token,
        // a lower load beats a higher one) and then only a later warm worker with that load can
        // replace it. So when such a worker exists, the workers before it cannot change the
        // outcome, and it is found in the bitsets instead of by the scan.
        if let Some(first) = first_ready_at_floor(platform, function, need) {
            return if platform.has_reusable(function, first) {
                first
            } else {
                first_warm_at_floor(platform, function, first.index() + 1).unwrap_or(first)
            };
        }
        let mut best = Choice::NONE;
        for w in platform.workers() {
            let warm = platform.has_reusable(function, w.id);
            let token = u8::from(warm || w.memory.free_mb() >= need);
            let load = u64::from(platform.in_flight(w.id)) + w.queue_len() as u64;
            if token > best.token || load < best.load {
                best = Choice {
                    worker: w.id,
                    token,
                    load,
                    warm,
                };
            } else if token == best.token && load == best.load && !best.warm && warm {
                (best.worker, best.warm) = (w.id, true);
            }
        }
        best.worker
    }
}

/// The first worker, in id order, that has a token (a warm sandbox of `function`, or `need` MB
/// free) and the lowest load: the lowest number of invocations in flight and nothing queued.
fn first_ready_at_floor(platform: &Platform, function: FunctionId, need: u64) -> Option<WorkerId> {
    let warm = platform.reusable_mask(function);
    let floor = platform.load_mask(platform.min_load());
    for (i, (&a, &b)) in warm.iter().zip(floor).enumerate() {
        let mut bits = b;
        while bits != 0 {
            let bit = bits & bits.wrapping_neg();
            let w = WorkerId((i * 64) as u32 + bits.trailing_zeros());
            let worker = platform.worker(w);
            if (a & bit != 0 || worker.memory.free_mb() >= need) && worker.queue_len() == 0 {
                return Some(w);
            }
            bits ^= bit;
        }
    }
    None
}

/// The scan's choice so far.
#[derive(Clone, Copy)]
struct Choice {
    worker: WorkerId,
    token: u8,
    load: u64,
    warm: bool,
}

impl Choice {
    const NONE: Choice = Choice {
        worker: WorkerId(0),
        token: 0,
        load: u64::MAX,
        warm: false,
    };
}

/// The first worker from `from` on with a reusable sandbox of `function`, the lowest number of
/// invocations in flight and nothing queued.
fn first_warm_at_floor(platform: &Platform, function: FunctionId, from: usize) -> Option<WorkerId> {
    let warm = platform.reusable_mask(function);
    let floor = platform.load_mask(platform.min_load());
    let first_word = from / 64;
    for (i, (&a, &b)) in warm.iter().zip(floor).enumerate().skip(first_word) {
        let mut bits = a & b;
        if i == first_word {
            bits &= u64::MAX << (from % 64);
        }
        while bits != 0 {
            let w = WorkerId((i * 64) as u32 + bits.trailing_zeros());
            if platform.worker(w).queue_len() == 0 {
                return Some(w);
            }
            bits &= bits - 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::testkit::{Cluster, FUNCTION_MB, random_clusters, worker_of as worker};

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

    /// DSLab's scan as it reads, over every worker.
    fn scan(function: FunctionId, platform: &Platform) -> WorkerId {
        let need = u64::from(platform.function(function).memory_mb);
        let (mut best, mut best_token, mut best_load, mut best_warm) =
            (WorkerId(0), 0u8, u64::MAX, false);
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

    #[test]
    fn the_shortcut_chooses_what_the_full_scan_chooses() {
        let mut checked = 0;
        random_clusters(5, 60, false, |round, c, _| {
            for f in 0..4 {
                let f = FunctionId(f);
                assert_eq!(
                    DslabLeastLoaded.select(0, f, c.platform()),
                    scan(f, c.platform()),
                    "round {round}, {} workers, {f:?}",
                    c.platform().workers().len()
                );
                checked += 1;
            }
        });
        assert_eq!(checked, 240);
    }
}
