"""The model of full batches as one captured CUDA graph (``evaluate.cuda_graphs``).

A captured graph replays the model's hundreds of kernel launches as one launch per batch. It
is fed by a device-to-device copy into its static input, captured once per window format,
and checked at capture against the model run normally (the engine falls back to the model,
with a warning, on any failure). On the CPU (emulated device queues, in tests) the "graph"
runs the model on the same static buffers, so that the engine's bookkeeping around it is
tested without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["CapturedModel", "capture"]

#: Largest difference allowed between the replayed graph and the model (probabilities).
CAPTURE_TOLERANCE = 1e-4


@dataclass
class CapturedModel:
    """The model of full batches, captured.

    Attributes
    ----------
    key : tuple
        ``(dtype, window_shape)`` of the windows it was captured for.
    static_in : torch.Tensor, shape (batch_sequences * sequence_windows, *window_shape)
        The windows, in their storage dtype: written before each :attr:`replay`.
    static_out : torch.Tensor, shape (batch_sequences, sequence_windows)
        The probabilities (float32) computed by :attr:`replay`.
    replay : callable
        Computes ``static_out`` from ``static_in`` (on CUDA: queued on the current stream).
    graph : torch.cuda.CUDAGraph or None
        Kept alive with the buffers it uses.
    """

    key: tuple
    static_in: torch.Tensor
    static_out: torch.Tensor
    replay: Callable[[], None]
    graph: Any = None


def capture(
    forward: Callable[[torch.Tensor], torch.Tensor],
    *,
    device: torch.device,
    batch_sequences: int,
    sequence_windows: int,
    dtype: torch.dtype,
    shape: tuple[int, ...],
    stream: Any = None,
) -> CapturedModel:
    """Capture ``forward`` on full batches as a CUDA graph and check it.

    Parameters
    ----------
    forward : callable
        Probabilities ``(B, L)`` float32 of windows ``(B, L, *shape)`` in storage dtype.
    device : torch.device
        Where the model runs.
    batch_sequences, sequence_windows : int
        ``B`` and ``L``.
    dtype : torch.dtype
        Storage dtype of the windows.
    shape : tuple of int
        Window shape.
    stream : torch.cuda.Stream, optional
        CUDA: the stream the graph is ordered on (the engine's compute stream).

    Returns
    -------
    CapturedModel

    Raises
    ------
    RuntimeError
        The replayed graph and the model differ by more than :data:`CAPTURE_TOLERANCE` (or
        capture itself failed).
    """
    B, L = batch_sequences, sequence_windows
    key = (dtype, shape)
    if device.type != "cuda":
        static_in = torch.zeros((B * L, *shape), dtype=dtype, device=device)
        static_out = torch.zeros((B, L), dtype=torch.float32)
        x = static_in.view(B, L, *shape)

        def replay() -> None:
            with torch.inference_mode():
                static_out.copy_(forward(x))

        return CapturedModel(key, static_in, static_out, replay)
    # the buffers are made, and the graph captured, on the stream it will be ordered on
    with torch.cuda.device(device), torch.cuda.stream(stream or torch.cuda.current_stream(device)):
        static_in = torch.zeros((B * L, *shape), dtype=dtype, device=device)
        x = static_in.view(B, L, *shape)
        with torch.inference_mode():
            graph, static_out = _capture_cuda(forward, x, device)
            _check(forward, graph, static_in, static_out, x, device)
    return CapturedModel(key, static_in, static_out, graph.replay, graph)


def _capture_cuda(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, device: torch.device
) -> tuple[Any, torch.Tensor]:
    """Warm up on a side stream (compilation, cuDNN plans), then capture ``forward(x)``."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(2):
            forward(x)
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    # thread_local: the reader threads of another open predict() may query events
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        static_out = forward(x)
    return graph, static_out


def _check(
    forward: Callable[[torch.Tensor], torch.Tensor],
    graph: Any,
    static_in: torch.Tensor,
    static_out: torch.Tensor,
    x: torch.Tensor,
    device: torch.device,
) -> None:
    """Replay on random windows and compare with the model run normally on the same."""
    dtype = static_in.dtype
    sample = torch.randn(static_in.shape, device=device).mul_(20)
    static_in.copy_(sample.to(dtype) if dtype.is_floating_point else sample.round().to(dtype))
    graph.replay()
    expected = forward(x)
    error = float((static_out - expected).abs().max())
    if not error <= CAPTURE_TOLERANCE:
        raise RuntimeError(f"the captured model differs from the model by {error:.2e}")
    torch.cuda.synchronize(device)
