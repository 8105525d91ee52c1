"""Score hypothesis seizure events against references: the library behind ``seizure score``.

Methods (keys of the results):

``ovlp``, ``taes``, ``epoch``, ``dpalign``
    NEDC EEG Eval v6.0.0's scorers for label ``seiz`` (:mod:`seizure.scoring.nedc`), pooled
    over recordings: counts are summed, then sensitivity, specificity and false alarms per
    24 h are derived from the sums; the total duration is the sum of the reference durations.
``szcore_event``, ``szcore_sample``
    SzCORE's event and sample scoring through ``timescoring``
    (:mod:`seizure.scoring.szcore`), pooled over recordings, plus SzCORE's average over
    patients (the recording name up to the first ``_`` by default).

Every method's pooled sensitivity and false alarms per 24 h also get a 95% interval from
resampling the patients (:mod:`seizure.scoring.intervals`).

Entry points, from cheapest to most convenient:

* :func:`score_events` - one recording, one method, events in memory (returns additive
  counts; sum them over recordings, e.g. once per threshold of an operating curve);
* :func:`score_recordings` - many recordings given as ``(name, ref, hyp, duration)``;
* :func:`score_pairs` - many :class:`~seizure.io.events.Annotation` pairs;
* :func:`score_files` - reference and hypothesis list files or folders (what the CLI runs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from seizure.evaluation.config import check_scoring_settings
from seizure.io.annotations import read_annotation
from seizure.io.edf import read_edf_header
from seizure.io.events import Annotation, duration_problem
from seizure.scoring.intervals import PatientIntervals, patient_intervals
from seizure.scoring.lists import pair_inputs, recording_name
from seizure.scoring.nedc import (
    NEDC_METHODS,
    SEIZ,
    Intervals,
    NedcCounts,
    as_intervals,
    build_timeline,
    score_timelines,
)
from seizure.scoring.szcore import SZCORE_METHODS, SzcoreCounts, patient_average, szcore_counts
from seizure.utils.errors import InputFileError

#: Every method, in report order.
METHODS: tuple[str, ...] = NEDC_METHODS + SZCORE_METHODS

Counts = NedcCounts | SzcoreCounts


@dataclass(frozen=True)
class ScoreParams:
    """Scoring parameters (NEDC's ``params.toml`` values by default).

    Parameters
    ----------
    epoch_s : float
        EPOCH scorer epoch in seconds.
    dpalign_penalties : (float, float, float)
        DPALIGN deletion, insertion and substitution penalties.
    patient_regex : str
        Matched at the start of a recording name to find its patient (first group, else the
        whole match; the whole name when it does not match).
    szcore_fs_hz : int
        SzCORE mask rate in Hz.

    Raises
    ------
    ValueError
        A setting :func:`~seizure.evaluation.config.check_scoring_settings` refuses.
    """

    epoch_s: float = 0.25
    dpalign_penalties: tuple[float, float, float] = (1.0, 1.0, 1.0)
    patient_regex: str = "^[^_]+"
    szcore_fs_hz: int = 1

    def __post_init__(self) -> None:
        check_scoring_settings(
            self.epoch_s,
            self.dpalign_penalties,
            self.patient_regex,
            self.szcore_fs_hz,
            prefix="",
            epoch_key="epoch_s",
        )

    @classmethod
    def from_config(cls, config: Any) -> ScoreParams:
        """Take the scoring fields of an :class:`~seizure.evaluation.config.EvaluateConfig`."""
        return cls(
            epoch_s=config.epoch_seconds,
            dpalign_penalties=tuple(config.dpalign_penalties),
            patient_regex=config.patient_regex,
            szcore_fs_hz=config.szcore_fs_hz,
        )


def check_methods(methods: str | Iterable[str] | None) -> tuple[str, ...]:
    """Validate method names; ``None`` or ``"all"`` means every method.

    Returns the methods without duplicates, in :data:`METHODS` order.

    Raises
    ------
    ValueError
        Naming the unknown method and the allowed ones.
    """
    if methods is None:
        return METHODS
    if isinstance(methods, str):
        methods = [methods]
    wanted: set[str] = set()
    for item in methods:
        for name in str(item).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name == "all":
                wanted.update(METHODS)
            elif name == "nedc":
                wanted.update(NEDC_METHODS)
            elif name == "szcore":
                wanted.update(SZCORE_METHODS)
            elif name in METHODS:
                wanted.add(name)
            else:
                raise ValueError(
                    f"Invalid value for 'method': allowed {', '.join(map(repr, METHODS))} "
                    f"(or 'all', 'nedc', 'szcore'), got {name!r} instead"
                )
    if not wanted:
        raise ValueError("Invalid value for 'method': no method given")
    return tuple(m for m in METHODS if m in wanted)


def patient_of(name: str, regex: str = "^[^_]+") -> str:
    """Patient of a recording name: ``aaaaaasf_s001_t000`` -> ``aaaaaasf``.

    The first group of ``regex`` matched at the start of ``name`` if it has groups, else the
    whole match; ``name`` itself when nothing matches.
    """
    m = re.match(regex, name)
    if not m:
        return name
    return (m.group(1) if m.groups() else m.group(0)) or name


def score_events(
    ref_events: Intervals | None,
    hyp_events: Intervals | None,
    duration_s: float,
    method: str = "ovlp",
    params: ScoreParams | None = None,
) -> Counts:
    """Score one recording with one method.

    Parameters
    ----------
    ref_events, hyp_events : sequence of Event, sequence of (start, stop), array (n, 2) or None
        Seizure events in seconds (``bckg`` events are ignored; ``None`` = no events). They
        are sorted, merged and clipped to ``[0, duration_s]`` first.
    duration_s : float
        Recording duration in seconds (the reference's ``# duration``).
    method : str
        One of :data:`METHODS`.
    params : ScoreParams, optional

    Returns
    -------
    NedcCounts or SzcoreCounts
        Additive counts: ``sum(...)`` them over recordings (start from the first one), then
        call ``.metrics()``.
    """
    params = params or ScoreParams()
    ref = as_intervals(ref_events, duration_s)
    hyp = as_intervals(hyp_events, duration_s)
    if method in NEDC_METHODS:
        return score_timelines(
            build_timeline(ref, duration_s),
            build_timeline(hyp, duration_s),
            method,
            params.epoch_s,
            params.dpalign_penalties,
        )
    if method in SZCORE_METHODS:
        return szcore_counts(ref, hyp, duration_s, method, params.szcore_fs_hz)
    check_methods([method])  # raises with the list of allowed names
    raise AssertionError(method)  # pragma: no cover


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _patient_arrays(per_patient: Mapping[str, Counts]) -> tuple[np.ndarray, ...]:
    """Hits, targets, scaled false alarms and seconds of each patient, shape (n_patients,).

    The quantities :meth:`MethodResult.summary` pools: NEDC label ``seiz``'s TP, TP + FN
    and FP (times the epoch length for EPOCH, as its rate scales them), SzCORE's TP,
    reference events or samples, and FP.
    """
    rows = []
    for c in per_patient.values():
        if isinstance(c, NedcCounts):
            seiz = c.metrics().per_label["seiz"]
            scale = c.epoch_s if c.method == "epoch" else 1.0
            rows.append((seiz["tp"], seiz["tp"] + seiz["fn"], seiz["fp"] * scale, c.duration_s))
        else:
            rows.append((c.tp, c.ref_true, c.fp, c.duration_s))
    table = np.array(rows, dtype=float).reshape(len(rows), 4)
    return tuple(table[:, k] for k in range(4))


@dataclass
class MethodResult:
    """Pooled counts of one method, and the counts of each patient."""

    method: str
    counts: Counts
    per_patient: dict[str, Counts] = field(default_factory=dict)

    def intervals(self) -> PatientIntervals:
        """95% intervals of the pooled sensitivity and FA/24h over resampled patients.

        See :func:`seizure.scoring.intervals.patient_intervals` (1000 draws, seed 0) over
        :attr:`per_patient`.
        """
        return patient_intervals(*_patient_arrays(self.per_patient))

    def summary(self) -> dict[str, Any]:
        """Return the method's entry of ``seizure score --json``.

        Keys: ``sensitivity`` and ``specificity`` (fractions in [0, 1]; ``None`` where
        undefined, e.g. specificity of SzCORE event scoring), ``false_alarms_per_24h``,
        ``hits``, ``misses``, ``false_alarms``, ``targets``, ``precision``, ``f1``,
        ``total_duration_s``, ``unit`` (what the counts count: ``events``, ``epochs`` or
        ``samples``); NEDC methods add ``nedc`` (every figure NEDC prints, per label and in
        its summary); SzCORE methods add ``patient_average``. With :attr:`per_patient`
        given, ``patients`` (how many), ``sensitivity_95`` and ``false_alarms_per_24h_95``
        (``[low, high]`` of the pooled figure over resampled patients, see
        :meth:`intervals`; ``None`` where no draw defines it).
        """
        c = self.counts
        if isinstance(c, NedcCounts):
            m = c.metrics()
            seiz = m.per_label["seiz"]
            out: dict[str, Any] = {
                "sensitivity": seiz["sensitivity"],
                "specificity": seiz["specificity"],
                "false_alarms_per_24h": seiz["fa_per_24h"],
                "hits": float(c.hits[SEIZ]),
                "misses": float(c.misses[SEIZ]),
                "false_alarms": seiz["fp"],
                "targets": float(c.targets[SEIZ]),
                "precision": seiz["precision"],
                "f1": seiz["f1"],
                "total_duration_s": c.duration_s,
                "unit": "epochs" if c.method == "epoch" else "events",
                "nedc": {"per_label": m.per_label, "summary": m.summary},
            }
        else:
            m2 = c.metrics()
            out = {
                "sensitivity": m2["sensitivity"],
                "specificity": m2["specificity"],
                "false_alarms_per_24h": m2["fp_per_24h"],
                "hits": c.tp,
                "misses": c.ref_true - c.tp,
                "false_alarms": c.fp,
                "targets": c.ref_true,
                "precision": m2["precision"],
                "f1": m2["f1"],
                "total_duration_s": c.duration_s,
                "unit": "events" if c.method == "szcore_event" else "samples",
                "patient_average": patient_average(self.per_patient),  # SzcoreCounts only
            }
        if self.per_patient:
            ci = self.intervals()
            out["sensitivity_95"] = None if ci.sensitivity is None else list(ci.sensitivity)
            out["false_alarms_per_24h_95"] = (
                None if ci.false_alarms_per_24h is None else list(ci.false_alarms_per_24h)
            )
            out["patients"] = ci.patients
        return _clean(out)


@dataclass
class ScoreReport:
    """Result of scoring a set of recordings.

    Attributes
    ----------
    results : dict of str to MethodResult
        One entry per method, in :data:`METHODS` order.
    files : int
        Recording pairs scored.
    duration_s : float
        Total reference duration in seconds.
    warnings : list of str
        Problems met (missing hypotheses, duration mismatches, clipped events...), one line
        each, naming the file.
    per_file : dict of str to dict of str to counts
        ``per_file[name][method]`` when requested (``keep_per_file=True``), else empty.
    """

    results: dict[str, MethodResult]
    files: int
    duration_s: float
    warnings: list[str] = field(default_factory=list)
    per_file: dict[str, dict[str, Counts]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{method: summary, ..., "files": n}`` as ``seizure score --json`` writes it."""
        out: dict[str, Any] = {m: r.summary() for m, r in self.results.items()}
        out["files"] = self.files
        return out


Recording = tuple[str, Intervals | None, Intervals | None, float]


def score_recordings(
    recordings: Iterable[Recording],
    methods: str | Iterable[str] | None = None,
    params: ScoreParams | None = None,
    keep_per_file: bool = False,
) -> ScoreReport:
    """Score many recordings held in memory.

    Parameters
    ----------
    recordings : iterable of (name, ref_events, hyp_events, duration_s)
        Events as accepted by :func:`score_events`; ``name`` identifies the recording in
        messages and gives its patient (``params.patient_regex``).
    methods : str or iterable of str, optional
        Methods to run (default: all of :data:`METHODS`).
    params : ScoreParams, optional
    keep_per_file : bool
        Keep each recording's counts in :attr:`ScoreReport.per_file`.

    Returns
    -------
    ScoreReport

    Raises
    ------
    ValueError
        A duration that is not in ``(0, MAX_RECORDING_SECONDS]`` (7 days; see
        :data:`seizure.io.events.MAX_RECORDING_SECONDS`), naming the recording.
    """
    methods = check_methods(methods)
    params = params or ScoreParams()
    totals: dict[str, Counts | None] = dict.fromkeys(methods)
    patients: dict[str, dict[str, Counts]] = {m: {} for m in methods}
    per_file: dict[str, dict[str, Counts]] = {}
    files = 0
    duration = 0.0
    for name, ref_events, hyp_events, duration_s in recordings:
        duration_s = float(duration_s)
        problem = duration_problem(duration_s)
        if problem is not None:
            raise ValueError(f"{name}: recording duration {duration_s:g} s {problem}")
        ref = as_intervals(ref_events, duration_s)
        hyp = as_intervals(hyp_events, duration_s)
        files += 1
        duration += duration_s
        ref_tl = hyp_tl = None
        patient = patient_of(name, params.patient_regex)
        for method in methods:
            if method in NEDC_METHODS:
                if ref_tl is None:
                    ref_tl = build_timeline(ref, duration_s)
                    hyp_tl = build_timeline(hyp, duration_s)
                counts: Counts = score_timelines(
                    ref_tl, hyp_tl, method, params.epoch_s, params.dpalign_penalties
                )
            else:
                counts = szcore_counts(ref, hyp, duration_s, method, params.szcore_fs_hz)
            prev = patients[method].get(patient)
            patients[method][patient] = counts if prev is None else prev + counts
            total = totals[method]
            totals[method] = counts if total is None else total + counts
            if keep_per_file:
                per_file.setdefault(name, {})[method] = counts
    results: dict[str, MethodResult] = {}
    for method in methods:
        total = totals[method]
        if total is None:  # no recordings: empty counts
            total = (
                NedcCounts(method, epoch_s=params.epoch_s)
                if method in NEDC_METHODS
                else SzcoreCounts(method)
            )
        results[method] = MethodResult(method, total, patients[method])
    return ScoreReport(results, files, duration, per_file=per_file)


def _duration(ref: Annotation, hyp: Annotation | None, name: str, warnings: list[str]) -> float:
    """Return the recording duration.

    It is the reference's header, else the hypothesis', else the last reference event's stop
    (TSE/LBL files list every interval, background included); one outside ``(0, 7 days]`` is
    refused naming the reference file.
    """
    if ref.duration is not None:
        duration = float(ref.duration)
    elif hyp is not None and hyp.duration is not None:
        duration = float(hyp.duration)
        warnings.append(
            f"{name}: reference states no duration; using the hypothesis' {duration:g} s"
        )
    else:
        stops = [e.stop for e in ref.events]
        if not stops:
            raise InputFileError(ref.source, "no duration stated and no events to infer it from")
        duration = float(max(stops))
        warnings.append(
            f"{name}: no duration stated; using the last reference event's stop ({duration:g} s)"
        )
    problem = duration_problem(duration)
    if problem is not None:
        raise InputFileError(ref.source, f"recording duration {duration:g} s {problem}")
    if hyp is not None and hyp.duration is not None:
        if round(float(hyp.duration), 4) != round(duration, 4):
            warnings.append(
                f"{name}: hypothesis duration {float(hyp.duration):g} s differs from the "
                f"reference duration {duration:g} s; scored over the reference duration"
            )
    return duration


def score_pairs(
    pairs: Sequence[tuple[Annotation, Annotation | None]],
    methods: str | Iterable[str] | None = None,
    params: ScoreParams | None = None,
    names: Sequence[str] | None = None,
    keep_per_file: bool = False,
) -> ScoreReport:
    """Score reference/hypothesis :class:`~seizure.io.events.Annotation` pairs.

    Parameters
    ----------
    pairs : sequence of (Annotation, Annotation or None)
        Reference and hypothesis of each recording; ``None`` means no detections. Every
        non-background label is a seizure; channel events are pooled to term level.
    methods : str or iterable of str, optional
        Default: all of :data:`METHODS`.
    params : ScoreParams, optional
    names : sequence of str, optional
        Recording names (default: the reference source's name without suffix, else
        ``recording<i>``); they give the patients of SzCORE's average.
    keep_per_file : bool
        Keep per-recording counts.

    Returns
    -------
    ScoreReport
        Its ``warnings`` hold duration mismatches and the annotations' own warnings.

    Raises
    ------
    InputFileError
        A recording whose duration is not in ``(0, 7 days]``, naming the reference file.
    """
    warnings: list[str] = []
    recs: list[Recording] = []
    for i, (ref, hyp) in enumerate(pairs):
        if names is not None:
            name = names[i]
        elif ref.source is not None:
            name = recording_name(ref.source)
        else:
            name = f"recording{i}"
        duration = _duration(ref, hyp, name, warnings)
        ref_events = ref.seizures(duration)
        hyp_events = [] if hyp is None else hyp.seizures(duration)
        for ann in (ref, hyp):
            if ann is not None:
                warnings.extend(w for w in ann.warnings if w not in warnings)
        recs.append((name, ref_events, hyp_events, duration))
    report = score_recordings(recs, methods, params, keep_per_file)
    report.warnings = warnings + report.warnings
    return report


def score_files(
    ref: str | Path,
    hyp: str | Path,
    methods: str | Iterable[str] | None = None,
    params: ScoreParams | None = None,
    keep_per_file: bool = False,
    label_map: Mapping[str, str] | None = None,
) -> ScoreReport:
    """Score annotation files named by list files or found in folders.

    Parameters
    ----------
    ref, hyp : str or Path
        NEDC list files or folders of annotation files (see :mod:`seizure.scoring.lists`).
    methods, params, keep_per_file
        As in :func:`score_recordings`.
    label_map : mapping of str to str, optional
        Annotation text -> label for reading both sides (see
        :func:`seizure.io.annotations.read_annotation`), e.g. an mne-bids ``trial_type``.

    Returns
    -------
    ScoreReport
        ``warnings`` name missing hypotheses (scored as no detections), unpaired files,
        repeated list lines (scored once) and duration mismatches. A reference beside its
        signal file (``X.edf`` or ``X.bdf`` next to ``X.csv_bi``; ``X_eeg.edf`` next to
        ``X_events.tsv``) whose duration differs from the signal's by more than
        ``max(1 s, one data record)`` is scored over the signal's duration, with a warning.

    Raises
    ------
    InputFileError
        A missing reference file, or a malformed annotation (the message names the file and
        line).
    """
    methods = check_methods(methods)
    pairing = pair_inputs(ref, hyp)
    warnings = list(pairing.warnings)
    anns: list[tuple[Annotation, Annotation | None]] = []
    names: list[str] = []
    for pair in pairing.pairs:
        if not pair.ref.is_file():
            raise InputFileError(pair.ref, "reference annotation file does not exist")
        ref_ann = read_annotation(pair.ref, label_map)
        if pair.hyp is None:
            warnings.append(f"{pair.name}: no hypothesis file; scored as no detections")
            hyp_ann = None
        elif not pair.hyp.is_file():
            warnings.append(f"{pair.hyp}: hypothesis file does not exist; scored as no detections")
            hyp_ann = None
        else:
            hyp_ann = read_annotation(pair.hyp, label_map)
        anns.append((_with_signal_duration(ref_ann, pair.ref, warnings), hyp_ann))
        names.append(pair.name)
    report = score_pairs(anns, methods, params, names, keep_per_file)
    report.warnings = warnings + report.warnings
    return report


def _signal_beside(ref: Path) -> Path | None:
    """Find the EDF/BDF file of the recording an annotation file describes, beside it.

    ``X.csv_bi`` -> ``X.edf``; ``X_events.tsv`` -> ``X_eeg.edf``; None when absent.
    """
    name = recording_name(ref)
    stems = (name + "_eeg", name) if ref.name.lower().endswith("_events.tsv") else (name,)
    for stem in stems:
        for suffix in (".edf", ".bdf", ".EDF", ".BDF"):
            candidate = ref.with_name(stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def _with_signal_duration(ann: Annotation, ref: Path, warnings: list[str]) -> Annotation:
    """Return ``ann`` with the duration of the signal file beside ``ref``, when they differ.

    The signal's duration is taken, with a warning, when ``ann``'s own differs by more than
    ``max(1 s, one data record)`` (the signal holds what was recorded; a stated duration
    beyond it would dilute the false-alarm rate).
    """
    if ann.duration is None:
        return ann
    signal = _signal_beside(ref)
    if signal is None:
        return ann
    try:
        header = read_edf_header(signal)
    except InputFileError as err:
        warnings.append(f"{ref}: cannot check its duration against {signal.name} ({err.reason})")
        return ann
    if abs(float(ann.duration) - header.duration_s) <= max(1.0, header.record_duration_s):
        return ann
    warnings.append(
        f"{ref}: states a duration of {float(ann.duration):g} s but {signal.name} beside it "
        f"lasts {header.duration_s:g} s; scored over the recording's {header.duration_s:g} s"
    )
    return replace(ann, duration=header.duration_s)
