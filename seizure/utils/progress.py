"""Progress bars that stay quiet when output is not a terminal or when asked to."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any


def progress(
    iterable: Iterable | None = None,
    *,
    desc: str = "",
    total: float | None = None,
    unit: str = "it",
    disable: bool | None = None,
    **kwargs: Any,
):
    """Return a tqdm progress bar on stderr.

    Disabled when stderr is not a terminal (batch logs stay readable) unless
    ``SEIZURE_PROGRESS=1``; ``SEIZURE_PROGRESS=0`` disables it everywhere.
    """
    from tqdm.auto import tqdm

    if disable is None:
        env = os.environ.get("SEIZURE_PROGRESS")
        if env is not None:
            disable = env == "0"
        else:
            disable = not sys.stderr.isatty()
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=disable,
        dynamic_ncols=True,
        file=sys.stderr,
        **kwargs,
    )
