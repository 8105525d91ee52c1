"""TUSZ v2 ``.csv``/``.csv_bi`` reading and writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from seizure.io.annotations import (
    KEEP_SEIZURE_TYPES,
    read_annotation,
    write_csv,
    write_csv_bi,
)
from seizure.io.events import Event
from seizure.utils.errors import InputFileError

HEADER = (
    "# version = csv_v1.0.0\n"
    "# bname = rec\n"
    "# duration = 100.0000 secs\n"
    "# montage_file = nedc_eas_default_montage.txt\n"
    "#\n"
    "channel,start_time,stop_time,label,confidence\n"
)


def _write(tmp_path: Path, body: str, name: str = "rec.csv_bi", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + body)
    return path


def test_write_csv_bi_exact_format(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "aaaaaool_s004_t001.csv_bi"
    events = [Event(81.9, 90.0), Event(42.2786, 81.776)]
    write_csv_bi(path, events, 1289.0)
    assert path.read_text() == (
        "# version = csv_v1.0.0\n"
        "# bname = aaaaaool_s004_t001\n"
        "# duration = 1289.0000 secs\n"
        "# montage_file = nedc_eas_default_montage.txt\n"
        "#\n"
        "channel,start_time,stop_time,label,confidence\n"
        "TERM,42.2786,81.7760,seiz,1.0000\n"
        "TERM,81.9000,90.0000,seiz,1.0000\n"
    )
    # no temporary file left beside it
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_write_csv_bi_bname_and_pooling(tmp_path: Path) -> None:
    path = tmp_path / "x.csv_bi"
    write_csv_bi(path, [Event(1, 2, "bckg", "FP1-F7", 0.5)], 10, bname="other")
    text = path.read_text().splitlines()
    assert text[1] == "# bname = other"
    assert text[-1] == "TERM,1.0000,2.0000,bckg,0.5000"


def test_write_csv_per_channel_order(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    events = [
        Event(5, 6, "fnsz", "FP1-F7"),
        Event(1, 2, "fnsz", "T3-T5"),
        Event(0, 1, "bckg", "FP1-F7"),
    ]
    write_csv(path, events, 20.0)
    rows = path.read_text().splitlines()[6:]
    assert rows == [
        "FP1-F7,0.0000,1.0000,bckg,1.0000",
        "FP1-F7,5.0000,6.0000,fnsz,1.0000",
        "T3-T5,1.0000,2.0000,fnsz,1.0000",
    ]
    ann = read_annotation(path, label_map=KEEP_SEIZURE_TYPES)
    assert [e.channel for e in ann.events] == ["FP1-F7", "FP1-F7", "T3-T5"]
    assert [e.label for e in ann.events] == ["bckg", "fnsz", "fnsz"]


@pytest.mark.parametrize("writer", [write_csv_bi, write_csv])
def test_round_trip(tmp_path: Path, writer) -> None:
    events = [Event(0.0, 12.5, "seiz", "TERM", 0.75), Event(30.12345, 40.0, "bckg")]
    path = tmp_path / ("a.csv_bi" if writer is write_csv_bi else "a.csv")
    writer(path, events, 55.5)
    ann = read_annotation(path)
    assert ann.duration == 55.5
    assert ann.source == path
    assert [(e.start, e.stop, e.label, e.confidence) for e in ann.events] == [
        (0.0, 12.5, "seiz", 0.75),
        (30.1234, 40.0, "bckg", 1.0),  # 4 decimals, as NEDC writes
    ]


@pytest.mark.parametrize("bad", [Event(-1, 2), Event(3, 2), Event(0, float("nan"))])
def test_writer_refuses_bad_events(tmp_path: Path, bad: Event) -> None:
    with pytest.raises(ValueError, match="cannot write event"):
        write_csv_bi(tmp_path / "a.csv_bi", [bad], 10)
    assert not (tmp_path / "a.csv_bi").exists()


def test_labels_normalised(tmp_path: Path) -> None:
    body = "".join(
        f"TERM,{i}.0,{i}.5,{lab},1.0000\n"
        for i, lab in enumerate(["fnsz", "GNSZ", "seiz", "bkgd", "bckg", "tcsz", "mysz"])
    )
    ann = read_annotation(_write(tmp_path, body))
    assert [e.label for e in ann.events] == ["seiz", "seiz", "seiz", "bckg", "bckg", "seiz", "seiz"]
    kept = read_annotation(_write(tmp_path, body), label_map=KEEP_SEIZURE_TYPES)
    assert [e.label for e in kept.events][:3] == ["fnsz", "gnsz", "seiz"]


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "TERM,1.0,2.0,seiz,1.0\nTERM,3.0,4.0,artf,1.0\n")
    with pytest.raises(InputFileError, match=r"rec\.csv_bi: line 8: unknown label 'artf'"):
        read_annotation(path)
    # a label_map can accept it
    ann = read_annotation(path, label_map={"artf": "bckg"})
    assert ann.events[1].label == "bckg"


def test_channel_is_never_read_as_time(tmp_path: Path) -> None:
    # columns reordered: located by name from the header row
    header = HEADER.replace(
        "channel,start_time,stop_time,label,confidence", "start_time,stop_time,channel,label"
    )
    ann = read_annotation(_write(tmp_path, "10.0,20.0,TERM,seiz\n", header=header))
    assert ann.events == [Event(10.0, 20.0, "seiz", "TERM", 1.0)]
    # a row shifted by one field is an error, not a silent "no seizure"
    with pytest.raises(InputFileError, match="line 7: start_time is not a number: 'TERM'"):
        read_annotation(_write(tmp_path, "seiz,TERM,10.0,20.0,1.0\n"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("TERM,1.0,2.0,seiz\n", "line 7: expected 5 comma-separated fields"),
        ("TERM,1.0,x,seiz,1.0\n", "line 7: stop_time is not a number: 'x'"),
        ("TERM,-1.0,2.0,seiz,1.0\n", "line 7: start_time must be a finite number >= 0"),
        ("TERM,5.0,2.0,seiz,1.0\n", "line 7: stop time 2 s is before start time 5 s"),
        ("TERM,1.0,2.0,seiz,1.5\n", "line 7: confidence must be in"),
    ],
)
def test_malformed_rows(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message):
        read_annotation(_write(tmp_path, body))


def test_missing_header_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv_bi"
    path.write_text("# duration = 10 secs\nTERM,1.0,2.0,seiz,1.0\n")
    with pytest.raises(InputFileError, match="line 2: expected the header row"):
        read_annotation(path)
    path.write_text("")
    with pytest.raises(InputFileError, match="no header row"):
        read_annotation(path)


def test_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="file not found"):
        read_annotation(tmp_path / "nope.csv_bi")
    with pytest.raises(InputFileError, match="unsupported annotation suffix '.xml'"):
        read_annotation(tmp_path / "a.xml")


def test_zero_length_event_kept_with_warning(tmp_path: Path) -> None:
    ann = read_annotation(_write(tmp_path, "TERM,3.0,3.0,seiz,1.0\n"))
    assert len(ann.events) == 1
    assert any("zero-length" in w for w in ann.warnings)
    assert ann.seizures() == []


def test_events_past_end_clipped_with_warning(tmp_path: Path) -> None:
    # |0      60|====90====|100 (end)     130|
    #            seiz 60..130 -> clipped to 60..100; 120..140 starts after the end: dropped
    body = "TERM,60.0,130.0,seiz,1.0\nTERM,120.0,140.0,seiz,1.0\n"
    ann = read_annotation(_write(tmp_path, body))
    assert ann.seizures() == [Event(60.0, 100.0)]
    assert any("clipped" in w for w in ann.warnings)
    assert any("dropped" in w for w in ann.warnings)
    n = len(ann.warnings)
    ann.seizures()
    assert len(ann.warnings) == n  # repeated calls do not duplicate warnings


def test_real_fixture_csv_bi(shared_data: Path) -> None:
    d = shared_data / "fixtures/tuh/dev/aaaaaool/s004_2013/01_tcp_ar"
    ann = read_annotation(d / "aaaaaool_s004_t002.csv_bi")
    assert ann.duration == 720.0
    assert ann.events == [Event(224.0071, 258.9804), Event(408.9508, 430.9425)]
    # the fixture EDF holds 2 s of signal: the events are dropped with a warning each
    assert ann.seizures(2.0) == []
    assert sum("runs past the end" in w for w in ann.warnings) == 2


def test_real_nedc_files_round_trip(shared_data: Path, tmp_path: Path) -> None:
    files = sorted((shared_data / "nedc_v6").glob("*/*.csv_bi"))
    assert len(files) == 60
    for f in files:
        ann = read_annotation(f)
        assert ann.duration is not None and ann.duration > 0
        assert ann.events, f
        assert all(e.channel == "TERM" for e in ann.events)
        out = tmp_path / f.parent.name / f.name
        write_csv_bi(out, ann.events, ann.duration)
        again = read_annotation(out)
        assert again.events == sorted(ann.events, key=lambda e: (e.start, e.stop))
        # the data rows are byte-identical to NEDC's (montage_file header may differ)
        src_rows = [ln for ln in f.read_text().splitlines() if ln.startswith("TERM")]
        assert [ln for ln in out.read_text().splitlines() if ln.startswith("TERM")] == src_rows


def test_plain_onset_offset_table_reads_as_term_events(tmp_path):
    # The malow recording's sidecar: no channel column, a free-text note column.
    path = tmp_path / "events.csv"
    path.write_text(
        "onset_s,offset_s,label,note\n350.0,500.0,seiz,offset not annotated\n10,12.5,bckg,quiet\n"
    )
    ann = read_annotation(path)
    assert [(e.start, e.stop, e.label, e.channel) for e in ann.events] == [
        (350.0, 500.0, "seiz", "TERM"),
        (10.0, 12.5, "bckg", "TERM"),
    ]
    assert ann.duration is None


def test_plain_table_without_times_is_refused(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("when,what\n1,seiz\n")
    with pytest.raises(InputFileError, match="line 1: expected the header row"):
        read_annotation(path)
