"""SzCORE / BIDS ``*_events.tsv`` annotations (epilepsy2bids convention).

Columns: ``onset`` and ``duration`` (seconds), ``eventType`` (``bckg``, ``sz`` or an ILAE
``sz_...`` type), ``confidence`` (``n/a`` or [0, 1]), ``channels``, ``dateTime`` (recording
start) and ``recordingDuration`` (seconds). A recording without seizures has one ``bckg`` row.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from pathlib import Path

from seizure.io.events import BACKGROUND, SEIZURE, TERM, Annotation, Event
from seizure.utils.errors import InputFileError
from seizure.utils.fsio import atomic_write_text

from ._common import (
    check_interval,
    normalize_annotation_label,
    parse_confidence,
    parse_duration,
    parse_seconds,
    read_text,
)

TSV_COLUMNS = (
    "onset",
    "duration",
    "eventType",
    "confidence",
    "channels",
    "dateTime",
    "recordingDuration",
)
_REQUIRED = ("onset", "duration", "eventType")


def _tsv_label(raw: str, label_map: Mapping[str, str] | None, path: Path, line_no: int) -> str:
    key = raw.strip().lower()
    if label_map and key in {k.lower() for k in label_map}:
        return normalize_annotation_label(raw, label_map, path, line_no)
    if key == "sz" or key.startswith("sz_"):
        return SEIZURE
    return normalize_annotation_label(raw, label_map, path, line_no)


def read_tsv(path: str | Path, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read a SzCORE/BIDS ``*_events.tsv`` file.

    Each row becomes ``Event(onset, onset + duration, label, "TERM", confidence)``: ``sz``
    and every ``sz_...`` type -> ``seiz`` (unless ``label_map`` names it), ``bckg`` ->
    ``bckg``. :attr:`Annotation.duration` is the ``recordingDuration`` column (seconds) when
    present and not ``n/a``.

    Raises
    ------
    InputFileError
        Missing ``onset``/``duration``/``eventType`` columns, a row with the wrong number of
        fields, a bad number, disagreeing ``recordingDuration`` values or an unknown label
        (naming file and line).
    """
    path = Path(path)
    text = read_text(path)
    columns: dict[str, int] | None = None
    events: list[Event] = []
    warnings: list[str] = []
    duration: float | None = None
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        fields = [f.strip() for f in raw_line.rstrip("\r\n").split("\t")]
        if columns is None:
            missing = [c for c in _REQUIRED if c not in fields]
            if missing:
                raise InputFileError(
                    path,
                    f"line {line_no}: header row lacks column(s) {', '.join(missing)}; "
                    f"expected tab-separated {', '.join(TSV_COLUMNS)}",
                )
            columns = {name: i for i, name in enumerate(fields)}
            continue
        if len(fields) != len(columns):
            raise InputFileError(
                path,
                f"line {line_no}: expected {len(columns)} tab-separated fields, got "
                f"{len(fields)}: {raw_line.strip()!r}",
            )
        onset = parse_seconds(fields[columns["onset"]], "onset", path, line_no)
        length = parse_seconds(fields[columns["duration"]], "duration", path, line_no)
        check_interval(onset, round(onset + length, 9), path, line_no, warnings)
        label = _tsv_label(fields[columns["eventType"]], label_map, path, line_no)
        conf = (
            parse_confidence(fields[columns["confidence"]], path, line_no)
            if "confidence" in columns
            else 1.0
        )
        events.append(Event(onset, round(onset + length, 9), label, TERM, conf))
        if "recordingDuration" in columns:
            rd = fields[columns["recordingDuration"]]
            if rd.lower() not in ("", "n/a"):
                value = parse_duration(rd, "recordingDuration", path, line_no)
                if duration is not None and value != duration:
                    raise InputFileError(
                        path,
                        f"line {line_no}: recordingDuration {value:g} s disagrees with "
                        f"{duration:g} s on an earlier row",
                    )
                duration = value
    if columns is None:
        raise InputFileError(path, "empty file: no header row (expected onset, duration, ...)")
    return Annotation(events=events, duration=duration, source=path, warnings=warnings)


def write_tsv(
    path: str | Path,
    events: Iterable[Event],
    duration_s: float,
    *,
    date_time: _dt.datetime | None = None,
) -> None:
    """Write events as a SzCORE/BIDS ``*_events.tsv`` file, atomically.

    Every non-background event becomes an ``sz`` row (sorted by onset); background events
    are not written, and a recording without seizures gets the single ``bckg`` row covering
    ``[0, duration_s]`` that SzCORE expects. Times are written with 4 decimals.

    Parameters
    ----------
    path : str or Path
    events : iterable of Event
        Times in seconds.
    duration_s : float
        Recording duration in seconds (``recordingDuration`` column).
    date_time : datetime, optional
        Recording start written in ``dateTime`` as ``YYYY-MM-DD HH:MM:SS``; ``n/a`` if None.
    """
    seiz = sorted((e for e in events if e.label != BACKGROUND), key=lambda e: (e.start, e.stop))
    for e in seiz:
        if e.start < 0 or e.stop < e.start:
            raise ValueError(f"cannot write event {e}: need 0 <= start <= stop")
    stamp = "n/a" if date_time is None else date_time.strftime("%Y-%m-%d %H:%M:%S")
    rows = [(e.start, e.stop - e.start, "sz", e.confidence) for e in seiz] or [
        (0.0, duration_s, BACKGROUND, 1.0)
    ]
    lines = ["\t".join(TSV_COLUMNS)]
    lines += [
        f"{onset:.4f}\t{length:.4f}\t{kind}\t{conf:.4f}\tn/a\t{stamp}\t{duration_s:.4f}"
        for onset, length, kind, conf in rows
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
