"""Running a trained detector over recordings: windows -> per-window seizure probabilities.

Streaming. A recording is never loaded whole: it is cut into *sequences* of ``L`` consecutive
windows (``L`` = the sequence length the model was trained on, ``train.sequence_windows``,
unless ``evaluate.sequence_windows`` says otherwise) and sequences from consecutive recordings
are packed into batches of ``batch_sequences``; each batch is gathered from the (memory-mapped)
window arrays by background threads into a (pinned, on CUDA) buffer while the previous batch
runs on the device. Memory use is a few batches whatever the recordings' lengths.

Overlap rather than a carried state. The detectors are bidirectional, so a recurrent state
cannot be carried from one chunk to the next; instead consecutive sequences overlap by
``2 * C`` windows (``C = evaluate.context_windows``) and each window's probability is taken
from the sequence where it has at least ``C`` windows of context on both sides (the recording's
first and last windows excepted). Every window is predicted exactly once. ``C = 0`` (default)
tiles the recording with independent sequences exactly as the model saw them in training and
costs nothing extra; ``C > 0`` costs ``L / (L - 2C)`` times the compute. The last sequence of a
recording is its last ``L`` windows (so every sequence has length ``L`` and a compiled model
sees one shape); a recording shorter than ``L`` windows runs as one shorter sequence.

Speed. Batch-norm layers that follow a convolution are folded into it (exact up to float
rounding). The forward pass runs under bf16 autocast (``evaluate.amp``) on CUDA and on CPUs
with native bf16 arithmetic (AVX512-BF16 or AMX; about 2x faster there than fp32, with
probabilities within ~1e-3 of fp32); on CUDA the encoder is compiled by default
(``evaluate.compile``), and the last, partial batch is zero-padded to the full batch so that
the compiled graph is reused. On CUDA the results of a batch are copied back asynchronously
while the next batch is launched.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = [
    "DEFAULT_BATCH_SEQUENCES",
    "Predictor",
    "cpu_has_bf16",
    "fold_batchnorm",
    "plan_sequences",
    "resolve_device",
]

#: Sequences per batch when none is configured: large batches keep a GPU busy; on a CPU,
#: batches beyond a few dozen sequences only add memory traffic.
DEFAULT_BATCH_SEQUENCES = {"cuda": 1024, "cpu": 32}


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` into a :class:`torch.device`.

    Raises
    ------
    ValueError
        On an unknown name, or ``cuda`` when no CUDA device is available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"Invalid value for 'device': {name!r} was asked for but no CUDA device is "
                "available; use --device cpu or auto"
            )
        return torch.device(name)
    raise ValueError(
        f"Invalid value for 'device': allowed 'auto', 'cpu', 'cuda', 'cuda:N', got {name!r} instead"
    )


def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (oneDNN: AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` for inference with each ``Conv -> BatchNorm`` pair of an
    ``nn.Sequential`` folded into one convolution (the batch norm becomes ``Identity``).

    Only batch norms in eval mode with running statistics are folded; the output equals the
    original's up to float rounding. The copy's state-dict keys differ: do not save it.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    convs = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if not isinstance(module, torch.nn.Sequential):
            continue
        children = list(module._modules.items())
        for (name_a, a), (name_b, b) in zip(children, children[1:]):
            if (
                isinstance(a, convs)
                and isinstance(b, norms)
                and b.track_running_stats
                and b.running_mean is not None
                and a.out_channels == b.num_features
            ):
                module._modules[name_a] = fuse_conv_bn_eval(a, b)
                module._modules[name_b] = torch.nn.Identity()
    return model


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
    if n_windows <= 0:
        return np.zeros((0, 3), dtype=np.int64)
    if n_windows <= L:
        return np.array([[0, 0, n_windows]], dtype=np.int64)
    hop = L - 2 * C
    rows = []
    start, kept = 0, 0
    while start + L < n_windows:
        rows.append([start, kept, start + L - C])
        kept = start + L - C
        start += hop
    rows.append([n_windows - L, kept, n_windows])
    return np.asarray(rows, dtype=np.int64)


@dataclass
class _Recording:
    key: Any
    windows: np.ndarray
    probs: np.ndarray
    remaining: int
    fd: int | None = None  # open file of a memory-mapped windows array (pread fast path)
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
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class _Batch:
    # (recording, start, keep_lo, keep_hi) per sequence
    items: list[tuple[_Recording, int, int, int]] = field(default_factory=list)
    length: int = 0  # sequence length of this batch


class Predictor:
    """Batched, streaming inference of a detector over many recordings.

    Parameters
    ----------
    model : torch.nn.Module
        ``forward(x)`` maps ``(batch, T, *window_shape)`` float tensors to logits ``(batch, T)``.
    sequence_windows : int
        Sequence length ``L`` in windows (the training length).
    context_windows : int
        Context ``C`` discarded on each side of a sequence (see the module docstring).
    batch_sequences : int or None
        Sequences per batch (None: :data:`DEFAULT_BATCH_SEQUENCES` of the device type).
    device : str or torch.device
        ``auto``, ``cpu``, ``cuda``...
    amp : bool
        bf16 autocast on CUDA and on CPUs with native bf16 (:func:`cpu_has_bf16`).
    compile : {'auto', 'always', 'never'}
        ``torch.compile`` the model (``auto``: on CUDA only).
    workers : int, optional
        Threads gathering batches (default: 4 on CUDA, 1 on CPU).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        sequence_windows: int,
        context_windows: int = 0,
        batch_sequences: int | None = None,
        device: str | torch.device = "auto",
        amp: bool = True,
        compile: str = "auto",
        workers: int | None = None,
    ) -> None:
        plan_sequences(1, sequence_windows, context_windows)  # validates L and C
        self.device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        self.sequence_windows = int(sequence_windows)
        self.context_windows = int(context_windows)
        self.cuda = self.device.type == "cuda"
        if batch_sequences is None:
            batch_sequences = DEFAULT_BATCH_SEQUENCES["cuda" if self.cuda else "cpu"]
        self.batch_sequences = int(batch_sequences)
        self.amp = bool(amp) and (self.cuda or cpu_has_bf16())
        self.eager = fold_batchnorm(model).to(self.device)
        self.model = self.eager
        if compile == "always" or (compile == "auto" and self.cuda):
            if hasattr(self.eager, "compile_encoder"):
                # the registry's detectors: compile the convolutional encoder in place (the
                # recurrent part runs cuDNN kernels that torch.compile would not speed up)
                self.eager.compile_encoder()
            else:
                self.model = torch.compile(self.eager)
        self.workers = (
            workers if workers is not None else (min(4, os.cpu_count() or 1) if self.cuda else 1)
        )

    # ------------------------------------------------------------------ public API

    def predict(
        self,
        recordings: Iterable[tuple[Any, np.ndarray]],
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[Any, np.ndarray]]:
        """Yield ``(key, probabilities)`` for each ``(key, windows)``, in input order.

        Parameters
        ----------
        recordings : iterable of (key, ndarray)
            ``windows`` of shape ``(n_windows, *window_shape)`` (memory-mapped arrays are read
            batch by batch); the iterable is consumed lazily.
        progress : callable, optional
            Called with the number of windows each finished batch predicted.

        Yields
        ------
        key, ndarray of float32, shape (n_windows,)
            Seizure probability of each window, in [0, 1].
        """
        pending: collections.deque[_Recording] = collections.deque()
        batches = self._batches(recordings, pending)
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.workers) as pool:
            inflight: collections.deque = collections.deque()
            exhausted = False
            launched = None  # the batch running on the device, finished one step later
            try:
                while True:
                    while not exhausted and len(inflight) < self.workers + 1:
                        batch = next(batches, None)
                        if batch is None:
                            exhausted = True
                            break
                        inflight.append((batch, pool.submit(self._gather, batch)))
                    current = None
                    if inflight:
                        batch, future = inflight.popleft()
                        current = self._launch(future.result(), batch)
                    if launched is not None:
                        self._finish(launched, progress)
                    launched = current
                    while pending and pending[0].remaining == 0:
                        rec = pending.popleft()
                        rec.close()
                        yield rec.key, rec.probs
                    if launched is None and not inflight and exhausted:
                        break
            finally:
                for future in (f for _, f in inflight):
                    future.cancel()
                for rec in pending:
                    rec.close()

    def predict_one(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities of one recording's windows, shape ``(n_windows,)`` float32."""
        return next(iter(self.predict([(None, windows)])))[1]

    # ------------------------------------------------------------------ internals

    def _batches(
        self, recordings: Iterable[tuple[Any, np.ndarray]], pending: collections.deque
    ) -> Iterator[_Batch]:
        L, B = self.sequence_windows, self.batch_sequences
        batch = _Batch(length=L)
        for key, windows in recordings:
            n = len(windows)
            plan = plan_sequences(n, L, self.context_windows)
            rec = _Recording(key, windows, np.zeros(n, dtype=np.float32), len(plan))
            pending.append(rec)
            if 0 < n < L:  # a short recording runs alone, as one shorter sequence
                if batch.items:
                    yield batch
                    batch = _Batch(length=L)
                yield _Batch([(rec, 0, 0, n)], length=n)
                continue
            for start, lo, hi in plan:
                batch.items.append((rec, int(start), int(lo), int(hi)))
                if len(batch.items) == B:
                    yield batch
                    batch = _Batch(length=L)
        if batch.items:
            yield batch

    def _gather(self, batch: _Batch) -> torch.Tensor:
        """Copy a batch's sequences into one (pinned) host tensor, zero-padding to full size.

        Consecutive sequences that are contiguous in their recording (the usual case:
        ``C = 0`` tiles a recording) are copied as one run; runs of a memory-mapped ``.npy``
        are read with ``os.preadv`` straight into the buffer (no page-table work, no GIL).
        """
        first = batch.items[0][0].windows
        L = batch.length
        rows = self.batch_sequences if L == self.sequence_windows else 1
        dtype = first.dtype if first.dtype in _TORCH_DTYPES else np.dtype(np.float32)
        host = torch.empty(
            (rows, L, *first.shape[1:]), dtype=_TORCH_DTYPES[dtype], pin_memory=self.cuda
        )
        out = host.numpy()
        i, n = 0, len(batch.items)
        while i < n:
            rec, start, _, _ = batch.items[i]
            j = i + 1
            while (
                j < n
                and batch.items[j][0] is rec
                and batch.items[j][1] == batch.items[j - 1][1] + L
            ):
                j += 1
            stop = batch.items[j - 1][1] + L
            dest = out[i:j].reshape(-1, *out.shape[2:])
            _copy_windows(rec, start, stop, dest)
            i = j
        if n < rows:
            out[n:] = 0
        return host

    def _launch(self, host: torch.Tensor, batch: _Batch) -> tuple:
        """Start a batch on the device; on CUDA the result comes back asynchronously."""
        with torch.inference_mode():
            x = host.to(self.device, non_blocking=True)
            x = x.float()  # float16/int16 storage -> float32 (autocast casts again per op)
            model = self.model if batch.length == self.sequence_windows else self.eager
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                logits = model(x)
            probs = torch.sigmoid(logits.float())
            if not self.cuda:
                return batch, probs, None, host
            out = torch.empty(probs.shape, dtype=torch.float32, pin_memory=True)
            out.copy_(probs, non_blocking=True)
            done = torch.cuda.Event()
            done.record()
            return batch, out, done, host

    def _finish(self, launched: tuple, progress: Callable[[int], None] | None) -> None:
        """Wait for a launched batch and scatter its probabilities to their recordings."""
        batch, out, done, _host = launched
        if done is not None:
            done.synchronize()
        probs = out.numpy()
        count = 0
        for i, (rec, start, lo, hi) in enumerate(batch.items):
            rec.probs[lo:hi] = probs[i, lo - start : hi - start]
            rec.remaining -= 1
            count += hi - lo
        if progress is not None:
            progress(count)


def _copy_windows(rec: _Recording, start: int, stop: int, dest: np.ndarray) -> None:
    """``dest[:] = rec.windows[start:stop]``, by ``preadv`` when the windows are a file."""
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


_TORCH_DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float16): torch.float16,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.float64): torch.float32,
}
