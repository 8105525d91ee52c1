"""``report.md``: what an evaluation found, readable in a browser or an editor.

Sections: the run (checkpoint, cache, split, threshold), the scores of every method at the
chosen threshold, the operating points, the curve image, the seizures the detector missed and
the false alarms it raised (OVLP rule: any overlap), the configuration.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from seizure.io.events import Event
from seizure.scoring.curve import OperatingPoint
from seizure.utils.fsio import atomic_write_bytes, atomic_write_text

__all__ = [
    "ReportInputs",
    "ovlp_outcomes",
    "plot_curve",
    "render_report",
    "write_report",
]

_METHOD_NAMES = {
    "ovlp": "NEDC OVLP",
    "taes": "NEDC TAES",
    "epoch": "NEDC EPOCH",
    "dpalign": "NEDC DPALIGN",
    "szcore_event": "SzCORE event",
    "szcore_sample": "SzCORE sample",
}
#: Longest list of missed seizures / false alarms written in full (the rest is counted).
MAX_LISTED = 200


@dataclass
class ReportInputs:
    """Everything :func:`render_report` writes about.

    Attributes
    ----------
    checkpoint : Path
    checkpoint_sha256 : str
    checkpoint_epoch : int or None
    cache_path : Path
    cache_fingerprint : str
    split : str
    config : dict
        Resolved config (``seizure.config.to_dict``).
    threshold : float
    threshold_source : str
        How the threshold was chosen.
    scores : dict
        ``seizure score --json`` schema.
    points : list of OperatingPoint
    refs, hyps : dict of str to list of Event
        Reference and hypothesis events by recording id (seconds).
    durations : dict of str to float
        Seconds.
    n_windows : int
    inference_seconds : float
    curve_image : str or None
        Relative path of the curve plot.
    """

    checkpoint: Path
    checkpoint_sha256: str
    checkpoint_epoch: int | None
    cache_path: Path
    cache_fingerprint: str
    split: str
    config: dict[str, Any]
    threshold: float
    threshold_source: str
    scores: Mapping[str, Any]
    points: Sequence[OperatingPoint]
    refs: Mapping[str, Sequence[Event]]
    hyps: Mapping[str, Sequence[Event]]
    durations: Mapping[str, float]
    n_windows: int = 0
    inference_seconds: float = 0.0
    curve_image: str | None = "curve.png"


def ovlp_outcomes(ref: Sequence[Event], hyp: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """Missed reference events and false-alarm hypothesis events under the OVLP rule.

    A reference event is missed when no hypothesis event overlaps it
    (``h.stop > r.start and h.start < r.stop``); a hypothesis event overlapping no reference
    event is a false alarm. These are the events the NEDC OVLP scorer counts as misses and
    false alarms for label ``seiz`` (the counts are checked against the scorer in the tests).

    Returns
    -------
    missed, false_alarms : list of Event
    """

    def overlaps(a: Event, others: Sequence[Event]) -> bool:
        return any(o.stop > a.start and o.start < a.stop for o in others)

    missed = [r for r in ref if not overlaps(r, hyp)]
    false_alarms = [h for h in hyp if not overlaps(h, ref)]
    return missed, false_alarms


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.2f}"


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    v = float(value)
    return f"{int(v)}" if v.is_integer() else f"{v:.{digits}f}"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render_report(inputs: ReportInputs) -> str:
    """The Markdown text of ``report.md``."""
    r = inputs
    total_s = sum(r.durations.values())
    n_ref = sum(len(v) for v in r.refs.values())
    n_hyp = sum(len(v) for v in r.hyps.values())
    lines = [
        f"# Evaluation of `{r.checkpoint.name}` on split `{r.split}`",
        "",
        "| | |",
        "|---|---|",
        f"| checkpoint | `{r.checkpoint}` (sha256 `{r.checkpoint_sha256[:16]}`"
        + (f", epoch {r.checkpoint_epoch}" if r.checkpoint_epoch is not None else "")
        + ") |",
        f"| cache | `{r.cache_path}` (preprocessing fingerprint `{r.cache_fingerprint}`) |",
        f"| recordings | {len(r.durations)} ({total_s / 3600:.2f} h) |",
        f"| reference seizures | {n_ref} |",
        f"| detected events | {n_hyp} |",
        f"| threshold | {r.threshold:g} ({r.threshold_source}) |",
    ]
    if r.inference_seconds > 0:
        lines.append(
            f"| inference | {r.n_windows:,} windows in {r.inference_seconds:.2f} s "
            f"({r.n_windows / r.inference_seconds:,.0f} windows/s) |"
        )
    lines += [
        "",
        "## Scores at the chosen threshold",
        "",
        "Pooled over recordings. Sensitivity and specificity in %; NEDC specificity counts "
        "background events (EPOCH: epochs); FA/24h = false alarms / total duration x 86400.",
        "",
        "| method | sensitivity | specificity | FA/24h | hits | misses | false alarms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, name in _METHOD_NAMES.items():
        s = r.scores.get(key)
        if not isinstance(s, Mapping):
            continue
        lines.append(
            f"| {name} | {_pct(s.get('sensitivity'))} | {_pct(s.get('specificity'))} | "
            f"{_num(s.get('false_alarms_per_24h'))} | {_num(s.get('hits'))} | "
            f"{_num(s.get('misses'))} | {_num(s.get('false_alarms'))} |"
        )
    lines += [
        "",
        "## Operating points",
        "",
        "Best sensitivity with FA/24h at or under each budget, over the threshold sweep "
        "(`curve.csv`).",
        "",
        "| method | FA/24h budget | threshold | sensitivity | FA/24h |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in r.points:
        if p.threshold is None:
            lines.append(
                f"| {_METHOD_NAMES.get(p.method, p.method)} | {p.budget_fa_per_24h:g} | "
                "none meets the budget | | |"
            )
        else:
            lines.append(
                f"| {_METHOD_NAMES.get(p.method, p.method)} | {p.budget_fa_per_24h:g} | "
                f"{p.threshold:g} | {_pct(p.sensitivity)} | {_num(p.false_alarms_per_24h)} |"
            )
    if r.curve_image:
        lines += ["", f"![operating curve]({r.curve_image})"]
    missed_rows, fa_rows = [], []
    for rid in r.durations:
        missed, fas = ovlp_outcomes(r.refs.get(rid, []), r.hyps.get(rid, []))
        missed_rows += [(rid, e) for e in missed]
        fa_rows += [(rid, e) for e in fas]
    for title, rows, what in (
        ("Missed seizures", missed_rows, "reference seizures overlapped by no detection"),
        ("False alarms", fa_rows, "detections overlapping no reference seizure"),
    ):
        lines += ["", f"## {title} ({len(rows)})", "", f"OVLP rule: {what}.", ""]
        if not rows:
            lines.append("None.")
            continue
        lines += [
            "| recording | start (s) | start (h:mm:ss) | duration (s) |",
            "|---|---:|---:|---:|",
        ]
        for rid, e in rows[:MAX_LISTED]:
            lines.append(f"| {rid} | {e.start:.1f} | {_clock(e.start)} | {e.stop - e.start:.1f} |")
        if len(rows) > MAX_LISTED:
            lines.append(f"| ... {len(rows) - MAX_LISTED} more | | | |")
    lines += [
        "",
        "## Configuration",
        "",
        "```yaml",
        yaml.safe_dump(r.config, sort_keys=False).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_report(path: str | Path, inputs: ReportInputs) -> None:
    """Write :func:`render_report` to ``path`` atomically."""
    atomic_write_text(path, render_report(inputs))


_LABELS = {"ovlp": "OVLP", "taes": "TAES", "szcore_event": "SzCORE event"}


def plot_curve(
    path: str | Path,
    rows: Sequence[Mapping[str, float | str]],
    points: Sequence[OperatingPoint] = (),
    title: str = "",
) -> None:
    """Plot sensitivity against FA/24h (log axis) for each method, marking operating points.

    Parameters
    ----------
    path : str or Path
        Output image (``.png``).
    rows : sequence of dict
        Curve rows.
    points : sequence of OperatingPoint
        Marked with a symbol and their threshold.
    title : str
        Figure title.
    """
    # The Agg canvas directly, not pyplot: no global backend state, no GUI, thread-safe;
    # imported here because matplotlib is heavy and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    all_fa = [float(r["false_alarms_per_24h"]) for r in rows]
    all_fa = [v for v in all_fa if math.isfinite(v)]
    budgets = sorted({p.budget_fa_per_24h for p in points})
    positive = [v for v in all_fa if v > 0] + budgets
    floor = min(positive) / 3 if positive else 0.1  # zero FA/24h is drawn at this floor
    colors = {}
    for m in methods:
        mine = sorted((r for r in rows if r["method"] == m), key=lambda r: float(r["threshold"]))
        fa = np.array([max(float(r["false_alarms_per_24h"]), floor) for r in mine])
        sens = np.array([100 * float(r["sensitivity"]) for r in mine])
        (line,) = ax.plot(fa, sens, marker=".", label=_LABELS.get(m, m))
        colors[m] = line.get_color()
    for p in points:
        if p.threshold is None or p.method not in colors:
            continue
        x = max(float(p.false_alarms_per_24h or 0.0), floor)
        y = 100 * float(p.sensitivity or 0.0)
        ax.plot([x], [y], marker="o", ms=8, mfc="none", color=colors[p.method])
        ax.annotate(
            f"{p.threshold:.2f}",
            (x, y),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=7,
            color=colors[p.method],
        )
    for b in budgets:
        ax.axvline(b, color="grey", lw=0.6, ls=":")
        ax.annotate(f"{b:g}", (b, 100), textcoords="offset points", xytext=(2, -10), fontsize=7)
    ax.set_xscale("log")
    hi = max(all_fa + budgets + [1.0])
    ax.set_xlim(floor / 1.5, hi * 1.5)
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"false alarms per 24 h (log scale; 0 is drawn at {floor:.2g})")
    ax.set_ylabel("sensitivity (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
