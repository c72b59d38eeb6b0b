#!/usr/bin/env bash
# A sweep as a Slurm job array: each task runs one shard of the plan, then one job merges them.
#
#   sbatch --array=0-15 scripts/slurm-sweep.sh scenarios/sweep.toml results
#   # when the array is done:
#   lambdasim sweep merge results/shard-*.csv --out results/results.csv
#
# lambdasim reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT itself, so every task runs the
# runs whose index is its task id modulo the number of tasks (task ids must start at 0). Each task
# uses the cores Slurm gives it (--cpus-per-task).
#SBATCH --job-name=lambdasim-sweep
#SBATCH --cpus-per-task=4
#SBATCH --output=lambdasim-sweep-%A_%a.log
set -euo pipefail

plan=${1:?usage: sbatch --array=0-N scripts/slurm-sweep.sh PLAN OUT_DIR}
out=${2:?usage: sbatch --array=0-N scripts/slurm-sweep.sh PLAN OUT_DIR}
lambdasim=${LAMBDASIM:-lambdasim}

mkdir -p "$out"
"$lambdasim" sweep --plan "$plan" --threads "${SLURM_CPUS_PER_TASK:-0}" \
  --out "$out/shard-${SLURM_ARRAY_TASK_ID}.csv"
