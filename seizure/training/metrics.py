r"""Validation metrics computed after every epoch, and a hook for more.

Window-level metrics pool every window of the validation split (dev). One event-level metric
is registered here, ``ovlp_sensitivity_at_fa`` (OVLP sensitivity at a false-alarm budget,
computed by :func:`seizure.scoring.budget.ovlp_sensitivity_at_budget`); more can be added with
:func:`register_validation_metric`. ``train.early_stopping_metric`` can name any of them::

    seizure train CACHE RUN --set train.early_stopping_metric=ovlp_sensitivity_at_fa \\
        --set train.early_stopping_fa_per_24h=6.75
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seizure.evaluation.config import EvaluateConfig
from seizure.scoring.budget import DEFAULT_FA_PER_24H, OVLP_METRICS, ovlp_sensitivity_at_budget
from seizure.utils.errors import invalid_value

__all__ = [
    "DEFAULT_FA_PER_24H",
    "OVLP_METRICS",
    "ValidationResult",
    "auprc",
    "auroc",
    "better",
    "compute_validation_metrics",
    "metric_mode",
    "ovlp_sensitivity_at_fa",
    "ovlp_sensitivity_at_fa_hook",
    "register_validation_metric",
    "window_metrics",
]


@dataclass
class ValidationResult:
    """Per-window predictions over the validation split, handed to metric hooks.

    Attributes
    ----------
    probabilities : dict[str, numpy.ndarray]
        Recording id -> ictal probability per window, float32, shape ``(n_windows,)``.
    labels : dict[str, numpy.ndarray]
        Recording id -> reference label per window (0/1), uint8, shape ``(n_windows,)``.
    events : dict[str, list]
        Recording id -> reference seizure events (``seizure.io.events.Event``), in seconds.
    durations_s : dict[str, float]
        Recording id -> duration in seconds.
    window_seconds, stride_seconds : float
        Window ``k`` covers ``[k * stride_seconds, k * stride_seconds + window_seconds)``.
    loss : float
        Mean binary cross-entropy over all windows (unweighted).
    epoch : int
        Epoch just finished (1-based).
    """

    probabilities: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    events: dict[str, list] = field(default_factory=dict)
    durations_s: dict[str, float] = field(default_factory=dict)
    window_seconds: float = 1.0
    stride_seconds: float = 1.0
    loss: float = math.nan
    epoch: int = 0


MetricHook = Callable[[ValidationResult, Any], dict[str, float]]

#: name -> (hook, names of the metrics it returns, 'max' or 'min')
_HOOKS: dict[str, tuple[MetricHook, tuple[str, ...], str]] = {}

#: built-in metric -> whether larger is better
BUILTIN_METRICS = {
    "val_loss": "min",
    "window_auroc": "max",
    "window_auprc": "max",
    "window_sensitivity": "max",
    "window_specificity": "max",
}


def register_validation_metric(
    name: str, hook: MetricHook, provides: tuple[str, ...] | None = None, mode: str = "max"
) -> None:
    """Add a validation metric computed after every epoch.

    Parameters
    ----------
    name : str
        Registry name of the hook.
    hook : callable
        ``hook(result: ValidationResult, config: Config) -> dict[str, float]``.
    provides : tuple of str, optional
        Names of the metrics the hook returns (default ``(name,)``); each can be used as
        ``train.early_stopping_metric``.
    mode : {'max', 'min'}
        Whether larger values of these metrics are better.

    Examples
    --------
    OVLP sensitivity at 10 false alarms per 24 h::

        register_validation_metric("ovlp_sens_at_fa10", ovlp_sensitivity_at_fa(10.0))
    """
    if mode not in ("max", "min"):
        raise invalid_value("mode", mode, ("max", "min"))
    _HOOKS[name] = (hook, tuple(provides or (name,)), mode)


def known_metrics() -> dict[str, str]:
    """All metric names that validation produces, with their mode ('max' or 'min')."""
    out = dict(BUILTIN_METRICS)
    for _, provides, mode in _HOOKS.values():
        out.update(dict.fromkeys(provides, mode))
    return out


def metric_mode(name: str, mode: str = "auto") -> str:
    """Resolve ``'auto'`` to ``'max'`` or ``'min'`` for the metric ``name``."""
    if mode != "auto":
        return mode
    known = known_metrics()
    if name in known:
        return known[name]
    return "min" if name.endswith("loss") else "max"


def better(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` improves on ``best`` by more than ``min_delta`` (NaN never does)."""
    if value is None or not math.isfinite(value):
        return False
    if best is None or not math.isfinite(best):
        return True
    if mode == "max":
        return value > best + min_delta
    return value < best - min_delta


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their average rank (like scipy's rankdata)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # boundaries of runs of equal values
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], xs.size]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based positions starts+1 .. ends
    ranks = np.empty(xs.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties).

    Parameters
    ----------
    scores : numpy.ndarray, shape (n,)
        Higher means more likely positive.
    labels : numpy.ndarray, shape (n,)
        0/1 (or boolean) reference labels.

    Returns
    -------
    float
        AUROC in [0, 1]; NaN when only one class is present.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _average_ranks(scores)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise).

    Same definition as scikit-learn's ``average_precision_score``: the sum over thresholds
    of ``(R_k - R_{k-1}) * P_k``, tied scores forming one threshold. NaN without positives.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel().astype(bool)
    n_pos = int(labels.sum())
    if n_pos == 0:
        return math.nan
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    tp = np.cumsum(labels[order])
    # keep the last index of each run of tied scores
    last = np.r_[s[1:] != s[:-1], True]
    tp = tp[last].astype(np.float64)
    fp = (np.flatnonzero(last) + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))


def window_metrics(
    probabilities: np.ndarray, labels: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Pooled window-level AUROC, AUPRC, sensitivity and specificity at ``threshold``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    pred = probabilities >= threshold
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    return {
        "window_auroc": auroc(probabilities, labels),
        "window_auprc": auprc(probabilities, labels),
        "window_sensitivity": float((pred & labels).sum() / n_pos) if n_pos else math.nan,
        "window_specificity": float((~pred & ~labels).sum() / n_neg) if n_neg else math.nan,
        "window_positive_fraction": float(n_pos / labels.size) if labels.size else math.nan,
    }


def compute_validation_metrics(result: ValidationResult, config: Any) -> dict[str, float]:
    """All validation metrics: the built-in window metrics, ``val_loss`` and every hook's."""
    ids = sorted(result.probabilities)
    if ids:
        probs = np.concatenate([result.probabilities[i] for i in ids])
        labels = np.concatenate([result.labels[i] for i in ids])
    else:
        probs = np.zeros(0, dtype=np.float32)
        labels = np.zeros(0, dtype=np.uint8)
    threshold = getattr(getattr(config, "evaluate", None), "threshold", 0.5)
    metrics = {"val_loss": float(result.loss), **window_metrics(probs, labels, threshold)}
    for name, (hook, _, _) in _HOOKS.items():
        values = hook(result, config)
        if not isinstance(values, dict):
            raise TypeError(f"validation metric hook {name!r} must return a dict of floats")
        metrics.update({k: float(v) for k, v in values.items()})
    return metrics


def ovlp_sensitivity_at_fa(
    budget_fa_per_24h: float | None = None,
) -> Callable[[ValidationResult, Any], dict[str, float]]:
    """Return a validation metric hook: OVLP sensitivity at a false-alarm budget on the dev split.

    Every epoch (whichever metric is selected: every registered hook is computed and logged in
    ``metrics.jsonl``) the dev split's probabilities, the ones the window metrics use, go
    through :func:`seizure.scoring.budget.ovlp_sensitivity_at_budget` with the run's
    ``evaluate`` section (post-processing and threshold sweep); nothing here runs the model.
    The value equals the OVLP operating point that ``seizure evaluate`` reports for that
    budget (in ``evaluate.fa_budgets_per_24h``) on the same probabilities.

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
        :func:`register_validation_metric`.

    Notes
    -----
    Choosing the threshold on the split that is also used for early stopping makes the value
    optimistic as an estimate of held-out performance (the same caveat as
    ``evaluate.select_fa_per_24h``); it is meant for ranking epochs.
    """
    if budget_fa_per_24h is not None and not budget_fa_per_24h > 0:
        raise invalid_value("budget_fa_per_24h", budget_fa_per_24h, "false alarms per 24 h > 0")

    def hook(result: ValidationResult, config: Any) -> dict[str, float]:
        budget = budget_fa_per_24h
        if budget is None:
            budget = getattr(getattr(config, "train", None), "early_stopping_fa_per_24h", None)
        budget = float(DEFAULT_FA_PER_24H if budget is None else budget)
        ev = getattr(config, "evaluate", None)
        if not isinstance(ev, EvaluateConfig):
            ev = EvaluateConfig()
        return ovlp_sensitivity_at_budget(
            result.probabilities,
            result.events,
            result.durations_s,
            result.window_seconds,
            result.stride_seconds,
            ev,
            budget,
        )

    hook.__doc__ = ovlp_sensitivity_at_fa.__doc__
    return hook


#: The registered hook: the budget is ``train.early_stopping_fa_per_24h``.
ovlp_sensitivity_at_fa_hook = ovlp_sensitivity_at_fa()

register_validation_metric(
    "ovlp_sensitivity_at_fa",
    ovlp_sensitivity_at_fa_hook,
    provides=("ovlp_sensitivity_at_fa",),
    mode="max",
)
