//! Streaming metrics, run summaries and per-invocation record files.
//!
//! A run reports through [`sim::RecordSink`]. [`Metrics`] is the sink that every run has: it keeps
//! counters and histograms in memory proportional to apps and workers and turns them into a
//! [`Summary`], which [`render_text`] and [`to_json`] print. [`CsvRecords`] is the sink to add
//! (with [`sim::record::Tee`]) when a researcher asks for one row per invocation.

#[cfg(test)]
mod fixture;
#[cfg(feature = "polars")]
pub mod frames;
pub mod metrics;
pub mod page;
pub mod plot;
pub mod records;
pub mod report;
pub mod run_report;
pub mod sweep_report;
pub mod timeline;
pub mod trace_stats;

pub use metrics::{Dist, Metrics, Summary};
pub use records::{CsvRecords, RECORDS_HEADER};
pub use report::{render_text, to_json};
pub use trace_stats::TraceStats;
