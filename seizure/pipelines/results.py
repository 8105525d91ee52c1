"""The results table of ``seizure experiment``, built from the run folders only.

``OUT/results.md`` and ``OUT/results.csv``: one row per run, built from those files only
(so that runs of a SLURM array are collected the same way), with OVLP and TAES sensitivity,
specificity and FA/24h, and two training flags (below). Rows of the feature baseline
(model :data:`BASELINE_MODEL`) come first, so that a reader sees what the networks add.

Seeds
-----
When a cell (the runs that differ only in their seed, ``__seed-N``) has several runs,
``results.md`` starts with one row per cell: ``mean ± sd`` over its finished seeds (sample
standard deviation, ``ddof=1``). A value is marked ``~`` when its difference from the
reference cell's mean is smaller than the seed spread, i.e. ``|mean - mean_ref| <
max(sd, sd_ref)``: the grid cannot tell the two apart. ``results.csv`` keeps one row per run
(per seed) and adds the cell's ``<metric>_mean``, ``<metric>_sd`` and
``<metric>_within_seed_spread`` to each row.

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
    "BASELINE_MODEL",
    "CELL_METRICS",
    "CHANCE_AUROC",
    "RESULT_COLUMNS",
    "aggregate_cells",
    "collect_results",
    "mean_sd",
    "plot_validation_curves",
    "results_csv",
    "results_markdown",
    "training_flags",
    "within_seed_spread",
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
#: Metrics aggregated over the seeds of a cell.
CELL_METRICS = (*RESULT_COLUMNS, "best_val_metric")
#: Model name of the feature baseline, whose rows come first in every table.
BASELINE_MODEL = "bandpower_logreg"


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
        Keys: ``run``, ``grid_cell`` (the run's cell), ``seed``, ``reference_cell``,
        ``group``, ``model_name``, one key per axis, ``status`` (``finished``, ``failed``,
        ``running``, ``interrupted`` or ``pending``), :data:`RESULT_COLUMNS` (fractions and
        FA per 24 h, None when not evaluated), ``diverged``, ``stalled``, ``epochs``,
        ``best_val_metric``, ``best_val_epoch``, ``reason``. In the order of ``runs``, except
        that the runs of the feature baseline (:data:`BASELINE_MODEL`) come first.
    """
    axes = list(dict.fromkeys(a for r in runs for a in r.axes))
    rows = []
    for spec in runs:
        run_dir = run_dir_of(out, spec.name)
        status = run_record(run_dir)
        row: dict[str, Any] = {
            "run": spec.name,
            "grid_cell": spec.cell,
            "seed": spec.config.seed,
            "reference_cell": spec.reference,
            "group": spec.group,
            "model_name": spec.config.model.name,
        }
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
    return sorted(rows, key=lambda r: r["model_name"] != BASELINE_MODEL)


def mean_sd(values: Sequence[Any]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (``ddof=1``) of the finite values.

    Returns
    -------
    (mean, sd) : (float or None, float or None)
        None for the mean without a finite value, None for the sd with fewer than two.
    """
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return None, None
    mean = sum(finite) / len(finite)
    if len(finite) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))


def within_seed_spread(
    mean: float | None, sd: float | None, ref_mean: float | None, ref_sd: float | None
) -> bool | None:
    """Whether ``|mean - ref_mean| < max(sd, ref_sd)``: a difference the seeds cannot resolve.

    None when a mean is missing or neither cell has a standard deviation (fewer than two
    finished seeds each).
    """
    if mean is None or ref_mean is None:
        return None
    spreads = [s for s in (sd, ref_sd) if s is not None]
    if not spreads:
        return None
    return abs(mean - ref_mean) < max(spreads)


def aggregate_cells(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per cell: mean and sd over its seeds, compared with its reference cell.

    Parameters
    ----------
    rows : sequence of mapping
        Rows of :func:`collect_results` (keys ``grid_cell``, ``reference_cell``, ``status``,
        :data:`CELL_METRICS`, ``diverged``, ``stalled``, ``reason``).

    Returns
    -------
    list of dict
        In the order the cells first appear: ``grid_cell``, ``group``, ``model_name``,
        ``reference_cell``,
        the axes, ``runs``, ``finished``, ``diverged`` and ``stalled`` (counts), ``reason``
        (the first failure's), and per metric ``<m>_mean``, ``<m>_sd`` and
        ``<m>_within_seed_spread`` (see :func:`within_seed_spread`; None for the reference
        cell itself and for a cell without a reference).
    """
    cells: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        cells.setdefault(str(r.get("grid_cell", r["run"])), []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for cell, members in cells.items():
        first = members[0]
        entry: dict[str, Any] = {k: v for k, v in first.items() if k not in _PER_RUN}
        entry["grid_cell"] = cell
        done = [m for m in members if m["status"] == "finished"]
        entry["runs"], entry["finished"] = len(members), len(done)
        entry["diverged"] = sum(1 for m in members if m.get("diverged"))
        entry["stalled"] = sum(1 for m in members if m.get("stalled"))
        entry["reason"] = next((str(m["reason"]) for m in members if m.get("reason")), "")
        for metric in CELL_METRICS:
            mean, sd = mean_sd([m.get(metric) for m in done])
            entry[f"{metric}_mean"], entry[f"{metric}_sd"] = mean, sd
        out[cell] = entry
    for entry in out.values():
        ref = out.get(str(entry.get("reference_cell") or ""))
        for metric in CELL_METRICS:
            entry[f"{metric}_within_seed_spread"] = (
                None
                if ref is None
                else within_seed_spread(
                    entry[f"{metric}_mean"],
                    entry[f"{metric}_sd"],
                    ref[f"{metric}_mean"],
                    ref[f"{metric}_sd"],
                )
            )
    return list(out.values())


def _pct(value: Any) -> str:
    return "" if value is None else f"{100.0 * float(value):.2f}"


def _fa(value: Any) -> str:
    return "" if value is None else f"{float(value):.2f}"


def _flag(value: Any) -> str:
    return "" if value is None else ("yes" if value else "no")


def _mean_sd(entry: Mapping[str, Any], metric: str, scale: float) -> str:
    mean, sd = entry[f"{metric}_mean"], entry[f"{metric}_sd"]
    if mean is None:
        return ""
    text = f"{scale * mean:.2f}" if sd is None else f"{scale * mean:.2f} ± {scale * sd:.2f}"
    return text + (" ~" if entry.get(f"{metric}_within_seed_spread") else "")


#: (metric, header, scale) of the per-cell table.
_CELL_TABLE = (
    ("ovlp_sensitivity", "OVLP sens %", 100.0),
    ("ovlp_specificity", "OVLP spec %", 100.0),
    ("ovlp_fa_per_24h", "OVLP FA/24h", 1.0),
    ("taes_sensitivity", "TAES sens %", 100.0),
    ("taes_fa_per_24h", "TAES FA/24h", 1.0),
    ("best_val_metric", "best val AUROC", 1.0),
)


def _cell_table(rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> list[str]:
    """Return the per-cell Markdown lines (mean ± sd over seeds, ``~`` marks)."""
    cells = aggregate_cells(rows)
    n_seeds = max(c["runs"] for c in cells)
    head = ["cell", *axes, "seeds", *(h for _, h, _ in _CELL_TABLE), "diverged", "stalled"]
    head.append("compared with")
    lines = [
        "## Cells: mean ± sd over seeds",
        "",
        f"Each cell ran {n_seeds} seeds (runs `<cell>__seed-N`); *seeds* counts the finished "
        "ones, *diverged* and *stalled* the runs so flagged. Standard deviations are sample "
        "ones (ddof=1). **~**: the difference from the mean of the cell in *compared with* is "
        "smaller than the seed spread (the larger of the two standard deviations), so these "
        "seeds cannot tell the two cells apart.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if h in ("cell", *axes, "compared with") else "---:"
                       for h in head) + "|",
    ]  # fmt: skip
    for c in cells:
        cells_md = [f"`{c['grid_cell']}`", *(str(c.get(a, "")) for a in axes)]
        cells_md.append(f"{c['finished']}/{c['runs']}")
        cells_md += [_mean_sd(c, m, scale) for m, _, scale in _CELL_TABLE]
        cells_md += [str(c["diverged"]), str(c["stalled"])]
        ref = c.get("reference_cell") or ""
        note = f"`{ref}`" if ref else "(reference)"
        if c["finished"] < c["runs"] and c["reason"]:
            note += "; " + c["reason"].replace("|", "\\|")[:160]
        cells_md.append(note)
        lines.append("| " + " | ".join(cells_md) + " |")
    return lines + [""]


def results_markdown(rows: Sequence[Mapping[str, Any]], grid: ExperimentGrid | None = None) -> str:
    """Return the results tables as Markdown (percentages; FA per 24 h).

    With several seeds per cell, a per-cell table (mean ± sd, ``~`` marks; see the module
    docstring) comes before the per-run table.
    """
    axes = [k for k in (rows[0] if rows else {}) if k not in _FIXED]
    head = ["run", *axes, "status"]
    head += ["OVLP sens %", "OVLP spec %", "OVLP FA/24h", "TAES sens %", "TAES spec %"]
    head += ["TAES FA/24h", "diverged", "stalled", "best val AUROC", "epochs", "note"]
    lines = []
    title = f"# Results of {grid.path.name}" if grid else "# Results"
    lines += [title, ""]
    if grid and grid.description:
        lines += [grid.description.strip(), ""]
    if grid and grid.notes:
        lines += [f"- {note}" for note in grid.notes] + [""]
    n_done = sum(1 for r in rows if r["status"] == "finished")
    summary = (
        f"{n_done} of {len(rows)} runs finished. Sensitivity and specificity in % (NEDC "
        "OVLP and TAES, pooled over the evaluated recordings); FA/24h = false alarms per 24 "
        "hours. *diverged*: the training loss became non-finite; *stalled*: the validation "
        f"window AUROC never exceeded chance (0.5) by more than "
        f"{grid.stall_margin if grid else 0.02:g}."
    )
    if any(r.get("model_name") == BASELINE_MODEL for r in rows):
        summary += (
            f" The first rows are the feature baseline (`{BASELINE_MODEL}`): what the "
            "networks add is their distance from it."
        )
    lines += [summary, ""]
    cells = {r.get("grid_cell", r["run"]) for r in rows}
    if len(cells) < len(rows):
        lines += _cell_table(rows, axes)
        lines += ["## Runs", ""]
    lines += [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" if h.endswith(("%", "24h", "AUROC", "epochs")) else "---"
                       for h in head) + "|",
    ]  # fmt: skip
    for r in rows:
        best = r.get("best_val_metric")
        cells_md = [f"`{r['run']}`", *(str(r.get(a, "")) for a in axes), str(r["status"])]
        cells_md += [_pct(r["ovlp_sensitivity"]), _pct(r["ovlp_specificity"])]
        cells_md += [_fa(r["ovlp_fa_per_24h"]), _pct(r["taes_sensitivity"])]
        cells_md += [_pct(r["taes_specificity"]), _fa(r["taes_fa_per_24h"])]
        cells_md += [_flag(r["diverged"]), _flag(r["stalled"])]
        cells_md += ["" if best is None else f"{best:.4f}", str(r.get("epochs", ""))]
        cells_md += [str(r.get("reason", "")).replace("|", "\\|")[:200]]
        lines.append("| " + " | ".join(cells_md) + " |")
    return "\n".join(lines) + "\n"


_FIXED = {
    "run",
    "grid_cell",
    "seed",
    "reference_cell",
    "group",
    "model_name",
    "status",
    *RESULT_COLUMNS,
    "diverged",
    "stalled",
    "epochs",
    "best_val_metric",
    "best_val_epoch",
    "reason",
}
#: Keys of a run's row that the cell's entry does not copy.
_PER_RUN = _FIXED - {"grid_cell", "reference_cell", "group", "model_name"}


def results_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return the results table as CSV: one row per run (per seed).

    Fractions, not percentages; empty cells for missing values. Each row also carries its
    cell's ``<metric>_mean``, ``<metric>_sd`` and ``<metric>_within_seed_spread`` (see
    :func:`aggregate_cells`).
    """
    if not rows:
        return ""
    cells = {c["grid_cell"]: c for c in aggregate_cells(rows)}
    extra = [f"{m}_{k}" for m in CELL_METRICS for k in ("mean", "sd", "within_seed_spread")]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*rows[0], *extra], lineterminator="\n")
    writer.writeheader()
    for r in rows:
        cell = cells[str(r.get("grid_cell", r["run"]))]
        full = {**r, **{k: cell[k] for k in extra}}
        writer.writerow({k: "" if v is None else v for k, v in full.items()})
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
