"""The training loop of ``seizure train``, readable top to bottom.

:func:`train` trains on the ``train`` split of a cache, validates on ``dev`` after every
epoch and writes into the run directory::

    config.yaml        the resolved config
    environment.json   seed, python/torch/numpy/CUDA/cuDNN versions, git commit, host (per start)
    metrics.jsonl      one JSON line per epoch (train loss, learning rate, windows/s, val metrics)
    last.pt, best.pt   checkpoints (see seizure.training.checkpoint)
    summary.json       final status, best metric and epoch, last metrics

Stopping and resuming. SIGINT and SIGTERM are caught: the current step finishes, ``last.pt``
is written with the exact position (epoch, batch within the epoch, RNG states) and
:func:`train` returns with ``status='interrupted'`` and ``exit_code = 128 + signal`` (130 for
SIGINT, 143 for SIGTERM); a second SIGINT aborts at once. ``resume=True`` continues from
``last.pt`` and ends with the same weights as an uninterrupted run (same device and
settings). A non-finite loss raises :class:`NonFiniteLossError` naming the step; the last good
``last.pt`` is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seizure.config import Config, ConfigError, fingerprint, from_dict, save_config, to_dict
from seizure.training import metrics as M
from seizure.training.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from seizure.training.config import RESUMABLE_KEYS, TrainConfig
from seizure.training.data import (
    EvalPlan,
    SplitData,
    ThreadFeeder,
    check_cache_matches,
    eval_plan,
    make_feeder,
    open_cache,
    to_float,
    train_plan,
)
from seizure.training.distributed import DistInfo, any_rank, broadcast_flag, init_distributed
from seizure.training.distributed import shutdown as dist_shutdown
from seizure.utils.fsio import atomic_write_text, refuse_overlap
from seizure.utils.locks import FolderLock, is_empty_folder
from seizure.utils.progress import progress
from seizure.utils.seeding import seed_everything

__all__ = [
    "NonFiniteLossError",
    "TrainStep",
    "setup_model",
    "autocast_for",
    "RunDirError",
    "StepInfo",
    "TrainResult",
    "environment_info",
    "train",
]

ModelFactory = Callable[[Any, tuple[int, ...]], torch.nn.Module]
Regularizer = Callable[[torch.nn.Module, Any], torch.Tensor]


class RunDirError(ValueError):
    """The run directory cannot be used (not empty without resume, nothing to resume)."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; ``step`` is the 1-based optimizer step."""

    def __init__(self, step: int, epoch: int, batch: int, value: float) -> None:
        self.step, self.epoch, self.batch, self.value = step, epoch, batch, value
        super().__init__(
            f"training loss is {value} at step {step} (epoch {epoch}, batch {batch}); "
            "stopped without saving this model. Lower train.learning_rate, set "
            "train.grad_clip_norm, or check the cache for non-finite windows."
        )


@dataclass
class StepInfo:
    """What a step callback sees after each optimizer step."""

    step: int
    epoch: int
    batch_in_epoch: int
    loss: torch.Tensor
    model: torch.nn.Module  # the bare model (not the DDP wrapper)


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    status: str  # completed | early_stopped | max_steps | interrupted
    run_dir: Path
    epochs_completed: int
    step: int
    best_metric: str
    best_value: float | None
    best_epoch: int | None
    history: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int = 0
    rank: int = 0  # under torchrun only rank 0's history and best values are filled in


# ------------------------------------------------------------------------------ helpers


def environment_info(config: Config, info: DistInfo | None = None) -> dict[str, Any]:
    """Seed, library versions, device and git commit of this run."""
    env: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": config.seed,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "argv": list(sys.argv),
        "git_commit": None,
    }
    if info is not None:
        env["device"] = str(info.device)
        env["world_size"] = info.world_size
        if info.device.type == "cuda":
            env["gpu"] = torch.cuda.get_device_name(info.device)
    try:
        from seizure import __version__

        env["seizure"] = __version__
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0:
            env["git_commit"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _default_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _resolve_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def _lr_lambda(cfg: Any, steps_per_epoch: int) -> Callable[[int], float]:
    """Learning-rate factor as a function of the optimizer step (warmup, then the schedule)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    warmup = cfg.warmup_steps

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if cfg.schedule == "cosine":
            p = min(1.0, (step - warmup) / max(1, total - warmup))
            return cfg.min_lr_fraction + (1 - cfg.min_lr_fraction) * 0.5 * (
                1 + math.cos(math.pi * p)
            )
        if cfg.schedule == "step":
            return cfg.step_gamma ** (step // max(1, cfg.step_epochs * steps_per_epoch))
        return 1.0

    return factor


def build_optimizer(
    model: torch.nn.Module, config: Config, device: torch.device, registry_model: bool = True
) -> torch.optim.Optimizer:
    """Adam (the paper's), AdamW or SGD over the model's trainable parameters.

    The weight decay is ``max(train.weight_decay, model.regularization.weight_decay)``; with a
    registry model it spares biases and normalisation parameters
    (``seizure.models.parameter_groups``), otherwise it applies to every trainable parameter.
    """
    cfg = config.train
    decay = max(cfg.weight_decay, config.model.regularization.weight_decay)
    if registry_model:
        from seizure.models import parameter_groups

        params: Any = parameter_groups(model, config.model, weight_decay=decay)
    else:
        params = [{"params": [p for p in model.parameters() if p.requires_grad],
                   "weight_decay": decay}]  # fmt: skip
    fused = device.type == "cuda"
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.learning_rate, fused=fused)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.learning_rate, fused=fused)
    return torch.optim.SGD(params, lr=cfg.learning_rate, momentum=cfg.momentum)


def _check_resume_config(stored: dict[str, Any], config: Config, path: Path) -> None:
    """Refuse a resumed run whose config changed outside :data:`RESUMABLE_KEYS`.

    A ``train`` key that the stored config lacks (a field added since it was written) counts
    as its default value.
    """
    now = to_dict(config)
    added_defaults = {"train": to_dict(TrainConfig())}
    changed = []
    for section in ("seed", "preprocess", "model", "train"):
        a, b = stored.get(section), now.get(section)
        if section in ("seed",):
            if a != b:
                changed.append(f"seed: {a!r} -> {b!r}")
            continue
        a = {**added_defaults.get(section, {}), **(a or {})}
        for key in sorted(set(a) | set(b or {})):
            if section == "train" and key in RESUMABLE_KEYS:
                continue
            if a.get(key) != (b or {}).get(key):
                changed.append(f"{section}.{key}: {a.get(key)!r} -> {(b or {}).get(key)!r}")
    if changed:
        raise ConfigError(
            f"{path}: cannot resume with a different config ({'; '.join(changed)}); only "
            f"train.{{{', '.join(sorted(RESUMABLE_KEYS))}}} may change on --resume"
        )


def _prepare_run_dir(run_dir: Path, resume: bool) -> Path | None:
    """Check the run directory; return ``last.pt`` to resume from, or None to start fresh."""
    last = run_dir / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a directory")
    non_empty = run_dir.is_dir() and not is_empty_folder(run_dir)
    if resume:
        if last.is_file():
            return last
        if non_empty:
            raise RunDirError(
                f"{run_dir}: --resume was asked but there is no last.pt to resume from "
                "(and the directory is not empty)"
            )
        return None
    if non_empty:
        raise RunDirError(
            f"{run_dir}: the run directory is not empty; pass --resume to continue the run "
            "it holds, or choose a new directory"
        )
    return None


class _SignalCatcher:
    """Turn SIGINT/SIGTERM into a flag checked after each step (main thread only)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _SignalCatcher:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: abort now
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def autocast_for(device: torch.device, precision: str) -> Callable[[], Any]:
    """A factory of autocast contexts for ``precision`` (``fp32``: no autocast)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def autocast() -> Any:
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)

    return autocast


def setup_model(
    config: Config,
    window_shape: tuple[int, ...],
    device: torch.device,
    model_factory: ModelFactory | None = None,
    regularizer: Regularizer | None = None,
    distributed: bool = False,
    log: Callable[[str], None] = _default_log,
) -> tuple[torch.nn.Module, torch.nn.Module, Regularizer | None, bool]:
    """Build the model on ``device``, compile it as configured and wrap it in DDP if asked.

    Returns
    -------
    model : nn.Module
        The bare model (its ``state_dict`` goes into checkpoints).
    net : nn.Module
        What the loop calls: ``model`` or its ``DistributedDataParallel`` wrapper.
    regularizer : callable or None
    registry_model : bool
        Whether the model came from ``seizure.models.build_model``.
    """
    registry_model = model_factory is None
    if model_factory is None:
        from seizure.models import build_model, regularization_loss

        model_factory = build_model
        regularizer = regularizer or regularization_loss
    model = model_factory(config.model, window_shape).to(device)
    mode = config.train.compile
    if mode == "encoder":
        # in-place Module.compile keeps the state-dict keys unchanged
        if hasattr(model, "encoder"):
            model.encoder.compile()
        else:
            log("note: the model has no 'encoder' attribute; compiling the whole model")
            model.compile()
    elif mode == "model":
        model.compile()
    net: torch.nn.Module = model
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    return model, net, regularizer, registry_model


class TrainStep:
    """One optimizer step on a batch, as ``seizure train`` does it.

    ``x`` (stored dtype, ``(B, T, *window_shape)``) is converted to float on the device;
    the forward runs under autocast; the loss is the batch-mean binary cross-entropy over
    all ``B * T`` windows (ictal windows weighted by ``pos_weight``) plus the model's
    regularization penalty; then backward, optional gradient clipping, the optimizer and
    scheduler steps. Returns the detached loss (no host synchronisation).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        net: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: torch.amp.GradScaler,
        config: Config,
        pos_weight: float,
        device: torch.device,
        precision: str,
        regularizer: Regularizer | None = None,
        scale: float | None = None,
    ) -> None:
        self.model, self.net = model, net
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self.config = config
        self.clip = config.train.grad_clip_norm
        self.pos_weight = torch.tensor(pos_weight, device=device)
        self.autocast = autocast_for(device, precision)
        self.regularizer = regularizer
        self.scale = scale

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = to_float(x, self.scale)
        with self.autocast():
            logits = self.net(x)
        loss = F.binary_cross_entropy_with_logits(
            logits.float(), y.float(), pos_weight=self.pos_weight
        )
        if self.regularizer is not None:
            loss = loss + self.regularizer(self.model, self.config.model)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.clip is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.detach()


# ------------------------------------------------------------------------------ validation


@torch.inference_mode()
def validate(
    model: torch.nn.Module,
    data: SplitData,
    feeder: Any,
    plan: EvalPlan,
    device: torch.device,
    autocast: Callable[[], Any],
    scale: float | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """Logits for every window of a split.

    Returns
    -------
    probabilities : dict
        Recording id -> float32 ictal probability per window.
    labels : dict
        Recording id -> uint8 label per window.
    loss : float
        Mean (unweighted) binary cross-entropy over all windows.
    """
    model.eval()
    logits = [np.zeros(n, dtype=np.float32) for n in data.lengths]
    T = feeder.T
    for i, (x, _) in enumerate(feeder.iterate(plan)):
        with autocast():
            out = model(to_float(x, scale))
        out = out.float().cpu().numpy()
        lo = i * plan.batch_size
        for j in range(out.shape[0]):
            r, s, k = int(plan.rec[lo + j]), int(plan.start[lo + j]), int(plan.keep_from[lo + j])
            logits[r][s + k : s + T] = out[j, k:]
    for r in plan.short:
        x = torch.from_numpy(np.array(data.windows[r]))[None].to(device)
        with autocast():
            logits[r][:] = model(to_float(x, scale)).float().cpu().numpy()[0]
    total, count = 0.0, 0
    probs, labels = {}, {}
    for rid, z, y in zip(data.ids, logits, data.labels):
        yf = y.astype(np.float64)
        zf = z.astype(np.float64)
        total += float(np.sum(np.maximum(zf, 0) - zf * yf + np.log1p(np.exp(-np.abs(zf)))))
        count += len(y)
        probs[rid] = (1.0 / (1.0 + np.exp(-zf))).astype(np.float32)
        labels[rid] = np.asarray(y, dtype=np.uint8)
    return probs, labels, total / count if count else math.nan


# ------------------------------------------------------------------------------ training


def train(
    config: Config,
    cache: str | Path | Any,
    run_dir: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    model_factory: ModelFactory | None = None,
    regularizer: Regularizer | None = None,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    stop_at_step: int | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a detector on a cache; see the module docstring for what is written.

    Parameters
    ----------
    config : Config
        The resolved config; ``config.train`` drives the loop, ``config.model`` the model,
        ``config.preprocess`` must match the cache's preprocessing.
    cache : str, Path or Cache
        A cache directory written by ``seizure preprocess``, or an opened cache object.
    run_dir : str or Path
        Output directory; must be empty or absent unless ``resume``.
    resume : bool
        Continue from ``run_dir/last.pt`` (start fresh when the directory is empty).
    device : {'auto', 'cpu', 'cuda'}
        ``auto`` uses CUDA when available. Under ``torchrun`` each rank uses
        ``cuda:LOCAL_RANK`` (or the CPU with gloo).
    model_factory : callable, optional
        ``factory(model_config, window_shape) -> nn.Module``; default
        ``seizure.models.registry.build_model``.
    regularizer : callable, optional
        ``regularizer(model, model_config) -> Tensor`` added to the batch-mean loss; default
        ``seizure.models.registry.regularization_loss`` with the default factory, none otherwise.
    callbacks : sequence of callable
        Called with a :class:`StepInfo` after every optimizer step.
    stop_at_step : int, optional
        Behave as if interrupted after this optimizer step (tests, debugging).
    log : callable, optional
        Where messages go (default: stderr); rank 0 only.

    Returns
    -------
    TrainResult

    Raises
    ------
    RunDirError, ValueError (cache mismatch), ConfigError, NonFiniteLossError,
    DeviceError, CheckpointError, InputFileError (the run folder holds the cache),
    FolderBusyError (another process is writing into the run folder)
    """
    cfg = config.train
    run_dir = Path(run_dir)
    info, notes = init_distributed(device)
    say = (log or _default_log) if info.is_main else (lambda message: None)
    lock = FolderLock(run_dir, ".lock", "run folder")
    try:
        if info.is_main:
            if isinstance(cache, (str, Path)):
                refuse_overlap(run_dir, [cache], "run folder")
            if run_dir.exists() and not run_dir.is_dir():
                raise RunDirError(f"{run_dir}: exists and is not a directory")
            lock.acquire()  # one writer per run folder; released when this process ends
        for note in notes:
            say(note)
        return _train(
            config,
            cfg,
            cache,
            run_dir,
            resume,
            info,
            say,
            model_factory,
            regularizer,
            callbacks,
            stop_at_step,
        )
    finally:
        lock.release()
        dist_shutdown(info)


def _train(
    config: Config,
    cfg: Any,
    cache: Any,
    run_dir: Path,
    resume: bool,
    info: DistInfo,
    say: Callable[[str], None],
    model_factory: ModelFactory | None,
    regularizer: Regularizer | None,
    callbacks: Sequence[Callable[[StepInfo], None]],
    stop_at_step: int | None,
) -> TrainResult:
    device = info.device
    wall_start = time.perf_counter()

    # ---- run directory, resume point and cache --------------------------------------------
    resume_from = _prepare_run_dir(run_dir, resume)
    if info.distributed:
        torch.distributed.barrier()  # every rank has looked before rank 0 writes
    ckpt = load_checkpoint(resume_from) if resume_from is not None else None
    if ckpt is not None:
        _check_resume_config(ckpt["config"], config, resume_from)
    if isinstance(cache, (str, Path)):
        cache = open_cache(cache)
    check_cache_matches(cache, config.preprocess)
    if ckpt is not None and ckpt.get("cache_fingerprint") != cache.fingerprint:
        raise ValueError(
            f"{resume_from}: was trained on a cache with preprocess fingerprint "
            f"{ckpt.get('cache_fingerprint')}, this cache has {cache.fingerprint}"
        )
    metric_name = cfg.early_stopping_metric
    known = M.known_metrics()
    if metric_name not in known:
        raise ConfigError(
            f"Invalid value for 'train.early_stopping_metric': allowed "
            f"{', '.join(repr(k) for k in sorted(known))}, got {metric_name!r} instead"
        )
    mode = M.metric_mode(metric_name, cfg.early_stopping_mode)

    # ---- reproducibility and device settings ------------------------------------------------
    seed_everything(config.seed)
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark and not cfg.deterministic
        torch.set_float32_matmul_precision("high")
    precision = _resolve_precision(cfg.precision, device)
    autocast = autocast_for(device, precision)

    # ---- data ---------------------------------------------------------------------------------
    T = cfg.sequence_windows
    train_data = SplitData.from_cache(cache, "train")
    dev_data = SplitData.from_cache(cache, "dev")
    window_shape = train_data.window_shape
    scale = getattr(cache, "scale", None)
    usable = train_data.lengths >= T
    if not usable.any():
        raise ValueError(
            f"no training recording holds train.sequence_windows={T} windows "
            f"(longest: {int(train_data.lengths.max(initial=0))}); lower train.sequence_windows"
        )
    dev_ictal = sum(int(y.sum()) for y in dev_data.labels)
    dev_total = sum(len(y) for y in dev_data.labels)
    if dev_total and dev_ictal in (0, dev_total) and metric_name != "val_loss":
        # a one-class dev split has no AUROC (nor sensitivity at a false-alarm budget): the
        # metric would be NaN every epoch and best.pt would never move past epoch 1
        say(
            f"note: the dev split holds {'no' if dev_ictal == 0 else 'only'} ictal windows, so "
            f"{metric_name} is undefined; early stopping and best.pt use val_loss instead"
        )
        metric_name, mode = "val_loss", M.metric_mode("val_loss")
    # Only recordings of at least T windows are cut into training sequences: the class
    # balance and the log count those windows, and the user is told what is left out.
    kept = np.flatnonzero(usable)
    n_win = int(train_data.lengths[kept].sum())
    n_ictal = int(sum(int(train_data.labels[i].sum()) for i in kept))
    short = np.flatnonzero(~usable)
    if len(short):
        short_ictal = int(sum(int(train_data.labels[i].sum()) for i in short))
        say(
            f"note: {len(short)} training recording(s) shorter than train.sequence_windows={T} "
            f"windows are not trained on ({int(train_data.lengths[short].sum())} windows, "
            f"{short_ictal} ictal); lower train.sequence_windows to use them"
        )
    if cfg.imbalance == "pos_weight":
        pos_weight = cfg.pos_weight or (float((n_win - n_ictal) / n_ictal) if n_ictal else 1.0)
    else:
        pos_weight = cfg.pos_weight or 1.0
    oversample = cfg.oversample_fraction if cfg.imbalance == "oversample" else None
    plan_args = dict(
        T=T, batch_size=cfg.batch_size, seed=config.seed, sampling=cfg.sequence_sampling,
        oversample_fraction=oversample, rank=info.rank, world_size=info.world_size,
    )  # fmt: skip
    steps_per_epoch = len(train_plan(train_data, epoch=0, **plan_args))
    if steps_per_epoch == 0:
        raise ValueError(
            f"the training split gives fewer sequences than one global batch "
            f"(train.batch_size={cfg.batch_size} x {info.world_size} process(es)); "
            "lower train.batch_size or train.sequence_windows"
        )

    # ---- model, optimizer, schedule -----------------------------------------------------------
    model, net, regularizer, registry_model = setup_model(
        config, window_shape, device, model_factory, regularizer, info.distributed, say
    )
    if info.distributed:
        # the same initial weights everywhere (seeded above), then one dropout stream per rank
        torch.manual_seed(config.seed + 7919 * info.rank)
    optimizer = build_optimizer(model, config, device, registry_model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, steps_per_epoch))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    train_step = TrainStep(model, net, optimizer, scheduler, scaler, config, pos_weight, device,
                           precision, regularizer, scale)  # fmt: skip

    # ---- state, possibly restored -------------------------------------------------------------
    epoch, batch_in_epoch, step = 0, 0, 0
    best: dict[str, Any] = {"metric": metric_name, "value": None, "epoch": None, "bad_epochs": 0}
    epoch_loss = {"sum": 0.0, "batches": 0}
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        epoch, batch_in_epoch, step = ckpt["epoch"], ckpt["batch_in_epoch"], ckpt["step"]
        per_rank = ckpt.get("rng_per_rank") or [ckpt["rng"]]
        old_world = int(ckpt.get("world_size", 1))
        if len(per_rank) == info.world_size:
            restore_rng_state(per_rank[info.rank])
        else:
            restore_rng_state(per_rank[0])
            torch.manual_seed(config.seed + 7919 * info.rank + step)
        if old_world != info.world_size:
            # batch_size is per process: the global batch changed size; resume at the batch
            # holding the same number of sequences (the run is no longer bit-exact)
            batch_in_epoch = batch_in_epoch * old_world // info.world_size
            say(
                f"note: the run was saved with {old_world} process(es), resumed with "
                f"{info.world_size}: global batches change size from here on"
            )
        best = dict(ckpt["early_stopping"])
        epoch_loss = dict(ckpt.get("epoch_loss", epoch_loss))
        say(f"resuming {resume_from} at epoch {epoch + 1}, batch {batch_in_epoch}, step {step}")

    history: list[dict[str, Any]] = []
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
        env_path = run_dir / "environment.json"
        starts = json.loads(env_path.read_text())["starts"] if env_path.is_file() else []
        starts.append(environment_info(config, info))
        atomic_write_text(env_path, json.dumps({"starts": starts}, indent=1) + "\n")
        history = _read_history(run_dir / "metrics.jsonl", keep_epochs=epoch)

    def gather_rng() -> list[dict[str, Any]]:
        """Every rank's generator states (a collective: all ranks call it)."""
        state = capture_rng_state()
        if not info.distributed:
            return [state]
        states: list[Any] = [None] * info.world_size
        torch.distributed.all_gather_object(states, state)
        return states

    def checkpoint_state(rngs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "step": step,
            "rng": rngs[0],
            "rng_per_rank": rngs if len(rngs) > 1 else None,
            "world_size": info.world_size,
            "sampler": {"seed": config.seed, "epoch": epoch, "batch_in_epoch": batch_in_epoch},
            "early_stopping": dict(best),
            "epoch_loss": dict(epoch_loss),
            "config": to_dict(config),
            "window_shape": list(window_shape),
            "cache_fingerprint": cache.fingerprint,
            "preprocess_fingerprint": fingerprint(config.preprocess),
            "versions": {
                "python": platform.python_version(),
                "torch": str(torch.__version__),
                "numpy": str(np.__version__),
                "cuda": None if torch.version.cuda is None else str(torch.version.cuda),
            },
            "metrics": dict(history[-1]) if history else {},
        }

    # ---- feeders ------------------------------------------------------------------------------
    feeder, feeder_kind = make_feeder(
        cfg.feeder, train_data, device, T, cfg.batch_size, cfg.num_workers,
        cfg.prefetch_batches, cfg.gpu_resident_fraction,
    )  # fmt: skip
    eval_bs = cfg.eval_batch_size or cfg.batch_size
    dev_feeder = dev_plan = None
    if info.is_main and dev_data.ids:
        dev_feeder = ThreadFeeder(dev_data, device, T, eval_bs, cfg.num_workers, 2)
        dev_plan = eval_plan(dev_data, T, eval_bs)
    say(
        f"training on {device} ({info.world_size} process(es)), {precision}, "
        f"compile={cfg.compile}, feeder={feeder_kind}; train: {len(kept)} recordings, "
        f"{n_win} windows ({100 * n_ictal / max(1, n_win):.1f}% ictal), "
        f"{steps_per_epoch} steps/epoch of {cfg.batch_size}x{T} windows per process; "
        f"imbalance={cfg.imbalance} (pos_weight={pos_weight:.3g}); dev: {len(dev_data.ids)} "
        f"recordings"
    )
    if not dev_data.ids:
        say("note: the cache has no dev split; no validation, best.pt follows last.pt")

    # ---- the loop -----------------------------------------------------------------------------
    check_every = 1 if device.type == "cpu" and not info.distributed else cfg.log_every_steps
    status = "completed"
    exit_code = 0
    recent = torch.zeros(check_every, device=device)
    n_recent = 0
    total_steps = cfg.max_steps
    with contextlib.ExitStack() as cleanup, _SignalCatcher() as signals:
        cleanup.callback(feeder.close)
        if dev_feeder is not None:
            cleanup.callback(dev_feeder.close)
        while epoch < cfg.epochs:
            plan = train_plan(train_data, epoch=epoch, **plan_args)
            net.train()
            bar = progress(
                total=len(plan) * cfg.batch_size * T * info.world_size,
                initial=batch_in_epoch * cfg.batch_size * T * info.world_size,
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                unit="win",
                unit_scale=True,
                disable=None if (cfg.progress and info.is_main) else True,
            )
            t0 = time.perf_counter()
            first_batch = batch_in_epoch
            stop_reason: str | None = None
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            for x, y in feeder.iterate(plan, batch_in_epoch):
                loss = train_step(x, y)
                step += 1
                batch_in_epoch += 1
                loss_sum += loss
                recent[n_recent] = loss
                n_recent += 1
                bar.update(cfg.batch_size * T * info.world_size)

                # host/device sync only every `check_every` steps (every step on the CPU);
                # under torchrun the stop flag is agreed on at these steps only
                stop = signals.signum is not None and not info.distributed
                if n_recent == check_every or batch_in_epoch == len(plan):
                    values = recent[:n_recent].cpu().numpy()
                    bad = np.flatnonzero(~np.isfinite(values))
                    bad_step = step - n_recent + 1 + int(bad[0]) if len(bad) else 0
                    flags = torch.tensor([bad_step, int(signals.signum is not None)])
                    if info.distributed:
                        flags = flags.to(device if device.type == "cuda" else "cpu")
                        torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
                        stop = bool(flags[1])
                    bad_step = int(flags[0])
                    if bad_step:
                        bar.close()
                        value = float(values[bad[0]]) if len(bad) else math.nan
                        err = NonFiniteLossError(
                            bad_step, epoch + 1, bad_step - (step - batch_in_epoch), value
                        )
                        if info.is_main:
                            _write_summary(run_dir, "failed", str(err), epoch, step, best,
                                           history, wall_start)  # fmt: skip
                        raise err
                    bar.set_postfix(loss=f"{values.mean():.4f}", refresh=False)
                    n_recent = 0
                for cb in callbacks:
                    cb(StepInfo(step, epoch + 1, batch_in_epoch, loss, model))
                if signals.signum is not None and not info.distributed:
                    stop = True  # a callback may have raised the signal
                if stop or (stop_at_step is not None and step >= stop_at_step):
                    stop_reason = "interrupted"
                    break
                if total_steps is not None and step >= total_steps:
                    stop_reason = "max_steps"
                    break
                if cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0:
                    epoch_loss = _add_loss(epoch_loss, loss_sum, batch_in_epoch - first_batch)
                    loss_sum.zero_()
                    first_batch = batch_in_epoch
                    rngs = gather_rng()
                    if info.is_main:
                        save_checkpoint(run_dir / "last.pt", checkpoint_state(rngs))
            bar.close()
            epoch_loss = _add_loss(epoch_loss, loss_sum, batch_in_epoch - first_batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_s = time.perf_counter() - t0
            n_done = (batch_in_epoch - first_batch) * cfg.batch_size * T * info.world_size

            if stop_reason == "interrupted":
                status = "interrupted"
                rngs = gather_rng()
                if info.is_main:
                    save_checkpoint(run_dir / "last.pt", checkpoint_state(rngs))
                signum = signals.signum
                exit_code = 128 + signum if signum else 0
                name = signal.Signals(signum).name if signum else "stop_at_step"
                say(
                    f"{name}: stopped after step {step} (epoch {epoch + 1}, batch "
                    f"{batch_in_epoch}); saved {run_dir / 'last.pt'}; continue with --resume"
                )
                break

            # ---- end of epoch (or of max_steps): validate, log, checkpoint, early stopping ----
            train_loss = epoch_loss["sum"] / max(1, epoch_loss["batches"])
            row: dict[str, Any] = {
                "epoch": epoch + 1,
                "step": step,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": train_loss,
                "train_windows_per_s": n_done / train_s if train_s > 0 else math.nan,
                "train_s": train_s,
            }
            if stop_reason == "max_steps":
                row["partial_epoch"] = True
            else:
                epoch, batch_in_epoch = epoch + 1, 0
                epoch_loss = {"sum": 0.0, "batches": 0}
            stop_early = False
            rngs = gather_rng()  # validation draws no random numbers
            if info.is_main:
                t1 = time.perf_counter()
                if dev_feeder is not None:
                    probs, labels, val_loss = validate(
                        model, dev_data, dev_feeder, dev_plan, device, autocast, scale
                    )
                    result = M.ValidationResult(
                        probs, labels,
                        events={i: cache.events(i) for i in dev_data.ids},
                        durations_s={r.recording_id: r.duration_s for r in cache.split("dev")},
                        window_seconds=cache.window_seconds, stride_seconds=cache.stride_seconds,
                        loss=val_loss, epoch=row["epoch"],
                    )  # fmt: skip
                    row.update(M.compute_validation_metrics(result, config))
                row["val_s"] = time.perf_counter() - t1
                value = row.get(metric_name, math.nan)
                improved = M.better(value, best["value"], mode, cfg.min_delta)
                if improved:
                    best.update(value=value, epoch=row["epoch"], bad_epochs=0)
                else:
                    best["bad_epochs"] += 1
                history.append(row)
                _append_jsonl(run_dir / "metrics.jsonl", row)
                state = checkpoint_state(rngs)
                save_checkpoint(run_dir / "last.pt", state)
                if improved or not (run_dir / "best.pt").exists() or dev_feeder is None:
                    save_checkpoint(run_dir / "best.pt", state)
                stop_early = cfg.patience > 0 and best["bad_epochs"] >= cfg.patience
                say(_epoch_line(row, metric_name, best))
                net.train()
            if info.distributed:
                stop_early = broadcast_flag(stop_early, info)
            if stop_reason == "max_steps":
                status = "max_steps"
                say(f"reached train.max_steps={cfg.max_steps}")
                break
            if stop_early:
                status = "early_stopped"
                say(
                    f"early stopping: {metric_name} did not improve for {cfg.patience} epoch(s); "
                    + (
                        f"best {best['value']:.4f} at epoch {best['epoch']}"
                        if best["value"] is not None
                        else "it was never finite"
                    )
                )
                break
            if epoch < cfg.epochs and any_rank(signals.signum is not None, info):
                status = "interrupted"
                exit_code = 128 + signals.signum if signals.signum else 0
                name = signal.Signals(signals.signum).name if signals.signum else "a signal"
                say(
                    f"{name}: stopped after epoch {epoch} (step {step}); saved "
                    f"{run_dir / 'last.pt'}; continue with --resume"
                )
                break

    if info.is_main:
        _write_summary(run_dir, status, None, epoch, step, best, history, wall_start,
                       extra={"device": str(device), "world_size": info.world_size,
                              "feeder": feeder_kind, "precision": precision})  # fmt: skip
    return TrainResult(
        status=status,
        run_dir=run_dir,
        epochs_completed=epoch,
        step=step,
        best_metric=metric_name,
        best_value=best["value"],
        best_epoch=best["epoch"],
        history=history,
        exit_code=exit_code,
        rank=info.rank,
    )


def _add_loss(acc: dict[str, Any], loss_sum: torch.Tensor, batches: int) -> dict[str, Any]:
    return {"sum": acc["sum"] + float(loss_sum), "batches": acc["batches"] + batches}


def _epoch_line(row: dict[str, Any], metric: str, best: dict[str, Any]) -> str:
    parts = [f"epoch {row['epoch']}", f"step {row['step']}", f"loss {row['train_loss']:.4f}"]
    parts.append(f"{row['train_windows_per_s']:,.0f} windows/s")
    for key in ("val_loss", "window_auroc", "window_sensitivity", "window_specificity"):
        if key in row:
            parts.append(f"{key} {row[key]:.4f}")
    if metric in row and metric not in ("val_loss", "window_auroc"):
        parts.append(f"{metric} {row[metric]:.4f}")
    if best["value"] is not None:
        parts.append(f"(best {metric} {best['value']:.4f} at epoch {best['epoch']})")
    return ", ".join(parts)


def _append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(_jsonable(row)) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _read_history(path: Path, keep_epochs: int) -> list[dict[str, Any]]:
    """Rows of ``metrics.jsonl`` for epochs ``<= keep_epochs`` (rewritten without the rest)."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("epoch", 0) <= keep_epochs and not r.get("partial_epoch")]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _write_summary(
    run_dir: Path,
    status: str,
    error: str | None,
    epoch: int,
    step: int,
    best: dict[str, Any],
    history: list[dict[str, Any]],
    wall_start: float,
    extra: dict[str, Any] | None = None,
) -> None:
    summary = {
        "status": status,
        "error": error,
        "epochs_completed": epoch,
        "steps": step,
        "best": {k: best[k] for k in ("metric", "value", "epoch")},
        "last_metrics": _jsonable(history[-1]) if history else {},
        "wall_s": time.perf_counter() - wall_start,
        **(extra or {}),
    }
    atomic_write_text(run_dir / "summary.json", json.dumps(_jsonable(summary), indent=1) + "\n")


def config_from_checkpoint(path: str | Path) -> Config:
    """The resolved config stored in a checkpoint."""
    return from_dict(Config, load_checkpoint(path)["config"])
