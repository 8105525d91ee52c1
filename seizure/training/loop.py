"""The training loop of ``seizure train``, readable top to bottom.

:func:`train` trains on the ``train`` split of a cache, validates on ``dev`` after every
epoch and writes into the run directory (see :mod:`seizure.training.rundir`)::

    config.yaml        the resolved config
    environment.json   seed, python/torch/numpy/CUDA/cuDNN versions, git commit, host (per start)
    metrics.jsonl      one JSON line per epoch (train loss, learning rate, windows/s, val metrics)
    last.pt, best.pt   checkpoints (see seizure.training.checkpoint)
    summary.json       final status, best metric and epoch, last metrics

The loop: :func:`train` sets up (:func:`~seizure.training.setup.setup_run`: run directory,
data, model and :class:`~seizure.training.state.TrainState`), then :func:`_fit` repeats
:func:`run_epoch` (optimizer steps), :func:`end_epoch` (validation with
:func:`~seizure.training.validation.validate`, the metrics row, checkpoints, the best value)
and :func:`should_stop` until the epochs are done.

Stopping and resuming. SIGINT and SIGTERM are caught by one :class:`SignalCatcher`, consulted
at step boundaries: the current step finishes, ``last.pt`` is written with the exact position
(epoch, batch within the epoch, RNG states) and :func:`train` returns with
``status='interrupted'`` and ``exit_code = 128 + signal`` (130 for SIGINT, 143 for SIGTERM); a
second SIGINT aborts at once. ``resume=True`` continues from ``last.pt`` and ends with the
same weights as an uninterrupted run (same device and settings); the config to resume with
is :func:`seizure.training.rundir.resume_config`. A non-finite loss raises
:class:`NonFiniteLossError` naming the step; the last good ``last.pt`` is left as it was.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seizure.config import Config, from_dict
from seizure.models.registry import model_info
from seizure.training import metrics as M
from seizure.training.baseline import fit_baseline
from seizure.training.checkpoint import capture_rng_state, load_checkpoint, save_checkpoint
from seizure.training.data import train_plan
from seizure.training.distributed import (
    DistInfo,
    any_rank,
    broadcast_flag,
    broadcast_value,
    init_distributed,
)
from seizure.training.distributed import shutdown as dist_shutdown
from seizure.training.errors import NonFiniteLossError, RunDirError
from seizure.training.rundir import append_metrics_row, epoch_line, write_summary
from seizure.training.setup import Run, claim_run_dir, setup_run
from seizure.training.state import TrainState
from seizure.training.step import ModelFactory, Regularizer, autocast_for
from seizure.training.validation import validate
from seizure.utils.locks import FolderLock
from seizure.utils.progress import progress

__all__ = [
    "EpochResult",
    "NonFiniteLossError",
    "RunDirError",
    "SignalCatcher",
    "StepInfo",
    "TrainResult",
    "config_from_checkpoint",
    "end_epoch",
    "run_epoch",
    "should_stop",
    "train",
]


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
    rank: int = 0  # under torchrun only rank 0's history is filled in


@dataclass
class EpochResult:
    """How :func:`run_epoch` ended.

    Attributes
    ----------
    stop : str or None
        ``'interrupted'`` (a signal or ``stop_at_step``), ``'max_steps'``, or None when every
        batch of the epoch was trained.
    windows : int
        Windows trained in this call, over all processes.
    seconds : float
        Wall time of this call, in seconds.
    """

    stop: str | None
    windows: int
    seconds: float


class SignalCatcher:
    """SIGINT/SIGTERM turned into a request to stop, consulted at step boundaries.

    Installed on the main thread only (elsewhere the signals keep their handlers). A second
    SIGINT raises ``KeyboardInterrupt`` at once. Under ``torchrun`` the ranks agree: the
    request of any rank is exchanged at the loss checks and at the end of each epoch.

    Parameters
    ----------
    info : DistInfo
        This process's place among the ranks.
    """

    def __init__(self, info: DistInfo) -> None:
        self.info = info
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> SignalCatcher:
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

    @property
    def requested(self) -> bool:
        """Whether this process received a signal."""
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """``128 + signal number`` (130 SIGINT, 143 SIGTERM); 0 without a signal."""
        return 128 + self.signum if self.signum else 0

    def name(self, otherwise: str) -> str:
        """Return the signal's name (``SIGTERM``), or ``otherwise`` without a signal."""
        return signal.Signals(self.signum).name if self.signum else otherwise

    def stop_after_step(self, agreed: bool) -> bool:
        """Whether to stop after the step just taken.

        One process stops as soon as a signal came (a step callback may send one).
        Under ``torchrun`` the ranks stop together, at a step where ``agreed`` (the request
        of any rank, exchanged by the loss check of that step) is true.
        """
        return agreed if self.info.distributed else self.requested

    def stop_after_epoch(self) -> bool:
        """Whether any rank received a signal (a collective under ``torchrun``)."""
        return any_rank(self.requested, self.info)


class _LossWindow:
    """The losses of the last steps, kept on the device and checked every ``size`` steps.

    Reading them back to the host synchronises with the device, so it is done every
    ``train.log_every_steps`` steps (every step on a single CPU process).
    """

    def __init__(self, size: int, device: torch.device) -> None:
        self.values = torch.zeros(size, device=device)
        self.n = 0

    def add(self, loss: torch.Tensor) -> bool:
        """Keep ``loss``; return whether the window is full."""
        self.values[self.n] = loss
        self.n += 1
        return self.n == len(self.values)

    def check(self, state: TrainState, info: DistInfo, stop_requested: bool) -> tuple[float, bool]:
        """Raise for a non-finite loss on any rank; return (mean loss, stop agreed by the ranks).

        Raises
        ------
        NonFiniteLossError
            Naming the first step (over all ranks) whose loss was not finite.
        """
        values = self.values[: self.n].cpu().numpy()
        bad = np.flatnonzero(~np.isfinite(values))
        bad_step = state.step - self.n + 1 + int(bad[0]) if len(bad) else 0
        flags = torch.tensor([bad_step, int(stop_requested)])
        if info.distributed:
            flags = flags.to(info.device if info.device.type == "cuda" else "cpu")
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        self.n = 0
        bad_step = int(flags[0])
        if bad_step:
            value = float(values[bad[0]]) if len(bad) else math.nan
            batch = bad_step - (state.step - state.batch_in_epoch)
            raise NonFiniteLossError(bad_step, state.epoch + 1, batch, value)
        return float(values.mean()), bool(flags[1])


def _default_log(message: str) -> None:
    logging.getLogger(__name__).info(message)


def _silent(message: str) -> None:
    pass


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
        ``config.preprocess`` must match the cache's preprocessing. To resume as
        ``seizure train --resume`` does, pass
        :func:`seizure.training.rundir.resume_config` ``(run_dir, ...)``.
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
        Where messages go (default: this module's logger, INFO); rank 0 only.

    Returns
    -------
    TrainResult

    Notes
    -----
    A model whose registration declares it ``fitted`` (``bandpower_logreg``) is fitted in
    one pass by :func:`seizure.training.baseline.fit_baseline` instead, which writes the same
    run folder; ``config.train``'s loop settings do not apply to it.

    Raises
    ------
    RunDirError, TrainingDataError (cache mismatch), ConfigError, NonFiniteLossError,
    DeviceError, CheckpointError, InputFileError (the run folder holds the cache),
    FolderBusyError (another process is writing into the run folder)
    """
    run_dir = Path(run_dir)
    if model_factory is None and model_info(config.model.name).fitted:  # bandpower_logreg
        fit = fit_baseline(config, cache, run_dir, resume=resume, device=device,
                           log=log or _default_log)  # fmt: skip
        return TrainResult(fit.status, run_dir, 1, 0, fit.metric, fit.value, 1, fit.history)
    info, notes = init_distributed(device)
    say = (log or _default_log) if info.is_main else _silent
    lock = FolderLock(run_dir, ".lock", "run folder")
    try:
        if info.is_main:
            claim_run_dir(run_dir, cache, lock)
        for note in notes:
            say(note)
        run, state = setup_run(config, cache, run_dir, resume, info, say, model_factory,
                            regularizer, callbacks, stop_at_step)  # fmt: skip
        try:
            status, exit_code = _fit(run, state)
        finally:
            run.close()
        if info.is_main:
            extra = {"device": str(run.device), "world_size": info.world_size,
                     "feeder": run.feeder_kind, "precision": run.precision}  # fmt: skip
            write_summary(run_dir, status, None, state.epoch, state.step, state.best,
                          state.history, run.wall_start, extra)  # fmt: skip
        return TrainResult(
            status=status,
            run_dir=run_dir,
            epochs_completed=state.epoch,
            step=state.step,
            best_metric=run.metric,
            best_value=state.best.value,
            best_epoch=state.best.epoch,
            history=state.history,
            exit_code=exit_code,
            rank=info.rank,
        )
    finally:
        lock.release()
        dist_shutdown(info)


def _fit(run: Run, state: TrainState) -> tuple[str, int]:
    """Train epoch after epoch until a stop; return the status and the exit code."""
    finished = _finished_before(run, state)
    if finished is not None:
        return finished, 0
    with SignalCatcher(run.info) as signals:
        try:
            while state.epoch < run.config.train.epochs:
                result = run_epoch(run, state, signals)
                if result.stop == "interrupted":
                    _save(run, state, "last.pt")
                    run.say(
                        f"{signals.name('stop_at_step')}: stopped after step {state.step} "
                        f"(epoch {state.epoch + 1}, batch {state.batch_in_epoch}); saved "
                        f"{run.run_dir / 'last.pt'}; continue with --resume"
                    )
                    return "interrupted", signals.exit_code
                end_epoch(run, state, result)
                status = should_stop(run, state, result, signals)
                if status is not None:
                    return status, signals.exit_code if status == "interrupted" else 0
        except NonFiniteLossError as err:
            if run.info.is_main:
                write_summary(run.run_dir, "failed", str(err), state.epoch, state.step,
                              state.best, state.history, run.wall_start)  # fmt: skip
            raise
    return "completed", 0


def _finished_before(run: Run, state: TrainState) -> str | None:
    """Return the stop a resumed run already met (``max_steps``, ``early_stopped``) or None.

    Else a resumed run would train one more step or epoch; a larger limit trains on.
    """
    cfg, best = run.config.train, state.best
    if cfg.max_steps is not None and state.step >= cfg.max_steps:
        run.say(f"train.max_steps={cfg.max_steps} was reached before; nothing to train")
        return "max_steps"
    if state.batch_in_epoch == 0 and state.epoch > 0 and 0 < cfg.patience <= best.bad_epochs:
        run.say(f"stopped early before (train.patience={cfg.patience}); nothing to train")
        return "early_stopped"
    return None


def run_epoch(run: Run, state: TrainState, signals: SignalCatcher) -> EpochResult:
    """Train on the current epoch's batches from ``state.batch_in_epoch`` on.

    Parameters
    ----------
    run : Run
        The fixed parts of the run.
    state : TrainState
        Advanced in place (step, batch, loss sum; ``last.pt`` every
        ``train.checkpoint_every_steps``).
    signals : SignalCatcher
        Consulted after every step.

    Returns
    -------
    EpochResult
    """
    cfg, info = run.config.train, run.info
    plan = train_plan(run.train_data, epoch=state.epoch, **run.plan_args)
    per_batch = cfg.batch_size * cfg.sequence_windows * info.world_size
    check_every = 1 if run.device.type == "cpu" and not info.distributed else cfg.log_every_steps
    losses = _LossWindow(check_every, run.device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=run.device)
    first_batch = summed_from = state.batch_in_epoch
    stop: str | None = None
    run.net.train()
    t0 = time.perf_counter()
    with progress(
        total=len(plan) * per_batch,
        initial=state.batch_in_epoch * per_batch,
        desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
        unit="win",
        unit_scale=True,
        disable=None if (cfg.progress and info.is_main) else True,
    ) as bar:
        for x, y in run.feeder.iterate(plan, state.batch_in_epoch):
            loss = run.train_step(x, y)
            state.step, state.batch_in_epoch = state.step + 1, state.batch_in_epoch + 1
            loss_sum += loss
            bar.update(per_batch)
            agreed = False
            if losses.add(loss) or state.batch_in_epoch == len(plan):
                mean, agreed = losses.check(state, info, signals.requested)
                bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
            for callback in run.callbacks:
                callback(StepInfo(state.step, state.epoch + 1, state.batch_in_epoch, loss,
                                  state.model))  # fmt: skip
            stop = _stop_reason(run, state, signals.stop_after_step(agreed))
            if stop is not None:
                break
            if cfg.checkpoint_every_steps and state.step % cfg.checkpoint_every_steps == 0:
                state.add_loss(loss_sum, state.batch_in_epoch - summed_from)
                loss_sum.zero_()
                summed_from = state.batch_in_epoch
                _save(run, state, "last.pt")
    state.add_loss(loss_sum, state.batch_in_epoch - summed_from)
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    windows = (state.batch_in_epoch - first_batch) * per_batch
    return EpochResult(stop, windows, time.perf_counter() - t0)


def _stop_reason(run: Run, state: TrainState, signalled: bool) -> str | None:
    """``'interrupted'``, ``'max_steps'`` or None after the step just taken."""
    if signalled or (run.stop_at_step is not None and state.step >= run.stop_at_step):
        return "interrupted"
    max_steps = run.config.train.max_steps
    if max_steps is not None and state.step >= max_steps:
        return "max_steps"
    return None


def end_epoch(run: Run, state: TrainState, result: EpochResult) -> None:
    """Close an epoch (or the run at ``max_steps``): validate, log, checkpoint, track the best.

    Every rank validates its share of the dev split; rank 0 computes the metrics, appends
    the row to ``metrics.jsonl`` and ``state.history`` and writes ``last.pt`` (and ``best.pt``
    when the metric improved, when there is none yet, or when there is no dev split). The
    metric is broadcast, so ``state.best`` is the same on every rank.
    """
    cfg = run.config.train
    row: dict[str, Any] = {
        "epoch": state.epoch + 1,
        "step": state.step,
        "lr": state.optimizer.param_groups[0]["lr"],
        "train_loss": state.loss_sum / max(1, state.loss_batches),
        "train_windows_per_s": result.windows / result.seconds if result.seconds > 0 else math.nan,
        "train_s": result.seconds,
    }
    if result.stop == "max_steps":
        row["partial_epoch"] = True
    else:
        state.next_epoch()
    _capture_rng(run, state)  # validation draws no random numbers
    t0 = time.perf_counter()
    row.update(_validation_metrics(run, state.model, row["epoch"]))  # a collective
    row["val_s"] = time.perf_counter() - t0
    value = broadcast_value(row.get(run.metric, math.nan), run.info)
    improved = state.best.update(value, row["epoch"], run.mode, cfg.min_delta)
    if not run.info.is_main:
        run.net.train()
        return
    state.history.append(row)
    append_metrics_row(run.run_dir / "metrics.jsonl", row)
    names = ["last.pt"]
    if improved or not (run.run_dir / "best.pt").exists() or run.dev_feeder is None:
        names.append("best.pt")
    _write_checkpoints(run, state, names)
    run.say(epoch_line(row, run.metric, state.best))
    run.net.train()


def should_stop(
    run: Run, state: TrainState, result: EpochResult, signals: SignalCatcher
) -> str | None:
    """After :func:`end_epoch`: the status to stop with, or None to train another epoch.

    ``'max_steps'``, ``'early_stopped'`` (no improvement for ``train.patience`` epochs, as
    rank 0 decides) or ``'interrupted'`` (a signal on any rank); every rank returns the same.
    """
    cfg = run.config.train
    early = cfg.patience > 0 and state.best.bad_epochs >= cfg.patience
    early = broadcast_flag(early, run.info)
    if result.stop == "max_steps":
        run.say(f"reached train.max_steps={cfg.max_steps}")
        return "max_steps"
    if early:
        best = state.best
        run.say(
            f"early stopping: {run.metric} did not improve for {cfg.patience} epoch(s); "
            + (
                f"best {best.value:.4f} at epoch {best.epoch}"
                if best.value is not None
                else "it was never finite"
            )
        )
        return "early_stopped"
    if state.epoch < cfg.epochs and signals.stop_after_epoch():
        run.say(
            f"{signals.name('a signal')}: stopped after epoch {state.epoch} (step {state.step}); "
            f"saved {run.run_dir / 'last.pt'}; continue with --resume"
        )
        return "interrupted"
    return None


def _validation_metrics(run: Run, model: torch.nn.Module, epoch: int) -> dict[str, float]:
    """Validate on the dev split (every rank its share) and compute the metrics of the row.

    Rank 0 alone computes the metrics; the other ranks, and a run without dev, get none.
    """
    if run.dev_feeder is None or run.dev_plan is None:
        return {}
    probs, labels, loss = validate(model, run.dev_data, run.dev_feeder, run.dev_plan,
                                   run.device, autocast_for(run.device, run.precision),
                                   run.scale, run.info)  # fmt: skip
    if not run.info.is_main:
        return {}
    result = M.ValidationResult(
        probs,
        labels,
        events={i: run.cache.events(i) for i in run.dev_data.ids},
        durations_s={r.recording_id: r.duration_s for r in run.cache.split("dev")},
        window_seconds=run.cache.window_seconds,
        stride_seconds=run.cache.stride_seconds,
        loss=loss,
        epoch=epoch,
    )
    return M.compute_validation_metrics(result, run.config)


# ------------------------------------------------------------------------------ checkpoints


def _capture_rng(run: Run, state: TrainState) -> None:
    """Every rank's generator states into ``state.rng`` (a collective under torchrun)."""
    mine = capture_rng_state()
    if not run.info.distributed:
        state.rng = [mine]
        return
    states: list[Any] = [None] * run.info.world_size
    torch.distributed.all_gather_object(states, mine)
    state.rng = states


def _write_checkpoints(run: Run, state: TrainState, names: Sequence[str]) -> None:
    """Write the state to ``names`` in the run directory (rank 0 only)."""
    if not run.info.is_main:
        return
    checkpoint = state.to_checkpoint(run.config, run.train_data.window_shape,
                                     run.cache.fingerprint, run.info.world_size)  # fmt: skip
    for name in names:
        save_checkpoint(run.run_dir / name, checkpoint)


def _save(run: Run, state: TrainState, *names: str) -> None:
    """Capture the generator states (every rank) and write the checkpoints (rank 0)."""
    _capture_rng(run, state)
    _write_checkpoints(run, state, names)


def config_from_checkpoint(path: str | Path) -> Config:
    """Return the resolved config stored in a checkpoint.

    Parameters
    ----------
    path : str or Path
        A ``last.pt`` or ``best.pt``.

    Returns
    -------
    Config
    """
    return from_dict(Config, load_checkpoint(path)["config"])
