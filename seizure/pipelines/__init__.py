"""End-to-end pipelines built from the stage libraries: the demo and the experiment grids.

- :mod:`seizure.pipelines.stages`: a small on-disk record of which stage outputs are complete
  and which configuration made them, so that re-running reuses what is already built.
- :mod:`seizure.pipelines.demo`: ``seizure demo`` (synthesize -> preprocess -> train ->
  evaluate on a small synthetic corpus).
- :mod:`seizure.pipelines.experiment`: ``seizure experiment`` (a grid of training runs, each
  trained and evaluated, collected into the paper's results table), with
  :mod:`seizure.pipelines.grid` (the grid file, its runs) and :mod:`seizure.pipelines.results`
  (the table, built from the run folders only).

Nothing here re-implements a stage: every step calls the stage's library function
(:func:`seizure.synth.corpus.synthesize`, :func:`seizure.preprocessing.build.build_cache`,
:func:`seizure.training.loop.train`, :func:`seizure.evaluation.evaluate.evaluate`).
"""
