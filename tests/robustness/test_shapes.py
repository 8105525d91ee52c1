"""Sizes that would allocate terabytes are refused before any allocation (issue 12, item 10)."""

from __future__ import annotations

import pytest
import torch
from battery import refused, run

from seizure.config import ConfigError, load_config
from seizure.training import checkpoint as C


@pytest.mark.parametrize("shape", [[22, 1e9], [22, 0], [], "22x256", [22, -256], None])
def test_a_checkpoint_with_an_absurd_window_shape_is_refused(tmp_path, shape):
    state = {"model": {"w": torch.zeros(2)}, "config": {}, "window_shape": shape}
    state.update(epoch=1, step=1)
    with pytest.raises(C.CheckpointError, match=r"window_shape .* is not a shape of at most"):
        C.stored_window_shape(state, tmp_path / "x.pt")


def test_a_sane_window_shape_is_returned(tmp_path):
    state = {"window_shape": [22, 10, 26]}
    assert C.stored_window_shape(state, tmp_path / "x.pt") == (22, 10, 26)


def test_an_absurd_window_length_is_a_usage_error(flat_corpus, tmp_path):
    with pytest.raises(ConfigError, match=r"window_seconds must be at most 600 s"):
        load_config([], ["preprocess.window_seconds=3906250"])
    refused(
        run("preprocess", flat_corpus, tmp_path / "c", "--set", "preprocess.stride_seconds=10000"),
        2,
        r"stride_seconds must be at most 600 s",
    )
