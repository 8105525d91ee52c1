#!/usr/bin/env bash
# Run an experiment grid as a SLURM array: one training run (train + evaluate) per task,
# then one small job that collects the results table once every task has ended.
#
#   scripts/slurm_experiment.sh experiments/paper CACHE OUT [extra options]
#
# e.g. scripts/slurm_experiment.sh experiments/paper /data/tusz_cache runs/paper \
#        --config train/h100
#
# Submitting from a login node: the script lists the runs (seizure experiment --list), leaves
# out the finished ones (OUT/runs/NAME/stages.json complete and eval/scores.json present),
# submits itself as an array over the indices of the others and a dependent --collect job.
# Inside the array, each task runs `seizure experiment ... --index $SLURM_ARRAY_TASK_ID`
# (a finished run is skipped there too), so resubmitting after failures only redoes what is
# missing.
#
# Preemption and time limits: SLURM sends SIGTERM to this script 5 minutes before the end
# (--signal B:TERM@300); it passes it on to the run: in training, the training finishes its
# step, saves OUT/runs/NAME/train/last.pt and stops; in evaluation, the evaluation stops. When
# the run's record (stages.json) or train/summary.json was rewritten with "status":
# "interrupted", the task requeues itself (scontrol requeue JOB_TASK); the rerun resumes the
# training from last.pt, or evaluates a finished training again without training it (the
# windows' probabilities already written are reused). After a crash it is not requeued.
# Set SEIZURE_ARRAY_LIMIT=K to run at most K tasks at once (--array=...%K).
# Adjust the #SBATCH lines (partition, account, time) to your cluster.
#SBATCH --job-name=seizure-exp
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --time=04:00:00
#SBATCH --signal=B:TERM@300
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=slurm-%x-%A_%a.out
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 GRID CACHE OUT [seizure experiment options...]" >&2
    exit 2
fi
GRID=$1 CACHE=$2 OUT=$3
shift 3
SEIZURE=${SEIZURE:-seizure}   # e.g. SEIZURE=.venv/bin/seizure

finished() {  # the run folder $1 holds a finished run
    [[ -f "$1/eval/scores.json" ]] && grep -q '"complete": true' "$1/stages.json" 2>/dev/null
}

if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    # inside the array: the i-th run only
    task=$SLURM_ARRAY_TASK_ID
    name=$("$SEIZURE" experiment "$GRID" --list "$@" | awk -F'\t' -v i="$task" '$1 == i {print $2}')
    if [[ -z "$name" ]]; then
        echo "array task $task: $GRID has no run $task" >&2
        exit 2
    fi
    run_dir="$OUT/runs/$name"
    if finished "$run_dir"; then
        echo "array task $task: $run_dir already finished; nothing to do"
        exit 0
    fi
    # the run's record (stages.json, any phase) or its training's summary.json, rewritten
    # by this task with "status": "interrupted", means: saved on a signal, requeue
    summary="$run_dir/train/summary.json"
    record="$run_dir/stages.json"
    stamp() { stat -c '%i %y' "$1" 2>/dev/null || echo absent; }
    interrupted() {  # $1 rewritten since its stamp $2, with "status": "interrupted"
        [[ "$(stamp "$1")" != "$2" ]] && grep -q '"status": "interrupted"' "$1"
    }
    before=$(stamp "$summary")
    before_record=$(stamp "$record")
    export SEIZURE_PROGRESS=0
    echo "$(date -Is) array task $task on $(hostname): $name -> $run_dir"
    "$SEIZURE" experiment "$GRID" "$CACHE" "$OUT" --index "$SLURM_ARRAY_TASK_ID" \
        --device auto "$@" &
    pid=$!
    trap 'echo "$(date -Is) SIGTERM: asking the run to save and stop"; kill -TERM "$pid"' TERM
    set +e
    wait "$pid"; status=$?
    # `wait` returns early when the trap fires: wait again for the run to finish saving
    if kill -0 "$pid" 2>/dev/null; then wait "$pid"; status=$?; fi
    set -e
    if [[ $status -ne 0 && -n "${SLURM_JOB_ID:-}" ]] \
            && { interrupted "$summary" "$before" || interrupted "$record" "$before_record"; }; then
        job=${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_$task
        echo "$(date -Is) interrupted: requeueing $job (it resumes what is unfinished)"
        scontrol requeue "$job"
        exit 0
    fi
    exit "$status"
fi

listing=$("$SEIZURE" experiment "$GRID" --list "$@")
N=$(printf '%s\n' "$listing" | grep -c . || true)
if [[ "$N" -lt 1 ]]; then
    echo "$GRID: no runs" >&2
    exit 1
fi
todo=()
while IFS=$'\t' read -r index name; do
    if ! finished "$OUT/runs/$name"; then
        todo+=("$index")
    fi
done <<< "$listing"
if [[ ${#todo[@]} -eq 0 ]]; then
    echo "all $N runs in $OUT are finished; nothing to submit" \
        "(the table: $SEIZURE experiment $GRID $CACHE $OUT --collect)"
    exit 0
fi
# indices as ranges (0-3,5,7-9): short enough for sbatch whatever the grid
spec=$(printf '%s\n' "${todo[@]}" | awk '
    NR == 1 { lo = hi = $1; next }
    $1 == hi + 1 { hi = $1; next }
    { out = out (lo == hi ? lo : lo "-" hi) ","; lo = hi = $1 }
    END { print out (lo == hi ? lo : lo "-" hi) }')
spec+=${SEIZURE_ARRAY_LIMIT:+%$SEIZURE_ARRAY_LIMIT}
mkdir -p "$OUT"
ARRAY=$(sbatch --parsable --array="$spec" "$0" "$GRID" "$CACHE" "$OUT" "$@")
echo "submitted array job $ARRAY (${#todo[@]} of $N runs: $spec)"
COLLECT=$(sbatch --parsable --dependency="afterany:$ARRAY" --job-name=seizure-collect \
    --gres=none --cpus-per-task=2 --mem=8G --time=00:30:00 \
    --wrap="$SEIZURE experiment '$GRID' '$CACHE' '$OUT' --collect $*")
echo "submitted collect job $COLLECT: $OUT/results.md once the array has ended"
