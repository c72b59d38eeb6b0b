#!/usr/bin/env python3
"""Writes a small seeded synthetic trace in lambdasim's native format.

Standard library only. 50 functions in 20 apps; one Poisson arrival process whose invocations are
given to functions by Zipf popularity (over a seeded random ranking); each function has a
log-normal median execution time and each invocation varies log-normally around it; durations and
arrivals are integer microseconds; memory 128-1024 MB; concurrency 1; init_us left empty so that
the simulator's own cold-start latency applies.

    python3 scripts/dslab/make_synthetic.py --out tests/fixtures/dslab/synthetic
"""

import argparse
import math
import os
import random

FUNCTIONS = 50
APPS = 20
HOURS = 2.5
RATE_PER_S = 1.2
ZIPF_S = 1.0
MEMORY_MB = [128, 256, 384, 512, 640, 768, 896, 1024]
# Per-function median execution time: exp(N(MU, SIGMA)) seconds, clamped.
MU, SIGMA = math.log(0.4), 1.3
MEDIAN_MIN_S, MEDIAN_MAX_S = 0.005, 60.0
# Per-invocation variation around the function's median.
JITTER_SIGMA = 0.5
DURATION_MIN_US = 1_000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=20240728)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    names = [f"f{i:02d}" for i in range(FUNCTIONS)]
    # Every app gets one function, the rest are spread at random.
    apps = [f"app{i:02d}" for i in range(APPS)]
    app_of = apps + [rng.choice(apps) for _ in range(FUNCTIONS - APPS)]
    memory = [rng.choice(MEMORY_MB) for _ in range(FUNCTIONS)]
    median_s = [
        min(MEDIAN_MAX_S, max(MEDIAN_MIN_S, math.exp(rng.gauss(MU, SIGMA))))
        for _ in range(FUNCTIONS)
    ]
    ranking = list(range(FUNCTIONS))
    rng.shuffle(ranking)  # ranking[r] = function with popularity rank r
    weights = [0.0] * FUNCTIONS
    for r, f in enumerate(ranking):
        weights[f] = 1.0 / (r + 1) ** ZIPF_S
    cumulative = []
    acc = 0.0
    for w in weights:
        acc += w
        cumulative.append(acc)

    end_us = int(HOURS * 3600 * 1_000_000)
    rows = []
    t = 0.0
    while True:
        t += rng.expovariate(RATE_PER_S)
        arrival = int(t * 1_000_000)
        if arrival >= end_us:
            break
        u = rng.random() * acc
        lo, hi = 0, FUNCTIONS - 1
        while lo < hi:  # first index with cumulative > u
            mid = (lo + hi) // 2
            if cumulative[mid] > u:
                hi = mid
            else:
                lo = mid + 1
        f = lo
        d = median_s[f] * math.exp(rng.gauss(0.0, JITTER_SIGMA))
        duration = max(DURATION_MIN_US, int(round(d * 1_000_000)))
        rows.append((names[f], arrival, duration))

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "functions.csv"), "w", newline="") as out:
        out.write("function,app,memory_mb,concurrency,init_us\n")
        for i in range(FUNCTIONS):
            out.write(f"{names[i]},{app_of[i]},{memory[i]},1,\n")
    with open(os.path.join(args.out, "invocations.csv"), "w", newline="") as out:
        out.write("function,arrival_us,duration_us\n")
        for name, arrival, duration in rows:
            out.write(f"{name},{arrival},{duration}\n")
    print(f"{len(rows)} invocations of {FUNCTIONS} functions in {APPS} apps -> {args.out}")


if __name__ == "__main__":
    main()
