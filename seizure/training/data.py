"""Feeding the model from the cache: sequence plans and three feeders.

Training samples are sequences of ``T = train.sequence_windows`` consecutive windows of one
recording with their per-window labels. Every epoch each recording is cut into
non-overlapping tiles of ``T`` windows (``sequence_sampling='tile'``: starting at window 0;
``'random_offset'``: shifted by a random offset in ``[0, T)`` per recording and epoch), the
tiles are shuffled, and consecutive groups of ``batch_size * world_size`` form global batches,
rank ``r`` taking the ``r``-th slice of each. A last incomplete global batch is dropped so
every batch has the same shape (good for ``torch.compile``) and every rank takes the same
number of steps. The plan of an epoch is a pure function of ``(seed, epoch)``, which is what
makes an interrupted and resumed run identical to an uninterrupted one.

Feeders turn a plan into device tensors ``x`` (stored dtype, shape ``(B, T, *window_shape)``)
and ``y`` (uint8, ``(B, T)``); the loop converts ``x`` to float on the device:

- :class:`ResidentFeeder` copies the whole split to the device once, in its stored dtype,
  and gathers sequences there (the fastest when it fits);
- :class:`ThreadFeeder` gathers contiguous sequences from the memory-mapped cache into
  pinned buffers in a background thread (with a pool of copy threads: numpy releases the GIL
  while copying) and copies them with ``non_blocking=True``;
- :class:`LoaderFeeder` is the plain way: a per-sequence :class:`SequenceDataset` and a
  ``torch.utils.data.DataLoader`` with worker processes.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seizure.inference.plan import plan_sequences
from seizure.training.errors import TrainingDataError
from seizure.utils.errors import invalid_value

__all__ = [
    "EvalPlan",
    "LoaderFeeder",
    "Plan",
    "ResidentFeeder",
    "SequenceDataset",
    "SplitData",
    "ThreadFeeder",
    "check_cache_matches",
    "eval_plan",
    "make_feeder",
    "open_cache",
    "train_plan",
]


# ------------------------------------------------------------------------------ the cache


def open_cache(path: str | Path) -> Any:
    """Open the cache at ``path`` with ``seizure.preprocessing.cache.Cache``."""
    from seizure.preprocessing.cache import Cache

    return Cache(path)


def check_cache_matches(cache: Any, preprocess: Any) -> None:
    """Refuse a cache whose preprocessing differs from the config's ``preprocess`` section.

    Raises
    ------
    TrainingDataError
        Naming each differing key with the cache's and the config's value.
    """
    from seizure.config import fingerprint, to_dict

    expected = fingerprint(preprocess)
    if cache.fingerprint == expected:
        return
    have = to_dict(cache.config)
    want = to_dict(preprocess)
    diffs = [
        f"{k}: cache {have.get(k, '<absent>')!r}, config {want.get(k, '<absent>')!r}"
        for k in sorted(set(have) | set(want))
        if have.get(k, "<absent>") != want.get(k, "<absent>")
    ]
    where = getattr(cache, "path", None) or getattr(cache, "root", None) or "the cache"
    detail = "; ".join(diffs) if diffs else "same values, different fingerprint (format change?)"
    raise TrainingDataError(
        f"{where}: the cache was made with other preprocessing than the config expects "
        f"(preprocess fingerprint {cache.fingerprint} != {expected}): {detail}. "
        "Train with the preprocess section the cache was made with, or re-run "
        "'seizure preprocess' with this config."
    )


@dataclass
class SplitData:
    """The recordings of one split: memory-mapped windows and labels, in cache order.

    Attributes
    ----------
    ids : list of str
        Recording ids.
    windows : list of numpy.ndarray
        Per recording, shape ``(n_windows, *window_shape)``, the cache's dtype (memory-mapped).
    labels : list of numpy.ndarray
        Per recording, uint8, shape ``(n_windows,)``.
    window_shape : tuple of int
    """

    ids: list[str]
    windows: list[np.ndarray]
    labels: list[np.ndarray]
    window_shape: tuple[int, ...]

    @classmethod
    def from_cache(cls, cache: Any, split: str) -> SplitData:
        """Gather the recordings of ``split`` (``train``, ``dev``, ``eval``) from a cache."""
        records = cache.split(split)
        ids = [r.recording_id for r in records]
        windows = [cache.windows(i) for i in ids]
        labels = [np.asarray(cache.labels(i), dtype=np.uint8) for i in ids]
        shape = tuple(int(s) for s in cache.window_shape)
        for rid, w, y in zip(ids, windows, labels):
            if tuple(w.shape[1:]) != shape or len(w) != len(y):
                raise TrainingDataError(
                    f"recording {rid!r} in the cache: windows {tuple(w.shape)} and labels "
                    f"{tuple(y.shape)} do not match the window shape {shape}"
                )
        return cls(ids, windows, labels, shape)

    @property
    def lengths(self) -> np.ndarray:
        """Windows per recording, int64."""
        return np.array([len(y) for y in self.labels], dtype=np.int64)

    @property
    def dtype(self) -> np.dtype:
        """Storage dtype of the windows (float32 for an empty split)."""
        return self.windows[0].dtype if self.windows else np.dtype(np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes of all windows in their stored dtype."""
        return int(sum(w.nbytes for w in self.windows))

    def n_windows(self) -> int:
        """Windows in the split."""
        return int(self.lengths.sum())

    def n_ictal(self) -> int:
        """Ictal windows in the split."""
        return int(sum(int(y.sum()) for y in self.labels))


# ------------------------------------------------------------------------------- plans


@dataclass
class Plan:
    """Sequences ``(recording index, first window)`` split into equal batches.

    ``batch(i)`` is this rank's ``i``-th batch: arrays of ``batch_size`` recording indices
    and start windows.
    """

    rec: np.ndarray
    start: np.ndarray
    batch_size: int
    rank: int = 0
    world_size: int = 1

    def __len__(self) -> int:
        return len(self.rec) // (self.batch_size * self.world_size)

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Return this rank's recording indices and start windows of batch ``i``."""
        g = self.batch_size * self.world_size
        lo = i * g + self.rank * self.batch_size
        return self.rec[lo : lo + self.batch_size], self.start[lo : lo + self.batch_size]


def tile_starts(lengths: np.ndarray, T: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping tiles of ``T`` windows of each recording, from its offset on."""
    n_tiles = np.maximum(0, (lengths - offsets) // T)
    rec = np.repeat(np.arange(len(lengths)), n_tiles)
    first = np.repeat(offsets, n_tiles)
    k = np.arange(len(rec)) - np.repeat(np.cumsum(n_tiles) - n_tiles, n_tiles)
    return rec.astype(np.int64), (first + k * T).astype(np.int64)


def sequence_has_seizure(data: SplitData, rec: np.ndarray, start: np.ndarray, T: int) -> np.ndarray:
    """Whether each sequence holds at least one ictal window (boolean array)."""
    out = np.zeros(len(rec), dtype=bool)
    for r in np.unique(rec):
        sel = np.flatnonzero(rec == r)
        csum = np.r_[0, np.cumsum(data.labels[r], dtype=np.int64)]
        out[sel] = (csum[start[sel] + T] - csum[start[sel]]) > 0
    return out


def train_plan(
    data: SplitData,
    T: int,
    batch_size: int,
    seed: int,
    epoch: int,
    sampling: str = "random_offset",
    oversample_fraction: float | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> Plan:
    """Return the shuffled sequences of one training epoch (see the module docstring).

    Parameters
    ----------
    data : SplitData
    T : int
        Windows per sequence.
    batch_size : int
        Sequences per batch per rank.
    seed, epoch : int
        The plan is a pure function of these (and of the data and settings).
    sampling : {'random_offset', 'tile'}
    oversample_fraction : float or None
        When set, sequences holding a seizure are repeated (drawn with replacement) until
        they are this fraction of the epoch; every sequence still appears at least once.
    rank, world_size : int
        This process's shard.
    """
    rng = np.random.default_rng([seed, epoch, 7919])
    lengths = data.lengths
    if sampling == "tile":
        offsets = np.zeros(len(lengths), dtype=np.int64)
    elif sampling == "random_offset":
        offsets = rng.integers(0, T, size=len(lengths))
        # a recording shorter than T + offset still gets a tile when it can hold one
        offsets = np.where(lengths - offsets >= T, offsets, 0)
    else:
        raise invalid_value("train.sequence_sampling", sampling, ("random_offset", "tile"))
    rec, start = tile_starts(lengths, T, offsets)
    if oversample_fraction is not None and len(rec):
        pos = np.flatnonzero(sequence_has_seizure(data, rec, start, T))
        n, n_pos = len(rec), len(pos)
        if 0 < n_pos < oversample_fraction * n:
            n_extra = math.ceil((oversample_fraction * n - n_pos) / (1.0 - oversample_fraction))
            extra = rng.choice(pos, size=n_extra, replace=True)
            rec = np.concatenate([rec, rec[extra]])
            start = np.concatenate([start, start[extra]])
    order = rng.permutation(len(rec))
    return Plan(rec[order], start[order], batch_size, rank, world_size)


@dataclass
class EvalPlan:
    """Sequences that cover every window of a split exactly once in the kept outputs.

    The tiling is the inference engine's (:func:`seizure.inference.plan.plan_sequences`
    without context): each recording of ``n >= T`` windows is tiled from window 0; when ``n``
    is not a multiple of ``T`` one more sequence ends at the last window and only its last
    ``n % T`` outputs are kept (``keep_from``). Recordings shorter than ``T`` are run alone
    (``short``).

    Attributes
    ----------
    rec, start, keep_from : numpy.ndarray
        int64, one entry per sequence: recording index, first window, and the first output
        kept (relative to ``start``); padded to whole batches by repeating the last sequence.
    short : list of int
        Recordings of ``0 < n < T`` windows.
    batch_size : int
        Sequences per batch.
    """

    rec: np.ndarray
    start: np.ndarray
    keep_from: np.ndarray
    short: list[int]
    batch_size: int

    def __len__(self) -> int:
        return math.ceil(len(self.rec) / self.batch_size)

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Return recording indices and start windows of batch ``i``."""
        lo = i * self.batch_size
        return self.rec[lo : lo + self.batch_size], self.start[lo : lo + self.batch_size]


def eval_plan(data: SplitData, T: int, batch_size: int) -> EvalPlan:
    """Build the :class:`EvalPlan` of a validation split.

    Parameters
    ----------
    data : SplitData
    T : int
        Windows per sequence.
    batch_size : int
        Sequences per batch.
    """
    lengths = data.lengths
    rows = [plan_sequences(int(n), T) if n >= T else np.zeros((0, 3), np.int64) for n in lengths]
    rec = np.repeat(np.arange(len(lengths), dtype=np.int64), [len(r) for r in rows])
    table = np.concatenate(rows) if rows else np.zeros((0, 3), np.int64)
    start, keep = table[:, 0], table[:, 1] - table[:, 0]
    # pad to whole batches by repeating the last sequence (same shapes for every batch;
    # writing the same outputs twice is harmless)
    pad = -len(rec) % batch_size if len(rec) else 0
    rec, start, keep = (
        np.r_[a, np.repeat(a[-1:], pad)].astype(np.int64) for a in (rec, start, keep)
    )
    short = [int(i) for i in np.flatnonzero((lengths < T) & (lengths > 0))]
    return EvalPlan(rec, start, keep, short, batch_size)


# ------------------------------------------------------------------------------ feeders


def gather_host(
    data: SplitData,
    rec: np.ndarray,
    start: np.ndarray,
    T: int,
    out_x: np.ndarray,
    out_y: np.ndarray,
) -> None:
    """Copy sequences into ``out_x`` ``(B, T, *ws)`` and ``out_y`` ``(B, T)`` (contiguous reads)."""
    for i, (r, s) in enumerate(zip(rec.tolist(), start.tolist())):
        out_x[i] = data.windows[r][s : s + T]
        out_y[i] = data.labels[r][s : s + T]


class ThreadFeeder:
    """Batches gathered from memory-mapped arrays into pinned buffers by a background thread.

    A ring of ``prefetch + 1`` host buffers (pinned when the device is a GPU) is filled ahead
    of the model by one producer thread, which splits each batch between ``num_threads`` copy
    threads. On a GPU each buffer is copied with ``non_blocking=True`` on a side stream one
    batch ahead of the one being yielded (the copy overlaps the model's work on the previous
    batch), and the buffer is refilled only after its copy has finished (a CUDA event); on the
    CPU a buffer is handed back after the step that used it. Iterating yields ``(x, y)`` on
    the device, ``x`` in the stored dtype.
    """

    def __init__(
        self,
        data: SplitData,
        device: torch.device,
        T: int,
        batch_size: int,
        num_threads: int = 4,
        prefetch: int = 3,
    ) -> None:
        self.data = data
        self.device = device
        self.T = T
        self.batch_size = batch_size
        self.num_threads = max(1, num_threads)
        self.n_buffers = max(2, prefetch + 1)
        pin = device.type == "cuda"
        dtype = torch.from_numpy(np.zeros(0, dtype=data.dtype)).dtype
        self._x = [
            torch.empty((batch_size, T, *data.window_shape), dtype=dtype, pin_memory=pin)
            for _ in range(self.n_buffers)
        ]
        self._y = [
            torch.empty((batch_size, T), dtype=torch.uint8, pin_memory=pin)
            for _ in range(self.n_buffers)
        ]
        self._pool = ThreadPoolExecutor(self.num_threads) if self.num_threads > 1 else None

    def _fill(self, slot: int, rec: np.ndarray, start: np.ndarray) -> int:
        n = len(rec)
        x, y = self._x[slot].numpy()[:n], self._y[slot].numpy()[:n]
        if self._pool is None or n < 2 * self.num_threads:
            gather_host(self.data, rec, start, self.T, x, y)
        else:
            bounds = np.linspace(0, n, self.num_threads + 1).astype(int)
            futures = [
                self._pool.submit(
                    gather_host, self.data, rec[a:b], start[a:b], self.T, x[a:b], y[a:b]
                )
                for a, b in zip(bounds[:-1], bounds[1:])
            ]
            for f in futures:
                f.result()
        return n

    def iterate(self, plan: Plan | EvalPlan, first_batch: int = 0) -> Iterator[tuple]:
        """Yield ``(x, y)`` for batches ``first_batch, ..., len(plan) - 1`` of ``plan``."""
        n_batches = len(plan)
        ready: queue.Queue = queue.Queue()
        free: queue.Queue = queue.Queue()
        for s in range(self.n_buffers):
            free.put((s, None))
        stop = threading.Event()

        def produce() -> None:
            try:
                for i in range(first_batch, n_batches):
                    slot, event = free.get()
                    if stop.is_set():
                        return
                    if event is not None:
                        event.synchronize()
                    n = self._fill(slot, *plan.batch(i))
                    ready.put((slot, n))
                ready.put(None)
            except BaseException as err:  # handed to the consumer, re-raised there
                ready.put(err)

        thread = threading.Thread(target=produce, name="seizure-feeder", daemon=True)
        thread.start()
        try:
            if self.device.type == "cuda":
                yield from self._consume_cuda(ready, free)
                return
            while True:
                item = ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                slot, n = item
                # on the CPU the consumer uses the buffer itself: hand it back after the step
                yield self._x[slot][:n], self._y[slot][:n]
                free.put((slot, None))
        finally:
            stop.set()
            free.put((0, None))  # wake the producer if it waits for a buffer
            thread.join()

    def _consume_cuda(self, ready: queue.Queue, free: queue.Queue) -> Iterator[tuple]:
        """Copy each batch on a side stream one batch ahead, so copies overlap compute."""
        copy_stream = torch.cuda.Stream(self.device)
        pending = None
        while True:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            if item is not None:
                slot, n = item
                with torch.cuda.stream(copy_stream):
                    x = self._x[slot][:n].to(self.device, non_blocking=True)
                    y = self._y[slot][:n].to(self.device, non_blocking=True)
                    copied = torch.cuda.Event()
                    copied.record(copy_stream)
                free.put((slot, copied))  # the producer refills the slot once copied
            if pending is not None:
                px, py, event = pending
                compute = torch.cuda.current_stream(self.device)
                compute.wait_event(event)
                px.record_stream(compute)  # not reused before the compute stream is done
                py.record_stream(compute)
                yield px, py
            if item is None:
                return
            pending = (x, y, copied)

    def close(self) -> None:
        """Stop the reader threads."""
        if self._pool is not None:
            self._pool.shutdown()


class ResidentFeeder:
    """The whole split on the device in its stored dtype; sequences gathered there."""

    def __init__(self, data: SplitData, device: torch.device, T: int) -> None:
        self.T = T
        self.device = device
        lengths = data.lengths
        self._offsets_np = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
        total = int(lengths.sum())
        dtype = torch.from_numpy(np.zeros(0, dtype=data.dtype)).dtype
        self.x = torch.empty((total, *data.window_shape), dtype=dtype, device=device)
        self.y = torch.empty((total,), dtype=torch.uint8, device=device)
        pos = 0
        for w, lab in zip(data.windows, data.labels):
            n = len(lab)
            # chunked copies (np.array: memory maps are read-only) keep host memory flat
            for a in range(0, n, 65536):
                b = min(n, a + 65536)
                self.x[pos + a : pos + b].copy_(torch.from_numpy(np.array(w[a:b])))
            self.y[pos : pos + n].copy_(torch.from_numpy(np.array(lab)))
            pos += n
        self._arange = torch.arange(T, device=device)

    def iterate(self, plan: Plan | EvalPlan, first_batch: int = 0) -> Iterator[tuple]:
        """Yield ``(x, y)`` device batches of ``plan`` from ``first_batch`` on."""
        batches = [plan.batch(i) for i in range(first_batch, len(plan))]
        if not batches:
            return
        # first window of every sequence of the epoch, copied to the device once
        firsts = np.stack([self._offsets_np[r] + s for r, s in batches])
        firsts = torch.from_numpy(firsts).to(self.device)
        for j in range(len(batches)):
            index = firsts[j][:, None] + self._arange
            yield self.x[index], self.y[index]

    def close(self) -> None:
        """Free the device copy of the split."""
        del self.x, self.y


class SequenceDataset(torch.utils.data.Dataset):
    """The plain way: item ``i`` is sequence ``i`` of a plan as float32 tensors.

    Returns ``(x, y)`` with ``x`` float32 ``(T, *window_shape)`` and ``y`` uint8 ``(T,)``.
    Worker processes inherit the memory maps through ``fork``.
    """

    def __init__(self, data: SplitData, rec: np.ndarray, start: np.ndarray, T: int) -> None:
        self.data, self.rec, self.start, self.T = data, rec, start, T

    def __len__(self) -> int:
        return len(self.rec)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        r, s = int(self.rec[i]), int(self.start[i])
        x = np.array(self.data.windows[r][s : s + self.T], dtype=np.float32)
        y = np.array(self.data.labels[r][s : s + self.T], dtype=np.uint8)
        return torch.from_numpy(x), torch.from_numpy(y)


class LoaderFeeder:
    """Batches from a ``DataLoader`` over a :class:`SequenceDataset` (the plain way)."""

    def __init__(self, data: SplitData, device: torch.device, T: int, num_workers: int = 4) -> None:
        self.data, self.device, self.T, self.num_workers = data, device, T, num_workers

    def iterate(self, plan: Plan | EvalPlan, first_batch: int = 0) -> Iterator[tuple]:
        """Yield ``(x, y)`` device batches of ``plan`` from ``first_batch`` on."""
        # this rank's sequences, in order, from the first batch on
        idx = [plan.batch(i) for i in range(first_batch, len(plan))]
        if not idx:
            return
        rec = np.concatenate([r for r, _ in idx])
        start = np.concatenate([s for _, s in idx])
        loader = torch.utils.data.DataLoader(
            SequenceDataset(self.data, rec, start, self.T),
            batch_size=plan.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=2 if self.num_workers > 0 else None,
        )
        for x, y in loader:
            yield (
                x.to(self.device, non_blocking=True),
                y.to(self.device, non_blocking=True),
            )

    def close(self) -> None:
        """Do nothing: the loader's workers end with their iterator."""
        pass


def make_feeder(
    kind: str,
    data: SplitData,
    device: torch.device,
    T: int,
    batch_size: int,
    num_workers: int = 4,
    prefetch: int = 3,
    resident_fraction: float = 0.5,
) -> tuple[ThreadFeeder | ResidentFeeder | LoaderFeeder, str]:
    """Build the feeder ``kind`` (resolving ``auto``); returns it and the resolved kind."""
    if kind == "auto":
        kind = "threads"
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if data.nbytes + 2 * data.n_windows() < resident_fraction * free:
                kind = "gpu"
    if kind == "gpu":
        return ResidentFeeder(data, device, T), kind
    if kind == "threads":
        return ThreadFeeder(data, device, T, batch_size, num_workers, prefetch), kind
    if kind == "dataloader":
        return LoaderFeeder(data, device, T, num_workers), kind
    raise invalid_value("train.feeder", kind, ("auto", "gpu", "threads", "dataloader"))


def to_float(x: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Convert stored windows (int16, float16, float32) to float32 times ``scale``, same device."""
    x = x.float()
    if scale is not None and scale != 1.0:
        x = x * scale
    return x


def count_windows(plan: Plan, T: int) -> int:
    """Windows this rank trains on in one pass over ``plan``."""
    return len(plan) * plan.batch_size * T
