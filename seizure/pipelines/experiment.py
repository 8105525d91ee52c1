"""``seizure experiment``: a grid of training runs, each trained and evaluated, in one table.

The grid file is read and expanded by :mod:`seizure.pipelines.grid`; the results table is
built by :mod:`seizure.pipelines.results`. This module runs the runs.

Outputs
-------
``OUT/runs/<name>/``: ``config.yaml`` (resolved), ``train/`` (``seizure train``'s run
folder), ``eval/`` (``seizure evaluate``'s output) and ``stages.json``: the run's record
(:class:`~seizure.pipelines.stages.StageStore`, as ``seizure demo`` keeps its stages; one stage,
``run``) with ``status`` ``running``, ``finished``, ``failed`` or ``interrupted``, the
``reason`` of a failure, the fingerprint of the config, and ``diverged`` (plus
``diverged_reason``) when the training loss became non-finite. The run is *finished* when the
record says so and ``eval/scores.json`` exists.

Which config made a run folder is decided from its ``config.yaml``, read back through
:func:`~seizure.config.load_config`, so that a field added to the package since the run was
made takes its default instead of counting as a change (a fingerprint cannot tell the two
apart).
``OUT/results.md``, ``OUT/results.csv`` and ``OUT/validation_curves.png``: see
:mod:`seizure.pipelines.results`.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from seizure.config import ConfigError, load_config, save_config, to_dict
from seizure.pipelines.grid import (
    RUN_STAGE,
    ExperimentGrid,
    GridError,
    RunSpec,
    expand_grid,
    load_grid,
    run_dir_of,
    run_record,
    select_runs,
)
from seizure.pipelines.results import collect_results, plot_validation_curves, write_results
from seizure.pipelines.stages import StageStore, stage_fingerprint

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


def is_finished(run_dir: Path) -> bool:
    """Whether a run's record says it finished and its evaluation's ``scores.json`` exists."""
    return (
        bool(run_record(run_dir).get("complete")) and (run_dir / "eval" / "scores.json").is_file()
    )


def _stored_config(run_dir: Path) -> dict[str, Any] | None:
    """Return the run's saved config, resolved through :func:`load_config`.

    A field added to the package since the run was made takes its default instead of counting
    as a change.
    """
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    try:
        return to_dict(load_config([path]))
    except ConfigError:
        return yaml.safe_load(path.read_text())


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

    Parameters
    ----------
    spec : RunSpec
        The run.
    cache : str, Path or Cache
        The cache every run trains and is evaluated on.
    out : str or Path
        The experiment's output folder; the run writes into ``OUT/runs/<name>``.
    split : str
        The split evaluated.
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    log : callable, optional
        Receives progress lines (default: this module's logger, INFO).

    Returns
    -------
    RunOutcome
        The reason of a failure (training error, non-finite loss, evaluation error) is also
        recorded in the run's ``stages.json``. A finished run is skipped; a run folder made
        with another config is refused (delete it to rerun).
    """
    # torch: imported by the runs only, so that reading and listing a grid stays light
    from seizure.evaluation.evaluate import evaluate
    from seizure.training.loop import NonFiniteLossError, train

    say = log or logging.getLogger(__name__).info
    run_dir = run_dir_of(out, spec.name)
    store = StageStore(run_dir)
    wanted = to_dict(spec.config)
    stored = _stored_config(run_dir)
    if stored is not None and stored != wanted:
        reason = (
            f"{run_dir} was made with another config; delete it to rerun this run with the "
            "current grid"
        )
        if not is_finished(run_dir):
            store.fail(RUN_STAGE, stage_fingerprint(stored), reason=reason, diverged=False)
        return RunOutcome(spec.name, "failed", reason)
    if is_finished(run_dir):
        return RunOutcome(spec.name, "skipped")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(spec.config, run_dir / "config.yaml")
    fingerprint = stage_fingerprint(wanted)
    t0 = time.perf_counter()
    info: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "diverged": False,
    }
    store.start(RUN_STAGE, fingerprint, **info)
    checkpoint = run_dir / "train" / "best.pt"
    try:
        try:
            result = train(spec.config, cache, run_dir / "train", resume=True, device=device,
                           log=say)  # fmt: skip
            info["train_status"] = result.status
            if result.status == "interrupted":
                raise KeyboardInterrupt
        except NonFiniteLossError as err:
            info.update(diverged=True, train_status="diverged", diverged_reason=str(err))
            if not checkpoint.is_file():
                raise
            say(f"{spec.name}: diverged ({err}); evaluating the last good best.pt")
        evaluate(checkpoint, cache, run_dir / "eval", split=split, device=device,
                 reuse_probs=True, log=say)  # fmt: skip
    except KeyboardInterrupt:
        reason = "interrupted; run again to resume"
        store.fail(RUN_STAGE, fingerprint, reason=reason, status="interrupted", **info)
        raise
    except Exception as err:  # a failed run is recorded and the grid goes on
        reason = f"{type(err).__name__}: {err}"
        info.update(seconds=time.perf_counter() - t0, traceback=traceback.format_exc(limit=8))
        store.fail(RUN_STAGE, fingerprint, reason=reason, **info)
        return RunOutcome(spec.name, "failed", reason, info["seconds"])
    info["seconds"] = time.perf_counter() - t0
    store.finish(RUN_STAGE, fingerprint, **info)
    return RunOutcome(spec.name, "finished", "", info["seconds"])


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
        Receives progress lines (default: this module's logger, INFO).

    Returns
    -------
    ExperimentResult
    """
    from seizure.preprocessing.cache import Cache  # numpy: not needed to read a grid

    say = log or logging.getLogger(__name__).info
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
