"""The operating curve: sensitivity against false alarms per 24 h as the threshold moves.

Probabilities are computed once; for every threshold only post-processing (smoothing is done
once per recording, see :func:`seizure.scoring.postprocess.postprocess_sweep`) and scoring
repeat. The figures are pooled over all recordings of the split, as NEDC does: sensitivity =
hits / reference events, FA/24h = false alarms / total reference duration x 86400.

An *operating point* at a false-alarm budget ``B`` is the threshold of the curve with the
highest sensitivity among those with ``FA/24h <= B`` (ties: the lower FA/24h, then the higher
threshold); there is none when every threshold raises more than ``B``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from seizure.io.events import Event
from seizure.scoring.postprocess import postprocess_sweep
from seizure.utils.fsio import atomic_write_text

__all__ = [
    "CURVE_COLUMNS",
    "CURVE_METHODS",
    "OperatingPoint",
    "ScoreFunction",
    "compute_curve",
    "operating_points",
    "read_curve_csv",
    "write_curve_csv",
]

#: Methods drawn on the curve (keys of the ``seizure score --json`` schema).
CURVE_METHODS: tuple[str, ...] = ("ovlp", "taes", "szcore_event")
#: Columns of ``curve.csv`` (one row per method and threshold).
CURVE_COLUMNS: tuple[str, ...] = (
    "method",
    "threshold",
    "sensitivity",
    "specificity",
    "false_alarms_per_24h",
    "hits",
    "misses",
    "false_alarms",
)

#: ``score(refs, hyps, durations, methods) -> {method: {"sensitivity": ..., ...}}``: events
#: and durations (seconds) keyed by recording id; returns the ``seizure score --json`` schema.
ScoreFunction = Callable[
    [
        Mapping[str, Sequence[Event]],
        Mapping[str, Sequence[Event]],
        Mapping[str, float],
        Sequence[str],
    ],
    Mapping[str, Mapping[str, float]],
]


@dataclass(frozen=True)
class OperatingPoint:
    """The best threshold of one method under one false-alarm budget.

    Attributes
    ----------
    method : str
    budget_fa_per_24h : float
        The budget, false alarms per 24 h.
    threshold : float or None
        None when no threshold meets the budget.
    sensitivity : float or None
        Fraction of reference seizures detected.
    false_alarms_per_24h : float or None
    """

    method: str
    budget_fa_per_24h: float
    threshold: float | None
    sensitivity: float | None
    false_alarms_per_24h: float | None

    def as_dict(self) -> dict[str, float | str | None]:
        """Plain dict (for JSON)."""
        return asdict(self)


def compute_curve(
    probs: Mapping[str, np.ndarray],
    refs: Mapping[str, Sequence[Event]],
    durations: Mapping[str, float],
    thresholds: Sequence[float],
    score: ScoreFunction,
    *,
    window_seconds: float,
    stride_seconds: float,
    smoothing_windows: int = 1,
    min_event_seconds: float = 0.0,
    merge_gap_seconds: float = 0.0,
    methods: Sequence[str] = CURVE_METHODS,
) -> list[dict[str, float | str]]:
    """Score the post-processed hypotheses at every threshold.

    Parameters
    ----------
    probs : mapping of str to ndarray
        Per-window probabilities, shape ``(n_windows,)``, by recording id.
    refs : mapping of str to list of Event
        Reference seizure events (seconds) by recording id.
    durations : mapping of str to float
        Recording durations in seconds.
    thresholds : sequence of float
        Probability thresholds, ascending.
    score : ScoreFunction
        The scoring library function (see :data:`ScoreFunction`).
    window_seconds, stride_seconds : float
        Window length and hop in seconds.
    smoothing_windows, min_event_seconds, merge_gap_seconds
        Post-processing, see :func:`seizure.scoring.postprocess.postprocess`.
    methods : sequence of str
        Scoring methods to compute.

    Returns
    -------
    list of dict
        One row per (method, threshold) with the keys :data:`CURVE_COLUMNS`, methods in the
        order given and thresholds ascending within a method.
    """
    ids = list(probs)
    per_threshold: list[dict[str, list[Event]]] = [{} for _ in thresholds]
    for rid in ids:
        sweep = postprocess_sweep(
            probs[rid],
            thresholds,
            window_seconds=window_seconds,
            stride_seconds=stride_seconds,
            duration_s=durations[rid],
            smoothing_windows=smoothing_windows,
            min_event_seconds=min_event_seconds,
            merge_gap_seconds=merge_gap_seconds,
        )
        for i, events in enumerate(sweep):
            per_threshold[i][rid] = events
    ref_sub = {rid: list(refs[rid]) for rid in ids}
    dur_sub = {rid: float(durations[rid]) for rid in ids}
    rows_by_method: dict[str, list[dict[str, float | str]]] = {m: [] for m in methods}
    for thr, hyps in zip(thresholds, per_threshold):
        scores = score(ref_sub, hyps, dur_sub, list(methods))
        for m in methods:
            s = scores[m]
            rows_by_method[m].append(
                {
                    "method": m,
                    "threshold": float(thr),
                    **{k: _float(s.get(k)) for k in CURVE_COLUMNS[2:]},
                }
            )
    return [row for m in methods for row in rows_by_method[m]]


def _float(value: object) -> float:
    """Return a schema value as float; None (undefined, e.g. SzCORE event specificity) -> NaN."""
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _key(value: object) -> float:
    v = float(value)  # type: ignore[arg-type]
    return -math.inf if math.isnan(v) else v


def operating_points(
    rows: Sequence[Mapping[str, float | str]],
    budgets: Sequence[float],
    methods: Sequence[str] | None = None,
) -> list[OperatingPoint]:
    """Find the best threshold under each false-alarm budget, for each method on the curve.

    Parameters
    ----------
    rows : sequence of dict
        Curve rows (:func:`compute_curve` or :func:`read_curve_csv`).
    budgets : sequence of float
        False alarms per 24 h.
    methods : sequence of str, optional
        Default: every method in ``rows``, in order of appearance.

    Returns
    -------
    list of OperatingPoint
        Method-major, budgets in the order given.
    """
    if methods is None:
        methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    out = []
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        for budget in budgets:
            ok = [r for r in mine if float(r["false_alarms_per_24h"]) <= budget]
            if not ok:
                out.append(OperatingPoint(m, float(budget), None, None, None))
                continue
            best = max(
                ok,
                key=lambda r: (
                    _key(r["sensitivity"]),
                    -float(r["false_alarms_per_24h"]),
                    float(r["threshold"]),
                ),
            )
            out.append(
                OperatingPoint(
                    m,
                    float(budget),
                    float(best["threshold"]),
                    float(best["sensitivity"]),
                    float(best["false_alarms_per_24h"]),
                )
            )
    return out


def write_curve_csv(path: str | Path, rows: Sequence[Mapping[str, float | str]]) -> None:
    """Write curve rows as ``curve.csv`` (columns :data:`CURVE_COLUMNS`), atomically.

    Numbers are written with 6 significant digits; undefined values (NaN) as empty cells.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CURVE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in CURVE_COLUMNS}
        )
    atomic_write_text(path, buf.getvalue())


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def read_curve_csv(path: str | Path) -> list[dict[str, float | str]]:
    """Read a ``curve.csv`` back (numbers as floats)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            {k: (v if k == "method" else float(v) if v != "" else math.nan) for k, v in row.items()}
            for row in csv.DictReader(handle)
        ]
