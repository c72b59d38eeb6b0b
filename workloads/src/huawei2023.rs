//! The Huawei Public Cloud 2023 trace (Joosen et al., "How Does It Function? Characterizing
//! Long-term Trends in Production Serverless Workloads", SoCC'23): requests per minute of 5093
//! functions over 26 days.
//!
//! Source, description and terms of use: <https://github.com/sir-lab/data-release> (the 2023
//! release, `public_dataset/requests_minute`); cite the paper when you use the data.
//!
//! # Format
//!
//! CSV files with the header `day,time,0,1,2,...,5092`, one row per minute:
//!
//! - `day`: the day of the trace, from 0.
//! - `time`: the minute's start in seconds, a multiple of 60. The release counts it from the start
//!   of the whole trace (day 25 runs from 2,160,000 to 2,246,340); a file that counts it from the
//!   start of each day (below 86,400) is read the same.
//! - Every column whose name is a whole number is a function, named by it: its cell is the number
//!   of requests in that minute, written as an integer or as a float with no fraction (`12.0`).
//!   `NaN` or an empty cell means no requests. Other columns are ignored (the report says which).
//!
//! `path` is one such file or a directory of them (the release ships one per day, `day_00.csv`
//! to `day_25.csv`), read in name order. Minute `m` of the replay is
//! `(day - first day) * 1440 + (seconds into the day) / 60`, where the first day is the first
//! row's, and rows must come in increasing minute order across all files.
//!
//! # Reading
//!
//! - **Apps.** The public trace does not group functions into apps, so each function is its own
//!   app, named like it.
//! - **Memory.** The trace has none: each app's (so each function's) is drawn from
//!   `memory_fallback`.
//! - **Execution times.** The trace has none either. Each function's mean execution time is drawn
//!   once from the log-normal `exec` (in seconds, by default the Azure 2019 fit), and each
//!   invocation varies around it by a mean-preserving log-normal of sigma `exec_jitter`, clamped
//!   to `[1 ms, 10 min]`, as in the synthetic generator.
//! - **Window and span.** A function's count is the sum of its requests over the minutes that
//!   overlap the window, each counted in full; the arrivals of a minute that the window cuts are
//!   clipped to it. The trace ends with its last row's minute, so the span runs from the window's
//!   start to the window's end or that minute's end, whichever comes first.
//! - **Stream.** The files are read again row by row; each minute's kept requests become arrivals
//!   by the `arrivals` mode (see [`CountReplay`]). Memory is proportional to the number of
//!   functions.
//!
//! Malformed rows (a wrong number of fields, a day, time or count that is not a whole number, a
//! time that is not a whole minute, a minute out of order) stop the reader with an error that
//! names the file, the line, the column and the value, or are counted and skipped with
//! `skip_bad_rows`.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::csv_util::{csv_error, io_error, regular_file};
use crate::time::{MICROS_PER_MIN, MICROS_PER_MS, MICROS_PER_SEC};
use crate::trace::{
    ArrivalMode, CountReplay, DurationModel, LoadReport, MinuteCounts, StreamRequest, Trace,
    TraceFormat, TraceSource, TraceSpec, Window, assign_memory, derive,
};
use crate::{App, AppId, Catalog, Function, FunctionId, InvocationStream, WorkloadError};

/// Name of the day column.
pub const DAY_COLUMN: &str = "day";
/// Name of the time column.
pub const TIME_COLUMN: &str = "time";

/// Shortest execution time drawn, in microseconds.
pub const EXEC_MIN_US: f64 = MICROS_PER_MS as f64;
/// Longest execution time drawn, in microseconds.
pub const EXEC_MAX_US: f64 = 10.0 * MICROS_PER_MIN as f64;

const SECONDS_PER_DAY: u64 = 86_400;
const MINUTES_PER_DAY: u64 = 1_440;
/// Largest day accepted (about 2,700 years): keeps every minute's microseconds far from
/// overflowing.
const MAX_DAY: u64 = 1_000_000;

/// Seed streams of the values the trace lacks.
const STREAM_MEMORY: u64 = 0x2023_0001;
const STREAM_EXEC: u64 = 0x2023_0002;

/// Opens the trace at `spec.path` (a file or a directory of day files): one pass builds the
/// catalog and counts requests in the window; the stream reads the files again.
pub fn open(spec: &TraceSpec, seed: u64) -> Result<Trace, WorkloadError> {
    spec.validate(TraceFormat::Huawei2023)?;
    let files = day_files(&spec.path)?;
    let window = spec.window();
    let mut functions = Functions::default();
    let mut reader = MinuteReader::new(files.clone(), spec.skip_bad_rows, None);
    let mut report = LoadReport {
        files: files.clone(),
        ..LoadReport::default()
    };
    let mut counts: Vec<u64> = Vec::new();
    let mut cells = Vec::new();
    let mut last_minute = None;
    while let Some(minute) = reader.next(&mut functions, true, &mut cells, &mut report)? {
        counts.resize(functions.names.len(), 0);
        if window.overlaps_minute(minute) {
            for &(f, n) in &cells {
                counts[f.index()] += u64::from(n);
            }
        }
        last_minute = Some(minute);
    }
    counts.resize(functions.names.len(), 0);

    let file_error = |message: String| WorkloadError::File {
        path: spec.path.display().to_string(),
        message,
    };
    if functions.names.is_empty() {
        return Err(file_error(format!(
            "has no function columns; expected the header {DAY_COLUMN},{TIME_COLUMN},0,1,2,... \
             with one column per function"
        )));
    }
    let (Some(last_minute), Some(first_day)) = (last_minute, reader.first_day) else {
        return Err(file_error(
            "has no rows; expected one row per minute".into(),
        ));
    };
    if counts.iter().all(|&c| c == 0) {
        let end = match spec.length {
            Some(length) => format!("lasts {length}"),
            None => "runs to the end".to_string(),
        };
        return Err(file_error(format!(
            "has no requests in the window, which starts at {} and {end}; the trace has {} \
             minutes",
            spec.start,
            last_minute + 1
        )));
    }
    let trace_end = (last_minute + 1) * MICROS_PER_MIN;
    let span = trace_end.min(window.end).saturating_sub(window.start);

    if !reader.ignored.is_empty() {
        report.notes.push(format!(
            "ignored columns that name no function: {}",
            reader
                .ignored
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    report.notes.push(
        "the trace has no apps, memory or execution times: each function is its own app, memory \
         is drawn from memory_fallback and execution times from exec and exec_jitter"
            .to_string(),
    );

    let mut catalog = Catalog::default();
    for (i, name) in functions.names.iter().enumerate() {
        catalog.apps.push(App { name: name.clone() });
        catalog.functions.push(Function {
            name: name.clone(),
            app: AppId(i as u32),
            memory_mb: 0,
            concurrency: None,
            init: None,
            packages: Vec::new(),
        });
    }
    let app_memory_mb = spec
        .memory_fallback
        .draw(catalog.apps.len(), derive(seed, STREAM_MEMORY));
    assign_memory(&mut catalog, &app_memory_mb, spec.app_memory);
    let durations = duration_models(spec, catalog.functions.len(), seed);

    Ok(Trace {
        format: TraceFormat::Huawei2023,
        catalog,
        counts,
        app_memory_mb,
        span,
        report,
        source: Box::new(HuaweiSource {
            files,
            functions,
            first_day,
            skip_bad_rows: spec.skip_bad_rows,
            arrivals: spec.arrivals,
            durations,
        }),
    })
}

/// Each function's execution-time model: a mean drawn from `spec.exec` (seconds), and around it a
/// log-normal of sigma `spec.exec_jitter` whose mean is that mean before clamping.
fn duration_models(spec: &TraceSpec, functions: usize, seed: u64) -> Vec<DurationModel> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive(seed, STREAM_EXEC));
    let ln_micros = (MICROS_PER_SEC as f64).ln();
    // ln X ~ N(mu, s^2) has mean exp(mu + s^2/2), so this shift keeps the drawn mean.
    let shift = spec.exec_jitter * spec.exec_jitter / 2.0;
    (0..functions)
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            DurationModel::LogNormal {
                mu: spec.exec.mu + spec.exec.sigma * z + ln_micros - shift,
                sigma: spec.exec_jitter,
                min: EXEC_MIN_US,
                max: EXEC_MAX_US,
            }
        })
        .collect()
}

/// The CSV files of a trace: `path` itself, or the `.csv` files in it by name.
fn day_files(path: &Path) -> Result<Vec<PathBuf>, WorkloadError> {
    let meta = fs::metadata(path).map_err(|e| io_error(path, e))?;
    if !meta.is_dir() {
        // A device or a pipe is refused by what it is.
        regular_file(path)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).map_err(|e| io_error(path, e))? {
        let file = entry.map_err(|e| io_error(path, e))?.path();
        // A .csv that is a directory, a device or a broken link is an error, not passed over.
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            && regular_file(&file)?
        {
            files.push(file);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    if files.is_empty() {
        return Err(WorkloadError::File {
            path: path.display().to_string(),
            message: "holds no .csv files; expected one file of requests per minute per day, \
                      such as day_00.csv"
                .into(),
        });
    }
    Ok(files)
}

/// Function ids by column name.
#[derive(Default)]
struct Functions {
    ids: HashMap<String, FunctionId>,
    names: Vec<String>,
}

struct HuaweiSource {
    files: Vec<PathBuf>,
    functions: Functions,
    first_day: u64,
    skip_bad_rows: bool,
    arrivals: ArrivalMode,
    durations: Vec<DurationModel>,
}

impl TraceSource for HuaweiSource {
    fn stream(self: Box<Self>, request: StreamRequest) -> Result<InvocationStream, WorkloadError> {
        let this = *self;
        let minutes = Minutes {
            reader: MinuteReader::new(this.files, this.skip_bad_rows, Some(this.first_day)),
            functions: this.functions,
            keep: request.keep.clone(),
            window: request.window,
            cells: Vec::new(),
            skipped: LoadReport::default(),
            done: false,
        };
        Ok(Box::new(CountReplay::new(
            Box::new(minutes),
            this.arrivals,
            this.durations,
            request,
        )))
    }
}

/// The minutes of the files that overlap the window, with the kept functions' requests.
struct Minutes {
    reader: MinuteReader,
    functions: Functions,
    keep: Vec<bool>,
    window: Window,
    cells: Vec<(FunctionId, u32)>,
    /// Bad rows were reported when the trace was opened.
    skipped: LoadReport,
    done: bool,
}

impl Iterator for Minutes {
    type Item = Result<MinuteCounts, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let minute = match self.reader.next(
                &mut self.functions,
                false,
                &mut self.cells,
                &mut self.skipped,
            ) {
                Ok(Some(minute)) => minute,
                Ok(None) => break,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if minute * MICROS_PER_MIN >= self.window.end {
                break;
            }
            if !self.window.overlaps_minute(minute) {
                continue;
            }
            let keep = &self.keep;
            let cells: Vec<_> = self
                .cells
                .iter()
                .copied()
                .filter(|(f, _)| keep.get(f.index()).copied().unwrap_or(false))
                .collect();
            if !cells.is_empty() {
                return Some(Ok(MinuteCounts { minute, cells }));
            }
        }
        self.done = true;
        None
    }
}

/// Where the last valid row was, for messages about order.
#[derive(Clone, Copy)]
struct Last {
    minute: u64,
    file: usize,
    line: u64,
}

/// Reads the rows of the files in order, checking each.
struct MinuteReader {
    files: Vec<PathBuf>,
    /// Index in `files` of the next file to open.
    next_file: usize,
    current: Option<DayFile>,
    skip_bad_rows: bool,
    first_day: Option<u64>,
    last: Option<Last>,
    /// Header names that are neither `day`, `time` nor a function.
    ignored: BTreeSet<String>,
}

impl MinuteReader {
    fn new(files: Vec<PathBuf>, skip_bad_rows: bool, first_day: Option<u64>) -> Self {
        MinuteReader {
            files,
            next_file: 0,
            current: None,
            skip_bad_rows,
            first_day,
            last: None,
            ignored: BTreeSet::new(),
        }
    }

    /// The minute of the next valid row, with its non-zero cells in `cells`. `discover` adds
    /// function columns not yet in `functions`; otherwise they are an error. A malformed row is
    /// an error, or with `skip_bad_rows` is counted in `report` and passed over.
    fn next(
        &mut self,
        functions: &mut Functions,
        discover: bool,
        cells: &mut Vec<(FunctionId, u32)>,
        report: &mut LoadReport,
    ) -> Result<Option<u64>, WorkloadError> {
        loop {
            let file = match &mut self.current {
                Some(file) => file,
                None => {
                    let Some(path) = self.files.get(self.next_file) else {
                        return Ok(None);
                    };
                    let file = DayFile::open(path, functions, discover, &mut self.ignored)?;
                    self.next_file += 1;
                    self.current.insert(file)
                }
            };
            if !file.read()? {
                self.current = None;
                continue;
            }
            let file_index = self.next_file - 1;
            match file.parse(self.first_day, self.last, &self.files, cells) {
                Ok((minute, day)) => {
                    self.first_day.get_or_insert(day);
                    self.last = Some(Last {
                        minute,
                        file: file_index,
                        line: file.line(),
                    });
                    return Ok(Some(minute));
                }
                Err(e) => report.bad_row(self.skip_bad_rows, e)?,
            }
        }
    }
}

/// One open CSV file.
struct DayFile {
    path: PathBuf,
    reader: csv::Reader<crate::limits::LineLimit<File>>,
    header: StringRecord,
    record: ByteRecord,
    day: usize,
    time: usize,
    /// `(column, function)` of every function column.
    functions: Vec<(usize, FunctionId)>,
}

impl DayFile {
    fn open(
        path: &Path,
        functions: &mut Functions,
        discover: bool,
        ignored: &mut BTreeSet<String>,
    ) -> Result<Self, WorkloadError> {
        let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::Headers)
            .from_reader(file);
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        let file_error = |message: String| WorkloadError::File {
            path: path.display().to_string(),
            message,
        };
        let column = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                let mut found: Vec<&str> = header.iter().take(6).collect();
                if header.len() > found.len() {
                    found.push("...");
                }
                file_error(format!(
                    "the header has no column {name:?} (found {:?}); a Huawei 2023 trace has \
                     the columns {DAY_COLUMN},{TIME_COLUMN},0,1,2,... with one column per function",
                    found.join(",")
                ))
            })
        };
        let day = column(DAY_COLUMN)?;
        let time = column(TIME_COLUMN)?;
        let mut columns = Vec::new();
        let mut seen = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            if i == day || i == time {
                continue;
            }
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                ignored.insert(format!("{name:?}"));
                continue;
            }
            if let Some(first) = seen.insert(name, i) {
                return Err(file_error(format!(
                    "column {name:?} appears twice in the header, as columns {} and {}",
                    first + 1,
                    i + 1
                )));
            }
            let f = match functions.ids.get(name) {
                Some(&f) => f,
                None if discover => {
                    let f = FunctionId(functions.names.len() as u32);
                    functions.ids.insert(name.to_owned(), f);
                    functions.names.push(name.to_owned());
                    f
                }
                None => {
                    return Err(file_error(format!(
                        "column {name:?} was not in the trace when it was opened; the files \
                         changed since"
                    )));
                }
            };
            columns.push((i, f));
        }
        Ok(DayFile {
            path: path.to_path_buf(),
            reader,
            header,
            record: ByteRecord::new(),
            day,
            time,
            functions: columns,
        })
    }

    /// Reads the next record; false at the end of the file.
    fn read(&mut self) -> Result<bool, WorkloadError> {
        self.reader
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(&self.path, e))
    }

    fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    fn field(&self, column: usize) -> &[u8] {
        self.record.get(column).unwrap_or_default().trim_ascii()
    }

    /// Checks the record just read and returns its minute and day, with its non-zero cells in
    /// `cells`.
    fn parse(
        &self,
        first_day: Option<u64>,
        last: Option<Last>,
        files: &[PathBuf],
        cells: &mut Vec<(FunctionId, u32)>,
    ) -> Result<(u64, u64), WorkloadError> {
        let fail = |message: String| WorkloadError::Row {
            path: self.path.display().to_string(),
            line: self.line(),
            message,
        };
        if self.record.len() != self.header.len() {
            return Err(fail(format!(
                "has {} fields, but the header has {}",
                self.record.len(),
                self.header.len()
            )));
        }
        let text = |column: usize| String::from_utf8_lossy(self.field(column)).into_owned();
        let day = whole(self.field(self.day))
            .filter(|&d| d <= MAX_DAY)
            .ok_or_else(|| {
                fail(format!(
                    "{DAY_COLUMN} must be a whole number of days from 0 to {MAX_DAY}, got {:?}",
                    text(self.day)
                ))
            })?;
        let time = whole(self.field(self.time)).ok_or_else(|| {
            fail(format!(
                "{TIME_COLUMN} must be a whole number of seconds, got {:?}",
                text(self.time)
            ))
        })?;
        let second = if time < SECONDS_PER_DAY {
            time
        } else if time / SECONDS_PER_DAY == day {
            time % SECONDS_PER_DAY
        } else {
            return Err(fail(format!(
                "{TIME_COLUMN} {time} is neither seconds into the day (below {SECONDS_PER_DAY}) \
                 nor seconds since the start of the trace on day {day} ({} to {})",
                day * SECONDS_PER_DAY,
                day * SECONDS_PER_DAY + SECONDS_PER_DAY - 60
            )));
        };
        if second % 60 != 0 {
            return Err(fail(format!(
                "{TIME_COLUMN} must be the start of a minute (a multiple of 60 seconds), got {time}"
            )));
        }
        let first = first_day.unwrap_or(day);
        let Some(days) = day.checked_sub(first) else {
            return Err(fail(format!(
                "{DAY_COLUMN} {day} comes before day {first} of the first row; rows must be in \
                 time order, and files are read in name order"
            )));
        };
        let minute = days * MINUTES_PER_DAY + second / 60;
        if let Some(last) = last
            && minute <= last.minute
        {
            let place = if files.get(last.file) == Some(&self.path) {
                format!("line {}", last.line)
            } else {
                let previous = files.get(last.file).map_or(Path::new(""), |p| p.as_path());
                format!("{}, line {}", previous.display(), last.line)
            };
            return Err(fail(format!(
                "minute {minute} ({DAY_COLUMN} {day}, {TIME_COLUMN} {time}) does not come after \
                 minute {} on {place}; rows must be in increasing time order, and files are read \
                 in name order",
                last.minute
            )));
        }
        cells.clear();
        for &(column, f) in &self.functions {
            let n = count(self.field(column)).ok_or_else(|| {
                fail(format!(
                    "column {:?} must be a whole number of requests, NaN or empty, got {:?}",
                    self.header.get(column).unwrap_or_default(),
                    text(column)
                ))
            })?;
            if n > 0 {
                cells.push((f, n));
            }
        }
        Ok((minute, day))
    }
}

/// A whole number written as digits or as a float without fraction (`12`, `12.0`, `1e3`).
fn whole(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let x: f64 = text.parse().ok()?;
    // `u64::MAX as f64` is 2^64: anything below it converts exactly.
    (x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64).then_some(x as u64)
}

/// Requests in one cell: `NaN` or empty is none.
fn count(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.eq_ignore_ascii_case(b"nan") {
        return Some(0);
    }
    whole(text).and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use crate::synthetic::{BurrSpec, LogNormalSpec};
    use crate::trace::MemoryFallback;
    use crate::{Duration, Time};

    const MIN: Time = MICROS_PER_MIN;
    const SEC: Time = MICROS_PER_SEC;

    fn spec(path: PathBuf) -> TraceSpec {
        TraceSpec {
            path,
            memory_fallback: MemoryFallback::Fixed { mb: 256 },
            ..TraceSpec::default()
        }
    }

    /// Every invocation of the trace's stream as `(function, arrival, duration)`.
    fn replay(trace: Trace, spec: &TraceSpec) -> Vec<(u32, Time, Time)> {
        let request = StreamRequest {
            keep: vec![true; trace.catalog.functions.len()],
            scale: 1.0,
            window: spec.window(),
            seed: 7,
        };
        trace
            .source
            .stream(request)
            .unwrap()
            .map(|i| i.map(|i| (i.function.0, i.arrival, i.duration)))
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn arrivals(trace: Trace, spec: &TraceSpec) -> Vec<(u32, Time)> {
        replay(trace, spec)
            .into_iter()
            .map(|(f, arrival, _)| (f, arrival))
            .collect()
    }

    fn assert_mentions(message: &str, needles: &[&str]) {
        for needle in needles {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn nan_and_empty_cells_are_zero_and_whole_floats_count() {
        let dir = Scratch::new("hw-cells");
        let path = dir.file(
            "day_00.csv",
            "day,time,0,1,2\n0,0,NaN,,12.0\n0,60,3,nan,1\n0,120,,NaN,1e1",
        );
        let spec = spec(path);
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [3, 0, 23]);
        let names: Vec<_> = trace.catalog.functions.iter().map(|f| &f.name).collect();
        assert_eq!(names, ["0", "1", "2"]);
        let apps: Vec<_> = trace.catalog.apps.iter().map(|a| &a.name).collect();
        assert_eq!(apps, ["0", "1", "2"]);
        assert_eq!(trace.span, 3 * MIN);
        let got = arrivals(trace, &spec);
        assert_eq!(got.len(), 26);
        assert_eq!(got.iter().filter(|(f, _)| *f == 2).count(), 23);
        // 12 requests spread evenly over minute 0: every 5 s.
        let first: Vec<Time> = got.iter().take(12).map(|&(_, t)| t).collect();
        assert_eq!(first, (0..12).map(|i| i * 5 * SEC).collect::<Vec<_>>());
    }

    #[test]
    fn even_arrivals_spread_three_requests_over_their_minute() {
        let dir = Scratch::new("hw-even");
        let spec = spec(dir.file("day_00.csv", "day,time,0,1\n0,0,,\n0,60,3,\n"));
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [3, 0]);
        assert_eq!(
            arrivals(trace, &spec),
            [(0, 60 * SEC), (0, 80 * SEC), (0, 100 * SEC)]
        );
    }

    #[test]
    fn day_files_continue_minutes_across_days() {
        // Seconds into the day, and seconds since the start of the trace as the release writes
        // them: day 1 starts at 86,400 s. Files are written out of name order.
        for (test, day_one) in [
            ("hw-days-relative", "day,time,0\n1,0,1\n1,60,2\n"),
            ("hw-days-absolute", "day,time,0\n1,86400,1\n1,86460,2\n"),
        ] {
            let dir = Scratch::new(test);
            dir.file("day_01.csv", day_one);
            dir.file("day_00.csv", "day,time,0\n0,0,1\n0,86340,1\n");
            dir.file("notes.txt", "not a trace");
            let spec = spec(dir.path().to_path_buf());
            let trace = open(&spec, 1).unwrap();
            let names: Vec<_> = trace.report.files.iter().map(|f| f.file_name()).collect();
            assert_eq!(
                names,
                [Some("day_00.csv".as_ref()), Some("day_01.csv".as_ref())]
            );
            assert_eq!(trace.counts, [5]);
            // Minutes 0, 1439, 1440 and 1441; the trace ends with minute 1441.
            assert_eq!(trace.span, 1442 * MIN, "{test}");
            assert_eq!(
                arrivals(trace, &spec),
                [
                    (0, 0),
                    (0, 1439 * MIN),
                    (0, 1440 * MIN),
                    (0, 1441 * MIN),
                    (0, 1441 * MIN + 30 * SEC),
                ],
                "{test}"
            );
        }
    }

    #[test]
    fn directory_and_single_file_read_the_same() {
        let dir = Scratch::new("hw-dir-file");
        let text = "day,time,0,1\n3,0,2,1\n3,120,,4\n";
        let file = dir.file("day_03.csv", text);
        // The first day of the trace is the first row's, so day 3 starts at minute 0.
        let from_dir = spec(dir.path().to_path_buf());
        let from_file = spec(file);
        let a = open(&from_dir, 5).unwrap();
        let b = open(&from_file, 5).unwrap();
        assert_eq!(a.counts, [2, 5]);
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.span, 3 * MIN);
        assert_eq!(a.span, b.span);
        assert_eq!(a.catalog, b.catalog);
        let a = replay(a, &from_dir);
        assert_eq!(a.len(), 7);
        assert_eq!(a, replay(b, &from_file));

        let empty = Scratch::new("hw-empty-dir");
        let err = open(&spec(empty.path().to_path_buf()), 1).unwrap_err();
        assert_mentions(&err.to_string(), &["no .csv files"]);
    }

    #[test]
    fn window_counts_overlapping_minutes_in_full() {
        let dir = Scratch::new("hw-window");
        let path = dir.file("day_00.csv", "day,time,0\n0,0,4\n0,60,2\n0,120,6\n");
        // [30 s, 90 s) overlaps minutes 0 and 1: 4 + 2 requests count, but only the arrivals
        // at 30 s and 45 s of minute 0 and at 60 s of minute 1 are inside it.
        let spec = TraceSpec {
            start: Duration::from_secs(30),
            length: Some(Duration::from_secs(60)),
            ..spec(path)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [6]);
        assert_eq!(trace.span, 60 * SEC);
        assert_eq!(
            arrivals(trace, &spec),
            [(0, 0), (0, 15 * SEC), (0, 30 * SEC)]
        );
        // From 150 s to the end: the trace ends with minute 2, at 180 s.
        let spec = TraceSpec {
            start: Duration::from_secs(150),
            length: None,
            ..spec
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [6]);
        assert_eq!(trace.span, 30 * SEC);
        assert_eq!(
            arrivals(trace, &spec),
            [(0, 0), (0, 10 * SEC), (0, 20 * SEC)]
        );
    }

    /// Files as `(name, text)`, and what the error must mention.
    type OrderCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

    #[test]
    fn time_out_of_order_is_an_error() {
        let cases: [OrderCase; 3] = [
            (
                &[("day_00.csv", "day,time,0\n0,120,1\n0,60,1\n")],
                &["day_00.csv, line 3", "minute 1", "minute 2 on line 2"],
            ),
            (
                &[("day_00.csv", "day,time,0\n0,60,1\n0,60,1\n")],
                &["day_00.csv, line 3", "minute 1", "does not come after"],
            ),
            (
                &[
                    ("day_00.csv", "day,time,0\n1,0,1\n"),
                    ("day_01.csv", "day,time,0\n0,60,1\n"),
                ],
                &[
                    "day_01.csv, line 2",
                    "day 0 comes before day 1",
                    "name order",
                ],
            ),
        ];
        for (i, (files, needles)) in cases.into_iter().enumerate() {
            let dir = Scratch::new(&format!("hw-order-{i}"));
            for (name, text) in files {
                dir.file(name, text);
            }
            let err = open(&spec(dir.path().to_path_buf()), 1).unwrap_err();
            assert!(matches!(err, WorkloadError::Row { .. }), "{err}");
            assert_mentions(&err.to_string(), needles);
        }
        // Across files, the message names the file of the previous row.
        let dir = Scratch::new("hw-order-files");
        dir.file("day_00.csv", "day,time,0\n0,0,1\n0,120,1\n");
        dir.file("day_01.csv", "day,time,0\n0,60,1\n");
        let err = open(&spec(dir.path().to_path_buf()), 1).unwrap_err();
        assert_mentions(
            &err.to_string(),
            &["day_01.csv, line 2", "minute 2 on ", "day_00.csv, line 3"],
        );
    }

    #[test]
    fn bad_cells_name_file_line_column_and_value() {
        let cases: [(&str, &[&str]); 9] = [
            ("0,60,1,-1", &["column \"7\"", "\"-1\""]),
            ("0,60,1,1.5", &["column \"7\"", "\"1.5\""]),
            ("0,60,abc,1", &["column \"3\"", "\"abc\""]),
            ("0,60,1,inf", &["column \"7\"", "\"inf\""]),
            ("0,60,1,5000000000", &["column \"7\"", "\"5000000000\""]),
            ("0,30,1,1", &["time", "multiple of 60", "30"]),
            ("0,x,1,1", &["time", "\"x\""]),
            ("-1,60,1,1", &["day", "\"-1\""]),
            ("0,60,1", &["has 3 fields, but the header has 4"]),
        ];
        for (i, (row, needles)) in cases.into_iter().enumerate() {
            let dir = Scratch::new(&format!("hw-bad-{i}"));
            let text = format!("day,time,3,7\n0,0,1,1\n{row}\n0,120,1,1\n");
            let err = open(&spec(dir.file("day_00.csv", &text)), 1).unwrap_err();
            assert!(matches!(err, WorkloadError::Row { line: 3, .. }), "{err}");
            assert_mentions(
                &err.to_string(),
                &[&["day_00.csv, line 3"], needles].concat(),
            );
        }

        // With skip_bad_rows the bad rows are counted and the rest replayed.
        let dir = Scratch::new("hw-bad-skip");
        let text = "day,time,3,7\n0,0,1,1\n0,60,1,1.5\n0,30,1,1\n0,0,1,1\n0,120,2,NaN\n";
        let spec = TraceSpec {
            skip_bad_rows: true,
            ..spec(dir.file("day_00.csv", text))
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.report.bad_rows, 3);
        assert_eq!(trace.counts, [3, 1]);
        assert_eq!(trace.span, 3 * MIN);
        assert_eq!(
            arrivals(trace, &spec),
            [(0, 0), (1, 0), (0, 120 * SEC), (0, 150 * SEC)]
        );
    }

    #[test]
    fn header_without_day_time_or_functions_is_rejected() {
        let cases: [(&str, &[&str]); 4] = [
            (
                "minute,0,1\n0,1,1\n",
                &["no column \"day\"", "day,time,0,1,2"],
            ),
            ("day,0,1\n0,1,1\n", &["no column \"time\""]),
            ("day,time,name\n0,0,x\n", &["no function columns"]),
            ("day,time,0,0\n0,0,1,1\n", &["column \"0\" appears twice"]),
        ];
        for (i, (text, needles)) in cases.into_iter().enumerate() {
            let dir = Scratch::new(&format!("hw-header-{i}"));
            let err = open(&spec(dir.file("day_00.csv", text)), 1).unwrap_err();
            assert_mentions(&err.to_string(), &[&["day_00.csv"], needles].concat());
        }
        let dir = Scratch::new("hw-header-ignored");
        let path = dir.file("day_00.csv", "day,,time,0,region\n0,9,0,1,eu\n");
        let trace = open(&spec(path), 1).unwrap();
        assert_eq!(trace.catalog.functions.len(), 1);
        assert_mentions(&trace.report.notes.join("\n"), &["\"\", \"region\""]);
        let dir = Scratch::new("hw-no-rows");
        let err = open(&spec(dir.file("day_00.csv", "day,time,0\n")), 1).unwrap_err();
        assert_mentions(&err.to_string(), &["has no rows"]);
    }

    #[test]
    fn durations_stay_in_the_clamp_and_follow_the_seed() {
        // 40 functions with 30 requests each; means spread widely so that both clamps are hit.
        let mut text = "day,time".to_string();
        for f in 0..40 {
            text.push_str(&format!(",{f}"));
        }
        text.push_str("\n0,0");
        text.push_str(&",30".repeat(40));
        let dir = Scratch::new("hw-durations");
        let spec = TraceSpec {
            exec: LogNormalSpec {
                mu: 0.0,
                sigma: 4.0,
            },
            exec_jitter: 2.0,
            ..spec(dir.file("day_00.csv", &text))
        };
        let run = |seed| -> Vec<Time> {
            let trace = open(&spec, seed).unwrap();
            replay(trace, &spec).into_iter().map(|i| i.2).collect()
        };
        let durations = run(1);
        assert_eq!(durations.len(), 1200);
        assert!(durations.iter().all(|d| (1_000..=600_000_000).contains(d)));
        assert!(durations.contains(&1_000));
        assert!(durations.contains(&600_000_000));
        assert_eq!(durations, run(1));
        assert_ne!(durations, run(2));

        // With equal means (exec sigma 0) of 0.1 s, jitter keeps the mean: a log-normal of
        // sigma 0.5 has a standard deviation of 0.53 times its mean, so 3000 draws land within
        // 3 % of it with near certainty.
        let spec = TraceSpec {
            exec: LogNormalSpec {
                mu: 0.1f64.ln(),
                sigma: 0.0,
            },
            exec_jitter: 0.5,
            ..spec.clone()
        };
        let trace = open(&spec, 3).unwrap();
        let durations: Vec<Time> = replay(trace, &spec).into_iter().map(|i| i.2).collect();
        assert_eq!(durations.len(), 1200);
        let mean = durations.iter().sum::<Time>() as f64 / durations.len() as f64;
        assert!((mean / 100_000.0 - 1.0).abs() < 0.05, "{mean}");
    }

    #[test]
    fn memory_comes_from_the_fallback() {
        let dir = Scratch::new("hw-memory");
        let path = dir.file("day_00.csv", "day,time,0,1,2\n0,0,1,1,1\n");
        let fixed = TraceSpec {
            memory_fallback: MemoryFallback::Fixed { mb: 512 },
            ..spec(path.clone())
        };
        let trace = open(&fixed, 1).unwrap();
        assert_eq!(trace.app_memory_mb, [512, 512, 512]);
        assert!(trace.catalog.functions.iter().all(|f| f.memory_mb == 512));

        let burr = |min_mb, max_mb| TraceSpec {
            memory_fallback: MemoryFallback::Burr {
                burr: BurrSpec {
                    c: 11.652,
                    k: 0.221,
                    lambda: 107.083,
                },
                min_mb,
                max_mb,
            },
            ..spec(path.clone())
        };
        // A clamp of one value gives it to every app.
        let trace = open(&burr(300, 300), 1).unwrap();
        assert_eq!(trace.app_memory_mb, [300, 300, 300]);
        let memory = |seed| open(&burr(16, 4096), seed).unwrap().app_memory_mb;
        let drawn = memory(1);
        assert!(drawn.iter().all(|m| (16..=4096).contains(m)), "{drawn:?}");
        assert_eq!(drawn, memory(1));
        assert_ne!(drawn, memory(2));
    }

    #[test]
    fn odd_input_is_an_error_not_a_panic() {
        let inputs = [
            "\u{0}\u{1}",
            "day,time,0\n\"0,0,1\n",
            "day,time,0\n,,\n\n\n",
            "day,time,0\n1000001,0,1\n",
            "day,time,0\n0,1e300,1\n",
            "day,time,0\n0,18446744073709551615,1\n",
            "day,time,0\n1000000,86400000000,1\n",
            "day,time,0\n0,0,4294967296\n",
            "day,time,0,1\n0,0,-0,1e-320\n",
        ];
        for (i, text) in inputs.iter().enumerate() {
            let dir = Scratch::new(&format!("hw-odd-{i}"));
            let spec = spec(dir.file("day_00.csv", text));
            if let Ok(trace) = open(&spec, 1) {
                let request = StreamRequest {
                    keep: vec![true; trace.catalog.functions.len()],
                    scale: 1.0,
                    window: spec.window(),
                    seed: 1,
                };
                assert!(trace.source.stream(request).unwrap().next().is_some());
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_or_a_device_among_the_day_files_is_named() {
        use std::os::unix::fs::symlink;
        let error = |path: PathBuf| open(&spec(path), 1).map(|_| ()).unwrap_err().to_string();
        // One file given that is a device.
        let dir = Scratch::new("hw-kinds");
        let link = dir.path().join("null.csv");
        symlink("/dev/null", &link).unwrap();
        assert_mentions(
            &error(link),
            &[
                "null.csv",
                "is a device (a link to /dev/null), not a regular file",
            ],
        );
        // Day files of a directory that are not files are errors, not passed over.
        let dir = Scratch::new("hw-kinds-dir");
        dir.file("day_00.csv", "day,time,0\n0,0,1\n");
        fs::create_dir(dir.path().join("day_01.csv")).unwrap();
        assert_mentions(
            &error(dir.path().to_path_buf()),
            &["day_01.csv", "is a directory, not a regular file"],
        );
        fs::remove_dir(dir.path().join("day_01.csv")).unwrap();
        symlink("day_09.csv", dir.path().join("day_01.csv")).unwrap();
        assert_mentions(
            &error(dir.path().to_path_buf()),
            &["day_01.csv", "is a link to day_09.csv that does not exist"],
        );
        // Other names are still passed over.
        fs::remove_file(dir.path().join("day_01.csv")).unwrap();
        fs::create_dir(dir.path().join("notes")).unwrap();
        assert!(open(&spec(dir.path().to_path_buf()), 1).is_ok());
    }
}
