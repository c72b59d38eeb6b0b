//! The wall-clock driver: feeds arrivals (at their time, already scaled), completions and timers
//! to the unchanged controller, on one thread, with the backend's clock as `now`.
//!
//! An arrival is handed to the controller when its time comes; if the driver is late (busy with
//! other events), the arrival is stamped with the time it is handled, and the lateness is
//! counted. After the last arrival the driver waits until nothing is in flight, then shuts the
//! platform down. A stop request (Ctrl-C) ends the run early: what is in flight is abandoned and
//! everything is cleaned up.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use sim::Controller;
use sim::backend::Completion;
use sim::record::RecordSink;
use workloads::{Invocation, Time, WorkloadError};

use crate::backend::RealBackend;

/// What a run did, besides its records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriveStats {
    pub arrivals: u64,
    pub completions: u64,
    pub timers: u64,
    /// Largest, 99th-percentile and total lateness of arrivals, in µs.
    pub max_late: Time,
    pub late_p99: Time,
    pub total_late: Time,
    /// Wall-clock time the driver spent waiting for a completion, in µs; the rest of
    /// [`DriveStats::end`] it was busy (handling events, or late).
    pub waiting: Time,
    /// The run was stopped before its end.
    pub stopped: bool,
    /// The host fault that stopped it, if one did (see [`RealBackend::fault`]).
    pub fault: Option<String>,
    /// Backend clock at the end.
    pub end: Time,
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error("{0}")]
    Setup(String),
}

/// Replays `invocations` (sorted by arrival, times in µs of wall clock from the start) through
/// `controller` on `backend`. Returns when every invocation has ended, or when `stop` is set.
pub fn drive<S: RecordSink + ?Sized>(
    controller: &mut Controller,
    backend: &mut RealBackend,
    invocations: impl Iterator<Item = Result<Invocation, WorkloadError>>,
    sink: &mut S,
    stop: &AtomicI32,
) -> Result<DriveStats, DriveError> {
    let mut stats = DriveStats::default();
    sink.begin(&controller.run_info());
    controller
        .start(backend.now(), backend, sink)
        .map_err(DriveError::Setup)?;
    let mut invocations = invocations.peekable();
    let mut last_arrival = 0;
    let mut lateness: Vec<Time> = Vec::new();
    loop {
        if halted(backend, stop, &mut stats) {
            break;
        }
        let next_arrival = match invocations.peek() {
            Some(Ok(inv)) => Some(inv.arrival.max(last_arrival)),
            Some(Err(_)) => {
                let Some(Err(e)) = invocations.next() else {
                    unreachable!()
                };
                return Err(e.into());
            }
            None => None,
        };
        if next_arrival.is_none() && controller.in_flight() == 0 {
            break;
        }
        if fire_timer(controller, backend, sink, &mut stats) {
            continue;
        }
        let now = backend.now();
        if let Some(at) = next_arrival
            && at <= now
        {
            let Some(Ok(inv)) = invocations.next() else {
                unreachable!()
            };
            last_arrival = at;
            let late = now - at;
            stats.max_late = stats.max_late.max(late);
            stats.total_late += late;
            lateness.push(late);
            stats.arrivals += 1;
            controller.on_arrival(now, &inv, backend, sink);
            continue;
        }
        await_completion(controller, backend, sink, &mut stats, now, next_arrival);
    }
    end(controller, backend, sink, &mut stats);
    if !lateness.is_empty() {
        let rank = ((0.99 * lateness.len() as f64).ceil() as usize).clamp(1, lateness.len());
        stats.late_p99 = *lateness.select_nth_unstable(rank - 1).1;
    }
    Ok(stats)
}

/// Whether the run must stop now: `stop` is set, or the host has a fault (noted in `stats`).
pub(crate) fn halted(backend: &mut RealBackend, stop: &AtomicI32, stats: &mut DriveStats) -> bool {
    if stop.load(Ordering::SeqCst) != 0 {
        stats.stopped = true;
    } else if let Some(fault) = backend.fault() {
        stats.fault = Some(fault);
        stats.stopped = true;
    }
    stats.stopped
}

/// Hands the earliest timer to the controller if it is due; whether one was.
pub(crate) fn fire_timer<S: RecordSink + ?Sized>(
    controller: &mut Controller,
    backend: &mut RealBackend,
    sink: &mut S,
    stats: &mut DriveStats,
) -> bool {
    let now = backend.now();
    let Some((_, timer)) = backend.pop_due_timer(now) else {
        return false;
    };
    stats.timers += 1;
    controller.on_completion(now, Completion::Timer(timer), backend, sink);
    true
}

/// Waits for a completion (or a [`crate::backend::Waker`]) until `due`, the next timer or 50 ms
/// from `now`, whichever comes first (so that a stop request is seen within 50 ms), and hands it
/// to the controller.
pub(crate) fn await_completion<S: RecordSink + ?Sized>(
    controller: &mut Controller,
    backend: &mut RealBackend,
    sink: &mut S,
    stats: &mut DriveStats,
    now: Time,
    due: Option<Time>,
) {
    let due = [due, backend.next_timer()].into_iter().flatten().min();
    let wait = due.map_or(50_000, |d| d.saturating_sub(now)).min(50_000);
    let received = backend.recv(Duration::from_micros(wait));
    let after = backend.now();
    stats.waiting += after.saturating_sub(now);
    if let Some(c) = received {
        stats.completions += 1;
        controller.on_completion(after, c, backend, sink);
    }
}

/// Ends a run: the platform shut down (unless it was stopped), the records ended.
pub(crate) fn end<S: RecordSink + ?Sized>(
    controller: &mut Controller,
    backend: &mut RealBackend,
    sink: &mut S,
    stats: &mut DriveStats,
) {
    let now = backend.now();
    if !stats.stopped {
        controller.shutdown(now, backend, sink);
    }
    sink.end(now);
    stats.end = now;
}

/// The signal that asked the run to stop (0: none), set by the handlers that
/// [`stop_on_signals`] installs.
pub static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: nix::libc::c_int) {
    // The first signal is the one the run reports.
    let _ = STOP.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// The name of a signal [`STOP`] holds, such as `SIGTERM`.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal) set [`STOP`] instead of
/// killing the process, so that a run cleans up after itself.
pub fn stop_on_signals() -> std::io::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(s, &action) }.map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(())
}
