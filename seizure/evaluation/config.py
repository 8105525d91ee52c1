"""Configuration of ``seizure evaluate`` and ``detect`` (section ``evaluate``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from seizure.utils.errors import invalid_value

#: Fastest SzCORE sample-scoring mask accepted, in Hz: 1 ms resolution, finer than any
#: annotation's onset precision; a 7-day recording then takes two masks of 605 MB each.
MAX_SZCORE_FS_HZ = 1000


def check_scoring_settings(
    epoch_s: float,
    dpalign_penalties: Sequence[float],
    patient_regex: str,
    szcore_fs_hz: int,
    *,
    prefix: str = "evaluate.",
    epoch_key: str = "epoch_seconds",
) -> None:
    """Refuse scoring settings that cannot be scored with.

    Parameters
    ----------
    epoch_s : float
        EPOCH scorer epoch in seconds; must be > 0.
    dpalign_penalties : sequence of 3 float
        DPALIGN deletion, insertion and substitution penalties; each finite and >= 0 (a
        negative penalty rewards the edit and makes the alignment meaningless).
    patient_regex : str
        Must compile as a Python regular expression.
    szcore_fs_hz : int
        SzCORE mask rate in Hz; in ``[1, MAX_SZCORE_FS_HZ]``.
    prefix, epoch_key : str
        How the keys are named in messages (``evaluate.epoch_seconds`` by default).

    Raises
    ------
    ValueError
        ``Invalid value for 'evaluate.x': allowed ..., got ... instead`` for the first bad
        setting (a bad regular expression also gives the regex engine's reason).
    """
    if not epoch_s > 0 or not math.isfinite(epoch_s):
        raise invalid_value(prefix + epoch_key, epoch_s, "a finite number of seconds > 0")
    penalties = tuple(dpalign_penalties)
    if len(penalties) != 3 or not all(math.isfinite(p) and p >= 0 for p in penalties):
        raise invalid_value(
            prefix + "dpalign_penalties",
            list(penalties),
            "three finite penalties >= 0 (deletion, insertion, substitution)",
        )
    if not 1 <= szcore_fs_hz <= MAX_SZCORE_FS_HZ:
        raise invalid_value(
            prefix + "szcore_fs_hz", szcore_fs_hz, f"an integer rate in [1, {MAX_SZCORE_FS_HZ}] Hz"
        )
    try:
        re.compile(patient_regex)
    except re.error as err:
        raise invalid_value(
            prefix + "patient_regex", patient_regex, f"a Python regular expression ({err})"
        ) from None


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
    sweep_high : tuple of float
        Thresholds added to the sweep above ``sweep_max`` (those of them that exceed it),
        each in (0, 1): they resolve overconfident detectors, whose seizure probabilities
        crowd near 1 (a logit step of about 0.7 each, up to 0.9999). Empty: the even
        grid alone.
    fa_budgets_per_24h : tuple of float
        False-alarm budgets (per 24 h) at which operating points are marked.
    select_fa_per_24h : float or None
        When set, the threshold written to ``scores.json`` and the hypothesis files is the
        operating point of the evaluated split's own OVLP curve at this budget (optimistic:
        refused unless ``allow_choose_on_evaluated``; prefer ``choose_on``).
    choose_on : str
        Split whose probabilities choose the threshold and the post-processing
        (:mod:`seizure.evaluation.selection`), applied unchanged to the evaluated split.
        ``auto`` (default): ``dev`` when the cache has a dev split with seizures and another
        split is evaluated, else the fixed settings above (with a printed note); ``none``:
        the fixed settings; a split name: that split, refused when it is the evaluated one
        unless ``allow_choose_on_evaluated``.
    choose_fa_per_24h : float
        False-alarm budget (OVLP, per 24 h) of the choice: the most sensitive setting whose
        false alarms on the choosing split stay at or under it.
    choose_smoothing_windows, choose_merge_gap_seconds, choose_min_event_seconds : tuple
        The post-processing grid searched (windows, seconds, seconds); every combination is
        tried with every threshold of the sweep (``sweep_*``).
    allow_choose_on_evaluated : bool
        Allow choosing on the evaluated split itself (the figures are then labelled as
        picked on it).
    """

    threshold: float = 0.5
    # The fixed post-processing (used when no dev split chooses): the most common dev choice
    # on the benchmark corpus, synth seed 0-2 baseline and seed-0-corpus CNN/LSTM seeds 0-2
    # (smoothing 9/3/9 and 1/3/1 windows, a tie: their median; gaps 0/0/30 and 0/10/10 s;
    # minimum 5/10/10 and 0/0/0 s; `python benchmarks/calibrate_benchmark.py --seeds 0 1 2`
    # and docs/benchmark.md).
    smoothing_windows: int = 3
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
    sweep_high: tuple[float, ...] = (0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999)
    fa_budgets_per_24h: tuple[float, ...] = (1.0, 6.75, 10.0)
    select_fa_per_24h: float | None = None
    choose_on: str = "auto"
    choose_fa_per_24h: float = 6.75
    choose_smoothing_windows: tuple[int, ...] = (1, 3, 5, 9)
    choose_merge_gap_seconds: tuple[float, ...] = (0.0, 10.0, 30.0)
    choose_min_event_seconds: tuple[float, ...] = (0.0, 5.0, 10.0)
    allow_choose_on_evaluated: bool = False

    def __post_init__(self) -> None:
        check_scoring_settings(
            self.epoch_seconds, self.dpalign_penalties, self.patient_regex, self.szcore_fs_hz
        )
