"""Training state as a value: what a checkpoint stores and a resumed run restores.

:class:`TrainState` holds references to the model, optimizer, scheduler and gradient scaler
and the position of the run (epoch, batch within the epoch, step), the early-stopping record
(:class:`BestMetric`), the running training loss of the current epoch, the generator states
of every rank and the metric rows written so far. :meth:`TrainState.to_checkpoint` gives the
dict that :func:`seizure.training.checkpoint.save_checkpoint` writes (the keys listed in that
module's docstring); :meth:`TrainState.from_checkpoint` loads such a dict into freshly built
objects.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from seizure.config import Config, fingerprint, to_dict
from seizure.training.metrics import better

__all__ = ["BestMetric", "TrainState"]


@dataclass
class BestMetric:
    """The early-stopping record: the best value of ``metric`` so far and when it came.

    Attributes
    ----------
    metric : str
        The metric's name (a key of the metric rows).
    value : float or None
        The best value so far (None before the first finite one).
    epoch : int or None
        The 1-based epoch of ``value``.
    bad_epochs : int
        Epochs since the last improvement.
    """

    metric: str
    value: float | None = None
    epoch: int | None = None
    bad_epochs: int = 0

    def update(self, value: float, epoch: int, mode: str, min_delta: float = 0.0) -> bool:
        """Record the value of a finished epoch; return whether it improved on the best.

        Parameters
        ----------
        value : float
            The metric of epoch ``epoch`` (NaN never improves).
        epoch : int
            1-based epoch.
        mode : {'max', 'min'}
            Whether larger or smaller is better.
        min_delta : float
            Smallest change that counts as an improvement, in the metric's units.
        """
        if better(value, self.value, mode, min_delta):
            self.value, self.epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def as_dict(self) -> dict[str, Any]:
        """Return the checkpoint's ``early_stopping`` entry."""
        return {
            "metric": self.metric,
            "value": self.value,
            "epoch": self.epoch,
            "bad_epochs": self.bad_epochs,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BestMetric:
        """Inverse of :meth:`as_dict`."""
        return cls(data["metric"], data.get("value"), data.get("epoch"), data.get("bad_epochs", 0))


@dataclass
class TrainState:
    """Everything that changes while training, and is saved to resume it.

    Attributes
    ----------
    model : torch.nn.Module
        The bare model (not a DDP wrapper); its ``state_dict`` goes into checkpoints.
    optimizer : torch.optim.Optimizer
    scheduler : torch.optim.lr_scheduler.LRScheduler
    scaler : torch.amp.GradScaler
    best : BestMetric
    epoch : int
        Epochs completed (the 0-based index of the current one).
    batch_in_epoch : int
        Batches of the current epoch already trained.
    step : int
        Optimizer steps taken in total.
    loss_sum : float
        Sum of the batch losses of the current epoch that are already in ``loss_batches``.
    loss_batches : int
        Batches summed in ``loss_sum``.
    rng : list of dict
        Every rank's generator states (:func:`~seizure.training.checkpoint.capture_rng_state`)
        at the last capture; one entry for a single process.
    history : list of dict
        The metric rows of the finished epochs (rank 0), as in ``metrics.jsonl``.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    best: BestMetric
    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    loss_batches: int = 0
    rng: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def add_loss(self, total: torch.Tensor, batches: int) -> None:
        """Add the summed loss of ``batches`` batches (a device scalar; synchronises)."""
        self.loss_sum += float(total)
        self.loss_batches += batches

    def next_epoch(self) -> None:
        """Move to the start of the next epoch."""
        self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        self.loss_sum, self.loss_batches = 0.0, 0

    def to_checkpoint(
        self,
        config: Config,
        window_shape: tuple[int, ...],
        cache_fingerprint: str,
        world_size: int,
    ) -> dict[str, Any]:
        """Return the checkpoint dict (see :mod:`seizure.training.checkpoint`).

        Parameters
        ----------
        config : Config
            The resolved config of the run.
        window_shape : tuple of int
            Per-window input shape of the model.
        cache_fingerprint : str
            Fingerprint of the cache's preprocessing.
        world_size : int
            Processes training (``train.batch_size`` is per process).

        Returns
        -------
        dict
            Tensors and plain Python values only (readable with ``weights_only=True``).
        """
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "rng": self.rng[0],
            "rng_per_rank": self.rng if len(self.rng) > 1 else None,
            "world_size": world_size,
            "sampler": {
                "seed": config.seed,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
            },
            "early_stopping": self.best.as_dict(),
            "epoch_loss": {"sum": self.loss_sum, "batches": self.loss_batches},
            "config": to_dict(config),
            "window_shape": list(window_shape),
            "cache_fingerprint": cache_fingerprint,
            "preprocess_fingerprint": fingerprint(config.preprocess),
            "versions": {
                "python": platform.python_version(),
                "torch": str(torch.__version__),
                "numpy": str(np.__version__),
                "cuda": None if torch.version.cuda is None else str(torch.version.cuda),
            },
            "metrics": dict(self.history[-1]) if self.history else {},
        }

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: dict[str, Any],
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        scaler: torch.amp.GradScaler,
    ) -> TrainState:
        """Load a checkpoint dict into freshly built objects and return the state.

        The generator states are read into :attr:`rng` but not applied (which rank takes
        which is the caller's decision); :attr:`history` is left empty (it is read from
        ``metrics.jsonl``).

        Parameters
        ----------
        checkpoint : dict
            As returned by :func:`~seizure.training.checkpoint.load_checkpoint`.
        model, optimizer, scheduler, scaler
            Built as for a fresh run; their states are replaced by the stored ones.
        """
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        loss = checkpoint.get("epoch_loss") or {"sum": 0.0, "batches": 0}
        return cls(
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler,
            best=BestMetric.from_dict(checkpoint["early_stopping"]),
            epoch=int(checkpoint["epoch"]),
            batch_in_epoch=int(checkpoint["batch_in_epoch"]),
            step=int(checkpoint["step"]),
            loss_sum=float(loss["sum"]),
            loss_batches=int(loss["batches"]),
            rng=list(checkpoint.get("rng_per_rank") or [checkpoint["rng"]]),
        )
