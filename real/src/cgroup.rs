//! Control groups for sandboxes: creating, limiting, freezing, killing and removing groups on a
//! cgroup v1 host (one hierarchy per controller) or a cgroup v2 host (one unified tree), plus a
//! fake v2 tree in a plain directory for tests.
//!
//! Group names are relative paths such as `lambdasim/123/w0/sb5` (no leading slash); each layout
//! maps them below the mount point of every hierarchy it uses. Only `std::fs` touches the cgroup
//! files.
//!
//! Processes placed in a group are not reaped by this module. Depending on the kernel, a killed
//! process that its parent has not waited for yet may still be listed in `cgroup.procs` (and keep
//! the group from being removed); `kill_all` counts a listed zombie as gone. Callers that spawn
//! sandbox processes must reap them (for example with `std::process::Child::wait`) after
//! `kill_all` and before `remove`.

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

// ---------------------------------------------------------------------------------------------
// cgroup v2 (and its fake).

/// The cgroup v2 layout: one unified tree. A tree whose root offers no memory or cpu controller
/// (such as `/sys/fs/cgroup/unified` on a hybrid host) still supports `freeze`, `thaw` and
/// `kill_all`; limits of missing controllers are skipped, except that a memory limit on a group
/// without `memory.max` is an `Unsupported` error.
#[derive(Debug)]
pub struct V2 {
    root: PathBuf,
    fake: bool,
}

/// Interface files the fake kernel writes in a new (non-root) group.
const FAKE_GROUP_FILES: [(&str, &str); 13] = [
    ("cgroup.procs", ""),
    ("cgroup.events", "populated 0\nfrozen 0\n"),
    ("cgroup.controllers", "memory cpu pids"),
    ("cgroup.subtree_control", ""),
    ("cgroup.freeze", "0"),
    ("cgroup.kill", ""),
    ("memory.max", "max"),
    ("memory.swap.max", "max"),
    ("cpu.max", "max 100000"),
    ("pids.max", "max"),
    ("memory.events", "oom_kill 0\n"),
    ("memory.current", "0"),
    ("cgroup.type", "domain"),
];

/// Interface files the fake kernel has in its root.
const FAKE_ROOT_FILES: [(&str, &str); 3] = [
    ("cgroup.procs", ""),
    ("cgroup.controllers", "memory cpu pids"),
    ("cgroup.subtree_control", ""),
];

impl V2 {
    /// The cgroup v2 tree mounted at `root` (usually `/sys/fs/cgroup`).
    pub fn new(root: PathBuf) -> Self {
        V2 { root, fake: false }
    }

    /// A fake kernel in a plain directory, for tests: creating a group writes the interface files
    /// a kernel would show, and writes to `cgroup.procs`, `cgroup.freeze`, `cgroup.kill` and
    /// `cgroup.subtree_control` update the other files as the kernel would. Everything else runs
    /// the same code as a real v2 tree. The directory is created by the first `create`.
    pub fn fake(root: PathBuf) -> Self {
        V2 { root, fake: true }
    }

    fn dir(&self, group: &str) -> PathBuf {
        group_dir(&self.root, group)
    }

    /// Writes one interface file; the fake kernel's side effects happen here.
    fn write(&self, path: &Path, value: &str) -> Result<(), CgroupError> {
        if !self.fake {
            return write_file(path, value);
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match name {
            "cgroup.procs" => {
                // The kernel moves the process; the fake lists it (after checking the file).
                let mut text = read_file(path)?;
                if !text.lines().any(|l| l.trim() == value.trim()) {
                    text.push_str(value.trim());
                    text.push('\n');
                    write_file(path, &text)?;
                }
                fake_set_event(dir, "populated", "1")
            }
            "cgroup.freeze" => {
                write_file(path, value)?;
                fake_set_event(dir, "frozen", value.trim())
            }
            "cgroup.kill" => {
                write_file(path, value)?;
                write_file(&dir.join("cgroup.procs"), "")?;
                fake_set_event(dir, "populated", "0")
            }
            "cgroup.subtree_control" => fake_subtree_control(path, value),
            _ => write_file(path, value),
        }
    }

    fn make_group_dir(&self, dir: &Path, is_root: bool) -> Result<(), CgroupError> {
        let created = make_dir(dir)?;
        if self.fake && (created || !dir.join("cgroup.procs").exists()) {
            let files: &[(&str, &str)] = if is_root {
                &FAKE_ROOT_FILES
            } else {
                &FAKE_GROUP_FILES
            };
            for (name, content) in files {
                let path = dir.join(name);
                fs::write(&path, content)
                    .map_err(|e| CgroupError::io(&path, format!("write {content:?} to"), e))?;
            }
        }
        Ok(())
    }

    /// Enables the memory, cpu and pids controllers that `dir` offers in its subtree.
    fn enable_controllers(&self, dir: &Path) -> Result<(), CgroupError> {
        let offered = read_file(&dir.join("cgroup.controllers"))?;
        let control = dir.join("cgroup.subtree_control");
        let enabled = read_file(&control)?;
        for controller in V2_CONTROLLERS {
            let offers = offered.split_whitespace().any(|c| c == controller);
            let has = enabled.split_whitespace().any(|c| c == controller);
            if offers && !has {
                self.write(&control, &format!("+{controller}"))?;
            }
        }
        Ok(())
    }

    fn remove_group_dir(&self, dir: &Path) -> Result<(), CgroupError> {
        if self.fake && dir.is_dir() {
            // The kernel refuses (EBUSY) a group with processes or child groups and keeps it.
            if !sub_dirs(dir)?.is_empty() {
                return Err(CgroupError::io(
                    dir,
                    "remove directory",
                    io::Error::new(io::ErrorKind::ResourceBusy, "the group has child groups"),
                ));
            }
            let procs = dir.join("cgroup.procs");
            if let Some(text) = read_optional(dir, "cgroup.procs")?
                && !text.trim().is_empty()
            {
                return Err(CgroupError::io(
                    dir,
                    "remove directory",
                    io::Error::new(
                        io::ErrorKind::ResourceBusy,
                        format!("{} lists processes", procs.display()),
                    ),
                ));
            }
            let entries = fs::read_dir(dir).map_err(|e| CgroupError::io(dir, "list", e))?;
            for entry in entries {
                let entry = entry.map_err(|e| CgroupError::io(dir, "list", e))?;
                let path = entry.path();
                if !path.is_dir() {
                    fs::remove_file(&path).map_err(|e| CgroupError::io(&path, "remove", e))?;
                }
            }
        }
        remove_dir(dir)
    }

    fn signal(&self, dir: &Path, pid: u32) -> Result<(), CgroupError> {
        let procs = dir.join("cgroup.procs");
        if self.fake {
            // The fake never signals host processes: the killed pid just leaves the list.
            let text = read_file(&procs)?;
            let rest: String = text
                .lines()
                .filter(|l| l.trim() != pid.to_string())
                .map(|l| format!("{l}\n"))
                .collect();
            return write_file(&procs, &rest);
        }
        send_sigkill(pid).map_err(|e| sigkill_error(&procs, pid, e))
    }

    fn set_frozen(&self, group: &str, frozen: bool) -> Result<(), CgroupError> {
        check_group(group)?;
        let dir = self.dir(group);
        let file = dir.join("cgroup.freeze");
        let value = if frozen { "1" } else { "0" };
        if !file.exists() && dir.is_dir() {
            return Err(CgroupError::Unsupported(format!(
                "{} is missing (the cgroup v2 freezer needs Linux 5.2 or later)",
                file.display()
            )));
        }
        self.write(&file, value)?;
        let events = dir.join("cgroup.events");
        let what = format!("\"frozen {value}\"");
        poll_until(&events, &what, || {
            let text = read_file(&events)?;
            Ok(keyed_value(&events, &text, "frozen")? == Some(u64::from(frozen)))
        })
    }

    /// Writes a limit file; a missing file means the controller is not enabled here, which is
    /// fine when the limit is unlimited (`required` false).
    fn write_limit(
        &self,
        dir: &Path,
        file: &str,
        value: &str,
        required: bool,
    ) -> Result<(), CgroupError> {
        let path = dir.join(file);
        missing_limit_file(&path, value, required, self.write(&path, value))
    }
}

/// Sets the `key` line of the fake `cgroup.events` in `dir`.
fn fake_set_event(dir: &Path, key: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.events");
    let text = read_file(&path)?;
    let mut out = String::new();
    for line in text.lines() {
        if line.split_whitespace().next() == Some(key) {
            out.push_str(&format!("{key} {value}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    write_file(&path, &out)
}

/// Applies `+name`/`-name` tokens to the fake `cgroup.subtree_control`, refusing a controller the
/// group's `cgroup.controllers` does not offer, as the kernel does.
fn fake_subtree_control(path: &Path, value: &str) -> Result<(), CgroupError> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let offered = read_file(&dir.join("cgroup.controllers"))?;
    let mut enabled: Vec<String> = read_file(path)?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for token in value.split_whitespace() {
        let (add, name) = match token.split_at_checked(1) {
            Some(("+", name)) => (true, name),
            Some(("-", name)) => (false, name),
            _ => (false, ""),
        };
        if name.is_empty() || !offered.split_whitespace().any(|c| c == name) {
            return Err(CgroupError::io(
                path,
                format!("write {value:?} to"),
                io::Error::new(io::ErrorKind::InvalidInput, "controller not available"),
            ));
        }
        enabled.retain(|c| c != name);
        if add {
            enabled.push(name.to_string());
        }
    }
    write_file(path, &enabled.join(" "))
}

impl CgroupFs for V2 {
    fn kind(&self) -> &'static str {
        if self.fake { "fake" } else { "v2" }
    }

    fn create(&self, group: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        if self.fake {
            if let Some(parent) = self.root.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| CgroupError::io(parent, "create directory", e))?;
            }
            self.make_group_dir(&self.root, true)?;
        }
        let mut dir = self.root.clone();
        for component in group.split('/') {
            self.enable_controllers(&dir)?;
            dir.push(component);
            self.make_group_dir(&dir, false)?;
        }
        Ok(())
    }

    fn set_limits(&self, group: &str, limits: &Limits) -> Result<(), CgroupError> {
        check_group(group)?;
        let dir = self.dir(group);
        let memory = limits.memory_bytes.map(|b| b.to_string());
        let memory_set = memory.is_some();
        self.write_limit(
            &dir,
            "memory.max",
            memory.as_deref().unwrap_or("max"),
            memory_set,
        )?;
        // Without swap accounting there is no memory.swap.max; nothing to limit then.
        let swap = if memory_set { "0" } else { "max" };
        self.write_limit(&dir, "memory.swap.max", swap, false)?;
        let cpu = limits.cpu.map_or_else(
            || "max".to_string(),
            |q| format!("{} {}", q.quota_us, q.period_us),
        );
        self.write_limit(&dir, "cpu.max", &cpu, false)?;
        let pids = limits
            .pids
            .map_or_else(|| "max".to_string(), |p| p.to_string());
        self.write_limit(&dir, "pids.max", &pids, false)
    }

    fn add_process(&self, group: &str, pid: u32) -> Result<(), CgroupError> {
        check_group(group)?;
        self.write(&self.dir(group).join("cgroup.procs"), &pid.to_string())
    }

    fn procs(&self, group: &str) -> Result<Vec<u32>, CgroupError> {
        check_group_or_root(group)?;
        let path = self.dir(group).join("cgroup.procs");
        parse_pids(&path, &read_file(&path)?)
    }

    fn freeze(&self, group: &str) -> Result<(), CgroupError> {
        self.set_frozen(group, true)
    }

    fn thaw(&self, group: &str) -> Result<(), CgroupError> {
        self.set_frozen(group, false)
    }

    fn kill_all(&self, group: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        let dir = self.dir(group);
        let procs = dir.join("cgroup.procs");
        let kill_file = dir.join("cgroup.kill");
        let mut signalled = BTreeSet::new();
        if kill_file.exists() {
            // Linux 5.14+: the kernel kills the group and its descendants, forks included, so
            // the wait sends no signals of its own.
            self.write(&kill_file, "1")?;
            return wait_empty(&procs, || self.procs(group), |_| Ok(()), &mut signalled);
        }
        // Freeze first so that nothing forks between listing and killing; a frozen task still
        // dies of SIGKILL once thawed. Without a freezer (Linux < 5.2) the kill goes ahead and
        // the wait below signals late forks. The group is thawed even when the kill failed.
        let frozen = self.freeze(group);
        let killed = self.procs(group).and_then(|pids| {
            pids.into_iter().try_for_each(|pid| {
                signalled.insert(pid);
                self.signal(&dir, pid)
            })
        });
        let thawed = match frozen {
            Err(CgroupError::Unsupported(_)) => Ok(()),
            _ => self.thaw(group),
        };
        killed?;
        wait_empty(
            &procs,
            || self.procs(group),
            |pid| self.signal(&dir, pid),
            &mut signalled,
        )?;
        thawed
    }

    fn remove(&self, group: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        self.remove_group_dir(&self.dir(group))
    }

    fn oom_kills(&self, group: &str) -> Result<u64, CgroupError> {
        check_group(group)?;
        let dir = self.dir(group);
        match read_optional(&dir, "memory.events")? {
            Some(text) => {
                Ok(keyed_value(&dir.join("memory.events"), &text, "oom_kill")?.unwrap_or(0))
            }
            None => Ok(0),
        }
    }

    fn memory_usage(&self, group: &str) -> Result<Option<u64>, CgroupError> {
        check_group(group)?;
        let dir = self.dir(group);
        read_optional(&dir, "memory.current")?
            .map(|text| parse_u64(&dir.join("memory.current"), &text))
            .transpose()
    }

    fn children(&self, group: &str) -> Result<Vec<String>, CgroupError> {
        check_group_or_root(group)?;
        sub_dirs(&self.dir(group))
    }

    fn exists(&self, group: &str) -> bool {
        check_group_or_root(group).is_ok() && self.dir(group).is_dir()
    }
}

// ---------------------------------------------------------------------------------------------
// cgroup v1.

/// The cgroup v1 layout: the memory, cpu, pids and freezer hierarchies, each mounted on its own
/// or co-mounted (for example `cpu,cpuacct`). A group is a directory of the same name in each of
/// them.
#[derive(Debug)]
pub struct V1 {
    memory: PathBuf,
    cpu: PathBuf,
    pids: PathBuf,
    freezer: PathBuf,
    /// The distinct mount points of the four hierarchies, memory first.
    hierarchies: Vec<PathBuf>,
}

impl V1 {
    /// The v1 layout over the hierarchies in `mounts`; a `Layout` error names the controllers
    /// that are not mounted.
    pub fn new(mounts: &Mounts) -> Result<Self, CgroupError> {
        let get = |name: &str| mounts.v1.get(name).cloned();
        let (memory, cpu, pids, freezer) = (get("memory"), get("cpu"), get("pids"), get("freezer"));
        let missing: Vec<&str> = [
            ("memory", &memory),
            ("cpu", &cpu),
            ("pids", &pids),
            ("freezer", &freezer),
        ]
        .into_iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| n)
        .collect();
        let (Some(memory), Some(cpu), Some(pids), Some(freezer)) = (memory, cpu, pids, freezer)
        else {
            return Err(CgroupError::Layout(format!(
                "cgroup v1 needs the memory, cpu, pids and freezer hierarchies; not mounted: {}",
                missing.join(", ")
            )));
        };
        let mut hierarchies: Vec<PathBuf> = Vec::new();
        for p in [&memory, &cpu, &pids, &freezer] {
            if !hierarchies.contains(p) {
                hierarchies.push(p.clone());
            }
        }
        Ok(V1 {
            memory,
            cpu,
            pids,
            freezer,
            hierarchies,
        })
    }

    fn set_memory(&self, dir: &Path, bytes: Option<u64>) -> Result<(), CgroupError> {
        let limit = dir.join("memory.limit_in_bytes");
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        let value = bytes.map_or_else(|| "-1".to_string(), |b| b.to_string());
        if !memsw.exists() {
            // No swap accounting (swapaccount=0): only the memory limit can be set.
            return write_limit_file(&limit, &value, bytes.is_some());
        }
        // The kernel keeps memsw.limit >= limit at every write, so lowering writes the memory
        // limit first and raising writes the memory+swap limit first.
        let current = parse_u64(&limit, &read_file(&limit)?)?;
        let lowering = bytes.is_some_and(|b| b <= current);
        if lowering {
            write_file(&limit, &value)?;
            write_file(&memsw, &value)
        } else {
            write_file(&memsw, &value)?;
            write_file(&limit, &value)
        }
    }

    fn set_cpu(&self, dir: &Path, cpu: Option<CpuQuota>) -> Result<(), CgroupError> {
        let period = dir.join("cpu.cfs_period_us");
        let quota = dir.join("cpu.cfs_quota_us");
        let Some(cpu) = cpu else {
            return write_limit_file(&quota, "-1", false);
        };
        let current = parse_u64(&period, &read_file(&period)?)?;
        if current != cpu.period_us {
            // A period change under an existing quota is checked against the parent's
            // bandwidth with the old quota, so drop the quota while the period changes.
            write_file(&quota, "-1")?;
            write_file(&period, &cpu.period_us.to_string())?;
        }
        write_file(&quota, &cpu.quota_us.to_string())
    }

    fn freezer_state(&self, group: &str, state: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        let file = self.freezer.join(group).join("freezer.state");
        write_file(&file, state)?;
        poll_until(&file, &format!("freezer.state to read {state}"), || {
            Ok(read_file(&file)?.trim() == state)
        })
    }
}

impl CgroupFs for V1 {
    fn kind(&self) -> &'static str {
        "v1"
    }

    fn create(&self, group: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        for root in &self.hierarchies {
            let mut dir = root.clone();
            for component in group.split('/') {
                dir.push(component);
                make_dir(&dir)?;
            }
        }
        Ok(())
    }

    fn set_limits(&self, group: &str, limits: &Limits) -> Result<(), CgroupError> {
        check_group(group)?;
        let memory = self.memory.join(group);
        self.set_memory(&memory, limits.memory_bytes)?;
        let swappiness = memory.join("memory.swappiness");
        if limits.memory_bytes.is_some() && swappiness.exists() {
            write_file(&swappiness, "0")?;
        }
        self.set_cpu(&self.cpu.join(group), limits.cpu)?;
        let pids = limits
            .pids
            .map_or_else(|| "max".to_string(), |p| p.to_string());
        let path = self.pids.join(group).join("pids.max");
        write_limit_file(&path, &pids, limits.pids.is_some())
    }

    fn add_process(&self, group: &str, pid: u32) -> Result<(), CgroupError> {
        check_group(group)?;
        for root in &self.hierarchies {
            write_file(&root.join(group).join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The union over the hierarchies where the group exists.
    fn procs(&self, group: &str) -> Result<Vec<u32>, CgroupError> {
        check_group_or_root(group)?;
        let mut all = BTreeSet::new();
        let mut found = false;
        for root in &self.hierarchies {
            let dir = group_dir(root, group);
            if let Some(text) = read_optional(&dir, "cgroup.procs")
                .or_else(|e| if dir.is_dir() { Err(e) } else { Ok(None) })?
            {
                found = true;
                all.extend(parse_pids(&dir.join("cgroup.procs"), &text)?);
            }
        }
        if !found {
            let path = group_dir(&self.freezer, group).join("cgroup.procs");
            return Err(CgroupError::io(
                &path,
                "read",
                io::Error::from(io::ErrorKind::NotFound),
            ));
        }
        Ok(all.into_iter().collect())
    }

    fn freeze(&self, group: &str) -> Result<(), CgroupError> {
        self.freezer_state(group, "FROZEN")
    }

    fn thaw(&self, group: &str) -> Result<(), CgroupError> {
        self.freezer_state(group, "THAWED")
    }

    fn kill_all(&self, group: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        let procs_path = self.freezer.join(group).join("cgroup.procs");
        let live: Vec<u32> = self
            .procs(group)?
            .into_iter()
            .filter(|&p| !process_gone(p))
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        // Freeze first so that nothing forks between listing and killing; SIGKILL takes effect
        // once the group thaws. A freeze that fails or times out (a task stuck in the kernel)
        // does not stop the kill: the wait below also signals processes forked meanwhile, and
        // once every process is gone the freeze no longer matters.
        let _ = self.freeze(group);
        let mut signalled = BTreeSet::new();
        let killed = self.procs(group).and_then(|pids| {
            pids.into_iter()
                .filter(|&pid| !process_gone(pid))
                .try_for_each(|pid| {
                    signalled.insert(pid);
                    send_sigkill(pid).map_err(|e| sigkill_error(&procs_path, pid, e))
                })
        });
        let thawed = self.thaw(group);
        killed?;
        wait_empty(
            &procs_path,
            || self.procs(group),
            |pid| send_sigkill(pid).map_err(|e| sigkill_error(&procs_path, pid, e)),
            &mut signalled,
        )?;
        thawed
    }

    fn remove(&self, group: &str) -> Result<(), CgroupError> {
        check_group(group)?;
        let mut first_error = None;
        for root in &self.hierarchies {
            if let Err(e) = remove_dir(&root.join(group)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn oom_kills(&self, group: &str) -> Result<u64, CgroupError> {
        check_group(group)?;
        let dir = self.memory.join(group);
        match read_optional(&dir, "memory.oom_control")? {
            Some(text) => {
                Ok(keyed_value(&dir.join("memory.oom_control"), &text, "oom_kill")?.unwrap_or(0))
            }
            None => Ok(0),
        }
    }

    fn memory_usage(&self, group: &str) -> Result<Option<u64>, CgroupError> {
        check_group(group)?;
        let dir = self.memory.join(group);
        read_optional(&dir, "memory.usage_in_bytes")?
            .map(|text| parse_u64(&dir.join("memory.usage_in_bytes"), &text))
            .transpose()
    }

    /// The union over the hierarchies, so that a group left in only some of them is still found.
    fn children(&self, group: &str) -> Result<Vec<String>, CgroupError> {
        check_group_or_root(group)?;
        let mut all = BTreeSet::new();
        for root in &self.hierarchies {
            all.extend(sub_dirs(&group_dir(root, group))?);
        }
        Ok(all.into_iter().collect())
    }

    fn exists(&self, group: &str) -> bool {
        check_group_or_root(group).is_ok()
            && self
                .hierarchies
                .iter()
                .any(|root| group_dir(root, group).is_dir())
    }
}

// ---------------------------------------------------------------------------------------------
// Mounts and detection.

/// The cgroup mounts found in `/proc/self/mountinfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mounts {
    /// Mount point of the (first) cgroup2 file system.
    pub v2: Option<PathBuf>,
    /// Controller name -> mount point of its v1 hierarchy, one entry per controller of a
    /// co-mounted hierarchy (`cpu` and `cpuacct` both map to `/sys/fs/cgroup/cpu,cpuacct`).
    pub v1: BTreeMap<String, PathBuf>,
}

/// Super options of a v1 cgroup mount that are not controllers.
const V1_NON_CONTROLLERS: [&str; 7] = [
    "rw",
    "ro",
    "noprefix",
    "clone_children",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
];

/// Undoes the octal escapes (`\040` for a space, `\011`, `\012`, `\134`) of mountinfo paths.
fn unescape_mount_path(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = u32::from(bytes[i + 1] - b'0') * 64
                + u32::from(bytes[i + 2] - b'0') * 8
                + u32::from(bytes[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(out))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Parses `/proc/self/mountinfo` text: the mount point is the fifth field, and after the `-`
/// separator come the file system type, the source and the super options. A `cgroup2` mount
/// gives `v2` (the first one wins); a `cgroup` mount gives one `v1` entry per controller named in
/// its super options (`rw,cpu,cpuacct`), ignoring `rw`, `ro`, `name=...` and other
/// non-controller options. Malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Mounts {
    let mut mounts = Mounts::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(sep) = fields.iter().skip(6).position(|f| *f == "-").map(|p| p + 6) else {
            continue;
        };
        let (Some(mount_point), Some(fstype)) = (fields.get(4), fields.get(sep + 1)) else {
            continue;
        };
        let super_options = fields.get(sep + 3).copied().unwrap_or("");
        match *fstype {
            "cgroup2" if mounts.v2.is_none() => {
                mounts.v2 = Some(unescape_mount_path(mount_point));
            }
            "cgroup" => {
                let point = unescape_mount_path(mount_point);
                for option in super_options.split(',') {
                    if option.is_empty()
                        || option.contains('=')
                        || V1_NON_CONTROLLERS.contains(&option)
                    {
                        continue;
                    }
                    mounts
                        .v1
                        .entry(option.to_string())
                        .or_insert_with(|| point.clone());
                }
            }
            _ => {}
        }
    }
    mounts
}

/// Whether the cgroup2 tree at `root` offers the memory controller.
fn v2_has_memory(root: &Path) -> Result<bool, String> {
    let path = root.join("cgroup.controllers");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.split_whitespace().any(|c| c == "memory")),
        Err(e) => Err(format!("read {}: {e}", path.display())),
    }
}

/// Chooses a layout from the mounts and an optional `v1`/`v2` override.
fn detect_in(mounts: &Mounts, choice: Option<&str>) -> Result<Box<dyn CgroupFs>, CgroupError> {
    match choice.map(str::trim) {
        Some("v1") => return Ok(Box::new(V1::new(mounts)?)),
        Some("v2") => {
            return match &mounts.v2 {
                Some(root) => Ok(Box::new(V2::new(root.clone()))),
                None => Err(CgroupError::Layout(
                    "LAMBDASIM_CGROUP=v2 but no cgroup2 file system is mounted".to_string(),
                )),
            };
        }
        Some("") | None => {}
        Some(other) => {
            return Err(CgroupError::Layout(format!(
                "LAMBDASIM_CGROUP={other:?}: expected \"v1\" or \"v2\""
            )));
        }
    }
    let v2_problem = match &mounts.v2 {
        Some(root) => match v2_has_memory(root) {
            Ok(true) => return Ok(Box::new(V2::new(root.clone()))),
            Ok(false) => format!(
                "the cgroup2 tree at {} has no memory controller in cgroup.controllers",
                root.display()
            ),
            Err(e) => e,
        },
        None => "no cgroup2 file system is mounted".to_string(),
    };
    V1::new(mounts)
        .map(|v1| Box::new(v1) as Box<dyn CgroupFs>)
        .map_err(|e| {
            CgroupError::Layout(format!(
                "no usable cgroup layout: {v2_problem}, and {}",
                match e {
                    CgroupError::Layout(m) => m,
                    other => other.to_string(),
                }
            ))
        })
}

/// The host's layout: pure v2 (a cgroup2 mount whose `cgroup.controllers` lists the memory
/// controller) gives `V2`; otherwise v1 with the memory, cpu, pids and freezer hierarchies
/// mounted gives `V1`; otherwise a `Layout` error naming what is missing. The environment
/// variable `LAMBDASIM_CGROUP=v1|v2` overrides the choice (`v2` uses the cgroup2 mount).
pub fn detect() -> Result<Box<dyn CgroupFs>, CgroupError> {
    let path = Path::new("/proc/self/mountinfo");
    let mounts = parse_mountinfo(&read_file(path)?);
    let choice = std::env::var("LAMBDASIM_CGROUP").ok();
    detect_in(&mounts, choice.as_deref())
}

/// Whether the process may manage cgroups in this layout: it creates and removes a probe group
/// `lambdasim-probe-<pid>`, which works for root (effective uid 0) on a writable cgroup mount or
/// for a user owning a delegated subtree mounted as the root. Otherwise an `Unsupported` error
/// says what is required.
pub fn check_privileges(fs: &dyn CgroupFs) -> Result<(), CgroupError> {
    let probe = format!("lambdasim-probe-{}", std::process::id());
    let result = fs.create(&probe).and_then(|()| fs.remove(&probe));
    let Err(e) = result else {
        return Ok(());
    };
    let _ = fs.remove(&probe);
    let who = match effective_uid() {
        Some(0) => "running as root, but the cgroup file system refused a new group \
                    (is it mounted read-only, as in an unprivileged container?)"
            .to_string(),
        Some(uid) => format!("running as effective uid {uid}"),
        None => "effective uid unknown".to_string(),
    };
    Err(CgroupError::Unsupported(format!(
        "managing {} cgroups requires root (effective uid 0) or write access to a delegated \
         cgroup subtree at the mount root; {who}: {e}",
        fs.kind()
    )))
}

// ---------------------------------------------------------------------------------------------
// Pool and tree removal.

/// A pool of pre-created child groups under one parent, as OpenLambda keeps: `take` returns a
/// ready group (creating one when the pool is empty, and reporting whether it was pooled),
/// `give_back` kills what is left in it and returns it to the pool, or removes it when the pool
/// already holds `capacity` groups. Members are named `<parent>/p<counter>`. Dropping the pool
/// leaves its groups in place; `drain` (or `remove_tree` on the parent) removes them.
pub struct Pool {
    fs: Arc<dyn CgroupFs>,
    parent: String,
    capacity: usize,
    free: Vec<String>,
    counter: u64,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("kind", &self.fs.kind())
            .field("parent", &self.parent)
            .field("capacity", &self.capacity)
            .field("free", &self.free)
            .finish()
    }
}

impl Pool {
    /// An empty pool of groups below `parent` holding at most `capacity` idle groups.
    pub fn new(fs: Arc<dyn CgroupFs>, parent: String, capacity: usize) -> Self {
        Pool {
            fs,
            parent,
            capacity,
            free: Vec::new(),
            counter: 0,
        }
    }

    /// A fresh member: the next `<parent>/p<counter>` that does not exist yet, created.
    fn create_member(&mut self) -> Result<String, CgroupError> {
        loop {
            let name = format!("{}/p{}", self.parent, self.counter);
            self.counter += 1;
            if !self.fs.exists(&name) {
                self.fs.create(&name)?;
                return Ok(name);
            }
        }
    }

    /// Creates groups until the pool holds `n` of them (at most `capacity`).
    pub fn fill(&mut self, n: usize) -> Result<(), CgroupError> {
        while self.free.len() < n.min(self.capacity) {
            let name = self.create_member()?;
            self.free.push(name);
        }
        Ok(())
    }

    /// A group with `limits` applied, and whether it came from the pool (`true`) or was created
    /// now (`false`). A group whose limits cannot be set is removed again.
    pub fn take(&mut self, limits: &Limits) -> Result<(String, bool), CgroupError> {
        let (group, pooled) = match self.free.pop() {
            Some(group) => (group, true),
            None => (self.create_member()?, false),
        };
        if let Err(e) = self.fs.set_limits(&group, limits) {
            let _ = self.fs.remove(&group);
            return Err(e);
        }
        Ok((group, pooled))
    }

    /// Kills every process left in `group` (and removes any child groups it grew), then pools
    /// it, or removes it when the pool is full. The caller must have reaped the processes it
    /// spawned into the group for the removal to succeed. A group that is not a member of this
    /// pool is a `Layout` error.
    pub fn give_back(&mut self, group: String) -> Result<(), CgroupError> {
        let prefix = format!("{}/p", self.parent);
        let member = group
            .strip_prefix(&prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !member {
            return Err(CgroupError::Layout(format!(
                "{group:?} is not a member of the pool under {:?}",
                self.parent
            )));
        }
        for child in self.fs.children(&group)? {
            remove_tree(self.fs.as_ref(), &format!("{group}/{child}"))?;
        }
        self.fs.kill_all(&group)?;
        if self.free.len() < self.capacity {
            self.free.push(group);
            Ok(())
        } else {
            self.fs.remove(&group)
        }
    }

    /// Removes every pooled group. Groups that cannot be removed stay pooled and the first error
    /// is returned.
    pub fn drain(&mut self) -> Result<(), CgroupError> {
        let mut first_error = None;
        let mut kept = Vec::new();
        for group in std::mem::take(&mut self.free) {
            if let Err(e) = self.fs.remove(&group) {
                kept.push(group);
                first_error.get_or_insert(e);
            }
        }
        self.free = kept;
        first_error.map_or(Ok(()), Err)
    }

    /// How many idle groups the pool holds.
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// Whether the pool holds no idle group.
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }
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
    fs.remove(group)?;
    Ok(removed + 1)
}

#[cfg(test)]
mod tests {
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
