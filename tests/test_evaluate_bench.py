"""The inference benchmark runs (tiny sizes on the CPU), reports its stages, and says so (exit
status 1, the error in its JSON line) when the engine fails."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_inference.py"
TINY = ["--device", "cpu", "--quick", "--recordings", "3", "--windows-per-recording", "70",
        "--distinct", "2", "--batch-sequences", "2", "--threads", "1"]  # fmt: skip


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_inference", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def summary_of(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_bench_inference_reports_stages_of_the_staged_path(bench, capsys, tmp_path):
    assert bench.main([*TINY, "--emulate-device", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    summary = summary_of(out)
    assert summary["error"] is None
    assert summary["windows"] == 210 and summary["baseline_windows"] == 210
    assert summary["max_abs_prob_diff"] < 1e-2 and summary["max_abs_prob_diff_copies"] < 1e-2
    stages = summary["stages"]
    assert stages["windows"] == 210 and stages["device"] == "cpu (staged)"
    assert stages["bytes_read"] > 0 and stages["write_s"] > 0
    assert summary["model_only_windows_per_s"] > 0 and summary["feed_only_windows_per_s"] > 0
    assert "wait for input" in out and "ERROR" not in out
    assert (tmp_path / "ours" / "hyp").is_dir()


def test_bench_inference_reports_a_failing_engine(bench, capsys, monkeypatch):
    from seizure.inference import engine

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(engine.Predictor, "_run_on_host", broken)
    assert bench.main([*TINY, "--no-ceilings"]) == 1
    captured = capsys.readouterr()
    summary = summary_of(captured.out)
    assert summary["benchmark"] == "inference" and "simulated failure" in summary["error"]
    assert "ERROR: the inference engine failed" in captured.err
