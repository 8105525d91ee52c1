#!/usr/bin/env bash
# Run an experiment grid as a SLURM array: one training run (train + evaluate) per task,
# then one small job that collects the results table once every task has ended.
#
#   scripts/slurm_experiment.sh experiments/paper CACHE OUT [extra options]
#
# e.g. scripts/slurm_experiment.sh experiments/paper /data/tusz_cache runs/paper \
#        --config train/h100
#
# Submitting from a login node: the script counts the runs (seizure experiment --list),
# submits itself as an array of that size and a dependent --collect job. Inside the array,
# each task runs `seizure experiment ... --index $SLURM_ARRAY_TASK_ID`. Finished runs are
# skipped, so resubmitting after failures or time-outs only redoes what is missing.
# Adjust the #SBATCH lines (partition, account, time) to your cluster.
#SBATCH --job-name=seizure-exp
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --time=04:00:00
#SBATCH --output=slurm-%x-%A_%a.out
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 GRID CACHE OUT [seizure experiment options...]" >&2
    exit 2
fi
GRID=$1 CACHE=$2 OUT=$3
shift 3
SEIZURE=${SEIZURE:-seizure}   # e.g. SEIZURE=.venv/bin/seizure

if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    # inside the array: the i-th run only
    exec "$SEIZURE" experiment "$GRID" "$CACHE" "$OUT" --index "$SLURM_ARRAY_TASK_ID" \
        --device auto "$@"
fi

N=$("$SEIZURE" experiment "$GRID" --list "$@" | wc -l)
if [[ "$N" -lt 1 ]]; then
    echo "$GRID: no runs" >&2
    exit 1
fi
mkdir -p "$OUT"
ARRAY=$(sbatch --parsable --array="0-$((N - 1))" "$0" "$GRID" "$CACHE" "$OUT" "$@")
echo "submitted array job $ARRAY ($N runs)"
COLLECT=$(sbatch --parsable --dependency="afterany:$ARRAY" --job-name=seizure-collect \
    --gres=none --cpus-per-task=2 --mem=8G --time=00:30:00 \
    --wrap="$SEIZURE experiment '$GRID' '$CACHE' '$OUT' --collect $*")
echo "submitted collect job $COLLECT: $OUT/results.md once the array has ended"
