//! The simulator core of lambdasim: event engine, platform state, the controller (the only code
//! that changes platform state and calls policies), the backend seam with its simulated
//! implementation, the policy traits, and the record sink through which results leave.

pub mod backend;
pub mod controller;
pub mod cost;
pub mod cpu;
pub mod engine;
pub mod install_cache;
pub mod platform;
pub mod policy;
pub mod record;
pub mod run;
pub mod sim_backend;
pub mod zygotes;

pub use backend::{Backend, Completion};
pub use controller::{
    Admission, Controller, ControllerConfig, EvictionMode, Handoff, QueueMode, ReleaseMode,
    TieOrder, UnloadTiming,
};
pub use cost::{Cost, Quantiles};
pub use cpu::CpuModel;
pub use platform::{Platform, Sandbox, SandboxId, SandboxState, Worker, WorkerSpec};
pub use policy::{ArrivalActions, IdleDecision, InstallPolicy, KeepAlive, Scheduler};
pub use record::{Record, RecordSink};
pub use run::{RunStats, SimError, simulate, simulate_until};
pub use sim_backend::{CostModel, PackageCosts, SimBackend};

/// Dense index of a worker in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct WorkerId(pub u32);

impl WorkerId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
