"""One shape for error messages: which file, which parameter, what was found, what was expected."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class SeizureError(Exception):
    """Base class of the errors this package raises on bad input."""


class InputFileError(SeizureError):
    """A file cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


def invalid_value(name: str, got: object, allowed: Iterable[object] | str) -> ValueError:
    """Build ``ValueError("Invalid value for 'name': allowed ..., got ... instead")``."""
    if not isinstance(allowed, str):
        allowed = ", ".join(repr(a) for a in allowed)
    return ValueError(f"Invalid value for {name!r}: allowed {allowed}, got {got!r} instead")
