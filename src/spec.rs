//! Policies on the command line: `--keep-alive ttl,idle=10m` is the scenario file's
//! `keep_alive = { kind = "ttl", idle = "10m" }` in one word, and goes through the same serde
//! checks, so both give the same error messages.

use serde::de::DeserializeOwned;

use crate::Error;

/// Parses `kind[,key=value...]` into the policy configuration `T`. Values that read as integers,
/// floats or booleans become those; anything else is a string (durations such as `10m`).
pub fn parse_policy<T: DeserializeOwned>(flag: &str, text: &str) -> Result<T, Error> {
    let mut parts = text.split(',').map(str::trim);
    let kind = parts.next().unwrap_or_default();
    if kind.is_empty() {
        return Err(Error::Input(format!(
            "{flag}: expected a policy name, optionally followed by ,key=value parameters"
        )));
    }
    let mut table = toml::Table::new();
    table.insert("kind".to_string(), toml::Value::String(kind.to_string()));
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            return Err(Error::Input(format!(
                "{flag}: parameter {part:?} must be written key=value"
            )));
        };
        let value = value.trim();
        let value = if let Ok(i) = value.parse::<i64>() {
            toml::Value::Integer(i)
        } else if let Ok(f) = value.parse::<f64>() {
            toml::Value::Float(f)
        } else if let Ok(b) = value.parse::<bool>() {
            toml::Value::Boolean(b)
        } else {
            toml::Value::String(value.to_string())
        };
        table.insert(key.trim().to_string(), value);
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| Error::Input(format!("{flag} {text:?}: {}", e.message())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use policies::{KeepAliveConfig, SchedulerConfig};
    use workloads::Duration;

    #[test]
    fn parses_kind_and_parameters() {
        let ka: KeepAliveConfig = parse_policy("--keep-alive", "ttl,idle=5m").unwrap();
        assert_eq!(
            ka,
            KeepAliveConfig::Ttl {
                idle: Duration::from_mins(5),
                refresh: Default::default(),
                lazy: false,
            }
        );
        let s: SchedulerConfig = parse_policy("--scheduler", "hash").unwrap();
        assert_eq!(s, SchedulerConfig::Hash);
    }

    #[test]
    fn errors_name_the_flag_and_the_choices() {
        let e = parse_policy::<KeepAliveConfig>("--keep-alive", "ttll")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--keep-alive"), "{e}");
        assert!(e.contains("`none`, `ttl`, `lru`"), "{e}");
        let e = parse_policy::<KeepAliveConfig>("--keep-alive", "ttl,idel=5m")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `idel`"), "{e}");
        let e = parse_policy::<KeepAliveConfig>("--keep-alive", "ttl,idle")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key=value"), "{e}");
    }
}
