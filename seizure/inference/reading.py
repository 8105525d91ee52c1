"""Reading windows into the host buffers: large sequential copies, ``preadv`` from files.

A batch's reads are split into about ``reader_threads`` tasks of equal bytes
(:func:`split_reads`), each run by a reader thread (:func:`read_task`) that copies its pieces
with :func:`copy_windows`: one ``os.preadv`` per piece straight from a memory-mapped
``.npy`` file into the buffer (no page-table work, the GIL released), or one ``np.copyto``
for in-memory arrays.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MIN_TASK_BYTES", "Recording", "copy_windows", "read_task", "split_reads"]

#: A reader task copies at least this much: submitting a task and collecting its result
#: cost 11 us on a 2-core dev machine (plus ~10 us in the task), a 4 MiB ``preadv`` from the
#: page cache ~0.8 ms (5.2 GB/s per thread there), so the overhead stays under 3 %.
MIN_TASK_BYTES = 4 << 20

#: ``(recording, src, count, dst)``: copy windows ``[src, src + count)`` of the recording to
#: rows ``[dst, dst + count)`` of a host buffer.
ReadPiece = tuple["Recording", int, int, int]


@dataclass
class Recording:
    """One recording on its way through the engine.

    Attributes
    ----------
    key : any
        The caller's key, handed back with the probabilities.
    windows : ndarray, shape (n_windows, *window_shape)
        Its windows (a memory-mapped ``.npy`` is read with ``preadv``).
    probs : ndarray of float32, shape (n_windows,)
        Its probabilities, filled as its batches finish.
    remaining : int
        Pieces not yet scattered into ``probs`` (0: complete).
    fd : int or None
        The open file of memory-mapped windows (the ``preadv`` fast path).
    """

    key: Any
    windows: np.ndarray
    probs: np.ndarray
    remaining: int
    fd: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def file(self) -> tuple[int, int] | None:
        """(fd, byte offset of window 0) when the windows can be read with ``preadv``."""
        w = self.windows
        if not (
            isinstance(w, np.memmap)
            and isinstance(getattr(w, "filename", None), str)
            and w.flags.c_contiguous
            and hasattr(os, "preadv")
        ):
            return None
        with self.lock:
            if self.fd is None:
                self.fd = os.open(w.filename, os.O_RDONLY)
        return self.fd, int(w.offset)

    def close(self) -> None:
        """Close the file opened by :meth:`file` (if any)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def split_reads(copies: list[ReadPiece], row_bytes: int, threads: int) -> list[list[ReadPiece]]:
    """Split a batch's copies into about ``threads`` tasks of equal size.

    Parameters
    ----------
    copies : list of (Recording, int, int, int)
        The batch's pieces, ``(recording, src, count, dst)`` in windows.
    row_bytes : int
        Bytes of one window in the host buffer.
    threads : int
        Reader threads; a task is at least :data:`MIN_TASK_BYTES` long.

    Returns
    -------
    list of list of (Recording, int, int, int)
        The tasks (non-empty), pieces split where a task ends.
    """
    total = sum(c[2] for c in copies)
    n_tasks = max(1, min(threads, (total * row_bytes) // MIN_TASK_BYTES))
    per_task = math.ceil(total / n_tasks)
    tasks: list[list[ReadPiece]] = [[]]
    filled = 0
    for rec, src, count, dst in copies:
        while count:
            take = min(count, per_task - filled)
            tasks[-1].append((rec, src, take, dst))
            src, dst, count, filled = src + take, dst + take, count - take, filled + take
            if filled == per_task:
                tasks.append([])
                filled = 0
    return [task for task in tasks if task]


def read_task(dest: np.ndarray, copies: list[ReadPiece], after: Any) -> tuple[float, float, int]:
    """Copy a batch's pieces into a host buffer (run in a reader thread).

    ``dest[dst : dst + count] = windows[src : src + count]`` for each piece, once ``after``
    (the previous copy of ``dest`` to the device) has completed.

    Parameters
    ----------
    dest : ndarray, shape (capacity, *window_shape)
        The host buffer.
    copies : list of (Recording, int, int, int)
        ``(recording, src, count, dst)`` per piece.
    after : event or None
        Waited for (``synchronize()``) before writing.

    Returns
    -------
    blocked_s, copying_s : float
        Seconds waiting for ``after`` and copying.
    nbytes : int
        Bytes copied.
    """
    t0 = time.perf_counter()
    if after is not None:
        after.synchronize()
    t1 = time.perf_counter()
    nbytes = 0
    for rec, src, count, dst in copies:
        part = dest[dst : dst + count]
        copy_windows(rec, src, src + count, part)
        nbytes += part.nbytes
    return t1 - t0, time.perf_counter() - t1, nbytes


def copy_windows(rec: Recording, start: int, stop: int, dest: np.ndarray) -> None:
    """``dest[:] = rec.windows[start:stop]``, by ``preadv`` when the windows are a file.

    Parameters
    ----------
    rec : Recording
    start, stop : int
        Window range.
    dest : ndarray, shape (stop - start, *window_shape)
        Written in place (cast when its dtype differs from the windows').
    """
    w = rec.windows
    where = rec.file() if dest.dtype == w.dtype and dest.flags.c_contiguous else None
    if where is None:
        np.copyto(dest, w[start:stop], casting="unsafe")
        return
    fd, offset = where
    row = int(np.prod(w.shape[1:], dtype=np.int64)) * w.dtype.itemsize
    view = memoryview(dest).cast("B")
    pos, total = 0, view.nbytes
    while pos < total:  # preadv may return fewer bytes than asked
        got = os.preadv(fd, [view[pos:]], offset + start * row + pos)
        if got <= 0:
            raise OSError(f"{w.filename}: unexpected end of file reading windows {start}-{stop}")
        pos += got
