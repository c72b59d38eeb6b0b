#!/usr/bin/env bash
# Side-by-side speed of lambdasim and DSLab FaaS on the same native trace files.
#
# Both tools replay each trace with the same model: N identical hosts with memory large enough
# that nothing is evicted, round-robin placement, a 10-minute keep-alive restarted on reuse, 35 ms
# cold start. lambdasim runs `run --preset dslab --trace native:DIR`; DSLab runs the example of
# scripts/dslab/example with `--speed` (one pass, DSLab's own FIFO invoker, until no event is
# left). Runs alternate between the tools, ROUNDS times each; every run is timed by
# /usr/bin/time (wall seconds and peak resident memory of the whole process: reading the trace
# included). Both tools' cold-start counts are printed so that a reader sees they simulated the
# same thing.
#
# Usage: scripts/dslab/speed.sh OUT_DIR            (the traces are made there if missing)
# Environment: LAMBDASIM (default target/release/lambdasim), DSLAB (default
# /work/oracle/dslab-example/target/release/dslab-native-trace, see README.md for how to build
# it), AZURE2019 (the Azure 2019 sample directory, default /work/shared/traces/azure2019-sample),
# ROUNDS (default 3), HOSTS (default 4), MEMORY_MB (default 1048576), TRACES (default
# "syn1d syn4d azure2019 syn16d").
set -euo pipefail

out=${1:?usage: speed.sh OUT_DIR}
L=${LAMBDASIM:-target/release/lambdasim}
D=${DSLAB:-/work/oracle/dslab-example/target/release/dslab-native-trace}
azure=${AZURE2019:-/work/shared/traces/azure2019-sample}
rounds=${ROUNDS:-3}
hosts=${HOSTS:-4}
mem=${MEMORY_MB:-1048576}
traces=${TRACES:-syn1d syn4d azure2019 syn16d}

for bin in "$L" "$D"; do
    [[ -x $bin ]] || { echo "error: $bin is not an executable (see scripts/dslab/README.md)" >&2; exit 2; }
done
mkdir -p "$out"

make_trace() {
    local name=$1 dir=$out/$1
    [[ -f $dir/invocations.csv ]] && return
    case $name in
        syn1d) "$L" generate --out "$dir" ;;
        syn4d) "$L" generate --duration 4d --out "$dir" ;;
        syn16d) "$L" generate --duration 16d --out "$dir" ;;
        azure2019) "$L" trace convert "azure2019:$azure" --out "$dir" ;;
        *) echo "error: unknown trace $name" >&2; exit 2 ;;
    esac >&2
}

# time_run LOG CMD...: runs CMD, stdout to LOG.out; prints "seconds peak_MB"
time_run() {
    local log=$1
    shift
    /usr/bin/time -f "%e %M" -o "$log.time" "$@" > "$log.out" 2> "$log.err"
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$log.time"
}

echo "trace,tool,round,invocations,cold_starts,seconds,peak_mb"
for t in $traces; do
    make_trace "$t"
    for r in $(seq 1 "$rounds"); do
        read -r s m < <(time_run "$out/$t.lambdasim" "$L" run --preset dslab --trace "native:$out/$t" \
            --workers "$hosts" --memory-mb "$mem" --scheduler round-robin --keep-alive ttl,idle=10m --json)
        counts=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["invocations"]["total"], d["starts"]["cold"], sep=",")' "$out/$t.lambdasim.out")
        echo "$t,lambdasim,$r,$counts,$s,$m"
        read -r s m < <(time_run "$out/$t.dslab" "$D" --speed --trace "$out/$t" --hosts "$hosts" \
            --memory-mb "$mem" --scheduler round-robin --keepalive fixed-reset:10m --cold-start-ms 35)
        counts=$(tail -1 "$out/$t.dslab.out" | cut -d, -f1,2)
        echo "$t,dslab,$r,$counts,$s,$m"
    done
done
