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

mod files;
mod rows;
mod scan;
mod stream;
mod synthetic;
mod tables;
#[cfg(test)]
mod tests;

use files::*;
use rows::*;
use scan::*;
use stream::*;
use synthetic::*;
use tables::*;

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
