//! Reading a stream on a thread of its own: [`prefetch`] moves an [`InvocationStream`] to a
//! reader thread, which pulls it in batches and hands them over through a bounded channel, so
//! that reading and parsing a trace overlap the simulation on another core.
//!
//! The stream it gives back yields exactly the items of the inner stream, in the same order,
//! errors included where they occur; whatever the inner stream yields after an error is passed
//! on too, and it ends when the inner stream ends (the stream given back is fused: it does not
//! call the inner stream again once that has ended). Memory is bounded: at most `depth` full
//! batches wait in the channel, the reader fills one more and then waits, and no more than
//! `depth + 3` batches ever exist. Drained batches go back to the reader through a second
//! channel, so that the steady state allocates nothing.
//!
//! Dropping the stream early (the consumer stopped on an error) stops the reader and joins it.
//! If the inner stream panics, the items before the panic are delivered and then one
//! [`WorkloadError::Internal`] saying so, and the stream ends.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use crate::{Invocation, InvocationStream, WorkloadError};

/// Invocations per batch: enough that the channel's cost per invocation is negligible. A batch
/// holds 4096 items of 56 bytes, about 230 KB; with [`DEPTH`] the reader holds at most about
/// 1.6 MB (seven batches) however long the trace.
pub const BATCH: usize = 4096;

/// Full batches that may wait in the channel.
pub const DEPTH: usize = 4;

/// Name of the reader thread.
pub const THREAD_NAME: &str = "lambdasim-reader";

type Item = Result<Invocation, WorkloadError>;
type Batch = VecDeque<Item>;

/// `inner`, read on a thread of its own in batches of [`BATCH`] with [`DEPTH`] batches in flight.
pub fn prefetch(inner: InvocationStream) -> InvocationStream {
    prefetch_with(inner, BATCH, DEPTH)
}

/// `inner`, read on a thread of its own in batches of `batch` invocations (at least 1), with up
/// to `depth` full batches (at least 1) waiting for the consumer. If the thread cannot be
/// started, `inner` is returned as it is, to be read on the caller's thread.
pub fn prefetch_with(inner: InvocationStream, batch: usize, depth: usize) -> InvocationStream {
    match Prefetch::start(inner, batch, depth) {
        Ok(p) => Box::new(p),
        Err(inner) => inner,
    }
}

/// What the consumer and the reader share besides the channels.
#[derive(Default)]
struct Shared {
    /// Set when the consumer is dropped: the reader stops at its next invocation.
    stop: AtomicBool,
    /// Batches the reader allocated (rather than got back from the consumer), for tests.
    allocated: AtomicUsize,
}

/// The consumer's end: an iterator over the batches the reader sends.
struct Prefetch {
    /// The batch being drained.
    current: Batch,
    /// Full batches from the reader; `None` once the stream has ended.
    full: Option<Receiver<Batch>>,
    /// Drained batches back to the reader.
    spare: SyncSender<Batch>,
    reader: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    batch: usize,
}

impl Prefetch {
    /// Starts the reader; gives `inner` back if the thread cannot be started.
    fn start(
        inner: InvocationStream,
        batch: usize,
        depth: usize,
    ) -> Result<Self, InvocationStream> {
        let batch = batch.max(1);
        let depth = depth.max(1);
        let (full_tx, full_rx) = sync_channel::<Batch>(depth);
        // Room for every batch there can be (in the channel, the reader's, the consumer's), so
        // that giving one back never blocks and never fails in the steady state.
        let (spare_tx, spare_rx) = sync_channel::<Batch>(depth + 2);
        // The stream is handed over once the thread runs, so that it is still ours if the
        // thread cannot be started.
        let (inner_tx, inner_rx) = sync_channel::<InvocationStream>(1);
        let shared = Arc::new(Shared::default());
        let reader = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(THREAD_NAME.to_string())
                .spawn(move || {
                    if let Ok(inner) = inner_rx.recv() {
                        read(inner, batch, &full_tx, &spare_rx, &shared);
                    }
                })
        };
        let Ok(reader) = reader else {
            return Err(inner);
        };
        if let Err(e) = inner_tx.send(inner) {
            // The thread is gone before it received the stream (it cannot panic before it
            // does): read it here.
            let _ = reader.join();
            return Err(e.0);
        }
        Ok(Prefetch {
            current: VecDeque::new(),
            full: Some(full_rx),
            spare: spare_tx,
            reader: Some(reader),
            shared,
            batch,
        })
    }

    /// The stream has ended: joins the reader, and reports it if it panicked.
    fn finish(&mut self) -> Option<Item> {
        self.full = None;
        let reader = self.reader.take()?;
        match reader.join() {
            Ok(()) => None,
            Err(payload) => Some(Err(panicked(payload.as_ref()))),
        }
    }
}

impl Iterator for Prefetch {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if let Some(item) = self.current.pop_front() {
            return Some(item);
        }
        loop {
            let received = self.full.as_ref()?.recv();
            let Ok(batch) = received else {
                // The reader dropped its sender: it has sent everything and ended, or panicked.
                return self.finish();
            };
            let drained = std::mem::replace(&mut self.current, batch);
            // The first `current` has no room; the reader allocates a batch rather than grow it.
            if drained.capacity() >= self.batch {
                // Full only if the reader has stopped taking spares; then the batch is freed.
                let _ = self.spare.try_send(drained);
            }
            if let Some(item) = self.current.pop_front() {
                return Some(item);
            }
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // With the receiver gone, a reader waiting to send fails at once and returns.
        self.full = None;
        if let Some(reader) = self.reader.take() {
            // A panic was caught and reported in the stream; there is nothing left to report.
            let _ = reader.join();
        }
    }
}

/// The reader thread: fills batches from `inner` and sends them until `inner` ends, it panics,
/// or the consumer is gone.
fn read(
    mut inner: InvocationStream,
    batch_len: usize,
    full: &SyncSender<Batch>,
    spare: &Receiver<Batch>,
    shared: &Shared,
) {
    loop {
        let mut batch = spare.try_recv().unwrap_or_else(|_| {
            shared.allocated.fetch_add(1, Ordering::Relaxed);
            VecDeque::with_capacity(batch_len)
        });
        batch.clear();
        // The panic is caught here rather than left to kill the thread, so that the items read
        // before it are delivered, in order, ahead of the error.
        let filled = panic::catch_unwind(AssertUnwindSafe(|| {
            while batch.len() < batch_len {
                if shared.stop.load(Ordering::Relaxed) {
                    return Fill::Stopped;
                }
                match inner.next() {
                    Some(item) => {
                        let failed = item.is_err();
                        batch.push_back(item);
                        // Hand an error over at once: the consumer usually stops there.
                        if failed {
                            break;
                        }
                    }
                    None => return Fill::Ended,
                }
            }
            Fill::More
        }));
        let fill = filled.unwrap_or_else(|payload| {
            batch.push_back(Err(panicked(payload.as_ref())));
            Fill::Ended
        });
        if fill == Fill::Stopped {
            return;
        }
        if !batch.is_empty() && full.send(batch).is_err() {
            // The consumer is gone.
            return;
        }
        if fill == Fill::Ended {
            return;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// The batch is full (or ends with an error): send it and go on.
    More,
    /// The inner stream ended (or panicked): send what there is and stop.
    Ended,
    /// The consumer is gone.
    Stopped,
}

fn panicked(payload: &(dyn Any + Send)) -> WorkloadError {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    WorkloadError::Internal(format!(
        "the trace reader thread ({THREAD_NAME}) panicked: {message}; this is a bug in lambdasim"
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::FunctionId;

    fn inv(i: u64) -> Invocation {
        Invocation {
            function: FunctionId((i % 7) as u32),
            arrival: i,
            duration: i * 3 + 1,
        }
    }

    /// `n` invocations, with an error instead of the invocation at each of `errors`.
    fn items(n: u64, errors: &[u64]) -> Vec<Item> {
        (0..n)
            .map(|i| {
                if errors.contains(&i) {
                    Err(WorkloadError::Row {
                        path: "t.csv".into(),
                        line: i + 2,
                        message: format!("bad row {i}"),
                    })
                } else {
                    Ok(inv(i))
                }
            })
            .collect()
    }

    /// Items as comparable text (errors are not `PartialEq`).
    fn show(items: impl Iterator<Item = Item>) -> Vec<String> {
        items
            .map(|i| match i {
                Ok(inv) => format!("{inv:?}"),
                Err(e) => format!("error: {e}"),
            })
            .collect()
    }

    fn stream(items: Vec<Item>) -> InvocationStream {
        Box::new(items.into_iter())
    }

    /// Runs `f` on another thread and fails the test if it takes more than 20 s, rather than
    /// hanging the test run.
    fn within_time<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what} did not finish within 20 s"))
    }

    #[test]
    fn yields_the_same_items_in_order_for_every_length() {
        for (batch, depth) in [(BATCH, DEPTH), (4, 1), (1, 1), (3, 2)] {
            for n in [
                0,
                1,
                batch - 1,
                batch,
                batch + 1,
                2 * batch,
                7 * batch + 3,
                25 * batch,
            ] {
                let n = n as u64;
                let expected = show(items(n, &[]).into_iter());
                let got = show(prefetch_with(stream(items(n, &[])), batch, depth));
                assert_eq!(got.len() as u64, n, "batch {batch}, {n} items");
                assert_eq!(got, expected, "batch {batch}, {n} items");
            }
        }
    }

    #[test]
    fn errors_come_out_at_their_position_and_what_follows_them_too() {
        let n = 3 * BATCH as u64 + 5;
        let errors = [
            0,
            17,
            BATCH as u64 - 1,
            BATCH as u64,
            2 * BATCH as u64 + 9,
            n - 1,
        ];
        for (batch, depth) in [(BATCH, DEPTH), (5, 1), (1, 2)] {
            let expected = show(items(n, &errors).into_iter());
            let got = show(prefetch_with(stream(items(n, &errors)), batch, depth));
            assert_eq!(got, expected, "batch {batch}");
            let first = got.iter().position(|s| s.starts_with("error")).unwrap();
            assert_eq!(first, 0);
            assert_eq!(got[17], "error: t.csv, line 19: bad row 17");
        }
    }

    #[test]
    fn a_stream_that_ends_after_its_first_error_ends_there() {
        // As the trace readers do: the error is the last item.
        let mut all = items(100, &[]);
        all.truncate(40);
        all.push(Err(WorkloadError::Parameter("stop".into())));
        let got = show(prefetch_with(stream(all), 16, 2));
        assert_eq!(got.len(), 41);
        assert_eq!(got[40], "error: stop");
    }

    /// What an [`Endless`] stream saw: how many items were pulled, on which thread, and whether
    /// it was dropped.
    #[derive(Default)]
    struct Probe {
        pulled: AtomicUsize,
        dropped: AtomicBool,
        thread: Mutex<Option<String>>,
    }

    /// Invocations without end, reporting to its probe.
    struct Endless {
        next: u64,
        probe: Arc<Probe>,
    }

    impl Iterator for Endless {
        type Item = Item;
        fn next(&mut self) -> Option<Item> {
            if self.next == 0 {
                *self.probe.thread.lock().unwrap() = thread::current().name().map(str::to_string);
            }
            self.probe.pulled.fetch_add(1, Ordering::SeqCst);
            self.next += 1;
            Some(Ok(inv(self.next - 1)))
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.probe.dropped.store(true, Ordering::SeqCst);
        }
    }

    fn endless() -> (InvocationStream, Arc<Probe>) {
        let probe = Arc::new(Probe::default());
        let e = Endless {
            next: 0,
            probe: Arc::clone(&probe),
        };
        (Box::new(e), probe)
    }

    #[test]
    fn runs_on_a_named_thread_and_reads_a_bounded_distance_ahead() {
        let (inner, probe) = endless();
        let (batch, depth) = (100, 3);
        let mut s = prefetch_with(inner, batch, depth);
        assert_eq!(s.next().unwrap().unwrap(), inv(0));
        // The consumer's batch, `depth` in the channel and the one the reader fills and cannot
        // send: the reader gets that far, then waits.
        let most = batch * (depth + 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while probe.pulled.load(Ordering::SeqCst) < most && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        // Time to go further, if it could.
        thread::sleep(Duration::from_millis(200));
        let ahead = probe.pulled.load(Ordering::SeqCst);
        assert_eq!(ahead, most, "invocations read ahead");
        assert_eq!(probe.thread.lock().unwrap().as_deref(), Some(THREAD_NAME));
    }

    #[test]
    fn dropping_the_consumer_stops_and_joins_the_reader() {
        for take in [0, 1, 5, 250] {
            let (inner, probe) = endless();
            let got = within_time("dropping the stream", move || {
                let mut s = prefetch_with(inner, 16, 2);
                let got: Vec<Invocation> = s.by_ref().take(take).map(Result::unwrap).collect();
                drop(s);
                got
            });
            assert_eq!(got, (0..take as u64).map(inv).collect::<Vec<_>>());
            // The inner stream is dropped on the reader thread as it ends, before the join
            // returns: so the join happened.
            assert!(probe.dropped.load(Ordering::SeqCst), "after taking {take}");
        }
    }

    #[test]
    fn steady_state_reuses_batches() {
        let n = 200 * 64;
        let (batch, depth) = (64, 2);
        let p = Prefetch::start(stream(items(n, &[])), batch, depth)
            .unwrap_or_else(|_| panic!("the reader starts"));
        let shared = Arc::clone(&p.shared);
        assert_eq!(p.count() as u64, n);
        let allocated = shared.allocated.load(Ordering::SeqCst);
        // 200 batches went through; only those in flight at once were ever allocated.
        assert!(allocated <= depth + 3, "{allocated} batches allocated");
    }

    /// Yields `n` invocations, then panics.
    struct Panics(u64, u64);

    impl Iterator for Panics {
        type Item = Item;
        fn next(&mut self) -> Option<Item> {
            if self.0 == self.1 {
                panic!("row {} broke the reader", self.0);
            }
            self.0 += 1;
            Some(Ok(inv(self.0 - 1)))
        }
    }

    #[test]
    fn a_panicking_inner_stream_gives_an_error_item_at_its_position() {
        for (n, batch) in [(0, 8), (5, 8), (8, 8), (1000, 64)] {
            let got = within_time("a panicking stream", move || {
                show(prefetch_with(Box::new(Panics(0, n)), batch, 2))
            });
            assert_eq!(got.len() as u64, n + 1, "{got:?}");
            assert_eq!(got[..n as usize], show((0..n).map(|i| Ok(inv(i)))));
            let last = got.last().unwrap();
            assert!(
                last.contains("lambdasim-reader")
                    && last.contains("panicked")
                    && last.contains(&format!("row {n} broke the reader")),
                "{last}"
            );
        }
    }

    /// Panics when dropped, on the reader thread, after it has sent everything.
    struct PanicsOnDrop(u64);

    impl Iterator for PanicsOnDrop {
        type Item = Item;
        fn next(&mut self) -> Option<Item> {
            (self.0 < 10).then(|| {
                self.0 += 1;
                Ok(inv(self.0 - 1))
            })
        }
    }

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("dropping the reader failed");
        }
    }

    #[test]
    fn a_reader_thread_that_dies_is_reported_not_waited_for() {
        let got = within_time("a dying reader", || {
            show(prefetch_with(Box::new(PanicsOnDrop(0)), 4, 1))
        });
        assert_eq!(got.len(), 11, "{got:?}");
        assert!(
            got[10].contains("dropping the reader failed"),
            "{}",
            got[10]
        );
    }
}
