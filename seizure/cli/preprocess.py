"""``seizure preprocess``: turn a corpus of EDF recordings into a cache."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from seizure.cli.common import config_options, resolve_config, verbosity_options


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int]:
    if value is None:
        return 0, 1
    from seizure.preprocessing.build import parse_shard

    try:
        return parse_shard(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx=ctx, param=param) from None


@click.command(name="preprocess")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("cache", type=click.Path(file_okay=False, path_type=Path))
@config_options
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (one recording each at a time).",
)
@click.option(
    "--shard",
    "shard",
    metavar="I/N",
    callback=_shard,
    help="Process only recordings k with k mod N == I (in recording-id order), so that N "
    "batch jobs can fill one cache together.",
)
@click.option(
    "--split-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV (patient,split) or YAML file assigning patients to train/dev/eval, overriding "
    "the splits of the corpus layout or of the patient hash.",
)
@click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit with status 0 even when some recordings failed (they are still recorded).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a seizure cache made with other preprocessing settings (its own files "
    "only; a folder that is not a seizure cache is never deleted), and reprocess recordings "
    "that are already cached.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when standard error is a terminal).",
)
@verbosity_options
def command(
    corpus: Path,
    cache: Path,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    jobs: int,
    shard: tuple[int, int],
    split_file: Path | None,
    allow_failures: bool,
    force: bool,
    progress: bool | None,
) -> None:
    """Preprocess the EDF recordings of CORPUS into the cache directory CACHE.

    Each recording is montaged, resampled, filtered and cut into windows (settings: the
    'preprocess' section of the config, e.g. --config preprocess/tcp_lfcc or
    --set preprocess.montage=double_banana). Recordings already cached from the same file
    with the same settings are skipped, so an interrupted run can simply be started again.
    A cache made with other settings is refused (use a new directory, or --force to replace
    it; --force never deletes a folder that is not a seizure cache, nor the corpus). A
    recording is reprocessed when its EDF, its annotation file, its path or its split changed,
    and recordings the corpus no longer lists are removed from the cache.

    Recordings that cannot be processed are recorded with the reason in CACHE/failures.json.
    Exit status: 0 on success; 1 when any recording failed in this run (unless
    --allow-failures) or another process is writing into CACHE; 2 for usage and config errors
    and a refused CACHE (it is or holds the corpus, is not a seizure cache, was made with
    other settings without --force, or cannot be created or written); 130 (SIGINT) or 143
    (SIGTERM) when interrupted: the workers are stopped and a rerun continues.
    """
    config = resolve_config(config_files, overrides)
    from seizure.preprocessing.build import build_cache

    pre = config.preprocess
    # every SeizureError (a cache or corpus refused, a bad setting) is reported by the group
    summary = build_cache(
        corpus,
        cache,
        pre,
        jobs=jobs,
        shard_index=shard[0],
        shard_count=shard[1],
        force=force,
        progress=progress,
        split_file=split_file,
    )

    manifest = summary.manifest
    totals = manifest["totals"]
    done, skipped, failures = summary.count("done"), summary.count("skipped"), summary.failures
    hours = sum(r.duration_s for r in summary.results if r.status == "done") / 3600
    where = "" if shard[1] == 1 else f" (shard {shard[0]}/{shard[1]})"
    click.echo(
        f"Cache {cache}: {pre.montage} ({len(manifest['channels'])} channels), "
        f"{pre.sample_rate_hz:g} Hz, {pre.features} windows of {pre.window_seconds:g} s every "
        f"{pre.stride_seconds:g} s, shape {tuple(manifest['window_shape'])}, fingerprint "
        f"{manifest['fingerprint']}"
    )
    click.echo(
        f"This run{where}: {done} processed ({hours:.3f} h), {skipped} already cached, "
        f"{len(failures)} failed, in {summary.seconds:.1f} s"
    )
    click.echo(
        f"Cache now holds {totals['recordings']} recordings ({totals['hours']:.3f} h, "
        f"{totals['seizure_events']} seizure events), {totals['failed']} failed, "
        f"{totals['warnings']} warnings; see 'seizure info {cache}'"
    )
    if summary.removed:
        click.echo(
            f"Removed {len(summary.removed)} recording(s) the corpus no longer lists: "
            + ", ".join(summary.removed[:10])
            + (" ..." if len(summary.removed) > 10 else "")
        )
    for failure in failures:
        click.echo(f"FAILED {failure.path}: {failure.reason}", err=True)
    if failures and not allow_failures:
        click.echo(
            f"{len(failures)} recording(s) failed (reasons in {cache / 'failures.json'}); "
            "pass --allow-failures to exit with status 0 anyway",
            err=True,
        )
        sys.exit(1)
