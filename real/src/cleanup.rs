//! `lambdasim real cleanup`: removes what runs that did not end cleanly (a driver killed with
//! SIGKILL, a power cut) left behind: their cgroups under `lambdasim/`, with every process still in
//! them, their work directories `lambdasim-real-<run>` and their lock files in the temporary
//! directory. Mounts need no cleaning: sandboxes mount only inside their own mount namespaces,
//! which vanish with them.
//!
//! A run is alive while its driver holds its lock ([`crate::run_id`]), whatever PID namespace
//! either process is in; a run without a lock file (a measurement's, or one of an older version)
//! is alive while a process has the pid its name begins with. Live runs are left alone, unless
//! forced.

use std::path::Path;

use crate::cgroup::{CgroupError, CgroupFs, remove_tree};
use crate::run_id;

/// What a cleanup removed, and what it left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// Runs whose cgroups were removed.
    pub runs: Vec<String>,
    /// Cgroups removed.
    pub groups: usize,
    /// Work directories removed.
    pub dirs: usize,
    /// Live runs left alone (without `force`).
    pub live: Vec<String>,
}

/// Whether a process with this pid exists.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether run `run` is alive, by its lock; without a lock file, a run whose name has a random
/// part is dead (its driver always takes a lock), and one named by a pid alone (a measurement's)
/// is alive while a process has that pid.
fn run_is_live(run: &str) -> bool {
    run_id::is_live(run)
        .unwrap_or_else(|| !run_id::has_nonce(run) && run_id::pid_of(run).is_some_and(alive))
}

/// Whether process `pid` of this PID namespace is a lambdasim driver: never init, never another
/// program that took a dead driver's pid (a driver in another PID namespace has another pid
/// here).
fn is_driver(pid: u32) -> bool {
    pid > 1
        && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            let program = cmdline.split(|&b| b == 0).next().unwrap_or_default();
            let name = program.rsplit(|&b| b == b'/').next().unwrap_or_default();
            name.starts_with(b"lambdasim")
        })
}

/// Asks a live run's driver to stop (SIGTERM: it removes what it made) and waits up to 10 s for
/// its lock to be released. A driver in another PID namespace cannot be signalled by its pid;
/// what it leaves is then removed under it.
fn stop_driver(run: &str) {
    let Some(pid) = run_id::pid_of(run).filter(|&p| is_driver(p)) else {
        return;
    };
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    let signalled = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .is_ok();
    let start = std::time::Instant::now();
    while signalled && run_is_live(run) && start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `run` is one of this process's runs.
fn is_mine(run: &str) -> bool {
    let me = run_id::this_process();
    run == me
        || run
            .strip_prefix(me)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Removes the cgroups (in each of `layouts`: a host may mount v1 and v2 side by side, and a run
/// may have used either), work directories and lock files of runs whose driver is gone. With
/// `all`, also what belongs to no run (groups whose names are not runs'). With `force`, live
/// runs are ended too: their drivers are asked to stop, then what is left is removed. This
/// process's own runs are never touched.
pub fn cleanup(
    layouts: &[Box<dyn CgroupFs>],
    all: bool,
    force: bool,
) -> Result<Cleaned, CgroupError> {
    let mut cleaned = Cleaned::default();
    for fs in layouts {
        clean_layout(fs.as_ref(), all, force, &mut cleaned)?;
    }
    cleaned.runs.sort();
    cleaned.runs.dedup();
    cleaned.live.sort();
    cleaned.live.dedup();
    clean_dirs(force, &mut cleaned);
    Ok(cleaned)
}

/// The groups of one layout.
fn clean_layout(
    fs: &dyn CgroupFs,
    all: bool,
    force: bool,
    cleaned: &mut Cleaned,
) -> Result<(), CgroupError> {
    for name in fs.children("lambdasim")? {
        if is_mine(&name) {
            continue;
        }
        let stale = if run_id::pid_of(&name).is_none() {
            // Not a run's group: nothing of a run lives there.
            all
        } else if run_is_live(&name) {
            if force {
                stop_driver(&name);
            } else {
                cleaned.live.push(name.clone());
            }
            force
        } else {
            true
        };
        if stale {
            cleaned.groups += remove_tree(fs, &format!("lambdasim/{name}"))?;
            let _ = std::fs::remove_file(run_id::lock_path(&name));
            cleaned.runs.push(name);
        }
    }
    let _ = fs.remove("lambdasim");
    Ok(())
}

/// Work directories and lock files in the temporary directory.
fn clean_dirs(force: bool, cleaned: &mut Cleaned) {
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(run) = name.strip_prefix("lambdasim-real-") else {
                continue;
            };
            if let Some(run) = run.strip_suffix(".lock") {
                if !is_mine(run) && run_id::is_live(run) == Some(false) {
                    let _ = std::fs::remove_file(e.path());
                }
                continue;
            }
            if run_id::pid_of(run).is_some()
                && !is_mine(run)
                && (force || !run_is_live(run))
                && std::fs::remove_dir_all(e.path()).is_ok()
            {
                cleaned.dirs += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lambdasim_process_is_taken_for_a_driver() {
        // Init, and this test program, which is not named lambdasim.
        assert!(!is_driver(1));
        assert!(!is_driver(std::process::id()));
        assert!(!is_driver(u32::MAX));
    }

    #[test]
    fn a_run_with_a_random_part_and_no_lock_is_dead_whatever_has_its_pid() {
        // PID 1 always exists; a run named by it and a nonce, without a lock file, is dead.
        assert!(!run_is_live("1-00000000deadbeef"));
        // A run named by a pid alone is alive while the pid is.
        assert!(run_is_live(&std::process::id().to_string()));
    }
}
