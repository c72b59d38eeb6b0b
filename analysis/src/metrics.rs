//! Streaming metrics of one run: counters, per-app cold-start counts, latency histograms and
//! integrated worker memory. Memory use is proportional to apps and workers, never to
//! invocations, so a trace of any length can be summarized.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Deserializer, Serialize};
use sim::WorkerId;
use sim::record::{
    DestroyReason, DropReason, FailReason, MemoryState, Outcome, Record, RecordSink, RunInfo,
    SandboxEvent, StartKind,
};
use workloads::Time;
use workloads::time::{MICROS_PER_MS, MICROS_PER_SEC};

use crate::timeline::{MemoryPoint, Timeline};

/// Everything a run's summary reports. Counts keyed by a reason or start kind list every reason
/// or kind, zeros included, so that the JSON schema does not depend on what happened in a run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Summary {
    /// Why the run ended before its last invocation, if it did (a real run stopped by a signal,
    /// e.g. `"SIGTERM"`): the summary then covers what had ended by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Simulated (or wall-clock) time from 0 to the end of the run, in seconds.
    pub span_s: f64,
    pub invocations: InvocationCounts,
    pub starts: StartCounts,
    pub cold_start_per_app: ColdStartPerApp,
    /// End-to-end latency (`end - arrival`) of completed invocations.
    pub latency_ms: LatencyStats,
    /// Startup delay (`start - arrival`) of started invocations.
    pub startup_delay_ms: LatencyStats,
    /// What each cold start cost: its startup delay less queueing (create + install + import +
    /// init).
    pub cold_start_ms: LatencyStats,
    pub phases_ms: PhaseStats,
    pub memory: MemoryStats,
    pub sandboxes: SandboxCounts,
    pub packages: PackageCounts,
}

/// Packages needed by cold starts and what the workers' install caches did.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PackageCounts {
    /// Packages cold starts found installed on their worker.
    pub install_hits: u64,
    /// Packages cold starts had to install.
    pub install_misses: u64,
    /// `install_hits / (install_hits + install_misses)`, 0 without packages.
    pub install_hit_ratio: f64,
    /// Bytes installed, in MB.
    pub installed_mb: f64,
    /// Packages removed from install caches to make room, and their size in MB.
    pub uninstalled: u64,
    pub uninstalled_mb: f64,
    /// Packages cold starts found imported in the zygote they forked from.
    pub import_hits: u64,
    /// Packages cold starts imported (in the sandbox or in zygotes created for them).
    pub import_misses: u64,
    /// `import_hits / (import_hits + import_misses)`, 0 without packages.
    pub import_hit_ratio: f64,
    /// Zygotes created, and destroyed to make room (not counting the end of the run).
    pub zygotes_created: u64,
    pub zygotes_evicted: u64,
}

/// What became of the invocations.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct InvocationCounts {
    /// Records seen, whatever their outcome.
    pub total: u64,
    pub completed: u64,
    pub dropped: u64,
    /// Keyed by [`DropReason::as_str`].
    #[serde(deserialize_with = "known_keys")]
    pub dropped_by_reason: BTreeMap<&'static str, u64>,
    pub failed: u64,
    /// Keyed by [`FailReason::as_str`].
    #[serde(deserialize_with = "known_keys")]
    pub failed_by_reason: BTreeMap<&'static str, u64>,
}

/// How started invocations got their sandbox.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StartCounts {
    /// Invocations that got a sandbox (completed or failed later).
    pub started: u64,
    /// Keyed by [`StartKind::as_str`].
    #[serde(deserialize_with = "known_keys")]
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Starts that paid for a new sandbox ([`StartKind::is_cold`]).
    pub cold: u64,
    /// `cold / started`, a fraction in [0, 1]; 0 when nothing started.
    pub cold_start_ratio: f64,
}

/// Distribution over apps of each app's cold-start percentage, as Serverless in the Wild
/// (Shahrad et al., ATC'20, Fig. 15) reports it. Only apps with at least one started invocation
/// have a percentage. Percentiles use the nearest-rank method over the sorted per-app values:
/// the p-th percentile of n values is the value of rank `ceil(p * n / 100)`, so it is always a
/// percentage that some app actually had.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ColdStartPerApp {
    /// Apps with at least one started invocation.
    pub apps: u64,
    pub p25_pct: f64,
    pub p50_pct: f64,
    /// The paper's headline number: 75% of apps had at most this percentage of cold starts.
    pub p75_pct: f64,
    pub p90_pct: f64,
    pub p99_pct: f64,
    /// Fraction in [0, 1] of those apps that never started cold.
    pub zero_cold_start_fraction: f64,
}

/// A latency distribution in milliseconds. Mean and max are exact; percentiles come from a
/// histogram with 3 significant digits (relative error at most 0.1%) and lie between the exact
/// min and max.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LatencyStats {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Where started invocations spent their time, per phase of [`sim::record::Phases`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PhaseStats {
    pub queue: PhaseStat,
    pub create: PhaseStat,
    pub install: PhaseStat,
    pub import: PhaseStat,
    pub init: PhaseStat,
    pub exec: PhaseStat,
}

/// Total and mean over started invocations of one phase, and its median and 99th percentile
/// over cold starts (where startup phases matter), in milliseconds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PhaseStat {
    pub total: f64,
    pub mean: f64,
    pub cold_p50: f64,
    pub cold_p99: f64,
}

/// Memory integrated over the run. Memory-time is in GB-s, with 1 GB = 1024 MB.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MemoryStats {
    /// Memory-time held by sandboxes that ran nothing: `idle_gb_s + paused_gb_s`.
    pub wasted_gb_s: f64,
    pub idle_gb_s: f64,
    pub paused_gb_s: f64,
    /// Memory-time held by zygotes (the import caches).
    pub zygote_gb_s: f64,
    /// Memory-time held by all sandboxes (busy, idle and paused) and zygotes.
    pub used_gb_s: f64,
    /// Largest memory any worker's zygotes held at once, in MB.
    pub max_worker_peak_zygote_mb: u64,
    /// Largest peak of any worker.
    pub max_worker_peak_used_mb: u64,
    /// Mean over workers of each worker's time-weighted mean.
    pub mean_worker_mean_used_mb: f64,
    pub workers: Vec<WorkerMemory>,
}

/// Memory of one worker over the run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WorkerMemory {
    pub worker: u32,
    pub capacity_mb: u64,
    /// Highest used memory of any reported state, even one that lasted no time.
    pub peak_used_mb: u64,
    /// Used memory averaged over the run's span.
    pub mean_used_mb: f64,
}

/// Sandbox life-cycle events.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SandboxCounts {
    pub created: u64,
    pub paused: u64,
    pub unpaused: u64,
    pub destroyed: u64,
    /// Keyed by [`DestroyReason::as_str`].
    #[serde(deserialize_with = "known_keys")]
    pub destroyed_by_reason: BTreeMap<&'static str, u64>,
}

/// Reads a map keyed by the names of start kinds, drop, failure or destroy reasons back into
/// the static names a [`Summary`] holds; any other key is an error.
fn known_keys<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<&'static str, u64>, D::Error> {
    let names = StartKind::ALL
        .iter()
        .map(|k| k.as_str())
        .chain(DropReason::ALL.iter().map(|r| r.as_str()))
        .chain(FailReason::ALL.iter().map(|r| r.as_str()))
        .chain(DestroyReason::ALL.iter().map(|r| r.as_str()));
    let names: Vec<&'static str> = names.collect();
    BTreeMap::<String, u64>::deserialize(d)?
        .into_iter()
        .map(|(key, n)| match names.iter().find(|&&name| name == key) {
            Some(&name) => Ok((name, n)),
            None => Err(serde::de::Error::custom(format!("unknown key {key:?}"))),
        })
        .collect()
}

/// A [`RecordSink`] that keeps streaming counters and histograms; [`Metrics::summary`] turns them
/// into a [`Summary`] at any point, usually after [`RecordSink::end`].
#[derive(Clone, Debug)]
pub struct Metrics {
    invocations: u64,
    completed: u64,
    dropped: [u64; DropReason::ALL.len()],
    failed: [u64; FailReason::ALL.len()],
    starts: [u64; StartKind::ALL.len()],
    apps: Vec<AppStarts>,
    latency: Distribution,
    startup_delay: Distribution,
    cold_start: Distribution,
    /// Each phase of cold starts (exec left out: it is not part of startup).
    cold_phases: [Distribution; 5],
    /// Microseconds per start kind and phase, in the order of [`PhaseStats`]' fields.
    kind_phase_us: [[u128; 6]; StartKind::ALL.len()],
    /// The cluster's memory over time: `cluster` (the sum of every worker's state) integrated up
    /// to `cluster_since`. Integrating the sum is exact, as integrating each worker would be, and
    /// takes one update per instant instead of one per worker.
    timeline: Timeline,
    cluster: MemoryState,
    cluster_since: Time,
    workers: Vec<WorkerAccumulator>,
    created: u64,
    install_hits: u64,
    install_misses: u64,
    installed_bytes: u64,
    uninstalled: u64,
    uninstalled_bytes: u64,
    import_hits: u64,
    import_misses: u64,
    zygotes_created: u64,
    zygotes_evicted: u64,
    paused: u64,
    unpaused: u64,
    destroyed: [u64; DestroyReason::ALL.len()],
    end: Option<Time>,
    /// Latest time seen in any call, the span when `end` never came.
    latest: Time,
}

#[derive(Clone, Copy, Debug, Default)]
struct AppStarts {
    started: u64,
    cold: u64,
}

/// A distribution of durations in µs, counted in the buckets of an HDR histogram of three
/// significant digits.
///
/// Recording a value is the hot path of every run (two or more per invocation), so the counts are
/// kept here, indexed as `hdrhistogram` indexes them, without the histogram's per-value range and
/// overflow checks; a [`Histogram`] is built from them when a percentile or the CDF is asked
/// for. It holds the same counts in the same buckets, and the same min and max, as one that
/// recorded every value itself, so it gives the same percentiles.
#[derive(Clone, Debug)]
struct Distribution {
    /// Values per bucket, by the histogram's index; as long as the largest value needs.
    counts: Vec<u64>,
    count: u64,
    /// Exact, because a histogram's mean is only as precise as its buckets.
    sum_us: u128,
    /// Exact, because the histogram rounds values to its buckets; percentiles are clamped to them.
    min_us: u64,
    max_us: u64,
}

/// The significant digits of [`Distribution`]'s histogram, and what `hdrhistogram` derives from
/// them for a lowest discernible value of 1: 2048 sub-buckets per bucket (the least power of two
/// at least 2 × 10^3), half of them new in each bucket after the first.
const HDR_SIGFIG: u8 = 3;
const HDR_SUB_BUCKET_MASK: u64 = 2047;
const HDR_HALF_MAGNITUDE: u32 = 10;
const HDR_LEADING_ZERO_BASE: u32 = 64 - 11;

/// The index of `us` in the counts of a histogram of [`HDR_SIGFIG`] digits (`index_for` in
/// `hdrhistogram`).
fn hdr_index(us: u64) -> usize {
    let bucket = HDR_LEADING_ZERO_BASE - (us | HDR_SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (us >> bucket) as usize;
    ((bucket as usize + 1) << HDR_HALF_MAGNITUDE) + sub_bucket - (1 << HDR_HALF_MAGNITUDE)
}

/// The lowest value in the bucket of `index` (`value_for` in `hdrhistogram`).
fn hdr_lowest(index: usize) -> u64 {
    let half = 1usize << HDR_HALF_MAGNITUDE;
    let (bucket, sub_bucket) = match (index >> HDR_HALF_MAGNITUDE).checked_sub(1) {
        // The lower half of the first bucket.
        None => (0, index),
        Some(bucket) => (bucket, (index & (half - 1)) + half),
    };
    (sub_bucket as u64) << bucket
}

/// Piecewise-constant integration of one worker's memory: `state` holds from `since` until the
/// next call, so each call first credits the previous state for the time it lasted. Sums are in
/// MB·µs as integers, exact and independent of call order within a worker.
#[derive(Clone, Copy, Debug, Default)]
struct WorkerAccumulator {
    capacity_mb: u64,
    peak_used_mb: u64,
    since: Time,
    state: MemoryState,
    used_mb_us: u128,
    peak_zygote_mb: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics; [`RecordSink::begin`] sizes the per-app and per-worker tables.
    pub fn new() -> Self {
        Metrics {
            invocations: 0,
            completed: 0,
            dropped: [0; DropReason::ALL.len()],
            failed: [0; FailReason::ALL.len()],
            starts: [0; StartKind::ALL.len()],
            apps: Vec::new(),
            latency: Distribution::new(),
            startup_delay: Distribution::new(),
            cold_start: Distribution::new(),
            cold_phases: std::array::from_fn(|_| Distribution::new()),
            kind_phase_us: [[0; 6]; StartKind::ALL.len()],
            timeline: Timeline::new(),
            cluster: MemoryState::default(),
            cluster_since: 0,
            workers: Vec::new(),
            created: 0,
            paused: 0,
            unpaused: 0,
            install_hits: 0,
            install_misses: 0,
            installed_bytes: 0,
            uninstalled: 0,
            uninstalled_bytes: 0,
            import_hits: 0,
            import_misses: 0,
            zygotes_created: 0,
            zygotes_evicted: 0,
            destroyed: [0; DestroyReason::ALL.len()],
            end: None,
            latest: 0,
        }
    }

    /// The metrics so far. Memory states still open are credited up to the end of the run, or up
    /// to the latest time seen when the run has not ended.
    pub fn summary(&self) -> Summary {
        let span = self.end.unwrap_or(self.latest);
        let started: u64 = self.starts.iter().sum();
        let cold: u64 = StartKind::ALL
            .iter()
            .filter(|k| k.is_cold())
            .map(|&k| self.starts[k as usize])
            .sum();
        Summary {
            interrupted: None,
            span_s: span as f64 / MICROS_PER_SEC as f64,
            invocations: InvocationCounts {
                total: self.invocations,
                completed: self.completed,
                dropped: self.dropped.iter().sum(),
                dropped_by_reason: DropReason::ALL
                    .iter()
                    .map(|&r| (r.as_str(), self.dropped[r as usize]))
                    .collect(),
                failed: self.failed.iter().sum(),
                failed_by_reason: FailReason::ALL
                    .iter()
                    .map(|&r| (r.as_str(), self.failed[r as usize]))
                    .collect(),
            },
            starts: StartCounts {
                started,
                by_kind: StartKind::ALL
                    .iter()
                    .map(|&k| (k.as_str(), self.starts[k as usize]))
                    .collect(),
                cold,
                cold_start_ratio: ratio(cold, started),
            },
            cold_start_per_app: self.cold_start_per_app(),
            latency_ms: self.latency.stats(),
            startup_delay_ms: self.startup_delay.stats(),
            cold_start_ms: self.cold_start.stats(),
            phases_ms: self.phase_stats(started),
            memory: self.memory_stats(span),
            sandboxes: SandboxCounts {
                created: self.created,
                paused: self.paused,
                unpaused: self.unpaused,
                destroyed: self.destroyed.iter().sum(),
                destroyed_by_reason: DestroyReason::ALL
                    .iter()
                    .map(|&r| (r.as_str(), self.destroyed[r as usize]))
                    .collect(),
            },
            packages: PackageCounts {
                install_hits: self.install_hits,
                install_misses: self.install_misses,
                install_hit_ratio: ratio(
                    self.install_hits,
                    self.install_hits + self.install_misses,
                ),
                installed_mb: self.installed_bytes as f64 / 1e6,
                uninstalled: self.uninstalled,
                uninstalled_mb: self.uninstalled_bytes as f64 / 1e6,
                import_hits: self.import_hits,
                import_misses: self.import_misses,
                import_hit_ratio: ratio(self.import_hits, self.import_hits + self.import_misses),
                zygotes_created: self.zygotes_created,
                zygotes_evicted: self.zygotes_evicted,
            },
        }
    }

    fn cold_start_per_app(&self) -> ColdStartPerApp {
        let mut percents: Vec<f64> = self
            .apps
            .iter()
            .filter(|a| a.started > 0)
            .map(|a| 100.0 * a.cold as f64 / a.started as f64)
            .collect();
        percents.sort_by(f64::total_cmp);
        let zero = percents.iter().filter(|&&p| p == 0.0).count() as u64;
        let n = percents.len() as u64;
        ColdStartPerApp {
            apps: n,
            p25_pct: nearest_rank(&percents, 25),
            p50_pct: nearest_rank(&percents, 50),
            p75_pct: nearest_rank(&percents, 75),
            p90_pct: nearest_rank(&percents, 90),
            p99_pct: nearest_rank(&percents, 99),
            zero_cold_start_fraction: ratio(zero, n),
        }
    }

    fn phase_stats(&self, started: u64) -> PhaseStats {
        let stat = |i: usize| {
            let total_us: u128 = self.kind_phase_us.iter().map(|k| k[i]).sum();
            let total = total_us as f64 / MICROS_PER_MS as f64;
            let cold = self.cold_phases.get(i).map(Distribution::stats);
            PhaseStat {
                total,
                mean: if started == 0 {
                    0.0
                } else {
                    total / started as f64
                },
                cold_p50: cold.as_ref().map_or(0.0, |c| c.p50),
                cold_p99: cold.as_ref().map_or(0.0, |c| c.p99),
            }
        };
        PhaseStats {
            queue: stat(0),
            create: stat(1),
            install: stat(2),
            import: stat(3),
            init: stat(4),
            exec: stat(5),
        }
    }

    fn memory_stats(&self, span: Time) -> MemoryStats {
        const MB_US_PER_GB_S: f64 = 1024.0 * MICROS_PER_SEC as f64;
        // The cluster's idle, paused and zygote memory-time are the timeline's sums (kept per
        // kind, exactly); only used memory is integrated per worker too, for each one's mean.
        let [_, idle, paused, zygote, _] = self.closed_timeline(span).totals();
        let mut used = 0u128;
        let workers: Vec<WorkerMemory> = self
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let open = u128::from(span.saturating_sub(w.since));
                let used_mb_us = w.used_mb_us + u128::from(w.state.used_mb()) * open;
                used += used_mb_us;
                WorkerMemory {
                    worker: i as u32,
                    capacity_mb: w.capacity_mb,
                    peak_used_mb: w.peak_used_mb,
                    mean_used_mb: if span == 0 {
                        0.0
                    } else {
                        used_mb_us as f64 / span as f64
                    },
                }
            })
            .collect();
        let mean_worker_mean_used_mb = if workers.is_empty() {
            0.0
        } else {
            workers.iter().map(|w| w.mean_used_mb).sum::<f64>() / workers.len() as f64
        };
        MemoryStats {
            wasted_gb_s: (idle + paused) as f64 / MB_US_PER_GB_S,
            idle_gb_s: idle as f64 / MB_US_PER_GB_S,
            paused_gb_s: paused as f64 / MB_US_PER_GB_S,
            zygote_gb_s: zygote as f64 / MB_US_PER_GB_S,
            used_gb_s: used as f64 / MB_US_PER_GB_S,
            max_worker_peak_zygote_mb: self
                .workers
                .iter()
                .map(|w| w.peak_zygote_mb)
                .max()
                .unwrap_or(0),
            max_worker_peak_used_mb: workers.iter().map(|w| w.peak_used_mb).max().unwrap_or(0),
            mean_worker_mean_used_mb,
            workers,
        }
    }

    /// The run's span so far: its end, or the latest time seen.
    fn span(&self) -> Time {
        self.end.unwrap_or(self.latest)
    }

    /// The distribution `of`, as points `(ms, fraction of values at most ms)`, one per distinct
    /// histogram bucket (3 significant digits), from the smallest value to the largest.
    pub fn cdf(&self, of: Dist) -> Vec<(f64, f64)> {
        self.dist(of).cdf()
    }

    /// The distribution `of` at each quantile in `qs` (fractions in [0, 1]), in ms; 0 for an
    /// empty distribution. Quantile 0 is the smallest value and 1 the largest.
    pub fn quantiles(&self, of: Dist, qs: &[f64]) -> Vec<f64> {
        self.dist(of).quantiles(qs)
    }

    fn dist(&self, of: Dist) -> &Distribution {
        match of {
            Dist::Latency => &self.latency,
            Dist::StartupDelay => &self.startup_delay,
            Dist::ColdStart => &self.cold_start,
        }
    }

    /// For each start kind with at least one start: the starts, and the mean of each phase
    /// (queue, create, install, import, init, exec) over them in ms.
    pub fn phases_by_kind(&self) -> Vec<(StartKind, u64, [f64; 6])> {
        StartKind::ALL
            .iter()
            .filter(|&&k| self.starts[k as usize] > 0)
            .map(|&k| {
                let n = self.starts[k as usize];
                let means = self.kind_phase_us[k as usize]
                    .map(|us| us as f64 / n as f64 / MICROS_PER_MS as f64);
                (k, n, means)
            })
            .collect()
    }

    /// The cluster's memory over the run, one point per timeline bucket (see
    /// [`crate::timeline`]); states still open are credited up to the span.
    pub fn memory_over_time(&self) -> Vec<MemoryPoint> {
        let span = self.span();
        self.closed_timeline(span).points(span)
    }

    /// The cluster's memory over `n` equal parts of the run.
    pub fn memory_over_time_in(&self, n: usize) -> Vec<MemoryPoint> {
        let span = self.span();
        self.closed_timeline(span).resample(span, n)
    }

    fn closed_timeline(&self, span: Time) -> Timeline {
        let mut t = self.timeline.clone();
        t.add(self.cluster_since, span, &self.cluster);
        t
    }

    fn see(&mut self, now: Time) {
        self.latest = self.latest.max(now);
    }
}

impl RecordSink for Metrics {
    fn begin(&mut self, info: &RunInfo<'_>) {
        self.apps = vec![AppStarts::default(); info.catalog.apps.len()];
        self.workers = info
            .workers
            .iter()
            .map(|w| WorkerAccumulator {
                capacity_mb: w.memory_mb,
                state: MemoryState {
                    capacity_mb: w.memory_mb,
                    ..MemoryState::default()
                },
                ..WorkerAccumulator::default()
            })
            .collect();
        self.cluster = MemoryState {
            capacity_mb: self.workers.iter().map(|w| w.capacity_mb).sum(),
            ..MemoryState::default()
        };
    }

    fn invocation(&mut self, record: &Record) {
        self.see(record.end);
        self.invocations += 1;
        match record.outcome {
            Outcome::Ok => {
                self.completed += 1;
                self.latency.record(record.latency());
            }
            Outcome::Dropped(reason) => self.dropped[reason as usize] += 1,
            Outcome::Failed(reason) => self.failed[reason as usize] += 1,
        }
        let Some(kind) = record.start_kind else {
            return;
        };
        self.starts[kind as usize] += 1;
        let app = record.app.index();
        if app >= self.apps.len() {
            self.apps.resize(app + 1, AppStarts::default());
        }
        self.apps[app].started += 1;
        self.apps[app].cold += u64::from(kind.is_cold());
        self.startup_delay.record(record.startup_delay());
        let p = &record.phases;
        let phases = [p.queue, p.create, p.install, p.import, p.init, p.exec];
        for (of_kind, us) in self.kind_phase_us[kind as usize].iter_mut().zip(phases) {
            *of_kind += u128::from(us);
        }
        if kind.is_cold() {
            self.cold_start
                .record(p.create + p.install + p.import + p.init);
            for (h, us) in self
                .cold_phases
                .iter_mut()
                .zip([p.queue, p.create, p.install, p.import, p.init])
            {
                h.record(us);
            }
        }
    }

    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        self.see(now);
        let i = worker.index();
        if i >= self.workers.len() {
            self.workers.resize(i + 1, WorkerAccumulator::default());
        }
        // A report earlier than the cluster's latest (which a driver does not make) counts from
        // that latest time.
        if now > self.cluster_since {
            self.timeline.add(self.cluster_since, now, &self.cluster);
            self.cluster_since = now;
        }
        let w = &mut self.workers[i];
        let c = &mut self.cluster;
        c.capacity_mb = c.capacity_mb - w.state.capacity_mb + state.capacity_mb;
        c.busy_mb = c.busy_mb - w.state.busy_mb + state.busy_mb;
        c.idle_mb = c.idle_mb - w.state.idle_mb + state.idle_mb;
        c.paused_mb = c.paused_mb - w.state.paused_mb + state.paused_mb;
        c.zygote_mb = c.zygote_mb - w.state.zygote_mb + state.zygote_mb;
        let lasted = u128::from(now.saturating_sub(w.since));
        w.used_mb_us += u128::from(w.state.used_mb()) * lasted;
        w.peak_zygote_mb = w.peak_zygote_mb.max(state.zygote_mb);
        w.since = now;
        w.state = *state;
        w.capacity_mb = state.capacity_mb;
        w.peak_used_mb = w.peak_used_mb.max(state.used_mb());
    }

    fn sandbox(&mut self, now: Time, _worker: WorkerId, event: SandboxEvent) {
        self.see(now);
        match event {
            SandboxEvent::Created { .. } => self.created += 1,
            SandboxEvent::Paused { .. } => self.paused += 1,
            SandboxEvent::Unpaused { .. } => self.unpaused += 1,
            SandboxEvent::Destroyed { reason, .. } => self.destroyed[reason as usize] += 1,
            SandboxEvent::Installed {
                hits,
                misses,
                bytes,
                ..
            } => {
                self.install_hits += u64::from(hits);
                self.install_misses += u64::from(misses);
                self.installed_bytes += bytes;
            }
            SandboxEvent::Uninstalled { packages, bytes } => {
                self.uninstalled += u64::from(packages);
                self.uninstalled_bytes += bytes;
            }
            SandboxEvent::Imported { hits, misses, .. } => {
                self.import_hits += u64::from(hits);
                self.import_misses += u64::from(misses);
            }
            SandboxEvent::ZygoteCreated { .. } => self.zygotes_created += 1,
            SandboxEvent::ZygoteDestroyed { reason, .. } => {
                self.zygotes_evicted += u64::from(reason == DestroyReason::Evicted);
            }
        }
    }

    fn end(&mut self, now: Time) {
        self.see(now);
        self.end = Some(now);
    }
}

/// A distribution a run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dist {
    /// End-to-end latency of completed invocations.
    Latency,
    /// Startup delay of started invocations.
    StartupDelay,
    /// Cold-start cost: a cold start's startup delay less queueing.
    ColdStart,
}

impl Distribution {
    fn new() -> Self {
        Distribution {
            counts: Vec::new(),
            count: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }

    #[inline]
    fn record(&mut self, us: Time) {
        let i = hdr_index(us);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.count += 1;
        self.sum_us += u128::from(us);
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    /// The histogram of the values recorded: each bucket's count recorded at its lowest value,
    /// except in the buckets of the min and the max, which are recorded at those exact values so
    /// that the histogram's own min and max are the recorded ones.
    fn histogram(&self) -> Histogram<u64> {
        let mut h = Histogram::new(HDR_SIGFIG).expect("3 significant digits is a valid precision");
        if self.count == 0 {
            return h;
        }
        let mut record = |us: u64, n: u64| {
            // Auto-resizing fails only beyond 2^62 µs (146,000 years); clamp rather than lose it.
            if n > 0 && h.record_n(us, n).is_err() {
                h.saturating_record_n(us, n);
            }
        };
        let (min_index, max_index) = (hdr_index(self.min_us), hdr_index(self.max_us));
        for (i, &n) in self.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            match (i == min_index, i == max_index) {
                // One value at the min, the others at the max (there are two or more if they
                // differ).
                (true, true) => {
                    record(self.min_us, 1);
                    record(self.max_us, n - 1);
                }
                (true, false) => record(self.min_us, n),
                (false, true) => record(self.max_us, n),
                (false, false) => record(hdr_lowest(i), n),
            }
        }
        h
    }

    #[cfg(test)]
    fn quantile(&self, q: f64) -> f64 {
        self.quantiles(&[q])[0]
    }

    /// The values at quantiles `qs` in ms: 0 for no values; quantile 0 is the exact min and 1 the
    /// exact max.
    fn quantiles(&self, qs: &[f64]) -> Vec<f64> {
        if self.count == 0 {
            return vec![0.0; qs.len()];
        }
        let h = self.histogram();
        qs.iter()
            .map(|&q| {
                let us = if q <= 0.0 {
                    self.min_us
                } else if q >= 1.0 {
                    self.max_us
                } else {
                    self.clamp(h.value_at_quantile(q))
                };
                us as f64 / MICROS_PER_MS as f64
            })
            .collect()
    }

    fn cdf(&self) -> Vec<(f64, f64)> {
        let n = self.count;
        if n == 0 {
            return Vec::new();
        }
        let h = self.histogram();
        let mut out: Vec<(f64, f64)> = h
            .iter_recorded()
            .map(|v| {
                let us = self.clamp(h.highest_equivalent(v.value_iterated_to()));
                (
                    us as f64 / MICROS_PER_MS as f64,
                    v.count_since_last_iteration() as f64,
                )
            })
            .collect();
        let mut seen = 0.0;
        for p in &mut out {
            seen += p.1;
            p.1 = seen / n as f64;
        }
        out
    }

    /// `us` within the exact min and max (of a distribution with values).
    fn clamp(&self, us: u64) -> u64 {
        us.max(self.min_us).min(self.max_us)
    }

    fn stats(&self) -> LatencyStats {
        let count = self.count;
        let ms = |us: u64| us as f64 / MICROS_PER_MS as f64;
        let [p50, p90, p99, p999] = if count == 0 {
            [0.0; 4]
        } else {
            let h = self.histogram();
            [0.50, 0.90, 0.99, 0.999].map(|q| ms(self.clamp(h.value_at_quantile(q))))
        };
        LatencyStats {
            count,
            mean: if count == 0 {
                0.0
            } else {
                self.sum_us as f64 / count as f64 / MICROS_PER_MS as f64
            },
            p50,
            p90,
            p99,
            p999,
            max: ms(self.max_us),
        }
    }
}

/// `part / whole`, or 0 when there is no whole.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The nearest-rank `pct`-th percentile of `sorted`: the value of rank `ceil(pct * n / 100)`
/// (1-based), computed in integers so that ranks are exact; 0 for no values.
fn nearest_rank(sorted: &[f64], pct: usize) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let rank = (pct * n).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{self, MS, S};
    use workloads::{App, Catalog};

    fn scenario() -> Summary {
        fixture::summary()
    }

    #[test]
    fn a_summary_reads_back_from_its_json() {
        let mut summary = scenario();
        summary.interrupted = Some("SIGINT".into());
        for s in [scenario(), summary] {
            let json = crate::to_json(&s);
            assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
        }
        let json = crate::to_json(&scenario()).replacen("\"warm\"", "\"tepid\"", 1);
        let error = serde_json::from_str::<Summary>(&json).unwrap_err();
        assert!(
            error.to_string().contains("unknown key \"tepid\""),
            "{error}"
        );
    }

    /// Asserts `actual` is within hdrhistogram's 3-significant-digit precision of `expected`.
    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= expected * 1e-3,
            "{actual} is not within 0.1% of {expected}"
        );
    }

    #[test]
    fn counts_outcomes_and_starts() {
        // Records 0, 1, 2, 5 completed; 3 (queue-full) and 4 (no-memory) dropped; 6 failed.
        // Started: 0 cold, 1 and 6 warm, 2 unpause, 5 zygote-fork; cold ones: 0 and 5, so 2/5.
        let s = scenario();
        let inv = &s.invocations;
        assert_eq!(
            (inv.total, inv.completed, inv.dropped, inv.failed),
            (7, 4, 2, 1)
        );
        let dropped: Vec<_> = inv.dropped_by_reason.clone().into_iter().collect();
        assert_eq!(
            dropped,
            [("no-memory", 1), ("queue-full", 1), ("too-large", 0)]
        );
        let failed: Vec<_> = inv.failed_by_reason.clone().into_iter().collect();
        assert_eq!(
            failed,
            [
                ("killed", 0),
                ("out-of-memory", 0),
                ("sandbox-crashed", 1),
                ("timeout", 0)
            ]
        );

        let st = &s.starts;
        assert_eq!((st.started, st.cold), (5, 2));
        let kinds: Vec<_> = st.by_kind.clone().into_iter().collect();
        assert_eq!(
            kinds,
            [
                ("cold", 1),
                ("prewarmed", 0),
                ("unpause", 1),
                ("warm", 2),
                ("zygote-fork", 1)
            ]
        );
        assert_eq!(st.cold_start_ratio, 0.4);
        assert_eq!(s.span_s, 10.0);
    }

    #[test]
    fn cold_start_per_app_of_the_scenario() {
        // shop started 0, 1, 2, 6 with one cold start: 25%; blog started only 5, a zygote fork:
        // 100%. Sorted [25, 100], n = 2: p25 and p50 have rank ceil(0.5) = ceil(1) = 1, so 25;
        // p75, p90, p99 have rank 2, so 100. No app is free of cold starts.
        let app = scenario().cold_start_per_app;
        assert_eq!(
            app,
            ColdStartPerApp {
                apps: 2,
                p25_pct: 25.0,
                p50_pct: 25.0,
                p75_pct: 100.0,
                p90_pct: 100.0,
                p99_pct: 100.0,
                zero_cold_start_fraction: 0.0,
            }
        );
    }

    #[test]
    fn per_app_percentiles_use_nearest_rank() {
        // (started, cold) per app: a0 (4, 0) = 0%, a1 (4, 1) = 25%, a2 (2, 1) = 50%,
        // a3 (1, 1) = 100%, a4 only dropped (no percentage), a5 (10, 1) = 10%.
        // Sorted [0, 10, 25, 50, 100], n = 5: ranks p25 ceil(1.25) = 2 -> 10, p50 ceil(2.5) = 3
        // -> 25, p75 ceil(3.75) = 4 -> 50, p90 ceil(4.5) = 5 -> 100, p99 ceil(4.95) = 5 -> 100.
        // One app in five had no cold start: 0.2.
        let catalog = Catalog {
            packages: Default::default(),
            functions: Vec::new(),
            apps: (0..6)
                .map(|i| App {
                    name: format!("a{i}"),
                })
                .collect(),
        };
        let mut metrics = Metrics::new();
        metrics.begin(&RunInfo {
            catalog: &catalog,
            workers: &[sim::WorkerSpec {
                memory_mb: 1024,
                cores: 1,
            }],
        });
        let mut id = 0;
        let mut feed = |app: u32, kind: Option<StartKind>, n: u32| {
            for _ in 0..n {
                let mut r = fixture::record(
                    id,
                    0,
                    0,
                    id * MS,
                    kind,
                    Default::default(),
                    match kind {
                        Some(_) => Outcome::Ok,
                        None => Outcome::Dropped(DropReason::TooLarge),
                    },
                );
                r.app = workloads::AppId(app);
                metrics.invocation(&r);
                id += 1;
            }
        };
        for (app, started, cold) in [(0, 4, 0), (1, 4, 1), (2, 2, 1), (3, 1, 1), (5, 10, 1)] {
            feed(app, Some(StartKind::Cold), cold);
            feed(app, Some(StartKind::Warm), started - cold);
        }
        feed(4, None, 3);
        assert_eq!(
            metrics.summary().cold_start_per_app,
            ColdStartPerApp {
                apps: 5,
                p25_pct: 10.0,
                p50_pct: 25.0,
                p75_pct: 50.0,
                p90_pct: 100.0,
                p99_pct: 100.0,
                zero_cold_start_fraction: 0.2,
            }
        );
    }

    #[test]
    fn latency_and_startup_delay() {
        // Latency of completed records 0, 1, 2, 5: 700, 301, 100, 100 ms; mean 1201 / 4 =
        // 300.25. p50 is rank 2 -> 100; p90, p99, p99.9 are rank 4 -> 700 (clamped to the max).
        let s = scenario();
        let l = &s.latency_ms;
        assert_eq!((l.count, l.mean, l.max), (4, 300.25, 700.0));
        close(l.p50, 100.0);
        assert_eq!((l.p90, l.p99, l.p999), (700.0, 700.0, 700.0));

        // Startup delay of started records 0, 1, 2, 5, 6: 200, 1, 10, 60, 5 ms; mean 276 / 5 =
        // 55.2. Sorted [1, 5, 10, 60, 200]: p50 is rank 3 -> 10, p90 rank 5 -> 200.
        let d = &s.startup_delay_ms;
        assert_eq!((d.count, d.max), (5, 200.0));
        close(d.mean, 55.2);
        close(d.p50, 10.0);
        assert_eq!(d.p90, 200.0);

        // Cold starts 0 and 5 cost 100 + 50 + 30 + 20 and 40 + 10 + 10 ms.
        let c = &s.cold_start_ms;
        assert_eq!((c.count, c.mean, c.max), (2, 130.0, 200.0));
        close(c.p50, 60.0);
    }

    #[test]
    fn phase_totals_and_means_over_started() {
        // Five started. queue 4 (record 6); create 100 + 40; install 50; import 30 + 10;
        // init 20 + 1 + 10 + 10 + 1 = 42; exec 500 + 300 + 90 + 40 + 95 = 1025.
        let p = scenario().phases_ms;
        let totals = [
            p.queue.total,
            p.create.total,
            p.install.total,
            p.import.total,
            p.init.total,
            p.exec.total,
        ];
        assert_eq!(totals, [4.0, 140.0, 50.0, 40.0, 42.0, 1025.0]);
        let means = [
            p.queue.mean,
            p.create.mean,
            p.install.mean,
            p.import.mean,
            p.init.mean,
            p.exec.mean,
        ];
        assert_eq!(means, [0.8, 28.0, 10.0, 8.0, 8.4, 205.0]);
    }

    #[test]
    fn memory_is_integrated_per_worker() {
        // Worker 0 (MB x s): used 256 x 2 + 1024 x 5 + 512 x 3 = 7168, idle 1024 x 5 = 5120,
        // paused 512 x 3 = 1536; mean used 7168 / 10 = 716.8, peak 1024.
        // Worker 1: 0 for 1 s, then used 2048 x 1 + 1024 x 8 = 10240, idle 1024 x 8 = 8192;
        // mean used 1024, peak 2048.
        // GB-s (/1024): idle (5120 + 8192) = 13, paused 1.5, wasted 14.5,
        // used (7168 + 10240) = 17. Mean of means (716.8 + 1024) / 2 = 870.4.
        let m = scenario().memory;
        assert_eq!(
            (m.wasted_gb_s, m.idle_gb_s, m.paused_gb_s, m.used_gb_s),
            (14.5, 13.0, 1.5, 17.0)
        );
        assert_eq!(m.max_worker_peak_used_mb, 2048);
        assert!((m.mean_worker_mean_used_mb - 870.4).abs() < 1e-9);
        assert_eq!(
            m.workers,
            [
                WorkerMemory {
                    worker: 0,
                    capacity_mb: 1024,
                    peak_used_mb: 1024,
                    mean_used_mb: 716.8,
                },
                WorkerMemory {
                    worker: 1,
                    capacity_mb: 2048,
                    peak_used_mb: 2048,
                    mean_used_mb: 1024.0,
                },
            ]
        );
    }

    #[test]
    fn idle_gigabyte_for_ten_seconds_wastes_ten_gb_s() {
        // 1024 MB idle from 0 to the end at 10 s: 1 GB x 10 s.
        let mut metrics = Metrics::new();
        metrics.memory(0, WorkerId(0), &fixture::memory(4096, 0, 1024, 0));
        metrics.end(10 * S);
        let m = metrics.summary().memory;
        assert_eq!(
            (m.wasted_gb_s, m.idle_gb_s, m.paused_gb_s),
            (10.0, 10.0, 0.0)
        );
        assert_eq!(m.workers[0].mean_used_mb, 1024.0);
        assert_eq!(m.workers[0].capacity_mb, 4096);
    }

    #[test]
    fn distributions_give_cdfs_and_quantiles() {
        let mut metrics = Metrics::new();
        fixture::run(&mut metrics);
        // Completed latencies: 100, 100, 301 and 700 ms.
        let cdf = metrics.cdf(Dist::Latency);
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001;
        assert_eq!(cdf.len(), 3, "{cdf:?}");
        for ((ms, f), (want_ms, want_f)) in
            cdf.iter().zip([(100.0, 0.5), (301.0, 0.75), (700.0, 1.0)])
        {
            assert!(close(*ms, want_ms) && *f == want_f, "{cdf:?}");
        }
        let q = metrics.quantiles(Dist::Latency, &[0.0, 0.5, 0.75, 1.0]);
        assert!(
            close(q[0], 100.0) && close(q[1], 100.0) && close(q[2], 301.0),
            "{q:?}"
        );
        assert_eq!(q[3], 700.0);
        // Cold-start costs: 200 ms (cold) and 60 ms (zygote fork).
        let q = metrics.quantiles(Dist::ColdStart, &[0.0, 1.0]);
        assert!(close(q[0], 60.0) && q[1] == 200.0, "{q:?}");
        assert!(Metrics::new().cdf(Dist::StartupDelay).is_empty());
        assert_eq!(Metrics::new().quantiles(Dist::StartupDelay, &[0.5]), [0.0]);
    }

    /// Values at every edge of the histogram's buckets, and spread over its whole range.
    fn edge_values() -> Vec<u64> {
        let mut values: Vec<u64> = (0..5000).collect();
        for shift in 11..62 {
            let p = 1u64 << shift;
            values.extend([p - 1, p, p + 1, p + (p >> 11), p + p / 3]);
        }
        let mut x = 7u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            values.push(x >> (2 + x % 60));
        }
        values
    }

    #[test]
    fn counts_are_indexed_as_hdrhistogram_indexes_them() {
        let h = Histogram::<u64>::new(HDR_SIGFIG).unwrap();
        for v in edge_values() {
            let i = hdr_index(v);
            assert_eq!(hdr_lowest(i), h.lowest_equivalent(v), "{v}");
            assert_eq!(hdr_index(h.highest_equivalent(v)), i, "{v}");
            assert_eq!(hdr_index(h.highest_equivalent(v) + 1), i + 1, "{v}");
        }
    }

    #[test]
    fn the_built_histogram_is_the_one_that_records_every_value() {
        let values = edge_values();
        // Every value, one value, one repeated, two in one bucket, a few in the same bucket.
        let sets: Vec<Vec<u64>> = vec![
            values.clone(),
            values.iter().map(|v| v % 1_000_000_007).collect(),
            vec![12_345],
            vec![0; 3],
            vec![4096, 4097],
            vec![4097, 4096, 4097, 4096],
            vec![0, 1, 2048, 2049, 2050, 1 << 40],
        ];
        for set in sets {
            let mut d = Distribution::new();
            let mut direct = Histogram::<u64>::new(HDR_SIGFIG).unwrap();
            for &v in &set {
                d.record(v);
                direct.record(v).unwrap();
            }
            let built = d.histogram();
            let entries = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect()
            };
            assert_eq!(entries(&built), entries(&direct), "{set:?}");
            assert_eq!(
                (built.len(), built.min(), built.max(), built.min_nz()),
                (direct.len(), direct.min(), direct.max(), direct.min_nz()),
                "{:?}",
                &set[..set.len().min(8)]
            );
            for q in [0.0, 0.001, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
                assert_eq!(
                    built.value_at_quantile(q),
                    direct.value_at_quantile(q),
                    "{q}"
                );
            }
        }
    }

    #[test]
    fn percentiles_stay_between_the_exact_min_and_max() {
        // 600 s is in a histogram bucket that tops at 600.31 s, 100.003 ms in one that starts at
        // 99.968 ms: every percentile of one value is that value.
        for us in [600_000_000, 100_003] {
            let mut d = Distribution::new();
            for _ in 0..10 {
                d.record(us);
            }
            let ms = us as f64 / MICROS_PER_MS as f64;
            let s = d.stats();
            assert_eq!([s.p50, s.p90, s.p99, s.p999, s.max], [ms; 5], "{s:?}");
            for q in [0.0, 0.25, 0.5, 0.99, 1.0] {
                assert_eq!(d.quantile(q), ms, "quantile {q}");
            }
            assert!(d.cdf().iter().all(|&(x, _)| x == ms), "{:?}", d.cdf());
        }
        // Two values: the high percentiles are the exact max, the lowest the exact min.
        let mut d = Distribution::new();
        d.record(100_003);
        d.record(600_000_000);
        let s = d.stats();
        assert_eq!((s.p99, s.max), (600_000.0, 600_000.0));
        assert!((100.003..100.1).contains(&s.p50), "{s:?}");
        assert_eq!(d.quantile(0.0), 100.003);
    }

    #[test]
    fn phases_are_broken_down_by_start_kind() {
        let mut metrics = Metrics::new();
        fixture::run(&mut metrics);
        let by_kind = metrics.phases_by_kind();
        let kinds: Vec<(StartKind, u64)> = by_kind.iter().map(|(k, n, _)| (*k, *n)).collect();
        assert_eq!(
            kinds,
            [
                (StartKind::Cold, 1),
                (StartKind::Warm, 2),
                (StartKind::Unpause, 1),
                (StartKind::ZygoteFork, 1)
            ]
        );
        assert_eq!(by_kind[0].2, [0.0, 100.0, 50.0, 30.0, 20.0, 500.0]);
        // Warm: records 1 (init 1, exec 300) and 6 (queue 4, init 1, exec 95).
        assert_eq!(by_kind[1].2, [2.0, 0.0, 0.0, 0.0, 1.0, 197.5]);
        assert_eq!(by_kind[3].2, [0.0, 40.0, 0.0, 10.0, 10.0, 40.0]);
    }

    #[test]
    fn memory_over_time_sums_workers() {
        let mut metrics = Metrics::new();
        fixture::run(&mut metrics);
        let parts = metrics.memory_over_time_in(10);
        let used: Vec<f64> = parts.iter().map(|p| p.used_mb()).collect();
        // Worker 0: 256 busy to 2 s, 1024 idle to 7 s, 512 paused to 10 s; worker 1: 2048 busy
        // from 1 to 2 s, then 1024 idle.
        assert_eq!(
            used,
            [
                256.0, 2304.0, 2048.0, 2048.0, 2048.0, 2048.0, 2048.0, 1536.0, 1536.0, 1536.0
            ]
        );
        assert_eq!(parts[8].paused_mb, 512.0);
        assert_eq!(parts[0].capacity_mb, 3072.0);
        assert_eq!(parts[9].end_s, 10.0);
        // Memory-time over the fine points equals the summary's.
        let fine = metrics.memory_over_time();
        let gb_s: f64 = fine
            .iter()
            .map(|p| p.used_mb() * (p.end_s - p.start_s))
            .sum::<f64>()
            / 1024.0;
        let want = metrics.summary().memory.used_gb_s;
        assert!((gb_s - want).abs() < 1e-9, "{gb_s} {want}");
    }

    #[test]
    fn summary_before_the_end_credits_up_to_the_latest_call() {
        // Paused 2048 MB from 1 s; the latest call is a sandbox event at 3 s, so 2 GB x 2 s = 4.
        let mut metrics = Metrics::new();
        metrics.memory(S, WorkerId(0), &fixture::memory(4096, 0, 0, 2048));
        metrics.sandbox(
            3 * S,
            WorkerId(0),
            SandboxEvent::Paused {
                function: workloads::FunctionId(0),
            },
        );
        let s = metrics.summary();
        assert_eq!((s.span_s, s.memory.paused_gb_s), (3.0, 4.0));
    }

    #[test]
    fn sandbox_events() {
        let sb = scenario().sandboxes;
        assert_eq!(
            (sb.created, sb.paused, sb.unpaused, sb.destroyed),
            (3, 2, 1, 4)
        );
        let reasons: Vec<_> = sb.destroyed_by_reason.into_iter().collect();
        assert_eq!(
            reasons,
            [
                ("crashed", 0),
                ("evicted", 1),
                ("expired", 1),
                ("not-kept", 0),
                ("shutdown", 2)
            ]
        );
    }

    #[test]
    fn empty_run_has_zeros_not_nans() {
        let s = Metrics::new().summary();
        assert_eq!(s.starts.cold_start_ratio, 0.0);
        assert_eq!(s.latency_ms.mean, 0.0);
        assert_eq!(s.phases_ms.exec.mean, 0.0);
        assert_eq!(s.cold_start_per_app.p75_pct, 0.0);
        assert_eq!(s.memory.mean_worker_mean_used_mb, 0.0);
    }
}
