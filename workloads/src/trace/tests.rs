use super::*;

const MIN: Time = MICROS_PER_MIN;
const SEC: Time = MICROS_PER_SEC;

fn request(functions: usize, scale: f64, window: Window) -> StreamRequest {
    StreamRequest {
        keep: vec![true; functions],
        scale,
        window,
        seed: 42,
    }
}

const ALL_TIME: Window = Window {
    start: 0,
    end: Time::MAX,
};

fn minutes(list: Vec<(u64, Vec<(u32, u32)>)>) -> MinuteStream {
    Box::new(list.into_iter().map(|(minute, cells)| {
        Ok(MinuteCounts {
            minute,
            cells: cells.into_iter().map(|(f, n)| (FunctionId(f), n)).collect(),
        })
    }))
}

fn replay(
    mode: ArrivalMode,
    list: Vec<(u64, Vec<(u32, u32)>)>,
    req: StreamRequest,
) -> Vec<Invocation> {
    let models = vec![DurationModel::Fixed(5); req.keep.len()];
    CountReplay::new(minutes(list), mode, models, req)
        .collect::<Result<_, _>>()
        .unwrap()
}

fn arrivals(inv: &[Invocation]) -> Vec<Time> {
    inv.iter().map(|i| i.arrival).collect()
}

#[test]
fn even_spreads_a_minute_equally() {
    // 3 invocations in minute 2 (index 1) arrive at 60, 80 and 100 s.
    let out = replay(
        ArrivalMode::Even,
        vec![(1, vec![(0, 3)])],
        request(1, 1.0, ALL_TIME),
    );
    assert_eq!(arrivals(&out), [60 * SEC, 80 * SEC, 100 * SEC]);
    assert!(out.iter().all(|i| i.duration == 5));
}

#[test]
fn functions_of_one_minute_are_merged_in_time_order() {
    let out = replay(
        ArrivalMode::Even,
        vec![(0, vec![(1, 2), (0, 3)]), (2, vec![(1, 1)])],
        request(2, 1.0, ALL_TIME),
    );
    let got: Vec<(Time, u32)> = out.iter().map(|i| (i.arrival, i.function.0)).collect();
    assert_eq!(
        got,
        [
            (0, 0),
            (0, 1),
            (20 * SEC, 0),
            (30 * SEC, 1),
            (40 * SEC, 0),
            (120 * SEC, 1)
        ]
    );
}

#[test]
fn uniform_keeps_the_count_inside_the_minute() {
    let out = replay(
        ArrivalMode::Uniform,
        vec![(3, vec![(0, 1000)])],
        request(1, 1.0, ALL_TIME),
    );
    assert_eq!(out.len(), 1000);
    assert!(out.iter().all(|i| (3 * MIN..4 * MIN).contains(&i.arrival)));
    assert!(out.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    // Spread over the whole minute, not piled at its start.
    let late = out
        .iter()
        .filter(|i| i.arrival >= 3 * MIN + 30 * SEC)
        .count();
    assert!(
        (400..600).contains(&late),
        "{late} of 1000 in the second half"
    );
}

#[test]
fn poisson_count_varies_around_the_trace_count() {
    let list = (0..200).map(|m| (m, vec![(0, 50)])).collect();
    let out = replay(ArrivalMode::Poisson, list, request(1, 1.0, ALL_TIME));
    // 200 minutes x 50: Poisson total with mean 10,000 and sd 100.
    assert!((9_600..10_400).contains(&out.len()), "{}", out.len());
    assert_ne!(out.len(), 10_000);
    let mut per_minute = vec![0u32; 200];
    for i in &out {
        per_minute[(i.arrival / MIN) as usize] += 1;
    }
    assert!(
        per_minute.iter().any(|&n| n != 50),
        "counts vary per minute"
    );
}

#[test]
fn equidistant_shifted_keeps_the_spacing() {
    let out = replay(
        ArrivalMode::EquidistantShifted,
        vec![(0, vec![(0, 4)])],
        request(1, 1.0, ALL_TIME),
    );
    let t = arrivals(&out);
    assert_eq!(t.len(), 4);
    assert!(t[0] < 15 * SEC, "offset below one gap: {}", t[0]);
    for w in t.windows(2) {
        let gap = w[1] - w[0];
        assert!((15 * SEC - 1..=15 * SEC + 1).contains(&gap), "{gap}");
    }
    assert_ne!(t[0], 0, "shifted, not aligned to the minute");
}

#[test]
fn scaling_counts_rounds_stochastically() {
    let list: Vec<_> = (0..100).map(|m| (m, vec![(0, 3)])).collect();
    let half = replay(ArrivalMode::Even, list.clone(), request(1, 0.5, ALL_TIME));
    // 1.5 per minute: 1 or 2 each minute, 150 in expectation.
    assert!((120..180).contains(&half.len()), "{}", half.len());
    let double = replay(ArrivalMode::Even, list, request(1, 2.0, ALL_TIME));
    assert_eq!(double.len(), 600);
}

#[test]
fn window_clips_and_shifts() {
    let window = Window {
        start: 70 * SEC,
        end: 130 * SEC,
    };
    // Minute 1 at 60, 80, 100 s; minute 2 at 120, 150 s.
    let out = replay(
        ArrivalMode::Even,
        vec![
            (0, vec![(0, 1)]),
            (1, vec![(0, 3)]),
            (2, vec![(0, 2)]),
            (5, vec![(0, 1)]),
        ],
        request(1, 1.0, window),
    );
    assert_eq!(arrivals(&out), [10 * SEC, 30 * SEC, 50 * SEC]);
}

#[test]
fn unkept_functions_are_left_out() {
    let mut req = request(2, 1.0, ALL_TIME);
    req.keep[1] = false;
    let out = replay(ArrivalMode::Even, vec![(0, vec![(0, 1), (1, 5)])], req);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].function, FunctionId(0));
}

#[test]
fn count_replay_is_deterministic() {
    let list: Vec<_> = (0..20).map(|m| (m, vec![(0, 7), (1, 3)])).collect();
    for mode in ArrivalMode::ALL {
        let a = replay(mode, list.clone(), request(2, 1.3, ALL_TIME));
        let b = replay(mode, list.clone(), request(2, 1.3, ALL_TIME));
        assert_eq!(a, b, "{}", mode.name());
    }
}

fn events(list: &[(u32, Time)]) -> InvocationStream {
    let v: Vec<_> = list
        .iter()
        .map(|&(f, arrival)| {
            Ok(Invocation {
                function: FunctionId(f),
                arrival,
                duration: 1,
            })
        })
        .collect();
    Box::new(v.into_iter())
}

#[test]
fn event_shaper_windows_and_filters() {
    let mut req = request(2, 1.0, Window { start: 10, end: 40 });
    req.keep[1] = false;
    let out: Vec<_> = EventShaper::new(
        events(&[(0, 5), (0, 10), (1, 20), (0, 39), (0, 40), (0, 50)]),
        req,
    )
    .collect::<Result<_, _>>()
    .unwrap();
    assert_eq!(arrivals(&out), [0, 29]);
}

#[test]
fn event_shaper_thins_and_replicates_in_order() {
    let input: Vec<(u32, Time)> = (0..1000).map(|i| (0, i * SEC)).collect();
    let thin: Vec<_> = EventShaper::new(events(&input), request(1, 0.25, ALL_TIME))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!((200..300).contains(&thin.len()), "{}", thin.len());
    let more: Vec<_> = EventShaper::new(events(&input), request(1, 2.5, ALL_TIME))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!((2_400..2_600).contains(&more.len()), "{}", more.len());
    assert!(more.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    // Every original is still there.
    assert!(
        input
            .iter()
            .all(|&(_, t)| more.iter().any(|i| i.arrival == t))
    );
    let again: Vec<_> = EventShaper::new(events(&input), request(1, 2.5, ALL_TIME))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(more, again);
}

#[test]
fn event_shaper_passes_errors_on_and_stops() {
    let input: InvocationStream = Box::new(
        vec![
            Ok(Invocation {
                function: FunctionId(0),
                arrival: 1,
                duration: 1,
            }),
            Err(WorkloadError::Parameter("bad row".into())),
        ]
        .into_iter(),
    );
    let mut s = EventShaper::new(input, request(1, 1.0, ALL_TIME));
    assert!(s.next().unwrap().is_ok());
    assert!(s.next().unwrap().is_err());
    assert!(s.next().is_none());
}

fn stats() -> DurationStats {
    DurationStats {
        average: 100.0,
        minimum: 10.0,
        maximum: 900.0,
        percentiles: [10.0, 12.0, 40.0, 60.0, 120.0, 800.0, 900.0],
    }
}

#[test]
fn duration_modes() {
    let mut rng = stream(1, 1);
    let (m, init) = stats().model(DurationMode::Average);
    assert_eq!((m, init), (DurationModel::Fixed(100_000), None));
    let (m, init) = stats().model(DurationMode::Faascache);
    assert_eq!((m, init), (DurationModel::Fixed(100_000), Some(800_000)));
    // FaasCache cuts both to whole milliseconds: int(100.9) = 100, int(900.7) = 900.
    let fractional = DurationStats {
        average: 100.9,
        maximum: 900.7,
        ..stats()
    };
    let (m, init) = fractional.model(DurationMode::Faascache);
    assert_eq!((m, init), (DurationModel::Fixed(100_000), Some(800_000)));

    let (m, _) = stats().model(DurationMode::Percentiles);
    let draws: Vec<Time> = (0..20_000).map(|_| m.sample(&mut rng)).collect();
    assert!(draws.iter().all(|&d| (10_000..=900_000).contains(&d)));
    let below_median = draws.iter().filter(|&&d| d < 60_000).count() as f64 / 20_000.0;
    assert!((0.48..0.52).contains(&below_median), "{below_median}");
    // Between p25 and p75 linearly: half the draws fall in [40, 120] ms.
    let middle = draws
        .iter()
        .filter(|&&d| (40_000..=120_000).contains(&d))
        .count() as f64
        / 20_000.0;
    assert!((0.48..0.52).contains(&middle), "{middle}");

    let (m, _) = stats().model(DurationMode::Lognormal);
    let DurationModel::LogNormal { mu, sigma, .. } = m else {
        panic!("log-normal expected, got {m:?}");
    };
    assert!((mu - 60_000f64.ln()).abs() < 1e-9);
    assert!((sigma - (2.0 * (100.0f64 / 60.0).ln()).sqrt()).abs() < 1e-9);
    let draws: Vec<Time> = (0..20_000).map(|_| m.sample(&mut rng)).collect();
    assert!(draws.iter().all(|&d| (10_000..=900_000).contains(&d)));
}

#[test]
fn option_parsing() {
    assert_eq!(
        "3".parse::<DayRange>().unwrap(),
        DayRange { first: 3, last: 3 }
    );
    assert_eq!(
        "1-14".parse::<DayRange>().unwrap(),
        DayRange { first: 1, last: 14 }
    );
    assert!(
        "5-2"
            .parse::<DayRange>()
            .unwrap_err()
            .contains("ends before")
    );
    assert!(
        "0".parse::<DayRange>()
            .unwrap_err()
            .contains("out of range")
    );
    assert_eq!(
        "pct50".parse::<MemoryPercentile>().unwrap().column(),
        "AverageAllocatedMb_pct50"
    );
    assert!(
        "pct60"
            .parse::<MemoryPercentile>()
            .unwrap_err()
            .contains("pct100")
    );
    let (f, p) = parse_location("azure2019:some/dir").unwrap();
    assert_eq!((f, p), (TraceFormat::Azure2019, PathBuf::from("some/dir")));
    assert!(
        parse_location("azure2019")
            .unwrap_err()
            .contains("FORMAT:PATH")
    );
    assert!(
        parse_location("az:x")
            .unwrap_err()
            .contains("unknown trace format")
    );
}

#[test]
fn options_that_do_not_apply_are_refused() {
    let spec = TraceSpec {
        path: "x".into(),
        days: Some(DayRange { first: 1, last: 2 }),
        ..TraceSpec::default()
    };
    assert!(spec.validate(TraceFormat::Azure2019).is_ok());
    let err = spec
        .validate(TraceFormat::Azure2021)
        .unwrap_err()
        .to_string();
    assert!(err.contains("days applies to azure2019"), "{err}");
    let spec = TraceSpec {
        path: "x".into(),
        triggers: vec!["cron".into()],
        ..TraceSpec::default()
    };
    let err = spec
        .validate(TraceFormat::Azure2019)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown trigger \"cron\""), "{err}");
    let spec = TraceSpec {
        path: "x".into(),
        rate: Some(RateScale::Multiply(0.0)),
        ..TraceSpec::default()
    };
    assert!(spec.validate(TraceFormat::Native).is_err());
}

fn catalog() -> Catalog {
    let f = |name: &str, app: u32, memory_mb: u32, init: Option<Time>| Function {
        name: name.into(),
        app: AppId(app),
        memory_mb,
        concurrency: None,
        init,
        packages: Vec::new(),
    };
    Catalog {
        packages: Default::default(),
        functions: vec![
            f("f0", 0, 100, None),
            f("f1", 1, 200, Some(5)),
            f("f2", 0, 300, Some(9)),
            f("f3", 2, 400, None),
        ],
        apps: ["a0", "a1", "a2"]
            .map(|n| crate::App { name: n.into() })
            .to_vec(),
    }
}

#[test]
fn reduce_keeps_functions_or_apps_densely() {
    let keep = [true, false, true, true];
    let (c, map) = reduce(
        &catalog(),
        &keep,
        Granularity::Function,
        &[1000, 2000, 3000],
    );
    let names: Vec<_> = c.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["f0", "f2", "f3"]);
    assert_eq!(c.apps.len(), 2);
    assert_eq!(c.functions[2].app, AppId(1));
    assert_eq!(map[..], [0, u32::MAX, 1, 2]);

    let (c, map) = reduce(&catalog(), &keep, Granularity::App, &[1000, 2000, 3000]);
    let units: Vec<_> = c
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.memory_mb, f.init))
        .collect();
    assert_eq!(units, [("a0", 1000, Some(9)), ("a2", 3000, None)]);
    assert_eq!(map[..], [0, u32::MAX, 0, 1]);
}

#[test]
fn memory_split_and_per_function() {
    let mut c = catalog();
    assign_memory(&mut c, &[513, 200, 64], AppMemory::Split);
    let mb: Vec<u32> = c.functions.iter().map(|f| f.memory_mb).collect();
    assert_eq!(mb, [257, 200, 257, 64]);
    assign_memory(&mut c, &[513, 200, 64], AppMemory::PerFunction);
    let mb: Vec<u32> = c.functions.iter().map(|f| f.memory_mb).collect();
    assert_eq!(mb, [513, 200, 513, 64]);
}

#[test]
fn memory_fallback_draws() {
    assert_eq!(
        MemoryFallback::Fixed { mb: 300 }.draw(3, 1),
        [300, 300, 300]
    );
    let burr = MemoryFallback::default();
    let a = burr.draw(1000, 5);
    assert_eq!(a, burr.draw(1000, 5));
    assert!(a.iter().all(|&m| (16..=4096).contains(&m)));
    let mut sorted = a.clone();
    sorted.sort_unstable();
    // The Burr fit's median is about 150 MB (Azure 2019 app memory).
    assert!((100..220).contains(&sorted[500]), "median {}", sorted[500]);
}

#[test]
fn names_stay_unique() {
    let mut n = Names::default();
    assert_eq!(n.unique("f", "a"), "f");
    assert_eq!(n.unique("f", "b"), "b/f");
    assert_eq!(n.unique("f", "b"), "b/f#2");
}
