"""load_state_checked: weights of another model, cell or size are refused with a message that
names the file, the missing and unexpected entries and the shapes found and expected."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seizure.models import ModelStateError, build_model, load_state_checked
from seizure.models.config import ModelConfig
from seizure.utils.errors import InputFileError, SeizureError

RAW = (4, 64)


def small(**kw) -> ModelConfig:
    base = dict(conv_channels=(8,), conv_kernels=(3,), hidden_size=4, num_layers=1)
    return ModelConfig(**{**base, **kw})


def built(**kw) -> torch.nn.Module:
    return build_model(small(**kw), RAW).eval()


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_matching_weights_load():
    torch.manual_seed(0)
    source = built()
    torch.manual_seed(1)
    target = built()
    x = 30 * torch.randn(2, 3, *RAW)
    load_state_checked(target, source.state_dict(), "run/best.pt")
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_another_cell_with_the_same_names_reports_shapes():
    # LSTM and GRU share parameter names; the stacked gate matrices differ (4h vs 3h rows).
    torch.manual_seed(0)
    lstm = built(cell="lstm")
    gru = built(cell="gru")
    before = snapshot(gru)
    with pytest.raises(ModelStateError) as info:
        load_state_checked(gru, lstm.state_dict(), "runs/lstm/best.pt")
    err = info.value
    assert isinstance(err, InputFileError) and isinstance(err, SeizureError)
    assert str(err.path) == "runs/lstm/best.pt"
    msg = str(err)
    assert msg.startswith("runs/lstm/best.pt: the weights do not fit the model built here")
    assert "cell='gru'" in msg
    assert "rnn.layers.0.rnn.weight_ih_l0 found [16, 8], expected [12, 8]" in msg
    assert "rnn.layers.0.rnn.weight_hh_l0_reverse found [16, 4], expected [12, 4]" in msg
    assert not err.missing and not err.unexpected
    assert ("rnn.layers.0.rnn.bias_ih_l0", (16,), (12,)) in err.mismatched
    assert len(err.mismatched) == 8  # 4 tensors x 2 directions
    # Refused before anything was copied.
    assert all(torch.equal(v, before[k]) for k, v in gru.state_dict().items())


def test_another_cell_with_other_names_reports_missing_and_unexpected():
    torch.manual_seed(0)
    lstm = built(cell="lstm", bidirectional=False)
    minimal = built(cell="minimal", bidirectional=False)
    with pytest.raises(ModelStateError) as info:
        load_state_checked(minimal, lstm.state_dict(), "lstm.pt")
    err = info.value
    assert err.missing == [
        "rnn.layers.0.cells.0.weight_ih",
        "rnn.layers.0.cells.0.bias_ih",
        "rnn.layers.0.cells.0.weight_zh",
        "rnn.layers.0.cells.0.weight_hh",
        "rnn.layers.0.cells.0.bias_hh",
    ]
    assert err.unexpected == [
        "rnn.layers.0.rnn.weight_ih_l0",
        "rnn.layers.0.rnn.weight_hh_l0",
        "rnn.layers.0.rnn.bias_ih_l0",
        "rnn.layers.0.rnn.bias_hh_l0",
    ]
    assert err.mismatched == []
    msg = str(err)
    assert "missing from the file: rnn.layers.0.cells.0.weight_ih, " in msg
    assert "in the file but not in the model: rnn.layers.0.rnn.weight_ih_l0, " in msg
    assert "shapes that differ" not in msg


def test_another_size_and_depth():
    torch.manual_seed(0)
    small_model = built(hidden_size=4, num_layers=1)
    big_model = built(hidden_size=6, num_layers=2)
    with pytest.raises(ModelStateError) as info:
        load_state_checked(big_model, small_model.state_dict(), "small.pt")
    err = info.value
    assert all(k.startswith("rnn.layers.1.") for k in err.missing) and len(err.missing) == 8
    assert err.unexpected == []
    assert ("head.weight", (1, 8), (1, 12)) in err.mismatched
    assert ("rnn.layers.0.rnn.weight_hh_l0", (16, 4), (24, 6)) in err.mismatched
    assert "hidden_size=6" in str(err) and "num_layers=2" in str(err)


def test_not_a_state_dict():
    model = built()
    with pytest.raises(ModelStateError, match=r"^x\.pt: expected .* mapping .* got list"):
        load_state_checked(model, [1, 2], "x.pt")
    state = dict(model.state_dict())
    state["head.bias"] = [0.0]
    with pytest.raises(ModelStateError, match=r"got other values for head\.bias$"):
        load_state_checked(model, state, "x.pt")


def test_a_model_without_config_and_no_source():
    net = torch.nn.Linear(3, 2)
    with pytest.raises(ModelStateError, match=r"^the weights do not fit the Linear built here"):
        load_state_checked(net, {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}, None)
    load_state_checked(net, {"weight": torch.ones(2, 3), "bias": torch.zeros(2)}, None)
    assert torch.equal(net.weight, torch.ones(2, 3))


def test_dataclass_config_is_reported_as_built():
    cfg = dataclasses.replace(small(), name="cnn2d_rnn", conv2d_channels=(2,))
    model = build_model(cfg, RAW)
    with pytest.raises(ModelStateError, match="name='cnn2d_rnn'"):
        load_state_checked(model, built().state_dict(), "cnn.pt")
