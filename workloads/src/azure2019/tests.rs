use super::*;
use crate::scratch::Scratch;
use crate::synthetic::AppMemory;
use crate::time::MICROS_PER_SEC;
use crate::trace::{ArrivalMode, DurationMode, MemoryFallback, MemoryPercentile};
use crate::{Invocation, Time};

const SEC: Time = MICROS_PER_SEC;
const MIN: Time = MICROS_PER_MIN;

const INV: &str = "HashOwner,HashApp,HashFunction,Trigger,1,2,3";
const DUR: &str = "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,\
    percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,\
    percentile_Average_75,percentile_Average_99,percentile_Average_100";
const MEM: &str = "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,\
    AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,\
    AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,\
    AverageAllocatedMb_pct100";

fn table(header: &str, rows: &[&str]) -> String {
    let mut text = format!("{header}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// A memory row: `average` in AverageAllocatedMb and pct1..pct25, `p50` in pct50 and pct75,
/// `p100` in pct95..pct100.
fn mem(key: &str, average: u32, p50: u32, p100: u32) -> String {
    format!("{key},10,{average},{average},{average},{average},{p50},{p50},{p100},{p100},{p100}")
}

fn inv_name(day: u32) -> String {
    format!("{INVOCATIONS_PREFIX}{day:02}.csv")
}

fn dur_name(day: u32) -> String {
    format!("{DURATIONS_PREFIX}{day:02}.csv")
}

fn mem_name(day: u32) -> String {
    format!("{MEMORY_PREFIX}{day:02}.csv")
}

fn at(dir: &Scratch) -> TraceSpec {
    TraceSpec {
        path: dir.path().to_path_buf(),
        ..TraceSpec::default()
    }
}

/// Two days of the original layout with one of each kind of row to clean.
fn two_days(test: &str) -> Scratch {
    let dir = Scratch::new(test);
    dir.file(
        &inv_name(1),
        &table(
            INV,
            &[
                "o1,a1,f1,http,1,0,2",
                "o1,a1,f2,timer,0,3,0",
                "o1,a1,f1,http,9,9,9",
                "o1,a2,f3,queue,1,1,1",
                "o2,a3,f4,http,5,0,0",
                "o2,a4,f5,event,0,0,1",
            ],
        ),
    );
    dir.file(
        &inv_name(2),
        &table(
            INV,
            &[
                "o1,a1,f2,timer,0,1,0",
                "o3,a5,f6,http,0,0,4",
                "o1,a1,f1,http,0,0,0",
            ],
        ),
    );
    dir.file(
        &dur_name(1),
        &table(
            DUR,
            &[
                "o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400",
                "o1,a1,f2,20.5,3,10.0,30.0,10,11,15,20,25,29,30",
                "o1,a1,f2,999,3,10.0,30.0,10,11,15,20,25,29,30",
                "o1,a2,f3,0,3,0,0,0,0,0,0,0,0,0",
                "o2,a4,f5,10,1,10,10,10,10,10,10,10,10,10",
                "o9,a9,f9,10,1,10,10,10,10,10,10,10,10,10",
            ],
        ),
    );
    dir.file(
        &dur_name(2),
        &table(
            DUR,
            &[
                "o3,a5,f6,1000,4,900,1100,900,900,950,1000,1050,1100,1100",
                "o1,a1,f1,555,3,50.0,555.0,50,60,80,100,120,300,555",
            ],
        ),
    );
    dir.file(
        &mem_name(1),
        &table(
            MEM,
            &[
                &mem("o1,a1", 300, 400, 512),
                &mem("o1,a2", 128, 128, 128),
                &mem("o2,a3", 256, 256, 256),
            ],
        ),
    );
    dir.file(
        &mem_name(2),
        &table(
            MEM,
            &[
                &mem("o3,a5", 200, 200, 200),
                &mem("o1,a1", 9999, 9999, 9999),
            ],
        ),
    );
    dir
}

/// One day, one app `a1` with `f1` (http, 1,0,2) and `f2` (timer, 0,3,0).
fn one_day(test: &str) -> Scratch {
    let dir = Scratch::new(test);
    dir.file(
        &inv_name(1),
        &table(INV, &["o1,a1,f1,http,1,0,2", "o1,a1,f2,timer,0,3,0"]),
    );
    dir.file(
        &dur_name(1),
        &table(
            DUR,
            &[
                "o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400",
                "o1,a1,f2,20,3,10.0,30.0,10,11,15,20,25,29,30",
            ],
        ),
    );
    dir.file(&mem_name(1), &table(MEM, &[&mem("o1,a1", 300, 400, 512)]));
    dir
}

fn names(trace: &Trace) -> Vec<&str> {
    trace
        .catalog
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect()
}

fn memory(trace: &Trace) -> Vec<u32> {
    trace
        .catalog
        .functions
        .iter()
        .map(|f| f.memory_mb)
        .collect()
}

fn replay(trace: Trace, window: Window, seed: u64) -> Vec<Invocation> {
    let keep = vec![true; trace.catalog.functions.len()];
    trace
        .source
        .stream(StreamRequest {
            keep,
            scale: 1.0,
            window,
            seed,
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// (arrival, function, duration) of each invocation.
fn events(invocations: &[Invocation]) -> Vec<(Time, u32, Time)> {
    invocations
        .iter()
        .map(|i| (i.arrival, i.function.0, i.duration))
        .collect()
}

fn error(spec: &TraceSpec) -> String {
    open(spec, 1).map(|_| ()).unwrap_err().to_string()
}

fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

#[test]
fn a_minute_past_the_arrival_limit_is_an_error_not_a_huge_batch() {
    // 15 million in each of two cells of minute 2: 30 million arrivals in one minute.
    let dir = one_day("az19-huge-minute");
    dir.file(
        &inv_name(1),
        &table(
            INV,
            &["o1,a1,f1,http,1,15000000,2", "o1,a1,f2,timer,0,15000000,0"],
        ),
    );
    let trace = open(&at(&dir), 1).unwrap();
    let keep = vec![true; trace.catalog.functions.len()];
    let mut stream = trace
        .source
        .stream(StreamRequest {
            keep,
            scale: 1.0,
            window: at(&dir).window(),
            seed: 1,
        })
        .unwrap();
    // Minute 1's arrivals, then the error, and nothing after it.
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.arrival, 0);
    let message = stream.find_map(Result::err).unwrap().to_string();
    assert_mentions(
        &message,
        &["minute 1", "30000000 arrivals", "more than the 20000000"],
    );
}

#[test]
fn original_layout_cleans_and_builds_the_catalog() {
    let dir = two_days("az19-two-days");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    assert_eq!(names(&trace), ["f1", "f2", "f6"]);
    let apps: Vec<_> = trace.catalog.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(apps, ["a1", "a5"]);
    let app_of: Vec<u32> = trace.catalog.functions.iter().map(|f| f.app.0).collect();
    assert_eq!(app_of, [0, 0, 1]);
    // f1: 1 + 2 on day 1 (its duplicate row ignored); f2: 3 + 1; f6: 4 on day 2.
    assert_eq!(trace.counts, [3, 4, 4]);
    // pct100: a1 has 512 MB split between f1 and f2; a5's 200 MB comes from day 2.
    assert_eq!(trace.app_memory_mb, [512, 200]);
    assert_eq!(memory(&trace), [256, 256, 200]);
    let dropped: Vec<(&str, u64)> = trace
        .report
        .dropped
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        dropped,
        [
            ("duplicate row in durations file", 1),
            ("duplicate row in invocations file", 1),
            ("duration row without invocations", 1),
            ("no duration row", 1),
            ("no memory row", 1),
            ("zero average duration", 1),
        ]
    );
    assert_eq!(trace.report.bad_rows, 0);
    assert_eq!(trace.report.files.len(), 6);
    assert_eq!(trace.span, 1443 * MIN);
    assert!(trace.catalog.functions.iter().all(|f| f.init.is_none()));
}

#[test]
fn minutes_continue_across_days_and_even_spreads_each_minute() {
    let dir = two_days("az19-across-days");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    let got = events(&replay(trace, spec.window(), 3));
    let day2 = 1440 * MIN;
    let (f1, f2, f6) = (100_000, 20_500, 1_000_000);
    assert_eq!(
        got,
        [
            (0, 0, f1),
            // Three invocations in minute 2 at 60, 80 and 100 s.
            (60 * SEC, 1, f2),
            (80 * SEC, 1, f2),
            (100 * SEC, 1, f2),
            (120 * SEC, 0, f1),
            (150 * SEC, 0, f1),
            // Minute 2 of day 2 starts at (1440 + 1) * 60 s.
            (day2 + 60 * SEC, 1, f2),
            (day2 + 120 * SEC, 2, f6),
            (day2 + 135 * SEC, 2, f6),
            (day2 + 150 * SEC, 2, f6),
            (day2 + 165 * SEC, 2, f6),
        ]
    );
    assert_eq!(got[6].0, (1440 + 1) * 60 * SEC);
}

#[test]
fn default_day_is_the_lowest_with_an_invocation_file() {
    let dir = two_days("az19-default-day");
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(names(&trace), ["f1", "f2"]);
    assert_eq!(trace.counts, [3, 3]);
    assert_eq!(trace.span, 3 * MIN);
    assert_eq!(trace.report.files.len(), 3);
}

#[test]
fn missing_day_file_is_named() {
    let dir = one_day("az19-missing-day");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        ..at(&dir)
    };
    assert_mentions(
        &error(&spec),
        &["invocations_per_function_md.anon.d02.csv", "not found"],
    );
    let dir = Scratch::new("az19-no-durations");
    dir.file(&inv_name(1), &table(INV, &["o1,a1,f1,http,1,0,2"]));
    assert_mentions(
        &error(&at(&dir)),
        &["function_durations_percentiles.anon.d01.csv", "not found"],
    );
}

#[test]
fn in_vitro_sample_with_per_function_memory() {
    let dir = Scratch::new("az19-invitro");
    dir.file(
        "7_inv.csv",
        &table(
            "HashFunction,HashApp,HashOwner,minute_1,minute_2",
            &["g1,b1,p1,2,0", "g2,b1,p1,0,1", "g3,b2,p2,1,1"],
        ),
    );
    // Rows in another order, and Count before Average.
    dir.file(
        "7_run.csv",
        &table(
            "HashFunction,HashApp,HashOwner,Count,Average,Minimum,Maximum,\
             percentile_Average_0,percentile_Average_1,percentile_Average_25,\
             percentile_Average_50,percentile_Average_75,percentile_Average_99,\
             percentile_Average_100",
            &[
                "g2,b1,p1,1,50,40.0,60.0,40,41,45,50,55,59,60",
                "g3,b2,p2,2,10,10.0,10.0,10,10,10,10,10,10,10",
                "g1,b1,p1,2,30,20.0,40.0,20,21,25,30,35,39,40",
            ],
        ),
    );
    dir.file(
        "7_mem.csv",
        &table(
            &MEM.replace("HashOwner,HashApp", "HashFunction,HashApp,HashOwner"),
            &[
                &mem("g3,b2,p2", 100, 100, 128),
                &mem("g1,b1,p1", 100, 200, 300),
                &mem("g2,b1,p1", 100, 200, 500),
            ],
        ),
    );
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(names(&trace), ["g1", "g2", "g3"]);
    assert_eq!(trace.catalog.apps.len(), 2);
    assert_eq!(trace.counts, [2, 1, 2]);
    // Per-function rows: each function its own memory, not split; the app the largest.
    assert_eq!(memory(&trace), [300, 500, 128]);
    assert_eq!(trace.app_memory_mb, [500, 128]);
    assert!(
        trace
            .report
            .notes
            .iter()
            .any(|n| n.contains("per function"))
    );
    assert_eq!(trace.span, 2 * MIN);
    let got = events(&replay(trace, at(&dir).window(), 1));
    assert_eq!(
        got,
        [
            (0, 0, 30_000),
            (0, 2, 10_000),
            (30 * SEC, 0, 30_000),
            (60 * SEC, 1, 50_000),
            (60 * SEC, 2, 10_000),
        ]
    );
}

#[test]
fn in_vitro_plain_names_key_memory_by_app() {
    let dir = Scratch::new("az19-invitro-plain");
    dir.file(
        "invocations.csv",
        &table(
            "HashFunction,HashApp,HashOwner,minute_1",
            &["g1,b1,p1,2", "g2,b1,p1,1"],
        ),
    );
    dir.file(
        "durations.csv",
        &table(
            &DUR.replace(
                "HashOwner,HashApp,HashFunction,Average,Count",
                "HashFunction,HashApp,HashOwner,Count,Average",
            ),
            &[
                "g1,b1,p1,2,30,20,40,20,21,25,30,35,39,40",
                "g2,b1,p1,2,30,20,40,20,21,25,30,35,39,40",
            ],
        ),
    );
    dir.file(
        "memory.csv",
        &table(
            &MEM.replace("HashOwner,HashApp", "HashApp,HashOwner"),
            &[&mem("b1,p1", 100, 100, 400)],
        ),
    );
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(names(&trace), ["g1", "g2"]);
    assert_eq!(memory(&trace), [200, 200]);
    assert_eq!(trace.app_memory_mb, [400]);

    // In-Vitro samples have one day and no triggers.
    let days = TraceSpec {
        days: Some("1".parse().unwrap()),
        ..at(&dir)
    };
    assert_mentions(&error(&days), &["days", "original layout"]);
    let triggers = TraceSpec {
        triggers: vec!["http".into()],
        ..at(&dir)
    };
    assert_mentions(&error(&triggers), &["triggers", "Trigger column"]);
}

#[test]
fn several_in_vitro_samples_are_listed() {
    let dir = Scratch::new("az19-invitro-several");
    for n in [10, 20] {
        dir.file(
            &format!("{n}_inv.csv"),
            "HashFunction,HashApp,HashOwner,minute_1\n",
        );
        dir.file(&format!("{n}_run.csv"), "x\n");
    }
    assert_mentions(
        &error(&at(&dir)),
        &["10_inv.csv", "20_inv.csv", "directory with one"],
    );
}

#[test]
fn memory_split_or_per_function_from_the_chosen_percentile() {
    let dir = one_day("az19-memory");
    let cases = [
        (
            MemoryPercentile::Pct(100),
            AppMemory::Split,
            [256, 256],
            512,
        ),
        (
            MemoryPercentile::Pct(100),
            AppMemory::PerFunction,
            [512, 512],
            512,
        ),
        (MemoryPercentile::Average, AppMemory::Split, [150, 150], 300),
        (
            MemoryPercentile::Pct(50),
            AppMemory::PerFunction,
            [400, 400],
            400,
        ),
    ];
    for (percentile, app_memory, functions, app) in cases {
        let spec = TraceSpec {
            memory_percentile: percentile,
            app_memory,
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(memory(&trace), functions, "{percentile} {app_memory:?}");
        assert_eq!(trace.app_memory_mb, [app]);
    }
}

#[test]
fn days_without_memory_file_draw_memory_from_the_fallback() {
    let dir = Scratch::new("az19-fallback");
    dir.file(
        &inv_name(13),
        &table(
            INV,
            &[
                "o1,a1,f1,http,1,0,2",
                "o1,a1,f2,timer,0,3,0",
                "o2,a2,f3,http,1,1,1",
            ],
        ),
    );
    dir.file(
        &dur_name(13),
        &table(
            DUR,
            &[
                "o1,a1,f1,100,3,50,400,50,60,80,100,120,300,400",
                "o1,a1,f2,20,3,10,30,10,11,15,20,25,29,30",
                "o2,a2,f3,20,3,10,30,10,11,15,20,25,29,30",
            ],
        ),
    );
    let fixed = TraceSpec {
        days: Some("13".parse().unwrap()),
        memory_fallback: MemoryFallback::Fixed { mb: 300 },
        ..at(&dir)
    };
    let trace = open(&fixed, 1).unwrap();
    assert_eq!(trace.app_memory_mb, [300, 300]);
    assert_eq!(memory(&trace), [150, 150, 300]);
    assert!(
        trace.report.dropped.is_empty(),
        "{:?}",
        trace.report.dropped
    );
    assert!(
        trace
            .report
            .notes
            .iter()
            .any(|n| n.contains("memory_fallback") && n.contains("d13")),
        "{:?}",
        trace.report.notes
    );

    let burr = TraceSpec {
        memory_fallback: MemoryFallback::default(),
        ..fixed
    };
    let a = open(&burr, 5).unwrap().app_memory_mb;
    assert_eq!(a, open(&burr, 5).unwrap().app_memory_mb);
    assert!(a.iter().all(|mb| (16..=4096).contains(mb)), "{a:?}");
}

#[test]
fn faascache_init_is_maximum_minus_average() {
    let dir = one_day("az19-faascache");
    let spec = TraceSpec {
        durations: DurationMode::Faascache,
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    let init: Vec<_> = trace.catalog.functions.iter().map(|f| f.init).collect();
    assert_eq!(init, [Some(300_000), Some(10_000)]);
    let got = events(&replay(trace, spec.window(), 1));
    assert!(
        got.iter()
            .all(|e| e.2 == if e.1 == 0 { 100_000 } else { 20_000 })
    );
}

#[test]
fn percentile_draws_stay_between_p0_and_p100() {
    let dir = Scratch::new("az19-percentiles");
    dir.file(&inv_name(1), &table(INV, &["o1,a1,f1,http,200,300,100"]));
    dir.file(
        &dur_name(1),
        &table(DUR, &["o1,a1,f1,100,3,50,400,50,60,80,100,120,300,400"]),
    );
    dir.file(&mem_name(1), &table(MEM, &[&mem("o1,a1", 128, 128, 128)]));
    let spec = TraceSpec {
        durations: DurationMode::Percentiles,
        ..at(&dir)
    };
    let got = replay(open(&spec, 1).unwrap(), spec.window(), 4);
    assert_eq!(got.len(), 600);
    assert!(
        got.iter().all(|i| (50_000..=400_000).contains(&i.duration)),
        "a draw outside [p0, p100]"
    );
    let distinct: HashSet<Time> = got.iter().map(|i| i.duration).collect();
    assert!(
        distinct.len() > 100,
        "{} distinct durations",
        distinct.len()
    );
}

#[test]
fn triggers_keep_only_the_listed_ones() {
    let dir = two_days("az19-triggers");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        triggers: vec!["http".into()],
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    assert_eq!(names(&trace), ["f1", "f6"]);
    // f2 (timer), f3 (queue) and f5 (event); f4 is http without a duration row.
    assert_eq!(trace.report.dropped["trigger filtered"], 3);
    assert_eq!(trace.report.dropped["no duration row"], 1);
    assert!(!trace.report.dropped.contains_key("zero average duration"));
}

#[test]
fn window_clips_counts_and_shifts_arrivals() {
    let dir = one_day("az19-window");
    // [90 s, 150 s): minute 2 is partly inside and counts fully; minute 3 too.
    let spec = TraceSpec {
        start: Duration::from_secs(90),
        length: Some(Duration::from_secs(60)),
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    assert_eq!(trace.counts, [2, 3]);
    assert_eq!(trace.span, 60 * SEC);
    // f2 arrives at 60, 80, 100 s and f1 at 120, 150 s: 100 and 120 s are inside.
    let got = events(&replay(trace, spec.window(), 1));
    assert_eq!(got, [(10 * SEC, 1, 20_000), (30 * SEC, 0, 100_000)]);

    // A window on day 2 skips day 1 and starts at its first minute.
    let dir = two_days("az19-window-day2");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        start: Duration::from_mins(1440),
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    assert_eq!(trace.counts, [0, 1, 4]);
    assert_eq!(trace.span, 3 * MIN);
    let got = events(&replay(trace, spec.window(), 1));
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], (60 * SEC, 1, 20_500));

    let dir = one_day("az19-window-late");
    let late = TraceSpec {
        start: Duration::from_mins(3),
        ..at(&dir)
    };
    assert_mentions(&error(&late), &["start 3m", "end of the trace"]);
}

#[test]
fn malformed_rows_are_named_or_skipped() {
    let dir = Scratch::new("az19-bad-rows");
    dir.file(
        &inv_name(1),
        &table(
            INV,
            &[
                "o1,a1,f1,http,1,0,2",
                "o1,a1,f2,timer,0,x,0",
                "o1,a1,f3,http,1,1",
                "o1,a1,f4,http,1,-1,0",
                "o1,a1,f5,http,1,0,0,7",
            ],
        ),
    );
    let durations: Vec<String> = (1..=5)
        .map(|f| format!("o1,a1,f{f},10,1,10,10,10,10,10,10,10,10,10"))
        .collect();
    let durations: Vec<&str> = durations.iter().map(String::as_str).collect();
    dir.file(&dur_name(1), &table(DUR, &durations));
    dir.file(&mem_name(1), &table(MEM, &[&mem("o1,a1", 128, 128, 128)]));

    let message = error(&at(&dir));
    assert_mentions(
        &message,
        &[
            &inv_name(1),
            "line 3",
            "column \"2\"",
            "count \"x\" is not a non-negative whole number",
        ],
    );

    let skip = TraceSpec {
        skip_bad_rows: true,
        ..at(&dir)
    };
    let trace = open(&skip, 1).unwrap();
    assert_eq!(names(&trace), ["f1"]);
    assert_eq!(trace.report.bad_rows, 4);
    let examples = &trace.report.bad_row_examples;
    assert_mentions(
        &examples[1],
        &["line 4", "has 6 fields, but the header has 7"],
    );
    assert_mentions(&examples[2], &["line 5", "column \"2\"", "\"-1\""]);
    assert_mentions(
        &examples[3],
        &["line 6", "has 8 fields, but the header has 7"],
    );
    assert_eq!(trace.report.dropped["duration row without invocations"], 4);
    // The stream skips the same rows, silently.
    let got = replay(trace, skip.window(), 1);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|i| i.function.0 == 0));
}

#[test]
fn malformed_duration_and_memory_rows_name_file_line_column_and_value() {
    let dir = one_day("az19-bad-durations");
    dir.file(
        &dur_name(1),
        &table(
            DUR,
            &[
                "o1,a1,f1,100,3,50,400,50,60,80,100,120,300,400",
                "o1,a1,f2,abc,3,10,30,10,11,15,20,25,29,30",
            ],
        ),
    );
    assert_mentions(
        &error(&at(&dir)),
        &[&dur_name(1), "line 3", "column \"Average\"", "\"abc\""],
    );
    dir.file(
        &dur_name(1),
        &table(DUR, &["o1,a1,f1,100,3,50,400,50,60,80,100,120,300"]),
    );
    assert_mentions(
        &error(&at(&dir)),
        &[
            &dur_name(1),
            "line 2",
            "has 13 fields, but the header has 14",
        ],
    );
    dir.file(
        &dur_name(1),
        &table(DUR, &["o1,a1,f1,100,3,-50,400,50,60,80,100,120,300,400"]),
    );
    assert_mentions(&error(&at(&dir)), &["column \"Minimum\"", "negative"]);

    let dir = one_day("az19-bad-memory");
    dir.file(
        &mem_name(1),
        &table(MEM, &["o1,a1,10,300,300,300,300,400,400,512,512,lots"]),
    );
    assert_mentions(
        &error(&at(&dir)),
        &[
            &mem_name(1),
            "line 2",
            "AverageAllocatedMb_pct100",
            "\"lots\"",
        ],
    );
    let skip = TraceSpec {
        skip_bad_rows: true,
        ..at(&dir)
    };
    let trace = open(&skip, 1);
    // The only memory row was malformed: nothing is left.
    assert_mentions(
        &trace.map(|_| ()).unwrap_err().to_string(),
        &[
            "no function is left",
            "no memory row: 2",
            "malformed rows skipped: 1",
        ],
    );
}

#[test]
fn missing_or_empty_directory_lists_the_expected_files() {
    let dir = Scratch::new("az19-empty-dir");
    let looked_for = [
        "invocations_per_function_md.anon.dNN.csv",
        "function_durations_percentiles.anon.dNN.csv",
        "app_memory_percentiles.anon.dNN.csv",
        "<N>_inv.csv",
        "invocations.csv",
    ];
    let message = error(&at(&dir));
    assert_mentions(&message, &looked_for);
    assert_mentions(&message, &["it is empty"]);
    let missing = TraceSpec {
        path: dir.path().join("nowhere"),
        ..TraceSpec::default()
    };
    let message = error(&missing);
    assert_mentions(&message, &looked_for);
    assert_mentions(&message, &["nowhere"]);
    dir.file("readme.txt", "hello");
    assert_mentions(&error(&at(&dir)), &["it holds readme.txt"]);
}

#[test]
fn wrong_headers_name_the_expected_one() {
    let dir = one_day("az19-headers");
    let expected = "HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440";
    dir.file(&inv_name(1), "Owner,HashApp,HashFunction,Trigger,1,2,3\n");
    assert_mentions(
        &error(&at(&dir)),
        &[&inv_name(1), "no column \"HashOwner\"", expected],
    );
    dir.file(&inv_name(1), "HashOwner,HashApp,HashFunction,Trigger,1,3\n");
    assert_mentions(&error(&at(&dir)), &["skip minute 2", expected]);
    dir.file(&inv_name(1), "HashOwner,HashApp,HashFunction,Trigger\n");
    assert_mentions(&error(&at(&dir)), &["no minute columns", expected]);
    dir.file(
        &inv_name(1),
        "HashOwner,HashApp,HashFunction,1,2\no,a,f,1,1\n",
    );
    let triggers = TraceSpec {
        triggers: vec!["http".into()],
        ..at(&dir)
    };
    assert_mentions(&error(&triggers), &["no column \"Trigger\"", expected]);

    let dir = one_day("az19-headers-durations");
    dir.file(&dur_name(1), "HashOwner,HashApp,HashFunction,Mean\n");
    assert_mentions(
        &error(&at(&dir)),
        &[
            &dur_name(1),
            "no column \"Average\"",
            "percentile_Average_100",
        ],
    );
    let dir = one_day("az19-headers-memory");
    dir.file(
        &mem_name(1),
        "HashOwner,HashApp,AverageAllocatedMb\no1,a1,128\n",
    );
    let pct = TraceSpec {
        memory_percentile: MemoryPercentile::Pct(5),
        ..at(&dir)
    };
    assert_mentions(
        &error(&pct),
        &[
            &mem_name(1),
            "no column \"AverageAllocatedMb_pct5\"",
            "SampleCount",
        ],
    );
}

#[test]
fn columns_are_found_by_name_in_any_order() {
    // The same day as `one_day`, with minute columns out of order and apart, and extra
    // columns; rows and values follow the header.
    let dir = one_day("az19-any-order");
    dir.file(
        &inv_name(1),
        &table(
            "3,Trigger,note,HashFunction,1,HashApp,HashOwner,2",
            &["2,http,x,f1,1,a1,o1,0", "0,timer,y,f2,0,a1,o1,3"],
        ),
    );
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(names(&trace), ["f1", "f2"]);
    assert_eq!(trace.counts, [3, 3]);
    let got = events(&replay(trace, at(&dir).window(), 1));
    let arrivals: Vec<(Time, u32)> = got.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        arrivals,
        [
            (0, 0),
            (60 * SEC, 1),
            (80 * SEC, 1),
            (100 * SEC, 1),
            (120 * SEC, 0),
            (150 * SEC, 0)
        ]
    );
    // Errors still name the column by its header.
    dir.file(
        &inv_name(1),
        &table(
            "3,Trigger,note,HashFunction,1,HashApp,HashOwner,2",
            &["2,http,x,f1,1,a1,o1,0", "0,timer,y,f2,0,a1,o1,3.5"],
        ),
    );
    assert_mentions(
        &error(&at(&dir)),
        &["line 3", "column \"2\"", "count \"3.5\""],
    );
}

#[test]
fn zero_blocks_and_wide_counts_parse_exactly() {
    // A full day: long runs of zeros (skipped in blocks), single digits and wide counts, at
    // every alignment of the block test.
    let header: Vec<String> = (1..=1440).map(|k| k.to_string()).collect();
    let mut expected = [0u64; 3];
    let rows: Vec<String> = (0..3u64)
        .map(|f| {
            let cells: Vec<String> = (0..1440u64)
                .map(|k| {
                    let n = match (k + f) % 37 {
                        0 => 7,
                        5 => 1_234 + k,
                        9 if f == 2 => 4_294_967_295,
                        _ => 0,
                    };
                    expected[f as usize] += n;
                    n.to_string()
                })
                .collect();
            format!("o,a,f{f},http,{}", cells.join(","))
        })
        .collect();
    let dir = Scratch::new("az19-zero-blocks");
    dir.file(
        &inv_name(1),
        &table(
            &format!(
                "HashOwner,HashApp,HashFunction,Trigger,{}",
                header.join(",")
            ),
            &rows.iter().map(String::as_str).collect::<Vec<_>>(),
        ),
    );
    let durations: Vec<String> = (0..3)
        .map(|f| format!("o,a,f{f},10,1,10,10,10,10,10,10,10,10,10"))
        .collect();
    dir.file(
        &dur_name(1),
        &table(
            DUR,
            &durations.iter().map(String::as_str).collect::<Vec<_>>(),
        ),
    );
    dir.file(&mem_name(1), &table(MEM, &[&mem("o,a", 128, 128, 128)]));
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(trace.counts, expected);
    // The stream sees the same cells: count the first hour's of the functions with moderate
    // counts.
    let hour = Window {
        start: 0,
        end: 60 * MIN,
    };
    let spec = TraceSpec {
        length: Some(Duration::from_mins(60)),
        ..at(&dir)
    };
    let in_hour = open(&spec, 1).unwrap().counts;
    let got: Vec<Invocation> = open(&at(&dir), 1)
        .unwrap()
        .source
        .stream(StreamRequest {
            keep: vec![true, true, false],
            scale: 1.0,
            window: hour,
            seed: 1,
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(in_hour[2] > u64::from(u32::MAX));
    for f in 0..2u32 {
        let n = got.iter().filter(|i| i.function.0 == f).count() as u64;
        assert_eq!(n, in_hour[f as usize], "function {f}");
    }
}

#[test]
fn odd_files_are_errors_not_panics() {
    let dir = one_day("az19-odd");
    dir.file(&inv_name(1), "");
    assert_mentions(&error(&at(&dir)), &[&inv_name(1), "is empty"]);
    dir.file(&inv_name(1), &format!("{INV}\n"));
    assert_mentions(&error(&at(&dir)), &["no function is left"]);
    fs::write(
        dir.path().join(inv_name(1)),
        [INV.as_bytes(), b"\no1,a1,f\xff1,http,1,0,2\n"].concat(),
    )
    .unwrap();
    assert_mentions(
        &error(&at(&dir)),
        &["line 2", "column \"HashFunction\"", "not valid UTF-8"],
    );
    fs::write(dir.path().join(inv_name(1)), b"\xff\xfe,1\n").unwrap();
    assert_mentions(&error(&at(&dir)), &["header is not valid UTF-8"]);
    dir.file(
        &inv_name(1),
        &format!("{INV}\no1,a1,f1,http,99999999999,0,0\n"),
    );
    assert_mentions(&error(&at(&dir)), &["count \"99999999999\" is larger"]);
    dir.file(&dur_name(1), "");
    dir.file(&inv_name(1), &format!("{INV}\no1,a1,f1,http,1,0,2\n"));
    assert_mentions(&error(&at(&dir)), &[&dur_name(1), "is empty"]);

    // A byte-order mark, CRLF line ends, quoted hashes, a blank line and no final newline.
    let dir = one_day("az19-crlf");
    dir.file(
        &inv_name(1),
        "\u{feff}HashOwner,HashApp,HashFunction,Trigger,1,2,3\r\n\"o1\",a1,f1,http,1,0,2\r\n\r\no1,a1,f2,timer,0,3,0",
    );
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(names(&trace), ["f1", "f2"]);
    assert_eq!(trace.counts, [3, 3]);
    assert_eq!(replay(trace, at(&dir).window(), 1).len(), 6);
}

#[test]
fn same_seed_same_stream() {
    let dir = two_days("az19-determinism");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        arrivals: ArrivalMode::Uniform,
        durations: DurationMode::Lognormal,
        ..at(&dir)
    };
    let run = |seed| replay(open(&spec, 1).unwrap(), spec.window(), seed);
    let a = run(9);
    assert_eq!(a.len(), 11);
    assert_eq!(a, run(9));
    assert_ne!(a, run(10));
}

#[test]
fn stream_keeps_only_requested_functions() {
    let dir = two_days("az19-keep");
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    let got: Vec<Invocation> = trace
        .source
        .stream(StreamRequest {
            keep: vec![false, true, false],
            scale: 1.0,
            window: spec.window(),
            seed: 1,
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|i| i.function.0 == 1));
}

#[test]
fn written_days_read_back() {
    let dir = Scratch::new("az19-write-day");
    let bytes = write_day(dir.path(), 1, 300, 5).unwrap();
    let path = dir.path().join(inv_name(1));
    assert_eq!(bytes, fs::metadata(&path).unwrap().len());
    let trace = open(&at(&dir), 1).unwrap();
    assert_eq!(trace.catalog.functions.len(), 300);
    let apps = trace.catalog.apps.len();
    assert!((60..=200).contains(&apps), "{apps} apps");
    assert!(
        trace.report.dropped.is_empty(),
        "{:?}",
        trace.report.dropped
    );
    let total: u64 = trace.counts.iter().sum();
    let idle = trace.counts.iter().filter(|&&c| c < 1440).count();
    assert!(total > 10_000, "{total} invocations");
    assert!(
        idle > 200,
        "{idle} functions invoked less than once a minute"
    );
    assert_eq!(trace.span, 1440 * MIN);

    // Deterministic for a seed; a second day has the same functions.
    let again = Scratch::new("az19-write-day-again");
    write_day(again.path(), 1, 300, 5).unwrap();
    for name in [inv_name(1), dur_name(1), mem_name(1)] {
        assert_eq!(
            fs::read(dir.path().join(&name)).unwrap(),
            fs::read(again.path().join(&name)).unwrap(),
            "{name}"
        );
    }
    write_day(dir.path(), 2, 300, 5).unwrap();
    let spec = TraceSpec {
        days: Some("1-2".parse().unwrap()),
        ..at(&dir)
    };
    let trace = open(&spec, 1).unwrap();
    assert_eq!(trace.catalog.functions.len(), 300);
    assert!(
        trace.report.dropped.is_empty(),
        "{:?}",
        trace.report.dropped
    );
    assert_eq!(trace.span, 2 * 1440 * MIN);
}

#[test]
fn out_of_order_durations_and_memory_are_bad_rows_naming_both_columns() {
    let dir = one_day("az19-order");
    let bad_duration = |row: &str, needles: &[&str]| {
        dir.file(
            &dur_name(1),
            &table(
                DUR,
                &["o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400", row],
            ),
        );
        let message = error(&at(&dir));
        assert_mentions(&message, &[&dur_name(1), "line 3"]);
        assert_mentions(&message, needles);
    };
    bad_duration(
        "o1,a1,f2,20,3,10.0,30.0,10,11,25,20,25,29,30",
        &[
            "column \"percentile_Average_25\" (25)",
            "column \"percentile_Average_50\" (20)",
        ],
    );
    bad_duration(
        "o1,a1,f2,20,3,10.0,30.0,10,11,15,20,25,29,28",
        &[
            "percentile_Average_99\" (29)",
            "percentile_Average_100\" (28)",
        ],
    );
    bad_duration(
        "o1,a1,f2,20,3,40.0,30.0,10,11,15,20,25,29,30",
        &["column \"Minimum\" (40)", "column \"Maximum\" (30)"],
    );
    // Past a year, which would overflow the engine's clock once in microseconds.
    bad_duration(
        "o1,a1,f2,1e300,3,10.0,30.0,10,11,15,20,25,29,30",
        &["column \"Average\"", "longer than the longest duration"],
    );
    bad_duration(
        "o1,a1,f2,20,3,10.0,1e300,10,11,15,20,25,29,30",
        &["column \"Maximum\": 1e300 ms", "a year"],
    );
    // Skipped as bad rows on request, whatever the duration model.
    for durations in [DurationMode::Faascache, DurationMode::Average] {
        let spec = TraceSpec {
            skip_bad_rows: true,
            durations,
            ..at(&dir)
        };
        let trace = open(&spec, 1).unwrap();
        assert_eq!(names(&trace), ["f1"]);
        assert_eq!(trace.report.bad_rows, 1);
    }

    let dir = one_day("az19-order-memory");
    dir.file(
        &mem_name(1),
        &table(MEM, &["o1,a1,10,300,300,300,300,400,399,512,512,512"]),
    );
    assert_mentions(
        &error(&at(&dir)),
        &[
            &mem_name(1),
            "line 2",
            "column \"AverageAllocatedMb_pct50\" (400)",
            "column \"AverageAllocatedMb_pct75\" (399)",
        ],
    );
    // Only the percentile columns a file has are compared.
    dir.file(
        &mem_name(1),
        "HashOwner,HashApp,AverageAllocatedMb_pct100,AverageAllocatedMb_pct1\no1,a1,512,600\n",
    );
    assert_mentions(
        &error(&at(&dir)),
        &[
            "\"AverageAllocatedMb_pct1\" (600)",
            "\"AverageAllocatedMb_pct100\" (512)",
        ],
    );
    dir.file(
        &mem_name(1),
        "HashOwner,HashApp,AverageAllocatedMb_pct100\no1,a1,512\n",
    );
    assert_eq!(memory(&open(&at(&dir), 1).unwrap()), [256, 256]);
}

#[test]
fn minute_columns_are_minutes_of_the_day() {
    let dir = one_day("az19-minute-columns");
    for column in [
        "minute_99999999",
        "1441",
        "0",
        "minute_0",
        "minute_x",
        "minute_",
    ] {
        dir.file(
            &inv_name(1),
            &format!(
                "HashOwner,HashApp,HashFunction,Trigger,1,2,3,{column}\no1,a1,f1,http,1,0,2,1\n"
            ),
        );
        assert_mentions(
            &error(&at(&dir)),
            &[
                &inv_name(1),
                &format!("column {column:?} is not a minute of the day"),
                "1 to 1440",
            ],
        );
    }
    // The In-Vitro names too, and a full day is fine.
    let header: Vec<String> = (1..=1440).map(|k| format!("minute_{k}")).collect();
    dir.file(
        &inv_name(1),
        &format!(
            "HashOwner,HashApp,HashFunction,Trigger,{},minute_1441\n",
            header.join(",")
        ),
    );
    assert_mentions(&error(&at(&dir)), &["\"minute_1441\""]);
    dir.file(
        &inv_name(1),
        &format!(
            "HashOwner,HashApp,HashFunction,Trigger,{}\no1,a1,f1,http,{}\n",
            header.join(","),
            vec!["1"; 1440].join(",")
        ),
    );
    assert_eq!(open(&at(&dir), 1).unwrap().counts, [1440]);
}

#[cfg(unix)]
#[test]
fn devices_directories_and_broken_links_are_named_not_missing() {
    use std::os::unix::fs::symlink;
    // In-Vitro names, looked up by name.
    let dir = Scratch::new("az19-kinds-invitro");
    let invitro = |dir: &Scratch| {
        dir.file("7_inv.csv", &table(INV, &["o1,a1,f1,http,1,0,2"]));
        dir.file(
            "7_run.csv",
            &table(DUR, &["o1,a1,f1,100,3,50.0,400.0,50,60,80,100,120,300,400"]),
        );
    };
    invitro(&dir);
    fs::remove_file(dir.path().join("7_run.csv")).unwrap();
    symlink("/dev/zero", dir.path().join("7_run.csv")).unwrap();
    assert_mentions(
        &error(&at(&dir)),
        &[
            "7_run.csv",
            "is a device (a link to /dev/zero), not a regular file",
        ],
    );
    fs::remove_file(dir.path().join("7_run.csv")).unwrap();
    fs::create_dir(dir.path().join("7_run.csv")).unwrap();
    assert_mentions(&error(&at(&dir)), &["7_run.csv", "is a directory"]);
    // An optional memory file too: it is not taken as missing.
    let dir = Scratch::new("az19-kinds-memory");
    invitro(&dir);
    fs::create_dir(dir.path().join("7_mem.csv")).unwrap();
    assert_mentions(&error(&at(&dir)), &["7_mem.csv", "is a directory"]);
    let dir = Scratch::new("az19-kinds-broken");
    invitro(&dir);
    fs::remove_file(dir.path().join("7_inv.csv")).unwrap();
    symlink("nowhere.csv", dir.path().join("7_inv.csv")).unwrap();
    assert_mentions(
        &error(&at(&dir)),
        &["7_inv.csv", "is a link to nowhere.csv that does not exist"],
    );

    // The original layout, found by listing the directory.
    for (name, target) in [
        (inv_name(1), "/dev/zero"),
        (dur_name(1), "/dev/null"),
        (mem_name(1), "/"),
    ] {
        let dir = one_day("az19-kinds-original");
        fs::remove_file(dir.path().join(&name)).unwrap();
        symlink(target, dir.path().join(&name)).unwrap();
        let what = if target == "/" {
            "a directory"
        } else {
            "a device"
        };
        assert_mentions(
            &error(&at(&dir)),
            &[
                &name,
                &format!("is {what} (a link to {target}), not a regular file"),
            ],
        );
    }
}
