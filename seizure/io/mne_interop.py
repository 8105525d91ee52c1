"""Annotations for MNE-Python and EDFbrowser users.

- :func:`read_annotations`: our annotation files (TUSZ ``.csv``/``.csv_bi``/``.tse``/``.lbl``,
  SzCORE/BIDS ``*_events.tsv``) as ``mne.Annotations``, which ``mne.read_annotations``
  cannot read for ``csv_bi`` and ``tsv``.
- :func:`write_edf_with_annotations`: a copy of an EDF file with events added as EDF+
  annotations (the TAL channel EDFbrowser and ``mne.io.read_raw_edf`` show).

MNE is imported inside the functions that return its objects, so importing this module
costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from seizure.io.annotations import read_annotation
from seizure.io.events import BACKGROUND, TERM, Event
from seizure.utils.errors import InputFileError
from seizure.utils.fsio import atomic_write_bytes

__all__ = ["events_of", "read_annotations", "write_edf_with_annotations"]


def read_annotations(
    path: str | Path,
    label_map: Mapping[str, str] | None = None,
    *,
    background: bool = False,
    channels: bool = False,
) -> Any:
    """Read one of our annotation files as ``mne.Annotations``.

    Parameters
    ----------
    path : path
        A ``.csv``, ``.csv_bi``, ``.tse``, ``.tse_bi``, ``.lbl``, ``.lbl_bi`` or SzCORE/BIDS
        ``.tsv`` file (see :func:`seizure.io.annotations.read_annotation`).
    label_map : mapping of str to str, optional
        Raw label -> label, e.g. :data:`seizure.io.annotations.KEEP_SEIZURE_TYPES` to keep
        ``fnsz`` rather than ``seiz``.
    background : bool
        Keep ``bckg`` rows too (default: seizures only).
    channels : bool
        Give channel events (TUSZ ``.csv``: ``FP1-F7``...) their channel in ``ch_names``;
        by default every event is whole-recording (channel names of a bipolar montage are
        seldom channels of the Raw they will be set on).

    Returns
    -------
    mne.Annotations
        ``onset`` and ``duration`` in seconds from the recording start, ``description`` the
        normalised label, ``orig_time`` None (set them with ``raw.set_annotations``).

    Raises
    ------
    InputFileError
        Unsupported suffix, unreadable or malformed file (naming the file and line).
    """
    import mne  # deferred: a heavy optional dependency, only needed here

    events = [
        e for e in read_annotation(path, label_map).events if background or e.label != BACKGROUND
    ]
    return mne.Annotations(
        onset=[e.start for e in events],
        duration=[e.stop - e.start for e in events],
        description=[e.label for e in events],
        ch_names=[() if not channels or e.channel == TERM else (e.channel,) for e in events],
    )


def events_of(annotations: Any) -> list[Event]:
    """Return the events of ``mne.Annotations``, in seconds, labelled by their description.

    Any object with ``onset``, ``duration`` and ``description`` sequences will do.

    Returns
    -------
    list of Event
    """
    return [
        Event(float(o), float(o) + float(d), str(t))
        for o, d, t in zip(annotations.onset, annotations.duration, annotations.description)
    ]


def write_edf_with_annotations(
    edf_in: str | Path,
    events: Iterable[Event] | Any,
    edf_out: str | Path,
    *,
    replace: bool = False,
) -> None:
    """Copy an EDF file and add ``events`` as EDF+ annotations (a TAL channel).

    The signals and header are copied unchanged (the file becomes EDF+C if it was plain
    EDF). Each event becomes one annotation: onset and duration in seconds from the
    recording start, its label (``seiz``) as text.

    Parameters
    ----------
    edf_in : path
        The recording.
    events : iterable of Event, or mne.Annotations
        Events in seconds from the recording start (``mne.Annotations`` via
        :func:`events_of`).
    edf_out : path
        Written atomically; may not be ``edf_in``.
    replace : bool
        Drop the annotations ``edf_in`` already holds (default: keep them).

    Raises
    ------
    InputFileError
        ``edf_in`` unreadable, ``edf_out`` the same file, or an event outside the recording.
    """
    import edfio

    edf_in, edf_out = Path(edf_in), Path(edf_out)
    if edf_out.resolve() == edf_in.resolve():
        raise InputFileError(edf_out, "the output would overwrite the input recording")
    if hasattr(events, "onset") and hasattr(events, "description"):
        events = events_of(events)
    events = list(events)
    try:
        edf = edfio.read_edf(edf_in)
    except (OSError, ValueError) as err:
        raise InputFileError(edf_in, f"cannot be read as EDF ({err})") from err
    duration = edf.duration
    outside = [e for e in events if e.start < 0 or e.stop > duration + 1e-6 or e.stop < e.start]
    if outside:
        e = outside[0]
        raise InputFileError(
            edf_in,
            f"{len(outside)} event(s) outside the recording (0 to {duration:g} s), the "
            f"first [{e.start:g}, {e.stop:g}] s",
        )
    new = [edfio.EdfAnnotation(e.start, e.stop - e.start, e.label) for e in events]
    edf.set_annotations(new if replace else (*edf.annotations, *new))
    atomic_write_bytes(edf_out, edf.to_bytes())
