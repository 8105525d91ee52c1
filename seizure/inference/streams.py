"""The two device queues of the inference engine: copies and compute.

:class:`~seizure.inference.engine.Predictor` stages its work on two in-order queues, a
*copy* queue (host-to-device copies of input batches) and a *compute* queue (conversion, the
model, the copy of the probabilities back), ordered against each other and against the host
with events. :class:`CudaQueues` is the real thing (a side CUDA stream, and the stream
current when the queues are made). :class:`EmulatedQueues` runs the same operations on the
CPU, each queue a worker thread, with events of the same semantics (in particular: waiting
for an event that has not been recorded yet does not wait, as with ``cudaStreamWaitEvent``)
and optional random delays, so that the tests can check on a machine without a GPU that no
buffer is overwritten while a queued operation still needs it.

An event is *recorded* when the operation that completes it is queued (host side) and
*completed* when the queue reaches it. Both classes offer:

* ``event(timing=True)``: a fresh event with ``synchronize()``, ``query()`` and
  ``elapsed_time(end)`` (milliseconds; events made with ``timing=False`` are only waited on);
* ``marker()``: an event recorded on the compute queue now (a time origin);
* ``copy(dst, src, after, start, end)``: queue ``dst.copy_(src)`` on the copy queue once
  ``after`` has completed, recording ``start`` and ``end`` around it;
* ``compute(after, step, events)``: queue ``step(record)`` on the compute queue once
  ``after`` has completed; ``events`` are the events ``step`` records with ``record(event)``
  (recorded now, completed when ``step`` reaches them; the emulation may pause after each,
  so that an event recorded too early in a step shows);
* ``check()``: raise the error of a failed emulated operation (CUDA reports its own);
* ``drain()``: wait until both queues are idle; ``close()``: drain and release.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

__all__ = ["CudaQueues", "EmulatedEvent", "EmulatedQueues"]


class CudaQueues:
    """A side CUDA stream for copies, and for compute the stream current when made.

    Parameters
    ----------
    device : torch.device
        A CUDA device.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.copy_stream = torch.cuda.Stream(device)
        # fixed once: work queued under another current stream later must still be ordered
        # after the earlier batches (shared output buffers, the graph's static buffers)
        self.compute_stream = torch.cuda.current_stream(device)

    def event(self, timing: bool = True) -> torch.cuda.Event:
        """Return a new event (with timing when ``timing``)."""
        # blocking: a thread waiting for it sleeps instead of spinning on a core that the
        # reader threads need; events only waited on are cheaper without timing
        return torch.cuda.Event(enable_timing=timing, blocking=True)

    def marker(self) -> torch.cuda.Event:
        """Return an event recorded on the compute stream now."""
        event = self.event()
        event.record(self.compute_stream)
        return event

    def copy(self, dst: torch.Tensor, src: torch.Tensor, after: Any, start: Any, end: Any) -> None:
        """Queue ``dst.copy_(src)`` on the copy stream, after ``after``."""
        stream = self.copy_stream
        with torch.cuda.stream(stream):
            if after is not None:
                stream.wait_event(after)
            start.record(stream)
            dst.copy_(src, non_blocking=True)
            end.record(stream)

    def compute(
        self, after: Any, step: Callable[[Callable[[Any], None]], None], events: Sequence[Any]
    ) -> None:
        """Queue ``step`` on the compute stream after ``after``; it records ``events``."""
        stream = self.compute_stream
        with torch.cuda.stream(stream):
            if after is not None:
                stream.wait_event(after)
            step(lambda event: event.record(stream))

    def check(self) -> None:
        """Do nothing: a real device raises where an operation fails."""
        pass

    def drain(self) -> None:
        """Wait until both queues have run everything queued."""
        torch.cuda.synchronize(self.device)

    close = drain


class EmulatedEvent:
    """A CUDA-like event for :class:`EmulatedQueues`."""

    def __init__(self) -> None:
        self.recorded = False
        self.t = 0.0
        self._done = threading.Event()

    def complete(self) -> None:
        """Mark the event as reached, now."""
        self.t = time.perf_counter()
        self._done.set()

    def synchronize(self) -> None:
        """Wait until the event is reached (at once when it was never recorded)."""
        if self.recorded:
            self._done.wait()

    def query(self) -> bool:
        """Return whether the event is reached (an unrecorded one is)."""
        return not self.recorded or self._done.is_set()

    def elapsed_time(self, end: EmulatedEvent) -> float:
        """Return the milliseconds from this event to ``end``."""
        return 1e3 * (end.t - self.t)


class _Worker:
    """An in-order queue of callables run by one thread."""

    def __init__(self, name: str, owner: EmulatedQueues) -> None:
        self.name = name
        self.owner = owner
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.stopped = False
        self.thread = threading.Thread(
            target=self._run, name=f"seizure-emulated-{name}", daemon=True
        )
        self.thread.start()

    def put(self, fn: Callable[[], None], events: Sequence[EmulatedEvent]) -> None:
        for event in events:
            event.recorded = True
        self.tasks.put((fn, events))

    def _run(self) -> None:
        while True:
            item = self.tasks.get()
            if item is None:
                return
            fn, events = item
            try:
                if self.owner.error is None:
                    self.owner.delay(self.name)
                    fn()
            except BaseException as err:  # reported by check(); nothing may wait forever
                self.owner.error = err
            finally:
                for event in events:
                    if not event._done.is_set():
                        event.complete()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.tasks.put(None)


class EmulatedQueues:
    """The copy and compute queues as two CPU threads (tests, and ``--emulate-device`` benchmarks).

    Parameters
    ----------
    jitter_s : float
        Each queued operation first sleeps a random time in ``[0, jitter_s)``, and a compute
        step again after each event it records: makes any missing ordering between the
        queues and the host show up as wrong results.
    seed : int
        Seed of the delays.
    """

    def __init__(self, jitter_s: float = 0.0, seed: int = 0) -> None:
        self.jitter_s = float(jitter_s)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self._copy = _Worker("copy", self)
        self._compute = _Worker("compute", self)

    def delay(self, queue_name: str) -> None:
        """Sleep in queue ``copy`` or ``compute`` (random, see above; tests override it)."""
        if self.jitter_s > 0:
            with self._lock:
                seconds = self._random.uniform(0, self.jitter_s)
            time.sleep(seconds)

    def event(self, timing: bool = True) -> EmulatedEvent:
        """Return a new event."""
        return EmulatedEvent()

    def marker(self) -> EmulatedEvent:
        """Return an event reached now."""
        event = EmulatedEvent()
        event.recorded = True
        event.complete()
        return event

    def copy(self, dst: torch.Tensor, src: torch.Tensor, after: Any, start: Any, end: Any) -> None:
        """Run ``dst.copy_(src)`` on the copy worker after ``after``, timed by ``start``/``end``."""
        # as cudaStreamWaitEvent: an event not recorded yet (at queueing time) is not waited for
        wait = after if after is not None and after.recorded else None

        def run() -> None:
            if wait is not None:
                wait.synchronize()
            start.complete()
            dst.copy_(src)
            end.complete()

        self._copy.put(run, (start, end))

    def compute(
        self, after: Any, step: Callable[[Callable[[Any], None]], None], events: Sequence[Any]
    ) -> None:
        """Run ``step`` on the compute worker after ``after``; it records ``events``."""
        wait = after if after is not None and after.recorded else None

        def record(event: EmulatedEvent) -> None:
            event.complete()
            self.delay("compute")  # let the other queue and the host run between any two steps

        def run() -> None:
            if wait is not None:
                wait.synchronize()
            with torch.inference_mode():
                step(record)

        self._compute.put(run, events)

    def drain(self) -> None:
        """Wait until both queues have run everything queued."""
        for worker in (self._copy, self._compute):
            if worker.stopped:  # closed: it ran everything before ending
                continue
            event = EmulatedEvent()
            worker.put(lambda: None, (event,))
            event.synchronize()

    def check(self) -> None:
        """Raise the first error of an emulated device operation."""
        if self.error is not None:
            raise RuntimeError(f"an emulated device operation failed: {self.error}") from (
                self.error
            )

    def stop(self) -> None:
        """Let the worker threads end once they have run what is queued (no waiting)."""
        self._copy.stop()
        self._compute.stop()

    def close(self) -> None:
        """Run what is queued and end the worker threads."""
        self.stop()
        for worker in (self._copy, self._compute):
            if worker.thread is not threading.current_thread():
                worker.thread.join()
