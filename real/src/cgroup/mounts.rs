//! Which cgroup layout this host has: `/proc/self/mountinfo`, detection and the privilege check.

use super::*;

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
pub(super) fn v2_has_memory(root: &Path) -> Result<bool, String> {
    let path = root.join("cgroup.controllers");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.split_whitespace().any(|c| c == "memory")),
        Err(e) => Err(format!("read {}: {e}", path.display())),
    }
}

/// Chooses a layout from the mounts and an optional `v1`/`v2` override.
pub(super) fn detect_in(
    mounts: &Mounts,
    choice: Option<&str>,
) -> Result<Box<dyn CgroupFs>, CgroupError> {
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

/// Every layout mounted on this host: v1 when its hierarchies are mounted, v2 when a cgroup2
/// file system is, whatever its controllers. A run may have used either (`LAMBDASIM_CGROUP`), so
/// `cleanup` looks in each.
pub fn every_layout() -> Result<Vec<Box<dyn CgroupFs>>, CgroupError> {
    let mounts = parse_mountinfo(&read_file(Path::new("/proc/self/mountinfo"))?);
    let mut layouts: Vec<Box<dyn CgroupFs>> = Vec::new();
    if let Ok(v1) = V1::new(&mounts) {
        layouts.push(Box::new(v1));
    }
    if let Some(root) = &mounts.v2 {
        layouts.push(Box::new(V2::new(root.clone())));
    }
    if layouts.is_empty() {
        // The reason, as detection gives it.
        detect_in(&mounts, None)?;
    }
    Ok(layouts)
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
