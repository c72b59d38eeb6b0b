//! The process inside a sandbox. `lambdasim real-runner` runs [`main`]: it sets up what its
//! namespaces need, says it is ready, then carries out the backend's commands one at a time:
//!
//! | command (tab-separated)                 | answer                  |
//! |-----------------------------------------|-------------------------|
//! | `import  DIR  MB  MS`                   | `ok  µs`                |
//! | `init  µs`                              | `ok  µs`                |
//! | `run  ID  µs  BYTES  busy\|sleep`       | `done  ID  µs`          |
//! | `fork  sandbox\|zygote` with a socket    | `forked`                |
//! | `procs`                                 | `procs  N`              |
//! | `exit`                                  | (exits)                 |
//!
//! `import` reads an installed package's files, allocates its import memory and burns its import
//! CPU time (see [`crate::store::import`]): what it allocated stays, so a zygote's children
//! inherit it. `run` touches `BYTES` of memory and then spins on the CPU (or sleeps) for the
//! invocation's duration. `fork` makes this runner a zygote: the child leaves for a PID namespace
//! of its own (via an intermediate process, so that the zygote's death does not take it along),
//! takes the socket that came with the command and introduces itself on it with `hello` and its
//! credentials, from which the backend learns its host pid and moves it into its own cgroup.
//! The runner exits when its socket closes.

use std::io;
use std::time::Instant;

use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

use crate::channel::Channel;
use crate::store::{Imported, burn_cpu, import, touch_memory};

/// Sets up a sandbox's private view: mount events stay inside (`/` private), `/proc` shows the
/// sandbox's own PID namespace only, and the host name is the sandbox's.
pub fn private_view() -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
    let err = |what: &str, e: nix::Error| io::Error::other(format!("{what}: {e}"));
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| err("making / private", e))?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| err("mounting /proc", e))?;
    nix::unistd::sethostname("lambdasim-sandbox").map_err(|e| err("setting the host name", e))
}

/// Runs the runner on `channel` until it closes. `private` sets up the private view first (the
/// runner is PID 1 of a new PID namespace).
pub fn main(channel: Channel, private: bool) -> io::Result<()> {
    if private && let Err(e) = private_view() {
        let _ = channel.send(&format!("error\t{e}"));
        return Err(e);
    }
    channel.send("ready")?;
    serve(channel, Imported::new())
}

fn serve(mut channel: Channel, mut imported: Imported) -> io::Result<()> {
    loop {
        let Some(mut msg) = channel.recv()? else {
            return Ok(());
        };
        let fd = msg.fd.take();
        let fields = msg.fields();
        let reply = match fields[..] {
            ["import", dir, mb, ms] => {
                let t = Instant::now();
                match (mb.parse::<f64>(), ms.parse::<f64>()) {
                    (Ok(mb), Ok(ms)) => {
                        match import(std::path::Path::new(dir), mb, ms, 1.0, 1.0, &mut imported) {
                            Ok(()) => format!("ok\t{}", t.elapsed().as_micros()),
                            Err(e) => format!("error\t{e}"),
                        }
                    }
                    _ => format!("error\tbad import command: {}", msg.text),
                }
            }
            ["init", us] => {
                let t = Instant::now();
                burn_cpu(us.parse().unwrap_or(0));
                format!("ok\t{}", t.elapsed().as_micros())
            }
            ["run", id, us, bytes, mode] => {
                let t = Instant::now();
                let memory = touch_memory(bytes.parse().unwrap_or(0));
                let us: u64 = us.parse().unwrap_or(0);
                if mode == "sleep" {
                    std::thread::sleep(std::time::Duration::from_micros(us));
                } else {
                    burn_cpu(us);
                }
                drop(memory);
                format!("done\t{id}\t{}", t.elapsed().as_micros())
            }
            ["fork", kind] => match fd {
                Some(fd) => match fork_child(Channel::from_fd(fd), kind == "sandbox") {
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
            ["exit"] => return Ok(()),
            _ => format!("error\tunknown command: {}", msg.text),
        };
        channel.send(&reply)?;
    }
}

/// Forks a sandbox (or, without `sandbox`, a child zygote) from this zygote. Returns the child's
/// channel in the new process, `None` in the zygote.
///
/// The child is forked through an intermediate process that exits at once, so that it is
/// re-parented to the driver (a child subreaper) and outlives this zygote. A sandbox gets PID,
/// mount, UTS and IPC namespaces of its own and a private `/proc`; a child zygote stays in the
/// host's PID namespace, so that the sandboxes it forks in turn do not depend on it.
fn fork_child(child_channel: Channel, sandbox: bool) -> io::Result<Option<Channel>> {
    let err = |what: &str, e: nix::Error| io::Error::other(format!("{what}: {e}"));
    // SAFETY: the runner is single-threaded, so the child may do anything after fork.
    match unsafe { fork() }.map_err(|e| err("fork", e))? {
        ForkResult::Parent { child } => {
            drop(child_channel);
            waitpid(child, None).map_err(|e| err("waiting for the intermediate process", e))?;
            Ok(None)
        }
        ForkResult::Child => {
            if sandbox && let Err(e) = unshare(CloneFlags::CLONE_NEWPID) {
                let _ = child_channel.send(&format!("error\tunshare: {e}"));
                std::process::exit(1);
            }
            // SAFETY: still single-threaded.
            match unsafe { fork() } {
                Ok(ForkResult::Parent { .. }) => std::process::exit(0),
                Ok(ForkResult::Child) => {
                    let setup = if sandbox {
                        unshare(
                            CloneFlags::CLONE_NEWNS
                                | CloneFlags::CLONE_NEWUTS
                                | CloneFlags::CLONE_NEWIPC,
                        )
                        .map_err(|e| err("unshare", e))
                        .and_then(|()| private_view())
                    } else {
                        Ok(())
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
