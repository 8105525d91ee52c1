"""Fitting the feature baseline (``model.name: bandpower_logreg``) for ``seizure train``.

:func:`seizure.training.loop.train` hands a model that its registration declares ``fitted``
(:func:`seizure.models.registry.model_info`) to :func:`fit_baseline`, which writes the run
folder a trained run writes, under the same lock::

    config.yaml        the resolved config
    environment.json   seed, versions, device, git commit, host (per start)
    metrics.jsonl      one row (epoch 1): train_window_auroc, train_loss, the chosen C and
                       the dev split's validation metrics (window_auroc, val_loss, ...)
    last.pt, best.pt   the same checkpoint (:func:`~seizure.training.checkpoint.save_checkpoint`)
    summary.json       status, best metric, the row

The fit, in one pass over the cache (memory-mapped windows read in chunks):

1. the ten band-power features of every train and dev window, computed by the model itself
   (:meth:`~seizure.models.baseline.BandPowerLogReg.window_features`, then the context mean
   over each recording), so that fitting and inference share one implementation;
2. standardisation with the train windows' mean and standard deviation;
3. scikit-learn's ``LogisticRegression(class_weight="balanced")`` on the train windows for
   each ``C`` of :data:`C_GRID`; the one with the largest dev window AUROC is kept (ties: the
   smaller ``C``). Without a dev split, or with a one-class one, ``C`` is
   :data:`DEFAULT_C`;
4. the coefficients and intercept copied into the model's linear head.

The fit is deterministic (lbfgs), so ``resume=True`` on a finished run returns it as it is,
and on an unfinished one fits again from the start.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seizure.config import Config, ConfigError, fingerprint, to_dict
from seizure.inference.device import resolve_device
from seizure.models.baseline import BandPowerLogReg
from seizure.models.registry import build_model
from seizure.preprocessing.bandpower import FEATURE_BANDS_HZ
from seizure.training import metrics as M
from seizure.training.checkpoint import load_checkpoint, save_checkpoint
from seizure.training.data import check_cache_matches, open_cache
from seizure.training.distributed import DistInfo
from seizure.training.errors import TrainingDataError
from seizure.training.rundir import (
    append_metrics_row,
    check_resume_config,
    prepare_run_dir,
    read_history,
    record_start,
    write_summary,
)
from seizure.training.setup import claim_run_dir
from seizure.training.state import BestMetric
from seizure.utils.locks import FolderLock
from seizure.utils.seeding import seed_everything

__all__ = ["C_GRID", "DEFAULT_C", "BaselineFit", "SplitFeatures", "fit_baseline", "split_features"]

#: Inverse regularization strengths tried, chosen on the dev split's window AUROC.
C_GRID: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
#: ``C`` used when the dev split cannot choose (absent or one-class).
DEFAULT_C = 1.0
_CHUNK = 4096  # windows per feature batch: 22 x 256 float32 is 92 MB


@dataclass
class BaselineFit:
    """Outcome of :func:`fit_baseline`, turned into a ``TrainResult`` by ``train``."""

    status: str
    metric: str
    value: float | None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SplitFeatures:
    """The windows of one split as features.

    Attributes
    ----------
    features : numpy.ndarray of float32, shape (n_windows, 10)
    labels : numpy.ndarray of uint8, shape (n_windows,)
    ids : list of str
        Recording ids, in the split's order.
    bounds : numpy.ndarray of int, shape (len(ids) + 1,)
        Recording ``i`` is rows ``bounds[i]:bounds[i + 1]``.
    """

    features: np.ndarray
    labels: np.ndarray
    ids: list[str]
    bounds: np.ndarray


def fit_baseline(
    config: Config,
    cache: str | Path | Any,
    run_dir: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    context_windows: int = 0,
    log: Callable[[str], None] | None = None,
) -> BaselineFit:
    """Fit ``bandpower_logreg`` on a cache's train split and write a run folder.

    Parameters
    ----------
    config : Config
        The resolved config (``config.model.name`` a fitted model, ``config.preprocess``
        the cache's preprocessing; ``train.early_stopping_metric`` names the best value).
    cache : str, Path or Cache
        A raw-window cache written by ``seizure preprocess``, or an opened one.
    run_dir : str or Path
        Output directory; must be empty or absent unless ``resume``.
    resume : bool
        Return a finished fit as it is; fit again when the folder holds an unfinished one.
    device : {'auto', 'cpu', 'cuda'}
        Where the features are computed.
    context_windows : int
        ``k >= 0``: features averaged over windows ``t-k .. t+k`` (stored in the model).
    log : callable, optional
        Where messages go (default: nowhere).

    Returns
    -------
    BaselineFit

    Raises
    ------
    TrainingDataError
        The cache holds LFCC features, was made with other preprocessing, or its train split
        holds one class only.
    ConfigError
        Run under ``torchrun`` with more than one process, a negative ``context_windows``,
        or an unknown ``train.early_stopping_metric``.
    RunDirError, FolderBusyError, InputFileError
        As :func:`seizure.training.loop.train`.
    """
    say = log or (lambda message: None)
    run_dir = Path(run_dir)
    _check_arguments(config, context_windows)
    lock = FolderLock(run_dir, ".lock", "run folder")
    try:
        claim_run_dir(run_dir, cache, lock)
        done = _finished_fit(run_dir, config, resume)
        if done is not None:
            say(f"{run_dir}: the baseline is already fitted ({done.metric} {done.value})")
            return done
        return _fit(config, cache, run_dir, resolve_device(device), context_windows, say)
    finally:
        lock.release()


def _check_arguments(config: Config, context_windows: int) -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            f"model {config.model.name!r} is fitted in one process; run seizure train "
            "without torchrun"
        )
    if context_windows < 0:
        raise ConfigError(f"context_windows must be >= 0, got {context_windows}")
    if config.train.early_stopping_metric not in M.known_metrics():
        raise ConfigError(
            f"Invalid value for 'train.early_stopping_metric': allowed values are "
            f"{', '.join(sorted(M.known_metrics()))}, got "
            f"{config.train.early_stopping_metric!r} instead"
        )


def _finished_fit(run_dir: Path, config: Config, resume: bool) -> BaselineFit | None:
    """Return the fit already in ``run_dir`` when resuming a finished one, else None."""
    last = prepare_run_dir(run_dir, resume)
    if last is None:
        return None
    check_resume_config(load_checkpoint(last)["config"], config, last)
    summary_path = run_dir / "summary.json"
    if not (summary_path.is_file() and (run_dir / "best.pt").is_file()):
        return None
    summary = json.loads(summary_path.read_text())
    if summary.get("status") != "completed":
        return None
    best = summary.get("best") or {}
    history = read_history(run_dir / "metrics.jsonl", 1)
    return BaselineFit("completed", str(best.get("metric")), best.get("value"), history)


def _fit(
    config: Config,
    cache: Any,
    run_dir: Path,
    device: torch.device,
    context_windows: int,
    say: Callable[[str], None],
) -> BaselineFit:
    """Features, regression, checkpoints and summary of a fresh fit."""
    wall_start = time.perf_counter()
    cache = _open_raw_cache(cache, config)
    seed_everything(config.seed)
    model = build_model(config.model, tuple(cache.window_shape))
    if not isinstance(model, BandPowerLogReg):
        raise ConfigError(f"model {config.model.name!r} is not a band-power baseline")
    model.sample_rate_hz.fill_(float(cache.config.sample_rate_hz))
    model.context_windows.fill_(int(context_windows))
    model.to(device).eval()
    empty = model.empty_bands()
    if empty:
        bands = ", ".join(f"{b} {FEATURE_BANDS_HZ[b]} Hz" for b in empty)
        raise TrainingDataError(
            f"model {config.model.name!r}: the band(s) {bands} have no frequency bin in "
            f"windows of {cache.window_shape[-1]} samples at {cache.config.sample_rate_hz:g} "
            "Hz; preprocess at a higher preprocess.sample_rate_hz or longer windows"
        )
    train = split_features(model, cache, "train", device)
    dev = split_features(model, cache, "dev", device)
    if len(np.unique(train.labels)) < 2:
        raise TrainingDataError(
            f"the train split holds {'no' if not train.labels.any() else 'only'} ictal windows "
            f"({train.labels.size} windows): a classifier cannot be fitted"
        )
    record_start(run_dir, config, DistInfo(0, 1, 0, device), keep_epochs=0)
    say(f"fitting {config.model.name} on {train.labels.size} train windows "
        f"({100 * train.labels.mean():.1f}% ictal), {dev.labels.size} dev windows")  # fmt: skip
    t0 = time.perf_counter()
    row = _fit_regression(model, train, dev, say)
    row.update(_dev_metrics(model, dev, cache, config))
    row["fit_s"] = time.perf_counter() - t0
    return _write_outputs(config, cache, run_dir, model, row, wall_start, device, say)


def _open_raw_cache(cache: Any, config: Config) -> Any:
    """Open the cache, check its preprocessing and refuse LFCC features."""
    if isinstance(cache, (str, Path)):
        cache = open_cache(cache)
    features = getattr(cache.config, "features", "raw")
    if features != "raw":
        raise TrainingDataError(
            f"model {config.model.name!r} computes band power from raw windows, but the cache "
            f"holds {features} features (preprocess.features={features}); preprocess with "
            "features: raw to fit it"
        )
    check_cache_matches(cache, config.preprocess)
    return cache


def split_features(
    model: BandPowerLogReg, cache: Any, split: str, device: torch.device | str = "cpu"
) -> SplitFeatures:
    """Features and labels of every window of a split, recording by recording.

    Parameters
    ----------
    model : BandPowerLogReg
        Computes the features (its rate and context are used).
    cache : Cache
        Windows are read in chunks of 4096 from the memory map.
    split : str
        ``train``, ``dev`` or ``eval``.
    device : torch.device or str
        Where the features are computed.

    Returns
    -------
    SplitFeatures
        Features after the context mean of each recording.
    """
    feats, labels, ids = [], [], []
    for rec in cache.split(split):
        windows = cache.windows(rec.recording_id)
        parts = []
        with torch.no_grad():
            for a in range(0, len(windows), _CHUNK):
                x = torch.from_numpy(np.asarray(windows[a : a + _CHUNK], dtype=np.float32))
                parts.append(model.window_features(x.to(device)))
            f = torch.cat(parts) if parts else torch.zeros(0, 10, device=device)
            feats.append(model.context_mean(f[None])[0].cpu().numpy())
        labels.append(np.asarray(cache.labels(rec.recording_id), dtype=np.uint8))
        ids.append(rec.recording_id)
    bounds = np.cumsum([0] + [len(y) for y in labels])
    if not ids:
        return SplitFeatures(np.zeros((0, 10), np.float32), np.zeros(0, np.uint8), [], bounds)
    return SplitFeatures(np.concatenate(feats), np.concatenate(labels), ids, bounds)


def _fit_regression(
    model: BandPowerLogReg, train: SplitFeatures, dev: SplitFeatures, say: Callable[[str], None]
) -> dict[str, Any]:
    """Standardise, fit one regression per ``C``, keep the best on dev; set the model."""
    from sklearn.linear_model import LogisticRegression  # deferred: only fitting needs it

    mean = train.features.astype(np.float64).mean(axis=0)
    std = train.features.astype(np.float64).std(axis=0)
    std[std == 0] = 1.0
    x_train = (train.features - mean) / std
    x_dev = (dev.features - mean) / std
    choose = len(np.unique(dev.labels)) == 2
    grid = C_GRID if choose else (DEFAULT_C,)
    if not choose:
        say(f"note: the dev split cannot choose C (no dev split or one class); C={DEFAULT_C}")
    best: tuple[float, float, Any] | None = None
    dev_auroc: dict[str, float | None] = {}
    for c in grid:
        fitted = LogisticRegression(C=c, class_weight="balanced", max_iter=1000)
        fitted.fit(x_train, train.labels)
        score = M.auroc(fitted.decision_function(x_dev), dev.labels) if choose else math.nan
        dev_auroc[f"{c:g}"] = score if math.isfinite(score) else None
        if best is None or score > best[1]:
            best = (c, score, fitted)
    c, _, fitted = best  # type: ignore[misc]
    with torch.no_grad():
        model.feature_mean.copy_(torch.from_numpy(mean))
        model.feature_std.copy_(torch.from_numpy(std))
        model.head.weight.copy_(torch.from_numpy(fitted.coef_))
        model.head.bias.copy_(torch.from_numpy(fitted.intercept_))
    logits = _logits(model, train.features)
    return {
        "epoch": 1,
        "step": 0,
        "train_loss": _bce(logits, train.labels),
        "train_window_auroc": M.auroc(logits, train.labels),
        "train_windows": int(train.labels.size),
        "fit_C": c,
        "dev_window_auroc_by_C": dev_auroc,
        "context_windows": int(model.context_windows),
    }


def _logits(model: BandPowerLogReg, features: np.ndarray) -> np.ndarray:
    """Return the model's logits ``(n,)`` for features ``(n, 10)`` (context already applied)."""
    with torch.no_grad():
        f = torch.from_numpy(features).to(model.feature_mean.device)
        z = (f - model.feature_mean) / model.feature_std
        return model.head(z).squeeze(-1).cpu().numpy().astype(np.float64)


def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy (unweighted) of logits against 0/1 labels."""
    if not logits.size:
        return math.nan
    y = labels.astype(np.float64)
    return float(np.mean(np.logaddexp(0.0, logits) - y * logits))


def _dev_metrics(model: BandPowerLogReg, dev: SplitFeatures, cache: Any, config: Config) -> dict:
    """Return the validation metrics a trained run logs, on the dev split's probabilities."""
    if not dev.ids:
        return {}
    logits = _logits(model, dev.features)
    probs = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    b = dev.bounds
    result = M.ValidationResult(
        {rid: probs[b[i] : b[i + 1]] for i, rid in enumerate(dev.ids)},
        {rid: dev.labels[b[i] : b[i + 1]] for i, rid in enumerate(dev.ids)},
        events={rid: cache.events(rid) for rid in dev.ids},
        durations_s={r.recording_id: r.duration_s for r in cache.split("dev")},
        window_seconds=cache.window_seconds,
        stride_seconds=cache.stride_seconds,
        loss=_bce(logits, dev.labels),
        epoch=1,
    )
    return M.compute_validation_metrics(result, config)


def _write_outputs(
    config: Config,
    cache: Any,
    run_dir: Path,
    model: BandPowerLogReg,
    row: dict[str, Any],
    wall_start: float,
    device: torch.device,
    say: Callable[[str], None],
) -> BaselineFit:
    """metrics.jsonl, last.pt and best.pt (one checkpoint), summary.json."""
    cfg = config.train
    metric, mode = cfg.early_stopping_metric, M.metric_mode(cfg.early_stopping_metric,
                                                            cfg.early_stopping_mode)  # fmt: skip
    if "val_loss" in row and not math.isfinite(row.get("window_auroc", math.nan)):
        metric, mode = "val_loss", "min"  # a one-class dev split, as trained runs do
    best = BestMetric(metric)
    best.update(row.get(metric, math.nan), 1, mode)
    append_metrics_row(run_dir / "metrics.jsonl", row)
    checkpoint = _checkpoint(config, cache, model.cpu(), row, best)
    for name in ("last.pt", "best.pt"):
        save_checkpoint(run_dir / name, checkpoint)
    write_summary(run_dir, "completed", None, 1, 0, best, [row], wall_start,
                  {"device": str(device), "world_size": 1, "fitted": True})  # fmt: skip
    say(
        f"fitted {config.model.name}: C={row['fit_C']:g}, train window AUROC "
        f"{row['train_window_auroc']:.4f}"
        + (f", dev window AUROC {row['window_auroc']:.4f}" if "window_auroc" in row else "")
        + f"; saved {run_dir / 'best.pt'}"
    )
    return BaselineFit("completed", metric, best.value, [row])


def _checkpoint(
    config: Config, cache: Any, model: BandPowerLogReg, row: dict[str, Any], best: BestMetric
) -> dict[str, Any]:
    """Return the checkpoint of a fitted model: the entries every reader needs, no optimizer."""
    return {
        "model": model.state_dict(),
        "epoch": 1,
        "batch_in_epoch": 0,
        "step": 0,
        "world_size": 1,
        "early_stopping": best.as_dict(),
        "config": to_dict(config),
        "window_shape": [int(s) for s in cache.window_shape],
        "cache_fingerprint": cache.fingerprint,
        "preprocess_fingerprint": fingerprint(config.preprocess),
        "versions": {
            "python": platform.python_version(),
            "torch": str(torch.__version__),
            "numpy": str(np.__version__),
            "cuda": None if torch.version.cuda is None else str(torch.version.cuda),
        },
        "metrics": dict(row),
    }
