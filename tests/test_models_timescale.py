"""Theory against simulation: Lyapunov exponents against the mean field, chrono against
PyTorch's default LSTM, dynamical isometry of critical orthogonal initialization."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from seizure.models.config import ModelConfig
from seizure.models.init import solve_critical_vanilla
from seizure.models.recurrent import MinimalLayer, TorchRNNLayer, VanillaLayer
from seizure.models.registry import build_model
from seizure.models.timescale import (
    gate_timescales,
    jacobian_spectrum,
    lyapunov_exponent,
    mean_field_layer,
    timescale_report,
)


def _vanilla(n_in: int, h: int, sigma_w: float, input_variance: float, kind: str, seed: int):
    torch.manual_seed(seed)
    layer = VanillaLayer(n_in, h, bidirectional=False).double()
    cell = layer.cells[0]
    with torch.no_grad():
        if kind == "orthogonal":
            torch.nn.init.orthogonal_(cell.weight_hh, gain=sigma_w)
        else:
            cell.weight_hh.normal_(0.0, sigma_w / math.sqrt(h))
        cell.weight_ih.normal_(0.0, math.sqrt(input_variance / n_in))
        cell.bias_ih.zero_()
    return layer


@pytest.mark.parametrize("sigma_w", [0.8, 2.5])  # ordered (chi ~ 0.39) and chaotic (chi > 1)
def test_vanilla_lyapunov_matches_half_log_chi(sigma_w):
    layer = _vanilla(32, 256, sigma_w, 0.3, "gaussian", seed=0)
    x = torch.randn(700, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    lam = lyapunov_exponent(layer, x, burn_in=100)
    chi = mean_field_layer(layer, x)["chi"]
    assert lam == pytest.approx(0.5 * math.log(chi), rel=0.10)


def _lstm_tau(init: dict) -> float:
    torch.manual_seed(2)
    cfg = ModelConfig(hidden_size=32, num_layers=1, bidirectional=False)
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, **init))
    layer = build_model(cfg, (4, 64)).rnn.layers[0].double()
    assert isinstance(layer, TorchRNNLayer)
    x = torch.randn(1500, layer.input_size, generator=torch.Generator().manual_seed(3))
    lam = lyapunov_exponent(layer, x.double(), burn_in=200)
    return -1.0 / lam if lam < 0 else math.inf


def test_chrono_lstm_remembers_and_pytorch_default_forgets():
    tau_chrono = _lstm_tau({"bias": "chrono", "chrono_t_max": 1000.0})
    assert tau_chrono >= 300
    tau_default = _lstm_tau({"kernel": "pytorch", "recurrent": "pytorch", "bias": "pytorch"})
    assert tau_default < 5


def test_critical_orthogonal_is_isometric_where_gaussian_collapses():
    v = 1e-4
    sigma_w, _ = solve_critical_vanilla(v)
    x = torch.randn(600, 32, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ortho = _vanilla(32, 128, sigma_w, v, "orthogonal", seed=5)
    gauss = _vanilla(32, 128, sigma_w, v, "gaussian", seed=5)
    # Both sit at the edge of chaos in the mean field.
    assert mean_field_layer(ortho, x)["chi"] == pytest.approx(1.0, abs=0.01)
    assert mean_field_layer(gauss, x)["chi"] == pytest.approx(1.0, abs=0.01)
    j_ortho = jacobian_spectrum(ortho, x, burn_in=500)
    j_gauss = jacobian_spectrum(gauss, x, burn_in=500)
    assert j_ortho["steps"] == 100
    assert 0.3 <= j_ortho["median"] <= 3.0
    assert j_gauss["median"] < 1e-3
    assert j_gauss["log10_spread"] > 3 * j_ortho["log10_spread"]


def test_minimal_critical_timescale_matches_target():
    xi = 40.0
    torch.manual_seed(6)
    cfg = ModelConfig(hidden_size=64, num_layers=1, bidirectional=False, cell="minimal")
    init = dict(kernel="critical", recurrent="critical", bias="critical", critical_xi=xi)
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, **init))
    layer = build_model(cfg, (4, 64)).rnn.layers[0].double()
    assert isinstance(layer, MinimalLayer)
    x = torch.randn(1200, layer.input_size, generator=torch.Generator().manual_seed(7))
    mf = mean_field_layer(layer, x.double())
    assert mf["xi_steps"] == pytest.approx(xi, rel=0.05)
    # Lyapunov exponent = 1/2 ln chi, i.e. tau = 2 xi.
    lam = lyapunov_exponent(layer, x.double(), burn_in=200)
    assert -1.0 / lam == pytest.approx(2 * mf["xi_steps"], rel=0.10)


def test_gate_timescales():
    torch.manual_seed(8)
    cfg = ModelConfig(hidden_size=256, num_layers=1)
    keras = build_model(cfg, (4, 64))
    g = gate_timescales(keras.rnn)
    unit = -1.0 / math.log(1.0 / (1.0 + math.exp(-1.0)))  # forget bias 1
    assert g["mean"] == pytest.approx(unit) and g["max"] == pytest.approx(unit)
    chrono = dataclasses.replace(
        cfg, init=dataclasses.replace(cfg.init, bias="chrono", chrono_t_max=1000.0)
    )
    g = gate_timescales(build_model(chrono, (4, 64)).rnn)
    # sigmoid(log T) = T / (1 + T): -1 / ln(...) ~ T + 1/2.
    assert 900 < g["max"] < 1000.5
    vanilla = build_model(dataclasses.replace(cfg, cell="vanilla"), (4, 64))
    assert gate_timescales(vanilla.rnn) is None


@pytest.mark.parametrize("cell", ["lstm", "vanilla", "esn", "none"])
def test_timescale_report(cell):
    torch.manual_seed(9)
    cfg = ModelConfig(cell=cell, hidden_size=8, conv_channels=(8,), conv_kernels=(3,))
    model = build_model(cfg, (4, 64))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    report = timescale_report(model, steps=150, burn_in=20, seconds_per_step=0.5, jacobian_steps=20)
    assert report["cell"] == cell
    for key in ("lyapunov_tau_steps", "chi", "xi_steps", "gate_tau_steps", "jacobian"):
        assert key in report
    # The model is left as it was (dtype, mode, weights).
    assert model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    if cell == "none":
        assert report["lyapunov_tau_steps"] == 0.0 and report["layers"] == []
        return
    assert len(report["layers"]) == 2 * cfg.num_layers
    tau = report["lyapunov_tau_steps"]
    if tau is not None:
        assert report["lyapunov_tau_seconds"] == pytest.approx(0.5 * tau)
    assert report["jacobian"]["steps"] == 20
    assert (report["chi"] is not None) == (cell == "vanilla")
    assert (report["gate_tau_steps"] is not None) == (cell == "lstm")
