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
