"""The ``seizure`` command: a thin click group over the library.

Subcommands live one per module in this package and are imported only when used, so
``seizure --help`` answers without importing numpy, scipy or torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os

import click

from seizure import __version__
from seizure.utils.errors import SeizureError
from seizure.utils.log import configure_logging

# name -> (module, one-line help shown by ``seizure --help`` without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("seizure.cli.demo", "Synthesize, preprocess, train and evaluate a small demo."),
    "synth": ("seizure.cli.synth", "Write a synthetic TUSZ-like corpus with known seizures."),
    "preprocess": ("seizure.cli.preprocess", "Turn a corpus of EDF recordings into a cache."),
    "info": ("seizure.cli.info", "Describe a cache written by 'seizure preprocess'."),
    "train": ("seizure.cli.train", "Train a detector on a cache."),
    "evaluate": ("seizure.cli.evaluate", "Run a checkpoint over a split and score it."),
    "detect": ("seizure.cli.detect", "Detect seizures in new EDF recordings."),
    "score": ("seizure.cli.score", "Score hypothesis annotations against references."),
    "plot": ("seizure.cli.plot", "Draw a stretch of a recording with its seizures (PNG/SVG)."),
    "timescale": ("seizure.cli.timescale", "Report a model's memory timescales."),
    "experiment": ("seizure.cli.experiment", "Run a grid of training runs (the paper's tables)."),
}


def _quiet_idle_blas_threads() -> None:
    """Let OpenBLAS's idle threads sleep instead of spinning.

    OpenBLAS keeps idle threads spinning for about 0.1 s after each matrix product, so a
    preprocessing or synthesis run that multiplies every few ms burns a second core for
    nothing. Letting them sleep changes no result. Must happen before numpy is imported; an
    explicit setting by the user wins.
    """
    from seizure.utils.pool import WORKER_ENVIRONMENT

    for name, value in WORKER_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class CommandError(click.ClickException):
    """A :class:`~seizure.utils.errors.SeizureError` as click shows it.

    One ``Error: ...`` line on stderr, and the error's ``exit_code`` as the exit status.
    """

    def __init__(self, error: SeizureError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use.

    A :class:`~seizure.utils.errors.SeizureError` that ends a subcommand is reported here, for
    every command: ``Error: <message>`` and exit status ``exit_code`` (2 for a usage error such
    as a bad config value, 1 for a run that failed).
    """

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a SeizureError becomes one ``Error:`` line and its exit status."""
        try:
            return super().invoke(ctx)
        except SeizureError as err:
            raise CommandError(err) from err

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the names of the commands whose modules are installed."""
        return [name for name, (module, _) in COMMANDS.items() if _available(module)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command ``cmd_name`` (None when unknown)."""
        if cmd_name not in COMMANDS or not _available(COMMANDS[cmd_name][0]):
            return None
        _quiet_idle_blas_threads()
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the command list from the short help in ``COMMANDS`` (no command imported)."""
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(
    name="seizure", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="seizure")
@click.option("-v", "--verbose", is_flag=True, help="Also debug detail (the time each stage took).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Only warnings, errors and results: no notes, no progress bars.",
)
def main(verbose: bool, quiet: bool) -> None:
    """EEG seizure detection: preprocess, train, and score detectors.

    Preprocess EDF corpora, train CNN/RNN detectors, and score them as sensitivity against
    false alarms per 24 hours (NEDC and SzCORE rules).

    Start with 'seizure demo' to see the whole pipeline run on a synthetic corpus.

    --config takes a YAML file or the name of a config shipped with the package, looked up
    in every section or given with its section: --config tcp_lfcc, --config train/h100 or
    --config configs/train/h100.yaml. A wrong name lists them all.

    Results a command exists to print go to standard output; notes, progress lines and
    bars go to standard error through Python's logging (the 'seizure' loggers). -q keeps only
    warnings, errors and results; -v adds debug lines (the time each stage took). Both may
    also be given after the command name (seizure detect -q ...), which wins.
    detect, train and evaluate write a JSON summary with --json FILE.
    """
    if verbose and quiet:
        raise click.UsageError("-v/--verbose and -q/--quiet exclude each other")
    configure_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
