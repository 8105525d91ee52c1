"""TUSZ v1.5 (.tse/.lbl), SzCORE/BIDS .tsv, CHB-MIT summaries and Siena seizure lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from seizure.io.annotations import (
    KEEP_SEIZURE_TYPES,
    read_annotation,
    read_chbmit_summary,
    read_siena_seizure_list,
    write_tsv,
)
from seizure.io.events import Event
from seizure.utils.errors import InputFileError

V15 = "annotations/tusz_v1.5/00000258"

# ---------------------------------------------------------------------------------------------
# .tse / .tse_bi
# ---------------------------------------------------------------------------------------------


def test_tse_hand_made(tmp_path: Path) -> None:
    path = tmp_path / "a.tse"
    path.write_text(
        "version = tse_v1.0.0\n\n0.0000 3.9623 bkgd 1.0000\n3.9623 175.5054 tcsz 0.8000\n"
        "175.5054 205.0000 bckg\n"
    )
    ann = read_annotation(path)
    assert ann.events == [
        Event(0.0, 3.9623, "bckg"),
        Event(3.9623, 175.5054, "seiz", confidence=0.8),
        Event(175.5054, 205.0, "bckg"),
    ]
    assert ann.duration == 205.0
    assert read_annotation(path, label_map=KEEP_SEIZURE_TYPES).events[1].label == "tcsz"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0.0 1.0 seiz 1.0\n", "line 1: expected 'version = tse_v1.0.0' first"),
        ("version = tse_v1.0.0\n0.0 1.0\n", "line 2: expected 'start stop label"),
        ("version = tse_v1.0.0\n0.0 1.0 spsw 1.0\n", "line 2: unknown label 'spsw'"),
        ("version = tse_v1.0.0\n\n2.0 1.0 seiz 1.0\n", "line 3: stop time 1 s is before"),
        ("", "no 'version = tse_v1.0.0' line"),
    ],
)
def test_tse_errors(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "a.tse_bi"
    path.write_text(body)
    with pytest.raises(InputFileError, match=message):
        read_annotation(path)


# ---------------------------------------------------------------------------------------------
# .lbl / .lbl_bi
# ---------------------------------------------------------------------------------------------

LBL = """version = lbl_v1.0.0

montage = 0, FP1-F7: EEG FP1-REF --  EEG F7-REF
montage = 1, F7-T3:  EEG F7-REF  --  EEG T3-REF

number_of_levels = 1

level[0] = 1

symbols[0] = {0: 'null', 1: 'bckg', 2: 'seiz', 3: 'fnsz'}

label = {0, 0, 0.0000, 10.0000, 0, [0.0, 1.0, 0.0, 0.0]}
label = {0, 0, 10.0000, 20.5000, 0, [0.0, 0.0, 0.0, 0.9]}
label = {0, 0, 0.0000, 12.0000, 1, [0.0, 1.0, 0.0, 0.0]}
label = {0, 0, 12.0000, 25.0000, 1, [0.0, 0.0, 1.0, 0.0]}
"""


def test_lbl_hand_made(tmp_path: Path) -> None:
    path = tmp_path / "a.lbl"
    path.write_text(LBL)
    ann = read_annotation(path)
    assert ann.events == [
        Event(0.0, 10.0, "bckg", "FP1-F7"),
        Event(10.0, 20.5, "seiz", "FP1-F7", 0.9),
        Event(0.0, 12.0, "bckg", "F7-T3"),
        Event(12.0, 25.0, "seiz", "F7-T3"),
    ]
    # channels pooled to term level:  FP1-F7 |10====20.5|   F7-T3 |12=====25|  -> 10..25
    assert ann.seizures() == [Event(10.0, 25.0, confidence=1.0)]
    assert ann.warnings == []  # per-channel order is not "out of order"
    kept = read_annotation(path, label_map=KEEP_SEIZURE_TYPES)
    assert kept.events[1].label == "fnsz"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[0.0, 1.0, 0.0, 0.0]}", "[0.0, 1.0, 0.0, 0.0]"), "line 12: expected 'label = {level"),
        ((", 0, [0.0, 1.0", ", 7, [0.0, 1.0"), "line 12: channel 7 is not in the file's montage"),
        (("symbols[0]", "symbolz[0]"), "line 10: unrecognised line"),
        (("20.5000", "x"), "line 13: stop time is not a number: 'x'"),
    ],
)
def test_lbl_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "a.lbl_bi"
    path.write_text(LBL.replace(*change, 1))
    with pytest.raises(InputFileError, match=message):
        read_annotation(path)


def test_real_v15_files_agree_across_formats(shared_data: Path) -> None:
    """.tse, .tse_bi, .lbl and .lbl_bi of each recording give the same term-level seizures."""
    stems = sorted({p.stem for p in (shared_data / V15).glob("*/*.tse")})
    assert len(stems) == 8
    n_seizures = 0
    for stem in stems:
        folder = next((shared_data / V15).glob(f"*/{stem}.tse")).parent
        results = {}
        for suffix in (".tse", ".tse_bi", ".lbl", ".lbl_bi"):
            ann = read_annotation(folder / f"{stem}{suffix}")
            results[suffix] = ann.seizures()
            assert ann.events
        assert results[".tse"] == results[".tse_bi"] == results[".lbl"] == results[".lbl_bi"]
        n_seizures += len(results[".tse"])
    assert n_seizures == 4  # s003_t002 .. t005 hold one seizure each


def test_real_v15_types_and_channels(shared_data: Path) -> None:
    folder = shared_data / V15 / "s003_2003_07_22"
    tse = read_annotation(folder / "00000258_s003_t003.tse", label_map=KEEP_SEIZURE_TYPES)
    assert [e.label for e in tse.events] == ["bckg", "tcsz", "bckg"]
    assert tse.events[1] == Event(3.9623, 175.5054, "tcsz")
    lbl = read_annotation(folder / "00000258_s003_t003.lbl", label_map=KEEP_SEIZURE_TYPES)
    assert {e.channel for e in lbl.events} >= {"FP1-F7", "T4-A2", "P4-O2"}
    assert len({e.channel for e in lbl.events}) == 22
    # channel 4 (FP2-F8) is ictal 14.0340..115.0610 as tcsz in the .lbl file
    assert Event(14.034, 115.061, "tcsz", "FP2-F8") in lbl.events


# ---------------------------------------------------------------------------------------------
# SzCORE / BIDS events.tsv
# ---------------------------------------------------------------------------------------------

TSV_HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"


def test_tsv_hand_made(tmp_path: Path) -> None:
    path = tmp_path / "sub-01_ses-01_task-szMonitoring_run-00_events.tsv"
    path.write_text(
        TSV_HEADER
        + "0.00\t10.00\tbckg\tn/a\tn/a\tn/a\t100.00\n"
        + "10.00\t5.50\tsz_foc_ia\t0.7\tn/a\tn/a\t100.00\n"
        + "30.00\t2.00\tsz\tn/a\tn/a\tn/a\t100.00\n"
    )
    ann = read_annotation(path)
    assert ann.duration == 100.0
    assert ann.events == [
        Event(0.0, 10.0, "bckg"),
        Event(10.0, 15.5, "seiz", confidence=0.7),
        Event(30.0, 32.0, "seiz"),
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("1.0\t2.0\tsz\tn/a\tn/a\tn/a\n", "line 2: expected 7 tab-separated fields"),
        ("x\t2.0\tsz\tn/a\tn/a\tn/a\t10\n", "line 2: onset is not a number"),
        ("1.0\t2.0\tartifact\tn/a\tn/a\tn/a\t10\n", "line 2: unknown label 'artifact'"),
        ("1\t2\tsz\tn/a\tn/a\tn/a\t10\n1\t2\tsz\tn/a\tn/a\tn/a\t11\n", "line 3: recordingDur"),
    ],
)
def test_tsv_errors(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "a_events.tsv"
    path.write_text(TSV_HEADER + rows)
    with pytest.raises(InputFileError, match=message):
        read_annotation(path)
    path.write_text("onset,duration,eventType\n")
    with pytest.raises(InputFileError, match="line 1: header row lacks column"):
        read_annotation(path)


def test_write_tsv_round_trip_and_background_row(tmp_path: Path) -> None:
    path = tmp_path / "x_events.tsv"
    start = dt.datetime(2020, 5, 6, 7, 8, 9)
    write_tsv(path, [Event(50, 60.25), Event(0, 10, "bckg"), Event(5, 7)], 100.0, date_time=start)
    lines = path.read_text().splitlines()
    assert lines[0] == TSV_HEADER.strip()
    assert lines[1] == "5.0000\t2.0000\tsz\t1.0000\tn/a\t2020-05-06 08:08:09\t100.0000".replace(
        "08:08:09", "07:08:09"
    )
    ann = read_annotation(path)
    assert ann.events == [Event(5, 7), Event(50, 60.25)]
    assert ann.duration == 100.0
    write_tsv(path, [], 42.0)
    assert path.read_text().splitlines()[1] == "0.0000\t42.0000\tbckg\t1.0000\tn/a\tn/a\t42.0000"
    assert read_annotation(path).seizures() == []


def test_real_szcore_files(shared_data: Path) -> None:
    ref = read_annotation(shared_data / "annotations/szcore/reference_example.tsv")
    assert ref.duration == 3600.0 and len(ref.events) == 3
    assert [e.confidence for e in ref.events] == [1.0, 1.0, 0.0]  # "1.00", n/a -> 1, "0"
    assert ref.events[0].stop == pytest.approx(237.21)
    hyp = read_annotation(shared_data / "annotations/szcore/hypothesis_example.tsv")
    assert hyp.duration == 2625.0 and len(hyp.events) == 22
    assert hyp.events[0] == Event(7.0, 8.0)
    assert all(e.label == "seiz" for e in hyp.events)


# ---------------------------------------------------------------------------------------------
# CHB-MIT summary
# ---------------------------------------------------------------------------------------------

CHB = """Data Sampling Rate: 256 Hz
*************************

File Name: chb24_01.edf
Number of Seizures in File: 2
Seizure 1 Start Time: 480 seconds
Seizure 1 End Time: 505 seconds
Seizure 2 Start Time: 2451 seconds
Seizure 2 End Time: 2476 seconds

File Name: chb24_02.edf
File Start Time: 23:30:00
File End Time: 24:30:10
Number of Seizures in File: 0

File Name: chb24_03.edf
File Start Time: 23:59:00
File End Time: 0:59:00
Number of Seizures in File: 1
Seizure Start Time: 231 seconds
Seizure End Time:  260 seconds
"""


def test_chbmit_both_forms(tmp_path: Path) -> None:
    path = tmp_path / "chb24-summary.txt"
    path.write_text(CHB)
    out = read_chbmit_summary(path)
    assert list(out) == ["chb24_01", "chb24_02", "chb24_03"]
    assert out["chb24_01"].events == [Event(480, 505), Event(2451, 2476)]
    assert out["chb24_01"].duration is None  # no clock times given
    assert out["chb24_02"].events == [] and out["chb24_02"].duration == 3610.0
    assert out["chb24_03"].events == [Event(231, 260)]
    assert out["chb24_03"].duration == 3600.0  # 23:59:00 -> 0:59:00 crosses midnight


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Number of Seizures in File: 2", "Number of Seizures in File: 3"), "line 5: chb24_01"),
        (("Seizure 1 End Time: 505 seconds\n", ""), "line 7: second seizure start before an end"),
        (("Seizure End Time:  260", "Seizure End Time:  abc"), "line 21: seizure time is not a"),
        (("File Name: chb24_01.edf\n", ""), "comes before any 'File Name:'"),
        (("chb24_02.edf", "chb24_01.edf"), "line 11: chb24_01 is listed twice"),
    ],
)
def test_chbmit_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "chb24-summary.txt"
    path.write_text(CHB.replace(*change))
    with pytest.raises(InputFileError, match=message):
        read_chbmit_summary(path)


def test_chbmit_real(shared_data: Path) -> None:
    out = read_chbmit_summary(shared_data / "fixtures/chbmit/chb05/chb05-summary.txt")
    assert len(out) == 39
    with_seizures = {k: v.events for k, v in out.items() if v.events}
    assert with_seizures == {
        "chb05_06": [Event(417, 532)],
        "chb05_13": [Event(1086, 1196)],
        "chb05_16": [Event(2317, 2413)],
        "chb05_17": [Event(2451, 2571)],
        "chb05_22": [Event(2348, 2465)],
    }
    assert out["chb05_07"].duration == 3600.0  # 23:21:32 -> 24:21:32
    assert out["chb05_08"].duration == 3600.0  # 00:21:39 -> 1:21:39


# ---------------------------------------------------------------------------------------------
# Siena seizure list
# ---------------------------------------------------------------------------------------------

SIENA = """Patient id: PN99\r
Seizure n 1\r
File name: PN99-1.edf\r
Registration start time: 23.50.00\r
Registration end time:  00.40.00\r
Seizure start time: 23.59.30\r
Seizure end time: 00:01:10\r
\r
Seizure n 2\r
File name: PN99-1.edf\r
Start time: 00.10.00\r
End time: 00.11.00\r
\r
Seizure n 3\r
File name: PN99-2.edf\r
Registration start time: 10:00:00\r
Registration end time: 10:30:00\r
Seizure start time: 10.20.00\r
Seizure end time: 11.20.00\r
"""


def test_siena_midnight_typos_and_reuse(tmp_path: Path) -> None:
    path = tmp_path / "Seizures-list-PN99.txt"
    path.write_text(SIENA)
    out = read_siena_seizure_list(path)
    assert list(out) == ["PN99-1", "PN99-2"]
    # 23:50:00 start; seizures 23:59:30-00:01:10 (570..670 s) and 00:10-00:11 (1200..1260 s)
    assert out["PN99-1"].events == [Event(570, 670), Event(1200, 1260)]
    assert out["PN99-1"].duration == 3000.0
    assert out["PN99-1"].warnings == []
    # ends after the registration end: kept with a warning, clipped when normalised
    assert out["PN99-2"].events == [Event(1200, 4800)]
    assert "after the registration end 10.30.00" in out["PN99-2"].warnings[0]
    assert out["PN99-2"].seizures() == [Event(1200, 1800)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Seizure start time: 23.59.30", "Seizure start time: 23-59"), "line 6: expected a clock"),
        (("Seizure end time: 00:01:10\r\n", ""), "line 6: seizure start without an end"),
        (("Registration start time: 10:00:00\r\n", ""), "line 17: seizure time for PN99-2 bef"),
        (("Seizure start time: 10.20.00", "Seizure start time: 10.61.00"), "invalid clock time"),
    ],
)
def test_siena_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "Seizures-list-PN99.txt"
    path.write_text(SIENA.replace(*change))
    with pytest.raises(InputFileError, match=message):
        read_siena_seizure_list(path)


def test_siena_real(shared_data: Path) -> None:
    out = read_siena_seizure_list(shared_data / "fixtures/siena/PN00/Seizures-list-PN00.txt")
    assert list(out) == ["PN00-1", "PN00-2", "PN00-3", "PN00-4", "PN00-5"]
    # PN00-1: registration 19.39.33, seizure 19.58.36-19.59.46 -> 1143..1213 s
    assert out["PN00-1"].events == [Event(1143, 1213)]
    assert out["PN00-1"].duration == 2605.0
    # PN00-2: "Registration start time:  02.18.17" (two spaces) -> 1220..1274 s
    assert out["PN00-2"].events == [Event(1220, 1274)]
    # PN00-3 ends at 19.29.29 in a registration ending 18.57.13: a typo in the source
    assert len(out["PN00-3"].warnings) == 1
    assert out["PN00-3"].seizures() == [Event(765, 2489)]
    # the fixture EDF holds 2 s: the event is dropped with a warning, no crash
    assert out["PN00-1"].seizures(2.0) == []
    assert any("runs past the end" in w for w in out["PN00-1"].warnings)
