"""Scoring without a model: NEDC and SzCORE rules, post-processing, operating curves.

Torch-free by contract (``tests/test_architecture.py`` imports it in a fresh interpreter and
checks that torch stays unloaded), so ``seizure score``, training's event-level validation
metric and evaluation all use the same code.

Modules:

- :mod:`~seizure.scoring.nedc`: NEDC OVLP, TAES, EPOCH and DPALIGN;
- :mod:`~seizure.scoring.szcore`: SzCORE event and sample scoring;
- :mod:`~seizure.scoring.score`: one entry point over every method, files and folders;
- :mod:`~seizure.scoring.intervals`: 95% intervals of pooled figures over resampled patients;
- :mod:`~seizure.scoring.lists`: pairing reference and hypothesis files;
- :mod:`~seizure.scoring.postprocess`: probabilities -> events (smoothing, threshold, gaps);
- :mod:`~seizure.scoring.curve`: the threshold sweep and operating points;
- :mod:`~seizure.scoring.budget`: OVLP sensitivity at a false-alarm budget.
"""
