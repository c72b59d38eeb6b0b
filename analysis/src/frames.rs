//! Sweep results as Parquet, and summaries of per-invocation record files too large to load, with
//! polars (only built with the `polars` feature).
//!
//! - [`write_results_parquet`] and [`read_results_parquet`] store a sweep's [`Results`] with
//!   typed columns and read them back as the same text the CSV holds.
//! - [`aggregate_records`] summarizes a records file (CSV as [`crate::CsvRecords`] writes it, or
//!   Parquet with the same columns), optionally per function, app, worker, start kind or outcome.
//!   The file is scanned lazily on polars' streaming engine and memory grows with the number of
//!   groups, not with the number of rows.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::fs::File;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use polars::prelude::*;
use sim::record::{DropReason, FailReason, Outcome, StartKind};

use crate::records::RECORDS_HEADER;
use crate::sweep_report::{Results, csv_line};

/// An error of polars about `path`, as text that names the file.
fn at(path: &Path) -> impl Fn(PolarsError) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

// ---------------------------------------------------------------------------------------------
// Sweep results
// ---------------------------------------------------------------------------------------------

/// Metric columns that the sweep writes as integers: stored as UInt64 when every cell is one.
/// The other metrics are stored as Float64, so that a column keeps its type from one sweep to the
/// next even when all of its values happen to be whole.
const INTEGER_METRICS: [&str; 6] = [
    "invocations",
    "completed",
    "dropped",
    "failed",
    "sandboxes_created",
    "evicted",
];

/// The type a results column is stored as.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    UInt,
    Int,
    Float,
    Text,
}

/// `cell` as a `T` if printing that `T` gives `cell` back, so that a stored value reads back as
/// the same text (`"007"` and `"1e-7"` are not numbers in that sense, for instance).
fn exact<T: FromStr + Display>(cell: &str) -> Option<T> {
    let value = cell.parse::<T>().ok()?;
    (value.to_string() == cell).then_some(value)
}

/// The cells as a column of type `kind`, or `None` if one of them would not read back the same.
fn typed(name: &str, kind: Kind, cells: &[&str]) -> Option<Column> {
    let name = PlSmallStr::from(name);
    Some(match kind {
        Kind::UInt => Column::new(
            name,
            cells
                .iter()
                .map(|c| exact::<u64>(c))
                .collect::<Option<Vec<_>>>()?,
        ),
        Kind::Int => Column::new(
            name,
            cells
                .iter()
                .map(|c| exact::<i64>(c))
                .collect::<Option<Vec<_>>>()?,
        ),
        // `f64`'s `Display` prints the shortest text that parses back to the same value, which
        // is what the sweep writes (`format!("{x}")`), so any such cell survives exactly.
        Kind::Float => Column::new(
            name,
            cells
                .iter()
                .map(|c| exact::<f64>(c))
                .collect::<Option<Vec<_>>>()?,
        ),
        Kind::Text => Column::new(name, cells.to_vec()),
    })
}

/// Positions of the `seed` and `invocations` columns, after checking that `run` is there too.
fn layout(columns: &[String]) -> Result<(usize, usize), String> {
    let find = |name: &str| {
        columns.iter().position(|c| c == name).ok_or(format!(
            "no {name} column: not a sweep's results (they have run, seed, the grid's axes, then \
             the metrics from invocations on)"
        ))
    };
    find("run")?;
    let (seed, first_metric) = (find("seed")?, find("invocations")?);
    if seed > first_metric {
        return Err("the seed column comes after the invocations column".to_string());
    }
    Ok((seed, first_metric))
}

/// Writes a sweep's results as Parquet: `run` and `seed` as UInt64, the grid's axes as String
/// (their text is kept as it is, `1024` included), and each metric as the first type that keeps
/// every one of its cells exactly: UInt64 first for the integer metrics (`invocations`,
/// `completed`, `dropped`, `failed`, `sandboxes_created`, `evicted`), Float64 first for the
/// others, then UInt64, Int64, Float64 and, for cells that are not numbers as Rust prints them,
/// String. [`read_results_parquet`] gives back `r`.
pub fn write_results_parquet(r: &Results, path: &Path) -> Result<(), String> {
    let shown = path.display();
    let (seed, first_metric) = layout(&r.columns).map_err(|e| format!("{shown}: {e}"))?;
    let mut seen = HashSet::new();
    if let Some(twice) = r.columns.iter().find(|c| !seen.insert(c.as_str())) {
        return Err(format!("{shown}: the column {twice} appears twice"));
    }
    if let Some((n, row)) = r
        .rows
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != r.columns.len())
    {
        return Err(format!(
            "{shown}: row {n} has {} cells, expected {}",
            row.len(),
            r.columns.len()
        ));
    }
    let mut columns = Vec::with_capacity(r.columns.len());
    for (i, name) in r.columns.iter().enumerate() {
        let cells: Vec<&str> = r.rows.iter().map(|row| row[i].as_str()).collect();
        let kinds: &[Kind] = if name == "run" || name == "seed" {
            &[Kind::UInt]
        } else if i > seed && i < first_metric {
            &[Kind::Text]
        } else if INTEGER_METRICS.contains(&name.as_str()) {
            &[Kind::UInt, Kind::Int, Kind::Float, Kind::Text]
        } else {
            &[Kind::Float, Kind::UInt, Kind::Int, Kind::Text]
        };
        let column = kinds.iter().find_map(|&kind| typed(name, kind, &cells));
        let Some(column) = column else {
            let bad = cells.iter().find(|c| exact::<u64>(c).is_none());
            return Err(format!(
                "{shown}: {name} {:?} is not an unsigned integer",
                bad.unwrap_or(&"")
            ));
        };
        columns.push(column);
    }
    let mut frame = DataFrame::new(r.rows.len(), columns).map_err(at(path))?;
    let file = File::create(path).map_err(|e| format!("{shown}: {e}"))?;
    ParquetWriter::new(file)
        .finish(&mut frame)
        .map_err(at(path))?;
    Ok(())
}

/// The cells of a column as the results CSV would hold them: integers and floats printed by Rust
/// (`format!("{x}")`), nulls empty.
fn column_text(column: &Column) -> PolarsResult<Vec<String>> {
    fn text<T: Display>(values: impl Iterator<Item = Option<T>>) -> Vec<String> {
        values
            .map(|v| v.map_or_else(String::new, |v| v.to_string()))
            .collect()
    }
    let dtype = column.dtype();
    Ok(if dtype.is_unsigned_integer() {
        text(column.cast(&DataType::UInt64)?.u64()?.iter())
    } else if dtype.is_signed_integer() {
        text(column.cast(&DataType::Int64)?.i64()?.iter())
    } else if dtype == &DataType::Float32 {
        text(column.f32()?.iter())
    } else if dtype.is_float() {
        text(column.cast(&DataType::Float64)?.f64()?.iter())
    } else {
        text(column.cast(&DataType::String)?.str()?.iter())
    })
}

/// Reads results written by [`write_results_parquet`] (or any Parquet file with `run`, `seed` and
/// `invocations` columns) back into the text cells of a results CSV.
pub fn read_results_parquet(path: &Path) -> Result<Results, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let frame = ParquetReader::new(file).finish().map_err(at(path))?;
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let (seed, first_metric) = layout(&columns).map_err(|e| format!("{shown}: {e}"))?;
    let mut cells = Vec::with_capacity(columns.len());
    for column in frame.columns() {
        let text =
            column_text(column).map_err(|e| format!("{shown}: column {}: {e}", column.name()))?;
        cells.push(text.into_iter());
    }
    let rows = (0..frame.height())
        .map(|_| {
            cells
                .iter_mut()
                .map(|c| c.next().unwrap_or_default())
                .collect()
        })
        .collect();
    Ok(Results {
        axes: columns[seed + 1..first_metric].to_vec(),
        columns,
        rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Record files
// ---------------------------------------------------------------------------------------------

/// The columns [`aggregate_records`] can group by.
pub const GROUP_KEYS: [&str; 5] = ["function", "app", "worker", "start_kind", "outcome"];

/// The columns of [`aggregate_records`]'s table after the group key.
pub const AGGREGATE_COLUMNS: [&str; 12] = [
    "invocations",
    "completed",
    "dropped",
    "failed",
    "cold_starts",
    "cold_start_pct",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "startup_mean_ms",
    "startup_p99_ms",
    "exec_mean_ms",
];

/// The record columns every aggregation reads.
const NEEDED: [&str; 6] = [
    "arrival_us",
    "start_us",
    "end_us",
    "start_kind",
    "exec_us",
    "outcome",
];

/// The name of the group key column inside the queries.
const KEY: &str = "__key";

/// A small table of text cells, such as [`aggregate_records`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The table as CSV, header first (see [`crate::sweep_report::csv_line`]).
    pub fn to_csv(&self) -> String {
        let mut out = csv_line(&self.columns);
        for row in &self.rows {
            out.push_str(&csv_line(row));
        }
        out
    }
}

/// Significant bits of a duration that the first pass's histograms keep.
const BUCKET_BITS: u32 = 10;

/// A refining pass splits a window into at most 2^12 parts.
const REFINE_BITS: u32 = 12;

/// The durations `lo..lo + width` (in µs), `width` a power of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Window {
    lo: i128,
    width: u128,
}

impl Window {
    /// The first pass's bucket of a duration: durations below 2^10 µs are buckets of their own,
    /// larger ones keep their 10 most significant bits, so that a bucket spans less than 1/512
    /// of its values (4 ms around 3 s, 4 s around an hour) and a group has at most 512 buckets
    /// per doubling of the durations, whatever the number of rows. Negative durations (a clock
    /// gone backwards) mirror positive ones.
    fn of(v: i64) -> Window {
        let a = v.unsigned_abs();
        let bits = u64::BITS - a.leading_zeros();
        let (lo, width) = if bits <= BUCKET_BITS {
            (a, 1u64)
        } else {
            let drop = bits - BUCKET_BITS;
            ((a >> drop) << drop, 1 << drop)
        };
        let (lo, width) = (i128::from(lo), u128::from(width));
        if v >= 0 {
            Window { lo, width }
        } else {
            Window {
                lo: 1 - lo - width as i128,
                width,
            }
        }
    }

    fn contains(&self, v: i64) -> bool {
        let v = i128::from(v);
        v >= self.lo && v - self.lo < self.width as i128
    }

    /// How many low bits a refining pass drops: it splits the window into 2^12 parts or fewer.
    fn shift(&self) -> u32 {
        self.width.trailing_zeros().saturating_sub(REFINE_BITS)
    }

    /// The part of the window that holds `v`, which the window contains.
    fn part(&self, v: i64) -> u128 {
        ((i128::from(v) - self.lo) as u128) >> self.shift()
    }

    /// The window of a part.
    fn sub(&self, part: u128) -> Window {
        let shift = self.shift();
        Window {
            lo: self.lo + (part << shift) as i128,
            width: 1 << shift,
        }
    }
}

/// The two durations whose percentiles the table has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Duration {
    /// `end_us - arrival_us` of completed rows.
    Latency,
    /// `start_us - arrival_us` of started rows.
    Startup,
}

/// The percentiles of the table: which duration, and which percent.
const PERCENTILES: [(Duration, u64); 3] = [
    (Duration::Latency, 50),
    (Duration::Latency, 99),
    (Duration::Startup, 99),
];

/// A lazy scan of a records file, and the columns the aggregation reads from it.
///
/// polars scans, parses, types and derives the columns on its streaming engine and hands them
/// over in batches ([`LazyFrame::sink_batches`]); the counts and histograms are kept in Rust, per
/// group, so that memory grows with the number of groups and histogram buckets only. Exact
/// percentiles take a few passes:
///
/// 1. counts, sums and histograms of the startup delays and latencies by [`Window::of`], which
///    give the means and, for each percentile, the window that holds its rank;
/// 2. while such a window spans several values, the counts of its parts (at most 2^12), which
///    narrow it down: one more pass below 2^22 µs (4 s), two below 2^34 µs (4.8 hours).
///
/// Why not polars' own group-by: quantiles are not streaming reductions in polars 0.55 (a
/// group-by with `quantile` falls back to the in-memory engine, which gathers its whole input),
/// and its streaming group-by keeps a fixed "hot" table per thread (4096 groups in release
/// builds, 4 in debug builds) and holds on to what it evicts until the end, so that memory grows
/// with the rows as soon as there are more groups than that, as there are with histograms.
struct Scan {
    frame: LazyFrame,
    by: Option<String>,
}

impl Scan {
    fn new(path: &Path, by: Option<&str>) -> Result<Scan, String> {
        if let Some(by) = by
            && !GROUP_KEYS.contains(&by)
        {
            return Err(format!(
                "cannot group records by {by:?}: the choices are {}",
                GROUP_KEYS.join(", ")
            ));
        }
        let mut needed = NEEDED.to_vec();
        if let Some(by) = by
            && !needed.contains(&by)
        {
            needed.push(by);
        }
        Ok(Scan {
            frame: scan(path, &needed)?,
            by: by.map(String::from),
        })
    }

    /// The columns of a pass: the group key (if any) as `__key`, then `started`, `cold`, `ok`,
    /// `dropped`, `failed` (booleans), `startup` (of started rows), `latency` and `exec` (of
    /// completed rows), nulls where they do not apply. Casts are no-ops on a CSV scan, whose types
    /// are set by [`scan`], and check a Parquet file's.
    fn columns(&self) -> LazyFrame {
        let text = |c: &str| col(c).strict_cast(DataType::String).fill_null(lit(""));
        let int = |c: &str| col(c).strict_cast(DataType::Int64);
        let kind = text("start_kind");
        let started = kind.clone().neq(lit(""));
        let cold = StartKind::ALL
            .iter()
            .filter(|k| k.is_cold())
            .map(|k| kind.clone().eq(lit(k.as_str())))
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false));
        let outcome = |o: Outcome| text("outcome").eq(lit(o.as_str()));
        let ok = outcome(Outcome::Ok);
        let mut columns: Vec<Expr> = Vec::new();
        if let Some(by) = self.by.as_deref() {
            let key = if by == "worker" {
                col(by).strict_cast(DataType::UInt64)
            } else {
                text(by)
            };
            columns.push(key.alias(KEY));
        }
        columns.extend([
            started.clone().alias("started"),
            cold.alias("cold"),
            ok.clone().alias("ok"),
            outcome(Outcome::Dropped(DropReason::QueueFull)).alias("dropped"),
            outcome(Outcome::Failed(FailReason::SandboxCrashed)).alias("failed"),
            when(started)
                .then(int("start_us") - int("arrival_us"))
                .otherwise(lit(NULL))
                .alias("startup"),
            when(ok.clone())
                .then(int("end_us") - int("arrival_us"))
                .otherwise(lit(NULL))
                .alias("latency"),
            when(ok)
                .then(int("exec_us"))
                .otherwise(lit(NULL))
                .alias("exec"),
        ]);
        self.frame.clone().select(columns)
    }

    /// Runs `frame` on polars' streaming engine, handing each batch to `each` with `state`.
    fn stream<S: Send + 'static>(
        frame: LazyFrame,
        state: S,
        each: fn(&mut S, &DataFrame) -> PolarsResult<()>,
    ) -> PolarsResult<S> {
        let shared = Arc::new(Mutex::new(Some(state)));
        let inner = Arc::clone(&shared);
        let callback = PlanCallback::new(move |batch: DataFrame| {
            let mut state = inner
                .lock()
                .map_err(|_| polars_err!(ComputeError: "a batch failed"))?;
            if let Some(state) = state.as_mut() {
                each(state, &batch)?;
            }
            Ok(false) // Do not stop.
        });
        frame
            .sink_batches(callback, false, None)?
            .collect_with_engine(Engine::Streaming)?;
        let state = shared
            .lock()
            .map_err(|_| polars_err!(ComputeError: "a batch failed"))?
            .take();
        state.ok_or_else(|| polars_err!(ComputeError: "the batches' state is gone"))
    }
}

fn csv_reader(path: PlRefPath) -> LazyCsvReader {
    // Every column as text unless overwritten: no inference from the first rows.
    LazyCsvReader::new(path)
        .with_glob(false)
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
}

/// A lazy scan of a records file with the `needed` columns, typed.
fn scan(path: &Path, needed: &[&str]) -> Result<LazyFrame, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if !metadata.is_file() {
        return Err(format!("{shown}: not a file"));
    }
    let pl_path = PlRefPath::try_from_path(path).map_err(at(path))?;
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let mut frame = if parquet {
        let args = ScanArgsParquet {
            glob: false,
            hive_options: HiveOptions::new_disabled(),
            ..Default::default()
        };
        LazyFrame::scan_parquet(pl_path.clone(), args)
    } else {
        csv_reader(pl_path.clone()).finish()
    }
    .map_err(at(path))?;
    let schema = frame.collect_schema().map_err(at(path))?;
    if let Some(missing) = needed.iter().find(|&&c| !schema.contains(c)) {
        return Err(format!(
            "{shown}: no {missing} column (a records file has the columns {})",
            RECORDS_HEADER.join(",")
        ));
    }
    if !parquet {
        let overwrite: Schema = needed
            .iter()
            .map(|&c| {
                let dtype = match c {
                    "worker" => DataType::UInt64,
                    c if c.ends_with("_us") => DataType::Int64,
                    _ => DataType::String,
                };
                Field::new(c.into(), dtype)
            })
            .collect();
        frame = csv_reader(pl_path)
            .with_dtype_overwrite(Some(Arc::new(overwrite)))
            .finish()
            .map_err(at(path))?;
    }
    Ok(frame)
}

/// A group of rows: everything, or the rows with one value of the key column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum GroupKey {
    All,
    /// Workers sort by number; a row without a worker has `None` and comes first.
    Worker(Option<u64>),
    Text(String),
}

impl GroupKey {
    fn cell(&self) -> String {
        match self {
            GroupKey::All => String::new(),
            GroupKey::Worker(w) => w.map_or_else(String::new, |w| w.to_string()),
            GroupKey::Text(t) => t.clone(),
        }
    }
}

/// The groups met so far, numbered in order of appearance.
#[derive(Clone, Debug, Default)]
struct Keys {
    by: Option<String>,
    text: HashMap<String, usize>,
    workers: HashMap<Option<u64>, usize>,
    keys: Vec<GroupKey>,
}

impl Keys {
    fn new(by: Option<&str>) -> Keys {
        Keys {
            by: by.map(String::from),
            // Without a key, every row is in group 0, even when there are none.
            keys: if by.is_none() {
                vec![GroupKey::All]
            } else {
                Vec::new()
            },
            ..Keys::default()
        }
    }

    /// The group of each row of a batch, numbering new ones unless `known_only` (then `None`).
    fn of(&mut self, batch: &DataFrame, known_only: bool) -> PolarsResult<Vec<Option<usize>>> {
        let keys = &mut self.keys;
        let mut number = |key: GroupKey| {
            if known_only {
                return None;
            }
            keys.push(key);
            Some(keys.len() - 1)
        };
        Ok(match self.by.as_deref() {
            None => vec![Some(0); batch.height()],
            Some("worker") => batch
                .column(KEY)?
                .u64()?
                .iter()
                .map(|w| match self.workers.get(&w) {
                    Some(&i) => Some(i),
                    None => {
                        let i = number(GroupKey::Worker(w))?;
                        self.workers.insert(w, i);
                        Some(i)
                    }
                })
                .collect(),
            Some(_) => batch
                .column(KEY)?
                .str()?
                .iter()
                .map(|k| {
                    let k = k.unwrap_or("");
                    match self.text.get(k) {
                        Some(&i) => Some(i),
                        None => {
                            let i = number(GroupKey::Text(k.to_string()))?;
                            self.text.insert(k.to_string(), i);
                            Some(i)
                        }
                    }
                })
                .collect(),
        })
    }
}

/// A duration's values in one group: how many fall in each [`Window::of`], their sum and
/// number.
#[derive(Debug, Default)]
struct Histogram {
    windows: HashMap<Window, u64>,
    sum: i128,
    count: u64,
}

impl Histogram {
    fn add(&mut self, us: i64) {
        *self.windows.entry(Window::of(us)).or_default() += 1;
        self.sum += i128::from(us);
        self.count += 1;
    }

    fn mean_ms(&self) -> f64 {
        mean_ms(self.sum, self.count)
    }
}

/// The counts and histograms of one group.
#[derive(Debug, Default)]
struct Group {
    invocations: u64,
    completed: u64,
    dropped: u64,
    failed: u64,
    cold: u64,
    started: u64,
    startup: Histogram,
    latency: Histogram,
    exec_sum: i128,
    exec_count: u64,
}

impl Group {
    fn histogram(&self, d: Duration) -> &Histogram {
        match d {
            Duration::Latency => &self.latency,
            Duration::Startup => &self.startup,
        }
    }
}

/// A boolean column, nulls as false.
fn flags(batch: &DataFrame, name: &str) -> PolarsResult<Vec<bool>> {
    Ok(batch
        .column(name)?
        .bool()?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect())
}

fn ints(batch: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    Ok(batch.column(name)?.i64()?.iter().collect())
}

/// The state of the first pass: the groups' counts and histograms.
#[derive(Default)]
struct Counting {
    keys: Keys,
    groups: Vec<Group>,
}

impl Counting {
    fn batch(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let groups = self.keys.of(batch, false)?;
        self.groups
            .resize_with(self.keys.keys.len(), Group::default);
        let [started, cold, ok, dropped, failed] =
            ["started", "cold", "ok", "dropped", "failed"].map(|c| flags(batch, c));
        let (started, cold, ok, dropped, failed) = (started?, cold?, ok?, dropped?, failed?);
        let (startup, latency, exec) = (
            ints(batch, "startup")?,
            ints(batch, "latency")?,
            ints(batch, "exec")?,
        );
        for (row, group) in groups.into_iter().enumerate() {
            let Some(g) = group.and_then(|i| self.groups.get_mut(i)) else {
                continue;
            };
            g.invocations += 1;
            g.started += u64::from(started[row]);
            g.cold += u64::from(cold[row]);
            g.completed += u64::from(ok[row]);
            g.dropped += u64::from(dropped[row]);
            g.failed += u64::from(failed[row]);
            if let Some(us) = startup[row] {
                g.startup.add(us);
            }
            if let Some(us) = latency[row] {
                g.latency.add(us);
            }
            if let Some(us) = exec[row] {
                g.exec_sum += i128::from(us);
                g.exec_count += 1;
            }
        }
        Ok(())
    }
}

/// The state of a refining pass: per group, the windows to split and the counts of their parts.
#[derive(Default)]
struct Refining {
    keys: Keys,
    windows: Vec<Vec<(Duration, Window)>>,
    /// Per group, duration and window, the number of values in each part.
    parts: HashMap<(usize, Duration, Window), HashMap<u128, u64>>,
}

impl Refining {
    fn batch(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let groups = self.keys.of(batch, true)?;
        let (startup, latency) = (ints(batch, "startup")?, ints(batch, "latency")?);
        for (row, group) in groups.into_iter().enumerate() {
            let Some(i) = group else { continue };
            for &(d, w) in self.windows.get(i).map_or(&[][..], |w| w) {
                let value = match d {
                    Duration::Latency => latency[row],
                    Duration::Startup => startup[row],
                };
                if let Some(v) = value.filter(|&v| w.contains(v)) {
                    let parts = self.parts.entry((i, d, w)).or_default();
                    *parts.entry(w.part(v)).or_default() += 1;
                }
            }
        }
        Ok(())
    }
}

/// The rank of the nearest-rank `percent` percentile among `n` values: `ceil(percent / 100 · n)`,
/// at least 1, computed in integers so that it is exact. This is polars'
/// `QuantileMethod::Equiprobable` (its default, `Nearest`, rounds the position `(n - 1) · p`
/// instead, which is not nearest-rank).
fn percentile_rank(n: u64, percent: u64) -> u64 {
    (u128::from(n) * u128::from(percent)).div_ceil(100).max(1) as u64
}

/// The entry of a histogram sorted by value that holds the value of rank `rank` (from 1), and
/// the rank of that value among the entry's values.
fn find_rank<T: Copy>(histogram: &[(T, u64)], rank: u64) -> Option<(T, u64)> {
    let mut below = 0;
    for &(value, count) in histogram {
        if below + count >= rank {
            return Some((value, rank - below));
        }
        below += count;
    }
    None
}

/// A histogram's entries sorted by value.
fn sorted<T: Copy + Ord>(histogram: &HashMap<T, u64>) -> Vec<(T, u64)> {
    let mut entries: Vec<(T, u64)> = histogram.iter().map(|(&v, &n)| (v, n)).collect();
    entries.sort_unstable();
    entries
}

/// `sum_us / n` in milliseconds, 0 when there is nothing to average.
fn mean_ms(sum_us: i128, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        sum_us as f64 / n as f64 / 1000.0
    }
}

/// Summarizes a records file: one row for all records (`by` = `None`) or per value of the `by`
/// column (one of [`GROUP_KEYS`]), sorted by that value (workers by number). The columns are the
/// key, if any, then [`AGGREGATE_COLUMNS`]:
///
/// - `invocations`, `completed` (outcome `ok`), `dropped`, `failed`: numbers of rows;
/// - `cold_starts`: started rows with a cold start kind (`cold` or `zygote-fork`, see
///   [`StartKind::is_cold`]); `cold_start_pct`: their percentage of the started rows (rows with a
///   start kind);
/// - `latency_*_ms`: `end_us - arrival_us` of completed rows; `startup_*_ms`:
///   `start_us - arrival_us` of started rows; `exec_mean_ms`: `exec_us` of completed rows.
///
/// Percentiles are exact and nearest-rank: the value of rank `ceil(p · n)` in sorted order. Means
/// and percentiles of groups without values are 0. Numbers are printed with `format!("{x}")`.
///
/// A path ending in `.parquet` is read as Parquet, any other as CSV. The file is scanned lazily
/// on polars' streaming engine, a few times (see [`Scan`]), and memory grows with the number of
/// groups, not with the number of rows.
pub fn aggregate_records(path: &Path, by: Option<&str>) -> Result<Table, String> {
    let scan = Scan::new(path, by)?;
    let counting = Counting {
        keys: Keys::new(by),
        groups: Vec::new(),
    };
    let mut counted = Scan::stream(scan.columns(), counting, Counting::batch).map_err(at(path))?;
    let groups = counted.keys.keys.len();
    counted.groups.resize_with(groups, Group::default);

    // Each percentile's window and its rank in there, narrowed down until the window holds a
    // single value.
    let mut places: HashMap<(usize, Duration, u64), (Window, u64)> = HashMap::new();
    for (i, g) in counted.groups.iter().enumerate() {
        for (d, percent) in PERCENTILES {
            let h = g.histogram(d);
            if let Some(place) = find_rank(&sorted(&h.windows), percentile_rank(h.count, percent)) {
                places.insert((i, d, percent), place);
            }
        }
    }
    loop {
        let mut windows = vec![Vec::new(); groups];
        for (&(i, d, _), &(w, _)) in &places {
            if w.width > 1 && !windows[i].contains(&(d, w)) {
                windows[i].push((d, w));
            }
        }
        if windows.iter().all(|w| w.is_empty()) {
            break;
        }
        let refining = Refining {
            keys: counted.keys.clone(),
            windows,
            parts: HashMap::new(),
        };
        let frame = scan.columns().select(
            [col("startup"), col("latency")]
                .into_iter()
                .chain(by.map(|_| col(KEY)))
                .collect::<Vec<_>>(),
        );
        let parts = Scan::stream(frame, refining, Refining::batch)
            .map_err(at(path))?
            .parts;
        for (&(i, d, _), place) in places.iter_mut() {
            let (w, rank) = *place;
            if w.width > 1 {
                let parts = parts.get(&(i, d, w)).map(sorted).unwrap_or_default();
                let Some((part, rank)) = find_rank(&parts, rank) else {
                    return Err(format!(
                        "{}: the file changed while it was read",
                        path.display()
                    ));
                };
                *place = (w.sub(part), rank);
            }
        }
    }
    let percentile_ms = |i: usize, d: Duration, percent: u64| {
        places
            .get(&(i, d, percent))
            .map_or(0.0, |(w, _)| w.lo as f64 / 1000.0)
    };

    let f = |x: f64| format!("{x}");
    let mut order: Vec<(&GroupKey, usize)> = counted.keys.keys.iter().zip(0..).collect();
    order.sort_unstable();
    let rows = order
        .into_iter()
        .map(|(key, i)| {
            let g = &counted.groups[i];
            let mut row = if by.is_some() {
                vec![key.cell()]
            } else {
                Vec::new()
            };
            let cold_pct = if g.started == 0 {
                0.0
            } else {
                g.cold as f64 / g.started as f64 * 100.0
            };
            row.extend([
                g.invocations.to_string(),
                g.completed.to_string(),
                g.dropped.to_string(),
                g.failed.to_string(),
                g.cold.to_string(),
                f(cold_pct),
                f(g.latency.mean_ms()),
                f(percentile_ms(i, Duration::Latency, 50)),
                f(percentile_ms(i, Duration::Latency, 99)),
                f(g.startup.mean_ms()),
                f(percentile_ms(i, Duration::Startup, 99)),
                f(mean_ms(g.exec_sum, g.exec_count)),
            ]);
            row
        })
        .collect();
    let columns = by
        .iter()
        .copied()
        .chain(AGGREGATE_COLUMNS)
        .map(String::from)
        .collect();
    Ok(Table { columns, rows })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use sim::WorkerSpec;
    use sim::record::{Phases, Record, RecordSink, RunInfo};

    use super::*;
    use crate::CsvRecords;
    use crate::fixture;

    /// The nearest-rank percentile of the values of a histogram sorted by value, as
    /// [`aggregate_records`] finds it once it has narrowed a window down. `None` without values.
    fn nearest_rank(histogram: &[(i64, u64)], percent: u64) -> Option<i64> {
        let n = histogram.iter().map(|&(_, c)| c).sum();
        if n == 0 {
            return None;
        }
        find_rank(histogram, percentile_rank(n, percent)).map(|(v, _)| v)
    }

    /// A directory of its own for one test, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("lambdasim-frames-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self, file: &str) -> PathBuf {
            self.0.join(file)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    // --- results -------------------------------------------------------------------------------

    /// A cell as the sweep quotes it.
    fn cell(text: &str) -> String {
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    }

    /// Results CSV as the sweep writes it: awkward axis values and floats printed by Rust.
    fn results_csv() -> String {
        let f = |x: f64| format!("{x}");
        let mut csv = "run,seed,policies.keep_alive,cluster.memory_mb,invocations,completed,\
                       cold_start_ratio,latency_mean_ms,wasted_gb_s,sandboxes_created,\
                       install_hit_ratio\n"
            .to_string();
        let rows = [
            [
                "0".to_string(),
                u64::MAX.to_string(),
                "ttl(idle=10m)".to_string(),
                "1024".to_string(),
                "10".to_string(),
                "9".to_string(),
                f(0.1),
                f(1e-7),
                f(12.0),
                "3".to_string(),
                f(f64::NAN),
            ],
            [
                "1".to_string(),
                "7".to_string(),
                "lru(a=\"x, y\")".to_string(),
                "0001024".to_string(),
                "0".to_string(),
                "0".to_string(),
                f(1.0 / 3.0),
                f(123456.789),
                f(-2.5e300),
                "18446744073709551615".to_string(),
                f(f64::INFINITY),
            ],
        ];
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        csv
    }

    #[test]
    fn results_survive_a_parquet_round_trip() {
        let dir = TempDir::new("round-trip");
        let results = Results::parse(&results_csv(), "results.csv").unwrap();
        assert_eq!(results.rows[1][2], "lru(a=\"x, y\")");
        assert_eq!(results.rows[0][7], "0.0000001");
        let path = dir.path("results.parquet");
        write_results_parquet(&results, &path).unwrap();
        assert_eq!(read_results_parquet(&path).unwrap(), results);

        // The stored types.
        let frame = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        let types: Vec<(String, DataType)> = frame
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.dtype().clone()))
            .collect();
        let expected = [
            ("run", DataType::UInt64),
            ("seed", DataType::UInt64),
            ("policies.keep_alive", DataType::String),
            ("cluster.memory_mb", DataType::String),
            ("invocations", DataType::UInt64),
            ("completed", DataType::UInt64),
            ("cold_start_ratio", DataType::Float64),
            ("latency_mean_ms", DataType::Float64),
            ("wasted_gb_s", DataType::Float64),
            ("sandboxes_created", DataType::UInt64),
            ("install_hit_ratio", DataType::Float64),
        ]
        .map(|(n, t)| (n.to_string(), t));
        assert_eq!(types, expected);
    }

    #[test]
    fn metric_cells_that_are_not_rust_numbers_are_kept_as_text() {
        let dir = TempDir::new("text-metrics");
        // Rust prints 1e-7 as 0.0000001 and would not write 007; it does print -0.
        let csv = "run,seed,x,invocations,a,b,c,d\n\
                   0,1,\"a,b\",5,1e-7,,007,-0\n\
                   1,2,,6,0.5,n/a,3,3\n";
        let results = Results::parse(csv, "r.csv").unwrap();
        let path = dir.path("r.parquet");
        write_results_parquet(&results, &path).unwrap();
        assert_eq!(read_results_parquet(&path).unwrap(), results);
        let frame = ParquetReader::new(File::open(&path).unwrap())
            .finish()
            .unwrap();
        for c in ["x", "a", "b", "c"] {
            assert_eq!(frame.column(c).unwrap().dtype(), &DataType::String, "{c}");
        }
        assert_eq!(frame.column("d").unwrap().dtype(), &DataType::Float64);
    }

    #[test]
    fn results_without_the_sweep_columns_are_errors() {
        let dir = TempDir::new("bad-results");
        let path = dir.path("r.parquet");
        let mut frame = DataFrame::new(
            1,
            vec![
                Column::new("run".into(), [0u64]),
                Column::new("seed".into(), [1u64]),
            ],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut frame)
            .unwrap();
        let e = read_results_parquet(&path).unwrap_err();
        assert!(
            e.contains("r.parquet") && e.contains("no invocations column"),
            "{e}"
        );

        let missing = dir.path("missing.parquet");
        let e = read_results_parquet(&missing).unwrap_err();
        assert!(e.contains("missing.parquet"), "{e}");

        let results = Results {
            columns: vec!["run".into(), "invocations".into()],
            rows: vec![],
            axes: vec![],
        };
        let e = write_results_parquet(&results, &path).unwrap_err();
        assert!(
            e.contains("r.parquet") && e.contains("no seed column"),
            "{e}"
        );

        let results = Results::parse("run,seed,invocations\nx,1,2\n", "r.csv").unwrap();
        let e = write_results_parquet(&results, &path).unwrap_err();
        assert!(e.contains("run \"x\""), "{e}");
    }

    // --- records -------------------------------------------------------------------------------

    /// A small deterministic generator, so that the tests need no crate for randomness.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// A made-up record: every start kind and outcome on three workers, with repeated values so
    /// that the histograms have counts above one.
    fn made_up(rng: &mut Lcg, id: u64) -> Record {
        let ms = fixture::MS;
        let function = rng.below(3) as u32;
        let worker = rng.below(3) as u32;
        let arrival = id * 10 * ms + rng.below(1000);
        let outcome = match rng.below(10) {
            0 => Outcome::Dropped(DropReason::NoMemory),
            1 => Outcome::Failed(FailReason::OutOfMemory),
            _ => Outcome::Ok,
        };
        let (kind, phases) = if matches!(outcome, Outcome::Dropped(_)) {
            (None, Phases::default())
        } else {
            let kind = StartKind::ALL[rng.below(5) as usize];
            let phases = Phases {
                queue: rng.below(3) * ms,
                create: if kind.is_cold() {
                    rng.below(4) * 25 * ms
                } else {
                    0
                },
                install: 0,
                import: rng.below(2) * 7 * ms,
                init: rng.below(5) * 100,
                exec: rng.below(50) * ms + rng.below(3),
            };
            (Some(kind), phases)
        };
        fixture::record(id, function, worker, arrival, kind, phases, outcome)
    }

    /// The fixture's seven records, then `extra` made-up ones.
    fn records(extra: u64) -> Vec<Record> {
        let mut rng = Lcg(42);
        let mut records = fixture::records();
        records.extend((7..7 + extra).map(|id| made_up(&mut rng, id)));
        records
    }

    fn csv_sink(path: &Path) -> CsvRecords<File> {
        let mut sink = CsvRecords::new(File::create(path).unwrap());
        sink.begin(&RunInfo {
            catalog: &fixture::catalog(),
            workers: &[WorkerSpec {
                memory_mb: 1024,
                cores: 1,
            }; 3],
        });
        sink
    }

    fn write_records(path: &Path, records: &[Record]) {
        let mut sink = csv_sink(path);
        for r in records {
            sink.invocation(r);
        }
        sink.finish().unwrap();
    }

    /// The textbook nearest-rank percentile of unsorted values: index `ceil(p · n) - 1` of the
    /// sorted values, computed in floating point.
    fn brute_percentile(values: &[i64], p: f64) -> i64 {
        if values.is_empty() {
            return 0;
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = ((p * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    /// The aggregation computed in plain Rust over the rows of a records CSV, read with the
    /// `csv` crate, independently of polars.
    fn brute_force(path: &Path, by: Option<&str>) -> Table {
        let mut reader = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let mut groups: BTreeMap<(u64, String), Vec<&csv::StringRecord>> = BTreeMap::new();
        for row in &rows {
            let key = match by {
                None => (0, String::new()),
                Some("worker") => (row[at("worker")].parse().unwrap(), String::new()),
                Some(by) => (0, row[at(by)].to_string()),
            };
            groups.entry(key).or_default().push(row);
        }
        if by.is_none() {
            groups.entry((0, String::new())).or_default();
        }
        let num = |row: &csv::StringRecord, c: &str| row[at(c)].parse::<i64>().unwrap();
        let mean = |v: &[i64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().map(|&x| i128::from(x)).sum::<i128>() as f64 / v.len() as f64 / 1000.0
            }
        };
        let f = |x: f64| format!("{x}");
        let mut table = Table {
            columns: by
                .iter()
                .copied()
                .chain(AGGREGATE_COLUMNS)
                .map(String::from)
                .collect(),
            rows: Vec::new(),
        };
        for ((worker, text), rows) in groups {
            let outcome = |o: &str| rows.iter().filter(|r| &r[at("outcome")] == o).count();
            let completed: Vec<_> = rows.iter().filter(|r| &r[at("outcome")] == "ok").collect();
            let started: Vec<_> = rows
                .iter()
                .filter(|r| !r[at("start_kind")].is_empty())
                .collect();
            let cold = started
                .iter()
                .filter(|r| ["cold", "zygote-fork"].contains(&&r[at("start_kind")]))
                .count();
            let latency: Vec<i64> = completed
                .iter()
                .map(|r| num(r, "end_us") - num(r, "arrival_us"))
                .collect();
            let startup: Vec<i64> = started
                .iter()
                .map(|r| num(r, "start_us") - num(r, "arrival_us"))
                .collect();
            let exec: Vec<i64> = completed.iter().map(|r| num(r, "exec_us")).collect();
            let mut row = match by {
                None => vec![],
                Some("worker") => vec![worker.to_string()],
                Some(_) => vec![text],
            };
            row.extend([
                rows.len().to_string(),
                completed.len().to_string(),
                outcome("dropped").to_string(),
                outcome("failed").to_string(),
                cold.to_string(),
                f(if started.is_empty() {
                    0.0
                } else {
                    cold as f64 / started.len() as f64 * 100.0
                }),
                f(mean(&latency)),
                f(brute_percentile(&latency, 0.5) as f64 / 1000.0),
                f(brute_percentile(&latency, 0.99) as f64 / 1000.0),
                f(mean(&startup)),
                f(brute_percentile(&startup, 0.99) as f64 / 1000.0),
                f(mean(&exec)),
            ]);
            table.rows.push(row);
        }
        table
    }

    #[test]
    fn the_fixture_aggregates_to_its_worked_out_numbers() {
        let dir = TempDir::new("fixture");
        let path = dir.path("records.csv");
        let mut sink = CsvRecords::new(File::create(&path).unwrap());
        fixture::run(&mut sink);
        sink.finish().unwrap();
        // Completed: 0 (700 ms), 1 (301), 2 (100), 5 (100); started: all but 3 and 4, with
        // startups 200, 1, 10, 60, 5; cold: 0 and 5 of 5 started; exec 500, 300, 90, 40.
        let table = aggregate_records(&path, None).unwrap();
        assert_eq!(
            table.to_csv(),
            "invocations,completed,dropped,failed,cold_starts,cold_start_pct,latency_mean_ms,\
             latency_p50_ms,latency_p99_ms,startup_mean_ms,startup_p99_ms,exec_mean_ms\n\
             7,4,2,1,2,40,300.25,100,700,55.2,200,232.5\n"
        );
        let table = aggregate_records(&path, Some("app")).unwrap();
        assert_eq!(table.rows[0][0], "blog");
        assert_eq!(table.rows[1][0], "shop, inc");
        assert!(
            table.to_csv().contains("\n\"shop, inc\",4,3,0,1,"),
            "{}",
            table.to_csv()
        );
    }

    #[test]
    fn aggregation_matches_plain_rust_over_the_rows() {
        let dir = TempDir::new("brute");
        let path = dir.path("records.csv");
        write_records(&path, &records(3000));
        for by in [
            None,
            Some("function"),
            Some("start_kind"),
            Some("worker"),
            Some("outcome"),
        ] {
            let table = aggregate_records(&path, by).unwrap();
            assert_eq!(table, brute_force(&path, by), "by {by:?}");
        }
        let by_kind = aggregate_records(&path, Some("start_kind")).unwrap();
        let kinds: Vec<&str> = by_kind.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(
            kinds,
            ["", "cold", "prewarmed", "unpause", "warm", "zygote-fork"]
        );
    }

    #[test]
    fn workers_sort_by_number() {
        let dir = TempDir::new("workers");
        let path = dir.path("records.csv");
        let mut records = fixture::records();
        for (r, worker) in records.iter_mut().zip([10, 9, 2, 10, 9, 100, 2]) {
            r.worker = sim::WorkerId(worker);
        }
        write_records(&path, &records);
        let table = aggregate_records(&path, Some("worker")).unwrap();
        let workers: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(workers, ["2", "9", "10", "100"]);
        assert_eq!(table, brute_force(&path, Some("worker")));
    }

    #[test]
    fn parquet_records_aggregate_like_csv() {
        let dir = TempDir::new("parquet");
        let csv_path = dir.path("records.csv");
        write_records(&csv_path, &records(500));
        // Types as polars infers them from the CSV: integers as Int64, names as String.
        let mut frame = LazyCsvReader::new(PlRefPath::try_from_path(&csv_path).unwrap())
            .finish()
            .unwrap()
            .collect()
            .unwrap();
        let parquet_path = dir.path("records.parquet");
        ParquetWriter::new(File::create(&parquet_path).unwrap())
            .finish(&mut frame)
            .unwrap();
        for by in [None, Some("function"), Some("start_kind"), Some("worker")] {
            assert_eq!(
                aggregate_records(&parquet_path, by).unwrap(),
                aggregate_records(&csv_path, by).unwrap(),
                "by {by:?}"
            );
        }
    }

    #[test]
    fn an_empty_records_file_has_one_row_of_zeros() {
        let dir = TempDir::new("empty");
        let path = dir.path("records.csv");
        write_records(&path, &[]);
        let table = aggregate_records(&path, None).unwrap();
        assert_eq!(table.rows, [vec!["0".to_string(); 12]]);
        assert!(
            aggregate_records(&path, Some("app"))
                .unwrap()
                .rows
                .is_empty()
        );
    }

    #[test]
    fn bad_names_and_files_are_errors() {
        let dir = TempDir::new("errors");
        let path = dir.path("records.csv");
        write_records(&path, &fixture::records());
        let e = aggregate_records(&path, Some("region")).unwrap_err();
        assert!(
            e.contains("\"region\"") && e.contains("function, app, worker, start_kind, outcome"),
            "{e}"
        );

        let missing = dir.path("nope.csv");
        let e = aggregate_records(&missing, None).unwrap_err();
        assert!(e.contains("nope.csv"), "{e}");
        let e = aggregate_records(&dir.path("nope.parquet"), None).unwrap_err();
        assert!(e.contains("nope.parquet"), "{e}");

        let partial = dir.path("partial.csv");
        std::fs::write(&partial, "id,function,arrival_us\n0,f,1\n").unwrap();
        let e = aggregate_records(&partial, None).unwrap_err();
        assert!(
            e.contains("partial.csv") && e.contains("no start_us column"),
            "{e}"
        );

        let no_app = dir.path("no-app.csv");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(",app,", ",application,");
        std::fs::write(&no_app, text).unwrap();
        assert!(aggregate_records(&no_app, None).is_ok());
        let e = aggregate_records(&no_app, Some("app")).unwrap_err();
        assert!(
            e.contains("no-app.csv") && e.contains("no app column"),
            "{e}"
        );

        let garbage = dir.path("garbage.csv");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(",200000,", ",soon,");
        std::fs::write(&garbage, text).unwrap();
        let e = aggregate_records(&garbage, None).unwrap_err();
        assert!(e.contains("garbage.csv"), "{e}");
    }

    #[test]
    fn nearest_rank_is_polars_equiprobable_and_the_textbook_definition() {
        let mut rng = Lcg(7);
        for n in 1..=300u64 {
            let values: Vec<i64> = (0..n).map(|_| rng.below(40) as i64).collect();
            let mut histogram: BTreeMap<i64, u64> = BTreeMap::new();
            for &v in &values {
                *histogram.entry(v).or_default() += 1;
            }
            let histogram: Vec<(i64, u64)> = histogram.into_iter().collect();
            let series = Int64Chunked::from_vec("v".into(), values.clone());
            for percent in [1, 25, 50, 90, 99, 100] {
                let p = percent as f64 / 100.0;
                let ours = nearest_rank(&histogram, percent).unwrap();
                assert_eq!(ours, brute_percentile(&values, p), "n {n} p {p}");
                let polars = series.quantile(p, QuantileMethod::Equiprobable).unwrap();
                assert_eq!(polars, Some(ours as f64), "n {n} p {p}");
            }
        }
        assert_eq!(nearest_rank(&[], 50), None);
        // polars' default method is not nearest-rank: for 1, 2, 3, 4 it gives the median 3.
        let series = Int64Chunked::from_vec("v".into(), vec![1, 2, 3, 4]);
        assert_eq!(
            series.quantile(0.5, QuantileMethod::Nearest).unwrap(),
            Some(3.0)
        );
        assert_eq!(nearest_rank(&[(1, 1), (2, 1), (3, 1), (4, 1)], 50), Some(2));
    }

    #[test]
    fn windows_partition_the_durations_in_order() {
        let w = |lo: i128, width: u128| Window { lo, width };
        for v in [0, 1, 1023] {
            assert_eq!(Window::of(v), w(v.into(), 1));
        }
        assert_eq!(Window::of(1024), w(1024, 2));
        assert_eq!(Window::of(1025), w(1024, 2));
        assert_eq!(Window::of(2047), w(2046, 2));
        assert_eq!(Window::of(-1), w(-1, 1));
        assert_eq!(Window::of(-1024), w(-1025, 2));
        assert_eq!(Window::of(-1025), w(-1025, 2));
        assert_eq!(
            Window::of(i64::MIN),
            w(i128::from(i64::MIN) - (1 << 54) + 1, 1 << 54)
        );
        assert_eq!(
            Window::of(i64::MAX),
            w(i128::from(i64::MAX) + 1 - (1 << 53), 1 << 53)
        );
        // Over random durations of every magnitude and both signs, in order: each is in its
        // window, which spans less than 1/512 of it, and windows do not overlap. Splitting a
        // window gives at most 4096 parts, each in the window, in order.
        let mut rng = Lcg(3);
        let mut values: Vec<i64> = (0..20_000)
            .map(|i| {
                let v = (rng.below(1 << 62) >> rng.below(62)) as i64;
                if i % 7 == 0 { -v } else { v }
            })
            .collect();
        values.extend([i64::MIN, i64::MAX, -1, 0, 1]);
        values.sort_unstable();
        let mut previous: Option<Window> = None;
        for v in values {
            let w = Window::of(v);
            assert!(w.contains(v), "{v} {w:?}");
            assert!(
                w.width == 1 || w.width * 512 <= i128::from(v).unsigned_abs(),
                "{v} {w:?}"
            );
            if let Some(p) = previous {
                assert!(
                    p == w || p.lo + p.width as i128 <= w.lo,
                    "{v} {w:?} after {p:?}"
                );
            }
            previous = Some(w);
            let part = w.part(v);
            assert!(part < 4096, "{v} {w:?}");
            let sub = w.sub(part);
            assert!(sub.contains(v) && sub.lo >= w.lo, "{v} {w:?} {sub:?}");
            assert!(
                sub.lo + sub.width as i128 <= w.lo + w.width as i128,
                "{v} {w:?} {sub:?}"
            );
        }
    }

    /// Records of one function with the given latencies (startup 0, execution the latency).
    fn with_latencies(path: &Path, latencies: &[u64]) {
        let records: Vec<Record> = latencies
            .iter()
            .zip(0..)
            .map(|(&l, id)| {
                let phases = Phases {
                    exec: l,
                    ..Phases::default()
                };
                let kind = Some(StartKind::Warm);
                fixture::record(id, 0, 0, id * 1_000_000, kind, phases, Outcome::Ok)
            })
            .collect();
        write_records(path, &records);
    }

    #[test]
    fn percentiles_in_wide_windows_are_narrowed_down_to_the_exact_value() {
        let dir = TempDir::new("narrow");
        let path = dir.path("records.csv");
        let mut rng = Lcg(11);
        // Around 2^31 µs (36 minutes) a window spans 2^22 µs: two refining passes.
        let latencies: Vec<u64> = (0..2000)
            .map(|_| (1 << 31) + rng.below(1 << 24) * rng.below(2))
            .collect();
        with_latencies(&path, &latencies);
        let table = aggregate_records(&path, None).unwrap();
        assert_eq!(table, brute_force(&path, None));
        let mut sorted = latencies.clone();
        sorted.sort_unstable();
        assert_eq!(
            table.rows[0][8],
            format!("{}", sorted[1979] as f64 / 1000.0)
        );
        assert!(Window::of(sorted[1979] as i64).width > 1 << 12);
    }

    #[test]
    fn negative_durations_are_counted_too() {
        // A clock that went backwards: end before arrival.
        let dir = TempDir::new("negative");
        let path = dir.path("records.csv");
        let mut text = RECORDS_HEADER.join(",") + "\n";
        for (i, end) in [5_000_000i64, 1_000, -3_000_000, -3_000_001, -77, 0]
            .iter()
            .enumerate()
        {
            text += &format!("{i},f,a,0,10,10,{},warm,0,0,0,0,0,{},ok,\n", 10 + end, end);
        }
        std::fs::write(&path, text).unwrap();
        let table = aggregate_records(&path, None).unwrap();
        assert_eq!(table, brute_force(&path, None));
        assert_eq!(table.rows[0][7], "-0.077");
    }

    #[test]
    fn percentiles_inside_wide_buckets_are_exact() {
        // Latencies of 6000 to 6198 µs (13 bits, 3 dropped) fall into buckets 8 µs wide: the
        // second pass must find the exact values.
        let dir = TempDir::new("wide");
        let path = dir.path("records.csv");
        let mut records = Vec::new();
        for k in 0..100u64 {
            let phases = Phases {
                exec: 5_000 + (k * 37) % 100,
                init: 1_000 + k,
                ..Phases::default()
            };
            let kind = Some(StartKind::Warm);
            records.push(fixture::record(
                k,
                (k % 3) as u32,
                0,
                k * 1_000_000,
                kind,
                phases,
                Outcome::Ok,
            ));
        }
        write_records(&path, &records);
        for by in [None, Some("function")] {
            let table = aggregate_records(&path, by).unwrap();
            assert_eq!(table, brute_force(&path, by), "by {by:?}");
        }
        let table = aggregate_records(&path, None).unwrap();
        // Latency = init + exec = 6000 + k + (37 k mod 100): p50 and p99 by brute force.
        let mut latencies: Vec<u64> = (0..100).map(|k| 6_000 + k + (k * 37) % 100).collect();
        latencies.sort_unstable();
        assert_eq!(
            table.rows[0][7],
            format!("{}", latencies[49] as f64 / 1000.0)
        );
        assert_eq!(
            table.rows[0][8],
            format!("{}", latencies[98] as f64 / 1000.0)
        );
        assert!(Window::of(latencies[49] as i64).width > 1);
    }
}
