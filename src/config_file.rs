//! Configuration files (scenarios, sweep plans, cost profiles): read within a size limit, checked
//! to be UTF-8 text, and parsed as TOML with each error located at its file, line and column.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
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

/// A TOML file's text and where each of its keys and values is, for messages that point at the
/// field they are about.
#[derive(Clone, Debug)]
pub struct Document {
    origin: String,
    text: String,
    /// Every key and value, in the order they are written.
    items: Vec<Item>,
}

/// A key or a value of a document.
#[derive(Clone, Debug)]
struct Item {
    /// The path of the key, or of the key whose value this is; array elements by index.
    path: Vec<String>,
    span: Range<usize>,
    is_key: bool,
    /// How serde's messages quote it: `` `name` `` for a key, `"text"` or `` `text` `` for a
    /// string, `` `5` `` for a number or a boolean.
    quoted: Vec<String>,
}

impl Document {
    /// Parses `text` as TOML; `origin` names it in messages. A syntax error is located.
    pub fn parse(text: String, origin: &str) -> Result<Document, Error> {
        let mut items = Vec::new();
        match toml::de::DeTable::parse(&text) {
            Ok(table) => walk_table(table.get_ref(), &mut Vec::new(), &mut items),
            Err(e) => {
                let doc = Document {
                    origin: origin.to_string(),
                    text,
                    items,
                };
                return Err(doc.error(&e));
            }
        }
        items.sort_by_key(|item| (item.span.start, !item.is_key));
        Ok(Document {
            origin: origin.to_string(),
            text,
            items,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Deserializes the document into `T`, with errors located.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        toml::from_str(&self.text).map_err(|e| self.error(&e))
    }

    /// A TOML or serde error as `origin, line N, column C: message` with the line quoted. serde
    /// reports an error inside an internally tagged table (`kind = ...`) at the table; the error
    /// is moved to the key or value inside it that the message names, such as the value of
    /// `invalid duration "1m1m"`. An error without a place (from a value merged from several
    /// sources) is placed the same way, anywhere in the document.
    pub fn error(&self, e: &toml::de::Error) -> Error {
        let message = e.message().trim_end();
        match self.named_in(message, e.span()).or(e.span()) {
            Some(span) => Error::Input(self.at(span, message)),
            None => Error::Input(format!("{}: {message}", self.origin)),
        }
    }

    /// [`Document::error`] for an error of a value built from this document and others, with no
    /// place of its own: located only where the message names a key or value of this document,
    /// else `fallback` (which says what the value was built from).
    pub fn error_or(&self, e: &toml::de::Error, fallback: impl FnOnce(&str) -> String) -> Error {
        Error::Input(
            self.locate(e, "")
                .unwrap_or_else(|| fallback(e.message().trim_end())),
        )
    }

    /// The error as `origin, line N, column C: {context}message` if its message names a key or
    /// value of this document, wherever the error comes from; `None` otherwise.
    pub fn locate(&self, e: &toml::de::Error, context: &str) -> Option<String> {
        let message = e.message().trim_end();
        self.named_in(message, None)
            .map(|span| self.at(span, &format!("{context}{message}")))
    }

    /// The line (from 1) of each key of the document, by dotted path; array elements by index
    /// (`cluster.provisioned.0.count`).
    pub fn key_lines(&self) -> BTreeMap<String, usize> {
        let mut lines = BTreeMap::new();
        for item in &self.items {
            let element = item.path.last().is_some_and(|p| p.parse::<usize>().is_ok());
            if item.is_key || element {
                lines
                    .entry(item.path.join("."))
                    .or_insert_with(|| self.line_col(item.span.start).0);
            }
        }
        lines
    }

    /// `origin, line N, column C: message`, then the line with the span underlined.
    fn at(&self, span: Range<usize>, message: &str) -> String {
        let from = self.boundary(span.start);
        let to = self.boundary(span.end).max(from);
        let (line, column) = self.line_col(from);
        let start = self.text[..from].rfind('\n').map_or(0, |i| i + 1);
        // No line break between `start` and `from`, so the line ends at or after `from`.
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let quoted = self.text[start..end].trim_end_matches('\r');
        let width = self.text[from..to.min(end)].chars().count().max(1);
        let number = line.to_string();
        let pad = " ".repeat(number.len());
        format!(
            "{}, line {line}, column {column}: {message}\n{pad} |\n{number} | {quoted}\n{pad} | {}{}",
            self.origin,
            " ".repeat(column - 1),
            "^".repeat(width)
        )
    }

    /// The line and column (from 1, in characters) of byte `offset`.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..self.boundary(offset)];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[start..].chars().count() + 1)
    }

    /// `offset` within the text, moved back to the start of its character.
    fn boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// The span of the key or value inside `within` (anywhere when `None`) that `message` names
    /// first, if any: the one quoted earliest in the message, the first written on a tie. When
    /// `within` is a table (its header, for a `[table]`), inside means in that table.
    fn named_in(&self, message: &str, within: Option<Range<usize>>) -> Option<Range<usize>> {
        // A missing field is nowhere in the file; a key of the same name elsewhere is not it.
        if message.starts_with("missing field") {
            return None;
        }
        let table = within.as_ref().and_then(|w| {
            self.items
                .iter()
                .find(|item| !item.is_key && item.quoted.is_empty() && item.span == *w)
                .map(|item| &item.path)
        });
        let inside = |item: &Item| match (&within, table) {
            (_, Some(table)) => item.path.len() > table.len() && item.path.starts_with(table),
            (Some(w), None) => {
                w.start <= item.span.start && item.span.end <= w.end && item.span != *w
            }
            (None, None) => true,
        };
        self.items
            .iter()
            .filter(|item| inside(item))
            .filter_map(|item| {
                let at = item.quoted.iter().filter_map(|q| message.find(q)).min()?;
                Some((at, item.span.start, item.span.clone()))
            })
            .min_by_key(|(at, start, _)| (*at, *start))
            .map(|(_, _, span)| span)
    }
}

fn walk_table(table: &toml::de::DeTable<'_>, path: &mut Vec<String>, items: &mut Vec<Item>) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        items.push(Item {
            path: path.clone(),
            span: key.span(),
            is_key: true,
            quoted: vec![format!("`{}`", key.get_ref())],
        });
        walk_value(value, path, items);
        path.pop();
    }
}

fn walk_value(
    value: &toml::Spanned<toml::de::DeValue<'_>>,
    path: &mut Vec<String>,
    items: &mut Vec<Item>,
) {
    use toml::de::DeValue;
    let quoted = match value.get_ref() {
        DeValue::String(s) => vec![format!("{s:?}"), format!("`{s}`")],
        DeValue::Integer(i) if i.radix() == 10 => vec![format!("`{}`", i.as_str())],
        DeValue::Float(f) => vec![format!("`{}`", f.as_str())],
        DeValue::Boolean(b) => vec![format!("`{b}`")],
        DeValue::Integer(_) | DeValue::Datetime(_) => Vec::new(),
        DeValue::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                path.push(i.to_string());
                items.push(Item {
                    path: path.clone(),
                    span: element.span(),
                    is_key: false,
                    quoted: Vec::new(),
                });
                walk_value(element, path, items);
                path.pop();
            }
            return;
        }
        DeValue::Table(table) => {
            // The table itself, where serde reports an error inside it.
            items.push(Item {
                path: path.clone(),
                span: value.span(),
                is_key: false,
                quoted: Vec::new(),
            });
            return walk_table(table, path, items);
        }
    };
    items.push(Item {
        path: path.clone(),
        span: value.span(),
        is_key: false,
        quoted,
    });
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

    #[test]
    fn errors_inside_a_table_are_moved_to_the_value_the_message_names() {
        let text = "seed = 3\n[workload]\nkind = \"synthetic\"\nfunctions = 3\nduration = \"1m1m\"\n\
                    [policies.keep_alive]\nkind = \"ttl\"\nidle = \"2m2m\"\n";
        let doc = Document::parse(text.to_string(), "w.toml").unwrap();
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            Some(start..start + needle.len())
        };
        let workload = at("[workload]");
        let named = |message: &str, within| doc.named_in(message, within);
        assert_eq!(
            named("invalid duration \"1m1m\": it is wrong", workload.clone()),
            at("\"1m1m\"")
        );
        // The value the message quotes first: 3, not the string "1m1m" after it.
        assert_eq!(
            named(
                "invalid type: integer `3`, expected \"1m1m\"",
                workload.clone()
            ),
            at("3\nduration").map(|span| span.start..span.start + 1)
        );
        assert_eq!(named("unknown field `kind`", workload.clone()), at("kind"));
        // Only inside the table: the seed's 3 and the other table's "2m2m" are outside.
        let keep_alive = at("[policies.keep_alive]");
        assert_eq!(named("integer `3`", keep_alive.clone()), None);
        assert_eq!(named("\"2m2m\"", workload), None);
        assert_eq!(named("\"2m2m\"", keep_alive), at("\"2m2m\""));
        // Without a place, anywhere; a missing field nowhere.
        assert_eq!(named("invalid duration \"2m2m\"", None), at("\"2m2m\""));
        assert_eq!(named("missing field `kind`", None), None);
        let lines = doc.key_lines();
        assert_eq!(lines["workload.duration"], 5);
        assert_eq!(lines["workload"], 2);
        assert_eq!(lines["policies.keep_alive.idle"], 8);
    }

    #[test]
    fn any_span_is_quoted_without_panicking() {
        let doc = Document::parse("a = 1\r\nb = \"é\"\r\n".to_string(), "crlf.toml").unwrap();
        let len = doc.text().len();
        for start in 0..=len + 2 {
            for end in [0, start.saturating_sub(1), start, start + 1, len + 5] {
                let text = doc.at(start..end, "m");
                assert!(text.starts_with("crlf.toml, line "), "{text}");
            }
        }
        let text = doc.at(4..5, "wrong");
        assert_eq!(
            text,
            "crlf.toml, line 1, column 5: wrong\n  |\n1 | a = 1\n  |     ^"
        );
    }

    #[test]
    fn syntax_errors_name_the_file_line_and_column() {
        let e = Document::parse("seed = 1\n[cluster\n".into(), "s.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml, line 2, column "), "{e}");
        assert!(e.contains("2 | [cluster"), "{e}");
    }
}
