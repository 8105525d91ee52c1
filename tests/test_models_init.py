"""Initializers against their formulas: Keras distributions and fans, orthogonality, bias
layouts, chrono, RAI, Allen-Zhu and Li, critical solves and the ESN reservoir."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.stats
import torch

from seizure.models.config import KERAS_INITIALIZERS, ModelConfig
from seizure.models.init import (
    RAI_STD,
    TRUNCATION_CORRECTION,
    allen_zhu_li_,
    esn_scale,
    keras_fans,
    keras_init_,
    mean_field_minimal,
    mean_field_vanilla,
    orthogonal_,
    orthogonal_per_gate_,
    rai_,
    solve_critical_vanilla,
)
from seizure.models.recurrent import ESNLayer
from seizure.models.registry import build_model

SMALL = dict(conv_channels=(8, 16), conv_kernels=(5, 3), hidden_size=16, num_layers=1)


def small(**kw) -> ModelConfig:
    init = kw.pop("init", {})
    cfg = ModelConfig(**{**SMALL, **kw})
    return dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, **init))


def test_keras_fans_match_keras_layouts():
    # Dense (in=300, out=200) is stored (200, 300) in PyTorch.
    assert keras_fans((200, 300)) == (300, 200)
    # Conv1D(filters=64, kernel 5) on 32 channels: fan_in = 32*5, fan_out = 64*5.
    assert keras_fans((64, 32, 5)) == (160, 320)
    assert keras_fans((16, 8, 3, 5)) == (8 * 15, 16 * 15)
    # LSTM kernel (in=128, 4h=512) and recurrent kernel (h=128, 4h): fan_out is 4h.
    assert keras_fans((512, 128)) == (128, 512)


# (out, in) = (4h, in) of an LSTM with h=256 and in=96: 98k entries.
SHAPE = (1024, 96)
FI, FO = 96, 1024


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("glorot_uniform", math.sqrt(6 / (FI + FO))),
        ("lecun_uniform", math.sqrt(3 / FI)),
        ("he_uniform", math.sqrt(6 / FI)),
        ("random_uniform", 0.05),
    ],
)
def test_uniform_initializers(name, bound):
    torch.manual_seed(0)
    w = keras_init_(torch.empty(SHAPE), name)
    assert w.abs().max() <= bound
    assert w.abs().max() >= 0.999 * bound
    assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(w.mean().item()) < 0.01 * bound


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("glorot_normal", math.sqrt(2 / (FI + FO))),
        ("lecun_normal", math.sqrt(1 / FI)),
        ("variance_scaling", math.sqrt(1 / FI)),
        ("he_normal", math.sqrt(2 / FI)),
    ],
)
@pytest.mark.parametrize("variant", ["keras2", "keras2017"])
def test_truncated_normal_initializers(name, std, variant):
    torch.manual_seed(1)
    w = keras_init_(torch.empty(SHAPE), name, variant)
    expected = std if variant == "keras2" else std * TRUNCATION_CORRECTION
    assert abs(w.std().item() / expected - 1) < 0.02
    # Truncated at two standard deviations of the distribution drawn from.
    drawn = std / TRUNCATION_CORRECTION if variant == "keras2" else std
    assert w.abs().max() <= 2 * drawn * (1 + 1e-6)
    assert w.abs().max() >= 1.95 * drawn


def test_truncated_normal_is_never_corrected():
    torch.manual_seed(2)
    for variant in ("keras2", "keras2017"):
        w = keras_init_(torch.empty(SHAPE), "truncated_normal", variant)
        assert w.abs().max() <= 0.1
        assert abs(w.std().item() / (0.05 * TRUNCATION_CORRECTION) - 1) < 0.02


def test_unknown_initializer_is_refused():
    with pytest.raises(ValueError, match="allowed values"):
        keras_init_(torch.empty(3, 3), "xavier")


def test_orthogonal_on_stacked_matrix():
    torch.manual_seed(3)
    h = 64
    w = orthogonal_(torch.empty(4 * h, h))  # PyTorch weight_hh of an LSTM
    eye = torch.eye(h)
    assert torch.allclose(w.T @ w, eye, atol=1e-5)
    # No gate block is orthogonal on its own.
    block = w[:h]
    assert not torch.allclose(block.T @ block, eye, atol=0.1)
    # Wide matrices get orthonormal rows (Keras' (h, 4h) recurrent kernel transposed).
    wide = orthogonal_(torch.empty(h, 4 * h))
    assert torch.allclose(wide @ wide.T, eye, atol=1e-5)
    # Through the Keras entry point, with Keras' gain.
    sq = keras_init_(torch.empty(h, h), "orthogonal", gain=2.0)
    assert torch.allclose(sq.T @ sq, 4 * eye, atol=1e-4)
    assert "orthogonal" in KERAS_INITIALIZERS


def test_orthogonal_per_gate():
    torch.manual_seed(4)
    h = 64
    w = orthogonal_per_gate_(torch.empty(4 * h, h), 4)
    for block in w.chunk(4):
        assert torch.allclose(block.T @ block, torch.eye(h), atol=1e-5)
        assert torch.allclose(block @ block.T, torch.eye(h), atol=1e-5)
    assert torch.allclose(w.T @ w, 4 * torch.eye(h), atol=1e-4)


def test_keras_lstm_defaults_bias_layout():
    torch.manual_seed(5)
    model = build_model(small(cell="lstm", bidirectional=True), (4, 64))
    h = 16
    rnn = model.rnn.layers[0].rnn
    for s in ("", "_reverse"):
        b_ih, b_hh = getattr(rnn, f"bias_ih_l0{s}"), getattr(rnn, f"bias_hh_l0{s}")
        effective = b_ih + b_hh
        assert torch.equal(effective[h : 2 * h], torch.ones(h))  # forget block [i|f|g|o]
        assert torch.count_nonzero(effective[:h]) == 0
        assert torch.count_nonzero(effective[2 * h :]) == 0
        assert torch.count_nonzero(b_hh) == 0
        w_hh = getattr(rnn, f"weight_hh_l0{s}")
        assert torch.allclose(w_hh.T @ w_hh, torch.eye(h), atol=1e-5)
        # glorot_uniform on the stacked (4h, in) kernel: bound sqrt(6 / (in + 4h)).
        w_ih = getattr(rnn, f"weight_ih_l0{s}")
        assert w_ih.abs().max() <= math.sqrt(6 / (w_ih.shape[1] + 4 * h))


def test_chrono_lstm_and_gru():
    t_max = 1000.0
    torch.manual_seed(6)
    h = 512
    lstm = (
        build_model(
            small(cell="lstm", hidden_size=h, init={"bias": "chrono", "chrono_t_max": t_max}),
            (4, 64),
        )
        .rnn.layers[0]
        .rnn
    )
    b = lstm.bias_ih_l0
    b_f, b_i = b[h : 2 * h], b[:h]
    assert torch.equal(b_i, -b_f)
    assert b_f.min() >= 0.0 and b_f.max() <= math.log(t_max - 1)
    # exp(b_f) is uniform on [1, T_max - 1].
    u = (b_f.exp() - 1) / (t_max - 2)
    assert scipy.stats.kstest(u.detach().numpy(), "uniform").pvalue > 0.01
    assert torch.count_nonzero(b[2 * h :]) == 0
    assert torch.count_nonzero(lstm.bias_hh_l0) == 0

    gru = (
        build_model(
            small(cell="gru", hidden_size=h, init={"bias": "chrono", "chrono_t_max": t_max}),
            (4, 64),
        )
        .rnn.layers[0]
        .rnn
    )
    b = gru.bias_ih_l0  # [r|z|n]
    assert b[h : 2 * h].min() >= 0.0 and b[h : 2 * h].max() <= math.log(t_max - 1)
    assert torch.count_nonzero(b[:h]) == 0 and torch.count_nonzero(b[2 * h :]) == 0
    assert torch.count_nonzero(gru.bias_hh_l0) == 0


def test_rai_one_beta_entry_per_row():
    torch.manual_seed(7)
    out, fan_in = 4000, 100
    weight, bias = torch.empty(out, fan_in), torch.empty(out)
    index = rai_(weight, bias)
    assert index.shape == (out,)
    rows = torch.cat([weight, bias[:, None]], dim=1).double()
    chosen = rows[torch.arange(out), index]
    # The chosen entries follow Beta(2, 1): CDF x^2 on [0, 1].
    assert chosen.min() >= 0 and chosen.max() <= 1
    ks = scipy.stats.kstest(chosen.numpy(), lambda x: np.clip(x, 0, 1) ** 2)
    assert ks.pvalue > 0.01
    # Every other entry is N(0, 0.6007^2 / fan_in).
    mask = torch.ones_like(rows, dtype=torch.bool)
    mask[torch.arange(out), index] = False
    rest = rows[mask]
    assert rest.numel() == out * fan_in
    std = RAI_STD / math.sqrt(fan_in)
    assert abs(rest.std().item() / std - 1) < 0.02
    assert scipy.stats.kstest((rest / std).numpy(), "norm").pvalue > 0.01
    # The bias slot is chosen about 1 / (fan_in + 1) of the time.
    assert 0.3 * out / (fan_in + 1) < (index == fan_in).sum() < 3 * out / (fan_in + 1)


def test_rai_on_model_convolutions():
    torch.manual_seed(8)
    model = build_model(small(cell="none", encoder_norm="none", init={"conv": "rai"}), (4, 64))
    conv = model.encoder.blocks[0]
    rows = torch.cat([conv.weight.flatten(1), conv.bias[:, None]], dim=1)
    # Exactly the Beta entry can exceed 5 sigma with any probability; the row max is >= it.
    assert (rows.max(dim=1).values > 0).all()


def test_allen_zhu_li_variances():
    torch.manual_seed(9)
    h = 256
    cfg = small(
        cell="vanilla",
        hidden_size=h,
        init={"kernel": "allen_zhu_li", "recurrent": "allen_zhu_li", "head": "allen_zhu_li"},
    )
    model = build_model(cfg, (4, 64))
    cell = model.rnn.layers[0].cells[0]
    for w in (cell.weight_hh, cell.weight_ih):
        assert abs(w.std().item() / math.sqrt(2 / h) - 1) < 0.02
    w = allen_zhu_li_(torch.empty(4, 20000), 1 / 4)
    assert abs(w.std().item() / 0.5 - 1) < 0.02
    head = build_model(dataclasses.replace(cfg, n_classes=4), (4, 64)).head.weight
    assert abs(head.std().item() / math.sqrt(1 / 4) - 1) < 0.05


def test_critical_vanilla_solves_chi_one():
    assert solve_critical_vanilla(0.0) == (1.0, 0.0)
    for v in (1e-4, 1e-2, 0.1):
        sigma_w, q = solve_critical_vanilla(v)
        q2, chi = mean_field_vanilla(sigma_w**2, v)
        assert abs(chi - 1) < 1e-8
        assert q == pytest.approx(q2, rel=1e-8)
        assert sigma_w > 1
    # Below the critical gain the dynamics are ordered.
    assert mean_field_vanilla(0.8**2, 1e-2)[1] < 1


def test_critical_init_in_model():
    torch.manual_seed(10)
    cfg = small(
        cell="vanilla",
        hidden_size=64,
        init={"kernel": "critical", "recurrent": "critical", "bias": "critical"},
    )
    cell = build_model(cfg, (4, 64)).rnn.layers[0].cells[0]
    sigma_w = solve_critical_vanilla(cfg.init.critical_input_variance)[0]
    w = cell.weight_hh.double()
    assert torch.allclose(w.T @ w, sigma_w**2 * torch.eye(64, dtype=torch.float64), atol=1e-5)
    assert torch.count_nonzero(cell.bias_ih) == 0

    xi = 50.0
    cfg = small(
        cell="minimal",
        hidden_size=64,
        init={"kernel": "critical", "recurrent": "critical", "bias": "critical", "critical_xi": xi},
    )
    cell = build_model(cfg, (4, 64)).rnn.layers[0].cells[0]
    assert torch.allclose(cell.bias_hh, torch.full((64,), math.log(2 * xi - 1)))
    w = cell.weight_hh.double()
    assert torch.allclose(w.T @ w, torch.eye(64, dtype=torch.float64), atol=1e-5)
    # Mean field: the gate sits at 1 - 1/(2 xi) and -1/ln(chi) is close to xi.
    mf = mean_field_minimal(1.0, 1e-4, math.log(2 * xi - 1), 1e-4)
    assert mf["mean_u"] == pytest.approx(1 - 1 / (2 * xi), rel=1e-3)
    assert -1 / math.log(mf["chi"]) == pytest.approx(xi, rel=0.05)


@pytest.mark.parametrize("leak", [1.0, 0.5, 0.2])
def test_esn_spectral_radius(leak):
    rng = np.random.default_rng(11)
    w0 = rng.uniform(-1, 1, (120, 120)) * (rng.random((120, 120)) > 0.9)
    w = esn_scale(w0, leak, 0.9)
    eff = (1 - leak) * np.eye(120) + leak * w
    assert abs(np.max(np.abs(np.linalg.eigvals(eff))) - 0.9) < 1e-4
    with pytest.raises(ValueError, match="below the smallest"):
        esn_scale(w0, 0.1, 0.5)


def test_esn_layer_reservoir_and_echo_state_property():
    torch.manual_seed(12)
    n = 120
    cfg = small(cell="esn", hidden_size=n, bidirectional=False)
    layer = build_model(cfg, (4, 64)).rnn.layers[0]
    assert isinstance(layer, ESNLayer)
    assert not any(p.requires_grad for p in layer.parameters())
    cell = layer.cells[0]
    a = cfg.esn.leak
    eff = (1 - a) * torch.eye(n, dtype=torch.float64) + a * cell.weight_hh.double()
    assert abs(torch.linalg.eigvals(eff).abs().max().item() - cfg.esn.spectral_radius) < 1e-4
    density = (cell.weight_hh != 0).double().mean().item()
    assert abs(density - (1 - cfg.esn.sparsity)) < 0.015
    # Echo state property: two different initial states forget their difference.
    layer = layer.double()
    x = torch.randn(300, layer.input_size, dtype=torch.float64)
    s1 = torch.randn(1, n, dtype=torch.float64)
    s2 = -s1
    d0 = (s1 - s2).norm().item()
    with torch.no_grad():
        for t in range(300):
            s1, s2 = layer.step(x[t : t + 1], s1), layer.step(x[t : t + 1], s2)
    assert (s1 - s2).norm().item() < 1e-8 * d0
