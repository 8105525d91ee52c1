"""``seizure info``: describe a cache written by ``seizure preprocess``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from seizure.cli.common import verbosity_options


def describe(cache_dir: Path) -> dict:
    """Everything ``seizure info --json`` prints, as a dict."""
    from seizure.preprocessing.cache import Cache

    cache = Cache(cache_dir)
    totals = cache.summary()
    return {
        "path": str(cache.path),
        "fingerprint": cache.fingerprint,
        "montage": cache.config.montage,
        "channels": list(cache.channels),
        "sample_rate_hz": cache.sample_rate_hz,
        "features": cache.config.features,
        "window_shape": list(cache.window_shape),
        "window_seconds": cache.window_seconds,
        "stride_seconds": cache.stride_seconds,
        "storage_dtype": cache.storage_dtype,
        "recordings": totals["recordings"],
        "hours": totals["hours"],
        "windows": totals["windows"],
        "patients": totals["patients"],
        "seizure_events": totals["seizure_events"],
        "seizure_seconds": totals["seizure_seconds"],
        "splits": totals["splits"],
        "channels_filled": [
            {"recording_id": r.recording_id, "channels": list(r.channels_filled)}
            for r in cache.records
            if r.channels_filled
        ],
        "warnings": [w for r in cache.records for w in r.warnings],
        "failed": cache.failed,
        "preprocess": cache.header["preprocess"],
    }


@click.command(name="info")
@click.argument("cache", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@verbosity_options
def command(cache: Path, as_json: bool) -> None:
    """Describe the cache directory CACHE: settings, recordings per split, failures."""
    info = describe(cache)
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    pre = info["preprocess"]
    band, notch = pre["bandpass_hz"], pre["notch_hz"]
    lines = [
        f"Cache {info['path']} (fingerprint {info['fingerprint']})",
        f"  montage      {info['montage']}: {len(info['channels'])} channels "
        f"({', '.join(info['channels'][:4])}, ...)",
        f"  signal       {info['sample_rate_hz']:g} Hz, band-pass "
        f"{'none' if band is None else f'{band[0]:g}-{band[1]:g} Hz'}, notch "
        f"{'none' if notch is None else f'{notch:g} Hz'}",
        f"  features     {info['features']}: windows of {info['window_seconds']:g} s every "
        f"{info['stride_seconds']:g} s, shape {tuple(info['window_shape'])}, stored as "
        f"{info['storage_dtype']}",
        f"  recordings   {info['recordings']} ({info['hours']:.3f} h, {info['windows']} windows, "
        f"{info['patients']} patients)",
        f"  seizures     {info['seizure_events']} events, {info['seizure_seconds']:.1f} s",
    ]
    for name, split in info["splits"].items():
        lines.append(
            f"  split {name:<6} {split['recordings']} recordings, {split['patients']} patients, "
            f"{split['hours']:.3f} h, {split['seizure_events']} seizure events"
        )
    if info["channels_filled"]:
        lines.append(
            f"  filled       {len(info['channels_filled'])} recordings with zero-filled channels"
        )
        for item in info["channels_filled"]:
            lines.append(f"    {item['recording_id']}: {', '.join(item['channels'])}")
    lines.append(f"  warnings     {len(info['warnings'])}")
    lines.append(f"  failed       {len(info['failed'])}")
    for failure in info["failed"]:
        lines.append(f"    {failure['path']}: {failure['reason']}")
    click.echo("\n".join(lines))
