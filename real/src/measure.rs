//! Microbenchmarks of the real backend's operations on this host (`lambdasim bench --real`):
//! each operation is timed `trials` times with the same primitives the backend uses, and
//! reported as percentiles. These are the numbers a cost model of this host starts from.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use workloads::packages::{Package, PackageCatalog};

use crate::cgroup::{CgroupFs, Limits, Pool, remove_tree};
use crate::channel::Channel;
use crate::confine::{SANDBOX_GID, SANDBOX_UID};
use crate::runner::View;
use crate::spawn::{Namespaces, fork_from_zygote, spawn_runner};
use crate::store::{InstallDir, Registry};

/// The timings of one operation, in µs.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// A short name for files, such as `create_pooled`.
    pub key: &'static str,
    pub name: &'static str,
    pub micros: Vec<u64>,
}

impl Series {
    pub(crate) fn new(key: &'static str, name: &'static str) -> Self {
        Series {
            key,
            name,
            micros: Vec::new(),
        }
    }

    fn time<T, E>(&mut self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let t = Instant::now();
        let r = f()?;
        self.micros.push(t.elapsed().as_micros() as u64);
        Ok(r)
    }

    /// The `q` quantile (nearest rank), in µs.
    pub fn quantile(&self, q: f64) -> u64 {
        let mut v = self.micros.clone();
        v.sort_unstable();
        if v.is_empty() {
            return 0;
        }
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }

    pub fn mean(&self) -> f64 {
        if self.micros.is_empty() {
            0.0
        } else {
            self.micros.iter().sum::<u64>() as f64 / self.micros.len() as f64
        }
    }
}

/// The package imported and installed by the import and install measurements: numpy's import
/// cost as SOCK and ReqBench measured it (59 ms, 5.8 MB), with 20 MB of files.
pub fn numpy_like() -> Package {
    Package {
        name: "numpy-like".into(),
        version: "1".into(),
        deps: Vec::new(),
        install_ms: 0.0,
        disk_bytes: 20 << 20,
        import_ms: 59.0,
        import_mb: 5.8,
        popularity: 1.0,
    }
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Report {
    pub series: Vec<Series>,
    /// No-op invocations per second with `sandboxes` sandboxes each running them back to back.
    pub noop_per_s: f64,
    pub sandboxes: usize,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// Runs the measurements under cgroup `lambdasim/<pid>/bench` and in `work_dir`; removes both.
pub fn measure(
    fs: Arc<dyn CgroupFs>,
    runner: &Path,
    work_dir: &Path,
    trials: usize,
) -> Result<Report, String> {
    let root = format!("lambdasim/{}/bench", std::process::id());
    fs.create(&root)
        .map_err(|e| err("creating the bench cgroup", e))?;
    let result = run(&fs, &root, runner, work_dir, trials.max(1));
    let _ = remove_tree(fs.as_ref(), &format!("lambdasim/{}", std::process::id()));
    let _ = fs.remove("lambdasim");
    let _ = std::fs::remove_dir_all(work_dir);
    result
}

/// A runner in `group`, ready.
fn start(fs: &dyn CgroupFs, runner: &Path, group: &str, pid_ns: bool) -> Result<Channel, String> {
    start_in(fs, runner, group, pid_ns, &View::default(), false)
}

/// A runner in `group` with view `view`, confined if `confine`, ready.
fn start_in(
    fs: &dyn CgroupFs,
    runner: &Path,
    group: &str,
    pid_ns: bool,
    view: &View,
    confine: bool,
) -> Result<Channel, String> {
    let (pid, channel) = spawn_runner(
        runner,
        Namespaces {
            pid: pid_ns,
            net: false,
        },
        view,
    )
    .map_err(|e| err("starting a runner", e))?;
    fs.add_process(group, pid.as_raw() as u32)
        .map_err(|e| err("adding a runner to its cgroup", e))?;
    channel
        .expect("ready")
        .map_err(|e| err("waiting for a runner", e))?;
    if confine {
        confine_runner(&channel)?;
    }
    Ok(channel)
}

/// Confines a runner that is in its cgroup, as the backend does.
fn confine_runner(channel: &Channel) -> Result<(), String> {
    channel
        .send(&format!("confine\t{SANDBOX_UID}\t{SANDBOX_GID}"))
        .and_then(|()| channel.expect("ok"))
        .map(drop)
        .map_err(|e| err("confining a runner", e))
}

/// The confined view the backend gives sandboxes: the host's root read-only on `work/root`,
/// with the scratch directory `work/scratch` writable.
fn confined_view(work_dir: &Path) -> Result<View, String> {
    let (root, scratch) = (work_dir.join("root"), work_dir.join("scratch"));
    for d in [&root, &scratch] {
        std::fs::create_dir_all(d).map_err(|e| err(&format!("creating {}", d.display()), e))?;
    }
    std::os::unix::fs::chown(&scratch, Some(SANDBOX_UID), Some(SANDBOX_GID))
        .map_err(|e| err("handing the scratch directory to the sandbox", e))?;
    Ok(View {
        scratch: Some(scratch),
        root: Some(root),
        net: false,
    })
}

fn run(
    fs: &Arc<dyn CgroupFs>,
    root: &str,
    runner: &Path,
    work_dir: &Path,
    trials: usize,
) -> Result<Report, String> {
    let limits = Limits {
        memory_bytes: Some(128 << 20),
        cpu: None,
        pids: Some(64),
    };
    let mut cg_fresh = Series::new("cgroup_fresh", "cgroup create + limits (fresh)");
    let mut cg_pooled = Series::new("cgroup_pooled", "cgroup take (pooled)");
    let mut create_fresh = Series::new("create_fresh", "sandbox create, fresh cgroup");
    let mut create_pooled = Series::new("create_pooled", "sandbox create, pooled cgroup");
    let mut create_confined =
        Series::new("create_confined", "sandbox create, pooled cgroup, confined");
    let mut runner_start = Series::new("runner_start", "runner start (clone, exec, ready)");
    let mut warm = Series::new("warm", "warm invocation overhead (no-op)");
    let mut pause = Series::new("pause", "pause (freeze)");
    let mut unpause = Series::new("unpause", "unpause (thaw)");
    let mut destroy = Series::new("destroy", "destroy (kill, wait, return cgroup)");
    let mut fork = Series::new("fork", "zygote fork (into a pooled cgroup)");
    let mut fork_confined = Series::new("fork_confined", "zygote fork, confined");
    let mut import = Series::new("import", "package import (59 ms CPU, 5.8 MB, 20 MB files)");
    let mut install = Series::new("install", "package install (20 MB unpacked)");
    let mut exec = Series::new("exec_10ms", "invocation of 10 ms, busy (round trip)");

    let mut pool = Pool::new(fs.clone(), format!("{root}/pool"), trials * 2);
    fs.create(&format!("{root}/pool"))
        .map_err(|e| err("creating the pool's cgroup", e))?;
    pool.fill(trials)
        .map_err(|e| err("filling the cgroup pool", e))?;

    // Fresh cgroups, and sandboxes in them.
    for i in 0..trials {
        let group = format!("{root}/fresh{i}");
        let t = Instant::now();
        cg_fresh
            .time(|| {
                fs.create(&group)
                    .and_then(|()| fs.set_limits(&group, &limits))
            })
            .map_err(|e| err("creating a cgroup", e))?;
        let channel = runner_start.time(|| start(fs.as_ref(), runner, &group, true))?;
        create_fresh.micros.push(t.elapsed().as_micros() as u64);
        drop(channel);
        destroy
            .time(|| fs.kill_all(&group).and_then(|()| fs.remove(&group)))
            .map_err(|e| err("destroying a sandbox", e))?;
    }

    // Pooled cgroups: the sandboxes stay up for the warm, pause and unpause measurements.
    let mut sandboxes: Vec<(String, Channel)> = Vec::new();
    for _ in 0..trials {
        let t = Instant::now();
        let (group, _) = cg_pooled
            .time(|| pool.take(&limits))
            .map_err(|e| err("taking a pooled cgroup", e))?;
        let channel = start(fs.as_ref(), runner, &group, true)?;
        create_pooled.micros.push(t.elapsed().as_micros() as u64);
        sandboxes.push((group, channel));
    }
    // The same, confined as the backend confines them by default.
    let view = confined_view(work_dir)?;
    for _ in 0..trials {
        let t = Instant::now();
        let (group, _) = pool
            .take(&limits)
            .map_err(|e| err("taking a pooled cgroup", e))?;
        let channel = start_in(fs.as_ref(), runner, &group, true, &view, true)?;
        create_confined.micros.push(t.elapsed().as_micros() as u64);
        drop(channel);
        pool.give_back(group)
            .map_err(|e| err("returning a cgroup", e))?;
    }
    for (i, (group, channel)) in sandboxes.iter().enumerate() {
        for j in 0..4 {
            warm.time(|| {
                channel
                    .send(&format!("run\t{}\t0\t0\tbusy", i * 4 + j))
                    .and_then(|()| channel.expect("done"))
            })
            .map_err(|e| err("a no-op invocation", e))?;
        }
        exec.time(|| {
            channel
                .send(&format!("run\t{}\t10000\t0\tbusy", i))
                .and_then(|()| channel.expect("done"))
        })
        .map_err(|e| err("a 10 ms invocation", e))?;
        pause
            .time(|| fs.freeze(group))
            .map_err(|e| err("pausing", e))?;
        unpause
            .time(|| fs.thaw(group))
            .map_err(|e| err("unpausing", e))?;
    }

    // No-op throughput: every sandbox runs no-op invocations back to back for two seconds.
    let count = std::sync::atomic::AtomicU64::new(0);
    let seconds = 2.0;
    std::thread::scope(|s| {
        for (_, channel) in sandboxes.iter().take(8) {
            let count = &count;
            s.spawn(move || {
                let end = Instant::now() + Duration::from_secs_f64(seconds);
                while Instant::now() < end {
                    if channel
                        .send("run\t0\t0\t0\tbusy")
                        .and_then(|()| channel.expect("done"))
                        .is_err()
                    {
                        return;
                    }
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let noop_sandboxes = sandboxes.len().min(8);
    let noop_per_s = count.into_inner() as f64 / seconds;
    for (group, channel) in sandboxes.drain(..) {
        drop(channel);
        pool.give_back(group)
            .map_err(|e| err("returning a cgroup", e))?;
    }

    // Packages: install into a work directory, import in fresh sandboxes, fork from a zygote.
    let package = numpy_like();
    let catalog = PackageCatalog {
        packages: vec![package.clone()],
    };
    let registry = Registry::create(&work_dir.join("registry"), &catalog, 1.0)
        .map_err(|e| err("building the registry", e))?;
    let dir = InstallDir::new(work_dir.join("w0")).map_err(|e| err("install directory", e))?;
    for _ in 0..trials.min(50) {
        install
            .time(|| dir.install(&registry, &package))
            .map_err(|e| err("installing", e))?;
        dir.uninstall(&package)
            .map_err(|e| err("uninstalling", e))?;
    }
    dir.install(&registry, &package)
        .map_err(|e| err("installing", e))?;
    let import_command = format!(
        "import\t{}\t{}\t{}",
        dir.package_dir(&package).display(),
        package.import_mb,
        package.import_ms
    );
    for _ in 0..trials.min(50) {
        let (group, _) = pool
            .take(&limits)
            .map_err(|e| err("taking a pooled cgroup", e))?;
        let channel = start(fs.as_ref(), runner, &group, true)?;
        import
            .time(|| {
                channel
                    .send(&import_command)
                    .and_then(|()| channel.expect("ok"))
            })
            .map_err(|e| err("importing", e))?;
        drop(channel);
        pool.give_back(group)
            .map_err(|e| err("returning a cgroup", e))?;
    }
    let (zgroup, _) = pool
        .take(&Limits {
            memory_bytes: Some(256 << 20),
            ..limits
        })
        .map_err(|e| err("taking a pooled cgroup", e))?;
    let zygote = start(fs.as_ref(), runner, &zgroup, false)?;
    zygote
        .send(&import_command)
        .and_then(|()| zygote.expect("ok"))
        .map_err(|e| err("importing in the zygote", e))?;
    for _ in 0..trials {
        let (group, _) = pool
            .take(&limits)
            .map_err(|e| err("taking a pooled cgroup", e))?;
        let t = Instant::now();
        let (pid, channel) = fork_from_zygote(&zygote, Some(&View::default()))
            .map_err(|e| err("forking from the zygote", e))?;
        fs.add_process(&group, pid.as_raw() as u32)
            .map_err(|e| err("moving a forked sandbox", e))?;
        fork.micros.push(t.elapsed().as_micros() as u64);
        drop(channel);
        pool.give_back(group)
            .map_err(|e| err("returning a cgroup", e))?;
    }
    for _ in 0..trials {
        let (group, _) = pool
            .take(&limits)
            .map_err(|e| err("taking a pooled cgroup", e))?;
        let t = Instant::now();
        let (pid, channel) = fork_from_zygote(&zygote, Some(&view))
            .map_err(|e| err("forking from the zygote", e))?;
        fs.add_process(&group, pid.as_raw() as u32)
            .map_err(|e| err("moving a forked sandbox", e))?;
        confine_runner(&channel)?;
        fork_confined.micros.push(t.elapsed().as_micros() as u64);
        drop(channel);
        pool.give_back(group)
            .map_err(|e| err("returning a cgroup", e))?;
    }
    drop(zygote);
    let _ = pool.give_back(zgroup);
    let _ = pool.drain();

    Ok(Report {
        series: vec![
            cg_fresh,
            cg_pooled,
            runner_start,
            create_fresh,
            create_pooled,
            create_confined,
            warm,
            exec,
            pause,
            unpause,
            destroy,
            fork,
            fork_confined,
            install,
            import,
        ],
        noop_per_s,
        sandboxes: noop_sandboxes,
    })
}

/// Timings as a Markdown table: trials, p50, p99 and mean of each.
pub fn table(series: &[&Series]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| operation | trials | p50 ms | p99 ms | mean ms |\n|---|---:|---:|---:|---:|\n",
    );
    for s in series {
        let ms = |us: u64| us as f64 / 1000.0;
        let _ = writeln!(
            out,
            "| {} | {} | {:.3} | {:.3} | {:.3} |",
            s.name,
            s.micros.len(),
            ms(s.quantile(0.5)),
            ms(s.quantile(0.99)),
            s.mean() / 1000.0
        );
    }
    out
}

/// The report as a table.
pub fn render(report: &Report, kind: &str, trials: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lambdasim bench --real: cgroup {kind}, {trials} trials per operation (imports and installs: at most 50)\n"
    );
    out.push_str(&table(&report.series.iter().collect::<Vec<_>>()));
    let _ = writeln!(
        out,
        "\nno-op invocations: {:.0} per second ({} sandboxes running them back to back)",
        report.noop_per_s, report.sandboxes
    );
    out
}
