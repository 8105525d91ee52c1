"""Where the time of one inference run went: per-stage totals and the device timeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["TIMELINE_ROWS", "InferenceStats", "Timeline", "union_length"]

#: Batches whose device timeline (:attr:`InferenceStats.timeline`) is kept.
TIMELINE_ROWS = 64


@dataclass
class InferenceStats:
    """Where the time of one :meth:`~seizure.inference.engine.Predictor.predict` went.

    Seconds unless said otherwise. ``*_device_s`` are device time measured with CUDA events
    (on the CPU, the wall time of the same step); the others are host wall time. Threads
    overlap, so the figures do not add up to ``wall_s``: compare each with it. The fields
    marked *staged* are filled when the batches go through device queues (on CUDA, or on the
    CPU with emulated queues).

    Attributes
    ----------
    device : str
        The device, with `` (staged)`` when the CPU runs the emulated device queues.
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
        Time the caller of ``predict`` spent between results (e.g. handing
        recordings to the writers).
    write_s : float
        Writers (processes or threads): saving, post-processing and writing files (summed,
        as the writers measured them; filled by the caller that runs the writers).
    write_tail_s : float
        After the last result: waiting for the writers (filled by that caller).
    device_span_s : float
        *Staged*: from the first copy's start to the last result on the host (device clock).
    device_busy_s : float
        *Staged*: time within the span when a copy or a model was running; the rest the
        device waited for the host.
    h2d_hidden_s : float
        *Staged*: copy time during which a model was running (``h2d_device_s`` minus this is
        copy time that held the model up).
    timeline : list of [float, float, float, float, float]
        *Staged*: for the first 64 batches, milliseconds since the first batch was planned at
        which its copy started and ended, its model started and ended, and its results were
        on the host.
    """

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
        """Return the fields, seconds rounded to 0.1 ms (for JSON)."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def summary(self) -> str:
        """Return a few lines: each stage's time and its share of the wall time."""
        wall = max(self.wall_s, 1e-9)

        def part(name: str, seconds: float, note: str = "") -> str:
            return f"  {name:<22} {seconds:8.3f} s  {100 * seconds / wall:6.1f} %{note}"

        gbs = self.bytes_read / 1e9
        rate = f" ({gbs / self.read_s:.2f} GB/s per thread)" if self.read_s > 0 else ""
        lines = [
            f"stages (on {self.device}: {self.batches} batches of "
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


class Timeline:
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
        copies = union_length(t[:, 0], t[:, 1])
        models = union_length(t[:, 2], t[:, 3])
        busy = union_length(np.r_[t[:, 0], t[:, 2]], np.r_[t[:, 1], t[:, 4]])
        both = union_length(np.r_[t[:, 0], t[:, 2]], np.r_[t[:, 1], t[:, 3]])
        stats.device_span_s = float(t[:, [1, 4]].max() - t[:, 0].min())
        stats.device_busy_s = busy
        stats.h2d_hidden_s = max(0.0, copies + models - both)  # |copies and models|
        stats.timeline = [[round(v, 3) for v in row] for row in self.rows[:TIMELINE_ROWS]]


def union_length(starts: np.ndarray, ends: np.ndarray) -> float:
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
