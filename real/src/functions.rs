//! Users' own functions, in a directory laid out as OpenLambda's registry: one directory per
//! function, named as the function, holding its handler `f.py` (which defines `f(event)`) and,
//! optionally, the packages it needs in `requirements.txt` and its settings in `function.toml`:
//!
//! ```text
//! DIR/hello/f.py
//! DIR/resize/f.py
//! DIR/resize/requirements.txt      # pillow==10.4.0
//! DIR/resize/function.toml         # memory_mb = 1024
//! ```
//!
//! `function.toml` may set `memory_mb`, the memory of the function's sandboxes (before the
//! memory scale); without it the server's default applies. Any other key is an error.
//!
//! [`FunctionRegistry::read`] checks the whole directory before anything runs, so that a typo is
//! an error naming its file and line rather than a failure at the first request. A requirement is
//! a package name, pinned (`name==version`) or not (`name`, whichever version the package source
//! offers); names are compared in PEP 503's normal form (lower case, runs of `-`, `_` and `.` as
//! one `-`). Comments (`#`) and blank lines are ignored. Other specifiers (`>=`, `~=`, extras,
//! environment markers, URLs, pip options such as `-r`) are refused by name: the install cache
//! keys packages by name and version, and a range would make what a sandbox imports depend on
//! what the source offers on the day.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Name of a function's handler file.
pub const HANDLER_FILE: &str = "f.py";
/// Name of a function's list of packages.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";
/// Name of a function's settings.
pub const SETTINGS_FILE: &str = "function.toml";
/// Longest function name, in bytes: it is a directory name and a URL path segment.
pub const MAX_NAME_BYTES: usize = 128;

/// A package a function needs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    /// In PEP 503's normal form.
    pub name: String,
    /// `None` when not pinned.
    pub version: Option<String>,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}=={v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One function of the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredFunction {
    pub name: String,
    /// Its `f.py`.
    pub handler: PathBuf,
    /// Its packages, sorted by name, each once.
    pub requirements: Vec<Requirement>,
    /// Memory of its sandboxes in MB, from its `function.toml`; `None`: the server's default.
    pub memory_mb: Option<u32>,
}

/// A function's `function.toml`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    memory_mb: Option<u32>,
}

/// The functions of a registry directory, sorted by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionRegistry {
    pub dir: PathBuf,
    pub functions: Vec<RegisteredFunction>,
}

/// What is wrong with a registry: the path, and the line where there is one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}, line {line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
}

impl FunctionRegistry {
    /// Reads and checks every function of `dir`. Entries whose names start with `.` are skipped
    /// (editors' and version control's files); any other entry must be a function's directory.
    pub fn read(dir: &Path) -> Result<Self, RegistryError> {
        let file_error = |path: &Path, message: String| RegistryError::File {
            path: path.display().to_string(),
            message,
        };
        let meta = fs::metadata(dir).map_err(|e| file_error(dir, e.to_string()))?;
        if !meta.is_dir() {
            return Err(file_error(
                dir,
                "is not a directory; a registry is a directory with one directory per function"
                    .into(),
            ));
        }
        // Absolute, so that a sandbox (whose working directory is its own) finds the files.
        let dir = &dir
            .canonicalize()
            .map_err(|e| file_error(dir, e.to_string()))?;
        let mut functions = Vec::new();
        let entries = fs::read_dir(dir).map_err(|e| file_error(dir, e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| file_error(dir, e.to_string()))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(file_error(
                    &path,
                    "is not valid UTF-8; a function's name must be".into(),
                ));
            };
            if name.starts_with('.') {
                continue;
            }
            if !fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                return Err(file_error(
                    &path,
                    format!(
                        "is not a directory; every entry of a registry is a function's \
                         directory holding its {HANDLER_FILE}"
                    ),
                ));
            }
            check_name(&name).map_err(|m| file_error(&path, m))?;
            functions.push(read_function(&path, name)?);
        }
        if functions.is_empty() {
            return Err(file_error(
                dir,
                format!("holds no function; add DIR/<name>/{HANDLER_FILE} defining f(event)"),
            ));
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(FunctionRegistry {
            dir: dir.to_path_buf(),
            functions,
        })
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&RegisteredFunction> {
        self.functions
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.functions[i])
    }
}

fn read_function(dir: &Path, name: String) -> Result<RegisteredFunction, RegistryError> {
    let handler = dir.join(HANDLER_FILE);
    if !fs::metadata(&handler).is_ok_and(|m| m.is_file()) {
        return Err(RegistryError::File {
            path: handler.display().to_string(),
            message: format!("is missing: function {name:?} needs its handler, defining f(event)"),
        });
    }
    let requirements_path = dir.join(REQUIREMENTS_FILE);
    let requirements = match fs::read(&requirements_path) {
        Ok(bytes) => parse_requirements(&requirements_path, &bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(RegistryError::File {
                path: requirements_path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    let settings_path = dir.join(SETTINGS_FILE);
    let settings = match fs::read_to_string(&settings_path) {
        Ok(text) => toml::from_str::<Settings>(&text).map_err(|e| {
            let path = settings_path.display().to_string();
            let message = e.message().to_string();
            match e.span() {
                Some(span) => RegistryError::Line {
                    path,
                    line: text[..span.start.min(text.len())].matches('\n').count() + 1,
                    message,
                },
                None => RegistryError::File { path, message },
            }
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
        Err(e) => {
            return Err(RegistryError::File {
                path: settings_path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    if settings.memory_mb == Some(0) {
        return Err(RegistryError::File {
            path: settings_path.display().to_string(),
            message: "memory_mb must be at least 1".into(),
        });
    }
    Ok(RegisteredFunction {
        name,
        handler,
        requirements,
        memory_mb: settings.memory_mb,
    })
}

/// A function's name: a path segment of a URL and a directory name, so ASCII letters, digits,
/// `-`, `_` and `.`, not starting with `.`.
fn check_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "a function's name is at most {MAX_NAME_BYTES} bytes long; this one has {}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "function name {name:?} holds {c:?}; a name is ASCII letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// The requirements in `bytes`, read from `path`.
fn parse_requirements(path: &Path, bytes: &[u8]) -> Result<Vec<Requirement>, RegistryError> {
    let at = |line: usize, message: String| RegistryError::Line {
        path: path.display().to_string(),
        line,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| RegistryError::File {
        path: path.display().to_string(),
        message: format!("is not valid UTF-8 ({e})"),
    })?;
    let mut out: Vec<(Requirement, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        // A comment starts at `#` at the start of the line or after white space.
        let content = match raw.find(" #").or_else(|| raw.find("\t#")) {
            Some(at) => &raw[..at],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let requirement = parse_requirement(content).map_err(|m| at(line, m))?;
        if let Some((other, first)) = out.iter().find(|(r, _)| r.name == requirement.name) {
            if *other != requirement {
                return Err(at(
                    line,
                    format!(
                        "{requirement} contradicts {other} on line {first}; name each package once"
                    ),
                ));
            }
            continue;
        }
        out.push((requirement, line));
    }
    let mut requirements: Vec<Requirement> = out.into_iter().map(|(r, _)| r).collect();
    requirements.sort();
    Ok(requirements)
}

/// One requirement line without its comment: `name` or `name==version`.
fn parse_requirement(text: &str) -> Result<Requirement, String> {
    if text.starts_with('-') {
        return Err(format!(
            "{text:?} is a pip option; a requirement is `name` or `name==version`"
        ));
    }
    let (name, version) = match text.split_once("==") {
        Some((name, version)) => (name.trim(), Some(version.trim())),
        None => (text, None),
    };
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid_name {
        let what = if name.contains(['<', '>', '~', '!', '=']) {
            "a version range"
        } else if name.contains('[') {
            "extras"
        } else if name.contains(';') {
            "an environment marker"
        } else if name.contains(['/', ':', '@']) {
            "a URL or path"
        } else {
            "not a package name"
        };
        return Err(format!(
            "{text:?} is {what}; a requirement is `name` or `name==version`, pinned exactly"
        ));
    }
    let version = match version {
        None => None,
        Some(v)
            if !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-')) =>
        {
            Some(v.to_string())
        }
        Some(v) => {
            return Err(format!(
                "version {v:?} of {name} is not a plain version (digits, letters, '.', '+', '!', \
                 '-'); wildcards, markers and ranges are not accepted"
            ));
        }
    };
    Ok(Requirement {
        name: normalize(name),
        version,
    })
}

/// A package name in PEP 503's normal form: lower case, each run of `-`, `_` and `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !out.is_empty() {
            out.push('-');
        }
        separator = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    fn req(name: &str, version: Option<&str>) -> Requirement {
        Requirement {
            name: name.into(),
            version: version.map(Into::into),
        }
    }

    #[test]
    fn reads_functions_and_their_requirements() {
        let dir = TempDir::new("read");
        dir.write("hello/f.py", "def f(event):\n    return event\n");
        dir.write("resize/f.py", "import PIL\ndef f(event):\n    return {}\n");
        dir.write(
            "resize/requirements.txt",
            "# image work\nPillow==10.4.0  # pinned\n\n  requests\nzope.interface==6.1\n\
             Zope_Interface==6.1\n",
        );
        dir.write(".git/HEAD", "ref");
        let registry = FunctionRegistry::read(&dir.0).unwrap();
        let names: Vec<&str> = registry.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["hello", "resize"]);
        assert!(registry.get("hello").unwrap().requirements.is_empty());
        let resize = registry.get("resize").unwrap();
        assert_eq!(resize.handler, dir.0.join("resize/f.py"));
        assert_eq!(
            resize.requirements,
            [
                req("pillow", Some("10.4.0")),
                req("requests", None),
                req("zope-interface", Some("6.1")),
            ]
        );
        assert_eq!(resize.requirements[0].to_string(), "pillow==10.4.0");
        assert!(registry.get("nope").is_none());
    }

    #[test]
    fn a_function_toml_sets_the_memory_and_nothing_else() {
        let dir = TempDir::new("settings");
        dir.write("big/f.py", "def f(event):\n    return event\n");
        dir.write("big/function.toml", "# a large model\nmemory_mb = 1024\n");
        dir.write("small/f.py", "def f(event):\n    return event\n");
        let registry = FunctionRegistry::read(&dir.0).unwrap();
        assert_eq!(registry.get("big").unwrap().memory_mb, Some(1024));
        assert_eq!(registry.get("small").unwrap().memory_mb, None);
        for (text, why) in [
            ("memory = 1024\n", "line 1: unknown field `memory`"),
            (
                "memory_mb = \"1GB\"\n",
                "line 1: invalid type: string \"1GB\", expected u32",
            ),
            ("memory_mb = 0\n", "memory_mb must be at least 1"),
            ("memory_mb = 1024\nmemory_mb = 2048\n", "line 2"),
        ] {
            let path = dir.write("big/function.toml", text);
            let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
            assert!(
                err.starts_with(&path.display().to_string()),
                "{text:?}: {err}"
            );
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn names_are_normalized_as_pep_503_says() {
        for (name, normal) in [
            ("Pillow", "pillow"),
            ("zope.interface", "zope-interface"),
            ("Foo__Bar--baz..Qux", "foo-bar-baz-qux"),
            ("numpy", "numpy"),
        ] {
            assert_eq!(normalize(name), normal);
        }
    }

    #[test]
    fn bad_requirements_are_refused_with_their_line_and_why() {
        let cases = [
            ("numpy>=1.20", "a version range"),
            ("numpy~=1.20", "a version range"),
            ("requests[socks]==2.31", "extras"),
            ("numpy==1.26; python_version>'3'", "not a plain version"),
            ("pkg @ https://example.com/pkg.whl", "a URL or path"),
            ("-r other.txt", "a pip option"),
            ("numpy==1.*", "not a plain version"),
            ("numpy==", "not a plain version"),
            ("-numpy", "a pip option"),
            (
                "numpy==1.26\nnumpy==1.25",
                "contradicts numpy==1.26 on line 2",
            ),
        ];
        for (text, why) in cases {
            let dir = TempDir::new("bad");
            dir.write("g/f.py", "def f(e): return e\n");
            let path = dir.write("g/requirements.txt", &format!("# first\n{text}\n"));
            let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
            let line = if text.contains('\n') { 3 } else { 2 };
            let want = format!("{}, line {line}: ", path.display());
            assert!(err.starts_with(&want), "{text:?}: {err}");
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_malformed_registry_is_refused_naming_what_is_wrong() {
        let missing = std::env::temp_dir().join("lambdasim-functions-missing-dir");
        let err = FunctionRegistry::read(&missing).unwrap_err().to_string();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");

        let dir = TempDir::new("empty");
        let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
        assert!(err.contains("holds no function"), "{err}");

        let dir = TempDir::new("no-handler");
        dir.write("g/handler.py", "");
        let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
        assert!(err.contains("g/f.py: is missing"), "{err}");

        let dir = TempDir::new("stray-file");
        dir.write("g/f.py", "");
        dir.write("notes.txt", "");
        let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
        assert!(err.contains("notes.txt: is not a directory"), "{err}");

        let dir = TempDir::new("bad-name");
        dir.write("my func/f.py", "");
        let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
        assert!(err.contains("holds ' '"), "{err}");

        let dir = TempDir::new("long-name");
        dir.write(&format!("{}/f.py", "a".repeat(MAX_NAME_BYTES + 1)), "");
        let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
        assert!(err.contains("at most 128 bytes"), "{err}");

        let dir = TempDir::new("not-utf8");
        dir.write("g/f.py", "");
        fs::write(dir.0.join("g/requirements.txt"), b"caf\xe9\n").unwrap();
        let err = FunctionRegistry::read(&dir.0).unwrap_err().to_string();
        assert!(err.contains("not valid UTF-8"), "{err}");

        let dir = TempDir::new("file");
        let file = dir.write("registry", "");
        let err = FunctionRegistry::read(&file).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
