"""Annotations stored inside an EDF+/BDF+ file (its ``EDF Annotations`` signal of TALs).

EDFbrowser and MNE (``raw.export``) write events as free text, e.g. ``Seizure`` with a
duration, beside notes such as ``Lights off``. Each annotation becomes an event: its text is
looked up in ``label_map`` (case-insensitive; the config's ``preprocess.label_map``,
``--label-map`` of ``score`` and ``plot``), then in the defaults (``sz``, ``sz_...``,
``seiz``, ``seizure`` and the TUSZ seizure types -> ``seiz``; ``bckg``, ``background`` ->
``bckg``). Unlike the annotation files, whose labels are a closed set, any other text is a
note, not an error: it is left out and named, with its count, in one warning. An annotation
without duration is a zero-length event (kept in ``events`` with a warning, dropped by
:meth:`Annotation.seizures`). The time-keeping annotations of each data record are not
events.
"""

from __future__ import annotations

import warnings as _warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from seizure.io.edf import read_edf_header
from seizure.io.events import BACKGROUND, SEIZURE, TERM, Annotation, Event
from seizure.utils.errors import InputFileError

from ._common import DEFAULT_LABELS, check_interval

#: Default labels of EDF+ annotation texts (lower case), beside :data:`DEFAULT_LABELS`.
EDF_TEXT_LABELS: dict[str, str] = {"seizure": SEIZURE, "sz": SEIZURE, "background": BACKGROUND}


def _label(text: str, label_map: Mapping[str, str] | None) -> str | None:
    key = text.strip().lower()
    if label_map:
        lowered = {k.lower(): v for k, v in label_map.items()}
        if key in lowered:
            return lowered[key]
    if key.startswith("sz_"):
        return SEIZURE
    return EDF_TEXT_LABELS.get(key, DEFAULT_LABELS.get(key))


def _raw_annotations(path: Path, is_bdf: bool) -> list[tuple[float, float | None, str]]:
    import edfio

    try:
        with _warnings.catch_warnings():
            # edfio warns about size mismatches already handled by read_edf_header
            _warnings.simplefilter("ignore")
            if is_bdf:
                edf = edfio.read_bdf(path, header_encoding="latin-1")
            else:
                edf = edfio.read_edf(path, lazy_load_data=True, header_encoding="latin-1")
            return [(a.onset, a.duration, a.text) for a in edf.annotations]
    except (ValueError, OSError, IndexError, TypeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read the EDF+ annotations: {exc}") from None


def has_edf_annotations(path: str | Path) -> bool:
    """Tell whether ``path`` is an EDF+/BDF+ file holding at least one annotation.

    Parameters
    ----------
    path : str or Path
        An EDF or BDF file.

    Returns
    -------
    bool
        False for a plain EDF/BDF, an EDF+ whose annotation signal holds only time-keeping
        entries, or a file that cannot be read (its reading then fails with the reason).
    """
    path = Path(path)
    try:
        header = read_edf_header(path)
        if header.n_annotation_signals == 0:
            return False
        return bool(_raw_annotations(path, header.is_bdf))
    except InputFileError:
        return False


def read_edf_annotations(
    path: str | Path, label_map: Mapping[str, str] | None = None
) -> Annotation:
    """Read the annotations stored inside an EDF+/BDF+ file as events.

    Parameters
    ----------
    path : str or Path
        An EDF+ or BDF+ file.
    label_map : mapping of str to str, optional
        Annotation text (case-insensitive) -> ``seiz``/``bckg`` (or a kept seizure type),
        consulted before the defaults (see the module docstring).

    Returns
    -------
    Annotation
        Events (times in seconds from the recording start) in file order;
        ``duration`` is the recording's (records x record duration); ``warnings`` name the
        texts left out and zero-length events.

    Raises
    ------
    InputFileError
        The file is not a readable EDF/BDF, or has no annotation signal (a plain EDF).
    """
    path = Path(path)
    header = read_edf_header(path)
    if header.n_annotation_signals == 0:
        raise InputFileError(
            path,
            f"a plain {header.file_format} file: it has no annotation signal (EDF+/BDF+ "
            "'EDF Annotations'), so it holds no events",
        )
    events: list[Event] = []
    warnings: list[str] = []
    ignored: Counter[str] = Counter()
    for onset, length, text in _raw_annotations(path, header.is_bdf):
        label = _label(text, label_map)
        if label is None:
            ignored[text.strip()] += 1
            continue
        stop = round(onset + (length or 0.0), 9)
        check_interval(onset, stop, path, None, warnings)
        events.append(Event(onset, stop, label, TERM, 1.0))
    if ignored:
        listed = ", ".join(f"{text!r} ({n})" for text, n in sorted(ignored.items()))
        warnings.append(
            f"{path}: annotations that are not seizure labels were left out: {listed} "
            "(map a text with a label map to use it: preprocess.label_map, or --label-map "
            "of score and plot)"
        )
    return Annotation(events=events, duration=header.duration_s, source=path, warnings=warnings)
