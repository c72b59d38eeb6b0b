//! Fault injection into real runs: after each fault, nothing of the run may be left (no cgroup,
//! process, mount, work directory or lock file), and the run must end as documented (the exit
//! code of its signal, 3 for a host fault, 0 when it ran to its end).
//!
//! Faults, in a seeded random order: the driver killed (SIGKILL, then `cleanup`), hung up
//! (SIGHUP), terminated (SIGTERM) or interrupted (SIGINT); a sandbox killed or stopped (SIGSTOP:
//! the watchdog must kill it); a zygote killed; sandboxes going past their memory limit; a fork
//! bomb in a sandbox's cgroup; `cleanup --all` during the run (it must leave the run alone); a
//! worker's cgroup removed under the run; two runs in PID namespaces of their own at once.
//!
//! `LAMBDASIM_FAULTS=N` sets how many faults (default: each kind once, as CI runs it);
//! `LAMBDASIM_FAULT_SEED=S` the order (default 1). The long run:
//!
//! ```text
//! LAMBDASIM_FAULTS=130 cargo test --release --test tests faults -- --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use real::cgroup::CgroupFs;

use crate::cli::TempDir;
use crate::real::{CONFINED, confinement, gone, host, leftovers, run_procs, runner, signal};
use crate::util::{Rng, env_number};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    DriverKill,
    DriverHup,
    DriverTerm,
    DriverInt,
    SandboxKill,
    SandboxStop,
    ZygoteKill,
    OutOfMemory,
    ForkBomb,
    CleanupDuringRun,
    CgroupRemoved,
    PidNamespaces,
}

const FAULTS: [Fault; 12] = [
    Fault::DriverKill,
    Fault::DriverHup,
    Fault::DriverTerm,
    Fault::DriverInt,
    Fault::SandboxKill,
    Fault::SandboxStop,
    Fault::ZygoteKill,
    Fault::OutOfMemory,
    Fault::ForkBomb,
    Fault::CleanupDuringRun,
    Fault::CgroupRemoved,
    Fault::PidNamespaces,
];

/// A scenario of two workers whose invocations run 1 to 2 s, long enough to be caught by any
/// fault, and few enough at once (about 2) for a 2-core host; with `packages`, sandboxes are
/// forked from zygotes.
fn scenario(dir: &Path, packages: bool, duration: &str) -> PathBuf {
    let path = dir.join(format!("faults-{packages}.toml"));
    let mut text = format!(
        "seed = 5\n[cluster]\nworkers = 2\nmemory_mb = 16384\n\
         [policies]\nkeep_alive = {{ kind = \"ttl\", idle = \"2s\" }}\n\
         [workload]\nkind = \"synthetic\"\nfunctions = 6\napps = 3\nduration = \"{duration}\"\nrate = 1.5\n\
         exec_min = \"1s\"\nexec_max = \"2s\"\n"
    );
    if packages {
        text.push_str(
            "[packages]\ncatalog = { kind = \"synthetic\", packages = 10 }\n\
             import_cache = { kind = \"dynamic\", capacity_mb = 256 }\n",
        );
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The processes whose environment holds `tag`: the drivers and runners of the faults' runs
/// (and nothing of other tests running meanwhile).
fn tagged(tag: &str) -> Vec<u32> {
    let needle = format!("LAMBDASIM_FAULT_TAG={tag}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
        })
        .filter(|&pid| !gone(pid as i32))
        .collect()
}

fn mount_count() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count()
}

/// What of driver `pid`'s runs is left in the temporary directory: work directories and lock
/// files.
fn files_left(pid: u32) -> Vec<String> {
    let prefix = format!("lambdasim-real-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Waits up to 20 s for `ok`; false if it never held.
fn within(mut ok: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(20);
    while !ok() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A real run of `path` tagged `tag`, its summary going to stdout (JSON) and its errors to
/// `path.stderr`; with `prefix`, started through that command (`unshare …`).
fn start(path: &Path, tag: &str, prefix: &[&str], args: &[&str]) -> Child {
    let (program, before) = match prefix.split_first() {
        Some((p, rest)) => (PathBuf::from(p), rest.to_vec()),
        None => (runner(), Vec::new()),
    };
    let mut command = Command::new(program);
    command.args(before);
    if !prefix.is_empty() {
        command.arg(runner());
    }
    command
        .args(["real", "--config"])
        .arg(path)
        .args(["--time-scale", "1", "--invocation-timeout", "2s", "--json"])
        .args(args)
        .env("LAMBDASIM_FAULT_TAG", tag)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(path.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap()
}

/// The run's processes once it has some: the sandboxes (each in a PID namespace of its own)
/// and the zygotes (in the host's).
fn processes(fs: &dyn CgroupFs, pid: u32) -> (Vec<u32>, Vec<u32>) {
    let ours = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let mut found = (Vec::new(), Vec::new());
    let seen = within(|| {
        found = (Vec::new(), Vec::new());
        for p in run_procs(fs, pid) {
            match std::fs::read_link(format!("/proc/{p}/ns/pid")) {
                Ok(ns) if ns == ours => found.1.push(p),
                Ok(_) => found.0.push(p),
                Err(_) => {}
            }
        }
        !found.0.is_empty()
    });
    assert!(seen, "the run of driver {pid} never had a sandbox");
    found
}

/// Ends a run with SIGINT and returns its summary, after checking its exit code (130).
fn interrupt(child: Child) -> serde_json::Value {
    signal(child.id() as i32, Signal::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Puts a shell into `group` that forks until the group's pids limit stops it; returns it (the
/// caller reaps it). It waits for a line on its input before its first fork, so that every
/// process it makes is in the group.
fn fork_bomb(fs: &dyn CgroupFs, group: &str, tag: &str) -> Child {
    let mut bomb = Command::new("sh")
        .args(["-c", "read x; while :; do sleep 1000 & done"])
        .env("LAMBDASIM_FAULT_TAG", tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    fs.add_process(group, bomb.id()).unwrap();
    use std::io::Write;
    bomb.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    bomb
}

/// The cgroup (relative to the hierarchy's root) that process `pid` is in, as the pids
/// controller (or the unified hierarchy) sees it; `None` once it is gone.
fn group_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
            (names.split(',').any(|n| n == "pids") || names.is_empty())
                .then(|| path.trim_start_matches('/').to_string())
        })
        .filter(|g| g.starts_with("lambdasim/"))
}

/// Injects `fault` into a fresh run and checks how the run ended; returns the driver's pid
/// (in this PID namespace) for the leftover checks.
fn inject(fs: &dyn CgroupFs, dir: &Path, fault: Fault, tag: &str, rng: &mut Rng) -> Left {
    let packages = fault == Fault::ZygoteKill || rng.below(2) == 0;
    let exec = if rng.below(3) == 0 { "sleep" } else { "busy" };
    let path = scenario(dir, packages, "10m");
    let stderr = || std::fs::read_to_string(path.with_extension("stderr")).unwrap_or_default();
    if fault == Fault::PidNamespaces {
        // Two runs at once, each driver PID 1 of a namespace of its own: the same pid, distinct
        // runs. A cleanup meanwhile leaves both alone (their locks say they are live).
        let short = scenario(dir, packages, "4s");
        // What other runs with a driver of PID 1 left before (a run from an earlier session
        // that failed is not this fault's).
        let before = leftovers(fs, 1);
        // Sleeping, so that two runs at once do not overload a small host.
        let prefix = ["unshare", "--pid", "--fork"];
        let runs = [
            start(&short, tag, &prefix, &["--exec", "sleep"]),
            start(&short, tag, &prefix, &["--exec", "sleep"]),
        ];
        std::thread::sleep(Duration::from_millis(1500));
        let out = Command::new(runner())
            .args(["real", "cleanup", "--all"])
            .output()
            .unwrap();
        assert!(out.status.success());
        for run in runs {
            let out = run.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr());
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let inv = &summary["invocations"];
            assert_eq!(inv["completed"], inv["total"], "{inv}");
        }
        // Both drivers were PID 1 in their namespaces.
        return Left {
            pids: vec![1],
            before,
        };
    }
    let args: &[&str] = if fault == Fault::OutOfMemory {
        &["--exec", exec, "--touch", "4", "--memory-scale", "0.25"]
    } else {
        &["--exec", exec]
    };
    let child = start(&path, tag, &[], args);
    let pid = child.id();
    // Sandboxes that go past their memory limit live too briefly to be looked at.
    let (sandboxes, zygotes) = if fault == Fault::OutOfMemory {
        (Vec::new(), Vec::new())
    } else {
        processes(fs, pid)
    };
    for &s in &sandboxes {
        // Confined once in its cgroup, a moment after it appears there.
        let confined = within(|| gone(s as i32) || confinement(s as i32) == CONFINED);
        assert!(confined, "sandbox {s}: {}", confinement(s as i32));
    }
    // A sandbox that is still there, in its cgroup.
    let mut victim = || loop {
        let (now, _) = processes(fs, pid);
        let s = now[rng.below(now.len())];
        if let Some(group) = group_of(s) {
            return (s, group);
        }
    };
    match fault {
        Fault::DriverKill => {
            signal(pid as i32, Signal::SIGKILL);
            let mut child = child;
            child.wait().unwrap();
            let out = Command::new(runner())
                .args(["real", "cleanup"])
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        Fault::DriverHup | Fault::DriverTerm | Fault::DriverInt => {
            let (sig, code) = match fault {
                Fault::DriverHup => (Signal::SIGHUP, 129),
                Fault::DriverTerm => (Signal::SIGTERM, 143),
                _ => (Signal::SIGINT, 130),
            };
            signal(pid as i32, sig);
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(code), "{}", stderr());
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(summary["interrupted"], sig.as_str());
        }
        Fault::SandboxKill | Fault::SandboxStop | Fault::ZygoteKill => {
            let (target, sig) = match fault {
                Fault::SandboxKill => (victim().0, Signal::SIGKILL),
                Fault::SandboxStop => (victim().0, Signal::SIGSTOP),
                _ => match zygotes.first() {
                    Some(&z) => (z, Signal::SIGKILL),
                    None => (victim().0, Signal::SIGKILL),
                },
            };
            signal(target as i32, sig);
            // Long enough for a stopped sandbox's invocation to time out (2 s + 2 s at most).
            std::thread::sleep(Duration::from_millis(4500));
            let summary = interrupt(child);
            let inv = &summary["invocations"];
            assert!(inv["total"].as_u64().unwrap() > 0, "{inv}");
            if fault == Fault::SandboxKill {
                // Busy or idle, a sandbox that died is a crash.
                let crashed = &summary["sandboxes"]["destroyed_by_reason"]["crashed"];
                assert!(crashed.as_u64().unwrap() >= 1, "{summary}");
            }
        }
        Fault::OutOfMemory => {
            // Until the kernel has killed a sandbox for its memory, and a moment for the run
            // to record it.
            let oom = within(|| {
                leftovers(fs, pid).iter().any(|run| {
                    (0..2).any(|w| {
                        let worker = format!("lambdasim/{run}/w{w}");
                        fs.children(&worker)
                            .unwrap_or_default()
                            .iter()
                            .any(|g| fs.oom_kills(&format!("{worker}/{g}")).unwrap_or(0) > 0)
                    })
                })
            });
            assert!(oom, "no sandbox was killed for its memory");
            std::thread::sleep(Duration::from_millis(1000));
            let summary = interrupt(child);
            let inv = &summary["invocations"];
            assert!(
                inv["failed_by_reason"]["out-of-memory"].as_u64().unwrap() > 0,
                "{inv}"
            );
        }
        Fault::ForkBomb => {
            let (_, group) = victim();
            let mut bomb = fork_bomb(fs, &group, tag);
            std::thread::sleep(Duration::from_millis(1500));
            // The pids limit (64 by default) holds the bomb.
            let n = fs.procs(&group).unwrap_or_default().len();
            assert!((32..=64).contains(&n), "{n} processes in {group}");
            let _summary = interrupt(child);
            bomb.wait().unwrap();
        }
        Fault::CleanupDuringRun => {
            let out = Command::new(runner())
                .args(["real", "cleanup", "--all"])
                .output()
                .unwrap();
            assert!(out.status.success());
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(said.contains(&format!("{pid}-")), "{said}");
            std::thread::sleep(Duration::from_millis(1000));
            let mut child = child;
            assert!(
                child.try_wait().unwrap().is_none(),
                "cleanup ended a live run"
            );
            let summary = interrupt(child);
            let inv = &summary["invocations"];
            assert_eq!(inv["failed_by_reason"]["sandbox-crashed"], 0, "{inv}");
        }
        Fault::CgroupRemoved => {
            let run = leftovers(fs, pid).pop().unwrap();
            let worker = rng.below(2);
            real::cgroup::remove_tree(fs, &format!("lambdasim/{run}/w{worker}")).unwrap();
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{}", stderr());
            assert!(stderr().contains("vanished"), "{}", stderr());
        }
        Fault::PidNamespaces => unreachable!(),
    }
    Left {
        pids: vec![pid],
        before: Vec::new(),
    }
}

/// The drivers whose runs must have left nothing, and runs of theirs that were there before.
struct Left {
    pids: Vec<u32>,
    before: Vec<String>,
}

#[test]
fn no_fault_leaves_anything_of_a_run_behind() {
    let Some(fs) = host() else { return };
    let count = env_number("LAMBDASIM_FAULTS", FAULTS.len() as u64) as usize;
    let seed = env_number("LAMBDASIM_FAULT_SEED", 1);
    let mut rng = Rng::new(seed);
    let dir = TempDir::new("faults");
    let mounts = mount_count();
    let mut order = FAULTS.to_vec();
    let started = Instant::now();
    for i in 0..count {
        if i % FAULTS.len() == 0 {
            // Each kind once per round, in a random order.
            for j in (1..order.len()).rev() {
                order.swap(j, rng.below(j + 1));
            }
        }
        let fault = order[i % FAULTS.len()];
        let tag = format!("{}-{seed}-{i}", std::process::id());
        let t = Instant::now();
        let drivers = inject(fs.as_ref(), dir.path(), fault, &tag, &mut rng);
        let left = |what: &str, ok: bool| {
            assert!(ok, "fault {i} ({fault:?}, seed {seed}): {what} left");
        };
        left("processes", within(|| tagged(&tag).is_empty()));
        for &pid in &drivers.pids {
            let new = |runs: Vec<String>| {
                runs.into_iter()
                    .filter(|r| !drivers.before.iter().any(|b| r.starts_with(b.as_str())))
                    .count()
            };
            left("cgroups", new(leftovers(fs.as_ref(), pid)) == 0);
            left("files", new(files_left(pid)) == 0);
        }
        left("mounts", mount_count() == mounts);
        eprintln!(
            "fault {i:>3} {fault:?}: nothing left ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "{count} faults (seed {seed}) in {:.0} s: nothing left after any",
        started.elapsed().as_secs_f64()
    );
}
