//! Consistent hashing with bounded loads: a function's invocations go to the first worker
//! clockwise from the function's place on a hash ring, skipping workers that are at capacity.
//!
//! Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018, in the
//! form Vimeo deployed in HAProxy (`hash-balance-factor`): with load factor `c`, no worker takes
//! more than `ceil(c * m / n)` of the `m` requests in flight (counting the new one) over `n`
//! workers, so a popular function spills onto its ring neighbours instead of overloading its home,
//! while every function keeps a stable, short list of workers that hold its sandboxes warm.
//! Hiku's code (Akbari and Hauswirth, CCGrid'25) has it as the locality-aware baseline.
//!
//! The ring has `vnodes` points per worker; the point of replica `r` of worker `w` is
//! SplitMix64 of `(w << 32) | r`, so the ring depends only on the number of workers. A function's
//! place is SplitMix64 of its name's hash ([`sim::platform::FunctionInfo::name_hash`]): FNV-1a
//! ends with a multiplication that leaves names differing in their last byte (`f1`, `f2`, ...)
//! close together in the high bits, which would put them all on one arc of the ring; the mixer
//! spreads them. Both are fixed functions, so placement is deterministic and survives sampling or
//! reordering the trace.
//!
//! An invocation goes to the owner of the first ring point at or after the function's place
//! (wrapping past the top), or of the next point after that, and so on, whose worker has fewer than
//! `ceil(c * (in flight + 1) / workers)` invocations in flight. Such a worker always exists (if
//! every worker held at least that many, more than the total would be in flight), so the walk ends
//! within one turn of the ring; under the bound at most `1/c` of the workers are full, so it
//! usually ends after a few points. Ties cannot arise: the mixer is a bijection, so no two points
//! share a place, and a function placed exactly on a point starts there.
//!
//! Parameters: `vnodes` (default 100, from 1 to 10,000) and the load factor `c` (default 1.25, at
//! least 1; `c = 1` balances perfectly and gives up the most locality, `c = inf` is plain
//! consistent hashing). The capacity is computed in `f64`. The ring is built on the first call,
//! when the number of workers is known; after that each call costs a sum of the workers' in-flight
//! counts, a binary search of the ring and the walk, and allocates nothing.

use sim::{Platform, Scheduler, WorkerId};
use workloads::{FunctionId, Time};

use super::bits::{Ring, splitmix64};

/// Consistent hashing with bounded loads over a ring of virtual nodes.
#[derive(Clone, Debug)]
pub struct ConsistentHash {
    vnodes: u32,
    c: f64,
    ring: Ring,
}

impl ConsistentHash {
    pub fn new(vnodes: u32, c: f64) -> Self {
        ConsistentHash {
            vnodes: vnodes.max(1),
            c,
            ring: Ring::default(),
        }
    }

    /// The first worker clockwise from `key` with fewer than `capacity` invocations in flight,
    /// else the first clockwise.
    fn walk(&self, key: u64, loads: &[u32], capacity: u64) -> WorkerId {
        self.ring
            .clockwise(key)
            .find(|&w| u64::from(loads[w as usize]) < capacity)
            .or_else(|| self.ring.clockwise(key).next())
            .map(WorkerId)
            .expect("the ring has points")
    }
}

/// `ceil(c * (in_flight + 1) / workers)`, saturating (so `c = inf` means no bound).
fn capacity(c: f64, in_flight: u64, workers: usize) -> u64 {
    let cap = (c * (in_flight + 1) as f64 / workers as f64).ceil();
    // `as` saturates: an infinite capacity becomes u64::MAX.
    cap as u64
}

impl Scheduler for ConsistentHash {
    fn name(&self) -> &'static str {
        "consistent-hash"
    }

    fn select(&mut self, _now: Time, function: FunctionId, platform: &Platform) -> WorkerId {
        let workers = platform.workers().len();
        if self.ring.is_empty() {
            self.ring = Ring::new(workers as u32, self.vnodes);
        }
        let loads = platform.in_flight_all();
        let total: u64 = loads.iter().map(|&l| u64::from(l)).sum();
        let key = splitmix64(platform.function(function).name_hash);
        self.walk(key, loads, capacity(self.c, total, workers))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Cluster;
    use super::*;

    /// A hand-made ring: w0 at 100 and 400, w1 at 200, w2 at 300.
    fn small_ring() -> ConsistentHash {
        ConsistentHash {
            vnodes: 2,
            c: 1.25,
            ring: Ring {
                points: vec![100, 200, 300, 400],
                owners: vec![0, 1, 2, 0],
            },
        }
    }

    #[test]
    fn capacity_is_the_ceiling_of_c_times_the_mean_load_with_the_new_invocation() {
        // c = 1.25, 7 in flight on 3 workers: 1.25 * 8 / 3 = 3.33, so 4.
        assert_eq!(capacity(1.25, 7, 3), 4);
        // Exactly integral: 1.25 * 8 / 10 = 1.0, so 1, not 2.
        assert_eq!(capacity(1.25, 7, 10), 1);
        // Nothing in flight: 1.25 * 1 / 4 = 0.31, so 1: an idle cluster takes anything.
        assert_eq!(capacity(1.25, 0, 4), 1);
        // c = 1: 12 / 4 = 3.
        assert_eq!(capacity(1.0, 11, 4), 3);
        assert_eq!(capacity(f64::INFINITY, 11, 4), u64::MAX);
    }

    #[test]
    fn walks_clockwise_to_the_first_worker_below_capacity() {
        let ring = small_ring();
        // Capacity 2 throughout: a worker with 2 or more in flight is full.
        let cap = 2;
        // Key 150: the first point at or after it is 200 (w1), which has room.
        assert_eq!(ring.walk(150, &[0, 0, 0], cap), WorkerId(1));
        // Key exactly on a point (200) starts at that point: w1.
        assert_eq!(ring.walk(200, &[0, 0, 0], cap), WorkerId(1));
        // Key 201: point 300, w2.
        assert_eq!(ring.walk(201, &[0, 0, 0], cap), WorkerId(2));
        // Key 150 with w1 full (2 in flight): skip to 300, w2.
        assert_eq!(ring.walk(150, &[0, 2, 0], cap), WorkerId(2));
        // ... and with w2 full too: 400, w0.
        assert_eq!(ring.walk(150, &[0, 2, 3], cap), WorkerId(0));
        // Key 450 is past the last point: wrap to 100, w0.
        assert_eq!(ring.walk(450, &[0, 0, 0], cap), WorkerId(0));
        // Key 450 with w0 full: wrap to 100 (w0, full), then 200, w1.
        assert_eq!(ring.walk(450, &[2, 0, 0], cap), WorkerId(1));
        // Key 0 is before the first point: 100, w0.
        assert_eq!(ring.walk(0, &[0, 0, 0], cap), WorkerId(0));
    }

    #[test]
    fn ring_has_vnodes_points_per_worker_in_order() {
        let mut s = ConsistentHash::new(100, 1.25);
        s.ring = Ring::new(7, s.vnodes);
        assert_eq!(s.ring.points.len(), 700);
        assert!(s.ring.points.windows(2).all(|p| p[0] < p[1]));
        for w in 0..7 {
            assert_eq!(s.ring.owners.iter().filter(|&&o| o == w).count(), 100);
        }
        // The point of worker 3's replica 5 is where the mixer puts (3 << 32) | 5.
        let p = splitmix64((3 << 32) | 5);
        let i = s.ring.points.binary_search(&p).unwrap();
        assert_eq!(s.ring.owners[i], 3);
    }

    #[test]
    fn a_function_stays_home_until_its_home_is_full_then_moves_to_its_ring_successor() {
        let mut c = Cluster::new(2, &[4, 4, 4, 4]);
        let mut s = ConsistentHash::new(100, 1.25);
        let f = FunctionId(0);
        // Idle cluster: capacity ceil(1.25 * 1 / 4) = 1, every worker has room: the home is the
        // owner of the first point at or after the function's place.
        let home = s.select(0, f, c.platform());
        let key = splitmix64(c.platform().function(f).name_hash);
        assert_eq!(home, s.walk(key, &[0; 4], 1));
        // The same answer every time: no randomness.
        assert_eq!(s.select(0, f, c.platform()), home);
        // Three invocations (of f1) on the home: capacity ceil(1.25 * 4 / 4) = 2 and the home has
        // 3, so f0 goes to the next distinct worker clockwise.
        c.load(1, home.0, 3);
        let next = s.select(0, f, c.platform());
        assert_ne!(next, home);
        let mut loads = [0u32; 4];
        loads[home.index()] = u32::MAX;
        assert_eq!(next, s.walk(key, &loads, 1));
        // With 1 more on `next` (4 in flight, capacity ceil(1.25 * 5 / 4) = 2), `next` still has
        // room.
        c.start(1, next.0);
        assert_eq!(s.select(0, f, c.platform()), next);
    }

    #[test]
    fn similar_names_spread_over_the_ring() {
        // f0..f99 differ only in their last bytes; with 10 workers each should be home to some.
        let c = Cluster::new(100, &[1; 10]);
        let mut s = ConsistentHash::new(100, 1.25);
        let mut homes = [0u32; 10];
        for f in 0..100 {
            homes[s.select(0, FunctionId(f), c.platform()).index()] += 1;
        }
        assert!(homes.iter().all(|&n| (2..=25).contains(&n)), "{homes:?}");
    }
}
