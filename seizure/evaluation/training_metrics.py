"""Event-level validation metrics for ``seizure train``: OVLP sensitivity at a false-alarm budget.

Imported by :mod:`seizure.training.metrics` (its ``PLUGIN_MODULE``) before validation metrics
are listed or computed; importing it registers :func:`ovlp_sensitivity_at_fa_hook` under the
name ``ovlp_sensitivity_at_fa``, so that it can be chosen for early stopping and ``best.pt``::

    seizure train CACHE RUN --set train.early_stopping_metric=ovlp_sensitivity_at_fa \\
        --set train.early_stopping_fa_per_24h=6.75

Every epoch (whichever metric is selected: every registered hook is computed and logged in
``metrics.jsonl``) the dev split's probabilities, the ones the window metrics use, go through
``seizure evaluate``'s threshold sweep, OVLP only: the run's ``evaluate`` post-processing
(:func:`seizure.scoring.postprocess.postprocess_sweep`) at the ``evaluate.sweep_*``
thresholds, additive OVLP counts per recording
(:func:`seizure.scoring.score.score_events`) summed per threshold, and the operating point
at the budget picked by :func:`seizure.scoring.curve.operating_points`. Nothing here runs
the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from seizure.evaluation.config import EvaluateConfig
from seizure.scoring.curve import operating_points
from seizure.scoring.postprocess import (
    postprocess_config_kwargs,
    postprocess_sweep,
    sweep_thresholds,
)
from seizure.training.metrics import ValidationResult, register_validation_metric

__all__ = [
    "DEFAULT_FA_PER_24H",
    "OVLP_METRICS",
    "ovlp_sensitivity_at_fa",
    "ovlp_sensitivity_at_fa_hook",
]

#: Budget used when the config has no ``train.early_stopping_fa_per_24h``.
DEFAULT_FA_PER_24H = 6.75

#: The values the hook returns (``metrics.jsonl`` columns); only the first is a metric to
#: select (``train.early_stopping_metric``), the others describe its operating point.
OVLP_METRICS: tuple[str, ...] = (
    "ovlp_sensitivity_at_fa",
    "ovlp_fa_per_24h_at_fa",
    "ovlp_threshold_at_fa",
    "ovlp_fa_budget_per_24h",
)


def ovlp_sensitivity_at_fa(
    budget_fa_per_24h: float | None = None,
) -> Callable[[ValidationResult, Any], dict[str, float]]:
    """A validation metric hook: OVLP sensitivity at a false-alarm budget on the dev split.

    Definition, for the epoch's dev-split probabilities:

    1. Each recording's per-window probabilities are post-processed as ``seizure evaluate``
       does (:func:`seizure.scoring.postprocess.postprocess_sweep` with the run's
       ``evaluate.smoothing_windows``, ``merge_gap_seconds`` and ``min_event_seconds``; window
       ``k`` covers ``[k * stride, k * stride + window)`` s) at every threshold of
       :func:`seizure.scoring.postprocess.sweep_thresholds` (``evaluate.sweep_min``,
       ``sweep_max``, ``sweep_points``; 0.02 to 0.98 in steps of 0.02 by default).
    2. At each threshold the hypotheses are scored against the reference seizures
       (``Cache.events``) with NEDC OVLP, pooled over the split's recordings: sensitivity =
       hits / reference seizures, FA/24h = false alarms / total duration x 86400.
    3. The operating point is the threshold with the highest sensitivity among those whose
       FA/24h is ``<= budget`` (ties: lower FA/24h, then higher threshold), exactly
       :func:`seizure.scoring.curve.operating_points`, i.e. the OVLP operating point that
       ``seizure evaluate`` reports for that budget (in ``evaluate.fa_budgets_per_24h``) on
       the same probabilities and ``evaluate`` section.

    Returned values (``metrics.jsonl`` columns):

    ``ovlp_sensitivity_at_fa``
        The operating point's sensitivity, in [0, 1]. 0.0 when no swept threshold meets the
        budget (detecting nothing always meets it); NaN when the dev split has no reference
        seizure (undefined, like ``window_auroc`` with one class), which never counts as an
        improvement. Larger is better.
    ``ovlp_fa_per_24h_at_fa``, ``ovlp_threshold_at_fa``
        The operating point's FA/24h and threshold (NaN when no threshold meets the budget).
    ``ovlp_fa_budget_per_24h``
        The budget used.

    Parameters
    ----------
    budget_fa_per_24h : float, optional
        False alarms per 24 h. None (the registered metric) reads
        ``config.train.early_stopping_fa_per_24h`` (default 6.75).

    Returns
    -------
    callable
        ``hook(result: ValidationResult, config) -> dict[str, float]`` for
        :func:`seizure.training.metrics.register_validation_metric`.

    Notes
    -----
    Cost: no inference; one smoothing per recording and, per threshold, thresholding, gap
    merging and OVLP scoring. A threshold is dropped as soon as the false alarms summed over
    the recordings scored so far exceed the budget (counts only grow, so it cannot be the
    operating point), which keeps the noisy low thresholds of a young model cheap.

    Choosing the threshold on the split that is also used for early stopping makes the value
    optimistic as an estimate of held-out performance (the same caveat as
    ``evaluate.select_fa_per_24h``); it is meant for ranking epochs.
    """
    if budget_fa_per_24h is not None and not budget_fa_per_24h > 0:
        raise ValueError(
            "Invalid value for 'budget_fa_per_24h': expected false alarms per 24 h > 0, "
            f"got {budget_fa_per_24h!r} instead"
        )

    def hook(result: ValidationResult, config: Any) -> dict[str, float]:
        budget = budget_fa_per_24h
        if budget is None:
            budget = getattr(getattr(config, "train", None), "early_stopping_fa_per_24h", None)
        budget = float(DEFAULT_FA_PER_24H if budget is None else budget)
        ev = getattr(config, "evaluate", None)
        if not isinstance(ev, EvaluateConfig):
            ev = EvaluateConfig()
        return _sensitivity_at_budget(result, ev, budget)

    hook.__doc__ = ovlp_sensitivity_at_fa.__doc__
    return hook


def _sensitivity_at_budget(
    result: ValidationResult, ev: EvaluateConfig, budget: float
) -> dict[str, float]:
    """The operating point of the OVLP curve at ``budget`` (see :func:`ovlp_sensitivity_at_fa`).

    Equal to ``operating_points(compute_curve(..., methods=("ovlp",)), [budget])`` on the same
    probabilities, but cheaper: per-recording OVLP counts are additive and never negative, so
    once a threshold's false alarms summed over the recordings scored so far exceed the budget
    (over the split's total duration) it cannot be the operating point, and the remaining
    recordings are neither post-processed nor scored at it.
    """
    from seizure.scoring.nedc import SECONDS_PER_DAY, SEIZ
    from seizure.scoring.score import MethodResult, ScoreParams, score_events

    out = dict(zip(OVLP_METRICS, (math.nan, math.nan, math.nan, budget)))
    ids = list(result.probabilities)
    if not ids:
        return out
    params = ScoreParams.from_config(ev)
    window, stride = float(result.window_seconds), float(result.stride_seconds)
    durations = {  # the cache's duration; else the end of the last window
        rid: float(
            result.durations_s.get(
                rid, max(0.0, (len(result.probabilities[rid]) - 1) * stride + window)
            )
        )
        for rid in ids
    }
    refs = {rid: list(result.events.get(rid, [])) for rid in ids}
    # Scoring an empty hypothesis gives the reference seizures and the total duration exactly
    # as the scorer counts them (and is the "detect nothing" point: sensitivity 0, 0 FA/24h).
    nothing = [score_events(refs[rid], [], durations[rid], "ovlp", params) for rid in ids]
    targets = float(sum(c.targets[SEIZ] for c in nothing))
    total_s = sum(c.duration_s for c in nothing)
    if targets <= 0:  # no reference seizure on dev: sensitivity is undefined
        return out

    thresholds = [float(t) for t in sweep_thresholds(ev)]
    kwargs = postprocess_config_kwargs(ev)
    sums: dict[float, Any] = {}  # threshold -> OVLP counts summed over the recordings so far
    active = list(thresholds)
    for rid in ids:
        if not active:
            break
        hyps = postprocess_sweep(
            result.probabilities[rid],
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


#: The registered hook: the budget is ``train.early_stopping_fa_per_24h``.
ovlp_sensitivity_at_fa_hook = ovlp_sensitivity_at_fa()

register_validation_metric(
    "ovlp_sensitivity_at_fa",
    ovlp_sensitivity_at_fa_hook,
    provides=("ovlp_sensitivity_at_fa",),
    mode="max",
)
