//! The simulated data plane: every command takes the time the cost model says, and completions
//! come back through the event queue.

use serde::{Deserialize, Serialize};
use workloads::{Duration, Time};

use crate::backend::{Backend, Completion, CreateRequest, InvocationHandle, Timer};
use crate::engine::EventQueue;
use crate::platform::SandboxId;

/// Durations of the sandbox operations.
///
/// The defaults are order-of-magnitude figures for an OpenLambda worker with SOCK lean
/// containers, not measurements of any host; set them for the host you model.
/// - `create` 10 ms: a lean container built from bind mounts and a pre-created cgroup without a
///   network namespace, as SOCK (Oakes et al., USENIX ATC'18) does, 18 times faster than Docker in
///   that paper, whose containers take hundreds of milliseconds to start.
/// - `init` 25 ms: starting a Python interpreter and loading the handler, the runtime cost that
///   SOCK's zygotes avoid. Importing popular libraries adds about 100 ms more (same paper); it is
///   not included.
/// - `dispatch` 1 ms: forwarding a request to a warm sandbox's server over a local socket.
/// - `pause` and `unpause` 1 ms: a cgroup freezer transition. OpenLambda (Hendrickson et al.,
///   HotCloud'16) pauses idle containers instead of keeping them running because resuming one
///   costs far less than starting a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostModel {
    /// Creating a sandbox: namespaces, cgroup, root file system, runtime process.
    pub create: Duration,
    /// Initializing the runtime and the handler in a new sandbox.
    pub init: Duration,
    /// Handing a request to a ready sandbox.
    pub dispatch: Duration,
    /// Freezing a sandbox.
    pub pause: Duration,
    /// Thawing a sandbox.
    pub unpause: Duration,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            create: Duration::from_millis(10),
            init: Duration::from_millis(25),
            dispatch: Duration::from_millis(1),
            pause: Duration::from_millis(1),
            unpause: Duration::from_millis(1),
        }
    }
}

/// A backend that models costs instead of running anything.
pub struct SimBackend {
    costs: CostModel,
    queue: EventQueue<Completion>,
    /// Per sandbox slot: when its last lifecycle operation (create, pause, unpause) ends. Commands
    /// to one sandbox run in order, so a start waits for this.
    ready_at: Vec<Time>,
}

impl SimBackend {
    pub fn new(costs: CostModel) -> Self {
        SimBackend {
            costs,
            queue: EventQueue::new(),
            ready_at: Vec::new(),
        }
    }

    pub fn costs(&self) -> &CostModel {
        &self.costs
    }

    /// When the next completion is due.
    pub fn next_time(&self) -> Option<Time> {
        self.queue.peek_time()
    }

    /// Takes the next completion.
    pub fn pop(&mut self) -> Option<(Time, Completion)> {
        self.queue.pop()
    }

    fn slot(&mut self, sandbox: SandboxId) -> &mut Time {
        let i = sandbox.index();
        if i >= self.ready_at.len() {
            self.ready_at.resize(i + 1, 0);
        }
        &mut self.ready_at[i]
    }

    /// Runs an operation of `cost` on a sandbox after the ones before it; returns its end.
    fn sequence(&mut self, now: Time, sandbox: SandboxId, cost: Time) -> Time {
        let slot = self.slot(sandbox);
        let end = (*slot).max(now) + cost;
        *slot = end;
        end
    }
}

impl Backend for SimBackend {
    fn create_sandbox(&mut self, now: Time, sandbox: SandboxId, request: &CreateRequest) {
        *self.slot(sandbox) = now;
        let create = self.costs.create.micros();
        let init = request.init.unwrap_or(self.costs.init.micros());
        let ready = self.sequence(now, sandbox, create + init);
        self.queue.push(
            ready,
            Completion::SandboxReady {
                sandbox,
                create,
                init,
            },
        );
    }

    fn start_invocation(
        &mut self,
        now: Time,
        sandbox: SandboxId,
        invocation: InvocationHandle,
        duration: Time,
    ) {
        let started = (*self.slot(sandbox)).max(now) + self.costs.dispatch.micros();
        self.queue.push(
            started + duration,
            Completion::InvocationDone {
                sandbox,
                invocation,
                started,
                cpu_wait: 0,
            },
        );
    }

    fn pause(&mut self, now: Time, sandbox: SandboxId) {
        self.sequence(now, sandbox, self.costs.pause.micros());
    }

    fn unpause(&mut self, now: Time, sandbox: SandboxId) {
        self.sequence(now, sandbox, self.costs.unpause.micros());
    }

    fn destroy(&mut self, _now: Time, _sandbox: SandboxId) {}

    fn set_timer(&mut self, at: Time, timer: Timer) {
        self.queue.push(at, Completion::Timer(timer));
    }
}
