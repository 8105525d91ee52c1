"""Reading EDF, EDF+ and BDF recordings into :class:`~seizure.io.recording.Recording`.

The header is parsed and validated first (:func:`~seizure.io.edf_header.read_edf_header`,
re-exported here with :class:`EdfHeader` and :class:`SignalHeader`; its module docstring
states the size policy), then the signal data is handed to ``edfio`` (the fastest reader
measured here, several times pyedflib's speed: ``benchmarks/bench_edf.py`` prints both), or,
for recordings too long to hold in memory, read a block of records at a time by
:class:`EdfSampleReader`.

Values are returned in microvolts as float32: each voltage channel is scaled by its header
unit (``uV``/``µV`` 1, ``mV`` 1e3, ``V`` 1e6, ``nV`` 1e-3); an empty unit is taken as
microvolts with a warning; other units (``%``, ``bpm``) keep their values and are named in
:attr:`Recording.units`.
"""

from __future__ import annotations

import math
import os
import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seizure.io.channels import normalize_label
from seizure.io.edf_header import MAX_SAMPLE_RATE_HZ, EdfHeader, SignalHeader, read_edf_header
from seizure.io.recording import Recording
from seizure.utils.errors import InputFileError

__all__ = [
    "LOW_RATE_HZ",
    "MAX_SAMPLE_RATE_HZ",
    "VOLTAGE_UNITS",
    "EdfHeader",
    "EdfSampleReader",
    "SampleStats",
    "SignalHeader",
    "read_edf",
    "read_edf_header",
]

#: Channels sampled below this rate (Hz) are skipped unless ``include_low_rate=True`` (the
#: 1 Hz ``IBI``, ``BURSTS``, ``SUPPR`` detector outputs in TUSZ files).
LOW_RATE_HZ = 10.0

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
        """Return what :func:`read_edf` says about such a channel: non-finite values, or flat."""
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
        starts = np.concatenate([[0], np.cumsum(header.record_samples)])
        self.offsets = [int(starts[sig.index]) for sig in self.signals]

    def read(self, start_record: int, stop_record: int) -> list[np.ndarray]:
        """Read the samples of records ``[start_record, stop_record)`` of each picked channel.

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
