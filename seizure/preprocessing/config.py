"""Configuration of ``seizure preprocess`` (section ``preprocess``). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class PreprocessConfig:
    """How recordings become cached windows.

    Parameters
    ----------
    montage : str
        Montage name (``tcp_ar``, ``tcp_le``, ``tcp_ar_a``, ``double_banana``, ``average``,
        ``referential``).
    sample_rate_hz : float
        Target sampling rate in Hz; every channel is resampled to it (polyphase).
    bandpass_hz : (float, float) or None
        Band-pass edges in Hz, or None for no band-pass.
    notch_hz : float or None
        Line frequency to notch (50 or 60 Hz), or None.
    features : {'raw', 'lfcc'}
        Raw samples per window, or the paper's LFCC frames.
    window_seconds, stride_seconds : float
        Window length and hop, in seconds.
    fill_missing : bool
        Fill electrodes the montage needs but the recording lacks (recorded and reported)
        instead of refusing the recording.
    """

    montage: str = "tcp_ar"
    sample_rate_hz: float = 256.0
    bandpass_hz: tuple[float, float] | None = (1.0, 70.0)
    notch_hz: float | None = 60.0
    features: Literal["raw", "lfcc"] = "raw"
    window_seconds: float = 1.0
    stride_seconds: float = 1.0
    fill_missing: bool = False
