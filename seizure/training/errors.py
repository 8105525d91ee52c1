"""Errors of ``seizure train``, all under :class:`seizure.utils.errors.SeizureError`.

The CLI maps :class:`RunDirError` to a usage error (exit status 2) and the others to exit
status 1. :class:`RunDirError` and :class:`TrainingDataError` are also ``ValueError`` and
:class:`NonFiniteLossError` a ``RuntimeError``, as they were before they had a common root.
"""

from __future__ import annotations

from seizure.utils.errors import SeizureError

__all__ = ["NonFiniteLossError", "RunDirError", "TrainingDataError"]


class RunDirError(SeizureError, ValueError):
    """The run directory cannot be used (not empty without resume, nothing to resume)."""


class TrainingDataError(SeizureError, ValueError):
    """The cache cannot train this config (other preprocessing, too few windows)."""


class NonFiniteLossError(SeizureError, RuntimeError):
    """The training loss became NaN or infinite.

    Parameters
    ----------
    step : int
        The 1-based optimizer step whose loss was not finite.
    epoch : int
        The 1-based epoch of that step.
    batch : int
        The 1-based batch of that step within its epoch.
    value : float
        The loss (NaN or infinite).
    """

    def __init__(self, step: int, epoch: int, batch: int, value: float) -> None:
        self.step, self.epoch, self.batch, self.value = step, epoch, batch, value
        super().__init__(
            f"training loss is {value} at step {step} (epoch {epoch}, batch {batch}); "
            "stopped without saving this model. Lower train.learning_rate, set "
            "train.grad_clip_norm, or check the cache for non-finite windows."
        )
