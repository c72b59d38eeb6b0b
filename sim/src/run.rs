//! The simulation loop: merges the sorted arrival stream with the event queue.

use workloads::{Invocation, Time, WorkloadError};

use crate::controller::Controller;
use crate::record::RecordSink;
use crate::sim_backend::SimBackend;

/// Counts of one simulation, for throughput reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Invocations read from the stream.
    pub invocations: u64,
    /// Events handled: arrivals plus completions and timers popped from the queue.
    pub events: u64,
    /// Simulated time when the last invocation ended.
    pub end: Time,
}

/// Why a simulation stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(
        "invocation {index} arrives at {arrival} us, before the previous one at {previous} us: the invocation stream must be sorted by arrival"
    )]
    Unsorted {
        index: u64,
        arrival: Time,
        previous: Time,
    },
    #[error(
        "invocation {index} names function {function}, but the workload has only {count} functions"
    )]
    UnknownFunction {
        index: u64,
        function: u32,
        count: usize,
    },
    /// The platform could not be set up (e.g. provisioned sandboxes do not fit).
    #[error("{0}")]
    Setup(String),
    /// Invocations still wait for memory that nothing will free: no sandbox is running and none
    /// will expire (for example `eviction = "none"` with a keep-alive that never unloads).
    #[error(
        "{queued} invocation(s) still wait in a queue at {at} us with nothing left to free memory for them: no sandbox is running or will expire (model.eviction = \"none\" needs a keep-alive that unloads, such as ttl)"
    )]
    Stranded { queued: usize, at: Time },
}

/// Replays `invocations` through `controller` on the simulated backend, reporting to `sink`.
///
/// Completions and timers due at the same time as an arrival are handled first, so an
/// invocation that ends exactly when another arrives leaves its sandbox warm for it. The run ends
/// when the stream is exhausted and the last invocation has ended; sandboxes still alive then are
/// destroyed, so idle memory after the last invocation is not charged to any policy.
pub fn simulate<I, S>(
    controller: &mut Controller,
    backend: &mut SimBackend,
    invocations: I,
    sink: &mut S,
) -> Result<RunStats, SimError>
where
    I: IntoIterator<Item = Result<Invocation, WorkloadError>>,
    S: RecordSink + ?Sized,
{
    simulate_until(controller, backend, invocations, sink, None)
}

/// [`simulate`], but a run whose last invocation ends before `end` goes on until `end`: timers
/// due by then (keep-alive expirations) fire, and sandboxes alive at `end` are destroyed then.
/// This is how a served run ends, at a signal rather than at its last request.
pub fn simulate_until<I, S>(
    controller: &mut Controller,
    backend: &mut SimBackend,
    invocations: I,
    sink: &mut S,
    end: Option<Time>,
) -> Result<RunStats, SimError>
where
    I: IntoIterator<Item = Result<Invocation, WorkloadError>>,
    S: RecordSink + ?Sized,
{
    sink.begin(&controller.run_info());
    controller
        .start(0, backend, sink)
        .map_err(SimError::Setup)?;
    let functions = controller.platform().num_functions();
    let mut stream = invocations.into_iter();
    let mut next = stream.next().transpose()?;
    let mut stats = RunStats::default();
    let mut now: Time = 0;
    let arrivals_first = controller.arrivals_first();
    loop {
        let event_due = backend.next_time();
        match next {
            Some(inv)
                if event_due
                    .is_none_or(|t| inv.arrival < t || arrivals_first && inv.arrival == t) =>
            {
                if inv.arrival < now {
                    return Err(SimError::Unsorted {
                        index: stats.invocations,
                        arrival: inv.arrival,
                        previous: now,
                    });
                }
                if inv.function.index() >= functions {
                    return Err(SimError::UnknownFunction {
                        index: stats.invocations,
                        function: inv.function.0,
                        count: functions,
                    });
                }
                now = inv.arrival;
                controller.on_arrival(now, &inv, backend, sink);
                stats.invocations += 1;
                stats.events += 1;
                next = stream.next().transpose()?;
            }
            _ => {
                if next.is_none() && controller.in_flight() == 0 {
                    match end {
                        Some(end) if backend.next_time().is_some_and(|t| t <= end) => {}
                        _ => break,
                    }
                }
                let Some((t, completion)) = backend.pop() else {
                    if controller.in_flight() > 0 {
                        return Err(SimError::Stranded {
                            queued: controller.queued(),
                            at: now,
                        });
                    }
                    break;
                };
                debug_assert!(t >= now, "event at {t} before now {now}");
                now = t;
                controller.on_completion(now, completion, backend, sink);
                stats.events += 1;
            }
        }
    }
    if let Some(end) = end {
        now = now.max(end);
    }
    controller.shutdown(now, backend, sink);
    sink.end(now);
    stats.end = now;
    Ok(stats)
}
