//! The streams readers share: per-minute counts replayed as invocations ([`CountReplay`]), and
//! recorded invocations shaped to a window and a rate ([`EventShaper`]).

use super::*;

/// Non-zero invocation counts of one minute of a count trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    /// Minutes since the start of the trace (of its first selected day).
    pub minute: u64,
    /// `(function, count)` with count > 0, any order.
    pub cells: Vec<(FunctionId, u32)>,
}

/// A source of minutes in increasing order.
pub type MinuteStream = Box<dyn Iterator<Item = Result<MinuteCounts, WorkloadError>> + Send>;

/// Turns per-minute counts into invocations: keeps the requested functions, scales counts by
/// stochastic rounding (`floor(n k)` plus one with probability `frac(n k)`), spreads each minute's
/// arrivals by the [`ArrivalMode`], draws execution times from each function's
/// [`DurationModel`], and clips to the window. Memory: one minute of invocations.
pub struct CountReplay {
    minutes: MinuteStream,
    mode: ArrivalMode,
    durations: Vec<DurationModel>,
    keep: Vec<bool>,
    scale: f64,
    window: Window,
    arrivals_rng: Xoshiro256PlusPlus,
    scale_rng: Xoshiro256PlusPlus,
    duration_rng: Xoshiro256PlusPlus,
    batch: Vec<Invocation>,
    next: usize,
    last_minute: Option<u64>,
    done: bool,
}

impl CountReplay {
    pub fn new(
        minutes: MinuteStream,
        mode: ArrivalMode,
        durations: Vec<DurationModel>,
        request: StreamRequest,
    ) -> Self {
        CountReplay {
            minutes,
            mode,
            durations,
            keep: request.keep,
            scale: request.scale,
            window: request.window,
            arrivals_rng: stream(request.seed, 1),
            scale_rng: stream(request.seed, 2),
            duration_rng: stream(request.seed, 3),
            batch: Vec::new(),
            next: 0,
            last_minute: None,
            done: false,
        }
    }

    fn fill(&mut self, minute: MinuteCounts) -> Result<(), WorkloadError> {
        if let Some(last) = self.last_minute
            && minute.minute <= last
        {
            return Err(WorkloadError::Parameter(format!(
                "internal: minute {} delivered after minute {last}",
                minute.minute
            )));
        }
        self.last_minute = Some(minute.minute);
        self.batch.clear();
        self.next = 0;
        if !self.window.overlaps_minute(minute.minute) {
            return Ok(());
        }
        let mut cells = minute.cells;
        cells.sort_unstable_by_key(|c| c.0);
        let base = minute.minute * MICROS_PER_MIN;
        let mut counts = Vec::with_capacity(cells.len());
        let mut total: u64 = 0;
        for (f, n) in cells {
            if !self.keep.get(f.index()).copied().unwrap_or(false) || n == 0 {
                continue;
            }
            let n = if self.scale == 1.0 {
                u64::from(n)
            } else {
                let x = f64::from(n) * self.scale;
                let whole = x.floor();
                whole as u64 + u64::from(self.scale_rng.random::<f64>() < x - whole)
            };
            total = total.saturating_add(n);
            counts.push((f, n));
        }
        if total > crate::limits::MAX_ARRIVALS_PER_MINUTE {
            return Err(WorkloadError::Parameter(format!(
                "minute {} of the trace has {total} arrivals (its counts times the rate scale), \
                 more than the {} a minute lambdasim replays",
                minute.minute,
                crate::limits::MAX_ARRIVALS_PER_MINUTE
            )));
        }
        for (f, n) in counts {
            self.spread(f, base, n);
        }
        self.batch.retain(|i| self.window.contains(i.arrival));
        for inv in &mut self.batch {
            inv.arrival -= self.window.start;
        }
        self.batch
            .sort_unstable_by_key(|i| (i.arrival, i.function, i.duration));
        Ok(())
    }

    /// Pushes `n` arrivals of `f` in the minute starting at `base`.
    fn spread(&mut self, f: FunctionId, base: Time, n: u64) {
        if n == 0 {
            return;
        }
        let minute = MICROS_PER_MIN;
        let model = &self.durations[f.index()];
        let mut push = |arrival: Time, rng: &mut Xoshiro256PlusPlus| {
            self.batch.push(Invocation {
                function: f,
                arrival,
                duration: model.sample(rng),
            });
        };
        match self.mode {
            ArrivalMode::Even => {
                for i in 0..n {
                    push(base + i * minute / n, &mut self.duration_rng);
                }
            }
            ArrivalMode::Uniform => {
                for _ in 0..n {
                    let t = self.arrivals_rng.random_range(0..minute);
                    push(base + t, &mut self.duration_rng);
                }
            }
            ArrivalMode::Poisson => {
                let mean_gap = minute as f64 / n as f64;
                let mut t = 0.0;
                loop {
                    let gap: f64 = Exp1.sample(&mut self.arrivals_rng);
                    t += gap * mean_gap;
                    if t >= minute as f64 {
                        break;
                    }
                    push(base + t as Time, &mut self.duration_rng);
                }
            }
            ArrivalMode::EquidistantShifted => {
                let gap = minute as f64 / n as f64;
                let offset = self.arrivals_rng.random::<f64>() * gap;
                for i in 0..n {
                    let t = (offset + i as f64 * gap) as Time;
                    push(base + t.min(minute - 1), &mut self.duration_rng);
                }
            }
        }
    }
}

impl Iterator for CountReplay {
    type Item = Result<Invocation, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.next < self.batch.len() {
                self.next += 1;
                return Some(Ok(self.batch[self.next - 1]));
            }
            if self.done {
                return None;
            }
            match self.minutes.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(m)) => {
                    if m.minute * MICROS_PER_MIN >= self.window.end {
                        self.done = true;
                        return None;
                    }
                    if let Err(e) = self.fill(m) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}

/// Shapes a stream of recorded invocations (Azure 2021, native): keeps the requested functions,
/// clips to the window (arrivals relative to its start) and scales the rate. A factor below 1
/// keeps each invocation with that probability; above 1, each invocation is replayed
/// `floor(k)` times plus once more with probability `frac(k)`, the copies after the first placed
/// uniformly at random in the following minute (the trace's own time resolution in 2019), so
/// that copies do not arrive as one burst. The input must be sorted by arrival.
pub struct EventShaper {
    input: InvocationStream,
    keep: Vec<bool>,
    scale: f64,
    window: Window,
    rng: Xoshiro256PlusPlus,
    /// Copies waiting for their time, ordered by (arrival, sequence).
    pending: BinaryHeap<Reverse<(Time, u64, u32, Time)>>,
    sequence: u64,
    /// Arrival of the last original read: the input is sorted, so nothing earlier can still come.
    last_original: Option<Time>,
    input_done: bool,
    failed: bool,
}

impl EventShaper {
    /// Copies are spread over this long after their original.
    pub const COPY_SPREAD: Time = MICROS_PER_MIN;

    pub fn new(input: InvocationStream, request: StreamRequest) -> Self {
        EventShaper {
            input,
            keep: request.keep,
            scale: request.scale,
            window: request.window,
            rng: stream(request.seed, 4),
            pending: BinaryHeap::new(),
            sequence: 0,
            last_original: None,
            input_done: false,
            failed: false,
        }
    }

    fn push(&mut self, inv: Invocation) {
        self.pending.push(Reverse((
            inv.arrival,
            self.sequence,
            inv.function.0,
            inv.duration,
        )));
        self.sequence += 1;
    }

    /// Reads one input invocation into `pending`; false at the end of the input or window.
    fn pull(&mut self) -> Result<bool, WorkloadError> {
        loop {
            let Some(next) = self.input.next() else {
                return Ok(false);
            };
            let inv = next?;
            if inv.arrival >= self.window.end {
                return Ok(false);
            }
            if inv.arrival < self.window.start
                || !self
                    .keep
                    .get(inv.function.index())
                    .copied()
                    .unwrap_or(false)
            {
                continue;
            }
            let inv = Invocation {
                arrival: inv.arrival - self.window.start,
                ..inv
            };
            self.last_original = Some(inv.arrival);
            let copies = if self.scale == 1.0 {
                1
            } else {
                let whole = self.scale.floor();
                whole as u64 + u64::from(self.rng.random::<f64>() < self.scale - whole)
            };
            let span = (self.window.end - self.window.start).saturating_sub(inv.arrival);
            for c in 0..copies {
                let delay = if c == 0 {
                    0
                } else {
                    self.rng.random_range(0..Self::COPY_SPREAD.min(span).max(1))
                };
                self.push(Invocation {
                    arrival: inv.arrival + delay,
                    ..inv
                });
            }
            return Ok(true);
        }
    }
}

impl Iterator for EventShaper {
    type Item = Result<Invocation, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // A pending invocation may be emitted once the input has reached its time.
        loop {
            let ready = match (self.pending.peek(), self.input_done) {
                (Some(_), true) => true,
                (Some(Reverse(head)), false) => self.last_original.is_some_and(|t| head.0 <= t),
                (None, true) => return None,
                (None, false) => false,
            };
            if ready {
                let Reverse((arrival, _, f, duration)) = self.pending.pop()?;
                return Some(Ok(Invocation {
                    function: FunctionId(f),
                    arrival,
                    duration,
                }));
            }
            match self.pull() {
                Ok(true) => {}
                Ok(false) => self.input_done = true,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
