"""``seizure train``: train a detector on a cache."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from seizure.cli.common import (
    check_outside,
    config_options,
    device_option,
    json_option,
    json_summary,
    resolve_config,
    verbosity_options,
)

if TYPE_CHECKING:
    from seizure.config import Config


@click.command("train")
@click.argument("cache", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@config_options
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in RUN_DIR from its last.pt (starts fresh if RUN_DIR is empty).",
)
@device_option("to train")
@json_option(
    "outcome (completed, early_stopped, max_steps, interrupted or error), exit status, "
    "epochs, steps, the best metric and epoch, the last epoch's row of metrics.jsonl, the "
    "output paths and the object of RUN_DIR/summary.json (as 'summary'). FILE may not be "
    "inside RUN_DIR. Written by rank 0 under torchrun."
)
@verbosity_options
def command(
    cache: Path,
    run_dir: Path,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    resume: bool,
    device: str,
    json_file: Path | None,
) -> None:
    """Train a detector on the train split of CACHE, validating on dev after every epoch.

    Writes into RUN_DIR: config.yaml (the resolved config), environment.json (seed and
    library versions), metrics.jsonl (one line per epoch), last.pt and best.pt (checkpoints,
    best by train.early_stopping_metric) and summary.json. RUN_DIR must be empty unless
    --resume is given. The cache must have been made with the config's preprocess section.

    Under torchrun (torchrun --nproc_per_node N -m seizure train ...) each process trains
    on its shard of every batch and validates its share of the dev split; rank 0 writes
    the files. Several nodes: see scripts/slurm_train.sh.

    Exit status: 0 when training finished (all epochs, early stopping or train.max_steps);
    130 (SIGINT) or 143 (SIGTERM) when interrupted after saving last.pt (resume with
    --resume); 1 when the cache, a checkpoint or the loss (NaN) stops the run, or another
    process is writing into RUN_DIR; 2 for usage and config errors and a refused RUN_DIR (it
    is or holds the cache, is not empty without --resume, or cannot be created or written).
    """
    from seizure.config import ConfigError
    from seizure.inference.device import DeviceError
    from seizure.training.errors import RunDirError
    from seizure.training.loop import train
    from seizure.utils.errors import SeizureError, UsageError

    check_outside(json_file, run_dir, "RUN_DIR")
    with json_summary(json_file if _is_rank_zero() else None, "train") as summary:
        config = _config(run_dir, config_files, overrides, resume)
        try:
            result = train(config, cache, run_dir, resume=resume, device=device)
        except (RunDirError, DeviceError, ConfigError, UsageError) as err:
            raise click.UsageError(str(err)) from err
        except (SeizureError, ValueError) as err:
            # checkpoint, cache and data errors, a non-finite loss: exit status 1
            raise click.ClickException(str(err)) from err
        summary.update(
            outcome=result.status,
            exit_code=result.exit_code,
            epochs_completed=result.epochs_completed,
            step=result.step,
            best_metric=result.best_metric,
            best_value=result.best_value,
            best_epoch=result.best_epoch,
            last_epoch=result.history[-1] if result.history else None,
            outputs={
                name: str(run_dir / name)
                for name in (
                    "best.pt",
                    "last.pt",
                    "summary.json",
                    "metrics.jsonl",
                    "config.yaml",
                    "environment.json",
                )
            },  # fmt: skip
        )
        if (run_dir / "summary.json").is_file():
            summary["summary"] = json.loads((run_dir / "summary.json").read_text())
    if result.status != "interrupted" and result.rank == 0:
        click.echo(
            f"{result.status}: {result.epochs_completed} epoch(s), {result.step} steps; best "
            f"{result.best_metric} = {result.best_value} at epoch {result.best_epoch}; "
            f"outputs in {run_dir}",
            err=True,
        )
    if result.exit_code:
        sys.exit(result.exit_code)


def _config(
    run_dir: Path, config_files: tuple[str, ...], overrides: tuple[str, ...], resume: bool
) -> Config:
    """Load the run's config; with ``resume`` the one stored in RUN_DIR/last.pt is the base."""
    from seizure.config import ConfigError
    from seizure.training.checkpoint import CheckpointError
    from seizure.training.rundir import resume_config

    if not resume:
        return resolve_config(config_files, overrides)
    # --config/--set may change resumable keys
    try:
        return resume_config(run_dir, config_files, overrides)
    except ConfigError as err:
        raise click.UsageError(str(err)) from err
    except CheckpointError as err:
        raise click.ClickException(str(err)) from err


def _is_rank_zero() -> bool:
    """Whether this process is rank 0 (or not under torchrun): the one that writes --json."""
    return os.environ.get("RANK", "0") == "0"
