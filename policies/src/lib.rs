//! Keep-alive and scheduling policies for lambdasim.
//!
//! Each policy implements a trait from `sim::policy`, lives in its own file that cites where it
//! comes from, and is selected by name from a scenario file or the command line through the
//! tagged configuration enums below.

pub mod import;
pub mod install;
pub mod keep_alive;
pub mod scheduler;

pub use import::ImportCacheSpec;
pub use install::InstallCacheConfig;
pub use keep_alive::{KeepAliveConfig, PoolMode, Refresh};
pub use scheduler::SchedulerConfig;
