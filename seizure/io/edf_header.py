"""Parsing and validating the header of EDF, EDF+ and BDF files.

The header (256 bytes plus 256 per signal, ASCII fields) is parsed and validated here, before
any signal data is read (:mod:`seizure.io.edf`), so that bad files fail with a specific
:class:`InputFileError` naming the file and what is wrong.

Size policy (the header's record count against the file size):

- the file is shorter than the header says (an interrupted copy; a truncated final record):
  the complete records are read and :attr:`EdfHeader.warnings` gets a message with both
  record counts and byte sizes; no complete record at all is an error;
- the file is longer than the header says (trailing bytes): the header's records are read,
  the rest is ignored, with a warning giving both sizes;
- a record count of ``-1`` (unknown, allowed while recording) is replaced by the number of
  complete records in the file, with a warning;
- ``strict=True`` turns each of these warnings into an :class:`InputFileError`.

Absurd header values are refused naming the field: a data record longer than, or records
adding up to more than, 7 days (:data:`seizure.io.events.MAX_RECORDING_SECONDS`), and a
signal sampled faster than :data:`MAX_SAMPLE_RATE_HZ`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from seizure.io.channels import normalize_label, unique_labels
from seizure.io.events import MAX_RECORDING_SECONDS, duration_problem
from seizure.utils.errors import InputFileError

#: Fastest sampling rate accepted (Hz): above any EEG amplifier (intracranial systems record
#: at up to 30-50 kHz); a faster one is a corrupt record duration or sample count.
MAX_SAMPLE_RATE_HZ = 1e6

_HEADER_FIELDS = (  # name, width in bytes
    ("version", 8),
    ("patient", 80),
    ("recording", 80),
    ("startdate", 8),
    ("starttime", 8),
    ("header_bytes", 8),
    ("reserved", 44),
    ("n_records", 8),
    ("record_duration", 8),
    ("n_signals", 4),
)
_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("physical_dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefiltering", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)
_BDF_VERSION = b"\xffBIOSEMI"


@dataclass(frozen=True)
class SignalHeader:
    """One signal's header fields.

    Parameters
    ----------
    index : int
        Position among all signals of the file (annotation signals included).
    raw_label, label : str
        Label as written and normalised (:func:`seizure.io.channels.normalize_label`, made
        unique with ``#2`` suffixes over the data signals).
    physical_dimension : str
        Unit as written (``uV``, ``mV``...).
    physical_min, physical_max : float
        Physical range in ``physical_dimension`` units.
    digital_min, digital_max : int
        Digital range.
    samples_per_record : int
        Samples in one data record.
    sfreq_hz : float
        ``samples_per_record / record_duration_s`` in Hz.
    is_annotation : bool
        True for ``EDF Annotations``/``BDF Annotations`` signals (no EEG data).
    transducer, prefiltering : str
        Free-text fields as written.
    """

    index: int
    raw_label: str
    label: str
    physical_dimension: str
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    samples_per_record: int
    sfreq_hz: float
    is_annotation: bool
    transducer: str = ""
    prefiltering: str = ""


@dataclass
class EdfHeader:
    """What an EDF/BDF header says, checked against the file size.

    Parameters
    ----------
    path : Path
    file_format : str
        ``EDF``, ``EDF+C``, ``EDF+D``, ``BDF``, ``BDF+C`` or ``BDF+D``.
    signals : list of SignalHeader
        The data signals (annotation signals excluded), in file order.
    n_records : int
        Data records that will be read (see the module's size policy).
    n_records_header : int
        Data records the header states (``-1`` for unknown).
    record_duration_s : float
        Length of one data record in seconds.
    start_time : datetime or None
        Start date and time from the header, or None when unparseable.
    header_bytes, file_bytes, record_bytes : int
        Header size, file size and one data record's size in bytes.
    record_samples : tuple of int
        Samples in one data record of every signal of the file (annotation signals
        included), in file order: the layout of a record.
    n_annotation_signals : int
        Number of ``EDF Annotations`` signals.
    warnings : list of str
        Size mismatches and other non-fatal findings, each naming the file.
    """

    path: Path
    file_format: str
    signals: list[SignalHeader]
    n_records: int
    n_records_header: int
    record_duration_s: float
    start_time: _dt.datetime | None
    header_bytes: int
    file_bytes: int
    record_bytes: int
    record_samples: tuple[int, ...]
    n_annotation_signals: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Normalised labels of the data signals."""
        return [s.label for s in self.signals]

    @property
    def raw_labels(self) -> list[str]:
        """Labels of the data signals as written."""
        return [s.raw_label for s in self.signals]

    @property
    def sfreq_hz(self) -> list[float]:
        """Sampling rate of each data signal in Hz."""
        return [s.sfreq_hz for s in self.signals]

    @property
    def duration_s(self) -> float:
        """Duration in seconds of the records that will be read."""
        return self.n_records * self.record_duration_s

    @property
    def is_bdf(self) -> bool:
        """True for 24-bit BDF files."""
        return self.file_format.startswith("BDF")


def _open_checked(path: Path) -> int:
    """File size in bytes, or InputFileError for a missing, unreadable or empty file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot access the file: {exc.strerror or exc}") from None
    if path.is_dir():
        raise InputFileError(path, "is a directory, not an EDF file")
    if not os.access(path, os.R_OK):
        raise InputFileError(path, "permission denied: the file is not readable")
    if st.st_size == 0:
        raise InputFileError(path, "empty file (0 bytes): not an EDF file")
    return st.st_size


def _read_bytes(path: Path, n: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except PermissionError:
        raise InputFileError(path, "permission denied: the file is not readable") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read the file: {exc.strerror or exc}") from None


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def _parse_start(date: str, time: str) -> _dt.datetime | None:
    try:
        dd, mm, yy = (int(x) for x in date.split("."))
        hh, mi, ss = (int(x) for x in time.split("."))
        year = 1900 + yy if yy >= 85 else 2000 + yy  # EDF spec: 85-99 -> 19xx
        return _dt.datetime(year, mm, dd, hh, mi, ss)
    except ValueError:
        return None


def read_edf_header(path: str | Path, *, strict: bool = False) -> EdfHeader:
    """Read and validate the header of an EDF, EDF+ or BDF file (no signal data is read).

    Parameters
    ----------
    path : str or Path
    strict : bool
        Raise instead of warning when the record count disagrees with the file size.

    Returns
    -------
    EdfHeader
        Labels, rates (Hz), duration (s), record counts, start time; size mismatches are in
        ``warnings`` (see the module docstring for the policy).

    Raises
    ------
    InputFileError
        Missing, unreadable or empty file; not an EDF/BDF file; a truncated header; a
        header field that is not a number or out of range (all bad signal fields are listed
        at once); no complete data record; with ``strict``, any size mismatch.
    """
    path = Path(path)
    size = _open_checked(path)
    if size < 256:
        raise InputFileError(
            path, f"truncated header: the file has {size} bytes, an EDF header needs at least 256"
        )
    head = _read_bytes(path, 256)
    fields: dict[str, bytes] = {}
    pos = 0
    for name, width in _HEADER_FIELDS:
        fields[name] = head[pos : pos + width]
        pos += width
    version = fields["version"]
    if version == _BDF_VERSION:
        base, bytes_per_sample = "BDF", 3
    elif _text(version) == "0" and version.startswith(b"0"):
        base, bytes_per_sample = "EDF", 2
    else:
        raise InputFileError(
            path,
            f"not an EDF or BDF file: the version field (first 8 bytes) is {version!r}, "
            "expected b'0       ' (EDF) or b'\\xffBIOSEMI' (BDF)",
        )

    def number(name: str, kind: type, what: str) -> float:
        text = _text(fields[name])
        try:
            value = kind(text)
        except ValueError:
            raise InputFileError(
                path, f"invalid header field {what!r}: expected a number, got {text!r}"
            ) from None
        if not math.isfinite(value):
            raise InputFileError(path, f"invalid header field {what!r}: got {text!r}")
        return value

    n_signals = int(number("n_signals", int, "number of signals"))
    header_bytes = int(number("header_bytes", int, "number of bytes in header"))
    n_records_header = int(number("n_records", int, "number of data records"))
    record_duration = float(number("record_duration", float, "duration of a data record"))
    if n_signals < 1:
        raise InputFileError(path, f"invalid header: {n_signals} signals (expected at least 1)")
    expected_header = 256 * (n_signals + 1)
    if header_bytes != expected_header:
        raise InputFileError(
            path,
            f"invalid header: it declares {header_bytes} header bytes but {n_signals} signals "
            f"need {expected_header}",
        )
    if size < expected_header:
        raise InputFileError(
            path,
            f"truncated header: {n_signals} signals need a {expected_header}-byte header but "
            f"the file has only {size} bytes",
        )
    if record_duration <= 0:
        raise InputFileError(
            path, f"invalid header: data record duration {record_duration:g} s (must be > 0)"
        )
    if record_duration > MAX_RECORDING_SECONDS:
        raise InputFileError(
            path,
            f"invalid header field 'duration of a data record': {record_duration:g} s "
            f"{duration_problem(record_duration)}",
        )
    if n_records_header < -1:
        raise InputFileError(path, f"invalid header: {n_records_header} data records")

    raw_signals = _read_bytes(path, expected_header)[256:]
    columns: dict[str, list[str]] = {}
    pos = 0
    for name, width in _SIGNAL_FIELDS:
        columns[name] = [
            _text(raw_signals[pos + i * width : pos + (i + 1) * width]) for i in range(n_signals)
        ]
        pos += width * n_signals

    reserved = _text(fields["reserved"])
    file_format = base
    if reserved.startswith(("EDF+C", "BDF+C")):
        file_format = base + "+C"
    elif reserved.startswith(("EDF+D", "BDF+D")):
        file_format = base + "+D"

    problems: list[str] = []
    parsed: list[dict] = []
    for i in range(n_signals):
        raw_label = columns["label"][i]
        entry: dict = {"index": i, "raw_label": raw_label}
        bad = []
        for name, kind in (
            ("physical_min", float),
            ("physical_max", float),
            ("digital_min", int),
            ("digital_max", int),
            ("samples_per_record", int),
        ):
            text = columns[name][i]
            try:
                entry[name] = kind(text)
                if not math.isfinite(entry[name]):
                    raise ValueError
            except ValueError:
                bad.append(f"{name} {text!r} is not a number")
        is_annotation = raw_label in ("EDF Annotations", "BDF Annotations")
        if not bad:
            if entry["samples_per_record"] < 1:
                bad.append(f"samples_per_record {entry['samples_per_record']} (must be >= 1)")
            elif entry["samples_per_record"] / record_duration > MAX_SAMPLE_RATE_HZ:
                bad.append(
                    f"samples_per_record {entry['samples_per_record']} in "
                    f"{record_duration:g} s records is "
                    f"{entry['samples_per_record'] / record_duration:g} Hz "
                    f"(more than {MAX_SAMPLE_RATE_HZ:g} Hz)"
                )
            if not is_annotation and entry["digital_max"] <= entry["digital_min"]:
                bad.append(
                    f"digital range [{entry['digital_min']}, {entry['digital_max']}] is empty"
                )
            if not is_annotation and entry["physical_max"] == entry["physical_min"]:
                bad.append(f"physical range [{entry['physical_min']:g}] has zero width")
        if bad:
            problems.append(f"signal {i} ({raw_label!r}): " + "; ".join(bad))
        entry.update(
            is_annotation=is_annotation,
            physical_dimension=columns["physical_dimension"][i],
            transducer=columns["transducer"][i],
            prefiltering=columns["prefiltering"][i],
        )
        parsed.append(entry)
    if problems:
        raise InputFileError(path, "invalid signal header: " + " | ".join(problems))

    data_entries = [e for e in parsed if not e["is_annotation"]]
    if not data_entries:
        raise InputFileError(path, "the file holds no data signal (only annotations)")
    labels = unique_labels(normalize_label(e["raw_label"]) for e in data_entries)
    signals = [
        SignalHeader(
            index=e["index"],
            raw_label=e["raw_label"],
            label=label,
            physical_dimension=e["physical_dimension"],
            physical_min=e["physical_min"],
            physical_max=e["physical_max"],
            digital_min=e["digital_min"],
            digital_max=e["digital_max"],
            samples_per_record=e["samples_per_record"],
            sfreq_hz=e["samples_per_record"] / record_duration,
            is_annotation=False,
            transducer=e["transducer"],
            prefiltering=e["prefiltering"],
        )
        for e, label in zip(data_entries, labels)
    ]

    warnings: list[str] = []
    record_bytes = bytes_per_sample * sum(e["samples_per_record"] for e in parsed)
    data_bytes = size - header_bytes
    complete, partial = divmod(data_bytes, record_bytes)
    stated = (
        f"the header states {n_records_header} data records of {record_bytes} bytes "
        f"({n_records_header * record_bytes} bytes of data)"
    )
    found = f"the file holds {data_bytes} bytes of data ({complete} complete records" + (
        f" and {partial} bytes of a truncated record)" if partial else ")"
    )

    def mismatch(message: str) -> None:
        if strict:
            raise InputFileError(path, message)
        warnings.append(f"{path}: {message}")

    if n_records_header == -1:
        if complete == 0:
            raise InputFileError(path, f"no complete data record: {found}")
        n_records = complete
        mismatch(f"the header's record count is -1 (unknown); {found}: read {complete} records")
    elif complete < n_records_header:
        if complete == 0:
            raise InputFileError(path, f"no complete data record: {stated} but {found}")
        n_records = complete
        mismatch(
            f"file shorter than its header says: {stated} but {found}; read the {complete} "
            f"complete records ({complete * record_duration:g} s of "
            f"{n_records_header * record_duration:g} s)"
        )
    else:
        n_records = n_records_header
        if data_bytes > n_records_header * record_bytes:
            mismatch(
                f"file longer than its header says: {stated} but {found}; read the "
                f"{n_records_header} records and ignored the "
                f"{data_bytes - n_records_header * record_bytes} extra bytes"
            )
        if n_records == 0:
            raise InputFileError(path, f"no data record: {stated}")
    if n_records * record_duration > MAX_RECORDING_SECONDS:
        raise InputFileError(
            path,
            f"invalid header: {n_records} data records of {record_duration:g} s make "
            f"{n_records * record_duration:g} s, more than the {MAX_RECORDING_SECONDS:.0f} s "
            "(7 days) accepted for one recording",
        )
    if file_format.endswith("+D"):
        warnings.append(
            f"{path}: {file_format} (discontinuous) recording: data records are concatenated "
            "and the time gaps between them ignored"
        )

    return EdfHeader(
        path=path,
        file_format=file_format,
        signals=signals,
        n_records=n_records,
        n_records_header=n_records_header,
        record_duration_s=record_duration,
        start_time=_parse_start(_text(fields["startdate"]), _text(fields["starttime"])),
        header_bytes=header_bytes,
        file_bytes=size,
        record_bytes=record_bytes,
        record_samples=tuple(e["samples_per_record"] for e in parsed),
        n_annotation_signals=len(parsed) - len(data_entries),
        warnings=warnings,
    )
