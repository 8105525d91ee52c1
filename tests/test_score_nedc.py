"""NEDC OVLP / TAES / EPOCH / DPALIGN on hand-computed cases, invariants, and a literal
transliteration of NEDC's TAES loops as an independent check of the fast implementation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from seizure.io.events import Event
from seizure.scoring import nedc
from seizure.scoring.nedc import BCKG, SEIZ, Timeline, build_timeline
from seizure.scoring.score import ScoreParams, score_events


def tl(seizures: list[tuple[float, float]], duration: float) -> Timeline:
    return build_timeline(nedc.as_intervals(seizures, duration), duration)


def seiz(counts: nedc.NedcCounts) -> dict[str, float]:
    return counts.metrics().per_label["seiz"]


# ------------------------------------------------------------------------------- timelines


def test_timeline_fills_gaps_with_background() -> None:
    # 0    10   20   30
    # .....[####].....     seiz 10-20 in a 30 s file
    t = tl([(10, 20)], 30)
    assert list(zip(t.starts, t.stops, t.labels)) == [
        (0.0, 10.0, BCKG),
        (10.0, 20.0, SEIZ),
        (20.0, 30.0, BCKG),
    ]


def test_timeline_edges_and_empty() -> None:
    # [###].....   seizure from the first second: no leading background
    assert tl([(0, 5)], 10).labels == [SEIZ, BCKG]
    # .....[###]   seizure to the end: no trailing background
    assert tl([(5, 10)], 10).labels == [BCKG, SEIZ]
    # ..........   no seizure: one background interval spanning the file
    t = tl([], 10)
    assert (t.starts, t.stops, t.labels) == ([0.0], [10.0], [BCKG])
    # touching or overlapping events merge; events past the end are clipped
    t = tl([(2, 4), (4, 6), (5, 7), (9, 12)], 10)
    assert list(zip(t.starts, t.stops, t.labels)) == [
        (0.0, 2.0, BCKG),
        (2.0, 7.0, SEIZ),
        (7.0, 9.0, BCKG),
        (9.0, 10.0, SEIZ),
    ]


def test_timeline_rounds_gap_bounds_like_nedc() -> None:
    # a gap shorter than NEDC's 4-decimal rounding gets no background interval
    t = tl([(0.00001, 5)], 10)
    assert t.labels == [SEIZ, BCKG]


# -------------------------------------------------------------------------------------- OVLP


def test_ovlp_hand_computed() -> None:
    # time 0    10   20   30   40   50   60
    # ref  .....[####]......[####]........      seiz 10-20, 35-45
    # hyp  ........[#]...............[##]..     seiz 15-18, 50-55
    # seiz: 10-20 hit, 35-45 missed; 50-55 overlaps no seizure -> 1 false alarm.
    # bckg (0-10, 20-35, 45-60) are all overlapped by hyp background -> TN = 3.
    c = nedc.ovlp_counts(tl([(10, 20), (35, 45)], 60), tl([(15, 18), (50, 55)], 60))
    assert c.targets.tolist() == [2, 3]
    assert c.hits.tolist() == [1, 3]
    assert c.false_alarms.tolist() == [1, 0]
    m = seiz(c)
    assert m["sensitivity"] == 0.5
    assert m["specificity"] == 3 / 4  # background *events*, not time
    assert m["fa_per_24h"] == pytest.approx(1 / 60 * 86400)


def test_ovlp_touching_is_not_overlap() -> None:
    # ref  .....[####].   seiz 10-20
    # hyp  .[###].......  seiz 2-10 ends where the reference starts
    c = nedc.ovlp_counts(tl([(10, 20)], 30), tl([(2, 10)], 30))
    assert c.hits[SEIZ] == 0 and c.false_alarms[SEIZ] == 1


def test_touching_reference_events_join_like_nedc() -> None:
    # time 0    10   20   30   40
    # ref  .....[####][####].....   seiz 10-20 and 20-30, written as two rows
    # hyp  .......[#]............   seiz 12-15
    # NEDC joins consecutive events of one label (remove_repeated_events): one target, hit.
    counts = score_events([(10, 20), (20, 30)], [(12, 15)], 40.0, "ovlp")
    assert (counts.targets[SEIZ], counts.hits[SEIZ], counts.misses[SEIZ]) == (1, 1, 0)
    apart = score_events([(10, 20), (20.5, 30)], [(12, 15)], 40.0, "ovlp")
    assert (apart.targets[SEIZ], apart.hits[SEIZ], apart.misses[SEIZ]) == (2, 1, 1)


def test_ovlp_several_hyps_in_one_ref_are_one_hit_no_false_alarm() -> None:
    # ref  ..[##########]..   seiz 10-40
    # hyp  ...[#].[#].[#]...  three detections inside
    c = nedc.ovlp_counts(tl([(10, 40)], 60), tl([(12, 15), (20, 25), (30, 35)], 60))
    assert (c.hits[SEIZ], c.misses[SEIZ], c.false_alarms[SEIZ]) == (1, 0, 0)


# -------------------------------------------------------------------------------------- TAES


def test_taes_hyp_starting_early() -> None:
    # time 0    5    10   15   20   30
    # ref  ..........[#########].....   seiz 10-20
    # hyp  .....[#########]..........   seiz 5-15
    # seiz: hit = (15 - 10) / 10 = 0.5, fa = (10 - 5) / 10 = 0.5, miss = 0.5
    # bckg: ref 0-10 vs hyp 0-5 -> hit 0.5; ref 20-30 vs hyp 15-30 -> hit 1, fa 0.5
    c = nedc.taes_counts(tl([(10, 20)], 30), tl([(5, 15)], 30))
    assert c.hits.tolist() == pytest.approx([0.5, 1.5])
    assert c.misses.tolist() == pytest.approx([0.5, 0.5])
    assert c.false_alarms.tolist() == pytest.approx([0.5, 0.5])
    m = seiz(c)
    assert m["sensitivity"] == pytest.approx(0.5)
    assert m["specificity"] == pytest.approx(1.5 / 2.0)


def test_taes_hyp_covering_two_refs_charges_a_full_miss() -> None:
    # time 0  5  10   20   30   40 45      60
    # ref  ......[####]....[####].........   seiz 10-20, 30-40
    # hyp  ...[##################]........   seiz 5-45
    # first ref: hit 1, fa = min(1, (25 + 5) / 10) = 1; the second ref it covers: one miss.
    # bckg 20-30 overlaps no hyp background (hyp bckg is 0-5 and 45-60): absolute miss.
    c = nedc.taes_counts(tl([(10, 20), (30, 40)], 60), tl([(5, 45)], 60))
    assert c.targets.tolist() == [2, 3]
    assert c.hits.tolist() == pytest.approx([1.0, 0.5 + 0.75])
    assert c.misses.tolist() == pytest.approx([1.0, 0.5 + 0.25 + 1.0])
    assert c.false_alarms.tolist() == pytest.approx([1.0, 0.0])


def test_taes_whole_second_pairing_quirk() -> None:
    # time 0    5    10        20 20.5 20.7  30    40
    # ref  ..........[#########]...................   seiz 10-20
    # hyp  .....[###############]..[#########]......  seiz 5-20.5, 20.7-30
    # NEDC pairs intervals sharing a whole second: 20.7-30 shares second 20 with the
    # reference and scores hit = (20 - 20.7) / 10 = -0.07, fa = min(1, 10 / 10) = 1.
    c = nedc.taes_counts(tl([(10, 20)], 40), tl([(5, 20.5), (20.7, 30)], 40))
    assert c.hits[SEIZ] == pytest.approx(1.0 - 0.07)
    assert c.misses[SEIZ] == pytest.approx(1.07)
    assert c.false_alarms[SEIZ] == pytest.approx(0.05 + 0.5 + 1.0)
    # bckg 0-10: hyp 0-5 -> 0.5; bckg 20-40: hyp 20.5-20.7 -> 0.01 plus hyp 30-40 -> 0.5
    assert c.hits[BCKG] == pytest.approx(0.5 + 0.01 + 0.5)


def _taes_literal(ref: Timeline, hyp: Timeline) -> tuple[list[float], list[float], list[float]]:
    """NEDC's NedcTAES.compute transliterated loop for loop (quadratic; for testing only)."""
    R = list(zip(ref.starts, ref.stops, ref.labels))
    H = list(zip(hyp.starts, hyp.stops, hyp.labels))

    def anyovlp(r, h):  # noqa: ANN001, ANN202
        a = set(range(int(r[0]), int(r[1]) + 1))
        return len(a & set(range(int(h[0]), int(h[1]) + 1))) != 0

    hit, mis, fal = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    rf, hf = [True] * len(R), [True] * len(H)
    for i in range(len(R)):
        labels = [h[2] for h in H if h[1] > R[i][0] and h[0] < R[i][1]]
        if R[i][2] in labels and rf[i]:
            for j in range(len(H)):
                if H[j][2] == R[i][2] and hf[j]:
                    if not anyovlp(R[i], H[j]):
                        continue
                    ph, pf = nedc._calc_hf(R[i][0], R[i][1], H[j][0], H[j][1])
                    pm = 1.0 - ph
                    hf[j] = rf[i] = False
                    if H[j][1] >= R[i][1]:
                        for k in range(i + 1, len(R)):
                            if R[k][2] == H[j][2] and anyovlp(R[k], H[j]):
                                rf[k] = False
                                pm += 1
                    else:
                        for k in range(j + 1, len(H)):
                            if H[k][2] == R[i][2] and anyovlp(R[i], H[k]):
                                hf[k] = False
                                oh, of = nedc._calc_hf(R[i][0], R[i][1], H[k][0], H[k][1])
                                ph, pm, pf = ph + oh, pm - oh, pf + of
                    hit[R[i][2]] += ph
                    mis[R[i][2]] += pm
                    fal[R[i][2]] += pf
    for i, r in enumerate(R):
        mis[r[2]] += rf[i]
    for j, h in enumerate(H):
        fal[h[2]] += hf[j]
    return hit, mis, fal


def _random_events(rng: random.Random, duration: float, n: int, fine: bool) -> list:
    out = []
    for _ in range(n):
        start = rng.uniform(0, duration - 1)
        length = rng.uniform(0.05, 3.0) if fine else rng.uniform(1, 40)
        out.append((round(start, 2), round(min(duration, start + length), 2)))
    return out


@pytest.mark.parametrize("fine", [False, True])
def test_taes_agrees_with_literal_transliteration(fine: bool) -> None:
    """Random files, including sub-second events that exercise the whole-second quirks."""
    rng = random.Random(1234 + fine)
    for _ in range(150):
        duration = rng.choice([30.0, 120.0, 600.0])
        n_ref, n_hyp = rng.randint(0, 8), rng.randint(0, 12)
        ref = tl(_random_events(rng, duration, n_ref, fine), duration)
        hyp = tl(_random_events(rng, duration, n_hyp, fine), duration)
        c = nedc.taes_counts(ref, hyp)
        hit, mis, fal = _taes_literal(ref, hyp)
        assert c.hits.tolist() == pytest.approx(hit, abs=1e-12)
        assert c.misses.tolist() == pytest.approx(mis, abs=1e-12)
        assert c.false_alarms.tolist() == pytest.approx(fal, abs=1e-12)


# ------------------------------------------------------------------------------------- EPOCH


def test_epoch_hand_computed() -> None:
    # 2 s file, 0.25 s epochs sampled at their midpoints 0.125, 0.375, ..., 1.875 (8)
    # time  0    .5    1    1.5    2
    # ref   .....[####]...........      seiz 0.5-1.0  -> samples 0.625, 0.875
    # hyp   ..........[#######]...      seiz 0.75-1.5 -> samples 0.875, 1.125, 1.375
    c = nedc.epoch_counts(tl([(0.5, 1.0)], 2.0), tl([(0.75, 1.5)], 2.0))
    # rows ref (seiz, bckg), columns hyp (seiz, bckg)
    assert c.confusion.tolist() == [[1, 1], [2, 4]]
    m = seiz(c)
    assert m["sensitivity"] == 0.5
    assert m["specificity"] == 4 / 6
    assert m["fa_per_24h"] == pytest.approx(2 * 0.25 / 2.0 * 86400)


def test_epoch_sample_on_a_boundary_takes_the_earlier_interval() -> None:
    # ref seiz 0.125-0.625: the sample at 0.125 falls on the bckg|seiz boundary -> bckg;
    # 0.625 falls on the seiz|bckg boundary -> seiz. Two seizure epochs: 0.375 and 0.625.
    c = nedc.epoch_counts(tl([(0.125, 0.625)], 1.0), tl([], 1.0))
    assert c.targets.tolist() == [2, 2]


@pytest.mark.parametrize(("duration", "n"), [(1.0, 4), (1.1, 4), (1.125, 5), (0.1, 0)])
def test_epoch_count_at_file_end(duration: float, n: int) -> None:
    # samples k * 0.25 + 0.125 <= duration
    c = nedc.epoch_counts(tl([], duration), tl([], duration))
    assert c.confusion.sum() == n


# ----------------------------------------------------------------------------------- DPALIGN


def test_dpalign_no_detection_deletes_from_the_start() -> None:
    # ref: bckg seiz bckg ; hyp: bckg. NEDC's tie breaking aligns the trailing bckg and
    # deletes the first two (as in its published per-file output).
    refo, hypo = nedc.align([BCKG, SEIZ, BCKG], [BCKG])
    assert refo == [-1, BCKG, SEIZ, BCKG, -1]
    assert hypo == [-1, -1, -1, BCKG, -1]
    c = nedc.dpalign_counts(tl([(10, 20)], 30), tl([], 30))
    assert c.targets.tolist() == [1, 2]
    assert c.hits.tolist() == [0, 1]
    assert c.deletions.tolist() == [1, 1]
    assert seiz(c)["sensitivity"] == 0.0


def test_dpalign_extra_detection_is_an_insertion() -> None:
    # ref: bckg ; hyp: bckg seiz bckg -> one seiz and one bckg insertion, bckg hit
    c = nedc.dpalign_counts(tl([], 30), tl([(10, 20)], 30))
    assert c.insertions.tolist() == [1, 1]
    assert c.false_alarms.tolist() == [1, 1]
    assert c.hits.tolist() == [0, 1]
    m = seiz(c)
    assert m["fp"] == 1
    assert m["fa_per_24h"] == pytest.approx(86400 / 30)


def test_dpalign_ignores_times() -> None:
    # same label sequence, no time overlap at all: a perfect alignment
    c = nedc.dpalign_counts(tl([(1, 2)], 100), tl([(80, 90)], 100))
    assert c.hits.tolist() == [1, 2] and c.misses.sum() == 0 and c.insertions.sum() == 0


# -------------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("method", nedc.NEDC_METHODS)
def test_perfect_hypothesis(method: str) -> None:
    rng = random.Random(7)
    for _ in range(20):
        duration = 600.0
        ev = _random_events(rng, duration, rng.randint(1, 6), fine=False)
        c = score_events(ev, ev, duration, method)
        m = seiz(c)
        assert m["sensitivity"] == pytest.approx(1.0)
        assert m["fp"] == 0 and m["fa_per_24h"] == 0
        assert m["specificity"] == pytest.approx(1.0)


@pytest.mark.parametrize("method", nedc.NEDC_METHODS)
def test_empty_hypothesis(method: str) -> None:
    c = score_events([(10, 20), (40, 50)], [], 100.0, method)
    m = seiz(c)
    assert m["sensitivity"] == 0 and m["fp"] == 0 and m["fa_per_24h"] == 0
    assert c.targets[SEIZ] > 0


@pytest.mark.parametrize("method", ["ovlp", "epoch", "dpalign"])
def test_hits_plus_misses_are_targets(method: str) -> None:
    rng = random.Random(11)
    for _ in range(50):
        ref = _random_events(rng, 300.0, rng.randint(0, 6), fine=True)
        hyp = _random_events(rng, 300.0, rng.randint(0, 6), fine=True)
        c = score_events(ref, hyp, 300.0, method)
        assert np.allclose(c.hits + c.misses, c.targets)


def test_counts_add_over_files() -> None:
    a = score_events([(10, 20)], [(15, 25)], 60, "taes")
    b = score_events([(5, 8)], [], 30, "taes")
    total = a + b
    assert total.files == 2 and total.duration_s == 90
    assert total.hits.tolist() == pytest.approx((a.hits + b.hits).tolist())
    with pytest.raises(ValueError, match="cannot add"):
        a + score_events([], [], 30, "ovlp")


def test_input_forms_are_equivalent_and_sorted() -> None:
    as_events = [Event(40, 50), Event(10, 20), Event(0, 5, "bckg")]
    as_tuples = [(40, 50), (10, 20)]
    as_array = np.array([[10.0, 20.0], [40.0, 50.0]])
    hyp = [(45, 60), (12, 13)]
    results = [score_events(r, hyp, 100, "taes") for r in (as_events, as_tuples, as_array)]
    for c in results[1:]:
        assert c.hits.tolist() == results[0].hits.tolist()
        assert c.false_alarms.tolist() == results[0].false_alarms.tolist()


def test_zero_divisions_give_zero_like_nedc() -> None:
    m = seiz(score_events([], [], 100, "ovlp"))
    assert m["sensitivity"] == 0 and m["precision"] == 0 and m["f1"] == 0


def test_score_params_validation() -> None:
    with pytest.raises(ValueError, match="epoch_s"):
        ScoreParams(epoch_s=0)
    with pytest.raises(ValueError, match="patient_regex"):
        ScoreParams(patient_regex="(")
    with pytest.raises(ValueError, match="Invalid value for 'method'"):
        score_events([], [], 10, "bogus")


def test_epoch_length_parameter() -> None:
    # 1 s epochs over a 10 s file: 10 samples at 0.5, 1.5, ...; FA scaled by the epoch
    c = score_events([], [(0, 2)], 10, "epoch", ScoreParams(epoch_s=1.0))
    assert c.confusion.sum() == 10
    assert seiz(c)["fa_per_24h"] == pytest.approx(2 * 1.0 / 10 * 86400)


@pytest.mark.parametrize("epoch_s", [0.25, 1.0, 0.1])
def test_epoch_run_counting_agrees_with_per_sample_lookup(epoch_s: float) -> None:
    """The run-based EPOCH counts equal NEDC's one-sample-at-a-time lookup, boundaries,
    sub-epoch events and rounding gaps included."""
    rng = random.Random(99)
    for _ in range(200):
        duration = rng.choice([1.0, 7.3, 60.0, 61.125])
        fine = rng.random() < 0.5
        grid = [k * 0.125 for k in range(int(duration / 0.125) + 1)]

        def events(grid: list, duration: float, fine: bool) -> list:
            if rng.random() < 0.3:  # events on sample times and epoch edges
                pts = sorted(rng.sample(grid, min(len(grid), 2 * rng.randint(0, 3))))
                return list(zip(pts[::2], pts[1::2]))
            return _random_events(rng, duration, rng.randint(0, 5), fine)

        ref = tl(events(grid, duration, fine), duration)
        hyp = tl(events(grid, duration, fine), duration)
        c = nedc.epoch_counts(ref, hyp, epoch_s)
        r = nedc.epoch_labels(ref, ref.end, epoch_s)
        h = nedc.epoch_labels(hyp, ref.end, epoch_s)
        expected = np.zeros((2, 2))
        np.add.at(expected, (r, h), 1)
        assert c.confusion.tolist() == expected.tolist()
