"""SzCORE / BIDS ``*_events.tsv`` annotations (epilepsy2bids convention).

Columns: ``onset`` and ``duration`` (seconds), ``eventType`` (``bckg``, ``sz`` or an ILAE
``sz_...`` type), ``confidence`` (``n/a`` or [0, 1]), ``channels``, ``dateTime`` (recording
start) and ``recordingDuration`` (seconds). A recording without seizures has one ``bckg`` row.

BIDS events files written by mne-bids (``onset``, ``duration``, ``trial_type``, ``value``,
``sample``) are read too: without an ``eventType`` column the label is ``trial_type``, where
``seizure`` (any letter case) also means ``seiz`` and ``background`` means ``bckg``; any
other trial type must be given in ``label_map`` (e.g. ``{"eyes closed": "bckg"}``; the
config's ``preprocess.label_map``, ``--label-map`` of ``score`` and ``plot``) or the file is
refused naming it. A ``duration`` of ``n/a`` (allowed by BIDS) is a zero-length event,
kept in ``events`` with a warning and dropped by :meth:`Annotation.seizures`.
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
_REQUIRED = ("onset", "duration")
#: Label columns, in order of preference: SzCORE's, then BIDS' (mne-bids).
_LABEL_COLUMNS = ("eventType", "trial_type")
#: Extra default labels of a BIDS ``trial_type`` column.
TRIAL_TYPE_LABELS: dict[str, str] = {"seizure": SEIZURE, "background": BACKGROUND}


def _tsv_label(
    raw: str,
    label_map: Mapping[str, str] | None,
    path: Path,
    line_no: int,
    extra: Mapping[str, str] | None = None,
) -> str:
    key = raw.strip().lower()
    if label_map and key in {k.lower() for k in label_map}:
        return normalize_annotation_label(raw, label_map, path, line_no)
    if key == "sz" or key.startswith("sz_"):
        return SEIZURE
    if extra and key in extra:
        return extra[key]
    try:
        return normalize_annotation_label(raw, label_map, path, line_no)
    except InputFileError as err:
        if extra is None:
            raise
        raise InputFileError(
            path,
            f"line {line_no}: trial_type {raw!r} is not a seizure label (sz, sz_*, seiz, "
            "seizure, bckg, background, a TUSZ type); map it with a label map: "
            f"preprocess.label_map, or --label-map '{raw.strip()}=bckg' of score and plot",
        ) from err


def read_tsv(path: str | Path, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read a SzCORE/BIDS ``*_events.tsv`` file (or an mne-bids one, see the module docstring).

    Each row becomes ``Event(onset, onset + duration, label, "TERM", confidence)``: ``sz``
    and every ``sz_...`` type -> ``seiz`` (unless ``label_map`` names it), ``bckg`` ->
    ``bckg``. :attr:`Annotation.duration` is the ``recordingDuration`` column (seconds) when
    present and not ``n/a``.

    Parameters
    ----------
    path : str or Path
    label_map : mapping of str to str, optional
        Raw label (``eventType`` or ``trial_type``, case-insensitive) -> ``seiz``/``bckg``
        (or a kept seizure type), consulted first.

    Returns
    -------
    Annotation
        Times in seconds.

    Raises
    ------
    InputFileError
        Missing ``onset``/``duration``/``eventType`` (or ``trial_type``) columns, a row
        with the wrong number of fields, a bad number, disagreeing ``recordingDuration``
        values or an unknown label (naming file and line).
    """
    path = Path(path)
    text = read_text(path)
    columns: dict[str, int] | None = None
    label_column = _LABEL_COLUMNS[0]
    extra: Mapping[str, str] | None = None
    events: list[Event] = []
    warnings: list[str] = []
    duration: float | None = None
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        fields = [f.strip() for f in raw_line.rstrip("\r\n").split("\t")]
        if columns is None:
            missing = [c for c in _REQUIRED if c not in fields]
            label_column = next((c for c in _LABEL_COLUMNS if c in fields), None)
            if label_column is None:
                missing.append("eventType (or trial_type)")
            if missing:
                raise InputFileError(
                    path,
                    f"line {line_no}: header row lacks column(s) {', '.join(missing)}; "
                    f"expected tab-separated {', '.join(TSV_COLUMNS)}",
                )
            columns = {name: i for i, name in enumerate(fields)}
            extra = TRIAL_TYPE_LABELS if label_column == "trial_type" else None
            continue
        if len(fields) != len(columns):
            raise InputFileError(
                path,
                f"line {line_no}: expected {len(columns)} tab-separated fields, got "
                f"{len(fields)}: {raw_line.strip()!r}",
            )
        onset = parse_seconds(fields[columns["onset"]], "onset", path, line_no)
        raw_length = fields[columns["duration"]]
        length = (
            0.0
            if raw_length.lower() == "n/a"
            else parse_seconds(raw_length, "duration", path, line_no)
        )
        check_interval(onset, round(onset + length, 9), path, line_no, warnings)
        label = _tsv_label(fields[columns[label_column]], label_map, path, line_no, extra)
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
