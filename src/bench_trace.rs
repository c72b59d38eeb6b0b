//! `lambdasim bench --traces`: how fast the Azure 2019 reader parses full-size day files, and
//! whether replay memory stays flat as the number of days grows.
//!
//! The benchmark writes its own day files (`workloads::azure2019::write_day`, about 50,000
//! functions x 1,440 minutes each, the size of a day of the public trace) into a scratch
//! directory, then measures, each in its own process so that peak memory is its own:
//! - `read`: reading the invocation files' bytes and nothing else, the baseline;
//! - `open`: the reader's first pass (parse the day files, build the catalog, count invocations);
//! - `replay`: open, then stream every invocation with `even` arrivals, the rate scaled by
//!   [`REPLAY_SCALE`]: the generated days hold about 400 million invocations each; every cell is
//!   still parsed and scaled, and a twentieth of the arrivals is generated.
//!
//! Parse speed is the invocation files' size over the time of `open`.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use workloads::trace::{DayRange, RateScale, TraceSpec};

use crate::Error;

/// One measurement, as a child prints it.
#[derive(Clone, Copy, Debug)]
pub struct TraceSample {
    pub bytes: u64,
    pub invocations: u64,
    pub seconds: f64,
    pub peak_rss_kb: u64,
}

/// Rate factor of the `replay` measurement.
pub const REPLAY_SCALE: f64 = 0.05;

fn input_file(dir: &Path, day: u32) -> PathBuf {
    dir.join(format!("invocations_per_function_md.anon.d{day:02}.csv"))
}

fn inv_bytes(dir: &Path, days: u32) -> u64 {
    (1..=days)
        .map(|d| std::fs::metadata(input_file(dir, d)).map_or(0, |m| m.len()))
        .sum()
}

/// Runs one measurement in this process.
pub fn measure(kind: &str, dir: &Path, days: u32) -> Result<TraceSample, Error> {
    let bytes = inv_bytes(dir, days);
    let started = Instant::now();
    let mut invocations = 0u64;
    let fail = |e: workloads::WorkloadError| Error::Input(e.to_string());
    match kind {
        "read" => {
            let mut buffer = vec![0u8; 1 << 20];
            let mut sum = 0u64;
            for d in 1..=days {
                let path = input_file(dir, d);
                let mut f = std::fs::File::open(&path)
                    .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
                loop {
                    let n = f
                        .read(&mut buffer)
                        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
                    if n == 0 {
                        break;
                    }
                    sum = sum.wrapping_add(buffer[..n].iter().map(|&b| u64::from(b)).sum());
                }
            }
            std::hint::black_box(sum);
        }
        "open" | "replay" => {
            let spec = TraceSpec {
                path: dir.to_path_buf(),
                days: Some(DayRange {
                    first: 1,
                    last: days,
                }),
                rate: (kind == "replay").then_some(RateScale::Multiply(REPLAY_SCALE)),
                ..TraceSpec::default()
            };
            let trace = workloads::azure2019::open(&spec, 1).map_err(fail)?;
            if kind == "replay" {
                let (workload, _) = trace.into_workload(&spec, 1).map_err(fail)?;
                let mut checksum = 0u64;
                for inv in workload.invocations {
                    let inv = inv.map_err(fail)?;
                    invocations += 1;
                    checksum = checksum.wrapping_add(inv.arrival);
                }
                std::hint::black_box(checksum);
            } else {
                invocations = trace.counts.iter().sum();
            }
        }
        other => return Err(Error::Input(format!("unknown trace measurement {other:?}"))),
    }
    Ok(TraceSample {
        bytes,
        invocations,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_kb: crate::bench::peak_rss_kb(),
    })
}

fn spawn(kind: &str, dir: &Path, days: u32) -> Result<TraceSample, Error> {
    let days = days.to_string();
    let f = crate::bench::child_numbers(
        &[
            "--child".as_ref(),
            kind.as_ref(),
            "--trace-dir".as_ref(),
            dir.as_os_str(),
            "--trace-days".as_ref(),
            days.as_ref(),
        ],
        4,
    )?;
    Ok(TraceSample {
        bytes: f[0] as u64,
        invocations: f[1] as u64,
        seconds: f[2],
        peak_rss_kb: f[3] as u64,
    })
}

/// Writes the day files, measures, and returns the report.
pub fn run(
    functions: usize,
    days: &[u32],
    dir: Option<&Path>,
    repeat: u32,
) -> Result<String, Error> {
    let most = days.iter().copied().max().unwrap_or(1);
    let scratch;
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            scratch = crate::bench::ScratchDir::new("lambdasim-bench-traces")?;
            scratch.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", dir.display())))?;
    let mut report = String::new();
    let started = Instant::now();
    for day in 1..=most {
        workloads::azure2019::write_day(&dir, day, functions, 1)
            .map_err(|e| Error::Output(e.to_string()))?;
    }
    let _ = writeln!(
        report,
        "lambdasim bench --traces: Azure 2019 day files of {functions} functions x 1440 minutes, \
         written in {:.1} s to {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let _ = writeln!(
        report,
        "  best of {} runs, each in its own process; `read` (bytes only) is the baseline; \
         `replay` streams every invocation at rate x{REPLAY_SCALE}\n",
        repeat.max(1)
    );
    let _ = writeln!(
        report,
        "{:>4} {:<7} {:>10} {:>13} {:>9} {:>9} {:>11} {:>8}",
        "days", "measure", "input MB", "invocations", "seconds", "MB/s", "M inv/s", "peak MB"
    );
    for &d in days {
        for kind in ["read", "open", "replay"] {
            let mut best: Option<TraceSample> = None;
            for _ in 0..repeat.max(1) {
                let s = spawn(kind, &dir, d)?;
                if best.is_none_or(|b| s.seconds < b.seconds) {
                    best = Some(s);
                }
            }
            let s = best.expect("at least one run");
            let inv_rate = if kind == "replay" {
                format!("{:.2}", s.invocations as f64 / s.seconds / 1e6)
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                report,
                "{:>4} {:<7} {:>10.1} {:>13} {:>9.3} {:>9.0} {:>11} {:>8.1}",
                d,
                kind,
                s.bytes as f64 / 1e6,
                s.invocations,
                s.seconds,
                s.bytes as f64 / 1e6 / s.seconds,
                inv_rate,
                s.peak_rss_kb as f64 / 1024.0
            );
        }
    }
    Ok(report)
}
