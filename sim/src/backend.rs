//! The seam between the control plane and a data plane.
//!
//! The controller issues commands; a backend carries them out and reports completions, each with
//! the time it took. The simulated backend computes those times from a cost model; a real backend
//! measures them on a host. The controller cannot tell which one it drives.
//!
//! Commands to one sandbox are carried out in the order they were issued: an invocation started
//! right after an unpause runs once the unpause is done.

use workloads::Time;
use workloads::packages::PackageId;

use crate::platform::SandboxId;

/// What a sandbox is created for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    pub function: workloads::FunctionId,
    pub worker: crate::WorkerId,
    pub memory_mb: u32,
    /// The function's own handler initialization time, if it has one; otherwise the backend's.
    pub init: Option<workloads::Time>,
    /// Packages to install on the worker before the sandbox can import them, in this order.
    pub install: &'a [PackageId],
    /// Packages the worker already has (or another sandbox is installing: wait for it).
    pub installed: &'a [PackageId],
    /// Zygotes to create on the worker before the sandbox forks, each from the one before it (the
    /// first from its `parent`), after the packages are installed.
    pub spawn: &'a [ZygoteSpawn],
    /// The zygote (of this worker) to fork the sandbox from, instead of starting a fresh runtime;
    /// it may be the last of `spawn` or one that another cold start is still creating.
    pub fork: Option<ZygoteId>,
    /// Packages to import in the sandbox before its handler initializes (those its zygote lacks).
    pub import: &'a [PackageId],
}

/// A zygote's slot in its worker's import cache. A slot is reused once its zygote is destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZygoteId(pub u32);

/// A zygote to create: forked from `parent` (or started fresh, without one), then importing
/// `import`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZygoteSpawn {
    pub zygote: ZygoteId,
    pub parent: Option<ZygoteId>,
    pub import: Vec<PackageId>,
}

impl CreateRequest<'_> {
    /// A request without packages.
    pub fn plain(
        function: workloads::FunctionId,
        worker: crate::WorkerId,
        memory_mb: u32,
        init: Option<Time>,
    ) -> Self {
        CreateRequest {
            function,
            worker,
            memory_mb,
            init,
            install: &[],
            installed: &[],
            spawn: &[],
            fork: None,
            import: &[],
        }
    }
}

/// A timer the controller asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A sandbox's keep-alive deadline. The generation lets the controller ignore timers it no
    /// longer wants instead of removing them.
    Sandbox { sandbox: SandboxId, generation: u32 },
    /// Load a sandbox of `function` on `worker` ahead of an expected invocation, and keep it
    /// until `until`. `token` tells a pre-warm that a later decision replaced from the current one.
    Prewarm {
        function: workloads::FunctionId,
        worker: crate::WorkerId,
        until: Option<Time>,
        token: u32,
    },
}

/// Handle of an invocation the controller is tracking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvocationHandle(pub u32);

/// A backend's report that something finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// The sandbox is ready to run invocations; creation, installing packages (and waiting for
    /// ones another sandbox was installing), importing them and runtime initialization took
    /// `create`, `install`, `import` and `init`.
    SandboxReady {
        sandbox: SandboxId,
        create: Time,
        install: Time,
        import: Time,
        init: Time,
    },
    /// The invocation's handler ran from `started` until now, after waiting `cpu_wait` of the
    /// time before `started` for a core (0 when the CPU model never makes it wait).
    InvocationDone {
        sandbox: SandboxId,
        invocation: InvocationHandle,
        started: Time,
        cpu_wait: Time,
    },
    /// A timer set with [`Backend::set_timer`] fired.
    Timer(Timer),
    /// The sandbox died (its process crashed or the kernel killed it, for example for exceeding
    /// its memory limit) while being created, running or idle. What it ran ends as failed with
    /// `reason`; the controller destroys what is left of it. Only a real backend reports this.
    SandboxFailed {
        sandbox: SandboxId,
        reason: crate::record::FailReason,
    },
}

/// The commands a data plane carries out for the controller.
pub trait Backend {
    /// Creates a sandbox; reports [`Completion::SandboxReady`].
    fn create_sandbox(&mut self, now: Time, sandbox: SandboxId, request: &CreateRequest);

    /// Creates a sandbox that the model treats as loaded earlier and ready now (FaasCache's
    /// pre-warming). Returns true if it is ready at once, as the simulated backend makes it, and
    /// false if [`Completion::SandboxReady`] follows as after [`Backend::create_sandbox`], which is
    /// what a real backend does.
    fn create_ready(&mut self, now: Time, sandbox: SandboxId, request: &CreateRequest) -> bool {
        self.create_sandbox(now, sandbox, request);
        false
    }

    /// Tells the backend which invocation `handle` stands for from now on: `id`, its position in
    /// the input stream (as records number it), before it starts. A backend that runs users'
    /// handlers finds the invocation's request by it; others ignore it.
    fn track_invocation(&mut self, _handle: InvocationHandle, _id: u64) {}

    /// Runs an invocation for `duration` (its trace execution time) in a sandbox that is ready or
    /// about to be; reports [`Completion::InvocationDone`].
    fn start_invocation(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        invocation: InvocationHandle,
        duration: Time,
    );

    /// Freezes a sandbox. Nothing is reported: a paused sandbox only matters when it is used again.
    fn pause(&mut self, now: Time, sandbox: SandboxId);

    /// Thaws a paused sandbox. Nothing is reported; an invocation started after it waits for it.
    fn unpause(&mut self, now: Time, sandbox: SandboxId);

    /// Destroys a sandbox and frees its resources. Nothing is reported.
    fn destroy(&mut self, now: Time, sandbox: SandboxId);

    /// Destroys a zygote of `worker` once the forks already asked of it are done. Nothing is
    /// reported.
    fn destroy_zygote(&mut self, _now: Time, _worker: crate::WorkerId, _zygote: ZygoteId) {}

    /// Asks for [`Completion::Timer`] at time `at`.
    fn set_timer(&mut self, at: Time, timer: Timer);
}
