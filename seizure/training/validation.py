"""Validation during training: logits for every window of a split, and their loss.

The sequences are tiled by :func:`seizure.training.data.eval_plan` (which uses the inference
layer's ``plan_sequences``), so validation sees each window as ``seizure evaluate`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from seizure.training.data import EvalPlan, SplitData, to_float

__all__ = ["validate"]


@torch.inference_mode()
def validate(
    model: torch.nn.Module,
    data: SplitData,
    feeder: Any,
    plan: EvalPlan,
    device: torch.device,
    autocast: Callable[[], Any],
    scale: float | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """Logits for every window of a split.

    Returns
    -------
    probabilities : dict
        Recording id -> float32 ictal probability per window.
    labels : dict
        Recording id -> uint8 label per window.
    loss : float
        Mean (unweighted) binary cross-entropy over all windows.
    """
    model.eval()
    logits = [np.zeros(n, dtype=np.float32) for n in data.lengths]
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
