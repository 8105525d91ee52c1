"""Siena Scalp EEG ``Seizures-list-PNxx.txt`` files: clock times per seizure."""

from __future__ import annotations

import re
from pathlib import Path

from seizure.io.events import SEIZURE, TERM, Annotation, Event
from seizure.utils.errors import InputFileError

from ._common import read_text

_DAY = 86400
_TIME = r"(\d{1,2})\s*[.:]\s*(\d{1,2})\s*[.:]\s*(\d{1,2})"
_FILE_RE = re.compile(r"^file\s*name\s*:\s*(\S+)", re.IGNORECASE)
_KEY_RE = re.compile(
    r"^(registration|seizure)?\s*(start|end)\s*time\s*:\s*(.*)$",
    re.IGNORECASE,
)


def _clock(text: str, path: Path, line_no: int) -> int:
    m = re.fullmatch(_TIME, text.strip())
    if not m:
        raise InputFileError(
            path, f"line {line_no}: expected a clock time HH.MM.SS or HH:MM:SS, got {text!r}"
        )
    h, mi, s = (int(g) for g in m.groups())
    if h > 24 or mi > 59 or s > 59:
        raise InputFileError(path, f"line {line_no}: invalid clock time {text.strip()!r}")
    return h * 3600 + mi * 60 + s


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}.{seconds // 60 % 60:02d}.{seconds % 60:02d}"


def read_siena_seizure_list(path: str | Path) -> dict[str, Annotation]:
    """Read a Siena ``Seizures-list-PNxx.txt`` file.

    Each seizure block names a file (``File name: PN00-1.edf``), the registration start and
    end and the seizure start and end as clock times. Times become offsets in seconds from
    the registration start, modulo 24 h (a recording that crosses midnight). The source's
    typos are tolerated: ``Start time:`` for ``Seizure start time:``, ``.`` or ``:`` as
    separators, stray spaces and carriage returns; a block that omits the registration times
    reuses those of an earlier block for the same file.

    Returns
    -------
    dict of str to Annotation
        Keyed by file stem (``PN00-1``); term-level ``seiz`` events in seconds, in list
        order; ``duration`` = registration end - start (seconds). A seizure ending after the
        registration end (a typo in the source: PN00-3 ends at 19.29.29 in a registration
        that ends at 18.57.13) is kept as written with a warning in
        :attr:`Annotation.warnings`; :meth:`Annotation.seizures` clips it.

    Raises
    ------
    InputFileError
        A time that cannot be parsed, a seizure time before any ``File name:`` or before the
        registration start is known, a start without an end, or no seizure at all (naming
        file and line).
    """
    path = Path(path)
    text = read_text(path)
    out: dict[str, Annotation] = {}
    reg: dict[str, dict[str, int]] = {}
    current: str | None = None
    pending: tuple[int, int] | None = None  # (clock seconds, line)
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if m := _FILE_RE.match(line):
            if pending is not None:
                raise InputFileError(path, f"line {pending[1]}: seizure start without an end")
            current = Path(m.group(1)).stem
            out.setdefault(current, Annotation(source=path))
            continue
        m = _KEY_RE.match(line)
        if not m:
            continue
        if current is None:
            raise InputFileError(path, f"line {line_no}: {line!r} comes before any 'File name:'")
        kind = (m.group(1) or "seizure").lower()
        edge = m.group(2).lower()
        clock = _clock(m.group(3), path, line_no)
        ann = out[current]
        if kind == "registration":
            reg.setdefault(current, {})[edge] = clock
            if edge == "end" and "start" in reg[current]:
                ann.duration = float((clock - reg[current]["start"]) % _DAY)
            continue
        if "start" not in reg.get(current, {}):
            raise InputFileError(
                path, f"line {line_no}: seizure time for {current} before its registration start"
            )
        if edge == "start":
            if pending is not None:
                raise InputFileError(path, f"line {line_no}: second seizure start before an end")
            pending = (clock, line_no)
            continue
        if pending is None:
            raise InputFileError(path, f"line {line_no}: seizure end time without a start time")
        origin = reg[current]["start"]
        start = float((pending[0] - origin) % _DAY)
        stop = float((clock - origin) % _DAY)
        if stop < start:
            raise InputFileError(
                path,
                f"line {line_no}: seizure end {_hms(clock)} is before its start {_hms(pending[0])}",
            )
        if ann.duration is not None and stop > ann.duration:
            ann.warnings.append(
                f"{path}: line {line_no}: seizure of {current} ends at {_hms(clock)}, after the "
                f"registration end {_hms(reg[current]['end'])} (offset {stop:g} s > "
                f"{ann.duration:g} s); kept as written, clipped when normalised"
            )
        ann.events.append(Event(start, stop, SEIZURE, TERM, 1.0))
        pending = None
    if pending is not None:
        raise InputFileError(path, f"line {pending[1]}: seizure start without an end")
    if not out:
        raise InputFileError(path, "no 'File name:' line: not a Siena seizure list")
    return out
