"""Detection on a recording in memory: an ``mne.io.Raw`` in, ``mne.Annotations`` out.

The recording goes through the same functions as ``seizure detect``: the checkpoint's
preprocessing (:func:`~seizure.preprocessing.pipeline.preprocess_recording`, the montage's
channels, resampled, filtered, windowed, stored in the cache's dtype), the model
(:class:`~seizure.inference.engine.Predictor`) and the ``evaluate`` post-processing.

Example::

    import mne
    from seizure.evaluation.mne_detect import detect_raw

    raw = mne.io.read_raw_edf("recording.edf", preload=True)
    raw.set_annotations(raw.annotations + detect_raw(raw, "runs/h100/best.pt"))

MNE is imported only inside :func:`raw_to_recording` and :func:`detect_raw`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seizure.config import Config
from seizure.evaluation.evaluate import (
    EvaluationError,
    make_predictor,
    resolve_evaluation_config,
)
from seizure.io.channels import normalize_labels
from seizure.io.events import Event
from seizure.io.recording import Recording
from seizure.preprocessing.cache import to_storage
from seizure.preprocessing.pipeline import preprocess_recording, windows_for
from seizure.preprocessing.quality import check_recording
from seizure.scoring.postprocess import postprocess, postprocess_config_kwargs
from seizure.training.checkpoint import load_model_from_checkpoint, read_checkpoint

__all__ = ["Detector", "detect_raw", "load_detector", "raw_to_recording"]

#: Description of the detected events in the returned annotations.
SEIZURE_DESCRIPTION = "seiz"


@dataclass
class Detector:
    """A checkpoint's model ready to run, with its resolved config.

    Attributes
    ----------
    predictor : seizure.inference.engine.Predictor
    config : Config
        The checkpoint's config with the ``evaluate`` overrides applied.
    window_shape : tuple of int
        The window shape the model expects.
    """

    predictor: Any
    config: Config
    window_shape: tuple[int, ...]

    def probabilities(self, windows: Any) -> np.ndarray:
        """Per-window seizure probabilities.

        Parameters
        ----------
        windows : array-like, shape (n_windows, *window_shape)
            Windows as preprocessing writes them (float32 or the cache's dtype); cast to the
            cache's storage dtype, as the model was trained on.

        Returns
        -------
        ndarray of float32, shape (n_windows,)

        Raises
        ------
        EvaluationError
            Windows of another shape than the model's.
        """
        if tuple(windows.shape[1:]) != tuple(self.window_shape):
            raise EvaluationError(
                f"windows of shape {tuple(windows.shape[1:])}, the model expects "
                f"{tuple(self.window_shape)}"
            )
        stored, _ = to_storage(np.asarray(windows), self.config.preprocess.storage_dtype)
        return np.asarray(self.predictor.predict_one(stored), dtype=np.float32)


def load_detector(
    checkpoint: str | Path,
    *,
    device: str = "auto",
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    model_factory: Callable[..., Any] | None = None,
) -> Detector:
    """Load a checkpoint for inference on windows in memory.

    Parameters
    ----------
    checkpoint : path
        Written by ``seizure train``.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    config_files, overrides
        ``--config`` / ``--set``; only ``evaluate.*`` may change.
    model_factory : callable, optional
        See :func:`seizure.training.checkpoint.load_model_from_checkpoint`.

    Returns
    -------
    Detector
    """
    from seizure.inference.device import DeviceError, resolve_device

    state, _ = read_checkpoint(checkpoint)
    config = resolve_evaluation_config(state["config"], config_files, overrides)
    try:
        dev = resolve_device(device)
    except DeviceError as err:
        raise EvaluationError(str(err)) from err
    model, _, window_shape = load_model_from_checkpoint(checkpoint, dev, model_factory, state=state)
    return Detector(make_predictor(model, config, dev), config, tuple(window_shape))


def raw_to_recording(raw: Any) -> Recording:
    """Convert an ``mne.io.Raw`` to the package's :class:`~seizure.io.recording.Recording`.

    EEG channels (``eeg``, ``seeg``, ``ecog``, ``misc`` types) are taken in volts and
    converted to microvolts; labels are normalised as the EDF reader does (``EEG FP1-REF`` ->
    ``FP1``, T7 -> T3).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Loaded or not (the data is read).

    Returns
    -------
    Recording
        ``path`` is the file the Raw was read from, or ``<mne.io.Raw>``.
    """
    import mne  # deferred: a heavy optional dependency, only needed here

    picks = mne.pick_types(raw.info, eeg=True, seeg=True, ecog=True, misc=True, exclude=())
    if len(picks) == 0:
        raise EvaluationError("the Raw object holds no EEG channel")
    names = [raw.ch_names[i] for i in picks]
    data = raw.get_data(picks=picks) * 1e6
    fs = float(raw.info["sfreq"])
    files = getattr(raw, "filenames", None) or [None]
    meas = raw.info.get("meas_date")
    return Recording(
        path=Path(files[0]) if files[0] else Path("<mne.io.Raw>"),
        labels=normalize_labels(names),
        raw_labels=names,
        sfreq_hz=[fs] * len(names),
        data=[np.ascontiguousarray(row, dtype=np.float32) for row in data],
        duration_s=data.shape[1] / fs,
        units=["uV"] * len(names),
        start_time=None if meas is None else meas.replace(tzinfo=None),
    )


def detect_events(recording: Recording, detector: Detector) -> tuple[list[Event], np.ndarray]:
    """Preprocess, predict and post-process one recording in memory.

    Returns
    -------
    events : list of Event
        Detected seizures, seconds from the recording start.
    probs : ndarray of float32, shape (n_windows,)
    """
    pre_cfg, ev = detector.config.preprocess, detector.config.evaluate
    recording.warnings.extend(check_recording(recording))
    pre = preprocess_recording(recording, pre_cfg)
    windows = windows_for(pre, pre_cfg)
    if len(windows) == 0:
        raise EvaluationError(
            f"recording lasts {recording.duration_s:.3f} s, shorter than one window "
            f"({pre_cfg.window_seconds} s)"
        )
    probs = detector.probabilities(windows)
    events = postprocess(
        probs,
        threshold=ev.threshold,
        window_seconds=pre_cfg.window_seconds,
        stride_seconds=pre_cfg.stride_seconds,
        duration_s=recording.duration_s,
        **postprocess_config_kwargs(ev),
    )
    return events, probs


def detect_raw(
    raw: Any,
    checkpoint: str | Path | Detector,
    *,
    device: str = "auto",
    overrides: Sequence[str] = (),
    model_factory: Callable[..., Any] | None = None,
) -> Any:
    """Detect seizures in an ``mne.io.Raw`` held in memory.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        An EEG recording with the channels of the checkpoint's montage (any sampling rate:
        it is resampled as preprocessing does).
    checkpoint : path or Detector
        A checkpoint written by ``seizure train``, or one loaded by :func:`load_detector`
        (to run many recordings without reloading).
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (with a path).
    overrides : sequence of str
        ``evaluate.*`` settings, e.g. ``["evaluate.threshold=0.7"]`` (with a path).
    model_factory : callable, optional
        See :func:`seizure.training.checkpoint.load_model_from_checkpoint`.

    Returns
    -------
    mne.Annotations
        One ``seiz`` annotation per detected seizure, onsets in seconds from the first sample
        (``orig_time`` is the Raw's ``meas_date``, so ``raw.set_annotations`` places them).

    Raises
    ------
    seizure.preprocessing.montage.MissingChannelsError
        The Raw lacks channels of the montage (all listed).
    EvaluationError, seizure.training.checkpoint.CheckpointError
        Unusable checkpoint, device, or a recording shorter than one window.
    """
    import mne  # deferred: a heavy optional dependency, only needed here

    detector = (
        checkpoint
        if isinstance(checkpoint, Detector)
        else load_detector(
            checkpoint, device=device, overrides=overrides, model_factory=model_factory
        )
    )
    events, _ = detect_events(raw_to_recording(raw), detector)
    orig_time = raw.info.get("meas_date")
    # with an orig_time, MNE counts onsets from meas_date, where sample 0 (not first_samp) is
    shift = raw.first_time if orig_time is not None else 0.0
    return mne.Annotations(
        onset=[e.start + shift for e in events],
        duration=[e.stop - e.start for e in events],
        description=[SEIZURE_DESCRIPTION] * len(events),
        orig_time=orig_time,
    )
