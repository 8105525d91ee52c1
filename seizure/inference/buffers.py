"""The engine's buffers: host buffers for the readers, device buffers, result buffers.

Allocated once per predictor and window format (:class:`Ring`), and reused by every
:meth:`~seizure.inference.engine.Predictor.predict` call: pinned host memory and device
memory are slow to allocate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seizure.inference.plan import Batch

__all__ = ["DEVICE_BUFFERS", "TORCH_DTYPES", "Copied", "Launched", "Ring", "make_ring"]

#: Device input buffers of the staged path: copies are queued up to this many batches ahead
#: of the model (3 x 692 MB at the CUDA default batch).
DEVICE_BUFFERS = 3

#: Storage dtype of the buffers for each window dtype (float64 windows are read as float32).
TORCH_DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float16): torch.float16,
    np.dtype(np.int16): torch.int16,
    np.dtype(np.float64): torch.float32,
}


@dataclass
class Ring:
    """Buffers of the engine, allocated once per predictor and window format."""

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
class Copied:
    """A batch whose copy to device buffer ``dev`` is queued, its model not yet."""

    batch: Batch
    dev: int
    h2d: tuple  # (start, end) events of the copy


@dataclass
class Launched:
    """A batch whose model run is queued on the device, and its results' host buffer."""

    batch: Batch
    probs: Any  # (rows, length) float32 numpy array (filled once `done` has completed)
    done: Any = None  # event: results are on the host
    timing: tuple = ()  # (h2d start, h2d end, model start, model end) events


def make_ring(
    key: tuple,
    host_buffers: int,
    device: torch.device | None,
    out_buffers: int,
    pinned: bool,
) -> Ring:
    """Allocate the buffers of one window format.

    Parameters
    ----------
    key : tuple
        ``(dtype, window_shape, capacity, ...)``: the storage dtype, the shape of a window
        and the windows per buffer first; the rest identifies the settings they were made for.
    host_buffers : int
        Host buffers (``prefetch``).
    device : torch.device or None
        Staged: where the :data:`DEVICE_BUFFERS` input buffers go; None: no device buffers.
    out_buffers : int
        Staged: result buffers (``max_launched + 1``).
    pinned : bool
        Pin the host and result buffers (CUDA).

    Returns
    -------
    Ring
        Without queues (the caller attaches its own).
    """
    dtype, shape, capacity = key[:3]
    host = [
        torch.empty((capacity, *shape), dtype=dtype, pin_memory=pinned) for _ in range(host_buffers)
    ]
    ring = Ring(key, host, [h.numpy() for h in host], [None] * len(host))
    if device is not None:
        ring.dev = [
            torch.empty((capacity, *shape), dtype=dtype, device=device)
            for _ in range(DEVICE_BUFFERS)
        ]
        ring.consumed = [None] * len(ring.dev)
        ring.out = [
            torch.empty(capacity, dtype=torch.float32, pin_memory=pinned)
            for _ in range(out_buffers)
        ]
    return ring
