//! Helpers: tiny hand-made workloads and a sink that keeps everything it is told.

use policies::{KeepAliveConfig, SchedulerConfig};
use sim::platform::ReuseOrder;
use sim::record::{MemoryState, RunInfo, SandboxEvent};
use sim::{
    Controller, ControllerConfig, CostModel, KeepAlive, QueueMode, Record, RecordSink, RunStats,
    SimBackend, WorkerId, WorkerSpec, simulate_until,
};
use workloads::{App, AppId, Catalog, Function, FunctionId, Invocation, Time};

pub const MS: Time = 1_000;
pub const SEC: Time = 1_000_000;
pub const MIN: Time = 60 * SEC;

/// Functions given as (app, memory MB); names f0, f1, ... and apps a0, a1, ...
pub fn catalog(functions: &[(u32, u32)]) -> Catalog {
    let apps = functions.iter().map(|&(a, _)| a).max().map_or(0, |m| m + 1);
    Catalog {
        packages: Default::default(),
        functions: functions
            .iter()
            .enumerate()
            .map(|(i, &(app, memory_mb))| Function {
                name: format!("f{i}"),
                app: AppId(app),
                memory_mb,
                concurrency: None,
                init: None,
                packages: Vec::new(),
            })
            .collect(),
        apps: (0..apps)
            .map(|a| App {
                name: format!("a{a}"),
            })
            .collect(),
    }
}

pub fn inv(function: u32, arrival: Time, duration: Time) -> Invocation {
    Invocation {
        function: FunctionId(function),
        arrival,
        duration,
    }
}

/// 10 ms create, 25 ms init, 1 ms dispatch, pause and unpause: the defaults, spelled out so
/// that the tests' arithmetic does not depend on them.
pub fn costs() -> CostModel {
    CostModel {
        create: workloads::Duration(10 * MS).into(),
        init: workloads::Duration(25 * MS).into(),
        fork: workloads::Duration(2 * MS).into(),
        dispatch: workloads::Duration(MS).into(),
        pause: workloads::Duration(MS).into(),
        unpause: workloads::Duration(MS).into(),
        ..CostModel::default()
    }
}

/// Everything a run reported, in order.
#[derive(Default)]
pub struct Collect {
    pub capacity: Vec<u64>,
    pub records: Vec<Record>,
    pub memory: Vec<(Time, WorkerId, MemoryState)>,
    pub sandboxes: Vec<(Time, WorkerId, SandboxEvent)>,
    pub end: Option<Time>,
}

impl RecordSink for Collect {
    fn begin(&mut self, info: &RunInfo<'_>) {
        self.capacity = info.workers.iter().map(|w| w.memory_mb).collect();
    }
    fn invocation(&mut self, record: &Record) {
        self.records.push(*record);
    }
    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        self.memory.push((now, worker, *state));
    }
    fn sandbox(&mut self, now: Time, worker: WorkerId, event: SandboxEvent) {
        self.sandboxes.push((now, worker, event));
    }
    fn end(&mut self, now: Time) {
        self.end = Some(now);
    }
}

impl Collect {
    /// The record of invocation `id`.
    pub fn record(&self, id: u64) -> &Record {
        self.records
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no record for invocation {id}"))
    }

    /// Start kinds in invocation order ("cold", "warm", ...; "dropped" for dropped ones).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut recs = self.records.clone();
        recs.sort_by_key(|r| r.id);
        recs.iter()
            .map(|r| r.start_kind.map_or("dropped", |k| k.as_str()))
            .collect()
    }

    /// (function, reason) of every destroyed sandbox, in order.
    pub fn destroyed(&self) -> Vec<(u32, &'static str)> {
        self.sandboxes
            .iter()
            .filter_map(|(_, _, e)| match e {
                SandboxEvent::Destroyed { function, reason } => Some((function.0, reason.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// A small cluster run with explicit policies.
pub struct Setup {
    pub catalog: Catalog,
    pub workers: Vec<WorkerSpec>,
    pub concurrency: u32,
    pub queue: QueueMode,
    pub costs: CostModel,
    pub reuse: ReuseOrder,
    pub provisioned: Vec<(FunctionId, u32)>,
    /// Install cache for catalogs with packages.
    pub install_cache: policies::InstallCacheConfig,
    /// Import cache for catalogs with packages.
    pub import_cache: Option<sim::zygotes::ImportCacheConfig>,
    pub eviction: sim::EvictionMode,
    pub release: sim::ReleaseMode,
    /// Run on until this time, as a served run does (see `sim::simulate_until`).
    pub end: Option<Time>,
}

impl Setup {
    pub fn new(catalog: Catalog, workers: usize, memory_mb: u64) -> Self {
        Setup {
            catalog,
            workers: vec![
                WorkerSpec {
                    memory_mb,
                    cores: 4
                };
                workers
            ],
            concurrency: 1,
            queue: QueueMode::Queue { capacity: 100 },
            costs: costs(),
            reuse: ReuseOrder::Mru,
            provisioned: Vec::new(),
            install_cache: policies::InstallCacheConfig::Unbounded,
            import_cache: None,
            eviction: sim::EvictionMode::default(),
            release: sim::ReleaseMode::default(),
            end: None,
        }
    }

    pub fn run(
        &self,
        keep_alive: KeepAliveConfig,
        scheduler: SchedulerConfig,
        invocations: Vec<Invocation>,
    ) -> (Collect, RunStats) {
        self.run_with(
            keep_alive.build(self.catalog.functions.len()),
            scheduler,
            invocations,
        )
    }

    pub fn run_with(
        &self,
        keep_alive: Box<dyn KeepAlive>,
        scheduler: SchedulerConfig,
        invocations: Vec<Invocation>,
    ) -> (Collect, RunStats) {
        let config = ControllerConfig {
            workers: self.workers.clone(),
            concurrency: self.concurrency,
            queue: self.queue,
            reuse: self.reuse,
            provisioned: self.provisioned.clone(),
            sandbox_memory_mb: None,
            eviction: self.eviction,
            release: self.release,
            ..ControllerConfig::default()
        };
        let mut controller = Controller::new(
            self.catalog.clone(),
            &config,
            keep_alive,
            scheduler.build(7),
        );
        let mut backend = SimBackend::new(self.costs.clone());
        if !self.catalog.packages.is_empty() {
            backend.set_package_costs(
                self.catalog
                    .packages
                    .packages
                    .iter()
                    .map(|p| {
                        (
                            (p.install_ms * 1000.0) as Time,
                            (p.import_ms * 1000.0) as Time,
                        )
                    })
                    .collect(),
            );
            if let Some((policy, capacity)) = self.install_cache.build() {
                controller = controller.with_install_cache(policy, capacity);
            }
            if let Some(config) = &self.import_cache {
                controller = controller.with_import_cache(config.clone());
            }
        }
        let mut sink = Collect::default();
        let stats = simulate_until(
            &mut controller,
            &mut backend,
            invocations.into_iter().map(Ok),
            &mut sink,
            self.end,
        )
        .expect("the simulation runs");
        (sink, stats)
    }
}

/// xorshift64* seeded through SplitMix64: reproducible streams for the fault and fuzz suites.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)).max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// A whole number from environment variable `name`, or `default` when it is not set.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got {v:?}"))
    })
}
