"""Training loop, data feeding from the cache, checkpoints (``seizure train``).

Modules (none imported here: ``seizure.config`` imports :mod:`seizure.training.config`,
which must stay free of numpy and torch):

- :mod:`~seizure.training.config`: :class:`TrainConfig`, the ``train`` section;
- :mod:`~seizure.training.loop`: :func:`~seizure.training.loop.train` (the loop, readable top
  to bottom: set up, ``run_epoch``, ``end_epoch``, ``should_stop``);
- :mod:`~seizure.training.setup`: everything before the first step (run directory, cache
  checks, model, state, feeders) as one :class:`~seizure.training.setup.Run`;
- :mod:`~seizure.training.validation`: :func:`~seizure.training.validation.validate`, the
  logits and loss of every window of the dev split;
- :mod:`~seizure.training.state`: :class:`~seizure.training.state.TrainState`, what changes
  while training, with ``to_checkpoint``/``from_checkpoint``;
- :mod:`~seizure.training.step`: :class:`~seizure.training.step.TrainStep` (one optimizer
  step), the model, optimizer and learning-rate schedule;
- :mod:`~seizure.training.graphstep`: :class:`~seizure.training.graphstep.GraphTrainStep`,
  full batches replayed as one captured CUDA graph of the step (``train.cuda_graph``);
- :mod:`~seizure.training.rundir`: the run directory's checks and files, and
  :func:`~seizure.training.rundir.resume_config` (the config a resumed run uses);
- :mod:`~seizure.training.errors`: the errors of training (under ``SeizureError``);
- :mod:`~seizure.training.data`: sequence plans and feeders (device-resident split, pinned
  buffers filled by threads, or a plain ``DataLoader``);
- :mod:`~seizure.training.checkpoint`: atomic checkpoints read with ``weights_only=True``;
  :func:`~seizure.training.checkpoint.load_checkpoint` and
  :func:`~seizure.training.checkpoint.load_model_from_checkpoint` for evaluation;
- :mod:`~seizure.training.peek`: a checkpoint's config read without torch (a preview
  for ``seizure detect``'s read-ahead);
- :mod:`~seizure.training.metrics`: window AUROC/AUPRC and the validation-metric hook;
- :mod:`~seizure.training.distributed`: ``torchrun`` / DistributedDataParallel and devices;
- :mod:`~seizure.training.fakes`: a random cache and a tiny model for tests and benchmarks.
"""
