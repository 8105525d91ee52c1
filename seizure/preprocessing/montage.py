"""Montages as data: a table of electrode pairs turned into a +-1 matrix applied as ``M @ X``.

A :class:`Montage` is a name, a tuple of output channels and, for each output channel, the
electrode it reads (the *anode*) and the one it subtracts (the *cathode*, or ``None``). Electrode
names follow TUSZ naming in upper case (``FP1``, ``T3``, ``A1``, ``CZ``); the synonyms of the
10-10 system are mapped by :data:`ELECTRODE_ALIASES` (T7 -> T3, T8 -> T4, P7 -> T5, P8 -> T6).

Two kinds of input are supported:

* **referential** recordings (TUSZ ``EEG FP1-REF``, Siena ``EEG Fp1``, ...): the montage's
  electrodes are gathered into ``X`` (n_electrodes, n_samples) and the montage is the matrix
  ``M`` (n_channels, n_electrodes) with ``+1`` at the anode and ``-1`` at the cathode
  (:func:`montage_matrix`), or ``I - 1/n`` for the common average;
* **bipolar** recordings (CHB-MIT ``FP1-F7``, ``F7-T7``, ...): each bipolar montage channel is
  taken directly from the recording channel of the same pair (sign ``+1``) or of the reversed
  pair (sign ``-1``, e.g. ``P7-T7`` for ``T5-T3``). Chains of bipolar channels are *not* summed
  to synthesise pairs the file does not hold.

Missing electrodes are reported all at once (:class:`MissingChannelsError`). With
``fill_missing`` the output channels that cannot be computed are **filled with zeros** (a flat
channel; nothing is invented from neighbours) and their names are returned so that the cache
can record and report them. For the common average, a missing electrode is left out of the
mean and its own channel is zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seizure.utils.errors import SeizureError, invalid_value

__all__ = [
    "ELECTRODE_ALIASES",
    "ELECTRODES_10_20",
    "MONTAGES",
    "MissingChannelsError",
    "Montage",
    "MontagePlan",
    "canonical_electrode",
    "canonical_pair",
    "get_montage",
    "montage_matrix",
    "plan_montage",
]

#: 10-10 synonyms -> the TUSZ (10-20) names used throughout the package.
ELECTRODE_ALIASES: dict[str, str] = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}

#: The 19 scalp electrodes of the 10-20 system (no A1/A2), epilepsy2bids order.
ELECTRODES_10_20: tuple[str, ...] = (
    "FP1", "F3", "C3", "P3", "O1", "F7", "T3", "T5", "FZ", "CZ",
    "PZ", "FP2", "F4", "C4", "P4", "O2", "F8", "T4", "T6",
)  # fmt: skip

# The 22-channel TCP montage of TUSZ, in the exact order of REFERENCE.md section 2.
_TCP_PAIRS: tuple[tuple[str, str], ...] = (
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)  # fmt: skip

# The 18-channel longitudinal bipolar ("double banana") montage used by SzCORE, in the order
# of epilepsy2bids (``BIPOLAR_DBANANA``): left parasagittal, left temporal, midline, right
# parasagittal, right temporal.
_DOUBLE_BANANA_PAIRS: tuple[tuple[str, str], ...] = (
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("FZ", "CZ"), ("CZ", "PZ"),
    ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
)  # fmt: skip


class MissingChannelsError(SeizureError, ValueError):
    """A recording lacks channels the montage needs; ``missing`` lists all of them.

    A ``ValueError`` too, for callers that catch bad input as one.
    """

    def __init__(
        self,
        montage: str,
        missing: Sequence[str],
        available: Sequence[str],
        fill_missing: bool = False,
    ) -> None:
        self.montage = montage
        self.missing = list(missing)
        self.available = list(available)
        hint = (
            "no channel of the montage can be formed, so filling is refused"
            if fill_missing
            else "choose another montage or set preprocess.fill_missing=true to fill them "
            "with zeros"
        )
        super().__init__(
            f"montage {montage!r} needs {', '.join(self.missing)}, which the recording lacks "
            f"(it has {', '.join(self.available) or 'no usable channels'}); {hint}"
        )


@dataclass(frozen=True)
class Montage:
    """A montage as data.

    Parameters
    ----------
    name : str
        Registry name (``tcp_ar``, ``double_banana``, ...).
    kind : {'bipolar', 'average', 'referential'}
        How the channels are formed.
    pairs : tuple of (str, str or None)
        One ``(anode, cathode)`` per output channel; the cathode is ``None`` for referential
        and average montages (the average is subtracted instead).
    """

    name: str
    kind: str
    pairs: tuple[tuple[str, str | None], ...]

    @property
    def channels(self) -> tuple[str, ...]:
        """Output channel names: ``"FP1-F7"`` for a pair, ``"FP1"`` or ``"FP1-AVG"``."""
        if self.kind == "average":
            return tuple(f"{a}-AVG" for a, _ in self.pairs)
        return tuple(a if c is None else f"{a}-{c}" for a, c in self.pairs)

    @property
    def electrodes(self) -> tuple[str, ...]:
        """Electrodes the montage reads, in order of first use."""
        seen: dict[str, None] = {}
        for a, c in self.pairs:
            seen.setdefault(a)
            if c is not None:
                seen.setdefault(c)
        return tuple(seen)

    @property
    def n_channels(self) -> int:
        """Number of output channels."""
        return len(self.pairs)


def _referential(name: str, kind: str) -> Montage:
    return Montage(name, kind, tuple((e, None) for e in ELECTRODES_10_20))


#: Every montage the pipeline knows, by name.
MONTAGES: dict[str, Montage] = {
    # tcp_le uses the same pairs: the linked-ear reference cancels in every difference.
    "tcp_ar": Montage("tcp_ar", "bipolar", _TCP_PAIRS),
    "tcp_le": Montage("tcp_le", "bipolar", _TCP_PAIRS),
    # tcp_ar_a (TUSZ 03_tcp_ar_a): the 20 TCP channels that do not use A1/A2.
    "tcp_ar_a": Montage(
        "tcp_ar_a", "bipolar", tuple(p for p in _TCP_PAIRS if "A1" not in p and "A2" not in p)
    ),
    "double_banana": Montage("double_banana", "bipolar", _DOUBLE_BANANA_PAIRS),
    "average": _referential("average", "average"),
    "referential": _referential("referential", "referential"),
}


def get_montage(name: str) -> Montage:
    """Look a montage up by name; an unknown name raises ``ValueError`` listing the known ones."""
    try:
        return MONTAGES[name]
    except KeyError:
        raise invalid_value("preprocess.montage", name, sorted(MONTAGES)) from None


def canonical_electrode(label: str) -> str:
    """Upper-case an electrode name and map 10-10 synonyms (``T7`` -> ``T3``)."""
    label = label.strip().upper()
    return ELECTRODE_ALIASES.get(label, label)


def canonical_pair(label: str) -> tuple[str, str] | None:
    """Split a bipolar label ``"F7-T7"`` into canonical electrodes ``("F7", "T3")``.

    Returns None when ``label`` is not a pair of two non-empty names.
    """
    parts = label.split("-")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return None
    return canonical_electrode(parts[0]), canonical_electrode(parts[1])


def montage_matrix(montage: Montage, electrodes: Sequence[str] | None = None) -> np.ndarray:
    """Return the montage as a matrix ``M`` such that ``Y = M @ X``.

    Parameters
    ----------
    montage : Montage
    electrodes : sequence of str, optional
        Row order of ``X``; defaults to :attr:`Montage.electrodes`. Electrodes that
        ``montage`` needs but that are absent here give all-zero output rows (filled
        channels); for the common average they are also left out of the mean.

    Returns
    -------
    ndarray of float32, shape (n_channels, n_electrodes)
        ``+1`` at the anode and ``-1`` at the cathode of each bipolar channel; ``I`` for a
        referential montage; ``I - 1/n`` (over the ``n`` electrodes present) for the average.
    """
    electrodes = list(montage.electrodes if electrodes is None else electrodes)
    col = {e: i for i, e in enumerate(electrodes)}
    m = np.zeros((montage.n_channels, len(electrodes)), dtype=np.float32)
    if montage.kind == "average":
        present = [col[a] for a, _ in montage.pairs if a in col]
        for row, (a, _) in enumerate(montage.pairs):
            if a in col:
                m[row, present] = -1.0 / len(present)
                m[row, col[a]] += 1.0
        return m
    for row, (a, c) in enumerate(montage.pairs):
        if a not in col or (c is not None and c not in col):
            continue
        m[row, col[a]] = 1.0
        if c is not None:
            m[row, col[c]] = -1.0
    return m


@dataclass(frozen=True)
class MontagePlan:
    """How to form a montage from one recording's channels.

    Parameters
    ----------
    montage : Montage
    sources : tuple of int
        Recording channel indices that are read, one per row of ``matrix``'s columns.
    matrix : ndarray of float32, shape (n_channels, len(sources))
        Output = ``matrix @ X[sources]`` (after resampling every source to one rate).
    filled : tuple of str
        Output channels that could not be formed and are zeros.
    missing : tuple of str
        Electrodes (referential input) or pairs (bipolar input) the recording lacks.
    bipolar_input : bool
        True when the recording itself is bipolar (CHB-MIT).
    """

    montage: Montage
    sources: tuple[int, ...]
    matrix: np.ndarray
    filled: tuple[str, ...]
    missing: tuple[str, ...]
    bipolar_input: bool


def plan_montage(
    montage: Montage, labels: Sequence[str], fill_missing: bool = False
) -> MontagePlan:
    """Match a recording's (normalised) channel labels to a montage.

    Parameters
    ----------
    montage : Montage
    labels : sequence of str
        Normalised channel labels of the recording (:attr:`Recording.labels`): electrode names
        (``FP1``) or, for already-bipolar files, pairs (``FP1-F7``). Synonyms are mapped here
        too, and duplicates (``T8-P8#2``) are ignored in favour of the first.
    fill_missing : bool
        Fill channels that cannot be formed with zeros instead of raising.

    Returns
    -------
    MontagePlan

    Raises
    ------
    MissingChannelsError
        Listing every missing electrode (or pair), when ``fill_missing`` is False.
    """
    electrodes: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for i, label in enumerate(labels):
        if "#" in label:  # a duplicated label: keep the first occurrence
            continue
        pair = canonical_pair(label)
        if pair is not None:
            pairs.setdefault(pair, i)
        else:
            electrodes.setdefault(canonical_electrode(label), i)

    needed = montage.electrodes
    have_electrodes = [e for e in needed if e in electrodes]
    # A file is treated as bipolar when it holds pairs and not the montage's electrodes.
    bipolar_input = (
        bool(pairs) and len(have_electrodes) < len(needed) and (len(pairs) >= len(have_electrodes))
    )
    if not bipolar_input:
        missing = tuple(e for e in needed if e not in electrodes)
        used = [e for e in needed if e in electrodes]
        matrix = montage_matrix(montage, used)
        filled = (
            tuple(ch for ch, row in zip(montage.channels, matrix) if not np.any(row))
            if missing
            else ()
        )
        sources = tuple(electrodes[e] for e in used)
        available = [canonical_electrode(lb) for lb in labels if canonical_pair(lb) is None]
    else:
        if montage.kind != "bipolar":
            missing = tuple(needed)
            filled = montage.channels
            sources = ()
            matrix = np.zeros((montage.n_channels, 0), dtype=np.float32)
        else:
            src: list[int] = []
            rows: list[tuple[int, int, float]] = []
            miss: list[str] = []
            for row, (a, c) in enumerate(montage.pairs):
                assert c is not None
                if (a, c) in pairs:
                    idx, sign = pairs[(a, c)], 1.0
                elif (c, a) in pairs:
                    idx, sign = pairs[(c, a)], -1.0
                else:
                    miss.append(f"{a}-{c}")
                    continue
                if idx not in src:
                    src.append(idx)
                rows.append((row, src.index(idx), sign))
            matrix = np.zeros((montage.n_channels, len(src)), dtype=np.float32)
            for row, j, sign in rows:
                matrix[row, j] = sign
            missing = tuple(miss)
            filled = tuple(miss)
            sources = tuple(src)
        available = [lb for lb in labels if canonical_pair(lb) is not None]
    if missing and (not fill_missing or not sources):
        # with nothing at all to read, filling would make an all-zero recording: refuse
        raise MissingChannelsError(montage.name, missing, available, fill_missing)
    return MontagePlan(montage, sources, matrix, filled, missing, bipolar_input)
