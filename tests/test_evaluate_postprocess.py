"""Post-processing of window probabilities into events: hand-computed cases.

Timelines: one character per window (1 s windows unless said), ``#`` = probability 0.9,
``.`` = 0.1, digits = tenths.
"""

from __future__ import annotations

import numpy as np
import pytest

from seizure.evaluation.config import EvaluateConfig
from seizure.io.events import Event
from seizure.scoring.postprocess import (
    cell_edges,
    drop_short_events,
    mask_to_cell_events,
    merge_close_events,
    postprocess,
    postprocess_sweep,
    smooth_probabilities,
    sweep_thresholds,
    validate_evaluate_config,
)


def timeline(text: str) -> np.ndarray:
    """``"..##.5"`` -> [0.1, 0.1, 0.9, 0.9, 0.1, 0.5]."""
    table = {".": 0.1, "#": 0.9}
    return np.array([table[c] if c in table else int(c) / 10 for c in text])


def spans(events: list[Event]) -> list[tuple[float, float]]:
    return [(round(e.start, 6), round(e.stop, 6)) for e in events]


def pp(text: str, **kwargs) -> list[tuple[float, float]]:
    kwargs.setdefault("threshold", 0.5)
    kwargs.setdefault("window_seconds", 1.0)
    kwargs.setdefault("stride_seconds", 1.0)
    return spans(postprocess(timeline(text), **kwargs))


def test_threshold_only_gives_one_event_per_run():
    # time  0123456789
    # p     ..##...###
    # event   [-)   [-)   -> 2-4 s and 7-10 s
    assert pp("..##...###") == [(2.0, 4.0), (7.0, 10.0)]


def test_threshold_is_inclusive():
    # p = 0.5 at window 1 is ictal at threshold 0.5, not at 0.51
    assert pp(".5.") == [(1.0, 2.0)]
    assert pp(".5.", threshold=0.51) == []


def test_nothing_above_threshold_gives_no_events_and_empty_input_is_fine():
    assert pp("......") == []
    assert pp("") == []


def test_merge_gap_is_strict():
    # time  0123456789
    # p     ##..##...#
    # gaps:   2 s    3 s
    assert pp("##..##...#", merge_gap_seconds=2.0) == [(0.0, 2.0), (4.0, 6.0), (9.0, 10.0)]
    assert pp("##..##...#", merge_gap_seconds=2.5) == [(0.0, 6.0), (9.0, 10.0)]
    assert pp("##..##...#", merge_gap_seconds=3.5) == [(0.0, 10.0)]


def test_min_duration_applies_after_merging():
    # time  0123456789
    # p     #.#.....##
    # runs of 1 s at 0 and 2 (gap 1 s) and a 2 s run at 8
    # min 2 s alone:         only 8-10 survives
    # merge 1.5 s then min 2: 0-3 (3 s) and 8-10
    assert pp("#.#.....##", min_event_seconds=2.0) == [(8.0, 10.0)]
    assert pp("#.#.....##", min_event_seconds=2.0, merge_gap_seconds=1.5) == [
        (0.0, 3.0),
        (8.0, 10.0),
    ]
    assert pp("#.#.....##", min_event_seconds=2.01) == []


def test_smoothing_centered_and_edges_average_existing_windows():
    p = timeline("..#..")  # 0.1 0.1 0.9 0.1 0.1
    s = smooth_probabilities(p, 3)
    # window 0 averages windows 0-1, window 2 averages 1-3
    np.testing.assert_allclose(
        s, [0.1, (0.1 + 0.1 + 0.9) / 3, (0.1 + 0.9 + 0.1) / 3, 0.1 + 0.8 / 3, 0.1]
    )
    np.testing.assert_allclose(smooth_probabilities(p, 1), p)
    # even width: one window further back than ahead ([k-1, k])
    np.testing.assert_allclose(smooth_probabilities(p, 2), [0.1, 0.1, 0.5, 0.5, 0.1])


def test_smoothing_removes_isolated_spike_and_fills_a_hole():
    # time      0   1   2   3   4   5   6   7   8   9
    # p         .   #   .   .   .   .   #   #   .   #
    # width 3  .50 .37 .37 .10 .10 .37 .63 .63 .63 .50   (ends average 2 windows)
    # >= .55                            [---------)      -> 6-9 s
    assert pp(".#....##.#", smoothing_windows=3, threshold=0.55) == [(6.0, 9.0)]
    assert pp(".#....##.#", threshold=0.55) == [(1.0, 2.0), (6.0, 8.0), (9.0, 10.0)]


def test_confidence_is_max_smoothed_probability_of_the_run():
    ev = postprocess(timeline("..79..8."), threshold=0.5, window_seconds=1.0, stride_seconds=1.0)
    assert [round(e.confidence, 6) for e in ev] == [0.9, 0.8]
    assert all(e.label == "seiz" and e.channel == "TERM" for e in ev)


def test_overlapping_windows_use_cells_between_centres():
    # 2 s windows every 1 s: window k covers [k, k+2), centre k+1.
    # cells: [0, 1.5) [1.5, 2.5) [2.5, 3.5) [3.5, 4.5) [4.5, 6)
    edges = cell_edges(5, 2.0, 1.0)
    np.testing.assert_allclose(edges, [0.0, 1.5, 2.5, 3.5, 4.5, 6.0])
    assert pp(".##..", window_seconds=2.0, stride_seconds=1.0) == [(1.5, 3.5)]
    assert pp("#...#", window_seconds=2.0, stride_seconds=1.0) == [(0.0, 1.5), (4.5, 6.0)]


def test_events_clipped_to_duration():
    # 4 windows of 1 s but the recording lasts 3.5 s (the last window was zero-padded)
    assert pp("..##", duration_s=3.5) == [(2.0, 3.5)]


def test_sweep_matches_individual_calls_and_is_nested():
    rng = np.random.default_rng(0)
    p = rng.random(300)
    kw = dict(window_seconds=1.0, stride_seconds=1.0, smoothing_windows=5, merge_gap_seconds=3)
    thresholds = [0.2, 0.4, 0.6, 0.8]
    sweep = postprocess_sweep(p, thresholds, **kw)
    for thr, events in zip(thresholds, sweep):
        assert events == postprocess(p, threshold=thr, **kw)
    # a higher threshold never flags more time
    total = [sum(e.duration for e in evs) for evs in sweep]
    assert total == sorted(total, reverse=True)


def test_helpers_directly():
    a, b, c = Event(0, 1), Event(1.5, 2), Event(5, 9, confidence=0.7)
    assert merge_close_events([a, b, c], 0.5) == [a, b, c]
    assert merge_close_events([a, b, c], 0.51) == [Event(0, 2), c]
    assert drop_short_events([a, b, c], 1.0) == [a, c]
    assert mask_to_cell_events(np.array([], dtype=bool), np.array([0.0])) == []


def test_sweep_thresholds_default_grid():
    t = sweep_thresholds(EvaluateConfig(sweep_high=()))
    assert len(t) == 49 and t[0] == 0.02 and t[-1] == 0.98
    assert np.all(np.diff(t) > 0)


def test_sweep_thresholds_add_the_high_ones_above_the_grid():
    t = sweep_thresholds(EvaluateConfig())
    high = [0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999]
    assert len(t) == 49 + 7 and t[0] == 0.02 and t[48] == 0.98 and list(t[49:]) == high
    assert np.all(np.diff(t) > 0)
    # only those above sweep_max are added, sorted and once each
    t = sweep_thresholds(
        EvaluateConfig(sweep_max=0.995, sweep_points=3, sweep_high=(0.9, 0.999, 0.999, 0.998))
    )
    assert list(t) == [0.02, 0.5075, 0.995, 0.998, 0.999]
    with pytest.raises(ValueError, match="evaluate.sweep_high"):
        validate_evaluate_config(EvaluateConfig(sweep_high=(0.99, 1.0)))


def test_an_overconfident_detector_gets_a_dev_threshold_above_the_linear_grid():
    """Ictal probabilities in 0.985-0.9995, mimics in 0.975-0.99: the grid alone cannot."""
    from seizure.evaluation.selection import PostprocessSetting, choose_operating_point

    rng = np.random.default_rng(3)
    probs, refs, durs = {}, {}, {}
    for k in range(6):
        p = np.where(rng.random(3600) < 0.05, rng.uniform(0.0, 0.9, 3600), 0.0)  # 1 h
        for m in (200, 1200, 2200, 3200):  # four 20 s mimics that never reach 0.99
            p[m : m + 20] = rng.uniform(0.975, 0.99, 20)
        a = 600 + 400 * k
        p[a : a + 30] = rng.uniform(0.985, 0.9995, 30)
        rid = f"p{k}_s001_t000"
        probs[rid], refs[rid], durs[rid] = p, [Event(float(a), float(a + 30), "seiz")], 3600.0
    settings = [PostprocessSetting(1, 0.0, 0.0), PostprocessSetting(5, 0.0, 0.0)]
    kw = {"split": "dev", "window_seconds": 1.0, "stride_seconds": 1.0}
    linear = sweep_thresholds(EvaluateConfig(sweep_high=()))
    old = choose_operating_point(probs, refs, durs, settings, linear, 6.75, **kw)
    assert not old.met_budget  # every threshold of the grid lets the mimics through
    new = choose_operating_point(
        probs, refs, durs, settings, sweep_thresholds(EvaluateConfig()), 6.75, **kw
    )
    assert new.met_budget and new.threshold > 0.98
    assert new.sensitivity == 1.0 and new.false_alarms_per_24h <= 6.75


@pytest.mark.parametrize(
    "field,value",
    [
        ("threshold", 1.5),
        ("smoothing_windows", 0),
        ("min_event_seconds", -1.0),
        ("sweep_points", 1),
        ("fa_budgets_per_24h", (0.0,)),
    ],
)
def test_validate_rejects_bad_values(field, value):
    from dataclasses import replace

    with pytest.raises(ValueError, match=f"evaluate.{field}"):
        validate_evaluate_config(replace(EvaluateConfig(), **{field: value}))


def test_curve_helpers_with_undefined_values(tmp_path):
    """A split without seizures: sensitivity undefined (NaN) everywhere; nothing breaks."""
    import math

    from seizure.evaluation.report import plot_curve
    from seizure.scoring.curve import operating_points, read_curve_csv, write_curve_csv

    rows = [
        {
            "method": "ovlp",
            "threshold": t,
            "sensitivity": math.nan,
            "specificity": 1.0,
            "false_alarms_per_24h": fa,
            "hits": 0.0,
            "misses": 0.0,
            "false_alarms": fa / 24,
        }
        for t, fa in ((0.2, 48.0), (0.5, 24.0), (0.8, 0.0))
    ]
    write_curve_csv(tmp_path / "c.csv", rows)
    back = read_curve_csv(tmp_path / "c.csv")
    assert math.isnan(back[0]["sensitivity"]) and back[2]["false_alarms_per_24h"] == 0.0
    (point,) = operating_points(back, [1.0])
    assert point.threshold == 0.8 and point.false_alarms_per_24h == 0.0
    plot_curve(tmp_path / "c.png", back, [point])
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_operating_points_hand_made_curve():
    #  threshold  sens  FA/24h
    #    0.2      0.9    12     <- only under a budget of 20
    #    0.4      0.8     8
    #    0.6      0.8     5     <- ties 0.4 on sensitivity with fewer FAs: best under 6.75 and 10
    #    0.8      0.5     0.5   <- best under 1; nothing under 0.1
    from seizure.scoring.curve import operating_points

    rows = [
        {"method": "ovlp", "threshold": t, "sensitivity": s, "false_alarms_per_24h": f}
        for t, s, f in ((0.2, 0.9, 12.0), (0.4, 0.8, 8.0), (0.6, 0.8, 5.0), (0.8, 0.5, 0.5))
    ]
    got = {p.budget_fa_per_24h: p.threshold for p in operating_points(rows, [0.1, 1, 6.75, 10, 20])}
    assert got == {0.1: None, 1: 0.8, 6.75: 0.6, 10: 0.6, 20: 0.2}
