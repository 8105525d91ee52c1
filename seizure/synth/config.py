"""Configuration of ``seizure synth`` (section ``synth``). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of the synthetic corpus.

    Parameters
    ----------
    hours : float
        Total hours of EEG to write.
    patients : int
        Number of patients, split across train/dev/eval.
    ictal_fraction : float
        Target fraction of time that is ictal, over the whole corpus.
    """

    hours: float = 2.0
    patients: int = 10
    ictal_fraction: float = 0.08
