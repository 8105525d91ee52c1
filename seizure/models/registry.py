"""The model registry: one constructor signature for every architecture.

``build_model(config, window_shape)`` looks ``config.name`` up, builds the network, applies
``config.init`` (:func:`seizure.models.init.initialize_`) and ``config.freeze``, and returns a
:class:`SeizureDetector`:

``forward(x)``: ``(B, T, *window_shape)`` windows in the cache's units (microvolts for raw,
LFCC features) -> logits ``(B, T)`` (``(B, T, n_classes)`` when ``n_classes > 1``).

Its parts are attributes, so that training can treat them separately:

- ``model.encoder``: ``(N, *window_shape) -> (N, F)``, applied to all ``B * T`` windows at
  once; compile it alone with ``model.compile_encoder()`` (in-place
  :meth:`torch.nn.Module.compile`, so state-dict keys do not change);
- ``model.rnn``: a :class:`~seizure.models.recurrent.RecurrentStack` (None for ``cell: none``);
- ``model.head``: ``nn.Linear(F', n_classes)``.

New architectures register with :func:`register_model` and must accept
``(config: ModelConfig, window_shape: tuple[int, ...])``. The registration declares which
window kinds the model takes (``raw``, ``lfcc``; :func:`build_model` refuses the others) and
whether it is ``fitted`` in one pass (``bandpower_logreg``,
:class:`~seizure.models.baseline.BandPowerLogReg`: ``seizure train`` fits it instead of
running gradient descent) rather than trained; :func:`model_info` returns the declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seizure.models.baseline import BandPowerLogReg
from seizure.models.config import CELLS, ModelConfig
from seizure.models.frontend import Conv1dEncoder, Conv2dEncoder, InputNorm
from seizure.models.init import applicable_initializers, initialize_
from seizure.models.recurrent import RecurrentStack, build_recurrent
from seizure.models.regularization import LockedDropout, apply_freeze

__all__ = [
    "ModelInfo",
    "SeizureDetector",
    "available_cells",
    "available_models",
    "build_model",
    "model_info",
    "register_model",
    "window_kind",
]

Builder = Callable[[ModelConfig, tuple[int, ...]], nn.Module]
_REGISTRY: dict[str, Builder] = {}
_INFO: dict[str, ModelInfo] = {}
WINDOW_KINDS = ("raw", "lfcc")


@dataclass(frozen=True)
class ModelInfo:
    """What a registered model declares.

    Attributes
    ----------
    window_kinds : tuple of str
        Window kinds it takes: ``raw`` ``(channels, samples)`` and/or ``lfcc``
        ``(channels, frames, features)``.
    fitted : bool
        True for a model fitted in one pass on the train split's features
        (:func:`seizure.training.baseline.fit_baseline`), False for one trained by gradient
        descent (with the cells, initializers and regularization of ``model``).
    """

    window_kinds: tuple[str, ...] = WINDOW_KINDS
    fitted: bool = False


def register_model(
    name: str, *, window_kinds: Sequence[str] = WINDOW_KINDS, fitted: bool = False
) -> Callable[[Builder], Builder]:
    """Register ``builder(config, window_shape) -> nn.Module`` under ``name`` (a decorator).

    Parameters
    ----------
    name : str
        The value of ``model.name`` that selects it.
    window_kinds : sequence of {'raw', 'lfcc'}
        Window kinds the model takes; :func:`build_model` refuses the others.
    fitted : bool
        Fitted in one pass rather than trained by gradient descent (see :class:`ModelInfo`).
    """
    kinds = tuple(window_kinds)
    if not kinds or any(k not in WINDOW_KINDS for k in kinds):
        raise ValueError(f"window_kinds must be a non-empty subset of {WINDOW_KINDS}, got {kinds}")

    def deco(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"Model {name!r} is already registered")
        _REGISTRY[name] = builder
        _INFO[name] = ModelInfo(kinds, fitted)
        return builder

    return deco


def model_info(name: str) -> ModelInfo:
    """Return the declaration of the registered model ``name``.

    Raises
    ------
    ValueError
        When ``name`` is not registered.
    """
    if name not in _INFO:
        raise ValueError(
            f"Invalid value for 'model.name': allowed values are "
            f"{', '.join(available_models())}, got {name!r} instead"
        )
    return _INFO[name]


def window_kind(window_shape: Sequence[int]) -> str:
    """``'raw'`` for a ``(channels, samples)`` window shape, ``'lfcc'`` for a 3-D one."""
    return "raw" if len(window_shape) == 2 else "lfcc"


def available_models() -> list[str]:
    """Return registered architecture names, sorted."""
    return sorted(_REGISTRY)


def available_cells() -> tuple[str, ...]:
    """Values of ``model.cell`` every registered model accepts (``none``: no recurrence)."""
    return CELLS


class SeizureDetector(nn.Module):
    """Encoder per window, recurrence over windows, one logit (or class scores) per window.

    Parameters
    ----------
    config : ModelConfig
    window_shape : tuple of int
    encoder : nn.Module
        ``(N, *window_shape) -> (N, encoder.out_features)``.

    Notes
    -----
    ``forward``: ``(B, T, *window_shape) -> (B, T)`` or ``(B, T, n_classes)``.
    Dropout (``regularization.dropout``; one mask per sequence when ``variational``) is
    applied to the encoder features, between recurrent layers and before the head.
    """

    def __init__(
        self, config: ModelConfig, window_shape: tuple[int, ...], encoder: nn.Module
    ) -> None:
        super().__init__()
        self.config = config
        self.window_shape = tuple(window_shape)
        self.n_classes = config.n_classes
        reg = config.regularization
        self.encoder = encoder
        self.feature_dropout = LockedDropout(reg.dropout, reg.variational)
        self.rnn: RecurrentStack | None = build_recurrent(config, encoder.out_features)
        features = encoder.out_features if self.rnn is None else self.rnn.out_features
        self.head_dropout = LockedDropout(
            reg.dropout if self.rnn is not None else 0.0, reg.variational
        )
        self.head = nn.Linear(features, config.n_classes)

    @property
    def cell(self) -> str:
        """The recurrent cell name (``none`` for a CNN only)."""
        return self.config.cell

    def compile_encoder(self, **kwargs: Any) -> None:
        """``torch.compile`` the encoder in place (keeps the state-dict keys)."""
        self.encoder.compile(**kwargs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return encoder features of a batch of sequences, ``(B, T, *window) -> (B, T, F)``."""
        b, t = x.shape[:2]
        if tuple(x.shape[2:]) != self.window_shape:
            raise ValueError(
                f"Expected windows of shape {self.window_shape}, got input of shape "
                f"{tuple(x.shape)} (batch, T, *window)"
            )
        return self.encoder(x.reshape(b * t, *self.window_shape)).view(b, t, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return one logit per window, ``(B, T, *window) -> (B, T)``."""
        f = self.feature_dropout(self.features(x))
        if self.rnn is not None:
            f = self.rnn(f)
        # The head runs in float32 even under bf16 autocast: bf16 logits have a step of 2**-5
        # near |logit| 5, which turned 13,470 demo probabilities into 604 distinct values and
        # coarsened the threshold sweep. It is one small matrix product.
        with torch.autocast(device_type=f.device.type, enabled=False):
            out = self.head(self.head_dropout(f).float())
        return out.squeeze(-1) if self.n_classes == 1 else out


def _input_norm(config: ModelConfig, window_shape: tuple[int, ...]) -> InputNorm:
    reg = config.regularization
    return InputNorm(
        window_shape,
        mode=config.input_norm,
        scale_uv=config.input_scale_uv,
        noise=reg.gaussian_noise,
        dropout=reg.input_dropout,
    )


@register_model("cnn_rnn")
def _cnn_rnn(config: ModelConfig, window_shape: tuple[int, ...]) -> nn.Module:
    encoder = Conv1dEncoder(
        window_shape,
        config.conv_channels,
        config.conv_kernels,
        config.conv_pool,
        config.encoder_norm == "batch",
        _input_norm(config, window_shape),
    )
    return SeizureDetector(config, window_shape, encoder)


@register_model("cnn2d_rnn")
def _cnn2d_rnn(config: ModelConfig, window_shape: tuple[int, ...]) -> nn.Module:
    encoder = Conv2dEncoder(
        window_shape,
        config.conv2d_channels,
        config.conv_channels,
        config.conv_kernels,
        config.conv_pool,
        config.encoder_norm == "batch",
        _input_norm(config, window_shape),
    )
    return SeizureDetector(config, window_shape, encoder)


@register_model("bandpower_logreg", window_kinds=("raw",), fitted=True)
def _bandpower_logreg(config: ModelConfig, window_shape: tuple[int, ...]) -> nn.Module:
    return BandPowerLogReg(config, window_shape)


def _check_init(config: ModelConfig) -> None:
    for part in ("conv", "kernel", "recurrent", "bias", "head"):
        allowed = applicable_initializers(config.cell, part)
        value = getattr(config.init, part)
        if allowed and value not in allowed:
            raise ValueError(
                f"Invalid value for 'model.init.{part}' with cell {config.cell!r}: allowed "
                f"values are {', '.join(allowed)}, got {value!r} instead"
            )


def build_model(
    config: ModelConfig, window_shape: Sequence[int], *, initialize: bool = True
) -> nn.Module:
    """Build, initialize and freeze the model described by ``config``.

    Parameters
    ----------
    config : ModelConfig
        The ``model`` section (``name`` selects the architecture).
    window_shape : sequence of int
        Per-window shape from the cache: ``(channels, samples)`` raw or
        ``(channels, frames, features)`` LFCC.
    initialize : bool
        Apply ``config.init`` (default). False leaves the weights as the layers' constructors
        made them, for a model whose weights are loaded next (built on the ``meta`` device
        by :func:`seizure.training.checkpoint.load_model_from_checkpoint`).

    Returns
    -------
    nn.Module
        The registered model (a :class:`SeizureDetector`, or a
        :class:`~seizure.models.baseline.BandPowerLogReg`) in training mode on the CPU
        (float32). Random draws come
        from torch's global generator: seed it first for reproducible weights.

    Raises
    ------
    ValueError
        Unknown ``config.name``, an invalid window shape or one of a kind the model does not
        take, or an initializer that does not apply to the chosen cell.
    """
    if config.name not in _REGISTRY:
        raise ValueError(
            f"Invalid value for 'model.name': allowed values are "
            f"{', '.join(available_models())}, got {config.name!r} instead"
        )
    shape = tuple(int(s) for s in window_shape)
    if len(shape) not in (2, 3) or any(s < 1 for s in shape):
        raise ValueError(
            f"Invalid value for 'window_shape': expected (channels, samples) or "
            f"(channels, frames, features) of positive sizes, got {tuple(window_shape)} instead"
        )
    kinds = _INFO[config.name].window_kinds
    if window_kind(shape) not in kinds:
        raise ValueError(
            f"Invalid value for 'window_shape': model {config.name!r} takes "
            f"{' or '.join(kinds)} windows, got {window_kind(shape)} windows of shape "
            f"{shape} instead"
        )
    _check_init(config)
    model = _REGISTRY[config.name](config, shape)
    if initialize:
        initialize_(model, config)
    apply_freeze(model, config.freeze)
    return model
