"""Pair reference and hypothesis annotation files from NEDC list files or folders.

A *list file* holds one annotation path per line (NEDC's ``ref.list`` / ``hyp.list``): blank
lines and lines starting with ``#`` are skipped, ``$VARS`` / ``${VARS}`` and ``~`` are
expanded, and relative paths are resolved from the list file's folder. A *folder* is searched
recursively for annotation files (``.csv_bi``, ``.csv``, ``.tse_bi``, ``.tse``, ``.lbl_bi``,
``.lbl``, ``*_events.tsv``; a BIDS tree's other tables are skipped); when several files
describe one recording the first suffix in that order wins. A BIDS reference tree
(``sub-*/ses-*/eeg/*_events.tsv``) pairs with the hypothesis tree ``seizure evaluate`` and
``seizure detect`` write for it.

Pairing: two list files pair line by line, as NEDC does (a differing recording name is
reported); in every other combination files pair by recording name (the file name without
its annotation suffix). A reference without hypothesis is kept with ``hyp=None`` (scored as
no detections); hypotheses without reference are reported and ignored.

Each recording is scored once. A list line that repeats an earlier one (the same file, and
in two list files the same hypothesis too) is reported and skipped; the same reference
listed again with another hypothesis, or two different files of one recording name in a
list, are refused naming the list and both lines. A list file saved with a UTF-8 byte-order
mark (Windows editors) is read without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from seizure.utils.errors import InputFileError

#: Annotation suffixes in order of preference (mirrors ``seizure.io.annotations``).
SUFFIXES: tuple[str, ...] = (".csv_bi", ".csv", ".tse_bi", ".tse", ".lbl_bi", ".lbl")
TSV_SUFFIX = "_events.tsv"
#: Suffix of a BIDS recording (``sub-01_..._run-00_eeg.edf``), dropped from recording names.
BIDS_EEG_SUFFIX = "_eeg"
#: BIDS tables that sit beside the events files and are not annotations.
BIDS_OTHER_TABLES: tuple[str, ...] = (
    "_channels.tsv",
    "_electrodes.tsv",
    "_scans.tsv",
    "_sessions.tsv",
)


@dataclass(frozen=True)
class FilePair:
    """One recording to score.

    Attributes
    ----------
    name : str
        Recording name (reference file name without its annotation suffix).
    ref : Path
        Reference annotation file.
    hyp : Path or None
        Hypothesis annotation file; ``None`` when there is none (no detections).
    """

    name: str
    ref: Path
    hyp: Path | None


@dataclass
class Pairing:
    """The result of :func:`pair_inputs`: pairs in order, and what could not be paired."""

    pairs: list[FilePair] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def recording_name(path: str | Path) -> str:
    """File name without its annotation suffix: ``a_s001_t000.csv_bi`` -> ``a_s001_t000``.

    BIDS/SzCORE ``sub-01_ses-01_task-szMonitoring_run-00_events.tsv`` loses ``_events.tsv``;
    a BIDS name (starting with ``sub-``) also loses a trailing ``_eeg``, so that the
    hypotheses ``..._run-00_eeg.csv_bi`` and ``..._run-00_eeg.tsv`` written for
    ``..._run-00_eeg.edf`` pair with the reference ``..._run-00_events.tsv``.
    """
    name = Path(path).name
    low = name.lower()
    if low.endswith(TSV_SUFFIX):
        return name[: -len(TSV_SUFFIX)]
    for suffix in (*SUFFIXES, ".tsv"):
        if low.endswith(suffix):
            base = name[: -len(suffix)]
            break
    else:
        base = Path(name).stem
    if low.startswith("sub-") and base.lower().endswith(BIDS_EEG_SUFFIX):
        return base[: -len(BIDS_EEG_SUFFIX)]
    return base


def _rank(path: Path) -> int:
    low = path.name.lower()
    for i, suffix in enumerate(SUFFIXES):
        if low.endswith(suffix):
            return i
    return len(SUFFIXES) if low.endswith(".tsv") else len(SUFFIXES) + 1


def is_annotation_file(path: Path) -> bool:
    """Tell whether ``path``'s name ends with an annotation suffix (or ``.tsv``).

    The other tables of a BIDS tree (``participants.tsv``, ``*_channels.tsv``,
    ``*_electrodes.tsv``, ``*_scans.tsv``, ``*_sessions.tsv``) are not annotations.
    """
    low = path.name.lower()
    if low == "participants.tsv" or low.endswith(BIDS_OTHER_TABLES):
        return False
    return _rank(path) <= len(SUFFIXES)


def read_list(path: str | Path) -> list[Path]:
    """Read an NEDC list file.

    Parameters
    ----------
    path : str or Path
        Text file with one annotation path per line.

    Returns
    -------
    list of Path
        Absolute-or-list-relative paths, in file order (existence is not checked here). A
        leading UTF-8 byte-order mark is dropped.

    Raises
    ------
    InputFileError
        When the file cannot be read, or a line holds an undefined ``$VARIABLE``.
    """
    return [item for _, item in _read_lines(path)]


def _read_lines(path: str | Path) -> list[tuple[int, Path]]:
    """:func:`read_list` with the line number of each path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"cannot read list file ({err})") from err
    out: list[tuple[int, Path]] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        expanded = os.path.expanduser(os.path.expandvars(line))
        if "$" in expanded:
            raise InputFileError(
                path, f"line {line_no}: undefined environment variable in {line!r}"
            )
        item = Path(expanded)
        out.append((line_no, item if item.is_absolute() else path.parent / item))
    return out


def scan_folder(folder: str | Path) -> dict[str, Path]:
    """Annotation files under ``folder`` (recursively), keyed by recording name.

    When one recording has several annotation files the preferred suffix wins (``.csv_bi``
    over ``.csv`` over ``.tse_bi`` ...). The same name in two sub-folders is an error.

    Raises
    ------
    InputFileError
        When two sub-folders hold annotations of one recording name.
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_annotation_file(p)):
        name = recording_name(path)
        prev = found.get(name)
        if prev is None:
            found[name] = path
        elif prev.parent != path.parent:
            raise InputFileError(
                folder,
                f"recording {name!r} has annotation files in two folders ({prev} and {path}); "
                "pass list files to pair them explicitly",
            )
        elif _rank(path) < _rank(prev):
            found[name] = path
    return found


def _same_file(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return a is b
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _entries(source: Path) -> list[tuple[int | None, Path]]:
    """``(line, path)`` of a list file, or ``(None, path)`` of a folder's files."""
    if source.is_file():
        return _read_lines(source)
    return [(None, p) for p in scan_folder(source).values()]


def _first_listing(
    source: Path,
    line: int | None,
    path: Path,
    seen: dict[str, tuple[int | None, Path]],
    warnings: list[str],
) -> bool:
    """Tell whether ``line`` is the first listing of its recording.

    True the first time a recording is met; False (with a warning) when ``line`` repeats the
    file of an earlier line. Another file of the same recording name is refused.
    """
    name = recording_name(path)
    if name not in seen:
        seen[name] = (line, path)
        return True
    first_line, first = seen[name]
    if _same_file(first, path):
        warnings.append(f"{source}: line {line} repeats line {first_line} ({path}); scored once")
        return False
    raise InputFileError(
        source,
        f"lines {first_line} and {line} name two files of recording {name!r} ({first} and "
        f"{path}); each recording is scored once: remove or rename one",
    )


def pair_inputs(ref: str | Path, hyp: str | Path) -> Pairing:
    """Pair reference and hypothesis annotation files.

    Parameters
    ----------
    ref, hyp : str or Path
        Each a list file or a folder of annotation files.

    Returns
    -------
    Pairing
        ``pairs`` in reference order, one per recording; ``warnings`` name hypotheses
        without reference, list entries whose names differ, list lengths that differ and
        repeated list lines (skipped).

    Raises
    ------
    InputFileError
        When ``ref`` or ``hyp`` does not exist, a list cannot be read, there is no
        reference file at all, a reference is listed twice with different hypotheses, or a
        list names two files of one recording.
    """
    ref, hyp = Path(ref), Path(hyp)
    for what, path in (("reference", ref), ("hypothesis", hyp)):
        if not path.exists():
            raise InputFileError(path, f"{what} list or folder does not exist")
    out = Pairing()
    refs = _entries(ref)
    if not refs:
        raise InputFileError(ref, "no reference annotation files found")
    seen: dict[str, tuple[int | None, Path]] = {}
    if ref.is_file() and hyp.is_file():
        hyps = _read_lines(hyp)
        if len(hyps) != len(refs):
            out.warnings.append(
                f"{hyp}: {len(hyps)} hypothesis entries for {len(refs)} references; "
                "pairing line by line"
            )
        hyp_of: dict[str, Path | None] = {}
        for i, (line, r) in enumerate(refs):
            h = hyps[i][1] if i < len(hyps) else None
            name = recording_name(r)
            if name in seen and _same_file(seen[name][1], r) and not _same_file(hyp_of[name], h):
                raise InputFileError(
                    ref,
                    f"line {line} lists {r} again (first on line {seen[name][0]}) with "
                    f"another hypothesis ({h}, not {hyp_of[name]}); list each recording once",
                )
            if not _first_listing(ref, line, r, seen, out.warnings):
                continue
            hyp_of[name] = h
            if h is not None and recording_name(h) != name:
                out.warnings.append(
                    f"{hyp}: line {hyps[i][0]} names {recording_name(h)!r} but reference line "
                    f"{line} names {name!r}; paired by position"
                )
            out.pairs.append(FilePair(name, r, h))
        for _, h in hyps[len(refs) :]:
            out.warnings.append(f"{h}: hypothesis without reference, ignored")
        return out
    hyp_seen: dict[str, tuple[int | None, Path]] = {}
    for line, h in _entries(hyp):
        _first_listing(hyp, line, h, hyp_seen, out.warnings)
    by_name = {name: h for name, (_, h) in hyp_seen.items()}
    for line, r in refs:
        if _first_listing(ref, line, r, seen, out.warnings):
            name = recording_name(r)
            out.pairs.append(FilePair(name, r, by_name.get(name)))
    for name, h in by_name.items():
        if name not in seen:
            out.warnings.append(f"{h}: hypothesis without reference, ignored")
    return out
