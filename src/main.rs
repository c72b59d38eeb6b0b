//! The `lambdasim` command line: parses flags, applies them to the scenario and dispatches.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use lambdasim::scenario::{QueueKind, RawScenario, RawWorkload};
use lambdasim::spec::parse_policy;
use lambdasim::{Error, TraceLoad, bench, load_workload};
use workloads::Duration;
use workloads::synthetic::AppMemory;
use workloads::trace::{
    ArrivalMode, DayRange, DurationMode, Granularity, MemoryPercentile, RateScale, TraceFormat,
    TraceSpec,
};

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
    /// Inspect, sample and convert recorded traces (Azure 2019 and 2021, Huawei 2023, native).
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Measure simulation throughput and memory on a fixed synthetic scenario.
    Bench(bench::BenchArgs),
    /// Write a sweep's results as a Markdown report and an HTML page with figures (SVG and PNG).
    Report(ReportArgs),
    /// Measure this host's sandbox operations with real sandboxes (root and cgroups needed) and
    /// write a cost profile, for `run --costs` and `sweep --costs`.
    Calibrate(CalibrateArgs),
    /// Run a scenario in real mode and in the simulator on the same scaled workload, and compare
    /// them metric by metric with verdicts against the scenario's [validation] tolerances (exit
    /// code 4 when one is missed).
    Validate(ValidateArgs),
    /// Summarize a per-invocation records file (CSV or Parquet) of any size, overall or per
    /// function, app, worker, start kind or outcome. Needs the polars feature.
    Aggregate(AggregateArgs),
    /// Run a grid of simulations from a plan in parallel and write one result row per run.
    #[command(args_conflicts_with_subcommands = true)]
    Sweep(SweepArgs),
    /// Replay a scenario on this host with real sandboxes (cgroups and namespaces; needs root),
    /// through the same controller and policies as `run`, and print the same summary.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Times are wall-clock times: the workload's arrivals are divided by \
--time-scale and its execution times by --duration-scale (default: the time scale); the policies' \
own times (a TTL) are not scaled. `lambdasim real cleanup` removes what an interrupted run left."
    )]
    Real(RealArgs),
    /// The process inside a real sandbox (started by `lambdasim real`).
    #[command(hide = true)]
    RealRunner(RealRunnerArgs),
}

#[derive(Args)]
struct CalibrateArgs {
    /// Where to write the profile (TOML).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Trials per operation (package installs and imports: at most 50 of the bare operations,
    /// 60 through the backend).
    #[arg(long, default_value_t = 200, value_name = "N")]
    trials: usize,
    /// Quantiles per distribution, at equally spaced probabilities from 0 to 1.
    #[arg(long, default_value_t = 21, value_name = "N")]
    quantiles: usize,
    /// What runs in the sandboxes: `synthetic` (lambdasim's runner, as `real` replays use it)
    /// or `python` (the runtime of `real serve`: a handler that sleeps for the probe's run time).
    #[arg(long, value_name = "RUNTIME", default_value = "synthetic", value_parser = ["synthetic", "python"])]
    runtime: String,
    /// The Python interpreter, with --runtime python (default: python3 on the PATH).
    #[arg(long, value_name = "FILE")]
    python: Option<PathBuf>,
    /// The settings to measure with: those of the real runs the profile is for.
    #[command(flatten)]
    sandboxes: SandboxArgs,
}

#[derive(Args)]
struct AggregateArgs {
    /// A records file, as `run --records` writes it (records.csv), or the same columns as
    /// Parquet (a name ending in .parquet).
    records: PathBuf,
    /// One row per value of this column: function, app, worker, start_kind or outcome. One row
    /// for all records without it.
    #[arg(long, value_name = "COLUMN")]
    by: Option<String>,
    /// Where to write the table (CSV); standard output without it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ReportArgs {
    /// A sweep's results (CSV, or Parquet with a name ending in .parquet), as `lambdasim sweep`
    /// writes them.
    results: PathBuf,
    /// Directory for report.md, report.html and the figures (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The keep-alive policy wasted memory is compared with.
    #[arg(long, value_name = "POLICY", default_value = "ttl,idle=10m")]
    baseline: String,
    /// The runs the per-policy figures (CDFs, phases, memory over time) show: an axis and its
    /// value, such as cluster.memory_mb=65536, or seed=2. Repeatable. By default the median
    /// memory size, the first value of other axes and the first seed.
    #[arg(long, value_name = "AXIS=VALUE")]
    at: Vec<String>,
}

#[derive(Args)]
struct SweepArgs {
    #[command(subcommand)]
    action: Option<SweepAction>,
    /// The plan (TOML): a base scenario, seeds and a grid of values; see scenarios/sweep.toml.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Where to write the results: CSV, or Parquet when the name ends in .parquet (with the
    /// polars feature); standard output without it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Run only the runs whose index is I modulo N. Without it, SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX and LAMBDASIM_SHARDS, choose the shard.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Cost profile (a [costs] table, as `lambdasim calibrate` writes it) in place of the base
    /// scenario's costs in every run.
    #[arg(long, value_name = "FILE")]
    costs: Option<PathBuf>,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Print the runs the plan expands to instead of running them.
    #[arg(long)]
    list: bool,
}

#[derive(Subcommand)]
enum SweepAction {
    /// Merge the results of a plan's shards into one file, in run order.
    Merge {
        /// The shards' result files (CSV, or Parquet with the polars feature).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the merged results (CSV, or Parquet for a name ending in .parquet);
        /// standard output without it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
struct RealArgs {
    #[command(subcommand)]
    action: Option<RealAction>,
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    mode: RealModeArgs,
    #[command(flatten)]
    output: RunOutput,
}

/// How a scenario runs on real sandboxes.
#[derive(Args)]
struct RealModeArgs {
    /// Trace time per unit of wall-clock time: 60 replays a trace minute in a second. Overrides
    /// the scenario's `[real] time_scale`; 1 when neither is given.
    #[arg(long, value_name = "K", help_heading = "Real mode")]
    time_scale: Option<f64>,
    /// Execution and initialization times are divided by this (default: the time scale).
    /// Overrides the scenario's `[real] duration_scale`.
    #[arg(long, value_name = "K", help_heading = "Real mode")]
    duration_scale: Option<f64>,
    #[command(flatten)]
    sandboxes: SandboxArgs,
}

/// How real sandboxes are made and what they do, in a real run and in a calibration.
#[derive(Args)]
struct SandboxArgs {
    /// A sandbox's memory limit is its function's memory times this (plus the runner's own);
    /// 1/16 by default.
    #[arg(long, value_name = "F", help_heading = "Real mode")]
    memory_scale: Option<f64>,
    /// How invocations, initializations and package imports spend their time: busy (spinning on
    /// a core, the default) or sleep.
    #[arg(long, value_name = "MODE", value_parser = ["busy", "sleep"], help_heading = "Real mode")]
    exec: Option<String>,
    /// CPU limit of each sandbox, in cores.
    #[arg(long, value_name = "CORES", help_heading = "Real mode")]
    cpu_limit: Option<f64>,
    /// Give each sandbox a network namespace of its own.
    #[arg(long, help_heading = "Real mode")]
    net: bool,
    /// Run sandboxes as root with every capability and the host's root writable, as a plain
    /// process in namespaces. By default each sandbox is confined: a read-only view of the
    /// host's root (pivot_root) with only its scratch directory writable, user nobody with no
    /// capabilities, no_new_privs, a seccomp filter and a cgroup namespace of its own.
    #[arg(long, help_heading = "Real mode")]
    unconfined: bool,
    /// Share of its memory a sandbox fills as it initializes and holds while it lives (above 1:
    /// past the sandbox's limit, which the kernel enforces by killing it); 0.5 by default.
    #[arg(long, value_name = "F", help_heading = "Real mode")]
    touch: Option<f64>,
    /// Leave the kernel's cgroup migration lock favouring forks: by default a run mounts a
    /// private cgroup hierarchy with `favordynmods` (Linux 6.0+), which makes moving a new
    /// sandbox into its cgroup take about a millisecond instead of up to an RCU grace period.
    #[arg(long, help_heading = "Real mode")]
    no_favor_dynmods: bool,
    /// Child cgroups each worker keeps ready; 8 by default.
    #[arg(long, value_name = "N", help_heading = "Real mode")]
    pool: Option<usize>,
    /// Package files on disk are the catalogue's sizes times this; 0.01 by default.
    #[arg(long, value_name = "F", help_heading = "Real mode")]
    disk_scale: Option<f64>,
    /// How long past its expected end (its scaled duration, stretched by --cpu-limit) an
    /// invocation may go unanswered before its sandbox is killed and it fails as `timeout`.
    /// Overrides the scenario's `[real] invocation_timeout`; 60s when neither is given.
    #[arg(long, value_name = "DURATION", help_heading = "Real mode")]
    invocation_timeout: Option<Duration>,
}

#[derive(Args)]
struct ValidateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    mode: RealModeArgs,
    /// Directory for validation.md, validation.json, differences.csv and the latency CDFs; with
    /// --matrix, for the report and a directory per cell.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the comparison as JSON (with --matrix, every cell's result).
    #[arg(long)]
    json: bool,
    /// Validate every cell of a matrix plan (a sweep plan with `[validation]` and `[saturation]`
    /// tables), one after another, into --out (required); cells already there are not rerun.
    /// The scenarios come from the plan: of the scenario flags only --costs applies, to every
    /// cell; real-mode flags override each cell's `[real]` table.
    #[arg(long, value_name = "PLAN", conflicts_with = "served")]
    matrix: Option<PathBuf>,
    /// Take a served run (`real serve --records --out DIR`) as the real side: the simulator
    /// replays what was served (DIR/trace: every request at the time the platform took it,
    /// lasting as long as its handler ran) with the run's scenario (DIR/scenario.toml), and is
    /// compared with its records and summary. Of the scenario flags only --costs applies.
    #[arg(long, value_name = "DIR")]
    served: Option<PathBuf>,
}

#[derive(Subcommand)]
enum RealAction {
    /// Serve users' Python handlers over HTTP (OpenLambda's API: POST /run/<name>, GET /status,
    /// GET /stats) with the scenario's cluster and policies, every request an invocation the
    /// controller places, starts and records; Ctrl-C stops it, removes every sandbox and cgroup
    /// and prints the summary.
    Serve(Box<ServeArgs>),
    /// Replay a workload's arrivals (the scenario's, or a trace's) against an HTTP server of
    /// OpenLambda's API such as `real serve`, open loop, and print the status counts and the
    /// latency percentiles.
    Load(Box<LoadArgs>),
    /// Remove the cgroups, processes and work directories of runs that did not end cleanly.
    Cleanup {
        /// Also remove cgroups under lambdasim/ that belong to no run.
        #[arg(long)]
        all: bool,
        /// Also remove live runs' (a run is live while its driver holds its lock), which ends
        /// them.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed when listening).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5000")]
    listen: String,
    /// The functions: DIR/<name>/f.py defining f(event), as OpenLambda lays its registry out.
    #[arg(long, value_name = "DIR")]
    registry: PathBuf,
    /// The Python interpreter that runs the handlers (default: python3 on the PATH).
    #[arg(long, value_name = "FILE")]
    python: Option<PathBuf>,
    /// Memory of a function's sandboxes, in MB (before --memory-scale), unless its
    /// function.toml sets `memory_mb`.
    #[arg(long, value_name = "MB", default_value_t = 256)]
    function_memory_mb: u32,
    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 6 << 20)]
    max_body: usize,
    /// Install the functions' packages (their requirements.txt) from this directory of wheels,
    /// with nothing from the network.
    #[arg(long, value_name = "DIR", conflicts_with = "index_url")]
    wheels: Option<PathBuf>,
    /// Install the functions' packages from this package index (a PyPI mirror, say).
    #[arg(long, value_name = "URL")]
    index_url: Option<String>,
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    sandboxes: SandboxArgs,
    #[command(flatten)]
    output: RunOutput,
}

#[derive(Args)]
struct LoadArgs {
    /// The server, such as http://127.0.0.1:5000.
    #[arg(long, value_name = "URL")]
    target: String,
    /// Function to call (repeatable, or a comma-separated list): the workload's i-th function
    /// calls the (i mod n)-th name.
    #[arg(
        long = "function",
        value_name = "NAME",
        value_delimiter = ',',
        required = true
    )]
    call: Vec<String>,
    /// Persistent connections requests go out on.
    #[arg(long, value_name = "N", default_value_t = 64)]
    connections: usize,
    /// Trace time per wall-clock time: arrivals happen this many times sooner.
    #[arg(long, value_name = "K", default_value_t = 1.0)]
    time_scale: f64,
    /// Execution times in the request bodies are divided by this (default: the time scale).
    #[arg(long, value_name = "K")]
    duration_scale: Option<f64>,
    /// Write every request (id, function, arrival, status, latency) to this CSV file.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    scenario: ScenarioArgs,
}

#[derive(Args)]
struct RealRunnerArgs {
    /// Descriptor of the socket to the backend.
    #[arg(long)]
    fd: i32,
    /// Set up a private /proc and host name (the runner is PID 1 of a new PID namespace).
    #[arg(long)]
    private: bool,
    /// The sandbox's own writable directory, its working directory.
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// Bind the host's root read-only onto this empty directory and pivot_root into it.
    #[arg(long)]
    root: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TraceCommand {
    /// Print what a trace holds: functions, apps, invocations, the rate over time, duration and
    /// memory percentiles, and the rows the reader left out and why. Sampling and shaping options
    /// apply, so this also previews a sample.
    Info(TraceInfoArgs),
    /// Sample and shape a trace and write the result in the native format.
    Sample(TraceWriteArgs),
    /// Convert a trace (shaped by any options given) to the native format.
    Convert(TraceWriteArgs),
}

/// The trace a `trace` subcommand reads and how.
#[derive(Args)]
struct TraceInput {
    /// The trace, FORMAT:PATH, e.g. azure2019:traces/azure (formats: native, azure2019,
    /// azure2021, huawei2023).
    trace: String,
    #[command(flatten)]
    options: TraceArgs,
    /// Seed of sampling and arrival generation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
struct TraceInfoArgs {
    #[command(flatten)]
    input: TraceInput,
    /// Width of the rate table's rows.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    bucket: Duration,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TraceWriteArgs {
    #[command(flatten)]
    input: TraceInput,
    /// Directory to write functions.csv and invocations.csv into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// How to read, sample and shape a trace. Each flag overrides the scenario file's field of the
/// same name.
#[derive(Args, Default)]
struct TraceArgs {
    /// Azure 2019: day or days to replay, e.g. 3 or 1-14 (original day files only).
    #[arg(
        long,
        alias = "day",
        value_name = "DAYS",
        help_heading = "Trace options"
    )]
    days: Option<DayRange>,
    /// Start of the replayed window, from the start of the trace (e.g. 6h).
    #[arg(long, value_name = "DURATION", help_heading = "Trace options")]
    start: Option<Duration>,
    /// Length of the replayed window (e.g. 30m).
    #[arg(long, value_name = "DURATION", help_heading = "Trace options")]
    length: Option<Duration>,
    /// Per-minute counts to arrivals: even | uniform | poisson | equidistant-shifted.
    #[arg(long, value_name = "MODE", value_parser = parse_arrivals, help_heading = "Trace options")]
    arrivals: Option<ArrivalMode>,
    /// Azure 2019 durations: average | faascache | percentiles | lognormal.
    #[arg(long, value_name = "MODE", value_parser = parse_durations, help_heading = "Trace options")]
    durations: Option<DurationMode>,
    /// Azure 2019 memory column: average or pct1, pct5, pct25, pct50, pct75, pct95, pct99, pct100.
    #[arg(long, value_name = "COLUMN", help_heading = "Trace options")]
    memory_percentile: Option<MemoryPercentile>,
    /// An app's memory divided among its functions (split) or given to each (per-function).
    #[arg(long, value_name = "MODE", value_parser = parse_app_memory, help_heading = "Trace options")]
    app_memory: Option<AppMemory>,
    /// Memory where the trace has none: burr[,c=..,k=..,lambda=..,min_mb=..,max_mb=..] or fixed,mb=N.
    #[arg(long, value_name = "SPEC", help_heading = "Trace options")]
    memory_fallback: Option<String>,
    /// Azure 2019: keep only functions with this trigger (repeatable).
    #[arg(
        long = "trigger",
        value_name = "TRIGGER",
        help_heading = "Trace options"
    )]
    triggers: Vec<String>,
    /// Which functions to replay: all | top,n=N | band,from=Q,to=Q[,n=N] | representative,n=N |
    /// rare,n=N | random,n=N.
    #[arg(long, value_name = "SPEC", help_heading = "Trace options")]
    sample: Option<String>,
    /// Multiply the trace's rate by K.
    #[arg(
        long,
        value_name = "K",
        conflicts_with = "target_rps",
        help_heading = "Trace options"
    )]
    scale: Option<f64>,
    /// Scale the rate to R invocations per second on average.
    #[arg(long, value_name = "R", help_heading = "Trace options")]
    target_rps: Option<f64>,
    /// One sandbox per function or per app.
    #[arg(long, value_name = "UNIT", value_parser = parse_granularity, help_heading = "Trace options")]
    granularity: Option<Granularity>,
    /// Count and skip malformed rows instead of stopping at the first.
    #[arg(long, help_heading = "Trace options")]
    skip_bad_rows: bool,
}

fn parse_named<T: Copy>(text: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|v| name(*v) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            format!("expected one of {}", names.join(", "))
        })
}

fn parse_arrivals(text: &str) -> Result<ArrivalMode, String> {
    parse_named(text, &ArrivalMode::ALL, ArrivalMode::name)
}

fn parse_durations(text: &str) -> Result<DurationMode, String> {
    parse_named(text, &DurationMode::ALL, DurationMode::name)
}

fn parse_app_memory(text: &str) -> Result<AppMemory, String> {
    match text {
        "split" => Ok(AppMemory::Split),
        "per-function" => Ok(AppMemory::PerFunction),
        _ => Err("expected split or per-function".into()),
    }
}

fn parse_granularity(text: &str) -> Result<Granularity, String> {
    match text {
        "function" => Ok(Granularity::Function),
        "app" => Ok(Granularity::App),
        _ => Err("expected function or app".into()),
    }
}

impl TraceArgs {
    fn any(&self) -> Option<&'static str> {
        [
            ("--days", self.days.is_some()),
            ("--start", self.start.is_some()),
            ("--length", self.length.is_some()),
            ("--arrivals", self.arrivals.is_some()),
            ("--durations", self.durations.is_some()),
            ("--memory-percentile", self.memory_percentile.is_some()),
            ("--app-memory", self.app_memory.is_some()),
            ("--memory-fallback", self.memory_fallback.is_some()),
            ("--trigger", !self.triggers.is_empty()),
            ("--sample", self.sample.is_some()),
            ("--scale", self.scale.is_some()),
            ("--target-rps", self.target_rps.is_some()),
            ("--granularity", self.granularity.is_some()),
            ("--skip-bad-rows", self.skip_bad_rows),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(flag, _)| flag)
    }

    fn apply(&self, t: &mut TraceSpec) -> Result<(), Error> {
        if self.days.is_some() {
            t.days = self.days;
        }
        t.start = self.start.unwrap_or(t.start);
        if self.length.is_some() {
            t.length = self.length;
        }
        t.arrivals = self.arrivals.unwrap_or(t.arrivals);
        t.durations = self.durations.unwrap_or(t.durations);
        t.memory_percentile = self.memory_percentile.unwrap_or(t.memory_percentile);
        t.app_memory = self.app_memory.unwrap_or(t.app_memory);
        if let Some(text) = &self.memory_fallback {
            t.memory_fallback = parse_policy("--memory-fallback", text)?;
        }
        if !self.triggers.is_empty() {
            t.triggers = self.triggers.clone();
        }
        if let Some(text) = &self.sample {
            t.sample = parse_policy("--sample", text)?;
        }
        if let Some(k) = self.scale {
            t.rate = Some(RateScale::Multiply(k));
        }
        if let Some(r) = self.target_rps {
            t.rate = Some(RateScale::TargetRps(r));
        }
        t.granularity = self.granularity.unwrap_or(t.granularity);
        t.skip_bad_rows |= self.skip_bad_rows;
        Ok(())
    }
}

/// `FORMAT:PATH`, or a bare path for a native trace directory.
fn trace_location(text: &str) -> Result<(TraceFormat, PathBuf), Error> {
    let has_format = text
        .split_once(':')
        .is_some_and(|(f, _)| f.parse::<TraceFormat>().is_ok());
    if has_format
        || text.parse::<TraceFormat>().is_ok()
        || !Path::new(text).exists() && text.contains(':')
    {
        workloads::trace::parse_location(text).map_err(|e| input(format!("--trace: {e}")))
    } else {
        Ok((TraceFormat::Native, PathBuf::from(text)))
    }
}

#[derive(Args)]
struct ScenarioArgs {
    /// Scenario file (TOML). Without it, the embedded default scenario is used; flags override
    /// either.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Start from a preset reproducing a peer's model: faascache, dslab or openlambda. The
    /// scenario's and the flags' values win over the preset's.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Seed of every random choice (workload generation, random policies, measured costs).
    #[arg(long)]
    seed: Option<u64>,
    /// Cost profile (TOML with a [costs] table, as `lambdasim calibrate` writes it) in place of
    /// the scenario's costs.
    #[arg(long, value_name = "FILE")]
    costs: Option<PathBuf>,
    /// Number of workers.
    #[arg(long, value_name = "N")]
    workers: Option<u32>,
    /// Memory of each worker for sandboxes, in MB.
    #[arg(long, value_name = "MB")]
    memory_mb: Option<u64>,
    /// Cores of each worker.
    #[arg(long, value_name = "N")]
    cores: Option<u32>,
    /// How invocations use a worker's cores: ignored (infinite cores), isolated (one core each,
    /// waiting for a free one) or shared (processor sharing).
    #[arg(long, value_name = "MODEL")]
    cpu: Option<sim::CpuModel>,
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
    /// Keep-alive policy: none | ttl[,idle=DURATION] | lru | openlambda | hybrid | greedy-dual
    /// (parameters as key=value after a comma; see the README). Example: ttl,idle=20m.
    #[arg(long, value_name = "POLICY")]
    keep_alive: Option<String>,
    /// Scheduler: round-robin | random | least-loaded | hash | power-of-two | consistent-hash |
    /// hermod | pull | pasch | zygote-hash | locality | dslab-least-loaded (parameters as
    /// key=value after a comma).
    #[arg(long, value_name = "POLICY")]
    scheduler: Option<String>,
    /// Replay a trace instead of the scenario's workload: FORMAT:PATH with FORMAT one of native,
    /// azure2019, azure2021, huawei2023 (e.g. azure2019:traces/azure), or a native trace
    /// directory.
    #[arg(long, value_name = "FORMAT:PATH")]
    trace: Option<String>,
    #[command(flatten)]
    trace_options: TraceArgs,
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
    #[command(flatten)]
    output: RunOutput,
    /// Read and parse a replayed trace on a thread of its own, overlapping the simulation;
    /// false reads it on the simulation's thread (the results are the same).
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = clap::ArgAction::Set,
        help_heading = "Trace options"
    )]
    reader_thread: bool,
}

/// What a run (simulated or real) writes besides its printed summary.
#[derive(Args)]
struct RunOutput {
    /// Directory for summary.json, the effective scenario.toml and, with --records, records.csv
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write every invocation to records.csv in --out.
    #[arg(long, requires = "out")]
    records: bool,
    /// Write a report of the run (report.md, report.html and figures) into DIR.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
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
        Command::Trace(command) => trace(command),
        Command::Bench(args) => bench::run(&args).map(|report| emit(&report)),
        Command::Sweep(args) => sweep(args),
        Command::Report(args) => report(&args),
        Command::Aggregate(args) => aggregate(&args),
        Command::Calibrate(args) => calibrate(&args),
        Command::Validate(args) => validate(&args),
        Command::Real(args) => real(args),
        Command::RealRunner(args) => real_runner(&args),
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
    let preset = args.preset.as_deref();
    let mut raw = match &args.config {
        Some(path) => RawScenario::load_with_preset(path, preset)?,
        None => match preset {
            Some(name) => RawScenario::default_with_preset(name)?,
            None => RawScenario::default_scenario(),
        },
    };
    let file = raw.clone();
    if let Some(seed) = args.seed {
        raw.seed = seed;
    }
    if let Some(path) = &args.costs {
        raw.costs = lambdasim::profile::load(path)?;
    }
    let c = &mut raw.cluster;
    c.workers = args.workers.unwrap_or(c.workers);
    c.memory_mb = args.memory_mb.unwrap_or(c.memory_mb);
    c.cores = args.cores.unwrap_or(c.cores);
    c.cpu = args.cpu.unwrap_or(c.cpu);
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
    if let Some(text) = &args.trace {
        let (format, path) = trace_location(text)?;
        raw.workload = RawWorkload::trace(
            format,
            TraceSpec {
                path,
                ..TraceSpec::default()
            },
        );
        lambdasim::scenario::apply_preset_to_new_trace(&mut raw)?;
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
        _ => {
            if let Some((flag, _)) = synthetic_flags.iter().find(|(_, set)| *set) {
                return Err(input(format!(
                    "{flag} shapes a synthetic workload, but this scenario replays a trace"
                )));
            }
        }
    }
    match raw.workload.as_trace_mut() {
        Some(spec) => args.trace_options.apply(spec)?,
        None => {
            if let Some(flag) = args.trace_options.any() {
                return Err(input(format!(
                    "{flag} shapes a replayed trace, but this scenario generates a synthetic \
                     workload; add --trace FORMAT:PATH"
                )));
            }
        }
    }
    raw.forget_changed_since(&file);
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

/// Saves the effective scenario in `out` (if given) and runs `f`, handing it `records.csv` in
/// `out` to write per-invocation records to when `records` is set.
fn with_outputs<T>(
    scenario: &lambdasim::scenario::Scenario,
    out: Option<&Path>,
    records: bool,
    f: impl FnOnce(Option<&mut dyn Write>) -> Result<T, Error>,
) -> Result<T, Error> {
    if let Some(dir) = out {
        create_dir(dir)?;
        write_file(&dir.join("scenario.toml"), &scenario.raw.to_toml())?;
    }
    match out.filter(|_| records) {
        Some(dir) => {
            let path = dir.join("records.csv");
            let file = File::create(&path)
                .map_err(|e| Error::Output(format!("cannot create {}: {e}", path.display())))?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            let result = f(Some(&mut writer as &mut dyn Write))?;
            writer
                .flush()
                .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?;
            Ok(result)
        }
        None => f(None),
    }
}

/// What every run writes at its end: `summary.json` in `--out`, the report in `--report`, and
/// the summary (text after `heading`, or JSON) on standard output.
fn finish_run(
    output: &RunOutput,
    summary: &analysis::Summary,
    metrics: &analysis::Metrics,
    heading: &str,
) -> Result<(), Error> {
    let json = analysis::to_json(summary);
    if let Some(dir) = &output.out {
        write_file(&dir.join("summary.json"), &json)?;
    }
    if let Some(dir) = &output.report {
        let files = analysis::run_report::write(metrics, heading, dir).map_err(Error::Output)?;
        eprintln!(
            "wrote a report of {} files in {}",
            files.len(),
            dir.display()
        );
    }
    if output.json {
        emit(&json);
    } else {
        emit(&format!("{heading}{}", analysis::render_text(summary)));
    }
    Ok(())
}

fn run(args: RunArgs) -> Result<(), Error> {
    let mut scenario = raw_scenario(&args.scenario)?.validate()?;
    scenario.reader_thread = args.reader_thread;
    let result = with_outputs(
        &scenario,
        args.output.out.as_deref(),
        args.output.records,
        |records| lambdasim::run(&scenario, records),
    )?;
    let trace = result.trace.as_ref().map(TraceLoad::describe);
    let heading = format!(
        "lambdasim run\n\n{}{}\n",
        scenario.describe(),
        trace.unwrap_or_default()
    );
    finish_run(&args.output, &result.summary, &result.metrics, &heading)?;
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
            "generate writes synthetic workloads; this scenario replays a trace (use `lambdasim \
             trace convert` to rewrite a trace)"
                .to_string(),
        ));
    }
    let (workload, _) = load_workload(&scenario)?;
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

/// Opens, samples and shapes the trace named on the command line.
fn open_trace(
    input: &TraceInput,
) -> Result<(workloads::Workload, TraceLoad, TraceSpec, TraceFormat), Error> {
    let (format, path) = trace_location(&input.trace)?;
    let mut spec = TraceSpec {
        path,
        ..TraceSpec::default()
    };
    input.options.apply(&mut spec)?;
    let mut raw = RawScenario::default_scenario();
    raw.seed = input.seed;
    raw.workload = RawWorkload::trace(format, spec.clone());
    let scenario = raw.validate()?;
    let (workload, load) = load_workload(&scenario)?;
    let load = load.expect("a trace workload reports its load");
    Ok((workload, load, spec, format))
}

fn trace(command: TraceCommand) -> Result<(), Error> {
    match command {
        TraceCommand::Info(args) => {
            let (workload, load, spec, format) = open_trace(&args.input)?;
            let stats = analysis::TraceStats::collect(workload, args.bucket.micros())
                .map_err(|e| input(e.to_string()))?;
            if args.json {
                #[derive(serde::Serialize)]
                struct Info<'a> {
                    format: &'a str,
                    path: String,
                    functions_read: usize,
                    apps_read: usize,
                    files: Vec<String>,
                    left_out: &'a std::collections::BTreeMap<String, u64>,
                    bad_rows: u64,
                    notes: &'a [String],
                    sampled_functions: usize,
                    rate_scale: f64,
                    replay: &'a analysis::TraceStats,
                }
                let info = Info {
                    format: format.name(),
                    path: spec.path.display().to_string(),
                    functions_read: load.functions,
                    apps_read: load.apps,
                    files: load
                        .report
                        .files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect(),
                    left_out: &load.report.dropped,
                    bad_rows: load.report.bad_rows,
                    notes: &load.report.notes,
                    sampled_functions: load.selection.functions,
                    rate_scale: load.selection.scale,
                    replay: &stats,
                };
                let json = serde_json::to_string_pretty(&info).expect("trace info serializes");
                emit(&format!("{json}\n"));
            } else {
                let mut text = format!(
                    "lambdasim trace info\n\nworkload    {}\n{}",
                    lambdasim::scenario::describe_trace(format, &spec),
                    load.describe()
                );
                for e in &load.report.bad_row_examples {
                    text.push_str(&format!("            skipped: {e}\n"));
                }
                text.push('\n');
                text.push_str(&stats.render_text());
                emit(&text);
            }
            Ok(())
        }
        TraceCommand::Sample(args) if args.input.options.sample.is_none() => Err(input(
            "trace sample needs --sample SPEC (e.g. --sample top,n=100); to rewrite the whole \
             trace use trace convert"
                .to_string(),
        )),
        TraceCommand::Sample(args) | TraceCommand::Convert(args) => {
            let (workload, load, _, _) = open_trace(&args.input)?;
            let n = workloads::native::write(&args.out, &workload.catalog, workload.invocations)
                .map_err(|e| match e {
                    workloads::WorkloadError::Io { .. } => Error::Output(e.to_string()),
                    _ => input(e.to_string()),
                })?;
            emit(&format!(
                "{}wrote {} functions in {} apps and {n} invocations to {}\n",
                load.describe(),
                workload.catalog.functions.len(),
                workload.catalog.apps.len(),
                args.out.display()
            ));
            Ok(())
        }
    }
}

#[cfg(target_os = "linux")]
fn real_options(
    args: &RealModeArgs,
    scenario: &lambdasim::scenario::Scenario,
) -> Result<lambdasim::real_mode::RealOptions, Error> {
    let real = &scenario.raw.real;
    let backend = real_config(&args.sandboxes, real, &scenario.raw.source)?;
    // A flag wins over the scenario's `[real]` value, which wins over the default.
    let time_scale = args.time_scale.or(real.time_scale);
    let duration_scale = args.duration_scale.or(real.duration_scale);
    for (flag, key, given, value) in [
        (
            "--time-scale",
            "real.time_scale",
            args.time_scale,
            time_scale,
        ),
        (
            "--duration-scale",
            "real.duration_scale",
            args.duration_scale,
            duration_scale,
        ),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v > 0.0)
        {
            let name = if given.is_some() { flag } else { key };
            return Err(input(
                scenario
                    .raw
                    .source
                    .locate(&format!("{name} must be a positive number, got {v}")),
            ));
        }
    }
    let time_scale = time_scale.unwrap_or(1.0);
    Ok(lambdasim::real_mode::RealOptions {
        time_scale,
        duration_scale: duration_scale.unwrap_or(time_scale),
        backend,
    })
}

/// The sandboxes' settings: each flag given, else the scenario's `[real]` value, else the
/// default. An impossible value is reported under the name it was given by (`--touch`, or
/// `real.touch` at its line in the scenario file).
#[cfg(target_os = "linux")]
fn real_config(
    args: &SandboxArgs,
    real: &lambdasim::scenario::RawReal,
    source: &lambdasim::scenario::Source,
) -> Result<real::RealConfig, Error> {
    use lambdasim::scenario::ExecKind;
    let exe = std::env::current_exe()
        .map_err(|e| Error::Host(format!("cannot find the lambdasim executable: {e}")))?;
    let defaults = real::RealConfig::default();
    let exec = match args.exec.as_deref() {
        Some("sleep") => ExecKind::Sleep,
        Some(_) => ExecKind::Busy,
        None => real.exec.unwrap_or(ExecKind::Busy),
    };
    let config = real::RealConfig {
        runner: exe,
        memory_scale: args
            .memory_scale
            .or(real.memory_scale)
            .unwrap_or(defaults.memory_scale),
        mode: match exec {
            ExecKind::Sleep => real::ExecMode::Sleep,
            ExecKind::Busy => real::ExecMode::Busy,
        },
        cpu_cores: args.cpu_limit.or(real.cpu_limit),
        net: args.net,
        confine: !args.unconfined,
        touch_fraction: args.touch.or(real.touch).unwrap_or(defaults.touch_fraction),
        pool: args.pool.or(real.pool).unwrap_or(defaults.pool),
        disk_scale: args
            .disk_scale
            .or(real.disk_scale)
            .unwrap_or(defaults.disk_scale),
        invocation_timeout: match args.invocation_timeout.or(real.invocation_timeout) {
            Some(t) => std::time::Duration::from_micros(t.micros()),
            None => defaults.invocation_timeout,
        },
        favor_dynmods: !args.no_favor_dynmods && real.favor_dynmods.unwrap_or(true),
        ..defaults
    };
    config.validate().map_err(|message| {
        // The message starts with the flag; a value from the scenario is named by its key.
        let from_scenario = [
            (
                "--memory-scale",
                "real.memory_scale",
                args.memory_scale.is_none(),
            ),
            ("--touch", "real.touch", args.touch.is_none()),
            ("--disk-scale", "real.disk_scale", args.disk_scale.is_none()),
            ("--cpu-limit", "real.cpu_limit", args.cpu_limit.is_none()),
            ("--pool", "real.pool", args.pool.is_none()),
            (
                "--invocation-timeout",
                "real.invocation_timeout",
                args.invocation_timeout.is_none(),
            ),
        ]
        .into_iter()
        .find(|(flag, _, not_given)| *not_given && message.starts_with(flag));
        match from_scenario {
            Some((flag, key, _)) => input(source.locate(&message.replacen(flag, key, 1))),
            None => input(message),
        }
    })?;
    Ok(config)
}

#[cfg(target_os = "linux")]
fn validate(args: &ValidateArgs) -> Result<(), Error> {
    use lambdasim::validate::{Collected, Side, compare};
    if let Some(plan) = &args.matrix {
        return validate_matrix(args, plan);
    }
    if let Some(dir) = &args.served {
        return validate_served(args, dir);
    }
    let scenario = raw_scenario(&args.scenario)?.validate()?;
    let options = real_options(&args.mode, &scenario)?;
    if let Some(path) = &args.scenario.costs {
        for d in lambdasim::profile::settings_differ(path, &options.backend) {
            eprintln!(
                "warning: {d} ({}): the simulated costs are not this run's",
                path.display()
            );
        }
    }
    // With --out, both runs' records are written too, for a look at any invocation.
    let mut real_file = record_file(args.out.as_deref(), "real-records.csv")?;
    let mut sim_file = record_file(args.out.as_deref(), "sim-records.csv")?;
    let mut real_records = Collected::default();
    let real = lambdasim::real_mode::run_real(
        &scenario,
        &options,
        real_file.as_mut().map(|f| f as &mut dyn std::io::Write),
        Some(&mut real_records),
    )?;
    close_record_file(real_file, "real-records.csv")?;
    if let Some(stopped) = real.interruption() {
        return Err(stopped);
    }
    let (workload, _) = lambdasim::load_workload(&scenario)?;
    let workload =
        lambdasim::real_mode::scale_workload(workload, options.time_scale, options.duration_scale);
    let mut sim_records = Collected::default();
    let sim = lambdasim::run_workload(
        &scenario,
        workload,
        sim_file.as_mut().map(|f| f as &mut dyn std::io::Write),
        Some(&mut sim_records),
    )?;
    close_record_file(sim_file, "sim-records.csv")?;
    let v = compare(
        &Side {
            summary: real.summary,
            records: real_records.0,
        },
        &Side {
            summary: sim.summary,
            records: sim_records.0,
        },
        &scenario.tolerances,
    );
    let heading = format!(
        "lambdasim validate\n\n{}real mode   cgroup {}, time scale x{}, durations / {}, memory x{}\n",
        scenario.describe(),
        real.cgroups,
        options.time_scale,
        options.duration_scale,
        options.backend.memory_scale,
    );
    report_validation(args, &v, &heading)
}

/// Writes a validation's files (with --out) and prints it; an error if it failed.
#[cfg(target_os = "linux")]
fn report_validation(
    args: &ValidateArgs,
    v: &lambdasim::validate::Validation,
    heading: &str,
) -> Result<(), Error> {
    use lambdasim::validate::{render_table, write};
    if let Some(dir) = &args.out {
        write(v, heading, dir).map_err(Error::Output)?;
    }
    if args.json {
        emit(&serde_json::to_string_pretty(v).map_err(|e| Error::Output(e.to_string()))?);
    } else {
        emit(&format!("{heading}\n{}", render_table(v)));
    }
    let failed = v.failed();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Mismatch(format!(
            "the simulation misses its tolerance on {}",
            failed
                .iter()
                .map(|r| r.metric.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// With `validate --out DIR`, a buffered file `DIR/name` for one run's records.
#[cfg(target_os = "linux")]
fn record_file(out: Option<&Path>, name: &str) -> Result<Option<BufWriter<File>>, Error> {
    let Some(dir) = out else {
        return Ok(None);
    };
    create_dir(dir)?;
    let path = dir.join(name);
    File::create(&path)
        .map(|f| Some(BufWriter::new(f)))
        .map_err(|e| Error::Output(format!("creating {}: {e}", path.display())))
}

/// Flushes a file of [`record_file`], so that an error writing it is not lost.
#[cfg(target_os = "linux")]
fn close_record_file(file: Option<BufWriter<File>>, name: &str) -> Result<(), Error> {
    match file {
        Some(mut f) => f
            .flush()
            .map_err(|e| Error::Output(format!("writing {name}: {e}"))),
        None => Ok(()),
    }
}

/// An error (`why`) if a scenario flag other than --costs is given, for the commands whose
/// scenarios come from elsewhere (a matrix plan, a served run).
#[cfg(target_os = "linux")]
fn only_costs(args: &ScenarioArgs, why: impl FnOnce() -> String) -> Result<(), Error> {
    let mut unchanged = RawScenario::default_scenario();
    if let Some(path) = &args.costs {
        unchanged.costs = lambdasim::profile::load(path)?;
    }
    if raw_scenario(args)? != unchanged {
        return Err(input(why()));
    }
    Ok(())
}

/// `validate --served DIR`: a served run against the simulator's replay of what it served.
#[cfg(target_os = "linux")]
fn validate_served(args: &ValidateArgs, dir: &Path) -> Result<(), Error> {
    use lambdasim::validate::{Collected, SERVED_TRACE, compare, served_side};
    only_costs(&args.scenario, || {
        format!(
            "--served takes the scenario of the served run ({}): of the scenario flags only \
             --costs applies",
            dir.join("scenario.toml").display()
        )
    })?;
    let path = dir.join("scenario.toml");
    if !path.is_file() {
        return Err(input(format!(
            "{} is missing: --served takes the --out directory of `real serve`",
            path.display()
        )));
    }
    let mut raw = RawScenario::load_with_preset(&path, None)?;
    if let Some(path) = &args.scenario.costs {
        raw.costs = lambdasim::profile::load(path)?;
        let runtime = lambdasim::profile::measured_runtime(path);
        if runtime.as_deref() != Some("python") {
            eprintln!(
                "warning: {} was not measured with the Python runtime that serves handlers \
                 (calibrate --runtime python): the simulated costs are not the served run's",
                path.display()
            );
        }
    }
    let trace = dir.join(SERVED_TRACE);
    raw.workload = RawWorkload::trace(
        TraceFormat::Native,
        TraceSpec {
            path: trace.clone(),
            ..TraceSpec::default()
        },
    );
    let scenario = raw.validate()?;
    let real = served_side(dir).map_err(input)?;
    let mut sim_file = record_file(args.out.as_deref(), "sim-records.csv")?;
    let mut sim_records = Collected::default();
    let (workload, _) = load_workload(&scenario)?;
    // The served run ended at a signal, not at its last request: so does the simulation.
    let end = (real.summary.span_s * 1e6).round() as workloads::Time;
    let sim = lambdasim::run_workload_until(
        &scenario,
        workload,
        sim_file.as_mut().map(|f| f as &mut dyn Write),
        Some(&mut sim_records),
        Some(end),
    )?;
    close_record_file(sim_file, "sim-records.csv")?;
    let v = compare(
        &real,
        &lambdasim::validate::Side {
            summary: sim.summary,
            records: sim_records.0,
        },
        &scenario.tolerances,
    );
    let heading = format!(
        "lambdasim validate --served\n\n{}real side   the served run in {} ({} requests)\n",
        scenario.describe(),
        dir.display(),
        real.records.len(),
    );
    report_validation(args, &v, &heading)
}

/// `validate --matrix`: every cell of the plan, then the report.
#[cfg(target_os = "linux")]
fn validate_matrix(args: &ValidateArgs, plan: &std::path::Path) -> Result<(), Error> {
    use lambdasim::matrix::{Matrix, Progress, counts, summary_lines};
    let Some(out) = &args.out else {
        return Err(input(
            "--matrix needs --out DIR for its cells and report".into(),
        ));
    };
    // The plan gives the scenarios: a scenario flag other than --costs would be ignored.
    only_costs(&args.scenario, || {
        "--matrix takes its scenarios from the plan: set them in its base or grid, not with \
         scenario flags (only --costs applies, to every cell)"
            .into()
    })?;
    let costs = args
        .scenario
        .costs
        .as_deref()
        .map(lambdasim::profile::load_table)
        .transpose()?;
    let matrix = Matrix::load(plan, costs)?;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Output(format!("creating {}: {e}", out.display())))?;
    let bar = indicatif::ProgressBar::new(0);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} cells, {elapsed} so far, about {eta} left: {msg}",
        )
        .expect("the progress template is valid"),
    );
    let started = std::time::Instant::now();
    let cells = lambdasim::matrix::run(
        &matrix,
        out,
        &mut |scenario| real_options(&args.mode, scenario),
        &mut |event| match event {
            Progress::Start { run, kept } => {
                bar.set_length(run as u64);
                if kept > 0 {
                    eprintln!(
                        "{kept} cell(s) kept from an earlier run in {}; {run} to run",
                        out.display()
                    );
                }
            }
            Progress::Cell { label, .. } => bar.set_message(label),
            Progress::Done { result } => {
                bar.suspend(|| {
                    eprintln!(
                        "cell {}: {} ({:.0} s)",
                        result.index,
                        result.verdict.as_str(),
                        result.wall_s
                    )
                });
                bar.inc(1);
            }
        },
    );
    bar.finish_and_clear();
    let mut cells = cells?;
    lambdasim::matrix::note_time_scales_kept_up(&matrix.axes, &mut cells);
    let cgroups = real::cgroup::detect()
        .map(|fs| fs.kind())
        .unwrap_or("unknown");
    let ctx = lambdasim::matrix_report::Context {
        axes: &matrix.axes,
        tolerances: &matrix.tolerances,
        limits: &matrix.limits,
        host: format!(
            "Host: {} CPUs, cgroup {cgroups}, lambdasim {}.",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            env!("CARGO_PKG_VERSION")
        ),
        command: std::env::args()
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
            .collect::<Vec<_>>()
            .join(" "),
    };
    let files = lambdasim::matrix_report::write(&ctx, &cells, out)?;
    let (pass, fail, invalid) = counts(&cells);
    if args.json {
        emit(&serde_json::to_string_pretty(&cells).map_err(|e| Error::Output(e.to_string()))?);
    } else {
        emit(&format!(
            "lambdasim validate --matrix\n\n{}\n{} cells: {pass} pass, {fail} fail, {invalid} invalid, in {:.1} s\nreport: {}\n",
            summary_lines(&matrix.axes, &cells),
            cells.len(),
            started.elapsed().as_secs_f64(),
            files[0].display()
        ));
    }
    if fail > 0 {
        return Err(Error::Mismatch(format!(
            "{fail} of {} cells miss a tolerance (see {})",
            cells.len(),
            files[0].display()
        )));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn validate(_args: &ValidateArgs) -> Result<(), Error> {
    Err(Error::Host(
        "validate runs real sandboxes, on Linux only".into(),
    ))
}

#[cfg(target_os = "linux")]
fn real(args: RealArgs) -> Result<(), Error> {
    use lambdasim::real_mode::run_real;
    if let Some(RealAction::Cleanup { all, force }) = args.action {
        let layouts = real::cgroup::every_layout().map_err(|e| Error::Host(e.to_string()))?;
        let done = real::cleanup::cleanup(&layouts, all, force)
            .map_err(|e| Error::Host(format!("cleanup: {e}")))?;
        emit(&format!(
            "removed {} cgroup(s) of {} run(s) and {} work director{}\n",
            done.groups,
            done.runs.len(),
            done.dirs,
            if done.dirs == 1 { "y" } else { "ies" }
        ));
        if !done.live.is_empty() {
            eprintln!(
                "left {} live run(s) alone: {} (--force removes them, which ends them)",
                done.live.len(),
                done.live.join(", ")
            );
        }
        return Ok(());
    }
    if let Some(RealAction::Serve(serve)) = args.action {
        return real_serve(*serve);
    }
    if let Some(RealAction::Load(load)) = args.action {
        return real_load(*load);
    }
    let scenario = raw_scenario(&args.scenario)?.validate()?;
    let options = real_options(&args.mode, &scenario)?;
    let result = with_outputs(
        &scenario,
        args.output.out.as_deref(),
        args.output.records,
        |records| run_real(&scenario, &options, records, None),
    )?;
    let d = &result.drive;
    let heading = format!(
        "lambdasim real\n\n{}real mode   cgroup {}, time scale x{}, durations / {}, memory x{}; \
         {} arrivals, late by {:.3} ms at most ({:.3} ms at p99, {:.3} ms on average); host \
         {:.0}% busy, {:.1}% stolen, run queue {:.1} on average; {}; {}\n",
        scenario.describe(),
        result.cgroups,
        options.time_scale,
        options.duration_scale,
        options.backend.memory_scale,
        d.arrivals,
        d.max_late as f64 / 1000.0,
        d.late_p99 as f64 / 1000.0,
        d.total_late as f64 / 1000.0 / d.arrivals.max(1) as f64,
        result.host.busy_pct,
        result.host.steal_pct,
        result.host.run_queue_mean,
        result.favor,
        result.cpu,
    );
    finish_run(&args.output, &result.summary, &result.metrics, &heading)?;
    result.interruption().map_or(Ok(()), Err)
}

fn real_load(args: LoadArgs) -> Result<(), Error> {
    use lambdasim::load::{LoadOptions, run_load, summarize, target_of, write_csv};
    let scenario = raw_scenario(&args.scenario)?.validate()?;
    let options = LoadOptions {
        target: target_of(&args.target)?,
        functions: args.call.clone(),
        connections: args.connections,
        time_scale: args.time_scale,
        duration_scale: args.duration_scale.unwrap_or(args.time_scale),
    };
    let (workload, _) = lambdasim::load_workload(&scenario)?;
    let start = std::time::Instant::now();
    let sent = run_load(workload.invocations, &options)?;
    let wall = start.elapsed().as_secs_f64();
    if let Some(path) = &args.csv {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?,
        );
        write_csv(&sent, &options.functions, &mut file)
            .and_then(|()| file.flush())
            .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?;
    }
    emit(&summarize(&sent, &options.functions, wall));
    Ok(())
}

#[cfg(target_os = "linux")]
fn real_serve(args: ServeArgs) -> Result<(), Error> {
    use lambdasim::real_mode::{ServeOptions, run_serve};
    let scenario = raw_scenario(&args.scenario)?.validate()?;
    let registry = real::functions::FunctionRegistry::read(&args.registry)
        .map_err(|e| Error::Input(e.to_string()))?;
    let python = real::python::interpreter(args.python.as_deref())
        .map_err(|e| Error::Host(e.to_string()))?;
    let backend = real_config(&args.sandboxes, &scenario.raw.real, &scenario.raw.source)?;
    if args.max_body == 0 {
        return Err(Error::Input("--max-body must be at least 1 byte".into()));
    }
    if backend.confine {
        let check = real::python::reachable_by_others(&python, true).and_then(|()| {
            registry
                .functions
                .iter()
                .try_for_each(|f| real::python::reachable_by_others(&f.handler, false))
        });
        check.map_err(|e| {
            Error::Input(format!(
                "{e}; give --python an interpreter every user can run (such as /usr/bin/python3), \
                 make the registry readable, or run sandboxes --unconfined"
            ))
        })?;
    }
    let options = ServeOptions {
        listen: args.listen.clone(),
        registry,
        python,
        memory_mb: args.function_memory_mb,
        packages: match (&args.wheels, &args.index_url) {
            (Some(dir), _) if !dir.is_dir() => {
                return Err(Error::Input(format!(
                    "--wheels {}: not a directory",
                    dir.display()
                )));
            }
            (Some(dir), _) => Some(real::pip::PackageSource::Wheels(
                dir.canonicalize()
                    .map_err(|e| Error::Input(format!("--wheels {}: {e}", dir.display())))?,
            )),
            (None, Some(url)) => Some(real::pip::PackageSource::Index(url.clone())),
            (None, None) => None,
        },
        limits: real::serve::ServerLimits {
            max_body: args.max_body,
            ..Default::default()
        },
        backend,
        trace: args
            .output
            .out
            .as_ref()
            .map(|dir| dir.join(lambdasim::validate::SERVED_TRACE)),
    };
    let names: Vec<&str> = options
        .registry
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let names = names.join(", ");
    let result = with_outputs(
        &scenario,
        args.output.out.as_deref(),
        args.output.records,
        |records| {
            run_serve(&scenario, &options, records, &mut |addr| {
                real::log!(
                    "lambdasim real serve: listening on http://{addr} ({}: {names}); Ctrl-C stops",
                    options.registry.functions.len()
                );
            })
        },
    )?;
    let d = &result.drive;
    // The scenario's own workload is not what ran: the requests were.
    let described: String = scenario
        .describe()
        .lines()
        .filter(|l| !l.starts_with("workload"))
        .map(|l| format!("{l}\n"))
        .collect();
    let heading = format!(
        "lambdasim real serve\n\n{described}functions   {} Python handler(s) of {}\n\
         real mode   cgroup {}, memory x{}; {} requests served; host {:.0}% busy, {:.1}% \
         stolen; {}; {}\n",
        options.registry.functions.len(),
        options.registry.dir.display(),
        result.cgroups,
        options.backend.memory_scale,
        d.arrivals,
        result.host.busy_pct,
        result.host.steal_pct,
        result.favor,
        result.cpu,
    );
    finish_run(&args.output, &result.summary, &result.metrics, &heading)?;
    result.interruption().map_or(Ok(()), Err)
}

#[cfg(not(target_os = "linux"))]
fn real(_args: RealArgs) -> Result<(), Error> {
    Err(Error::Host("real mode runs on Linux only".into()))
}

#[cfg(target_os = "linux")]
fn real_runner(args: &RealRunnerArgs) -> Result<(), Error> {
    // SAFETY: the backend started this process with the socket at `fd` and nothing else owns it.
    let channel = unsafe { real::channel::Channel::from_raw(args.fd) };
    let view = real::runner::View {
        scratch: args.scratch.clone(),
        root: args.root.clone(),
        ..Default::default()
    };
    real::runner::main(channel, args.private, &view)
        .map_err(|e| Error::Host(format!("runner: {e}")))
}

#[cfg(not(target_os = "linux"))]
fn real_runner(_args: &RealRunnerArgs) -> Result<(), Error> {
    Err(Error::Host("real mode runs on Linux only".into()))
}

fn sweep(args: SweepArgs) -> Result<(), Error> {
    use lambdasim::sweep::{Plan, Shard, merge};
    let write = |out: &Option<PathBuf>, text: &str| match out {
        Some(path) if is_parquet(path) => write_results_parquet(text, path),
        Some(path) => write_file(path, text),
        None => {
            emit(text);
            Ok(())
        }
    };
    if let Some(SweepAction::Merge { files, out }) = &args.action {
        let inputs = files
            .iter()
            .map(|f| read_results_csv(f).map(|t| (f.display().to_string(), t)))
            .collect::<Result<Vec<_>, Error>>()?;
        return write(out, &merge(&inputs)?);
    }
    // Found out before the runs, not after.
    #[cfg(not(feature = "polars"))]
    if let Some(out) = args.out.as_deref().filter(|p| is_parquet(p)) {
        return Err(needs_polars(&format!("writing {}", out.display())));
    }
    let path = args
        .plan
        .as_ref()
        .ok_or_else(|| input("sweep needs --plan FILE (or the merge subcommand)".into()))?;
    let costs = args
        .costs
        .as_deref()
        .map(lambdasim::profile::load_table)
        .transpose()?;
    let plan = Plan::load_with_costs(path, costs)?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => Shard::from_env(|k| std::env::var(k).ok())?.unwrap_or(Shard::ALL),
    };
    if args.list {
        return write(&args.out, &lambdasim::sweep::list(&plan, shard));
    }
    let count = plan.runs.iter().filter(|r| shard.contains(r.index)).count() as u64;
    let bar = indicatif::ProgressBar::new(count);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {per_sec}, {eta} left")
            .expect("the progress template is valid"),
    );
    let started = std::time::Instant::now();
    let results = lambdasim::sweep::run(&plan, shard, args.threads, &|| bar.inc(1))?;
    bar.finish_and_clear();
    write(&args.out, &results)?;
    eprintln!(
        "{count} runs (shard {}/{}) in {:.2} s",
        shard.index,
        shard.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Whether a file name says Parquet.
fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// The error for a Parquet file in a build without polars.
#[cfg(not(feature = "polars"))]
fn needs_polars(what: &str) -> Error {
    input(format!(
        "{what} needs lambdasim built with the polars feature: cargo build --release --features polars"
    ))
}

/// A sweep's results as CSV text, read from CSV or from Parquet.
fn read_results_csv(path: &Path) -> Result<String, Error> {
    if is_parquet(path) {
        #[cfg(feature = "polars")]
        return analysis::frames::read_results_parquet(path)
            .map(|r| r.to_csv())
            .map_err(input);
        #[cfg(not(feature = "polars"))]
        return Err(needs_polars(&format!("reading {}", path.display())));
    }
    fs::read_to_string(path).map_err(|e| input(format!("cannot read {}: {e}", path.display())))
}

/// Writes a sweep's results, given as CSV text, to a Parquet file.
fn write_results_parquet(csv: &str, path: &Path) -> Result<(), Error> {
    #[cfg(feature = "polars")]
    {
        let results =
            analysis::sweep_report::Results::parse(csv, "the results").map_err(Error::Output)?;
        analysis::frames::write_results_parquet(&results, path).map_err(Error::Output)
    }
    #[cfg(not(feature = "polars"))]
    {
        let _ = csv;
        Err(needs_polars(&format!("writing {}", path.display())))
    }
}

#[cfg(target_os = "linux")]
fn calibrate(args: &CalibrateArgs) -> Result<(), Error> {
    if args.trials == 0 || args.quantiles < 2 {
        return Err(input(format!(
            "--trials must be positive and --quantiles at least 2, got {} and {}",
            args.trials, args.quantiles
        )));
    }
    let host = |e: &dyn std::fmt::Display| Error::Host(format!("calibrate: {e}"));
    let fs: std::sync::Arc<dyn real::cgroup::CgroupFs> =
        std::sync::Arc::from(real::cgroup::detect().map_err(|e| host(&e))?);
    real::cgroup::check_privileges(fs.as_ref()).map_err(|e| host(&e))?;
    real::spawn::become_reaper().map_err(|e| host(&e))?;
    let mut config = real_config(
        &args.sandboxes,
        &lambdasim::scenario::RawReal::default(),
        &lambdasim::scenario::Source::default(),
    )?;
    let work = std::env::temp_dir().join(format!("lambdasim-calibrate-{}", std::process::id()));
    let handler_dir = work.with_extension("python");
    if args.runtime == "python" {
        config.runtime =
            python_probe_runtime(args.python.as_deref(), &handler_dir, config.confine)?;
    } else if args.python.is_some() {
        return Err(input("--python needs --runtime python".into()));
    }
    let measured = measure_host(args, fs.clone(), &config, &work);
    let _ = fs::remove_dir_all(&handler_dir);
    let (report, probe) = measured?;
    let kind = fs.kind();
    // Migrations are measured as runs will make them.
    let favor = real::dynmods::favor(config.favor_dynmods);
    if !favor.is_on() && config.favor_dynmods {
        eprintln!("note: {}", favor.describe());
    }
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let about = format!(
        "Linux {}, {}, {} cores, cgroup {kind}, {} runtime, {} trials per operation (package \
         installs and imports: {} through the backend, {} of the primitives)",
        kernel.trim(),
        cpu,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        config.runtime.name(),
        args.trials,
        // Every probed package is imported once (none with the Python runtime).
        probe.import_small.micros.len()
            + probe.import_large.micros.len()
            + probe.import_memory.micros.len(),
        args.trials.min(50)
    );
    let text = lambdasim::calibrate::profile(&report, &probe, &config, args.quantiles, &about)
        .map_err(Error::Host)?;
    write_file(&args.out, &text)?;
    emit(&real::measure::render(&report, kind, args.trials));
    emit(&real::probe::render(&probe));
    eprintln!("wrote the cost profile {}", args.out.display());
    Ok(())
}

/// The primitives' timings and the probe through the backend.
#[cfg(target_os = "linux")]
fn measure_host(
    args: &CalibrateArgs,
    fs: std::sync::Arc<dyn real::cgroup::CgroupFs>,
    config: &real::RealConfig,
    work: &Path,
) -> Result<(real::measure::Report, real::probe::Probe), Error> {
    let host = |e: &dyn std::fmt::Display| Error::Host(format!("calibrate: {e}"));
    let report = real::measure::measure(fs.clone(), &config.runner, work, args.trials)
        .map_err(|e| host(&e))?;
    let probe = real::probe::probe(fs, config.clone(), args.trials).map_err(|e| host(&e))?;
    Ok((report, probe))
}

/// The Python runtime the probe's sandboxes run: one handler, in `dir`, that sleeps for the
/// probe's run time.
#[cfg(target_os = "linux")]
fn python_probe_runtime(
    python: Option<&Path>,
    dir: &Path,
    confine: bool,
) -> Result<real::Runtime, Error> {
    use std::os::unix::fs::PermissionsExt;
    let python = real::python::interpreter(python).map_err(|e| Error::Host(e.to_string()))?;
    if confine {
        real::python::reachable_by_others(&python, true).map_err(|e| {
            Error::Input(format!(
                "{e}; give --python an interpreter every user can run (such as /usr/bin/python3), \
                 or measure --unconfined"
            ))
        })?;
    }
    let handler = dir.join("f.py");
    let written = fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o755)))
        .and_then(|()| {
            fs::write(
                &handler,
                format!(
                    "import time\ndef f(event):\n    time.sleep({})\n",
                    real::probe::PROBE_RUN_US as f64 / 1e6
                ),
            )
        })
        .and_then(|()| fs::set_permissions(&handler, fs::Permissions::from_mode(0o644)));
    written.map_err(|e| Error::Output(format!("writing {}: {e}", handler.display())))?;
    Ok(real::Runtime::Python(std::sync::Arc::new(
        real::python::PythonHandlers::new(python, vec![handler]),
    )))
}

#[cfg(not(target_os = "linux"))]
fn calibrate(_args: &CalibrateArgs) -> Result<(), Error> {
    Err(Error::Host(
        "calibrate measures real sandboxes, on Linux only".into(),
    ))
}

fn aggregate(args: &AggregateArgs) -> Result<(), Error> {
    #[cfg(feature = "polars")]
    {
        let table = analysis::frames::aggregate_records(&args.records, args.by.as_deref())
            .map_err(input)?;
        let csv = table.to_csv();
        match &args.out {
            Some(path) => write_file(path, &csv),
            None => {
                emit(&csv);
                Ok(())
            }
        }
    }
    #[cfg(not(feature = "polars"))]
    Err(needs_polars(&format!(
        "aggregating {}",
        args.records.display()
    )))
}

/// A keep-alive policy written as a sweep's results write it (inline TOML).
fn keep_alive_of(text: &str) -> Option<policies::KeepAliveConfig> {
    let table: toml::Table = toml::from_str(&format!("x = {text}")).ok()?;
    table.get("x")?.clone().try_into().ok()
}

fn report(args: &ReportArgs) -> Result<(), Error> {
    use analysis::sweep_report::{POLICY, Results, write};
    let origin = args.results.display().to_string();
    let text = read_results_csv(&args.results)?;
    let mut results = Results::parse(&text, &origin).map_err(input)?;
    // Policies by their labels, as everywhere else.
    if let Some(i) = results.columns.iter().position(|c| c == POLICY) {
        for row in &mut results.rows {
            if let Some(policy) = keep_alive_of(&row[i]) {
                row[i] = policy.label();
            }
        }
    }
    let baseline: policies::KeepAliveConfig = parse_policy("--baseline", &args.baseline)?;
    let at = args
        .at
        .iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| input(format!("--at {a}: expected AXIS=VALUE")))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let files = write(&results, &args.out, &baseline.label(), &at)
        .map_err(|e| input(format!("{origin}: {e}")))?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    emit(&format!("wrote {}\n", names.join(", ")));
    Ok(())
}
