#!/usr/bin/env python3
"""Cut a slice of an Azure Functions 2019 trace (In-Vitro sample layout) into lambdasim's
native trace format, building functions and arrivals the way FaasCache's trace generator
(code/split/gen/trace_split_funcs.py and gen_representative_trace.py) does.

Input directory: <N>_inv.csv, <N>_run.csv, <N>_mem.csv (any N), columns found by name.
Output directory: functions.csv and invocations.csv.

Standard library only, so that it runs anywhere Python does.
"""
import argparse
import csv
import glob
import math
import os
import random
import sys

MS_PER_MIN = 60 * 1000
US_PER_MIN = MS_PER_MIN * 1000


def one_file(trace_dir, suffix):
    paths = sorted(glob.glob(os.path.join(trace_dir, "*_" + suffix + ".csv")))
    if len(paths) != 1:
        sys.exit(f"error: expected one *_{suffix}.csv in {trace_dir}, found {len(paths)}")
    return paths[0]


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def minute_columns(header):
    # The raw Azure files name minute columns "1".."1440"; In-Vitro's samples "minute_1"...
    for fmt in ("{}", "minute_{}"):
        cols = [fmt.format(i) for i in range(1, 1441)]
        if all(c in header for c in cols):
            return cols
    sys.exit("error: the invocation file has neither 1..1440 nor minute_1..minute_1440 columns")


def load_functions(trace_dir):
    """Functions in invocation-file order, as FaasCache's pandas joins leave them."""
    durations = {}
    for row in read_rows(one_file(trace_dir, "run")):
        durations.setdefault(row["HashFunction"], row)  # drop_duplicates keeps the first
    # FaasCache divides an app's memory by its number of functions in the durations file.
    funcs_per_app = {}
    for row in durations.values():
        funcs_per_app[row["HashApp"]] = funcs_per_app.get(row["HashApp"], 0) + 1
    memory = {}
    for row in read_rows(one_file(trace_dir, "mem")):
        memory.setdefault(row["HashApp"], row)

    inv_path = one_file(trace_dir, "inv")
    with open(inv_path, newline="") as f:
        reader = csv.DictReader(f)
        minutes = minute_columns(reader.fieldnames)
        rows = list(reader)

    functions, seen, skipped_cold = [], set(), 0
    for row in rows:
        if any(v is None or v == "" for v in row.values()):
            continue  # pandas dropna()
        counts = [int(row[c]) for c in minutes]
        # FaasCache filters on the day's total before dropping duplicates, so a duplicate
        # whose first row is invoked at most once can still come in through a later row.
        if sum(counts) <= 1:
            continue
        name = row["HashFunction"]
        if name in seen:
            continue
        seen.add(name)
        dur, mem = durations.get(name), memory.get(row["HashApp"])
        if dur is None or mem is None:
            continue  # inner joins
        cold, warm = int(float(dur["Maximum"])), int(float(dur["Average"]))
        if cold < warm:
            skipped_cold += 1  # lambdasim has no negative initialization time
            continue
        mb = math.ceil(float(mem["AverageAllocatedMb"]) / funcs_per_app[mem["HashApp"]])
        functions.append(dict(name=name, app=row["HashApp"], mem=int(mb),
                              cold=cold, warm=warm, counts=counts))
    if skipped_cold:
        print(f"skipped {skipped_cold} functions whose int(Maximum) < int(Average)",
              file=sys.stderr)
    return functions


def arrivals(fn, start, length):
    """(FaasCache's float ms time, exact microseconds, is-half-way) of each arrival."""
    out = []
    for m in range(start, start + length):
        n = fn["counts"][m]
        if n == 1:
            out.append((m * MS_PER_MIN, (m - start) * US_PER_MIN, False))
        elif n > 1:
            every = MS_PER_MIN / n
            for i in range(n):
                # Integer arithmetic gives the exactly rounded microsecond (half up), so the
                # result does not depend on float error or on where the window starts.
                us = (m - start) * US_PER_MIN + (2 * i * US_PER_MIN + n) // (2 * n)
                half = 2 * (i * US_PER_MIN % n) == n
                out.append((m * MS_PER_MIN + i * every, us, half))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace_dir", help="directory with <N>_inv.csv, <N>_run.csv, <N>_mem.csv")
    ap.add_argument("--start-min", type=int, default=0, help="first minute of the window (0-based)")
    ap.add_argument("--length-min", type=int, default=1440, help="window length in minutes")
    ap.add_argument("--exclude-top", type=int, default=0,
                    help="drop the K functions with the most invocations in the window")
    ap.add_argument("--functions", type=int, help="keep N functions drawn at random")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --functions draw")
    ap.add_argument("--name-chars", type=int,
                    help="shorten function and app names to their first N characters "
                         "(keeps fixtures small; refused if two names would collide)")
    ap.add_argument("--out", required=True, help="output directory")
    a = ap.parse_args()
    if a.start_min < 0 or a.length_min <= 0 or a.start_min + a.length_min > 1440:
        sys.exit("error: the window must lie within minutes 0..1440")

    funcs = load_functions(a.trace_dir)
    window = lambda f: sum(f["counts"][a.start_min:a.start_min + a.length_min])
    funcs = [f for f in funcs if window(f) > 0]
    if a.exclude_top:
        # sorted() is stable: among equally busy functions the earlier one in the file goes.
        busiest = sorted(funcs, key=window, reverse=True)[:a.exclude_top]
        drop = {f["name"] for f in busiest}
        funcs = [f for f in funcs if f["name"] not in drop]
    if a.functions is not None and a.functions < len(funcs):
        keep = {f["name"] for f in random.Random(a.seed).sample(funcs, a.functions)}
        funcs = [f for f in funcs if f["name"] in keep]

    # FaasCache's order: functions in file order, each one's arrivals in time order, then a
    # stable sort on the float ms time.
    unsorted = [(ms, us, half, f) for f in funcs
                for ms, us, half in arrivals(f, a.start_min, a.length_min)]
    trace = sorted(unsorted, key=lambda x: x[0])
    by_us = sorted(unsorted, key=lambda x: x[1])
    if any(x[1] > y[1] for x, y in zip(trace, trace[1:])):
        sys.exit("error: float order and microsecond order disagree")
    # Report what a reader working in whole microseconds could get differently.
    halves = sum(x[2] for x in trace)
    reordered = sum(x is not y for x, y in zip(trace, by_us))
    if halves or reordered:
        print(f"{halves} arrivals lie half-way between two microseconds (rounded up); "
              f"{reordered} rows differ from a stable sort on arrival_us", file=sys.stderr)

    short = lambda s: s[:a.name_chars] if a.name_chars else s
    for key in ("name", "app"):
        full = {f[key] for f in funcs}
        if len({short(s) for s in full}) != len(full):
            sys.exit(f"error: --name-chars {a.name_chars} makes two {key}s collide")

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "invocations.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["function", "arrival_us", "duration_us"])
        for ms, us, half, fn in trace:
            w.writerow([short(fn["name"]), us, fn["warm"] * 1000])
    first_seen = list(dict.fromkeys(id(x[3]) for x in trace))
    by_id = {id(fn): fn for fn in funcs}
    with open(os.path.join(a.out, "functions.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["function", "app", "memory_mb", "concurrency", "init_us"])
        for i in first_seen:
            fn = by_id[i]
            w.writerow([short(fn["name"]), short(fn["app"]), fn["mem"], 1,
                        (fn["cold"] - fn["warm"]) * 1000])
    print(f"{a.out}: {len(first_seen)} functions, {len(trace)} invocations", file=sys.stderr)


if __name__ == "__main__":
    main()
