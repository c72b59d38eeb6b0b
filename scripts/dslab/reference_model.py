#!/usr/bin/env python3
"""An executable description of DSLab FaaS's model, written from scripts/dslab/README.md.

This is not DSLab's code: it is a small re-implementation (standard library only) of the model
described in README.md, section "DSLab FaaS's model", used to check that the description is
exact. It replays a lambdasim native trace with the same options as the DSLab example program
(scripts/dslab/example) and prints the same CSV row; `check` replays every row of
tests/fixtures/dslab/counts.csv and compares.

Times are Python floats, which are IEEE-754 doubles like DSLab's f64, and every time is computed
with the same operations in the same order as DSLab does, so ties break identically.

    python3 scripts/dslab/reference_model.py run --trace DIR --hosts 4 --memory-mb 8192 \\
        --scheduler round-robin --keepalive fixed:20m
    python3 scripts/dslab/reference_model.py check tests/fixtures/dslab/counts.csv
    python3 scripts/dslab/reference_model.py check --integer-us tests/fixtures/dslab/counts.csv
"""

import argparse
import csv
import heapq
import os
import sys
from collections import deque

F64_MAX = sys.float_info.max


class IndexSet:
    """indexmap 1.x IndexSet: insertion order; `remove` is swap_remove (the last element takes
    the removed one's place); inserting a present element changes nothing."""

    def __init__(self):
        self.items = []
        self.pos = {}

    def insert(self, x):
        if x not in self.pos:
            self.pos[x] = len(self.items)
            self.items.append(x)

    def remove(self, x):
        p = self.pos.pop(x, None)
        if p is None:
            return False
        last = self.items.pop()
        if last != x:
            self.items[p] = last
            self.pos[last] = p
        return True

    def __contains__(self, x):
        return x in self.pos

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


DEPLOYING, RUNNING, IDLE, TERMINATED = "deploying", "running", "idle", "terminated"


class Container:
    __slots__ = ("id", "app", "status", "last_change", "invocations", "end_event", "mem", "deploy")

    def __init__(self, cid, app, mem, deploy, time):
        self.id = cid
        self.app = app
        self.status = DEPLOYING
        self.last_change = time
        self.invocations = IndexSet()
        self.end_event = None
        self.mem = mem
        self.deploy = deploy


class Sim:
    def __init__(self, apps, fn_app, invocations, hosts, memory_mb, scheduler, keepalive, end=None):
        # apps: list of (concurrency, deploy_s, mem_mb); invocations: list of (fn, arrival_s, dur_s)
        self.apps = apps
        self.fn_app = fn_app
        self.inv = invocations
        self.n_hosts = hosts
        self.memory_mb = memory_mb
        self.sched, self.sched_args = scheduler
        self.rr_index = 0
        self.ka, self.reset = keepalive
        self.already_set = {}
        self.heap = []
        self.next_id = 0
        self.canceled = set()
        self.hosts = [self._new_host() for _ in range(hosts)]
        n = len(invocations)
        self.inv_container = [None] * n
        self.inv_host = [None] * n
        self.inv_status = ["not-arrived"] * n
        self.inv_start = [None] * n
        self.inv_finish = [None] * n
        self.invocations = 0
        self.cold_starts = 0
        self.wasted = []  # deltas * memory, in the order DSLab adds them
        self.c = dict(arrive_warm=0, arrive_cold=0, arrive_queued=0, dequeued_warm=0,
                      dequeued_cold=0, containers_created=0, joined_deploying=0)
        # load_trace: the simulation end event (if any) is emitted first, then the arrivals.
        if end is not None:
            self.emit(end, ("end",))
        for i, (_, t, _) in enumerate(invocations):
            self.emit(t, ("arrival", i))

    @staticmethod
    def _new_host():
        return dict(used=0, containers=IndexSet(), by_id={}, free={}, full={}, reservations={},
                    queue=deque(), active=0, counter=0)

    # --- event queue: one order by (time, emission id), ids global and sequential ---
    def emit(self, time, ev):
        eid = self.next_id
        self.next_id += 1
        heapq.heappush(self.heap, (time, eid, ev))
        return eid

    def run(self, until):
        while self.heap:
            time, eid, ev = self.heap[0]
            if time > until:
                break
            heapq.heappop(self.heap)
            if eid in self.canceled:
                self.canceled.discard(eid)
                continue
            kind = ev[0]
            if kind == "arrival":
                self.on_arrival(ev[1], time)
            elif kind == "end":
                self.on_simulation_end(time)
            else:
                h = ev[1]
                if kind == "container-start":
                    self.on_container_start(h, ev[2], time)
                elif kind == "container-end":
                    self.on_container_end(h, ev[2], time)
                elif kind == "invocation-end":
                    self.on_invocation_end(h, ev[2], time)
                self.dequeue(h, time)

    # --- container manager ---
    def free_set(self, h, app):
        return self.hosts[h]["free"].setdefault(app, IndexSet())

    def full_set(self, h, app):
        return self.hosts[h]["full"].setdefault(app, IndexSet())

    def possible(self, h, app, allow_deploying):
        host = self.hosts[h]
        for cid in self.free_set(h, app):
            c = host["by_id"][cid]
            if c.status == TERMINATED:
                continue
            if c.status != DEPLOYING or allow_deploying:
                yield c

    def can_allocate(self, h, app):
        return self.hosts[h]["used"] + self.apps[app][2] <= self.memory_mb

    def try_invoke(self, h, app, time):
        nearest, wait = None, 0.0
        for c in self.possible(h, app, True):
            delay = (c.deploy + c.last_change - time) if c.status == DEPLOYING else 0.0
            if nearest is None or wait > delay:
                wait, nearest = delay, c
        if nearest is not None:
            return ("cold", nearest.id, wait) if nearest.status == DEPLOYING else ("warm", nearest.id)
        if self.can_allocate(h, app):
            host = self.hosts[h]
            conc, deploy, mem = self.apps[app]
            cid = host["counter"]
            host["counter"] += 1
            c = Container(cid, app, mem, deploy, time)
            host["used"] += mem
            host["containers"].insert(cid)
            host["by_id"][cid] = c
            self.free_set(h, app).insert(cid)
            self.emit(time + deploy, ("container-start", h, cid))
            self.c["containers_created"] += 1
            return ("cold-new", cid, deploy)
        return ("rejected",)

    def move_to_full(self, h, cid):
        app = self.hosts[h]["by_id"][cid].app
        assert self.free_set(h, app).remove(cid)
        self.full_set(h, app).insert(cid)

    def reserve(self, h, cid, i):
        self.hosts[h]["reservations"].setdefault(cid, []).append(i)
        conc = self.apps[self.hosts[h]["by_id"][cid].app][0]
        if len(self.hosts[h]["reservations"][cid]) == conc:
            self.move_to_full(h, cid)

    def add_wasted(self, c, time):
        self.wasted.append((time - c.last_change) * float(c.mem))

    # --- host ---
    def on_arrival(self, i, time):
        app = self.fn_app[self.inv[i][0]]
        h = self.select_host(app)
        host = self.hosts[h]
        self.inv_host[i] = h
        host["active"] += 1
        d = self.try_invoke(h, app, time)
        self.invocations += 1
        if d[0] == "warm":
            self.c["arrive_warm"] += 1
            self.start_invocation(h, d[1], i, time)
            if len(host["by_id"][d[1]].invocations) == self.apps[app][0]:
                self.move_to_full(h, d[1])
        elif d[0] in ("cold", "cold-new"):
            self.c["arrive_cold"] += 1
            if d[0] == "cold":
                self.c["joined_deploying"] += 1
            self.inv_status[i] = "waiting"
            self.inv_container[i] = d[1]
            self.cold_starts += 1
            self.reserve(h, d[1], i)
        else:
            self.c["arrive_queued"] += 1
            host["queue"].append(i)
            self.inv_status[i] = "queued"

    def start_invocation(self, h, cid, i, time):
        c = self.hosts[h]["by_id"][cid]
        if c.status == IDLE:
            self.add_wasted(c, time)
        c.last_change = time
        c.status = RUNNING
        c.invocations.insert(i)
        self.inv_start[i] = time
        self.inv_status[i] = "running"
        self.inv_container[i] = cid
        self.emit(time + self.inv[i][2], ("invocation-end", h, i))

    def on_container_start(self, h, cid, time):
        res = self.hosts[h]["reservations"].pop(cid, None)
        if res is not None:
            for i in res:
                self.start_invocation(h, cid, i, time)
        else:  # only prewarmed containers have no reservation; not used here
            raise AssertionError("container without reservation")

    def new_end_event(self, h, c, delay, time):
        c.end_event = self.emit(time + delay, ("container-end", h, c.id))
        if delay == 0.0:
            c.status = TERMINATED

    def keepalive_decision(self, h, c):
        if not self.reset:
            t = self.already_set.get((h, c.id))
            if t is not None:
                return ("terminate",) if t - c.last_change <= 0.0 else ("old",)
            self.already_set[(h, c.id)] = c.last_change + self.ka
        return ("new", self.ka)

    def on_invocation_end(self, h, i, time):
        host = self.hosts[h]
        self.inv_finish[i] = time
        self.inv_status[i] = "finished"
        cid = self.inv_container[i]
        c = host["by_id"][cid]
        host["active"] -= 1
        if self.full_set(h, c.app).remove(cid):
            self.free_set(h, c.app).insert(cid)
        c.last_change = time
        c.invocations.remove(i)
        if len(c.invocations) == 0:
            c.status = IDLE
            d = self.keepalive_decision(h, c)
            if d[0] == "new":
                if c.end_event is not None:
                    self.canceled.add(c.end_event)
                self.new_end_event(h, c, max(0.0, d[1]), time)
            elif d[0] == "terminate":
                if c.end_event is not None:
                    self.canceled.add(c.end_event)
                self.new_end_event(h, c, 0.0, time)

    def on_container_end(self, h, cid, time):
        host = self.hosts[h]
        c = host["by_id"].get(cid)
        if c is not None and c.status in (IDLE, TERMINATED):
            self.add_wasted(c, time)
            del host["by_id"][cid]
            host["containers"].remove(cid)
            self.free_set(h, c.app).remove(cid)
            self.full_set(h, c.app).remove(cid)
            host["used"] -= c.mem

    def dequeue(self, h, time):
        host = self.hosts[h]
        q = host["queue"]
        started = []
        while q:
            i = q[0]
            app = self.fn_app[self.inv[i][0]]
            d = self.try_invoke(h, app, time)
            if d[0] == "warm":
                c = host["by_id"][d[1]]
                if c.status == IDLE:
                    self.add_wasted(c, time)
                self.cold_starts += 1  # DSLab counts every dequeued invocation as a cold start
                c.last_change = time
                c.status = RUNNING
                c.invocations.insert(i)
                if len(c.invocations) == self.apps[app][0]:
                    self.move_to_full(h, d[1])
                started.append((i, d[1], None))
                self.c["dequeued_warm"] += 1
                q.popleft()
            elif d[0] in ("cold", "cold-new"):
                self.reserve(h, d[1], i)
                self.cold_starts += 1
                if d[0] == "cold":
                    self.c["joined_deploying"] += 1
                started.append((i, d[1], d[2]))
                self.c["dequeued_cold"] += 1
                q.popleft()
            else:
                break
        for i, cid, delay in started:
            self.inv_container[i] = cid
            if delay is None:
                self.inv_status[i] = "running"
                self.inv_start[i] = time
                self.emit(time + self.inv[i][2], ("invocation-end", h, i))
            else:
                self.inv_status[i] = "waiting"

    def on_simulation_end(self, time):
        for host in self.hosts:
            for cid in host["containers"]:
                c = host["by_id"][cid]
                if c.status == IDLE:
                    self.add_wasted(c, time)
                    c.last_change = time

    # --- schedulers ---
    def can_invoke(self, h, app, allow_deploying):
        return next(self.possible(h, app, allow_deploying), None) is not None

    def total_count(self, h):
        host = self.hosts[h]
        return host["active"] + len(host["queue"])

    def select_host(self, app):
        n = self.n_hosts
        if self.sched == "round-robin":
            self.rr_index %= n
            chosen = self.rr_index
            self.rr_index += 1
            return chosen
        if self.sched == "basic":
            for h in range(n):
                if self.can_invoke(h, app, True):
                    return h
            for h in range(n):
                if self.can_allocate(h, app):
                    return h
            return 0
        if self.sched == "least-loaded":
            prefer_warm, use_count, avoid_queueing = self.sched_args
            assert use_count, "CPU-load variant not modelled"
            best, best_load, warm = 0, (0, F64_MAX), False
            for h in range(n):
                token = 0
                if avoid_queueing and (self.can_invoke(h, app, True) or self.can_allocate(h, app)):
                    token = 1
                load = (token, float(self.total_count(h)))
                if load[0] > best_load[0] or load[1] + 1e-9 < best_load[1]:
                    best_load, best = load, h
                    if prefer_warm:
                        warm = self.can_invoke(h, app, False)
                elif (load[0] == best_load[0] and abs(load[1] - best_load[1]) < 1e-9
                      and prefer_warm and not warm and self.can_invoke(h, app, False)):
                    best, warm = h, True
            return best
        if self.sched in ("locality", "locality-warm"):
            warm_only = self.sched == "locality-warm"
            start = app % n  # identity hasher, step 1
            idx, cycle, allocatable = start, False, None
            while not cycle:
                if warm_only and self.can_invoke(idx, app, False):
                    break
                if self.can_allocate(idx, app):
                    if not warm_only:
                        break
                    if allocatable is None:
                        allocatable = idx
                idx = (idx + 1) % n
                if idx == start:
                    cycle = True
            if cycle:
                return allocatable if allocatable is not None else start
            return idx
        raise ValueError(self.sched)


def parse_duration_s(s):
    for suffix, mult in (("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * mult
    return float(s)


def read_native(d):
    with open(os.path.join(d, "functions.csv"), newline="") as f:
        fns = [r for r in csv.DictReader(f)]
    names = {r["function"]: i for i, r in enumerate(fns)}
    with open(os.path.join(d, "invocations.csv"), newline="") as f:
        invs = [(names[r["function"]], int(r["arrival_us"]), int(r["duration_us"])) for r in csv.DictReader(f)]
    return fns, invs


def simulate(trace, hosts, memory_mb, scheduler, keepalive, cold_start_ms=35.0, concurrency=1,
             horizon_s=1e6, name=None, integer_us=False):
    """With integer_us, every time is an exact integer number of microseconds instead of DSLab's
    f64 seconds (x / 1e6): the same model with exact arithmetic, to see what f64 changes."""
    fns, invs = read_native(trace)
    cold_us = int(round(cold_start_ms * 1000.0))
    conv = (lambda us: us) if integer_us else (lambda us: us / 1e6)
    apps = []
    for r in fns:
        init = r.get("init_us") or ""
        conc = r.get("concurrency") or ""
        apps.append((int(conc) if conc else concurrency,
                     conv(int(init) if init else cold_us),
                     int(r["memory_mb"])))
    fn_app = list(range(len(fns)))
    inv = [(f, conv(t), conv(d)) for f, t, d in invs]
    sched = {"least-loaded": ("least-loaded", (True, True, True))}.get(scheduler, (scheduler, None))
    ka_conv = (lambda s: int(round(s * 1e6))) if integer_us else (lambda s: s)
    if keepalive == "no-unloading":
        ka = (10**300 if integer_us else F64_MAX / 10.0, True)
    elif keepalive.startswith("fixed-reset:"):
        ka = (ka_conv(parse_duration_s(keepalive.split(":", 1)[1])), True)
    elif keepalive.startswith("fixed:"):
        ka = (ka_conv(parse_duration_s(keepalive.split(":", 1)[1])), False)
    else:
        raise ValueError(keepalive)
    first = Sim(apps, fn_app, inv, hosts, memory_mb, sched, ka)
    first.run(inv[-1][1] + conv(int(horizon_s * 1e6)))
    finished = [i for i, s in enumerate(first.inv_status) if s == "finished"]
    last_end = max((first.inv_finish[i] for i in finished), default=0.0)
    second = Sim(apps, fn_app, inv, hosts, memory_mb, sched, ka, end=last_end)
    second.run(last_end)
    wasted = 0.0
    for w in second.wasted:
        wasted += w
    if integer_us:
        wasted /= 1e6
        last_end /= 1e6
    c = first.c
    unfinished = len(inv) - len(finished)
    return [
        name or os.path.basename(os.path.normpath(trace)), scheduler, keepalive.replace(":", "-"),
        str(hosts), str(memory_mb), str(first.invocations), str(first.cold_starts),
        str(c["arrive_warm"]), str(c["arrive_queued"]), str(c["dequeued_warm"]),
        str(c["dequeued_cold"]), str(unfinished), str(c["containers_created"]),
        str(c["joined_deploying"]), f"{wasted:.3f}", f"{last_end:.6f}",
    ]


HEADER = ("trace,scheduler,keepalive,hosts,memory_mb,invocations,cold_starts,warm_starts,queued,"
          "dequeued_warm,dequeued_cold,unfinished,containers_created,joined_deploying,wasted_mb_s,"
          "last_end_s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--trace", required=True)
    r.add_argument("--hosts", type=int, required=True)
    r.add_argument("--memory-mb", type=int, required=True)
    r.add_argument("--scheduler", default="round-robin")
    r.add_argument("--keepalive", default="fixed:20m")
    r.add_argument("--cold-start-ms", type=float, default=35.0)
    r.add_argument("--header", action="store_true")
    r.add_argument("--integer-us", action="store_true",
                   help="exact integer microseconds instead of DSLab's f64 seconds")
    c = sub.add_parser("check")
    c.add_argument("counts")
    c.add_argument("--fixtures", default=None, help="directory holding the traces (default: the counts file's)")
    c.add_argument("--cold-start-ms", type=float, default=35.0)
    c.add_argument("--integer-us", action="store_true",
                   help="exact integer microseconds instead of DSLab's f64 seconds")
    args = ap.parse_args()
    if args.cmd == "run":
        if args.header:
            print(HEADER)
        print(",".join(simulate(args.trace, args.hosts, args.memory_mb, args.scheduler,
                                args.keepalive, args.cold_start_ms, integer_us=args.integer_us)))
        return
    base = args.fixtures or os.path.dirname(os.path.abspath(args.counts))
    bad = 0
    total = 0
    with open(args.counts, newline="") as f:
        for row in csv.DictReader(f):
            total += 1
            ka = row["keepalive"]
            if ka.startswith("fixed-reset-"):
                ka = "fixed-reset:" + ka[len("fixed-reset-"):]
            elif ka.startswith("fixed-"):
                ka = "fixed:" + ka[len("fixed-"):]
            got = simulate(os.path.join(base, row["trace"]), int(row["hosts"]), int(row["memory_mb"]),
                           row["scheduler"], ka, args.cold_start_ms, integer_us=args.integer_us)
            want = [row[k] for k in HEADER.split(",")]
            # Counts must be equal; wasted memory-time is a float sum and may differ in the last digit.
            same_counts = got[:14] == want[:14] and got[15] == want[15]
            close = abs(float(got[14]) - float(want[14])) <= 1e-9 * max(1.0, abs(float(want[14]))) + 0.002
            status = "ok" if same_counts and close else "DIFF"
            if status != "ok":
                bad += 1
                print(f"{status}: want {','.join(want)}\n      got  {','.join(got)}")
    print(f"{total - bad} passed, {bad} failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
