//! `lambdasim validate --matrix`: `validate` over a grid of scenarios, one cell after another
//! (real mode owns the host), each cell checked against one set of tolerances and marked invalid
//! when the host could not keep up with it; then one report over all cells.
//!
//! A matrix plan is a sweep plan (`base` or `bases`, `seeds`, `[grid]`) with two tables of its
//! own:
//!
//! ```toml
//! bases = ["azure.toml", "packages.toml"]   # or base = "..."; several make the first axis
//! [grid]
//! "policies.keep_alive" = [{ kind = "ttl", idle = "10m" }, { kind = "lru" }]
//! "policies.scheduler" = [{ kind = "least-loaded" }, { kind = "pasch" }]
//! [validation]            # tolerances of every cell; the goals below by default
//! cold_start_pp = 1.0
//! [saturation]            # when a cell's host fell behind (see `Limits`)
//! late_p99_ms = 5.0
//! ```
//!
//! Each cell's real-mode settings come from its scenario's `[real]` table (a grid may vary
//! `"real.exec"` or `"real.time_scale"`), under the command line's real-mode flags. Cell `i` is
//! kept in `DIR/cells/NNN/` with its `cell.json`; a cell whose `cell.json` has the fingerprint of
//! the same scenario, settings, tolerances and limits is not run again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::config_file::Document;
use crate::scenario::Scenario;
use crate::sweep::{Axis, Plan};
use crate::validate::{Confusion, PairedPhase, Row, Tolerances, Validation, Verdict};

/// The tolerances of a matrix cell unless the plan's `[validation]` says otherwise: the goals a
/// validated simulator should meet.
pub fn goals() -> Tolerances {
    Tolerances {
        cold_start_pp: 1.0,
        latency_p50_pct: 5.0,
        latency_p99_pct: 15.0,
        latency_ks: Some(0.1),
        ..Tolerances::default()
    }
}

/// When a cell's host fell behind: over any limit, the cell measured the host, not the
/// platform, and is invalid (neither passed nor failed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// 99th percentile of how late the driver handed arrivals to the controller, wall-clock ms.
    pub late_p99_ms: f64,
    /// Share of the run's wall-clock time the driver was busy (not waiting for a completion).
    pub driver_busy_pct: f64,
    /// Share of the host's CPU time stolen by a hypervisor.
    pub steal_pct: f64,
    /// Mean run-queue length (runnable tasks, `procs_running`) per CPU.
    pub run_queue_per_cpu: f64,
    /// Share of the host's CPU time that was busy, if limited (with `exec = "busy"` the
    /// invocations themselves keep the cores busy, so it is not limited by default).
    pub host_busy_pct: Option<f64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            late_p99_ms: 5.0,
            driver_busy_pct: 50.0,
            steal_pct: 5.0,
            run_queue_per_cpu: 2.0,
            host_busy_pct: None,
        }
    }
}

impl Limits {
    fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("late_p99_ms", self.late_p99_ms),
            ("driver_busy_pct", self.driver_busy_pct),
            ("steal_pct", self.steal_pct),
            ("run_queue_per_cpu", self.run_queue_per_cpu),
            ("host_busy_pct", self.host_busy_pct.unwrap_or(1.0)),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!(
                    "saturation.{name} must be a positive number, got {v}"
                ));
            }
        }
        Ok(())
    }
}

/// `[validation]` of a matrix plan: each key overrides one of [`goals`].
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTolerances {
    cold_start_pp: Option<f64>,
    latency_p50_pct: Option<f64>,
    latency_p99_pct: Option<f64>,
    latency_ks: Option<f64>,
    latency_w1_pct: Option<f64>,
    startup_ks: Option<f64>,
    start_kind_agreement_pct: Option<f64>,
    wasted_memory_pct: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    #[serde(default)]
    base: Option<PathBuf>,
    #[serde(default)]
    bases: Vec<PathBuf>,
    #[serde(default)]
    seeds: Vec<u64>,
    #[serde(default)]
    grid: toml::Table,
    #[serde(default)]
    validation: RawTolerances,
    #[serde(default)]
    saturation: Limits,
}

/// One cell of the matrix.
#[derive(Debug)]
pub struct Cell {
    pub index: usize,
    /// The value of each axis, in axis order.
    pub values: Vec<String>,
    pub seed: u64,
    pub scenario: Scenario,
}

/// An expanded matrix plan.
#[derive(Debug)]
pub struct Matrix {
    /// The axes: `base` first when the plan has several bases, then the grid's keys.
    pub axes: Vec<Axis>,
    pub cells: Vec<Cell>,
    pub tolerances: Tolerances,
    pub limits: Limits,
}

impl Matrix {
    /// Reads and expands a plan; `costs` replaces every base scenario's costs.
    pub fn load(path: &Path, costs: Option<toml::Table>) -> Result<Matrix, Error> {
        let text = crate::config_file::read(path, "plan")?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Matrix::parse(&text, &path.display().to_string(), dir, costs)
    }

    pub fn parse(
        text: &str,
        origin: &str,
        dir: &Path,
        costs: Option<toml::Table>,
    ) -> Result<Matrix, Error> {
        let input = |m: String| Error::Input(format!("{origin}: {m}"));
        let doc = Document::parse(text.to_string(), origin)?;
        let raw: RawMatrix = doc.deserialize()?;
        let bases: Vec<Option<PathBuf>> = match (raw.base, raw.bases.is_empty()) {
            (Some(_), false) => return Err(input("give base or bases, not both".into())),
            (Some(b), true) => vec![Some(b)],
            (None, true) => vec![None],
            (None, false) => raw.bases.into_iter().map(Some).collect(),
        };
        let mut axes = Vec::new();
        let several = bases.len() > 1;
        if several {
            axes.push(Axis {
                key: "base".into(),
                values: bases
                    .iter()
                    .flatten()
                    .map(|b| toml::Value::String(base_name(b)))
                    .collect(),
            });
        }
        let mut cells = Vec::new();
        for base in &bases {
            let plan = Plan::expand(
                base.as_deref(),
                &raw.seeds,
                &raw.grid,
                &doc,
                dir,
                costs.clone(),
            )?;
            if axes.len() == usize::from(several) {
                axes.extend(plan.axes.iter().cloned());
            }
            for run in plan.runs {
                let mut values = Vec::with_capacity(axes.len());
                if let Some(b) = base.as_deref().filter(|_| several) {
                    values.push(base_name(b));
                }
                values.extend(run.values.iter().map(|v| short(v)));
                cells.push(Cell {
                    index: cells.len(),
                    values,
                    seed: run.seed,
                    scenario: run.scenario,
                });
            }
        }
        let v = raw.validation;
        let g = goals();
        let tolerances = Tolerances {
            cold_start_pp: v.cold_start_pp.unwrap_or(g.cold_start_pp),
            latency_p50_pct: v.latency_p50_pct.unwrap_or(g.latency_p50_pct),
            latency_p99_pct: v.latency_p99_pct.unwrap_or(g.latency_p99_pct),
            latency_ks: v.latency_ks.or(g.latency_ks),
            latency_w1_pct: v.latency_w1_pct.or(g.latency_w1_pct),
            startup_ks: v.startup_ks.or(g.startup_ks),
            start_kind_agreement_pct: v.start_kind_agreement_pct.or(g.start_kind_agreement_pct),
            wasted_memory_pct: v.wasted_memory_pct.or(g.wasted_memory_pct),
        };
        tolerances.validate().map_err(input)?;
        raw.saturation.validate().map_err(input)?;
        Ok(Matrix {
            axes,
            cells,
            tolerances,
            limits: raw.saturation,
        })
    }
}

/// A grid value as a label: a policy table `{ kind = "ttl", idle = "10m" }` as
/// `ttl(idle=10m)`, anything else as written.
fn short(value: &str) -> String {
    let Ok(t) = toml::from_str::<toml::Table>(&format!("v = {value}")) else {
        return value.to_string();
    };
    let Some(toml::Value::Table(t)) = t.get("v") else {
        return value.to_string();
    };
    let Some(toml::Value::String(kind)) = t.get("kind") else {
        return value.to_string();
    };
    let rest: Vec<String> = t
        .iter()
        .filter(|(k, _)| *k != "kind")
        .map(|(k, v)| match v {
            toml::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    if rest.is_empty() {
        kind.clone()
    } else {
        format!("{kind}({})", rest.join(","))
    }
}

/// A base scenario's name on the `base` axis: its file name without `.toml`.
fn base_name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into(),
    )
}

/// A cell's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellVerdict {
    Pass,
    Fail,
    /// The host fell behind: the cell says nothing about the simulator.
    Invalid,
}

impl CellVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CellVerdict::Pass => "pass",
            CellVerdict::Fail => "fail",
            CellVerdict::Invalid => "invalid",
        }
    }
}

/// How loaded the host and the driver were during a cell's real run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    pub late_max_ms: f64,
    pub late_p99_ms: f64,
    pub late_mean_ms: f64,
    pub driver_busy_pct: f64,
    pub host_busy_pct: f64,
    pub host_busy_max_pct: f64,
    pub steal_pct: f64,
    pub run_queue_mean: f64,
    pub run_queue_p99: u32,
    pub run_queue_max: u32,
    pub cpus: u32,
    /// Why the cell is invalid; empty when the host kept up.
    pub reasons: Vec<String>,
    /// For an invalid cell, an estimate of the time scale the host would have kept up with.
    pub safe_time_scale: Option<f64>,
}

impl Saturation {
    /// Checks the measurements against `limits`, at time scale `k`.
    pub fn assess(&mut self, limits: &Limits, k: f64) {
        self.reasons.clear();
        // The load that scales with the time scale, against its limit: the ratios estimate how
        // much slower a replay must be to stay under every limit.
        let mut ratios = Vec::new();
        let mut check = |name: &str, value: f64, limit: f64, unit: &str| {
            if value > limit {
                self.reasons
                    .push(format!("{name} {value:.1}{unit} > {limit}{unit}"));
                ratios.push(limit / value);
            }
        };
        check(
            "arrivals dispatched late, p99",
            self.late_p99_ms,
            limits.late_p99_ms,
            " ms",
        );
        check(
            "driver busy",
            self.driver_busy_pct,
            limits.driver_busy_pct,
            "%",
        );
        check("CPU steal", self.steal_pct, limits.steal_pct, "%");
        if self.cpus > 0 {
            check(
                "run queue per CPU",
                self.run_queue_mean / f64::from(self.cpus),
                limits.run_queue_per_cpu,
                "",
            );
        }
        if let Some(limit) = limits.host_busy_pct {
            check("host CPU busy", self.host_busy_pct, limit, "%");
        }
        self.safe_time_scale = ratios
            .into_iter()
            .reduce(f64::min)
            // Lateness grows faster than linearly near saturation: keep a margin of 20%.
            .map(|r| ((k * r * 0.8) * 2.0).floor() / 2.0)
            .map(|s| s.max(0.5));
    }
}

/// Sampled points of an empirical CDF: (value, fraction at or below it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cdf {
    pub real: Vec<[f64; 2]>,
    pub simulated: Vec<[f64; 2]>,
}

/// Most points a stored CDF keeps.
const CDF_POINTS: usize = 200;

/// At most [`CDF_POINTS`] points of the CDF of sorted `values`, always the first and the last.
pub fn cdf_points(sorted: &[f64]) -> Vec<[f64; 2]> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(CDF_POINTS).max(1);
    let mut points = vec![[sorted[0], 0.0]];
    points.extend(
        sorted
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == step - 1 || i + 1 == n)
            .map(|(i, &x)| [x, (i + 1) as f64 / n as f64]),
    );
    points
}

/// One cell's outcome, as `cell.json` keeps it and the report reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Of the cell's scenario, real-mode settings, tolerances and limits: a cell is rerun only
    /// when it changes.
    pub fingerprint: String,
    pub index: usize,
    pub values: Vec<String>,
    pub seed: u64,
    pub time_scale: f64,
    pub duration_scale: f64,
    /// `busy` or `sleep`.
    pub exec: String,
    /// The simulator's CPU model.
    pub cpu_model: String,
    pub invocations: u64,
    /// Wall-clock seconds the cell took (real run, simulation and comparison).
    pub wall_s: f64,
    pub verdict: CellVerdict,
    /// The metrics outside their tolerance.
    pub misses: Vec<String>,
    /// What the per-phase and per-start-kind comparison says about each miss.
    pub explanation: Vec<String>,
    pub saturation: Saturation,
    pub rows: Vec<Row>,
    pub differing: usize,
    pub confusion: Vec<Confusion>,
    pub paired: usize,
    pub paired_phases: Vec<PairedPhase>,
    pub latency_cdf: Cdf,
    pub startup_cdf: Cdf,
}

impl CellResult {
    pub fn row(&self, metric: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.metric == metric)
    }

    /// The cell's verdict from its rows and its host's saturation.
    pub fn judge(&mut self) {
        self.misses = self
            .rows
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .map(|r| r.metric.clone())
            .collect();
        self.verdict = if !self.saturation.reasons.is_empty() {
            CellVerdict::Invalid
        } else if self.misses.is_empty() {
            CellVerdict::Pass
        } else {
            CellVerdict::Fail
        };
        self.explanation = explain(self);
    }
}

/// For each miss, what the comparison shows about its cause: the start kinds that differed and
/// the phases whose simulated times differ most from the real ones.
pub fn explain(cell: &CellResult) -> Vec<String> {
    let mut out = Vec::new();
    if cell.verdict == CellVerdict::Invalid {
        out.push(format!(
            "The host fell behind ({}); the comparison is shown but not judged.{}",
            cell.saturation.reasons.join(", "),
            cell.saturation.safe_time_scale.map_or(String::new(), |s| format!(
                " A time scale of about {s} (this cell ran at {}) should keep the host within its limits.",
                cell.time_scale
            ))
        ));
        return out;
    }
    let kinds = || {
        let top: Vec<String> = cell
            .confusion
            .iter()
            .take(3)
            .map(|c| format!("{} real but {} simulated: {}", c.real, c.simulated, c.count))
            .collect();
        if top.is_empty() {
            "every invocation started the same way in both runs".to_string()
        } else {
            format!(
                "{} of {} invocations started differently ({})",
                cell.differing,
                cell.invocations,
                top.join("; ")
            )
        }
    };
    let phases = || {
        let mut by_gap: Vec<&PairedPhase> = cell.paired_phases.iter().collect();
        by_gap.sort_by(|a, b| {
            (b.sim_ms - b.real_ms)
                .abs()
                .total_cmp(&(a.sim_ms - a.real_ms).abs())
        });
        let total: f64 = cell
            .paired_phases
            .iter()
            .map(|p| p.sim_ms - p.real_ms)
            .sum();
        let top: Vec<String> = by_gap
            .iter()
            .take(2)
            .filter(|p| (p.sim_ms - p.real_ms).abs() >= 0.0005)
            .map(|p| {
                format!(
                    "{} {:.3} ms real, {:.3} ms simulated ({:+.3})",
                    p.phase,
                    p.real_ms,
                    p.sim_ms,
                    p.sim_ms - p.real_ms
                )
            })
            .collect();
        format!(
            "over the {} invocations that started in both runs the simulated latency is {:+.3} ms \
             per invocation off, mostly in {}",
            cell.paired,
            total,
            if top.is_empty() {
                "no phase".to_string()
            } else {
                top.join(" and ")
            }
        )
    };
    let cold_phase = || {
        // The phase of cold starts whose median differs most, from the summaries' rows.
        cell.rows
            .iter()
            .filter(|r| r.metric.ends_with(" p50 of cold starts ms"))
            .max_by(|a, b| {
                (a.simulated - a.real)
                    .abs()
                    .total_cmp(&(b.simulated - b.real).abs())
            })
            .filter(|r| (r.simulated - r.real).abs() >= 0.0005)
            .map(|r| {
                format!(
                    "; among cold starts the median {} is {:.3} ms real and {:.3} ms simulated",
                    r.metric.trim_end_matches(" p50 of cold starts ms"),
                    r.real,
                    r.simulated
                )
            })
            .unwrap_or_default()
    };
    for miss in &cell.misses {
        let Some(row) = cell.row(miss) else { continue };
        let what = format!(
            "{miss}: real {:.3}, simulated {:.3} ({}, tolerance {})",
            row.real, row.simulated, row.difference, row.tolerance
        );
        let why = match miss.as_str() {
            "cold-start ratio %" | "start kind agreement %" | "wasted memory GB-s" => kinds(),
            m if m.starts_with("latency") || m.starts_with("startup") => {
                format!("{}{}; {}", phases(), cold_phase(), kinds())
            }
            _ => kinds(),
        };
        out.push(format!("{what}. {why}."));
    }
    out
}

/// 64-bit FNV-1a of `text`, as 16 hex digits.
pub fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The directory of cell `index`.
pub fn cell_dir(out: &Path, index: usize) -> PathBuf {
    out.join("cells").join(format!("{index:03}"))
}

/// The result kept in `dir`, if it has the fingerprint `fingerprint`.
pub fn kept(dir: &Path, fingerprint: &str) -> Option<CellResult> {
    let text = std::fs::read_to_string(dir.join("cell.json")).ok()?;
    serde_json::from_str::<CellResult>(&text)
        .ok()
        .filter(|c| c.fingerprint == fingerprint)
}

/// Writes a cell's `cell.json` (last, so that a cell interrupted before it is rerun).
pub fn keep(dir: &Path, cell: &CellResult) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(cell).map_err(|e| Error::Output(e.to_string()))?;
    let path = dir.join("cell.json");
    let tmp = dir.join("cell.json.tmp");
    std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::Output(format!("writing {}: {e}", path.display())))
}

/// A cell's result from its comparison.
pub struct Outcome<'a> {
    pub fingerprint: String,
    pub cell: &'a Cell,
    pub time_scale: f64,
    pub duration_scale: f64,
    pub exec: &'a str,
    pub wall_s: f64,
    pub saturation: Saturation,
    pub startup: (Vec<f64>, Vec<f64>),
}

/// Builds a cell's result from its validation and judges it against `limits`.
pub fn result(o: Outcome, v: &Validation, limits: &Limits) -> CellResult {
    let mut saturation = o.saturation;
    saturation.assess(limits, o.time_scale);
    let invocations = v
        .rows
        .iter()
        .find(|r| r.metric == "invocations")
        .map_or(0, |r| r.real as u64);
    let mut cell = CellResult {
        fingerprint: o.fingerprint,
        index: o.cell.index,
        values: o.cell.values.clone(),
        seed: o.cell.seed,
        time_scale: o.time_scale,
        duration_scale: o.duration_scale,
        exec: o.exec.to_string(),
        cpu_model: o.cell.scenario.cpu.to_string(),
        invocations,
        wall_s: o.wall_s,
        verdict: CellVerdict::Pass,
        misses: Vec::new(),
        explanation: Vec::new(),
        saturation,
        rows: v.rows.clone(),
        differing: v.differing,
        confusion: v.confusion.clone(),
        paired: v.paired,
        paired_phases: v.paired_phases.clone(),
        latency_cdf: Cdf {
            real: cdf_points(&v.real_latency_ms),
            simulated: cdf_points(&v.sim_latency_ms),
        },
        startup_cdf: Cdf {
            real: cdf_points(&o.startup.0),
            simulated: cdf_points(&o.startup.1),
        },
    };
    cell.judge();
    cell
}

/// Counts of cells by verdict: pass, fail, invalid.
pub fn counts(cells: &[CellResult]) -> (usize, usize, usize) {
    let n = |v| cells.iter().filter(|c| c.verdict == v).count();
    (
        n(CellVerdict::Pass),
        n(CellVerdict::Fail),
        n(CellVerdict::Invalid),
    )
}

/// Adds to each invalid cell's explanation the highest time scale at which the same cell (the
/// same values on every other axis, the same seed) kept up, where the plan has a
/// `real.time_scale` axis: what the host showed it can do, next to the estimate.
pub fn note_time_scales_kept_up(axes: &[Axis], cells: &mut [CellResult]) {
    let Some(axis) = axes.iter().position(|a| a.key == "real.time_scale") else {
        return;
    };
    let same = |a: &CellResult, b: &CellResult| {
        a.seed == b.seed
            && a.values
                .iter()
                .zip(&b.values)
                .enumerate()
                .all(|(i, (x, y))| i == axis || x == y)
    };
    let notes: Vec<(usize, f64)> = cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.verdict == CellVerdict::Invalid)
        .filter_map(|(i, c)| {
            cells
                .iter()
                .filter(|o| o.verdict != CellVerdict::Invalid && same(c, o))
                .map(|o| o.time_scale)
                .reduce(f64::max)
                .map(|k| (i, k))
        })
        .collect();
    for (i, k) in notes {
        cells[i].explanation.push(format!(
            "The same cell kept up at time scale {k} in this matrix."
        ));
    }
}

/// One line per cell: index, values and verdict, with the misses.
pub fn summary_lines(matrix_axes: &[Axis], cells: &[CellResult]) -> String {
    let mut out = String::new();
    for c in cells {
        let labels: Vec<String> = matrix_axes
            .iter()
            .zip(&c.values)
            .map(|(a, v)| format!("{}={v}", a.key))
            .collect();
        let _ = write!(
            out,
            "{:>3} {:<7} {}",
            c.index,
            c.verdict.as_str(),
            labels.join(" ")
        );
        match c.verdict {
            CellVerdict::Fail => {
                let _ = write!(out, "  misses: {}", c.misses.join(", "));
            }
            CellVerdict::Invalid => {
                let _ = write!(out, "  host: {}", c.saturation.reasons.join(", "));
            }
            CellVerdict::Pass => {}
        }
        out.push('\n');
    }
    out
}

/// What [`run`] reports as it goes.
pub enum Progress<'a> {
    /// Before the first cell: how many cells will run and how many were kept from before.
    Start { run: usize, kept: usize },
    /// A cell is starting.
    Cell { cell: &'a Cell, label: String },
    /// A cell has finished.
    Done { result: &'a CellResult },
}

/// A cell's label: its axes' values.
pub fn label(axes: &[Axis], values: &[String]) -> String {
    axes.iter()
        .zip(values)
        .map(|(a, v)| format!("{}={v}", a.key))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fingerprint of a cell run with `options`, under `matrix`'s tolerances and limits.
pub fn cell_fingerprint(
    matrix: &Matrix,
    cell: &Cell,
    options: &crate::real_mode::RealOptions,
) -> Result<String, Error> {
    let scenario = toml::to_string(&cell.scenario.raw).map_err(|e| Error::Output(e.to_string()))?;
    let mut options = options.clone();
    // The executable's path and the run's work directory (named after the process) are not
    // settings.
    options.backend.runner = PathBuf::new();
    options.backend.work_dir = PathBuf::new();
    Ok(fingerprint(&format!(
        "{}\n{scenario}\n{options:?}\n{:?}\n{:?}",
        env!("CARGO_PKG_VERSION"),
        matrix.tolerances,
        matrix.limits
    )))
}

/// Runs every cell of `matrix` not kept in `out` from before, one after another, keeping each
/// in `out/cells/NNN/`; `options` gives a cell's real-mode settings. Returns every cell's
/// result in cell order. A cell that cannot run (a bad setting, a host fault, a signal) stops
/// the matrix with its error; the cells done so far stay kept.
pub fn run(
    matrix: &Matrix,
    out: &Path,
    options: &mut dyn FnMut(&Scenario) -> Result<crate::real_mode::RealOptions, Error>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<CellResult>, Error> {
    // Every cell's settings are checked before the first runs.
    let mut planned = Vec::with_capacity(matrix.cells.len());
    for cell in &matrix.cells {
        let opts = options(&cell.scenario).map_err(|e| match e {
            Error::Input(m) => Error::Input(format!(
                "cell {} ({}): {m}",
                cell.index,
                label(&matrix.axes, &cell.values)
            )),
            other => other,
        })?;
        let print = cell_fingerprint(matrix, cell, &opts)?;
        let kept = kept(&cell_dir(out, cell.index), &print);
        planned.push((cell, opts, print, kept));
    }
    let kept_count = planned.iter().filter(|p| p.3.is_some()).count();
    progress(Progress::Start {
        run: planned.len() - kept_count,
        kept: kept_count,
    });
    let mut results = Vec::with_capacity(planned.len());
    for (cell, opts, print, kept) in planned {
        let result = match kept {
            Some(r) => r,
            None => {
                progress(Progress::Cell {
                    cell,
                    label: label(&matrix.axes, &cell.values),
                });
                let dir = cell_dir(out, cell.index);
                let r = run_cell(matrix, cell, &opts, &dir, print)?;
                keep(&dir, &r)?;
                progress(Progress::Done { result: &r });
                r
            }
        };
        results.push(result);
    }
    Ok(results)
}

/// Runs one cell in real mode and in the simulator, writing both runs' records and the
/// invocations that started differently into `dir`.
fn run_cell(
    matrix: &Matrix,
    cell: &Cell,
    options: &crate::real_mode::RealOptions,
    dir: &Path,
    fingerprint: String,
) -> Result<CellResult, Error> {
    use crate::validate::{Collected, Side, compare, differences_csv, startup_delays};
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Output(format!("creating {}: {e}", dir.display())))?;
    let create = |name: &str| {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .map(std::io::BufWriter::new)
            .map_err(|e| Error::Output(format!("creating {}: {e}", path.display())))
    };
    let started = std::time::Instant::now();
    let mut real_file = create("real-records.csv")?;
    let mut real_records = Collected::default();
    let real = crate::real_mode::run_real(
        &cell.scenario,
        options,
        Some(&mut real_file),
        Some(&mut real_records),
    )?;
    if let Some(stopped) = real.interruption() {
        return Err(stopped);
    }
    let (workload, _) = crate::load_workload(&cell.scenario)?;
    let workload =
        crate::real_mode::scale_workload(workload, options.time_scale, options.duration_scale);
    let mut sim_file = create("sim-records.csv")?;
    let mut sim_records = Collected::default();
    let sim = crate::run_workload(
        &cell.scenario,
        workload,
        Some(&mut sim_file),
        Some(&mut sim_records),
    )?;
    let real_side = Side {
        summary: real.summary,
        records: real_records.0,
    };
    let sim_side = Side {
        summary: sim.summary,
        records: sim_records.0,
    };
    let v = compare(&real_side, &sim_side, &matrix.tolerances);
    let path = dir.join("differences.csv");
    std::fs::write(&path, differences_csv(&v))
        .map_err(|e| Error::Output(format!("writing {}: {e}", path.display())))?;
    let (d, h) = (&real.drive, &real.host);
    let ms = |us: u64| us as f64 / 1000.0;
    let saturation = Saturation {
        late_max_ms: ms(d.max_late),
        late_p99_ms: ms(d.late_p99),
        late_mean_ms: ms(d.total_late) / d.arrivals.max(1) as f64,
        driver_busy_pct: if d.end == 0 {
            0.0
        } else {
            100.0 * d.end.saturating_sub(d.waiting) as f64 / d.end as f64
        },
        host_busy_pct: h.busy_pct,
        host_busy_max_pct: h.busy_max_pct,
        steal_pct: h.steal_pct,
        run_queue_mean: h.run_queue_mean,
        run_queue_p99: h.run_queue_p99,
        run_queue_max: h.run_queue_max,
        cpus: h.cpus,
        reasons: Vec::new(),
        safe_time_scale: None,
    };
    let exec = match options.backend.mode {
        real::ExecMode::Busy => "busy",
        real::ExecMode::Sleep => "sleep",
    };
    Ok(result(
        Outcome {
            fingerprint,
            cell,
            time_scale: options.time_scale,
            duration_scale: options.duration_scale,
            exec,
            wall_s: started.elapsed().as_secs_f64(),
            saturation,
            startup: (
                startup_delays(&real_side.records),
                startup_delays(&sim_side.records),
            ),
        },
        &v,
        &matrix.limits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_marks_the_cell_invalid_with_the_reasons_and_a_safer_scale() {
        let mut s = Saturation {
            late_p99_ms: 20.0,
            driver_busy_pct: 25.0,
            ..Saturation::default()
        };
        s.assess(&Limits::default(), 8.0);
        assert_eq!(s.reasons.len(), 1, "{s:?}");
        assert!(s.reasons[0].contains("late"), "{s:?}");
        // 8 x 5/20 x 0.8 = 1.6, rounded down to a half: 1.5.
        assert_eq!(s.safe_time_scale, Some(1.5));
        s.driver_busy_pct = 80.0;
        s.late_p99_ms = 1.0;
        s.assess(&Limits::default(), 4.0);
        assert!(s.reasons[0].contains("driver busy 80.0%"), "{s:?}");
        // 4 x 50/80 x 0.8 = 2.
        assert_eq!(s.safe_time_scale, Some(2.0));
        s.driver_busy_pct = 10.0;
        s.assess(&Limits::default(), 4.0);
        assert!(s.reasons.is_empty() && s.safe_time_scale.is_none(), "{s:?}");
        // A host busy with something else: 28 runnable tasks per CPU.
        s.cpus = 2;
        s.run_queue_mean = 56.0;
        s.assess(&Limits::default(), 4.0);
        assert!(s.reasons[0].contains("run queue per CPU 28.0 > 2"), "{s:?}");
        s.run_queue_mean = 2.0;
        s.host_busy_pct = 99.0;
        s.assess(
            &Limits {
                host_busy_pct: Some(90.0),
                ..Limits::default()
            },
            4.0,
        );
        assert!(s.reasons[0].contains("host CPU busy"), "{s:?}");
    }

    #[test]
    fn cdf_points_keep_the_ends_and_at_most_the_limit() {
        assert!(cdf_points(&[]).is_empty());
        assert_eq!(
            cdf_points(&[1.0, 2.0]),
            vec![[1.0, 0.0], [1.0, 0.5], [2.0, 1.0]]
        );
        let many: Vec<f64> = (0..10_001).map(f64::from).collect();
        let p = cdf_points(&many);
        assert!(p.len() <= CDF_POINTS + 2, "{}", p.len());
        assert_eq!(p.last(), Some(&[10_000.0, 1.0]));
        assert!(p.windows(2).all(|w| w[0][1] <= w[1][1]));
    }

    #[test]
    fn fingerprints_differ_with_the_text() {
        assert_eq!(fingerprint("a"), fingerprint("a"));
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("").len(), 16);
    }

    #[test]
    fn a_plan_expands_over_its_bases_then_its_grid_with_the_goals_as_tolerances() {
        let dir = std::env::temp_dir().join(format!("lambdasim-matrix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scenario =
            "[workload]\nkind = \"synthetic\"\nfunctions = 2\napps = 1\nduration = \"10s\"\n";
        std::fs::write(dir.join("a.toml"), scenario).unwrap();
        std::fs::write(dir.join("b.toml"), scenario).unwrap();
        let plan = "bases = [\"a.toml\", \"b.toml\"]\n[grid]\n\"policies.scheduler\" = [{ kind = \"round-robin\" }, { kind = \"hash\" }]\n[validation]\nlatency_p99_pct = 20.0\n";
        let m = Matrix::parse(plan, "plan.toml", &dir, None).unwrap();
        assert_eq!(m.cells.len(), 4);
        assert_eq!(m.axes[0].key, "base");
        assert_eq!(m.cells[3].values, vec!["b", "hash"]);
        assert_eq!(short("{ kind = \"ttl\", idle = \"10m\" }"), "ttl(idle=10m)");
        assert_eq!(short("busy"), "busy");
        assert_eq!(m.tolerances.cold_start_pp, 1.0);
        assert_eq!(m.tolerances.latency_p99_pct, 20.0);
        assert_eq!(m.tolerances.latency_ks, Some(0.1));
        for (bad, needle) in [
            ("base = \"a.toml\"\nbases = [\"b.toml\"]", "not both"),
            ("[saturation]\nlate_p99_ms = 0.0", "saturation.late_p99_ms"),
            ("[validation]\ncold_start = 1.0", "cold_start"),
            ("[validation]\nlatency_ks = -1.0", "validation.latency_ks"),
        ] {
            let e = Matrix::parse(bad, "plan.toml", &dir, None).unwrap_err();
            assert!(e.to_string().contains(needle), "{bad}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
