//! The Azure Functions Invocation Trace 2021 (Zhang et al., "Faster and Cheaper Serverless
//! Computing on Harvested Resources", SOSP'21): one row per invocation over two weeks.
//!
//! Source and description:
//! <https://github.com/Azure/AzurePublicDataset/blob/master/AzureFunctionsInvocationTrace2021.md>.
//! The data is licensed under CC-BY 4.0; cite the paper when you use it.
//!
//! # Format
//!
//! A CSV file with the header `app,func,end_timestamp,duration` (columns are found by name, so
//! extra columns and any order are accepted):
//!
//! - `app`: the app's hash; `func`: the function's hash, unique only within its app, so a
//!   function is the pair `(app, func)`.
//! - `end_timestamp`: when the invocation ended, in seconds from the start of the trace.
//! - `duration`: its execution time in seconds (`0.0` happens and is kept as 0).
//!
//! Rows are not sorted and the last line may lack a newline.
//!
//! # Reading
//!
//! - **Times.** Both values are rounded to the nearest microsecond and an invocation arrives at
//!   `end_timestamp - duration`, as In-Vitro's parser computes it. An invocation that would start
//!   before 0 (`end_timestamp < duration`) starts at 0 and keeps its recorded duration; the
//!   report's notes count them.
//! - **Functions and apps.** Function ids follow each `(app, func)` pair's first row and app ids
//!   each app's first row. Apps are named by their hash, functions by theirs; a function hash that
//!   a function of another app already uses is named `app/func` (see [`Names`]).
//! - **Memory.** The trace has none: each app's is drawn from `memory_fallback` and divided among
//!   its functions as `app_memory` says.
//! - **Window and span.** A function's count is the number of its invocations that start inside
//!   the window. The span runs from the window's start to the window's end or to one microsecond
//!   after the last start in the trace, whichever comes first: the shortest half-open interval
//!   that holds every replayed arrival.
//! - **Stream.** Invocations come out sorted by start, then function id, then duration (rows
//!   equal in all three are the same invocation, so file order cannot show). The file is read
//!   again and the kept invocations inside the window are sorted by an [`ExternalSorter`]: in
//!   memory up to its limit, in sorted runs on disk beyond it, so any file length is replayed in
//!   bounded memory. [`EventShaper`] then shifts them to the window's start and scales the rate.
//!
//! Malformed rows (a wrong number of fields, an empty or non-UTF-8 name, a time that is not a
//! finite number of seconds from 0 to 10^12) stop the reader with an error that names the file,
//! the line, the column and the value, or are counted and skipped with `skip_bad_rows`.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use crate::csv_util::{csv_error, io_error, regular_file};
use crate::sort::ExternalSorter;
use crate::time::MICROS_PER_SEC;
use crate::trace::{
    EventShaper, LoadReport, Names, StreamRequest, Trace, TraceFormat, TraceSource, TraceSpec,
    assign_memory, derive,
};
use crate::{
    App, AppId, Catalog, Duration, Function, FunctionId, Invocation, InvocationStream, Time,
    WorkloadError,
};

/// The columns the reader needs, in the order of the original file.
pub const COLUMNS: [&str; 4] = ["app", "func", "end_timestamp", "duration"];

const APP: usize = 0;
const FUNC: usize = 1;
const END: usize = 2;
const DURATION: usize = 3;

/// Largest time accepted, in seconds (about 31,700 years): it keeps every microsecond value far
/// from overflowing.
const MAX_SECONDS: f64 = 1e12;

/// Seed stream of the app memory drawn from `memory_fallback`.
const STREAM_MEMORY: u64 = 0x2021_0001;

/// What the stream sorts: `(arrival, function, duration)`.
type SortRecord = (Time, u32, Time);

/// Opens the trace at `spec.path`: one pass builds the catalog and counts invocations in the
/// window; the stream reads the file again.
pub fn open(spec: &TraceSpec, seed: u64) -> Result<Trace, WorkloadError> {
    open_with_sort_limit(spec, seed, ExternalSorter::<SortRecord>::DEFAULT_LIMIT)
}

/// [`open`], with the stream holding at most `sort_limit` invocations in memory while it sorts
/// them (at least one); more are sorted in runs on disk.
pub fn open_with_sort_limit(
    spec: &TraceSpec,
    seed: u64,
    sort_limit: usize,
) -> Result<Trace, WorkloadError> {
    spec.validate(TraceFormat::Azure2021)?;
    let path = spec.path.clone();
    let window = spec.window();
    // A directory or a device is refused by what it is; a missing file by the open below.
    regular_file(&path)?;
    let mut rows = Rows::open(&path)?;
    let mut report = LoadReport {
        files: vec![path.clone()],
        ..LoadReport::default()
    };
    let mut ids = Ids::default();
    let mut catalog = Catalog::default();
    let mut names = Names::default();
    let mut counts: Vec<u64> = Vec::new();
    let (mut clamped, mut zero) = (0u64, 0u64);
    let mut last_start: Option<Time> = None;
    while let Some(row) = rows.next(spec.skip_bad_rows, &mut report)? {
        let (app, func) = rows.names();
        let f = match ids.get(app, func) {
            Some(f) => f,
            None => {
                counts.push(0);
                ids.insert(app, func, &mut catalog, &mut names)
            }
        };
        if window.contains(row.start) {
            counts[f.index()] += 1;
        }
        last_start = last_start.max(Some(row.start));
        clamped += u64::from(row.clamped);
        zero += u64::from(row.duration == 0);
    }

    let file_error = |message: String| WorkloadError::File {
        path: path.display().to_string(),
        message,
    };
    let Some(last_start) = last_start else {
        return Err(file_error(format!(
            "has no invocations; expected the header {} and one row per invocation",
            COLUMNS.join(",")
        )));
    };
    if counts.iter().all(|&c| c == 0) {
        let end = match spec.length {
            Some(length) => format!("lasts {length}"),
            None => "runs to the end".to_string(),
        };
        return Err(file_error(format!(
            "has no invocation that starts in the window, which starts at {} and {end}; the \
             last invocation starts at {}",
            spec.start,
            Duration(last_start)
        )));
    }
    let span = (last_start + 1).min(window.end) - window.start;

    if clamped > 0 {
        report.notes.push(format!(
            "{clamped} invocations end before their duration has passed (end_timestamp < \
             duration): they start at 0"
        ));
    }
    if zero > 0 {
        report
            .notes
            .push(format!("{zero} invocations have a duration of 0"));
    }
    report
        .notes
        .push("the trace records no memory: app memory is drawn from memory_fallback".to_string());
    let app_memory_mb = spec
        .memory_fallback
        .draw(catalog.apps.len(), derive(seed, STREAM_MEMORY));
    assign_memory(&mut catalog, &app_memory_mb, spec.app_memory);

    Ok(Trace {
        format: TraceFormat::Azure2021,
        catalog,
        counts,
        app_memory_mb,
        span,
        report,
        source: Box::new(Azure2021Source {
            path,
            ids,
            skip_bad_rows: spec.skip_bad_rows,
            sort_limit,
        }),
    })
}

/// Function ids by app hash, then function hash.
#[derive(Default)]
struct Ids {
    apps: HashMap<String, (AppId, HashMap<String, FunctionId>)>,
}

impl Ids {
    fn get(&self, app: &str, func: &str) -> Option<FunctionId> {
        self.apps.get(app)?.1.get(func).copied()
    }

    /// Adds the function (and its app, if new) to the catalog.
    fn insert(
        &mut self,
        app: &str,
        func: &str,
        catalog: &mut Catalog,
        names: &mut Names,
    ) -> FunctionId {
        let (app_id, functions) = self.apps.entry(app.to_owned()).or_insert_with(|| {
            catalog.apps.push(App {
                name: app.to_owned(),
            });
            (AppId(catalog.apps.len() as u32 - 1), HashMap::new())
        });
        let id = FunctionId(catalog.functions.len() as u32);
        functions.insert(func.to_owned(), id);
        catalog.functions.push(Function {
            name: names.unique(func, app),
            app: *app_id,
            memory_mb: 0,
            concurrency: None,
            init: None,
            packages: Vec::new(),
        });
        id
    }
}

struct Azure2021Source {
    path: PathBuf,
    ids: Ids,
    skip_bad_rows: bool,
    sort_limit: usize,
}

impl TraceSource for Azure2021Source {
    fn stream(self: Box<Self>, request: StreamRequest) -> Result<InvocationStream, WorkloadError> {
        let mut rows = Rows::open(&self.path)?;
        let mut sorter = ExternalSorter::<SortRecord>::with_limit(self.sort_limit);
        // Bad rows were reported when the trace was opened.
        let mut skipped = LoadReport::default();
        while let Some(row) = rows.next(self.skip_bad_rows, &mut skipped)? {
            if !request.window.contains(row.start) {
                continue;
            }
            let (app, func) = rows.names();
            let f = self.ids.get(app, func).ok_or_else(|| WorkloadError::Row {
                path: self.path.display().to_string(),
                line: row.line,
                message: format!(
                    "function {func:?} of app {app:?} was not in the file when the trace was \
                     opened; the file changed since"
                ),
            })?;
            if request.keep.get(f.index()).copied().unwrap_or(false) {
                sorter.push((row.start, f.0, row.duration))?;
            }
        }
        let sorted = sorter.finish()?.map(|r| {
            r.map(|(arrival, f, duration)| Invocation {
                function: FunctionId(f),
                arrival,
                duration,
            })
        });
        Ok(Box::new(EventShaper::new(Box::new(sorted), request)))
    }
}

/// The numbers of one valid row; its names are read with [`Rows::names`].
#[derive(Clone, Copy, Debug)]
struct Row {
    line: u64,
    start: Time,
    duration: Time,
    /// `end_timestamp < duration`: the start was clamped to 0.
    clamped: bool,
}

/// Reads and checks the rows of a trace file.
struct Rows {
    path: PathBuf,
    reader: csv::Reader<crate::limits::LineLimit<File>>,
    record: ByteRecord,
    /// Position of each of [`COLUMNS`] in the header.
    columns: [usize; 4],
    fields: usize,
}

impl Rows {
    fn open(path: &Path) -> Result<Self, WorkloadError> {
        let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
        // Flexible, so that a row with the wrong number of fields is reported (or skipped) here
        // like any other malformed row.
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::Headers)
            .from_reader(file);
        let header = reader.headers().map_err(|e| csv_error(path, e))?;
        let mut columns = [0; 4];
        for (slot, name) in columns.iter_mut().zip(COLUMNS) {
            *slot = header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| WorkloadError::File {
                    path: path.display().to_string(),
                    message: format!(
                        "the header has no column {name:?} (found {:?}); an Azure 2021 trace has \
                         the columns {}",
                        header.iter().collect::<Vec<_>>().join(","),
                        COLUMNS.join(",")
                    ),
                })?;
        }
        let fields = header.len();
        Ok(Rows {
            path: path.to_path_buf(),
            reader,
            record: ByteRecord::new(),
            columns,
            fields,
        })
    }

    /// The next valid row. A malformed row is an error, or with `skip` is counted in `report` and
    /// passed over.
    fn next(&mut self, skip: bool, report: &mut LoadReport) -> Result<Option<Row>, WorkloadError> {
        loop {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !more {
                return Ok(None);
            }
            match self.parse() {
                Ok(row) => return Ok(Some(row)),
                Err(e) => report.bad_row(skip, e)?,
            }
        }
    }

    fn field(&self, column: usize) -> &[u8] {
        self.record
            .get(self.columns[column])
            .unwrap_or_default()
            .trim_ascii()
    }

    /// The app and function hashes of the row [`Rows::next`] returned last.
    fn names(&self) -> (&str, &str) {
        // `parse` checked that both are UTF-8.
        let text = |column| std::str::from_utf8(self.field(column)).unwrap_or_default();
        (text(APP), text(FUNC))
    }

    fn parse(&self) -> Result<Row, WorkloadError> {
        let line = self.record.position().map_or(0, |p| p.line());
        let fail = |message: String| WorkloadError::Row {
            path: self.path.display().to_string(),
            line,
            message,
        };
        if self.record.len() != self.fields {
            return Err(fail(format!(
                "has {} fields, but the header has {}",
                self.record.len(),
                self.fields
            )));
        }
        for column in [APP, FUNC] {
            let text = self.field(column);
            if text.is_empty() {
                return Err(fail(format!(
                    "{} is empty; every invocation names its app and function",
                    COLUMNS[column]
                )));
            }
            if std::str::from_utf8(text).is_err() {
                return Err(fail(format!(
                    "{} is not valid UTF-8, got {:?}",
                    COLUMNS[column],
                    String::from_utf8_lossy(text)
                )));
            }
        }
        let micros = |column: usize| {
            let text = self.field(column);
            std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|s| (0.0..=MAX_SECONDS).contains(s))
                .map(|s| (s * MICROS_PER_SEC as f64).round() as Time)
                .ok_or_else(|| {
                    fail(format!(
                        "{} must be a number of seconds from 0 to 1e12, got {:?}",
                        COLUMNS[column],
                        String::from_utf8_lossy(text)
                    ))
                })
        };
        let end = micros(END)?;
        let duration = micros(DURATION)?;
        crate::limits::check_arrival(end).map_err(|e| fail(format!("{}: {e}", COLUMNS[END])))?;
        crate::limits::check_duration(duration)
            .map_err(|e| fail(format!("{}: {e}", COLUMNS[DURATION])))?;
        Ok(Row {
            line,
            start: end.saturating_sub(duration),
            duration,
            clamped: end < duration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use crate::trace::{MemoryFallback, RateScale, Window};

    const HEADER: &str = "app,func,end_timestamp,duration\n";

    /// Rows out of order: (a1,f1) is function 0, (a1,f2) 1 and (a2,f1) 2.
    const UNSORTED: &str = "app,func,end_timestamp,duration\n\
                            a1,f1,10.5,0.5\n\
                            a1,f2,3.25,1.0\n\
                            a2,f1,7.000001,2\n\
                            a1,f1,2.25,0";

    fn spec(path: PathBuf) -> TraceSpec {
        TraceSpec {
            path,
            memory_fallback: MemoryFallback::Fixed { mb: 256 },
            ..TraceSpec::default()
        }
    }

    /// Every invocation of the trace's stream as `(function, arrival, duration)`.
    fn replay(trace: Trace, window: Window) -> Vec<(u32, Time, Time)> {
        let keep = vec![true; trace.catalog.functions.len()];
        let request = StreamRequest {
            keep,
            scale: 1.0,
            window,
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

    fn open_text(test: &str, text: &str) -> (Scratch, Result<Trace, WorkloadError>) {
        let dir = Scratch::new(test);
        let path = dir.file("trace.csv", text);
        let trace = open(&spec(path), 1);
        (dir, trace)
    }

    fn assert_mentions(message: &str, needles: &[&str]) {
        for needle in needles {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn unsorted_rows_come_out_sorted_by_start() {
        let (_dir, trace) = open_text("az21-unsorted", UNSORTED);
        let trace = trace.unwrap();
        let window = Window {
            start: 0,
            end: Time::MAX,
        };
        // Starts: 10.5 - 0.5 = 10 s, 3.25 - 1 = 2.25 s, 7.000001 - 2 = 5.000001 s, 2.25 - 0.
        // The two starts at 2.25 s are ordered by function id, not by line.
        assert_eq!(
            replay(trace, window),
            [
                (0, 2_250_000, 0),
                (1, 2_250_000, 1_000_000),
                (2, 5_000_001, 2_000_000),
                (0, 10_000_000, 500_000),
            ]
        );
    }

    #[test]
    fn same_function_hash_in_two_apps_is_two_functions() {
        let (_dir, trace) = open_text("az21-two-apps", UNSORTED);
        let trace = trace.unwrap();
        let names: Vec<_> = trace.catalog.functions.iter().map(|f| &f.name).collect();
        assert_eq!(names, ["f1", "f2", "a2/f1"]);
        let apps: Vec<_> = trace.catalog.apps.iter().map(|a| &a.name).collect();
        assert_eq!(apps, ["a1", "a2"]);
        let owners: Vec<_> = trace.catalog.functions.iter().map(|f| f.app.0).collect();
        assert_eq!(owners, [0, 0, 1]);
    }

    #[test]
    fn last_row_without_newline_is_read() {
        for (test, text) in [
            ("az21-no-newline", UNSORTED.to_string()),
            ("az21-newline", format!("{UNSORTED}\n")),
        ] {
            let (_dir, trace) = open_text(test, &text);
            // The last row, (a1,f1) ending at 2.25 s, is the second invocation of function 0.
            assert_eq!(trace.unwrap().counts, [2, 1, 1], "{test}");
        }
    }

    #[test]
    fn counts_span_and_memory() {
        let (_dir, trace) = open_text("az21-counts", UNSORTED);
        let trace = trace.unwrap();
        assert_eq!(trace.counts, [2, 1, 1]);
        // One microsecond after the last start, at 10 s.
        assert_eq!(trace.span, 10_000_001);
        assert_eq!(trace.format, TraceFormat::Azure2021);
        assert_eq!(trace.report.bad_rows, 0);
        assert_mentions(
            &trace.report.notes.join("\n"),
            &["1 invocations have a duration of 0"],
        );
        // 256 MB per app, split between a1's two functions.
        assert_eq!(trace.app_memory_mb, [256, 256]);
        let memory: Vec<_> = trace
            .catalog
            .functions
            .iter()
            .map(|f| f.memory_mb)
            .collect();
        assert_eq!(memory, [128, 128, 256]);
    }

    #[test]
    fn window_clips_and_shifts() {
        let dir = Scratch::new("az21-window");
        let path = dir.file("trace.csv", UNSORTED);
        // [3 s, 8 s) holds only the start at 5.000001 s, which arrives 2.000001 s in.
        let spec = TraceSpec {
            start: Duration::from_secs(3),
            length: Some(Duration::from_secs(5)),
            ..spec(path.clone())
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [0, 0, 1]);
        assert_eq!(trace.span, 5_000_000);
        assert_eq!(replay(trace, spec.window()), [(2, 2_000_001, 2_000_000)]);

        // From 3 s to the end: the span ends one microsecond after the start at 10 s.
        let spec = TraceSpec {
            start: Duration::from_secs(3),
            ..self::spec(path.clone())
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [1, 0, 1]);
        assert_eq!(trace.span, 7_000_001);
        assert_eq!(
            replay(trace, spec.window()),
            [(2, 2_000_001, 2_000_000), (0, 7_000_000, 500_000)]
        );

        // A window after the last start is an error that says where the trace ends.
        let spec = TraceSpec {
            start: Duration::from_secs(20),
            ..self::spec(path)
        };
        let err = open(&spec, 1).unwrap_err().to_string();
        assert_mentions(&err, &["trace.csv", "no invocation", "20s", "10s"]);
    }

    #[test]
    fn start_before_zero_is_clamped_and_noted() {
        let text = format!("{HEADER}a,f,1.0,2.5\na,f,4,1\n");
        let (_dir, trace) = open_text("az21-clamp", &text);
        let trace = trace.unwrap();
        assert_mentions(
            &trace.report.notes.join("\n"),
            &["1 invocations end before", "start at 0"],
        );
        let window = Window {
            start: 0,
            end: Time::MAX,
        };
        assert_eq!(
            replay(trace, window),
            [(0, 0, 2_500_000), (0, 3_000_000, 1_000_000)]
        );
    }

    #[test]
    fn rate_multiply_keeps_about_half_deterministically() {
        // 1000 invocations of two functions, 10 ms apart.
        let mut text = HEADER.to_string();
        for i in 0..1000 {
            text.push_str(&format!("a,f{},{:.2},0\n", i % 2, f64::from(i) / 100.0));
        }
        let dir = Scratch::new("az21-rate");
        let spec = TraceSpec {
            rate: Some(RateScale::Multiply(0.5)),
            ..spec(dir.file("trace.csv", &text))
        };
        let run = |seed| -> Vec<Invocation> {
            let (w, selection) = open(&spec, seed)
                .unwrap()
                .into_workload(&spec, seed)
                .unwrap();
            assert_eq!(selection.scale, 0.5);
            w.invocations.map(Result::unwrap).collect()
        };
        let first = run(3);
        // Binomial(1000, 0.5): mean 500, standard deviation 15.8.
        assert!((430..=570).contains(&first.len()), "{}", first.len());
        assert!(first.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        assert_eq!(first, run(3));
        assert_ne!(first, run(4));
    }

    #[test]
    fn bad_rows_name_file_line_column_and_value() {
        let cases: [(&str, &[&str]); 8] = [
            (
                "a,f,abc,1",
                &["line 3", "end_timestamp", "seconds", "\"abc\""],
            ),
            ("a,f,1", &["line 3", "has 3 fields, but the header has 4"]),
            ("a,f,5,-1", &["line 3", "duration", "\"-1\""]),
            ("a,f,NaN,1", &["line 3", "end_timestamp", "\"NaN\""]),
            ("a,f,5,inf", &["line 3", "duration", "\"inf\""]),
            ("a,f,2e12,1", &["line 3", "end_timestamp", "\"2e12\""]),
            (",f,5,1", &["line 3", "app is empty"]),
            ("a,,5,1", &["line 3", "func is empty"]),
        ];
        for (i, (row, needles)) in cases.into_iter().enumerate() {
            let text = format!("{HEADER}a,f,1,1\n{row}\na,f,2,1\n");
            let (_dir, trace) = open_text(&format!("az21-bad-{i}"), &text);
            let err = trace.unwrap_err();
            assert!(matches!(err, WorkloadError::Row { line: 3, .. }), "{err}");
            assert_mentions(&err.to_string(), &[&["trace.csv"], needles].concat());
        }
    }

    #[test]
    fn skip_bad_rows_counts_them() {
        let text =
            format!("{HEADER}a,f,1,1\na,f,abc,1\na,f,1\na,f,5,-1\nb,g,3,0.5\n,f,5,1\na,f,2,1");
        let dir = Scratch::new("az21-skip");
        let spec = TraceSpec {
            skip_bad_rows: true,
            ..spec(dir.file("trace.csv", &text))
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.report.bad_rows, 4);
        assert_eq!(trace.report.bad_row_examples.len(), 4);
        assert_mentions(&trace.report.bad_row_examples[0], &["line 3", "\"abc\""]);
        assert_eq!(trace.counts, [2, 1]);
        assert_eq!(
            replay(trace, spec.window()),
            [
                (0, 0, 1_000_000),
                (0, 1_000_000, 1_000_000),
                (1, 2_500_000, 500_000)
            ]
        );
    }

    #[test]
    fn wrong_header_names_the_expected_columns() {
        let (_dir, trace) = open_text("az21-header", "app,function,end,duration\na,f,1,1\n");
        let err = trace.unwrap_err();
        assert!(matches!(err, WorkloadError::File { .. }), "{err}");
        assert_mentions(
            &err.to_string(),
            &[
                "trace.csv",
                "no column \"func\"",
                "app,function,end,duration",
                "app,func,end_timestamp,duration",
            ],
        );
        let (_dir, trace) = open_text("az21-empty", "");
        assert_mentions(&trace.unwrap_err().to_string(), &["no column \"app\""]);
        let (_dir, trace) = open_text("az21-header-only", HEADER);
        assert_mentions(&trace.unwrap_err().to_string(), &["has no invocations"]);
        let dir = Scratch::new("az21-missing");
        let err = open(&spec(dir.path().join("absent.csv")), 1).unwrap_err();
        assert!(matches!(err, WorkloadError::Io { .. }), "{err}");
    }

    #[test]
    fn tiny_sort_limit_gives_the_same_stream() {
        // 500 rows in scrambled order, 7 functions in 3 apps, many equal starts.
        let mut text = HEADER.to_string();
        let mut x = 12345u64;
        for _ in 0..500 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (app, func) = ((x >> 33) % 3, (x >> 40) % 7);
            let end = (x >> 20) % 50;
            let duration = (x >> 50) % 3;
            text.push_str(&format!("a{app},f{func},{end},{duration}\n"));
        }
        let dir = Scratch::new("az21-sort-limit");
        let spec = spec(dir.file("trace.csv", &text));
        let window = spec.window();
        let large = replay(open(&spec, 1).unwrap(), window);
        let tiny = replay(open_with_sort_limit(&spec, 1, 7).unwrap(), window);
        assert_eq!(large.len(), 500);
        assert_eq!(tiny, large);
        let mut expected = large.clone();
        expected.sort_by_key(|&(f, arrival, duration)| (arrival, f, duration));
        assert_eq!(large, expected);
    }

    #[test]
    fn odd_input_is_an_error_not_a_panic() {
        let inputs = [
            "\u{0}\u{1}\u{2}",
            "app,func,end_timestamp,duration\n\"a,f,1,1\n",
            "app,func,end_timestamp,duration\n,,,\n,,\n\n\n",
            "app,func,end_timestamp,duration,app\na,f,1,1,b\n",
            "app,func,end_timestamp,duration\na,f,1e308,1e308\na,f,-0,0\n",
            "duration,end_timestamp,func,app\n1,2,\u{e9},\u{ff}\n",
        ];
        for (i, text) in inputs.iter().enumerate() {
            let (_dir, trace) = open_text(&format!("az21-odd-{i}"), text);
            if let Ok(trace) = trace {
                let window = Window {
                    start: 0,
                    end: Time::MAX,
                };
                assert!(!replay(trace, window).is_empty());
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_or_a_device_is_named_for_what_it_is() {
        let dir = Scratch::new("az21-kinds");
        let error = |path: PathBuf| open(&spec(path), 1).map(|_| ()).unwrap_err().to_string();
        let link = dir.path().join("null.csv");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert_mentions(
            &error(link),
            &[
                "null.csv",
                "is a device (a link to /dev/null), not a regular file",
            ],
        );
        assert_mentions(
            &error(dir.path().to_path_buf()),
            &["az21-kinds", "is a directory, not a regular file"],
        );
        let message = error(dir.path().join("missing.csv"));
        assert_mentions(&message, &["missing.csv", "No such file"]);
    }
}
