"""The run directory of ``seizure train``: checks, resume config and the files written there.

::

    config.yaml        the resolved config
    environment.json   seed, python/torch/numpy/CUDA/cuDNN versions, git commit, host (per start)
    metrics.jsonl      one JSON line per epoch (train loss, learning rate, windows/s, val metrics)
    last.pt, best.pt   checkpoints (see seizure.training.checkpoint)
    summary.json       final status, best metric and epoch, last metrics

:func:`resume_config` is the config a resumed run trains with: the one stored in ``last.pt``
with config files and overrides applied on top (the command ``seizure train --resume`` calls
it; so can Python callers).
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seizure.config import Config, ConfigError, load_config, save_config, to_dict
from seizure.training.checkpoint import load_checkpoint
from seizure.training.config import RESUMABLE_KEYS, TrainConfig
from seizure.training.distributed import DistInfo
from seizure.training.errors import RunDirError
from seizure.training.state import BestMetric
from seizure.utils.fsio import atomic_write_text
from seizure.utils.locks import is_empty_folder

__all__ = [
    "append_metrics_row",
    "check_resume_config",
    "environment_info",
    "epoch_line",
    "prepare_run_dir",
    "read_history",
    "record_start",
    "resume_config",
    "write_summary",
]


def prepare_run_dir(run_dir: Path, resume: bool) -> Path | None:
    """Check the run directory; return ``last.pt`` to resume from, or None to start fresh.

    Raises
    ------
    RunDirError
        ``run_dir`` is a file; or it is not empty and ``resume`` is false; or ``resume`` is
        true, it is not empty and holds no ``last.pt``.
    """
    last = run_dir / "last.pt"
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a directory")
    non_empty = run_dir.is_dir() and not is_empty_folder(run_dir)
    if resume:
        if last.is_file():
            return last
        if non_empty:
            raise RunDirError(
                f"{run_dir}: --resume was asked but there is no last.pt to resume from "
                "(and the directory is not empty)"
            )
        return None
    if non_empty:
        raise RunDirError(
            f"{run_dir}: the run directory is not empty; pass --resume to continue the run "
            "it holds, or choose a new directory"
        )
    return None


def resume_config(
    run_dir: str | Path, config_files: Sequence[str | Path] = (), overrides: Sequence[str] = ()
) -> Config:
    """Return the config that resuming the run in ``run_dir`` trains with.

    The config stored in ``run_dir/last.pt`` is the base; ``config_files`` and ``overrides``
    (``section.key=value``) are applied on top. Without ``last.pt`` (a run that never saved)
    the base is the defaults, as for a fresh run. :func:`seizure.training.loop.train` then
    refuses changes outside the resumable ``train`` keys (:func:`check_resume_config`).

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    config_files : sequence of path
        YAML files merged in order over the stored config.
    overrides : sequence of str
        ``section.key=value`` strings applied last.

    Returns
    -------
    Config

    Raises
    ------
    CheckpointError
        ``last.pt`` exists but cannot be read.
    ConfigError
        A file or override is invalid.
    """
    last = Path(run_dir) / "last.pt"
    base = load_checkpoint(last)["config"] if last.is_file() else None
    return load_config(list(config_files), list(overrides), base=base)


def check_resume_config(stored: dict[str, Any], config: Config, path: Path) -> None:
    """Refuse a resumed run whose config changed outside :data:`RESUMABLE_KEYS`.

    A ``train`` key that the stored config lacks (a field added since it was written) counts
    as its default value.

    Parameters
    ----------
    stored : dict
        The config stored in the checkpoint (``seizure.config.to_dict`` form).
    config : Config
        The config of the resumed run.
    path : Path
        The checkpoint, named in the message.

    Raises
    ------
    ConfigError
        Naming every changed key with its old and new value.
    """
    now = to_dict(config)
    changed = [] if stored.get("seed") == now.get("seed") else [
        f"seed: {stored.get('seed')!r} -> {now.get('seed')!r}"
    ]  # fmt: skip
    for section in ("preprocess", "model", "train"):
        a = stored.get(section) or {}
        if section == "train":
            a = {**to_dict(TrainConfig()), **a}
        b = now.get(section) or {}
        for key in sorted(set(a) | set(b)):
            if section == "train" and key in RESUMABLE_KEYS:
                continue
            if a.get(key) != b.get(key):
                changed.append(f"{section}.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    if changed:
        raise ConfigError(
            f"{path}: cannot resume with a different config ({'; '.join(changed)}); only "
            f"train.{{{', '.join(sorted(RESUMABLE_KEYS))}}} may change on --resume"
        )


def environment_info(config: Config, info: DistInfo | None = None) -> dict[str, Any]:
    """Seed, library versions, device and git commit of this run.

    Parameters
    ----------
    config : Config
    info : DistInfo, optional
        Adds the device, world size and GPU name.

    Returns
    -------
    dict
        JSON-serialisable.
    """
    env: dict[str, Any] = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": config.seed,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "argv": list(sys.argv),
        "git_commit": None,
    }
    if info is not None:
        env["device"] = str(info.device)
        env["world_size"] = info.world_size
        if info.device.type == "cuda":
            env["gpu"] = torch.cuda.get_device_name(info.device)
    from seizure import __version__

    env["seizure"] = __version__
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0:
            env["git_commit"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def record_start(
    run_dir: Path, config: Config, info: DistInfo, keep_epochs: int
) -> list[dict[str, Any]]:
    """Write ``config.yaml``, add this start to ``environment.json``, read the metric rows.

    Parameters
    ----------
    run_dir : Path
        Created if absent.
    config : Config
    info : DistInfo
    keep_epochs : int
        Epochs completed at the resume point: rows of later (or partial) epochs are dropped
        from ``metrics.jsonl``.

    Returns
    -------
    list of dict
        The rows kept (empty for a fresh run).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    env_path = run_dir / "environment.json"
    starts = json.loads(env_path.read_text())["starts"] if env_path.is_file() else []
    starts.append(environment_info(config, info))
    atomic_write_text(env_path, json.dumps({"starts": starts}, indent=1) + "\n")
    return read_history(run_dir / "metrics.jsonl", keep_epochs)


def read_history(path: Path, keep_epochs: int) -> list[dict[str, Any]]:
    """Rows of ``metrics.jsonl`` for epochs ``<= keep_epochs`` (rewritten without the rest)."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("epoch", 0) <= keep_epochs and not r.get("partial_epoch")]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with non-finite floats as None (JSON has no NaN)."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()
    }


def append_metrics_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row to ``metrics.jsonl`` and fsync it."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(jsonable(row)) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def write_summary(
    run_dir: Path,
    status: str,
    error: str | None,
    epoch: int,
    step: int,
    best: BestMetric,
    history: list[dict[str, Any]],
    wall_start: float,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``summary.json``: status, error, position, best metric, last row, wall time.

    Parameters
    ----------
    run_dir : Path
    status : str
        ``completed``, ``early_stopped``, ``max_steps``, ``interrupted`` or ``failed``.
    error : str or None
        The reason of a failure.
    epoch, step : int
        Epochs completed and optimizer steps taken.
    best : BestMetric
    history : list of dict
        Metric rows; the last one is written.
    wall_start : float
        ``time.perf_counter()`` at the start, in seconds.
    extra : dict, optional
        More entries (device, world size, feeder, precision).
    """
    summary = {
        "status": status,
        "error": error,
        "epochs_completed": epoch,
        "steps": step,
        "best": {"metric": best.metric, "value": best.value, "epoch": best.epoch},
        "last_metrics": jsonable(history[-1]) if history else {},
        "wall_s": time.perf_counter() - wall_start,
        **(extra or {}),
    }
    atomic_write_text(run_dir / "summary.json", json.dumps(jsonable(summary), indent=1) + "\n")


def epoch_line(row: dict[str, Any], metric: str, best: BestMetric) -> str:
    """Return the one-line log of a finished epoch."""
    parts = [f"epoch {row['epoch']}", f"step {row['step']}", f"loss {row['train_loss']:.4f}"]
    parts.append(f"{row['train_windows_per_s']:,.0f} windows/s")
    for key in ("val_loss", "window_auroc", "window_sensitivity", "window_specificity"):
        if key in row:
            parts.append(f"{key} {row[key]:.4f}")
    if metric in row and metric not in ("val_loss", "window_auroc"):
        parts.append(f"{metric} {row[metric]:.4f}")
    if best.value is not None:
        parts.append(f"(best {metric} {best.value:.4f} at epoch {best.epoch})")
    return ", ".join(parts)
