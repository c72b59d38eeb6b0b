#!/usr/bin/env bash
# A served run of real Python handlers under load, and the simulator's prediction of it.
#
# Seven functions are served by `lambdasim real serve`: six handlers that sleep for the time the
# request body asks (s0..s5) and one that imports numpy (npsum, installed with pip from WHEELS).
# Two workers hold 2,560 MB each, every sandbox 256 MB: with a 2-minute keep-alive, idle
# sandboxes are evicted for new ones; an import cache of 512 MB makes npsum's cold starts forks
# of a zygote that imported numpy. `lambdasim real load` sends the scenario's synthetic workload
# (7 functions, 60 requests/s for 3 minutes, execution times up to 100 ms; 10,953 requests),
# open loop. With PREINSTALL=1 (the default) two requests to npsum go first, so that each
# worker's pip install of numpy (about 3 s of both cores) is done before the load starts.
#
# Then: the server is stopped with Ctrl-C (SIGINT), what is left on the host is counted, and
# `lambdasim validate --served` compares the served run with the simulator's replay of it, with
# the costs of the Python runtime measured by `lambdasim calibrate --runtime python`.
#
# Usage (root): scripts/served-validation.sh WHEELS OUT_DIR
#   WHEELS: a directory holding a numpy wheel for the interpreter (`pip download numpy -d DIR`)
# Environment: LAMBDASIM (default target/release/lambdasim), PYTHON (default /usr/bin/python3),
# MEMORY_MB (per worker, default 2560), PREINSTALL (default 1), PORT (default 5002).
set -euo pipefail

wheels=$(realpath "${1:?usage: served-validation.sh WHEELS OUT_DIR}")
out=${2:?usage: served-validation.sh WHEELS OUT_DIR}
L=$(realpath "${LAMBDASIM:-target/release/lambdasim}")
python=${PYTHON:-/usr/bin/python3}
port=${PORT:-5002}
mkdir -p "$out"
cd "$out"
rm -rf registry served report

for i in 0 1 2 3 4 5; do
    mkdir -p registry/s$i
    printf 'import time\ndef f(event):\n    time.sleep(event["duration_us"] / 1e6)\n    return event["id"]\n' \
        > registry/s$i/f.py
done
mkdir -p registry/npsum
printf 'import numpy as np\ndef f(event):\n    return float(np.arange(1000).sum())\n' > registry/npsum/f.py
echo numpy > registry/npsum/requirements.txt
chmod -R a+rX registry

cat > scenario.toml <<EOF
seed = 7
[cluster]
workers = 2
memory_mb = ${MEMORY_MB:-2560}
[policies]
keep_alive = { kind = "ttl", idle = "2m" }
scheduler = { kind = "least-loaded" }
[packages]
import_cache = { kind = "dynamic", capacity_mb = 512 }
[workload]
kind = "synthetic"
functions = 7
apps = 7
duration = "180s"
rate = 60.0
exec_max = "100ms"
EOF

[ -f python.toml ] || "$L" calibrate --runtime python --python "$python" --memory-scale 1 \
    --trials 100 --out python.toml > calibrate.txt

"$L" real serve --config scenario.toml --registry registry --listen 127.0.0.1:$port \
    --python "$python" --wheels "$wheels" --function-memory-mb 256 --memory-scale 1 \
    --records --out served --json > serve.json 2> serve.err &
server=$!
for _ in $(seq 1 300); do
    grep -q -E "listening|error" serve.err 2>/dev/null && break
    sleep 0.2
done
if [ "${PREINSTALL:-1}" = 1 ]; then
    curl -s -o /dev/null -X POST localhost:$port/run/npsum -d 1 &
    first=$!
    curl -s -o /dev/null -X POST localhost:$port/run/npsum -d 1
    wait $first
fi
"$L" real load --config scenario.toml --target http://127.0.0.1:$port \
    --function s0,s1,s2,s3,s4,s5,npsum --csv load.csv > load.txt
kill -INT $server
wait $server
echo "left on the host: $(ls -d /sys/fs/cgroup/*/lambdasim 2>/dev/null | wc -l) cgroup trees, \
$(pgrep -fc 'python3 -c|real-runner' || true) runtime processes"
cat load.txt
status=0
"$L" validate --served served --costs python.toml --out report || status=$?
echo "validate exit $status (report in $out/report/validation.md)"
