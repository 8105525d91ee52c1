"""``seizure timescale``: the top and the mean Lyapunov exponent, measured against mean field."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from seizure.models.config import ModelConfig
from seizure.models.recurrent import MinimalLayer
from seizure.models.registry import build_model
from seizure.models.timescale import (
    lyapunov_exponent,
    mean_field_layer,
    timescale_report,
    trajectory_statistics,
)


def _minimal(xi: float = 30.0, seed: int = 0) -> MinimalLayer:
    torch.manual_seed(seed)
    cfg = ModelConfig(hidden_size=64, num_layers=1, bidirectional=False, cell="minimal")
    init = dict(kernel="critical", recurrent="critical", bias="critical", critical_xi=xi)
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, **init))
    layer = build_model(cfg, (4, 64)).rnn.layers[0].double()
    assert isinstance(layer, MinimalLayer)
    return layer


def _features(layer: MinimalLayer, mean: float, seed: int = 1) -> torch.Tensor:
    """Inputs like an encoder's: a constant mean per feature plus white noise."""
    gen = torch.Generator().manual_seed(seed)
    offset = mean * torch.rand(layer.input_size, generator=gen, dtype=torch.float64)
    noise = 0.3 * torch.randn(1500, layer.input_size, generator=gen, dtype=torch.float64)
    return offset + noise


def test_half_log_chi_predicts_the_mean_exponent_not_the_top_one():
    layer = _minimal()
    x = _features(layer, mean=0.3)
    predicted = 0.5 * math.log(mean_field_layer(layer, x)["chi"])
    top = lyapunov_exponent(layer, x, burn_in=200)
    mean = trajectory_statistics(layer, x, burn_in=200)["mean_exponent"]
    assert mean == pytest.approx(predicted, rel=0.05)
    # the top exponent is slower (closer to 0) than the prediction by well over the 5%
    assert top > mean and abs(top) < 0.9 * abs(predicted)


def test_mean_exponent_is_the_mean_log_determinant():
    """A linear diagonal cell has a known spectrum: ln of its diagonal."""
    layer = _minimal()
    with torch.no_grad():  # W = 0 and V = 0: J_t = diag(u) with u = sigmoid(b) fixed
        for name in ("weight_hh", "weight_zh"):
            getattr(layer.cells[0], name).zero_()
        b = torch.linspace(1.0, 4.0, layer.hidden_size, dtype=torch.float64)
        layer.cells[0].bias_hh.copy_(b)
    x = _features(layer, mean=0.5)[:300]
    stats = trajectory_statistics(layer, x, burn_in=50)
    expected = float(torch.log(torch.sigmoid(b)).mean())
    assert stats["mean_exponent"] == pytest.approx(expected, rel=1e-5)
    top = lyapunov_exponent(layer, x, burn_in=50)
    assert expected < top <= float(torch.log(torch.sigmoid(b)).max()) + 1e-9


def test_non_zero_mean_features_hold_a_state_the_closure_misses():
    layer = _minimal()
    zero_mean = trajectory_statistics(layer, _features(layer, mean=0.0), burn_in=200)
    biased = _features(layer, mean=1.0)
    measured = trajectory_statistics(layer, biased, burn_in=200)["q_measured"]
    closure = mean_field_layer(layer, biased)["q_star"]
    assert measured > 10 * closure
    assert zero_mean["q_measured"] < 0.2 * measured


def test_report_gives_both_exponents_and_the_prediction():
    torch.manual_seed(3)
    cfg = ModelConfig(hidden_size=16, num_layers=1, bidirectional=False, cell="minimal",
                      conv_channels=(4, 4), conv_kernels=(3, 3))  # fmt: skip
    init = dict(kernel="critical", recurrent="critical", bias="critical", critical_xi=20.0)
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, **init))
    report = timescale_report(build_model(cfg, (4, 64)), steps=400, jacobian_steps=0)
    assert report["predicted_exponent"] == pytest.approx(0.5 * math.log(report["chi"]))
    assert report["mean_lyapunov_exponent"] < report["lyapunov_exponent"] < 0
    (layer,) = report["layers"]
    assert layer["q_measured"] > 0 and layer["q_star"] > 0
    assert layer["mean_lyapunov_exponent"] == report["mean_lyapunov_exponent"]
