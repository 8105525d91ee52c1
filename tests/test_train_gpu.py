"""Training on a CUDA device: feeders, bf16 autocast, checkpoints readable on the CPU.

Skipped without CUDA (the ``gpu`` marker); a few seconds on one GPU, no compilation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seizure.config import load_config
from seizure.inference.device import resolve_device
from seizure.training.checkpoint import load_checkpoint, load_model_from_checkpoint
from seizure.training.data import ResidentFeeder, SplitData, ThreadFeeder, train_plan
from seizure.training.distributed import device_notes
from seizure.training.fakes import tiny_model_factory, write_random_cache
from seizure.training.loop import train

pytestmark = pytest.mark.gpu

T = 8
TINY = ["preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null", "preprocess.notch_hz=null"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return write_random_cache(
        tmp_path_factory.mktemp("cache"), splits={"train": 6, "dev": 2}, windows_per_recording=64
    )


def test_device_feeders_match_host_slices(cache):
    data = SplitData.from_cache(cache, "train")
    plan = train_plan(data, T, 4, seed=0, epoch=0)
    device = torch.device("cuda")
    resident = ResidentFeeder(data, device, T)
    threads = ThreadFeeder(data, device, T, 4, num_threads=2, prefetch=2)
    pairs = zip(resident.iterate(plan), threads.iterate(plan))
    for i, ((xr, yr), (xt, yt)) in enumerate(pairs):
        rec, start = plan.batch(i)
        ex = np.stack([data.windows[r][s : s + T] for r, s in zip(rec, start)])
        ey = np.stack([data.labels[r][s : s + T] for r, s in zip(rec, start)])
        assert xr.is_cuda and xt.is_cuda and xr.dtype == torch.float16
        assert np.array_equal(xr.cpu().numpy(), ex) and np.array_equal(xt.cpu().numpy(), ex)
        assert np.array_equal(yr.cpu().numpy(), ey) and np.array_equal(yt.cpu().numpy(), ey)
    threads.close()


@pytest.mark.parametrize("feeder", ["gpu", "threads"])
def test_bf16_training_on_cuda(cache, tmp_path, feeder):
    cfg = load_config(
        overrides=TINY
        + [
            "train.epochs=2",
            "train.batch_size=4",
            f"train.sequence_windows={T}",
            f"train.feeder={feeder}",
            "train.precision=auto",
            "train.log_every_steps=3",
            "train.progress=false",
        ]
    )
    result = train(
        cfg, cache, tmp_path / "run", device="cuda", model_factory=tiny_model_factory,
        log=lambda message: None,
    )  # fmt: skip
    assert result.status == "completed"
    row = result.history[-1]
    assert np.isfinite(row["train_loss"]) and np.isfinite(row["window_auroc"])
    state = load_checkpoint(tmp_path / "run" / "last.pt")  # loaded onto the CPU
    assert all(v.device.type == "cpu" for v in state["model"].values())
    assert len(state["rng"]["cuda"]) == torch.cuda.device_count()
    model, _, shape = load_model_from_checkpoint(
        tmp_path / "run" / "best.pt", "cpu", model_factory=tiny_model_factory
    )
    assert model(torch.zeros(1, T, *shape)).shape == (1, T)


def test_cpu_requested_with_a_gpu_present_says_so():
    device = resolve_device("cpu", local_rank=0)
    notes = device_notes("cpu", device)
    assert device.type == "cpu"
    assert any("is available but --device cpu was asked" in n for n in notes)
    device = resolve_device("auto", local_rank=0)
    assert device == torch.device("cuda", 0) and not device_notes("auto", device)
