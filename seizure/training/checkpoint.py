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

import hashlib
import io
import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seizure.training.errors import NonFiniteLossError
from seizure.utils.errors import InputFileError, SeizureError
from seizure.utils.fsio import atomic_open

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "NonFiniteModelError",
    "capture_rng_state",
    "check_finite_weights",
    "count_non_finite",
    "load_checkpoint",
    "load_model_from_checkpoint",
    "read_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "seizure-checkpoint"
CHECKPOINT_VERSION = 1
_REQUIRED = ("model", "config", "window_shape", "epoch", "step")


class CheckpointError(InputFileError):
    """A checkpoint file is missing, corrupt, or not a ``seizure`` checkpoint."""


class NonFiniteModelError(NonFiniteLossError):
    """The model's weights hold NaN or infinite values, so no checkpoint of it is written.

    A :class:`~seizure.training.errors.NonFiniteLossError` (the training loop reports both
    alike), raised before the loss itself turns non-finite: an update can make weights
    infinite while the loss of the step that made it was finite.

    Parameters
    ----------
    path : Path
        The checkpoint that was not written.
    count : int
        Non-finite values over all the model's tensors.
    total : int
        Values in the model's floating-point tensors.
    step : int or None
        Optimizer steps taken when the model was to be saved.
    first : str
        Name of the first tensor holding a non-finite value.
    """

    def __init__(self, path: Path, count: int, total: int, step: int | None, first: str) -> None:
        self.path, self.count, self.total, self.first = path, count, total, first
        self.step, self.epoch, self.batch, self.value = step, None, None, float("nan")
        at = f" after step {step}" if step is not None else ""
        SeizureError.__init__(
            self,
            f"{path}: not written: the model holds {count:,} non-finite parameter values "
            f"(NaN or inf) of {total:,}{at} (first in {first}); the last good checkpoint is "
            "left as it was. Lower train.learning_rate, set train.grad_clip_norm, or check "
            "train.weight_decay and the cache for non-finite windows.",
        )


def count_non_finite(weights: Mapping[str, Any]) -> tuple[int, int, list[str]]:
    """Count the NaN and infinite values in a state dict.

    Parameters
    ----------
    weights : mapping of str to Tensor
        A model's ``state_dict()`` (entries that are not floating-point tensors are skipped).

    Returns
    -------
    count : int
        Non-finite values over every floating-point tensor.
    total : int
        Values in those tensors.
    names : list of str
        Names of the tensors that hold a non-finite value, in state-dict order.
    """
    floats = [
        (name, value)
        for name, value in weights.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point()
    ]
    total = sum(value.numel() for _, value in floats)
    if not floats:
        return 0, 0, []
    # One count per tensor, stacked where the first tensor lives and brought to the host in
    # one transfer: one synchronization, not one per tensor.
    device = floats[0][1].device
    with torch.no_grad():
        per_tensor = torch.stack(
            [torch.isfinite(v).logical_not().sum().to(device) for _, v in floats]
        ).tolist()
    names = [name for (name, _), bad in zip(floats, per_tensor) if bad]
    return int(sum(per_tensor)), total, names


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically, refusing a model with non-finite weights.

    ``torch.save`` writes a temporary file beside ``path``, which is flushed, fsynced and
    renamed over ``path`` (``os.replace``): a process killed during the save leaves the
    previous checkpoint intact.

    Parameters
    ----------
    path : str or Path
        Destination (``last.pt``, ``best.pt``).
    state : dict
        Checkpoint content (see the module docstring); ``format`` and ``version`` are added.

    Raises
    ------
    NonFiniteModelError
        When ``state["model"]`` holds NaN or infinite values (naming how many and the step);
        ``path`` is then left as it was.
    """
    count, total, names = count_non_finite(state.get("model") or {})
    if count:
        step = state.get("step")
        raise NonFiniteModelError(Path(path), count, total, None if step is None else int(step),
                                  names[0])  # fmt: skip
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
    return read_checkpoint(path, map_location)[0]


def read_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], str]:
    """Read a checkpoint once: its content and the sha256 of the very bytes it came from.

    The file is read into memory in one pass, hashed, and deserialized from those bytes, so
    the hash always identifies the weights returned, even while training rewrites the file
    (a ``last.pt`` is replaced by a rename every ``train.checkpoint_every_steps``).

    Parameters
    ----------
    path : str or Path
        A ``last.pt`` or ``best.pt``.
    map_location : str or torch.device
        Where tensors are loaded (default CPU).

    Returns
    -------
    state : dict
        The checkpoint (see the module docstring).
    sha256 : str
        Hex digest of the file's bytes.

    Raises
    ------
    CheckpointError
        As :func:`load_checkpoint`.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint file does not exist")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(path, f"cannot read the checkpoint: {err.strerror or err}") from err
    sha = hashlib.sha256(data).hexdigest()
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
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
    return state, sha


def load_model_from_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    model_factory: Callable[[Any, tuple[int, ...]], torch.nn.Module] | None = None,
    *,
    state: Mapping[str, Any] | None = None,
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
    state : mapping, optional
        The checkpoint already read from ``path`` (:func:`read_checkpoint`): the file is then
        not read again, so the weights are those of the bytes already hashed.

    Returns
    -------
    model : torch.nn.Module
        In ``eval()`` mode, on ``device``.
    config : seizure.config.Config
        The resolved config of the run.
    window_shape : tuple of int
        Per-window input shape the model expects.

    Raises
    ------
    CheckpointError
        When the file cannot be read, its config is not valid, or its weights hold NaN or
        infinite values (naming how many).
    seizure.models.ModelStateError
        When the weights do not fit the model of its config (missing or unexpected entries,
        other shapes: a checkpoint of another cell or size).
    """
    from seizure.config import Config, ConfigError, from_dict
    from seizure.models import load_state_checked

    if state is None:
        state = load_checkpoint(path)
    try:
        config = from_dict(Config, state["config"])
    except ConfigError as err:
        raise CheckpointError(path, f"stored config is not valid here: {err}") from err
    check_finite_weights(state["model"], path)
    window_shape = stored_window_shape(state, path)
    model = _build_for_loading(model_factory, config.model, window_shape)
    meta = _holds_meta(model)
    load_state_checked(model, state["model"], path, assign=meta)
    if meta and _holds_meta(model):  # a tensor the file does not hold was left on meta
        model = _build_for_loading(model_factory, config.model, window_shape, meta=False)
        load_state_checked(model, state["model"], path)
    model.to(device)
    model.eval()
    return model, config, window_shape


def _build_for_loading(
    factory: Callable[..., torch.nn.Module] | None,
    model_config: Any,
    window_shape: tuple[int, ...],
    *,
    meta: bool = True,
) -> torch.nn.Module:
    """Build the model whose weights are loaded next, without running its initializers.

    The default factory is called with ``initialize=False``. With ``meta``, the model is
    built on the ``meta`` device (no memory, no random draws); a model that cannot be built
    there (its constructor computes with its tensors, as an ESN draws its reservoir) is built
    on the CPU instead.
    """
    kwargs: dict[str, Any] = {}
    if factory is None:
        from seizure.models.registry import build_model as factory

        kwargs["initialize"] = False
    if meta:
        try:
            with torch.device("meta"):
                return factory(model_config, window_shape, **kwargs)
        except (RuntimeError, NotImplementedError, TypeError, ValueError):
            pass  # built again on the CPU below, where a genuine error is raised again
    return factory(model_config, window_shape, **kwargs)


def _holds_meta(model: torch.nn.Module) -> bool:
    """Tell whether a parameter or buffer of ``model`` is on the ``meta`` device."""
    tensors = [*model.parameters(), *model.buffers()]
    return any(t.is_meta for t in tensors)


#: Most values one window may hold (16M: 64 MiB in float32, thousands of times a real
#: window's 22 x 256), so a damaged shape such as ``[22, 1e9]`` cannot allocate terabytes.
MAX_WINDOW_VALUES = 1 << 24


def stored_window_shape(state: Mapping[str, Any], path: str | Path | None) -> tuple[int, ...]:
    """Return the checkpoint's window shape after checking that it is sane.

    Parameters
    ----------
    state : mapping
        A checkpoint as :func:`load_checkpoint` returns it.
    path : path or None
        The checkpoint, for the message.

    Returns
    -------
    tuple of int

    Raises
    ------
    CheckpointError
        When the stored shape is not a list of positive integers holding at most
        :data:`MAX_WINDOW_VALUES` values (a damaged or hand-made file).
    """
    raw = state.get("window_shape")
    try:
        shape = tuple(int(v) for v in raw)
        sane = bool(shape) and all(n > 0 for n in shape) and math.prod(shape) <= MAX_WINDOW_VALUES
    except (TypeError, ValueError, OverflowError):
        sane = False
    if not sane:
        raise CheckpointError(
            path,
            f"stored window_shape {raw!r} is not a shape of at most {MAX_WINDOW_VALUES:,} "
            "positive values; the checkpoint is damaged or was not written by seizure train",
        )
    return shape


def check_finite_weights(weights: Mapping[str, Any], path: str | Path | None) -> None:
    """Refuse model weights that hold NaN or infinite values.

    Parameters
    ----------
    weights : mapping of str to Tensor
        A checkpoint's ``model`` entry.
    path : str, Path or None
        The file they were read from, named in the error.

    Raises
    ------
    CheckpointError
        Naming the file, how many values are not finite and in which tensors.
    """
    if not isinstance(weights, Mapping):
        return  # load_state_checked names what is wrong with it
    count, total, names = count_non_finite(weights)
    if count:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise CheckpointError(
            path,
            f"the model's weights hold {count:,} non-finite values (NaN or inf) of {total:,}, "
            f"in {shown}; this model cannot be used. Train again with a lower "
            "train.learning_rate or train.grad_clip_norm set, or use an earlier checkpoint",
        )


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
