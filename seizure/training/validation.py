"""Validation during training: logits for every window of a split, and their loss.

The sequences are tiled by :func:`seizure.training.data.eval_plan` (which uses the inference
layer's ``plan_sequences``), so validation sees each window as ``seizure evaluate`` does.

Under ``torchrun`` the ranks share the work (:func:`shard_plan`): each runs a contiguous
range of the plan's batches (the same batches a single process runs, so the same outputs)
and every ``world_size``-th short recording, with rank 0's BatchNorm statistics. The kept
outputs of the plan cover every window exactly once, so summing the ranks' logit arrays
(zero where a rank wrote nothing) puts each window's logit, bit for bit, on every rank: the
probabilities and the loss equal those of one process validating everything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from seizure.training.data import EvalPlan, SplitData, to_float
from seizure.training.distributed import DistInfo, all_reduce_sum, sync_buffers

__all__ = ["shard_plan", "validate"]


def shard_plan(plan: EvalPlan, rank: int, world_size: int) -> EvalPlan:
    """Return the part of ``plan`` that rank ``rank`` of ``world_size`` validates.

    Parameters
    ----------
    plan : EvalPlan
        The whole split's plan (whole batches of ``plan.batch_size`` sequences).
    rank, world_size : int
        This rank and the number of ranks.

    Returns
    -------
    EvalPlan
        Batches ``[len(plan) * rank // world_size, len(plan) * (rank + 1) // world_size)``
        of ``plan`` (contiguous, batch boundaries kept) and the short recordings
        ``plan.short[rank::world_size]``. The shards of all ranks partition the plan.
    """
    n = len(plan)
    lo = n * rank // world_size * plan.batch_size
    hi = n * (rank + 1) // world_size * plan.batch_size
    return EvalPlan(
        plan.rec[lo:hi],
        plan.start[lo:hi],
        plan.keep_from[lo:hi],
        plan.short[rank::world_size],
        plan.batch_size,
    )


def validate(
    model: torch.nn.Module,
    data: SplitData,
    feeder: Any,
    plan: EvalPlan,
    device: torch.device,
    autocast: Callable[[], Any],
    scale: float | None = None,
    info: DistInfo | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """Logits for every window of a split.

    Parameters
    ----------
    model : torch.nn.Module
        The bare model (not a DDP wrapper); put in eval mode.
    data : SplitData
        The split validated.
    feeder : ThreadFeeder, ResidentFeeder or LoaderFeeder
        Yields ``(x, y)`` batches of a plan on ``device``.
    plan : EvalPlan
        The whole split's plan; under ``torchrun`` each rank runs its :func:`shard_plan`.
    device : torch.device
        Where the model runs.
    autocast : callable
        Returns the autocast context of the training precision.
    scale : float, optional
        Multiplies the stored windows (int16 caches).
    info : DistInfo, optional
        This process's rank; with several ranks this is a collective (every rank must call
        it) and every rank returns the whole split's result.

    Returns
    -------
    probabilities : dict
        Recording id -> float32 ictal probability per window.
    labels : dict
        Recording id -> uint8 label per window.
    loss : float
        Mean (unweighted) binary cross-entropy over all windows.
    """
    sharded = info is not None and info.distributed
    if sharded:
        sync_buffers(model, info)
        plan = shard_plan(plan, info.rank, info.world_size)
    model.eval()
    offsets = np.r_[0, np.cumsum(data.lengths)].astype(np.int64)
    flat = np.zeros(int(offsets[-1]), dtype=np.float32)
    _fill_logits(model, data, feeder, plan, device, autocast, scale,
                 [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])])  # fmt: skip
    if sharded:
        flat = all_reduce_sum(flat, info)
    logits = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    total, count = 0.0, 0
    probs, labels = {}, {}
    for rid, z, y in zip(data.ids, logits, data.labels):
        yf = y.astype(np.float64)
        zf = z.astype(np.float64)
        total += float(np.sum(np.maximum(zf, 0) - zf * yf + np.log1p(np.exp(-np.abs(zf)))))
        count += len(y)
        probs[rid] = (1.0 / (1.0 + np.exp(-zf))).astype(np.float32)
        labels[rid] = np.asarray(y, dtype=np.uint8)
    return probs, labels, total / count if count else math.nan


@torch.inference_mode()
def _fill_logits(
    model: torch.nn.Module,
    data: SplitData,
    feeder: Any,
    plan: EvalPlan,
    device: torch.device,
    autocast: Callable[[], Any],
    scale: float | None,
    logits: list[np.ndarray],
) -> None:
    """Write the kept logits of ``plan``'s sequences and short recordings into ``logits``."""
    T = feeder.T
    for i, (x, _) in enumerate(feeder.iterate(plan)):
        with autocast():
            out = model(to_float(x, scale))
        out = out.float().cpu().numpy()
        lo = i * plan.batch_size
        for j in range(out.shape[0]):
            r, s, k = int(plan.rec[lo + j]), int(plan.start[lo + j]), int(plan.keep_from[lo + j])
            logits[r][s + k : s + T] = out[j, k:]
    for r in plan.short:
        x = torch.from_numpy(np.array(data.windows[r]))[None].to(device)
        with autocast():
            logits[r][:] = model(to_float(x, scale)).float().cpu().numpy()[0]
