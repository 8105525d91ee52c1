"""``seizure demo``: synthesize, preprocess, train and evaluate a small demo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seizure.cli.common import config_options, device_option, verbosity_options


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("seizure-demo"),
    show_default=True,
    help="Output folder (corpus/, cache/, run/, eval/); re-running reuses what it holds.",
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Hours of synthetic EEG (default: the demo config's synth.hours, 10).",
)
@device_option("to train and run the model")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for synthesis and preprocessing (default: the usable CPUs).",
)
@config_options
@verbosity_options
def command(
    out: Path,
    hours: float | None,
    device: str,
    jobs: int | None,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
) -> None:
    """Run the whole pipeline on a small synthetic corpus and score it on held-out patients.

    Four stages, each shown as [k/4] with its elapsed time: synthesize a TUSZ-like corpus
    (OUT/corpus), preprocess it into a window cache (OUT/cache), train a CNN/LSTM on the
    train split (OUT/run) and evaluate it on the patients of the eval split (OUT/eval). It
    prints the OVLP and TAES sensitivity and false alarms per 24 hours, and the paths of
    report.md (with the missed seizures and false alarms), curve.png and scores.json.

    About five minutes on two CPU cores; a GPU is used when there is one. Running it again
    skips the stages that are complete; after --set changes only the affected stages are
    redone (e.g. --set train.epochs=12 continues training, --set evaluate.threshold=0.7
    only rescores). --config files are merged over the demo's defaults (the shipped config 'demo').

    Exit status: 0 on success, 1 when a stage fails, 2 for usage and config errors, 130 or
    143 when training is interrupted (run again to resume).
    """
    from seizure.pipelines.demo import DemoInterrupted, demo_config, run_demo

    config = demo_config(config_files, overrides, hours=hours)

    try:
        result = run_demo(out, config, device=device, jobs=jobs)
    except DemoInterrupted as err:
        click.echo(str(err), err=True)
        sys.exit(err.exit_code)
    except FileExistsError as err:  # every SeizureError is reported by the command group
        raise click.ClickException(str(err)) from err
    for line in result.summary_lines():
        click.echo(line)
