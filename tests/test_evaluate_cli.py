"""``seizure evaluate`` through click: outputs, messages and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_evaluate_pipeline import make_cache, make_checkpoint, power_factory

from seizure.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "seizure" / "configs" / "evaluate"


@pytest.fixture
def stand_in_model(monkeypatch):
    import seizure.evaluation.probabilities as evaluate_module
    import seizure.training.checkpoint as checkpoint_module

    real = checkpoint_module.load_model_from_checkpoint
    monkeypatch.setattr(
        evaluate_module,  # where evaluate looks the function up
        "load_model_from_checkpoint",
        lambda path, device="cpu", model_factory=None, **kw: real(
            path, device, power_factory, **kw
        ),
    )


def test_evaluate_command(tmp_path, stand_in_model):
    cache = make_cache(tmp_path / "cache")
    ckpt = make_checkpoint(tmp_path / "best.pt")
    out = tmp_path / "out"
    args = ["evaluate", str(ckpt), str(cache.path), str(out), "--device", "cpu"]
    fixed = ["--set", "evaluate.choose_on=none"]  # threshold 0.5; dev choice tested apart
    result = CliRunner().invoke(main, [*args, "--set", "evaluate.sweep_points=5", *fixed])
    assert result.exit_code == 0, result.output
    assert "5 recordings, threshold 0.5: OVLP 100.00% at" in result.output
    assert f"report: {out / 'report.md'}" in result.output
    assert (out / "report.md").is_file() and (out / "curve.png").is_file()
    # every shipped evaluate config is accepted
    for config in sorted(CONFIGS.glob("*.yaml")):
        extra = ["--reuse-probs", "--config", str(config), "--set", "evaluate.sweep_points=3"]
        again = CliRunner().invoke(main, [*args, *extra])
        assert again.exit_code == 0, (config.name, again.output)
    bad = CliRunner().invoke(main, [*args, "--set", "evaluate.smoothing_windows=0"])
    assert bad.exit_code == 2 and "evaluate.smoothing_windows" in bad.output
    wrong_split = CliRunner().invoke(main, [*args, "--split", "train"])
    assert wrong_split.exit_code == 1 and "no recordings in split 'train'" in wrong_split.output


def test_evaluate_refuses_mismatched_cache(tmp_path):
    from seizure.preprocessing.config import PreprocessConfig

    cache = make_cache(tmp_path / "cache")
    other = PreprocessConfig(sample_rate_hz=32.0, bandpass_hz=(0.5, 12.0), notch_hz=8.0)
    ckpt = make_checkpoint(tmp_path / "other.pt", preprocess=other)
    result = CliRunner().invoke(main, ["evaluate", str(ckpt), str(cache.path), str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "notch_hz (checkpoint 8.0, cache None)" in result.output


def test_importing_the_commands_stays_light():
    code = (
        "import sys; import seizure.cli.evaluate, seizure.cli.detect;"
        "heavy = [m for m in ('torch', 'numpy', 'matplotlib', 'scipy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
