"""Operating points chosen on one split and applied unchanged to another.

A *setting* is the post-processing of :mod:`seizure.scoring.postprocess` (smoothing width,
gap merging, minimum event duration) together with a threshold. The search tries every
combination of a small grid of post-processing settings with every threshold of the sweep on
the *choosing* split (normally ``dev``) and keeps the most sensitive one whose NEDC OVLP false
alarms stay within a budget; the evaluated split's probabilities are never read.

Ties are broken by the lower FA/24h, then the higher threshold, then the earlier setting of
the grid (the grid lists the lightest post-processing first). When no setting meets the
budget the one with the fewest false alarms is kept (then the most sensitive) and the choice
says so.

Cost: each recording is smoothed once per smoothing width and post-processed once per
(setting, threshold); its OVLP counts are additive (:func:`seizure.scoring.score.score_events`),
so the split's figures at every grid point are sums of per-recording counts, and a recording
whose events are the same at two grid points is scored once.

Figures are pooled over the split's recordings, as in :mod:`seizure.scoring.curve`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from seizure.config import Config, ConfigError
from seizure.evaluation.probabilities import EvaluationError, run_model
from seizure.io.events import Event
from seizure.scoring.nedc import NedcCounts
from seizure.scoring.postprocess import postprocess_sweep, sweep_thresholds
from seizure.scoring.score import ScoreParams, score_events

__all__ = [
    "CHOICE_PROBS",
    "ChoosingSplit",
    "OperatingChoice",
    "PostprocessSetting",
    "apply_choice",
    "choose_on_split",
    "choose_operating_point",
    "choosing_split",
    "grid_settings",
    "ovlp_grid_counts",
]


#: Folder of ``seizure evaluate``'s output holding the choosing split's probabilities.
CHOICE_PROBS = "choice_probs"


@dataclass
class ChoosingSplit:
    """The split that chooses the operating point, read from the cache.

    Attributes
    ----------
    split : str
    records : list of CacheRecord
    refs : dict of str to list of Event
        Reference seizures (seconds) by recording id.
    durations : dict of str to float
        Seconds.
    probs : dict of str to ndarray or None
        Probabilities (shape ``(n_windows,)`` each) when already known.
    """

    split: str
    records: list[Any]
    refs: dict[str, list[Event]]
    durations: dict[str, float]
    probs: dict[str, np.ndarray] | None = field(default=None)


def choosing_split(config: Any, cache: Any, split: str) -> tuple[ChoosingSplit | None, str]:
    """Resolve ``evaluate.choose_on`` for an evaluation of ``split``.

    Parameters
    ----------
    config : EvaluateConfig
    cache : Cache
    split : str
        The evaluated split.

    Returns
    -------
    chooser : ChoosingSplit or None
        None: the fixed settings of ``config`` are used.
    note : str
        Why the fixed settings are used under ``auto`` (to print), else empty.

    Raises
    ------
    seizure.config.ConfigError
        ``choose_on`` (or ``select_fa_per_24h``) would choose on the evaluated split itself
        without ``allow_choose_on_evaluated``.
    EvaluationError
        ``choose_on`` names a split that has no recordings or no seizures.
    """
    on = config.choose_on.strip()
    allowed = config.allow_choose_on_evaluated
    if config.select_fa_per_24h is not None:
        if not allowed:
            raise ConfigError(
                "evaluate.select_fa_per_24h picks the threshold on the evaluated split "
                f"{split!r} itself, which is optimistic; choose on another split with "
                "evaluate.choose_on=dev and evaluate.choose_fa_per_24h, or set "
                "evaluate.allow_choose_on_evaluated=true to do it anyway"
            )
        return None, ""
    if on == "none":
        return None, ""
    if on == "auto":
        if split == "dev":
            return None, "evaluating split dev: fixed evaluate settings (nothing else to choose on)"
        chooser = _read_split(cache, "dev")
        if chooser is None or not any(chooser.refs.values()):
            return None, (
                f"{cache.path} has no dev split with seizures: using the fixed evaluate "
                "settings (threshold, smoothing, gaps, minimum duration) instead of choosing "
                "them on dev"
            )
        return chooser, ""
    if on == split and not allowed:
        raise ConfigError(
            f"Invalid value for 'evaluate.choose_on': allowed a split other than the evaluated "
            f"one ({split!r}), got {on!r} instead; choosing the operating point on the split "
            "it is scored on is optimistic (set evaluate.allow_choose_on_evaluated=true to "
            "do it anyway)"
        )
    chooser = _read_split(cache, on)
    if chooser is None or not any(chooser.refs.values()):
        present = sorted({r.split for r in cache.records})
        what = "no recordings" if chooser is None else "no seizures"
        raise EvaluationError(
            f"{cache.path}: split {on!r} (evaluate.choose_on) has {what} to choose an "
            f"operating point on (splits present: {', '.join(present) or 'none'})"
        )
    return chooser, ""


def _read_split(cache: Any, split: str) -> ChoosingSplit | None:
    records = list(cache.split(split))
    if not records:
        return None
    ids = [r.recording_id for r in records]
    return ChoosingSplit(
        split,
        records,
        {rid: list(cache.events(rid)) for rid in ids},
        {r.recording_id: float(r.duration_s) for r in records},
    )


@dataclass(frozen=True)
class PostprocessSetting:
    """One point of the post-processing grid.

    Attributes
    ----------
    smoothing_windows : int
        Moving-average width in windows.
    merge_gap_seconds : float
        Gaps shorter than this are closed, seconds.
    min_event_seconds : float
        Shorter events are dropped, seconds.
    """

    smoothing_windows: int = 1
    merge_gap_seconds: float = 0.0
    min_event_seconds: float = 0.0

    def kwargs(self) -> dict[str, float | int]:
        """Keyword arguments of :func:`seizure.scoring.postprocess.postprocess`."""
        return asdict(self)


@dataclass(frozen=True)
class OperatingChoice:
    """The threshold and post-processing chosen on one split.

    Attributes
    ----------
    split : str
        The split whose probabilities chose them.
    budget_fa_per_24h : float
        The OVLP false-alarm budget, per 24 h.
    threshold : float
    setting : PostprocessSetting
    sensitivity : float
        OVLP sensitivity on the choosing split (fraction).
    false_alarms_per_24h : float
        OVLP false alarms per 24 h on the choosing split.
    met_budget : bool
        False when no setting met the budget (the fewest false alarms were kept).
    candidates : int
        Settings x thresholds tried.
    seconds : float
        Wall time of the search.
    """

    split: str
    budget_fa_per_24h: float
    threshold: float
    setting: PostprocessSetting
    sensitivity: float
    false_alarms_per_24h: float
    met_budget: bool
    candidates: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON): the setting's fields inline."""
        out = asdict(self)
        out.update(out.pop("setting"))
        return out

    def describe(self) -> str:
        """One line: what was chosen, on which split, at which budget."""
        s = self.setting
        met = "" if self.met_budget else "; no setting met the budget: fewest false alarms"
        return (
            f"chosen on split {self.split} at OVLP <= {self.budget_fa_per_24h:g} FA/24h: "
            f"threshold {self.threshold:g}, smoothing {s.smoothing_windows} windows, "
            f"merge gaps < {s.merge_gap_seconds:g} s, min event {s.min_event_seconds:g} s "
            f"(on {self.split}: OVLP sensitivity {100 * self.sensitivity:.1f}%, "
            f"{self.false_alarms_per_24h:.2f} FA/24h){met}"
        )


def grid_settings(config: Any) -> list[PostprocessSetting]:
    """List the post-processing grid of an ``evaluate`` config (``choose_*``), lightest first.

    Parameters
    ----------
    config : EvaluateConfig

    Returns
    -------
    list of PostprocessSetting
        Every combination, in sorted order of smoothing, then gap, then minimum duration.
    """
    return [
        PostprocessSetting(int(w), float(g), float(m))
        for w, g, m in itertools.product(
            sorted(set(config.choose_smoothing_windows)),
            sorted(set(config.choose_merge_gap_seconds)),
            sorted(set(config.choose_min_event_seconds)),
        )
    ]


def ovlp_grid_counts(
    probs: Mapping[str, np.ndarray],
    refs: Mapping[str, Sequence[Event]],
    durations: Mapping[str, float],
    settings: Sequence[PostprocessSetting],
    thresholds: Sequence[float],
    *,
    window_seconds: float,
    stride_seconds: float,
    params: ScoreParams | None = None,
) -> list[list[NedcCounts]]:
    """OVLP counts of the whole split at every (setting, threshold).

    Parameters
    ----------
    probs : mapping of str to ndarray, shape (n_windows,)
        Per-window probabilities by recording id.
    refs : mapping of str to list of Event
        Reference seizures (seconds) by recording id.
    durations : mapping of str to float
        Recording durations, seconds.
    settings : sequence of PostprocessSetting
    thresholds : sequence of float
    window_seconds, stride_seconds : float
        Window length and hop, seconds.
    params : ScoreParams, optional

    Returns
    -------
    list of list of NedcCounts
        ``counts[i][j]``: setting ``i`` at threshold ``j``, summed over the recordings.
    """
    totals: list[list[NedcCounts | None]] = [[None] * len(thresholds) for _ in settings]
    for rid, p in probs.items():
        seen: dict[tuple[tuple[float, float], ...], NedcCounts] = {}
        for i, setting in enumerate(settings):
            sweep = postprocess_sweep(
                p,
                thresholds,
                window_seconds=window_seconds,
                stride_seconds=stride_seconds,
                duration_s=durations[rid],
                **setting.kwargs(),
            )
            for j, events in enumerate(sweep):
                key = tuple((e.start, e.stop) for e in events)
                counts = seen.get(key)
                if counts is None:
                    counts = seen[key] = score_events(
                        refs[rid], events, durations[rid], "ovlp", params
                    )  # type: ignore[assignment]
                prev = totals[i][j]
                totals[i][j] = counts if prev is None else prev + counts
    empty = NedcCounts("ovlp")
    return [[c if c is not None else empty for c in row] for row in totals]


def choose_operating_point(
    probs: Mapping[str, np.ndarray],
    refs: Mapping[str, Sequence[Event]],
    durations: Mapping[str, float],
    settings: Sequence[PostprocessSetting],
    thresholds: Sequence[float],
    budget_fa_per_24h: float,
    *,
    split: str,
    window_seconds: float,
    stride_seconds: float,
    params: ScoreParams | None = None,
) -> OperatingChoice:
    """Choose the most sensitive (setting, threshold) within an OVLP false-alarm budget.

    Parameters
    ----------
    probs, refs, durations
        The choosing split's probabilities (shape ``(n_windows,)`` each), reference events and
        durations (seconds), by recording id.
    settings : sequence of PostprocessSetting
        The post-processing grid (:func:`grid_settings`), lightest first.
    thresholds : sequence of float
        Probability thresholds.
    budget_fa_per_24h : float
        OVLP false alarms per 24 h allowed.
    split : str
        Name of the choosing split (recorded in the choice).
    window_seconds, stride_seconds : float
        Window length and hop, seconds.
    params : ScoreParams, optional

    Returns
    -------
    OperatingChoice
        See the module docstring for the rule and its ties.

    Raises
    ------
    ValueError
        Empty grid, no thresholds or no recordings.
    """
    if not settings or len(thresholds) == 0 or not probs:
        raise ValueError("choosing an operating point needs settings, thresholds and recordings")
    t0 = time.perf_counter()
    grid = ovlp_grid_counts(
        probs, refs, durations, settings, thresholds,
        window_seconds=window_seconds, stride_seconds=stride_seconds, params=params,
    )  # fmt: skip
    rows = []  # (met, sensitivity, -fa, threshold, -setting index)
    for i, row in enumerate(grid):
        for j, counts in enumerate(row):
            seiz = counts.metrics().per_label["seiz"]
            sens, fa = float(seiz["sensitivity"]), float(seiz["fa_per_24h"])
            met = fa <= budget_fa_per_24h
            rank = (sens, -fa) if met else (-fa, sens)
            rows.append((met, *rank, float(thresholds[j]), -i, sens, fa))
    met, *_, thr, neg_i, sens, fa = max(rows)
    return OperatingChoice(
        split=split,
        budget_fa_per_24h=float(budget_fa_per_24h),
        threshold=thr,
        setting=settings[-neg_i],
        sensitivity=sens,
        false_alarms_per_24h=fa,
        met_budget=bool(met),
        candidates=len(rows),
        seconds=time.perf_counter() - t0,
    )


def choose_on_split(
    out: Path,
    checkpoint: Path,
    state: Mapping[str, Any],
    sha: str,
    config: Config,
    cache: Any,
    chooser: ChoosingSplit,
    device: str,
    model_factory: Callable[..., Any] | None,
    say: Callable[[str], None],
) -> OperatingChoice:
    """Choose the threshold and post-processing on ``chooser``'s split.

    Its probabilities are reused when ``chooser.probs`` holds them, else computed with the
    engine of ``seizure evaluate`` into ``out / CHOICE_PROBS`` (reusable like ``probs/``).

    Returns
    -------
    OperatingChoice
    """
    ev = config.evaluate
    probs = chooser.probs
    if probs is None:
        probs, _ = run_model(
            checkpoint, config, state, cache, chooser.records, out / CHOICE_PROBS, sha, device,
            model_factory, say,
        )  # fmt: skip
    else:
        say(f"choosing on split {chooser.split} with saved probabilities")
    settings, thresholds = grid_settings(ev), sweep_thresholds(ev)
    choice = choose_operating_point(
        probs, chooser.refs, chooser.durations, settings, thresholds, ev.choose_fa_per_24h,
        split=chooser.split, window_seconds=cache.window_seconds,
        stride_seconds=cache.stride_seconds, params=ScoreParams.from_config(ev),
    )  # fmt: skip
    say(
        f"{choice.describe()} [{choice.candidates} settings x thresholds in {choice.seconds:.2f} s]"
    )
    return choice


def apply_choice(config: Config, choice: OperatingChoice) -> Config:
    """Return ``config`` with the chosen threshold and post-processing in ``evaluate``."""
    ev = replace(config.evaluate, threshold=choice.threshold, **choice.setting.kwargs())
    return replace(config, evaluate=ev)
