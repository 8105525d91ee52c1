"""Output folders of ``seizure evaluate`` and ``seizure detect``: one run per folder.

An output folder describes one run, complete or visibly not:

1. It is refused when it is one of the run's inputs or holds one
   (:func:`seizure.utils.fsio.refuse_overlap`), and when it holds anything but a previous
   run of the same command (recognised by its marker file) or is not empty.
2. It is locked for the run (:func:`seizure.utils.locks.exclusive_folder`): a second run
   into it is refused naming the first.
3. The marker (``evaluation.json``, ``detection.json``) is rewritten with
   ``"complete": false`` first, then the previous run's outputs are removed (only the files
   and folders the command writes; ``keep`` spares some, e.g. probabilities that are
   reused), and the caller rewrites the marker with ``"complete": true`` after its last
   output. A run killed at any point leaves a folder whose marker says it is incomplete,
   never old files beside new ones.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seizure.utils.errors import UsageError
from seizure.utils.fsio import atomic_write_text, refuse_overlap
from seizure.utils.locks import LOCK_NAMES, exclusive_folder, is_empty_folder

__all__ = [
    "DETECTION_FOLDER",
    "EVALUATION_FOLDER",
    "FolderKind",
    "OutputFolderError",
    "claim_output_folder",
    "is_our_folder",
    "write_marker",
]


class OutputFolderError(UsageError):
    """The output folder holds something else than a previous run of the command."""


@dataclass(frozen=True)
class FolderKind:
    """What a command writes into its output folder.

    Attributes
    ----------
    what : str
        The folder's name in messages ("evaluation folder").
    command : str
        The command that writes it ("seizure evaluate").
    marker : str
        File name of the marker, a JSON object, written first and last.
    format : str
        The marker's ``"format"`` entry.
    patterns : tuple of str
        ``fnmatch`` patterns of the command's outputs: top-level names when ``recursive`` is
        False (files or folders, removed whole), file names at any depth otherwise.
    recursive : bool
        Whether outputs lie in subfolders too (``detect`` keeps the input folders' layout).
    legacy_keys : tuple of str
        Keys by which a marker written before it had a ``format`` entry is recognised.
    """

    what: str
    command: str
    marker: str
    format: str
    patterns: tuple[str, ...]
    recursive: bool = False
    legacy_keys: tuple[str, ...] = ()


#: ``seizure evaluate``'s folder (see :mod:`seizure.evaluation.evaluate`).
EVALUATION_FOLDER = FolderKind(
    what="evaluation folder",
    command="seizure evaluate",
    marker="evaluation.json",
    format="seizure-evaluation",
    patterns=(
        "probs",
        "hyp",
        "ref",
        "curve.csv",
        "curve.png",
        "snippets",
        "scores.json",
        "report.md",
        "config.yaml",
    ),  # fmt: skip
    legacy_keys=("checkpoint_sha256", "split", "threshold"),
)

#: ``seizure detect``'s folder (see :mod:`seizure.evaluation.detect`).
DETECTION_FOLDER = FolderKind(
    what="detection folder",
    command="seizure detect",
    marker="detection.json",
    format="seizure-detection",
    patterns=("*.csv_bi", "*.tsv", "*.probs.npy"),
    recursive=True,
)


def _read_marker(folder: Path, kind: FolderKind) -> dict[str, Any] | None:
    try:
        content = json.loads((folder / kind.marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


def is_our_folder(folder: str | Path, kind: FolderKind) -> bool:
    """Tell whether ``folder`` may be cleared for a run of ``kind.command``.

    That is when it does not exist, is empty (lock files aside), holds the command's marker
    (written before anything else, so a killed run leaves it too), or (not ``recursive``)
    holds nothing but ``probs/``: saved probabilities given to ``--reuse-probs``. A folder
    without the marker that holds ``hyp/``, ``ref/`` or a report is refused, since those
    names are common enough to be a user's own.
    """
    folder = Path(folder)
    if not folder.exists():
        return True
    if not folder.is_dir():
        return False
    if is_empty_folder(folder):
        return True
    marker = _read_marker(folder, kind)
    if marker is not None and (
        marker.get("format") == kind.format
        or (kind.legacy_keys and all(k in marker for k in kind.legacy_keys))
    ):
        return True
    if kind.recursive:
        return False
    return all(p.name in LOCK_NAMES or p.name == "probs" for p in folder.iterdir())


def _is_output(name: str, kind: FolderKind) -> bool:
    """``name`` is one of the outputs, or a temporary file an atomic write of one left."""
    if name.startswith(".") and name.endswith(".tmp"):  # fsio's ".<name>.<random>.tmp"
        name = name[1:].rsplit(".", 2)[0]
    return any(fnmatch.fnmatchcase(name, p) for p in kind.patterns)


def _clear(folder: Path, kind: FolderKind, keep: Iterable[str]) -> None:
    """Remove the previous run's outputs (never the marker, the lock or another file)."""
    kept = set(keep)
    if not kind.recursive:
        for entry in folder.iterdir():
            if entry.name in kept or not _is_output(entry.name, kind):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
        return
    for entry in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        if entry.is_dir() and not entry.is_symlink():
            with contextlib.suppress(OSError):  # only folders left empty
                entry.rmdir()
        elif _is_output(entry.name, kind) and entry.relative_to(folder).as_posix() not in kept:
            entry.unlink(missing_ok=True)


def write_marker(folder: str | Path, kind: FolderKind, content: Mapping[str, Any],
                 complete: bool) -> None:  # fmt: skip
    """Write the folder's marker atomically: ``{"format", "complete", **content}``.

    Parameters
    ----------
    folder : path
        The output folder.
    kind : FolderKind
        Names the marker file and its format.
    content : mapping
        JSON-serialisable entries describing the run.
    complete : bool
        True only after the run's last output was written.
    """
    body = {"format": kind.format, "complete": bool(complete), **content}
    atomic_write_text(Path(folder) / kind.marker, json.dumps(body, indent=2) + "\n")


@contextlib.contextmanager
def claim_output_folder(
    folder: str | Path,
    kind: FolderKind,
    inputs: Iterable[str | Path | None],
    start: Mapping[str, Any],
    keep: Iterable[str] = (),
) -> Iterator[Path]:
    """Check, lock and clear an output folder for one run; the block writes the outputs.

    Parameters
    ----------
    folder : path
        The output folder (created when missing).
    kind : FolderKind
        What the command writes.
    inputs : iterable of path or None
        Files and folders the run reads; the folder may neither be nor hold one of them.
    start : mapping
        Entries of the marker written (with ``"complete": false``) before anything is removed.
    keep : iterable of str
        Outputs of the previous run to keep (top-level names; paths relative to the folder
        when ``kind.recursive``).

    Yields
    ------
    Path
        The folder, locked until the block ends.

    Raises
    ------
    seizure.utils.errors.InputFileError
        When the folder is, or holds, one of the inputs.
    OutputFolderError
        (exit status 2) When the folder holds something else than a previous run.
    seizure.utils.locks.FolderBusyError
        When another process is writing into it.
    """
    folder = Path(folder)
    refuse_overlap(folder, [p for p in inputs if p is not None and _resolvable(p)], kind.what)
    _refuse_foreign(folder, kind)
    with exclusive_folder(folder, kind.what):
        _refuse_foreign(folder, kind)  # as it is now that no one else writes into it
        write_marker(folder, kind, start, complete=False)
        _clear(folder, kind, keep)
        yield folder


def _resolvable(path: str | Path) -> bool:
    """Return False for a symbolic-link loop (the command reports it as unreadable)."""
    try:
        Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return True


def _refuse_foreign(folder: Path, kind: FolderKind) -> None:
    if not is_our_folder(folder, kind):
        raise OutputFolderError(
            f"{folder}: this {kind.what} is not empty and was not written by {kind.command} "
            f"(no {kind.marker} of it); choose an empty or new folder, so that nothing in it "
            "is overwritten or mixed with this run's outputs"
        )
