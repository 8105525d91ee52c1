"""Configuration of ``seizure evaluate`` and ``detect`` (section ``evaluate``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvaluateConfig:
    """Post-processing of window probabilities into events, and scoring.

    Parameters
    ----------
    threshold : float
        Probability above which a window is ictal.
    smoothing_windows : int
        Width of the moving average applied to probabilities, in windows (1 = none).
    min_event_seconds : float
        Events shorter than this are dropped, in seconds.
    merge_gap_seconds : float
        Events separated by less than this are merged, in seconds.
    epoch_seconds : float
        Epoch length of the EPOCH scorer, in seconds (NEDC: 0.25).
    """

    threshold: float = 0.5
    smoothing_windows: int = 1
    min_event_seconds: float = 0.0
    merge_gap_seconds: float = 0.0
    epoch_seconds: float = 0.25
