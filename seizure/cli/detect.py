"""``seizure detect``: detect seizures in new EDF recordings with a trained checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seizure.cli.common import config_options, device_option


@click.command("detect")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the annotations (created).",
)
@config_options
@device_option("the model runs", indexed=True)
@click.option("--save-probs", is_flag=True, help="Also save per-window probabilities (.npy).")
def command(
    checkpoint: Path,
    inputs: tuple[Path, ...],
    out_dir: Path,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    device: str,
    save_probs: bool,
) -> None:
    """Detect seizures in the EDF/BDF files INPUTS (files, or folders searched recursively).

    Each recording is preprocessed as the checkpoint's training cache was (montage,
    resampling, filters, windows: the preprocess section stored in CHECKPOINT), run through
    the model and post-processed with the evaluate section (--set evaluate.threshold=0.7,
    evaluate.min_event_seconds=..., ...). For each one, OUT gets <name>.csv_bi and SzCORE
    <name>.tsv, and one line is printed: seizure count and total duration.

    A recording that cannot be used is reported with its reason and the others are still
    processed. Exit status: 0 when every recording was processed, 1 when any failed (or the
    checkpoint cannot be used), 2 for usage and config errors.
    """
    from seizure.evaluation.detect import detect

    try:
        results = detect(
            checkpoint,
            inputs,
            out_dir,
            config_files=config_files,
            overrides=overrides,
            device=device,
            save_probs=save_probs,
            log=click.echo,
        )
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from err
    failed = [r for r in results if not r.ok]
    done = len(results) - len(failed)
    click.echo(
        f"{done} of {len(results)} recordings processed; annotations in {out_dir}"
        + (f"; {len(failed)} failed" if failed else "")
    )
    if failed:
        for r in failed:
            click.echo(f"failed: {r.path}: {r.error}", err=True)
        sys.exit(1)
