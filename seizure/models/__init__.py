"""Detectors (CNN front end + recurrent part), their initializers and regularizers.

Public API (imported lazily, so that ``seizure.config`` can import
:mod:`seizure.models.config` without importing torch):

- :func:`build_model` ``(config: ModelConfig, window_shape) -> nn.Module``;
- :func:`regularization_loss` ``(model, config) -> Tensor`` (Keras L1/L2, add to the loss);
- :func:`parameter_groups` ``(model, config, weight_decay=None)`` for the optimizer;
- :func:`trainable_parameters`, :func:`parameter_roles`, :func:`available_models`,
  :func:`available_cells`, :func:`register_model`;
- :func:`timescale_report` (``seizure timescale``);
- :func:`load_state_checked` ``(model, state_dict, source)``: strict loading that raises
  :class:`ModelStateError` naming the file, missing/unexpected entries and shape mismatches.
- :class:`WindowClassifier` ``(model)``: a detector as a window classifier, class logits
  ``(B, 2)`` per window, for skorch and braindecode (:mod:`seizure.models.adapters`).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "build_model": "seizure.models.registry",
    "available_models": "seizure.models.registry",
    "available_cells": "seizure.models.registry",
    "register_model": "seizure.models.registry",
    "SeizureDetector": "seizure.models.registry",
    "regularization_loss": "seizure.models.regularization",
    "parameter_groups": "seizure.models.regularization",
    "parameter_roles": "seizure.models.regularization",
    "trainable_parameters": "seizure.models.regularization",
    "timescale_report": "seizure.models.timescale",
    "load_state_checked": "seizure.models.state",
    "ModelStateError": "seizure.models.state",
    "WindowClassifier": "seizure.models.adapters",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seizure.models' has no attribute {name!r}")
