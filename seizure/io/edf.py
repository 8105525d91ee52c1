"""Reading EDF, EDF+ and BDF recordings into :class:`~seizure.io.recording.Recording`.

The header (256 bytes plus 256 per signal, ASCII fields) is parsed and validated here before
the signal data is handed to ``edfio`` (the fastest reader measured here, several times
pyedflib's speed: ``benchmarks/bench_edf.py`` prints both), so that bad files fail with a
specific :class:`InputFileError` naming the file and what is wrong.

Size policy (the header's record count against the file size):

- the file is shorter than the header says (an interrupted copy; a truncated final record):
  the complete records are read and :attr:`Recording.warnings` gets a message with both
  record counts and byte sizes; no complete record at all is an error;
- the file is longer than the header says (trailing bytes): the header's records are read,
  the rest is ignored, with a warning giving both sizes;
- a record count of ``-1`` (unknown, allowed while recording) is replaced by the number of
  complete records in the file, with a warning;
- ``strict=True`` turns each of these warnings into an :class:`InputFileError`.

Absurd header values are refused naming the field: a data record longer than, or records
adding up to more than, 7 days (:data:`seizure.io.events.MAX_RECORDING_SECONDS`), and a
signal sampled faster than :data:`MAX_SAMPLE_RATE_HZ`.

Values are returned in microvolts as float32: each voltage channel is scaled by its header
unit (``uV``/``µV`` 1, ``mV`` 1e3, ``V`` 1e6, ``nV`` 1e-3); an empty unit is taken as
microvolts with a warning; other units (``%``, ``bpm``) keep their values and are named in
:attr:`Recording.units`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seizure.io.channels import normalize_label, unique_labels
from seizure.io.events import MAX_RECORDING_SECONDS, duration_problem
from seizure.io.recording import Recording
from seizure.utils.errors import InputFileError

#: Channels sampled below this rate (Hz) are skipped unless ``include_low_rate=True`` (the
#: 1 Hz ``IBI``, ``BURSTS``, ``SUPPR`` detector outputs in TUSZ files).
LOW_RATE_HZ = 10.0

#: Fastest sampling rate accepted (Hz): above any EEG amplifier (intracranial systems record
#: at up to 30-50 kHz); a faster one is a corrupt record duration or sample count.
MAX_SAMPLE_RATE_HZ = 1e6

#: Physical dimension (lower case) -> factor to microvolts.
VOLTAGE_UNITS: dict[str, float] = {
    "uv": 1.0,
    "µv": 1.0,  # noqa: RUF001 (micro sign, as latin-1 headers hold it)
    "μv": 1.0,  # noqa: RUF001 (greek mu)
    "microvolt": 1.0,
    "microvolts": 1.0,
    "mv": 1e3,
    "v": 1e6,
    "nv": 1e-3,
}

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
        n_annotation_signals=len(parsed) - len(data_entries),
        warnings=warnings,
    )


def _select(header: EdfHeader, channels: Sequence[str] | None, include_low_rate: bool) -> list[int]:
    """Positions (in ``header.signals``) of the channels to read."""
    sigs = header.signals
    if channels is None:
        return [i for i, s in enumerate(sigs) if include_low_rate or s.sfreq_hz >= LOW_RATE_HZ]
    by_label = {s.label: i for i, s in enumerate(sigs)}
    by_raw = {s.raw_label: i for i, s in enumerate(sigs)}
    picks: list[int] = []
    missing: list[str] = []
    for name in channels:
        if name in by_label:
            picks.append(by_label[name])
        elif name in by_raw:
            picks.append(by_raw[name])
        elif normalize_label(name) in by_label:
            picks.append(by_label[normalize_label(name)])
        else:
            missing.append(name)
    if missing:
        raise InputFileError(
            header.path,
            f"missing channel(s) {', '.join(repr(m) for m in missing)}; the file has "
            f"{', '.join(header.labels)}",
        )
    return picks


def _unit_scale(sig: SignalHeader, path: Path, warnings: list[str]) -> tuple[float, str]:
    unit = sig.physical_dimension.strip()
    key = unit.lower().replace(" ", "")
    if key in VOLTAGE_UNITS:
        return VOLTAGE_UNITS[key], "uV"
    if key == "":
        warnings.append(
            f"{path}: channel {sig.label} has no physical dimension; values taken as microvolts"
        )
        return 1.0, "uV"
    return 1.0, unit


def _to_microvolts(digital: np.ndarray, sig: SignalHeader, scale: float) -> np.ndarray:
    """Digital samples to float32 physical values times ``scale`` (the unit's factor to uV)."""
    gain = (sig.physical_max - sig.physical_min) / (sig.digital_max - sig.digital_min)
    offset = sig.physical_min - sig.digital_min * gain
    x = digital.astype(np.float32)
    x *= np.float32(gain * scale)
    x += np.float32(offset * scale)
    return x


@dataclass
class SampleStats:
    """Summary of one channel's samples, updated a block at a time.

    Attributes
    ----------
    n : int
        Samples seen.
    finite : bool
        False once a NaN or infinite sample was seen (the other fields then stop counting).
    low, high : float
        Smallest and largest sample (microvolts).
    n_low, n_high : int
        Samples equal to ``low`` and to ``high``.
    first : float
        The first sample.
    """

    n: int = 0
    finite: bool = True
    low: float = math.inf
    high: float = -math.inf
    n_low: int = 0
    n_high: int = 0
    first: float = math.nan

    @classmethod
    def of(cls, x: np.ndarray) -> SampleStats:
        """Statistics of one array of samples."""
        stats = cls()
        stats.update(x)
        return stats

    def update(self, x: np.ndarray) -> None:
        """Add the samples ``x`` (1-D) that follow those seen so far."""
        if x.size == 0:
            return
        if self.n == 0:
            self.first = float(x[0])
        self.n += int(x.size)
        if not self.finite or not np.isfinite(x).all():
            self.finite = False
            return
        lo, hi = float(x.min()), float(x.max())
        if lo < self.low:
            self.low, self.n_low = lo, int(np.count_nonzero(x == lo))
        elif lo == self.low:
            self.n_low += int(np.count_nonzero(x == lo))
        if hi > self.high:
            self.high, self.n_high = hi, int(np.count_nonzero(x == hi))
        elif hi == self.high:
            self.n_high += int(np.count_nonzero(x == hi))

    def clipped_fraction(self) -> float | None:
        """Fraction of samples at the minimum or maximum; None for a flat channel."""
        if self.low == self.high:
            return None
        return (self.n_low + self.n_high) / self.n

    def warnings(self, path: Path, label: str) -> list[str]:
        """What :func:`read_edf` says about such a channel: non-finite values, or flat."""
        if self.n == 0:
            return []
        if not self.finite:
            return [f"{path}: channel {label} holds NaN or infinite values"]
        if self.low == self.high:
            return [f"{path}: channel {label} is flat (constant {self.first:g})"]
        return []


class EdfSampleReader:
    """Reads chosen channels a range of data records at a time, with plain file reads.

    The same values as :func:`read_edf` (float32 microvolts), for recordings too long to hold
    in memory: a block of records is read with one ``pread`` and nothing is memory-mapped, so
    the resident memory is that of the block.

    Parameters
    ----------
    header : EdfHeader
        From :func:`read_edf_header`.
    picks : sequence of int
        Positions in ``header.signals`` of the channels to read.

    Attributes
    ----------
    units : list of str
        Unit of each picked channel's values (as :attr:`Recording.units`).
    warnings : list of str
        Unit warnings (a channel without a physical dimension), as :func:`read_edf` gives.
    """

    def __init__(self, header: EdfHeader, picks: Sequence[int]) -> None:
        self.header = header
        self.signals = [header.signals[k] for k in picks]
        self.warnings: list[str] = []
        scales = [_unit_scale(sig, header.path, self.warnings) for sig in self.signals]
        self.scales = [scale for scale, _ in scales]
        self.units = [unit for _, unit in scales]
        self.bytes_per_sample = 3 if header.is_bdf else 2
        per_record = self._samples_per_record()
        starts = np.concatenate([[0], np.cumsum(per_record)])
        self.offsets = [int(starts[sig.index]) for sig in self.signals]

    def _samples_per_record(self) -> list[int]:
        """Samples per record of every signal of the file, annotation signals included."""
        n_all = self.header.header_bytes // 256 - 1
        at = 256 + n_all * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)
        raw = _read_bytes(self.header.path, at + 8 * n_all)[at:]
        return [int(_text(raw[8 * i : 8 * i + 8])) for i in range(n_all)]

    def read(self, start_record: int, stop_record: int) -> list[np.ndarray]:
        """Samples of records ``[start_record, stop_record)`` of each picked channel.

        Returns
        -------
        list of ndarray of float32, each ``((stop - start) * samples_per_record,)``
            In the unit of :attr:`units` (microvolts for voltage channels).
        """
        h = self.header
        start_record, stop_record = max(0, start_record), min(h.n_records, stop_record)
        count = max(0, stop_record - start_record)
        try:
            with h.path.open("rb") as fh:
                raw = os.pread(
                    fh.fileno(),
                    count * h.record_bytes,
                    h.header_bytes + start_record * h.record_bytes,
                )
        except OSError as exc:
            raise InputFileError(
                h.path, f"cannot read the signal data: {exc.strerror or exc}"
            ) from None
        if len(raw) < count * h.record_bytes:
            raise InputFileError(
                h.path,
                f"cannot read the signal data: records {start_record}-{stop_record} are cut short",
            )
        if self.bytes_per_sample == 2:
            samples = np.frombuffer(raw, dtype="<i2").reshape(count, -1)
        else:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(count, -1, 3).astype(np.int32)
            samples = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
            samples = np.where(samples >= 1 << 23, samples - (1 << 24), samples)
        out = []
        for sig, offset, scale in zip(self.signals, self.offsets, self.scales):
            digital = samples[:, offset : offset + sig.samples_per_record].reshape(-1)
            out.append(_to_microvolts(digital, sig, scale))
        return out


def read_edf(
    path: str | Path,
    *,
    include_low_rate: bool = False,
    channels: Sequence[str] | None = None,
    strict: bool = False,
) -> Recording:
    """Read an EDF, EDF+ or BDF recording.

    Parameters
    ----------
    path : str or Path
    include_low_rate : bool
        Also read channels sampled below :data:`LOW_RATE_HZ` (TUSZ's 1 Hz ``IBI``,
        ``BURSTS``, ``SUPPR``); they are skipped by default.
    channels : sequence of str, optional
        Channels to read, in this order, named by normalised or raw label (``FP1``,
        ``EEG FP1-REF``, ``T7`` for ``T3``). A requested channel is read whatever its rate.
        All absent ones are reported in one error.
    strict : bool
        Raise instead of warning when the header's record count disagrees with the file
        size (see the module docstring).

    Returns
    -------
    Recording
        One float32 array of shape ``(n_records * samples_per_record,)`` per channel, in
        microvolts for voltage channels (see :attr:`Recording.units`); rates in Hz may differ
        between channels; ``duration_s`` = records read x record duration (s). Flat or
        non-finite channels and size mismatches are listed in ``warnings``.

    Raises
    ------
    InputFileError
        Any problem that prevents reading (see :func:`read_edf_header`), or a requested
        channel that is absent.
    """
    header = read_edf_header(path, strict=strict)
    path = header.path
    picks = _select(header, channels, include_low_rate)
    warnings = list(header.warnings)
    import edfio

    try:
        with _warnings.catch_warnings():
            # edfio warns about size mismatches already handled by read_edf_header
            _warnings.simplefilter("ignore")
            if header.is_bdf:
                edf = edfio.read_bdf(path, header_encoding="latin-1")
            else:
                edf = edfio.read_edf(path, lazy_load_data=True, header_encoding="latin-1")
            edf_signals = list(edf.signals)
            if len(edf_signals) != len(header.signals):
                raise InputFileError(
                    path,
                    f"edfio found {len(edf_signals)} data signals where the header lists "
                    f"{len(header.signals)}",
                )
            data: list[np.ndarray] = []
            units: list[str] = []
            for k in picks:
                sig = header.signals[k]
                n = header.n_records * sig.samples_per_record
                digital = np.asarray(edf_signals[k].digital[:n])
                scale, unit = _unit_scale(sig, path, warnings)
                data.append(_to_microvolts(digital, sig, scale))
                units.append(unit)
    except InputFileError:
        raise
    except (ValueError, OSError, IndexError, TypeError) as exc:
        raise InputFileError(path, f"cannot read the signal data: {exc}") from None

    labels = [header.signals[k].label for k in picks]
    for label, x in zip(labels, data):
        warnings += SampleStats.of(x).warnings(path, label)
    return Recording(
        path=path,
        labels=labels,
        raw_labels=[header.signals[k].raw_label for k in picks],
        sfreq_hz=[header.signals[k].sfreq_hz for k in picks],
        data=data,
        duration_s=header.duration_s,
        warnings=warnings,
        units=units,
        start_time=header.start_time,
    )
