//! `lambdasim real load`: an open-loop HTTP client that replays a workload's arrivals (the
//! scenario's synthetic workload or a trace) against a server of OpenLambda's API, such as
//! `lambdasim real serve`.
//!
//! Open loop: each request is sent at its arrival time (divided by the time scale) whatever the
//! server is doing, and its latency counts from that time, so a slow server's queueing shows in
//! the latencies instead of slowing the arrivals (no coordinated omission). Requests go out on a
//! pool of persistent connections; a request whose time has come while every connection is busy
//! waits for one, and that wait is part of its latency too (`--connections` should exceed the
//! requests in flight at once).
//!
//! The workload's function *i* is sent to the `i mod n`-th of the `--function` names; each body
//! is `{"id": N, "duration_us": D}` with the invocation's position and its (scaled) execution
//! time, so that a handler may spend that time if it wants.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Error;

/// One request to send.
#[derive(Clone, Debug)]
struct Planned {
    id: u64,
    function: usize,
    /// When to send it, from the start, in µs.
    at: u64,
    duration_us: u64,
}

/// What happened to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub id: u64,
    pub function: usize,
    /// Its arrival time, from the start, in µs.
    pub at: u64,
    /// HTTP status, or 0 when the connection failed.
    pub status: u16,
    /// From its arrival time to the end of the response, in µs.
    pub latency_us: u64,
    /// How late it was sent after its arrival time, in µs.
    pub late_us: u64,
}

/// How to load a server.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `host:port` of the server.
    pub target: String,
    /// Function names, by workload function index modulo their number.
    pub functions: Vec<String>,
    pub connections: usize,
    /// Trace time per wall-clock time.
    pub time_scale: f64,
    /// Execution times in the bodies are divided by this.
    pub duration_scale: f64,
}

/// The target of a URL such as `http://127.0.0.1:5000` (or a bare `host:port`).
pub fn target_of(url: &str) -> Result<String, Error> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if url.starts_with("https://") {
        return Err(Error::Input(format!(
            "--target {url}: only http:// is supported"
        )));
    }
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || !host.contains(':') {
        return Err(Error::Input(format!(
            "--target {url}: give http://HOST:PORT, such as http://127.0.0.1:5000"
        )));
    }
    Ok(host.to_string())
}

/// Replays `invocations` against the server; returns one [`Sent`] per request, in the order of
/// the invocations.
pub fn run_load(
    invocations: impl Iterator<Item = Result<workloads::Invocation, workloads::WorkloadError>>,
    options: &LoadOptions,
) -> Result<Vec<Sent>, Error> {
    if options.functions.is_empty() {
        return Err(Error::Input("give at least one --function".into()));
    }
    if options.connections == 0 {
        return Err(Error::Input("--connections must be at least 1".into()));
    }
    crate::real_mode::check_scales(options.time_scale, options.duration_scale)?;
    // The server must answer before the clock starts.
    TcpStream::connect(&options.target)
        .map_err(|e| Error::Host(format!("cannot connect to {}: {e}", options.target)))?;
    let (tx, rx) = channel::<(Planned, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let (done_tx, done_rx) = channel::<Sent>();
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            let rx = rx.clone();
            let done = done_tx.clone();
            let target = options.target.clone();
            let names = options.functions.clone();
            std::thread::spawn(move || sender(&target, &names, &rx, &done))
        })
        .collect();
    drop(done_tx);
    let start = Instant::now();
    let mut planned = 0u64;
    for (id, inv) in invocations.enumerate() {
        let inv = inv.map_err(|e| Error::Input(format!("workload: {e}")))?;
        let at = (inv.arrival as f64 / options.time_scale).round() as u64;
        let due = start + Duration::from_micros(at);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let p = Planned {
            id: id as u64,
            function: inv.function.index(),
            at,
            duration_us: (inv.duration as f64 / options.duration_scale).round() as u64,
        };
        if tx.send((p, due)).is_err() {
            break;
        }
        planned += 1;
    }
    drop(tx);
    let mut sent: Vec<Sent> = done_rx.iter().collect();
    for w in workers {
        let _ = w.join();
    }
    if sent.len() as u64 != planned {
        return Err(Error::Host(format!(
            "{} of {planned} requests were not answered",
            planned - sent.len() as u64
        )));
    }
    sent.sort_by_key(|s| s.id);
    Ok(sent)
}

/// A connection's thread: sends the requests it takes, reconnecting when the server closes.
fn sender(
    target: &str,
    names: &[String],
    work: &Mutex<Receiver<(Planned, Instant)>>,
    done: &Sender<Sent>,
) {
    let mut conn: Option<(BufReader<TcpStream>, BufWriter<TcpStream>)> = None;
    loop {
        let next = work.lock().ok().and_then(|rx| rx.recv().ok());
        let Some((p, due)) = next else { return };
        let late_us = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let name = &names[p.function % names.len()];
        let body = format!(r#"{{"id": {}, "duration_us": {}}}"#, p.id, p.duration_us);
        let mut status = 0;
        // One retry on a fresh connection: a kept-alive one may have been closed meanwhile.
        for _ in 0..2 {
            if conn.is_none() {
                conn = TcpStream::connect(target).ok().and_then(|s| {
                    let _ = s.set_nodelay(true);
                    let w = s.try_clone().ok()?;
                    Some((BufReader::new(s), BufWriter::new(w)))
                });
            }
            let Some((r, w)) = conn.as_mut() else { break };
            match exchange(r, w, target, name, body.as_bytes()) {
                Ok((s, keep)) => {
                    status = s;
                    if !keep {
                        conn = None;
                    }
                    break;
                }
                Err(_) => conn = None,
            }
        }
        let latency_us = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let _ = done.send(Sent {
            id: p.id,
            function: p.function,
            at: p.at,
            status,
            latency_us,
            late_us,
        });
    }
}

/// Sends one request and reads its response; the status and whether the connection stays open.
fn exchange(
    r: &mut BufReader<TcpStream>,
    w: &mut BufWriter<TcpStream>,
    host: &str,
    name: &str,
    body: &[u8],
) -> std::io::Result<(u16, bool)> {
    write!(
        w,
        "POST /run/{name} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    w.write_all(body)?;
    w.flush()?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(bad("the server closed the connection"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("not an HTTP status line"))?;
    let mut length = 0usize;
    let mut keep = true;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("the server closed the connection in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().map_err(|_| bad("a bad Content-Length"))?;
            } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                keep = false;
            }
        }
    }
    let mut sink = vec![0u8; length];
    r.read_exact(&mut sink)?;
    Ok((status, keep))
}

/// The load's summary: counts by status and latency percentiles, as text.
pub fn summarize(sent: &[Sent], names: &[String], wall_s: f64) -> String {
    let mut by_status = std::collections::BTreeMap::new();
    for s in sent {
        *by_status.entry(s.status).or_insert(0u64) += 1;
    }
    let mut lat: Vec<u64> = sent.iter().map(|s| s.latency_us).collect();
    lat.sort_unstable();
    let pct = |q: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let rank = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
        lat[rank - 1] as f64 / 1000.0
    };
    let late_max = sent.iter().map(|s| s.late_us).max().unwrap_or(0);
    let mut out = format!(
        "lambdasim real load\n\nrequests    {} to {} in {wall_s:.2} s ({:.1}/s)\nstatus     ",
        sent.len(),
        names.join(", "),
        sent.len() as f64 / wall_s.max(1e-9)
    );
    for (status, n) in &by_status {
        let label = if *status == 0 {
            "failed".to_string()
        } else {
            status.to_string()
        };
        out.push_str(&format!(" {label}: {n}"));
    }
    out.push_str(&format!(
        "\nlatency     p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms \
         (from each request's arrival time)\nsent late   by {:.3} ms at most\n",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        pct(1.0),
        late_max as f64 / 1000.0
    ));
    out
}

/// The requests as CSV: `id,function,arrival_us,status,latency_us,late_us`.
pub fn write_csv(sent: &[Sent], names: &[String], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "id,function,arrival_us,status,latency_us,late_us")?;
    for s in sent {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            s.id,
            names[s.function % names.len()],
            s.at,
            s.status,
            s.latency_us,
            s.late_us
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_host_and_port() {
        assert_eq!(
            target_of("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(target_of("localhost:80").unwrap(), "localhost:80");
        assert!(target_of("https://x:1").is_err());
        assert!(target_of("http://x").is_err());
        assert!(target_of("http://x:1/run").is_err());
    }
}
