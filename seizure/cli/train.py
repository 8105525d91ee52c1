"""``seizure train``: train a detector on a cache."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seizure.cli.common import config_options, device_option, resolve_config


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
def command(
    cache: Path,
    run_dir: Path,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    resume: bool,
    device: str,
) -> None:
    """Train a detector on the train split of CACHE, validating on dev after every epoch.

    Writes into RUN_DIR: config.yaml (the resolved config), environment.json (seed and
    library versions), metrics.jsonl (one line per epoch), last.pt and best.pt (checkpoints,
    best by train.early_stopping_metric) and summary.json. RUN_DIR must be empty unless
    --resume is given. The cache must have been made with the config's preprocess section.

    Under torchrun (torchrun --nproc_per_node N -m seizure train ...) each process trains
    on its shard of every batch; rank 0 validates and writes the files.

    Exit status: 0 when training finished (all epochs, early stopping or train.max_steps);
    130 (SIGINT) or 143 (SIGTERM) when interrupted after saving last.pt (resume with
    --resume); 1 when the cache, a checkpoint or the loss (NaN) stops the run, or another
    process is writing into RUN_DIR; 2 for usage and config errors and a refused RUN_DIR (it
    is or holds the cache, is not empty without --resume, or cannot be created or written).
    """
    from seizure.config import ConfigError
    from seizure.inference.device import DeviceError
    from seizure.training.checkpoint import CheckpointError
    from seizure.training.errors import RunDirError
    from seizure.training.loop import train
    from seizure.training.rundir import resume_config
    from seizure.utils.errors import SeizureError, UsageError

    if resume:
        # the config stored in last.pt is the base; --config/--set may change resumable keys
        try:
            config = resume_config(run_dir, config_files, overrides)
        except ConfigError as err:
            raise click.UsageError(str(err)) from err
        except CheckpointError as err:
            raise click.ClickException(str(err)) from err
    else:
        config = resolve_config(config_files, overrides)

    try:
        result = train(config, cache, run_dir, resume=resume, device=device)
    except (RunDirError, DeviceError, ConfigError, UsageError) as err:
        raise click.UsageError(str(err)) from err
    except (SeizureError, ValueError) as err:
        # checkpoint, cache and data errors, a non-finite loss: exit status 1
        raise click.ClickException(str(err)) from err
    if result.status != "interrupted" and result.rank == 0:
        click.echo(
            f"{result.status}: {result.epochs_completed} epoch(s), {result.step} steps; best "
            f"{result.best_metric} = {result.best_value} at epoch {result.best_epoch}; "
            f"outputs in {run_dir}",
            err=True,
        )
    if result.exit_code:
        sys.exit(result.exit_code)
