"""Checkpoints: written atomically, read back with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors and python values (no pickled objects), so it can be
loaded with ``weights_only=True``:

========================  ===============================================================
key                       content
========================  ===============================================================
``format``, ``version``   ``"seizure-checkpoint"``, :data:`CHECKPOINT_VERSION`
``model``                 ``state_dict()`` of the bare model (no DDP/compile prefixes)
``optimizer``             optimizer ``state_dict()``
``scheduler``             learning-rate scheduler ``state_dict()``
``scaler``                gradient scaler ``state_dict()`` (empty unless fp16)
``epoch``                 epochs completed before the current one (0-based index of it)
``batch_in_epoch``        batches of the current epoch already trained (0 at an epoch end)
``step``                  optimizer steps taken in total
``rng``                   python, numpy, torch CPU and CUDA generator states (rank 0)
``rng_per_rank``          every rank's states under torchrun (None for one process)
``world_size``            processes that trained it (``batch_size`` is per process)
``sampler``               ``{"seed", "epoch", "batch_in_epoch"}``: the sequence plan of an
                          epoch is a pure function of (seed, epoch), so these fix the position
``early_stopping``        best value, its epoch, epochs without improvement, the metric
``config``                the resolved config (``seizure.config.to_dict``)
``window_shape``          per-window array shape, list of ints
``cache_fingerprint``     fingerprint of the cache's preprocessing
``versions``              python, torch, numpy, CUDA, cuDNN, git commit
``metrics``               validation metrics of the last finished epoch
========================  ===============================================================
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seizure.utils.errors import InputFileError
from seizure.utils.fsio import atomic_open

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "capture_rng_state",
    "load_checkpoint",
    "load_model_from_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "seizure-checkpoint"
CHECKPOINT_VERSION = 1
_REQUIRED = ("model", "config", "window_shape", "epoch", "step")


class CheckpointError(InputFileError):
    """A checkpoint file is missing, corrupt, or not a ``seizure`` checkpoint."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically.

    ``torch.save`` writes a temporary file beside ``path``, which is flushed, fsynced and
    renamed over ``path`` (``os.replace``): a process killed during the save leaves the
    previous checkpoint intact.

    Parameters
    ----------
    path : str or Path
        Destination (``last.pt``, ``best.pt``).
    state : dict
        Checkpoint content (see the module docstring); ``format`` and ``version`` are added.
    """
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``seizure train``.

    Parameters
    ----------
    path : str or Path
        A ``last.pt`` or ``best.pt``.
    map_location : str or torch.device
        Where tensors are loaded (default CPU).

    Returns
    -------
    dict
        The checkpoint (see the module docstring).

    Raises
    ------
    CheckpointError
        When the file is missing, truncated or corrupt, holds pickled objects (refused by
        ``weights_only=True``), or is not a ``seizure`` checkpoint; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a damaged file fails in many ways (KeyError, EOFError, ...)
        lines = [x.strip() for x in str(err).splitlines() if x.strip()]
        # weights_only names the offending class on a line of its own
        detail = next((x for x in lines if "Unsupported global" in x), lines[0] if lines else "")
        first = f"{type(err).__name__}: {detail}".rstrip(": ")
        raise CheckpointError(
            path, f"not a readable seizure checkpoint (corrupt, truncated or foreign): {first}"
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            path, f"not a seizure checkpoint (no 'format: {CHECKPOINT_FORMAT}' entry)"
        )
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            path,
            f"checkpoint version {state.get('version')!r} is not supported "
            f"(expected {CHECKPOINT_VERSION})",
        )
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise CheckpointError(path, f"checkpoint lacks the entries {', '.join(missing)}")
    return state


def load_model_from_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    model_factory: Callable[[Any, tuple[int, ...]], torch.nn.Module] | None = None,
) -> tuple[torch.nn.Module, Any, tuple[int, ...]]:
    """Rebuild the trained model stored in a checkpoint, ready for inference.

    Parameters
    ----------
    path : str or Path
        A ``last.pt`` or ``best.pt`` written by ``seizure train``.
    device : str or torch.device
        Where to put the model.
    model_factory : callable, optional
        ``factory(model_config, window_shape) -> nn.Module``; default
        ``seizure.models.registry.build_model``.

    Returns
    -------
    model : torch.nn.Module
        In ``eval()`` mode, on ``device``.
    config : seizure.config.Config
        The resolved config of the run.
    window_shape : tuple of int
        Per-window input shape the model expects.
    """
    from seizure.config import Config, ConfigError, from_dict

    state = load_checkpoint(path)
    try:
        config = from_dict(Config, state["config"])
    except ConfigError as err:
        raise CheckpointError(path, f"stored config is not valid here: {err}") from err
    window_shape = tuple(int(v) for v in state["window_shape"])
    if model_factory is None:
        from seizure.models.registry import build_model as model_factory
    model = model_factory(config.model, window_shape)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(path, f"weights do not fit the model of its config: {err}") from err
    model.to(device)
    model.eval()
    return model, config, window_shape


# ----------------------------------------------------------------------------- RNG states


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy (legacy global), torch CPU and CUDA generator states, weights_only-safe."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
