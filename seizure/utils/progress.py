"""Progress bars that stay quiet when output is not a terminal or when asked to."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from seizure.utils.log import quiet_requested


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

    Unless ``disable`` is given: disabled by ``seizure -q`` (a level above INFO set on the
    ``seizure`` logger, :func:`seizure.utils.log.quiet_requested`), and when stderr is not a
    terminal (batch logs stay readable) unless ``SEIZURE_PROGRESS=1``;
    ``SEIZURE_PROGRESS=0`` disables it everywhere.

    Parameters
    ----------
    iterable : iterable, optional
        Items to iterate over while the bar advances.
    desc, total, unit
        tqdm's label, expected count (in ``unit``) and unit name.
    disable : bool, optional
        Force the bar off (True) or on (False).
    **kwargs
        Passed to :class:`tqdm.tqdm`.

    Returns
    -------
    tqdm.tqdm
        The bar (usable as an iterable and as a context manager).
    """
    from tqdm.auto import tqdm

    if disable is None and quiet_requested():
        disable = True
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
