"""``seizure experiment``: a grid of training runs, each trained and evaluated, in one table.

The grid file
-------------
A YAML file (see the shipped ``seizure/configs/experiments/paper.yaml``) with:

``base``
    ``config:`` (YAML files, paths relative to the grid file) and ``set:`` (``key=value``
    overrides) that every run starts from.
``quick``
    Extra ``config:``/``set:`` applied by ``--quick`` (a tiny model, one or two epochs), after
    each run's own settings so that they shrink every run.
``grids``
    A list of crossed grids. Each has ``name``, optional ``config:``/``set:`` shared by its
    runs, and ``axes``: an ordered mapping ``axis -> {value name -> overrides}``. The axes are
    crossed in order; a run's name joins ``axis-value`` with ``__``, e.g.
    ``init-he_normal__cell-gru``.
``runs``
    Extra named runs: ``name -> overrides``.

Overrides (an axis value or an extra run) are either a list of ``key=value`` strings or a
mapping with ``config:`` and ``set:``. Also optional: ``split`` (evaluated split, default
``eval``), ``stall_margin`` (see below), ``plot`` (``axis`` and ``metric`` of
``validation_curves.png``).

Order of resolution for one run: the cache's preprocessing, then the files of base, grid,
value, quick, then the overrides of base, grid, value, quick, then ``--set`` from the command
line.

Outputs
-------
``OUT/runs/<name>/``: ``config.yaml`` (resolved), ``train/`` (``seizure train``'s run
folder), ``eval/`` (``seizure evaluate``'s output; the run is *finished* when
``eval/scores.json`` exists) and ``status.json`` (``finished`` or ``failed`` with the reason).
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
import fnmatch
import io
import itertools
import json
import math
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from seizure.config import Config, ConfigError, load_config, save_config, to_dict
from seizure.utils.errors import UsageError
from seizure.utils.fsio import atomic_write_text

__all__ = [
    "ExperimentGrid",
    "ExperimentResult",
    "GridError",
    "RunSpec",
    "collect_results",
    "expand_grid",
    "load_grid",
    "plot_validation_curves",
    "run_experiment",
    "run_one",
    "select_runs",
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


class GridError(UsageError):
    """The grid file is malformed (the message names the file and the entry; exit status 2)."""


# ------------------------------------------------------------------------------ the grid


@dataclass(frozen=True)
class Settings:
    """``config:`` files (absolute paths) and ``set:`` overrides of one grid entry."""

    config: tuple[Path, ...] = ()
    set: tuple[str, ...] = ()


@dataclass(frozen=True)
class Axis:
    """One named axis: ordered values, each with its settings."""

    name: str
    values: tuple[tuple[str, Settings], ...]


@dataclass(frozen=True)
class Grid:
    """A crossed grid of axes with settings shared by its runs."""

    name: str
    settings: Settings
    axes: tuple[Axis, ...]


@dataclass(frozen=True)
class ExperimentGrid:
    """A parsed grid file (see the module docstring).

    Attributes
    ----------
    path : Path
    base, quick : Settings
    grids : tuple of Grid
    runs : tuple of (name, Settings)
        Extra named runs.
    split : str
        Split evaluated.
    stall_margin : float
    plot_axis, plot_metric : str
    description : str
    """

    path: Path
    base: Settings
    quick: Settings
    grids: tuple[Grid, ...]
    runs: tuple[tuple[str, Settings], ...]
    split: str = "eval"
    stall_margin: float = 0.02
    plot_axis: str = "init"
    plot_metric: str = "window_auroc"
    description: str = ""


@dataclass
class RunSpec:
    """One run of the grid.

    Attributes
    ----------
    index : int
        Position in the expanded grid (``--index``).
    name : str
        Stable name, e.g. ``init-he_normal__cell-gru``.
    group : str
        Grid name, or ``runs`` for an extra run.
    axes : dict of str to str
        Axis -> value name (empty for an extra run).
    config_files : tuple of Path
    overrides : tuple of str
    config : Config
        The resolved config.
    """

    index: int
    name: str
    group: str
    axes: dict[str, str]
    config_files: tuple[Path, ...]
    overrides: tuple[str, ...]
    config: Config


def _where(path: Path, key: str) -> str:
    return f"{path}: {key}"


def _settings(value: Any, path: Path, key: str) -> Settings:
    """Parse a list of overrides or a ``{config, set}`` mapping."""
    if value is None:
        return Settings()
    if isinstance(value, list):
        value = {"set": value}
    if not isinstance(value, Mapping):
        raise GridError(
            f"{_where(path, key)}: expected a list of key=value overrides or a mapping with "
            f"'config' and 'set', got {value!r}"
        )
    unknown = sorted(set(value) - {"config", "set"})
    if unknown:
        raise GridError(
            f"{_where(path, key)}: unknown key(s) {', '.join(map(repr, unknown))}; "
            "allowed: 'config', 'set'"
        )
    files = value.get("config") or []
    sets = value.get("set") or []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise GridError(f"{_where(path, key + '.config')}: expected a list of paths")
    if not isinstance(sets, list) or not all(isinstance(s, str) and "=" in s for s in sets):
        raise GridError(
            f"{_where(path, key + '.set')}: expected a list of key=value strings, got {sets!r}"
        )
    resolved = []
    for f in files:
        p = Path(f)
        if not p.is_absolute():
            p = (path.parent / p).resolve()
        if not p.is_file():
            raise GridError(f"{_where(path, key + '.config')}: {f!r} does not exist ({p})")
        resolved.append(p)
    return Settings(tuple(resolved), tuple(sets))


def _check_name(name: Any, path: Path, key: str) -> str:
    name = str(name)
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise GridError(
            f"{_where(path, key)}: names must be non-empty without '/', spaces or a leading "
            f"'.', got {name!r}"
        )
    return name


def load_grid(path: str | Path) -> ExperimentGrid:
    """Read and check a grid file.

    Raises
    ------
    GridError
        On a missing file, unknown keys, malformed entries or duplicate run names.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise GridError(f"{path}: grid file does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise GridError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, Mapping):
        raise GridError(f"{path}: expected a mapping at the top level")
    known = {"description", "base", "quick", "grids", "runs", "split", "stall_margin", "plot"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GridError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(sorted(known))}"
        )
    grids = []
    for g, raw in enumerate(data.get("grids") or []):
        key = f"grids[{g}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("axes"), Mapping):
            raise GridError(f"{_where(path, key)}: expected a mapping with 'axes'")
        extra = sorted(set(raw) - {"name", "config", "set", "axes"})
        if extra:
            raise GridError(f"{_where(path, key)}: unknown key(s) {', '.join(map(repr, extra))}")
        axes = []
        for axis_name, values in raw["axes"].items():
            akey = f"{key}.axes.{axis_name}"
            if not isinstance(values, Mapping) or not values:
                raise GridError(f"{_where(path, akey)}: expected a mapping of value -> overrides")
            axes.append(
                Axis(
                    _check_name(axis_name, path, akey),
                    tuple(
                        (_check_name(v, path, f"{akey}.{v}"), _settings(s, path, f"{akey}.{v}"))
                        for v, s in values.items()
                    ),
                )
            )
        own = _settings({k: raw[k] for k in ("config", "set") if k in raw}, path, key)
        grids.append(Grid(str(raw.get("name", f"grid{g}")), own, tuple(axes)))
    runs_raw = data.get("runs") or {}
    if not isinstance(runs_raw, Mapping):
        raise GridError(f"{_where(path, 'runs')}: expected a mapping of name -> overrides")
    runs = tuple(
        (_check_name(n, path, f"runs.{n}"), _settings(s, path, f"runs.{n}"))
        for n, s in runs_raw.items()
    )
    plot = data.get("plot") or {}
    grid = ExperimentGrid(
        path=path,
        base=_settings(data.get("base"), path, "base"),
        quick=_settings(data.get("quick"), path, "quick"),
        grids=tuple(grids),
        runs=runs,
        split=str(data.get("split", "eval")),
        stall_margin=float(data.get("stall_margin", 0.02)),
        plot_axis=str(plot.get("axis", "init")),
        plot_metric=str(plot.get("metric", "window_auroc")),
        description=str(data.get("description", "")),
    )
    names = [n for n, _ in _names(grid)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GridError(f"{path}: duplicate run name(s) {', '.join(dupes)}")
    if not names:
        raise GridError(f"{path}: the grid has no runs (add 'grids' or 'runs')")
    return grid


def _names(grid: ExperimentGrid) -> list[tuple[str, Any]]:
    """(name, (group, axes dict, [Settings...])) of every run, in order."""
    out: list[tuple[str, Any]] = []
    for g in grid.grids:
        for combo in itertools.product(*[a.values for a in g.axes]):
            axes = {a.name: v for a, (v, _) in zip(g.axes, combo)}
            name = "__".join(f"{a}-{v}" for a, v in axes.items())
            out.append((name, (g.name, axes, [g.settings, *(s for _, s in combo)])))
    for name, settings in grid.runs:
        out.append((name, ("runs", {}, [settings])))
    return out


def expand_grid(
    grid: ExperimentGrid | str | Path,
    *,
    quick: bool = False,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
    config_files: Sequence[str | Path] = (),
) -> list[RunSpec]:
    """Expand a grid into its runs, each with its stable name and resolved config.

    Parameters
    ----------
    grid : ExperimentGrid or path
    quick : bool
        Apply the grid's ``quick`` settings.
    overrides : sequence of str
        ``--set`` overrides applied to every run, last.
    base : mapping, optional
        A config dict to start from (e.g. ``{"preprocess": <the cache's>}``).
    config_files : sequence of path
        ``--config`` files for every run, merged after the grid's files.

    Returns
    -------
    list of RunSpec

    Raises
    ------
    GridError
        A run's config is invalid (the message names the run).
    """
    if not isinstance(grid, ExperimentGrid):
        grid = load_grid(grid)
    specs = []
    for index, (name, (group, axes, parts)) in enumerate(_names(grid)):
        layers = [grid.base, *parts] + ([grid.quick] if quick else [])
        files = tuple(f for s in layers for f in s.config)
        files += tuple(Path(f).resolve() for f in config_files)
        sets = tuple(o for s in layers for o in s.set) + tuple(overrides)
        try:
            config = load_config(list(files), list(sets), base=dict(base or {}))
        except ConfigError as err:
            raise GridError(f"{grid.path}: run {name!r}: {err}") from err
        specs.append(RunSpec(index, name, group, dict(axes), files, sets, config))
    return specs


def select_runs(
    runs: Sequence[RunSpec], only: Sequence[str] = (), index: int | None = None
) -> list[RunSpec]:
    """Filter runs by name (exact or shell pattern, e.g. ``init-*__cell-gru``) and index.

    Parameters
    ----------
    runs : sequence of RunSpec
    only : sequence of str
        Names or patterns (comma-separated lists allowed); empty keeps every run.
    index : int, optional
        Keep only the run at this position of the (filtered) list (a SLURM array index).

    Raises
    ------
    GridError
        A pattern matches no run, or ``index`` is out of range.
    """
    chosen = list(runs)
    patterns = [p.strip() for item in only for p in item.split(",") if p.strip()]
    if patterns:
        missing = [p for p in patterns if not any(fnmatch.fnmatchcase(r.name, p) for r in runs)]
        if missing:
            raise GridError(
                f"--only: no run matches {', '.join(map(repr, missing))}; the runs are "
                f"listed by --list"
            )
        chosen = [r for r in runs if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
    if index is not None:
        if not 0 <= index < len(chosen):
            raise GridError(
                f"--index {index}: expected 0 <= index < {len(chosen)} (the number of runs)"
            )
        chosen = [chosen[index]]
    return chosen


# ------------------------------------------------------------------------------ running


def run_dir_of(out: str | Path, name: str) -> Path:
    """``OUT/runs/<name>``."""
    return Path(out) / "runs" / name


def is_finished(run_dir: Path) -> bool:
    """A run is finished when its evaluation's ``scores.json`` exists."""
    return (run_dir / "eval" / "scores.json").is_file()


def _stored_config(run_dir: Path) -> dict[str, Any] | None:
    """The run's saved config, resolved through :func:`load_config` so that a field added to
    the package since the run was made takes its default instead of counting as a change."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    try:
        return to_dict(load_config([path]))
    except ConfigError:
        return yaml.safe_load(path.read_text())


def _write_status(run_dir: Path, status: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "status.json", json.dumps(status, indent=1) + "\n")


@dataclass
class RunOutcome:
    """What :func:`run_one` did: ``status`` is ``finished``, ``skipped`` or ``failed``."""

    name: str
    status: str
    reason: str = ""
    seconds: float = 0.0


def run_one(
    spec: RunSpec,
    cache: str | Path | Any,
    out: str | Path,
    *,
    split: str = "eval",
    device: str = "auto",
    log: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Train and evaluate one run (or resume it); never raises for a failed run.

    The reason of a failure (training error, non-finite loss, evaluation error) is written to
    ``OUT/runs/<name>/status.json`` and returned. A run whose ``eval/scores.json`` exists is
    skipped; a run folder made with another config is refused (delete it to rerun).
    """
    # torch: imported by the runs only, so that reading and listing a grid stays light
    from seizure.evaluation.evaluate import evaluate
    from seizure.training.loop import NonFiniteLossError, train

    say = log or (lambda _m: None)
    run_dir = run_dir_of(out, spec.name)
    wanted = to_dict(spec.config)
    stored = _stored_config(run_dir)
    if stored is not None and stored != wanted:
        reason = (
            f"{run_dir} was made with another config; delete it to rerun this run with the "
            "current grid"
        )
        if not is_finished(run_dir):
            _write_status(run_dir, {"status": "failed", "reason": reason, "diverged": False})
        return RunOutcome(spec.name, "failed", reason)
    if is_finished(run_dir):
        return RunOutcome(spec.name, "skipped")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(spec.config, run_dir / "config.yaml")
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    status: dict[str, Any] = {"status": "running", "started": started, "diverged": False}
    _write_status(run_dir, status)
    checkpoint = run_dir / "train" / "best.pt"
    try:
        try:
            result = train(spec.config, cache, run_dir / "train", resume=True, device=device,
                           log=say)  # fmt: skip
            status["train_status"] = result.status
            if result.status == "interrupted":
                raise KeyboardInterrupt
        except NonFiniteLossError as err:
            status["diverged"] = True
            status["train_status"] = "diverged"
            status["diverged_reason"] = str(err)
            if not checkpoint.is_file():
                raise
            say(f"{spec.name}: diverged ({err}); evaluating the last good best.pt")
        evaluate(
            checkpoint,
            cache,
            run_dir / "eval",
            split=split,
            device=device,
            reuse_probs=True,
            log=say,
        )
    except KeyboardInterrupt:
        status.update(status="interrupted", reason="interrupted; run again to resume")
        _write_status(run_dir, status)
        raise
    except Exception as err:  # a failed run is recorded and the grid goes on
        reason = f"{type(err).__name__}: {err}"
        status.update(status="failed", reason=reason, seconds=time.perf_counter() - t0)
        status["traceback"] = traceback.format_exc(limit=8)
        _write_status(run_dir, status)
        return RunOutcome(spec.name, "failed", reason, status["seconds"])
    status.update(status="finished", seconds=time.perf_counter() - t0)
    _write_status(run_dir, status)
    return RunOutcome(spec.name, "finished", "", status["seconds"])


@dataclass
class ExperimentResult:
    """Outcome of :func:`run_experiment`."""

    out_dir: Path
    runs: list[RunSpec]
    outcomes: list[RunOutcome] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[RunOutcome]:
        """Runs that failed in this invocation."""
        return [o for o in self.outcomes if o.status == "failed"]


def run_experiment(
    grid: str | Path | ExperimentGrid,
    cache: str | Path,
    out: str | Path,
    *,
    quick: bool = False,
    only: Sequence[str] = (),
    index: int | None = None,
    overrides: Sequence[str] = (),
    config_files: Sequence[str | Path] = (),
    device: str = "auto",
    collect_only: bool = False,
    log: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Run the selected runs of a grid one after the other, then rebuild the results table.

    Parameters
    ----------
    grid : path or ExperimentGrid
    cache : path
        A cache written by ``seizure preprocess``; every run uses its preprocessing.
    out : path
        Output folder (see the module docstring).
    quick : bool
        Apply the grid's ``quick`` settings.
    only, index
        See :func:`select_runs`.
    overrides : sequence of str
        ``--set`` overrides for every run.
    config_files : sequence of path
        ``--config`` files for every run (after the grid's files).
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    collect_only : bool
        Run nothing; only rebuild ``results.md``, ``results.csv`` and the plot.
    log : callable, optional
        Receives progress lines (default: stderr).

    Returns
    -------
    ExperimentResult
    """
    from seizure.preprocessing.cache import Cache  # numpy: not needed to read a grid

    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    if not isinstance(grid, ExperimentGrid):
        grid = load_grid(grid)
    opened = Cache(cache)
    runs = expand_grid(
        grid,
        quick=quick,
        overrides=overrides,
        base={"preprocess": to_dict(opened.config)},
        config_files=config_files,
    )
    chosen = select_runs(runs, only, index)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = ExperimentResult(out, runs)
    if not collect_only:
        t_start = time.perf_counter()
        for k, spec in enumerate(chosen, 1):
            head = f"[{k}/{len(chosen)}] {spec.name}"
            if is_finished(run_dir_of(out, spec.name)):
                say(f"{head}: finished before, skipped")
            else:
                say(f"{head}: training and evaluating -> {run_dir_of(out, spec.name)}")

            def sub(message: str, _name: str = spec.name) -> None:
                say(f"      {message}")

            outcome = run_one(spec, opened, out, split=grid.split, device=device, log=sub)
            result.outcomes.append(outcome)
            elapsed = time.perf_counter() - t_start
            if outcome.status == "failed":
                say(f"{head}: FAILED ({outcome.reason}); {elapsed:.0f} s elapsed")
            elif outcome.status == "finished":
                say(f"{head}: done in {outcome.seconds:.1f} s; {elapsed:.0f} s elapsed")
    # with --index each array task rebuilds the table from what is on disk (atomic writes);
    # the table of the whole grid is complete after the last task or `--collect`
    result.rows = collect_results(runs, out, stall_margin=grid.stall_margin)
    write_results(result.rows, out, grid)
    plot_validation_curves(runs, out, axis=grid.plot_axis, metric=grid.plot_metric)
    return result


# ------------------------------------------------------------------------------ results


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
    status = _read_json(run_dir / "status.json")
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
        status = _read_json(run_dir / "status.json")
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
    """The results table as Markdown (percentages; FA per 24 h)."""
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
    """The results table as CSV (fractions, not percentages; empty cells for missing)."""
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
    """Plot ``metric`` per epoch from each run's ``metrics.jsonl`` into
    ``OUT/validation_curves.png``: one line per value of ``axis``, one panel per value of the
    other axes. Returns the path, or None when no run with ``axis`` has validation metrics.
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
