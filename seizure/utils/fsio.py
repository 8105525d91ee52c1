"""Atomic file writes: a killed process never leaves a half-written file behind.

Every writer here creates its temporary file beside the target as ``.NAME.RANDOM.tmp``, with
the mode an ordinary ``open`` would give (``0o666`` less the process's umask, so that a cache
or a run made by one user can be read by colleagues), and renames it over the target only
once it is complete and ``fsync``-ed. A process killed in between leaves only such a
temporary file, which :func:`remove_temporary_files` deletes once no writer is alive.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from seizure.utils.errors import OutputFolderError

__all__ = [
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "is_temporary_name",
    "refuse_overlap",
    "remove_temporary_files",
]

_TMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_temporary(folder: str, name: str) -> tuple[int, str]:
    """Create a new empty ``folder/.name.RANDOM.tmp``; return its descriptor and path.

    Created exclusively (never another writer's file) with mode ``0o666`` less the umask,
    where :func:`tempfile.mkstemp` would give ``0o600``.
    """
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, _TMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name for {name}")  # pragma: no cover


def is_temporary_name(name: str) -> bool:
    """Whether a file name is one of this module's temporary names (``.NAME....tmp``)."""
    return name.startswith(".") and name.endswith(".tmp") and len(name) > len("..tmp")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Give a new temporary file beside ``path`` to write by name; rename it on success.

    For writers that open the file themselves (:func:`numpy.lib.format.open_memmap`). The
    temporary file exists (empty) when the block starts; when the block ends without an
    exception it is ``fsync``-ed and renamed over ``path``, otherwise it is removed and
    ``path`` is untouched. The parent folder is created when missing.

    Parameters
    ----------
    path : str or Path
        The file to write.

    Yields
    ------
    Path
        The temporary file (``.NAME.RANDOM.tmp`` in the same folder).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(str(path.parent), path.name)
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    The rename is atomic on POSIX file systems, so readers see either the old file or the
    complete new one. On an exception the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or Path
        The file to write (its folder is created when missing).
    mode : str
        A writing mode of :func:`open` (``"w"``, ``"wb"``).
    **kwargs
        Passed to :func:`open` (``encoding``, ``newline``).

    Yields
    ------
    file object
        The open temporary file.
    """
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8; see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically and durably, with the fewest system calls.

    A temporary file beside ``path`` (mode ``0o666`` less the umask, as :func:`atomic_open`'s)
    gets ``data`` in one ``write`` on its descriptor, is ``fsync``-ed and renamed over
    ``path``: 5 system calls where a buffered file object takes about 10 (hypothesis files are
    written hundreds a second). The parent folder is created when missing. On an exception
    the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or Path
    data : bytes
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    folder = folder or "."
    try:
        fd, tmp = _create_temporary(folder, name)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = _create_temporary(folder, name)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def refuse_overlap(output: str | Path, inputs: Iterable[str | Path | None], what: str) -> None:
    """Refuse an output folder that is one of the inputs, or holds one of them.

    Output folders may be cleared or rewritten; an input inside one could be lost.

    Parameters
    ----------
    output : path
        The folder a command will write (it need not exist yet).
    inputs : iterable of path or None
        Files and folders the command reads (None entries are ignored).
    what : str
        What the output is, for the message ("cache directory", "run folder").

    Raises
    ------
    seizure.utils.errors.OutputFolderError
        (exit status 2) Naming the output and the input it would be or contain.
    """
    out = Path(output).resolve()
    for item in inputs:
        if item is None:
            continue
        src = Path(item).resolve()
        if src == out or out in src.parents:
            raise OutputFolderError(
                f"{output}: this {what} would {'be' if src == out else 'contain'} the input "
                f"{item}; choose a {what} outside it"
            )


def remove_temporary_files(folders: Iterable[str | Path]) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folders`` (not recursively).

    Only regular files named as this module names them (:func:`is_temporary_name`) are
    removed. The caller must know that no writer into these folders is alive (it holds the
    folder's writers' lock exclusively), since a live writer's temporary file looks the same.

    Parameters
    ----------
    folders : iterable of path
        Folders to clean; missing ones are skipped.

    Returns
    -------
    list of Path
        The files removed.
    """
    removed = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if is_temporary_name(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed
