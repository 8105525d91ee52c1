"""``seizure experiment``: run a grid of training runs and collect the paper's results table."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seizure.cli.common import ConfigFile, config_options, device_option, verbosity_options


@click.command("experiment")
@click.argument("grid", metavar="CONFIG", type=ConfigFile())
@click.argument(
    "cache", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.argument("out", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--quick",
    is_flag=True,
    help="Apply the grid's quick settings: a tiny model, few epochs, fewer seeds and a subset "
    "of the cells (the paper grid: the baseline, the reference and five representative cells, "
    "2 seeds each, one epoch; 9 min on the demo corpus on 2 shared CPU cores).",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="K",
    help="Train K runs at once, each in its own process, all on the same device (on a CPU "
    "each gets cores // K threads). A failed run does not stop the others; progress lines "
    "name the runs in flight, the aggregate windows/s and a projection of the whole grid's "
    "wall time.",
)
@click.option(
    "--only",
    multiple=True,
    metavar="NAME",
    help="Run only these runs: names or shell patterns, e.g. --only 'init-*__cell-gru' "
    "(repeatable, or comma-separated).",
)
@click.option(
    "--index",
    type=click.IntRange(min=0),
    default=None,
    help="Run only the run at this position of the (--only filtered) list, e.g. "
    "$SLURM_ARRAY_TASK_ID (see scripts/slurm_experiment.sh).",
)
@click.option("--list", "list_runs", is_flag=True, help="Print the index and name of each run.")
@click.option(
    "--collect",
    is_flag=True,
    help="Run nothing; rebuild results.md, results.csv and validation_curves.png from OUT.",
)
@device_option("to train and evaluate")
@config_options
@verbosity_options
def command(
    grid: str,
    cache: Path | None,
    out: Path | None,
    quick: bool,
    only: tuple[str, ...],
    index: int | None,
    list_runs: bool,
    collect: bool,
    parallel: int,
    device: str,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
) -> None:
    """Train and evaluate every run of the grid CONFIG on CACHE, into OUT.

    CONFIG (a file, or a shipped grid by name: experiments/paper, or the same as
    configs/experiments/paper.yaml) holds a base config, named axes of
    --set-style overrides that are crossed (run names like init-he_normal__cell-gru) and
    extra named runs. Each run trains on the train split of CACHE (validating on dev) into
    OUT/runs/NAME/train and is evaluated on the eval split into OUT/runs/NAME/eval. Runs go
    one after the other, or K at once with --parallel K (each in its own process, logging to
    OUT/runs/NAME/experiment.log); a finished run (recorded in OUT/runs/NAME/stages.json) is
    skipped, so the command can simply be started again (also after Ctrl-C). A failed run is
    recorded with its reason and the others go on.

    At the end OUT/results.md and OUT/results.csv hold one row per run (OVLP and TAES
    sensitivity, specificity and FA/24h; whether training diverged or stalled), results.md
    also one row per cell with mean +- sd over its seeds (runs NAME__seed-N), and
    OUT/validation_curves.png the validation curves per initializer. --config and --set
    apply to every run, after the grid's settings.

    Exit status: 0 when every selected run is finished, 1 when one failed, 2 for usage and
    grid errors.
    """
    from seizure.pipelines.experiment import expand_grid, load_grid, run_experiment, select_runs

    parsed = load_grid(grid)
    if list_runs:
        every = expand_grid(parsed, quick=quick, overrides=overrides, config_files=config_files)
        runs = select_runs(every, only)
        for run in runs:
            click.echo(f"{run.index if not only else runs.index(run)}\t{run.name}")
        return
    if cache is None or out is None:
        raise click.UsageError("CACHE and OUT are required (except with --list)")

    result = run_experiment(
        parsed,
        cache,
        out,
        quick=quick,
        only=only,
        index=index,
        overrides=overrides,
        config_files=config_files,
        device=device,
        collect_only=collect,
        parallel=parallel,
    )
    rows = result.rows
    done = sum(1 for r in rows if r["status"] == "finished")
    click.echo(
        f"{done} of {len(rows)} runs finished; results: {out / 'results.md'}, "
        f"{out / 'results.csv'}, {out / 'validation_curves.png'}"
    )
    if result.failed:
        click.echo(
            f"{len(result.failed)} run(s) failed: "
            + ", ".join(f"{o.name} ({o.reason})" for o in result.failed),
            err=True,
        )
        sys.exit(1)
