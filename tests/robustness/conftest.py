"""Fixtures of the bad-input battery (the helpers are in ``battery.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from battery import write_edf


@pytest.fixture
def flat_corpus(tmp_path: Path) -> Path:
    """Three recordings of two patients in a flat folder."""
    root = tmp_path / "corpus"
    write_edf(root / "pa_r1.edf", seed=1)
    write_edf(root / "pa_r2.edf", seed=2, events=())
    write_edf(root / "pb_r1.edf", seed=3)
    return root
