#!/usr/bin/env bash
# Regenerates tests/fixtures/dslab/counts.csv with the DSLab FaaS example program
# (scripts/dslab/example, built outside this repository; see scripts/dslab/README.md).
#   DSLAB_EXAMPLE=/path/to/dslab-native-trace scripts/dslab/make_counts.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${DSLAB_EXAMPLE:-/work/oracle/dslab-example/target/release/dslab-native-trace}
FIX=tests/fixtures/dslab
OUT=$FIX/counts.csv
# trace  hosts  memory_mb per host (the first with memory pressure, the second without)
CONFIGS="synthetic 4 8192
synthetic 4 65536
azure2019-10h 4 32768
azure2019-10h 4 131072"
first=1
{
  while read -r trace hosts mem; do
    for sched in round-robin least-loaded locality-warm; do
      for ka in fixed:20m fixed:2m fixed-reset:20m no-unloading; do
        args=(--trace "$FIX/$trace" --hosts "$hosts" --memory-mb "$mem" --cores 8
              --scheduler "$sched" --keepalive "$ka" --cold-start-ms 35)
        if [ $first = 1 ]; then args+=(--header); first=0; fi
        "$BIN" "${args[@]}"
      done
    done
  done <<< "$CONFIGS"
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(($(wc -l < "$OUT") - 1)) rows)"
