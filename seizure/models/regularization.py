"""Regularization: Keras L1/L2 penalties, dropout layers, Gaussian noise, weight decay groups.

What the trainer does with a model from :func:`seizure.models.build_model`::

    groups = parameter_groups(model, cfg.model)      # trainable params, decay on weights only
    opt = torch.optim.Adam(groups, lr=...)
    loss = criterion(logits, labels) + regularization_loss(model, cfg.model)

Dropout and noise live inside the model and act only in ``model.train()`` mode.

Parameter roles
---------------
:func:`parameter_roles` names the part of every parameter: ``conv`` (convolution kernels),
``kernel`` (input-to-hidden), ``recurrent`` (hidden-to-hidden), ``bias`` (every bias), ``dense``
(the head's weight) and ``norm`` (normalisation layers). Penalties, weight decay and
``model.freeze`` are expressed with these names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from seizure.models.config import ModelConfig

__all__ = [
    "GaussianNoise",
    "LockedDropout",
    "apply_freeze",
    "parameter_groups",
    "parameter_roles",
    "regularization_loss",
    "trainable_parameters",
]


class LockedDropout(nn.Module):
    """Dropout on ``(B, T, F)`` sequences, optionally with one mask per sequence.

    Parameters
    ----------
    p : float
        Drop probability; kept units are scaled by ``1 / (1 - p)``.
    variational : bool
        Share the mask over the time axis (Gal and Ghahramani 2016), i.e. a mask of shape
        ``(B, 1, F)``; otherwise ordinary element-wise dropout.
    """

    def __init__(self, p: float = 0.0, variational: bool = True) -> None:
        super().__init__()
        self.p = float(p)
        self.variational = variational

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Drop features, with one mask per sequence when ``variational``."""
        if not self.training or self.p == 0.0:
            return x
        if not self.variational or x.dim() < 3:
            return nn.functional.dropout(x, self.p, training=True)
        keep = 1.0 - self.p
        mask = torch.empty(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        mask = mask.bernoulli_(keep).div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        """Return the settings shown by ``repr``."""
        return f"p={self.p}, variational={self.variational}"


class GaussianNoise(nn.Module):
    """Additive zero-mean Gaussian noise of standard deviation ``sigma``, in training only.

    As Keras ``GaussianNoise``.
    """

    def __init__(self, sigma: float = 0.0) -> None:
        super().__init__()
        self.sigma = float(sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the noise (training only)."""
        if not self.training or self.sigma == 0.0:
            return x
        return x + self.sigma * torch.randn_like(x)

    def extra_repr(self) -> str:
        """Return the settings shown by ``repr``."""
        return f"sigma={self.sigma}"


def _role(name: str, module: nn.Module) -> str:
    leaf = name.rsplit(".", 1)[-1]
    if isinstance(module, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)):
        return "norm"
    if leaf.startswith("bias"):
        return "bias"
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return "conv"
    if isinstance(module, nn.Linear):
        return "dense"
    if leaf.startswith("weight_hh"):
        return "recurrent"
    if leaf.startswith("weight"):
        return "kernel"
    raise ValueError(f"Cannot tell the role of parameter {name!r} ({type(module).__name__})")


def parameter_roles(model: nn.Module) -> dict[str, str]:
    """Role of every parameter, by its name in ``model.named_parameters()``.

    Returns
    -------
    dict
        ``name -> role`` with roles ``conv``, ``kernel``, ``recurrent``, ``bias``, ``dense``,
        ``norm``.
    """
    roles: dict[str, str] = {}
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            roles[full] = _role(full, module)
    return roles


def _model_config(config: Any) -> ModelConfig:
    return getattr(config, "model", config)


def regularization_loss(model: nn.Module, config: Any) -> torch.Tensor:
    """Keras-style penalty ``sum_w l1 * sum|w| + l2 * sum(w^2)`` over the targeted parts.

    Parameters
    ----------
    model : nn.Module
        A model from :func:`seizure.models.build_model`.
    config : ModelConfig or Config
        Uses ``regularization.l1``, ``l2`` and ``targets`` (a whole :class:`Config` is
        accepted too).

    Returns
    -------
    Tensor, shape ()
        To add to the batch-mean loss; a zero tensor (on the model's device) when there is no
        penalty. Frozen parameters are skipped.
    """
    reg = _model_config(config).regularization
    first = next(model.parameters(), None)
    device = first.device if first is not None else None
    total = torch.zeros((), device=device)
    if reg.l1 == 0.0 and reg.l2 == 0.0:
        return total
    roles = parameter_roles(model)
    targets = set(reg.targets)
    for name, p in model.named_parameters():
        if not p.requires_grad or roles[name] not in targets:
            continue
        if reg.l1:
            total = total + reg.l1 * p.abs().sum()
        if reg.l2:
            total = total + reg.l2 * p.square().sum()
    return total


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters with ``requires_grad`` (an ESN reservoir and frozen parts are excluded)."""
    return [p for p in model.parameters() if p.requires_grad]


def parameter_groups(
    model: nn.Module, config: Any, weight_decay: float | None = None
) -> list[dict[str, Any]]:
    """Optimizer parameter groups: decayed weights and undecayed biases/normalisation.

    Parameters
    ----------
    model : nn.Module
    config : ModelConfig or Config
        ``regularization.weight_decay`` is the decay unless ``weight_decay`` is given.
    weight_decay : float, optional
        Overrides the config (e.g. ``max(train.weight_decay, model.regularization...)``).

    Returns
    -------
    list of dict
        ``[{"params": [...], "weight_decay": wd}, {"params": [...], "weight_decay": 0.0}]``
        holding only trainable parameters (empty groups are dropped); pass to any
        ``torch.optim`` optimizer.
    """
    wd = _model_config(config).regularization.weight_decay if weight_decay is None else weight_decay
    roles = parameter_roles(model)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if roles[name] in ("bias", "norm") else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": float(wd)},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def apply_freeze(model: nn.Module, parts: tuple[str, ...] | list[str]) -> None:
    """Set ``requires_grad=False`` on every parameter whose role is in ``parts``."""
    if not parts:
        return
    roles = parameter_roles(model)
    for name, p in model.named_parameters():
        if roles[name] in parts:
            p.requires_grad_(False)
