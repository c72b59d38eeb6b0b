//! `lambdasim validate`: the same scaled workload run in real mode and in the simulator, and the
//! two compared metric by metric, with a verdict against tolerances for the metrics the
//! simulator's answers hinge on (cold-start ratio, median and tail latency).
//!
//! Both runs see exactly the same workload: the scenario's, with arrivals divided by the time
//! scale and execution and initialization times by the duration scale, as real mode runs it. The
//! simulator uses the scenario's costs, which for a meaningful check come from `lambdasim
//! calibrate` on this host (`--costs host.toml`). Invocations are matched by their id (their
//! position in the workload), so that those whose start kind differed can be listed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use analysis::Summary;
use analysis::plot::{Figure, Series, Style, render};
use serde::{Deserialize, Serialize};
use sim::record::{DestroyReason, Outcome, Record, RecordSink, StartKind};

/// The largest differences a validation accepts, from a scenario's `[validation]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tolerances {
    /// Cold-start ratio: percentage points.
    pub cold_start_pp: f64,
    /// Median latency: percent of the real one.
    pub latency_p50_pct: f64,
    /// 99th-percentile latency: percent of the real one.
    pub latency_p99_pct: f64,
    /// Kolmogorov-Smirnov distance between the latency distributions, if checked.
    pub latency_ks: Option<f64>,
    /// Wasserstein-1 distance between the latency distributions, as a percent of the real mean
    /// latency, if checked.
    pub latency_w1_pct: Option<f64>,
    /// Kolmogorov-Smirnov distance between the startup-delay distributions, if checked.
    pub startup_ks: Option<f64>,
    /// Share of the invocations that started the same way (warm, cold, unpaused, forked, not
    /// at all) in both runs, in percent, if checked (a floor).
    pub start_kind_agreement_pct: Option<f64>,
    /// Wasted (idle and paused) memory-time: percent of the real one, if checked.
    pub wasted_memory_pct: Option<f64>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            cold_start_pp: 2.0,
            latency_p50_pct: 10.0,
            latency_p99_pct: 25.0,
            latency_ks: None,
            latency_w1_pct: None,
            startup_ks: None,
            start_kind_agreement_pct: None,
            wasted_memory_pct: None,
        }
    }
}

impl Tolerances {
    pub fn is_default(&self) -> bool {
        *self == Tolerances::default()
    }

    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("cold_start_pp", self.cold_start_pp),
            ("latency_p50_pct", self.latency_p50_pct),
            ("latency_p99_pct", self.latency_p99_pct),
            ("latency_ks", self.latency_ks.unwrap_or(0.0)),
            ("latency_w1_pct", self.latency_w1_pct.unwrap_or(0.0)),
            ("startup_ks", self.startup_ks.unwrap_or(0.0)),
            (
                "start_kind_agreement_pct",
                self.start_kind_agreement_pct.unwrap_or(0.0),
            ),
            ("wasted_memory_pct", self.wasted_memory_pct.unwrap_or(0.0)),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "validation.{name} must be a non-negative number, got {v}"
                ));
            }
        }
        Ok(())
    }
}

/// Keeps every record of a run.
#[derive(Default)]
pub struct Collected(pub Vec<Record>);

impl RecordSink for Collected {
    fn invocation(&mut self, record: &Record) {
        self.0.push(*record);
    }
}

/// Inside a served run's output directory (`real serve --out DIR`), the native trace of what
/// was served: the registry's functions with their measured packages, and every request as an
/// invocation at the time the platform took it, lasting as long as its handler ran.
pub const SERVED_TRACE: &str = "trace";

/// Collects the workload a served run turned out to be, for the simulator to replay: every
/// recorded invocation's function, arrival and measured execution time, by id. An invocation
/// that never ran (dropped, or its sandbox could not be made) gets the mean execution time of
/// its function's invocations that did, or 0 if none did.
#[derive(Default)]
pub struct ServedWorkload {
    catalog: workloads::Catalog,
    invocations: Vec<(u64, workloads::Invocation, bool)>,
}

impl RecordSink for ServedWorkload {
    fn begin(&mut self, info: &sim::record::RunInfo<'_>) {
        self.catalog = info.catalog.clone();
    }

    fn invocation(&mut self, r: &Record) {
        let invocation = workloads::Invocation {
            function: r.function,
            arrival: r.arrival,
            duration: r.phases.exec,
        };
        self.invocations
            .push((r.id, invocation, r.start_kind.is_some()));
    }
}

impl ServedWorkload {
    /// Writes the native trace into `dir`; the invocations' positions in it are their ids, so
    /// that a simulation of it can be matched with the served records invocation by invocation.
    pub fn write(mut self, dir: &Path) -> Result<u64, String> {
        self.invocations.sort_unstable_by_key(|(id, _, _)| *id);
        if let Some(i) = self
            .invocations
            .iter()
            .enumerate()
            .position(|(i, (id, _, _))| *id != i as u64)
        {
            return Err(format!(
                "the served invocations' ids are not 0..{}: id {i} is missing",
                self.invocations.len()
            ));
        }
        let mut sums = vec![(0u64, 0u64); self.catalog.functions.len()];
        for (_, inv, ran) in &self.invocations {
            if *ran {
                let sum = &mut sums[inv.function.index()];
                *sum = (sum.0 + inv.duration, sum.1 + 1);
            }
        }
        let invocations = self.invocations.into_iter().map(|(_, mut inv, ran)| {
            if !ran {
                let (total, n) = sums[inv.function.index()];
                inv.duration = total.checked_div(n).unwrap_or(0);
            }
            Ok(inv)
        });
        workloads::native::write(dir, &self.catalog, invocations)
            .map_err(|e| format!("writing the served trace into {}: {e}", dir.display()))
    }
}

/// A served run's own side of a validation, from its output directory: `summary.json` and
/// `records.csv`, with the functions of its trace.
pub fn served_side(dir: &Path) -> Result<Side, String> {
    let trace = dir.join(SERVED_TRACE);
    let catalog = workloads::native::read(&trace)
        .map(|w| w.catalog)
        .map_err(|e| {
            format!(
                "{e}; {} holds the trace `real serve --out {}` writes",
                trace.display(),
                dir.display()
            )
        })?;
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let summary = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let path = dir.join("records.csv");
    if !path.exists() {
        return Err(format!(
            "{} is missing: serve with --records to keep every invocation's record",
            path.display()
        ));
    }
    let records = analysis::records::read(&path, &catalog)?;
    Ok(Side { summary, records })
}

/// One run of a validation: its summary and records.
pub struct Side {
    pub summary: Summary,
    pub records: Vec<Record>,
}

/// A verdict on one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Reported, not checked.
    Info,
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub metric: String,
    pub real: f64,
    pub simulated: f64,
    /// The difference as checked (points, percent or distance), or plain.
    pub difference: String,
    pub tolerance: String,
    pub verdict: Verdict,
}

/// An invocation that started differently in the two runs.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub id: u64,
    pub function: u32,
    pub arrival_ms: f64,
    pub real: &'static str,
    pub simulated: &'static str,
}

/// How many matched invocations started one way in the real run and another in the simulated
/// one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub real: String,
    pub simulated: String,
    pub count: u64,
}

/// A phase's mean over the invocations that started in both runs, real and simulated, in ms.
/// Paired this way, the differences of the phases and of execution add up to the difference of
/// the mean latency of those invocations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedPhase {
    pub phase: String,
    pub real_ms: f64,
    pub sim_ms: f64,
}

/// Everything a validation found.
#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    pub rows: Vec<Row>,
    pub differences: Vec<Difference>,
    /// How many differences there are (the list may be cut).
    pub differing: usize,
    /// The differing invocations by their pair of start kinds, most frequent first.
    pub confusion: Vec<Confusion>,
    /// Phases (and `exec`) of the invocations that started in both runs.
    pub paired_phases: Vec<PairedPhase>,
    /// How many invocations `paired_phases` covers.
    pub paired: usize,
    #[serde(skip)]
    pub real_latency_ms: Vec<f64>,
    #[serde(skip)]
    pub sim_latency_ms: Vec<f64>,
}

impl Validation {
    pub fn failed(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .collect()
    }
}

/// Most differing invocations a validation lists.
const MAX_DIFFERENCES: usize = 1000;

/// Latencies of completed invocations in ms, sorted.
fn latencies(records: &[Record]) -> Vec<f64> {
    let mut v: Vec<f64> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .map(|r| r.latency() as f64 / 1000.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The nearest-rank `q` quantile of sorted values; 0 without values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The two-sample Kolmogorov-Smirnov distance: the largest gap between the two empirical CDFs.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 0.0 } else { 1.0 };
    }
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// The Wasserstein-1 (earth mover's) distance between two samples, sorted: the area between
/// their quantile functions, in the samples' unit. A shift of every value by `c` gives `c`.
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut at, mut area) = (0.0f64, 0.0f64);
    // Walk the probability axis through both samples' steps: on each stretch, both quantile
    // functions are flat.
    while i < a.len() && j < b.len() {
        let next = ((i + 1) as f64 / n).min((j + 1) as f64 / m);
        area += (next - at) * (a[i] - b[j]).abs();
        at = next;
        if (i + 1) as f64 / n <= next {
            i += 1;
        }
        if (j + 1) as f64 / m <= next {
            j += 1;
        }
    }
    area
}

/// Startup delays (start − arrival) of started invocations in ms, sorted.
pub fn startup_delays(records: &[Record]) -> Vec<f64> {
    let mut v: Vec<f64> = records
        .iter()
        .filter(|r| r.start_kind.is_some())
        .map(|r| (r.start - r.arrival) as f64 / 1000.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// A distance row, checked against `tolerance` (a ceiling) when there is one.
fn distance_row(metric: &str, value: f64, shown: String, tolerance: Option<f64>) -> Row {
    Row {
        metric: metric.into(),
        real: 0.0,
        simulated: 0.0,
        difference: shown,
        tolerance: tolerance.map_or(String::new(), |t| format!("≤{t}")),
        verdict: match tolerance {
            None => Verdict::Info,
            Some(t) if value <= t => Verdict::Pass,
            Some(_) => Verdict::Fail,
        },
    }
}

/// A value as a table shows it: whole numbers without decimals, others with three.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// The real and simulated values of `r` as a table shows them: blank for a distance between the
/// two runs, which has only its difference.
pub fn shown_values(r: &Row) -> (String, String) {
    if r.metric.contains("distance") {
        (String::new(), String::new())
    } else {
        (number(r.real), number(r.simulated))
    }
}

/// The phases [`Validation::paired_phases`] compares, in the order of a record's life.
pub const PAIRED_PHASES: [&str; 6] = ["queue", "create", "install", "import", "init", "exec"];

fn phase_values(r: &Record) -> [u64; PAIRED_PHASES.len()] {
    let p = &r.phases;
    [p.queue, p.create, p.install, p.import, p.init, p.exec]
}

/// A row comparing `simulated` to `real` in percent of the real value, checked against
/// `tolerance` (±percent) when there is one.
fn relative_row(metric: &str, real: f64, simulated: f64, tolerance: Option<f64>) -> Row {
    let pct = if real > 0.0 {
        100.0 * (simulated - real) / real
    } else if simulated > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    Row {
        metric: metric.into(),
        real,
        simulated,
        difference: format!("{pct:+.1}%"),
        tolerance: tolerance.map_or(String::new(), |t| format!("±{t}%")),
        verdict: match tolerance {
            None => Verdict::Info,
            Some(t) if pct.abs() <= t => Verdict::Pass,
            Some(_) => Verdict::Fail,
        },
    }
}

fn kind(r: &Record) -> &'static str {
    r.start_kind.map_or("not started", StartKind::as_str)
}

/// Compares the real run with the simulated one.
pub fn compare(real: &Side, sim: &Side, tol: &Tolerances) -> Validation {
    let mut rows = Vec::new();
    let info = |metric: &str, r: f64, s: f64| Row {
        metric: metric.to_string(),
        real: r,
        simulated: s,
        difference: format!("{:+.3}", s - r),
        tolerance: String::new(),
        verdict: Verdict::Info,
    };
    let (rs, ss) = (&real.summary, &sim.summary);
    for (name, r, s) in [
        ("invocations", rs.invocations.total, ss.invocations.total),
        (
            "completed",
            rs.invocations.completed,
            ss.invocations.completed,
        ),
        ("dropped", rs.invocations.dropped, ss.invocations.dropped),
        ("failed", rs.invocations.failed, ss.invocations.failed),
    ] {
        rows.push(info(name, r as f64, s as f64));
    }
    for k in StartKind::ALL {
        let (r, s) = (rs.starts.by_kind[k.as_str()], ss.starts.by_kind[k.as_str()]);
        if r + s > 0 {
            rows.push(info(&format!("{} starts", k.as_str()), r as f64, s as f64));
        }
    }
    for (name, key) in [
        ("evicted sandboxes", DestroyReason::Evicted),
        ("expired sandboxes", DestroyReason::Expired),
    ] {
        let (r, s) = (
            rs.sandboxes.destroyed_by_reason[key.as_str()],
            ss.sandboxes.destroyed_by_reason[key.as_str()],
        );
        if r + s > 0 {
            rows.push(info(name, r as f64, s as f64));
        }
    }
    let (rc, sc) = (
        100.0 * rs.starts.cold_start_ratio,
        100.0 * ss.starts.cold_start_ratio,
    );
    rows.push(Row {
        metric: "cold-start ratio %".into(),
        real: rc,
        simulated: sc,
        difference: format!("{:+.2} pp", sc - rc),
        tolerance: format!("±{} pp", tol.cold_start_pp),
        verdict: if (sc - rc).abs() <= tol.cold_start_pp {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
    });
    let (rp, sp) = (&rs.phases_ms, &ss.phases_ms);
    for (name, r, s) in [
        ("queue", &rp.queue, &sp.queue),
        ("create", &rp.create, &sp.create),
        ("install", &rp.install, &sp.install),
        ("import", &rp.import, &sp.import),
        ("init", &rp.init, &sp.init),
    ] {
        rows.push(info(&format!("{name} mean ms"), r.mean, s.mean));
        if r.cold_p50 + s.cold_p50 > 0.0 {
            rows.push(info(
                &format!("{name} p50 of cold starts ms"),
                r.cold_p50,
                s.cold_p50,
            ));
        }
    }
    let (rl, sl) = (latencies(&real.records), latencies(&sim.records));
    let relative = |metric: &str, q: f64, tolerance: Option<f64>| {
        relative_row(metric, quantile(&rl, q), quantile(&sl, q), tolerance)
    };
    rows.push(relative("latency p50 ms", 0.50, Some(tol.latency_p50_pct)));
    rows.push(relative("latency p90 ms", 0.90, None));
    rows.push(relative("latency p99 ms", 0.99, Some(tol.latency_p99_pct)));
    let ks = ks_distance(&rl, &sl);
    rows.push(distance_row(
        "latency KS distance",
        ks,
        format!("{ks:.4}"),
        tol.latency_ks,
    ));
    // Wasserstein-1 in ms, checked as a percent of the real mean latency.
    let w1 = wasserstein1(&rl, &sl);
    let real_mean = if rl.is_empty() {
        0.0
    } else {
        rl.iter().sum::<f64>() / rl.len() as f64
    };
    let w1_pct = if real_mean > 0.0 {
        100.0 * w1 / real_mean
    } else if w1 > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let mut w1_row = distance_row(
        "latency W1 distance ms",
        w1_pct,
        format!("{w1:.3} ({w1_pct:.1}% of the mean)"),
        tol.latency_w1_pct,
    );
    w1_row.tolerance = tol
        .latency_w1_pct
        .map_or(String::new(), |t| format!("≤{t}% of the mean"));
    rows.push(w1_row);
    let (rd, sd) = (startup_delays(&real.records), startup_delays(&sim.records));
    let startup_ks = ks_distance(&rd, &sd);
    rows.push(distance_row(
        "startup delay KS distance",
        startup_ks,
        format!("{startup_ks:.4}"),
        tol.startup_ks,
    ));
    let startup_w1 = wasserstein1(&rd, &sd);
    rows.push(info("startup delay W1 distance ms", 0.0, startup_w1));
    rows.push(info(
        "used memory GB-s",
        rs.memory.used_gb_s,
        ss.memory.used_gb_s,
    ));
    rows.push(relative_row(
        "wasted memory GB-s",
        rs.memory.wasted_gb_s,
        ss.memory.wasted_gb_s,
        tol.wasted_memory_pct,
    ));

    let mut by_id: Vec<(u64, &Record)> = sim.records.iter().map(|r| (r.id, r)).collect();
    by_id.sort_unstable_by_key(|(id, _)| *id);
    let mut differences = Vec::new();
    let mut differing = 0;
    let mut matched = 0;
    let mut paired = 0usize;
    let mut sums = [(0f64, 0f64); PAIRED_PHASES.len()];
    let mut pairs: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    let mut real_sorted: Vec<&Record> = real.records.iter().collect();
    real_sorted.sort_unstable_by_key(|r| r.id);
    for r in real_sorted {
        let Ok(i) = by_id.binary_search_by_key(&r.id, |(id, _)| *id) else {
            continue;
        };
        let s = by_id[i].1;
        matched += 1;
        if r.start_kind.is_some() && s.start_kind.is_some() {
            paired += 1;
            for (sum, (a, b)) in sums
                .iter_mut()
                .zip(phase_values(r).into_iter().zip(phase_values(s)))
            {
                sum.0 += a as f64;
                sum.1 += b as f64;
            }
        }
        if r.start_kind != s.start_kind {
            *pairs.entry((kind(r), kind(s))).or_insert(0u64) += 1;
            differing += 1;
            if differences.len() < MAX_DIFFERENCES {
                differences.push(Difference {
                    id: r.id,
                    function: r.function.0,
                    arrival_ms: r.arrival as f64 / 1000.0,
                    real: kind(r),
                    simulated: kind(s),
                });
            }
        }
    }
    let agreement = if matched > 0 {
        100.0 * (matched - differing) as f64 / matched as f64
    } else {
        100.0
    };
    rows.push(Row {
        metric: "start kind agreement %".into(),
        real: matched as f64,
        simulated: (matched - differing) as f64,
        difference: format!("{agreement:.2}% of {matched}"),
        tolerance: tol
            .start_kind_agreement_pct
            .map_or(String::new(), |t| format!("≥{t}%")),
        verdict: match tol.start_kind_agreement_pct {
            None => Verdict::Info,
            Some(t) if agreement >= t => Verdict::Pass,
            Some(_) => Verdict::Fail,
        },
    });
    let mut confusion: Vec<Confusion> = pairs
        .into_iter()
        .map(|((real, simulated), count)| Confusion {
            real: real.into(),
            simulated: simulated.into(),
            count,
        })
        .collect();
    confusion.sort_by_key(|c| std::cmp::Reverse(c.count));
    let per = |total: f64| {
        if paired == 0 {
            0.0
        } else {
            total / 1000.0 / paired as f64
        }
    };
    let paired_phases = PAIRED_PHASES
        .iter()
        .zip(sums)
        .map(|(phase, (r, s))| PairedPhase {
            phase: phase.to_string(),
            real_ms: per(r),
            sim_ms: per(s),
        })
        .collect();
    Validation {
        rows,
        differences,
        differing,
        confusion,
        paired_phases,
        paired,
        real_latency_ms: rl,
        sim_latency_ms: sl,
    }
}

/// The comparison as a Markdown table.
pub fn render_table(v: &Validation) -> String {
    let mut out = String::from(
        "| metric | real | simulated | difference | tolerance | verdict |\n|---|---:|---:|---:|---:|---|\n",
    );
    for r in &v.rows {
        let (real, sim) = shown_values(r);
        let verdict = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Info => "",
        };
        let _ = writeln!(
            out,
            "| {} | {real} | {sim} | {} | {} | {verdict} |",
            r.metric, r.difference, r.tolerance
        );
    }
    let _ = writeln!(
        out,
        "\n{} invocations started differently{}.",
        v.differing,
        if v.differing > v.differences.len() {
            format!(" (the first {} are listed)", v.differences.len())
        } else {
            String::new()
        }
    );
    if !v.confusion.is_empty() {
        let pairs: Vec<String> = v
            .confusion
            .iter()
            .map(|c| format!("{} real / {} simulated: {}", c.real, c.simulated, c.count))
            .collect();
        let _ = writeln!(out, "By start kind: {}.", pairs.join("; "));
    }
    if v.paired > 0 {
        let _ = writeln!(
            out,
            "\nMean phases of the {} invocations that started in both runs (ms):\n\n\
             | phase | real | simulated | difference |\n|---|---:|---:|---:|",
            v.paired
        );
        for p in &v.paired_phases {
            let _ = writeln!(
                out,
                "| {} | {:.3} | {:.3} | {:+.3} |",
                p.phase,
                p.real_ms,
                p.sim_ms,
                p.sim_ms - p.real_ms
            );
        }
    }
    out
}

/// The invocations that started differently, as CSV: id, function, arrival, both start kinds.
pub fn differences_csv(v: &Validation) -> String {
    let mut csv = String::from("id,function,arrival_ms,real,simulated\n");
    for d in &v.differences {
        let _ = writeln!(
            csv,
            "{},{},{},{},{}",
            d.id, d.function, d.arrival_ms, d.real, d.simulated
        );
    }
    csv
}

/// Writes `validation.md`, `validation.json`, `differences.csv` and the latency CDFs overlaid
/// (`latency-cdf.svg` and `.png`) into `dir`; returns the files.
pub fn write(v: &Validation, heading: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let cdf = |sorted: &[f64]| -> Vec<(f64, f64)> {
        let n = sorted.len();
        // At most 2,000 points: every value of a small run, evenly spaced ranks of a large one.
        let step = n.div_ceil(2_000).max(1);
        let mut points: Vec<(f64, f64)> = sorted
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0 || i + 1 == n)
            .map(|(i, &x)| (x, (i + 1) as f64 / n as f64))
            .collect();
        if let Some(&(x, _)) = points.first() {
            points.insert(0, (x, 0.0));
        }
        points
    };
    let series: Series = vec![
        ("real".to_string(), cdf(&v.real_latency_ms)),
        ("simulated".to_string(), cdf(&v.sim_latency_ms)),
    ];
    render(
        dir,
        "latency-cdf",
        &Figure {
            title: "Latency: real and simulated",
            x_label: "ms (log scale)",
            y_label: "fraction of completed invocations",
            series: &series,
            style: Style::Lines,
            log_x: true,
            front: None,
        },
    )?;
    let csv = differences_csv(v);
    let md = format!(
        "# Validation\n\n```text\n{}\n```\n\n{}\n![latency CDFs](latency-cdf.png)\n\nThe \
         latency CDFs of completed invocations, real and simulated ([SVG](latency-cdf.svg)). \
         The invocations that started differently are in differences.csv.\n",
        heading.trim_end(),
        render_table(v)
    );
    let json = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    let mut files = vec![dir.join("latency-cdf.svg"), dir.join("latency-cdf.png")];
    for (name, text) in [
        ("validation.md", md),
        ("validation.json", json),
        ("differences.csv", csv),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w1_is_the_area_between_the_quantile_functions() {
        assert_eq!(wasserstein1(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        // A shift by 5 everywhere.
        assert!((wasserstein1(&[1.0, 2.0, 3.0], &[6.0, 7.0, 8.0]) - 5.0).abs() < 1e-12);
        // Half the mass moved by 2.
        assert!((wasserstein1(&[0.0, 1.0], &[0.0, 3.0]) - 1.0).abs() < 1e-12);
        // Unequal sizes: {0} against {0, 2} moves half the mass by 2.
        assert!((wasserstein1(&[0.0], &[0.0, 2.0]) - 1.0).abs() < 1e-12);
        // {0, 0, 3} against {0, 3}: a sixth of the mass moves by 3.
        assert!((wasserstein1(&[0.0, 0.0, 3.0], &[0.0, 3.0]) - 0.5).abs() < 1e-12);
        assert_eq!(wasserstein1(&[], &[1.0]), 0.0);
    }

    #[test]
    fn ks_is_the_largest_gap_between_the_cdfs() {
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        assert_eq!(ks_distance(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        // At 4: all of a against half of b.
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0, 4.0], &[2.0, 5.0]), 0.5);
        assert_eq!(ks_distance(&[], &[]), 0.0);
        assert_eq!(ks_distance(&[1.0], &[]), 1.0);
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.99), 4.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
