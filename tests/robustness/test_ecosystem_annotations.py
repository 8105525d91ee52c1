"""Corpora annotated the way the EEG ecosystem does it: EDF+ files carrying their own
annotations (no sidecar) and mne-bids ``events.tsv`` (``trial_type``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from battery import ELECTRODES, FAST, processed, processed_with_warning, refused, run


def write_edf_plus(path: Path, annotations, seconds: int = 8, seed: int = 0) -> Path:
    """A flat-corpus EDF+ of seeded noise whose annotations live inside the file."""
    from edfio import Edf, EdfAnnotation, EdfSignal

    rng = np.random.default_rng(seed)
    signals = [
        EdfSignal(
            rng.standard_normal(seconds * 128) * 30,
            sampling_frequency=128,
            label=f"EEG {name}-REF",
            physical_dimension="uV",
            physical_range=(-500, 500),
        )
        for name in ELECTRODES
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    anns = [EdfAnnotation(on, dur, text) for on, dur, text in annotations]
    Edf(signals, annotations=anns or None).write(path)
    return path


def test_edf_plus_corpus_without_sidecars_is_labelled_by_its_annotations(tmp_path):
    from seizure.preprocessing.cache import Cache

    corpus = tmp_path / "corpus"
    write_edf_plus(corpus / "pa_r1.edf", [(2.0, 3.0, "Seizure")], seed=1)
    write_edf_plus(corpus / "pb_r1.edf", [(1.0, None, "Recording starts")], seed=2)
    processed_with_warning(
        run("preprocess", corpus, tmp_path / "c", *FAST), r"1 seizure events.*1 warnings"
    )
    cache = Cache(tmp_path / "c")
    (warning,) = cache.record("pb_r1").warnings
    assert "pb_r1.edf" in warning and "'Recording starts' (1)" in warning
    assert cache.labels("pa_r1").any() and not cache.labels("pb_r1").any()


def test_plain_edf_without_annotations_is_still_refused(tmp_path):
    corpus = tmp_path / "corpus"
    write_edf_plus(corpus / "pa_r1.edf", [(2.0, 3.0, "Seizure")], seed=1)
    write_edf_plus(corpus / "pb_r1.edf", [], seed=2)
    refused(
        run("preprocess", corpus, tmp_path / "c", *FAST),
        1,
        r"pb_r1\.edf: no annotation file beside the recording.*EDF\+ annotations",
    )


def test_mne_bids_corpus_is_read(tmp_path):
    corpus = tmp_path / "bids"
    for sub, rows in (
        ("01", "2.0\t3.0\tseizure\t1\t256\n"),
        ("02", "1.0\t1.0\tbackground\t2\t128\n"),
    ):
        eeg = corpus / f"sub-{sub}" / "ses-01" / "eeg"
        write_edf_plus(eeg / f"sub-{sub}_ses-01_task-rest_run-01_eeg.edf", [], seed=int(sub))
        (eeg / f"sub-{sub}_ses-01_task-rest_run-01_events.tsv").write_text(
            "onset\tduration\ttrial_type\tvalue\tsample\n" + rows
        )
    processed(run("preprocess", corpus, tmp_path / "c", *FAST))
