"""Annotations as the EEG ecosystem writes them: mne-bids ``events.tsv`` (``trial_type``) and
the annotations stored inside EDF+ files (EDFbrowser, MNE's ``export_raw``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seizure.io.annotations import (
    has_edf_annotations,
    read_annotation,
    read_edf_annotations,
)
from seizure.io.discovery import discover, load_annotation
from seizure.utils.errors import InputFileError

FS = 64
LABELS = ["FP1", "FP2", "C3", "C4"]


# ---------------------------------------------------------------- mne-bids events.tsv

MNE_BIDS_HEADER = "onset\tduration\ttrial_type\tvalue\tsample\n"


def test_mne_bids_trial_type_is_read(tmp_path: Path) -> None:
    path = tmp_path / "sub-01_task-rest_events.tsv"
    path.write_text(
        MNE_BIDS_HEADER + "10.0\t20.5\tSeizure\t1\t2560\n"
        "40.0\tn/a\tseizure\t1\t10240\n"  # BIDS allows n/a: a zero-length marker
        "50.0\t5.0\tbackground\t2\t12800\n"
    )
    ann = read_annotation(path)
    assert [(e.start, e.stop, e.label) for e in ann.events] == [
        (10.0, 30.5, "seiz"),
        (40.0, 40.0, "seiz"),
        (50.0, 55.0, "bckg"),
    ]
    assert ann.duration is None
    assert [(e.start, e.stop) for e in ann.seizures(100.0)] == [(10.0, 30.5)]
    assert any("zero-length event at 40 s" in w for w in ann.warnings)


def test_mne_bids_unknown_trial_type_is_refused_unless_mapped(tmp_path: Path) -> None:
    path = tmp_path / "sub-01_task-rest_events.tsv"
    path.write_text(MNE_BIDS_HEADER + "1.0\t2.0\teyes closed\t3\t64\n5.0\t3.0\tictal\t4\t320\n")
    with pytest.raises(InputFileError, match=r"line 2: trial_type 'eyes closed' .*label map"):
        read_annotation(path)
    ann = read_annotation(path, {"Eyes Closed": "bckg", "ictal": "seiz"})
    assert [(e.start, e.stop, e.label) for e in ann.events] == [
        (1.0, 3.0, "bckg"),
        (5.0, 8.0, "seiz"),
    ]


def test_tsv_without_label_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x_events.tsv"
    path.write_text("onset\tduration\tvalue\n1.0\t2.0\t3\n")
    with pytest.raises(InputFileError, match=r"lacks column\(s\) eventType \(or trial_type\)"):
        read_annotation(path)


# ---------------------------------------------------------------- EDF+ annotations


def write_edf_plus(path: Path, annotations, seconds: int = 60) -> Path:
    """A small EDF (EDF+C when ``annotations`` is not empty) with those annotations."""
    import edfio

    rng = np.random.default_rng(0)
    signals = [
        edfio.EdfSignal(
            rng.standard_normal(seconds * FS) * 20,
            sampling_frequency=FS,
            label=f"EEG {name}-REF",
            physical_dimension="uV",
            physical_range=(-500.0, 500.0),
        )
        for name in LABELS
    ]
    anns = [edfio.EdfAnnotation(on, dur, text) for on, dur, text in annotations]
    path.parent.mkdir(parents=True, exist_ok=True)
    edfio.Edf(signals, annotations=anns or None).write(path)
    return path


def test_edf_plus_annotations_become_events(tmp_path: Path) -> None:
    path = write_edf_plus(
        tmp_path / "rec.edf",
        [(5.0, 10.0, "Seizure"), (20.0, None, "Lights off"), (30.0, 2.5, "sz_foc_a"),
         (40.0, None, "lights off"), (45.0, 4.0, "Crise")],
    )  # fmt: skip
    ann = read_edf_annotations(path)
    assert [(e.start, e.stop, e.label) for e in ann.events] == [
        (5.0, 15.0, "seiz"),
        (30.0, 32.5, "seiz"),
    ]
    assert ann.duration == 60.0
    (warning,) = ann.warnings
    assert "'Crise' (1)" in warning and "'Lights off' (1)" in warning
    assert "'lights off' (1)" in warning
    mapped = read_annotation(path, {"crise": "seiz"})  # read_annotation dispatches on .edf
    assert [(e.start, e.stop) for e in mapped.seizures()] == [
        (5.0, 15.0),
        (30.0, 32.5),
        (45.0, 49.0),
    ]


def test_plain_edf_has_no_annotations(tmp_path: Path) -> None:
    path = write_edf_plus(tmp_path / "plain.edf", [])
    assert not has_edf_annotations(path)
    with pytest.raises(InputFileError, match="no annotation signal"):
        read_edf_annotations(path)


def test_edf_plus_exported_by_mne_is_read(tmp_path: Path) -> None:
    mne = pytest.importorskip("mne")
    info = mne.create_info([f"EEG {n}-REF" for n in LABELS], FS, "eeg")
    data = np.random.default_rng(1).standard_normal((len(LABELS), 60 * FS)) * 20e-6
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([12.0, 30.0], [8.0, 0.0], ["seizure", "BAD_artifact"]))
    path = tmp_path / "mne.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    assert has_edf_annotations(path)
    ann = read_edf_annotations(path)
    assert [(e.start, e.stop) for e in ann.seizures()] == [(12.0, 20.0)]
    assert "'BAD_artifact' (1)" in ann.warnings[0]


def test_discovery_uses_the_edf_plus_annotations_without_sidecar(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    annotated = write_edf_plus(corpus / "pa_r1.edf", [(5.0, 10.0, "Seizure")])
    write_edf_plus(corpus / "pb_r1.edf", [])
    bids = write_edf_plus(
        corpus / "sub-03" / "ses-01" / "eeg" / "sub-03_ses-01_task-x_run-00_eeg.edf",
        [(1.0, 2.0, "Seizure")],
    )
    entries = {e.recording_id: e for e in discover(corpus)}
    assert entries["pa_r1"].annotation_path == annotated
    assert entries["pb_r1"].annotation_path is None  # never read as seizure-free
    assert entries["sub-03_ses-01_task-x_run-00"].annotation_path == bids
    ann = load_annotation(entries["pa_r1"])
    assert [(e.start, e.stop) for e in ann.seizures()] == [(5.0, 15.0)]
    with pytest.raises(InputFileError, match="EDF\\+ annotations inside the file"):
        load_annotation(entries["pb_r1"])
