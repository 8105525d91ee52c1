"""Configuration of ``seizure preprocess`` (section ``preprocess``). Imports nothing heavy."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: Montage names (the tables live in :mod:`seizure.preprocessing.montage`).
MONTAGE_NAMES = ("tcp_ar", "tcp_le", "tcp_ar_a", "double_banana", "average", "referential")

MontageName = Literal["tcp_ar", "tcp_le", "tcp_ar_a", "double_banana", "average", "referential"]


#: TUSZ seizure types (focal, generalised, simple and complex partial, absence, tonic, clonic,
#: tonic-clonic, atonic, myoclonic); annotation readers turn each into ``seiz`` unless a label
#: map keeps it.
SEIZURE_TYPES: tuple[str, ...] = (
    "fnsz",
    "gnsz",
    "spsz",
    "cpsz",
    "absz",
    "tnsz",
    "cnsz",
    "tcsz",
    "atsz",
    "mysz",
)

#: The labels an annotation text may be mapped to (``preprocess.label_map`` values): seizure,
#: background, or a seizure type (counted as seizure by the pipeline).
ANNOTATION_LABELS: tuple[str, ...] = ("seiz", "bckg", *SEIZURE_TYPES)


def check_label_map(label_map: Mapping[Any, Any], key: str) -> dict[str, str]:
    """Check a label map and return it with texts and labels in lower case.

    Parameters
    ----------
    label_map : mapping of str to str
        Annotation text (an mne-bids ``trial_type``, an EDF+ annotation text, any label of an
        annotation file; compared case-insensitively) -> one of :data:`ANNOTATION_LABELS`.
    key : str
        Where the map was given (``preprocess.label_map``, ``--label-map``), for messages.

    Returns
    -------
    dict of str to str
        Stripped, lower-case texts -> lower-case labels.

    Raises
    ------
    ValueError
        A text or label that is not a non-empty string, a label outside
        :data:`ANNOTATION_LABELS`, or two texts equal but for letter case mapped to different
        labels; the message names ``key`` and the text.
    """
    out: dict[str, str] = {}
    for text, label in label_map.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"Invalid value for '{key}': an annotation text must be a non-empty string, "
                f"got {text!r}"
            )
        allowed = ", ".join(ANNOTATION_LABELS)
        target = label.strip().lower() if isinstance(label, str) else label
        if target not in ANNOTATION_LABELS:
            raise ValueError(
                f"Invalid value for '{key}' (text {text!r}): allowed labels are {allowed}, "
                f"got {label!r} instead"
            )
        lowered = text.strip().lower()
        if out.get(lowered, target) != target:
            raise ValueError(
                f"Invalid value for '{key}': texts equal to {lowered!r} (letter case aside) "
                f"map to both {out[lowered]!r} and {target!r}"
            )
        out[lowered] = target
    return out


def _is_multiple(value: float, step: float) -> bool:
    ratio = value / step
    return math.isclose(ratio, round(ratio), rel_tol=0, abs_tol=1e-6) and round(ratio) >= 1


#: Longest window or stride accepted, in seconds (a bound that keeps a mistyped value from
#: allocating terabytes; TUSZ systems use windows of 1-10 s).
MAX_WINDOW_SECONDS = 600.0


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
        Band-pass edges in Hz, or None for no band-pass (a low edge of 0 gives a low-pass).
    notch_hz : float or None
        Line frequency to notch (50 or 60 Hz), or None.
    features : {'raw', 'lfcc'}
        Raw samples per window, or the paper's LFCC frames.
    window_seconds, stride_seconds : float
        Window length and hop, in seconds; each must be a whole number of samples (and, for
        LFCC, of frames).
    fill_missing : bool
        Fill montage channels the recording cannot provide with zeros (recorded in the cache
        and reported) instead of refusing the recording.
    bandpass_order : int
        Butterworth order of the band-pass (applied forwards and backwards).
    notch_q : float
        Quality factor of the notch (centre frequency / bandwidth).
    storage_dtype : {'float16', 'float32'}
        dtype of the cached windows. float16 keeps microvolts with 11 significant bits
        (0.06 uV steps at 100 uV); values beyond +-65504 are clipped with a warning.
    lfcc_frame_seconds, lfcc_analysis_seconds : float
        LFCC frame hop and analysis window, in seconds.
    lfcc_n_filters : int
        Triangular filters in the linear filter bank.
    lfcc_n_cepstra : int
        Cepstral coefficients kept (c1..cN); 7 gives 26 features per frame.
    lfcc_energy_span_frames : int
        Frames (odd) over which differential energy is max - min of the log energy.
    lfcc_delta_frames : int
        Half-width in frames of the derivative regression.
    label_map : dict of str to str
        Annotation text -> label (one of :data:`ANNOTATION_LABELS`), consulted
        case-insensitively before the readers' defaults when the corpus's annotations are
        read: an mne-bids ``events.tsv`` ``trial_type``, an EDF+ annotation text, or any
        label of a TUSZ/SzCORE file (``{"eyes closed": "bckg", "Crise": "seiz"}``). A text
        that matches neither map is handled as without it: an error naming the file and line
        in an annotation file, a note left out (with a warning) in an EDF+. Empty by default;
        it enters the fingerprint only when set.
    """

    montage: MontageName = "tcp_ar"
    sample_rate_hz: float = 256.0
    bandpass_hz: tuple[float, float] | None = (1.0, 70.0)
    notch_hz: float | None = 60.0
    features: Literal["raw", "lfcc"] = "raw"
    window_seconds: float = 1.0
    stride_seconds: float = 1.0
    fill_missing: bool = False
    bandpass_order: int = 4
    notch_q: float = 30.0
    storage_dtype: Literal["float16", "float32"] = "float16"
    lfcc_frame_seconds: float = 0.1
    lfcc_analysis_seconds: float = 0.2
    lfcc_n_filters: int = 24
    lfcc_n_cepstra: int = 7
    lfcc_energy_span_frames: int = 9
    lfcc_delta_frames: int = 2
    # hash=False: a dict is unhashable; equal configs still hash equal without it.
    # omit_when_empty: see seizure.config.OMIT_WHEN_EMPTY (the default fingerprint is kept).
    label_map: dict[str, str] = field(
        default_factory=dict, hash=False, metadata={"omit_when_empty": True}
    )

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "label_map", check_label_map(self.label_map, "preprocess.label_map")
        )
        fs = self.sample_rate_hz
        if fs <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {fs}")
        for name in ("window_seconds", "stride_seconds"):
            value = getattr(self, name)
            if value > MAX_WINDOW_SECONDS:
                raise ValueError(
                    f"{name} must be at most {MAX_WINDOW_SECONDS:g} s (a window is the "
                    f"detector's unit of time, seconds long), got {value} s"
                )
            if value <= 0 or not _is_multiple(value * fs, 1.0):
                raise ValueError(
                    f"{name} must be a positive whole number of samples at {fs:g} Hz, "
                    f"got {value} s ({value * fs:g} samples)"
                )
        if self.bandpass_hz is not None:
            low, high = self.bandpass_hz
            if not 0 <= low < high < fs / 2:
                raise ValueError(
                    f"bandpass_hz must satisfy 0 <= low < high < {fs / 2:g} Hz "
                    f"(half of sample_rate_hz), got {list(self.bandpass_hz)}"
                )
        if self.notch_hz is not None and not 0 < self.notch_hz < fs / 2:
            raise ValueError(
                f"notch_hz must be between 0 and {fs / 2:g} Hz (half of sample_rate_hz), "
                f"got {self.notch_hz}"
            )
        if self.bandpass_order < 1 or self.notch_q <= 0:
            raise ValueError("bandpass_order must be >= 1 and notch_q > 0")
        if self.features == "lfcc":
            frame = self.lfcc_frame_seconds
            for name in ("window_seconds", "stride_seconds"):
                if not _is_multiple(getattr(self, name), frame):
                    raise ValueError(
                        f"with features 'lfcc', {name} must be a whole number of "
                        f"lfcc_frame_seconds ({frame} s), got {getattr(self, name)}"
                    )
            if self.lfcc_energy_span_frames < 1 or self.lfcc_energy_span_frames % 2 == 0:
                raise ValueError("lfcc_energy_span_frames must be odd and positive")
            if self.lfcc_n_cepstra >= self.lfcc_n_filters:
                raise ValueError("lfcc_n_cepstra must be smaller than lfcc_n_filters")

    @property
    def window_samples(self) -> int:
        """Window length in samples at :attr:`sample_rate_hz`."""
        return int(round(self.window_seconds * self.sample_rate_hz))

    @property
    def stride_samples(self) -> int:
        """Window hop in samples at :attr:`sample_rate_hz`."""
        return int(round(self.stride_seconds * self.sample_rate_hz))

    @property
    def n_lfcc_features(self) -> int:
        """Features per LFCC frame: ``2 * (n_cepstra + 2) + n_cepstra + 1`` (26 by default)."""
        return 2 * (self.lfcc_n_cepstra + 2) + self.lfcc_n_cepstra + 1

    @property
    def frames_per_window(self) -> int:
        """LFCC frames per window."""
        return int(round(self.window_seconds / self.lfcc_frame_seconds))
