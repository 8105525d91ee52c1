"""Operating points chosen on dev and applied unchanged to eval (seizure.evaluation.selection)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seizure.config import ConfigError
from seizure.evaluation.evaluate import evaluate, score_split
from seizure.evaluation.selection import PostprocessSetting, choose_operating_point
from seizure.io.events import Event
from seizure.scoring.postprocess import postprocess
from tests.test_evaluate_pipeline import make_cache, make_checkpoint, power_factory


def _case(seed: int):
    rng = np.random.default_rng(seed)
    probs, refs, durs = {}, {}, {}
    for k in range(4):
        n = 200
        p = rng.uniform(0, 0.6, n)
        evs = []
        for a in rng.choice(np.arange(10, 180, 40), 2, replace=False):
            p[a : a + 12] = rng.uniform(0.4, 1.0, 12)
            evs.append(Event(float(a), float(a + 12), "seiz"))
        rid = f"p{k}_s001_t000"
        probs[rid], refs[rid], durs[rid] = p, sorted(evs, key=lambda e: e.start), float(n)
    return probs, refs, durs


SETTINGS = [PostprocessSetting(w, g, m) for w in (1, 3) for g in (0.0, 5.0) for m in (0.0, 3.0)]
THRESHOLDS = [0.3, 0.5, 0.7, 0.9]


def test_search_equals_a_brute_force_reference():
    probs, refs, durs = _case(0)
    for budget in (1e-9, 2000.0, 8000.0, 1e9):
        got = choose_operating_point(
            probs, refs, durs, SETTINGS, THRESHOLDS, budget,
            split="dev", window_seconds=1.0, stride_seconds=1.0,
        )  # fmt: skip
        rows = []
        for i, s in enumerate(SETTINGS):
            for t in THRESHOLDS:
                hyps = {
                    rid: postprocess(p, threshold=t, window_seconds=1.0, stride_seconds=1.0,
                                     duration_s=durs[rid], **s.kwargs())
                    for rid, p in probs.items()
                }  # fmt: skip
                o = score_split(refs, hyps, durs, ["ovlp"])["ovlp"]
                sens, fa = o["sensitivity"], o["false_alarms_per_24h"]
                met = fa <= budget
                rows.append(((met, *((sens, -fa) if met else (-fa, sens)), t, -i), s, t, sens, fa))
        _, s, t, sens, fa = max(rows, key=lambda r: r[0])
        assert (got.setting, got.threshold) == (s, t)
        assert got.sensitivity == pytest.approx(sens) and got.false_alarms_per_24h == pytest.approx(
            fa
        )
        assert got.met_budget == (fa <= budget)
        assert got.candidates == len(SETTINGS) * len(THRESHOLDS)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("choose")
    cache = make_cache(root / "cache")
    ckpt = make_checkpoint(root / "best.pt")
    return root, cache, ckpt


def _run(ckpt, cache, out, *overrides, **kw):
    return evaluate(
        ckpt, cache.path, out, device="cpu", model_factory=power_factory,
        overrides=["evaluate.sweep_points=11", *overrides], **kw,
    )  # fmt: skip


def test_dev_chooses_by_default_and_the_outputs_say_so(setup, tmp_path):
    root, cache, ckpt = setup
    res = _run(ckpt, cache, tmp_path / "a")
    summary = json.loads((tmp_path / "a" / "evaluation.json").read_text())
    assert summary["chosen_on"] == "dev" and summary["operating_point"]["split"] == "dev"
    assert summary["threshold"] == res.threshold == summary["operating_point"]["threshold"]
    scores = json.loads((tmp_path / "a" / "scores.json").read_text())
    assert scores["operating_point"]["chosen_on"] == "dev"
    report = (tmp_path / "a" / "report.md").read_text()
    assert "chosen on split dev at OVLP <= 6.75 FA/24h" in report
    assert (tmp_path / "a" / "choice_probs" / "index.json").is_file()
    # reused on a second run, same choice
    again = _run(ckpt, cache, tmp_path / "a", reuse_probs=True)
    assert again.threshold == res.threshold


def test_the_choice_never_depends_on_eval_but_does_on_dev(setup, tmp_path, monkeypatch):
    import seizure.evaluation.selection as S

    root, cache, ckpt = setup
    _run(ckpt, cache, tmp_path / "base")
    base_summary = json.loads((tmp_path / "base" / "evaluation.json").read_text())
    real = S.choose_operating_point
    seen = []

    def spy(probs, *args, **kwargs):
        seen.append(set(probs))
        return real(probs, *args, **kwargs)

    monkeypatch.setattr(S, "choose_operating_point", spy)
    # perturb eval probabilities (reused from a folder): the choice stays
    out = tmp_path / "pert"
    _run(ckpt, cache, out)
    for f in (out / "probs").glob("*.npy"):
        p = np.load(f)
        np.save(f, np.clip(p[::-1] * 0.5 + 0.3, 0, 1).astype(np.float32))
    _run(ckpt, cache, out, reuse_probs=True)
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["operating_point"] == {
        **base_summary["operating_point"],
        "seconds": summary["operating_point"]["seconds"],
    }
    dev_ids = {r.recording_id for r in cache.split("dev")}
    assert seen and all(ids == dev_ids for ids in seen)
    # perturb dev probabilities: the choice changes
    for f in (out / "choice_probs").glob("*.npy"):
        np.save(f, np.load(f) * np.float32(0.5))
    _run(ckpt, cache, out, reuse_probs=True)
    changed = json.loads((out / "evaluation.json").read_text())["operating_point"]
    assert (changed["threshold"], changed["sensitivity"]) != (
        base_summary["operating_point"]["threshold"],
        base_summary["operating_point"]["sensitivity"],
    )


def test_choosing_on_the_evaluated_split_is_refused_unless_allowed(setup, tmp_path):
    root, cache, ckpt = setup
    with pytest.raises(ConfigError, match="choose_on.*optimistic"):
        _run(ckpt, cache, tmp_path / "x", "evaluate.choose_on=eval")
    with pytest.raises(ConfigError, match="select_fa_per_24h.*optimistic"):
        _run(ckpt, cache, tmp_path / "y", "evaluate.select_fa_per_24h=6.75")
    _run(ckpt, cache, tmp_path / "z", "evaluate.choose_on=eval",
         "evaluate.allow_choose_on_evaluated=true")  # fmt: skip
    summary = json.loads((tmp_path / "z" / "evaluation.json").read_text())
    assert summary["chosen_on"] == "eval"
    assert "picked on the evaluated split eval itself" in (tmp_path / "z" / "report.md").read_text()


def test_no_dev_seizures_falls_back_with_a_note(setup, tmp_path):
    root, cache, ckpt = setup
    lines = []
    res = _run(ckpt, cache, tmp_path / "d", split="dev", log=lines.append)
    assert res.threshold == 0.5 and any("fixed evaluate settings" in m for m in lines)
