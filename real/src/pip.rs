//! Installing users' Python packages for real: `pip install --target` from a directory of wheels
//! or a package index the user names, and the modules an installed package gives to `import`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::functions::normalize;

/// Where packages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageSource {
    /// A directory of wheels (and source archives), nothing from the network
    /// (`--no-index --find-links DIR`).
    Wheels(PathBuf),
    /// A package index (`--index-url URL`), such as a PyPI mirror.
    Index(String),
}

impl PackageSource {
    fn args(&self) -> Vec<String> {
        match self {
            PackageSource::Wheels(dir) => vec![
                "--no-index".into(),
                "--find-links".into(),
                dir.display().to_string(),
            ],
            PackageSource::Index(url) => vec!["--index-url".into(), url.clone()],
        }
    }
}

/// Installs `requirement` (`name` or `name==version`) with its dependencies into `target` with
/// `python`'s pip. The error carries pip's own last words.
pub fn install(
    python: &Path,
    source: &PackageSource,
    requirement: &str,
    target: &Path,
) -> Result<(), String> {
    let out = crate::spawn::run_command(
        Command::new(python)
            .args(["-m", "pip", "install", "--quiet", "--no-input"])
            .args(["--disable-pip-version-check", "--no-warn-script-location"])
            .arg("--root-user-action=ignore")
            .args(source.args())
            .arg("--target")
            .arg(target)
            .arg(requirement)
            .stdin(Stdio::null()),
    )
    .map_err(|e| format!("cannot run {} -m pip: {e}", python.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = said[said.len().saturating_sub(3)..].join(" ");
    Err(format!(
        "pip could not install {requirement}: {}",
        if tail.is_empty() {
            format!("exit status {}", out.status)
        } else {
            tail
        }
    ))
}

/// The version of distribution `name` installed in `target`, from its `.dist-info` directory.
pub fn installed_version(target: &Path, name: &str) -> Option<String> {
    let wanted = normalize(name);
    std::fs::read_dir(target).ok()?.flatten().find_map(|e| {
        let file = e.file_name();
        let (dist, version) = file.to_str()?.strip_suffix(".dist-info")?.split_once('-')?;
        (normalize(dist) == wanted).then(|| version.to_string())
    })
}

/// The top-level modules that distribution `name`, installed in `target`, gives to `import`:
/// its `top_level.txt`, else the top-level entries of its `RECORD`, else its name with `-` as
/// `_`.
pub fn modules(target: &Path, name: &str) -> Vec<String> {
    let wanted = normalize(name);
    let info = std::fs::read_dir(target).ok().and_then(|entries| {
        entries.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".dist-info"))
                .and_then(|n| n.split_once('-'))
                .is_some_and(|(dist, _)| normalize(dist) == wanted)
        })
    });
    let fallback = || vec![wanted.replace('-', "_")];
    let Some(info) = info else {
        return fallback();
    };
    if let Ok(text) = std::fs::read_to_string(info.join("top_level.txt")) {
        let found: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    let mut found: Vec<String> = std::fs::read_to_string(info.join("RECORD"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(',').next())
        .filter_map(|path| {
            let first = path.split('/').next()?;
            let module = if path.contains('/') {
                first
            } else {
                first.strip_suffix(".py")?
            };
            // Only what `import` can name: not `numpy.libs`, `bin` or a `.dist-info`.
            let identifier = module
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && module.chars().all(|c| c.is_alphanumeric() || c == '_');
            let skip = !identifier || module == "__pycache__" || module == "bin";
            (!skip).then(|| module.to_string())
        })
        .collect();
    found.sort();
    found.dedup();
    if found.is_empty() { fallback() } else { found }
}

/// What installing and importing a package cost once, measured on this host.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    pub install_ms: f64,
    /// Bytes of the installed files (with the dependencies pip installed alongside).
    pub disk_bytes: u64,
    /// Importing every module, in a fresh interpreter.
    pub import_ms: f64,
    /// Growth of the interpreter's peak resident memory over those imports.
    pub import_mb: f64,
    pub modules: Vec<String>,
}

/// Installs `requirement` into `target` and imports it in a fresh interpreter, timing both: the
/// costs the controller's package model then uses for it.
pub fn measure(
    python: &Path,
    source: &PackageSource,
    requirement: &str,
    name: &str,
    target: &Path,
) -> Result<Measured, String> {
    let t = std::time::Instant::now();
    install(python, source, requirement, target)?;
    let install_ms = t.elapsed().as_secs_f64() * 1e3;
    let modules = modules(target, name);
    let script = "import importlib, resource, sys, time\n\
                  sys.path.insert(0, sys.argv[1])\n\
                  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n\
                  t = time.perf_counter()\n\
                  for m in sys.argv[2:]:\n    importlib.import_module(m)\n\
                  print((time.perf_counter() - t) * 1e3, \
                  (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024)\n";
    let out = crate::spawn::run_command(
        Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(target)
            .args(&modules)
            .stdin(Stdio::null()),
    )
    .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    let (Some(Ok(import_ms)), Some(Ok(import_mb)), true) =
        (fields.next(), fields.next(), out.status.success())
    else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{requirement} installed, but importing {} failed: {}",
            modules.join(", "),
            stderr.lines().last().unwrap_or("").trim()
        ));
    };
    Ok(Measured {
        install_ms,
        disk_bytes: disk_bytes(target),
        import_ms,
        import_mb: import_mb.max(0.0),
        modules,
    })
}

/// Bytes of the files under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Builds a wheel of a pure-Python package `name` at `version` in `dir` whose module
/// `module/__init__.py` holds `source`, with `python`'s standard library (no build tools, no
/// network). For tests and examples.
pub fn build_wheel(
    python: &Path,
    dir: &Path,
    name: &str,
    version: &str,
    module: &str,
    source: &str,
) -> Result<PathBuf, String> {
    let dist = normalize(name).replace('-', "_");
    let file = dir.join(format!("{dist}-{version}-py3-none-any.whl"));
    let script = r#"
import base64, hashlib, sys, zipfile
path, dist, version, name, module, source = sys.argv[1:7]
info = f"{dist}-{version}.dist-info"
files = {
    f"{module}/__init__.py": source,
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lambdasim\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    f"{info}/top_level.txt": module + "\n",
}
record = []
with zipfile.ZipFile(path, "w") as z:
    for p, text in files.items():
        data = text.encode()
        z.writestr(p, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{p},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    z.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
"#;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .args([&dist, version, name, module, source])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "building {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::{Answer, PythonProcess, add_path, import, interpreter};
    use crate::testing::TempDir;
    use std::time::Duration;

    /// An interpreter with pip, or `None` with a printed reason (CI must have one).
    fn python_with_pip() -> Option<PathBuf> {
        let found = interpreter(None).and_then(|p| {
            let ok = Command::new(&p)
                .args(["-m", "pip", "--version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                Ok(p)
            } else {
                Err(std::io::Error::other(format!("{} has no pip", p.display())))
            }
        });
        match found {
            Ok(p) => Some(p),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("{e}"),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    #[test]
    fn a_wheel_is_installed_for_real_and_imported_by_its_module_name() {
        let Some(py) = python_with_pip() else { return };
        let dir = TempDir::new("pip");
        let wheels = dir.path().join("wheels");
        build_wheel(
            &py,
            &wheels,
            "Tiny-Greeter",
            "1.2.0",
            "greeter",
            "GREETING = 'hi'\n",
        )
        .unwrap();
        let target = dir.path().join("site");
        let source = PackageSource::Wheels(wheels.clone());
        install(&py, &source, "tiny-greeter==1.2.0", &target).unwrap();
        assert!(target.join("greeter/__init__.py").is_file());
        assert_eq!(modules(&target, "tiny_greeter"), ["greeter"]);
        assert_eq!(
            installed_version(&target, "Tiny.Greeter").as_deref(),
            Some("1.2.0")
        );
        let p = PythonProcess::start(&py, Duration::from_secs(30)).unwrap();
        add_path(&p.channel, &target).unwrap();
        assert!(matches!(
            import(&p.channel, "greeter").unwrap(),
            Answer::Done(_)
        ));
        let m = measure(
            &py,
            &source,
            "tiny-greeter==1.2.0",
            "tiny-greeter",
            &dir.path().join("m"),
        )
        .unwrap();
        assert_eq!(m.modules, ["greeter"]);
        assert!(m.install_ms > 0.0 && m.import_ms > 0.0, "{m:?}");
        assert!(m.disk_bytes > 15, "{m:?}");
        // What the source lacks is an error naming the requirement, with pip's reason.
        let e = install(
            &py,
            &source,
            "tiny-greeter==9.9",
            dir.path().join("x").as_path(),
        )
        .unwrap_err();
        assert!(e.contains("tiny-greeter==9.9"), "{e}");
        assert!(e.to_lowercase().contains("no matching distribution"), "{e}");
    }

    #[test]
    fn modules_fall_back_to_the_record_and_then_the_name() {
        let dir = TempDir::new("modules");
        dir.write(
            "pkg_a-1.0.dist-info/RECORD",
            "a/__init__.py,,\nsolo.py,,\npkg_a.libs/x.so,,\nbin/tool,,\n../../bin/t,,\npkg_a-1.0.dist-info/RECORD,,\n",
        );
        assert_eq!(modules(dir.path(), "pkg-a"), ["a", "solo"]);
        assert_eq!(modules(dir.path(), "Other.Pkg"), ["other_pkg"]);
    }
}
