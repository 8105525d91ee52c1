"""Adapters that let other libraries drive a registered detector.

:class:`WindowClassifier` turns a :class:`~seizure.models.registry.SeizureDetector`, which maps
sequences ``(B, T, *window_shape)`` to one logit per window ``(B, T)``, into the classifier
that skorch's ``NeuralNetClassifier`` and braindecode's ``EEGClassifier`` expect: class logits
``(B, n_classes)`` for a batch of windows ``(B, *window_shape)``, and ``(B, n_classes, T)``
for a batch of sequences (braindecode's shape for one prediction per time step, which
``torch.nn.CrossEntropyLoss`` takes with targets ``(B, T)``).

With one seizure logit ``z`` per window (``model.n_classes = 1``) the class logits are
``[0, z]``: their softmax is ``[1 - sigmoid(z), sigmoid(z)]``, the detector's own seizure
probability, so a model trained either way gives the same probabilities. Use it with
``criterion=torch.nn.CrossEntropyLoss`` (braindecode's default); skorch then applies the
softmax in ``predict_proba``.

A window given alone is a sequence of length one: the recurrent part sees no context. Give
sequences of consecutive windows to use it.

Neither skorch nor braindecode is imported here; the adapter is a plain ``torch.nn.Module``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seizure.models.config import ModelConfig
from seizure.models.registry import build_model

__all__ = ["WindowClassifier"]


class WindowClassifier(nn.Module):
    """A registered detector as a classifier of windows (class logits per window).

    Parameters
    ----------
    model : nn.Module
        A detector from :func:`seizure.models.build_model` (or one loaded from a checkpoint):
        ``(B, T, *window_shape) -> (B, T)``, or ``(B, T, n_classes)`` when its
        ``n_classes > 1``. It must have the ``window_shape`` and ``n_classes`` attributes of
        :class:`~seizure.models.registry.SeizureDetector`.

    Attributes
    ----------
    model : nn.Module
        The wrapped detector (its parameters are this module's parameters).
    window_shape : tuple of int
        ``(channels, samples)`` raw, or ``(channels, frames, features)`` LFCC.
    n_classes : int
        Classes of the output: 2 (no seizure, seizure) for a one-logit detector, else the
        detector's ``n_classes``.

    Notes
    -----
    ``forward(x)``:

    - windows ``(B, *window_shape)`` -> class logits ``(B, n_classes)``;
    - sequences ``(B, T, *window_shape)`` -> class logits ``(B, n_classes, T)``.

    Inputs are in the cache's units (microvolts for raw windows); floating inputs of another
    dtype (e.g. float64 from numpy) are cast to the parameters' dtype.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        for attribute in ("window_shape", "n_classes"):
            if not hasattr(model, attribute):
                raise TypeError(
                    f"WindowClassifier wraps a detector from seizure.models.build_model; "
                    f"{type(model).__name__} has no {attribute!r} attribute"
                )
        self.model = model
        self.window_shape: tuple[int, ...] = tuple(model.window_shape)
        self.n_classes: int = 2 if model.n_classes == 1 else int(model.n_classes)

    @classmethod
    def build(
        cls, window_shape: Sequence[int], config: ModelConfig | None = None
    ) -> WindowClassifier:
        """Build a registered detector and wrap it.

        Parameters
        ----------
        window_shape : sequence of int
            ``(channels, samples)`` raw or ``(channels, frames, features)`` LFCC, as in the
            cache (``seizure info CACHE``).
        config : ModelConfig, optional
            The ``model`` section (default: :class:`ModelConfig`, the CNN/LSTM), e.g.
            ``load_config(["models/cnn_gru"]).model``.

        Returns
        -------
        WindowClassifier
            In training mode on the CPU; seed torch first for reproducible weights.
        """
        return cls(build_model(config if config is not None else ModelConfig(), window_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute class logits of windows or sequences.

        Windows ``(B, *window_shape)`` give ``(B, n_classes)``; sequences
        ``(B, T, *window_shape)`` give ``(B, n_classes, T)``.
        """
        rank = len(self.window_shape)
        if x.ndim not in (rank + 1, rank + 2) or tuple(x.shape[-rank:]) != self.window_shape:
            raise ValueError(
                f"Expected windows (batch, {', '.join(map(str, self.window_shape))}) or "
                f"sequences (batch, T, {', '.join(map(str, self.window_shape))}), got input of "
                f"shape {tuple(x.shape)}"
            )
        dtype = next(self.model.parameters()).dtype
        if x.is_floating_point() and x.dtype != dtype:
            x = x.to(dtype)
        windows = x.ndim == rank + 1
        scores = self.model(x.unsqueeze(1) if windows else x)
        if self.model.n_classes == 1:  # one seizure logit z -> class logits [0, z]
            scores = torch.stack((torch.zeros_like(scores), scores), dim=-1)
        return scores[:, 0] if windows else scores.transpose(1, 2)
