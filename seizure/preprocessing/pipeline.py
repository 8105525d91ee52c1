"""One recording through the preprocessing chain, as a library function.

::

    Recording --select the channels the montage reads--> resample each rate group to
      sample_rate_hz (polyphase) --band-pass + notch (zero-phase)--> sources X
      --M @ X, a chunk at a time--> windows: raw (n_windows, n_channels, window_samples)
      or LFCC (n_windows, n_channels, frames_per_window, 26)

Everything is float32. Channels are resampled *before* the montage because the electrodes of
one recording may be sampled at different rates; the filters run on the sources too (they are
linear, so this equals filtering the montage signals) and the montage is applied while the
windows are written, so peak memory is about the recording plus its resampled sources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.io.edf import EdfHeader, read_edf, read_edf_header
from seizure.io.events import Event, events_to_mask
from seizure.io.recording import Recording
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.features import lfcc, raw_windows, window_count
from seizure.preprocessing.montage import MontagePlan, get_montage, plan_montage
from seizure.preprocessing.quality import check_filtered, check_recording
from seizure.preprocessing.signal import apply_filters, design_filters, resample_to_matrix
from seizure.preprocessing.stream import StreamedWindows, scan_sources

#: Recordings longer than this are processed a block at a time (:class:`StreamedWindows`);
#: shorter ones whole, in memory (the same results, see the test of the two paths): an hour
#: (most TUSZ recordings) whole costs about 150 MB and avoids the streamed path's second
#: pass over the file.
_STREAM_ABOVE_SECONDS = 3600.0

#: Seconds of signal per block of the streamed path (about 20 MB of float32 sources at
#: 256 Hz; the filter padding adds under 20 s to each).
_BLOCK_SECONDS = 600.0

__all__ = [
    "FileWindows",
    "Preprocessed",
    "RawWindows",
    "open_windows",
    "preprocess_recording",
    "read_for_montage",
    "resample_sources",
    "window_labels",
    "window_shape",
    "windows_for",
]


@dataclass
class Preprocessed:
    """One recording after resampling and filtering, with its montage still to apply.

    The montage is kept as a matrix and applied a chunk at a time (:meth:`signals`,
    :func:`windows_for`) so that the full montage signal need never be held in memory next to
    the electrode signals. Filtering the electrodes before the montage is exact: the
    zero-phase filter (odd extension included) is linear, so ``filt(M @ X) = M @ filt(X)``.

    Parameters
    ----------
    sources : ndarray of float32, shape (n_sources, n_samples)
        The recording channels the montage reads, resampled to ``sample_rate_hz`` and
        filtered, in microvolts.
    matrix : ndarray of float32, shape (n_channels, n_sources)
        The montage: montage signals are ``matrix @ sources``.
    channels : tuple of str
        Montage channel names.
    sample_rate_hz : float
        Rate of ``sources``.
    source_rates_hz : dict of str to float
        Original rate of every recording channel used.
    resampled : bool
        True when any channel was resampled.
    filled : tuple of str
        Montage channels filled with zeros (missing in the recording).
    missing : tuple of str
        What the recording lacked (electrodes, or pairs for a bipolar file).
    warnings : list of str
    """

    sources: np.ndarray
    matrix: np.ndarray
    channels: tuple[str, ...]
    sample_rate_hz: float
    source_rates_hz: dict[str, float]
    resampled: bool
    filled: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return int(self.sources.shape[1])

    def signals(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Montage signals of samples ``[start, stop)``.

        Returns
        -------
        ndarray of float32, shape (n_channels, stop - start)
        """
        block = self.sources[:, start:stop]
        out = np.empty((self.matrix.shape[0], block.shape[1]), dtype=np.float32)
        if self.matrix.shape[1]:
            np.matmul(self.matrix, block, out=out)
        else:
            out[:] = 0.0
        return out


class RawWindows:
    """Raw windows of a :class:`Preprocessed` recording, computed a slice at a time.

    Behaves like a read-only array of shape ``(n_windows, n_channels, window_samples)`` for
    ``len()``, ``.shape``, ``.dtype``, slicing with a step of 1 and ``np.asarray``.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, pre: Preprocessed, window_samples: int, stride_samples: int) -> None:
        self.pre = pre
        self.window_samples = window_samples
        self.stride_samples = stride_samples
        n = window_count(pre.n_samples, window_samples, stride_samples)
        self.shape = (n, len(pre.channels), window_samples)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice):
            raise TypeError("RawWindows supports slices only; use np.asarray() for the rest")
        k0, k1, step = index.indices(len(self))
        if step != 1:
            raise TypeError("RawWindows supports slices with step 1 only")
        if k1 <= k0:
            return np.empty((0, *self.shape[1:]), dtype=np.float32)
        a = k0 * self.stride_samples
        b = (k1 - 1) * self.stride_samples + self.window_samples
        block = self.pre.signals(a, b)
        return np.ascontiguousarray(raw_windows(block, self.window_samples, self.stride_samples))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)


def window_shape(config: PreprocessConfig) -> tuple[int, ...]:
    """Return the shape of one cached window.

    It is ``(n_channels, window_samples)`` for raw features,
    ``(n_channels, frames_per_window, n_lfcc_features)`` for LFCC.
    """
    n_ch = get_montage(config.montage).n_channels
    if config.features == "lfcc":
        return (n_ch, config.frames_per_window, config.n_lfcc_features)
    return (n_ch, config.window_samples)


def resample_sources(
    recording: Recording, config: PreprocessConfig, release: bool = False
) -> Preprocessed:
    """Select the channels the montage needs and resample them to ``config.sample_rate_hz``.

    Parameters
    ----------
    recording : Recording
    config : PreprocessConfig
    release : bool
        Empty ``recording.data`` channel by channel as they are resampled (the recording is
        no longer usable afterwards), so that peak memory stays near one copy of the signals.

    Returns
    -------
    Preprocessed
        Unfiltered.

    Raises
    ------
    MissingChannelsError
        When the recording lacks channels and ``config.fill_missing`` is False (every
        missing one is listed).
    """
    montage = get_montage(config.montage)
    plan = plan_montage(montage, recording.labels, config.fill_missing)
    fs = config.sample_rate_hz
    n_samples = int(math.floor(recording.duration_s * fs + 1e-6))
    rates = [float(recording.sfreq_hz[i]) for i in plan.sources]
    signals: list[np.ndarray | None] = [recording.data[i] for i in plan.sources]
    if release:
        recording.data = [np.empty(0, dtype=np.float32) for _ in recording.data]
    x = resample_to_matrix(signals, rates, fs, n_samples, release=release)
    del signals
    warnings: list[str] = []
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad_rows):
        names = [recording.labels[plan.sources[r]] for r in bad_rows]
        count = 0
        for r in bad_rows:
            bad = ~np.isfinite(x[r])
            count += int(bad.sum())
            x[r, bad] = 0.0
        warnings.append(
            f"{recording.path}: {count} non-finite samples in {', '.join(names)} were set to 0"
        )
    warnings += _plan_warnings(recording.path, plan, rates, config)
    return Preprocessed(
        sources=x,
        matrix=plan.matrix,
        channels=montage.channels,
        sample_rate_hz=fs,
        source_rates_hz={recording.labels[i]: float(recording.sfreq_hz[i]) for i in plan.sources},
        resampled=any(r != fs for r in rates),
        filled=plan.filled,
        missing=plan.missing,
        warnings=warnings,
    )


def _plan_warnings(
    path: Path, plan: MontagePlan, rates: Sequence[float], config: PreprocessConfig
) -> list[str]:
    """Warnings about the sources themselves: rates too low for the band, filled channels."""
    warnings = []
    low_rates = sorted({r for r in rates if config.bandpass_hz and r / 2 < config.bandpass_hz[1]})
    if low_rates:
        warnings.append(
            f"{path}: sampled at {', '.join(f'{r:g}' for r in low_rates)} Hz, so it "
            f"holds nothing above {low_rates[0] / 2:g} Hz although the band-pass reaches "
            f"{config.bandpass_hz[1]:g} Hz"
        )
    if plan.filled:
        warnings.append(
            f"{path}: montage {plan.montage.name!r} channels {', '.join(plan.filled)} "
            f"filled with zeros (missing {', '.join(plan.missing)})"
        )
    return warnings


def read_for_montage(path: str | Path, config: PreprocessConfig) -> tuple[Recording, Any]:
    """Read only the channels of an EDF file that ``config.montage`` needs.

    The montage is planned from the header first, so a recording that lacks channels is
    refused (:class:`MissingChannelsError`, all missing listed) before its data is read;
    a recording whose values are unusable (non-voltage units, no live channel) is refused by
    :func:`seizure.preprocessing.quality.check_recording`.

    Returns
    -------
    (Recording, EdfHeader)
        The recording (its channels in the plan's order) and the file's header (all labels,
        start time).
    """
    header = read_edf_header(path)
    plan = plan_montage(get_montage(config.montage), header.labels, config.fill_missing)
    recording = read_edf(path, channels=[header.labels[i] for i in plan.sources])
    recording.warnings.extend(check_recording(recording))
    return recording, header


def preprocess_recording(
    recording: Recording, config: PreprocessConfig, release: bool = False
) -> Preprocessed:
    """Select, resample and filter one recording (montage applied on demand).

    ``release=True`` empties ``recording.data`` as it goes (see :func:`resample_sources`).

    Returns
    -------
    Preprocessed
        ``sources`` band-passed and notched; ``signals()`` gives the montage signals.
    """
    out = resample_sources(recording, config, release)
    sos = design_filters(
        config.sample_rate_hz,
        config.bandpass_hz,
        config.notch_hz,
        config.bandpass_order,
        config.notch_q,
    )
    with np.errstate(over="ignore", invalid="ignore"):  # an unstable filter: checked next
        apply_filters(out.sources, sos)
    check_filtered(out.sources, config, recording.path)
    return out


def windows_for(pre: Preprocessed, config: PreprocessConfig) -> RawWindows | np.ndarray:
    """Windows of features of a preprocessed recording.

    Parameters
    ----------
    pre : Preprocessed
    config : PreprocessConfig

    Returns
    -------
    RawWindows or ndarray of float32, shape (n_windows, *window_shape(config))
        Raw windows are computed lazily, a slice at a time (:class:`RawWindows`); LFCC
        windows are a read-only strided view of the per-channel features.
    """
    if config.features == "raw":
        return RawWindows(pre, config.window_samples, config.stride_samples)
    n_win = window_count(pre.n_samples, config.window_samples, config.stride_samples)
    n_frames = int(
        math.floor(pre.n_samples / (config.lfcc_frame_seconds * pre.sample_rate_hz) + 1e-9)
    )
    feats = np.empty((len(pre.channels), n_frames, config.n_lfcc_features), dtype=np.float32)
    for ch in range(len(pre.channels)):
        row = (
            pre.matrix[ch : ch + 1] @ pre.sources
            if pre.matrix.shape[1]
            else (np.zeros((1, pre.n_samples), dtype=np.float32))
        )
        feats[ch] = lfcc(
            row,
            config.sample_rate_hz,
            frame_seconds=config.lfcc_frame_seconds,
            analysis_seconds=config.lfcc_analysis_seconds,
            n_filters=config.lfcc_n_filters,
            n_cepstra=config.lfcc_n_cepstra,
            band_hz=config.bandpass_hz,
            energy_span_frames=config.lfcc_energy_span_frames,
            delta_frames=config.lfcc_delta_frames,
        )[0]
    per_window = config.frames_per_window
    stride = int(round(config.stride_seconds / config.lfcc_frame_seconds))
    n_ch, _, n_feat = feats.shape
    s_ch, s_fr, s_ft = feats.strides
    return np.lib.stride_tricks.as_strided(
        feats,
        shape=(n_win, n_ch, per_window, n_feat),
        strides=(stride * s_fr, s_ch, s_fr, s_ft),
        writeable=False,
    )


@dataclass
class FileWindows:
    """The windows of one EDF file and what the cache's metadata and ``detect`` report.

    Attributes
    ----------
    windows : RawWindows, StreamedWindows or ndarray
        Shape ``(n_windows, *window_shape(config))``, sliceable a range at a time.
    header : EdfHeader
        The file's header (all labels, start time).
    duration_s : float
        Seconds read.
    source_rates_hz : dict of str to float
        Original rate of every recording channel used.
    resampled : bool
    filled, missing : tuple of str
        As :class:`Preprocessed`.
    warnings : list of str
        The reader's, the checks' and the preprocessing's, in that order.
    """

    windows: RawWindows | StreamedWindows | np.ndarray
    header: EdfHeader
    duration_s: float
    source_rates_hz: dict[str, float]
    resampled: bool
    filled: tuple[str, ...]
    missing: tuple[str, ...]
    warnings: list[str]


def open_windows(path: str | Path, config: PreprocessConfig) -> FileWindows:
    """Read, check, resample, filter and window one EDF file as ``seizure preprocess`` does.

    A recording up to an hour long is read whole (:func:`read_for_montage`,
    :func:`preprocess_recording`, :func:`windows_for`); a longer one is checked in one pass
    over the file (:func:`~seizure.preprocessing.stream.scan_sources`) and its windows are
    computed a block at a time as they are sliced (:class:`~seizure.preprocessing.stream.
    StreamedWindows`), so that memory does not grow with the recording's length.

    Parameters
    ----------
    path : path
    config : PreprocessConfig

    Returns
    -------
    FileWindows

    Raises
    ------
    InputFileError
        An unreadable file, missing channels (:class:`MissingChannelsError`) or an unusable
        recording (:class:`~seizure.preprocessing.quality.UnusableRecordingError`, raised
        while slicing too when filtering gives non-finite values).
    """
    header = read_edf_header(path)
    fs = config.sample_rate_hz
    if header.duration_s > _STREAM_ABOVE_SECONDS:
        plan = plan_montage(get_montage(config.montage), header.labels, config.fill_missing)
        reader, warnings, finite = scan_sources(header, plan)
        if finite:  # a recording with NaN/inf samples is read whole: its count is reported
            rates = [header.signals[k].sfreq_hz for k in plan.sources]
            n_samples = int(math.floor(header.duration_s * fs + 1e-6))
            block = int(_BLOCK_SECONDS * fs)
            return FileWindows(
                windows=StreamedWindows(reader, plan.matrix, config, n_samples, block),
                header=header,
                duration_s=header.duration_s,
                source_rates_hz={
                    header.labels[k]: header.signals[k].sfreq_hz for k in plan.sources
                },
                resampled=any(r != fs for r in rates),
                filled=plan.filled,
                missing=plan.missing,
                warnings=warnings + _plan_warnings(header.path, plan, rates, config),
            )
    recording, header = read_for_montage(path, config)
    warnings = list(recording.warnings)
    pre = preprocess_recording(recording, config, release=True)
    del recording
    return FileWindows(
        windows=windows_for(pre, config),
        header=header,
        duration_s=header.duration_s,
        source_rates_hz=pre.source_rates_hz,
        resampled=pre.resampled,
        filled=pre.filled,
        missing=pre.missing,
        warnings=warnings + pre.warnings,
    )


def window_labels(events: Sequence[Event], n_windows: int, config: PreprocessConfig) -> np.ndarray:
    """1 for windows whose midpoint lies inside a seizure event.

    Window ``k`` covers ``[k * stride, k * stride + window)`` s; its midpoint is
    ``k * stride + window / 2``.

    Returns
    -------
    ndarray of uint8, shape (n_windows,)
    """
    offset = config.window_seconds / 2 - config.stride_seconds / 2
    mask = events_to_mask(list(events), n_windows, config.stride_seconds, offset)
    return mask.astype(np.uint8)
