#!/usr/bin/env bash
# One training run with DistributedDataParallel via torchrun: one node or several.
#
#   sbatch scripts/slurm_train.sh CACHE RUN_DIR [seizure train options ...]
#   sbatch --gpus-per-node=8 scripts/slurm_train.sh cache/tusz runs/h100x8 \
#       --config train/h100 --set train.epochs=50
#   sbatch --nodes=4 --gpus-per-node=8 scripts/slurm_train.sh cache/tusz runs/h100x32 \
#       --config train/h100
#
# One node: `torchrun --standalone`. Several nodes (--nodes=N): `srun` starts one torchrun
# agent per node and the agents meet at a c10d rendezvous on the first node of the job
# (port SEIZURE_RDZV_PORT, default 29500 + job id % 1000; rendezvous id = the job id). The
# cache and RUN_DIR must be on a file system every node sees.
#
# Every rank trains on its shard of each global batch (train.batch_size is per GPU) and
# validates its share of the dev split; global rank 0 writes RUN_DIR. The run is always
# started with --resume, so a requeued job continues from RUN_DIR/last.pt (an empty RUN_DIR
# starts fresh). Shortly before the time limit SLURM sends SIGTERM to this script (--signal
# B:TERM); it passes it on (to srun, which passes it to the agents and they to the trainers),
# the trainers finish their step, save last.pt and exit 143, and this script requeues the
# job when RUN_DIR/summary.json was rewritten with "status": "interrupted" (not after a crash).
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
nnodes=${SLURM_NNODES:-1}
# split the CPUs between the ranks (copy threads and OpenMP)
export OMP_NUM_THREADS=$(( ${SLURM_CPUS_PER_TASK:-$(nproc)} / ngpu ))
export SEIZURE_PROGRESS=0   # batch logs: no progress bars

train=(-m seizure train "$cache" "$run_dir" --resume "$@")
if [[ "$nnodes" -gt 1 ]]; then
    # awk reads the whole list: `head` would leave scontrol a broken pipe (pipefail)
    head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | awk 'NR == 1')
    port=${SEIZURE_RDZV_PORT:-$(( 29500 + ${SLURM_JOB_ID:-0} % 1000 ))}
    step=(srun --nodes="$nnodes" --ntasks-per-node=1 --kill-on-bad-exit=1)
    if [[ -n "${SLURM_CPUS_PER_TASK:-}" ]]; then
        step+=(--cpus-per-task="$SLURM_CPUS_PER_TASK")  # srun does not inherit it
    fi
    launch=("${step[@]}" "$python" -m torch.distributed.run --nnodes="$nnodes"
            --nproc_per_node="$ngpu" --rdzv_backend=c10d --rdzv_endpoint="$head_node:$port"
            --rdzv_id="${SLURM_JOB_ID:?multi-node runs need SLURM_JOB_ID}" "${train[@]}")
    where="$nnodes nodes x $ngpu GPU(s), rendezvous $head_node:$port"
else
    launch=("$python" -m torch.distributed.run --standalone --nproc_per_node="$ngpu"
            "${train[@]}")
    where="$ngpu GPU(s)"
fi

# the summary as it was before this job: requeue only when this job's trainers rewrote it
summary="$run_dir/summary.json"
stamp() { stat -c '%i %y' "$1" 2>/dev/null || echo absent; }
before=$(stamp "$summary")
echo "$(date -Is) job ${SLURM_JOB_ID:-?} on $(hostname): $where, run dir $run_dir"
"${launch[@]}" &
pid=$!
trap 'echo "$(date -Is) SIGTERM: asking the trainers to save and stop"; kill -TERM "$pid"' TERM
set +e
wait "$pid"; status=$?
# `wait` returns early when the trap fires: wait again for the trainers to finish saving
if kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; fi
set -e

if [[ $status -ne 0 && -n "${SLURM_JOB_ID:-}" && "$(stamp "$summary")" != "$before" ]] \
        && grep -q '"status": "interrupted"' "$summary"; then
    echo "$(date -Is) interrupted: requeueing job $SLURM_JOB_ID (it resumes from last.pt)"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
fi
exit "$status"
