"""The package's error root and one shape for error messages.

Every error class of the package derives from :class:`SeizureError`; its ``exit_code`` is the
exit status of the ``seizure`` command that it ends (the CLI maps it in one place,
:class:`seizure.cli.LazyGroup`). Messages name the file, the parameter, what was found and
what was expected (:func:`invalid_value`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: Exit status of a run that failed (bad data, a broken file, a failed stage).
EXIT_FAILED = 1
#: Exit status of a usage error: the command line or the configuration is wrong.
EXIT_USAGE = 2


class SeizureError(Exception):
    """Base class of the errors this package raises.

    Attributes
    ----------
    exit_code : int
        Exit status of the ``seizure`` command this error ends: :data:`EXIT_FAILED` (1) by
        default, :data:`EXIT_USAGE` (2) for a usage error (subclasses set it).
    """

    exit_code: int = EXIT_FAILED


class UsageError(SeizureError):
    """The command line or the configuration is wrong (exit status 2)."""

    exit_code = EXIT_USAGE


class InputFileError(SeizureError):
    """A file cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


class OutputFolderError(UsageError):
    """An output folder is refused (exit status 2): choose another one.

    It is, or holds, one of the command's inputs; it holds something this package did not
    write; or it cannot be created or written (the message names the folder and the
    reason). Another process writing into it is not a usage error:
    :class:`seizure.utils.locks.FolderBusyError` (exit status 1, try again later).
    """


def invalid_value(name: str, got: object, allowed: Iterable[object] | str) -> ValueError:
    """Build ``ValueError("Invalid value for 'name': allowed ..., got ... instead")``.

    Parameters
    ----------
    name : str
        The parameter, as the user writes it (``'evaluate.threshold'``, ``'--method'``).
    got : object
        The value found (shown with ``repr``).
    allowed : iterable or str
        The values allowed (each shown with ``repr``), or a phrase saying what is expected.

    Returns
    -------
    ValueError
        To be raised by the caller (``raise invalid_value(...)``).
    """
    return ValueError(invalid_value_message(name, got, allowed))


def invalid_value_message(name: str, got: object, allowed: Iterable[object] | str) -> str:
    """Return the message of :func:`invalid_value`, for error classes other than ``ValueError``."""
    if not isinstance(allowed, str):
        allowed = ", ".join(repr(a) for a in allowed)
    return f"Invalid value for {name!r}: allowed {allowed}, got {got!r} instead"
