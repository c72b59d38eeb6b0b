//! Real sandboxes on this host: the real backend's operations, end-to-end runs through the
//! command line, and cleanup after an interrupted or killed run.
//!
//! These need root and cgroups. In CI (`CI=true`) a host without them fails the tests; elsewhere
//! they are skipped with a printed reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use real::cgroup::CgroupFs;
use real::{RealBackend, RealConfig};
use sim::WorkerId;
use sim::backend::{Backend, Completion, CreateRequest, InvocationHandle, ZygoteId, ZygoteSpawn};
use sim::platform::SandboxId;
use sim::record::FailReason;
use workloads::FunctionId;
use workloads::packages::{Package, PackageCatalog, PackageId};

use crate::cli::TempDir;

/// The host's cgroups, or `None` (after saying why) when real sandboxes cannot run here. Panics
/// instead in CI, where these tests must run.
pub(crate) fn host() -> Option<Arc<dyn CgroupFs>> {
    let found = real::cgroup::detect().and_then(|fs| {
        real::cgroup::check_privileges(fs.as_ref())?;
        Ok(fs)
    });
    match found {
        Ok(fs) => Some(Arc::from(fs)),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "real-mode tests must run in CI, but cgroups are unusable: {e}"
            );
            eprintln!("skipped: real sandboxes cannot run here: {e}");
            None
        }
    }
}

pub(crate) fn runner() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lambdasim"))
}

fn config(work: &Path) -> RealConfig {
    RealConfig {
        runner: runner(),
        work_dir: work.join("work"),
        memory_scale: 1.0 / 8.0,
        pool: 2,
        ..RealConfig::default()
    }
}

/// One package: 1 MB of files, a 5 ms, 1 MB import.
fn catalog() -> PackageCatalog {
    PackageCatalog {
        packages: vec![Package {
            name: "pkg".into(),
            version: "1".into(),
            deps: Vec::new(),
            install_ms: 0.0,
            disk_bytes: 1 << 20,
            import_ms: 5.0,
            import_mb: 1.0,
            popularity: 1.0,
        }],
    }
}

const P0: PackageId = PackageId(0);

fn request<'a>(
    memory_mb: u32,
    install: &'a [PackageId],
    spawn: &'a [ZygoteSpawn],
    fork: Option<ZygoteId>,
    import: &'a [PackageId],
) -> CreateRequest<'a> {
    CreateRequest {
        function: FunctionId(0),
        worker: WorkerId(0),
        memory_mb,
        init: None,
        install,
        installed: &[],
        spawn,
        fork,
        import,
    }
}

/// The next completion within 20 s.
fn next(backend: &mut RealBackend) -> Completion {
    backend
        .recv(Duration::from_secs(20))
        .expect("a completion within 20 s")
}

/// Creates a sandbox without packages as `id`, waits until it is ready and returns its runner's
/// pid.
fn ready_sandbox(backend: &mut RealBackend, id: SandboxId) -> i32 {
    backend.create_sandbox(0, id, &request(128, &[], &[], None, &[]));
    assert!(matches!(next(backend), Completion::SandboxReady { .. }));
    backend.sandbox_pid(id).unwrap()
}

/// Sends `signal` to process `pid`.
pub(crate) fn signal(pid: i32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
}

/// The cgroup (in the memory hierarchy, or the unified one) a process is in.
fn cgroup_of(pid: i32, controller: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
            (names.split(',').any(|n| n == controller) || names.is_empty())
                .then(|| path.to_string())
        })
        .unwrap_or_default()
}

/// A process is gone, or a zombie waiting to be reaped.
pub(crate) fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

pub(crate) fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The freezer state of the cgroup a process is in (v1), or its `cgroup.freeze` (v2).
fn frozen(fs: &dyn CgroupFs, pid: i32) -> bool {
    if fs.kind() == "v1" {
        let group = cgroup_of(pid, "freezer");
        std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{group}/freezer.state"))
            .unwrap()
            .trim()
            == "FROZEN"
    } else {
        let group = cgroup_of(pid, "");
        std::fs::read_to_string(format!("/sys/fs/cgroup{group}/cgroup.freeze"))
            .unwrap()
            .trim()
            == "1"
    }
}

#[test]
fn a_real_sandbox_is_created_invoked_paused_unpaused_and_destroyed() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-life");
    let mut backend =
        RealBackend::new(fs.clone(), config(dir.path()), &[2048], &catalog()).unwrap();
    let run_group = backend.run_group().to_string();
    let s0 = SandboxId(0);
    backend.create_sandbox(0, s0, &request(128, &[P0], &[], None, &[P0]));
    let Completion::SandboxReady {
        create,
        install,
        import,
        ..
    } = next(&mut backend)
    else {
        panic!("expected the sandbox to be ready")
    };
    assert!(create > 0 && install > 0, "{create} {install}");
    // The import burned 5 ms of CPU and read the package's files.
    assert!(import >= 5_000, "import took {import} µs");
    assert!(dir.path().join("work/w0/pkg==1/.installed").exists());

    // The runner is in a pooled cgroup of worker 0, limited to 128 MB / 8 + 64 MB, in a PID
    // namespace of its own.
    let pid = backend.sandbox_pid(s0).unwrap();
    let group = cgroup_of(pid, "memory");
    assert!(
        group.starts_with(&format!("/{run_group}/w0/")),
        "{group} is not under {run_group}/w0"
    );
    if fs.kind() == "v1" {
        let limit = std::fs::read_to_string(format!(
            "/sys/fs/cgroup/memory{group}/memory.limit_in_bytes"
        ))
        .unwrap();
        assert_eq!(limit.trim().parse::<u64>().unwrap(), (16 + 64) << 20);
    }
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_ne!(ns(&pid.to_string()), ns("self"));

    // An invocation of 20 ms runs for at least that long.
    let asked = backend.now();
    backend.start_invocation(0, s0, InvocationHandle(7), 20_000);
    let Completion::InvocationDone {
        invocation,
        started,
        ..
    } = next(&mut backend)
    else {
        panic!("expected the invocation to end")
    };
    assert_eq!(invocation, InvocationHandle(7));
    assert!(backend.now() - started >= 20_000);
    assert!(started >= asked);

    // Pause freezes its cgroup, unpause thaws it, and it runs again.
    backend.pause(0, s0);
    wait_until("the sandbox is frozen", || frozen(fs.as_ref(), pid));
    backend.unpause(0, s0);
    wait_until("the sandbox is thawed", || !frozen(fs.as_ref(), pid));
    backend.start_invocation(0, s0, InvocationHandle(8), 1_000);
    assert!(matches!(
        next(&mut backend),
        Completion::InvocationDone {
            invocation: InvocationHandle(8),
            ..
        }
    ));

    // Destroy kills it; the end removes the run's cgroups and work directory.
    backend.destroy(0, s0);
    wait_until("the runner is gone", || gone(pid));
    backend.finish().unwrap();
    assert!(!fs.exists(&run_group), "{run_group} is left");
    assert!(!dir.path().join("work").exists());
}

#[test]
fn a_sandbox_forked_from_a_zygote_has_its_own_cgroup_and_outlives_the_zygote() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-zygote");
    let mut backend =
        RealBackend::new(fs.clone(), config(dir.path()), &[2048], &catalog()).unwrap();
    let run_group = backend.run_group().to_string();
    // The first sandbox creates zygote 0 (importing the package) and forks from it.
    let spawn = [ZygoteSpawn {
        zygote: ZygoteId(0),
        parent: None,
        import: vec![P0],
    }];
    backend.create_sandbox(
        0,
        SandboxId(0),
        &request(128, &[P0], &spawn, Some(ZygoteId(0)), &[]),
    );
    let Completion::SandboxReady { import: first, .. } = next(&mut backend) else {
        panic!("expected the sandbox to be ready")
    };
    assert!(
        first >= 5_000,
        "creating the zygote imported for {first} µs"
    );
    // The second forks from the same zygote and imports nothing.
    backend.create_sandbox(
        0,
        SandboxId(1),
        &request(128, &[], &[], Some(ZygoteId(0)), &[]),
    );
    let Completion::SandboxReady { import: second, .. } = next(&mut backend) else {
        panic!("expected the sandbox to be ready")
    };
    assert!(second < first, "{second} µs, then {first} µs");

    let a = backend.sandbox_pid(SandboxId(0)).unwrap();
    let b = backend.sandbox_pid(SandboxId(1)).unwrap();
    let (ga, gb) = (cgroup_of(a, "memory"), cgroup_of(b, "memory"));
    assert_ne!(ga, gb);
    assert!(ga.starts_with(&format!("/{run_group}/w0/")), "{ga}");
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).unwrap();
    assert_ne!(ns(a), ns(b));

    // Destroying the zygote leaves the sandboxes forked from it running.
    backend.destroy_zygote(0, WorkerId(0), ZygoteId(0));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!gone(a) && !gone(b));
    backend.start_invocation(0, SandboxId(1), InvocationHandle(1), 1_000);
    assert!(matches!(
        next(&mut backend),
        Completion::InvocationDone { .. }
    ));
    // A zygote destroyed right after a sandbox was asked to create and fork from it goes only
    // once that sandbox has forked.
    let spawn = [ZygoteSpawn {
        zygote: ZygoteId(1),
        parent: None,
        import: vec![P0],
    }];
    backend.create_sandbox(
        0,
        SandboxId(2),
        &request(128, &[], &spawn, Some(ZygoteId(1)), &[]),
    );
    backend.destroy_zygote(0, WorkerId(0), ZygoteId(1));
    assert!(matches!(
        next(&mut backend),
        Completion::SandboxReady {
            sandbox: SandboxId(2),
            ..
        }
    ));
    backend.finish().unwrap();
    assert!(!fs.exists(&run_group));
    wait_until("the forked sandboxes are gone", || gone(a) && gone(b));
}

#[test]
fn a_worker_limited_to_half_a_core_runs_a_busy_invocation_at_half_speed() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-worker-cpu");
    // A sandbox limit above the worker's is held to the worker's (cgroup v1 refuses more).
    let config = RealConfig {
        worker_cores: Some(0.5),
        cpu_cores: Some(2.0),
        touch_fraction: 0.0,
        ..config(dir.path())
    };
    let mut backend =
        RealBackend::new(fs.clone(), config, &[2048], &PackageCatalog::default()).unwrap();
    backend.create_sandbox(0, SandboxId(0), &request(128, &[], &[], None, &[]));
    assert!(matches!(
        next(&mut backend),
        Completion::SandboxReady { .. }
    ));
    // 200 ms of CPU time at half a core: 400 ms of wall-clock time.
    let t = Instant::now();
    backend.start_invocation(0, SandboxId(0), InvocationHandle(0), 200_000);
    assert!(matches!(
        next(&mut backend),
        Completion::InvocationDone { .. }
    ));
    let wall = t.elapsed();
    assert!(
        wall >= Duration::from_millis(360),
        "a busy invocation of 200 ms took {wall:?} on half a core"
    );
    backend.destroy(0, SandboxId(0));
    backend.finish().unwrap();
}

#[test]
fn a_sandbox_exceeding_its_memory_limit_is_killed_and_reported() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-oom");
    // The sandbox fills eight times its memory as its handler initializes, past its limit.
    let config = RealConfig {
        touch_fraction: 8.0,
        ..config(dir.path())
    };
    let mut backend =
        RealBackend::new(fs.clone(), config, &[2048], &PackageCatalog::default()).unwrap();
    backend.create_sandbox(0, SandboxId(0), &request(128, &[], &[], None, &[]));
    backend.start_invocation(0, SandboxId(0), InvocationHandle(0), 1_000);
    match next(&mut backend) {
        Completion::SandboxFailed { reason, .. } => assert_eq!(reason, FailReason::OutOfMemory),
        other => panic!("expected an out-of-memory failure, got {other:?}"),
    }
    backend.destroy(0, SandboxId(0));
    backend.finish().unwrap();
}

#[test]
fn a_sandbox_whose_process_dies_is_reported_crashed() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-crash");
    let mut backend = RealBackend::new(
        fs.clone(),
        config(dir.path()),
        &[2048],
        &PackageCatalog::default(),
    )
    .unwrap();
    backend.create_sandbox(0, SandboxId(0), &request(128, &[], &[], None, &[]));
    assert!(matches!(
        next(&mut backend),
        Completion::SandboxReady { .. }
    ));
    let pid = backend.sandbox_pid(SandboxId(0)).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    backend.start_invocation(0, SandboxId(0), InvocationHandle(0), 1_000);
    match next(&mut backend) {
        Completion::SandboxFailed { reason, .. } => {
            assert_eq!(reason, FailReason::SandboxCrashed)
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    // A sandbox created after it works as usual.
    backend.create_sandbox(0, SandboxId(1), &request(128, &[], &[], None, &[]));
    assert!(matches!(
        next(&mut backend),
        Completion::SandboxReady { .. }
    ));
    backend.destroy(0, SandboxId(0));
    backend.finish().unwrap();
}

/// A runner started fresh in a PID namespace of its own with the default view, ready.
fn fresh_runner() -> (nix::unistd::Pid, real::channel::Channel) {
    let (pid, channel) = real::spawn::spawn_runner(
        &runner(),
        real::spawn::Namespaces {
            pid: true,
            net: false,
        },
        &real::runner::View::default(),
    )
    .unwrap();
    channel.expect("ready").unwrap();
    (pid, channel)
}

#[test]
fn a_sandbox_sees_only_its_own_processes() {
    if host().is_none() {
        return;
    }
    let (pid, channel) = fresh_runner();
    channel.send("procs").unwrap();
    assert_eq!(channel.expect("procs").unwrap(), "procs\t1");
    drop(channel);
    wait_until("the runner exits", || gone(pid.as_raw()));
}

/// The confinement of a runner, from the host's side: its user, capability sets,
/// `no_new_privs` and seccomp mode as `/proc/PID/status` shows them.
pub(crate) fn confinement(pid: i32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let keys = [
        "Uid",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
    ];
    status
        .lines()
        .filter(|l| keys.iter().any(|k| l.starts_with(&format!("{k}:"))))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) const CONFINED: &str = "Uid: 65534, CapInh: 0000000000000000, CapPrm: 0000000000000000, \
     CapEff: 0000000000000000, CapBnd: 0000000000000000, CapAmb: 0000000000000000, \
     NoNewPrivs: 1, Seccomp: 2";

/// Every escape a confined sandbox tries fails; it writes to its scratch directory only.
fn check_escapes(channel: &real::channel::Channel, scratch: &Path, outside: &Path) {
    let write = |path: &Path| {
        channel.send(&format!("write\t{}", path.display())).unwrap();
        channel.expect("write").unwrap()
    };
    assert_eq!(write(&scratch.join("file")), "write\tok");
    let said = write(outside);
    assert!(said.contains("Read-only file system"), "{said}");
    // Other places of the host: its root, /tmp and the run's own work directory.
    for path in ["/lambdasim-escape", "/tmp/lambdasim-escape"] {
        let said = write(Path::new(path));
        assert!(
            said.starts_with("write\t") && said != "write\tok",
            "{path}: {said}"
        );
    }
    for what in [
        "remount", "mount", "setuid", "userns", "chroot", "ptrace", "module", "bpf", "cgroup",
        "net",
    ] {
        channel.send(&format!("try\t{what}")).unwrap();
        let said = channel.expect("try").unwrap();
        assert!(said.starts_with("try\trefused\t"), "{what}: {said}");
    }
    channel.send("procs").unwrap();
    assert_eq!(channel.expect("procs").unwrap(), "procs\t1");
}

#[test]
fn a_confined_sandbox_cannot_undo_its_confinement_or_reach_the_host() {
    // Fresh and forked from a zygote, each with a network namespace: the backend's view (a
    // read-only root by pivot_root, the scratch directory writable) and confinement (user
    // nobody, no capabilities, no_new_privs, seccomp, a cgroup namespace).
    if host().is_none() {
        return;
    }
    let dir = TempDir::new("real-confine");
    let (scratch, root) = (dir.path().join("scratch"), dir.path().join("root"));
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::chown(&scratch, Some(65534), Some(65534)).unwrap();
    let view = real::runner::View {
        scratch: Some(scratch.clone()),
        root: Some(root.clone()),
        net: true,
    };
    let outside = dir.path().join("outside");
    let confine = |channel: &real::channel::Channel| {
        channel.send("confine\t65534\t65534").unwrap();
        channel.expect("ok").unwrap();
    };
    let ns = real::spawn::Namespaces {
        pid: true,
        net: true,
    };
    let (pid, channel) = real::spawn::spawn_runner(&runner(), ns, &view).unwrap();
    channel.expect("ready").unwrap();
    confine(&channel);
    assert_eq!(confinement(pid.as_raw()), CONFINED);
    // Its cgroup namespace: its own cgroup is the root of what it sees.
    let ours = std::fs::read_link("/proc/self/ns/cgroup").unwrap();
    let its = std::fs::read_link(format!("/proc/{}/ns/cgroup", pid.as_raw())).unwrap();
    assert_ne!(ours, its);
    check_escapes(&channel, &scratch, &outside);
    drop(channel);
    wait_until("the runner exits", || gone(pid.as_raw()));

    // Forked from a zygote (which keeps the host's PID namespace and its privileges).
    let no_ns = real::spawn::Namespaces {
        pid: false,
        net: false,
    };
    let (zygote_pid, zygote) =
        real::spawn::spawn_runner(&runner(), no_ns, &real::runner::View::default()).unwrap();
    zygote.expect("ready").unwrap();
    let (pid, channel) = real::spawn::fork_from_zygote(&zygote, Some(&view)).unwrap();
    confine(&channel);
    assert_eq!(confinement(pid.as_raw()), CONFINED);
    check_escapes(&channel, &scratch, &outside);
    drop(channel);
    wait_until("the forked sandbox exits", || gone(pid.as_raw()));
    drop(zygote);
    wait_until("the zygote exits", || gone(zygote_pid.as_raw()));
    // The mounts were the sandboxes' own: nothing is mounted on the host's side.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&root.display().to_string()));
    assert!(!outside.exists());
}

#[test]
fn an_unconfined_sandbox_is_a_privileged_process_in_namespaces() {
    // What --unconfined gives, and the check above would catch: root, capabilities, no filter.
    if host().is_none() {
        return;
    }
    let (pid, channel) = fresh_runner();
    let seen = confinement(pid.as_raw());
    assert_ne!(seen, CONFINED);
    assert!(
        seen.starts_with("Uid: 0,") && seen.ends_with("Seccomp: 0"),
        "{seen}"
    );
    channel.send("try\tsetuid").unwrap();
    assert_eq!(channel.expect("try").unwrap(), "try\tdone\t");
    drop(channel);
    wait_until("the runner exits", || gone(pid.as_raw()));
}

/// A small scenario: OpenLambda's pause-and-evict keep-alive, packages with a dynamic zygote tree,
/// and memory to spare, so that no sandbox is killed or invocation dropped for want of it
/// whatever the host's speed.
fn scenario(dir: &Path, duration: &str) -> PathBuf {
    let path = dir.join("real.toml");
    std::fs::write(
        &path,
        format!(
            "seed = 3\n[cluster]\nworkers = 2\nmemory_mb = 16384\n\
             [policies]\nkeep_alive = {{ kind = \"openlambda\" }}\nscheduler = {{ kind = \"least-loaded\" }}\n\
             [workload]\nkind = \"synthetic\"\nfunctions = 6\napps = 3\nduration = \"{duration}\"\nrate = 3.0\n\
             exec_max = \"2s\"\n\
             [packages]\ncatalog = {{ kind = \"synthetic\", packages = 10 }}\n\
             import_cache = {{ kind = \"dynamic\", capacity_mb = 256 }}\n"
        ),
    )
    .unwrap();
    path
}

/// Runs `lambdasim real --config CONFIG ARGS --json` to its end; returns the driver's pid and
/// the summary, after checking that it succeeded.
fn real_run(config: &Path, args: &[&str]) -> (u32, serde_json::Value) {
    let child = Command::new(runner())
        .args(["real", "--config"])
        .arg(config)
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, serde_json::from_slice(&out.stdout).unwrap())
}

/// Whether any cgroup of the run of driver `pid` is left.
pub(crate) fn leftovers(fs: &dyn CgroupFs, pid: u32) -> Vec<String> {
    fs.children("lambdasim")
        .unwrap_or_default()
        .into_iter()
        .filter(|g| real::run_id::pid_of(g) == Some(pid))
        .collect()
}

#[test]
fn a_real_run_replays_a_scenario_and_leaves_nothing_behind() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-run");
    let path = scenario(dir.path(), "30s");
    let (pid, summary) = real_run(&path, &["--time-scale", "10", "--duration-scale", "10"]);
    let inv = &summary["invocations"];
    assert!(inv["total"].as_u64().unwrap() > 30, "{inv}");
    assert_eq!(inv["completed"], inv["total"], "{inv}");
    let kinds = &summary["starts"]["by_kind"];
    // Sandboxes were forked from zygotes, and paused ones unpaused.
    assert!(kinds["zygote-fork"].as_u64().unwrap() > 0, "{kinds}");
    assert!(kinds["unpause"].as_u64().unwrap() > 0, "{kinds}");
    assert!(summary["packages"]["import_hits"].as_u64().unwrap() > 0);
    assert!(leftovers(fs.as_ref(), pid).is_empty());
}

#[test]
fn a_real_run_records_sandboxes_killed_for_memory_and_goes_on() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-oom-run");
    let path = dir.path().join("oom.toml");
    std::fs::write(
        &path,
        "[cluster]\nworkers = 1\nmemory_mb = 2048\n[policies]\nkeep_alive = { kind = \"ttl\", idle = \"1m\" }\n\
         [workload]\nkind = \"synthetic\"\nfunctions = 2\napps = 1\nduration = \"10s\"\nrate = 2.0\nexec_max = \"10ms\"\n",
    )
    .unwrap();
    // Every sandbox fills 8 times its memory as it initializes: the kernel kills each one.
    let (pid, summary) = real_run(
        &path,
        &["--time-scale", "5", "--touch", "8", "--memory-scale", "1"],
    );
    let inv = &summary["invocations"];
    assert!(inv["total"].as_u64().unwrap() > 5, "{inv}");
    assert_eq!(inv["failed"], inv["total"], "{inv}");
    assert_eq!(
        inv["failed_by_reason"]["out-of-memory"], inv["total"],
        "{inv}"
    );
    assert_eq!(
        summary["sandboxes"]["destroyed_by_reason"]["crashed"], inv["total"],
        "{summary}"
    );
    assert!(leftovers(fs.as_ref(), pid).is_empty());
}

/// Starts a long real run and waits until it has sandboxes; returns the driver and the pids
/// in its cgroups.
fn start_long_run(fs: &dyn CgroupFs, dir: &Path) -> (std::process::Child, Vec<u32>) {
    start_run(fs, &scenario(dir, "10m"))
}

/// Starts the real run of scenario file `path` (its errors going to `path` with extension
/// `stderr`) and waits until it has sandboxes; returns the driver and the pids in its cgroups.
fn start_run(fs: &dyn CgroupFs, path: &Path) -> (std::process::Child, Vec<u32>) {
    let child = Command::new(runner())
        .args(["real", "--config"])
        .arg(path)
        .args(["--time-scale", "1", "--duration-scale", "1"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(path.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut procs = Vec::new();
    wait_until("the run has sandboxes", || {
        procs = run_procs(fs, pid);
        !procs.is_empty()
    });
    (child, procs)
}

/// The processes in the cgroups of the runs of driver `pid` (two workers).
pub(crate) fn run_procs(fs: &dyn CgroupFs, pid: u32) -> Vec<u32> {
    leftovers(fs, pid)
        .iter()
        .flat_map(|run| {
            let run = format!("lambdasim/{run}");
            fs.children(&format!("{run}/w0"))
                .unwrap_or_default()
                .into_iter()
                .chain(fs.children(&format!("{run}/w1")).unwrap_or_default())
                .flat_map(|g| {
                    let w0 = format!("{run}/w0/{g}");
                    let w1 = format!("{run}/w1/{g}");
                    let mut p = fs.procs(&w0).unwrap_or_default();
                    p.extend(fs.procs(&w1).unwrap_or_default());
                    p
                })
                .collect::<Vec<u32>>()
        })
        .collect()
}

#[test]
fn ctrl_c_sigterm_and_sighup_stop_a_real_run_and_remove_everything() {
    // Each signal ends the run as a shell reports a process it killed (128 + the signal),
    // after removing every sandbox and cgroup, with the summary of what had ended, marked.
    use nix::sys::signal::Signal;
    let Some(fs) = host() else { return };
    for (signal, code) in [
        (Signal::SIGINT, 130),
        (Signal::SIGTERM, 143),
        (Signal::SIGHUP, 129),
    ] {
        let dir = TempDir::new("real-signal");
        let (child, procs) = start_long_run(fs.as_ref(), dir.path());
        let pid = child.id();
        self::signal(pid as i32, signal);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{signal}");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains(&format!("INTERRUPTED by {}", signal.as_str()))
                && printed.contains("Invocations"),
            "{signal}: {printed}"
        );
        assert!(leftovers(fs.as_ref(), pid).is_empty(), "{signal}");
        for p in procs {
            wait_until("the run's sandboxes are gone", || gone(p as i32));
        }
    }
}

#[test]
fn cleanup_removes_what_a_killed_run_left() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-kill");
    let (mut child, procs) = start_long_run(fs.as_ref(), dir.path());
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    // The driver died without cleaning up: its cgroups and sandboxes are still there.
    assert!(!leftovers(fs.as_ref(), pid).is_empty());
    let out = Command::new(runner())
        .args(["real", "cleanup"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("removed "));
    assert!(leftovers(fs.as_ref(), pid).is_empty());
    for p in procs {
        wait_until("the killed run's sandboxes are gone", || gone(p as i32));
    }
    // Nor its work directory or lock file.
    let prefix = format!("lambdasim-real-{pid}-");
    let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn cleanup_all_leaves_a_live_run_alone() {
    // A run is live while its driver holds its lock: `cleanup --all` leaves it running and says
    // so. (`--force` would end every live run, this test process's own backends included, so it
    // is not run here.) The driver is stopped before any assertion, so that a failure leaves no
    // run behind.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-live");
    let (mut child, _procs) = start_long_run(fs.as_ref(), dir.path());
    let pid = child.id();
    let out = Command::new(runner())
        .args(["real", "cleanup", "--all"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let kept = !leftovers(fs.as_ref(), pid).is_empty();
    let running = child.try_wait().unwrap().is_none();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    child.wait().unwrap();
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("live run(s) alone") && said.contains(&format!("{pid}-")),
        "{said}"
    );
    assert!(kept && running, "--all removed a live run");
    assert!(leftovers(fs.as_ref(), pid).is_empty());
}

/// Runs lambdasim with `args`, then each option with its path, to the end; returns its pid (to
/// look for cgroups it left) and what it printed.
fn lambdasim_child(args: &[&str], paths: &[(&str, &Path)]) -> (u32, std::process::Output) {
    let mut command = std::process::Command::new(runner());
    command.args(args);
    for (option, path) in paths {
        command.arg(option).arg(path);
    }
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    (pid, child.wait_with_output().unwrap())
}

#[test]
fn calibration_writes_a_profile_that_runs_simulate_with() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("calibrate");
    let profile = dir.path().join("host.toml");
    let (pid, out) = lambdasim_child(
        &["calibrate", "--trials", "5", "--quantiles", "11"],
        &[("--out", &profile)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&profile).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    // Every cost of the model is a distribution of 11 quantiles, but init.
    for cost in ["create", "fork", "dispatch", "pause", "unpause"] {
        let q = table["costs"][cost]["quantiles_us"].as_array().unwrap();
        assert_eq!(q.len(), 11, "{cost}");
        assert!(q[0].as_integer().unwrap() > 0, "{cost}: {q:?}");
    }
    assert_eq!(table["costs"]["init"].as_str(), Some("0us"));
    assert!(table["measured"]["destroy"]["quantiles_us"].is_array());
    // The simulator takes it: creation draws between the measured minimum and maximum.
    let run = std::process::Command::new(runner())
        .args(["run", "--duration", "10m", "--json", "--costs"])
        .arg(&profile)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let q = table["costs"]["create"]["quantiles_us"].as_array().unwrap();
    let (lo, hi) = (
        q[0].as_integer().unwrap() as f64 / 1000.0,
        q[10].as_integer().unwrap() as f64 / 1000.0,
    );
    let p50 = summary["phases_ms"]["create"]["cold_p50"].as_f64().unwrap();
    assert!(lo * 0.999 <= p50 && p50 <= hi * 1.001, "{lo} {p50} {hi}");
    assert!(leftovers(fs.as_ref(), pid).is_empty());
}

#[test]
fn a_small_validation_compares_real_and_simulated_runs() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("validate");
    let profile = dir.path().join("host.toml");
    // Calibrated with the settings the validation runs with.
    let settings = ["--exec", "sleep", "--touch", "0.1"];
    let (_, out) = lambdasim_child(
        &[&["calibrate", "--trials", "40"][..], &settings].concat(),
        &[("--out", &profile)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = dir.path().join("report");
    let (pid, out) = lambdasim_child(
        &[
            "validate",
            "--workers",
            "2",
            "--memory-mb",
            "2048",
            "--functions",
            "40",
            "--apps",
            "20",
            "--duration",
            "1m",
            "--rate",
            "8",
            // About 470 invocations, durations divided by 60: the median is a warm invocation
            // of some 40 ms among many close ones. With fewer invocations or longer durations
            // it can fall in the gap between warm and cold latencies, where a cold start's
            // creation time, which on cgroup v1 hosts depends on the timing of other creations,
            // decides it (BENCHMARKS.md, "Validation").
            "--time-scale",
            "6",
            "--duration-scale",
            "60",
            "--exec",
            "sleep",
            "--touch",
            "0.1",
            "--keep-alive",
            "ttl,idle=5s",
            "--json",
        ],
        &[("--costs", &profile), ("--out", &report)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    let rows = v["rows"].as_array().unwrap();
    let row = |metric: &str| {
        rows.iter()
            .find(|r| r["metric"] == metric)
            .unwrap_or_else(|| panic!("no {metric} row: {stdout}"))
            .clone()
    };
    // Both runs saw the same invocations.
    let invocations = row("invocations");
    assert_eq!(invocations["real"], invocations["simulated"]);
    assert!(
        invocations["real"].as_f64().unwrap() > 150.0,
        "{invocations}"
    );
    // Each verdict follows from its numbers and the default tolerances, and the exit code from
    // the verdicts (4 when one fails).
    let num = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();
    let verdict = |ok: bool| if ok { "pass" } else { "fail" };
    let cold = row("cold-start ratio %");
    let cold_ok = (num(&cold, "simulated") - num(&cold, "real")).abs() <= 2.0;
    assert_eq!(cold["verdict"], verdict(cold_ok), "{cold}");
    let mut all_ok = cold_ok;
    for (metric, tolerance) in [("latency p50 ms", 10.0), ("latency p99 ms", 25.0)] {
        let r = row(metric);
        let ok = (num(&r, "simulated") / num(&r, "real") - 1.0).abs() * 100.0 <= tolerance;
        assert_eq!(r["verdict"], verdict(ok), "{r}");
        all_ok &= ok;
    }
    assert_eq!(out.status.code(), Some(if all_ok { 0 } else { 4 }));
    // The distances and the agreement are reported (not checked by default): the agreement
    // counts every invocation matched in both runs, less those that differ.
    for metric in [
        "latency KS distance",
        "latency W1 distance ms",
        "startup delay KS distance",
        "startup delay W1 distance ms",
    ] {
        assert_eq!(row(metric)["verdict"], "info", "{metric}");
    }
    let agreement = row("start kind agreement %");
    assert_eq!(agreement["real"], invocations["real"], "{agreement}");
    assert_eq!(
        num(&agreement, "real") - num(&agreement, "simulated"),
        v["differing"].as_f64().unwrap(),
        "{agreement}"
    );
    // With the host's profile, every verdict passes.
    for metric in ["cold-start ratio %", "latency p50 ms", "latency p99 ms"] {
        assert_eq!(row(metric)["verdict"], "pass", "{stdout}");
    }
    assert_eq!(out.status.code(), Some(0));
    for f in [
        "validation.md",
        "validation.json",
        "differences.csv",
        "latency-cdf.png",
        "real-records.csv",
        "sim-records.csv",
    ] {
        assert!(report.join(f).exists(), "{f}");
    }
    // Both runs' records: a header and a line per invocation.
    for f in ["real-records.csv", "sim-records.csv"] {
        let lines = std::fs::read_to_string(report.join(f))
            .unwrap()
            .lines()
            .count();
        assert_eq!(
            lines as f64,
            invocations["real"].as_f64().unwrap() + 1.0,
            "{f}"
        );
    }
    assert!(leftovers(fs.as_ref(), pid).is_empty());
}

#[test]
fn a_two_cell_matrix_judges_each_cell_reports_them_and_keeps_them_for_the_next_run() {
    let Some(fs) = host() else { return };
    let dir = TempDir::new("matrix");
    std::fs::write(
        dir.path().join("base.toml"),
        "seed = 3\n[cluster]\nworkers = 2\nmemory_mb = 2048\n[workload]\nkind = \"synthetic\"\n\
         functions = 20\napps = 10\nduration = \"20s\"\nrate = 8.0\nexec_max = \"8s\"\n\
         [real]\ntime_scale = 4.0\nexec = \"sleep\"\ntouch = 0.1\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.toml");
    std::fs::write(
        &plan,
        "base = \"base.toml\"\n[grid]\n\"policies.keep_alive\" = [{ kind = \"ttl\", idle = \"2s\" }, { kind = \"lru\" }]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = || {
        lambdasim_child(
            &["validate", "--json"],
            &[("--matrix", &plan), ("--out", &out)],
        )
    };
    let started = std::time::Instant::now();
    let (pid, first) = run();
    let first_took = started.elapsed();
    let stdout = String::from_utf8_lossy(&first.stdout);
    let cells: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&first.stderr)));
    let cells = cells.as_array().unwrap();
    assert_eq!(cells.len(), 2, "{stdout}");
    let mut any_fail = false;
    for (i, c) in cells.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert!(c["invocations"].as_u64().unwrap() > 50, "{c}");
        assert_eq!(c["time_scale"], 4.0);
        assert_eq!(c["exec"], "sleep");
        // The verdict follows from the rows and the host's saturation.
        let failed_rows = c["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verdict"] == "fail")
            .count();
        let reasons = c["saturation"]["reasons"].as_array().unwrap().len();
        let expected = if reasons > 0 {
            "invalid"
        } else if failed_rows > 0 {
            "fail"
        } else {
            "pass"
        };
        assert_eq!(c["verdict"], expected, "{c}");
        any_fail |= expected == "fail";
        // The goals are the tolerances: 1 point of cold starts, KS checked.
        let row = |m: &str| {
            c["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["metric"] == m)
                .unwrap()
                .clone()
        };
        assert_eq!(row("cold-start ratio %")["tolerance"], "±1 pp");
        assert_ne!(row("latency KS distance")["verdict"], "info");
        assert!(
            c["latency_cdf"]["real"].as_array().unwrap().len() > 2,
            "{c}"
        );
        assert!(c["saturation"]["cpus"].as_u64().unwrap() >= 1, "{c}");
        for f in [
            "cell.json",
            "real-records.csv",
            "sim-records.csv",
            "differences.csv",
        ] {
            assert!(out.join(format!("cells/{i:03}/{f}")).exists(), "{f}");
        }
    }
    assert_eq!(first.status.code(), Some(if any_fail { 4 } else { 0 }));
    let html = std::fs::read_to_string(out.join("validation.html")).unwrap();
    assert_eq!(html.matches("<section id=\"cell-").count(), 2);
    let md = std::fs::read_to_string(out.join("validation.md")).unwrap();
    assert!(md.contains("## Heat map"), "{md}");
    assert!(leftovers(fs.as_ref(), pid).is_empty());
    // Run again: both cells are kept, nothing runs, the report is the same.
    let json = std::fs::read_to_string(out.join("matrix.json")).unwrap();
    let started = std::time::Instant::now();
    let (_, second) = run();
    assert!(
        started.elapsed() < first_took / 4,
        "{:?} {first_took:?}",
        started.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("2 cell(s) kept"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(second.status.code(), first.status.code());
    assert_eq!(
        std::fs::read_to_string(out.join("matrix.json")).unwrap(),
        json
    );
}

#[test]
fn favordynmods_is_held_in_a_private_mount_namespace_and_goes_with_its_holder() {
    let Some(_fs) = host() else { return };
    match real::dynmods::favor(true) {
        real::dynmods::Favor::Held(holder) => {
            let pid = holder.pid();
            // The hierarchy is mounted where the holder sees it, not where the host does.
            let theirs = std::fs::read_to_string(format!("/proc/{pid}/mounts")).unwrap();
            assert!(theirs.contains("lambdasim-dynmods"), "{theirs}");
            let ours = std::fs::read_to_string("/proc/self/mounts").unwrap();
            assert!(!ours.contains("lambdasim-dynmods"), "{ours}");
            drop(holder);
            assert!(gone(pid), "the holder outlived its guard");
        }
        real::dynmods::Favor::Host => eprintln!("the host mounts a hierarchy with favordynmods"),
        real::dynmods::Favor::Off(why) => eprintln!("skipped: favordynmods is off: {why}"),
    }
}

#[test]
fn a_backend_whose_set_up_fails_leaves_no_cgroup_behind() {
    // The work directory cannot be made (a file is in the way), after the run's cgroups and
    // their pools were: the backend fails and removes them. Nine workers mark its groups
    // (`w8`), which no other test makes, since tests share this process's id.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-setup-fails");
    std::fs::write(dir.path().join("blocker"), "").unwrap();
    let config = RealConfig {
        work_dir: dir.path().join("blocker").join("work"),
        ..config(dir.path())
    };
    let failed = RealBackend::new(fs.clone(), config, &[256; 9], &catalog());
    assert!(failed.is_err());
    let pid = std::process::id();
    for run in leftovers(fs.as_ref(), pid) {
        let children = fs.children(&format!("lambdasim/{run}")).unwrap_or_default();
        assert!(!children.iter().any(|c| c == "w8"), "{run}: {children:?}");
    }
}

#[test]
fn a_sandbox_that_dies_while_idle_is_reported_crashed() {
    // Its thread waits for commands, none comes while it is idle: it must still notice the
    // runner's death (the channel's other end closes) and report it, so that the controller
    // counts a crash, not a shutdown at the end.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-idle-crash");
    let mut backend =
        RealBackend::new(fs.clone(), config(dir.path()), &[2048], &catalog()).unwrap();
    let s0 = SandboxId(0);
    let pid = ready_sandbox(&mut backend, s0);
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    let Completion::SandboxFailed { sandbox, reason } = next(&mut backend) else {
        panic!("expected the idle sandbox's death to be reported")
    };
    assert_eq!(sandbox, s0);
    assert_eq!(reason, FailReason::SandboxCrashed);
    backend.destroy(0, s0);
    backend.finish().unwrap();
}

#[test]
fn an_invocation_that_never_answers_times_out_and_its_sandbox_is_killed() {
    // The runner is stopped (SIGSTOP) as it starts a 50 ms invocation: without a watchdog the
    // run would wait forever. With 1 s of slack, the invocation fails as `timeout` after about
    // 1.05 s and the sandbox's processes are gone.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-timeout");
    let config = RealConfig {
        invocation_timeout: Duration::from_secs(1),
        ..config(dir.path())
    };
    let mut backend = RealBackend::new(fs.clone(), config, &[2048], &catalog()).unwrap();
    let s0 = SandboxId(0);
    let pid = ready_sandbox(&mut backend, s0);
    signal(pid, nix::sys::signal::Signal::SIGSTOP);
    let asked = Instant::now();
    backend.start_invocation(0, s0, InvocationHandle(3), 50_000);
    let Completion::SandboxFailed { sandbox, reason } = next(&mut backend) else {
        panic!("expected the invocation to time out")
    };
    assert_eq!((sandbox, reason), (s0, FailReason::Timeout));
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    wait_until("the stopped runner is killed", || gone(pid));
    backend.destroy(0, s0);
    backend.finish().unwrap();
}

#[test]
fn sandboxes_and_zygotes_die_with_a_killed_driver() {
    // Invocations spin for 100 s or more. Killed (SIGKILL, no cleanup of its own), the driver
    // takes every runner with it before anyone runs cleanup, which then finds only cgroups:
    // those it started itself (parent-death signal) and, with packages, the zygotes and the
    // sandboxes forked from them, whose parent is not the driver's thread (each stops when its
    // socket to the driver closes, even mid-invocation). Every sandbox of the run, started fresh
    // or forked, is confined; zygotes are not.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-orphans");
    let base = "seed = 3\n[cluster]\nworkers = 2\nmemory_mb = 16384\n\
         [workload]\nkind = \"synthetic\"\nfunctions = 6\napps = 3\nduration = \"10m\"\nrate = 3.0\n\
         exec_min = \"100s\"\nexec_max = \"120s\"\n";
    let packages = "[packages]\ncatalog = { kind = \"synthetic\", packages = 10 }\n\
         import_cache = { kind = \"dynamic\", capacity_mb = 256 }\n";
    for (name, text) in [
        ("plain", base.to_string()),
        ("zygotes", format!("{base}{packages}")),
    ] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let (mut child, _) = start_run(fs.as_ref(), &path);
        let pid = child.id();
        // Let a few invocations start spinning.
        std::thread::sleep(Duration::from_millis(1500));
        let procs = run_procs(fs.as_ref(), pid);
        let ours = std::fs::read_link("/proc/self/ns/pid").unwrap();
        let (mut sandboxes, mut zygotes) = (0, 0);
        for &p in &procs {
            let Ok(ns) = std::fs::read_link(format!("/proc/{p}/ns/pid")) else {
                continue;
            };
            let seen = confinement(p as i32);
            if ns == ours {
                zygotes += 1;
                assert!(seen.starts_with("Uid: 0,"), "{name}: zygote {p}: {seen}");
            } else if !gone(p as i32) {
                sandboxes += 1;
                assert_eq!(seen, CONFINED, "{name}: sandbox {p}");
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(sandboxes > 0, "{name}: {procs:?}");
        assert_eq!(zygotes > 0, name == "zygotes", "{name}: {procs:?}");
        for p in procs {
            wait_until("an orphaned runner dies with its driver", || gone(p as i32));
        }
        let out = Command::new(runner())
            .args(["real", "cleanup"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(leftovers(fs.as_ref(), pid).is_empty());
    }
}

#[test]
fn net_gives_sandboxes_forked_from_a_zygote_their_own_network_namespace() {
    // With `net`, a sandbox forked from a zygote has a network namespace of its own, as one
    // started fresh has: neither the host's nor its sibling's.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-zygote-net");
    let config = RealConfig {
        net: true,
        ..config(dir.path())
    };
    let mut backend = RealBackend::new(fs.clone(), config, &[2048], &catalog()).unwrap();
    let spawn = [ZygoteSpawn {
        zygote: ZygoteId(0),
        parent: None,
        import: vec![P0],
    }];
    backend.create_sandbox(
        0,
        SandboxId(0),
        &request(128, &[P0], &spawn, Some(ZygoteId(0)), &[]),
    );
    assert!(matches!(
        next(&mut backend),
        Completion::SandboxReady { .. }
    ));
    backend.create_sandbox(
        0,
        SandboxId(1),
        &request(128, &[], &[], Some(ZygoteId(0)), &[]),
    );
    assert!(matches!(
        next(&mut backend),
        Completion::SandboxReady { .. }
    ));
    let net = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).unwrap();
    let a = net(&backend.sandbox_pid(SandboxId(0)).unwrap().to_string());
    let b = net(&backend.sandbox_pid(SandboxId(1)).unwrap().to_string());
    assert_ne!(a, net("self"));
    assert_ne!(b, net("self"));
    assert_ne!(a, b);
    backend.finish().unwrap();
}

#[test]
fn cleanup_looks_in_every_cgroup_layout_the_host_mounts() {
    // A run may have used v1 or v2 (LAMBDASIM_CGROUP), and a host may mount both: what a dead
    // run left in either is removed. Its name says its driver was PID 1 (of a PID namespace of
    // its own): here PID 1 is alive, but the run has no lock, so it is dead.
    if host().is_none() {
        return;
    }
    let layouts = real::cgroup::every_layout().unwrap();
    let run = "lambdasim/1-00000000deadbeef";
    for fs in &layouts {
        fs.create(&format!("{run}/w0/p0")).unwrap();
    }
    let out = Command::new(runner())
        .args(["real", "cleanup"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for fs in &layouts {
        assert!(!fs.exists(run), "{}: {run} is left", fs.kind());
    }
    eprintln!("cleaned {} layout(s)", layouts.len());
}

#[test]
fn a_run_whose_cgroups_vanish_stops_with_an_error_and_removes_the_rest() {
    // Another process removes a worker's cgroup (and the sandboxes in it) under a live run: the
    // run does not make it again without its limits and go on; it stops, prints what ended,
    // names the group, exits 3 and removes everything else.
    let Some(fs) = host() else { return };
    let dir = TempDir::new("real-vanish");
    let (child, _procs) = start_long_run(fs.as_ref(), dir.path());
    let pid = child.id();
    let run = leftovers(fs.as_ref(), pid).pop().unwrap();
    let group = format!("lambdasim/{run}/w0");
    real::cgroup::remove_tree(fs.as_ref(), &group).unwrap();
    let asked = Instant::now();
    let out = child.wait_with_output().unwrap();
    let said = std::fs::read_to_string(dir.path().join("real.stderr")).unwrap();
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        said.contains(&format!("cgroup {group} vanished")) && said.contains("the run stopped"),
        "{said}"
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("INTERRUPTED by a fault of the host") && printed.contains("Invocations"),
        "{printed}"
    );
    assert!(leftovers(fs.as_ref(), pid).is_empty());
}

/// A Python zygote (the runtime of users' handlers) forks a sandbox into namespaces of its own:
/// it sees its own processes only, its own host name, the host's root read-only and its scratch
/// directory writable, and it keeps the modules the zygote imported.
#[test]
fn a_python_zygote_forks_sandboxes_into_namespaces_of_their_own() {
    use real::python::{Answer, CallKind, PythonProcess, call, import, interpreter, load_handler};
    if host().is_none() {
        return;
    }
    let python = interpreter(None).expect("real-mode tests need python3 (.ci/run installs it)");
    let dir = TempDir::new("python-zygote");
    let scratch = dir.path().join("scratch");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let handler = dir.path().join("probe/f.py");
    std::fs::create_dir_all(handler.parent().unwrap()).unwrap();
    std::fs::write(
        &handler,
        "import os, socket, sys\n\
         def writable(path):\n    try:\n        open(path, 'w').write('x')\n        os.remove(path)\n        return True\n    except OSError:\n        return False\n\
         def f(event):\n    return {'pid': os.getpid(), 'procs': sum(p.isdigit() for p in os.listdir('/proc')),\n\
         \x20           'host': socket.gethostname(), 'cwd': os.getcwd(), 'json_inherited': 'json' in sys.modules,\n\
         \x20           'scratch': writable('x'), 'root': writable(event)}\n",
    )
    .unwrap();
    let zygote = PythonProcess::start(&python, Duration::from_secs(30)).unwrap();
    zygote.channel.accept_credentials().unwrap();
    assert!(matches!(
        import(&zygote.channel, "json").unwrap(),
        Answer::Done(_)
    ));
    let view = real::runner::View {
        scratch: Some(scratch.clone()),
        root: Some(root.clone()),
        net: true,
    };
    let (pid, sandbox) = real::spawn::fork_from_zygote(&zygote.channel, Some(&view)).unwrap();
    assert!(matches!(
        load_handler(&sandbox, &handler).unwrap(),
        Answer::Done(_)
    ));
    let outside = dir.path().join("outside");
    let r = call(
        &sandbox,
        1,
        format!("{:?}", outside.display().to_string()).as_bytes(),
    )
    .unwrap();
    assert_eq!(
        r.kind,
        CallKind::Ok,
        "{}",
        String::from_utf8_lossy(&r.output)
    );
    let v: serde_json::Value = serde_json::from_slice(&r.output).unwrap();
    assert_eq!(v["pid"], 1, "{v}");
    assert_eq!(v["procs"], 1, "{v}");
    assert_eq!(v["host"], "lambdasim-sandbox");
    assert_eq!(v["cwd"], scratch.display().to_string());
    assert_eq!(v["json_inherited"], true);
    assert_eq!(v["scratch"], true, "{v}");
    assert_eq!(
        v["root"], false,
        "the host's root is writable from the sandbox: {v}"
    );
    assert!(!outside.exists());
    drop(sandbox);
    wait_until("the sandbox exits", || gone(pid.as_raw()));
    // The zygote goes on: it forks again.
    let (pid2, again) = real::spawn::fork_from_zygote(&zygote.channel, Some(&view)).unwrap();
    again.send("procs").unwrap();
    assert_eq!(again.expect("procs").unwrap(), "procs\t1");
    drop(again);
    wait_until("the second sandbox exits", || gone(pid2.as_raw()));
}

/// A sandbox started fresh becomes a Python runner in place: its namespaces and view stay.
#[test]
fn a_fresh_sandbox_becomes_a_python_runner_in_its_namespaces() {
    use real::python::{Answer, call, interpreter, load_handler};
    if host().is_none() {
        return;
    }
    let python = interpreter(None).expect("real-mode tests need python3 (.ci/run installs it)");
    let dir = TempDir::new("python-exec");
    let handler = dir.path().join("count/f.py");
    std::fs::create_dir_all(handler.parent().unwrap()).unwrap();
    std::fs::write(
        &handler,
        "import os\ndef f(event):\n    return [os.getpid(), len([p for p in os.listdir('/proc') if p.isdigit()]), event]\n",
    )
    .unwrap();
    let (pid, channel) = fresh_runner();
    channel
        .send(&format!("exec\tpython\t{}", python.display()))
        .unwrap();
    channel.expect("ready").unwrap();
    assert!(matches!(
        load_handler(&channel, &handler).unwrap(),
        Answer::Done(_)
    ));
    let r = call(&channel, 1, b"\"hi\"").unwrap();
    assert_eq!(r.output, b"[1, 1, \"hi\"]");
    // A missing interpreter is an answer, not a dead runner.
    let (pid2, other) = fresh_runner();
    other.send("exec\tpython\t/nonexistent/python3").unwrap();
    let e = other.expect("ready").unwrap_err().to_string();
    assert!(e.contains("cannot run /nonexistent/python3"), "{e}");
    drop((channel, other));
    wait_until("the runners exit", || {
        gone(pid.as_raw()) && gone(pid2.as_raw())
    });
}

/// One HTTP/1.1 request on a new connection; the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// The interpreter serve tests run handlers with (`LAMBDASIM_TEST_PYTHON`, else python3 on the
/// PATH), and whether sandboxes can run it confined (its user must reach it).
fn test_python() -> (PathBuf, bool) {
    let given = std::env::var_os("LAMBDASIM_TEST_PYTHON").map(PathBuf::from);
    let python = real::python::interpreter(given.as_deref()).expect("real-mode tests need python3");
    let confined = real::python::reachable_by_others(&python, true).is_ok();
    if !confined {
        eprintln!(
            "{} is not reachable by other users: sandboxes run unconfined",
            python.display()
        );
    }
    (python, confined)
}

/// `real serve` of `registry` with `python`, on any free port, writing its records and summary
/// into `out`, unconfined unless `confined`, with `extra` flags; its standard output piped.
fn serve_command(
    registry: &Path,
    python: &Path,
    confined: bool,
    out: &Path,
    extra: &[&str],
) -> Command {
    let mut cmd = Command::new(runner());
    cmd.args(["real", "serve", "--listen", "127.0.0.1:0", "--registry"])
        .arg(registry)
        .arg("--python")
        .arg(python)
        .args(["--json", "--records", "--out"])
        .arg(out)
        .args(extra)
        .args(if confined {
            &[][..]
        } else {
            &["--unconfined"][..]
        })
        .stdout(Stdio::piped());
    cmd
}

/// Writes a registry into `dir/registry` (each file by its path in it, such as `hello/f.py`);
/// with `open`, makes `dir` and everything in the registry readable by the sandboxes' user.
fn write_registry(
    dir: &Path,
    files: &[(impl AsRef<Path>, impl AsRef<[u8]>)],
    open: bool,
) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let registry = dir.join("registry");
    for (path, text) in files {
        let path = registry.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    if open {
        let mode = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        mode(dir, 0o755);
        mode(&registry, 0o755);
        for function in std::fs::read_dir(&registry).unwrap() {
            let function = function.unwrap().path();
            mode(&function, 0o755);
            for file in std::fs::read_dir(&function).unwrap() {
                mode(&file.unwrap().path(), 0o644);
            }
        }
    }
    registry
}

/// A running `real serve`; dropped without [`Serving::stop`] (a failed assertion), it is stopped
/// as Ctrl-C does, and killed if it does not end within 10 s, so that no server outlives its test.
struct Serving {
    child: Option<std::process::Child>,
    addr: String,
}

impl Serving {
    /// Starts `real serve` (its standard error piped) and reads the address it listens on.
    /// With `drain`, what it writes to standard error later goes to the test's; without, the
    /// pipe is closed, as the log of a server whose terminal went away.
    fn start(cmd: &mut Command, drain: bool) -> Serving {
        use std::io::BufRead;
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        if drain {
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    eprintln!("{line}");
                }
            });
        }
        Serving {
            child: Some(child),
            addr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Stops the server as Ctrl-C does; it must exit cleanly.
    fn stop(mut self) -> std::process::Output {
        let child = self.child.take().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{:?}", output.status);
        output
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `validate --served DIR --json`: the comparison of a served run with the simulator's replay
/// of it, whatever the verdict on the tolerances (the costs are the default ones, not the
/// host's), as `metric -> (real, simulated)`, and how many invocations started differently.
fn validate_served(dir: &Path) -> (std::collections::HashMap<String, (f64, f64)>, u64) {
    let o = Command::new(runner())
        .args(["validate", "--json", "--served"])
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() || stderr.contains("misses its tolerance"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let value = |k: &str| r[k].as_f64().unwrap();
            (
                r["metric"].as_str().unwrap().to_string(),
                (value("real"), value("simulated")),
            )
        })
        .collect();
    (rows, v["differing"].as_u64().unwrap())
}

/// `lambdasim real serve` runs users' handlers over HTTP: warm and cold starts by the policies,
/// every kind of failure with its status, the summary in /stats and in records, and nothing
/// left after Ctrl-C. Sandboxes are confined when the interpreter is reachable by their user
/// (`LAMBDASIM_TEST_PYTHON` names another interpreter than python3 on the PATH).
#[test]
fn real_serve_runs_python_handlers_over_http_and_leaves_nothing_behind() {
    let Some(fs) = host() else { return };
    let (python, confined) = test_python();
    let dir = TempDir::new("serve");
    let functions = [
        (
            "hello/f.py",
            "import os\ndef f(event):\n    print('a handler prints', event)\n    return {'hello': event, 'pid': os.getpid()}\n",
        ),
        (
            "boom/f.py",
            "def f(event):\n    raise KeyError('no ' + str(event))\n",
        ),
        // boom's own memory; the others get the server's default (256 MB).
        ("boom/function.toml", "memory_mb = 128\n"),
        (
            "slow/f.py",
            "import time\ndef f(event):\n    time.sleep(30)\n",
        ),
        ("broken/f.py", "def f(event)\n    return 1\n"),
    ];
    let registry = write_registry(dir.path(), &functions, confined);
    let out = dir.path().join("out");
    let mut cmd = serve_command(
        &registry,
        &python,
        confined,
        &out,
        &[
            "--workers",
            "1",
            "--keep-alive",
            "ttl,idle=10m",
            "--invocation-timeout",
            "1s",
        ],
    );
    // The server's standard error is closed: neither hello's prints nor the server's own
    // messages (broken's SyntaxError) may fail a call.
    let server = Serving::start(&mut cmd, false);
    let (pid, addr) = (server.pid(), server.addr.clone());

    let (status, body) = http(&addr, "POST", "/run/hello", r#"{"n": 1}"#);
    assert_eq!(status, 200, "{body}");
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(first["hello"]["n"], 1);
    // Warm: the same sandbox answers again.
    for n in 2..5 {
        let (status, body) = http(&addr, "POST", "/run/hello", &n.to_string());
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["hello"], n);
        assert_eq!(
            v["pid"], first["pid"],
            "a warm start runs in the same sandbox"
        );
    }
    let (status, body) = http(&addr, "POST", "/run/boom", "7");
    assert_eq!(
        (status, body.as_str()),
        (500, r#"{"error":"KeyError: 'no 7'"}"#)
    );
    let (status, body) = http(&addr, "POST", "/run/hello", "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, _) = http(&addr, "POST", "/run/nothing", "1");
    assert_eq!(status, 404);
    let (status, body) = http(&addr, "POST", "/run/broken", "1");
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("SyntaxError"), "{body}");
    let (status, body) = http(&addr, "POST", "/run/slow", "1");
    assert_eq!(status, 504, "{body}");
    let (status, body) = http(&addr, "GET", "/status", "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));
    let (status, body) = http(&addr, "GET", "/stats", "");
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    // hello x5 (one with a bad body), boom, broken, slow; the 404 never reached the platform.
    assert_eq!(stats["invocations"]["total"], 8, "{stats}");
    assert_eq!(
        stats["invocations"]["failed_by_reason"]["timeout"], 1,
        "{stats}"
    );
    assert_eq!(stats["starts"]["by_kind"]["warm"], 4, "{stats}");

    // An open-loop load of a synthetic workload: 2 functions' arrivals, both sent to hello.
    let csv = dir.path().join("load.csv");
    let load = Command::new(runner())
        .args(["real", "load", "--target"])
        .arg(format!("http://{addr}"))
        .args(["--function", "hello", "--functions", "2", "--apps", "2"])
        .args(["--rate", "100", "--duration", "2s", "--seed", "5", "--csv"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let text = String::from_utf8_lossy(&load.stdout);
    let rows = std::fs::read_to_string(&csv).unwrap();
    let sent = rows.lines().count() - 1;
    assert!(sent > 100, "{rows}");
    assert!(
        text.contains(&format!("status      200: {sent}\n")),
        "{text}"
    );
    assert!(
        rows.lines()
            .skip(1)
            .all(|l| l.split(',').nth(3) == Some("200"))
    );
    let (_, body) = http(&addr, "GET", "/stats", "");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["invocations"]["total"], 8 + sent as u64, "{stats}");

    let output = server.stop();
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["invocations"]["total"], 8 + sent as u64);
    assert_eq!(
        summary["invocations"]["completed"],
        6 + sent as u64,
        "{summary}"
    );
    let records = std::fs::read_to_string(out.join("records.csv")).unwrap();
    assert_eq!(records.lines().count(), 9 + sent, "{records}");
    assert!(leftovers(fs.as_ref(), pid).is_empty());

    let functions = std::fs::read_to_string(out.join("trace/functions.csv")).unwrap();
    assert!(
        functions.contains("\nboom,boom,128,") && functions.contains("\nhello,hello,256,"),
        "{functions}"
    );
    // The simulator replays what was served: the same requests, nearly all warm in both (the
    // load's overlapping requests may need a second sandbox, a matter of timing).
    let (rows, _) = validate_served(&out);
    let n = (8 + sent) as f64;
    assert_eq!(rows["invocations"], (n, n));
    let (real, simulated) = rows["warm starts"];
    assert!(
        real > 0.9 * n && (simulated - real).abs() <= 0.05 * real,
        "{rows:?}"
    );
}

/// `real serve` installs a handler's packages with pip from the user's wheels and imports them
/// for real: in each sandbox, or once in a zygote whose forks inherit them (SOCK's design).
#[test]
fn real_serve_installs_packages_and_forks_sandboxes_from_a_zygote() {
    let Some(fs) = host() else { return };
    let (python, confined) = test_python();
    let dir = TempDir::new("serve-packages");
    let wheels = dir.path().join("wheels");
    real::pip::build_wheel(
        &python,
        &wheels,
        "slow-greeting",
        "2.0",
        "greeting",
        "import os, time\ntime.sleep(0.3)\nWHERE = os.getpid()\n",
    )
    .unwrap();
    let registry = dir.path().join("registry");
    std::fs::create_dir_all(registry.join("greet")).unwrap();
    std::fs::write(
        registry.join("greet/f.py"),
        "import os, greeting\ndef f(event):\n    seccomp = open('/proc/self/status').read().split('Seccomp:')[1].split()[0]\n    \
         return [greeting.WHERE, os.getpid(), os.getuid(), int(seccomp)]\n",
    )
    .unwrap();
    std::fs::write(registry.join("greet/requirements.txt"), "slow-greeting\n").unwrap();
    let scenario = dir.path().join("zygotes.toml");
    std::fs::write(
        &scenario,
        "[cluster]\nworkers = 1\nmemory_mb = 8192\n[policies]\nkeep_alive = { kind = \"none\" }\n\
         [packages]\nimport_cache = { kind = \"dynamic\", capacity_mb = 256 }\n",
    )
    .unwrap();
    // Confined (the zygote confines each sandbox it forks) when the sandboxes' user can run
    // the interpreter.
    let out = dir.path().join("out");
    let serve = |extra: &[&str]| {
        let mut cmd = serve_command(&registry, &python, confined, &out, extra);
        cmd.arg("--config").arg(&scenario);
        cmd
    };
    // Without a source for its packages, the server says so before it listens.
    let refused = serve(&[]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("requirements.txt") && said.contains("--wheels"),
        "{said}"
    );

    let server = Serving::start(&mut serve(&["--wheels", wheels.to_str().unwrap()]), true);
    let (pid, addr) = (server.pid(), server.addr.clone());
    let mut pids = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = http(&addr, "POST", "/run/greet", "null");
        assert_eq!(status, 200, "{body}");
        let v: Vec<i64> = serde_json::from_str(&body).unwrap();
        pids.push((v, started.elapsed()));
    }
    // Imported once, in the zygote: every sandbox is another process that inherited it, and
    // none of the later ones waited for the 300 ms import.
    let zygote = pids[0].0[0];
    for (v, _) in &pids {
        assert_eq!(v[0], zygote, "{pids:?}");
        assert_ne!(v[1], zygote, "{pids:?}");
    }
    assert!(
        pids[1..]
            .iter()
            .all(|(_, t)| *t < Duration::from_millis(250)),
        "{pids:?}"
    );
    if confined {
        assert!(
            pids.iter().all(|(v, _)| v[2] != 0 && v[3] == 2),
            "a handler ran as root or without its seccomp filter: {pids:?}"
        );
    }
    let (_, body) = http(&addr, "GET", "/stats", "");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["starts"]["by_kind"]["zygote-fork"], 3, "{stats}");
    assert_eq!(stats["packages"]["zygotes_created"], 1, "{stats}");
    assert_eq!(stats["packages"]["install_misses"], 1, "{stats}");
    server.stop();
    assert!(leftovers(fs.as_ref(), pid).is_empty());

    // The served trace carries the package and its measured costs: the simulator forks the
    // same sandboxes from a zygote it creates once.
    let trace = std::fs::read_to_string(out.join("trace/packages.json")).unwrap();
    assert!(trace.contains("slow-greeting"), "{trace}");
    let (rows, differing) = validate_served(&out);
    assert_eq!(rows["zygote-fork starts"], (3.0, 3.0));
    assert_eq!(differing, 0);
}

/// Under memory pressure a served run evicts idle sandboxes for new ones, and the simulator,
/// replaying what was served, makes every decision the same way.
#[test]
fn real_serve_evicts_under_memory_pressure_as_the_simulator_predicts() {
    let Some(fs) = host() else { return };
    let (python, confined) = test_python();
    let dir = TempDir::new("serve-evict");
    let files: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let handler =
                format!("import time\ndef f(event):\n    time.sleep(0.02)\n    return '{name}'\n");
            (format!("{name}/f.py"), handler)
        })
        .collect();
    let registry = write_registry(dir.path(), &files, confined);
    let out = dir.path().join("out");
    // Room for two sandboxes of 256 MB: a third function's cold start evicts the least
    // recently used idle one.
    let mut cmd = serve_command(
        &registry,
        &python,
        confined,
        &out,
        &[
            "--workers",
            "1",
            "--memory-mb",
            "600",
            "--function-memory-mb",
            "256",
        ],
    );
    cmd.args(["--keep-alive", "ttl,idle=10m"]);
    let server = Serving::start(&mut cmd, true);
    let (pid, addr) = (server.pid(), server.addr.clone());
    // 100 ms apart: a sandbox has long finished its call when the next one comes, in the real
    // run and in the simulated one (whose default cold start is not this host's).
    let calls = ["a", "a", "b", "b", "c", "a", "c", "b"];
    for name in calls {
        let (status, body) = http(&addr, "POST", &format!("/run/{name}"), "null");
        assert_eq!((status, body), (200, format!("\"{name}\"")));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, body) = http(&addr, "GET", "/stats", "");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        stats["sandboxes"]["destroyed_by_reason"]["evicted"], 3,
        "{stats}"
    );
    let output = server.stop();
    assert!(leftovers(fs.as_ref(), pid).is_empty());
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        summary["sandboxes"]["destroyed_by_reason"]["shutdown"], 2,
        "{summary}"
    );
    let records = std::fs::read_to_string(out.join("records.csv")).unwrap();
    let kinds: Vec<&str> = records
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(7).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "cold", "warm", "cold", "warm", "cold", "cold", "warm", "cold"
        ],
        "{records}"
    );
    let (rows, differing) = validate_served(&out);
    assert_eq!(differing, 0);
    assert_eq!(rows["cold starts"], (5.0, 5.0));
    assert_eq!(rows["warm starts"], (3.0, 3.0));
    assert_eq!(rows["evicted sandboxes"], (3.0, 3.0));
    assert_eq!(rows["start kind agreement %"], (8.0, 8.0));
    // Ended at the same moment, both runs held the same memory for as long.
    let (real, simulated) = rows["used memory GB-s"];
    assert!((simulated - real).abs() <= 0.05 * real, "{rows:?}");
}
