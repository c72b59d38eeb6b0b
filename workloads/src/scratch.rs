//! Test support: a fresh directory under the system's temporary directory, removed when dropped.

use std::fs;
use std::path::{Path, PathBuf};

pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    /// `test` must be unique among the crate's tests; the process id keeps concurrent runs apart.
    pub(crate) fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("lambdasim-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    pub(crate) fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
