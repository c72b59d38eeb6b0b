//! Cheap cgroup migrations for the length of a run.
//!
//! Moving a process into a cgroup takes the kernel's host-wide `cgroup_threadgroup_rwsem` for
//! writing. By default that lock favours its readers (every fork and exit): a writer first waits
//! for an RCU grace period, unless another writer passed moments before. On the host in
//! BENCHMARKS.md this put 8-25 ms into most sandbox creations. A cgroup hierarchy mounted with
//! `favordynmods` (Linux 6.0 and later, v1 and v2) switches the lock to favour writers for as
//! long as that hierarchy exists, at a small cost to forks and exits.
//!
//! [`favor`] mounts a private v1 hierarchy with no controllers and that option, in a mount
//! namespace of its own held by a small child process: nothing is mounted where the host sees
//! it, and when the holder dies (at the end of the run, or with its parent, by
//! `PR_SET_PDEATHSIG`, however the parent dies) its namespace, the mount and the hierarchy go
//! with it, and the lock favours readers again.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, pipe};

/// The name of the hierarchy (shared by concurrent runs: the kernel reuses a root by name).
const NAME: &str = "lambdasim-dynmods";

/// Whether cgroup migrations are cheap during a run, and why.
#[derive(Debug)]
pub enum Favor {
    /// A hierarchy of the host is mounted with `favordynmods` already.
    Host,
    /// This run's holder process keeps a private hierarchy mounted with it.
    Held(Holder),
    /// Not favoured: asked not to, or the kernel refused (the reason).
    Off(String),
}

impl Favor {
    /// A short description for a run's heading.
    pub fn describe(&self) -> String {
        match self {
            Favor::Host => "favordynmods (the host's)".into(),
            Favor::Held(_) => "favordynmods".into(),
            Favor::Off(why) => format!("no favordynmods ({why})"),
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self, Favor::Off(_))
    }
}

/// The process that holds the private hierarchy; dropping it ends it.
#[derive(Debug)]
pub struct Holder {
    pid: Pid,
}

impl Holder {
    /// The holder process.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// Whether a mounted cgroup hierarchy of the host has `favordynmods`, from `/proc/mounts` text.
pub fn host_favors(mounts: &str) -> bool {
    mounts.lines().any(|line| {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        f.len() > 3
            && (f[2] == "cgroup" || f[2] == "cgroup2")
            && f[3].split(',').any(|o| o == "favordynmods")
    })
}

/// Makes cgroup migrations cheap for as long as the returned value lives, if `wanted` and the
/// kernel allows; never fails the run (the reason is in [`Favor::Off`]).
pub fn favor(wanted: bool) -> Favor {
    if !wanted {
        return Favor::Off("--no-favor-dynmods".into());
    }
    if std::fs::read_to_string("/proc/mounts").is_ok_and(|m| host_favors(&m)) {
        return Favor::Host;
    }
    match hold() {
        Ok(holder) => Favor::Held(holder),
        Err(why) => Favor::Off(why),
    }
}

fn hold() -> Result<Holder, String> {
    // Everything the child needs is prepared before the fork: between fork and its end it makes
    // system calls only (the parent is multi-threaded).
    let target = CString::new(std::env::temp_dir().as_os_str().as_encoded_bytes())
        .map_err(|e| e.to_string())?;
    let source = CString::new("cgroup").expect("no NUL");
    let fstype = CString::new("cgroup").expect("no NUL");
    let options = CString::new(format!("none,name={NAME},favordynmods")).expect("no NUL");
    let root = CString::new("/").expect("no NUL");
    let parent = nix::unistd::getpid();
    let (read, write): (OwnedFd, OwnedFd) = pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: the child only makes system calls on values prepared above, then exits or
    // pauses; it never returns into Rust code that could allocate.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => unsafe {
            let w = write.as_raw_fd();
            let report = |code: u8| {
                libc::write(w, (&code as *const u8).cast(), 1);
            };
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0
                || libc::getppid() != parent.as_raw()
            {
                libc::_exit(1);
            }
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                report(1);
                libc::_exit(1);
            }
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                report(2);
                libc::_exit(1);
            }
            if libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                options.as_ptr().cast(),
            ) != 0
            {
                report(3);
                libc::_exit(1);
            }
            report(0);
            loop {
                libc::pause();
            }
        },
        ForkResult::Parent { child } => {
            drop(write);
            let holder = Holder { pid: child };
            let mut code = [9u8; 1];
            let n = nix::unistd::read(&read, &mut code).map_err(|e| format!("read: {e}"))?;
            match (n, code[0]) {
                (1, 0) => Ok(holder),
                (1, 1) => Err("cannot make a mount namespace".into()),
                (1, 2) => Err("cannot make mounts private".into()),
                (1, _) => Err("the kernel refused a cgroup hierarchy with favordynmods".into()),
                _ => Err("the holder process died".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_own_option_is_found_in_its_mounts() {
        let plain = "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n\
                     cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
        assert!(!host_favors(plain));
        assert!(host_favors(
            "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nsdelegate,favordynmods 0 0\n"
        ));
        // Only cgroup file systems count.
        assert!(!host_favors("tmpfs /x tmpfs rw,favordynmods 0 0\n"));
    }

    #[test]
    fn not_wanted_is_off() {
        assert!(!favor(false).is_on());
    }
}
