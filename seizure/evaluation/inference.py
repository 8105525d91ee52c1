"""Running a trained detector over recordings: windows -> per-window seizure probabilities.

Streaming. A recording is never loaded whole: it is cut into *sequences* of ``L`` consecutive
windows (``L`` = the sequence length the model was trained on, ``train.sequence_windows``,
unless ``evaluate.sequence_windows`` says otherwise) and sequences from consecutive recordings
are packed into batches of ``batch_sequences``. Memory use is a few batches whatever the
recordings' lengths.

Overlap rather than a carried state. The detectors are bidirectional, so a recurrent state
cannot be carried from one chunk to the next; instead consecutive sequences overlap by
``2 * C`` windows (``C = evaluate.context_windows``) and each window's probability is taken
from the sequence where it has at least ``C`` windows of context on both sides (the recording's
first and last windows excepted). Every window is predicted exactly once. ``C = 0`` (default)
tiles the recording with independent sequences exactly as the model saw them in training and
costs nothing extra; ``C > 0`` costs ``L / (L - 2C)`` times the compute. The last sequence of a
recording is its last ``L`` windows (so every sequence has length ``L`` and a compiled model
sees one shape); a recording shorter than ``L`` windows runs as one shorter sequence.

Feeding (the ``stream`` pipeline, the default). 2M windows/s of 22 x 256 float16 windows is
22.5 GB/s of input, so the host side must only ever do large sequential copies:

* a batch is described by *pieces*: runs of consecutive sequences that are contiguous in one
  recording (with ``C = 0`` a whole recording but its last, partial tile is one piece, so
  reshaping its windows ``(k * L, ...)`` to ``(k, L, ...)`` costs nothing);
* a fixed ring of ``prefetch`` host buffers (pinned on CUDA, allocated once per predictor) is
  filled by ``reader_threads`` threads; each batch is split into about ``reader_threads``
  tasks of equal bytes (at least 4 MiB each: a task costs ~20 us of Python, a 4 MiB copy
  from the page cache ~0.8 ms at the 5 GB/s one thread reached on a dev machine), and each
  task reads its pieces with ``os.preadv`` straight from the ``.npy`` file into the buffer
  (one system call per piece, no page-table work, the GIL released) or, for in-memory
  arrays, with one ``np.copyto``;
* on CUDA each buffer is copied to one of three device buffers on a side stream
  (``non_blocking``, :class:`~seizure.evaluation.streams.CudaQueues`), overlapping the
  model's work on earlier batches. A batch's copy is queued as soon as its reads are done,
  up to three batches ahead of the model and *before* the model of an earlier batch is
  launched. (With each copy queued right before its model, the H100 run of
  ``benchmarks/bench_inference.py`` showed copies and model adding up: 0.49 s + 0.50 s of
  device time in a 1.10 s run. A likely cause: a copy queued behind the previous model's
  hundreds of kernel launches reached the device only once the host had got through them.
  Whether queueing ahead fixes it is for the next GPU run to show: ``device busy`` and
  ``H2D under compute`` in :attr:`Predictor.stats` measure it.) A host buffer is refilled only
  once its copy has finished (the reader tasks wait for a CUDA event with blocking sync, so
  waiting threads sleep rather than spin), and a device buffer only once the model has
  converted it to float32 (float32 windows are used in place: once the model has run).
  The tests run this ordering with the two queues emulated by
  threads that run late (:class:`~seizure.evaluation.streams.EmulatedQueues`): a missing
  wait corrupts their results;
* the last, partial batch is zero-padded *on the device* (no host memset, no copy of padding)
  so that the compiled graph is reused;
* probabilities are copied back into a pinned ring asynchronously; a launched batch is
  finished (its probabilities scattered to their recordings, one slice per piece) once its
  event has completed, at most ``3`` batches being in flight, so the host never waits for the
  device while it could be queueing work.

:attr:`Predictor.stats` (:class:`InferenceStats`) says where the time of the last
:meth:`Predictor.predict` went. The previous implementation (one gathering thread per batch,
per-batch pinned allocations, copies on the compute stream) is kept as ``pipeline='simple'``:
a fallback and a reference.

Speed. Batch-norm layers that follow a convolution are folded into it (exact up to float
rounding). The forward pass runs under bf16 autocast (``evaluate.amp``) on CUDA and on CPUs
with native bf16 arithmetic (AVX512-BF16 or AMX; about 2x faster there than fp32, with
probabilities within ~1e-3 of fp32); on CUDA the encoder is compiled by default
(``evaluate.compile``). With ``evaluate.cuda_graphs`` the model of full batches is captured
once as a CUDA graph, fed by a device-to-device copy into its static input (one launch per
batch instead of hundreds; checked against the model at capture, the normal path on any
failure).
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import math
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from seizure.evaluation.streams import CudaQueues, EmulatedQueues

__all__ = [
    "DEFAULT_BATCH_SEQUENCES",
    "InferenceStats",
    "PIPELINES",
    "Predictor",
    "SMALL_GPU_BATCH_SEQUENCES",
    "cpu_has_bf16",
    "default_batch_sequences",
    "default_reader_threads",
    "fold_batchnorm",
    "plan_sequences",
    "resolve_device",
]

#: Sequences per batch when none is configured. CUDA: 2048 x 30 windows (61,440 windows,
#: 692 MB of float16) per batch: the 2-layer BiLSTM's cost per batch is a chain of 30 small
#: steps nearly independent of the batch size, and the host's per-batch Python (launching the
#: compiled encoder, the LSTM, copies) is ~1-2 ms, so doubling the previous 1024 halves both
#: overheads for ~3 GB more device memory; GPUs with less than 32 GiB keep 1024
#: (:data:`SMALL_GPU_BATCH_SEQUENCES`). CPU: batches beyond a few dozen sequences only add
#: memory traffic.
DEFAULT_BATCH_SEQUENCES = {"cuda": 2048, "cpu": 32}
SMALL_GPU_BATCH_SEQUENCES = 1024

#: Inference pipelines: ``stream`` (ring of pinned buffers filled by reader threads, side-stream
#: copies) and ``simple`` (the previous implementation, kept as a fallback).
PIPELINES = ("stream", "simple")

#: A reader task copies at least this much: submitting a task and collecting its result
#: cost 11 us on a 2-core dev machine (plus ~10 us in the task), a 4 MiB ``preadv`` from the
#: page cache ~0.8 ms (5.2 GB/s per thread there), so the overhead stays under 3 %.
_MIN_TASK_BYTES = 4 << 20

#: Launched batches whose results may still be on their way back before the host waits.
_MAX_LAUNCHED = 3

#: Device input buffers of the staged pipeline: copies are queued up to this many batches
#: ahead of the model (3 x 692 MB at the CUDA default batch).
_DEVICE_BUFFERS = 3

#: Batches whose device timeline (:attr:`InferenceStats.timeline`) is kept.
_TIMELINE_ROWS = 64


def default_reader_threads() -> int:
    """``min(16, usable CPUs)``: threads reading windows into the host buffers.

    Page-cache copies run at a few GB/s per thread, so 22.5 GB/s (2M windows/s) needs about
    8-16 threads; the threads release the GIL while copying and sleep when there is nothing to
    read, so on a small CPU machine (where the model, not the reading, is the bottleneck) the
    extra threads cost nothing.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(16, cpus))


def default_batch_sequences(device: torch.device) -> int:
    """Sequences per batch when none is configured (see :data:`DEFAULT_BATCH_SEQUENCES`)."""
    if device.type != "cuda":
        return DEFAULT_BATCH_SEQUENCES["cpu"]
    try:
        memory = torch.cuda.get_device_properties(device).total_memory
    except (RuntimeError, AssertionError, ValueError):  # pragma: no cover - odd devices
        return SMALL_GPU_BATCH_SEQUENCES
    return DEFAULT_BATCH_SEQUENCES["cuda"] if memory >= 32 << 30 else SMALL_GPU_BATCH_SEQUENCES


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


def _runs(plan: np.ndarray, L: int) -> list[tuple[int, int, int, int]]:
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
class InferenceStats:
    """Where the time of one :meth:`Predictor.predict` went.

    Seconds unless said otherwise. ``*_device_s`` are device time measured with CUDA events
    (on the CPU, the wall time of the same step); the others are host wall time. Threads
    overlap, so the figures do not add up to ``wall_s``: compare each with it. With the
    ``simple`` pipeline only the totals are filled.

    Attributes
    ----------
    pipeline, device : str
    reader_threads, batch_sequences, prefetch : int
    batches : int
        Batches run.
    windows : int
        Windows predicted (kept).
    model_windows : int
        Windows the model ran over (padding of the last batch and overlap included).
    bytes_read : int
        Bytes copied from the recordings into the host buffers.
    wall_s : float
        From the first request for a result to the last result.
    plan_s : float
        Main thread: planning batches and handing reads to the reader threads.
    wait_input_s : float
        Main thread: waiting for the reader threads (the input was late).
    read_s : float
        Reader threads: copying (summed over threads; ``bytes_read / read_s`` is the copy rate
        of one thread).
    read_blocked_s : float
        Reader threads: waiting for a host buffer's previous copy to the device (summed).
    launch_s : float
        Main thread: queueing copies, the model and the copy back (on the CPU: running the
        model).
    h2d_device_s, model_device_s, copy_back_device_s : float
        Device time of the host-to-device copies, the model (with the float conversion and
        the sigmoid) and the copies back.
    wait_output_s : float
        Main thread: waiting for the device's results (the device was late, or is draining).
    scatter_s : float
        Main thread: putting probabilities into their recordings.
    consumer_s : float
        Time the caller of :meth:`Predictor.predict` spent between results (e.g. handing
        recordings to the writers).
    write_s : float
        Writers (processes or threads): saving, post-processing and writing files (summed,
        as the writers measured them; filled by :func:`seizure.evaluation.evaluate.infer_records`).
    write_tail_s : float
        After the last result: waiting for the writers (``infer_records``).
    device_span_s : float
        Staged: from the first copy's start to the last result on the host (device clock).
    device_busy_s : float
        Staged: time within the span when a copy or a model was running; the rest the
        device waited for the host.
    h2d_hidden_s : float
        Staged: copy time during which a model was running (``h2d_device_s`` minus this is
        copy time that held the model up).
    timeline : list of [float, float, float, float, float]
        Staged: for the first 64 batches, milliseconds since the first batch was planned at
        which its copy started and ended, its model started and ended, and its results were
        on the host.
    """

    pipeline: str = ""
    device: str = ""
    reader_threads: int = 0
    batch_sequences: int = 0
    prefetch: int = 0
    batches: int = 0
    windows: int = 0
    model_windows: int = 0
    bytes_read: int = 0
    wall_s: float = 0.0
    plan_s: float = 0.0
    wait_input_s: float = 0.0
    read_s: float = 0.0
    read_blocked_s: float = 0.0
    launch_s: float = 0.0
    h2d_device_s: float = 0.0
    model_device_s: float = 0.0
    copy_back_device_s: float = 0.0
    wait_output_s: float = 0.0
    scatter_s: float = 0.0
    consumer_s: float = 0.0
    write_s: float = 0.0
    write_tail_s: float = 0.0
    device_span_s: float = 0.0
    device_busy_s: float = 0.0
    h2d_hidden_s: float = 0.0
    timeline: list[list[float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields, seconds rounded to 0.1 ms (for JSON)."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def summary(self) -> str:
        """A few lines: each stage's time and its share of the wall time."""
        wall = max(self.wall_s, 1e-9)

        def part(name: str, seconds: float, note: str = "") -> str:
            return f"  {name:<22} {seconds:8.3f} s  {100 * seconds / wall:6.1f} %{note}"

        gbs = self.bytes_read / 1e9
        rate = f" ({gbs / self.read_s:.2f} GB/s per thread)" if self.read_s > 0 else ""
        lines = [
            f"stages ({self.pipeline} pipeline on {self.device}: {self.batches} batches of "
            f"{self.batch_sequences} sequences, {self.reader_threads} reader threads, "
            f"{self.prefetch} host buffers; {self.windows:,} windows, {gbs:.2f} GB read, "
            f"{self.model_windows:,} windows through the model):",
            part("wall", self.wall_s, f"  = {self.windows / wall:,.0f} windows/s"),
            part("plan + submit reads", self.plan_s),
            part("wait for input", self.wait_input_s, "  (main thread idle: readers late)"),
            part("read (sum/threads)", self.read_s / max(1, self.reader_threads), rate),
            part("read blocked (sum/thr)", self.read_blocked_s / max(1, self.reader_threads)),
            part("launch (host)", self.launch_s),
            part("H2D (device)", self.h2d_device_s),
            part("model (device)", self.model_device_s),
            part("copy back (device)", self.copy_back_device_s),
            part("device span", self.device_span_s, "  (first copy to last result)"),
            part("device busy", self.device_busy_s, "  (copy or model running)"),
            part("H2D under compute", self.h2d_hidden_s, "  (copy time hidden by a model)"),
            part("wait for output", self.wait_output_s, "  (main thread idle: device busy)"),
            part("scatter", self.scatter_s),
            part("consumer", self.consumer_s),
            part("post+write (sum)", self.write_s, "  (writers, summed)"),
            part("write tail", self.write_tail_s, "  (after the last batch)"),
        ]
        return "\n".join(lines)


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
    # (recording, start, keep_lo, keep_hi) per sequence (the simple pipeline)
    items: list[tuple[_Recording, int, int, int]] = field(default_factory=list)
    length: int = 0  # sequence length of this batch


@dataclass
class _StreamBatch:
    """Rows ``[row_lo, row_hi)`` of a batch hold windows ``[start, start + (row_hi - row_lo)
    * length)`` of a recording and supply the probabilities of its windows ``[lo, hi)``."""

    # (recording, row_lo, row_hi, start, lo, hi) per piece
    pieces: list[tuple[_Recording, int, int, int, int, int]] = field(default_factory=list)
    rows: int = 0
    length: int = 0


@dataclass
class _Ring:
    """Buffers of the stream pipeline, allocated once per predictor and window format."""

    key: tuple
    host: list[torch.Tensor]  # (capacity, *window_shape), storage dtype, pinned on CUDA
    host_np: list[np.ndarray]
    h2d_done: list[Any]  # per host buffer: end event of its last copy to the device
    dev: list[torch.Tensor] = field(default_factory=list)  # staged: device input buffers
    consumed: list[Any] = field(default_factory=list)  # per device buffer: its batch converted
    out: list[torch.Tensor] = field(default_factory=list)  # staged: (capacity,) float32
    queues: Any = None  # staged: the predictor's CudaQueues or EmulatedQueues
    copies: int = 0  # copies queued so far (the next one goes to dev[copies % len(dev)])
    launches: int = 0


@dataclass
class _Copied:
    """A batch whose copy to device buffer ``dev`` is queued, its model not yet."""

    batch: _StreamBatch
    dev: int
    h2d: tuple  # (start, end) events of the copy


@dataclass
class _Launched:
    batch: _StreamBatch
    probs: Any  # (rows, length) float32 numpy array (filled once `done` has completed)
    done: Any = None  # event: results are on the host
    timing: tuple = ()  # (h2d start, h2d end, model start, model end) events


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
        Sequences per batch (None: :func:`default_batch_sequences`).
    device : str or torch.device
        ``auto``, ``cpu``, ``cuda``...
    amp : bool
        bf16 autocast on CUDA and on CPUs with native bf16 (:func:`cpu_has_bf16`).
    compile : {'auto', 'always', 'never'}
        ``torch.compile`` the model (``auto``: on CUDA only).
    reader_threads : int or None
        Threads reading windows into the host buffers (None: :func:`default_reader_threads`;
        the ``simple`` pipeline: threads gathering whole batches, default 4 on CUDA, 1 on CPU).
    pipeline : {'stream', 'simple'}
        ``stream`` (default) or the previous implementation (see the module docstring).
    prefetch : int or None
        Host buffers of the ``stream`` pipeline, i.e. batches read ahead of the device
        (None: 3 on CUDA, 2 on CPU).
    workers : int, optional
        Former name of ``reader_threads`` (used when ``reader_threads`` is None).
    cuda_graphs : bool
        Staged pipeline: run the model of full batches as one captured CUDA graph (one
        launch per batch instead of hundreds). Captured at the first batch and checked
        against the model run normally; if capture fails or the two differ, a warning is
        given and the model runs normally. Off by default: not yet measured on a GPU.

    Attributes
    ----------
    stats : InferenceStats
        Where the time of the last :meth:`predict` went.
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
        reader_threads: int | None = None,
        pipeline: str = "stream",
        prefetch: int | None = None,
        workers: int | None = None,
        cuda_graphs: bool = False,
        _staged: bool | float | None = None,
    ) -> None:
        plan_sequences(1, sequence_windows, context_windows)  # validates L and C
        if pipeline not in PIPELINES:
            raise ValueError(
                f"Invalid value for 'pipeline': allowed {', '.join(map(repr, PIPELINES))}, "
                f"got {pipeline!r} instead"
            )
        self.device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        self.sequence_windows = int(sequence_windows)
        self.context_windows = int(context_windows)
        self.cuda = self.device.type == "cuda"
        if batch_sequences is None:
            batch_sequences = default_batch_sequences(self.device)
        self.batch_sequences = int(batch_sequences)
        if self.batch_sequences < 1:
            raise ValueError(f"batch_sequences must be >= 1, got {batch_sequences}")
        self.amp = bool(amp) and (self.cuda or cpu_has_bf16())
        self.pipeline = pipeline
        # staged: device input buffers, a copy queue and a compute queue ordered by events
        # (always on CUDA; on the CPU only to test that logic, the queues emulated by threads:
        # a float is the largest random delay, in seconds, of each emulated operation)
        self.staged = self.cuda if _staged is None else bool(_staged) or self.cuda
        self._jitter_s = (
            float(_staged) if isinstance(_staged, float) and not isinstance(_staged, bool) else 0.0
        )
        self.eager = fold_batchnorm(model).to(self.device)
        self.model = self.eager
        if compile == "always" or (compile == "auto" and self.cuda):
            if hasattr(self.eager, "compile_encoder"):
                # the registry's detectors: compile the convolutional encoder in place (the
                # recurrent part runs cuDNN kernels that torch.compile would not speed up)
                self.eager.compile_encoder()
            else:
                self.model = torch.compile(self.eager)
        threads = reader_threads if reader_threads is not None else workers
        if threads is not None and int(threads) < 1:
            raise ValueError(f"reader_threads must be >= 1, got {threads}")
        if pipeline == "simple":
            default = min(4, os.cpu_count() or 1) if self.cuda else 1
        else:
            default = default_reader_threads()
        self.reader_threads = int(threads) if threads is not None else default
        self.workers = self.reader_threads  # former name
        self.prefetch = max(2, int(prefetch)) if prefetch is not None else (3 if self.cuda else 2)
        #: staged: copies queued ahead of the model (1: each batch's copy right before its
        #: model, the order before copies were queued ahead; a benchmark knob)
        self.copy_ahead = _DEVICE_BUFFERS
        #: launched batches whose results may be outstanding before the host waits for the
        #: oldest (a benchmark knob: fewer keeps the device's launch queue short)
        self.max_launched = _MAX_LAUNCHED
        self.cuda_graphs = bool(cuda_graphs)
        self._graph: _Graph | None = None
        # staged: the copy and compute queues, one pair per predictor (on CUDA the compute
        # queue is the stream current when they are made: every batch, ring and the graph
        # are ordered on it, whatever stream the caller iterates under)
        self._queues: Any = None
        self.stats = InferenceStats()
        self._ring: _Ring | None = None
        self._active_streams = 0  # open predict() generators (each needs its own buffers)

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
            piece by piece); the iterable is consumed lazily.
        progress : callable, optional
            Called with the number of windows each finished batch predicted.

        Yields
        ------
        key, ndarray of float32, shape (n_windows,)
            Seizure probability of each window, in [0, 1].
        """
        if self.pipeline == "simple":
            return self._predict_simple(recordings, progress)
        return self._predict_stream(recordings, progress)

    def predict_one(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities of one recording's windows, shape ``(n_windows,)`` float32."""
        stream = self.predict([(None, windows)])
        try:
            return next(iter(stream))[1]
        finally:
            if hasattr(stream, "close"):
                stream.close()

    def close(self) -> None:
        """Free the host and device buffers kept between calls (they are re-made if needed)."""
        self._release_ring()
        self._graph = None
        queues, self._queues = self._queues, None
        if queues is not None:
            queues.close()

    def _release_ring(self) -> None:
        """Drop the kept buffers once nothing queued uses them."""
        ring, self._ring = self._ring, None
        if ring is not None and self._queues is not None:
            self._queues.drain()
        del ring

    def _queues_for_rings(self) -> Any:
        if self._queues is None:
            if self.cuda:
                self._queues = CudaQueues(self.device)
            else:
                self._queues = EmulatedQueues(self._jitter_s)
                weakref.finalize(self, self._queues.stop)  # its threads end with the predictor
        return self._queues

    # ------------------------------------------------------------------ stream pipeline

    def _predict_stream(
        self,
        recordings: Iterable[tuple[Any, np.ndarray]],
        progress: Callable[[int], None] | None,
    ) -> Iterator[tuple[Any, np.ndarray]]:
        t_start = time.perf_counter()
        stats = self.stats = InferenceStats(
            pipeline="stream",
            device=str(self.device) + (" (staged)" if self.staged and not self.cuda else ""),
            reader_threads=self.reader_threads,
            batch_sequences=self.batch_sequences,
            prefetch=self.prefetch,
        )
        if self.copy_ahead < 1 or self.max_launched < 0:
            raise ValueError(
                f"copy_ahead must be >= 1 and max_launched >= 0, got {self.copy_ahead} and "
                f"{self.max_launched}"
            )
        pending: collections.deque[_Recording] = collections.deque()
        batches = self._plan_stream(recordings, pending)
        submitted: collections.deque = collections.deque()  # (batch, host slot, futures)
        copied: collections.deque[_Copied] = collections.deque()  # staged: on their way
        launched: collections.deque[_Launched] = collections.deque()
        pool = concurrent.futures.ThreadPoolExecutor(
            self.reader_threads, thread_name_prefix="seizure-reader"
        )
        ring: _Ring | None = None
        timeline = _Timeline()
        exhausted = False
        n_submitted = 0
        self._active_streams += 1
        try:
            while True:
                t0 = time.perf_counter()
                # keep the reader threads busy: a batch per free host buffer (a buffer is free
                # once its copy to the device is queued, or, on the CPU, once its batch ran:
                # the readers wait for the copy's end event before overwriting it)
                while not exhausted and (ring is None or len(submitted) < len(ring.host)):
                    batch = next(batches, None)
                    if batch is None:
                        exhausted = True
                        break
                    if ring is None:
                        ring = self._ring_for(batch, shared=self._active_streams == 1)
                        if ring.queues is not None:
                            timeline.origin = ring.queues.marker()
                    slot = n_submitted % len(ring.host)
                    n_submitted += 1
                    futures = self._submit_reads(pool, ring, slot, batch)
                    submitted.append((batch, slot, futures))
                t1 = time.perf_counter()
                stats.plan_s += t1 - t0
                # staged: queue each batch's copy to the device as soon as its reads are done
                # (up to one per device buffer ahead of the model), before launching the model
                # of an earlier batch, so that a copy never waits behind the model's launches
                # on the host and the copy queue overlaps the compute queue; on the CPU, run
                # each batch as soon as it is read
                if submitted and (
                    not self.staged
                    or (
                        len(copied) < min(self.copy_ahead, len(ring.dev))
                        and (not copied or all(f.done() for f in submitted[0][2]))
                    )
                ):
                    batch, slot, futures = submitted.popleft()
                    self._collect_reads(futures)
                    t2 = time.perf_counter()
                    stats.wait_input_s += t2 - t1
                    if self.staged:
                        copied.append(self._queue_copy(ring, slot, batch))
                    else:
                        launched.append(self._launch_stream(ring, slot, batch))
                    stats.launch_s += time.perf_counter() - t2
                elif copied:
                    t2 = time.perf_counter()
                    launched.append(self._launch_model(ring, copied.popleft()))
                    stats.launch_s += time.perf_counter() - t2
                # finish what the device has done; wait only when too much is in flight or
                # nothing is left to launch
                draining = exhausted and not submitted and not copied
                while launched and (
                    draining or len(launched) > self.max_launched or _ready(launched[0].done)
                ):
                    self._finish_stream(launched.popleft(), progress, ring, timeline)
                while pending and pending[0].remaining == 0:
                    rec = pending.popleft()
                    rec.close()
                    t3 = time.perf_counter()
                    yield rec.key, rec.probs
                    stats.consumer_s += time.perf_counter() - t3
                if exhausted and not submitted and not copied and not launched:
                    break
        finally:
            for _, _, futures in submitted:
                for future in futures:
                    future.cancel()
            self._active_streams -= 1
            pool.shutdown(wait=True)
            if ring is not None and ring.queues is not None:
                if getattr(ring.queues, "error", None) is not None:
                    # emulated queues that failed: neither they nor the buffers are reused
                    if ring is self._ring:
                        self._ring = None
                    if ring.queues is self._queues:
                        self._queues = None
                    ring.queues.close()
                else:  # the buffers are reused, or freed, once nothing queued uses them
                    ring.queues.drain()
            for rec in pending:
                rec.close()
            stats.wall_s = time.perf_counter() - t_start
            timeline.summarise(stats)

    def _collect_reads(self, futures: list[concurrent.futures.Future]) -> None:
        """Wait for a batch's reader tasks and add up their timings."""
        stats = self.stats
        for future in futures:
            blocked, busy, nbytes = future.result()
            stats.read_blocked_s += blocked
            stats.read_s += busy
            stats.bytes_read += nbytes

    def _plan_stream(
        self, recordings: Iterable[tuple[Any, np.ndarray]], pending: collections.deque
    ) -> Iterator[_StreamBatch]:
        """Pack the recordings' sequences into batches of pieces (see :class:`_StreamBatch`).

        Every piece of a recording is known (and counted in ``remaining``) before the first
        batch holding one of them is handed out, so that a recording is complete exactly
        when its last piece has been scattered.
        """
        L, B, C = self.sequence_windows, self.batch_sequences, self.context_windows
        batch = _StreamBatch(length=L)
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
            rec = _Recording(key, windows, np.zeros(n, dtype=np.float32), 0)
            pending.append(rec)
            if n == 0:
                continue
            if n < L:  # a short recording runs alone, as one shorter sequence (eager model)
                rec.remaining = 1
                yield _StreamBatch([(rec, 0, 1, 0, 0, n)], rows=1, length=n)
                continue
            pieces: list[tuple[int, int, int, int, int] | None] = []  # None: batch boundary
            rows = batch.rows
            for count, start, lo, hi in _runs(plan_sequences(n, L, C), L):
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
            rec.remaining = sum(p is not None for p in pieces)
            for piece in pieces:
                if piece is None:
                    batch.rows = B
                    yield batch
                    batch = _StreamBatch(length=L)
                else:
                    batch.pieces.append((rec, *piece))
                    batch.rows = piece[1]
        if batch.pieces:
            yield batch

    def _ring_for(self, batch: _StreamBatch, shared: bool = True) -> _Ring:
        """The predictor's buffers for windows like the first piece's (made once), or,
        when not ``shared`` (another :meth:`predict` of this predictor is still open), buffers
        of this call only."""
        windows = batch.pieces[0][0].windows
        np_dtype = np.dtype(windows.dtype)
        if np_dtype not in _TORCH_DTYPES:
            np_dtype = np.dtype(np.float32)
        dtype = _TORCH_DTYPES[np_dtype]
        shape = tuple(int(s) for s in windows.shape[1:])
        capacity = self.batch_sequences * self.sequence_windows
        key = (dtype, shape, capacity, self.prefetch, self.staged, self.max_launched)
        if shared and self._ring is not None and self._ring.key == key:
            return self._ring
        if shared:
            self._release_ring()  # the graph is kept: it depends on the window format only
        host = [
            torch.empty((capacity, *shape), dtype=dtype, pin_memory=self.cuda)
            for _ in range(self.prefetch)
        ]
        ring = _Ring(key, host, [h.numpy() for h in host], [None] * len(host))
        if self.staged:
            ring.dev = [
                torch.empty((capacity, *shape), dtype=dtype, device=self.device)
                for _ in range(_DEVICE_BUFFERS)
            ]
            ring.consumed = [None] * len(ring.dev)
            ring.out = [
                torch.empty(capacity, dtype=torch.float32, pin_memory=self.cuda)
                for _ in range(self.max_launched + 1)
            ]
            ring.queues = self._queues_for_rings()
        if shared:
            self._ring = ring
        if self.staged and self.cuda_graphs:
            self._graph_for(ring)
        return ring

    def _graph_for(self, ring: _Ring) -> _Graph | None:
        """The captured model for full batches of ``ring``'s format (made once), or None
        (and ``cuda_graphs`` switched off, with a warning) when it cannot be had."""
        shape, dtype = tuple(ring.dev[0].shape[1:]), ring.dev[0].dtype
        if self._graph is not None and self._graph.key == (dtype, shape):
            return self._graph
        self._graph = None
        saved = torch.cuda.current_stream(self.device) if self.cuda else None
        try:
            self._graph = _capture(self, ring.queues, dtype, shape)
        except Exception as err:  # any failure: run the model normally
            self.cuda_graphs = False
            if saved is not None:
                # a failed capture can leave its capture stream current (torch.cuda.graph's
                # exit ends the capture before restoring the stream, and ending it raised)
                torch.cuda.set_stream(saved)
                torch.cuda.synchronize(self.device)
            warnings.warn(
                f"CUDA graph of the model not used ({type(err).__name__}: {err}); running "
                "the model normally",
                RuntimeWarning,
                stacklevel=3,
            )
        return self._graph

    def _submit_reads(
        self,
        pool: concurrent.futures.ThreadPoolExecutor,
        ring: _Ring,
        slot: int,
        batch: _StreamBatch,
    ) -> list[concurrent.futures.Future]:
        """Split a batch's reads into about ``reader_threads`` tasks of equal size."""
        L = batch.length
        copies = [(rec, start, (r1 - r0) * L, r0 * L) for rec, r0, r1, start, _, _ in batch.pieces]
        total = sum(c[2] for c in copies)
        dest = ring.host_np[slot]
        row_bytes = dest[:1].nbytes
        n_tasks = max(1, min(self.reader_threads, (total * row_bytes) // _MIN_TASK_BYTES))
        per_task = math.ceil(total / n_tasks)
        tasks: list[list[tuple[_Recording, int, int, int]]] = [[]]
        filled = 0
        for rec, src, count, dst in copies:
            while count:
                take = min(count, per_task - filled)
                tasks[-1].append((rec, src, take, dst))
                src, dst, count, filled = src + take, dst + take, count - take, filled + take
                if filled == per_task:
                    tasks.append([])
                    filled = 0
        after = ring.h2d_done[slot]  # the buffer's previous batch must be on the device
        return [pool.submit(_read_task, dest, task, after) for task in tasks if task]

    def _count_batch(self, batch: _StreamBatch) -> tuple[int, bool, int, torch.nn.Module]:
        """Count a batch in the stats; its sequence length, whether that is the full length,
        the rows the model runs (full-length batches are padded to one shape) and the model
        (the compiled one for the full length, the eager one for a short recording)."""
        L = batch.length
        full = L == self.sequence_windows
        rows = self.batch_sequences if full else batch.rows
        self.stats.batches += 1
        self.stats.model_windows += rows * L
        return L, full, rows, (self.model if full else self.eager)

    def _launch_stream(self, ring: _Ring, slot: int, batch: _StreamBatch) -> _Launched:
        """Run a batch on the CPU, straight from its host buffer (not staged)."""
        L, _, rows, model = self._count_batch(batch)
        with torch.inference_mode():
            x = ring.host[slot][: rows * L].view(rows, L, *ring.host[slot].shape[1:])
            if rows > batch.rows:
                x[batch.rows :].zero_()
            t0 = time.perf_counter()
            probs = self._forward(model, x)
            self.stats.model_device_s += time.perf_counter() - t0
        return _Launched(batch, probs.numpy())

    def _queue_copy(self, ring: _Ring, slot: int, batch: _StreamBatch) -> _Copied:
        """Queue the copy of host buffer ``slot`` to the next device buffer (staged)."""
        queues = ring.queues
        d = ring.copies % len(ring.dev)
        ring.copies += 1
        n_read = batch.rows * batch.length
        start, end = queues.event(), queues.event()
        # after the device buffer's previous batch was converted (its event is recorded: that
        # batch's model was launched before this copy could be queued, see _predict_stream)
        queues.copy(ring.dev[d][:n_read], ring.host[slot][:n_read], ring.consumed[d], start, end)
        ring.h2d_done[slot] = end
        return _Copied(batch, d, (start, end))

    def _launch_model(self, ring: _Ring, copied: _Copied) -> _Launched:
        """Queue a copied batch's conversion, model and copy back on the compute queue."""
        batch, queues = copied.batch, ring.queues
        L, full, rows, model = self._count_batch(batch)
        dev = ring.dev[copied.dev]
        out = ring.out[ring.launches % len(ring.out)][: rows * L].view(rows, L)
        ring.launches += 1
        m0, m1, done = (queues.event() for _ in range(3))
        consumed = queues.event(timing=False)
        ring.consumed[copied.dev] = consumed
        padding_from = batch.rows
        graph = self._graph_for(ring) if full and self.cuda_graphs else None

        def graph_step(record: Callable[[Any], None]) -> None:
            record(m0)
            n = padding_from * L
            graph.static_in[:n].copy_(dev[:n])  # device to device: ~0.5 ms per 700 MB
            if n < len(graph.static_in):
                graph.static_in[n:].zero_()  # padding
            record(consumed)  # the device buffer may be refilled
            graph.replay()
            record(m1)
            out.copy_(graph.static_out, non_blocking=self.cuda)
            record(done)

        def step(record: Callable[[Any], None]) -> None:
            record(m0)
            x = dev[: rows * L].view(rows, L, *dev.shape[1:])
            if rows > padding_from:
                x[padding_from:].zero_()  # padding, on the device
            # float16/int16 storage -> float32 (autocast casts again per op): a copy, after
            # which the device buffer may be refilled; float32 storage is used in place, so
            # the buffer is free only once the model has run
            in_place = x.dtype == torch.float32
            x = x.float()
            if not in_place:
                record(consumed)
            probs = self._forward(model, x, converted=True)
            if in_place:
                record(consumed)
            record(m1)
            out.copy_(probs, non_blocking=self.cuda)
            record(done)

        with torch.inference_mode():
            queues.compute(
                copied.h2d[1], step if graph is None else graph_step, (m0, consumed, m1, done)
            )
        return _Launched(batch, out.numpy(), done, (*copied.h2d, m0, m1))

    def _forward(self, model: torch.nn.Module, x: torch.Tensor, converted: bool = False):
        """Probabilities ``(rows, L)`` float32 of windows ``x`` (on the device)."""
        if not converted:
            x = x.float()  # float16/int16 storage -> float32 (autocast casts again per op)
        # cache_enabled=False: weight casts cached by a caller's enclosing autocast would be
        # baked into a captured graph and freed after it; within one forward a weight is cast
        # once anyway
        with torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.amp, cache_enabled=False
        ):
            logits = model(x)
        return torch.sigmoid(logits.float())

    def _finish_stream(
        self,
        launched: _Launched,
        progress: Callable[[int], None] | None,
        ring: _Ring | None = None,
        timeline: _Timeline | None = None,
    ) -> None:
        """Wait for a launched batch and scatter its probabilities to their recordings."""
        stats = self.stats
        t0 = time.perf_counter()
        if launched.done is not None:
            launched.done.synchronize()
            if ring is not None and ring.queues is not None:
                ring.queues.check()
            h0, h1, m0, m1 = launched.timing
            stats.h2d_device_s += h0.elapsed_time(h1) / 1e3
            stats.model_device_s += m0.elapsed_time(m1) / 1e3
            stats.copy_back_device_s += m1.elapsed_time(launched.done) / 1e3
            if timeline is not None:
                timeline.add(*launched.timing, launched.done)
        t1 = time.perf_counter()
        stats.wait_output_s += t1 - t0
        probs = launched.probs
        count = 0
        for rec, r0, r1, start, lo, hi in launched.batch.pieces:
            flat = probs[r0:r1].reshape(-1)
            rec.probs[lo:hi] = flat[lo - start : hi - start]
            rec.remaining -= 1
            count += hi - lo
        stats.windows += count
        stats.scatter_s += time.perf_counter() - t1
        if progress is not None:
            progress(count)

    # ------------------------------------------------------------------ simple pipeline
    # The previous implementation, kept as a fallback and a reference: each batch is gathered
    # by one thread into a freshly allocated (pinned) tensor, copied on the compute stream.

    def _predict_simple(
        self,
        recordings: Iterable[tuple[Any, np.ndarray]],
        progress: Callable[[int], None] | None,
    ) -> Iterator[tuple[Any, np.ndarray]]:
        t_start = time.perf_counter()
        self.stats = InferenceStats(
            pipeline="simple",
            device=str(self.device),
            reader_threads=self.reader_threads,
            batch_sequences=self.batch_sequences,
        )
        pending: collections.deque[_Recording] = collections.deque()
        batches = self._batches(recordings, pending)
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.reader_threads) as pool:
            inflight: collections.deque = collections.deque()
            exhausted = False
            launched = None  # the batch running on the device, finished one step later
            try:
                while True:
                    while not exhausted and len(inflight) < self.reader_threads + 1:
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
                self.stats.wall_s = time.perf_counter() - t_start

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
        self.stats.batches += 1
        self.stats.model_windows += host.shape[0] * host.shape[1]
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
        self.stats.windows += count
        if progress is not None:
            progress(count)


@dataclass
class _Graph:
    """The model of full batches, captured: ``replay()`` computes ``static_out``, the
    probabilities ``(batch_sequences, sequence_windows)`` float32, from ``static_in``, the
    windows ``(batch_sequences * sequence_windows, *window_shape)`` in their storage dtype."""

    key: tuple
    static_in: torch.Tensor
    static_out: torch.Tensor
    replay: Callable[[], None]
    graph: Any = None  # the torch.cuda.CUDAGraph (kept alive)


def _capture(
    predictor: Predictor, queues: Any, dtype: torch.dtype, shape: tuple[int, ...]
) -> _Graph:
    """Capture ``predictor``'s model on full batches as a CUDA graph and check it.

    On CUDA, on the predictor's device and ordered on its compute stream: warm-up calls on a
    side stream (compilation, cuDNN plans), capture, then one replay on random windows
    compared with the model run normally on the same windows (they must agree to 1e-4). On
    the CPU (emulated queues, tests) the "graph" runs the model on the static buffers, so that
    the bookkeeping around it is tested.
    """
    if predictor.cuda:
        with torch.cuda.device(predictor.device), torch.cuda.stream(queues.compute_stream):
            return _capture_on_current_stream(predictor, dtype, shape)
    return _capture_on_current_stream(predictor, dtype, shape)


def _capture_on_current_stream(
    predictor: Predictor, dtype: torch.dtype, shape: tuple[int, ...]
) -> _Graph:
    B, L, device = predictor.batch_sequences, predictor.sequence_windows, predictor.device
    static_in = torch.zeros((B * L, *shape), dtype=dtype, device=device)
    x = static_in.view(B, L, *shape)
    key = (dtype, shape)
    with torch.inference_mode():
        if not predictor.cuda:
            static_out = torch.zeros((B, L), dtype=torch.float32)

            def replay() -> None:
                static_out.copy_(predictor._forward(predictor.model, x))

            return _Graph(key, static_in, static_out, replay)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(2):
                predictor._forward(predictor.model, x)
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # thread_local: the reader threads of another open predict() may query events
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            static_out = predictor._forward(predictor.model, x)
        sample = torch.randn(static_in.shape, device=device).mul_(20)
        static_in.copy_(sample.to(dtype) if dtype.is_floating_point else sample.round().to(dtype))
        graph.replay()
        expected = predictor._forward(predictor.model, x)
        error = float((static_out - expected).abs().max())
        if not error <= 1e-4:
            raise RuntimeError(f"the captured model differs from the model by {error:.2e}")
        torch.cuda.synchronize(device)
    return _Graph(key, static_in, static_out, graph.replay, graph)


class _Timeline:
    """Device intervals of the finished batches, measured from an origin event."""

    def __init__(self) -> None:
        self.origin: Any = None
        self.rows: list[tuple[float, ...]] = []

    def add(self, *events: Any) -> None:
        """Add a batch: its (copy start, copy end, model start, model end, done) events."""
        if self.origin is not None:
            self.rows.append(tuple(self.origin.elapsed_time(e) for e in events))

    def summarise(self, stats: InferenceStats) -> None:
        """Fill the ``device_*``, ``h2d_hidden_s`` and ``timeline`` fields of ``stats``."""
        if not self.rows:
            return
        t = np.asarray(self.rows, dtype=np.float64) / 1e3
        copies = _union_length(t[:, 0], t[:, 1])
        models = _union_length(t[:, 2], t[:, 3])
        busy = _union_length(np.r_[t[:, 0], t[:, 2]], np.r_[t[:, 1], t[:, 4]])
        both = _union_length(np.r_[t[:, 0], t[:, 2]], np.r_[t[:, 1], t[:, 3]])
        stats.device_span_s = float(t[:, [1, 4]].max() - t[:, 0].min())
        stats.device_busy_s = busy
        stats.h2d_hidden_s = max(0.0, copies + models - both)  # |copies and models|
        stats.timeline = [[round(v, 3) for v in row] for row in self.rows[:_TIMELINE_ROWS]]


def _union_length(starts: np.ndarray, ends: np.ndarray) -> float:
    """Total length of the union of intervals ``[starts[i], ends[i]]``."""
    order = np.argsort(starts, kind="stable")
    total, cur_lo, cur_hi = 0.0, None, None
    for lo, hi in zip(starts[order].tolist(), ends[order].tolist()):
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return float(total)


def _ready(event: Any) -> bool:
    """Whether the work before ``event`` is done (None: nothing to wait for)."""
    return event is None or bool(event.query())


def _read_task(
    dest: np.ndarray, copies: list[tuple[_Recording, int, int, int]], after: Any
) -> tuple[float, float, int]:
    """Run in a reader thread: ``dest[dst : dst + count] = windows[src : src + count]`` for
    each ``(recording, src, count, dst)``, once ``after`` (the previous copy of ``dest`` to the
    device) has completed. Returns (seconds blocked, seconds copying, bytes copied)."""
    t0 = time.perf_counter()
    if after is not None:
        after.synchronize()
    t1 = time.perf_counter()
    nbytes = 0
    for rec, src, count, dst in copies:
        part = dest[dst : dst + count]
        _copy_windows(rec, src, src + count, part)
        nbytes += part.nbytes
    return t1 - t0, time.perf_counter() - t1, nbytes


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
