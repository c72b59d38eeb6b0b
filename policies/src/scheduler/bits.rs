//! Helpers for the load-aware schedulers over the platform's worker bitsets: per function, the
//! workers holding a reusable sandbox ([`Platform::reusable_mask`]); per load level, the workers
//! with exactly that many invocations in flight ([`Platform::load_mask`]). Bit `w % 64` of word
//! `w / 64` stands for worker `w`. A few word operations answer what a scan of every worker would.

use sim::{Platform, WorkerId};
use workloads::FunctionId;

/// The lowest worker id in `mask`.
pub(super) fn lowest(mask: &[u64]) -> Option<WorkerId> {
    mask.iter()
        .enumerate()
        .find(|&(_, &word)| word != 0)
        .map(|(i, &word)| WorkerId(i as u32 * 64 + word.trailing_zeros()))
}

/// The lowest worker id in both `a` and `b`.
pub(super) fn lowest_of_both(a: &[u64], b: &[u64]) -> Option<WorkerId> {
    a.iter()
        .zip(b)
        .enumerate()
        .find(|&(_, (&x, &y))| x & y != 0)
        .map(|(i, (&x, &y))| WorkerId(i as u32 * 64 + (x & y).trailing_zeros()))
}

/// The workers in both `a` and `b`, in id order.
pub(super) fn ones_of_both<'a>(a: &'a [u64], b: &'a [u64]) -> impl Iterator<Item = WorkerId> + 'a {
    a.iter().zip(b).enumerate().flat_map(|(i, (&x, &y))| {
        let mut bits = x & y;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                WorkerId(i as u32 * 64 + b)
            })
        })
    })
}

/// Whether worker `w` is in `mask`.
pub(super) fn contains(mask: &[u64], w: usize) -> bool {
    mask.get(w / 64)
        .is_some_and(|&word| word & (1u64 << (w % 64)) != 0)
}

/// Load levels searched through the bitsets before falling back to a scan of the warm workers:
/// the search costs a few word operations per level, the scan one step per warm worker.
const LEVELS_SEARCHED: u32 = 32;

/// The fewest invocations in flight on any worker holding a reusable sandbox of `function`, if
/// one does. Walks load levels upwards from the lowest occupied one and intersects each with the
/// function's warm workers; only when every warm worker is loaded far above the least loaded
/// worker does it scan them.
pub(super) fn min_warm_load(function: FunctionId, platform: &Platform) -> Option<u32> {
    let warm = platform.reusable_mask(function);
    if warm.iter().all(|&w| w == 0) {
        return None;
    }
    let lowest = platform.min_load();
    let end = platform
        .load_levels()
        .min(lowest.saturating_add(LEVELS_SEARCHED));
    for load in lowest..end {
        let level = platform.load_mask(load);
        if level.iter().zip(warm).any(|(&a, &b)| a & b != 0) {
            return Some(load);
        }
    }
    let loads = platform.in_flight_all();
    platform
        .workers_with_reusable(function)
        .map(|w| loads[w.index()])
        .min()
}

/// Least loaded with warm sandboxes as the tie-break: among the workers with the fewest
/// invocations in flight, one holding a reusable sandbox of `function`, else the lowest id.
pub(super) fn least_loaded_then_warm(function: FunctionId, platform: &Platform) -> WorkerId {
    let level = platform.load_mask(platform.min_load());
    lowest_of_both(level, platform.reusable_mask(function))
        .or_else(|| lowest(level))
        .expect("a cluster has at least one worker")
}

/// SplitMix64's output function (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA'14): a fixed bijective 64-bit mixer, stable across platforms and releases.
pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A consistent-hashing ring: `vnodes` points per worker at SplitMix64 of (worker, replica), in
/// increasing order, each owned by its worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Ring {
    pub(super) points: Vec<u64>,
    pub(super) owners: Vec<u32>,
}

impl Ring {
    pub(super) fn new(workers: u32, vnodes: u32) -> Self {
        let mut ring: Vec<(u64, u32)> = (0..workers)
            .flat_map(|w| {
                (0..vnodes).map(move |r| (splitmix64((u64::from(w) << 32) | u64::from(r)), w))
            })
            .collect();
        ring.sort_unstable();
        Ring {
            points: ring.iter().map(|&(p, _)| p).collect(),
            owners: ring.iter().map(|&(_, w)| w).collect(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The owners of the points from the first at or after `key` clockwise, once around.
    pub(super) fn clockwise(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        let start = self.points.partition_point(|&p| p < key);
        let (before, after) = self.owners.split_at(start);
        after.iter().chain(before).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_helpers_find_workers_across_words() {
        // Workers 3 and 70 in `a`; 70 and 100 in `b`: only 70 is in both.
        let a = [1u64 << 3, 1u64 << 6];
        let b = [0, (1u64 << 6) | (1u64 << 36)];
        assert_eq!(lowest(&a), Some(WorkerId(3)));
        assert_eq!(lowest(&[0, 0]), None);
        assert_eq!(lowest_of_both(&a, &b), Some(WorkerId(70)));
        assert_eq!(
            ones_of_both(&b, &b).collect::<Vec<_>>(),
            [WorkerId(70), WorkerId(100)]
        );
        assert!(contains(&b, 100) && !contains(&b, 99) && !contains(&b, 500));
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // SplitMix64 seeded with 0 outputs mix(0), mix(golden), mix(2 golden), ...
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(0x9e37_79b9_7f4a_7c15), 0x6e78_9e6a_a1b9_65f4);
    }
}
