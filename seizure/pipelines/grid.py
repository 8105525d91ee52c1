"""The grid file of ``seizure experiment``: parsing, expansion into runs, selection.

The grid file
-------------
A YAML file (see the shipped ``seizure/configs/experiments/paper.yaml``) with:

``base``
    ``config:`` (YAML files, paths relative to the grid file) and ``set:`` (``key=value``
    overrides) that every run starts from.
``quick``
    Extra ``config:``/``set:`` applied by ``--quick`` (a tiny model, one or two epochs), after
    each run's own settings so that they shrink every run. ``quick`` may also hold
    ``seeds:`` (seeds per cell with ``--quick``) and ``only:``, a list of cell names or shell
    patterns: ``--quick`` then runs those cells only (e.g. the baseline, the reference and a
    few representative cells), in the grid's order.
``grids``
    A list of crossed grids. Each has ``name``, optional ``config:``/``set:`` shared by its
    runs, and ``axes``: an ordered mapping ``axis -> {value name -> overrides}``. The axes are
    crossed in order; a run's name joins ``axis-value`` with ``__``, e.g.
    ``init-he_normal__cell-gru``.
``runs``
    Extra named runs: ``name -> overrides``.
``seeds``
    Seeds per cell (default 1). With more than one, every cell (a combination of axis
    values, or an extra run) runs once per seed: the run names get ``__seed-N`` and the run's
    ``seed`` is the resolved config's ``seed + N`` (N = 0, 1, ...). ``quick`` may hold its own
    ``seeds:`` for ``--quick``.
``notes``
    A list of sentences printed under the description in ``results.md`` (what the grid
    leaves out and why, which encoder a grid uses).
``reference``
    The cell every other cell is compared with in the results table (default: the first
    cell of each grid for that grid's cells, and the first cell of the first grid for the
    extra runs); a name of a cell, e.g. ``init-orthogonal__cell-lstm``.

Overrides (an axis value or an extra run) are either a list of ``key=value`` strings or a
mapping with ``config:`` and ``set:``. Also optional: ``split`` (evaluated split, default
``eval``), ``stall_margin`` (see below), ``plot`` (``axis`` and ``metric`` of
``validation_curves.png``).

Order of resolution for one run: the cache's preprocessing, then the files of base, grid,
value, quick, then the overrides of base, grid, value, quick, then ``--set`` from the command
line.

A run's outputs go to ``OUT/runs/<name>`` (:func:`run_dir_of`). Seeds are applied after
everything else, as an offset to the resolved ``seed`` (so ``--set seed=7`` gives seeds 7, 8,
9).
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from seizure.config import Config, ConfigError, load_config
from seizure.pipelines.stages import StageError, StageStore
from seizure.utils.errors import UsageError

__all__ = [
    "Axis",
    "ExperimentGrid",
    "Grid",
    "GridError",
    "RUN_STAGE",
    "RunSpec",
    "Settings",
    "expand_grid",
    "load_grid",
    "quick_cell",
    "run_dir_of",
    "run_record",
    "seed_count",
    "select_runs",
]


class GridError(UsageError):
    """The grid file is malformed (the message names the file and the entry; exit status 2)."""


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
    seeds : int
        Seeds per cell.
    quick_seeds : int or None
        Seeds per cell with ``--quick`` (None: ``seeds``).
    quick_only : tuple of str
        Cells (names or shell patterns) that ``--quick`` runs; empty: every cell.
    reference : str
        Cell the extra runs are compared with ("" : the first cell of the first grid).
    notes : tuple of str
        Printed under the description in ``results.md``.
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
    seeds: int = 1
    quick_seeds: int | None = None
    reference: str = ""
    quick_only: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


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
        The resolved config (its ``seed`` includes the seed offset).
    cell : str
        The name without the seed suffix: the runs of one cell differ only in their seed.
    seed_index : int
        ``N`` of the ``__seed-N`` suffix (0 when the grid has one seed).
    reference : str
        The cell this run's cell is compared with in the results ("" for none).
    """

    index: int
    name: str
    group: str
    axes: dict[str, str]
    config_files: tuple[Path, ...]
    overrides: tuple[str, ...]
    config: Config
    cell: str = ""
    seed_index: int = 0
    reference: str = ""

    def __post_init__(self) -> None:
        if not self.cell:
            self.cell = self.name


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
    known |= {"seeds", "reference", "notes"}
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
    quick_raw = data.get("quick")
    quick_seeds = None
    quick_only: tuple[str, ...] = ()
    if isinstance(quick_raw, Mapping) and {"seeds", "only"} & set(quick_raw):
        quick_raw = dict(quick_raw)
        if "seeds" in quick_raw:
            quick_seeds = _seeds(quick_raw.pop("seeds"), path, "quick.seeds")
        if "only" in quick_raw:
            quick_only = _patterns(quick_raw.pop("only"), path, "quick.only")
    grid = ExperimentGrid(
        path=path,
        base=_settings(data.get("base"), path, "base"),
        quick=_settings(quick_raw, path, "quick"),
        grids=tuple(grids),
        runs=runs,
        split=str(data.get("split", "eval")),
        stall_margin=float(data.get("stall_margin", 0.02)),
        plot_axis=str(plot.get("axis", "init")),
        plot_metric=str(plot.get("metric", "window_auroc")),
        description=str(data.get("description", "")),
        seeds=_seeds(data.get("seeds", 1), path, "seeds"),
        quick_seeds=quick_seeds,
        reference=str(data.get("reference") or ""),
        notes=_notes(data.get("notes"), path),
        quick_only=quick_only,
    )
    names = [n for n, _ in _names(grid)]
    if grid.reference and grid.reference not in names:
        raise GridError(
            f"{_where(path, 'reference')}: {grid.reference!r} is not a cell of the grid; the "
            f"cells are {', '.join(names)}"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GridError(f"{path}: duplicate run name(s) {', '.join(dupes)}")
    if not names:
        raise GridError(f"{path}: the grid has no runs (add 'grids' or 'runs')")
    missing = [p for p in quick_only if not any(fnmatch.fnmatchcase(n, p) for n in names)]
    if missing:
        raise GridError(
            f"{_where(path, 'quick.only')}: no cell matches {', '.join(map(repr, missing))}; "
            f"the cells are {', '.join(names)}"
        )
    return grid


def _patterns(value: Any, path: Path, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise GridError(
            f"{_where(path, key)}: expected a non-empty list of cell names or patterns, got "
            f"{value!r}"
        )
    return tuple(value)


def _notes(value: Any, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GridError(f"{_where(path, 'notes')}: expected a list of sentences, got {value!r}")
    return tuple(" ".join(v.split()) for v in value)


def _seeds(value: Any, path: Path, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GridError(f"{_where(path, key)}: expected a whole number >= 1, got {value!r}")
    return value


def _names(grid: ExperimentGrid) -> list[tuple[str, Any]]:
    """(cell name, (group, axes dict, [Settings...], reference cell)) of every cell, in order."""
    out: list[tuple[str, Any]] = []
    first_of_all = ""
    for g in grid.grids:
        first = ""
        for combo in itertools.product(*[a.values for a in g.axes]):
            axes = {a.name: v for a, (v, _) in zip(g.axes, combo)}
            name = "__".join(f"{a}-{v}" for a, v in axes.items())
            first = first or name
            first_of_all = first_of_all or name
            ref = grid.reference or first
            out.append((name, (g.name, axes, [g.settings, *(s for _, s in combo)], ref)))
    for name, settings in grid.runs:
        out.append((name, ("runs", {}, [settings], grid.reference or first_of_all)))
    return out


def quick_cell(grid: ExperimentGrid, cell: str) -> bool:
    """Whether ``--quick`` runs ``cell`` (every cell when the grid's ``quick.only`` is empty)."""
    return not grid.quick_only or any(fnmatch.fnmatchcase(cell, p) for p in grid.quick_only)


def seed_count(grid: ExperimentGrid, quick: bool = False) -> int:
    """Seeds per cell of ``grid`` (with ``--quick``: the quick count when the grid sets one)."""
    if quick and grid.quick_seeds is not None:
        return grid.quick_seeds
    return grid.seeds


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
        Apply the grid's ``quick`` settings (and keep only its ``quick.only`` cells).
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
    n_seeds = seed_count(grid, quick)
    specs: list[RunSpec] = []
    for cell, (group, axes, parts, ref) in _names(grid):
        if quick and not quick_cell(grid, cell):
            continue
        layers = [grid.base, *parts] + ([grid.quick] if quick else [])
        files = tuple(f for s in layers for f in s.config)
        files += tuple(Path(f).resolve() for f in config_files)
        sets = tuple(o for s in layers for o in s.set) + tuple(overrides)
        try:
            config = load_config(list(files), list(sets), base=dict(base or {}))
        except ConfigError as err:
            raise GridError(f"{grid.path}: run {cell!r}: {err}") from err
        for k in range(n_seeds):
            name = cell if n_seeds == 1 else f"{cell}__seed-{k}"
            seeded = replace(config, seed=config.seed + k)
            reference = "" if ref == cell else ref
            specs.append(
                RunSpec(
                    len(specs), name, group, dict(axes), files, sets, seeded, cell, k, reference
                )
            )
    return specs


def select_runs(
    runs: Sequence[RunSpec], only: Sequence[str] = (), index: int | None = None
) -> list[RunSpec]:
    """Filter runs by name (exact or shell pattern, e.g. ``init-*__cell-gru``) and index.

    Parameters
    ----------
    runs : sequence of RunSpec
    only : sequence of str
        Names or patterns (comma-separated lists allowed) of runs or of cells (a cell's
        pattern selects all its seeds); empty keeps every run.
    index : int, optional
        Keep only the run at this position of the (filtered) list (a SLURM array index).

    Raises
    ------
    GridError
        A pattern matches no run, or ``index`` is out of range.
    """
    chosen = list(runs)
    patterns = [p.strip() for item in only for p in item.split(",") if p.strip()]

    def matches(run: RunSpec, pattern: str) -> bool:
        return fnmatch.fnmatchcase(run.name, pattern) or fnmatch.fnmatchcase(run.cell, pattern)

    if patterns:
        missing = [p for p in patterns if not any(matches(r, p) for r in runs)]
        if missing:
            raise GridError(
                f"--only: no run matches {', '.join(map(repr, missing))}; the runs are "
                f"listed by --list"
            )
        chosen = [r for r in runs if any(matches(r, p) for p in patterns)]
    if index is not None:
        if not 0 <= index < len(chosen):
            raise GridError(
                f"--index {index}: expected 0 <= index < {len(chosen)} (the number of runs)"
            )
        chosen = [chosen[index]]
    return chosen


def run_dir_of(out: str | Path, name: str) -> Path:
    """``OUT/runs/<name>``."""
    return Path(out) / "runs" / name


#: The stage name of a run's record in ``OUT/runs/<name>/stages.json``.
RUN_STAGE = "run"


def run_record(run_dir: Path) -> dict[str, Any]:
    """Return the record of a run (see :class:`~seizure.pipelines.stages.StageStore`); {} when none.

    An unreadable record counts as none, so that collecting results never stops at one run.
    """
    try:
        return StageStore(run_dir).get(RUN_STAGE) or {}
    except StageError:
        return {}
