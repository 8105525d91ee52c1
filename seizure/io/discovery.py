"""Finding the recordings of a corpus, their annotations, patients and splits.

Layouts recognised (each EDF/BDF file is classified on its own, so a folder may mix them):

- TUSZ v2: ``[edf/]{train,dev,eval}/<patient>/<session>/<montage>/<patient>_<session>_<t>.edf``
  with ``<stem>.csv_bi`` beside it; the corpus folder may also start at ``dev/`` or above
  ``edf/``.
- TUSZ v1.5: ``.../<patient>/<session>/<patient>_<session>_<t>.edf`` with ``.tse_bi``
  (preferred), ``.lbl_bi``, ``.tse`` or ``.lbl`` beside it.
- CHB-MIT: ``chbNN/chbNN_MM.edf`` with ``chbNN/chbNN-summary.txt``.
- Siena: ``PNxx/PNxx-K.edf`` with ``PNxx/Seizures-list-PNxx.txt``.
- BIDS: ``sub-<p>/[ses-<s>/]eeg/<name>_eeg.edf`` with ``<name>_events.tsv``.
- Flat: any other EDF, with a sidecar of the same stem and a suffix that
  :func:`seizure.io.annotations.read_annotation` reads (``_events.tsv`` included), or, in a
  folder holding exactly one EDF and exactly one annotation file, that file whatever its name
  (e.g. ``malow_michigan_19ch_100Hz_500s.edf`` with ``malow_michigan_events.csv``).
- EDF+ annotations: a flat or BIDS EDF+/BDF+ file without an annotation file beside it that
  holds annotations of its own (written by EDFbrowser or MNE) is annotated by them
  (:func:`seizure.io.annotations.read_edf_annotations`; ``annotation_path`` is the EDF itself).

Missing annotations are never read as "no seizure": :func:`discover` records
``annotation_path=None`` and :func:`load_annotation` raises :class:`InputFileError` for that
recording (the caller records it and goes on). For CHB-MIT and Siena the shared listing must
name the file: a file absent from ``chbNN-summary.txt`` or ``Seizures-list-PNxx.txt`` is an
error too, while a file the CHB-MIT summary lists with ``Number of Seizures in File: 0`` has
no seizure. (Siena's list names only files with seizures; every Siena recording has one.)

Splits are by patient, so a patient's recordings never straddle splits: a split file
(``patient,split`` CSV or YAML) wins; else the split named in the path (TUSZ ``train``,
``dev``, ``eval`` folders at or below the corpus folder); else a stable hash of the patient
id: the first 8 bytes of SHA-256 of the id, as a fraction of 2**64, below 0.70 -> ``train``,
below 0.85 -> ``dev``, else ``eval`` (the same on every machine and Python version). CHB-MIT's
``chb21`` is the patient of ``chb01`` recorded 1.5 years later, so its patient id is ``chb01``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from seizure.io.annotations import (
    ANNOTATION_SUFFIXES,
    has_edf_annotations,
    read_annotation,
    read_chbmit_summary,
    read_siena_seizure_list,
)
from seizure.io.events import Annotation
from seizure.io.recording import CorpusEntry
from seizure.utils.errors import InputFileError

SPLITS: tuple[str, ...] = ("train", "dev", "eval")

#: Fractions of patients assigned to train and dev by the hash (the rest go to eval).
HASH_FRACTIONS: tuple[float, float] = (0.70, 0.15)

#: Patients that appear under two ids in a corpus (CHB-MIT: chb21 is chb01 1.5 years later).
PATIENT_ALIASES: dict[str, str] = {"chb21": "chb01"}

_EDF_SUFFIXES = (".edf", ".bdf")
_TUSZ_STEM = re.compile(r"^(?P<patient>[^_/]+)_(?P<session>s\d+)_(?P<token>t\d+)$")
_CHB_DIR = re.compile(r"^chb\d+$", re.IGNORECASE)
_SIENA_DIR = re.compile(r"^PN\d+$", re.IGNORECASE)
_SPLIT_ALIASES = {"train": "train", "dev": "dev", "eval": "eval", "test": "eval"}
_V1_ANNOTATIONS = (".tse_bi", ".lbl_bi", ".csv_bi", ".tse", ".lbl", ".csv")


def hash_split(patient: str) -> str:
    """Deterministic split of a patient id (70/15/15 train/dev/eval by SHA-256).

    Parameters
    ----------
    patient : str

    Returns
    -------
    str
        ``train``, ``dev`` or ``eval``.
    """
    digest = hashlib.sha256(patient.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < HASH_FRACTIONS[0]:
        return "train"
    if u < HASH_FRACTIONS[0] + HASH_FRACTIONS[1]:
        return "dev"
    return "eval"


def read_split_file(path: str | Path) -> dict[str, str]:
    """Read a patient -> split assignment.

    Accepted forms: a CSV (or TSV) of ``patient,split`` lines, with an optional header row
    ``patient,split``; a YAML mapping ``{patient: split}``; or a YAML mapping
    ``{split: [patient, ...]}``. ``test`` is read as ``eval``.

    Raises
    ------
    InputFileError
        Unreadable file, malformed line, unknown split name or a patient given two splits
        (naming the file and line where known).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot read the split file: {exc.strerror or exc}") from None
    out: dict[str, str] = {}

    def add(patient: str, split: str, where: str) -> None:
        key = split.strip().lower()
        if key not in _SPLIT_ALIASES:
            raise InputFileError(
                path,
                f"{where}unknown split {split!r} for patient {patient!r} "
                f"(allowed: train, dev, eval)",
            )
        value = _SPLIT_ALIASES[key]
        if out.get(patient, value) != value:
            raise InputFileError(
                path, f"{where}patient {patient!r} given two splits: {out[patient]}, {value}"
            )
        out[patient] = value

    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputFileError(path, f"invalid YAML: {exc}") from None
        if not isinstance(data, Mapping):
            raise InputFileError(path, "expected a YAML mapping of patient: split")
        for key, value in data.items():
            if isinstance(value, list):
                for patient in value:
                    add(str(patient), str(key), "")
            else:
                add(str(key), str(value), "")
        return out
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in re.split(r"[,\t]", line)]
        if len(fields) != 2 or not fields[0]:
            raise InputFileError(path, f"line {line_no}: expected 'patient,split', got {line!r}")
        if line_no == 1 and [f.lower() for f in fields] == ["patient", "split"]:
            continue
        add(fields[0], fields[1], f"line {line_no}: ")
    return out


def _sidecar(edf: Path, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        candidate = edf.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _only_pair(folder: Path) -> Path | None:
    """Return the annotation file of a folder holding one EDF/BDF and one annotation file.

    The annotation file is any of ``*.csv``, ``*.csv_bi``, ``*.tse_bi``, ``*.tsv``, ...,
    whatever the names; None otherwise (several candidates are never guessed between).
    """
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    edfs = [p for p in files if p.suffix.lower() in _EDF_SUFFIXES]
    notes = [p for p in files if p.suffix.lower() in (*ANNOTATION_SUFFIXES, ".tsv")]
    return notes[0] if len(edfs) == 1 and len(notes) == 1 else None


def _own_annotations(edf: Path) -> Path | None:
    """``edf`` itself when it is an EDF+/BDF+ holding annotations, else None."""
    return edf if has_edf_annotations(edf) else None


def _split_from_path(rel_parts: tuple[str, ...]) -> str | None:
    for part in rel_parts:
        if part.lower() in SPLITS:
            return part.lower()
    return None


def _classify(edf: Path, root: Path) -> dict:
    """Corpus, ids and annotation path of one EDF file (split not yet decided)."""
    parent = edf.parent
    stem = edf.stem
    rel = edf.relative_to(root)
    # parts from the corpus folder's own name down to the file's folder
    rel_parts = (root.name, *rel.parts[:-1])
    path_split = _split_from_path(rel_parts)

    if stem.lower().endswith("_eeg") and any(p.startswith("sub-") for p in rel.parts[:-1]):
        sub = next(p for p in rel.parts[:-1] if p.startswith("sub-"))
        ses = next((p for p in rel.parts[:-1] if p.startswith("ses-")), "")
        events = edf.with_name(stem[: -len("_eeg")] + "_events.tsv")
        return dict(
            corpus="bids",
            recording_id=stem[: -len("_eeg")],
            patient=sub,
            session=ses,
            annotation=events if events.is_file() else _own_annotations(edf),
            path_split=path_split,
        )
    if _CHB_DIR.match(parent.name):
        summaries = sorted(parent.glob("*-summary.txt"))
        if summaries:
            folder = parent.name.lower()
            return dict(
                corpus="chbmit",
                recording_id=stem,
                patient=PATIENT_ALIASES.get(folder, folder),
                session=folder,
                annotation=summaries[0],
                path_split=path_split,
            )
    if _SIENA_DIR.match(parent.name):
        lists = sorted(parent.glob("Seizures-list-*.txt"))
        if lists:
            return dict(
                corpus="siena",
                recording_id=stem,
                patient=parent.name,
                session="",
                annotation=lists[0],
                path_split=path_split,
            )
    m = _TUSZ_STEM.match(stem)
    if m:
        patient, session = m.group("patient"), m.group("session")
        if parent.parent.name.startswith(session) and parent.parent.parent.name == patient:
            return dict(
                corpus="tusz_v2",
                recording_id=stem,
                patient=patient,
                session=session,
                annotation=_sidecar(edf, (".csv_bi",)),
                path_split=path_split,
            )
        if parent.name.startswith(session) and parent.parent.name == patient:
            return dict(
                corpus="tusz_v1",
                recording_id=stem,
                patient=patient,
                session=session,
                annotation=_sidecar(edf, _V1_ANNOTATIONS),
                path_split=path_split,
            )
    annotation = _sidecar(edf, ANNOTATION_SUFFIXES)
    if annotation is None:
        for name in (stem + "_events.tsv", stem + ".tsv"):
            if (parent / name).is_file():
                annotation = parent / name
                break
    if annotation is None:
        annotation = _only_pair(parent)
    if annotation is None:
        annotation = _own_annotations(edf)
    return dict(
        corpus="flat",
        recording_id=stem,
        patient=re.split(r"[_\-]", stem, maxsplit=1)[0] or stem,
        session="",
        annotation=annotation,
        path_split=path_split,
    )


def _edf_files(root: Path) -> list[Path]:
    """EDF/BDF files under ``root``; a symbolic link that loops is refused naming it."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(_EDF_SUFFIXES) and not name.startswith("."):
                path = Path(dirpath) / name
                try:
                    path.stat()
                except OSError as exc:
                    if exc.errno == errno.ELOOP:
                        raise InputFileError(
                            path,
                            "symbolic link loop (following the link leads back to it): "
                            "remove the link or point it at the recording",
                        ) from None
                found.append(path)
    return found


def discover(corpus_dir: str | Path, split_file: str | Path | None = None) -> list[CorpusEntry]:
    """List the recordings of a corpus folder with their annotation file, patient and split.

    Parameters
    ----------
    corpus_dir : str or Path
        Folder holding a TUSZ (v2 or v1.5), CHB-MIT, Siena, BIDS or flat tree (see the
        module docstring).
    split_file : str or Path, optional
        ``patient,split`` CSV or YAML (:func:`read_split_file`) overriding the split of the
        patients it names; other patients keep the path's split or the hash split.

    Returns
    -------
    list of CorpusEntry
        Sorted by ``recording_id``. ``annotation_path`` is None when no annotation file was
        found (:func:`load_annotation` then raises for that recording).

    Raises
    ------
    InputFileError
        Missing corpus folder, no EDF/BDF file in it, an EDF/BDF name that is a symbolic
        link loop, two recordings with the same id (or
        ids that differ only in letter case), a patient whose path puts recordings in two
        splits, or a bad split file.
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise InputFileError(root, "corpus folder not found (or not a folder)")
    overrides = read_split_file(split_file) if split_file is not None else {}
    infos = [(edf, _classify(edf, root)) for edf in _edf_files(root)]
    if not infos:
        raise InputFileError(root, "no .edf or .bdf file found in the corpus folder")

    path_splits: dict[str, dict[str, Path]] = {}
    for edf, info in infos:
        if info["path_split"] is not None:
            path_splits.setdefault(info["patient"], {}).setdefault(info["path_split"], edf)
    for patient, splits in path_splits.items():
        if len(splits) > 1 and patient not in overrides:
            where = "; ".join(f"{s}: {p}" for s, p in sorted(splits.items()))
            raise InputFileError(
                root,
                f"patient {patient!r} has recordings in several splits ({where}); "
                "splits must be by patient (fix the tree or pass a split file)",
            )

    entries: dict[str, CorpusEntry] = {}
    for edf, info in infos:
        patient = info["patient"]
        split = overrides.get(patient) or (
            next(iter(path_splits[patient])) if patient in path_splits else hash_split(patient)
        )
        entry = CorpusEntry(
            recording_id=info["recording_id"],
            edf_path=edf,
            annotation_path=info["annotation"],
            patient=patient,
            session=info["session"],
            split=split,
            corpus=info["corpus"],
        )
        if entry.recording_id in entries:
            raise InputFileError(
                root,
                f"two recordings share the id {entry.recording_id!r}: "
                f"{entries[entry.recording_id].edf_path} and {edf}",
            )
        entries[entry.recording_id] = entry
    folded: dict[str, str] = {}
    for rid in sorted(entries):
        other = folded.setdefault(rid.casefold(), rid)
        if other != rid:  # one file name on case-insensitive file systems (macOS, Windows)
            raise InputFileError(
                root,
                f"two recordings have ids that differ only in letter case ({other!r}: "
                f"{entries[other].edf_path}; {rid!r}: {entries[rid].edf_path}); their cache "
                "files would collide on a case-insensitive file system: rename one",
            )
    return [entries[k] for k in sorted(entries)]


@lru_cache(maxsize=64)
def _listing(kind: str, path: Path, mtime_ns: int) -> dict[str, Annotation]:
    del mtime_ns  # part of the cache key only: an edited listing is read again
    return read_chbmit_summary(path) if kind == "chbmit" else read_siena_seizure_list(path)


def load_annotation(entry: CorpusEntry, label_map: Mapping[str, str] | None = None) -> Annotation:
    """Read the annotation of one discovered recording.

    TUSZ, BIDS and flat entries read their own file (an EDF+ its own annotations); CHB-MIT
    and Siena entries look their file stem up in the shared listing (read once and cached).

    Parameters
    ----------
    entry : CorpusEntry
    label_map : mapping of str to str, optional
        Raw label -> label for the file's reader (e.g. ``{"eyes closed": "bckg"}`` for an
        mne-bids ``trial_type``, ``{"Crise": "seiz"}`` for EDF+ annotation texts); see
        :func:`seizure.io.annotations.read_annotation`.

    Returns
    -------
    Annotation
        A fresh object (its ``warnings`` can be appended to safely); times in seconds.

    Raises
    ------
    InputFileError
        No annotation file was found, the listing does not name this recording, or the file
        is malformed. The message names the recording's EDF or the annotation file.
    """
    path = entry.annotation_path
    if path is None:
        expected = {
            "tusz_v2": f"{entry.edf_path.stem}.csv_bi",
            "tusz_v1": f"{entry.edf_path.stem}.tse_bi or .lbl_bi",
            "bids": f"{entry.recording_id}_events.tsv",
        }.get(
            entry.corpus,
            f"{entry.edf_path.stem} with suffix {', '.join(ANNOTATION_SUFFIXES)} or _events.tsv,"
            " or EDF+ annotations inside the file",
        )
        raise InputFileError(
            entry.edf_path, f"no annotation file beside the recording (expected {expected})"
        )
    if entry.corpus in ("chbmit", "siena"):
        try:
            mtime = path.stat().st_mtime_ns
        except OSError as exc:
            raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from None
        listing = _listing(entry.corpus, path, mtime)
        key = entry.edf_path.stem
        if key not in listing:
            raise InputFileError(
                entry.edf_path,
                f"not listed in {path.name}: its seizures are unknown, so it cannot be used "
                "as seizure-free",
            )
        ann = listing[key]
        return Annotation(
            events=list(ann.events),
            duration=ann.duration,
            source=ann.source,
            warnings=list(ann.warnings),
        )
    return read_annotation(path, label_map)
