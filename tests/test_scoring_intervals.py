"""Patient-resampled 95% intervals of the pooled figures (seizure.scoring.intervals)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seizure.evaluation.report import _interval_lines
from seizure.scoring.intervals import LEVEL, RESAMPLES, SEED, patient_intervals
from seizure.scoring.score import (
    MethodResult,
    ScoreParams,
    _patient_arrays,
    score_events,
    score_recordings,
)

DAY = 86400.0
GAP = Path(__file__).resolve().parents[1] / "benchmarks" / "dev_eval_gap.py"
NO_SZCORE = ("ovlp", "taes", "epoch", "dpalign")


def _two_patients(**kwargs):
    # A: 1 of 2 seizures, 3 false alarms in 1 day; B: 3 of 3, none in 2 days. The four
    # equally likely draws AA, AB, BA, BB give sensitivity 2/4, 4/5, 4/5, 6/6 and
    # FA/24h 6/2, 3/3, 3/3, 0/4.
    return patient_intervals([1, 3], [2, 3], [3, 0], [DAY, 2 * DAY], **kwargs)


def test_defaults_are_the_documented_ones():
    assert (RESAMPLES, SEED, LEVEL) == (1000, 0, 0.95)


def test_two_patients_match_the_enumerated_distribution():
    ci = _two_patients()
    assert ci.patients == 2
    # 95%: the extremes AA and BB (each drawn with probability 1/4)
    assert ci.sensitivity == (0.5, 1.0) and ci.false_alarms_per_24h == (0.0, 3.0)
    # the 30th and 70th percentiles fall in the half of the mass at AB/BA
    mid = _two_patients(resamples=20000, level=0.4)
    assert mid.sensitivity == pytest.approx((0.8, 0.8))
    assert mid.false_alarms_per_24h == pytest.approx((1.0, 1.0))
    # the 20th and 80th percentiles: AA's quarter and BB's quarter
    wide = _two_patients(resamples=20000, level=0.6)
    assert wide.sensitivity == pytest.approx((0.5, 1.0))
    assert wide.false_alarms_per_24h == pytest.approx((0.0, 3.0))


def test_draws_without_targets_are_left_out_of_the_sensitivity():
    # B has no seizure: the draw BB (a quarter) has no sensitivity; the others all give 1/2
    ci = patient_intervals([1, 0], [2, 0], [0, 4], [DAY, DAY], resamples=400)
    assert ci.sensitivity == (0.5, 0.5)
    assert ci.false_alarms_per_24h == (0.0, 4.0)
    none = patient_intervals([0, 0], [0, 0], [1, 0], [DAY, DAY])
    assert none.sensitivity is None and none.false_alarms_per_24h == (0.0, 1.0)
    assert patient_intervals([], [], [], []) == type(none)(0, None, None)


def test_one_patient_has_zero_width():
    ci = patient_intervals([2], [3], [5], [2 * DAY], resamples=50)
    assert ci.sensitivity == (2 / 3, 2 / 3) and ci.false_alarms_per_24h == (2.5, 2.5)


def test_same_seed_same_interval_other_seed_other_draws():
    rng = np.random.default_rng(7)
    counts = (rng.integers(0, 4, 30), rng.integers(4, 8, 30), rng.integers(0, 9, 30),
              rng.uniform(0.5, 3.0, 30) * 3600)  # fmt: skip
    first = patient_intervals(*counts)
    assert patient_intervals(*counts, seed=0) == first
    assert patient_intervals(*counts, seed=1) != first


@pytest.mark.parametrize(
    "bad",
    [
        {"hits": [1, 2], "targets": [1]},
        {"hits": [[1]], "targets": [[1]]},
        {"resamples": 0},
        {"level": 1.0},
    ],
)
def test_bad_arguments_are_refused(bad):
    args = {"hits": [1], "targets": [1], "false_alarms": [0], "duration_s": [DAY], **bad}
    n = len(args["hits"])
    args["false_alarms"] = [0] * n
    args["duration_s"] = [DAY] * n
    with pytest.raises(ValueError):
        patient_intervals(**args)


def test_agrees_with_dev_eval_gap_summarise():
    spec = importlib.util.spec_from_file_location("dev_eval_gap", GAP)
    gap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gap)
    rng = np.random.default_rng(3)
    fa = rng.poisson(0.7, 42) * (rng.random(42) < 0.4)
    hours = rng.uniform(0.2, 1.2, 42)
    for resamples in (1000, 2000):
        theirs = gap.summarise(fa, hours, resamples)["fa_per_24h_95"]
        ci = patient_intervals(np.zeros(42), np.ones(42), fa, hours * 3600, resamples, SEED)
        assert [round(v, 2) for v in ci.false_alarms_per_24h] == theirs
        assert theirs[0] < theirs[1]


def _random_recordings(seed: int, patients: int, per_patient: int):
    rng = np.random.default_rng(seed)
    recs = []
    for p in range(patients):
        for k in range(per_patient):
            duration = float(rng.uniform(600, 1800))
            starts = np.sort(rng.uniform(0, duration - 60, rng.integers(0, 3)))
            ref = [(s, s + rng.uniform(10, 50)) for s in starts]
            hyp = [(s + rng.uniform(-5, 5), s + 30) for s in starts if rng.random() < 0.6]
            hyp += [(t, t + 15) for t in rng.uniform(0, duration - 20, rng.integers(0, 3))]
            recs.append((f"p{p:03d}_s{k:03d}", ref, sorted(hyp), duration))
    return recs


def test_per_patient_counts_pool_to_the_point_estimate():
    report = score_recordings(_random_recordings(1, 12, 3))
    for method, result in report.results.items():
        s = result.summary()
        hits, targets, fa, dur = _patient_arrays(result.per_patient)
        assert len(hits) == s["patients"] == 12, method
        assert hits.sum() / targets.sum() == pytest.approx(s["sensitivity"], rel=1e-12)
        assert fa.sum() / dur.sum() * DAY == pytest.approx(s["false_alarms_per_24h"], rel=1e-12)
        assert dur.sum() == pytest.approx(s["total_duration_s"], rel=1e-12)


def test_point_estimate_lies_inside_the_interval():
    report = score_recordings(_random_recordings(2, 15, 2))
    for method, result in report.results.items():
        s = result.summary()
        lo, hi = s["sensitivity_95"]
        assert lo <= s["sensitivity"] <= hi and lo < hi, method
        lo, hi = s["false_alarms_per_24h_95"]
        assert lo <= s["false_alarms_per_24h"] <= hi and lo < hi, method


def test_one_patient_interval_is_the_point_for_every_method():
    recs = [(f"solo_{name}", ref, hyp, d) for name, ref, hyp, d in _random_recordings(4, 1, 4)]
    report = score_recordings(recs)
    for method, result in report.results.items():
        s = result.summary()
        assert s["patients"] == 1
        assert s["sensitivity_95"] == pytest.approx([s["sensitivity"]] * 2, rel=1e-12), method
        fa = s["false_alarms_per_24h"]
        assert s["false_alarms_per_24h_95"] == pytest.approx([fa] * 2, rel=1e-12), method


def test_patients_follow_the_patient_regex():
    recs = _random_recordings(5, 4, 2)
    by_recording = score_recordings(recs, NO_SZCORE, ScoreParams(patient_regex="^.*$"))
    by_patient = score_recordings(recs, NO_SZCORE)
    for method in NO_SZCORE:
        assert by_recording.results[method].summary()["patients"] == 8
        assert by_patient.results[method].summary()["patients"] == 4


def test_existing_keys_unchanged_and_counts_alone_get_no_interval():
    recs = _random_recordings(6, 5, 2)
    report = score_recordings(recs)
    for method, result in report.results.items():
        with_ci = result.summary()
        bare = MethodResult(method, result.counts).summary()
        # SzCORE's patient average needs the patients: the rest needs the pooled counts only
        with_ci.pop("patient_average", None)
        bare.pop("patient_average", None)
        assert {k: v for k, v in with_ci.items() if k in bare} == bare
        assert set(with_ci) - set(bare) == {"sensitivity_95", "false_alarms_per_24h_95",
                                            "patients"}  # fmt: skip
    # and summing counts one recording at a time gives the same pooled counts
    total = None
    for _, ref, hyp, d in recs:
        c = score_events(ref, hyp, d, "ovlp")
        total = c if total is None else total + c
    assert (
        MethodResult("ovlp", total).summary()
        == MethodResult("ovlp", report.results["ovlp"].counts).summary()
    )


def test_report_lines_name_the_interval():
    scores = {
        "ovlp": {"sensitivity": 0.328, "false_alarms_per_24h": 9.16, "patients": 42,
                 "sensitivity_95": [0.241, 0.41], "false_alarms_per_24h_95": [3.55, 15.76]},
        "taes": {"sensitivity": None, "false_alarms_per_24h": 0.0, "patients": 1,
                 "sensitivity_95": None, "false_alarms_per_24h_95": [0.0, 0.0]},
        "epoch": {"sensitivity": 0.5, "false_alarms_per_24h": 1.0},
        "files": 3,
    }  # fmt: skip
    lines = _interval_lines(scores)
    assert (
        "- NEDC OVLP 32.80% (95% over 42 patients: 24.10-41.00%) at 9.16 FA/24h (3.55-15.76)"
        in lines
    )
    assert "- NEDC TAES n/a (95% over 1 patient: n/a) at 0 FA/24h (0.00-0.00)" in lines
    assert not any("EPOCH" in line for line in lines)
    assert _interval_lines({"ovlp": {"sensitivity": 0.5}, "files": 1}) == []


def test_evaluate_scores_and_report_carry_the_intervals():
    from seizure.evaluation.evaluate import score_split
    from seizure.evaluation.report import ReportInputs, render_report
    from seizure.io.events import Event

    recs = _random_recordings(10, 6, 2)
    refs = {name: [Event(a, b, "seiz") for a, b in ref] for name, ref, _, _ in recs}
    hyps = {name: [Event(a, b, "seiz") for a, b in hyp] for name, _, hyp, _ in recs}
    durations = {name: d for name, _, _, d in recs}
    scores = score_split(refs, hyps, durations, methods=NO_SZCORE)
    assert scores["ovlp"]["patients"] == 6
    assert scores["ovlp"] == score_recordings(recs, NO_SZCORE).to_dict()["ovlp"]
    text = render_report(
        ReportInputs(Path("best.pt"), "0" * 64, None, Path("cache"), "f" * 16, "eval", {},
                     0.5, "fixed", scores, [], refs, hyps, durations, curve_image=None)
    )  # fmt: skip
    o = scores["ovlp"]
    lo, hi = o["false_alarms_per_24h_95"]
    line = next(x for x in text.splitlines() if x.startswith("- NEDC OVLP "))
    assert line.endswith(f"over 6 patients: {100 * o['sensitivity_95'][0]:.2f}-"
                         f"{100 * o['sensitivity_95'][1]:.2f}%) at "
                         f"{o['false_alarms_per_24h']:.2f} FA/24h ({lo:.2f}-{hi:.2f})")  # fmt: skip
    assert text.index("## Scores at the chosen threshold") < text.index(line)
    assert text.index(line) < text.index("## Operating points")


def _write_csv_bi(path: Path, events: list[tuple[float, float]], duration: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"TERM,{a:.4f},{b:.4f},seiz,1.0000\n" for a, b in events)
    path.write_text(
        f"# version = csv_v1.0.0\n# duration = {duration:.4f} secs\n#\n"
        "channel,start_time,stop_time,label,confidence\n" + rows
    )


def test_score_cli_prints_and_writes_the_intervals(tmp_path):
    from seizure.cli import main

    # pat1: its seizure found, 1 false alarm in 1 h; pat2: its seizure missed, none in 0.5 h.
    # Draws: pat1 twice (100%, 24 FA/24h), one each (50%, 16), pat2 twice (0%, 0).
    _write_csv_bi(tmp_path / "ref" / "pat1_s001_t000.csv_bi", [(100, 150)], 3600)
    _write_csv_bi(tmp_path / "hyp" / "pat1_s001_t000.csv_bi", [(110, 140), (2000, 2010)], 3600)
    _write_csv_bi(tmp_path / "ref" / "pat2_s001_t000.csv_bi", [(500, 600)], 1800)
    _write_csv_bi(tmp_path / "hyp" / "pat2_s001_t000.csv_bi", [], 1800)
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(main, ["score", str(tmp_path / "ref"), str(tmp_path / "hyp"),
                                       "--method", "ovlp", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    ovlp = json.loads(out.read_text())["ovlp"]
    assert ovlp["patients"] == 2
    assert ovlp["sensitivity_95"] == [0.0, 1.0] and ovlp["false_alarms_per_24h_95"] == [0.0, 24.0]
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("ovlp "))
    assert lines[at + 1] == (
        "  95%         sens 0.00-100.00 %, FA/24h 0.00-24.00 (patients resampled: 2)"
    )
