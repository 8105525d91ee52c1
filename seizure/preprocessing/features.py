"""Features per window: raw samples, or the paper's LFCC front end.

Raw windows
-----------
Window ``k`` covers samples ``[k * stride, k * stride + window)`` of the montage signal, so a
recording of ``n`` samples gives ``floor((n - window) / stride) + 1`` windows (the tail that
does not fill a window is dropped). Shape ``(n_windows, n_channels, window_samples)``.

LFCC (linear-frequency cepstral coefficients)
---------------------------------------------
Following Golmohammadi et al. 2017 (after Harati et al. 2015), per channel:

1. frames every ``frame_seconds`` (0.1 s); frame ``j`` is centred at ``(j + 0.5) * 0.1`` s and
   analysed over ``analysis_seconds`` (0.2 s) around its centre (signal ends reflected);
2. a Hamming-windowed power spectrum (FFT of at least 256 points) is pooled by
   ``n_filters`` triangular filters spaced **linearly** in frequency between the band-pass
   edges (0 Hz and Nyquist without a band-pass);
3. the log filter-bank energies go through an orthonormal DCT-II; coefficients ``c1..c7``
   are kept (``c0`` is dropped in favour of the explicit energy);
4. energy ``E = log(sum(x^2) + eps)`` of the (unwindowed) analysis frame, and *differential
   energy* ``dE = max(E) - min(E)`` over the ``energy_span_frames`` (9) frames centred on the
   frame;
5. first derivatives ``d`` of all 9 base features, second derivatives ``dd`` of the first 8
   (not of ``dE``), by linear regression over +-``delta_frames`` (2) frames with the ends
   repeated.

That gives 7 + 2 + 9 + 8 = 26 features per frame per channel, in the order
``[c1..c7, E, dE, d(c1..c7), dE', d(dE), dd(c1..c7), dd(E)]``. Windows of features have shape
``(n_windows, n_channels, frames_per_window, 26)``; window ``k`` holds frames
``[k * stride / 0.1, k * stride / 0.1 + window / 0.1)``.

Departures from the paper
~~~~~~~~~~~~~~~~~~~~~~~~~
The paper states 0.1 s frames, a 0.2 s analysis window and 26 features from 7 cepstral
coefficients with energy terms and derivatives, but not the split of the 26 (*unverified*, see
REFERENCE.md section 1). We follow Harati et al. 2015 (7 cepstra + energy + differential
energy, first derivatives of all 9, second derivatives of all but differential energy). Also
our own choices where the paper is silent: the number of linear filters (24 by default), the
filter-bank range (the band-pass edges), the Hamming window, no pre-emphasis, the 9-frame
span of the differential energy, the +-2-frame regression for derivatives, and computing
features over the whole recording before cutting windows (so frames at a window's edge see
0.05 s of the neighbouring window and derivatives are continuous across windows).
"""

from __future__ import annotations

import numpy as np

__all__ = ["N_LFCC_FEATURES", "deltas", "lfcc", "lfcc_filterbank", "raw_windows", "window_count"]

#: Features per frame per channel of :func:`lfcc` with the default 7 cepstra.
N_LFCC_FEATURES = 26

_EPS = 1e-10


def window_count(n_samples: int, window_samples: int, stride_samples: int) -> int:
    """Number of whole windows: ``floor((n - window) / stride) + 1``, or 0 when ``n < window``."""
    if n_samples < window_samples:
        return 0
    return (n_samples - window_samples) // stride_samples + 1


def raw_windows(x: np.ndarray, window_samples: int, stride_samples: int) -> np.ndarray:
    """Cut a multichannel signal into windows, without copying.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
    window_samples, stride_samples : int
        Window length and hop in samples.

    Returns
    -------
    ndarray, shape (n_windows, n_channels, window_samples)
        A read-only strided view of ``x``.
    """
    n_ch, n = x.shape
    count = window_count(n, window_samples, stride_samples)
    s_ch, s_t = x.strides
    return np.lib.stride_tricks.as_strided(
        x,
        shape=(count, n_ch, window_samples),
        strides=(stride_samples * s_t, s_ch, s_t),
        writeable=False,
    )


def lfcc_filterbank(
    n_filters: int, nfft: int, sample_rate_hz: float, low_hz: float, high_hz: float
) -> np.ndarray:
    """Triangular filters with centres equally spaced on a linear frequency axis.

    Returns
    -------
    ndarray of float32, shape (n_filters, nfft // 2 + 1)
        Filter ``i`` rises from edge ``i`` to 1 at edge ``i + 1`` and falls to 0 at edge
        ``i + 2``, where the ``n_filters + 2`` edges split ``[low_hz, high_hz]`` evenly.
    """
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate_hz)
    edges = np.linspace(low_hz, high_hz, n_filters + 2)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None, :] - lo) / (mid - lo)
    fall = (hi - freqs[None, :]) / (hi - mid)
    return np.clip(np.minimum(rise, fall), 0.0, None).astype(np.float32)


def deltas(feat: np.ndarray, half_width: int = 2) -> np.ndarray:
    """Regression derivative along axis 0 (frames), ends repeated.

    ``d[j] = sum_{n=1..N} n (f[j+n] - f[j-n]) / (2 sum_{n=1..N} n^2)``.

    Parameters
    ----------
    feat : ndarray, shape (n_frames, ...)
    half_width : int
        ``N``, frames on each side.

    Returns
    -------
    ndarray, same shape and dtype as ``feat``
    """
    n = len(feat)
    if n == 0:
        return feat.copy()
    pad = np.concatenate(
        [np.repeat(feat[:1], half_width, 0), feat, np.repeat(feat[-1:], half_width, 0)]
    )
    out = np.zeros_like(feat)
    for k in range(1, half_width + 1):
        out += k * (
            pad[half_width + k : half_width + k + n] - pad[half_width - k : half_width - k + n]
        )
    return out / (2 * sum(k * k for k in range(1, half_width + 1)))


def lfcc(
    x: np.ndarray,
    sample_rate_hz: float,
    *,
    frame_seconds: float = 0.1,
    analysis_seconds: float = 0.2,
    n_filters: int = 24,
    n_cepstra: int = 7,
    band_hz: tuple[float, float] | None = None,
    energy_span_frames: int = 9,
    delta_frames: int = 2,
) -> np.ndarray:
    """LFCC features of each channel (see the module docstring for the recipe).

    Parameters
    ----------
    x : ndarray of float32, shape (n_channels, n_samples)
        Filtered montage signals in microvolts.
    sample_rate_hz : float
        Rate of ``x`` in Hz.
    frame_seconds, analysis_seconds : float
        Frame hop and analysis window length, in seconds.
    n_filters, n_cepstra : int
        Linear filters in the bank; cepstral coefficients kept (``c1..c{n_cepstra}``).
    band_hz : (float, float) or None
        Range covered by the filter bank in Hz; None for ``(0, sample_rate_hz / 2)``.
    energy_span_frames : int
        Frames (odd) over which the differential energy takes max - min.
    delta_frames : int
        Half-width in frames of the derivative regression.

    Returns
    -------
    ndarray of float32, shape (n_channels, n_frames, 2 * (n_cepstra + 2) + n_cepstra + 1)
        ``n_frames = floor(n_samples / (frame_seconds * sample_rate_hz))`` (26 features with
        the defaults).
    """
    import scipy.fft

    n_ch, n = x.shape
    n_frames = int(np.floor(n / (frame_seconds * sample_rate_hz) + 1e-9))
    length = max(2, int(round(analysis_seconds * sample_rate_hz)))
    nfft = max(256, 1 << (length - 1).bit_length())
    low, high = band_hz if band_hz is not None else (0.0, sample_rate_hz / 2)
    bank = lfcc_filterbank(n_filters, nfft, sample_rate_hz, low, high)
    window = np.hamming(length).astype(np.float32)
    centres = np.round((np.arange(n_frames) + 0.5) * frame_seconds * sample_rate_hz).astype(
        np.int64
    )
    starts = centres - length // 2 + length  # + length: offset into the reflected padding
    index = starts[:, None] + np.arange(length)[None, :]
    half = energy_span_frames // 2
    n_feat = 2 * (n_cepstra + 2) + n_cepstra + 1
    out = np.empty((n_ch, n_frames, n_feat), dtype=np.float32)
    for ch in range(n_ch):
        sig = np.pad(np.asarray(x[ch], dtype=np.float32), length, mode="reflect")
        frames = sig[index]  # (n_frames, length)
        energy = np.log(np.einsum("ij,ij->i", frames, frames) + _EPS)
        spec = np.abs(scipy.fft.rfft(frames * window, nfft, axis=1)) ** 2
        logfb = np.log(spec @ bank.T + _EPS)
        ceps = scipy.fft.dct(logfb, type=2, norm="ortho", axis=1)[:, 1 : n_cepstra + 1]
        padded = np.pad(energy, half, mode="edge")
        view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        diff_energy = view.max(axis=1) - view.min(axis=1)
        base = np.column_stack([ceps, energy, diff_energy]).astype(np.float32)
        d1 = deltas(base, delta_frames)
        d2 = deltas(d1[:, : n_cepstra + 1], delta_frames)
        out[ch] = np.concatenate([base, d1, d2], axis=1)
    return out
