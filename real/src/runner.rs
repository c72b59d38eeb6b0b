//! The process inside a sandbox. `lambdasim real-runner` runs [`main`]: it sets up what its
//! namespaces need, says it is ready, then carries out the backend's commands one at a time:
//!
//! | command (tab-separated)                 | answer                  |
//! |-----------------------------------------|-------------------------|
//! | `import  DIR  MB  MS  [busy\|sleep]`     | `ok  µs`                |
//! | `init  µs  [BYTES  [busy\|sleep]]`       | `ok  µs`                |
//! | `run  ID  µs  BYTES  busy\|sleep`       | `done  ID  µs`          |
//! | `fork  sandbox\|zygote  SCRATCH  ROOT  NET` with a socket | `forked`   |
//! | `procs`                                 | `procs  N`              |
//! | `write  PATH`                           | `write  ok\|ERROR`      |
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
use std::path::PathBuf;
use std::time::Instant;

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
/// host's root bound read-only and `chroot`ed into, with the scratch directory writable; `/proc`
/// showing the sandbox's own PID namespace only; the scratch directory as working directory; and
/// the sandbox's own host name. Every mount lives in the sandbox's mount namespace and vanishes
/// with it.
pub fn private_view(view: &View) -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
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
        mount(
            none,
            root,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            none,
        )
        .map_err(|e| err("making the root read-only", e))?;
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
        nix::unistd::chroot(root).map_err(|e| err("chroot", e))?;
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
                                    spend((ms * 1000.0).round() as u64, true);
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
                spend(us.parse().unwrap_or(0), fields.get(3) == Some(&"sleep"));
                format!("ok\t{}", t.elapsed().as_micros())
            }
            ["run", id, us, bytes, mode] => {
                let t = Instant::now();
                hold(bytes);
                spend(us.parse().unwrap_or(0), mode == "sleep");
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
            ["exit"] => return Ok(()),
            _ => format!("error\tunknown command: {}", msg.text),
        };
        channel.send(&reply)?;
    }
}

/// Spends `us` µs sleeping, or spinning on the CPU.
fn spend(us: u64, sleep: bool) {
    if sleep {
        std::thread::sleep(std::time::Duration::from_micros(us));
    } else {
        burn_cpu(us);
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
