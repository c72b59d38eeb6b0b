//! Workloads: the functions and apps a platform hosts and the stream of invocations it receives.
//!
//! This crate knows nothing about workers, sandboxes or policies. It produces a [`Workload`]: a
//! table of [`Function`]s and [`App`]s with dense ids, plus a stream of [`Invocation`]s sorted by
//! arrival time. Streams are iterators, so a trace of any length is replayed in memory
//! proportional to the number of functions, never the number of invocations.

pub mod azure2019;
pub mod azure2021;
mod csv_util;
pub mod huawei2023;
pub mod limits;
pub mod native;
pub mod packages;
pub mod prefetch;
pub mod sample;
#[cfg(test)]
mod scratch;
pub mod sort;
pub mod synthetic;
pub mod time;
pub mod trace;
pub mod zygote_tree;

use std::fmt;

pub use time::{Duration, Time};

/// Dense index of a function, assigned when the workload is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct FunctionId(pub u32);

/// Dense index of an app (a group of functions that Azure bills and scales together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct AppId(pub u32);

impl FunctionId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl AppId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A deployed function: what the platform needs to know to host it.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: String,
    pub app: AppId,
    /// Memory a sandbox of this function holds, in MB.
    pub memory_mb: u32,
    /// Invocations one sandbox may run at the same time; `None` takes the platform default.
    pub concurrency: Option<u32>,
    /// Handler initialization time of a cold start of this function, in microseconds; `None`
    /// takes the cost model's. Traces that give a cold and a warm execution time set it (FaasCache
    /// models a cold invocation as taking the function's maximum time instead of its average).
    pub init: Option<Time>,
    /// The packages its handler imports, closed over their dependencies, sorted; ids into the
    /// catalog's [`Catalog::packages`]. Empty when packages are not modeled.
    pub packages: Vec<packages::PackageId>,
}

/// An app: a named group of functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    pub name: String,
}

/// One request for a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub function: FunctionId,
    /// Arrival time in microseconds since the start of the trace.
    pub arrival: Time,
    /// Execution time of the handler once it runs, in microseconds.
    pub duration: Time,
}

/// The static part of a workload: functions and apps, indexed by their ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    pub functions: Vec<Function>,
    pub apps: Vec<App>,
    /// The packages functions depend on; empty when packages are not modeled.
    pub packages: packages::PackageCatalog,
}

impl Catalog {
    pub fn function(&self, id: FunctionId) -> &Function {
        &self.functions[id.index()]
    }

    pub fn app(&self, id: AppId) -> &App {
        &self.apps[id.index()]
    }

    /// Number of functions in each app, indexed by app id.
    pub fn functions_per_app(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.apps.len()];
        for f in &self.functions {
            counts[f.app.index()] += 1;
        }
        counts
    }
}

/// A stream of invocations in non-decreasing arrival order. Readers of files yield errors for
/// malformed rows; generators never fail.
pub type InvocationStream = Box<dyn Iterator<Item = Result<Invocation, WorkloadError>> + Send>;

/// A catalog and the invocations that exercise it.
pub struct Workload {
    pub catalog: Catalog,
    pub invocations: InvocationStream,
}

impl fmt::Debug for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("functions", &self.catalog.functions.len())
            .field("apps", &self.catalog.apps.len())
            .finish_non_exhaustive()
    }
}

/// Everything that can go wrong while loading or reading a workload. Messages name the file,
/// the line and the field, so a user can fix the input without reading code.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Row {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Parameter(String),
    /// A bug in lambdasim rather than a problem with the input (a reader thread panicked).
    #[error("{0}")]
    Internal(String),
}
