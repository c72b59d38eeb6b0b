//! Configuration files (scenarios, sweep plans, cost profiles): read within a size limit and
//! checked to be UTF-8 text.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::Error;

/// The largest configuration file read, in bytes: 64 MiB, far beyond any real scenario, plan or
/// cost profile, so that a wrong path (`/dev/zero`, a trace, a disk image) is refused before it
/// fills memory.
pub const MAX_BYTES: u64 = 64 << 20;

/// [`MAX_BYTES`] as messages write it.
const MAX_TEXT: &str = "64 MiB";

/// Reads the configuration file at `path`, a `what` (`"scenario"`, `"plan"`, `"cost profile"`):
/// at most [`MAX_BYTES`] of it, so that a larger file (or an endless one) is refused without
/// being read whole, and UTF-8 text, or the error says where it is not.
pub fn read(path: &Path, what: &str) -> Result<String, Error> {
    let name = path.display();
    let cannot = |e: std::io::Error| Error::Input(format!("cannot read {what} {name}: {e}"));
    let too_large = |got: String| {
        Error::Input(format!(
            "{name}: a {what} may be at most {MAX_TEXT}, got {got}"
        ))
    };
    let file = File::open(path).map_err(cannot)?;
    // A regular file says its size: one too large is refused without reading any of it.
    let size = file.metadata().map_err(cannot)?;
    if size.is_file() && size.len() > MAX_BYTES {
        return Err(too_large(format!("{} bytes", size.len())));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_large(format!("more than {MAX_TEXT}")));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let valid = &e.as_bytes()[..offset];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // The bytes before `offset` are valid UTF-8, so the line so far counts in characters.
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        Error::Input(format!(
            "{name}, line {line}, column {column}: invalid UTF-8 at byte {offset}; a {what} must \
             be UTF-8 text"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lambdasim-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_line_column_and_byte() {
        let path = temp("latin1.toml", b"seed = 1\n[cluster]\nname = \"caf\xe9\"\n");
        let e = read(&path, "scenario").unwrap_err().to_string();
        assert!(
            e.contains("latin1.toml, line 3, column 12: invalid UTF-8 at byte 30"),
            "{e}"
        );
        assert!(e.contains("a scenario must be UTF-8 text"), "{e}");
        let path = temp("utf8.toml", "# café\nseed = 1\n".as_bytes());
        assert_eq!(read(&path, "scenario").unwrap(), "# café\nseed = 1\n");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(path.with_file_name("latin1.toml")).unwrap();
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_the_limit() {
        let path = temp("big.toml", b"");
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(MAX_BYTES + 1)
            .unwrap();
        let e = read(&path, "plan").unwrap_err().to_string();
        assert!(
            e.contains("big.toml: a plan may be at most 64 MiB, got 67108865 bytes"),
            "{e}"
        );
        #[cfg(unix)]
        {
            let e = read(Path::new("/dev/zero"), "scenario")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/dev/zero: a scenario may be at most 64 MiB, got more than 64 MiB"),
                "{e}"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }
}
