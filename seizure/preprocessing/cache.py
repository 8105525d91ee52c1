"""The preprocessed cache: its layout on disk, the writer primitives and the :class:`Cache` reader.

Layout of a cache directory::

    CACHE/
      cache.json             header: format, version, fingerprint, preprocess config, window
                             shape, channels, rate, storage dtype, units (written first)
      config.yaml            the preprocessing parameters as a ``preprocess:`` section
                             (usable again with --config)
      records/<id>.npy       windows, shape (n_windows, *window_shape), storage dtype
      records/<id>.labels.npy  uint8, shape (n_windows,): 1 when the window's midpoint is ictal
      records/<id>.json      the recording's metadata, written LAST: its presence marks the
                             recording done
      failed/<id>.json       one failure: {"path", "reason", "recording_id"}
      manifest.json          summary rebuilt by scanning records/ and failed/ (end of each run)
      failures.json          every failure, rebuilt with the manifest

Every file is written under a temporary name and renamed into place, and a recording's
metadata goes last, so a killed run leaves no half-written recording: arrays without
metadata are simply rewritten by the next run. Several processes (``--jobs``) and several
batch jobs (``--shard i/N``) can write into one cache because each touches only the files of
its own recordings; the summary files are rebuilt from what is on disk.

Windows are stored as **float16 microvolts** by default (``storage_dtype``): half the size of
float32, read memory-mapped with no scale to apply (the model contract is "microvolts for
raw windows"). float16 has 11 significant bits (a step of 0.06 uV at 100 uV, 0.5 uV at
1,000 uV), well under EEG noise; values beyond +-65,504 uV are clipped with a warning. LFCC
features are stored in the same dtype.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure import __version__
from seizure.config import fingerprint as config_fingerprint
from seizure.config import from_dict, save_config, to_dict
from seizure.io.events import Event
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.montage import get_montage
from seizure.preprocessing.pipeline import window_shape
from seizure.utils.errors import EXIT_USAGE, OutputFolderError, SeizureError
from seizure.utils.fsio import (
    atomic_open,
    atomic_write_text,
    refuse_overlap,
    remove_temporary_files,
)
from seizure.utils.locks import FolderBusyError, FolderLock, is_empty_folder, unusable_folder

__all__ = [
    "CACHE_FORMAT",
    "CACHE_VERSION",
    "Cache",
    "CacheError",
    "CacheFolderError",
    "CacheRecord",
    "cache_header",
    "is_done",
    "open_for_writing",
    "open_or_create",
    "prune",
    "rebuild_manifest",
    "record_failure",
    "safe_id",
    "to_storage",
    "write_record",
]

CACHE_FORMAT = "seizure-cache"
CACHE_VERSION = 1
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_CHUNK_WINDOWS = 512


class CacheError(SeizureError):
    """A cache directory is missing, is not a seizure cache, or was made with other settings."""


class CacheFolderError(CacheError, OutputFolderError):
    """A cache directory refused as the output of ``seizure preprocess`` (exit status 2).

    It is not a directory, holds something else than a seizure cache, was made with other
    settings (without ``force``), or cannot be created or written.
    """

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class CacheRecord:
    """One processed recording, as listed in the cache.

    Parameters
    ----------
    recording_id : str
        Unique id in the corpus (``aaaaaool_s004_t001``).
    patient, session, split, corpus : str
        From discovery; ``split`` is ``train``, ``dev`` or ``eval``.
    duration_s : float
        Duration of the source recording in seconds.
    n_windows : int
        Windows cached (the tail shorter than one window is dropped).
    source : str
        Path of the EDF file.
    channels_filled : tuple of str
        Montage channels filled with zeros because the recording lacks them.
    warnings : tuple of str
        Everything noticed while reading and processing (clipped events, filled channels...).
    events : tuple of Event
        Reference seizure events in seconds (sorted, merged, clipped to ``duration_s``).
    sfreq_hz : dict of str to float
        Original sampling rate of every channel used, in Hz.
    resampled : bool
        True when any channel was resampled to the cache's rate.
    n_seizure_windows : int
        Windows labelled ictal.
    annotation : str or None
        Path of the annotation file read.
    """

    recording_id: str
    patient: str
    session: str
    split: str
    duration_s: float
    n_windows: int
    source: str
    channels_filled: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    sfreq_hz: dict[str, float] = field(default_factory=dict)
    resampled: bool = False
    n_seizure_windows: int = 0
    annotation: str | None = None
    corpus: str = ""

    @property
    def seizure_seconds(self) -> float:
        """Total seizure duration in seconds."""
        return float(sum(e.stop - e.start for e in self.events))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CacheRecord:
        """Build from a metadata dict as stored in ``records/<id>.json``."""
        return cls(
            recording_id=data["recording_id"],
            patient=data["patient"],
            session=data.get("session", ""),
            split=data["split"],
            duration_s=float(data["duration_s"]),
            n_windows=int(data["n_windows"]),
            source=data["source"],
            channels_filled=tuple(data.get("channels_filled", ())),
            warnings=tuple(data.get("warnings", ())),
            events=tuple(
                Event(float(e["start"]), float(e["stop"]), e.get("label", "seiz"))
                for e in data.get("events", ())
            ),
            sfreq_hz={k: float(v) for k, v in data.get("sfreq_hz", {}).items()},
            resampled=bool(data.get("resampled", False)),
            n_seizure_windows=int(data.get("n_seizure_windows", 0)),
            annotation=data.get("annotation"),
            corpus=data.get("corpus", ""),
        )


# --------------------------------------------------------------------------- layout helpers

_UNSAFE = re.compile(r"[^A-Za-z0-9_+-]")


def safe_id(recording_id: str) -> str:
    """File-name form of a recording id, one to one: distinct ids give distinct names.

    Letters, digits and ``_+-`` are kept; every other character (``.`` and ``%``
    included) becomes ``%XX`` per UTF-8 byte, so ``p_r 1`` -> ``p_r%201`` never meets
    ``p_r_1``, ``x.labels`` never meets the labels file of ``x``, and no name starts with a
    dot. TUSZ, CHB-MIT and Siena ids are unchanged.
    """
    if not recording_id:
        return "%"  # the empty id; no other id maps here ('%' alone is never produced)
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), recording_id)


def _records_dir(root: Path) -> Path:
    return root / "records"


def _failed_dir(root: Path) -> Path:
    return root / "failed"


def _meta_path(root: Path, recording_id: str) -> Path:
    return _records_dir(root) / f"{safe_id(recording_id)}.json"


def _windows_path(root: Path, recording_id: str) -> Path:
    return _records_dir(root) / f"{safe_id(recording_id)}.npy"


def _labels_path(root: Path, recording_id: str) -> Path:
    return _records_dir(root) / f"{safe_id(recording_id)}.labels.npy"


def _failure_path(root: Path, recording_id: str) -> Path:
    return _failed_dir(root) / f"{safe_id(recording_id)}.json"


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n")


# --------------------------------------------------------------------------- writer


def cache_header(config: PreprocessConfig) -> dict[str, Any]:
    """Return the ``cache.json`` content for a config (everything but the creation time)."""
    return {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "fingerprint": config_fingerprint(config),
        "preprocess": to_dict(config),
        "window_shape": list(window_shape(config)),
        "window_seconds": config.window_seconds,
        "stride_seconds": config.stride_seconds,
        "sample_rate_hz": config.sample_rate_hz,
        "features": config.features,
        "montage": config.montage,
        "channels": list(get_montage(config.montage).channels),
        "storage_dtype": config.storage_dtype,
        "units": "uV" if config.features == "raw" else "lfcc",
        "seizure_version": __version__,
    }


def _load_header(root: Path) -> dict[str, Any]:
    path = root / "cache.json"
    if not root.is_dir():
        raise CacheError(
            f"{root}: no such cache directory; create one with 'seizure preprocess CORPUS {root}'"
        )
    if not path.is_file():
        raise CacheError(
            f"{root}: not a seizure cache (no cache.json); create one with "
            f"'seizure preprocess CORPUS {root}'"
        )
    try:
        header = _read_json(path)
    except (OSError, ValueError) as err:
        raise CacheError(f"{path}: unreadable cache header ({err})") from err
    if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT:
        raise CacheError(f"{path}: not a seizure cache header (format is not {CACHE_FORMAT!r})")
    if header.get("version") != CACHE_VERSION:
        raise CacheError(
            f"{path}: cache format version {header.get('version')!r}, this package reads "
            f"version {CACHE_VERSION}; rebuild it with 'seizure preprocess ... --force'"
        )
    missing = [key for key in _HEADER_KEYS if key not in header]
    wrong = [
        key
        for key, kind in _HEADER_KEYS.items()
        if key in header and not isinstance(header[key], kind)
    ]
    if missing or wrong:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"malformed {', '.join(wrong)}"] if wrong else []
        )
        raise CacheError(
            f"{path}: damaged cache header ({'; '.join(problems)}); rebuild the cache with "
            f"'seizure preprocess CORPUS {root} --force'"
        )
    return header


#: Keys every ``cache.json`` holds, with the JSON type of their value.
_HEADER_KEYS: dict[str, type | tuple[type, ...]] = {
    "fingerprint": str,
    "preprocess": dict,
    "window_shape": list,
    "window_seconds": (int, float),
    "stride_seconds": (int, float),
    "sample_rate_hz": (int, float),
    "channels": list,
    "storage_dtype": str,
}


def open_or_create(
    root: str | Path,
    config: PreprocessConfig,
    force: bool = False,
    *,
    before_clear: Callable[[], None] | None = None,
) -> dict:
    """Prepare ``root`` for writing with ``config``; return its header.

    A new or empty directory becomes a cache. An existing cache with the same fingerprint is
    reused (only missing or stale recordings will be processed). One with another
    fingerprint, or another cache format version, is refused with :class:`CacheFolderError`
    (exit status 2) unless ``force``, which deletes that cache's own files first
    (:func:`_clear`). A non-empty directory that is not a seizure cache is always refused:
    ``force`` never deletes a folder this package did not write.

    Parameters
    ----------
    root : path
        The cache directory.
    config : PreprocessConfig
        The preprocessing to cache.
    force : bool
        Replace a seizure cache made with other settings.
    before_clear : callable, optional
        Called before a cache is cleared; raises to prevent it (the builder checks that no
        other process is writing into the cache).
    """
    root = Path(root)
    header = cache_header(config)
    if root.exists() and not root.is_dir():
        raise CacheFolderError(f"{root}: exists and is not a directory")
    existing: dict | None = None
    if (root / "cache.json").is_file():
        try:
            existing = _load_header(root)
        except CacheError as err:
            if not force or not _is_our_header(root / "cache.json"):
                raise CacheFolderError(
                    f"{err}; --force only replaces a folder holding a seizure cache.json, so "
                    "choose a new cache directory (or delete this one yourself)"
                    if force
                    else str(err)
                ) from None
            existing = {"fingerprint": None}
    elif root.is_dir() and not is_empty_folder(root):
        raise CacheFolderError(
            f"{root}: directory is not empty and is not a seizure cache (no cache.json); "
            "choose a new or empty directory (--force never deletes a folder that is not a "
            "seizure cache)"
        )
    if existing is not None and existing.get("fingerprint") != header["fingerprint"]:
        if not force:
            old = existing.get("preprocess", {})
            diff = sorted(k for k in header["preprocess"] if old.get(k) != header["preprocess"][k])
            raise CacheFolderError(
                f"{root}: this cache was made with other preprocessing (fingerprint "
                f"{existing.get('fingerprint')}, this run {header['fingerprint']}; differing: "
                f"{', '.join(diff) or 'unknown'}); refusing to mix them. Use a new cache "
                "directory, or pass --force to delete this cache and rebuild it"
            )
        if before_clear is not None:
            before_clear()
        _clear(root)
        existing = None
    _records_dir(root).mkdir(parents=True, exist_ok=True)
    _failed_dir(root).mkdir(parents=True, exist_ok=True)
    if existing is None:
        header["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        save_config(_PreprocessSection(config), root / "config.yaml")
        _write_json(root / "cache.json", header)
        return header
    return existing


@contextlib.contextmanager
def open_for_writing(
    root: str | Path,
    config: PreprocessConfig,
    *,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    wait_s: float = 120.0,
) -> Iterator[dict]:
    """:func:`open_or_create` under the cache's locks; yields the header for the run.

    Writers of one cache meet at ``CACHE/.lock``, held only while the header is checked or
    created, so two runs with different settings can never both create a new cache. For the
    rest of the run each writer holds ``CACHE/.writing`` shared: shard jobs with the same
    settings write side by side, and a ``force`` run that would clear the cache is refused
    while any of them runs. Locks die with their process, so a killed run blocks nothing.
    A run that finds no other writer (it can take ``.writing`` exclusively) removes the
    temporary files that killed runs left in the cache (``.*.tmp`` in the cache folder,
    ``records/`` and ``failed/``); a live writer's are never touched.

    Parameters
    ----------
    root : path
        The cache directory.
    config : PreprocessConfig
        The preprocessing to cache.
    force : bool
        See :func:`open_or_create`.
    inputs : iterable of path
        What the run reads (the corpus, a split file): the cache may neither be one nor hold
        one.
    wait_s : float
        Seconds to wait for another writer to finish checking or creating the header.

    Raises
    ------
    CacheFolderError
        (exit status 2) See :func:`open_or_create`.
    seizure.utils.errors.OutputFolderError
        (exit status 2) The cache directory is an input or holds one, or cannot be created
        or written.
    FolderBusyError
        Another process is writing into the cache (``force``), or holds its header lock.
    """
    refuse_overlap(root, inputs, "cache directory")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise CacheFolderError(f"{root}: exists and is not a directory")
    writing = FolderLock(root, ".writing", "cache")

    def no_other_writer() -> None:
        if not writing.try_acquire(shared=False):
            raise FolderBusyError(
                f"{root}: another preprocess run is writing into this cache; --force would "
                "delete its work. Wait for it to finish, or choose another cache directory"
            )
        writing.release()

    with FolderLock(root, ".lock", "cache").acquire(timeout_s=wait_s):
        try:
            header = open_or_create(root, config, force=force, before_clear=no_other_writer)
        except OSError as exc:
            raise unusable_folder(root, "cache", exc) from None
        if writing.try_acquire(shared=False):  # no other writer is alive: sweep after kills
            remove_temporary_files([root, _records_dir(root), _failed_dir(root)])
            writing.release()
        writing.acquire(shared=True)
    try:
        yield header
    finally:
        writing.release()


def _is_our_header(path: Path) -> bool:
    """Tell whether ``path`` is a JSON object written by this package (any cache version)."""
    try:
        data = _read_json(path)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == CACHE_FORMAT


@dataclass(frozen=True)
class _PreprocessSection:
    """``config.yaml`` holds a ``preprocess:`` section so it can be given back to --config."""

    preprocess: PreprocessConfig


#: What a cache writes, and so what clearing it may delete (see :func:`_clear`).
_OUR_TOP_FILES = ("cache.json", "config.yaml", "manifest.json", "failures.json")
_OUR_SUFFIXES = (".npy", ".json", ".tmp")


def _clear(root: Path) -> None:
    """Delete the cache's own files.

    These are its header files and what ``records/`` and ``failed/`` hold under the names the
    writer uses. Anything else found there is left in place.
    """
    for name in ("records", "failed"):
        folder = root / name
        if not folder.is_dir() or folder.is_symlink():
            continue
        for child in folder.iterdir():
            if child.is_file() and not child.is_symlink() and child.name.endswith(_OUR_SUFFIXES):
                child.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when nothing foreign is left in it
    for name in _OUR_TOP_FILES:
        with contextlib.suppress(FileNotFoundError):
            (root / name).unlink()


def source_stat(path: str | Path) -> dict[str, int]:
    """Size in bytes and modification time (ns) of a source file: what staleness compares."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_done(
    root: str | Path,
    recording_id: str,
    source: str | Path,
    fingerprint: str,
    expected: Mapping[str, Any] | None = None,
) -> bool:
    """Tell whether ``recording_id`` is cached, complete and fresh.

    It is when cached from the same source file (size and mtime) with the same fingerprint,
    its arrays are present, whole and as long as its metadata says, and its metadata holds
    every ``expected`` value (the builder passes the source path, patient, split and the
    annotation file's path and stat, so a patient moved to another split or a corrected
    annotation is reprocessed).
    """
    root = Path(root)
    meta_path = _meta_path(root, recording_id)
    try:
        meta = _read_json(meta_path)
        stat = source_stat(source)
    except (OSError, ValueError):
        return False
    n_windows = meta.get("n_windows")
    return (
        meta.get("fingerprint") == fingerprint
        and meta.get("recording_id") == recording_id
        and meta.get("source_stat") == stat
        and _npy_rows(_windows_path(root, recording_id)) == n_windows
        and _npy_rows(_labels_path(root, recording_id)) == n_windows
        and all(meta.get(key) == value for key, value in (expected or {}).items())
    )


def _npy_rows(path: Path) -> int | None:
    """Rows of a ``.npy`` file whose size matches its header; None when it is not one.

    Maps the file without reading it: a truncated file, a pickled object array or a foreign
    file gives None, so that the builder rewrites it (the reader refuses it naming the file).
    """
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):  # truncated (mmap past the end), pickled, not a .npy
        return None
    shape = array.shape
    del array
    if not shape:
        return None
    return int(shape[0])


def prune(root: str | Path, keep: Iterable[str]) -> list[str]:
    """Remove the recordings (and recorded failures) whose id is not in ``keep``.

    A cache mirrors one corpus: a recording deleted from the corpus must not stay in a split.
    The metadata file goes first, so an interrupted prune leaves nothing that looks cached.

    Returns
    -------
    list of str
        The ids removed, sorted.
    """
    root = Path(root)
    keep_safe = {safe_id(k) for k in keep}
    removed: set[str] = set()
    for folder in (_records_dir(root), _failed_dir(root)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            if path.stem in keep_safe:
                continue
            try:
                rid = _read_json(path).get("recording_id", path.stem)
            except (OSError, ValueError):
                rid = path.stem
            for stale in (path, folder / f"{path.stem}.npy", folder / f"{path.stem}.labels.npy"):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
            removed.add(str(rid))
    return sorted(removed)


def to_storage(chunk: np.ndarray, dtype: str) -> tuple[np.ndarray, int]:
    """Cast windows to the cache's storage dtype exactly as the cache writer does.

    float16 holds +-65,504 at most: larger values (a 150 mV artifact, a disconnected
    electrode) are clipped to that range rather than becoming inf, which would turn the
    model's output for the whole sequence into NaN.

    Parameters
    ----------
    chunk : array_like, shape (n_windows, ...)
        Windows in microvolts (or LFCC features).
    dtype : {'float16', 'float32'}
        The storage dtype (``PreprocessConfig.storage_dtype``).

    Returns
    -------
    (ndarray, int)
        The windows in ``dtype`` and the number of values clipped.
    """
    chunk = np.asarray(chunk)
    clipped = 0
    if dtype == "float16" and chunk.size:
        over = np.abs(chunk) > _FLOAT16_MAX
        if over.any():
            clipped = int(over.sum())
            chunk = np.clip(chunk, -_FLOAT16_MAX, _FLOAT16_MAX)
    return chunk.astype(np.dtype(dtype), copy=False), clipped


def _write_npy(path: Path, array: np.ndarray, dtype: str) -> int:
    """Write ``array`` as ``.npy`` in ``dtype`` under a temporary name, then rename it.

    The temporary file comes from :func:`seizure.utils.fsio.atomic_open` (a name of its own,
    the umask's mode).

    Converts a chunk of windows at a time (peak memory stays at the chunk). Returns the
    number of values clipped to the float16 range.
    """
    clipped = 0
    # plain writes, not a memory map: mapped pages of the output would count in the
    # process's resident memory, as much as the whole array for a long recording
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": tuple(array.shape),
    }
    with atomic_open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, len(array), _CHUNK_WINDOWS):
            chunk, n_clipped = to_storage(array[start : start + _CHUNK_WINDOWS], dtype)
            clipped += n_clipped
            handle.write(np.ascontiguousarray(chunk).tobytes())
    return clipped


def write_record(
    root: str | Path,
    meta: dict[str, Any],
    windows: np.ndarray,
    labels: np.ndarray,
    storage_dtype: str,
) -> dict[str, Any]:
    """Write one recording: windows, labels, then (last) its metadata.

    Parameters
    ----------
    root : path
        The cache directory (prepared by :func:`open_or_create`).
    meta : dict
        Metadata; must hold ``recording_id``. ``n_windows``, ``window_dtype`` and
        ``n_seizure_windows`` are added.
    windows : ndarray, shape (n_windows, *window_shape)
    labels : ndarray of uint8, shape (n_windows,)
    storage_dtype : {'float16', 'float32'}

    Returns
    -------
    dict
        The metadata written.
    """
    root = Path(root)
    rid = meta["recording_id"]
    with contextlib.suppress(FileNotFoundError):
        _meta_path(root, rid).unlink()  # not done until the new metadata is in place
    clipped = _write_npy(_windows_path(root, rid), windows, storage_dtype)
    _write_npy(_labels_path(root, rid), np.asarray(labels, dtype=np.uint8), "uint8")
    meta = dict(meta)
    if clipped:
        meta.setdefault("warnings", []).append(
            f"{meta.get('source')}: {clipped} values beyond +-{_FLOAT16_MAX:g} were clipped "
            "to fit float16"
        )
    meta["n_windows"] = int(len(windows))
    meta["n_seizure_windows"] = int(np.count_nonzero(labels))
    meta["window_dtype"] = storage_dtype
    meta["windows_file"] = _windows_path(root, rid).name
    meta["labels_file"] = _labels_path(root, rid).name
    _write_json(_meta_path(root, rid), meta)
    with contextlib.suppress(FileNotFoundError):
        _failure_path(root, rid).unlink()
    return meta


def record_failure(root: str | Path, recording_id: str, path: str | Path, reason: str) -> None:
    """Record that ``recording_id`` failed (and drop any older cached version of it)."""
    root = Path(root)
    for stale in (
        _meta_path(root, recording_id),
        _windows_path(root, recording_id),
        _labels_path(root, recording_id),
    ):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    _write_json(
        _failure_path(root, recording_id),
        {"path": str(path), "reason": reason, "recording_id": recording_id},
    )


def _scan(root: Path, fingerprint: str | None) -> tuple[list[dict], list[dict]]:
    records = []
    rdir = _records_dir(root)
    if rdir.is_dir():
        for path in sorted(rdir.glob("*.json")):
            try:
                meta = _read_json(path)
            except (OSError, ValueError):
                continue  # being replaced right now, or foreign
            if fingerprint is None or meta.get("fingerprint") == fingerprint:
                records.append(meta)
    done = {safe_id(m["recording_id"]) for m in records}
    failed = []
    fdir = _failed_dir(root)
    if fdir.is_dir():
        for path in sorted(fdir.glob("*.json")):
            if path.stem in done:
                continue
            try:
                failed.append(_read_json(path))
            except (OSError, ValueError):
                continue
    records.sort(key=lambda m: m["recording_id"])
    failed.sort(key=lambda f: (f.get("recording_id", ""), f.get("path", "")))
    return records, failed


def rebuild_manifest(root: str | Path) -> dict[str, Any]:
    """Scan ``records/`` and ``failed/`` and rewrite ``manifest.json`` and ``failures.json``.

    Returns
    -------
    dict
        The manifest: the header plus ``records`` (metadata of every done recording, sorted by
        id), ``failed`` and ``totals``.
    """
    root = Path(root)
    header = _load_header(root)
    records, failed = _scan(root, header["fingerprint"])
    manifest = dict(header)
    manifest["records"] = records
    manifest["failed"] = [{"path": f["path"], "reason": f["reason"]} for f in failed]
    manifest["totals"] = summarize(records, failed)
    _write_json(root / "manifest.json", manifest)
    _write_json(root / "failures.json", failed)
    return manifest


def summarize(records: Iterable[Mapping[str, Any]], failed: Iterable[Mapping[str, Any]]) -> dict:
    """Count recordings, hours, seizure events and seconds per split over record metadata."""
    records = list(records)
    splits: dict[str, dict[str, Any]] = {}
    for meta in records:
        entry = splits.setdefault(
            meta["split"], {"recordings": 0, "patients": set(), "hours": 0.0, "seizure_events": 0}
        )
        entry["recordings"] += 1
        entry["patients"].add(meta["patient"])
        entry["hours"] += meta["duration_s"] / 3600
        entry["seizure_events"] += len(meta.get("events", ()))
    return {
        "recordings": len(records),
        "hours": float(sum(m["duration_s"] for m in records)) / 3600,
        "windows": sum(int(m["n_windows"]) for m in records),
        "seizure_events": sum(len(m.get("events", ())) for m in records),
        "seizure_seconds": float(
            sum(float(e["stop"]) - float(e["start"]) for m in records for e in m.get("events", ()))
        ),
        "patients": len({m["patient"] for m in records}),
        "channels_filled": sum(1 for m in records if m.get("channels_filled")),
        "warnings": sum(len(m.get("warnings", ())) for m in records),
        "failed": len(list(failed)),
        "splits": {
            name: {
                "recordings": s["recordings"],
                "patients": len(s["patients"]),
                "hours": s["hours"],
                "seizure_events": s["seizure_events"],
            }
            for name, s in sorted(splits.items())
        },
    }


# --------------------------------------------------------------------------- reader


class Cache:
    """Read a cache written by ``seizure preprocess`` (see the module docstring for the layout).

    Parameters
    ----------
    path : str or Path
        The cache directory.

    Attributes
    ----------
    config : PreprocessConfig
        The preprocessing parameters the cache was made with.
    fingerprint : str
        Their fingerprint (:func:`seizure.config.fingerprint`).
    window_shape : tuple of int
        Shape of one window: ``(n_channels, window_samples)`` raw, or
        ``(n_channels, frames_per_window, n_features)`` LFCC.
    window_seconds, stride_seconds : float
        Window ``k`` covers ``[k * stride, k * stride + window)`` seconds.
    channels : tuple of str
        Montage channel names.
    records : list of CacheRecord
        Every processed recording, sorted by id.
    failed : list of dict
        ``{"path", "reason"}`` of every recording that could not be processed.

    Raises
    ------
    CacheError
        When ``path`` is missing or is not a seizure cache of this format version.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.header = _load_header(self.path)
        self.config: PreprocessConfig = from_dict(PreprocessConfig, self.header["preprocess"])
        self.fingerprint: str = self.header["fingerprint"]
        self.window_shape: tuple[int, ...] = tuple(int(n) for n in self.header["window_shape"])
        self.window_seconds: float = float(self.header["window_seconds"])
        self.stride_seconds: float = float(self.header["stride_seconds"])
        self.sample_rate_hz: float = float(self.header["sample_rate_hz"])
        self.channels: tuple[str, ...] = tuple(self.header["channels"])
        self.storage_dtype: str = self.header["storage_dtype"]
        metas, failed = self._load_listing()
        self._meta = {m["recording_id"]: m for m in metas}
        self.records: list[CacheRecord] = [CacheRecord.from_json(m) for m in metas]
        self._by_id = {r.recording_id: r for r in self.records}
        self.failed: list[dict[str, str]] = [
            {"path": f["path"], "reason": f["reason"]} for f in failed
        ]

    def _load_listing(self) -> tuple[list[dict], list[dict]]:
        """Use manifest.json when it lists exactly the metadata files on disk, else scan."""
        rdir = _records_dir(self.path)
        on_disk = (
            {p.name[:-5] for p in os.scandir(rdir) if p.name.endswith(".json")}
            if rdir.is_dir()
            else set()
        )
        failed_on_disk = (
            {p.name[:-5] for p in os.scandir(_failed_dir(self.path)) if p.name.endswith(".json")}
            if _failed_dir(self.path).is_dir()
            else set()
        )
        manifest_path = self.path / "manifest.json"
        if manifest_path.is_file():
            try:
                manifest = _read_json(manifest_path)
                listed = {safe_id(m["recording_id"]) for m in manifest["records"]}
                failures = _read_json(self.path / "failures.json")
                listed_failed = {safe_id(f["recording_id"]) for f in failures}
                if (
                    manifest.get("fingerprint") == self.fingerprint
                    and listed == on_disk
                    and listed_failed == failed_on_disk - on_disk
                ):
                    return manifest["records"], failures
            except (OSError, ValueError, KeyError, TypeError):
                pass
        return _scan(self.path, self.fingerprint)

    def __repr__(self) -> str:
        return (
            f"Cache({str(self.path)!r}, {len(self.records)} recordings, "
            f"window_shape={self.window_shape}, fingerprint={self.fingerprint})"
        )

    def __len__(self) -> int:
        return len(self.records)

    def record(self, recording_id: str) -> CacheRecord:
        """Return the :class:`CacheRecord` of one recording.

        Raises KeyError naming the cache when the recording is absent.
        """
        try:
            return self._by_id[recording_id]
        except KeyError:
            raise KeyError(f"{self.path}: no recording {recording_id!r} in this cache") from None

    def split(self, name: str) -> list[CacheRecord]:
        """Return the records of one split (``train``, ``dev``, ``eval``), sorted by id."""
        return [r for r in self.records if r.split == name]

    def windows(self, recording_id: str) -> np.ndarray:
        """Windows of one recording, memory-mapped read-only.

        Returns
        -------
        ndarray, shape (n_windows, *window_shape), dtype ``storage_dtype`` (float16 by
        default), microvolts for raw windows
        """
        record = self.record(recording_id)
        return self._array(_windows_path(self.path, recording_id), record, self.window_shape)

    def labels(self, recording_id: str) -> np.ndarray:
        """Window labels: uint8, shape (n_windows,), 1 when the window's midpoint is ictal."""
        record = self.record(recording_id)
        return np.asarray(self._array(_labels_path(self.path, recording_id), record, ()))

    def _array(self, path: Path, record: CacheRecord, tail: tuple[int, ...]) -> np.ndarray:
        """Memory-map one array, refusing it unless it matches the record's metadata."""
        expected = (record.n_windows, *tail)
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            problem = None if array.shape == expected else f"shape {array.shape}"
        except (OSError, ValueError) as err:
            problem = f"unreadable ({err})"
        if problem is not None:
            raise CacheError(
                f"{path}: {problem}, but the metadata of {record.recording_id!r} says shape "
                f"{expected}; the cache is damaged. Run 'seizure preprocess' into it again "
                "to rewrite this recording"
            )
        return array

    def events(self, recording_id: str) -> list[Event]:
        """Return the reference seizure events of one recording, in seconds."""
        return list(self.record(recording_id).events)

    def metadata(self, recording_id: str) -> dict[str, Any]:
        """Everything stored about one recording (the ``records/<id>.json`` content)."""
        self.record(recording_id)
        return dict(self._meta[recording_id])

    def summary(self) -> dict[str, Any]:
        """Totals: recordings, hours, seizure events and seconds, splits, failures."""
        return summarize(self._meta.values(), self.failed)
