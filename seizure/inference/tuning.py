"""Settings of the inference engine for benchmarks and tests.

Users set the Predictor's arguments, from the ``evaluate`` config.
"""

from __future__ import annotations

from dataclasses import dataclass

from seizure.inference.buffers import DEVICE_BUFFERS

__all__ = ["MAX_LAUNCHED", "EngineTuning"]

#: Launched batches whose results may still be on their way back before the host waits.
MAX_LAUNCHED = 3


@dataclass(frozen=True)
class EngineTuning:
    """Settings of the engine for benchmarks and tests; the defaults are the tuned ones.

    Parameters
    ----------
    prefetch : int or None
        Host buffers, i.e. batches read ahead of the device (>= 2; None: 3 on CUDA, 2 on
        the CPU).
    copy_ahead : int
        Staged: copies queued ahead of the model (1: each batch's copy right before its
        model; at most :data:`DEVICE_BUFFERS` are used).
    max_launched : int
        Launched batches whose results may be outstanding before the host waits for the
        oldest (fewer keeps the device's launch queue short).
    emulate_device : bool
        On the CPU, run the staged path (device buffers, copy and compute queues, events)
        with :class:`~seizure.inference.streams.EmulatedQueues`, to test its ordering.
    jitter_s : float
        Emulated queues: largest random delay of each queued operation, in seconds.
    """

    prefetch: int | None = None
    copy_ahead: int = DEVICE_BUFFERS
    max_launched: int = MAX_LAUNCHED
    emulate_device: bool = False
    jitter_s: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if self.prefetch is not None and self.prefetch < 2:
            problems.append(f"prefetch must be >= 2, got {self.prefetch}")
        if self.copy_ahead < 1:
            problems.append(f"copy_ahead must be >= 1, got {self.copy_ahead}")
        if self.max_launched < 0:
            problems.append(f"max_launched must be >= 0, got {self.max_launched}")
        if not self.jitter_s >= 0:
            problems.append(f"jitter_s must be >= 0, got {self.jitter_s}")
        if problems:
            raise ValueError("Invalid engine tuning: " + "; ".join(problems))
