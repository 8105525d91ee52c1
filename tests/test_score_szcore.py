"""SzCORE event and sample scoring: hand-computed cases, the per-patient average, and
agreement with ``timescoring`` called directly on SzCORE's example files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from seizure.scoring.score import ScoreParams, patient_of, score_events, score_recordings
from seizure.scoring.szcore import SzcoreCounts, patient_average


def test_event_scoring_hand_computed() -> None:
    # one hour; time in s
    # ref  ....[100-150]..................................
    # hyp  ............[160-170]........[1000-1010]..[1050-1060]
    # 160-170 falls in the reference's window extended by 60 s after -> detected.
    # 1000-1010 and 1050-1060 are 40 s apart (< 90 s) -> merged into one false positive.
    c = score_events([(100, 150)], [(160, 170), (1000, 1010), (1050, 1060)], 3600, "szcore_event")
    assert (c.ref_true, c.tp, c.fp) == (1, 1, 1)
    m = c.metrics()
    assert m["sensitivity"] == 1.0
    assert m["precision"] == 0.5
    assert m["fp_per_24h"] == pytest.approx(24.0)  # 1 FP in 1/24 day
    assert m["specificity"] is None


def test_event_scoring_tolerance_limits() -> None:
    # a detection 30 s before the onset is inside the tolerance; 31 s or more is not
    inside = score_events([(100, 150)], [(65, 71)], 3600, "szcore_event")
    outside = score_events([(100, 150)], [(60, 68)], 3600, "szcore_event")
    assert (inside.tp, inside.fp) == (1, 0)
    assert (outside.tp, outside.fp) == (0, 1)


def test_event_scoring_splits_long_events() -> None:
    # a 12-minute seizure counts as three reference events (split every 300 s)
    c = score_events([(0, 720)], [(10, 20)], 3600, "szcore_event")
    assert c.ref_true == 3 and c.tp == 1


def test_sample_scoring_hand_computed() -> None:
    # 1 Hz samples: ref 100-150 (50 samples), hyp 120-170 (50): TP 30, FP 20, FN 20
    c = score_events([(100, 150)], [(120, 170)], 3600, "szcore_sample")
    assert (c.ref_true, c.tp, c.fp, c.n_samples) == (50, 30, 20, 3600)
    m = c.metrics()
    assert m["sensitivity"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(0.6)
    assert m["fp_per_24h"] == pytest.approx(20 * 24)
    assert m["specificity"] == pytest.approx(3530 / 3550)


def test_unsorted_events_are_sorted_first() -> None:
    """timescoring miscounts unsorted events; we sort before building its masks."""
    ev = [(2000, 2010), (100, 150), (1000, 1010)]
    a = score_events([(100, 150)], ev, 3600, "szcore_event")
    b = score_events([(100, 150)], sorted(ev), 3600, "szcore_event")
    assert (a.tp, a.fp) == (b.tp, b.fp) == (1, 2)


def test_no_reference_events_gives_nan_sensitivity() -> None:
    c = score_events([], [(10, 20)], 3600, "szcore_event")
    assert math.isnan(c.metrics()["sensitivity"])
    assert c.fp == 1


def test_patient_of() -> None:
    assert patient_of("aaaaaasf_s001_t000") == "aaaaaasf"
    assert patient_of("sub-01_ses-01_task-szMonitoring_run-00") == "sub-01"
    assert patient_of("chb01_03", r"(chb\d+)") == "chb01"
    assert patient_of("nomatch", r"\d+") == "nomatch"


def test_pooled_and_per_patient_average() -> None:
    # patient a: two recordings, 2 seizures, 1 detected; patient b: 1 seizure, detected
    recs = [
        ("a_1", [(100, 150)], [(110, 120)], 3600.0),
        ("a_2", [(100, 150)], [], 3600.0),
        ("b_1", [(100, 150)], [(100, 150), (2000, 2100)], 3600.0),
    ]
    r = score_recordings(recs, ["szcore_event"]).results["szcore_event"]
    assert (r.counts.ref_true, r.counts.tp, r.counts.fp) == (3, 2, 1)
    d = r.summary()
    assert d["sensitivity"] == pytest.approx(2 / 3)  # pooled
    assert d["false_alarms_per_24h"] == pytest.approx(1 / (3 * 3600) * 86400)
    avg = d["patient_average"]
    assert avg["patients"] == 2
    assert avg["sensitivity"] == pytest.approx((0.5 + 1.0) / 2)  # mean of patients
    assert avg["fp_per_24h"] == pytest.approx((0 + 24) / 2)
    assert avg["sensitivity_std"] == pytest.approx(0.25)


def test_patient_average_ignores_nan() -> None:
    per = {"a": SzcoreCounts("szcore_event", 0, 0, 1, 10, 3600, 1)}
    per["b"] = SzcoreCounts("szcore_event", 2, 1, 0, 10, 3600, 1)
    avg = patient_average(per)
    assert avg["sensitivity"] == 0.5  # patient a has no seizure: NaN, ignored


@pytest.mark.shared_data
@pytest.mark.parametrize("method", ["szcore_event", "szcore_sample"])
def test_agrees_with_timescoring_on_szcore_examples(shared_data: Path, method: str) -> None:
    from timescoring import scoring
    from timescoring.annotations import Annotation as TsAnnotation

    from seizure.io.annotations import read_annotation

    folder = shared_data / "annotations" / "szcore"
    ref = read_annotation(folder / "reference_example.tsv")
    hyp = read_annotation(folder / "hypothesis_example.tsv")
    duration = ref.duration
    assert duration == 3600.0
    ref_ev = [(e.start, e.stop) for e in ref.seizures(duration)]
    hyp_ev = [(e.start, e.stop) for e in hyp.seizures(duration)]

    ours = score_events(ref_ev, hyp_ev, duration, method)

    # timescoring directly, as szcore-evaluation feeds it: 1 Hz masks with times truncated
    # to samples (epilepsy2bids' Annotations.getMask)
    n = int(duration)

    def mask(events: list[tuple[float, float]]) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for start, stop in events:
            out[int(start) : int(stop)] = True
        return out

    ref_a = TsAnnotation(mask(ref_ev), 1)
    hyp_a = TsAnnotation(mask(hyp_ev), 1)
    theirs = (
        scoring.EventScoring(ref_a, hyp_a)
        if method == "szcore_event"
        else scoring.SampleScoring(ref_a, hyp_a)
    )
    assert (ours.ref_true, ours.tp, ours.fp) == (theirs.refTrue, theirs.tp, theirs.fp)
    m = ours.metrics()
    assert m["sensitivity"] == pytest.approx(theirs.sensitivity)
    assert m["precision"] == pytest.approx(theirs.precision)
    assert m["fp_per_24h"] == pytest.approx(theirs.fpRate)
    # by hand, at 1 Hz. Reference samples [36, 237) [304, 425) [1023, 1047) = 346; merged
    # (gap 67 s < 90) and split (> 300 s): events 36-336, 336-425, 1023-1047, extended to
    # 6-396, 306-485, 993-1107. The 22 hypothesis events merge and split into 7-87, 337-339,
    # 584-585, 1016-1018, 1176-1476, 1476-1487, 1662-1676, 1998-2045: all three references
    # are detected (7-87, 337-339, 1016-1018) and five events touch no window.
    # Samples: 71 hypothesis samples, of which 85-87 and 337-339 (4) are ictal.
    expected = {"szcore_event": (3, 3, 5), "szcore_sample": (346, 4, 67)}[method]
    assert (ours.ref_true, ours.tp, ours.fp) == expected


def test_params_fs() -> None:
    # 10 Hz masks keep sub-second timing in sample scoring
    c = score_events([(1.0, 1.5)], [(1.2, 1.5)], 10, "szcore_sample", ScoreParams(szcore_fs_hz=10))
    assert (c.ref_true, c.tp, c.fp) == (5, 3, 0)
