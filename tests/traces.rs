//! The trace readers through the command line: small fixtures of each public format, written by
//! the tests, replayed, inspected, sampled and converted; bad input gives exit code 2 and a
//! message naming the file, line, column and value.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::cli::{TempDir, fails_with, lambdasim, stderr, stdout};

/// An Azure 2019 day in the original layout: 3 functions in 2 apps over 5 minutes.
/// f1 (app A, http): 3 in minute 2, 1 in minute 5; f2 (app A, timer): 2 in minute 1;
/// f3 (app B, queue): 1 in minute 3. Total 7.
fn azure2019_day(dir: &Path) {
    let inv = "HashOwner,HashApp,HashFunction,Trigger,1,2,3,4,5\n\
               o1,A,f1,http,0,3,0,0,1\n\
               o1,A,f2,timer,2,0,0,0,0\n\
               o2,B,f3,queue,0,0,1,0,0\n";
    let dur = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,\
               percentile_Average_0,percentile_Average_1,percentile_Average_25,\
               percentile_Average_50,percentile_Average_75,percentile_Average_99,\
               percentile_Average_100\n\
               o1,A,f1,100,4,50,400,50,60,80,100,120,300,400\n\
               o1,A,f2,2000,2,1000,3000,1000,1000,1500,2000,2500,3000,3000\n\
               o2,B,f3,10,1,10,10,10,10,10,10,10,10,10\n";
    let mem = "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
               AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
               AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
               AverageAllocatedMb_pct100\n\
               o1,A,10,300,200,210,250,300,350,380,390,400\n\
               o2,B,10,100,90,90,95,100,105,110,120,128\n";
    fs::write(dir.join("invocations_per_function_md.anon.d01.csv"), inv).unwrap();
    fs::write(dir.join("function_durations_percentiles.anon.d01.csv"), dur).unwrap();
    fs::write(dir.join("app_memory_percentiles.anon.d01.csv"), mem).unwrap();
}

pub(crate) fn json(o: &std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn azure2019_replays_every_counted_invocation() {
    let dir = TempDir::new("az19-run");
    azure2019_day(dir.path());
    let trace = format!("azure2019:{}", dir.path().display());
    let o = lambdasim(&[
        "run",
        "--trace",
        &trace,
        "--day",
        "1",
        "--arrivals",
        "even",
        "--json",
    ]);
    let s = json(&o);
    assert_eq!(s["invocations"]["total"], 7);
    assert_eq!(s["invocations"]["completed"], 7);

    // Text output names the trace and what was read.
    let o = lambdasim(&["run", "--trace", &trace]);
    let text = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(text.contains("azure2019 trace"), "{text}");
    assert!(
        text.contains("3 functions in 2 apps") && text.contains("7 recorded invocations"),
        "{text}"
    );
}

#[test]
fn trace_info_reports_counts_and_rate() {
    let dir = TempDir::new("az19-info");
    azure2019_day(dir.path());
    let trace = format!("azure2019:{}", dir.path().display());
    let o = lambdasim(&["trace", "info", &trace, "--bucket", "1m", "--json"]);
    let info = json(&o);
    assert_eq!(info["functions_read"], 3);
    assert_eq!(info["apps_read"], 2);
    let replay = &info["replay"];
    assert_eq!(replay["invocations"], 7);
    let per_minute: Vec<u64> = replay["rate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["invocations"].as_u64().unwrap())
        .collect();
    assert_eq!(per_minute, [2, 3, 1, 0, 1]);
    // Durations: f1 100 ms (4 invocations), f2 2000 ms (2), f3 10 ms (1) with `average`.
    assert_eq!(replay["duration_ms"]["quantiles"][5][1], 2000.0);
    // Memory pct100 split: app A 400 MB over 2 functions, app B 128 MB.
    let memory = &replay["memory_mb"]["quantiles"];
    assert_eq!(
        (memory[0][1].as_f64(), memory[5][1].as_f64()),
        (Some(128.0), Some(200.0))
    );

    let o = lambdasim(&["trace", "info", &trace]);
    let text = stdout(&o);
    assert!(text.contains("7 from"), "{text}");
    assert!(text.contains("rate over time"), "{text}");
}

#[test]
fn sample_and_convert_write_native_traces_that_replay() {
    let dir = TempDir::new("az19-sample");
    azure2019_day(dir.path());
    let out = TempDir::new("az19-sample-out");
    let trace = format!("azure2019:{}", dir.path().display());
    let sampled = out.path().join("top1");
    let o = lambdasim(&[
        "trace",
        "sample",
        &trace,
        "--sample",
        "top,n=1",
        "--out",
        sampled.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let functions = fs::read_to_string(sampled.join("functions.csv")).unwrap();
    assert_eq!(functions.lines().count(), 2, "{functions}");
    assert!(functions.contains("f1,A,"), "{functions}");
    let invocations = fs::read_to_string(sampled.join("invocations.csv")).unwrap();
    // f1's 3 invocations in minute 2 at 60, 80, 100 s and 1 in minute 5 at 240 s, 100 ms each.
    assert_eq!(
        invocations,
        "function,arrival_us,duration_us\nf1,60000000,100000\nf1,80000000,100000\n\
         f1,100000000,100000\nf1,240000000,100000\n"
    );

    let converted = out.path().join("all");
    let o = lambdasim(&[
        "trace",
        "convert",
        &trace,
        "--durations",
        "faascache",
        "--out",
        converted.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let functions = fs::read_to_string(converted.join("functions.csv")).unwrap();
    // FaasCache: cold = Maximum, so init = Maximum - Average = 300 ms for f1.
    assert!(functions.contains("f1,A,200,,300000"), "{functions}");
    let replayed = lambdasim(&["run", "--trace", converted.to_str().unwrap(), "--json"]);
    assert_eq!(json(&replayed)["invocations"]["total"], 7);

    fails_with(
        &["trace", "sample", &trace, "--out", "x"],
        &["needs --sample"],
    );
}

#[test]
fn same_trace_and_seed_give_identical_replays() {
    let dir = TempDir::new("az19-determinism");
    azure2019_day(dir.path());
    let trace = format!("azure2019:{}", dir.path().display());
    let args = [
        "trace",
        "info",
        &trace,
        "--arrivals",
        "poisson",
        "--durations",
        "percentiles",
        "--seed",
        "5",
        "--json",
    ];
    let a = stdout(&lambdasim(&args));
    let b = stdout(&lambdasim(&args));
    assert_eq!(a, b);
}

#[test]
fn azure2021_and_huawei2023_replay() {
    let dir = TempDir::new("az21-hw23");
    // Azure 2021: unsorted rows, last line without a newline; 4 invocations in 3 functions.
    let az21 = dir.path().join("azure2021.csv");
    fs::write(
        &az21,
        "app,func,end_timestamp,duration\nA,f,10.5,0.5\nA,g,3.0,1.0\nB,f,20.0,2.0\nA,f,4.25,0.25",
    )
    .unwrap();
    let o = lambdasim(&[
        "run",
        "--trace",
        &format!("azure2021:{}", az21.display()),
        "--json",
    ]);
    assert_eq!(json(&o)["invocations"]["total"], 4);

    // Huawei 2023: 2 functions over 3 minutes, NaN is 0: 3 + 0 + 1 and 2 + 5 + 0.
    let hw = dir.path().join("huawei.csv");
    fs::write(&hw, "day,time,0,1\n0,0,3,2\n0,60,NaN,5\n0,120,1.0,\n").unwrap();
    let o = lambdasim(&[
        "trace",
        "info",
        &format!("huawei2023:{}", hw.display()),
        "--json",
    ]);
    assert_eq!(json(&o)["replay"]["invocations"], 11);
}

#[test]
fn bad_trace_input_names_file_line_column_and_value() {
    let dir = TempDir::new("az19-bad");
    azure2019_day(dir.path());
    let inv = dir.path().join("invocations_per_function_md.anon.d01.csv");
    let mut text = fs::read_to_string(&inv).unwrap();
    let _ = writeln!(text, "o2,B,f4,http,0,x,0,0,0");
    fs::write(&inv, text).unwrap();
    let trace = format!("azure2019:{}", dir.path().display());
    fails_with(
        &["run", "--trace", &trace],
        &[
            "invocations_per_function_md.anon.d01.csv",
            "line 5",
            "\"x\"",
        ],
    );
    let o = lambdasim(&["trace", "info", &trace, "--skip-bad-rows"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 malformed rows skipped"),
        "{}",
        stdout(&o)
    );

    let empty = TempDir::new("az19-empty");
    fails_with(
        &[
            "run",
            "--trace",
            &format!("azure2019:{}", empty.path().display()),
        ],
        &["invocations_per_function_md.anon.d"],
    );
    fails_with(&["run", "--trace", "azure2019"], &["FORMAT:PATH"]);
    fails_with(
        &["run", "--trace", &trace, "--sample", "best,n=3"],
        &["--sample", "best", "top"],
    );
    fails_with(&["run", "--sample", "top,n=3"], &["--sample", "--trace"]);
    fails_with(
        &["run", "--trace", &trace, "--days", "3-1"],
        &["ends before it starts"],
    );
    fails_with(
        &[
            "run",
            "--trace",
            &format!("azure2021:{}", dir.path().join("none.csv").display()),
        ],
        &["none.csv"],
    );
}

#[test]
fn faascache_preset_reproduces_greedy_dual_by_hand() {
    // The Azure 2019 fixture under FaasCache's model: one server of 300 MB, no costs of the
    // platform's own, cold = Maximum, warm = Average, arrivals evenly spaced, memory from
    // AverageAllocatedMb split among an app's functions: f1 and f2 150 MB each (app A, 300 MB),
    // f3 100 MB (app B). Greedy-Dual in FaasCache's units: priority = clock + frequency x
    // (cold - warm in ms) / MB, so f1 gains 300 / 150 = 2 per use, f2 1000 / 150 = 6.667, f3 0.
    //   0 s   f2 cold (S1), 3 s cold run; priority 6.667.    30 s  f2 warm on S1: 13.333.
    //   60 s  f1 cold (S2), the other 150 MB: 2.             80 s, 100 s  f1 warm on S2: 4, 6.
    //   120 s f3 needs 100 MB, none free: S2 (6) goes before S1 (13.333); the clock becomes 6,
    //         and S3 (f3) takes 6 + 0 = 6.
    //   240 s f1 needs 150 MB with 50 free. FaasCache evicts until the victims add up to the
    //         whole 150 MB: S3 (6, 100 MB), then S1 (13.333); f1 starts cold on S4.
    let dir = TempDir::new("faascache-preset");
    azure2019_day(dir.path());
    let out = TempDir::new("faascache-preset-out");
    let trace = format!("azure2019:{}", dir.path().display());
    let o = lambdasim(&[
        "run",
        "--preset",
        "faascache",
        "--trace",
        &trace,
        "--memory-mb",
        "300",
        "--out",
        out.path().to_str().unwrap(),
        "--records",
        "--json",
    ]);
    let s = json(&o);
    assert_eq!(s["invocations"]["dropped"], 0);
    assert_eq!(s["starts"]["by_kind"]["cold"], 4);
    assert_eq!(s["starts"]["by_kind"]["warm"], 3);
    assert_eq!(s["sandboxes"]["destroyed_by_reason"]["evicted"], 3, "{s}");
    let records = fs::read_to_string(out.path().join("records.csv")).unwrap();
    let mut rows: Vec<Vec<String>> = records
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    rows.sort_by_key(|r| r[0].parse::<u64>().unwrap());
    let kinds: Vec<&str> = rows.iter().map(|r| r[7].as_str()).collect();
    assert_eq!(
        kinds,
        ["cold", "warm", "cold", "warm", "warm", "cold", "cold"]
    );
    // f2's cold run: 1 s of initialization, then 2 s: it ends at 3 s.
    assert_eq!(rows[0][6], "3000000");
    let scenario = fs::read_to_string(out.path().join("scenario.toml")).unwrap();
    assert!(scenario.contains("preset = \"faascache\""), "{scenario}");
}

#[test]
fn package_sets_are_assigned_written_and_read_back() {
    // A synthetic workload with the synthetic package catalogue: generate writes packages.json
    // and a packages column, which read back into the same catalogue; every function's set is
    // closed over dependencies.
    let dir = TempDir::new("packages");
    let scenario = dir.path().join("s.toml");
    fs::write(
        &scenario,
        "[workload]\nkind = \"synthetic\"\nduration = \"10m\"\nfunctions = 30\napps = 10\n\
         [packages]\ncatalog = { kind = \"synthetic\", packages = 40 }\nassign = { mean = 3.0 }\n",
    )
    .unwrap();
    let out = dir.path().join("trace");
    let o = lambdasim(&[
        "generate",
        "--config",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let catalog =
        workloads::packages::PackageCatalog::read_native(&out.join("packages.json")).unwrap();
    assert_eq!(catalog.len(), 40);
    let w = workloads::native::read(&out).unwrap();
    assert_eq!(w.catalog.packages, catalog);
    assert!(w.catalog.functions.iter().all(|f| !f.packages.is_empty()));
    for f in &w.catalog.functions {
        assert_eq!(
            catalog.closure(&f.packages),
            f.packages,
            "{} is not closed",
            f.name
        );
    }
    let text = stdout(&lambdasim(&["run", "--config", scenario.to_str().unwrap()]));
    assert!(
        text.contains("synthetic catalogue of 40 packages"),
        "{text}"
    );

    // A package the catalogue does not have is named with its file and line.
    let functions = fs::read_to_string(out.join("functions.csv")).unwrap();
    let mut lines: Vec<&str> = functions.lines().collect();
    let bad = format!("{};nope==1.0", lines[2]);
    lines[2] = &bad;
    fs::write(out.join("functions.csv"), lines.join("\n")).unwrap();
    fails_with(
        &["run", "--trace", out.to_str().unwrap()],
        &["functions.csv, line 3", "\"nope==1.0\"", "packages.json"],
    );
}

#[test]
fn faascache_preset_counts_the_same_on_an_azure_trace_and_its_native_conversion() {
    // The preset reads Azure 2019 as FaasCache's trace generator does; converted to the native
    // format with the same options, the trace must replay to the same counts under every
    // policy, so that a native slice stands for the Azure trace it came from.
    let dir = TempDir::new("faascache-azure-native");
    azure2019_day(dir.path());
    let native = TempDir::new("faascache-azure-native-out");
    let azure = format!("azure2019:{}", dir.path().display());
    let o = lambdasim(&[
        "trace",
        "convert",
        &azure,
        "--arrivals",
        "even",
        "--durations",
        "faascache",
        "--memory-percentile",
        "average",
        "--out",
        native.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let native = format!("native:{}", native.path().display());
    for keep_alive in [
        "ttl,idle=10m,lazy=true",
        "greedy-dual,variant=gd",
        "greedy-dual,variant=landlord",
        "greedy-dual,variant=hist",
    ] {
        for memory in ["150", "300"] {
            let counts = |trace: &str| {
                let s = json(&lambdasim(&[
                    "run",
                    "--preset",
                    "faascache",
                    "--trace",
                    trace,
                    "--memory-mb",
                    memory,
                    "--keep-alive",
                    keep_alive,
                    "--json",
                ]));
                (s["starts"].clone(), s["invocations"].clone())
            };
            assert_eq!(counts(&azure), counts(&native), "{keep_alive} {memory} MB");
        }
    }
}

#[test]
fn faascache_preset_replays_native_traces_and_needs_every_function_s_init_time() {
    // A native trace whose functions carry init_us runs under the preset, which costs nothing
    // of its own (its Azure-only trace options do not apply); one function without init_us
    // would start cold for free, which is refused, naming it. Pool options that FaasCache's
    // pool cannot run are refused too.
    let dir = TempDir::new("faascache-native");
    fs::write(
        dir.path().join("functions.csv"),
        "function,app,memory_mb,concurrency,init_us\nf0,a,100,1,500000\nf1,a,100,1,\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("invocations.csv"),
        "function,arrival_us,duration_us\nf0,0,1000000\nf0,5000000,1000000\n",
    )
    .unwrap();
    let trace = format!("native:{}", dir.path().display());
    fails_with(
        &["run", "--preset", "faascache", "--trace", &trace],
        &["cold start would cost nothing", "\"f1\""],
    );
    fs::write(
        dir.path().join("functions.csv"),
        "function,app,memory_mb,concurrency,init_us\nf0,a,100,1,500000\nf1,a,100,1,0\n",
    )
    .unwrap();
    let s = json(&lambdasim(&[
        "run",
        "--preset",
        "faascache",
        "--trace",
        &trace,
        "--json",
    ]));
    assert_eq!(s["starts"]["by_kind"]["cold"], 1);
    assert_eq!(s["starts"]["by_kind"]["warm"], 1);
    fails_with(
        &[
            "run",
            "--preset",
            "faascache",
            "--trace",
            &trace,
            "--keep-alive",
            "ttl,idle=10m",
        ],
        &["model.pool = \"heap\"", "lazy = true"],
    );
    fails_with(
        &[
            "run",
            "--preset",
            "faascache",
            "--trace",
            &trace,
            "--keep-alive",
            "greedy-dual,variant=rand",
        ],
        &["variant rand"],
    );
}

// Inputs that used to be accepted silently or reported as something else: catalogue costs and
// dependencies, out-of-order Azure 2019 statistics and minute columns, paths that are not files,
// and percentiles past the extremes.

/// A ReqBench directory of two versions, `a` depending on `b`, with `install_import.json` as
/// given.
fn reqbench_dir(dir: &Path, install_import: &str, deps: &str) {
    fs::write(dir.join("install_import.json"), install_import).unwrap();
    fs::write(dir.join("deps.json"), deps).unwrap();
    fs::write(dir.join("packages.json"), "{}").unwrap();
}

const REQBENCH_INSTALL: &str = "{\n\
    \"a\": {\"1.0\": {\"install_time\": 500, \"disk_size\": 1000, \"ms\": 4, \"mb\": 0.5}},\n\
    \"b\": {\"2.0\": {\"install_time\": 300, \"disk_size\": 10, \"ms\": 1, \"mb\": 0.1}}\n}";
const REQBENCH_DEPS: &str =
    "{\n\"a\": {\"1.0\": {\"a==1.0,b==2.0\": 3}},\n\"b\": {\"2.0\": {\"b==2.0\": 4}}\n}";

/// A scenario of a short synthetic workload whose packages come from the ReqBench files in `dir`.
fn reqbench_scenario(dir: &Path) -> String {
    let scenario = dir.join("s.toml");
    fs::write(
        &scenario,
        format!(
            "[workload]\nkind = \"synthetic\"\nduration = \"1m\"\nfunctions = 4\napps = 2\n\
             [packages]\ncatalog = {{ kind = \"reqbench\", dir = {:?} }}\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    scenario.display().to_string()
}

#[test]
fn reqbench_catalogues_are_checked_like_native_ones() {
    let dir = TempDir::new("reqbench-checks");
    reqbench_dir(dir.path(), REQBENCH_INSTALL, REQBENCH_DEPS);
    let scenario = reqbench_scenario(dir.path());
    let o = lambdasim(&["run", "--config", &scenario, "--json"]);
    assert!(json(&o)["invocations"]["completed"].as_u64().is_some());

    // A negative install time, size or import cost: the file, the line of the version, the
    // version and the field.
    for (field, good) in [
        ("install_time", "500"),
        ("disk_size", "1000"),
        ("ms", "4"),
        ("mb", "0.5"),
    ] {
        let bad = REQBENCH_INSTALL.replacen(
            &format!("\"{field}\": {good}"),
            &format!("\"{field}\": -7"),
            1,
        );
        assert_ne!(bad, REQBENCH_INSTALL);
        reqbench_dir(dir.path(), &bad, REQBENCH_DEPS);
        fails_with(
            &["run", "--config", &scenario],
            &[
                "install_import.json, line 2",
                "a==1.0",
                &format!("{field} must be a finite number of at least 0, got -7"),
            ],
        );
    }

    // A dependency on a package install_import.json does not have.
    let deps = REQBENCH_DEPS.replace("a==1.0,b==2.0", "a==1.0,b==2.0,c==3.0");
    reqbench_dir(dir.path(), REQBENCH_INSTALL, &deps);
    fails_with(
        &["run", "--config", &scenario],
        &[
            "deps.json, line 2",
            "a==1.0",
            "\"c==3.0\", which is not a package of install_import.json",
        ],
    );
}

#[test]
fn azure2019_out_of_order_statistics_and_minute_columns_exit_2() {
    let dir = TempDir::new("az19-order");
    azure2019_day(dir.path());
    let trace = format!("azure2019:{}", dir.path().display());
    let durations = dir
        .path()
        .join("function_durations_percentiles.anon.d01.csv");
    let good = fs::read_to_string(&durations).unwrap();

    // Percentiles that decrease: the row of f1, with its two columns.
    fs::write(
        &durations,
        good.replace(
            "o1,A,f1,100,4,50,400,50,60,80,100,",
            "o1,A,f1,100,4,50,400,50,60,180,100,",
        ),
    )
    .unwrap();
    fails_with(
        &["trace", "info", &trace],
        &[
            "function_durations_percentiles.anon.d01.csv, line 2",
            "column \"percentile_Average_25\" (180)",
            "column \"percentile_Average_50\" (100)",
        ],
    );
    // Minimum above Maximum, which the faascache model reads.
    fs::write(
        &durations,
        good.replace("o1,A,f2,2000,2,1000,3000,", "o1,A,f2,2000,2,4000,3000,"),
    )
    .unwrap();
    fails_with(
        &["trace", "info", &trace, "--durations", "faascache"],
        &[
            "line 3",
            "column \"Minimum\" (4000)",
            "column \"Maximum\" (3000)",
        ],
    );
    fs::write(&durations, &good).unwrap();

    // Memory percentiles that decrease.
    let memory = dir.path().join("app_memory_percentiles.anon.d01.csv");
    let good_memory = fs::read_to_string(&memory).unwrap();
    fs::write(
        &memory,
        good_memory.replace("o2,B,10,100,90,90,95,100,", "o2,B,10,100,90,90,95,80,"),
    )
    .unwrap();
    fails_with(
        &["trace", "info", &trace],
        &[
            "app_memory_percentiles.anon.d01.csv, line 3",
            "\"AverageAllocatedMb_pct25\" (95)",
            "\"AverageAllocatedMb_pct50\" (80)",
        ],
    );
    fs::write(&memory, &good_memory).unwrap();

    // A minute column past the day is not passed over.
    let invocations = dir.path().join("invocations_per_function_md.anon.d01.csv");
    let good_invocations = fs::read_to_string(&invocations).unwrap();
    fs::write(
        &invocations,
        good_invocations.replacen("3,4,5\n", "3,4,5,minute_99999999\n", 1),
    )
    .unwrap();
    fails_with(
        &["trace", "info", &trace],
        &[
            "invocations_per_function_md.anon.d01.csv",
            "column \"minute_99999999\" is not a minute of the day",
        ],
    );
}

#[cfg(unix)]
#[test]
fn trace_files_that_are_devices_or_directories_are_named_for_what_they_are() {
    use std::os::unix::fs::symlink;
    // An In-Vitro sample whose durations file is a link to /dev/zero: not "not found".
    let dir = TempDir::new("az19-device");
    fs::write(
        dir.path().join("1_inv.csv"),
        "HashFunction,HashApp,HashOwner,minute_1\nf,a,o,1\n",
    )
    .unwrap();
    symlink("/dev/zero", dir.path().join("1_run.csv")).unwrap();
    let run = dir.path().join("1_run.csv").display().to_string();
    fails_with(
        &[
            "trace",
            "info",
            &format!("azure2019:{}", dir.path().display()),
        ],
        &[
            &run,
            "is a device (a link to /dev/zero), not a regular file",
        ],
    );
    fs::remove_file(dir.path().join("1_run.csv")).unwrap();
    fs::create_dir(dir.path().join("1_run.csv")).unwrap();
    fails_with(
        &[
            "trace",
            "info",
            &format!("azure2019:{}", dir.path().display()),
        ],
        &[&run, "is a directory, not a regular file"],
    );

    // Azure 2021: a device and a directory.
    let null = dir.path().join("null.csv");
    symlink("/dev/null", &null).unwrap();
    fails_with(
        &["trace", "info", &format!("azure2021:{}", null.display())],
        &["null.csv", "is a device"],
    );
    fails_with(
        &[
            "trace",
            "info",
            &format!("azure2021:{}", dir.path().display()),
        ],
        &[&dir.path().display().to_string(), "is a directory"],
    );

    // Huawei 2023: a day file that is a directory.
    let days = TempDir::new("hw-device");
    fs::write(days.path().join("day_00.csv"), "day,time,0\n0,0,1\n").unwrap();
    fs::create_dir(days.path().join("day_01.csv")).unwrap();
    fails_with(
        &[
            "trace",
            "info",
            &format!("huawei2023:{}", days.path().display()),
        ],
        &["day_01.csv", "is a directory, not a regular file"],
    );
}

#[test]
fn trace_info_percentiles_stay_between_min_and_max() {
    // Every invocation takes 600 s and every function has 8062 MB: the histogram's buckets top
    // at 600.31 s and 8063 MB, and no percentile may go past what was seen.
    let dir = TempDir::new("info-extremes");
    fs::write(
        dir.path().join("functions.csv"),
        "function,app,memory_mb\nf0,a,8062\nf1,a,8062\n",
    )
    .unwrap();
    let mut invocations = String::from("function,arrival_us,duration_us\n");
    for i in 0..50 {
        let _ = writeln!(invocations, "f{},{},600000000", i % 2, i * 1_000_000);
    }
    fs::write(dir.path().join("invocations.csv"), invocations).unwrap();
    let trace = dir.path().display().to_string();
    let info = json(&lambdasim(&["trace", "info", &trace, "--json"]));
    let replay = &info["replay"];
    for (what, value) in [("duration_ms", 600_000.0), ("memory_mb", 8062.0)] {
        for q in replay[what]["quantiles"].as_array().unwrap() {
            assert_eq!(q[1].as_f64(), Some(value), "{what} {q}");
        }
    }
    let text = stdout(&lambdasim(&["trace", "info", &trace]));
    assert!(
        text.contains("p99 600000, max 600000") && text.contains("p99 8062, max 8062"),
        "{text}"
    );

    // The run's summary: no percentile past the max.
    let s = json(&lambdasim(&["run", "--trace", &trace, "--json"]));
    let latency = &s["latency_ms"];
    let max = latency["max"].as_f64().unwrap();
    for p in ["p50", "p90", "p99", "p999"] {
        assert!(latency[p].as_f64().unwrap() <= max, "{p}: {latency}");
    }
}

#[test]
fn reader_thread_replays_native_traces_byte_identically() {
    // A native trace of about 12,000 invocations: a few batches of the reader thread.
    let dir = TempDir::new("reader-thread");
    let trace = dir.path().join("trace");
    let o = lambdasim(&[
        "generate",
        "--duration",
        "10m",
        "--seed",
        "3",
        "--out",
        trace.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = fs::read_to_string(trace.join("invocations.csv"))
        .unwrap()
        .lines()
        .count() as u64
        - 1;
    assert!(rows > 2 * 4096, "{rows} invocations");
    let trace = format!("native:{}", trace.display());
    let shaped: &[&str] = &["--sample", "top,n=50", "--scale", "1.5", "--start", "1m"];
    for (i, options) in [&[][..], shaped].into_iter().enumerate() {
        let mut outputs = Vec::new();
        for on in ["true", "false"] {
            let out = dir.path().join(format!("out-{i}-{on}"));
            let mut args = vec![
                "run",
                "--trace",
                &trace,
                "--reader-thread",
                on,
                "--out",
                out.to_str().unwrap(),
                "--records",
                "--json",
            ];
            args.extend_from_slice(options);
            let o = lambdasim(&args);
            let total = json(&o)["invocations"]["total"].as_u64().unwrap();
            if options.is_empty() {
                assert_eq!(total, rows, "every row replayed");
            } else {
                assert!(total > 0 && total != rows, "{total} of {rows}");
            }
            let summary = fs::read(out.join("summary.json")).unwrap();
            let records = fs::read(out.join("records.csv")).unwrap();
            outputs.push((o.stdout, summary, records));
        }
        let [with, without] = &outputs[..] else {
            unreachable!()
        };
        assert!(with.0 == without.0, "stdout differs for {options:?}");
        assert!(with.1 == without.1, "summary.json differs for {options:?}");
        assert!(with.2 == without.2, "records.csv differs for {options:?}");
    }
    fails_with(
        &["run", "--trace", &trace, "--reader-thread", "maybe"],
        &["--reader-thread", "maybe"],
    );
}
