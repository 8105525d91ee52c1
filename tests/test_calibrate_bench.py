"""The calibration command of the benchmark corpus runs end to end on a small corpus."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

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
