"""The inference engine's staged path on a CUDA device: real streams and events.

Skipped without CUDA (the ``gpu`` marker). The same ordering runs on the CPU with emulated
queues in ``test_inference_engine.py``; here the CUDA queues must give the same numbers as
the plain CPU path, whatever the copies' lead over the model, with float16 windows read
from ``.npy`` files into pinned buffers and float32 windows (used in place on the device).
Batches of a few MB and a model of many small kernels make the host queue far ahead of the
device, so that a missing wait would show. Under a minute, most of it compiling the model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seizure.inference.engine import EngineTuning, Predictor

pytestmark = pytest.mark.gpu


class MeanModel(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).float().mean(-1)


class SlowMeanModel(MeanModel):
    """Many small kernels per batch, so that the host queues far ahead of the device."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(200):
            y = y * 1.0
        return super().forward(y)


def _recordings(root, dtype):
    rng = np.random.default_rng(0)
    out = []
    for i, n in enumerate([0, 7, 300, 301, 1000, 45, 2000, 12, 1500]):
        w = rng.normal(size=(n, 22, 128)).astype(dtype)
        np.save(root / f"{i}.npy", w)
        out.append((f"r{i}", np.load(root / f"{i}.npy", mmap_mode="r")))
    return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    return _recordings(tmp_path_factory.mktemp("rec16"), np.float16)


@pytest.fixture(scope="module")
def recordings32(tmp_path_factory):
    return _recordings(tmp_path_factory.mktemp("rec32"), np.float32)


@pytest.mark.parametrize("storage", ["float16", "float32"])
@pytest.mark.parametrize("model_cls", [MeanModel, SlowMeanModel])
@pytest.mark.parametrize("copy_ahead", [1, 3])
def test_cuda_stream_pipeline_matches_the_cpu(
    recordings, recordings32, storage, model_cls, copy_ahead
):
    recs = recordings if storage == "float16" else recordings32
    kw = dict(sequence_windows=10, context_windows=2, batch_sequences=64, amp=False)
    cpu = dict(Predictor(model_cls(), device="cpu", **kw).predict(recs))
    predictor = Predictor(
        model_cls(),
        device="cuda",
        compile="never",
        reader_threads=4,
        tuning=EngineTuning(copy_ahead=copy_ahead),
        **kw,
    )
    for _ in range(2):  # the second call reuses the buffers
        gpu = dict(predictor.predict(recs))
        for key, probs in cpu.items():
            np.testing.assert_allclose(gpu[key], probs, rtol=1e-5, atol=1e-6)
    assert predictor._ring.dev[0].dtype == getattr(torch, storage)
    stats = predictor.stats
    assert stats.windows == sum(len(w) for _, w in recs)
    assert 0 < stats.device_busy_s <= stats.device_span_s + 1e-6
    assert len(stats.timeline) == min(stats.batches, 64)
    predictor.close()


def test_cuda_graph_of_the_registry_model_matches_the_model(recordings):
    """The default CNN/LSTM (compiled encoder, cuDNN LSTM, bf16) captured as a CUDA graph
    gives what the same compiled model gives without one."""
    from seizure.models.config import ModelConfig
    from seizure.models.registry import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(), (22, 128)).eval()
    kw = dict(sequence_windows=10, batch_sequences=64, device="cuda", reader_threads=4)
    predictor = Predictor(model, **kw)  # compiled (the default on CUDA)
    plain = dict(predictor.predict(recordings))
    predictor.cuda_graphs = True
    graphed = dict(predictor.predict(recordings))
    assert predictor.cuda_graphs and predictor._graph is not None  # captured, not fallen back
    for key, probs in plain.items():
        np.testing.assert_allclose(graphed[key], probs, atol=1e-4)
    predictor.close()
