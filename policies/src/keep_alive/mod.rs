//! Keep-alive and eviction policies.
//!
//! In a scenario file: `keep_alive = { kind = "ttl", idle = "10m" }`.

mod lru;
mod none;
mod openlambda;
mod ttl;

use serde::{Deserialize, Serialize};
use sim::KeepAlive;
use workloads::Duration;

pub use lru::Lru;
pub use none::NoKeepAlive;
pub use openlambda::OpenLambda;
pub use ttl::{FixedTtl, Refresh};

/// A keep-alive policy and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeepAliveConfig {
    /// Destroy a sandbox as soon as it finishes its invocation.
    None,
    /// Keep an idle sandbox for `idle` after its last use; evict the least recently used first.
    Ttl {
        #[serde(default = "default_ttl")]
        idle: Duration,
        /// `reuse`: the time restarts on every reuse; `once`: it starts when the sandbox first
        /// becomes idle.
        #[serde(default)]
        refresh: Refresh,
        /// Check expiry only when the function is looked up (FaasCache's simulator).
        #[serde(default)]
        lazy: bool,
    },
    /// Keep idle sandboxes until memory is needed; evict the least recently used first.
    Lru,
    /// OpenLambda: pause when idle, evict paused sandboxes oldest first under memory pressure.
    Openlambda {
        #[serde(default = "default_free_goal")]
        free_goal: f64,
        #[serde(default = "default_max_evictions")]
        max_evictions: u32,
        #[serde(default = "default_true")]
        kill_running: bool,
    },
}

fn default_free_goal() -> f64 {
    0.2
}

fn default_max_evictions() -> u32 {
    8
}

fn default_true() -> bool {
    true
}

fn default_ttl() -> Duration {
    Duration::from_mins(10)
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        KeepAliveConfig::Ttl {
            idle: default_ttl(),
            refresh: Refresh::Reuse,
            lazy: false,
        }
    }
}

impl KeepAliveConfig {
    /// Names accepted for `kind`.
    pub const KINDS: &'static [&'static str] = &["none", "ttl", "lru", "openlambda"];

    /// Checks parameters that serde cannot; the message names the field and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            KeepAliveConfig::Ttl { idle, .. } if idle.micros() == 0 => Err(
                "keep_alive.idle must be longer than 0s (use kind = \"none\" to keep nothing)"
                    .to_string(),
            ),
            KeepAliveConfig::Openlambda {
                free_goal,
                max_evictions,
                ..
            } => {
                if !(0.0..1.0).contains(free_goal) {
                    Err(format!(
                        "keep_alive.free_goal must be at least 0 and below 1, got {free_goal}"
                    ))
                } else if *max_evictions == 0 {
                    Err("keep_alive.max_evictions must be at least 1, got 0".to_string())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn build(&self) -> Box<dyn KeepAlive> {
        match *self {
            KeepAliveConfig::None => Box::new(NoKeepAlive),
            KeepAliveConfig::Ttl {
                idle,
                refresh,
                lazy,
            } => Box::new(FixedTtl::with(idle, refresh, lazy)),
            KeepAliveConfig::Lru => Box::new(Lru),
            KeepAliveConfig::Openlambda {
                free_goal,
                max_evictions,
                kill_running,
            } => Box::new(OpenLambda::new(free_goal, max_evictions, kill_running)),
        }
    }

    /// A short label with the parameters, e.g. `ttl(idle=10m)`.
    pub fn label(&self) -> String {
        match self {
            KeepAliveConfig::None => "none".to_string(),
            KeepAliveConfig::Ttl {
                idle,
                refresh,
                lazy,
            } => {
                let mut s = format!("ttl(idle={idle}");
                if *refresh == Refresh::Once {
                    s.push_str(", refresh=once");
                }
                if *lazy {
                    s.push_str(", lazy");
                }
                s + ")"
            }
            KeepAliveConfig::Lru => "lru".to_string(),
            KeepAliveConfig::Openlambda {
                free_goal,
                max_evictions,
                kill_running,
            } => format!(
                "openlambda(free_goal={free_goal}, max_evictions={max_evictions}{})",
                if *kill_running { "" } else { ", no kills" }
            ),
        }
    }
}
