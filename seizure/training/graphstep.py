"""Full training batches as one replayed CUDA graph (``train.cuda_graph``).

At the paper's batch size (64 sequences of 7 windows) a training step is hundreds of small
kernel launches and the GPU idles between them. :class:`GraphTrainStep` captures the whole
step of a :class:`~seizure.training.step.TrainStep` (conversion, forward, loss, backward,
gradient clipping, the optimizer's update) once, on static device buffers, and replays it
for every full batch:

1. the batch is copied into the static input ``(x, y)``;
2. the learning rate the schedule set (a float in each parameter group, as in the eager
   step) is written into a static tensor that the captured optimizer reads;
3. the graph is replayed; its loss is the same tensor object every time (a copy is
   returned);
4. the scheduler steps on the host, as after the eager step.

Batches of another shape (a partial last batch) run the eager step.

Capture follows PyTorch's recipe for whole-network capture: warm-up steps on a side stream,
gradients set to None so that backward allocates them from the graph's pool, then
``torch.cuda.graph``. The warm-up steps start from a snapshot of the weights, buffers,
optimizer state and random generators, which is restored before capture, so the first
replay starts where the eager step would have. The first replayed loss is then compared
with the first warm-up loss (the eager step on the same batch from the same state); a
capture that fails, or differs by more than :data:`CHECK_RTOL`, restores the snapshot, gives
a ``RuntimeWarning`` and leaves the eager step in place for the rest of the run.

Two implementations of the capture: :class:`CudaCapture` (a CUDA graph) and
:class:`EmulatedCapture` (the CPU: each replay reruns the recorded step on the same static
buffers and writes its loss into the same static tensor), so that the bookkeeping around the
graph (copies in, the learning rate, the fallback) is tested without a GPU.

:func:`graph_unavailable` says when the graph cannot be used: not CUDA; several processes
(DDP reduces gradients in buckets from hooks outside a graph: the eager step is used);
``fp16`` (the GradScaler reads its inf check on the host); an optimizer other than Adam or
AdamW (their ``capturable`` update reads a tensor learning rate on the device; SGD's reads
it on the host).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from seizure.training.step import TrainStep

__all__ = [
    "CHECK_RTOL",
    "CudaCapture",
    "EmulatedCapture",
    "GraphTrainStep",
    "graph_unavailable",
    "make_train_step",
]

#: Largest relative difference between the first replayed loss and the eager loss of the
#: same batch from the same state. Both run the same kernels on the same data; they differ
#: only where a kernel reduces with atomics in a varying order (about 1e-6 relative in
#: fp32, a few bf16 roundings averaged over the batch in bf16).
CHECK_RTOL = 1e-3

#: Steps run before capture (cuDNN plans, the optimizer state, the allocator's pools).
WARMUP_STEPS = 3

Step = Callable[[], torch.Tensor]


class Capture(Protocol):
    """How a recorded step is warmed up, captured and replayed on a device."""

    #: Whether the optimizer runs with ``capturable=True`` and reads a tensor learning rate.
    capturable: bool

    def static_lr(self, value: float) -> torch.Tensor:
        """Return a static tensor holding one group's learning rate."""
        ...

    def optimizer_lr(self, static: torch.Tensor) -> float | torch.Tensor:
        """Return what the parameter group holds as ``lr`` while the recorded step runs."""
        ...

    def warm_up(self, step: Step, n: int) -> torch.Tensor:
        """Run ``step`` ``n`` times; return the first loss (a copy)."""
        ...

    def capture(self, step: Step) -> tuple[Callable[[], None], torch.Tensor, Any]:
        """Record ``step``; return ``(replay, static_loss, graph)``."""
        ...


class CudaCapture:
    """Warm-up on a side stream, then ``torch.cuda.graph`` (PyTorch's whole-network recipe).

    Parameters
    ----------
    device : torch.device
        A CUDA device.
    """

    capturable = True

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def static_lr(self, value: float) -> torch.Tensor:
        """Return a float32 scalar on the device (what the fused/capturable Adam reads)."""
        return torch.tensor(value, dtype=torch.float32, device=self.device)

    def optimizer_lr(self, static: torch.Tensor) -> float | torch.Tensor:
        """Return the static tensor itself: the captured update reads it at every replay."""
        return static

    def warm_up(self, step: Step, n: int) -> torch.Tensor:
        """Run ``step`` ``n`` times on a side stream; return the first loss."""
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            first = step().clone()
            for _ in range(n - 1):
                step()
        current.wait_stream(side)
        return first

    def capture(self, step: Step) -> tuple[Callable[[], None], torch.Tensor, Any]:
        """Capture ``step`` into a CUDA graph (nothing runs until a replay)."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            static_loss = step()
        return graph.replay, static_loss, graph


class EmulatedCapture:
    """The CPU stand-in: a replay reruns the recorded step on the same static buffers.

    The learning rate is read from its static tensor (float64, so that it equals the float
    the eager step uses) when the step runs; the loss is written into one static tensor.
    """

    capturable = False

    def static_lr(self, value: float) -> torch.Tensor:
        """Return a float64 scalar on the CPU."""
        return torch.tensor(value, dtype=torch.float64)

    def optimizer_lr(self, static: torch.Tensor) -> float | torch.Tensor:
        """Return the value of the static tensor now (read at each replay)."""
        return float(static)

    def warm_up(self, step: Step, n: int) -> torch.Tensor:
        """Run ``step`` ``n`` times; return the first loss."""
        first = step().clone()
        for _ in range(n - 1):
            step()
        return first

    def capture(self, step: Step) -> tuple[Callable[[], None], torch.Tensor, Any]:
        """Return a replay that reruns ``step`` and writes its loss into one static tensor."""
        static_loss = torch.zeros(())

        def replay() -> None:
            static_loss.copy_(step())

        return replay, static_loss, None


@dataclass
class _Snapshot:
    """Weights, buffers, optimizer state and generators, to undo the warm-up steps."""

    tensors: list[torch.Tensor]
    saved: list[torch.Tensor]
    optimizer_saved: dict[int, torch.Tensor]
    rng: torch.Tensor
    cuda_rng: torch.Tensor | None
    device: torch.device

    @classmethod
    def take(
        cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
    ) -> _Snapshot:
        """Copy everything a training step changes."""
        tensors = [*model.parameters(), *model.buffers()]
        optimizer_saved = {
            id(v): v.detach().clone()
            for state in optimizer.state.values()
            for v in state.values()
            if isinstance(v, torch.Tensor)
        }
        cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        return cls(tensors, [t.detach().clone() for t in tensors], optimizer_saved,
                   torch.get_rng_state(), cuda_rng, device)  # fmt: skip

    def restore(self, optimizer: torch.optim.Optimizer) -> None:
        """Write the copies back in place; optimizer state made since is zeroed (fresh Adam)."""
        with torch.no_grad():
            for t, saved in zip(self.tensors, self.saved):
                t.copy_(saved)
            for state in optimizer.state.values():
                for v in state.values():
                    if isinstance(v, torch.Tensor):
                        saved = self.optimizer_saved.get(id(v))
                        v.copy_(saved) if saved is not None else v.zero_()
        torch.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state(self.cuda_rng, self.device)


def graph_unavailable(
    device: torch.device, precision: str, optimizer: str, distributed: bool
) -> str | None:
    """Why the training step cannot be captured here, or None when it can.

    Parameters
    ----------
    device : torch.device
    precision : {'fp32', 'bf16', 'fp16'}
        The resolved ``train.precision``.
    optimizer : {'adam', 'adamw', 'sgd'}
        ``train.optimizer``.
    distributed : bool
        Whether the step runs under DDP.

    Returns
    -------
    str or None
    """
    if device.type != "cuda":
        return "no CUDA device"
    if distributed:
        return "several processes (DDP reduces gradients outside a graph)"
    if precision == "fp16":
        return "fp16 (the gradient scaler checks for inf on the host); use bf16"
    if optimizer not in ("adam", "adamw"):
        return f"optimizer {optimizer!r} (only adam and adamw update from a device lr)"
    return None


class GraphTrainStep:
    """A :class:`~seizure.training.step.TrainStep` whose full batches replay a captured graph.

    Parameters
    ----------
    eager : TrainStep
        The step it captures, and runs for batches of another shape and after a fallback.
        Its scaler must be disabled (bf16/fp32).
    capture : CudaCapture or EmulatedCapture
        How the step is recorded and replayed.
    device : torch.device
        Where the static buffers live (the model's device).
    warmup_steps : int
        Steps run (and undone) before capture.

    Attributes
    ----------
    captured : bool
        Whether full batches replay the graph.
    failed : str or None
        Why capture was given up, after a fallback.
    """

    def __init__(
        self,
        eager: TrainStep,
        capture: Capture,
        device: torch.device,
        warmup_steps: int = WARMUP_STEPS,
    ) -> None:
        if eager.scaler.is_enabled():
            raise ValueError("a captured step cannot use a GradScaler (fp16); use bf16")
        self.eager, self.cap, self.device = eager, capture, device
        self.warmup_steps = warmup_steps
        self.captured = False
        self.failed: str | None = None
        self.static_x: torch.Tensor | None = None
        self.static_y: torch.Tensor | None = None
        self._lrs: list[torch.Tensor] = []
        self._written: list[float] = []
        self._replay: Callable[[], None] | None = None
        self._loss: torch.Tensor | None = None
        self._graph: Any = None

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Take one optimizer step on a batch; return its loss (a device scalar, a copy)."""
        if self.failed is not None:
            return self.eager(x, y)
        if not self.captured:  # the first batch: capture for its shape
            return self._capture_on(x, y)
        if not self._fits(x, y):
            return self.eager(x, y)
        self._copy_in(x, y)
        self._write_lr()
        assert self._replay is not None and self._loss is not None
        self._replay()
        if self.eager.scheduler is not None:
            self.eager.scheduler.step()
        return self._loss.clone()

    # ---------------------------------------------------------------- pieces of a step

    def _fits(self, x: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether the batch has the static buffers' shapes, dtypes and device."""
        sx, sy = self.static_x, self.static_y
        assert sx is not None and sy is not None
        return (x.shape == sx.shape and x.dtype == sx.dtype and x.device == sx.device
                and y.shape == sy.shape and y.dtype == sy.dtype)  # fmt: skip

    def _copy_in(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Copy the batch into the static input."""
        assert self.static_x is not None and self.static_y is not None
        self.static_x.copy_(x, non_blocking=True)
        self.static_y.copy_(y, non_blocking=True)

    def _write_lr(self) -> None:
        """Write each group's learning rate (as the schedule set it) into its static tensor."""
        for i, group in enumerate(self.eager.optimizer.param_groups):
            lr = float(group["lr"])
            if lr != self._written[i]:
                self._lrs[i].fill_(lr)
                self._written[i] = lr

    @contextlib.contextmanager
    def _static_lr(self) -> Iterator[None]:
        """While the recorded step runs, the optimizer reads the static learning rates."""
        groups = self.eager.optimizer.param_groups
        saved = [(g["lr"], g.get("capturable", False)) for g in groups]
        try:
            for g, static in zip(groups, self._lrs):
                g["lr"] = self.cap.optimizer_lr(static)
                if self.cap.capturable:
                    g["capturable"] = True
            yield
        finally:
            for g, (lr, capturable) in zip(groups, saved):
                g["lr"] = lr
                if "capturable" in g:
                    g["capturable"] = capturable

    def _recorded_step(self) -> torch.Tensor:
        """Run the captured step: on the static buffers, without scaler or scheduler."""
        eager = self.eager
        assert self.static_x is not None and self.static_y is not None
        eager.optimizer.zero_grad(set_to_none=True)  # backward allocates (from the graph's pool)
        loss = eager.loss_of(self.static_x, self.static_y)
        loss.backward()
        eager.clip_gradients()
        with self._static_lr():
            eager.optimizer.step()
        return loss.detach()

    # ---------------------------------------------------------------- capture

    def _capture_on(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Capture on the first batch and take its step by a replay; fall back on failure."""
        eager = self.eager
        self.static_x = torch.empty_like(x, device=self.device)
        self.static_y = torch.empty_like(y, device=self.device)
        self._lrs = [self.cap.static_lr(float(g["lr"])) for g in eager.optimizer.param_groups]
        self._written = [float(g["lr"]) for g in eager.optimizer.param_groups]
        snapshot = None
        saved_stream = torch.cuda.current_stream(self.device) if self.cap.capturable else None
        try:
            snapshot = _Snapshot.take(eager.model, eager.optimizer, self.device)
            self._copy_in(x, y)
            reference = self.cap.warm_up(self._recorded_step, self.warmup_steps)
            snapshot.restore(eager.optimizer)
            eager.optimizer.zero_grad(set_to_none=True)
            self._replay, self._loss, self._graph = self.cap.capture(self._recorded_step)
            self._replay()
            _check(self._loss, reference)
        except Exception as err:  # any failure: the eager step from the state before
            return self._fall_back(err, snapshot, saved_stream, x, y)
        self.captured = True
        if eager.scheduler is not None:
            eager.scheduler.step()
        return self._loss.clone()

    def _fall_back(
        self,
        err: Exception,
        snapshot: _Snapshot | None,
        saved_stream: Any,
        x: torch.Tensor,
        y: torch.Tensor,
    ) -> torch.Tensor:
        """Undo what capture did, warn, and take this batch's step eagerly."""
        if saved_stream is not None:
            # a failed capture can leave its capture stream current
            torch.cuda.set_stream(saved_stream)
            torch.cuda.synchronize(self.device)
        if snapshot is not None:
            snapshot.restore(self.eager.optimizer)
        self.eager.optimizer.zero_grad(set_to_none=True)
        self.failed = f"{type(err).__name__}: {err}"
        self._replay = self._loss = self._graph = None
        warnings.warn(
            f"CUDA graph of the training step not used ({self.failed}); running the step normally",
            RuntimeWarning,
            stacklevel=3,
        )
        return self.eager(x, y)


def _check(loss: torch.Tensor, reference: torch.Tensor) -> None:
    """Raise unless the replayed loss equals the eager one within :data:`CHECK_RTOL`."""
    a, b = float(loss), float(reference)
    if not abs(a - b) <= CHECK_RTOL * abs(b):
        raise RuntimeError(f"the captured step's loss {a:.6g} differs from the eager {b:.6g}")


def make_train_step(
    eager: TrainStep,
    mode: str | bool,
    device: torch.device,
    precision: str,
    optimizer: str,
    distributed: bool,
    log: Callable[[str], None],
) -> TrainStep | GraphTrainStep:
    """Return the step ``seizure train`` runs, as ``train.cuda_graph`` says.

    Parameters
    ----------
    eager : TrainStep
    mode : {'auto', True, False}
        ``auto``: the graph where it can be used; True: the same, and a note when it
        cannot; False: the eager step.
    device : torch.device
    precision : {'fp32', 'bf16', 'fp16'}
        The resolved precision.
    optimizer : str
        ``train.optimizer``.
    distributed : bool
    log : callable
        Receives the note.

    Returns
    -------
    TrainStep or GraphTrainStep
    """
    if mode is False:
        return eager
    reason = graph_unavailable(device, precision, optimizer, distributed)
    if reason is not None:
        if mode is True or device.type == "cuda":
            name = "true" if mode is True else mode
            log(f"note: train.cuda_graph={name}: the training step is not captured ({reason})")
        return eager
    return GraphTrainStep(eager, CudaCapture(device), device)
