//! Per-invocation record files: one CSV row per [`Record`], written as the run goes, so a run of
//! any length keeps only a write buffer in memory.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use sim::WorkerId;
use sim::record::{Outcome, Phases, Record, RecordSink, RunInfo, StartKind};
use workloads::{AppId, Catalog, FunctionId};

/// Column names of a records file, in order. Times and phase durations are microseconds.
pub const RECORDS_HEADER: &[&str] = &[
    "id",
    "function",
    "app",
    "worker",
    "arrival_us",
    "start_us",
    "end_us",
    "start_kind",
    "queue_us",
    "create_us",
    "install_us",
    "import_us",
    "init_us",
    "exec_us",
    "outcome",
    "reason",
];

/// A [`RecordSink`] that writes each record as a CSV row of [`RECORDS_HEADER`], with function and
/// app names from the catalog given to [`RecordSink::begin`]. `start_kind` is empty for
/// invocations that never started and `reason` is empty for completed ones.
///
/// Sink methods cannot return errors, so the first I/O error is kept, nothing more is written,
/// and [`CsvRecords::finish`] returns it.
pub struct CsvRecords<W: Write> {
    out: BufWriter<W>,
    /// One row is assembled here and written at once, which keeps the per-field cost to a copy.
    row: Vec<u8>,
    /// Names already quoted for CSV, owned so that the sink does not borrow the catalog.
    function_names: Vec<String>,
    app_names: Vec<String>,
    error: Option<io::Error>,
}

impl<W: Write> CsvRecords<W> {
    /// A sink writing to `writer` through its own buffer; the header is written by
    /// [`RecordSink::begin`].
    pub fn new(writer: W) -> Self {
        CsvRecords {
            out: BufWriter::with_capacity(1 << 16, writer),
            row: Vec::with_capacity(256),
            function_names: Vec::new(),
            app_names: Vec::new(),
            error: None,
        }
    }

    /// Flushes the rows and returns the writer, or the first error met while writing.
    pub fn finish(self) -> io::Result<W> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.out.into_inner().map_err(|e| e.into_error())
    }

    fn write_row(&mut self, r: &Record) -> io::Result<()> {
        let (Some(function), Some(app)) = (
            self.function_names.get(r.function.index()),
            self.app_names.get(r.app.index()),
        ) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "record {} names function {} of app {}, which the catalog given to begin does not have",
                    r.id, r.function.0, r.app.0
                ),
            ));
        };
        let row = &mut self.row;
        row.clear();
        push_int(row, r.id);
        row.push(b',');
        row.extend_from_slice(function.as_bytes());
        row.push(b',');
        row.extend_from_slice(app.as_bytes());
        for n in [u64::from(r.worker.0), r.arrival, r.start, r.end] {
            row.push(b',');
            push_int(row, n);
        }
        row.push(b',');
        row.extend_from_slice(r.start_kind.map_or("", |k| k.as_str()).as_bytes());
        let p = &r.phases;
        for n in [p.queue, p.create, p.install, p.import, p.init, p.exec] {
            row.push(b',');
            push_int(row, n);
        }
        row.push(b',');
        row.extend_from_slice(r.outcome.as_str().as_bytes());
        row.push(b',');
        row.extend_from_slice(r.outcome.reason().as_bytes());
        row.push(b'\n');
        self.out.write_all(row)
    }

    fn keep(&mut self, result: io::Result<()>) {
        if let Err(error) = result {
            self.error = Some(error);
        }
    }
}

impl<W: Write> RecordSink for CsvRecords<W> {
    fn begin(&mut self, info: &RunInfo<'_>) {
        self.function_names = info
            .catalog
            .functions
            .iter()
            .map(|f| quote(&f.name))
            .collect();
        self.app_names = info.catalog.apps.iter().map(|a| quote(&a.name)).collect();
        if self.error.is_none() {
            let header = RECORDS_HEADER.join(",") + "\n";
            let result = self.out.write_all(header.as_bytes());
            self.keep(result);
        }
    }

    fn invocation(&mut self, record: &Record) {
        if self.error.is_none() {
            let result = self.write_row(record);
            self.keep(result);
        }
    }
}

/// Reads a records file that [`CsvRecords`] wrote for a run of `catalog`'s functions, in file
/// order. Errors name the file, the line and the field.
pub fn read(path: &Path, catalog: &Catalog) -> Result<Vec<Record>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_from(file, catalog).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`read`] from any reader; errors name the line and the field.
pub fn read_from(reader: impl io::Read, catalog: &Catalog) -> Result<Vec<Record>, String> {
    let mut csv = csv::ReaderBuilder::new().from_reader(reader);
    let header = csv.headers().map_err(|e| e.to_string())?.clone();
    if header.iter().ne(RECORDS_HEADER.iter().copied()) {
        return Err(format!(
            "line 1: the header is not a records file's ({})",
            RECORDS_HEADER.join(",")
        ));
    }
    let functions: HashMap<&str, (FunctionId, AppId)> = catalog
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), (FunctionId(i as u32), f.app)))
        .collect();
    let mut records = Vec::new();
    let mut row = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(e.to_string()),
        }
        let line = row.position().map_or(0, |p| p.line());
        let field = |i: usize| &row[i];
        let number = |i: usize| -> Result<u64, String> {
            field(i).parse().map_err(|_| {
                format!(
                    "line {line}: {} is not a whole number: {:?}",
                    RECORDS_HEADER[i],
                    field(i)
                )
            })
        };
        let &(function, app) = functions
            .get(field(1))
            .ok_or_else(|| format!("line {line}: function {:?} is not in the catalog", field(1)))?;
        if catalog.app(app).name != field(2) {
            return Err(format!(
                "line {line}: function {:?} belongs to app {:?}, not {:?}",
                field(1),
                catalog.app(app).name,
                field(2)
            ));
        }
        let start_kind =
            match field(7) {
                "" => None,
                name => Some(StartKind::parse(name).ok_or_else(|| {
                    format!("line {line}: start_kind {name:?} is not a start kind")
                })?),
            };
        let outcome = Outcome::parse(field(14), field(15)).ok_or_else(|| {
            format!(
                "line {line}: outcome {:?} with reason {:?} is not an outcome",
                field(14),
                field(15)
            )
        })?;
        let worker = u32::try_from(number(3)?)
            .map_err(|_| format!("line {line}: worker {} is too large", field(3)))?;
        records.push(Record {
            id: number(0)?,
            function,
            app,
            worker: WorkerId(worker),
            arrival: number(4)?,
            start: number(5)?,
            end: number(6)?,
            start_kind,
            phases: Phases {
                queue: number(8)?,
                create: number(9)?,
                install: number(10)?,
                import: number(11)?,
                init: number(12)?,
                exec: number(13)?,
            },
            outcome,
        });
    }
    Ok(records)
}

/// A name as a CSV field (RFC 4180): quoted, with quotes doubled, only when it holds a comma,
/// a quote or a line break, so that ordinary names stay readable.
fn quote(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

/// Appends `n` in decimal without going through `fmt`: with `write!` a row costs about 2.5 times
/// as much (2.0 instead of 4.9 million rows/s in release).
fn push_int(row: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    row.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn writes_one_row_per_record() {
        // The scenario's seven records (see `fixture::records`) in microseconds. The app name
        // "shop, inc" is quoted; dropped rows have no start kind, completed rows no reason.
        let mut sink = CsvRecords::new(Vec::new());
        fixture::run(&mut sink);
        let text = String::from_utf8(sink.finish().unwrap()).unwrap();
        let expected = "\
id,function,app,worker,arrival_us,start_us,end_us,start_kind,queue_us,create_us,install_us,import_us,init_us,exec_us,outcome,reason
0,checkout,\"shop, inc\",0,0,200000,700000,cold,0,100000,50000,30000,20000,500000,ok,
1,checkout,\"shop, inc\",0,1000000,1001000,1301000,warm,0,0,0,0,1000,300000,ok,
2,cart,\"shop, inc\",1,2000000,2010000,2100000,unpause,0,0,0,0,10000,90000,ok,
3,render,blog,1,3000000,3000000,3000000,,0,0,0,0,0,0,dropped,queue-full
4,render,blog,1,4000000,4000000,4000000,,0,0,0,0,0,0,dropped,no-memory
5,render,blog,0,5000000,5060000,5100000,zygote-fork,0,40000,0,10000,10000,40000,ok,
6,cart,\"shop, inc\",1,6000000,6005000,6100000,warm,4000,0,0,0,1000,95000,failed,sandbox-crashed
";
        assert_eq!(text, expected);
        assert_eq!(RECORDS_HEADER.join(","), expected.lines().next().unwrap());
    }

    #[test]
    fn a_csv_reader_reads_back_awkward_names() {
        // Names with a comma, quotes and a line break must come back unchanged from a real CSV
        // parser, in the function and app columns (1 and 2).
        let names = ["a,b", "say \"hi\"", "two\nlines"];
        let mut catalog = fixture::catalog();
        for (function, name) in catalog.functions.iter_mut().zip(names) {
            function.name = name.to_string();
        }
        catalog.apps[1].name = names[1].to_string();
        let mut sink = CsvRecords::new(Vec::new());
        sink.begin(&RunInfo {
            catalog: &catalog,
            workers: &[sim::WorkerSpec {
                memory_mb: 1024,
                cores: 1,
            }],
        });
        for record in fixture::records() {
            sink.invocation(&record);
        }
        let bytes = sink.finish().unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(reader.headers().unwrap(), RECORDS_HEADER);
        let rows: Vec<(String, String)> = reader
            .records()
            .map(|row| {
                let row = row.unwrap();
                (row[1].to_string(), row[2].to_string())
            })
            .collect();
        let shop = "shop, inc".to_string();
        let blog = names[1].to_string();
        assert_eq!(
            rows,
            [
                (names[0].to_string(), shop.clone()),
                (names[0].to_string(), shop.clone()),
                (names[1].to_string(), shop.clone()),
                (names[2].to_string(), blog.clone()),
                (names[2].to_string(), blog.clone()),
                (names[2].to_string(), blog),
                (names[1].to_string(), shop),
            ]
        );
    }

    #[test]
    fn reads_back_what_it_wrote() {
        // Every outcome and start kind of the fixture, and names a CSV field must quote.
        let mut catalog = fixture::catalog();
        catalog.functions[1].name = "say \"hi\", twice".to_string();
        let mut sink = CsvRecords::new(Vec::new());
        sink.begin(&RunInfo {
            catalog: &catalog,
            workers: &[],
        });
        for record in fixture::records() {
            sink.invocation(&record);
        }
        let bytes = sink.finish().unwrap();
        assert_eq!(
            read_from(bytes.as_slice(), &catalog).unwrap(),
            fixture::records()
        );
    }

    #[test]
    fn a_bad_row_is_named_by_its_line_and_field() {
        let mut sink = CsvRecords::new(Vec::new());
        fixture::run(&mut sink);
        let text = String::from_utf8(sink.finish().unwrap()).unwrap();
        let catalog = fixture::catalog();
        let broken = |from: &str, to: &str| {
            let text = text.replacen(from, to, 1);
            read_from(text.as_bytes(), &catalog).unwrap_err()
        };
        assert_eq!(
            broken("1,checkout,", "1,chekout,"),
            "line 3: function \"chekout\" is not in the catalog"
        );
        assert_eq!(
            broken(",unpause,", ",unpaused,"),
            "line 4: start_kind \"unpaused\" is not a start kind"
        );
        assert_eq!(
            broken(
                "2,cart,\"shop, inc\",1,2000000",
                "2,cart,\"shop, inc\",1,2e6"
            ),
            "line 4: arrival_us is not a whole number: \"2e6\""
        );
        assert_eq!(
            broken("dropped,queue-full", "dropped,no-room"),
            "line 5: outcome \"dropped\" with reason \"no-room\" is not an outcome"
        );
        assert_eq!(
            broken("checkout,\"shop, inc\",0,0,", "checkout,blog,0,0,"),
            "line 2: function \"checkout\" belongs to app \"shop, inc\", not \"blog\""
        );
        assert!(broken("id,", "ident,").starts_with("line 1: the header"));
    }

    #[test]
    fn formats_integers_at_their_extremes() {
        let mut row = Vec::new();
        for n in [0, 10, u64::MAX] {
            push_int(&mut row, n);
            row.push(b' ');
        }
        assert_eq!(row, format!("0 10 {} ", u64::MAX).into_bytes());
    }

    #[test]
    fn quotes_names_only_when_needed() {
        assert_eq!(quote("plain name"), "plain name");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
    }

    /// Accepts `budget` bytes, then fails every write.
    #[derive(Debug)]
    struct FailingWriter {
        budget: usize,
        writes_after_failure: usize,
    }

    impl Write for FailingWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                self.writes_after_failure += 1;
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn keeps_the_first_io_error_and_stops_writing() {
        // The sink buffers 64 KiB, so 2000 rows (about 100 bytes each) force writes; the writer
        // takes 100 bytes.
        let mut sink = CsvRecords::new(FailingWriter {
            budget: 100,
            writes_after_failure: 0,
        });
        fixture::run(&mut sink);
        let row = fixture::records()[0];
        for _ in 0..2000 {
            sink.invocation(&row);
        }
        let error = sink.error.as_ref().expect("the write failed");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull);
        assert_eq!(sink.out.get_ref().writes_after_failure, 1);
        assert_eq!(
            sink.finish().unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
    }

    #[test]
    fn a_record_outside_the_catalog_is_an_error() {
        let mut sink = CsvRecords::new(Vec::new());
        fixture::run(&mut sink);
        let mut stray = fixture::records()[0];
        stray.function = workloads::FunctionId(9);
        sink.invocation(&stray);
        let error = sink.finish().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("function 9"), "{error}");
    }
}
