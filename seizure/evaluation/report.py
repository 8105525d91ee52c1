"""``report.md``: what an evaluation found, readable in a browser or an editor.

Sections: the run (checkpoint, cache, split, threshold), the scores of every method at the
chosen threshold with their 95% intervals over resampled patients, the operating points, the
curve image, the seizures the detector missed and the false alarms it raised (OVLP rule: any
overlap) with a picture of the worst of each (:func:`seizure.evaluation.plot.plot_segment`,
in ``snippets/``), the configuration.
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

from seizure.evaluation.plot import ProbabilityTrace, cache_segment, plot_segment
from seizure.io.events import Event
from seizure.scoring.curve import OperatingPoint
from seizure.scoring.intervals import LEVEL, RESAMPLES, SEED
from seizure.utils.fsio import atomic_write_bytes, atomic_write_text

__all__ = [
    "ReportInputs",
    "operating_curve",
    "outcome_rows",
    "ovlp_outcomes",
    "plot_curve",
    "render_report",
    "write_report",
    "write_snippets",
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
#: Most pictures of missed seizures, and of false alarms, in ``report.md`` (worst first).
MAX_SNIPPETS = 10
#: Seconds of signal drawn before and after an event in a snippet, and the longest snippet.
SNIPPET_MARGIN_S = 10.0
SNIPPET_MAX_S = 120.0


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
    curve : list of dict
        Curve rows (``curve.csv``): for a budget no threshold meets, the report gives the
        lowest false-alarm rate reached.
    cache : Cache or None
        The cache evaluated: with it, :func:`write_report` draws a snippet of the worst
        missed seizures and false alarms into ``snippets/``.
    probs : dict of str to ndarray, optional
        Per-window probabilities by recording id, drawn under the snippets' traces.
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
    curve: Sequence[Mapping[str, Any]] = ()
    cache: Any = None
    probs: Mapping[str, np.ndarray] | None = None


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


def render_report(
    inputs: ReportInputs, snippets: Mapping[tuple[str, Event], str] | None = None
) -> str:
    """Return the Markdown text of ``report.md``.

    ``snippets`` maps ``(recording id, event)`` of a missed seizure or false alarm to the
    relative path of its picture (:func:`write_snippets`).
    """
    snippets = snippets or {}
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
    lines += _interval_lines(r.scores)
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
    lines += _operating_point_rows(r.points, r.curve)
    if r.curve_image:
        lines += ["", f"![operating curve]({r.curve_image})"]
    missed_rows, fa_rows = outcome_rows(r)
    for title, rows, what, kind in (
        ("Missed seizures", missed_rows, "reference seizures overlapped by no detection", "miss"),
        ("False alarms", fa_rows, "detections overlapping no reference seizure", "fa"),
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
        pictures = [(rid, e) for rid, e in _worst(rows, kind) if (rid, e) in snippets]
        if pictures:
            order = "longest" if kind == "miss" else "most confident, then longest"
            lines += ["", f"The {len(pictures)} {order} first (reference green, detection red):"]
            for rid, e in pictures:
                lines += ["", f"![{rid} at {e.start:.1f} s]({snippets[(rid, e)]})"]
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


def _span(bounds: Any, percent: bool) -> str:
    """``lo-hi`` of an interval (percent of fractions, or FA/24h); ``n/a`` when undefined."""
    if not isinstance(bounds, Sequence) or len(bounds) != 2 or None in bounds:
        return "n/a"
    lo, hi = (100 * float(b) for b in bounds) if percent else (float(b) for b in bounds)
    return f"{lo:.2f}-{hi:.2f}" + ("%" if percent else "")


def _interval_lines(scores: Mapping[str, Any]) -> list[str]:
    """Return the lines giving each method's patient-resampled 95% intervals.

    One per method whose entry has ``patients`` (``seizure score --json`` schema), e.g.
    ``- NEDC OVLP 32.80% (95% over 42 patients: 24.10-41.00%) at 9.16 FA/24h (3.55-15.76)``;
    no lines when no entry has them.
    """
    lines: list[str] = []
    for key, name in _METHOD_NAMES.items():
        s = scores.get(key)
        if not isinstance(s, Mapping) or "patients" not in s:
            continue
        sens, n = _pct(s.get("sensitivity")), int(s["patients"])
        lines.append(
            f"- {name} {sens}{'' if sens == 'n/a' else '%'} "
            f"(95% over {n} patient{'s' if n != 1 else ''}: "
            f"{_span(s.get('sensitivity_95'), True)}) "
            f"at {_num(s.get('false_alarms_per_24h'))} FA/24h "
            f"({_span(s.get('false_alarms_per_24h_95'), False)})"
        )
    if not lines:
        return []
    return [
        "",
        f"How much these figures move with the patients drawn: the central "
        f"{100 * LEVEL:g}% of each pooled figure over {RESAMPLES} resamples of the patients "
        f"with replacement (seed {SEED}).",
        "",
        *lines,
    ]


def _operating_point_rows(
    points: Sequence[OperatingPoint], curve: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Return the table rows of the operating points.

    The budgets one method meets with no threshold share one row giving the lowest
    false-alarm rate reached (from ``curve``).
    """
    lines: list[str] = []
    unmet: dict[str, list[float]] = {}
    for p in points:
        if p.threshold is None:
            unmet.setdefault(p.method, []).append(p.budget_fa_per_24h)
            continue
        lines.append(
            f"| {_METHOD_NAMES.get(p.method, p.method)} | {p.budget_fa_per_24h:g} | "
            f"{p.threshold:g} | {_pct(p.sensitivity)} | {_num(p.false_alarms_per_24h)} |"
        )
    for method, budgets in unmet.items():
        name = _METHOD_NAMES.get(method, method)
        listed = ", ".join(f"{b:g}" for b in budgets)
        mine = [r for r in curve if r["method"] == method]
        if not mine:
            lines.append(f"| {name} | {listed} | not met | | |")
            continue
        low = min(mine, key=lambda r: (float(r["false_alarms_per_24h"]), -float(r["threshold"])))
        lines.append(
            f"| {name} | {listed} | not met; lowest FA/24h at {float(low['threshold']):g} | "
            f"{_pct(low['sensitivity'])} | {_num(low['false_alarms_per_24h'])} |"
        )
    return lines


def outcome_rows(
    inputs: ReportInputs,
) -> tuple[list[tuple[str, Event]], list[tuple[str, Event]]]:
    """Missed seizures and false alarms of every recording, as ``(recording id, event)``.

    Returns
    -------
    missed, false_alarms : list of (str, Event)
        In recording order, then time order.
    """
    missed_rows: list[tuple[str, Event]] = []
    fa_rows: list[tuple[str, Event]] = []
    for rid in inputs.durations:
        missed, fas = ovlp_outcomes(inputs.refs.get(rid, []), inputs.hyps.get(rid, []))
        missed_rows += [(rid, e) for e in missed]
        fa_rows += [(rid, e) for e in fas]
    return missed_rows, fa_rows


def _worst(rows: Sequence[tuple[str, Event]], kind: str) -> list[tuple[str, Event]]:
    """Return the first :data:`MAX_SNIPPETS` rows, worst first.

    Misses are ranked by length; false alarms by confidence, then length.
    """
    if kind == "miss":
        ranked = sorted(rows, key=lambda row: -row[1].duration)
    else:
        ranked = sorted(rows, key=lambda row: (-row[1].confidence, -row[1].duration))
    return ranked[:MAX_SNIPPETS]


def write_snippets(folder: str | Path, inputs: ReportInputs) -> dict[tuple[str, Event], str]:
    """Draw the worst missed seizures and false alarms (at most :data:`MAX_SNIPPETS` each).

    Each picture shows the event with :data:`SNIPPET_MARGIN_S` seconds on each side (at
    most :data:`SNIPPET_MAX_S` in all) from ``inputs.cache``, the references and detections
    shaded and the probabilities underneath.

    Parameters
    ----------
    folder : path
        Where the PNG files go (created); ``report.md`` is expected in its parent.
    inputs : ReportInputs
        With ``cache`` set (nothing is drawn otherwise).

    Returns
    -------
    dict of (str, Event) to str
        Picture of each drawn event, relative to ``folder``'s parent.
    """
    if inputs.cache is None:
        return {}
    folder = Path(folder)
    cache = inputs.cache
    missed, fas = outcome_rows(inputs)
    out: dict[tuple[str, Event], str] = {}
    for kind, rows in (("miss", missed), ("fa", fas)):
        for rank, (rid, e) in enumerate(_worst(rows, kind), start=1):
            span = min(e.duration + 2 * SNIPPET_MARGIN_S, SNIPPET_MAX_S)
            at = max(0.0, e.start - SNIPPET_MARGIN_S)
            segment = cache_segment(cache, rid, at, span)
            p = (inputs.probs or {}).get(rid)
            trace = (
                None
                if p is None
                else ProbabilityTrace(
                    p, cache.window_seconds, cache.stride_seconds, inputs.threshold
                )
            )
            what = "missed seizure" if kind == "miss" else "false alarm"
            name = f"{kind}_{rank:02d}.png"
            folder.mkdir(parents=True, exist_ok=True)
            plot_segment(
                folder / name,
                segment,
                inputs.refs.get(rid, []),
                inputs.hyps.get(rid, []),
                trace,
                title=f"{what} {rank}: {rid}, {e.start:.1f} to {e.stop:.1f} s",
                size_inches=(10.0, 5.5),
                dpi=72,
            )
            out[(rid, e)] = f"{folder.name}/{name}"
    return out


def write_report(path: str | Path, inputs: ReportInputs) -> None:
    """Write :func:`render_report` to ``path`` atomically, after the snippets it shows.

    The snippets go to ``snippets/`` beside it, when ``inputs.cache`` is set.
    """
    snippets = write_snippets(Path(path).parent / "snippets", inputs)
    atomic_write_text(path, render_report(inputs, snippets))


_LABELS = {"ovlp": "OVLP", "taes": "TAES", "szcore_event": "SzCORE event"}
_STYLES = {"ovlp": ("#1f77b4", "-"), "taes": ("#ff7f0e", "--"), "szcore_event": ("#2ca02c", "-.")}


def operating_curve(
    rows: Sequence[Mapping[str, Any]], method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return the monotone operating curve of one method.

    The curve gives the best sensitivity reached at or under each false-alarm rate.

    The sweep's points are sorted by false-alarm rate and only those that raise the
    sensitivity are kept (the upper envelope), so the curve never folds back, whatever
    order the thresholds put the points in.

    Parameters
    ----------
    rows : sequence of dict
        Curve rows (``method``, ``false_alarms_per_24h``, ``sensitivity``).
    method : str

    Returns
    -------
    fa_per_24h, sensitivity : ndarray of float
        Both increasing; sensitivity a fraction. Rows with an undefined sensitivity are
        left out.
    """
    pts = sorted(
        (float(r["false_alarms_per_24h"]), float(r["sensitivity"]))
        for r in rows
        if r["method"] == method
        and math.isfinite(float(r["sensitivity"]))
        and math.isfinite(float(r["false_alarms_per_24h"]))
    )
    fa: list[float] = []
    sens: list[float] = []
    for x, y in pts:
        if sens and y <= sens[-1]:
            continue
        if fa and x == fa[-1]:
            sens[-1] = y
            continue
        fa.append(x)
        sens.append(y)
    return np.array(fa), np.array(sens)


def plot_curve(
    path: str | Path,
    rows: Sequence[Mapping[str, float | str]],
    points: Sequence[OperatingPoint] = (),
    title: str = "",
) -> None:
    """Plot sensitivity against FA/24h (log axis) for each method, marking operating points.

    Each method is drawn as its monotone operating curve (:func:`operating_curve`, a
    staircase: the best sensitivity at or under each false-alarm rate) over the sweep's
    points (faint dots); the operating points at the budgets are circled; the budgets are
    dotted vertical lines labelled along the top.

    Parameters
    ----------
    path : str or Path
        Output image (``.png``).
    rows : sequence of dict
        Curve rows.
    points : sequence of OperatingPoint
        Circled.
    title : str
        Figure title.
    """
    # The Agg canvas directly, not pyplot: no global backend state, no GUI, thread-safe;
    # imported here because matplotlib is heavy and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    all_fa = [float(r["false_alarms_per_24h"]) for r in rows]
    all_fa = [v for v in all_fa if math.isfinite(v)]
    budgets = sorted({p.budget_fa_per_24h for p in points})
    positive = [v for v in all_fa if v > 0] + budgets
    floor = min(positive) / 3 if positive else 0.1  # zero FA/24h is drawn at this floor
    hi = max(all_fa + budgets + [1.0]) * 1.5
    colors = {}
    for i, m in enumerate(methods):
        color, ls = _STYLES.get(m, (f"C{i + 3}", ":"))
        colors[m] = color
        mine = [r for r in rows if r["method"] == m]
        dots_fa = [max(float(r["false_alarms_per_24h"]), floor) for r in mine]
        dots_s = [100 * float(r["sensitivity"]) for r in mine]
        ax.plot(dots_fa, dots_s, ls="none", marker=".", ms=3, color=color, alpha=0.35)
        fa, sens = operating_curve(mine, m)
        if len(fa):
            x = np.append(np.maximum(fa, floor), hi)
            y = 100 * np.append(sens, sens[-1])
            ax.plot(x, y, drawstyle="steps-post", color=color, ls=ls, lw=1.8,
                    label=_LABELS.get(m, m))  # fmt: skip
    for p in points:
        if p.threshold is None or p.method not in colors:
            continue
        x = max(float(p.false_alarms_per_24h or 0.0), floor)
        y = 100 * float(p.sensitivity or 0.0)
        ax.plot([x], [y], marker="o", ms=8, mfc="none", mew=1.4, color=colors[p.method])
    for b in budgets:
        ax.axvline(b, color="grey", lw=0.6, ls=":")
        ax.annotate(f"{b:g} FA/24h", (b, 1), xycoords=("data", "axes fraction"),
                    xytext=(2, -3), textcoords="offset points", rotation=90, fontsize=7,
                    color="dimgrey", va="top", ha="left")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlim(floor / 1.5, hi)
    ax.set_ylim(-3, 105)  # 0 % and 100 % lie inside the frame, not on it
    ax.set_xlabel(f"false alarms per 24 h (log scale; 0 is drawn at {floor:.2g})")
    ax.set_ylabel("sensitivity (%)")
    ax.grid(True, which="both", alpha=0.3)
    if methods:
        ax.plot([], [], ls="none", marker="o", mfc="none", color="black",
                label="operating point at a budget (dotted)")  # fmt: skip
        ax.legend(loc="center right", fontsize=8, framealpha=0.9)
    if title:
        ax.set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
