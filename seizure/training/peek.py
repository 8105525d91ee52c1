"""A checkpoint's plain entries (config, window shape) read without importing torch.

``seizure detect`` needs the checkpoint's ``preprocess`` section to start reading the first
recording, and importing torch takes about a second. :func:`peek_checkpoint` reads the
pickle inside a checkpoint's zip archive with an unpickler that builds no tensor: every
tensor comes back as :data:`TENSOR`, every other object than a dict, list, tuple, string,
number or ``collections.OrderedDict`` is refused. It is a preview, not a load: the caller
still reads the checkpoint with :func:`seizure.training.checkpoint.read_checkpoint` (torch,
``weights_only=True``) and uses what it peeked only where it agrees with that.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["TENSOR", "peek_checkpoint"]


class _Tensor:
    """Stands for every tensor (and storage) of a peeked checkpoint."""

    def __repr__(self) -> str:
        return "<tensor>"


#: What a peeked checkpoint holds in place of each tensor.
TENSOR = _Tensor()


def _rebuild(*args: Any, **kwargs: Any) -> _Tensor:
    return TENSOR


class _PeekUnpickler(pickle.Unpickler):
    """Builds plain containers; torch's tensor rebuilders return :data:`TENSOR`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" or module.startswith("torch."):
            return _rebuild
        raise pickle.UnpicklingError(f"{module}.{name} is not read by a peek")

    def persistent_load(self, pid: Any) -> _Tensor:
        return TENSOR


def peek_checkpoint(path: str | Path) -> dict[str, Any] | None:
    """Return a checkpoint's content with its tensors left out, without importing torch.

    Parameters
    ----------
    path : str or Path
        A checkpoint written by ``torch.save`` (a zip archive holding ``*/data.pkl``).

    Returns
    -------
    dict or None
        The checkpoint's top-level dict with every tensor replaced by :data:`TENSOR`
        (``config``, ``window_shape`` and the other plain entries as stored); None when the
        file cannot be read this way (missing, not a zip archive, another layout, a pickled
        object of another kind), for the caller to rely on the full read alone.
    """
    try:
        with zipfile.ZipFile(Path(path)) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(names) != 1:
                return None
            data = archive.read(names[0])
        state = _PeekUnpickler(io.BytesIO(data)).load()
    except Exception:  # a preview only: any failure leaves the decision to the full read
        return None
    return state if isinstance(state, dict) else None
