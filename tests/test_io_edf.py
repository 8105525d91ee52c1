"""EDF/BDF reading: values, units, rates, labels, and every kind of bad file."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import edfio
import numpy as np
import pytest

from seizure.io.edf import read_edf, read_edf_header
from seizure.utils.errors import InputFileError

# Signal header fields and widths, in file order (EDF spec).
_SIGNAL_FIELDS = [
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
]


def make_edf(
    path: Path,
    specs: list[tuple[str, float, str]],
    seconds: int = 4,
    *,
    bdf: bool = False,
    seed: int = 0,
    physical: tuple[float, float] = (-3276.8, 3276.7),
) -> list[np.ndarray]:
    """Write an EDF (or BDF) with one signal per ``(label, rate_hz, unit)``; return the digital
    values written. With the default ranges, physical = digital * 0.1 (EDF) or digital (BDF:
    the 8-character header fields cannot hold a 0.1 scale of the 24-bit range)."""
    rng = np.random.default_rng(seed)
    signal_cls = edfio.BdfSignal if bdf else edfio.EdfSignal
    dmin, dmax = (-8388608, 8388607) if bdf else (-32768, 32767)
    if bdf:
        physical = (dmin, dmax)
    signals, digitals = [], []
    for label, rate, unit in specs:
        n = int(rate * seconds)
        digital = rng.integers(-3000, 3000, n).astype(np.int32 if bdf else np.int16)
        digitals.append(digital)
        signals.append(
            signal_cls.from_digital(
                digital,
                rate,
                label=label,
                physical_dimension=unit,
                physical_range=physical,
                digital_range=(dmin, dmax),
            )
        )
    cls = edfio.Bdf if bdf else edfio.Edf
    rec = cls(signals, starttime=dt.time(13, 14, 15), data_record_duration=1.0)
    rec.write(path)
    return digitals


def patch(path: Path, offset: int, text: str, width: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + width] = text.ljust(width).encode("ascii")
    path.write_bytes(bytes(raw))


def patch_signal(path: Path, n_signals: int, name: str, index: int, text: str) -> None:
    offset = 256
    for field, width in _SIGNAL_FIELDS:
        if field == name:
            patch(path, offset + index * width, text, width)
            return
        offset += width * n_signals
    raise KeyError(name)


TUSZ_SPECS = [
    ("EEG FP1-REF", 250, "uV"),
    ("EEG F7-REF", 250, "uV"),
    ("EEG T7-REF", 250, "mV"),
    ("PHOTIC-REF", 250, "uV"),
    ("IBI", 1, "sec"),
    ("BURSTS", 1, "brst/min"),
]


@pytest.fixture
def tusz_edf(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path / "aaaaaaaa_s001_t000.edf"
    return path, make_edf(path, TUSZ_SPECS)


def test_values_units_and_low_rate(tusz_edf) -> None:
    path, digital = tusz_edf
    rec = read_edf(path)
    assert rec.labels == ["FP1", "F7", "T3", "PHOTIC"]  # 1 Hz IBI/BURSTS skipped
    assert rec.raw_labels == ["EEG FP1-REF", "EEG F7-REF", "EEG T7-REF", "PHOTIC-REF"]
    assert rec.sfreq_hz == [250.0] * 4
    assert rec.duration_s == 4.0
    assert rec.units == ["uV"] * 4
    assert rec.start_time is not None and rec.start_time.time() == dt.time(13, 14, 15)
    assert all(x.dtype == np.float32 and x.shape == (1000,) for x in rec.data)
    # physical = digital * 0.1 (range 6553.5 / 65535); mV -> uV multiplies by 1000
    np.testing.assert_allclose(rec.data[0], digital[0] * 0.1, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(rec.data[2], digital[2] * 100.0, rtol=1e-6, atol=1e-1)
    assert rec.warnings == []


def test_include_low_rate_mixed_rates(tusz_edf) -> None:
    path, digital = tusz_edf
    rec = read_edf(path, include_low_rate=True)
    assert rec.labels[-2:] == ["IBI", "BURSTS"]
    assert rec.sfreq_hz[-2:] == [1.0, 1.0]
    assert [x.shape[0] for x in rec.data] == [1000] * 4 + [4, 4]
    assert rec.units[-2:] == ["sec", "brst/min"]  # not voltages: values kept, unit named
    np.testing.assert_allclose(rec.data[-1], digital[-1] * 0.1, rtol=1e-6, atol=1e-4)


def test_channels_by_normalised_synonym_or_raw_name(tusz_edf) -> None:
    path, _ = tusz_edf
    rec = read_edf(path, channels=["T7", "EEG FP1-REF", "IBI"])
    assert rec.labels == ["T3", "FP1", "IBI"]  # requested order; requested 1 Hz channel read
    with pytest.raises(InputFileError, match=r"missing channel\(s\) 'O1', 'CZ'; the file has FP1"):
        read_edf(path, channels=["FP1", "O1", "CZ"])


def test_agrees_with_pyedflib_and_mne(tmp_path: Path) -> None:
    pyedflib = pytest.importorskip("pyedflib")
    mne = pytest.importorskip("mne")
    path = tmp_path / "mixed.edf"
    specs = [("EEG Fp1", 256, "uV"), ("EEG Cz", 512, "uV"), ("ECG", 128, "mV")]
    make_edf(path, specs, seconds=3, physical=(-523.1, 812.7))
    rec = read_edf(path)
    step = (812.7 + 523.1) / 65535
    with pyedflib.EdfReader(str(path)) as reader:
        for i in range(3):
            ref = reader.readSignal(i) * (1000.0 if i == 2 else 1.0)
            np.testing.assert_allclose(
                rec.data[i], ref, rtol=0, atol=step * (1000 if i == 2 else 1) / 50
            )
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    # MNE resamples all channels to the highest rate; compare the 512 Hz one (volts)
    np.testing.assert_allclose(
        rec.data[1], raw.get_data(picks=["EEG Cz"])[0] * 1e6, rtol=0, atol=step / 50
    )


def test_bdf(tmp_path: Path) -> None:
    path = tmp_path / "r.bdf"
    digital = make_edf(path, [("EEG Fp1", 256, "uV"), ("EEG T8", 256, "uV")], bdf=True)
    header = read_edf_header(path)
    assert header.file_format.startswith("BDF")
    rec = read_edf(path)
    assert rec.labels == ["FP1", "T4"]
    np.testing.assert_array_equal(rec.data[1], digital[1].astype(np.float32))


def test_chbmit_style_duplicate_bipolar_labels(tmp_path: Path) -> None:
    path = tmp_path / "chb01_01.edf"
    make_edf(path, [("FP1-F7", 256, "uV"), ("T8-P8", 256, "uV"), ("T8-P8", 256, "uV")], 1)
    rec = read_edf(path)
    assert rec.labels == ["FP1-F7", "T4-T6", "T4-T6#2"]
    assert rec.index("T4-T6#2") == 2
    with pytest.raises(KeyError, match="no channel 'O1'"):
        rec.index("O1")


def test_header_only(tusz_edf) -> None:
    path, _ = tusz_edf
    h = read_edf_header(path)
    assert h.labels == ["FP1", "F7", "T3", "PHOTIC", "IBI", "BURSTS"]
    assert h.sfreq_hz == [250.0] * 4 + [1.0, 1.0]
    assert (h.n_records, h.n_records_header, h.record_duration_s, h.duration_s) == (4, 4, 1.0, 4.0)
    assert h.file_format == "EDF"  # edfio writes plain EDF when there are no annotations
    assert h.n_annotation_signals == 0
    assert h.file_bytes == h.header_bytes + 4 * h.record_bytes
    assert h.warnings == []


def test_flat_and_infinite_channels_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "flat.edf"
    sig = edfio.EdfSignal.from_digital(
        np.zeros(512, dtype=np.int16),
        256,
        label="EEG C3",
        physical_dimension="uV",
        physical_range=(-100, 100),
        digital_range=(-32768, 32767),
    )
    ok = edfio.EdfSignal.from_digital(
        np.arange(512, dtype=np.int16),
        256,
        label="EEG C4",
        physical_dimension="uV",
        physical_range=(-100, 100),
        digital_range=(-32768, 32767),
    )
    edfio.Edf([sig, ok], data_record_duration=1.0).write(path)
    rec = read_edf(path)
    assert len(rec.warnings) == 1 and "channel C3 is flat" in rec.warnings[0]
    assert str(path) in rec.warnings[0]
    # a physical range too large for float32 overflows to inf: flagged, not fatal
    patch_signal(path, 2, "physical_min", 1, "-1e300")
    patch_signal(path, 2, "physical_max", 1, "1e300")
    rec = read_edf(path)
    assert any("channel C4 holds NaN or infinite values" in w for w in rec.warnings)


def test_unit_conversion_table(tmp_path: Path) -> None:
    path = tmp_path / "units.edf"
    specs = [("A", 10, "V"), ("B", 10, "mV"), ("C", 10, "nV"), ("D", 10, "uV"), ("E", 10, "")]
    digital = make_edf(path, specs, seconds=1)
    rec = read_edf(path)
    for x, d, factor in zip(rec.data, digital, [1e6, 1e3, 1e-3, 1.0, 1.0]):
        np.testing.assert_allclose(x, d * 0.1 * factor, rtol=1e-6)
    assert rec.units == ["uV"] * 5
    assert rec.warnings == [
        f"{path}: channel E has no physical dimension; values taken as microvolts"
    ]


# ---------------------------------------------------------------------------------------------
# bad files: each gets a specific InputFileError naming the file
# ---------------------------------------------------------------------------------------------


def _three_record_file(tmp_path: Path) -> tuple[Path, int]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "r.edf"
    make_edf(path, [("EEG Fp1", 100, "uV"), ("EEG Fp2", 100, "uV")], seconds=3)
    return path, read_edf_header(path).record_bytes


def test_truncated_final_record_is_read_up_to_last_complete_record(tmp_path: Path) -> None:
    path, record_bytes = _three_record_file(tmp_path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])  # 10 bytes of the third record missing
    rec = read_edf(path)
    assert rec.duration_s == 2.0
    assert [x.shape[0] for x in rec.data] == [200, 200]
    (msg,) = rec.warnings
    assert "file shorter than its header says" in msg
    assert "3 data records" in msg and "2 complete records" in msg
    assert f"{record_bytes - 10} bytes of a truncated record" in msg
    with pytest.raises(InputFileError, match="file shorter than its header says"):
        read_edf(path, strict=True)


def test_header_count_larger_than_file(tmp_path: Path) -> None:
    path, _ = _three_record_file(tmp_path)
    patch(path, 236, "7", 8)
    rec = read_edf(path)
    assert rec.duration_s == 3.0
    assert "the header states 7 data records" in rec.warnings[0]
    assert "3 complete records" in rec.warnings[0]


def test_file_longer_than_header(tmp_path: Path) -> None:
    path, record_bytes = _three_record_file(tmp_path)
    patch(path, 236, "2", 8)
    rec = read_edf(path)
    assert rec.duration_s == 2.0
    assert [x.shape[0] for x in rec.data] == [200, 200]
    assert "file longer than its header says" in rec.warnings[0]
    assert f"ignored the {record_bytes} extra bytes" in rec.warnings[0]
    with pytest.raises(InputFileError, match="file longer"):
        read_edf_header(path, strict=True)


def test_unknown_record_count(tmp_path: Path) -> None:
    path, _ = _three_record_file(tmp_path)
    patch(path, 236, "-1", 8)
    rec = read_edf(path)
    assert rec.duration_s == 3.0
    assert "record count is -1" in rec.warnings[0]


def test_no_complete_record(tmp_path: Path) -> None:
    path, record_bytes = _three_record_file(tmp_path)
    header_bytes = read_edf_header(path).header_bytes
    path.write_bytes(path.read_bytes()[: header_bytes + record_bytes - 1])
    with pytest.raises(InputFileError, match="no complete data record"):
        read_edf(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty file \(0 bytes\)"),
        (b"0       short", "truncated header: the file has 13 bytes"),
        (b"channel,start_time\n" * 20, "not an EDF or BDF file: the version field"),
    ],
)
def test_not_edf(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.edf"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message) as info:
        read_edf(path)
    assert info.value.path == path
    assert str(info.value).startswith(str(path))


def test_truncated_signal_headers(tmp_path: Path) -> None:
    path, _ = _three_record_file(tmp_path)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(InputFileError, match="truncated header: 2 signals need a 768-byte"):
        read_edf_header(path)


def test_bad_header_fields(tmp_path: Path) -> None:
    path, _ = _three_record_file(tmp_path)
    patch_signal(path, 2, "digital_min", 0, "abc")
    patch_signal(path, 2, "physical_max", 1, "-3276.8")
    with pytest.raises(InputFileError) as info:
        read_edf(path)
    text = str(info.value)  # all bad signals reported at once
    assert "signal 0 ('EEG Fp1'): digital_min 'abc' is not a number" in text
    assert "signal 1 ('EEG Fp2'): physical range [-3276.8] has zero width" in text
    path2, _ = _three_record_file(tmp_path / "b")
    patch(path2, 244, "0", 8)
    with pytest.raises(InputFileError, match="data record duration 0 s"):
        read_edf(path2)
    patch(path2, 244, "x", 8)
    with pytest.raises(InputFileError, match="'duration of a data record': expected a number"):
        read_edf(path2)
    patch(path2, 244, "1", 8)
    patch(path2, 184, "512", 8)
    with pytest.raises(InputFileError, match="declares 512 header bytes but 2 signals need 768"):
        read_edf(path2)


def test_missing_directory_and_permissions(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_edf(tmp_path / "absent.edf")
    with pytest.raises(InputFileError, match="is a directory"):
        read_edf(tmp_path)
    path, _ = _three_record_file(tmp_path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # running as root: permissions are not enforced
            pytest.skip("file permissions are not enforced for this user")
        with pytest.raises(InputFileError, match="permission denied"):
            read_edf_header(path)
    finally:
        path.chmod(0o644)


def test_unreadable_file_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as root chmod 0 does not stop reads, so simulate the permission check failing
    path, _ = _three_record_file(tmp_path)
    monkeypatch.setattr("seizure.io.edf_header.os.access", lambda *_: False)
    with pytest.raises(InputFileError, match="permission denied: the file is not readable"):
        read_edf(path)


def test_discontinuous_edf_warns(tmp_path: Path) -> None:
    path, _ = _three_record_file(tmp_path)
    patch(path, 192, "EDF+D", 44)
    rec = read_edf(path)
    assert rec.duration_s == 3.0
    assert any("EDF+D (discontinuous)" in w for w in rec.warnings)


# ---------------------------------------------------------------------------------------------
# real headers from the three corpora (signal replaced by 2 s of noise)
# ---------------------------------------------------------------------------------------------


def test_real_fixture_headers(shared_data: Path) -> None:
    fx = shared_data / "fixtures"
    chb = read_edf(fx / "chbmit/chb05/chb05_06.edf")
    assert chb.labels[:4] == ["FP1-F7", "F7-T3", "T3-T5", "T5-O1"]
    assert chb.labels[14] == "T4-T6" and chb.labels[-1] == "T4-T6#2"
    assert chb.raw_labels[-1] == "T8-P8"
    assert set(chb.sfreq_hz) == {256.0} and chb.duration_s == 2.0
    tuh = fx / "tuh/dev/aaaaaool/s004_2013/01_tcp_ar/aaaaaool_s004_t001.edf"
    rec = read_edf(tuh)
    assert rec.labels[:2] == ["FP1", "FP2"] and "EKG1" in rec.labels and "PHOTIC" in rec.labels
    assert "IBI" not in rec.labels
    assert read_edf(tuh, include_low_rate=True).labels[-3:] == ["IBI", "BURSTS", "SUPPR"]
    siena = read_edf(fx / "siena/PN00/PN00-1.edf")
    assert siena.labels[0] == "FP1" and "EKG" in siena.labels
    assert siena.units[siena.index("SPO2")] == "%"
    h = read_edf_header(fx / "siena/PN00/PN00-1.edf")
    assert h.start_time == dt.datetime(2016, 1, 1, 19, 39, 33)


def test_real_recording_agrees_with_pyedflib(shared_data: Path) -> None:
    pyedflib = pytest.importorskip("pyedflib")
    path = shared_data / "real/malow/malow_michigan_19ch_100Hz_500s.edf"
    rec = read_edf(path)
    assert len(rec.labels) == 19 and rec.duration_s == 500.0 and rec.sfreq_hz[0] == 100.0
    assert "T3" in rec.labels and "A1" not in rec.labels
    with pyedflib.EdfReader(str(path)) as reader:
        for i in range(19):
            step = (reader.getPhysicalMaximum(i) - reader.getPhysicalMinimum(i)) / 65535
            np.testing.assert_allclose(rec.data[i], reader.readSignal(i), rtol=0, atol=step / 50)
