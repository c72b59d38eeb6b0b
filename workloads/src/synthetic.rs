//! A seeded generator of Azure-like workloads.
//!
//! The model follows the characterization of Azure Functions in Shahrad et al., "Serverless in the
//! Wild: Characterizing and Optimizing the Serverless Workload at a Large Cloud Provider", USENIX
//! ATC 2020, and reuses the distribution fits that FaasCache and In-Vitro derived from that trace:
//!
//! - **Apps and functions.** `functions` functions are spread over `apps` apps; every app has at
//!   least one function and the rest are assigned uniformly at random.
//! - **Popularity.** Functions are ranked by a random permutation, and rank `r` receives a share
//!   proportional to `1 / r^zipf`: the trace's invocation counts are heavy-tailed, with a few
//!   functions receiving most invocations.
//! - **Arrivals.** One Poisson process of total rate `rate` per second; each arrival is handed to a
//!   function by its popularity share. With [`Diurnal`], the rate follows a daily cosine and arrivals
//!   are drawn by Lewis–Shedler thinning (the trace shows a strong day/night cycle).
//! - **Execution time.** Each function's mean execution time is log-normal, by default `mu = -0.38`,
//!   `sigma = 2.36` in seconds (the Azure 2019 fit). Each invocation varies around its function's
//!   mean by a mean-preserving log-normal of sigma `exec_jitter`, clamped to
//!   `[exec_min, exec_max]`.
//! - **Memory.** Each app's memory in MB is Burr XII with `c = 11.652`, `k = 0.221`,
//!   `lambda = 107.083` (the Azure 2019 fit), clamped to `[memory_min_mb, memory_max_mb]`. The trace
//!   reports memory per app only, so [`AppMemory`] decides how it is divided among functions.
//!
//! Randomness comes from independent streams, one per concern (app layout, app memory, execution
//! times, popularity, arrivals, per-invocation durations), each derived from the seed. Changing one
//! parameter therefore changes only what that parameter controls: a different `rate` keeps the
//! catalog, a different `apps` keeps the execution times, a different `exec_jitter` keeps the
//! arrival times.

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::time::{MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MIN, MICROS_PER_MS, MICROS_PER_SEC};
use crate::{
    App, AppId, Catalog, Duration, Function, FunctionId, Invocation, Time, Workload, WorkloadError,
};

/// Bounds that no real platform approaches (Azure's whole 2019 trace has about 50,000 functions
/// a day): they turn a typo into an error instead of an allocation failure or a run that never
/// ends.
const MAX_FUNCTIONS: u32 = 10_000_000;
const MAX_RATE: f64 = 10_000_000.0;

/// Parameters of a synthetic workload. Every field has a default, so a scenario file names only
/// what it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticSpec {
    /// Number of functions.
    pub functions: u32,
    /// Number of apps, from 1 to `functions`.
    pub apps: u32,
    /// Length of the trace: arrivals fall in `[0, duration)`.
    pub duration: Duration,
    /// Mean invocations per second over all functions.
    pub rate: f64,
    /// Zipf exponent of function popularity; 0 makes every function equally popular. The
    /// default, 1.5, gives a long tail of functions invoked a few times an hour or less next to a
    /// few invoked many times a second, the shape Shahrad et al. report (invocation rates across
    /// functions span eight orders of magnitude), which is what makes keep-alive matter.
    pub zipf: f64,
    /// Daily variation of the rate; `None` keeps it constant.
    pub diurnal: Option<Diurnal>,
    /// Distribution of each function's mean execution time, in seconds.
    pub exec: LogNormalSpec,
    /// Sigma of each invocation's log-normal variation around its function's mean; 0 makes every
    /// invocation take exactly the mean.
    pub exec_jitter: f64,
    /// Shortest execution time.
    pub exec_min: Duration,
    /// Longest execution time.
    pub exec_max: Duration,
    /// Distribution of each app's memory, in MB.
    pub memory: BurrSpec,
    /// Smallest memory of an app or a function, in MB.
    pub memory_min_mb: u32,
    /// Largest memory of an app, in MB.
    pub memory_max_mb: u32,
    /// How an app's memory is divided among its functions.
    pub app_memory: AppMemory,
}

/// A daily cosine on the arrival rate: `rate(t) = rate * (1 + amplitude * cos(2π (t - peak) / 24h))`,
/// with `t = 0` at midnight. Over whole days the mean rate stays `rate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diurnal {
    /// Relative swing of the rate, in `[0, 1)`: the peak rate is `rate * (1 + amplitude)`.
    pub amplitude: f64,
    /// Time of day of the peak.
    #[serde(default = "Diurnal::default_peak")]
    pub peak: Duration,
}

impl Diurnal {
    /// Azure's invocation rate peaks in the early afternoon.
    fn default_peak() -> Duration {
        Duration(14 * MICROS_PER_HOUR)
    }
}

/// A log-normal distribution: `ln X ~ Normal(mu, sigma)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogNormalSpec {
    /// Mean of `ln X`.
    pub mu: f64,
    /// Standard deviation of `ln X`.
    pub sigma: f64,
}

/// A Burr type XII distribution with CDF `1 - (1 + (x / lambda)^c)^(-k)`. Parameters left out
/// take the Azure 2019 app-memory fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurrSpec {
    /// First shape parameter.
    pub c: f64,
    /// Second shape parameter; the smaller it is, the heavier the tail.
    pub k: f64,
    /// Scale.
    pub lambda: f64,
}

impl Default for BurrSpec {
    /// The fit of Azure Functions 2019 app memory in MB that FaasCache and In-Vitro use.
    fn default() -> Self {
        BurrSpec {
            c: 11.652,
            k: 0.221,
            lambda: 107.083,
        }
    }
}

/// How an app's memory becomes its functions' memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppMemory {
    /// Each function gets the app's memory divided by the app's function count, rounded up and at
    /// least `memory_min_mb`, as FaasCache does; the app's total stays close to the trace's.
    #[default]
    Split,
    /// Each function gets its app's full memory.
    PerFunction,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        SyntheticSpec {
            functions: 200,
            apps: 80,
            duration: Duration(MICROS_PER_DAY),
            rate: 20.0,
            zipf: 1.5,
            diurnal: None,
            exec: LogNormalSpec {
                mu: -0.38,
                sigma: 2.36,
            },
            exec_jitter: 0.5,
            exec_min: Duration(MICROS_PER_MS),
            // Azure Functions' maximum timeout.
            exec_max: Duration::from_mins(10),
            memory: BurrSpec::default(),
            memory_min_mb: 16,
            memory_max_mb: 4096,
            app_memory: AppMemory::Split,
        }
    }
}

// One constant per random stream; their values only need to differ.
const STREAM_LAYOUT: u64 = 1;
const STREAM_MEMORY: u64 = 2;
const STREAM_EXEC: u64 = 3;
const STREAM_POPULARITY: u64 = 4;
const STREAM_ARRIVALS: u64 = 5;
const STREAM_DURATIONS: u64 = 6;

impl SyntheticSpec {
    /// Checks every parameter. The error names the field, the bad value and what is allowed.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let fail = |msg: String| Err(WorkloadError::Parameter(msg));
        if self.functions == 0 || self.functions > MAX_FUNCTIONS {
            return fail(format!(
                "functions must be between 1 and {MAX_FUNCTIONS}, got {}",
                self.functions
            ));
        }
        if self.apps == 0 || self.apps > self.functions {
            return fail(format!(
                "apps must be between 1 and functions ({}), got {}",
                self.functions, self.apps
            ));
        }
        if self.duration.micros() == 0 {
            return fail("duration must be longer than 0s, got 0s".into());
        }
        positive("rate", self.rate)?;
        if self.rate > MAX_RATE {
            return fail(format!(
                "rate must be at most {MAX_RATE} invocations per second, got {}",
                self.rate
            ));
        }
        non_negative("zipf", self.zipf)?;
        if let Some(d) = &self.diurnal {
            if !(0.0..1.0).contains(&d.amplitude) {
                return fail(format!(
                    "diurnal.amplitude must be at least 0 and less than 1, got {}",
                    d.amplitude
                ));
            }
            if d.peak.micros() >= MICROS_PER_DAY {
                return fail(format!(
                    "diurnal.peak must be a time of day, less than 24h, got {}",
                    d.peak
                ));
            }
        }
        if !self.exec.mu.is_finite() {
            return fail(format!(
                "exec.mu must be a finite number, got {}",
                self.exec.mu
            ));
        }
        non_negative("exec.sigma", self.exec.sigma)?;
        non_negative("exec_jitter", self.exec_jitter)?;
        if self.exec_min.micros() == 0 {
            return fail("exec_min must be at least 1us, got 0s".into());
        }
        if self.exec_min > self.exec_max {
            return fail(format!(
                "exec_max must be at least exec_min ({}), got {}",
                self.exec_min, self.exec_max
            ));
        }
        positive("memory.c", self.memory.c)?;
        positive("memory.k", self.memory.k)?;
        positive("memory.lambda", self.memory.lambda)?;
        if self.memory_min_mb == 0 {
            return fail("memory_min_mb must be at least 1, got 0".into());
        }
        if self.memory_min_mb > self.memory_max_mb {
            return fail(format!(
                "memory_max_mb must be at least memory_min_mb ({}), got {}",
                self.memory_min_mb, self.memory_max_mb
            ));
        }
        Ok(())
    }

    /// Validates, then builds the catalog and a lazy invocation stream. The same spec and seed
    /// give the same workload, invocation for invocation.
    pub fn build(&self, seed: u64) -> Result<Workload, WorkloadError> {
        self.validate()?;
        let catalog = self.catalog(seed);
        let invocations = Box::new(self.arrivals(seed));
        Ok(Workload {
            catalog,
            invocations,
        })
    }

    /// Expected number of invocations: the integral of the rate over `[0, duration)`.
    pub fn expected_invocations(&self) -> u64 {
        let secs = self.duration.as_secs_f64();
        let mut expected = self.rate * secs;
        if let Some(d) = &self.diurnal {
            // Integral of rate * amplitude * cos(w (t - peak)) from 0 to secs.
            let w = 2.0 * PI / (MICROS_PER_DAY / MICROS_PER_SEC) as f64;
            let peak = d.peak.as_secs_f64();
            expected +=
                self.rate * d.amplitude / w * ((w * (secs - peak)).sin() - (-w * peak).sin());
        }
        expected.round() as u64
    }

    fn catalog(&self, seed: u64) -> Catalog {
        let n_apps = self.apps as usize;
        let mut layout = stream(seed, STREAM_LAYOUT);
        let function_app: Vec<u32> = (0..self.functions)
            .map(|f| {
                if f < self.apps {
                    f
                } else {
                    layout.random_range(0..self.apps)
                }
            })
            .collect();

        let mut memory = stream(seed, STREAM_MEMORY);
        let (min, max) = (self.memory_min_mb as f64, self.memory_max_mb as f64);
        let app_mb: Vec<u32> = (0..n_apps)
            .map(|_| {
                let mb = sample_burr(&self.memory, memory.random::<f64>());
                mb.round().clamp(min, max) as u32
            })
            .collect();

        let mut per_app = vec![0u32; n_apps];
        for &a in &function_app {
            per_app[a as usize] += 1;
        }
        let functions = function_app
            .iter()
            .enumerate()
            .map(|(f, &a)| {
                let app_total = app_mb[a as usize];
                let memory_mb = match self.app_memory {
                    AppMemory::Split => app_total
                        .div_ceil(per_app[a as usize])
                        .max(self.memory_min_mb),
                    AppMemory::PerFunction => app_total,
                };
                Function {
                    name: format!("f{f}"),
                    app: AppId(a),
                    memory_mb,
                    concurrency: None,
                    init: None,
                    packages: Vec::new(),
                }
            })
            .collect();
        let apps = (0..n_apps)
            .map(|a| App {
                name: format!("a{a}"),
            })
            .collect();
        Catalog {
            functions,
            apps,
            packages: Default::default(),
        }
    }

    fn arrivals(&self, seed: u64) -> Arrivals {
        let n = self.functions as usize;

        let mut ranks: Vec<u32> = (0..self.functions).collect();
        ranks.shuffle(&mut stream(seed, STREAM_POPULARITY));
        let mut weights = vec![0.0; n];
        for (r, &f) in ranks.iter().enumerate() {
            weights[f as usize] = ((r + 1) as f64).powf(-self.zipf);
        }
        let pick = AliasTable::new(&weights);

        // Drawn in log space so that a far tail draw saturates at exec_max instead of overflowing.
        let mut exec = stream(seed, STREAM_EXEC);
        let ln_micros = (MICROS_PER_SEC as f64).ln();
        let ln_mean_us = (0..n).map(|_| {
            let z: f64 = StandardNormal.sample(&mut exec);
            self.exec.mu + self.exec.sigma * z + ln_micros
        });
        let clamp = ExecClamp {
            min_us: self.exec_min.micros() as f64,
            max_us: self.exec_max.micros() as f64,
        };
        let exec = if self.exec_jitter == 0.0 {
            ExecTimes::Fixed(ln_mean_us.map(|m| clamp.micros(m.exp())).collect())
        } else {
            // ln X ~ N(mu, s^2) has mean exp(mu + s^2/2), so this mu keeps the function's mean.
            let shift = self.exec_jitter * self.exec_jitter / 2.0;
            ExecTimes::Jittered {
                mu: ln_mean_us.map(|m| m - shift).collect(),
                sigma: self.exec_jitter,
            }
        };

        let rate_per_us = self.rate / MICROS_PER_SEC as f64;
        let clock = match &self.diurnal {
            None => Clock::Steady {
                mean_gap_us: 1.0 / rate_per_us,
            },
            Some(d) => Clock::Diurnal(Thinning::new(rate_per_us, d)),
        };
        Arrivals {
            rng: stream(seed, STREAM_ARRIVALS),
            duration_rng: stream(seed, STREAM_DURATIONS),
            pick,
            clock,
            now_us: 0.0,
            end: self.duration.micros(),
            exec,
            clamp,
        }
    }
}

fn positive(field: &str, value: f64) -> Result<(), WorkloadError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::Parameter(format!(
            "{field} must be a positive number, got {value}"
        )))
    }
}

fn non_negative(field: &str, value: f64) -> Result<(), WorkloadError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(WorkloadError::Parameter(format!(
            "{field} must be a finite number of at least 0, got {value}"
        )))
    }
}

/// An independent generator for one concern. Mixing the stream constant through SplitMix64 before
/// combining it with the seed keeps nearby seeds and streams from sharing state.
pub(crate) fn stream(seed: u64, stream: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ splitmix64(stream))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Burr XII by inverse CDF, for `u` uniform in `[0, 1)`.
pub(crate) fn sample_burr(b: &BurrSpec, u: f64) -> f64 {
    b.lambda * ((1.0 - u).powf(-1.0 / b.k) - 1.0).powf(1.0 / b.c)
}

/// Walker's alias method (Vose's construction): O(1) per draw from one 64-bit random number,
/// whose high part picks a slot and whose low part decides between the slot and its alias.
struct AliasTable {
    slots: Vec<AliasSlot>,
}

struct AliasSlot {
    /// Probability of keeping the slot's own index, scaled to 2^64.
    keep: u64,
    alias: u32,
}

impl AliasTable {
    /// `weights` must be finite, non-negative and not all zero; rank 1 always weighs 1.
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut slots: Vec<AliasSlot> = (0..n)
            .map(|i| AliasSlot {
                keep: u64::MAX,
                alias: i as u32,
            })
            .collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            // The float-to-int cast saturates, so a share of 1 or more keeps the slot always.
            slots[s].keep = (scaled[s] * 18_446_744_073_709_551_616.0) as u64;
            slots[s].alias = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left holds a share of 1 up to rounding and keeps its initial slot.
        AliasTable { slots }
    }

    fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let product = u128::from(rng.next_u64()) * self.slots.len() as u128;
        let slot = &self.slots[(product >> 64) as usize];
        if (product as u64) < slot.keep {
            (product >> 64) as usize
        } else {
            slot.alias as usize
        }
    }
}

#[derive(Clone, Copy)]
struct ExecClamp {
    min_us: f64,
    max_us: f64,
}

impl ExecClamp {
    /// `min_us >= 1` keeps every duration at least one microsecond.
    fn micros(self, us: f64) -> Time {
        // Adding a half and truncating rounds positive values without a libm call.
        (us.clamp(self.min_us, self.max_us) + 0.5) as Time
    }
}

enum ExecTimes {
    /// Without jitter each function always takes its (clamped) mean.
    Fixed(Vec<Time>),
    Jittered {
        mu: Vec<f64>,
        sigma: f64,
    },
}

/// How candidate arrivals are spaced.
enum Clock {
    Steady { mean_gap_us: f64 },
    Diurnal(Thinning),
}

/// Lewis–Shedler thinning: candidates arrive at a rate that bounds `rate(t)` from above and each
/// is kept with probability `rate(t) / bound`. The bound is set per one-minute window rather than
/// at the peak rate for the whole day, so that nearly every candidate is kept, and a lower bound
/// accepts most candidates without evaluating the cosine.
struct Thinning {
    rate_per_us: f64,
    amplitude: f64,
    peak_us: f64,
    radians_per_us: f64,
    /// How far `rate(t)` can move from its value at a window's centre within the window:
    /// its largest slope, `rate * amplitude * 2π / 24h`, times half a window.
    slack_per_us: f64,
    window_end_us: f64,
    upper_per_us: f64,
    lower_per_us: f64,
    mean_gap_us: f64,
}

impl Thinning {
    const WINDOW_US: f64 = MICROS_PER_MIN as f64;

    fn new(rate_per_us: f64, d: &Diurnal) -> Self {
        let radians_per_us = 2.0 * PI / MICROS_PER_DAY as f64;
        let mut t = Thinning {
            rate_per_us,
            amplitude: d.amplitude,
            peak_us: d.peak.micros() as f64,
            radians_per_us,
            slack_per_us: rate_per_us * d.amplitude * radians_per_us * Self::WINDOW_US / 2.0,
            window_end_us: 0.0,
            upper_per_us: 0.0,
            lower_per_us: 0.0,
            mean_gap_us: 0.0,
        };
        t.enter_window(0.0);
        t
    }

    fn rate_at(&self, t_us: f64) -> f64 {
        let phase = (t_us - self.peak_us) * self.radians_per_us;
        self.rate_per_us * (1.0 + self.amplitude * phase.cos())
    }

    fn enter_window(&mut self, start_us: f64) {
        let centre = self.rate_at(start_us + Self::WINDOW_US / 2.0);
        self.window_end_us = start_us + Self::WINDOW_US;
        self.upper_per_us = centre + self.slack_per_us;
        self.lower_per_us = centre - self.slack_per_us;
        self.mean_gap_us = 1.0 / self.upper_per_us;
    }
}

/// The invocation stream: one merged Poisson process, O(functions) memory.
struct Arrivals {
    rng: Xoshiro256PlusPlus,
    // Durations draw from their own stream so that execution parameters leave arrivals unchanged.
    duration_rng: Xoshiro256PlusPlus,
    pick: AliasTable,
    clock: Clock,
    /// Kept in floating point so that sub-microsecond gaps accumulate instead of rounding away.
    now_us: f64,
    end: Time,
    exec: ExecTimes,
    clamp: ExecClamp,
}

impl Arrivals {
    /// Advances the clock to the next arrival; `None` once it reaches the end of the trace.
    fn next_arrival(&mut self) -> Option<Time> {
        loop {
            let gap: f64 = Exp1.sample(&mut self.rng);
            let kept = match &mut self.clock {
                Clock::Steady { mean_gap_us } => {
                    self.now_us += gap * *mean_gap_us;
                    true
                }
                Clock::Diurnal(t) => {
                    let candidate = self.now_us + gap * t.mean_gap_us;
                    if candidate >= t.window_end_us {
                        // The exponential gap is memoryless, so the process may restart at the
                        // window's end with the next window's bound.
                        self.now_us = t.window_end_us;
                        t.enter_window(self.now_us);
                        false
                    } else {
                        self.now_us = candidate;
                        let u = self.rng.random::<f64>() * t.upper_per_us;
                        u < t.lower_per_us || u < t.rate_at(candidate)
                    }
                }
            };
            // The cast floors and saturates, so this also ends the stream once the clock has
            // run past any representable time.
            let arrival = self.now_us as Time;
            if arrival >= self.end {
                return None;
            }
            if kept {
                return Some(arrival);
            }
        }
    }
}

impl Iterator for Arrivals {
    type Item = Result<Invocation, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let arrival = self.next_arrival()?;
        let f = self.pick.sample(&mut self.rng);
        let duration = match &self.exec {
            ExecTimes::Fixed(d) => d[f],
            ExecTimes::Jittered { mu, sigma } => {
                let z: f64 = StandardNormal.sample(&mut self.duration_rng);
                self.clamp.micros((mu[f] + sigma * z).exp())
            }
        };
        Some(Ok(Invocation {
            function: FunctionId(f as u32),
            arrival,
            duration,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(w: Workload, n: usize) -> Vec<Invocation> {
        w.invocations.take(n).map(Result::unwrap).collect()
    }

    fn all(w: Workload) -> Vec<Invocation> {
        w.invocations.map(Result::unwrap).collect()
    }

    #[test]
    fn same_seed_gives_identical_workload() {
        let spec = SyntheticSpec::default();
        let a = spec.build(7).unwrap();
        let b = spec.build(7).unwrap();
        assert_eq!(a.catalog, b.catalog);
        let (a, b) = (take(a, 10_000), take(b, 10_000));
        assert_eq!(a.len(), 10_000);
        assert_eq!(a, b);
    }

    #[test]
    fn different_seed_gives_different_workload() {
        let spec = SyntheticSpec::default();
        let a = spec.build(7).unwrap();
        let b = spec.build(8).unwrap();
        assert_ne!(a.catalog, b.catalog);
        assert_ne!(take(a, 10_000), take(b, 10_000));
    }

    #[test]
    fn rate_and_jitter_leave_catalog_and_arrivals_alone() {
        let base = SyntheticSpec::default();
        let faster = SyntheticSpec {
            rate: 50.0,
            ..base.clone()
        };
        assert_eq!(
            base.build(3).unwrap().catalog,
            faster.build(3).unwrap().catalog
        );

        let steady = SyntheticSpec {
            exec_jitter: 0.0,
            ..base.clone()
        };
        let key = |v: Vec<Invocation>| -> Vec<(FunctionId, Time)> {
            v.into_iter().map(|i| (i.function, i.arrival)).collect()
        };
        assert_eq!(
            key(take(base.build(3).unwrap(), 1000)),
            key(take(steady.build(3).unwrap(), 1000))
        );
    }

    #[test]
    fn catalog_names_and_app_layout() {
        let spec = SyntheticSpec {
            functions: 50,
            apps: 20,
            ..SyntheticSpec::default()
        };
        let c = spec.build(1).unwrap().catalog;
        assert_eq!(c.functions.len(), 50);
        assert_eq!(c.apps.len(), 20);
        assert_eq!(c.functions[0].name, "f0");
        assert_eq!(c.functions[49].name, "f49");
        assert_eq!(c.apps[19].name, "a19");
        for (f, func) in c.functions.iter().take(20).enumerate() {
            assert_eq!(func.app, AppId(f as u32));
        }
        assert!(c.functions_per_app().iter().all(|&n| n >= 1));
        assert!(
            c.functions
                .iter()
                .all(|f| (16..=4096).contains(&f.memory_mb))
        );
    }

    #[test]
    fn split_divides_app_memory_among_functions() {
        let split = SyntheticSpec {
            functions: 100,
            apps: 10,
            memory_min_mb: 1,
            ..SyntheticSpec::default()
        };
        let whole = SyntheticSpec {
            app_memory: AppMemory::PerFunction,
            ..split.clone()
        };
        let (s, w) = (
            split.build(5).unwrap().catalog,
            whole.build(5).unwrap().catalog,
        );
        let per_app = s.functions_per_app();
        for (fs, fw) in s.functions.iter().zip(&w.functions) {
            assert_eq!(fs.app, fw.app);
            assert_eq!(fs.memory_mb, fw.memory_mb.div_ceil(per_app[fs.app.index()]));
        }
    }

    #[test]
    fn arrivals_are_sorted_and_inside_the_duration() {
        let spec = SyntheticSpec {
            duration: Duration::from_secs(600),
            rate: 100.0,
            ..SyntheticSpec::default()
        };
        let v = all(spec.build(11).unwrap());
        assert!(v.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        assert!(v.iter().all(|i| i.arrival < 600 * MICROS_PER_SEC));
        assert!(v.iter().all(|i| i.function.0 < 200 && i.duration >= 1));
    }

    #[test]
    fn count_matches_rate_times_duration() {
        // 50/s for 4000 s: 200,000 expected; the Poisson standard deviation is about 450 (0.2%).
        let spec = SyntheticSpec {
            duration: Duration::from_secs(4000),
            rate: 50.0,
            ..SyntheticSpec::default()
        };
        assert_eq!(spec.expected_invocations(), 200_000);
        let n = spec.build(2).unwrap().invocations.count() as f64;
        assert!((n / 200_000.0 - 1.0).abs() < 0.03, "got {n}");
    }

    #[test]
    fn top_rank_gets_its_zipf_share() {
        // With zipf 1 over 10 functions, rank 1 gets 1 / H_10 = 1 / 2.928968 = 0.341417 of the
        // arrivals. Over about 1,000,000 arrivals the standard error is 0.0005.
        let spec = SyntheticSpec {
            functions: 10,
            apps: 10,
            duration: Duration::from_secs(10_000),
            rate: 100.0,
            zipf: 1.0,
            ..SyntheticSpec::default()
        };
        let mut counts = [0u64; 10];
        let mut total = 0u64;
        for i in spec.build(4).unwrap().invocations {
            counts[i.unwrap().function.index()] += 1;
            total += 1;
        }
        let share = *counts.iter().max().unwrap() as f64 / total as f64;
        assert!((share - 0.341417).abs() < 0.01, "top share {share}");
    }

    #[test]
    fn zipf_zero_is_uniform() {
        let spec = SyntheticSpec {
            functions: 4,
            apps: 1,
            zipf: 0.0,
            duration: Duration::from_secs(1000),
            rate: 100.0,
            ..SyntheticSpec::default()
        };
        let mut counts = [0f64; 4];
        let v = all(spec.build(9).unwrap());
        for i in &v {
            counts[i.function.index()] += 1.0;
        }
        for c in counts {
            assert!((c / v.len() as f64 - 0.25).abs() < 0.01);
        }
    }

    #[test]
    fn alias_table_draws_in_proportion_to_weights() {
        // Weights 0, 1, 0, 3 out of 4: slots 1 and 3 get 25% and 75%, the others nothing. Over
        // 400,000 draws one standard deviation of a share is 0.0007.
        let table = AliasTable::new(&[0.0, 1.0, 0.0, 3.0]);
        let mut rng = stream(1, 98);
        let mut counts = [0u32; 4];
        for _ in 0..400_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!((counts[0], counts[2]), (0, 0));
        assert!(
            (counts[1] as f64 / 400_000.0 - 0.25).abs() < 0.005,
            "{counts:?}"
        );
    }

    #[test]
    fn burr_median_matches_analytic() {
        // Median of Burr XII: lambda * (2^(1/k) - 1)^(1/c)
        //   = 107.083 * (2^4.52489 - 1)^0.085822 = 107.083 * 22.0211^0.085822 = 139.63 MB.
        let b = SyntheticSpec::default().memory;
        let analytic = b.lambda * (2f64.powf(1.0 / b.k) - 1.0).powf(1.0 / b.c);
        assert!((analytic - 139.63).abs() < 0.01, "analytic {analytic}");
        let mut rng = stream(1, 99);
        let mut xs: Vec<f64> = (0..100_001)
            .map(|_| sample_burr(&b, rng.random::<f64>()))
            .collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[50_000];
        assert!((median / analytic - 1.0).abs() < 0.02, "median {median}");
    }

    #[test]
    fn diurnal_peak_hour_exceeds_trough_hour() {
        // Amplitude 0.5, peak 14h. The mean of cos over an hour next to the peak is
        // sin(2π/24) / (2π/24) = 0.258819 / 0.261799 = 0.98862, and over the hour 12h away it is
        // -0.98862. Hour 14-15 expects 10 * 3600 * (1 + 0.5 * 0.98862) = 53,795 arrivals, hour
        // 2-3 expects 10 * 3600 * (1 - 0.49431) = 18,205: a ratio of 2.955 (one sigma ≈ 0.025).
        let spec = SyntheticSpec {
            rate: 10.0,
            diurnal: Some(Diurnal {
                amplitude: 0.5,
                peak: "14h".parse().unwrap(),
            }),
            ..SyntheticSpec::default()
        };
        let (mut peak, mut trough, mut total) = (0f64, 0f64, 0f64);
        for i in spec.build(6).unwrap().invocations {
            match i.unwrap().arrival / MICROS_PER_HOUR {
                14 => peak += 1.0,
                2 => trough += 1.0,
                _ => {}
            }
            total += 1.0;
        }
        let ratio = peak / trough;
        assert!((2.85..3.06).contains(&ratio), "ratio {ratio}");
        // Over a whole day the cosine averages out: 864,000 expected.
        assert_eq!(spec.expected_invocations(), 864_000);
        assert!((total / 864_000.0 - 1.0).abs() < 0.01, "total {total}");
    }

    #[test]
    fn diurnal_hourly_counts_follow_the_rate() {
        // Amplitude 0.9 at 20/s: hours range from about 7,300 to 136,700 expected arrivals. Each
        // hour's expectation is the difference of expected_invocations at its two ends, and a
        // Poisson count stays within 5 standard deviations of it.
        let spec = |duration: Duration| SyntheticSpec {
            duration,
            rate: 20.0,
            diurnal: Some(Diurnal {
                amplitude: 0.9,
                peak: "9h".parse().unwrap(),
            }),
            ..SyntheticSpec::default()
        };
        let mut counts = [0f64; 24];
        for i in spec(Duration(MICROS_PER_DAY)).build(8).unwrap().invocations {
            counts[(i.unwrap().arrival / MICROS_PER_HOUR) as usize] += 1.0;
        }
        for (h, &count) in counts.iter().enumerate() {
            let at = |h: u64| spec(Duration(h * MICROS_PER_HOUR)).expected_invocations() as f64;
            let expected = at(h as u64 + 1) - at(h as u64);
            assert!(
                (count - expected).abs() < 5.0 * expected.sqrt(),
                "hour {h}: {count} arrivals, expected {expected}"
            );
        }
    }

    #[test]
    fn expected_invocations_integrates_partial_days() {
        // Six hours from midnight with the peak at 6h: the cosine term integrates to
        // amplitude * (24h / 2π) * (sin(0) - sin(-π/2)) = 0.5 * 13,750.99 s.
        // 1/s * (21,600 + 6,875.49) = 28,475.
        let spec = SyntheticSpec {
            duration: "6h".parse().unwrap(),
            rate: 1.0,
            diurnal: Some(Diurnal {
                amplitude: 0.5,
                peak: "6h".parse().unwrap(),
            }),
            ..SyntheticSpec::default()
        };
        assert_eq!(spec.expected_invocations(), 28_475);
    }

    #[test]
    fn jitter_preserves_each_functions_mean() {
        // sigma 0 gives every function mean exp(ln 0.1) = 0.1 s. With jitter 1 a duration has
        // coefficient of variation sqrt(e - 1) = 1.31, so the mean of 200,000 is within 0.3% (one
        // sigma) of 100,000 us; the clamps sit more than 4 sigma away.
        let spec = SyntheticSpec {
            exec: LogNormalSpec {
                mu: 0.1f64.ln(),
                sigma: 0.0,
            },
            exec_jitter: 1.0,
            duration: Duration::from_secs(2000),
            rate: 100.0,
            ..SyntheticSpec::default()
        };
        let v = all(spec.build(12).unwrap());
        let mean = v.iter().map(|i| i.duration as f64).sum::<f64>() / v.len() as f64;
        assert!((mean / 100_000.0 - 1.0).abs() < 0.02, "mean {mean}");

        let exact = SyntheticSpec {
            exec_jitter: 0.0,
            ..spec
        };
        assert!(
            take(exact.build(12).unwrap(), 1000)
                .iter()
                .all(|i| i.duration == 100_000)
        );
    }

    #[test]
    fn exec_clamp_is_respected() {
        let spec = SyntheticSpec {
            exec: LogNormalSpec {
                mu: 0.0,
                sigma: 4.0,
            },
            exec_jitter: 2.0,
            exec_min: "10ms".parse().unwrap(),
            exec_max: "1s".parse().unwrap(),
            duration: Duration::from_secs(100),
            rate: 100.0,
            ..SyntheticSpec::default()
        };
        let v = all(spec.build(13).unwrap());
        assert!(v.iter().all(|i| (10_000..=1_000_000).contains(&i.duration)));
        assert!(v.iter().any(|i| i.duration == 10_000));
        assert!(v.iter().any(|i| i.duration == 1_000_000));
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |f: fn(&mut SyntheticSpec), needle: &str| {
            let mut spec = SyntheticSpec::default();
            f(&mut spec);
            let err = spec.build(0).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        };
        bad(
            |s| s.functions = 0,
            "functions must be between 1 and 10000000, got 0",
        );
        bad(
            |s| s.apps = 201,
            "apps must be between 1 and functions (200), got 201",
        );
        bad(|s| s.apps = 0, "apps must be between 1");
        bad(
            |s| s.duration = Duration::ZERO,
            "duration must be longer than 0s",
        );
        bad(|s| s.rate = -1.0, "rate must be a positive number, got -1");
        bad(
            |s| s.rate = f64::NAN,
            "rate must be a positive number, got NaN",
        );
        bad(
            |s| s.zipf = -0.5,
            "zipf must be a finite number of at least 0, got -0.5",
        );
        bad(
            |s| {
                s.diurnal = Some(Diurnal {
                    amplitude: 1.0,
                    peak: Duration::ZERO,
                })
            },
            "diurnal.amplitude must be at least 0 and less than 1, got 1",
        );
        bad(
            |s| {
                s.diurnal = Some(Diurnal {
                    amplitude: 0.5,
                    peak: "25h".parse().unwrap(),
                })
            },
            "diurnal.peak must be a time of day, less than 24h, got 1d1h",
        );
        bad(
            |s| s.exec.mu = f64::INFINITY,
            "exec.mu must be a finite number, got inf",
        );
        bad(
            |s| s.exec.sigma = -1.0,
            "exec.sigma must be a finite number of at least 0",
        );
        bad(|s| s.exec_jitter = f64::INFINITY, "exec_jitter must be");
        bad(
            |s| s.exec_min = Duration::ZERO,
            "exec_min must be at least 1us",
        );
        bad(
            |s| s.exec_max = Duration(500),
            "exec_max must be at least exec_min (1ms), got 500us",
        );
        bad(
            |s| s.memory.c = 0.0,
            "memory.c must be a positive number, got 0",
        );
        bad(|s| s.memory.k = -1.0, "memory.k must be a positive number");
        bad(
            |s| s.memory.lambda = f64::NAN,
            "memory.lambda must be a positive number",
        );
        bad(
            |s| s.memory_min_mb = 0,
            "memory_min_mb must be at least 1, got 0",
        );
        bad(
            |s| s.memory_max_mb = 8,
            "memory_max_mb must be at least memory_min_mb (16), got 8",
        );
    }
}
