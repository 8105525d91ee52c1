"""The captured training step (``train.cuda_graph``), on the CPU through its emulation.

:class:`~seizure.training.graphstep.EmulatedCapture` replays the recorded step on the same
static buffers, so these tests check the bookkeeping around the graph: the batch copied in,
the scheduled learning rate written per step, the warm-up undone, partial batches and
failures on the eager step. The default model (BatchNorm, dropout, Gaussian noise) makes the
buffers and the random generators part of what must match. In fp32 on the CPU the two
steps run the same operations in the same order, so they agree exactly.
"""

from __future__ import annotations

import pytest
import torch

from seizure.config import ConfigError, load_config
from seizure.training.config import RESUMABLE_KEYS
from seizure.training.graphstep import (
    EmulatedCapture,
    GraphTrainStep,
    graph_unavailable,
    make_train_step,
)
from seizure.training.step import TrainStep, build_optimizer, lr_lambda, setup_model

B, T, SHAPE = 3, 7, (4, 32)
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: this small model is many times faster so on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


OVERRIDES = [
    "model.regularization.l2=0.0001",
    "train.schedule=cosine",
    "train.warmup_steps=3",
    "train.epochs=1",
    "train.grad_clip_norm=0.5",
    "train.precision=fp32",
]


def make_step(seed: int = 0, overrides: tuple[str, ...] = ()) -> TrainStep:
    """The eager step of the default model, Adam and a warmup + cosine schedule."""
    config = load_config(overrides=OVERRIDES + list(overrides))
    torch.manual_seed(seed)
    model, net, regularizer, registry = setup_model(config, SHAPE, CPU)
    optimizer = build_optimizer(model, config, CPU, registry)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config.train, 10))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return TrainStep(model, net, optimizer, scheduler, scaler, config, 3.0, CPU, "fp32",
                     regularizer, scale=0.5)  # fmt: skip


def batches(n: int, batch: int = B, seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` batches of float16 windows and uint8 labels."""
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, T, *SHAPE, generator=g).mul(20).half(),
         (torch.rand(batch, T, generator=g) < 0.3).to(torch.uint8))
        for _ in range(n)
    ]  # fmt: skip


def run(step, data, seed: int = 5) -> list[torch.Tensor]:
    """The losses of ``step`` over ``data`` (the generators seeded first, as a run does)."""
    torch.manual_seed(seed)
    step.model.train() if isinstance(step, TrainStep) else step.eager.model.train()
    return [step(x, y) for x, y in data]


def state_of(step: TrainStep) -> list[torch.Tensor]:
    """Weights, buffers and optimizer state, in a fixed order."""
    tensors = [t.detach().clone() for t in step.model.state_dict().values()]
    for group in step.optimizer.param_groups:
        for p in group["params"]:
            tensors += [v.clone() for v in step.optimizer.state[p].values()]
    return tensors


def assert_same(eager: TrainStep, graph: GraphTrainStep, le: list, lg: list) -> None:
    assert torch.equal(torch.stack(le), torch.stack(lg))
    for a, b in zip(state_of(eager), state_of(graph.eager), strict=True):
        assert torch.equal(a, b)
    assert eager.optimizer.param_groups[0]["lr"] == graph.eager.optimizer.param_groups[0]["lr"]


def test_emulated_graph_step_equals_the_eager_step_exactly():
    data = batches(7)
    eager, graph = make_step(), GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    le, lg = run(eager, data), run(graph, data)
    assert graph.captured and graph.failed is None
    assert_same(eager, graph, le, lg)


def test_not_undoing_the_warm_up_is_caught(monkeypatch):
    """Mutation: without the snapshot restored, capture starts three steps ahead.

    The first-loss check at capture sees it (and falls back, from the wrong state).
    """
    from seizure.training import graphstep

    data = batches(2)
    eager, graph = make_step(), GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    monkeypatch.setattr(graphstep._Snapshot, "restore", lambda self, optimizer: None)
    with pytest.warns(RuntimeWarning, match="differs from the eager"):
        lg = run(graph, data)
    le = run(eager, data)
    assert not graph.captured and not torch.equal(torch.stack(le), torch.stack(lg))


def test_outputs_are_static_and_the_returned_loss_is_a_copy():
    data = batches(3)
    graph = GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    losses = run(graph, data)
    static, static_x = graph._loss, graph.static_x
    losses.append(graph(*data[0]))
    assert graph._loss is static and graph.static_x is static_x  # same objects every replay
    assert torch.equal(static_x, data[0][0])  # the last batch was copied in
    assert all(loss is not static for loss in losses)
    assert len({float(v) for v in losses}) == len(losses)  # earlier copies were not overwritten


def test_the_scheduled_learning_rate_is_applied_at_every_step():
    seen: list[float] = []
    graph = GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    graph.eager.optimizer.register_step_pre_hook(
        lambda optimizer, args, kwargs: seen.append(optimizer.param_groups[0]["lr"])
    )
    run(graph, batches(6))
    factor = lr_lambda(graph.eager.config.train, 10)
    expected = [1e-3 * factor(i) for i in range(6)]
    # three warm-up steps at step 0's rate (undone), then one replay per batch
    assert seen == pytest.approx([expected[0]] * 3 + expected, rel=1e-12)


def test_a_partial_batch_runs_the_eager_step_and_full_batches_keep_replaying():
    data = batches(3) + batches(1, batch=B - 1, seed=2) + batches(2, seed=3)
    eager, graph = make_step(), GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    calls: list[int] = []
    inner = graph.eager.__class__.__call__

    class Counting(TrainStep):
        def __call__(self, x, y):
            calls.append(x.shape[0])
            return inner(self, x, y)

    graph.eager.__class__ = Counting
    le, lg = run(eager, data), run(graph, data)
    assert calls == [B - 1] and graph.captured
    assert_same(eager, graph, le, lg)


class _Failing(EmulatedCapture):
    def capture(self, step):
        raise RuntimeError("capture refused")


class _Wrong(EmulatedCapture):
    def capture(self, step):
        replay, loss, graph = super().capture(step)

        def wrong() -> None:
            replay()
            loss.mul_(1.5)

        return wrong, loss, graph


@pytest.mark.parametrize("capture", [_Failing(), _Wrong()], ids=["raises", "differs"])
def test_a_failed_or_wrong_capture_falls_back_to_the_eager_step_with_a_warning(capture):
    data = batches(4)
    eager, graph = make_step(), GraphTrainStep(make_step(), capture, CPU)
    with pytest.warns(RuntimeWarning, match="CUDA graph of the training step not used"):
        lg = run(graph, data)
    le = run(eager, data)
    assert not graph.captured and graph.failed
    # the warm-up (and the wrong replay) were undone: the run is the eager run
    assert_same(eager, graph, le, lg)


def test_not_copying_the_batch_in_is_caught(monkeypatch):
    """Mutation: replays that keep the first batch give other losses and weights."""
    data = batches(4)
    eager, graph = make_step(), GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    copy_in = GraphTrainStep._copy_in

    def first_only(self, x, y):
        if not self.captured:
            copy_in(self, x, y)

    monkeypatch.setattr(GraphTrainStep, "_copy_in", first_only)
    le, lg = run(eager, data), run(graph, data)
    assert torch.equal(le[0], lg[0]) and not torch.equal(torch.stack(le), torch.stack(lg))


def test_not_writing_the_learning_rate_is_caught(monkeypatch):
    """Mutation: replays at the capture-time learning rate give other weights."""
    data = batches(5)
    eager, graph = make_step(), GraphTrainStep(make_step(), EmulatedCapture(), CPU)
    monkeypatch.setattr(GraphTrainStep, "_write_lr", lambda self: None)
    run(eager, data), run(graph, data)
    assert not all(torch.equal(a, b) for a, b in zip(state_of(eager), state_of(graph.eager)))


def test_a_gradient_scaler_is_refused():
    step = make_step()
    step.scaler = torch.amp.GradScaler("cpu", enabled=True)
    with pytest.raises(ValueError, match="GradScaler"):
        GraphTrainStep(step, EmulatedCapture(), CPU)


def test_where_the_graph_is_not_used():
    cuda = torch.device("cuda", 0)
    assert graph_unavailable(cuda, "bf16", "adam", False) is None
    assert graph_unavailable(cuda, "fp32", "adamw", False) is None
    assert "CUDA" in graph_unavailable(CPU, "fp32", "adam", False)
    assert "DDP" in graph_unavailable(cuda, "bf16", "adam", True)
    assert "fp16" in graph_unavailable(cuda, "fp16", "adam", False)
    assert "sgd" in graph_unavailable(cuda, "bf16", "sgd", False)
    notes: list[str] = []
    eager = make_step()
    for mode in (False, "auto"):
        assert make_train_step(eager, mode, CPU, "fp32", "adam", False, notes.append) is eager
    assert not notes  # no note on a CPU unless asked for
    assert make_train_step(eager, True, CPU, "fp32", "adam", False, notes.append) is eager
    assert notes == ["note: train.cuda_graph=true: the training step is not captured "
                     "(no CUDA device)"]  # fmt: skip


def test_the_key_is_checked_and_may_change_on_resume():
    assert load_config().train.cuda_graph is False  # opt-in until measured on a GPU
    # YAML reads on/off as booleans: true/false (and on/off) are the switch
    for value, expected in (("off", False), ("false", False), ("true", True), ("auto", "auto")):
        assert load_config(overrides=[f"train.cuda_graph={value}"]).train.cuda_graph == expected
    with pytest.raises(ConfigError, match="cuda_graph"):
        load_config(overrides=["train.cuda_graph=always"])
    assert "cuda_graph" in RESUMABLE_KEYS


def test_training_with_the_emulated_graph_equals_eager_training(tmp_path, monkeypatch):
    """The loop around the step: static losses summed and checked, the schedule, checkpoints."""
    from seizure.training import setup
    from seizure.training.checkpoint import load_checkpoint
    from seizure.training.fakes import write_random_cache
    from seizure.training.loop import train

    cache = write_random_cache(tmp_path / "cache", splits={"train": 4, "dev": 1},
                               windows_per_recording=48)  # fmt: skip
    config = load_config(overrides=[
        "preprocess.sample_rate_hz=32", "preprocess.bandpass_hz=null", "preprocess.notch_hz=null",
        "train.epochs=2", "train.batch_size=2", "train.sequence_windows=8",
        "train.schedule=cosine", "train.warmup_steps=2", "train.progress=false",
        "train.feeder=threads", "train.num_workers=1",
    ])  # fmt: skip
    eager = train(config, cache, tmp_path / "eager", device="cpu", log=lambda m: None)
    made: list[GraphTrainStep] = []

    def emulated(eager_step, mode, device, *args):
        made.append(GraphTrainStep(eager_step, EmulatedCapture(), device))
        return made[-1]

    monkeypatch.setattr(setup, "make_train_step", emulated)
    graph = train(config, cache, tmp_path / "graph", device="cpu", log=lambda m: None)
    assert made and made[0].captured
    assert [r["train_loss"] for r in eager.history] == [r["train_loss"] for r in graph.history]
    a, b = (load_checkpoint(tmp_path / d / "last.pt") for d in ("eager", "graph"))
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
