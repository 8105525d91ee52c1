"""The results table of ``seizure experiment``, built from the run folders only.

``OUT/results.md`` and ``OUT/results.csv``: one row per run, built from those files only
(so that runs of a SLURM array are collected the same way), with OVLP and TAES sensitivity,
specificity and FA/24h, and two training flags:

*diverged*
    The training loss became non-finite (NaN/inf) at some step.
*stalled*
    The validation window AUROC never rose above chance (0.5) by more than ``stall_margin``
    (default 0.02) in any epoch.

``OUT/validation_curves.png``: the validation metric per epoch of every run, one line per
value of the plot axis (the initializer), one panel per value of the other axes (the cell).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seizure.pipelines.grid import ExperimentGrid, RunSpec, run_dir_of, run_record
from seizure.utils.fsio import atomic_write_text

__all__ = [
    "CHANCE_AUROC",
    "RESULT_COLUMNS",
    "collect_results",
    "plot_validation_curves",
    "results_csv",
    "results_markdown",
    "training_flags",
    "write_results",
]

CHANCE_AUROC = 0.5
RESULT_COLUMNS = (
    "ovlp_sensitivity",
    "ovlp_specificity",
    "ovlp_fa_per_24h",
    "taes_sensitivity",
    "taes_specificity",
    "taes_fa_per_24h",
)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def training_flags(
    run_dir: Path, metric: str = "window_auroc", stall_margin: float = 0.02
) -> dict[str, Any]:
    """Diverged / stalled flags and the best validation metric of a run, from its files.

    Returns
    -------
    dict
        ``diverged`` (bool), ``stalled`` (bool or None when no validation ran), ``epochs``,
        ``best_val_metric`` and ``best_val_epoch``.
    """
    history = _read_jsonl(run_dir / "train" / "metrics.jsonl")
    summary = _read_json(run_dir / "train" / "summary.json")
    status = run_record(run_dir)
    diverged = bool(status.get("diverged"))
    diverged |= any(not _finite(r.get("train_loss", 0.0)) for r in history)
    diverged |= summary.get("status") == "failed" and "loss is" in str(summary.get("error"))
    values = [(r.get(metric), r.get("epoch")) for r in history if metric in r]
    finite = [(v, e) for v, e in values if _finite(v)]
    stalled: bool | None
    if values:
        stalled = not any(v > CHANCE_AUROC + stall_margin for v, _ in finite)
    else:
        stalled = None if not diverged else True
    best = max(finite, key=lambda ve: ve[0]) if finite else (None, None)
    return {
        "diverged": diverged,
        "stalled": stalled,
        "epochs": len([r for r in history if not r.get("partial_epoch")]),
        "best_val_metric": best[0],
        "best_val_epoch": best[1],
    }


def collect_results(
    runs: Sequence[RunSpec], out: str | Path, *, stall_margin: float = 0.02
) -> list[dict[str, Any]]:
    """One row per run, read from ``OUT/runs/<name>/`` (nothing is recomputed).

    Returns
    -------
    list of dict
        Keys: ``run``, ``group``, one key per axis, ``status`` (``finished``, ``failed``,
        ``running``, ``interrupted`` or ``pending``), :data:`RESULT_COLUMNS` (fractions and
        FA per 24 h, None when not evaluated), ``diverged``, ``stalled``, ``epochs``,
        ``best_val_metric``, ``best_val_epoch``, ``reason``.
    """
    axes = list(dict.fromkeys(a for r in runs for a in r.axes))
    rows = []
    for spec in runs:
        run_dir = run_dir_of(out, spec.name)
        status = run_record(run_dir)
        row: dict[str, Any] = {"run": spec.name, "group": spec.group}
        for a in axes:
            row[a] = spec.axes.get(a, "")
        scores = _read_json(run_dir / "eval" / "scores.json")
        if scores:
            row["status"] = "finished"
        elif status:
            row["status"] = status.get("status", "failed")
        else:
            row["status"] = "pending"
        for method in ("ovlp", "taes"):
            m = scores.get(method, {})
            row[f"{method}_sensitivity"] = m.get("sensitivity")
            row[f"{method}_specificity"] = m.get("specificity")
            row[f"{method}_fa_per_24h"] = m.get("false_alarms_per_24h")
        row.update(training_flags(run_dir, stall_margin=stall_margin))
        if row["status"] == "pending":
            row.update(diverged=None, stalled=None, epochs=None)
        reason = "" if scores else str(status.get("reason", ""))
        if scores and status.get("diverged_reason"):
            reason = "diverged; scored the last best.pt before the non-finite loss"
        row["reason"] = reason.splitlines()[0] if reason else ""
        rows.append(row)
    return rows


def _pct(value: Any) -> str:
    return "" if value is None else f"{100.0 * float(value):.2f}"


def _fa(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}"


def _flag(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def results_markdown(rows: Sequence[Mapping[str, Any]], grid: ExperimentGrid | None = None) -> str:
    """Return the results table as Markdown (percentages; FA per 24 h)."""
    axes = [k for k in (rows[0] if rows else {}) if k not in _FIXED]
    head = ["run", *axes, "status"]
    head += ["OVLP sens %", "OVLP spec %", "OVLP FA/24h", "TAES sens %", "TAES spec %"]
    head += ["TAES FA/24h", "diverged", "stalled", "best val AUROC", "epochs", "note"]
    lines = []
    title = f"# Results of {grid.path.name}" if grid else "# Results"
    lines += [title, ""]
    if grid and grid.description:
        lines += [grid.description.strip(), ""]
    n_done = sum(1 for r in rows if r["status"] == "finished")
    lines += [
        f"{n_done} of {len(rows)} runs finished. Sensitivity and specificity in % (NEDC "
        "OVLP and TAES, pooled over the evaluated recordings); FA/24h = false alarms per 24 "
        "hours. *diverged*: the training loss became non-finite; *stalled*: the validation "
        f"window AUROC never exceeded chance (0.5) by more than "
        f"{grid.stall_margin if grid else 0.02:g}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" if h.endswith(("%", "24h", "AUROC", "epochs")) else "---"
                       for h in head) + "|",
    ]  # fmt: skip
    for r in rows:
        best = r.get("best_val_metric")
        cells = [f"`{r['run']}`", *(str(r.get(a, "")) for a in axes), str(r["status"])]
        cells += [_pct(r["ovlp_sensitivity"]), _pct(r["ovlp_specificity"])]
        cells += [_fa(r["ovlp_fa_per_24h"]), _pct(r["taes_sensitivity"])]
        cells += [_pct(r["taes_specificity"]), _fa(r["taes_fa_per_24h"])]
        cells += [_flag(r["diverged"]), _flag(r["stalled"])]
        cells += ["" if best is None else f"{best:.4f}", str(r.get("epochs", ""))]
        cells += [str(r.get("reason", "")).replace("|", "\\|")[:200]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_FIXED = {
    "run",
    "group",
    "status",
    *RESULT_COLUMNS,
    "diverged",
    "stalled",
    "epochs",
    "best_val_metric",
    "best_val_epoch",
    "reason",
}


def results_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return the results table as CSV (fractions, not percentages; empty cells for missing)."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def write_results(
    rows: Sequence[Mapping[str, Any]], out: str | Path, grid: ExperimentGrid | None = None
) -> tuple[Path, Path]:
    """Write ``OUT/results.md`` and ``OUT/results.csv``; return their paths."""
    out = Path(out)
    md, csv_path = out / "results.md", out / "results.csv"
    atomic_write_text(md, results_markdown(rows, grid))
    atomic_write_text(csv_path, results_csv(rows))
    return md, csv_path


def plot_validation_curves(
    runs: Sequence[RunSpec],
    out: str | Path,
    *,
    axis: str = "init",
    metric: str = "window_auroc",
) -> Path | None:
    """Plot ``metric`` per epoch from each run's ``metrics.jsonl``.

    Into ``OUT/validation_curves.png``: one line per value of ``axis``, one panel per value of
    the other axes. Returns the path, or None when no run with ``axis`` has validation metrics.
    """
    panels: dict[str, list[tuple[str, list[int], list[float]]]] = {}
    for spec in runs:
        if axis not in spec.axes:
            continue
        history = _read_jsonl(run_dir_of(out, spec.name) / "train" / "metrics.jsonl")
        points = [(r["epoch"], r[metric]) for r in history if _finite(r.get(metric))]
        if not points:
            continue
        panel = ", ".join(f"{a}={v}" for a, v in spec.axes.items() if a != axis) or "all"
        xs, ys = zip(*points)
        panels.setdefault(panel, []).append((spec.axes[axis], list(xs), list(ys)))
    if not panels:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(panels)
    fig = Figure(figsize=(6.0 * n, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    for k, (panel, lines) in enumerate(panels.items(), 1):
        ax = fig.add_subplot(1, n, k)
        for label, xs, ys in lines:
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
        if metric.endswith("auroc"):
            ax.axhline(CHANCE_AUROC, color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set_title(panel)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {metric}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, title=axis, title_fontsize=8)
    fig.tight_layout()
    path = Path(out) / "validation_curves.png"
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return path
