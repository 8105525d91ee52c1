"""Configuration of ``seizure train`` (section ``train``). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Parameters
    ----------
    epochs : int
        Number of passes over the training split.
    batch_size : int
        Sequences per batch.
    sequence_windows : int
        Consecutive windows per training sequence.
    learning_rate : float
        Adam learning rate.
    """

    epochs: int = 10
    batch_size: int = 64
    sequence_windows: int = 30
    learning_rate: float = 1e-3
