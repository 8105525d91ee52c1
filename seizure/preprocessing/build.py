"""Turn a corpus into a cache: discovery, sharding, worker processes, failures, summary.

:func:`build_cache` is what ``seizure preprocess`` calls; :func:`process_entry` does one
recording (read, annotate, preprocess, window, write) and never raises for a bad recording:
it records the failure with its reason in the cache and returns it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seizure.config import ConfigError, from_dict
from seizure.config import fingerprint as config_fingerprint
from seizure.io.discovery import discover, load_annotation
from seizure.io.recording import CorpusEntry
from seizure.preprocessing.cache import (
    is_done,
    open_for_writing,
    prune,
    rebuild_manifest,
    record_failure,
    source_stat,
    write_record,
)
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.pipeline import open_windows, window_labels
from seizure.preprocessing.signal import design_filters
from seizure.utils.errors import SeizureError
from seizure.utils.pool import pool_context, process_pool, start_server, stop_on_signals
from seizure.utils.progress import progress as progress_bar

__all__ = ["BuildSummary", "EntryResult", "build_cache", "parse_shard", "process_entry", "shard"]


@dataclass(frozen=True)
class EntryResult:
    """What happened to one recording in this run.

    ``status`` is ``done``, ``skipped`` (already cached and fresh) or ``failed``.
    """

    recording_id: str
    path: str
    status: str
    duration_s: float = 0.0
    reason: str = ""


@dataclass
class BuildSummary:
    """The outcome of one :func:`build_cache` run.

    Attributes
    ----------
    results : list of EntryResult
        One per recording of this shard, in processing order.
    manifest : dict
        The rebuilt manifest (whole cache, all shards).
    seconds : float
        Wall time of the run.
    removed : list of str
        Recordings removed from the cache because the corpus no longer lists them.
    """

    results: list[EntryResult] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    removed: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Count the results with this status."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def failures(self) -> list[EntryResult]:
        """Recordings that failed in this run."""
        return [r for r in self.results if r.status == "failed"]


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"i/N"`` (``0 <= i < N``) into ``(i, N)``; ValueError with the expected form."""
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ValueError(f"expected i/N with integers, for example 0/4, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"expected 0 <= i < N in i/N, got {text!r}")
    return i, n


def shard(entries: Sequence[CorpusEntry], index: int, count: int) -> list[CorpusEntry]:
    """Entries ``k`` (in recording-id order) with ``k mod count == index``."""
    ordered = sorted(entries, key=lambda e: (e.recording_id, str(e.edf_path)))
    return [e for k, e in enumerate(ordered) if k % count == index]


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__

    if isinstance(err, (SeizureError, ValueError, OSError)):
        return text
    return f"{type(err).__name__}: {text}"


def process_entry(
    entry: CorpusEntry,
    cache_dir: str | Path,
    config: PreprocessConfig | dict,
    force: bool = False,
) -> EntryResult:
    """Process one recording into the cache (or record why it cannot be).

    Parameters
    ----------
    entry : CorpusEntry
    cache_dir : path
        A cache prepared by :func:`seizure.preprocessing.cache.open_or_create`.
    config : PreprocessConfig or dict
        (A dict when sent to a worker process.)
    force : bool
        Reprocess even when the cached version is fresh.

    Returns
    -------
    EntryResult
    """
    import numpy as np

    if isinstance(config, dict):
        config = from_dict(PreprocessConfig, config)
    fp = config_fingerprint(config)
    rid, path = entry.recording_id, str(entry.edf_path)
    identity = _identity(entry)
    if not force and is_done(cache_dir, rid, entry.edf_path, fp, identity):
        return EntryResult(rid, path, "skipped")
    duration = 0.0
    try:
        stat = source_stat(entry.edf_path)
        # Planned from the header: a recording the montage cannot use is refused before its
        # data is read, only the channels the montage needs are read, and a long recording
        # is windowed a block at a time as the cache writer asks for them.
        out = open_windows(entry.edf_path, config)
        duration = out.duration_s
        annotation = load_annotation(entry, config.label_map)
        events = annotation.seizures(duration)
        warnings = out.warnings + list(annotation.warnings)
        source_labels = list(out.header.labels)
        windows = out.windows
        if len(windows) == 0:
            raise ValueError(
                f"recording lasts {duration:.3f} s, shorter than one window "
                f"({config.window_seconds} s)"
            )
        labels = window_labels(events, len(windows), config)
        meta = {
            "recording_id": rid,
            "session": entry.session,
            "corpus": entry.corpus,
            "source_stat": stat,
            **identity,  # source, patient, split, annotation and its stat
            "fingerprint": fp,
            "duration_s": duration,
            "montage": config.montage,
            "sample_rate_hz": config.sample_rate_hz,
            "sfreq_hz": out.source_rates_hz,
            "resampled": out.resampled,
            "resample": sorted(
                {
                    f"{r:g} Hz -> {config.sample_rate_hz:g} Hz"
                    for r in out.source_rates_hz.values()
                    if r != config.sample_rate_hz
                }
            ),
            "source_channels": source_labels,
            "channels_filled": list(out.filled),
            "channels_missing": list(out.missing),
            "events": [{"start": e.start, "stop": e.stop, "label": e.label} for e in events],
            "warnings": warnings,
        }
        write_record(cache_dir, meta, windows, labels.astype(np.uint8), config.storage_dtype)
        return EntryResult(rid, path, "done", duration)
    except Exception as err:  # every failure is recorded with its reason, never swallowed
        reason = _describe(err)
        record_failure(cache_dir, rid, path, reason)
        return EntryResult(rid, path, "failed", duration, reason)


def _identity(entry: CorpusEntry) -> dict[str, Any]:
    """Return what, besides the EDF's size and mtime, keeps a cached recording fresh.

    These are its path, patient and split (a patient moved to another split, or a split file
    that reassigns it, must not leave it cached in the old split) and its annotation file's
    path, size and mtime (TUSZ releases correct annotations without touching the EDFs).
    """
    annotation = entry.annotation_path
    try:
        annotation_stat = None if annotation is None else source_stat(annotation)
    except OSError:
        annotation_stat = None
    # absolute paths: the same corpus named as ./corpus or /data/corpus (or from another
    # working directory, as batch jobs may be) is the same corpus
    return {
        "source": str(Path(entry.edf_path).resolve()),
        "patient": entry.patient,
        "split": entry.split,
        "annotation": None if annotation is None else str(Path(annotation).resolve()),
        "annotation_stat": annotation_stat,
    }


def _pool_context():
    # forkserver: workers do not inherit the parent's threads or open files. The server
    # imports the heavy modules once (each worker is forked from it) and sets the workers'
    # environment (idle BLAS threads sleep instead of spinning): see seizure.utils.pool.
    return pool_context(_WORKER_MODULES)


_WORKER_MODULES = (
    "scipy.signal",
    "scipy.fft",
    "seizure.io.discovery",
    "seizure.io.edf",
    "seizure.preprocessing.build",
    "seizure.preprocessing.pipeline",
)


def build_cache(
    corpus: str | Path | Sequence[CorpusEntry],
    cache_dir: str | Path,
    config: PreprocessConfig,
    *,
    jobs: int = 1,
    shard_index: int = 0,
    shard_count: int = 1,
    force: bool = False,
    progress: bool | None = None,
    on_result: Callable[[EntryResult], None] | None = None,
    split_file: str | Path | None = None,
) -> BuildSummary:
    """Preprocess every (missing or stale) recording of a corpus shard into ``cache_dir``.

    Parameters
    ----------
    corpus : path or sequence of CorpusEntry
        A corpus directory (found with :func:`seizure.io.discovery.discover`) or entries.
    cache_dir : path
        Created if needed; an existing cache must have the same fingerprint unless ``force``.
    config : PreprocessConfig
    jobs : int
        Worker processes (1: in this process).
    shard_index, shard_count : int
        Process only entries ``k mod shard_count == shard_index`` (batch arrays).
    force : bool
        Replace a seizure cache made with other settings, and reprocess fresh recordings.
        A folder that is not a seizure cache is never deleted.
    progress : bool or None
        Show a progress bar (None: when stderr is a terminal).
    on_result : callable, optional
        Called with each :class:`EntryResult` as it completes.
    split_file : path, optional
        A ``patient,split`` CSV or YAML file overriding the splits of a corpus directory
        (see :func:`seizure.io.discovery.read_split_file`).

    The cache mirrors the corpus: recordings cached earlier that the corpus no longer lists
    are removed (``BuildSummary.removed``), so a deleted recording never lingers in a split.

    Returns
    -------
    BuildSummary

    Raises
    ------
    CacheError
        When ``cache_dir`` holds another cache and ``force`` is False, or is a folder that
        is not a seizure cache.
    InputFileError
        When ``cache_dir`` is the corpus or holds it.
    FolderBusyError
        When another process is writing into the cache and this run would clear it.
    Interrupted
        On SIGINT or SIGTERM (exit status 130 or 143), once the worker processes are
        terminated and the manifest rebuilt from the recordings finished.
    """
    start = time.perf_counter()
    if isinstance(corpus, (str, Path)):
        entries = list(discover(Path(corpus), split_file=split_file))
    else:
        entries = list(corpus)
    mine = shard(entries, shard_index, shard_count)
    if jobs > 1 and len(mine) > 1:
        # the server imports numpy and scipy.signal on another core while this process
        # checks the filters (importing scipy.signal too) and opens the cache
        start_server(_pool_context())
    cache_dir = Path(cache_dir)
    inputs = [corpus if isinstance(corpus, (str, Path)) else None, split_file]
    inputs += [e.edf_path for e in entries] if not isinstance(corpus, (str, Path)) else []
    try:  # a filter that cannot work refuses the run once, before anything is written
        design_filters(
            config.sample_rate_hz,
            config.bandpass_hz,
            config.notch_hz,
            config.bandpass_order,
            config.notch_q,
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None
    with (
        stop_on_signals("preprocess", _INTERRUPTED),
        open_for_writing(cache_dir, config, force=force, inputs=inputs),
    ):
        return _build(entries, mine, cache_dir, config, jobs, force, progress, on_result, start)


_INTERRUPTED = (
    "the recordings finished before it are cached (nothing half-written is kept); run the "
    "same command again to process the rest"
)


def _build(
    entries: list[CorpusEntry],
    mine: list[CorpusEntry],
    cache_dir: Path,
    config: PreprocessConfig,
    jobs: int,
    force: bool,
    progress: bool | None,
    on_result: Callable[[EntryResult], None] | None,
    start: float,
) -> BuildSummary:

    summary = BuildSummary()
    summary.removed = prune(cache_dir, (e.recording_id for e in entries))
    seen: dict[str, str] = {}
    todo: list[CorpusEntry] = []
    for entry in mine:
        if entry.recording_id in seen:
            result = EntryResult(
                entry.recording_id,
                str(entry.edf_path),
                "failed",
                reason=f"duplicate recording id {entry.recording_id!r} (also "
                f"{seen[entry.recording_id]}); recording ids must be unique in a corpus",
            )
            summary.results.append(result)
            if on_result:
                on_result(result)
            continue
        seen[entry.recording_id] = str(entry.edf_path)
        todo.append(entry)

    bar = progress_bar(total=len(todo), desc="preprocess", unit="rec", disable=_disable(progress))
    hours = 0.0

    def finish(result: EntryResult) -> None:
        nonlocal hours
        summary.results.append(result)
        if result.status == "done":
            hours += result.duration_s / 3600
        bar.update(1)
        bar.set_postfix(hours=f"{hours:.2f}", failed=summary.count("failed"), refresh=False)
        if on_result:
            on_result(result)

    try:
        if jobs <= 1 or len(todo) <= 1:
            for entry in todo:
                finish(process_entry(entry, cache_dir, config, force))
        else:
            _build_pooled(todo, cache_dir, config, jobs, force, finish)
    finally:
        bar.close()
        summary.manifest = rebuild_manifest(cache_dir)
        summary.seconds = time.perf_counter() - start
    return summary


def _build_pooled(
    todo: list[CorpusEntry],
    cache_dir: Path,
    config: PreprocessConfig,
    jobs: int,
    force: bool,
    finish: Callable[[EntryResult], None],
) -> None:
    """Process ``todo`` (two or more recordings) with worker processes.

    Every recording but the first goes to ``min(jobs, len(todo) - 1)`` workers; this
    process does the first one itself while they start, so that a small corpus does not wait
    for the pool before any work is done. The results are the same bytes whoever computes
    them (see :mod:`seizure.utils.pool`).
    """
    first, rest = todo[0], todo[1:]
    with process_pool(min(jobs, len(rest)), _pool_context()) as pool:
        futures = {pool.submit(process_entry, e, str(cache_dir), config, force): e for e in rest}
        finish(process_entry(first, cache_dir, config, force))
        for future in as_completed(futures):
            entry = futures[future]
            try:
                result = future.result()
            except Exception as err:  # a worker died (e.g. out of memory)
                reason = f"worker process failed: {_describe(err)}"
                record_failure(cache_dir, entry.recording_id, entry.edf_path, reason)
                result = EntryResult(
                    entry.recording_id, str(entry.edf_path), "failed", reason=reason
                )
            finish(result)


def _disable(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def default_jobs() -> int:
    """Usable CPU count (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (macOS)
        return max(1, os.cpu_count() or 1)
