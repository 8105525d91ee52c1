"""``evaluate()`` end to end on a small real cache (the cache writer) with a stand-in model.

The stand-in is a fixed "power detector": logit = gain * (log mean(x^2) - bias). Background
windows are noise of 20 uV; seizures have 3x the amplitude, so their probability is near 1
and every reference seizure is found at the default threshold, while two loud artefacts
(false alarms) sit in the recordings where no seizure is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from seizure.config import Config, ConfigError, to_dict
from seizure.evaluation.evaluate import EvaluationError, evaluate, score_split
from seizure.evaluation.report import ovlp_outcomes
from seizure.io.events import Event
from seizure.preprocessing.cache import Cache, open_or_create, rebuild_manifest, write_record
from seizure.preprocessing.config import PreprocessConfig
from seizure.scoring.curve import read_curve_csv
from seizure.training.checkpoint import save_checkpoint

#: The fixed post-processing these tests were written for: none (the defaults smooth, see
#: ``seizure.evaluation.config``).
NO_POSTPROCESS = ["evaluate.smoothing_windows=1", "evaluate.min_event_seconds=0"]
SMALL_PREPROCESS = PreprocessConfig(sample_rate_hz=32.0, bandpass_hz=(0.5, 12.0), notch_hz=None)


class PowerModel(torch.nn.Module):
    """Logit of a window = gain * (log mean power - bias); a state_dict like a real model."""

    def __init__(self, model_config=None, window_shape=None) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(3.0))
        self.bias = torch.nn.Parameter(torch.tensor(math.log(400.0 * 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        power = x.flatten(2).pow(2).mean(-1)
        return self.gain * (torch.log(power + 1e-6) - self.bias)


def power_factory(model_config, window_shape):
    return PowerModel()


# recording id -> (n_windows, seizures as (start, stop) s, loud artefacts as (start, stop) s)
LAYOUT = {
    "pat1_s001_t000": (300, [(40, 70), (200, 215)], []),
    "pat1_s001_t001": (250, [], [(100, 104)]),
    "pat2_s001_t000": (95, [(10, 30)], []),  # shorter than a few sequences
    "pat2_s002_t000": (400, [(300, 390)], [(20, 23)]),
    "pat3_s001_t000": (12, [], []),  # shorter than one training sequence
    "pat9_s001_t000": (100, [(5, 15)], []),  # in the dev split
}


def make_cache(root: Path, config: PreprocessConfig = SMALL_PREPROCESS, seed: int = 0) -> Cache:
    header = open_or_create(root, config)
    rng = np.random.default_rng(seed)
    shape = (22, int(config.window_samples))
    for rid, (n, seizures, loud) in LAYOUT.items():
        amp = np.full(n, 20.0)
        for a, b in seizures + loud:
            amp[int(a) : int(b)] = 60.0
        windows = rng.standard_normal((n, *shape), dtype=np.float32) * amp[:, None, None]
        labels = np.zeros(n, dtype=np.uint8)
        for a, b in seizures:
            labels[int(a) : int(b)] = 1
        meta = {
            "recording_id": rid,
            "patient": rid.split("_")[0],
            "session": rid.split("_")[1],
            "split": "dev" if rid.startswith("pat9") else "eval",
            "duration_s": float(n) + 0.5,  # a half window dropped at the end
            "source": f"/corpus/{rid}.edf",
            "events": [{"start": a, "stop": b, "label": "seiz"} for a, b in seizures],
            "fingerprint": header["fingerprint"],
        }
        write_record(root, meta, windows, labels, config.storage_dtype)
    rebuild_manifest(root)
    return Cache(root)


def make_checkpoint(
    path: Path, preprocess: PreprocessConfig = SMALL_PREPROCESS, **sections
) -> Path:
    from seizure.config import fingerprint

    config = Config(preprocess=preprocess)
    data = to_dict(config)
    data["train"]["sequence_windows"] = 16
    for key, value in sections.items():
        data[key].update(value)
    save_checkpoint(
        path,
        {
            "model": PowerModel().state_dict(),
            "config": data,
            "window_shape": [22, int(preprocess.window_samples)],
            "cache_fingerprint": fingerprint(preprocess),
            "epoch": 3,
            "step": 100,
        },
    )
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    cache = make_cache(root / "cache")
    ckpt = make_checkpoint(root / "best.pt")
    result = evaluate(
        ckpt,
        cache.path,
        root / "out",
        device="cpu",
        # the fixed settings (threshold 0.5, no smoothing): choosing on dev is tested apart
        overrides=[
            "evaluate.batch_sequences=3",
            "evaluate.sweep_points=11",
            "evaluate.choose_on=none",
            *NO_POSTPROCESS,
        ],
        model_factory=power_factory,
    )
    return root, cache, ckpt, result


def test_outputs_written(evaluated):
    root, cache, _, result = evaluated
    out = root / "out"
    eval_ids = [r.recording_id for r in cache.split("eval")]
    assert len(eval_ids) == 5 and result.n_recordings == 5
    for rid in eval_ids:
        assert (out / "hyp" / f"{rid}.csv_bi").is_file()
        assert (out / "hyp" / f"{rid}.tsv").is_file()
        assert (out / "ref" / f"{rid}.csv_bi").is_file()
        probs = np.load(out / "probs" / f"{rid}.npy")
        assert probs.shape == (cache.record(rid).n_windows,) and probs.dtype == np.float32
    for name in ("curve.csv", "curve.png", "scores.json", "report.md", "config.yaml"):
        assert (out / name).is_file(), name
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = json.loads((out / "probs" / "index.json").read_text())
    assert set(index["recordings"]) == set(eval_ids)


def test_detections_and_scores(evaluated):
    root, cache, _, result = evaluated
    # every seizure found exactly; the two loud artefacts are the only false alarms
    assert [(e.start, e.stop) for e in result.events["pat1_s001_t000"]] == [(40, 70), (200, 215)]
    assert [(e.start, e.stop) for e in result.events["pat1_s001_t001"]] == [(100, 104)]
    assert result.events["pat3_s001_t000"] == []
    scores = json.loads((root / "out" / "scores.json").read_text())
    for method in ("ovlp", "taes", "epoch", "dpalign", "szcore_event", "szcore_sample"):
        assert {"sensitivity", "specificity", "false_alarms_per_24h", "hits"} <= set(scores[method])
    assert scores["files"] == 5
    ovlp = scores["ovlp"]
    assert ovlp["sensitivity"] == 1.0 and ovlp["hits"] == 4 and ovlp["false_alarms"] == 2
    total = sum(r.duration_s for r in cache.split("eval"))
    assert ovlp["total_duration_s"] == pytest.approx(total)
    assert ovlp["false_alarms_per_24h"] == pytest.approx(2 / total * 86400)
    assert scores["taes"]["sensitivity"] == pytest.approx(1.0)


def test_scores_equal_rescoring_the_written_files(evaluated):
    """The hypothesis files say what was scored: reading them back gives the same figures."""
    from seizure.io.annotations import read_annotation

    root, cache, _, result = evaluated
    refs, hyps, durs = {}, {}, {}
    for r in cache.split("eval"):
        hyp = read_annotation(root / "out" / "hyp" / f"{r.recording_id}.csv_bi")
        ref = read_annotation(root / "out" / "ref" / f"{r.recording_id}.csv_bi")
        refs[r.recording_id], hyps[r.recording_id] = ref.seizures(), hyp.seizures()
        durs[r.recording_id] = hyp.duration
        tsv = read_annotation(root / "out" / "hyp" / f"{r.recording_id}.tsv")
        assert [(e.start, e.stop) for e in tsv.seizures()] == [
            (e.start, e.stop) for e in hyp.seizures()
        ]
    again = score_split(refs, hyps, durs)
    for method in ("ovlp", "taes", "szcore_event"):
        assert again[method]["sensitivity"] == pytest.approx(result.scores[method]["sensitivity"])
        assert again[method]["false_alarms"] == pytest.approx(result.scores[method]["false_alarms"])


def test_curve_is_monotone_and_operating_points_respect_budgets(evaluated):
    root, _, _, result = evaluated
    rows = read_curve_csv(root / "out" / "curve.csv")
    assert {r["method"] for r in rows} == {"ovlp", "taes", "szcore_event"}
    ovlp = sorted((r for r in rows if r["method"] == "ovlp"), key=lambda r: r["threshold"])
    assert len(ovlp) == 11 + 7 and ovlp[0]["threshold"] == 0.02 and ovlp[10]["threshold"] == 0.98
    assert ovlp[-1]["threshold"] == 0.9999  # evaluate.sweep_high above the even grid
    sens = [r["sensitivity"] for r in ovlp]
    assert sens == sorted(sens, reverse=True)  # nested hypotheses: OVLP sensitivity falls
    for p in result.operating_points:
        assert p.budget_fa_per_24h in (1.0, 6.75, 10.0)
        if p.threshold is not None:
            assert p.false_alarms_per_24h <= p.budget_fa_per_24h
            feasible = [
                r["sensitivity"]
                for r in rows
                if r["method"] == p.method and r["false_alarms_per_24h"] <= p.budget_fa_per_24h
            ]
            assert p.sensitivity == max(feasible)


def test_report_contents(evaluated):
    root, cache, ckpt, result = evaluated
    text = (root / "out" / "report.md").read_text()
    assert f"`{ckpt}`" in text and cache.fingerprint in text
    assert "| NEDC OVLP | 100.00 |" in text
    assert "![operating curve](curve.png)" in text
    assert "## Missed seizures (0)" in text
    # the two false alarms with recording, start and duration
    assert "## False alarms (2)" in text
    assert "| pat1_s001_t001 | 100.0 | 0:01:40 | 4.0 |" in text
    assert "| pat2_s002_t000 | 20.0 | 0:00:20 | 3.0 |" in text
    assert "threshold: 0.5" in text and "```yaml" in text


def test_ovlp_outcomes_agree_with_the_scorer():
    rng = np.random.default_rng(3)
    refs, hyps, durs = {}, {}, {}
    for k in range(20):
        starts = np.sort(rng.uniform(0, 900, 6))
        evs = [Event(float(s), float(s + rng.uniform(1, 40))) for s in starts]
        from seizure.io.events import normalize_events

        refs[f"r{k}"] = normalize_events(evs[:3], 1000.0)
        hyps[f"r{k}"] = normalize_events(evs[3:], 1000.0)
        durs[f"r{k}"] = 1000.0
    missed = fas = 0
    for k in refs:
        m, f = ovlp_outcomes(refs[k], hyps[k])
        missed, fas = missed + len(m), fas + len(f)
    s = score_split(refs, hyps, durs, ["ovlp"])["ovlp"]
    assert (missed, fas) == (s["misses"], s["false_alarms"])


def test_reuse_probs_skips_the_model_and_other_postprocessing_rescoring(evaluated, tmp_path):
    root, cache, ckpt, first = evaluated
    import shutil

    out = tmp_path / "out"
    shutil.copytree(root / "out" / "probs", out / "probs")

    def failing_factory(*_):
        raise AssertionError("the model must not be rebuilt")

    again = evaluate(
        ckpt,
        cache,
        out,
        device="cpu",
        reuse_probs=True,
        overrides=[
            "evaluate.sweep_points=3",
            "evaluate.min_event_seconds=5",
            "evaluate.choose_on=none",
        ],
        model_factory=failing_factory,
    )
    assert again.inference_seconds == 0.0
    # the 4 s and 3 s false alarms are now dropped
    assert again.scores["ovlp"]["false_alarms"] == 0
    assert again.scores["ovlp"]["sensitivity"] == 1.0


def test_reuse_probs_refuses_probabilities_made_with_other_inference_settings(evaluated, tmp_path):
    # probabilities computed with another sequence length are not reused: the model reruns
    root, cache, ckpt, _ = evaluated
    import shutil

    out = tmp_path / "out"
    shutil.copytree(root / "out" / "probs", out / "probs")
    calls = []

    def counting_factory(*args):
        calls.append(args)
        return power_factory(*args)

    again = evaluate(
        ckpt,
        cache,
        out,
        device="cpu",
        reuse_probs=True,
        overrides=[
            "evaluate.sweep_points=3",
            "evaluate.sequence_windows=4",
            "evaluate.choose_on=none",
        ],
        model_factory=counting_factory,
    )
    assert calls, "the model must run again"
    assert again.inference_seconds > 0.0


def test_select_threshold_at_budget(evaluated, tmp_path):
    root, cache, ckpt, _ = evaluated
    import shutil

    shutil.copytree(root / "out" / "probs", tmp_path / "probs")
    res = evaluate(
        ckpt,
        cache,
        tmp_path,
        reuse_probs=True,
        overrides=[
            "evaluate.sweep_points=11",
            "evaluate.select_fa_per_24h=6.75",
            "evaluate.allow_choose_on_evaluated=true",
        ],
    )
    (ovlp_point,) = [
        p for p in res.operating_points if p.method == "ovlp" and p.budget_fa_per_24h == 6.75
    ]
    assert res.threshold == ovlp_point.threshold
    assert "OVLP operating point at 6.75 FA/24h" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "evaluation.json").read_text())["threshold"] == res.threshold


def test_split_choice_and_empty_split(evaluated, tmp_path):
    root, cache, ckpt, _ = evaluated
    res = evaluate(
        ckpt,
        cache,
        tmp_path / "dev",
        split="dev",
        device="cpu",
        overrides=["evaluate.sweep_points=2"],
        model_factory=power_factory,
    )
    assert res.n_recordings == 1 and res.scores["ovlp"]["hits"] == 1
    with pytest.raises(EvaluationError, match="no recordings in split 'train'.*dev, eval"):
        evaluate(ckpt, cache, tmp_path / "x", split="train", model_factory=power_factory)


def test_fingerprint_mismatch_is_refused_with_the_reason(evaluated, tmp_path):
    _, cache, _, _ = evaluated
    other = PreprocessConfig(sample_rate_hz=32.0, bandpass_hz=(1.0, 12.0), notch_hz=None)
    ckpt = make_checkpoint(tmp_path / "other.pt", preprocess=other)
    with pytest.raises(
        EvaluationError, match=r"fingerprint.*bandpass_hz \(checkpoint \[1.0, 12.0\]"
    ):
        evaluate(ckpt, cache, tmp_path / "out", model_factory=power_factory)
    assert not (tmp_path / "out" / "scores.json").exists()


def test_only_the_evaluate_section_may_change(evaluated, tmp_path):
    _, cache, ckpt, _ = evaluated
    with pytest.raises(ConfigError, match="only 'evaluate.\\*'.*model.hidden_size"):
        evaluate(ckpt, cache, tmp_path, overrides=["model.hidden_size=3"])
    with pytest.raises(ConfigError, match="evaluate.threshold"):
        evaluate(ckpt, cache, tmp_path, overrides=["evaluate.threshold=2"])
    with pytest.raises(ConfigError, match="Unknown config key"):
        evaluate(ckpt, cache, tmp_path, overrides=["evaluate.thresold=0.3"])
    with pytest.raises(ConfigError, match="evaluate.reader_threads"):
        evaluate(ckpt, cache, tmp_path, overrides=["evaluate.reader_threads=0"])
    with pytest.raises(ConfigError, match="Unknown config key.*'pipeline' in 'evaluate'"):
        evaluate(ckpt, cache, tmp_path, overrides=["evaluate.pipeline=simple"])  # removed


def test_reader_threads_and_engine_paths_give_the_same_probabilities(evaluated, tmp_path):
    from seizure.evaluation.evaluate import infer_records
    from seizure.inference.engine import EngineTuning, Predictor

    root, cache, ckpt, _ = evaluated
    records = cache.split("eval")
    saved = {
        r.recording_id: np.load(root / "out" / "probs" / f"{r.recording_id}.npy") for r in records
    }
    seen = []
    for kw in (
        dict(reader_threads=1),
        dict(reader_threads=4, tuning=EngineTuning(emulate_device=True)),
        dict(reader_threads=2, tuning=EngineTuning(prefetch=4, max_launched=1)),
    ):
        predictor = Predictor(
            PowerModel(), sequence_windows=16, batch_sequences=3, device="cpu", **kw
        )
        probs = infer_records(
            predictor, cache, records, tmp_path / "probs", on_recording=lambda r, p: seen.append(r)
        )
        assert list(probs) == [r.recording_id for r in records]
        for rid, p in probs.items():
            np.testing.assert_allclose(p, saved[rid], rtol=1e-6, atol=1e-7)
        assert predictor.stats.windows == sum(r.n_windows for r in records)
        assert predictor.stats.write_s > 0 and predictor.stats.write_tail_s >= 0
    assert len(seen) == 3 * len(records)


def test_batch_and_reader_threads_settings(evaluated, tmp_path):
    root, cache, ckpt, first = evaluated
    again = evaluate(
        ckpt,
        cache,
        tmp_path / "out",
        device="cpu",
        overrides=[
            "evaluate.batch_sequences=3",
            "evaluate.sweep_points=11",
            "evaluate.reader_threads=2",
            "evaluate.choose_on=none",
            *NO_POSTPROCESS,
        ],
        model_factory=power_factory,
    )
    assert again.scores == first.scores
