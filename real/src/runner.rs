//! The process inside a sandbox. `lambdasim real-runner` runs [`main`]: it sets up what its
//! namespaces need, says it is ready, then carries out the backend's commands one at a time:
//!
//! | command (tab-separated)                 | answer                  |
//! |-----------------------------------------|-------------------------|
//! | `import  DIR  MB  MS  [busy\|sleep]`     | `ok  µs`                |
//! | `init  µs  [BYTES  [busy\|sleep]]`       | `ok  µs`                |
//! | `run  ID  µs  BYTES  busy\|sleep`       | `done  ID  µs`          |
//! | `fork  sandbox\|zygote  SCRATCH  ROOT  NET` with a socket | `forked`   |
//! | `confine  UID  GID`                     | `ok`                    |
//! | `try  WHAT  [ARG]` (an escape attempt)  | `try  done\|refused  …` |
//! | `procs`                                 | `procs  N`              |
//! | `write  PATH`                           | `write  ok\|ERROR`      |
//! | `exec  python  INTERPRETER`             | (the Python runner's `ready`) |
//! | `exit`                                  | (exits)                 |
//!
//! `import` reads an installed package's files, allocates its import memory and burns its import
//! CPU time (see [`crate::store::import`]), or with `sleep` spends that time sleeping: what it
//! allocated stays, so a zygote's children inherit it. `init` fills `BYTES` of memory, which the sandbox then holds for the rest of its
//! life (its handler's heap), and spins on the CPU (or sleeps) for the handler's initialization
//! time. `run`
//! first grows the held memory to `BYTES` if it is smaller (it is not: the backend gives `init`
//! the same size), then spins on the CPU (or sleeps) for the invocation's duration. `fork` makes this runner a zygote: the child leaves for a PID namespace
//! of its own (via an intermediate process, so that the zygote's death does not take it along),
//! takes the socket that came with the command and introduces itself on it with `hello` and its
//! credentials, from which the backend learns its host pid and moves it into its own cgroup.
//! The runner exits when its socket closes.

use std::io;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

use crate::channel::Channel;
use crate::store::{FILL, Imported, burn_cpu, import};

/// What a sandbox's file system (and network) looks like besides its private `/proc`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// A writable directory of its own, its working directory.
    pub scratch: Option<PathBuf>,
    /// An empty directory to bind the host's root onto, read-only, and `chroot` into; the
    /// scratch directory stays writable inside.
    pub root: Option<PathBuf>,
    /// A network namespace of its own, for a sandbox forked from a zygote (one started fresh
    /// gets it from `clone`).
    pub net: bool,
}

impl View {
    /// The view as three tab-separated fields (`-` for none), for a `fork` command.
    pub fn to_fields(&self) -> String {
        let show = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or_else(|| "-".to_string(), |p| p.display().to_string())
        };
        let net = if self.net { "net" } else { "-" };
        format!("{}\t{}\t{net}", show(&self.scratch), show(&self.root))
    }

    fn from_fields(scratch: &str, root: &str, net: &str) -> View {
        let read = |s: &str| (s != "-").then(|| PathBuf::from(s));
        View {
            scratch: read(scratch),
            root: read(root),
            net: net == "net",
        }
    }
}

/// Sets up a sandbox's private view: mount events stay inside (`/` private); with a root, the
/// host's root bound onto it with every mount below read-only and `nosuid`, the scratch
/// directory bound writable, and `pivot_root` into it (the host's own root detached, so that
/// there is nothing to `chroot` back to); `/proc` showing the sandbox's own PID namespace only;
/// the scratch directory as working directory; and the sandbox's own host name. Every mount
/// lives in the sandbox's mount namespace and vanishes with it.
pub fn private_view(view: &View) -> io::Result<()> {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    let err = |what: &str, e: nix::Error| io::Error::other(format!("{what}: {e}"));
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| err("making / private", e))?;
    if let Some(root) = &view.root {
        mount(
            Some("/"),
            root,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )
        .map_err(|e| err("binding the root", e))?;
        crate::confine::read_only_tree(root)?;
        if let Some(scratch) = &view.scratch {
            let inside = root.join(scratch.strip_prefix("/").unwrap_or(scratch));
            mount(
                Some(scratch.as_path()),
                &inside,
                none,
                MsFlags::MS_BIND,
                none,
            )
            .map_err(|e| err("binding the scratch directory", e))?;
        }
        std::env::set_current_dir(root)?;
        // The new root stacked over the old one, which is then detached from under it.
        match nix::unistd::pivot_root(".", ".") {
            Ok(()) => umount2(".", MntFlags::MNT_DETACH)
                .map_err(|e| err("detaching the host's root", e))?,
            // A host whose root is the initial ramfs cannot pivot: chroot, which a sandbox
            // without capabilities cannot leave either.
            Err(nix::Error::EINVAL) => nix::unistd::chroot(".").map_err(|e| err("chroot", e))?,
            Err(e) => return Err(err("pivot_root", e)),
        }
        std::env::set_current_dir("/")?;
    }
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        none,
    )
    .map_err(|e| err("mounting /proc", e))?;
    if let Some(scratch) = &view.scratch {
        std::env::set_current_dir(scratch)?;
    }
    nix::unistd::sethostname("lambdasim-sandbox").map_err(|e| err("setting the host name", e))
}

/// Runs the runner on `channel` until it closes. With `private` (the runner is PID 1 of a new
/// PID namespace), it first sets up its private view.
pub fn main(channel: Channel, private: bool, view: &View) -> io::Result<()> {
    if private && let Err(e) = private_view(view) {
        let _ = channel.send(&format!("error\t{e}"));
        return Err(e);
    }
    // Sleeps end within a microsecond of their time instead of the default 50 µs slack, so
    // that sleeping invocations last as long as their trace says.
    // SAFETY: prctl with integer arguments only.
    unsafe { nix::libc::prctl(nix::libc::PR_SET_TIMERSLACK, 1 as nix::libc::c_ulong) };
    channel.send("ready")?;
    serve(channel, Imported::new())
}

fn serve(mut channel: Channel, mut imported: Imported) -> io::Result<()> {
    // The memory the sandbox holds, filled by `init` (or a larger `run`).
    let mut held: Vec<u8> = Vec::new();
    let mut hold = |bytes: &str| {
        let bytes = bytes.parse::<usize>().unwrap_or(0);
        if bytes > held.len() {
            held.resize(bytes, FILL);
        }
    };
    loop {
        let Some(mut msg) = channel.recv()? else {
            return Ok(());
        };
        let fd = msg.fd.take();
        let lifeline = channel.raw();
        let fields = msg.fields();
        let reply = match fields[..] {
            ["import", dir, mb, ms] | ["import", dir, mb, ms, _] => {
                let t = Instant::now();
                let sleep = fields.get(4) == Some(&"sleep");
                match (mb.parse::<f64>(), ms.parse::<f64>()) {
                    (Ok(mb), Ok(ms)) => {
                        // Sleeping, the import's CPU time is spent off the CPU.
                        let cpu_scale = if sleep { 0.0 } else { 1.0 };
                        match import(
                            std::path::Path::new(dir),
                            mb,
                            ms,
                            1.0,
                            cpu_scale,
                            &mut imported,
                        ) {
                            Ok(()) => {
                                if sleep {
                                    spend((ms * 1000.0).round() as u64, true, lifeline);
                                }
                                format!("ok\t{}", t.elapsed().as_micros())
                            }
                            Err(e) => format!("error\t{e}"),
                        }
                    }
                    _ => format!("error\tbad import command: {}", msg.text),
                }
            }
            ["init", us] | ["init", us, _] | ["init", us, _, _] => {
                let t = Instant::now();
                if let Some(bytes) = fields.get(2) {
                    hold(bytes);
                }
                spend(
                    us.parse().unwrap_or(0),
                    fields.get(3) == Some(&"sleep"),
                    lifeline,
                );
                format!("ok\t{}", t.elapsed().as_micros())
            }
            ["run", id, us, bytes, mode] => {
                let t = Instant::now();
                hold(bytes);
                spend(us.parse().unwrap_or(0), mode == "sleep", lifeline);
                format!("done\t{id}\t{}", t.elapsed().as_micros())
            }
            ["fork", kind, scratch, root, net] => match fd {
                Some(fd) => match fork_child(
                    Channel::from_fd(fd),
                    (kind == "sandbox").then(|| View::from_fields(scratch, root, net)),
                ) {
                    Ok(Some(child)) => {
                        // This is the new sandbox: serve its own socket with the inherited imports.
                        channel = child;
                        continue;
                    }
                    Ok(None) => "forked".to_string(),
                    Err(e) => format!("error\tfork: {e}"),
                },
                None => "error\tfork needs a socket".to_string(),
            },
            // What the sandbox can see of the host: the processes in its /proc.
            ["procs"] => {
                let n = std::fs::read_dir("/proc")
                    .map(|d| {
                        d.flatten()
                            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                            .count()
                    })
                    .unwrap_or(0);
                format!("procs\t{n}")
            }
            // Whether the sandbox may write at PATH (the file is removed again).
            ["write", path] => match std::fs::write(path, b"lambdasim") {
                Ok(()) => {
                    let _ = std::fs::remove_file(path);
                    "write\tok".to_string()
                }
                Err(e) => format!("write\t{e}"),
            },
            ["confine", uid, gid] => match (uid.parse(), gid.parse()) {
                (Ok(uid), Ok(gid)) => match crate::confine::confine(uid, gid) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => format!("error\tconfining the sandbox: {e}"),
                },
                _ => format!("error\tbad confine command: {}", msg.text),
            },
            ["try", what] | ["try", what, _] => attempt(what, fields.get(2).copied()),
            // Become another runtime's runner on the same socket (which answers `ready`).
            ["exec", "python", interpreter] => {
                format!("error\t{}", exec_python(&channel, interpreter))
            }
            ["exit"] => return Ok(()),
            _ => format!("error\tunknown command: {}", msg.text),
        };
        channel.send(&reply)?;
    }
}

/// Replaces this runner by the Python runtime's ([`crate::python::RUNNER`] run by
/// `interpreter`), with the socket as descriptor 3; everything this process set up (namespaces,
/// view, confinement, cgroup) stays. Returns only if that fails, with why.
fn exec_python(channel: &Channel, interpreter: &str) -> String {
    use std::ffi::CString;
    let (Ok(exe), Ok(program)) = (
        CString::new(interpreter),
        CString::new(crate::python::RUNNER),
    ) else {
        return "the interpreter's path contains a NUL byte".to_string();
    };
    if !crate::spawn::socket_at_3(channel.raw()) {
        return format!(
            "moving the socket to descriptor 3: {}",
            io::Error::last_os_error()
        );
    }
    let args = [
        exe.clone(),
        CString::from(c"-c"),
        program,
        CString::from(c"3"),
    ];
    let e = nix::unistd::execv(&exe, &args).unwrap_err();
    format!("cannot run {interpreter}: {e}")
}

/// Spends `us` µs sleeping, or spinning on the CPU, and exits the process as soon as the other
/// end of `lifeline` (the backend's socket) closes: a runner whose driver died, however it died
/// and whoever its parent is now, stops within [`LIFELINE_CHECK`].
fn spend(us: u64, sleep: bool, lifeline: RawFd) {
    let end = Instant::now() + Duration::from_micros(us);
    if sleep {
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match hung_up(lifeline, Some(left)) {
                Some(true) => std::process::exit(0),
                Some(false) => {}
                // Something else to read (or poll failed): sleep out the rest.
                None => return std::thread::sleep(end.saturating_duration_since(Instant::now())),
            }
        }
    }
    let mut left = us;
    while left > 0 {
        let slice = left.min(LIFELINE_CHECK.as_micros() as u64);
        burn_cpu(slice);
        left -= slice;
        if hung_up(lifeline, Some(Duration::ZERO)) == Some(true) {
            std::process::exit(0);
        }
    }
}

/// How much of its work a runner does between looks at its lifeline.
const LIFELINE_CHECK: Duration = Duration::from_millis(20);

/// Waits up to `timeout` on `fd`: `Some(true)` if its other end closed, `Some(false)` if the
/// time ran out, `None` if there is something to read or the wait failed.
fn hung_up(fd: RawFd, timeout: Option<Duration>) -> Option<bool> {
    use nix::libc;
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: one valid pollfd and an optional timespec, both locals.
    let n = unsafe { libc::ppoll(&mut pfd, 1, ts_ptr, std::ptr::null()) };
    if n < 0 {
        // Interrupted: count it as time passing.
        return (io::Error::last_os_error().kind() == io::ErrorKind::Interrupted).then_some(false);
    }
    if n == 0 {
        return Some(false);
    }
    if pfd.revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR) != 0 {
        Some(true)
    } else {
        None
    }
}

/// Tries something a confined sandbox must not be able to do; answers `try  done  DETAIL` if it
/// worked and `try  refused  ERROR` if it did not. For tests of the confinement.
fn attempt(what: &str, arg: Option<&str>) -> String {
    use nix::libc;
    let last = || io::Error::last_os_error().to_string();
    // SAFETY (each libc call below): plain system calls on constants or local C strings.
    let outcome: Result<String, String> = match what {
        // Make the root writable again.
        "remount" => {
            let r = unsafe {
                libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            if r == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        // Mount something new.
        "mount" => {
            let r = unsafe {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/tmp".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            };
            if r == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        // Become root again.
        "setuid" => {
            if unsafe { libc::setuid(0) } == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        // A user namespace, in which it would hold every capability.
        "userns" => {
            if unsafe { libc::unshare(libc::CLONE_NEWUSER) } == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        "chroot" => {
            if unsafe { libc::chroot(c"/".as_ptr()) } == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        "ptrace" => {
            if unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) } == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        "module" => {
            if unsafe { libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0) } == 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        "bpf" => {
            if unsafe { libc::syscall(libc::SYS_bpf, 0, std::ptr::null::<u8>(), 0) } >= 0 {
                Ok(String::new())
            } else {
                Err(last())
            }
        }
        // Move itself to the root of each cgroup hierarchy (out of its limits), or raise a
        // limit: every cgroup file it can open for writing counts.
        "cgroup" => {
            let mut files = vec![std::path::PathBuf::from("/sys/fs/cgroup/cgroup.procs")];
            if let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") {
                for d in dirs.flatten() {
                    files.push(d.path().join("cgroup.procs"));
                    files.push(d.path().join("memory.limit_in_bytes"));
                    files.push(d.path().join("tasks"));
                }
            }
            let opened: Vec<String> = files
                .iter()
                .filter(|f| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(f)
                        .is_ok_and(|mut file| {
                            use std::io::Write;
                            file.write_all(b"0").is_ok()
                        })
                })
                .map(|f| f.display().to_string())
                .collect();
            if opened.is_empty() {
                Err(format!("none of {} cgroup files writable", files.len()))
            } else {
                Ok(opened.join(" "))
            }
        }
        // Reach the host's network: any interface but loopback.
        "net" => {
            let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
            let other: Vec<&str> = dev
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(str::trim)
                .filter(|name| *name != "lo")
                .collect();
            if other.is_empty() {
                Err("loopback only".to_string())
            } else {
                Ok(other.join(" "))
            }
        }
        // Write a file at the given path.
        "write" => match std::fs::write(arg.unwrap_or("/lambdasim-escape"), b"lambdasim") {
            Ok(()) => Ok(String::new()),
            Err(e) => Err(e.to_string()),
        },
        _ => return format!("error\tunknown attempt: {what}"),
    };
    match outcome {
        Ok(detail) => format!("try\tdone\t{detail}"),
        Err(e) => format!("try\trefused\t{e}"),
    }
}

/// Forks a sandbox with view `sandbox` (or, without one, a child zygote) from this zygote. Returns the child's
/// channel in the new process, `None` in the zygote.
///
/// The child is forked through an intermediate process that exits at once, so that it is
/// re-parented to the driver (a child subreaper) and outlives this zygote. A sandbox gets PID,
/// mount, UTS and IPC namespaces of its own and a private `/proc`; a child zygote stays in the
/// host's PID namespace, so that the sandboxes it forks in turn do not depend on it.
fn fork_child(child_channel: Channel, sandbox: Option<View>) -> io::Result<Option<Channel>> {
    let err = |what: &str, e: nix::Error| io::Error::other(format!("{what}: {e}"));
    // SAFETY: the runner is single-threaded, so the child may do anything after fork.
    match unsafe { fork() }.map_err(|e| err("fork", e))? {
        ForkResult::Parent { child } => {
            drop(child_channel);
            waitpid(child, None).map_err(|e| err("waiting for the intermediate process", e))?;
            Ok(None)
        }
        ForkResult::Child => {
            if sandbox.is_some()
                && let Err(e) = unshare(CloneFlags::CLONE_NEWPID)
            {
                let _ = child_channel.send(&format!("error\tunshare: {e}"));
                std::process::exit(1);
            }
            // SAFETY: still single-threaded.
            match unsafe { fork() } {
                Ok(ForkResult::Parent { .. }) => std::process::exit(0),
                Ok(ForkResult::Child) => {
                    let setup = match &sandbox {
                        Some(view) => unshare(
                            CloneFlags::CLONE_NEWNS
                                | CloneFlags::CLONE_NEWUTS
                                | CloneFlags::CLONE_NEWIPC
                                | if view.net {
                                    CloneFlags::CLONE_NEWNET
                                } else {
                                    CloneFlags::empty()
                                },
                        )
                        .map_err(|e| err("unshare", e))
                        .and_then(|()| private_view(view)),
                        None => Ok(()),
                    };
                    match setup {
                        Ok(()) => {
                            child_channel.send_credentials("hello")?;
                            Ok(Some(child_channel))
                        }
                        Err(e) => {
                            let _ = child_channel.send(&format!("error\t{e}"));
                            std::process::exit(1);
                        }
                    }
                }
                Err(e) => {
                    let _ = child_channel.send(&format!("error\tfork: {e}"));
                    std::process::exit(1);
                }
            }
        }
    }
}
