"""Checks on the numbers that go into a cache or a detector: refuse what would be cached wrong.

A recording is refused (:class:`UnusableRecordingError`, recorded as a failure with its
reason) when a channel the montage reads is not a voltage, or when no channel it reads holds a
signal (every one flat, clipped or non-finite); channels that are mostly clipped are named in
a warning. After filtering, any non-finite value refuses the recording naming the setting that
usually causes it (an unstable high-order band-pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seizure.io.edf import SampleStats
from seizure.io.recording import Recording
from seizure.preprocessing.config import PreprocessConfig
from seizure.utils.errors import InputFileError

__all__ = [
    "CLIPPED_FRACTION",
    "UnusableRecordingError",
    "check_channels",
    "check_filtered",
    "check_recording",
    "check_units",
]

#: A channel with more than this fraction of its samples at its own minimum or maximum is
#: called clipped (saturated amplifier, disconnected electrode held at a rail).
CLIPPED_FRACTION = 0.5

_VOLTAGE = "uV"  # the reader converts V, mV and nV to microvolts and names the result uV


class UnusableRecordingError(InputFileError):
    """A recording whose values cannot give meaningful windows; the message says why."""


def check_recording(recording: Recording) -> list[str]:
    """Refuse a recording with nothing usable; return warnings about channels that are not.

    Parameters
    ----------
    recording : Recording
        The channels the montage reads, as read from the file (microvolts).

    Returns
    -------
    list of str
        One warning per mostly-clipped channel (naming the file, the channel and the
        fraction of clipped samples).

    Raises
    ------
    UnusableRecordingError
        A channel in a unit that is not a voltage (``degC``, ``%``...), or every channel flat,
        clipped or non-finite.
    """
    check_units(recording.path, recording.labels, recording.units)
    stats = [SampleStats.of(x) for x in recording.data]
    return check_channels(recording.path, recording.labels, stats)


def check_units(path: Path, labels: Sequence[str], units: Sequence[str]) -> None:
    """Refuse channels in a unit that is not a voltage (:func:`check_recording`)."""
    foreign = [
        f"{label} ({unit})" for label, unit in zip(labels, units) if unit and unit != _VOLTAGE
    ]
    if foreign:
        raise UnusableRecordingError(
            path,
            f"channel(s) {', '.join(foreign)} are not voltages; the montage needs EEG "
            "channels in V, mV, uV or nV (fix the header's physical dimension, or use a "
            "montage that does not read them)",
        )


def check_channels(path: Path, labels: Sequence[str], stats: Sequence[SampleStats]) -> list[str]:
    """Clipped-channel warnings, or a refusal when no channel holds a signal.

    Parameters
    ----------
    path : Path
        The recording, for the messages.
    labels : sequence of str
        Channel names.
    stats : sequence of SampleStats
        Each channel's statistics (:class:`seizure.io.edf.SampleStats`).

    Returns
    -------
    list of str
        As :func:`check_recording`.
    """
    warnings: list[str] = []
    dead = 0
    for label, st in zip(labels, stats):
        if st.n == 0 or not st.finite:
            dead += 1
            continue
        fraction = st.clipped_fraction()
        if fraction is None:
            dead += 1  # flat: the reader has already warned
        elif fraction > CLIPPED_FRACTION:
            dead += 1
            warnings.append(
                f"{path}: channel {label} is clipped ({100 * fraction:.0f}% of its samples at "
                "its minimum or maximum)"
            )
    if stats and dead == len(stats):
        raise UnusableRecordingError(
            path,
            f"no channel the montage reads holds a signal (all {dead} are flat, clipped "
            "or non-finite)",
        )
    return warnings


def check_filtered(
    sources: np.ndarray, config: PreprocessConfig, path: object, chunk: int = 1 << 20
) -> None:
    """Refuse filtered signals holding NaN or infinity, naming the likely setting.

    Parameters
    ----------
    sources : ndarray of float32, shape (n_sources, n_samples)
        Resampled and filtered signals.
    config : PreprocessConfig
        The settings that made them (named in the message).
    path : path-like
        The recording, for the message.
    chunk : int
        Samples checked at a time (bounds the temporary boolean array).

    Raises
    ------
    UnusableRecordingError
        When any value is not finite.
    """
    flat = sources.reshape(-1)
    bad = 0
    for start in range(0, flat.size, chunk):
        bad += int(flat.size and np.count_nonzero(~np.isfinite(flat[start : start + chunk])))
    if bad:
        raise UnusableRecordingError(
            path,  # type: ignore[arg-type]
            f"filtering produced {bad} non-finite values of {flat.size}: the band-pass of "
            f"order preprocess.bandpass_order={config.bandpass_order} between "
            f"{config.bandpass_hz[0]:g} and {config.bandpass_hz[1]:g} Hz at "
            f"{config.sample_rate_hz:g} Hz is numerically unstable; use an order of 2-8",
        )
