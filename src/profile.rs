//! Cost profiles: a `[costs]` table, as `lambdasim calibrate` writes it, that `run --costs FILE`
//! and `sweep --costs FILE` put in place of the scenario's costs. A profile may hold other
//! tables (what calibration measured beyond the cost model); only `[costs]` is read.

use std::path::Path;

use serde::Deserialize as _;
use sim::CostModel;

use crate::Error;

/// The `[costs]` table of the profile at `path`, checked against the cost model's fields.
pub fn load_table(path: &Path) -> Result<toml::Table, Error> {
    let origin = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Input(format!("cannot read cost profile {origin}: {e}")))?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| Error::Input(format!("{origin}: {e}")))?;
    let Some(toml::Value::Table(costs)) = table.remove("costs") else {
        return Err(Error::Input(format!(
            "{origin}: a cost profile needs a [costs] table (create, init, fork, dispatch, pause, \
             unpause)"
        )));
    };
    CostModel::deserialize(toml::Value::Table(costs.clone()))
        .map_err(|e| Error::Input(format!("{origin}: costs: {e}")))?;
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
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else {
        return Vec::new();
    };
    let Some(toml::Value::Table(cal)) = table.get("calibration") else {
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
    if let Some(measured) = cal.get("exec").and_then(|v| v.as_str())
        && measured != exec
    {
        out.push(format!(
            "--exec is {exec} here but {measured} in the calibration"
        ));
    }
    out
}
