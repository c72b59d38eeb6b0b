//! Streaming metrics, run summaries and per-invocation record files.
