//! Replays a lambdasim native trace (`functions.csv` + `invocations.csv`) in DSLab FaaS and
//! prints one CSV row of DSLab's counts.
//!
//! Only DSLab's public API is used; the one addition is `RecordingInvoker`, a pass-through wrapper
//! around DSLab's own `FIFOInvoker` (the default invoker) that counts the invoker's decisions
//! without changing them.
//!
//! Usage: see `usage()` below or run with `--help`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;
use std::rc::Rc;

use dslab_faas::coldstart::{ColdStartPolicy, FixedTimeColdStartPolicy};
use dslab_faas::config::{Config, HostConfig};
use dslab_faas::container::ContainerManager;
use dslab_faas::cpu::IgnoredCpuPolicy;
use dslab_faas::function::FunctionRegistry;
use dslab_faas::invocation::{Invocation, InvocationStatus};
use dslab_faas::invoker::{DequeuedInvocation, FIFOInvoker, Invoker, InvokerDecision};
use dslab_faas::scheduler::{
    ApplicationHasher, BasicScheduler, LeastLoadedScheduler, LocalityBasedScheduler, RoundRobinScheduler, Scheduler,
};
use dslab_faas::simulation::ServerlessSimulation;
use dslab_faas::stats::Stats;
use dslab_faas::trace::{ApplicationData, RequestData, Trace};
use simcore::simulation::Simulation;

const HEADER: &str = "trace,scheduler,keepalive,hosts,memory_mb,invocations,cold_starts,warm_starts,\
queued,dequeued_warm,dequeued_cold,unfinished,containers_created,joined_deploying,wasted_mb_s,last_end_s";

fn usage() -> ! {
    eprintln!(
        "usage: dslab-native-trace --trace DIR --hosts N --memory-mb MB [options]

  --trace DIR            lambdasim native trace (functions.csv, invocations.csv)
  --hosts N              number of identical hosts
  --memory-mb MB         memory per host (DSLab resource \"mem\")
  --cores C              cores per host (default 8; ignored by DSLab's IgnoredCpuPolicy)
  --scheduler S          round-robin (default) | basic | least-loaded | locality | locality-warm
  --keepalive K          fixed:DUR (DSLab FixedTimeColdStartPolicy, reset_keepalive=false, its default)
                         | fixed-reset:DUR (reset_keepalive=true) | no-unloading (DSLab's \"No unloading\")
                         DUR: 20m, 120s, 1.5h, 500ms or plain seconds (default fixed:20m)
  --cold-start-ms X      container deployment time for functions without init_us (default 35)
  --concurrency N        concurrency for functions with an empty concurrency cell (default 1)
  --granularity G        function (default: each function is its own DSLab app)
                         | app (an app's functions share containers: memory = sum, init = max,
                           concurrency = --concurrency, as lambdasim's app granularity)
  --horizon-s H          events later than last arrival + H seconds are not simulated; invocations
                         not finished by then count as unfinished (default 1e6)
  --name NAME            trace name printed in the first column (default: directory name)
  --header               print the CSV header line first
  --tie-report           print to stderr how many invocation ends (and keep-alive expiries, for
                         fixed keep-alive) fall exactly on an arrival in integer microseconds, and
                         how DSLab's f64 times order them
  --speed                one pass with DSLab's own FIFOInvoker until no event is left (keep-alive
                         expiries included), timed; prints invocations, cold starts, containers
                         and the seconds spent reading and simulating (for speed comparisons)"
    );
    exit(2)
}

// ---------------------------------------------------------------------------------------------
// Native trace reading
// ---------------------------------------------------------------------------------------------

struct NativeFunction {
    name: String,
    app: String,
    memory_mb: u64,
    concurrency: Option<usize>,
    init_us: Option<u64>,
}

struct NativeTrace {
    functions: Vec<NativeFunction>,
    /// (function index, arrival_us, duration_us), in file order.
    invocations: Vec<(usize, u64, u64)>,
}

fn split_header(line: &str) -> HashMap<String, usize> {
    line.trim_end_matches('\r')
        .split(',')
        .enumerate()
        .map(|(i, s)| (s.trim().to_string(), i))
        .collect()
}

fn col(header: &HashMap<String, usize>, name: &str, file: &Path) -> usize {
    *header.get(name).unwrap_or_else(|| {
        eprintln!("error: {} has no column {:?}", file.display(), name);
        exit(2)
    })
}

fn read_native(dir: &Path) -> NativeTrace {
    let fpath = dir.join("functions.csv");
    let text = fs::read_to_string(&fpath).unwrap_or_else(|e| {
        eprintln!("error: {}: {}", fpath.display(), e);
        exit(2)
    });
    let mut lines = text.lines();
    let header = split_header(lines.next().unwrap_or(""));
    let (c_f, c_a, c_m) = (
        col(&header, "function", &fpath),
        col(&header, "app", &fpath),
        col(&header, "memory_mb", &fpath),
    );
    let c_c = header.get("concurrency").copied();
    let c_i = header.get("init_us").copied();
    let mut functions = Vec::new();
    let mut ids = HashMap::new();
    for (n, line) in lines.enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(|s| s.trim()).collect();
        let opt = |c: Option<usize>| c.and_then(|i| cells.get(i).copied()).filter(|s| !s.is_empty());
        let bad = |what: &str| -> ! {
            eprintln!("error: {} line {}: bad {}", fpath.display(), n + 2, what);
            exit(2)
        };
        let f = NativeFunction {
            name: cells[c_f].to_string(),
            app: cells[c_a].to_string(),
            memory_mb: cells[c_m].parse().unwrap_or_else(|_| bad("memory_mb")),
            concurrency: opt(c_c).map(|s| s.parse().unwrap_or_else(|_| bad("concurrency"))),
            init_us: opt(c_i).map(|s| s.parse().unwrap_or_else(|_| bad("init_us"))),
        };
        ids.insert(f.name.clone(), functions.len());
        functions.push(f);
    }
    let ipath = dir.join("invocations.csv");
    let text = fs::read_to_string(&ipath).unwrap_or_else(|e| {
        eprintln!("error: {}: {}", ipath.display(), e);
        exit(2)
    });
    let mut lines = text.lines();
    let header = split_header(lines.next().unwrap_or(""));
    let (c_f, c_t, c_d) = (
        col(&header, "function", &ipath),
        col(&header, "arrival_us", &ipath),
        col(&header, "duration_us", &ipath),
    );
    let mut invocations = Vec::new();
    let mut last = 0u64;
    for (n, line) in lines.enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(|s| s.trim()).collect();
        let bad = |what: &str| -> ! {
            eprintln!("error: {} line {}: bad {}", ipath.display(), n + 2, what);
            exit(2)
        };
        let f = *ids.get(cells[c_f]).unwrap_or_else(|| bad("function (unknown)"));
        let t: u64 = cells[c_t].parse().unwrap_or_else(|_| bad("arrival_us"));
        let d: u64 = cells[c_d].parse().unwrap_or_else(|_| bad("duration_us"));
        if t < last {
            bad("arrival_us (not sorted)");
        }
        last = t;
        invocations.push((f, t, d));
    }
    NativeTrace { functions, invocations }
}

/// The native trace as a DSLab `Trace`: apps, the app of each function, and requests.
struct DslabTrace {
    apps: Vec<ApplicationData>,
    function_app: Vec<usize>,
    requests: Vec<RequestData>,
    end: Option<f64>,
}

impl Trace for DslabTrace {
    fn app_iter(&self) -> Box<dyn Iterator<Item = ApplicationData> + '_> {
        Box::new(self.apps.iter().cloned())
    }
    fn request_iter(&self) -> Box<dyn Iterator<Item = RequestData> + '_> {
        Box::new(self.requests.iter().copied())
    }
    fn function_iter(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        Box::new(self.function_app.iter().copied())
    }
    fn is_ordered_by_time(&self) -> bool {
        true
    }
    fn simulation_end(&self) -> Option<f64> {
        self.end
    }
}

fn us_to_s(x: u64) -> f64 {
    x as f64 / 1e6
}

fn to_dslab(trace: &NativeTrace, args: &Args) -> DslabTrace {
    let mut apps = Vec::new();
    let mut function_app = Vec::new();
    match args.granularity.as_str() {
        "function" => {
            for f in &trace.functions {
                let init_us = f.init_us.unwrap_or(args.cold_start_us);
                apps.push(ApplicationData::new(
                    f.concurrency.unwrap_or(args.concurrency),
                    us_to_s(init_us),
                    1.0,
                    vec![("mem".to_string(), f.memory_mb)],
                ));
                function_app.push(apps.len() - 1);
            }
        }
        "app" => {
            let mut app_ids: HashMap<&str, usize> = HashMap::new();
            let mut mem: Vec<u64> = Vec::new();
            let mut init: Vec<Option<u64>> = Vec::new();
            for f in &trace.functions {
                let next = app_ids.len();
                let id = *app_ids.entry(f.app.as_str()).or_insert(next);
                if id == mem.len() {
                    mem.push(0);
                    init.push(None);
                }
                mem[id] += f.memory_mb;
                init[id] = init[id].max(f.init_us);
                function_app.push(id);
            }
            for (m, i) in mem.iter().zip(init.iter()) {
                apps.push(ApplicationData::new(
                    args.concurrency,
                    us_to_s(i.unwrap_or(args.cold_start_us)),
                    1.0,
                    vec![("mem".to_string(), *m)],
                ));
            }
        }
        g => {
            eprintln!("error: unknown granularity {:?}", g);
            exit(2)
        }
    }
    let requests = trace
        .invocations
        .iter()
        .map(|&(f, t, d)| RequestData {
            id: f,
            duration: us_to_s(d),
            time: us_to_s(t),
        })
        .collect();
    DslabTrace {
        apps,
        function_app,
        requests,
        end: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Pass-through invoker that counts DSLab's invoker decisions
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Debug, PartialEq)]
struct Counters {
    arrive_warm: u64,
    arrive_cold: u64,
    arrive_queued: u64,
    dequeued_warm: u64,
    dequeued_cold: u64,
    containers_created: u64,
    joined_deploying: u64,
}

struct RecordingInvoker {
    inner: FIFOInvoker,
    counters: Rc<RefCell<Counters>>,
}

impl Invoker for RecordingInvoker {
    fn dequeue(
        &mut self,
        fr: Rc<RefCell<FunctionRegistry>>,
        cm: &mut ContainerManager,
        stats: &mut Stats,
        time: f64,
    ) -> Vec<DequeuedInvocation> {
        let before = cm.get_containers().len() as u64;
        let out = self.inner.dequeue(fr, cm, stats, time);
        let created = cm.get_containers().len() as u64 - before;
        let mut c = self.counters.borrow_mut();
        let cold = out.iter().filter(|d| d.delay.is_some()).count() as u64;
        c.dequeued_cold += cold;
        c.dequeued_warm += out.len() as u64 - cold;
        c.containers_created += created;
        c.joined_deploying += cold - created;
        out
    }

    fn invoke(
        &mut self,
        invocation: &Invocation,
        fr: Rc<RefCell<FunctionRegistry>>,
        cm: &mut ContainerManager,
        time: f64,
    ) -> InvokerDecision {
        let before = cm.get_containers().len() as u64;
        let decision = self.inner.invoke(invocation, fr, cm, time);
        let created = cm.get_containers().len() as u64 - before;
        let mut c = self.counters.borrow_mut();
        match decision {
            InvokerDecision::Warm(_) => c.arrive_warm += 1,
            InvokerDecision::Cold(_) => {
                c.arrive_cold += 1;
                c.containers_created += created;
                c.joined_deploying += 1 - created;
            }
            InvokerDecision::Queued => c.arrive_queued += 1,
            InvokerDecision::Rejected => unreachable!("FIFOInvoker::invoke never returns Rejected"),
        }
        assert!(created <= 1, "one invoke deployed {} containers", created);
        decision
    }

    fn queue_len(&self) -> usize {
        self.inner.queue_len()
    }

    fn to_string(&self) -> String {
        format!("Recording[{}]", self.inner.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

struct Args {
    trace: PathBuf,
    name: Option<String>,
    hosts: usize,
    memory_mb: u64,
    cores: u32,
    scheduler: String,
    keepalive: String,
    cold_start_us: u64,
    concurrency: usize,
    granularity: String,
    horizon_s: f64,
    header: bool,
    tie_report: bool,
    speed: bool,
}

fn parse_duration_s(s: &str) -> f64 {
    let (num, mult) = if let Some(x) = s.strip_suffix("ms") {
        (x, 1e-3)
    } else if let Some(x) = s.strip_suffix('s') {
        (x, 1.0)
    } else if let Some(x) = s.strip_suffix('m') {
        (x, 60.0)
    } else if let Some(x) = s.strip_suffix('h') {
        (x, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().unwrap_or_else(|_| {
        eprintln!("error: bad duration {:?}", s);
        exit(2)
    });
    v * mult
}

fn parse_args() -> Args {
    let mut a = Args {
        trace: PathBuf::new(),
        name: None,
        hosts: 0,
        memory_mb: 0,
        cores: 8,
        scheduler: "round-robin".into(),
        keepalive: "fixed:20m".into(),
        cold_start_us: 35_000,
        concurrency: 1,
        granularity: "function".into(),
        horizon_s: 1e6,
        header: false,
        tie_report: false,
        speed: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let mut have_trace = false;
    while i < argv.len() {
        let flag = argv[i].as_str();
        let mut val = || -> String {
            i += 1;
            argv.get(i).cloned().unwrap_or_else(|| usage())
        };
        match flag {
            "--trace" => {
                a.trace = PathBuf::from(val());
                have_trace = true;
            }
            "--name" => a.name = Some(val()),
            "--hosts" => a.hosts = val().parse().unwrap_or_else(|_| usage()),
            "--memory-mb" => a.memory_mb = val().parse().unwrap_or_else(|_| usage()),
            "--cores" => a.cores = val().parse().unwrap_or_else(|_| usage()),
            "--scheduler" => a.scheduler = val(),
            "--keepalive" => a.keepalive = val(),
            "--cold-start-ms" => {
                let ms: f64 = val().parse().unwrap_or_else(|_| usage());
                a.cold_start_us = (ms * 1000.0).round() as u64;
            }
            "--concurrency" => a.concurrency = val().parse().unwrap_or_else(|_| usage()),
            "--granularity" => a.granularity = val(),
            "--horizon-s" => a.horizon_s = val().parse().unwrap_or_else(|_| usage()),
            "--header" => a.header = true,
            "--tie-report" => a.tie_report = true,
            "--speed" => a.speed = true,
            _ => usage(),
        }
        i += 1;
    }
    if !have_trace || a.hosts == 0 || a.memory_mb == 0 {
        usage();
    }
    a
}

fn make_scheduler(name: &str) -> Box<dyn Scheduler> {
    match name {
        "round-robin" => Box::new(RoundRobinScheduler::new()),
        "basic" => Box::new(BasicScheduler {}),
        "least-loaded" => Box::new(LeastLoadedScheduler::new(true, true, true)),
        "locality" => Box::new(LocalityBasedScheduler::new(
            Some(ApplicationHasher::new(Box::new(|a| a), "Identity".to_string())),
            Some(1),
            false,
        )),
        "locality-warm" => Box::new(LocalityBasedScheduler::new(
            Some(ApplicationHasher::new(Box::new(|a| a), "Identity".to_string())),
            Some(1),
            true,
        )),
        _ => {
            eprintln!("error: unknown scheduler {:?}", name);
            exit(2)
        }
    }
}

fn make_keepalive(spec: &str) -> Box<dyn ColdStartPolicy> {
    if spec == "no-unloading" {
        // Exactly what DSLab's default_coldstart_policy_resolver builds for "No unloading".
        return Box::new(FixedTimeColdStartPolicy::new(f64::MAX / 10.0, 0.0, true));
    }
    if let Some(d) = spec.strip_prefix("fixed-reset:") {
        return Box::new(FixedTimeColdStartPolicy::new(parse_duration_s(d), 0.0, true));
    }
    if let Some(d) = spec.strip_prefix("fixed:") {
        return Box::new(FixedTimeColdStartPolicy::new(parse_duration_s(d), 0.0, false));
    }
    eprintln!("error: unknown keep-alive {:?}", spec);
    exit(2)
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

struct Outcome {
    invocations: u64,
    cold_starts: u64,
    counters: Counters,
    finished: u64,
    still_queued: u64,
    last_end: f64,
    wasted_mb_s: f64,
    /// (start_time, finish_time) of finished invocations, in trace order.
    finished_times: Vec<(f64, f64)>,
}

/// DSLab's configuration for `args`, each host with an invoker from `invoker`.
fn make_config(args: &Args, invoker: impl Fn() -> Box<dyn Invoker>) -> Config {
    let hosts = (0..args.hosts)
        .map(|_| HostConfig {
            invoker: invoker(),
            resources: vec![("mem".to_string(), args.memory_mb)],
            cores: args.cores,
        })
        .collect();
    Config {
        coldstart_policy: make_keepalive(&args.keepalive),
        cpu_policy: Box::<IgnoredCpuPolicy>::default(),
        scheduler: make_scheduler(&args.scheduler),
        hosts,
        ..Default::default()
    }
}

fn run(args: &Args, trace: &DslabTrace, until: f64) -> Outcome {
    let counters = Rc::new(RefCell::new(Counters::default()));
    let config = make_config(args, || {
        Box::new(RecordingInvoker {
            inner: FIFOInvoker::new(),
            counters: counters.clone(),
        })
    });
    let mut sim = ServerlessSimulation::new(Simulation::new(1), config);
    let range = sim.load_trace(trace);
    // Simulation time starts at 0, so stepping for `until` stops after the last event at or
    // before time `until`.
    sim.step_for_duration(until);
    let invs = sim.get_invocations(range);
    let mut finished = 0;
    let mut still_queued = 0;
    let mut last_end: f64 = 0.0;
    let mut finished_times = Vec::new();
    for inv in &invs {
        match inv.status {
            InvocationStatus::Finished => {
                finished += 1;
                last_end = last_end.max(inv.finish_time.unwrap());
                finished_times.push((inv.start_time.unwrap(), inv.finish_time.unwrap()));
            }
            InvocationStatus::Queued => still_queued += 1,
            _ => {}
        }
    }
    let stats = sim.invocation_stats();
    let global = sim.global_stats();
    let wasted_mb_s = global.wasted_resource_time.get(0).map(|m| m.sum()).unwrap_or(0.0);
    let c = counters.borrow().clone();
    Outcome {
        invocations: stats.invocations,
        cold_starts: stats.cold_starts,
        counters: c,
        finished,
        still_queued,
        last_end,
        wasted_mb_s,
        finished_times,
    }
}

/// Counts exact integer-microsecond coincidences of an invocation end (start as simulated + the
/// trace duration) or of a fixed keep-alive expiry candidate (that end + the keep-alive) with an
/// arrival, and how DSLab's f64 event times order the two.
fn tie_report(args: &Args, native: &NativeTrace, out: &Outcome) {
    use std::collections::HashSet;
    let arrivals: HashSet<u64> = native.invocations.iter().map(|x| x.1).collect();
    // Finished invocations in registry order = trace order.
    let durations: Vec<u64> = native.invocations.iter().map(|x| x.2).collect();
    let ka_us: Option<u64> = args
        .keepalive
        .strip_prefix("fixed:")
        .or_else(|| args.keepalive.strip_prefix("fixed-reset:"))
        .map(|d| (parse_duration_s(d) * 1e6).round() as u64);
    let ka_s = ka_us.map(|_| {
        let d = args.keepalive.split(':').nth(1).unwrap();
        parse_duration_s(d)
    });
    let (mut end_ties, mut end_before, mut end_equal, mut end_after) = (0u64, 0u64, 0u64, 0u64);
    let (mut exp_ties, mut exp_before, mut exp_equal, mut exp_after) = (0u64, 0u64, 0u64, 0u64);
    // Only valid when every invocation finished (then registry order matches `durations`).
    if out.finished_times.len() != durations.len() {
        eprintln!("tie-report: skipped (unfinished invocations)");
        return;
    }
    for (i, &(start, finish)) in out.finished_times.iter().enumerate() {
        let start_us = (start * 1e6).round() as u64;
        let end_us = start_us + durations[i];
        if arrivals.contains(&end_us) {
            end_ties += 1;
            let a = us_to_s(end_us);
            if finish < a {
                end_before += 1
            } else if finish == a {
                end_equal += 1
            } else {
                end_after += 1
            }
        }
        if let (Some(ka), Some(ka_s)) = (ka_us, ka_s) {
            let exp_us = end_us + ka;
            if arrivals.contains(&exp_us) {
                exp_ties += 1;
                let a = us_to_s(exp_us);
                let e = finish + ka_s;
                if e < a {
                    exp_before += 1
                } else if e == a {
                    exp_equal += 1
                } else {
                    exp_after += 1
                }
            }
        }
    }
    eprintln!(
        "tie-report: invocation end == an arrival in integer us: {} (f64 end earlier than the arrival: {}, equal: {}, later: {}); \
         end + keep-alive == an arrival: {} (f64 earlier: {}, equal: {}, later: {})",
        end_ties, end_before, end_equal, end_after, exp_ties, exp_before, exp_equal, exp_after
    );
}

/// One plain run, timed: DSLab's stock components only (no recording wrapper), every event
/// processed. Prints `invocations,cold_starts,read_s,simulate_s`.
fn speed(args: &Args) {
    let t0 = std::time::Instant::now();
    let native = read_native(&args.trace);
    let trace = to_dslab(&native, args);
    drop(native);
    let read_s = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let config = make_config(args, || Box::new(FIFOInvoker::new()));
    let mut sim = ServerlessSimulation::new(Simulation::new(1), config);
    sim.load_trace(&trace);
    sim.step_until_no_events();
    let simulate_s = t1.elapsed().as_secs_f64();
    let stats = sim.invocation_stats();
    println!("invocations,cold_starts,read_s,simulate_s");
    println!("{},{},{:.3},{:.3}", stats.invocations, stats.cold_starts, read_s, simulate_s);
}

fn main() {
    let args = parse_args();
    if args.speed {
        speed(&args);
        return;
    }
    let native = read_native(&args.trace);
    if native.invocations.is_empty() {
        eprintln!("error: no invocations");
        exit(2)
    }
    let mut trace = to_dslab(&native, &args);
    let last_arrival = trace.requests.last().unwrap().time;

    // Pass 1: everything up to the horizon; all counts come from this pass.
    let first = run(&args, &trace, last_arrival + args.horizon_s);
    // Pass 2: the same run with DSLab's SimulationEndEvent at the end of the last finished
    // invocation and no event after it, so that the wasted memory-time of containers still
    // alive is charged up to that time and no further (lambdasim's convention).
    trace.end = Some(first.last_end);
    let second = run(&args, &trace, first.last_end);

    if args.tie_report {
        tie_report(&args, &native, &first);
    }
    let c = &first.counters;
    let total = native.invocations.len() as u64;
    // Consistency checks of the model description (see scripts/dslab/README.md).
    assert_eq!(first.invocations, total, "every arrival is dispatched at once");
    assert_eq!(first.invocations, c.arrive_warm + c.arrive_cold + c.arrive_queued);
    assert_eq!(first.cold_starts, c.arrive_cold + c.dequeued_warm + c.dequeued_cold);
    assert_eq!(first.still_queued, c.arrive_queued - c.dequeued_warm - c.dequeued_cold);
    let unfinished = total - first.finished;
    if unfinished == 0 {
        assert_eq!(first.counters, second.counters, "pass 2 must replay pass 1 exactly");
        assert_eq!(first.cold_starts, second.cold_starts);
    }

    let name = args.name.clone().unwrap_or_else(|| {
        args.trace
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| args.trace.display().to_string())
    });
    let keepalive = args.keepalive.replace(':', "-");
    if args.header {
        println!("{}", HEADER);
    }
    println!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{:.6}",
        name,
        args.scheduler,
        keepalive,
        args.hosts,
        args.memory_mb,
        first.invocations,
        first.cold_starts,
        c.arrive_warm,
        c.arrive_queued,
        c.dequeued_warm,
        c.dequeued_cold,
        unfinished,
        c.containers_created,
        c.joined_deploying,
        second.wasted_mb_s,
        first.last_end,
    );
}
