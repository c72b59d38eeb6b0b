//! Keep-alive and eviction policies.
//!
//! In a scenario file: `keep_alive = { kind = "ttl", idle = "10m" }`.

mod lru;
mod none;
mod ttl;

use serde::{Deserialize, Serialize};
use sim::KeepAlive;
use workloads::Duration;

pub use lru::Lru;
pub use none::NoKeepAlive;
pub use ttl::FixedTtl;

/// A keep-alive policy and its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeepAliveConfig {
    /// Destroy a sandbox as soon as it finishes its invocation.
    None,
    /// Keep an idle sandbox for `idle` after its last use; evict the least recently used first.
    Ttl {
        #[serde(default = "default_ttl")]
        idle: Duration,
    },
    /// Keep idle sandboxes until memory is needed; evict the least recently used first.
    Lru,
}

fn default_ttl() -> Duration {
    Duration::from_mins(10)
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        KeepAliveConfig::Ttl {
            idle: default_ttl(),
        }
    }
}

impl KeepAliveConfig {
    /// Names accepted for `kind`.
    pub const KINDS: &'static [&'static str] = &["none", "ttl", "lru"];

    /// Checks parameters that serde cannot; the message names the field and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            KeepAliveConfig::Ttl { idle } if idle.micros() == 0 => Err(
                "keep_alive.idle must be longer than 0s (use kind = \"none\" to keep nothing)"
                    .to_string(),
            ),
            _ => Ok(()),
        }
    }

    pub fn build(&self) -> Box<dyn KeepAlive> {
        match *self {
            KeepAliveConfig::None => Box::new(NoKeepAlive),
            KeepAliveConfig::Ttl { idle } => Box::new(FixedTtl::new(idle)),
            KeepAliveConfig::Lru => Box::new(Lru),
        }
    }

    /// A short label with the parameters, e.g. `ttl(idle=10m)`.
    pub fn label(&self) -> String {
        match self {
            KeepAliveConfig::None => "none".to_string(),
            KeepAliveConfig::Ttl { idle } => format!("ttl(idle={idle})"),
            KeepAliveConfig::Lru => "lru".to_string(),
        }
    }
}
