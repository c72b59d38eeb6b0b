//! How loaded the host was during a run, sampled from `/proc/stat` by a thread of its own: the
//! share of CPU time that was busy, the share stolen by a hypervisor, and the run-queue length
//! (`procs_running`). A real run whose host was saturated measures the host, not the platform,
//! and `validate --matrix` marks such a run invalid.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The host's load over a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostLoad {
    /// Samples taken (one every [`SAMPLE_EVERY`]).
    pub samples: u64,
    /// Number of CPUs.
    pub cpus: u32,
    /// Busy share of all CPUs' time (user, nice, system, irq, softirq, steal), in percent.
    pub busy_pct: f64,
    /// The highest busy share of one sampling interval, in percent.
    pub busy_max_pct: f64,
    /// Share of all CPUs' time stolen by the hypervisor, in percent.
    pub steal_pct: f64,
    /// Runnable tasks (`procs_running`, which counts the sampler itself): mean, 99th percentile
    /// and largest sample.
    pub run_queue_mean: f64,
    pub run_queue_p99: u32,
    pub run_queue_max: u32,
}

/// How often the sampler reads `/proc/stat`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// CPU time counters of the `cpu` line of `/proc/stat`, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub steal: u64,
    pub total: u64,
}

/// One reading of `/proc/stat`: the all-CPU counters, the number of CPUs and `procs_running`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    pub times: CpuTimes,
    pub cpus: u32,
    pub running: u32,
}

/// Parses the text of `/proc/stat`; `None` if it has no `cpu` line.
pub fn parse_stat(text: &str) -> Option<Reading> {
    let mut reading = Reading::default();
    let mut found = false;
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        match fields.next() {
            Some("cpu") => {
                // user nice system idle iowait irq softirq steal guest guest_nice; guest time
                // is counted in user already.
                let v: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
                if v.len() < 4 {
                    return None;
                }
                let at = |i: usize| v.get(i).copied().unwrap_or(0);
                let idle = at(3) + at(4);
                let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
                reading.times = CpuTimes {
                    busy,
                    steal: at(7),
                    total: busy + idle,
                };
                found = true;
            }
            Some(name) if name.starts_with("cpu") => reading.cpus += 1,
            Some("procs_running") => {
                reading.running = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
            }
            _ => {}
        }
    }
    found.then_some(reading)
}

/// Sums up readings taken one interval apart.
#[derive(Default)]
pub struct Summarizer {
    first: Option<Reading>,
    last: Option<Reading>,
    busy_max_pct: f64,
    running: Vec<u32>,
}

impl Summarizer {
    pub fn add(&mut self, r: Reading) {
        if let Some(last) = self.last {
            let total = r.times.total.saturating_sub(last.times.total);
            if total > 0 {
                let busy = r.times.busy.saturating_sub(last.times.busy);
                self.busy_max_pct = self.busy_max_pct.max(100.0 * busy as f64 / total as f64);
            }
        }
        self.first.get_or_insert(r);
        self.last = Some(r);
        self.running.push(r.running);
    }

    pub fn finish(mut self) -> HostLoad {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return HostLoad::default();
        };
        let total = last.times.total.saturating_sub(first.times.total);
        let share = |a: u64, b: u64| {
            if total == 0 {
                0.0
            } else {
                100.0 * a.saturating_sub(b) as f64 / total as f64
            }
        };
        self.running.sort_unstable();
        let n = self.running.len();
        let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
        HostLoad {
            samples: n as u64,
            cpus: last.cpus,
            busy_pct: share(last.times.busy, first.times.busy),
            busy_max_pct: self.busy_max_pct,
            steal_pct: share(last.times.steal, first.times.steal),
            run_queue_mean: self.running.iter().map(|&r| r as f64).sum::<f64>() / n as f64,
            run_queue_p99: self.running[rank - 1],
            run_queue_max: self.running[n - 1],
        }
    }
}

/// A sampler thread, from [`Sampler::start`] to [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<HostLoad>>,
}

impl Sampler {
    /// Starts sampling; a host without a readable `/proc/stat` gives an empty [`HostLoad`].
    pub fn start() -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("host-load".into())
            .spawn(move || {
                let mut summary = Summarizer::default();
                while let Some(r) = std::fs::read_to_string("/proc/stat")
                    .ok()
                    .and_then(|t| parse_stat(&t))
                {
                    summary.add(r);
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(SAMPLE_EVERY);
                }
                summary.finish()
            })
            .ok();
        Sampler { stop, thread }
    }

    /// Stops sampling (after one last reading) and sums up.
    pub fn finish(mut self) -> HostLoad {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(user: u64, idle: u64, steal: u64, running: u32) -> String {
        format!(
            "cpu  {user} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\nintr 5\nprocs_running {running}\nprocs_blocked 0\n"
        )
    }

    #[test]
    fn parses_the_cpu_line_the_cpus_and_the_run_queue() {
        let r = parse_stat(&stat(300, 100, 20, 3)).unwrap();
        assert_eq!(
            r,
            Reading {
                times: CpuTimes {
                    busy: 320,
                    steal: 20,
                    total: 420
                },
                cpus: 2,
                running: 3
            }
        );
        assert_eq!(parse_stat("intr 5\n"), None);
    }

    #[test]
    fn shares_are_of_the_time_between_the_first_and_the_last_reading() {
        let mut s = Summarizer::default();
        // 100 ticks per interval: 50 busy, then 90 busy of which 10 stolen.
        s.add(parse_stat(&stat(0, 0, 0, 1)).unwrap());
        s.add(parse_stat(&stat(50, 50, 0, 2)).unwrap());
        s.add(parse_stat(&stat(130, 60, 10, 9)).unwrap());
        let load = s.finish();
        assert_eq!(load.samples, 3);
        assert!((load.busy_pct - 70.0).abs() < 1e-9, "{load:?}");
        assert!((load.busy_max_pct - 90.0).abs() < 1e-9, "{load:?}");
        assert!((load.steal_pct - 5.0).abs() < 1e-9, "{load:?}");
        assert!((load.run_queue_mean - 4.0).abs() < 1e-9);
        assert_eq!((load.run_queue_p99, load.run_queue_max), (9, 9));
        assert_eq!(Summarizer::default().finish(), HostLoad::default());
    }

    #[test]
    fn the_sampler_reads_this_host() {
        let sampler = Sampler::start();
        std::thread::sleep(Duration::from_millis(250));
        let load = sampler.finish();
        assert!(load.samples >= 2, "{load:?}");
        assert!(load.cpus >= 1, "{load:?}");
        assert!((0.0..=100.0).contains(&load.busy_pct), "{load:?}");
    }
}
