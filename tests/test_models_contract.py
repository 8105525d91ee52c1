"""Contract tests over the model registry.

Every registered model (:func:`available_models`) with every cell (:func:`available_cells`)
must: build for raw and LFCC windows; map ``(B, T, *window)`` to ``(B, T)`` logits (or
``(B, T, n_classes)``), float32 and finite, with finite gradients; keep the rows of a batch
independent; survive a ``weights_only=True`` state-dict round trip; accept every initializer
that :func:`applicable_initializers` lists, with weights that look as the initializer
implies; honour dropout in training only; and be deterministic in evaluation and under a seed.
A model or cell added to the registry is picked up here without editing this file.

The registry's declaration (:func:`model_info`) is respected: a model is built only for the
window kinds it declares (and refused for the others), and a model declared ``fitted`` (fitted
in one pass, no cells, initializers or dropout: the feature baseline) is held to the forward,
independence, round-trip and determinism contracts in the last section instead.
"""

from __future__ import annotations

import dataclasses
import io
import math

import pytest
import torch

from seizure.models import available_cells, available_models, build_model, trainable_parameters
from seizure.models.config import KERAS_INITIALIZERS, ModelConfig
from seizure.models.init import (
    RAI_STD,
    TRUNCATION_CORRECTION,
    applicable_initializers,
    keras_fans,
    keras_std,
)
from seizure.models.recurrent import RecurrentLayer, recurrent_cells
from seizure.models.registry import model_info, window_kind
from seizure.models.regularization import parameter_roles

ALL_MODELS = available_models()
MODELS = [m for m in ALL_MODELS if not model_info(m).fitted]
FITTED = [m for m in ALL_MODELS if model_info(m).fitted]
CELLS = available_cells()
# The default preprocessing: 1 s raw windows at 256 Hz on the 22-channel TCP montage, or
# 10 frames of 26 LFCC features.
RAW, LFCC = (22, 256), (22, 10, 26)
SHAPES = pytest.mark.parametrize("shape", [RAW, LFCC], ids=["raw", "lfcc"])
MODEL_CELL = [pytest.param(m, c, id=f"{m}-{c}") for m in MODELS for c in CELLS]


def skip_undeclared(name: str, shape: tuple[int, ...]) -> None:
    """Skip a window kind the model does not declare (its refusal is tested below)."""
    if window_kind(shape) not in model_info(name).window_kinds:
        pytest.skip(f"{name} declares {model_info(name).window_kinds} windows only")


PARTS = ("conv", "kernel", "recurrent", "bias", "head")
B, T = 3, 4


def tiny(name: str, cell: str, **kw) -> ModelConfig:
    """A small configuration of ``name`` with ``cell`` (fast to build and run)."""
    init = kw.pop("init", {})
    reg = kw.pop("regularization", {})
    base = dict(
        name=name,
        cell=cell,
        conv_channels=(8, 8),
        conv_kernels=(3, 3),
        conv2d_channels=(4,),
        hidden_size=4,
        num_layers=2,
    )
    cfg = ModelConfig(**{**base, **kw})
    return dataclasses.replace(
        cfg,
        init=dataclasses.replace(cfg.init, **init),
        regularization=dataclasses.replace(cfg.regularization, **reg),
    )


def windows(shape: tuple[int, ...], batch: int = B, seed: int = 100) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 30 * torch.randn(batch, T, *shape, generator=g)


def test_every_cell_is_built_by_the_recurrent_module():
    # The cells the config accepts are exactly those the recurrent module builds (+ none).
    assert set(CELLS) == {*recurrent_cells(), "none"}
    assert len(MODELS) >= 2 and len(CELLS) >= 2


# --------------------------------------------------------------------------- forward


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
@SHAPES
@pytest.mark.parametrize("n_classes", [1, 3])
def test_forward_shape_dtype_and_gradients(name, cell, shape, n_classes):
    skip_undeclared(name, shape)
    torch.manual_seed(0)
    model = build_model(tiny(name, cell, n_classes=n_classes), shape)
    assert model.window_shape == shape
    x = windows(shape)
    y = model(x)
    assert y.shape == ((B, T) if n_classes == 1 else (B, T, n_classes))
    assert y.dtype == torch.float32
    assert torch.isfinite(y).all()
    y.sum().backward()
    grads = [p.grad for p in trainable_parameters(model)]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
@SHAPES
def test_rows_of_a_batch_are_independent(name, cell, shape):
    skip_undeclared(name, shape)
    torch.manual_seed(1)
    model = build_model(tiny(name, cell), shape).eval()
    x = windows(shape)
    with torch.no_grad():
        y = model(x)
        # Row b alone gives row b of the batch ...
        for b in range(B):
            assert torch.allclose(model(x[b : b + 1])[0], y[b], atol=1e-5, rtol=1e-5)
        # ... and changing the other rows leaves it unchanged.
        x2 = x.clone()
        x2[1:] = 30 * torch.randn_like(x2[1:])
        y2 = model(x2)
    assert torch.allclose(y2[0], y[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y2[1:], y[1:])


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
@SHAPES
def test_state_dict_round_trip_weights_only(name, cell, shape):
    skip_undeclared(name, shape)
    torch.manual_seed(2)
    saved = build_model(tiny(name, cell), shape).eval()
    buffer = io.BytesIO()
    torch.save(saved.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(3)
    loaded = build_model(tiny(name, cell), shape).eval()
    x = windows(shape)
    with torch.no_grad():
        expected = saved(x)
        assert not torch.equal(loaded(x), expected)  # another seed, other weights
        loaded.load_state_dict(state)
        assert torch.equal(loaded(x), expected)
    assert list(state) == list(saved.state_dict())


# --------------------------------------------------------------------------- dropout, seeds


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
def test_dropout_only_in_training(name, cell):
    reg = {
        "dropout": 0.5,
        "input_dropout": 0.2,
        "gaussian_noise": 0.5,
        "recurrent_dropout": 0.5,
    }
    torch.manual_seed(6)
    noisy = build_model(tiny(name, cell, regularization=reg), RAW)
    off = {"dropout": 0.0, "input_dropout": 0.0, "recurrent_dropout": 0.0}
    clean = build_model(tiny(name, cell, regularization=off), RAW)
    clean.load_state_dict(noisy.state_dict())
    x = windows(RAW, batch=2)
    # Evaluation mode: identical to the model without any dropout or noise, deterministic.
    noisy.eval()
    clean.eval()
    assert torch.allclose(noisy(x), clean(x), atol=1e-6)
    assert torch.equal(noisy(x), noisy(x))
    # Training mode: noise and masks change the output; without them it is deterministic
    # (BatchNorm uses the batch statistics either way).
    noisy.train()
    clean.train()
    assert not torch.allclose(noisy(x), noisy(x))
    assert torch.equal(clean(x), clean(x))


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
def test_feature_dropout_alone_changes_training_output(name, cell):
    torch.manual_seed(7)
    model = build_model(tiny(name, cell, regularization={"dropout": 0.3}), RAW)
    x = windows(RAW, batch=2)
    assert not torch.equal(model(x), model(x))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
def test_seed_reproducibility(name, cell):
    outs, states = [], []
    for _ in range(2):
        torch.manual_seed(4)
        model = build_model(tiny(name, cell, regularization={"dropout": 0.3}), RAW)
        torch.manual_seed(5)
        outs.append(model(windows(RAW, batch=2)))
        states.append(model.state_dict())
    assert torch.equal(outs[0], outs[1])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


# --------------------------------------------------------------------------- initializers

_UNIFORM = ("glorot_uniform", "lecun_uniform", "he_uniform", "random_uniform")
_PART_ROLE = {"conv": "conv", "kernel": "kernel", "recurrent": "recurrent", "head": "dense"}


def _owner(model: torch.nn.Module, param_name: str) -> RecurrentLayer | None:
    """The recurrent layer holding a parameter, if any."""
    owner = None
    for mod_name, module in model.named_modules():
        if isinstance(module, RecurrentLayer) and param_name.startswith(mod_name + "."):
            owner = module
    return owner


def _assert_orthonormal(w: torch.Tensor, scale: float = 1.0, what: str = "") -> None:
    m = w.detach().reshape(w.shape[0], -1).double()
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    eye = torch.eye(len(gram), dtype=torch.float64)
    assert torch.allclose(gram, scale**2 * eye, atol=1e-5), what


def _assert_rms(w: torch.Tensor, std: float, what: str) -> None:
    # Seeded draws of at least 16 entries: the sample RMS is within a factor 2 of the std.
    rms = w.detach().double().square().mean().sqrt().item()
    assert 0.5 * std < rms < 2.0 * std, f"{what}: RMS {rms:.4g}, expected about {std:.4g}"


def _default_bound(w: torch.Tensor, layer: RecurrentLayer | None) -> float:
    # PyTorch's defaults: U(+-1/sqrt(fan_in)) for Linear/Conv, U(+-1/sqrt(h)) for RNN cells.
    if layer is not None:
        return 1.0 / math.sqrt(layer.hidden_size)
    return 1.0 / math.sqrt(w[0].numel())


def _check_weight(
    model: torch.nn.Module, cfg: ModelConfig, part: str, init: str, pname: str, w: torch.Tensor
) -> None:
    """Assert that weight ``w`` of ``part`` looks as initializer ``init`` draws it."""
    what = f"{cfg.name}/{cfg.cell} {part}={init}: {pname}"
    w = w.detach()
    layer = _owner(model, pname)
    if init in _UNIFORM:
        bound = keras_std(init, *keras_fans(w.shape))
        assert bound / 2 < w.abs().max() <= bound + 1e-7, what
    elif init == "truncated_normal":
        assert w.abs().max() <= 0.1 + 1e-7, what
    elif init in KERAS_INITIALIZERS and init != "orthogonal":  # truncated normals, keras2
        std = keras_std(init, *keras_fans(w.shape)) / TRUNCATION_CORRECTION
        assert w.abs().max() <= 2 * std + 1e-7, what
    elif init == "orthogonal":
        _assert_orthonormal(w, what=what)
    elif init == "orthogonal_per_gate":
        assert layer is not None, what
        for block in w.chunk(layer.n_gates, dim=0):
            _assert_orthonormal(block, what=what)
    elif init == "pytorch":
        bound = _default_bound(w, layer)
        assert bound / 2 < w.abs().max() <= bound + 1e-7, what
    elif init == "allen_zhu_li":
        variance = 2.0 / layer.hidden_size if layer is not None else 1.0 / w.shape[0]
        _assert_rms(w, math.sqrt(variance), what)
    elif init == "rai":
        # Rows [w, b]: N(0, 0.6007^2 / fan_in) but one Beta(2, 1) entry in [0, 1].
        rows = w.reshape(w.shape[0], -1)
        bias = dict(model.named_parameters()).get(pname.rsplit(".", 1)[0] + ".bias")
        if bias is not None:
            rows = torch.cat([rows, bias.detach()[:, None]], dim=1)
        top = rows.max(dim=1)
        assert ((top.values >= 0) & (top.values <= 1)).all(), what
        rest = rows.scatter(1, top.indices[:, None], 0.0)
        _assert_rms(rest, RAI_STD / math.sqrt(w[0].numel()), what)
    elif init == "critical" and part == "recurrent":
        # sigma_w times an orthogonal matrix (init.critical_weights: orthogonal).
        gram = w.double() @ w.double().T
        sigma = gram.diagonal().mean().sqrt().item()
        assert sigma > 0, what
        _assert_orthonormal(w, scale=sigma, what=what)
    elif init == "critical" and part == "kernel":
        # N(0, v / fan_in) with v = init.critical_input_variance, except the minimalRNN's
        # latent input matrix W_x (weight_ih), which keeps unit gain.
        v = cfg.init.critical_input_variance
        if cfg.cell == "minimal" and pname.endswith("weight_ih"):
            v = 1.0
        _assert_rms(w, math.sqrt(v / w.shape[1]), what)
    else:  # pragma: no cover - a new initializer needs its expectation here
        raise AssertionError(f"{what}: no expectation for initializer {init!r}")


def _check_bias(model: torch.nn.Module, cfg: ModelConfig, init: str) -> None:
    """Assert that every trainable bias looks as ``init.bias`` sets it."""
    roles = parameter_roles(model)
    params = dict(model.named_parameters())
    for pname, b in params.items():
        if roles[pname] != "bias" or not b.requires_grad:
            continue  # an ESN reservoir keeps its own (fixed) bias scaling
        what = f"{cfg.name}/{cfg.cell} bias={init}: {pname}"
        b = b.detach()
        layer = _owner(model, pname)
        if init == "pytorch":
            # A conv or head bias is bounded by its weight's fan-in, a recurrent one by h.
            weight = params[pname.rsplit(".", 1)[0] + ".weight"] if layer is None else b
            assert 0 < b.abs().max() <= _default_bound(weight, layer) + 1e-7, what
            continue
        expected = torch.zeros_like(b)
        if layer is not None:
            h = layer.hidden_size
            leaf = pname.rsplit(".", 1)[-1]
            lstm, gru = cfg.cell == "lstm", cfg.cell == "gru"
            if init == "keras" and lstm and leaf.startswith("bias_ih"):
                expected[h : 2 * h] = 1.0  # forget gate
            elif init == "chrono" and (lstm or gru) and leaf.startswith("bias_ih"):
                gate = b[h : 2 * h]  # LSTM forget gate, GRU update gate
                assert (gate >= 0).all() and (gate <= math.log(cfg.init.chrono_t_max - 1)).all()
                expected[h : 2 * h] = gate
                if lstm:
                    expected[:h] = -gate  # input gate
            elif init == "chrono" and cfg.cell == "minimal" and leaf == "bias_hh":
                assert (b >= 0).all() and (b <= math.log(cfg.init.chrono_t_max - 1)).all()
                assert b.std() > 0, what
                expected = b
            elif init == "critical" and cfg.cell == "minimal" and leaf == "bias_hh":
                expected.fill_(math.log(2 * cfg.init.critical_xi - 1))
        assert torch.allclose(b, expected, atol=1e-6), what


def _config_for(name: str, cell: str, part: str, init: str) -> ModelConfig:
    # RAI draws the convolution biases, which exist without BatchNorm only.
    extra = {"encoder_norm": "none"} if init == "rai" else {}
    return tiny(name, cell, num_layers=1, hidden_size=8, init={part: init}, **extra)


@pytest.mark.parametrize(("name", "cell"), MODEL_CELL)
@pytest.mark.parametrize("part", PARTS)
def test_every_applicable_initializer_applies(name, cell, part):
    names = applicable_initializers(cell, part)
    if part in ("conv", "head", "bias"):
        assert names, f"every cell has a {part} initializer"
    for init in names:
        torch.manual_seed(8)
        cfg = _config_for(name, cell, part, init)
        model = build_model(cfg, RAW).eval()
        if part == "bias":
            _check_bias(model, cfg, init)
        else:
            roles = parameter_roles(model)
            weights = [(n, p) for n, p in model.named_parameters() if roles[n] == _PART_ROLE[part]]
            assert weights, (part, init)
            for pname, w in weights:
                _check_weight(model, cfg, part, init, pname, w)
        with torch.no_grad():
            y = model(windows(RAW, batch=2))
        assert torch.isfinite(y).all(), (name, cell, part, init)


# --------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("name", ALL_MODELS)
@SHAPES
def test_undeclared_window_kinds_are_refused(name, shape):
    cfg = tiny(name, "none")
    if window_kind(shape) in model_info(name).window_kinds:
        assert build_model(cfg, shape).window_shape == shape
    else:
        with pytest.raises(ValueError, match=f"takes .*raw.* windows, got {window_kind(shape)}"):
            build_model(cfg, shape)


def test_the_feature_baseline_is_declared_fitted_on_raw_windows():
    assert "bandpower_logreg" in FITTED and len(MODELS) >= 2
    assert model_info("bandpower_logreg").window_kinds == ("raw",)
    assert all(model_info(m).window_kinds == ("raw", "lfcc") for m in MODELS)


# --------------------------------------------------------------------------- fitted models

FITTED_CELL = [pytest.param(m, c, id=f"{m}-{c}") for m in FITTED for c in CELLS]


@pytest.mark.parametrize(("name", "cell"), FITTED_CELL)
def test_fitted_model_forward_rows_and_gradients(name, cell):
    # Any model.cell is accepted (it does not apply); the head still takes gradients.
    shape = RAW if "raw" in model_info(name).window_kinds else LFCC
    torch.manual_seed(0)
    model = build_model(tiny(name, cell), shape)
    assert model.window_shape == shape
    x = windows(shape)
    y = model(x)
    assert y.shape == (B, T) and y.dtype == torch.float32 and torch.isfinite(y).all()
    y.sum().backward()
    grads = [p.grad for p in trainable_parameters(model)]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    model.eval()
    with torch.no_grad():
        y = model(x)
        for b in range(B):
            assert torch.allclose(model(x[b : b + 1])[0], y[b], atol=1e-5, rtol=1e-5)
        x2 = x.clone()
        x2[1:] = 30 * torch.randn_like(x2[1:])
        y2 = model(x2)
        assert torch.equal(model(x), y)  # deterministic in evaluation
    assert torch.allclose(y2[0], y[0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y2[1:], y[1:])


@pytest.mark.parametrize("name", FITTED)
def test_fitted_model_state_dict_round_trip_and_seed(name):
    shape = RAW if "raw" in model_info(name).window_kinds else LFCC
    torch.manual_seed(2)
    saved = build_model(tiny(name, "none"), shape).eval()
    torch.manual_seed(2)
    again = build_model(tiny(name, "none"), shape)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in saved.state_dict().items())
    buffer = io.BytesIO()
    torch.save(saved.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(3)
    loaded = build_model(tiny(name, "none"), shape).eval()
    x = windows(shape)
    with torch.no_grad():
        expected = saved(x)
        assert not torch.equal(loaded(x), expected)  # another seed, other weights
        loaded.load_state_dict(state)
        assert torch.equal(loaded(x), expected)
    assert list(state) == list(saved.state_dict())


@pytest.mark.parametrize("name", FITTED)
def test_fitted_model_refuses_several_classes(name):
    with pytest.raises(ValueError, match="n_classes"):
        build_model(tiny(name, "none", n_classes=3), RAW)
