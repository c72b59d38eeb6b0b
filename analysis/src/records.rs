//! Per-invocation record files: one CSV row per [`Record`], written as the run goes, so a run of
//! any length keeps only a write buffer in memory.

use std::io::{self, BufWriter, Write};

use sim::record::{Record, RecordSink, RunInfo};

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
