//! Streaming metrics, run summaries and per-invocation record files.
//!
//! A run reports through [`sim::RecordSink`]. [`Metrics`] is the sink that every run has: it keeps
//! counters and histograms in memory proportional to apps and workers and turns them into a
//! [`Summary`], which [`render_text`] and [`to_json`] print. [`CsvRecords`] is the sink to add
//! (with [`sim::record::Tee`]) when a researcher asks for one row per invocation.

#[cfg(test)]
mod fixture;
pub mod metrics;
pub mod records;
pub mod report;
pub mod sweep_report;
pub mod trace_stats;

pub use metrics::{Metrics, Summary};
pub use records::{CsvRecords, RECORDS_HEADER};
pub use report::{render_text, to_json};
pub use trace_stats::TraceStats;
