"""Configuration of ``seizure train`` (section ``train``). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Keys of the ``train`` section that may change when a run is resumed (``--resume``):
#: they affect how long or how fast a run goes, not what it computes step by step.
RESUMABLE_KEYS = frozenset(
    {
        "epochs",
        "max_steps",
        "patience",
        "feeder",
        "num_workers",
        "prefetch_batches",
        "gpu_resident_fraction",
        "log_every_steps",
        "checkpoint_every_steps",
        "compile",
        "cuda_graph",
        "cudnn_benchmark",
        "progress",
        "eval_batch_size",
        "cpu_threads",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, sampling and feeding settings of ``seizure train``.

    Parameters
    ----------
    epochs : int
        Number of passes over the training split.
    batch_size : int
        Sequences per batch *per process* (per GPU); with ``torchrun`` the global batch is
        ``batch_size * world_size``.
    sequence_windows : int
        Consecutive windows of one recording per training sequence (``T``). The model sees
        ``(batch_size, T, *window_shape)`` and predicts one logit per window.
    sequence_sampling : {'random_offset', 'tile'}
        How each recording is cut into sequences every epoch. ``tile``: fixed non-overlapping
        tiles starting at window 0. ``random_offset``: the same tiling shifted by a random
        offset in ``[0, T)`` drawn per recording per epoch, so sequence boundaries move
        between epochs. Recordings shorter than ``T`` windows are not used for training.
    imbalance : {'pos_weight', 'oversample', 'none'}
        Class imbalance handling. ``pos_weight``: ictal windows weigh ``pos_weight`` in the
        loss. ``oversample``: every sequence is used once per epoch and sequences holding
        at least one ictal window are repeated (drawn with replacement) until they make up
        ``oversample_fraction`` of the epoch. ``none``: plain binary cross-entropy.
    pos_weight : float or None
        Weight of ictal windows with ``imbalance='pos_weight'``; None computes
        ``n_background / n_ictal`` over the training windows.
    oversample_fraction : float
        Target fraction of sequences containing a seizure with ``imbalance='oversample'``.
    optimizer : {'adam', 'adamw', 'sgd'}
        Adam is the paper's choice.
    learning_rate : float
        Peak learning rate.
    weight_decay : float
        Weight decay (L2 in the update for Adam/SGD, decoupled for AdamW); the larger of this
        and ``model.regularization.weight_decay`` is used, on weights only (not biases or
        normalisation). The model's Keras-style L1/L2 penalties
        (``model.regularization.l1``/``l2``) are added to the batch-mean loss.
    momentum : float
        SGD momentum (ignored by Adam/AdamW).
    schedule : {'none', 'cosine', 'step'}
        Learning-rate schedule after warmup, as a function of the optimizer step.
    warmup_steps : int
        Linear warmup from 0 to ``learning_rate`` over this many steps (0 = none).
    min_lr_fraction : float
        Cosine floor, as a fraction of ``learning_rate``.
    step_epochs : int
        ``step`` schedule: multiply the learning rate by ``step_gamma`` every this many epochs.
    step_gamma : float
        ``step`` schedule factor.
    grad_clip_norm : float or None
        Clip the global gradient norm to this value; None disables clipping.
    early_stopping_metric : str
        Validation metric used to pick ``best.pt`` and stop early: ``window_auroc``,
        ``window_auprc``, ``val_loss``, ``window_sensitivity``, ``window_specificity``, or
        a metric registered with :func:`seizure.training.metrics.register_validation_metric`,
        e.g. ``ovlp_sensitivity_at_fa`` (:mod:`seizure.training.metrics`: OVLP
        sensitivity on dev at the best swept threshold whose FA/24h is within
        ``early_stopping_fa_per_24h``, post-processed as the ``evaluate`` section says).
    early_stopping_fa_per_24h : float
        False-alarm budget (per 24 h) of the ``ovlp_sensitivity_at_fa`` validation metric.
    early_stopping_mode : {'auto', 'max', 'min'}
        Whether larger is better; ``auto`` is ``min`` for names ending in ``loss``.
    patience : int
        Stop after this many epochs without improvement (0 disables early stopping).
    min_delta : float
        Smallest change that counts as an improvement.
    max_steps : int or None
        Stop after this many optimizer steps in total (a run that reaches it is complete).
    eval_batch_size : int or None
        Sequences per validation batch; None uses ``batch_size``.
    precision : {'auto', 'fp32', 'bf16', 'fp16'}
        Autocast precision. ``auto``: bf16 on a GPU that supports it, fp32 otherwise.
        ``fp16`` uses a gradient scaler.
    compile : {'none', 'encoder', 'model'}
        ``torch.compile`` the model's convolutional ``encoder`` (the fast setting on a GPU)
        or the whole model. Needs a working compiler toolchain.
    cuda_graph : {'auto', True, False}
        Capture the whole training step (forward, backward, clipping, optimizer) of full
        batches as one CUDA graph and replay it, with the batch copied into static buffers
        and the scheduled learning rate written into a static tensor
        (:mod:`seizure.training.graphstep`); batches of another shape run the eager step. It
        pays at small batches (the paper's 64 x 7), where kernel launches dominate. Used on
        one CUDA device with Adam/AdamW in fp32 or bf16; fp16, SGD and DDP run the eager
        step. Off by default until it has been measured on a GPU (``benchmarks/gpu_check.sh``).
        ``auto``: the graph where it can be used; ``true``: the same, and a note says
        why when it cannot; ``false``: always eager. A capture that fails or whose first loss
        differs from the eager step's falls back to the eager step with a warning.
    cudnn_benchmark : bool
        Let cuDNN pick the fastest kernels (faster, not bit-reproducible).
    deterministic : bool
        ``torch.use_deterministic_algorithms(True)`` (slower on GPU; CPU is deterministic).
    feeder : {'auto', 'gpu', 'threads', 'dataloader'}
        How batches reach the model. ``gpu``: the whole training split resident in device
        memory in its stored dtype, sequences gathered on the device. ``threads``: a
        background thread gathers contiguous sequences from the memory-mapped cache into
        pinned buffers (``num_workers`` copy threads), copied with ``non_blocking``.
        ``dataloader``: a per-sequence ``Dataset`` with a ``DataLoader`` (``num_workers``
        processes), the plain way. ``auto``: ``gpu`` when the split fits in
        ``gpu_resident_fraction`` of free device memory, else ``threads``.
    gpu_resident_fraction : float
        Fraction of free device memory the resident split may take with ``feeder='auto'``.
    num_workers : int
        Copy threads (``threads``) or worker processes (``dataloader``).
    prefetch_batches : int
        Batches gathered ahead of the model.
    log_every_steps : int
        How often the loss is read back from the device (for the progress bar and the
        non-finite check on a GPU; every step on the CPU).
    checkpoint_every_steps : int or None
        Also write ``last.pt`` every this many steps inside an epoch (None: end of epoch only).
    progress : bool
        Show a progress bar (on a terminal; see ``seizure.utils.progress``).
    cpu_threads : int or None
        ``torch.set_num_threads`` for this run (None: PyTorch's default, one per core). On a
        busy shared machine 1 can be several times faster for small models.
    """

    epochs: int = 10
    batch_size: int = 64
    sequence_windows: int = 30
    sequence_sampling: Literal["random_offset", "tile"] = "random_offset"
    imbalance: Literal["pos_weight", "oversample", "none"] = "pos_weight"
    pos_weight: float | None = None
    oversample_fraction: float = 0.5
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: Literal["none", "cosine", "step"] = "none"
    warmup_steps: int = 0
    min_lr_fraction: float = 0.0
    step_epochs: int = 10
    step_gamma: float = 0.1
    grad_clip_norm: float | None = 5.0
    early_stopping_metric: str = "window_auroc"
    early_stopping_fa_per_24h: float = 6.75
    early_stopping_mode: Literal["auto", "max", "min"] = "auto"
    patience: int = 5
    min_delta: float = 0.0
    max_steps: int | None = None
    eval_batch_size: int | None = None
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    compile: Literal["none", "encoder", "model"] = "none"
    cuda_graph: Literal["auto"] | bool = False
    cudnn_benchmark: bool = True
    deterministic: bool = False
    feeder: Literal["auto", "gpu", "threads", "dataloader"] = "auto"
    gpu_resident_fraction: float = 0.5
    num_workers: int = 4
    prefetch_batches: int = 3
    log_every_steps: int = 50
    checkpoint_every_steps: int | None = None
    progress: bool = True
    cpu_threads: int | None = None

    def __post_init__(self) -> None:
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "sequence_windows": self.sequence_windows,
            "log_every_steps": self.log_every_steps,
            "prefetch_batches": self.prefetch_batches,
            "step_epochs": self.step_epochs,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"train.{name} must be >= 1, got {value}")
        for name in ("max_steps", "checkpoint_every_steps", "eval_batch_size", "cpu_threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"train.{name} must be >= 1 or null, got {value}")
        if self.learning_rate < 0:
            raise ValueError(f"train.learning_rate must be >= 0, got {self.learning_rate}")
        if not 0.0 < self.oversample_fraction < 1.0:
            raise ValueError(
                f"train.oversample_fraction must be in (0, 1), got {self.oversample_fraction}"
            )
        if not 0.0 < self.gpu_resident_fraction <= 1.0:
            raise ValueError(
                f"train.gpu_resident_fraction must be in (0, 1], got {self.gpu_resident_fraction}"
            )
        if self.pos_weight is not None and self.pos_weight <= 0:
            raise ValueError(f"train.pos_weight must be > 0 or null, got {self.pos_weight}")
        if self.grad_clip_norm is not None and self.grad_clip_norm <= 0:
            raise ValueError(f"train.grad_clip_norm must be > 0 or null, got {self.grad_clip_norm}")
        if not self.early_stopping_fa_per_24h > 0:
            raise ValueError(
                f"train.early_stopping_fa_per_24h must be > 0, got {self.early_stopping_fa_per_24h}"
            )
        if self.num_workers < 0 or self.warmup_steps < 0 or self.patience < 0:
            raise ValueError("train.num_workers, warmup_steps and patience must be >= 0")
