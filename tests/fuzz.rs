//! Fuzzing every input lambdasim reads: scenario files and the native, Azure 2019, Azure 2021
//! and Huawei 2023 trace readers and the native package catalogue. Each input is a file of the
//! committed corpus (`tests/fixtures/fuzz/`, and the scenarios in `scenarios/`) with 1 to 4
//! random mutations: bytes changed, inserted or deleted, fields replaced by extreme or malformed
//! values (`-1`, `18446744073709551615`, `1e300`, `NaN`, invalid UTF-8, …), lines duplicated,
//! swapped or cut. The properties:
//!
//! - nothing panics (every reader either accepts the input or returns an error);
//! - an accepted trace gives statistics whose percentiles lie between its minimum and maximum,
//!   and a simulation whose summary agrees with itself: completed + dropped + failed = total,
//!   every latency percentile between 0 and the maximum, in order, and a span at least as long
//!   as the longest latency;
//! - memory stays bounded (the process's peak is checked at the end).
//!
//! `LAMBDASIM_FUZZ_INPUTS=N` sets the number of inputs (default 600, a short run for CI);
//! `LAMBDASIM_FUZZ_SEED=S` the seed; `LAMBDASIM_FUZZ_TRACE=1` names each input as it starts (on
//! one thread); `LAMBDASIM_FUZZ_ONLY=I` runs input I alone and, with `LAMBDASIM_FUZZ_DUMP=DIR`,
//! writes its files to DIR instead. The long run, on both cores:
//!
//! ```text
//! LAMBDASIM_FUZZ_INPUTS=1000000 cargo test --release --test tests fuzz -- --nocapture
//! ```

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lambdasim::scenario::RawScenario;

use crate::cli::TempDir;
use crate::util::{Rng, env_number};

/// Values that break readers that trust their input.
const TOKENS: &[&[u8]] = &[
    b"",
    b"0",
    b"-1",
    b"-0",
    b"1",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"4294967296",
    b"1e300",
    b"-1e300",
    b"1e-300",
    b"NaN",
    b"inf",
    b"-inf",
    b"0.5",
    b"99999999999",
    b"1m1m",
    b" ",
    b",",
    b",,,,",
    b"\n",
    b"\r\n",
    b"\"",
    b"\"a,b\"",
    b"\xff\xfe",
    b"\xc3",
    b"=",
    b"[",
    b"]",
    b"{",
    b"}",
    b"#",
    b"minute_99999999",
    b"percentile_Average_50",
    b"1h",
    b"0s",
    b"true",
];

/// Applies 1 to 4 random mutations to `data`.
fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(9) {
            // A byte changed.
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            // A token inserted.
            1 => {
                let i = rng.below(len + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(i..i, t.iter().copied());
            }
            // A field (between separators) replaced by a token.
            2 | 3 if len > 0 => {
                let i = rng.below(len);
                let sep = |b: &u8| matches!(b, b',' | b'\n' | b'=' | b'"' | b' ' | b':');
                let start = data[..i].iter().rposition(sep).map_or(0, |p| p + 1);
                let end = data[i..].iter().position(sep).map_or(len, |p| i + p);
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(start..end, t.iter().copied());
            }
            // A range deleted.
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                data.drain(i..i + n);
            }
            // A line duplicated, or two swapped.
            5 | 6 => {
                let mut lines: Vec<Vec<u8>> =
                    data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                if rng.below(2) == 0 {
                    let line = lines[a].clone();
                    lines.insert(b, line);
                } else {
                    lines.swap(a, b);
                }
                *data = lines.join(&b'\n');
            }
            // Cut short.
            7 if len > 0 => data.truncate(rng.below(len)),
            // A number made huge or negative.
            _ => {
                if let Some(i) = (0..8)
                    .map(|_| rng.below(len.max(1)))
                    .find(|&i| data.get(i).is_some_and(u8::is_ascii_digit))
                {
                    let t: &[u8] = if rng.below(2) == 0 {
                        b"99999999999999"
                    } else {
                        b"-"
                    };
                    data.splice(i..i, t.iter().copied());
                }
            }
        }
    }
    // Inputs stay small: what a long line costs is tested on its own.
    data.truncate(256 << 10);
}

/// A fuzz target: the files of one input (name and contents) and how to use them.
struct Target {
    name: &'static str,
    /// The corpus: file name and contents.
    files: Vec<(String, Vec<u8>)>,
    /// The scenario that reads the input in directory `DIR` (`{dir}` is replaced).
    scenario: &'static str,
}

fn fixture(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(dir);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

const CLUSTER: &str = "seed = 3\n[cluster]\nworkers = 2\nmemory_mb = 2048\n";

fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "native",
            files: fixture("native"),
            scenario: "[workload]\nkind = \"native\"\npath = \"{dir}\"\n",
        },
        Target {
            name: "azure2019",
            files: fixture("azure2019"),
            scenario: "[workload]\nkind = \"azure2019\"\npath = \"{dir}\"\n",
        },
        Target {
            name: "azure2019-faascache",
            files: fixture("azure2019"),
            scenario: "[workload]\nkind = \"azure2019\"\npath = \"{dir}\"\ndurations = \"faascache\"\n",
        },
        Target {
            name: "azure2021",
            files: fixture("azure2021"),
            scenario: "[workload]\nkind = \"azure2021\"\npath = \"{dir}/trace.csv\"\n",
        },
        Target {
            name: "huawei2023",
            files: fixture("huawei2023"),
            scenario: "[workload]\nkind = \"huawei2023\"\npath = \"{dir}\"\n",
        },
        Target {
            name: "catalog",
            files: fixture("catalog"),
            scenario: "[workload]\nkind = \"synthetic\"\nfunctions = 10\napps = 3\nduration = \"1m\"\nrate = 2.0\n\
                       [packages]\ncatalog = { kind = \"native\", path = \"{dir}/catalog.json\" }\n",
        },
        Target {
            name: "scenario",
            files: scenario_corpus(),
            scenario: "",
        },
    ]
}

/// The repository's scenario files, with the synthetic workloads made tiny so that an
/// accepted mutation runs fast.
fn scenario_corpus() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("presets")] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "toml") {
                files.push((
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

/// Statistics and summary properties of an accepted input; the reason they fail, if they do.
fn check_accepted(raw: RawScenario) -> Result<(), String> {
    let Ok(scenario) = raw.validate() else {
        return Ok(());
    };
    // Scenario mutations may ask for a long synthetic workload: run only small ones.
    if let lambdasim::scenario::RawWorkload::Synthetic(spec) = &scenario.workload
        && (spec.duration.micros() as f64 / 1e6 * spec.rate > 20_000.0
            || spec.functions > 5_000
            || spec.duration.micros() > 7 * 86_400_000_000)
    {
        return Ok(());
    }
    let Ok((workload, _)) = lambdasim::load_workload(&scenario) else {
        return Ok(());
    };
    if let Ok(stats) = analysis::trace_stats::TraceStats::collect(workload, 60_000_000) {
        for (what, d) in [
            ("duration", &stats.duration_ms),
            ("memory", &stats.memory_mb),
            ("invocations per function", &stats.invocations_per_function),
        ] {
            let values: Vec<f64> = d.quantiles.iter().map(|q| q.1).collect();
            if values.windows(2).any(|w| w[0] > w[1]) || values.iter().any(|v| !v.is_finite()) {
                return Err(format!(
                    "trace info {what} quantiles out of order: {:?}",
                    d.quantiles
                ));
            }
        }
    }
    let Ok(result) = lambdasim::run(&scenario, None) else {
        return Ok(());
    };
    let s = &result.summary;
    let inv = &s.invocations;
    if inv.completed + inv.dropped + inv.failed != inv.total {
        return Err(format!("counts do not add up: {inv:?}"));
    }
    for (what, l) in [
        ("latency", &s.latency_ms),
        ("startup delay", &s.startup_delay_ms),
        ("cold start", &s.cold_start_ms),
    ] {
        let q = [0.0, l.p50, l.p90, l.p99, l.p999, l.max];
        if l.count > 0 && (q.windows(2).any(|w| w[0] > w[1]) || q.iter().any(|v| !v.is_finite())) {
            return Err(format!("{what} percentiles out of order: {l:?}"));
        }
    }
    if s.span_s * 1000.0 + 1e-6 < s.latency_ms.max {
        return Err(format!(
            "span {} s is shorter than the longest latency {} ms",
            s.span_s, s.latency_ms.max
        ));
    }
    Ok(())
}

/// Runs input `index` of `target` in `dir`: returns a problem found, if any, as its kind and a
/// report with the input.
fn run_one(target: &Target, seed: u64, index: u64, dir: &Path) -> Result<(), (String, String)> {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let mut files = target.files.clone();
    let which = rng.below(files.len());
    mutate(&mut files[which].1, &mut rng);
    if let Ok(dump) = std::env::var("LAMBDASIM_FUZZ_DUMP") {
        // Writes the input's files (and the scenario that reads them) instead of running it.
        let dump = Path::new(&dump);
        std::fs::create_dir_all(dump).unwrap();
        for (name, data) in &files {
            std::fs::write(dump.join(name), data).unwrap();
        }
        let text = format!(
            "{CLUSTER}{}",
            target
                .scenario
                .replace("{dir}", &dump.display().to_string())
        );
        std::fs::write(dump.join("fuzz-scenario.toml"), text).unwrap();
        return Ok(());
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        if target.name == "scenario" {
            let text = String::from_utf8_lossy(&files[which].1).into_owned();
            let raw = match RawScenario::parse(&text, &files[which].0) {
                Ok(raw) => raw,
                Err(_) => return Ok(()),
            };
            return check_accepted(raw);
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        for (name, data) in &files {
            std::fs::write(dir.join(name), data).unwrap();
        }
        let text = format!(
            "{CLUSTER}{}",
            target.scenario.replace("{dir}", &dir.display().to_string())
        );
        let raw = RawScenario::parse(&text, "fuzz.toml")
            .map_err(|e| format!("the harness's scenario: {e}"))?;
        check_accepted(raw)
    }));
    let found = match outcome {
        Ok(r) => r.err(),
        Err(panic) => Some(format!(
            "panic: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    };
    found
        .map(|problem| {
            let shown = String::from_utf8_lossy(&files[which].1);
            let shown: String = shown.chars().take(2_000).collect();
            let kind: String = problem
                .split_whitespace()
                .take(4)
                .collect::<Vec<_>>()
                .join(" ");
            (
                format!("{}: {kind}", target.name),
                format!(
                    "{} input {index} (seed {seed}), file {}: {problem}\n--- input ---\n{shown}\n---",
                    target.name, files[which].0
                ),
            )
        })
        .map_or(Ok(()), Err)
}

/// Peak resident memory of this process, in kB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn no_input_panics_or_gives_a_summary_that_contradicts_itself() {
    let inputs = env_number("LAMBDASIM_FUZZ_INPUTS", 600);
    let seed = env_number("LAMBDASIM_FUZZ_SEED", 1);
    let targets = targets();
    let root = TempDir::new("fuzz");
    // `LAMBDASIM_FUZZ_TRACE=1` names each input before it runs, on one thread: the last name
    // printed is the input that crashed the process, if one did.
    let trace = env_number("LAMBDASIM_FUZZ_TRACE", 0) == 1;
    // `LAMBDASIM_FUZZ_ONLY=I` runs input I alone; with `LAMBDASIM_FUZZ_DUMP=DIR` it writes the
    // input's files to DIR (with `fuzz-scenario.toml`, which reads them) instead.
    let only = std::env::var("LAMBDASIM_FUZZ_ONLY")
        .ok()
        .map(|_| env_number("LAMBDASIM_FUZZ_ONLY", 0));
    let threads = if trace {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get()) as u64
    };
    let next = AtomicU64::new(0);
    let started = std::time::Instant::now();
    // Panics are caught and reported as findings (the default hook prints them as well).
    let problems: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (targets, next, root) = (&targets, &next, root.path());
                s.spawn(move || {
                    let dir: PathBuf = root.join(format!("t{t}"));
                    // The first input of each kind of problem (its target and the message's
                    // first words).
                    let mut found: Vec<(String, String)> = Vec::new();
                    loop {
                        let i = match only {
                            Some(i) if next.fetch_add(1, Ordering::Relaxed) == 0 => i,
                            Some(_) => return found,
                            None => next.fetch_add(1, Ordering::Relaxed),
                        };
                        if i >= inputs && only.is_none() {
                            return found;
                        }
                        let target = &targets[(i % targets.len() as u64) as usize];
                        if trace {
                            eprintln!("input {i}: {}", target.name);
                        }
                        if let Err((kind, p)) = run_one(target, seed, i, &dir)
                            && !found.iter().any(|(k, _)| *k == kind)
                        {
                            found.push((kind, p));
                        }
                    }
                })
            })
            .collect();
        let mut all: Vec<(String, String)> = Vec::new();
        for (kind, p) in handles.into_iter().flat_map(|h| h.join().unwrap()) {
            if !all.iter().any(|(k, _)| *k == kind) {
                all.push((kind, p));
            }
        }
        all.into_iter().map(|(_, p)| p).collect()
    });
    let peak = peak_rss_kb();
    eprintln!(
        "{inputs} inputs over {} targets (seed {seed}) in {:.1} s; peak memory {} MB; {} problems",
        targets.len(),
        started.elapsed().as_secs_f64(),
        peak / 1024,
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(peak < 2 << 20, "peak memory {peak} kB");
}
