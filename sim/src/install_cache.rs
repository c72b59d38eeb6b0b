//! Per-worker install caches: which packages a worker has on disk.
//!
//! A cold start of a function needs all its packages installed on its worker. Packages already
//! there are hits; the rest are installed by the new sandbox, one after another, and join the
//! cache. (A package another cold start is still installing counts as a hit here; the backend
//! makes the sandbox wait for it.) When the worker's disk is full, the
//! [`crate::policy::InstallPolicy`] chooses installed packages to remove; packages that do not
//! fit even then are installed for the sandbox alone and not kept.
//!
//! OpenLambda keeps every installed package ("unbounded"); the policies in `policies::install`
//! add a disk limit with LRU or Greedy-Dual-Size-Frequency eviction.

use workloads::Time;
use workloads::packages::{PackageCatalog, PackageId};

use crate::WorkerId;

/// One package on one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub installed: bool,
    /// When a cold start last needed it.
    pub last_used: Time,
    /// Cold starts that needed it since it was installed, the installing one included.
    pub uses: u64,
}

/// What a cold start must do about its packages on a worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstallPlan {
    /// Packages to install, in id order.
    pub missing: Vec<PackageId>,
    /// Packages already installed (or being installed by another cold start).
    pub hits: Vec<PackageId>,
}

/// The install caches of all workers.
#[derive(Clone, Debug)]
pub struct InstallCaches {
    /// `entries[worker][package]`, sized to the catalogue.
    entries: Vec<Vec<Entry>>,
    used_bytes: Vec<u64>,
    /// Disk for packages per worker; `None` is unlimited.
    capacity_bytes: Option<u64>,
}

impl InstallCaches {
    pub fn new(workers: usize, packages: usize, capacity_bytes: Option<u64>) -> Self {
        InstallCaches {
            entries: vec![vec![Entry::default(); packages]; workers],
            used_bytes: vec![0; workers],
            capacity_bytes,
        }
    }

    pub fn entry(&self, worker: WorkerId, package: PackageId) -> &Entry {
        &self.entries[worker.index()][package.index()]
    }

    pub fn used_bytes(&self, worker: WorkerId) -> u64 {
        self.used_bytes[worker.index()]
    }

    pub fn capacity_bytes(&self) -> Option<u64> {
        self.capacity_bytes
    }

    /// Installed packages on `worker` (including those still being installed), in id order.
    pub fn installed(&self, worker: WorkerId) -> impl Iterator<Item = (PackageId, &Entry)> + '_ {
        self.entries[worker.index()]
            .iter()
            .enumerate()
            .filter(|(_, e)| e.installed)
            .map(|(i, e)| (PackageId(i as u32), e))
    }

    /// What a cold start needing `packages` on `worker` must install.
    pub fn plan(&self, worker: WorkerId, packages: &[PackageId]) -> InstallPlan {
        let mut plan = InstallPlan::default();
        for &p in packages {
            if self.entry(worker, p).installed {
                plan.hits.push(p);
            } else {
                plan.missing.push(p);
            }
        }
        plan
    }

    /// Bytes that must be freed on `worker` before `bytes` more fit.
    pub fn shortfall(&self, worker: WorkerId, bytes: u64) -> u64 {
        match self.capacity_bytes {
            None => 0,
            Some(cap) => (self.used_bytes[worker.index()] + bytes).saturating_sub(cap),
        }
    }

    /// Records that a cold start at `now` uses `packages`: all are touched, and the `kept` ones
    /// (installed by it and fitting on disk) join the cache.
    pub(crate) fn record(
        &mut self,
        worker: WorkerId,
        packages: &[PackageId],
        kept: &[PackageId],
        now: Time,
        catalog: &PackageCatalog,
    ) {
        for &p in kept {
            let e = &mut self.entries[worker.index()][p.index()];
            *e = Entry {
                installed: true,
                last_used: now,
                uses: 0,
            };
            self.used_bytes[worker.index()] += catalog.package(p).disk_bytes;
        }
        for &p in packages {
            let e = &mut self.entries[worker.index()][p.index()];
            if e.installed {
                e.last_used = now;
                e.uses += 1;
            }
        }
    }

    /// Removes an installed package from `worker`'s disk.
    pub(crate) fn remove(
        &mut self,
        worker: WorkerId,
        package: PackageId,
        catalog: &PackageCatalog,
    ) {
        let e = &mut self.entries[worker.index()][package.index()];
        if e.installed {
            *e = Entry::default();
            self.used_bytes[worker.index()] -= catalog.package(package).disk_bytes;
        }
    }
}
