"""Post-processing: per-window seizure probabilities -> term-level seizure events.

The chain, applied per recording, in this order::

    probabilities --smooth--> smoothed --threshold--> window mask --cells--> events
                  --merge gaps < merge_gap_seconds--> --drop events < min_event_seconds--> events

Time of a window. Window ``k`` covers ``[k * stride, k * stride + window)`` seconds (the cache
contract). A decision about window ``k`` is attributed to its *cell*: the span between the
midpoints of its centre and its neighbours' centres, i.e. ``[c_k - stride / 2, c_k + stride / 2)``
with ``c_k = k * stride + window / 2``; the first cell starts at 0 and the last one ends at the
last window's end. With ``stride == window`` (the default, 1 s windows) the cell is the window
itself. Events are clipped to the recording's duration.

Smoothing is a centred moving average over ``smoothing_windows`` windows; near the ends of the
recording it averages the windows that exist (no zero padding, so the edges are not biased
towards background). An even width looks one window further back than ahead.

Thresholding keeps windows whose smoothed probability is ``>= threshold``.

Merging joins consecutive events whose gap (next start - previous stop) is strictly less than
``merge_gap_seconds``; then events shorter than ``min_event_seconds`` are dropped (so two short
bursts close together can survive as one event). Each event's ``confidence`` is the largest
smoothed probability of the windows it holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from seizure.io.events import SEIZURE, Event
from seizure.utils.errors import invalid_value

if TYPE_CHECKING:
    from seizure.evaluation.config import EvaluateConfig

__all__ = [
    "cell_edges",
    "drop_short_events",
    "mask_to_cell_events",
    "merge_close_events",
    "postprocess",
    "postprocess_config_kwargs",
    "postprocess_sweep",
    "smooth_probabilities",
    "sweep_thresholds",
    "validate_evaluate_config",
]


def validate_evaluate_config(config: EvaluateConfig) -> None:
    """Check the post-processing parameters of an :class:`EvaluateConfig`.

    Raises
    ------
    ValueError
        ``Invalid value for 'evaluate.x': allowed ..., got ... instead`` for the first bad one.
    """
    checks = [
        ("threshold", 0.0 <= config.threshold <= 1.0, "a probability in [0, 1]"),
        ("smoothing_windows", config.smoothing_windows >= 1, "an integer >= 1"),
        ("min_event_seconds", config.min_event_seconds >= 0, "seconds >= 0"),
        ("merge_gap_seconds", config.merge_gap_seconds >= 0, "seconds >= 0"),
        ("context_windows", config.context_windows >= 0, "an integer >= 0"),
        (
            "batch_sequences",
            config.batch_sequences is None or config.batch_sequences >= 1,
            "null or an integer >= 1",
        ),
        (
            "reader_threads",
            config.reader_threads is None or config.reader_threads >= 1,
            "null or an integer >= 1",
        ),
        (
            "sequence_windows",
            config.sequence_windows is None or config.sequence_windows >= 1,
            "null or an integer >= 1",
        ),
        ("sweep_points", config.sweep_points >= 2, "an integer >= 2"),
        (
            "sweep_min",
            0.0 <= config.sweep_min < config.sweep_max <= 1.0,
            "0 <= sweep_min < sweep_max <= 1",
        ),
        (
            "sweep_high",
            all(math.isfinite(t) and 0.0 < t < 1.0 for t in config.sweep_high),
            "a list of probabilities in (0, 1)",
        ),
        ("fa_budgets_per_24h", all(b > 0 for b in config.fa_budgets_per_24h), "budgets > 0"),
        (
            "select_fa_per_24h",
            config.select_fa_per_24h is None or config.select_fa_per_24h > 0,
            "null or a budget > 0",
        ),
        (
            "choose_fa_per_24h",
            math.isfinite(config.choose_fa_per_24h) and config.choose_fa_per_24h > 0,
            "a finite budget > 0",
        ),
        (
            "choose_on",
            bool(config.choose_on.strip()),
            "auto, none or the name of a split",
        ),
        (
            "choose_smoothing_windows",
            bool(config.choose_smoothing_windows)
            and all(w >= 1 for w in config.choose_smoothing_windows),
            "a non-empty list of integers >= 1",
        ),
        (
            "choose_merge_gap_seconds",
            bool(config.choose_merge_gap_seconds)
            and all(s >= 0 for s in config.choose_merge_gap_seconds),
            "a non-empty list of seconds >= 0",
        ),
        (
            "choose_min_event_seconds",
            bool(config.choose_min_event_seconds)
            and all(s >= 0 for s in config.choose_min_event_seconds),
            "a non-empty list of seconds >= 0",
        ),
    ]
    for name, ok, allowed in checks:
        if not ok:
            raise invalid_value(f"evaluate.{name}", getattr(config, name), allowed)
    seq = config.sequence_windows
    if seq is not None and 2 * config.context_windows >= seq:
        raise invalid_value(
            "evaluate.context_windows",
            config.context_windows,
            f"less than half of sequence_windows ({seq})",
        )


def smooth_probabilities(probs: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of per-window probabilities.

    Parameters
    ----------
    probs : ndarray, shape (n_windows,)
        Probabilities in [0, 1].
    width : int
        Averaging width in windows (1 returns a float copy). At the ends the mean is over the
        windows that exist.

    Returns
    -------
    ndarray of float64, shape (n_windows,)
    """
    p = np.asarray(probs, dtype=np.float64)
    if width < 1:
        raise ValueError(f"Invalid value for 'width': expected an integer >= 1, got {width}")
    if width == 1 or p.size == 0:
        return p.copy()
    n = p.size
    csum = np.concatenate([[0.0], np.cumsum(p)])
    back = width // 2  # windows before k
    ahead = width - 1 - back  # windows after k
    idx = np.arange(n)
    lo = np.clip(idx - back, 0, n)
    hi = np.clip(idx + ahead + 1, 0, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def cell_edges(
    n_windows: int, window_seconds: float, stride_seconds: float, duration_s: float | None = None
) -> np.ndarray:
    """Time boundaries of the cells that window decisions are attributed to.

    Parameters
    ----------
    n_windows : int
    window_seconds, stride_seconds : float
        Window length and hop in seconds.
    duration_s : float, optional
        Recording length in seconds; edges are clipped to it.

    Returns
    -------
    ndarray of float64, shape (n_windows + 1,)
        Cell ``k`` is ``[edges[k], edges[k + 1])`` seconds.
    """
    k = np.arange(n_windows + 1, dtype=np.float64)
    edges = k * stride_seconds + (window_seconds - stride_seconds) / 2.0
    if n_windows > 0:
        edges[0] = 0.0
        edges[-1] = (n_windows - 1) * stride_seconds + window_seconds
    if duration_s is not None:
        edges = np.minimum(edges, duration_s)
    return edges


def mask_to_cell_events(
    mask: np.ndarray, edges: np.ndarray, scores: np.ndarray | None = None
) -> list[Event]:
    """Turn runs of ictal windows into events spanning their cells.

    Parameters
    ----------
    mask : ndarray of bool, shape (n_windows,)
    edges : ndarray, shape (n_windows + 1,)
        From :func:`cell_edges`.
    scores : ndarray, shape (n_windows,), optional
        Per-window probabilities; an event's confidence is their maximum over the run
        (1.0 when omitted).

    Returns
    -------
    list of Event
        ``seiz`` events on channel ``TERM`` in time order; empty cells (clipped away by the
        duration) give no event.
    """
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return []
    d = np.diff(m.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    if scores is not None and starts.size:
        conf = _run_max(np.asarray(scores, dtype=np.float64), starts, stops)
    else:
        conf = np.ones(starts.size)
    out = []
    for a, b, c in zip(starts, stops, conf):
        t0, t1 = float(edges[a]), float(edges[b])
        if t1 > t0:
            out.append(Event(t0, t1, SEIZURE, confidence=float(min(1.0, max(0.0, c)))))
    return out


def _run_max(scores: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Maximum of ``scores[a:b]`` for each run, vectorised (runs are disjoint and sorted)."""
    # Put -inf outside the runs so that reduceat over [start_i, start_{i+1}) sees only run i.
    inside = np.zeros(scores.size + 1, dtype=np.int64)
    inside[starts] += 1
    inside[stops] -= 1
    masked = np.where(np.cumsum(inside[:-1]) > 0, scores, -np.inf)
    return np.maximum.reduceat(masked, starts)


def merge_close_events(events: Sequence[Event], gap_seconds: float) -> list[Event]:
    """Merge consecutive events separated by less than ``gap_seconds``.

    Parameters
    ----------
    events : sequence of Event
        Disjoint events in time order.
    gap_seconds : float
        Gaps strictly shorter than this (seconds) are closed; 0 merges nothing (touching
        events are already one run).

    Returns
    -------
    list of Event
        The merged event keeps the first one's label and the largest confidence.
    """
    out: list[Event] = []
    for ev in events:
        if out and ev.start - out[-1].stop < gap_seconds:
            last = out[-1]
            out[-1] = replace(
                last, stop=max(last.stop, ev.stop), confidence=max(last.confidence, ev.confidence)
            )
        else:
            out.append(ev)
    return out


def drop_short_events(events: Sequence[Event], min_seconds: float) -> list[Event]:
    """Keep events lasting at least ``min_seconds`` seconds."""
    return [ev for ev in events if ev.duration >= min_seconds]


def postprocess(
    probs: np.ndarray,
    *,
    threshold: float,
    window_seconds: float,
    stride_seconds: float,
    duration_s: float | None = None,
    smoothing_windows: int = 1,
    min_event_seconds: float = 0.0,
    merge_gap_seconds: float = 0.0,
) -> list[Event]:
    """Turn one recording's per-window probabilities into seizure events.

    Parameters
    ----------
    probs : ndarray, shape (n_windows,)
        Seizure probability of each window, in [0, 1].
    threshold : float
        Windows with smoothed probability ``>= threshold`` are ictal.
    window_seconds, stride_seconds : float
        Window length and hop of the cache, in seconds.
    duration_s : float, optional
        Recording length in seconds (events are clipped to it).
    smoothing_windows : int
        Moving-average width in windows (1 = none).
    min_event_seconds : float
        Events shorter than this (after merging) are dropped, in seconds.
    merge_gap_seconds : float
        Gaps shorter than this between events are closed, in seconds.

    Returns
    -------
    list of Event
        Disjoint ``seiz`` events in time order, in seconds.
    """
    return postprocess_sweep(
        probs,
        [threshold],
        window_seconds=window_seconds,
        stride_seconds=stride_seconds,
        duration_s=duration_s,
        smoothing_windows=smoothing_windows,
        min_event_seconds=min_event_seconds,
        merge_gap_seconds=merge_gap_seconds,
    )[0]


def postprocess_sweep(
    probs: np.ndarray,
    thresholds: Sequence[float],
    *,
    window_seconds: float,
    stride_seconds: float,
    duration_s: float | None = None,
    smoothing_windows: int = 1,
    min_event_seconds: float = 0.0,
    merge_gap_seconds: float = 0.0,
) -> list[list[Event]]:
    """:func:`postprocess` at several thresholds, smoothing once.

    Returns
    -------
    list of list of Event
        One event list per threshold, in the order given.
    """
    smoothed = smooth_probabilities(probs, smoothing_windows)
    edges = cell_edges(smoothed.size, window_seconds, stride_seconds, duration_s)
    out = []
    for thr in thresholds:
        events = mask_to_cell_events(smoothed >= thr, edges, smoothed)
        events = merge_close_events(events, merge_gap_seconds)
        out.append(drop_short_events(events, min_event_seconds))
    return out


def sweep_thresholds(config: EvaluateConfig) -> np.ndarray:
    """Return the thresholds of the operating curve.

    These are ``sweep_points`` values from ``sweep_min`` to ``sweep_max`` inclusive, rounded
    to 6 decimals (so that 0.02 prints as 0.02), then the ``sweep_high`` values above
    ``sweep_max``, ascending.

    Returns
    -------
    ndarray of float, shape (n_thresholds,)
        Strictly increasing probabilities.
    """
    grid = np.round(np.linspace(config.sweep_min, config.sweep_max, config.sweep_points), 6)
    high = sorted({round(float(t), 6) for t in config.sweep_high if t > grid[-1]})
    return np.concatenate([grid, np.asarray(high, dtype=float)])


def postprocess_config_kwargs(config: EvaluateConfig) -> dict[str, float | int]:
    """Return the keyword arguments of :func:`postprocess` from an :class:`EvaluateConfig`."""
    return {
        "smoothing_windows": config.smoothing_windows,
        "min_event_seconds": config.min_event_seconds,
        "merge_gap_seconds": config.merge_gap_seconds,
    }
