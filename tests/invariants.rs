//! Properties that must hold for every scenario, checked over random seeds and parameters.

use std::collections::HashSet;

use policies::{KeepAliveConfig, SchedulerConfig};
use proptest::prelude::*;
use sim::record::{MemoryState, Outcome, RunInfo, SandboxEvent};
use sim::{QueueMode, Record, RecordSink, WorkerId};
use workloads::synthetic::SyntheticSpec;
use workloads::{Duration, Time};

use crate::util::Setup;

/// Checks invariants as the run reports, and remembers what it needs for the end-of-run checks.
#[derive(Default)]
struct Checker {
    capacity: Vec<u64>,
    last_state: Vec<MemoryState>,
    now: Time,
    ids: HashSet<u64>,
    errors: Vec<String>,
    ended: bool,
}

impl Checker {
    fn at(&mut self, t: Time, what: &str) {
        if t < self.now {
            self.errors
                .push(format!("time went back: {what} at {t} after {}", self.now));
        }
        self.now = t;
    }
}

impl RecordSink for Checker {
    fn begin(&mut self, info: &RunInfo<'_>) {
        self.capacity = info.workers.iter().map(|w| w.memory_mb).collect();
        self.last_state = vec![MemoryState::default(); self.capacity.len()];
    }

    fn invocation(&mut self, r: &Record) {
        self.at(r.end, "record");
        if !self.ids.insert(r.id) {
            self.errors.push(format!("invocation {} ended twice", r.id));
        }
        if !(r.arrival <= r.start && r.start <= r.end) {
            self.errors
                .push(format!("invocation {} has times out of order", r.id));
        }
        match r.outcome {
            Outcome::Ok => {
                if r.start_kind.is_none()
                    || r.start - r.arrival != r.phases.startup()
                    || r.end - r.start != r.phases.exec
                {
                    self.errors
                        .push(format!("invocation {} phases do not add up: {r:?}", r.id));
                }
            }
            _ => {
                if r.start_kind.is_some() {
                    self.errors
                        .push(format!("dropped invocation {} has a start kind", r.id));
                }
            }
        }
    }

    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        self.at(now, "memory");
        if state.capacity_mb != self.capacity[worker.index()] {
            self.errors
                .push(format!("worker {} capacity changed", worker.0));
        }
        if state.used_mb() > state.capacity_mb {
            self.errors.push(format!(
                "worker {} uses {} MB of {} MB at {now}",
                worker.0,
                state.used_mb(),
                state.capacity_mb
            ));
        }
        self.last_state[worker.index()] = *state;
    }

    fn sandbox(&mut self, now: Time, _worker: WorkerId, _event: SandboxEvent) {
        self.at(now, "sandbox event");
    }

    fn end(&mut self, now: Time) {
        self.at(now, "end");
        self.ended = true;
    }
}

fn keep_alive(choice: u8, minutes: u64) -> KeepAliveConfig {
    match choice {
        0 => KeepAliveConfig::None {},
        1 => KeepAliveConfig::Ttl {
            idle: Duration::from_mins(minutes),
            refresh: Default::default(),
            lazy: false,
        },
        _ => KeepAliveConfig::Lru {},
    }
}

fn scheduler(choice: u8) -> SchedulerConfig {
    match choice {
        0 => SchedulerConfig::RoundRobin,
        1 => SchedulerConfig::Random,
        2 => SchedulerConfig::LeastLoaded,
        _ => SchedulerConfig::Hash,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_invocation_ends_once_memory_fits_and_time_moves_forward(
        seed in any::<u64>(),
        workers in 1usize..=4,
        memory_mb in 200u64..3000,
        functions in 1u32..30,
        apps_fraction in 0.0f64..1.0,
        rate in 0.5f64..15.0,
        ka in 0u8..3,
        ttl_minutes in 1u64..15,
        sched in 0u8..4,
        drop in any::<bool>(),
        capacity in 1u32..20,
        concurrency in 1u32..3,
    ) {
        let apps = 1 + ((functions - 1) as f64 * apps_fraction) as u32;
        let spec = SyntheticSpec {
            functions,
            apps,
            duration: Duration::from_mins(20),
            rate,
            memory_max_mb: 1024,
            exec_max: Duration::from_mins(2),
            ..SyntheticSpec::default()
        };
        let workload = spec.build(seed).unwrap();
        let mut setup = Setup::new(workload.catalog, workers, memory_mb);
        setup.concurrency = concurrency;
        setup.queue = if drop { QueueMode::Drop } else { QueueMode::Queue { capacity } };
        let invocations: Vec<_> = workload.invocations.map(|i| i.unwrap()).collect();
        let n = invocations.len() as u64;

        let mut checker = Checker::default();
        let config = sim::ControllerConfig {
            workers: setup.workers.clone(),
            concurrency: setup.concurrency,
            queue: setup.queue,
            ..Default::default()
        };
        let mut controller = sim::Controller::new(
            setup.catalog.clone(),
            &config,
            keep_alive(ka, ttl_minutes).build(setup.catalog.functions.len()),
            scheduler(sched).build(seed),
        );
        let mut backend = sim::SimBackend::new(setup.costs);
        let stats = sim::simulate(
            &mut controller,
            &mut backend,
            invocations.into_iter().map(Ok),
            &mut checker,
        ).unwrap();

        prop_assert!(checker.errors.is_empty(), "{}", checker.errors.join("\n"));
        prop_assert!(checker.ended);
        prop_assert_eq!(stats.invocations, n);
        prop_assert_eq!(checker.ids.len() as u64, n, "every invocation ends exactly once");
        prop_assert!((0..n).all(|id| checker.ids.contains(&id)));
        prop_assert_eq!(controller.in_flight(), 0);
        prop_assert_eq!(controller.platform().live_sandboxes(), 0);
        for (w, state) in checker.last_state.iter().enumerate() {
            prop_assert_eq!(state.used_mb(), 0, "worker {} still holds memory at the end", w);
        }
    }
}

/// Least-loaded written the obvious way, by scanning every worker: the reference that the
/// indexed implementation must agree with, decision for decision.
struct NaiveLeastLoaded;

impl sim::Scheduler for NaiveLeastLoaded {
    fn name(&self) -> &'static str {
        "naive-least-loaded"
    }

    fn select(
        &mut self,
        _now: Time,
        function: workloads::FunctionId,
        platform: &sim::Platform,
    ) -> WorkerId {
        let warm = platform
            .workers()
            .iter()
            .filter(|w| platform.reusable_on(function, w.id).is_some())
            .min_by_key(|w| (platform.in_flight(w.id), w.id));
        if let Some(w) = warm {
            return w.id;
        }
        platform
            .workers()
            .iter()
            .min_by_key(|w| {
                (
                    platform.in_flight(w.id),
                    std::cmp::Reverse(platform.reclaimable_mb(w.id)),
                    w.id,
                )
            })
            .unwrap()
            .id
    }
}

/// Every record of a run, in order.
#[derive(Default)]
struct Records(Vec<Record>);

impl RecordSink for Records {
    fn invocation(&mut self, record: &Record) {
        self.0.push(*record);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn indexed_least_loaded_decides_as_a_full_scan_does(
        seed in any::<u64>(),
        workers in 1usize..=130,
        memory_mb in 300u64..2000,
        rate in 1.0f64..40.0,
        concurrency in 1u32..3,
    ) {
        let spec = SyntheticSpec {
            functions: 40,
            apps: 20,
            duration: Duration::from_mins(30),
            rate,
            memory_max_mb: 512,
            exec_max: Duration::from_mins(5),
            ..SyntheticSpec::default()
        };
        let run = |scheduler: Box<dyn sim::Scheduler>| {
            let workload = spec.build(seed).unwrap();
            let config = sim::ControllerConfig {
                workers: vec![sim::WorkerSpec { memory_mb, cores: 4 }; workers],
                concurrency,
                queue: QueueMode::Queue { capacity: 50 },
                ..Default::default()
            };
            let mut controller = sim::Controller::new(
                workload.catalog,
                &config,
                KeepAliveConfig::default().build(0),
                scheduler,
            );
            let mut backend = sim::SimBackend::new(crate::util::costs());
            let mut records = Records::default();
            sim::simulate(&mut controller, &mut backend, workload.invocations, &mut records)
                .unwrap();
            records.0
        };
        let indexed = run(SchedulerConfig::LeastLoaded.build(0));
        let naive = run(Box::new(NaiveLeastLoaded));
        prop_assert!(!indexed.is_empty());
        prop_assert!(indexed == naive, "the two schedulers placed invocations differently");
    }
}
