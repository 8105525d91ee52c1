"""Corpus discovery: layouts, annotation lookup, patient splits that never leak."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from seizure.io.annotations import write_csv_bi
from seizure.io.discovery import discover, hash_split, load_annotation, read_split_file
from seizure.io.events import Event
from seizure.utils.errors import InputFileError


def touch(path: Path, text: str = "") -> Path:
    """Discovery never opens the EDF files, so empty placeholders are enough."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def tusz_v2(root: Path, split: str, patient: str, session: str, token: str, csv: bool = True):
    folder = root / split / patient / f"{session}_2010" / "01_tcp_ar"
    edf = touch(folder / f"{patient}_{session}_{token}.edf")
    if csv:
        write_csv_bi(edf.with_suffix(".csv_bi"), [Event(1.0, 2.0)], 10.0)
    return edf


def test_tusz_v2_tree(tmp_path: Path) -> None:
    root = tmp_path / "edf"
    tusz_v2(root, "train", "aaaaaaaa", "s001", "t000")
    tusz_v2(root, "train", "aaaaaaaa", "s002", "t001")
    tusz_v2(root, "eval", "aaaaaaab", "s001", "t000", csv=False)
    entries = discover(root)
    assert [e.recording_id for e in entries] == [
        "aaaaaaaa_s001_t000",
        "aaaaaaaa_s002_t001",
        "aaaaaaab_s001_t000",
    ]
    assert [(e.patient, e.session, e.split, e.corpus) for e in entries] == [
        ("aaaaaaaa", "s001", "train", "tusz_v2"),
        ("aaaaaaaa", "s002", "train", "tusz_v2"),
        ("aaaaaaab", "s001", "eval", "tusz_v2"),
    ]
    assert load_annotation(entries[0]).events == [Event(1.0, 2.0)]
    # a missing .csv_bi is an error for that recording only, never "no seizure"
    assert entries[2].annotation_path is None
    with pytest.raises(InputFileError, match=r"no annotation file .*aaaaaaab_s001_t000\.csv_bi"):
        load_annotation(entries[2])
    # starting the corpus at a split folder keeps the split
    assert {e.split for e in discover(root / "eval")} == {"eval"}


def test_patient_in_two_path_splits_is_refused(tmp_path: Path) -> None:
    tusz_v2(tmp_path, "train", "aaaaaaaa", "s001", "t000")
    tusz_v2(tmp_path, "dev", "aaaaaaaa", "s002", "t000")
    with pytest.raises(InputFileError, match="patient 'aaaaaaaa' has recordings in several"):
        discover(tmp_path)
    # a split file resolves it
    split_file = touch(tmp_path / "splits.csv", "patient,split\naaaaaaaa,eval\n")
    assert {e.split for e in discover(tmp_path, split_file)} == {"eval"}


def test_tusz_v15_prefers_tse_bi(tmp_path: Path) -> None:
    folder = tmp_path / "train" / "01_tcp_ar" / "002" / "00000258" / "s002_2003_07_21"
    touch(folder / "00000258_s002_t000.edf")
    touch(folder / "00000258_s002_t000.tse_bi", "version = tse_v1.0.0\n\n0 5 seiz 1\n")
    touch(folder / "00000258_s002_t000.lbl_bi", "garbage")
    touch(folder / "00000258_s002_t001.edf")
    touch(folder / "00000258_s002_t001.lbl", "garbage")
    a, b = discover(tmp_path)
    assert (a.corpus, a.patient, a.session, a.split) == ("tusz_v1", "00000258", "s002", "train")
    assert a.annotation_path.suffix == ".tse_bi"
    assert load_annotation(a).events == [Event(0.0, 5.0)]
    assert b.annotation_path.suffix == ".lbl"
    with pytest.raises(InputFileError, match="line 1: expected 'version = lbl_v1.0.0' first"):
        load_annotation(b)


CHB_SUMMARY = """File Name: chb01_01.edf
Number of Seizures in File: 0

File Name: chb01_03.edf
Number of Seizures in File: 1
Seizure Start Time: 2996 seconds
Seizure End Time: 3036 seconds
"""


def test_chbmit_tree(tmp_path: Path) -> None:
    touch(tmp_path / "chb01" / "chb01-summary.txt", CHB_SUMMARY)
    for name in ("chb01_01", "chb01_03", "chb01_99"):
        touch(tmp_path / "chb01" / f"{name}.edf")
    touch(tmp_path / "chb21" / "chb21-summary.txt", "File Name: chb21_01.edf\n")
    touch(tmp_path / "chb21" / "chb21_01.edf")
    entries = {e.recording_id: e for e in discover(tmp_path)}
    assert {e.corpus for e in entries.values()} == {"chbmit"}
    # chb21 is chb01 recorded 1.5 years later: same patient, same split
    assert entries["chb21_01"].patient == "chb01"
    assert entries["chb21_01"].session == "chb21"
    assert len({e.split for e in entries.values()}) == 1
    assert entries["chb01_01"].split == hash_split("chb01")
    assert load_annotation(entries["chb01_01"]).events == []  # listed with 0 seizures
    ann = load_annotation(entries["chb01_03"])
    assert ann.events == [Event(2996, 3036)]
    ann.warnings.append("x")  # a fresh object each time: the cached listing is untouched
    assert load_annotation(entries["chb01_03"]).warnings == []
    with pytest.raises(InputFileError, match=r"chb01_99\.edf: not listed in chb01-summary\.txt"):
        load_annotation(entries["chb01_99"])


def test_siena_file_not_listed(tmp_path: Path) -> None:
    touch(
        tmp_path / "PN07" / "Seizures-list-PN07.txt",
        "File name: PN07-1.edf\nRegistration start time: 10.00.00\n"
        "Registration end time: 11.00.00\nSeizure start time: 10.10.00\n"
        "Seizure end time: 10.11.00\n",
    )
    touch(tmp_path / "PN07" / "PN07-1.edf")
    touch(tmp_path / "PN07" / "PN07-2.edf")
    one, two = discover(tmp_path)
    assert (one.corpus, one.patient, one.session) == ("siena", "PN07", "")
    assert load_annotation(one).events == [Event(600, 660)]
    with pytest.raises(InputFileError, match="not listed in Seizures-list-PN07.txt"):
        load_annotation(two)


def test_bids_tree(tmp_path: Path) -> None:
    eeg = tmp_path / "sub-01" / "ses-01" / "eeg"
    stem = "sub-01_ses-01_task-szMonitoring_run-00"
    touch(eeg / f"{stem}_eeg.edf")
    touch(
        eeg / f"{stem}_events.tsv",
        "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
        "3.0\t4.0\tsz\tn/a\tn/a\tn/a\t60.0\n",
    )
    touch(tmp_path / "sub-02" / "eeg" / "sub-02_task-szMonitoring_run-00_eeg.edf")
    a, b = discover(tmp_path)
    assert (a.recording_id, a.patient, a.session, a.corpus) == (stem, "sub-01", "ses-01", "bids")
    assert load_annotation(a).events == [Event(3.0, 7.0)]
    assert (b.patient, b.session, b.annotation_path) == ("sub-02", "", None)
    with pytest.raises(InputFileError, match="sub-02_task-szMonitoring_run-00_events.tsv"):
        load_annotation(b)


def test_flat_folder_sidecars(tmp_path: Path) -> None:
    touch(tmp_path / "patA_1.edf")
    write_csv_bi(tmp_path / "patA_1.csv_bi", [Event(0, 1)], 5)
    touch(tmp_path / "patA_2.edf")
    touch(tmp_path / "patA_2.tse", "version = tse_v1.0.0\n1 2 fnsz 1\n")
    touch(tmp_path / "other.EDF")
    touch(tmp_path / "other_events.tsv", "onset\tduration\teventType\n0\t3\tbckg\n")
    touch(tmp_path / "lonely.edf")
    touch(tmp_path / ".hidden" / "x.edf")
    entries = {e.recording_id: e for e in discover(tmp_path)}
    assert sorted(entries) == ["lonely", "other", "patA_1", "patA_2"]
    assert {e.corpus for e in entries.values()} == {"flat"}
    assert entries["patA_1"].patient == entries["patA_2"].patient == "patA"
    assert entries["patA_1"].split == entries["patA_2"].split == hash_split("patA")
    assert load_annotation(entries["patA_2"]).events == [Event(1, 2)]
    assert load_annotation(entries["other"]).events == [Event(0, 3, "bckg")]
    assert entries["lonely"].annotation_path is None


def test_split_files(tmp_path: Path) -> None:
    for p in ("p1", "p2", "p3"):
        touch(tmp_path / "data" / f"{p}_rec.edf")
    csv = touch(tmp_path / "s.csv", "p1,dev\np2,test\n")
    got = {e.patient: e.split for e in discover(tmp_path / "data", csv)}
    assert got == {"p1": "dev", "p2": "eval", "p3": hash_split("p3")}
    yml = touch(tmp_path / "s.yaml", "train: [p1, p2]\neval: [p3]\n")
    assert {e.split for e in discover(tmp_path / "data", yml) if e.patient != "p3"} == {"train"}
    yml2 = touch(tmp_path / "t.yml", "p1: eval\n")
    assert read_split_file(yml2) == {"p1": "eval"}
    bad = touch(tmp_path / "bad.csv", "p1,dev\np2,holdout\n")
    with pytest.raises(InputFileError, match="line 2: unknown split 'holdout'"):
        discover(tmp_path / "data", bad)
    twice = touch(tmp_path / "twice.csv", "p1,dev\np1,train\n")
    with pytest.raises(InputFileError, match="line 2: patient 'p1' given two splits"):
        read_split_file(twice)
    with pytest.raises(InputFileError, match="expected 'patient,split'"):
        read_split_file(touch(tmp_path / "x.csv", "p1\n"))


def test_hash_split_is_stable_and_balanced() -> None:
    # pinned values: the assignment must not change between runs, machines or versions
    assert [hash_split(p) for p in ("aaaaaool", "chb01", "PN00", "00000258")] == [
        "train",
        "eval",
        "train",
        "dev",
    ]
    # independent re-computation of the rule for one id
    u = int.from_bytes(hashlib.sha256(b"00000258").digest()[:8], "big") / 2**64
    assert 0.70 <= u < 0.85
    counts = Counter(hash_split(f"patient{i:05d}") for i in range(20000))
    assert abs(counts["train"] / 20000 - 0.70) < 0.02
    assert abs(counts["dev"] / 20000 - 0.15) < 0.02
    assert abs(counts["eval"] / 20000 - 0.15) < 0.02


def test_bad_corpus_folders(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="corpus folder not found"):
        discover(tmp_path / "absent")
    with pytest.raises(InputFileError, match="no .edf or .bdf file"):
        discover(tmp_path)
    touch(tmp_path / "a" / "rec.edf")
    touch(tmp_path / "b" / "rec.edf")
    with pytest.raises(InputFileError, match="two recordings share the id 'rec'"):
        discover(tmp_path)


def test_shared_fixtures(shared_data: Path) -> None:
    from seizure.io.edf import read_edf_header

    entries = {e.recording_id: e for e in discover(shared_data / "fixtures")}
    assert sorted(entries) == [
        "PN00-1",
        "aaaaaool_s004_t001",
        "aaaaaool_s004_t002",
        "chb05_06",
        "chb05_13",
    ]
    tuh = entries["aaaaaool_s004_t002"]
    assert (tuh.corpus, tuh.patient, tuh.session, tuh.split) == (
        "tusz_v2",
        "aaaaaool",
        "s004",
        "dev",
    )
    assert entries["chb05_06"].corpus == "chbmit" and entries["PN00-1"].corpus == "siena"
    # the real annotations run past the 2 s of signal: dropped with a warning, no crash
    for entry in entries.values():
        ann = load_annotation(entry)
        assert ann.events
        duration = read_edf_header(entry.edf_path).duration_s
        assert duration == 2.0
        assert ann.seizures(duration) == []
        assert any("runs past the end of the recording (2.000 s)" in w for w in ann.warnings)
    # the fixture tree starting at dev/ (as shipped) keeps the split from the path
    assert {e.split for e in discover(shared_data / "fixtures/tuh")} == {"dev"}


def test_single_edf_pairs_with_single_annotation_whatever_its_name(shared_data):
    entries = discover(shared_data / "real" / "malow")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.annotation_path is not None
    assert entry.annotation_path.name == "malow_michigan_events.csv"
    ann = load_annotation(entry)
    assert [(e.start, e.stop) for e in ann.seizures(500.0)] == [(350.0, 500.0)]
