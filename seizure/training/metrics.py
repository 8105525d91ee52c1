"""Validation metrics computed after every epoch, and a hook for more.

Window-level metrics pool every window of the validation split (dev). Event-level metrics
(e.g. OVLP sensitivity at a false-alarm budget) belong to the evaluation stage; it plugs
them in with :func:`register_validation_metric`, called from the module
:data:`PLUGIN_MODULE` (``seizure.evaluation.training_metrics``), which is imported, when it
exists, before metrics are listed or computed. ``train.early_stopping_metric`` can then name
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "ValidationResult",
    "auprc",
    "auroc",
    "better",
    "compute_validation_metrics",
    "metric_mode",
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
    The evaluation stage registers OVLP sensitivity at 10 false alarms per 24 h::

        register_validation_metric("ovlp_sens_at_fa10", ovlp_sensitivity_at_fa(10.0))
    """
    if mode not in ("max", "min"):
        raise ValueError(f"Invalid value for 'mode': allowed 'max', 'min', got {mode!r} instead")
    _HOOKS[name] = (hook, tuple(provides or (name,)), mode)


#: Module imported (when it exists) before metrics are listed or computed, so that the
#: evaluation stage can register event-level metrics without training importing it by name.
PLUGIN_MODULE = "seizure.evaluation.training_metrics"
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import importlib
    import importlib.util

    try:
        found = importlib.util.find_spec(PLUGIN_MODULE) is not None
    except ModuleNotFoundError:
        found = False
    if found:
        importlib.import_module(PLUGIN_MODULE)


def known_metrics() -> dict[str, str]:
    """All metric names that validation produces, with their mode ('max' or 'min')."""
    _load_plugins()
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
    _load_plugins()
    for name, (hook, _, _) in _HOOKS.items():
        values = hook(result, config)
        if not isinstance(values, dict):
            raise TypeError(f"validation metric hook {name!r} must return a dict of floats")
        metrics.update({k: float(v) for k, v in values.items()})
    return metrics
