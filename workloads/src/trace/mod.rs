//! Replaying recorded traces: the options every reader shares, the [`Trace`] a reader returns,
//! and the machinery that turns per-minute counts or recorded invocations into a sorted
//! invocation stream.
//!
//! Loading a trace has two steps, so that samplers can see every function before any invocation
//! is generated:
//!
//! 1. A reader (`azure2019`, `azure2021`, `huawei2023`, `native`) *opens* the trace: one pass over
//!    its files builds the [`Catalog`] of every function kept after cleaning, counts each
//!    function's invocations inside the time window, and records in a [`LoadReport`] what it
//!    dropped and why. Memory is O(functions).
//! 2. [`Trace::into_workload`] samples functions (see [`crate::sample`]), scales the rate, applies
//!    the sandbox granularity and opens the invocation stream for the chosen functions. Streams
//!    read the files again lazily; memory stays O(functions) plus, for count traces, one day's
//!    non-zero cells.
//!
//! Time in a replayed trace starts at the window's start: an invocation at `start + t` in the
//! trace arrives at `t` in the simulation.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rand::RngExt;
use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sample::Sample;
use crate::synthetic::{AppMemory, BurrSpec, LogNormalSpec, sample_burr, stream};
use crate::time::{MICROS_PER_MIN, MICROS_PER_MS, MICROS_PER_SEC};
use crate::{
    AppId, Catalog, Duration, Function, FunctionId, Invocation, InvocationStream, Time, Workload,
    WorkloadError,
};

mod durations;
mod readers;
mod replay;
#[cfg(test)]
mod tests;

pub(crate) use durations::out_of_order;
pub use durations::{DurationModel, DurationStats};
pub use readers::{open, parse_location};
pub use replay::{CountReplay, EventShaper, MinuteCounts, MinuteStream};

/// The trace formats lambdasim reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// lambdasim's own `functions.csv` + `invocations.csv`.
    Native,
    /// Azure Functions 2019 (Shahrad et al., ATC'20): per-minute counts, duration percentiles, app
    /// memory percentiles; the original layout or In-Vitro's samples.
    Azure2019,
    /// Azure Functions 2021 (Zhang et al., SOSP'21): one row per invocation.
    Azure2021,
    /// Huawei public cloud 2023: requests per minute, one column per function.
    Huawei2023,
}

impl TraceFormat {
    pub const ALL: [TraceFormat; 4] = [
        TraceFormat::Native,
        TraceFormat::Azure2019,
        TraceFormat::Azure2021,
        TraceFormat::Huawei2023,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Native => "native",
            TraceFormat::Azure2019 => "azure2019",
            TraceFormat::Azure2021 => "azure2021",
            TraceFormat::Huawei2023 => "huawei2023",
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TraceFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        TraceFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown trace format {s:?}; expected one of {}",
                    TraceFormat::ALL.map(TraceFormat::name).join(", ")
                )
            })
    }
}

/// How a minute's invocation count becomes arrival times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArrivalMode {
    /// FaasCache: `n` invocations in minute `m` arrive at `m + i/n` minutes, `i = 0..n`.
    #[default]
    Even,
    /// `n` arrivals drawn uniformly at random (seeded) inside the minute.
    Uniform,
    /// A Poisson process at the minute's rate `n / 60 s`: exponential gaps from the minute's
    /// start, stopping at its end. The count per minute varies around `n` (Poisson with mean
    /// `n`), so only the expected total equals the trace's.
    Poisson,
    /// In-Vitro: equally spaced `60 s / n` apart, the whole minute shifted by one uniform offset
    /// in `[0, 60 s / n)`, so arrivals do not pile up on minute boundaries.
    EquidistantShifted,
}

impl ArrivalMode {
    pub const ALL: [ArrivalMode; 4] = [
        ArrivalMode::Even,
        ArrivalMode::Uniform,
        ArrivalMode::Poisson,
        ArrivalMode::EquidistantShifted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ArrivalMode::Even => "even",
            ArrivalMode::Uniform => "uniform",
            ArrivalMode::Poisson => "poisson",
            ArrivalMode::EquidistantShifted => "equidistant-shifted",
        }
    }
}

/// How the Azure 2019 duration statistics become execution times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DurationMode {
    /// Every invocation takes the function's `Average`.
    #[default]
    Average,
    /// FaasCache: a warm invocation takes `Average`, a cold one `Maximum` (the difference is the
    /// function's handler initialization time), both cut to whole milliseconds as FaasCache's
    /// trace generator does.
    Faascache,
    /// Drawn from the piecewise-linear distribution through the seven percentile points
    /// (0, 1, 25, 50, 75, 99, 100).
    Percentiles,
    /// Drawn from a log-normal fitted per function: median = `percentile_Average_50`, mean =
    /// `Average` (sigma = sqrt(2 ln(mean / median)), 0 when the mean is not above the median).
    Lognormal,
}

impl DurationMode {
    pub const ALL: [DurationMode; 4] = [
        DurationMode::Average,
        DurationMode::Faascache,
        DurationMode::Percentiles,
        DurationMode::Lognormal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DurationMode::Average => "average",
            DurationMode::Faascache => "faascache",
            DurationMode::Percentiles => "percentiles",
            DurationMode::Lognormal => "lognormal",
        }
    }
}

/// What a sandbox is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Granularity {
    /// One sandbox runs one function (FaasCache, OpenWhisk).
    #[default]
    Function,
    /// One sandbox runs any function of its app (Azure Functions): an app's functions share
    /// sandboxes, and the app's memory is the sandbox's.
    App,
}

/// Which column of the Azure 2019 memory file gives an app's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryPercentile {
    /// `AverageAllocatedMb`.
    Average,
    /// `AverageAllocatedMb_pctN` for N in 1, 5, 25, 50, 75, 95, 99, 100.
    Pct(u8),
}

impl MemoryPercentile {
    pub const PERCENTILES: [u8; 8] = [1, 5, 25, 50, 75, 95, 99, 100];

    /// The column's name in the Azure 2019 memory file.
    pub fn column(self) -> String {
        match self {
            MemoryPercentile::Average => "AverageAllocatedMb".to_string(),
            MemoryPercentile::Pct(p) => format!("AverageAllocatedMb_pct{p}"),
        }
    }
}

impl Default for MemoryPercentile {
    fn default() -> Self {
        MemoryPercentile::Pct(100)
    }
}

impl fmt::Display for MemoryPercentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryPercentile::Average => f.write_str("average"),
            MemoryPercentile::Pct(p) => write!(f, "pct{p}"),
        }
    }
}

impl FromStr for MemoryPercentile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "average" {
            return Ok(MemoryPercentile::Average);
        }
        s.strip_prefix("pct")
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|p| Self::PERCENTILES.contains(p))
            .map(MemoryPercentile::Pct)
            .ok_or_else(|| {
                format!(
                    "memory percentile {s:?} is not a column of the Azure 2019 memory file; \
                     expected average or one of {}",
                    Self::PERCENTILES.map(|p| format!("pct{p}")).join(", ")
                )
            })
    }
}

impl Serialize for MemoryPercentile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MemoryPercentile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Memory for apps a trace gives none for (Azure 2021, Huawei 2023, Azure 2019 days without a
/// memory file).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MemoryFallback {
    /// Drawn per app from a Burr XII distribution (default: the Azure 2019 fit used by the
    /// synthetic generator), clamped to `[min_mb, max_mb]`.
    Burr {
        #[serde(flatten)]
        burr: BurrSpec,
        #[serde(default = "MemoryFallback::default_min")]
        min_mb: u32,
        #[serde(default = "MemoryFallback::default_max")]
        max_mb: u32,
    },
    /// Every app gets `mb`.
    Fixed { mb: u32 },
}

impl MemoryFallback {
    fn default_min() -> u32 {
        16
    }

    fn default_max() -> u32 {
        4096
    }

    /// Memory in MB of `apps` apps, drawn from the seeded stream.
    pub fn draw(&self, apps: usize, seed: u64) -> Vec<u32> {
        match *self {
            MemoryFallback::Fixed { mb } => vec![mb; apps],
            MemoryFallback::Burr {
                burr,
                min_mb,
                max_mb,
            } => {
                let mut rng = stream(seed, STREAM_MEMORY);
                (0..apps)
                    .map(|_| {
                        let mb = sample_burr(&burr, rng.random::<f64>());
                        mb.round().clamp(f64::from(min_mb), f64::from(max_mb)) as u32
                    })
                    .collect()
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        match *self {
            MemoryFallback::Fixed { mb: 0 } => {
                Err("memory_fallback.mb must be a positive number of MB, got 0".into())
            }
            MemoryFallback::Fixed { .. } => Ok(()),
            MemoryFallback::Burr {
                burr,
                min_mb,
                max_mb,
            } => {
                for (field, v) in [("c", burr.c), ("k", burr.k), ("lambda", burr.lambda)] {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(format!(
                            "memory_fallback.{field} must be a positive number, got {v}"
                        ));
                    }
                }
                if min_mb == 0 || min_mb > max_mb {
                    return Err(format!(
                        "memory_fallback needs 1 <= min_mb <= max_mb, got min_mb {min_mb} and max_mb {max_mb}"
                    ));
                }
                Ok(())
            }
        }
    }
}

impl Default for MemoryFallback {
    fn default() -> Self {
        MemoryFallback::Burr {
            burr: BurrSpec::default(),
            min_mb: Self::default_min(),
            max_mb: Self::default_max(),
        }
    }
}

/// A range of days of the Azure 2019 trace, 1-based and inclusive: `"3"` or `"1-14"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub first: u32,
    pub last: u32,
}

impl DayRange {
    pub fn days(self) -> impl Iterator<Item = u32> {
        self.first..=self.last
    }

    pub fn len(self) -> u32 {
        self.last - self.first + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }
}

impl fmt::Display for DayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl FromStr for DayRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("days {s:?} is not a day or a range of days such as \"3\" or \"1-14\"");
        let day = |t: &str| -> Result<u32, String> {
            let d: u32 = t.trim().parse().map_err(|_| bad())?;
            if (1..=99).contains(&d) {
                Ok(d)
            } else {
                Err(format!(
                    "day {d} is out of range; days are numbered from 1 to 99"
                ))
            }
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => {
                let d = day(s)?;
                (d, d)
            }
        };
        if first > last {
            return Err(format!("days {s:?} ends before it starts"));
        }
        Ok(DayRange { first, last })
    }
}

impl Serialize for DayRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DayRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => n.to_string().parse(),
            Raw::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Rate scaling: multiply every function's rate, or scale so that the replayed trace has a
/// target mean rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum RateScale {
    /// Multiply the rate by this factor.
    Multiply(f64),
    /// Scale to this many invocations per second on average over the window.
    TargetRps(f64),
}

/// Everything about replaying a trace: where it is, how to read it, which part to keep and how
/// to shape it. One flat set of fields, so that a scenario file writes
/// `[workload] kind = "azure2019", path = "...", days = "1-3", arrivals = "poisson"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceSpec {
    /// The trace: a directory (native, Azure 2019) or a file (Azure 2021, Huawei 2023).
    #[serde(alias = "dir")]
    pub path: PathBuf,
    /// Azure 2019 (original layout) only: which day files to replay. Default: the first day found.
    pub days: Option<DayRange>,
    /// Start of the replayed window, from the start of the (first selected day of the) trace.
    pub start: Duration,
    /// Length of the replayed window; `None` replays to the end.
    pub length: Option<Duration>,
    /// Per-minute counts to arrival times (Azure 2019, Huawei 2023).
    pub arrivals: ArrivalMode,
    /// Duration statistics to execution times (Azure 2019).
    pub durations: DurationMode,
    /// Which memory column gives an app's memory (Azure 2019).
    pub memory_percentile: MemoryPercentile,
    /// How an app's memory becomes its functions': divided among them (`split`, FaasCache and
    /// In-Vitro) or each function gets it whole (`per-function`).
    pub app_memory: AppMemory,
    /// Memory where the trace has none.
    pub memory_fallback: MemoryFallback,
    /// Huawei 2023: each function's mean execution time in seconds is log-normal with these
    /// parameters (default: the Azure 2019 fit), since the public files give no durations.
    pub exec: LogNormalSpec,
    /// Huawei 2023: sigma of each invocation's variation around its function's mean.
    pub exec_jitter: f64,
    /// Azure 2019 original layout: keep only functions with one of these triggers (`http`,
    /// `timer`, `queue`, `event`, `storage`, `orchestration`, `others`); empty keeps all.
    pub triggers: Vec<String>,
    /// Count and skip malformed rows instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// Which functions to replay.
    pub sample: Sample,
    /// Rate scaling; `None` replays the trace's rate.
    pub rate: Option<RateScale>,
    /// One sandbox per function or per app.
    pub granularity: Granularity,
}

impl Default for TraceSpec {
    fn default() -> Self {
        TraceSpec {
            path: PathBuf::new(),
            days: None,
            start: Duration::ZERO,
            length: None,
            arrivals: ArrivalMode::default(),
            durations: DurationMode::default(),
            memory_percentile: MemoryPercentile::default(),
            app_memory: AppMemory::Split,
            memory_fallback: MemoryFallback::default(),
            exec: LogNormalSpec {
                mu: -0.38,
                sigma: 2.36,
            },
            exec_jitter: 0.5,
            triggers: Vec::new(),
            skip_bad_rows: false,
            sample: Sample::All,
            rate: None,
            granularity: Granularity::Function,
        }
    }
}

/// Azure Functions' trigger names, as the 2019 trace writes them.
pub const TRIGGERS: [&str; 7] = [
    "http",
    "timer",
    "queue",
    "event",
    "storage",
    "orchestration",
    "others",
];

impl TraceSpec {
    /// Checks the values and that every option set applies to `format`. Messages name the field.
    pub fn validate(&self, format: TraceFormat) -> Result<(), WorkloadError> {
        let fail = |m: String| Err(WorkloadError::Parameter(m));
        if self.path.as_os_str().is_empty() {
            return fail(format!("path must name the {format} trace to replay"));
        }
        let default = TraceSpec::default();
        let only = |field: &str, set: bool, formats: &[TraceFormat]| {
            if set && !formats.contains(&format) {
                Err(WorkloadError::Parameter(format!(
                    "{field} applies to {} traces only, not {format}",
                    formats
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(" and ")
                )))
            } else {
                Ok(())
            }
        };
        use TraceFormat::*;
        only("days", self.days.is_some(), &[Azure2019])?;
        only(
            "arrivals",
            self.arrivals != default.arrivals,
            &[Azure2019, Huawei2023],
        )?;
        only(
            "durations",
            self.durations != default.durations,
            &[Azure2019],
        )?;
        only(
            "memory_percentile",
            self.memory_percentile != default.memory_percentile,
            &[Azure2019],
        )?;
        only("triggers", !self.triggers.is_empty(), &[Azure2019])?;
        only(
            "exec",
            self.exec != default.exec || self.exec_jitter != default.exec_jitter,
            &[Huawei2023],
        )?;
        for t in &self.triggers {
            if !TRIGGERS.contains(&t.as_str()) {
                return fail(format!(
                    "triggers: unknown trigger {t:?}; the Azure 2019 trace has {}",
                    TRIGGERS.join(", ")
                ));
            }
        }
        if self.length == Some(Duration::ZERO) {
            return fail("length must be longer than 0s".into());
        }
        if !(self.exec.mu.is_finite() && self.exec.sigma.is_finite() && self.exec.sigma >= 0.0) {
            return fail(format!(
                "exec needs a finite mu and a sigma of at least 0, got mu {} and sigma {}",
                self.exec.mu, self.exec.sigma
            ));
        }
        if !(self.exec_jitter.is_finite() && self.exec_jitter >= 0.0) {
            return fail(format!(
                "exec_jitter must be a finite number of at least 0, got {}",
                self.exec_jitter
            ));
        }
        self.memory_fallback
            .validate()
            .map_err(WorkloadError::Parameter)?;
        self.sample.validate().map_err(WorkloadError::Parameter)?;
        match self.rate {
            Some(RateScale::Multiply(k)) if !(k.is_finite() && k > 0.0 && k <= 1e6) => fail(
                format!("rate.multiply must be a positive factor of at most 1e6, got {k}"),
            ),
            Some(RateScale::TargetRps(r)) if !(r.is_finite() && r > 0.0 && r <= 1e9) => fail(
                format!("rate.target-rps must be a positive rate of at most 1e9, got {r}"),
            ),
            _ => Ok(()),
        }
    }

    /// The window in trace time, `[start, end)`.
    pub fn window(&self) -> Window {
        Window {
            start: self.start.micros(),
            end: self.length.map_or(Time::MAX, |l| {
                self.start.micros().saturating_add(l.micros())
            }),
        }
    }
}

/// The part of the trace that is replayed, in trace time: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Time,
    /// `Time::MAX` when the window runs to the end of the trace.
    pub end: Time,
}

impl Window {
    pub fn contains(&self, t: Time) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether any of minute `m` (trace time) falls in the window.
    pub fn overlaps_minute(&self, minute: u64) -> bool {
        let from = minute * MICROS_PER_MIN;
        from < self.end && from + MICROS_PER_MIN > self.start
    }
}

/// What a reader did with the rows it saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    /// Files read.
    pub files: Vec<PathBuf>,
    /// Functions (or rows) left out, by reason, e.g. `"no duration row"` → 12.
    pub dropped: BTreeMap<String, u64>,
    /// Malformed rows skipped because of `skip_bad_rows`, and the first few messages.
    pub bad_rows: u64,
    pub bad_row_examples: Vec<String>,
    /// Anything else a user should know (e.g. "no memory file for day 13: memory from the Burr
    /// fallback").
    pub notes: Vec<String>,
}

impl LoadReport {
    pub fn drop(&mut self, reason: &str, n: u64) {
        if n > 0 {
            *self.dropped.entry(reason.to_string()).or_default() += n;
        }
    }

    /// With `skip` set, counts the bad row and returns `Ok`; otherwise returns the error.
    pub fn bad_row(&mut self, skip: bool, error: WorkloadError) -> Result<(), WorkloadError> {
        if !skip {
            return Err(error);
        }
        self.bad_rows += 1;
        if self.bad_row_examples.len() < 5 {
            self.bad_row_examples.push(error.to_string());
        }
        Ok(())
    }
}

/// What [`Trace::into_workload`] asks a reader's stream for.
#[derive(Clone, Debug)]
pub struct StreamRequest {
    /// `keep[f]` for every function of the trace's catalog.
    pub keep: Vec<bool>,
    /// Multiply the rate by this.
    pub scale: f64,
    pub window: Window,
    pub seed: u64,
}

/// The lazy part of an opened trace.
pub trait TraceSource: Send {
    /// Invocations of the kept functions inside the window, in non-decreasing arrival order, with
    /// arrival times relative to the window's start and function ids of the trace's catalog.
    fn stream(self: Box<Self>, request: StreamRequest) -> Result<InvocationStream, WorkloadError>;
}

/// An opened trace.
pub struct Trace {
    pub format: TraceFormat,
    /// Every function kept after cleaning, with memory assigned.
    pub catalog: Catalog,
    /// Invocations of each function inside the window, as recorded (before sampling and rate
    /// scaling). Indexed by function id.
    pub counts: Vec<u64>,
    /// Memory of each app in MB, for app granularity. Indexed by app id.
    pub app_memory_mb: Vec<u32>,
    /// Length of the replayed window in microseconds (the trace's length if it is shorter).
    pub span: Time,
    pub report: LoadReport,
    pub source: Box<dyn TraceSource>,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("format", &self.format)
            .field("functions", &self.catalog.functions.len())
            .field("apps", &self.catalog.apps.len())
            .field("span", &self.span)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// What sampling kept, for reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub functions: usize,
    /// Recorded invocations of the kept functions inside the window.
    pub invocations: u64,
    /// The rate factor applied.
    pub scale: f64,
}

impl Trace {
    /// Samples, scales and shapes the trace into a workload whose catalog holds only the kept
    /// functions (or their apps), with dense ids in the trace's order.
    pub fn into_workload(
        self,
        spec: &TraceSpec,
        seed: u64,
    ) -> Result<(Workload, Selection), WorkloadError> {
        let keep = spec
            .sample
            .select(&self.counts, derive(seed, STREAM_SAMPLE));
        let kept_invocations: u64 = self
            .counts
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .sum();
        if kept_invocations == 0 {
            return Err(WorkloadError::Parameter(format!(
                "the {} trace has no invocations in the chosen window and sample ({} functions kept)",
                self.format,
                keep.iter().filter(|k| **k).count()
            )));
        }
        let scale = match spec.rate {
            None => 1.0,
            Some(RateScale::Multiply(k)) => k,
            Some(RateScale::TargetRps(rps)) => {
                let secs = self.span as f64 / MICROS_PER_SEC as f64;
                rps * secs / kept_invocations as f64
            }
        };
        let (catalog, map) = reduce(&self.catalog, &keep, spec.granularity, &self.app_memory_mb);
        let selection = Selection {
            functions: keep.iter().filter(|k| **k).count(),
            invocations: kept_invocations,
            scale,
        };
        let inner = self.source.stream(StreamRequest {
            keep,
            scale,
            window: spec.window(),
            seed: derive(seed, STREAM_REPLAY),
        })?;
        let invocations: InvocationStream = Box::new(inner.map(move |r| {
            r.map(|inv| Invocation {
                function: FunctionId(map[inv.function.index()]),
                ..inv
            })
        }));
        Ok((
            Workload {
                catalog,
                invocations,
            },
            selection,
        ))
    }
}

/// The catalog of kept functions (or of their apps) and the map from old function ids to new.
fn reduce(
    catalog: &Catalog,
    keep: &[bool],
    granularity: Granularity,
    app_memory_mb: &[u32],
) -> (Catalog, Vec<u32>) {
    let mut map = vec![u32::MAX; catalog.functions.len()];
    let mut app_map = vec![u32::MAX; catalog.apps.len()];
    let mut out = Catalog {
        packages: catalog.packages.clone(),
        ..Catalog::default()
    };
    for (f, function) in catalog.functions.iter().enumerate() {
        if !keep[f] {
            continue;
        }
        let a = function.app.index();
        if app_map[a] == u32::MAX {
            app_map[a] = out.apps.len() as u32;
            out.apps.push(catalog.apps[a].clone());
            if granularity == Granularity::App {
                out.functions.push(Function {
                    name: catalog.apps[a].name.clone(),
                    app: AppId(app_map[a]),
                    memory_mb: app_memory_mb[a],
                    concurrency: None,
                    init: None,
                    packages: Vec::new(),
                });
            }
        }
        match granularity {
            Granularity::Function => {
                map[f] = out.functions.len() as u32;
                out.functions.push(Function {
                    app: AppId(app_map[a]),
                    ..function.clone()
                });
            }
            Granularity::App => {
                map[f] = app_map[a];
                // The app's sandboxes initialize as slowly as its slowest function.
                let unit = &mut out.functions[app_map[a] as usize];
                unit.init = unit.init.max(function.init);
                // It imports what any of its functions imports.
                if !function.packages.is_empty() {
                    unit.packages.extend_from_slice(&function.packages);
                    unit.packages.sort_unstable();
                    unit.packages.dedup();
                }
            }
        }
    }
    (out, map)
}

const STREAM_MEMORY: u64 = 101;
const STREAM_SAMPLE: u64 = 102;
const STREAM_REPLAY: u64 = 103;

/// A seed for one concern of a trace replay.
pub fn derive(seed: u64, stream_id: u64) -> u64 {
    use rand::Rng;
    stream(seed, stream_id).next_u64()
}

/// Interns names: the first function with a name keeps it; a later one with the same name but a
/// different key gets `prefix/name`, so that names stay unique without lengthening the common case.
#[derive(Default)]
pub struct Names {
    used: std::collections::HashSet<String>,
}

impl Names {
    pub fn unique(&mut self, name: &str, prefix: &str) -> String {
        if self.used.insert(name.to_string()) {
            return name.to_string();
        }
        let mut candidate = format!("{prefix}/{name}");
        let mut k = 2;
        while !self.used.insert(candidate.clone()) {
            candidate = format!("{prefix}/{name}#{k}");
            k += 1;
        }
        candidate
    }
}

/// Assigns each function its memory from its app's, as [`AppMemory`] says: `split` divides the
/// app's memory among the app's functions in the catalog (rounded up, at least 1 MB), as FaasCache
/// and In-Vitro do; `per-function` gives each function the app's.
pub fn assign_memory(catalog: &mut Catalog, app_memory_mb: &[u32], mode: AppMemory) {
    let per_app = catalog.functions_per_app();
    for f in &mut catalog.functions {
        let a = f.app.index();
        f.memory_mb = match mode {
            AppMemory::Split => app_memory_mb[a].div_ceil(per_app[a].max(1)).max(1),
            AppMemory::PerFunction => app_memory_mb[a].max(1),
        };
    }
}
