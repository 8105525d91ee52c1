"""Data-parallel training with ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N -m seizure train ...`` starts N processes with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` set. Each process (rank) drives one GPU (``cuda:LOCAL_RANK``,
NCCL) or the CPU (gloo), trains on its own shard of every global batch, and gradients are
averaged by DDP. Every rank validates its share of the dev split (see
:mod:`seizure.training.validation`); rank 0 computes the metrics and writes files, and the
decisions taken from them (best epoch, early stopping) are broadcast.

Several nodes: one ``torchrun`` agent per node joins a c10d rendezvous
(``--nnodes=N --rdzv_backend=c10d --rdzv_endpoint=HOST:PORT --rdzv_id=ID``, see
``scripts/slurm_train.sh``); ``RANK`` is then the global rank and ``LOCAL_RANK`` the rank on
the node, which picks the GPU. Only global rank 0 writes the run directory, so the nodes
need a shared file system for the cache and the run directory (rank 0's), nothing more.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from seizure.inference.device import gpu_hint, resolve_device

__all__ = [
    "DistInfo",
    "all_reduce_sum",
    "any_rank",
    "broadcast_flag",
    "broadcast_value",
    "sync_buffers",
    "device_notes",
    "init_distributed",
    "shutdown",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank, the world size and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and computes the validation metrics."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1


def device_notes(requested: str, device: torch.device) -> list[str]:
    """Messages for the user about the training device: a GPU that exists but is not used.

    Parameters
    ----------
    requested : str
        The ``--device`` asked for.
    device : torch.device
        What :func:`~seizure.inference.device.resolve_device` made of it.

    Returns
    -------
    list of str
    """
    if device.type != "cpu":
        return []
    if torch.cuda.is_available():
        return [
            f"note: a CUDA GPU ({torch.cuda.get_device_name(0)}) is available but "
            f"--device {requested} was asked; training on the CPU"
        ]
    hint = gpu_hint()
    return [] if hint is None else [f"note: {hint}; training on the CPU"]


def init_distributed(requested_device: str = "auto") -> tuple[DistInfo, list[str]]:
    """Read the ``torchrun`` environment, pick the device and join the process group.

    Without ``WORLD_SIZE`` (or with 1) this is a single process: no process group.

    Returns
    -------
    info : DistInfo
    notes : list of str
        Device notes (see :func:`device_notes`).

    Raises
    ------
    seizure.inference.device.DeviceError
        The device cannot be used (see :func:`~seizure.inference.device.resolve_device`).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(requested_device, local_rank)
    notes = device_notes(requested_device, device)
    initialized_here = False
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
        initialized_here = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    info = DistInfo(rank, world_size, local_rank, device, initialized_here)
    return info, notes


def _comm_device(info: DistInfo) -> torch.device:
    """Where collective tensors live: the GPU under NCCL, the CPU under gloo."""
    return info.device if info.device.type == "cuda" else torch.device("cpu")


def broadcast_flag(flag: bool, info: DistInfo) -> bool:
    """Rank 0's ``flag`` on every rank."""
    if not info.distributed:
        return flag
    t = torch.tensor([int(flag)], device=_comm_device(info))
    dist.broadcast(t, src=0)
    return bool(t.item())


def broadcast_value(value: float, info: DistInfo) -> float:
    """Rank 0's ``value`` on every rank, bit for bit (float64; NaN stays NaN).

    Parameters
    ----------
    value : float
        The value on this rank; only rank 0's counts.
    info : DistInfo

    Returns
    -------
    float
    """
    if not info.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=_comm_device(info))
    dist.broadcast(t, src=0)
    return float(t.item())


def any_rank(flag: bool, info: DistInfo) -> bool:
    """Return True on every rank when ``flag`` is true on any rank."""
    if not info.distributed:
        return flag
    t = torch.tensor([int(flag)], device=_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def all_reduce_sum(values: np.ndarray, info: DistInfo) -> np.ndarray:
    """Sum ``values`` element-wise over the ranks; every rank gets the sum.

    Parameters
    ----------
    values : numpy.ndarray
        The same shape and dtype on every rank.
    info : DistInfo

    Returns
    -------
    numpy.ndarray
        Same shape and dtype; ``values`` itself (unchanged) in a single process. Where at
        most one rank holds a non-zero value the sum is that value exactly.
    """
    if not info.distributed:
        return values
    t = torch.from_numpy(np.ascontiguousarray(values)).to(_comm_device(info))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def sync_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) into ``model`` on every rank.

    DDP broadcasts rank 0's buffers at the start of each forward, but the forward itself then
    updates each rank's copy from its own shard; after the last step of an epoch the ranks'
    running statistics differ. Rank 0's are the ones saved in the checkpoints.
    """
    if not info.distributed:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def shutdown(info: DistInfo) -> None:
    """Leave the process group if this module joined it."""
    if info.initialized_here and dist.is_initialized():
        # Every rank waits for the others before tearing gloo down: a rank that destroys its
        # group while rank 0 is still writing checkpoints aborted now and then ("terminate
        # called without an active exception", SIGABRT) in the 2-rank CPU test.
        try:
            dist.barrier()
        except RuntimeError:  # a peer is already gone (it failed): nothing left to wait for
            pass
        # Collect the DDP wrapper (its reducer holds the group) now rather than at interpreter
        # exit: without this a rank still aborted after the barrier above ("terminate called
        # without an active exception" with no Python frame left, i.e. during exit) in 3 of 31
        # runs of the 2-rank CPU test, with it in none of 40.
        gc.collect()
        dist.destroy_process_group()
