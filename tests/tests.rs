//! Cross-crate and command-line tests: one test binary, one link step.

mod baseline;
mod cli;
mod digests;
#[cfg(target_os = "linux")]
mod faults;
mod fuzz;
mod invariants;
mod lifecycle;
mod peers;
#[cfg(target_os = "linux")]
mod real;
#[cfg(target_os = "linux")]
mod slurm;
mod traces;
mod util;
