"""Devices and the defaults that depend on them: which device, how big a batch, bf16 or not.

:func:`resolve_device` is the one place where a ``--device`` name becomes a
:class:`torch.device`, for inference (``evaluate``, ``detect``) and for training (which passes
``torchrun``'s local rank so that each process drives its own GPU).
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import torch

from seizure.utils.errors import SeizureError, invalid_value_message

__all__ = [
    "DEFAULT_BATCH_SEQUENCES",
    "SMALL_GPU_BATCH_SEQUENCES",
    "DeviceError",
    "cpu_has_bf16",
    "default_batch_sequences",
    "default_reader_threads",
    "fold_batchnorm",
    "gpu_hint",
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


class DeviceError(SeizureError):
    """The requested device does not exist or cannot be used (e.g. ``cuda`` without CUDA)."""


def gpu_hint() -> str | None:
    """Return a reason to believe a GPU exists although this PyTorch cannot use it, or None."""
    if torch.cuda.is_available():
        return None
    if Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi"):
        build = "without CUDA support" if torch.version.cuda is None else "with CUDA"
        return (
            f"an NVIDIA GPU seems present but PyTorch {torch.__version__} (built {build}) "
            "cannot use it; install a CUDA build of PyTorch to use it"
        )
    return None


def resolve_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    """Turn ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` into a :class:`torch.device`.

    Parameters
    ----------
    name : str
        ``auto`` (a CUDA GPU when there is one, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``.
    local_rank : int, optional
        The process's rank on its machine (``torchrun``'s ``LOCAL_RANK``): ``auto`` and
        ``cuda`` then mean GPU ``local_rank % device_count``. None: the current CUDA device
        (``torch.device('cuda')``).

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError
        On an unknown name, or a CUDA device asked for when none is available (the message
        says why, and what to do).
    """
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise DeviceError(invalid_value_message("device", name, ("auto", "cpu", "cuda", "cuda:N")))
    has_cuda = torch.cuda.is_available()
    if name.startswith("cuda") and not has_cuda:
        hint = gpu_hint() or "no CUDA device is visible to PyTorch"
        raise DeviceError(
            f"--device {name} was asked but CUDA is not available ({hint}); "
            "use --device cpu or --device auto"
        )
    if name == "cpu" or not has_cuda:
        return torch.device("cpu")
    if name.startswith("cuda:"):
        return torch.device(name)
    if local_rank is None:
        return torch.device("cuda")
    return torch.device("cuda", int(local_rank) % max(1, torch.cuda.device_count()))


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


def cpu_has_bf16() -> bool:
    """Return True when this CPU computes bf16 natively (oneDNN: AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Return a copy of ``model`` for inference with its batch norms folded.

    Each ``Conv -> BatchNorm`` pair of an ``nn.Sequential`` is folded into one convolution
    (the batch norm becomes ``Identity``).

    Only batch norms in eval mode with running statistics are folded; the output equals the
    original's up to float rounding. The copy's state-dict keys differ: do not save it.

    Parameters
    ----------
    model : torch.nn.Module
        Left unchanged.

    Returns
    -------
    torch.nn.Module
        The folded copy, in eval mode, on ``model``'s device.
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
