"""One long EDF recording through the preprocessing chain a part at a time, in bounded memory.

:class:`StreamedWindows` gives the windows of a recording as :func:`~seizure.preprocessing.
pipeline.windows_for` does, but computes them a block of windows at a time straight from the
file, so that memory depends on the block, not on the recording's length::

    records [r0, r1) of the file (EdfSampleReader, one pread)
      --resample_part--> sources [A, B) = block +- filter padding (exact: the span read
      covers the FIR's reach and starts on the polyphase alignment)
      --apply_filters--> sources [a, b) (the transient from the part's edges has decayed
      below 1e-9 of the signal: filter_padding)
      --M @ X--> montage signals --> raw windows, or LFCC frames (lfcc_frames: frames placed
      by their index in the recording, neighbours for the derivatives included)

At the recording's own ends a part is handled exactly as the whole signal is (zero padding
of the FIR, odd extension of the filter, reflection of the LFCC frames), so the only
difference from the whole-recording path is the decayed filter transient and float32
rounding of differently blocked matrix products.

:func:`scan_sources` reads the file once beforehand for the checks that need every sample
(flat, clipped or non-finite channels), giving the same warnings and refusals as
:func:`~seizure.preprocessing.pipeline.read_for_montage`.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

from seizure.io.edf import EdfHeader, EdfSampleReader, SampleStats
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.features import lfcc_context, lfcc_frames, raw_windows, window_count
from seizure.preprocessing.montage import MontagePlan, get_montage, plan_montage
from seizure.preprocessing.quality import check_channels, check_filtered, check_units
from seizure.preprocessing.signal import (
    apply_filters,
    design_filters,
    filter_padding,
    resample_factors,
    resample_part,
    resample_span,
)

__all__ = ["StreamedWindows", "read_span", "scan_sources"]

#: Records read at a time by :func:`scan_sources`.
_SCAN_RECORDS = 256

#: Blocks of windows kept once every window of theirs has been read (for overlapping reads).
_KEEP_BLOCKS = 3

#: At most this many blocks are kept, read through or not. The inference engine's reader
#: threads read neighbouring ranges at once (a task ending inside a block that the next task
#: started), so a block is kept until all its windows were read, up to this bound.
_MAX_BLOCKS = 16


def scan_sources(header: EdfHeader, plan: MontagePlan) -> tuple[EdfSampleReader, list[str], bool]:
    """Check the channels a montage reads, a block of records at a time.

    Parameters
    ----------
    header : EdfHeader
    plan : MontagePlan
        Planned from ``header.labels``.

    Returns
    -------
    (EdfSampleReader, list of str, bool)
        A reader of the planned sources; the warnings :func:`~seizure.io.edf.read_edf` and
        :func:`~seizure.preprocessing.quality.check_recording` give (in that order); whether
        every sample is finite.

    Raises
    ------
    UnusableRecordingError
        As :func:`~seizure.preprocessing.quality.check_recording`.
    """
    reader = EdfSampleReader(header, plan.sources)
    labels = [header.signals[k].label for k in plan.sources]
    check_units(header.path, labels, reader.units)
    stats = [SampleStats() for _ in labels]
    for start in range(0, header.n_records, _SCAN_RECORDS):
        for st, x in zip(stats, reader.read(start, start + _SCAN_RECORDS)):
            st.update(x)
    warnings = list(header.warnings) + reader.warnings
    for label, st in zip(labels, stats):
        warnings += st.warnings(header.path, label)
    warnings += check_channels(header.path, labels, stats)
    return reader, warnings, all(st.finite for st in stats)


class _Sources:
    """Resampled, filtered sources of a sample range, read from the file on demand."""

    def __init__(self, reader: EdfSampleReader, config: PreprocessConfig, n_samples: int) -> None:
        self.reader = reader
        self.config = config
        self.fs = config.sample_rate_hz
        self.n_samples = n_samples
        self.sos = design_filters(
            self.fs,
            config.bandpass_hz,
            config.notch_hz,
            config.bandpass_order,
            config.notch_q,
        )
        self.pad = filter_padding(self.sos)
        groups: dict[float, list[int]] = {}
        for row, sig in enumerate(reader.signals):
            groups.setdefault(float(sig.sfreq_hz), []).append(row)
        self.groups = groups
        for rate in groups:
            resample_factors(rate, self.fs)  # refuse an impossible ratio before reading

    def filtered(self, a: int, b: int) -> np.ndarray:
        """Return sources ``[a, b)``, resampled and filtered: ``(n_sources, b - a)`` float32."""
        lo, hi = max(0, a - self.pad), min(self.n_samples, b + self.pad)
        x = self._resampled(lo, hi)
        with np.errstate(over="ignore", invalid="ignore"):  # an unstable filter: checked next
            apply_filters(x, self.sos)
        out = np.ascontiguousarray(x[:, a - lo : b - lo])
        check_filtered(out, self.config, self.reader.header.path)
        return out

    def _resampled(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty((len(self.reader.signals), hi - lo), dtype=np.float32)
        n_records = self.reader.header.n_records
        for rate, rows in self.groups.items():
            spr = self.reader.signals[rows[0]].samples_per_record
            n_in = n_records * spr
            s, e = resample_span(rate, self.fs, lo, hi, n_in)
            r0, r1 = s // spr, -(-e // spr)
            data = self.reader.read(r0, r1)
            block = np.stack([data[i] for i in rows])[:, s - r0 * spr : e - r0 * spr]
            del data
            out[rows] = resample_part(block, rate, self.fs, s, lo, hi, n_in)
        bad = ~np.isfinite(out)
        if bad.any():  # as resample_sources: set to 0 (a finite-only recording never gets here)
            out[bad] = 0.0
        return out


def _apply_montage(matrix: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``matrix @ x`` as float32, zeros when the montage reads no source."""
    out = np.empty((matrix.shape[0], x.shape[1]), dtype=np.float32)
    if matrix.shape[1]:
        np.matmul(matrix, x, out=out)
    else:
        out[:] = 0.0
    return out


def read_span(
    header: EdfHeader, config: PreprocessConfig, start: int, stop: int
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Montage signals of samples ``[start, stop)`` of an EDF, reading only what they need.

    The samples equal those of the whole recording preprocessed (montage, resampling,
    band-pass, notch) to float32 rounding: the records read cover the span plus, on each
    side, :func:`~seizure.preprocessing.signal.filter_padding` samples (over which the
    transient that filtering from a part's edge starts decays below 1e-9 of the signal: a few
    seconds for the default filters, set by the slowest pole, usually the notch or the
    high-pass edge) and the resampler's reach, whatever the recording's length. The checks
    that need every sample (flat or clipped channels) are not made; units are.

    Parameters
    ----------
    header : EdfHeader
        Of the file to read.
    config : PreprocessConfig
        Montage, rate and filters.
    start, stop : int
        Samples at ``config.sample_rate_hz``, ``0 <= start < stop <= n_samples``.

    Returns
    -------
    (ndarray of float32, shape (n_channels, stop - start), tuple of str)
        Montage signals in microvolts and the montage's channel names.

    Raises
    ------
    MissingChannelsError
        When the recording lacks channels and ``config.fill_missing`` is False.
    UnusableRecordingError
        Non-voltage units, or filtering gives non-finite values.
    """
    montage = get_montage(config.montage)
    plan = plan_montage(montage, header.labels, config.fill_missing)
    reader = EdfSampleReader(header, plan.sources)
    check_units(header.path, [header.signals[k].label for k in plan.sources], reader.units)
    n_samples = int(math.floor(header.duration_s * config.sample_rate_hz + 1e-6))
    sources = _Sources(reader, config, n_samples)
    return _apply_montage(plan.matrix, sources.filtered(start, stop)), montage.channels


class StreamedWindows:
    """Windows of an EDF recording computed a block at a time from the file.

    Behaves like a read-only array of shape ``(n_windows, *window_shape(config))`` for
    ``len()``, ``.shape``, ``.dtype`` and slicing with a step of 1 (what the cache writer and
    the inference engine use); safe to slice from several threads.

    A block is computed once when the windows are read once, in any order of neighbouring
    ranges: it is kept until each of its windows has been read (at most :data:`_MAX_BLOCKS`
    blocks), then among the :data:`_KEEP_BLOCKS` most recent read-through blocks.
    ``computed`` counts the blocks computed.

    Parameters
    ----------
    reader : EdfSampleReader
        Reads the montage's sources (from :func:`scan_sources`).
    matrix : ndarray of float32, shape (n_channels, n_sources)
        The montage.
    config : PreprocessConfig
    n_samples : int
        Samples per channel at ``config.sample_rate_hz``.
    block_samples : int
        Samples of signal per block (rounded to whole strides).
    """

    dtype = np.dtype(np.float32)

    def __init__(
        self,
        reader: EdfSampleReader,
        matrix: np.ndarray,
        config: PreprocessConfig,
        n_samples: int,
        block_samples: int,
    ) -> None:
        self.sources = _Sources(reader, config, n_samples)
        self.matrix = matrix
        self.config = config
        self.n_samples = n_samples
        self.window = config.window_samples
        self.stride = config.stride_samples
        n = window_count(n_samples, self.window, self.stride)
        self.block_windows = max(1, block_samples // self.stride)
        n_ch = matrix.shape[0]
        if config.features == "lfcc":
            self.shape: tuple[int, ...] = (
                n,
                n_ch,
                config.frames_per_window,
                config.n_lfcc_features,
            )
            self.frame_samples = config.lfcc_frame_seconds * config.sample_rate_hz
            self.n_frames = int(math.floor(n_samples / self.frame_samples + 1e-9))
            self.frame_stride = int(round(config.stride_seconds / config.lfcc_frame_seconds))
        else:
            self.shape = (n, n_ch, self.window)
        self._blocks: OrderedDict[int, np.ndarray] = OrderedDict()
        self._unread: dict[int, np.ndarray] = {}  # kept block -> its windows not yet read
        self._read_through: set[int] = set()  # blocks whose every window has been read
        self._lock = threading.Lock()
        self.computed = 0

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: slice) -> np.ndarray:
        if not isinstance(index, slice):
            raise TypeError("StreamedWindows supports slices only")
        k0, k1, step = index.indices(len(self))
        if step != 1:
            raise TypeError("StreamedWindows supports slices with step 1 only")
        out = np.empty((max(0, k1 - k0), *self.shape[1:]), dtype=np.float32)
        k = k0
        while k < k1:
            j = k // self.block_windows
            first = j * self.block_windows
            stop = min(k1, first + self.block_windows)
            out[k - k0 : stop - k0] = self._block(j, k - first, stop - first)
            k = stop
        return out

    def _block(self, j: int, lo: int, hi: int) -> np.ndarray:
        """Windows ``[lo, hi)`` of block ``j`` (a view of the block), computed if needed."""
        with self._lock:
            if j in self._blocks:
                self._blocks.move_to_end(j)
                block = self._blocks[j]
            else:
                k0 = j * self.block_windows
                k1 = min(len(self), k0 + self.block_windows)
                lfcc = self.config.features == "lfcc"
                block = self._lfcc(k0, k1) if lfcc else self._raw(k0, k1)
                self.computed += 1
                self._blocks[j] = block
                if j not in self._read_through:
                    self._unread[j] = np.ones(k1 - k0, dtype=bool)
            unread = self._unread.get(j)
            if unread is not None:
                unread[lo:hi] = False
                if not unread.any():
                    del self._unread[j]
                    self._read_through.add(j)
            self._evict()
            return block[lo:hi]

    def _evict(self) -> None:
        """Drop cached blocks beyond the limits.

        First the oldest read-through blocks beyond :data:`_KEEP_BLOCKS`, then the least
        recently used beyond :data:`_MAX_BLOCKS`.
        """
        done = [j for j in self._blocks if j not in self._unread]
        for j in done[: max(0, len(self._blocks) - _KEEP_BLOCKS)]:
            del self._blocks[j]
        while len(self._blocks) > _MAX_BLOCKS:
            j, _ = self._blocks.popitem(last=False)
            self._unread.pop(j, None)

    def _signals(self, a: int, b: int) -> np.ndarray:
        """Montage signals ``[a, b)``: ``(n_channels, b - a)`` float32."""
        return _apply_montage(self.matrix, self.sources.filtered(a, b))

    def _raw(self, k0: int, k1: int) -> np.ndarray:
        a = k0 * self.stride
        b = (k1 - 1) * self.stride + self.window
        return np.ascontiguousarray(raw_windows(self._signals(a, b), self.window, self.stride))

    def _lfcc(self, k0: int, k1: int) -> np.ndarray:
        c = self.config
        per_window = c.frames_per_window
        frames = (k0 * self.frame_stride, (k1 - 1) * self.frame_stride + per_window)
        params = {
            "frame_seconds": c.lfcc_frame_seconds,
            "analysis_seconds": c.lfcc_analysis_seconds,
            "energy_span_frames": c.lfcc_energy_span_frames,
            "delta_frames": c.lfcc_delta_frames,
        }
        a, b = lfcc_context(c.sample_rate_hz, frames, self.n_frames, self.n_samples, **params)
        feats = lfcc_frames(
            self._signals(a, b),
            c.sample_rate_hz,
            first_sample=a,
            total_samples=self.n_samples,
            frames=frames,
            n_filters=c.lfcc_n_filters,
            n_cepstra=c.lfcc_n_cepstra,
            band_hz=c.bandpass_hz,
            **params,
        )
        s_ch, s_fr, s_ft = feats.strides
        view = np.lib.stride_tricks.as_strided(
            feats,
            shape=(k1 - k0, feats.shape[0], per_window, feats.shape[2]),
            strides=(self.frame_stride * s_fr, s_ch, s_fr, s_ft),
            writeable=False,
        )
        return np.ascontiguousarray(view)
