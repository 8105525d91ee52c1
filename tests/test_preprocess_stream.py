"""The streamed path (a long recording a block at a time) against the whole-recording path.

The recordings here are short (a few minutes); the test lowers the length above which
``open_windows`` streams and the block size, so that one recording spans many blocks.

Tolerances: resampling a part is bit-exact (the span read covers the FIR and keeps its
polyphase alignment). The filter started at a block's padded edge differs from the whole
signal's by a transient brought under 1e-9 of the signal by ``filter_padding`` (checked in
float64 below). What remains is the float32 filter's own rounding: its poles near 1 amplify
each rounding, so a float32 zero-phase filter is within about 1e-5 of the signal's size of
the exact result (``seizure.preprocessing.signal``), and the two paths, run over different
lengths, round differently. Raw windows are compared to 1e-4 of the signal's peak (twice
that error with a margin; the float16 the cache stores is 5e-4 coarse). LFCC features are
logarithms of band energies: an error of 1e-5 of the signal moves the log energy of the
weakest bands by about 1e-3; they are compared to 3e-3 absolute (features of size 2-20 are
stored in float16 steps of 2e-3 to 2e-2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from edfio import Edf, EdfSignal

from seizure.io.edf import EdfSampleReader, read_edf, read_edf_header
from seizure.preprocessing import pipeline
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.features import lfcc, lfcc_context, lfcc_frames
from seizure.preprocessing.montage import get_montage
from seizure.preprocessing.quality import UnusableRecordingError
from seizure.preprocessing.signal import (
    design_filters,
    filter_padding,
    resample_part,
    resample_span,
    resample_to_matrix,
)
from seizure.preprocessing.stream import StreamedWindows

ELECTRODES = get_montage("tcp_ar").electrodes


def write_edf(path: Path, seconds: int, rates: dict[str, float] | None = None, seed: int = 0):
    """TCP electrodes at 250 Hz (or ``rates[name]``): seeded noise with a slow drift."""
    rng = np.random.default_rng(seed)
    signals = []
    for name in ELECTRODES:
        fs = (rates or {}).get(name, 250.0)
        n = int(seconds * fs)
        t = np.arange(n) / fs
        x = rng.standard_normal(n) * 40 + 80 * np.sin(2 * np.pi * 0.05 * t + rng.uniform(0, 6))
        signals.append(
            EdfSignal(
                x,
                sampling_frequency=fs,
                label=f"EEG {name}-REF",
                physical_dimension="uV",
                physical_range=(-1000.0, 1000.0),
            )
        )
    Edf(signals).write(path)
    return path


def both_paths(path: Path, config: PreprocessConfig, monkeypatch, block_seconds: float = 23.0):
    whole = pipeline.open_windows(path, config)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "_STREAM_ABOVE_SECONDS", 0.0)
        m.setattr(pipeline, "_BLOCK_SECONDS", block_seconds)
        streamed = pipeline.open_windows(path, config)
    assert isinstance(streamed.windows, StreamedWindows)
    assert not isinstance(whole.windows, StreamedWindows)
    return whole, streamed


@pytest.mark.parametrize("features", ["raw", "lfcc"])
def test_streamed_windows_equal_whole_recording(tmp_path, monkeypatch, features):
    path = write_edf(tmp_path / "a.edf", 300, rates={"FP1": 200.0, "CZ": 256.0})
    config = PreprocessConfig(features=features, window_seconds=4.0, stride_seconds=2.0)
    whole, streamed = both_paths(path, config, monkeypatch)
    a = np.asarray(whole.windows)
    assert streamed.windows.shape == a.shape
    assert len(streamed.windows) * 2 > 13 * streamed.windows.block_windows  # many blocks
    # read in pieces that straddle blocks, out of order (as reader threads may)
    pieces = [(90, 149), (0, 7), (7, 90), (149, len(a))]
    b = np.empty_like(a)
    for k0, k1 in pieces:
        b[k0:k1] = streamed.windows[k0:k1]
    if features == "raw":
        peak = float(np.abs(a).max())
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-4 * peak)
    else:
        np.testing.assert_allclose(b, a, rtol=0, atol=3e-3)
    assert streamed.warnings == whole.warnings
    assert streamed.source_rates_hz == whole.source_rates_hz
    assert streamed.resampled and whole.resampled
    assert (streamed.duration_s, streamed.filled) == (whole.duration_s, whole.filled)


def test_streamed_path_without_resampling_or_filters(tmp_path, monkeypatch):
    path = write_edf(tmp_path / "a.edf", 120)
    config = PreprocessConfig(sample_rate_hz=250.0, bandpass_hz=None, notch_hz=None)
    whole, streamed = both_paths(path, config, monkeypatch, block_seconds=7.0)
    # no filter and no resampling: the same numbers up to the montage product's blocking
    np.testing.assert_allclose(streamed.windows[:], np.asarray(whole.windows), atol=1e-4)
    assert not streamed.resampled


def test_filter_padding_bounds_the_transient():
    """In float64 (no float32 rounding to hide it) a part filtered with ``filter_padding``
    samples on each side matches the whole signal to the 1e-9 it promises; with a tenth of
    that padding the transient shows."""
    import scipy.signal

    fs = 256.0
    sos = design_filters(fs, (1.0, 70.0), 60.0)
    pad = filter_padding(sos)
    assert 1000 < pad < 5000  # the 1 Hz edge's slowest pole: ~9 s at 256 Hz
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 40_000)) * 50 + 200
    whole = scipy.signal.sosfiltfilt(sos, x, axis=-1)
    a, b = 15_000, 20_000

    def part(p):
        seg = scipy.signal.sosfiltfilt(sos, x[:, a - p : b + p], axis=-1)
        return seg[:, p : p + b - a]

    scale = float(np.abs(x).max())
    assert np.abs(part(pad) - whole[:, a:b]).max() < 1e-9 * scale
    assert np.abs(part(pad // 10) - whole[:, a:b]).max() > 1e-4 * scale


@pytest.mark.parametrize(("from_hz", "to_hz"), [(250, 256), (200, 256), (512, 256), (256, 256)])
def test_resample_parts_are_exact(from_hz, to_hz):
    rng = np.random.default_rng(2)
    n = 20_011
    x = rng.standard_normal((3, n)).astype(np.float32)
    n_out = int(np.floor(n / from_hz * to_hz + 1e-6))
    whole = resample_to_matrix(list(x), [from_hz] * 3, to_hz, n_out)
    parts = []
    for lo in range(0, n_out, 997):
        hi = min(n_out, lo + 997)
        s, e = resample_span(from_hz, to_hz, lo, hi, n)
        parts.append(resample_part(x[:, s:e], from_hz, to_hz, s, lo, hi, n))
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@pytest.mark.parametrize("fs", [250.0, 256.0])
def test_lfcc_frames_of_parts_equal_lfcc_of_whole(fs):
    rng = np.random.default_rng(3)
    n = int(fs * 60) + 17
    x = (rng.standard_normal((2, n)) * 30).astype(np.float32)
    whole = lfcc(x, fs, band_hz=(1.0, 70.0))
    n_frames = whole.shape[1]
    got = []
    for f0 in range(0, n_frames, 53):
        frames = (f0, min(n_frames, f0 + 53))
        a, b = lfcc_context(fs, frames, n_frames, n)
        got.append(
            lfcc_frames(
                x[:, a:b], fs, first_sample=a, total_samples=n, frames=frames, band_hz=(1.0, 70.0)
            )
        )
    np.testing.assert_allclose(np.concatenate(got, axis=1), whole, rtol=0, atol=1e-4)


def test_sample_reader_equals_read_edf(tmp_path):
    path = write_edf(tmp_path / "a.edf", 30, rates={"FP1": 200.0})
    rec = read_edf(path)
    header = read_edf_header(path)
    reader = EdfSampleReader(header, range(len(header.signals)))
    blocks = [reader.read(r, r + 7) for r in range(0, header.n_records, 7)]
    for i, x in enumerate(rec.data):
        np.testing.assert_array_equal(np.concatenate([b[i] for b in blocks]), x)
    assert reader.units == rec.units


def test_streamed_checks_match_whole_path(tmp_path, monkeypatch):
    """A flat channel warns and a clipped one warns the same way on both paths; a recording
    with every channel flat is refused by both."""
    rng = np.random.default_rng(4)
    fs, n = 250.0, 250 * 90
    signals = []
    for k, name in enumerate(ELECTRODES):
        x = rng.standard_normal(n) * 40
        if k == 0:
            x[:] = 12.5  # flat
        elif k == 1:
            x = np.clip(x * 50, -1000, 1000)  # mostly at the rails
        signals.append(
            EdfSignal(
                x,
                sampling_frequency=fs,
                label=f"EEG {name}-REF",
                physical_dimension="uV",
                physical_range=(-1000.0, 1000.0),
            )
        )
    path = tmp_path / "odd.edf"
    Edf(signals).write(path)
    whole, streamed = both_paths(path, PreprocessConfig(), monkeypatch)
    assert any("is flat" in w for w in whole.warnings)
    assert any("is clipped" in w for w in whole.warnings)
    assert streamed.warnings == whole.warnings

    dead = tmp_path / "dead.edf"
    flat = [
        EdfSignal(
            np.full(n, 3.0),
            sampling_frequency=fs,
            label=f"EEG {name}-REF",
            physical_dimension="uV",
            physical_range=(-1000.0, 1000.0),
        )
        for name in ELECTRODES
    ]
    Edf(flat).write(dead)
    with pytest.raises(UnusableRecordingError, match="no channel the montage reads"):
        pipeline.open_windows(dead, PreprocessConfig())
    monkeypatch.setattr(pipeline, "_STREAM_ABOVE_SECONDS", 0.0)
    with pytest.raises(UnusableRecordingError, match="no channel the montage reads"):
        pipeline.open_windows(dead, PreprocessConfig())


class _WindowMean(torch.nn.Module):
    """Logit of each window = its mean: ``(B, L, *window) -> (B, L)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).float().mean(dim=2)


@pytest.mark.parametrize("context_windows", [0, 2])
def test_each_block_is_computed_once_when_read_as_detect_reads(
    tmp_path, monkeypatch, context_windows
):
    # 300 windows in blocks of 23; 4 reader threads, each task a few windows: the tasks of a
    # batch and of the next batch read neighbouring ranges at once, ending inside blocks
    # that other tasks started. Each block must still be computed once.
    from seizure.inference import reading
    from seizure.inference.engine import Predictor

    path = write_edf(tmp_path / "a.edf", 300)
    _, streamed = both_paths(path, PreprocessConfig(), monkeypatch)
    windows = streamed.windows
    monkeypatch.setattr(reading, "MIN_TASK_BYTES", 1)
    predictor = Predictor(
        _WindowMean(),
        sequence_windows=10,
        context_windows=context_windows,
        batch_sequences=3,
        device="cpu",
        reader_threads=4,
    )
    probs = predictor.predict_one(windows)
    n_blocks = -(-len(windows) // windows.block_windows)
    assert n_blocks >= 10 and probs.shape == (len(windows),)
    assert windows.computed == n_blocks
    expected = windows[0 : len(windows)].mean(axis=(1, 2))  # all blocks again, in order
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-expected)), rtol=1e-5, atol=1e-6)
    assert windows.computed == 2 * n_blocks
