"""Where a recording's SzCORE hypothesis goes, so that ``szcore-evaluation`` finds it.

``szcore-evaluation`` pairs a reference ``REF/<rel>`` with the hypothesis ``HYP/<rel>`` at the
same relative path, where ``<rel>`` is a BIDS events file,
``sub-<p>/ses-<s>/eeg/sub-<p>_ses-<s>_task-<t>_run-<r>_events.tsv``. A BIDS recording's
hypothesis is therefore written at that path (derived from its name, which holds the
``sub-`` and ``ses-`` entities); any other recording keeps ``<name>.tsv``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

__all__ = ["hypothesis_names"]

_BIDS_NAME = re.compile(r"^(?P<sub>sub-[A-Za-z0-9]+)(?:_(?P<ses>ses-[A-Za-z0-9]+))?_")
_BIDS_SUFFIXES = ("_eeg", "_events")


def hypothesis_names(name: str) -> tuple[str, str]:
    """Relative paths of a recording's NEDC ``.csv_bi`` and SzCORE ``.tsv`` hypotheses.

    Parameters
    ----------
    name : str
        The recording's output name: a recording id (``sub-01_ses-01_task-szMonitoring_run-00``)
        or a path below an input folder without suffix (``sub-01/ses-01/eeg/..._eeg``).

    Returns
    -------
    (str, str)
        For a BIDS name (one that starts with ``sub-<label>_``): the tsv is the BIDS events
        file ``<base>_events.tsv`` (``<base>``: the name without a trailing ``_eeg`` or
        ``_events``), and a name without folders gets the BIDS folders
        ``sub-<label>/[ses-<label>/]eeg/`` for both files. Any other name:
        ``<name>.csv_bi`` and ``<name>.tsv``.

    Examples
    --------
    >>> hypothesis_names("sub-01_ses-02_task-szMonitoring_run-00")[1]
    'sub-01/ses-02/eeg/sub-01_ses-02_task-szMonitoring_run-00_events.tsv'
    >>> hypothesis_names("aaaaaajy_s001_t000")
    ('aaaaaajy_s001_t000.csv_bi', 'aaaaaajy_s001_t000.tsv')
    """
    path = PurePosixPath(name)
    base = path.name
    match = _BIDS_NAME.match(base)
    if match is None:
        return f"{name}.csv_bi", f"{name}.tsv"
    if str(path.parent) == ".":
        ses = [match.group("ses")] if match.group("ses") else []
        path = PurePosixPath(match.group("sub"), *ses, "eeg", base)
    for suffix in _BIDS_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return f"{path}.csv_bi", str(path.parent / f"{base}_events.tsv")
