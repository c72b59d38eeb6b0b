//! The package catalogue: the libraries functions install and import, what each costs and how
//! popular it is.
//!
//! OpenLambda's measurements motivate the model: cold starts of Python functions are dominated by
//! packages. SOCK (Oakes et al., USENIX ATC 2018) finds that importing popular libraries adds about
//! 100 ms to startup and that installing packages takes seconds; ReqBench (Yang et al., WoSC 2024,
//! the benchmark of OpenLambda's Forklift zygote trees) measures install and import costs of the
//! packages pinned by 9,678 GitHub Python applications. A worker cannot keep every package
//! installed or imported, so policies later decide what to cache; this module only describes the
//! packages, and knows nothing about workers.
//!
//! A [`PackageCatalog`] is a table of [`Package`]s indexed by dense [`PackageId`]s. Each package
//! is one `name==version` with its direct dependencies and four costs:
//!
//! - `install_ms`: time to install this package alone (`pip install --no-deps`), in ms;
//! - `disk_bytes`: its size on disk once installed;
//! - `import_ms`, `import_mb`: time and memory to import its top-level modules once its
//!   dependencies are already imported ("in context"). Costs are therefore additive: importing a
//!   set closed under dependencies costs the sum of its members' costs;
//! - `popularity`: a relative weight (at least 0) with which functions pick the package directly.
//!
//! Dependencies may form cycles (ReqBench's `sphinx` and `sphinxcontrib-*` pin each other);
//! [`PackageCatalog::closure`] is cycle-safe.
//!
//! # Native format
//!
//! One JSON file, read by [`PackageCatalog::read_native`] and written by
//! [`PackageCatalog::write_native`]:
//!
//! ```json
//! {"packages": [
//!   {"name": "requests", "version": "2.31.0", "deps": ["idna==3.4", "urllib3==2.0.4"],
//!    "install_ms": 612.5, "disk_bytes": 250000, "import_ms": 24.1, "import_mb": 1.9,
//!    "popularity": 611},
//!   {"name": "idna", "version": "3.4", "install_ms": 540.1, "disk_bytes": 489929,
//!    "import_ms": 3.55, "import_mb": 0.21, "popularity": 930}
//! ]}
//! ```
//!
//! `deps` name other packages of the file as `name==version` and defaults to none; `popularity`
//! defaults to 1 (every package equally likely). All other fields are required, unknown fields
//! are errors, and ids follow the order of the list. Names and versions must be non-empty and
//! contain neither `==` nor `,`; `name==version` must be unique; costs and popularity must be
//! finite and at least 0. Syntax and type errors are reported with the file, line and column (from
//! serde_json); a bad field, a duplicate and a dependency on a package that is not in the file
//! with the file, the line where the package's object opens, the package and the field.
//!
//! # ReqBench
//!
//! [`PackageCatalog::read_reqbench`] reads the `files/` directory of open-lambda/ReqBench
//! (Apache-2.0): `install_import.json`, `deps.json` and `packages.json`. Every version in
//! `install_import.json` becomes a package, ids in order of name, then version as text. The rules:
//!
//! - **Checks**: the same as the native format's, by the same function: names and versions must
//!   be non-empty and contain neither `==` nor `,`, and every cost the reader takes from
//!   `install_import.json` (`install_time`, `disk_size`, `ms`, `mb`, `i-ms`, `i-mb`) or
//!   `packages.json` (`cost.ms`, `cost.mb`, `cost.i-ms`, `cost.i-mb`) must be at least 0 where it
//!   is given. Anything else is an error naming the file, the line of the version's entry, the
//!   version and the field (syntax and type errors: the file, line and column, from serde_json).
//! - **Install cost and size**: `install_time` (ms, measured with `pip install --no-deps`) and
//!   `disk_size` (bytes of the installed directory). A version without an `install_time` or a
//!   `disk_size` is dropped, with the reason in the report.
//! - **Import cost**: a (time, memory) pair from one measurement, the first whose time is a
//!   positive number and whose memory is a number of at least 0, in this order:
//!   `install_import.json`'s in-context `ms`/`mb`; `packages.json`'s in-context `cost.ms`/`cost.mb`
//!   (a separate run); `install_import.json`'s isolated `i-ms`/`i-mb`; `packages.json`'s
//!   `cost.i-ms`/`cost.i-mb`. In-context costs come first because they are measured with the
//!   version's dependencies already imported, so they add up over a dependency closure, while
//!   isolated costs count the dependencies again (scipy 1.11.2: `i-ms` 94.1 ms, `ms` 7.5 ms once
//!   numpy is loaded). A time of exactly 0 is skipped because ReqBench records a failed
//!   measurement as 0 (ipython 8.15.0: `ms` 0, `i-ms` 259.8 ms). A version with no usable
//!   measurement keeps an import cost of 0 and is listed in the report.
//! - **Dependencies**: `deps.json` lists, per version, the dependency sets (pip-compiled, so
//!   transitive and including the version itself) seen with it and how many applications had each.
//!   Every set member must be a version of `install_import.json`, and so must every entry, or the
//!   read fails naming `deps.json`, the line of the entry and the member (as the native format
//!   refuses a dependency on a package that is not in its file). The most frequent set is taken,
//!   ties going to the set whose text sorts first; the version itself is removed; members that
//!   were dropped (above) are dropped too and counted, and so are the entries of dropped versions.
//!   Versions without an entry have no dependencies. Because a set is transitive, `deps` here is a
//!   superset of the direct dependencies; closures are unaffected.
//! - **Popularity**: the number of applications whose compiled requirements pin the version, the
//!   sum of its `deps.json` counts (idna 3.4: 930, six 1.16.0: 656, requests 2.31.0: 611).
//!   Versions without a `deps.json` entry get 0, so functions never pick them directly (in the
//!   published files no other version depends on them either).
//!   `packages.json`'s `popularity` lists (and its `requirements`) are empty for every package in
//!   the published files, so they are not used.
//!
//! # Synthetic catalogue
//!
//! [`PackageCatalog::synthetic`] generates a catalogue from [`CatalogSpec`], in the spirit of
//! OpenLambda's PipBench. Package `r` (its id) has popularity rank `r + 1`:
//!
//! - **Popularity**: Zipf, `(r + 1)^-zipf` normalized to sum to 1 (default exponent 1.5: the most
//!   popular of 200 packages holds a 0.405 share): SOCK's study of GitHub Python applications
//!   finds imports concentrated on a few popular packages.
//! - **Dependencies**: a number uniform in `0..=max_deps` (default 3, capped by `r`), drawn without
//!   replacement among the more popular packages `0..r`, by popularity: common packages are common
//!   dependencies (ReqBench's most pinned versions are idna, six and certifi). Dependencies always
//!   point to lower ids, so the graph is a DAG.
//! - **Costs**: independent log-normals fitted to all 500 versions (386 packages) of ReqBench's
//!   `install_import.json` by their median and mean: `mu = ln(median)`,
//!   `sigma = sqrt(2 ln(mean / median))`. Matching the mean keeps the total cost of a catalogue
//!   (what caches save) right; the fits also land near the measured 90th and 99th percentiles:
//!
//!   | cost | median | mean | p90 (fit) | p99 (fit) | `mu` | `sigma` |
//!   |---|---|---|---|---|---|---|
//!   | `install_ms` | 539.5 ms | 646 ms | 860 ms (1.17 s) | 2.32 s (2.18 s) | 6.29 | 0.60 |
//!   | `disk_bytes` | 353 KB | 3.95 MB | 5.4 MB (5.9 MB) | 72 MB (59 MB) | 12.77 | 2.20 |
//!   | `import_ms` (in context) | 4.03 ms | 13.2 ms | 35.7 ms (29 ms) | 118 ms (146 ms) | 1.39 | 1.54 |
//!   | `import_mb` (in context) | 0.21 MB | 0.74 MB | 1.85 MB (1.61 MB) | 6.2 MB (8.3 MB) | -1.54 | 1.57 |
//!
//!   The fit spreads install times below the median more than pip does (its measured 10th
//!   percentile is 481 ms, the fit's 250 ms). For scale: idna 3.4 installs in 540 ms with 490 KB
//!   on disk, the median; numpy 1.26.0 imports in about 59 ms and 5.8 MB (ReqBench's
//!   `packages.json`; the fits' 96th and 98th percentiles) and installs 72 MB in 2.4 s (beyond
//!   their 99th); SOCK's "about 100 ms" for popular libraries is the fit's 98th percentile. Costs
//!   are drawn independently of one another and of popularity.
//!
//! Each concern (dependencies, install time, disk size, import time, import memory) has its own
//! random stream, so changing `max_deps` keeps every cost and changing a cost keeps the graph.
//!
//! # Assigning packages to functions
//!
//! [`assign`] gives each function `k` direct packages, with `k = min + G` capped at `max`, where
//! `G` is geometric on `{0, 1, ...}` with mean `mean - min` ([`AssignSpec`], default `min` 1,
//! `mean` 3, `max` 10: a realized mean of about 2.95). The packages are drawn by popularity without
//! replacement (packages of popularity 0 are never drawn directly), then closed over dependencies.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::Path;

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::WorkloadError;
use crate::csv_util::{io_error, json_error, regular_file, row_error, show};
use crate::synthetic::{LogNormalSpec, stream};

/// Dense index of a package, assigned when the catalogue is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PackageId(pub u32);

impl PackageId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One version of one package.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// Packages this one needs, installed and imported before it.
    pub deps: Vec<PackageId>,
    /// Time to install this package alone, in milliseconds.
    pub install_ms: f64,
    /// Size of the installed package on disk, in bytes.
    pub disk_bytes: u64,
    /// Time to import the package once its dependencies are imported, in milliseconds.
    pub import_ms: f64,
    /// Memory the import adds once its dependencies are imported, in MB.
    pub import_mb: f64,
    /// Relative weight with which functions pick this package directly; at least 0.
    pub popularity: f64,
}

impl Package {
    /// `name==version`, the key that identifies the package.
    pub fn key(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// A cost by which [`PackageCatalog::largest_package_by`] ranks packages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageSize {
    /// `disk_bytes`, what PASch (Aumala et al., CCGrid 2019) hashes on.
    #[default]
    Disk,
    /// `install_ms`.
    Install,
    /// `import_ms`.
    Import,
    /// `import_mb`.
    ImportMemory,
}

/// Packages indexed by [`PackageId`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackageCatalog {
    pub packages: Vec<Package>,
}

impl PackageCatalog {
    pub fn len(&self) -> usize {
        self.packages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// Panics if `id` is not in the catalogue.
    pub fn package(&self, id: PackageId) -> &Package {
        &self.packages[id.index()]
    }

    pub fn ids(&self) -> impl Iterator<Item = PackageId> + use<> {
        (0..self.packages.len() as u32).map(PackageId)
    }

    /// The package `name==version`, by a linear scan; use [`PackageCatalog::key_index`] for many
    /// lookups.
    pub fn find(&self, name: &str, version: &str) -> Option<PackageId> {
        self.packages
            .iter()
            .position(|p| p.name == name && p.version == version)
            .map(|i| PackageId(i as u32))
    }

    /// The package named by `key`, written `name==version`.
    pub fn find_key(&self, key: &str) -> Option<PackageId> {
        let (name, version) = key.split_once("==")?;
        self.find(name, version)
    }

    /// A map from every `name==version` to its id.
    pub fn key_index(&self) -> HashMap<String, PackageId> {
        self.packages
            .iter()
            .enumerate()
            .map(|(i, p)| (p.key(), PackageId(i as u32)))
            .collect()
    }

    /// `roots` and everything they depend on, directly or not: sorted, without duplicates. Cycles
    /// are fine; time and memory are proportional to the closure and its edges. Panics on an id
    /// that is not in the catalogue.
    pub fn closure(&self, roots: &[PackageId]) -> Vec<PackageId> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<PackageId> = Vec::new();
        for &r in roots {
            assert!(
                r.index() < self.packages.len(),
                "package id {} is not in a catalogue of {} packages",
                r.0,
                self.packages.len()
            );
            if seen.insert(r) {
                stack.push(r);
            }
        }
        while let Some(p) = stack.pop() {
            for &d in &self.packages[p.index()].deps {
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        seen.into_iter().collect()
    }

    /// The package of `ids` with the most bytes on disk (PASch's "largest package"), ties going to
    /// the lowest id; `None` for no ids.
    pub fn largest_package(&self, ids: &[PackageId]) -> Option<PackageId> {
        self.largest_package_by(ids, PackageSize::Disk)
    }

    /// The package of `ids` with the largest `size`, ties going to the lowest id.
    pub fn largest_package_by(&self, ids: &[PackageId], size: PackageSize) -> Option<PackageId> {
        let value = |id: PackageId| {
            let p = self.package(id);
            match size {
                PackageSize::Disk => p.disk_bytes as f64,
                PackageSize::Install => p.install_ms,
                PackageSize::Import => p.import_ms,
                PackageSize::ImportMemory => p.import_mb,
            }
        };
        ids.iter()
            .copied()
            .max_by(|&a, &b| value(a).total_cmp(&value(b)).then(b.cmp(&a)))
    }

    /// Checks that every dependency names a package of the catalogue (once), that costs and
    /// popularity are finite and at least 0, and that names are well formed and unique. Errors
    /// name the package and the field.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        self.check().map_err(WorkloadError::Parameter)
    }

    fn check(&self) -> Result<(), String> {
        let n = self.packages.len();
        if n > u32::MAX as usize {
            return Err(format!("a catalogue holds at most {} packages", u32::MAX));
        }
        let mut keys: HashMap<(&str, &str), usize> = HashMap::with_capacity(n);
        for (i, p) in self.packages.iter().enumerate() {
            check_package(
                &p.name,
                &p.version,
                &[
                    ("install_ms", p.install_ms),
                    ("import_ms", p.import_ms),
                    ("import_mb", p.import_mb),
                    ("popularity", p.popularity),
                ],
            )
            .map_err(|e| format!("package #{i} {}: {e}", p.key()))?;
            if let Some(first) = keys.insert((&p.name, &p.version), i) {
                return Err(format!("packages #{first} and #{i} are both {}", p.key()));
            }
            let mut seen = BTreeSet::new();
            for d in &p.deps {
                if d.index() >= n {
                    return Err(format!(
                        "package #{i} {}: deps names package #{}, but the catalogue has {n} packages",
                        p.key(),
                        d.0
                    ));
                }
                if !seen.insert(*d) {
                    return Err(format!(
                        "package #{i} {}: deps lists #{} ({}) twice",
                        p.key(),
                        d.0,
                        self.packages[d.index()].key()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads a catalogue in the native JSON format (see the module documentation).
    pub fn read_native(path: &Path) -> Result<Self, WorkloadError> {
        let text = crate::limits::read_to_string(path).map_err(|e| io_error(path, e))?;
        let file: NativeFile =
            serde_json::from_str(&text).map_err(|e| json_error(&show(path), e))?;
        // The text parsed, so every package has an opening line to report problems at.
        let lines = package_lines(&text);
        let at = |i: usize, message: String| match lines.get(i) {
            Some(&line) => row_error(path, line, message),
            None => WorkloadError::File {
                path: show(path),
                message,
            },
        };
        let mut index: HashMap<String, u32> = HashMap::with_capacity(file.packages.len());
        for (i, p) in file.packages.iter().enumerate() {
            check_package(
                &p.name,
                &p.version,
                &[
                    ("install_ms", p.install_ms),
                    ("import_ms", p.import_ms),
                    ("import_mb", p.import_mb),
                    ("popularity", p.popularity),
                ],
            )
            .map_err(|e| at(i, format!("package #{i} {}=={}: {e}", p.name, p.version)))?;
            let key = format!("{}=={}", p.name, p.version);
            if let Some(first) = index.insert(key.clone(), i as u32) {
                return Err(at(i, format!("packages #{first} and #{i} are both {key}")));
            }
        }
        let mut packages = Vec::with_capacity(file.packages.len());
        for (i, p) in file.packages.into_iter().enumerate() {
            let mut deps = Vec::with_capacity(p.deps.len());
            for d in &p.deps {
                let id = dependency(&index, d, "the file").map_err(|e| {
                    at(
                        i,
                        format!("package #{i} {}=={}: deps {e}", p.name, p.version),
                    )
                })?;
                if deps.contains(&PackageId(id)) {
                    return Err(at(
                        i,
                        format!(
                            "package #{i} {}=={}: deps lists {d:?} twice",
                            p.name, p.version
                        ),
                    ));
                }
                deps.push(PackageId(id));
            }
            packages.push(Package {
                name: p.name,
                version: p.version,
                deps,
                install_ms: p.install_ms,
                disk_bytes: p.disk_bytes,
                import_ms: p.import_ms,
                import_mb: p.import_mb,
                popularity: p.popularity,
            });
        }
        Ok(PackageCatalog { packages })
    }

    /// Writes the catalogue in the native JSON format, refusing one that
    /// [`PackageCatalog::validate`] rejects. Numbers are written in their shortest exact form;
    /// `serde_json` reads them back to within one unit in the last place.
    pub fn write_native(&self, path: &Path) -> Result<(), WorkloadError> {
        self.validate()?;
        let out = NativeOut {
            packages: self
                .packages
                .iter()
                .map(|p| NativePackage {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    deps: p.deps.iter().map(|d| self.package(*d).key()).collect(),
                    install_ms: p.install_ms,
                    disk_bytes: p.disk_bytes,
                    import_ms: p.import_ms,
                    import_mb: p.import_mb,
                    popularity: p.popularity,
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&out).map_err(|e| WorkloadError::File {
            path: show(path),
            message: e.to_string(),
        })?;
        text.push('\n');
        fs::write(path, text).map_err(|e| io_error(path, e))
    }

    /// Reads ReqBench's `install_import.json`, `deps.json` and `packages.json` from `dir` by the
    /// rules of the module documentation, and reports what it read and left out.
    pub fn read_reqbench(dir: &Path) -> Result<(Self, ReqbenchReport), WorkloadError> {
        let install_file = JsonFile::read(reqbench_file(
            dir,
            INSTALL_IMPORT_FILE,
            INSTALL_IMPORT_WHAT,
        )?)?;
        let deps_file = JsonFile::read(reqbench_file(dir, DEPS_FILE, DEPS_WHAT)?)?;
        let packages_file = JsonFile::read(reqbench_file(dir, PACKAGES_FILE, PACKAGES_WHAT)?)?;
        let install: BTreeMap<String, BTreeMap<String, InstallImport>> = install_file.parse()?;
        let deps: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>> = deps_file.parse()?;
        let extra: BTreeMap<String, PjPackage> = packages_file.parse()?;

        let mut report = ReqbenchReport {
            names: install.len(),
            versions: install.values().map(BTreeMap::len).sum(),
            ..ReqbenchReport::default()
        };
        let mut packages = Vec::new();
        for (name, versions) in &install {
            for (version, m) in versions {
                let key = format!("{name}=={version}");
                let fail = |message: String| install_file.error(&[name, version], &key, message);
                let given = |costs: &[(&'static str, Option<f64>)]| -> Vec<(&'static str, f64)> {
                    costs
                        .iter()
                        .filter_map(|&(field, v)| v.map(|v| (field, v)))
                        .collect()
                };
                check_package(
                    name,
                    version,
                    &given(&[
                        ("install_time", m.install_time),
                        ("disk_size", m.disk_size),
                        ("ms", m.ms),
                        ("mb", m.mb),
                        ("i-ms", m.i_ms),
                        ("i-mb", m.i_mb),
                    ]),
                )
                .map_err(fail)?;
                let cost = extra
                    .get(name)
                    .and_then(|p| p.versions.get(version))
                    .and_then(|v| v.cost.as_ref());
                if let Some(c) = cost {
                    check_package(
                        name,
                        version,
                        &given(&[
                            ("cost.ms", c.ms),
                            ("cost.mb", c.mb),
                            ("cost.i-ms", c.i_ms),
                            ("cost.i-mb", c.i_mb),
                        ]),
                    )
                    .map_err(|e| packages_file.error(&[name, "versions", version], &key, e))?;
                }
                let (Some(install_ms), Some(disk_size)) = (m.install_time, m.disk_size) else {
                    let field = if m.install_time.is_none() {
                        "install_time"
                    } else {
                        "disk_size"
                    };
                    report
                        .dropped
                        .push((key, format!("no {field} in {INSTALL_IMPORT_FILE}")));
                    continue;
                };
                if disk_size > u64::MAX as f64 {
                    return Err(fail(format!(
                        "disk_size {disk_size} is more bytes than lambdasim counts"
                    )));
                }
                let candidates = [
                    (m.ms, m.mb, Source::Primary),
                    (
                        cost.and_then(|c| c.ms),
                        cost.and_then(|c| c.mb),
                        Source::Extra,
                    ),
                    (m.i_ms, m.i_mb, Source::Isolated),
                    (
                        cost.and_then(|c| c.i_ms),
                        cost.and_then(|c| c.i_mb),
                        Source::ExtraIsolated,
                    ),
                ];
                // Costs were checked above, so only a failed (0) or missing measurement is skipped.
                let chosen = candidates
                    .iter()
                    .find_map(|&(t, mb, source)| match (t, mb) {
                        (Some(t), Some(mb)) if t > 0.0 => Some((t, mb, source)),
                        _ => None,
                    });
                let (import_ms, import_mb) = match chosen {
                    Some((t, mb, source)) => {
                        if matches!(source, Source::Extra | Source::ExtraIsolated) {
                            report.costs_from_packages_json += 1;
                        }
                        if matches!(source, Source::Isolated | Source::ExtraIsolated) {
                            report.isolated_costs += 1;
                        }
                        (t, mb)
                    }
                    None => {
                        report.unmeasured_imports.push(key);
                        (0.0, 0.0)
                    }
                };
                packages.push(Package {
                    name: name.clone(),
                    version: version.clone(),
                    deps: Vec::new(),
                    install_ms,
                    disk_bytes: disk_size.round() as u64,
                    import_ms,
                    import_mb,
                    popularity: 0.0,
                });
            }
        }

        let mut catalog = PackageCatalog { packages };
        // Every version of install_import.json: its id, or None if it was dropped.
        let mut index: HashMap<String, Option<PackageId>> = install
            .iter()
            .flat_map(|(name, versions)| {
                versions.keys().map(move |v| (format!("{name}=={v}"), None))
            })
            .collect();
        for (key, id) in catalog.key_index() {
            index.insert(key, Some(id));
        }
        // Every entry and every member of every set must be a version of install_import.json.
        for (name, versions) in &deps {
            for (version, sets) in versions {
                let own = format!("{name}=={version}");
                if !index.contains_key(&own) {
                    return Err(deps_file.error(
                        &[name, version],
                        &own,
                        format!(
                            "has dependency sets, but is not a package of {INSTALL_IMPORT_FILE}"
                        ),
                    ));
                }
                for set in sets.keys() {
                    for item in set_members(set) {
                        let fail = |message: String| {
                            deps_file.error(
                                &[name, version, set],
                                &own,
                                format!("dependency set {set:?}: {message}"),
                            )
                        };
                        if item
                            .split_once("==")
                            .is_none_or(|(n, v)| n.is_empty() || v.is_empty())
                        {
                            return Err(fail(format!("{item:?} is not name==version")));
                        }
                        dependency(&index, item, INSTALL_IMPORT_FILE).map_err(fail)?;
                    }
                }
            }
        }
        let mut dropped_deps = BTreeSet::new();
        for p in &mut catalog.packages {
            let Some(sets) = deps.get(&p.name).and_then(|v| v.get(&p.version)) else {
                report.without_deps_entry += 1;
                continue;
            };
            // Ascending key order with a strict comparison keeps the first of equal counts.
            let mut best: Option<(&String, u64)> = None;
            let mut tied = false;
            for (set, &count) in sets {
                match best {
                    Some((_, c)) if count < c => {}
                    Some((_, c)) if count == c => tied = true,
                    _ => {
                        best = Some((set, count));
                        tied = false;
                    }
                }
            }
            if tied {
                report.tied_dep_sets += 1;
            }
            p.popularity = sets.values().fold(0u64, |a, &c| a.saturating_add(c)) as f64;
            let Some((set, _)) = best else { continue };
            let own = p.key();
            let mut found = BTreeSet::new();
            for item in set_members(set).filter(|&item| item != own) {
                match index.get(item) {
                    Some(Some(id)) => {
                        found.insert(*id);
                    }
                    _ => {
                        report.deps_dropped += 1;
                        dropped_deps.insert(item.to_string());
                    }
                }
            }
            p.deps = found.into_iter().collect();
        }
        report.unknown_deps = dropped_deps.into_iter().collect();
        report.unused_deps_entries = deps
            .iter()
            .flat_map(|(name, versions)| versions.keys().map(move |v| format!("{name}=={v}")))
            .filter(|key| index.get(key).is_some_and(Option::is_none))
            .count();
        catalog.validate()?;
        Ok((catalog, report))
    }

    /// A catalogue generated from `spec` (see the module documentation); the same spec and seed
    /// give the same catalogue.
    pub fn synthetic(spec: &CatalogSpec, seed: u64) -> Result<Self, WorkloadError> {
        spec.validate()?;
        let n = spec.packages as usize;
        let weights: Vec<f64> = (0..n).map(|r| ((r + 1) as f64).powf(-spec.zipf)).collect();
        let total: f64 = weights.iter().sum();
        let picker = Picker::new(weights);

        let mut deps_rng = stream(seed, STREAM_DEPS);
        let mut install = stream(seed, STREAM_INSTALL);
        let mut disk = stream(seed, STREAM_DISK);
        let mut import_time = stream(seed, STREAM_IMPORT_MS);
        let mut import_memory = stream(seed, STREAM_IMPORT_MB);
        let mut chosen = Vec::new();
        let packages = (0..n)
            .map(|r| {
                let k = (deps_rng.random_range(0..=spec.max_deps) as usize).min(r);
                picker.draw_distinct(&mut deps_rng, r, k, &mut chosen);
                Package {
                    name: format!("pkg{r}"),
                    version: "1.0.0".to_string(),
                    deps: chosen.iter().map(|&d| PackageId(d as u32)).collect(),
                    install_ms: log_normal(&spec.install_ms, &mut install),
                    disk_bytes: log_normal(&spec.disk_bytes, &mut disk).round() as u64,
                    import_ms: log_normal(&spec.import_ms, &mut import_time),
                    import_mb: log_normal(&spec.import_mb, &mut import_memory),
                    popularity: picker.weights[r] / total,
                }
            })
            .collect();
        Ok(PackageCatalog { packages })
    }
}

/// What [`PackageCatalog::read_reqbench`] read and left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReqbenchReport {
    /// Package names in `install_import.json`.
    pub names: usize,
    /// Versions in `install_import.json`; those not dropped are the catalogue.
    pub versions: usize,
    /// Versions left out, as `(name==version, why)`.
    pub dropped: Vec<(String, String)>,
    /// Versions whose import cost is an isolated (`i-ms`/`i-mb`) measurement.
    pub isolated_costs: usize,
    /// Versions whose import cost came from `packages.json`.
    pub costs_from_packages_json: usize,
    /// Versions without any usable import measurement, kept with an import cost of 0.
    pub unmeasured_imports: Vec<String>,
    /// Versions without a `deps.json` entry: no dependencies, popularity 0.
    pub without_deps_entry: usize,
    /// Versions whose most frequent dependency sets tied.
    pub tied_dep_sets: usize,
    /// Dependencies dropped because they are versions left out of the catalogue (see
    /// `dropped`); a dependency on a version `install_import.json` lacks is an error.
    pub deps_dropped: usize,
    /// The distinct `name==version`s so dropped, sorted.
    pub unknown_deps: Vec<String>,
    /// `deps.json` entries of versions left out of the catalogue, ignored.
    pub unused_deps_entries: usize,
}

impl fmt::Display for ReqbenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} versions of {} packages, {} dropped; import costs: {} isolated, {} from {}, {} \
             unmeasured; {} without dependency entry, {} tied dependency sets, {} dependencies \
             dropped ({} distinct), {} dependency entries without costs",
            self.versions,
            self.names,
            self.dropped.len(),
            self.isolated_costs,
            self.costs_from_packages_json,
            PACKAGES_FILE,
            self.unmeasured_imports.len(),
            self.without_deps_entry,
            self.tied_dep_sets,
            self.deps_dropped,
            self.unknown_deps.len(),
            self.unused_deps_entries,
        )
    }
}

/// Bounds that turn a typo into an error instead of an allocation failure.
const MAX_PACKAGES: u32 = 1_000_000;
const MAX_DEPS: u32 = 64;
const MAX_DIRECT: u32 = 1_000;
/// Keeps `exp(mu + sigma * z)` finite for any normal draw `z`.
const MAX_MU: f64 = 100.0;
const MAX_SIGMA: f64 = 10.0;

/// Parameters of [`PackageCatalog::synthetic`]. Every field has a default, so a scenario names only
/// what it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogSpec {
    /// Number of packages.
    pub packages: u32,
    /// Zipf exponent of popularity; 0 makes every package equally popular.
    pub zipf: f64,
    /// Largest number of dependencies of a package; each has a number uniform in `0..=max_deps`.
    pub max_deps: u32,
    /// Install time, in milliseconds.
    pub install_ms: LogNormalSpec,
    /// Size on disk, in bytes.
    pub disk_bytes: LogNormalSpec,
    /// Import time once dependencies are imported, in milliseconds.
    pub import_ms: LogNormalSpec,
    /// Import memory once dependencies are imported, in MB.
    pub import_mb: LogNormalSpec,
}

impl Default for CatalogSpec {
    /// 200 packages, Zipf 1.5, up to 3 dependencies, costs fitted to ReqBench.
    fn default() -> Self {
        CatalogSpec {
            packages: 200,
            zipf: 1.5,
            max_deps: 3,
            install_ms: LogNormalSpec {
                mu: 6.29,
                sigma: 0.60,
            },
            disk_bytes: LogNormalSpec {
                mu: 12.77,
                sigma: 2.20,
            },
            import_ms: LogNormalSpec {
                mu: 1.39,
                sigma: 1.54,
            },
            import_mb: LogNormalSpec {
                mu: -1.54,
                sigma: 1.57,
            },
        }
    }
}

impl CatalogSpec {
    /// Checks every parameter; the error names the field, the value and what is allowed.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let fail = |msg: String| Err(WorkloadError::Parameter(msg));
        if self.packages == 0 || self.packages > MAX_PACKAGES {
            return fail(format!(
                "packages must be between 1 and {MAX_PACKAGES}, got {}",
                self.packages
            ));
        }
        if !(self.zipf.is_finite() && self.zipf >= 0.0) {
            return fail(format!(
                "zipf must be a finite number of at least 0, got {}",
                self.zipf
            ));
        }
        if self.max_deps > MAX_DEPS {
            return fail(format!(
                "max_deps must be at most {MAX_DEPS}, got {}",
                self.max_deps
            ));
        }
        for (field, d) in [
            ("install_ms", &self.install_ms),
            ("disk_bytes", &self.disk_bytes),
            ("import_ms", &self.import_ms),
            ("import_mb", &self.import_mb),
        ] {
            if !(d.mu.is_finite() && d.mu.abs() <= MAX_MU) {
                return fail(format!(
                    "{field}.mu must be between -{MAX_MU} and {MAX_MU}, got {}",
                    d.mu
                ));
            }
            if !(d.sigma.is_finite() && (0.0..=MAX_SIGMA).contains(&d.sigma)) {
                return fail(format!(
                    "{field}.sigma must be between 0 and {MAX_SIGMA}, got {}",
                    d.sigma
                ));
            }
        }
        Ok(())
    }
}

/// How many packages [`assign`] gives each function directly, before dependencies: `min + G`
/// capped at `max`, with `G` geometric on `{0, 1, ...}` of mean `mean - min`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssignSpec {
    /// Mean number of direct packages before the cap, from `min` to `max`.
    pub mean: f64,
    /// Fewest direct packages.
    pub min: u32,
    /// Most direct packages.
    pub max: u32,
}

impl Default for AssignSpec {
    fn default() -> Self {
        AssignSpec {
            mean: 3.0,
            min: 1,
            max: 10,
        }
    }
}

impl AssignSpec {
    /// Checks every parameter; the error names the field, the value and what is allowed.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let fail = |msg: String| Err(WorkloadError::Parameter(msg));
        if self.max > MAX_DIRECT {
            return fail(format!(
                "max must be at most {MAX_DIRECT}, got {}",
                self.max
            ));
        }
        if self.min > self.max {
            return fail(format!(
                "min must be at most max ({}), got {}",
                self.max, self.min
            ));
        }
        if !(self.mean.is_finite() && self.mean >= self.min as f64 && self.mean <= self.max as f64)
        {
            return fail(format!(
                "mean must be between min ({}) and max ({}), got {}",
                self.min, self.max, self.mean
            ));
        }
        Ok(())
    }

    fn draw(&self, rng: &mut Xoshiro256PlusPlus) -> usize {
        let extra_mean = self.mean - self.min as f64;
        let room = (self.max - self.min) as f64;
        let extra = if extra_mean <= 0.0 {
            0.0
        } else {
            // Inversion: G = floor(ln U / ln(1 - p)) with p = 1 / (1 + mean) and U in (0, 1].
            let p = 1.0 / (1.0 + extra_mean);
            let u = 1.0 - rng.random::<f64>();
            (u.ln() / (1.0 - p).ln()).floor()
        };
        self.min as usize + extra.min(room) as usize
    }
}

/// The packages of each of `functions` functions: direct packages drawn by popularity, closed
/// over dependencies (see the module documentation). Each set is sorted. The same catalogue, spec
/// and seed give the same sets; memory is the output plus O(packages).
pub fn assign(
    catalog: &PackageCatalog,
    functions: usize,
    spec: &AssignSpec,
    seed: u64,
) -> Result<Vec<Vec<PackageId>>, WorkloadError> {
    spec.validate()?;
    catalog.validate()?;
    let n = catalog.len();
    let drawable = catalog
        .packages
        .iter()
        .filter(|p| p.popularity > 0.0)
        .count();
    let picker = Picker::new(catalog.packages.iter().map(|p| p.popularity).collect());
    let mut rng = stream(seed, STREAM_ASSIGN);
    let mut chosen = Vec::new();
    let mut roots = Vec::new();
    Ok((0..functions)
        .map(|_| {
            let k = spec.draw(&mut rng).min(drawable);
            picker.draw_distinct(&mut rng, n, k, &mut chosen);
            roots.clear();
            roots.extend(chosen.iter().map(|&i| PackageId(i as u32)));
            catalog.closure(&roots)
        })
        .collect())
}

// Random streams; they only need to differ from each other and from `synthetic`'s.
const STREAM_DEPS: u64 = 101;
const STREAM_INSTALL: u64 = 102;
const STREAM_DISK: u64 = 103;
const STREAM_IMPORT_MS: u64 = 104;
const STREAM_IMPORT_MB: u64 = 105;
const STREAM_ASSIGN: u64 = 106;

fn log_normal(d: &LogNormalSpec, rng: &mut Xoshiro256PlusPlus) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (d.mu + d.sigma * z).exp()
}

/// Weighted draws without replacement from a prefix of a weight table.
struct Picker {
    weights: Vec<f64>,
    /// `cum[i]` is the sum of `weights[..=i]`.
    cum: Vec<f64>,
}

/// How many draws may land on a taken or weightless index (which only rounding causes) before a
/// scan picks the heaviest index left.
const MAX_TRIES: u32 = 64;

impl Picker {
    fn new(weights: Vec<f64>) -> Self {
        let mut acc = 0.0;
        let cum = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Picker { weights, cum }
    }

    fn before(&self, i: usize) -> f64 {
        if i == 0 { 0.0 } else { self.cum[i - 1] }
    }

    /// Fills `chosen` with up to `k` distinct indices below `limit`, sorted, each draw taking an
    /// index not yet chosen with probability proportional to its weight. Indices of weight 0 are
    /// never chosen, so fewer than `k` come back when fewer have weight.
    fn draw_distinct(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        limit: usize,
        k: usize,
        chosen: &mut Vec<usize>,
    ) {
        chosen.clear();
        if limit == 0 {
            return;
        }
        let total = self.cum[limit - 1];
        let mut removed = 0.0;
        'draws: for _ in 0..k {
            for _ in 0..MAX_TRIES {
                let span = total - removed;
                if !(span > 0.0 && span.is_finite()) {
                    break;
                }
                // A point on the line of the remaining weights, moved past the chosen intervals.
                let mut u = rng.random::<f64>() * span;
                for &c in chosen.iter() {
                    if u >= self.before(c) {
                        u += self.weights[c];
                    } else {
                        break;
                    }
                }
                let i = self.cum[..limit]
                    .partition_point(|&x| x <= u)
                    .min(limit - 1);
                if self.weights[i] > 0.0
                    && let Err(at) = chosen.binary_search(&i)
                {
                    chosen.insert(at, i);
                    removed += self.weights[i];
                    continue 'draws;
                }
            }
            // Rounding left no room to draw in: take the heaviest index left, if any.
            let left = (0..limit)
                .filter(|i| self.weights[*i] > 0.0 && chosen.binary_search(i).is_err())
                .max_by(|&a, &b| self.weights[a].total_cmp(&self.weights[b]).then(b.cmp(&a)));
            match left {
                Some(i) => {
                    let at = chosen.binary_search(&i).unwrap_err();
                    chosen.insert(at, i);
                    removed += self.weights[i];
                }
                None => return,
            }
        }
    }
}

/// Checks a package's name, version and costs; the message names the field. Both catalogue
/// formats check their packages with this, so that they accept the same packages.
fn check_package(name: &str, version: &str, costs: &[(&str, f64)]) -> Result<(), String> {
    for (what, text) in [("name", name), ("version", version)] {
        if text.is_empty() || text.contains("==") || text.contains(',') {
            return Err(format!(
                "{what} must be non-empty and contain neither == nor a comma, got {text:?}"
            ));
        }
    }
    for &(field, value) in costs {
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!(
                "{field} must be a finite number of at least 0, got {value}"
            ));
        }
    }
    Ok(())
}

/// The dependency `item` (`name==version`) among the packages a catalogue file defines, by
/// their `name==version`; the message names `defined_in`, the file that should define it. Both
/// formats look dependencies up through this.
fn dependency<T: Copy>(
    index: &HashMap<String, T>,
    item: &str,
    defined_in: &str,
) -> Result<T, String> {
    index.get(item).copied().ok_or_else(|| {
        format!("names {item:?}, which is not a package of {defined_in} (expected name==version)")
    })
}

/// The members of a ReqBench dependency set, `name==version` separated by commas.
fn set_members(set: &str) -> impl Iterator<Item = &str> {
    set.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A JSON file read whole, kept to find the line of an entry that fails a check after parsing.
struct JsonFile {
    path: std::path::PathBuf,
    text: String,
}

impl JsonFile {
    fn read(path: std::path::PathBuf) -> Result<Self, WorkloadError> {
        let text = crate::limits::read_to_string(&path).map_err(|e| io_error(&path, e))?;
        Ok(JsonFile { path, text })
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, WorkloadError> {
        serde_json::from_str(&self.text).map_err(|e| json_error(&show(&self.path), e))
    }

    /// An error about the entry at `keys` (object keys from the top level), on the line of its
    /// key, or of the nearest enclosing key the file has; `what` names the entry.
    fn error(&self, keys: &[&str], what: &str, message: String) -> WorkloadError {
        let lines = key_lines(&self.text, keys.len());
        let line = (1..=keys.len()).rev().find_map(|n| {
            let path: Vec<String> = keys[..n].iter().map(|k| k.to_string()).collect();
            lines.get(&path).copied()
        });
        let message = format!("{what}: {message}");
        match line {
            Some(line) => row_error(&self.path, line, message),
            None => WorkloadError::File {
                path: show(&self.path),
                message,
            },
        }
    }
}

/// The line (from 1) of each object key in a JSON text that parsed, by its path of keys from the
/// top-level object, down to `depth` keys; keys inside arrays are left out. A key given twice
/// keeps its last line, as the map it is read into keeps the last value.
fn key_lines(text: &str, depth: usize) -> HashMap<Vec<String>, u64> {
    enum Open {
        /// An object and its key being read, if any.
        Object(Option<String>),
        Array,
    }
    let bytes = text.as_bytes();
    let mut lines = HashMap::new();
    let mut stack: Vec<Open> = Vec::new();
    let (mut line, mut expect_key, mut i) = (1u64, false, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'{' => {
                stack.push(Open::Object(None));
                expect_key = true;
            }
            b'[' => {
                stack.push(Open::Array);
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = matches!(stack.last(), Some(Open::Object(_))),
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let in_objects = stack.iter().all(|o| matches!(o, Open::Object(_)));
                if expect_key && in_objects && stack.len() <= depth {
                    // Quotes are ASCII, so both ends are character boundaries.
                    let raw = &text[start..(i + 1).min(text.len())];
                    let key: String = serde_json::from_str(raw).unwrap_or_default();
                    if let Some(Open::Object(slot)) = stack.last_mut() {
                        *slot = Some(key);
                    }
                    let path: Vec<String> = stack
                        .iter()
                        .filter_map(|o| match o {
                            Open::Object(key) => key.clone(),
                            Open::Array => None,
                        })
                        .collect();
                    lines.insert(path, line);
                }
                expect_key = false;
            }
            _ => {}
        }
        i += 1;
    }
    lines
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NativePackage {
    name: String,
    version: String,
    #[serde(default)]
    deps: Vec<String>,
    install_ms: f64,
    disk_bytes: u64,
    import_ms: f64,
    import_mb: f64,
    #[serde(default = "default_popularity")]
    popularity: f64,
}

fn default_popularity() -> f64 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NativeFile {
    packages: Vec<NativePackage>,
}

/// The line (from 1) on which each package's object opens in a native file that parsed: the
/// objects directly inside the array that is the top-level object's only value.
fn package_lines(text: &str) -> Vec<u64> {
    let mut lines = Vec::new();
    let (mut line, mut depth) = (1u64, 0u32);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => {
                if c == '{' && depth == 2 {
                    lines.push(line);
                }
                depth += 1;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    lines
}

#[derive(Serialize)]
struct NativeOut {
    packages: Vec<NativePackage>,
}

const INSTALL_IMPORT_FILE: &str = "install_import.json";
const DEPS_FILE: &str = "deps.json";
const PACKAGES_FILE: &str = "packages.json";
const INSTALL_IMPORT_WHAT: &str =
    "package -> version -> install_time, disk_size, ms, mb, i-ms, i-mb";
const DEPS_WHAT: &str = "package -> version -> {\"dep==version,...\": count}";
const PACKAGES_WHAT: &str = "package -> {versions: {version: {requirements, cost}}, popularity}";

fn reqbench_file(dir: &Path, name: &str, what: &str) -> Result<std::path::PathBuf, WorkloadError> {
    let path = dir.join(name);
    // A directory or a device of that name is named for what it is, not as missing.
    if regular_file(&path)? {
        Ok(path)
    } else {
        Err(WorkloadError::File {
            path: show(&path),
            message: format!(
                "missing ReqBench file {name} ({what}); expected the files/ directory of \
                 open-lambda/ReqBench"
            ),
        })
    }
}

/// One version in `install_import.json`; other fields (`top`, `suffix`, `compressed_size`) are
/// ignored.
#[derive(Deserialize)]
struct InstallImport {
    install_time: Option<f64>,
    disk_size: Option<f64>,
    ms: Option<f64>,
    mb: Option<f64>,
    #[serde(rename = "i-ms")]
    i_ms: Option<f64>,
    #[serde(rename = "i-mb")]
    i_mb: Option<f64>,
}

/// One package in `packages.json`; only the costs are used.
#[derive(Deserialize)]
struct PjPackage {
    #[serde(default)]
    versions: BTreeMap<String, PjVersion>,
}

#[derive(Deserialize)]
struct PjVersion {
    cost: Option<PjCost>,
}

#[derive(Deserialize)]
struct PjCost {
    ms: Option<f64>,
    mb: Option<f64>,
    #[serde(rename = "i-ms")]
    i_ms: Option<f64>,
    #[serde(rename = "i-mb")]
    i_mb: Option<f64>,
}

#[derive(Clone, Copy)]
enum Source {
    Primary,
    Extra,
    Isolated,
    ExtraIsolated,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    fn pkg(name: &str, deps: &[u32]) -> Package {
        Package {
            name: name.to_string(),
            version: "1.0".to_string(),
            deps: deps.iter().map(|&d| PackageId(d)).collect(),
            install_ms: 500.0,
            disk_bytes: 1000,
            import_ms: 4.0,
            import_mb: 0.25,
            popularity: 1.0,
        }
    }

    fn ids(v: &[u32]) -> Vec<PackageId> {
        v.iter().map(|&i| PackageId(i)).collect()
    }

    /// a -> {b, c}, b -> d, c -> d (a diamond); e <-> f (a cycle); g -> e.
    fn diamond_and_cycle() -> PackageCatalog {
        PackageCatalog {
            packages: vec![
                pkg("a", &[1, 2]),
                pkg("b", &[3]),
                pkg("c", &[3]),
                pkg("d", &[]),
                pkg("e", &[5]),
                pkg("f", &[4]),
                pkg("g", &[4]),
            ],
        }
    }

    #[test]
    fn closure_handles_diamond_and_cycle() {
        let c = diamond_and_cycle();
        c.validate().unwrap();
        assert_eq!(c.closure(&ids(&[0])), ids(&[0, 1, 2, 3]));
        assert_eq!(c.closure(&ids(&[6])), ids(&[4, 5, 6]));
        assert_eq!(c.closure(&ids(&[5])), ids(&[4, 5]));
        assert_eq!(c.closure(&ids(&[3, 3])), ids(&[3]));
        assert_eq!(c.closure(&ids(&[5, 1])), ids(&[1, 3, 4, 5]));
        assert_eq!(c.closure(&ids(&[2, 0, 6])), ids(&[0, 1, 2, 3, 4, 5, 6]));
        assert!(c.closure(&[]).is_empty());
        // A package that depends on itself is a cycle of one.
        let mut own = diamond_and_cycle();
        own.packages[3].deps = ids(&[3]);
        assert_eq!(own.closure(&ids(&[1])), ids(&[1, 3]));
    }

    #[test]
    fn lookups_by_name_and_version() {
        let c = diamond_and_cycle();
        assert_eq!(c.find("c", "1.0"), Some(PackageId(2)));
        assert_eq!(c.find("c", "2.0"), None);
        assert_eq!(c.find_key("g==1.0"), Some(PackageId(6)));
        assert_eq!(c.find_key("g"), None);
        assert_eq!(c.key_index()["e==1.0"], PackageId(4));
        assert_eq!(c.package(PackageId(1)).key(), "b==1.0");
        assert_eq!(c.ids().count(), 7);
    }

    #[test]
    fn largest_package_by_size_and_cost() {
        let mut c = diamond_and_cycle();
        c.packages[1].disk_bytes = 5000;
        c.packages[2].disk_bytes = 5000;
        c.packages[3].install_ms = 900.0;
        c.packages[4].import_ms = 60.0;
        c.packages[5].import_mb = 5.8;
        let all: Vec<PackageId> = c.ids().collect();
        // b and c tie on disk: the lower id wins, whatever the order given.
        assert_eq!(c.largest_package(&all), Some(PackageId(1)));
        assert_eq!(c.largest_package(&ids(&[2, 1])), Some(PackageId(1)));
        assert_eq!(c.largest_package(&ids(&[0, 3])), Some(PackageId(0)));
        assert_eq!(
            c.largest_package_by(&all, PackageSize::Install),
            Some(PackageId(3))
        );
        assert_eq!(
            c.largest_package_by(&all, PackageSize::Import),
            Some(PackageId(4))
        );
        assert_eq!(
            c.largest_package_by(&all, PackageSize::ImportMemory),
            Some(PackageId(5))
        );
        assert_eq!(c.largest_package(&[]), None);
    }

    #[test]
    fn validate_rejects_bad_catalogues() {
        let message = |c: &PackageCatalog| c.validate().unwrap_err().to_string();
        let mut c = diamond_and_cycle();
        c.packages[2].deps = ids(&[9]);
        let m = message(&c);
        assert!(
            m.contains("c==1.0") && m.contains("deps") && m.contains("#9"),
            "{m}"
        );

        let mut c = diamond_and_cycle();
        c.packages[4].import_mb = -0.5;
        let m = message(&c);
        assert!(
            m.contains("e==1.0") && m.contains("import_mb") && m.contains("-0.5"),
            "{m}"
        );

        let mut c = diamond_and_cycle();
        c.packages[0].install_ms = f64::NAN;
        assert!(message(&c).contains("install_ms"));

        let mut c = diamond_and_cycle();
        c.packages[0].popularity = f64::INFINITY;
        assert!(message(&c).contains("popularity"));

        let mut c = diamond_and_cycle();
        c.packages[6].name = "a".into();
        assert!(message(&c).contains("#0 and #6 are both a==1.0"));

        let mut c = diamond_and_cycle();
        c.packages[0].deps = ids(&[1, 1]);
        assert!(message(&c).contains("twice"));

        let mut c = diamond_and_cycle();
        c.packages[0].name = "x==y".into();
        assert!(message(&c).contains("name must be"));
    }

    fn dyadic() -> PackageCatalog {
        let mut c = diamond_and_cycle();
        for (i, p) in c.packages.iter_mut().enumerate() {
            p.version = format!("{i}.0.1");
            p.install_ms = 512.25 + i as f64;
            p.disk_bytes = 1 << (10 + i);
            p.import_ms = 0.125 * i as f64;
            p.import_mb = 3.5;
            p.popularity = i as f64;
        }
        c
    }

    #[test]
    fn native_round_trip() {
        let dir = Scratch::new("packages-native-round-trip");
        let path = dir.path().join("catalog.json");
        let c = dyadic();
        c.write_native(&path).unwrap();
        assert_eq!(PackageCatalog::read_native(&path).unwrap(), c);

        // Arbitrary doubles come back within one unit in the last place (serde_json's default
        // float parsing).
        let s = PackageCatalog::synthetic(&CatalogSpec::default(), 3).unwrap();
        s.write_native(&path).unwrap();
        let back = PackageCatalog::read_native(&path).unwrap();
        assert_eq!(back.len(), s.len());
        let close = |a: f64, b: f64| a.to_bits().abs_diff(b.to_bits()) <= 1;
        for (a, b) in s.packages.iter().zip(&back.packages) {
            assert_eq!(
                (&a.name, &a.version, &a.deps),
                (&b.name, &b.version, &b.deps)
            );
            assert_eq!(a.disk_bytes, b.disk_bytes);
            assert!(close(a.install_ms, b.install_ms));
            assert!(close(a.import_ms, b.import_ms));
            assert!(close(a.import_mb, b.import_mb));
            assert!(close(a.popularity, b.popularity));
        }

        // An invalid catalogue is not written.
        let mut bad = dyadic();
        bad.packages[0].deps = ids(&[42]);
        assert!(bad.write_native(&dir.path().join("bad.json")).is_err());
        assert!(!dir.path().join("bad.json").exists());
    }

    #[test]
    fn native_defaults_deps_and_popularity() {
        let dir = Scratch::new("packages-native-defaults");
        let path = dir.file(
            "c.json",
            r#"{"packages": [
  {"name": "idna", "version": "3.4", "install_ms": 540, "disk_bytes": 489929,
   "import_ms": 3.5, "import_mb": 0.25},
  {"name": "requests", "version": "2.31.0", "deps": ["idna==3.4"], "install_ms": 600,
   "disk_bytes": 250000, "import_ms": 24, "import_mb": 2, "popularity": 611}
]}"#,
        );
        let c = PackageCatalog::read_native(&path).unwrap();
        assert_eq!(c.packages[0].deps, vec![]);
        assert_eq!(c.packages[0].popularity, 1.0);
        assert_eq!(c.packages[1].deps, ids(&[0]));
        assert_eq!(c.packages[1].popularity, 611.0);
        assert_eq!(c.packages[0].install_ms, 540.0);
    }

    fn native_error(test: &str, text: &str) -> (WorkloadError, String) {
        let dir = Scratch::new(test);
        let path = dir.file("catalog.json", text);
        let e = PackageCatalog::read_native(&path).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("catalog.json"), "{m}");
        (e, m)
    }

    #[test]
    fn native_rejects_dangling_dep() {
        let (e, m) = native_error(
            "packages-native-dangling",
            r#"{"packages": [
  {"name": "a", "version": "1", "deps": ["b==2"], "install_ms": 1, "disk_bytes": 1,
   "import_ms": 1, "import_mb": 1}
]}"#,
        );
        assert!(matches!(e, WorkloadError::Row { line: 2, .. }), "{m}");
        assert!(
            m.contains("package #0 a==1") && m.contains("deps") && m.contains("\"b==2\""),
            "{m}"
        );
    }

    #[test]
    fn native_rejects_negative_cost_with_line() {
        let (e, m) = native_error(
            "packages-native-negative",
            r#"{"packages": [
  {"name": "a", "version": "1", "install_ms": 1, "disk_bytes": 1,
   "import_ms": 1, "import_mb": 1},
  {"name": "b", "version": "2", "install_ms": -3.5, "disk_bytes": 1,
   "import_ms": 1, "import_mb": 1}
]}"#,
        );
        // The line on which the package's object opens.
        assert!(matches!(e, WorkloadError::Row { line: 4, .. }), "{m}");
        assert!(
            m.contains("b==2") && m.contains("install_ms") && m.contains("-3.5"),
            "{m}"
        );
    }

    #[test]
    fn native_reports_malformed_json_line() {
        let (e, m) = native_error(
            "packages-native-malformed",
            "{\"packages\": [\n  {\"name\": \"a\", \"version\": \"1\",\n   \"install_ms\": 1 \"disk_bytes\": 1}\n]}",
        );
        assert!(matches!(e, WorkloadError::Row { line: 3, .. }), "{m}");
        assert!(m.contains("line 3: column"), "{m}");

        let (e, m) = native_error(
            "packages-native-type",
            "{\"packages\": [\n  {\"name\": \"a\", \"version\": \"1\", \"install_ms\": \"slow\"}]}",
        );
        assert!(matches!(e, WorkloadError::Row { line: 2, .. }), "{m}");

        let (_, m) = native_error(
            "packages-native-unknown",
            "{\"packages\": [\n  {\"name\": \"a\", \"version\": \"1\", \"size\": 3}]}",
        );
        assert!(m.contains("unknown field `size`"), "{m}");

        let (_, m) = native_error(
            "packages-native-missing",
            "{\"packages\": [\n  {\"name\": \"a\", \"version\": \"1\", \"install_ms\": 1}]}",
        );
        assert!(m.contains("missing field `disk_bytes`"), "{m}");
    }

    #[test]
    fn package_lines_skip_strings_and_nesting() {
        let text = "{\"packages\": [\n  {\"name\": \"a{\\\"[\", \"deps\": [\"x\"]},\n\n  {\"name\": \"}\"}\n]}";
        assert_eq!(package_lines(text), [2, 4]);
        assert!(package_lines("{\"packages\": []}").is_empty());
    }

    #[test]
    fn native_rejects_duplicates() {
        let one = r#"{"name": "a", "version": "1", "install_ms": 1, "disk_bytes": 1,
   "import_ms": 1, "import_mb": 1}"#;
        let (e, m) = native_error(
            "packages-native-duplicate",
            &format!("{{\"packages\": [\n{one},\n{one}]}}"),
        );
        assert!(matches!(e, WorkloadError::Row { line: 4, .. }), "{m}");
        assert!(m.contains("#0 and #1 are both a==1"), "{m}");
    }

    /// Six versions of six packages: alpha 1.0 has three dependency sets, the most frequent (7)
    /// naming beta and gamma; alpha 2.0's in-context measurement failed (0) and packages.json
    /// has no cost for it, so its isolated cost is used; beta's two sets tie; gamma depends on
    /// delta, which is dropped for lacking an install time (its own entry in deps.json is then
    /// unused); eps takes its in-context cost from packages.json; eta has no usable measurement.
    fn reqbench_fixture(dir: &Scratch) {
        dir.file(
            INSTALL_IMPORT_FILE,
            r#"{
  "alpha": {
    "1.0": {"install_time": 500.0, "compressed_size": 0, "disk_size": 1000, "top": ["alpha"],
            "suffix": ".tar", "i-ms": 30.0, "i-mb": 3.0, "ms": 10.0, "mb": 1.0},
    "2.0": {"install_time": 600.0, "disk_size": 2000, "i-ms": 8.0, "i-mb": 0.5, "ms": 0, "mb": 0}
  },
  "beta": {"1.0": {"install_time": 400.0, "disk_size": 500, "i-ms": 5.0, "i-mb": 0.25,
                   "ms": 4.0, "mb": 0.125}},
  "gamma": {"3.1": {"install_time": 700.0, "disk_size": 300, "ms": 2.0, "mb": 0.0}},
  "delta": {"0.1": {"disk_size": 100, "ms": 1.0, "mb": 0.0}},
  "eps": {"1.0": {"install_time": 450.0, "disk_size": 10, "i-ms": 0, "i-mb": 0, "ms": 0,
                  "mb": 0}},
  "eta": {"1.0": {"install_time": 450.0, "disk_size": 10, "i-ms": 0, "i-mb": 0, "ms": 0,
                  "mb": 0}}
}"#,
        );
        dir.file(
            DEPS_FILE,
            r#"{
  "alpha": {"1.0": {"alpha==1.0,beta==1.0": 5,
                    "alpha==1.0,beta==1.0,gamma==3.1": 7,
                    "alpha==1.0": 2}},
  "beta": {"1.0": {"beta==1.0,gamma==3.1": 3, "beta==1.0": 3}},
  "gamma": {"3.1": {"delta==0.1,gamma==3.1": 4}},
  "delta": {"0.1": {"delta==0.1": 1}}
}"#,
        );
        dir.file(
            PACKAGES_FILE,
            r#"{
  "eps": {"name": "eps", "versions": {"1.0": {"top": ["eps"], "requirements": {},
          "cost": {"i-ms": 3.0, "ms": 2.5, "i-mb": 0.5, "mb": 0.25}}}, "popularity": []},
  "alpha": {"name": "alpha", "versions": {"1.0": {"top": ["alpha"], "requirements": {},
            "cost": {"i-ms": 99.0, "ms": 99.0, "i-mb": 9.0, "mb": 9.0}}}, "popularity": []}
}"#,
        );
    }

    #[test]
    fn reqbench_reads_fixture() {
        let dir = Scratch::new("packages-reqbench");
        reqbench_fixture(&dir);
        let (c, report) = PackageCatalog::read_reqbench(dir.path()).unwrap();
        let keys: Vec<String> = c.packages.iter().map(Package::key).collect();
        assert_eq!(
            keys,
            [
                "alpha==1.0",
                "alpha==2.0",
                "beta==1.0",
                "eps==1.0",
                "eta==1.0",
                "gamma==3.1"
            ]
        );
        let p = |k: &str| c.package(c.find_key(k).unwrap());

        // The most frequent set (7), without alpha itself.
        assert_eq!(p("alpha==1.0").deps, ids(&[2, 5]));
        // In-context costs, not isolated ones nor packages.json's.
        assert_eq!(
            (p("alpha==1.0").import_ms, p("alpha==1.0").import_mb),
            (10.0, 1.0)
        );
        assert_eq!(p("alpha==1.0").install_ms, 500.0);
        assert_eq!(p("alpha==1.0").disk_bytes, 1000);
        // 5 + 7 + 2 applications.
        assert_eq!(p("alpha==1.0").popularity, 14.0);
        // Failed in-context measurement: the isolated one.
        assert_eq!(
            (p("alpha==2.0").import_ms, p("alpha==2.0").import_mb),
            (8.0, 0.5)
        );
        assert_eq!(p("alpha==2.0").popularity, 0.0);
        // A tie at 3 goes to "beta==1.0", which sorts before "beta==1.0,gamma==3.1".
        assert!(p("beta==1.0").deps.is_empty());
        assert_eq!(p("beta==1.0").popularity, 6.0);
        assert_eq!(
            (p("eps==1.0").import_ms, p("eps==1.0").import_mb),
            (2.5, 0.25)
        );
        assert_eq!(
            (p("eta==1.0").import_ms, p("eta==1.0").import_mb),
            (0.0, 0.0)
        );
        // delta was dropped, so gamma's only dependency is too.
        assert!(p("gamma==3.1").deps.is_empty());
        assert_eq!(p("gamma==3.1").popularity, 4.0);
        assert_eq!(
            (p("gamma==3.1").import_ms, p("gamma==3.1").import_mb),
            (2.0, 0.0)
        );

        assert_eq!(report.names, 6);
        assert_eq!(report.versions, 7);
        assert_eq!(report.dropped.len(), 1);
        assert_eq!(report.dropped[0].0, "delta==0.1");
        assert!(report.dropped[0].1.contains("install_time"));
        assert_eq!(report.isolated_costs, 1);
        assert_eq!(report.costs_from_packages_json, 1);
        assert_eq!(report.unmeasured_imports, ["eta==1.0"]);
        assert_eq!(report.without_deps_entry, 3);
        assert_eq!(report.tied_dep_sets, 1);
        assert_eq!(report.deps_dropped, 1);
        assert_eq!(report.unknown_deps, ["delta==0.1"]);
        assert_eq!(report.unused_deps_entries, 1);
        let text = report.to_string();
        assert!(
            text.starts_with("7 versions of 6 packages, 1 dropped"),
            "{text}"
        );
    }

    #[test]
    fn reqbench_names_missing_files() {
        let dir = Scratch::new("packages-reqbench-missing");
        reqbench_fixture(&dir);
        std::fs::remove_file(dir.path().join(DEPS_FILE)).unwrap();
        let m = PackageCatalog::read_reqbench(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("deps.json") && m.contains("missing ReqBench file"),
            "{m}"
        );

        let empty = Scratch::new("packages-reqbench-empty");
        let m = PackageCatalog::read_reqbench(empty.path())
            .unwrap_err()
            .to_string();
        assert!(m.contains("install_import.json"), "{m}");
    }

    #[test]
    fn reqbench_reports_bad_json_and_bad_sets() {
        let dir = Scratch::new("packages-reqbench-bad");
        reqbench_fixture(&dir);
        dir.file(
            DEPS_FILE,
            "{\n  \"alpha\": {\"1.0\": {\"alpha==1.0\": \"many\"}}\n}",
        );
        let e = PackageCatalog::read_reqbench(dir.path()).unwrap_err();
        assert!(matches!(e, WorkloadError::Row { line: 2, .. }), "{e}");

        dir.file(DEPS_FILE, r#"{"alpha": {"1.0": {"alpha==1.0,beta": 2}}}"#);
        let m = PackageCatalog::read_reqbench(dir.path())
            .unwrap_err()
            .to_string();
        assert!(m.contains("alpha==1.0") && m.contains("\"beta\""), "{m}");
    }

    #[cfg(unix)]
    #[test]
    fn reqbench_files_that_are_not_files_are_named_for_what_they_are() {
        let dir = Scratch::new("packages-reqbench-kinds");
        reqbench_fixture(&dir);
        std::fs::remove_file(dir.path().join(DEPS_FILE)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(DEPS_FILE)).unwrap();
        let m = PackageCatalog::read_reqbench(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("deps.json: is a device (a link to /dev/zero), not a regular file"),
            "{m}"
        );
    }

    /// The error of reading the fixture with `file` replaced by `text`.
    fn reqbench_error(test: &str, file: &str, text: &str) -> (WorkloadError, String) {
        let dir = Scratch::new(test);
        reqbench_fixture(&dir);
        dir.file(file, text);
        let e = PackageCatalog::read_reqbench(dir.path()).unwrap_err();
        let m = e.to_string();
        assert!(m.contains(file), "{m}");
        (e, m)
    }

    #[test]
    fn reqbench_rejects_negative_costs_like_the_native_format() {
        let fields = ["install_time", "disk_size", "ms", "mb", "i-ms", "i-mb"];
        for field in fields {
            let values: Vec<String> = fields
                .iter()
                .map(|f| format!("\"{f}\": {}", if *f == field { "-2.5" } else { "1" }))
                .collect();
            let text = format!(
                "{{\n  \"alpha\": {{\n    \"1.0\": {{{}}}\n  }}\n}}",
                values.join(", ")
            );
            let (e, m) = reqbench_error("packages-reqbench-negative", INSTALL_IMPORT_FILE, &text);
            // The line of the version's entry.
            assert!(matches!(e, WorkloadError::Row { line: 3, .. }), "{m}");
            assert!(
                m.contains("alpha==1.0")
                    && m.contains(&format!("{field} must be a finite number of at least 0"))
                    && m.contains("-2.5"),
                "{m}"
            );
        }
        let (e, m) = reqbench_error(
            "packages-reqbench-negative-extra",
            PACKAGES_FILE,
            "{\"alpha\": {\"versions\": {\n  \"1.0\": {\"cost\": {\"ms\": 1, \"mb\": -1}}}}}",
        );
        assert!(matches!(e, WorkloadError::Row { line: 2, .. }), "{m}");
        assert!(m.contains("alpha==1.0: cost.mb must be"), "{m}");
        // Names are checked as the native format checks them, not dropped.
        let (e, m) = reqbench_error(
            "packages-reqbench-bad-name",
            INSTALL_IMPORT_FILE,
            "{\n\"a,b\": {\"1\": {\"install_time\": 1, \"disk_size\": 1}}}",
        );
        assert!(matches!(e, WorkloadError::Row { line: 2, .. }), "{m}");
        assert!(m.contains("name must be non-empty"), "{m}");
        // A size beyond what a u64 holds.
        let (_, m) = reqbench_error(
            "packages-reqbench-huge",
            INSTALL_IMPORT_FILE,
            "{\"a\": {\"1\": {\"install_time\": 1, \"disk_size\": 1e300}}}",
        );
        assert!(m.contains("disk_size") && m.contains("more bytes"), "{m}");
    }

    #[test]
    fn reqbench_rejects_dependencies_on_unknown_packages() {
        // A member that install_import.json does not have, in a set that is not even the most
        // frequent.
        let (e, m) = reqbench_error(
            "packages-reqbench-unknown-member",
            DEPS_FILE,
            "{\n  \"alpha\": {\"1.0\": {\"alpha==1.0\": 5,\n    \"alpha==1.0,zeta==9\": 1}}\n}",
        );
        assert!(matches!(e, WorkloadError::Row { line: 3, .. }), "{m}");
        assert!(
            m.contains("alpha==1.0")
                && m.contains("\"zeta==9\", which is not a package of install_import.json"),
            "{m}"
        );
        // An entry for a version that install_import.json does not have.
        let (e, m) = reqbench_error(
            "packages-reqbench-unknown-entry",
            DEPS_FILE,
            "{\n  \"alpha\": {\"1.0\": {\"alpha==1.0\": 5}},\n  \"omega\": {\"1.0\": {\"omega==1.0\": 1}}\n}",
        );
        assert!(matches!(e, WorkloadError::Row { line: 3, .. }), "{m}");
        assert!(
            m.contains("omega==1.0") && m.contains("not a package of install_import.json"),
            "{m}"
        );
    }

    #[test]
    fn key_lines_follow_nested_objects_only() {
        let text =
            "{\"a\": {\n  \"x\": [{\"in\": 1}],\n  \"y\\\"z\": {\"deep\": {}}},\n \"b\": \"{\"}";
        let lines = key_lines(text, 2);
        let at = |keys: &[&str]| {
            lines
                .get(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>())
                .copied()
        };
        assert_eq!(at(&["a"]), Some(1));
        assert_eq!(at(&["a", "x"]), Some(2));
        assert_eq!(at(&["a", "y\"z"]), Some(3));
        assert_eq!(at(&["b"]), Some(4));
        // Deeper than asked, or inside an array.
        assert_eq!(at(&["a", "y\"z", "deep"]), None);
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn synthetic_is_deterministic() {
        let spec = CatalogSpec::default();
        let a = PackageCatalog::synthetic(&spec, 11).unwrap();
        assert_eq!(a, PackageCatalog::synthetic(&spec, 11).unwrap());
        assert_ne!(a, PackageCatalog::synthetic(&spec, 12).unwrap());
        assert_eq!(a.len(), 200);
        a.validate().unwrap();

        // Costs have their own streams: another dependency bound keeps them.
        let other = CatalogSpec {
            max_deps: 1,
            ..CatalogSpec::default()
        };
        let b = PackageCatalog::synthetic(&other, 11).unwrap();
        for (x, y) in a.packages.iter().zip(&b.packages) {
            assert_eq!(
                (x.install_ms, x.disk_bytes, x.import_ms, x.import_mb),
                (y.install_ms, y.disk_bytes, y.import_ms, y.import_mb)
            );
        }
    }

    #[test]
    fn synthetic_is_a_dag_on_more_popular_packages() {
        let c = PackageCatalog::synthetic(&CatalogSpec::default(), 5).unwrap();
        let mut counts = [0usize; 4];
        for (r, p) in c.packages.iter().enumerate() {
            assert!(p.deps.len() <= 3.min(r), "{r}: {:?}", p.deps);
            assert!(p.deps.windows(2).all(|w| w[0] < w[1]), "{r}: {:?}", p.deps);
            assert!(p.deps.iter().all(|d| d.index() < r), "{r}: {:?}", p.deps);
            counts[p.deps.len()] += 1;
        }
        // Uniform on 0..=3: every count is well represented.
        assert!(counts.iter().all(|&n| n > 25), "{counts:?}");
        assert!(c.packages[0].deps.is_empty());
    }

    #[test]
    fn synthetic_popularity_is_zipf() {
        let c = PackageCatalog::synthetic(&CatalogSpec::default(), 1).unwrap();
        let total: f64 = c.packages.iter().map(|p| p.popularity).sum();
        assert!((total - 1.0).abs() < 1e-12);
        // 1 / H(200, 1.5) with H(200, 1.5) = sum of r^-1.5 for r = 1..=200 = 2.471131, that is
        // zeta(1.5) = 2.612375 less a tail of about 2 / sqrt(200.5).
        assert!((c.packages[0].popularity - 0.404673).abs() < 1e-6);
        // Rank 2 weighs 2^-1.5 = 0.353553 of rank 1.
        let ratio = c.packages[1].popularity / c.packages[0].popularity;
        assert!((ratio - 0.353553).abs() < 1e-6);

        // Drawn one package each from a catalogue without dependencies, about 40.5% of 20,000
        // functions get the most popular package (standard deviation 0.35 points).
        let flat = PackageCatalog::synthetic(
            &CatalogSpec {
                max_deps: 0,
                ..CatalogSpec::default()
            },
            1,
        )
        .unwrap();
        let one = AssignSpec {
            mean: 1.0,
            min: 1,
            max: 1,
        };
        let sets = assign(&flat, 20_000, &one, 9).unwrap();
        assert!(sets.iter().all(|s| s.len() == 1));
        let top = sets.iter().filter(|s| s[0] == PackageId(0)).count() as f64 / 20_000.0;
        assert!((top - 0.4047).abs() < 0.015, "{top}");
        let second = sets.iter().filter(|s| s[0] == PackageId(1)).count() as f64 / 20_000.0;
        assert!((second - 0.1431).abs() < 0.01, "{second}");
    }

    #[test]
    fn synthetic_cost_medians_match_parameters() {
        let spec = CatalogSpec {
            packages: 4001,
            ..CatalogSpec::default()
        };
        let c = PackageCatalog::synthetic(&spec, 2).unwrap();
        let ln_median = |values: Vec<f64>| {
            let mut v = values;
            v.sort_by(f64::total_cmp);
            v[v.len() / 2].ln()
        };
        // The median of n log-normal draws has ln-standard deviation about
        // 1.2533 * sigma / sqrt(n); allow five of them.
        let check = |what: &str, values: Vec<f64>, d: &LogNormalSpec| {
            let got = ln_median(values);
            let tolerance = 5.0 * 1.2533 * d.sigma / (4001f64).sqrt();
            assert!((got - d.mu).abs() < tolerance, "{what}: {got} vs {}", d.mu);
        };
        let field = |f: fn(&Package) -> f64| c.packages.iter().map(f).collect::<Vec<f64>>();
        check("install_ms", field(|p| p.install_ms), &spec.install_ms);
        check(
            "disk_bytes",
            field(|p| p.disk_bytes as f64),
            &spec.disk_bytes,
        );
        check("import_ms", field(|p| p.import_ms), &spec.import_ms);
        check("import_mb", field(|p| p.import_mb), &spec.import_mb);
        // The defaults give ReqBench's medians (539.5 ms, 353 KB, 4.03 ms, 0.214 MB) and means
        // (646 ms, 3.95 MB, 13.2 ms, 0.738 MB): a log-normal's mean is exp(mu + sigma^2 / 2).
        let d = CatalogSpec::default();
        let close = |d: &LogNormalSpec, median: f64, mean: f64| {
            let rel = |a: f64, b: f64| (a / b - 1.0).abs();
            assert!(rel(d.mu.exp(), median) < 0.005, "{d:?}");
            assert!(
                rel((d.mu + d.sigma * d.sigma / 2.0).exp(), mean) < 0.02,
                "{d:?}"
            );
        };
        close(&d.install_ms, 539.5, 646.1);
        close(&d.disk_bytes, 353_182.0, 3_947_322.0);
        close(&d.import_ms, 4.028, 13.24);
        close(&d.import_mb, 0.2138, 0.7376);
    }

    #[test]
    fn catalog_spec_serde_and_validation() {
        let spec: CatalogSpec =
            serde_json::from_str(r#"{"packages": 50, "import_ms": {"mu": 4.0, "sigma": 1.0}}"#)
                .unwrap();
        assert_eq!(spec.packages, 50);
        assert_eq!(spec.zipf, 1.5);
        assert_eq!(
            spec.import_ms,
            LogNormalSpec {
                mu: 4.0,
                sigma: 1.0
            }
        );
        assert!(serde_json::from_str::<CatalogSpec>(r#"{"pakages": 5}"#).is_err());
        spec.validate().unwrap();
        let bad = |s: CatalogSpec, field: &str| {
            let m = s.validate().unwrap_err().to_string();
            assert!(m.contains(field), "{m}");
        };
        let d = CatalogSpec::default;
        bad(CatalogSpec { packages: 0, ..d() }, "packages");
        bad(CatalogSpec { zipf: -1.0, ..d() }, "zipf");
        bad(
            CatalogSpec {
                zipf: f64::NAN,
                ..d()
            },
            "zipf",
        );
        bad(
            CatalogSpec {
                max_deps: 65,
                ..d()
            },
            "max_deps",
        );
        let wide = LogNormalSpec {
            mu: 0.0,
            sigma: -1.0,
        };
        bad(
            CatalogSpec {
                disk_bytes: wide,
                ..d()
            },
            "disk_bytes.sigma",
        );
        let far = LogNormalSpec {
            mu: 1e9,
            sigma: 1.0,
        };
        bad(
            CatalogSpec {
                install_ms: far,
                ..d()
            },
            "install_ms.mu",
        );
        assert!(PackageCatalog::synthetic(&CatalogSpec { packages: 0, ..d() }, 1).is_err());
        // One package and a steep Zipf still work.
        let steep = CatalogSpec {
            packages: 300,
            zipf: 60.0,
            ..d()
        };
        let c = PackageCatalog::synthetic(&steep, 1).unwrap();
        c.validate().unwrap();
        assert!(
            c.packages
                .iter()
                .all(|p| p.deps.iter().all(|d| d.index() < 300))
        );
        let single = PackageCatalog::synthetic(&CatalogSpec { packages: 1, ..d() }, 1).unwrap();
        assert_eq!(single.packages[0].popularity, 1.0);
    }

    #[test]
    fn assign_is_deterministic() {
        let c = PackageCatalog::synthetic(&CatalogSpec::default(), 4).unwrap();
        let spec = AssignSpec::default();
        let a = assign(&c, 500, &spec, 21).unwrap();
        assert_eq!(a.len(), 500);
        assert_eq!(a, assign(&c, 500, &spec, 21).unwrap());
        assert_ne!(a, assign(&c, 500, &spec, 22).unwrap());
        assert!(assign(&c, 0, &spec, 21).unwrap().is_empty());
    }

    #[test]
    fn assign_sets_are_closed_under_deps() {
        let c = PackageCatalog::synthetic(&CatalogSpec::default(), 4).unwrap();
        let sets = assign(&c, 1000, &AssignSpec::default(), 3).unwrap();
        for s in &sets {
            assert!(!s.is_empty());
            assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
            for p in s {
                for d in &c.package(*p).deps {
                    assert!(s.binary_search(d).is_ok(), "{s:?} lacks {d:?} of {p:?}");
                }
            }
            assert_eq!(&c.closure(s), s);
        }
        // The same on a catalogue with a cycle.
        let cyclic = diamond_and_cycle();
        for s in assign(&cyclic, 200, &AssignSpec::default(), 3).unwrap() {
            assert_eq!(cyclic.closure(&s), s);
        }
    }

    #[test]
    fn assign_draws_follow_spec() {
        // Without dependencies a function's set is its direct packages.
        let flat = PackageCatalog::synthetic(
            &CatalogSpec {
                max_deps: 0,
                ..CatalogSpec::default()
            },
            8,
        )
        .unwrap();
        let exact = AssignSpec {
            mean: 4.0,
            min: 4,
            max: 4,
        };
        assert!(
            assign(&flat, 300, &exact, 1)
                .unwrap()
                .iter()
                .all(|s| s.len() == 4)
        );
        // min 1, mean 3, max 10: G is geometric with mean 2, so P(k > 10) = (2/3)^10 = 0.0173 and
        // the capped mean is 3 - 0.0173 * 3 = 2.948.
        let sets = assign(&flat, 20_000, &AssignSpec::default(), 2).unwrap();
        let sizes: Vec<usize> = sets.iter().map(Vec::len).collect();
        assert!(sizes.iter().all(|&k| (1..=10).contains(&k)));
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        assert!((mean - 2.948).abs() < 0.06, "{mean}");
        // P(k = 1) = 1/3.
        let ones = sizes.iter().filter(|&&k| k == 1).count() as f64 / sizes.len() as f64;
        assert!((ones - 1.0 / 3.0).abs() < 0.02, "{ones}");

        // Packages of popularity 0 are never drawn, and k stops at the drawable ones.
        let mut c = diamond_and_cycle();
        for p in &mut c.packages {
            p.popularity = 0.0;
        }
        c.packages[3].popularity = 2.0;
        c.packages[6].popularity = 1.0;
        let many = AssignSpec {
            mean: 5.0,
            min: 5,
            max: 5,
        };
        for s in assign(&c, 50, &many, 1).unwrap() {
            assert_eq!(s, ids(&[3, 4, 5, 6]));
        }
        for p in &mut c.packages {
            p.popularity = 0.0;
        }
        assert!(assign(&c, 5, &many, 1).unwrap().iter().all(Vec::is_empty));
    }

    #[test]
    fn assign_spec_validation() {
        let bad = |s: AssignSpec| assert!(s.validate().is_err(), "{s:?}");
        bad(AssignSpec {
            mean: 3.0,
            min: 4,
            max: 10,
        });
        bad(AssignSpec {
            mean: 11.0,
            min: 1,
            max: 10,
        });
        bad(AssignSpec {
            mean: f64::NAN,
            min: 1,
            max: 10,
        });
        bad(AssignSpec {
            mean: 3.0,
            min: 5,
            max: 4,
        });
        bad(AssignSpec {
            mean: 3.0,
            min: 1,
            max: 5000,
        });
        AssignSpec::default().validate().unwrap();
        let s: AssignSpec = serde_json::from_str(r#"{"mean": 2.5}"#).unwrap();
        assert_eq!((s.min, s.max), (1, 10));
        assert!(serde_json::from_str::<AssignSpec>(r#"{"average": 2}"#).is_err());
        let c = diamond_and_cycle();
        assert!(
            assign(
                &c,
                3,
                &AssignSpec {
                    mean: 0.5,
                    min: 1,
                    max: 2
                },
                1
            )
            .is_err()
        );
        let mut dangling = diamond_and_cycle();
        dangling.packages[0].deps = ids(&[70]);
        assert!(assign(&dangling, 3, &AssignSpec::default(), 1).is_err());
    }
}
