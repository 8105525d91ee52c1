"""``seizure timescale``: report a model's memory timescales."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from seizure.cli.common import config_options, resolve_config, verbosity_options


def _cache_windows(cache_dir: str, steps: int) -> tuple[Any, tuple[int, ...], float]:
    """Up to ``steps`` consecutive windows from the cache's records (in record order)."""
    import numpy as np
    import torch

    from seizure.preprocessing.cache import Cache

    cache = Cache(cache_dir)
    chunks, total = [], 0
    for record in cache.records:
        if total >= steps:
            break
        w = np.asarray(cache.windows(record.recording_id)[: steps - total], dtype=np.float32)
        chunks.append(w)
        total += w.shape[0]
    if not chunks:
        raise click.UsageError(f"Cache {cache_dir!r} holds no windows")
    windows = torch.from_numpy(np.concatenate(chunks))
    return windows, tuple(cache.window_shape), float(cache.stride_seconds)


@click.command("timescale")
@config_options
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False),
    help="Analyse a checkpoint written by 'seizure train' (last.pt, best.pt) instead of a "
    "fresh model.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Drive the network with windows from this cache instead of synthetic noise.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=10),
    default=2000,
    show_default=True,
    help="Time steps (windows) for the Lyapunov estimate.",
)
@click.option(
    "--jacobian-steps",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Steps of the Jacobian product (0 skips it; only for states of <= 512 units).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@verbosity_options
def command(
    config_files: tuple[str, ...],
    overrides: tuple[str, ...],
    checkpoint: str | None,
    cache_dir: str | None,
    steps: int,
    jacobian_steps: int,
    as_json: bool,
) -> None:
    """Report how long a model remembers.

    Prints mean-field chi and xi (vanilla, minimal), gate timescales (LSTM, GRU, minimal),
    the top Lyapunov exponent and its timescale tau (any cell; in steps and seconds), the
    mean Lyapunov exponent (which 1/2 ln chi predicts), the state's second moment measured
    and by mean field, and the spread of the Jacobian's singular values.

    Without --checkpoint the model is freshly initialized from the config (seeded by
    'seed'); the window shape comes from the checkpoint, the cache, or else the preprocess
    section (the shape 'seizure preprocess' gives its windows).
    """
    from seizure.models import build_model, load_state_checked, timescale_report
    from seizure.utils.seeding import seed_everything

    state = None
    window_shape: tuple[int, ...] | None = None
    if checkpoint is not None:
        from seizure.training.checkpoint import (
            CheckpointError,
            check_finite_weights,
            load_checkpoint,
        )

        try:
            ckpt = load_checkpoint(checkpoint)
        except CheckpointError as err:
            raise click.BadParameter(
                f"cannot read {checkpoint!r} as a checkpoint written by 'seizure train' "
                f"({err.reason})",
                param_hint="'--checkpoint'",
            ) from err
        config = resolve_config(config_files, overrides, base=ckpt["config"])
        state = ckpt["model"]
        check_finite_weights(state, checkpoint)
        window_shape = tuple(int(s) for s in ckpt["window_shape"])
    else:
        config = resolve_config(config_files, overrides)

    seconds = float(config.preprocess.stride_seconds)
    windows = None
    if cache_dir is not None:
        windows, cache_shape, seconds = _cache_windows(cache_dir, steps)
        if window_shape is not None and cache_shape != window_shape:
            raise click.UsageError(
                f"The cache's window shape {cache_shape} differs from the checkpoint's "
                f"{window_shape}"
            )
        window_shape = cache_shape
    if window_shape is None:
        from seizure.preprocessing.pipeline import window_shape as cached_window_shape

        window_shape = cached_window_shape(config.preprocess)

    seed_everything(config.seed)
    try:
        # a checkpoint's weights replace the initial ones: skip the initializers then
        model = build_model(config.model, window_shape, initialize=state is None)
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    if state is not None:
        load_state_checked(model, state, checkpoint)
    model.eval()
    report = timescale_report(
        model,
        windows=windows,
        steps=steps,
        seconds_per_step=seconds,
        jacobian_steps=jacobian_steps,
        seed=config.seed,
    )
    report["window_shape"] = list(window_shape)
    report["source"] = str(Path(checkpoint)) if checkpoint else "fresh"
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(_format(report))


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "inf"
    if isinstance(value, float):
        text = f"{value:.4g}"
    else:
        text = str(value)
    return f"{text}{unit}"


def _format(r: dict[str, Any]) -> str:
    lines = [
        f"model: {r['source']}, cell {r['cell']}, windows {tuple(r['window_shape'])}, "
        f"{r['steps']} steps of {r['seconds_per_step']:g} s ({r['input']} input)"
    ]
    if r["chi"] is not None:
        lines.append(f"mean field: chi = {r['chi']:.4f}, xi = {_num(r['xi_steps'], ' steps')}")
    if r["gate_tau_steps"] is not None:
        g = r["gate_tau_steps"]
        lines.append(f"gate timescale (bias only): mean {_num(g['mean'])}, max {_num(g['max'])}")
    if r["lyapunov_exponent"] is not None:
        lines.append(
            f"top Lyapunov exponent: {r['lyapunov_exponent']:.4g} per step, "
            f"tau = {_num(r['lyapunov_tau_steps'], ' steps')} "
            f"= {_num(r['lyapunov_tau_seconds'], ' s')}"
        )
        lines.append(f"mean Lyapunov exponent: {r['mean_lyapunov_exponent']:.4g} per step")
        if r["predicted_exponent"] is not None:
            lines.append(
                f"mean-field prediction 1/2 ln chi: {r['predicted_exponent']:.4g} per step "
                "(predicts the mean exponent, not the top one)"
            )
        for e in r["layers"]:
            extra = f", chi {e['chi']:.4f}" if "chi" in e else ""
            if "predicted_exponent" in e and e["predicted_exponent"] is not None:
                extra += f", 1/2 ln chi {e['predicted_exponent']:.4g}"
            q = f"q measured {e['q_measured']:.3g}"
            if "q_star" in e:
                q += f", mean field {e['q_star']:.3g}"
            lines.append(
                f"  layer {e['layer']} {e['direction']}: top {e['lyapunov_exponent']:.4g}, "
                f"mean {e['mean_lyapunov_exponent']:.4g}, tau "
                f"{_num(e['lyapunov_tau_steps'], ' steps')}{extra}; {q}"
            )
    else:
        lines.append("no recurrence: nothing is remembered across windows")
    j = r["jacobian"]
    if j is not None:
        spread = j["log10_spread"]
        lines.append(
            f"Jacobian over {j['steps']} steps: singular values median {j['median']:.3g}, "
            f"min {j['min']:.3g}, max {j['max']:.3g} "
            f"(spread {'inf' if spread is None else f'{spread:.2f}'} decades)"
        )
    return "\n".join(lines)
