//! A cluster for the schedulers' unit tests, driven through the real controller: the test puts
//! each invocation on the worker it names and finishes it when it likes, so that it builds exactly
//! the in-flight counts, warm sandboxes and last uses its hand-worked decisions start from, and
//! then asks the scheduler under test about [`Cluster::platform`].

use std::cell::Cell;
use std::rc::Rc;

use sim::backend::{CreateRequest, InvocationHandle, Timer};
use sim::{
    Backend, Completion, Controller, ControllerConfig, Platform, QueueMode, Record, RecordSink,
    SandboxId, Scheduler, WorkerId, WorkerSpec,
};
use workloads::{App, AppId, Catalog, Function, FunctionId, Invocation, Time};

use crate::keep_alive::Lru;

/// Memory of every test function's sandbox.
pub const FUNCTION_MB: u32 = 100;

/// A worker of `memory_mb` with 4 cores.
pub fn worker_of(memory_mb: u64) -> WorkerSpec {
    WorkerSpec {
        memory_mb,
        cores: 4,
    }
}

/// Sends every invocation to the worker the test names.
struct Steer(Rc<Cell<u32>>);

impl Scheduler for Steer {
    fn name(&self) -> &'static str {
        "steer"
    }

    fn select(&mut self, _now: Time, _function: FunctionId, _platform: &Platform) -> WorkerId {
        WorkerId(self.0.get())
    }
}

/// A backend that only remembers what it was asked to do; the test reports completions.
#[derive(Default)]
struct Manual {
    created: Vec<SandboxId>,
    started: Vec<(SandboxId, InvocationHandle)>,
}

impl Backend for Manual {
    fn create_sandbox(&mut self, _now: Time, sandbox: SandboxId, _request: &CreateRequest) {
        self.created.push(sandbox);
    }
    fn start_invocation(&mut self, _: Time, sandbox: SandboxId, inv: InvocationHandle, _: Time) {
        self.started.push((sandbox, inv));
    }
    fn pause(&mut self, _now: Time, _sandbox: SandboxId) {}
    fn unpause(&mut self, _now: Time, _sandbox: SandboxId) {}
    fn destroy(&mut self, _now: Time, _sandbox: SandboxId) {}
    fn set_timer(&mut self, _at: Time, _timer: Timer) {}
}

struct Discard;

impl RecordSink for Discard {
    fn invocation(&mut self, _record: &Record) {}
}

/// An invocation a test started and may finish.
#[derive(Clone, Copy, Debug)]
pub struct Running {
    sandbox: SandboxId,
    invocation: InvocationHandle,
}

/// Workers with the cores given and 10 GB each, functions `f0, f1, ...` of [`FUNCTION_MB`], and
/// keep-alive that keeps every idle sandbox.
pub struct Cluster {
    controller: Controller,
    backend: Manual,
    target: Rc<Cell<u32>>,
    now: Time,
}

impl Cluster {
    pub fn new(functions: usize, cores: &[u32]) -> Self {
        let workers: Vec<WorkerSpec> = cores
            .iter()
            .map(|&cores| WorkerSpec {
                memory_mb: 10_000,
                cores,
            })
            .collect();
        Cluster::with_workers(functions, &workers)
    }

    pub fn with_workers(functions: usize, workers: &[WorkerSpec]) -> Self {
        Cluster::with_concurrency(functions, workers, 1)
    }

    /// As [`Cluster::with_workers`], with sandboxes that run `concurrency` invocations at once.
    pub fn with_concurrency(functions: usize, workers: &[WorkerSpec], concurrency: u32) -> Self {
        let catalog = Catalog {
            packages: Default::default(),
            functions: (0..functions)
                .map(|i| Function {
                    name: format!("f{i}"),
                    app: AppId(0),
                    memory_mb: FUNCTION_MB,
                    concurrency: None,
                    init: None,
                    packages: Vec::new(),
                })
                .collect(),
            apps: vec![App {
                name: "a0".to_string(),
            }],
        };
        let config = ControllerConfig {
            workers: workers.to_vec(),
            concurrency,
            queue: QueueMode::Queue { capacity: 100 },
            ..ControllerConfig::default()
        };
        let target = Rc::new(Cell::new(0));
        let controller = Controller::new(
            catalog,
            &config,
            Box::new(Lru),
            Box::new(Steer(target.clone())),
        );
        Cluster {
            controller,
            backend: Manual::default(),
            target,
            now: 0,
        }
    }

    pub fn platform(&self) -> &Platform {
        self.controller.platform()
    }

    pub fn now(&self) -> Time {
        self.now
    }

    /// Moves the clock on by `micros`.
    pub fn advance(&mut self, micros: Time) {
        self.now += micros;
    }

    /// Starts an invocation of `function` on `worker` now: in a reusable sandbox if the worker
    /// has one, else in a new sandbox that is ready at once.
    pub fn start(&mut self, function: u32, worker: u32) -> Running {
        self.target.set(worker);
        let (created, started) = (self.backend.created.len(), self.backend.started.len());
        let invocation = Invocation {
            function: FunctionId(function),
            arrival: self.now,
            duration: 1_000_000,
        };
        self.controller
            .on_arrival(self.now, &invocation, &mut self.backend, &mut Discard);
        if let Some(&sandbox) = self.backend.created.get(created) {
            let ready = Completion::SandboxReady {
                sandbox,
                create: 0,
                install: 0,
                import: 0,
                init: 0,
            };
            self.controller
                .on_completion(self.now, ready, &mut self.backend, &mut Discard);
        }
        assert_eq!(
            self.backend.started.len(),
            started + 1,
            "the invocation started at once"
        );
        let (sandbox, invocation) = self.backend.started[started];
        Running {
            sandbox,
            invocation,
        }
    }

    /// Starts `count` invocations of `function` on `worker`.
    pub fn load(&mut self, function: u32, worker: u32, count: u32) -> Vec<Running> {
        (0..count).map(|_| self.start(function, worker)).collect()
    }

    /// Ends a running invocation now; its sandbox stays warm.
    pub fn finish(&mut self, run: Running) {
        let done = Completion::InvocationDone {
            sandbox: run.sandbox,
            invocation: run.invocation,
            started: self.now,
            cpu_wait: 0,
        };
        self.controller
            .on_completion(self.now, done, &mut self.backend, &mut Discard);
    }

    /// Leaves an idle sandbox of `function` on `worker`, last used now.
    pub fn warm(&mut self, function: u32, worker: u32) {
        let run = self.start(function, worker);
        self.finish(run);
    }
}

/// A small deterministic generator for randomized tests (a 64-bit LCG).
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `rounds` clusters of 1 to 150 workers (three bitset words) and functions `f0` to `f3`, some
/// workers too small for one more sandbox, each built by random changes: invocations started on
/// a random worker (where they fit) and ended, sandboxes left warm. `check` gets the round, the
/// cluster and the generator after every change if `every_change`, else once per cluster when it
/// is built.
pub fn random_clusters(
    seed: u64,
    rounds: u32,
    every_change: bool,
    mut check: impl FnMut(u32, &Cluster, &mut Lcg),
) {
    let mb = u64::from(FUNCTION_MB);
    let mut rng = Lcg(seed);
    for round in 0..rounds {
        let n = 1 + rng.below(150) as u32;
        let specs: Vec<_> = (0..n).map(|_| worker_of((2 + rng.below(4)) * mb)).collect();
        let mut c = Cluster::with_workers(4, &specs);
        let mut running = Vec::new();
        for _ in 0..rng.below(3 * u64::from(n)) {
            let (f, w) = (rng.below(4) as u32, rng.below(u64::from(n)) as u32);
            let room = c.platform().worker(WorkerId(w)).memory.free_mb() >= mb;
            if !room && !c.platform().has_reusable(FunctionId(f), WorkerId(w)) {
                continue;
            }
            if rng.below(3) == 0 {
                c.warm(f, w);
            } else {
                running.push(c.start(f, w));
            }
            if rng.below(3) == 0 && !running.is_empty() {
                let run = running.swap_remove(rng.below(running.len() as u64) as usize);
                c.finish(run);
            }
            if every_change {
                check(round, &c, &mut rng);
            }
        }
        if !every_change {
            check(round, &c, &mut rng);
        }
    }
}
