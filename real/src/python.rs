//! The Python runtime: users' handlers (`def f(event)` in `f.py`) run in a Python process that
//! speaks the backend's protocol on its socket (the program is [`RUNNER`], embedded in the
//! binary and given to the interpreter with `-c`). It imports packages for real and forks
//! sandboxes as a zygote, after SOCK; see `python_runner.py` for the protocol.
//!
//! This module starts such a process and talks to it: [`PythonProcess::start`] starts one as a
//! plain child (no namespaces or cgroups of its own), and the functions on a [`Channel`]
//! ([`add_path`], [`import`], [`load_handler`], [`call`]) work on any Python runner, however it
//! was started or forked.

use std::collections::HashMap;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::channel::Channel;

/// The Python runner's program.
pub const RUNNER: &str = include_str!("python_runner.py");

/// The interpreter to use: `python` if given, else `python3` on the `PATH`; in either case the
/// executable it says it is (`sys.executable`: a wrapper such as pyenv's shim resolves to the
/// interpreter itself), checked to be Python 3.9 or later.
pub fn interpreter(python: Option<&Path>) -> io::Result<PathBuf> {
    let candidate = match python {
        Some(p) if p.is_file() => p.to_path_buf(),
        Some(p) => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the Python interpreter {} does not exist", p.display()),
            ));
        }
        None => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .map(|dir| dir.join("python3"))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "the Python runtime needs python3 (3.9 or later) on the PATH, or --python FILE",
                    )
                })?
        }
    };
    // Through `run_command`: the host's reaper (once real mode runs) must not take its status.
    let out = crate::spawn::run_command(
        Command::new(&candidate)
            .args([
                "-c",
                "import sys; print(sys.version_info >= (3, 9)); print(sys.executable)",
            ])
            .stdin(Stdio::null()),
    )
    .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {e}", candidate.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    match (out.status.success(), lines.next(), lines.next()) {
        (true, Some("True"), Some(exe)) if !exe.is_empty() => Ok(PathBuf::from(exe)),
        (true, Some("False"), _) => Err(io::Error::other(format!(
            "{} is older than Python 3.9, which the Python runtime needs",
            candidate.display()
        ))),
        _ => Err(io::Error::other(format!(
            "{} does not run as a Python 3 interpreter: {}",
            candidate.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Checks that a confined sandbox (an unprivileged user, see [`crate::confine`]) can reach
/// `path`: every directory above it searchable by others, and the file itself readable by others
/// (and executable, with `exec`). The error names the first path that is not.
pub fn reachable_by_others(path: &Path, exec: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = path
        .canonicalize()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    for dir in path.ancestors().skip(1) {
        if mode(dir)? & 0o001 == 0 {
            return Err(format!(
                "{} is not searchable by other users, so a confined sandbox cannot reach {}",
                dir.display(),
                path.display()
            ));
        }
    }
    let need = if exec { 0o005 } else { 0o004 };
    if mode(&path)? & need != need {
        return Err(format!(
            "{} is not {} by other users, as a confined sandbox needs",
            path.display(),
            if exec {
                "readable and executable"
            } else {
                "readable"
            }
        ));
    }
    Ok(())
}

/// A Python runner started as a plain child process; it is killed when dropped.
#[derive(Debug)]
pub struct PythonProcess {
    child: Child,
    pub channel: Channel,
}

impl PythonProcess {
    /// Starts `python` on [`RUNNER`] with its end of a new socket as descriptor 3, and waits
    /// (up to `timeout`) for it to say it is ready.
    pub fn start(python: &Path, timeout: Duration) -> io::Result<PythonProcess> {
        let (ours, theirs) = Channel::pair()?;
        let fd = theirs.raw();
        let mut cmd = Command::new(python);
        cmd.arg("-c")
            .arg(RUNNER)
            .arg("3")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: only system calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if crate::spawn::socket_at_3(fd) {
                    Ok(())
                } else {
                    Err(io::Error::last_os_error())
                }
            });
        }
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start {}: {e}", python.display()))
        })?;
        drop(theirs);
        let mut process = PythonProcess {
            child,
            channel: ours,
        };
        process.channel.set_timeout(Some(timeout))?;
        let ready = process.channel.expect("ready");
        process.channel.set_timeout(None)?;
        if let Err(e) = ready {
            let _ = process.child.kill();
            return Err(e);
        }
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PythonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Users' handlers for the real backend: the interpreter, each function's `f.py` (by
/// function index), and the bodies and results of calls in flight, by invocation id (the
/// position of the invocation in the input stream, as records number them).
#[derive(Debug)]
pub struct PythonHandlers {
    pub interpreter: PathBuf,
    pub handlers: Vec<PathBuf>,
    /// Where packages are installed from (`None`: the functions need none).
    pub source: Option<crate::pip::PackageSource>,
    /// The catalogue's packages, by package index.
    pub packages: Vec<PythonPackage>,
    calls: Mutex<Calls>,
}

/// A package of the catalogue as pip and `import` know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonPackage {
    /// What pip installs: `name` or `name==version`.
    pub requirement: String,
    /// The modules a sandbox imports for it.
    pub modules: Vec<String>,
}

#[derive(Debug, Default)]
struct Calls {
    bodies: HashMap<u64, Vec<u8>>,
    results: HashMap<u64, CallResult>,
    /// Why the latest sandbox of a function (by index) could not be made, until one is.
    failures: HashMap<usize, String>,
}

impl PythonHandlers {
    pub fn new(interpreter: PathBuf, handlers: Vec<PathBuf>) -> Self {
        PythonHandlers {
            interpreter,
            handlers,
            source: None,
            packages: Vec::new(),
            calls: Mutex::new(Calls::default()),
        }
    }

    /// With the catalogue's packages, installed from `source`.
    pub fn with_packages(
        self,
        source: crate::pip::PackageSource,
        packages: Vec<PythonPackage>,
    ) -> Self {
        PythonHandlers {
            source: Some(source),
            packages,
            ..self
        }
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The body invocation `id` is to be called with; give it before the invocation arrives.
    pub fn submit(&self, id: u64, body: Vec<u8>) {
        self.calls().bodies.insert(id, body);
    }

    /// Takes invocation `id`'s body (empty if none was given).
    pub fn take_body(&self, id: u64) -> Vec<u8> {
        self.calls().bodies.remove(&id).unwrap_or_default()
    }

    pub fn put_result(&self, id: u64, result: CallResult) {
        self.calls().results.insert(id, result);
    }

    /// Notes why a sandbox of `function` could not be made (a handler that does not load, an
    /// interpreter the sandbox cannot run), for the responses of the calls that fail with it.
    pub fn note_failure(&self, function: usize, why: String) {
        self.calls().failures.insert(function, why);
    }

    /// Why the latest sandbox of `function` could not be made, if it could not.
    pub fn failure(&self, function: usize) -> Option<String> {
        self.calls().failures.get(&function).cloned()
    }

    /// Forgets a failure once a sandbox of `function` is made.
    pub fn clear_failure(&self, function: usize) {
        self.calls().failures.remove(&function);
    }

    /// Takes invocation `id`'s result, and its body if it never ran.
    pub fn take_result(&self, id: u64) -> Option<CallResult> {
        let mut calls = self.calls();
        calls.bodies.remove(&id);
        calls.results.remove(&id)
    }
}

/// Puts `dir` (an install directory) first on the runner's `sys.path`.
pub fn add_path(channel: &Channel, dir: &Path) -> io::Result<()> {
    channel.send(&format!("path\t{}", one_line(&dir.display().to_string())))?;
    channel.expect("ok").map(|_| ())
}

/// What a command the runner carried out or refused said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Done, in this many µs.
    Done(u64),
    /// Refused, with the runner's reason (an `ImportError`, a syntax error in `f.py`, ...).
    Refused(String),
}

fn answer(channel: &Channel) -> io::Result<Answer> {
    let msg = channel
        .recv()?
        .ok_or_else(|| io::Error::other("the Python runner exited before answering"))?;
    let fields = msg.fields();
    match fields[..] {
        ["ok", us] => Ok(Answer::Done(us.parse().unwrap_or(0))),
        ["error", why] => Ok(Answer::Refused(why.to_string())),
        _ => Err(io::Error::other(format!(
            "the Python runner answered {:?}",
            msg.text
        ))),
    }
}

/// Imports module `name` for real.
pub fn import(channel: &Channel, name: &str) -> io::Result<Answer> {
    channel.send(&format!("import\t{}", one_line(name)))?;
    answer(channel)
}

/// Loads a handler file (`f.py`, which must define `f(event)`).
pub fn load_handler(channel: &Channel, file: &Path) -> io::Result<Answer> {
    channel.send(&format!(
        "handler\t{}",
        one_line(&file.display().to_string())
    ))?;
    answer(channel)
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// The handler returned; the output is its result as JSON.
    Ok,
    /// The request's body is not JSON; the output says why.
    BadRequest,
    /// The handler raised; the output is `Type: message`.
    HandlerError,
    /// The handler's result cannot be written as JSON; the output says why.
    NotJson,
}

impl CallKind {
    /// The HTTP status of a response that ends so.
    pub fn status(self) -> u16 {
        match self {
            CallKind::Ok => 200,
            CallKind::BadRequest => 400,
            CallKind::HandlerError | CallKind::NotJson => 500,
        }
    }
}

/// The end of a call: how it ended, the handler's time in µs and the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallResult {
    pub kind: CallKind,
    pub micros: u64,
    pub output: Vec<u8>,
}

/// Calls the loaded handler with `body` (its JSON argument; empty for `None`) and waits for
/// its result.
pub fn call(channel: &Channel, id: u64, body: &[u8]) -> io::Result<CallResult> {
    channel.send_payload(&format!("call\t{id}\t{}", body.len()), body)?;
    let msg = channel
        .recv()?
        .ok_or_else(|| io::Error::other("the sandbox exited during the call"))?;
    let fields = msg.fields();
    let ["result", got, kind, us, len] = fields[..] else {
        return Err(io::Error::other(format!(
            "the Python runner answered {:?} to a call",
            msg.text
        )));
    };
    if got != id.to_string() {
        return Err(io::Error::other(format!(
            "the Python runner answered call {got} instead of {id}"
        )));
    }
    let kind = match kind {
        "ok" => CallKind::Ok,
        "bad-request" => CallKind::BadRequest,
        "error" => CallKind::HandlerError,
        "not-json" => CallKind::NotJson,
        other => {
            return Err(io::Error::other(format!(
                "the Python runner answered a call with {other:?}"
            )));
        }
    };
    let len: usize = len
        .parse()
        .map_err(|_| io::Error::other(format!("a bad result length in {:?}", msg.text)))?;
    let micros = us.parse().unwrap_or(0);
    let output = channel.recv_payload(len)?;
    Ok(CallResult {
        kind,
        micros,
        output,
    })
}

fn one_line(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn::fork_from_zygote;
    use crate::testing::TempDir;

    /// The interpreter, or `None` with a printed reason (the tests need python3; CI has it and
    /// must not skip).
    fn python() -> Option<PathBuf> {
        match interpreter(None) {
            Ok(p) => Some(p),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("{e}"),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    fn start(python: &Path) -> PythonProcess {
        PythonProcess::start(python, Duration::from_secs(30)).unwrap()
    }

    fn handler(dir: &TempDir, name: &str, source: &str) -> PathBuf {
        dir.write(&format!("{name}/f.py"), source)
    }

    #[test]
    fn a_handler_is_called_with_its_json_and_answers_with_json() {
        let Some(py) = python() else { return };
        let dir = TempDir::new("python");
        let f = handler(
            &dir,
            "echo",
            "def f(event):\n    return {'got': event, 'n': len(event['items'])}\n",
        );
        let p = start(&py);
        assert!(matches!(
            load_handler(&p.channel, &f).unwrap(),
            Answer::Done(_)
        ));
        let r = call(&p.channel, 7, br#"{"items": [1, 2, 3], "s": "\u00e9"}"#).unwrap();
        assert_eq!(r.kind, CallKind::Ok);
        let v: serde_json::Value = serde_json::from_slice(&r.output).unwrap();
        assert_eq!(v["n"], 3);
        assert_eq!(v["got"]["s"], "é");
        // A payload of many messages, both ways.
        let big = format!(r#"{{"items": [{}]}}"#, vec!["12345"; 10_000].join(","));
        let r = call(&p.channel, 8, big.as_bytes()).unwrap();
        assert_eq!(r.kind, CallKind::Ok);
        assert!(r.output.len() > 60_000, "{}", r.output.len());
        // No body: the handler gets None.
        let f2 = handler(&dir, "none", "def f(event):\n    return event is None\n");
        assert!(matches!(
            load_handler(&p.channel, &f2).unwrap(),
            Answer::Done(_)
        ));
        assert_eq!(call(&p.channel, 9, b"").unwrap().output, b"true");
    }

    #[test]
    fn bad_json_exceptions_and_unwritable_results_are_told_apart() {
        let Some(py) = python() else { return };
        let dir = TempDir::new("python");
        let f = handler(
            &dir,
            "h",
            "def f(event):\n    if event == 'raise':\n        raise ValueError('no such thing')\n    \
             if event == 'set':\n        return {1, 2}\n    return 1\n",
        );
        let p = start(&py);
        load_handler(&p.channel, &f).unwrap();
        let r = call(&p.channel, 1, b"{not json").unwrap();
        assert_eq!((r.kind, r.kind.status()), (CallKind::BadRequest, 400));
        assert!(String::from_utf8_lossy(&r.output).contains("not JSON"));
        let r = call(&p.channel, 2, br#""raise""#).unwrap();
        assert_eq!((r.kind, r.kind.status()), (CallKind::HandlerError, 500));
        assert_eq!(r.output, b"ValueError: no such thing");
        let r = call(&p.channel, 3, br#""set""#).unwrap();
        assert_eq!(r.kind, CallKind::NotJson);
        assert!(String::from_utf8_lossy(&r.output).starts_with("TypeError"));
        // The runner goes on after each of them.
        assert_eq!(call(&p.channel, 4, b"0").unwrap().output, b"1");
    }

    #[test]
    fn broken_handlers_and_missing_packages_are_refused_with_the_reason() {
        let Some(py) = python() else { return };
        let dir = TempDir::new("python");
        let p = start(&py);
        let syntax = handler(&dir, "s", "def f(event)\n    return 1\n");
        let Answer::Refused(why) = load_handler(&p.channel, &syntax).unwrap() else {
            panic!("a syntax error loaded")
        };
        assert!(why.contains("SyntaxError") && why.contains("f.py"), "{why}");
        let nof = handler(&dir, "n", "def g(event):\n    return 1\n");
        let Answer::Refused(why) = load_handler(&p.channel, &nof).unwrap() else {
            panic!("a file without f loaded")
        };
        assert!(why.contains("no function f(event)"), "{why}");
        let Answer::Refused(why) = import(&p.channel, "lambdasim_no_such_package").unwrap() else {
            panic!("a missing package imported")
        };
        assert!(why.contains("ModuleNotFoundError"), "{why}");
        // A call with no handler loaded is the handler's error, not the runner's end.
        let r = call(&p.channel, 1, b"1").unwrap();
        assert_eq!(r.kind, CallKind::HandlerError);
    }

    #[test]
    fn a_zygote_imports_once_and_its_children_start_with_the_modules() {
        let Some(py) = python() else { return };
        let dir = TempDir::new("python");
        // A package on an install path, whose import takes a while and counts itself.
        let site = dir.path().join("site");
        dir.write(
            "site/slowpkg/__init__.py",
            "import os, time\ntime.sleep(0.2)\nIMPORTED_IN = os.getpid()\n",
        );
        let f = handler(
            &dir,
            "uses",
            "import os, slowpkg\ndef f(event):\n    return [slowpkg.IMPORTED_IN, os.getpid()]\n",
        );
        let zygote = start(&py);
        zygote.channel.accept_credentials().unwrap();
        add_path(&zygote.channel, &site).unwrap();
        let Answer::Done(us) = import(&zygote.channel, "slowpkg").unwrap() else {
            panic!("the import failed")
        };
        assert!(us >= 200_000, "the import took {us} µs");
        // A child zygote (no namespaces: no root needed), which loads the handler itself.
        let (pid, child) = fork_from_zygote(&zygote.channel, None).unwrap();
        assert_ne!(pid.as_raw() as u32, zygote.pid());
        let Answer::Done(us) = import(&child, "slowpkg").unwrap() else {
            panic!("the inherited import failed")
        };
        assert!(us < 100_000, "an inherited import took {us} µs");
        assert!(matches!(load_handler(&child, &f).unwrap(), Answer::Done(_)));
        let r = call(&child, 1, b"null").unwrap();
        let pids: Vec<i64> = serde_json::from_slice(&r.output).unwrap();
        assert_eq!(pids[0], i64::from(zygote.pid()), "imported in the zygote");
        assert_eq!(pids[1], i64::from(pid.as_raw()), "called in the child");
        // The child ends when its socket closes.
        drop(child);
        let proc = PathBuf::from(format!("/proc/{}", pid.as_raw()));
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            std::fs::read_to_string(proc.join("stat"))
                .map_or(true, |s| s.split(' ').nth(2) == Some("Z"))
        });
        assert!(gone, "the forked runner outlived its socket");
    }
}
