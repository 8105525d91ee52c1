"""OVLP sensitivity at a false-alarm budget, from per-window probabilities.

The event-level metric that ``seizure train`` can stop early on (registered as
``ovlp_sensitivity_at_fa`` by :mod:`seizure.training.metrics`), computed here without a model:
the probabilities go through ``seizure evaluate``'s threshold sweep, OVLP only: the
``evaluate`` post-processing (:func:`seizure.scoring.postprocess.postprocess_sweep`) at the
``evaluate.sweep_*`` thresholds, additive OVLP counts per recording
(:func:`seizure.scoring.score.score_events`) summed per threshold, and the operating point at
the budget picked by :func:`seizure.scoring.curve.operating_points`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seizure.evaluation.config import EvaluateConfig
from seizure.io.events import Event
from seizure.scoring.curve import operating_points
from seizure.scoring.nedc import SECONDS_PER_DAY, SEIZ
from seizure.scoring.postprocess import (
    postprocess_config_kwargs,
    postprocess_sweep,
    sweep_thresholds,
)
from seizure.scoring.score import MethodResult, ScoreParams, score_events

__all__ = ["DEFAULT_FA_PER_24H", "OVLP_METRICS", "ovlp_sensitivity_at_budget"]

#: Budget used when the config has no ``train.early_stopping_fa_per_24h``.
DEFAULT_FA_PER_24H = 6.75

#: The values :func:`ovlp_sensitivity_at_budget` returns (``metrics.jsonl`` columns); only the
#: first is a metric to select (``train.early_stopping_metric``), the others describe its
#: operating point.
OVLP_METRICS: tuple[str, ...] = (
    "ovlp_sensitivity_at_fa",
    "ovlp_fa_per_24h_at_fa",
    "ovlp_threshold_at_fa",
    "ovlp_fa_budget_per_24h",
)


def ovlp_sensitivity_at_budget(
    probabilities: Mapping[str, np.ndarray],
    events: Mapping[str, Sequence[Event]],
    durations_s: Mapping[str, float],
    window_seconds: float,
    stride_seconds: float,
    ev: EvaluateConfig,
    budget: float,
) -> dict[str, float]:
    """Compute the OVLP operating point at a false-alarm budget, pooled over recordings.

    Definition:

    1. Each recording's per-window probabilities are post-processed as ``seizure evaluate``
       does (:func:`seizure.scoring.postprocess.postprocess_sweep` with
       ``ev.smoothing_windows``, ``merge_gap_seconds`` and ``min_event_seconds``; window ``k``
       covers ``[k * stride_seconds, k * stride_seconds + window_seconds)``) at every
       threshold of :func:`seizure.scoring.postprocess.sweep_thresholds` (``ev.sweep_min``,
       ``sweep_max``, ``sweep_points``).
    2. At each threshold the hypotheses are scored against ``events`` with NEDC OVLP, pooled
       over the recordings: sensitivity = hits / reference seizures, FA/24h = false alarms /
       total duration x 86400.
    3. The operating point is the threshold with the highest sensitivity among those whose
       FA/24h is ``<= budget`` (ties: lower FA/24h, then higher threshold), exactly
       :func:`seizure.scoring.curve.operating_points`, i.e. the OVLP operating point that
       ``seizure evaluate`` reports for that budget on the same probabilities and ``ev``.

    Parameters
    ----------
    probabilities : mapping of str to numpy.ndarray
        Recording id -> ictal probability per window, shape ``(n_windows,)``.
    events : mapping of str to sequence of Event
        Recording id -> reference seizure events in seconds (a missing id: none).
    durations_s : mapping of str to float
        Recording id -> duration in seconds (a missing id: the end of its last window).
    window_seconds, stride_seconds : float
        Window length and stride in seconds.
    ev : EvaluateConfig
        The post-processing and sweep settings.
    budget : float
        False alarms per 24 h.

    Returns
    -------
    dict of str to float
        The :data:`OVLP_METRICS`: ``ovlp_sensitivity_at_fa`` in [0, 1] (0.0 when no swept
        threshold meets the budget, detecting nothing always meets it; NaN when there is no
        reference seizure), ``ovlp_fa_per_24h_at_fa`` and ``ovlp_threshold_at_fa`` (NaN when no
        threshold meets the budget), ``ovlp_fa_budget_per_24h`` (``budget``).

    Notes
    -----
    Cost: one smoothing per recording and, per threshold, thresholding, gap merging and OVLP
    scoring. Per-recording OVLP counts are additive and never negative, so once a threshold's
    false alarms summed over the recordings scored so far exceed the budget (over the total
    duration) it cannot be the operating point, and the remaining recordings are neither
    post-processed nor scored at it; this keeps the noisy low thresholds of a young model
    cheap and gives the same result as
    ``operating_points(compute_curve(..., methods=("ovlp",)), [budget])``.
    """
    out = dict(zip(OVLP_METRICS, (math.nan, math.nan, math.nan, budget)))
    ids = list(probabilities)
    if not ids:
        return out
    params = ScoreParams.from_config(ev)
    window, stride = float(window_seconds), float(stride_seconds)
    durations = {  # the cache's duration; else the end of the last window
        rid: float(durations_s.get(rid, max(0.0, (len(probabilities[rid]) - 1) * stride + window)))
        for rid in ids
    }
    refs = {rid: list(events.get(rid, [])) for rid in ids}
    # Scoring an empty hypothesis gives the reference seizures and the total duration exactly
    # as the scorer counts them (and is the "detect nothing" point: sensitivity 0, 0 FA/24h).
    nothing = [score_events(refs[rid], [], durations[rid], "ovlp", params) for rid in ids]
    targets = float(sum(c.targets[SEIZ] for c in nothing))
    total_s = sum(c.duration_s for c in nothing)
    if targets <= 0:  # no reference seizure: sensitivity is undefined
        return out

    thresholds = [float(t) for t in sweep_thresholds(ev)]
    kwargs = postprocess_config_kwargs(ev)
    sums: dict[float, Any] = {}  # threshold -> OVLP counts summed over the recordings so far
    active = list(thresholds)
    for rid in ids:
        if not active:
            break
        hyps = postprocess_sweep(
            probabilities[rid],
            active,
            window_seconds=window,
            stride_seconds=stride,
            duration_s=durations[rid],
            **kwargs,
        )
        still = []
        for thr, hyp in zip(active, hyps):
            counts = score_events(refs[rid], hyp, durations[rid], "ovlp", params)
            total = sums[thr] = counts if thr not in sums else sums[thr] + counts
            # a lower bound of the threshold's FA/24h (NEDC: fp / total duration x 86400)
            if total_s > 0 and total.false_alarms[SEIZ] / total_s * SECONDS_PER_DAY > budget:
                del sums[thr]
            else:
                still.append(thr)
        active = still
    rows = [
        {"method": "ovlp", "threshold": thr, **MethodResult("ovlp", sums[thr]).summary()}
        for thr in thresholds
        if thr in sums
    ]
    (point,) = operating_points(rows, [budget], ["ovlp"])
    if point.threshold is None:  # every swept threshold raises more alarms than the budget
        out["ovlp_sensitivity_at_fa"] = 0.0
        return out
    out["ovlp_sensitivity_at_fa"] = float(point.sensitivity)
    out["ovlp_fa_per_24h_at_fa"] = float(point.false_alarms_per_24h)
    out["ovlp_threshold_at_fa"] = float(point.threshold)
    return out
