//! Cost profiles: a `[costs]` table, as `lambdasim calibrate` writes it, that `run --costs FILE`
//! and `sweep --costs FILE` put in place of the scenario's costs. A profile may hold other
//! tables (what calibration measured beyond the cost model); only `[costs]` is read.

use std::path::Path;

use serde::Deserialize as _;
use sim::CostModel;

use crate::Error;
use crate::config_file::Document;

/// The `[costs]` table of the profile at `path`, checked against the cost model's fields.
pub fn load_table(path: &Path) -> Result<toml::Table, Error> {
    let origin = path.display();
    let text = crate::config_file::read(path, "cost profile")?;
    let doc = Document::parse(text, &origin.to_string())?;
    let mut table: toml::Table = doc.deserialize()?;
    let Some(toml::Value::Table(costs)) = table.remove("costs") else {
        return Err(Error::Input(format!(
            "{origin}: a cost profile needs a [costs] table (create, init, fork, dispatch, pause, \
             unpause)"
        )));
    };
    CostModel::deserialize(toml::Value::Table(costs.clone()))
        .map_err(|e| doc.error_or(&e, |message| format!("{origin}: costs: {message}")))?;
    Ok(costs)
}

/// The cost model of the profile at `path`.
pub fn load(path: &Path) -> Result<CostModel, Error> {
    let table = load_table(path)?;
    CostModel::deserialize(toml::Value::Table(table))
        .map_err(|e| Error::Input(format!("{}: costs: {e}", path.display())))
}

/// How the real-mode settings of a run differ from those the profile at `path` was measured
/// with (its `[calibration]` table), one line each; empty when they agree or the profile does
/// not say.
pub fn settings_differ(path: &Path, config: &real::RealConfig) -> Vec<String> {
    let Some(cal) = calibration(path) else {
        return Vec::new();
    };
    let exec = config.mode.as_str();
    let number = |key: &str| {
        cal.get(key)
            .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
    };
    let mut out = Vec::new();
    for (key, flag, run) in [
        ("memory_scale", "--memory-scale", config.memory_scale),
        ("touch", "--touch", config.touch_fraction),
        ("disk_scale", "--disk-scale", config.disk_scale),
    ] {
        if let Some(measured) = number(key)
            && (measured - run).abs() > 1e-9 * run.abs().max(1.0)
        {
            out.push(format!(
                "{flag} is {run} here but {measured} in the calibration"
            ));
        }
    }
    if let Some(measured) = cal.get("favor_dynmods").and_then(|v| v.as_bool())
        && measured != config.favor_dynmods
    {
        out.push(format!(
            "favordynmods is {} here but {} in the calibration (--no-favor-dynmods)",
            if config.favor_dynmods { "on" } else { "off" },
            if measured { "on" } else { "off" }
        ));
    }
    if let Some(measured) = cal.get("exec").and_then(|v| v.as_str())
        && measured != exec
    {
        out.push(format!(
            "--exec is {exec} here but {measured} in the calibration"
        ));
    }
    let runtime = config.runtime.name();
    if let Some(measured) = measured_runtime(path)
        && measured != runtime
    {
        out.push(format!(
            "the sandboxes run the {runtime} runtime here but the {measured} one in the calibration (calibrate --runtime)"
        ));
    }
    out
}

/// The runtime the profile at `path` was measured with (`synthetic` or `python`), if it says.
pub fn measured_runtime(path: &Path) -> Option<String> {
    calibration(path)?
        .get("runtime")
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The `[calibration]` table of the profile at `path`, if it has one.
fn calibration(path: &Path) -> Option<toml::Table> {
    let text = crate::config_file::read(path, "cost profile").ok()?;
    let mut table = toml::from_str::<toml::Table>(&text).ok()?;
    match table.remove("calibration") {
        Some(toml::Value::Table(cal)) => Some(cal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_measured_with_other_settings_is_named_and_bad_package_costs_are_refused() {
        let dir = std::env::temp_dir().join(format!("lambdasim-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("host.toml");
        std::fs::write(
            &path,
            "[calibration]\nmemory_scale = 0.0625\ntouch = 0.1\nexec = \"sleep\"\ndisk_scale = 0.01\n\
             [costs]\ncreate = \"5ms\"\n[costs.packages]\nimport_cpu = 0.5\n",
        )
        .unwrap();
        let same = real::RealConfig {
            touch_fraction: 0.1,
            mode: real::ExecMode::Sleep,
            ..real::RealConfig::default()
        };
        assert!(settings_differ(&path, &same).is_empty());
        let other = real::RealConfig {
            touch_fraction: 0.5,
            ..real::RealConfig::default()
        };
        let d = settings_differ(&path, &other);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("--touch is 0.5 here but 0.1"), "{d:?}");
        assert!(d[1].contains("--exec is busy here but sleep"), "{d:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let python = text.replace(
            "disk_scale = 0.01\n",
            "disk_scale = 0.01\nruntime = \"python\"\n",
        );
        std::fs::write(&path, python).unwrap();
        assert_eq!(measured_runtime(&path).as_deref(), Some("python"));
        let d = settings_differ(&path, &same);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].contains("synthetic runtime here but the python one"),
            "{d:?}"
        );
        std::fs::write(&path, text).unwrap();
        let costs = load(&path).unwrap();
        assert_eq!(costs.packages.unwrap().import_cpu, 0.5);
        std::fs::write(&path, "[costs]\n[costs.packages]\nimport_cost = 1\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("host.toml") && e.contains("import_cost"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
