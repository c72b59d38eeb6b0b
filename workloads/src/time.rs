//! Simulated time: integer microseconds, and human-readable durations for configuration.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time or a span, in microseconds. Integer time keeps event order exact and results
/// byte-identical across runs and machines.
pub type Time = u64;

pub const MICROS_PER_MS: Time = 1_000;
pub const MICROS_PER_SEC: Time = 1_000_000;
pub const MICROS_PER_MIN: Time = 60 * MICROS_PER_SEC;
pub const MICROS_PER_HOUR: Time = 60 * MICROS_PER_MIN;
pub const MICROS_PER_DAY: Time = 24 * MICROS_PER_HOUR;

/// A span of time written with a unit, such as `"10m"`, `"250ms"`, `"1.5s"` or `"2h30m"`.
///
/// Units: `us`, `ms`, `s`, `m` (minutes), `h`, `d`. Parts may be combined (`"1h30m"`) and may have
/// a decimal fraction (`"0.5s"`); the result is rounded to the nearest microsecond. A bare number
/// is rejected because the unit would be a guess.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub Time);

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub fn from_secs(s: u64) -> Self {
        Duration(s * MICROS_PER_SEC)
    }

    pub fn from_millis(ms: u64) -> Self {
        Duration(ms * MICROS_PER_MS)
    }

    pub fn from_mins(m: u64) -> Self {
        Duration(m * MICROS_PER_MIN)
    }

    pub fn micros(self) -> Time {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_SEC as f64
    }
}

/// Why a duration string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DurationError {}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| {
            DurationError(format!(
                "invalid duration {s:?}: {why}; write a number with a unit (us, ms, s, m, h, d), e.g. \"10m\" or \"1.5s\""
            ))
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        let mut total: f64 = 0.0;
        let mut rest = text;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_len == 0 {
                return Err(err("expected a number"));
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| err("bad number"))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = rest[..unit_len].trim();
            rest = rest[unit_len..].trim_start();
            let scale = match unit {
                "us" | "µs" => 1,
                "ms" => MICROS_PER_MS,
                "s" => MICROS_PER_SEC,
                "m" | "min" => MICROS_PER_MIN,
                "h" => MICROS_PER_HOUR,
                "d" => MICROS_PER_DAY,
                "" => return Err(err("a unit is missing")),
                _ => return Err(err(&format!("unknown unit {unit:?}"))),
            };
            total += value * scale as f64;
        }
        if !total.is_finite() || total > u64::MAX as f64 / 2.0 {
            return Err(err("it is too large"));
        }
        Ok(Duration(total.round() as Time))
    }
}

impl fmt::Display for Duration {
    /// Prints the shortest exact form: `10m`, `1h30m`, `250ms`, `1500us`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us == 0 {
            return f.write_str("0s");
        }
        if !us.is_multiple_of(MICROS_PER_SEC) {
            return if us.is_multiple_of(MICROS_PER_MS) {
                write!(f, "{}ms", us / MICROS_PER_MS)
            } else {
                write!(f, "{us}us")
            };
        }
        let mut secs = us / MICROS_PER_SEC;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, such as \"10m\", \"250ms\" or \"1.5s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!("10m".parse(), Ok(Duration(600_000_000)));
        assert_eq!("250ms".parse(), Ok(Duration(250_000)));
        assert_eq!("1.5s".parse(), Ok(Duration(1_500_000)));
        assert_eq!("1h30m".parse(), Ok(Duration(5_400_000_000)));
        assert_eq!("7us".parse(), Ok(Duration(7)));
        assert_eq!("1d".parse(), Ok(Duration(86_400_000_000)));
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(
            "10".parse::<Duration>()
                .unwrap_err()
                .0
                .contains("unit is missing")
        );
        assert!(
            "10 weeks"
                .parse::<Duration>()
                .unwrap_err()
                .0
                .contains("unknown unit")
        );
        assert!("".parse::<Duration>().is_err());
        assert!("-5s".parse::<Duration>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in ["10m", "1h30m", "250ms", "1500us", "1d2h", "0s", "45s"] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }
    }
}
