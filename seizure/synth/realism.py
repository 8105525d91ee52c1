"""Realism statistics of scalp EEG: background slope, line noise, ictal band-power ratios.

The same function measures a synthetic corpus and a real recording, so the two can be
compared figure for figure (``docs/benchmark.md``; ``python benchmarks/bench_synth.py
--realism``).

Definitions
-----------
Signals
    The bipolar channels of the TCP montage (:data:`seizure.synth.layout.TCP_PAIRS`) whose
    two electrodes the recording has (20 of 22 for a recording without A1/A2), in
    microvolts, read with :func:`seizure.io.edf.read_edf`.
Spectra
    Periodograms of 4 s Hann segments with 50% overlap (Welch), so every rate gives 0.25 Hz
    bins. A segment is *ictal* when its centre lies in a seizure, *background* when its
    centre lies outside every seizure and more than :data:`POSTICTAL_SECONDS` after the end
    of one; other segments are left out. Recordings sampled below 80 Hz are refused.
Background slope
    Per channel, the least-squares slope of ``log10 PSD`` against ``log10 f`` over 2-30 Hz of
    the background Welch spectrum; the recording's figure is the median over channels.
Line noise
    Per channel, ``10 log10`` of the largest background PSD bin within 0.5 Hz of the line
    frequency over the median PSD of 54-58 and 62-66 Hz (dB above the floor); NaN when the
    line frequency is above 0.45 times the sampling rate.
Ictal band-power ratios
    Per seizure, the band power summed over channels in its ictal segments (mean over
    segments) divided by the same in its recording's background, for delta 1-4, theta 4-8,
    alpha 8-13, beta 13-30 and gamma 30-40 Hz. A corpus reports the median over seizures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seizure.io.annotations import KEEP_SEIZURE_TYPES, read_annotation
from seizure.io.discovery import discover, load_annotation
from seizure.io.edf import read_edf
from seizure.io.events import Event
from seizure.synth.generate import GeneratedRecording
from seizure.synth.layout import CHANNELS, TCP_PAIRS
from seizure.utils.errors import InputFileError

#: Frequency bands of the ictal band-power ratios, in Hz ``[low, high)``.
BANDS_HZ: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 40.0),
}
#: Range of the background slope fit, in Hz.
SLOPE_BAND_HZ = (2.0, 30.0)
#: Seconds after a seizure left out of the background (post-ictal slowing).
POSTICTAL_SECONDS = 120.0
SEGMENT_SECONDS = 4.0
_FLOOR_HZ = ((54.0, 58.0), (62.0, 66.0))
_MIN_RATE_HZ = 80.0


@dataclass
class RecordingRealism:
    """Realism statistics of one recording.

    Attributes
    ----------
    name : str
    channels : tuple of str
        Bipolar channel names, ``FP1-F7`` ...
    slopes : ndarray, shape (n_channels,)
        Background spectral slope per channel (log-log, 2-30 Hz).
    line_db : ndarray, shape (n_channels,)
        Line noise in dB above the floor per channel (NaN when not measurable).
    seizures : list of dict
        Per seizure: ``label`` and ``ratios`` (band name to ictal/background power ratio).
    background_seconds : float
        Seconds of background the spectra were averaged over.
    """

    name: str
    channels: tuple[str, ...]
    slopes: np.ndarray
    line_db: np.ndarray
    seizures: list[dict] = field(default_factory=list)
    background_seconds: float = 0.0

    @property
    def median_slope(self) -> float:
        """Median over channels of the background slope."""
        return float(np.median(self.slopes))


@dataclass
class RealismSummary:
    """Realism statistics of a set of recordings (see the module docstring).

    Attributes
    ----------
    recordings : list of RecordingRealism
    """

    recordings: list[RecordingRealism]

    def median_slopes(self) -> np.ndarray:
        """Median-channel background slope of each recording, shape (n_recordings,)."""
        return np.array([r.median_slope for r in self.recordings])

    def line_db(self) -> np.ndarray:
        """Line noise of every measurable channel of every recording in dB, shape (k,)."""
        values = np.concatenate([r.line_db for r in self.recordings]) if self.recordings else []
        values = np.asarray(values, dtype=np.float64)
        return values[np.isfinite(values)]

    def band_ratios(self, label: str | None = None) -> dict[str, float]:
        """Median over seizures (of type ``label``, or all) of the ictal/background ratio."""
        rows = [
            s["ratios"]
            for r in self.recordings
            for s in r.seizures
            if label is None or s["label"] == label
        ]
        if not rows:
            return {band: float("nan") for band in BANDS_HZ}
        return {band: float(np.median([row[band] for row in rows])) for band in BANDS_HZ}

    def seizure_labels(self) -> list[str]:
        """Seizure labels present, sorted."""
        return sorted({s["label"] for r in self.recordings for s in r.seizures})

    def to_dict(self) -> dict:
        """Summary figures as plain numbers (JSON-ready).

        Returns
        -------
        dict
            ``recordings``, ``seizures``, ``slope_median`` and ``slope_range`` (over
            recordings of the median-channel slope), ``line_db_median``,
            ``line_db_max``, ``line_channels_above_6db`` (fraction of channels),
            ``band_ratios`` (all seizures) and ``band_ratios_by_label``.
        """
        slopes = self.median_slopes()
        line = self.line_db()
        n_sz = sum(len(r.seizures) for r in self.recordings)

        def rnd(v: float, k: int = 2) -> float | None:
            return round(float(v), k) if np.isfinite(v) else None

        return {
            "recordings": len(self.recordings),
            "seizures": n_sz,
            "slope_median": rnd(np.median(slopes)) if slopes.size else None,
            "slope_range": [rnd(slopes.min()), rnd(slopes.max())] if slopes.size else None,
            "line_db_median": rnd(np.median(line), 1) if line.size else None,
            "line_db_max": rnd(line.max(), 1) if line.size else None,
            "line_channels_above_6db": rnd(np.mean(line > 6.0)) if line.size else None,
            "band_ratios": {k: rnd(v, 1) for k, v in self.band_ratios().items()},
            "band_ratios_by_label": {
                label: {k: rnd(v, 1) for k, v in self.band_ratios(label).items()}
                for label in self.seizure_labels()
            },
        }


def bipolar_signals(
    data: Sequence[np.ndarray], electrodes: Sequence[str]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Derive the TCP bipolar channels a recording's electrodes allow.

    Parameters
    ----------
    data : sequence of ndarray, each shape (n_samples,)
        Referential signals in microvolts, one per electrode, all at one rate.
    electrodes : sequence of str
        Electrode names (``FP1``, ``T3``; upper case, no prefix or suffix) of ``data``.

    Returns
    -------
    names : tuple of str
        ``FP1-F7`` ...
    signals : ndarray of float64, shape (n_channels, n_samples)
    """
    index = {e: i for i, e in enumerate(electrodes)}
    pairs = [(a, b) for a, b in TCP_PAIRS if a in index and b in index]
    if not pairs:
        raise ValueError(f"no TCP bipolar channel can be formed from electrodes {list(electrodes)}")
    x = np.stack(
        [
            np.asarray(data[index[a]], np.float64) - np.asarray(data[index[b]], np.float64)
            for a, b in pairs
        ]
    )
    return tuple(f"{a}-{b}" for a, b in pairs), x


def segment_spectra(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Periodograms of 4 s Hann segments with 50% overlap.

    Parameters
    ----------
    x : ndarray, shape (n_channels, n_samples)
        Signals in microvolts.
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    f : ndarray, shape (n_freqs,)
        Frequencies in Hz (0.25 Hz apart).
    centres : ndarray, shape (n_segments,)
        Segment centres in seconds.
    psd : ndarray, shape (n_segments, n_channels, n_freqs)
        One-sided power spectral density in uV^2/Hz.
    """
    from scipy.signal import spectrogram

    nper = int(round(SEGMENT_SECONDS * fs))
    f, t, sxx = spectrogram(
        x, fs=fs, window="hann", nperseg=nper, noverlap=nper // 2, detrend="constant"
    )
    return f, t, np.moveaxis(sxx, -1, 0)


def spectral_slopes(
    f: np.ndarray, psd: np.ndarray, band_hz: tuple[float, float] = SLOPE_BAND_HZ
) -> np.ndarray:
    """Log-log least-squares slope of each row of ``psd`` over ``band_hz``.

    Parameters
    ----------
    f : ndarray, shape (n_freqs,)
        Frequencies in Hz.
    psd : ndarray, shape (n_rows, n_freqs)
    band_hz : (float, float)

    Returns
    -------
    ndarray, shape (n_rows,)
    """
    m = (f >= band_hz[0]) & (f <= band_hz[1])
    lf = np.log10(f[m])
    lp = np.log10(np.maximum(psd[:, m], 1e-30))
    lf_c = lf - lf.mean()
    return (lp - lp.mean(axis=1, keepdims=True)) @ lf_c / (lf_c @ lf_c)


def line_noise_db(f: np.ndarray, psd: np.ndarray, line_hz: float, fs: float) -> np.ndarray:
    """Line-frequency peak over the neighbouring floor, in dB, per row.

    Parameters
    ----------
    f : ndarray, shape (n_freqs,)
    psd : ndarray, shape (n_rows, n_freqs)
    line_hz : float
        Mains frequency in Hz (the floor is read 2-6 Hz either side of 60 Hz, shifted to it).
    fs : float
        Sampling rate in Hz.

    Returns
    -------
    ndarray, shape (n_rows,)
        NaN for every row when ``line_hz + 6 > 0.45 * fs``.
    """
    if line_hz + 6.0 > 0.45 * fs:
        return np.full(psd.shape[0], np.nan)
    peak = np.abs(f - line_hz) <= 0.5
    shift = line_hz - 60.0
    floor = np.zeros_like(f, dtype=bool)
    for lo, hi in _FLOOR_HZ:
        floor |= (f >= lo + shift) & (f <= hi + shift)
    top = psd[:, peak].max(axis=1)
    base = np.median(psd[:, floor], axis=1)
    return 10.0 * np.log10(np.maximum(top, 1e-30) / np.maximum(base, 1e-30))


def band_power(f: np.ndarray, psd: np.ndarray) -> dict[str, np.ndarray]:
    """Power in each of :data:`BANDS_HZ` (sum of PSD bins times the bin width).

    Parameters
    ----------
    f : ndarray, shape (n_freqs,)
    psd : ndarray, shape (..., n_freqs)

    Returns
    -------
    dict of str to ndarray, shape (...)
        In uV^2.
    """
    df = float(f[1] - f[0])
    return {
        name: psd[..., (f >= lo) & (f < hi)].sum(axis=-1) * df
        for name, (lo, hi) in BANDS_HZ.items()
    }


def measure_signals(
    name: str,
    channels: Sequence[str],
    x: np.ndarray,
    fs: float,
    seizures: Iterable[Event],
    line_hz: float = 60.0,
) -> RecordingRealism:
    """Realism statistics of bipolar signals with their seizures.

    Parameters
    ----------
    name : str
    channels : sequence of str
    x : ndarray, shape (n_channels, n_samples)
        Bipolar signals in microvolts.
    fs : float
        Sampling rate in Hz (>= 80).
    seizures : iterable of Event
        Seizure events in seconds; ``label`` names the type.
    line_hz : float

    Returns
    -------
    RecordingRealism
    """
    if fs < _MIN_RATE_HZ:
        raise ValueError(f"{name}: sampling rate {fs:g} Hz is below {_MIN_RATE_HZ:g} Hz")
    seizures = sorted(seizures, key=lambda e: e.start)
    f, centres, psd = segment_spectra(x, fs)
    ictal_of = np.full(centres.size, -1)
    excluded = np.zeros(centres.size, dtype=bool)
    for k, ev in enumerate(seizures):
        inside = (centres >= ev.start) & (centres < ev.stop)
        ictal_of[inside] = k
        excluded |= (centres >= ev.start) & (centres < ev.stop + POSTICTAL_SECONDS)
    background = ~excluded
    if not background.any():
        raise ValueError(f"{name}: no background segment outside seizures and post-ictal time")
    bg = psd[background].mean(axis=0)
    bg_power = {k: v.sum() for k, v in band_power(f, bg).items()}
    rows = []
    for k, ev in enumerate(seizures):
        sel = ictal_of == k
        if not sel.any():
            continue
        ic_power = band_power(f, psd[sel].mean(axis=0))
        rows.append(
            {
                "label": ev.label,
                "ratios": {b: float(ic_power[b].sum() / bg_power[b]) for b in BANDS_HZ},
            }
        )
    return RecordingRealism(
        name=name,
        channels=tuple(channels),
        slopes=spectral_slopes(f, bg),
        line_db=line_noise_db(f, bg, line_hz, fs),
        seizures=rows,
        background_seconds=float(background.sum() * SEGMENT_SECONDS / 2),
    )


def measure_recording(
    edf: str | Path, seizures: Iterable[Event], line_hz: float = 60.0
) -> RecordingRealism:
    """Realism statistics of one EDF recording.

    Parameters
    ----------
    edf : path
        A referential EDF with 10-20 electrode labels (``EEG FP1-REF``, ``EEG Fp1``, ...).
    seizures : iterable of Event
        Its seizure events in seconds.
    line_hz : float
        Mains frequency in Hz.

    Returns
    -------
    RecordingRealism

    Raises
    ------
    InputFileError
        When the recording's electrodes give no TCP channel or its rates differ.
    """
    rec = read_edf(edf)
    electrodes = [label.upper() for label in rec.labels]
    rates = {rec.sfreq_hz[i] for i, e in enumerate(electrodes) if e in _ELECTRODE_SET}
    if len(rates) != 1:
        raise InputFileError(f"{edf}: expected one sampling rate for the EEG, got {rates}")
    try:
        names, x = bipolar_signals(rec.data, electrodes)
        return measure_signals(Path(edf).stem, names, x, rates.pop(), seizures, line_hz)
    except ValueError as err:
        raise InputFileError(f"{edf}: {err}") from err


def measure_generated(recording: GeneratedRecording, line_hz: float = 60.0) -> RecordingRealism:
    """Measure realism statistics of a recording generated in memory.

    Its seizures are labelled with their pattern (``rhythmic``, ``fast``, ``spike_wave``,
    ``tonic_clonic``).

    Parameters
    ----------
    recording : GeneratedRecording
        From :func:`seizure.synth.generate.generate_recording`.
    line_hz : float

    Returns
    -------
    RecordingRealism
    """
    names, x = bipolar_signals(list(recording.data), CHANNELS)
    seizures = [Event(s["start_s"], s["stop_s"], s["pattern"]) for s in recording.seizures]
    return measure_signals(recording.spec.name, names, x, recording.sfreq_hz, seizures, line_hz)


def measure_corpus(
    items: Iterable[tuple[str | Path, Iterable[Event]]], line_hz: float = 60.0
) -> RealismSummary:
    """Realism statistics of several recordings.

    Parameters
    ----------
    items : iterable of (path, events)
        EDF paths with their seizure events.
    line_hz : float

    Returns
    -------
    RealismSummary
    """
    return RealismSummary([measure_recording(p, ev, line_hz) for p, ev in items])


def typed_seizures(edf: str | Path, term_seizures: Sequence[Event]) -> list[Event]:
    """Term seizures labelled with their type from the per-channel ``.csv`` beside ``edf``.

    Each seizure takes the most frequent type among the channel events that overlap it
    (``seiz`` when there is no ``.csv`` or none overlaps).

    Returns
    -------
    list of Event
    """
    csv = Path(edf).with_suffix(".csv")
    if not csv.is_file():
        return list(term_seizures)
    typed = [e for e in read_annotation(csv, label_map=KEEP_SEIZURE_TYPES).events]
    out = []
    for sz in term_seizures:
        labels = [
            e.label for e in typed if e.label != "bckg" and e.start < sz.stop and e.stop > sz.start
        ]
        label = max(sorted(set(labels)), key=labels.count) if labels else sz.label
        out.append(Event(sz.start, sz.stop, label, sz.channel))
    return out


def measure_corpus_dir(
    corpus_dir: str | Path,
    splits: Sequence[str] | None = None,
    line_hz: float = 60.0,
    max_recordings: int | None = None,
) -> RealismSummary:
    """Measure realism statistics of a corpus folder.

    Any layout :func:`seizure.io.discovery.discover` reads will do; seizures are typed from
    TUSZ ``.csv`` files where present.

    Parameters
    ----------
    corpus_dir : path
    splits : sequence of str, optional
        Only these splits (all when None).
    line_hz : float
    max_recordings : int, optional
        Only the first this many recordings (by id).

    Returns
    -------
    RealismSummary
    """
    entries = [e for e in discover(corpus_dir) if splits is None or e.split in splits]
    if max_recordings is not None:
        entries = entries[:max_recordings]
    items = []
    for entry in entries:
        annotation = load_annotation(entry)
        seiz = annotation.seizures()
        items.append((entry.edf_path, typed_seizures(entry.edf_path, seiz)))
    return measure_corpus(items, line_hz)


_ELECTRODE_SET = {e for pair in TCP_PAIRS for e in pair}
