//! `lambdasim real serve`: users' handlers served over HTTP, each request an invocation that the
//! unchanged controller places, starts warm or cold, and records, as in a replayed run.
//!
//! Two sides meet here. [`Server`] accepts connections on a thread, and serves each connection on
//! a thread of its own ([`crate::http`] reads and writes); a request for a function becomes a
//! [`Work::Call`] on a channel, and the connection's thread waits for its response. [`serve`]
//! is the driver: on one thread it hands each call to the controller as an arrival at the time
//! it is handled, feeds completions and timers as [`crate::driver::drive`] does, and answers a
//! call once the controller has recorded its invocation, with the handler's result. A connection
//! thread wakes the driver through the backend's [`Waker`], so a request waits for nothing.
//!
//! | what happened | status |
//! |---|---|
//! | the handler returned | 200, its result as JSON |
//! | the body is not JSON | 400 |
//! | no such function | 404 |
//! | the handler raised, or returned what JSON cannot hold | 500, `{"error": "Type: message"}` |
//! | its sandbox ran out of memory, crashed or was killed | 502, the reason |
//! | the platform dropped it (no memory to free, queue full) | 503, the reason |
//! | no answer within the invocation timeout (its sandbox is killed) | 504 |
//! | the server stopped first | 503 |

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sim::Controller;
use sim::WorkerId;
use sim::record::{
    DropReason, FailReason, MemoryState, Outcome, Record, RecordSink, RunInfo, SandboxEvent,
};
use workloads::{FunctionId, Invocation, Time};

use crate::backend::{RealBackend, Waker};
use crate::driver::{DriveError, DriveStats, await_completion, end, fire_timer, halted};
use crate::http::{Incoming, Response, Route, read_request, write_response};
use crate::python::{CallKind, PythonHandlers};

/// Work for the driver.
pub enum Work {
    /// Run a function with a body; the reply goes to `reply`.
    Call {
        function: FunctionId,
        body: Vec<u8>,
        reply: Sender<Response>,
    },
    /// The summary so far, as JSON.
    Stats(Sender<Vec<u8>>),
}

/// The response to an invocation the controller recorded: the handler's result if it ran, or
/// why its sandbox could not be made (`failure`) if that is how it failed.
pub fn response(
    record: &Record,
    result: Option<crate::python::CallResult>,
    failure: Option<String>,
) -> Response {
    match record.outcome {
        Outcome::Ok => match result {
            Some(r) if r.kind == CallKind::Ok => Response::json(200, r.output),
            Some(r) => Response::error(r.kind.status(), &String::from_utf8_lossy(&r.output)),
            None => Response::error(500, "the handler gave no result"),
        },
        Outcome::Dropped(reason) => Response::error(
            503,
            &format!(
                "the platform dropped the request: {}",
                match reason {
                    DropReason::NoMemory => "no memory to free on its worker",
                    DropReason::QueueFull => "its worker's queue is full",
                    DropReason::TooLarge => "its function needs more memory than a worker has",
                }
            ),
        ),
        Outcome::Failed(FailReason::Timeout) => Response::error(
            504,
            "the handler did not answer within the invocation timeout; its sandbox was killed",
        ),
        Outcome::Failed(reason) => {
            let what = match reason {
                FailReason::OutOfMemory => "the sandbox ran out of memory and was killed",
                FailReason::SandboxCrashed => "the sandbox died",
                _ => "the sandbox was killed by the platform",
            };
            match failure {
                // The function's latest sandbox could not be made: say why.
                Some(why) => Response::error(502, &format!("{what}: {why}")),
                None => Response::error(502, what),
            }
        }
    }
}

/// A record sink that answers each call once its invocation is recorded, and passes everything
/// on to `inner`.
struct Answering<'a, S: ?Sized> {
    inner: &'a mut S,
    handlers: &'a PythonHandlers,
    waiting: HashMap<u64, Sender<Response>>,
}

impl<S: RecordSink + ?Sized> RecordSink for Answering<'_, S> {
    fn begin(&mut self, info: &RunInfo<'_>) {
        self.inner.begin(info);
    }
    fn invocation(&mut self, record: &Record) {
        self.inner.invocation(record);
        let result = self.handlers.take_result(record.id);
        if let Some(reply) = self.waiting.remove(&record.id) {
            let failure = matches!(record.outcome, Outcome::Failed(_))
                .then(|| self.handlers.failure(record.function.index()))
                .flatten();
            let _ = reply.send(response(record, result, failure));
        }
    }
    fn memory(&mut self, now: Time, worker: WorkerId, state: &MemoryState) {
        self.inner.memory(now, worker, state);
    }
    fn sandbox(&mut self, now: Time, worker: WorkerId, event: SandboxEvent) {
        self.inner.sandbox(now, worker, event);
    }
    fn end(&mut self, now: Time) {
        self.inner.end(now);
    }
}

/// Runs the driver: takes work from `work` until `stop` is set (or every sender is gone and
/// nothing is in flight), then shuts the platform down. `stats` writes the summary so far from
/// the sink, for [`Work::Stats`].
pub fn serve<S: RecordSink + ?Sized>(
    controller: &mut Controller,
    backend: &mut RealBackend,
    handlers: &PythonHandlers,
    work: &Receiver<Work>,
    sink: &mut S,
    stats: &mut dyn FnMut(&S) -> Vec<u8>,
    stop: &AtomicI32,
) -> Result<DriveStats, DriveError> {
    let mut drive = DriveStats::default();
    let mut sink = Answering {
        inner: sink,
        handlers,
        waiting: HashMap::new(),
    };
    sink.begin(&controller.run_info());
    controller
        .start(backend.now(), backend, &mut sink)
        .map_err(DriveError::Setup)?;
    let mut open = true;
    loop {
        if halted(backend, stop, &mut drive) {
            break;
        }
        if fire_timer(controller, backend, &mut sink, &mut drive) {
            continue;
        }
        let now = backend.now();
        if open {
            match work.try_recv() {
                Ok(Work::Call {
                    function,
                    body,
                    reply,
                }) => {
                    let id = controller.next_invocation_id();
                    handlers.submit(id, body);
                    sink.waiting.insert(id, reply);
                    drive.arrivals += 1;
                    let invocation = Invocation {
                        function,
                        arrival: now,
                        duration: 0,
                    };
                    controller.on_arrival(now, &invocation, backend, &mut sink);
                    continue;
                }
                Ok(Work::Stats(reply)) => {
                    let _ = reply.send(stats(sink.inner));
                    continue;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => open = false,
            }
        } else if controller.in_flight() == 0 {
            break;
        }
        await_completion(controller, backend, &mut sink, &mut drive, now, None);
    }
    // A signal is how serving ends: with nothing in flight, the platform shuts down as at the end
    // of a replay (its sandboxes destroyed for the shutdown), as a simulation of the run does.
    if drive.stopped && drive.fault.is_none() && controller.in_flight() == 0 {
        controller.shutdown(backend.now(), backend, &mut sink);
    }
    end(controller, backend, &mut sink, &mut drive);
    // Calls still waiting get their senders dropped: their connections answer 503.
    Ok(drive)
}

/// Limits of the HTTP side.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// How long a connection may sit idle between requests.
    pub idle: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body: 6 << 20,
            max_connections: 512,
            idle: Duration::from_secs(60),
        }
    }
}

/// The HTTP side: a listening socket and the thread that accepts on it.
pub struct Server {
    addr: SocketAddr,
    closing: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `listen` and serves each connection on a thread of its own; calls for the
    /// functions named in `names` (by their ids) go to `work`, and wake the driver.
    pub fn start(
        listen: &str,
        names: HashMap<String, FunctionId>,
        work: Sender<Work>,
        waker: Waker,
        limits: ServerLimits,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(listen).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}"))
        })?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let closing = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            names,
            work: Mutex::new(work),
            waker,
            limits,
            connections: AtomicUsize::new(0),
            closing: closing.clone(),
        });
        let acceptor = std::thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || accept(listener, shared))?;
        Ok(Server {
            addr,
            closing,
            acceptor: Some(acceptor),
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections; open ones get 503 for further requests.
    pub fn close(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

struct Shared {
    names: HashMap<String, FunctionId>,
    work: Mutex<Sender<Work>>,
    waker: Waker,
    limits: ServerLimits,
    connections: AtomicUsize,
    closing: Arc<AtomicBool>,
}

impl Shared {
    fn send(&self, work: Work) -> bool {
        let sent = self
            .work
            .lock()
            .map(|w| w.send(work).is_ok())
            .unwrap_or(false);
        self.waker.wake();
        sent
    }
}

fn accept(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.closing.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                if shared.connections.fetch_add(1, Ordering::SeqCst)
                    >= shared.limits.max_connections
                {
                    shared.connections.fetch_sub(1, Ordering::SeqCst);
                    let mut w = BufWriter::new(stream);
                    let _ = write_response(
                        &mut w,
                        &Response::error(503, "too many connections; try again"),
                        false,
                    );
                    continue;
                }
                let shared = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("http".into())
                    .spawn(move || {
                        connection(stream, &shared);
                        shared.connections.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    crate::log!("lambdasim real serve: cannot start a connection's thread");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(shared.limits.idle));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = BufWriter::new(write_half);
    loop {
        let request = match read_request(&mut reader, shared.limits.max_body) {
            Incoming::Request(r) => r,
            Incoming::Refused(e) => {
                let _ = write_response(&mut writer, &Response::error(e.status, &e.message), false);
                return;
            }
            Incoming::Closed | Incoming::Failed(_) => return,
        };
        let response = if shared.closing.load(Ordering::SeqCst) {
            Response::error(503, "the server is shutting down")
        } else {
            route(&request.method, &request.target, request.body, shared)
        };
        let keep = request.keep_alive && !shared.closing.load(Ordering::SeqCst);
        if write_response(&mut writer, &response, keep).is_err() || !keep {
            return;
        }
    }
}

fn route(method: &str, target: &str, body: Vec<u8>, shared: &Shared) -> Response {
    match Route::of(method, target) {
        Route::Run(name) => {
            let Some(&function) = shared.names.get(&name) else {
                return Response::error(404, &format!("no function named {name:?}"));
            };
            let (reply, answer) = channel();
            if !shared.send(Work::Call {
                function,
                body,
                reply,
            }) {
                return Response::error(503, "the server is shutting down");
            }
            answer
                .recv()
                .unwrap_or_else(|_| Response::error(503, "the server stopped before answering"))
        }
        Route::Status => Response::json(200, r#"{"status":"ready"}"#),
        Route::Stats => {
            let (reply, answer) = channel();
            if !shared.send(Work::Stats(reply)) {
                return Response::error(503, "the server is shutting down");
            }
            match answer.recv() {
                Ok(json) => Response::json(200, json),
                Err(_) => Response::error(503, "the server stopped before answering"),
            }
        }
        Route::WrongMethod(allowed) => {
            Response::error(405, &format!("{target} takes {allowed} only"))
        }
        Route::NotFound => Response::error(
            404,
            &format!("no route {target}; try POST /run/<name>, GET /status or GET /stats"),
        ),
    }
}
