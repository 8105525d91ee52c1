"""``seizure detect``: detect seizures in new EDF recordings with a trained checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seizure.cli.common import (
    check_outside,
    config_options,
    device_option,
    json_option,
    json_summary,
    verbosity_options,
)


@click.command("detect")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
# exists=False: an input that cannot be read fails alone, the others are still processed
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the annotations (created): new, empty, or written by an earlier "
    "'seizure detect', whose outputs are then replaced.",
)
@config_options
@device_option("the model runs", indexed=True)
@click.option("--save-probs", is_flag=True, help="Also save per-window probabilities (.npy).")
@json_option(
    "outcome (ok, failed: some recording failed, or error), counts, the output paths and "
    "every recording's result as in OUT/detection.json. FILE may not be inside OUT."
)
@verbosity_options
def command(
    checkpoint: Path,
    inputs: tuple[Path, ...],
    out_dir: Path,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    device: str,
    save_probs: bool,
    json_file: Path | None,
) -> None:
    """Detect seizures in the EDF/BDF files INPUTS (files, or folders searched recursively).

    Each recording is preprocessed as the checkpoint's training cache was (montage,
    resampling, filters, windows: the preprocess section stored in CHECKPOINT), run through
    the model and post-processed with the evaluate section (--set evaluate.threshold=0.7,
    evaluate.min_event_seconds=..., ...). For each one, OUT gets <name>.csv_bi and SzCORE
    <name>.tsv, and one line is logged to standard error (with a progress bar over the
    recordings): seizure count and total duration, followed by the recording's warnings (a
    file shorter than its header says, clipped values, ...). Standard output gets one
    line at the end: how many recordings were processed, failed, or have warnings.
    OUT/detection.json lists every recording with its outcome, reason and warnings; it says
    "complete": true once the run has finished. OUT must be new, empty or the folder of an
    earlier 'seizure detect' (whose annotations are removed first, so that none is mistaken
    for this run's), and may not be or hold an input.

    Every input is processed: one that is missing or cannot be read (not an EDF, truncated
    header, missing channels, shorter than a window) is reported with its reason and the
    others are still processed. Exit status: 0 when every recording was processed (with
    or without warnings), 1 at the end when any failed (or when the checkpoint cannot be used,
    or another process is writing into OUT), 2 for usage and config errors and a refused OUT
    (it is or holds an input, holds other files, or cannot be created or written).
    """
    from seizure.evaluation.detect import detect

    check_outside(json_file, out_dir, "OUT")
    with json_summary(json_file, "detect") as summary:
        try:
            results = detect(
                checkpoint,
                inputs,
                out_dir,
                config_files=config_files,
                overrides=overrides,
                device=device,
                save_probs=save_probs,
            )
        except FileNotFoundError as err:
            raise click.ClickException(str(err)) from err
        failed = [r for r in results if not r.ok]
        warned = sum(1 for r in results if r.ok and r.warnings)
        done = len(results) - len(failed)
        summary.update(
            outcome="failed" if failed else "ok",
            exit_code=1 if failed else 0,
            recordings=len(results),
            processed=done,
            failed=len(failed),
            with_warnings=warned,
            seizures=sum(len(r.events) for r in results if r.ok),
            outputs={"out": str(out_dir), "detection_json": str(out_dir / "detection.json")},
            results=[r.as_dict() for r in results],
        )
    click.echo(
        f"{done} of {len(results)} recordings processed; annotations in {out_dir}"
        + (f"; {warned} with warnings (see above)" if warned else "")
        + (f"; {len(failed)} failed" if failed else "")
    )
    if failed:
        for r in failed:
            click.echo(f"failed: {r.path}: {r.error}", err=True)
        sys.exit(1)
