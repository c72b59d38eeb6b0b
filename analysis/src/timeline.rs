//! The cluster's memory over time, kept in bounded memory for a run of any length.
//!
//! Memory states are piecewise constant: a worker's state holds from one report to the next.
//! [`Timeline`] integrates every worker's state into buckets of equal width (MB·µs per bucket
//! and kind of use, in exact integers). It starts with 10 ms buckets; when the run outgrows
//! [`MAX_BUCKETS`] of them, neighbouring buckets are merged in pairs and the width doubles, so
//! a run of any span ends with between 512 and 1,024 buckets and the sums stay exact.

use sim::record::MemoryState;
use workloads::Time;
use workloads::time::MICROS_PER_SEC;

/// Most buckets a timeline keeps.
pub const MAX_BUCKETS: usize = 1024;

/// Width of the first buckets, in microseconds.
const FIRST_WIDTH: Time = 10_000;

/// The kinds of memory a timeline integrates, in the order of a bucket's sums.
const KINDS: usize = 5;

/// Memory in use over time, summed over workers.
#[derive(Clone, Debug)]
pub struct Timeline {
    width: Time,
    /// The bucket the last interval ended in, `[cursor_start, cursor_end)`, so that the next
    /// interval, which usually starts where that one ended and ends in the same bucket, finds it
    /// without a division. Empty when unknown.
    cursor: usize,
    cursor_start: Time,
    cursor_end: Time,
    /// Per bucket: MB·µs of busy, idle, paused and zygote memory, and of capacity.
    buckets: Vec<[u128; KINDS]>,
}

/// Mean memory, summed over workers, over `[start_s, end_s)`, in MB.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryPoint {
    pub start_s: f64,
    pub end_s: f64,
    pub busy_mb: f64,
    pub idle_mb: f64,
    pub paused_mb: f64,
    pub zygote_mb: f64,
    pub capacity_mb: f64,
}

impl MemoryPoint {
    /// Busy, idle, paused and zygote memory together.
    pub fn used_mb(&self) -> f64 {
        self.busy_mb + self.idle_mb + self.paused_mb + self.zygote_mb
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Self {
        Timeline {
            width: FIRST_WIDTH,
            cursor: 0,
            cursor_start: 0,
            cursor_end: 0,
            buckets: Vec::new(),
        }
    }

    /// Width of each bucket now, in microseconds.
    pub fn width(&self) -> Time {
        self.width
    }

    /// MB·µs of busy, idle, paused and zygote memory, and of capacity, over the whole timeline.
    pub fn totals(&self) -> [u128; KINDS] {
        let mut sums = [0; KINDS];
        for bucket in &self.buckets {
            for (sum, v) in sums.iter_mut().zip(bucket) {
                *sum += v;
            }
        }
        sums
    }

    /// Credits `state` for `[from, to)`.
    #[inline]
    pub fn add(&mut self, from: Time, to: Time, state: &MemoryState) {
        if to <= from {
            return;
        }
        // `to.div_ceil(width) > MAX_BUCKETS`, without a division.
        while to > self.width * MAX_BUCKETS as Time {
            self.coarsen();
        }
        let mb = [
            state.busy_mb,
            state.idle_mb,
            state.paused_mb,
            state.zygote_mb,
            state.capacity_mb,
        ]
        .map(u128::from);
        if mb.iter().all(|&v| v == 0) {
            return;
        }
        if from >= self.cursor_start && to <= self.cursor_end {
            let lasted = u128::from(to - from);
            for (sum, v) in self.buckets[self.cursor].iter_mut().zip(mb) {
                *sum += v * lasted;
            }
            return;
        }
        let first = (from / self.width) as usize;
        let last = ((to - 1) / self.width) as usize;
        if self.buckets.len() <= last {
            self.buckets.resize(last + 1, [0; KINDS]);
        }
        self.cursor = last;
        self.cursor_start = last as Time * self.width;
        self.cursor_end = self.cursor_start + self.width;
        let mut t = from;
        for b in first..=last {
            let end = ((b as Time + 1) * self.width).min(to);
            let lasted = u128::from(end - t);
            for (sum, v) in self.buckets[b].iter_mut().zip(mb) {
                *sum += v * lasted;
            }
            t = end;
        }
    }

    fn coarsen(&mut self) {
        self.buckets = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut sum = pair[0];
                if let Some(second) = pair.get(1) {
                    for (s, v) in sum.iter_mut().zip(second) {
                        *s += v;
                    }
                }
                sum
            })
            .collect();
        self.width *= 2;
        self.cursor_end = 0;
    }

    /// One point per bucket up to `span` (the last one cut at `span`): the mean of each kind of
    /// memory over the bucket.
    pub fn points(&self, span: Time) -> Vec<MemoryPoint> {
        let n = span.div_ceil(self.width) as usize;
        (0..n)
            .map(|b| {
                let start = b as Time * self.width;
                let end = (start + self.width).min(span);
                let sums = self.buckets.get(b).copied().unwrap_or([0; KINDS]);
                point(start, end, sums.map(|s| s as f64))
            })
            .collect()
    }

    /// `n` points over equal parts of `[0, span)`. A bucket that straddles two parts is shared
    /// between them in proportion to its time in each, as if its memory had been constant
    /// within it; with `n` at most `MAX_BUCKETS / 2`, each part spans at least one whole bucket.
    pub fn resample(&self, span: Time, n: usize) -> Vec<MemoryPoint> {
        if n == 0 || span == 0 {
            return Vec::new();
        }
        let mut sums = vec![[0f64; KINDS]; n];
        for (b, bucket) in self.buckets.iter().enumerate() {
            let (start, end) = (b as Time * self.width, ((b as Time + 1) * self.width));
            let end = end.min(span);
            if start >= end {
                break;
            }
            // Parts this bucket overlaps, in integer arithmetic on the part boundaries.
            let first = (u128::from(start) * n as u128 / u128::from(span)) as usize;
            let mut part = first;
            while part < n {
                let p_start = (span as u128 * part as u128 / n as u128) as Time;
                let p_end = (span as u128 * (part as u128 + 1) / n as u128) as Time;
                let overlap = end.min(p_end).saturating_sub(start.max(p_start));
                if p_start >= end {
                    break;
                }
                let share = overlap as f64 / (end - start) as f64;
                for (s, v) in sums[part].iter_mut().zip(bucket) {
                    *s += *v as f64 * share;
                }
                part += 1;
            }
        }
        sums.into_iter()
            .enumerate()
            .map(|(part, s)| {
                let start = (span as u128 * part as u128 / n as u128) as Time;
                let end = (span as u128 * (part as u128 + 1) / n as u128) as Time;
                point(start, end, s)
            })
            .collect()
    }
}

fn point(start: Time, end: Time, sums: [f64; KINDS]) -> MemoryPoint {
    let lasted = (end - start).max(1) as f64;
    let mean = |i: usize| sums[i] / lasted;
    MemoryPoint {
        start_s: start as f64 / MICROS_PER_SEC as f64,
        end_s: end as f64 / MICROS_PER_SEC as f64,
        busy_mb: mean(0),
        idle_mb: mean(1),
        paused_mb: mean(2),
        zygote_mb: mean(3),
        capacity_mb: mean(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(busy: u64, idle: u64) -> MemoryState {
        MemoryState {
            capacity_mb: 1000,
            busy_mb: busy,
            idle_mb: idle,
            paused_mb: 0,
            zygote_mb: 0,
        }
    }

    #[test]
    fn buckets_hold_time_weighted_means() {
        let mut t = Timeline::new();
        // 100 MB busy for the first 5 ms, 300 MB for the next 10 ms (buckets are 10 ms).
        t.add(0, 5_000, &state(100, 0));
        t.add(5_000, 15_000, &state(300, 20));
        let p = t.points(20_000);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].busy_mb, 200.0);
        assert_eq!(p[0].idle_mb, 10.0);
        assert_eq!(p[0].capacity_mb, 1000.0);
        // The second bucket: 300 MB for 5 of its 10 ms.
        assert_eq!(p[1].busy_mb, 150.0);
        assert_eq!((p[1].start_s, p[1].end_s), (0.01, 0.02));
    }

    #[test]
    fn long_runs_coarsen_without_losing_memory_time() {
        let mut t = Timeline::new();
        let hour = 3_600 * MICROS_PER_SEC;
        // Two workers: one at 100 MB all hour, one at 50 MB for the first half.
        t.add(0, hour, &state(100, 0));
        t.add(0, hour / 2, &state(50, 0));
        assert!(t.buckets.len() <= MAX_BUCKETS);
        assert!(t.buckets.len() > MAX_BUCKETS / 2);
        let points = t.points(hour);
        let total: f64 = points
            .iter()
            .map(|p| p.busy_mb * (p.end_s - p.start_s))
            .sum();
        assert!(
            (total - (100.0 * 3_600.0 + 50.0 * 1_800.0)).abs() < 1e-6,
            "{total}"
        );
        // The half-hour falls inside a 5.12 s bucket, which resampling shares in proportion to
        // time: 50 MB over 2.88 s of it is spread over the whole bucket, 0.04 MB of the mean.
        let halves = t.resample(hour, 2);
        assert!((halves[0].busy_mb - 150.0).abs() < 0.05, "{halves:?}");
        assert!((halves[1].busy_mb - 100.0).abs() < 0.05, "{halves:?}");
        assert_eq!(halves[1].end_s, 3_600.0);
    }

    #[test]
    fn resampling_shares_a_straddling_bucket() {
        let mut t = Timeline::new();
        // 30 ms in three buckets of 10 ms: 0, 90 and 30 MB.
        t.add(10_000, 20_000, &state(90, 0));
        t.add(20_000, 30_000, &state(30, 0));
        // Two parts of 15 ms: the middle bucket is split in half.
        let p = t.resample(30_000, 2);
        assert!((p[0].busy_mb - 45.0 * 10.0 / 15.0).abs() < 1e-9, "{p:?}");
        assert!(
            (p[1].busy_mb - (45.0 * 10.0 + 300.0) / 15.0).abs() < 1e-9,
            "{p:?}"
        );
        assert!(t.resample(0, 4).is_empty());
    }
}
