//! Synthetic days in the original layout, for tests and benchmarks.

use super::*;

/// Trigger shares of functions in the 2019 trace (Shahrad et al., Figure 3).
pub(super) const TRIGGER_MIX: [(&str, f64); 7] = [
    ("http", 0.55),
    ("queue", 0.15),
    ("event", 0.02),
    ("orchestration", 0.07),
    ("timer", 0.16),
    ("storage", 0.03),
    ("others", 0.02),
];

/// Periods of timer triggers, in minutes.
pub(super) const TIMER_PERIODS: [u32; 8] = [1, 5, 10, 15, 30, 60, 60, 1440];

pub(super) struct SynthApp {
    pub(super) owner: [u8; 64],
    pub(super) app: [u8; 64],
    pub(super) memory_mb: f64,
}

pub(super) struct SynthFunction {
    pub(super) app: usize,
    pub(super) hash: [u8; 64],
    pub(super) trigger: &'static str,
    /// Timer period in minutes, 0 for other triggers.
    pub(super) period: u32,
    /// Mean invocations per minute.
    pub(super) rate: f64,
    /// Phase of the daily cycle.
    pub(super) phase: f64,
    pub(super) average_ms: f64,
}

pub(super) struct Population {
    pub(super) apps: Vec<SynthApp>,
    pub(super) functions: Vec<SynthFunction>,
}

pub(super) fn hex_hash(rng: &mut Xoshiro256PlusPlus) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for chunk in out.chunks_mut(16) {
        let mut bits: u64 = rng.random();
        for b in chunk {
            *b = HEX[(bits & 15) as usize];
            bits >>= 4;
        }
    }
    out
}

pub(super) fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

impl Population {
    pub(super) fn draw(functions: usize, seed: u64) -> Self {
        let mut rng = stream(seed, 1);
        let mut apps: Vec<SynthApp> = Vec::new();
        let mut out = Vec::with_capacity(functions);
        while out.len() < functions {
            let owner = match apps.last() {
                Some(last) if rng.random::<f64>() < 0.3 => last.owner,
                _ => hex_hash(&mut rng),
            };
            let app = hex_hash(&mut rng);
            let memory_mb = (170f64.ln() + 0.7 * normal(&mut rng))
                .exp()
                .clamp(20.0, 4000.0);
            apps.push(SynthApp {
                owner,
                app,
                memory_mb,
            });
            let size = rng.random_range(1..=5usize).min(functions - out.len());
            for _ in 0..size {
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let trigger = TRIGGER_MIX
                    .iter()
                    .find(|(_, share)| {
                        acc += share;
                        u < acc
                    })
                    .map_or("others", |(t, _)| *t);
                let (period, rate) = if trigger == "timer" {
                    let period = TIMER_PERIODS[rng.random_range(0..TIMER_PERIODS.len())];
                    (period, 1.0 / f64::from(period))
                } else {
                    // log10 of the rate per minute: most functions a few times a day, a few
                    // thousands of times a minute.
                    let log_rate = (-1.6 + 1.5 * normal(&mut rng)).min(3.7);
                    (0, 10f64.powf(log_rate))
                };
                out.push(SynthFunction {
                    app: apps.len() - 1,
                    hash: hex_hash(&mut rng),
                    trigger,
                    period,
                    rate,
                    phase: rng.random::<f64>() * std::f64::consts::TAU,
                    average_ms: (700f64.ln() + 1.7 * normal(&mut rng))
                        .exp()
                        .clamp(1.0, 1_000_000.0),
                });
            }
        }
        Population {
            apps,
            functions: out,
        }
    }

    /// Writes the invocation file; returns its size and each function's daily total.
    pub(super) fn write_invocations(
        &self,
        path: &Path,
        day: u32,
        seed: u64,
    ) -> Result<(u64, Vec<u64>), WorkloadError> {
        let minutes = MINUTES_PER_DAY as usize;
        let mut rng = stream(seed, 1000 + u64::from(day));
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut out = Counted {
            inner: BufWriter::with_capacity(1 << 20, file),
            bytes: 0,
        };
        let fail = |e: io::Error| io_error(path, e);
        let mut row: Vec<u8> = Vec::with_capacity(8 << 10);
        row.extend_from_slice(b"HashOwner,HashApp,HashFunction,Trigger");
        for k in 1..=minutes {
            row.push(b',');
            push_number(&mut row, k as u64);
        }
        row.push(b'\n');
        out.write_all(&row).map_err(fail)?;
        let mut cells = vec![0u32; minutes];
        let mut totals = Vec::with_capacity(self.functions.len());
        for f in &self.functions {
            cells.fill(0);
            if f.period > 0 {
                let period = f.period as usize;
                let first = rng.random_range(0..period.min(minutes));
                for k in (first..minutes).step_by(period) {
                    cells[k] = 1;
                }
            } else if f.rate < 2.0 {
                let total =
                    Poisson::new(f.rate * minutes as f64).map_or(0.0, |d| d.sample(&mut rng));
                for _ in 0..total as u64 {
                    cells[rng.random_range(0..minutes)] += 1;
                }
            } else {
                for (k, cell) in cells.iter_mut().enumerate() {
                    let daily = (std::f64::consts::TAU * k as f64 / minutes as f64 + f.phase).sin();
                    let mean = f.rate * (1.0 + 0.4 * daily);
                    *cell = (mean + mean.sqrt() * normal(&mut rng)).round().max(0.0) as u32;
                }
            }
            let app = &self.apps[f.app];
            row.clear();
            for (i, part) in [
                &app.owner[..],
                &app.app[..],
                &f.hash[..],
                f.trigger.as_bytes(),
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    row.push(b',');
                }
                row.extend_from_slice(part);
            }
            for &c in &cells {
                row.push(b',');
                push_number(&mut row, u64::from(c));
            }
            row.push(b'\n');
            out.write_all(&row).map_err(fail)?;
            totals.push(cells.iter().map(|&c| u64::from(c)).sum());
        }
        out.inner.flush().map_err(fail)?;
        Ok((out.bytes, totals))
    }

    pub(super) fn write_durations(
        &self,
        path: &Path,
        totals: &[u64],
        seed: u64,
    ) -> Result<(), WorkloadError> {
        let mut rng = stream(seed, 2);
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let fail = |e: io::Error| io_error(path, e);
        writeln!(out, "{}", Layout::Original.durations_header()).map_err(fail)?;
        for (f, &total) in self.functions.iter().zip(totals) {
            let app = &self.apps[f.app];
            let avg = f.average_ms;
            let min = avg * (0.1 + 0.5 * rng.random::<f64>());
            let max = avg * (2.5 + (0.8 * normal(&mut rng)).exp());
            let p25 = 0.7 * avg;
            let points = [
                min,
                min + 0.1 * (p25 - min),
                p25,
                0.9 * avg,
                1.1 * avg,
                2.0 * avg,
                max,
            ];
            write!(
                out,
                "{},{},{},{},{},{:.1},{:.1}",
                ascii(&app.owner),
                ascii(&app.app),
                ascii(&f.hash),
                avg.round().max(1.0),
                total,
                min,
                max
            )
            .map_err(fail)?;
            for p in points {
                write!(out, ",{}", p.round()).map_err(fail)?;
            }
            writeln!(out).map_err(fail)?;
        }
        out.flush().map_err(fail)
    }

    pub(super) fn write_memory(&self, path: &Path) -> Result<(), WorkloadError> {
        const FACTORS: [f64; 8] = [0.8, 0.85, 0.95, 1.0, 1.05, 1.15, 1.2, 1.3];
        let file = File::create(path).map_err(|e| io_error(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let fail = |e: io::Error| io_error(path, e);
        writeln!(out, "{}", Layout::Original.memory_header()).map_err(fail)?;
        for (i, app) in self.apps.iter().enumerate() {
            let mb = app.memory_mb;
            write!(
                out,
                "{},{},{},{}",
                ascii(&app.owner),
                ascii(&app.app),
                100 + i % 5000,
                mb.round()
            )
            .map_err(fail)?;
            for factor in FACTORS {
                write!(out, ",{}", (mb * factor).round()).map_err(fail)?;
            }
            writeln!(out).map_err(fail)?;
        }
        out.flush().map_err(fail)
    }
}

/// A hash as text (always ASCII hex digits).
pub(super) fn ascii(hash: &[u8; 64]) -> &str {
    std::str::from_utf8(hash).unwrap_or_default()
}

/// Appends `n` in decimal without allocating.
pub(super) fn push_number(out: &mut Vec<u8>, mut n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[i..]);
}

/// A writer that counts the bytes it was given.
pub(super) struct Counted<W> {
    pub(super) inner: W,
    pub(super) bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
