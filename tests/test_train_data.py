"""Sequence plans and feeders: coverage, sharding, oversampling, identical batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seizure.training.data import (
    LoaderFeeder,
    ResidentFeeder,
    SplitData,
    ThreadFeeder,
    check_cache_matches,
    eval_plan,
    make_feeder,
    sequence_has_seizure,
    train_plan,
)
from seizure.training.fakes import tiny_preprocess, write_random_cache

T = 10


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    return write_random_cache(
        path, splits={"train": 7, "dev": 3}, windows_per_recording=(5, 90), seed=3
    )


@pytest.fixture(scope="module")
def data(cache):
    return SplitData.from_cache(cache, "train")


def _expected(data, rec, start):
    x = np.stack([data.windows[r][s : s + T] for r, s in zip(rec, start)])
    y = np.stack([data.labels[r][s : s + T] for r, s in zip(rec, start)])
    return x, y


@pytest.mark.parametrize("sampling", ["tile", "random_offset"])
def test_train_plan_tiles_without_overlap(data, sampling):
    plan = train_plan(data, T, batch_size=2, seed=0, epoch=1, sampling=sampling)
    lengths = data.lengths
    assert np.all(plan.start >= 0) and np.all(plan.start + T <= lengths[plan.rec])
    for r in range(len(lengths)):
        starts = np.sort(plan.start[plan.rec == r])
        assert np.all(np.diff(starts) >= T)  # no two sequences overlap
        if sampling == "tile":
            assert list(starts) == list(range(0, (lengths[r] // T) * T, T))
        else:
            assert len(starts) >= lengths[r] // T - 1
            assert np.all((starts - starts[:1]) % T == 0) if len(starts) else True
    assert len(plan) == len(plan.rec) // 2


def test_plan_depends_only_on_seed_and_epoch(data):
    a = train_plan(data, T, 2, seed=5, epoch=3)
    b = train_plan(data, T, 2, seed=5, epoch=3)
    c = train_plan(data, T, 2, seed=5, epoch=4)
    assert np.array_equal(a.rec, b.rec) and np.array_equal(a.start, b.start)
    assert not (np.array_equal(a.rec, c.rec) and np.array_equal(a.start, c.start))


def test_ranks_get_disjoint_shards_of_each_global_batch(data):
    plans = [train_plan(data, T, 2, seed=0, epoch=0, rank=r, world_size=2) for r in range(2)]
    assert len(plans[0]) == len(plans[1]) > 0
    full = train_plan(data, T, 4, seed=0, epoch=0)
    for i in range(len(plans[0])):
        (r0, s0), (r1, s1) = plans[0].batch(i), plans[1].batch(i)
        got = sorted(zip(np.r_[r0, r1].tolist(), np.r_[s0, s1].tolist()))
        rf, sf = full.batch(i)
        assert got == sorted(zip(rf.tolist(), sf.tolist()))


def test_oversampling_keeps_every_sequence_and_reaches_fraction(data):
    base = train_plan(data, T, 1, seed=0, epoch=0, sampling="tile")
    over = train_plan(data, T, 1, seed=0, epoch=0, sampling="tile", oversample_fraction=0.5)
    assert set(zip(base.rec.tolist(), base.start.tolist())) <= set(
        zip(over.rec.tolist(), over.start.tolist())
    )
    frac_before = sequence_has_seizure(data, base.rec, base.start, T).mean()
    frac_after = sequence_has_seizure(data, over.rec, over.start, T).mean()
    assert frac_before < 0.5 <= frac_after < 0.5 + 1.0 / len(over.rec) + 1e-9


def test_eval_plan_covers_every_window_once(cache):
    dev = SplitData.from_cache(cache, "dev")
    lengths = dev.lengths
    plan = eval_plan(dev, T, batch_size=4)
    assert len(plan.rec) % 4 == 0
    seen = [np.zeros(n, int) for n in lengths]
    for r, s, k in {
        (int(r), int(s), int(k)) for r, s, k in zip(plan.rec, plan.start, plan.keep_from)
    }:
        seen[r][s + k : s + T] += 1
    for r in plan.short:
        seen[r][:] += 1
    assert all(np.all(c == 1) for c in seen)


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_feeder_gives_the_planned_sequences(data, threads):
    plan = train_plan(data, T, 3, seed=1, epoch=0)
    feeder = ThreadFeeder(data, torch.device("cpu"), T, 3, num_threads=threads, prefetch=2)
    got = [(x.clone(), y.clone()) for x, y in feeder.iterate(plan, first_batch=1)]
    feeder.close()
    assert len(got) == len(plan) - 1
    for i, (x, y) in enumerate(got, start=1):
        ex, ey = _expected(data, *plan.batch(i))
        assert x.dtype == torch.float16 and tuple(x.shape) == (3, T, *data.window_shape)
        assert np.array_equal(x.numpy(), ex) and np.array_equal(y.numpy(), ey)


def test_resident_and_loader_feeders_agree(data):
    plan = train_plan(data, T, 3, seed=1, epoch=0)
    resident = ResidentFeeder(data, torch.device("cpu"), T)
    loader = LoaderFeeder(data, torch.device("cpu"), T, num_workers=0)
    for i, ((xr, yr), (xl, yl)) in enumerate(zip(resident.iterate(plan), loader.iterate(plan))):
        ex, ey = _expected(data, *plan.batch(i))
        assert np.array_equal(xr.numpy(), ex) and np.array_equal(yr.numpy(), ey)
        assert xl.dtype == torch.float32
        assert np.array_equal(xl.numpy(), ex.astype(np.float32)) and np.array_equal(yl.numpy(), ey)


def test_make_feeder_auto_on_cpu_uses_threads(data):
    feeder, kind = make_feeder("auto", data, torch.device("cpu"), T, 2)
    assert kind == "threads" and isinstance(feeder, ThreadFeeder)
    with pytest.raises(ValueError, match="allowed 'auto', 'gpu', 'threads', 'dataloader'"):
        make_feeder("magic", data, torch.device("cpu"), T, 2)


def test_mismatched_cache_is_refused_naming_keys(cache):
    check_cache_matches(cache, tiny_preprocess())
    with pytest.raises(ValueError) as err:
        check_cache_matches(cache, tiny_preprocess(sample_rate_hz=128.0, notch_hz=50.0))
    message = str(err.value)
    assert "sample_rate_hz: cache 32.0, config 128.0" in message
    assert "notch_hz: cache None, config 50.0" in message
    assert str(cache.path) in message
