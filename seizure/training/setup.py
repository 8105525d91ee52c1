"""Everything before the first optimizer step of :func:`seizure.training.loop.train`.

:func:`setup_run` prepares the run directory and the resume point, opens and checks the
cache, seeds and configures torch, builds the model, the :class:`~seizure.training.state.
TrainState` (fresh or from ``last.pt``) and the feeders, and returns them with the fixed
settings of the run as one :class:`Run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seizure.config import Config, ConfigError
from seizure.models import load_state_checked
from seizure.training import metrics as M
from seizure.training.checkpoint import load_checkpoint, restore_rng_state
from seizure.training.data import (
    EvalPlan,
    SplitData,
    ThreadFeeder,
    check_cache_matches,
    eval_plan,
    make_feeder,
    open_cache,
    train_plan,
)
from seizure.training.distributed import DistInfo
from seizure.training.errors import RunDirError, TrainingDataError
from seizure.training.graphstep import GraphTrainStep, make_train_step
from seizure.training.rundir import check_resume_config, prepare_run_dir, record_start
from seizure.training.state import BestMetric, TrainState
from seizure.training.step import (
    ModelFactory,
    Regularizer,
    TrainStep,
    build_optimizer,
    lr_lambda,
    resolve_precision,
    setup_model,
)
from seizure.utils.errors import invalid_value_message
from seizure.utils.fsio import refuse_overlap, remove_temporary_files
from seizure.utils.locks import FolderLock
from seizure.utils.seeding import seed_everything

if TYPE_CHECKING:
    from seizure.training.loop import StepInfo

__all__ = ["Run", "claim_run_dir", "setup_run"]


@dataclass(frozen=True)
class Run:
    """What stays fixed while training: settings, data, feeders, the model wrapper, the step."""

    config: Config
    info: DistInfo
    run_dir: Path
    say: Callable[[str], None]
    cache: Any
    train_data: SplitData
    dev_data: SplitData
    scale: float | None
    precision: str
    metric: str
    mode: str
    plan_args: dict[str, Any]
    net: torch.nn.Module
    train_step: TrainStep | GraphTrainStep
    feeder: Any
    feeder_kind: str
    dev_feeder: ThreadFeeder | None
    dev_plan: EvalPlan | None
    callbacks: Sequence[Callable[[StepInfo], None]]
    stop_at_step: int | None
    wall_start: float

    @property
    def device(self) -> torch.device:
        """The device of this process."""
        return self.info.device

    def close(self) -> None:
        """Stop the feeders' threads."""
        self.feeder.close()
        if self.dev_feeder is not None:
            self.dev_feeder.close()


def claim_run_dir(run_dir: Path, cache: Any, lock: FolderLock) -> None:
    """Refuse a run folder that holds the cache, then lock it for this process (rank 0).

    Holding the lock, it removes the temporary files a killed run left behind.
    """
    if isinstance(cache, (str, Path)):
        refuse_overlap(run_dir, [cache], "run folder")
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a directory")
    lock.acquire()  # one writer per run folder; released when this process ends
    remove_temporary_files([run_dir])  # left by a killed run; no other writer is alive


def setup_run(
    config: Config,
    cache: Any,
    run_dir: Path,
    resume: bool,
    info: DistInfo,
    say: Callable[[str], None],
    model_factory: ModelFactory | None,
    regularizer: Regularizer | None,
    callbacks: Sequence[Callable[[StepInfo], None]],
    stop_at_step: int | None,
) -> tuple[Run, TrainState]:
    """Run directory, resume point, data, model and state, feeders: all before the first step."""
    cfg, device = config.train, info.device
    wall_start = time.perf_counter()
    resume_from = prepare_run_dir(run_dir, resume)
    if info.distributed:
        torch.distributed.barrier()  # every rank has looked before rank 0 writes
    checkpoint = load_checkpoint(resume_from) if resume_from is not None else None
    if checkpoint is not None:
        check_resume_config(checkpoint["config"], config, resume_from)
    cache = _open_cache(cache, config, checkpoint, resume_from)
    metric = _check_metric_name(cfg.early_stopping_metric)
    precision = _configure_torch(config, device)
    train_data = SplitData.from_cache(cache, "train")
    dev_data = SplitData.from_cache(cache, "dev")
    metric, mode = _early_stopping_metric(metric, cfg.early_stopping_mode, dev_data, say)
    pos_weight, balance = _class_weight(train_data, config, say)
    plan_args = dict(
        T=cfg.sequence_windows, batch_size=cfg.batch_size, seed=config.seed,
        sampling=cfg.sequence_sampling, rank=info.rank, world_size=info.world_size,
        oversample_fraction=cfg.oversample_fraction if cfg.imbalance == "oversample" else None,
    )  # fmt: skip
    steps_per_epoch = len(train_plan(train_data, epoch=0, **plan_args))
    if steps_per_epoch == 0:
        raise TrainingDataError(
            f"the training split gives fewer sequences than one global batch "
            f"(train.batch_size={cfg.batch_size} x {info.world_size} process(es)); "
            "lower train.batch_size or train.sequence_windows"
        )
    scale = getattr(cache, "scale", None)
    model, net, regularizer, registry_model = setup_model(
        config, train_data.window_shape, device, model_factory, regularizer, info.distributed, say
    )
    if checkpoint is not None:  # a named error for weights of another model, cell or size
        load_state_checked(model, checkpoint["model"], resume_from)
    state = _initial_state(config, model, info, steps_per_epoch, precision, metric,
                           registry_model, checkpoint, say)  # fmt: skip
    if checkpoint is not None:
        say(f"resuming {resume_from} at epoch {state.epoch + 1}, batch {state.batch_in_epoch}, "
            f"step {state.step}")  # fmt: skip
    if info.is_main:
        state.history = record_start(run_dir, config, info, keep_epochs=state.epoch)
    eager_step = TrainStep(model, net, state.optimizer, state.scheduler, state.scaler, config,
                           pos_weight, device, precision, regularizer, scale)  # fmt: skip
    train_step = make_train_step(eager_step, cfg.cuda_graph, device, precision, cfg.optimizer,
                                 info.distributed, say)  # fmt: skip
    feeder, feeder_kind = make_feeder(
        cfg.feeder, train_data, device, cfg.sequence_windows, cfg.batch_size, cfg.num_workers,
        cfg.prefetch_batches, cfg.gpu_resident_fraction,
    )  # fmt: skip
    dev_feeder, dev_plan = _dev_feeder(dev_data, config, info)
    say(
        f"training on {device} ({info.world_size} process(es)), {precision}, "
        f"compile={cfg.compile}, cuda_graph={isinstance(train_step, GraphTrainStep)}, "
        f"feeder={feeder_kind}; train: {balance}, "
        f"{steps_per_epoch} steps/epoch of {cfg.batch_size}x{cfg.sequence_windows} windows per "
        f"process; imbalance={cfg.imbalance} (pos_weight={pos_weight:.3g}); dev: "
        f"{len(dev_data.ids)} recordings"
    )
    if not dev_data.ids:
        say("note: the cache has no dev split; no validation, best.pt follows last.pt")
    run = Run(config, info, run_dir, say, cache, train_data, dev_data, scale, precision,
               metric, mode, plan_args, net, train_step, feeder, feeder_kind, dev_feeder,
               dev_plan, tuple(callbacks), stop_at_step, wall_start)  # fmt: skip
    return run, state


def _open_cache(
    cache: Any, config: Config, checkpoint: dict[str, Any] | None, resume_from: Path | None
) -> Any:
    """Open the cache and check it against the config and the checkpoint being resumed."""
    if isinstance(cache, (str, Path)):
        cache = open_cache(cache)
    check_cache_matches(cache, config.preprocess)
    if checkpoint is not None and checkpoint.get("cache_fingerprint") != cache.fingerprint:
        raise TrainingDataError(
            f"{resume_from}: was trained on a cache with preprocess fingerprint "
            f"{checkpoint.get('cache_fingerprint')}, this cache has {cache.fingerprint}"
        )
    return cache


def _check_metric_name(name: str) -> str:
    """Refuse an early-stopping metric that validation does not produce."""
    known = M.known_metrics()
    if name not in known:
        raise ConfigError(invalid_value_message("train.early_stopping_metric", name, sorted(known)))
    return name


def _early_stopping_metric(
    name: str, mode: str, dev_data: SplitData, say: Callable[[str], None]
) -> tuple[str, str]:
    """Return the metric and mode (``'max'``/``'min'``) that early stopping and ``best.pt`` follow.

    A one-class dev split has no AUROC (nor sensitivity at a false-alarm budget): such a
    metric would be NaN every epoch and ``best.pt`` would never move past epoch 1, so
    ``val_loss`` is used instead.
    """
    ictal = sum(int(y.sum()) for y in dev_data.labels)
    total = sum(len(y) for y in dev_data.labels)
    if total and ictal in (0, total) and name != "val_loss":
        say(
            f"note: the dev split holds {'no' if ictal == 0 else 'only'} ictal windows, so "
            f"{name} is undefined; early stopping and best.pt use val_loss instead"
        )
        return "val_loss", M.metric_mode("val_loss")
    return name, M.metric_mode(name, mode)


def _configure_torch(config: Config, device: torch.device) -> str:
    """Seed every generator, apply the thread and determinism settings; return the precision."""
    cfg = config.train
    seed_everything(config.seed)
    if cfg.cpu_threads is not None:
        torch.set_num_threads(cfg.cpu_threads)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark and not cfg.deterministic
        torch.set_float32_matmul_precision("high")
    return resolve_precision(cfg.precision, device)


def _class_weight(data: SplitData, config: Config, say: Callable[[str], None]) -> tuple[float, str]:
    """Return the loss weight of ictal windows, and a description of the windows trained on.

    Only recordings of at least ``train.sequence_windows`` windows are cut into training
    sequences: the class balance counts those windows, and the user is told what is left out.
    """
    cfg, T = config.train, config.train.sequence_windows
    usable = data.lengths >= T
    if not usable.any():
        raise TrainingDataError(
            f"no training recording holds train.sequence_windows={T} windows "
            f"(longest: {int(data.lengths.max(initial=0))}); lower train.sequence_windows"
        )
    kept, short = np.flatnonzero(usable), np.flatnonzero(~usable)
    n_win = int(data.lengths[kept].sum())
    n_ictal = int(sum(int(data.labels[i].sum()) for i in kept))
    if len(short):
        short_ictal = int(sum(int(data.labels[i].sum()) for i in short))
        say(
            f"note: {len(short)} training recording(s) shorter than train.sequence_windows={T} "
            f"windows are not trained on ({int(data.lengths[short].sum())} windows, "
            f"{short_ictal} ictal); lower train.sequence_windows to use them"
        )
    if cfg.imbalance == "pos_weight":
        pos_weight = cfg.pos_weight or (float((n_win - n_ictal) / n_ictal) if n_ictal else 1.0)
    else:
        pos_weight = cfg.pos_weight or 1.0
    balance = (
        f"{len(kept)} recordings, {n_win} windows ({100 * n_ictal / max(1, n_win):.1f}% ictal)"
    )
    return pos_weight, balance


def _initial_state(
    config: Config,
    model: torch.nn.Module,
    info: DistInfo,
    steps_per_epoch: int,
    precision: str,
    metric: str,
    registry_model: bool,
    checkpoint: dict[str, Any] | None,
    say: Callable[[str], None],
) -> TrainState:
    """Optimizer, schedule and scaler for ``model``; the state of a fresh or resumed run."""
    device = info.device
    if info.distributed:
        # the same initial weights everywhere (seeded before), then one dropout stream per rank
        torch.manual_seed(config.seed + 7919 * info.rank)
    optimizer = build_optimizer(model, config, device, registry_model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(config.train, steps_per_epoch)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    if checkpoint is None:
        return TrainState(model, optimizer, scheduler, scaler, BestMetric(metric))
    state = TrainState.from_checkpoint(checkpoint, model, optimizer, scheduler, scaler)
    if len(state.rng) == info.world_size:
        restore_rng_state(state.rng[info.rank])
    else:
        restore_rng_state(state.rng[0])
        torch.manual_seed(config.seed + 7919 * info.rank + state.step)
    old_world = int(checkpoint.get("world_size", 1))
    if old_world != info.world_size:
        # batch_size is per process: the global batch changed size; resume at the batch
        # holding the same number of sequences (the run is no longer bit-exact)
        state.batch_in_epoch = state.batch_in_epoch * old_world // info.world_size
        say(
            f"note: the run was saved with {old_world} process(es), resumed with "
            f"{info.world_size}: global batches change size from here on"
        )
    return state


def _dev_feeder(
    data: SplitData, config: Config, info: DistInfo
) -> tuple[ThreadFeeder | None, EvalPlan | None]:
    """Return the feeder and plan of validation (every rank, when there is a dev split)."""
    if not data.ids:
        return None, None
    cfg = config.train
    batch_size = cfg.eval_batch_size or cfg.batch_size
    feeder = ThreadFeeder(data, info.device, cfg.sequence_windows, batch_size, cfg.num_workers, 2)
    return feeder, eval_plan(data, cfg.sequence_windows, batch_size)
