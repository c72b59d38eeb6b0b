//! `lambdasim bench --aggregate` (with the polars feature): how fast `lambdasim aggregate`
//! summarizes a large per-invocation records file and how much memory it takes, against reading
//! the file's bytes, each in a process of its own so that peak memory is the measurement's.

use std::io::{BufWriter, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use workloads::Duration;

use crate::Error;

/// One measurement: rows seen, seconds, peak resident memory, and peak anonymous memory (the
/// resident memory less pages of mapped files, such as the input polars may map).
struct Sample {
    rows: u64,
    seconds: f64,
    peak_rss_kb: u64,
    peak_anon_kb: u64,
}

/// This process's resident anonymous memory in kB.
fn rss_anon_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs one measurement in this process and returns it as one line:
/// `rows seconds peak_rss_kb peak_anon_kb`; anonymous memory is sampled every 5 ms.
/// `kind` is `scan` (read the bytes and count lines), `aggregate` (one row for everything) or
/// `aggregate-function` (one row per function).
pub fn measure(kind: &str, file: &Path) -> Result<String, Error> {
    let done = AtomicBool::new(false);
    let (rows, seconds, peak_anon) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_anon_kb());
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak.max(rss_anon_kb())
        });
        let started = Instant::now();
        let rows = count(kind, file);
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        (rows, seconds, sampler.join().unwrap_or(0))
    });
    Ok(format!(
        "{} {seconds:.6} {} {peak_anon}\n",
        rows?,
        crate::bench::peak_rss_kb()
    ))
}

/// The rows of `file`, counted by measurement `kind`.
fn count(kind: &str, file: &Path) -> Result<u64, Error> {
    Ok(match kind {
        "scan" => {
            let mut f = std::fs::File::open(file)
                .map_err(|e| Error::Input(format!("{}: {e}", file.display())))?;
            let mut buf = vec![0u8; 1 << 20];
            let mut lines = 0u64;
            loop {
                let n = f
                    .read(&mut buf)
                    .map_err(|e| Error::Input(format!("{}: {e}", file.display())))?;
                if n == 0 {
                    break;
                }
                lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            }
            lines.saturating_sub(1)
        }
        _ => {
            let by = (kind == "aggregate-function").then_some("function");
            let table = analysis::frames::aggregate_records(file, by).map_err(Error::Input)?;
            let i = table
                .columns
                .iter()
                .position(|c| c == "invocations")
                .unwrap_or(0);
            table
                .rows
                .iter()
                .filter_map(|r| r[i].parse::<u64>().ok())
                .sum()
        }
    })
}

fn spawn(kind: &str, file: &Path) -> Result<Sample, Error> {
    let f = crate::bench::child_numbers(
        &[
            "--child".as_ref(),
            kind.as_ref(),
            "--records-file".as_ref(),
            file.as_os_str(),
        ],
        4,
    )?;
    Ok(Sample {
        rows: f[0] as u64,
        seconds: f[1],
        peak_rss_kb: f[2] as u64,
        peak_anon_kb: f[3] as u64,
    })
}

/// Writes the records of the `stress` benchmark scenario (500 invocations per second) long
/// enough for `rows` rows.
fn generate(file: &Path, rows: u64) -> Result<(), Error> {
    let secs = rows.div_ceil(500);
    let scenario = crate::bench::scenario("stress", Duration::from_secs(secs)).validate()?;
    let out = std::fs::File::create(file)
        .map_err(|e| Error::Output(format!("{}: {e}", file.display())))?;
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    crate::run(&scenario, Some(&mut writer))?;
    std::io::Write::flush(&mut writer)
        .map_err(|e| Error::Output(format!("{}: {e}", file.display())))?;
    Ok(())
}

/// The benchmark: writes a records file of about `rows` rows (or uses `file`), then measures
/// each kind `repeat` times and reports the fastest.
pub fn run(rows: u64, file: Option<&Path>, repeat: u32) -> Result<String, Error> {
    let temp = std::env::temp_dir().join(format!("lambdasim-bench-records-{}", std::process::id()));
    let path = match file {
        Some(f) if f.exists() => f.to_path_buf(),
        Some(f) => {
            generate(f, rows)?;
            f.to_path_buf()
        }
        None => {
            std::fs::create_dir_all(&temp)
                .map_err(|e| Error::Output(format!("{}: {e}", temp.display())))?;
            let f = temp.join("records.csv");
            generate(&f, rows)?;
            f
        }
    };
    let result = (|| {
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?
            .len();
        let mb = size as f64 / 1e6;
        let mut out = format!(
            "records file {} : {mb:.0} MB\n\n\
             | measurement | rows | seconds | MB/s | M rows/s | peak RSS MB | peak anonymous MB |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
            path.display()
        );
        for (kind, label) in [
            ("scan", "read the bytes, count lines (baseline)"),
            ("aggregate", "aggregate, one row"),
            ("aggregate-function", "aggregate, by function"),
        ] {
            let mut best: Option<Sample> = None;
            for _ in 0..repeat.max(1) {
                let s = spawn(kind, &path)?;
                if best.as_ref().is_none_or(|b| s.seconds < b.seconds) {
                    best = Some(s);
                }
            }
            let s = best.expect("at least one run");
            out.push_str(&format!(
                "| {label} | {} | {:.2} | {:.0} | {:.2} | {:.1} | {:.1} |\n",
                s.rows,
                s.seconds,
                mb / s.seconds,
                s.rows as f64 / s.seconds / 1e6,
                s.peak_rss_kb as f64 / 1024.0,
                s.peak_anon_kb as f64 / 1024.0
            ));
        }
        Ok(out)
    })();
    if file.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    result
}
