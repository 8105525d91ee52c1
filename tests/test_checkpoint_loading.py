"""Loading a checkpoint's model: built on ``meta`` without its initializers, weights assigned.

Loaded models must equal, bit for bit, the model built and initialized on the CPU with the
weights copied in (the way before); bad weights must be refused as before.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import zipfile

import pytest
import torch
from torch import nn

from seizure.config import Config, to_dict
from seizure.models import ModelStateError
from seizure.models import registry as R
from seizure.models.recurrent import ESNLayer
from seizure.training import checkpoint as C
from seizure.training.peek import TENSOR, peek_checkpoint

SHAPE = (22, 64)


def _config(**model) -> Config:
    config = Config()
    small = {"hidden_size": 8, "conv_channels": (4, 8), "conv_kernels": (5, 3), **model}
    return dataclasses.replace(config, model=dataclasses.replace(config.model, **small))


def _save(path, config: Config, weights) -> None:
    state = {"model": weights, "config": to_dict(config), "window_shape": list(SHAPE)}
    state.update(epoch=0, step=0)
    C.save_checkpoint(path, state)


def _before(config: Config, weights) -> nn.Module:
    """The model as loading built it before: initialized on the CPU, weights copied in."""
    model = R.build_model(config.model, SHAPE)
    model.load_state_dict(weights, strict=True)
    return model.eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "minimal", "esn", "none"])
def test_loaded_weights_and_predictions_are_bit_identical(tmp_path, cell):
    config = _config(cell=cell)
    torch.manual_seed(1)
    weights = R.build_model(config.model, SHAPE).state_dict()
    _save(tmp_path / "best.pt", config, weights)
    torch.manual_seed(2)  # other draws for the model built the old way: the file decides
    before = _before(config, weights)
    loaded, _, window_shape = C.load_model_from_checkpoint(tmp_path / "best.pt")
    assert window_shape == SHAPE and not loaded.training
    after = loaded.state_dict()
    assert list(after) == list(weights)
    for name, value in weights.items():
        assert after[name].device.type == "cpu", name
        assert after[name].dtype == value.dtype and torch.equal(after[name], value), name
    frozen = {n: p.requires_grad for n, p in before.named_parameters()}
    assert {n: p.requires_grad for n, p in loaded.named_parameters()} == frozen
    x = torch.randn(2, 3, *SHAPE) * 50
    with torch.no_grad():
        assert torch.equal(loaded(x), before(x))


def test_the_initializers_are_not_run_and_the_model_is_built_on_meta(tmp_path, monkeypatch):
    config = _config()
    _save(tmp_path / "best.pt", config, R.build_model(config.model, SHAPE).state_dict())
    built_on = []
    real_build = R.build_model

    def spy_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        built_on.append(next(model.parameters()).device.type)
        return model

    def no_init(model, config):
        raise AssertionError("initialize_ ran while loading a checkpoint")

    def no_orthogonal(*args, **kwargs):
        raise AssertionError("an orthogonal initialization ran while loading a checkpoint")

    monkeypatch.setattr(R, "build_model", spy_build)
    monkeypatch.setattr(R, "initialize_", no_init)
    monkeypatch.setattr(torch.nn.init, "orthogonal_", no_orthogonal)
    model, _, _ = C.load_model_from_checkpoint(tmp_path / "best.pt")
    assert built_on == ["meta"]
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])


def test_build_model_without_initialize_skips_only_the_initializers(monkeypatch):
    calls = []
    monkeypatch.setattr(R, "initialize_", lambda model, config: calls.append(model))
    config = _config(freeze=("conv", "recurrent"))
    skipped = R.build_model(config.model, SHAPE, initialize=False)
    assert calls == []
    done = R.build_model(config.model, SHAPE)
    assert calls == [done]
    # freezing still applies
    assert [p.requires_grad for p in skipped.parameters()] == [
        p.requires_grad for p in done.parameters()
    ]


def test_a_model_with_a_buffer_not_in_the_file_is_rebuilt_on_the_cpu(tmp_path):
    class WithWindow(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(4, 1)
            self.register_buffer("window", torch.hann_window(4), persistent=False)

        def forward(self, x):
            return self.head(x * self.window)

    torch.manual_seed(0)
    weights = WithWindow().state_dict()
    _save(tmp_path / "best.pt", _config(), weights)
    model, _, _ = C.load_model_from_checkpoint(
        tmp_path / "best.pt", model_factory=lambda config, shape: WithWindow()
    )
    assert torch.equal(model.window, torch.hann_window(4))
    assert torch.equal(model.head.weight, weights["head.weight"])


def test_the_baseline_loads_with_its_computed_buffer(tmp_path):
    config = _config(name="bandpower_logreg")
    weights = R.build_model(config.model, SHAPE).state_dict()
    weights["feature_mean"] = torch.linspace(-1, 1, weights["feature_mean"].numel())
    _save(tmp_path / "best.pt", config, weights)
    model, _, _ = C.load_model_from_checkpoint(tmp_path / "best.pt")
    before = _before(config, weights)
    assert torch.equal(model.taper, before.taper)
    x = torch.randn(1, 4, *SHAPE) * 30
    with torch.no_grad():
        assert torch.equal(model(x), before(x))


def test_non_finite_weights_are_still_refused(tmp_path):
    config = _config()
    weights = R.build_model(config.model, SHAPE).state_dict()
    names = [n for n, v in weights.items() if v.is_floating_point()]
    weights[names[0]].view(-1)[:2] = float("nan")
    weights[names[-1]].view(-1)[0] = float("inf")
    state = {"format": C.CHECKPOINT_FORMAT, "version": C.CHECKPOINT_VERSION, "model": weights}
    state.update(config=to_dict(config), window_shape=list(SHAPE), epoch=0, step=0)
    torch.save(state, tmp_path / "nan.pt")  # save_checkpoint itself refuses to write it
    with pytest.raises(C.CheckpointError, match=r"3 non-finite values .*" + names[0]):
        C.load_model_from_checkpoint(tmp_path / "nan.pt")


def test_weights_of_another_size_are_still_refused(tmp_path):
    small = _config()
    _save(tmp_path / "best.pt", small, R.build_model(small.model, SHAPE).state_dict())
    state = C.load_checkpoint(tmp_path / "best.pt")
    state["config"] = to_dict(_config(hidden_size=16))
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(ModelStateError, match="shapes that differ") as err:
        C.load_model_from_checkpoint(tmp_path / "other.pt")
    assert err.value.mismatched and not err.value.missing


def test_count_non_finite_counts_per_tensor_with_one_host_transfer(monkeypatch):
    weights = {
        "a": torch.tensor([1.0, float("nan"), float("inf")]),
        "steps": torch.tensor(7),  # an integer buffer is skipped
        "b": torch.zeros(2, 2),
        "c": torch.tensor([float("-inf")], dtype=torch.float64),
    }

    def no_item(self):
        raise AssertionError("a per-tensor host synchronization")

    monkeypatch.setattr(torch.Tensor, "item", no_item)
    assert C.count_non_finite(weights) == (3, 8, ["a", "c"])
    assert C.count_non_finite({}) == (0, 0, [])


def test_peek_reads_the_plain_entries_without_torch(tmp_path):
    config = _config()
    _save(tmp_path / "best.pt", config, R.build_model(config.model, SHAPE).state_dict())
    peeked = peek_checkpoint(tmp_path / "best.pt")
    loaded = C.load_checkpoint(tmp_path / "best.pt")
    assert peeked["config"] == loaded["config"] and peeked["window_shape"] == list(SHAPE)
    assert list(peeked["model"]) == list(loaded["model"])
    assert all(v is TENSOR for v in peeked["model"].values())
    code = (
        "import sys; from seizure.training.peek import peek_checkpoint; "
        f"state = peek_checkpoint({str(tmp_path / 'best.pt')!r}); "
        "assert state['epoch'] == 0 and 'torch' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_peek_refuses_foreign_files_and_objects(tmp_path):
    import pickle

    (tmp_path / "text.pt").write_text("not a checkpoint")
    assert peek_checkpoint(tmp_path / "text.pt") is None
    assert peek_checkpoint(tmp_path / "missing.pt") is None
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (marker.touch, ())

    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"config": Evil()}))
    assert peek_checkpoint(tmp_path / "evil.pt") is None
    assert not marker.exists()


def test_an_echo_state_network_is_built_on_meta_without_drawing_its_reservoir(
    tmp_path, monkeypatch
):
    config = _config(cell="esn")
    before = R.build_model(config.model, SHAPE)
    _save(tmp_path / "best.pt", config, before.state_dict())
    built_on = []
    real_build = R.build_model

    def spy_build(*args, **kwargs):
        model = real_build(*args, **kwargs)
        built_on.append(next(model.parameters()).device.type)
        return model

    def no_draw(self, esn):
        raise AssertionError("the reservoir was drawn while loading a checkpoint")

    monkeypatch.setattr(R, "build_model", spy_build)
    monkeypatch.setattr(ESNLayer, "reset_reservoir", no_draw)
    loaded, _, _ = C.load_model_from_checkpoint(tmp_path / "best.pt")
    assert built_on == ["meta"]  # no fallback to a CPU build
    for name, value in before.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
