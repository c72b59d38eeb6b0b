//! Execution time models: the per-function duration models readers build, and the Azure 2019
//! duration statistics they are built from.

use super::*;

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
