"""The training loop end to end on a small random cache (CPU)."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch
import yaml

from seizure.config import ConfigError, load_config
from seizure.training.checkpoint import load_checkpoint, load_model_from_checkpoint
from seizure.training.fakes import TinySeqModel, tiny_model_factory, write_random_cache
from seizure.training.loop import NonFiniteLossError, RunDirError, train
from seizure.training.step import lr_lambda

TINY = ["preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null", "preprocess.notch_hz=null"]
BASE = TINY + [
    "train.epochs=2",
    "train.batch_size=4",
    "train.sequence_windows=8",
    "train.num_workers=2",
    "train.progress=false",
]


def config(*overrides):
    return load_config(overrides=BASE + list(overrides))


def run(cfg, cache, run_dir, **kwargs):
    kwargs.setdefault("model_factory", tiny_model_factory)
    kwargs.setdefault("log", lambda message: None)
    return train(cfg, cache, run_dir, **kwargs)


def weights(run_dir, name="last.pt"):
    return load_checkpoint(run_dir / name)["model"]


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def metric_rows(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:  # timings differ between runs
        for key in ("train_windows_per_s", "train_s", "val_s"):
            row.pop(key, None)
    return rows


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return write_random_cache(
        tmp_path_factory.mktemp("cache"),
        splits={"train": 6, "dev": 3},
        windows_per_recording=(40, 80),
        seed=1,
    )


def test_writes_every_output(cache, tmp_path):
    cfg = config()
    result = run(cfg, cache, tmp_path / "run")
    out = tmp_path / "run"
    assert result.status == "completed" and result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt",
        "config.yaml",
        "environment.json",
        "last.pt",
        "metrics.jsonl",
        "summary.json",
    ]
    assert load_config([out / "config.yaml"]) == cfg
    rows = metric_rows(out)
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("train_loss", "lr", "val_loss", "window_auroc", "window_auprc"):
        assert all(math.isfinite(r[key]) for r in rows), key
    env = json.loads((out / "environment.json").read_text())["starts"][0]
    assert env["seed"] == cfg.seed and env["torch"] == torch.__version__ and env["python"]
    assert "git_commit" in env
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert summary["best"]["metric"] == "window_auroc"
    state = load_checkpoint(out / "last.pt")
    assert state["epoch"] == 2 and state["batch_in_epoch"] == 0 and state["step"] == result.step
    assert state["cache_fingerprint"] == cache.fingerprint
    assert state["window_shape"] == [22, 32]
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == 2


def test_same_seed_same_result(cache, tmp_path):
    run(config(), cache, tmp_path / "a")
    run(config(), cache, tmp_path / "b")
    run(config("seed=1"), cache, tmp_path / "c")
    assert_same_state(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert metric_rows(tmp_path / "a") == metric_rows(tmp_path / "b")
    a, c = weights(tmp_path / "a"), weights(tmp_path / "c")
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("sampling, imbalance", [("random_offset", "pos_weight"),
                                                 ("tile", "oversample")])  # fmt: skip
def test_sigterm_then_resume_matches_uninterrupted_run(cache, tmp_path, sampling, imbalance):
    cfg = config(
        f"train.sequence_sampling={sampling}",
        f"train.imbalance={imbalance}",
        "train.schedule=cosine",
        "train.warmup_steps=3",
    )
    straight = run(cfg, cache, tmp_path / "straight")
    steps_per_epoch = straight.step // 2
    k = steps_per_epoch + 2  # in the middle of the second epoch

    def kill_at_k(info):
        if info.step == k:
            os.kill(os.getpid(), signal.SIGTERM)

    first = run(cfg, cache, tmp_path / "resumed", callbacks=[kill_at_k])
    assert first.status == "interrupted" and first.exit_code == 143
    state = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 2, k)
    assert (
        json.loads((tmp_path / "resumed" / "summary.json").read_text())["status"] == "interrupted"
    )
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored

    second = run(cfg, cache, tmp_path / "resumed", resume=True)
    assert second.status == "completed" and second.step == straight.step
    assert_same_state(weights(tmp_path / "straight"), weights(tmp_path / "resumed"))
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["optimizer"]["state"]
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")["optimizer"]["state"]
    assert all(torch.equal(a[i]["exp_avg_sq"], b[i]["exp_avg_sq"]) for i in a)
    assert metric_rows(tmp_path / "straight") == metric_rows(tmp_path / "resumed")
    starts = json.loads((tmp_path / "resumed" / "environment.json").read_text())["starts"]
    assert len(starts) == 2


def test_stop_at_epoch_boundary_then_resume(cache, tmp_path):
    cfg = config("train.epochs=3")
    straight = run(cfg, cache, tmp_path / "straight")
    per_epoch = straight.step // 3
    first = run(cfg, cache, tmp_path / "r", stop_at_step=per_epoch)
    assert first.status == "interrupted" and first.exit_code == 0
    run(cfg, cache, tmp_path / "r", resume=True)
    assert_same_state(weights(tmp_path / "straight"), weights(tmp_path / "r"))
    assert metric_rows(tmp_path / "straight") == metric_rows(tmp_path / "r")


def test_max_steps_then_resume_with_more(cache, tmp_path):
    result = run(config("train.max_steps=3"), cache, tmp_path / "r")
    assert result.status == "max_steps" and result.step == 3
    rows = metric_rows(tmp_path / "r")
    assert rows[-1]["partial_epoch"] is True
    result = run(config("train.max_steps=5"), cache, tmp_path / "r", resume=True)
    assert result.step == 5
    assert [r["epoch"] for r in metric_rows(tmp_path / "r")] == [1]  # partial row replaced
    # resumed with the same max_steps: nothing more is trained
    before = weights(tmp_path / "r")
    result = run(config("train.max_steps=5"), cache, tmp_path / "r", resume=True)
    assert result.status == "max_steps" and result.step == 5
    assert_same_state(before, weights(tmp_path / "r"))


class NaNAfter(TinySeqModel):
    """Returns NaN logits from the 4th training forward on."""

    calls = 0

    def forward(self, x):
        out = super().forward(x)
        if self.training:
            NaNAfter.calls += 1
            if NaNAfter.calls >= 4:
                return out * float("nan")
        return out


def test_non_finite_loss_stops_naming_the_step(cache, tmp_path):
    NaNAfter.calls = 0
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 4 \(epoch 1, batch 4\)"):
        run(config(), cache, tmp_path / "r", model_factory=lambda m, s: NaNAfter(s))
    assert not (tmp_path / "r" / "last.pt").exists()  # no NaN model saved
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "failed" and "step 4" in summary["error"]


def test_refuses_cache_made_with_other_preprocessing(cache, tmp_path):
    cfg = load_config(overrides=BASE + ["preprocess.sample_rate_hz=128"])
    with pytest.raises(ValueError, match="sample_rate_hz: cache 32.0, config 128.0"):
        run(cfg, cache, tmp_path / "r")


def test_run_dir_rules(cache, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("x")
    with pytest.raises(RunDirError, match="not empty; pass --resume"):
        run(config(), cache, out)
    with pytest.raises(RunDirError, match="no last.pt to resume from"):
        run(config(), cache, out, resume=True)
    # --resume on an empty directory starts fresh (requeued batch jobs always pass --resume)
    assert run(config("train.epochs=1"), cache, tmp_path / "fresh", resume=True).step > 0


def test_resume_refuses_changed_config_but_allows_more_epochs(cache, tmp_path):
    run(config("train.epochs=1"), cache, tmp_path / "r")
    with pytest.raises(ConfigError, match=r"train.learning_rate: 0.001 -> 0.01"):
        run(config("train.epochs=1", "train.learning_rate=0.01"), cache, tmp_path / "r",
            resume=True)  # fmt: skip
    result = run(config("train.epochs=2"), cache, tmp_path / "r", resume=True)
    assert result.epochs_completed == 2


def test_early_stopping_and_best_checkpoint(cache, tmp_path):
    # lr 0: the validation metric never improves after epoch 1
    cfg = config("train.epochs=5", "train.learning_rate=0", "train.patience=2",
                 "train.early_stopping_metric=val_loss")  # fmt: skip
    result = run(cfg, cache, tmp_path / "r")
    assert result.status == "early_stopped"
    assert result.epochs_completed == 3 and result.best_epoch == 1
    assert load_checkpoint(tmp_path / "r" / "best.pt")["epoch"] == 1
    # resumed (a requeued job passes --resume): stopped before, so nothing is trained
    rows, before = metric_rows(tmp_path / "r"), weights(tmp_path / "r")
    messages = []
    again = run(cfg, cache, tmp_path / "r", resume=True, log=messages.append)
    assert again.status == "early_stopped" and again.epochs_completed == 3
    assert again.step == result.step and metric_rows(tmp_path / "r") == rows
    assert_same_state(before, weights(tmp_path / "r"))
    assert any("nothing to train" in m for m in messages)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "early_stopped"
    # a larger patience trains on
    more = run(config("train.epochs=5", "train.learning_rate=0", "train.patience=3",
                      "train.early_stopping_metric=val_loss"), cache, tmp_path / "r",
               resume=True)  # fmt: skip
    assert more.status == "early_stopped" and more.epochs_completed == 4


def test_unknown_early_stopping_metric_is_refused(cache, tmp_path):
    with pytest.raises(ConfigError, match="'train.early_stopping_metric': allowed"):
        run(config("train.early_stopping_metric=ovlp_magic"), cache, tmp_path / "r")


def test_learning_rate_schedules():
    cfg = config("train.schedule=cosine", "train.warmup_steps=2", "train.epochs=2").train
    f = lr_lambda(cfg, steps_per_epoch=6)  # 12 steps in all
    assert [f(0), f(1)] == [0.5, 1.0]
    assert f(2) == pytest.approx(1.0) and f(12) == pytest.approx(0.0)
    assert f(7) == pytest.approx(0.5)
    cfg = config("train.schedule=step", "train.step_epochs=1", "train.step_gamma=0.5").train
    f = lr_lambda(cfg, steps_per_epoch=4)
    assert [f(0), f(3), f(4), f(8)] == [1.0, 1.0, 0.5, 0.25]


def test_real_model_with_regularization_and_reload(cache, tmp_path):
    cfg = config(
        "train.epochs=1",
        "model.hidden_size=8",
        "model.num_layers=1",
        "model.conv_channels=[8,8]",
        "model.conv_kernels=[3,3]",
        "model.regularization.l2=0.001",
        "model.regularization.dropout=0.1",
        "train.optimizer=adamw",
        "train.weight_decay=0.01",
    )
    result = train(cfg, cache, tmp_path / "r", log=lambda message: None)
    assert result.status == "completed"
    model, loaded_cfg, shape = load_model_from_checkpoint(tmp_path / "r" / "best.pt")
    assert loaded_cfg == cfg and shape == (22, 32)
    out = model(torch.zeros(2, 8, *shape))
    assert out.shape == (2, 8) and torch.isfinite(out).all()


@pytest.fixture(autouse=True)
def one_thread():
    # tiny models on a shared 2-core machine: OpenMP threads only contend
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_no_seizures_anywhere_still_trains_and_selects_on_val_loss(tmp_path):
    # no ictal window: pos_weight falls back to 1 and AUROC is NaN every epoch, so early
    # stopping and best.pt fall back to val_loss (said in the log) instead of sticking at epoch 1
    cache = write_random_cache(tmp_path / "cache", windows_per_recording=40, ictal_fraction=0.0)
    messages = []
    cfg = config("train.epochs=4", "train.patience=2")
    result = run(cfg, cache, tmp_path / "r", log=messages.append)
    assert result.status in ("completed", "early_stopped")
    assert result.best_metric == "val_loss" and math.isfinite(result.best_value)
    assert any("holds no ictal windows" in m for m in messages)
    assert (tmp_path / "r" / "best.pt").is_file()
    rows = metric_rows(tmp_path / "r")
    assert rows[0]["window_auroc"] is None and math.isfinite(rows[0]["val_loss"])
    best_loss = min(r["val_loss"] for r in rows)
    assert result.best_value == pytest.approx(best_loss)


def test_recordings_shorter_than_a_sequence_are_reported_and_left_out_of_the_balance(
    cache, tmp_path
):
    import re

    T = 60
    lengths = [len(cache.labels(r.recording_id)) for r in cache.split("train")]
    short = [n for n in lengths if n < T]
    assert short and len(short) < len(lengths)  # the fixture has both kinds at T = 60
    kept = [r.recording_id for r in cache.split("train") if len(cache.labels(r.recording_id)) >= T]
    n_win = sum(len(cache.labels(r)) for r in kept)
    n_ictal = sum(int(cache.labels(r).sum()) for r in kept)
    messages = []
    cfg = config(f"train.sequence_windows={T}", "train.epochs=1", "train.batch_size=1")
    run(cfg, cache, tmp_path / "r", log=messages.append)
    assert any(
        f"{len(short)} training recording(s) shorter than train.sequence_windows={T}" in m
        for m in messages
    )
    (line,) = [m for m in messages if "pos_weight=" in m]
    pos_weight = float(re.search(r"pos_weight=([0-9.e+-]+)\)", line).group(1))
    assert pos_weight == pytest.approx((n_win - n_ictal) / n_ictal, rel=1e-2)
