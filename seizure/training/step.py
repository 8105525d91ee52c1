"""One optimizer step and what it needs: the model, the optimizer, the schedule, autocast.

:class:`TrainStep` is the step ``seizure train`` runs (also timed by
``benchmarks/bench_train.py``); :func:`setup_model` builds, compiles and wraps the model;
:func:`build_optimizer` and :func:`lr_lambda` give the optimizer and the learning-rate factor.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from seizure.config import Config
from seizure.training.data import to_float

__all__ = [
    "ModelFactory",
    "Regularizer",
    "TrainStep",
    "autocast_for",
    "build_optimizer",
    "lr_lambda",
    "resolve_precision",
    "setup_model",
]

ModelFactory = Callable[[Any, tuple[int, ...]], torch.nn.Module]
Regularizer = Callable[[torch.nn.Module, Any], torch.Tensor]


def _default_log(message: str) -> None:
    logging.getLogger(__name__).info(message)


def resolve_precision(precision: str, device: torch.device) -> str:
    """Resolve ``train.precision='auto'``: ``bf16`` on a CUDA device with bf16, else ``fp32``.

    Parameters
    ----------
    precision : {'auto', 'fp32', 'bf16', 'fp16'}
    device : torch.device

    Returns
    -------
    str
        ``precision`` itself unless it is ``auto``.
    """
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def lr_lambda(cfg: Any, steps_per_epoch: int) -> Callable[[int], float]:
    """Learning-rate factor as a function of the optimizer step (warmup, then the schedule).

    Parameters
    ----------
    cfg : TrainConfig
        ``warmup_steps``, ``schedule`` (``constant``, ``cosine``, ``step``), ``epochs``,
        ``max_steps``, ``min_lr_fraction``, ``step_gamma``, ``step_epochs``.
    steps_per_epoch : int
        Optimizer steps in one epoch.

    Returns
    -------
    callable
        ``factor(step) -> float``, the multiplier of ``train.learning_rate`` (for ``LambdaLR``).
    """
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


def autocast_for(device: torch.device, precision: str) -> Callable[[], Any]:
    """Return a factory of autocast contexts for ``precision`` (``fp32``: no autocast)."""
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
        """Take one optimizer step on a batch; return its loss (a device scalar)."""
        loss = self.loss_of(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.clip is not None:
            self.scaler.unscale_(self.optimizer)
        self.clip_gradients()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.detach()

    def loss_of(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Compute the training loss of a batch, with its autograd graph (no optimizer work).

        Parameters
        ----------
        x : torch.Tensor, shape (B, T, *window_shape)
            Windows in their stored dtype, on the device.
        y : torch.Tensor, shape (B, T)
            Labels (0/1), any dtype.

        Returns
        -------
        torch.Tensor, shape ()
            Batch-mean weighted binary cross-entropy plus the regularization penalty.
        """
        x = to_float(x, self.scale)
        with self.autocast():
            logits = self.net(x)
        loss = F.binary_cross_entropy_with_logits(
            logits.float(), y.float(), pos_weight=self.pos_weight
        )
        if self.regularizer is not None:
            loss = loss + self.regularizer(self.model, self.config.model)
        return loss

    def clip_gradients(self) -> None:
        """Clip the global gradient norm to ``train.grad_clip_norm`` (no host synchronisation)."""
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)


# ------------------------------------------------------------------------------ validation
