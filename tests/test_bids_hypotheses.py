"""SzCORE/BIDS hypotheses: ``detect`` and ``evaluate`` mirror a BIDS reference tree, so that
``szcore-evaluation`` and ``seizure score`` pair them without renaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_detect_cli import write_edf
from test_evaluate_pipeline import make_checkpoint, power_factory

from seizure.evaluation.detect import detect
from seizure.evaluation.evaluate import write_hypotheses
from seizure.evaluation.hypotheses import HypothesisWriter, PostprocessParams
from seizure.evaluation.naming import hypothesis_names
from seizure.io.events import Event
from seizure.scoring.lists import pair_inputs, recording_name
from seizure.scoring.score import score_files

RUN0 = "sub-01_ses-01_task-szMonitoring_run-00"
RUN1 = "sub-02_ses-01_task-szMonitoring_run-00"
EVENTS_HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"


def test_hypothesis_names() -> None:
    tree = f"sub-01/ses-01/eeg/{RUN0}"
    # a recording id (evaluate) gets the BIDS folders
    assert hypothesis_names(RUN0) == (f"{tree}.csv_bi", f"{tree}_events.tsv")
    # a path below the input folder (detect) keeps its folders; _eeg gives way to _events
    assert hypothesis_names(f"{tree}_eeg") == (f"{tree}_eeg.csv_bi", f"{tree}_events.tsv")
    # no session entity
    assert hypothesis_names("sub-7_task-x_eeg")[1] == "sub-7/eeg/sub-7_task-x_events.tsv"
    # anything else keeps its name
    assert hypothesis_names("a_s001_t000") == ("a_s001_t000.csv_bi", "a_s001_t000.tsv")
    assert hypothesis_names("sub/b") == ("sub/b.csv_bi", "sub/b.tsv")
    assert hypothesis_names("subject_1") == ("subject_1.csv_bi", "subject_1.tsv")


def test_recording_names_of_bids_files() -> None:
    assert recording_name(f"{RUN0}_events.tsv") == RUN0
    assert recording_name(f"{RUN0}_eeg.tsv") == RUN0  # written by detect before
    assert recording_name(f"{RUN0}_eeg.csv_bi") == RUN0
    assert recording_name("pat_eeg.csv_bi") == "pat_eeg"  # not BIDS: unchanged


def _events_tsv(path: Path, rows: list[tuple[float, float]], duration_s: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = [(on, length, "sz") for on, length in rows] or [(0.0, duration_s, "bckg")]
    path.write_text(
        EVENTS_HEADER
        + "".join(
            f"{on:.2f}\t{length:.2f}\t{kind}\tn/a\tn/a\tn/a\t{duration_s:.2f}\n"
            for on, length, kind in body
        )
    )


def test_score_pairs_a_bids_tree_and_skips_its_other_tables(tmp_path: Path) -> None:
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    eeg0, eeg1 = Path("sub-01/ses-01/eeg"), Path("sub-02/ses-01/eeg")
    _events_tsv(ref / eeg0 / f"{RUN0}_events.tsv", [(40.0, 30.0)], 120.0)
    _events_tsv(ref / eeg1 / f"{RUN1}_events.tsv", [], 90.0)
    (ref / "participants.tsv").write_text("participant_id\tage\nsub-01\t30\nsub-02\t40\n")
    (ref / eeg0 / f"{RUN0}_channels.tsv").write_text("name\ttype\nFp1\tEEG\n")
    # hypotheses as detect wrote them before (``_eeg.tsv``) and as it writes them now
    _events_tsv(hyp / eeg0 / f"{RUN0}_eeg.tsv", [(45.0, 20.0)], 120.0)
    _events_tsv(hyp / eeg1 / f"{RUN1}_events.tsv", [(10.0, 5.0)], 90.0)

    pairing = pair_inputs(ref, hyp)
    assert pairing.warnings == []
    assert [(p.name, p.hyp is not None) for p in pairing.pairs] == [(RUN0, True), (RUN1, True)]
    report = score_files(ref, hyp, ["szcore_sample"])
    c = report.results["szcore_sample"].counts
    assert (c.ref_true, c.tp, c.fp) == (30, 20, 5)


def test_evaluate_writers_put_bids_hypotheses_in_a_bids_tree(tmp_path: Path) -> None:
    events = {RUN0: [Event(10.0, 20.0)], "a_s001_t000": []}
    durations = {RUN0: 60.0, "a_s001_t000": 30.0}
    written = write_hypotheses(tmp_path / "slow", events, durations, workers=1)
    tree = Path("sub-01/ses-01/eeg")
    assert sorted(p.relative_to(tmp_path / "slow") for p in written) == sorted(
        [
            tree / f"{RUN0}.csv_bi",
            tree / f"{RUN0}_events.tsv",
            Path("a_s001_t000.csv_bi"),
            Path("a_s001_t000.tsv"),
        ]
    )
    # the writer of the inference processes writes the same files, byte for byte
    params = PostprocessParams(threshold=0.5, window_seconds=1.0, stride_seconds=1.0)
    probs = np.zeros(60, dtype=np.float32)
    probs[10:20] = 1.0
    HypothesisWriter(str(tmp_path / "fast"), params)(RUN0, RUN0, 60.0, probs)
    for name in (f"{RUN0}.csv_bi", f"{RUN0}_events.tsv"):
        fast = (tmp_path / "fast" / tree / name).read_bytes()
        assert fast == (tmp_path / "slow" / tree / name).read_bytes()


def test_detect_on_a_bids_corpus_mirrors_the_reference_tree(tmp_path: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "best.pt")
    corpus = tmp_path / "bids"
    eeg0, eeg1 = Path("sub-01/ses-01/eeg"), Path("sub-02/ses-01/eeg")
    write_edf(corpus / eeg0 / f"{RUN0}_eeg.edf", 120, [(40, 70)])
    write_edf(corpus / eeg1 / f"{RUN1}_eeg.edf", 90, [], seed=1)
    _events_tsv(corpus / eeg0 / f"{RUN0}_events.tsv", [(40.0, 30.0)], 120.0)
    _events_tsv(corpus / eeg1 / f"{RUN1}_events.tsv", [], 90.0)
    out = tmp_path / "out"
    results = detect(ckpt, [corpus], out, device="cpu", model_factory=power_factory)
    assert all(r.ok for r in results)
    hyp0 = out / eeg0 / f"{RUN0}_events.tsv"
    assert hyp0.is_file() and (out / eeg1 / f"{RUN1}_events.tsv").is_file()
    rows = hyp0.read_text().splitlines()
    assert rows[1].split("\t")[2] == "sz"
    assert rows[1].split("\t")[5] == "n/a"  # dateTime: as evaluate writes it

    report = score_files(corpus, out, ["szcore_event", "szcore_sample"])
    assert report.files == 2 and report.warnings == []
    ours = report.results["szcore_sample"].summary()
    assert ours["sensitivity"] > 0.8

    szcore = pytest.importorskip("szcore_evaluation.evaluate")
    theirs = szcore.evaluate_dataset(corpus, out, tmp_path / "r.json", avg_per_subject=False)
    assert theirs["sample_results"]["sensitivity"] == pytest.approx(ours["sensitivity"])
    event = report.results["szcore_event"].summary()
    assert theirs["event_results"]["sensitivity"] == pytest.approx(event["sensitivity"]) == 1.0
