//! Reader of the Azure Functions 2019 trace (Shahrad et al., "Serverless in the Wild", USENIX
//! ATC'20): per-minute invocation counts per function, execution-time statistics per function and
//! allocated-memory statistics per app, one set of files per day.
//!
//! Dataset: <https://github.com/Azure/AzurePublicDataset/blob/master/AzureFunctionsDataset2019.md>
//! (data licensed CC-BY 4.0). Two directory layouts are read, told apart by their file names:
//!
//! - **Original** (AzurePublicDataset), one day `NN` per file set:
//!   - `invocations_per_function_md.anon.dNN.csv`: `HashOwner,HashApp,HashFunction,Trigger,1,
//!     ...,1440`, one row per function, the invocations in each minute of the day;
//!   - `function_durations_percentiles.anon.dNN.csv`: `HashOwner,HashApp,HashFunction,Average,
//!     Count,Minimum,Maximum,percentile_Average_{0,1,25,50,75,99,100}`, in milliseconds;
//!   - `app_memory_percentiles.anon.dNN.csv`: `HashOwner,HashApp,SampleCount,AverageAllocatedMb,
//!     AverageAllocatedMb_pct{1,5,25,50,75,95,99,100}`, per app (days 13 and 14 have none).
//!
//!   `days` picks the days (default: the lowest day with an invocation file). Minute `k` of the
//!   `d`-th selected day (counting from 0) is minute `d * 1440 + k - 1` of the replayed trace,
//!   which ends with the last minute column of its last day.
//! - **In-Vitro samples** (<https://github.com/vhive-serverless/invitro>): `<N>_inv.csv`,
//!   `<N>_run.csv` and `<N>_mem.csv`, or `invocations.csv`, `durations.csv` and `memory.csv`. One
//!   day; hash columns in another order, minute columns named `minute_1..minute_1440`, no
//!   `Trigger`, `Count` before `Average`, and memory rows that may be per function (a memory file
//!   with a `HashFunction` column is keyed by function, otherwise by app).
//!
//! Columns are always found by header name. Minute columns are `1..M` or `minute_1..minute_M` for
//! any `M` up to 1440 (small hand-made files may have fewer minutes), in any order; a column named
//! with digits or `minute_` that is not a minute from 1 to 1440 (`0`, `1441`, `minute_99999999`,
//! `minute_x`), a repeated minute and a skipped one are errors naming the column or the minute.
//!
//! Cleaning follows In-Vitro and FaasCache, and every function or row left out is counted in
//! [`LoadReport::dropped`] under its reason:
//!
//! - functions are keyed by (owner, app, function); a key seen twice in one file keeps its first
//!   well-formed row, as pandas' `index.duplicated()` does in In-Vitro and FaasCache
//!   (`duplicate row in invocations file`, `... durations file`, `... memory file`);
//! - a function needs an invocation row and a duration row (`no duration row`); a duration row
//!   whose `Average` is not positive does not count (`zero average duration`); duration rows of
//!   functions without invocation rows are left out (`duration row without invocations`);
//! - with `triggers` set, functions with another trigger are left out (`trigger filtered`);
//! - when some selected day has a memory file, functions whose app (or, for per-function memory
//!   rows, the function itself) has no row in any of them are left out (`no memory row`); when no
//!   selected day has one, every app's memory is drawn from `memory_fallback` and a note says so;
//!   the column is the one `memory_percentile` names, and `app_memory` divides an app's memory
//!   among its functions or gives each all of it (per-function rows give each function its own,
//!   and the app the largest);
//! - over several days, a function's duration and memory come from the first selected day that
//!   gives them, its invocations from every selected day;
//! - malformed rows stop the load with an error naming file, line, column and value, or, with
//!   `skip_bad_rows`, are counted and skipped whole. A duration row whose `Minimum` is larger than
//!   its `Maximum`, or whose `percentile_Average_*` decrease, is malformed (the duration models
//!   rely on that order), and so is a memory row whose `AverageAllocatedMb_pct*` columns decrease;
//!   the error names the two columns.
//!
//! Functions without invocations inside the window stay in the catalog. [`Trace::counts`] counts
//! every minute that overlaps the window in full, also a minute only partly inside it; the
//! invocation stream keeps only the arrivals inside the window.
//!
//! Opening reads every selected day's files once. The invocation stream reads the invocation files
//! again, one day at a time, keeping only that day's non-zero cells of the requested functions, so
//! memory stays proportional to the functions plus one day's cells however many days are replayed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use rand::RngExt;
use rand_distr::{Distribution, Poisson, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::csv_util::{csv_error, io_error, regular_file, row_error, show};
use crate::synthetic::stream;
use crate::time::{Duration, MICROS_PER_MIN};
use crate::trace::{
    CountReplay, DurationModel, DurationStats, LoadReport, MemoryPercentile, MinuteCounts, Names,
    StreamRequest, Trace, TraceFormat, TraceSource, TraceSpec, Window, assign_memory, derive,
    out_of_order,
};
use crate::{App, AppId, Catalog, Function, FunctionId, InvocationStream, WorkloadError};

/// Minutes in one day of the trace.
pub const MINUTES_PER_DAY: u64 = 1440;

/// File name prefixes of the original layout; the day number and `.csv` follow.
pub const INVOCATIONS_PREFIX: &str = "invocations_per_function_md.anon.d";
pub const DURATIONS_PREFIX: &str = "function_durations_percentiles.anon.d";
pub const MEMORY_PREFIX: &str = "app_memory_percentiles.anon.d";

const LOOKED_FOR: &str = "looked for the original layout's \
    invocations_per_function_md.anon.dNN.csv, function_durations_percentiles.anon.dNN.csv and \
    app_memory_percentiles.anon.dNN.csv, or In-Vitro's <N>_inv.csv, <N>_run.csv and <N>_mem.csv \
    (or invocations.csv, durations.csv and memory.csv)";

const DUPLICATE_INVOCATIONS: &str = "duplicate row in invocations file";
const DUPLICATE_DURATIONS: &str = "duplicate row in durations file";
const DUPLICATE_MEMORY: &str = "duplicate row in memory file";
const NO_DURATION: &str = "no duration row";
const ZERO_AVERAGE: &str = "zero average duration";
const ORPHAN_DURATION: &str = "duration row without invocations";
const NO_MEMORY: &str = "no memory row";
const TRIGGER_FILTERED: &str = "trigger filtered";

/// Stream of the fallback memory draw, apart from every other use of the seed.
const STREAM_FALLBACK_MEMORY: u64 = 201;

/// Separates the parts of a key; hashes never contain it.
const KEY_SEPARATOR: char = '\u{1f}';

/// Longest line read; a real row is a few kB.
const MAX_LINE: u64 = 1 << 24;

/// Opens an Azure 2019 trace directory: reads every selected day's files once, cleans them, builds
/// the catalog and counts each function's invocations inside the window. The invocation stream
/// reads the invocation files again lazily.
pub fn open(spec: &TraceSpec, seed: u64) -> Result<Trace, WorkloadError> {
    spec.validate(TraceFormat::Azure2019)?;
    let located = locate(spec)?;
    let layout = located.layout;
    if layout == Layout::InVitro && !spec.triggers.is_empty() {
        return Err(WorkloadError::Parameter(format!(
            "triggers apply to the original layout of the Azure 2019 trace only; the In-Vitro \
             sample in {} has no Trigger column",
            show(&spec.path)
        )));
    }
    let window = spec.window();
    let skip = spec.skip_bad_rows;
    let need_trigger = !spec.triggers.is_empty();
    let mut report = LoadReport::default();
    let mut scan = Scan::default();

    let mut days = Vec::with_capacity(located.days.len());
    let mut trace_minutes = 0;
    for (stamp, day) in (1..).zip(&located.days) {
        let columns =
            scan.read_invocations(day, stamp, layout, need_trigger, window, skip, &mut report)?;
        report.files.push(day.invocations.clone());
        trace_minutes = trace_minutes.max(day.offset + columns.minutes as u64);
        days.push(SourceDay {
            path: day.invocations.clone(),
            offset: day.offset,
            layout,
            need_trigger,
            columns,
        });
    }

    if located.days.iter().all(|d| d.durations.is_none()) {
        let first = &located.days[0];
        return Err(WorkloadError::File {
            path: show(&first.expected_durations),
            message: "not found; the functions' execution times come from this file".into(),
        });
    }
    for (stamp, day) in (1..).zip(&located.days) {
        match &day.durations {
            Some(path) => {
                scan.read_durations(path, layout, stamp, skip, &mut report)?;
                report.files.push(path.clone());
            }
            None => report.notes.push(format!(
                "{} not found: the functions of day {} take their execution times from the \
                 other selected days",
                show(&day.expected_durations),
                day.label
            )),
        }
    }

    let any_memory = located.days.iter().any(|d| d.memory.is_some());
    let memory_column = spec.memory_percentile.column();
    for (stamp, day) in (1..).zip(&located.days) {
        match &day.memory {
            Some(path) => {
                scan.read_memory(path, layout, &memory_column, stamp, skip, &mut report)?;
                report.files.push(path.clone());
            }
            None if any_memory => report.notes.push(format!(
                "{} not found: the apps of day {} take their memory from the other selected days",
                show(&day.expected_memory),
                day.label
            )),
            None => {}
        }
    }

    let built = scan.build(spec, any_memory, &mut report);
    let Built {
        mut catalog,
        counts,
        durations,
        keys,
        catalog_ids,
        app_memory,
        function_memory,
    } = built;
    if catalog.functions.is_empty() {
        let dropped: Vec<String> = report
            .dropped
            .iter()
            .map(|(reason, n)| format!("{reason}: {n}"))
            .collect();
        return Err(WorkloadError::File {
            path: show(&spec.path),
            message: format!(
                "no function is left after cleaning (left out: {}; malformed rows skipped: {})",
                if dropped.is_empty() {
                    "none".to_string()
                } else {
                    dropped.join(", ")
                },
                report.bad_rows
            ),
        });
    }

    let app_memory_mb = if any_memory {
        app_memory
    } else {
        let drawn = spec
            .memory_fallback
            .draw(catalog.apps.len(), derive(seed, STREAM_FALLBACK_MEMORY));
        report.notes.push(format!(
            "no memory file for the selected days ({} not found): the memory of {} apps is drawn \
             from memory_fallback",
            located
                .days
                .iter()
                .map(|d| show(&d.expected_memory))
                .collect::<Vec<_>>()
                .join(", "),
            catalog.apps.len()
        ));
        drawn
    };
    assign_memory(&mut catalog, &app_memory_mb, spec.app_memory);
    let mut per_function = false;
    for (function, memory) in catalog.functions.iter_mut().zip(&function_memory) {
        if let Some(mb) = *memory {
            function.memory_mb = mb;
            per_function = true;
        }
    }
    if per_function {
        report.notes.push(
            "memory rows are per function: each function has its own memory, and an app's is the \
             largest of its functions'"
                .into(),
        );
    }

    let trace_end = trace_minutes.saturating_mul(MICROS_PER_MIN);
    if window.start >= trace_end {
        return Err(WorkloadError::Parameter(format!(
            "start {} is at or after the end of the trace, which is {} long",
            Duration(window.start),
            Duration(trace_end)
        )));
    }
    let span = window.end.min(trace_end) - window.start;
    let functions = catalog.functions.len();
    Ok(Trace {
        format: TraceFormat::Azure2019,
        catalog,
        counts,
        app_memory_mb,
        span,
        report,
        source: Box::new(Source {
            days,
            keys,
            catalog_ids,
            functions,
            durations,
            arrivals: spec.arrivals,
        }),
    })
}

/// Writes one synthetic day in the original layout into `dir` (created if missing): the
/// invocation, duration and memory files of day `day`, for `functions` functions in apps of one to
/// five functions. Popularity is heavy-tailed (most functions are invoked a few times a day, a few
/// thousands of times a minute, timers fire on their period), triggers follow the trace's mix,
/// execution times and memory are log-normal around the trace's medians. The functions depend on
/// `seed` only, the counts on `seed` and `day`, so days written with one seed form one trace.
/// Returns the size of the invocation file in bytes.
pub fn write_day(dir: &Path, day: u32, functions: usize, seed: u64) -> Result<u64, WorkloadError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let population = Population::draw(functions, seed);
    let path = dir.join(format!("{INVOCATIONS_PREFIX}{day:02}.csv"));
    let (bytes, totals) = population.write_invocations(&path, day, seed)?;
    population.write_durations(
        &dir.join(format!("{DURATIONS_PREFIX}{day:02}.csv")),
        &totals,
        seed,
    )?;
    population.write_memory(&dir.join(format!("{MEMORY_PREFIX}{day:02}.csv")))?;
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// Finding the files.

/// Which set of file names a directory uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Original,
    InVitro,
}

impl Layout {
    fn invocations_header(self) -> &'static str {
        match self {
            Layout::Original => "HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440",
            Layout::InVitro => "HashFunction,HashApp,HashOwner,minute_1,minute_2,...,minute_1440",
        }
    }

    fn durations_header(self) -> &'static str {
        match self {
            Layout::Original => {
                "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,\
                 percentile_Average_1,percentile_Average_25,percentile_Average_50,\
                 percentile_Average_75,percentile_Average_99,percentile_Average_100"
            }
            Layout::InVitro => {
                "HashFunction,HashApp,HashOwner,Count,Average,Minimum,Maximum,percentile_Average_0,\
                 percentile_Average_1,percentile_Average_25,percentile_Average_50,\
                 percentile_Average_75,percentile_Average_99,percentile_Average_100"
            }
        }
    }

    fn memory_header(self) -> &'static str {
        match self {
            Layout::Original => {
                "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
                 AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
                 AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
                 AverageAllocatedMb_pct100"
            }
            Layout::InVitro => {
                "HashApp,HashOwner,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
                 AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
                 AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
                 AverageAllocatedMb_pct100 (optionally with HashFunction for per-function rows)"
            }
        }
    }
}

/// The files of one selected day.
struct DayFiles {
    /// Day number in the file names (1 for In-Vitro samples), for messages.
    label: u32,
    /// Minute of the trace where this day starts.
    offset: u64,
    invocations: PathBuf,
    durations: Option<PathBuf>,
    memory: Option<PathBuf>,
    /// Where the optional files would be, for messages.
    expected_durations: PathBuf,
    expected_memory: PathBuf,
}

struct Located {
    layout: Layout,
    days: Vec<DayFiles>,
}

/// The day number of `name` if it is `<prefix><digits>.csv`.
fn day_number(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(".csv")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Tells the layout from the directory's file names and picks the selected days' files.
fn locate(spec: &TraceSpec) -> Result<Located, WorkloadError> {
    let dir = &spec.path;
    let entries = fs::read_dir(dir).map_err(|e| WorkloadError::File {
        path: show(dir),
        message: format!("cannot list the trace directory ({e}); {LOOKED_FOR}"),
    })?;
    // Day → file, per kind; the shortest name wins if a day is written both as d1 and d01.
    let mut original: [BTreeMap<u32, PathBuf>; 3] = Default::default();
    // In-Vitro samples by file prefix: "400_" or "" for the unnumbered names.
    let mut samples: BTreeSet<String> = BTreeSet::new();
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        names.insert(name.to_string());
        for (kind, prefix) in [INVOCATIONS_PREFIX, DURATIONS_PREFIX, MEMORY_PREFIX]
            .into_iter()
            .enumerate()
        {
            if let Some(day) = day_number(name, prefix) {
                let path = entry.path();
                original[kind]
                    .entry(day)
                    .and_modify(|p| {
                        if (path.as_os_str().len(), &path) < (p.as_os_str().len(), p) {
                            *p = path.clone();
                        }
                    })
                    .or_insert(path);
            }
        }
        for suffix in ["_inv.csv", "_run.csv", "_mem.csv"] {
            if let Some(n) = name.strip_suffix(suffix)
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
            {
                samples.insert(format!("{n}_"));
            }
        }
        if ["invocations.csv", "durations.csv", "memory.csv"].contains(&name) {
            samples.insert(String::new());
        }
    }
    let sample_file = |prefix: &str| {
        if prefix.is_empty() {
            "invocations.csv".to_string()
        } else {
            format!("{prefix}inv.csv")
        }
    };
    let has_original = original.iter().any(|m| !m.is_empty());
    if has_original && !samples.is_empty() {
        return Err(WorkloadError::File {
            path: show(dir),
            message: format!(
                "holds files of both the original layout and In-Vitro samples ({}); point path at \
                 a directory with one of them",
                samples
                    .iter()
                    .map(|s| sample_file(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if has_original {
        return locate_original(spec, original);
    }
    if samples.len() > 1 {
        return Err(WorkloadError::File {
            path: show(dir),
            message: format!(
                "holds {} In-Vitro samples ({}); point path at a directory with one",
                samples.len(),
                samples
                    .iter()
                    .map(|s| sample_file(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let Some(prefix) = samples.into_iter().next() else {
        let found = if names.is_empty() {
            "it is empty".to_string()
        } else {
            let mut shown: Vec<&str> = names.iter().map(String::as_str).take(10).collect();
            if names.len() > 10 {
                shown.push("...");
            }
            format!("it holds {}", shown.join(", "))
        };
        return Err(WorkloadError::File {
            path: show(dir),
            message: format!("is not an Azure 2019 trace directory: {LOOKED_FOR}, but {found}"),
        });
    };
    if let Some(days) = spec.days {
        return Err(WorkloadError::Parameter(format!(
            "days ({days}) apply to the original layout of the Azure 2019 trace, with one file set \
             per day; {} holds an In-Vitro sample of one day",
            show(dir)
        )));
    }
    let [inv, run, mem] = if prefix.is_empty() {
        ["invocations.csv", "durations.csv", "memory.csv"].map(|n| dir.join(n))
    } else {
        ["inv", "run", "mem"].map(|k| dir.join(format!("{prefix}{k}.csv")))
    };
    if !regular_file(&inv)? {
        return Err(WorkloadError::File {
            path: show(&inv),
            message: "not found; an In-Vitro sample needs its invocation file".into(),
        });
    }
    if !regular_file(&run)? {
        return Err(WorkloadError::File {
            path: show(&run),
            message: "not found; the functions' execution times come from this file".into(),
        });
    }
    let has_memory = regular_file(&mem)?;
    Ok(Located {
        layout: Layout::InVitro,
        days: vec![DayFiles {
            label: 1,
            offset: 0,
            invocations: inv,
            durations: Some(run.clone()),
            memory: has_memory.then(|| mem.clone()),
            expected_durations: run,
            expected_memory: mem,
        }],
    })
}

fn locate_original(
    spec: &TraceSpec,
    mut files: [BTreeMap<u32, PathBuf>; 3],
) -> Result<Located, WorkloadError> {
    let dir = &spec.path;
    let selected: Vec<u32> = match spec.days {
        Some(range) => range.days().collect(),
        None => match files[0].keys().next() {
            Some(&day) => vec![day],
            None => {
                return Err(WorkloadError::File {
                    path: show(dir),
                    message: format!(
                        "has no invocation file {INVOCATIONS_PREFIX}NN.csv (found only {})",
                        files[1..]
                            .iter()
                            .flat_map(|m| m.values())
                            .filter_map(|p| p.file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        },
    };
    let mut days = Vec::with_capacity(selected.len());
    for (index, day) in (0u64..).zip(selected) {
        let expected = |prefix: &str| dir.join(format!("{prefix}{day:02}.csv"));
        let invocations = files[0].remove(&day).ok_or_else(|| WorkloadError::File {
            path: show(&expected(INVOCATIONS_PREFIX)),
            message: format!(
                "not found; every selected day ({}) needs its invocation file",
                spec.days
                    .map_or_else(|| day.to_string(), |range| range.to_string())
            ),
        })?;
        let durations = files[1].remove(&day);
        let memory = files[2].remove(&day);
        // Found by name: each is there, but may be a directory, a device or a broken link.
        for path in [Some(&invocations), durations.as_ref(), memory.as_ref()]
            .into_iter()
            .flatten()
        {
            regular_file(path)?;
        }
        days.push(DayFiles {
            label: day,
            offset: index * MINUTES_PER_DAY,
            invocations,
            durations,
            memory,
            expected_durations: expected(DURATIONS_PREFIX),
            expected_memory: expected(MEMORY_PREFIX),
        });
    }
    Ok(Located {
        layout: Layout::Original,
        days,
    })
}

// ---------------------------------------------------------------------------------------------
// The invocation files: header, lines and the fast row parser.

/// What a column of an invocation file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Minute `k` of the day, counting from 0.
    Minute(u16),
    /// One of [`KEY_COLUMNS`].
    Key(u8),
    Other,
}

/// The key columns of an invocation row, in the order [`parse_row`] returns them.
const KEY_COLUMNS: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];

/// The columns of one invocation file, from its header.
#[derive(Clone, Debug, PartialEq)]
struct InvocationColumns {
    names: Vec<String>,
    roles: Vec<Role>,
    /// Number of minute columns: the day's minutes `0..minutes`.
    minutes: usize,
    /// The field of minute 0 when the minute columns are fields `run_start..run_start + minutes`
    /// in order; `usize::MAX` otherwise.
    run_start: usize,
}

/// Whether a column's name is that of a minute column: digits, or `minute_` and anything.
fn is_minute_column(name: &str) -> bool {
    name.starts_with("minute_") || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
}

/// The minute of a minute column's name, `17` or `minute_17`, if it is a minute of the day.
fn minute_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("minute_").unwrap_or(name);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse()
        .ok()
        .filter(|&m| (1..=MINUTES_PER_DAY as usize).contains(&m))
}

impl InvocationColumns {
    fn parse(
        path: &Path,
        header: &[u8],
        layout: Layout,
        need_trigger: bool,
    ) -> Result<Self, WorkloadError> {
        let expected = layout.invocations_header();
        let fail = |message: String| WorkloadError::File {
            path: show(path),
            message: format!("{message}; expected the header {expected}"),
        };
        let header = header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(header);
        let text = std::str::from_utf8(header)
            .map_err(|_| fail("the header is not valid UTF-8".into()))?;
        let names: Vec<String> = text
            .split(',')
            .map(|n| unquote(n.trim().as_bytes()))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        let mut roles = vec![Role::Other; names.len()];
        for (slot, key) in (0u8..).zip(KEY_COLUMNS) {
            match names.iter().position(|n| n == key) {
                Some(i) => roles[i] = Role::Key(slot),
                None if key != "Trigger" => {
                    return Err(fail(format!("the header has no column {key:?}")));
                }
                None if need_trigger => {
                    return Err(fail(
                        "the header has no column \"Trigger\", which the triggers option needs"
                            .into(),
                    ));
                }
                None => {}
            }
        }
        let mut minutes: Vec<(usize, usize)> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if roles[i] != Role::Other || !is_minute_column(n) {
                continue;
            }
            let Some(m) = minute_number(n) else {
                return Err(fail(format!(
                    "column {n:?} is not a minute of the day: minute columns are 1 to \
                     {MINUTES_PER_DAY} (or minute_1 to minute_{MINUTES_PER_DAY})"
                )));
            };
            minutes.push((m, i));
        }
        if minutes.is_empty() {
            return Err(fail("the header has no minute columns".into()));
        }
        minutes.sort_unstable();
        for (want, &(minute, i)) in (1..).zip(&minutes) {
            if minute < want {
                return Err(fail(format!(
                    "column {:?} repeats minute {minute}",
                    names[i]
                )));
            }
            if minute > want {
                return Err(fail(format!(
                    "the minute columns skip minute {want}; they must be minutes 1 to M"
                )));
            }
        }
        for &(minute, i) in &minutes {
            roles[i] = Role::Minute((minute - 1) as u16);
        }
        let first = minutes[0].1;
        let run_start =
            if (0..minutes.len()).all(|k| roles.get(first + k) == Some(&Role::Minute(k as u16))) {
                first
            } else {
                usize::MAX
            };
        Ok(InvocationColumns {
            names,
            roles,
            minutes: minutes.len(),
            run_start,
        })
    }
}

/// Reads a file line by line into one reused buffer, without line terminators.
struct Lines {
    path: PathBuf,
    reader: BufReader<crate::limits::LineLimit<File>>,
    buf: Vec<u8>,
    /// 1-based number of the line in `buf`.
    number: u64,
}

impl Lines {
    fn open(path: &Path) -> Result<Self, WorkloadError> {
        let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
        Ok(Lines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            buf: Vec::with_capacity(1 << 14),
            number: 0,
        })
    }

    /// Reads the next line into `buf`; false at the end of the file.
    fn next_line(&mut self) -> Result<bool, WorkloadError> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| io_error(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n as u64 == MAX_LINE {
            return Err(row_error(
                &self.path,
                self.number,
                format!("the line is longer than {MAX_LINE} bytes"),
            ));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }
}

/// Splits one invocation row: calls `cell(minute, count)` for every non-zero minute cell and
/// returns the byte ranges of the key columns (empty for a missing `Trigger`). The error names the
/// column and the value. Digits only: no sign, no fraction, no spaces.
///
/// This is the hot loop of the reader. When the minute columns are one run of fields in order (as
/// in every published file), the run is parsed without looking up each field's role, and blocks
/// of zero cells are skipped a block at a time.
#[inline]
fn parse_row(
    line: &[u8],
    columns: &InvocationColumns,
    mut cell: impl FnMut(usize, u32),
) -> Result<[(usize, usize); 4], String> {
    let fields = columns.roles.len();
    let mut keys = [(0, 0); 4];
    let mut p = 0;
    let mut i = 0;
    while i < fields {
        if i == columns.run_start {
            let first = i;
            let end = i + columns.minutes;
            while i < end {
                // Blocks of zero cells, as long as another minute field follows the block (so
                // that its last comma separates two minute fields).
                while i + 8 < end && line.get(p..p + 16) == Some(b"0,0,0,0,0,0,0,0,") {
                    p += 16;
                    i += 8;
                }
                // A single digit followed by a comma and another minute field.
                if i + 1 < end
                    && let Some(&[digit, b',']) = line.get(p..p + 2)
                    && digit.is_ascii_digit()
                {
                    if digit != b'0' {
                        cell(i - first, u32::from(digit - b'0'));
                    }
                    p += 2;
                    i += 1;
                    continue;
                }
                let (value, next) = minute_cell(line, p, i, columns)?;
                if value != 0 {
                    cell(i - first, value);
                }
                p = separator(line, next, i, fields)?;
                i += 1;
            }
            continue;
        }
        let role = columns.roles[i];
        if let Role::Minute(minute) = role {
            let (value, next) = minute_cell(line, p, i, columns)?;
            if value != 0 {
                cell(usize::from(minute), value);
            }
            p = next;
        } else {
            let start = p;
            while let Some(&b) = line.get(p) {
                if b == b',' {
                    break;
                }
                p += 1;
            }
            if let Role::Key(slot) = role {
                keys[usize::from(slot)] = (start, p);
            }
        }
        p = separator(line, p, i, fields)?;
        i += 1;
    }
    if p < line.len() {
        let extra = line[p..].iter().filter(|&&b| b == b',').count();
        return Err(field_count(fields + extra, fields));
    }
    Ok(keys)
}

/// Steps over the comma after field `i` (ending at `p`), unless it is the row's last field.
#[inline(always)]
fn separator(line: &[u8], p: usize, i: usize, fields: usize) -> Result<usize, String> {
    if i + 1 < fields {
        if p >= line.len() {
            return Err(field_count(i + 1, fields));
        }
        Ok(p + 1)
    } else {
        Ok(p)
    }
}

/// The count in field `i`, starting at `p`, and the position after it.
#[inline(always)]
fn minute_cell(
    line: &[u8],
    mut p: usize,
    i: usize,
    columns: &InvocationColumns,
) -> Result<(u32, usize), String> {
    let start = p;
    let mut value = 0u64;
    let mut bad = false;
    while let Some(&b) = line.get(p) {
        if b == b',' {
            break;
        }
        let digit = b.wrapping_sub(b'0');
        bad |= digit > 9;
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        p += 1;
    }
    if bad || p == start || p - start > 9 {
        let fields = columns.roles.len();
        if p == line.len() && i + 1 < fields {
            return Err(field_count(i + 1, fields));
        }
        value = u64::from(
            parse_count(&line[start..p])
                .map_err(|m| format!("column {:?}: {m}", columns.names[i]))?,
        );
    }
    Ok((value as u32, p))
}

fn field_count(found: usize, header: usize) -> String {
    format!("has {found} fields, but the header has {header}")
}

/// A count cell: digits only, at most `u32::MAX`.
fn parse_count(text: &[u8]) -> Result<u32, String> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "count {:?} is not a non-negative whole number",
            shown(text)
        ));
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| format!("count {:?} is larger than {}", shown(text), u32::MAX))
}

/// The key fields of a parsed row: owner, app, function and trigger ("" without a column).
fn row_keys(line: &[u8], ranges: [(usize, usize); 4]) -> Result<[&str; 4], String> {
    let mut out = [""; 4];
    for (slot, (start, end)) in ranges.into_iter().enumerate() {
        if end == 0 && slot == 3 {
            continue;
        }
        out[slot] = key_text(
            unquote(line[start..end].trim_ascii()),
            KEY_COLUMNS[slot],
            slot < 3,
        )?;
    }
    Ok(out)
}

/// A key field as text; `required` fields must not be empty.
fn key_text<'a>(raw: &'a [u8], column: &str, required: bool) -> Result<&'a str, String> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| format!("column {column:?}: {:?} is not valid UTF-8", shown(raw)))?;
    if required && text.is_empty() {
        return Err(format!("column {column:?} is empty"));
    }
    Ok(text)
}

/// Removes one pair of surrounding double quotes.
fn unquote(raw: &[u8]) -> &[u8] {
    match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    }
}

/// A value for a message: lossy UTF-8, cut after 40 characters.
fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text.into_owned()
    }
}

/// The columns (minutes of the day) of a day starting at trace minute `offset` that overlap the
/// window.
fn minutes_in_window(window: &Window, offset: u64, minutes: usize) -> Range<usize> {
    let inside: Vec<usize> = (0..minutes)
        .filter(|&k| window.overlaps_minute(offset + k as u64))
        .collect();
    match (inside.first(), inside.last()) {
        (Some(&lo), Some(&hi)) => lo..hi + 1,
        _ => 0..0,
    }
}

/// A map from keys (hex hashes joined by [`KEY_SEPARATOR`]) to ids, hashed by [`KeyHasher`].
type KeyMap<V> = HashMap<Box<str>, V, BuildHasherDefault<KeyHasher>>;

/// A fast hash for keys made of long hex hashes, eight bytes at a time (the multiply-rotate step
/// of FxHash, with a final mix so that the low bits hashbrown uses for buckets vary too). Not
/// resistant to crafted keys, which a local trace file has no reason to hold.
#[derive(Clone, Copy, Default)]
struct KeyHasher(u64);

impl KeyHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

fn function_key(buf: &mut String, owner: &str, app: &str, function: &str) {
    buf.clear();
    buf.push_str(owner);
    buf.push(KEY_SEPARATOR);
    buf.push_str(app);
    buf.push(KEY_SEPARATOR);
    buf.push_str(function);
}

fn app_key(buf: &mut String, owner: &str, app: &str) {
    buf.clear();
    buf.push_str(owner);
    buf.push(KEY_SEPARATOR);
    buf.push_str(app);
}

// ---------------------------------------------------------------------------------------------
// The open pass.

/// A function seen in an invocation file, before cleaning.
struct Candidate {
    app: u32,
    function: Box<str>,
    trigger: Box<str>,
    /// Invocations inside the window, over all selected days.
    count: u64,
    duration: Option<DurationStats>,
    /// A duration row was found, but its average was not positive.
    zero_average: bool,
    /// Memory from a per-function memory row.
    memory: Option<u32>,
    /// Stamp (day + 1) of the last invocation, duration and memory file that had a row for it.
    seen_invocations: u32,
    seen_durations: u32,
    seen_memory: u32,
}

struct AppEntry {
    owner: Box<str>,
    app: Box<str>,
    memory: Option<u32>,
    seen_memory: u32,
}

#[derive(Default)]
struct Scan {
    functions: Vec<Candidate>,
    apps: Vec<AppEntry>,
    function_ids: KeyMap<u32>,
    app_ids: KeyMap<u32>,
    key: String,
}

/// The catalog and what goes with it.
struct Built {
    catalog: Catalog,
    counts: Vec<u64>,
    durations: Vec<DurationModel>,
    /// Key → candidate (function of any invocation row, kept or not).
    keys: KeyMap<u32>,
    /// Candidate → catalog function id, `u32::MAX` for candidates left out.
    catalog_ids: Vec<u32>,
    app_memory: Vec<u32>,
    function_memory: Vec<Option<u32>>,
}

impl Scan {
    fn function_or_insert(
        &mut self,
        owner: &str,
        app: &str,
        function: &str,
        trigger: &str,
    ) -> usize {
        function_key(&mut self.key, owner, app, function);
        if let Some(&f) = self.function_ids.get(self.key.as_str()) {
            return f as usize;
        }
        let f = self.functions.len();
        self.function_ids.insert(self.key.as_str().into(), f as u32);
        app_key(&mut self.key, owner, app);
        let a = match self.app_ids.get(self.key.as_str()) {
            Some(&a) => a,
            None => {
                let a = self.apps.len() as u32;
                self.app_ids.insert(self.key.as_str().into(), a);
                self.apps.push(AppEntry {
                    owner: owner.into(),
                    app: app.into(),
                    memory: None,
                    seen_memory: 0,
                });
                a
            }
        };
        self.functions.push(Candidate {
            app: a,
            function: function.into(),
            trigger: trigger.into(),
            count: 0,
            duration: None,
            zero_average: false,
            memory: None,
            seen_invocations: 0,
            seen_durations: 0,
            seen_memory: 0,
        });
        f
    }

    fn find_function(&mut self, owner: &str, app: &str, function: &str) -> Option<usize> {
        function_key(&mut self.key, owner, app, function);
        self.function_ids
            .get(self.key.as_str())
            .map(|&f| f as usize)
    }

    fn find_app(&mut self, owner: &str, app: &str) -> Option<usize> {
        app_key(&mut self.key, owner, app);
        self.app_ids.get(self.key.as_str()).map(|&a| a as usize)
    }

    /// Reads one day's invocation file: registers its functions and adds their counts inside the
    /// window. Returns the file's columns.
    #[allow(clippy::too_many_arguments)]
    fn read_invocations(
        &mut self,
        day: &DayFiles,
        stamp: u32,
        layout: Layout,
        need_trigger: bool,
        window: Window,
        skip: bool,
        report: &mut LoadReport,
    ) -> Result<InvocationColumns, WorkloadError> {
        let path = &day.invocations;
        let mut lines = Lines::open(path)?;
        if !lines.next_line()? {
            return Err(WorkloadError::File {
                path: show(path),
                message: format!(
                    "is empty; expected the header {}",
                    layout.invocations_header()
                ),
            });
        }
        let columns = InvocationColumns::parse(path, &lines.buf, layout, need_trigger)?;
        let inside = minutes_in_window(&window, day.offset, columns.minutes);
        while lines.next_line()? {
            if lines.buf.is_empty() {
                continue;
            }
            let mut count = 0u64;
            let row = parse_row(&lines.buf, &columns, |k, n| {
                if inside.contains(&k) {
                    count += u64::from(n);
                }
            })
            .and_then(|ranges| row_keys(&lines.buf, ranges));
            let [owner, app, function, trigger] = match row {
                Ok(keys) => keys,
                Err(message) => {
                    report.bad_row(skip, row_error(path, lines.number, message))?;
                    continue;
                }
            };
            let f = self.function_or_insert(owner, app, function, trigger);
            let candidate = &mut self.functions[f];
            if candidate.seen_invocations == stamp {
                report.drop(DUPLICATE_INVOCATIONS, 1);
                continue;
            }
            candidate.seen_invocations = stamp;
            candidate.count += count;
        }
        Ok(columns)
    }

    fn read_durations(
        &mut self,
        path: &Path,
        layout: Layout,
        stamp: u32,
        skip: bool,
        report: &mut LoadReport,
    ) -> Result<(), WorkloadError> {
        let expected = layout.durations_header();
        let (mut reader, header) = open_table(path, expected)?;
        let column = |name: &str| find_column(path, &header, name, expected);
        let keys = [
            column("HashOwner")?,
            column("HashApp")?,
            column("HashFunction")?,
        ];
        let average = column("Average")?;
        let minimum = column("Minimum")?;
        let maximum = column("Maximum")?;
        let mut percentiles = [0; 7];
        for (slot, name) in percentiles
            .iter_mut()
            .zip(DurationStats::PERCENTILE_COLUMNS)
        {
            *slot = column(name)?;
        }
        let mut record = ByteRecord::new();
        let mut orphans: HashSet<Box<str>, BuildHasherDefault<KeyHasher>> = HashSet::default();
        while let Some(line) = next_record(&mut reader, &mut record, path, skip, report)? {
            let parsed = (|| {
                let [owner, app, function] =
                    [0, 1, 2].map(|k| key_text(field(&record, keys[k]), KEY_COLUMNS[k], true));
                let (owner, app, function) = (owner?, app?, function?);
                // No duration past the longest lambdasim replays (a year), so that none can
                // overflow the engine's clock.
                let max_ms = crate::limits::MAX_DURATION_US as f64 / 1000.0;
                let within = |v: f64, name: &str| -> Result<f64, String> {
                    if v > max_ms {
                        return Err(format!(
                            "column {name:?}: {v:e} ms is longer than the longest duration \
                             lambdasim replays ({max_ms} ms, a year)"
                        ));
                    }
                    Ok(v)
                };
                let non_negative = |col: usize, name: &str| -> Result<f64, String> {
                    let v = number(&record, col, name, "a number of milliseconds")?;
                    if v < 0.0 {
                        return Err(format!("column {name:?}: {v} is negative"));
                    }
                    within(v, name)
                };
                let avg = within(
                    number(&record, average, "Average", "a number of milliseconds")?,
                    "Average",
                )?;
                let mut p = [0.0; 7];
                for ((slot, &col), name) in p
                    .iter_mut()
                    .zip(&percentiles)
                    .zip(DurationStats::PERCENTILE_COLUMNS)
                {
                    *slot = non_negative(col, name)?;
                }
                let stats = DurationStats {
                    average: avg,
                    minimum: non_negative(minimum, "Minimum")?,
                    maximum: non_negative(maximum, "Maximum")?,
                    percentiles: p,
                };
                stats.check_order()?;
                Ok::<_, String>((owner, app, function, stats))
            })();
            let (owner, app, function, stats) = match parsed {
                Ok(row) => row,
                Err(message) => {
                    report.bad_row(skip, row_error(path, line, message))?;
                    continue;
                }
            };
            let Some(f) = self.find_function(owner, app, function) else {
                if orphans.insert(self.key.as_str().into()) {
                    report.drop(ORPHAN_DURATION, 1);
                } else {
                    report.drop(DUPLICATE_DURATIONS, 1);
                }
                continue;
            };
            let candidate = &mut self.functions[f];
            if candidate.seen_durations == stamp {
                report.drop(DUPLICATE_DURATIONS, 1);
                continue;
            }
            candidate.seen_durations = stamp;
            if candidate.duration.is_some() {
                continue;
            }
            if stats.average > 0.0 {
                candidate.duration = Some(stats);
            } else {
                candidate.zero_average = true;
            }
        }
        Ok(())
    }

    fn read_memory(
        &mut self,
        path: &Path,
        layout: Layout,
        value_column: &str,
        stamp: u32,
        skip: bool,
        report: &mut LoadReport,
    ) -> Result<(), WorkloadError> {
        let expected = layout.memory_header();
        let (mut reader, header) = open_table(path, expected)?;
        let column = |name: &str| find_column(path, &header, name, expected);
        let owner_col = column("HashOwner")?;
        let app_col = column("HashApp")?;
        let function_col = header.iter().position(|h| h == "HashFunction");
        let value_col = column(value_column)?;
        // The percentile columns the file has, in increasing order: their values must not
        // decrease.
        let percentile_cols: Vec<(String, usize)> = MemoryPercentile::PERCENTILES
            .iter()
            .map(|&p| MemoryPercentile::Pct(p).column())
            .filter_map(|name| {
                let col = header.iter().position(|h| *h == name)?;
                Some((name, col))
            })
            .collect();
        let mut record = ByteRecord::new();
        while let Some(line) = next_record(&mut reader, &mut record, path, skip, report)? {
            let parsed = (|| {
                let owner = key_text(field(&record, owner_col), "HashOwner", true)?;
                let app = key_text(field(&record, app_col), "HashApp", true)?;
                let function = function_col
                    .map(|c| key_text(field(&record, c), "HashFunction", true))
                    .transpose()?;
                let mut previous: Option<(&str, f64)> = None;
                for (name, col) in &percentile_cols {
                    let v = number(&record, *col, name, "a number of MB")?;
                    if let Some((before, b)) = previous
                        && b > v
                    {
                        return Err(out_of_order(before, b, name, v));
                    }
                    previous = Some((name, v));
                }
                let mb = number(&record, value_col, value_column, "a positive number of MB")?;
                if mb <= 0.0 {
                    return Err(format!(
                        "column {value_column:?}: {mb} is not a positive number of MB"
                    ));
                }
                Ok::<_, String>((
                    owner,
                    app,
                    function,
                    mb.round().clamp(1.0, f64::from(u32::MAX)) as u32,
                ))
            })();
            let (owner, app, function, mb) = match parsed {
                Ok(row) => row,
                Err(message) => {
                    report.bad_row(skip, row_error(path, line, message))?;
                    continue;
                }
            };
            // Rows of apps or functions without invocations are of no use and are passed over.
            let (seen, memory) = match function {
                Some(function) => match self.find_function(owner, app, function) {
                    Some(f) => {
                        let c = &mut self.functions[f];
                        (&mut c.seen_memory, &mut c.memory)
                    }
                    None => continue,
                },
                None => match self.find_app(owner, app) {
                    Some(a) => {
                        let entry = &mut self.apps[a];
                        (&mut entry.seen_memory, &mut entry.memory)
                    }
                    None => continue,
                },
            };
            if *seen == stamp {
                report.drop(DUPLICATE_MEMORY, 1);
                continue;
            }
            *seen = stamp;
            memory.get_or_insert(mb);
        }
        Ok(())
    }

    /// Cleans the candidates and builds the catalog, in first-appearance order.
    fn build(self, spec: &TraceSpec, any_memory: bool, report: &mut LoadReport) -> Built {
        let Scan {
            functions,
            apps,
            function_ids,
            ..
        } = self;
        let mut catalog = Catalog::default();
        let mut counts = Vec::new();
        let mut durations = Vec::new();
        let mut function_memory = Vec::new();
        let mut app_memory: Vec<u32> = Vec::new();
        let mut app_map = vec![u32::MAX; apps.len()];
        let mut function_map = vec![u32::MAX; functions.len()];
        let mut app_names = Names::default();
        let mut function_names = Names::default();
        for (i, c) in functions.iter().enumerate() {
            let entry = &apps[c.app as usize];
            if !spec.triggers.is_empty() && !spec.triggers.iter().any(|t| **t == *c.trigger) {
                report.drop(TRIGGER_FILTERED, 1);
                continue;
            }
            let Some(stats) = c.duration else {
                report.drop(
                    if c.zero_average {
                        ZERO_AVERAGE
                    } else {
                        NO_DURATION
                    },
                    1,
                );
                continue;
            };
            if any_memory && c.memory.is_none() && entry.memory.is_none() {
                report.drop(NO_MEMORY, 1);
                continue;
            }
            let a = c.app as usize;
            if app_map[a] == u32::MAX {
                app_map[a] = catalog.apps.len() as u32;
                catalog.apps.push(App {
                    name: app_names.unique(&entry.app, &entry.owner),
                });
                app_memory.push(entry.memory.unwrap_or(0));
            }
            let app = app_map[a];
            if entry.memory.is_none()
                && let Some(mb) = c.memory
            {
                let slot = &mut app_memory[app as usize];
                *slot = (*slot).max(mb);
            }
            let (model, init) = stats.model(spec.durations);
            function_map[i] = catalog.functions.len() as u32;
            catalog.functions.push(Function {
                name: function_names.unique(&c.function, &catalog.apps[app as usize].name),
                app: AppId(app),
                memory_mb: 0,
                concurrency: None,
                init,
                packages: Vec::new(),
            });
            counts.push(c.count);
            durations.push(model);
            function_memory.push(c.memory);
        }
        Built {
            catalog,
            counts,
            durations,
            keys: function_ids,
            catalog_ids: function_map,
            app_memory,
            function_memory,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Duration and memory files (small: read with the csv crate).

fn open_table(
    path: &Path,
    expected: &str,
) -> Result<(csv::Reader<crate::limits::LineLimit<File>>, Vec<String>), WorkloadError> {
    let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(file);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|n| n.trim().to_string()).collect(),
        Err(e) => {
            return Err(match csv_error(path, e) {
                io @ WorkloadError::Io { .. } => io,
                _ => WorkloadError::File {
                    path: show(path),
                    message: format!(
                        "the header is not valid UTF-8 CSV; expected the header {expected}"
                    ),
                },
            });
        }
    };
    if header.iter().all(String::is_empty) {
        return Err(WorkloadError::File {
            path: show(path),
            message: format!("is empty; expected the header {expected}"),
        });
    }
    Ok((reader, header))
}

fn find_column(
    path: &Path,
    header: &[String],
    name: &str,
    expected: &str,
) -> Result<usize, WorkloadError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| WorkloadError::File {
            path: show(path),
            message: format!("the header has no column {name:?}; expected the header {expected}"),
        })
}

/// Reads the next well-formed record; returns its line, or `None` at the end. Ragged records are
/// bad rows.
fn next_record(
    reader: &mut csv::Reader<crate::limits::LineLimit<File>>,
    record: &mut ByteRecord,
    path: &Path,
    skip: bool,
    report: &mut LoadReport,
) -> Result<Option<u64>, WorkloadError> {
    loop {
        match reader.read_byte_record(record) {
            Ok(false) => return Ok(None),
            Ok(true) => return Ok(Some(record.position().map_or(0, |p| p.line()))),
            Err(e) => match csv_error(path, e) {
                io @ WorkloadError::Io { .. } => return Err(io),
                err => report.bad_row(skip, err)?,
            },
        }
    }
}

fn field(record: &ByteRecord, col: usize) -> &[u8] {
    record.get(col).unwrap_or_default().trim_ascii()
}

/// A finite number, of any sign.
fn number(record: &ByteRecord, col: usize, name: &str, what: &str) -> Result<f64, String> {
    let raw = field(record, col);
    std::str::from_utf8(raw)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("column {name:?}: {:?} is not {what}", shown(raw)))
}

// ---------------------------------------------------------------------------------------------
// The invocation stream.

/// One selected day, as the stream reads it again.
struct SourceDay {
    path: PathBuf,
    /// Minute of the trace where the day starts.
    offset: u64,
    layout: Layout,
    need_trigger: bool,
    /// The columns found when the trace was opened.
    columns: InvocationColumns,
}

struct Source {
    days: Vec<SourceDay>,
    keys: KeyMap<u32>,
    catalog_ids: Vec<u32>,
    functions: usize,
    durations: Vec<DurationModel>,
    arrivals: crate::trace::ArrivalMode,
}

impl TraceSource for Source {
    fn stream(self: Box<Self>, request: StreamRequest) -> Result<InvocationStream, WorkloadError> {
        let Source {
            days,
            keys,
            catalog_ids,
            functions,
            durations,
            arrivals,
        } = *self;
        let requested = |&id: &u32| request.keep.get(id as usize).copied().unwrap_or(false);
        let wanted = catalog_ids
            .into_iter()
            .map(|id| if requested(&id) { id } else { u32::MAX })
            .collect();
        let minutes = DayMinutes {
            days: days.into_iter(),
            keys,
            wanted,
            window: request.window,
            seen: vec![0; functions],
            stamp: 0,
            cells: Vec::new(),
            next: 0,
            offset: 0,
            key: String::new(),
            failed: false,
        };
        Ok(Box::new(CountReplay::new(
            Box::new(minutes),
            arrivals,
            durations,
            request,
        )))
    }
}

/// Non-zero cells of the requested functions, minute by minute, reading one day at a time.
struct DayMinutes {
    days: std::vec::IntoIter<SourceDay>,
    /// Key → candidate of the open pass.
    keys: KeyMap<u32>,
    /// Candidate → catalog function id if requested, `u32::MAX` otherwise.
    wanted: Vec<u32>,
    window: Window,
    /// Stamp of the last day that had a row for each function, to keep only the first row.
    seen: Vec<u32>,
    stamp: u32,
    /// The current day's cells inside the window: (minute of the day, function, count), sorted
    /// by minute.
    cells: Vec<(u16, u32, u32)>,
    next: usize,
    offset: u64,
    key: String,
    failed: bool,
}

impl DayMinutes {
    /// Reads `day`'s invocation file into `cells`. Rows the open pass left out are left out again:
    /// malformed rows, later rows of a key and rows of functions not requested.
    fn load(&mut self, day: &SourceDay) -> Result<(), WorkloadError> {
        self.cells.clear();
        self.next = 0;
        self.offset = day.offset;
        self.stamp += 1;
        let mut lines = Lines::open(&day.path)?;
        let changed = || WorkloadError::File {
            path: show(&day.path),
            message: "the header changed since the trace was opened".into(),
        };
        if !lines.next_line()? {
            return Err(changed());
        }
        let columns =
            InvocationColumns::parse(&day.path, &lines.buf, day.layout, day.need_trigger)?;
        if columns != day.columns {
            return Err(changed());
        }
        let inside = minutes_in_window(&self.window, day.offset, columns.minutes);
        let mut row: Vec<(u16, u32)> = Vec::new();
        while lines.next_line()? {
            if lines.buf.is_empty() {
                continue;
            }
            row.clear();
            let parsed = parse_row(&lines.buf, &columns, |k, n| {
                if inside.contains(&k) {
                    row.push((k as u16, n));
                }
            })
            .and_then(|ranges| row_keys(&lines.buf, ranges));
            let Ok([owner, app, function, _]) = parsed else {
                continue;
            };
            function_key(&mut self.key, owner, app, function);
            let Some(&candidate) = self.keys.get(self.key.as_str()) else {
                continue;
            };
            let f = self.wanted[candidate as usize];
            if f == u32::MAX {
                continue;
            }
            let seen = &mut self.seen[f as usize];
            if *seen == self.stamp {
                continue;
            }
            *seen = self.stamp;
            self.cells.extend(row.iter().map(|&(k, n)| (k, f, n)));
        }
        self.cells.sort_unstable_by_key(|c| c.0);
        Ok(())
    }
}

impl Iterator for DayMinutes {
    type Item = Result<MinuteCounts, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(&(minute, _, _)) = self.cells.get(self.next) {
                let end = self.cells[self.next..]
                    .iter()
                    .position(|c| c.0 != minute)
                    .map_or(self.cells.len(), |n| self.next + n);
                let cells = self.cells[self.next..end]
                    .iter()
                    .map(|&(_, f, n)| (FunctionId(f), n))
                    .collect();
                self.next = end;
                return Some(Ok(MinuteCounts {
                    minute: self.offset + u64::from(minute),
                    cells,
                }));
            }
            self.cells = Vec::new();
            let day = self.days.next()?;
            let start = day.offset.saturating_mul(MICROS_PER_MIN);
            if start >= self.window.end {
                self.days = Vec::new().into_iter();
                return None;
            }
            let end = (day.offset + day.columns.minutes as u64).saturating_mul(MICROS_PER_MIN);
            if end <= self.window.start {
                continue;
            }
            if let Err(e) = self.load(&day) {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic days.

/// Trigger shares of functions in the 2019 trace (Shahrad et al., Figure 3).
const TRIGGER_MIX: [(&str, f64); 7] = [
    ("http", 0.55),
    ("queue", 0.15),
    ("event", 0.02),
    ("orchestration", 0.07),
    ("timer", 0.16),
    ("storage", 0.03),
    ("others", 0.02),
];

/// Periods of timer triggers, in minutes.
const TIMER_PERIODS: [u32; 8] = [1, 5, 10, 15, 30, 60, 60, 1440];

struct SynthApp {
    owner: [u8; 64],
    app: [u8; 64],
    memory_mb: f64,
}

struct SynthFunction {
    app: usize,
    hash: [u8; 64],
    trigger: &'static str,
    /// Timer period in minutes, 0 for other triggers.
    period: u32,
    /// Mean invocations per minute.
    rate: f64,
    /// Phase of the daily cycle.
    phase: f64,
    average_ms: f64,
}

struct Population {
    apps: Vec<SynthApp>,
    functions: Vec<SynthFunction>,
}

fn hex_hash(rng: &mut Xoshiro256PlusPlus) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for chunk in out.chunks_mut(16) {
        let mut bits: u64 = rng.random();
        for b in chunk {
            *b = HEX[(bits & 15) as usize];
            bits >>= 4;
        }
    }
    out
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

impl Population {
    fn draw(functions: usize, seed: u64) -> Self {
        let mut rng = stream(seed, 1);
        let mut apps: Vec<SynthApp> = Vec::new();
        let mut out = Vec::with_capacity(functions);
        while out.len() < functions {
            let owner = match apps.last() {
                Some(last) if rng.random::<f64>() < 0.3 => last.owner,
                _ => hex_hash(&mut rng),
            };
            let app = hex_hash(&mut rng);
            let memory_mb = (170f64.ln() + 0.7 * normal(&mut rng))
                .exp()
                .clamp(20.0, 4000.0);
            apps.push(SynthApp {
                owner,
                app,
                memory_mb,
            });
            let size = rng.random_range(1..=5usize).min(functions - out.len());
            for _ in 0..size {
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let trigger = TRIGGER_MIX
                    .iter()
                    .find(|(_, share)| {
                        acc += share;
                        u < acc
                    })
                    .map_or("others", |(t, _)| *t);
                let (period, rate) = if trigger == "timer" {
                    let period = TIMER_PERIODS[rng.random_range(0..TIMER_PERIODS.len())];
                    (period, 1.0 / f64::from(period))
                } else {
                    // log10 of the rate per minute: most functions a few times a day, a few
                    // thousands of times a minute.
                    let log_rate = (-1.6 + 1.5 * normal(&mut rng)).min(3.7);
                    (0, 10f64.powf(log_rate))
                };
                out.push(SynthFunction {
                    app: apps.len() - 1,
                    hash: hex_hash(&mut rng),
                    trigger,
                    period,
                    rate,
                    phase: rng.random::<f64>() * std::f64::consts::TAU,
                    average_ms: (700f64.ln() + 1.7 * normal(&mut rng))
                        .exp()
                        .clamp(1.0, 1_000_000.0),
                });
            }
        }
        Population {
            apps,
            functions: out,
        }
    }

    /// Writes the invocation file; returns its size and each function's daily total.
    fn write_invocations(
        &self,
        path: &Path,
        day: u32,
        seed: u64,
    ) -> Result<(u64, Vec<u64>), WorkloadError> {
        let minutes = MINUTES_PER_DAY as usize;
        let mut rng = stream(seed, 1000 + u64::from(day));
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut out = Counted {
            inner: BufWriter::with_capacity(1 << 20, file),
            bytes: 0,
        };
        let fail = |e: io::Error| io_error(path, e);
        let mut row: Vec<u8> = Vec::with_capacity(8 << 10);
        row.extend_from_slice(b"HashOwner,HashApp,HashFunction,Trigger");
        for k in 1..=minutes {
            row.push(b',');
            push_number(&mut row, k as u64);
        }
        row.push(b'\n');
        out.write_all(&row).map_err(fail)?;
        let mut cells = vec![0u32; minutes];
        let mut totals = Vec::with_capacity(self.functions.len());
        for f in &self.functions {
            cells.fill(0);
            if f.period > 0 {
                let period = f.period as usize;
                let first = rng.random_range(0..period.min(minutes));
                for k in (first..minutes).step_by(period) {
                    cells[k] = 1;
                }
            } else if f.rate < 2.0 {
                let total =
                    Poisson::new(f.rate * minutes as f64).map_or(0.0, |d| d.sample(&mut rng));
                for _ in 0..total as u64 {
                    cells[rng.random_range(0..minutes)] += 1;
                }
            } else {
                for (k, cell) in cells.iter_mut().enumerate() {
                    let daily = (std::f64::consts::TAU * k as f64 / minutes as f64 + f.phase).sin();
                    let mean = f.rate * (1.0 + 0.4 * daily);
                    *cell = (mean + mean.sqrt() * normal(&mut rng)).round().max(0.0) as u32;
                }
            }
            let app = &self.apps[f.app];
            row.clear();
            for (i, part) in [
                &app.owner[..],
                &app.app[..],
                &f.hash[..],
                f.trigger.as_bytes(),
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    row.push(b',');
                }
                row.extend_from_slice(part);
            }
            for &c in &cells {
                row.push(b',');
                push_number(&mut row, u64::from(c));
            }
            row.push(b'\n');
            out.write_all(&row).map_err(fail)?;
            totals.push(cells.iter().map(|&c| u64::from(c)).sum());
        }
        out.inner.flush().map_err(fail)?;
        Ok((out.bytes, totals))
    }

    fn write_durations(&self, path: &Path, totals: &[u64], seed: u64) -> Result<(), WorkloadError> {
        let mut rng = stream(seed, 2);
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let fail = |e: io::Error| io_error(path, e);
        writeln!(out, "{}", Layout::Original.durations_header()).map_err(fail)?;
        for (f, &total) in self.functions.iter().zip(totals) {
            let app = &self.apps[f.app];
            let avg = f.average_ms;
            let min = avg * (0.1 + 0.5 * rng.random::<f64>());
            let max = avg * (2.5 + (0.8 * normal(&mut rng)).exp());
            let p25 = 0.7 * avg;
            let points = [
                min,
                min + 0.1 * (p25 - min),
                p25,
                0.9 * avg,
                1.1 * avg,
                2.0 * avg,
                max,
            ];
            write!(
                out,
                "{},{},{},{},{},{:.1},{:.1}",
                ascii(&app.owner),
                ascii(&app.app),
                ascii(&f.hash),
                avg.round().max(1.0),
                total,
                min,
                max
            )
            .map_err(fail)?;
            for p in points {
                write!(out, ",{}", p.round()).map_err(fail)?;
            }
            writeln!(out).map_err(fail)?;
        }
        out.flush().map_err(fail)
    }

    fn write_memory(&self, path: &Path) -> Result<(), WorkloadError> {
        const FACTORS: [f64; 8] = [0.8, 0.85, 0.95, 1.0, 1.05, 1.15, 1.2, 1.3];
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let fail = |e: io::Error| io_error(path, e);
        writeln!(out, "{}", Layout::Original.memory_header()).map_err(fail)?;
        for (i, app) in self.apps.iter().enumerate() {
            let mb = app.memory_mb;
            write!(
                out,
                "{},{},{},{}",
                ascii(&app.owner),
                ascii(&app.app),
                100 + i % 5000,
                mb.round()
            )
            .map_err(fail)?;
            for factor in FACTORS {
                write!(out, ",{}", (mb * factor).round()).map_err(fail)?;
            }
            writeln!(out).map_err(fail)?;
        }
        out.flush().map_err(fail)
    }
}

/// A hash as text (always ASCII hex digits).
fn ascii(hash: &[u8; 64]) -> &str {
    std::str::from_utf8(hash).unwrap_or_default()
}

/// Appends `n` in decimal without allocating.
fn push_number(out: &mut Vec<u8>, mut n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[i..]);
}

/// A writer that counts the bytes it was given.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use crate::synthetic::AppMemory;
    use crate::time::MICROS_PER_SEC;
    use crate::trace::{ArrivalMode, DurationMode, MemoryFallback, MemoryPercentile};
    use crate::{Invocation, Time};

    const SEC: Time = MICROS_PER_SEC;
    const MIN: Time = MICROS_PER_MIN;

    const INV: &str = "HashOwner,HashApp,HashFunction,Trigger,1,2,3";
    const DUR: &str = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,\
        percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,\
        percentile_Average_75,percentile_Average_99,percentile_Average_100";
    const MEM: &str = "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
        AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
        AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
        AverageAllocatedMb_pct100";

    fn table(header: &str, rows: &[&str]) -> String {
        let mut text = format!("{header}\n");
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    /// A memory row: `average` in AverageAllocatedMb and pct1..pct25, `p50` in pct50 and pct75,
    /// `p100` in pct95..pct100.
    fn mem(key: &str, average: u32, p50: u32, p100: u32) -> String {
        format!("{key},10,{average},{average},{average},{average},{p50},{p50},{p100},{p100},{p100}")
    }

    fn inv_name(day: u32) -> String {
        format!("{INVOCATIONS_PREFIX}{day:02}.csv")
    }

    fn dur_name(day: u32) -> String {
        format!("{DURATIONS_PREFIX}{day:02}.csv")
    }

    fn mem_name(day: u32) -> String {
        format!("{MEMORY_PREFIX}{day:02}.csv")
    }

    fn at(dir: &Scratch) -> TraceSpec {
        TraceSpec {
            path: dir.path().to_path_buf(),
            ..TraceSpec::default()
        }
    }

    /// Two days of the original layout with one of each kind of row to clean.
    fn two_days(test: &str) -> Scratch {
        let dir = Scratch::new(test);
        dir.file(
            &inv_name(1),
            &table(
                INV,
                &[
                    "o1,a1,f1,http,1,0,2",
                    "o1,a1,f2,timer,0,3,0",
                    "o1,a1,f1,http,9,9,9",
                    "o1,a2,f3,queue,1,1,1",
                    "o2,a3,f4,http,5,0,0",
                    "o2,a4,f5,event,0,0,1",
                ],
            ),
        );
        dir.file(
            &inv_name(2),
            &table(
                INV,
                &[
                    "o1,a1,f2,timer,0,1,0",
                    "o3,a5,f6,http,0,0,4",
                    "o1,a1,f1,http,0,0,0",
                ],
            ),
        );
        dir.file(
            &dur_name(1),
            &table(
                DUR,
                &[
                    "o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400",
                    "o1,a1,f2,20.5,3,10.0,30.0,10,11,15,20,25,29,30",
                    "o1,a1,f2,999,3,10.0,30.0,10,11,15,20,25,29,30",
                    "o1,a2,f3,0,3,0,0,0,0,0,0,0,0,0",
                    "o2,a4,f5,10,1,10,10,10,10,10,10,10,10,10",
                    "o9,a9,f9,10,1,10,10,10,10,10,10,10,10,10",
                ],
            ),
        );
        dir.file(
            &dur_name(2),
            &table(
                DUR,
                &[
                    "o3,a5,f6,1000,4,900,1100,900,900,950,1000,1050,1100,1100",
                    "o1,a1,f1,555,3,50.0,555.0,50,60,80,100,120,300,555",
                ],
            ),
        );
        dir.file(
            &mem_name(1),
            &table(
                MEM,
                &[
                    &mem("o1,a1", 300, 400, 512),
                    &mem("o1,a2", 128, 128, 128),
                    &mem("o2,a3", 256, 256, 256),
                ],
            ),
        );
        dir.file(
            &mem_name(2),
            &table(
                MEM,
                &[
                    &mem("o3,a5", 200, 200, 200),
                    &mem("o1,a1", 9999, 9999, 9999),
                ],
            ),
        );
        dir
    }

    /// One day, one app `a1` with `f1` (http, 1,0,2) and `f2` (timer, 0,3,0).
    fn one_day(test: &str) -> Scratch {
        let dir = Scratch::new(test);
        dir.file(
            &inv_name(1),
            &table(INV, &["o1,a1,f1,http,1,0,2", "o1,a1,f2,timer,0,3,0"]),
        );
        dir.file(
            &dur_name(1),
            &table(
                DUR,
                &[
                    "o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400",
                    "o1,a1,f2,20,3,10.0,30.0,10,11,15,20,25,29,30",
                ],
            ),
        );
        dir.file(&mem_name(1), &table(MEM, &[&mem("o1,a1", 300, 400, 512)]));
        dir
    }

    fn names(trace: &Trace) -> Vec<&str> {
        trace
            .catalog
            .functions
            .iter()
            .map(|f| f.name.as_str())
            .collect()
    }

    fn memory(trace: &Trace) -> Vec<u32> {
        trace
            .catalog
            .functions
            .iter()
            .map(|f| f.memory_mb)
            .collect()
    }

    fn replay(trace: Trace, window: Window, seed: u64) -> Vec<Invocation> {
        let keep = vec![true; trace.catalog.functions.len()];
        trace
            .source
            .stream(StreamRequest {
                keep,
                scale: 1.0,
                window,
                seed,
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// (arrival, function, duration) of each invocation.
    fn events(invocations: &[Invocation]) -> Vec<(Time, u32, Time)> {
        invocations
            .iter()
            .map(|i| (i.arrival, i.function.0, i.duration))
            .collect()
    }

    fn error(spec: &TraceSpec) -> String {
        open(spec, 1).map(|_| ()).unwrap_err().to_string()
    }

    fn assert_mentions(message: &str, needles: &[&str]) {
        for needle in needles {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn a_minute_past_the_arrival_limit_is_an_error_not_a_huge_batch() {
        // 15 million in each of two cells of minute 2: 30 million arrivals in one minute.
        let dir = one_day("az19-huge-minute");
        dir.file(
            &inv_name(1),
            &table(
                INV,
                &["o1,a1,f1,http,1,15000000,2", "o1,a1,f2,timer,0,15000000,0"],
            ),
        );
        let trace = open(&at(&dir), 1).unwrap();
        let keep = vec![true; trace.catalog.functions.len()];
        let mut stream = trace
            .source
            .stream(StreamRequest {
                keep,
                scale: 1.0,
                window: at(&dir).window(),
                seed: 1,
            })
            .unwrap();
        // Minute 1's arrivals, then the error, and nothing after it.
        let first = stream.next().unwrap().unwrap();
        assert_eq!(first.arrival, 0);
        let message = stream.find_map(Result::err).unwrap().to_string();
        assert_mentions(
            &message,
            &["minute 1", "30000000 arrivals", "more than the 20000000"],
        );
    }

    #[test]
    fn original_layout_cleans_and_builds_the_catalog() {
        let dir = two_days("az19-two-days");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(names(&trace), ["f1", "f2", "f6"]);
        let apps: Vec<_> = trace.catalog.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(apps, ["a1", "a5"]);
        let app_of: Vec<u32> = trace.catalog.functions.iter().map(|f| f.app.0).collect();
        assert_eq!(app_of, [0, 0, 1]);
        // f1: 1 + 2 on day 1 (its duplicate row ignored); f2: 3 + 1; f6: 4 on day 2.
        assert_eq!(trace.counts, [3, 4, 4]);
        // pct100: a1 has 512 MB split between f1 and f2; a5's 200 MB comes from day 2.
        assert_eq!(trace.app_memory_mb, [512, 200]);
        assert_eq!(memory(&trace), [256, 256, 200]);
        let dropped: Vec<(&str, u64)> = trace
            .report
            .dropped
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            dropped,
            [
                ("duplicate row in durations file", 1),
                ("duplicate row in invocations file", 1),
                ("duration row without invocations", 1),
                ("no duration row", 1),
                ("no memory row", 1),
                ("zero average duration", 1),
            ]
        );
        assert_eq!(trace.report.bad_rows, 0);
        assert_eq!(trace.report.files.len(), 6);
        assert_eq!(trace.span, 1443 * MIN);
        assert!(trace.catalog.functions.iter().all(|f| f.init.is_none()));
    }

    #[test]
    fn minutes_continue_across_days_and_even_spreads_each_minute() {
        let dir = two_days("az19-across-days");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        let got = events(&replay(trace, spec.window(), 3));
        let day2 = 1440 * MIN;
        let (f1, f2, f6) = (100_000, 20_500, 1_000_000);
        assert_eq!(
            got,
            [
                (0, 0, f1),
                // Three invocations in minute 2 at 60, 80 and 100 s.
                (60 * SEC, 1, f2),
                (80 * SEC, 1, f2),
                (100 * SEC, 1, f2),
                (120 * SEC, 0, f1),
                (150 * SEC, 0, f1),
                // Minute 2 of day 2 starts at (1440 + 1) * 60 s.
                (day2 + 60 * SEC, 1, f2),
                (day2 + 120 * SEC, 2, f6),
                (day2 + 135 * SEC, 2, f6),
                (day2 + 150 * SEC, 2, f6),
                (day2 + 165 * SEC, 2, f6),
            ]
        );
        assert_eq!(got[6].0, (1440 + 1) * 60 * SEC);
    }

    #[test]
    fn default_day_is_the_lowest_with_an_invocation_file() {
        let dir = two_days("az19-default-day");
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(names(&trace), ["f1", "f2"]);
        assert_eq!(trace.counts, [3, 3]);
        assert_eq!(trace.span, 3 * MIN);
        assert_eq!(trace.report.files.len(), 3);
    }

    #[test]
    fn missing_day_file_is_named() {
        let dir = one_day("az19-missing-day");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            ..at(&dir)
        };
        assert_mentions(
            &error(&spec),
            &["invocations_per_function_md.anon.d02.csv", "not found"],
        );
        let dir = Scratch::new("az19-no-durations");
        dir.file(&inv_name(1), &table(INV, &["o1,a1,f1,http,1,0,2"]));
        assert_mentions(
            &error(&at(&dir)),
            &["function_durations_percentiles.anon.d01.csv", "not found"],
        );
    }

    #[test]
    fn in_vitro_sample_with_per_function_memory() {
        let dir = Scratch::new("az19-invitro");
        dir.file(
            "7_inv.csv",
            &table(
                "HashFunction,HashApp,HashOwner,minute_1,minute_2",
                &["g1,b1,p1,2,0", "g2,b1,p1,0,1", "g3,b2,p2,1,1"],
            ),
        );
        // Rows in another order, and Count before Average.
        dir.file(
            "7_run.csv",
            &table(
                "HashFunction,HashApp,HashOwner,Count,Average,Minimum,Maximum,\
                 percentile_Average_0,percentile_Average_1,percentile_Average_25,\
                 percentile_Average_50,percentile_Average_75,percentile_Average_99,\
                 percentile_Average_100",
                &[
                    "g2,b1,p1,1,50,40.0,60.0,40,41,45,50,55,59,60",
                    "g3,b2,p2,2,10,10.0,10.0,10,10,10,10,10,10,10",
                    "g1,b1,p1,2,30,20.0,40.0,20,21,25,30,35,39,40",
                ],
            ),
        );
        dir.file(
            "7_mem.csv",
            &table(
                &MEM.replace("HashOwner,HashApp", "HashFunction,HashApp,HashOwner"),
                &[
                    &mem("g3,b2,p2", 100, 100, 128),
                    &mem("g1,b1,p1", 100, 200, 300),
                    &mem("g2,b1,p1", 100, 200, 500),
                ],
            ),
        );
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(names(&trace), ["g1", "g2", "g3"]);
        assert_eq!(trace.catalog.apps.len(), 2);
        assert_eq!(trace.counts, [2, 1, 2]);
        // Per-function rows: each function its own memory, not split; the app the largest.
        assert_eq!(memory(&trace), [300, 500, 128]);
        assert_eq!(trace.app_memory_mb, [500, 128]);
        assert!(
            trace
                .report
                .notes
                .iter()
                .any(|n| n.contains("per function"))
        );
        assert_eq!(trace.span, 2 * MIN);
        let got = events(&replay(trace, at(&dir).window(), 1));
        assert_eq!(
            got,
            [
                (0, 0, 30_000),
                (0, 2, 10_000),
                (30 * SEC, 0, 30_000),
                (60 * SEC, 1, 50_000),
                (60 * SEC, 2, 10_000),
            ]
        );
    }

    #[test]
    fn in_vitro_plain_names_key_memory_by_app() {
        let dir = Scratch::new("az19-invitro-plain");
        dir.file(
            "invocations.csv",
            &table(
                "HashFunction,HashApp,HashOwner,minute_1",
                &["g1,b1,p1,2", "g2,b1,p1,1"],
            ),
        );
        dir.file(
            "durations.csv",
            &table(
                &DUR.replace(
                    "HashOwner,HashApp,HashFunction,Average,Count",
                    "HashFunction,HashApp,HashOwner,Count,Average",
                ),
                &[
                    "g1,b1,p1,2,30,20,40,20,21,25,30,35,39,40",
                    "g2,b1,p1,2,30,20,40,20,21,25,30,35,39,40",
                ],
            ),
        );
        dir.file(
            "memory.csv",
            &table(
                &MEM.replace("HashOwner,HashApp", "HashApp,HashOwner"),
                &[&mem("b1,p1", 100, 100, 400)],
            ),
        );
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(names(&trace), ["g1", "g2"]);
        assert_eq!(memory(&trace), [200, 200]);
        assert_eq!(trace.app_memory_mb, [400]);

        // In-Vitro samples have one day and no triggers.
        let days = TraceSpec {
            days: Some("1".parse().unwrap()),
            ..at(&dir)
        };
        assert_mentions(&error(&days), &["days", "original layout"]);
        let triggers = TraceSpec {
            triggers: vec!["http".into()],
            ..at(&dir)
        };
        assert_mentions(&error(&triggers), &["triggers", "Trigger column"]);
    }

    #[test]
    fn several_in_vitro_samples_are_listed() {
        let dir = Scratch::new("az19-invitro-several");
        for n in [10, 20] {
            dir.file(
                &format!("{n}_inv.csv"),
                "HashFunction,HashApp,HashOwner,minute_1\n",
            );
            dir.file(&format!("{n}_run.csv"), "x\n");
        }
        assert_mentions(
            &error(&at(&dir)),
            &["10_inv.csv", "20_inv.csv", "directory with one"],
        );
    }

    #[test]
    fn memory_split_or_per_function_from_the_chosen_percentile() {
        let dir = one_day("az19-memory");
        let cases = [
            (
                MemoryPercentile::Pct(100),
                AppMemory::Split,
                [256, 256],
                512,
            ),
            (
                MemoryPercentile::Pct(100),
                AppMemory::PerFunction,
                [512, 512],
                512,
            ),
            (MemoryPercentile::Average, AppMemory::Split, [150, 150], 300),
            (
                MemoryPercentile::Pct(50),
                AppMemory::PerFunction,
                [400, 400],
                400,
            ),
        ];
        for (percentile, app_memory, functions, app) in cases {
            let spec = TraceSpec {
                memory_percentile: percentile,
                app_memory,
                ..at(&dir)
            };
            let trace = open(&spec, 1).unwrap();
            assert_eq!(memory(&trace), functions, "{percentile} {app_memory:?}");
            assert_eq!(trace.app_memory_mb, [app]);
        }
    }

    #[test]
    fn days_without_memory_file_draw_memory_from_the_fallback() {
        let dir = Scratch::new("az19-fallback");
        dir.file(
            &inv_name(13),
            &table(
                INV,
                &[
                    "o1,a1,f1,http,1,0,2",
                    "o1,a1,f2,timer,0,3,0",
                    "o2,a2,f3,http,1,1,1",
                ],
            ),
        );
        dir.file(
            &dur_name(13),
            &table(
                DUR,
                &[
                    "o1,a1,f1,100,3,50,400,50,60,80,100,120,300,400",
                    "o1,a1,f2,20,3,10,30,10,11,15,20,25,29,30",
                    "o2,a2,f3,20,3,10,30,10,11,15,20,25,29,30",
                ],
            ),
        );
        let fixed = TraceSpec {
            days: Some("13".parse().unwrap()),
            memory_fallback: MemoryFallback::Fixed { mb: 300 },
            ..at(&dir)
        };
        let trace = open(&fixed, 1).unwrap();
        assert_eq!(trace.app_memory_mb, [300, 300]);
        assert_eq!(memory(&trace), [150, 150, 300]);
        assert!(
            trace.report.dropped.is_empty(),
            "{:?}",
            trace.report.dropped
        );
        assert!(
            trace
                .report
                .notes
                .iter()
                .any(|n| n.contains("memory_fallback") && n.contains("d13")),
            "{:?}",
            trace.report.notes
        );

        let burr = TraceSpec {
            memory_fallback: MemoryFallback::default(),
            ..fixed
        };
        let a = open(&burr, 5).unwrap().app_memory_mb;
        assert_eq!(a, open(&burr, 5).unwrap().app_memory_mb);
        assert!(a.iter().all(|mb| (16..=4096).contains(mb)), "{a:?}");
    }

    #[test]
    fn faascache_init_is_maximum_minus_average() {
        let dir = one_day("az19-faascache");
        let spec = TraceSpec {
            durations: DurationMode::Faascache,
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        let init: Vec<_> = trace.catalog.functions.iter().map(|f| f.init).collect();
        assert_eq!(init, [Some(300_000), Some(10_000)]);
        let got = events(&replay(trace, spec.window(), 1));
        assert!(
            got.iter()
                .all(|e| e.2 == if e.1 == 0 { 100_000 } else { 20_000 })
        );
    }

    #[test]
    fn percentile_draws_stay_between_p0_and_p100() {
        let dir = Scratch::new("az19-percentiles");
        dir.file(&inv_name(1), &table(INV, &["o1,a1,f1,http,200,300,100"]));
        dir.file(
            &dur_name(1),
            &table(DUR, &["o1,a1,f1,100,3,50,400,50,60,80,100,120,300,400"]),
        );
        dir.file(&mem_name(1), &table(MEM, &[&mem("o1,a1", 128, 128, 128)]));
        let spec = TraceSpec {
            durations: DurationMode::Percentiles,
            ..at(&dir)
        };
        let got = replay(open(&spec, 1).unwrap(), spec.window(), 4);
        assert_eq!(got.len(), 600);
        assert!(
            got.iter().all(|i| (50_000..=400_000).contains(&i.duration)),
            "a draw outside [p0, p100]"
        );
        let distinct: HashSet<Time> = got.iter().map(|i| i.duration).collect();
        assert!(
            distinct.len() > 100,
            "{} distinct durations",
            distinct.len()
        );
    }

    #[test]
    fn triggers_keep_only_the_listed_ones() {
        let dir = two_days("az19-triggers");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            triggers: vec!["http".into()],
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(names(&trace), ["f1", "f6"]);
        // f2 (timer), f3 (queue) and f5 (event); f4 is http without a duration row.
        assert_eq!(trace.report.dropped["trigger filtered"], 3);
        assert_eq!(trace.report.dropped["no duration row"], 1);
        assert!(!trace.report.dropped.contains_key("zero average duration"));
    }

    #[test]
    fn window_clips_counts_and_shifts_arrivals() {
        let dir = one_day("az19-window");
        // [90 s, 150 s): minute 2 is partly inside and counts fully; minute 3 too.
        let spec = TraceSpec {
            start: Duration::from_secs(90),
            length: Some(Duration::from_secs(60)),
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [2, 3]);
        assert_eq!(trace.span, 60 * SEC);
        // f2 arrives at 60, 80, 100 s and f1 at 120, 150 s: 100 and 120 s are inside.
        let got = events(&replay(trace, spec.window(), 1));
        assert_eq!(got, [(10 * SEC, 1, 20_000), (30 * SEC, 0, 100_000)]);

        // A window on day 2 skips day 1 and starts at its first minute.
        let dir = two_days("az19-window-day2");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            start: Duration::from_mins(1440),
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [0, 1, 4]);
        assert_eq!(trace.span, 3 * MIN);
        let got = events(&replay(trace, spec.window(), 1));
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], (60 * SEC, 1, 20_500));

        let dir = one_day("az19-window-late");
        let late = TraceSpec {
            start: Duration::from_mins(3),
            ..at(&dir)
        };
        assert_mentions(&error(&late), &["start 3m", "end of the trace"]);
    }

    #[test]
    fn malformed_rows_are_named_or_skipped() {
        let dir = Scratch::new("az19-bad-rows");
        dir.file(
            &inv_name(1),
            &table(
                INV,
                &[
                    "o1,a1,f1,http,1,0,2",
                    "o1,a1,f2,timer,0,x,0",
                    "o1,a1,f3,http,1,1",
                    "o1,a1,f4,http,1,-1,0",
                    "o1,a1,f5,http,1,0,0,7",
                ],
            ),
        );
        let durations: Vec<String> = (1..=5)
            .map(|f| format!("o1,a1,f{f},10,1,10,10,10,10,10,10,10,10,10"))
            .collect();
        let durations: Vec<&str> = durations.iter().map(String::as_str).collect();
        dir.file(&dur_name(1), &table(DUR, &durations));
        dir.file(&mem_name(1), &table(MEM, &[&mem("o1,a1", 128, 128, 128)]));

        let message = error(&at(&dir));
        assert_mentions(
            &message,
            &[
                &inv_name(1),
                "line 3",
                "column \"2\"",
                "count \"x\" is not a non-negative whole number",
            ],
        );

        let skip = TraceSpec {
            skip_bad_rows: true,
            ..at(&dir)
        };
        let trace = open(&skip, 1).unwrap();
        assert_eq!(names(&trace), ["f1"]);
        assert_eq!(trace.report.bad_rows, 4);
        let examples = &trace.report.bad_row_examples;
        assert_mentions(
            &examples[1],
            &["line 4", "has 6 fields, but the header has 7"],
        );
        assert_mentions(&examples[2], &["line 5", "column \"2\"", "\"-1\""]);
        assert_mentions(
            &examples[3],
            &["line 6", "has 8 fields, but the header has 7"],
        );
        assert_eq!(trace.report.dropped["duration row without invocations"], 4);
        // The stream skips the same rows, silently.
        let got = replay(trace, skip.window(), 1);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|i| i.function.0 == 0));
    }

    #[test]
    fn malformed_duration_and_memory_rows_name_file_line_column_and_value() {
        let dir = one_day("az19-bad-durations");
        dir.file(
            &dur_name(1),
            &table(
                DUR,
                &[
                    "o1,a1,f1,100,3,50,400,50,60,80,100,120,300,400",
                    "o1,a1,f2,abc,3,10,30,10,11,15,20,25,29,30",
                ],
            ),
        );
        assert_mentions(
            &error(&at(&dir)),
            &[&dur_name(1), "line 3", "column \"Average\"", "\"abc\""],
        );
        dir.file(
            &dur_name(1),
            &table(DUR, &["o1,a1,f1,100,3,50,400,50,60,80,100,120,300"]),
        );
        assert_mentions(
            &error(&at(&dir)),
            &[
                &dur_name(1),
                "line 2",
                "has 13 fields, but the header has 14",
            ],
        );
        dir.file(
            &dur_name(1),
            &table(DUR, &["o1,a1,f1,100,3,-50,400,50,60,80,100,120,300,400"]),
        );
        assert_mentions(&error(&at(&dir)), &["column \"Minimum\"", "negative"]);

        let dir = one_day("az19-bad-memory");
        dir.file(
            &mem_name(1),
            &table(MEM, &["o1,a1,10,300,300,300,300,400,400,512,512,lots"]),
        );
        assert_mentions(
            &error(&at(&dir)),
            &[
                &mem_name(1),
                "line 2",
                "AverageAllocatedMb_pct100",
                "\"lots\"",
            ],
        );
        let skip = TraceSpec {
            skip_bad_rows: true,
            ..at(&dir)
        };
        let trace = open(&skip, 1);
        // The only memory row was malformed: nothing is left.
        assert_mentions(
            &trace.map(|_| ()).unwrap_err().to_string(),
            &[
                "no function is left",
                "no memory row: 2",
                "malformed rows skipped: 1",
            ],
        );
    }

    #[test]
    fn missing_or_empty_directory_lists_the_expected_files() {
        let dir = Scratch::new("az19-empty-dir");
        let looked_for = [
            "invocations_per_function_md.anon.dNN.csv",
            "function_durations_percentiles.anon.dNN.csv",
            "app_memory_percentiles.anon.dNN.csv",
            "<N>_inv.csv",
            "invocations.csv",
        ];
        let message = error(&at(&dir));
        assert_mentions(&message, &looked_for);
        assert_mentions(&message, &["it is empty"]);
        let missing = TraceSpec {
            path: dir.path().join("nowhere"),
            ..TraceSpec::default()
        };
        let message = error(&missing);
        assert_mentions(&message, &looked_for);
        assert_mentions(&message, &["nowhere"]);
        dir.file("readme.txt", "hello");
        assert_mentions(&error(&at(&dir)), &["it holds readme.txt"]);
    }

    #[test]
    fn wrong_headers_name_the_expected_one() {
        let dir = one_day("az19-headers");
        let expected = "HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440";
        dir.file(&inv_name(1), "Owner,HashApp,HashFunction,Trigger,1,2,3\n");
        assert_mentions(
            &error(&at(&dir)),
            &[&inv_name(1), "no column \"HashOwner\"", expected],
        );
        dir.file(&inv_name(1), "HashOwner,HashApp,HashFunction,Trigger,1,3\n");
        assert_mentions(&error(&at(&dir)), &["skip minute 2", expected]);
        dir.file(&inv_name(1), "HashOwner,HashApp,HashFunction,Trigger\n");
        assert_mentions(&error(&at(&dir)), &["no minute columns", expected]);
        dir.file(
            &inv_name(1),
            "HashOwner,HashApp,HashFunction,1,2\no,a,f,1,1\n",
        );
        let triggers = TraceSpec {
            triggers: vec!["http".into()],
            ..at(&dir)
        };
        assert_mentions(&error(&triggers), &["no column \"Trigger\"", expected]);

        let dir = one_day("az19-headers-durations");
        dir.file(&dur_name(1), "HashOwner,HashApp,HashFunction,Mean\n");
        assert_mentions(
            &error(&at(&dir)),
            &[
                &dur_name(1),
                "no column \"Average\"",
                "percentile_Average_100",
            ],
        );
        let dir = one_day("az19-headers-memory");
        dir.file(
            &mem_name(1),
            "HashOwner,HashApp,AverageAllocatedMb\no1,a1,128\n",
        );
        let pct = TraceSpec {
            memory_percentile: MemoryPercentile::Pct(5),
            ..at(&dir)
        };
        assert_mentions(
            &error(&pct),
            &[
                &mem_name(1),
                "no column \"AverageAllocatedMb_pct5\"",
                "SampleCount",
            ],
        );
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        // The same day as `one_day`, with minute columns out of order and apart, and extra
        // columns; rows and values follow the header.
        let dir = one_day("az19-any-order");
        dir.file(
            &inv_name(1),
            &table(
                "3,Trigger,note,HashFunction,1,HashApp,HashOwner,2",
                &["2,http,x,f1,1,a1,o1,0", "0,timer,y,f2,0,a1,o1,3"],
            ),
        );
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(names(&trace), ["f1", "f2"]);
        assert_eq!(trace.counts, [3, 3]);
        let got = events(&replay(trace, at(&dir).window(), 1));
        let arrivals: Vec<(Time, u32)> = got.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(
            arrivals,
            [
                (0, 0),
                (60 * SEC, 1),
                (80 * SEC, 1),
                (100 * SEC, 1),
                (120 * SEC, 0),
                (150 * SEC, 0)
            ]
        );
        // Errors still name the column by its header.
        dir.file(
            &inv_name(1),
            &table(
                "3,Trigger,note,HashFunction,1,HashApp,HashOwner,2",
                &["2,http,x,f1,1,a1,o1,0", "0,timer,y,f2,0,a1,o1,3.5"],
            ),
        );
        assert_mentions(
            &error(&at(&dir)),
            &["line 3", "column \"2\"", "count \"3.5\""],
        );
    }

    #[test]
    fn zero_blocks_and_wide_counts_parse_exactly() {
        // A full day: long runs of zeros (skipped in blocks), single digits and wide counts, at
        // every alignment of the block test.
        let header: Vec<String> = (1..=1440).map(|k| k.to_string()).collect();
        let mut expected = [0u64; 3];
        let rows: Vec<String> = (0..3u64)
            .map(|f| {
                let cells: Vec<String> = (0..1440u64)
                    .map(|k| {
                        let n = match (k + f) % 37 {
                            0 => 7,
                            5 => 1_234 + k,
                            9 if f == 2 => 4_294_967_295,
                            _ => 0,
                        };
                        expected[f as usize] += n;
                        n.to_string()
                    })
                    .collect();
                format!("o,a,f{f},http,{}", cells.join(","))
            })
            .collect();
        let dir = Scratch::new("az19-zero-blocks");
        dir.file(
            &inv_name(1),
            &table(
                &format!(
                    "HashOwner,HashApp,HashFunction,Trigger,{}",
                    header.join(",")
                ),
                &rows.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        );
        let durations: Vec<String> = (0..3)
            .map(|f| format!("o,a,f{f},10,1,10,10,10,10,10,10,10,10,10"))
            .collect();
        dir.file(
            &dur_name(1),
            &table(
                DUR,
                &durations.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
        );
        dir.file(&mem_name(1), &table(MEM, &[&mem("o,a", 128, 128, 128)]));
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(trace.counts, expected);
        // The stream sees the same cells: count the first hour's of the functions with moderate
        // counts.
        let hour = Window {
            start: 0,
            end: 60 * MIN,
        };
        let spec = TraceSpec {
            length: Some(Duration::from_mins(60)),
            ..at(&dir)
        };
        let in_hour = open(&spec, 1).unwrap().counts;
        let got: Vec<Invocation> = open(&at(&dir), 1)
            .unwrap()
            .source
            .stream(StreamRequest {
                keep: vec![true, true, false],
                scale: 1.0,
                window: hour,
                seed: 1,
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(in_hour[2] > u64::from(u32::MAX));
        for f in 0..2u32 {
            let n = got.iter().filter(|i| i.function.0 == f).count() as u64;
            assert_eq!(n, in_hour[f as usize], "function {f}");
        }
    }

    #[test]
    fn odd_files_are_errors_not_panics() {
        let dir = one_day("az19-odd");
        dir.file(&inv_name(1), "");
        assert_mentions(&error(&at(&dir)), &[&inv_name(1), "is empty"]);
        dir.file(&inv_name(1), &format!("{INV}\n"));
        assert_mentions(&error(&at(&dir)), &["no function is left"]);
        fs::write(
            dir.path().join(inv_name(1)),
            [INV.as_bytes(), b"\no1,a1,f\xff1,http,1,0,2\n"].concat(),
        )
        .unwrap();
        assert_mentions(
            &error(&at(&dir)),
            &["line 2", "column \"HashFunction\"", "not valid UTF-8"],
        );
        fs::write(dir.path().join(inv_name(1)), b"\xff\xfe,1\n").unwrap();
        assert_mentions(&error(&at(&dir)), &["header is not valid UTF-8"]);
        dir.file(
            &inv_name(1),
            &format!("{INV}\no1,a1,f1,http,99999999999,0,0\n"),
        );
        assert_mentions(&error(&at(&dir)), &["count \"99999999999\" is larger"]);
        dir.file(&dur_name(1), "");
        dir.file(&inv_name(1), &format!("{INV}\no1,a1,f1,http,1,0,2\n"));
        assert_mentions(&error(&at(&dir)), &[&dur_name(1), "is empty"]);

        // A byte-order mark, CRLF line ends, quoted hashes, a blank line and no final newline.
        let dir = one_day("az19-crlf");
        dir.file(
            &inv_name(1),
            "\u{feff}HashOwner,HashApp,HashFunction,Trigger,1,2,3\r\n\"o1\",a1,f1,http,1,0,2\r\n\r\no1,a1,f2,timer,0,3,0",
        );
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(names(&trace), ["f1", "f2"]);
        assert_eq!(trace.counts, [3, 3]);
        assert_eq!(replay(trace, at(&dir).window(), 1).len(), 6);
    }

    #[test]
    fn same_seed_same_stream() {
        let dir = two_days("az19-determinism");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            arrivals: ArrivalMode::Uniform,
            durations: DurationMode::Lognormal,
            ..at(&dir)
        };
        let run = |seed| replay(open(&spec, 1).unwrap(), spec.window(), seed);
        let a = run(9);
        assert_eq!(a.len(), 11);
        assert_eq!(a, run(9));
        assert_ne!(a, run(10));
    }

    #[test]
    fn stream_keeps_only_requested_functions() {
        let dir = two_days("az19-keep");
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        let got: Vec<Invocation> = trace
            .source
            .stream(StreamRequest {
                keep: vec![false, true, false],
                scale: 1.0,
                window: spec.window(),
                seed: 1,
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|i| i.function.0 == 1));
    }

    #[test]
    fn written_days_read_back() {
        let dir = Scratch::new("az19-write-day");
        let bytes = write_day(dir.path(), 1, 300, 5).unwrap();
        let path = dir.path().join(inv_name(1));
        assert_eq!(bytes, fs::metadata(&path).unwrap().len());
        let trace = open(&at(&dir), 1).unwrap();
        assert_eq!(trace.catalog.functions.len(), 300);
        let apps = trace.catalog.apps.len();
        assert!((60..=200).contains(&apps), "{apps} apps");
        assert!(
            trace.report.dropped.is_empty(),
            "{:?}",
            trace.report.dropped
        );
        let total: u64 = trace.counts.iter().sum();
        let idle = trace.counts.iter().filter(|&&c| c < 1440).count();
        assert!(total > 10_000, "{total} invocations");
        assert!(
            idle > 200,
            "{idle} functions invoked less than once a minute"
        );
        assert_eq!(trace.span, 1440 * MIN);

        // Deterministic for a seed; a second day has the same functions.
        let again = Scratch::new("az19-write-day-again");
        write_day(again.path(), 1, 300, 5).unwrap();
        for name in [inv_name(1), dur_name(1), mem_name(1)] {
            assert_eq!(
                fs::read(dir.path().join(&name)).unwrap(),
                fs::read(again.path().join(&name)).unwrap(),
                "{name}"
            );
        }
        write_day(dir.path(), 2, 300, 5).unwrap();
        let spec = TraceSpec {
            days: Some("1-2".parse().unwrap()),
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.catalog.functions.len(), 300);
        assert!(
            trace.report.dropped.is_empty(),
            "{:?}",
            trace.report.dropped
        );
        assert_eq!(trace.span, 2 * 1440 * MIN);
    }

    #[test]
    fn out_of_order_durations_and_memory_are_bad_rows_naming_both_columns() {
        let dir = one_day("az19-order");
        let bad_duration = |row: &str, needles: &[&str]| {
            dir.file(
                &dur_name(1),
                &table(
                    DUR,
                    &["o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400", row],
                ),
            );
            let message = error(&at(&dir));
            assert_mentions(&message, &[&dur_name(1), "line 3"]);
            assert_mentions(&message, needles);
        };
        bad_duration(
            "o1,a1,f2,20,3,10.0,30.0,10,11,25,20,25,29,30",
            &[
                "column \"percentile_Average_25\" (25)",
                "column \"percentile_Average_50\" (20)",
            ],
        );
        bad_duration(
            "o1,a1,f2,20,3,10.0,30.0,10,11,15,20,25,29,28",
            &[
                "percentile_Average_99\" (29)",
                "percentile_Average_100\" (28)",
            ],
        );
        bad_duration(
            "o1,a1,f2,20,3,40.0,30.0,10,11,15,20,25,29,30",
            &["column \"Minimum\" (40)", "column \"Maximum\" (30)"],
        );
        // Past a year, which would overflow the engine's clock once in microseconds.
        bad_duration(
            "o1,a1,f2,1e300,3,10.0,30.0,10,11,15,20,25,29,30",
            &["column \"Average\"", "longer than the longest duration"],
        );
        bad_duration(
            "o1,a1,f2,20,3,10.0,1e300,10,11,15,20,25,29,30",
            &["column \"Maximum\": 1e300 ms", "a year"],
        );
        // Skipped as bad rows on request, whatever the duration model.
        for durations in [DurationMode::Faascache, DurationMode::Average] {
            let spec = TraceSpec {
                skip_bad_rows: true,
                durations,
                ..at(&dir)
            };
            let trace = open(&spec, 1).unwrap();
            assert_eq!(names(&trace), ["f1"]);
            assert_eq!(trace.report.bad_rows, 1);
        }

        let dir = one_day("az19-order-memory");
        dir.file(
            &mem_name(1),
            &table(MEM, &["o1,a1,10,300,300,300,300,400,399,512,512,512"]),
        );
        assert_mentions(
            &error(&at(&dir)),
            &[
                &mem_name(1),
                "line 2",
                "column \"AverageAllocatedMb_pct50\" (400)",
                "column \"AverageAllocatedMb_pct75\" (399)",
            ],
        );
        // Only the percentile columns a file has are compared.
        dir.file(
            &mem_name(1),
            "HashOwner,HashApp,AverageAllocatedMb_pct100,AverageAllocatedMb_pct1\no1,a1,512,600\n",
        );
        assert_mentions(
            &error(&at(&dir)),
            &[
                "\"AverageAllocatedMb_pct1\" (600)",
                "\"AverageAllocatedMb_pct100\" (512)",
            ],
        );
        dir.file(
            &mem_name(1),
            "HashOwner,HashApp,AverageAllocatedMb_pct100\no1,a1,512\n",
        );
        assert_eq!(memory(&open(&at(&dir), 1).unwrap()), [256, 256]);
    }

    #[test]
    fn minute_columns_are_minutes_of_the_day() {
        let dir = one_day("az19-minute-columns");
        for column in [
            "minute_99999999",
            "1441",
            "0",
            "minute_0",
            "minute_x",
            "minute_",
        ] {
            dir.file(
                &inv_name(1),
                &format!(
                    "HashOwner,HashApp,HashFunction,Trigger,1,2,3,{column}\no1,a1,f1,http,1,0,2,1\n"
                ),
            );
            assert_mentions(
                &error(&at(&dir)),
                &[
                    &inv_name(1),
                    &format!("column {column:?} is not a minute of the day"),
                    "1 to 1440",
                ],
            );
        }
        // The In-Vitro names too, and a full day is fine.
        let header: Vec<String> = (1..=1440).map(|k| format!("minute_{k}")).collect();
        dir.file(
            &inv_name(1),
            &format!(
                "HashOwner,HashApp,HashFunction,Trigger,{},minute_1441\n",
                header.join(",")
            ),
        );
        assert_mentions(&error(&at(&dir)), &["\"minute_1441\""]);
        dir.file(
            &inv_name(1),
            &format!(
                "HashOwner,HashApp,HashFunction,Trigger,{}\no1,a1,f1,http,{}\n",
                header.join(","),
                vec!["1"; 1440].join(",")
            ),
        );
        assert_eq!(open(&at(&dir), 1).unwrap().counts, [1440]);
    }

    #[cfg(unix)]
    #[test]
    fn devices_directories_and_broken_links_are_named_not_missing() {
        use std::os::unix::fs::symlink;
        // In-Vitro names, looked up by name.
        let dir = Scratch::new("az19-kinds-invitro");
        let invitro = |dir: &Scratch| {
            dir.file("7_inv.csv", &table(INV, &["o1,a1,f1,http,1,0,2"]));
            dir.file(
                "7_run.csv",
                &table(DUR, &["o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400"]),
            );
        };
        invitro(&dir);
        fs::remove_file(dir.path().join("7_run.csv")).unwrap();
        symlink("/dev/zero", dir.path().join("7_run.csv")).unwrap();
        assert_mentions(
            &error(&at(&dir)),
            &[
                "7_run.csv",
                "is a device (a link to /dev/zero), not a regular file",
            ],
        );
        fs::remove_file(dir.path().join("7_run.csv")).unwrap();
        fs::create_dir(dir.path().join("7_run.csv")).unwrap();
        assert_mentions(&error(&at(&dir)), &["7_run.csv", "is a directory"]);
        // An optional memory file too: it is not taken as missing.
        let dir = Scratch::new("az19-kinds-memory");
        invitro(&dir);
        fs::create_dir(dir.path().join("7_mem.csv")).unwrap();
        assert_mentions(&error(&at(&dir)), &["7_mem.csv", "is a directory"]);
        let dir = Scratch::new("az19-kinds-broken");
        invitro(&dir);
        fs::remove_file(dir.path().join("7_inv.csv")).unwrap();
        symlink("nowhere.csv", dir.path().join("7_inv.csv")).unwrap();
        assert_mentions(
            &error(&at(&dir)),
            &["7_inv.csv", "is a link to nowhere.csv that does not exist"],
        );

        // The original layout, found by listing the directory.
        for (name, target) in [
            (inv_name(1), "/dev/zero"),
            (dur_name(1), "/dev/null"),
            (mem_name(1), "/"),
        ] {
            let dir = one_day("az19-kinds-original");
            fs::remove_file(dir.path().join(&name)).unwrap();
            symlink(target, dir.path().join(&name)).unwrap();
            let what = if target == "/" {
                "a directory"
            } else {
                "a device"
            };
            assert_mentions(
                &error(&at(&dir)),
                &[
                    &name,
                    &format!("is {what} (a link to {target}), not a regular file"),
                ],
            );
        }
    }
}
