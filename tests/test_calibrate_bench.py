"""The calibration command of the benchmark corpus runs end to end on a small corpus."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "calibrate_benchmark.py"
SMALL = ["synth.hours=0.8", "synth.patients=10", "synth.recording_minutes=[2.0,4.0]",
         "synth.seizure_seconds=[10.0,30.0]", "synth.ictal_fraction=0.1"]  # fmt: skip


@pytest.mark.slow
def test_calibrate_prints_the_baseline_at_window_and_event_level(tmp_path):
    cmd = [sys.executable, str(BENCH), "--seeds", "0", "--jobs", "1", "--work", str(tmp_path)]
    for item in SMALL:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("| synth seed | eval window AUROC | OVLP sensitivity | OVLP FA/24h")
    assert lines[2].startswith("| 0 | ")
    summary = json.loads(lines[-1])
    (run,) = summary["runs"]
    assert summary["overrides"] == SMALL and run["seed"] == 0
    assert 0.0 <= run["window_auroc"] <= 1.0 and summary["window_auroc_sd"] is None
    assert summary["window_auroc_mean"] == run["window_auroc"]
    # the operating point was chosen on dev, never on eval, and is one of the sweep's
    assert run["chosen_on"] == "dev"
    assert 0.0 < run["threshold"] < 1.0 and run["smoothing_windows"] in (1, 3, 5, 9)
    assert 0.0 <= run["ovlp_sensitivity"] <= 1.0 and math.isfinite(run["ovlp_fa_per_24h"])
    assert run["eval_seizures"] > 0 and run["dev_patients"] >= 1
    # the eval curve read at 10 FA/24h (the corpus's difficulty), within its budget
    assert "eval curve: OVLP sens. at <= 10 FA/24h" in lines[0]
    assert 0.0 <= run["curve_ovlp_sensitivity_at_10"] <= 1.0
    if run["curve_threshold_at_10"] is not None:
        assert run["curve_ovlp_fa_at_10"] <= 10.0
    assert not any(tmp_path.iterdir())  # without --keep the corpus, cache and runs are gone


def _load_gap():
    import importlib.util

    path = BENCH.with_name("dev_eval_gap.py")
    spec = importlib.util.spec_from_file_location("dev_eval_gap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_eval_gap_summary_by_hand():
    gap = _load_gap()
    # 3 patients: 3 false alarms in 2 h, none in 2 h, 1 in 4 h -> 4 in 8 h = 12 FA/24h
    s = gap.summarise(np.array([3, 0, 1]), np.array([2.0, 2.0, 4.0]), resamples=500)
    assert s["false_alarms"] == 4 and s["hours"] == 8.0 and s["patients"] == 3
    assert s["fa_per_24h"] == 12.0 and s["patients_with_false_alarms"] == 2
    assert s["top_tenth_share"] == 0.75  # the top tenth of 3 patients is one: 3 of 4
    lo, hi = s["fa_per_24h_95"]
    # a resample of patients ranges from all the second (0) to all the first (36 FA/24h)
    assert 0.0 <= lo < 12.0 < hi <= 36.0
    # one patient only: no spread
    one = gap.summarise(np.array([2]), np.array([6.0]), resamples=50)
    assert one["fa_per_24h_95"] == [8.0, 8.0] and one["top_tenth_share"] == 1.0


@pytest.mark.slow
def test_dev_eval_gap_reads_a_dev_chosen_evaluation(tmp_path):
    cmd = [sys.executable, str(BENCH), "--seeds", "0", "--jobs", "1", "--work", str(tmp_path),
           "--keep"]  # fmt: skip
    for item in SMALL:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads(proc.stdout.strip().splitlines()[-1])["runs"][0]
    gap = BENCH.with_name("dev_eval_gap.py")
    out = tmp_path / "runs_0" / "baseline-eval"
    cmd = [sys.executable, str(gap), str(tmp_path / "cache_0"), str(out), "--resamples", "200"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(proc.stdout.strip().splitlines()[-1])["runs"]
    # the same operating point and the same false-alarm rates as the evaluation reported
    assert row["threshold"] == run["threshold"]
    assert row["dev"]["fa_per_24h"] == pytest.approx(run["dev_fa_per_24h"], abs=0.01)
    assert row["eval"]["fa_per_24h"] == pytest.approx(run["ovlp_fa_per_24h"], abs=0.01)
    assert row["dev"]["patients"] == run["dev_patients"]
    assert row["eval"]["hours"] == pytest.approx(run["eval_hours"], abs=0.1)
    # an evaluation that did not choose on dev is refused
    evaluation = json.loads((out / "evaluation.json").read_text())
    evaluation["chosen_on"] = None
    (out / "evaluation.json").write_text(json.dumps(evaluation))
    proc = subprocess.run([sys.executable, str(gap), str(tmp_path / "cache_0"), str(out)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "not chosen on dev" in proc.stderr
