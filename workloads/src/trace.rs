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

/// Per-function execution time model.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationModel {
    /// Always this many microseconds.
    Fixed(Time),
    /// Inverse CDF through `(probability, microseconds)` points, probabilities rising from 0 to 1.
    Piecewise(Vec<(f64, f64)>),
    /// `ln(µs) ~ Normal(mu, sigma)`, clamped to `[min, max]` µs.
    LogNormal {
        mu: f64,
        sigma: f64,
        min: f64,
        max: f64,
    },
}

/// The duration statistics of one Azure 2019 function, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurationStats {
    pub average: f64,
    pub minimum: f64,
    pub maximum: f64,
    /// `percentile_Average_{0,1,25,50,75,99,100}`.
    pub percentiles: [f64; 7],
}

impl DurationStats {
    pub const PERCENTILE_COLUMNS: [&'static str; 7] = [
        "percentile_Average_0",
        "percentile_Average_1",
        "percentile_Average_25",
        "percentile_Average_50",
        "percentile_Average_75",
        "percentile_Average_99",
        "percentile_Average_100",
    ];
    const PROBABILITIES: [f64; 7] = [0.0, 0.01, 0.25, 0.50, 0.75, 0.99, 1.0];

    /// Checks the order the duration models rely on: `Minimum` at most `Maximum` (the clamp of
    /// `lognormal`, the cold time of `faascache`) and percentiles that never decrease (the points
    /// of `percentiles`). The message names the two columns out of order and their values.
    pub fn check_order(&self) -> Result<(), String> {
        if self.minimum > self.maximum {
            return Err(out_of_order(
                "Minimum",
                self.minimum,
                "Maximum",
                self.maximum,
            ));
        }
        for (i, pair) in self.percentiles.windows(2).enumerate() {
            if pair[0] > pair[1] {
                return Err(out_of_order(
                    Self::PERCENTILE_COLUMNS[i],
                    pair[0],
                    Self::PERCENTILE_COLUMNS[i + 1],
                    pair[1],
                ));
            }
        }
        Ok(())
    }

    /// The execution-time model and the cold-start initialization time (FaasCache mode only).
    pub fn model(&self, mode: DurationMode) -> (DurationModel, Option<Time>) {
        let us = |ms: f64| (ms.max(0.0) * MICROS_PER_MS as f64).round();
        match mode {
            DurationMode::Average => (DurationModel::Fixed(us(self.average) as Time), None),
            DurationMode::Faascache => {
                // FaasCache's trace generator keeps whole milliseconds: int(Average), int(Maximum).
                let whole = |ms: f64| us(ms.trunc());
                let extra = (whole(self.maximum) - whole(self.average)).max(0.0) as Time;
                (
                    DurationModel::Fixed(whole(self.average) as Time),
                    Some(extra),
                )
            }
            DurationMode::Percentiles => {
                // The reader refuses rows whose points decrease ([`DurationStats::check_order`]);
                // stats built otherwise get them sorted rather than a negative density.
                let mut values = self.percentiles.map(us);
                values.sort_by(f64::total_cmp);
                DurationModel::piecewise(Self::PROBABILITIES.into_iter().zip(values).collect())
            }
            DurationMode::Lognormal => {
                let mean = us(self.average).max(1.0);
                let median = us(self.percentiles[3]).max(1.0);
                let sigma = if mean > median {
                    (2.0 * (mean / median).ln()).sqrt()
                } else {
                    0.0
                };
                let (lo, hi) = (us(self.minimum), us(self.maximum).max(us(self.minimum)));
                (
                    DurationModel::LogNormal {
                        mu: median.ln(),
                        sigma,
                        min: lo,
                        max: if hi > 0.0 { hi } else { f64::MAX },
                    },
                    None,
                )
            }
        }
    }
}

/// A row's two columns whose values are out of order: `first` should be at most `second`.
pub(crate) fn out_of_order(first: &str, a: f64, second: &str, b: f64) -> String {
    format!(
        "column {first:?} ({a}) is larger than column {second:?} ({b}), which must not be smaller"
    )
}

impl DurationModel {
    fn piecewise(points: Vec<(f64, f64)>) -> (DurationModel, Option<Time>) {
        let first = points[0].1;
        if points.iter().all(|p| p.1 == first) {
            (DurationModel::Fixed(first as Time), None)
        } else {
            (DurationModel::Piecewise(points), None)
        }
    }

    /// One execution time in microseconds.
    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> Time {
        match self {
            DurationModel::Fixed(t) => *t,
            DurationModel::Piecewise(points) => {
                let u: f64 = rng.random();
                let i = points
                    .windows(2)
                    .position(|w| u < w[1].0)
                    .unwrap_or(points.len() - 2);
                let (p0, v0) = points[i];
                let (p1, v1) = points[i + 1];
                let t = if p1 > p0 { (u - p0) / (p1 - p0) } else { 0.0 };
                (v0 + t * (v1 - v0)).round() as Time
            }
            DurationModel::LogNormal {
                mu,
                sigma,
                min,
                max,
            } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp().clamp(*min, *max).round() as Time
            }
        }
    }

    /// Expected value in microseconds, for reports.
    pub fn mean(&self) -> f64 {
        match self {
            DurationModel::Fixed(t) => *t as f64,
            DurationModel::Piecewise(p) => p
                .windows(2)
                .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
                .sum(),
            DurationModel::LogNormal { mu, sigma, .. } => (mu + sigma * sigma / 2.0).exp(),
        }
    }
}

/// Non-zero invocation counts of one minute of a count trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    /// Minutes since the start of the trace (of its first selected day).
    pub minute: u64,
    /// `(function, count)` with count > 0, any order.
    pub cells: Vec<(FunctionId, u32)>,
}

/// A source of minutes in increasing order.
pub type MinuteStream = Box<dyn Iterator<Item = Result<MinuteCounts, WorkloadError>> + Send>;

/// Turns per-minute counts into invocations: keeps the requested functions, scales counts by
/// stochastic rounding (`floor(n k)` plus one with probability `frac(n k)`), spreads each minute's
/// arrivals by the [`ArrivalMode`], draws execution times from each function's
/// [`DurationModel`], and clips to the window. Memory: one minute of invocations.
pub struct CountReplay {
    minutes: MinuteStream,
    mode: ArrivalMode,
    durations: Vec<DurationModel>,
    keep: Vec<bool>,
    scale: f64,
    window: Window,
    arrivals_rng: Xoshiro256PlusPlus,
    scale_rng: Xoshiro256PlusPlus,
    duration_rng: Xoshiro256PlusPlus,
    batch: Vec<Invocation>,
    next: usize,
    last_minute: Option<u64>,
    done: bool,
}

impl CountReplay {
    pub fn new(
        minutes: MinuteStream,
        mode: ArrivalMode,
        durations: Vec<DurationModel>,
        request: StreamRequest,
    ) -> Self {
        CountReplay {
            minutes,
            mode,
            durations,
            keep: request.keep,
            scale: request.scale,
            window: request.window,
            arrivals_rng: stream(request.seed, 1),
            scale_rng: stream(request.seed, 2),
            duration_rng: stream(request.seed, 3),
            batch: Vec::new(),
            next: 0,
            last_minute: None,
            done: false,
        }
    }

    fn fill(&mut self, minute: MinuteCounts) -> Result<(), WorkloadError> {
        if let Some(last) = self.last_minute
            && minute.minute <= last
        {
            return Err(WorkloadError::Parameter(format!(
                "internal: minute {} delivered after minute {last}",
                minute.minute
            )));
        }
        self.last_minute = Some(minute.minute);
        self.batch.clear();
        self.next = 0;
        if !self.window.overlaps_minute(minute.minute) {
            return Ok(());
        }
        let mut cells = minute.cells;
        cells.sort_unstable_by_key(|c| c.0);
        let base = minute.minute * MICROS_PER_MIN;
        let mut counts = Vec::with_capacity(cells.len());
        let mut total: u64 = 0;
        for (f, n) in cells {
            if !self.keep.get(f.index()).copied().unwrap_or(false) || n == 0 {
                continue;
            }
            let n = if self.scale == 1.0 {
                u64::from(n)
            } else {
                let x = f64::from(n) * self.scale;
                let whole = x.floor();
                whole as u64 + u64::from(self.scale_rng.random::<f64>() < x - whole)
            };
            total = total.saturating_add(n);
            counts.push((f, n));
        }
        if total > crate::limits::MAX_ARRIVALS_PER_MINUTE {
            return Err(WorkloadError::Parameter(format!(
                "minute {} of the trace has {total} arrivals (its counts times the rate scale), \
                 more than the {} a minute lambdasim replays",
                minute.minute,
                crate::limits::MAX_ARRIVALS_PER_MINUTE
            )));
        }
        for (f, n) in counts {
            self.spread(f, base, n);
        }
        self.batch.retain(|i| self.window.contains(i.arrival));
        for inv in &mut self.batch {
            inv.arrival -= self.window.start;
        }
        self.batch
            .sort_unstable_by_key(|i| (i.arrival, i.function, i.duration));
        Ok(())
    }

    /// Pushes `n` arrivals of `f` in the minute starting at `base`.
    fn spread(&mut self, f: FunctionId, base: Time, n: u64) {
        if n == 0 {
            return;
        }
        let minute = MICROS_PER_MIN;
        let model = &self.durations[f.index()];
        let mut push = |arrival: Time, rng: &mut Xoshiro256PlusPlus| {
            self.batch.push(Invocation {
                function: f,
                arrival,
                duration: model.sample(rng),
            });
        };
        match self.mode {
            ArrivalMode::Even => {
                for i in 0..n {
                    push(base + i * minute / n, &mut self.duration_rng);
                }
            }
            ArrivalMode::Uniform => {
                for _ in 0..n {
                    let t = self.arrivals_rng.random_range(0..minute);
                    push(base + t, &mut self.duration_rng);
                }
            }
            ArrivalMode::Poisson => {
                let mean_gap = minute as f64 / n as f64;
                let mut t = 0.0;
                loop {
                    let gap: f64 = Exp1.sample(&mut self.arrivals_rng);
                    t += gap * mean_gap;
                    if t >= minute as f64 {
                        break;
                    }
                    push(base + t as Time, &mut self.duration_rng);
                }
            }
            ArrivalMode::EquidistantShifted => {
                let gap = minute as f64 / n as f64;
                let offset = self.arrivals_rng.random::<f64>() * gap;
                for i in 0..n {
                    let t = (offset + i as f64 * gap) as Time;
                    push(base + t.min(minute - 1), &mut self.duration_rng);
                }
            }
        }
    }
}

impl Iterator for CountReplay {
    type Item = Result<Invocation, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.next < self.batch.len() {
                self.next += 1;
                return Some(Ok(self.batch[self.next - 1]));
            }
            if self.done {
                return None;
            }
            match self.minutes.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(m)) => {
                    if m.minute * MICROS_PER_MIN >= self.window.end {
                        self.done = true;
                        return None;
                    }
                    if let Err(e) = self.fill(m) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

/// Shapes a stream of recorded invocations (Azure 2021, native): keeps the requested functions,
/// clips to the window (arrivals relative to its start) and scales the rate. A factor below 1
/// keeps each invocation with that probability; above 1, each invocation is replayed
/// `floor(k)` times plus once more with probability `frac(k)`, the copies after the first placed
/// uniformly at random in the following minute (the trace's own time resolution in 2019), so
/// that copies do not arrive as one burst. The input must be sorted by arrival.
pub struct EventShaper {
    input: InvocationStream,
    keep: Vec<bool>,
    scale: f64,
    window: Window,
    rng: Xoshiro256PlusPlus,
    /// Copies waiting for their time, ordered by (arrival, sequence).
    pending: BinaryHeap<Reverse<(Time, u64, u32, Time)>>,
    sequence: u64,
    /// Arrival of the last original read: the input is sorted, so nothing earlier can still come.
    last_original: Option<Time>,
    input_done: bool,
    failed: bool,
}

impl EventShaper {
    /// Copies are spread over this long after their original.
    pub const COPY_SPREAD: Time = MICROS_PER_MIN;

    pub fn new(input: InvocationStream, request: StreamRequest) -> Self {
        EventShaper {
            input,
            keep: request.keep,
            scale: request.scale,
            window: request.window,
            rng: stream(request.seed, 4),
            pending: BinaryHeap::new(),
            sequence: 0,
            last_original: None,
            input_done: false,
            failed: false,
        }
    }

    fn push(&mut self, inv: Invocation) {
        self.pending.push(Reverse((
            inv.arrival,
            self.sequence,
            inv.function.0,
            inv.duration,
        )));
        self.sequence += 1;
    }

    /// Reads one input invocation into `pending`; false at the end of the input or window.
    fn pull(&mut self) -> Result<bool, WorkloadError> {
        loop {
            let Some(next) = self.input.next() else {
                return Ok(false);
            };
            let inv = next?;
            if inv.arrival >= self.window.end {
                return Ok(false);
            }
            if inv.arrival < self.window.start
                || !self
                    .keep
                    .get(inv.function.index())
                    .copied()
                    .unwrap_or(false)
            {
                continue;
            }
            let inv = Invocation {
                arrival: inv.arrival - self.window.start,
                ..inv
            };
            self.last_original = Some(inv.arrival);
            let copies = if self.scale == 1.0 {
                1
            } else {
                let whole = self.scale.floor();
                whole as u64 + u64::from(self.rng.random::<f64>() < self.scale - whole)
            };
            let span = (self.window.end - self.window.start).saturating_sub(inv.arrival);
            for c in 0..copies {
                let delay = if c == 0 {
                    0
                } else {
                    self.rng.random_range(0..Self::COPY_SPREAD.min(span).max(1))
                };
                self.push(Invocation {
                    arrival: inv.arrival + delay,
                    ..inv
                });
            }
            return Ok(true);
        }
    }
}

impl Iterator for EventShaper {
    type Item = Result<Invocation, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // A pending invocation may be emitted once the input has reached its time.
        loop {
            let ready = match (self.pending.peek(), self.input_done) {
                (Some(_), true) => true,
                (Some(Reverse(head)), false) => self.last_original.is_some_and(|t| head.0 <= t),
                (None, true) => return None,
                (None, false) => false,
            };
            if ready {
                let Reverse((arrival, _, f, duration)) = self.pending.pop()?;
                return Some(Ok(Invocation {
                    function: FunctionId(f),
                    arrival,
                    duration,
                }));
            }
            match self.pull() {
                Ok(true) => {}
                Ok(false) => self.input_done = true,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Opens a trace of any format.
pub fn open(format: TraceFormat, spec: &TraceSpec, seed: u64) -> Result<Trace, WorkloadError> {
    match format {
        TraceFormat::Native => crate::native::open(spec, seed),
        TraceFormat::Azure2019 => crate::azure2019::open(spec, seed),
        TraceFormat::Azure2021 => crate::azure2021::open(spec, seed),
        TraceFormat::Huawei2023 => crate::huawei2023::open(spec, seed),
    }
}

/// Splits a `FORMAT:PATH` argument such as `azure2019:traces/azure`.
pub fn parse_location(text: &str) -> Result<(TraceFormat, PathBuf), String> {
    let (format, path) = text.split_once(':').ok_or_else(|| {
        format!(
            "trace {text:?} must be written FORMAT:PATH, e.g. azure2019:traces/azure; formats: {}",
            TraceFormat::ALL.map(TraceFormat::name).join(", ")
        )
    })?;
    if path.is_empty() {
        return Err(format!("trace {text:?} names no path after {format:?}"));
    }
    Ok((format.parse()?, PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Time = MICROS_PER_MIN;
    const SEC: Time = MICROS_PER_SEC;

    fn request(functions: usize, scale: f64, window: Window) -> StreamRequest {
        StreamRequest {
            keep: vec![true; functions],
            scale,
            window,
            seed: 42,
        }
    }

    const ALL_TIME: Window = Window {
        start: 0,
        end: Time::MAX,
    };

    fn minutes(list: Vec<(u64, Vec<(u32, u32)>)>) -> MinuteStream {
        Box::new(list.into_iter().map(|(minute, cells)| {
            Ok(MinuteCounts {
                minute,
                cells: cells.into_iter().map(|(f, n)| (FunctionId(f), n)).collect(),
            })
        }))
    }

    fn replay(
        mode: ArrivalMode,
        list: Vec<(u64, Vec<(u32, u32)>)>,
        req: StreamRequest,
    ) -> Vec<Invocation> {
        let models = vec![DurationModel::Fixed(5); req.keep.len()];
        CountReplay::new(minutes(list), mode, models, req)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn arrivals(inv: &[Invocation]) -> Vec<Time> {
        inv.iter().map(|i| i.arrival).collect()
    }

    #[test]
    fn even_spreads_a_minute_equally() {
        // 3 invocations in minute 2 (index 1) arrive at 60, 80 and 100 s.
        let out = replay(
            ArrivalMode::Even,
            vec![(1, vec![(0, 3)])],
            request(1, 1.0, ALL_TIME),
        );
        assert_eq!(arrivals(&out), [60 * SEC, 80 * SEC, 100 * SEC]);
        assert!(out.iter().all(|i| i.duration == 5));
    }

    #[test]
    fn functions_of_one_minute_are_merged_in_time_order() {
        let out = replay(
            ArrivalMode::Even,
            vec![(0, vec![(1, 2), (0, 3)]), (2, vec![(1, 1)])],
            request(2, 1.0, ALL_TIME),
        );
        let got: Vec<(Time, u32)> = out.iter().map(|i| (i.arrival, i.function.0)).collect();
        assert_eq!(
            got,
            [
                (0, 0),
                (0, 1),
                (20 * SEC, 0),
                (30 * SEC, 1),
                (40 * SEC, 0),
                (120 * SEC, 1)
            ]
        );
    }

    #[test]
    fn uniform_keeps_the_count_inside_the_minute() {
        let out = replay(
            ArrivalMode::Uniform,
            vec![(3, vec![(0, 1000)])],
            request(1, 1.0, ALL_TIME),
        );
        assert_eq!(out.len(), 1000);
        assert!(out.iter().all(|i| (3 * MIN..4 * MIN).contains(&i.arrival)));
        assert!(out.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        // Spread over the whole minute, not piled at its start.
        let late = out
            .iter()
            .filter(|i| i.arrival >= 3 * MIN + 30 * SEC)
            .count();
        assert!(
            (400..600).contains(&late),
            "{late} of 1000 in the second half"
        );
    }

    #[test]
    fn poisson_count_varies_around_the_trace_count() {
        let list = (0..200).map(|m| (m, vec![(0, 50)])).collect();
        let out = replay(ArrivalMode::Poisson, list, request(1, 1.0, ALL_TIME));
        // 200 minutes x 50: Poisson total with mean 10,000 and sd 100.
        assert!((9_600..10_400).contains(&out.len()), "{}", out.len());
        assert_ne!(out.len(), 10_000);
        let mut per_minute = vec![0u32; 200];
        for i in &out {
            per_minute[(i.arrival / MIN) as usize] += 1;
        }
        assert!(
            per_minute.iter().any(|&n| n != 50),
            "counts vary per minute"
        );
    }

    #[test]
    fn equidistant_shifted_keeps_the_spacing() {
        let out = replay(
            ArrivalMode::EquidistantShifted,
            vec![(0, vec![(0, 4)])],
            request(1, 1.0, ALL_TIME),
        );
        let t = arrivals(&out);
        assert_eq!(t.len(), 4);
        assert!(t[0] < 15 * SEC, "offset below one gap: {}", t[0]);
        for w in t.windows(2) {
            let gap = w[1] - w[0];
            assert!((15 * SEC - 1..=15 * SEC + 1).contains(&gap), "{gap}");
        }
        assert_ne!(t[0], 0, "shifted, not aligned to the minute");
    }

    #[test]
    fn scaling_counts_rounds_stochastically() {
        let list: Vec<_> = (0..100).map(|m| (m, vec![(0, 3)])).collect();
        let half = replay(ArrivalMode::Even, list.clone(), request(1, 0.5, ALL_TIME));
        // 1.5 per minute: 1 or 2 each minute, 150 in expectation.
        assert!((120..180).contains(&half.len()), "{}", half.len());
        let double = replay(ArrivalMode::Even, list, request(1, 2.0, ALL_TIME));
        assert_eq!(double.len(), 600);
    }

    #[test]
    fn window_clips_and_shifts() {
        let window = Window {
            start: 70 * SEC,
            end: 130 * SEC,
        };
        // Minute 1 at 60, 80, 100 s; minute 2 at 120, 150 s.
        let out = replay(
            ArrivalMode::Even,
            vec![
                (0, vec![(0, 1)]),
                (1, vec![(0, 3)]),
                (2, vec![(0, 2)]),
                (5, vec![(0, 1)]),
            ],
            request(1, 1.0, window),
        );
        assert_eq!(arrivals(&out), [10 * SEC, 30 * SEC, 50 * SEC]);
    }

    #[test]
    fn unkept_functions_are_left_out() {
        let mut req = request(2, 1.0, ALL_TIME);
        req.keep[1] = false;
        let out = replay(ArrivalMode::Even, vec![(0, vec![(0, 1), (1, 5)])], req);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].function, FunctionId(0));
    }

    #[test]
    fn count_replay_is_deterministic() {
        let list: Vec<_> = (0..20).map(|m| (m, vec![(0, 7), (1, 3)])).collect();
        for mode in ArrivalMode::ALL {
            let a = replay(mode, list.clone(), request(2, 1.3, ALL_TIME));
            let b = replay(mode, list.clone(), request(2, 1.3, ALL_TIME));
            assert_eq!(a, b, "{}", mode.name());
        }
    }

    fn events(list: &[(u32, Time)]) -> InvocationStream {
        let v: Vec<_> = list
            .iter()
            .map(|&(f, arrival)| {
                Ok(Invocation {
                    function: FunctionId(f),
                    arrival,
                    duration: 1,
                })
            })
            .collect();
        Box::new(v.into_iter())
    }

    #[test]
    fn event_shaper_windows_and_filters() {
        let mut req = request(2, 1.0, Window { start: 10, end: 40 });
        req.keep[1] = false;
        let out: Vec<_> = EventShaper::new(
            events(&[(0, 5), (0, 10), (1, 20), (0, 39), (0, 40), (0, 50)]),
            req,
        )
        .collect::<Result<_, _>>()
        .unwrap();
        assert_eq!(arrivals(&out), [0, 29]);
    }

    #[test]
    fn event_shaper_thins_and_replicates_in_order() {
        let input: Vec<(u32, Time)> = (0..1000).map(|i| (0, i * SEC)).collect();
        let thin: Vec<_> = EventShaper::new(events(&input), request(1, 0.25, ALL_TIME))
            .collect::<Result<_, _>>()
            .unwrap();
        assert!((200..300).contains(&thin.len()), "{}", thin.len());
        let more: Vec<_> = EventShaper::new(events(&input), request(1, 2.5, ALL_TIME))
            .collect::<Result<_, _>>()
            .unwrap();
        assert!((2_400..2_600).contains(&more.len()), "{}", more.len());
        assert!(more.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        // Every original is still there.
        assert!(
            input
                .iter()
                .all(|&(_, t)| more.iter().any(|i| i.arrival == t))
        );
        let again: Vec<_> = EventShaper::new(events(&input), request(1, 2.5, ALL_TIME))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(more, again);
    }

    #[test]
    fn event_shaper_passes_errors_on_and_stops() {
        let input: InvocationStream = Box::new(
            vec![
                Ok(Invocation {
                    function: FunctionId(0),
                    arrival: 1,
                    duration: 1,
                }),
                Err(WorkloadError::Parameter("bad row".into())),
            ]
            .into_iter(),
        );
        let mut s = EventShaper::new(input, request(1, 1.0, ALL_TIME));
        assert!(s.next().unwrap().is_ok());
        assert!(s.next().unwrap().is_err());
        assert!(s.next().is_none());
    }

    fn stats() -> DurationStats {
        DurationStats {
            average: 100.0,
            minimum: 10.0,
            maximum: 900.0,
            percentiles: [10.0, 12.0, 40.0, 60.0, 120.0, 800.0, 900.0],
        }
    }

    #[test]
    fn duration_modes() {
        let mut rng = stream(1, 1);
        let (m, init) = stats().model(DurationMode::Average);
        assert_eq!((m, init), (DurationModel::Fixed(100_000), None));
        let (m, init) = stats().model(DurationMode::Faascache);
        assert_eq!((m, init), (DurationModel::Fixed(100_000), Some(800_000)));
        // FaasCache cuts both to whole milliseconds: int(100.9) = 100, int(900.7) = 900.
        let fractional = DurationStats {
            average: 100.9,
            maximum: 900.7,
            ..stats()
        };
        let (m, init) = fractional.model(DurationMode::Faascache);
        assert_eq!((m, init), (DurationModel::Fixed(100_000), Some(800_000)));

        let (m, _) = stats().model(DurationMode::Percentiles);
        let draws: Vec<Time> = (0..20_000).map(|_| m.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&d| (10_000..=900_000).contains(&d)));
        let below_median = draws.iter().filter(|&&d| d < 60_000).count() as f64 / 20_000.0;
        assert!((0.48..0.52).contains(&below_median), "{below_median}");
        // Between p25 and p75 linearly: half the draws fall in [40, 120] ms.
        let middle = draws
            .iter()
            .filter(|&&d| (40_000..=120_000).contains(&d))
            .count() as f64
            / 20_000.0;
        assert!((0.48..0.52).contains(&middle), "{middle}");

        let (m, _) = stats().model(DurationMode::Lognormal);
        let DurationModel::LogNormal { mu, sigma, .. } = m else {
            panic!("log-normal expected, got {m:?}");
        };
        assert!((mu - 60_000f64.ln()).abs() < 1e-9);
        assert!((sigma - (2.0 * (100.0f64 / 60.0).ln()).sqrt()).abs() < 1e-9);
        let draws: Vec<Time> = (0..20_000).map(|_| m.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&d| (10_000..=900_000).contains(&d)));
    }

    #[test]
    fn option_parsing() {
        assert_eq!(
            "3".parse::<DayRange>().unwrap(),
            DayRange { first: 3, last: 3 }
        );
        assert_eq!(
            "1-14".parse::<DayRange>().unwrap(),
            DayRange { first: 1, last: 14 }
        );
        assert!(
            "5-2"
                .parse::<DayRange>()
                .unwrap_err()
                .contains("ends before")
        );
        assert!(
            "0".parse::<DayRange>()
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(
            "pct50".parse::<MemoryPercentile>().unwrap().column(),
            "AverageAllocatedMb_pct50"
        );
        assert!(
            "pct60"
                .parse::<MemoryPercentile>()
                .unwrap_err()
                .contains("pct100")
        );
        let (f, p) = parse_location("azure2019:some/dir").unwrap();
        assert_eq!((f, p), (TraceFormat::Azure2019, PathBuf::from("some/dir")));
        assert!(
            parse_location("azure2019")
                .unwrap_err()
                .contains("FORMAT:PATH")
        );
        assert!(
            parse_location("az:x")
                .unwrap_err()
                .contains("unknown trace format")
        );
    }

    #[test]
    fn options_that_do_not_apply_are_refused() {
        let spec = TraceSpec {
            path: "x".into(),
            days: Some(DayRange { first: 1, last: 2 }),
            ..TraceSpec::default()
        };
        assert!(spec.validate(TraceFormat::Azure2019).is_ok());
        let err = spec
            .validate(TraceFormat::Azure2021)
            .unwrap_err()
            .to_string();
        assert!(err.contains("days applies to azure2019"), "{err}");
        let spec = TraceSpec {
            path: "x".into(),
            triggers: vec!["cron".into()],
            ..TraceSpec::default()
        };
        let err = spec
            .validate(TraceFormat::Azure2019)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown trigger \"cron\""), "{err}");
        let spec = TraceSpec {
            path: "x".into(),
            rate: Some(RateScale::Multiply(0.0)),
            ..TraceSpec::default()
        };
        assert!(spec.validate(TraceFormat::Native).is_err());
    }

    fn catalog() -> Catalog {
        let f = |name: &str, app: u32, memory_mb: u32, init: Option<Time>| Function {
            name: name.into(),
            app: AppId(app),
            memory_mb,
            concurrency: None,
            init,
            packages: Vec::new(),
        };
        Catalog {
            packages: Default::default(),
            functions: vec![
                f("f0", 0, 100, None),
                f("f1", 1, 200, Some(5)),
                f("f2", 0, 300, Some(9)),
                f("f3", 2, 400, None),
            ],
            apps: ["a0", "a1", "a2"]
                .map(|n| crate::App { name: n.into() })
                .to_vec(),
        }
    }

    #[test]
    fn reduce_keeps_functions_or_apps_densely() {
        let keep = [true, false, true, true];
        let (c, map) = reduce(
            &catalog(),
            &keep,
            Granularity::Function,
            &[1000, 2000, 3000],
        );
        let names: Vec<_> = c.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["f0", "f2", "f3"]);
        assert_eq!(c.apps.len(), 2);
        assert_eq!(c.functions[2].app, AppId(1));
        assert_eq!(map[..], [0, u32::MAX, 1, 2]);

        let (c, map) = reduce(&catalog(), &keep, Granularity::App, &[1000, 2000, 3000]);
        let units: Vec<_> = c
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.memory_mb, f.init))
            .collect();
        assert_eq!(units, [("a0", 1000, Some(9)), ("a2", 3000, None)]);
        assert_eq!(map[..], [0, u32::MAX, 0, 1]);
    }

    #[test]
    fn memory_split_and_per_function() {
        let mut c = catalog();
        assign_memory(&mut c, &[513, 200, 64], AppMemory::Split);
        let mb: Vec<u32> = c.functions.iter().map(|f| f.memory_mb).collect();
        assert_eq!(mb, [257, 200, 257, 64]);
        assign_memory(&mut c, &[513, 200, 64], AppMemory::PerFunction);
        let mb: Vec<u32> = c.functions.iter().map(|f| f.memory_mb).collect();
        assert_eq!(mb, [513, 200, 513, 64]);
    }

    #[test]
    fn memory_fallback_draws() {
        assert_eq!(
            MemoryFallback::Fixed { mb: 300 }.draw(3, 1),
            [300, 300, 300]
        );
        let burr = MemoryFallback::default();
        let a = burr.draw(1000, 5);
        assert_eq!(a, burr.draw(1000, 5));
        assert!(a.iter().all(|&m| (16..=4096).contains(&m)));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        // The Burr fit's median is about 150 MB (Azure 2019 app memory).
        assert!((100..220).contains(&sorted[500]), "median {}", sorted[500]);
    }

    #[test]
    fn names_stay_unique() {
        let mut n = Names::default();
        assert_eq!(n.unique("f", "a"), "f");
        assert_eq!(n.unique("f", "b"), "b/f");
        assert_eq!(n.unique("f", "b"), "b/f#2");
    }
}
