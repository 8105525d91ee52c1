"""Resampling and filtering, float32 throughout (numpy/scipy; no MNE in the hot path).

* Resampling is polyphase (:func:`scipy.signal.resample_poly`) with the rational factor
  ``up/down`` reduced from the two rates (250 -> 256 Hz is 128/125). Rates that are not
  (close to) rational with a denominator under 10,000 are refused with both rates named.
* Filters are zero-phase: a Butterworth band-pass and an IIR notch (:func:`scipy.signal.iirnotch`)
  in second-order sections, run forwards and backwards with :func:`scipy.signal.sosfiltfilt`.
  The sections are cast to float32 so that the whole chain stays in float32 (the error this
  adds is about 1e-5 of the signal's amplitude, far under the float16 storage step).

Work is done a few channels at a time so that the temporaries stay small.

A long recording can be processed a part at a time with the same result:
:func:`resample_span` names the input samples that give an output range exactly as
resampling the whole signal does (the FIR reaches ``10 * max(up, down)`` upsampled samples on
each side, and the part starts on a multiple of ``down`` so that its polyphase alignment is
the whole signal's), and :func:`filter_padding` the samples of signal to add on each side of
a part so that the zero-phase filter's start-up transient has decayed below 1e-9 of the
signal (relative; float32 resolves 6e-8) before the part (see :func:`filter_padding`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

__all__ = [
    "apply_filters",
    "design_filters",
    "filter_padding",
    "resample",
    "resample_factors",
    "resample_part",
    "resample_span",
    "resample_to_matrix",
]

_CHUNK_ROWS = 4


def resample_factors(from_hz: float, to_hz: float) -> tuple[int, int]:
    """Smallest integers ``(up, down)`` with ``to_hz / from_hz == up / down``.

    Raises
    ------
    ValueError
        When a rate is not positive, or the ratio needs a denominator over 10,000 (the
        message names both rates).
    """
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"sampling rates must be positive, got {from_hz} Hz -> {to_hz} Hz")
    ratio = Fraction(to_hz / from_hz).limit_denominator(10_000)
    if abs(float(ratio) * from_hz - to_hz) > 1e-9 * to_hz:
        raise ValueError(
            f"cannot resample {from_hz} Hz to {to_hz} Hz with a polyphase filter: the ratio is "
            "not a fraction with a denominator under 10,000"
        )
    return ratio.numerator, ratio.denominator


def resample(x: np.ndarray, from_hz: float, to_hz: float, axis: int = -1) -> np.ndarray:
    """Polyphase resampling of ``x`` along ``axis`` from ``from_hz`` to ``to_hz``.

    Parameters
    ----------
    x : ndarray, float32
        Signal(s); the time axis is ``axis``.
    from_hz, to_hz : float
        Rates in Hz.

    Returns
    -------
    ndarray of float32
        ``ceil(n * up / down)`` samples along ``axis`` (``x`` itself, as float32, when the
        rates are equal).
    """
    import scipy.signal

    x = np.asarray(x, dtype=np.float32)
    up, down = resample_factors(from_hz, to_hz)
    if up == down:
        return x
    return scipy.signal.resample_poly(x, up, down, axis=axis).astype(np.float32, copy=False)


def resample_to_matrix(
    signals: Sequence[np.ndarray] | list[np.ndarray | None],
    rates_hz: Sequence[float],
    to_hz: float,
    n_samples: int,
    release: bool = False,
) -> np.ndarray:
    """Resample channels of possibly different rates into one ``(n_channels, n_samples)`` array.

    Channels that share a rate are resampled together, a few rows at a time. Each output row
    is cut to ``n_samples`` or, if shorter (rounding), padded with its last value.

    Parameters
    ----------
    signals : sequence of ndarray, each (n_samples_channel,)
    rates_hz : sequence of float
        Rate of each channel in Hz.
    to_hz : float
        Target rate in Hz.
    n_samples : int
        Output length (usually ``floor(duration_s * to_hz)``).
    release : bool
        Replace each entry of ``signals`` (a list) by None once it is resampled, so that its
        memory can be freed before the next chunk (lower peak memory).

    Returns
    -------
    ndarray of float32, shape (len(signals), n_samples)
    """
    out = np.empty((len(signals), n_samples), dtype=np.float32)
    groups: dict[tuple[float, int], list[int]] = {}
    for i, (sig, rate) in enumerate(zip(signals, rates_hz)):
        groups.setdefault((float(rate), len(sig)), []).append(i)
    for (rate, _), rows in groups.items():
        for start in range(0, len(rows), _CHUNK_ROWS):
            chunk = rows[start : start + _CHUNK_ROWS]
            block = np.stack([np.asarray(signals[i], dtype=np.float32) for i in chunk])
            res = resample(block, rate, to_hz, axis=1)
            n = min(n_samples, res.shape[1])
            out[chunk, :n] = res[:, :n]
            if n < n_samples:
                out[chunk, n:] = res[:, n - 1 : n] if n else 0.0
            del block, res
            if release:
                for i in chunk:
                    signals[i] = None  # type: ignore[index]
    return out


def _half_len(up: int, down: int) -> int:
    return 10 * max(up, down)  # scipy.signal.resample_poly's FIR half-length (upsampled)


def resample_span(
    from_hz: float, to_hz: float, start: int, stop: int, n_in: int
) -> tuple[int, int]:
    """Input samples ``[s, e)`` that determine output samples ``[start, stop)``.

    Parameters
    ----------
    from_hz, to_hz : float
        Rates in Hz.
    start, stop : int
        Output (``to_hz``) samples wanted.
    n_in : int
        Length of the whole input signal.

    Returns
    -------
    (int, int)
        ``s`` is a multiple of ``down`` (``up / down = to_hz / from_hz``) so that
        ``resample_part(x[s:e], ..., s, ...)`` equals the whole signal's resampling there.
    """
    up, down = resample_factors(from_hz, to_hz)
    reach = _half_len(up, down) // up + 2
    lo = (start * down) // up - reach
    hi = ((max(start, stop - 1)) * down) // up + reach + 1
    s = max(0, (lo // down) * down)
    return s, min(n_in, max(s, hi))


def resample_part(
    x: np.ndarray, from_hz: float, to_hz: float, first: int, start: int, stop: int, n_in: int
) -> np.ndarray:
    """Output samples ``[start, stop)`` of the resampled signal from input ``x[first:...]``.

    Parameters
    ----------
    x : ndarray of float32, shape (n_channels, n)
        Input samples ``[first, first + n)``, at least the span :func:`resample_span` names.
    from_hz, to_hz : float
    first : int
        Where ``x`` starts in the input (a multiple of ``down``).
    start, stop : int
        Output samples wanted.
    n_in : int
        Length of the whole input.

    Returns
    -------
    ndarray of float32, shape (n_channels, stop - start)
        As :func:`resample_to_matrix` gives them, past the end padded with the last value.
    """
    up, down = resample_factors(from_hz, to_hz)
    if first % down:
        raise ValueError(f"a part must start on a multiple of {down} samples, got {first}")
    res = resample(x, from_hz, to_hz, axis=1)
    offset = first * up // down
    out = np.empty((x.shape[0], stop - start), dtype=np.float32)
    end = -(-n_in * up // down)  # ceil: the whole signal's resampled length
    have = max(0, min(stop, end) - start)
    out[:, :have] = res[:, start - offset : start - offset + have]
    if have < stop - start:
        out[:, have:] = res[:, end - offset - 1 : end - offset] if end else 0.0
    return out


def filter_padding(sos: np.ndarray | None, tolerance: float = 1e-9) -> int:
    """Return the samples of signal to add on each side of a part filtered on its own.

    The zero-phase filter started at a part's edge differs from the whole-signal filter by a
    transient that decays as ``r ** k`` after ``k`` samples, ``r`` being the largest pole
    radius of the sections: ``ceil(log(tolerance) / log(r))`` samples bring it under
    ``tolerance`` times the signal's size (1e-9: below float32's 6e-8 resolution).

    Returns
    -------
    int
        0 when there is nothing to filter.
    """
    if sos is None:
        return 0
    r = max(float(np.max(np.abs(np.roots(section[3:])), initial=0.0)) for section in sos)
    if r <= 0.0:
        return 0
    return int(math.ceil(math.log(tolerance) / math.log(r)))


def design_filters(
    sample_rate_hz: float,
    bandpass_hz: tuple[float, float] | None,
    notch_hz: float | None,
    bandpass_order: int = 4,
    notch_q: float = 30.0,
) -> np.ndarray | None:
    """Second-order sections of the band-pass (Butterworth) followed by the notch.

    Parameters
    ----------
    sample_rate_hz : float
        Rate of the signal to filter, in Hz.
    bandpass_hz : (float, float) or None
        Pass band edges in Hz (``0 < low < high < sample_rate_hz / 2``); a low edge of 0 gives
        a low-pass.
    notch_hz : float or None
        Notch centre in Hz (below Nyquist).
    bandpass_order : int
        Butterworth order (the zero-phase filter has twice this order).
    notch_q : float
        Quality factor of the notch (centre / -3 dB bandwidth).

    Returns
    -------
    ndarray of float64, shape (n_sections, 6), or None when there is nothing to filter

    Raises
    ------
    ValueError
        Band edges or notch outside ``(0, Nyquist)``, or a band-pass order too high to be
        stable, naming the setting.
    """
    import scipy.signal

    nyq = sample_rate_hz / 2
    sections = []
    if bandpass_hz is not None:
        low, high = bandpass_hz
        if not 0 <= low < high < nyq:
            raise ValueError(
                f"Invalid value for 'preprocess.bandpass_hz': expected 0 <= low < high < "
                f"{nyq:g} Hz (half of sample_rate_hz), got {list(bandpass_hz)} instead"
            )
        band = ([low, high], "bandpass") if low > 0 else (high, "lowpass")
        with np.errstate(all="ignore"):  # a high order overflows: checked just below
            sos = scipy.signal.butter(
                bandpass_order, band[0], btype=band[1], fs=sample_rate_hz, output="sos"
            )
        if not _stable(sos):
            raise ValueError(
                f"Invalid value for 'preprocess.bandpass_order': a Butterworth {band[1]} of "
                f"order {bandpass_order} at {sample_rate_hz:g} Hz is numerically unstable "
                "(non-finite coefficients or poles outside the unit circle); use 2-8"
            )
        sections.append(sos)
    if notch_hz is not None:
        if not 0 < notch_hz < nyq:
            raise ValueError(
                f"Invalid value for 'preprocess.notch_hz': expected 0 < notch < {nyq:g} Hz "
                f"(half of sample_rate_hz), got {notch_hz} instead"
            )
        b, a = scipy.signal.iirnotch(notch_hz, notch_q, fs=sample_rate_hz)
        sections.append(scipy.signal.tf2sos(b, a))
    if not sections:
        return None
    return np.vstack(sections)


def _stable(sos: np.ndarray) -> bool:
    """Tell whether every section has finite coefficients and poles inside the unit circle."""
    if not np.isfinite(sos).all():
        return False
    return all(np.all(np.abs(np.roots(section[3:])) < 1.0) for section in sos)


def apply_filters(x: np.ndarray, sos: np.ndarray | None) -> np.ndarray:
    """Zero-phase filtering of each row of ``x`` in place (float32).

    Parameters
    ----------
    x : ndarray of float32, shape (n_channels, n_samples)
        Modified in place.
    sos : ndarray, shape (n_sections, 6), or None
        From :func:`design_filters`; None leaves ``x`` unchanged.

    Returns
    -------
    ndarray
        ``x``.
    """
    import scipy.signal

    if sos is None or x.shape[-1] == 0:
        return x
    sos32 = np.asarray(sos, dtype=np.float32)
    # sosfiltfilt pads by at most 3 * (2 * n_sections + 1) samples (odd extension); signals
    # shorter than that get a shorter pad instead of an error.
    padlen = None
    if x.shape[-1] <= 3 * (2 * len(sos32) + 1):
        padlen = x.shape[-1] - 1
    for start in range(0, x.shape[0], _CHUNK_ROWS):
        rows = slice(start, start + _CHUNK_ROWS)
        x[rows] = scipy.signal.sosfiltfilt(sos32, x[rows], axis=-1, padlen=padlen)
    return x
