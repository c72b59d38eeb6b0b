//! Keep-alive and eviction policies.
//!
//! In a scenario file: `keep_alive = { kind = "ttl", idle = "10m" }`.

pub mod faascache;
pub mod greedy_dual;
pub mod hybrid;
mod lru;
mod none;
mod openlambda;
mod ttl;

use serde::{Deserialize, Serialize};
use sim::KeepAlive;
use workloads::Duration;

pub use faascache::{FaasCachePool, PoolPolicy};
pub use greedy_dual::{GreedyDual, Variant};
pub use hybrid::{HybridConfig, HybridHistogram};
pub use lru::Lru;
pub use none::NoKeepAlive;
pub use openlambda::OpenLambda;
pub use ttl::{FixedTtl, Refresh};

/// A keep-alive policy and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeepAliveConfig {
    /// Destroy a sandbox as soon as it finishes its invocation.
    None {},
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
    /// Keep idle sandboxes until memory is needed ("no unloading"); evict the least recently
    /// used first.
    Lru {},
    /// OpenLambda: pause when idle, evict paused sandboxes oldest first under memory pressure.
    Openlambda {
        #[serde(default = "default_free_goal")]
        free_goal: f64,
        #[serde(default = "default_max_evictions")]
        max_evictions: u32,
        #[serde(default = "default_true")]
        kill_running: bool,
    },
    /// The hybrid histogram policy of "Serverless in the Wild" (per-app idle-time histogram,
    /// pre-warming and keep-alive windows, forecast for out-of-range idle times).
    Hybrid(HybridConfig),
    /// FaasCache's Greedy-Dual family: keep until memory is needed, evict by priority.
    GreedyDual {
        #[serde(default = "default_variant")]
        variant: Variant,
    },
}

/// How the keep-alive policies that evict by priority keep their sandboxes (`[model] pool`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolMode {
    /// lambdasim's own indexes: O(1) per arrival, ties to the sandbox idle the longest.
    #[default]
    Indexed,
    /// FaasCache's container pool, one `heapq` list per worker (see [`faascache`]): its reuse
    /// order, tie-breaking and priority arithmetic exactly.
    Heap,
}

fn default_variant() -> Variant {
    Variant::Gd
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
    pub const KINDS: &'static [&'static str] =
        &["none", "ttl", "lru", "openlambda", "hybrid", "greedy-dual"];

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
            KeepAliveConfig::Hybrid(config) => config.validate(),
            _ => Ok(()),
        }
    }

    /// Builds the policy with a uniform cold-start cost of 35 ms for every function (the default
    /// cost model's create + init); use [`KeepAliveConfig::build_for`] to give each function its
    /// own, as cost-aware policies (Greedy-Dual) need.
    pub fn build(&self, functions: usize) -> Box<dyn KeepAlive> {
        self.build_for(&vec![35_000; functions], 0)
    }

    /// Builds the policy. `cold_cost_us[f]` is the cold-start cost of function f in µs (creation
    /// plus initialization), which Greedy-Dual weighs; `seed` feeds the random variant.
    pub fn build_for(&self, cold_cost_us: &[u64], seed: u64) -> Box<dyn KeepAlive> {
        match *self {
            KeepAliveConfig::None {} => Box::new(NoKeepAlive),
            KeepAliveConfig::Ttl {
                idle,
                refresh,
                lazy,
            } => Box::new(FixedTtl::with(idle, refresh, lazy)),
            KeepAliveConfig::Lru {} => Box::new(Lru),
            KeepAliveConfig::Openlambda {
                free_goal,
                max_evictions,
                kill_running,
            } => Box::new(OpenLambda::new(free_goal, max_evictions, kill_running)),
            KeepAliveConfig::Hybrid(config) => Box::new(HybridHistogram::new(&config)),
            KeepAliveConfig::GreedyDual { variant } => {
                Box::new(GreedyDual::new(variant, cold_cost_us.to_vec(), seed))
            }
        }
    }

    /// The policy as `pool` keeps it: FaasCache's pool policy when `pool` is `heap` (and for
    /// `greedy-dual,variant=hist`, which only that pool runs), `None` otherwise; an error names
    /// what the pool cannot run.
    pub fn pool_policy(&self, pool: PoolMode) -> Result<Option<PoolPolicy>, String> {
        let heap = pool == PoolMode::Heap;
        let policy = match *self {
            KeepAliveConfig::GreedyDual {
                variant: Variant::Hist,
            } => PoolPolicy::Hist,
            _ if !heap => return Ok(None),
            KeepAliveConfig::Ttl {
                idle,
                refresh: Refresh::Reuse,
                lazy: true,
            } => PoolPolicy::Ttl {
                ttl_ms: idle.micros() as f64 / 1000.0,
            },
            KeepAliveConfig::Ttl { .. } => {
                return Err(
                    "keep_alive: model.pool = \"heap\" runs ttl as FaasCache does, with lazy = true and refresh = \"reuse\""
                        .to_string(),
                );
            }
            KeepAliveConfig::Lru {} => PoolPolicy::Lru,
            KeepAliveConfig::GreedyDual { variant } => match variant {
                Variant::Gd => PoolPolicy::Gd,
                Variant::Lru => PoolPolicy::Lru,
                Variant::Freq => PoolPolicy::Freq,
                Variant::Size => PoolPolicy::Size,
                Variant::Landlord => PoolPolicy::Landlord,
                Variant::Hist => PoolPolicy::Hist,
                Variant::Rand => {
                    return Err(
                        "keep_alive: model.pool = \"heap\" has no greedy-dual variant rand (FaasCache draws it from numpy's unseeded generator); use model.pool = \"indexed\""
                            .to_string(),
                    );
                }
            },
            _ => {
                return Err(format!(
                    "keep_alive: model.pool = \"heap\" runs FaasCache's policies: ttl (lazy), lru and greedy-dual, not {}",
                    self.label()
                ));
            }
        };
        Ok(Some(policy))
    }

    /// Builds the policy as [`KeepAliveConfig::build_for`] does, in the pool `pool` asks for.
    /// `init_us[f]` is function f's initialization time (its cold time less its warm time), which
    /// FaasCache's pool weighs.
    pub fn build_in(
        &self,
        pool: PoolMode,
        cold_cost_us: &[u64],
        init_us: &[u64],
        seed: u64,
    ) -> Result<Box<dyn KeepAlive>, String> {
        Ok(match self.pool_policy(pool)? {
            Some(policy) => Box::new(FaasCachePool::new(policy, init_us.to_vec())),
            None => self.build_for(cold_cost_us, seed),
        })
    }

    /// A short label with the parameters, e.g. `ttl(idle=10m)`.
    pub fn label(&self) -> String {
        match self {
            KeepAliveConfig::None {} => "none".to_string(),
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
            KeepAliveConfig::Lru {} => "lru".to_string(),
            KeepAliveConfig::Hybrid(config) => config.label(),
            KeepAliveConfig::GreedyDual { variant } => format!("greedy-dual({})", variant.name()),
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
