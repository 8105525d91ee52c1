"""Loading weights into a built model with a message instead of a traceback.

:func:`load_state_checked` compares a state dict with the model before loading it, so that a
checkpoint of another architecture, cell or size is refused with a
:class:`ModelStateError` that names the file, the parameters missing from it, the ones the
model does not have, and every shape that differs (found in the file, expected by the model).
The model is left untouched when the weights do not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seizure.utils.errors import InputFileError

__all__ = ["ModelStateError", "load_state_checked"]


class ModelStateError(InputFileError):
    """The weights stored in a file do not fit the model they are loaded into.

    Attributes
    ----------
    path : Path or None
        The file the weights come from.
    missing : list of str
        Model entries the file lacks.
    unexpected : list of str
        File entries the model does not have.
    mismatched : list of (str, tuple of int, tuple of int)
        ``(name, shape found in the file, shape the model expects)``.
    """

    def __init__(
        self,
        path: str | Path | None,
        reason: str,
        missing: list[str] | None = None,
        unexpected: list[str] | None = None,
        mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] | None = None,
    ) -> None:
        self.missing = list(missing or [])
        self.unexpected = list(unexpected or [])
        self.mismatched = list(mismatched or [])
        super().__init__(path, reason)


def _describe(model: nn.Module) -> str:
    config = getattr(model, "config", None)
    if config is None:
        return f"the {type(model).__name__} built here"
    fields = ("name", "cell", "hidden_size", "num_layers", "bidirectional", "n_classes")
    parts = [f"{f}={getattr(config, f)!r}" for f in fields if hasattr(config, f)]
    return f"the model built here ({', '.join(parts)})"


def load_state_checked(
    model: nn.Module,
    state_dict: Mapping[str, Any],
    source: str | Path | None,
    *,
    assign: bool = False,
) -> None:
    """Load ``state_dict`` into ``model`` strictly, or say exactly why it does not fit.

    Parameters
    ----------
    model : nn.Module
        A built model (e.g. from :func:`seizure.models.build_model`); its own
        ``state_dict()`` defines the names and shapes expected.
    state_dict : mapping of str to Tensor
        Weights read from ``source`` (e.g. a checkpoint's ``model`` entry).
    source : str, Path or None
        The file the weights come from, named in the error.
    assign : bool
        Make ``state_dict``'s tensors the model's (``load_state_dict(assign=True)``; each
        cast to the dtype of the entry it replaces) instead of copying them into the model's
        own: for a model built on the ``meta`` device, whose tensors hold no memory.

    Raises
    ------
    ModelStateError
        (a :class:`~seizure.utils.errors.SeizureError`) when ``state_dict`` is not a mapping
        of names to tensors, lacks entries of the model, has entries the model does not have,
        or holds a tensor whose shape differs from the model's (the model is then left as it
        was), or when torch refuses the weights for another reason.
    """
    if not isinstance(state_dict, Mapping):
        raise ModelStateError(
            source,
            f"expected the model's weights as a mapping of parameter names to tensors, got "
            f"{type(state_dict).__name__} instead",
        )
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ModelStateError(
            source,
            f"expected the model's weights as tensors, got other values for "
            f"{', '.join(map(str, not_tensors))}",
        )
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        (k, tuple(state_dict[k].shape), tuple(v.shape))
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        lines = [
            f"the weights do not fit {_describe(model)}; was the file written for another "
            "model, cell or size? Use the config stored with it"
        ]
        if missing:
            lines.append(f"missing from the file: {', '.join(missing)}")
        if unexpected:
            lines.append(f"in the file but not in the model: {', '.join(unexpected)}")
        if mismatched:
            shapes = "; ".join(
                f"{k} found {list(found)}, expected {list(want)}" for k, found, want in mismatched
            )
            lines.append(f"shapes that differ: {shapes}")
        raise ModelStateError(source, "\n  ".join(lines), missing, unexpected, mismatched)
    if assign:
        state_dict = {
            k: v if v.dtype == expected[k].dtype else v.to(expected[k].dtype)
            for k, v in state_dict.items()
        }
    try:
        model.load_state_dict(state_dict, strict=True, assign=assign)
    except RuntimeError as err:  # names and shapes agree; torch found something else
        raise ModelStateError(
            source, f"the weights cannot be loaded into the model: {err}"
        ) from err
