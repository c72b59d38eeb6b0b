//! Install-cache policies: which installed packages leave a worker's disk when a cold start needs
//! room for the packages it installs.
//!
//! In a scenario file: `[packages] install_cache = { kind = "lru", disk_mb = 2048 }`.
//!
//! - `none`: nothing is kept; every cold start installs all of its function's packages.
//! - `unbounded`: every installed package stays (OpenLambda today: its install directory only
//!   grows).
//! - `lru`: a disk limit; the least recently used packages (by the last cold start that needed
//!   them) go first, ties by package id.
//! - `gdsf`: a disk limit; Greedy-Dual-Size-Frequency (Cherkasova, HP Labs 1998), the
//!   web-cache policy FaasCache adapted to sandboxes, applied to packages: priority
//!   `clock + uses x install time / size`, set when a cold start uses the package; the lowest goes
//!   first, and the worker's clock becomes the priority of the last package removed. Ties by
//!   package id.

use serde::{Deserialize, Serialize};
use sim::install_cache::InstallCaches;
use sim::{InstallPolicy, WorkerId};
use workloads::Time;
use workloads::packages::{PackageCatalog, PackageId};

/// An install-cache policy and its disk limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum InstallCacheConfig {
    None {},
    #[default]
    Unbounded,
    Lru {
        disk_mb: u64,
    },
    Gdsf {
        disk_mb: u64,
    },
}

impl InstallCacheConfig {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            InstallCacheConfig::Lru { disk_mb: 0 } | InstallCacheConfig::Gdsf { disk_mb: 0 } => {
                Err("install_cache.disk_mb must be at least 1, got 0".into())
            }
            _ => Ok(()),
        }
    }

    /// The policy and the disk limit in bytes (`None`: unlimited); `None` for no caching at all.
    pub fn build(&self) -> Option<(Box<dyn InstallPolicy>, Option<u64>)> {
        match *self {
            InstallCacheConfig::None {} => None,
            InstallCacheConfig::Unbounded => Some((Box::new(Lru), None)),
            InstallCacheConfig::Lru { disk_mb } => Some((Box::new(Lru), Some(disk_mb << 20))),
            InstallCacheConfig::Gdsf { disk_mb } => {
                Some((Box::new(Gdsf::default()), Some(disk_mb << 20)))
            }
        }
    }

    pub fn label(&self) -> String {
        match self {
            InstallCacheConfig::None {} => "none".into(),
            InstallCacheConfig::Unbounded => "unbounded".into(),
            InstallCacheConfig::Lru { disk_mb } => format!("lru({disk_mb} MB)"),
            InstallCacheConfig::Gdsf { disk_mb } => format!("gdsf({disk_mb} MB)"),
        }
    }
}

/// Least recently used first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lru;

impl InstallPolicy for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_bytes: u64,
        keep: &[PackageId],
        caches: &InstallCaches,
        catalog: &PackageCatalog,
        victims: &mut Vec<PackageId>,
    ) {
        let mut candidates: Vec<(Time, PackageId)> = caches
            .installed(worker)
            .filter(|(p, _)| !keep.contains(p))
            .map(|(p, e)| (e.last_used, p))
            .collect();
        candidates.sort_unstable();
        take_until(candidates, need_bytes, catalog, victims);
    }
}

/// Greedy-Dual-Size-Frequency with install time as the cost.
#[derive(Clone, Debug, Default)]
pub struct Gdsf {
    /// Per worker: the clock, and each package's priority.
    clock: Vec<f64>,
    priority: Vec<Vec<f64>>,
}

impl Gdsf {
    fn worker(&mut self, worker: WorkerId, packages: usize) -> (&mut f64, &mut Vec<f64>) {
        let w = worker.index();
        if self.clock.len() <= w {
            self.clock.resize(w + 1, 0.0);
            self.priority.resize(w + 1, Vec::new());
        }
        if self.priority[w].len() < packages {
            self.priority[w].resize(packages, 0.0);
        }
        (&mut self.clock[w], &mut self.priority[w])
    }
}

impl InstallPolicy for Gdsf {
    fn name(&self) -> &'static str {
        "gdsf"
    }

    fn on_use(
        &mut self,
        _now: Time,
        worker: WorkerId,
        package: PackageId,
        caches: &InstallCaches,
        catalog: &PackageCatalog,
    ) {
        let entry = *caches.entry(worker, package);
        if !entry.installed {
            return;
        }
        let p = catalog.package(package);
        let (clock, priority) = self.worker(worker, catalog.len());
        priority[package.index()] =
            *clock + entry.uses as f64 * p.install_ms / (p.disk_bytes.max(1) as f64);
    }

    fn choose_victims(
        &mut self,
        _now: Time,
        worker: WorkerId,
        need_bytes: u64,
        keep: &[PackageId],
        caches: &InstallCaches,
        catalog: &PackageCatalog,
        victims: &mut Vec<PackageId>,
    ) {
        let installed: Vec<PackageId> = caches
            .installed(worker)
            .map(|(p, _)| p)
            .filter(|p| !keep.contains(p))
            .collect();
        let (clock, priority) = self.worker(worker, catalog.len());
        let mut candidates: Vec<(f64, PackageId)> = installed
            .into_iter()
            .map(|p| (priority[p.index()], p))
            .collect();
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // The clock moves only if the victims free enough, which is when the controller removes
        // them.
        if let Some(last) = take_until(candidates, need_bytes, catalog, victims) {
            *clock = last;
        }
    }
}

/// Appends packages from `ordered` (first to go first) to `victims` until they free
/// `need_bytes`; returns the key of the last one taken if they free enough.
fn take_until<K: Copy>(
    ordered: Vec<(K, PackageId)>,
    need_bytes: u64,
    catalog: &PackageCatalog,
    victims: &mut Vec<PackageId>,
) -> Option<K> {
    let mut freed = 0;
    let mut last = None;
    for (key, p) in ordered {
        if freed >= need_bytes {
            break;
        }
        victims.push(p);
        freed += catalog.package(p).disk_bytes;
        last = Some(key);
    }
    last.filter(|_| freed >= need_bytes)
}
