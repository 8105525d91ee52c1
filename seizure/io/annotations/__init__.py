"""Annotation files of the supported corpora, read into one event model.

The formats: TUSZ ``.csv``/``.csv_bi``/``.tse``/``.tse_bi``/``.lbl``/``.lbl_bi``,
SzCORE/BIDS ``*_events.tsv`` (mne-bids' ``trial_type`` too), CHB-MIT summaries, Siena seizure
lists, and the annotations stored inside EDF+/BDF+ files (:mod:`.edfplus`).

Every reader returns :class:`seizure.io.events.Annotation` objects whose ``events`` keep each
row of the source in order with its label normalised: the seizure types (``fnsz``, ``gnsz``,
``spsz``, ``cpsz``, ``absz``, ``tnsz``, ``cnsz``, ``tcsz``, ``atsz``, ``mysz``) and ``seiz``
become ``seiz``, ``bckg`` and the old typo ``bkgd`` become ``bckg`` (pass
``label_map=KEEP_SEIZURE_TYPES`` to keep the types); any other label is an error naming the
file and line. A ``label_map`` (text -> label) is consulted first; the commands take it from
the config's ``preprocess.label_map`` and ``--label-map``. Sorting, merging and clipping
to the recording are done by :meth:`Annotation.seizures`, which records a warning for every
clipped event.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from seizure.io.events import Annotation
from seizure.utils.errors import InputFileError

from ._common import DEFAULT_LABELS, KEEP_SEIZURE_TYPES, SEIZURE_TYPES
from .bids import read_tsv, write_tsv
from .chbmit import read_chbmit_summary
from .edfplus import has_edf_annotations, read_edf_annotations
from .siena import read_siena_seizure_list
from .tusz import read_csv, read_lbl, read_tse, write_csv, write_csv_bi

#: File suffixes :func:`read_annotation` understands, in order of preference when several
#: sit beside one recording (``_events.tsv`` is matched on the name's end).
ANNOTATION_SUFFIXES: tuple[str, ...] = (".csv_bi", ".csv", ".tse_bi", ".tse", ".lbl_bi", ".lbl")

__all__ = [
    "ANNOTATION_SUFFIXES",
    "DEFAULT_LABELS",
    "KEEP_SEIZURE_TYPES",
    "SEIZURE_TYPES",
    "has_edf_annotations",
    "read_annotation",
    "read_chbmit_summary",
    "read_csv",
    "read_edf_annotations",
    "read_lbl",
    "read_siena_seizure_list",
    "read_tse",
    "read_tsv",
    "write_csv",
    "write_csv_bi",
    "write_tsv",
]


def read_annotation(path: str | Path, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read one annotation file, choosing the parser by its suffix.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.csv_bi``, ``.tse``, ``.tse_bi``, ``.lbl``, ``.lbl_bi`` or ``.tsv``
        (SzCORE/BIDS events) file, or an EDF+/BDF+ ``.edf``/``.bdf`` file (its own
        annotations, :func:`read_edf_annotations`).
    label_map : mapping of str to str, optional
        Raw label (case-insensitive) -> label, consulted before the defaults; e.g.
        :data:`KEEP_SEIZURE_TYPES` keeps ``fnsz`` as ``fnsz``.

    Returns
    -------
    Annotation
        All events in file order, times in seconds; ``duration`` in seconds when the file
        states it.

    Raises
    ------
    InputFileError
        Unsupported suffix, unreadable file or malformed content; the message names the file
        and, for content errors, the line number.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".csv_bi"):
        return read_csv(path, label_map)
    if suffix in (".tse", ".tse_bi"):
        return read_tse(path, label_map)
    if suffix in (".lbl", ".lbl_bi"):
        return read_lbl(path, label_map)
    if suffix == ".tsv":
        return read_tsv(path, label_map)
    if suffix in (".edf", ".bdf"):
        return read_edf_annotations(path, label_map)
    raise InputFileError(
        path,
        f"unsupported annotation suffix {path.suffix!r}: expected one of "
        f"{', '.join((*ANNOTATION_SUFFIXES, '.tsv'))} (or an EDF+ .edf/.bdf)",
    )
