"""The feature baseline ``bandpower_logreg``: features, the fit, the run folder, the round trip.

The model's torch features are compared with the numpy reference
(:func:`~seizure.preprocessing.bandpower.band_power_features`); the fit runs on a random cache
whose ictal windows have three times the amplitude (band power separates them); the round trip
runs ``train -> evaluate -> detect`` from the command line on a small synthetic corpus.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from seizure.cli import main
from seizure.config import load_config
from seizure.models.config import ModelConfig
from seizure.models.registry import build_model
from seizure.preprocessing.bandpower import band_power_features
from seizure.training.baseline import C_GRID, DEFAULT_C, fit_baseline, split_features
from seizure.training.checkpoint import load_checkpoint, load_model_from_checkpoint
from seizure.training.errors import TrainingDataError
from seizure.training.fakes import tiny_preprocess, write_random_cache
from seizure.training.loop import train

RATE = 128.0
FAST = ["--set", "preprocess.sample_rate_hz=128", "--set", "preprocess.bandpass_hz=[1, 40]"]


def baseline(shape: tuple[int, ...], rate: float, context: int = 0) -> torch.nn.Module:
    model = build_model(ModelConfig(name="bandpower_logreg", cell="none"), shape).eval()
    model.sample_rate_hz.fill_(rate)
    model.context_windows.fill_(context)
    return model


@pytest.mark.parametrize(
    ("shape", "rate"), [((22, 256), 256.0), ((4, 250), 250.0), ((3, 384), 128.0)]
)
def test_features_equal_band_power_features(shape, rate):
    rng = np.random.default_rng(0)
    t = np.arange(shape[1]) / rate
    x = rng.standard_normal((2, 5, *shape)) * 20 + 80 * np.sin(2 * np.pi * 6.0 * t)
    x = x.astype(np.float16)  # as a cache stores them
    expected = band_power_features(x.reshape(10, *shape), rate).reshape(2, 5, 10)
    model = baseline(shape, rate)
    got = model.features(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # theta dominates the max over channels of the 6 Hz case, as the numpy reference says
    assert np.all(got[..., 6] > got[..., 5]) and np.all(got[..., 6] > got[..., 8])


def test_context_is_the_mean_over_neighbouring_windows():
    rng = np.random.default_rng(1)
    x = torch.from_numpy((rng.standard_normal((2, 9, 4, 256)) * 20).astype(np.float32))
    plain = baseline((4, 256), 256.0).features(x).numpy()
    wide = baseline((4, 256), 256.0, context=2).features(x).numpy()
    # +-2 windows, fewer at the ends of each sequence
    expected = np.stack([plain[:, max(0, t - 2) : t + 3].mean(axis=1) for t in range(9)], axis=1)
    np.testing.assert_allclose(wide, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(wide, plain)


def test_empty_bands_are_named():
    assert baseline((22, 32), 32.0).empty_bands() == ["gamma"]  # Nyquist 16 Hz
    assert baseline((22, 256), 256.0).empty_bands() == []


# --------------------------------------------------------------------------- the fit


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return write_random_cache(
        tmp_path_factory.mktemp("cache"),
        splits={"train": 6, "dev": 3},
        windows_per_recording=80,
        preprocess=tiny_preprocess(sample_rate_hz=RATE),
        ictal_fraction=0.2,
    )


def config_for(cache, *sets):
    overrides = [f"preprocess.sample_rate_hz={RATE}", "preprocess.bandpass_hz=null",
                 "preprocess.notch_hz=null", "model.name=bandpower_logreg", *sets]  # fmt: skip
    return load_config([], overrides)


@pytest.fixture(scope="module")
def fitted(cache, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("fit") / "run"
    lines: list[str] = []
    result = train(config_for(cache), cache, run_dir, device="cpu", log=lines.append)
    return run_dir, result, lines


def test_train_fits_and_writes_the_run_folder(fitted):
    run_dir, result, lines = fitted
    assert result.status == "completed" and result.exit_code == 0
    assert result.epochs_completed == 1 and result.best_metric == "window_auroc"
    names = {"config.yaml", "environment.json", "metrics.jsonl", "best.pt", "last.pt",
             "summary.json"}  # fmt: skip
    assert names <= {p.name for p in run_dir.iterdir()}
    assert (run_dir / "best.pt").read_bytes() == (run_dir / "last.pt").read_bytes()
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["fit_C"] in C_GRID and set(row["dev_window_auroc_by_C"]) == {
        f"{c:g}" for c in C_GRID
    }
    assert row["train_window_auroc"] > 0.97 and row["window_auroc"] > 0.97
    assert row["window_auroc"] == pytest.approx(result.best_value)
    assert "ovlp_sensitivity_at_fa" in row  # every validation metric a trained run logs
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["best"]["value"] == result.best_value
    assert any("fitted bandpower_logreg" in line for line in lines)


def test_the_fitted_model_separates_by_band_power(fitted, cache):
    run_dir, _, _ = fitted
    model, config, shape = load_model_from_checkpoint(run_dir / "best.pt")
    assert config.model.name == "bandpower_logreg" and shape == tuple(cache.window_shape)
    assert float(model.sample_rate_hz) == RATE and int(model.context_windows) == 0
    # louder ictal windows: more power in every band, so positive weights on the mean powers
    assert (model.head.weight[0, :5] > 0).sum() >= 3
    # the checkpoint's model on raw windows gives the fit's dev probabilities
    rec = cache.split("dev")[0]
    x = torch.from_numpy(np.asarray(cache.windows(rec.recording_id), dtype=np.float32))
    with torch.no_grad():
        logits = model(x[None])[0].numpy()
    dev = split_features(model, cache, "dev")
    z = (dev.features[: dev.bounds[1]] - model.feature_mean.numpy()) / model.feature_std.numpy()
    w, b = model.head.weight.detach()[0].numpy(), model.head.bias.detach().numpy()
    np.testing.assert_allclose(logits, z @ w + b, rtol=1e-4, atol=1e-4)
    labels = np.asarray(cache.labels(rec.recording_id)).astype(bool)
    assert logits[labels].min() > logits[~labels].max()


def test_checkpoint_loads_weights_only(fitted):
    run_dir, _, _ = fitted
    state = load_checkpoint(run_dir / "best.pt")  # torch.load(weights_only=True) inside
    assert set(state["model"]) == {"sample_rate_hz", "context_windows", "feature_mean",
                                   "feature_std", "head.weight", "head.bias"}  # fmt: skip
    assert state["metrics"]["fit_C"] in C_GRID


def test_resume_of_a_finished_fit_returns_it(fitted, cache):
    run_dir, result, _ = fitted
    before = (run_dir / "best.pt").stat().st_mtime_ns
    again = train(config_for(cache), cache, run_dir, resume=True, device="cpu", log=lambda m: None)
    assert again.status == "completed" and again.best_value == pytest.approx(result.best_value)
    assert (run_dir / "best.pt").stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="not empty; pass --resume"):
        train(config_for(cache), cache, run_dir, device="cpu")


def test_context_windows_are_stored_in_the_model(cache, tmp_path):
    fit = fit_baseline(config_for(cache), cache, tmp_path / "run", device="cpu", context_windows=2)
    assert fit.history[0]["context_windows"] == 2
    model, _, _ = load_model_from_checkpoint(tmp_path / "run" / "best.pt")
    assert int(model.context_windows) == 2


def test_without_dev_split_c_is_fixed(tmp_path):
    cache = write_random_cache(tmp_path / "cache", splits={"train": 4}, windows_per_recording=40,
                               preprocess=tiny_preprocess(sample_rate_hz=RATE))  # fmt: skip
    lines: list[str] = []
    result = train(config_for(cache), cache, tmp_path / "run", device="cpu", log=lines.append)
    row = result.history[0]
    assert row["fit_C"] == DEFAULT_C and list(row["dev_window_auroc_by_C"]) == [f"{DEFAULT_C:g}"]
    assert "window_auroc" not in row and result.best_value is None
    assert row["train_window_auroc"] > 0.97
    assert any("cannot choose C" in line for line in lines)


def test_lfcc_cache_is_refused(tmp_path):
    lfcc = tiny_preprocess(sample_rate_hz=RATE, features="lfcc")
    cache = write_random_cache(tmp_path / "lfcc", splits={"train": 2}, windows_per_recording=20,
                               preprocess=lfcc)  # fmt: skip
    config = load_config([], [f"preprocess.sample_rate_hz={RATE}", "preprocess.bandpass_hz=null",
                              "preprocess.notch_hz=null", "preprocess.features=lfcc",
                              "model.name=bandpower_logreg"])  # fmt: skip
    with pytest.raises(TrainingDataError, match="raw windows.*lfcc features"):
        train(config, cache, tmp_path / "run", device="cpu")
    assert not (tmp_path / "run" / "best.pt").exists()


def test_a_rate_too_low_for_a_band_is_refused(tmp_path):
    cache = write_random_cache(tmp_path / "c", splits={"train": 2}, windows_per_recording=20)
    sets = ["preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null"]
    config = load_config([], [*sets, "preprocess.notch_hz=null", "model.name=bandpower_logreg"])
    with pytest.raises(TrainingDataError, match="gamma .* no frequency bin"):
        train(config, cache, tmp_path / "run", device="cpu")


def test_evaluate_and_the_cli_do_not_import_sklearn():
    code = (
        "import sys, seizure.cli, seizure.models.registry, seizure.evaluation.evaluate, "
        "seizure.training.loop; print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


# --------------------------------------------------------------------------- round trip


def invoke(*args: object):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_train_evaluate_detect_round_trip(tmp_path):
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    invoke("synth", corpus, "--hours", "0.3", "--patients", "8", "--seed", "7", "--config", "tiny")
    invoke("preprocess", corpus / "edf", cache, *FAST)
    invoke("train", cache, tmp_path / "run", "--config", "bandpower_logreg", *FAST)
    ckpt = tmp_path / "run" / "best.pt"
    invoke("evaluate", ckpt, cache, tmp_path / "ev", "--device", "cpu")
    scores = json.loads((tmp_path / "ev" / "scores.json").read_text())
    assert scores["ovlp"]["targets"] >= 1
    edf = sorted((corpus / "edf" / "eval").rglob("*.edf"))[0]
    invoke("detect", ckpt, edf, "--out", tmp_path / "det", "--device", "cpu", "--save-probs")
    detected = np.load(next((tmp_path / "det").rglob("*.probs.npy")))
    evaluated = np.load(tmp_path / "ev" / "probs" / f"{edf.stem}.npy")
    # evaluate (cached windows) and detect (the EDF preprocessed anew) give the same model
    # outputs; both equal the model applied to the cached windows directly
    np.testing.assert_allclose(detected, evaluated, atol=1e-5)
    model, _, _ = load_model_from_checkpoint(ckpt)
    from seizure.preprocessing.cache import Cache

    windows = Cache(cache).windows(edf.stem)
    with torch.no_grad():
        direct = torch.sigmoid(model(torch.from_numpy(np.asarray(windows, np.float32))[None]))[0]
    np.testing.assert_allclose(evaluated, direct.numpy(), atol=1e-5)
    assert Path(ckpt).read_bytes() == (tmp_path / "run" / "last.pt").read_bytes()
