//! `lambdasim real cleanup`: removes what runs that did not end cleanly (a driver killed with
//! SIGKILL, a power cut) left behind: their cgroups under `lambdasim/`, with every process still in
//! them, and their work directories `lambdasim-real-<pid>` in the temporary directory. Mounts need
//! no cleaning: sandboxes mount only inside their own mount namespaces, which vanish with them.

use std::path::Path;

use crate::cgroup::{CgroupError, CgroupFs, remove_tree};

/// What a cleanup removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    /// Runs (driver pids) whose cgroups were removed.
    pub runs: Vec<u32>,
    /// Cgroups removed.
    pub groups: usize,
    /// Work directories removed.
    pub dirs: usize,
}

/// Whether a process with this pid exists.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the cgroups and work directories of runs whose driver is gone (all runs but this
/// process's with `all`).
pub fn cleanup(fs: &dyn CgroupFs, all: bool) -> Result<Cleaned, CgroupError> {
    let mut cleaned = Cleaned::default();
    let me = std::process::id();
    for name in fs.children("lambdasim")? {
        // A run's group is named by its driver's pid, with `.<n>` for later backends of a process.
        let pid = name.split('.').next().unwrap_or_default();
        let stale = match pid.parse::<u32>() {
            Ok(pid) => pid != me && (all || !alive(pid)),
            // Not a run's group: nothing of ours lives there.
            Err(_) => all,
        };
        if stale {
            cleaned.groups += remove_tree(fs, &format!("lambdasim/{name}"))?;
            if let Ok(pid) = pid.parse() {
                cleaned.runs.push(pid);
            }
        }
    }
    cleaned.runs.dedup();
    let _ = fs.remove("lambdasim");
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("lambdasim-real-")
                .and_then(|p| p.parse::<u32>().ok())
                && pid != me
                && (all || !alive(pid))
                && std::fs::remove_dir_all(e.path()).is_ok()
            {
                cleaned.dirs += 1;
            }
        }
    }
    Ok(cleaned)
}
