"""The training benchmark runs (tiny sizes on the CPU) and prints its JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"


def test_bench_train_quick_prints_one_json_line(tmp_path):
    cmd = [sys.executable, str(BENCH), "--quick", "--only", "plain,fast,paper_fast",
           "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["device"] == "cpu" and summary["window_shape"] == [22, 256]
    assert summary["cache_dtype"] == "float16"
    for name in ("plain", "fast", "paper_fast"):
        result = summary["results"][name]
        assert result["windows_per_s"] > 0 and result["loss_finite"], name
    assert summary["results"]["plain"]["feeder"] == "dataloader"
    assert summary["results"]["fast"]["feeder"] == "threads"
    assert summary["results"]["paper_fast"]["sequence_windows"] == 7
    assert "fast_over_plain" in summary
    assert (tmp_path / "cache" / "cache.json").is_file()  # --cache-dir keeps the cache


def test_bench_train_paper_mode_times_the_plain_way_against_the_captured_step(tmp_path):
    cmd = [sys.executable, str(BENCH), "--quick", "--paper", "--cache-dir", str(tmp_path / "c")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary["results"]) == {"paper_plain", "paper_graph"}
    plain, graph = summary["results"]["paper_plain"], summary["results"]["paper_graph"]
    assert plain["feeder"] == "dataloader" and plain["precision"] == "fp32"
    assert graph["cuda_graph"] is True and graph["graph_failed"] is None  # the CPU emulation
    assert graph["loss_finite"] and graph["sequence_windows"] == plain["sequence_windows"] == 7
    ratio = graph["windows_per_s"] / plain["windows_per_s"]
    assert summary["paper_graph_over_plain"] == ratio and not summary["paper_graph_meets_goal"]
    assert any(line.startswith("paper regime, captured step / plain: ") for line in lines)
