"""``seizure evaluate``: run a checkpoint over a split of a cache, sweep, score and report."""

from __future__ import annotations

import json
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


@click.command("evaluate")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("cache", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", default="eval", show_default=True, help="Split of the cache to evaluate.")
@config_options
@device_option("the model runs", indexed=True)
@click.option(
    "--reuse-probs",
    is_flag=True,
    help="Reuse OUT/probs when it was written for this checkpoint and cache: only "
    "post-processing and scoring run (e.g. after --set evaluate.smoothing_windows=5).",
)
@json_option(
    "outcome, threshold, sensitivity and FA/24h per method, the output paths, and the "
    'objects of OUT/evaluation.json and OUT/scores.json (as "evaluation" and "scores"). '
    "FILE may not be inside OUT."
)
@verbosity_options
def command(
    checkpoint: Path,
    cache: Path,
    out: Path,
    split: str,
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    device: str,
    reuse_probs: bool,
    json_file: Path | None,
) -> None:
    """Evaluate CHECKPOINT on one split of CACHE and write the results into OUT.

    The model runs over every recording of the split (batched and streaming; bf16 on CUDA),
    its per-window probabilities are saved in OUT/probs/, post-processed into events with
    the evaluate section of the config (threshold, smoothing, gap merging, minimum
    duration; change it with --config evaluate/... or --set evaluate.key=value)
    and scored against the cache's reference events with every method (NEDC OVLP, TAES,
    EPOCH, DPALIGN; SzCORE event and sample).

    Writes: hyp/<id>.csv_bi and hyp/<id>.tsv (SzCORE) per recording, ref/<id>.csv_bi (the
    references, so that 'seizure score OUT/ref OUT/hyp' reproduces the figures),
    curve.csv and curve.png (sensitivity against false alarms per 24 h over a threshold
    sweep, for OVLP, TAES and SzCORE event, with the operating points at the false-alarm
    budgets evaluate.fa_budgets_per_24h), scores.json (as 'seizure score --json', at the
    chosen threshold), evaluation.json, report.md (tables, plot, missed seizures and false
    alarms, config) and config.yaml, then evaluation.json last ("complete": true).

    OUT describes one run: it must be new, empty or an earlier evaluation folder, and may
    not be or hold the checkpoint or the cache. It is locked while the run writes, and the
    earlier run's outputs are removed first (probs/ is kept with --reuse-probs when it
    matches the checkpoint's sha256, the cache and the split), so a killed run leaves
    evaluation.json saying "complete": false, never old files beside new ones.

    The cache must have been made with the checkpoint's preprocessing (its fingerprint is
    checked). Exit status: 0 on success, 1 when the checkpoint (e.g. non-finite weights),
    cache or device cannot be used or another process is writing into OUT, 2 for usage and
    config errors and a refused OUT (it is or holds an input, holds other files, or cannot
    be created or written).
    """
    from seizure.evaluation.evaluate import evaluate

    check_outside(json_file, out, "OUT")
    with json_summary(json_file, "evaluate") as summary:
        result = evaluate(
            checkpoint,
            cache,
            out,
            split=split,
            config_files=config_files,
            overrides=overrides,
            device=device,
            reuse_probs=reuse_probs,
        )
        scores = json.loads((out / "scores.json").read_text())
        summary.update(
            outcome="ok",
            exit_code=0,
            recordings=result.n_recordings,
            windows=result.n_windows,
            threshold=result.threshold,
            figures={
                key: {
                    "sensitivity": scores[key].get("sensitivity"),
                    "false_alarms_per_24h": scores[key].get("false_alarms_per_24h"),
                }
                for key in scores
                if isinstance(scores[key], dict) and "sensitivity" in scores[key]
            },
            outputs={
                name: str(out / name)
                for name in (
                    "evaluation.json",
                    "scores.json",
                    "report.md",
                    "curve.csv",
                    "curve.png",
                    "hyp",
                    "ref",
                    "probs",
                )
            },  # fmt: skip
            evaluation=json.loads((out / "evaluation.json").read_text()),
            scores=scores,
        )
    s = result.scores
    click.echo(
        f"{result.n_recordings} recordings, threshold {result.threshold:g}: "
        + ", ".join(
            f"{name} {_pct(s[key]['sensitivity'])}% at {_fa(s[key]['false_alarms_per_24h'])} FA/24h"
            for key, name in (("ovlp", "OVLP"), ("taes", "TAES"), ("szcore_event", "SzCORE"))
        )
    )
    for p in result.operating_points:
        if p.method == "ovlp" and p.threshold is not None:
            click.echo(
                f"  OVLP at <= {p.budget_fa_per_24h:g} FA/24h: sensitivity "
                f"{_pct(p.sensitivity)}% (threshold {p.threshold:g})"
            )
    click.echo(f"report: {out / 'report.md'}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _fa(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
