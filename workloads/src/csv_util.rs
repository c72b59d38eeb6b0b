//! Error construction shared by the trace readers, so that every reader words file, line and
//! field problems the same way.

use std::io;
use std::path::Path;

use crate::WorkloadError;

/// A path as messages show it.
pub(crate) fn show(path: &Path) -> String {
    path.display().to_string()
}

pub(crate) fn io_error(path: &Path, source: io::Error) -> WorkloadError {
    WorkloadError::Io {
        path: show(path),
        source,
    }
}

pub(crate) fn row_error(path: &Path, line: u64, message: String) -> WorkloadError {
    WorkloadError::Row {
        path: show(path),
        line,
        message,
    }
}

/// Turns serde_json's errors into ours: the line and column where it knows them (a row error),
/// the whole file otherwise. `origin` names the file (or another source) in the message.
pub(crate) fn json_error(origin: &str, e: serde_json::Error) -> WorkloadError {
    let (line, column) = (e.line(), e.column());
    let text = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
    if line == 0 {
        WorkloadError::File {
            path: origin.to_string(),
            message,
        }
    } else {
        WorkloadError::Row {
            path: origin.to_string(),
            line: line as u64,
            message: format!("column {column}: {message}"),
        }
    }
}

/// Turns the csv crate's errors into ours, keeping the line where it knows one.
pub(crate) fn csv_error(path: &Path, e: csv::Error) -> WorkloadError {
    let line = e.position().map(|p| p.line());
    let fallback = e.to_string();
    let message = match e.into_kind() {
        csv::ErrorKind::Io(source) => return io_error(path, source),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields, but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        _ => fallback,
    };
    match line {
        Some(line) => row_error(path, line, message),
        None => WorkloadError::File {
            path: show(path),
            message,
        },
    }
}
