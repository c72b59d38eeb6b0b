//! Peer-exact presets: lambdasim's counts against the counts the peers' own simulators gave on
//! the same traces. The fixtures under `tests/fixtures/<peer>/` are small traces and the peer's
//! counts; `scripts/<peer>/README.md` says how they were made, with the exact commands.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cli::{lambdasim, stderr};
use crate::traces::json;

fn fixtures(peer: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(peer)
}

/// The rows of a fixture's `counts.csv`, each as (column, value) pairs.
fn counts(path: &Path) -> Vec<Vec<(String, String)>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn field<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    row.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {name} in {row:?}"))
}

/// The `--keep-alive` a researcher gives for each of FaasCache's policies.
fn faascache_keep_alive(policy: &str) -> &'static str {
    match policy {
        "TTL" => "ttl,idle=10m,lazy=true",
        "LRU" => "greedy-dual,variant=lru",
        "GD" => "greedy-dual,variant=gd",
        "FREQ" => "greedy-dual,variant=freq",
        "SIZE" => "greedy-dual,variant=size",
        "LND" => "greedy-dual,variant=landlord",
        "HIST" => "greedy-dual,variant=hist",
        other => panic!("unknown FaasCache policy {other}"),
    }
}

/// (warm, cold, dropped) from `lambdasim run --json`.
fn starts(args: &[&str]) -> (u64, u64, u64) {
    let s = json(&lambdasim(args));
    let kind = |k: &str| s["starts"]["by_kind"][k].as_u64().unwrap_or(0);
    (
        kind("warm"),
        kind("cold"),
        s["invocations"]["dropped"].as_u64().expect("dropped"),
    )
}

#[test]
fn faascache_preset_gives_faascache_own_counts() {
    // FaasCache's seven deterministic policies at four memory sizes on each slice: lambdasim's
    // warm and cold starts and drops must equal FaasCache's hits, misses and drops, every one.
    let dir = fixtures("faascache");
    let rows = counts(&dir.join("counts.csv"));
    let slices: std::collections::BTreeSet<&str> = rows.iter().map(|r| field(r, "trace")).collect();
    assert!(
        rows.len() >= 7 * 4 * 2 && slices.len() >= 2,
        "{} rows",
        rows.len()
    );
    let mut wrong = Vec::new();
    for row in &rows {
        let trace = format!("native:{}", dir.join(field(row, "trace")).display());
        let policy = field(row, "policy");
        let memory = field(row, "memory_mb");
        let got = starts(&[
            "run",
            "--preset",
            "faascache",
            "--trace",
            &trace,
            "--memory-mb",
            memory,
            "--keep-alive",
            faascache_keep_alive(policy),
            "--json",
        ]);
        let number = |name: &str| field(row, name).parse::<u64>().unwrap();
        let want = (number("hits"), number("misses"), number("dropped"));
        if got != want {
            wrong.push(format!(
                "{} {policy} {memory} MB: lambdasim (warm, cold, dropped) {got:?}, FaasCache {want:?}",
                field(row, "trace")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}

/// The `--keep-alive` for each of the DSLab example's keep-alive settings.
fn dslab_keep_alive(setting: &str) -> &'static str {
    match setting {
        "fixed-20m" => "ttl,idle=20m,refresh=once",
        "fixed-2m" => "ttl,idle=2m,refresh=once",
        "fixed-reset-20m" => "ttl,idle=20m,refresh=reuse",
        "no-unloading" => "lru",
        other => panic!("unknown DSLab keep-alive {other}"),
    }
}

/// The `--scheduler` for each of the DSLab example's schedulers.
fn dslab_scheduler(name: &str) -> &'static str {
    match name {
        "round-robin" => "round-robin",
        "locality-warm" => "locality,warm=true",
        "least-loaded" => "dslab-least-loaded",
        other => panic!("unknown DSLab scheduler {other}"),
    }
}

#[test]
fn dslab_preset_gives_dslab_own_counts() {
    // Every keep-alive setting x scheduler x trace x memory that DSLab ran to the end: lambdasim's
    // cold starts must equal the containers DSLab created and its warm starts the rest. Where
    // DSLab left invocations queued forever (no unloading under memory pressure), lambdasim must
    // stop with an error that counts them.
    let dir = fixtures("dslab");
    let rows = counts(&dir.join("counts.csv"));
    let mut compared = 0;
    let mut wrong = Vec::new();
    for row in &rows {
        let trace = format!("native:{}", dir.join(field(row, "trace")).display());
        let args = [
            "run",
            "--preset",
            "dslab",
            "--trace",
            &trace,
            "--workers",
            field(row, "hosts"),
            "--memory-mb",
            field(row, "memory_mb"),
            "--keep-alive",
            dslab_keep_alive(field(row, "keepalive")),
            "--scheduler",
            dslab_scheduler(field(row, "scheduler")),
            "--json",
        ];
        let number = |name: &str| field(row, name).parse::<u64>().unwrap();
        let unfinished = number("unfinished");
        if unfinished > 0 {
            let o = lambdasim(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            let needle = format!("{unfinished} invocation(s) still wait in a queue");
            assert!(stderr(&o).contains(&needle), "{args:?}: {}", stderr(&o));
            continue;
        }
        compared += 1;
        let (warm, cold, dropped) = starts(&args);
        let created = number("containers_created");
        let want = (number("invocations") - created, created, 0);
        if (warm, cold, dropped) != want {
            wrong.push(format!(
                "{args:?}: lambdasim (warm, cold, dropped) {:?}, DSLab {want:?}",
                (warm, cold, dropped)
            ));
        }
    }
    assert!(compared >= 3 * 2 * 2, "{compared} rows compared");
    assert!(
        wrong.is_empty(),
        "{} of {compared} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
