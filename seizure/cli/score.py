"""``seizure score``: score hypothesis annotations against references (NEDC and SzCORE)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from seizure.cli.common import (
    config_options,
    label_map_option,
    resolve_config,
    verbosity_options,
)

METHOD_NAMES = ("ovlp", "taes", "epoch", "dpalign", "szcore_event", "szcore_sample")


def _format_table(report_dict: dict, files: int, duration_s: float) -> str:
    rows = [
        f"Scored {files} recording pair{'s' if files != 1 else ''} "
        f"({duration_s:.1f} s = {duration_s / 3600:.2f} h), label seiz",
        "",
        f"{'method':<14}{'sens %':>9}{'spec %':>9}{'FA/24h':>11}{'hits':>10}{'misses':>10}"
        f"{'FAs':>10}  unit",
    ]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.2f}"

    def num(x: float | None) -> str:
        if x is None:
            return "n/a"
        return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"

    for method, r in report_dict.items():
        if method == "files":
            continue
        fa = "n/a" if r["false_alarms_per_24h"] is None else f"{r['false_alarms_per_24h']:.2f}"
        rows.append(
            f"{method:<14}{pct(r['sensitivity']):>9}{pct(r['specificity']):>9}{fa:>11}"
            f"{num(r['hits']):>10}{num(r['misses']):>10}{num(r['false_alarms']):>10}  {r['unit']}"
        )
        if "patients" in r:
            rows.append(_interval_row(r))
        avg = r.get("patient_average")
        if avg:
            fa_avg = avg.get("fp_per_24h")
            rows.append(
                f"{'  per patient':<14}{pct(avg.get('sensitivity')):>9}{'':>9}"
                f"{'n/a' if fa_avg is None else f'{fa_avg:.2f}':>11}"
                f"  (mean over {int(avg['patients'])} patients)"
            )
    return "\n".join(rows)


def _interval_row(summary: dict) -> str:
    """Row of one method's patient-resampled 95% intervals (``seizure score --json`` entry)."""

    def span(bounds: list[float] | None, scale: float) -> str:
        return "n/a" if bounds is None else f"{scale * bounds[0]:.2f}-{scale * bounds[1]:.2f}"

    n = int(summary["patients"])
    return (
        f"{'  95%':<14}sens {span(summary['sensitivity_95'], 100.0)} %, "
        f"FA/24h {span(summary['false_alarms_per_24h_95'], 1.0)} "
        f"(patients resampled: {n})"
    )


@click.command(name="score")
@click.argument("ref", type=click.Path(exists=True, path_type=Path))
@click.argument("hyp", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--method",
    "methods",
    multiple=True,
    metavar="NAME",
    help="Method(s) to run, repeatable or comma-separated: "
    + ", ".join(METHOD_NAMES)
    + ", or 'nedc', 'szcore', 'all' (default: all).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the results as one JSON object ('-' for standard output).",
)
@click.option(
    "--nedc-report",
    "nedc_report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write NEDC v6.0.0-style summary blocks (every figure NEDC prints) to this file.",
)
@click.option(
    "--patient-regex",
    default=None,
    metavar="REGEX",
    help="Patient of a recording name for SzCORE's per-patient average: the first group "
    "(or whole match) at the start of the name. Default: up to the first '_'.",
)
@label_map_option
@config_options
@verbosity_options
def command(
    ref: Path,
    hyp: Path,
    methods: tuple[str, ...],
    json_path: Path | None,
    nedc_report: Path | None,
    patient_regex: str | None,
    label_map: dict[str, str],
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
) -> None:
    """Score hypothesis annotations HYP against reference annotations REF.

    REF and HYP are NEDC list files (one annotation path per line; relative paths are
    resolved from the list's folder, $VARS expanded) or folders of annotation files paired by
    recording name (.csv_bi, .csv, .tse, .lbl and their _bi forms, SzCORE *_events.tsv).
    Labels other than the usual ones (an mne-bids trial_type such as 'eyes closed') are read
    through --label-map and preprocess.label_map.
    Label 'seiz' is scored with NEDC EEG Eval v6.0.0's OVLP, TAES, EPOCH (0.25 s) and DPALIGN
    rules and with SzCORE's event and sample scoring (timescoring), pooled over recordings;
    the total duration is the sum of the reference '# duration' headers.

    A missing hypothesis counts as no detections; a list line that repeats an earlier one is
    scored once; a reference whose duration disagrees with the EDF beside it is scored over
    the EDF's duration. Each such problem is a warning on standard error (and in the
    "warnings" list of --json). A recording listed twice with different files, two
    conflicting '# duration' lines, or a duration outside (0 s, 7 days] is refused. Exit
    status: 0 on success, 1 on unreadable or malformed data, 2 on usage errors.
    """
    cfg = resolve_config(config_files, overrides)
    from seizure.scoring.score import ScoreParams, check_methods, score_files

    try:
        selected = check_methods(methods or None)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--method'") from err
    try:
        params = ScoreParams.from_config(cfg.evaluate)
        if patient_regex is not None:
            params = ScoreParams(
                params.epoch_s, params.dpalign_penalties, patient_regex, params.szcore_fs_hz
            )
    except ValueError as err:
        raise click.UsageError(str(err)) from err

    labels = {**cfg.preprocess.label_map, **label_map}
    report = score_files(ref, hyp, selected, params, label_map=labels)
    if report.files == 0:
        raise click.ClickException(f"{ref}: no recordings to score")
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)

    data = report.to_dict()
    if json_path is not None:
        text = json.dumps({**data, "warnings": report.warnings}, indent=2, allow_nan=False)
        text += "\n"
        if str(json_path) == "-":
            sys.stdout.write(text)
        else:
            try:
                json_path.write_text(text)
            except OSError as err:
                raise click.ClickException(f"{json_path}: cannot write ({err})") from err
    if nedc_report is not None:
        from seizure.scoring.nedc import report_lines

        lines: list[str] = []
        for result in report.results.values():
            if hasattr(result.counts, "confusion"):
                lines += report_lines(result.counts.metrics())
        try:
            nedc_report.write_text("\n".join(lines) + "\n")
        except OSError as err:
            raise click.ClickException(f"{nedc_report}: cannot write ({err})") from err
    if json_path is None or str(json_path) != "-":
        click.echo(_format_table(data, report.files, report.duration_s))
