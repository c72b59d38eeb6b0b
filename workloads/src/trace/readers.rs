//! The reader of each trace format, behind one entry point.

use super::*;

/// Opens a trace of any format.
pub fn open(format: TraceFormat, spec: &TraceSpec, seed: u64) -> Result<Trace, WorkloadError> {
    match format {
        TraceFormat::Native => crate::native::open(spec, seed),
        TraceFormat::Azure2019 => crate::azure2019::open(spec, seed),
        TraceFormat::Azure2021 => crate::azure2021::open(spec, seed),
        TraceFormat::Huawei2023 => crate::huawei2023::open(spec, seed),
    }
}

/// Splits a `FORMAT:PATH` argument such as `azure2019:traces/azure`.
pub fn parse_location(text: &str) -> Result<(TraceFormat, PathBuf), String> {
    let (format, path) = text.split_once(':').ok_or_else(|| {
        format!(
            "trace {text:?} must be written FORMAT:PATH, e.g. azure2019:traces/azure; formats: {}",
            TraceFormat::ALL.map(TraceFormat::name).join(", ")
        )
    })?;
    if path.is_empty() {
        return Err(format!("trace {text:?} names no path after {format:?}"));
    }
    Ok((format.parse()?, PathBuf::from(path)))
}
