"""Validation during training and the inference engine give the same probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seizure.config import load_config
from seizure.inference.engine import Predictor
from seizure.inference.plan import plan_sequences
from seizure.training.data import SplitData, ThreadFeeder, eval_plan
from seizure.training.fakes import TinySeqModel, write_random_cache
from seizure.training.step import autocast_for
from seizure.training.validation import validate

T = 8


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    # lengths 3..45: shorter than T, multiples of T and ragged tails all occur
    cache = write_random_cache(
        tmp_path_factory.mktemp("cache"),
        splits={"train": 1, "dev": 9},
        windows_per_recording=(3, 45),
        seed=10,
    )
    data = SplitData.from_cache(cache, "dev")
    lengths = [int(n) for n in data.lengths]
    assert any(n < T for n in lengths), lengths
    assert any(n >= T and n % T == 0 for n in lengths), lengths
    assert any(n > T and n % T for n in lengths), lengths
    return data


def test_eval_plan_is_the_inference_plan_without_context(dev):
    plan = eval_plan(dev, T, batch_size=3)
    n_rows = sum(len(plan_sequences(n, T)) for n in dev.lengths if n >= T)
    rows = list(zip(plan.rec[:n_rows], plan.start[:n_rows], plan.keep_from[:n_rows]))
    expected = [
        (r, start, lo - start)
        for r, n in enumerate(dev.lengths)
        if n >= T
        for start, lo, hi in plan_sequences(int(n), T).tolist()
    ]
    assert [tuple(int(v) for v in row) for row in rows] == expected
    # the padding repeats the last sequence; short recordings are run alone
    assert all(int(r) == expected[-1][0] for r in plan.rec[n_rows:])
    assert plan.short == [r for r, n in enumerate(dev.lengths) if 0 < n < T]


def test_validation_and_inference_give_the_same_probabilities(dev):
    torch.manual_seed(0)
    model = TinySeqModel(dev.window_shape, hidden=8, dropout=0.0).eval()
    feeder = ThreadFeeder(dev, torch.device("cpu"), T, batch_size=3, num_threads=1, prefetch=1)
    try:
        probs, labels, _ = validate(
            model, dev, feeder, eval_plan(dev, T, 3), torch.device("cpu"),
            autocast_for(torch.device("cpu"), "fp32"),
        )  # fmt: skip
    finally:
        feeder.close()
    predictor = Predictor(model, sequence_windows=T, batch_sequences=3, device="cpu", amp=False,
                          compile="never")  # fmt: skip
    inferred = dict(predictor.predict(zip(dev.ids, dev.windows)))
    predictor.close()
    assert list(probs) == dev.ids == list(inferred)
    for rid in dev.ids:
        np.testing.assert_allclose(probs[rid], inferred[rid], rtol=1e-5, atol=1e-6)


def test_a_different_tiling_gives_different_probabilities(dev):
    """The agreement above is not trivial: the model's output depends on the tiling."""
    torch.manual_seed(0)
    model = TinySeqModel(dev.window_shape, hidden=8, dropout=0.0).eval()
    predictor = Predictor(model, sequence_windows=T, context_windows=2, batch_sequences=3,
                          device="cpu", amp=False, compile="never")  # fmt: skip
    with_context = dict(predictor.predict(zip(dev.ids, dev.windows)))
    predictor.close()
    feeder = ThreadFeeder(dev, torch.device("cpu"), T, batch_size=3, num_threads=1, prefetch=1)
    try:
        probs, _, _ = validate(
            model, dev, feeder, eval_plan(dev, T, 3), torch.device("cpu"),
            autocast_for(torch.device("cpu"), "fp32"),
        )  # fmt: skip
    finally:
        feeder.close()
    long = [rid for rid, n in zip(dev.ids, dev.lengths) if n > T]
    assert any(np.abs(probs[r] - with_context[r]).max() > 1e-4 for r in long)


def test_validation_agrees_with_inference_for_a_registry_model(dev):
    from seizure.models import build_model

    config = load_config(
        overrides=["model.hidden_size=8", "model.conv_channels=[8]", "model.conv_kernels=[3]"]
    )
    torch.manual_seed(1)
    model = build_model(config.model, dev.window_shape).eval()
    feeder = ThreadFeeder(dev, torch.device("cpu"), T, batch_size=4, num_threads=1, prefetch=1)
    try:
        probs, _, _ = validate(
            model, dev, feeder, eval_plan(dev, T, 4), torch.device("cpu"),
            autocast_for(torch.device("cpu"), "fp32"),
        )  # fmt: skip
    finally:
        feeder.close()
    predictor = Predictor(model, sequence_windows=T, batch_sequences=4, device="cpu", amp=False,
                          compile="never")  # fmt: skip
    inferred = dict(predictor.predict(zip(dev.ids, dev.windows)))
    predictor.close()
    for rid in dev.ids:
        # the predictor folds batch normalisation into the convolutions: equal up to rounding
        np.testing.assert_allclose(probs[rid], inferred[rid], rtol=1e-4, atol=1e-5)
