//! Hybrid histogram keep-alive with pre-warming, from "Serverless in the Wild" (Shahrad et al.,
//! USENIX ATC'20, §4.2).
//!
//! The paper's policy works per application: all functions of an app are loaded and unloaded
//! together, so they share one record of the app's idle times (IT) and one decision. It keeps a
//! range-limited histogram of ITs (1-minute bins up to 4 hours; longer ITs are only counted, as
//! out of bounds) and, after each execution, sets two windows measured from the end of that
//! execution: a pre-warming window (unload now, load again when it ends) and a keep-alive window
//! (how long the loaded app then stays warm). Which windows depends on what the app's ITs look
//! like:
//!
//! 1. Too few ITs (fewer than `min_samples`; the paper gives no number, 10 here): the histogram
//!    cannot represent the app yet, so the standard keep-alive of the paper's fallback applies:
//!    no pre-warming, keep for the histogram range (4 hours).
//! 2. Too many ITs out of bounds (a fraction above `oob_threshold`, 0.5: the paper says "a large
//!    fraction"): the histogram cannot see them, so a time-series forecast of the next IT is used
//!    instead (the paper uses ARIMA; see [`forecast_idle_time`]): pre-warm after 85% of the
//!    forecast and keep until 115% of it (`forecast_margin` = 15% either side).
//! 3. A representative histogram (coefficient of variation of the bin counts at least
//!    `cv_threshold` = 2, i.e. ITs concentrated in a few bins): pre-warm after the head (the
//!    `head` = 5th percentile, rounded down to its bin's lower edge) less a `margin` of 10%, and
//!    keep until the tail (the `tail` = 99th percentile, rounded up to its bin's upper edge) plus
//!    10%. The keep-alive window is therefore `1.1 × tail − 0.9 × head`.
//! 4. Otherwise (ITs spread out, CV below 2): the same standard keep-alive as in 1.
//!
//! A pre-warming window of 0 (a head in the first bin, say) means "do not unload": the sandbox is
//! kept warm until the keep-alive window ends. Otherwise the sandbox is destroyed at once and the
//! controller loads a fresh one of the same function on the same worker when the pre-warming
//! window ends ([`IdleDecision::Prewarm`]). When a keep-alive deadline passes with the sandbox
//! unused it is destroyed. Memory pressure evicts the least recently used idle sandboxes first
//! (the default [`KeepAlive::choose_victims`]).
//!
//! ## Idle times as measured here
//!
//! An app is *busy* while any of its (non-provisioned) sandboxes is running an invocation, from
//! the invocation's start until the sandbox reports idle (or is destroyed). The app becomes
//! *idle* when its last busy sandbox goes idle; that time is the end of its last execution. An
//! IT is recorded at an arrival of any function of the app if the app is idle then and has been
//! idle since its last end: `IT = arrival − last end`. So:
//! - concurrent or overlapping invocations record nothing: an arrival while another invocation of
//!   the app runs did not follow an idle period (the app has no IT between them);
//! - an arrival while an earlier one is still being started (a cold start in progress, or queued)
//!   records nothing either: every arrival marks the app as not idle until the next end;
//! - a dropped invocation never runs, so the next arrival records nothing unless an execution
//!   ended in between; the first invocation of an app records nothing (there is no end before it);
//! - an invocation of another function of the app that waits in a queue while the app's last
//!   running sandbox goes idle is not seen as busy (a rare case under memory pressure);
//! - provisioned sandboxes are not reported idle by the controller and are ignored here.
//!
//! The histogram and the counts cover the whole run. To keep the arithmetic exact and bounded,
//! once an app has 2^31 ITs all its counts are halved (rounding up), which keeps the shape.
//! The forecaster sees the app's last 32 ITs, in and out of bounds.
//!
//! Percentiles are nearest-rank over the in-range ITs: the `p` percentile is the first bin whose
//! cumulative count reaches `ceil(p × n)` (at least 1). The CV is the population standard
//! deviation of the bin counts over their mean: ITs all in one bin give `sqrt(bins − 1)` (15.5
//! for 240 bins), ITs spread evenly over `k` bins give `sqrt(bins / k − 1)`, so with the defaults
//! a histogram is representative when its ITs fall in at most about 48 bins.
//!
//! Parameters (`keep_alive = { kind = "hybrid", ... }`), defaults from the paper: `bin` = 1m,
//! `range` = 4h, `head` = 0.05, `tail` = 0.99, `margin` = 0.1, `forecast_margin` = 0.15,
//! `cv_threshold` = 2, `oob_threshold` = 0.5, `min_samples` = 10.

use serde::{Deserialize, Serialize};
use sim::record::{DestroyReason, StartKind};
use sim::{IdleDecision, KeepAlive, Platform, Sandbox};
use workloads::time::{MICROS_PER_DAY, MICROS_PER_SEC};
use workloads::{AppId, Duration, FunctionId, Time};

/// How many of an app's most recent idle times the forecaster sees.
pub const FORECAST_WINDOW: usize = 32;

/// The smallest forecast [`forecast_idle_time`] returns.
pub const MIN_FORECAST: Time = MICROS_PER_SEC;

/// The largest forecast [`forecast_idle_time`] returns.
pub const MAX_FORECAST: Time = 365 * MICROS_PER_DAY;

/// The most bins a histogram may have (`range / bin`), which bounds the memory per app.
pub const MAX_BINS: u64 = 100_000;

/// When an app has this many idle times, its counts are halved.
const DECAY_AT: u64 = 1 << 31;

/// Parameters of the hybrid histogram policy. Defaults are the paper's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HybridConfig {
    /// Width of a histogram bin.
    pub bin: Duration,
    /// Idle times up to this long go into the histogram; longer ones are out of bounds. Also the
    /// standard keep-alive used when the histogram is not representative.
    pub range: Duration,
    /// Percentile of the idle times that sets the pre-warming window (the head).
    pub head: f64,
    /// Percentile of the idle times that sets the end of the keep-alive window (the tail).
    pub tail: f64,
    /// Safety margin of the histogram windows: the pre-warming window shrinks by it, the tail
    /// grows by it.
    pub margin: f64,
    /// Safety margin around a forecast idle time: pre-warm at `1 − forecast_margin` of it, keep
    /// until `1 + forecast_margin` of it.
    pub forecast_margin: f64,
    /// A histogram whose bin counts have at least this coefficient of variation is representative.
    pub cv_threshold: f64,
    /// Above this fraction of out-of-bounds idle times, the next one is forecast instead.
    pub oob_threshold: f64,
    /// Idle times an app needs before its histogram or forecast is used.
    pub min_samples: u32,
}

impl Default for HybridConfig {
    fn default() -> Self {
        HybridConfig {
            bin: Duration::from_mins(1),
            range: Duration::from_mins(240),
            head: 0.05,
            tail: 0.99,
            margin: 0.1,
            forecast_margin: 0.15,
            cv_threshold: 2.0,
            oob_threshold: 0.5,
            min_samples: 10,
        }
    }
}

impl HybridConfig {
    /// Checks the parameters; the message names the field and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let (bin, range) = (self.bin.micros(), self.range.micros());
        if bin == 0 {
            return Err("keep_alive.bin must be longer than 0s".to_string());
        }
        if range < bin {
            return Err(format!(
                "keep_alive.range must be at least keep_alive.bin ({}), got {}",
                self.bin, self.range
            ));
        }
        let bins = range.div_ceil(bin);
        if bins > MAX_BINS {
            return Err(format!(
                "keep_alive.range must be at most {MAX_BINS} bins of keep_alive.bin ({}), got {bins} \
                 (range {})",
                self.bin, self.range
            ));
        }
        let fraction = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "keep_alive.{name} must be a fraction in [0, 1], got {value}"
                ))
            }
        };
        fraction("head", self.head)?;
        fraction("tail", self.tail)?;
        if self.head > self.tail {
            return Err(format!(
                "keep_alive.head ({}) must not exceed keep_alive.tail ({})",
                self.head, self.tail
            ));
        }
        for (name, value) in [
            ("margin", self.margin),
            ("forecast_margin", self.forecast_margin),
        ] {
            if !(0.0..1.0).contains(&value) {
                return Err(format!("keep_alive.{name} must be in [0, 1), got {value}"));
            }
        }
        if !(self.cv_threshold.is_finite() && self.cv_threshold > 0.0) {
            return Err(format!(
                "keep_alive.cv_threshold must be positive, got {}",
                self.cv_threshold
            ));
        }
        fraction("oob_threshold", self.oob_threshold)?;
        if self.min_samples == 0 {
            return Err("keep_alive.min_samples must be at least 1, got 0".to_string());
        }
        Ok(())
    }

    /// A short label with the parameters, e.g. `hybrid(bin=1m,range=4h,...)`.
    pub fn label(&self) -> String {
        format!(
            "hybrid(bin={},range={},head={},tail={},margin={},forecast_margin={},cv_threshold={},\
             oob_threshold={},min_samples={})",
            self.bin,
            self.range,
            self.head,
            self.tail,
            self.margin,
            self.forecast_margin,
            self.cv_threshold,
            self.oob_threshold,
            self.min_samples
        )
    }
}

/// Which rule set an app's windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// Fewer than `min_samples` idle times: standard keep-alive for the range.
    TooFewSamples,
    /// Too many idle times out of bounds: windows around a forecast of the next one.
    Forecast,
    /// A representative histogram: windows from its head and tail.
    Histogram,
    /// A histogram too spread out to be representative: standard keep-alive for the range.
    NotRepresentative,
}

/// An app's windows, measured from the end of an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub regime: Regime,
    /// How long to stay unloaded before loading again; 0 keeps the sandbox loaded.
    pub prewarm: Time,
    /// How long to stay loaded after the pre-warming window.
    pub keep_alive: Time,
}

/// Histogram geometry, in microseconds.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    bin: Time,
    range: Time,
    bins: usize,
}

/// What the policy knows about one app.
#[derive(Clone, Debug, Default)]
struct AppState {
    /// Idle times per bin; empty until the first idle time.
    counts: Vec<u32>,
    /// Idle times in the histogram's range, and beyond it.
    in_range: u64,
    oob: u64,
    /// Sum of the squared bin counts, for the coefficient of variation.
    sum_sq: u64,
    /// The last `FORECAST_WINDOW` idle times, a ring written at `next` once full.
    recent: Vec<Time>,
    next: usize,
    /// Sandboxes of the app running an invocation.
    running: u32,
    /// When the app's last execution ended, if no invocation of it arrived since.
    idle_since: Option<Time>,
}

impl AppState {
    fn record(&mut self, it: Time, geometry: Geometry) {
        if self.counts.is_empty() {
            self.counts = vec![0; geometry.bins];
            self.recent = Vec::with_capacity(FORECAST_WINDOW);
        }
        if it < geometry.range {
            let count = &mut self.counts[(it / geometry.bin) as usize];
            self.sum_sq += 2 * u64::from(*count) + 1;
            *count += 1;
            self.in_range += 1;
        } else {
            self.oob += 1;
        }
        if self.recent.len() < FORECAST_WINDOW {
            self.recent.push(it);
        } else {
            self.recent[self.next] = it;
            self.next = (self.next + 1) % FORECAST_WINDOW;
        }
        if self.in_range + self.oob >= DECAY_AT {
            self.halve();
        }
    }

    /// Halves every count, rounding up so that no bin empties.
    fn halve(&mut self) {
        self.in_range = 0;
        self.sum_sq = 0;
        for count in &mut self.counts {
            *count = count.div_ceil(2);
            let c = u64::from(*count);
            self.in_range += c;
            self.sum_sq += c * c;
        }
        self.oob = self.oob.div_ceil(2);
    }

    /// Coefficient of variation of the bin counts (0 for an empty histogram).
    fn cv(&self) -> f64 {
        if self.in_range == 0 {
            return 0.0;
        }
        let bins = self.counts.len() as f64;
        let mean = self.in_range as f64 / bins;
        let variance = (self.sum_sq as f64 / bins - mean * mean).max(0.0);
        variance.sqrt() / mean
    }

    /// Bins holding the `head` and `tail` percentiles of the in-range idle times (nearest rank).
    fn percentile_bins(&self, head: f64, tail: f64) -> (usize, usize) {
        let n = self.in_range;
        let rank = |p: f64| ((p * n as f64).ceil() as u64).clamp(1, n);
        let (head_rank, tail_rank) = (rank(head), rank(tail));
        let last = self.counts.len() - 1;
        let mut head_bin = None;
        let mut cumulative = 0u64;
        for (i, &count) in self.counts.iter().enumerate() {
            cumulative += u64::from(count);
            if head_bin.is_none() && cumulative >= head_rank {
                head_bin = Some(i);
            }
            if cumulative >= tail_rank {
                return (head_bin.unwrap_or(i), i);
            }
        }
        (head_bin.unwrap_or(last), last)
    }

    /// The recent idle times, oldest first, copied into `buffer`.
    fn recent_in_order<'a>(&self, buffer: &'a mut [Time; FORECAST_WINDOW]) -> &'a [Time] {
        let n = self.recent.len();
        let (newer, older) = self.recent.split_at(self.next.min(n));
        buffer[..older.len()].copy_from_slice(older);
        buffer[older.len()..n].copy_from_slice(newer);
        &buffer[..n]
    }
}

/// Forecasts the next idle time from `series` (idle times in microseconds, oldest first; only
/// the last [`FORECAST_WINDOW`] are used), standing in for the paper's ARIMA model.
///
/// Fits an AR(1) model around the mean to `ln(1 + seconds)` of the idle times by Yule-Walker
/// (lag-1 autocorrelation, clamped to ±0.95) and forecasts one step ahead: in log space the
/// model follows multiplicative changes and the forecast cannot go negative. With fewer than 3
/// idle times, or a series without variance (constant), it answers their median instead, and
/// also whenever the fitted forecast is not a finite positive number. The answer is clamped to
/// [`MIN_FORECAST`, `MAX_FORECAST`], so it is always finite and positive; an empty series gives
/// `MIN_FORECAST`.
pub fn forecast_idle_time(series: &[Time]) -> Time {
    let series = &series[series.len().saturating_sub(FORECAST_WINDOW)..];
    let n = series.len();
    if n == 0 {
        return MIN_FORECAST;
    }
    let mut sorted = [0 as Time; FORECAST_WINDOW];
    sorted[..n].copy_from_slice(series);
    sorted[..n].sort_unstable();
    let (a, b) = (sorted[(n - 1) / 2], sorted[n / 2]);
    let median = a / 2 + b / 2 + (a % 2 + b % 2) / 2;
    let clamp = |t: Time| t.clamp(MIN_FORECAST, MAX_FORECAST);
    if n < 3 {
        return clamp(median);
    }
    let mut logs = [0f64; FORECAST_WINDOW];
    for (y, &t) in logs.iter_mut().zip(series) {
        *y = (t as f64 / MICROS_PER_SEC as f64).ln_1p();
    }
    let logs = &logs[..n];
    let mean = logs.iter().sum::<f64>() / n as f64;
    let c0 = logs.iter().map(|y| (y - mean) * (y - mean)).sum::<f64>() / n as f64;
    let c1 = logs
        .windows(2)
        .map(|w| (w[0] - mean) * (w[1] - mean))
        .sum::<f64>()
        / n as f64;
    if !(c0.is_finite() && c0 > 1e-12) {
        return clamp(median);
    }
    let phi = (c1 / c0).clamp(-0.95, 0.95);
    let next = mean + phi * (logs[n - 1] - mean);
    let micros = next.exp_m1() * MICROS_PER_SEC as f64;
    if !(micros.is_finite() && micros > 0.0) {
        return clamp(median);
    }
    clamp(micros.min(MAX_FORECAST as f64).round() as Time)
}

/// The hybrid histogram policy: per-app keep-alive and pre-warming windows from a histogram of
/// idle times, or from a forecast when most idle times are too long for the histogram.
#[derive(Clone, Debug)]
pub struct HybridHistogram {
    geometry: Geometry,
    head: f64,
    tail: f64,
    margin: f64,
    forecast_margin: f64,
    cv_threshold: f64,
    oob_threshold: f64,
    min_samples: u64,
    /// Per app, by dense id; grown on demand.
    apps: Vec<AppState>,
    /// Per sandbox slot: counted as running in its app.
    running: Vec<bool>,
}

impl HybridHistogram {
    /// A policy with `config`, which should have passed [`HybridConfig::validate`]; values out of
    /// range are clamped to the nearest allowed one.
    pub fn new(config: &HybridConfig) -> Self {
        let bin = config.bin.micros().max(1);
        let range = config.range.micros().max(bin);
        let bins = range.div_ceil(bin).min(MAX_BINS) as usize;
        let fraction = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
        let head = fraction(config.head);
        HybridHistogram {
            geometry: Geometry {
                bin,
                range: range.min(bin * bins as Time),
                bins,
            },
            head,
            tail: fraction(config.tail).max(head),
            margin: fraction(config.margin).min(0.99),
            forecast_margin: fraction(config.forecast_margin).min(0.99),
            cv_threshold: if config.cv_threshold > 0.0 {
                config.cv_threshold
            } else {
                f64::MIN_POSITIVE
            },
            oob_threshold: fraction(config.oob_threshold),
            min_samples: u64::from(config.min_samples.max(1)),
            apps: Vec::new(),
            running: Vec::new(),
        }
    }

    fn app_mut(&mut self, app: AppId) -> &mut AppState {
        if self.apps.len() <= app.index() {
            self.apps.resize_with(app.index() + 1, AppState::default);
        }
        &mut self.apps[app.index()]
    }

    /// Idle times recorded for `app`: (in the histogram's range, out of bounds).
    pub fn idle_times(&self, app: AppId) -> (u64, u64) {
        self.apps
            .get(app.index())
            .map_or((0, 0), |a| (a.in_range, a.oob))
    }

    /// The windows an execution of `app` ending now would get.
    pub fn windows(&self, app: AppId) -> Windows {
        let standard = |regime| Windows {
            regime,
            prewarm: 0,
            keep_alive: self.geometry.range,
        };
        let Some(state) = self.apps.get(app.index()) else {
            return standard(Regime::TooFewSamples);
        };
        let total = state.in_range + state.oob;
        if total < self.min_samples {
            return standard(Regime::TooFewSamples);
        }
        if state.oob as f64 > self.oob_threshold * total as f64 {
            let mut buffer = [0; FORECAST_WINDOW];
            let forecast = forecast_idle_time(state.recent_in_order(&mut buffer)) as f64;
            let prewarm = (forecast * (1.0 - self.forecast_margin)).round() as Time;
            let until = (forecast * (1.0 + self.forecast_margin)).round() as Time;
            return Windows {
                regime: Regime::Forecast,
                prewarm,
                keep_alive: until.saturating_sub(prewarm),
            };
        }
        if state.cv() < self.cv_threshold {
            return standard(Regime::NotRepresentative);
        }
        let (head_bin, tail_bin) = state.percentile_bins(self.head, self.tail);
        let bin = self.geometry.bin;
        let head = head_bin as Time * bin;
        let tail = ((tail_bin as Time + 1) * bin).min(self.geometry.range);
        let prewarm = (head as f64 * (1.0 - self.margin)).round() as Time;
        let until = (tail as f64 * (1.0 + self.margin)).round() as Time;
        Windows {
            regime: Regime::Histogram,
            prewarm,
            keep_alive: until.saturating_sub(prewarm),
        }
    }

    /// `sandbox` stopped running: it no longer keeps its app busy.
    fn stopped(&mut self, now: Time, sandbox: &Sandbox, platform: &Platform) {
        let slot = sandbox.id.index();
        let was_running = self.running.get(slot).copied().unwrap_or(false);
        if was_running {
            self.running[slot] = false;
        }
        let app = self.app_mut(platform.function(sandbox.function).app);
        if was_running {
            app.running = app.running.saturating_sub(1);
            if app.running == 0 {
                app.idle_since = Some(now);
            }
        }
    }
}

impl KeepAlive for HybridHistogram {
    fn name(&self) -> &'static str {
        "hybrid"
    }

    fn on_arrival(&mut self, now: Time, function: FunctionId, platform: &Platform) {
        let geometry = self.geometry;
        let app = self.app_mut(platform.function(function).app);
        if app.running == 0
            && let Some(end) = app.idle_since
        {
            app.record(now.saturating_sub(end), geometry);
        }
        app.idle_since = None;
    }

    fn on_start(&mut self, _now: Time, sandbox: &Sandbox, _kind: StartKind, platform: &Platform) {
        if sandbox.pinned {
            return;
        }
        let slot = sandbox.id.index();
        if self.running.len() <= slot {
            self.running.resize(slot + 1, false);
        }
        if !self.running[slot] {
            self.running[slot] = true;
            self.app_mut(platform.function(sandbox.function).app)
                .running += 1;
        }
    }

    fn on_idle(&mut self, now: Time, sandbox: &Sandbox, platform: &Platform) -> IdleDecision {
        self.stopped(now, sandbox, platform);
        let w = self.windows(platform.function(sandbox.function).app);
        let until = Some(now.saturating_add(w.prewarm).saturating_add(w.keep_alive));
        if w.prewarm > 0 {
            IdleDecision::Prewarm {
                at: now.saturating_add(w.prewarm),
                until,
            }
        } else {
            IdleDecision::Keep { until }
        }
    }

    fn on_deadline(&mut self, _now: Time, _sandbox: &Sandbox, _p: &Platform) -> IdleDecision {
        IdleDecision::Destroy
    }

    fn on_destroyed(
        &mut self,
        now: Time,
        sandbox: &Sandbox,
        _reason: DestroyReason,
        platform: &Platform,
    ) {
        self.stopped(now, sandbox, platform);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use sim::record::{MemoryState, SandboxEvent};
    use sim::{
        Controller, ControllerConfig, CostModel, QueueMode, Record, RecordSink, Scheduler,
        SimBackend, WorkerId, WorkerSpec, simulate,
    };
    use workloads::{App, Catalog, Function, Invocation};

    use super::*;

    const MS: Time = 1_000;
    const SEC: Time = 1_000_000;
    const MIN: Time = 60 * SEC;
    const HOUR: Time = 60 * MIN;

    /// Cold start: created at arrival, ready 35 ms later (10 ms create + 25 ms init), running
    /// 1 ms after that (dispatch). Warm and pre-warmed starts run 1 ms after arrival.
    fn costs() -> CostModel {
        CostModel {
            create: Duration(10 * MS).into(),
            init: Duration(25 * MS).into(),
            fork: Duration(2 * MS).into(),
            dispatch: Duration(MS).into(),
            pause: Duration(MS).into(),
            unpause: Duration(MS).into(),
            ..CostModel::default()
        }
    }

    /// End of an invocation of 1 s arriving at `a`: cold and warm (or pre-warmed).
    fn cold_end(a: Time) -> Time {
        a + 36 * MS + SEC
    }
    fn warm_end(a: Time) -> Time {
        a + MS + SEC
    }

    /// Everything goes to worker 0.
    struct First;

    impl Scheduler for First {
        fn name(&self) -> &'static str {
            "first"
        }
        fn select(&mut self, _now: Time, _f: FunctionId, _p: &Platform) -> WorkerId {
            WorkerId(0)
        }
    }

    #[derive(Default)]
    struct Collect {
        records: Vec<Record>,
        sandboxes: Vec<(Time, SandboxEvent)>,
    }

    impl RecordSink for Collect {
        fn invocation(&mut self, record: &Record) {
            self.records.push(*record);
        }
        fn memory(&mut self, _now: Time, _worker: WorkerId, _state: &MemoryState) {}
        fn sandbox(&mut self, now: Time, _worker: WorkerId, event: SandboxEvent) {
            self.sandboxes.push((now, event));
        }
    }

    impl Collect {
        fn kinds(&self) -> Vec<&'static str> {
            let mut records = self.records.clone();
            records.sort_by_key(|r| r.id);
            records
                .iter()
                .map(|r| r.start_kind.map_or("dropped", |k| k.as_str()))
                .collect()
        }

        fn created(&self) -> Vec<Time> {
            self.sandboxes
                .iter()
                .filter(|(_, e)| matches!(e, SandboxEvent::Created { .. }))
                .map(|&(t, _)| t)
                .collect()
        }

        fn destroyed(&self) -> Vec<(Time, &'static str)> {
            self.sandboxes
                .iter()
                .filter_map(|&(t, e)| match e {
                    SandboxEvent::Destroyed { reason, .. } => Some((t, reason.as_str())),
                    _ => None,
                })
                .collect()
        }
    }

    /// The policy under test, shared with the test, with every `on_idle` decision logged.
    #[derive(Clone)]
    struct Logged {
        policy: Rc<RefCell<HybridHistogram>>,
        decisions: Rc<RefCell<Vec<(Time, IdleDecision)>>>,
    }

    impl KeepAlive for Logged {
        fn name(&self) -> &'static str {
            "logged-hybrid"
        }
        fn on_idle(&mut self, now: Time, sandbox: &Sandbox, platform: &Platform) -> IdleDecision {
            let d = self.policy.borrow_mut().on_idle(now, sandbox, platform);
            self.decisions.borrow_mut().push((now, d));
            d
        }
        fn on_deadline(
            &mut self,
            now: Time,
            sandbox: &Sandbox,
            platform: &Platform,
        ) -> IdleDecision {
            self.policy.borrow_mut().on_deadline(now, sandbox, platform)
        }
        fn on_arrival(&mut self, now: Time, function: FunctionId, platform: &Platform) {
            self.policy.borrow_mut().on_arrival(now, function, platform);
        }
        fn on_start(&mut self, now: Time, sandbox: &Sandbox, kind: StartKind, platform: &Platform) {
            self.policy
                .borrow_mut()
                .on_start(now, sandbox, kind, platform);
        }
        fn on_destroyed(
            &mut self,
            now: Time,
            sandbox: &Sandbox,
            reason: DestroyReason,
            platform: &Platform,
        ) {
            self.policy
                .borrow_mut()
                .on_destroyed(now, sandbox, reason, platform);
        }
    }

    struct Run {
        sink: Collect,
        decisions: Vec<(Time, IdleDecision)>,
        policy: HybridHistogram,
    }

    /// Runs `invocations` of functions whose apps are `apps[f]` (128 MB each) on one 4 GB
    /// worker, concurrency 1, dropping what does not fit.
    fn run(apps: &[u32], invocations: Vec<Invocation>) -> Run {
        let n_apps = apps.iter().max().map_or(0, |m| m + 1);
        let catalog = Catalog {
            packages: Default::default(),
            functions: apps
                .iter()
                .enumerate()
                .map(|(i, &app)| Function {
                    name: format!("f{i}"),
                    app: AppId(app),
                    memory_mb: 128,
                    concurrency: None,
                    init: None,
                    packages: Vec::new(),
                })
                .collect(),
            apps: (0..n_apps)
                .map(|a| App {
                    name: format!("a{a}"),
                })
                .collect(),
        };
        let logged = Logged {
            policy: Rc::new(RefCell::new(HybridHistogram::new(&HybridConfig::default()))),
            decisions: Rc::default(),
        };
        let config = ControllerConfig {
            workers: vec![WorkerSpec {
                memory_mb: 4096,
                cores: 4,
            }],
            concurrency: 1,
            queue: QueueMode::Drop,
            ..Default::default()
        };
        let mut controller =
            Controller::new(catalog, &config, Box::new(logged.clone()), Box::new(First));
        let mut backend = SimBackend::new(costs());
        let mut sink = Collect::default();
        simulate(
            &mut controller,
            &mut backend,
            invocations.into_iter().map(Ok),
            &mut sink,
        )
        .expect("the simulation runs");
        drop(controller);
        let decisions = logged.decisions.borrow().clone();
        let policy = logged.policy.borrow().clone();
        Run {
            sink,
            decisions,
            policy,
        }
    }

    impl Run {
        /// Asserts that the decisions `ks` were made at `end(arrivals[k])` and were
        /// `decision(end)`.
        fn expect(
            &self,
            arrivals: &[Time],
            ks: std::ops::Range<usize>,
            end: fn(Time) -> Time,
            decision: impl Fn(Time) -> IdleDecision,
        ) {
            let (lo, hi) = (ks.start, ks.end);
            for (k, (&a, &d)) in arrivals.iter().zip(&self.decisions).enumerate() {
                if (lo..hi).contains(&k) {
                    let e = end(a);
                    assert_eq!(d, (e, decision(e)), "decision {k}");
                }
            }
            assert!(self.decisions.len() >= hi && arrivals.len() >= hi);
        }
    }

    fn inv(function: u32, arrival: Time) -> Invocation {
        Invocation {
            function: FunctionId(function),
            arrival,
            duration: SEC,
        }
    }

    fn keep(until: Time) -> IdleDecision {
        IdleDecision::Keep { until: Some(until) }
    }

    /// (a) One app invoked every 30 minutes, 1 s each.
    ///
    /// Invocation 0 is cold and ends at 1.036 s; 1..=10 are warm (kept 4 h while fewer than 10
    /// idle times are known) and end at `a + 1.001 s`. Every IT is `30 min − 1.036 s` or
    /// `30 min − 1.001 s`: bin 29. Invocation k's end sees k ITs, so ends 0..=9 keep for 4 h.
    /// End 10 sees 10 ITs all in bin 29: CV = sqrt(239) ≥ 2, head (rank ceil(0.5) = 1) and tail
    /// (rank ceil(9.9) = 10) both bin 29: pre-warm = 0.9 × 29 min = 26.1 min = 1566 s, keep
    /// until 1.1 × 30 min (the tail's upper edge) = 33 min after the end. The pre-warmed sandbox
    /// is created at `e10 + 1566 s` = 326.1 min + 1.001 s, before arrival 11 at 330 min, which
    /// starts in it (`prewarmed`); likewise for 12.
    #[test]
    fn regular_arrivals_are_prewarmed() {
        let arrivals: Vec<Time> = (0..13).map(|k| k * 30 * MIN).collect();
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        let mut expected = vec!["cold"];
        expected.extend(["warm"; 10]);
        expected.extend(["prewarmed"; 2]);
        assert_eq!(r.sink.kinds(), expected);

        let e0 = cold_end(0);
        assert_eq!(r.decisions[0], (e0, keep(e0 + 4 * HOUR)));
        r.expect(&arrivals, 1..10, warm_end, |e| keep(e + 4 * HOUR));
        r.expect(&arrivals, 10..13, warm_end, |e| IdleDecision::Prewarm {
            at: e + 1566 * SEC,
            until: Some(e + 33 * MIN),
        });
        let (e10, e11) = (warm_end(arrivals[10]), warm_end(arrivals[11]));
        assert_eq!(
            r.sink.created(),
            vec![0, e10 + 1566 * SEC, e11 + 1566 * SEC]
        );
        assert!(e10 + 1566 * SEC < arrivals[11]);
        assert!(e11 + 1566 * SEC < arrivals[12]);
        assert_eq!(
            r.sink.destroyed(),
            vec![
                (e10, "not-kept"),
                (e11, "not-kept"),
                (warm_end(arrivals[12]), "not-kept")
            ]
        );
        let w = r.policy.windows(AppId(0));
        assert_eq!(w.regime, Regime::Histogram);
        assert_eq!(
            (w.prewarm, w.keep_alive),
            (1566 * SEC, 33 * MIN - 1566 * SEC)
        );
        assert_eq!(r.policy.idle_times(AppId(0)), (12, 0));
    }

    /// (b) ITs spread over 60 bins. Gap k (k = 1..=60) is `k min + 30 s`, so IT k (gap less
    /// the previous invocation's 1.036 s or 1.001 s) lies in bin k. After 49 or more ITs in as
    /// many bins the CV is sqrt(240 / k − 1) < 2 (sqrt(3.9) = 1.98 at 49, sqrt(3) = 1.73 at 60):
    /// keep for 4 h, no pre-warm. (Between 10 and 48 ITs the histogram is concentrated enough
    /// and pre-warms, but always before the next arrival and keeps past it: head bin ≤ 3, tail
    /// `1.1 × (k + 1) min` after k ITs, beyond the next IT of `(k + 1) min + 29 s`.) Every start
    /// after the first is warm or pre-warmed, ending 1.001 s after its arrival. The last
    /// invocation comes 5 h after invocation 60: its sandbox expired at `e60 + 4 h`, so it is
    /// cold.
    #[test]
    fn spread_out_idle_times_keep_for_the_range() {
        let mut arrivals = vec![0];
        for k in 1..=60 {
            arrivals.push(arrivals[k - 1] + k as Time * MIN + 30 * SEC);
        }
        arrivals.push(arrivals[60] + 5 * HOUR);
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        let kinds = r.sink.kinds();
        assert_eq!(kinds[0], "cold");
        assert!(
            kinds[1..61]
                .iter()
                .all(|&k| k == "warm" || k == "prewarmed")
        );
        assert!(kinds[1..61].contains(&"prewarmed"));
        assert_eq!(kinds[61], "cold");
        r.expect(&arrivals, 49..61, warm_end, |e| keep(e + 4 * HOUR));
        let e60 = warm_end(arrivals[60]);
        assert!(r.sink.destroyed().contains(&(e60 + 4 * HOUR, "expired")));
        // The 5 h gap is out of bounds; 60 in range.
        assert_eq!(r.policy.idle_times(AppId(0)), (60, 1));
        let w = r.policy.windows(AppId(0));
        assert_eq!(w.regime, Regime::NotRepresentative);
        assert_eq!((w.prewarm, w.keep_alive), (0, 4 * HOUR));
    }

    /// (c) ITs beyond the 4 h range. Arrivals every 5 h: invocations 0..=10 are cold (kept 4 h
    /// while fewer than 10 ITs are known, expiring an hour before the next arrival), so every
    /// IT is `F = 5 h − 1.036 s = 17 998.964 s`, all out of bounds (fraction 1 > 0.5). End 10
    /// forecasts from a constant series: no variance, so the median, F. Pre-warm at
    /// 0.85 F = 15 299.1194 s, keep until 1.15 F = 20 698.8086 s. Arrival 11 comes F after
    /// end 10, inside that window, and starts pre-warmed.
    #[test]
    fn out_of_bounds_idle_times_use_the_forecast() {
        let arrivals: Vec<Time> = (0..12).map(|k| k * 5 * HOUR).collect();
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        let mut expected = vec!["cold"; 11];
        expected.push("prewarmed");
        assert_eq!(r.sink.kinds(), expected);
        let f = 5 * HOUR - 1036 * MS;
        assert_eq!(f, 17_998_964_000);
        r.expect(&arrivals, 0..10, cold_end, |e| keep(e + 4 * HOUR));
        let e10 = cold_end(arrivals[10]);
        let (at, until) = (e10 + 15_299_119_400, e10 + 20_698_808_600);
        assert_eq!(
            r.decisions[10],
            (
                e10,
                IdleDecision::Prewarm {
                    at,
                    until: Some(until)
                }
            )
        );
        assert!(at < arrivals[11] && arrivals[11] < until);
        assert_eq!(arrivals[11] - e10, f);
        assert!(r.sink.created().contains(&at));
        assert_eq!(r.policy.idle_times(AppId(0)), (0, 11));
        assert_eq!(r.policy.windows(AppId(0)).regime, Regime::Forecast);
    }

    /// (c) with a varying series: gaps alternate 5 h and 7 h, so the ITs alternate
    /// `5 h − 1.036 s` and `7 h − 1.036 s` (all cold, as above). In log space the series
    /// alternates around its mean, the lag-1 autocorrelation is strongly negative (about −0.9),
    /// and after a 7 h IT the forecast comes back near 5 h (a little above it). The windows are
    /// 0.85 and 1.15 of the forecast, which here contain the next IT of about 5 h.
    #[test]
    fn varying_out_of_bounds_idle_times_use_the_forecast() {
        let gaps: Vec<Time> = (0..11)
            .map(|k| if k % 2 == 0 { 5 * HOUR } else { 7 * HOUR })
            .collect();
        let mut arrivals = vec![0];
        for &g in &gaps {
            arrivals.push(arrivals.last().unwrap() + g);
        }
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        // ITs 1..=10, seen at end 10.
        let series: Vec<Time> = gaps[..10].iter().map(|g| g - 1036 * MS).collect();
        let f = forecast_idle_time(&series);
        assert!(f > 5 * HOUR && f < 6 * HOUR, "forecast {f}");
        let e10 = cold_end(arrivals[10]);
        let at = e10 + (f as f64 * 0.85).round() as Time;
        let until = e10 + (f as f64 * 1.15).round() as Time;
        assert_eq!(
            r.decisions[10],
            (
                e10,
                IdleDecision::Prewarm {
                    at,
                    until: Some(until)
                }
            )
        );
        // The windows are within ±15% of the forecast.
        assert!((at - e10) as f64 >= 0.85 * f as f64 - 1.0);
        assert!((until - e10) as f64 <= 1.15 * f as f64 + 1.0);
        assert_eq!(r.sink.kinds()[11], "prewarmed");
    }

    /// Fewer than 10 ITs: every end keeps the sandbox for 4 h, no pre-warming. Arrivals every
    /// 30 min (0..=4), then one 5 h after invocation 4: ends 0..=4 keep until `e + 4 h`, the
    /// sandbox expires at `e4 + 4 h` and the last invocation is cold.
    #[test]
    fn too_few_idle_times_keep_for_the_range() {
        let mut arrivals: Vec<Time> = (0..5).map(|k| k * 30 * MIN).collect();
        arrivals.push(arrivals[4] + 5 * HOUR);
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        assert_eq!(
            r.sink.kinds(),
            vec!["cold", "warm", "warm", "warm", "warm", "cold"]
        );
        let e0 = cold_end(0);
        assert_eq!(r.decisions[0], (e0, keep(e0 + 4 * HOUR)));
        r.expect(&arrivals, 1..5, warm_end, |e| keep(e + 4 * HOUR));
        let e4 = warm_end(arrivals[4]);
        assert_eq!(r.sink.destroyed()[0], (e4 + 4 * HOUR, "expired"));
        assert_eq!(r.policy.windows(AppId(0)).regime, Regime::TooFewSamples);
    }

    /// The pre-warm is late: as in (a), end 10 (at e10 = 300 min + 1.001 s) decides pre-warm at
    /// e10 + 1566 s = 326.1 min + 1.001 s, but invocation 11 arrives at 310 min. The sandbox
    /// was destroyed at e10, so it cold-starts (ends e11 = 310 min + 1.036 s). Its IT,
    /// 10 min − 1.001 s, lands in bin 9: now 11 ITs, 10 in bin 29 and 1 in bin 9, CV =
    /// sqrt(240 × 101 − 121) / 11 = 14.1; head rank ceil(0.55) = 1 → bin 9, pre-warm
    /// 0.9 × 9 min = 486 s; tail rank ceil(10.89) = 11 → bin 29, until 33 min. That decision
    /// replaces the pending pre-warm, so nothing is created at 326.1 min; the new pre-warm
    /// creates a sandbox at e11 + 486 s and invocation 12 (330 min) starts in it.
    #[test]
    fn early_arrival_cold_starts_and_the_stale_prewarm_does_nothing() {
        let mut arrivals: Vec<Time> = (0..11).map(|k| k * 30 * MIN).collect();
        arrivals.push(310 * MIN);
        arrivals.push(330 * MIN);
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        let kinds = r.sink.kinds();
        assert_eq!(kinds[11], "cold");
        assert_eq!(kinds[12], "prewarmed");
        let e10 = warm_end(arrivals[10]);
        let e11 = cold_end(arrivals[11]);
        assert_eq!(
            r.decisions[10].1,
            IdleDecision::Prewarm {
                at: e10 + 1566 * SEC,
                until: Some(e10 + 33 * MIN)
            }
        );
        assert_eq!(
            r.decisions[11],
            (
                e11,
                IdleDecision::Prewarm {
                    at: e11 + 486 * SEC,
                    until: Some(e11 + 33 * MIN)
                }
            )
        );
        // Created: the first cold start, the early cold start, the new pre-warm; not the stale
        // one.
        assert_eq!(r.sink.created(), vec![0, arrivals[11], e11 + 486 * SEC]);
        assert!(!r.sink.created().contains(&(e10 + 1566 * SEC)));
    }

    /// An arrival while the pre-warmed sandbox is still being created claims it. As in (a), end
    /// 10 pre-warms at p = e10 + 1566 s; the sandbox is ready at p + 35 ms. Invocation 11
    /// arrives at p + 5 ms, finds no idle sandbox, waits for the one being created instead of
    /// creating another, and starts at p + 36 ms: a startup delay of 31 ms, reported as cold
    /// (it waited for a creation), with only one sandbox created for it.
    #[test]
    fn arrival_during_prewarm_creation_claims_the_sandbox() {
        let mut arrivals: Vec<Time> = (0..11).map(|k| k * 30 * MIN).collect();
        let e10 = warm_end(arrivals[10]);
        let p = e10 + 1566 * SEC;
        arrivals.push(p + 5 * MS);
        let r = run(&[0], arrivals.iter().map(|&a| inv(0, a)).collect());
        assert_eq!(r.sink.created(), vec![0, p]);
        let last = r.sink.records.iter().find(|x| x.id == 11).unwrap();
        assert_eq!(last.start_kind, Some(StartKind::Cold));
        assert_eq!(last.startup_delay(), 31 * MS);
        assert_eq!(last.end, p + 36 * MS + SEC);
    }

    /// Concurrent and overlapping invocations record no idle time. App 0 has f0, f1, f2; each
    /// invocation runs 1 s (0 is cold, ends 1.036 s).
    /// - f0 at 0: first arrival, nothing to measure.
    /// - f1 at 0.5 s: f0's sandbox is running, nothing.
    /// - f0 at 20 s: both idle since f1 ended at 0.5 + 1.036 = 1.536 s: IT 18.464 s.
    /// - f2 at 40 s: idle since f0's end at 21.001 s: IT 18.999 s.
    /// - f2 at 40.010 s: the previous f2 is still being created (cold), nothing.
    /// - f1 at 60 s: f2's two sandboxes ended at 41.036 and 41.046 s: IT 18.954 s.
    #[test]
    fn overlapping_invocations_record_no_idle_time() {
        let invocations = vec![
            inv(0, 0),
            inv(1, 500 * MS),
            inv(0, 20 * SEC),
            inv(2, 40 * SEC),
            inv(2, 40 * SEC + 10 * MS),
            inv(1, 60 * SEC),
        ];
        let r = run(&[0, 0, 0], invocations);
        assert_eq!(
            r.sink.kinds(),
            vec!["cold", "cold", "warm", "cold", "cold", "warm"]
        );
        assert_eq!(r.policy.idle_times(AppId(0)), (3, 0));
        assert_eq!(
            r.policy.apps[0].recent,
            vec![18_464 * MS, 18_999 * MS, 18_954 * MS]
        );
    }

    #[test]
    fn forecaster_is_robust() {
        let ok = |series: &[Time]| {
            let f = forecast_idle_time(series);
            assert!(
                (MIN_FORECAST..=MAX_FORECAST).contains(&f),
                "{f} for {series:?}"
            );
            f
        };
        assert_eq!(ok(&[]), MIN_FORECAST);
        // A single value, two values: the median.
        assert_eq!(ok(&[5 * HOUR]), 5 * HOUR);
        assert_eq!(ok(&[5 * HOUR, 7 * HOUR]), 6 * HOUR);
        // Constant: no variance, the median.
        assert_eq!(ok(&[6 * HOUR; 20]), 6 * HOUR);
        // Zeros: clamped up.
        assert_eq!(ok(&[0; 10]), MIN_FORECAST);
        assert_eq!(ok(&[0]), MIN_FORECAST);
        // Huge: clamped down.
        assert_eq!(ok(&[Time::MAX; 10]), MAX_FORECAST);
        assert_eq!(ok(&[Time::MAX, Time::MAX - 1]), MAX_FORECAST);
        ok(&[0, Time::MAX, 0, Time::MAX, 1, Time::MAX - 1]);
        ok(&[Time::MAX, 0, 0, 0, 0]);
        // A trend and a long series (only the last 32 count).
        let rising: Vec<Time> = (1..=100).map(|k| k * HOUR).collect();
        let f = ok(&rising);
        assert!(f > 50 * HOUR && f <= 100 * HOUR, "{f}");
        // Noise around 5 h stays near 5 h.
        let noisy: Vec<Time> = (0..32).map(|k| 5 * HOUR + (k * 7919 % 13) * MIN).collect();
        let f = ok(&noisy);
        assert!(f > 5 * HOUR && f < 5 * HOUR + 13 * MIN, "{f}");
    }

    #[test]
    fn decay_halves_counts_consistently() {
        let geometry = Geometry {
            bin: MIN,
            range: 240 * MIN,
            bins: 240,
        };
        let mut app = AppState::default();
        for k in 0..100 {
            app.record((k % 5) * MIN, geometry);
        }
        app.record(5 * HOUR, geometry);
        let cv = app.cv();
        app.halve();
        assert_eq!(&app.counts[..5], &[10, 10, 10, 10, 10]);
        assert_eq!((app.in_range, app.oob), (50, 1));
        assert_eq!(app.sum_sq, 500);
        assert!((app.cv() - cv).abs() < 1e-9);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let geometry = Geometry {
            bin: MIN,
            range: 240 * MIN,
            bins: 240,
        };
        let mut app = AppState::default();
        // 100 ITs: 5 in bin 2, 94 in bin 10, 1 in bin 200.
        for _ in 0..5 {
            app.record(2 * MIN + SEC, geometry);
        }
        for _ in 0..94 {
            app.record(10 * MIN, geometry);
        }
        app.record(200 * MIN, geometry);
        // Rank 5 is the last in bin 2; rank 99 the last in bin 10.
        assert_eq!(app.percentile_bins(0.05, 0.99), (2, 10));
        assert_eq!(app.percentile_bins(0.06, 1.0), (10, 200));
        assert_eq!(app.percentile_bins(0.0, 0.0), (2, 2));
    }

    #[test]
    fn config_defaults_and_validation() {
        let c = HybridConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            (c.bin, c.range, c.min_samples),
            (Duration::from_mins(1), Duration::from_mins(240), 10)
        );
        assert_eq!(
            (
                c.head,
                c.tail,
                c.margin,
                c.forecast_margin,
                c.cv_threshold,
                c.oob_threshold
            ),
            (0.05, 0.99, 0.1, 0.15, 2.0, 0.5)
        );
        assert_eq!(
            c.label(),
            "hybrid(bin=1m,range=4h,head=0.05,tail=0.99,margin=0.1,forecast_margin=0.15,\
             cv_threshold=2,oob_threshold=0.5,min_samples=10)"
        );
        let err = |c: HybridConfig| c.validate().unwrap_err();
        assert_eq!(
            err(HybridConfig {
                cv_threshold: -1.0,
                ..c
            }),
            "keep_alive.cv_threshold must be positive, got -1"
        );
        assert!(
            err(HybridConfig {
                cv_threshold: f64::NAN,
                ..c
            })
            .starts_with("keep_alive.cv_threshold")
        );
        assert!(
            err(HybridConfig {
                bin: Duration::ZERO,
                ..c
            })
            .starts_with("keep_alive.bin")
        );
        assert!(
            err(HybridConfig {
                range: Duration::from_secs(30),
                ..c
            })
            .starts_with("keep_alive.range")
        );
        assert!(
            err(HybridConfig {
                bin: Duration(1),
                ..c
            })
            .starts_with("keep_alive.range")
        );
        assert!(err(HybridConfig { head: 1.5, ..c }).starts_with("keep_alive.head"));
        assert!(err(HybridConfig { tail: -0.1, ..c }).starts_with("keep_alive.tail"));
        assert!(
            err(HybridConfig {
                head: 0.5,
                tail: 0.4,
                ..c
            })
            .starts_with("keep_alive.head")
        );
        assert!(err(HybridConfig { margin: 1.0, ..c }).starts_with("keep_alive.margin"));
        assert!(
            err(HybridConfig {
                forecast_margin: f64::NAN,
                ..c
            })
            .starts_with("keep_alive.forecast_margin")
        );
        assert!(
            err(HybridConfig {
                oob_threshold: 2.0,
                ..c
            })
            .starts_with("keep_alive.oob_threshold")
        );
        assert!(
            err(HybridConfig {
                min_samples: 0,
                ..c
            })
            .starts_with("keep_alive.min_samples")
        );
    }

    #[test]
    fn config_deserializes_with_defaults_and_rejects_unknown_fields() {
        use serde::de::value::{Error, MapDeserializer};

        let numbers = |pairs: Vec<(&'static str, f64)>| {
            HybridConfig::deserialize(MapDeserializer::<_, Error>::new(pairs.into_iter()))
        };
        let c = numbers(vec![("cv_threshold", 3.0), ("oob_threshold", 0.25)]).unwrap();
        assert_eq!(
            c,
            HybridConfig {
                cv_threshold: 3.0,
                oob_threshold: 0.25,
                ..HybridConfig::default()
            }
        );
        let e = numbers(vec![("cv_treshold", 3.0)]).unwrap_err();
        assert!(e.to_string().contains("unknown field `cv_treshold`"), "{e}");
        let durations = |pairs: Vec<(&'static str, &'static str)>| {
            HybridConfig::deserialize(MapDeserializer::<_, Error>::new(pairs.into_iter()))
        };
        let c = durations(vec![("bin", "30s"), ("range", "2h")]).unwrap();
        assert_eq!(
            (c.bin, c.range),
            (Duration::from_secs(30), Duration::from_mins(120))
        );
        assert!(durations(vec![("range", "4")]).is_err());
    }
}
