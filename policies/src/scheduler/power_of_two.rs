//! Power of d choices: each invocation samples `d` distinct workers uniformly at random and goes
//! to the one with the fewest invocations in flight.
//!
//! Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing", IEEE TPDS 12(10), 2001
//! (after Azar, Broder, Karlin and Upfal, "Balanced Allocations", STOC'94): where one random
//! choice leaves the most loaded of n servers with Θ(log n / log log n) jobs, two choices cut it to
//! Θ(log log n), and each further choice helps only by a constant factor. Because it reads the
//! load of `d` workers rather than all of them, it is the placement rule of sampling schedulers
//! such as Sparrow (Ousterhout et al., SOSP'13) and of serverless balancers that cannot afford a
//! global view.
//!
//! Parameter `d` (default 2): the number of choices, at least 1 (which is random placement) and at
//! most the number of workers (which compares them all); the configuration checks both bounds, and
//! a larger `d` that reaches the policy anyway is taken as the number of workers.
//!
//! Ties on the in-flight count go to a sampled worker holding a reusable sandbox of the function
//! (one that could start it without a cold start), then to the lower worker id. The sample comes
//! from a generator seeded with the scenario's seed, so runs are reproducible. It is a partial
//! Fisher–Yates shuffle of a permutation of the workers kept between calls: `d` draws and swaps
//! per invocation, whatever the cluster size, and no allocation after the first call.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

/// The least loaded of `d` workers sampled at random.
#[derive(Clone, Debug)]
pub struct PowerOfD {
    d: u32,
    rng: Xoshiro256PlusPlus,
    /// A permutation of the worker ids; each call shuffles its first `d` places.
    order: Vec<u32>,
}

impl PowerOfD {
    pub fn new(d: u32, seed: u64) -> Self {
        PowerOfD {
            d,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            order: Vec::new(),
        }
    }

    /// Draws `d` distinct workers (all of them if there are no more than `d`) into the front of
    /// `order` and returns them.
    fn sample(&mut self, workers: usize) -> &[u32] {
        if self.order.len() != workers {
            self.order = (0..workers as u32).collect();
        }
        let d = (self.d.max(1) as usize).min(workers);
        for i in 0..d {
            let j = self.rng.random_range(i..workers);
            self.order.swap(i, j);
        }
        &self.order[..d]
    }
}

/// The candidate with the fewest invocations in flight; on a tie one holding a reusable sandbox
/// of `function`, then the lowest id.
fn least_loaded_of(
    candidates: &[u32],
    function: FunctionId,
    platform: &Platform,
) -> Option<WorkerId> {
    let loads = platform.in_flight_all();
    candidates
        .iter()
        .map(|&w| {
            let cold = !platform.has_reusable(function, WorkerId(w));
            (loads[w as usize], cold, w)
        })
        .min()
        .map(|(_, _, w)| WorkerId(w))
}

impl Scheduler for PowerOfD {
    fn name(&self) -> &'static str {
        "power-of-two"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let candidates = self.sample(platform.workers().len());
        least_loaded_of(candidates, function, platform).expect("a cluster has at least one worker")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Cluster;
    use super::*;

    /// Four workers. In flight: w0 2, w1 1, w2 1, w3 0. Function 0 has an idle sandbox on w2 and
    /// w3 (warming leaves them idle; the load comes from function 1, so the warm sandboxes stay
    /// idle).
    fn cluster() -> Cluster {
        let mut c = Cluster::new(2, &[4, 4, 4, 4]);
        c.warm(0, 2);
        c.warm(0, 3);
        c.load(1, 0, 2);
        c.load(1, 1, 1);
        c.load(1, 2, 1);
        c
    }

    #[test]
    fn picks_the_least_loaded_candidate_then_a_warm_one_then_the_lower_id() {
        let c = cluster();
        let p = c.platform();
        assert_eq!(p.in_flight_all(), [2, 1, 1, 0]);
        let f = FunctionId(0);
        let pick = |ws: &[u32]| least_loaded_of(ws, f, p).unwrap().0;
        // {w0: 2, w1: 1}: w1 has fewer in flight.
        assert_eq!(pick(&[0, 1]), 1);
        // {w0: 2, w3: 0}: w3, whatever the order of the sample.
        assert_eq!(pick(&[3, 0]), 3);
        // {w1: 1, w2: 1} tie on load; w2 holds a warm sandbox of f0, w1 none: w2.
        assert_eq!(pick(&[1, 2]), 2);
        assert_eq!(pick(&[2, 1]), 2);
        // For f1 neither w1 nor w2 has a reusable sandbox (both of f1's are running): the tie
        // goes to the lower id, w1.
        assert_eq!(least_loaded_of(&[2, 1], FunctionId(1), p).unwrap().0, 1);
        // All four: w3 is alone at load 0.
        assert_eq!(pick(&[0, 1, 2, 3]), 3);
    }

    #[test]
    fn with_d_equal_to_the_worker_count_it_is_least_loaded_over_all_workers() {
        let mut c = cluster();
        let mut s = PowerOfD::new(4, 1);
        // Least loaded is w3 (0 in flight), for any draw.
        for _ in 0..10 {
            assert_eq!(s.select(0, FunctionId(0), c.platform()), WorkerId(3));
        }
        // Put one invocation of f1 on w3: w1, w2 and w3 now tie at 1. For f0, w2 and w3 are warm
        // (w3's f0 sandbox is still idle; the new invocation got its own f1 sandbox): the lower id
        // of the warm ones is w2. For f1 nobody is warm: the lowest id, w1.
        c.start(1, 3);
        assert_eq!(c.platform().in_flight_all(), [2, 1, 1, 1]);
        assert_eq!(s.select(0, FunctionId(0), c.platform()), WorkerId(2));
        assert_eq!(s.select(0, FunctionId(1), c.platform()), WorkerId(1));
        // d larger than the cluster is taken as its size.
        let mut big = PowerOfD::new(9, 1);
        assert_eq!(big.select(0, FunctionId(1), c.platform()), WorkerId(1));
    }

    #[test]
    fn samples_are_distinct_uniform_and_reproducible() {
        let mut a = PowerOfD::new(2, 42);
        let mut b = PowerOfD::new(2, 42);
        let mut count = [0u32; 5];
        for _ in 0..50_000 {
            let s = a.sample(5).to_vec();
            assert_eq!(s, b.sample(5));
            assert_eq!(s.len(), 2);
            assert_ne!(s[0], s[1]);
            for w in s {
                count[w as usize] += 1;
            }
        }
        // Each worker is in a sample with probability 2/5: 20,000 of 50,000 expected, standard
        // deviation about 110.
        for n in count {
            assert!((19_400..=20_600).contains(&n), "{count:?}");
        }
        // Another seed gives another sequence.
        let mut c = PowerOfD::new(2, 43);
        let first: Vec<_> = (0..20).map(|_| c.sample(5).to_vec()).collect();
        let mut a = PowerOfD::new(2, 42);
        let again: Vec<_> = (0..20).map(|_| a.sample(5).to_vec()).collect();
        assert_ne!(first, again);
    }

    #[test]
    fn d_of_one_is_random_placement() {
        let c = cluster();
        let mut s = PowerOfD::new(1, 7);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[s.select(0, FunctionId(0), c.platform()).index()] = true;
        }
        // Even the most loaded worker, w0, is chosen sometimes.
        assert_eq!(seen, [true; 4]);
    }
}
