"""Resampling and filters: rational factors, agreement with scipy/MNE, mixed rates, float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from seizure.io.recording import Recording
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.montage import get_montage
from seizure.preprocessing.pipeline import preprocess_recording, resample_sources
from seizure.preprocessing.signal import (
    apply_filters,
    design_filters,
    resample,
    resample_factors,
    resample_to_matrix,
)


@pytest.mark.parametrize(
    ("src", "dst", "up", "down"),
    [
        (250, 256, 128, 125),
        (512, 256, 1, 2),
        (400, 256, 16, 25),
        (100, 256, 64, 25),
        (256, 256, 1, 1),
    ],
)
def test_resample_factors_are_reduced_fractions(src, dst, up, down):
    assert resample_factors(src, dst) == (up, down)


def test_irrational_ratio_is_refused_with_both_rates():
    with pytest.raises(ValueError, match=r"256.00001 Hz to 250 Hz"):
        resample_factors(256.00001, 250)


def test_resample_matches_scipy_and_keeps_float32():
    x = np.random.default_rng(1).standard_normal(2500).astype(np.float32)
    y = resample(x, 250, 256)
    assert y.dtype == np.float32 and y.shape == (2560,)
    np.testing.assert_allclose(
        y, scipy.signal.resample_poly(x.astype(np.float64), 128, 125), atol=1e-5
    )


def test_resample_agrees_with_mne_polyphase():
    mne = pytest.importorskip("mne")
    t = np.arange(2500) / 250
    x = (np.sin(2 * np.pi * 7 * t) * 40).astype(np.float32)
    y = resample(x, 250, 256)
    ref = mne.filter.resample(x.astype(np.float64), 256, 250, method="polyphase", verbose="error")
    assert ref.shape == y.shape
    # Both are Kaiser-windowed polyphase filters; away from the ends they agree closely.
    np.testing.assert_allclose(y[100:-100], ref[100:-100], atol=0.05)


def test_mixed_rate_channels_resample_to_one_grid():
    fs = {"a": 250.0, "b": 500.0, "c": 256.0}
    dur = 4.0
    sigs = []
    for rate in fs.values():
        t = np.arange(int(dur * rate)) / rate
        sigs.append((np.sin(2 * np.pi * 5 * t) * 100).astype(np.float32))
    out = resample_to_matrix(sigs, list(fs.values()), 256.0, 1024)
    assert out.shape == (3, 1024) and out.dtype == np.float32
    t = np.arange(1024) / 256
    truth = np.sin(2 * np.pi * 5 * t) * 100
    for row in out:  # a 5 Hz sine survives every path (ends excluded: zero padding)
        np.testing.assert_allclose(row[64:-64], truth[64:-64], atol=1.0)


def test_recording_with_mixed_rates_records_them():
    labels = list(get_montage("tcp_ar").electrodes)
    rates = [250.0 if i % 2 else 500.0 for i in range(len(labels))]
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(int(3 * r)).astype(np.float32) for r in rates]
    rec = Recording(Path("mixed.edf"), labels, labels, rates, data, 3.0)
    pre = preprocess_recording(rec, PreprocessConfig())
    assert pre.resampled and pre.sources.shape == (len(labels), 768)
    assert set(pre.source_rates_hz.values()) == {250.0, 500.0}


def test_filters_pass_band_and_remove_line_noise_and_drift():
    fs = 256.0
    t = np.arange(int(20 * fs)) / fs
    alpha = 50 * np.sin(2 * np.pi * 10 * t)
    x = (alpha + 30 * np.sin(2 * np.pi * 60 * t) + 200).astype(np.float32)[None, :].copy()
    sos = design_filters(fs, (1.0, 70.0), 60.0)
    apply_filters(x, sos)
    mid = slice(1024, -1024)
    np.testing.assert_allclose(x[0, mid], alpha[mid], atol=1.5)  # 60 Hz and DC gone, 10 Hz kept


def test_float32_filter_agrees_with_float64_scipy():
    fs = 256.0
    x = np.random.default_rng(2).standard_normal((3, 4096)).astype(np.float32) * 80
    sos = design_filters(fs, (1.0, 70.0), 50.0, bandpass_order=4, notch_q=30.0)
    ref = scipy.signal.sosfiltfilt(sos, x.astype(np.float64), axis=-1)
    got = apply_filters(x.copy(), sos)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-3 * np.abs(ref).max())


def test_filtering_commutes_with_the_montage():
    # filt(M @ X) == M @ filt(X): why the pipeline may filter the electrodes.
    labels = list(get_montage("tcp_ar").electrodes)
    rng = np.random.default_rng(3)
    rec = Recording(
        Path("x.edf"), labels, labels, [256.0] * len(labels),
        [rng.standard_normal(1024).astype(np.float32) * 50 for _ in labels], 4.0,
    )  # fmt: skip
    cfg = PreprocessConfig()
    filtered_first = preprocess_recording(rec, cfg).signals()
    montage_first = resample_sources(rec, cfg).signals()
    apply_filters(montage_first, design_filters(256.0, cfg.bandpass_hz, cfg.notch_hz))
    np.testing.assert_allclose(filtered_first, montage_first, atol=1e-2)  # float32 rounding


def test_filter_settings_are_checked_against_nyquist():
    with pytest.raises(ValueError, match="bandpass_hz"):
        design_filters(100.0, (1.0, 70.0), None)
    with pytest.raises(ValueError, match="notch_hz"):
        design_filters(100.0, None, 60.0)
    assert design_filters(256.0, None, None) is None
