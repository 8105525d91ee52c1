"""``seizure detect`` peeks at the checkpoint to read ahead (issue 15): bad checkpoints.

The first recording is read while torch is imported, with the preprocessing peeked from the
checkpoint without torch. A checkpoint the peek cannot use must be refused as the full read
refuses it (one line, exit 1), a pickled object in it must never run, and a recording that
fails while read ahead fails alone.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import pytest
from battery import processed, refused, run, write_edf

from seizure.config import Config, load_config, to_dict


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained checkpoint of the default model for 128 Hz recordings."""
    from seizure.models.registry import build_model
    from seizure.preprocessing.pipeline import window_shape
    from seizure.training.checkpoint import save_checkpoint

    config = load_config([], ["preprocess.sample_rate_hz=128", "preprocess.bandpass_hz=[1, 40]"])
    shape = window_shape(config.preprocess)
    path = tmp_path_factory.mktemp("read_ahead") / "best.pt"
    state = {"model": build_model(config.model, shape).state_dict(), "config": to_dict(config)}
    save_checkpoint(path, {**state, "window_shape": list(shape), "epoch": 0, "step": 0})
    return path


def test_a_checkpoint_with_a_pickled_object_is_refused_and_the_object_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (marker.touch, ())

    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("bad/data.pkl", pickle.dumps({"config": Payload()}))
    edf = write_edf(tmp_path / "r.edf")
    refused(
        run("detect", bad, edf, "--out", tmp_path / "out", "--device", "cpu"),
        1,
        r"Error: .*bad\.pt: not a readable seizure checkpoint",
    )
    assert not marker.exists()


def test_a_checkpoint_whose_config_is_not_valid_is_refused_in_one_line(checkpoint, tmp_path):
    import torch

    state = torch.load(checkpoint, weights_only=True)
    state["config"]["preprocess"]["sample_rate_hz"] = -5
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    result = refused(
        run("detect", bad, write_edf(tmp_path / "r.edf"), "--out", tmp_path / "o"), 2, "Error: "
    )
    assert "sample_rate_hz" in result.output


def test_the_first_recording_fails_alone_while_read_ahead(checkpoint, tmp_path):
    good = write_edf(tmp_path / "good.edf", seconds=16)
    truncated = tmp_path / "cut.edf"
    data = write_edf(tmp_path / "whole.edf", seconds=16).read_bytes()
    truncated.write_bytes(data[:200])  # inside the header
    out = tmp_path / "out"
    result = run("detect", checkpoint, truncated, good, "--out", out, "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert "1 of 2 recordings processed" in result.output and "cut.edf" in result.output
    marker = json.loads((out / "detection.json").read_text())
    assert [r["ok"] for r in marker["results"]] == [False, True]
    processed(run("detect", checkpoint, good, "--out", tmp_path / "again", "--device", "cpu"))


def test_the_default_config_peeks_as_it_loads(checkpoint):
    from seizure.config import from_dict
    from seizure.training.peek import peek_checkpoint

    peeked = from_dict(Config, peek_checkpoint(checkpoint)["config"])
    assert peeked.preprocess.sample_rate_hz == 128
