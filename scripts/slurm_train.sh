#!/usr/bin/env bash
# One training run on one node with several GPUs (DistributedDataParallel via torchrun).
#
#   sbatch scripts/slurm_train.sh CACHE RUN_DIR [seizure train options ...]
#   sbatch --gpus-per-node=8 scripts/slurm_train.sh cache/tusz runs/h100x8 \
#       --config train/h100 --set train.epochs=50
#
# Every rank trains on its shard of each global batch (train.batch_size is per GPU); rank 0
# validates and writes RUN_DIR. The run is always started with --resume, so a requeued job
# continues from RUN_DIR/last.pt (an empty RUN_DIR starts fresh). Shortly before the time
# limit SLURM sends SIGTERM (--signal); the trainers finish their step, save last.pt and exit
# 143, and this script requeues the job.
#SBATCH --job-name=seizure-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=32
#SBATCH --mem=200G
#SBATCH --time=24:00:00
#SBATCH --signal=B:TERM@300
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: sbatch $0 CACHE RUN_DIR [seizure train options ...]" >&2
    exit 2
fi
cache=$1
run_dir=$2
shift 2

cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
python=${SEIZURE_PYTHON:-.venv/bin/python}
ngpu=${SLURM_GPUS_ON_NODE:-$(nvidia-smi -L 2>/dev/null | wc -l)}
if [[ "$ngpu" -lt 1 ]]; then
    echo "no GPU visible on $(hostname); request some with --gpus-per-node" >&2
    exit 2
fi
# split the CPUs between the ranks (copy threads and OpenMP)
export OMP_NUM_THREADS=$(( ${SLURM_CPUS_PER_TASK:-$(nproc)} / ngpu ))
export SEIZURE_PROGRESS=0   # batch logs: no progress bars

started=$(mktemp)
echo "$(date -Is) job ${SLURM_JOB_ID:-?} on $(hostname): $ngpu GPU(s), run dir $run_dir"
"$python" -m torch.distributed.run --standalone --nproc_per_node="$ngpu" \
    -m seizure train "$cache" "$run_dir" --resume "$@" &
pid=$!
trap 'echo "$(date -Is) SIGTERM: asking the trainers to save and stop"; kill -TERM "$pid"' TERM
set +e
wait "$pid"; status=$?
# `wait` returns early when the trap fires: wait again for the trainers to finish saving
if kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; fi
set -e

# requeue only when this job's trainers saved an interrupted run (not after a crash)
summary="$run_dir/summary.json"
if [[ $status -ne 0 && -n "${SLURM_JOB_ID:-}" && "$summary" -nt "$started" ]] \
        && grep -q '"status": "interrupted"' "$summary"; then
    echo "$(date -Is) interrupted: requeueing job $SLURM_JOB_ID (it resumes from last.pt)"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
fi
rm -f "$started"
exit "$status"
