"""Long recordings (issue 12, "memory stays bounded"): the streamed path, through the CLI.

A recording longer than ``pipeline._STREAM_ABOVE_SECONDS`` is windowed a block at a time
from the file. Here the limit and the block are lowered so that the battery's 8-40 s
recordings take that path, and the outcomes must be those of the whole-recording path:
the same cache (to float16 rounding), the same warnings, the same refusals.
"""

from __future__ import annotations

import numpy as np
import pytest
from battery import ELECTRODES, FAST, processed, processed_with_warning, refused, run, write_edf

from seizure.preprocessing import pipeline
from seizure.preprocessing.cache import Cache


@pytest.fixture
def streamed(monkeypatch):
    monkeypatch.setattr(pipeline, "_STREAM_ABOVE_SECONDS", 0.0)
    monkeypatch.setattr(pipeline, "_BLOCK_SECONDS", 3.0)


def test_a_streamed_cache_equals_the_whole_path_cache(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    write_edf(corpus / "pa_r1.edf", seconds=40, seed=1, events=((10.0, 25.0),))
    write_edf(corpus / "pb_r1.edf", seconds=33, seed=2, events=())
    processed(run("preprocess", corpus, tmp_path / "whole", *FAST))
    monkeypatch.setattr(pipeline, "_STREAM_ABOVE_SECONDS", 0.0)
    monkeypatch.setattr(pipeline, "_BLOCK_SECONDS", 3.0)
    processed(run("preprocess", corpus, tmp_path / "streamed", *FAST))
    whole, streamed = Cache(tmp_path / "whole"), Cache(tmp_path / "streamed")
    for rid in ("pa_r1", "pb_r1"):
        a = np.asarray(whole.windows(rid), dtype=np.float32)
        b = np.asarray(streamed.windows(rid), dtype=np.float32)
        assert a.shape == b.shape and len(a) > 30
        # float16 steps of the stored microvolts (tolerances: tests/test_preprocess_stream.py)
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=1e-2)
        np.testing.assert_array_equal(streamed.labels(rid), whole.labels(rid))
        meta_a, meta_b = whole.metadata(rid), streamed.metadata(rid)
        for key in ("warnings", "sfreq_hz", "resampled", "duration_s", "n_windows", "events"):
            assert meta_b[key] == meta_a[key], key


def test_a_flat_channel_is_named_on_the_streamed_path(tmp_path, streamed):
    from edfio import Edf, EdfSignal

    from seizure.io.annotations import write_csv_bi

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    signals = [
        EdfSignal(
            np.full(128 * 20, 7.0) if name == "C3" else rng.standard_normal(128 * 20) * 30,
            sampling_frequency=128.0,
            label=f"EEG {name}-REF",
            physical_dimension="uV",
            physical_range=(-500, 500),
        )
        for name in ELECTRODES
    ]
    Edf(signals).write(corpus / "pa_r1.edf")
    write_csv_bi(corpus / "pa_r1.csv_bi", [], 20.0)
    processed_with_warning(
        run("preprocess", corpus, tmp_path / "c", *FAST),
        r"1 processed",
    )
    meta = Cache(tmp_path / "c").metadata("pa_r1")
    assert any("channel C3 is flat" in w for w in meta["warnings"]), meta["warnings"]


def test_a_channel_in_degrees_is_refused_on_the_streamed_path(tmp_path, streamed):
    corpus = tmp_path / "corpus"
    write_edf(corpus / "pa_r1.edf", unit="degC")
    write_edf(corpus / "pb_r1.edf")
    result = refused(
        run("preprocess", corpus, tmp_path / "c", *FAST),
        1,
        r"pa_r1\.edf.*FP1 \(degC\).*not voltages",
    )
    assert "1 processed" in result.output
