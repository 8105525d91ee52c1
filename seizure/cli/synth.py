"""``seizure synth``: write a synthetic TUSZ-like corpus with known seizures."""

from __future__ import annotations

from pathlib import Path

import click

from seizure.cli.common import config_options, resolve_config, verbosity_options


@click.command(name="synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--hours",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Total hours of EEG to write (default: synth.hours, 2).",
)
@click.option(
    "--patients",
    type=click.IntRange(min=1),
    default=None,
    help="Number of patients, split across train/dev/eval (default: synth.patients, 10).",
)
@click.option("--seed", type=int, default=None, help="Corpus seed (default: the config's, 0).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; the files do not depend on it.",
)
@config_options
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar over hours written (default: when standard error is a terminal).",
)
@verbosity_options
def command(
    out: Path,
    hours: float | None,
    patients: int | None,
    seed: int | None,
    jobs: int,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    progress: bool | None,
) -> None:
    """Write a synthetic corpus laid out like TUSZ v2 into OUT.

    OUT/edf/{train,dev,eval}/<patient>/<session>/01_tcp_ar/ receives one EDF per recording
    with its .csv (per-channel seizure types) and .csv_bi (term-level seiz/bckg) beside it;
    OUT/README.md says how the corpus was made and OUT/config.yaml holds the options.
    Re-running the same command skips recordings already complete.

    Make the task harder or easier with --set synth.seizure_snr=0.5,
    synth.artifact_rate=2, synth.mimic_rate=2, synth.ictal_fraction=0.02 (see the
    shipped configs synth/easy and synth/hard).

    Example: seizure synth corpus --hours 2 --patients 10 --seed 0 --jobs 2
    """
    extra = list(overrides)
    if hours is not None:
        extra.append(f"synth.hours={hours!r}")
    if patients is not None:
        extra.append(f"synth.patients={patients}")
    if seed is not None:
        extra.append(f"seed={seed}")
    config = resolve_config(config_files, extra)

    from seizure.synth.corpus import synthesize

    try:
        result = synthesize(out, config.synth, seed=config.seed, jobs=jobs, progress=progress)
    except FileExistsError as err:
        raise click.ClickException(str(err)) from None
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    n_sz = sum(len(r.seizures) for r in result.recordings)
    pct = 100.0 * result.ictal_seconds / result.total_seconds
    click.echo(
        f"{out}: {len(result.recordings)} recordings ({result.written} written, "
        f"{result.skipped} already complete), {result.total_seconds / 3600:.2f} h, "
        f"{config.synth.patients} patients, {n_sz} seizures, {pct:.1f}% ictal"
    )
