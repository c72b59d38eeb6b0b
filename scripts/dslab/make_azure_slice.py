#!/usr/bin/env python3
"""Cuts a small native-format trace out of the In-Vitro sample of Azure Functions 2019.

Standard library only. Input: a directory with 400_inv.csv (HashFunction,HashApp,HashOwner,
minute_1..minute_1440: invocations per minute), 400_run.csv (Average duration in ms, per function)
and 400_mem.csv (AverageAllocatedMb, per app). Output: lambdasim's native trace.

Selection (deterministic, no randomness):
  - window: minutes [start, start + length) of the day (minute_1 is minute 0); arrivals are
    shifted so the window starts at 0;
  - functions with a duration row whose Average is positive and at most --max-duration-ms, whose
    app has a memory row, and whose invocation count in the window is within [--min-count,
    --max-count]; of these the --functions most invoked (ties by HashFunction);
  - functions are named f00, f01, ... in that order; each is its own app (a00, a01, ...);
  - arrivals are even in each minute: the i-th of n invocations (i = 0..n-1) of a minute starting
    at base arrives at base + i * 60_000_000 // n microseconds (lambdasim's `--arrivals even`);
  - every invocation of a function takes round(Average * 1000) microseconds;
  - memory_mb = round(AverageAllocatedMb) of the function's app; concurrency 1; init_us empty.

    python3 scripts/dslab/make_azure_slice.py /work/shared/traces/azure2019-sample \\
        --out tests/fixtures/dslab/azure2019-10h
"""

import argparse
import csv
import os

MINUTE_US = 60_000_000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sample", help="directory with 400_inv.csv, 400_run.csv, 400_mem.csv")
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", default="400")
    ap.add_argument("--start-min", type=int, default=600, help="first minute of the window (0-based)")
    ap.add_argument("--length-min", type=int, default=60)
    ap.add_argument("--functions", type=int, default=50)
    ap.add_argument("--min-count", type=int, default=60)
    ap.add_argument("--max-count", type=int, default=600)
    ap.add_argument("--max-duration-ms", type=float, default=30_000)
    args = ap.parse_args()

    path = lambda kind: os.path.join(args.sample, f"{args.prefix}_{kind}.csv")
    durations = {}
    with open(path("run"), newline="") as f:
        for row in csv.DictReader(f):
            durations.setdefault(row["HashFunction"], float(row["Average"]))
    memory = {}
    with open(path("mem"), newline="") as f:
        for row in csv.DictReader(f):
            memory.setdefault(row["HashApp"], float(row["AverageAllocatedMb"]))

    minutes = range(args.start_min, args.start_min + args.length_min)
    candidates = []
    seen = set()
    with open(path("inv"), newline="") as f:
        for row in csv.DictReader(f):
            fn, app = row["HashFunction"], row["HashApp"]
            if fn in seen:
                continue
            seen.add(fn)
            avg = durations.get(fn)
            if avg is None or avg <= 0 or avg > args.max_duration_ms or app not in memory:
                continue
            counts = [int(row[f"minute_{m + 1}"]) for m in minutes]
            total = sum(counts)
            if args.min_count <= total <= args.max_count:
                candidates.append((-total, fn, app, counts, avg))
    candidates.sort()
    chosen = candidates[: args.functions]

    functions = []
    events = []
    for i, (_, fn, app, counts, avg) in enumerate(chosen):
        name = f"f{i:02d}"
        functions.append((name, f"a{i:02d}", int(round(memory[app]))))
        duration = int(round(avg * 1000))
        for k, n in enumerate(counts):
            base = k * MINUTE_US
            for j in range(n):
                events.append((base + j * MINUTE_US // n, i, duration))
    # Sorted by arrival; simultaneous arrivals in function order.
    events.sort()

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "functions.csv"), "w", newline="") as out:
        out.write("function,app,memory_mb,concurrency,init_us\n")
        for name, app, mem in functions:
            out.write(f"{name},{app},{mem},1,\n")
    with open(os.path.join(args.out, "invocations.csv"), "w", newline="") as out:
        out.write("function,arrival_us,duration_us\n")
        for arrival, i, duration in events:
            out.write(f"{functions[i][0]},{arrival},{duration}\n")
    print(f"{len(events)} invocations of {len(functions)} functions -> {args.out}")


if __name__ == "__main__":
    main()
