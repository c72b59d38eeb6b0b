//! Starting runner processes: a fresh runner is `clone`d straight into new namespaces (PID 1 of
//! its own PID namespace for a sandbox; a zygote keeps the host's PID namespace so that the
//! sandboxes it forks outlive it) and `exec`s `lambdasim real-runner` with its end of the socket
//! as descriptor 3.
//!
//! Between `clone` and `exec` the child only makes system calls (no allocation): the driver is
//! multi-threaded, and another thread may hold the allocator's lock at the moment of the clone.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::libc;
use nix::sched::{CloneFlags, clone};
use nix::unistd::Pid;

use crate::channel::Channel;
use crate::runner::View;

/// Which namespaces a runner gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces {
    /// A PID namespace of its own, with a private `/proc` (sandboxes; not zygotes). Such a
    /// runner also dies (SIGKILL) when the thread that started it ends, which for a sandbox is its
    /// own thread in the driver: so it never outlives the driver, however that dies. Zygotes,
    /// which outlive the sandbox whose thread started them, do not; `cleanup` removes them.
    pub pid: bool,
    /// A network namespace of its own (off by default: it is the known scalability bottleneck).
    pub net: bool,
}

/// Makes `fd` descriptor 3, kept across `exec`: where a runner finds its socket. Only system
/// calls, so that it may run between `fork` (or `clone`) and `exec`. Returns whether it could.
pub fn socket_at_3(fd: RawFd) -> bool {
    // SAFETY: plain system calls on descriptors of this process.
    unsafe {
        if fd == 3 {
            let flags = libc::fcntl(3, libc::F_GETFD);
            flags >= 0 && libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) >= 0
        } else {
            // `dup2` leaves the copy without close-on-exec.
            libc::dup2(fd, 3) >= 0
        }
    }
}

/// Starts a runner; returns its pid (in this process's PID namespace) and the backend's end of
/// its socket. The runner answers `ready` once it has set itself up.
pub fn spawn_runner(exe: &Path, ns: Namespaces, view: &View) -> io::Result<(Pid, Channel)> {
    let (ours, theirs) = Channel::pair()?;
    let exe_c = CString::new(exe.as_os_str().as_bytes())
        .map_err(|_| io::Error::other("the runner's path contains a NUL byte"))?;
    let mut args = vec![
        exe_c.clone(),
        CString::from(c"real-runner"),
        CString::from(c"--fd"),
        CString::from(c"3"),
    ];
    if ns.pid {
        args.push(CString::from(c"--private"));
        let path = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::other("a sandbox path contains a NUL byte"))
        };
        if let Some(scratch) = &view.scratch {
            args.push(CString::from(c"--scratch"));
            args.push(path(scratch)?);
        }
        if let Some(root) = &view.root {
            args.push(CString::from(c"--root"));
            args.push(path(root)?);
        }
    }
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let fd = theirs.raw();
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    if ns.pid {
        flags |= CloneFlags::CLONE_NEWPID;
    }
    if ns.net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let mut stack = vec![0u8; 64 * 1024];
    let exe_ptr = exe_c.as_ptr();
    let argv_ptr = argv.as_ptr();
    let die_with_parent = ns.pid;
    let child = Box::new(move || -> isize {
        // SAFETY: plain system calls on values prepared before the clone.
        unsafe {
            // Kept across exec. (In a PID namespace `getppid` is 0, so a parent that died before
            // this line goes unnoticed: `cleanup` is the backstop for that instant.)
            if die_with_parent {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            if !socket_at_3(fd) {
                libc::_exit(126);
            }
            libc::execv(exe_ptr, argv_ptr);
            libc::_exit(127)
        }
    });
    // SAFETY: the child runs `child` on `stack` and execs; see the module's notes.
    let pid = unsafe { clone(child, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| io::Error::other(format!("cannot start a sandbox process (clone): {e}")))?;
    drop(theirs);
    drop(args);
    Ok((pid, ours))
}

/// Children started by [`run_command`], which wait for their own exit: the reaper leaves them.
static MANAGED: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Runs `command` to its end and returns its output (standard output and error captured), as
/// [`std::process::Command::output`] does,
/// safe from the reaper of [`become_reaper`] (which would otherwise take its exit status first).
pub fn run_command(command: &mut std::process::Command) -> io::Result<std::process::Output> {
    let child = {
        let mut managed = MANAGED.lock().unwrap_or_else(|e| e.into_inner());
        let child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        managed.push(child.id() as i32);
        child
    };
    let pid = child.id() as i32;
    let out = child.wait_with_output();
    MANAGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&p| p != pid);
    out
}

/// Makes orphaned sandbox processes (those forked from zygotes) children of this process, and
/// reaps every child that exits, on a thread of its own, but those of [`run_command`]. Call
/// once, before starting runners.
pub fn become_reaper() -> io::Result<()> {
    // SAFETY: a plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| {
            loop {
                // Which child ended, without reaping it yet.
                // SAFETY: waitid into a zeroed local.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                let r = unsafe {
                    libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT)
                };
                if r < 0 {
                    // No children now: look again soon.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                // SAFETY: waitid filled in a child's pid.
                let pid = unsafe { info.si_pid() };
                let managed = MANAGED.lock().unwrap_or_else(|e| e.into_inner());
                if pid == 0 || managed.contains(&pid) {
                    // Its owner reaps it.
                    drop(managed);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                let mut status = 0;
                // SAFETY: waitpid on a child that has exited.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            }
        })?;
    Ok(())
}

/// Forks a process from the zygote on `zygote`: a sandbox with view `sandbox` (PID 1 of a PID
/// namespace of its own) or, without one, a child zygote. Returns its pid in this process's
/// PID namespace and the backend's end of its socket. The caller must keep other commands off
/// the zygote's socket meanwhile.
pub fn fork_from_zygote(zygote: &Channel, sandbox: Option<&View>) -> io::Result<(Pid, Channel)> {
    let (ours, theirs) = Channel::pair()?;
    ours.accept_credentials()?;
    let what = match sandbox {
        Some(view) => format!("fork\tsandbox\t{}", view.to_fields()),
        None => format!("fork\tzygote\t{}", View::default().to_fields()),
    };
    zygote.send_fd(&what, theirs.raw())?;
    drop(theirs);
    zygote.expect("forked")?;
    let hello = ours
        .recv()?
        .ok_or_else(|| io::Error::other("the forked process exited at once"))?;
    match hello.pid {
        Some(pid) if hello.text == "hello" => Ok((Pid::from_raw(pid), ours)),
        _ => Err(io::Error::other(format!(
            "the forked process said {:?}",
            hello.text
        ))),
    }
}
