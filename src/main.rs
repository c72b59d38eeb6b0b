//! The `lambdasim` command line: parses flags, applies them to the scenario and dispatches.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lambdasim::scenario::{NativeSpec, QueueKind, RawScenario, RawWorkload};
use lambdasim::spec::parse_policy;
use lambdasim::{Error, bench, load_workload};
use workloads::Duration;

#[derive(Parser)]
#[command(
    name = "lambdasim",
    version,
    about = "Simulate serverless keep-alive and scheduling policies on replayed or synthetic traces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and print a summary. With no options: the embedded default scenario, a
    /// day of an Azure-like synthetic workload on 4 workers with a 10-minute keep-alive.
    #[command(
        after_help = "Every setting, including the cost model and all workload parameters, \
can be given in a scenario file; `scenarios/default.toml` is the embedded default, with each field \
explained. Flags override the file. Durations take a unit: us, ms, s, m, h, d."
    )]
    Run(RunArgs),
    /// Write a scenario's synthetic workload as a native trace (functions.csv, invocations.csv).
    Generate(GenerateArgs),
    /// Measure simulation throughput and memory on a fixed synthetic scenario.
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct ScenarioArgs {
    /// Scenario file (TOML). Without it, the embedded default scenario is used; flags override
    /// either.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seed of every random choice (workload generation, random policies).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of workers.
    #[arg(long, value_name = "N")]
    workers: Option<u32>,
    /// Memory of each worker for sandboxes, in MB.
    #[arg(long, value_name = "MB")]
    memory_mb: Option<u64>,
    /// Cores of each worker.
    #[arg(long, value_name = "N")]
    cores: Option<u32>,
    /// Invocations a sandbox may run at once.
    #[arg(long, value_name = "N")]
    concurrency: Option<u32>,
    /// What an invocation does when its worker has no memory to free: wait in the worker's FIFO
    /// queue, or be dropped.
    #[arg(long, value_enum)]
    queue: Option<QueueArg>,
    /// Capacity of each worker's queue; arrivals beyond it are dropped.
    #[arg(long, value_name = "N")]
    queue_capacity: Option<u32>,
    /// Keep-alive policy: none | ttl[,idle=DURATION] | lru. Example: ttl,idle=20m.
    #[arg(long, value_name = "POLICY")]
    keep_alive: Option<String>,
    /// Scheduler: round-robin | random | least-loaded | hash.
    #[arg(long, value_name = "POLICY")]
    scheduler: Option<String>,
    /// Replay a native trace directory (functions.csv, invocations.csv) instead of the
    /// scenario's workload.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    /// Synthetic workload: number of functions.
    #[arg(long, value_name = "N")]
    functions: Option<u32>,
    /// Synthetic workload: number of apps.
    #[arg(long, value_name = "N")]
    apps: Option<u32>,
    /// Synthetic workload: trace length, e.g. 4h or 1d.
    #[arg(long, value_name = "DURATION")]
    duration: Option<Duration>,
    /// Synthetic workload: mean invocations per second over all functions.
    #[arg(long, value_name = "PER_SEC", allow_negative_numbers = true)]
    rate: Option<f64>,
    /// Synthetic workload: Zipf exponent of function popularity.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    zipf: Option<f64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum QueueArg {
    Queue,
    Drop,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Directory for summary.json and the effective scenario.toml (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write every invocation to records.csv in --out.
    #[arg(long, requires = "out")]
    records: bool,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct GenerateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Directory to write the trace into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Generate(args) => generate(args),
        Command::Bench(args) => bench::run(&args).map(|report| emit(&report)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// Writes to standard output; a closed pipe (`lambdasim run | head`) ends the program quietly
/// instead of panicking.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

fn input(message: String) -> Error {
    Error::Input(message)
}

/// The scenario file (or the default) with the flags applied.
fn raw_scenario(args: &ScenarioArgs) -> Result<RawScenario, Error> {
    let mut raw = match &args.config {
        Some(path) => RawScenario::load(path)?,
        None => RawScenario::default_scenario(),
    };
    if let Some(seed) = args.seed {
        raw.seed = seed;
    }
    let c = &mut raw.cluster;
    c.workers = args.workers.unwrap_or(c.workers);
    c.memory_mb = args.memory_mb.unwrap_or(c.memory_mb);
    c.cores = args.cores.unwrap_or(c.cores);
    c.concurrency = args.concurrency.unwrap_or(c.concurrency);
    c.queue_capacity = args.queue_capacity.unwrap_or(c.queue_capacity);
    if let Some(q) = args.queue {
        c.queue = match q {
            QueueArg::Queue => QueueKind::Queue,
            QueueArg::Drop => QueueKind::Drop,
        };
    }
    if let Some(text) = &args.keep_alive {
        raw.policies.keep_alive = parse_policy("--keep-alive", text)?;
    }
    if let Some(text) = &args.scheduler {
        raw.policies.scheduler = parse_policy("--scheduler", text)?;
    }
    if let Some(dir) = &args.trace {
        raw.workload = RawWorkload::Native(NativeSpec { dir: dir.clone() });
    }
    let synthetic_flags = [
        ("--functions", args.functions.is_some()),
        ("--apps", args.apps.is_some()),
        ("--duration", args.duration.is_some()),
        ("--rate", args.rate.is_some()),
        ("--zipf", args.zipf.is_some()),
    ];
    match &mut raw.workload {
        RawWorkload::Synthetic(w) => {
            w.functions = args.functions.unwrap_or(w.functions);
            w.apps = args.apps.unwrap_or(w.apps);
            w.duration = args.duration.unwrap_or(w.duration);
            w.rate = args.rate.unwrap_or(w.rate);
            w.zipf = args.zipf.unwrap_or(w.zipf);
        }
        RawWorkload::Native(_) => {
            if let Some((flag, _)) = synthetic_flags.iter().find(|(_, set)| *set) {
                return Err(input(format!(
                    "{flag} shapes a synthetic workload, but this scenario replays a native trace"
                )));
            }
        }
    }
    Ok(raw)
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", dir.display())))
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text)
        .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))
}

fn run(args: RunArgs) -> Result<(), Error> {
    let scenario = raw_scenario(&args.scenario)?.validate()?;
    if let Some(dir) = &args.out {
        create_dir(dir)?;
        write_file(&dir.join("scenario.toml"), &scenario.raw.to_toml())?;
    }
    let result = if args.records {
        let dir = args
            .out
            .as_ref()
            .expect("clap requires --out with --records");
        let path = dir.join("records.csv");
        let file = File::create(&path)
            .map_err(|e| Error::Output(format!("cannot create {}: {e}", path.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        lambdasim::run(&scenario, Some(&mut out as &mut dyn Write))?
    } else {
        lambdasim::run(&scenario, None)?
    };
    let json = analysis::to_json(&result.summary);
    if let Some(dir) = &args.out {
        write_file(&dir.join("summary.json"), &json)?;
    }
    if args.json {
        emit(&json);
    } else {
        emit(&format!(
            "lambdasim run\n\n{}\n{}",
            scenario.describe(),
            analysis::render_text(&result.summary)
        ));
    }
    let s = &result.stats;
    eprintln!(
        "simulated {} invocations ({} events) in {:.2} s: {:.2} M invocations/s",
        s.invocations,
        s.events,
        result.elapsed_secs,
        s.invocations as f64 / result.elapsed_secs.max(1e-9) / 1e6
    );
    Ok(())
}

fn generate(args: GenerateArgs) -> Result<(), Error> {
    let scenario = raw_scenario(&args.scenario)?.validate()?;
    if !matches!(scenario.workload, RawWorkload::Synthetic(_)) {
        return Err(input(
            "generate writes synthetic workloads; this scenario replays a native trace".to_string(),
        ));
    }
    let workload = load_workload(&scenario)?;
    let n = workloads::native::write(&args.out, &workload.catalog, workload.invocations)
        .map_err(|e| Error::Output(e.to_string()))?;
    emit(&format!(
        "wrote {} functions in {} apps and {n} invocations to {}\n",
        workload.catalog.functions.len(),
        workload.catalog.apps.len(),
        args.out.display()
    ));
    Ok(())
}
