//! The invocation files: their header, their lines and the fast row parser.

use super::*;

/// What a column of an invocation file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Minute `k` of the day, counting from 0.
    Minute(u16),
    /// One of [`KEY_COLUMNS`].
    Key(u8),
    Other,
}

/// The key columns of an invocation row, in the order [`parse_row`] returns them.
pub(super) const KEY_COLUMNS: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];

/// The columns of one invocation file, from its header.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct InvocationColumns {
    pub(super) names: Vec<String>,
    pub(super) roles: Vec<Role>,
    /// Number of minute columns: the day's minutes `0..minutes`.
    pub(super) minutes: usize,
    /// The field of minute 0 when the minute columns are fields `run_start..run_start + minutes`
    /// in order; `usize::MAX` otherwise.
    pub(super) run_start: usize,
}

/// Whether a column's name is that of a minute column: digits, or `minute_` and anything.
pub(super) fn is_minute_column(name: &str) -> bool {
    name.starts_with("minute_") || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
}

/// The minute of a minute column's name, `17` or `minute_17`, if it is a minute of the day.
pub(super) fn minute_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("minute_").unwrap_or(name);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse()
        .ok()
        .filter(|&m| (1..=MINUTES_PER_DAY as usize).contains(&m))
}

impl InvocationColumns {
    pub(super) fn parse(
        path: &Path,
        header: &[u8],
        layout: Layout,
        need_trigger: bool,
    ) -> Result<Self, WorkloadError> {
        let expected = layout.invocations_header();
        let fail = |message: String| WorkloadError::File {
            path: show(path),
            message: format!("{message}; expected the header {expected}"),
        };
        let header = header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(header);
        let text = std::str::from_utf8(header)
            .map_err(|_| fail("the header is not valid UTF-8".into()))?;
        let names: Vec<String> = text
            .split(',')
            .map(|n| unquote(n.trim().as_bytes()))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        let mut roles = vec![Role::Other; names.len()];
        for (slot, key) in (0u8..).zip(KEY_COLUMNS) {
            match names.iter().position(|n| n == key) {
                Some(i) => roles[i] = Role::Key(slot),
                None if key != "Trigger" => {
                    return Err(fail(format!("the header has no column {key:?}")));
                }
                None if need_trigger => {
                    return Err(fail(
                        "the header has no column \"Trigger\", which the triggers option needs"
                            .into(),
                    ));
                }
                None => {}
            }
        }
        let mut minutes: Vec<(usize, usize)> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if roles[i] != Role::Other || !is_minute_column(n) {
                continue;
            }
            let Some(m) = minute_number(n) else {
                return Err(fail(format!(
                    "column {n:?} is not a minute of the day: minute columns are 1 to \
                     {MINUTES_PER_DAY} (or minute_1 to minute_{MINUTES_PER_DAY})"
                )));
            };
            minutes.push((m, i));
        }
        if minutes.is_empty() {
            return Err(fail("the header has no minute columns".into()));
        }
        minutes.sort_unstable();
        for (want, &(minute, i)) in (1..).zip(&minutes) {
            if minute < want {
                return Err(fail(format!(
                    "column {:?} repeats minute {minute}",
                    names[i]
                )));
            }
            if minute > want {
                return Err(fail(format!(
                    "the minute columns skip minute {want}; they must be minutes 1 to M"
                )));
            }
        }
        for &(minute, i) in &minutes {
            roles[i] = Role::Minute((minute - 1) as u16);
        }
        let first = minutes[0].1;
        let run_start =
            if (0..minutes.len()).all(|k| roles.get(first + k) == Some(&Role::Minute(k as u16))) {
                first
            } else {
                usize::MAX
            };
        Ok(InvocationColumns {
            names,
            roles,
            minutes: minutes.len(),
            run_start,
        })
    }
}

/// Reads a file line by line into one reused buffer, without line terminators.
pub(super) struct Lines {
    pub(super) path: PathBuf,
    pub(super) reader: BufReader<crate::limits::LineLimit<File>>,
    pub(super) buf: Vec<u8>,
    /// 1-based number of the line in `buf`.
    pub(super) number: u64,
}

impl Lines {
    pub(super) fn open(path: &Path) -> Result<Self, WorkloadError> {
        let file = crate::limits::open_lines(path).map_err(|e| io_error(path, e))?;
        Ok(Lines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            buf: Vec::with_capacity(1 << 14),
            number: 0,
        })
    }

    /// Reads the next line into `buf`; false at the end of the file.
    pub(super) fn next_line(&mut self) -> Result<bool, WorkloadError> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| io_error(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n as u64 == MAX_LINE {
            return Err(row_error(
                &self.path,
                self.number,
                format!("the line is longer than {MAX_LINE} bytes"),
            ));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }
}

/// Splits one invocation row: calls `cell(minute, count)` for every non-zero minute cell and
/// returns the byte ranges of the key columns (empty for a missing `Trigger`). The error names the
/// column and the value. Digits only: no sign, no fraction, no spaces.
///
/// This is the hot loop of the reader. When the minute columns are one run of fields in order (as
/// in every published file), the run is parsed without looking up each field's role, and blocks
/// of zero cells are skipped a block at a time.
#[inline]
pub(super) fn parse_row(
    line: &[u8],
    columns: &InvocationColumns,
    mut cell: impl FnMut(usize, u32),
) -> Result<[(usize, usize); 4], String> {
    let fields = columns.roles.len();
    let mut keys = [(0, 0); 4];
    let mut p = 0;
    let mut i = 0;
    while i < fields {
        if i == columns.run_start {
            let first = i;
            let end = i + columns.minutes;
            while i < end {
                // Blocks of zero cells, as long as another minute field follows the block (so
                // that its last comma separates two minute fields).
                while i + 8 < end && line.get(p..p + 16) == Some(b"0,0,0,0,0,0,0,0,") {
                    p += 16;
                    i += 8;
                }
                // A single digit followed by a comma and another minute field.
                if i + 1 < end
                    && let Some(&[digit, b',']) = line.get(p..p + 2)
                    && digit.is_ascii_digit()
                {
                    if digit != b'0' {
                        cell(i - first, u32::from(digit - b'0'));
                    }
                    p += 2;
                    i += 1;
                    continue;
                }
                let (value, next) = minute_cell(line, p, i, columns)?;
                if value != 0 {
                    cell(i - first, value);
                }
                p = separator(line, next, i, fields)?;
                i += 1;
            }
            continue;
        }
        let role = columns.roles[i];
        if let Role::Minute(minute) = role {
            let (value, next) = minute_cell(line, p, i, columns)?;
            if value != 0 {
                cell(usize::from(minute), value);
            }
            p = next;
        } else {
            let start = p;
            while let Some(&b) = line.get(p) {
                if b == b',' {
                    break;
                }
                p += 1;
            }
            if let Role::Key(slot) = role {
                keys[usize::from(slot)] = (start, p);
            }
        }
        p = separator(line, p, i, fields)?;
        i += 1;
    }
    if p < line.len() {
        let extra = line[p..].iter().filter(|&&b| b == b',').count();
        return Err(field_count(fields + extra, fields));
    }
    Ok(keys)
}

/// Steps over the comma after field `i` (ending at `p`), unless it is the row's last field.
#[inline(always)]
pub(super) fn separator(line: &[u8], p: usize, i: usize, fields: usize) -> Result<usize, String> {
    if i + 1 < fields {
        if p >= line.len() {
            return Err(field_count(i + 1, fields));
        }
        Ok(p + 1)
    } else {
        Ok(p)
    }
}

/// The count in field `i`, starting at `p`, and the position after it.
#[inline(always)]
pub(super) fn minute_cell(
    line: &[u8],
    mut p: usize,
    i: usize,
    columns: &InvocationColumns,
) -> Result<(u32, usize), String> {
    let start = p;
    let mut value = 0u64;
    let mut bad = false;
    while let Some(&b) = line.get(p) {
        if b == b',' {
            break;
        }
        let digit = b.wrapping_sub(b'0');
        bad |= digit > 9;
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        p += 1;
    }
    if bad || p == start || p - start > 9 {
        let fields = columns.roles.len();
        if p == line.len() && i + 1 < fields {
            return Err(field_count(i + 1, fields));
        }
        value = u64::from(
            parse_count(&line[start..p])
                .map_err(|m| format!("column {:?}: {m}", columns.names[i]))?,
        );
    }
    Ok((value as u32, p))
}

pub(super) fn field_count(found: usize, header: usize) -> String {
    format!("has {found} fields, but the header has {header}")
}

/// A count cell: digits only, at most `u32::MAX`.
pub(super) fn parse_count(text: &[u8]) -> Result<u32, String> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "count {:?} is not a non-negative whole number",
            shown(text)
        ));
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| format!("count {:?} is larger than {}", shown(text), u32::MAX))
}

/// The key fields of a parsed row: owner, app, function and trigger ("" without a column).
pub(super) fn row_keys(line: &[u8], ranges: [(usize, usize); 4]) -> Result<[&str; 4], String> {
    let mut out = [""; 4];
    for (slot, (start, end)) in ranges.into_iter().enumerate() {
        if end == 0 && slot == 3 {
            continue;
        }
        out[slot] = key_text(
            unquote(line[start..end].trim_ascii()),
            KEY_COLUMNS[slot],
            slot < 3,
        )?;
    }
    Ok(out)
}

/// A key field as text; `required` fields must not be empty.
pub(super) fn key_text<'a>(raw: &'a [u8], column: &str, required: bool) -> Result<&'a str, String> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| format!("column {column:?}: {:?} is not valid UTF-8", shown(raw)))?;
    if required && text.is_empty() {
        return Err(format!("column {column:?} is empty"));
    }
    Ok(text)
}

/// Removes one pair of surrounding double quotes.
pub(super) fn unquote(raw: &[u8]) -> &[u8] {
    match raw {
        [b'"', inner @ .., b'"'] => inner,
        _ => raw,
    }
}

/// A value for a message: lossy UTF-8, cut after 40 characters.
pub(super) fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(40).collect::<String>())
    } else {
        text.into_owned()
    }
}

/// The columns (minutes of the day) of a day starting at trace minute `offset` that overlap the
/// window.
pub(super) fn minutes_in_window(window: &Window, offset: u64, minutes: usize) -> Range<usize> {
    let inside: Vec<usize> = (0..minutes)
        .filter(|&k| window.overlaps_minute(offset + k as u64))
        .collect();
    match (inside.first(), inside.last()) {
        (Some(&lo), Some(&hi)) => lo..hi + 1,
        _ => 0..0,
    }
}

/// A map from keys (hex hashes joined by [`KEY_SEPARATOR`]) to ids, hashed by [`KeyHasher`].
pub(super) type KeyMap<V> = HashMap<Box<str>, V, BuildHasherDefault<KeyHasher>>;

/// A fast hash for keys made of long hex hashes, eight bytes at a time (the multiply-rotate step
/// of FxHash, with a final mix so that the low bits hashbrown uses for buckets vary too). Not
/// resistant to crafted keys, which a local trace file has no reason to hold.
#[derive(Clone, Copy, Default)]
pub(super) struct KeyHasher(u64);

impl KeyHasher {
    pub(super) const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    pub(super) fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

pub(super) fn function_key(buf: &mut String, owner: &str, app: &str, function: &str) {
    buf.clear();
    buf.push_str(owner);
    buf.push(KEY_SEPARATOR);
    buf.push_str(app);
    buf.push(KEY_SEPARATOR);
    buf.push_str(function);
}

pub(super) fn app_key(buf: &mut String, owner: &str, app: &str) {
    buf.clear();
    buf.push_str(owner);
    buf.push(KEY_SEPARATOR);
    buf.push_str(app);
}
