"""CHB-MIT ``chbNN-summary.txt`` files: one block per recording with its seizure times."""

from __future__ import annotations

import re
from pathlib import Path

from seizure.io.events import SEIZURE, TERM, Annotation, Event
from seizure.utils.errors import InputFileError

from ._common import check_interval, parse_seconds, read_text

_FILE_RE = re.compile(r"^file\s+name\s*:\s*(\S+)", re.IGNORECASE)
_COUNT_RE = re.compile(r"^number\s+of\s+seizures\s+in\s+file\s*:\s*(\S+)", re.IGNORECASE)
_CLOCK_RE = re.compile(r"^file\s+(start|end)\s+time\s*:\s*(\d+):(\d+):(\d+)\s*$", re.IGNORECASE)
_SZ_RE = re.compile(
    r"^seizure(?:\s+(\d+))?\s+(start|end)\s+time\s*:\s*([^\s]+)\s*(?:s|sec|secs|seconds)?\s*$",
    re.IGNORECASE,
)


def read_chbmit_summary(path: str | Path) -> dict[str, Annotation]:
    """Read a CHB-MIT ``chbNN-summary.txt`` file.

    Both ``Seizure Start Time: 417 seconds`` and ``Seizure 1 Start Time: 417 seconds``
    forms are read. Every listed file gets an entry, with no events when it has no seizure:
    a file absent from the summary is absent from the result (the caller decides what that
    means; :func:`seizure.io.discovery.load_annotation` makes it an error).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str to Annotation
        Keyed by recording file stem (``chb05_06``). Events are term-level ``seiz`` in
        seconds from the file start. ``duration`` is ``File End Time - File Start Time``
        (modulo 24 h; the summary writes ``24:21:32`` and wraps past midnight) when both
        are given, else None; the EDF header is the authority on duration.

    Raises
    ------
    InputFileError
        A seizure line before any ``File Name:``, a start without an end (or the reverse),
        a bad number, a seizure count that disagrees with ``Number of Seizures in File``, a
        file listed twice, or no ``File Name:`` at all (naming file and line).
    """
    path = Path(path)
    text = read_text(path)
    out: dict[str, Annotation] = {}
    current: str | None = None
    expected: dict[str, tuple[int, int]] = {}
    clocks: dict[str, dict[str, int]] = {}
    pending: tuple[float, int] | None = None

    def finish(line_no: int) -> None:
        if current is None:
            return
        if pending is not None:
            raise InputFileError(
                path, f"line {pending[1]}: seizure start without an end time in {current}"
            )
        if current in expected:
            n, at = expected[current]
            if n != len(out[current].events):
                raise InputFileError(
                    path,
                    f"line {at}: {current} states {n} seizure(s) but "
                    f"{len(out[current].events)} start/end pair(s) are listed",
                )
        c = clocks.get(current, {})
        if "start" in c and "end" in c:
            out[current].duration = float((c["end"] - c["start"]) % 86400)

    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if m := _FILE_RE.match(line):
            finish(line_no)
            current = Path(m.group(1)).stem
            if current in out:
                raise InputFileError(path, f"line {line_no}: {current} is listed twice")
            out[current] = Annotation(source=path)
            pending = None
            continue
        m_count, m_clock, m_sz = _COUNT_RE.match(line), _CLOCK_RE.match(line), _SZ_RE.match(line)
        if not (m_count or m_clock or m_sz):
            continue
        if current is None:
            raise InputFileError(path, f"line {line_no}: {line!r} comes before any 'File Name:'")
        if m_count:
            try:
                expected[current] = (int(m_count.group(1)), line_no)
            except ValueError:
                raise InputFileError(
                    path, f"line {line_no}: seizure count is not an integer: {line!r}"
                ) from None
        elif m_clock:
            h, mi, s = (int(g) for g in m_clock.group(2, 3, 4))
            clocks.setdefault(current, {})[m_clock.group(1).lower()] = h * 3600 + mi * 60 + s
        else:
            value = parse_seconds(m_sz.group(3), "seizure time", path, line_no)
            if m_sz.group(2).lower() == "start":
                if pending is not None:
                    raise InputFileError(
                        path, f"line {line_no}: second seizure start before an end time"
                    )
                pending = (value, line_no)
            else:
                if pending is None:
                    raise InputFileError(
                        path, f"line {line_no}: seizure end time without a start time"
                    )
                ann = out[current]
                check_interval(pending[0], value, path, line_no, ann.warnings)
                ann.events.append(Event(pending[0], value, SEIZURE, TERM, 1.0))
                pending = None
    finish(-1)
    if not out:
        raise InputFileError(path, "no 'File Name:' line: not a CHB-MIT summary file")
    return out
