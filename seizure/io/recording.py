"""The in-memory form of one EEG recording and of one corpus entry (shared types)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Recording:
    """Signals of one EDF/BDF file, channel by channel, in microvolts.

    Channels may be sampled at different rates, so signals are kept per channel.

    Parameters
    ----------
    path : Path
        The file read.
    labels : list of str
        Normalised channel names: an electrode in upper case with TUSZ naming (``FP1``, ``T3``,
        ``A1``, ``CZ``; synonyms T7/T8/P7/P8 mapped to T3/T4/T5/T6), or a bipolar pair
        (``FP1-F7``) when the file is already bipolar (CHB-MIT). Duplicate labels get a
        ``#2`` suffix.
    raw_labels : list of str
        Labels exactly as in the file header.
    sfreq_hz : list of float
        Sampling rate of each channel in Hz.
    data : list of ndarray
        One float32 array of shape (n_samples_channel,) per channel, in microvolts.
    duration_s : float
        Recording length in seconds (records x record duration).
    warnings : list of str
        Non-fatal problems (flat or NaN channels, ...), each naming the file and channel.
    units : list of str
        Unit of each channel's values: ``uV`` for every voltage channel (converted from the
        header's ``mV``/``V``/``nV``), else the header's physical dimension as written
        (``%``, ``bpm``...). Empty when the producer did not fill it.
    start_time : datetime or None
        Recording start from the header (``startdate``/``starttime``; local clock time, often
        anonymised), or None when it cannot be parsed.
    """

    path: Path
    labels: list[str]
    raw_labels: list[str]
    sfreq_hz: list[float]
    data: list[np.ndarray]
    duration_s: float
    warnings: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    start_time: _dt.datetime | None = None

    def index(self, label: str) -> int:
        """Position of a normalised label; raises KeyError naming the file when absent."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise KeyError(f"{self.path}: no channel {label!r}") from None


@dataclass(frozen=True)
class CorpusEntry:
    """One recording found in a corpus, with what its path and listings tell.

    Parameters
    ----------
    recording_id : str
        Unique id within the corpus (TUSZ: ``aaaaaool_s004_t001``; CHB-MIT: ``chb05_06``).
    edf_path : Path
        The signal file.
    annotation_path : Path or None
        The file holding its annotations (``.csv_bi``, ``.tse_bi``, ``-summary.txt``, ...).
    patient : str
        Patient id (splits are by patient).
    session : str
        Session id, or an empty string when the corpus has none.
    split : str
        ``train``, ``dev`` or ``eval`` (from the path, a split file, or a patient hash).
    corpus : str
        ``tusz_v2``, ``tusz_v1``, ``chbmit``, ``siena``, ``bids`` or ``flat``.
    """

    recording_id: str
    edf_path: Path
    annotation_path: Path | None
    patient: str
    session: str
    split: str
    corpus: str
