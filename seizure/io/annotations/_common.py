"""Helpers shared by the annotation parsers: label normalisation and number parsing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from seizure.io.events import BACKGROUND, SEIZURE, duration_problem
from seizure.preprocessing.config import SEIZURE_TYPES
from seizure.utils.errors import InputFileError

#: The default label normalisation: seizure types and ``seiz`` -> ``seiz``; ``bckg`` and the
#: old typo ``bkgd`` -> ``bckg``.
DEFAULT_LABELS: dict[str, str] = {
    SEIZURE: SEIZURE,
    BACKGROUND: BACKGROUND,
    "bkgd": BACKGROUND,
    **{t: SEIZURE for t in SEIZURE_TYPES},
}

#: A ``label_map`` that keeps the seizure type (``fnsz`` stays ``fnsz``).
KEEP_SEIZURE_TYPES: dict[str, str] = {t: t for t in SEIZURE_TYPES}


def normalize_annotation_label(
    raw: str,
    label_map: Mapping[str, str] | None,
    path: Path,
    line_no: int | None,
) -> str:
    """Map a label as written in a file to the pipeline's label.

    ``label_map`` (keys compared in lower case) is consulted first, then
    :data:`DEFAULT_LABELS`. An unknown label raises :class:`InputFileError` naming the file
    and the line.
    """
    key = raw.strip().lower()
    if label_map:
        lowered = {k.lower(): v for k, v in label_map.items()}
        if key in lowered:
            return lowered[key]
    if key in DEFAULT_LABELS:
        return DEFAULT_LABELS[key]
    known = ", ".join(sorted(DEFAULT_LABELS))
    raise InputFileError(path, f"{where(line_no)}unknown label {raw!r} (known: {known})")


def where(line_no: int | None) -> str:
    """``"line N: "`` or an empty string."""
    return "" if line_no is None else f"line {line_no}: "


def parse_seconds(text: str, what: str, path: Path, line_no: int | None) -> float:
    """Parse a finite, non-negative number of seconds, or raise naming file and line."""
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(
            path, f"{where(line_no)}{what} is not a number: {text.strip()!r}"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise InputFileError(
            path, f"{where(line_no)}{what} must be a finite number >= 0, got {text.strip()!r}"
        )
    return value


def parse_duration(text: str, what: str, path: Path, line_no: int | None) -> float:
    """Parse a recording duration in seconds, in ``(0, MAX_RECORDING_SECONDS]``.

    Anything else raises naming file and line (see
    :data:`seizure.io.events.MAX_RECORDING_SECONDS`).
    """
    value = parse_seconds(text, what, path, line_no)
    problem = duration_problem(value)
    if problem is not None:
        raise InputFileError(path, f"{where(line_no)}{what} {text.strip()!r} s {problem}")
    return value


def parse_confidence(text: str, path: Path, line_no: int | None) -> float:
    """Parse a confidence in [0, 1]; ``n/a`` or empty means 1.0."""
    t = text.strip()
    if t.lower() in ("", "n/a", "na", "nan"):
        return 1.0
    try:
        value = float(t)
    except ValueError:
        raise InputFileError(path, f"{where(line_no)}confidence is not a number: {t!r}") from None
    if not 0.0 <= value <= 1.0:
        raise InputFileError(path, f"{where(line_no)}confidence must be in [0, 1], got {t!r}")
    return value


def check_interval(
    start: float, stop: float, path: Path, line_no: int | None, warnings: list[str]
) -> None:
    """Refuse ``stop < start``; record a warning for a zero-length event.

    A zero-length event is kept in ``events`` and dropped by :meth:`Annotation.seizures`.
    """
    if stop < start:
        raise InputFileError(
            path, f"{where(line_no)}stop time {stop:g} s is before start time {start:g} s"
        )
    if stop == start:
        warnings.append(f"{path}: {where(line_no)}zero-length event at {start:g} s")


def read_text(path: Path) -> str:
    """Read a text annotation file, turning OS and decoding errors into InputFileError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, not an annotation file") from None
    except PermissionError:
        raise InputFileError(path, "permission denied: cannot read the file") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text
