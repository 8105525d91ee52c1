"""``seizure timescale``: JSON output, checkpoints, errors, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seizure.cli import main
from seizure.config import load_config, to_dict
from seizure.models import build_model
from seizure.training.checkpoint import save_checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / "seizure" / "configs" / "models"
SMALL = [
    "--set",
    "model.hidden_size=8",
    "--set",
    "model.conv_channels=[8]",
    "--set",
    "model.conv_kernels=[3]",
    "--set",
    "preprocess.window_seconds=0.25",
    "--steps",
    "60",
    "--jacobian-steps",
    "10",
]


def _json(args: list[str]) -> dict:
    result = CliRunner().invoke(main, ["timescale", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_timescale_json_fresh_model():
    report = _json(SMALL)
    assert report["cell"] == "lstm"
    assert report["window_shape"] == [22, 64]
    assert report["xi_steps"] is None and report["chi"] is None
    assert set(report["gate_tau_steps"]) == {"mean", "max"}
    tau = report["lyapunov_tau_steps"]
    assert tau is None or tau > 0
    assert report["seconds_per_step"] == 1.0


@pytest.mark.parametrize("features", ["raw", "lfcc"])
def test_timescale_window_shape_is_the_shape_preprocess_gives(features):
    from seizure.preprocessing.pipeline import window_shape

    sets = [f"preprocess.features={features}", "preprocess.window_seconds=0.5"]
    report = _json([*SMALL, *[a for s in sets for a in ("--set", s)]])
    config = load_config(overrides=sets)
    assert report["window_shape"] == list(window_shape(config.preprocess))


def test_timescale_json_minimal_and_esn_configs():
    report = _json(["--config", str(CONFIGS / "minimal_critical.yaml"), *SMALL])
    assert report["cell"] == "minimal"
    # critical_xi 30: gate bias ln(2 xi - 1), bias-only gate timescale 2 xi - 1 = 59 steps
    assert report["chi"] > 0 and report["gate_tau_steps"]["max"] == pytest.approx(59, rel=0.01)
    report = _json(["--config", str(CONFIGS / "esn.yaml"), *SMALL])
    assert report["cell"] == "esn" and report["gate_tau_steps"] is None
    assert report["lyapunov_tau_steps"] > 0


def test_timescale_text_output():
    result = CliRunner().invoke(main, ["timescale", *SMALL, "--set", "model.cell=vanilla"])
    assert result.exit_code == 0, result.output
    assert "mean field: chi" in result.output
    assert "top Lyapunov exponent" in result.output


def test_timescale_checkpoint(tmp_path):
    config = load_config(
        overrides=[
            "model.cell=gru",
            "model.hidden_size=8",
            "model.conv_channels=[8]",
            "model.conv_kernels=[3]",
        ]
    )
    torch.manual_seed(0)
    model = build_model(config.model, (4, 32))
    with torch.no_grad():
        model.rnn.layers[0].rnn.bias_ih_l0[8:16] = 5.0  # slow update gates: a trained-in memory
    path = tmp_path / "best.pt"
    save_checkpoint(
        path,
        {"model": model.state_dict(), "config": to_dict(config), "window_shape": [4, 32],
         "epoch": 1, "step": 1},
    )  # fmt: skip
    report = _json(["--checkpoint", str(path), "--steps", "60", "--jacobian-steps", "0"])
    assert report["cell"] == "gru"
    assert report["window_shape"] == [4, 32]
    assert report["gate_tau_steps"]["max"] > 100
    assert report["jacobian"] is None


def test_timescale_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(main, ["timescale", "--checkpoint", str(bad)])
    assert result.exit_code == 2
    assert "cannot read" in result.output
    save_checkpoint(tmp_path / "partial.pt", {"model": {}, "epoch": 0, "step": 0})
    result = CliRunner().invoke(main, ["timescale", "--checkpoint", str(tmp_path / "partial.pt")])
    assert result.exit_code == 2
    assert "config, window_shape" in result.output
    result = CliRunner().invoke(main, ["timescale", "--set", "model.init.recurrent=critical"])
    assert result.exit_code == 2
    assert "model.init.recurrent" in result.output


def test_timescale_import_is_light():
    code = "import sys, seizure.cli.timescale; m = sys.modules; print('torch' in m, 'numpy' in m)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
