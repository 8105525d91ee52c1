"""Stand-ins for training tests and benchmarks: a random cache and a tiny sequence model.

:func:`write_random_cache` writes a real cache (``seizure.preprocessing.cache``'s writer
primitives, so it opens with ``Cache``) whose windows are seeded random noise with one block
of louder "ictal" windows per recording, without EDF files or the preprocessing chain. It is
for tests and ``benchmarks/bench_train.py``; real caches come from ``seizure preprocess``.
:class:`TinySeqModel` follows the model contract (``(batch, T, *window_shape)`` in,
``(batch, T)`` logits out, an ``encoder`` attribute) at a fraction of the real model's cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seizure.preprocessing.cache import (
    Cache,
    open_or_create,
    rebuild_manifest,
    write_record,
)
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.pipeline import window_shape as shape_of

__all__ = ["TinySeqModel", "tiny_model_factory", "tiny_preprocess", "write_random_cache"]


def tiny_preprocess(**changes: Any) -> Any:
    """Return a small ``PreprocessConfig``: 22 channels x 32 samples per window at 32 Hz."""
    values = {"sample_rate_hz": 32.0, "bandpass_hz": None, "notch_hz": None, **changes}
    return PreprocessConfig(**values)


def write_random_cache(
    path: str | Path,
    splits: dict[str, int] | None = None,
    windows_per_recording: int | tuple[int, int] = 120,
    preprocess: Any = None,
    ictal_fraction: float = 0.1,
    seed: int = 0,
    learnable: bool = True,
    chunk_windows: int = 4096,
    seizure_every: int = 1,
) -> Any:
    """Write a seeded random cache with the real cache writer and open it.

    Parameters
    ----------
    path : str or Path
        New cache directory.
    splits : dict
        Recordings per split, default ``{"train": 6, "dev": 3}``.
    windows_per_recording : int or (int, int)
        Windows per recording, or an inclusive range to draw from.
    preprocess : PreprocessConfig, optional
        Recorded as the cache's preprocessing; fixes the window shape and storage dtype
        (default :func:`tiny_preprocess`).
    ictal_fraction : float
        Fraction of each recording's windows in one seizure (0: none).
    seed : int
    learnable : bool
        Ictal windows have 3x the amplitude (a model can learn them); else pure noise.
    chunk_windows : int
        Windows drawn at a time (bounds the float32 scratch memory).
    seizure_every : int
        Recording ``k`` of a split holds a seizure when ``k % seizure_every == 0``; the others
        are background only (1: every recording has one).

    Returns
    -------
    seizure.preprocessing.cache.Cache
    """
    preprocess = preprocess or tiny_preprocess()
    header = open_or_create(path, preprocess)
    shape = shape_of(preprocess)
    splits = splits or {"train": 6, "dev": 3}
    rng = np.random.default_rng(seed)
    stride = float(preprocess.stride_seconds)
    dtype = np.dtype(preprocess.storage_dtype)
    for split, count in splits.items():
        for k in range(count):
            rid = f"{split}_{k:04d}"
            if isinstance(windows_per_recording, int):
                n = windows_per_recording
            else:
                lo, hi = windows_per_recording
                n = int(rng.integers(lo, hi + 1))
            labels = np.zeros(n, dtype=np.uint8)
            n_ictal = int(round(ictal_fraction * n)) if k % seizure_every == 0 else 0
            events = []
            if n_ictal:
                a = int(rng.integers(0, n - n_ictal + 1))
                labels[a : a + n_ictal] = 1
                events = [{"start": a * stride, "stop": (a + n_ictal) * stride, "label": "seiz"}]
            windows = np.empty((n, *shape), dtype=dtype)  # one recording at a time in memory
            for a in range(0, n, chunk_windows):
                b = min(n, a + chunk_windows)
                block = rng.standard_normal((b - a, *shape), dtype=np.float32) * 20.0
                if learnable:
                    block *= np.where(labels[a:b] == 1, 3.0, 1.0).reshape(-1, *[1] * len(shape))
                windows[a:b] = block
            meta = {
                "recording_id": rid,
                "patient": f"{split}_p{k:03d}",
                "session": "s001",
                "split": split,
                "source": f"random://{rid}",
                "fingerprint": header["fingerprint"],
                "duration_s": n * stride,
                "events": events,
                "warnings": [],
            }
            write_record(path, meta, windows, labels, preprocess.storage_dtype)
            del windows
    rebuild_manifest(path)
    return Cache(path)


class TinySeqModel(nn.Module):
    """Log-power per channel -> linear encoder -> GRU -> one logit per window.

    Parameters
    ----------
    window_shape : tuple of int
        Per-window shape whose first axis is channels.
    hidden : int
        Hidden units.
    dropout : float
        Dropout after the encoder (exercises the RNG state in resume tests).
    """

    def __init__(
        self, window_shape: tuple[int, ...], hidden: int = 8, dropout: float = 0.1
    ) -> None:
        super().__init__()
        channels = int(window_shape[0])
        self.encoder = nn.Sequential(nn.Linear(channels, hidden), nn.ELU(), nn.Dropout(dropout))
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return one logit per window, ``(B, T, C, W) -> (B, T)``."""
        b, t = x.shape[:2]
        x = x.reshape(b, t, x.shape[2], -1)
        feats = torch.log1p(x.pow(2).mean(-1) / 100.0)  # (b, t, channels)
        h, _ = self.rnn(self.encoder(feats))
        return self.head(h).squeeze(-1)


def tiny_model_factory(model_config: Any, window_shape: tuple[int, ...]) -> nn.Module:
    """``factory(model_config, window_shape)`` building a :class:`TinySeqModel`."""
    return TinySeqModel(window_shape, hidden=min(16, int(model_config.hidden_size)))
