"""Checkpoints: atomic writes, weights_only loading, clear refusals, RNG round trip."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from seizure.config import load_config, to_dict
from seizure.training import checkpoint as C
from seizure.training.fakes import TinySeqModel, tiny_model_factory


def _state(model, step=3):
    return {
        "model": model.state_dict(),
        "config": to_dict(load_config()),
        "window_shape": [4, 16],
        "epoch": 1,
        "batch_in_epoch": 0,
        "step": step,
        "rng": C.capture_rng_state(),
    }


def test_round_trip_with_weights_only(tmp_path):
    model = TinySeqModel((4, 16))
    C.save_checkpoint(tmp_path / "last.pt", _state(model))
    # what load_checkpoint does, spelled out: no pickled objects inside
    raw = torch.load(tmp_path / "last.pt", weights_only=True)
    assert raw["format"] == C.CHECKPOINT_FORMAT
    state = C.load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 3
    for k, v in model.state_dict().items():
        assert torch.equal(state["model"][k], v)
    assert not list(tmp_path.glob(".*tmp"))


def test_rng_state_round_trip():
    state = C.capture_rng_state()
    first = (random.random(), np.random.random(), torch.rand(3))  # noqa: NPY002
    C.restore_rng_state(state)
    again = (random.random(), np.random.random(), torch.rand(3))  # noqa: NPY002
    assert first[0] == again[0] and first[1] == again[1]
    assert torch.equal(first[2], again[2])


def test_kill_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    C.save_checkpoint(path, _state(TinySeqModel((4, 16)), step=1))
    real_save = torch.save

    def dying_save(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)
        handle.seek(handle.tell() // 2)
        handle.truncate()
        raise KeyboardInterrupt  # as if the process were killed mid-write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        C.save_checkpoint(path, _state(TinySeqModel((4, 16)), step=2))
    monkeypatch.setattr(torch, "save", real_save)
    assert C.load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_truncated_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "last.pt"
    C.save_checkpoint(path, _state(TinySeqModel((4, 16))))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(C.CheckpointError) as err:
        C.load_checkpoint(path)
    assert str(path) in str(err.value)
    assert "corrupt, truncated or foreign" in str(err.value)


class Foreign:
    pass


@pytest.mark.parametrize(
    "content, message",
    [
        ({"state_dict": {}}, "not a seizure checkpoint"),
        ([1, 2, 3], "not a seizure checkpoint"),
        (Foreign(), "corrupt, truncated or foreign"),  # pickled object: refused by weights_only
    ],
)
def test_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "model.pt"
    torch.save(content, path)
    with pytest.raises(C.CheckpointError, match=message) as err:
        C.load_checkpoint(path)
    assert str(path) in str(err.value)


def test_text_and_missing_files_are_refused(tmp_path):
    (tmp_path / "notes.pt").write_text("hello")
    with pytest.raises(C.CheckpointError, match="notes.pt"):
        C.load_checkpoint(tmp_path / "notes.pt")
    with pytest.raises(C.CheckpointError, match="does not exist"):
        C.load_checkpoint(tmp_path / "absent.pt")


def test_missing_entries_and_version_are_refused(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"format": C.CHECKPOINT_FORMAT, "version": 1, "model": {}}, path)
    with pytest.raises(C.CheckpointError, match="lacks the entries config, window_shape"):
        C.load_checkpoint(path)
    torch.save({"format": C.CHECKPOINT_FORMAT, "version": 99}, path)
    with pytest.raises(C.CheckpointError, match="version 99"):
        C.load_checkpoint(path)


def test_load_model_from_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = tiny_model_factory(load_config().model, (4, 16))
    C.save_checkpoint(tmp_path / "best.pt", _state(model))
    loaded, config, window_shape = C.load_model_from_checkpoint(
        tmp_path / "best.pt", "cpu", model_factory=tiny_model_factory
    )
    assert window_shape == (4, 16)
    assert config == load_config()
    assert not loaded.training
    x = torch.randn(2, 5, 4, 16)
    model.eval()
    assert torch.equal(loaded(x), model(x))
