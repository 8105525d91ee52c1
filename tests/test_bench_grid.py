"""The grid benchmark runs (tiny sizes on the CPU) and prints its JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_grid.py"


def test_bench_grid_quick_times_sequential_against_parallel(tmp_path):
    cmd = [sys.executable, str(BENCH), "--quick", "--keep", str(tmp_path / "b")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    seq, par = summary["sequential"], summary["parallel"]
    assert (seq["parallel"], par["parallel"]) == (1, 2)
    assert seq["runs"] == par["runs"] == 2 and not seq["failed"] and not par["failed"]
    # the same runs trained the same windows either way: 1 epoch of the train split
    assert seq["windows"] == par["windows"] > 0
    assert summary["parallel_over_sequential"] > 0
    projection = summary["projection"]
    assert projection["paper_runs"] == 102  # 34 trained cells x 3 seeds, the baseline left out
    assert projection["benchmark_train_windows_per_epoch"] == round(64 * 0.38 * 3600)
    assert projection["projected_hours"] > 0
    assert any(line.startswith("projection: the paper grid") for line in lines)
    # each pass wrote its own run folders
    assert (tmp_path / "b" / "seq" / "runs").is_dir() and (tmp_path / "b" / "par" / "runs").is_dir()
