//! The duration and memory files (small: read with the csv crate).

use super::*;

pub(super) fn open_table(
    path: &Path,
    expected: &str,
) -> Result<(csv::Reader<crate::limits::LineLimit<File>>, Vec<String>), WorkloadError> {
    let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(file);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|n| n.trim().to_string()).collect(),
        Err(e) => {
            return Err(match csv_error(path, e) {
                io @ WorkloadError::Io { .. } => io,
                _ => WorkloadError::File {
                    path: show(path),
                    message: format!(
                        "the header is not valid UTF-8 CSV; expected the header {expected}"
                    ),
                },
            });
        }
    };
    if header.iter().all(String::is_empty) {
        return Err(WorkloadError::File {
            path: show(path),
            message: format!("is empty; expected the header {expected}"),
        });
    }
    Ok((reader, header))
}

pub(super) fn find_column(
    path: &Path,
    header: &[String],
    name: &str,
    expected: &str,
) -> Result<usize, WorkloadError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| WorkloadError::File {
            path: show(path),
            message: format!("the header has no column {name:?}; expected the header {expected}"),
        })
}

/// Reads the next well-formed record; returns its line, or `None` at the end. Ragged records are
/// bad rows.
pub(super) fn next_record(
    reader: &mut csv::Reader<crate::limits::LineLimit<File>>,
    record: &mut ByteRecord,
    path: &Path,
    skip: bool,
    report: &mut LoadReport,
) -> Result<Option<u64>, WorkloadError> {
    loop {
        match reader.read_byte_record(record) {
            Ok(false) => return Ok(None),
            Ok(true) => return Ok(Some(record.position().map_or(0, |p| p.line()))),
            Err(e) => match csv_error(path, e) {
                io @ WorkloadError::Io { .. } => return Err(io),
                err => report.bad_row(skip, err)?,
            },
        }
    }
}

pub(super) fn field(record: &ByteRecord, col: usize) -> &[u8] {
    record.get(col).unwrap_or_default().trim_ascii()
}

/// A finite number, of any sign.
pub(super) fn number(
    record: &ByteRecord,
    col: usize,
    name: &str,
    what: &str,
) -> Result<f64, String> {
    let raw = field(record, col);
    std::str::from_utf8(raw)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("column {name:?}: {:?} is not {what}", shown(raw)))
}
