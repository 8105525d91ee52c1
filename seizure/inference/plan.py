"""Cutting recordings into model sequences and packing them into batches.

A recording is cut into *sequences* of ``L`` consecutive windows (:func:`plan_sequences`);
consecutive sequences overlap by ``2 * C`` windows and each window's probability is taken
from the sequence where it has at least ``C`` windows of context on both sides. Sequences of
consecutive recordings are packed into batches of ``batch_sequences`` (:func:`pack_batches`),
each batch described by *pieces*: runs of consecutive sequences that are contiguous in one
recording (with ``C = 0`` a whole recording but its last, partial tile is one piece, so
reshaping its windows ``(k * L, ...)`` to ``(k, L, ...)`` costs nothing).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seizure.inference.reading import Recording

__all__ = ["Batch", "pack_batches", "plan_sequences", "runs"]


def plan_sequences(n_windows: int, sequence_windows: int, context_windows: int = 0) -> np.ndarray:
    """Cut a recording into overlapping sequences and say which predictions each one keeps.

    Parameters
    ----------
    n_windows : int
        Windows in the recording.
    sequence_windows : int
        Sequence length ``L`` in windows.
    context_windows : int
        ``C``: windows of context kept on each side (``2C < L``); the hop is ``L - 2C``.

    Returns
    -------
    ndarray of int64, shape (n_sequences, 3)
        Rows ``(start, keep_lo, keep_hi)``: the sequence covers windows ``[start, start + L)``
        (``[0, n)`` when ``n < L``) and supplies the predictions of ``[keep_lo, keep_hi)``.
        The kept ranges tile ``[0, n_windows)`` exactly, in order. Empty for ``n_windows = 0``.

    Examples
    --------
    ``n = 10, L = 4, C = 1`` (hop 2)::

        windows   0 1 2 3 4 5 6 7 8 9
        seq 0     K K K .                  start 0, keeps 0-2
        seq 1         . K K .              start 2, keeps 3-4
        seq 2             . K K .          start 4, keeps 5-6
        seq 3                 . K K K      start 6, keeps 7-9 (the last L windows)
    """
    L, C = int(sequence_windows), int(context_windows)
    if L < 1 or C < 0 or 2 * C >= L:
        raise ValueError(
            f"Invalid sequence plan: sequence_windows={L}, context_windows={C}; "
            "expected sequence_windows >= 1 and 0 <= 2 * context_windows < sequence_windows"
        )
    n = int(n_windows)
    if n <= 0:
        return np.zeros((0, 3), dtype=np.int64)
    if n <= L:
        return np.array([[0, 0, n]], dtype=np.int64)
    hop = L - 2 * C
    # sequences i = 0 .. m-1 start at i * hop while i * hop + L < n; then the last L windows
    # (vectorised: a Python loop cost ~50 us per 3600-window recording on the main thread)
    m = -(-(n - L) // hop)
    starts = np.arange(m, dtype=np.int64) * hop
    rows = np.empty((m + 1, 3), dtype=np.int64)
    rows[:m, 0] = starts
    rows[:m, 2] = starts + (L - C)
    rows[0, 1] = 0
    rows[1:m, 1] = rows[: m - 1, 2]
    rows[m] = (n - L, rows[m - 1, 2], n)
    return rows


def runs(plan: np.ndarray, L: int) -> list[tuple[int, int, int, int]]:
    """Group a plan's sequences into pieces ``(n_rows, start, keep_lo, keep_hi)``.

    Consecutive sequences that are whole, contiguous tiles (``keep = [start, start + L)`` and
    each starting where the previous one ends) form one piece covering windows
    ``[start, start + n_rows * L)``; any other sequence is a piece of its own.
    """
    if len(plan) == 0:
        return []
    start, lo, hi = plan[:, 0], plan[:, 1], plan[:, 2]
    full = (lo == start) & (hi == start + L)
    join = full[1:] & full[:-1] & (start[1:] == start[:-1] + L)
    first = np.flatnonzero(np.r_[True, ~join])
    last = np.r_[first[1:], len(plan)] - 1
    return list(
        zip(
            (last - first + 1).tolist(),
            start[first].tolist(),
            lo[first].tolist(),
            hi[last].tolist(),
        )
    )


@dataclass
class Batch:
    """The pieces of one batch.

    Attributes
    ----------
    pieces : list of (Recording, int, int, int, int, int)
        ``(recording, row_lo, row_hi, start, lo, hi)``: rows ``[row_lo, row_hi)`` of the batch
        hold windows ``[start, start + (row_hi - row_lo) * length)`` of the recording and
        supply the probabilities of its windows ``[lo, hi)``.
    rows : int
        Rows (sequences) filled.
    length : int
        Sequence length of this batch (``L``, or a short recording's length).
    """

    pieces: list[tuple[Recording, int, int, int, int, int]] = field(default_factory=list)
    rows: int = 0
    length: int = 0


def pack_batches(
    recordings: Iterable[tuple[Any, np.ndarray]],
    sequence_windows: int,
    batch_sequences: int,
    context_windows: int,
    pending: collections.deque[Recording],
) -> Iterator[Batch]:
    """Pack the recordings' sequences into batches of pieces (see :class:`Batch`).

    Parameters
    ----------
    recordings : iterable of (key, ndarray)
        Windows of shape ``(n_windows, *window_shape)``, one shape for all; consumed lazily.
    sequence_windows, batch_sequences, context_windows : int
        ``L``, ``B`` and ``C``.
    pending : deque of Recording
        Each recording is appended here (in input order) before its first batch is yielded.

    Yields
    ------
    Batch
        Full batches of ``B`` rows of length ``L``, a last partial one, and one batch of one
        shorter row per recording shorter than ``L`` windows. Every piece of a recording is
        known (and counted in ``remaining``) before the first batch holding one of them is
        handed out, so that a recording is complete exactly when its last piece has been
        scattered.

    Raises
    ------
    ValueError
        A recording's window shape differs from the earlier recordings'.
    """
    L, B = int(sequence_windows), int(batch_sequences)
    batch = Batch(length=L)
    shape = None
    for key, windows in recordings:
        n = len(windows)
        if n and shape is None:
            shape = tuple(windows.shape[1:])
        elif n and tuple(windows.shape[1:]) != shape:
            raise ValueError(
                f"recording {key!r}: windows of shape {tuple(windows.shape[1:])}, the "
                f"earlier recordings' are {shape}"
            )
        rec = Recording(key, windows, np.zeros(n, dtype=np.float32), 0)
        pending.append(rec)
        if n == 0:
            continue
        if n < L:  # a short recording runs alone, as one shorter sequence (eager model)
            rec.remaining = 1
            yield Batch([(rec, 0, 1, 0, 0, n)], rows=1, length=n)
            continue
        pieces = _pieces(plan_sequences(n, L, context_windows), L, B, batch.rows)
        rec.remaining = sum(p is not None for p in pieces)
        for piece in pieces:
            if piece is None:
                batch.rows = B
                yield batch
                batch = Batch(length=L)
            else:
                batch.pieces.append((rec, *piece))
                batch.rows = piece[1]
    if batch.pieces:
        yield batch


def _pieces(
    plan: np.ndarray, L: int, B: int, rows: int
) -> list[tuple[int, int, int, int, int] | None]:
    """Return a recording's pieces ``(row_lo, row_hi, start, lo, hi)``.

    The pieces fill the current batch from row ``rows`` on; None marks where a batch is full.
    """
    pieces: list[tuple[int, int, int, int, int] | None] = []
    for count, start, lo, hi in runs(plan, L):
        while count:
            take = min(count, B - rows)
            if take < count:  # whole tiles split at a batch boundary
                pieces.append((rows, rows + take, start, start, start + take * L))
                start += take * L
            else:
                pieces.append((rows, rows + take, start, max(lo, start), hi))
            count -= take
            rows += take
            if rows == B:
                pieces.append(None)
                rows = 0
    return pieces
