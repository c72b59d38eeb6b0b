//! cgroup v1: one hierarchy per controller (memory, cpu, pids, freezer).

use super::*;

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
    pub(super) hierarchies: Vec<PathBuf>,
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
