//! Error construction shared by the trace readers, so that every reader words file, line and
//! field problems the same way.

use std::fs;
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

/// Whether `path` is a regular file, after following links: `Ok(false)` when nothing is there,
/// and an error saying what it is when it is anything else (a directory, a device, a pipe, a
/// socket, a link to nothing), so that such a path is neither reported as missing nor read
/// forever.
pub(crate) fn regular_file(path: &Path) -> Result<bool, WorkloadError> {
    let link = fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_symlink())
        .map(|_| match fs::read_link(path) {
            Ok(target) => format!("a link to {}", target.display()),
            Err(_) => "a link".to_string(),
        });
    let what = match fs::metadata(path) {
        Ok(m) if m.is_file() => return Ok(true),
        Ok(m) => file_kind(&m.file_type()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match link {
            Some(link) => {
                return Err(WorkloadError::File {
                    path: show(path),
                    message: format!("is {link} that does not exist"),
                });
            }
            None => return Ok(false),
        },
        Err(e) => return Err(io_error(path, e)),
    };
    let through = link.map(|l| format!(" ({l})")).unwrap_or_default();
    Err(WorkloadError::File {
        path: show(path),
        message: format!("is {what}{through}, not a regular file"),
    })
}

/// What a file that is not a regular file is, for messages.
pub(crate) fn file_kind(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_fifo() {
            return "a pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "something else"
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
