"""Cutting recordings into overlapping sequences (hand-computed cases and invariants)."""

from __future__ import annotations

import numpy as np
import pytest

from seizure.inference.plan import plan_sequences


def test_plan_docstring_example():
    # windows   0 1 2 3 4 5 6 7 8 9   (L = 4, C = 1, hop 2)
    # seq 0     K K K .
    # seq 1         . K K .
    # seq 2             . K K .
    # seq 3                 . K K K
    plan = plan_sequences(10, 4, 1)
    assert plan.tolist() == [[0, 0, 3], [2, 3, 5], [4, 5, 7], [6, 7, 10]]


@pytest.mark.parametrize("n", [0, 1, 5, 29, 30, 31, 59, 60, 61, 1000])
@pytest.mark.parametrize("L,C", [(30, 0), (30, 5), (7, 3), (1, 0)])
def test_plan_tiles_every_window_once_with_context(n, L, C):
    plan = plan_sequences(n, L, C)
    kept = np.zeros(n, dtype=int)
    for start, lo, hi in plan:
        assert 0 <= start and start + min(L, n) <= n
        assert start <= lo < hi <= start + min(L, n)
        kept[lo:hi] += 1
        # context: at least C windows on each side unless at the recording's ends
        if n > L:
            assert lo - start >= C or lo == 0
            assert start + L - hi >= C or hi == n
    assert np.all(kept == 1)
    if C == 0 and n % L == 0:
        assert len(plan) == n // L  # plain tiling costs nothing extra


def test_plan_rejects_bad_context():
    with pytest.raises(ValueError, match="context_windows"):
        plan_sequences(10, 4, 2)
