//! The open pass: every selected day's files read once, the functions cleaned and the catalogue built.

use super::*;

/// A function seen in an invocation file, before cleaning.
pub(super) struct Candidate {
    pub(super) app: u32,
    pub(super) function: Box<str>,
    pub(super) trigger: Box<str>,
    /// Invocations inside the window, over all selected days.
    pub(super) count: u64,
    pub(super) duration: Option<DurationStats>,
    /// A duration row was found, but its average was not positive.
    pub(super) zero_average: bool,
    /// Memory from a per-function memory row.
    pub(super) memory: Option<u32>,
    /// Stamp (day + 1) of the last invocation, duration and memory file that had a row for it.
    pub(super) seen_invocations: u32,
    pub(super) seen_durations: u32,
    pub(super) seen_memory: u32,
}

pub(super) struct AppEntry {
    pub(super) owner: Box<str>,
    pub(super) app: Box<str>,
    pub(super) memory: Option<u32>,
    pub(super) seen_memory: u32,
}

#[derive(Default)]
pub(super) struct Scan {
    pub(super) functions: Vec<Candidate>,
    pub(super) apps: Vec<AppEntry>,
    pub(super) function_ids: KeyMap<u32>,
    pub(super) app_ids: KeyMap<u32>,
    pub(super) key: String,
}

/// The catalog and what goes with it.
pub(super) struct Built {
    pub(super) catalog: Catalog,
    pub(super) counts: Vec<u64>,
    pub(super) durations: Vec<DurationModel>,
    /// Key → candidate (function of any invocation row, kept or not).
    pub(super) keys: KeyMap<u32>,
    /// Candidate → catalog function id, `u32::MAX` for candidates left out.
    pub(super) catalog_ids: Vec<u32>,
    pub(super) app_memory: Vec<u32>,
    pub(super) function_memory: Vec<Option<u32>>,
}

impl Scan {
    pub(super) fn function_or_insert(
        &mut self,
        owner: &str,
        app: &str,
        function: &str,
        trigger: &str,
    ) -> usize {
        function_key(&mut self.key, owner, app, function);
        if let Some(&f) = self.function_ids.get(self.key.as_str()) {
            return f as usize;
        }
        let f = self.functions.len();
        self.function_ids.insert(self.key.as_str().into(), f as u32);
        app_key(&mut self.key, owner, app);
        let a = match self.app_ids.get(self.key.as_str()) {
            Some(&a) => a,
            None => {
                let a = self.apps.len() as u32;
                self.app_ids.insert(self.key.as_str().into(), a);
                self.apps.push(AppEntry {
                    owner: owner.into(),
                    app: app.into(),
                    memory: None,
                    seen_memory: 0,
                });
                a
            }
        };
        self.functions.push(Candidate {
            app: a,
            function: function.into(),
            trigger: trigger.into(),
            count: 0,
            duration: None,
            zero_average: false,
            memory: None,
            seen_invocations: 0,
            seen_durations: 0,
            seen_memory: 0,
        });
        f
    }

    pub(super) fn find_function(
        &mut self,
        owner: &str,
        app: &str,
        function: &str,
    ) -> Option<usize> {
        function_key(&mut self.key, owner, app, function);
        self.function_ids
            .get(self.key.as_str())
            .map(|&f| f as usize)
    }

    pub(super) fn find_app(&mut self, owner: &str, app: &str) -> Option<usize> {
        app_key(&mut self.key, owner, app);
        self.app_ids.get(self.key.as_str()).map(|&a| a as usize)
    }

    /// Reads one day's invocation file: registers its functions and adds their counts inside the
    /// window. Returns the file's columns.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn read_invocations(
        &mut self,
        day: &DayFiles,
        stamp: u32,
        layout: Layout,
        need_trigger: bool,
        window: Window,
        skip: bool,
        report: &mut LoadReport,
    ) -> Result<InvocationColumns, WorkloadError> {
        let path = &day.invocations;
        let mut lines = Lines::open(path)?;
        if !lines.next_line()? {
            return Err(WorkloadError::File {
                path: show(path),
                message: format!(
                    "is empty; expected the header {}",
                    layout.invocations_header()
                ),
            });
        }
        let columns = InvocationColumns::parse(path, &lines.buf, layout, need_trigger)?;
        let inside = minutes_in_window(&window, day.offset, columns.minutes);
        while lines.next_line()? {
            if lines.buf.is_empty() {
                continue;
            }
            let mut count = 0u64;
            let row = parse_row(&lines.buf, &columns, |k, n| {
                if inside.contains(&k) {
                    count += u64::from(n);
                }
            })
            .and_then(|ranges| row_keys(&lines.buf, ranges));
            let [owner, app, function, trigger] = match row {
                Ok(keys) => keys,
                Err(message) => {
                    report.bad_row(skip, row_error(path, lines.number, message))?;
                    continue;
                }
            };
            let f = self.function_or_insert(owner, app, function, trigger);
            let candidate = &mut self.functions[f];
            if candidate.seen_invocations == stamp {
                report.drop(DUPLICATE_INVOCATIONS, 1);
                continue;
            }
            candidate.seen_invocations = stamp;
            candidate.count += count;
        }
        Ok(columns)
    }

    pub(super) fn read_durations(
        &mut self,
        path: &Path,
        layout: Layout,
        stamp: u32,
        skip: bool,
        report: &mut LoadReport,
    ) -> Result<(), WorkloadError> {
        let expected = layout.durations_header();
        let (mut reader, header) = open_table(path, expected)?;
        let column = |name: &str| find_column(path, &header, name, expected);
        let keys = [
            column("HashOwner")?,
            column("HashApp")?,
            column("HashFunction")?,
        ];
        let average = column("Average")?;
        let minimum = column("Minimum")?;
        let maximum = column("Maximum")?;
        let mut percentiles = [0; 7];
        for (slot, name) in percentiles
            .iter_mut()
            .zip(DurationStats::PERCENTILE_COLUMNS)
        {
            *slot = column(name)?;
        }
        let mut record = ByteRecord::new();
        let mut orphans: HashSet<Box<str>, BuildHasherDefault<KeyHasher>> = HashSet::default();
        while let Some(line) = next_record(&mut reader, &mut record, path, skip, report)? {
            let parsed = (|| {
                let [owner, app, function] =
                    [0, 1, 2].map(|k| key_text(field(&record, keys[k]), KEY_COLUMNS[k], true));
                let (owner, app, function) = (owner?, app?, function?);
                // No duration past the longest lambdasim replays (a year), so that none can
                // overflow the engine's clock.
                let max_ms = crate::limits::MAX_DURATION_US as f64 / 1000.0;
                let within = |v: f64, name: &str| -> Result<f64, String> {
                    if v > max_ms {
                        return Err(format!(
                            "column {name:?}: {v:e} ms is longer than the longest duration \
                             lambdasim replays ({max_ms} ms, a year)"
                        ));
                    }
                    Ok(v)
                };
                let non_negative = |col: usize, name: &str| -> Result<f64, String> {
                    let v = number(&record, col, name, "a number of milliseconds")?;
                    if v < 0.0 {
                        return Err(format!("column {name:?}: {v} is negative"));
                    }
                    within(v, name)
                };
                let avg = within(
                    number(&record, average, "Average", "a number of milliseconds")?,
                    "Average",
                )?;
                let mut p = [0.0; 7];
                for ((slot, &col), name) in p
                    .iter_mut()
                    .zip(&percentiles)
                    .zip(DurationStats::PERCENTILE_COLUMNS)
                {
                    *slot = non_negative(col, name)?;
                }
                let stats = DurationStats {
                    average: avg,
                    minimum: non_negative(minimum, "Minimum")?,
                    maximum: non_negative(maximum, "Maximum")?,
                    percentiles: p,
                };
                stats.check_order()?;
                Ok::<_, String>((owner, app, function, stats))
            })();
            let (owner, app, function, stats) = match parsed {
                Ok(row) => row,
                Err(message) => {
                    report.bad_row(skip, row_error(path, line, message))?;
                    continue;
                }
            };
            let Some(f) = self.find_function(owner, app, function) else {
                if orphans.insert(self.key.as_str().into()) {
                    report.drop(ORPHAN_DURATION, 1);
                } else {
                    report.drop(DUPLICATE_DURATIONS, 1);
                }
                continue;
            };
            let candidate = &mut self.functions[f];
            if candidate.seen_durations == stamp {
                report.drop(DUPLICATE_DURATIONS, 1);
                continue;
            }
            candidate.seen_durations = stamp;
            if candidate.duration.is_some() {
                continue;
            }
            if stats.average > 0.0 {
                candidate.duration = Some(stats);
            } else {
                candidate.zero_average = true;
            }
        }
        Ok(())
    }

    pub(super) fn read_memory(
        &mut self,
        path: &Path,
        layout: Layout,
        value_column: &str,
        stamp: u32,
        skip: bool,
        report: &mut LoadReport,
    ) -> Result<(), WorkloadError> {
        let expected = layout.memory_header();
        let (mut reader, header) = open_table(path, expected)?;
        let column = |name: &str| find_column(path, &header, name, expected);
        let owner_col = column("HashOwner")?;
        let app_col = column("HashApp")?;
        let function_col = header.iter().position(|h| h == "HashFunction");
        let value_col = column(value_column)?;
        // The percentile columns the file has, in increasing order: their values must not
        // decrease.
        let percentile_cols: Vec<(String, usize)> = MemoryPercentile::PERCENTILES
            .iter()
            .map(|&p| MemoryPercentile::Pct(p).column())
            .filter_map(|name| {
                let col = header.iter().position(|h| *h == name)?;
                Some((name, col))
            })
            .collect();
        let mut record = ByteRecord::new();
        while let Some(line) = next_record(&mut reader, &mut record, path, skip, report)? {
            let parsed = (|| {
                let owner = key_text(field(&record, owner_col), "HashOwner", true)?;
                let app = key_text(field(&record, app_col), "HashApp", true)?;
                let function = function_col
                    .map(|c| key_text(field(&record, c), "HashFunction", true))
                    .transpose()?;
                let mut previous: Option<(&str, f64)> = None;
                for (name, col) in &percentile_cols {
                    let v = number(&record, *col, name, "a number of MB")?;
                    if let Some((before, b)) = previous
                        && b > v
                    {
                        return Err(out_of_order(before, b, name, v));
                    }
                    previous = Some((name, v));
                }
                let mb = number(&record, value_col, value_column, "a positive number of MB")?;
                if mb <= 0.0 {
                    return Err(format!(
                        "column {value_column:?}: {mb} is not a positive number of MB"
                    ));
                }
                Ok::<_, String>((
                    owner,
                    app,
                    function,
                    mb.round().clamp(1.0, f64::from(u32::MAX)) as u32,
                ))
            })();
            let (owner, app, function, mb) = match parsed {
                Ok(row) => row,
                Err(message) => {
                    report.bad_row(skip, row_error(path, line, message))?;
                    continue;
                }
            };
            // Rows of apps or functions without invocations are of no use and are passed over.
            let (seen, memory) = match function {
                Some(function) => match self.find_function(owner, app, function) {
                    Some(f) => {
                        let c = &mut self.functions[f];
                        (&mut c.seen_memory, &mut c.memory)
                    }
                    None => continue,
                },
                None => match self.find_app(owner, app) {
                    Some(a) => {
                        let entry = &mut self.apps[a];
                        (&mut entry.seen_memory, &mut entry.memory)
                    }
                    None => continue,
                },
            };
            if *seen == stamp {
                report.drop(DUPLICATE_MEMORY, 1);
                continue;
            }
            *seen = stamp;
            memory.get_or_insert(mb);
        }
        Ok(())
    }

    /// Cleans the candidates and builds the catalog, in first-appearance order.
    pub(super) fn build(
        self,
        spec: &TraceSpec,
        any_memory: bool,
        report: &mut LoadReport,
    ) -> Built {
        let Scan {
            functions,
            apps,
            function_ids,
            ..
        } = self;
        let mut catalog = Catalog::default();
        let mut counts = Vec::new();
        let mut durations = Vec::new();
        let mut function_memory = Vec::new();
        let mut app_memory: Vec<u32> = Vec::new();
        let mut app_map = vec![u32::MAX; apps.len()];
        let mut function_map = vec![u32::MAX; functions.len()];
        let mut app_names = Names::default();
        let mut function_names = Names::default();
        for (i, c) in functions.iter().enumerate() {
            let entry = &apps[c.app as usize];
            if !spec.triggers.is_empty() && !spec.triggers.iter().any(|t| **t == *c.trigger) {
                report.drop(TRIGGER_FILTERED, 1);
                continue;
            }
            let Some(stats) = c.duration else {
                report.drop(
                    if c.zero_average {
                        ZERO_AVERAGE
                    } else {
                        NO_DURATION
                    },
                    1,
                );
                continue;
            };
            if any_memory && c.memory.is_none() && entry.memory.is_none() {
                report.drop(NO_MEMORY, 1);
                continue;
            }
            let a = c.app as usize;
            if app_map[a] == u32::MAX {
                app_map[a] = catalog.apps.len() as u32;
                catalog.apps.push(App {
                    name: app_names.unique(&entry.app, &entry.owner),
                });
                app_memory.push(entry.memory.unwrap_or(0));
            }
            let app = app_map[a];
            if entry.memory.is_none()
                && let Some(mb) = c.memory
            {
                let slot = &mut app_memory[app as usize];
                *slot = (*slot).max(mb);
            }
            let (model, init) = stats.model(spec.durations);
            function_map[i] = catalog.functions.len() as u32;
            catalog.functions.push(Function {
                name: function_names.unique(&c.function, &catalog.apps[app as usize].name),
                app: AppId(app),
                memory_mb: 0,
                concurrency: None,
                init,
                packages: Vec::new(),
            });
            counts.push(c.count);
            durations.push(model);
            function_memory.push(c.memory);
        }
        Built {
            catalog,
            counts,
            durations,
            keys: function_ids,
            catalog_ids: function_map,
            app_memory,
            function_memory,
        }
    }
}
