//! The baseline policies and the controller on scenarios small enough to work out by hand.
//! Costs are `util::costs()`: create 10 ms + init 25 ms, dispatch 1 ms, pause/unpause 1 ms.
//! So a cold start begins its handler 36 ms after it is placed, a warm one 1 ms after.

use policies::{KeepAliveConfig, SchedulerConfig};
use sim::record::{DropReason, Outcome, Phases, SandboxEvent, StartKind};
use sim::{IdleDecision, KeepAlive, Platform, QueueMode, Sandbox};
use workloads::{Duration, Time};

use crate::util::{MIN, MS, SEC, Setup, catalog, inv};

fn ttl(minutes: u64) -> KeepAliveConfig {
    KeepAliveConfig::Ttl {
        idle: Duration::from_mins(minutes),
        refresh: Default::default(),
        lazy: false,
    }
}

#[test]
fn ttl_of_ten_minutes_with_arrivals_at_0_5_16_minutes_gives_two_cold_starts() {
    // f0 runs 1 s. At 0: cold, handler 36 ms .. 1.036 s; idle until 10 min 1.036 s.
    // At 5 min: warm (idle 3 min 59 s < 10 min), ends 5 min 1.001 s; keep-alive restarts, so the
    // sandbox expires at 15 min 1.001 s. At 16 min it is gone: cold again.
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let (out, stats) = setup.run(
        ttl(10),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(0, 5 * MIN, SEC), inv(0, 16 * MIN, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "warm", "cold"]);
    assert_eq!(out.record(0).latency(), 1_036 * MS);
    assert_eq!(out.record(1).latency(), 1_001 * MS);
    assert_eq!(out.record(2).end, 16 * MIN + 1_036 * MS);
    assert_eq!(
        out.record(0).phases,
        Phases {
            queue: 0,
            create: 10 * MS,
            install: 0,
            import: 0,
            init: 26 * MS,
            exec: SEC
        }
    );
    // The first sandbox expired exactly at 15 min 1.001 s; the second is shut down at the end.
    assert_eq!(out.destroyed(), [(0, "expired"), (0, "shutdown")]);
    let expired_at = out
        .sandboxes
        .iter()
        .find(|(_, _, e)| matches!(e, SandboxEvent::Destroyed { .. }))
        .map(|(t, _, _)| *t);
    assert_eq!(expired_at, Some(15 * MIN + 1_001 * MS));
    assert_eq!(stats.end, 16 * MIN + 1_036 * MS);
    assert_eq!(stats.invocations, 3);
}

#[test]
fn ttl_restarts_on_every_reuse() {
    // Gaps of 9 minutes (less 1 s of execution) never reach the 10-minute keep-alive: 1 cold start.
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let (out, _) = setup.run(
        ttl(10),
        SchedulerConfig::RoundRobin,
        vec![
            inv(0, 0, SEC),
            inv(0, 9 * MIN, SEC),
            inv(0, 18 * MIN, SEC),
            inv(0, 27 * MIN, SEC),
        ],
    );
    assert_eq!(out.kinds(), ["cold", "warm", "warm", "warm"]);
    assert_eq!(out.destroyed(), [(0, "shutdown")]);
}

#[test]
fn no_keep_alive_destroys_after_every_invocation() {
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(0, 2 * SEC, SEC), inv(0, 4 * SEC, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "cold", "cold"]);
    assert_eq!(
        out.destroyed(),
        [(0, "not-kept"), (0, "not-kept"), (0, "not-kept")]
    );
    // Nothing is ever idle: the idle memory reported is always 0.
    assert!(out.memory.iter().all(|(_, _, m)| m.idle_mb == 0));
}

/// One worker of 1000 MB and three functions of 400 MB: two sandboxes fit, a third needs an
/// eviction.
fn pressure_setup() -> Setup {
    Setup::new(catalog(&[(0, 400), (1, 400), (2, 400)]), 1, 1000)
}

fn pressure_trace() -> Vec<workloads::Invocation> {
    // A at 0 s (used until 1.036 s), B at 1 s (until 2.036 s), C at 10 s: 200 MB free, so the
    // least recently used, A, is evicted. A at 20 s: LRU is now B (2.036 s) against C (11.036 s):
    // B goes. C at 30 s is still warm.
    vec![
        inv(0, 0, SEC),
        inv(1, SEC, SEC),
        inv(2, 10 * SEC, SEC),
        inv(0, 20 * SEC, SEC),
        inv(2, 30 * SEC, SEC),
    ]
}

#[test]
fn lru_evicts_the_least_recently_used_under_memory_pressure() {
    let (out, _) = pressure_setup().run(
        KeepAliveConfig::Lru {},
        SchedulerConfig::RoundRobin,
        pressure_trace(),
    );
    assert_eq!(out.kinds(), ["cold", "cold", "cold", "cold", "warm"]);
    assert_eq!(
        &out.destroyed()[..2],
        [(0, "evicted"), (1, "evicted")],
        "A then B are evicted"
    );
    // Peak use: two 400 MB sandboxes; never three.
    let peak = out.memory.iter().map(|(_, _, m)| m.used_mb()).max();
    assert_eq!(peak, Some(800));
}

#[test]
fn ttl_evicts_the_least_recently_used_when_memory_runs_out_before_expiry() {
    let (out, _) = pressure_setup().run(ttl(10), SchedulerConfig::RoundRobin, pressure_trace());
    assert_eq!(out.kinds(), ["cold", "cold", "cold", "cold", "warm"]);
    assert_eq!(&out.destroyed()[..2], [(0, "evicted"), (1, "evicted")]);
}

#[test]
fn an_invocation_waits_in_the_queue_until_memory_frees_up() {
    // One 500 MB worker; A and B need 400 MB each. A runs 10 s from 0 (handler until 10.036 s).
    // B arrives at 1 s: 100 MB free and nothing idle to evict, so it queues. When A ends, A's
    // sandbox goes idle, B evicts it and starts cold at 10.036 s: 9.036 s in the queue.
    // C (also 400 MB) arrives at 2 s; the queue holds one, so C is dropped.
    let mut setup = Setup::new(catalog(&[(0, 400), (1, 400), (2, 400)]), 1, 500);
    setup.queue = QueueMode::Queue { capacity: 1 };
    let (out, _) = setup.run(
        ttl(10),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, 10 * SEC), inv(1, SEC, SEC), inv(2, 2 * SEC, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "cold", "dropped"]);
    let b = out.record(1);
    assert_eq!(b.phases.queue, 9_036 * MS);
    assert_eq!(b.start, 10_036 * MS + 36 * MS);
    assert_eq!(b.startup_delay(), b.phases.startup());
    assert_eq!(
        out.record(2).outcome,
        Outcome::Dropped(DropReason::QueueFull)
    );
    assert_eq!(out.destroyed()[0], (0, "evicted"));
}

#[test]
fn drop_mode_drops_instead_of_queueing() {
    let mut setup = Setup::new(catalog(&[(0, 400), (1, 400)]), 1, 500);
    setup.queue = QueueMode::Drop;
    let (out, _) = setup.run(
        ttl(10),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, 10 * SEC), inv(1, SEC, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "dropped"]);
    assert_eq!(
        out.record(1).outcome,
        Outcome::Dropped(DropReason::NoMemory)
    );
}

#[test]
fn a_function_larger_than_a_worker_is_dropped_as_too_large() {
    let setup = Setup::new(catalog(&[(0, 2000)]), 1, 1000);
    let (out, _) = setup.run(ttl(10), SchedulerConfig::RoundRobin, vec![inv(0, 0, SEC)]);
    assert_eq!(
        out.record(0).outcome,
        Outcome::Dropped(DropReason::TooLarge)
    );
    assert!(out.sandboxes.is_empty());
}

#[test]
fn a_queued_invocation_takes_a_sandbox_of_its_function_as_soon_as_it_frees() {
    // One 500 MB worker, A needs 400 MB. Two overlapping A's: the second cannot get memory for a
    // second sandbox, queues, and runs warm in the first sandbox when it ends at 5.036 s.
    let setup = Setup::new(catalog(&[(0, 400)]), 1, 500);
    let (out, _) = setup.run(
        ttl(10),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, 5 * SEC), inv(0, SEC, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "warm"]);
    assert_eq!(out.record(1).phases.queue, 4_036 * MS);
    assert_eq!(out.record(1).start, 5_037 * MS);
}

#[test]
fn a_sandbox_runs_up_to_the_concurrency_limit() {
    // Second arrival at 100 ms, while the first runs (36 ms .. 10.036 s).
    let trace = vec![inv(0, 0, 10 * SEC), inv(0, 100 * MS, SEC)];
    let mut setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let (one, _) = setup.run(ttl(10), SchedulerConfig::RoundRobin, trace.clone());
    assert_eq!(one.kinds(), ["cold", "cold"]);
    setup.concurrency = 2;
    let (two, _) = setup.run(ttl(10), SchedulerConfig::RoundRobin, trace);
    assert_eq!(two.kinds(), ["cold", "warm"]);
    assert_eq!(two.record(1).start, 101 * MS);
}

/// Pauses every idle sandbox and never expires it: exercises the controller's pause path.
struct PauseAlways;

impl KeepAlive for PauseAlways {
    fn name(&self) -> &'static str {
        "pause-always"
    }
    fn on_idle(&mut self, _: Time, _: &Sandbox, _: &Platform) -> IdleDecision {
        IdleDecision::Pause { until: None }
    }
    fn on_deadline(&mut self, _: Time, _: &Sandbox, _: &Platform) -> IdleDecision {
        IdleDecision::Destroy
    }
}

#[test]
fn a_paused_sandbox_is_unpaused_for_the_next_invocation() {
    // Ends at 1.036 s and is paused (1 ms, done by 1.037 s). At 5 s: unpause 1 ms + dispatch 1 ms,
    // so the handler starts at 5.002 s; its startup delay (2 ms) is recorded as init.
    let setup = Setup::new(catalog(&[(0, 256)]), 1, 1024);
    let (out, _) = setup.run_with(
        Box::new(PauseAlways),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(0, 5 * SEC, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "unpause"]);
    assert_eq!(out.record(1).start, 5_002 * MS);
    assert_eq!(out.record(1).phases.init, 2 * MS);
    let paused = out
        .memory
        .iter()
        .find(|(t, _, _)| *t == 1_036 * MS)
        .map(|(_, _, m)| m.paused_mb);
    assert_eq!(paused, Some(256));
    assert_eq!(out.record(1).start_kind, Some(StartKind::Unpause));
}

#[test]
fn round_robin_cycles_through_workers() {
    let setup = Setup::new(catalog(&[(0, 128)]), 3, 1024);
    let trace = (0..5).map(|i| inv(0, i * SEC, 10 * MS)).collect();
    let (out, _) = setup.run(ttl(10), SchedulerConfig::RoundRobin, trace);
    let workers: Vec<u32> = (0..5).map(|i| out.record(i).worker.0).collect();
    assert_eq!(workers, [0, 1, 2, 0, 1]);
    // Each worker's first invocation is cold, the returns to workers 0 and 1 are warm.
    assert_eq!(out.kinds(), ["cold", "cold", "cold", "warm", "warm"]);
}

#[test]
fn random_scheduler_is_seeded_and_spreads_load() {
    let setup = Setup::new(catalog(&[(0, 64)]), 4, 1024);
    let trace: Vec<_> = (0..400).map(|i| inv(0, i * SEC, 10 * MS)).collect();
    let (a, _) = setup.run(ttl(10), SchedulerConfig::Random, trace.clone());
    let (b, _) = setup.run(ttl(10), SchedulerConfig::Random, trace);
    let wa: Vec<u32> = a.records.iter().map(|r| r.worker.0).collect();
    let wb: Vec<u32> = b.records.iter().map(|r| r.worker.0).collect();
    assert_eq!(wa, wb, "same seed, same choices");
    // 400 uniform choices over 4 workers: each gets 100 on average, sd about 8.7.
    for w in 0..4 {
        let n = wa.iter().filter(|&&x| x == w).count();
        assert!((60..=140).contains(&n), "worker {w} got {n}");
    }
}

#[test]
fn least_loaded_prefers_a_worker_with_a_warm_sandbox() {
    // Two workers. f1 runs long on worker 0 (chosen at 0 s: both empty, lowest id). f0 at 1 s goes
    // to worker 1 (0 in flight against 1). f0 again at 5 s: worker 1 has its idle sandbox, so it
    // is chosen. f0 at 5.5 s while that one runs: no warm sandbox with room; worker 0 has 1 in
    // flight (f1) and worker 1 has 1 (f0): a tie on load and on reclaimable memory (924 MB each),
    // so the lowest id, worker 0.
    let setup = Setup::new(catalog(&[(0, 100), (1, 100)]), 2, 1024);
    let (out, _) = setup.run(
        ttl(10),
        SchedulerConfig::LeastLoaded,
        vec![
            inv(1, 0, 60 * SEC),
            inv(0, SEC, SEC),
            inv(0, 5 * SEC, SEC),
            inv(0, 5_500 * MS, SEC),
        ],
    );
    let workers: Vec<u32> = (0..4).map(|i| out.record(i).worker.0).collect();
    assert_eq!(workers, [0, 1, 1, 0]);
    assert_eq!(out.kinds(), ["cold", "cold", "warm", "cold"]);
}

#[test]
fn hash_keeps_a_function_on_its_home_worker_and_probes_when_it_is_full() {
    // Four workers of 300 MB, f0 needs 200 MB. Sequential invocations all land on one home worker
    // and run warm. Two overlapping ones: the second cannot fit beside the first on the home
    // worker (100 MB reclaimable), so it goes to the next worker on the probe sequence.
    let setup = Setup::new(catalog(&[(0, 200)]), 4, 300);
    let (seq, _) = setup.run(
        ttl(10),
        SchedulerConfig::Hash,
        (0..4).map(|i| inv(0, i * 10 * SEC, SEC)).collect(),
    );
    let home = seq.record(0).worker;
    assert!(seq.records.iter().all(|r| r.worker == home));
    assert_eq!(seq.kinds(), ["cold", "warm", "warm", "warm"]);
    let (overlap, _) = setup.run(
        ttl(10),
        SchedulerConfig::Hash,
        vec![inv(0, 0, 10 * SEC), inv(0, SEC, SEC)],
    );
    assert_eq!(overlap.record(0).worker, home);
    assert_ne!(overlap.record(1).worker, home);
    assert_eq!(overlap.kinds(), ["cold", "cold"]);
}
