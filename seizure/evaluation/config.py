"""Configuration of ``seizure evaluate`` and ``detect`` (section ``evaluate``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EvaluateConfig:
    """Post-processing of window probabilities into events, and scoring.

    Parameters
    ----------
    threshold : float
        Probability above which a window is ictal.
    smoothing_windows : int
        Width of the moving average applied to probabilities, in windows (1 = none).
    min_event_seconds : float
        Events shorter than this are dropped, in seconds.
    merge_gap_seconds : float
        Events separated by less than this are merged, in seconds.
    epoch_seconds : float
        Epoch length of the EPOCH scorer, in seconds (NEDC: 0.25).
    dpalign_penalties : (float, float, float)
        Deletion, insertion and substitution penalties of the DPALIGN scorer (NEDC: 1, 1, 1).
    patient_regex : str
        Regular expression matched at the start of a recording name to get its patient, for
        SzCORE's per-patient average: its first group if it has one, else the whole match
        (default: up to the first ``_``, e.g. ``aaaaaasf`` or ``sub-01``).
    szcore_fs_hz : int
        Rate of the SzCORE scoring masks in Hz (SzCORE: 1).
    sequence_windows : int or None
        Windows per inference sequence; None uses the checkpoint's ``train.sequence_windows``
        (the length the model was trained on).
    context_windows : int
        Windows of context on each side of a sequence whose predictions are discarded
        (consecutive sequences overlap by twice this); 0 tiles the recording with
        independent sequences, as in training. Costs ``L / (L - 2 * context)`` more compute.
    batch_sequences : int or None
        Sequences per inference batch; None picks 2048 on GPUs of 32 GiB or more, 1024 on
        smaller ones and 32 on CPU.
    reader_threads : int or None
        Threads reading windows from the cache into the inference buffers; None picks
        ``min(16, usable CPUs)`` (about 22 GB/s of page-cache reads are needed to feed 2M
        windows/s to a GPU; on a CPU the model is the bottleneck and idle readers cost nothing).
    amp : bool
        bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX); fp32 elsewhere.
    compile : {'auto', 'always', 'never'}
        ``torch.compile`` the model; ``auto`` compiles on CUDA only.
    cuda_graphs : bool
        On CUDA, run the model of each full batch as one captured CUDA graph (checked against
        the model at capture; falls back with a warning; see :mod:`seizure.inference.graphs`).
        Off by default.
    sweep_min, sweep_max : float
        Threshold range of the operating curve (probabilities).
    sweep_points : int
        Thresholds on the operating curve (evenly spaced, ends included).
    fa_budgets_per_24h : tuple of float
        False-alarm budgets (per 24 h) at which operating points are marked.
    select_fa_per_24h : float or None
        When set, the threshold written to ``scores.json`` and the hypothesis files is the
        operating point of the OVLP curve at this budget instead of ``threshold``
        (choose it on a development split: picking it on the evaluated split is optimistic).
    """

    threshold: float = 0.5
    smoothing_windows: int = 1
    min_event_seconds: float = 0.0
    merge_gap_seconds: float = 0.0
    epoch_seconds: float = 0.25
    dpalign_penalties: tuple[float, float, float] = (1.0, 1.0, 1.0)
    patient_regex: str = "^[^_]+"
    szcore_fs_hz: int = 1
    sequence_windows: int | None = None
    context_windows: int = 0
    batch_sequences: int | None = None
    reader_threads: int | None = None
    amp: bool = True
    compile: Literal["auto", "always", "never"] = "auto"
    cuda_graphs: bool = False
    sweep_min: float = 0.02
    sweep_max: float = 0.98
    sweep_points: int = 49
    fa_budgets_per_24h: tuple[float, ...] = (1.0, 6.75, 10.0)
    select_fa_per_24h: float | None = None
