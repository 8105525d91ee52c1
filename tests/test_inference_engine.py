"""The inference engine with stand-in models (the real registry is tested elsewhere).

The staged path (device buffers, copy and compute queues, events, padding on the device) runs
on the CPU with emulated queues (``EngineTuning(emulate_device=True)``): the same code with
host events standing in for CUDA's. :func:`reference_probs`, a plain loop over the planned
sequences, is the oracle.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import seizure.inference.engine as engine
import seizure.inference.graphs as graphs
import seizure.inference.reading as reading
from seizure.inference.device import DeviceError, resolve_device
from seizure.inference.engine import EngineTuning, Predictor
from seizure.inference.plan import plan_sequences

STAGED = EngineTuning(emulate_device=True)


def staged(jitter_s: float = 0.0, **knobs) -> EngineTuning:
    """Emulated device queues, each operation late by up to ``jitter_s``."""
    return EngineTuning(emulate_device=True, jitter_s=jitter_s, **knobs)


class MeanModel(torch.nn.Module):
    """Logit of a window = mean of its values: predictions do not depend on the sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x.flatten(2).mean(-1)


class PositionModel(torch.nn.Module):
    """Logit = position of the window inside its sequence (reveals which sequence was used)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        return torch.arange(t, dtype=torch.float32).expand(b, t) + 0 * x.flatten(2).mean(-1)


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def reference_probs(model, recordings, sequence_windows, context_windows=0):
    """The oracle: each planned sequence through the model alone, in fp32, one at a time."""
    out = {}
    with torch.inference_mode():
        for key, windows in recordings:
            n = len(windows)
            probs = np.zeros(n, dtype=np.float32)
            for start, lo, hi in plan_sequences(n, sequence_windows, context_windows):
                stop = start + min(sequence_windows, n)
                x = torch.from_numpy(np.asarray(windows[start:stop], dtype=np.float32))
                p = torch.sigmoid(model(x[None]).float())[0].numpy()
                probs[lo:hi] = p[lo - start : hi - start]
            out[key] = probs
    return out


def assert_same_up_to_rounding(actual, expected):
    """Equal up to 4 float32 ulps.

    The same probability computed in batches composed differently (other neighbours, another
    place in the batch) may round differently: a value's place decides whether a vectorised
    or a scalar loop computes its sigmoid, which differ by 1 ulp (6e-8 at p ~ 0.5 was seen on
    one CPU). The sigmoid's slope is at most 1/4, so a 1-ulp difference in a logit stays
    within an ulp of the probability; 4 ulps leave room for the mean's reduction order while
    any wrong window or misplaced sequence (differences of 1e-3 and more) fails.
    """
    np.testing.assert_array_max_ulp(actual, expected, maxulp=4)


def test_streaming_matches_per_window_model_across_batches_and_recordings():
    rng = np.random.default_rng(1)
    lengths = [0, 3, 30, 31, 95, 7, 200]
    recs = [(f"r{i}", rng.normal(size=(n, 2, 8)).astype(np.float16)) for i, n in enumerate(lengths)]
    predictor = Predictor(
        MeanModel(), sequence_windows=10, context_windows=2, batch_sequences=4, device="cpu"
    )
    seen = []
    out = list(predictor.predict(recs, progress=seen.append))
    assert [k for k, _ in out] == [k for k, _ in recs]  # input order
    for (_, windows), (_, probs) in zip(recs, out):
        expected = 1 / (1 + np.exp(-windows.astype(np.float32).mean(axis=(1, 2))))
        assert probs.dtype == np.float32 and probs.shape == (len(windows),)
        np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    assert sum(seen) == sum(lengths)


def test_each_window_comes_from_the_planned_sequence_position():
    n, L, C = 50, 8, 2
    windows = np.zeros((n, 1, 1), dtype=np.float32)
    predictor = Predictor(
        PositionModel(), sequence_windows=L, context_windows=C, batch_sequences=3, device="cpu"
    )
    probs = predictor.predict_one(windows)
    pos = np.rint(logit(probs.astype(np.float64))).astype(int)
    expected = np.empty(n, dtype=int)
    for start, lo, hi in plan_sequences(n, L, C):
        expected[lo:hi] = np.arange(lo, hi) - start
    np.testing.assert_array_equal(pos, expected)
    # interior windows sit at positions C .. L - C - 1
    assert pos[L:-L].min() >= C and pos[L:-L].max() <= L - C - 1


def test_memmap_input_is_read_without_warnings(tmp_path):
    arr = np.lib.format.open_memmap(
        tmp_path / "w.npy", mode="w+", dtype=np.float16, shape=(45, 2, 4)
    )
    arr[:] = 0.5
    arr.flush()
    ro = np.load(tmp_path / "w.npy", mmap_mode="r")
    probs = Predictor(MeanModel(), sequence_windows=10, device="cpu").predict_one(ro)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-0.5)), rtol=1e-6)


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="allowed"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == resolve_device("auto", local_rank=3) == torch.device("cpu")
        for name in ("cuda", "cuda:1"):
            with pytest.raises(DeviceError, match="CUDA is not available"):
                resolve_device(name)
    else:
        n = torch.cuda.device_count()
        assert resolve_device("auto", local_rank=n + 1) == torch.device("cuda", 1 % n)


@pytest.mark.parametrize("context", [0, 3])
def test_memmap_fast_path_equals_in_memory_arrays(tmp_path, context):
    rng = np.random.default_rng(7)
    recs_mem, recs_map = [], []
    for i, n in enumerate([57, 200, 9, 130]):
        w = rng.normal(size=(n, 3, 5)).astype(np.float16)
        np.save(tmp_path / f"{i}.npy", w)
        recs_mem.append((i, w))
        recs_map.append((i, np.load(tmp_path / f"{i}.npy", mmap_mode="r")))
    kw = dict(sequence_windows=12, context_windows=context, batch_sequences=5, device="cpu")
    a = dict(Predictor(MeanModel(), reader_threads=3, **kw).predict(recs_map))
    b = dict(Predictor(MeanModel(), **kw).predict(recs_mem))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


# ---------------------------------------------------------------- the engine's paths


def _recordings(tmp_path, lengths, shape=(3, 5), seed=3, memmap=True):
    rng = np.random.default_rng(seed)
    out = []
    for i, n in enumerate(lengths):
        w = rng.normal(size=(n, *shape)).astype(np.float16)
        if memmap:
            np.save(tmp_path / f"{i}.npy", w)
            w = np.load(tmp_path / f"{i}.npy", mmap_mode="r")
        out.append((f"r{i}", w))
    return out


@pytest.mark.parametrize("emulated", [False, True])
@pytest.mark.parametrize("memmap", [False, True])
@pytest.mark.parametrize("context,batch", [(0, 4), (0, 7), (3, 5), (0, 1)])
def test_engine_equals_the_reference_loop(tmp_path, monkeypatch, emulated, memmap, context, batch):
    monkeypatch.setattr(reading, "MIN_TASK_BYTES", 64)  # many reader tasks per batch
    lengths = [0, 3, 12, 13, 95, 7, 200, 0, 24, 11, 61]
    recs = _recordings(tmp_path, lengths, memmap=memmap)
    kw = dict(sequence_windows=12, context_windows=context, batch_sequences=batch, device="cpu")
    tuning = EngineTuning(emulate_device=emulated)
    reference = reference_probs(MeanModel(), recs, 12, context)
    predictor = Predictor(PositionModel(), reader_threads=3, tuning=tuning, **kw)
    seen = []
    position = list(predictor.predict(recs, progress=seen.append))
    assert [k for k, _ in position] == [k for k, _ in recs]
    assert sum(seen) == sum(lengths) == predictor.stats.windows
    stream = dict(Predictor(MeanModel(), reader_threads=3, tuning=tuning, **kw).predict(recs))
    for (key, windows), (_, probs) in zip(recs, position):
        # equal up to float rounding (a value's place in a batch decides whether a vectorised
        # or a scalar loop computes its sigmoid: 1 ulp)
        np.testing.assert_allclose(stream[key], reference[key], rtol=1e-6, atol=1e-7)
        n = len(windows)
        expected = np.empty(n, dtype=int)
        for start, lo, hi in plan_sequences(n, 12, context):
            expected[lo:hi] = np.arange(lo, hi) - start
        np.testing.assert_array_equal(np.rint(logit(probs.astype(np.float64))), expected)


def test_engine_reuses_its_buffers_and_reports_stages(tmp_path):
    recs = _recordings(tmp_path, [40, 33, 5, 90])
    predictor = Predictor(
        MeanModel(), sequence_windows=10, batch_sequences=3, device="cpu", tuning=STAGED
    )
    first = dict(predictor.predict(recs))
    ring = predictor._ring
    second = dict(predictor.predict(list(reversed(recs))))  # batches composed differently
    assert predictor._ring is ring  # allocated once per predictor
    for key in first:
        assert_same_up_to_rounding(second[key], first[key])
    stats = predictor.stats
    assert stats.device == "cpu (staged)" and stats.batches >= 6
    assert stats.windows == 168 and stats.model_windows >= stats.windows
    # every window once, but the 33-window recording's last tile (windows 23-32) is read whole
    assert stats.bytes_read == (40 + 30 + 10 + 5 + 90) * 15 * 2
    assert stats.wall_s > 0 and "wait for input" in stats.summary()
    assert set(stats.as_dict()) >= {"wall_s", "wait_input_s", "h2d_device_s", "write_s"}
    predictor.close()
    assert predictor._ring is None


def test_engine_can_be_abandoned(tmp_path):
    recs = _recordings(tmp_path, [50] * 6)
    predictor = Predictor(MeanModel(), sequence_windows=10, batch_sequences=2, device="cpu")
    stream = predictor.predict(recs)
    key, _ = next(stream)
    stream.close()  # readers stopped, files closed, no hang
    assert key == "r0"
    assert len(predictor.predict_one(recs[1][1])) == 50


def test_engine_rejects_mixed_window_shapes():
    recs = [("a", np.zeros((20, 2, 3), np.float16)), ("b", np.zeros((20, 3, 2), np.float16))]
    predictor = Predictor(MeanModel(), sequence_windows=10, device="cpu")
    with pytest.raises(ValueError, match="shape"):
        list(predictor.predict(recs))


def test_predictor_options_are_checked():
    with pytest.raises(ValueError, match="reader_threads"):
        Predictor(MeanModel(), sequence_windows=10, device="cpu", reader_threads=0)
    with pytest.raises(ValueError, match="batch_sequences"):
        Predictor(MeanModel(), sequence_windows=10, device="cpu", batch_sequences=0)
    with pytest.raises(ValueError, match="context_windows"):
        Predictor(MeanModel(), sequence_windows=10, context_windows=5, device="cpu")
    p = Predictor(MeanModel(), sequence_windows=10, device="cpu", reader_threads=2)
    assert p.reader_threads == 2
    from seizure.inference.device import default_batch_sequences, default_reader_threads

    p = Predictor(MeanModel(), sequence_windows=10, device="cpu")
    assert p.batch_sequences == default_batch_sequences(torch.device("cpu")) == 32
    assert p.reader_threads == default_reader_threads() and 1 <= p.reader_threads <= 16


def test_interleaved_predict_calls_do_not_share_buffers(tmp_path):
    recs = _recordings(tmp_path, [70, 45, 90])
    kw = dict(sequence_windows=10, batch_sequences=2, device="cpu", tuning=STAGED)
    predictor = Predictor(MeanModel(), **kw)
    expected = dict(Predictor(MeanModel(), **kw).predict(recs))
    a, b = predictor.predict(recs), predictor.predict(list(reversed(recs)))
    out_a, out_b = [next(a)], [next(b)]
    out_a += list(a)
    out_b += list(b)
    for key, probs in out_a:  # batched as `expected` was: the same bits
        np.testing.assert_array_equal(probs, expected[key])
    for key, probs in out_b:  # reversed: batches composed differently
        assert_same_up_to_rounding(probs, expected[key])


# ---------------------------------------------------------------- emulated device queues
# The staged pipeline's ordering (a device buffer is refilled only after its batch was
# converted, a host buffer only after its copy to the device) checked with the copy and
# compute queues as threads that run late.


class SlowQueues:
    """EmulatedQueues whose ``copy`` or ``compute`` queue sleeps before each operation."""

    def __init__(self, copy_s: float = 0.0, compute_s: float = 0.0):
        from seizure.inference.streams import EmulatedQueues

        class Queues(EmulatedQueues):
            def delay(self, queue_name: str) -> None:
                time.sleep(copy_s if queue_name == "copy" else compute_s)

        self.cls = Queues


def _expected_mean_probs(recs):
    return {k: 1 / (1 + np.exp(-w.astype(np.float32).mean(axis=(1, 2)))) for k, w in recs}


@pytest.mark.parametrize(
    "seed,copy_ahead,max_launched", [(0, 3, 3), (1, 3, 1), (2, 1, 3), (3, 2, 2)]
)
def test_staged_pipeline_is_exact_when_the_queues_run_late(
    tmp_path, monkeypatch, seed, copy_ahead, max_launched
):
    monkeypatch.setattr(reading, "MIN_TASK_BYTES", 64)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 90, size=12).tolist()
    recs = _recordings(tmp_path, lengths, seed=seed)
    kw = dict(sequence_windows=6, batch_sequences=2, device="cpu", reader_threads=3)
    tuning = staged(0.003, copy_ahead=copy_ahead, max_launched=max_launched)
    predictor = Predictor(MeanModel(), tuning=tuning, **kw)
    out = dict(predictor.predict(recs))
    expected = _expected_mean_probs(recs)
    for key in expected:
        np.testing.assert_allclose(out[key], expected[key], rtol=1e-5, atol=1e-6)
    stats = predictor.stats
    assert stats.windows == sum(lengths)
    rows = np.asarray(stats.timeline)
    assert len(rows) == min(stats.batches, 64)
    # per batch: copy start <= copy end <= model start <= model end <= results on the host
    assert np.all(np.diff(rows, axis=1) >= 0)
    assert 0 < stats.device_busy_s <= stats.device_span_s
    predictor.close()


@pytest.mark.parametrize(
    "broken,delays",
    [
        ("device buffer", dict(compute_s=0.01)),  # copies overwrite batches not yet converted
        ("host buffer", dict(copy_s=0.02)),  # readers overwrite batches not yet copied
    ],
)
def test_the_emulated_queues_catch_a_missing_wait(tmp_path, monkeypatch, broken, delays):
    """The check above can fail: drop one wait and late queues corrupt the results."""
    monkeypatch.setattr(engine, "EmulatedQueues", SlowQueues(**delays).cls)
    recs = [(f"r{i}", np.full((60, 2, 3), i / 10, dtype=np.float16)) for i in range(4)]
    kw = dict(sequence_windows=5, batch_sequences=2, device="cpu", reader_threads=2)
    expected = _expected_mean_probs(recs)

    def run():
        predictor = Predictor(MeanModel(), tuning=STAGED, **kw)
        out = dict(predictor.predict(recs))
        predictor.close()
        return max(float(np.max(np.abs(out[k] - expected[k]))) for k in expected)

    assert run() < 1e-3  # with every wait: exact
    if broken == "device buffer":
        original = engine.Predictor._queue_copy

        def no_wait(self, ring, slot, batch):
            ring.consumed = [None] * len(ring.consumed)
            return original(self, ring, slot, batch)

        monkeypatch.setattr(engine.Predictor, "_queue_copy", no_wait)
    else:
        original = engine.Predictor._submit_reads

        def no_wait(self, pool, ring, slot, batch):
            ring.h2d_done[slot] = None
            return original(self, pool, ring, slot, batch)

        monkeypatch.setattr(engine.Predictor, "_submit_reads", no_wait)
    assert run() > 1e-2


def test_a_failing_model_on_the_emulated_queues_is_reported(tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("kernel failed")

    recs = _recordings(tmp_path, [40, 40])
    predictor = Predictor(
        Broken(), sequence_windows=10, batch_sequences=2, device="cpu", tuning=STAGED
    )
    with pytest.raises(RuntimeError, match="kernel failed"):
        list(predictor.predict(recs))
    assert predictor._ring is None  # failed queues are not reused
    predictor.eager = predictor.model = MeanModel()
    assert len(dict(predictor.predict(recs))) == 2  # the predictor still works
    predictor.close()


def test_union_length():
    from seizure.inference.stats import union_length

    starts, ends = np.array([0.0, 1.0, 5.0, 6.0]), np.array([2.0, 3.0, 7.0, 6.5])
    assert union_length(starts, ends) == pytest.approx(3.0 + 2.0)
    assert union_length(np.array([]), np.array([])) == 0.0


@pytest.mark.parametrize("context", [0, 2])
def test_graph_path_on_the_emulated_queues_is_exact(tmp_path, context):
    """The bookkeeping around a captured model (static buffers, padding, early release of
    the device buffer), with the CPU standing in for the graph."""
    recs = _recordings(tmp_path, [0, 4, 60, 61, 200, 9, 33])
    kw = dict(sequence_windows=6, context_windows=context, batch_sequences=3, device="cpu")
    expected = _expected_mean_probs(recs)
    positions = dict(Predictor(PositionModel(), **kw).predict(recs))
    for model, reference in ((MeanModel(), expected), (PositionModel(), positions)):
        predictor = Predictor(model, cuda_graphs=True, tuning=staged(0.002), **kw)
        out = dict(predictor.predict(recs))
        assert predictor._graph is not None and predictor.cuda_graphs
        for key in reference:
            np.testing.assert_allclose(out[key], reference[key], rtol=1e-5, atol=1e-6)
        predictor.close()
        assert predictor._graph is None


def test_a_graph_that_cannot_be_captured_falls_back_with_a_warning(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(graphs, "capture", fail)
    recs = _recordings(tmp_path, [50, 20])
    predictor = Predictor(
        MeanModel(),
        sequence_windows=5,
        batch_sequences=4,
        device="cpu",
        cuda_graphs=True,
        tuning=STAGED,
    )
    with pytest.warns(RuntimeWarning, match="not permitted"):
        out = dict(predictor.predict(recs))
    assert not predictor.cuda_graphs
    expected = _expected_mean_probs(recs)
    for key in expected:
        np.testing.assert_allclose(out[key], expected[key], rtol=1e-5, atol=1e-6)
    predictor.close()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_staged_pipeline_is_exact_for_each_storage_dtype_when_compute_runs_late(monkeypatch, dtype):
    """float32 windows are used in place (no conversion copy): their device buffer may be
    refilled only after the model, not after the conversion."""
    monkeypatch.setattr(engine, "EmulatedQueues", SlowQueues(compute_s=0.004).cls)
    rng = np.random.default_rng(5)
    recs = [(f"r{i}", rng.normal(size=(60, 2, 3)).astype(dtype)) for i in range(4)]
    predictor = Predictor(
        MeanModel(), sequence_windows=5, batch_sequences=2, device="cpu", tuning=STAGED
    )
    out = dict(predictor.predict(recs))
    ring = predictor._ring
    assert ring.dev[0].dtype == (torch.float16 if dtype == np.float16 else torch.float32)
    for key, probs in _expected_mean_probs(recs).items():
        np.testing.assert_allclose(out[key], probs, rtol=1e-5, atol=1e-6)
    predictor.close()


def test_interleaved_calls_share_the_graph_and_stay_exact(tmp_path):
    recs = _recordings(tmp_path, [70, 45, 90, 33])
    kw = dict(sequence_windows=6, batch_sequences=2, device="cpu")
    expected = _expected_mean_probs(recs)
    predictor = Predictor(MeanModel(), cuda_graphs=True, tuning=staged(0.002), **kw)
    a, b = predictor.predict(recs), predictor.predict(list(reversed(recs)))
    out = [next(a), next(b)]
    for x, y in zip(a, b):
        out += [x, y]
    out += list(a) + list(b)
    assert len(out) == 8
    for key, probs in out:
        np.testing.assert_allclose(probs, expected[key], rtol=1e-5, atol=1e-6)
    predictor.close()


def test_staged_stream_can_be_abandoned_and_reused(tmp_path):
    recs = _recordings(tmp_path, [50] * 6)
    predictor = Predictor(
        MeanModel(), sequence_windows=10, batch_sequences=2, device="cpu", tuning=staged(0.002)
    )
    stream = predictor.predict(recs)
    next(stream)
    stream.close()  # queued work drained, nothing hangs
    out = dict(predictor.predict(recs))
    for key, probs in _expected_mean_probs(recs).items():
        np.testing.assert_allclose(out[key], probs, rtol=1e-5, atol=1e-6)
    predictor.close()


def test_engine_tuning_is_checked():
    with pytest.raises(ValueError, match="copy_ahead"):
        EngineTuning(copy_ahead=0)
    with pytest.raises(ValueError, match="max_launched must be >= 0.*jitter_s"):
        EngineTuning(max_launched=-1, jitter_s=-1.0)
    with pytest.raises(ValueError, match="prefetch"):
        EngineTuning(prefetch=1)
    assert Predictor(MeanModel(), sequence_windows=10, device="cpu").prefetch == 2
    tuned = Predictor(
        MeanModel(), sequence_windows=10, device="cpu", tuning=EngineTuning(prefetch=5)
    )
    assert tuned.prefetch == 5 and not tuned.staged
