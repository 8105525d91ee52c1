"""SzCORE event and sample scoring through the ``timescoring`` library.

SzCORE (Dan et al., Epilepsia 2025) scores with ``timescoring``'s defaults: reference and
hypothesis are 1 Hz binary masks; *event* scoring merges events closer than 90 s, splits
events longer than 300 s, extends each reference event by 30 s before and 60 s after, counts a
reference event as detected when any hypothesis sample falls in its extended window, and a
hypothesis event touching no detected window as one false positive; *sample* scoring counts
1 Hz samples. As in ``szcore-evaluation``, each recording is scored on its own and the counts
are summed per patient; the figures are then reported both pooled over all recordings and
averaged over patients (SzCORE's headline: NaN-ignoring mean and population std).

The masks are built here from sorted, merged events (``timescoring`` does not sort events and
silently miscounts unsorted input) the way ``szcore-evaluation`` builds them (epilepsy2bids'
``Annotations.getMask``): the mask spans ``int(duration_s * fs)`` samples and an event
``[start, stop)`` sets samples ``int(start * fs)`` to ``int(stop * fs) - 1``, times truncated
towards zero, not rounded (``timescoring``'s own ``Annotation(events, fs, n)`` rounds, which
scores differently). The pooled duration is ``int(duration_s * fs) / fs`` per recording, as
``szcore-evaluation`` sums it.

Implementation differences
--------------------------
- epilepsy2bids computes an event's stop as ``onset + duration`` in floating point; our
  readers round that sum to 1e-9 s, so a stop within 1e-9 s below a sample boundary
  (e.g. ``2.9999999999999996``) lands one sample later here.
- ``szcore-evaluation`` reads the mask length of each file from its own first row and treats
  a hypothesis of another length as no detections; here both masks span the reference
  duration and the hypothesis is clipped to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SZCORE_METHODS: tuple[str, ...] = ("szcore_event", "szcore_sample")


@dataclass
class SzcoreCounts:
    """Additive SzCORE counts (one recording, one patient or a whole set).

    Attributes
    ----------
    method : str
        ``szcore_event`` or ``szcore_sample``.
    ref_true : float
        Reference events (event scoring, after merging and splitting) or ictal samples.
    tp, fp : float
        Detected reference events and false-positive hypothesis events, or samples.
    n_samples : float
        Samples scored (sample scoring at ``fs`` Hz; event scoring at timescoring's 10 Hz).
    duration_s : float
        Total duration in seconds.
    files : int
        Recordings summed.
    """

    method: str
    ref_true: float = 0.0
    tp: float = 0.0
    fp: float = 0.0
    n_samples: float = 0.0
    duration_s: float = 0.0
    files: int = 0

    def __add__(self, other: SzcoreCounts) -> SzcoreCounts:
        if other.method != self.method:
            raise ValueError(f"cannot add {other.method} counts to {self.method} counts")
        return SzcoreCounts(
            self.method,
            self.ref_true + other.ref_true,
            self.tp + other.tp,
            self.fp + other.fp,
            self.n_samples + other.n_samples,
            self.duration_s + other.duration_s,
            self.files + other.files,
        )

    def metrics(self) -> dict[str, float | None]:
        """Sensitivity, precision, F1 and FP per 24 h with ``timescoring``'s formulas.

        Undefined ratios are NaN (no reference events, no detections), as in
        ``timescoring``; ``specificity`` (sample scoring only, else ``None``) is
        ``TN / (TN + FP)`` over samples.
        """
        sens = self.tp / self.ref_true if self.ref_true > 0 else math.nan
        prec = self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else math.nan
        if self.ref_true + self.fp == 0:
            f1 = math.nan
        else:
            f1 = 2 * self.tp / (2 * self.tp + self.fp + (self.ref_true - self.tp))
        fp_rate = self.fp / (self.duration_s / 86400.0) if self.duration_s > 0 else math.nan
        spec: float | None = None
        if self.method == "szcore_sample":
            tn = self.n_samples - self.ref_true - self.fp
            spec = tn / (tn + self.fp) if tn + self.fp > 0 else math.nan
        return {
            "sensitivity": sens,
            "precision": prec,
            "f1": f1,
            "fp_per_24h": fp_rate,
            "specificity": spec,
        }


def szcore_mask(intervals: Sequence[tuple[float, float]], n: int, fs: int) -> np.ndarray:
    """Binary mask of ``intervals`` with times truncated to samples, as epilepsy2bids does.

    Parameters
    ----------
    intervals : sequence of (float, float)
        Non-negative ``(start, stop)`` times in seconds.
    n : int
        Mask length in samples.
    fs : int
        Mask rate in Hz.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True on samples ``int(start * fs)`` to ``int(stop * fs) - 1`` of every interval.
    """
    mask = np.zeros(n, dtype=bool)
    for start, stop in intervals:
        mask[int(start * fs) : int(stop * fs)] = True
    return mask


def _mask_annotation(intervals: Sequence[tuple[float, float]], n: int, fs: int) -> Any:
    """Build a ``timescoring`` annotation from :func:`szcore_mask` (events from the mask)."""
    # timescoring is imported lazily: `seizure score --method ovlp` does not need it
    from timescoring.annotations import Annotation

    return Annotation(szcore_mask(intervals, n, fs), fs)


def szcore_counts(
    ref: Sequence[tuple[float, float]],
    hyp: Sequence[tuple[float, float]],
    duration_s: float,
    method: str,
    fs: int = 1,
) -> SzcoreCounts:
    """Score one recording with ``timescoring``.

    Parameters
    ----------
    ref, hyp : sequence of (float, float)
        Sorted, disjoint seizure intervals in seconds (see
        :func:`seizure.scoring.nedc.as_intervals`).
    duration_s : float
        Recording duration in seconds; both masks span ``int(duration_s * fs)`` samples.
    method : str
        ``szcore_event`` or ``szcore_sample``.
    fs : int
        Mask rate in Hz (SzCORE: 1).

    Returns
    -------
    SzcoreCounts
    """
    from timescoring import scoring

    n = int(duration_s * fs)
    if n <= 0:
        return SzcoreCounts(method, files=1)
    ref_a = _mask_annotation(ref, n, fs)
    hyp_a = _mask_annotation(hyp, n, fs)
    if method == "szcore_event":
        s = scoring.EventScoring(ref_a, hyp_a)
    elif method == "szcore_sample":
        s = scoring.SampleScoring(ref_a, hyp_a, fs)
    else:
        raise ValueError(
            f"Invalid value for 'method': allowed {', '.join(map(repr, SZCORE_METHODS))}, "
            f"got {method!r} instead"
        )
    return SzcoreCounts(
        method,
        ref_true=float(s.refTrue),
        tp=float(s.tp),
        fp=float(s.fp),
        n_samples=float(s.numSamples),
        duration_s=n / fs,
        files=1,
    )


def patient_average(per_patient: dict[str, SzcoreCounts]) -> dict[str, float]:
    """SzCORE's per-patient aggregate: NaN-ignoring mean and std of each patient's figures.

    Parameters
    ----------
    per_patient : dict of str to SzcoreCounts
        Counts summed over each patient's recordings.

    Returns
    -------
    dict
        ``sensitivity``, ``precision``, ``f1``, ``fp_per_24h`` (means) and the same names
        with ``_std``; NaN when no patient defines the figure; ``patients``: the count.
    """
    out: dict[str, float] = {"patients": float(len(per_patient))}
    rows = [c.metrics() for c in per_patient.values()]
    for key in ("sensitivity", "precision", "f1", "fp_per_24h"):
        vals = np.array([r[key] for r in rows], dtype=float)
        ok = ~np.isnan(vals)
        out[key] = float(vals[ok].mean()) if ok.any() else math.nan
        out[f"{key}_std"] = float(vals[ok].std()) if ok.any() else math.nan
    return out
