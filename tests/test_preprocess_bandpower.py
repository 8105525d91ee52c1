"""Per-window band-power features (the feature baseline's inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from seizure.preprocessing.bandpower import (
    FEATURE_BANDS_HZ,
    band_power_features,
    feature_names,
)


def test_a_sinusoid_lands_in_its_band_and_the_max_channel() -> None:
    fs, n = 256.0, 256
    t = np.arange(n) / fs
    windows = np.zeros((2, 3, n), dtype=np.float32)
    windows[0, 1] = 20.0 * np.sin(2 * np.pi * 6.0 * t)  # theta on channel 1 only
    windows[1, :] = 20.0 * np.sin(2 * np.pi * 20.0 * t)  # beta on every channel
    feats = band_power_features(windows, fs)
    names = feature_names()
    assert feats.shape == (2, 2 * len(FEATURE_BANDS_HZ)) and feats.dtype == np.float32
    col = {name: i for i, name in enumerate(names)}
    # a 20 uV sinusoid holds 200 uV^2; the Hann window leaks a little outside the band
    assert np.exp(feats[0, col["max_theta"]]) == pytest.approx(200.0, rel=0.05)
    assert feats[0, col["max_theta"]] > feats[0, col["mean_theta"]] + 0.5
    assert np.argmax(feats[0, 5:]) == list(FEATURE_BANDS_HZ).index("theta")
    assert np.exp(feats[1, col["mean_beta"]]) == pytest.approx(200.0, rel=0.05)
    assert feats[1, col["mean_beta"]] == pytest.approx(feats[1, col["max_beta"]])
    # an offset does not count as power
    shifted = band_power_features(windows + np.float32(500.0), fs)
    np.testing.assert_allclose(shifted[:, 5:], feats[:, 5:], atol=0.02)


def test_white_noise_power_is_proportional_to_bandwidth() -> None:
    rng = np.random.default_rng(0)
    fs = 256.0
    windows = rng.standard_normal((4000, 2, 256)).astype(np.float16)  # read in chunks
    feats = band_power_features(windows, fs)
    mean_power = np.exp(feats[:, :5]).mean(axis=0)
    widths = np.array([hi - lo for lo, hi in FEATURE_BANDS_HZ.values()])
    # variance 1 over 128 Hz: 1/128 uV^2 per Hz; the log-then-exp mean is below the mean
    ratio = mean_power / (widths / 128.0)
    assert np.all((0.4 < ratio) & (ratio < 1.1)), ratio
    assert np.ptp(ratio[2:]) < 0.15  # wide bands agree with each other


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="n_windows, n_channels"):
        band_power_features(np.zeros((10, 256)), 256.0)
    with pytest.raises(ValueError, match="gamma"):
        band_power_features(np.zeros((1, 2, 16)), 50.0)
