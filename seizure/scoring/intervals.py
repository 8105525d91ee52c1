"""Patient-resampled intervals of pooled sensitivity and false alarms per 24 h.

False alarms and misses come in clusters: a few patients raise most of them. A pooled figure
over a few dozen patients therefore moves a lot when another set of patients is drawn. The
interval here shows that: patients are resampled with replacement (a percentile bootstrap
over patients, :data:`RESAMPLES` draws from ``numpy.random.default_rng(SEED)``), each draw's
counts are pooled the way the point estimate pools them (sums over the drawn patients, then
the ratio), and the central :data:`LEVEL` of the draws is reported.

Numpy only: the callers (:mod:`seizure.scoring.score`) turn each method's counts into the
per-patient arrays taken here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Resamples of the patients drawn for an interval.
RESAMPLES = 1000
#: Seed of ``numpy.random.default_rng`` for the draws (the same counts give the same interval).
SEED = 0
#: Central share of the resampled figures an interval covers (0.95: 2.5th to 97.5th percentile).
LEVEL = 0.95

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class PatientIntervals:
    """Percentile intervals of pooled figures over resampled patients.

    Attributes
    ----------
    patients : int
        Patients resampled.
    sensitivity : (float, float) or None
        Lower and upper bound of the pooled sensitivity (fraction in [0, 1]); None when no
        draw has a target (no patient has one).
    false_alarms_per_24h : (float, float) or None
        Lower and upper bound of the pooled false alarms per 24 hours; None when no draw has
        a positive duration (or there are no patients).
    """

    patients: int
    sensitivity: tuple[float, float] | None
    false_alarms_per_24h: tuple[float, float] | None


def _bounds(values: np.ndarray, level: float) -> tuple[float, float] | None:
    """Percentile bounds of the finite ``values`` (numpy's default linear interpolation)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [tail, 1.0 - tail])
    return float(lo), float(hi)


def patient_intervals(
    hits: np.ndarray,
    targets: np.ndarray,
    false_alarms: np.ndarray,
    duration_s: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> PatientIntervals:
    """Resample patients with replacement and return the intervals of the pooled figures.

    Each draw picks ``n`` patients out of the ``n`` with replacement (one row of an index
    matrix of shape ``(resamples, n)`` from ``numpy.random.default_rng(seed).integers``),
    sums each count over them and derives ``sum(hits) / sum(targets)`` and
    ``sum(false_alarms) / sum(duration_s) * 86400``, as the pooled point estimate is
    derived from the sums over all patients. A draw whose targets sum to 0 has no
    sensitivity and is left out of the sensitivity's percentiles (likewise a draw whose
    duration sums to 0 for the false-alarm rate). With one patient every draw is that
    patient, so both intervals are the point estimate.

    Parameters
    ----------
    hits, targets, false_alarms, duration_s : array_like of float, shape (n_patients,)
        Additive counts of each patient, summed over their recordings: detected targets,
        targets (sensitivity's denominator), false alarms (already scaled by whatever the
        rate multiplies them by, e.g. the EPOCH epoch length) and duration in seconds.
    resamples : int
        Number of draws ``B`` (at least 1).
    seed : int
        Seed of the generator.
    level : float
        Central share covered, in (0, 1): 0.95 gives the 2.5th and 97.5th percentiles.

    Returns
    -------
    PatientIntervals

    Raises
    ------
    ValueError
        Arrays of different lengths or not one-dimensional, ``resamples < 1`` or ``level``
        outside (0, 1).
    """
    arrays = [np.asarray(a, dtype=float) for a in (hits, targets, false_alarms, duration_s)]
    n = arrays[0].shape[0] if arrays[0].ndim == 1 else -1
    if any(a.ndim != 1 or a.shape[0] != n for a in arrays):
        raise ValueError(
            "hits, targets, false_alarms and duration_s must be 1-D arrays of one length, "
            f"got shapes {[a.shape for a in arrays]}"
        )
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n == 0:
        return PatientIntervals(0, None, None)
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    hit, tgt, fa, dur = (a[draws].sum(axis=1) for a in arrays)
    with np.errstate(divide="ignore", invalid="ignore"):
        sensitivity = np.where(tgt > 0, hit / tgt, np.nan)
        fa_rate = np.where(dur > 0, fa / dur * SECONDS_PER_DAY, np.nan)
    return PatientIntervals(n, _bounds(sensitivity, level), _bounds(fa_rate, level))
