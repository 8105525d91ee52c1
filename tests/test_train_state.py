"""TrainState round trips through the checkpoint format; the resume config; error roots."""

from __future__ import annotations

import pytest
import torch

from seizure.config import ConfigError, load_config, to_dict
from seizure.training.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    load_model_from_checkpoint,
    save_checkpoint,
)
from seizure.training.errors import NonFiniteLossError, RunDirError, TrainingDataError
from seizure.training.fakes import TinySeqModel, tiny_model_factory, write_random_cache
from seizure.training.loop import train
from seizure.training.rundir import resume_config
from seizure.training.state import BestMetric, TrainState
from seizure.utils.errors import SeizureError

SETS = [
    "preprocess.sample_rate_hz=32",
    "preprocess.bandpass_hz=null",
    "preprocess.notch_hz=null",
    "train.epochs=1",
    "train.batch_size=4",
    "train.sequence_windows=8",
    "train.num_workers=1",
    "train.progress=false",
]


def _parts(seed: int = 0):
    torch.manual_seed(seed)
    model = TinySeqModel((22, 32), hidden=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return model, optimizer, scheduler, scaler


def test_state_round_trips_through_a_checkpoint_file(tmp_path):
    model, optimizer, scheduler, scaler = _parts()
    model(torch.randn(2, 8, 22, 32)).sum().backward()
    optimizer.step()
    scheduler.step()
    best = BestMetric("window_auroc", value=0.75, epoch=2, bad_epochs=1)
    state = TrainState(model, optimizer, scheduler, scaler, best, epoch=2, batch_in_epoch=3,
                       step=11, loss_sum=1.5, loss_batches=3, rng=[capture_rng_state()],
                       history=[{"epoch": 2, "val_loss": 0.5}])  # fmt: skip
    config = load_config(overrides=SETS)
    save_checkpoint(tmp_path / "last.pt", state.to_checkpoint(config, (22, 32), "abc", 1))

    stored = load_checkpoint(tmp_path / "last.pt")
    back = TrainState.from_checkpoint(stored, *_parts(seed=1))
    assert (back.epoch, back.batch_in_epoch, back.step) == (2, 3, 11)
    assert (back.loss_sum, back.loss_batches) == (1.5, 3)
    assert back.best == best
    for k, v in model.state_dict().items():
        assert torch.equal(back.model.state_dict()[k], v), k
    a, b = optimizer.state_dict()["state"], back.optimizer.state_dict()["state"]
    assert all(torch.equal(a[i]["exp_avg_sq"], b[i]["exp_avg_sq"]) for i in a)
    assert back.scheduler.state_dict()["last_epoch"] == 1
    assert torch.equal(back.rng[0]["torch"], state.rng[0]["torch"])
    assert stored["metrics"] == {"epoch": 2, "val_loss": 0.5}
    assert stored["sampler"] == {"seed": config.seed, "epoch": 2, "batch_in_epoch": 3}
    assert stored["rng_per_rank"] is None and stored["world_size"] == 1
    # the evaluation side reads the same file
    rebuilt, cfg, shape = load_model_from_checkpoint(tmp_path / "last.pt",
                                                     model_factory=tiny_model_factory)  # fmt: skip
    assert shape == (22, 32) and to_dict(cfg) == to_dict(config)


def test_best_metric_counts_epochs_without_improvement():
    best = BestMetric("val_loss")
    assert best.update(0.5, 1, "min") and (best.value, best.epoch, best.bad_epochs) == (0.5, 1, 0)
    assert not best.update(0.49, 2, "min", min_delta=0.05)
    assert not best.update(float("nan"), 3, "min")
    assert (best.value, best.epoch, best.bad_epochs) == (0.5, 1, 2)
    assert best.update(0.3, 4, "min") and best.bad_epochs == 0
    assert BestMetric.from_dict(best.as_dict()) == best


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return write_random_cache(
        tmp_path_factory.mktemp("cache"), splits={"train": 3, "dev": 2}, windows_per_recording=40
    )


def test_a_trained_checkpoint_holds_exactly_what_the_state_writes(cache, tmp_path):
    config = load_config(overrides=SETS)
    train(config, cache, tmp_path / "r", model_factory=tiny_model_factory, log=lambda m: None)
    stored = load_checkpoint(tmp_path / "r" / "last.pt")
    model = tiny_model_factory(config.model, (22, 32))
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    state = TrainState.from_checkpoint(stored, model, optimizer, scheduler,
                                       torch.amp.GradScaler("cpu", enabled=False))  # fmt: skip
    again = state.to_checkpoint(config, (22, 32), cache.fingerprint, 1)
    assert set(again) | {"format", "version"} == set(stored)
    same = ("epoch", "batch_in_epoch", "step", "early_stopping", "epoch_loss", "config",
            "window_shape", "cache_fingerprint", "preprocess_fingerprint", "sampler")  # fmt: skip
    for key in same:
        assert again[key] == stored[key], key


def test_resume_config_is_the_stored_config_with_overrides(cache, tmp_path):
    run_dir = tmp_path / "r"
    # without last.pt: defaults, files and overrides, as for a fresh run
    assert resume_config(run_dir, overrides=SETS) == load_config(overrides=SETS)
    stored = load_config(overrides=[*SETS, "train.learning_rate=0.003"])
    train(stored, cache, run_dir, model_factory=tiny_model_factory, log=lambda m: None)
    config = resume_config(run_dir, overrides=["train.epochs=2"])
    assert config.train.learning_rate == 0.003 and config.train.epochs == 2
    assert to_dict(config.preprocess) == to_dict(stored.preprocess)
    result = train(config, cache, run_dir, resume=True, model_factory=tiny_model_factory,
                   log=lambda m: None)  # fmt: skip
    assert result.status == "completed" and result.epochs_completed == 2
    changed = resume_config(run_dir, overrides=["train.learning_rate=0.01"])
    with pytest.raises(ConfigError, match=r"train.learning_rate: 0.003 -> 0.01"):
        train(changed, cache, run_dir, resume=True, model_factory=tiny_model_factory,
              log=lambda m: None)  # fmt: skip


@pytest.mark.parametrize(
    "error, also",
    [
        (RunDirError, ValueError),
        (TrainingDataError, ValueError),
        (NonFiniteLossError, RuntimeError),
    ],  # fmt: skip
)
def test_training_errors_share_the_package_root(error, also):
    assert issubclass(error, SeizureError) and issubclass(error, also)
