"""The captured training step on a CUDA device against the eager step (``train.cuda_graph``).

Skipped without CUDA (the ``gpu`` marker); a few seconds on one GPU.

The default model at the paper's batch (64 sequences of 7 windows of 22 x 256), Adam with a
warmup + cosine schedule, gradient clipping, an L2 penalty and dropout: 20 steps of the
eager :class:`~seizure.training.step.TrainStep` and of the replayed graph from the same
weights, data and random generators (one partial batch among them, run eagerly by both).

Tolerances: with cuDNN in deterministic mode both run the same kernels on the same data and
the graph's random numbers come from the same Philox offsets as the eager step's, so they
differ only where a kernel reduces in another order (cuBLAS may pick another split under
capture). In fp32 that is about 1e-6 relative per step; Adam then moves every weight by
about ``lr`` whatever its gradient's size, so a near-zero gradient of flipped sign moves a
weight by up to 2 ``lr``, and over 20 steps the losses drift apart by far less than 1e-3
relative. In bf16 each such difference is rounded to 8 bits of mantissa (4e-3 relative),
hence 2e-2 on the losses. Weights: no element may differ by more than Adam's bound
(``lr`` per step, twice for a flipped sign), and the mean difference must stay below
``lr / 4``, which a skipped or repeated update (about ``lr`` on most elements) exceeds.
"""

from __future__ import annotations

import pytest
import torch

from seizure.config import load_config
from seizure.training.graphstep import CudaCapture, GraphTrainStep
from seizure.training.step import TrainStep, build_optimizer, lr_lambda, setup_model

pytestmark = pytest.mark.gpu

B, T, SHAPE, STEPS, LR = 64, 7, (22, 256), 20, 1e-3
RTOL = {"fp32": 1e-3, "bf16": 2e-2}


def make_step(precision: str, device: torch.device) -> TrainStep:
    config = load_config(overrides=[
        "model.regularization.l2=0.0001", "train.schedule=cosine", "train.warmup_steps=5",
        "train.epochs=1", "train.grad_clip_norm=1.0", f"train.learning_rate={LR}",
    ])  # fmt: skip
    torch.manual_seed(0)
    model, net, regularizer, registry = setup_model(config, SHAPE, device)
    optimizer = build_optimizer(model, config, device, registry)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config.train, STEPS))
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return TrainStep(model, net, optimizer, scheduler, scaler, config, 5.0, device, precision,
                     regularizer)  # fmt: skip


def losses_of(step, data, seed: int = 3) -> torch.Tensor:
    torch.manual_seed(seed)
    torch.cuda.manual_seed(seed)
    out = torch.stack([step(x, y) for x, y in data])
    torch.cuda.synchronize()
    return out.cpu()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_captured_step_equals_eager_on_cuda(precision, monkeypatch):
    device = torch.device("cuda", 0)
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    g = torch.Generator(device=device).manual_seed(1)
    data = []
    for i in range(STEPS):
        b = B - 5 if i == 10 else B  # one partial batch: the eager step in both runs
        x = torch.randn(b, T, *SHAPE, device=device, generator=g).mul(20).half()
        y = (torch.rand(b, T, device=device, generator=g) < 0.1).to(torch.uint8)
        data.append((x, y))
    eager = make_step(precision, device)
    graph = GraphTrainStep(make_step(precision, device), CudaCapture(device), device)
    le, lg = losses_of(eager, data), losses_of(graph, data)
    assert graph.captured and graph.failed is None
    assert torch.isfinite(le).all()
    torch.testing.assert_close(lg, le, rtol=RTOL[precision], atol=0)
    for (name, a), b in zip(eager.model.named_parameters(), graph.eager.model.parameters()):
        diff = (a.detach() - b.detach()).abs().float()
        assert float(diff.max()) <= 2 * LR * STEPS, name
        assert float(diff.mean()) <= LR / 4, name
    for group_e, group_g in zip(eager.optimizer.param_groups, graph.eager.optimizer.param_groups):
        assert group_e["lr"] == group_g["lr"] and group_g["capturable"] is False
