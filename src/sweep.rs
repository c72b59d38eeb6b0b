//! `lambdasim sweep`: a grid of simulations from one plan, run in parallel, one result row each.
//!
//! A plan is a TOML file:
//!
//! ```toml
//! base = "scenario.toml"      # optional; the embedded default scenario otherwise
//! seeds = [1, 2]              # optional; the base scenario's seed otherwise
//!
//! [grid]                      # each key a dotted path into the scenario, each value a list
//! "policies.keep_alive" = [{ kind = "ttl", idle = "10m" }, { kind = "lru" }]
//! "cluster.memory_mb" = [4096, 8192, 16384]
//! ```
//!
//! The runs are every combination of the grid's values and the seeds: keys vary in alphabetical
//! order (the first slowest), seeds fastest. Run `i` is the `i`-th combination; its
//! scenario is the base with each key set to its value. Every run is checked before any starts.
//!
//! Runs are independent single-threaded simulations spread over the cores with rayon. Results
//! are written in run order, so the output does not depend on the number of threads, and a plan
//! can be cut into shards (`--shard I/N` runs the runs whose index is I modulo N) whose results
//! `lambdasim sweep merge` puts back together, byte for byte as one process would have written
//! them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;

use analysis::{Dist, Metrics, sweep_report};

use crate::Error;
use crate::config_file::Document;
use crate::scenario::{DEFAULT_SCENARIO, RawScenario, Scenario};

/// A plan as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    #[serde(default)]
    base: Option<PathBuf>,
    #[serde(default)]
    seeds: Vec<u64>,
    #[serde(default)]
    grid: toml::Table,
}

/// One dimension of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<toml::Value>,
}

/// One run of the grid.
#[derive(Clone, Debug)]
pub struct Run {
    pub index: usize,
    /// The value of each axis, as compact TOML, in axis order.
    pub values: Vec<String>,
    pub seed: u64,
    pub scenario: Scenario,
}

/// An expanded plan.
#[derive(Debug)]
pub struct Plan {
    pub axes: Vec<Axis>,
    pub runs: Vec<Run>,
}

/// A value as one line of TOML, for labels and CSV cells.
fn compact(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => {
            let fields: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        other => inline(other),
    }
}

fn inline(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(_) => compact(value),
        toml::Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// Sets `key` (dotted) in `table` to `value`, creating tables on the way.
fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts
        .pop()
        .filter(|l| !l.is_empty())
        .ok_or("an empty key")?;
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{p} is not a table"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

impl Plan {
    /// Reads and expands a plan file; relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<Plan, Error> {
        Plan::load_with_costs(path, None)
    }

    /// [`Plan::load`], with `costs` (a cost profile's `[costs]` table) in place of the base
    /// scenario's costs; the grid may still set single costs.
    pub fn load_with_costs(path: &Path, costs: Option<toml::Table>) -> Result<Plan, Error> {
        let text = crate::config_file::read(path, "plan")?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Plan::parse_with_costs(&text, &path.display().to_string(), dir, costs)
    }

    /// Expands a plan's text; `origin` names it in errors, `dir` anchors relative paths.
    pub fn parse(text: &str, origin: &str, dir: &Path) -> Result<Plan, Error> {
        Plan::parse_with_costs(text, origin, dir, None)
    }

    fn parse_with_costs(
        text: &str,
        origin: &str,
        dir: &Path,
        costs: Option<toml::Table>,
    ) -> Result<Plan, Error> {
        let plan = Document::parse(text.to_string(), origin)?;
        let raw: RawPlan = plan.deserialize()?;
        Plan::expand(
            raw.base.as_deref(),
            &raw.seeds,
            &raw.grid,
            &plan,
            dir,
            costs,
        )
    }

    /// Expands a grid over a base scenario (the embedded default without one): the part of a
    /// plan that `validate --matrix` shares. `plan` is the document the grid was read from.
    pub(crate) fn expand(
        base: Option<&Path>,
        seeds: &[u64],
        grid: &toml::Table,
        plan: &Document,
        dir: &Path,
        costs: Option<toml::Table>,
    ) -> Result<Plan, Error> {
        let origin = plan.origin();
        let input = |m: String| Error::Input(format!("{origin}: {m}"));
        let base_path = base;
        let (base_text, base_origin, base_dir) = match base {
            Some(p) => {
                let p = dir.join(p);
                let text = crate::config_file::read(&p, "scenario")
                    .map_err(|e| input(format!("base: {e}")))?;
                let base_dir = p.parent().unwrap_or(Path::new("")).to_path_buf();
                (text, p.display().to_string(), base_dir)
            }
            None => (
                DEFAULT_SCENARIO.to_string(),
                "embedded default scenario".to_string(),
                dir.to_path_buf(),
            ),
        };
        let base_doc = Document::parse(base_text, &base_origin)?;
        let mut base: toml::Table = base_doc.deserialize()?;
        // A run's values come from the plan and the base file: its errors are located there.
        let written = match base_path {
            Some(_) => vec![plan, &base_doc],
            None => vec![plan],
        };
        if let Some(costs) = costs {
            base.insert("costs".into(), toml::Value::Table(costs));
        }
        let mut axes = Vec::new();
        for (key, values) in grid {
            let values = match values {
                toml::Value::Array(a) if !a.is_empty() => a.clone(),
                _ => {
                    return Err(input(format!(
                        "grid.\"{key}\" must be a non-empty list of values"
                    )));
                }
            };
            axes.push(Axis {
                key: key.clone(),
                values,
            });
        }
        let seeds = if seeds.is_empty() {
            vec![base.get("seed").and_then(|s| s.as_integer()).unwrap_or(0) as u64]
        } else {
            seeds.to_vec()
        };
        let combinations: usize = axes.iter().map(|a| a.values.len()).product();
        let total = combinations
            .checked_mul(seeds.len())
            .filter(|&n| n <= 1_000_000)
            .ok_or_else(|| input("the grid has more than a million runs".into()))?;
        let mut runs = Vec::with_capacity(total);
        for index in 0..total {
            let seed = seeds[index % seeds.len()];
            let mut rest = index / seeds.len();
            let mut picks = vec![0; axes.len()];
            for (i, axis) in axes.iter().enumerate().rev() {
                picks[i] = rest % axis.values.len();
                rest /= axis.values.len();
            }
            let mut table = base.clone();
            let mut values = Vec::with_capacity(axes.len());
            for (axis, &pick) in axes.iter().zip(&picks) {
                let v = axis.values[pick].clone();
                values.push(compact(&v));
                set(&mut table, &axis.key, v)
                    .map_err(|e| input(format!("grid.\"{}\": {e}", axis.key)))?;
            }
            table.insert("seed".into(), toml::Value::Integer(seed as i64));
            let label = format!("{origin}, run {index}");
            let text = toml::to_string(&table).map_err(|e| input(e.to_string()))?;
            let mut raw =
                RawScenario::parse_built(&text, &label, &format!("run {index}"), &written)?;
            if let Some(spec) = raw.workload.as_trace_mut()
                && spec.path.is_relative()
            {
                spec.path = base_dir.join(&spec.path);
            }
            let scenario = raw
                .validate()
                .map_err(|e| input(format!("run {index}: {e}")))?;
            runs.push(Run {
                index,
                values,
                seed,
                scenario,
            });
        }
        Ok(Plan { axes, runs })
    }
}

/// Which runs a process takes: those whose index is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// `I/N`, with I from 0 to N - 1.
    pub fn parse(text: &str) -> Result<Shard, Error> {
        let bad = || Error::Input(format!("--shard {text}: expected I/N with 0 <= I < N"));
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard from a job array's environment: Slurm's `SLURM_ARRAY_TASK_ID` and
    /// `SLURM_ARRAY_TASK_COUNT` (task ids from 0), or a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX` with the count in `LAMBDASIM_SHARDS`. `None` when neither is set.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, Error> {
        let pair = match (
            get("SLURM_ARRAY_TASK_ID"),
            get("SLURM_ARRAY_TASK_COUNT"),
            get("JOB_COMPLETION_INDEX"),
            get("LAMBDASIM_SHARDS"),
        ) {
            (Some(i), Some(n), _, _) => Some((i, n, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")),
            (Some(_), None, _, _) => {
                return Err(Error::Input(
                    "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not".into(),
                ));
            }
            (None, _, Some(i), Some(n)) => Some((i, n, "JOB_COMPLETION_INDEX/LAMBDASIM_SHARDS")),
            (None, _, Some(_), None) => {
                return Err(Error::Input(
                    "JOB_COMPLETION_INDEX is set: give the number of shards in LAMBDASIM_SHARDS"
                        .into(),
                ));
            }
            _ => None,
        };
        match pair {
            None => Ok(None),
            Some((i, n, names)) => Shard::parse(&format!("{i}/{n}"))
                .map(Some)
                .map_err(|e| Error::Input(format!("{names}: {e}"))),
        }
    }

    pub fn contains(&self, run: usize) -> bool {
        run % self.count == self.index
    }
}

/// CSV quoting: a cell with a comma, quote or newline is quoted, quotes doubled.
fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The header line of a plan's results.
pub fn header(plan: &Plan) -> String {
    let mut cols = vec!["run".to_string(), "seed".to_string()];
    cols.extend(plan.axes.iter().map(|a| cell(&a.key)));
    cols.extend(
        metric_columns(&Metrics::new())
            .into_iter()
            .map(|(name, _)| name),
    );
    cols.join(",")
}

/// The runs of `shard` as CSV: index, seed and the value of each axis.
pub fn list(plan: &Plan, shard: Shard) -> String {
    let mut cols = vec!["run".to_string(), "seed".to_string()];
    cols.extend(plan.axes.iter().map(|a| cell(&a.key)));
    let mut out = cols.join(",");
    out.push('\n');
    for r in plan.runs.iter().filter(|r| shard.contains(r.index)) {
        let mut cols = vec![r.index.to_string(), r.seed.to_string()];
        cols.extend(r.values.iter().map(|v| cell(v)));
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    out
}

/// One result row.
fn row(run: &Run, metrics: &Metrics) -> String {
    let mut cols = vec![run.index.to_string(), run.seed.to_string()];
    cols.extend(run.values.iter().map(|v| cell(v)));
    cols.extend(metric_columns(metrics).into_iter().map(|(_, value)| value));
    cols.join(",")
}

/// The metric columns of a result row, names and values. The first is `invocations`, which
/// tells a reader where the grid's axes end. Then come summary metrics, the mean of each
/// startup phase, the latency and startup-delay distributions at
/// [`sweep_report::CDF_PERCENTILES`], and the cluster's memory in use over
/// [`sweep_report::MEMORY_POINTS`] equal parts of the run.
fn metric_columns(m: &Metrics) -> Vec<(String, String)> {
    let s = m.summary();
    let f = |x: f64| format!("{x}");
    // Mean execution time of completed invocations: their latency less their startup delay.
    let exec_mean = if s.invocations.completed == 0 {
        0.0
    } else {
        s.phases_ms.exec.total / s.invocations.completed as f64
    };
    let mut cols: Vec<(String, String)> = [
        ("invocations", s.invocations.total.to_string()),
        ("completed", s.invocations.completed.to_string()),
        ("dropped", s.invocations.dropped.to_string()),
        ("failed", s.invocations.failed.to_string()),
        ("cold_start_ratio", f(s.starts.cold_start_ratio)),
        ("p75_app_cold_pct", f(s.cold_start_per_app.p75_pct)),
        ("latency_mean_ms", f(s.latency_ms.mean)),
        ("exec_mean_ms", f(exec_mean)),
        ("latency_p50_ms", f(s.latency_ms.p50)),
        ("latency_p99_ms", f(s.latency_ms.p99)),
        ("startup_mean_ms", f(s.startup_delay_ms.mean)),
        ("startup_p50_ms", f(s.startup_delay_ms.p50)),
        ("startup_p99_ms", f(s.startup_delay_ms.p99)),
        ("cold_start_cost_mean_ms", f(s.cold_start_ms.mean)),
        ("wasted_gb_s", f(s.memory.wasted_gb_s)),
        ("used_gb_s", f(s.memory.used_gb_s)),
        ("sandboxes_created", s.sandboxes.created.to_string()),
        (
            "evicted",
            s.sandboxes.destroyed_by_reason["evicted"].to_string(),
        ),
        ("install_hit_ratio", f(s.packages.install_hit_ratio)),
        ("import_hit_ratio", f(s.packages.import_hit_ratio)),
        ("span_s", f(s.span_s)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    let p = &s.phases_ms;
    for (phase, stat) in sweep_report::PHASES
        .iter()
        .zip([&p.queue, &p.create, &p.install, &p.import, &p.init])
    {
        cols.push((format!("{phase}_mean_ms"), f(stat.mean)));
    }
    let qs = sweep_report::CDF_PERCENTILES.map(|pct| pct / 100.0);
    for (metric, dist) in [("latency", Dist::Latency), ("startup", Dist::StartupDelay)] {
        for (pct, v) in sweep_report::CDF_PERCENTILES
            .iter()
            .zip(m.quantiles(dist, &qs))
        {
            cols.push((sweep_report::cdf_column(metric, *pct), f(v)));
        }
    }
    // A run of no time has no parts; its memory columns are 0.
    let memory = m.memory_over_time_in(sweep_report::MEMORY_POINTS);
    for i in 0..sweep_report::MEMORY_POINTS {
        let gb = memory.get(i).map_or(0.0, |p| p.used_mb() / 1024.0);
        cols.push((sweep_report::memory_column(i), f(gb)));
    }
    cols
}

/// Runs the plan's runs in `shard` on `threads` threads (0: all cores), calling `progress` after
/// each; returns the results as CSV, header first, rows in run order.
pub fn run(
    plan: &Plan,
    shard: Shard,
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<String, Error> {
    let runs: Vec<&Run> = plan
        .runs
        .iter()
        .filter(|r| shard.contains(r.index))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Output(format!("cannot start worker threads: {e}")))?;
    let rows: Vec<Result<String, Error>> = pool.install(|| {
        runs.par_iter()
            .map(|r| {
                let result = crate::run(&r.scenario, None)
                    .map(|res| row(r, &res.metrics))
                    .map_err(|e| Error::Input(format!("run {}: {e}", r.index)));
                progress();
                result
            })
            .collect()
    });
    let mut out = header(plan);
    out.push('\n');
    for r in rows {
        out.push_str(&r?);
        out.push('\n');
    }
    Ok(out)
}

/// Merges shards' results into one table in run order. Every file must have the same header;
/// a run present twice, or a missing one among `0..max`, is an error naming it.
pub fn merge(inputs: &[(String, String)]) -> Result<String, Error> {
    let mut header: Option<&str> = None;
    let mut rows: Vec<(usize, &str)> = Vec::new();
    for (name, text) in inputs {
        let mut lines = text.lines();
        let h = lines
            .next()
            .ok_or_else(|| Error::Input(format!("{name}: empty file")))?;
        match header {
            None => header = Some(h),
            Some(first) if first != h => {
                return Err(Error::Input(format!(
                    "{name}: its columns differ from the first file's"
                )));
            }
            _ => {}
        }
        for (n, line) in lines.enumerate() {
            let index = line
                .split(',')
                .next()
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| Error::Input(format!("{name}, line {}: no run number", n + 2)))?;
            rows.push((index, line));
        }
    }
    let header = header.ok_or_else(|| Error::Input("nothing to merge".into()))?;
    rows.sort_by_key(|&(i, _)| i);
    if let Some(w) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::Input(format!("run {} is in two files", w[0].0)));
    }
    if let Some(missing) = rows
        .iter()
        .enumerate()
        .find(|(k, r)| r.0 != *k)
        .map(|(k, _)| k)
    {
        return Err(Error::Input(format!("run {missing} is missing")));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    for (_, line) in rows {
        let _ = writeln!(out, "{line}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
seeds = [4, 5]
[grid]
"policies.keep_alive" = [{ kind = "ttl", idle = "1m" }, { kind = "lru" }]
"cluster.memory_mb" = [512, 1024, 2048]
"workload.apps" = [10]
"workload.duration" = ["10m"]
"workload.functions" = [20]
"#;

    fn plan(text: &str) -> Result<Plan, Error> {
        Plan::parse(text, "plan.toml", Path::new("."))
    }

    #[test]
    fn the_grid_expands_keys_in_order_and_seeds_fastest() {
        let p = plan(SMALL).unwrap();
        let keys: Vec<&str> = p.axes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cluster.memory_mb",
                "policies.keep_alive",
                "workload.apps",
                "workload.duration",
                "workload.functions"
            ]
        );
        assert_eq!(p.runs.len(), 3 * 2 * 2);
        // Run 7 = seed index 1, combination 3 = memory index 1 (1024), keep-alive index 1 (lru).
        let r = &p.runs[7];
        assert_eq!((r.index, r.seed), (7, 5));
        assert_eq!(r.values, ["1024", "{ kind = \"lru\" }", "10", "10m", "20"]);
        assert_eq!(r.scenario.controller.workers[0].memory_mb, 1024);
        assert_eq!(r.scenario.keep_alive.label(), "lru");
        assert_eq!(r.scenario.seed, 5);
        // The base's other settings stay.
        assert_eq!(r.scenario.controller.workers.len(), 4);
        let first = &p.runs[0];
        assert_eq!(first.values[0], "512");
        assert_eq!(first.scenario.keep_alive.label(), "ttl(idle=1m)");
    }

    #[test]
    fn every_run_is_in_exactly_one_shard() {
        let p = plan(SMALL).unwrap();
        for count in 1..=5 {
            for r in &p.runs {
                let owners = (0..count)
                    .filter(|&index| Shard { index, count }.contains(r.index))
                    .count();
                assert_eq!(owners, 1, "run {} with {count} shards", r.index);
            }
        }
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["3/3", "1/0", "x/2", "2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_come_from_slurm_or_kubernetes_variables() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Shard::from_env(env(&[])).unwrap(), None);
        assert_eq!(
            Shard::from_env(env(&[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "8")
            ]))
            .unwrap(),
            Some(Shard { index: 3, count: 8 })
        );
        assert_eq!(
            Shard::from_env(env(&[
                ("JOB_COMPLETION_INDEX", "1"),
                ("LAMBDASIM_SHARDS", "4")
            ]))
            .unwrap(),
            Some(Shard { index: 1, count: 4 })
        );
        let e = Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "1")])).unwrap_err();
        assert!(e.to_string().contains("LAMBDASIM_SHARDS"), "{e}");
        let e = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "8"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_ID"), "{e}");
    }

    #[test]
    fn merged_shards_equal_one_process_byte_for_byte() {
        let p = plan(SMALL).unwrap();
        let whole = run(&p, Shard::ALL, 2, &|| {}).unwrap();
        assert_eq!(whole.lines().count(), 1 + p.runs.len());
        let shards: Vec<(String, String)> = (0..3)
            .map(|index| {
                let s = Shard { index, count: 3 };
                (format!("shard {index}"), run(&p, s, 1, &|| {}).unwrap())
            })
            .collect();
        assert_eq!(merge(&shards).unwrap(), whole);
        // In any order of files.
        let reversed: Vec<_> = shards.iter().rev().cloned().collect();
        assert_eq!(merge(&reversed).unwrap(), whole);
        // A shard given twice, or left out, is named.
        let twice = [shards[0].clone(), shards[0].clone(), shards[1].clone()];
        assert!(
            merge(&twice)
                .unwrap_err()
                .to_string()
                .contains("in two files")
        );
        let missing = [shards[1].clone(), shards[2].clone()];
        assert!(
            merge(&missing)
                .unwrap_err()
                .to_string()
                .contains("run 0 is missing")
        );
        let other = ("other".to_string(), "run,seed\n0,1\n".to_string());
        assert!(
            merge(&[shards[0].clone(), other])
                .unwrap_err()
                .to_string()
                .contains("columns differ")
        );
    }

    #[test]
    fn bad_plans_are_named() {
        let err = |text: &str| plan(text).unwrap_err().to_string();
        assert!(err("[grid]\n\"cluster.workers\" = []\n").contains("non-empty list"));
        assert!(err("sedes = [1]\n").contains("sedes"));
        let e = err("[grid]\n\"cluster.memory_mb\" = [1024, \"lots\"]\n");
        assert!(e.contains("run 1") && e.contains("memory_mb"), "{e}");
        let e = err("[grid]\n\"policies.keep_alive\" = [{ kind = \"forever\" }]\n");
        assert!(e.contains("forever"), "{e}");
        let e = err("base = \"missing.toml\"\n");
        assert!(e.contains("missing.toml"), "{e}");
        // A bad grid value is reported at its place in the plan, with its run.
        let e = err("seeds = [1]\n[grid]\n\"workload.duration\" = [\"5m\", \"1m1m\"]\n");
        assert!(
            e.contains(", line 3, column 30: run 1: invalid duration \"1m1m\""),
            "{e}"
        );
    }
}
