//! cgroup v2: one unified tree, and a fake of it in a plain directory for tests.

use super::*;

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

    pub(super) fn dir(&self, group: &str) -> PathBuf {
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
