//! The invocation stream: the invocation files read again, a day at a time.

use super::*;

/// One selected day, as the stream reads it again.
pub(super) struct SourceDay {
    pub(super) path: PathBuf,
    /// Minute of the trace where the day starts.
    pub(super) offset: u64,
    pub(super) layout: Layout,
    pub(super) need_trigger: bool,
    /// The columns found when the trace was opened.
    pub(super) columns: InvocationColumns,
}

pub(super) struct Source {
    pub(super) days: Vec<SourceDay>,
    pub(super) keys: KeyMap<u32>,
    pub(super) catalog_ids: Vec<u32>,
    pub(super) functions: usize,
    pub(super) durations: Vec<DurationModel>,
    pub(super) arrivals: crate::trace::ArrivalMode,
}

impl TraceSource for Source {
    fn stream(self: Box<Self>, request: StreamRequest) -> Result<InvocationStream, WorkloadError> {
        let Source {
            days,
            keys,
            catalog_ids,
            functions,
            durations,
            arrivals,
        } = *self;
        let requested = |&id: &u32| request.keep.get(id as usize).copied().unwrap_or(false);
        let wanted = catalog_ids
            .into_iter()
            .map(|id| if requested(&id) { id } else { u32::MAX })
            .collect();
        let minutes = DayMinutes {
            days: days.into_iter(),
            keys,
            wanted,
            window: request.window,
            seen: vec![0; functions],
            stamp: 0,
            cells: Vec::new(),
            next: 0,
            offset: 0,
            key: String::new(),
            failed: false,
        };
        Ok(Box::new(CountReplay::new(
            Box::new(minutes),
            arrivals,
            durations,
            request,
        )))
    }
}

/// Non-zero cells of the requested functions, minute by minute, reading one day at a time.
pub(super) struct DayMinutes {
    pub(super) days: std::vec::IntoIter<SourceDay>,
    /// Key → candidate of the open pass.
    pub(super) keys: KeyMap<u32>,
    /// Candidate → catalog function id if requested, `u32::MAX` otherwise.
    pub(super) wanted: Vec<u32>,
    pub(super) window: Window,
    /// Stamp of the last day that had a row for each function, to keep only the first row.
    pub(super) seen: Vec<u32>,
    pub(super) stamp: u32,
    /// The current day's cells inside the window: (minute of the day, function, count), sorted
    /// by minute.
    pub(super) cells: Vec<(u16, u32, u32)>,
    pub(super) next: usize,
    pub(super) offset: u64,
    pub(super) key: String,
    pub(super) failed: bool,
}

impl DayMinutes {
    /// Reads `day`'s invocation file into `cells`. Rows the open pass left out are left out again:
    /// malformed rows, later rows of a key and rows of functions not requested.
    pub(super) fn load(&mut self, day: &SourceDay) -> Result<(), WorkloadError> {
        self.cells.clear();
        self.next = 0;
        self.offset = day.offset;
        self.stamp += 1;
        let mut lines = Lines::open(&day.path)?;
        let changed = || WorkloadError::File {
            path: show(&day.path),
            message: "the header changed since the trace was opened".into(),
        };
        if !lines.next_line()? {
            return Err(changed());
        }
        let columns =
            InvocationColumns::parse(&day.path, &lines.buf, day.layout, day.need_trigger)?;
        if columns != day.columns {
            return Err(changed());
        }
        let inside = minutes_in_window(&self.window, day.offset, columns.minutes);
        let mut row: Vec<(u16, u32)> = Vec::new();
        while lines.next_line()? {
            if lines.buf.is_empty() {
                continue;
            }
            row.clear();
            let parsed = parse_row(&lines.buf, &columns, |k, n| {
                if inside.contains(&k) {
                    row.push((k as u16, n));
                }
            })
            .and_then(|ranges| row_keys(&lines.buf, ranges));
            let Ok([owner, app, function, _]) = parsed else {
                continue;
            };
            function_key(&mut self.key, owner, app, function);
            let Some(&candidate) = self.keys.get(self.key.as_str()) else {
                continue;
            };
            let f = self.wanted[candidate as usize];
            if f == u32::MAX {
                continue;
            }
            let seen = &mut self.seen[f as usize];
            if *seen == self.stamp {
                continue;
            }
            *seen = self.stamp;
            self.cells.extend(row.iter().map(|&(k, n)| (k, f, n)));
        }
        self.cells.sort_unstable_by_key(|c| c.0);
        Ok(())
    }
}

impl Iterator for DayMinutes {
    type Item = Result<MinuteCounts, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(&(minute, _, _)) = self.cells.get(self.next) {
                let end = self.cells[self.next..]
                    .iter()
                    .position(|c| c.0 != minute)
                    .map_or(self.cells.len(), |n| self.next + n);
                let cells = self.cells[self.next..end]
                    .iter()
                    .map(|&(_, f, n)| (FunctionId(f), n))
                    .collect();
                self.next = end;
                return Some(Ok(MinuteCounts {
                    minute: self.offset + u64::from(minute),
                    cells,
                }));
            }
            self.cells = Vec::new();
            let day = self.days.next()?;
            let start = day.offset.saturating_mul(MICROS_PER_MIN);
            if start >= self.window.end {
                self.days = Vec::new().into_iter();
                return None;
            }
            let end = (day.offset + day.columns.minutes as u64).saturating_mul(MICROS_PER_MIN);
            if end <= self.window.start {
                continue;
            }
            if let Err(e) = self.load(&day) {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}
