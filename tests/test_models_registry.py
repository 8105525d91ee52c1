"""Model-specific tests: the registry's errors, class scores and causality, integer input,
refused initializers, dropout layers, step dynamics, regularization and freezing, the
configs in configs/models. The conventions every registered model must keep (shapes,
dtype, initializers, dropout, seeds, state dicts) are in test_models_contract.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from seizure.config import load_config
from seizure.models import (
    available_cells,
    available_models,
    build_model,
    parameter_groups,
    parameter_roles,
    regularization_loss,
    trainable_parameters,
)
from seizure.models.config import ModelConfig
from seizure.models.recurrent import recurrent_cells
from seizure.models.regularization import LockedDropout

CELLS = available_cells()
RAW = (4, 64)
CONFIGS = sorted(
    (Path(__file__).resolve().parents[1] / "seizure" / "configs" / "models").glob("*.yaml")
)


def small(**kw) -> ModelConfig:
    init = kw.pop("init", {})
    reg = kw.pop("regularization", {})
    base = dict(conv_channels=(8, 16), conv_kernels=(5, 3), hidden_size=8, num_layers=2)
    cfg = ModelConfig(**{**base, **kw})
    return dataclasses.replace(
        cfg,
        init=dataclasses.replace(cfg.init, **init),
        regularization=dataclasses.replace(cfg.regularization, **reg),
    )


def test_registry_lists_models():
    assert {"cnn_rnn", "cnn2d_rnn"} <= set(available_models())
    with pytest.raises(ValueError, match="allowed values are"):
        build_model(small(name="transformer"), RAW)
    with pytest.raises(ValueError, match="window_shape"):
        build_model(small(), (4,))


@pytest.mark.parametrize("cell", ["lstm", "minimal", "none"])
def test_class_scores_and_causality(cell):
    torch.manual_seed(1)
    model = build_model(small(cell=cell, n_classes=3, bidirectional=False), RAW).eval()
    x = 30 * torch.randn(2, 6, *RAW)
    y = model(x)
    assert y.shape == (2, 6, 3)
    # Causal: changing the last window leaves earlier outputs unchanged.
    x2 = x.clone()
    x2[:, -1] += 100
    assert torch.allclose(model(x2)[:, :-1], y[:, :-1], atol=1e-6)


def test_integer_input_and_shape_check():
    torch.manual_seed(2)
    model = build_model(small(), RAW).eval()
    x = (30 * torch.randn(2, 3, *RAW)).round()
    assert torch.allclose(model(x.to(torch.int16)), model(x), atol=1e-5)
    with pytest.raises(ValueError, match="Expected windows of shape"):
        model(torch.zeros(2, 3, 4, 65))


def test_inapplicable_initializer_is_refused():
    with pytest.raises(ValueError, match="model.init.recurrent"):
        build_model(small(cell="lstm", init={"recurrent": "critical"}), RAW)
    with pytest.raises(ValueError, match="model.init.bias"):
        build_model(small(cell="gru", init={"bias": "critical"}), RAW)
    # Parts a cell does not have are ignored: the defaults build for every cell.
    build_model(small(cell="esn", init={"recurrent": "critical"}), RAW)


def test_variational_dropout_shares_the_mask_over_time():
    torch.manual_seed(7)
    x = torch.ones(4, 30, 16)
    y = LockedDropout(0.5, variational=True).train()(x)
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    z = LockedDropout(0.5, variational=False).train()(x)
    assert not torch.equal(z, z[:, :1].expand_as(z))


def test_recurrent_dropout_keeps_gradients_of_the_torch_module():
    torch.manual_seed(8)
    model = build_model(small(cell="lstm", regularization={"recurrent_dropout": 0.5}), RAW)
    x = 30 * torch.randn(2, 5, *RAW)
    model(x).sum().backward()
    rnn = model.rnn.layers[0].rnn
    assert rnn.weight_hh_l0.grad is not None and rnn.weight_hh_l0_reverse.grad is not None
    # The module's own weights are untouched by the mask.
    assert torch.count_nonzero(rnn.weight_hh_l0) == rnn.weight_hh_l0.numel()


@pytest.mark.parametrize("cell", recurrent_cells())
def test_step_matches_forward(cell):
    torch.manual_seed(9)
    model = build_model(small(cell=cell, init={"bias": "pytorch"}), RAW).eval()
    layer = model.rnn.layers[0]
    x = torch.randn(2, 7, layer.input_size)
    with torch.no_grad():
        y = layer(x)
        for d in range(layer.num_directions):
            xd = x if d == 0 else x.flip(1)
            s = torch.zeros(2, layer.state_size)
            outs = []
            for t in range(7):
                s = layer.step(xd[:, t], s, d)
                outs.append(layer.hidden(s))
            ref = torch.stack(outs, 1)
            ref = ref if d == 0 else ref.flip(1)
            h = layer.hidden_size
            assert torch.allclose(y[..., d * h : (d + 1) * h], ref, atol=1e-5)


def test_regularization_loss_keras_semantics():
    torch.manual_seed(10)
    reg = {"l1": 1e-3, "l2": 1e-2, "targets": ("kernel", "recurrent", "dense")}
    cfg = small(cell="gru", regularization=reg)
    model = build_model(cfg, RAW)
    roles = parameter_roles(model)
    expected = 0.0
    for name, p in model.named_parameters():
        if roles[name] in reg["targets"]:
            expected += 1e-3 * p.abs().sum().item() + 1e-2 * (p**2).sum().item()
    assert regularization_loss(model, cfg).item() == pytest.approx(expected, rel=1e-5)
    # A whole Config is accepted too.
    full = load_config(overrides=["model.cell=gru"])
    assert regularization_loss(model, full).item() == 0.0
    # Roles: the LSTM/GRU matrices are kernel/recurrent, biases bias, BatchNorm norm.
    assert roles["rnn.layers.0.rnn.weight_ih_l0"] == "kernel"
    assert roles["rnn.layers.0.rnn.weight_hh_l0_reverse"] == "recurrent"
    assert roles["rnn.layers.0.rnn.bias_hh_l0"] == "bias"
    assert roles["encoder.blocks.0.weight"] == "conv"
    assert roles["encoder.blocks.1.weight"] == "norm"
    assert roles["head.weight"] == "dense"
    # Gradient flows through the penalty.
    regularization_loss(model, cfg).backward()
    assert model.head.weight.grad is not None


def test_parameter_groups_and_freezing():
    torch.manual_seed(11)
    cfg = small(cell="lstm", regularization={"weight_decay": 0.01})
    model = build_model(cfg, RAW)
    groups = parameter_groups(model, cfg)
    roles = parameter_roles(model)
    by_id = {id(p): roles[n] for n, p in model.named_parameters()}
    assert groups[0]["weight_decay"] == 0.01 and groups[1]["weight_decay"] == 0.0
    assert all(by_id[id(p)] not in ("bias", "norm") for p in groups[0]["params"])
    assert all(by_id[id(p)] in ("bias", "norm") for p in groups[1]["params"])
    n_groups = sum(len(g["params"]) for g in groups)
    assert n_groups == len(list(model.parameters()))
    assert parameter_groups(model, cfg, weight_decay=0.5)[0]["weight_decay"] == 0.5

    # Allen-Zhu and Li: train the recurrent matrix only.
    frozen = build_model(
        dataclasses.replace(cfg, freeze=("conv", "norm", "kernel", "bias", "dense")), RAW
    )
    trainable = {n for n, p in frozen.named_parameters() if p.requires_grad}
    assert trainable and all("weight_hh" in n for n in trainable)


def test_esn_config_trains_only_the_readout():
    cfg = load_config(str(Path(CONFIGS[0]).with_name("esn.yaml"))).model
    cfg = dataclasses.replace(cfg, hidden_size=16, conv_channels=(8,), conv_kernels=(3,))
    torch.manual_seed(12)
    model = build_model(cfg, RAW)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}
    # Deep ESN: the readout sees every layer of both directions.
    assert model.head.in_features == cfg.num_layers * 2 * cfg.hidden_size
    opt = torch.optim.SGD(parameter_groups(model, cfg), lr=0.1)
    before = {n: p.clone() for n, p in model.named_parameters()}
    model(30 * torch.randn(2, 4, *RAW)).sum().backward()
    opt.step()
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) == (n not in trainable), n


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_model_configs_build(path):
    cfg = load_config(str(path)).model
    torch.manual_seed(13)
    model = build_model(cfg, (22, 64)).eval()
    y = model(30 * torch.randn(1, 2, 22, 64))
    assert y.shape == (1, 2)


def test_default_model_is_cnn_lstm_yaml_and_its_size():
    path = next(p for p in CONFIGS if p.name == "cnn_lstm.yaml")
    assert load_config(str(path)).model == ModelConfig()
    names = {p.name for p in CONFIGS}
    assert {
        "cnn_lstm.yaml",
        "cnn_gru.yaml",
        "minimal_critical.yaml",
        "esn.yaml",
        "cnn_lstm_chrono.yaml",
        "cnn_only.yaml",
    } <= names
    torch.manual_seed(14)
    model = build_model(ModelConfig(), (22, 256))
    assert model.encoder.out_features == 128
    assert 5e6 < model.encoder.macs < 6e6
    assert sum(p.numel() for p in model.parameters()) == 769_921


@pytest.mark.gpu
@pytest.mark.parametrize("cell", CELLS)
# torch.compile's import of inductor touches torch.jit.script_method (deprecated in 2.11).
@pytest.mark.filterwarnings("ignore:.*torch\\.jit.*:DeprecationWarning")
def test_cuda_bf16_with_recurrent_dropout_and_compiled_encoder(cell):
    torch.manual_seed(15)
    cfg = small(cell=cell, regularization={"recurrent_dropout": 0.3, "gaussian_noise": 0.1})
    model = build_model(cfg, (22, 256)).cuda()
    if cell == "lstm":
        model.compile_encoder()
    x = (30 * torch.randn(4, 6, 22, 256, device="cuda")).to(torch.int16)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = model(x)
    assert y.shape == (4, 6)
    (y.float().square().mean() + regularization_loss(model, cfg)).backward()
    assert all(torch.isfinite(p.grad).all() for p in trainable_parameters(model))
    assert set(model.state_dict()) == set(build_model(cfg, (22, 256)).state_dict())


def test_logits_are_float32_under_bf16_autocast():
    # bf16 logits quantise probabilities into few distinct values (ties in the threshold sweep)
    import torch

    from seizure.config import load_config
    from seizure.models.registry import build_model

    torch.manual_seed(0)
    model = build_model(load_config().model, (22, 64)).eval()
    x = torch.randn(2, 5, 22, 64) * 50
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.float32


def test_minimal_critical_passes_signal_through_its_layers_at_init():
    # With the small variance on the input matrix too, 2 layers passed ~1e-7 of the input.
    import torch

    from seizure.config import load_config
    from seizure.models.registry import build_model

    torch.manual_seed(0)
    model = build_model(load_config([CONFIGS[0].parent / "minimal_critical.yaml"]).model, (22, 64))
    model.eval()
    x = torch.randn(3, 30, 22, 64) * 50
    with torch.no_grad():
        features = model.encoder(x.reshape(-1, 22, 64)).reshape(3, 30, -1)
        out = model.rnn(features)
    assert out.std() > 0.01 * features.std()
