"""Inference: a trained detector over recordings, windows -> per-window seizure probabilities.

One engine, used by ``seizure evaluate`` and ``seizure detect``. This layer sits above
``io``, ``preprocessing`` and ``models`` and below scoring, training and evaluation: it never
imports those.

- :mod:`~seizure.inference.plan`: recordings cut into overlapping sequences, packed into
  batches of pieces;
- :mod:`~seizure.inference.reading`: reader threads filling the host buffers (``preadv``);
- :mod:`~seizure.inference.streams`: the copy and compute queues, on CUDA or emulated;
- :mod:`~seizure.inference.graphs`: the model captured as a CUDA graph;
- :mod:`~seizure.inference.engine`: :class:`Predictor`, the loop that ties them together;
- :mod:`~seizure.inference.stats`: where the time went;
- :mod:`~seizure.inference.device`: device names, default batch sizes, bf16, batch-norm
  folding.
"""

from __future__ import annotations

from seizure.inference.device import DeviceError, resolve_device
from seizure.inference.engine import EngineTuning, Predictor
from seizure.inference.plan import plan_sequences
from seizure.inference.stats import InferenceStats

__all__ = [
    "DeviceError",
    "EngineTuning",
    "InferenceStats",
    "Predictor",
    "plan_sequences",
    "resolve_device",
]
