//! The simulator core of lambdasim: event engine, platform state, the controller (the only code
//! that changes platform state and calls policies), the backend seam with its simulated
//! implementation, the policy traits, and the record sink through which results leave.

pub mod record;

pub use record::{Record, RecordSink};

/// Dense index of a worker in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct WorkerId(pub u32);

impl WorkerId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
