"""``seizure evaluate`` and ``seizure detect``: a checkpoint over a cache split or new EDF
recordings, hypotheses and reports (the scoring itself is :mod:`seizure.scoring`)."""
