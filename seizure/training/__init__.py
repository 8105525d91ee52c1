"""Training loop, data feeding from the cache, checkpoints (``seizure train``).

Modules (none imported here: ``seizure.config`` imports :mod:`seizure.training.config`,
which must stay free of numpy and torch):

- :mod:`~seizure.training.config`: :class:`TrainConfig`, the ``train`` section;
- :mod:`~seizure.training.loop`: :func:`~seizure.training.loop.train` (the loop, readable top
  to bottom), :class:`~seizure.training.loop.TrainStep` (one optimizer step);
- :mod:`~seizure.training.data`: sequence plans and feeders (device-resident split, pinned
  buffers filled by threads, or a plain ``DataLoader``);
- :mod:`~seizure.training.checkpoint`: atomic checkpoints read with ``weights_only=True``;
  :func:`~seizure.training.checkpoint.load_checkpoint` and
  :func:`~seizure.training.checkpoint.load_model_from_checkpoint` for evaluation;
- :mod:`~seizure.training.metrics`: window AUROC/AUPRC and the validation-metric hook;
- :mod:`~seizure.training.distributed`: ``torchrun`` / DistributedDataParallel and devices;
- :mod:`~seizure.training.fakes`: a random cache and a tiny model for tests and benchmarks.
"""
