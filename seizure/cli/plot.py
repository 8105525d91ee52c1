"""``seizure plot``: a stretch of a recording with its seizures and probabilities, as PNG/SVG."""

from __future__ import annotations

from pathlib import Path

import click

from seizure.cli.common import (
    config_options,
    device_option,
    label_map_option,
    verbosity_options,
)


@click.command("plot")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--record",
    "recording_id",
    help="Recording id in the cache SOURCE (see 'seizure info'); required for a cache.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Image to write: .png or .svg.",
)
@click.option("--at", "at_s", type=float, default=0.0, show_default=True,
              help="Start of the stretch, seconds from the recording start.")  # fmt: skip
@click.option("--span", "span_s", type=float, default=30.0, show_default=True,
              help="Length of the stretch, seconds.")  # fmt: skip
@click.option("--ref", "ref_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Reference annotations (.csv_bi, .csv, .tse, .lbl, .tsv), shaded green; "
              "a cache record's own events by default.")  # fmt: skip
@click.option("--hyp", "hyp_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Detected events (as 'seizure detect' or 'evaluate' write them), "
              "shaded red.")  # fmt: skip
@click.option("--probs", "probs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Per-window probabilities (.npy, as evaluate writes in OUT/probs or detect "
              "with --save-probs), drawn under the traces.")  # fmt: skip
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Compute the probabilities with this checkpoint (and preprocess an EDF as "
              "it was trained).")  # fmt: skip
@label_map_option
@config_options
@device_option("the model runs (with --checkpoint)", indexed=True)
@verbosity_options
def command(
    source: Path,
    recording_id: str | None,
    out: Path,
    at_s: float,
    span_s: float,
    ref_file: Path | None,
    hyp_file: Path | None,
    probs_file: Path | None,
    checkpoint: Path | None,
    label_map: dict[str, str],
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    device: str,
) -> None:
    """Plot SOURCE from --at for --span seconds into --out (PNG or SVG).

    SOURCE is an EDF/BDF recording or a cache folder (with --record ID). The traces are the
    montage signals as the model sees them: a cache's windows laid end to end, or an EDF
    preprocessed with the preprocess section of --config (or of --checkpoint): montage,
    resampling, band-pass and notch. Reference seizures are shaded green, detected ones
    red; the per-window probability (--probs FILE.npy, or computed with --checkpoint) is
    drawn underneath with the threshold. The time axis is seconds from the recording start.
    Only the stretch is read from an EDF, with a few seconds on each side for the filters to
    settle, so a minute of a day-long recording draws as fast as a minute-long file.
    --ref/--hyp labels beyond the usual ones (an mne-bids trial_type, EDF+ texts) are read
    through --label-map and preprocess.label_map.

    Exit status: 0 when the image was written, 1 when an input cannot be read, 2 for usage
    errors (a --at outside the recording, an unknown record, an unsupported suffix).
    """
    from seizure.evaluation.plot import plot_source

    path = plot_source(
        source,
        out,
        recording_id=recording_id,
        at_s=at_s,
        span_s=span_s,
        ref_file=ref_file,
        hyp_file=hyp_file,
        probs_file=probs_file,
        checkpoint=checkpoint,
        config_files=config_files,
        overrides=overrides,
        device=device,
        label_map=label_map,
    )
    click.echo(f"wrote {path}")
