"""Events and annotations: the common currency of the data layer, training and scoring.

Times are in seconds from the start of the recording. An :class:`Annotation` is what a file
says (all its rows, in file order, labels normalised); :meth:`Annotation.seizures` is what the
pipeline uses (term-level seizure events sorted, overlaps merged, clipped to the duration).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

SEIZURE = "seiz"
BACKGROUND = "bckg"
TERM = "TERM"

#: Longest recording accepted, in seconds (7 days). The longest single files of the corpora we
#: read last hours (TUSZ, CHB-MIT) to about a day (Siena, long-term monitoring exports); a
#: week leaves room for multi-day files while refusing durations that can only be typing or
#: unit errors (``1e10`` s is 317 years, and scoring it at 1 Hz would allocate 9.3 GiB).
MAX_RECORDING_SECONDS = 7 * 24 * 3600.0


def duration_problem(seconds: float) -> str | None:
    """Why ``seconds`` cannot be a recording duration, or None when it can.

    Parameters
    ----------
    seconds : float
        A recording duration in seconds.

    Returns
    -------
    str or None
        ``"must be > 0"`` or ``"exceeds the 604800 s (7 days) limit"`` style text, to follow
        the value in a message; None for a duration in ``(0, MAX_RECORDING_SECONDS]``.
    """
    if not seconds > 0:  # also catches NaN
        return "must be > 0"
    if seconds > MAX_RECORDING_SECONDS:
        return (
            f"exceeds the {MAX_RECORDING_SECONDS:.0f} s (7 days) limit on one recording "
            "(a unit or typing error?)"
        )
    return None


@dataclass(frozen=True, order=True)
class Event:
    """One annotated interval.

    Parameters
    ----------
    start, stop : float
        Onset and offset in seconds from the start of the recording (``start < stop``).
    label : str
        Normalised label (``seiz``, ``bckg``, or a seizure type such as ``fnsz``).
    channel : str
        ``TERM`` for whole-recording events, else a montage channel name (``FP1-F7``).
    confidence : float
        Probability or confidence in [0, 1].
    """

    start: float
    stop: float
    label: str = SEIZURE
    channel: str = TERM
    confidence: float = 1.0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.stop - self.start


@dataclass
class Annotation:
    """The content of one annotation file (or one recording's entry in a corpus listing).

    Parameters
    ----------
    events : list of Event
        Every event the source holds, labels normalised, in source order.
    duration : float or None
        Recording duration in seconds when the source states it (``# duration`` header).
    source : Path or None
        The file it was read from.
    warnings : list of str
        Problems found while reading or normalising (clipped events, reordered rows...).
    """

    events: list[Event] = field(default_factory=list)
    duration: float | None = None
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def seizures(self, duration: float | None = None) -> list[Event]:
        """Term-level seizure events: sorted, overlaps merged, clipped to ``duration``.

        Every non-background label counts as seizure (channel events are pooled to term
        level). Clipping appends a warning to :attr:`warnings`.
        """
        limit = self.duration if duration is None else duration
        name = str(self.source or "annotation")
        # Per-channel files interleave channels, so file order is checked within each channel
        # (pooled events are sorted before normalize_events sees them).
        last_start: dict[str, float] = {}
        for e in self.events:
            if e.start < last_start.get(e.channel, e.start):
                _warn_once(self.warnings, f"{name}: events were out of order and have been sorted")
                break
            last_start[e.channel] = e.start
        seiz = sorted(
            Event(e.start, e.stop, SEIZURE, TERM, e.confidence)
            for e in self.events
            if e.label != BACKGROUND
        )
        return normalize_events(seiz, limit, self.warnings, name)


def _warn_once(warnings: list[str] | None, message: str) -> None:
    """Append ``message`` unless already there (``seizures()`` may be called repeatedly)."""
    if warnings is not None and message not in warnings:
        warnings.append(message)


def normalize_events(
    events: Iterable[Event],
    duration: float | None = None,
    warnings: list[str] | None = None,
    name: str = "annotation",
) -> list[Event]:
    """Sort events, merge overlapping or touching ones, clip them to ``[0, duration]``.

    Parameters
    ----------
    events : iterable of Event
    duration : float, optional
        Recording length in seconds; events past it are clipped (or dropped when they start
        after it), with a message appended to ``warnings``.
    warnings : list of str, optional
        Receives one message per problem.
    name : str
        Used in the messages.

    Returns
    -------
    list of Event
        Disjoint events in time order, each keeping the first event's label and channel and
        the largest confidence of those merged.
    """
    out: list[Event] = []
    items = list(events)
    if any(b.start < a.start for a, b in zip(items, items[1:])):
        _warn_once(warnings, f"{name}: events were out of order and have been sorted")
    for ev in sorted(items):
        start, stop = max(0.0, ev.start), ev.stop
        if duration is not None and stop > duration:
            _warn_once(
                warnings,
                f"{name}: event {ev.start:.3f}-{ev.stop:.3f} s runs past the end of the "
                f"recording ({duration:.3f} s) and was "
                + ("dropped" if start >= duration else "clipped"),
            )
            stop = duration
        if stop <= start:
            continue
        if out and start <= out[-1].stop:
            last = out[-1]
            out[-1] = replace(
                last, stop=max(last.stop, stop), confidence=max(last.confidence, ev.confidence)
            )
        else:
            out.append(replace(ev, start=start, stop=stop))
    return out


def events_to_mask(
    events: Sequence[Event], n: int, step_seconds: float, offset_seconds: float = 0.0
) -> np.ndarray:
    """Sample events on a regular grid.

    ``mask[k]`` is True when the midpoint of cell ``k``, ``offset + (k + 0.5) * step``, lies
    inside an event.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    mid = offset_seconds + (np.arange(n) + 0.5) * step_seconds
    mask = np.zeros(n, dtype=bool)
    for ev in events:
        mask |= (mid >= ev.start) & (mid < ev.stop)
    return mask


def mask_to_events(
    mask: np.ndarray, step_seconds: float, offset_seconds: float = 0.0, label: str = SEIZURE
) -> list[Event]:
    """Turn runs of True in a regular grid into events.

    This is the inverse of :func:`events_to_mask` for events aligned to the grid.

    Parameters
    ----------
    mask : ndarray of bool, shape (n,)
    step_seconds : float
        Grid step in seconds.
    offset_seconds : float
        Time of the first cell's start.
    """
    m = np.asarray(mask, dtype=bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], m, [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [
        Event(offset_seconds + a * step_seconds, offset_seconds + b * step_seconds, label)
        for a, b in zip(starts, stops)
    ]
