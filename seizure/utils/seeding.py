"""One seeding helper for python, numpy and (when imported) torch."""

from __future__ import annotations

import os
import random
import sys


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's legacy global generator and torch (CPU and CUDA).

    Library code should prefer explicit ``numpy.random.default_rng(seed)`` generators; this
    helper covers code that draws from global state (torch initializers, dropout).
    """
    random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import numpy as np

    np.random.seed(seed % 2**32)  # noqa: NPY002 (global state is the point here)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
