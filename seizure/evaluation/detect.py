"""``seizure detect``: find seizures in new EDF recordings with a trained checkpoint.

Each recording goes through the preprocessing recorded in the checkpoint's config (the same
functions ``seizure preprocess`` uses: read only the montage's channels, resample, montage,
filter, window, store in the cache's dtype), then through the model
(:class:`~seizure.inference.engine.Predictor`) and the post-processing of the
``evaluate`` section (threshold, smoothing, gap merging, minimum duration; ``--set
evaluate.threshold=...`` changes them). For each recording it writes ``<name>.csv_bi`` and
SzCORE ``<name>.tsv`` into the output folder (recordings found in a folder keep their path
below that folder; a BIDS recording's tsv is its ``_events.tsv`` in the BIDS tree, see
:mod:`seizure.evaluation.naming`) and reports one line: seizure count and total duration.

A recording that cannot be used (missing, unreadable, missing channels, shorter than a
window) is reported with its reason and the others are still processed. The warnings of a
recording that was used (a truncated file read as far as it goes, clipped values, ...) are
printed under its line and recorded in ``detection.json``.

The output folder describes one run (:mod:`seizure.evaluation.outputs`): it must be new,
empty or the folder of a previous ``detect`` (recognised by its ``detection.json``), and may
neither be nor hold an input (annotations of a corpus are never overwritten). It is locked
for the run; the previous run's outputs (``*.csv_bi``, ``*.tsv``, ``*.probs.npy``) are
removed first, so that a recording that fails this time leaves no annotation of an earlier
run behind. ``detection.json`` (written with ``"complete": false`` first and
``"complete": true`` last) lists every recording with its outcome, reason, warnings and
files.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.evaluation.naming import hypothesis_names
from seizure.evaluation.outputs import DETECTION_FOLDER, claim_output_folder, write_marker
from seizure.io.annotations import write_csv_bi, write_tsv
from seizure.io.events import Event
from seizure.preprocessing.cache import to_storage
from seizure.preprocessing.pipeline import open_windows
from seizure.scoring.postprocess import postprocess, postprocess_config_kwargs
from seizure.utils.errors import SeizureError
from seizure.utils.fsio import atomic_open
from seizure.utils.log import Stopwatch
from seizure.utils.progress import progress

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
        """Return the recording's summary line, then one ``  warning: ...`` line per warning.

        The summary line reads ``path: 2 seizures, 95.0 s in total (of 1800.0 s)``, or gives
        the failure.
        """
        if self.error is not None:
            return f"{self.path}: FAILED: {self.error}"
        total = sum(e.duration for e in self.events)
        noun = "seizure" if len(self.events) == 1 else "seizures"
        line = (
            f"{self.path}: {len(self.events)} {noun}, {total:.1f} s in total "
            f"(of {self.duration_s:.1f} s)"
        )
        if self.warnings:
            line += f" ({len(self.warnings)} warning{'s' if len(self.warnings) > 1 else ''})"
        return "\n".join([line, *(f"  warning: {w}" for w in self.warnings)])

    def as_dict(self) -> dict[str, Any]:
        """Return the recording's entry in ``detection.json``."""
        return {
            "path": str(self.path),
            "name": self.name,
            "ok": self.ok,
            "error": self.error,
            "warnings": list(self.warnings),
            "duration_s": self.duration_s,
            "n_windows": self.n_windows,
            "seizures": [{"start": e.start, "stop": e.stop} for e in self.events],
            "outputs": [str(p) for p in self.outputs],
        }


def find_recordings(
    inputs: Sequence[str | Path], *, keep_missing: bool = False
) -> list[tuple[Path, str]]:
    """EDF/BDF files named or found (recursively) in folders, with their output names.

    Parameters
    ----------
    inputs : sequence of path
        Files and folders.
    keep_missing : bool
        List an input that does not exist (or a broken or looping symbolic link) as a file
        named by its stem, for its reading to fail with the reason, instead of raising.

    Returns
    -------
    list of (Path, str)
        ``(file, name)``; a file given directly is named by its stem, a file found in a
        folder by its path below that folder without suffix (``sub/a.edf`` -> ``sub/a``).
        Sorted within each folder; duplicates of one file are dropped.

    Raises
    ------
    FileNotFoundError
        For an input that does not exist (unless ``keep_missing``).
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            # not is_dir(): a broken or looping link is listed, to fail with its reason
            found = sorted(
                f for f in p.rglob("*") if f.suffix.lower() in EDF_SUFFIXES and not f.is_dir()
            )
            pairs = [(f, f.relative_to(p).with_suffix("").as_posix()) for f in found]
        elif p.is_file() or keep_missing:
            pairs = [(p, p.stem)]
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
        for f, name in pairs:
            try:
                key = f.resolve()
            except (OSError, RuntimeError):  # a symbolic link loop
                key = f.absolute()
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
    """Windows as the cache would store them.

    Each slice is cast (and clipped) to the storage dtype by
    :func:`seizure.preprocessing.cache.to_storage`.

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
        ``<name>.probs.npy``, per-window probabilities, with ``save_probs``), and
        ``detection.json`` (every recording's outcome, reason and warnings); new, empty or
        a previous detection folder, whose outputs are removed first.
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
        Receives each recording's :meth:`DetectionResult.summary` (its line, then its
        warnings); default: this module's logger, INFO. The time of each stage of a
        recording is logged at DEBUG.

    Notes
    -----
    Recordings are read and preprocessed one ahead, on a thread: the first while torch is
    imported and the model built, recording k + 1 while the model runs on recording k. At
    most two recordings' windows are in memory at once.

    Returns
    -------
    list of DetectionResult
        One per recording, in input order; failed ones have ``error`` set.

    Raises
    ------
    ConfigError, CheckpointError, EvaluationError, FileNotFoundError
        Problems that concern every recording (bad config, checkpoint, device, no EDF file
        in the inputs); an input that does not exist fails alone, as a recording.
    seizure.evaluation.outputs.OutputFolderError, seizure.utils.errors.InputFileError,
    seizure.utils.locks.FolderBusyError
        ``out_dir`` holds other files, is or holds an input, or another run writes into it.
    """
    say = log or logging.getLogger(__name__).info
    checkpoint = Path(checkpoint)
    out = Path(out_dir)
    recordings = find_recordings(inputs, keep_missing=True)
    if not recordings:
        raise FileNotFoundError(
            f"no {'/'.join(EDF_SUFFIXES)} files in {', '.join(str(i) for i in inputs)}"
        )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect-read") as reader:
        # The first recording is read while torch is imported and the model built.
        first = _read_ahead(reader, checkpoint, recordings[0][0])
        config, predictor, window_shape, sha = _load_detector(
            checkpoint, config_files, overrides, device, model_factory
        )
        if first is not None and first[0] != config.preprocess:
            first = None  # peeked from another file than the one loaded: read it again
        run = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha,
               "inputs": [str(i) for i in inputs]}  # fmt: skip
        results: list[DetectionResult] = []
        # reads started ahead, by index; duplicate output names are never read
        ahead: dict[int, Future] = {0: first[1]} if first is not None else {}
        todo = _unique_names(recordings)
        with claim_output_folder(out, DETECTION_FOLDER, [checkpoint, *inputs, *config_files], run):
            names: dict[str, Path] = {}
            for k, (path, name) in enumerate(progress(recordings, desc="detect", unit="rec")):
                res = DetectionResult(path=path, name=name)
                results.append(res)
                if name in names:
                    res.error = (
                        f"same output name {name!r} as {names[name]}; pass the files separately"
                    )
                    say(res.summary())
                    continue
                names[name] = path
                t0 = time.perf_counter()
                pending = ahead.pop(k, None)
                i = bisect.bisect_right(todo, k)  # the next recording to read, if any
                if i < len(todo) and todo[i] not in ahead:
                    ahead[todo[i]] = reader.submit(
                        _windows_of, recordings[todo[i]][0], config.preprocess
                    )
                read = pending.result if pending is not None else None
                _detect_one(res, out, config, predictor, window_shape, save_probs, read)
                seconds = time.perf_counter() - t0
                say(res.summary() if not res.ok else f"{res.summary()} [{seconds:.1f} s]")
            failed = sum(not r.ok for r in results)
            summary = {**run, "recordings": len(results), "failed": failed,
                       "results": [r.as_dict() for r in results]}  # fmt: skip
            write_marker(out, DETECTION_FOLDER, summary, complete=True)
    return results


def _unique_names(recordings: Sequence[tuple[Path, str]]) -> list[int]:
    """Return the indices of the recordings to read: the first of each output name, in order."""
    seen: set[str] = set()
    keep = []
    for k, (_, name) in enumerate(recordings):
        if name not in seen:
            seen.add(name)
            keep.append(k)
    return keep


def load_model_from_checkpoint(*args: Any, **kwargs: Any) -> tuple[Any, Any, tuple[int, ...]]:
    """Call :func:`seizure.training.checkpoint.load_model_from_checkpoint` (same arguments).

    Imported on the first call, so that importing this module does not import torch.
    """
    from seizure.training.checkpoint import load_model_from_checkpoint as load

    return load(*args, **kwargs)


def _read_ahead(
    reader: ThreadPoolExecutor, checkpoint: Path, path: Path
) -> tuple[Any, Future] | None:
    """Start reading the recording ``path`` on ``reader``, with the checkpoint's preprocessing.

    The ``preprocess`` section is peeked from the checkpoint without torch
    (:func:`seizure.training.peek.peek_checkpoint`). Returns ``(preprocess config, future of
    _windows_of's result)``, or None when the section cannot be peeked (the checkpoint's own
    read then reports what is wrong).
    """
    from seizure.config import Config, from_dict
    from seizure.training.peek import peek_checkpoint

    peeked = peek_checkpoint(checkpoint)
    if peeked is None:
        return None
    try:
        pre = from_dict(Config, peeked["config"]).preprocess
    except Exception:  # a preview: the checkpoint's own read reports what is wrong
        return None
    return pre, reader.submit(_windows_of, path, pre)


def _load_detector(
    checkpoint: Path,
    config_files: Sequence[str | Path],
    overrides: Sequence[str],
    device: str,
    model_factory: Callable[..., Any] | None,
) -> tuple[Any, Any, tuple[int, ...], str]:
    """Read the checkpoint once, resolve the config and device, build the model and predictor.

    Returns ``(config, predictor, window_shape, sha256 of the checkpoint's bytes)``.
    """
    from seizure.evaluation.evaluate import (
        EvaluationError,
        make_predictor,
        resolve_evaluation_config,
    )
    from seizure.inference.device import DeviceError, resolve_device
    from seizure.training.checkpoint import read_checkpoint

    state, sha = read_checkpoint(checkpoint)  # one read: the hash names the weights used
    config = resolve_evaluation_config(state["config"], config_files, overrides)
    try:
        dev = resolve_device(device)
    except DeviceError as err:
        raise EvaluationError(str(err)) from err
    model, _, window_shape = load_model_from_checkpoint(checkpoint, dev, model_factory, state=state)
    return config, make_predictor(model, config, dev), window_shape, sha


def _detect_one(
    res: DetectionResult,
    out: Path,
    config: Any,
    predictor: Any,
    window_shape: tuple[int, ...],
    save_probs: bool,
    read: Callable[[], tuple[Any, float, list[str], Any]] | None = None,
) -> None:
    """Preprocess, predict, post-process and write one recording.

    ``read()``, when given, returns the recording's :func:`_windows_of` (or raises its
    error): a read started ahead. A failure sets ``res.error`` (nothing is then written for
    it).
    """
    pre, ev = config.preprocess, config.evaluate
    path, name = res.path, res.name
    clock = Stopwatch(logging.getLogger(__name__))
    try:
        windows, duration, warnings, _ = read() if read is not None else _windows_of(path, pre)
        if tuple(windows.shape[1:]) != tuple(window_shape):
            raise ValueError(
                f"windows of shape {tuple(windows.shape[1:])}, the model expects "
                f"{tuple(window_shape)}"
            )
    except (SeizureError, ValueError, OSError, RuntimeError) as err:  # RuntimeError: link loop
        res.error = str(err) or type(err).__name__
        return
    res.duration_s, res.n_windows, res.warnings = duration, len(windows), warnings
    clock.lap(f"{name}: reading and preprocessing")
    probs = predictor.predict_one(windows)
    clock.lap(f"{name}: model")
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
        **postprocess_config_kwargs(ev),
    )
    csv_path, tsv_path = (out / n for n in hypothesis_names(name))
    write_csv_bi(csv_path, res.events, duration, bname=Path(name).name)
    write_tsv(tsv_path, res.events, duration)  # no dateTime, as evaluate writes them
    res.outputs = [csv_path, tsv_path]
    if save_probs:
        probs_path = out / f"{name}.probs.npy"
        with atomic_open(probs_path, "wb") as handle:
            np.save(handle, probs, allow_pickle=False)
        res.outputs.append(probs_path)
    clock.lap(f"{name}: post-processing and writing")
