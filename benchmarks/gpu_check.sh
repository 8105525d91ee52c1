#!/usr/bin/env bash
# Everything that needs a GPU, in one short run (about 7.5 minutes on one H100):
# the GPU tests, training throughput (bench_train.py, then the paper's 64 x 7 regime:
# plain against the captured step) and inference throughput (bench_inference.py).
# Logs go to $OUT (or /tmp/seizure-gpu-check).
#
#   bash benchmarks/gpu_check.sh             # everything but the grid (about 7.5 minutes)
#   bash benchmarks/gpu_check.sh inference   # inference only: its GPU tests, then the
#                                            # benchmark with --sweep (about 2 minutes)
#   bash benchmarks/gpu_check.sh grid        # the experiment grid at the paper's batch:
#                                            # 6 runs one at a time against --parallel 6,
#                                            # and the paper grid's projection (about 4 min)
#
# One device call runs at most 10 minutes: run `all` and `grid` as two calls.
#
# Needs a CUDA build of PyTorch with numpy, scipy, click, pyyaml, tqdm, matplotlib, pytest.
# Wheels of edfio/timescoring in .whl/ (pip download ...) are installed to /tmp/site when the
# machine lacks them.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/seizure-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 SEIZURE_PROGRESS=0
PY=${PYTHON:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

MODE=${1:-all}
if [ "$MODE" = grid ]; then
  echo "== the experiment grid at 64 x 7: one run at a time against 6 at once (goal >= 500k/s)"
  timeout 300 $PY benchmarks/bench_grid.py --device cuda --parallel 6 2>&1 \
    | tee "$OUT/bench_grid.log" | tail -8
  exit 0
fi
if [ "$MODE" = inference ]; then
  TESTS="tests/test_inference_gpu.py"
else
  TESTS="tests/test_train_gpu.py tests/test_train_graphstep_gpu.py tests/test_inference_gpu.py
    tests/test_models_registry.py"
fi

echo "== GPU tests"
# torch.compile on some torch releases warns about torch.jit deprecation: not our code.
# shellcheck disable=SC2086
timeout 120 $PY -m pytest -q -p no:cacheprovider -W "ignore::DeprecationWarning" \
  $TESTS -m gpu 2>&1 | tee "$OUT/gpu_tests.log" | tail -15

if [ "$MODE" != inference ]; then
  echo "== training throughput"
  timeout 220 $PY benchmarks/bench_train.py --cache-gb 1 2>&1 | tee "$OUT/bench_train.log" | tail -20
  echo "== training, the paper's regime: plain against the captured step (goal >= 4x)"
  timeout 90 $PY benchmarks/bench_train.py --paper --cache-gb 0.3 --paper-steps 400 2>&1 \
    | tee "$OUT/bench_train_paper.log" | tail -5
fi

echo "== inference throughput"
timeout 170 $PY benchmarks/bench_inference.py --device cuda --recordings 500 --sweep 2>&1 \
  | tee "$OUT/bench_inference.log" | tail -45
