//! A run's identity and the lock that says it is alive.
//!
//! A driver's pid alone does not name a run: drivers in separate PID namespaces can both be pid
//! 1, and a dead driver's pid is reused. A run is named `<pid>-<16 random hex digits>` (its
//! cgroup `lambdasim/<name>`, its work directory `lambdasim-real-<name>`), and while it lives its
//! driver holds an exclusive `flock` on `lambdasim-real-<name>.lock` in the temporary directory.
//! The kernel drops the lock when the driver dies however it dies, so `cleanup` knows a live run
//! from a dead one by trying to take it, across PID namespaces and whatever became of the pid.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};

/// This process's run name, `<pid>-<random>`, the same for every run it makes.
pub fn this_process() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| format!("{}-{:016x}", std::process::id(), nonce()))
}

/// 64 random bits from the kernel; should that fail, the clock's nanoseconds, which still differ
/// between two drivers started in the same second.
fn nonce() -> u64 {
    let mut bytes = [0u8; 8];
    let random = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    match random {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

/// The lock file of the run whose cgroup is `lambdasim/<run>`.
pub fn lock_path(run: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lambdasim-real-{run}.lock"))
}

/// The pid a run's name begins with, if it begins with one.
pub fn pid_of(run: &str) -> Option<u32> {
    run.split(['-', '.']).next()?.parse().ok()
}

/// A run's lock, held while it lives; dropping it removes the file and releases the lock.
#[derive(Debug)]
pub struct RunLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of run `run`, which must be free.
    pub fn acquire(run: &str) -> io::Result<RunLock> {
        let path = lock_path(run);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| io::Error::other(format!("{}: {e}", path.display())))?;
        Ok(RunLock { _lock: lock, path })
    }
}

impl RunLock {
    /// Releases the lock but leaves its file, so that `cleanup` sees a dead run (a free lock)
    /// rather than no lock at all: for a driver that could not remove everything it made.
    pub fn release_keeping_file(mut self) {
        self.path = PathBuf::new();
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether run name `run` has the random part of [`this_process`]'s names (`<pid>-<16 hex
/// digits>`, with an optional `.<n>` suffix): such a run's driver always took a lock, so a run
/// without a lock file is dead, whatever process has its pid now.
pub fn has_nonce(run: &str) -> bool {
    let base = run.split('.').next().unwrap_or(run);
    base.split_once('-').is_some_and(|(pid, nonce)| {
        pid.parse::<u32>().is_ok()
            && nonce.len() == 16
            && nonce.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Whether run `run` is alive: `Some(true)` while a driver holds its lock, `Some(false)` when its
/// lock file is there but free (its driver died), `None` without a lock file.
pub fn is_live(run: &str) -> Option<bool> {
    let file = OpenOptions::new().write(true).open(lock_path(run)).ok()?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_released_on_drop) => Some(false),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Some(true),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_marks_a_run_live_and_its_release_dead() {
        let run = format!("{}-test{:x}", std::process::id(), nonce());
        assert_eq!(is_live(&run), None);
        let lock = RunLock::acquire(&run).unwrap();
        // flock locks belong to the open file description: another open of the file in this
        // very process cannot take it either.
        assert_eq!(is_live(&run), Some(true));
        assert!(RunLock::acquire(&run).is_err());
        let path = lock_path(&run);
        drop(lock);
        assert!(!path.exists());
        std::fs::write(&path, "").unwrap();
        assert_eq!(is_live(&run), Some(false));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn run_names_start_with_the_pid_and_differ_by_a_nonce() {
        let me = this_process();
        assert_eq!(pid_of(me), Some(std::process::id()));
        assert_eq!(pid_of("12-ab.3"), Some(12));
        assert_eq!(pid_of("12.3"), Some(12));
        assert_eq!(pid_of("bench"), None);
        assert_eq!(me.len(), std::process::id().to_string().len() + 17);
        assert!(has_nonce(me) && has_nonce(&format!("{me}.2")));
        assert!(!has_nonce("12") && !has_nonce("12.3") && !has_nonce("12-test"));
    }
}
