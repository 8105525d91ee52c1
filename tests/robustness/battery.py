"""The battery of bad inputs: small generated corpora and the three outcomes a case may assert.

Every case in ``tests/robustness/`` ends in one of three outcomes, asserted with the helpers
here so that a new case reads like a row of a table:

- :func:`processed`: the command exits 0 and says nothing is wrong;
- :func:`processed_with_warning`: it exits 0 and the output names the problem;
- :func:`refused`: it exits with the documented status and a one-line message that names the
  file or the setting, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result

from seizure.cli import main

ELECTRODES = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ",
]  # fmt: skip

FAST = ["--set", "preprocess.sample_rate_hz=128", "--set", "preprocess.bandpass_hz=[1, 40]"]


def write_edf(
    path: Path,
    *,
    seconds: int = 8,
    rate: float = 128.0,
    seed: int = 0,
    events: Sequence[tuple[float, float]] = ((2.0, 5.0),),
    unit: str = "uV",
) -> Path:
    """A flat-corpus EDF of seeded noise with TUSZ labels and a ``.csv_bi`` sidecar."""
    from edfio import Edf, EdfSignal

    from seizure.io.annotations import write_csv_bi
    from seizure.io.events import Event

    rng = np.random.default_rng(seed)
    signals = [
        EdfSignal(
            rng.standard_normal(int(seconds * rate)) * 30,
            sampling_frequency=rate,
            label=f"EEG {name}-REF",
            physical_dimension=unit,
            physical_range=(-500, 500),
        )
        for name in ELECTRODES
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    Edf(signals).write(path)
    write_csv_bi(path.with_suffix(".csv_bi"), [Event(a, b) for a, b in events], float(seconds))
    return path


def run(*args: object) -> Result:
    """Run ``seizure ARGS`` in-process (exceptions are not re-raised: a traceback fails)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}")


def processed(result: Result) -> Result:
    """Exit 0 without a traceback."""
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    return result


def processed_with_warning(result: Result, pattern: str) -> Result:
    """Exit 0 and the output matches ``pattern`` (the named warning)."""
    processed(result)
    assert re.search(pattern, result.output, re.S), result.output
    return result


def refused(result: Result, exit_code: int, pattern: str) -> Result:
    """Exit ``exit_code`` with a message matching ``pattern`` and no traceback."""
    _no_traceback(result)
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    assert re.search(pattern, result.output, re.S), result.output
    return result
