"""OVLP sensitivity at a false-alarm budget as a validation / early-stopping metric."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from seizure.config import ConfigError, load_config
from seizure.io.events import Event
from seizure.scoring.curve import compute_curve, operating_points
from seizure.scoring.postprocess import postprocess_config_kwargs, sweep_thresholds
from seizure.scoring.score import score_recordings
from seizure.training import metrics as M
from seizure.training.checkpoint import load_checkpoint, save_checkpoint
from seizure.training.fakes import tiny_model_factory, write_random_cache
from seizure.training.loop import train
from seizure.training.metrics import ovlp_sensitivity_at_fa, ovlp_sensitivity_at_fa_hook

TINY = ["preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null", "preprocess.notch_hz=null"]
BASE = TINY + [
    "train.batch_size=4",
    "train.sequence_windows=8",
    "train.num_workers=0",
    "train.progress=false",
]
#: thresholds 0.1, 0.2, ..., 0.9 (none above), no post-processing unless a test sets it
SWEEP = ["evaluate.sweep_min=0.1", "evaluate.sweep_max=0.9", "evaluate.sweep_points=9",
         "evaluate.sweep_high=[]", "evaluate.smoothing_windows=1",
         "evaluate.min_event_seconds=0"]  # fmt: skip


def config(*overrides):
    return load_config(overrides=BASE + list(overrides))


def hand_made():
    """Two 100 s recordings of 1 s windows; FA/24h = 432 per false alarm (200 s in all).

    ``a``: a seizure at [40, 60) s scored 0.95, a 3 s bump of 0.65 at 10 s and a 2 s bump of
    0.35 at 80 s (false alarms up to thresholds 0.6 and 0.3). ``b``: a seizure at [20, 30) s
    scored 0.55 (found up to threshold 0.5). So, over thresholds 0.1 ... 0.9:

    ====================  =====  =====  ======  =====
    threshold             0.1-3  0.4-5  0.6     0.7-9
    sensitivity           1      1      0.5     0.5
    false alarms          2      1      1       0
    FA/24h                864    432    432     0
    ====================  =====  =====  ======  =====
    """
    a = np.zeros(100, np.float32)
    a[40:60], a[10:13], a[80:82] = 0.95, 0.65, 0.35
    b = np.zeros(100, np.float32)
    b[20:30] = 0.55
    return M.ValidationResult(
        probabilities={"a": a, "b": b},
        labels={"a": (a > 0.9).astype(np.uint8), "b": (b > 0.5).astype(np.uint8)},
        events={"a": [Event(40.0, 60.0)], "b": [Event(20.0, 30.0)]},
        durations_s={"a": 100.0, "b": 100.0},
        window_seconds=1.0,
        stride_seconds=1.0,
        epoch=1,
    )


@pytest.mark.parametrize(
    ("budget", "sensitivity", "fa_per_24h", "threshold"),
    [
        (1000.0, 1.0, 432.0, 0.5),  # every threshold fits: sensitivity 1, fewest FA, highest
        (500.0, 1.0, 432.0, 0.5),  # 0.1-0.3 (864 FA/24h) are over budget
        (432.0, 1.0, 432.0, 0.5),  # the budget is inclusive
        (400.0, 0.5, 0.0, 0.9),  # only 0.7-0.9 fit (no false alarm)
    ],
)
def test_hand_computed_sensitivity_at_budget(budget, sensitivity, fa_per_24h, threshold):
    cfg = config(*SWEEP, f"train.early_stopping_fa_per_24h={budget}")
    out = ovlp_sensitivity_at_fa_hook(hand_made(), cfg)
    assert out == {
        "ovlp_sensitivity_at_fa": sensitivity,
        "ovlp_fa_per_24h_at_fa": pytest.approx(fa_per_24h),
        "ovlp_threshold_at_fa": pytest.approx(threshold),
        "ovlp_fa_budget_per_24h": budget,
    }
    # a fixed budget given to the factory wins over the config's
    fixed = ovlp_sensitivity_at_fa(budget)(hand_made(), config(*SWEEP))
    assert fixed["ovlp_sensitivity_at_fa"] == sensitivity


def test_uses_the_evaluate_post_processing():
    # events shorter than 4 s are dropped: both bumps go, no threshold raises a false alarm
    cfg = config(*SWEEP, "evaluate.min_event_seconds=4", "train.early_stopping_fa_per_24h=400")
    out = ovlp_sensitivity_at_fa_hook(hand_made(), cfg)
    assert out["ovlp_sensitivity_at_fa"] == 1.0
    assert out["ovlp_fa_per_24h_at_fa"] == 0.0 and out["ovlp_threshold_at_fa"] == 0.5


def test_no_threshold_within_budget_and_no_seizures():
    result = hand_made()
    result.probabilities["a"][90:95] = 0.99  # a false alarm at every threshold
    out = ovlp_sensitivity_at_fa(100.0)(result, config(*SWEEP))
    # detecting nothing is the only way to stay within 100 FA/24h: sensitivity 0
    assert out["ovlp_sensitivity_at_fa"] == 0.0
    assert math.isnan(out["ovlp_fa_per_24h_at_fa"]) and math.isnan(out["ovlp_threshold_at_fa"])
    result.events = {"a": [], "b": []}  # no reference seizure: undefined
    out = ovlp_sensitivity_at_fa(100.0)(result, config(*SWEEP))
    assert math.isnan(out["ovlp_sensitivity_at_fa"])
    assert not M.better(out["ovlp_sensitivity_at_fa"], None, "max")
    empty = M.ValidationResult(probabilities={}, labels={})
    assert math.isnan(ovlp_sensitivity_at_fa_hook(empty, None)["ovlp_sensitivity_at_fa"])
    with pytest.raises(ValueError, match="budget_fa_per_24h"):
        ovlp_sensitivity_at_fa(0.0)


def _curve_score(ev):
    from seizure.scoring.score import ScoreParams

    def score(refs, hyps, durations, methods):
        recs = ((rid, refs[rid], hyps.get(rid, []), durations[rid]) for rid in refs)
        return score_recordings(recs, list(methods), ScoreParams.from_config(ev)).to_dict()

    return score


@pytest.mark.parametrize(
    "post",
    [
        [],
        [
            "evaluate.smoothing_windows=3",
            "evaluate.merge_gap_seconds=3",
            "evaluate.min_event_seconds=2",
        ],
    ],
)
def test_equals_the_operating_point_of_the_full_curve(post):
    """Dropping thresholds once their partial false alarms exceed the budget is exact."""
    rng = np.random.default_rng(3)
    probs, events, durations = {}, {}, {}
    for k in range(12):
        n = int(rng.integers(200, 400))
        labels = np.zeros(n)
        evs = []
        if k % 3:
            a = int(rng.integers(0, n - 40))
            b = a + int(rng.integers(5, 40))
            labels[a:b] = 1
            evs.append(Event(float(a) * 2, float(b) * 2))
        z = np.convolve(rng.standard_normal(n + 4), np.ones(5) / 5, "valid")
        probs[f"r{k}"] = (1 / (1 + np.exp(-(2.5 * z + 3 * labels - 1.5)))).astype(np.float32)
        events[f"r{k}"], durations[f"r{k}"] = evs, 2.0 * n
    result = M.ValidationResult(probs, {}, events, durations, 4.0, 2.0)
    ev = config(*post).evaluate
    rows = compute_curve(probs, events, durations, sweep_thresholds(ev), _curve_score(ev),
                         window_seconds=4.0, stride_seconds=2.0, methods=("ovlp",),
                         **postprocess_config_kwargs(ev))  # fmt: skip
    fa = sorted({float(r["false_alarms_per_24h"]) for r in rows} - {0.0})
    assert len(fa) > 5
    budgets = [1e-3, fa[0], fa[len(fa) // 3], fa[len(fa) // 2], (fa[1] + fa[2]) / 2, fa[-1] + 1]
    for budget in budgets:
        (point,) = operating_points(rows, [budget], ["ovlp"])
        out = ovlp_sensitivity_at_fa(budget)(result, config(*post))
        assert out["ovlp_threshold_at_fa"] == point.threshold
        assert out["ovlp_sensitivity_at_fa"] == point.sensitivity
        assert out["ovlp_fa_per_24h_at_fa"] == point.false_alarms_per_24h


def test_registered_and_configurable():
    assert M.known_metrics()["ovlp_sensitivity_at_fa"] == "max"
    assert config().train.early_stopping_fa_per_24h == 6.75
    with pytest.raises(ConfigError, match="early_stopping_fa_per_24h must be > 0"):
        config("train.early_stopping_fa_per_24h=0")
    values = M.compute_validation_metrics(hand_made(), config(*SWEEP))
    assert values["ovlp_sensitivity_at_fa"] == 0.5  # 6.75 FA/24h: no false alarm allowed


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    # half of the dev recordings without a seizure: marking every window ictal is not free
    return write_random_cache(
        tmp_path_factory.mktemp("cache"),
        splits={"train": 6, "dev": 6},
        windows_per_recording=(40, 80),
        seed=1,
        seizure_every=2,
    )


def test_train_picks_best_checkpoint_by_ovlp_sensitivity(cache, tmp_path):
    metric = "ovlp_sensitivity_at_fa"
    cfg = config("train.epochs=4", "train.patience=0", f"train.early_stopping_metric={metric}",
                 "train.early_stopping_fa_per_24h=300")  # fmt: skip
    out = tmp_path / "run"
    result = train(cfg, cache, out, model_factory=tiny_model_factory, log=lambda m: None)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        assert 0.0 <= row[metric] <= 1.0 and row["ovlp_fa_budget_per_24h"] == 300.0
        assert row["ovlp_fa_per_24h_at_fa"] <= 300.0 and 0 < row["ovlp_threshold_at_fa"] < 1
    values = [r[metric] for r in rows]
    assert len(set(values)) > 1, values  # the choice below is not the trivial first epoch
    best_epoch, best_value = None, None
    for row in rows:
        if M.better(row[metric], best_value, "max"):
            best_epoch, best_value = row["epoch"], row[metric]
    assert (result.best_metric, result.best_epoch, result.best_value) == (
        metric,
        best_epoch,
        best_value,
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"] == {"metric": metric, "value": best_value, "epoch": best_epoch}
    best = load_checkpoint(out / "best.pt")
    assert best["epoch"] == best_epoch
    assert best["early_stopping"]["metric"] == metric
    assert best["metrics"][metric] == best_value
    if best_epoch != 4:
        last = load_checkpoint(out / "last.pt")["model"]
        assert any(not torch.equal(best["model"][k], last[k]) for k in last)


def test_resume_of_a_checkpoint_written_before_the_budget_existed(cache, tmp_path):
    out = tmp_path / "run"
    run = dict(model_factory=tiny_model_factory, log=lambda m: None)
    train(config("train.epochs=1"), cache, out, **run)
    state = load_checkpoint(out / "last.pt")
    del state["config"]["train"]["early_stopping_fa_per_24h"]
    save_checkpoint(out / "last.pt", state)
    with pytest.raises(ConfigError, match=r"train.early_stopping_fa_per_24h: 6.75 -> 10.0"):
        train(config("train.epochs=2", "train.early_stopping_fa_per_24h=10"), cache, out,
              resume=True, **run)  # fmt: skip
    assert train(config("train.epochs=2"), cache, out, resume=True, **run).epochs_completed == 2
