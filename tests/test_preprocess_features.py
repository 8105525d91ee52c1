"""Raw windows and LFCC features: hand-computed cases and invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seizure.io.events import Event
from seizure.io.recording import Recording
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.features import (
    N_LFCC_FEATURES,
    deltas,
    lfcc,
    lfcc_filterbank,
    raw_windows,
    window_count,
)
from seizure.preprocessing.montage import get_montage
from seizure.preprocessing.pipeline import (
    preprocess_recording,
    window_labels,
    window_shape,
    windows_for,
)


def test_window_count_hand_cases():
    assert window_count(10, 4, 2) == 4  # [0,4) [2,6) [4,8) [6,10)
    assert window_count(11, 4, 2) == 4  # the tail [8,11) is dropped
    assert window_count(3, 4, 2) == 0
    assert window_count(4, 4, 4) == 1


def test_raw_windows_are_strided_views():
    x = np.arange(20, dtype=np.float32).reshape(2, 10)
    w = raw_windows(x, 4, 2)
    assert w.shape == (4, 2, 4)
    np.testing.assert_array_equal(w[1, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(w[3, 1], [16, 17, 18, 19])
    assert np.shares_memory(w, x)


def test_window_labels_use_the_midpoint():
    # windows of 1 s every 1 s; seizure 2.4-4.6 s:
    #   window   0    1    2    3    4    5
    #   mid     0.5  1.5  2.5  3.5  4.5  5.5
    #   ictal    .    .    X    X    X    .
    cfg = PreprocessConfig()
    np.testing.assert_array_equal(window_labels([Event(2.4, 4.6)], 6, cfg), [0, 0, 1, 1, 1, 0])
    # 2 s windows every 1 s: midpoints 1, 2, 3, 4, 5 -> ictal at 3 and 4
    cfg2 = PreprocessConfig(window_seconds=2.0)
    np.testing.assert_array_equal(window_labels([Event(2.4, 4.6)], 5, cfg2), [0, 0, 1, 1, 0])


def test_lazy_raw_windows_equal_montage_signals():
    labels = list(get_montage("tcp_ar").electrodes)
    rng = np.random.default_rng(0)
    rec = Recording(
        Path("x.edf"), labels, labels, [256.0] * len(labels),
        [rng.standard_normal(256 * 5 + 100).astype(np.float32) for _ in labels], 5.39,
    )  # fmt: skip
    cfg = PreprocessConfig(window_seconds=2.0, stride_seconds=1.0)
    pre = preprocess_recording(rec, cfg)
    win = windows_for(pre, cfg)
    assert win.shape == (4, 22, 512) and len(win) == 4
    full = pre.signals()
    np.testing.assert_array_equal(np.asarray(win), raw_windows(full, 512, 256))
    np.testing.assert_array_equal(win[2:3][0], full[:, 512:1024])


def test_filterbank_triangles_peak_at_linear_centres():
    bank = lfcc_filterbank(4, 256, 256.0, 0.0, 100.0)  # edges 0, 20, 40, 60, 80, 100 Hz
    assert bank.shape == (4, 129)
    np.testing.assert_array_equal(bank.argmax(axis=1), [20, 40, 60, 80])  # 1 Hz bins
    assert bank[0, 10] == pytest.approx(0.5) and bank[0, 0] == 0 and bank[0, 40] == 0


def test_deltas_of_a_ramp_are_its_slope():
    ramp = np.arange(10, dtype=np.float32)[:, None] * 3
    d = deltas(ramp, 2)
    np.testing.assert_allclose(d[2:-2, 0], 3.0)
    # ends repeated: d[0] = (1*(f1 - f0) + 2*(f2 - f0)) / 10 = (3 + 12) / 10
    assert d[0, 0] == pytest.approx(1.5)


def test_lfcc_shape_energy_and_stationary_sine():
    fs = 256.0
    t = np.arange(int(10 * fs)) / fs
    x = (20 * np.sin(2 * np.pi * 10 * t)).astype(np.float32)[None, :]
    feats = lfcc(x, fs, band_hz=(1.0, 70.0))
    assert feats.shape == (1, 100, N_LFCC_FEATURES) and feats.dtype == np.float32
    # energy of frame 50: centre sample round(50.5 * 25.6) = 1293, 51 samples around it
    frame = x[0, 1293 - 25 : 1293 - 25 + 51].astype(np.float64)
    assert feats[0, 50, 7] == pytest.approx(np.log(np.sum(frame**2)), rel=1e-4)
    inner = feats[0, 10:-10]
    # a stationary sine: cepstra nearly constant, derivatives near zero, small dE
    assert np.ptp(inner[:, :7], axis=0).max() < 1.0  # c1 is about 22
    assert np.abs(inner[:, 9:]).max() < 0.5
    assert inner[:, 8].max() < 0.5


def test_differential_energy_sees_a_burst():
    fs = 256.0
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(10 * fs)).astype(np.float32)
    x[int(5 * fs) : int(6 * fs)] *= 100  # a burst 40 dB louder at 5-6 s
    feats = lfcc(x[None, :], fs)
    energy, diff_energy = feats[0, :, 7], feats[0, :, 8]
    assert energy[55] - energy[20] > 8  # log(100^2) = 9.2
    assert diff_energy[50] > 8 and diff_energy[20] < 3  # frame 50 is within 4 of the burst


def test_lfcc_windows_group_frames():
    labels = list(get_montage("tcp_ar").electrodes)
    rng = np.random.default_rng(1)
    rec = Recording(
        Path("x.edf"), labels, labels, [250.0] * len(labels),
        [rng.standard_normal(250 * 4).astype(np.float32) for _ in labels], 4.0,
    )  # fmt: skip
    cfg = PreprocessConfig(features="lfcc")
    pre = preprocess_recording(rec, cfg)
    win = windows_for(pre, cfg)
    assert window_shape(cfg) == (22, 10, 26) and win.shape == (4, 22, 10, 26)
    whole = lfcc(pre.signals(), 256.0, band_hz=cfg.bandpass_hz)
    np.testing.assert_allclose(win[1], whole[:, 10:20], rtol=1e-4, atol=1e-4)


def test_lfcc_config_requires_whole_frames():
    with pytest.raises(ValueError, match="whole number of lfcc_frame_seconds"):
        PreprocessConfig(features="lfcc", window_seconds=1.05, sample_rate_hz=200.0)
