//! What a workload holds, for `lambdasim trace info`: functions, apps, invocations, the rate over
//! time, and percentiles of execution time, memory and per-function popularity. Computed in one
//! streaming pass, in memory proportional to the functions.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;
use workloads::{Time, Workload, WorkloadError};

const MICROS_PER_SEC: f64 = 1e6;

/// Percentiles reported for every distribution.
const QUANTILES: [(&str, f64); 6] = [
    ("min", 0.0),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p99", 0.99),
    ("max", 1.0),
];

/// Summary statistics of one distribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Distribution {
    pub count: u64,
    pub mean: f64,
    /// `(name, value)` for min, p25, p50, p75, p99, max. Min and max are exact; the percentiles
    /// come from a histogram of 3 significant digits and lie between them.
    pub quantiles: Vec<(String, f64)>,
}

/// Invocations in one bucket of time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateBucket {
    /// Start of the bucket in seconds from the start of the replay.
    pub start_s: u64,
    pub invocations: u64,
    /// Mean invocations per second in the bucket.
    pub per_second: f64,
}

/// The figures `trace info` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceStats {
    pub functions: usize,
    pub apps: usize,
    /// Functions invoked at least once.
    pub invoked_functions: usize,
    pub invocations: u64,
    /// First and last arrival, in seconds.
    pub first_arrival_s: f64,
    pub last_arrival_s: f64,
    /// Mean invocations per second between time 0 and the last arrival.
    pub mean_rate: f64,
    pub bucket_s: u64,
    pub rate: Vec<RateBucket>,
    /// Execution time per invocation, in milliseconds.
    pub duration_ms: Distribution,
    /// Sandbox memory per function, in MB.
    pub memory_mb: Distribution,
    /// Invocations per invoked function.
    pub invocations_per_function: Distribution,
    /// Share of all invocations that go to the most invoked 1% of functions.
    pub top1pct_share: f64,
}

impl TraceStats {
    /// Consumes the workload's stream. `bucket` is the width of the rate table's rows (µs).
    pub fn collect(workload: Workload, bucket: Time) -> Result<Self, WorkloadError> {
        let bucket = bucket.max(1);
        let catalog = workload.catalog;
        let mut per_function = vec![0u64; catalog.functions.len()];
        let mut durations = histogram();
        let mut duration_sum = 0f64;
        let mut duration_range = (u64::MAX, 0);
        let mut buckets: Vec<u64> = Vec::new();
        let (mut first, mut last, mut n) = (None, 0, 0u64);
        for inv in workload.invocations {
            let inv = inv?;
            n += 1;
            first.get_or_insert(inv.arrival);
            last = inv.arrival;
            if let Some(c) = per_function.get_mut(inv.function.index()) {
                *c += 1;
            }
            durations.saturating_record(inv.duration.max(1));
            duration_range = (
                duration_range.0.min(inv.duration),
                duration_range.1.max(inv.duration),
            );
            duration_sum += inv.duration as f64;
            let b = (inv.arrival / bucket) as usize;
            if buckets.len() <= b {
                buckets.resize(b + 1, 0);
            }
            buckets[b] += 1;
        }
        let mut memory = histogram();
        let mut memory_sum = 0f64;
        for f in &catalog.functions {
            memory.saturating_record(u64::from(f.memory_mb).max(1));
            memory_sum += f64::from(f.memory_mb);
        }
        let mut popularity = histogram();
        let mut invoked: Vec<u64> = per_function.iter().copied().filter(|&c| c > 0).collect();
        for &c in &invoked {
            popularity.saturating_record(c);
        }
        invoked.sort_unstable_by(|a, b| b.cmp(a));
        let top = invoked.len().div_ceil(100);
        let top_share = if n == 0 {
            0.0
        } else {
            invoked[..top].iter().sum::<u64>() as f64 / n as f64
        };
        let memory_values = catalog.functions.iter().map(|f| u64::from(f.memory_mb));
        let bucket_secs = bucket as f64 / MICROS_PER_SEC;
        let span = last as f64 / MICROS_PER_SEC;
        Ok(TraceStats {
            functions: catalog.functions.len(),
            apps: catalog.apps.len(),
            invoked_functions: invoked.len(),
            invocations: n,
            first_arrival_s: first.unwrap_or(0) as f64 / MICROS_PER_SEC,
            last_arrival_s: span,
            mean_rate: if span > 0.0 { n as f64 / span } else { 0.0 },
            bucket_s: bucket / 1_000_000,
            rate: buckets
                .iter()
                .enumerate()
                .map(|(i, &c)| RateBucket {
                    start_s: i as u64 * bucket / 1_000_000,
                    invocations: c,
                    per_second: c as f64 / bucket_secs,
                })
                .collect(),
            duration_ms: distribution(&durations, duration_range, duration_sum, 1e-3),
            memory_mb: distribution(&memory, range(memory_values), memory_sum, 1.0),
            invocations_per_function: distribution(
                &popularity,
                range(invoked.iter().copied()),
                invoked.iter().sum::<u64>() as f64,
                1.0,
            ),
            top1pct_share: top_share,
        })
    }

    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "functions    {} in {} apps ({} invoked at least once)",
            self.functions, self.apps, self.invoked_functions
        );
        let _ = writeln!(
            s,
            "invocations  {} from {:.1} s to {:.1} s, {:.2}/s on average",
            self.invocations, self.first_arrival_s, self.last_arrival_s, self.mean_rate
        );
        let _ = writeln!(
            s,
            "popularity   the most invoked 1% of functions receive {:.1}% of invocations",
            self.top1pct_share * 100.0
        );
        let line = |s: &mut String, label: &str, unit: &str, d: &Distribution| {
            let q: Vec<String> = d
                .quantiles
                .iter()
                .map(|(k, v)| format!("{k} {}", number(*v)))
                .collect();
            let _ = writeln!(
                s,
                "{label:<12} {} (mean {}){unit}",
                q.join(", "),
                number(d.mean)
            );
        };
        line(&mut s, "duration", " ms, per invocation", &self.duration_ms);
        line(&mut s, "memory", " MB, per function", &self.memory_mb);
        line(
            &mut s,
            "per function",
            " invocations, per invoked function",
            &self.invocations_per_function,
        );
        let _ = writeln!(s, "\nrate over time ({} s buckets)", self.bucket_s);
        let peak = self.rate.iter().map(|b| b.per_second).fold(0.0, f64::max);
        for b in &self.rate {
            let bar = if peak > 0.0 {
                "#".repeat((b.per_second / peak * 40.0).round() as usize)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "  {:>8}  {:>12} inv  {:>10.2}/s  {bar}",
                clock(b.start_s),
                b.invocations,
                b.per_second
            );
        }
        s
    }
}

/// Values up to 2^45 (a year in microseconds) with 3 significant digits; larger ones saturate.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1 << 45, 3).expect("the bounds and precision are valid")
}

fn range(values: impl Iterator<Item = u64>) -> (u64, u64) {
    values.fold((u64::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Percentiles from the histogram, within the exact min and max: the histogram rounds values to
/// its buckets (up to the top of one, past the max), and records 0 as 1.
fn distribution(h: &Histogram<u64>, exact: (u64, u64), sum: f64, unit: f64) -> Distribution {
    let count = h.len();
    Distribution {
        count,
        mean: if count == 0 {
            0.0
        } else {
            sum / count as f64 * unit
        },
        quantiles: QUANTILES
            .iter()
            .map(|&(name, q)| {
                let v = if count == 0 {
                    0
                } else if q == 0.0 {
                    exact.0
                } else if q == 1.0 {
                    exact.1
                } else {
                    h.value_at_quantile(q).max(exact.0).min(exact.1)
                };
                (name.to_string(), v as f64 * unit)
            })
            .collect(),
    }
}

/// Three significant digits without exponent noise.
fn number(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// `d+hh:mm` or `hh:mm` from seconds.
fn clock(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}+{h:02}:{m:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::{App, AppId, Catalog, Function, FunctionId, Invocation};

    #[test]
    fn counts_rates_and_percentiles() {
        let f = |name: &str, memory_mb| Function {
            name: name.into(),
            app: AppId(0),
            memory_mb,
            concurrency: None,
            init: None,
            packages: Vec::new(),
        };
        let catalog = Catalog {
            packages: Default::default(),
            functions: vec![f("a", 128), f("b", 256), f("c", 512)],
            apps: vec![App { name: "x".into() }],
        };
        // a: 3 invocations in the first minute, b: 1 in the second, c: never.
        let inv = |f, arrival, ms: u64| {
            Ok(Invocation {
                function: FunctionId(f),
                arrival,
                duration: ms * 1000,
            })
        };
        let list = vec![
            inv(0, 0, 10),
            inv(0, 20_000_000, 20),
            inv(0, 40_000_000, 30),
            inv(1, 90_000_000, 40),
        ];
        let w = Workload {
            catalog,
            invocations: Box::new(list.into_iter()),
        };
        let s = TraceStats::collect(w, 60_000_000).unwrap();
        assert_eq!((s.functions, s.apps, s.invoked_functions), (3, 1, 2));
        assert_eq!(s.invocations, 4);
        assert_eq!(s.rate.len(), 2);
        assert_eq!((s.rate[0].invocations, s.rate[1].invocations), (3, 1));
        assert!((s.rate[0].per_second - 0.05).abs() < 1e-12);
        assert!((s.duration_ms.mean - 25.0).abs() < 1e-9);
        assert_eq!(s.memory_mb.quantiles[5], ("max".to_string(), 512.0));
        assert!((s.memory_mb.mean - 896.0 / 3.0).abs() < 1e-9);
        // One percent of 2 invoked functions rounds up to one function: a, with 3 of 4.
        assert!((s.top1pct_share - 0.75).abs() < 1e-12);
        let text = s.render_text();
        assert!(
            text.contains("3 in 1 apps (2 invoked at least once)"),
            "{text}"
        );
        assert!(text.contains("00:01"), "{text}");
    }

    #[test]
    fn percentiles_stay_between_the_exact_min_and_max() {
        let f = |memory_mb| Function {
            name: format!("f{memory_mb}"),
            app: AppId(0),
            memory_mb,
            concurrency: None,
            init: None,
            packages: Vec::new(),
        };
        // The histogram's bucket of 8062 tops at 8063, and that of 600 s at 600.31 s.
        let catalog = Catalog {
            packages: Default::default(),
            functions: vec![f(8062), f(8062), f(8062)],
            apps: vec![App { name: "x".into() }],
        };
        let list: Vec<Result<Invocation, WorkloadError>> = (0..100)
            .map(|i| {
                Ok(Invocation {
                    function: FunctionId(0),
                    arrival: i * 1_000_000,
                    duration: 600_000_000,
                })
            })
            .collect();
        let w = Workload {
            catalog,
            invocations: Box::new(list.into_iter()),
        };
        let s = TraceStats::collect(w, 60_000_000).unwrap();
        for (name, value) in &s.duration_ms.quantiles {
            assert_eq!(*value, 600_000.0, "duration {name}");
        }
        for (name, value) in &s.memory_mb.quantiles {
            assert_eq!(*value, 8062.0, "memory {name}");
        }

        // Zero durations are recorded as 1 µs, but reported as 0.
        let zero = Workload {
            catalog: Catalog {
                packages: Default::default(),
                functions: vec![f(128)],
                apps: vec![App { name: "x".into() }],
            },
            invocations: Box::new(
                vec![Ok(Invocation {
                    function: FunctionId(0),
                    arrival: 0,
                    duration: 0,
                })]
                .into_iter(),
            ),
        };
        let s = TraceStats::collect(zero, 60_000_000).unwrap();
        assert!(
            s.duration_ms.quantiles.iter().all(|(_, v)| *v == 0.0),
            "{:?}",
            s.duration_ms
        );
    }
}
