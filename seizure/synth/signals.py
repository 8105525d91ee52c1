"""Vectorised signal building blocks: coloured noise, slow envelopes, event trains.

All functions take an explicit ``numpy.random.Generator`` and return float32 arrays.
"""

from __future__ import annotations

import numpy as np


def colored_noise(
    rng: np.random.Generator,
    n_rows: int,
    n: int,
    fs: float,
    slope: np.ndarray | float,
    knee_hz: float = 1.0,
    highpass_hz: float = 0.3,
    lowpass_hz: float = 70.0,
    band_hz: tuple[float, float] | None = None,
) -> np.ndarray:
    """Gaussian noise with a ``1 / f ** slope`` power spectrum, built in the frequency domain.

    The power spectrum is ``1 / (f + knee) ** slope``, times a second-order high-pass at
    ``highpass_hz`` and a fourth-order low-pass at ``lowpass_hz`` (the amplifier's filters),
    and optionally a smooth band-pass ``band_hz``. Each row has unit variance.

    Parameters
    ----------
    rng : Generator
    n_rows, n : int
        Number of independent rows and samples per row.
    fs : float
        Sampling rate in Hz.
    slope : float or ndarray, shape (n_rows,)
        Spectral exponent (1 to 2 for EEG background).
    knee_hz, highpass_hz, lowpass_hz : float
        Shape parameters in Hz.
    band_hz : (float, float), optional
        Keep mostly this band (fourth-order edges).

    Returns
    -------
    ndarray of float32, shape (n_rows, n)
    """
    from scipy import fft

    nf = n // 2 + 1
    f = np.fft.rfftfreq(n, 1.0 / fs).astype(np.float32)
    slope = np.broadcast_to(np.asarray(slope, dtype=np.float32), (n_rows,))
    base = np.log(f + np.float32(knee_hz))
    shape = (f**2 / (f**2 + np.float32(highpass_hz) ** 2)) / (1 + (f / lowpass_hz) ** 4)
    if band_hz is not None:
        lo, hi = band_hz
        shape = shape * (f**4 / (f**4 + lo**4)) / (1 + (f / hi) ** 4)
    amp = np.exp(-0.5 * slope[:, None] * base[None, :]) * np.sqrt(shape)[None, :]
    amp = amp.astype(np.float32)
    # unit variance: var = 2 * sum(|A|^2 * E|Z|^2) / n^2 with E|Z|^2 = 2
    norm = np.sqrt(4.0 * (amp.astype(np.float64) ** 2).sum(axis=1)) / n
    amp /= norm.astype(np.float32)[:, None]
    z = rng.standard_normal((n_rows, 2 * nf), dtype=np.float32).view(np.complex64)
    z *= amp
    return fft.irfft(z, n=n, axis=1, workers=1).astype(np.float32, copy=False)


def coarse_noise(
    rng: np.random.Generator, n: int, fs: float, step_s: float, smooth: int = 1
) -> np.ndarray:
    """Make slowly varying unit-variance noise.

    Random values every ``step_s`` seconds are smoothed by a moving average over ``smooth``
    steps and linearly interpolated to ``n`` samples.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    m = int(np.ceil(n / fs / step_s)) + smooth + 2
    v = rng.standard_normal(m)
    if smooth > 1:
        v = np.convolve(v, np.ones(smooth) / np.sqrt(smooth), mode="same")
    t = np.arange(n) / fs
    return np.interp(t, np.arange(m) * step_s, v).astype(np.float32)


def upsample(values: np.ndarray, step_s: float, n: int, fs: float) -> np.ndarray:
    """Linear interpolation of a coarse series (one value every ``step_s`` s) to ``n`` samples.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    t = np.arange(n) / fs
    return np.interp(t, np.arange(len(values)) * step_s, values).astype(np.float32)


def poisson_times(rng: np.random.Generator, rate_per_s: float, duration_s: float) -> np.ndarray:
    """Event times (s) of a homogeneous Poisson process, sorted.

    Returns
    -------
    ndarray, shape (k,)
    """
    k = rng.poisson(max(rate_per_s, 0.0) * duration_s)
    return np.sort(rng.uniform(0.0, duration_s, k))


def impulse_train(
    times_s: np.ndarray, amplitudes: np.ndarray, n: int, fs: float, kernel: np.ndarray
) -> np.ndarray:
    """Sum of ``kernel`` copies starting at ``times_s`` scaled by ``amplitudes``.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    from scipy.signal import oaconvolve

    train = np.zeros(n, dtype=np.float32)
    if len(times_s):
        idx = np.clip(np.round(np.asarray(times_s) * fs).astype(np.int64), 0, n - 1)
        np.add.at(train, idx, np.asarray(amplitudes, dtype=np.float32))
        return oaconvolve(train, kernel.astype(np.float32))[:n].astype(np.float32)
    return train


def raised_cosine_window(n: int, edge: int) -> np.ndarray:
    """Make a window of ``n`` samples rising and falling over ``edge`` samples (float32)."""
    w = np.ones(n, dtype=np.float32)
    edge = min(edge, n // 2)
    if edge > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)).astype(np.float32)
        w[:edge] = ramp
        w[n - edge :] = ramp[::-1]
    return w
