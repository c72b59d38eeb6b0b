//! Byte-identity of results: the summary JSON of the default run and of every `lambdasim bench`
//! scenario, compared against digests committed in `tests/fixtures/digests.txt`.
//!
//! A change meant only to make the simulator faster must not move a single byte of any of these
//! summaries. A change that is meant to alter results (a bug fix, a new model detail) updates the
//! file on purpose: `LAMBDASIM_BLESS=1 cargo test digests` rewrites it, and the diff of the file
//! shows which summaries moved.

use lambdasim::bench::{KEEP_ALIVES, SCHEDULERS, scenario_with};
use lambdasim::scenario::{RawScenario, Scenario};
use rayon::prelude::*;
use workloads::Duration;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/digests.txt");

/// FNV-1a, 64 bits: enough to tell two summaries apart, and no dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn summary_json(scenario: &Scenario) -> String {
    let result = lambdasim::run(scenario, None).expect("the scenario runs");
    analysis::to_json(&result.summary)
}

/// (name, scenario) of every run the digests cover. Bench scenarios are run shorter than
/// `lambdasim bench` runs them, so that the test stays quick in a debug build. Their workers have
/// memory to spare, so every policy is also run on `stress` with 768 MB workers, where sandboxes
/// are evicted all the time.
fn scenarios() -> Vec<(String, Scenario)> {
    let mut out = vec![(
        "default".to_string(),
        RawScenario::default_scenario().validate().expect("valid"),
    )];
    let short = Duration::from_mins(10);
    for name in ["azure400", "stress"] {
        for packages in [false, true] {
            let s = scenario_with(name, short, None, None, packages)
                .and_then(RawScenario::validate)
                .expect("valid");
            let label = format!("{name} 10m{}", if packages { " packages" } else { "" });
            out.push((label, s));
        }
    }
    let rows: Vec<(&str, &str)> = KEEP_ALIVES
        .iter()
        .map(|k| (*k, "least-loaded"))
        .chain(SCHEDULERS.iter().map(|s| ("ttl,idle=10m", *s)))
        .collect();
    // Every policy row on azure400, and again on small workers under eviction pressure.
    let settings: [(&str, Duration, Option<u64>, &str); 2] = [
        ("azure400", Duration::from_mins(30), None, "azure400 30m"),
        (
            "stress",
            Duration::from_mins(2),
            Some(768),
            "stress 2m 768MB",
        ),
    ];
    for (name, length, memory_mb, label) in settings {
        for &(keep_alive, scheduler) in &rows {
            let s = scenario_with(name, length, Some(keep_alive), Some(scheduler), false)
                .and_then(|mut raw| {
                    if let Some(mb) = memory_mb {
                        raw.cluster.memory_mb = mb;
                    }
                    raw.validate()
                })
                .expect("valid");
            out.push((format!("{label} {keep_alive} {scheduler}"), s));
        }
    }
    out
}

#[test]
fn summaries_match_the_committed_digests() {
    let actual: Vec<(String, u64)> = scenarios()
        .into_par_iter()
        .map(|(name, scenario)| {
            let digest = fnv1a(summary_json(&scenario).as_bytes());
            (name, digest)
        })
        .collect();
    let text: String = actual
        .iter()
        .map(|(name, digest)| format!("{digest:016x}  {name}\n"))
        .collect();
    if std::env::var_os("LAMBDASIM_BLESS").is_some() {
        std::fs::write(FIXTURE, &text).expect("write the digests");
        return;
    }
    let committed = std::fs::read_to_string(FIXTURE).expect("tests/fixtures/digests.txt exists");
    let differ: Vec<String> = committed
        .lines()
        .zip(text.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  committed {a}\n  now       {b}"))
        .collect();
    assert!(
        differ.is_empty() && committed.lines().count() == text.lines().count(),
        "summaries changed ({} of {} differ; LAMBDASIM_BLESS=1 rewrites the file if the change is \
         meant to alter results):\n{}",
        differ.len(),
        actual.len(),
        differ.join("\n")
    );
}
