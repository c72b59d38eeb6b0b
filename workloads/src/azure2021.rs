//! Placeholder, replaced by the reader.

use crate::WorkloadError;
use crate::trace::{Trace, TraceSpec};

pub fn open(_spec: &TraceSpec, _seed: u64) -> Result<Trace, WorkloadError> {
    Err(WorkloadError::Parameter("azure2021 reader not written yet".into()))
}
