#!/usr/bin/env bash
# A grid of training runs as a SLURM array job, one GPU per run.
#
#   sbatch --array=0-$(( $(grep -cvE '^\s*(#|$)' GRID) - 1 ))%8 \
#       scripts/slurm_array.sh CACHE RUN_ROOT GRID
#
# GRID holds one run per line: a name, then `seizure train` options (no quoted spaces);
# blank lines and lines starting with # are skipped. Example:
#
#   lstm_orthogonal --config train/h100 --set model.init.recurrent=orthogonal
#   lstm_glorot     --config train/h100 --set model.init.recurrent=glorot_uniform
#   gru_l2          --config train/h100 --set model.cell=gru --set model.regularization.l2=1e-4
#
# Array task i trains line i into RUN_ROOT/<name> with --resume, so a requeued or re-submitted
# task continues where it stopped; a finished run (summary.json "status" completed,
# early_stopped or max_steps) is left alone. On SIGTERM (--signal B:TERM)
# the training saves last.pt and stops; the task requeues itself when the run's summary.json
# was rewritten with "status": "interrupted" (not after a crash).
#SBATCH --job-name=seizure-grid
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=12:00:00
#SBATCH --signal=B:TERM@300
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%A_%a.out
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: sbatch --array=0-N scripts/slurm_array.sh CACHE RUN_ROOT GRID" >&2
    exit 2
fi
cache=$1
run_root=$2
grid=$3
task=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array}

cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
python=${SEIZURE_PYTHON:-.venv/bin/python}
line=$(grep -vE '^\s*(#|$)' "$grid" | sed -n "$((task + 1))p")
if [[ -z "$line" ]]; then
    echo "array task $task: $grid has no line $((task + 1)) (runs are numbered from 0)" >&2
    exit 2
fi
read -r -a words <<< "$line"
name=${words[0]}
options=("${words[@]:1}")
run_dir="$run_root/$name"
if [[ -f "$run_dir/summary.json" ]] && grep -qE '"status": "(completed|early_stopped|max_steps)"' \
        "$run_dir/summary.json"; then
    echo "array task $task: $run_dir already finished; nothing to do"
    exit 0
fi
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-8}
export SEIZURE_PROGRESS=0

summary="$run_dir/summary.json"
stamp() { stat -c '%i %y' "$1" 2>/dev/null || echo absent; }
before=$(stamp "$summary")
echo "$(date -Is) array task $task on $(hostname): $name -> $run_dir ${options[*]}"
"$python" -m seizure train "$cache" "$run_dir" --resume --device cuda "${options[@]}" &
pid=$!
trap 'echo "$(date -Is) SIGTERM: saving"; kill -TERM "$pid"' TERM
set +e
wait "$pid"; status=$?
if kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; fi
set -e
if [[ $status -ne 0 && -n "${SLURM_JOB_ID:-}" && "$(stamp "$summary")" != "$before" ]] \
        && grep -q '"status": "interrupted"' "$summary"; then
    echo "$(date -Is) interrupted: requeueing ${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${task}"
    scontrol requeue "${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${task}"
    exit 0
fi
exit "$status"
