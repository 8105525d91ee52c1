"""Hypothesis files of one recording, fast: probabilities -> events -> ``.csv_bi`` and ``.tsv``.

The same result as :func:`seizure.scoring.postprocess.postprocess` followed by
:func:`seizure.evaluation.evaluate.write_hypotheses` (the files are byte for byte the same),
for the inference pipeline's writers, which handle hundreds of recordings a second while the
device runs:

* the post-processing chain is vectorised end to end (:func:`event_arrays`: events as three
  float64 arrays; merging and dropping included), no :class:`~seizure.io.events.Event` is
  made;
* each file's text is formatted in one pass and written with one ``write`` on the temporary
  file's descriptor, then ``fsync`` and an atomic rename
  (:func:`seizure.utils.fsio.atomic_write_bytes`: 5 system calls);
* :class:`HypothesisWriter` is picklable and this module imports only numpy and the small
  event/format modules, so the writing runs in worker processes
  (:class:`~seizure.utils.pool.PipeWorkers`, started by :func:`shared_writer_processes` for
  :func:`seizure.evaluation.evaluate.infer_records`) where its Python does not compete for
  the inference process's GIL (measured on the H100 machine: 8 writer threads held up the
  main thread's planning and launching, 2.0 s of a 2.75 s run).

Events whose times the file writers would reject (a negative or non-finite duration) are
handed to the original writers, which raise the same errors as before.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seizure.evaluation.naming import hypothesis_names
from seizure.io.events import SEIZURE, TERM, Event
from seizure.scoring.postprocess import _run_max, cell_edges, smooth_probabilities
from seizure.utils.fsio import atomic_write_bytes
from seizure.utils.pool import PipeWorkers

__all__ = [
    "EventArrays",
    "HypothesisWriter",
    "PostprocessParams",
    "csv_bi_text",
    "event_arrays",
    "events_from_arrays",
    "tsv_text",
]

#: ``(starts, stops, confidences)``: float64 arrays of one recording's events, in time order.
EventArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class PostprocessParams:
    """The arguments of :func:`seizure.scoring.postprocess.postprocess`.

    All but the probabilities and the duration (picklable, for worker processes).
    """

    threshold: float
    window_seconds: float
    stride_seconds: float
    smoothing_windows: int = 1
    min_event_seconds: float = 0.0
    merge_gap_seconds: float = 0.0


def event_arrays(
    probs: np.ndarray, params: PostprocessParams, duration_s: float | None = None
) -> EventArrays:
    """:func:`~seizure.scoring.postprocess.postprocess`'s events as arrays.

    ``events_from_arrays(event_arrays(p, params, d))`` equals ``postprocess(p, ..., d)``
    exactly (same floats): runs of the thresholded, smoothed probabilities become events on
    their cells (empty ones dropped), consecutive events closer than ``merge_gap_seconds``
    are merged (the gap to the previous event's stop; the events are disjoint and their
    stops non-decreasing, so whether event ``i`` joins its predecessor does not depend on
    earlier merges), then events shorter than ``min_event_seconds`` are dropped.
    """
    smoothed = smooth_probabilities(probs, params.smoothing_windows)
    empty = np.zeros(0, dtype=np.float64)
    if smoothed.size == 0:
        return empty, empty.copy(), empty.copy()
    edges = cell_edges(smoothed.size, params.window_seconds, params.stride_seconds, duration_s)
    d = np.diff((smoothed >= params.threshold).view(np.int8), prepend=0, append=0)
    a = np.flatnonzero(d == 1)
    if a.size == 0:
        return empty, empty.copy(), empty.copy()
    b = np.flatnonzero(d == -1)
    conf = np.clip(_run_max(smoothed, a, b), 0.0, 1.0)
    starts, stops = edges[a], edges[b]
    keep = stops > starts
    if not keep.all():
        starts, stops, conf = starts[keep], stops[keep], conf[keep]
    if starts.size > 1 and params.merge_gap_seconds > 0:
        joins = (starts[1:] - stops[:-1]) < params.merge_gap_seconds
        if joins.any():
            first = np.flatnonzero(np.r_[True, ~joins])
            starts = starts[first]
            stops = np.maximum.reduceat(stops, first)
            conf = np.maximum.reduceat(conf, first)
    if params.min_event_seconds > 0:
        long = (stops - starts) >= params.min_event_seconds
        if not long.all():
            starts, stops, conf = starts[long], stops[long], conf[long]
    return starts, stops, conf


def events_from_arrays(arrays: EventArrays) -> list[Event]:
    """Return the ``seiz`` events on ``TERM`` of :func:`event_arrays`' output."""
    starts, stops, conf = arrays
    return [
        Event(a, b, SEIZURE, TERM, c)
        for a, b, c in zip(starts.tolist(), stops.tolist(), conf.tolist())
    ]


def _writable(arrays: EventArrays, duration_s: float) -> bool:
    """Whether the file writers would accept these events (else they raise: use them)."""
    starts, stops, _ = arrays
    if not math.isfinite(duration_s) or duration_s < 0:
        return False
    if starts.size == 0:
        return True
    return bool(
        np.isfinite(starts).all()
        and np.isfinite(stops).all()
        and (starts >= 0).all()
        and (stops >= starts).all()
        and (starts[1:] >= starts[:-1]).all()  # already in the writers' (start, stop) order
    )


def csv_bi_text(arrays: EventArrays, duration_s: float, bname: str) -> str:
    """Return what :func:`seizure.io.annotations.write_csv_bi` writes for these events.

    The ``seiz`` events are sorted and valid (see :func:`_writable`); the default montage file
    is named.
    """
    from seizure.io.annotations.tusz import CSV_COLUMNS, CSV_VERSION, DEFAULT_MONTAGE_FILE

    starts, stops, conf = arrays
    head = (
        f"# version = {CSV_VERSION}\n# bname = {bname}\n# duration = {duration_s:.4f} secs\n"
        f"# montage_file = {DEFAULT_MONTAGE_FILE}\n#\n{','.join(CSV_COLUMNS)}\n"
    )
    row = f"{TERM},{{:.4f}},{{:.4f}},{SEIZURE},{{:.4f}}\n".format
    return head + "".join(map(row, starts.tolist(), stops.tolist(), conf.tolist()))


def tsv_text(arrays: EventArrays, duration_s: float) -> str:
    """Return what :func:`seizure.io.annotations.write_tsv` writes for these events.

    The ``seiz`` events are sorted and valid; no recording date is written.
    """
    from seizure.io.annotations.bids import TSV_COLUMNS
    from seizure.io.events import BACKGROUND

    starts, stops, conf = arrays
    head = "\t".join(TSV_COLUMNS) + "\n"
    tail = f"\tn/a\tn/a\t{duration_s:.4f}\n"  # channels, dateTime, recordingDuration
    if starts.size == 0:
        return head + f"{0.0:.4f}\t{duration_s:.4f}\t{BACKGROUND}\t{1.0:.4f}" + tail
    rows = map(
        "{:.4f}\t{:.4f}\tsz\t{:.4f}".format,
        starts.tolist(),
        (stops - starts).tolist(),
        conf.tolist(),
    )
    return head + tail.join(rows) + tail


def _npy_bytes(array: np.ndarray) -> bytes:
    """``np.save``'s bytes of a 1-D (or any C-contiguous) array."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class HypothesisWriter:
    """Post-process a recording's probabilities and write its hypothesis files.

    ``<stem>.csv_bi`` and ``<stem>.tsv`` go into ``folder`` (picklable: runs in worker
    processes).

    Parameters
    ----------
    folder : str
        Where the hypothesis files go (created if needed).
    params : PostprocessParams
    """

    folder: str
    params: PostprocessParams

    def __call__(self, recording_id: str, stem: str, duration_s: float, probs) -> EventArrays:
        """Write the files of one recording; returns its events (:func:`event_arrays`)."""
        arrays = event_arrays(probs, self.params, duration_s)
        folder = Path(self.folder)
        csv_path, tsv_path = (folder / n for n in hypothesis_names(stem))
        if not _writable(arrays, duration_s):
            from seizure.io.annotations import write_csv_bi, write_tsv

            events = events_from_arrays(arrays)
            write_csv_bi(csv_path, events, duration_s, bname=recording_id)
            write_tsv(tsv_path, events, duration_s)
            return arrays
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(csv_path, csv_bi_text(arrays, duration_s, recording_id).encode())
        atomic_write_bytes(tsv_path, tsv_text(arrays, duration_s).encode())
        return arrays


def finish_recording(
    probs_path: str | None,
    writer: HypothesisWriter | None,
    recording_id: str,
    stem: str,
    duration_s: float,
    probs: np.ndarray,
) -> tuple[float, EventArrays | None]:
    """Do a writer's work for one recording (in a worker process or thread).

    Save its probabilities as ``probs_path`` (``.npy``, atomically) and write its hypothesis
    files. Returns (seconds taken, its events or None).
    """
    t0 = time.perf_counter()
    if probs_path is not None:
        atomic_write_bytes(probs_path, _npy_bytes(probs))
    arrays = None if writer is None else writer(recording_id, stem, duration_s, probs)
    return time.perf_counter() - t0, arrays


# ------------------------------------------------------------------ writer processes

#: What the writer processes run (:class:`~seizure.utils.pool.PipeWorkers`: they import this
#: module and numpy only, 0.2 s, never the caller's ``__main__``).
FINISH_RECORDING = "seizure.evaluation.hypotheses:finish_recording"

_SHARED: PipeWorkers | None = None
_SHARED_LOCK = threading.Lock()


def shared_writer_processes(workers: int) -> PipeWorkers:
    """Return this process's writer processes, started on first use.

    A :class:`~seizure.utils.pool.PipeWorkers` running :func:`finish_recording` with
    ``workers`` workers, kept (idle workers sleep) so that later calls do not pay the 0.2 s
    start again; stopped at exit.
    """
    import atexit

    global _SHARED
    with _SHARED_LOCK:
        pool = _SHARED
        if pool is not None and pool.workers == workers and pool.alive():
            return pool
        if pool is not None:
            pool.close()
        else:
            atexit.register(_close_shared)
        _SHARED = PipeWorkers(workers, FINISH_RECORDING)
        return _SHARED


def _close_shared() -> None:
    global _SHARED
    pool, _SHARED = _SHARED, None
    if pool is not None:
        pool.close()
