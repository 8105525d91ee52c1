"""Channel label normalisation across corpora."""

from __future__ import annotations

import pytest

from seizure.io.channels import normalize_label, normalize_labels, unique_labels


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EEG FP1-REF", "FP1"),  # TUSZ 01_tcp_ar
        ("EEG FP1-LE", "FP1"),  # TUSZ 02_tcp_le
        ("EEG Fp1", "FP1"),  # Siena
        ("FP1", "FP1"),
        ("Fp1-Ref", "FP1"),
        ("fp1", "FP1"),
        ("EEG Fp1-AVG", "FP1"),
        ("  EEG   Cz-REF ", "CZ"),
        ("EEG T7", "T3"),
        ("T8", "T4"),
        ("EEG P7-REF", "T5"),
        ("P8", "T6"),
        ("EEG A1-REF", "A1"),
        ("FP1-F7", "FP1-F7"),  # CHB-MIT bipolar
        ("T8-P8", "T4-T6"),  # synonyms on both sides -> the TCP name
        ("P7-T7", "T5-T3"),
        ("FT9-FT10", "FT9-FT10"),
        ("EEG EKG1-REF", "EKG1"),
        ("EKG EKG", "EKG"),
        ("ECG", "ECG"),
        ("PHOTIC-REF", "PHOTIC"),
        ("EEG ROC-REF", "ROC"),
        ("EEG LOC-REF", "LOC"),
        ("IBI", "IBI"),
        ("BURSTS", "BURSTS"),
        ("SUPPR", "SUPPR"),
        ("EDF Annotations", "ANNOTATIONS"),
        ("SpO2", "SPO2"),
        ("-", "-"),  # CHB-MIT placeholder channels stay distinguishable
    ],
)
def test_normalize_label(raw: str, expected: str) -> None:
    assert normalize_label(raw) == expected


def test_idempotent() -> None:
    for raw in ["EEG FP1-REF", "T8-P8", "EEG EKG1-REF", "PHOTIC-REF", "EEG T7"]:
        once = normalize_label(raw)
        assert normalize_label(once) == once


def test_duplicates_get_suffix() -> None:
    assert unique_labels(["A", "B", "A", "A"]) == ["A", "B", "A#2", "A#3"]
    # CHB-MIT lists T8-P8 twice (channels 15 and 23)
    assert normalize_labels(["FP1-F7", "T8-P8", "FT10-T8", "T8-P8"]) == [
        "FP1-F7",
        "T4-T6",
        "FT10-T4",
        "T4-T6#2",
    ]
    # a referential file mixing T3 and T7 names for one electrode keeps both, disambiguated
    assert normalize_labels(["EEG T3-REF", "EEG T7-REF"]) == ["T3", "T3#2"]
