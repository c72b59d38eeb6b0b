//! Keep-alive variants, OpenLambda's lifecycle, provisioned concurrency and the reuse order on
//! scenarios worked out by hand. Costs are `util::costs()`: a cold start begins its handler 36 ms
//! after it is placed (10 ms create + 25 ms init + 1 ms dispatch), a warm start 1 ms after, an
//! unpause 2 ms after (1 ms unpause + 1 ms dispatch).

use policies::{KeepAliveConfig, Refresh, SchedulerConfig};
use sim::platform::ReuseOrder;
use sim::record::{FailReason, Outcome, SandboxEvent};
use sim::{EvictionMode, QueueMode, ReleaseMode};
use workloads::{Duration, FunctionId, Time};

use crate::util::{Collect, MIN, MS, SEC, Setup, catalog, inv};

fn ttl(minutes: u64, refresh: Refresh, lazy: bool) -> KeepAliveConfig {
    KeepAliveConfig::Ttl {
        idle: Duration::from_mins(minutes),
        refresh,
        lazy,
    }
}

fn openlambda(free_goal: f64, kill_running: bool) -> KeepAliveConfig {
    KeepAliveConfig::Openlambda {
        free_goal,
        max_evictions: 8,
        kill_running,
    }
}

/// Times of the destroy events, with their reasons.
fn destroyed_at(out: &Collect) -> Vec<(Time, u32, &'static str)> {
    out.sandboxes
        .iter()
        .filter_map(|(t, _, e)| match e {
            SandboxEvent::Destroyed { function, reason } => Some((*t, function.0, reason.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn ttl_set_once_expires_a_busy_sandbox_where_refresh_keeps_it() {
    // f0 runs 1 s, arrivals at 0, 5, 9 and 12 min. The first run ends at 1.036 s: the sandbox's
    // first idle moment. With refresh = once it expires at 10 min 1.036 s although it ran at
    // 5 and 9 min (ending 9 min 1.001 s), so 12 min is cold. With refresh = reuse the deadline
    // moves to 19 min 1.001 s and 12 min is warm.
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let arrivals = vec![
        inv(0, 0, SEC),
        inv(0, 5 * MIN, SEC),
        inv(0, 9 * MIN, SEC),
        inv(0, 12 * MIN, SEC),
    ];
    let (once, _) = setup.run(
        ttl(10, Refresh::Once, false),
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    assert_eq!(once.kinds(), ["cold", "warm", "warm", "cold"]);
    assert_eq!(
        destroyed_at(&once)[0],
        (10 * MIN + 1_036 * MS, 0, "expired")
    );
    let (reuse, _) = setup.run(
        ttl(10, Refresh::Reuse, false),
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(reuse.kinds(), ["cold", "warm", "warm", "warm"]);
}

#[test]
fn a_run_given_an_end_goes_on_until_it() {
    // f0 runs 1 s at 0 (its sandbox idle from 1.036 s), keep-alive 10 min. Without an end the
    // run ends then and the sandbox is shut down; with an end at 5 min it lives until 5 min;
    // with one at 20 min it expires at 10 min 1.036 s and the run still ends at 20 min.
    let mut setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let ends = [
        (None, 1_036 * MS, (1_036 * MS, 0, "shutdown")),
        (Some(5 * MIN), 5 * MIN, (5 * MIN, 0, "shutdown")),
        (
            Some(20 * MIN),
            20 * MIN,
            (10 * MIN + 1_036 * MS, 0, "expired"),
        ),
    ];
    for (end, run_end, destroyed) in ends {
        setup.end = end;
        let (out, stats) = setup.run(
            ttl(10, Refresh::Reuse, false),
            SchedulerConfig::RoundRobin,
            vec![inv(0, 0, SEC)],
        );
        assert_eq!(stats.end, run_end, "end {end:?}");
        assert_eq!(destroyed_at(&out), [destroyed], "end {end:?}");
    }
}

#[test]
fn lazy_ttl_expires_only_when_the_function_is_looked_up() {
    // f0 runs 1 s at 0 and at 20 min; keep-alive 10 min. Eager: destroyed at 10 min 1.036 s.
    // Lazy (FaasCache): the expired sandbox holds its memory until f0 is looked up again at
    // 20 min, is destroyed then as expired, and the invocation is cold.
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let arrivals = vec![inv(0, 0, SEC), inv(0, 20 * MIN, SEC)];
    let (eager, _) = setup.run(
        ttl(10, Refresh::Reuse, false),
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    assert_eq!(eager.kinds(), ["cold", "cold"]);
    assert_eq!(
        destroyed_at(&eager)[0],
        (10 * MIN + 1_036 * MS, 0, "expired")
    );
    let (lazy, _) = setup.run(
        ttl(10, Refresh::Reuse, true),
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(lazy.kinds(), ["cold", "cold"]);
    assert_eq!(destroyed_at(&lazy)[0], (20 * MIN, 0, "expired"));
    // Idle memory was held from 1.036 s to 20 min.
    let idle_at_15 = lazy
        .memory
        .iter()
        .rfind(|(t, _, _)| *t <= 15 * MIN)
        .map(|(_, _, m)| m.idle_mb);
    assert_eq!(idle_at_15, Some(128));
}

#[test]
fn openlambda_pauses_and_unpauses() {
    // f0 runs 1 s at 0 and at 5 min: paused at 1.036 s, unpaused for the second run, whose
    // handler starts 2 ms after arrival.
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let (out, _) = setup.run(
        openlambda(0.2, true),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(0, 5 * MIN, SEC)],
    );
    assert_eq!(out.kinds(), ["cold", "unpause"]);
    assert_eq!(out.record(1).start, 5 * MIN + 2 * MS);
    let paused: Vec<Time> = out
        .sandboxes
        .iter()
        .filter(|(_, _, e)| matches!(e, SandboxEvent::Paused { .. }))
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(paused, [1_036 * MS, 5 * MIN + 1_002 * MS]);
}

#[test]
fn openlambda_evicts_paused_sandboxes_oldest_first_for_a_new_one() {
    // 1024 MB, sandboxes of 400 MB, free goal 20% = 204 MB. f0 at 0 and f1 at 2 s (1 s each)
    // leave 224 MB free, above the goal, both paused. f2 at 4 s needs 400: 176 more, and the
    // oldest paused sandbox, f0's (paused at 1.036 s), goes. f0 at 10 s is cold; it evicts f1
    // (paused at 3.036 s) in turn.
    let setup = Setup::new(catalog(&[(0, 400), (1, 400), (2, 400)]), 1, 1024);
    let (out, _) = setup.run(
        openlambda(0.2, true),
        SchedulerConfig::RoundRobin,
        vec![
            inv(0, 0, SEC),
            inv(1, 2 * SEC, SEC),
            inv(2, 4 * SEC, SEC),
            inv(0, 10 * SEC, SEC),
        ],
    );
    assert_eq!(out.kinds(), ["cold", "cold", "cold", "cold"]);
    let evicted: Vec<(Time, u32)> = destroyed_at(&out)
        .into_iter()
        .filter(|d| d.2 == "evicted")
        .map(|d| (d.0, d.1))
        .collect();
    assert_eq!(evicted, [(4 * SEC, 0), (10 * SEC, 1)]);
}

#[test]
fn openlambda_keeps_its_free_goal_in_the_background() {
    // 1100 MB, sandboxes of 450 MB, goal 20% = 220 MB. f0 at 0 runs 1 s and is paused at
    // 1.036 s with 650 MB free. f1's cold start at 2 s leaves 200 MB free, below the goal: the
    // evictor removes f0's paused sandbox at once (2 s), though nobody needs the memory yet.
    let setup = Setup::new(catalog(&[(0, 450), (1, 450)]), 1, 1100);
    let (out, _) = setup.run(
        openlambda(0.2, true),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(1, 2 * SEC, SEC)],
    );
    assert_eq!(destroyed_at(&out)[0], (2 * SEC, 0, "evicted"));
    // With no goal, it stays until the end.
    let (out, _) = setup.run(
        openlambda(0.0, true),
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(1, 2 * SEC, SEC)],
    );
    assert!(destroyed_at(&out).iter().all(|d| d.2 == "shutdown"));
}

#[test]
fn openlambda_kills_a_running_sandbox_only_as_a_last_resort() {
    // 1000 MB. f0 (600 MB) runs 60 s from 0. f1 (600 MB) arrives at 1 s: nothing is paused,
    // so f0's sandbox is killed: invocation 0 fails (killed) at 1 s and f1 starts cold, running
    // its full 100 s (ending at 101.036 s, not when f0's run would have ended).
    let setup = Setup::new(catalog(&[(0, 600), (1, 600)]), 1, 1000);
    let arrivals = vec![inv(0, 0, 60 * SEC), inv(1, SEC, 100 * SEC)];
    let (out, _) = setup.run(
        openlambda(0.0, true),
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    let killed = out.record(0);
    assert_eq!(killed.outcome, Outcome::Failed(FailReason::Killed));
    assert_eq!(killed.end, SEC);
    assert_eq!(out.record(1).end, 101_036 * MS);
    assert_eq!(destroyed_at(&out)[0], (SEC, 0, "evicted"));
    // Without kills, f1 waits in the queue until f0's sandbox is paused at 60.036 s and evicted.
    let (out, _) = setup.run(
        openlambda(0.0, false),
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(out.record(0).outcome, Outcome::Ok);
    assert_eq!(out.record(1).start, 60_036 * MS + 36 * MS);
}

#[test]
fn provisioned_sandboxes_are_warm_from_the_start_and_never_go() {
    // Two provisioned sandboxes of f0 (512 MB) on two workers of 1024 MB, created at 0 and ready
    // at 35 ms. Two invocations at 1 s use them (prewarmed starts, 1 ms dispatch); the keep-alive
    // of 1 min does not expire them, so 10 min later they are warm again. f1 (600 MB) cannot
    // evict them: with drops on, it is dropped for lack of memory.
    let mut setup = Setup::new(catalog(&[(0, 512), (1, 600)]), 2, 1024);
    setup.provisioned = vec![(FunctionId(0), 2)];
    setup.queue = QueueMode::Drop;
    let (out, _) = setup.run(
        ttl(1, Refresh::Reuse, false),
        SchedulerConfig::LeastLoaded,
        vec![
            inv(0, SEC, SEC),
            inv(0, SEC, SEC),
            inv(0, 10 * MIN, SEC),
            inv(1, 11 * MIN, SEC),
        ],
    );
    assert_eq!(out.kinds(), ["prewarmed", "prewarmed", "warm", "dropped"]);
    assert_eq!(out.record(0).start, SEC + MS);
    let created: Vec<Time> = out
        .sandboxes
        .iter()
        .filter(|(_, _, e)| matches!(e, SandboxEvent::Created { .. }))
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(created, [0, 0]);
    assert!(destroyed_at(&out).iter().all(|d| d.2 == "shutdown"));
}

#[test]
fn reuse_order_picks_the_most_or_least_recently_used_idle_sandbox() {
    // f0 at 0 twice (1 s and 2 s): sandboxes A and B, idle at 1.036 s and 2.036 s. At 10 s one
    // is reused for 1 s (idle again at 11.001 s); keep-alive 1 min. MRU reuses B, so A expires
    // first at 61.036 s; LRU reuses A, so B expires first at 62.036 s. (f1 at 100 s keeps the
    // run going past the expiries.)
    let arrivals = vec![
        inv(0, 0, SEC),
        inv(0, 0, 2 * SEC),
        inv(0, 10 * SEC, SEC),
        inv(1, 100 * SEC, SEC),
    ];
    let mut setup = Setup::new(catalog(&[(0, 128), (1, 128)]), 1, 1024);
    let (mru, _) = setup.run(
        ttl(1, Refresh::Reuse, false),
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    assert_eq!(destroyed_at(&mru)[0].0, 61_036 * MS);
    setup.reuse = ReuseOrder::Lru;
    let (lru, _) = setup.run(
        ttl(1, Refresh::Reuse, false),
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(destroyed_at(&lru)[0].0, 62_036 * MS);
    assert_eq!(destroyed_at(&lru)[1].0, 71_001 * MS);
}

/// Pre-warms every function `delay` after each use and keeps the pre-warmed sandbox 1 minute.
struct PrewarmAfter(Time);

impl sim::KeepAlive for PrewarmAfter {
    fn name(&self) -> &'static str {
        "prewarm-after"
    }

    fn on_idle(&mut self, now: Time, _: &sim::Sandbox, _: &sim::Platform) -> sim::IdleDecision {
        sim::IdleDecision::Prewarm {
            at: now + self.0,
            until: Some(now + self.0 + MIN),
        }
    }

    fn on_deadline(&mut self, _: Time, _: &sim::Sandbox, _: &sim::Platform) -> sim::IdleDecision {
        sim::IdleDecision::Destroy
    }
}

#[test]
fn an_arrival_just_before_a_prewarmed_sandbox_is_ready_waits_for_it() {
    // f0 runs 1 s from 0 (cold) and ends at 1.036 s; its sandbox is unloaded and a new one is
    // loaded 10 s later, at 11.036 s, ready 35 ms later at 11.071 s. An arrival at 11.066 s
    // claims it: its handler starts at 11.072 s (ready + 1 ms dispatch), a startup of 6 ms, of
    // which at most the 5 ms it waited count as creation. That run ends at 12.072 s, so the next
    // sandbox is loaded at 22.072 s and is idle when f0 arrives at 30 s: a prewarmed start 1 ms
    // after arrival. That run ends at 31.001 s; the sandbox loaded at 41.001 s is kept until
    // 1 min 41.001 s and then destroyed, so the arrival at 3 min is cold.
    let setup = Setup::new(catalog(&[(0, 128)]), 1, 1024);
    let (out, _) = setup.run_with(
        Box::new(PrewarmAfter(10 * SEC)),
        SchedulerConfig::RoundRobin,
        vec![
            inv(0, 0, SEC),
            inv(0, 11_066 * MS, SEC),
            inv(0, 30 * SEC, SEC),
            inv(0, 3 * MIN, SEC),
        ],
    );
    assert_eq!(out.kinds(), ["cold", "cold", "prewarmed", "cold"]);
    let claimed = out.record(1);
    assert_eq!(claimed.start, 11_072 * MS);
    assert_eq!(claimed.phases.queue, 0);
    assert!(claimed.phases.create <= 6 * MS, "{:?}", claimed.phases);
    assert_eq!(
        claimed.phases.create + claimed.phases.init,
        6 * MS,
        "{:?}",
        claimed.phases
    );
    assert_eq!(out.record(2).start, 30 * SEC + MS);
    // Sandboxes: the first, the claimed pre-warm, the pre-warm used at 30 s, its successor
    // (pre-warmed at 41.001 s and expired at 1 min 41.001 s), and the cold one at 3 min.
    let created = out
        .sandboxes
        .iter()
        .filter(|(_, _, e)| matches!(e, SandboxEvent::Created { .. }))
        .count();
    assert_eq!(created, 5);
}

/// Every keep-alive policy, scheduler and CPU model: a run ends every invocation exactly once, and
/// the same scenario and seed give a byte-identical summary.
#[test]
fn every_policy_is_deterministic_and_ends_every_invocation_once() {
    use lambdasim::bench::{KEEP_ALIVES, SCHEDULERS};
    use lambdasim::scenario::RawScenario;
    use lambdasim::spec::parse_policy;
    let mut cases: Vec<(&str, &str, &str)> = KEEP_ALIVES
        .iter()
        .map(|k| (*k, "least-loaded", "ignored"))
        .collect();
    cases.extend(SCHEDULERS.iter().map(|s| ("ttl,idle=5m", *s, "ignored")));
    cases.extend(["isolated", "shared"].map(|c| ("openlambda", "hermod", c)));
    for (keep_alive, scheduler, cpu) in cases {
        let summary = || {
            let text = format!(
                "seed = 3\n[cluster]\nworkers = 3\nmemory_mb = 1536\ncores = 4\ncpu = \"{cpu}\"\n\
                 [workload]\nkind = \"synthetic\"\nduration = \"20m\"\nrate = 15.0\n"
            );
            let mut raw = RawScenario::parse(&text, "test").unwrap();
            raw.policies.keep_alive = parse_policy("keep_alive", keep_alive).unwrap();
            raw.policies.scheduler = parse_policy("scheduler", scheduler).unwrap();
            let result = lambdasim::run(&raw.validate().unwrap(), None).unwrap();
            (analysis::to_json(&result.summary), result.summary)
        };
        let (a, s) = summary();
        let (b, _) = summary();
        assert_eq!(
            a, b,
            "{keep_alive} / {scheduler} / {cpu} is not deterministic"
        );
        let i = &s.invocations;
        assert!(i.total > 10_000, "{keep_alive} / {scheduler}: {}", i.total);
        assert_eq!(
            i.completed + i.dropped + i.failed,
            i.total,
            "{keep_alive} / {scheduler} / {cpu}"
        );
    }
}

#[test]
fn packages_are_installed_per_worker_and_found_there_again() {
    // P0: install 1000 ms, import 50 ms, 10 MB. P1 depends on P0: install 500 ms, import 20 ms,
    // 5 MB. f0 needs P1 (so P0 and P1), f1 needs P0. Two workers, round-robin, no keep-alive, so
    // every arrival is a cold start: create 10 ms, install what the worker lacks, import every
    // package, init 25 ms, dispatch 1 ms.
    //   0 s  f0 on worker 0: installs P0 and P1 (1500 ms), imports 70 ms: handler at 1.606 s.
    //   10 s f1 on worker 1: P0 is not there: installs it (1000 ms), imports 50 ms: 11.086 s.
    //   20 s f1 on worker 0: P0 is there since 0 s: no install, imports 50 ms: 20.086 s.
    use workloads::packages::{Package, PackageCatalog, PackageId};
    let package = |name: &str, deps: Vec<PackageId>, install_ms, import_ms, mb: u64| Package {
        name: name.into(),
        version: "1".into(),
        deps,
        install_ms,
        disk_bytes: mb << 20,
        import_ms,
        import_mb: 1.0,
        popularity: 1.0,
    };
    let mut c = catalog(&[(0, 128), (1, 128)]);
    c.packages = PackageCatalog {
        packages: vec![
            package("p0", vec![], 1000.0, 50.0, 10),
            package("p1", vec![PackageId(0)], 500.0, 20.0, 5),
        ],
    };
    c.functions[0].packages = vec![PackageId(0), PackageId(1)];
    c.functions[1].packages = vec![PackageId(0)];
    let arrivals = vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC), inv(1, 20 * SEC, SEC)];
    let setup = Setup::new(c, 2, 1024);
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    let starts: Vec<Time> = (0..3).map(|i| out.record(i).start).collect();
    assert_eq!(starts, [1_606 * MS, 11_086 * MS, 20_086 * MS]);
    let install: Vec<Time> = (0..3).map(|i| out.record(i).phases.install).collect();
    assert_eq!(install, [1_500 * MS, 1_000 * MS, 0]);
    let import: Vec<Time> = (0..3).map(|i| out.record(i).phases.import).collect();
    assert_eq!(import, [70 * MS, 50 * MS, 50 * MS]);
    let installed: Vec<(u32, u32)> = out
        .sandboxes
        .iter()
        .filter_map(|(_, _, e)| match e {
            SandboxEvent::Installed { hits, misses, .. } => Some((*hits, *misses)),
            _ => None,
        })
        .collect();
    assert_eq!(installed, [(0, 2), (0, 1), (1, 0)]);

    // Without an install cache, the third cold start installs P0 again.
    let mut setup = setup;
    setup.install_cache = policies::InstallCacheConfig::None {};
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(out.record(2).phases.install, 1_000 * MS);
    assert_eq!(out.record(2).start, 21_086 * MS);
}

#[test]
fn a_full_install_cache_removes_the_least_recently_used_package() {
    // One worker with 15 MB of disk for packages; P0 and P1 are independent, 10 MB each,
    // install 1000 ms. f0 needs P0, f1 needs P1; no keep-alive.
    //   0 s  f0 installs P0 (10 MB used).
    //   10 s f1 needs 10 MB more: 5 MB short, so P0 (least recently used) is removed.
    //   20 s f0 installs P0 again, removing P1. Every start installs; two removals of 10 MB.
    use workloads::packages::{Package, PackageCatalog, PackageId};
    let package = |name: &str| Package {
        name: name.into(),
        version: "1".into(),
        deps: vec![],
        install_ms: 1000.0,
        disk_bytes: 10 << 20,
        import_ms: 0.0,
        import_mb: 0.0,
        popularity: 1.0,
    };
    let mut c = catalog(&[(0, 128), (1, 128)]);
    c.packages = PackageCatalog {
        packages: vec![package("p0"), package("p1")],
    };
    c.functions[0].packages = vec![PackageId(0)];
    c.functions[1].packages = vec![PackageId(1)];
    let mut setup = Setup::new(c, 1, 1024);
    setup.install_cache = policies::InstallCacheConfig::Lru { disk_mb: 15 };
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC), inv(0, 20 * SEC, SEC)],
    );
    let install: Vec<Time> = (0..3).map(|i| out.record(i).phases.install).collect();
    assert_eq!(install, [SEC, SEC, SEC]);
    let removed: Vec<(Time, u32, u64)> = out
        .sandboxes
        .iter()
        .filter_map(|(t, _, e)| match e {
            SandboxEvent::Uninstalled { packages, bytes } => Some((*t, *packages, *bytes)),
            _ => None,
        })
        .collect();
    assert_eq!(removed, [(10 * SEC, 1, 10 << 20), (20 * SEC, 1, 10 << 20)]);
    // With room for both, the third start finds P0.
    setup.install_cache = policies::InstallCacheConfig::Lru { disk_mb: 20 };
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC), inv(0, 20 * SEC, SEC)],
    );
    assert_eq!(out.record(2).phases.install, 0);
}

#[test]
fn pasch_sends_functions_sharing_their_largest_package_to_the_same_worker() {
    // P0 is 100 MB (install 2 s), P1 is 1 MB (install 0.5 s). f0 needs P0 and P1, f1 needs P0:
    // both have P0 as their largest package, so PASch maps both to the same two affinity workers
    // and, with nothing in flight, sends both to the first. f1 then finds P0 installed: its cold
    // start installs nothing. Round-robin sends f1 to another worker, where it installs P0.
    use workloads::packages::{Package, PackageCatalog, PackageId};
    let package = |name: &str, install_ms, mb: u64| Package {
        name: name.into(),
        version: "1".into(),
        deps: vec![],
        install_ms,
        disk_bytes: mb << 20,
        import_ms: 0.0,
        import_mb: 0.0,
        popularity: 1.0,
    };
    let mut c = catalog(&[(0, 128), (1, 128)]);
    c.packages = PackageCatalog {
        packages: vec![package("p0", 2000.0, 100), package("p1", 500.0, 1)],
    };
    c.functions[0].packages = vec![PackageId(0), PackageId(1)];
    c.functions[1].packages = vec![PackageId(0)];
    let setup = Setup::new(c, 4, 1024);
    let arrivals = vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC)];
    let pasch: SchedulerConfig = lambdasim::spec::parse_policy("--scheduler", "pasch").unwrap();
    let (out, _) = setup.run(KeepAliveConfig::None {}, pasch, arrivals.clone());
    assert_eq!(out.record(0).worker, out.record(1).worker);
    assert_eq!(out.record(0).phases.install, 2_500 * MS);
    assert_eq!(out.record(1).phases.install, 0);
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_ne!(out.record(0).worker, out.record(1).worker);
    assert_eq!(out.record(1).phases.install, 2_000 * MS);
}

/// With packages, every install cache: deterministic, every invocation ends once, and caching
/// cuts the time spent installing.
#[test]
fn install_caches_are_deterministic_and_cut_install_time() {
    use lambdasim::scenario::RawScenario;
    let run = |cache: &str, scheduler: &str| {
        let text = format!(
            "seed = 5\n[cluster]\nworkers = 4\nmemory_mb = 2048\n\
             [policies]\nscheduler = {{ kind = \"{scheduler}\" }}\n\
             [workload]\nkind = \"synthetic\"\nduration = \"20m\"\nrate = 15.0\n\
             [packages]\ncatalog = {{ kind = \"synthetic\" }}\ninstall_cache = {cache}\n"
        );
        let raw = RawScenario::parse(&text, "test").unwrap();
        let result = lambdasim::run(&raw.validate().unwrap(), None).unwrap();
        (analysis::to_json(&result.summary), result.summary)
    };
    let mut install_ms = Vec::new();
    for cache in [
        "{ kind = \"none\" }",
        "{ kind = \"lru\", disk_mb = 30 }",
        "{ kind = \"gdsf\", disk_mb = 30 }",
        "{ kind = \"unbounded\" }",
    ] {
        for scheduler in ["least-loaded", "pasch"] {
            let (a, s) = run(cache, scheduler);
            let (b, _) = run(cache, scheduler);
            assert_eq!(a, b, "{cache} / {scheduler} is not deterministic");
            let i = &s.invocations;
            assert_eq!(i.completed + i.dropped + i.failed, i.total);
            assert!(s.packages.install_hits + s.packages.install_misses > 0);
            if scheduler == "least-loaded" {
                install_ms.push(s.phases_ms.install.total);
            }
        }
    }
    // No cache installs the most; a cache with room for everything the least.
    assert!(install_ms[0] > install_ms[1], "{install_ms:?}");
    assert!(install_ms[1] > install_ms[3], "{install_ms:?}");
    assert!(install_ms[2] > install_ms[3], "{install_ms:?}");
}

/// Packages for the zygote tests: no install time, so that only imports and forks count.
fn zygote_catalog(imports: &[(&str, Vec<u32>, f64, f64)]) -> workloads::packages::PackageCatalog {
    use workloads::packages::{Package, PackageCatalog, PackageId};
    PackageCatalog {
        packages: imports
            .iter()
            .map(|(name, deps, import_ms, import_mb)| Package {
                name: (*name).into(),
                version: "1".into(),
                deps: deps.iter().map(|&d| PackageId(d)).collect(),
                install_ms: 0.0,
                disk_bytes: 1 << 20,
                import_ms: *import_ms,
                import_mb: *import_mb,
                popularity: 1.0,
            })
            .collect(),
    }
}

fn zygote_events(out: &Collect) -> Vec<(Time, &'static str, u64)> {
    out.sandboxes
        .iter()
        .filter_map(|(t, _, e)| match e {
            SandboxEvent::ZygoteCreated { memory_mb, .. } => Some((*t, "created", *memory_mb)),
            SandboxEvent::ZygoteDestroyed { memory_mb, reason } => {
                Some((*t, reason.as_str(), *memory_mb))
            }
            _ => None,
        })
        .collect()
}

fn imported(out: &Collect) -> Vec<(u32, u32)> {
    out.sandboxes
        .iter()
        .filter_map(|(_, _, e)| match e {
            SandboxEvent::Imported { hits, misses, .. } => Some((*hits, *misses)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_static_tree_makes_zygotes_lazily_and_forks_from_the_deepest_usable_one() {
    // P0 (import 50 ms, 20 MB); P1 needs P0 (20 ms, 10 MB); P2 (30 ms, 5 MB). The tree is
    // root -> {P0} -> {P0, P1}, and root -> {P2}. Zygotes cost 10 MB before their imports. One
    // worker, no keep-alive: create 10 ms, fork 2 ms, init 25 ms, dispatch 1 ms.
    //   0 s  f0 needs P0, P1, P2: the deepest usable node is {P0, P1}; neither zygote on its path
    //        exists, so f0 creates them after its sandbox (10 ms): {P0} starts fresh (create 10 ms,
    //        import 50 ms: ready at 70 ms), {P0, P1} forks from it (2 ms) and imports P1 (20 ms:
    //        ready at 92 ms). f0 forks from it and imports P2 (30 ms): import phase 82 + 30 =
    //        112 ms, create 12 ms, handler at 12 + 112 + 25 + 1 = 150 ms. Zygotes: 30 + 20 MB.
    //   10 s f1 needs P0, P2: {P0} and {P2} are equally deep, {P0} comes first: fork, import P2.
    //   20 s f2 needs P0, P1: {P0, P1} exists: fork, nothing to import.
    let mut c = catalog(&[(0, 128), (1, 128), (2, 128)]);
    c.packages = zygote_catalog(&[
        ("p0", vec![], 50.0, 20.0),
        ("p1", vec![0], 20.0, 10.0),
        ("p2", vec![], 30.0, 5.0),
    ]);
    use workloads::packages::PackageId;
    c.functions[0].packages = vec![PackageId(0), PackageId(1), PackageId(2)];
    c.functions[1].packages = vec![PackageId(0), PackageId(2)];
    c.functions[2].packages = vec![PackageId(0), PackageId(1)];
    let tree = workloads::zygote_tree::ZygoteTree::from_json_str(
        r#"{"packages": [], "children": [
            {"packages": ["p0"], "children": [{"packages": ["p1"]}]},
            {"packages": ["p2"]}
        ]}"#,
        "tree",
        &c.packages,
    )
    .unwrap();
    let mut setup = Setup::new(c, 1, 1024);
    setup.import_cache = Some(sim::zygotes::ImportCacheConfig {
        mode: sim::zygotes::TreeMode::Static(std::sync::Arc::new(tree)),
        capacity_mb: None,
        base_mb: 10,
    });
    let arrivals = vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC), inv(2, 20 * SEC, SEC)];
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    let starts: Vec<Time> = (0..3).map(|i| out.record(i).start).collect();
    assert_eq!(starts, [150 * MS, 10_068 * MS, 20_038 * MS]);
    let phases: Vec<(Time, Time)> = (0..3)
        .map(|i| (out.record(i).phases.create, out.record(i).phases.import))
        .collect();
    assert_eq!(
        phases,
        [(12 * MS, 112 * MS), (12 * MS, 30 * MS), (12 * MS, 0)]
    );
    assert_eq!(out.kinds(), ["zygote-fork"; 3]);
    // f0 found nothing imported; f1 found P0 in {P0}; f2 found both in {P0, P1}.
    assert_eq!(imported(&out), [(0, 3), (1, 1), (2, 0)]);
    // Children go before their parents at the end of the run.
    let end = out.record(2).end;
    assert_eq!(
        zygote_events(&out),
        [
            (0, "created", 30),
            (0, "created", 20),
            (end, "shutdown", 20),
            (end, "shutdown", 30),
        ]
    );
    let zygote_mb: Vec<u64> = out.memory.iter().map(|(_, _, m)| m.zygote_mb).collect();
    assert_eq!(zygote_mb.iter().max(), Some(&50));
    assert_eq!(zygote_mb.last(), Some(&0));
}

#[test]
fn a_dynamic_tree_grows_for_what_cold_starts_need_and_evicts_leaves() {
    // P0, P1, P2 independent, import 10 ms each, 20, 30 and 40 MB; zygotes cost 10 MB more; the
    // cache holds 100 MB. One worker, no keep-alive.
    //   0 s  f0 needs P0, P1: only the root matches, so a zygote {P0, P1} (60 MB) is grown,
    //        started fresh after f0's sandbox (10 ms create, 20 ms of imports): import phase 30 ms.
    //   10 s f1 needs P0, P1, P2: {P0, P1} matches; its child {P0, P1, P2} (50 MB) would make
    //        110 MB and the only leaf is the one f1 forks from: no room, fork and import P2.
    //   20 s f2 needs P2: grows {P2} (50 MB; 10 ms create, 10 ms import), evicting the leaf
    //        {P0, P1}.
    //   30 s f1 again: {P2} is its best match, and no room for {P0, P1, P2} (60 MB) beside it.
    let mut c = catalog(&[(0, 128), (1, 128), (2, 128)]);
    c.packages = zygote_catalog(&[
        ("p0", vec![], 10.0, 20.0),
        ("p1", vec![], 10.0, 30.0),
        ("p2", vec![], 10.0, 40.0),
    ]);
    use workloads::packages::PackageId;
    c.functions[0].packages = vec![PackageId(0), PackageId(1)];
    c.functions[1].packages = vec![PackageId(0), PackageId(1), PackageId(2)];
    c.functions[2].packages = vec![PackageId(2)];
    let mut setup = Setup::new(c, 1, 1024);
    let dynamic = |capacity_mb| sim::zygotes::ImportCacheConfig {
        mode: sim::zygotes::TreeMode::Dynamic,
        capacity_mb: Some(capacity_mb),
        base_mb: 10,
    };
    setup.import_cache = Some(dynamic(100));
    let arrivals = vec![
        inv(0, 0, SEC),
        inv(1, 10 * SEC, SEC),
        inv(2, 20 * SEC, SEC),
        inv(1, 30 * SEC, SEC),
    ];
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    let import: Vec<Time> = (0..4).map(|i| out.record(i).phases.import).collect();
    assert_eq!(import, [30 * MS, 10 * MS, 20 * MS, 20 * MS]);
    assert_eq!(imported(&out), [(0, 2), (2, 1), (0, 1), (1, 2)]);
    let end = out.record(3).end;
    assert_eq!(
        zygote_events(&out),
        [
            (0, "created", 60),
            (20 * SEC, "evicted", 60),
            (20 * SEC, "created", 50),
            (end, "shutdown", 50),
        ]
    );

    // With room for 200 MB, f1 grows {P0, P1, P2} as a child of {P0, P1}: it forks from the
    // parent (2 ms) and imports P2 (10 ms); the next f1 finds everything imported.
    setup.import_cache = Some(dynamic(200));
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    let import: Vec<Time> = (0..4).map(|i| out.record(i).phases.import).collect();
    assert_eq!(import, [30 * MS, 12 * MS, 20 * MS, 0]);
    assert_eq!(imported(&out), [(0, 2), (2, 1), (0, 1), (3, 0)]);
    let created = zygote_events(&out)
        .iter()
        .filter(|e| e.1 == "created")
        .count();
    assert_eq!(created, 3);
}

#[test]
fn zygotes_give_way_when_a_sandbox_needs_their_memory() {
    // A 200 MB worker. f0 (100 MB) grows a 60 MB zygote. f1 needs 150 MB when only 140 MB are
    // free and no sandbox is left to evict: the zygote is evicted, and f1 starts at once.
    let mut c = catalog(&[(0, 100), (1, 150)]);
    c.packages = zygote_catalog(&[("p0", vec![], 10.0, 50.0)]);
    c.functions[0].packages = vec![workloads::packages::PackageId(0)];
    let mut setup = Setup::new(c, 1, 200);
    setup.import_cache = Some(sim::zygotes::ImportCacheConfig {
        mode: sim::zygotes::TreeMode::Dynamic,
        capacity_mb: Some(1000),
        base_mb: 10,
    });
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC)],
    );
    assert_eq!(
        zygote_events(&out),
        [(0, "created", 60), (10 * SEC, "evicted", 60)]
    );
    assert_eq!(out.record(1).start, 10 * SEC + 36 * MS);
    assert_eq!(out.kinds(), ["zygote-fork", "cold"]);
}

#[test]
fn zygote_hash_sends_functions_with_the_same_deepest_zygote_to_one_worker() {
    // The tree is root -> {P0}. f0 needs P0 and P1, f1 needs P0 and P2: both fork from {P0}, so
    // zygote-hash sends both to the worker of that node, where f1 finds the zygote f0 made.
    // Round-robin sends f1 elsewhere, where it imports everything.
    let mut c = catalog(&[(0, 128), (1, 128)]);
    c.packages = zygote_catalog(&[
        ("p0", vec![], 50.0, 20.0),
        ("p1", vec![], 10.0, 1.0),
        ("p2", vec![], 10.0, 1.0),
    ]);
    use workloads::packages::PackageId;
    c.functions[0].packages = vec![PackageId(0), PackageId(1)];
    c.functions[1].packages = vec![PackageId(0), PackageId(2)];
    let tree = workloads::zygote_tree::ZygoteTree::from_json_str(
        r#"{"children": [{"packages": ["p0"]}]}"#,
        "tree",
        &c.packages,
    )
    .unwrap();
    let mut setup = Setup::new(c, 4, 1024);
    setup.import_cache = Some(sim::zygotes::ImportCacheConfig {
        mode: sim::zygotes::TreeMode::Static(std::sync::Arc::new(tree)),
        capacity_mb: None,
        base_mb: 10,
    });
    let arrivals = vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC)];
    let zygote_hash: SchedulerConfig =
        lambdasim::spec::parse_policy("--scheduler", "zygote-hash").unwrap();
    let (out, _) = setup.run(KeepAliveConfig::None {}, zygote_hash, arrivals.clone());
    assert_eq!(out.record(0).worker, out.record(1).worker);
    assert_eq!(imported(&out), [(0, 2), (1, 1)]);
    assert_eq!(out.record(1).phases.import, 10 * MS);
    let (out, _) = setup.run(
        KeepAliveConfig::None {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_ne!(out.record(0).worker, out.record(1).worker);
    assert_eq!(imported(&out), [(0, 2), (0, 2)]);
}

#[test]
fn whole_size_eviction_frees_the_new_sandbox_whole_size_and_keeps_its_victims_evicted() {
    // A 300 MB worker, idle sandboxes of f0 (100 MB, used at 0 s) and f1 (100 MB, at 10 s); f2
    // (150 MB) arrives at 20 s with 100 MB free. Shortfall: 50 MB short, the least recently used
    // f0 goes. Whole size (FaasCache): victims until they add up to 150 MB, so f0 and f1 go.
    let setup = Setup::new(catalog(&[(0, 100), (1, 100), (2, 150)]), 1, 300);
    let arrivals = vec![inv(0, 0, SEC), inv(1, 10 * SEC, SEC), inv(2, 20 * SEC, SEC)];
    let evicted = |out: &Collect| {
        destroyed_at(out)
            .into_iter()
            .filter(|d| d.2 == "evicted")
            .map(|d| d.1)
            .collect::<Vec<_>>()
    };
    let (shortfall, _) = setup.run(
        KeepAliveConfig::Lru {},
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    assert_eq!(evicted(&shortfall), [0]);
    let whole = Setup {
        eviction: EvictionMode::WholeSize,
        ..Setup::new(catalog(&[(0, 100), (1, 100), (2, 150)]), 1, 300)
    };
    let (out, _) = whole.run(
        KeepAliveConfig::Lru {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(out.kinds(), ["cold", "cold", "cold"]);
    let mut victims = evicted(&out);
    victims.sort_unstable();
    assert_eq!(victims, [0, 1]);

    // f1 (200 MB) runs from 0 s to 100 s and f0 (100 MB) is idle from 1.036 s; f2 (150 MB)
    // arrives at 10 s. Shortfall: the idle 100 MB cannot make 150 MB, so nothing is evicted and
    // f2 is dropped. Whole size: f0 is evicted anyway and f2 is still dropped.
    let arrivals = vec![inv(1, 0, 100 * SEC), inv(0, 0, SEC), inv(2, 10 * SEC, SEC)];
    let setup = |eviction| Setup {
        eviction,
        queue: QueueMode::Drop,
        ..Setup::new(catalog(&[(0, 100), (1, 200), (2, 150)]), 1, 300)
    };
    let (shortfall, _) = setup(EvictionMode::Shortfall).run(
        KeepAliveConfig::Lru {},
        SchedulerConfig::RoundRobin,
        arrivals.clone(),
    );
    assert_eq!(shortfall.kinds(), ["cold", "cold", "dropped"]);
    assert!(evicted(&shortfall).is_empty());
    let (whole, _) = setup(EvictionMode::WholeSize).run(
        KeepAliveConfig::Lru {},
        SchedulerConfig::RoundRobin,
        arrivals,
    );
    assert_eq!(whole.kinds(), ["cold", "cold", "dropped"]);
    assert_eq!(evicted(&whole), [0]);
}

#[test]
fn release_at_next_arrival_starts_the_keep_alive_then() {
    // f0 runs 1 s from 0 s (cold: 10 + 25 ms, so it ends at 1.036 s); f1 arrives at 5 s and f0
    // again at 13 s, with a 10 s keep-alive. Released at its end, f0's sandbox expires at
    // 11.036 s and 13 s is cold. Released at the next arrival (5 s, FaasCache), it is idle from
    // 5 s, expires at 15 s, and 13 s is warm.
    let keep = KeepAliveConfig::Ttl {
        idle: Duration::from_secs(10),
        refresh: Refresh::Reuse,
        lazy: false,
    };
    let arrivals = vec![inv(0, 0, SEC), inv(1, 5 * SEC, SEC), inv(0, 13 * SEC, SEC)];
    let setup = |release| Setup {
        release,
        ..Setup::new(catalog(&[(0, 100), (1, 100)]), 1, 1024)
    };
    let (at_end, _) =
        setup(ReleaseMode::AtEnd).run(keep.clone(), SchedulerConfig::RoundRobin, arrivals.clone());
    assert_eq!(at_end.kinds(), ["cold", "cold", "cold"]);
    assert_eq!(destroyed_at(&at_end)[0], (11 * SEC + 36 * MS, 0, "expired"));
    let (next, _) =
        setup(ReleaseMode::NextArrival).run(keep, SchedulerConfig::RoundRobin, arrivals);
    assert_eq!(next.kinds(), ["cold", "cold", "warm"]);
}
