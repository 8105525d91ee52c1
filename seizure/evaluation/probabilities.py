"""Per-window probabilities of a split: the model pass of ``seizure evaluate`` and its cache.

Also the checks that a checkpoint, its config and a cache can be evaluated together
(:func:`resolve_evaluation_config`, :func:`check_fingerprint`).

``OUT/<folder>/<id>.npy`` holds float32 probabilities, one per cached window, and
``OUT/<folder>/index.json`` (written last) the checkpoint's sha256, the cache fingerprint and
the inference settings they were made with; :func:`load_probs` returns them only when all of
these match. Writers overlap inference (:func:`infer_records`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seizure.config import Config, ConfigError, fingerprint, from_dict, load_config, to_dict
from seizure.evaluation.hypotheses import EventArrays, HypothesisWriter
from seizure.preprocessing.cache import safe_id
from seizure.scoring.postprocess import validate_evaluate_config
from seizure.training.checkpoint import load_model_from_checkpoint
from seizure.utils.errors import SeizureError
from seizure.utils.fsio import atomic_open, atomic_write_text
from seizure.utils.progress import progress

__all__ = [
    "EvaluationError",
    "check_fingerprint",
    "resolve_evaluation_config",
    "file_sha256",
    "infer_records",
    "load_probs",
    "make_predictor",
    "run_model",
]


class EvaluationError(SeizureError):
    """The checkpoint and the cache cannot be evaluated together (the message says why)."""


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file (identifies the checkpoint the probabilities came from)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_stem(recording_id: str) -> str:
    return safe_id(recording_id)


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def make_predictor(model: Any, config: Config, device: Any) -> Any:
    """Make the :class:`~seizure.inference.engine.Predictor` of ``model`` on ``device``.

    The inference settings are those of ``config.evaluate`` (the sequence length:
    ``evaluate``'s, else the training length ``train.sequence_windows``).
    """
    from seizure.inference.engine import Predictor

    ev = config.evaluate
    return Predictor(
        model,
        sequence_windows=ev.sequence_windows or config.train.sequence_windows,
        context_windows=ev.context_windows,
        batch_sequences=ev.batch_sequences,
        device=device,
        amp=ev.amp,
        compile=ev.compile,
        reader_threads=ev.reader_threads,
        cuda_graphs=ev.cuda_graphs,
    )


def inference_settings(config: Config) -> dict[str, Any]:
    """Return the settings that change the probabilities (recorded in ``index.json``)."""
    ev = config.evaluate
    return {
        "sequence_windows": ev.sequence_windows or config.train.sequence_windows,
        "context_windows": ev.context_windows,
        "amp": ev.amp,
    }


def load_probs(
    probs_dir: Path,
    records: Sequence[Any],
    sha: str,
    cache_fingerprint: str,
    settings: Mapping[str, Any],
) -> dict[str, np.ndarray] | None:
    """Return the saved probabilities in ``probs_dir`` if they fit, else None.

    They fit when made for this checkpoint (``sha``), cache, set of recordings and inference
    settings (sequence length, context, bf16).
    """
    index_path = probs_dir / "index.json"
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        return None
    if index.get("checkpoint_sha256") != sha or index.get("cache_fingerprint") != cache_fingerprint:
        return None
    if any(index.get(key) != value for key, value in settings.items()):
        return None
    listed = index.get("recordings", {})
    if not isinstance(listed, dict) or set(listed) != {r.recording_id for r in records}:
        return None  # probabilities of other recordings would stay beside this run's
    out = {}
    for rec in records:
        entry = listed.get(rec.recording_id)
        path = probs_dir / f"{_file_stem(rec.recording_id)}.npy"
        if entry is None or entry.get("n_windows") != rec.n_windows or not path.is_file():
            return None
        out[rec.recording_id] = np.load(path)
    return out


def infer_records(
    predictor: Any,
    cache: Any,
    records: Sequence[Any],
    probs_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    writers: int = 8,
    on_recording: Callable[[str, np.ndarray], None] | None = None,
    hypotheses: HypothesisWriter | None = None,
    on_hypotheses: Callable[[str, EventArrays], None] | None = None,
    writer_processes: bool | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities of every window of ``records``, saved as ``probs_dir/<id>.npy``.

    Parameters
    ----------
    predictor : seizure.inference.engine.Predictor
    cache : Cache
        Windows are read memory-mapped, batch by batch.
    records : sequence of CacheRecord
    probs_dir : path, optional
        Where to save each recording's float32 probabilities.
    progress : callable, optional
        Called with the number of windows of each finished batch.
    writers : int
        Background workers that save files (and write the hypotheses, and run
        ``on_recording``) as soon as a recording is complete, so that writing overlaps
        inference.
    on_recording : callable, optional
        ``on_recording(recording_id, probs)``, run in a writer *thread* for every recording
        (an arbitrary callable: the writers are then threads of this process).
    hypotheses : HypothesisWriter, optional
        Post-processes each recording and writes its ``.csv_bi``/``.tsv`` files
        (:mod:`seizure.evaluation.hypotheses`), in a writer.
    on_hypotheses : callable, optional
        ``on_hypotheses(recording_id, events)`` with the events ``hypotheses`` wrote
        (:data:`~seizure.evaluation.hypotheses.EventArrays`), called in this thread after
        the last recording, in the order of ``records``.
    writer_processes : bool, optional
        Writers are worker processes (:class:`~seizure.utils.pool.PipeWorkers`,
        started on first use and kept for later calls) rather than threads, so that their
        Python does not take the GIL from the inference threads. None (default): processes
        unless ``on_recording`` is given. A worker that cannot start or dies is replaced by
        writing in this process.

    Returns
    -------
    dict of str to ndarray of float32, shape (n_windows,)

    Notes
    -----
    The writers' time is added to ``predictor.stats`` (``write_s``: summed over the writers;
    ``write_tail_s``: waited for them after the last recording was predicted).
    """
    import concurrent.futures

    from seizure.evaluation.hypotheses import finish_recording

    folder = None if probs_dir is None else Path(probs_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    if hypotheses is not None:
        Path(hypotheses.folder).mkdir(parents=True, exist_ok=True)
    durations = {r.recording_id: float(r.duration_s) for r in records}
    if writer_processes is None:
        writer_processes = on_recording is None
    if on_recording is not None and writer_processes:
        raise ValueError("on_recording runs in writer threads: use writer_processes=False")

    def job(rid: str, p: np.ndarray) -> tuple:
        stem = _file_stem(rid)
        path = None if folder is None else str(folder / f"{stem}.npy")
        return (path, hypotheses, rid, stem, durations[rid], p)

    def finish_thread(rid: str, p: np.ndarray) -> tuple[float, EventArrays | None]:
        seconds, arrays = finish_recording(*job(rid, p))
        if on_recording is not None:
            t0 = time.perf_counter()
            on_recording(rid, p)
            seconds += time.perf_counter() - t0
        return seconds, arrays

    out: dict[str, np.ndarray] = {}
    pending: list[tuple[str, Any]] = []
    # the windows are opened (np.load of a memory map, ~75 us each) by a helper thread a
    # few dozen recordings ahead, while the main thread waits for the readers or the device
    opener = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seizure-opener")
    stream = _opened_ahead(cache, [r.recording_id for r in records], opener)
    pool = _WriterPool(max(1, writers), processes=bool(writer_processes), work=finish_thread)
    try:
        for rid, p in predictor.predict(stream, progress=progress):
            out[rid] = p
            pending.append((rid, pool.submit(job(rid, p), rid, p)))
        t0 = time.perf_counter()
        results = [(rid, future.result()) for rid, future in pending]  # re-raises a failure
        tail = time.perf_counter() - t0
    finally:
        opener.shutdown(wait=True, cancel_futures=True)
        pool.shutdown([future for _, future in pending])
    stats = getattr(predictor, "stats", None)
    if stats is not None and hasattr(stats, "write_s"):
        stats.write_s, stats.write_tail_s = float(sum(r[0] for _, r in results)), tail
    if on_hypotheses is not None and hypotheses is not None:
        for rid, (_, arrays) in results:
            on_hypotheses(rid, arrays)
    return out


def _opened_ahead(
    cache: Any, ids: Sequence[str], pool: Any, ahead: int = 32
) -> Iterator[tuple[str, np.ndarray]]:
    """``(id, cache.windows(id))`` in order, each opened in ``pool`` up to ``ahead`` early."""
    import collections

    queued: collections.deque = collections.deque()
    todo = iter(ids)
    for rid in todo:
        queued.append((rid, pool.submit(cache.windows, rid)))
        if len(queued) >= ahead:
            break
    while queued:
        rid, future = queued.popleft()
        following = next(todo, None)
        if following is not None:
            queued.append((following, pool.submit(cache.windows, following)))
        yield rid, future.result()


class _WriterPool:
    """Writers of :func:`infer_records`.

    This process's :class:`~seizure.utils.pool.PipeWorkers` (kept between calls), or threads
    running ``work``.
    """

    def __init__(self, workers: int, processes: bool, work: Callable[..., Any]) -> None:
        import concurrent.futures

        from seizure.evaluation.hypotheses import shared_writer_processes

        self.work = work
        self.processes = processes
        if processes:
            self.pool: Any = shared_writer_processes(workers)
        else:
            self.pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="seizure-writer"
            )

    def submit(self, job: tuple, rid: str, p: np.ndarray) -> Any:
        if self.processes:
            return self.pool.submit(job)
        return self.pool.submit(self.work, rid, p)

    def shutdown(self, futures: Sequence[Any] = ()) -> None:
        if not self.processes:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        for future in futures:  # the shared pool goes on: drop what an error left queued
            future.cancel()


def run_model(
    checkpoint: Path,
    config: Config,
    state: Mapping[str, Any],
    cache: Any,
    records: Sequence[Any],
    probs_dir: Path,
    sha: str,
    device: str,
    model_factory: Callable[..., Any] | None,
    say: Callable[[str], None],
    hypotheses: HypothesisWriter | None = None,
    on_hypotheses: Callable[[str, EventArrays], None] | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Run the model over ``records``; save their probabilities into ``probs_dir``.

    Returns
    -------
    probs : dict of str to ndarray of float32, shape (n_windows,)
    seconds : float
        Wall time of the model pass.
    """
    from seizure.inference.device import DeviceError, resolve_device

    try:
        dev = resolve_device(device)
    except DeviceError as err:
        raise EvaluationError(str(err)) from err
    model, _, window_shape = load_model_from_checkpoint(checkpoint, dev, model_factory, state=state)
    if tuple(window_shape) != tuple(cache.window_shape):
        raise EvaluationError(
            f"{checkpoint} expects windows of shape {tuple(window_shape)}, but {cache.path} "
            f"holds windows of shape {tuple(cache.window_shape)}"
        )
    predictor = make_predictor(model, config, dev)
    total = int(sum(r.n_windows for r in records))
    say(f"running {checkpoint.name} on {dev} over {len(records)} recordings ({total} windows)")
    probs_dir.mkdir(parents=True, exist_ok=True)
    (probs_dir / "index.json").unlink(missing_ok=True)  # invalid until rewritten below
    t0 = time.perf_counter()
    with progress(total=total, desc="inference", unit="win") as bar:
        out = infer_records(
            predictor,
            cache,
            records,
            probs_dir,
            progress=bar.update,
            hypotheses=hypotheses,
            on_hypotheses=on_hypotheses,
        )
    seconds = time.perf_counter() - t0
    index = {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha,
        "cache": str(cache.path),
        "cache_fingerprint": cache.fingerprint,
        "window_seconds": cache.window_seconds,
        "stride_seconds": cache.stride_seconds,
        **inference_settings(config),
        "recordings": {
            r.recording_id: {
                "file": f"{_file_stem(r.recording_id)}.npy",
                "n_windows": int(r.n_windows),
                "duration_s": float(r.duration_s),
            }
            for r in records
        },
    }
    atomic_write_text(probs_dir / "index.json", json.dumps(index, indent=1) + "\n")
    st = predictor.stats
    say(
        f"inference: {total} windows in {seconds:.2f} s ({total / max(seconds, 1e-9):,.0f}/s; "
        f"waiting for input {st.wait_input_s:.2f} s, for the device {st.wait_output_s:.2f} s, "
        f"model {st.model_device_s:.2f} s, for the writers {st.write_tail_s:.2f} s)"
    )
    return out, seconds


def resolve_evaluation_config(
    stored: Mapping[str, Any],
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
) -> Config:
    """Resolve the config of an evaluation from the checkpoint's stored config.

    Only ``evaluate`` (and ``seed``) may be changed by ``config_files`` and ``overrides``.

    Raises
    ------
    ConfigError
        On a bad key or value, or when another section would change (naming the keys).
    """
    original = from_dict(Config, stored)
    config = load_config(list(config_files), list(overrides), base=to_dict(original))
    changed = []
    for section in ("preprocess", "synth", "model", "train"):
        a, b = to_dict(getattr(original, section)), to_dict(getattr(config, section))
        changed += [f"{section}.{k}" for k in a if a[k] != b.get(k)]
    if changed:
        raise ConfigError(
            f"only 'evaluate.*' settings can change when evaluating a checkpoint, but "
            f"{', '.join(changed)} differ from the checkpoint's config; a model runs with the "
            "preprocessing, architecture and training it was made with"
        )
    try:
        validate_evaluate_config(config.evaluate)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    ev = config.evaluate
    length = ev.sequence_windows or config.train.sequence_windows
    if 2 * ev.context_windows >= length:
        raise ConfigError(
            f"Invalid value for 'evaluate.context_windows': allowed less than half of the "
            f"inference sequence length ({length} windows), got {ev.context_windows} instead"
        )
    return config


def check_fingerprint(
    state: Mapping[str, Any], config: Config, cache: Any, checkpoint: Any
) -> None:
    """Refuse a cache made with other preprocessing than the checkpoint's training cache.

    Raises
    ------
    EvaluationError
        Naming both fingerprints and every preprocessing parameter that differs.
    """
    expected = state.get("cache_fingerprint") or fingerprint(config.preprocess)
    if expected == cache.fingerprint:
        return
    mine, theirs = to_dict(config.preprocess), to_dict(cache.config)
    diffs = [
        f"{k} (checkpoint {mine.get(k)!r}, cache {theirs.get(k)!r})"
        for k in sorted(set(mine) | set(theirs))
        if mine.get(k) != theirs.get(k)
    ]
    detail = "; differing preprocess settings: " + ", ".join(diffs) if diffs else ""
    raise EvaluationError(
        f"{checkpoint} was trained on a cache with preprocessing fingerprint {expected}, but "
        f"{cache.path} has fingerprint {cache.fingerprint}{detail}. Evaluate on a cache made "
        "with the checkpoint's preprocessing (seizure preprocess CORPUS CACHE --config "
        "<the checkpoint run's config.yaml>)"
    )
