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

__all__ = [
    "N_LFCC_FEATURES",
    "deltas",
    "lfcc",
    "lfcc_context",
    "lfcc_filterbank",
    "lfcc_frames",
    "raw_windows",
    "window_count",
]

#: Features per frame per channel of :func:`lfcc` with the default 7 cepstra.
N_LFCC_FEATURES = 26

_EPS = 1e-10


def window_count(n_samples: int, window_samples: int, stride_samples: int) -> int:
    """Count whole windows: ``floor((n - window) / stride) + 1``, or 0 when ``n < window``."""
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
    n = x.shape[1]
    n_frames = int(np.floor(n / (frame_seconds * sample_rate_hz) + 1e-9))
    return lfcc_frames(
        x,
        sample_rate_hz,
        first_sample=0,
        total_samples=n,
        frames=(0, n_frames),
        frame_seconds=frame_seconds,
        analysis_seconds=analysis_seconds,
        n_filters=n_filters,
        n_cepstra=n_cepstra,
        band_hz=band_hz,
        energy_span_frames=energy_span_frames,
        delta_frames=delta_frames,
    )


def lfcc_context(
    sample_rate_hz: float,
    frames: tuple[int, int],
    n_frames: int,
    total_samples: int,
    *,
    frame_seconds: float = 0.1,
    analysis_seconds: float = 0.2,
    energy_span_frames: int = 9,
    delta_frames: int = 2,
) -> tuple[int, int]:
    """Return the samples ``[start, stop)`` that :func:`lfcc_frames` needs for ``frames``.

    Frames ``frames[0] - c`` to ``frames[1] + c`` (``c = max(delta + span // 2, 2 delta)``
    frames, the reach of the differential energy and the two derivatives) are analysed, each
    over ``analysis_seconds`` around its centre; the range is clipped to the signal.

    Parameters
    ----------
    sample_rate_hz : float
    frames : (int, int)
        Frames wanted, ``[first, stop)``, of a signal of ``n_frames`` frames.
    n_frames, total_samples : int
        Frames and samples of the whole signal.

    Returns
    -------
    (int, int)
    """
    h0, h1 = _frame_reach(frames, n_frames, energy_span_frames, delta_frames)
    length = max(2, int(round(analysis_seconds * sample_rate_hz)))
    centres = _centres(np.array([h0, max(h0, h1 - 1)]), frame_seconds, sample_rate_hz)
    start = int(centres[0]) - length // 2
    stop = int(centres[1]) - length // 2 + length
    return max(0, start), min(total_samples, stop)


def _frame_reach(
    frames: tuple[int, int], n_frames: int, energy_span_frames: int, delta_frames: int
) -> tuple[int, int]:
    reach = max(delta_frames + energy_span_frames // 2, 2 * delta_frames)
    return max(0, frames[0] - reach), min(n_frames, frames[1] + reach)


def _centres(frames: np.ndarray, frame_seconds: float, sample_rate_hz: float) -> np.ndarray:
    """Sample at the centre of each (global) frame index."""
    return np.round((frames + 0.5) * frame_seconds * sample_rate_hz).astype(np.int64)


def lfcc_frames(
    x: np.ndarray,
    sample_rate_hz: float,
    *,
    first_sample: int,
    total_samples: int,
    frames: tuple[int, int],
    frame_seconds: float = 0.1,
    analysis_seconds: float = 0.2,
    n_filters: int = 24,
    n_cepstra: int = 7,
    band_hz: tuple[float, float] | None = None,
    energy_span_frames: int = 9,
    delta_frames: int = 2,
) -> np.ndarray:
    """LFCC features of frames ``frames`` of a signal given in part (a chunk of a recording).

    The result equals ``lfcc(whole)[:, frames[0]:frames[1]]`` when ``x`` holds at least the
    samples :func:`lfcc_context` names: frames are placed by their index in the whole signal,
    its ends are reflected only where ``x`` reaches them, and the differential energy and
    derivatives see the same neighbouring frames.

    Parameters
    ----------
    x : ndarray of float32, shape (n_channels, n_samples)
        Samples ``[first_sample, first_sample + n_samples)`` of the signal.
    sample_rate_hz : float
    first_sample, total_samples : int
        Where ``x`` starts in the signal, and the signal's length, in samples.
    frames : (int, int)
        Frames ``[first, stop)`` wanted.
    frame_seconds, analysis_seconds, n_filters, n_cepstra, band_hz, energy_span_frames,
    delta_frames
        As :func:`lfcc`.

    Returns
    -------
    ndarray of float32, shape (n_channels, frames[1] - frames[0], n_features)
    """
    import scipy.fft

    n_ch, n = x.shape
    n_frames = int(np.floor(total_samples / (frame_seconds * sample_rate_hz) + 1e-9))
    g0, g1 = frames
    h0, h1 = _frame_reach(frames, n_frames, energy_span_frames, delta_frames)
    length = max(2, int(round(analysis_seconds * sample_rate_hz)))
    nfft = max(256, 1 << (length - 1).bit_length())
    low, high = band_hz if band_hz is not None else (0.0, sample_rate_hz / 2)
    bank = lfcc_filterbank(n_filters, nfft, sample_rate_hz, low, high)
    window = np.hamming(length).astype(np.float32)
    centres = _centres(np.arange(h0, h1), frame_seconds, sample_rate_hz)
    left = length if first_sample == 0 else 0  # reflect only at the signal's own ends
    right = length if first_sample + n == total_samples else 0
    starts = centres - length // 2 - first_sample + left
    index = starts[:, None] + np.arange(length)[None, :]
    half = energy_span_frames // 2
    n_feat = 2 * (n_cepstra + 2) + n_cepstra + 1
    out = np.empty((n_ch, g1 - g0, n_feat), dtype=np.float32)
    for ch in range(n_ch):
        sig = np.pad(np.asarray(x[ch], dtype=np.float32), (left, right), mode="reflect")
        chunk = sig[index]  # (h1 - h0, length)
        energy = np.log(np.einsum("ij,ij->i", chunk, chunk) + _EPS)
        spec = np.abs(scipy.fft.rfft(chunk * window, nfft, axis=1)) ** 2
        logfb = np.log(spec @ bank.T + _EPS)
        ceps = scipy.fft.dct(logfb, type=2, norm="ortho", axis=1)[:, 1 : n_cepstra + 1]
        padded = np.pad(energy, half, mode="edge")
        view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
        diff_energy = view.max(axis=1) - view.min(axis=1)
        base = np.column_stack([ceps, energy, diff_energy]).astype(np.float32)
        d1 = deltas(base, delta_frames)
        d2 = deltas(d1[:, : n_cepstra + 1], delta_frames)
        out[ch] = np.concatenate([base, d1, d2], axis=1)[g0 - h0 : g1 - h0]
    return out
