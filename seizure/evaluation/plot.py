"""Pictures of the EEG: montage traces, seizures shaded, the probability underneath.

One drawing function, :func:`plot_segment`, serves ``seizure plot`` and the snippets of
missed seizures and false alarms in ``report.md``. The signals come from an EDF file,
preprocessed as ``seizure preprocess`` does (:func:`edf_segment`), or from a cache record
(:func:`cache_segment`: raw windows are laid back end to end; an LFCC cache is plotted from
its source EDF with the cache's preprocessing).

Times are seconds from the start of the recording; window ``k`` of a probability trace
covers ``[k * stride, k * stride + window)`` and is drawn over that span's middle stride.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seizure.config import load_config
from seizure.io.annotations import read_annotation
from seizure.io.edf import read_edf_header
from seizure.io.events import Event
from seizure.preprocessing.cache import Cache
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.pipeline import open_windows
from seizure.preprocessing.stream import read_span
from seizure.utils.errors import InputFileError, SeizureError
from seizure.utils.fsio import atomic_write_bytes

__all__ = [
    "IMAGE_SUFFIXES",
    "PlotError",
    "ProbabilityTrace",
    "Segment",
    "cache_segment",
    "edf_segment",
    "plot_segment",
    "plot_source",
    "segment_bounds",
]

#: Image formats :func:`plot_segment` writes, chosen by the output's suffix.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".svg")

_REF_COLOR = "#2ca02c"
_HYP_COLOR = "#d62728"


class PlotError(SeizureError):
    """A picture cannot be made of this input (the message says why)."""

    exit_code = 2


@dataclass
class Segment:
    """Montage signals of one stretch of a recording.

    Attributes
    ----------
    signals : ndarray of float32, shape (n_channels, n_samples)
        Microvolts (band-passed and notched as preprocessing does).
    channels : tuple of str
        Montage channel names, one per row.
    sample_rate_hz : float
    start_s : float
        Time of the first sample, seconds from the recording start.
    duration_s : float
        Length of the whole recording, seconds.
    """

    signals: np.ndarray
    channels: tuple[str, ...]
    sample_rate_hz: float
    start_s: float
    duration_s: float

    @property
    def stop_s(self) -> float:
        """Time just after the last sample, seconds."""
        return self.start_s + self.signals.shape[1] / self.sample_rate_hz


@dataclass
class ProbabilityTrace:
    """Per-window seizure probabilities of one recording.

    Attributes
    ----------
    probs : ndarray of float, shape (n_windows,)
        In [0, 1].
    window_seconds, stride_seconds : float
        Window length and step, seconds.
    threshold : float or None
        Drawn as a dashed line when given.
    """

    probs: np.ndarray
    window_seconds: float
    stride_seconds: float
    threshold: float | None = None

    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the staircase: edges (s, shape (n_windows + 1,)) and values (n_windows,).

        Window ``k`` spans its middle stride,
        ``[k * stride + (window - stride) / 2, (k + 1) * stride + (window - stride) / 2)``.
        """
        p = np.asarray(self.probs, dtype=float).ravel()
        offset = (self.window_seconds - self.stride_seconds) / 2
        edges = offset + self.stride_seconds * np.arange(len(p) + 1)
        return edges, p


def segment_bounds(at_s: float, span_s: float, duration_s: float) -> tuple[float, float]:
    """Cut the stretch ``[at_s, at_s + span_s)`` to lie inside the recording.

    Parameters
    ----------
    at_s, span_s : float
        Requested start and length, seconds (``span_s > 0``).
    duration_s : float
        Recording length, seconds.

    Returns
    -------
    (start, stop) : tuple of float
        Seconds, ``0 <= start < stop <= duration_s``.

    Raises
    ------
    PlotError
        When ``span_s`` is not positive or ``at_s`` lies outside the recording.
    """
    if not span_s > 0:
        raise PlotError(f"Invalid value for '--span': allowed > 0 s, got {span_s:g} instead")
    if not 0 <= at_s < duration_s:
        raise PlotError(
            f"Invalid value for '--at': allowed 0 to {duration_s:g} s (the recording's "
            f"length), got {at_s:g} instead"
        )
    return float(at_s), float(min(at_s + span_s, duration_s))


def edf_segment(path: str | Path, config: PreprocessConfig, at_s: float, span_s: float) -> Segment:
    """Read montage signals of an EDF file from ``at_s`` for ``span_s`` seconds.

    The signals are preprocessed as ``seizure preprocess`` does (the montage's channels,
    resampled, band-passed, notched), and only the stretch is read, with a margin on each
    side long enough for the filters to settle
    (:func:`~seizure.preprocessing.stream.read_span`): the picture shows what the windows
    hold (no filter edge at the segment's borders), and plotting a minute of a day-long
    recording reads about a minute of it.

    Parameters
    ----------
    path : path
        An EDF/BDF file.
    config : PreprocessConfig
        Montage, rate and filters.
    at_s, span_s : float
        Seconds.

    Returns
    -------
    Segment

    Raises
    ------
    InputFileError
        Unreadable file, missing channels or channels that are not voltages.
    PlotError
        ``at_s``/``span_s`` outside the recording.
    """
    header = read_edf_header(path)
    start, stop = segment_bounds(at_s, span_s, header.duration_s)
    fs = config.sample_rate_hz
    n_samples = int(math.floor(header.duration_s * fs + 1e-6))
    a, b = int(math.floor(start * fs)), min(int(math.ceil(stop * fs)), n_samples)
    if b <= a:
        raise PlotError(
            f"nothing to plot: {path} holds no sample at {fs:g} Hz from {start:g} to {stop:g} s"
        )
    signals, channels = read_span(header, config, a, b)
    return Segment(signals, tuple(channels), fs, a / fs, header.duration_s)


def cache_segment(cache: Any, recording_id: str, at_s: float, span_s: float) -> Segment:
    """Montage signals of a cache record from ``at_s`` for ``span_s`` seconds.

    Raw windows are laid back end to end (sample ``t`` is taken from window
    ``t // stride``); a cache of LFCC features holds no signal, so its record's source EDF is
    read with the cache's preprocessing instead.

    Parameters
    ----------
    cache : seizure.preprocessing.cache.Cache
    recording_id : str
    at_s, span_s : float
        Seconds.

    Returns
    -------
    Segment

    Raises
    ------
    PlotError
        An unknown record, times outside it, or an LFCC cache whose source file is gone.
    """
    try:
        record = cache.record(recording_id)
    except (KeyError, SeizureError) as err:
        known = ", ".join(r.recording_id for r in cache.records[:10])
        raise PlotError(
            f"{cache.path}: no record {recording_id!r} (records: {known}"
            f"{', ...' if len(cache.records) > 10 else ''})"
        ) from err
    if cache.config.features != "raw":
        source = Path(cache.metadata(recording_id).get("source", ""))
        if not source.is_file():
            raise PlotError(
                f"{cache.path} holds {cache.config.features} features, not signals, and the "
                f"source of {recording_id!r} ({source}) is not there to read; plot the EDF"
            )
        return edf_segment(source, cache.config, at_s, span_s)
    windows = cache.windows(recording_id)
    fs = cache.sample_rate_hz
    stride = int(round(cache.stride_seconds * fs))
    window = int(windows.shape[-1])
    n_samples = (len(windows) - 1) * stride + window if len(windows) else 0
    start, stop = segment_bounds(at_s, span_s, min(record.duration_s, n_samples / fs))
    a, b = int(math.floor(start * fs)), min(int(math.ceil(stop * fs)), n_samples)
    t = np.arange(a, b)
    k = np.minimum(t // stride, len(windows) - 1)
    k0, k1 = int(k[0]), int(k[-1]) + 1
    block = np.asarray(windows[k0:k1], dtype=np.float32)  # (n, channels, window)
    signals = block[k - k0, :, t - k * stride].T
    return Segment(
        np.ascontiguousarray(signals), tuple(cache.channels), fs, a / fs, record.duration_s
    )


def _channel_spacing(signals: np.ndarray) -> float:
    # vertical distance between traces, microvolts: a few robust standard deviations, so
    # that background traces barely touch and seizures stand out
    finite = signals[np.isfinite(signals)]
    if finite.size == 0:
        return 1.0
    mad = float(np.median(np.abs(finite - np.median(finite))))
    spacing = 6 * 1.4826 * mad
    return spacing if spacing > 0 else max(float(np.abs(finite).max()), 1.0)


def _nice(value: float) -> float:
    # the 1, 2 or 5 times a power of ten nearest below value
    exp = 10 ** math.floor(math.log10(value))
    return max(m for m in (1, 2, 5) if m * exp <= value) * exp


def _shade(ax: Any, events: Sequence[Event], start: float, stop: float, color: str) -> None:
    for e in events:
        if e.stop > start and e.start < stop:
            ax.axvspan(max(e.start, start), min(e.stop, stop), color=color, alpha=0.18, lw=0)


def plot_segment(
    path: str | Path,
    segment: Segment,
    ref: Sequence[Event] = (),
    hyp: Sequence[Event] = (),
    probs: ProbabilityTrace | None = None,
    title: str = "",
    size_inches: tuple[float, float] | None = None,
    dpi: int = 100,
) -> None:
    """Draw montage traces with seizures shaded and the probability underneath.

    Writes a PNG or SVG (by ``path``'s suffix).

    Parameters
    ----------
    path : path
        ``.png`` or ``.svg``; written atomically.
    segment : Segment
        Signals in microvolts; the time axis is seconds from the recording start.
    ref, hyp : sequence of Event
        Reference seizures (shaded green) and detected seizures (shaded red), seconds.
    probs : ProbabilityTrace, optional
        Drawn in a panel under the traces, with the threshold when it has one.
    title : str
    size_inches : (float, float), optional
        Figure size; default grows with the channel count.
    dpi : int
        Pixels per inch of a PNG.

    Raises
    ------
    PlotError
        An unsupported suffix or an empty segment.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise PlotError(
            f"Invalid value for '--out': allowed a file ending in "
            f"{' or '.join(IMAGE_SUFFIXES)}, got {Path(path).name!r} instead"
        )
    n_ch, n_s = segment.signals.shape
    if n_ch == 0 or n_s == 0:
        raise PlotError("nothing to plot: the segment holds no samples")
    # The Agg canvas directly, not pyplot: no global backend state, no GUI, thread-safe;
    # imported here because matplotlib is heavy and only plotting needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    width, height = size_inches or (12.0, 1.2 + 0.28 * n_ch + (1.4 if probs else 0.0))
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    if probs is not None:
        ax, axp = fig.subplots(2, 1, sharex=True, height_ratios=[max(n_ch, 4), 3.5])
    else:
        ax, axp = fig.add_subplot(1, 1, 1), None
    start, stop = segment.start_s, segment.stop_s
    t = segment.start_s + np.arange(n_s) / segment.sample_rate_hz
    spacing = _channel_spacing(segment.signals)
    offsets = spacing * np.arange(n_ch)[::-1]
    for row in range(n_ch):
        ax.plot(t, segment.signals[row] + offsets[row], color="black", lw=0.5)
    ax.set_yticks(offsets, segment.channels, fontsize=max(5, min(8, 220 // max(n_ch, 1))))
    ax.set_ylim(-spacing, offsets[0] + spacing)
    ax.set_xlim(start, stop)
    for axis in [ax] + ([axp] if axp is not None else []):
        _shade(axis, ref, start, stop, _REF_COLOR)
        _shade(axis, hyp, start, stop, _HYP_COLOR)
    bar = _nice(spacing)
    ax.set_ylabel(f"montage (traces {spacing:.0f} uV apart; bar {bar:g} uV)", fontsize=8)
    x_bar = start + 0.005 * (stop - start)
    ax.plot([x_bar, x_bar], [offsets[0] + spacing * 0.9 - bar, offsets[0] + spacing * 0.9],
            color="blue", lw=2)  # fmt: skip
    handles = [
        Patch(color=_REF_COLOR, alpha=0.35, label="reference seizure"),
        Patch(color=_HYP_COLOR, alpha=0.35, label="detected seizure"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.9)
    if title:
        ax.set_title(title, fontsize=9)
    bottom = ax
    if axp is not None and probs is not None:
        edges, p = probs.steps()
        axp.stairs(p, edges, color="#1f77b4", lw=1.2, label="seizure probability")
        if probs.threshold is not None:
            axp.axhline(probs.threshold, color="grey", ls="--", lw=0.8,
                        label=f"threshold {probs.threshold:g}")  # fmt: skip
        axp.set_ylim(-0.03, 1.03)
        axp.set_ylabel("probability", fontsize=8)
        axp.legend(loc="upper right", fontsize=7, framealpha=0.9)
        axp.grid(True, alpha=0.3)
        bottom = axp
    bottom.set_xlabel("time (s from the start of the recording)")
    ax.tick_params(labelbottom=axp is None)
    buf = io.BytesIO()
    fig.savefig(buf, format=suffix[1:])
    atomic_write_bytes(path, buf.getvalue())


def _read_events(path: Path, duration_s: float, label_map: Mapping[str, str]) -> list[Event]:
    return read_annotation(path, label_map).seizures(duration_s)


def _load_probs(path: Path, n_windows: int | None) -> np.ndarray:
    try:
        probs = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputFileError(path, f"cannot be read as a .npy array ({err})") from err
    if probs.ndim != 1 or not len(probs):
        raise InputFileError(
            path, f"expected one probability per window, got an array of shape {probs.shape}"
        )
    if n_windows is not None and len(probs) != n_windows:
        raise InputFileError(
            path, f"holds {len(probs)} probabilities, but the recording has {n_windows} windows"
        )
    return probs


def plot_source(
    source: str | Path,
    out: str | Path,
    *,
    recording_id: str | None = None,
    at_s: float = 0.0,
    span_s: float = 30.0,
    ref_file: str | Path | None = None,
    hyp_file: str | Path | None = None,
    probs_file: str | Path | None = None,
    checkpoint: str | Path | None = None,
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    device: str = "auto",
    label_map: Mapping[str, str] | None = None,
) -> Path:
    """Draw a stretch of an EDF file or a cache record (what ``seizure plot`` does).

    Parameters
    ----------
    source : path
        An EDF/BDF file, or a cache folder (then ``recording_id`` is required).
    out : path
        ``.png`` or ``.svg``.
    recording_id : str, optional
        The cache record.
    at_s, span_s : float
        Start and length of the stretch, seconds.
    ref_file, hyp_file : path, optional
        Annotation files; a cache record's own events are the default reference, and a
        given ``ref_file`` replaces them even when it holds no seizure.
    probs_file : path, optional
        Per-window probabilities (``.npy``).
    checkpoint : path, optional
        Computes the probabilities; its config preprocesses an EDF.
    config_files, overrides
        ``--config`` / ``--set``: the preprocessing of an EDF (without a checkpoint) and the
        threshold drawn (``evaluate.threshold``).
    device : str
        Where the model runs.
    label_map : mapping of str to str, optional
        Annotation text -> label for reading ``ref_file`` and ``hyp_file``, over
        ``preprocess.label_map`` of the config (and of the cache for a cache record).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    PlotError
        Usage errors (missing ``--record``, ``--at`` outside the recording, bad suffix).
    InputFileError, ConfigError, seizure.evaluation.evaluate.EvaluationError
        Unreadable inputs, bad config, unusable checkpoint.
    """
    source, out = Path(source), Path(out)
    if Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        raise PlotError(
            f"Invalid value for '--out': allowed a file ending in "
            f"{' or '.join(IMAGE_SUFFIXES)}, got {out.name!r} instead"
        )
    detector = None
    if checkpoint is not None:
        # deferred: torch is loaded only when a model runs
        from seizure.evaluation.mne_detect import load_detector

        detector = load_detector(
            checkpoint, device=device, config_files=config_files, overrides=overrides
        )
        config = detector.config
    else:
        config = load_config(list(config_files), list(overrides))
    if source.is_dir():
        if not recording_id:
            raise PlotError(f"{source} is a cache: name the recording with --record ID")
        cache = Cache(source)
        segment = cache_segment(cache, recording_id, at_s, span_s)
        window_s, stride_s = cache.window_seconds, cache.stride_seconds
        n_windows: int | None = cache.record(recording_id).n_windows
        ref = cache.events(recording_id)
        windows: Any = cache.windows(recording_id) if detector is not None else None
        title = f"{recording_id} ({source.name})"
    else:
        if recording_id:
            raise PlotError(f"--record names a cache record, but {source} is a file")
        segment = edf_segment(source, config.preprocess, at_s, span_s)
        window_s, stride_s = config.preprocess.window_seconds, config.preprocess.stride_seconds
        n_windows, ref = None, []
        windows = open_windows(source, config.preprocess).windows if detector else None
        title = source.name
    labels = {**config.preprocess.label_map, **(label_map or {})}
    if source.is_dir():
        labels = {**cache.config.label_map, **labels}
    if ref_file is not None:  # an explicit reference is used as given, even with no seizure
        ref = _read_events(Path(ref_file), segment.duration_s, labels)
    hyp = _read_events(Path(hyp_file), segment.duration_s, labels) if hyp_file else []
    probs = None
    if detector is not None:
        probs = detector.probabilities(windows)
    elif probs_file is not None:
        probs = _load_probs(Path(probs_file), n_windows)
    trace = (
        None
        if probs is None
        else ProbabilityTrace(probs, window_s, stride_s, config.evaluate.threshold)
    )
    title += f", {segment.start_s:g} to {segment.stop_s:g} s"
    plot_segment(out, segment, ref, hyp, trace, title=title)
    return out
