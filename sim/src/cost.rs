//! The cost of one sandbox operation: a fixed duration, or a distribution measured on a host.
//!
//! In a scenario's `[costs]` table a fixed cost is a duration (`create = "10ms"`) and a measured
//! one a table of quantiles at equally spaced probabilities from 0 to 1, in microseconds
//! (`create = { quantiles_us = [2100, 2450, ..., 11800] }`), as `lambdasim calibrate` writes it.
//! A measured cost is sampled by inverse transform: a uniform draw `u` falls between two
//! neighbouring quantiles and the cost is interpolated linearly between them, so a cost with 21
//! quantiles follows the measured distribution to within its 5% steps.

use std::fmt;
use std::sync::Arc;

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use workloads::{Duration, Time};

/// A cost: a duration, or a distribution to draw from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cost {
    Fixed(Duration),
    Measured(Arc<Quantiles>),
}

/// A measured distribution: its quantiles at probabilities `0, 1/(n-1), ..., 1`, in µs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantiles {
    pub quantiles_us: Vec<Time>,
}

impl Quantiles {
    /// Checks that there are at least two quantiles and that they do not decrease.
    pub fn new(quantiles_us: Vec<Time>) -> Result<Quantiles, String> {
        if quantiles_us.len() < 2 {
            return Err(format!(
                "quantiles_us needs at least 2 values (the minimum and the maximum), got {}",
                quantiles_us.len()
            ));
        }
        if let Some(i) = quantiles_us.windows(2).position(|w| w[1] < w[0]) {
            return Err(format!(
                "quantiles_us must not decrease, but value {} ({}) is below value {} ({})",
                i + 1,
                quantiles_us[i + 1],
                i,
                quantiles_us[i]
            ));
        }
        Ok(Quantiles { quantiles_us })
    }

    /// The quantile at probability `p` in [0, 1], interpolated between the stored ones.
    pub fn at(&self, p: f64) -> f64 {
        let q = &self.quantiles_us;
        let x = p.clamp(0.0, 1.0) * (q.len() - 1) as f64;
        let i = (x.floor() as usize).min(q.len() - 2);
        let frac = x - i as f64;
        q[i] as f64 + (q[i + 1] as f64 - q[i] as f64) * frac
    }

    /// The mean of the piecewise-linear distribution: the average of the segments' midpoints.
    pub fn mean(&self) -> f64 {
        let q = &self.quantiles_us;
        q.windows(2)
            .map(|w| (w[0] as f64 + w[1] as f64) / 2.0)
            .sum::<f64>()
            / (q.len() - 1) as f64
    }
}

impl Cost {
    pub const ZERO: Cost = Cost::Fixed(Duration::ZERO);

    /// A fixed cost of `us` microseconds.
    pub fn micros_fixed(us: Time) -> Cost {
        Cost::Fixed(Duration(us))
    }

    /// The expected cost in µs (the fixed one, or the distribution's mean, rounded).
    pub fn mean_micros(&self) -> Time {
        match self {
            Cost::Fixed(d) => d.micros(),
            Cost::Measured(q) => q.mean().round() as Time,
        }
    }

    /// Whether drawing this cost needs randomness.
    pub fn is_fixed(&self) -> bool {
        matches!(self, Cost::Fixed(_))
    }

    /// A draw of the cost in µs. A fixed cost takes nothing from `rng`, so that a model with
    /// fixed costs only gives the same results as before costs could be measured.
    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> Time {
        match self {
            Cost::Fixed(d) => d.micros(),
            Cost::Measured(q) => q.at(rng.random::<f64>()).round() as Time,
        }
    }
}

impl From<Duration> for Cost {
    fn from(d: Duration) -> Cost {
        Cost::Fixed(d)
    }
}

impl fmt::Display for Cost {
    /// A fixed cost as its duration; a measured one as `measured, p50 3.1ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cost::Fixed(d) => write!(f, "{d}"),
            Cost::Measured(q) => write!(
                f,
                "measured (p50 {:.3}ms, mean {:.3}ms)",
                q.at(0.5) / 1000.0,
                q.mean() / 1000.0
            ),
        }
    }
}

impl Serialize for Cost {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cost::Fixed(d) => d.serialize(s),
            Cost::Measured(q) => q.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Cost {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CostVisitor;
        impl<'de> Visitor<'de> for CostVisitor {
            type Value = Cost;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration with a unit, such as \"10ms\", or a measured distribution, \
                     { quantiles_us = [...] }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cost, E> {
                v.parse::<Duration>().map(Cost::Fixed).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Cost, A::Error> {
                let raw = Quantiles::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Quantiles::new(raw.quantiles_us)
                    .map(|q| Cost::Measured(Arc::new(q)))
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(CostVisitor)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[derive(Deserialize, Serialize)]
    struct T {
        c: Cost,
    }

    #[test]
    fn fixed_and_measured_costs_parse_and_print_back() {
        let t: T = toml::from_str("c = \"10ms\"").unwrap();
        assert_eq!(t.c, Cost::Fixed(Duration(10_000)));
        assert_eq!(toml::to_string(&t).unwrap().trim(), "c = \"10ms\"");
        let t: T = toml::from_str("c = { quantiles_us = [1000, 2000, 4000] }").unwrap();
        assert_eq!(t.c.mean_micros(), 2250);
        let back: T = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(back.c, t.c);
        for (text, want) in [
            ("c = \"ten\"", "invalid duration"),
            ("c = { quantiles_us = [5] }", "at least 2 values"),
            ("c = { quantiles_us = [5, 4] }", "must not decrease"),
            ("c = { quantiles = [1, 2] }", "unknown field"),
        ] {
            let e = toml::from_str::<T>(text).err().unwrap().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn draws_follow_the_quantiles() {
        let q = Quantiles::new(vec![0, 100, 1000]).unwrap();
        assert_eq!(q.at(0.25), 50.0);
        assert_eq!(q.at(0.75), 550.0);
        assert_eq!(q.at(1.0), 1000.0);
        let cost = Cost::Measured(Arc::new(q));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut draws: Vec<Time> = (0..20_000).map(|_| cost.sample(&mut rng)).collect();
        draws.sort_unstable();
        // Half the draws fall below the median of 100, and their mean is the distribution's.
        let below = draws.iter().filter(|&&d| d <= 100).count();
        assert!((9_700..10_300).contains(&below), "{below}");
        let mean = draws.iter().sum::<Time>() as f64 / draws.len() as f64;
        assert!((mean - 300.0).abs() < 10.0, "{mean}");
        // A fixed cost takes no randomness.
        let mut a = Xoshiro256PlusPlus::seed_from_u64(1);
        let b = a.clone();
        assert_eq!(Cost::micros_fixed(5).sample(&mut a), 5);
        assert_eq!(a, b);
    }
}
