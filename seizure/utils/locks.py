"""Advisory locks on output folders, so that two runs never write into one folder at once.

A lock is an ``flock`` on a small file inside the folder (``.lock``). The kernel releases it
when the process that holds it exits, however it exits (SIGKILL included), so a lock left by
a killed run never blocks the next one: after a kill the file stays, the lock does not (after
a normal exit the file is removed). The file holds the holder's pid, host, start time and
command line, only to name it in the refusal message.

``flock`` works on local file systems and on NFSv4 (Linux maps it onto POSIX byte-range
locks there). Where :mod:`fcntl` does not exist (Windows) locking is a no-op.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from seizure.utils.errors import OutputFolderError, SeizureError

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_NAMES",
    "FolderBusyError",
    "FolderLock",
    "exclusive_folder",
    "is_empty_folder",
    "unusable_folder",
]

#: Names of the lock files this package creates inside its output folders (ignored when a
#: folder is checked for being empty).
LOCK_NAMES: frozenset[str] = frozenset({".lock", ".writing"})


class FolderBusyError(SeizureError):
    """Another process holds the lock on an output folder (exit status 1: try again later)."""


def unusable_folder(folder: str | Path, what: str, exc: OSError) -> OutputFolderError:
    """Make the error for an output folder that cannot be created or written.

    Parameters
    ----------
    folder : path
        The output folder.
    what : str
        What the folder is, for the message ("cache", "run folder").
    exc : OSError
        What creating or writing it raised (its ``filename`` is the path that failed).

    Returns
    -------
    OutputFolderError
        To be raised by the caller, naming the folder, the path that failed and the reason.
    """
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(folder) else ""
    reason = exc.strerror or str(exc)
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        reason += ": a file stands where a folder is needed"
    return OutputFolderError(
        f"{folder}: cannot create or write this {what}{where}: {reason}; choose another "
        f"{what}, one you can create and write"
    )


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["time"])))
        return f"pid {info['pid']} on {info['host']}, since {when}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class FolderLock:
    """An ``flock`` on ``folder/name``, taken without waiting (or polling up to a timeout).

    Parameters
    ----------
    folder : path
        The folder to lock (created if needed).
    name : str
        File name of the lock inside ``folder`` (one of :data:`LOCK_NAMES`).
    what : str
        What the folder is, for messages ("run folder", "cache", ...).
    """

    def __init__(self, folder: str | Path, name: str = ".lock", what: str = "folder") -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def try_acquire(self, *, shared: bool = False, timeout_s: float = 0.0) -> bool:
        """Take the lock; False when another process holds it past ``timeout_s`` seconds.

        Raises
        ------
        seizure.utils.errors.OutputFolderError
            The folder cannot be created or the lock file written in it (a file in the
            path, no permission): exit status 2.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: lock already held by this object")
        if fcntl is None:  # pragma: no cover (Windows)
            self._fd = self._open()
            return True
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout_s
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                continue
            if self._same_file(fd):
                break
            os.close(fd)  # the holder removed the file as we opened it: lock the new one
        self._fd = fd
        if not shared:
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "time": time.time(),
                "command": " ".join(sys.argv) or sys.executable,
            }
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        return True

    def _open(self) -> int:
        """Create the folder and open (creating) the lock file; OutputFolderError if we cannot."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise unusable_folder(self.folder, self.what, exc) from None

    def acquire(self, *, shared: bool = False, timeout_s: float = 0.0) -> FolderLock:
        """Take the lock or raise :class:`FolderBusyError` naming the holder."""
        if not self.try_acquire(shared=shared, timeout_s=timeout_s):
            holder = _describe_holder(self.folder / ".lock")
            raise FolderBusyError(
                f"{self.folder}: this {self.what} is being written by {holder}; wait for it to "
                f"finish or choose another {self.what} (the lock is released as soon as that "
                "process ends, even if it is killed)"
            )
        return self

    def _same_file(self, fd: int) -> bool:
        try:
            a, b = os.fstat(fd), os.stat(self.path)
        except FileNotFoundError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def release(self) -> None:
        """Release the lock; the last holder removes the lock file.

        The file is removed while still locked exclusively, and :meth:`try_acquire` checks
        that the file it locked is still the one at the path, so removing it never lets
        two processes hold the lock.
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the last holder gets it
                if self._same_file(fd):
                    os.unlink(self.path)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FolderLock:
        if not self.held:
            self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def exclusive_folder(folder: str | Path, what: str = "folder") -> Iterator[FolderLock]:
    """Hold an exclusive lock on ``folder`` for the block, or raise :class:`FolderBusyError`.

    Parameters
    ----------
    folder : path
        The output folder (created if needed).
    what : str
        What the folder is, for the message ("run folder", "evaluation folder").
    """
    lock = FolderLock(folder, ".lock", what).acquire()
    try:
        yield lock
    finally:
        lock.release()


def is_empty_folder(folder: str | Path) -> bool:
    """Tell whether ``folder`` holds nothing but this package's lock files."""
    return not any(p.name not in LOCK_NAMES for p in Path(folder).iterdir())
