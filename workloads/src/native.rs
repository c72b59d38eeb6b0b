//! lambdasim's own trace format: a directory with two CSV files.
//!
//! - `functions.csv`, header `function,app,memory_mb,concurrency,init_us`: one row per function.
//!   An empty `concurrency` or `init_us` (or no such column) takes the platform default; `init_us`
//!   is the handler initialization time of the function's cold starts.
//! - `invocations.csv`, header `function,arrival_us,duration_us`: one row per invocation, sorted by
//!   `arrival_us`, naming the function by its name.
//!
//! Columns are found by name, so extra columns are ignored and their order is free. Function ids
//! follow the order of `functions.csv`; app ids follow each app's first appearance. The catalog is
//! read eagerly and the invocations lazily, so a trace of any length is replayed in memory
//! proportional to its functions.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};

use crate::csv_util::{csv_error, io_error, row_error};
use crate::packages::PackageCatalog;
use crate::trace::{
    EventShaper, LoadReport, StreamRequest, Trace, TraceFormat, TraceSource, TraceSpec, Window,
};
use crate::{
    App, AppId, Catalog, Function, FunctionId, Invocation, InvocationStream, Time, Workload,
    WorkloadError,
};

/// Name of the catalog file inside a trace directory.
pub const FUNCTIONS_FILE: &str = "functions.csv";
/// Name of the invocation file inside a trace directory.
pub const INVOCATIONS_FILE: &str = "invocations.csv";
/// Name of the optional package catalogue inside a trace directory (see [`crate::packages`]).
pub const PACKAGES_FILE: &str = "packages.json";

/// Writes the catalog and all invocations (consuming the stream) into `dir`, creating it if
/// missing. Returns the number of invocations written; stream errors are passed on.
///
/// Refuses what could not be read back the same: empty, duplicate or space-padded names, zero
/// memory or concurrency, invocations of unknown functions and arrivals out of order.
pub fn write(
    dir: &Path,
    catalog: &Catalog,
    invocations: impl Iterator<Item = Result<Invocation, WorkloadError>>,
) -> Result<u64, WorkloadError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    check_catalog(catalog)?;

    let path = dir.join(FUNCTIONS_FILE);
    let mut out = csv_writer(&path)?;
    let fail = |e: csv::Error| csv_error(&path, e);
    let with_packages = !catalog.packages.is_empty();
    if with_packages {
        catalog.packages.write_native(&dir.join(PACKAGES_FILE))?;
    }
    let mut header = vec!["function", "app", "memory_mb", "concurrency", "init_us"];
    if with_packages {
        header.push("packages");
    }
    out.write_record(&header).map_err(fail)?;
    for f in &catalog.functions {
        let concurrency = f.concurrency.map(|c| c.to_string()).unwrap_or_default();
        let init = f.init.map(|c| c.to_string()).unwrap_or_default();
        let packages = f
            .packages
            .iter()
            .map(|&p| catalog.packages.package(p).key())
            .collect::<Vec<_>>()
            .join(";");
        let mut row = vec![f.name.as_str(), catalog.app(f.app).name.as_str()];
        let (memory, concurrency, init) = (f.memory_mb.to_string(), concurrency, init);
        row.extend([memory.as_str(), concurrency.as_str(), init.as_str()]);
        if with_packages {
            row.push(&packages);
        }
        out.write_record(&row).map_err(fail)?;
    }
    finish(out, &path)?;

    let path = dir.join(INVOCATIONS_FILE);
    let mut out = csv_writer(&path)?;
    let fail = |e: csv::Error| csv_error(&path, e);
    out.write_record(["function", "arrival_us", "duration_us"])
        .map_err(fail)?;
    // Reused across rows so that writing allocates nothing per invocation.
    let (mut arrival, mut duration) = (Vec::new(), Vec::new());
    let mut written = 0u64;
    let mut previous = 0;
    for inv in invocations {
        let inv = inv?;
        let name = catalog
            .functions
            .get(inv.function.index())
            .map(|f| f.name.as_bytes())
            .ok_or_else(|| {
                WorkloadError::Parameter(format!(
                    "invocation {written} names function id {}, but the catalog has only {} functions",
                    inv.function.0,
                    catalog.functions.len()
                ))
            })?;
        if inv.arrival < previous {
            return Err(WorkloadError::Parameter(format!(
                "invocation {written} arrives at {}us, before the previous one at {previous}us; \
                 a trace must be sorted by arrival",
                inv.arrival
            )));
        }
        previous = inv.arrival;
        arrival.clear();
        duration.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(arrival, "{}", inv.arrival);
        let _ = write!(duration, "{}", inv.duration);
        out.write_record([name, &arrival, &duration])
            .map_err(fail)?;
        written += 1;
    }
    finish(out, &path)?;
    Ok(written)
}

/// Reads the catalog eagerly and returns a workload whose invocation stream reads
/// `invocations.csv` lazily. Every error names the file, the line and the field.
pub fn read(dir: &Path) -> Result<Workload, WorkloadError> {
    let (catalog, ids) = read_catalog(dir)?;
    let invocations = InvocationReader::open(&dir.join(INVOCATIONS_FILE), ids)?;
    Ok(Workload {
        catalog,
        invocations: Box::new(invocations),
    })
}

/// Opens a native trace for sampling and shaping (see [`crate::trace`]): reads the catalog and
/// counts each function's invocations inside the window in one pass over `invocations.csv`
/// (split at commas, in parts on as many threads as there are cores for a long file, and read
/// with the CSV reader when a row needs it); the stream reads the file again.
pub fn open(spec: &TraceSpec, _seed: u64) -> Result<Trace, WorkloadError> {
    spec.validate(TraceFormat::Native)?;
    let dir = &spec.path;
    let functions = dir.join(FUNCTIONS_FILE);
    let invocations = dir.join(INVOCATIONS_FILE);
    let (catalog, ids) = read_catalog(dir)?;
    let window = spec.window();
    let reader = InvocationReader::open(&invocations, ids.clone())?;
    let parts = scan_part_count(&invocations);
    let found = match reader.scan_window(catalog.functions.len(), window, parts) {
        Some(found) => found,
        None => reader.count_window(catalog.functions.len(), window)?,
    };
    let WindowCounts { counts, last } = found;
    let span = match last {
        Some(t) if t >= window.start => t + 1 - window.start,
        _ => {
            return Err(WorkloadError::File {
                path: invocations.display().to_string(),
                message: format!(
                    "has no invocations at or after the window's start ({})",
                    crate::Duration(window.start)
                ),
            });
        }
    };
    // App memory for app granularity: the sum of its functions' memory.
    let mut app_memory_mb = vec![0u32; catalog.apps.len()];
    for f in &catalog.functions {
        let m = &mut app_memory_mb[f.app.index()];
        *m = m.saturating_add(f.memory_mb);
    }
    Ok(Trace {
        format: TraceFormat::Native,
        catalog,
        counts,
        app_memory_mb,
        span,
        report: LoadReport {
            files: vec![functions, invocations.clone()],
            ..LoadReport::default()
        },
        source: Box::new(NativeSource { invocations, ids }),
    })
}

struct NativeSource {
    invocations: PathBuf,
    ids: FunctionIds,
}

impl TraceSource for NativeSource {
    fn stream(self: Box<Self>, request: StreamRequest) -> Result<InvocationStream, WorkloadError> {
        let reader = InvocationReader::open(&self.invocations, self.ids)?;
        Ok(Box::new(EventShaper::new(Box::new(reader), request)))
    }
}

fn check_catalog(catalog: &Catalog) -> Result<(), WorkloadError> {
    let unreadable = |kind: &str, name: &str| {
        WorkloadError::Parameter(format!(
            "{kind} name {name:?} cannot be written: names must be non-empty and must not start \
             or end with spaces"
        ))
    };
    for a in &catalog.apps {
        if a.name.is_empty() || a.name.trim_ascii() != a.name {
            return Err(unreadable("app", &a.name));
        }
    }
    let mut seen = HashSet::new();
    for f in &catalog.functions {
        if f.name.is_empty() || f.name.trim_ascii() != f.name {
            return Err(unreadable("function", &f.name));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(WorkloadError::Parameter(format!(
                "function name {:?} appears twice in the catalog; names must be unique",
                f.name
            )));
        }
        if f.app.index() >= catalog.apps.len() {
            return Err(WorkloadError::Parameter(format!(
                "function {:?} belongs to app id {}, but the catalog has only {} apps",
                f.name,
                f.app.0,
                catalog.apps.len()
            )));
        }
        if f.memory_mb == 0 || f.concurrency == Some(0) {
            return Err(WorkloadError::Parameter(format!(
                "function {:?} cannot be written: memory_mb and concurrency must be positive",
                f.name
            )));
        }
    }
    Ok(())
}

fn csv_writer(path: &Path) -> Result<csv::Writer<File>, WorkloadError> {
    let file = File::create(path).map_err(|e| io_error(path, e))?;
    Ok(csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(file))
}

/// Flushes explicitly because dropping a writer would swallow the error.
fn finish(mut out: csv::Writer<File>, path: &Path) -> Result<(), WorkloadError> {
    out.flush().map_err(|e| io_error(path, e))
}

/// The functions, with the package catalogue of `packages.json` when the directory has one.
fn read_catalog(dir: &Path) -> Result<(Catalog, FunctionIds), WorkloadError> {
    let packages_path = dir.join(PACKAGES_FILE);
    let packages = if packages_path.exists() {
        PackageCatalog::read_native(&packages_path)?
    } else {
        PackageCatalog::default()
    };
    let (mut catalog, ids) = read_functions(&dir.join(FUNCTIONS_FILE), &packages)?;
    catalog.packages = packages;
    Ok((catalog, ids))
}

fn read_functions(
    path: &Path,
    packages: &PackageCatalog,
) -> Result<(Catalog, FunctionIds), WorkloadError> {
    let mut reader = csv_reader(path)?;
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let name_col = column(path, &header, "function")?;
    let app_col = column(path, &header, "app")?;
    let memory_col = column(path, &header, "memory_mb")?;
    let concurrency_col = header.iter().position(|h| h == "concurrency");
    let init_col = header.iter().position(|h| h == "init_us");
    let packages_col = header.iter().position(|h| h == "packages");
    let keys = packages.key_index();

    let mut catalog = Catalog::default();
    let mut ids = FunctionIds::default();
    let mut first_line: Vec<u64> = Vec::new();
    let mut app_ids: HashMap<String, AppId> = HashMap::new();
    let mut record = StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(path, e))?
    {
        let line = record.position().map_or(0, |p| p.line());
        let row_error = |message: String| row_error(path, line, message);
        let field = |col: usize| record.get(col).unwrap_or_default().trim_ascii();
        let name = field(name_col);
        if name.is_empty() {
            return Err(row_error(
                "function is empty; every function needs a name".into(),
            ));
        }
        if let Some(id) = ids.get(name.as_bytes()) {
            return Err(row_error(format!(
                "function {name:?} is defined twice, first on line {}",
                first_line[id.index()]
            )));
        }
        let app = field(app_col);
        if app.is_empty() {
            return Err(row_error(format!(
                "app of function {name:?} is empty; every function belongs to a named app"
            )));
        }
        let memory_mb = positive(field(memory_col)).ok_or_else(|| {
            row_error(format!(
                "memory_mb must be a positive whole number of MB, got {:?}",
                field(memory_col)
            ))
        })?;
        let concurrency = match concurrency_col.map(field) {
            None | Some("") => None,
            Some(text) => Some(positive(text).ok_or_else(|| {
                row_error(format!(
                    "concurrency must be a positive whole number or empty for the platform \
                     default, got {text:?}"
                ))
            })?),
        };
        let init = match init_col.map(field) {
            None | Some("") => None,
            Some(text) => {
                let us = parse_u64(text.as_bytes()).ok_or_else(|| {
                    row_error(format!(
                        "init_us must be a whole number of microseconds or empty for the cost \
                         model's, got {text:?}"
                    ))
                })?;
                Some(
                    crate::limits::check_duration(us)
                        .map_err(|e| row_error(format!("init_us: {e}")))?,
                )
            }
        };
        let mut function_packages = Vec::new();
        if let Some(text) = packages_col.map(field) {
            for key in text.split(';').map(str::trim).filter(|k| !k.is_empty()) {
                let id = keys.get(key).ok_or_else(|| {
                    row_error(format!(
                        "packages: {key:?} is not in {PACKAGES_FILE} (packages are written \
                         name==version, separated by ';')"
                    ))
                })?;
                function_packages.push(*id);
            }
        }
        let function_packages = packages.closure(&function_packages);
        let app = match app_ids.get(app) {
            Some(&id) => id,
            None => {
                let id = AppId(catalog.apps.len() as u32);
                app_ids.insert(app.to_owned(), id);
                catalog.apps.push(App {
                    name: app.to_owned(),
                });
                id
            }
        };
        ids.insert(
            name.as_bytes().into(),
            FunctionId(catalog.functions.len() as u32),
        );
        first_line.push(line);
        catalog.functions.push(Function {
            name: name.to_owned(),
            app,
            memory_mb,
            concurrency,
            init,
            packages: function_packages,
        });
    }
    if catalog.functions.is_empty() {
        return Err(WorkloadError::File {
            path: path.display().to_string(),
            message: "has no functions; expected a header `function,app,memory_mb,concurrency` \
                      and one row per function"
                .into(),
        });
    }
    Ok((catalog, ids))
}

/// Function ids by name, keyed by the name's bytes so that a row's name is looked up as it lies
/// in the CSV record: no UTF-8 check, no copy, one hash.
type FunctionIds = HashMap<Box<[u8]>, FunctionId, BuildHasherDefault<NameHasher>>;

/// A fast hash of short byte strings (function names), eight bytes at a time with FxHash's
/// multiply, then mixed so that names differing only in their last bytes spread over the whole
/// table. Not resistant to chosen collisions: the names come from the user's own trace.
#[derive(Clone, Copy, Default)]
struct NameHasher(u64);

impl NameHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The low bits of a product depend only on the low bits of its factors: mix the high
        // ones down (the finalizer of MurmurHash3).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// Streams `invocations.csv`, checking each row as it is read. After the first error the stream
/// ends, so a consumer never sees rows past a problem.
///
/// Rows are read into one reused byte record and their fields parsed where they lie: reading a
/// row allocates nothing.
struct InvocationReader {
    path: String,
    reader: csv::Reader<crate::limits::LineLimit<File>>,
    record: ByteRecord,
    ids: FunctionIds,
    function_col: usize,
    arrival_col: usize,
    duration_col: usize,
    /// Fields in the header, which every row must have.
    fields: usize,
    previous: Time,
    failed: bool,
}

impl InvocationReader {
    fn open(path: &Path, ids: FunctionIds) -> Result<Self, WorkloadError> {
        let mut reader = csv_reader(path)?;
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        Ok(InvocationReader {
            function_col: column(path, &header, "function")?,
            arrival_col: column(path, &header, "arrival_us")?,
            duration_col: column(path, &header, "duration_us")?,
            fields: header.len(),
            path: path.display().to_string(),
            reader,
            record: ByteRecord::new(),
            ids,
            previous: 0,
            failed: false,
        })
    }

    fn read_row(&mut self) -> Result<Option<Invocation>, WorkloadError> {
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(Path::new(&self.path), e))?;
        if !more {
            return Ok(None);
        }
        let record = &self.record;
        let field = |col: usize| record.get(col).unwrap_or_default().trim_ascii();
        let (name, arrival, duration) = (
            field(self.function_col),
            field(self.arrival_col),
            field(self.duration_col),
        );
        let function = self.ids.get(name).copied();
        let (arrival_us, duration_us) = (parse_u64(arrival), parse_u64(duration));
        // Checked together so that a good row takes one branch; the errors, in the order of
        // the fields, are worded below.
        if let (Some(function), Some(arrival_us), Some(duration_us)) =
            (function, arrival_us, duration_us)
            && arrival_us <= crate::limits::MAX_ARRIVAL_US
            && duration_us <= crate::limits::MAX_DURATION_US
            && arrival_us >= self.previous
        {
            self.previous = arrival_us;
            return Ok(Some(Invocation {
                function,
                arrival: arrival_us,
                duration: duration_us,
            }));
        }
        let line = record.position().map_or(0, |p| p.line());
        let row_error = |message: String| WorkloadError::Row {
            path: self.path.clone(),
            line,
            message,
        };
        if function.is_none() {
            return Err(row_error(format!(
                "function {:?} is not in {FUNCTIONS_FILE}",
                String::from_utf8_lossy(name)
            )));
        }
        let number = |value: Option<u64>, text: &[u8], column: &str| {
            value.ok_or_else(|| {
                row_error(format!(
                    "{column} must be a non-negative whole number of microseconds, got {:?}",
                    String::from_utf8_lossy(text)
                ))
            })
        };
        let arrival = crate::limits::check_arrival(number(arrival_us, arrival, "arrival_us")?)
            .map_err(|e| row_error(format!("arrival_us: {e}")))?;
        crate::limits::check_duration(number(duration_us, duration, "duration_us")?)
            .map_err(|e| row_error(format!("duration_us: {e}")))?;
        Err(row_error(format!(
            "arrival_us {arrival} comes after {} on the previous row; {INVOCATIONS_FILE} must \
             be sorted by arrival_us",
            self.previous
        )))
    }
}

impl Iterator for InvocationReader {
    type Item = Result<Invocation, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let row = self.read_row();
        self.failed = row.is_err();
        row.transpose()
    }
}

/// What the counting pass of [`open`] finds: each function's invocations inside the window and
/// the last arrival before the window's end.
#[derive(Debug, PartialEq)]
struct WindowCounts {
    counts: Vec<u64>,
    last: Option<Time>,
}

impl WindowCounts {
    fn new(functions: usize) -> Self {
        WindowCounts {
            counts: vec![0; functions],
            last: None,
        }
    }

    /// Counts a row (rows come in order). A row at or past the window's end ends the pass: it is
    /// not counted and the answer is `false`.
    fn add(&mut self, function: FunctionId, arrival: Time, window: Window) -> bool {
        if arrival >= window.end {
            return false;
        }
        self.last = Some(arrival);
        if arrival >= window.start {
            self.counts[function.index()] += 1;
        }
        true
    }
}

/// Bytes the counting scanner asks for at a time: as many as the CSV reader's buffer holds.
const SCAN_CHUNK: usize = 1 << 16;

/// The least of the file a part of the counting scan reads on a thread of its own: 8 MiB, about
/// 350,000 rows.
const SCAN_PART_BYTES: u64 = 8 << 20;

/// How many parts [`open`] scans `invocations.csv` in: one per core the process may use, each of
/// at least [`SCAN_PART_BYTES`].
fn scan_part_count(path: &Path) -> usize {
    let bytes = fs::metadata(path).map_or(0, |m| m.len());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    cores.min((bytes / SCAN_PART_BYTES) as usize).max(1)
}

/// What the scan of one part of `invocations.csv` found.
struct PartScan {
    found: WindowCounts,
    /// Arrivals of its first and last good rows, to check the order across parts.
    first: Option<Time>,
    last: Time,
    /// Whether it met a row at or past the window's end, where the pass ends.
    ended: bool,
}

impl InvocationReader {
    /// The counting pass with the CSV reader: every row up to the first at or past the window's
    /// end, checked as the stream checks it.
    fn count_window(self, functions: usize, window: Window) -> Result<WindowCounts, WorkloadError> {
        let mut found = WindowCounts::new(functions);
        for inv in self {
            let inv = inv?;
            if !found.add(inv.function, inv.arrival, window) {
                break;
            }
        }
        Ok(found)
    }

    /// The counting pass without the CSV reader: the same rows, checked the same way, but taken
    /// apart with byte searches ([`RowScanner`]) and, for a long file, in `parts` parts at once,
    /// each on a thread of its own (the first on the caller's). Part `i` holds the lines that
    /// start in the `i`th of `parts` equal spans of the bytes after the header; the parts'
    /// counts add up, and each part's first row must not arrive before the previous part's last.
    /// A part whose rows reach the window's end ends the pass: what follows it does not count,
    /// just as the reader stops there.
    ///
    /// `None` when a part (before the pass's end) meets anything it leaves to the reader: a row
    /// the reader rejects, an I/O error, or CSV that is more than a split at commas (a doubled
    /// quote, text after a closing quote, a quoted field spanning lines, a carriage return inside
    /// a line). The caller then counts with [`count_window`](Self::count_window), which reads the
    /// file from its start and words the error, so that counts and errors are the reader's
    /// whichever pass gives them.
    fn scan_window(&self, functions: usize, window: Window, parts: usize) -> Option<WindowCounts> {
        let header = self.reader.position().byte();
        let body = fs::metadata(&self.path).ok()?.len().saturating_sub(header);
        let parts = (parts as u64).clamp(1, body.max(1));
        // The last part reads on to the end of the file, however long it has become.
        let bound = |i: u64| {
            if i == parts {
                u64::MAX
            } else {
                header + body * i / parts
            }
        };
        let scans: Vec<Option<PartScan>> = std::thread::scope(|scope| {
            let others: Vec<_> = (1..parts)
                .map(|i| {
                    scope.spawn(move || self.scan_part(bound(i)..bound(i + 1), functions, window))
                })
                .collect();
            let first = self.scan_part(header..bound(1), functions, window);
            std::iter::once(first)
                .chain(others.into_iter().map(|part| {
                    part.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                }))
                .collect()
        });
        let mut found = WindowCounts::new(functions);
        let mut last = 0;
        for part in scans {
            let part = part?;
            if part.first.is_some_and(|first| first < last) {
                return None;
            }
            for (total, n) in found.counts.iter_mut().zip(part.found.counts) {
                *total += n;
            }
            found.last = part.found.last.or(found.last);
            last = part.last.max(last);
            if part.ended {
                break;
            }
        }
        Some(found)
    }

    /// Scans the lines that start in `span` of the file, as [`scan_window`](Self::scan_window)
    /// says; `span.start` is the end of the header for the first part. The first part reads the
    /// file from its start within the line limit, as the reader does; a later part from the byte
    /// before its span, passing over the rest of the line that holds it.
    fn scan_part(&self, span: Range<u64>, functions: usize, window: Window) -> Option<PartScan> {
        let path = Path::new(&self.path);
        let header = self.reader.position().byte();
        let first_part = span.start == header;
        // `base` is the offset in the file of `buf[0]`.
        let (mut base, mut file) = if first_part {
            (0, crate::limits::open_lines(path).ok()?)
        } else {
            let mut file = File::open(path).ok()?;
            file.seek(SeekFrom::Start(span.start - 1)).ok()?;
            let file = crate::limits::LineLimit::new(file, crate::limits::MAX_LINE_BYTES);
            (span.start - 1, file)
        };
        // Bytes still to pass over before the part's first line: `Some` bytes of the header, or
        // `None` for up to the first newline.
        let mut skip = first_part.then_some(header);
        let mut rows = RowScanner {
            ids: &self.ids,
            columns: [self.function_col, self.arrival_col, self.duration_col],
            fields: self.fields,
            previous: 0,
        };
        let mut scan = PartScan {
            found: WindowCounts::new(functions),
            first: None,
            last: 0,
            ended: false,
        };
        // `buf[start..end]` is read and not yet scanned: the start of a line. Past `end` there
        // is room for a piece and for a line's slack.
        let mut buf = vec![0u8; 2 * SCAN_CHUNK + LINE_SLACK];
        let (mut start, mut end) = (0, 0);
        // Whether the lines being read hold no quote and no carriage return.
        let mut plain = true;
        loop {
            if start > 0 {
                buf.copy_within(start..end, 0);
            }
            base += start as u64;
            end -= start;
            start = 0;
            if buf.len() < end + SCAN_CHUNK + LINE_SLACK {
                buf.resize(end + SCAN_CHUNK + LINE_SLACK, 0);
            }
            // What is left of the last piece holds no newline.
            let searched = end;
            let n = file.read(&mut buf[end..end + SCAN_CHUNK]).ok()?;
            end += n;
            match skip {
                Some(0) => {}
                Some(bytes) => {
                    let passed = bytes.min(n as u64);
                    skip = Some(bytes - passed);
                    start = passed as usize;
                }
                None => match memchr::memchr(b'\n', &buf[..end]) {
                    Some(newline) => {
                        skip = Some(0);
                        start = newline + 1;
                    }
                    None => start = end,
                },
            }
            if skip != Some(0) {
                if n == 0 {
                    // The file ends before the part's first line.
                    return Some(scan);
                }
                continue;
            }
            // Lines without quotes and carriage returns need not be searched for them; what is
            // left of the last piece was looked at with it, so that a long line is looked at once.
            let from = searched.max(start);
            plain = (plain || start == searched)
                && memchr::memchr2(b'"', b'\r', &buf[from..end]).is_none();
            // At the end of the file, the last line need not end with a newline.
            let ends = memchr::memchr_iter(b'\n', &buf[from..end])
                .map(|newline| from + newline)
                .chain((n == 0).then_some(end));
            for line_end in ends {
                if base + start as u64 >= span.end {
                    return Some(scan);
                }
                match rows.scan(&buf[start..], line_end - start, plain) {
                    Line::Empty => {}
                    Line::Row(function, arrival) => {
                        scan.first.get_or_insert(arrival);
                        scan.last = arrival;
                        if !scan.found.add(function, arrival, window) {
                            scan.ended = true;
                            return Some(scan);
                        }
                    }
                    Line::Unsettled => return None,
                }
                start = line_end + 1;
            }
            if n == 0 {
                return Some(scan);
            }
        }
    }
}

/// Takes the rows of `invocations.csv` apart with byte searches, as the CSV reader would read
/// them, and checks them as [`InvocationReader`] does, for [`InvocationReader::scan_window`].
struct RowScanner<'a> {
    ids: &'a FunctionIds,
    /// Columns of the function, the arrival and the duration.
    columns: [usize; 3],
    /// Fields in the header, which every row must have.
    fields: usize,
    previous: Time,
}

/// What [`RowScanner`] made of a line.
enum Line {
    /// No record: the CSV reader skips empty lines.
    Empty,
    /// A good row: its function and arrival.
    Row(FunctionId, Time),
    /// A row the reader rejects, or one whose reading the scanner leaves to the reader.
    Unsettled,
}

/// Bytes [`RowScanner::split_plain`] may read past the end of a line.
const LINE_SLACK: usize = 64;

impl RowScanner<'_> {
    /// Reads the line `text[..len]` (without its newline). What follows the line in `text` is
    /// not read as part of it, but lets short lines be split a word at a time. `plain` says that
    /// the line is known to hold no quote and no carriage return.
    fn scan(&mut self, text: &[u8], len: usize, plain: bool) -> Line {
        // A carriage return before the newline ends the record with it.
        let len = if len > 0 && text[len - 1] == b'\r' {
            len - 1
        } else {
            len
        };
        if len == 0 {
            return Line::Empty;
        }
        let Some((fields, values)) = self
            .split_plain(text, len, plain)
            .or_else(|| self.split(&text[..len]))
        else {
            return Line::Unsettled;
        };
        if fields != self.fields {
            return Line::Unsettled;
        }
        let [name, arrival, duration] = values.map(<[u8]>::trim_ascii);
        let (Some(&function), Some(arrival)) = (self.ids.get(name), parse_u64(arrival)) else {
            return Line::Unsettled;
        };
        if arrival > crate::limits::MAX_ARRIVAL_US
            || !valid_duration(duration)
            || arrival < self.previous
        {
            return Line::Unsettled;
        }
        self.previous = arrival;
        Line::Row(function, arrival)
    }

    /// Splits `line` (not empty, without its line end) into fields as the CSV reader does:
    /// how many there are and the wanted ones (empty when the line has too few fields).
    /// `None` when [`split_field`] does not read one.
    fn split<'l>(&self, line: &'l [u8]) -> Option<(usize, [&'l [u8]; 3])> {
        let mut values: [&[u8]; 3] = [&[]; 3];
        let mut field = 0;
        let mut rest = Some(line);
        while let Some(text) = rest {
            let (value, after) = split_field(text)?;
            for (v, &column) in values.iter_mut().zip(&self.columns) {
                if column == field {
                    *v = value;
                }
            }
            field += 1;
            rest = after;
        }
        Some((field, values))
    }

    /// [`split`](Self::split) for the common line, `text[..len]`: at most [`LINE_SLACK`] bytes,
    /// no quote, no carriage return, and followed in `text` by enough bytes to read it in whole
    /// words (32 or 64 bytes). It finds the commas of all its bytes at once and walks them in a
    /// loop that runs once a field, the same number of times on every row. It looks for quotes
    /// and carriage returns only if `plain` does not rule them out. `None` for any other line.
    fn split_plain<'l>(
        &self,
        text: &'l [u8],
        len: usize,
        plain: bool,
    ) -> Option<(usize, [&'l [u8]; 3])> {
        let words = if len <= 32 { 4 } else { 8 };
        if len > LINE_SLACK || text.len() < 8 * words {
            return None;
        }
        let (mut commas, mut special) = (0u64, 0u64);
        for (i, chunk) in text[..8 * words].chunks_exact(8).enumerate() {
            let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            commas |= byte_bits(bytes_equal(w, b',')) << (8 * i);
            if !plain {
                special |= byte_bits(bytes_equal(w, b'"') | bytes_equal(w, b'\r')) << (8 * i);
            }
        }
        let inside = u64::MAX >> (64 - len);
        if special & inside != 0 {
            return None;
        }
        commas &= inside;
        let fields = commas.count_ones() as usize + 1;
        if fields != self.fields {
            return Some((fields, [&[]; 3]));
        }
        let mut values: [&[u8]; 3] = [&[]; 3];
        let mut from = 0;
        for field in 0..fields {
            let end = if commas == 0 {
                len
            } else {
                commas.trailing_zeros() as usize
            };
            commas &= commas.wrapping_sub(1);
            for (v, &column) in values.iter_mut().zip(&self.columns) {
                if column == field {
                    *v = &text[from..end];
                }
            }
            from = end + 1;
        }
        Some((fields, values))
    }
}

/// Whether `text` is a duration the reader accepts: digits within
/// [`MAX_DURATION_US`](crate::limits::MAX_DURATION_US). Numbers of fewer than 14 digits are
/// below it (a year is 3.2e13 µs), so that they need no arithmetic.
fn valid_duration(text: &[u8]) -> bool {
    if text.len() < 14 {
        !text.is_empty() && text.iter().all(u8::is_ascii_digit)
    } else {
        parse_u64(text).is_some_and(|us| us <= crate::limits::MAX_DURATION_US)
    }
}

/// The high bit of every byte of `word` that equals `byte`, and no other bit.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    // A byte's low seven bits plus 0x7f carry into its high bit unless they are all zero; the
    // byte is zero if that bit and its own high bit are both clear.
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The high bits of the eight bytes of `bits` (as [`bytes_equal`] gives them) gathered into
/// the low eight bits, byte `i`'s into bit `i`: the multiplication moves each into the top
/// byte, at distinct places, so that nothing carries.
fn byte_bits(bits: u64) -> u64 {
    ((bits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The first field of `text` (a line or what follows a comma in it) as the CSV reader reads it,
/// and what follows the field's comma (`None` when the field ends the line). A quoted field is
/// read without its quotes. `None` when the field is more than that: a quoted field with a
/// doubled quote, text after its closing quote or no closing quote on the line, or a carriage
/// return (which would end the record there).
fn split_field(text: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (value, next) = match text.strip_prefix(b"\"") {
        Some(quoted) => {
            let close = memchr::memchr(b'"', quoted)?;
            (&quoted[..close], &quoted[close + 1..])
        }
        None => {
            let len = text
                .iter()
                .position(|&b| b == b',' || b == b'\r')
                .unwrap_or(text.len());
            text.split_at(len)
        }
    };
    match next.split_first() {
        None => Some((value, None)),
        Some((b',', after)) => Some((value, Some(after))),
        Some(_) => None,
    }
}

/// Fields are trimmed by the callers rather than by the csv crate, whose trimming allocates a new
/// record for every row and, for string records, trims Unicode spaces where byte records trim
/// ASCII ones. The buffer is larger than the csv crate's 8 KiB so that a long trace is read in
/// fewer system calls.
fn csv_reader(path: &Path) -> Result<csv::Reader<crate::limits::LineLimit<File>>, WorkloadError> {
    let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .buffer_capacity(1 << 16)
        .from_reader(file))
}

fn column(path: &Path, header: &StringRecord, name: &str) -> Result<usize, WorkloadError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| WorkloadError::File {
            path: path.display().to_string(),
            message: format!(
                "the header has no column {name:?} (found {:?})",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        })
}

/// Parses ASCII digits only (no sign, no spaces), `None` when there are none, when anything else
/// is there, or when the number does not fit in a `u64`.
fn parse_u64(text: &[u8]) -> Option<u64> {
    // 19 digits always fit in a u64; only longer numbers need checked arithmetic.
    const SAFE_DIGITS: usize = 19;
    if text.is_empty() {
        return None;
    }
    let mut n = 0u64;
    if text.len() <= SAFE_DIGITS {
        // Two digits a step, so that a number takes half as many dependent multiplications.
        let (pairs, last) = text.as_chunks::<2>();
        for &[high, low] in pairs {
            let (high, low) = (high.wrapping_sub(b'0'), low.wrapping_sub(b'0'));
            if high > 9 || low > 9 {
                return None;
            }
            n = n * 100 + u64::from(high * 10 + low);
        }
        if let [b] = *last {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n * 10 + u64::from(digit);
        }
    } else {
        for &b in text {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
        }
    }
    Some(n)
}

fn positive(text: &str) -> Option<u32> {
    parse_u64(text.as_bytes())
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::Duration;
    use crate::synthetic::SyntheticSpec;

    /// A fresh directory under the system's temporary directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("lambdasim-native-{}-{test}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn with(test: &str, functions: &str, invocations: &str) -> Self {
            let s = Scratch::new(test);
            fs::write(s.0.join(FUNCTIONS_FILE), functions).unwrap();
            fs::write(s.0.join(INVOCATIONS_FILE), invocations).unwrap();
            s
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const FUNCTIONS: &str = "function,app,memory_mb,concurrency\nf,a,128,\ng,a,256,4\n";

    /// The first error from reading the trace, whether `read` or the stream reports it.
    fn first_error(test: &str, functions: &str, invocations: &str) -> String {
        let dir = Scratch::with(test, functions, invocations);
        match read(&dir.0) {
            Err(e) => e.to_string(),
            Ok(w) => w
                .invocations
                .filter_map(Result::err)
                .next()
                .expect("the trace should be rejected")
                .to_string(),
        }
    }

    fn assert_mentions(message: &str, needles: &[&str]) {
        for needle in needles {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
    }

    #[test]
    fn round_trip_keeps_catalog_and_invocations() {
        let spec = SyntheticSpec {
            functions: 20,
            apps: 5,
            duration: Duration::from_mins(10),
            ..SyntheticSpec::default()
        };
        let mut original = spec.build(3).unwrap();
        original.catalog.functions[3].concurrency = Some(4);
        let dir = Scratch::new("round-trip");
        let written = write(&dir.0, &original.catalog, original.invocations).unwrap();
        // 20/s for 600 s.
        assert!((11_000..13_000).contains(&written), "{written}");

        let back = read(&dir.0).unwrap();
        assert_eq!(back.catalog, original.catalog);
        let expected: Vec<_> = spec
            .build(3)
            .unwrap()
            .invocations
            .map(Result::unwrap)
            .collect();
        let got: Vec<_> = back.invocations.map(Result::unwrap).collect();
        assert_eq!(got.len() as u64, written);
        assert_eq!(got, expected);
    }

    #[test]
    fn columns_are_found_by_name() {
        // Extra columns, another order, no concurrency column, padded fields and no newline at
        // the end of the last line.
        let dir = Scratch::with(
            "columns",
            "memory_mb, note ,app,function\n 128 ,x, web , f \n64,y,batch,g\n32,z,web,h",
            "duration_us,function,arrival_us,extra\n5,g,10,q\n7, f ,10,r\n9,h,12,s",
        );
        let w = read(&dir.0).unwrap();
        let names: Vec<_> = w
            .catalog
            .functions
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["f", "g", "h"]);
        let apps: Vec<_> = w.catalog.apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(apps, ["web", "batch"]);
        assert_eq!(w.catalog.functions[2].app, AppId(0));
        assert_eq!(w.catalog.functions[0].memory_mb, 128);
        assert_eq!(w.catalog.functions[0].concurrency, None);
        let got: Vec<_> = w.invocations.map(Result::unwrap).collect();
        let inv = |f, arrival, duration| Invocation {
            function: FunctionId(f),
            arrival,
            duration,
        };
        assert_eq!(got, [inv(1, 10, 5), inv(0, 10, 7), inv(2, 12, 9)]);
    }

    #[test]
    fn missing_files_name_the_path() {
        let dir = Scratch::new("missing");
        assert_mentions(&read(&dir.0).unwrap_err().to_string(), &[FUNCTIONS_FILE]);
        fs::write(dir.0.join(FUNCTIONS_FILE), FUNCTIONS).unwrap();
        let err = read(&dir.0).unwrap_err();
        assert!(matches!(err, WorkloadError::Io { .. }));
        assert_mentions(&err.to_string(), &[INVOCATIONS_FILE]);
    }

    #[test]
    fn missing_column_names_file_and_column() {
        let err = first_error(
            "no-memory",
            "function,app\nf,a\n",
            "function,arrival_us,duration_us\n",
        );
        assert_mentions(&err, &["functions.csv", "\"memory_mb\""]);
        let err = first_error("no-duration", FUNCTIONS, "function,arrival_us\nf,1\n");
        assert_mentions(&err, &["invocations.csv", "\"duration_us\""]);
    }

    #[test]
    fn bad_function_rows_name_file_line_and_field() {
        let invocations = "function,arrival_us,duration_us\n";
        let cases: [(&str, &[&str]); 8] = [
            ("f,a,128,\n ,a,64,\n", &["line 3", "function is empty"]),
            (
                "f,a,128,\ng,a,64,\nf,b,32,\n",
                &["line 4", "\"f\"", "first on line 2"],
            ),
            ("f,a,abc,\n", &["line 2", "memory_mb", "\"abc\""]),
            ("f,a,0,\n", &["line 2", "memory_mb", "\"0\""]),
            ("f,a,-5,\n", &["line 2", "memory_mb", "\"-5\""]),
            ("f,a,128,0\n", &["line 2", "concurrency", "\"0\""]),
            ("f,a,128,two\n", &["line 2", "concurrency", "\"two\""]),
            (
                "f,a,128,\ng,a,64\n",
                &["line 3", "has 3 fields, but the header has 4"],
            ),
        ];
        for (i, (rows, needles)) in cases.into_iter().enumerate() {
            let functions = format!("function,app,memory_mb,concurrency\n{rows}");
            let err = first_error(&format!("functions-{i}"), &functions, invocations);
            assert_mentions(&err, &[&["functions.csv"], needles].concat());
        }
    }

    #[test]
    fn functions_file_without_functions_is_rejected() {
        let err = first_error(
            "no-functions",
            "function,app,memory_mb\n",
            "function,arrival_us,duration_us\n",
        );
        assert_mentions(&err, &["functions.csv", "has no functions"]);
    }

    #[test]
    fn bad_invocation_rows_name_file_line_and_field() {
        let header = "function,arrival_us,duration_us\n";
        let cases: [(&str, &[&str]); 6] = [
            (
                "f,1,1\nnope,2,1\n",
                &["line 3", "function \"nope\" is not in functions.csv"],
            ),
            ("f,-1,1\n", &["line 2", "arrival_us", "\"-1\""]),
            ("f,1,1.5\n", &["line 2", "duration_us", "\"1.5\""]),
            ("f,1,\n", &["line 2", "duration_us", "\"\""]),
            (
                "f,100,1\ng,250,1\ng,250,1\nf,100,1\n",
                &["line 5", "arrival_us 100 comes after 250", "sorted"],
            ),
            (
                "f,1,1\ng,2\n",
                &["line 3", "has 2 fields, but the header has 3"],
            ),
        ];
        for (i, (rows, needles)) in cases.into_iter().enumerate() {
            let err = first_error(
                &format!("invocations-{i}"),
                FUNCTIONS,
                &format!("{header}{rows}"),
            );
            assert_mentions(&err, &[&["invocations.csv"], needles].concat());
        }
    }

    #[test]
    fn stream_error_appears_at_its_row() {
        let dir = Scratch::with(
            "stream-error",
            FUNCTIONS,
            "function,arrival_us,duration_us\nf,1,10\ng,2,20\nf,x,30\ng,4,40\n",
        );
        let mut stream = read(&dir.0).unwrap().invocations;
        assert_eq!(stream.next().unwrap().unwrap().arrival, 1);
        assert_eq!(stream.next().unwrap().unwrap().arrival, 2);
        assert_mentions(
            &stream.next().unwrap().unwrap_err().to_string(),
            &["invocations.csv, line 4", "arrival_us", "\"x\""],
        );
        assert!(stream.next().is_none());
    }

    #[test]
    fn times_past_the_engines_clock_are_row_errors_not_wrapped_numbers() {
        for (row, field) in [
            ("f,18446744073709551615,10", "arrival_us"),
            ("f,200000000,18446744073709551615", "duration_us"),
            ("f,9223372036854775807,1", "arrival_us"),
        ] {
            let dir = Scratch::with(
                "overflow",
                FUNCTIONS,
                &format!("function,arrival_us,duration_us\nf,1,10\n{row}\n"),
            );
            let mut stream = read(&dir.0).unwrap().invocations;
            assert_eq!(stream.next().unwrap().unwrap().arrival, 1);
            assert_mentions(
                &stream.next().unwrap().unwrap_err().to_string(),
                &["invocations.csv, line 3", field, "µs"],
            );
        }
    }

    #[test]
    fn a_line_past_the_limit_is_an_error_naming_it_not_a_huge_allocation() {
        let long = "f,".to_string() + &"1".repeat(crate::limits::MAX_LINE_BYTES + 10);
        let dir = Scratch::with(
            "long-line",
            FUNCTIONS,
            &format!("function,arrival_us,duration_us\nf,1,10\n{long}\n"),
        );
        let mut stream = read(&dir.0).unwrap().invocations;
        assert_eq!(stream.next().unwrap().unwrap().arrival, 1);
        assert_mentions(
            &stream.next().unwrap().unwrap_err().to_string(),
            &["invocations.csv", "line 3 is longer than 16 MiB"],
        );
    }

    #[test]
    fn numbers_are_digits_that_fit_in_u64() {
        let max = u64::MAX.to_string();
        assert_eq!(parse_u64(max.as_bytes()), Some(u64::MAX));
        assert_eq!(
            parse_u64(b"18446744073709551616"),
            None,
            "one past u64::MAX"
        );
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(
            parse_u64(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(parse_u64(b"00000000000000000000042"), Some(42));
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"120"), Some(120));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1.5",
            b"1e3",
            b"x",
            b"1/",
            b"1:",
        ] {
            assert_eq!(parse_u64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn names_of_every_length_find_their_function() {
        // Names sharing long prefixes and differing in one byte, at every position of an
        // eight-byte word, including non-ASCII ones.
        let mut names: Vec<String> = (1..40)
            .flat_map(|len| {
                (0..3).map(move |k| {
                    let mut n = String::new();
                    for c in "fünction-".chars().cycle() {
                        if n.len() >= len {
                            break;
                        }
                        n.push(c);
                    }
                    n.push(char::from(b'a' + k));
                    n
                })
            })
            .collect();
        // "fü" is 3 bytes long: lengths 2 and 3 give the same names.
        names.sort();
        names.dedup();
        assert!(names.len() > 100, "{}", names.len());
        let mut ids = FunctionIds::default();
        for (i, n) in names.iter().enumerate() {
            assert!(
                ids.insert(n.as_bytes().into(), FunctionId(i as u32))
                    .is_none()
            );
        }
        for (i, n) in names.iter().enumerate() {
            assert_eq!(ids.get(n.as_bytes()), Some(&FunctionId(i as u32)), "{n:?}");
        }
        assert_eq!(ids.get(&b"fxa"[..]), None);
        assert_eq!(ids.get(&b""[..]), None);
    }

    #[test]
    fn write_refuses_what_could_not_be_read_back() {
        let dir = Scratch::new("write-refuses");
        let mut catalog = Catalog {
            packages: Default::default(),
            functions: vec![Function {
                name: " f".into(),
                app: AppId(0),
                memory_mb: 128,
                concurrency: None,
                init: None,
                packages: Vec::new(),
            }],
            apps: vec![App { name: "a".into() }],
        };
        let none = std::iter::empty();
        assert_mentions(
            &write(&dir.0, &catalog, none).unwrap_err().to_string(),
            &["\" f\""],
        );

        catalog.functions[0].name = "f".into();
        let unsorted = [(0, 5), (0, 3)].map(|(f, arrival)| {
            Ok(Invocation {
                function: FunctionId(f),
                arrival,
                duration: 1,
            })
        });
        let err = write(&dir.0, &catalog, unsorted.into_iter()).unwrap_err();
        assert_mentions(&err.to_string(), &["arrives at 3us", "5us"]);

        let unknown = [Ok(Invocation {
            function: FunctionId(1),
            arrival: 0,
            duration: 1,
        })];
        let err = write(&dir.0, &catalog, unknown.into_iter()).unwrap_err();
        assert_mentions(&err.to_string(), &["function id 1", "only 1 functions"]);
    }

    /// The counting pass over the trace in `dir`, by the scanner in `parts` parts and by the
    /// reader.
    fn count_both(
        dir: &Path,
        window: Window,
        parts: usize,
    ) -> (Option<WindowCounts>, Result<WindowCounts, WorkloadError>) {
        let (catalog, ids) = read_catalog(dir).unwrap();
        let path = dir.join(INVOCATIONS_FILE);
        let functions = catalog.functions.len();
        let reader = || InvocationReader::open(&path, ids.clone()).unwrap();
        let scanned = reader().scan_window(functions, window, parts);
        (scanned, reader().count_window(functions, window))
    }

    const WINDOWS: [Window; 4] = [
        Window {
            start: 0,
            end: Time::MAX,
        },
        Window {
            start: 2,
            end: Time::MAX,
        },
        Window { start: 0, end: 3 },
        Window { start: 3, end: 4 },
    ];

    #[test]
    fn scanner_counts_what_the_reader_counts() {
        let long = "h".repeat(40);
        let longer = "i".repeat(80);
        let functions = format!(
            "function,app,memory_mb\nf,a,128\ng,a,64\n\"a,b\",a,32\n\"q\"\"x\",a,32\nr\"s,a,32\n\
             {long},a,16\n{longer},a,16\n"
        );
        let header = "function,arrival_us,duration_us";
        let cases = [
            // Quoted fields, one holding a comma and one padded inside its quotes.
            format!("{header}\n\"a,b\",1,5\n\"f\",2,6\ng,\"3\",\"7\"\n\" f \",4,8\n"),
            // A quote inside an unquoted field is a character of it.
            format!("{header}\nr\"s,1,5\nf,2,6\nr\"s,3,7\n"),
            format!("{header}\r\nf,1,5\r\ng,2,6\r\n\"a,b\",3,7\r\n"),
            // Extra columns, another order.
            "duration_us,note,arrival_us,function,extra\n5,x,1,f,\n6,,2,g,q\n7,y,3,f,\n"
                .to_string(),
            // Empty lines, of either kind, anywhere.
            format!("{header}\n\nf,1,5\n\n\r\n\ng,2,6\n\n"),
            // No newline after the last row, padded fields, rows shorter than a word.
            format!("{header}\n f , 1 ,5 \ng,2,6\nf,3,7"),
            // Rows of every length class: up to 32 bytes, up to 64, longer.
            format!("{header}\nf,1,5\n{long},2,6\n{longer},3,7\n{long},4,8\n"),
            // Numbers at their limits.
            format!(
                "{header}\nf,0,31536000000000\ng,1,0000000000000000000000000000042\n\
                 f,3153600000000000,1\n"
            ),
            format!("{header}\n"),
            header.to_string(),
        ];
        for (i, invocations) in cases.iter().enumerate() {
            let dir = Scratch::with(&format!("scan-{i}"), &functions, invocations);
            for window in WINDOWS {
                for parts in 1..=4 {
                    let (scanned, read) = count_both(&dir.0, window, parts);
                    let read = read.unwrap();
                    assert_eq!(scanned, Some(read), "{invocations:?} {window:?} {parts}");
                }
            }
        }
    }

    #[test]
    fn scanner_in_parts_counts_what_the_reader_counts() {
        // 3,000 rows with quoted names, CRLF and LF line ends and empty lines, in up to seven
        // parts whose bounds fall anywhere.
        let mut invocations = String::from("arrival_us,function,duration_us\n");
        for i in 0..3000u64 {
            let name = match i % 5 {
                0 => "\"f\"",
                1 | 2 => "g",
                _ => "f",
            };
            let end = if i % 7 == 0 { "\r\n" } else { "\n" };
            invocations.push_str(&format!("{},{name},{}{end}", i / 3, i % 11));
            if i % 13 == 0 {
                invocations.push('\n');
            }
        }
        let dir = Scratch::with("scan-parts", FUNCTIONS, &invocations);
        let windows = [
            Window {
                start: 0,
                end: Time::MAX,
            },
            Window {
                start: 500,
                end: Time::MAX,
            },
            Window {
                start: 100,
                end: 101,
            },
            Window {
                start: 990,
                end: 999,
            },
        ];
        for window in windows {
            for parts in 1..=7 {
                let (scanned, read) = count_both(&dir.0, window, parts);
                assert_eq!(scanned, Some(read.unwrap()), "{window:?} {parts}");
            }
        }
    }

    #[test]
    fn scanner_leaves_what_is_more_than_a_split_at_commas_to_the_reader() {
        let functions =
            "function,app,memory_mb\nf,a,128\n\"q\"\"x\",a,32\nqx,a,32\n\"m\nn\",a,16\n";
        let header = "function,arrival_us,duration_us";
        let cases = [
            // A doubled quote.
            format!("{header}\nf,1,5\n\"q\"\"x\",2,6\n"),
            // Text after a closing quote.
            format!("{header}\nf,1,5\n\"q\"x,2,6\n"),
            // A quoted field over two lines.
            format!("{header}\nf,1,5\n\"m\nn\",2,6\n"),
            // A carriage return alone ends a record.
            format!("{header}\nf,1,5\rqx,2,6\n"),
        ];
        for (i, invocations) in cases.iter().enumerate() {
            let dir = Scratch::with(&format!("scan-left-{i}"), functions, invocations);
            for parts in 1..=3 {
                let (scanned, read) = count_both(&dir.0, WINDOWS[0], parts);
                assert_eq!(scanned, None, "{invocations:?} {parts}");
                let read = read.unwrap();
                assert_eq!(read.counts.iter().sum::<u64>(), 2, "{invocations:?}");
            }
            let spec = TraceSpec {
                path: dir.0.clone(),
                ..TraceSpec::default()
            };
            assert_eq!(open(&spec, 1).unwrap().counts.iter().sum::<u64>(), 2);
        }
    }

    #[test]
    fn every_bad_row_is_the_readers_error() {
        // Each bad row, early, in the middle and late among good rows, so that it falls in any
        // part: `open` gives the stream's error, and the scanner in any number of parts leaves
        // it to the reader.
        let bad = [
            "nope,50,1",
            "\"nope\",50,1",
            "f,x,1",
            "f,-1,1",
            "f,1.5,1",
            "f,,1",
            "f,50,x",
            "f,50,1.5",
            "f,50,",
            "f,50,-1",
            "f,3153600000000001,1",
            "f,50,31536000000001",
            "f,50,99999999999999999999999",
            "f,50",
            "f,50,1,1",
            "f",
            " ",
        ];
        for (i, row) in bad.iter().enumerate() {
            for at in [0, 60, 119] {
                let mut invocations = String::from("function,arrival_us,duration_us\n");
                for k in 0..120 {
                    if k == at {
                        invocations.push_str(row);
                    } else {
                        invocations.push_str(&format!("g,{},1", 10 + k));
                    }
                    invocations.push('\n');
                }
                let test = format!("scan-bad-{i}-{at}");
                let expected = first_error(&test, FUNCTIONS, &invocations);
                let dir = Scratch::with(&test, FUNCTIONS, &invocations);
                let spec = TraceSpec {
                    path: dir.0.clone(),
                    ..TraceSpec::default()
                };
                assert_eq!(open(&spec, 1).unwrap_err().to_string(), expected);
                for parts in 1..=4 {
                    let (scanned, read) = count_both(&dir.0, WINDOWS[0], parts);
                    assert_eq!(scanned, None, "{row:?} at {at} in {parts} parts");
                    assert_eq!(read.unwrap_err().to_string(), expected);
                }
            }
        }
    }

    #[test]
    fn rows_past_the_windows_end_are_not_read_by_either() {
        let invocations = "function,arrival_us,duration_us\nf,1,1\ng,5,1\nnope,x,\nf\n";
        let dir = Scratch::with("scan-past-end", FUNCTIONS, invocations);
        for parts in 1..=3 {
            let (scanned, read) = count_both(&dir.0, Window { start: 0, end: 5 }, parts);
            let read = read.unwrap();
            assert_eq!(read.counts, [1, 0]);
            assert_eq!(scanned, Some(read));
        }
    }

    #[test]
    fn rows_out_of_order_across_parts_are_the_readers_error() {
        // One row earlier than its predecessor, at every place, in up to five parts.
        for at in 1..40 {
            let mut invocations = String::from("function,arrival_us,duration_us\n");
            for k in 0..40u64 {
                let arrival = if k == at { 0 } else { 100 + k };
                invocations.push_str(&format!("f,{arrival},1\n"));
            }
            let dir = Scratch::with(&format!("scan-order-{at}"), FUNCTIONS, &invocations);
            for parts in 1..=5 {
                let (scanned, read) = count_both(&dir.0, WINDOWS[0], parts);
                assert_eq!(scanned, None, "at {at} in {parts} parts");
                assert_mentions(&read.unwrap_err().to_string(), &["sorted"]);
            }
        }
    }

    #[test]
    fn a_line_past_the_limit_is_the_readers_error_to_the_scanner() {
        let long = "f,".to_string() + &"1".repeat(crate::limits::MAX_LINE_BYTES + 10);
        let invocations = format!("function,arrival_us,duration_us\nf,1,10\n{long}\n");
        let dir = Scratch::with("scan-long-line", FUNCTIONS, &invocations);
        for parts in 1..=2 {
            let (scanned, read) = count_both(&dir.0, WINDOWS[0], parts);
            assert_eq!(scanned, None);
            assert_mentions(
                &read.unwrap_err().to_string(),
                &["invocations.csv", "line 3 is longer than 16 MiB"],
            );
        }
    }

    #[test]
    fn fields_split_as_the_csv_reader_splits_them() {
        let split = |text: &str| {
            split_field(text.as_bytes()).map(|(value, rest)| {
                (
                    String::from_utf8_lossy(value).into_owned(),
                    rest.map(|r| String::from_utf8_lossy(r).into_owned()),
                )
            })
        };
        let some = |value: &str, rest: Option<&str>| Some((value.into(), rest.map(Into::into)));
        assert_eq!(split("ab,c"), some("ab", Some("c")));
        assert_eq!(split("ab"), some("ab", None));
        assert_eq!(split(",x"), some("", Some("x")));
        assert_eq!(split(""), some("", None));
        assert_eq!(split("a\"b,c"), some("a\"b", Some("c")));
        assert_eq!(split("\"a,b\",c"), some("a,b", Some("c")));
        assert_eq!(split("\"a\r\"\n"), None, "not a line");
        assert_eq!(split("\"\""), some("", None));
        for more in ["\"a\"\"b\"", "\"a\"b", "\"ab", "a\rb", "\"a\" ,b"] {
            assert_eq!(split(more), None, "{more:?}");
        }
    }

    #[test]
    fn byte_masks_mark_exactly_the_bytes_asked_for() {
        let tricky = [0x00, 0x01, 0x2b, 0x2c, 0x2d, 0x7f, 0x80, 0xac, 0xff];
        for target in [b',', b'"', b'\r', 0x00, 0x80, 0xff] {
            for &fill in &tricky {
                for &other in &tricky {
                    for at in 0..8 {
                        let mut bytes = [fill; 8];
                        bytes[at] = other;
                        let word = u64::from_le_bytes(bytes);
                        let expected = bytes
                            .iter()
                            .enumerate()
                            .filter(|(_, b)| **b == target)
                            .fold(0u64, |m, (i, _)| m | 1 << i);
                        assert_eq!(byte_bits(bytes_equal(word, target)), expected);
                    }
                }
            }
        }
    }

    #[test]
    fn durations_are_valid_exactly_when_the_reader_takes_them() {
        let reader = |text: &str| {
            parse_u64(text.as_bytes()).is_some_and(|us| crate::limits::check_duration(us).is_ok())
        };
        for text in [
            "",
            "0",
            "7",
            "9999999999999",
            "31536000000000",
            "31536000000001",
            "99999999999999",
            "000000000000000000000000005",
            "1 ",
            "+1",
            "1e3",
            "١",
        ] {
            assert_eq!(valid_duration(text.as_bytes()), reader(text), "{text:?}");
        }
    }

    #[test]
    fn open_counts_samples_and_shapes() {
        use crate::sample::Sample;
        use crate::trace::{Granularity, RateScale, TraceSpec};
        let functions =
            "function,app,memory_mb,concurrency,init_us\nf,a,128,,\ng,a,256,4,7000\nh,b,64,,\n";
        // f: 4 invocations, g: 2, h: 1, over 10 s.
        let invocations = "function,arrival_us,duration_us\nf,0,1\ng,1000000,1\nf,2000000,1\nh,3000000,1\nf,5000000,1\ng,6000000,1\nf,9999999,1\n";
        let dir = Scratch::with("open-sample", functions, invocations);
        let spec = TraceSpec {
            path: dir.0.clone(),
            sample: Sample::Top { n: 2 },
            ..TraceSpec::default()
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [4, 2, 1]);
        assert_eq!(trace.span, 10_000_000);
        assert_eq!(trace.app_memory_mb, [384, 64]);
        assert_eq!(trace.catalog.functions[1].init, Some(7000));
        let (w, sel) = trace.into_workload(&spec, 1).unwrap();
        assert_eq!((sel.functions, sel.invocations, sel.scale), (2, 6, 1.0));
        let names: Vec<_> = w.catalog.functions.iter().map(|f| f.name.clone()).collect();
        assert_eq!(names, ["f", "g"]);
        assert_eq!(w.invocations.count(), 6);

        // A target rate of 1.2/s over the 10 s span is 12 invocations: twice the sample's 6.
        let spec = TraceSpec {
            rate: Some(RateScale::TargetRps(1.2)),
            ..spec
        };
        let (_, sel) = open(&spec, 1).unwrap().into_workload(&spec, 1).unwrap();
        assert!((sel.scale - 2.0).abs() < 1e-12, "{}", sel.scale);

        // A window from 2 s for 4 s holds f at 2 s and 5 s and h at 3 s, shifted to 0, 3 s, 1 s.
        let spec = TraceSpec {
            path: dir.0.clone(),
            start: crate::Duration::from_secs(2),
            length: Some(crate::Duration::from_secs(4)),
            granularity: Granularity::App,
            ..TraceSpec::default()
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(trace.counts, [2, 0, 1]);
        let (w, _) = trace.into_workload(&spec, 1).unwrap();
        let names: Vec<_> = w.catalog.functions.iter().map(|f| f.name.clone()).collect();
        assert_eq!(names, ["a", "b"], "one unit per app");
        assert_eq!(w.catalog.functions[0].memory_mb, 384);
        let got: Vec<(u32, Time)> = w
            .invocations
            .map(|i| i.map(|i| (i.function.0, i.arrival)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, [(0, 0), (1, 1_000_000), (0, 3_000_000)]);
    }
}
