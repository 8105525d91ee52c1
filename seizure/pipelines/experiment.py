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

Runs at once (``parallel``)
---------------------------
With ``parallel=K > 1`` up to K runs go at once, each in a process of its own
(:func:`~seizure.utils.pool.process_pool` of one worker, a fresh process per run), all on the
same device: on a GPU every run uses the same CUDA device, on a CPU each process gets
``torch.set_num_threads(cores // K)`` (unless the run's ``train.cpu_threads`` says
otherwise). A run sees only its own config (with its own seed) and writes only its own
``OUT/runs/<name>``; its progress lines go to ``OUT/runs/<name>/experiment.log``. A run that
fails, or whose process dies, is recorded as failed and the others go on; SIGINT or SIGTERM
ends every run's process (each is resumed by the next invocation). The progress lines name
the runs in flight, the aggregate training throughput (windows trained by the finished runs
of this invocation over its wall time) and a projection of the wall time of the whole grid
(every cell x seed) from the mean wall time of the runs finished so far.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import os
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
from seizure.utils.pool import Interrupted, pool_context, process_pool, stop_on_signals

__all__ = [
    "ExperimentGrid",
    "ExperimentResult",
    "GridError",
    "RunSpec",
    "collect_results",
    "cpu_cores",
    "expand_grid",
    "load_grid",
    "plot_validation_curves",
    "run_experiment",
    "run_in_process",
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


#: ``summary.json`` statuses of a training that ended by itself (nothing left to train)
FINISHED_TRAINING = ("completed", "early_stopped", "max_steps")


def _finished_training(train_dir: Path) -> str | None:
    """Return the status of a finished training in ``train_dir`` (its ``summary.json``) or None."""
    try:
        status = json.loads((train_dir / "summary.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None
    return status if status in FINISHED_TRAINING else None


def _raise_interrupted(exit_code: int) -> None:
    """Raise :class:`Interrupted` for a training's signal, else (no signal) KeyboardInterrupt."""
    import signal

    if exit_code > 128:
        raise Interrupted(
            exit_code - 128,
            f"experiment interrupted by {signal.Signals(exit_code - 128).name} in a run's "
            "training (its last.pt saved); run the same command again to resume",
        )
    raise KeyboardInterrupt


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
        recorded in the run's ``stages.json``. A finished run is skipped, a finished training
        (``train/summary.json`` status in :data:`FINISHED_TRAINING`, with ``best.pt``) is
        only evaluated; a run folder made with another config is refused (delete it to
        rerun).
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
            trained = _finished_training(run_dir / "train")
            if trained is not None and checkpoint.is_file():
                say(f"{spec.name}: training finished before ({trained}); evaluating")
                info["train_status"] = trained
            else:
                result = train(spec.config, cache, run_dir / "train", resume=True,
                               device=device, log=say)  # fmt: skip
                info["train_status"] = result.status
                if result.status == "interrupted":
                    _raise_interrupted(result.exit_code)
        except NonFiniteLossError as err:
            info.update(diverged=True, train_status="diverged", diverged_reason=str(err))
            if not checkpoint.is_file():
                raise
            say(f"{spec.name}: diverged ({err}); evaluating the last good best.pt")
        evaluate(checkpoint, cache, run_dir / "eval", split=split, device=device,
                 reuse_probs=True, log=say)  # fmt: skip
    except (KeyboardInterrupt, Interrupted):
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


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - no affinity on this OS
        return os.cpu_count() or 1


def trained_windows(run_dir: Path) -> int:
    """Windows trained by a run: the sum over ``train/metrics.jsonl`` of windows/s x seconds.

    Parameters
    ----------
    run_dir : Path
        ``OUT/runs/<name>``.

    Returns
    -------
    int
        0 when the run has no metrics (the feature baseline, a run that failed early).
    """
    path = run_dir / "train" / "metrics.jsonl"
    if not path.is_file():
        return 0
    total = 0.0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            rate, seconds = float(row["train_windows_per_s"]), float(row["train_s"])
        except (ValueError, KeyError, TypeError):
            continue
        if math.isfinite(rate) and math.isfinite(seconds):
            total += rate * seconds
    return round(total)


def run_in_process(
    spec: RunSpec, cache: str, out: str, split: str, device: str, threads: int
) -> RunOutcome:
    """Run :func:`run_one` in a worker process of ``--parallel`` (see the module docstring).

    Parameters
    ----------
    spec : RunSpec
        The run.
    cache, out : str
        The cache and the experiment's output folder.
    split, device : str
        As for :func:`run_one`.
    threads : int
        ``torch.set_num_threads`` for this process (the run's ``train.cpu_threads``, when
        set, is applied by the training itself and wins).

    Returns
    -------
    RunOutcome
        An interrupted run comes back as ``failed`` with reason ``interrupted``.
    """
    import torch

    torch.set_num_threads(max(1, threads))
    log_path = run_dir_of(out, spec.name) / "experiment.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log_file:

        def say(message: str) -> None:
            log_file.write(message + "\n")
            log_file.flush()

        say(f"{spec.name}: process {os.getpid()}, {torch.get_num_threads()} CPU thread(s)")
        try:
            return run_one(spec, cache, out, split=split, device=device, log=say)
        except (KeyboardInterrupt, Interrupted):  # recorded as interrupted by run_one
            return RunOutcome(spec.name, "failed", "interrupted; run again to resume")


class _Progress:
    """Progress figures of one invocation: throughput and the projected wall time."""

    def __init__(self, out: Path, selected: int, grid_runs: int, cells: int, parallel: int):
        self.out = out
        self.selected = selected
        self.grid_runs = grid_runs
        self.cells = cells
        self.parallel = parallel
        self.t0 = time.perf_counter()
        self.windows = 0
        self.seconds: list[float] = []

    def finished(self, outcome: RunOutcome) -> None:
        if outcome.status == "finished":
            self.windows += trained_windows(run_dir_of(self.out, outcome.name))
            self.seconds.append(outcome.seconds)

    def line(self, done: int) -> str:
        """``elapsed; windows/s; projection`` after ``done`` of the selected runs ended."""
        elapsed = time.perf_counter() - self.t0
        parts = [f"{done}/{self.selected} done, {elapsed:.0f} s elapsed"]
        if self.windows and elapsed > 0:
            parts.append(f"{self.windows / elapsed:,.0f} windows/s trained over all runs")
        if self.seconds:
            mean = sum(self.seconds) / len(self.seconds)
            left = max(0, self.selected - done)
            parts.append(
                f"projection: these runs ~{_duration(elapsed + left * mean / self.parallel)}, "
                f"the whole grid ({self.cells} cells, {self.grid_runs} runs) "
                f"~{_duration(self.grid_runs * mean / self.parallel)} at {self.parallel} at "
                f"once (mean {mean:.0f} s a run over {len(self.seconds)})"
            )
        return "; ".join(parts)


def _duration(seconds: float) -> str:
    """``42 s``, ``12.5 min`` or ``3.2 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class _RunProcess:
    """One run in a process of its own: a :func:`process_pool` of one worker.

    ``function(*args)`` runs there (:func:`run_in_process` for a run of the grid).
    """

    def __init__(
        self, spec: RunSpec, context: Any, args: tuple, function: Callable[..., Any]
    ) -> None:
        self.spec = spec
        self._pool = process_pool(1, context)
        executor = self._pool.__enter__()
        try:
            self.future = executor.submit(function, *args)
        except BaseException as err:
            self.close(err)
            raise

    def close(self, error: BaseException | None = None) -> None:
        """Shut the worker down: after its job, or at once (terminated) when ``error``."""
        if error is None:
            self._pool.__exit__(None, None, None)
        else:
            self._pool.__exit__(type(error), error, error.__traceback__)


def _outcome_of(process: _RunProcess, out: Path) -> RunOutcome:
    """Return the outcome of a run's process; a process that died is recorded as failed."""
    try:
        return process.future.result()
    except Exception as err:  # BrokenProcessPool: the process died (killed, out of memory)
        spec = process.spec
        reason = f"the run's process ended without a result ({type(err).__name__}: {err})"
        fingerprint = stage_fingerprint(to_dict(spec.config))
        StageStore(run_dir_of(out, spec.name)).fail(RUN_STAGE, fingerprint, reason=reason)
        return RunOutcome(spec.name, "failed", reason)


def _run_parallel(
    chosen: Sequence[RunSpec],
    cache: Path,
    out: Path,
    *,
    split: str,
    device: str,
    parallel: int,
    progress: _Progress,
    say: Callable[[str], None],
) -> list[RunOutcome]:
    """Run ``chosen``, up to ``parallel`` at once, each in its own process."""
    context = pool_context()
    threads = max(1, cpu_cores() // parallel)
    args = (str(cache), str(out), split, device, threads)
    say(
        f"{len(chosen)} runs, up to {parallel} at once on one device ({device}), "
        f"{threads} CPU thread(s) each; each run logs to OUT/runs/NAME/experiment.log"
    )
    pending = list(enumerate(chosen, 1))
    running: dict[concurrent.futures.Future, tuple[int, _RunProcess]] = {}
    outcomes: list[RunOutcome] = []

    def head(k: int, spec: RunSpec) -> str:
        return f"[{k}/{len(chosen)}] {spec.name}"

    then = "finished runs are kept; run the same command again to resume the others"
    with stop_on_signals("experiment", then):
        try:
            while pending or running:
                while pending and len(running) < parallel:
                    k, spec = pending.pop(0)
                    if is_finished(run_dir_of(out, spec.name)):
                        say(f"{head(k, spec)}: finished before, skipped")
                        outcomes.append(RunOutcome(spec.name, "skipped"))
                        continue
                    process = _RunProcess(spec, context, (spec, *args), run_in_process)
                    running[process.future] = (k, process)
                    flight = ", ".join(p.spec.name for _, p in running.values())
                    say(f"{head(k, spec)}: started; in flight: {flight}")
                if not running:
                    continue
                done, _ = concurrent.futures.wait(
                    list(running), timeout=1.0, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    k, process = running.pop(future)
                    outcome = _outcome_of(process, out)
                    process.close()
                    outcomes.append(outcome)
                    progress.finished(outcome)
                    flight = ", ".join(p.spec.name for _, p in running.values()) or "none"
                    if outcome.status == "failed":
                        say(f"{head(k, process.spec)}: FAILED ({outcome.reason})")
                    else:
                        say(f"{head(k, process.spec)}: {outcome.status} in {outcome.seconds:.1f} s")
                    say(f"      {progress.line(len(outcomes))}; in flight: {flight}")
        except BaseException as err:
            for _, process in running.values():
                process.close(err)
            raise
    return outcomes


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
    parallel: int = 1,
    log: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Run the selected runs of a grid, then rebuild the results table.

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
    parallel : int
        Runs at once, each in its own process on the same device (see the module
        docstring); 1 runs them one after the other in this process.
    log : callable, optional
        Receives progress lines (default: this module's logger, INFO).

    Returns
    -------
    ExperimentResult

    Raises
    ------
    GridError
        ``parallel < 1``, or see :func:`expand_grid` and :func:`select_runs`.
    Interrupted
        SIGINT or SIGTERM (exit status 130 or 143): with ``parallel > 1`` every run's
        process is ended; with ``parallel=1`` the run in progress is recorded as interrupted
        (in its training, after the training saved ``last.pt``). The next invocation
        resumes it; a finished training is not redone.
    """
    from seizure.preprocessing.cache import Cache  # numpy: not needed to read a grid

    if parallel < 1:
        raise GridError(f"--parallel {parallel}: expected a whole number >= 1")

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
    cells = len(dict.fromkeys(r.cell for r in runs))
    progress = _Progress(out, len(chosen), len(runs), cells, parallel)
    if not collect_only and parallel > 1:
        result.outcomes = _run_parallel(
            chosen,
            Path(cache),
            out,
            split=grid.split,
            device=device,
            parallel=parallel,
            progress=progress,
            say=say,
        )
    elif not collect_only:
        t_start = time.perf_counter()
        then = "run the same command again to resume (a finished training is not redone)"
        with stop_on_signals("experiment", then):
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
                progress.finished(outcome)
                elapsed = time.perf_counter() - t_start
                if outcome.status == "failed":
                    say(f"{head}: FAILED ({outcome.reason}); {elapsed:.0f} s elapsed")
                elif outcome.status == "finished":
                    say(f"{head}: done in {outcome.seconds:.1f} s; {progress.line(k)}")
    # with --index each array task rebuilds the table from what is on disk (atomic writes);
    # the table of the whole grid is complete after the last task or `--collect`
    result.rows = collect_results(runs, out, stall_margin=grid.stall_margin)
    write_results(result.rows, out, grid)
    plot_validation_curves(runs, out, axis=grid.plot_axis, metric=grid.plot_metric)
    return result
