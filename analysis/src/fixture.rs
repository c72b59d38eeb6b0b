//! One small hand-made run shared by the unit tests, so that every test checks its numbers
//! against the same worked-out scenario.

use sim::record::{
    DestroyReason, DropReason, FailReason, MemoryState, Outcome, Phases, Record, RecordSink,
    RunInfo, SandboxEvent, StartKind,
};
use sim::{WorkerId, WorkerSpec};
use workloads::{App, AppId, Catalog, Function, FunctionId, Time};

pub const MS: Time = 1_000;
pub const S: Time = 1_000_000;

/// Two apps, the first with a comma in its name so that CSV quoting is exercised.
pub fn catalog() -> Catalog {
    let function = |name: &str, app| Function {
        name: name.to_string(),
        app: AppId(app),
        memory_mb: 256,
        concurrency: None,
        init: None,
        packages: Vec::new(),
    };
    Catalog {
        packages: Default::default(),
        functions: vec![
            function("checkout", 0),
            function("cart", 0),
            function("render", 1),
        ],
        apps: vec![
            App {
                name: "shop, inc".to_string(),
            },
            App {
                name: "blog".to_string(),
            },
        ],
    }
}

/// A record whose start and end follow from its phases, as the controller reports them.
pub fn record(
    id: u64,
    function: u32,
    worker: u32,
    arrival: Time,
    start_kind: Option<StartKind>,
    phases: Phases,
    outcome: Outcome,
) -> Record {
    let app = if function == 2 { 1 } else { 0 };
    let start = arrival + phases.startup();
    Record {
        id,
        function: FunctionId(function),
        app: AppId(app),
        worker: WorkerId(worker),
        arrival,
        start,
        end: start + phases.exec,
        start_kind,
        phases,
        outcome,
    }
}

pub fn memory(capacity_mb: u64, busy_mb: u64, idle_mb: u64, paused_mb: u64) -> MemoryState {
    MemoryState {
        capacity_mb,
        busy_mb,
        idle_mb,
        paused_mb,
        zygote_mb: 0,
    }
}

/// The seven invocations of the scenario, in the order they end. Times in ms:
///
/// | id | function (app)   | worker | arrival | kind        | startup | exec | outcome            |
/// |----|------------------|--------|---------|-------------|---------|------|--------------------|
/// | 0  | checkout (shop)  | 0      | 0       | cold        | 200     | 500  | ok                 |
/// | 1  | checkout (shop)  | 0      | 1000    | warm        | 1       | 300  | ok                 |
/// | 2  | cart (shop)      | 1      | 2000    | unpause     | 10      | 90   | ok                 |
/// | 3  | render (blog)    | 1      | 3000    | -           | 0       | 0    | dropped queue-full |
/// | 4  | render (blog)    | 1      | 4000    | -           | 0       | 0    | dropped no-memory  |
/// | 5  | render (blog)    | 0      | 5000    | zygote-fork | 60      | 40   | ok                 |
/// | 6  | cart (shop)      | 1      | 6000    | warm        | 5       | 95   | failed crashed     |
///
/// Record 0's startup is create 100 + install 50 + import 30 + init 20; record 5's is create 40 +
/// import 10 + init 10; record 6's is queue 4 + init 1; warm and unpause startups are all init.
pub fn records() -> Vec<Record> {
    let phases = |queue, create, install, import, init, exec| Phases {
        queue: queue * MS,
        create: create * MS,
        install: install * MS,
        import: import * MS,
        init: init * MS,
        exec: exec * MS,
    };
    let none = Phases::default();
    vec![
        record(
            0,
            0,
            0,
            0,
            Some(StartKind::Cold),
            phases(0, 100, 50, 30, 20, 500),
            Outcome::Ok,
        ),
        record(
            1,
            0,
            0,
            1000 * MS,
            Some(StartKind::Warm),
            phases(0, 0, 0, 0, 1, 300),
            Outcome::Ok,
        ),
        record(
            2,
            1,
            1,
            2000 * MS,
            Some(StartKind::Unpause),
            phases(0, 0, 0, 0, 10, 90),
            Outcome::Ok,
        ),
        record(
            3,
            2,
            1,
            3000 * MS,
            None,
            none,
            Outcome::Dropped(DropReason::QueueFull),
        ),
        record(
            4,
            2,
            1,
            4000 * MS,
            None,
            none,
            Outcome::Dropped(DropReason::NoMemory),
        ),
        record(
            5,
            2,
            0,
            5000 * MS,
            Some(StartKind::ZygoteFork),
            phases(0, 40, 0, 10, 10, 40),
            Outcome::Ok,
        ),
        record(
            6,
            1,
            1,
            6000 * MS,
            Some(StartKind::Warm),
            phases(4, 0, 0, 0, 1, 95),
            Outcome::Failed(FailReason::SandboxCrashed),
        ),
    ]
}

/// Feeds the whole scenario: worker 0 has 1024 MB, worker 1 has 2048 MB, the run ends at 10 s.
///
/// Memory (MB) as reported, each state holding until the worker's next report or the end:
/// - worker 0: busy 256 at 0 s, idle 1024 at 2 s, paused 512 at 7 s;
/// - worker 1: nothing before 1 s, busy 2048 at 1 s, idle 1024 at 2 s.
///
/// Sandboxes: 3 created, 2 paused, 1 unpaused, destroyed 1 expired, 1 evicted, 2 at shutdown.
pub fn run(sink: &mut impl RecordSink) {
    let catalog = catalog();
    sink.begin(&RunInfo {
        catalog: &catalog,
        workers: &[
            WorkerSpec {
                memory_mb: 1024,
                cores: 2,
            },
            WorkerSpec {
                memory_mb: 2048,
                cores: 4,
            },
        ],
    });
    let [r0, r1, r2, r3, r4, r5, r6] = records().try_into().unwrap();
    let (w0, w1) = (WorkerId(0), WorkerId(1));
    let f = FunctionId;
    let created = |function| SandboxEvent::Created {
        function: f(function),
        memory_mb: 256,
    };
    let destroyed = |function, reason| SandboxEvent::Destroyed {
        function: f(function),
        reason,
    };

    sink.memory(0, w0, &memory(1024, 256, 0, 0));
    sink.sandbox(0, w0, created(0));
    sink.invocation(&r0);
    sink.memory(S, w1, &memory(2048, 2048, 0, 0));
    sink.sandbox(S, w1, created(1));
    sink.invocation(&r1);
    sink.memory(2 * S, w0, &memory(1024, 0, 1024, 0));
    sink.memory(2 * S, w1, &memory(2048, 0, 1024, 0));
    sink.sandbox(2 * S, w1, SandboxEvent::Unpaused { function: f(1) });
    sink.invocation(&r2);
    sink.invocation(&r3);
    sink.invocation(&r4);
    sink.sandbox(5 * S, w0, created(2));
    sink.invocation(&r5);
    sink.invocation(&r6);
    sink.memory(7 * S, w0, &memory(1024, 0, 0, 512));
    sink.sandbox(7 * S, w0, SandboxEvent::Paused { function: f(0) });
    sink.sandbox(7 * S, w0, SandboxEvent::Paused { function: f(2) });
    sink.sandbox(8 * S, w1, destroyed(1, DestroyReason::Expired));
    sink.sandbox(9 * S, w0, destroyed(2, DestroyReason::Evicted));
    sink.sandbox(10 * S, w0, destroyed(0, DestroyReason::Shutdown));
    sink.sandbox(10 * S, w1, destroyed(1, DestroyReason::Shutdown));
    sink.end(10 * S);
}

/// The summary of the fixture's run.
pub fn summary() -> crate::Summary {
    let mut metrics = crate::Metrics::new();
    run(&mut metrics);
    metrics.summary()
}
