//! Scheduling policies: which worker an invocation goes to.
//!
//! In a scenario file: `scheduler = { kind = "least-loaded" }`, or with parameters
//! `scheduler = { kind = "consistent-hash", c = 1.5 }`; on the command line
//! `--scheduler consistent-hash,c=1.5`.

mod bits;
mod consistent_hash;
mod dslab_least_loaded;
mod hash;
mod hermod;
mod least_loaded;
mod locality;
mod pasch;
mod power_of_two;
mod pull;
mod random;
mod round_robin;
#[cfg(test)]
mod testkit;
mod zygote_hash;

use serde::{Deserialize, Serialize};
use sim::Scheduler;

pub use consistent_hash::ConsistentHash;
pub use dslab_least_loaded::DslabLeastLoaded;
pub use hash::HashAffinity;
pub use hermod::Hermod;
pub use least_loaded::LeastLoaded;
pub use locality::Locality;
pub use pasch::Pasch;
pub use power_of_two::PowerOfD;
pub use pull::{Pull, PullPreference};
pub use random::RandomScheduler;
pub use round_robin::RoundRobin;
pub use zygote_hash::ZygoteHash;

/// A scheduling policy and its parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
// Read through `RawSchedulerConfig`, which rejects unknown keys.
#[serde(tag = "kind", rename_all = "kebab-case", from = "RawSchedulerConfig")]
pub enum SchedulerConfig {
    /// Workers in turn.
    RoundRobin,
    /// A uniformly random worker (seeded).
    Random,
    /// The worker with the fewest invocations in flight, preferring one with a warm sandbox.
    #[default]
    LeastLoaded,
    /// Function affinity: a home worker from the function's name, probing onwards when full.
    Hash,
    /// The least loaded of `d` workers sampled at random (seeded); ties to a warm one.
    PowerOfTwo {
        #[serde(default = "default_d")]
        d: u32,
    },
    /// Consistent hashing with bounded loads: `vnodes` ring points per worker, load factor `c`.
    ConsistentHash {
        #[serde(default = "default_vnodes")]
        vnodes: u32,
        #[serde(default = "default_c")]
        c: f64,
    },
    /// Hermod: packing below `threshold` invocations in flight per core, least loaded above it.
    Hermod {
        #[serde(default = "default_threshold")]
        threshold: f64,
    },
    /// Hiku's pull-based placement: a worker with an idle sandbox of the function, else the least
    /// connected.
    Pull {
        #[serde(default)]
        prefer: PullPreference,
    },
    /// PASch: the less loaded of two affinity workers of the function's largest package, the
    /// least loaded worker above `threshold` invocations in flight per core.
    Pasch {
        #[serde(default = "default_threshold")]
        threshold: f64,
        #[serde(default = "default_vnodes")]
        vnodes: u32,
    },
    /// OpenLambda's zygote affinity: the hash of the function's deepest zygote node modulo the
    /// workers; the least loaded worker above `threshold` invocations in flight per core.
    ZygoteHash {
        #[serde(default = "default_unbounded")]
        threshold: f64,
    },
    /// DSLab FaaS's locality: workers probed from the function's home, the first with a warm
    /// sandbox of it (`warm`), else the first with room for a new one.
    Locality {
        #[serde(default = "default_true")]
        warm: bool,
    },
    /// DSLab FaaS's least-loaded: in flight plus queued, a token for taking it without queueing,
    /// warm on ties.
    DslabLeastLoaded,
}

/// What serde reads: [`SchedulerConfig`] with its unit variants as empty struct variants, because
/// serde ignores the other keys of an internally tagged unit variant (`{ kind = "hash", d = 2 }`
/// would pass) but rejects unknown keys of a struct variant.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawSchedulerConfig {
    RoundRobin {},
    Random {},
    LeastLoaded {},
    Hash {},
    PowerOfTwo {
        #[serde(default = "default_d")]
        d: u32,
    },
    ConsistentHash {
        #[serde(default = "default_vnodes")]
        vnodes: u32,
        #[serde(default = "default_c")]
        c: f64,
    },
    Hermod {
        #[serde(default = "default_threshold")]
        threshold: f64,
    },
    Pull {
        #[serde(default)]
        prefer: PullPreference,
    },
    Pasch {
        #[serde(default = "default_threshold")]
        threshold: f64,
        #[serde(default = "default_vnodes")]
        vnodes: u32,
    },
    ZygoteHash {
        #[serde(default = "default_unbounded")]
        threshold: f64,
    },
    Locality {
        #[serde(default = "default_true")]
        warm: bool,
    },
    DslabLeastLoaded {},
}

impl From<RawSchedulerConfig> for SchedulerConfig {
    fn from(raw: RawSchedulerConfig) -> Self {
        match raw {
            RawSchedulerConfig::RoundRobin {} => SchedulerConfig::RoundRobin,
            RawSchedulerConfig::Random {} => SchedulerConfig::Random,
            RawSchedulerConfig::LeastLoaded {} => SchedulerConfig::LeastLoaded,
            RawSchedulerConfig::Hash {} => SchedulerConfig::Hash,
            RawSchedulerConfig::PowerOfTwo { d } => SchedulerConfig::PowerOfTwo { d },
            RawSchedulerConfig::ConsistentHash { vnodes, c } => {
                SchedulerConfig::ConsistentHash { vnodes, c }
            }
            RawSchedulerConfig::Hermod { threshold } => SchedulerConfig::Hermod { threshold },
            RawSchedulerConfig::Pull { prefer } => SchedulerConfig::Pull { prefer },
            RawSchedulerConfig::Pasch { threshold, vnodes } => {
                SchedulerConfig::Pasch { threshold, vnodes }
            }
            RawSchedulerConfig::ZygoteHash { threshold } => {
                SchedulerConfig::ZygoteHash { threshold }
            }
            RawSchedulerConfig::Locality { warm } => SchedulerConfig::Locality { warm },
            RawSchedulerConfig::DslabLeastLoaded {} => SchedulerConfig::DslabLeastLoaded,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_d() -> u32 {
    2
}

fn default_vnodes() -> u32 {
    100
}

fn default_c() -> f64 {
    1.25
}

fn default_threshold() -> f64 {
    1.0
}

fn default_unbounded() -> f64 {
    f64::INFINITY
}

/// The most ring points per worker `consistent-hash` accepts: 10,000 points for each of 1,000
/// workers is already a 120 MB ring.
pub const MAX_VNODES: u32 = 10_000;

impl SchedulerConfig {
    /// Names accepted for `kind`, in the order serde lists them.
    pub const KINDS: &'static [&'static str] = &[
        "round-robin",
        "random",
        "least-loaded",
        "hash",
        "power-of-two",
        "consistent-hash",
        "hermod",
        "pull",
        "pasch",
        "zygote-hash",
        "locality",
        "dslab-least-loaded",
    ];

    /// Checks parameters that serde cannot; the message names the field, the value and what is
    /// allowed.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            SchedulerConfig::PowerOfTwo { d } if d < 1 => {
                Err(format!("scheduler.d must be at least 1, got {d}"))
            }
            SchedulerConfig::ConsistentHash { vnodes, .. }
                if !(1..=MAX_VNODES).contains(&vnodes) =>
            {
                Err(format!(
                    "scheduler.vnodes must be from 1 to {MAX_VNODES}, got {vnodes}"
                ))
            }
            SchedulerConfig::ConsistentHash { c, .. } if c.is_nan() || c < 1.0 => Err(format!(
                "scheduler.c must be at least 1 (inf for no load bound), got {c}"
            )),
            SchedulerConfig::Hermod { threshold } if threshold.is_nan() || threshold < 0.0 => {
                Err(format!(
                    "scheduler.threshold must be at least 0 (invocations in flight per core), got {threshold}"
                ))
            }
            SchedulerConfig::Pasch { threshold, .. } if threshold.is_nan() || threshold < 0.0 => {
                Err(format!(
                    "scheduler.threshold must be a number of at least 0, got {threshold}"
                ))
            }
            SchedulerConfig::Pasch { vnodes, .. } if !(1..=MAX_VNODES).contains(&vnodes) => Err(
                format!("scheduler.vnodes must be from 1 to {MAX_VNODES}, got {vnodes}"),
            ),
            SchedulerConfig::ZygoteHash { threshold } if threshold.is_nan() || threshold < 0.0 => {
                Err(format!(
                    "scheduler.threshold must be at least 0 (inf: never leave the home worker), got {threshold}"
                ))
            }
            _ => Ok(()),
        }
    }

    /// [`SchedulerConfig::validate`], plus the checks that need the number of workers.
    pub fn validate_for(&self, workers: u32) -> Result<(), String> {
        self.validate()?;
        match *self {
            SchedulerConfig::PowerOfTwo { d } if d > workers => Err(format!(
                "scheduler.d must be at most the number of workers ({workers}), got {d}"
            )),
            _ => Ok(()),
        }
    }

    /// Builds the policy; `seed` feeds the policies that draw random numbers.
    pub fn build(&self, seed: u64) -> Box<dyn Scheduler> {
        match *self {
            SchedulerConfig::RoundRobin => Box::new(RoundRobin::default()),
            SchedulerConfig::Random => Box::new(RandomScheduler::new(seed)),
            SchedulerConfig::LeastLoaded => Box::new(LeastLoaded),
            SchedulerConfig::Hash => Box::new(HashAffinity::default()),
            SchedulerConfig::PowerOfTwo { d } => Box::new(PowerOfD::new(d, seed)),
            SchedulerConfig::ConsistentHash { vnodes, c } => {
                Box::new(ConsistentHash::new(vnodes, c))
            }
            SchedulerConfig::Hermod { threshold } => Box::new(Hermod::new(threshold)),
            SchedulerConfig::Pull { prefer } => Box::new(Pull::new(prefer)),
            SchedulerConfig::Pasch { threshold, vnodes } => Box::new(Pasch::new(threshold, vnodes)),
            SchedulerConfig::ZygoteHash { threshold } => Box::new(ZygoteHash::new(threshold)),
            SchedulerConfig::Locality { warm } => Box::new(Locality::new(warm)),
            SchedulerConfig::DslabLeastLoaded => Box::new(DslabLeastLoaded),
        }
    }

    /// The `kind`, as in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            SchedulerConfig::RoundRobin => "round-robin",
            SchedulerConfig::Random => "random",
            SchedulerConfig::LeastLoaded => "least-loaded",
            SchedulerConfig::Hash => "hash",
            SchedulerConfig::PowerOfTwo { .. } => "power-of-two",
            SchedulerConfig::ConsistentHash { .. } => "consistent-hash",
            SchedulerConfig::Hermod { .. } => "hermod",
            SchedulerConfig::Pull { .. } => "pull",
            SchedulerConfig::Pasch { .. } => "pasch",
            SchedulerConfig::ZygoteHash { .. } => "zygote-hash",
            SchedulerConfig::Locality { .. } => "locality",
            SchedulerConfig::DslabLeastLoaded => "dslab-least-loaded",
        }
    }

    /// A short label with the parameters, e.g. `consistent-hash(c=1.25,vnodes=100)`.
    pub fn label(&self) -> String {
        let kind = self.kind();
        match *self {
            SchedulerConfig::RoundRobin
            | SchedulerConfig::Random
            | SchedulerConfig::LeastLoaded
            | SchedulerConfig::Hash
            | SchedulerConfig::DslabLeastLoaded => kind.to_string(),
            SchedulerConfig::PowerOfTwo { d } => format!("{kind}(d={d})"),
            SchedulerConfig::ConsistentHash { vnodes, c } => {
                format!("{kind}(c={c},vnodes={vnodes})")
            }
            SchedulerConfig::Hermod { threshold } => format!("{kind}(threshold={threshold})"),
            SchedulerConfig::Pull { prefer } => format!("{kind}(prefer={})", prefer.as_str()),
            SchedulerConfig::Pasch { threshold, vnodes } => {
                format!("{kind}(threshold={threshold},vnodes={vnodes})")
            }
            SchedulerConfig::ZygoteHash { threshold } => format!("{kind}(threshold={threshold})"),
            SchedulerConfig::Locality { warm } => format!("{kind}(warm={warm})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error, MapDeserializer};
    use serde::de::{IntoDeserializer, Visitor};
    use serde::forward_to_deserialize_any;

    /// A value of a scenario table, enough of TOML's to test the configuration without a TOML
    /// parser (this crate has none).
    #[derive(Clone, Copy)]
    enum V {
        S(&'static str),
        I(i64),
        F(f64),
    }

    impl<'de> serde::Deserializer<'de> for V {
        type Error = Error;
        fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, Error> {
            match self {
                V::S(s) => visitor.visit_borrowed_str(s),
                V::I(i) => visitor.visit_i64(i),
                V::F(f) => visitor.visit_f64(f),
            }
        }
        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
            identifier ignored_any
        }
    }

    impl<'de> IntoDeserializer<'de, Error> for V {
        type Deserializer = V;
        fn into_deserializer(self) -> V {
            self
        }
    }

    /// Parses `{ kind = ..., key = value, ... }`.
    fn parse(table: &[(&'static str, V)]) -> Result<SchedulerConfig, String> {
        SchedulerConfig::deserialize(MapDeserializer::<_, Error>::new(table.iter().copied()))
            .map_err(|e| e.to_string())
    }

    fn kind(k: &'static str) -> (&'static str, V) {
        ("kind", V::S(k))
    }

    #[test]
    fn new_kinds_parse_with_their_defaults() {
        assert_eq!(
            parse(&[kind("power-of-two")]),
            Ok(SchedulerConfig::PowerOfTwo { d: 2 })
        );
        assert_eq!(
            parse(&[kind("consistent-hash")]),
            Ok(SchedulerConfig::ConsistentHash {
                vnodes: 100,
                c: 1.25
            })
        );
        assert_eq!(
            parse(&[kind("hermod")]),
            Ok(SchedulerConfig::Hermod { threshold: 1.0 })
        );
        assert_eq!(
            parse(&[kind("pull")]),
            Ok(SchedulerConfig::Pull {
                prefer: PullPreference::LeastLoaded
            })
        );
    }

    #[test]
    fn new_kinds_parse_their_parameters() {
        assert_eq!(
            parse(&[kind("power-of-two"), ("d", V::I(3))]),
            Ok(SchedulerConfig::PowerOfTwo { d: 3 })
        );
        // An integer where a float is expected, as `--scheduler consistent-hash,c=2` gives.
        assert_eq!(
            parse(&[
                kind("consistent-hash"),
                ("c", V::I(2)),
                ("vnodes", V::I(10))
            ]),
            Ok(SchedulerConfig::ConsistentHash { vnodes: 10, c: 2.0 })
        );
        assert_eq!(
            parse(&[kind("hermod"), ("threshold", V::F(0.75))]),
            Ok(SchedulerConfig::Hermod { threshold: 0.75 })
        );
        assert_eq!(
            parse(&[kind("pull"), ("prefer", V::S("most-recent"))]),
            Ok(SchedulerConfig::Pull {
                prefer: PullPreference::MostRecent
            })
        );
    }

    #[test]
    fn serde_rejects_unknown_fields_kinds_and_values() {
        let e = parse(&[kind("consistent-hash"), ("load", V::F(1.5))]).unwrap_err();
        assert!(e.contains("unknown field `load`"), "{e}");
        assert!(e.contains("`vnodes`") && e.contains("`c`"), "{e}");
        let e = parse(&[kind("power-of-two"), ("n", V::I(2))]).unwrap_err();
        assert!(e.contains("unknown field `n`"), "{e}");
        let e = parse(&[kind("hermod"), ("c", V::F(1.0))]).unwrap_err();
        assert!(e.contains("unknown field `c`"), "{e}");
        let e = parse(&[kind("pull"), ("prefer", V::S("newest"))]).unwrap_err();
        assert!(e.contains("`least-loaded` or `most-recent`"), "{e}");
        let e = parse(&[kind("power-of-two"), ("d", V::I(-1))]).unwrap_err();
        assert!(e.contains("-1"), "{e}");
        // The kinds without parameters take none.
        let e = parse(&[kind("hash"), ("d", V::I(2))]).unwrap_err();
        assert!(e.contains("unknown field `d`"), "{e}");
        // An unknown kind lists the accepted ones, which are KINDS.
        let e = parse(&[kind("power-of-three")]).unwrap_err();
        let listed = SchedulerConfig::KINDS
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(e.contains(&listed), "{e}");
    }

    #[test]
    fn validate_names_the_field_the_value_and_what_is_allowed() {
        let err = |c: SchedulerConfig| c.validate().unwrap_err();
        assert_eq!(
            err(SchedulerConfig::PowerOfTwo { d: 0 }),
            "scheduler.d must be at least 1, got 0"
        );
        assert_eq!(
            err(SchedulerConfig::ConsistentHash {
                vnodes: 100,
                c: 0.5
            }),
            "scheduler.c must be at least 1 (inf for no load bound), got 0.5"
        );
        assert!(
            err(SchedulerConfig::ConsistentHash {
                vnodes: 100,
                c: f64::NAN
            })
            .contains("got NaN")
        );
        assert_eq!(
            err(SchedulerConfig::ConsistentHash { vnodes: 0, c: 1.25 }),
            "scheduler.vnodes must be from 1 to 10000, got 0"
        );
        assert!(
            err(SchedulerConfig::ConsistentHash {
                vnodes: 10_001,
                c: 1.25
            })
            .contains("10001")
        );
        assert_eq!(
            err(SchedulerConfig::Hermod { threshold: -1.0 }),
            "scheduler.threshold must be at least 0 (invocations in flight per core), got -1"
        );
        assert!(
            err(SchedulerConfig::Hermod {
                threshold: f64::NAN
            })
            .contains("NaN")
        );
        for ok in [
            SchedulerConfig::PowerOfTwo { d: 1 },
            SchedulerConfig::ConsistentHash { vnodes: 1, c: 1.0 },
            SchedulerConfig::ConsistentHash {
                vnodes: MAX_VNODES,
                c: f64::INFINITY,
            },
            SchedulerConfig::Hermod { threshold: 0.0 },
            SchedulerConfig::Hermod {
                threshold: f64::INFINITY,
            },
            SchedulerConfig::Pull {
                prefer: PullPreference::MostRecent,
            },
            SchedulerConfig::Hash,
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok:?}");
        }
        // d against the cluster.
        let d3 = SchedulerConfig::PowerOfTwo { d: 3 };
        assert_eq!(d3.validate_for(3), Ok(()));
        assert_eq!(
            d3.validate_for(2).unwrap_err(),
            "scheduler.d must be at most the number of workers (2), got 3"
        );
        assert!(
            SchedulerConfig::PowerOfTwo { d: 0 }
                .validate_for(4)
                .is_err()
        );
    }

    #[test]
    fn labels_show_parameters_and_kinds_match_names() {
        let all = [
            (SchedulerConfig::RoundRobin, "round-robin"),
            (SchedulerConfig::Random, "random"),
            (SchedulerConfig::LeastLoaded, "least-loaded"),
            (SchedulerConfig::Hash, "hash"),
            (SchedulerConfig::PowerOfTwo { d: 2 }, "power-of-two(d=2)"),
            (
                SchedulerConfig::ConsistentHash {
                    vnodes: 100,
                    c: 1.25,
                },
                "consistent-hash(c=1.25,vnodes=100)",
            ),
            (
                SchedulerConfig::Hermod { threshold: 1.0 },
                "hermod(threshold=1)",
            ),
            (
                SchedulerConfig::Pull {
                    prefer: PullPreference::LeastLoaded,
                },
                "pull(prefer=least-loaded)",
            ),
            (
                SchedulerConfig::Pasch {
                    threshold: 1.0,
                    vnodes: 100,
                },
                "pasch(threshold=1,vnodes=100)",
            ),
            (
                SchedulerConfig::ZygoteHash {
                    threshold: f64::INFINITY,
                },
                "zygote-hash(threshold=inf)",
            ),
            (
                SchedulerConfig::Locality { warm: true },
                "locality(warm=true)",
            ),
            (SchedulerConfig::DslabLeastLoaded, "dslab-least-loaded"),
        ];
        assert_eq!(all.len(), SchedulerConfig::KINDS.len());
        for ((config, label), kind) in all.iter().zip(SchedulerConfig::KINDS) {
            assert_eq!(config.label(), *label);
            assert_eq!(config.kind(), *kind);
            assert_eq!(config.build(1).name(), *kind);
            assert_eq!(parse(&[("kind", V::S(kind))]).map(|c| c.kind()), Ok(*kind));
        }
    }

    /// Every policy through whole simulations: every invocation ends, runs are reproducible,
    /// and the choices differ between policies.
    #[test]
    fn every_policy_runs_a_simulation_to_the_end() {
        use sim::{
            Controller, ControllerConfig, CostModel, QueueMode, Record, RecordSink, SimBackend,
            WorkerSpec, simulate,
        };
        use workloads::{App, AppId, Catalog, Function, FunctionId, Invocation};

        #[derive(Default)]
        struct Placements(Vec<(u64, u32, bool)>);
        impl RecordSink for Placements {
            fn invocation(&mut self, r: &Record) {
                let ok = matches!(r.outcome, sim::record::Outcome::Ok);
                self.0.push((r.id, r.worker.0, ok));
            }
        }

        let catalog = Catalog {
            packages: Default::default(),
            functions: (0..20)
                .map(|i| Function {
                    name: format!("fn-{i}"),
                    app: AppId(0),
                    memory_mb: 128,
                    concurrency: None,
                    init: None,
                    packages: Vec::new(),
                })
                .collect(),
            apps: vec![App {
                name: "a".to_string(),
            }],
        };
        // 3,000 invocations over 3 s, function i with weight about 1 / (i + 1), lasting 5-50 ms.
        let trace: Vec<Invocation> = (0..3_000u64)
            .map(|i| {
                let x = super::bits::splitmix64(i);
                Invocation {
                    function: FunctionId((20 / ((x % 20) + 1) - 1) as u32),
                    arrival: i * 1_000,
                    duration: 5_000 + (x >> 32) % 45_000,
                }
            })
            .collect();
        let config = ControllerConfig {
            workers: vec![
                WorkerSpec {
                    memory_mb: 2_048,
                    cores: 4,
                };
                6
            ],
            concurrency: 1,
            queue: QueueMode::Queue { capacity: 1_000 },
            ..ControllerConfig::default()
        };
        let run = |scheduler: &SchedulerConfig| {
            let mut controller = Controller::new(
                catalog.clone(),
                &config,
                Box::new(crate::keep_alive::Lru),
                scheduler.build(11),
            );
            let mut backend = SimBackend::new(CostModel::default());
            let mut sink = Placements::default();
            simulate(
                &mut controller,
                &mut backend,
                trace.iter().copied().map(Ok),
                &mut sink,
            )
            .expect("the simulation runs");
            sink.0.sort_unstable();
            sink.0
        };
        let mut placements = Vec::new();
        for scheduler in [
            SchedulerConfig::PowerOfTwo { d: 2 },
            SchedulerConfig::ConsistentHash {
                vnodes: 100,
                c: 1.25,
            },
            SchedulerConfig::Hermod { threshold: 1.0 },
            SchedulerConfig::Pull {
                prefer: PullPreference::LeastLoaded,
            },
            SchedulerConfig::Pull {
                prefer: PullPreference::MostRecent,
            },
        ] {
            let first = run(&scheduler);
            assert_eq!(first.len(), trace.len(), "{}", scheduler.label());
            assert!(first.iter().all(|&(_, _, ok)| ok), "{}", scheduler.label());
            assert_eq!(
                first,
                run(&scheduler),
                "{} is reproducible",
                scheduler.label()
            );
            let workers: std::collections::BTreeSet<u32> = first.iter().map(|p| p.1).collect();
            assert!(
                workers.len() > 1,
                "{} uses more than one worker",
                scheduler.label()
            );
            placements.push(first);
        }
        for (i, a) in placements.iter().enumerate() {
            for b in &placements[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
