"""``seizure evaluate`` and ``seizure detect``: a checkpoint over recordings, and reports.

A checkpoint runs over a cache split or new EDF recordings; hypotheses and reports are
written (the scoring itself is :mod:`seizure.scoring`).
"""
