"""Per-window band-power features: the inputs of the feature baseline.

For each window and channel, the power in five bands is read from a Hann-windowed
periodogram of the window (mean removed) and its natural logarithm taken; each band then
gives two features over channels, the mean and the maximum of the log power. The ten
features per window are ordered ``[mean delta, mean theta, mean alpha, mean beta, mean gamma,
max delta, ..., max gamma]`` (:func:`feature_names`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["FEATURE_BANDS_HZ", "band_power_features", "feature_names"]

#: Bands of :func:`band_power_features` in Hz, ``[low, high)``; gamma stops at the default
#: 70 Hz low-pass of ``seizure preprocess``.
FEATURE_BANDS_HZ: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 70.0),
}
_EPS_UV2 = 1e-6
_CHUNK = 4096


def feature_names() -> list[str]:
    """Names of the columns of :func:`band_power_features`: ``mean_delta`` ... ``max_gamma``."""
    return [f"{stat}_{band}" for stat in ("mean", "max") for band in FEATURE_BANDS_HZ]


def band_power_features(windows: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Log band power per window, mean and max over channels.

    Parameters
    ----------
    windows : array_like, shape (n_windows, n_channels, window_samples)
        Raw windows in microvolts (a cache's ``windows(recording_id)``; float16 is read in
        chunks and computed in float32).
    sample_rate_hz : float
        Sampling rate of the windows in Hz.

    Returns
    -------
    ndarray of float32, shape (n_windows, 10)
        ``log(power / uV^2)`` for the bands of :data:`FEATURE_BANDS_HZ`, mean over channels
        then max over channels.

    Raises
    ------
    ValueError
        When ``windows`` is not three-dimensional or a band has no frequency bin (a window
        too short or a rate too low for it).
    """
    if windows.ndim != 3:
        raise ValueError(
            "band_power_features expects windows of shape (n_windows, n_channels, "
            f"window_samples), got shape {tuple(windows.shape)}"
        )
    n_win, _, n_samp = windows.shape
    f = np.fft.rfftfreq(n_samp, 1.0 / sample_rate_hz)
    masks = [(f >= lo) & (f < hi) for lo, hi in FEATURE_BANDS_HZ.values()]
    for name, m in zip(FEATURE_BANDS_HZ, masks):
        if not m.any():
            raise ValueError(
                f"band {name} {FEATURE_BANDS_HZ[name]} Hz has no bin for {n_samp}-sample "
                f"windows at {sample_rate_hz:g} Hz"
            )
    taper = np.hanning(n_samp).astype(np.float32)
    scale = np.float32(2.0 / (sample_rate_hz * float((taper**2).sum())))
    df = float(f[1] - f[0]) if f.size > 1 else 1.0
    out = np.empty((n_win, 2 * len(masks)), dtype=np.float32)
    for a in range(0, n_win, _CHUNK):
        x = np.asarray(windows[a : a + _CHUNK], dtype=np.float32)
        x = (x - x.mean(axis=-1, keepdims=True)) * taper
        psd = np.abs(np.fft.rfft(x, axis=-1)) ** 2 * scale
        power = np.stack([psd[..., m].sum(axis=-1) * df for m in masks], axis=-1)
        logp = np.log(power + _EPS_UV2)
        out[a : a + _CHUNK, : len(masks)] = logp.mean(axis=1)
        out[a : a + _CHUNK, len(masks) :] = logp.max(axis=1)
    return out
