"""Channel label normalisation across corpora (TUSZ, CHB-MIT, Siena, BIDS exports).

One naming for every corpus: upper case, no type prefix (``EEG ``, ``EKG ``...), no
reference suffix (``-REF``, ``-LE``, ``-AR``, ``-AVG``), and the old 10-20 names for the
temporal and parietal electrodes that TUSZ uses (T7 -> T3, T8 -> T4, P7 -> T5, P8 -> T6).
Bipolar labels keep their two sides, each normalised (CHB-MIT ``T8-P8`` -> ``T4-T6``, the
TCP channel name). Non-EEG channels keep a recognisable name: ``EEG EKG1-REF`` -> ``EKG1``,
``EKG EKG`` -> ``EKG``, ``PHOTIC-REF`` -> ``PHOTIC``, ``EEG ROC-REF`` -> ``ROC``, ``IBI``,
``BURSTS``, ``SUPPR``, ``EDF Annotations`` -> ``ANNOTATIONS``.

Examples
--------
>>> [normalize_label(x) for x in ["EEG FP1-REF", "EEG FP1-LE", "EEG Fp1", "Fp1-Ref", "FP1"]]
['FP1', 'FP1', 'FP1', 'FP1', 'FP1']
>>> normalize_label("EEG T7"), normalize_label("T8-P8")
('T3', 'T4-T6')
>>> unique_labels(["FP1-F7", "T8-P8", "T8-P8"])
['FP1-F7', 'T8-P8', 'T8-P8#2']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Modern 10-10 names -> the 10-20 names TUSZ uses.
SYNONYMS: dict[str, str] = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}

#: Reference suffixes removed from referential labels (``EEG FP1-REF`` -> ``FP1``).
REFERENCE_SUFFIXES: tuple[str, ...] = ("REF", "LE", "AR", "AVG", "AV", "CAR")

#: Signal-type prefixes (EDF+ convention ``<type> <name>``) removed when a name follows.
TYPE_PREFIXES: tuple[str, ...] = ("EEG", "ECG", "EKG", "EMG", "EOG", "POL", "RESP", "SAO2")

#: Channels sampled at about 1 Hz in TUSZ files (detector outputs, not EEG).
LOW_RATE_CHANNELS: tuple[str, ...] = ("IBI", "BURSTS", "SUPPR")

_ANNOTATION_LABELS = ("EDF ANNOTATIONS", "BDF ANNOTATIONS")
_SPACES = re.compile(r"\s+")
_SUFFIX_RE = re.compile(r"[-_](?:" + "|".join(REFERENCE_SUFFIXES) + r")$")


def _electrode(name: str) -> str:
    name = name.strip()
    return SYNONYMS.get(name, name)


def normalize_label(raw: str) -> str:
    """Normalise one channel label as written in an EDF header.

    Parameters
    ----------
    raw : str
        Label from the file (``EEG FP1-REF``, ``EEG Fp1``, ``FP1-F7``, ``PHOTIC-REF``...).

    Returns
    -------
    str
        Upper-case name: an electrode (``FP1``, ``T3``), a bipolar pair (``FP1-F7``,
        ``T4-T6``) or a non-EEG channel name (``EKG1``, ``PHOTIC``, ``ROC``, ``IBI``).
        A label without letters or digits (CHB-MIT's ``-`` placeholders) is returned
        stripped and otherwise unchanged.
    """
    label = _SPACES.sub(" ", raw.strip()).upper()
    if label in _ANNOTATION_LABELS:
        return "ANNOTATIONS"
    if not any(c.isalnum() for c in label):
        return label
    head, _, rest = label.partition(" ")
    if rest and head in TYPE_PREFIXES:
        label = rest.strip()
    label = _SUFFIX_RE.sub("", label)
    label = label.replace(" ", "")
    parts = label.split("-")
    if len(parts) == 2 and all(parts):
        return f"{_electrode(parts[0])}-{_electrode(parts[1])}"
    return _electrode(label)


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Make labels unique by suffixing repeats ``#2``, ``#3``... in order of appearance.

    CHB-MIT files list ``T8-P8`` twice; the second becomes ``T8-P8#2`` (normalised:
    ``T4-T6#2``).
    """
    seen: dict[str, int] = {}
    out: list[str] = []
    for label in labels:
        n = seen.get(label, 0) + 1
        seen[label] = n
        out.append(label if n == 1 else f"{label}#{n}")
    return out


def normalize_labels(raw_labels: Iterable[str]) -> list[str]:
    """:func:`normalize_label` each label, then :func:`unique_labels`."""
    return unique_labels(normalize_label(x) for x in raw_labels)
