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
/// Units: `us` (or `µs`), `ms`, `s`, `m` (or `min`, minutes), `h`, `d`. Parts may be combined
/// (`"1h30m"`) and may have a decimal fraction (`"0.5s"`); the result is rounded to the nearest
/// microsecond. The syntax is strict, so that a typo is not read as something else: every unit
/// follows a number, each unit appears at most once and from the largest to the smallest
/// (`"1h30m"`, not `"30m1h"` or `"1m1m"`), and there is no space anywhere. A bare number is
/// rejected because the unit would be a guess.
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

/// The units of a duration, from the largest: the names each is written with and its size.
const UNITS: [(&[&str], Time); 6] = [
    (&["d"], MICROS_PER_DAY),
    (&["h"], MICROS_PER_HOUR),
    (&["m", "min"], MICROS_PER_MIN),
    (&["s"], MICROS_PER_SEC),
    (&["ms"], MICROS_PER_MS),
    (&["us", "µs"], 1),
];

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| {
            DurationError(format!(
                "invalid duration {s:?}: {why}; write a number with a unit (us, ms, s, m, h, d), \
                 units from the largest, each once and without spaces, e.g. \"10m\", \"1.5s\" or \"1h30m\""
            ))
        };
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.contains(char::is_whitespace) {
            return Err(err("it contains a space"));
        }
        let mut total: f64 = 0.0;
        let mut rest = s;
        // The index in `UNITS` of the previous part's unit: each part's must come after it.
        let mut previous: Option<(usize, &str)> = None;
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
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            if unit.is_empty() {
                return Err(err("a unit is missing"));
            }
            let Some(index) = UNITS.iter().position(|(names, _)| names.contains(&unit)) else {
                return Err(err(&format!("unknown unit {unit:?}")));
            };
            match previous {
                Some((p, _)) if p == index => {
                    return Err(err(&format!("the unit {unit:?} appears twice")));
                }
                Some((p, before)) if p > index => {
                    return Err(err(&format!(
                        "{unit:?} comes after the smaller unit {before:?}"
                    )));
                }
                _ => {}
            }
            previous = Some((index, unit));
            total += value * UNITS[index].1 as f64;
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
            "10weeks"
                .parse::<Duration>()
                .unwrap_err()
                .0
                .contains("unknown unit \"weeks\"")
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

    #[test]
    fn every_unit_and_its_other_name_still_parses() {
        for (text, us) in [
            ("2d", 2 * MICROS_PER_DAY),
            ("3h", 3 * MICROS_PER_HOUR),
            ("4m", 4 * MICROS_PER_MIN),
            ("4min", 4 * MICROS_PER_MIN),
            ("5s", 5 * MICROS_PER_SEC),
            ("6ms", 6 * MICROS_PER_MS),
            ("7us", 7),
            ("7µs", 7),
            ("0s", 0),
            (".5s", 500_000),
            ("1d2h3m4s5ms6us", 93_784_005_006),
            ("1h0.5m", MICROS_PER_HOUR + 30 * MICROS_PER_SEC),
            ("1min30s", 90 * MICROS_PER_SEC),
        ] {
            assert_eq!(text.parse(), Ok(Duration(us)), "{text}");
        }
    }

    #[test]
    fn the_syntax_is_strict_and_the_message_shows_the_value() {
        for (text, why) in [
            ("1m1m", "the unit \"m\" appears twice"),
            ("1m2min", "the unit \"min\" appears twice"),
            ("1s1s", "the unit \"s\" appears twice"),
            ("30m1h", "\"h\" comes after the smaller unit \"m\""),
            ("1ms1s", "\"s\" comes after the smaller unit \"ms\""),
            ("1s2m3s", "\"m\" comes after the smaller unit \"s\""),
            (" 1m", "it contains a space"),
            ("1m ", "it contains a space"),
            ("1 m", "it contains a space"),
            ("1h 30m", "it contains a space"),
            ("1m\t", "it contains a space"),
            ("", "it is empty"),
            ("m", "expected a number"),
            ("1hm", "unknown unit \"hm\""),
            ("1h5", "a unit is missing"),
            ("1..5s", "bad number"),
            ("+1s", "expected a number"),
        ] {
            let e = text.parse::<Duration>().unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
            assert!(
                e.starts_with(&format!("invalid duration {text:?}: ")),
                "{text:?}: {e}"
            );
        }
    }
}
