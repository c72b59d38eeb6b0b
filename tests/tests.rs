//! Cross-crate and command-line tests: one test binary, one link step.

mod baseline;
mod cli;
mod invariants;
mod lifecycle;
#[cfg(target_os = "linux")]
mod real;
mod traces;
mod util;
