"""``seizure detect``: find seizures in new EDF recordings with a trained checkpoint.

Each recording goes through the preprocessing recorded in the checkpoint's config (the same
functions ``seizure preprocess`` uses: read only the montage's channels, resample, montage,
filter, window, store in the cache's dtype), then through the model
(:class:`~seizure.inference.engine.Predictor`) and the post-processing of the
``evaluate`` section (threshold, smoothing, gap merging, minimum duration; ``--set
evaluate.threshold=...`` changes them). For each recording it writes ``<name>.csv_bi`` and
SzCORE ``<name>.tsv`` into the output folder (recordings found in a folder keep their path
below that folder) and reports one line: seizure count and total duration.

A recording that cannot be used (unreadable, missing channels, shorter than a window) is
reported with its reason and the others are still processed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.evaluation.evaluate import (
    EvaluationError,
    make_predictor,
    resolve_evaluation_config,
)
from seizure.io.annotations import write_csv_bi, write_tsv
from seizure.io.events import Event
from seizure.preprocessing.cache import to_storage
from seizure.preprocessing.pipeline import open_windows
from seizure.scoring.postprocess import postprocess, postprocess_config_kwargs
from seizure.training.checkpoint import load_checkpoint, load_model_from_checkpoint
from seizure.utils.errors import SeizureError
from seizure.utils.fsio import atomic_open

__all__ = ["EDF_SUFFIXES", "DetectionResult", "detect", "find_recordings"]

#: File suffixes taken from folders (case-insensitive).
EDF_SUFFIXES: tuple[str, ...] = (".edf", ".bdf")


@dataclass
class DetectionResult:
    """The outcome for one recording.

    Attributes
    ----------
    path : Path
        The EDF file.
    name : str
        Output name (``<name>.csv_bi``), relative to the output folder, without suffix.
    events : list of Event
        Detected seizures, seconds.
    duration_s : float
        Recording duration, seconds.
    n_windows : int
    outputs : list of Path
        Files written.
    error : str or None
        Why the recording could not be used (then nothing was written for it).
    warnings : list of str
    """

    path: Path
    name: str
    events: list[Event] = field(default_factory=list)
    duration_s: float = 0.0
    n_windows: int = 0
    outputs: list[Path] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the recording was processed."""
        return self.error is None

    def summary(self) -> str:
        """One line: ``path: 2 seizures, 95.0 s in total (of 1800.0 s)`` or the failure."""
        if self.error is not None:
            return f"{self.path}: FAILED: {self.error}"
        total = sum(e.duration for e in self.events)
        noun = "seizure" if len(self.events) == 1 else "seizures"
        return (
            f"{self.path}: {len(self.events)} {noun}, {total:.1f} s in total "
            f"(of {self.duration_s:.1f} s)"
        )


def find_recordings(inputs: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """EDF/BDF files named or found (recursively) in folders, with their output names.

    Returns
    -------
    list of (Path, str)
        ``(file, name)``; a file given directly is named by its stem, a file found in a
        folder by its path below that folder without suffix (``sub/a.edf`` -> ``sub/a``).
        Sorted within each folder; duplicates of one file are dropped.

    Raises
    ------
    FileNotFoundError
        For an input that does not exist.
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in EDF_SUFFIXES
            )
            pairs = [(f, f.relative_to(p).with_suffix("").as_posix()) for f in found]
        elif p.is_file():
            pairs = [(p, p.stem)]
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
        for f, name in pairs:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append((f, name))
    return out


def _windows_of(path: Path, config: Any) -> tuple[Any, float, list[str], Any]:
    """Preprocess one EDF as ``seizure preprocess`` does; windows in the cache's dtype."""

    out = open_windows(path, config)
    duration, warnings, windows = out.duration_s, out.warnings, out.windows
    if len(windows) == 0:
        raise ValueError(
            f"recording lasts {duration:.3f} s, shorter than one window ({config.window_seconds} s)"
        )
    # The model was trained on windows stored in the cache's dtype: cast them the same way.
    return _StoredWindows(windows, config.storage_dtype), duration, warnings, out.header.start_time


class _StoredWindows:
    """Windows as the cache would store them: each slice cast (and clipped) to the storage
    dtype by :func:`seizure.preprocessing.cache.to_storage`.

    Raw windows are computed a slice at a time (:class:`~seizure.preprocessing.pipeline.
    RawWindows`), so a long recording's windows are never all in memory at once.
    ``clipped`` counts the values clipped to the float16 range so far.
    """

    def __init__(self, windows: Any, dtype: str) -> None:
        self.windows = windows
        self.storage_dtype = dtype
        self.dtype = np.dtype(dtype)  # a real dtype: the inference buffers are made of it
        self.shape = tuple(windows.shape)
        self.clipped = 0

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: slice) -> np.ndarray:
        out, clipped = to_storage(self.windows[index], self.storage_dtype)
        self.clipped += clipped
        return out


def detect(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    device: str = "auto",
    save_probs: bool = False,
    model_factory: Callable[..., Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[DetectionResult]:
    """Detect seizures in EDF recordings and write their annotations.

    Parameters
    ----------
    checkpoint : path
        A checkpoint written by ``seizure train``.
    inputs : sequence of path
        EDF/BDF files and folders (searched recursively).
    out_dir : path
        Output folder: ``<name>.csv_bi`` and ``<name>.tsv`` per recording (and
        ``<name>.probs.npy``, per-window probabilities, with ``save_probs``).
    config_files, overrides
        ``--config`` / ``--set``; only ``evaluate.*`` may change (threshold, post-processing,
        batch size).
    device : str
        ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
    save_probs : bool
        Also save the per-window probabilities.
    model_factory : callable, optional
        See :func:`seizure.training.checkpoint.load_model_from_checkpoint`.
    log : callable, optional
        Receives one line per recording (:meth:`DetectionResult.summary`).

    Returns
    -------
    list of DetectionResult
        One per recording, in input order; failed ones have ``error`` set.

    Raises
    ------
    ConfigError, CheckpointError, EvaluationError, FileNotFoundError
        Problems that concern every recording (bad config, checkpoint, device, inputs).
    """
    from seizure.inference.device import DeviceError, resolve_device

    say = log or (lambda _msg: None)
    checkpoint = Path(checkpoint)
    out = Path(out_dir)
    recordings = find_recordings(inputs)
    if not recordings:
        raise FileNotFoundError(
            f"no {'/'.join(EDF_SUFFIXES)} files in {', '.join(str(i) for i in inputs)}"
        )
    state = load_checkpoint(checkpoint)
    config = resolve_evaluation_config(state["config"], config_files, overrides)
    try:
        dev = resolve_device(device)
    except DeviceError as err:
        raise EvaluationError(str(err)) from err
    model, _, window_shape = load_model_from_checkpoint(checkpoint, dev, model_factory)
    pre, ev = config.preprocess, config.evaluate
    predictor = make_predictor(model, config, dev)
    kwargs = postprocess_config_kwargs(ev)
    results: list[DetectionResult] = []
    names: dict[str, Path] = {}
    for path, name in recordings:
        res = DetectionResult(path=path, name=name)
        results.append(res)
        if name in names:
            res.error = f"same output name {name!r} as {names[name]}; pass the files separately"
            say(res.summary())
            continue
        names[name] = path
        t0 = time.perf_counter()
        try:
            windows, duration, warnings, start_time = _windows_of(path, pre)
            if tuple(windows.shape[1:]) != tuple(window_shape):
                raise ValueError(
                    f"windows of shape {tuple(windows.shape[1:])}, the model expects "
                    f"{tuple(window_shape)}"
                )
        except (SeizureError, ValueError, OSError) as err:
            res.error = str(err) or type(err).__name__
            say(res.summary())
            continue
        res.duration_s, res.n_windows, res.warnings = duration, len(windows), warnings
        probs = predictor.predict_one(windows)
        if windows.clipped:
            res.warnings.append(
                f"{path}: {windows.clipped} values beyond +-65504 were clipped to the float16 "
                "range the model was trained on"
            )
        res.events = postprocess(
            probs,
            threshold=ev.threshold,
            window_seconds=pre.window_seconds,
            stride_seconds=pre.stride_seconds,
            duration_s=duration,
            **kwargs,
        )
        csv_path, tsv_path = out / f"{name}.csv_bi", out / f"{name}.tsv"
        write_csv_bi(csv_path, res.events, duration, bname=Path(name).name)
        write_tsv(tsv_path, res.events, duration, date_time=start_time)
        res.outputs = [csv_path, tsv_path]
        if save_probs:
            probs_path = out / f"{name}.probs.npy"
            with atomic_open(probs_path, "wb") as handle:
                np.save(handle, probs, allow_pickle=False)
            res.outputs.append(probs_path)
        seconds = time.perf_counter() - t0
        say(f"{res.summary()} [{seconds:.1f} s]")
    return results
