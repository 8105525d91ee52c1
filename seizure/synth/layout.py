"""The head the synthetic corpus is recorded from: electrodes, EDF labels, the TCP montage.

Electrode positions are approximate 10-20 positions on a unit sphere (x to the right ear,
y to the nose, z to the vertex); distances between them are chord lengths. They only need
to be good enough to make neighbouring electrodes correlated and seizures spread to their
neighbours.
"""

from __future__ import annotations

import numpy as np

#: Scalp electrodes in the order TUSZ ``01_tcp_ar`` files list them, then the extra ones.
ELECTRODES: tuple[str, ...] = (
    "FP1",
    "FP2",
    "F3",
    "F4",
    "C3",
    "C4",
    "P3",
    "P4",
    "O1",
    "O2",
    "F7",
    "F8",
    "T3",
    "T4",
    "T5",
    "T6",
    "A1",
    "A2",
    "FZ",
    "CZ",
    "PZ",
    "ROC",
    "LOC",
    "T1",
    "T2",
)

#: All channels written to the EDF, in file order: scalp and eye electrodes, EKG, photic.
CHANNELS: tuple[str, ...] = ELECTRODES[:23] + ("EKG1",) + ELECTRODES[23:] + ("PHOTIC",)

#: Approximate electrode positions (x right, y nose, z vertex), normalised to the unit sphere.
_RAW_POSITIONS: dict[str, tuple[float, float, float]] = {
    "FP1": (-0.31, 0.95, 0.05),
    "FP2": (0.31, 0.95, 0.05),
    "F7": (-0.81, 0.59, 0.0),
    "F8": (0.81, 0.59, 0.0),
    "F3": (-0.55, 0.67, 0.50),
    "F4": (0.55, 0.67, 0.50),
    "FZ": (0.0, 0.72, 0.69),
    "T3": (-1.0, 0.0, 0.0),
    "T4": (1.0, 0.0, 0.0),
    "C3": (-0.72, 0.0, 0.69),
    "C4": (0.72, 0.0, 0.69),
    "CZ": (0.0, 0.0, 1.0),
    "T5": (-0.81, -0.59, 0.0),
    "T6": (0.81, -0.59, 0.0),
    "P3": (-0.55, -0.67, 0.50),
    "P4": (0.55, -0.67, 0.50),
    "PZ": (0.0, -0.72, 0.69),
    "O1": (-0.31, -0.95, 0.0),
    "O2": (0.31, -0.95, 0.0),
    "A1": (-0.93, -0.1, -0.35),
    "A2": (0.93, -0.1, -0.35),
    "T1": (-0.85, 0.35, -0.40),
    "T2": (0.85, 0.35, -0.40),
    "LOC": (-0.55, 0.78, -0.30),
    "ROC": (0.55, 0.78, -0.30),
}

#: The 22 channels of the TCP montage as (anode, cathode) electrode pairs (REFERENCE.md s. 2).
TCP_PAIRS: tuple[tuple[str, str], ...] = (
    ("FP1", "F7"),
    ("F7", "T3"),
    ("T3", "T5"),
    ("T5", "O1"),
    ("FP2", "F8"),
    ("F8", "T4"),
    ("T4", "T6"),
    ("T6", "O2"),
    ("A1", "T3"),
    ("T3", "C3"),
    ("C3", "CZ"),
    ("CZ", "C4"),
    ("C4", "T4"),
    ("T4", "A2"),
    ("FP1", "F3"),
    ("F3", "C3"),
    ("C3", "P3"),
    ("P3", "O1"),
    ("FP2", "F4"),
    ("F4", "C4"),
    ("C4", "P4"),
    ("P4", "O2"),
)

#: TCP channel names, ``FP1-F7`` ...
TCP_CHANNELS: tuple[str, ...] = tuple(f"{a}-{b}" for a, b in TCP_PAIRS)

#: Electrodes a seizure focus can sit under, with their weights (temporal lobes dominate).
FOCUS_WEIGHTS: dict[str, float] = {
    "T3": 3.0,
    "T4": 3.0,
    "F7": 2.0,
    "F8": 2.0,
    "T5": 1.5,
    "T6": 1.5,
    "F3": 1.0,
    "F4": 1.0,
    "C3": 0.7,
    "C4": 0.7,
    "P3": 0.5,
    "P4": 0.5,
    "O1": 0.4,
    "O2": 0.4,
    "FP1": 0.6,
    "FP2": 0.6,
}


def edf_label(channel: str) -> str:
    """Return the EDF label TUSZ ``01_tcp_ar`` files use: ``EEG FP1-REF``, ``PHOTIC-REF``."""
    return "PHOTIC-REF" if channel == "PHOTIC" else f"EEG {channel}-REF"


def positions(names: tuple[str, ...] = ELECTRODES) -> np.ndarray:
    """Unit-sphere positions of electrodes.

    Returns
    -------
    ndarray, shape (len(names), 3)
    """
    xyz = np.array([_RAW_POSITIONS[n] for n in names], dtype=np.float64)
    return xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def weights(pattern: dict[str, float], names: tuple[str, ...] = CHANNELS) -> np.ndarray:
    """Spread a partial ``{electrode: weight}`` map over channels (others 0).

    Returns
    -------
    ndarray, shape (len(names),)
    """
    return np.array([pattern.get(n, 0.0) for n in names], dtype=np.float64)
