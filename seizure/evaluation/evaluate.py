"""``seizure evaluate``: run a checkpoint over a cache split, post-process, sweep, score, report.

What it does, in order:

1. Reads the checkpoint and resolves the config: the checkpoint's stored config, then
   ``--config`` files, then ``--set`` overrides. Only the ``evaluate`` section (and ``seed``)
   may differ from the stored config: the model, its preprocessing and its training are what
   they were.
2. Opens the cache and refuses it unless its preprocessing fingerprint equals the one the
   checkpoint was trained with (the message lists the parameters that differ).
3. Computes per-window probabilities for every recording of the split, streaming and batched
   (:mod:`seizure.inference`), and saves them as ``OUT/probs/<id>.npy`` (float32,
   one value per cached window) with ``OUT/probs/index.json``. With ``reuse_probs`` and a
   matching index (same checkpoint file hash and cache fingerprint) the model is not run.
4. Sweeps the threshold (``evaluate.sweep_*``): post-processing and OVLP/TAES/SzCORE-event
   scoring repeat per threshold, the probabilities do not. Writes ``curve.csv`` and
   ``curve.png`` and finds the operating points at ``evaluate.fa_budgets_per_24h``.
5. At the chosen threshold (``evaluate.threshold``, or the OVLP operating point at
   ``evaluate.select_fa_per_24h``) writes one hypothesis per recording,
   ``OUT/hyp/<id>.csv_bi`` and SzCORE ``OUT/hyp/<id>.tsv`` (a BIDS recording's in the BIDS
   tree, :mod:`seizure.evaluation.naming`), the references beside them in
   ``OUT/ref/`` (so ``seizure score OUT/ref OUT/hyp`` reproduces the figures), scores every
   method into ``scores.json`` (the ``seizure score --json`` schema) and writes ``report.md``
   and the resolved ``config.yaml``; ``evaluation.json`` last.

The output folder describes one run (:mod:`seizure.evaluation.outputs`): it is locked, the
previous run's outputs are removed before anything is written (``probs/`` is kept only when
reused), and ``evaluation.json`` says ``"complete": false`` until the last file is written.
The checkpoint file is read once; its sha256 is that of the bytes whose weights are used.

Figures are pooled over the split's recordings (NEDC's convention); see
:mod:`seizure.scoring.curve`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from seizure.config import (
    Config,
    save_config,
    to_dict,
)
from seizure.evaluation.config import EvaluateConfig
from seizure.evaluation.hypotheses import (
    EventArrays,
    HypothesisWriter,
    PostprocessParams,
    events_from_arrays,
)
from seizure.evaluation.naming import hypothesis_names
from seizure.evaluation.outputs import EVALUATION_FOLDER, claim_output_folder, write_marker
from seizure.evaluation.probabilities import (
    EvaluationError,
    check_fingerprint,
    file_sha256,
    infer_records,
    inference_settings,
    load_probs,
    make_predictor,
    resolve_evaluation_config,
    run_model,
)
from seizure.evaluation.report import ReportInputs, plot_curve, write_report
from seizure.evaluation.selection import (
    CHOICE_PROBS,
    ChoosingSplit,
    apply_choice,
    choose_on_split,
    choosing_split,
)
from seizure.io.annotations import write_csv_bi, write_tsv
from seizure.io.events import Event
from seizure.preprocessing.cache import Cache, safe_id
from seizure.scoring.curve import (
    CURVE_METHODS,
    OperatingPoint,
    ScoreFunction,
    compute_curve,
    operating_points,
    write_curve_csv,
)
from seizure.scoring.postprocess import (
    postprocess,
    postprocess_config_kwargs,
    sweep_thresholds,
)
from seizure.scoring.score import ScoreParams, score_recordings
from seizure.training.checkpoint import read_checkpoint
from seizure.utils.fsio import atomic_write_text
from seizure.utils.log import Stopwatch

__all__ = [
    "ALL_METHODS",
    "EvaluationError",
    "EvaluationResult",
    "check_fingerprint",
    "evaluate",
    "file_sha256",
    "infer_records",
    "make_predictor",
    "resolve_evaluation_config",
    "score_split",
    "write_hypotheses",
]

#: Every scoring method, in the order of the ``seizure score --json`` schema.
ALL_METHODS: tuple[str, ...] = ("ovlp", "taes", "epoch", "dpalign", "szcore_event", "szcore_sample")


@dataclass
class EvaluationResult:
    """What :func:`evaluate` produced.

    Attributes
    ----------
    out_dir : Path
    threshold : float
        The threshold of ``scores.json`` and the hypothesis files.
    scores : dict
        ``scores.json`` content (``seizure score --json`` schema).
    curve : list of dict
        ``curve.csv`` rows.
    operating_points : list of OperatingPoint
    events : dict of str to list of Event
        Hypothesis events per recording at ``threshold``.
    n_recordings, n_windows : int
    inference_seconds : float
        Wall time of the model pass (0 when probabilities were reused).
    """

    out_dir: Path
    threshold: float
    scores: dict[str, Any]
    curve: list[dict[str, float | str]]
    operating_points: list[OperatingPoint]
    events: dict[str, list[Event]] = field(default_factory=dict)
    n_recordings: int = 0
    n_windows: int = 0
    inference_seconds: float = 0.0


# --------------------------------------------------------------------------- config and checks


# --------------------------------------------------------------------------- scoring


def score_split(
    refs: Mapping[str, Sequence[Event]],
    hyps: Mapping[str, Sequence[Event]],
    durations: Mapping[str, float],
    methods: Sequence[str] = ALL_METHODS,
    config: EvaluateConfig | None = None,
) -> dict[str, Any]:
    """Score in-memory events of a split's recordings, every method, as ``scores.json``.

    A thin wrapper of :func:`seizure.scoring.score.score_recordings` (what
    ``seizure score`` runs) over dicts keyed by recording id.

    Parameters
    ----------
    refs, hyps : mapping of str to list of Event
        Reference and hypothesis seizure events (seconds) by recording id; ``hyps`` may lack
        a recording (no events).
    durations : mapping of str to float
        Recording durations in seconds.
    methods : sequence of str
        Any of :data:`ALL_METHODS`.
    config : EvaluateConfig, optional
        Scoring parameters (epoch length...); defaults otherwise.

    Returns
    -------
    dict
        ``{method: {"sensitivity", "specificity", "false_alarms_per_24h", "hits", "misses",
        "false_alarms", "total_duration_s", ...}, "files": n}``: the ``seizure score --json``
        schema (fractions, false alarms per 24 h).
    """
    report = score_recordings(
        ((rid, refs[rid], hyps.get(rid, []), durations[rid]) for rid in refs),
        methods=list(methods),
        params=_score_params(config),
    )
    return report.to_dict()


def _score_params(config: EvaluateConfig | None) -> ScoreParams:
    """:class:`ScoreParams` from the ``evaluate`` section (the scoring fields it has)."""
    if config is None:
        return ScoreParams()
    try:
        return ScoreParams.from_config(config)
    except AttributeError:  # a config without every scoring field: take what is there
        return ScoreParams(epoch_s=config.epoch_seconds)


def _curve_score_function(config: EvaluateConfig) -> ScoreFunction:
    def score(refs, hyps, durations, methods):
        return score_split(refs, hyps, durations, methods, config)

    return score


# --------------------------------------------------------------------------- outputs


def write_hypotheses(
    folder: str | Path,
    events: Mapping[str, Sequence[Event]],
    durations: Mapping[str, float],
    workers: int = 8,
) -> list[Path]:
    """Write ``<id>.csv_bi`` and SzCORE ``<id>.tsv`` per recording into ``folder``.

    ``workers`` threads write in parallel.

    Returns
    -------
    list of Path
        The files written.
    """
    import concurrent.futures

    folder = Path(folder)

    def write_one(rid: str) -> list[Path]:
        name = safe_id(rid)
        csv_path, tsv_path = (folder / n for n in hypothesis_names(name))
        write_csv_bi(csv_path, events[rid], durations[rid], bname=rid)
        write_tsv(tsv_path, events[rid], durations[rid])
        return [csv_path, tsv_path]

    if workers <= 1 or len(events) <= 1:
        # inline: starting a thread pool cost ~0.9 ms on a 2-core dev machine, about as much
        # as writing one recording's files, and this runs once per recording during inference
        return [p for rid in events for p in write_one(rid)]
    # each file is written atomically (fsync + rename): threads overlap the disk waits
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return [p for paths in pool.map(write_one, list(events)) for p in paths]


# --------------------------------------------------------------------------- the command


def evaluate(
    checkpoint: str | Path,
    cache: str | Path | Any,
    out_dir: str | Path,
    *,
    split: str = "eval",
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    device: str = "auto",
    reuse_probs: bool = False,
    model_factory: Callable[..., Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Evaluate a checkpoint on one split of a cache and write the report.

    Parameters
    ----------
    checkpoint : path
        ``best.pt`` or ``last.pt`` written by ``seizure train``.
    cache : path or Cache
        A cache written by ``seizure preprocess`` (or an object with the ``Cache`` interface).
    out_dir : path
        Output folder (created): ``probs/``, ``hyp/``, ``ref/``, ``curve.csv``, ``curve.png``,
        ``scores.json``, ``report.md``, ``config.yaml`` and, last, ``evaluation.json``
        (threshold, operating points, checkpoint, ``"complete": true``). It must be new,
        empty or a previous evaluation folder, whose outputs are removed first (see
        :mod:`seizure.evaluation.outputs`); it is locked while the run writes.
    split : str
        Split of the cache to evaluate (``eval``, ``dev``, ``train``).
    config_files, overrides
        ``--config`` files and ``--set key=value`` strings; only ``evaluate.*`` may change.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    reuse_probs : bool
        Reuse ``OUT/probs`` when it was written for this checkpoint file (same sha256), cache,
        split and inference settings; otherwise it is removed and the model runs.
    model_factory : callable, optional
        Passed to :func:`seizure.training.checkpoint.load_model_from_checkpoint`.
    log : callable, optional
        Receives progress lines (default: this module's logger, INFO).

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ConfigError
        Bad ``evaluate`` settings, or an attempt to change another section.
    EvaluationError
        Mismatched preprocessing fingerprints, or an empty split.
    seizure.training.checkpoint.CheckpointError, seizure.preprocessing.cache.CacheError
        Unreadable checkpoint or cache, or a model with non-finite weights.
    seizure.models.ModelStateError
        Weights that do not fit the model of the checkpoint's config.
    seizure.evaluation.outputs.OutputFolderError, seizure.utils.errors.InputFileError,
    seizure.utils.locks.FolderBusyError
        ``out_dir`` holds other files, is or holds an input, or another run writes into it.
    """
    say = log or logging.getLogger(__name__).info
    checkpoint = Path(checkpoint)
    out = Path(out_dir)
    # read once: the hash recorded is that of the weights used, even while training
    # replaces the file
    state, sha = read_checkpoint(checkpoint)
    config = resolve_evaluation_config(state["config"], config_files, overrides)
    if isinstance(cache, (str, Path)):
        cache = Cache(cache)
    check_fingerprint(state, config, cache, checkpoint)
    records = cache.split(split)
    if not records:
        present = sorted({r.split for r in cache.records})
        raise EvaluationError(
            f"{cache.path}: no recordings in split {split!r} (splits present: "
            f"{', '.join(present) or 'none'}); choose one with --split"
        )
    ids = [r.recording_id for r in records]
    durations = {r.recording_id: float(r.duration_s) for r in records}
    refs = {rid: cache.events(rid) for rid in ids}
    inputs = [checkpoint, Path(cache.path), *config_files]
    probs = None
    if reuse_probs and out.is_dir():
        probs = load_probs(
            out / "probs", records, sha, cache.fingerprint, inference_settings(config)
        )
    start = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha, "cache": str(cache.path),
             "split": split}  # fmt: skip
    chooser, note = choosing_split(config.evaluate, cache, split)
    if note:
        say(note)
    if chooser is not None and chooser.split != split and reuse_probs and out.is_dir():
        chooser.probs = load_probs(
            out / CHOICE_PROBS, chooser.records, sha, cache.fingerprint, inference_settings(config)
        )
    keep = ["probs"] if probs is not None else []
    keep += [CHOICE_PROBS] if chooser is not None and chooser.probs is not None else []
    with claim_output_folder(out, EVALUATION_FOLDER, inputs, start, keep):
        return _evaluate_into(
            out, checkpoint, state, sha, config, cache, split, records, refs, durations,
            probs, device, model_factory, say, chooser, note,
        )  # fmt: skip


def _evaluate_into(
    out: Path,
    checkpoint: Path,
    state: Mapping[str, Any],
    sha: str,
    config: Config,
    cache: Any,
    split: str,
    records: Sequence[Any],
    refs: Mapping[str, list[Event]],
    durations: Mapping[str, float],
    probs: dict[str, np.ndarray] | None,
    device: str,
    model_factory: Callable[..., Any] | None,
    say: Callable[[str], None],
    chooser: ChoosingSplit | None = None,
    note: str = "",
) -> EvaluationResult:
    """Run the body of :func:`evaluate` into a claimed and cleared folder ``out``.

    ``probs`` are reused probabilities, or None to run the model. ``evaluation.json`` comes
    last.
    """
    ids = [r.recording_id for r in records]
    clock = Stopwatch(logging.getLogger(__name__))
    choice = None
    if chooser is not None and chooser.split != split:
        choice = choose_on_split(out, checkpoint, state, sha, config, cache, chooser, device,
                         model_factory, say)  # fmt: skip
        config = apply_choice(config, choice)
    ev = config.evaluate
    pick_on_eval = ev.select_fa_per_24h is not None or (
        chooser is not None and chooser.split == split
    )

    # ---- probabilities (once); with settings known the hypothesis files are written as
    # each recording completes, overlapping inference
    kwargs = postprocess_config_kwargs(ev)
    early: dict[str, EventArrays] = {}

    def events_at(threshold: float, rid: str, p: np.ndarray) -> list[Event]:
        return postprocess(
            p,
            threshold=threshold,
            window_seconds=cache.window_seconds,
            stride_seconds=cache.stride_seconds,
            duration_s=durations[rid],
            **kwargs,
        )

    # written by the writer processes of infer_records (same files as write_hypotheses)
    early_writer = HypothesisWriter(
        str(out / "hyp"),
        PostprocessParams(
            threshold=ev.threshold,
            window_seconds=cache.window_seconds,
            stride_seconds=cache.stride_seconds,
            **kwargs,
        ),
    )

    inference_seconds = 0.0
    if probs is not None:
        say(f"reusing probabilities in {out / 'probs'}")
    else:
        probs, inference_seconds = run_model(
            checkpoint,
            config,
            state,
            cache,
            records,
            out / "probs",
            sha,
            device,
            model_factory,
            say,
            hypotheses=None if pick_on_eval else early_writer,
            on_hypotheses=early.__setitem__,
        )
    n_windows = int(sum(len(p) for p in probs.values()))
    clock.lap("probabilities (model or reused)")

    if chooser is not None and chooser.split == split:  # allowed explicitly: labelled
        chooser = replace(chooser, probs=probs)
        choice = choose_on_split(out, checkpoint, state, sha, config, cache, chooser, device,
                         model_factory, say)  # fmt: skip
        config = apply_choice(config, choice)
        ev = config.evaluate
        kwargs = postprocess_config_kwargs(ev)

    # ---- operating curve (post-processing and scoring only)
    thresholds = sweep_thresholds(ev)
    say(f"sweeping {len(thresholds)} thresholds over {len(ids)} recordings")
    curve = compute_curve(
        probs,
        refs,
        durations,
        thresholds,
        _curve_score_function(ev),
        window_seconds=cache.window_seconds,
        stride_seconds=cache.stride_seconds,
        methods=CURVE_METHODS,
        **kwargs,
    )
    points = operating_points(curve, ev.fa_budgets_per_24h)
    write_curve_csv(out / "curve.csv", curve)
    clock.lap("threshold sweep and operating points")

    # ---- the chosen threshold
    threshold, how = ev.threshold, note or "evaluate.threshold"
    if choice is not None:
        how = choice.describe()
        if choice.split == split:
            how += f"; picked on the evaluated split {split} itself (optimistic)"
    elif ev.select_fa_per_24h is not None:
        (chosen,) = operating_points(curve, [ev.select_fa_per_24h], ["ovlp"])
        if chosen.threshold is None:
            say(
                f"no threshold keeps OVLP under {ev.select_fa_per_24h:g} FA/24h; "
                f"using evaluate.threshold={ev.threshold:g}"
            )
            how = f"evaluate.threshold (no threshold meets {ev.select_fa_per_24h:g} FA/24h)"
        else:
            threshold = chosen.threshold
            how = (
                f"OVLP operating point at {ev.select_fa_per_24h:g} FA/24h, picked on the "
                f"evaluated split {split} itself (optimistic)"
            )
        config = replace(config, evaluate=replace(ev, threshold=threshold))
    if len(early) == len(ids) and threshold == ev.threshold:
        # already written during inference
        events = {rid: events_from_arrays(early[rid]) for rid in ids}
    else:
        events = {rid: events_at(threshold, rid, probs[rid]) for rid in ids}
        write_hypotheses(out / "hyp", events, durations)
    _write_references(out / "ref", refs, durations)
    scores = score_split(refs, events, durations, ALL_METHODS, ev)
    scores["operating_point"] = {
        "chosen_on": split if choice is None and pick_on_eval else choice and choice.split,
        "source": how,
        **postprocess_config_kwargs(ev),
        "threshold": threshold,
    }
    atomic_write_text(out / "scores.json", json.dumps(_jsonable(scores), indent=2) + "\n")
    clock.lap("hypotheses, references and scores")
    summary = {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha,
        "cache": str(cache.path),
        "cache_fingerprint": cache.fingerprint,
        "split": split,
        "recordings": len(ids),
        "windows": n_windows,
        "inference_seconds": inference_seconds,
        "threshold": threshold,
        "threshold_source": how,
        "chosen_on": None if choice is None else choice.split,
        "operating_point": None if choice is None else choice.as_dict(),
        "operating_points": [p.as_dict() for p in points],
        "operating_points_split": split,
    }
    save_config(config, out / "config.yaml")

    # ---- plot and report
    title = f"operating curve ({split}, for reference): {checkpoint.name}, {len(ids)} recordings"
    plot_curve(out / "curve.png", curve, points, title=title)
    write_report(
        out / "report.md",
        ReportInputs(
            checkpoint=checkpoint,
            checkpoint_sha256=sha,
            checkpoint_epoch=state.get("epoch"),
            cache_path=Path(cache.path),
            cache_fingerprint=cache.fingerprint,
            split=split,
            config=to_dict(config),
            threshold=threshold,
            threshold_source=how,
            scores=scores,
            points=points,
            refs=refs,
            hyps=events,
            durations=durations,
            n_windows=n_windows,
            inference_seconds=inference_seconds,
            curve_image="curve.png",
            curve=curve,
            cache=cache,
            probs=probs,
        ),
    )
    write_marker(out, EVALUATION_FOLDER, _jsonable(summary), complete=True)  # the last file
    clock.lap("curve plot and report")
    say(f"wrote {out / 'report.md'}")
    return EvaluationResult(
        out_dir=out,
        threshold=threshold,
        scores=scores,
        curve=curve,
        operating_points=points,
        events=events,
        n_recordings=len(ids),
        n_windows=n_windows,
        inference_seconds=inference_seconds,
    )


def _write_references(
    folder: Path, refs: Mapping[str, Sequence[Event]], durations: Mapping[str, float]
) -> None:
    for rid, evs in refs.items():
        write_csv_bi(folder / f"{safe_id(rid)}.csv_bi", evs, durations[rid], bname=rid)


def _jsonable(obj: Any) -> Any:
    """NaN -> None, numpy scalars -> python (``json`` would write ``NaN``, which is not JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if v != v or v in (float("inf"), float("-inf")) else v
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
