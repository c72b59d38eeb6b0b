//! What input may hold, so that bad input costs bounded memory and cannot overflow the engine's
//! clock: the longest line of a trace or catalogue file, the largest whole file read at once,
//! and the latest time and longest duration a trace may give. Each limit is far beyond any real
//! trace; a value past one is an error naming the file, line and field, never a wrapped number.

use std::io::{self, Read};
use std::path::Path;

use crate::Time;

/// The longest line of a CSV trace or catalogue: 16 MiB. (An Azure 2019 invocation row, 1,440
/// minute counts, is about 10 KB.) A reader holds at most one line, so this bounds what one
/// malformed row can cost.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The largest file read whole (a JSON catalogue, a dependency list, a zygote tree): 64 MiB.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The most arrivals a count-based trace (Azure 2019, Huawei 2023) may give in one minute,
/// after rate scaling: 20 million (333,000 a second, ten times the busiest minute of the Azure
/// 2019 trace). A minute's arrivals are generated and ordered together, so this bounds what one
/// bad count can cost (about 500 MB).
pub const MAX_ARRIVALS_PER_MINUTE: u64 = 20_000_000;

/// One year in microseconds.
const YEAR_US: Time = 365 * 24 * 3600 * 1_000_000;

/// The latest arrival a trace may give: 100 years after its start, in µs.
pub const MAX_ARRIVAL_US: Time = 100 * YEAR_US;

/// The longest duration (execution or initialization time) a trace may give: 1 year, in µs.
pub const MAX_DURATION_US: Time = YEAR_US;

/// Checks an arrival time read from a trace, in µs; the error says what the limit is.
pub fn check_arrival(us: Time) -> Result<Time, String> {
    if us <= MAX_ARRIVAL_US {
        Ok(us)
    } else {
        Err(format!(
            "{us} µs is past the latest arrival lambdasim replays ({MAX_ARRIVAL_US} µs, 100 years)"
        ))
    }
}

/// Checks a duration read from a trace, in µs; the error says what the limit is.
pub fn check_duration(us: Time) -> Result<Time, String> {
    if us <= MAX_DURATION_US {
        Ok(us)
    } else {
        Err(format!(
            "{us} µs is longer than the longest duration lambdasim replays ({MAX_DURATION_US} µs, a year)"
        ))
    }
}

/// Converts a duration in (fractional) milliseconds, as Azure and Huawei traces give them, to
/// µs: finite, not negative and within [`MAX_DURATION_US`], or an error saying which.
pub fn duration_from_ms(ms: f64) -> Result<Time, String> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!(
            "{ms} ms is not a duration (a finite number of at least 0)"
        ));
    }
    let us = (ms * 1000.0).round();
    if us > MAX_DURATION_US as f64 {
        return Err(format!(
            "{ms} ms is longer than the longest duration lambdasim replays ({} ms, a year)",
            MAX_DURATION_US / 1000
        ));
    }
    Ok(us as Time)
}

/// A reader that fails, instead of going on, once a line grows past `limit` bytes: the error
/// (kind `InvalidData`) names the line and the limit. It counts lines as they pass.
#[derive(Debug)]
pub struct LineLimit<R> {
    inner: R,
    limit: usize,
    /// Bytes since the last newline.
    current: usize,
    /// Newlines seen so far.
    newlines: u64,
}

impl<R: Read> LineLimit<R> {
    pub fn new(inner: R, limit: usize) -> Self {
        LineLimit {
            inner,
            limit,
            current: 0,
            newlines: 0,
        }
    }
}

impl<R> LineLimit<R> {
    fn too_long(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "line {} is longer than {} MiB, the longest line lambdasim reads",
                self.newlines + 1,
                self.limit >> 20
            ),
        )
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf[..n]) {
            if self.current + (end - start) > self.limit {
                return Err(self.too_long());
            }
            self.newlines += 1;
            self.current = 0;
            start = end + 1;
        }
        self.current += n - start;
        if self.current > self.limit {
            return Err(self.too_long());
        }
        Ok(n)
    }
}

/// Opens `path` for reading line by line within [`MAX_LINE_BYTES`]. A path that is not a
/// regular file (a directory, a device such as `/dev/zero`, a pipe) is refused by name.
pub fn open_lines(path: &Path) -> io::Result<LineLimit<std::fs::File>> {
    let file = open_regular(path)?;
    Ok(LineLimit::new(file, MAX_LINE_BYTES))
}

/// Opens `path`, which must be a regular file (after following links).
fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    // Looked at before it is opened: opening a pipe waits for a writer.
    let kind = std::fs::metadata(path)?.file_type();
    if !kind.is_file() {
        let what = crate::csv_util::file_kind(&kind);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {what}, not a file"),
        ));
    }
    std::fs::File::open(path)
}

/// Reads the whole of `path` as text, refusing a file larger than [`MAX_FILE_BYTES`] before
/// reading it (and, for a file whose size the system does not know, once that much is read).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "is larger than {} MiB, the largest file lambdasim reads whole",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        let column = at - memchr::memrchr(b'\n', before).map_or(0, |p| p + 1) + 1;
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("line {line}, column {column}: invalid UTF-8 at byte {at}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], limit: usize, chunk: usize) -> io::Result<Vec<u8>> {
        // A reader that returns at most `chunk` bytes per call, as a file may.
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        LineLimit::new(Chunks(input, chunk), limit).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn lines_within_the_limit_pass_whole_and_a_longer_one_fails_naming_its_line() {
        let ok = b"a,b\n12345678\n1234\n";
        for chunk in [1, 3, 64] {
            assert_eq!(read_all(ok, 8, chunk).unwrap(), ok);
        }
        let bad = b"a,b\n12345678\n123456789\nx\n";
        for chunk in [1, 3, 64] {
            let e = read_all(bad, 8, chunk).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().starts_with("line 3 is longer than"), "{e}");
        }
        // A last line without its newline counts too.
        assert!(read_all(b"a\n123456789", 8, 4).is_err());
    }

    #[test]
    fn times_past_the_limits_are_refused_with_the_limit() {
        assert_eq!(check_arrival(MAX_ARRIVAL_US), Ok(MAX_ARRIVAL_US));
        assert!(check_arrival(u64::MAX).unwrap_err().contains("100 years"));
        assert_eq!(check_duration(5), Ok(5));
        assert!(check_duration(MAX_DURATION_US + 1).is_err());
        assert_eq!(duration_from_ms(1.5), Ok(1500));
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e300] {
            assert!(duration_from_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_utf8_in_a_whole_file_is_reported_where_it_is() {
        let path = std::env::temp_dir().join(format!("lambdasim-utf8-{}", std::process::id()));
        std::fs::write(&path, b"{\n  \"a\": \"x\xffy\"\n}\n").unwrap();
        let e = read_to_string(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(e.to_string(), "line 2, column 10: invalid UTF-8 at byte 11");
    }

    #[test]
    fn devices_and_directories_are_refused_by_what_they_are() {
        let e = read_to_string(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("a device"), "{e}");
        let e = open_lines(Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
    }
}
