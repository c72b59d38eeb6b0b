//! Scenario files: what to simulate, in two stages as ripgrep does with its flags. [`RawScenario`]
//! is exactly what serde reads from TOML (unknown fields are errors); [`Scenario`] is the
//! validated, typed configuration a run is built from. Command-line flags are applied to the raw
//! form, so a flag and a file field go through the same checks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use policies::{ImportCacheSpec, InstallCacheConfig, KeepAliveConfig, PoolMode, SchedulerConfig};
use serde::{Deserialize, Serialize};
use sim::platform::ReuseOrder;
use sim::{
    Admission, ControllerConfig, CostModel, CpuModel, EvictionMode, Handoff, QueueMode,
    ReleaseMode, TieOrder, UnloadTiming, WorkerSpec,
};

use crate::config_file::Document;
use crate::validate::Tolerances;
use workloads::packages::{AssignSpec, CatalogSpec};
use workloads::synthetic::SyntheticSpec;
use workloads::trace::{Granularity, RateScale, TraceFormat, TraceSpec};

use crate::Error;

/// The scenario `lambdasim run` simulates when given no file: a day of an Azure-like synthetic
/// workload on a small cluster.
pub const DEFAULT_SCENARIO: &str = include_str!("../scenarios/default.toml");

/// More workers than any cluster a simulation needs; the bound keeps a typo from exhausting
/// memory.
const MAX_WORKERS: u32 = 1_000_000;

/// Presets: named sets of defaults that reproduce a peer's model, applied under a scenario's own
/// values.
pub const PRESETS: [(&str, &str); 3] = [
    (
        "faascache",
        include_str!("../scenarios/presets/faascache.toml"),
    ),
    (
        "openlambda",
        include_str!("../scenarios/presets/openlambda.toml"),
    ),
    ("dslab", include_str!("../scenarios/presets/dslab.toml")),
];

/// A scenario file as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// The preset the scenario starts from (`faascache`, `dslab`, `openlambda`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Seeds every random choice: the workload generator and randomized policies.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub cluster: RawCluster,
    #[serde(default)]
    pub costs: CostModel,
    #[serde(default)]
    pub policies: RawPolicies,
    #[serde(default)]
    pub workload: RawWorkload,
    #[serde(default)]
    pub packages: RawPackages,
    /// Modelling choices where peers' simulators differ from lambdasim's.
    #[serde(default, skip_serializing_if = "RawModel::is_default")]
    pub model: RawModel,
    /// Tolerances of `lambdasim validate`.
    #[serde(default, skip_serializing_if = "Tolerances::is_default")]
    pub validation: Tolerances,
    /// Settings of real mode (`lambdasim real` and `validate`); the simulator ignores them.
    #[serde(default, skip_serializing_if = "RawReal::is_default")]
    pub real: RawReal,
    /// Where the fields were written, for messages; set by [`RawScenario::load`].
    #[serde(skip)]
    pub source: Source,
}

/// Where the errors of a scenario's TOML are reported.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// In its file, at the key or value an error is about.
    File(&'a Document),
    /// A scenario built from other files: by this function.
    Built(&'a dyn Fn(&toml::de::Error) -> Error),
}

/// Where a scenario's fields are written: its file and the line of each field in it. Not part of
/// the scenario's value: scenarios with the same values are equal wherever they were read from.
#[derive(Clone, Debug, Default)]
pub struct Source(Option<Arc<FieldLines>>);

#[derive(Debug)]
struct FieldLines {
    origin: String,
    /// The line of each key, by dotted path (array elements by index).
    lines: BTreeMap<String, usize>,
}

impl PartialEq for Source {
    fn eq(&self, _: &Source) -> bool {
        true
    }
}

impl Source {
    /// The fields of a scenario file.
    pub fn of(doc: &Document) -> Self {
        Source(Some(Arc::new(FieldLines {
            origin: doc.origin().to_string(),
            lines: doc.key_lines(),
        })))
    }

    /// The line of the field at `path` (dotted, `cluster.workers`), if the file has it.
    pub fn line(&self, path: &str) -> Option<usize> {
        self.0.as_ref()?.lines.get(path).copied()
    }

    /// A message about a field, which starts with the field's dotted path (`cluster.workers must
    /// be ...`, or `workload: functions must be ...`), as `FILE, line N: [cluster] workers must
    /// be ...` when the file has the field, or else the nearest table below the top level that
    /// holds it (the policy, for a parameter it leaves at its default); unchanged otherwise.
    pub fn locate(&self, message: &str) -> String {
        let Some(fields) = &self.0 else {
            return message.to_string();
        };
        let is_path = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']');
        let token = |text: &str| text.find(|c: char| !is_path(c)).unwrap_or(text.len());
        let first = token(message);
        let mut path = message[..first].to_string();
        if let Some(rest) = message[first..].strip_prefix(": ") {
            let second = &rest[..token(rest)];
            if !second.is_empty() {
                path = format!("{path}.{second}");
            }
        }
        let parts: Vec<&str> = path
            .split(['.', '[', ']'])
            .filter(|p| !p.is_empty())
            .collect();
        let Some(line) = (2..=parts.len())
            .rev()
            .find_map(|n| fields.lines.get(&parts[..n].join(".")))
        else {
            return message.to_string();
        };
        let section = parts[0];
        let rest = &message[section.len()..];
        let rest = rest
            .strip_prefix(": ")
            .or_else(|| rest.strip_prefix('.'))
            .unwrap_or(rest);
        format!("{}, line {line}: [{section}] {rest}", fields.origin)
    }

    /// Keeps only the fields whose values are the same in `file` (the scenario as read) and
    /// `now` (with flags applied): a flag's value is not the file's.
    fn keep_unchanged(&mut self, file: &RawScenario, now: &RawScenario) {
        let Some(fields) = &self.0 else {
            return;
        };
        let (Ok(file), Ok(now)) = (toml::Value::try_from(file), toml::Value::try_from(now)) else {
            self.0 = None;
            return;
        };
        let lookup = |value: &toml::Value, path: &str| {
            path.split('.').try_fold(value.clone(), |v, part| match v {
                toml::Value::Table(mut t) => t.remove(part),
                toml::Value::Array(mut a) => {
                    let i: usize = part.parse().ok()?;
                    (i < a.len()).then(|| a.swap_remove(i))
                }
                _ => None,
            })
        };
        let lines = fields
            .lines
            .iter()
            .filter(|(path, _)| lookup(&file, path) == lookup(&now, path))
            .map(|(path, line)| (path.clone(), *line))
            .collect();
        self.0 = Some(Arc::new(FieldLines {
            origin: fields.origin.clone(),
            lines,
        }));
    }
}

/// `[real]`: settings of real mode (`lambdasim real` and `validate`). Each is optional: the
/// command-line flag of the same name overrides it, and the flag's default applies when neither
/// is given. A `validate --matrix` plan varies them like any other key (`"real.exec"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReal {
    /// Trace time per wall-clock time (`--time-scale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Execution and initialization times are divided by this (`--duration-scale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_scale: Option<f64>,
    /// A sandbox's memory limit is its function's memory times this (`--memory-scale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_scale: Option<f64>,
    /// `"busy"` or `"sleep"` (`--exec`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecKind>,
    /// CPU limit of each sandbox, in cores (`--cpu-limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// Share of its memory a sandbox fills as it initializes (`--touch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub touch: Option<f64>,
    /// Package files on disk are the catalogue's sizes times this (`--disk-scale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_scale: Option<f64>,
    /// Child cgroups each worker keeps ready (`--pool`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<usize>,
    /// How long past its expected end (its scaled duration, stretched by a CPU limit) an
    /// invocation may go unanswered before its sandbox is killed and it fails as `timeout`
    /// (`--invocation-timeout` overrides it; 60 s when neither is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_timeout: Option<workloads::Duration>,
    /// Make cgroup migrations cheap while a run lasts (`--no-favor-dynmods` turns it off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favor_dynmods: Option<bool>,
}

impl RawReal {
    pub fn is_default(&self) -> bool {
        *self == RawReal::default()
    }
}

/// How real sandboxes spend an invocation's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecKind {
    /// Spinning on a core.
    Busy,
    /// Sleeping.
    Sleep,
}

/// `[model]`: modelling choices where peers' simulators differ. lambdasim's own are the
/// defaults; the `faascache` and `dslab` presets set their peers', and each can be set alone to
/// measure what it does to a result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawModel {
    /// How much a cold start that lacks memory evicts: `"shortfall"`, `"whole-size"` or
    /// `"none"`.
    pub eviction: EvictionMode,
    /// When a sandbox whose invocations ended can be reused or evicted: `"at-end"` or
    /// `"next-arrival"`.
    pub release: ReleaseMode,
    /// How ttl (lazy), lru and greedy-dual keep their sandboxes: `"indexed"` or `"heap"`
    /// (FaasCache's container pool).
    pub pool: PoolMode,
    /// Whether an arrival that needs a new sandbox waits behind queued invocations
    /// (`"behind-queue"`) or starts one if memory allows (`"bypass"`).
    pub admission: Admission,
    /// Which queued invocation takes a sandbox whose invocation ended: the oldest of its
    /// function (`"function"`) or none, the queue being served from its head (`"head"`).
    pub handoff: Handoff,
    /// At equal times, `"completions-first"` or `"arrivals-first"`.
    pub ties: TieOrder,
    /// When a sandbox its keep-alive destroys as it becomes idle frees its memory:
    /// `"immediate"` or `"end-of-instant"`.
    pub unload: UnloadTiming,
}

impl RawModel {
    pub fn is_default(&self) -> bool {
        *self == RawModel::default()
    }
}

/// `[packages]`: the package catalogue and how functions get their packages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPackages {
    pub catalog: CatalogSource,
    /// How many packages a function that has none gets, drawn by popularity.
    pub assign: AssignSpec,
    /// Which installed packages each worker keeps on disk.
    pub install_cache: InstallCacheConfig,
    /// Which zygotes (processes with packages imported) each worker keeps.
    pub import_cache: ImportCacheSpec,
}

/// Where the package catalogue comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CatalogSource {
    /// Packages are not modeled (a native trace with a `packages.json` still brings its own).
    #[default]
    None,
    /// Generated from distributions fitted to ReqBench's measurements.
    Synthetic(CatalogSpec),
    /// ReqBench's `install_import.json`, `deps.json` and `packages.json` in a directory.
    Reqbench { dir: PathBuf },
    /// lambdasim's package catalogue format (JSON).
    Native { path: PathBuf },
}

/// `[cluster]`: identical workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCluster {
    pub workers: u32,
    /// Memory of each worker for sandboxes, in MB.
    pub memory_mb: u64,
    /// Cores of each worker.
    pub cores: u32,
    /// How invocations use the cores: `"ignored"` (infinite cores, FaasCache's model),
    /// `"isolated"` (one core each, waiting for a free one) or `"shared"` (processor sharing).
    pub cpu: CpuModel,
    /// Invocations one sandbox runs at once (functions may override it in native traces).
    pub concurrency: u32,
    /// `"queue"`: wait in the worker's FIFO queue when memory is short; `"drop"`: drop at once.
    pub queue: QueueKind,
    /// Invocations a worker's queue holds before it drops.
    pub queue_capacity: u32,
    /// Which idle sandbox of a function an invocation reuses: `"mru"` (most recently used) or
    /// `"lru"`.
    pub reuse: ReuseOrder,
    /// Give every sandbox this much memory instead of its function's (OpenLambda's fixed
    /// per-sandbox limit); unset: the function's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_memory_mb: Option<u32>,
    /// Provisioned concurrency: `[{ function = "name", count = 2 }]` keeps `count` sandboxes of
    /// the function warm for the whole run.
    pub provisioned: Vec<Provisioned>,
}

/// Sandboxes of one function kept warm for the whole run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioned {
    pub function: String,
    pub count: u32,
}

impl Default for RawCluster {
    fn default() -> Self {
        RawCluster {
            workers: 4,
            memory_mb: 8192,
            cores: 8,
            cpu: CpuModel::Ignored,
            concurrency: 1,
            queue: QueueKind::Queue,
            queue_capacity: 1000,
            reuse: ReuseOrder::Mru,
            sandbox_memory_mb: None,
            provisioned: Vec::new(),
        }
    }
}

/// What happens to an invocation that finds no memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueueKind {
    Queue,
    Drop,
}

/// `[policies]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicies {
    pub keep_alive: KeepAliveConfig,
    pub scheduler: SchedulerConfig,
}

/// `[workload]`: where invocations come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RawWorkload {
    /// Generated from the Azure 2019 fits (see `workloads::synthetic`).
    Synthetic(SyntheticSpec),
    /// lambdasim's own trace format: a directory with `functions.csv` and `invocations.csv`.
    Native(TraceSpec),
    /// The Azure Functions 2019 trace (original day files or In-Vitro samples) in a directory.
    Azure2019(TraceSpec),
    /// The Azure Functions 2021 invocation trace, one file.
    Azure2021(TraceSpec),
    /// The Huawei 2023 public requests-per-minute trace, a file or a directory of day files.
    Huawei2023(TraceSpec),
}

impl Default for RawWorkload {
    fn default() -> Self {
        RawWorkload::Synthetic(SyntheticSpec::default())
    }
}

impl RawWorkload {
    /// A replayed trace: `kind = FORMAT` with the trace's options.
    pub fn trace(format: TraceFormat, spec: TraceSpec) -> Self {
        match format {
            TraceFormat::Native => RawWorkload::Native(spec),
            TraceFormat::Azure2019 => RawWorkload::Azure2019(spec),
            TraceFormat::Azure2021 => RawWorkload::Azure2021(spec),
            TraceFormat::Huawei2023 => RawWorkload::Huawei2023(spec),
        }
    }

    /// The trace's format and options, if the workload replays one.
    pub fn as_trace(&self) -> Option<(TraceFormat, &TraceSpec)> {
        match self {
            RawWorkload::Synthetic(_) => None,
            RawWorkload::Native(s) => Some((TraceFormat::Native, s)),
            RawWorkload::Azure2019(s) => Some((TraceFormat::Azure2019, s)),
            RawWorkload::Azure2021(s) => Some((TraceFormat::Azure2021, s)),
            RawWorkload::Huawei2023(s) => Some((TraceFormat::Huawei2023, s)),
        }
    }

    pub fn as_trace_mut(&mut self) -> Option<&mut TraceSpec> {
        match self {
            RawWorkload::Synthetic(_) => None,
            RawWorkload::Native(s)
            | RawWorkload::Azure2019(s)
            | RawWorkload::Azure2021(s)
            | RawWorkload::Huawei2023(s) => Some(s),
        }
    }
}

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub controller: ControllerConfig,
    pub cpu: CpuModel,
    pub costs: CostModel,
    pub keep_alive: KeepAliveConfig,
    pub scheduler: SchedulerConfig,
    pub workload: RawWorkload,
    /// Tolerances of `lambdasim validate`.
    pub tolerances: Tolerances,
    /// The raw form, for writing the effective scenario next to the results.
    pub raw: RawScenario,
    /// Read and parse a replayed trace on a thread of its own, overlapping the simulation (see
    /// [`workloads::prefetch`]); `true` unless `run --reader-thread false` turns it off. Not part
    /// of the scenario file: it changes how fast a run goes, never what it gives.
    pub reader_thread: bool,
}

impl RawScenario {
    /// Parses TOML text; `origin` names the file in messages. A `preset` key applies that
    /// preset's values under the text's own.
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        Self::parse_with_preset(text, origin, None)
    }

    /// As [`RawScenario::parse`], with `preset` (from the command line) replacing the text's.
    pub fn parse_with_preset(
        text: &str,
        origin: &str,
        preset: Option<&str>,
    ) -> Result<Self, Error> {
        let doc = Document::parse(text.to_string(), origin)?;
        Self::from_document(&doc, preset)
    }

    /// Parses a scenario built from other files (a sweep's run: its base with the grid's values
    /// set), `origin` naming it and `what` saying what it is (`run 3`). Its text has no lines of
    /// its own: an error is located in the first of `written` that has the key or value its
    /// message names (`plan.toml, line 4, column 9: run 3: ...`), else names `origin`.
    pub fn parse_built(
        text: &str,
        origin: &str,
        what: &str,
        written: &[&Document],
    ) -> Result<Self, Error> {
        let locate = |e: &toml::de::Error| {
            Error::Input(
                written
                    .iter()
                    .find_map(|doc| doc.locate(e, &format!("{what}: ")))
                    .unwrap_or_else(|| format!("{origin}: {}", e.message().trim_end())),
            )
        };
        Self::from_text(text, origin, None, Place::Built(&locate))
    }

    /// [`RawScenario::parse_with_preset`] of a parsed document: errors point at the key or
    /// value they are about, also when a preset's values were merged in.
    fn from_document(doc: &Document, preset: Option<&str>) -> Result<Self, Error> {
        Self::from_text(doc.text(), doc.origin(), preset, Place::File(doc))
    }

    fn from_text(
        text: &str,
        origin: &str,
        preset: Option<&str>,
        place: Place<'_>,
    ) -> Result<Self, Error> {
        let fail = |e: toml::de::Error| match place {
            Place::File(doc) => doc.error(&e),
            Place::Built(locate) => locate(&e),
        };
        let mut table: toml::Table = toml::from_str(text).map_err(fail)?;
        if let Some(name) = preset {
            table.insert("preset".into(), toml::Value::String(name.to_string()));
        }
        let name = match table.get("preset") {
            None => return toml::from_str(text).map_err(fail),
            Some(toml::Value::String(name)) => name.clone(),
            Some(_) => {
                let line = match place {
                    Place::File(doc) => doc.key_lines().get("preset").copied(),
                    Place::Built(_) => None,
                };
                let at = match line {
                    Some(line) => format!("{origin}, line {line}"),
                    None => origin.to_string(),
                };
                return Err(Error::Input(format!(
                    "{at}: preset must be a string such as \"faascache\""
                )));
            }
        };
        let (mut merged, trace_defaults) = preset_table(&name, origin)?;
        merge(&mut merged, table);
        apply_trace_defaults(&mut merged, trace_defaults);
        toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| match place {
                Place::File(doc) => {
                    doc.error_or(&e, |message| format!("{origin} (preset {name}): {message}"))
                }
                Place::Built(locate) => locate(&e),
            })
    }

    /// The embedded default scenario with `preset`'s values over it.
    pub fn default_with_preset(preset: &str) -> Result<Self, Error> {
        let origin = "embedded default scenario";
        let mut merged: toml::Table =
            toml::from_str(DEFAULT_SCENARIO).expect("the embedded default scenario parses");
        let (preset_values, trace_defaults) = preset_table(preset, origin)?;
        merge(&mut merged, preset_values);
        merged.insert("preset".into(), toml::Value::String(preset.to_string()));
        apply_trace_defaults(&mut merged, trace_defaults);
        Self::from_table(merged, origin, preset)
    }

    fn from_table(table: toml::Table, origin: &str, preset: &str) -> Result<Self, Error> {
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                Error::Input(format!("{origin} (preset {preset}): {}", e.message()))
            })
    }

    /// Reads a scenario file. Relative trace paths in it are made relative to its directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        Self::load_with_preset(path, None)
    }

    /// As [`RawScenario::load`], with `preset` replacing the file's.
    pub fn load_with_preset(path: &Path, preset: Option<&str>) -> Result<Self, Error> {
        let text = crate::config_file::read(path, "scenario")?;
        let doc = Document::parse(text, &path.display().to_string())?;
        let mut raw = Self::from_document(&doc, preset)?;
        let base = path.parent().unwrap_or(Path::new(""));
        if let Some(spec) = raw.workload.as_trace_mut()
            && spec.path.is_relative()
        {
            spec.path = base.join(&spec.path);
        }
        match &mut raw.packages.catalog {
            CatalogSource::Reqbench { dir: p } | CatalogSource::Native { path: p }
                if p.is_relative() =>
            {
                *p = base.join(&*p);
            }
            _ => {}
        }
        if let ImportCacheSpec::StaticTree { tree: Some(p), .. } = &mut raw.packages.import_cache
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        raw.source = Source::of(&doc);
        Ok(raw)
    }

    /// Forgets where the fields that changed since `file` (this scenario as read, before
    /// command-line flags) were written, so that an error about a flag's value does not point
    /// into the file.
    pub fn forget_changed_since(&mut self, file: &RawScenario) {
        let mut source = std::mem::take(&mut self.source);
        source.keep_unchanged(file, self);
        self.source = source;
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Self {
        Self::parse(DEFAULT_SCENARIO, "embedded default scenario")
            .expect("the embedded default scenario parses")
    }

    /// Checks every value and builds the typed scenario. Messages name the field, the value and
    /// what is allowed, and, for a field of the scenario's file, the file and the line.
    pub fn validate(self) -> Result<Scenario, Error> {
        let source = self.source.clone();
        self.check().map_err(|e| match e {
            Error::Input(message) => Error::Input(source.locate(&message)),
            e => e,
        })
    }

    fn check(self) -> Result<Scenario, Error> {
        self.validation.validate().map_err(Error::Input)?;
        let c = &self.cluster;
        let positive = |field: &str, value: u64| {
            if value == 0 {
                Err(Error::Input(format!(
                    "cluster.{field} must be a positive integer, got 0"
                )))
            } else {
                Ok(())
            }
        };
        positive("workers", u64::from(c.workers))?;
        if c.workers > MAX_WORKERS {
            return Err(Error::Input(format!(
                "cluster.workers must be at most {MAX_WORKERS}, got {}",
                c.workers
            )));
        }
        positive("memory_mb", c.memory_mb)?;
        positive("cores", u64::from(c.cores))?;
        positive("concurrency", u64::from(c.concurrency))?;
        if c.queue == QueueKind::Queue {
            positive("queue_capacity", u64::from(c.queue_capacity))?;
        }
        if let Some(mb) = c.sandbox_memory_mb {
            positive("sandbox_memory_mb", u64::from(mb))?;
        }
        for (i, p) in c.provisioned.iter().enumerate() {
            if p.function.is_empty() {
                return Err(Error::Input(format!(
                    "cluster.provisioned[{i}].function must name a function of the workload, got \"\""
                )));
            }
            if p.count == 0 {
                return Err(Error::Input(format!(
                    "cluster.provisioned[{i}].count must be at least 1, got 0"
                )));
            }
        }
        self.policies
            .keep_alive
            .validate()
            .map_err(|e| Error::Input(format!("policies.{e}")))?;
        self.policies
            .scheduler
            .validate_for(c.workers)
            .map_err(|e| Error::Input(format!("policies.{e}")))?;
        let pool = self
            .policies
            .keep_alive
            .pool_policy(self.model.pool)
            .map_err(|e| Error::Input(format!("policies.{e}")))?;
        if pool.is_some() && c.concurrency != 1 {
            return Err(Error::Input(format!(
                "cluster.concurrency must be 1 for {} with model.pool = {:?}: FaasCache's pool runs one invocation per sandbox, got {}",
                self.policies.keep_alive.label(),
                pool_name(self.model.pool),
                c.concurrency
            )));
        }
        let costs = &self.costs;
        // Traces may give each function its own cold-start time; whether they do is known once
        // the trace is read (see `check_cold_cost`).
        if costs.create.mean_micros() + costs.init.mean_micros() == 0
            && matches!(self.workload, RawWorkload::Synthetic(_))
        {
            return Err(Error::Input(NO_COLD_COST.to_string()));
        }
        if let Some(p) = &costs.packages {
            p.validate().map_err(Error::Input)?;
        }
        match (&self.workload, self.workload.as_trace()) {
            (RawWorkload::Synthetic(spec), _) => spec
                .validate()
                .map_err(|e| Error::Input(format!("workload: {e}")))?,
            (_, Some((format, spec))) => spec
                .validate(format)
                .map_err(|e| Error::Input(format!("workload: {e}")))?,
            (_, None) => unreachable!("only synthetic workloads are not traces"),
        }
        if let CatalogSource::Synthetic(spec) = &self.packages.catalog {
            spec.validate()
                .map_err(|e| Error::Input(format!("packages.catalog: {e}")))?;
        }
        self.packages
            .assign
            .validate()
            .map_err(|e| Error::Input(format!("packages.assign: {e}")))?;
        self.packages
            .install_cache
            .validate()
            .map_err(|e| Error::Input(format!("packages.{e}")))?;
        self.packages
            .import_cache
            .validate_for(c.memory_mb)
            .map_err(|e| Error::Input(format!("packages.{e}")))?;
        let worker = WorkerSpec {
            memory_mb: c.memory_mb,
            cores: c.cores,
        };
        Ok(Scenario {
            seed: self.seed,
            cpu: c.cpu,
            controller: ControllerConfig {
                workers: vec![worker; c.workers as usize],
                concurrency: c.concurrency,
                queue: match c.queue {
                    QueueKind::Queue => QueueMode::Queue {
                        capacity: c.queue_capacity,
                    },
                    QueueKind::Drop => QueueMode::Drop,
                },
                reuse: c.reuse,
                // Resolved against the workload's catalog when the run starts.
                provisioned: Vec::new(),
                sandbox_memory_mb: c.sandbox_memory_mb,
                eviction: self.model.eviction,
                release: self.model.release,
                admission: self.model.admission,
                handoff: self.model.handoff,
                ties: self.model.ties,
                unload: self.model.unload,
            },
            costs: self.costs.clone(),
            keep_alive: self.policies.keep_alive.clone(),
            scheduler: self.policies.scheduler.clone(),
            workload: self.workload.clone(),
            tolerances: self.validation.clone(),
            raw: self,
            reader_thread: true,
        })
    }

    /// The scenario as TOML, for saving next to results.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario serializes to TOML")
    }
}

impl Scenario {
    /// One line per setting, for the header of a run's output.
    pub fn describe(&self) -> String {
        let r = &self.raw;
        let c = &r.cluster;
        let mut s = String::new();
        let queue = match c.queue {
            QueueKind::Queue => format!("queue up to {}", c.queue_capacity),
            QueueKind::Drop => "drop".to_string(),
        };
        if let Some(preset) = &r.preset {
            let _ = writeln!(s, "preset      {preset}");
        }
        let _ = write!(
            s,
            "cluster     {} workers x {} MB, {} cores (cpu {}); {} invocation(s) per sandbox; when memory is short: {}",
            c.workers, c.memory_mb, c.cores, c.cpu, c.concurrency, queue
        );
        if let Some(mb) = c.sandbox_memory_mb {
            let _ = write!(s, "; every sandbox {mb} MB");
        }
        match c.reuse {
            ReuseOrder::Mru => {}
            ReuseOrder::Lru => s.push_str("; reuse least recently used"),
            ReuseOrder::SwapSet => s.push_str("; reuse the first in a swap-removed set (DSLab)"),
        }
        for p in &c.provisioned {
            let _ = write!(s, "; {} provisioned for {}", p.count, p.function);
        }
        s.push('\n');
        let m = &r.model;
        if !m.is_default() {
            let _ = writeln!(
                s,
                "model       eviction {}, release {}, pool {}, admission {}, handoff {}, ties {}, unload {}",
                kebab(&m.eviction),
                kebab(&m.release),
                pool_name(m.pool),
                kebab(&m.admission),
                kebab(&m.handoff),
                kebab(&m.ties),
                kebab(&m.unload)
            );
        }
        let _ = writeln!(
            s,
            "policies    keep-alive {}, scheduler {}",
            self.keep_alive.label(),
            self.scheduler.label()
        );
        let k = &self.costs;
        let _ = write!(
            s,
            "costs       create {}, init {}, fork {}, dispatch {}, pause {}, unpause {}",
            k.create, k.init, k.fork, k.dispatch, k.pause, k.unpause
        );
        if k.init_base != sim::Cost::ZERO || k.init_per_gb.micros() > 0 {
            let _ = write!(
                s,
                "; every init + {} + {} per GB of memory",
                k.init_base, k.init_per_gb
            );
        }
        if let Some(p) = &k.packages {
            let _ = write!(
                s,
                "; packages: install {} + {} per GB, import {} + {} per GB read + {} per GB of memory + CPU x{}",
                p.install,
                p.install_per_gb,
                p.import,
                p.import_per_gb,
                p.import_memory_per_gb,
                p.import_cpu
            );
        }
        s.push('\n');
        let a = &r.packages.assign;
        let assigned = format!(
            "functions without packages get {} on average ({}..{}) by popularity, closed over dependencies",
            a.mean, a.min, a.max
        );
        match &r.packages.catalog {
            CatalogSource::None => {}
            CatalogSource::Synthetic(c) => {
                let _ = writeln!(
                    s,
                    "packages    synthetic catalogue of {} packages (Zipf {}); {assigned}",
                    c.packages, c.zipf,
                );
            }
            CatalogSource::Reqbench { dir } => {
                let _ = writeln!(
                    s,
                    "packages    ReqBench catalogue {}; {assigned}",
                    dir.display()
                );
            }
            CatalogSource::Native { path } => {
                let _ = writeln!(s, "packages    catalogue {}; {assigned}", path.display());
            }
        }
        if r.packages.catalog != CatalogSource::None {
            let _ = writeln!(
                s,
                "caches      install cache {}, import cache {}",
                r.packages.install_cache.label(),
                r.packages.import_cache.label()
            );
        }
        match &self.workload {
            RawWorkload::Synthetic(w) => {
                let diurnal = match &w.diurnal {
                    Some(d) => format!(", diurnal amplitude {} peaking at {}", d.amplitude, d.peak),
                    None => String::new(),
                };
                let _ = writeln!(
                    s,
                    "workload    synthetic: {} functions in {} apps, {} at {}/s (Zipf {}){diurnal}, seed {}",
                    w.functions, w.apps, w.duration, w.rate, w.zipf, self.seed
                );
            }
            workload => {
                if let Some((format, t)) = workload.as_trace() {
                    let _ = writeln!(s, "workload    {}", describe_trace(format, t));
                }
            }
        }
        s
    }
}

/// One line about a replayed trace: where it is and every option that differs from the default.
pub fn describe_trace(format: TraceFormat, t: &TraceSpec) -> String {
    let mut s = format!("{format} trace {}", t.path.display());
    if let Some(days) = t.days {
        let _ = write!(s, ", days {days}");
    }
    if t.start.micros() > 0 || t.length.is_some() {
        let length = t.length.map_or("the end".to_string(), |l| l.to_string());
        let _ = write!(s, ", window from {} for {length}", t.start);
    }
    let counts = matches!(format, TraceFormat::Azure2019 | TraceFormat::Huawei2023);
    if counts {
        let _ = write!(s, ", arrivals {}", t.arrivals.name());
    }
    if format == TraceFormat::Azure2019 {
        let _ = write!(
            s,
            ", durations {}, memory {}",
            t.durations.name(),
            t.memory_percentile
        );
    }
    if !t.triggers.is_empty() {
        let _ = write!(s, ", triggers {}", t.triggers.join("+"));
    }
    let _ = write!(s, ", sample {}", t.sample.label());
    match t.rate {
        Some(RateScale::Multiply(k)) => {
            let _ = write!(s, ", rate x{k}");
        }
        Some(RateScale::TargetRps(r)) => {
            let _ = write!(s, ", rate scaled to {r}/s");
        }
        None => {}
    }
    if t.granularity == Granularity::App {
        s.push_str(", one sandbox per app");
    }
    s
}

/// Gives a trace workload created from the command line (so holding only defaults) the trace
/// defaults of the scenario's preset, if it has one.
pub fn apply_preset_to_new_trace(raw: &mut RawScenario) -> Result<(), Error> {
    let Some(name) = raw.preset.clone() else {
        return Ok(());
    };
    let (_, defaults) = preset_table(&name, "--preset")?;
    let Some((format, _)) = raw.workload.as_trace() else {
        return Ok(());
    };
    let (Some(toml::Value::Table(defaults)), Some(spec)) = (defaults, raw.workload.as_trace_mut())
    else {
        return Ok(());
    };
    let mut table = toml::Table::try_from(&*spec).expect("a trace spec serializes to TOML");
    for (key, value) in defaults {
        if trace_default_applies(&key, format.name()) {
            table.insert(key, value);
        }
    }
    *spec = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| Error::Input(format!("preset {name}: {}", e.message())))?;
    Ok(())
}

/// Why a scenario whose cold starts would cost nothing is refused.
pub const NO_COLD_COST: &str = "costs.create and costs.init are both 0s: a cold start would cost nothing; give at least one a duration, or replay a trace that gives every function its own initialization time (a native trace with init_us, or Azure 2019 with durations = \"faascache\")";

/// Refuses a run whose cold starts would cost nothing: no creation or initialization cost and a
/// function without its own initialization time.
pub fn check_cold_cost(costs: &CostModel, catalog: &workloads::Catalog) -> Result<(), Error> {
    if costs.create.mean_micros() + costs.init.mean_micros() == 0
        && let Some(f) = catalog.functions.iter().find(|f| f.init.is_none())
    {
        return Err(Error::Input(format!(
            "{NO_COLD_COST}; function {:?} has none",
            f.name
        )));
    }
    Ok(())
}

/// A unit enum's name as scenario files spell it.
fn kebab<T: Serialize>(value: &T) -> String {
    toml::Value::try_from(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn pool_name(pool: PoolMode) -> &'static str {
    match pool {
        PoolMode::Indexed => "indexed",
        PoolMode::Heap => "heap",
    }
}

/// Whether a preset's trace option `key` applies to traces of format `kind`: a preset's option
/// for one format does not apply to the others.
fn trace_default_applies(key: &str, kind: &str) -> bool {
    let formats: &[&str] = match key {
        "durations" | "memory_percentile" | "app_memory" | "days" | "triggers" => &["azure2019"],
        "arrivals" => &["azure2019", "huawei2023"],
        _ => return true,
    };
    formats.contains(&kind)
}

/// A preset's values, and its defaults for trace workloads.
fn preset_table(name: &str, origin: &str) -> Result<(toml::Table, Option<toml::Value>), Error> {
    let text = PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| {
            Error::Input(format!(
                "{origin}: unknown preset {name:?}; presets: {}",
                PRESETS.map(|(n, _)| n).join(", ")
            ))
        })?;
    let mut table: toml::Table = toml::from_str(text).expect("the embedded presets parse as TOML");
    let trace = table.remove("trace");
    Ok((table, trace))
}

/// Fills in a preset's trace defaults when the workload replays a trace and leaves them unset.
fn apply_trace_defaults(table: &mut toml::Table, defaults: Option<toml::Value>) {
    if let (Some(toml::Value::Table(defaults)), Some(toml::Value::Table(workload))) =
        (defaults, table.get_mut("workload"))
    {
        let kind = workload
            .get("kind")
            .and_then(toml::Value::as_str)
            .unwrap_or("synthetic")
            .to_string();
        if kind != "synthetic" {
            for (key, value) in defaults {
                if trace_default_applies(&key, &kind) {
                    workload.entry(key).or_insert(value);
                }
            }
        }
    }
}

/// Merges `over` into `base`: tables recursively, except that a table with a `kind` (a policy or
/// another tagged choice) replaces the whole table; any other value is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !o.contains_key("kind") => {
                merge(b, o)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scenario `text`, loaded from a file named `name`; the file is removed.
    fn loaded(name: &str, text: &str) -> RawScenario {
        let dir =
            std::env::temp_dir().join(format!("lambdasim-scenario-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let raw = RawScenario::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        raw
    }

    #[test]
    fn messages_about_a_field_of_the_file_name_its_line() {
        let text = "[policies]\nkeep_alive = { kind = \"ttl\", idle = \"0s\" }\n[workload]\n\
                    kind = \"synthetic\"\nfunctions = 0\n[[cluster.provisioned]]\n\
                    function = \"f\"\ncount = 0\n";
        let source = Source::of(&Document::parse(text.to_string(), "s.toml").unwrap());
        for (message, located) in [
            (
                "policies.keep_alive.idle must be longer than 0s",
                "s.toml, line 2: [policies] keep_alive.idle must be longer than 0s",
            ),
            (
                "workload: functions must be between 1 and 10, got 0",
                "s.toml, line 5: [workload] functions must be between 1 and 10, got 0",
            ),
            (
                "cluster.provisioned[0].count must be at least 1, got 0",
                "s.toml, line 8: [cluster] provisioned[0].count must be at least 1, got 0",
            ),
            // A parameter the policy leaves at its default: the policy's line.
            (
                "policies.keep_alive: model.pool = \"heap\" runs ttl as FaasCache does",
                "s.toml, line 2: [policies] keep_alive: model.pool = \"heap\" runs ttl as FaasCache does",
            ),
        ] {
            assert_eq!(source.locate(message), located);
        }
        // A field the file does not have keeps its message; a table's header is not its line.
        for message in [
            "workload: apps must be between 1 and functions (10), got 80",
            "cluster.workers must be a positive integer, got 0",
            "a message about no field",
        ] {
            assert_eq!(source.locate(message), message);
        }
        assert_eq!(
            Source::default().locate("cluster.workers"),
            "cluster.workers"
        );
    }

    #[test]
    fn range_errors_name_the_file_and_line_unless_a_flag_set_the_value() {
        let file = loaded("zero.toml", "seed = 1\n[cluster]\ncores = 2\nworkers = 0\n");
        let e = file.clone().validate().unwrap_err().to_string();
        assert!(
            e.ends_with("zero.toml, line 4: [cluster] workers must be a positive integer, got 0"),
            "{e}"
        );
        let file = loaded("two.toml", "[cluster]\nworkers = 2\nmemory_mb = 0\n");
        let mut raw = file.clone();
        raw.cluster.workers = 0;
        raw.forget_changed_since(&file);
        let e = raw.validate().unwrap_err().to_string();
        assert_eq!(e, "cluster.workers must be a positive integer, got 0");
        let mut raw = file.clone();
        raw.seed = 7;
        raw.forget_changed_since(&file);
        let e = raw.validate().unwrap_err().to_string();
        assert!(
            e.ends_with("two.toml, line 3: [cluster] memory_mb must be a positive integer, got 0"),
            "{e}"
        );
        // Where a scenario was read from is no part of its value.
        assert_eq!(
            file,
            RawScenario {
                source: Source::default(),
                ..file.clone()
            }
        );
    }
}
