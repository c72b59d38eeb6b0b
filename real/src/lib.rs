//! The real data plane: sandboxes as processes in cgroups and namespaces on a Linux host, driven
//! by the same controller as the simulator.
//!
//! - [`cgroup`]: cgroup v1, v2 and a fake tree for tests, behind one trait; pools of child groups.
//! - [`spawn`] and [`runner`]: the sandbox process, started in new namespaces or forked from a
//!   zygote, talking to the backend over a [`channel`]; [`confine`]: what it may not do.
//! - [`store`]: the package registry and the workers' install directories; imports for real.
//! - [`backend`]: `RealBackend`, the [`sim::Backend`] that does all this.
//! - [`driver`]: the wall-clock loop around the unchanged controller; [`host_load`]: how busy
//!   the host was meanwhile.
//! - [`measure`] and [`probe`]: timings of the bare operations, and of the backend itself as a
//!   run drives it, from which `lambdasim calibrate` writes a cost profile.
//! - [`cleanup`]: removing what a crashed run left.
//! - [`functions`]: users' own functions, in a directory laid out as OpenLambda's registry;
//!   [`http`]: the HTTP/1.1 and the routes that serve them; [`python`]: the Python runtime
//!   that runs them (real imports, a zygote that forks sandboxes); [`pip`]: their packages,
//!   installed for real; [`serve`]: the server and the driver of `lambdasim real serve`.

#![cfg(target_os = "linux")]

pub mod backend;
pub mod cgroup;
pub mod channel;
pub mod cleanup;
pub mod confine;
pub mod driver;
pub mod dynmods;
pub mod functions;
pub mod host_load;
pub mod http;
pub mod measure;
pub mod pip;
pub mod probe;
pub mod python;
pub mod run_id;
pub mod runner;
pub mod serve;
pub mod spawn;
pub mod store;

pub use backend::{ExecMode, RealBackend, RealConfig, RealError, Runtime};

/// `eprintln!` that never panics: a message is dropped when standard error cannot take it (a
/// closed pipe, a full disk). A server outlives its terminal's log, and a sandbox's thread must
/// not die of a message it could not write.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

/// What the crate's unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A unique directory under the system's temporary directory, removed when dropped.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "lambdasim-real-{name}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create test directory");
            TempDir(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }

        /// Writes `text` to `relative`, creating its directory.
        pub fn write(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
