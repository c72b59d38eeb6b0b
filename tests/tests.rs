//! Cross-crate and command-line tests: one test binary, one link step.

mod baseline;
mod cli;
mod invariants;
mod lifecycle;
mod traces;
mod util;
