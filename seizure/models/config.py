"""Configuration of the models (section ``model``). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """Architecture, initialization and regularization of a detector.

    Parameters
    ----------
    name : str
        Registry name of the architecture.
    cell : str
        Recurrent part: ``lstm``, ``gru``, ``minimal``, ``vanilla``, ``esn`` or ``none``.
    hidden_size : int
        Units per recurrent layer (per direction).
    num_layers : int
        Stacked recurrent layers.
    bidirectional : bool
        Bidirectional (offline) or causal (online) recurrence.
    """

    name: str = "cnn_rnn"
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
