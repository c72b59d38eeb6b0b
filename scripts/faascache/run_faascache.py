#!/usr/bin/env python3
"""Replay a lambdasim native trace through FaasCache's own simulator (LambdaScheduler from
github.com/aFuerst/faascache-sim, code/split) and print its counts as CSV:

    trace,policy,memory_mb,invocations,hits,misses,dropped,evictions

FaasCache's code is not part of lambdasim: pass the directory holding LambdaScheduler.py
with --peer. It needs numpy, pandas and scipy (see README.md).
"""
import argparse
import csv
import multiprocessing as mp
import os
import sys
import tempfile

POLICIES = ["TTL", "LRU", "GD", "FREQ", "SIZE", "LND", "HIST"]


def read_trace(trace_dir):
    """functions.csv rows by name, (name, arrival_us) in file order, duration_us by name."""
    with open(os.path.join(trace_dir, "functions.csv"), newline="") as f:
        funcs = {r["function"]: r for r in csv.DictReader(f)}
    with open(os.path.join(trace_dir, "invocations.csv"), newline="") as f:
        rows = [(r["function"], int(r["arrival_us"]), int(r["duration_us"]))
                for r in csv.DictReader(f)]
    # FaasCache has one warm time per function, so a trace that varies it cannot be replayed.
    durations = {}
    for name, _, dur in rows:
        if durations.setdefault(name, dur) != dur:
            raise ValueError(f"{trace_dir}: function {name} has invocations of different durations")
    return funcs, [(name, us) for name, us, _ in rows], durations


def load_trace(trace_dir, LambdaData):
    """(LambdaData, ms) arrivals, one LambdaData per function (FaasCache compares by kind)."""
    funcs, rows, durations = read_trace(trace_dir)
    lambdas = {}
    for name, dur in durations.items():
        init_us = int(funcs[name]["init_us"] or 0)
        # FaasCache works in float ms; true division gives the nearest float (exact for whole ms).
        lambdas[name] = LambdaData(name, int(funcs[name]["memory_mb"]),
                                   (init_us + dur) / 1000, dur / 1000)
    return [(lambdas[name], us / 1000) for name, us in rows]


def run_one(job):
    peer, trace_dir, policy, mem = job
    sys.path.insert(0, peer)
    from LambdaData import LambdaData
    from LambdaScheduler import LambdaScheduler

    trace = load_trace(trace_dir, LambdaData)
    with tempfile.TemporaryDirectory() as logs:
        L = LambdaScheduler(policy, mem, len({d.kind for d, _ in trace}), "a", logs)
        for d, t in trace:
            L.runActivation(d, t)
        # miss_stats() reads the performance log back, so it must be on disk first.
        for log in (L.MemUsageHist, L.PerformanceLog, L.PureCacheHist):
            log.close()
        stats = L.miss_stats().values()
        hits = sum(s["hits"] for s in stats)
        misses = sum(s["misses"] for s in stats)
    dropped = sum(L.capacity_misses.values())
    evictions = sum(L.evdict.values())
    if hits + misses + dropped != len(trace):
        raise ValueError(f"{policy} {mem}: hits + misses + dropped != {len(trace)}")
    name = os.path.basename(os.path.normpath(trace_dir))
    return [name, policy, mem, len(trace), hits, misses, dropped, evictions]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", required=True, help="faascache-sim's code/split directory")
    ap.add_argument("--trace", required=True, action="append", help="native trace directory")
    ap.add_argument("--policy", action="append", choices=POLICIES, help="default: all seven")
    ap.add_argument("--memory-mb", type=int, action="append", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--no-header", action="store_true")
    a = ap.parse_args()
    peer = os.path.abspath(a.peer)
    jobs = [(peer, t, p, m) for t in a.trace for p in a.policy or POLICIES for m in a.memory_mb]
    try:
        for t in a.trace:
            read_trace(t)  # fail before any output
    except ValueError as e:
        sys.exit(f"error: {e}")
    out = csv.writer(sys.stdout, lineterminator="\n")
    if not a.no_header:
        out.writerow(["trace", "policy", "memory_mb", "invocations", "hits", "misses",
                      "dropped", "evictions"])
    try:
        # Each run is independent and single-threaded; imap keeps the rows in job order.
        with mp.Pool(min(a.jobs, len(jobs))) as pool:
            for row in pool.imap(run_one, jobs):
                out.writerow(row)
                sys.stdout.flush()
    except ValueError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
