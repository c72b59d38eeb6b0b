//! The `lambdasim` command line: the main job, outputs, determinism and errors on bad input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("lambdasim-test-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn lambdasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambdasim"))
        .args(args)
        .output()
        .expect("lambdasim runs")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit code 2 with every `needles` in the error message.
pub(crate) fn fails_with(args: &[&str], needles: &[&str]) {
    let o = lambdasim(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: expected {n:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn run_with_no_arguments_simulates_the_default_day_and_prints_a_summary() {
    let o = lambdasim(&["run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "200 functions in 80 apps, 1d at 20/s",
        "keep-alive ttl(idle=10m), scheduler least-loaded",
        "cold",
        "p99",
        "GB-s",
    ] {
        assert!(out.contains(needle), "expected {needle:?} in:\n{out}");
    }
}

#[test]
fn same_scenario_and_seed_give_byte_identical_summary_and_records() {
    let a = TempDir::new("det-a");
    let b = TempDir::new("det-b");
    let args = |dir: &Path| {
        vec![
            "run".to_string(),
            "--duration".into(),
            "2h".into(),
            "--memory-mb".into(),
            "2048".into(),
            "--scheduler".into(),
            "random".into(),
            "--seed".into(),
            "11".into(),
            "--out".into(),
            dir.display().to_string(),
            "--records".into(),
        ]
    };
    for dir in [a.path(), b.path()] {
        let args = args(dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = lambdasim(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for file in ["summary.json", "records.csv", "scenario.toml"] {
        let x = fs::read(a.path().join(file)).unwrap();
        let y = fs::read(b.path().join(file)).unwrap();
        assert!(!x.is_empty(), "{file} is empty");
        assert!(x == y, "{file} differs between identical runs");
    }
    // The saved scenario.toml repeats the run exactly.
    let again = TempDir::new("det-again");
    let saved = a.path().join("scenario.toml").display().to_string();
    let again_out = again.path().display().to_string();
    let o = lambdasim(&["run", "--config", &saved, "--out", &again_out]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read(a.path().join("summary.json")).unwrap(),
        fs::read(again.path().join("summary.json")).unwrap()
    );
    // A different seed gives a different run.
    let c = TempDir::new("det-c");
    let mut other = args(c.path());
    other[8] = "12".into();
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    assert!(lambdasim(&other).status.success());
    assert_ne!(
        fs::read(a.path().join("summary.json")).unwrap(),
        fs::read(c.path().join("summary.json")).unwrap()
    );
}

#[test]
fn a_generated_native_trace_replays_to_the_same_summary_as_its_synthetic_source() {
    let dir = TempDir::new("native");
    let trace = dir.path().join("trace");
    let trace_arg = trace.display().to_string();
    let common = ["--duration", "1h", "--rate", "5", "--seed", "3"];
    let mut gen_args = vec!["generate", "--out", &trace_arg];
    gen_args.extend(common);
    let o = lambdasim(&gen_args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(trace.join("functions.csv").exists());

    let synthetic = dir.path().join("synthetic");
    let synthetic_arg = synthetic.display().to_string();
    let mut run_args = vec!["run", "--out", &synthetic_arg];
    run_args.extend(common);
    assert!(lambdasim(&run_args).status.success());

    let replayed = dir.path().join("replayed");
    let replayed_arg = replayed.display().to_string();
    let o = lambdasim(&["run", "--trace", &trace_arg, "--out", &replayed_arg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs::read_to_string(synthetic.join("summary.json")).unwrap(),
        fs::read_to_string(replayed.join("summary.json")).unwrap()
    );
}

#[test]
fn a_run_handed_to_validate_as_a_served_run_agrees_with_itself() {
    // A simulated run laid out as `real serve --out` lays out a served one: its scenario,
    // summary, records, and the trace of what it ran. Replaying that trace must give the same
    // numbers, invocation by invocation.
    let dir = TempDir::new("served");
    let trace = dir.path().join("trace");
    let served = dir.path().join("served");
    let (trace_arg, served_arg) = (trace.display().to_string(), served.display().to_string());
    let o = lambdasim(&[
        "generate",
        "--out",
        &trace_arg,
        "--duration",
        "1h",
        "--rate",
        "5",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = lambdasim(&[
        "run",
        "--trace",
        &trace_arg,
        "--keep-alive",
        "ttl,idle=2m",
        "--memory-mb",
        "2048",
        "--out",
        &served_arg,
        "--records",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    fs::rename(&trace, served.join("trace")).unwrap();
    let report = dir.path().join("validation").display().to_string();
    let o = lambdasim(&[
        "validate",
        "--served",
        &served_arg,
        "--out",
        &report,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["differing"], 0, "{v}");
    let rows = v["rows"].as_array().unwrap();
    assert!(rows.len() > 20);
    for row in rows {
        assert_eq!(row["real"], row["simulated"], "{row}");
    }
    let row = |name: &str| rows.iter().find(|r| r["metric"] == name).unwrap().clone();
    assert!(row("invocations")["real"].as_f64().unwrap() > 10_000.0);
    assert!(row("cold starts")["real"].as_f64().unwrap() > 0.0);
    assert!(row("wasted memory GB-s")["real"].as_f64().unwrap() > 0.0);

    // The scenario is the served run's; a served run without records cannot be compared.
    let o = lambdasim(&["validate", "--served", &served_arg, "--keep-alive", "lru"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("only --costs applies"),
        "{}",
        stderr(&o)
    );
    fs::remove_file(served.join("records.csv")).unwrap();
    let o = lambdasim(&["validate", "--served", &served_arg]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("serve with --records"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn records_csv_has_the_documented_header_and_one_row_per_invocation() {
    let dir = TempDir::new("records");
    let out = dir.path().display().to_string();
    let o = lambdasim(&[
        "run",
        "--duration",
        "30m",
        "--rate",
        "2",
        "--out",
        &out,
        "--records",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let total = summary["invocations"]["total"].as_u64().unwrap();
    let csv = fs::read_to_string(dir.path().join("records.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,function,app,worker,arrival_us,start_us,end_us,start_kind,queue_us,create_us,install_us,import_us,init_us,exec_us,outcome,reason"
        )
    );
    assert_eq!(lines.count() as u64, total);
    assert!(
        total > 3000,
        "30 minutes at 2/s is about 3600 invocations, got {total}"
    );
}

#[test]
fn unknown_policy_names_are_rejected_with_the_allowed_names() {
    fails_with(
        &["run", "--keep-alive", "forever"],
        &[
            "--keep-alive",
            "unknown variant `forever`",
            "`ttl`",
            "`lru`",
        ],
    );
    fails_with(
        &["run", "--scheduler", "fastest"],
        &["--scheduler", "`least-loaded`", "`hash`"],
    );
}

#[test]
fn impossible_parameters_are_rejected_naming_the_field() {
    fails_with(
        &["run", "--memory-mb", "0"],
        &["cluster.memory_mb must be a positive integer"],
    );
    fails_with(&["run", "--workers", "0"], &["cluster.workers"]);
    fails_with(&["run", "--rate", "-3"], &["rate", "-3"]);
    fails_with(
        &["run", "--keep-alive", "ttl,idle=0s"],
        &["keep_alive.idle"],
    );
    fails_with(&["run", "--duration", "10"], &["unit is missing"]);
}

#[test]
fn scenario_files_are_checked_field_by_field() {
    let dir = TempDir::new("scenario");
    let bad_field = dir.path().join("bad-field.toml");
    fs::write(
        &bad_field,
        "seed = 1\n[cluster]\nworkers = 2\nmemroy_mb = 100\n",
    )
    .unwrap();
    fails_with(
        &["run", "--config", &bad_field.display().to_string()],
        &[
            "bad-field.toml",
            "line 4",
            "unknown field `memroy_mb`",
            "memory_mb",
        ],
    );
    let bad_kind = dir.path().join("bad-kind.toml");
    fs::write(
        &bad_kind,
        "[policies]\nkeep_alive = { kind = \"ttl\", idle = 5 }\n",
    )
    .unwrap();
    fails_with(
        &["run", "--config", &bad_kind.display().to_string()],
        &["bad-kind.toml", "line 2", "duration"],
    );
    fails_with(
        &["run", "--config", "/nonexistent/scenario.toml"],
        &["cannot read scenario /nonexistent/scenario.toml"],
    );
    // A file with every field at its default runs.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.toml");
    let o = lambdasim(&[
        "run",
        "--config",
        &example.display().to_string(),
        "--duration",
        "10m",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn malformed_traces_are_reported_with_file_and_line() {
    let dir = TempDir::new("bad-trace");
    let trace = dir.path();
    fs::write(
        trace.join("functions.csv"),
        "function,app,memory_mb,concurrency\nf0,a0,128,\nf1,a0,256,\n",
    )
    .unwrap();
    fs::write(
        trace.join("invocations.csv"),
        "function,arrival_us,duration_us\nf0,0,1000\nf1,5,1000\nf2,9,1000\n",
    )
    .unwrap();
    let arg = trace.display().to_string();
    fails_with(
        &["run", "--trace", &arg],
        &["invocations.csv", "line 4", "f2"],
    );
    fails_with(
        &["run", "--trace", "/nonexistent/trace"],
        &["/nonexistent/trace"],
    );
    fails_with(
        &["run", "--trace", &arg, "--rate", "3"],
        &["--rate", "replays a trace"],
    );
}

#[test]
fn bench_reports_throughput_and_memory_for_each_scenario() {
    let o = lambdasim(&["bench", "--lengths", "1m", "--repeat", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("azure400") || l.starts_with("stress"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    for row in &rows {
        // scenario, measure, trace, invocations, events, seconds, M inv/s, M events/s, peak MB
        assert_eq!(row.len(), 9, "{row:?}");
        let invocations: u64 = row[3].parse().unwrap();
        let peak_mb: f64 = row[8].parse().unwrap();
        assert!(invocations > 1000, "{row:?}");
        assert!(peak_mb > 0.0, "{row:?}");
    }
    // Generating and simulating the same scenario see the same invocations.
    assert_eq!(rows[0][3], rows[1][3]);
    assert_eq!(rows[2][3], rows[3][3]);
}

#[test]
fn presets_cpu_models_and_provisioning_are_set_from_the_command_line_or_a_file() {
    // The openlambda preset: 50 MB sandboxes that are paused when idle.
    let o = lambdasim(&[
        "run",
        "--preset",
        "openlambda",
        "--duration",
        "30m",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(s["sandboxes"]["paused"].as_u64().unwrap() > 0, "{s}");
    assert!(
        s["starts"]["by_kind"]["unpause"].as_u64().unwrap() > 0,
        "{s}"
    );
    let o = lambdasim(&["run", "--preset", "openlambda", "--duration", "30m"]);
    assert!(stdout(&o).contains("every sandbox 50 MB"), "{}", stdout(&o));

    // Processor sharing on 1 core per worker stretches execution; isolated makes invocations
    // queue for a core.
    let run = |cpu: &str| -> serde_json::Value {
        let o = lambdasim(&[
            "run",
            "--cpu",
            cpu,
            "--cores",
            "1",
            "--duration",
            "10m",
            "--json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let (ignored, isolated, shared) = (run("ignored"), run("isolated"), run("shared"));
    let p50 = |s: &serde_json::Value| s["latency_ms"]["p50"].as_f64().unwrap();
    assert!(
        p50(&shared) > p50(&ignored),
        "{} vs {}",
        p50(&shared),
        p50(&ignored)
    );
    assert!(
        isolated["phases_ms"]["queue"]["total"].as_f64().unwrap() > 0.0,
        "{isolated}"
    );
    fails_with(
        &["run", "--cpu", "turbo"],
        &["turbo", "ignored, isolated, shared"],
    );

    // Provisioned concurrency names functions of the workload.
    let dir = TempDir::new("provisioned");
    let path = dir.path().join("s.toml");
    fs::write(
        &path,
        "[cluster]\nprovisioned = [{ function = \"f0\", count = 2 }]\n[workload]\nkind = \"synthetic\"\nduration = \"10m\"\n",
    )
    .unwrap();
    let o = lambdasim(&["run", "--config", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        s["starts"]["by_kind"]["prewarmed"].as_u64().unwrap() > 0,
        "{s}"
    );
    fs::write(
        &path,
        "[cluster]\nprovisioned = [{ function = \"nope\", count = 2 }]\n",
    )
    .unwrap();
    fails_with(
        &["run", "--config", path.to_str().unwrap()],
        &["cluster.provisioned", "\"nope\""],
    );
    fails_with(
        &["run", "--preset", "faster"],
        &["unknown preset", "faascache, openlambda"],
    );
}

#[test]
fn import_caches_run_from_scenario_files_and_bad_ones_are_named() {
    // The shipped package scenario runs, forking sandboxes from zygotes.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/packages.toml");
    let o = lambdasim(&[
        "run",
        "--config",
        &shipped.display().to_string(),
        "--duration",
        "10m",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("import cache dynamic(512 MB)"), "{out}");
    assert!(out.contains("found in zygote"), "{out}");

    // A static tree read from a file next to the scenario, in OpenLambda's format.
    let dir = TempDir::new("import-cache");
    let scenario = |import_cache: &str| {
        format!(
            "[workload]\nkind = \"synthetic\"\nduration = \"10m\"\n\
             [packages]\ncatalog = {{ kind = \"synthetic\" }}\nimport_cache = {import_cache}\n"
        )
    };
    let file = dir.path().join("s.toml");
    let path = file.display().to_string();
    fs::write(
        dir.path().join("tree.json"),
        r#"{"packages": [], "children": [{"packages": ["pkg0"], "children": [{"packages": ["pkg1"]}]}]}"#,
    )
    .unwrap();
    fs::write(
        &file,
        scenario("{ kind = \"static-tree\", tree = \"tree.json\" }"),
    )
    .unwrap();
    let o = lambdasim(&["run", "--config", &path, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(summary["packages"]["zygotes_created"].as_u64().unwrap() > 0);
    assert!(
        summary["starts"]["by_kind"]["zygote-fork"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Errors name the field, the file and the JSON path.
    fs::write(
        dir.path().join("tree.json"),
        r#"{"children": [{"packages": ["nosuch"]}]}"#,
    )
    .unwrap();
    fails_with(
        &["run", "--config", &path],
        &[
            "packages.import_cache",
            "tree.json",
            "root.children[0].packages[0]",
            "nosuch",
        ],
    );
    fs::write(
        &file,
        scenario("{ kind = \"static-tree\", tree = \"missing.json\" }"),
    )
    .unwrap();
    fails_with(&["run", "--config", &path], &["missing.json"]);
    fs::write(&file, scenario("{ kind = \"dynamic\", capacity_mb = 0 }")).unwrap();
    fails_with(
        &["run", "--config", &path],
        &["[packages] import_cache.capacity_mb", "got 0"],
    );
    fs::write(&file, scenario("{ kind = \"zygotes\" }")).unwrap();
    fails_with(
        &["run", "--config", &path],
        &["zygotes", "static-tree", "dynamic"],
    );
    fs::write(
        &file,
        scenario("{ kind = \"static-tree\", tree = \"tree.json\", nodes = 4 }"),
    )
    .unwrap();
    fails_with(&["run", "--config", &path], &["either tree", "nodes"]);
}

#[test]
fn a_sweep_runs_its_grid_and_slurm_shards_merge_into_the_same_results() {
    let dir = TempDir::new("sweep");
    let plan = dir.path().join("plan.toml");
    fs::write(
        &plan,
        "seeds = [1, 2]\n[grid]\n\"policies.keep_alive\" = [{ kind = \"ttl\", idle = \"1m\" }, { kind = \"lru\" }]\n\
         \"cluster.memory_mb\" = [1024, 2048]\n\"workload.duration\" = [\"5m\"]\n",
    )
    .unwrap();
    let plan = plan.display().to_string();
    let whole = dir.path().join("whole.csv").display().to_string();
    let o = lambdasim(&["sweep", "--plan", &plan, "--out", &whole, "--threads", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = fs::read_to_string(&whole).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 8);
    assert!(lines[0].starts_with(
        "run,seed,cluster.memory_mb,policies.keep_alive,workload.duration,invocations,"
    ));
    assert!(
        lines[3].starts_with("2,1,1024,\"{ kind = \"\"lru\"\" }\",5m,"),
        "{}",
        lines[3]
    );

    // Two shards chosen by Slurm's variables, then merged.
    let mut parts = Vec::new();
    for task in 0..2 {
        let out = dir
            .path()
            .join(format!("part{task}.csv"))
            .display()
            .to_string();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_lambdasim"))
            .args(["sweep", "--plan", &plan, "--out", &out])
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(fs::read_to_string(&out).unwrap().lines().count(), 1 + 4);
        parts.push(out);
    }
    let merged = dir.path().join("merged.csv").display().to_string();
    let o = lambdasim(&["sweep", "merge", &parts[1], &parts[0], "--out", &merged]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&merged).unwrap(), text);
    fails_with(
        &["sweep", "--plan", &plan, "--shard", "2/2"],
        &["--shard 2/2"],
    );
    fails_with(&["sweep", "merge", &parts[0]], &["run 1 is missing"]);

    // The report of the sweep, with wasted memory compared with the 1-minute TTL.
    let report = dir.path().join("report");
    let out = report.display().to_string();
    let o = lambdasim(&["report", &whole, "--out", &out, "--baseline", "ttl,idle=1m"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "report.md",
        "report.html",
        "pareto.png",
        "pareto.svg",
        "cold-vs-memory.png",
        "latency-cdf.png",
        "startup-cdf.svg",
        "startup-phases.png",
        "memory-over-time.png",
    ] {
        assert!(report.join(f).exists(), "{f}");
    }
    let md = fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| 2 | 1 | 1024 | lru | 5m |"), "{md}");
    // The per-policy figures show the lower median memory size, 1024 MB, unless told.
    assert!(md.contains("at cluster.memory_mb = 1024, seed = 1:"));
    let o = lambdasim(&[
        "report",
        &whole,
        "--out",
        &out,
        "--baseline",
        "ttl,idle=1m",
        "--at",
        "cluster.memory_mb=2048",
        "--at",
        "seed=2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("at cluster.memory_mb = 2048, seed = 2:"));
    fails_with(
        &["report", &whole, "--out", &out, "--baseline", "hybrid"],
        &["baseline policy", "ttl(idle=1m), lru"],
    );
    fails_with(
        &[
            "report",
            &whole,
            "--out",
            &out,
            "--baseline",
            "ttl,idle=1m",
            "--at",
            "seed=9",
        ],
        &["--at seed=9", "its values are 1, 2"],
    );
    fails_with(
        &["report", &whole, "--out", &out, "--at", "memory"],
        &["--at memory", "AXIS=VALUE"],
    );
    // The results' distribution columns agree with a run of the same scenario on its own.
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    assert_eq!(header.len(), col("used_gb_t47") + 1);
    assert!(col("latency_q0_ms") < col("latency_q99.99_ms"));
    let q100: f64 = lines[1]
        .split(',')
        .nth(col("latency_q100_ms"))
        .unwrap()
        .parse()
        .unwrap();
    let p99: f64 = lines[1]
        .split(',')
        .nth(col("latency_p99_ms"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(q100 >= p99 && q100 > 0.0, "{q100} {p99}");
}

#[test]
fn a_run_writes_its_report() {
    let dir = TempDir::new("run-report");
    let report = dir.path().join("report");
    let out = report.display().to_string();
    let o = lambdasim(&["run", "--duration", "10m", "--report", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "report.md",
        "report.html",
        "cdf.svg",
        "startup-phases.png",
        "memory.png",
    ] {
        assert!(report.join(f).exists(), "{f}");
    }
    let md = fs::read_to_string(report.join("report.md")).unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    // The report holds the printed summary, and a line of phases per start kind.
    let completed = text
        .lines()
        .find(|l| l.trim_start().starts_with("completed"))
        .unwrap();
    assert!(md.contains(completed), "{md}");
    assert!(md.contains("| cold | "), "{md}");
    // A report that cannot be written is an output error (exit code 1) naming the directory.
    let o = lambdasim(&["run", "--duration", "1m", "--report", "/proc/no/such/dir"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/proc/no/such/dir"), "{}", stderr(&o));
}

/// With the polars feature: sweep results as Parquet, merged and reported; records aggregated.
/// Without it: the same commands say which feature they need.
#[test]
fn parquet_results_and_record_aggregation() {
    let dir = TempDir::new("parquet");
    let plan = dir.path().join("plan.toml");
    fs::write(
        &plan,
        "seeds = [1]\n[grid]\n\"policies.keep_alive\" = [{ kind = \"ttl\", idle = \"10m\" }, { kind = \"lru\" }]\n\
         \"workload.duration\" = [\"5m\"]\n",
    )
    .unwrap();
    let plan = plan.display().to_string();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (csv, parquet) = (path("results.csv"), path("results.parquet"));
    let out = path("out");
    let o = lambdasim(&["run", "--duration", "5m", "--out", &out, "--records"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = path("out/records.csv");
    if cfg!(feature = "polars") {
        let o = lambdasim(&["sweep", "--plan", &plan, "--out", &csv]);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut shards = Vec::new();
        for i in 0..2 {
            let shard = path(&format!("shard{i}.parquet"));
            let o = lambdasim(&[
                "sweep",
                "--plan",
                &plan,
                "--shard",
                &format!("{i}/2"),
                "--out",
                &shard,
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            shards.push(shard);
        }
        // Parquet shards merge into the same CSV as one process writes.
        let merged = path("merged.csv");
        let o = lambdasim(&["sweep", "merge", &shards[0], &shards[1], "--out", &merged]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            fs::read_to_string(&merged).unwrap(),
            fs::read_to_string(&csv).unwrap()
        );
        let o = lambdasim(&["sweep", "merge", &shards[0], &shards[1], "--out", &parquet]);
        assert!(o.status.success(), "{}", stderr(&o));
        let report = path("report");
        let o = lambdasim(&["report", &parquet, "--out", &report]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(dir.path().join("report/pareto.png").exists());

        // The records of the run, aggregated, agree with its summary.
        let o = lambdasim(&["aggregate", &records]);
        assert!(o.status.success(), "{}", stderr(&o));
        let table = String::from_utf8(o.stdout).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(path("out/summary.json")).unwrap()).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("invocations,completed,dropped,failed,cold_starts,"),
            "{table}"
        );
        let cells: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(cells[0], summary["invocations"]["total"].to_string());
        assert_eq!(cells[4], summary["starts"]["cold"].to_string());
        let o = lambdasim(&["aggregate", &records, "--by", "start_kind"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let table = String::from_utf8(o.stdout).unwrap();
        assert!(table.lines().any(|l| l.starts_with("cold,")), "{table}");
        fails_with(
            &["aggregate", &records, "--by", "colour"],
            &["colour", "function, app"],
        );
        fails_with(&["aggregate", &path("missing.csv")], &["missing.csv"]);
    } else {
        fails_with(&["aggregate", &records], &["polars feature"]);
        fails_with(
            &["sweep", "--plan", &plan, "--out", &parquet],
            &["polars feature", "results.parquet"],
        );
        fails_with(
            &["report", &parquet, "--out", &path("report")],
            &["polars feature"],
        );
    }
}

/// A cost profile's measured distributions replace the scenario's costs in `run` and `sweep`:
/// draws follow the quantiles, the same seed gives the same output, and bad profiles are named.
#[test]
fn cost_profiles_replace_the_costs_of_runs_and_sweeps() {
    let dir = TempDir::new("profile");
    let profile = dir.path().join("host.toml");
    // Creation between 2 and 6 ms, median 3 ms; the other costs fixed.
    fs::write(
        &profile,
        "[costs]\ncreate = { quantiles_us = [2000, 3000, 6000] }\ninit = \"1ms\"\nfork = \"1ms\"\n\
         dispatch = \"100us\"\npause = \"100us\"\nunpause = \"100us\"\n\n[measured]\nnote = \"ignored\"\n",
    )
    .unwrap();
    let profile = profile.display().to_string();
    let run = || lambdasim(&["run", "--duration", "30m", "--costs", &profile, "--json"]);
    let (a, b) = (run(), run());
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let summary: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let create = &summary["phases_ms"]["create"];
    let p50 = create["cold_p50"].as_f64().unwrap();
    let p99 = create["cold_p99"].as_f64().unwrap();
    assert!((2.8..3.2).contains(&p50), "{create}");
    assert!((5.5..=6.01).contains(&p99), "{create}");
    let text = lambdasim(&["run", "--duration", "1m", "--costs", &profile]);
    assert!(
        String::from_utf8(text.stdout)
            .unwrap()
            .contains("create measured (p50 3.000ms, mean 3.500ms), init 1ms"),
    );

    // The sweep's runs take the profile too: the same numbers as `run`.
    let plan = dir.path().join("plan.toml");
    fs::write(&plan, "[grid]\n\"workload.duration\" = [\"30m\"]\n").unwrap();
    let plan = plan.display().to_string();
    let o = lambdasim(&["sweep", "--plan", &plan, "--costs", &profile]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let col = lines[0]
        .split(',')
        .position(|c| c == "create_mean_ms")
        .unwrap();
    let mean: f64 = lines[1].split(',').nth(col).unwrap().parse().unwrap();
    assert_eq!(mean, create["mean"].as_f64().unwrap());

    let bad = dir.path().join("bad.toml");
    let bad_path = bad.display().to_string();
    for (text, want) in [
        ("[measured]\n", "needs a [costs] table"),
        (
            "[costs]\ncreate = { quantiles_us = [3, 2] }\n",
            "must not decrease",
        ),
        ("[costs]\nboot = \"1ms\"\n", "unknown field"),
    ] {
        fs::write(&bad, text).unwrap();
        fails_with(&["run", "--costs", &bad_path], &[&bad_path, want]);
    }
    fails_with(
        &["run", "--costs", "/no/such/host.toml"],
        &["/no/such/host.toml"],
    );
}

#[cfg(target_os = "linux")]
#[test]
fn real_mode_flags_are_checked_before_anything_runs() {
    // Each refused with exit code 2, naming the flag, before a sandbox or cgroup is made (so
    // this needs no privileges): -2 cores once became a 1% quota, a zero disk scale empty files.
    for (args, needle) in [
        (&["real", "--memory-scale=-1"][..], "--memory-scale must be"),
        (
            &["real", "--memory-scale", "0"][..],
            "--memory-scale must be",
        ),
        (&["real", "--touch", "nan"][..], "--touch must be"),
        (&["real", "--cpu-limit=-2"][..], "--cpu-limit must be"),
        (&["real", "--disk-scale", "0"][..], "--disk-scale must be"),
        (
            &["real", "--invocation-timeout", "0s"][..],
            "--invocation-timeout must be",
        ),
        (
            &["validate", "--touch=-1", "--out", "unused"][..],
            "--touch must be",
        ),
        (
            &["calibrate", "--out", "unused.toml", "--memory-scale", "nan"][..],
            "--memory-scale must be",
        ),
    ] {
        fails_with(args, &[needle]);
    }
}

#[test]
fn a_scenario_sets_real_modes_invocation_timeout_and_the_simulator_ignores_it() {
    let dir = TempDir::new("real-table");
    let write = |name: &str, real: &str| {
        let path = dir.path().join(name);
        fs::write(
            &path,
            format!(
                "[workload]\nkind = \"synthetic\"\nfunctions = 2\napps = 1\nduration = \"10s\"\n[real]\n{real}\n"
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let ok = write("ok.toml", "invocation_timeout = \"5m\"");
    let o = lambdasim(&["run", "--config", &ok]);
    assert!(o.status.success(), "{}", stderr(&o));
    let zero = write("zero.toml", "invocation_timeout = \"0s\"");
    let o = lambdasim(&["real", "--config", &zero]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[real] invocation_timeout must be longer than 0s"),
        "{}",
        stderr(&o)
    );
    // Every sandbox setting has a key; an impossible value is named by its key and line.
    for (real, needle) in [
        ("touch = -1.0", "line 7: [real] touch must be"),
        (
            "time_scale = 0.0",
            "line 7: [real] time_scale must be a positive number",
        ),
        ("memory_scale = 1e9", "line 7: [real] memory_scale must be"),
        ("exec = \"spin\"", "expected `busy` or `sleep`"),
    ] {
        let bad = write("bad.toml", real);
        let o = lambdasim(&["real", "--config", &bad]);
        assert_eq!(o.status.code(), Some(2), "{real}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{real}: {}", stderr(&o));
    }
    // A flag overrides the key: the file's impossible touch is never used.
    let bad = write("bad.toml", "touch = -1.0");
    let o = lambdasim(&["real", "--config", &bad, "--touch=-2"]);
    assert!(stderr(&o).contains("--touch must be"), "{}", stderr(&o));
    let unknown = write("unknown.toml", "timeout = \"1m\"");
    let o = lambdasim(&["run", "--config", &unknown]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("timeout"), "{}", stderr(&o));
}

// Bad scenario input: each case stops with exit code 2 and a message naming the file, the line
// and the field.

/// Writes `text` to `name` in `dir` and returns the path as an argument.
fn scenario_file(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn durations_have_a_strict_syntax_in_files_and_flags() {
    let dir = TempDir::new("strict-durations");
    for (value, why) in [
        ("1m1m", "the unit \"m\" appears twice"),
        ("30m1h", "\"h\" comes after the smaller unit \"m\""),
        (" 1m", "it contains a space"),
        ("1m ", "it contains a space"),
        ("", "it is empty"),
    ] {
        let config = scenario_file(
            &dir,
            "bad.toml",
            &format!("[policies]\nkeep_alive = {{ kind = \"ttl\", idle = {value:?} }}\n"),
        );
        fails_with(
            &["run", "--config", &config],
            &[
                "bad.toml",
                "line 2",
                &format!("invalid duration {value:?}"),
                why,
            ],
        );
        fails_with(
            &["run", "--duration", value],
            &[&format!("invalid duration {value:?}"), why],
        );
    }
    let config = scenario_file(
        &dir,
        "ok.toml",
        "[workload]\nkind = \"synthetic\"\nfunctions = 4\napps = 2\nduration = \"1h30m\"\n\
         [policies]\nkeep_alive = { kind = \"ttl\", idle = \"1m30s\" }\n",
    );
    let o = lambdasim(&["run", "--config", &config, "--duration", "1m0.5s"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn config_files_must_be_utf8_and_the_error_says_where_it_is_not() {
    let dir = TempDir::new("utf8");
    let path = dir.path().join("latin1.toml");
    fs::write(&path, b"seed = 1\n[cluster]\nname = \"caf\xe9\"\n").unwrap();
    let arg = path.display().to_string();
    let place = "latin1.toml, line 3, column 12: invalid UTF-8 at byte 30";
    fails_with(
        &["run", "--config", &arg],
        &[place, "a scenario must be UTF-8 text"],
    );
    fails_with(
        &["sweep", "--plan", &arg, "--list"],
        &[place, "a plan must be UTF-8 text"],
    );
    #[cfg(target_os = "linux")]
    fails_with(
        &["run", "--costs", &arg],
        &[place, "a cost profile must be UTF-8 text"],
    );
    let plan = dir.path().join("plan.toml");
    fs::write(&plan, "base = \"latin1.toml\"\n").unwrap();
    fails_with(
        &["sweep", "--plan", &plan.display().to_string(), "--list"],
        &["plan.toml: base: ", place],
    );
}

#[test]
fn config_files_larger_than_64_mib_are_refused_without_being_read() {
    let dir = TempDir::new("huge-config");
    // A sparse 2 GB file is refused by its size, an endless one after 64 MiB.
    let huge = dir.path().join("huge.toml");
    fs::File::create(&huge).unwrap().set_len(2 << 30).unwrap();
    let huge = huge.display().to_string();
    fails_with(
        &["run", "--config", &huge],
        &["huge.toml: a scenario may be at most 64 MiB, got 2147483648 bytes"],
    );
    fails_with(
        &["sweep", "--plan", &huge, "--list"],
        &["huge.toml: a plan may be at most 64 MiB"],
    );
    #[cfg(unix)]
    for (args, what) in [
        (&["run", "--config", "/dev/zero"][..], "a scenario"),
        (&["sweep", "--plan", "/dev/zero", "--list"][..], "a plan"),
        #[cfg(target_os = "linux")]
        (&["run", "--costs", "/dev/zero"][..], "a cost profile"),
    ] {
        fails_with(
            args,
            &[&format!(
                "/dev/zero: {what} may be at most 64 MiB, got more than 64 MiB"
            )],
        );
    }
    #[cfg(target_os = "linux")]
    fails_with(
        &["run", "--costs", &huge],
        &["huge.toml: a cost profile may be at most 64 MiB"],
    );
}

#[test]
fn a_bad_value_in_a_tagged_table_is_reported_at_its_own_line() {
    // serde reads a table with a `kind` whole, and used to report its errors at the header.
    let dir = TempDir::new("value-line");
    for (preset, first) in [("", 1), ("preset = \"openlambda\"\n", 2)] {
        let workload = scenario_file(
            &dir,
            "workload.toml",
            &format!(
                "{preset}[workload]\nkind = \"synthetic\"\nfunctions = 10\napps = 2\nduration = \"1m1m\"\n"
            ),
        );
        fails_with(
            &["run", "--config", &workload],
            &[
                &format!(
                    "workload.toml, line {}, column 12: invalid duration \"1m1m\"",
                    first + 4
                ),
                "duration = \"1m1m\"",
            ],
        );
        let policy = scenario_file(
            &dir,
            "policy.toml",
            &format!("{preset}[policies.keep_alive]\nkind = \"ttl\"\nidle = \"5x\"\n"),
        );
        fails_with(
            &["run", "--config", &policy],
            &[&format!(
                "policy.toml, line {}, column 8: invalid duration \"5x\"",
                first + 2
            )],
        );
        let field = scenario_file(
            &dir,
            "field.toml",
            &format!("{preset}[workload]\nkind = \"synthetic\"\nfuncs = 3\n"),
        );
        fails_with(
            &["run", "--config", &field],
            &[&format!(
                "field.toml, line {}, column 1: unknown field `funcs`",
                first + 2
            )],
        );
    }
}

#[test]
fn range_errors_name_the_file_and_the_line_of_the_field() {
    let dir = TempDir::new("range-lines");
    for (text, needle) in [
        (
            "seed = 1\n[cluster]\nworkers = 0\n",
            "s.toml, line 3: [cluster] workers must be a positive integer, got 0",
        ),
        (
            "preset = \"openlambda\"\n[cluster]\ncores = 2\nworkers = 0\n",
            "s.toml, line 4: [cluster] workers must be a positive integer, got 0",
        ),
        (
            "[workload]\nkind = \"synthetic\"\n\nfunctions = 0\n",
            "s.toml, line 4: [workload] functions must be between 1 and",
        ),
        (
            "[policies.keep_alive]\nkind = \"ttl\"\nidle = \"0s\"\n",
            "s.toml, line 3: [policies] keep_alive.idle must be longer than 0s",
        ),
        (
            "[policies]\nscheduler = { kind = \"power-of-two\", d = 0 }\n",
            "s.toml, line 2: [policies] scheduler.d must be at least 1, got 0",
        ),
        (
            "[packages]\ninstall_cache = { kind = \"lru\", disk_mb = 0 }\n",
            "s.toml, line 2: [packages] install_cache.disk_mb must be at least 1, got 0",
        ),
        (
            "[cluster]\nworkers = 2\n[[cluster.provisioned]]\nfunction = \"f0\"\ncount = 0\n",
            "s.toml, line 5: [cluster] provisioned[0].count must be at least 1, got 0",
        ),
        (
            "[validation]\ncold_start_pp = -1.0\n",
            "s.toml, line 2: [validation] cold_start_pp must be a non-negative number",
        ),
    ] {
        let config = scenario_file(&dir, "s.toml", text);
        fails_with(&["run", "--config", &config], &[needle]);
    }
    // A value from a flag is the flag's, not the file's.
    let config = scenario_file(&dir, "s.toml", "[cluster]\nworkers = 2\n");
    let o = lambdasim(&["run", "--config", &config, "--workers", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim(),
        "error: cluster.workers must be a positive integer, got 0"
    );
}

#[test]
fn import_caches_need_a_node_and_a_runtime_that_fits_in_a_worker() {
    let dir = TempDir::new("import-cache-bounds");
    let scenario = |cache: &str| {
        format!(
            "[cluster]\nmemory_mb = 4096\n[packages]\ncatalog = {{ kind = \"synthetic\" }}\n\
             import_cache = {cache}\n[workload]\nkind = \"synthetic\"\nduration = \"10m\"\n"
        )
    };
    let nodes = scenario_file(
        &dir,
        "nodes.toml",
        &scenario("{ kind = \"static-tree\", nodes = 0 }"),
    );
    fails_with(
        &["run", "--config", &nodes],
        &[
            "nodes.toml, line 5: [packages] import_cache.nodes must be at least 1",
            "got 0",
        ],
    );
    for kind in ["dynamic", "static-tree"] {
        let base = scenario_file(
            &dir,
            "base.toml",
            &scenario(&format!("{{ kind = \"{kind}\", base_mb = 1000000000 }}")),
        );
        fails_with(
            &["run", "--config", &base],
            &[
                "base.toml, line 5: [packages] import_cache.base_mb must be at most the memory of a worker (cluster.memory_mb = 4096), got 1000000000",
            ],
        );
    }
    let fits = scenario_file(
        &dir,
        "fits.toml",
        &scenario("{ kind = \"dynamic\", base_mb = 4096 }"),
    );
    let o = lambdasim(&["run", "--config", &fits]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_matrix_takes_its_scenarios_from_its_plan_and_needs_an_output_directory() {
    let dir = TempDir::new("matrix-args");
    // A tiny base, so that a check that let a case through would not run for long.
    scenario_file(
        &dir,
        "base.toml",
        "[workload]\nkind = \"synthetic\"\nfunctions = 2\napps = 1\nduration = \"2s\"\n[real]\nexec = \"sleep\"\n",
    );
    let plan = scenario_file(
        &dir,
        "plan.toml",
        "base = \"base.toml\"\n[grid]\n\"policies.keep_alive\" = [{ kind = \"lru\" }]\n",
    );
    let out = dir.path().join("out").display().to_string();
    let o = lambdasim(&["validate", "--matrix", &plan]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--matrix needs --out"),
        "{}",
        stderr(&o)
    );
    let o = lambdasim(&[
        "validate",
        "--matrix",
        &plan,
        "--out",
        &out,
        "--keep-alive",
        "lru",
    ]);
    // (A flag that sets the default's own value changes nothing and is let through.)
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("takes its scenarios from the plan"),
        "{}",
        stderr(&o)
    );
    let bad = scenario_file(
        &dir,
        "bad.toml",
        "base = \"base.toml\"\n[saturation]\nlate_p99 = 3.0\n",
    );
    let o = lambdasim(&["validate", "--matrix", &bad, "--out", &out]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("late_p99"), "{}", stderr(&o));
    assert!(!std::path::Path::new(&out).join("cells").exists());
}
