"""The inference engine: windows of many recordings -> per-window seizure probabilities.

Streaming. A recording is never loaded whole: it is cut into sequences of ``L`` windows
(:mod:`seizure.inference.plan`), and sequences from consecutive recordings are packed into
batches of ``batch_sequences``. Memory use is a few batches whatever the recordings' lengths.

Feeding. 2M windows/s of 22 x 256 float16 windows is 22.5 GB/s of input, so the host side
only ever does large sequential copies:

* a fixed ring of ``prefetch`` host buffers (pinned on CUDA, allocated once per predictor) is
  filled by ``reader_threads`` threads (:mod:`seizure.inference.reading`);
* *staged* (on CUDA; on the CPU with emulated queues, for tests): each host buffer is copied
  to one of :data:`DEVICE_BUFFERS` device buffers on a copy queue
  (:class:`~seizure.inference.streams.CudaQueues`), overlapping the model's work on earlier
  batches on the compute queue. A batch's copy is queued as soon as its reads are done, up to
  ``copy_ahead`` batches ahead of the model and before the model of an earlier batch is
  launched, so that a copy never waits on the host behind the model's kernel launches. A host
  buffer is refilled only once its copy has finished (the reader tasks wait for a CUDA event
  with blocking sync, so waiting threads sleep rather than spin), and a device buffer only
  once the model has converted it to float32 (float32 windows are used in place: once the
  model has run). The tests run this ordering with the two queues emulated by threads that
  run late (:class:`~seizure.inference.streams.EmulatedQueues`): a missing wait corrupts
  their results;
* not staged (the CPU): each batch runs on its host buffer as soon as it is read;
* the last, partial batch is zero-padded on the device (no host memset, no copy of padding)
  so that a compiled model sees one shape;
* probabilities are copied back into a ring of (pinned) buffers asynchronously; a launched
  batch is finished (its probabilities scattered to their recordings, one slice per piece)
  once its event has completed, at most ``max_launched`` batches being in flight, so the host
  never waits for the device while it could be queueing work.

:attr:`Predictor.stats` (:class:`~seizure.inference.stats.InferenceStats`) says where the time
of the last :meth:`Predictor.predict` went.

Speed. Batch-norm layers that follow a convolution are folded into it (exact up to float
rounding). The forward pass runs under bf16 autocast (``amp``) on CUDA and on CPUs with native
bf16 arithmetic (AVX512-BF16 or AMX; about 2x faster there than fp32, with probabilities
within ~1e-3 of fp32); on CUDA the encoder is compiled by default (``compile``). With
``cuda_graphs`` the model of full batches is captured once as a CUDA graph
(:mod:`seizure.inference.graphs`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seizure.inference import graphs
from seizure.inference.buffers import (
    TORCH_DTYPES,
    Copied,
    Launched,
    Ring,
    make_ring,
)
from seizure.inference.device import (
    cpu_has_bf16,
    default_batch_sequences,
    default_reader_threads,
    fold_batchnorm,
    resolve_device,
)
from seizure.inference.plan import Batch, pack_batches, plan_sequences
from seizure.inference.reading import Recording, read_task, split_reads
from seizure.inference.stats import InferenceStats, Timeline
from seizure.inference.streams import CudaQueues, EmulatedQueues
from seizure.inference.tuning import EngineTuning

__all__ = ["EngineTuning", "Predictor"]


@dataclass
class _Run:
    """The state of one :meth:`Predictor.predict` call, batches from read to finished."""

    batches: Iterator[Batch]
    pending: collections.deque[Recording]  # recordings not yet handed back, in input order
    pool: concurrent.futures.ThreadPoolExecutor  # the reader threads
    submitted: collections.deque = field(
        default_factory=collections.deque
    )  # (batch, slot, futures)
    copied: collections.deque[Copied] = field(default_factory=collections.deque)
    launched: collections.deque[Launched] = field(default_factory=collections.deque)
    ring: Ring | None = None
    timeline: Timeline = field(default_factory=Timeline)
    exhausted: bool = False  # every batch has been submitted
    n_submitted: int = 0

    @property
    def done(self) -> bool:
        return self.exhausted and not self.submitted and not self.copied and not self.launched


def _ready(event: Any) -> bool:
    """Whether the work before ``event`` is done (None: nothing to wait for)."""
    return event is None or bool(event.query())


class Predictor:
    """Batched, streaming inference of a detector over many recordings.

    Parameters
    ----------
    model : torch.nn.Module
        ``forward(x)`` maps ``(batch, T, *window_shape)`` float tensors to logits ``(batch, T)``.
    sequence_windows : int
        Sequence length ``L`` in windows (the training length).
    context_windows : int
        Context ``C`` discarded on each side of a sequence
        (:func:`~seizure.inference.plan.plan_sequences`).
    batch_sequences : int or None
        Sequences per batch (None:
        :func:`~seizure.inference.device.default_batch_sequences`).
    device : str or torch.device
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (:func:`~seizure.inference.device.resolve_device`).
    amp : bool
        bf16 autocast on CUDA and on CPUs with native bf16
        (:func:`~seizure.inference.device.cpu_has_bf16`).
    compile : {'auto', 'always', 'never'}
        ``torch.compile`` the model (``auto``: on CUDA only).
    reader_threads : int or None
        Threads reading windows into the host buffers (None:
        :func:`~seizure.inference.device.default_reader_threads`).
    cuda_graphs : bool
        Staged: run the model of full batches as one captured CUDA graph (one launch per
        batch instead of hundreds). Captured at the first batch and checked against the model
        run normally; if capture fails or the two differ, a warning is given and the model
        runs normally.
    tuning : EngineTuning, optional
        Benchmark and test settings (buffers, queue depths, emulated device queues).

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
        cuda_graphs: bool = False,
        tuning: EngineTuning | None = None,
    ) -> None:
        plan_sequences(1, sequence_windows, context_windows)  # validates L and C
        self.device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        self.sequence_windows = int(sequence_windows)
        self.context_windows = int(context_windows)
        self.cuda = self.device.type == "cuda"
        if batch_sequences is None:
            batch_sequences = default_batch_sequences(self.device)
        self.batch_sequences = int(batch_sequences)
        if self.batch_sequences < 1:
            raise ValueError(f"batch_sequences must be >= 1, got {batch_sequences}")
        if reader_threads is not None and int(reader_threads) < 1:
            raise ValueError(f"reader_threads must be >= 1, got {reader_threads}")
        self.reader_threads = (
            int(reader_threads) if reader_threads is not None else default_reader_threads()
        )
        self.amp = bool(amp) and (self.cuda or cpu_has_bf16())
        self.tuning = tuning if tuning is not None else EngineTuning()
        self.eager = fold_batchnorm(model).to(self.device)
        self.model = self.eager
        if compile == "always" or (compile == "auto" and self.cuda):
            if hasattr(self.eager, "compile_encoder"):
                # the registry's detectors: compile the convolutional encoder in place (the
                # recurrent part runs cuDNN kernels that torch.compile would not speed up)
                self.eager.compile_encoder()
            else:
                self.model = torch.compile(self.eager)
        self.cuda_graphs = bool(cuda_graphs)
        self._graph: graphs.CapturedModel | None = None
        # staged: the copy and compute queues, one pair per predictor (on CUDA the compute
        # queue is the stream current when they are made: every batch, ring and the graph
        # are ordered on it, whatever stream the caller iterates under)
        self._queues: Any = None
        self.stats = InferenceStats()
        self._ring: Ring | None = None
        self._active_streams = 0  # open predict() generators (each needs its own buffers)

    @property
    def staged(self) -> bool:
        """Whether batches go through device buffers and queues (CUDA, or emulated)."""
        return self.cuda or self.tuning.emulate_device

    @property
    def prefetch(self) -> int:
        """Host buffers (see :class:`EngineTuning`)."""
        if self.tuning.prefetch is not None:
            return self.tuning.prefetch
        return 3 if self.cuda else 2

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
        t_start = time.perf_counter()
        stats = self.stats = InferenceStats(
            device=str(self.device) + (" (staged)" if self.staged and not self.cuda else ""),
            reader_threads=self.reader_threads,
            batch_sequences=self.batch_sequences,
            prefetch=self.prefetch,
        )
        pending: collections.deque[Recording] = collections.deque()
        L, B, C = self.sequence_windows, self.batch_sequences, self.context_windows
        run = _Run(
            pack_batches(recordings, L, B, C, pending),
            pending,
            concurrent.futures.ThreadPoolExecutor(
                self.reader_threads, thread_name_prefix="seizure-reader"
            ),
        )
        self._active_streams += 1
        try:
            while True:
                self._fill_readers(run)
                self._advance(run)
                self._finish_ready(run, progress)
                while pending and pending[0].remaining == 0:
                    rec = pending.popleft()
                    rec.close()
                    t0 = time.perf_counter()
                    yield rec.key, rec.probs
                    stats.consumer_s += time.perf_counter() - t0
                if run.done:
                    break
        finally:
            self._end_run(run)
            stats.wall_s = time.perf_counter() - t_start
            run.timeline.summarise(stats)

    def predict_one(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities of one recording's windows.

        Parameters
        ----------
        windows : ndarray, shape (n_windows, *window_shape)

        Returns
        -------
        ndarray of float32, shape (n_windows,)
        """
        stream = self.predict([(None, windows)])
        try:
            return next(stream)[1]
        finally:
            stream.close()

    def close(self) -> None:
        """Free the host and device buffers kept between calls (they are re-made if needed)."""
        self._release_ring()
        self._graph = None
        queues, self._queues = self._queues, None
        if queues is not None:
            queues.close()

    # ------------------------------------------------------------------ the loop's steps

    def _fill_readers(self, run: _Run) -> None:
        """Keep the reader threads busy: a batch per free host buffer.

        A buffer is free once its copy to the device is queued, or, not staged, once its batch
        ran: the readers wait for the copy's end event before overwriting it.
        """
        t0 = time.perf_counter()
        while not run.exhausted and (run.ring is None or len(run.submitted) < len(run.ring.host)):
            batch = next(run.batches, None)
            if batch is None:
                run.exhausted = True
                break
            if run.ring is None:
                run.ring = self._ring_for(batch, shared=self._active_streams == 1)
                if run.ring.queues is not None:
                    run.timeline.origin = run.ring.queues.marker()
            slot = run.n_submitted % len(run.ring.host)
            run.n_submitted += 1
            run.submitted.append((batch, slot, self._submit_reads(run.pool, run.ring, slot, batch)))
        self.stats.plan_s += time.perf_counter() - t0

    def _advance(self, run: _Run) -> None:
        """Move one batch on.

        Queue the copy of a read batch or, staged, launch the model of a copied one.

        Staged, a batch's copy is queued as soon as its reads are done (up to ``copy_ahead``
        ahead of the model), before the model of an earlier batch is launched, so that a copy
        never waits behind the model's launches on the host and the copy queue overlaps the
        compute queue. Not staged, a batch runs as soon as it is read.
        """
        stats, ring = self.stats, run.ring
        t1 = time.perf_counter()
        if run.submitted and (
            not self.staged
            or (
                len(run.copied) < min(self.tuning.copy_ahead, len(ring.dev))
                and (not run.copied or all(f.done() for f in run.submitted[0][2]))
            )
        ):
            batch, slot, futures = run.submitted.popleft()
            self._collect_reads(futures)
            t2 = time.perf_counter()
            stats.wait_input_s += t2 - t1
            if self.staged:
                run.copied.append(self._queue_copy(ring, slot, batch))
            else:
                run.launched.append(self._run_on_host(ring, slot, batch))
            stats.launch_s += time.perf_counter() - t2
        elif run.copied:
            t2 = time.perf_counter()
            run.launched.append(self._launch_model(ring, run.copied.popleft()))
            stats.launch_s += time.perf_counter() - t2

    def _finish_ready(self, run: _Run, progress: Callable[[int], None] | None) -> None:
        """Finish what the device has done.

        Wait only when too much is in flight or nothing is left to launch.
        """
        draining = run.exhausted and not run.submitted and not run.copied
        while run.launched and (
            draining or len(run.launched) > self.tuning.max_launched or _ready(run.launched[0].done)
        ):
            self._finish(run.launched.popleft(), progress, run.ring, run.timeline)

    def _end_run(self, run: _Run) -> None:
        """Stop the readers, let the queues run out, close the recordings' files."""
        for _, _, futures in run.submitted:
            for future in futures:
                future.cancel()
        self._active_streams -= 1
        run.pool.shutdown(wait=True)
        ring = run.ring
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
        for rec in run.pending:
            rec.close()

    # ------------------------------------------------------------------ buffers and queues

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
                self._queues = EmulatedQueues(self.tuning.jitter_s)
                weakref.finalize(self, self._queues.stop)  # its threads end with the predictor
        return self._queues

    def _ring_for(self, batch: Batch, shared: bool = True) -> Ring:
        """Return the predictor's buffers for windows like the first piece's (made once).

        When not ``shared`` (another :meth:`predict` of this predictor is still open), the
        buffers are this call's only.
        """
        windows = batch.pieces[0][0].windows
        np_dtype = np.dtype(windows.dtype)
        dtype = TORCH_DTYPES.get(np_dtype, torch.float32)
        shape = tuple(int(s) for s in windows.shape[1:])
        capacity = self.batch_sequences * self.sequence_windows
        max_launched = self.tuning.max_launched
        key = (dtype, shape, capacity, self.prefetch, self.staged, max_launched)
        if shared and self._ring is not None and self._ring.key == key:
            return self._ring
        if shared:
            self._release_ring()  # the graph is kept: it depends on the window format only
        ring = make_ring(
            key,
            self.prefetch,
            self.device if self.staged else None,
            max_launched + 1,
            pinned=self.cuda,
        )
        if self.staged:
            ring.queues = self._queues_for_rings()
        if shared:
            self._ring = ring
        if self.staged and self.cuda_graphs:
            self._graph_for(ring)
        return ring

    def _graph_for(self, ring: Ring) -> graphs.CapturedModel | None:
        """Return the captured model for full batches of ``ring``'s format (made once).

        None (and ``cuda_graphs`` switched off, with a warning) when it cannot be had.
        """
        shape, dtype = tuple(ring.dev[0].shape[1:]), ring.dev[0].dtype
        if self._graph is not None and self._graph.key == (dtype, shape):
            return self._graph
        self._graph = None
        saved = torch.cuda.current_stream(self.device) if self.cuda else None
        try:
            self._graph = graphs.capture(
                lambda x: self._forward(self.model, x),
                device=self.device,
                batch_sequences=self.batch_sequences,
                sequence_windows=self.sequence_windows,
                dtype=dtype,
                shape=shape,
                stream=ring.queues.compute_stream if self.cuda else None,
            )
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

    # ------------------------------------------------------------------ one batch

    def _submit_reads(
        self,
        pool: concurrent.futures.ThreadPoolExecutor,
        ring: Ring,
        slot: int,
        batch: Batch,
    ) -> list[concurrent.futures.Future]:
        """Hand a batch's reads into host buffer ``slot`` to the reader threads."""
        L = batch.length
        copies = [(rec, start, (r1 - r0) * L, r0 * L) for rec, r0, r1, start, _, _ in batch.pieces]
        dest = ring.host_np[slot]
        tasks = split_reads(copies, dest[:1].nbytes, self.reader_threads)
        after = ring.h2d_done[slot]  # the buffer's previous batch must be on the device
        return [pool.submit(read_task, dest, task, after) for task in tasks]

    def _collect_reads(self, futures: list[concurrent.futures.Future]) -> None:
        """Wait for a batch's reader tasks and add up their timings."""
        stats = self.stats
        for future in futures:
            blocked, busy, nbytes = future.result()
            stats.read_blocked_s += blocked
            stats.read_s += busy
            stats.bytes_read += nbytes

    def _count_batch(self, batch: Batch) -> tuple[int, bool, int, torch.nn.Module]:
        """Count a batch in the stats.

        Returns its sequence length, whether that is the full length, the rows the model runs
        (full-length batches are padded to one shape) and the model (the compiled one for the
        full length, the eager one for a short recording).
        """
        L = batch.length
        full = L == self.sequence_windows
        rows = self.batch_sequences if full else batch.rows
        self.stats.batches += 1
        self.stats.model_windows += rows * L
        return L, full, rows, (self.model if full else self.eager)

    def _run_on_host(self, ring: Ring, slot: int, batch: Batch) -> Launched:
        """Run a batch on the CPU, straight from its host buffer (not staged)."""
        L, _, rows, model = self._count_batch(batch)
        with torch.inference_mode():
            x = ring.host[slot][: rows * L].view(rows, L, *ring.host[slot].shape[1:])
            if rows > batch.rows:
                x[batch.rows :].zero_()
            t0 = time.perf_counter()
            probs = self._forward(model, x)
            self.stats.model_device_s += time.perf_counter() - t0
        return Launched(batch, probs.numpy())

    def _queue_copy(self, ring: Ring, slot: int, batch: Batch) -> Copied:
        """Queue the copy of host buffer ``slot`` to the next device buffer (staged)."""
        queues = ring.queues
        d = ring.copies % len(ring.dev)
        ring.copies += 1
        n_read = batch.rows * batch.length
        start, end = queues.event(), queues.event()
        # after the device buffer's previous batch was converted (its event is recorded: that
        # batch's model was launched before this copy could be queued, see _advance)
        queues.copy(ring.dev[d][:n_read], ring.host[slot][:n_read], ring.consumed[d], start, end)
        ring.h2d_done[slot] = end
        return Copied(batch, d, (start, end))

    def _launch_model(self, ring: Ring, copied: Copied) -> Launched:
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
        return Launched(batch, out.numpy(), done, (*copied.h2d, m0, m1))

    def _forward(
        self, model: torch.nn.Module, x: torch.Tensor, converted: bool = False
    ) -> torch.Tensor:
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

    def _finish(
        self,
        launched: Launched,
        progress: Callable[[int], None] | None,
        ring: Ring | None = None,
        timeline: Timeline | None = None,
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
