//! Control groups for sandboxes: creating, limiting, freezing, killing and removing groups on a
//! cgroup v1 host (one hierarchy per controller) or a cgroup v2 host (one unified tree), plus a
//! fake v2 tree in a plain directory for tests.
//!
//! Group names are relative paths such as `lambdasim/123-8f0e5c2a9b1d4e37/w0/p5` (no leading slash); each layout
//! maps them below the mount point of every hierarchy it uses. Only `std::fs` touches the cgroup
//! files.
//!
//! Processes placed in a group are not reaped by this module. Depending on the kernel, a killed
//! process that its parent has not waited for yet may still be listed in `cgroup.procs` (and keep
//! the group from being removed); `kill_all` counts a listed zombie as gone. Callers that spawn
//! sandbox processes must reap them (for example with `std::process::Child::wait`) after
//! `kill_all` and before `remove`.
//!
//! This module holds the trait every layout implements and what the layouts share; `v1` and `v2`
//! (with its fake tree for tests) are the layouts, `mounts` reads `/proc/self/mountinfo` to
//! detect which one a host has and checks privileges, and `pool` keeps pre-created groups.

mod mounts;
mod pool;
mod v1;
mod v2;

pub use mounts::{Mounts, check_privileges, detect, every_layout, parse_mountinfo};
pub use pool::Pool;
pub use v1::V1;
pub use v2::V2;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long `freeze`, `thaw` and `kill_all` wait for the kernel before giving up.
const TIMEOUT: Duration = Duration::from_secs(5);
/// First delay between two polls of a cgroup state file.
const POLL_MIN: Duration = Duration::from_micros(50);
/// Longest delay between two polls of a cgroup state file.
const POLL_MAX: Duration = Duration::from_millis(1);

/// The controllers the v2 layout enables in every ancestor of a group it creates.
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// Resource limits of one cgroup. `None` means unlimited: `set_limits` resets a limit that a
/// reused group had before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes; the group may not use swap beyond it (swap is limited to zero
    /// where the kernel accounts swap).
    pub memory_bytes: Option<u64>,
    /// CPU bandwidth limit.
    pub cpu: Option<CpuQuota>,
    /// Maximum number of tasks (processes and threads) in the group.
    pub pids: Option<u64>,
}

/// A CPU bandwidth limit: the group may run `quota_us` microseconds of CPU time in every period
/// of `period_us` microseconds (`quota_us = 2 * period_us` is two full cores).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuQuota {
    /// CPU time allowed per period, in microseconds.
    pub quota_us: u64,
    /// Length of the period, in microseconds (the kernel accepts 1 000 to 1 000 000).
    pub period_us: u64,
}

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file system operation on a cgroup file or directory failed. `op` says what was done,
    /// with the value written when there was one.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The file or directory operated on.
        path: PathBuf,
        /// The operation, for example `write "1048576" to`.
        op: String,
        /// The error the kernel (or the file system) returned.
        source: io::Error,
    },
    /// The host does not provide what was asked for (a controller, an interface file, or the
    /// privileges to manage cgroups).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The kernel did not reach a state in time.
    #[error("timed out waiting for {what} in {}", path.display())]
    Timeout {
        /// The file that was polled.
        path: PathBuf,
        /// The state that was waited for, and for how long.
        what: String,
    },
    /// A group the caller made was removed by someone else (another run's `cleanup --force`, a
    /// container runtime, a person): what lived in it is gone.
    #[error("cgroup {0} vanished: another process removed it while the run was using it")]
    Vanished(String),
    /// The cgroup mounts, or a group name, cannot be used.
    #[error("cgroup layout: {0}")]
    Layout(String),
}

impl CgroupError {
    fn io(path: &Path, op: impl Into<String>, source: io::Error) -> Self {
        CgroupError::Io {
            path: path.to_path_buf(),
            op: op.into(),
            source,
        }
    }

    fn parse(path: &Path, text: &str, what: &str) -> Self {
        CgroupError::io(
            path,
            format!("parse {what} from {:?} read from", text.trim()),
            io::Error::new(io::ErrorKind::InvalidData, format!("not a valid {what}")),
        )
    }
}

/// One cgroup layout. Paths given to methods are relative group names like `lambdasim/123/w0/sb5`
/// (no leading slash, no `.` or `..` components); the implementation maps them into each
/// hierarchy.
pub trait CgroupFs: Send + Sync + fmt::Debug {
    /// The layout: `"v1"`, `"v2"` or `"fake"`.
    fn kind(&self) -> &'static str;
    /// Creates the group and its missing parents. On v2 it first enables the memory, cpu and pids
    /// controllers (those the parent offers in `cgroup.controllers`) in the
    /// `cgroup.subtree_control` of every ancestor, from the root down. Creating an existing group
    /// succeeds.
    fn create(&self, group: &str) -> Result<(), CgroupError>;
    /// Sets all three limits; a `None` limit is reset to unlimited.
    fn set_limits(&self, group: &str, limits: &Limits) -> Result<(), CgroupError>;
    /// Moves the process `pid` (all its threads) into the group, in every hierarchy.
    fn add_process(&self, group: &str, pid: u32) -> Result<(), CgroupError>;
    /// The processes in the group (not in its descendants), sorted, zombies included.
    fn procs(&self, group: &str) -> Result<Vec<u32>, CgroupError>;
    /// Freezes the group and returns once the kernel reports it frozen.
    fn freeze(&self, group: &str) -> Result<(), CgroupError>;
    /// Thaws the group and returns once the kernel reports it thawed.
    fn thaw(&self, group: &str) -> Result<(), CgroupError>;
    /// Kills every process in the group and waits until none is left. A killed process stays
    /// listed until its parent reaps it; a listed process whose `/proc/<pid>/stat` state is `Z`
    /// counts as gone, so the caller must reap its own children before `remove` can succeed.
    fn kill_all(&self, group: &str) -> Result<(), CgroupError>;
    /// Removes the (empty, childless) group from every hierarchy; a group that does not exist is
    /// not an error.
    fn remove(&self, group: &str) -> Result<(), CgroupError>;
    /// How many processes the kernel's OOM killer killed in the group (0 when the kernel does not
    /// count them).
    fn oom_kills(&self, group: &str) -> Result<u64, CgroupError>;
    /// The memory the group uses now, in bytes; `None` when the memory controller is missing.
    fn memory_usage(&self, group: &str) -> Result<Option<u64>, CgroupError>;
    /// Names (last component only) of the group's child groups, sorted; empty when the group does
    /// not exist. The empty name `""` lists the top-level groups.
    fn children(&self, group: &str) -> Result<Vec<String>, CgroupError>;
    /// Whether the group exists (on v1: in at least one hierarchy).
    fn exists(&self, group: &str) -> bool;
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the layouts.

/// Checks a group name: relative, non-empty components, no `.`/`..`, no control characters.
fn check_group(group: &str) -> Result<(), CgroupError> {
    let bad = group.is_empty()
        || group
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.chars().any(|ch| ch.is_control()));
    if bad {
        return Err(CgroupError::Layout(format!(
            "invalid group name {group:?}: expected a relative path like \"lambdasim/1/sb0\" \
             without empty, \".\" or \"..\" components"
        )));
    }
    Ok(())
}

/// Like `check_group`, but the empty name (the root) is allowed.
fn check_group_or_root(group: &str) -> Result<(), CgroupError> {
    if group.is_empty() {
        Ok(())
    } else {
        check_group(group)
    }
}

fn group_dir(root: &Path, group: &str) -> PathBuf {
    if group.is_empty() {
        root.to_path_buf()
    } else {
        root.join(group)
    }
}

fn read_file(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|e| CgroupError::io(path, "read", e))
}

/// Reads an interface file that a kernel may lack: `None` when the file is missing but the group
/// directory exists, an error when the group itself is missing.
fn read_optional(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir.is_dir() => Ok(None),
        Err(e) => Err(CgroupError::io(&path, "read", e)),
    }
}

/// Writes `value` to an existing file in one `write` call, as cgroup files expect. The file is
/// never created: a missing interface file is reported as `NotFound`.
fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    let op = || format!("write {value:?} to");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| CgroupError::io(path, op(), e))?;
    file.write_all(value.as_bytes())
        .map_err(|e| CgroupError::io(path, op(), e))
}

fn parse_u64(path: &Path, text: &str) -> Result<u64, CgroupError> {
    text.trim()
        .parse()
        .map_err(|_| CgroupError::parse(path, text, "number"))
}

fn parse_pids(path: &Path, text: &str) -> Result<Vec<u32>, CgroupError> {
    let mut pids = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse()
                .map_err(|_| CgroupError::parse(path, text, "pid list"))
        })
        .collect::<Result<Vec<u32>, _>>()?;
    pids.sort_unstable();
    Ok(pids)
}

/// The value of `key` in a flat keyed file such as `memory.events` (`oom_kill 3`).
fn keyed_value(path: &Path, text: &str, key: &str) -> Result<Option<u64>, CgroupError> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(key) {
            let value = words.next().unwrap_or("");
            return value
                .parse()
                .map(Some)
                .map_err(|_| CgroupError::parse(path, text, key));
        }
    }
    Ok(None)
}

/// Creates a directory; an existing one is fine.
fn make_dir(path: &Path) -> Result<bool, CgroupError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(CgroupError::io(path, "create directory", e)),
    }
}

/// Removes a directory; a missing one is fine.
fn remove_dir(path: &Path) -> Result<(), CgroupError> {
    match fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CgroupError::io(path, "remove directory", e)),
    }
}

/// Names of the sub-directories of `dir`; empty when `dir` is missing.
fn sub_dirs(dir: &Path) -> Result<Vec<String>, CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CgroupError::io(dir, "list", e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| CgroupError::io(dir, "list", e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| CgroupError::io(&entry.path(), "stat", e))?
            .is_dir();
        if is_dir && let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Calls `done` until it returns true, sleeping 50 µs at first and at most 1 ms between calls;
/// a `Timeout` naming `path` and `what` after `TIMEOUT`.
fn poll_until(
    path: &Path,
    what: &str,
    done: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<(), CgroupError> {
    poll_within(TIMEOUT, path, what, done)
}

fn poll_within(
    timeout: Duration,
    path: &Path,
    what: &str,
    mut done: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut delay = POLL_MIN;
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(CgroupError::Timeout {
                path: path.to_path_buf(),
                what: format!("{what} (waited {timeout:?})"),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(POLL_MAX);
    }
}

/// Whether `pid` has exited: no `/proc/<pid>` any more, or a zombie (`Z`) or dead (`X`) task.
fn process_gone(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the command name, which is in parentheses and may contain any byte.
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some(state) => state == "Z" || state == "X",
        None => false,
    }
}

#[cfg(target_os = "linux")]
fn send_sigkill(pid: u32) -> io::Result<()> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let raw = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    match kill(Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(not(target_os = "linux"))]
fn send_sigkill(_pid: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "signals to cgroup members are only sent on Linux",
    ))
}

#[cfg(target_os = "linux")]
fn effective_uid() -> Option<u32> {
    Some(nix::unistd::geteuid().as_raw())
}

#[cfg(not(target_os = "linux"))]
fn effective_uid() -> Option<u32> {
    None
}

/// Waits until every process listed by `list` is gone (exited or a zombie). A listed process
/// that is alive and was not yet signalled gets SIGKILL through `kill`, which covers processes
/// forked while the group was being killed.
fn wait_empty(
    path: &Path,
    mut list: impl FnMut() -> Result<Vec<u32>, CgroupError>,
    mut kill: impl FnMut(u32) -> Result<(), CgroupError>,
    signalled: &mut BTreeSet<u32>,
) -> Result<(), CgroupError> {
    poll_until(path, "every process to exit", || {
        let mut empty = true;
        for pid in list()? {
            if process_gone(pid) {
                continue;
            }
            empty = false;
            if signalled.insert(pid) {
                kill(pid)?;
            }
        }
        Ok(empty)
    })
}

/// Interprets the result of writing a limit: a missing file in an existing group means the
/// controller is not available there, which is fine for an unlimited (`required` false) value and
/// an `Unsupported` error otherwise.
fn missing_limit_file(
    path: &Path,
    value: &str,
    required: bool,
    result: Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    match result {
        Err(CgroupError::Io { source, .. })
            if source.kind() == io::ErrorKind::NotFound
                && path.parent().is_some_and(Path::is_dir) =>
        {
            if required {
                Err(CgroupError::Unsupported(format!(
                    "cannot write {value:?}: {} does not exist (controller not enabled for the \
                     group or not available in this kernel)",
                    path.display()
                )))
            } else {
                Ok(())
            }
        }
        other => other,
    }
}

/// Writes a limit file, treating a missing file as `missing_limit_file` does.
fn write_limit_file(path: &Path, value: &str, required: bool) -> Result<(), CgroupError> {
    missing_limit_file(path, value, required, write_file(path, value))
}

fn sigkill_error(path: &Path, pid: u32, e: io::Error) -> CgroupError {
    CgroupError::io(path, format!("send SIGKILL to pid {pid} listed in"), e)
}

/// Kills every process and removes every group below `group` (depth first), then `group` itself:
/// what `lambdasim real cleanup` and a run's exit use. Returns how many groups were removed; a
/// missing `group` removes nothing. Each group is thawed before its children are visited, since
/// a killed process in a frozen group (or below a frozen ancestor) cannot exit. Processes spawned
/// by the caller must be reaped for their groups to be removable.
pub fn remove_tree(fs: &dyn CgroupFs, group: &str) -> Result<usize, CgroupError> {
    check_group(group)?;
    if !fs.exists(group) {
        return Ok(0);
    }
    // A thaw that fails (no freezer, a frozen ancestor outside the tree) shows up again as an
    // error of `kill_all` if it matters.
    let _ = fs.thaw(group);
    let mut removed = 0;
    for child in fs.children(group)? {
        removed += remove_tree(fs, &format!("{group}/{child}"))?;
    }
    fs.kill_all(group)?;
    // A killed process can take a while to leave its group on a host short of memory (its exit
    // waits for reclaim): the kernel refuses the removal with EBUSY until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match fs.remove(group) {
            Err(CgroupError::Io { source, .. })
                if source.raw_os_error() == Some(16) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
                let _ = fs.kill_all(group);
            }
            other => return other.map(|()| removed + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mounts::{detect_in, v2_has_memory};
    use super::*;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU64, Ordering};

    // -- fixtures ------------------------------------------------------------------------------

    /// A unique directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "lambdasim-cgroup-{}-{name}-{n}-{nanos}",
                std::process::id()
            ));
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn fake(name: &str) -> (TempDir, V2) {
        let tmp = TempDir::new(name);
        let fs = V2::fake(tmp.0.join("cgroup"));
        (tmp, fs)
    }

    fn content(fs: &V2, group: &str, file: &str) -> String {
        fs::read_to_string(fs.dir(group).join(file)).expect("read fake cgroup file")
    }

    const LIMITS: Limits = Limits {
        memory_bytes: Some(1 << 20),
        cpu: Some(CpuQuota {
            quota_us: 50_000,
            period_us: 100_000,
        }),
        pids: Some(64),
    };

    // -- mountinfo -----------------------------------------------------------------------------

    const HYBRID: &str = "\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/my\\040pids rw,relatime shared:7 - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const PURE_V2: &str = "\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
50 22 0:40 / /mnt/second\\040tree rw,relatime - cgroup2 none rw
";

    #[test]
    fn parse_mountinfo_hybrid() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(mounts.v2, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let p = |s: &str| PathBuf::from(s);
        let expected: BTreeMap<String, PathBuf> = [
            ("cpu", p("/sys/fs/cgroup/cpu,cpuacct")),
            ("cpuacct", p("/sys/fs/cgroup/cpu,cpuacct")),
            ("cpuset", p("/sys/fs/cgroup/cpuset")),
            ("memory", p("/sys/fs/cgroup/memory")),
            ("freezer", p("/sys/fs/cgroup/freezer")),
            ("pids", p("/sys/fs/cgroup/my pids")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(mounts.v1, expected);
        let v1 = V1::new(&mounts).expect("all four hierarchies are mounted");
        assert_eq!(v1.hierarchies.len(), 4, "cpu,cpuacct is one hierarchy");
    }

    #[test]
    fn parse_mountinfo_pure_v2() {
        let mounts = parse_mountinfo(PURE_V2);
        assert_eq!(mounts.v2, Some(PathBuf::from("/sys/fs/cgroup")));
        assert!(mounts.v1.is_empty());
        let escaped = parse_mountinfo(PURE_V2.lines().nth(2).expect("third line"));
        assert_eq!(escaped.v2, Some(PathBuf::from("/mnt/second tree")));
        assert_eq!(parse_mountinfo("garbage\n\n1 2 3\n"), Mounts::default());
        let err = V1::new(&mounts).expect_err("no v1 hierarchies");
        assert!(
            err.to_string().contains("memory, cpu, pids, freezer"),
            "{err}"
        );
    }

    #[test]
    fn detect_prefers_v2_with_memory_then_v1() {
        let tmp = TempDir::new("detect");
        let with_memory = tmp.0.join("v2mem");
        let without = tmp.0.join("v2bare");
        for (dir, controllers) in [(&with_memory, "cpu memory pids"), (&without, "hugetlb")] {
            fs::create_dir_all(dir).expect("mkdir");
            fs::write(dir.join("cgroup.controllers"), controllers).expect("write");
        }
        let hybrid = parse_mountinfo(HYBRID);
        let mut mounts = hybrid.clone();
        mounts.v2 = Some(with_memory.clone());
        assert_eq!(detect_in(&mounts, None).expect("v2").kind(), "v2");
        assert_eq!(detect_in(&mounts, Some("v1")).expect("v1").kind(), "v1");
        mounts.v2 = Some(without.clone());
        assert_eq!(detect_in(&mounts, None).expect("v1").kind(), "v1");
        assert_eq!(detect_in(&mounts, Some("v2")).expect("forced").kind(), "v2");
        let err = detect_in(&mounts, Some("v3")).expect_err("bad override");
        assert!(err.to_string().contains("\"v3\""), "{err}");
        mounts.v1.remove("freezer");
        let err = detect_in(&mounts, None).expect_err("nothing usable");
        let msg = err.to_string();
        assert!(
            msg.contains("no memory controller") && msg.contains("freezer"),
            "{msg}"
        );
        let err = detect_in(&Mounts::default(), Some("v2")).expect_err("no cgroup2");
        assert!(matches!(err, CgroupError::Layout(_)), "{err}");
    }

    // -- the fake v2 tree ----------------------------------------------------------------------

    #[test]
    fn fake_create_enables_controllers_from_the_root_down() {
        let (_tmp, fs) = fake("create");
        assert_eq!(fs.kind(), "fake");
        fs.create("lambdasim/123/w0/sb5").expect("create");
        for ancestor in ["", "lambdasim", "lambdasim/123", "lambdasim/123/w0"] {
            assert_eq!(
                content(&fs, ancestor, "cgroup.subtree_control"),
                "memory cpu pids",
                "ancestor {ancestor:?}"
            );
        }
        assert_eq!(
            content(&fs, "lambdasim/123/w0/sb5", "cgroup.subtree_control"),
            ""
        );
        assert_eq!(content(&fs, "lambdasim/123/w0/sb5", "cgroup.procs"), "");
        assert!(fs.exists("lambdasim/123/w0/sb5"));
        assert!(!fs.exists("lambdasim/123/w1"));
        assert_eq!(fs.children("lambdasim/123").expect("children"), ["w0"]);
        assert_eq!(fs.children("").expect("root children"), ["lambdasim"]);
        assert!(fs.children("nothing/here").expect("missing").is_empty());
        // Creating again is fine, and only offered controllers are enabled.
        fs.create("lambdasim/123/w0/sb5").expect("create again");
        fs.create("only").expect("create");
        fs::write(fs.dir("only").join("cgroup.controllers"), "pids").expect("write");
        fs.create("only/a/b").expect("create nested");
        assert_eq!(content(&fs, "only", "cgroup.subtree_control"), "pids");
        assert!(check_privileges(&fs).is_ok());
        assert!(!fs.exists("lambdasim-probe-1"));
    }

    #[test]
    fn fake_rejects_bad_group_names() {
        let (_tmp, fs) = fake("names");
        for bad in ["", "/abs", "a//b", "a/../b", ".", "a/", "new\nline"] {
            let err = fs.create(bad).expect_err(bad);
            assert!(matches!(err, CgroupError::Layout(_)), "{bad:?}: {err}");
        }
        assert!(!fs.exists("../x"));
        assert!(remove_tree(&fs, "").is_err());
    }

    #[test]
    fn fake_set_limits_writes_exact_values_and_resets() {
        let (_tmp, fs) = fake("limits");
        fs.create("g").expect("create");
        fs.set_limits("g", &LIMITS).expect("set");
        assert_eq!(content(&fs, "g", "memory.max"), "1048576");
        assert_eq!(content(&fs, "g", "memory.swap.max"), "0");
        assert_eq!(content(&fs, "g", "cpu.max"), "50000 100000");
        assert_eq!(content(&fs, "g", "pids.max"), "64");
        fs.set_limits("g", &Limits::default()).expect("reset");
        for file in ["memory.max", "memory.swap.max", "cpu.max", "pids.max"] {
            assert_eq!(content(&fs, "g", file), "max", "{file}");
        }
        let err = fs.set_limits("missing", &LIMITS).expect_err("no group");
        let msg = err.to_string();
        assert!(
            msg.contains("missing/memory.max") && msg.contains("\"1048576\""),
            "{msg}"
        );
    }

    #[test]
    fn fake_without_memory_controller_is_unsupported_for_memory_limits() {
        let (_tmp, fs) = fake("nomem");
        fs.create("g").expect("create");
        for file in [
            "memory.max",
            "memory.swap.max",
            "memory.current",
            "memory.events",
        ] {
            fs::remove_file(fs.dir("g").join(file)).expect("remove");
        }
        let err = fs.set_limits("g", &LIMITS).expect_err("memory asked for");
        assert!(
            matches!(&err, CgroupError::Unsupported(m) if m.contains("memory.max")),
            "{err}"
        );
        let no_memory = Limits {
            memory_bytes: None,
            ..LIMITS
        };
        fs.set_limits("g", &no_memory).expect("cpu and pids only");
        assert_eq!(content(&fs, "g", "cpu.max"), "50000 100000");
        assert_eq!(content(&fs, "g", "pids.max"), "64");
        assert_eq!(fs.memory_usage("g").expect("usage"), None);
        assert_eq!(fs.oom_kills("g").expect("oom"), 0);
        // Freezing and killing work without the memory controller.
        fs.add_process("g", 4_000_001).expect("add");
        fs.freeze("g").expect("freeze");
        fs.thaw("g").expect("thaw");
        fs.kill_all("g").expect("kill");
        assert!(fs.memory_usage("gone").is_err());
    }

    #[test]
    fn fake_procs_freeze_thaw_and_kill() {
        let (_tmp, fs) = fake("procs");
        fs.create("g").expect("create");
        fs.add_process("g", 4_000_002).expect("add");
        fs.add_process("g", 4_000_001).expect("add");
        assert_eq!(fs.procs("g").expect("procs"), [4_000_001, 4_000_002]);
        assert!(content(&fs, "g", "cgroup.events").contains("populated 1"));
        fs.freeze("g").expect("freeze");
        assert_eq!(content(&fs, "g", "cgroup.freeze"), "1");
        assert!(content(&fs, "g", "cgroup.events").contains("frozen 1"));
        fs.thaw("g").expect("thaw");
        assert_eq!(content(&fs, "g", "cgroup.freeze"), "0");
        assert!(content(&fs, "g", "cgroup.events").contains("frozen 0"));
        fs.kill_all("g").expect("kill");
        assert!(fs.procs("g").expect("procs").is_empty());
        assert!(content(&fs, "g", "cgroup.events").contains("populated 0"));
        // Without cgroup.kill: freeze, kill each pid, thaw.
        fs::remove_file(fs.dir("g").join("cgroup.kill")).expect("remove cgroup.kill");
        fs.add_process("g", 4_000_003).expect("add");
        fs.kill_all("g").expect("kill without cgroup.kill");
        assert!(fs.procs("g").expect("procs").is_empty());
        assert_eq!(content(&fs, "g", "cgroup.freeze"), "0");
    }

    #[test]
    fn polling_times_out_with_the_path_and_state() {
        let start = Instant::now();
        let mut calls = 0;
        let path = Path::new("/x/cgroup.events");
        let err = poll_within(Duration::from_millis(20), path, "\"frozen 1\"", || {
            calls += 1;
            Ok(false)
        })
        .expect_err("never true");
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(calls > 5, "polled {calls} times");
        let msg = err.to_string();
        assert!(
            matches!(err, CgroupError::Timeout { .. })
                && msg.contains("/x/cgroup.events")
                && msg.contains("\"frozen 1\" (waited 20ms)"),
            "{msg}"
        );
    }

    #[test]
    fn fake_oom_kills_and_memory_usage() {
        let (_tmp, fs) = fake("oom");
        fs.create("g").expect("create");
        assert_eq!(fs.oom_kills("g").expect("oom"), 0);
        fs::write(
            fs.dir("g").join("memory.events"),
            "low 0\nhigh 0\nmax 12\noom 4\noom_kill 3\noom_group_kill 0\n",
        )
        .expect("write");
        assert_eq!(fs.oom_kills("g").expect("oom"), 3);
        fs::write(fs.dir("g").join("memory.current"), "8192\n").expect("write");
        assert_eq!(fs.memory_usage("g").expect("usage"), Some(8192));
        fs::write(fs.dir("g").join("memory.events"), "oom_kill x\n").expect("write");
        let err = fs.oom_kills("g").expect_err("garbage");
        assert!(err.to_string().contains("memory.events"), "{err}");
        assert!(fs.oom_kills("missing").is_err());
    }

    #[test]
    fn fake_remove_and_remove_tree() {
        let (_tmp, fs) = fake("remove");
        fs.create("t/a/x").expect("create");
        fs.create("t/a/y").expect("create");
        fs.create("t/b").expect("create");
        fs.add_process("t/a/y", 4_000_004).expect("add");
        let err = fs.remove("t/a/y").expect_err("busy");
        assert!(err.to_string().contains("t/a/y"), "{err}");
        assert!(fs.remove("t/a").is_err(), "a group with children stays");
        fs.remove("t/b").expect("remove");
        assert!(!fs.exists("t/b"));
        fs.remove("t/b").expect("missing is fine");
        assert_eq!(remove_tree(&fs, "t").expect("tree"), 4);
        assert!(!fs.exists("t"));
        assert_eq!(remove_tree(&fs, "t").expect("gone"), 0);
        assert!(fs.children("").expect("root").is_empty());
    }

    #[test]
    fn fake_pool_reuses_groups() {
        let (_tmp, fs) = fake("pool");
        let fs: Arc<dyn CgroupFs> = Arc::new(fs);
        let mut pool = Pool::new(Arc::clone(&fs), "lambdasim/1/w0".to_string(), 2);
        assert!(pool.is_empty());
        // The parent must exist: a pool does not make it (again, without its limits).
        assert!(matches!(pool.fill(1), Err(CgroupError::Vanished(_))));
        fs.create("lambdasim/1/w0").expect("parent");
        pool.fill(5).expect("fill");
        assert_eq!(pool.len(), 2, "capped at capacity");
        assert_eq!(
            fs.children("lambdasim/1/w0").expect("children"),
            ["p0", "p1"]
        );
        let (a, pooled_a) = pool.take(&LIMITS).expect("take");
        let (b, pooled_b) = pool.take(&LIMITS).expect("take");
        let (c, pooled_c) = pool.take(&Limits::default()).expect("take");
        assert!(pooled_a && pooled_b && !pooled_c);
        assert_eq!(c, "lambdasim/1/w0/p2");
        assert!(pool.is_empty());
        fs.add_process(&a, 4_000_005).expect("add");
        fs.create(&format!("{a}/inner")).expect("inner");
        pool.give_back(a.clone()).expect("give back");
        assert!(fs.procs(&a).expect("procs").is_empty());
        assert!(fs.children(&a).expect("children").is_empty());
        pool.give_back(b.clone()).expect("give back");
        pool.give_back(c.clone()).expect("give back");
        assert_eq!(pool.len(), 2);
        assert!(!fs.exists(&c), "the pool was full");
        let err = pool
            .give_back("elsewhere/p1".to_string())
            .expect_err("foreign");
        assert!(matches!(err, CgroupError::Layout(_)), "{err}");
        let (again, pooled) = pool.take(&LIMITS).expect("take");
        assert!(pooled && (again == a || again == b));
        pool.give_back(again).expect("give back");
        pool.drain().expect("drain");
        assert!(pool.is_empty());
        assert!(fs.children("lambdasim/1/w0").expect("children").is_empty());
        assert_eq!(remove_tree(fs.as_ref(), "lambdasim").expect("tree"), 3);
    }

    #[test]
    fn zombies_count_as_gone() {
        let mut child = Command::new("true").spawn().expect("spawn true");
        let pid = child.id();
        let start = Instant::now();
        while !process_gone(pid) {
            assert!(start.elapsed() < TIMEOUT, "true did not exit");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Not reaped yet: /proc/<pid> is still there, in state Z.
        assert!(Path::new(&format!("/proc/{pid}")).exists());
        child.wait().expect("reap");
        assert!(!process_gone(std::process::id()));
    }

    // -- the real host -------------------------------------------------------------------------

    fn host_mounts() -> Mounts {
        parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
    }

    /// Why the host cannot run the `what` ("v1" or "v2") tests, if it cannot.
    fn host_problem(what: &str) -> Option<String> {
        if effective_uid() != Some(0) {
            return Some(format!("{what} host tests need root"));
        }
        let mounts = host_mounts();
        match what {
            "v1" => match V1::new(&mounts) {
                Ok(v1) => check_privileges(&v1).err().map(|e| e.to_string()),
                Err(e) => Some(e.to_string()),
            },
            "v2" => {
                let Some(root) = mounts.v2 else {
                    return Some("no cgroup2 file system is mounted".to_string());
                };
                let v2 = V2::new(root);
                let probe = format!("lambdasim-test-{}-probe", std::process::id());
                if let Err(e) = v2.create(&probe) {
                    return Some(e.to_string());
                }
                let freezer = v2.dir(&probe).join("cgroup.freeze").exists();
                let _ = v2.remove(&probe);
                (!freezer).then(|| "the cgroup2 tree has no cgroup.freeze".to_string())
            }
            other => Some(format!("unknown host requirement {other:?}")),
        }
    }

    /// Whether the host can run the `what` tests. In CI (`CI=true`) an unusable host fails the
    /// test instead of skipping it.
    fn host_or_skip(what: &str) -> bool {
        let Some(reason) = host_problem(what) else {
            return true;
        };
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} host test cannot run in CI: {reason}"
        );
        println!("skipped: {reason}");
        false
    }

    /// Owns a test's top-level group and the children it spawned: dropping it (also when an
    /// assertion fails) kills and reaps the children and removes the group tree.
    struct HostGuard {
        fs: Box<dyn CgroupFs>,
        top: String,
        children: Vec<Child>,
    }

    impl HostGuard {
        fn new(fs: Box<dyn CgroupFs>, name: &str) -> Self {
            let top = format!("lambdasim-test-{}-{name}", std::process::id());
            let _ = remove_tree(fs.as_ref(), &top);
            HostGuard {
                fs,
                top,
                children: Vec::new(),
            }
        }

        /// Spawns `cmd` with a piped stdin and keeps it for cleanup; returns its index.
        fn spawn(&mut self, cmd: &mut Command) -> usize {
            let child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn test child");
            self.children.push(child);
            self.children.len() - 1
        }
    }

    impl Drop for HostGuard {
        fn drop(&mut self) {
            // Thaw and kill everything in the tree first: a frozen child would never be reaped.
            // The second pass removes groups that a not yet reaped child kept busy.
            let _ = remove_tree(self.fs.as_ref(), &self.top);
            for child in &mut self.children {
                let _ = child.kill();
                let _ = child.wait();
            }
            let _ = remove_tree(self.fs.as_ref(), &self.top);
        }
    }

    fn killed_by_sigkill(status: std::process::ExitStatus) -> bool {
        use std::os::unix::process::ExitStatusExt;
        status.signal() == Some(9)
    }

    fn v1_file(mounts: &Mounts, controller: &str, group: &str, file: &str) -> String {
        let path = mounts.v1[controller].join(group).join(file);
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_string()
    }

    #[test]
    fn v1_host_limits_freeze_kill_remove() {
        if !host_or_skip("v1") {
            return;
        }
        let mounts = host_mounts();
        let pure_v2 = mounts
            .v2
            .as_deref()
            .is_some_and(|root| v2_has_memory(root) == Ok(true));
        let detected = detect_in(&mounts, None).expect("detect");
        assert_eq!(detected.kind(), if pure_v2 { "v2" } else { "v1" });
        let mut guard = HostGuard::new(Box::new(V1::new(&mounts).expect("v1")), "v1");
        let top = guard.top.clone();
        let group = format!("{top}/w0/sb1");

        guard.fs.create(&group).expect("create");
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            ..LIMITS
        };
        guard.fs.set_limits(&group, &limits).expect("set limits");
        assert_eq!(
            v1_file(&mounts, "memory", &group, "memory.limit_in_bytes"),
            "67108864"
        );
        if mounts.v1["memory"]
            .join(&group)
            .join("memory.memsw.limit_in_bytes")
            .exists()
        {
            let memsw = v1_file(&mounts, "memory", &group, "memory.memsw.limit_in_bytes");
            assert_eq!(memsw, "67108864");
        }
        assert_eq!(
            v1_file(&mounts, "cpu", &group, "cpu.cfs_period_us"),
            "100000"
        );
        assert_eq!(v1_file(&mounts, "cpu", &group, "cpu.cfs_quota_us"), "50000");
        assert_eq!(v1_file(&mounts, "pids", &group, "pids.max"), "64");
        // Raising after lowering exercises the other memsw order; None resets.
        let raised = Limits {
            memory_bytes: Some(128 << 20),
            cpu: Some(CpuQuota {
                quota_us: 20_000,
                period_us: 10_000,
            }),
            pids: None,
        };
        guard.fs.set_limits(&group, &raised).expect("raise");
        let memory = v1_file(&mounts, "memory", &group, "memory.limit_in_bytes");
        assert_eq!(memory, "134217728");
        assert_eq!(
            v1_file(&mounts, "cpu", &group, "cpu.cfs_period_us"),
            "10000"
        );
        assert_eq!(v1_file(&mounts, "pids", &group, "pids.max"), "max");
        guard.fs.set_limits(&group, &limits).expect("lower again");

        let i = guard.spawn(Command::new("sleep").arg("30"));
        let pid = guard.children[i].id();
        guard.fs.add_process(&group, pid).expect("add");
        assert_eq!(guard.fs.procs(&group).expect("procs"), [pid]);
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
        assert!(
            own.lines()
                .any(|l| l.contains(":memory:") && l.ends_with(&format!("/{group}"))),
            "{own}"
        );
        assert!(guard.fs.memory_usage(&group).expect("usage").is_some());

        guard.fs.freeze(&group).expect("freeze");
        assert_eq!(
            v1_file(&mounts, "freezer", &group, "freezer.state"),
            "FROZEN"
        );
        guard.fs.thaw(&group).expect("thaw");
        assert_eq!(
            v1_file(&mounts, "freezer", &group, "freezer.state"),
            "THAWED"
        );

        guard.fs.kill_all(&group).expect("kill");
        let status = guard.children[i].wait().expect("reap");
        assert!(killed_by_sigkill(status), "{status}");
        assert!(guard.fs.procs(&group).expect("procs").is_empty());
        assert_eq!(guard.fs.oom_kills(&group).expect("oom"), 0);

        assert_eq!(
            remove_tree(guard.fs.as_ref(), &top).expect("remove tree"),
            3
        );
        for controller in ["memory", "cpu", "pids", "freezer"] {
            let dir = mounts.v1[controller].join(&top);
            assert!(!dir.exists(), "{} still exists", dir.display());
        }
        assert!(!guard.fs.exists(&top));
    }

    #[test]
    fn v1_host_memory_limit_is_enforced() {
        if !host_or_skip("v1") {
            return;
        }
        let mounts = host_mounts();
        let mut guard = HostGuard::new(Box::new(V1::new(&mounts).expect("v1")), "v1-oom");
        let group = format!("{}/sb0", guard.top);
        guard.fs.create(&group).expect("create");
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            cpu: None,
            pids: None,
        };
        guard.fs.set_limits(&group, &limits).expect("limit");
        // The shell waits for a line on stdin so that the allocation starts inside the group.
        let i = guard.spawn(Command::new("sh").args([
            "-c",
            "read go; exec dd if=/dev/zero of=/dev/null bs=200M count=1",
        ]));
        let pid = guard.children[i].id();
        guard.fs.add_process(&group, pid).expect("add");
        let stdin = guard.children[i].stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("start");
        let status = guard.children[i].wait().expect("reap");
        assert!(killed_by_sigkill(status), "dd was not OOM-killed: {status}");
        assert!(guard.fs.oom_kills(&group).expect("oom") >= 1);
    }

    #[test]
    fn v1_host_pool_reuses_groups() {
        if !host_or_skip("v1") {
            return;
        }
        let mounts = host_mounts();
        let mut guard = HostGuard::new(Box::new(V1::new(&mounts).expect("v1")), "v1-pool");
        let fs: Arc<dyn CgroupFs> = Arc::new(V1::new(&mounts).expect("v1"));
        let top = guard.top.clone();

        fs.create(&top).expect("parent");
        let mut pool = Pool::new(Arc::clone(&fs), top.clone(), 1);
        pool.fill(1).expect("fill");
        let (group, pooled) = pool.take(&LIMITS).expect("take");
        assert!(pooled);
        let i = guard.spawn(Command::new("sleep").arg("30"));
        let pid = guard.children[i].id();
        fs.add_process(&group, pid).expect("add");
        assert_eq!(v1_file(&mounts, "pids", &group, "pids.max"), "64");

        // The child is not reaped before give_back: kill_all must not wait for the reaping.
        pool.give_back(group.clone()).expect("give back");
        let status = guard.children[i].wait().expect("reap");
        assert!(killed_by_sigkill(status), "{status}");
        let (again, pooled) = pool.take(&Limits::default()).expect("take");
        assert!(pooled && again == group);
        pool.give_back(again).expect("give back");
        pool.drain().expect("drain");
        assert!(!fs.exists(&group));
        assert_eq!(remove_tree(fs.as_ref(), &top).expect("remove"), 1);
    }

    #[test]
    fn v2_host_freeze_and_kill() {
        if !host_or_skip("v2") {
            return;
        }
        let root = host_mounts().v2.expect("cgroup2 mount");
        let mut guard = HostGuard::new(Box::new(V2::new(root.clone())), "v2");
        let top = guard.top.clone();
        let group = format!("{top}/sb0");
        guard.fs.create(&group).expect("create");
        let i = guard.spawn(Command::new("sleep").arg("30"));
        let pid = guard.children[i].id();
        guard.fs.add_process(&group, pid).expect("add");
        assert_eq!(guard.fs.procs(&group).expect("procs"), [pid]);

        let events = root.join(&group).join("cgroup.events");
        guard.fs.freeze(&group).expect("freeze");
        let text = fs::read_to_string(&events).expect("events");
        assert!(text.contains("frozen 1"), "{text}");
        assert_eq!(
            fs::read_to_string(root.join(&group).join("cgroup.freeze"))
                .expect("read")
                .trim(),
            "1"
        );
        guard.fs.thaw(&group).expect("thaw");
        let text = fs::read_to_string(&events).expect("events");
        assert!(text.contains("frozen 0"), "{text}");

        guard.fs.kill_all(&group).expect("kill");
        let status = guard.children[i].wait().expect("reap");
        assert!(killed_by_sigkill(status), "{status}");

        // Without the memory controller a memory limit is refused, other limits are skipped.
        if v2_has_memory(&root) == Ok(false) {
            let err = guard
                .fs
                .set_limits(&group, &LIMITS)
                .expect_err("no memory.max");
            assert!(
                matches!(&err, CgroupError::Unsupported(m) if m.contains("memory.max")),
                "{err}"
            );
            let no_memory = Limits {
                memory_bytes: None,
                ..LIMITS
            };
            guard.fs.set_limits(&group, &no_memory).expect("skipped");
        }
        assert_eq!(remove_tree(guard.fs.as_ref(), &top).expect("remove"), 2);
        assert!(!root.join(&top).exists());
    }

    /// `kill_all` on a shell that forked two children: all three die and the tree goes away.
    fn kill_all_kills_forked_children(fs: Box<dyn CgroupFs>, name: &str) {
        let mut guard = HostGuard::new(fs, name);
        let group = format!("{}/sb0", guard.top);
        guard.fs.create(&group).expect("create");
        let i = guard.spawn(Command::new("sh").args(["-c", "read go; sleep 30 & sleep 30 & wait"]));
        let pid = guard.children[i].id();
        guard.fs.add_process(&group, pid).expect("add");
        let stdin = guard.children[i].stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("start");
        poll_until(Path::new(&group), "three processes", || {
            Ok(guard.fs.procs(&group)?.len() == 3)
        })
        .expect("the shell forks two sleeps");
        let members = guard.fs.procs(&group).expect("procs");
        guard.fs.kill_all(&group).expect("kill");
        let status = guard.children[i].wait().expect("reap");
        assert!(killed_by_sigkill(status), "{status}");
        assert!(members.iter().all(|&p| process_gone(p)), "{members:?}");
        assert_eq!(
            remove_tree(guard.fs.as_ref(), &guard.top).expect("remove"),
            2
        );
        assert!(!guard.fs.exists(&guard.top));
    }

    #[test]
    fn v1_host_kill_all_kills_forked_children() {
        if host_or_skip("v1") {
            let v1 = V1::new(&host_mounts()).expect("v1");
            kill_all_kills_forked_children(Box::new(v1), "v1-fork");
        }
    }

    #[test]
    fn v2_host_kill_all_kills_forked_children() {
        if host_or_skip("v2") {
            let root = host_mounts().v2.expect("cgroup2 mount");
            kill_all_kills_forked_children(Box::new(V2::new(root)), "v2-fork");
        }
    }
}
