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
use std::io::Write;
use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};

use crate::csv_util::{csv_error, io_error, row_error};
use crate::packages::PackageCatalog;
use crate::trace::{
    EventShaper, LoadReport, StreamRequest, Trace, TraceFormat, TraceSource, TraceSpec,
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
/// counts each function's invocations inside the window in one pass over `invocations.csv`; the
/// stream reads the file again.
pub fn open(spec: &TraceSpec, _seed: u64) -> Result<Trace, WorkloadError> {
    spec.validate(TraceFormat::Native)?;
    let dir = &spec.path;
    let functions = dir.join(FUNCTIONS_FILE);
    let invocations = dir.join(INVOCATIONS_FILE);
    let (catalog, ids) = read_catalog(dir)?;
    let window = spec.window();
    let mut counts = vec![0u64; catalog.functions.len()];
    let mut last = None;
    for inv in InvocationReader::open(&invocations, ids.clone())? {
        let inv = inv?;
        if inv.arrival >= window.end {
            break;
        }
        last = Some(inv.arrival);
        if inv.arrival >= window.start {
            counts[inv.function.index()] += 1;
        }
    }
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
        for &b in text {
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
