"""TUSZ annotation formats.

``.csv``/``.csv_bi`` (v2, NEDC v5+), ``.tse``/``.tse_bi`` and ``.lbl``/``.lbl_bi`` (up to v1.5).

Times are seconds from the start of the recording. Every row is kept in file order with its
label normalised (see :func:`seizure.io.annotations.read_annotation`); sorting, merging and
clipping happen in :meth:`seizure.io.events.Annotation.seizures`.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from seizure.io.events import TERM, Annotation, Event
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

CSV_VERSION = "csv_v1.0.0"
CSV_COLUMNS = ("channel", "start_time", "stop_time", "label", "confidence")
DEFAULT_MONTAGE_FILE = "nedc_eas_default_montage.txt"

#: Column names accepted for each role, so that plain event tables (``onset_s,offset_s,label``)
#: read as well as TUSZ files; the first name is TUSZ's own.
CSV_COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "channel": ("channel", "channels"),
    "start_time": ("start_time", "onset_s", "onset", "start_s", "start"),
    "stop_time": ("stop_time", "offset_s", "offset", "stop_s", "stop", "end_s", "end"),
    "label": ("label", "eventtype", "event_type"),
    "confidence": ("confidence", "probability"),
}

_DURATION_RE = re.compile(r"^duration\s*=\s*([^\s]+)\s*(secs?|seconds?)?\s*$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# .csv / .csv_bi
# --------------------------------------------------------------------------------------------


def read_csv(path: str | Path, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read a TUSZ v2 ``.csv`` (per channel) or ``.csv_bi`` (term level) file.

    The file is ``#``-prefixed header lines (``# duration = 1831.00 secs`` gives
    :attr:`Annotation.duration` in seconds), the header row
    ``channel,start_time,stop_time,label,confidence`` and one row per event. Columns are
    located by name from the header row, so a data row never has its channel read as a time;
    a missing ``confidence`` column means 1.0. Plain event tables with other column names
    (``onset_s,offset_s,label[,note]``, see :data:`CSV_COLUMN_SYNONYMS`) read too: without a
    ``channel`` column every event is term level (``TERM``); extra columns are ignored.

    Parameters
    ----------
    path : str or Path
    label_map : mapping of str to str, optional
        Overrides the default label normalisation (seizure types -> ``seiz``).

    Returns
    -------
    Annotation
        Events in file order; channel ``TERM`` in ``.csv_bi`` files, the montage channel name
        (upper case, e.g. ``FP1-F7``) in ``.csv`` files.

    Raises
    ------
    InputFileError
        Unreadable file, missing header row, a row with the wrong number of fields, a
        non-numeric or negative time, ``stop < start``, an unknown label, a ``# duration``
        that is not in ``(0, 7 days]``, or two ``# duration`` lines that disagree (the same
        value repeated is accepted); the message names the file and the line number.
    """
    path = Path(path)
    text = read_text(path)
    duration: float | None = None
    duration_line = 0
    columns: dict[str, int] | None = None
    lowered: list[str] = []
    n_fields = 0
    events: list[Event] = []
    warnings: list[str] = []
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = _DURATION_RE.match(line[1:].strip())
            if m:
                value = parse_duration(m.group(1), "duration", path, line_no)
                if duration is not None and value != duration:
                    raise InputFileError(
                        path,
                        f"line {line_no}: a second '# duration' ({value:g} s) contradicts "
                        f"line {duration_line} ({duration:g} s); keep one",
                    )
                duration, duration_line = value, line_no
            continue
        fields = [f.strip() for f in line.split(",")]
        if columns is None:
            lowered = [f.lower() for f in fields]
            columns = {}
            for role, names in CSV_COLUMN_SYNONYMS.items():
                found = next((lowered.index(n) for n in names if n in lowered), None)
                if found is not None:
                    columns[role] = found
            missing = [c for c in ("start_time", "stop_time", "label") if c not in columns]
            if missing:
                raise InputFileError(
                    path,
                    f"line {line_no}: expected the header row {','.join(CSV_COLUMNS)!r} (or "
                    f"onset_s,offset_s,label) before any event, got {line!r}",
                )
            n_fields = len(fields)
            continue
        if len(fields) != n_fields:
            raise InputFileError(
                path,
                f"line {line_no}: expected {n_fields} comma-separated fields "
                f"({','.join(lowered)}), got {len(fields)}: {line!r}",
            )
        start = parse_seconds(fields[columns["start_time"]], "start_time", path, line_no)
        stop = parse_seconds(fields[columns["stop_time"]], "stop_time", path, line_no)
        check_interval(start, stop, path, line_no, warnings)
        label = normalize_annotation_label(fields[columns["label"]], label_map, path, line_no)
        conf = (
            parse_confidence(fields[columns["confidence"]], path, line_no)
            if "confidence" in columns
            else 1.0
        )
        channel = fields[columns["channel"]].upper() if "channel" in columns else ""
        channel = channel or TERM
        events.append(Event(start, stop, label, channel, conf))
    if columns is None:
        raise InputFileError(
            path, f"no header row {','.join(CSV_COLUMNS)!r}: not a TUSZ csv annotation file"
        )
    return Annotation(events=events, duration=duration, source=path, warnings=warnings)


def _check_events_for_writing(events: list[Event], duration_s: float) -> None:
    if not math.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"Invalid value for 'duration_s': expected seconds >= 0, got {duration_s}")
    for ev in events:
        if not (math.isfinite(ev.start) and math.isfinite(ev.stop)) or ev.start < 0:
            raise ValueError(f"cannot write event {ev}: times must be finite and >= 0")
        if ev.stop < ev.start:
            raise ValueError(f"cannot write event {ev}: stop is before start")
        for name, value in (("label", ev.label), ("channel", ev.channel)):
            if not value or any(c in value for c in ",\n\r#"):
                raise ValueError(
                    f"cannot write event {ev}: {name} {value!r} is empty or holds , # or a newline"
                )


def _csv_text(rows: list[Event], duration_s: float, bname: str, montage_file: str) -> str:
    lines = [
        f"# version = {CSV_VERSION}",
        f"# bname = {bname}",
        f"# duration = {duration_s:.4f} secs",
        f"# montage_file = {montage_file}",
        "#",
        ",".join(CSV_COLUMNS),
    ]
    lines += [f"{e.channel},{e.start:.4f},{e.stop:.4f},{e.label},{e.confidence:.4f}" for e in rows]
    return "\n".join(lines) + "\n"


def write_csv_bi(
    path: str | Path,
    events: Iterable[Event],
    duration_s: float,
    bname: str | None = None,
    *,
    montage_file: str = DEFAULT_MONTAGE_FILE,
) -> None:
    """Write term-level events as a TUSZ v2 ``.csv_bi`` file, atomically.

    The output is exactly the NEDC format::

        # version = csv_v1.0.0
        # bname = aaaaaool_s004_t001
        # duration = 1831.0000 secs
        # montage_file = nedc_eas_default_montage.txt
        #
        channel,start_time,stop_time,label,confidence
        TERM,733.9656,818.0202,seiz,1.0000

    Parameters
    ----------
    path : str or Path
        Output file; parent folders are created.
    events : iterable of Event
        Written sorted by (start, stop), labels as given, the channel always ``TERM``
        (per-channel events are pooled to term level). Events are not clipped: pass
        :meth:`Annotation.seizures` output to write normalised events.
    duration_s : float
        Recording duration in seconds (the ``# duration`` header).
    bname : str, optional
        The ``# bname`` header; defaults to the file name without its suffix.
    montage_file : str
        The ``# montage_file`` header.

    Raises
    ------
    ValueError
        A negative or non-finite time, ``stop < start``, or a label holding ``,``.
    """
    path = Path(path)
    evs = [Event(e.start, e.stop, e.label, TERM, e.confidence) for e in events]
    _check_events_for_writing(evs, duration_s)
    rows = sorted(evs, key=lambda e: (e.start, e.stop))
    atomic_write_text(path, _csv_text(rows, duration_s, bname or path.stem, montage_file))


def write_csv(
    path: str | Path,
    events: Iterable[Event],
    duration_s: float,
    bname: str | None = None,
    *,
    montage_file: str = DEFAULT_MONTAGE_FILE,
) -> None:
    """Write per-channel events as a TUSZ v2 ``.csv`` file, atomically.

    Same header as :func:`write_csv_bi`; one row per event, ``FP1-F7,42.2786,81.7760,fnsz,
    1.0000``, grouped by channel in order of first appearance and sorted by start time
    within a channel (the order of TUSZ files).

    Parameters
    ----------
    path : str or Path
    events : iterable of Event
        Each event's ``channel`` is written as given (``TERM`` rows are allowed).
    duration_s : float
        Recording duration in seconds.
    bname : str, optional
        Defaults to the file name without its suffix.
    montage_file : str
        The ``# montage_file`` header.
    """
    path = Path(path)
    evs = list(events)
    _check_events_for_writing(evs, duration_s)
    order: dict[str, int] = {}
    for e in evs:
        order.setdefault(e.channel, len(order))
    rows = sorted(evs, key=lambda e: (order[e.channel], e.start, e.stop))
    atomic_write_text(path, _csv_text(rows, duration_s, bname or path.stem, montage_file))


# --------------------------------------------------------------------------------------------
# .tse / .tse_bi
# --------------------------------------------------------------------------------------------


def _versioned_lines(path: Path, text: str, kind: str) -> Iterator[tuple[int, str]]:
    """Yield the non-blank, non-comment lines after the ``version = <kind>_v1.0.0`` line.

    Lines are numbered from 1; a content line before the version line, or no version line at
    all, is an error naming the file (and the line).
    """
    seen_version = False
    for line_no, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("version"):
            seen_version = True
            continue
        if not seen_version:
            raise InputFileError(
                path, f"line {line_no}: expected 'version = {kind}_v1.0.0' first, got {line!r}"
            )
        yield line_no, line
    if not seen_version:
        raise InputFileError(path, f"no 'version = {kind}_v1.0.0' line: not a TUSZ {kind} file")


def read_tse(path: str | Path, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read a TUSZ ``.tse`` or ``.tse_bi`` file (term-level events, TUSZ up to v1.5).

    Format: a first line ``version = tse_v1.0.0``, then lines ``start stop label [prob]``
    (seconds, whitespace-separated; a missing probability means 1.0). The file states no
    duration, so :attr:`Annotation.duration` is the end of the last event.

    Raises
    ------
    InputFileError
        Missing version line, a line without 3 or 4 fields, a bad number or an unknown label
        (naming the file and line).
    """
    path = Path(path)
    text = read_text(path)
    events: list[Event] = []
    warnings: list[str] = []
    for line_no, line in _versioned_lines(path, text, "tse"):
        fields = line.split()
        if len(fields) not in (3, 4):
            raise InputFileError(
                path,
                f"line {line_no}: expected 'start stop label [probability]', got {line!r}",
            )
        start = parse_seconds(fields[0], "start time", path, line_no)
        stop = parse_seconds(fields[1], "stop time", path, line_no)
        check_interval(start, stop, path, line_no, warnings)
        label = normalize_annotation_label(fields[2], label_map, path, line_no)
        conf = parse_confidence(fields[3], path, line_no) if len(fields) == 4 else 1.0
        events.append(Event(start, stop, label, TERM, conf))
    duration = max((e.stop for e in events), default=None)
    return Annotation(events=events, duration=duration, source=path, warnings=warnings)


# --------------------------------------------------------------------------------------------
# .lbl / .lbl_bi
# --------------------------------------------------------------------------------------------

_MONTAGE_RE = re.compile(r"^montage\s*=\s*(\d+)\s*,\s*([^:]+):")
_SYMBOLS_RE = re.compile(r"^symbols\[(\d+)\]\s*=\s*(\{.*\})\s*$")
_LABEL_RE = re.compile(r"^label\s*=\s*\{(.*)\}\s*$")


def read_lbl(path: str | Path, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read a TUSZ ``.lbl`` or ``.lbl_bi`` file (per-channel events, TUSZ up to v1.5).

    The format, worked out from the corpus files: ``version = lbl_v1.0.0``; ``montage = N,
    FP1-F7: EEG FP1-REF -- EEG F7-REF`` lines naming channel ``N``; ``symbols[L] = {0:
    'null', ..., 6: 'bckg', 7: 'seiz', ...}`` giving the label of each probability slot of
    level ``L``; and ``label = {level, sublevel, start, stop, channel, [p0, p1, ...]}`` lines
    with times in seconds (not samples). Each label line becomes one event on the named
    montage channel whose label is the symbol with the largest probability and whose
    confidence is that probability. Both ``.lbl`` (seizure types) and ``.lbl_bi``
    (``seiz``/``bckg``) hold per-channel events.

    Raises
    ------
    InputFileError
        Missing version, a label line before the symbols, an unknown channel or symbol
        index, malformed fields, a bad number or an unknown label (naming file and line).
    """
    path = Path(path)
    text = read_text(path)
    montage: dict[int, str] = {}
    symbols: dict[int, dict[int, str]] = {}
    events: list[Event] = []
    warnings: list[str] = []
    for line_no, line in _versioned_lines(path, text, "lbl"):
        if line.startswith("montage"):
            m = _MONTAGE_RE.match(line)
            if not m:
                raise InputFileError(path, f"line {line_no}: malformed montage line {line!r}")
            montage[int(m.group(1))] = m.group(2).strip().upper()
            continue
        if line.startswith("symbols"):
            m = _SYMBOLS_RE.match(line)
            try:
                table = ast.literal_eval(m.group(2)) if m else None
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                table = None  # e.g. "{[1]: 'x'}" (unhashable key) or nesting too deep
            if not isinstance(table, dict) or not all(
                type(k) is int and isinstance(v, str) for k, v in table.items()
            ):
                raise InputFileError(
                    path,
                    f"line {line_no}: malformed symbols line {line!r}: expected "
                    "'symbols[L] = {0: 'null', 1: 'spsw', ...}' (integer slots, label strings)",
                )
            symbols[int(m.group(1))] = dict(table)
            continue
        if line.startswith("label"):
            events.append(_lbl_event(line, line_no, path, montage, symbols, label_map, warnings))
            continue
        if line.startswith(("number_of_levels", "level[")):
            continue
        raise InputFileError(path, f"line {line_no}: unrecognised line {line!r}")
    duration = max((e.stop for e in events), default=None)
    return Annotation(events=events, duration=duration, source=path, warnings=warnings)


def _lbl_event(
    line: str,
    line_no: int,
    path: Path,
    montage: dict[int, str],
    symbols: dict[int, dict[int, str]],
    label_map: Mapping[str, str] | None,
    warnings: list[str],
) -> Event:
    m = _LABEL_RE.match(line)
    head, sep, probs_text = (m.group(1) if m else "").partition("[")
    fields = [f.strip() for f in head.split(",")]
    if not m or not sep or len(fields) != 6 or fields[5] != "":
        raise InputFileError(
            path,
            f"line {line_no}: expected 'label = {{level, sublevel, start, stop, channel, "
            f"[probabilities]}}', got {line!r}",
        )
    try:
        level, channel_index = int(fields[0]), int(fields[4])
        probs = [float(p) for p in probs_text.rstrip("] ").split(",")]
    except ValueError:
        raise InputFileError(path, f"line {line_no}: malformed label line {line!r}") from None
    start = parse_seconds(fields[2], "start time", path, line_no)
    stop = parse_seconds(fields[3], "stop time", path, line_no)
    check_interval(start, stop, path, line_no, warnings)
    if level not in symbols:
        raise InputFileError(path, f"line {line_no}: no symbols[{level}] line before this label")
    if channel_index not in montage:
        raise InputFileError(
            path, f"line {line_no}: channel {channel_index} is not in the file's montage lines"
        )
    best = max(range(len(probs)), key=probs.__getitem__)
    if best not in symbols[level]:
        raise InputFileError(
            path, f"line {line_no}: probability slot {best} has no symbol in symbols[{level}]"
        )
    label = normalize_annotation_label(symbols[level][best], label_map, path, line_no)
    conf = min(1.0, max(0.0, probs[best]))
    return Event(start, stop, label, montage[channel_index], conf)
