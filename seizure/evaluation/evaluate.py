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

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from seizure.config import (
    Config,
    ConfigError,
    fingerprint,
    from_dict,
    load_config,
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
from seizure.evaluation.report import ReportInputs, plot_curve, write_report
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
    validate_evaluate_config,
)
from seizure.scoring.score import ScoreParams, score_recordings
from seizure.training.checkpoint import load_model_from_checkpoint, read_checkpoint
from seizure.utils.errors import SeizureError
from seizure.utils.fsio import atomic_open, atomic_write_text
from seizure.utils.log import Stopwatch
from seizure.utils.progress import progress

__all__ = [
    "ALL_METHODS",
    "EvaluationError",
    "EvaluationResult",
    "check_fingerprint",
    "evaluate",
    "file_sha256",
    "infer_records",
    "resolve_evaluation_config",
    "score_split",
    "write_hypotheses",
]

#: Every scoring method, in the order of the ``seizure score --json`` schema.
ALL_METHODS: tuple[str, ...] = ("ovlp", "taes", "epoch", "dpalign", "szcore_event", "szcore_sample")


class EvaluationError(SeizureError):
    """The checkpoint and the cache cannot be evaluated together (the message says why)."""


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


def resolve_evaluation_config(
    stored: Mapping[str, Any],
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
) -> Config:
    """The config of an evaluation: the checkpoint's, with only ``evaluate`` (and ``seed``)
    changed by ``config_files`` and ``overrides``.

    Raises
    ------
    ConfigError
        On a bad key or value, or when another section would change (naming the keys).
    """
    original = from_dict(Config, stored)
    config = load_config(list(config_files), list(overrides), base=to_dict(original))
    changed = []
    for section in ("preprocess", "synth", "model", "train"):
        a, b = to_dict(getattr(original, section)), to_dict(getattr(config, section))
        changed += [f"{section}.{k}" for k in a if a[k] != b.get(k)]
    if changed:
        raise ConfigError(
            f"only 'evaluate.*' settings can change when evaluating a checkpoint, but "
            f"{', '.join(changed)} differ from the checkpoint's config; a model runs with the "
            "preprocessing, architecture and training it was made with"
        )
    try:
        validate_evaluate_config(config.evaluate)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    ev = config.evaluate
    length = ev.sequence_windows or config.train.sequence_windows
    if 2 * ev.context_windows >= length:
        raise ConfigError(
            f"Invalid value for 'evaluate.context_windows': allowed less than half of the "
            f"inference sequence length ({length} windows), got {ev.context_windows} instead"
        )
    return config


def check_fingerprint(
    state: Mapping[str, Any], config: Config, cache: Any, checkpoint: Any
) -> None:
    """Refuse a cache made with other preprocessing than the checkpoint's training cache.

    Raises
    ------
    EvaluationError
        Naming both fingerprints and every preprocessing parameter that differs.
    """

    expected = state.get("cache_fingerprint") or fingerprint(config.preprocess)
    if expected == cache.fingerprint:
        return
    mine, theirs = to_dict(config.preprocess), to_dict(cache.config)
    diffs = [
        f"{k} (checkpoint {mine.get(k)!r}, cache {theirs.get(k)!r})"
        for k in sorted(set(mine) | set(theirs))
        if mine.get(k) != theirs.get(k)
    ]
    detail = "; differing preprocess settings: " + ", ".join(diffs) if diffs else ""
    raise EvaluationError(
        f"{checkpoint} was trained on a cache with preprocessing fingerprint {expected}, but "
        f"{cache.path} has fingerprint {cache.fingerprint}{detail}. Evaluate on a cache made "
        "with the checkpoint's preprocessing (seizure preprocess CORPUS CACHE --config "
        "<the checkpoint run's config.yaml>)"
    )


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file (identifies the checkpoint the probabilities came from)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
        name = _file_stem(rid)
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


def _file_stem(recording_id: str) -> str:
    return safe_id(recording_id)


def _save_array(path: Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def make_predictor(model: Any, config: Config, device: Any) -> Any:
    """A :class:`~seizure.inference.engine.Predictor` of ``model`` on ``device`` with the
    inference settings of ``config.evaluate`` (the sequence length: ``evaluate``'s, else the
    training length ``train.sequence_windows``)."""
    from seizure.inference.engine import Predictor

    ev = config.evaluate
    return Predictor(
        model,
        sequence_windows=ev.sequence_windows or config.train.sequence_windows,
        context_windows=ev.context_windows,
        batch_sequences=ev.batch_sequences,
        device=device,
        amp=ev.amp,
        compile=ev.compile,
        reader_threads=ev.reader_threads,
        cuda_graphs=ev.cuda_graphs,
    )


def _inference_settings(config: Config) -> dict[str, Any]:
    """The settings that change the probabilities (recorded in ``probs/index.json``)."""
    ev = config.evaluate
    return {
        "sequence_windows": ev.sequence_windows or config.train.sequence_windows,
        "context_windows": ev.context_windows,
        "amp": ev.amp,
    }


def _load_probs(
    probs_dir: Path,
    records: Sequence[Any],
    sha: str,
    cache_fingerprint: str,
    settings: Mapping[str, Any],
) -> dict[str, np.ndarray] | None:
    """Saved probabilities when they match this checkpoint, cache, split and inference
    settings (sequence length, context, bf16); else None."""
    index_path = probs_dir / "index.json"
    if not index_path.is_file():
        return None
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        return None
    if index.get("checkpoint_sha256") != sha or index.get("cache_fingerprint") != cache_fingerprint:
        return None
    if any(index.get(key) != value for key, value in settings.items()):
        return None
    listed = index.get("recordings", {})
    if not isinstance(listed, dict) or set(listed) != {r.recording_id for r in records}:
        return None  # probabilities of other recordings would stay beside this run's
    out = {}
    for rec in records:
        entry = listed.get(rec.recording_id)
        path = probs_dir / f"{_file_stem(rec.recording_id)}.npy"
        if entry is None or entry.get("n_windows") != rec.n_windows or not path.is_file():
            return None
        out[rec.recording_id] = np.load(path)
    return out


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
        probs = _load_probs(
            out / "probs", records, sha, cache.fingerprint, _inference_settings(config)
        )
    start = {"checkpoint": str(checkpoint), "checkpoint_sha256": sha, "cache": str(cache.path),
             "split": split}  # fmt: skip
    keep = ["probs"] if probs is not None else []
    with claim_output_folder(out, EVALUATION_FOLDER, inputs, start, keep):
        return _evaluate_into(
            out, checkpoint, state, sha, config, cache, split, records, refs, durations,
            probs, device, model_factory, say,
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
) -> EvaluationResult:
    """The body of :func:`evaluate`, into a claimed and cleared folder ``out``; ``probs``
    are reused probabilities, or None to run the model. ``evaluation.json`` comes last."""
    ev = config.evaluate
    ids = [r.recording_id for r in records]
    clock = Stopwatch(logging.getLogger(__name__))

    # ---- probabilities (once); with a fixed threshold the hypothesis files are written
    # as each recording completes, overlapping inference
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
        probs, inference_seconds = _run_model(
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
            hypotheses=early_writer if ev.select_fa_per_24h is None else None,
            on_hypotheses=early.__setitem__,
        )
    n_windows = int(sum(len(p) for p in probs.values()))
    clock.lap("probabilities (model or reused)")

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
    threshold, how = ev.threshold, "evaluate.threshold"
    if ev.select_fa_per_24h is not None:
        (chosen,) = operating_points(curve, [ev.select_fa_per_24h], ["ovlp"])
        if chosen.threshold is None:
            say(
                f"no threshold keeps OVLP under {ev.select_fa_per_24h:g} FA/24h; "
                f"using evaluate.threshold={ev.threshold:g}"
            )
            how = f"evaluate.threshold (no threshold meets {ev.select_fa_per_24h:g} FA/24h)"
        else:
            threshold = chosen.threshold
            how = f"OVLP operating point at {ev.select_fa_per_24h:g} FA/24h"
        config = replace(config, evaluate=replace(ev, threshold=threshold))
    if len(early) == len(ids) and threshold == ev.threshold:
        # already written during inference
        events = {rid: events_from_arrays(early[rid]) for rid in ids}
    else:
        events = {rid: events_at(threshold, rid, probs[rid]) for rid in ids}
        write_hypotheses(out / "hyp", events, durations)
    _write_references(out / "ref", refs, durations)
    scores = score_split(refs, events, durations, ALL_METHODS, ev)
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
        "operating_points": [p.as_dict() for p in points],
    }
    save_config(config, out / "config.yaml")

    # ---- plot and report
    title = f"{checkpoint.name} on {split} ({len(ids)} recordings)"
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


def infer_records(
    predictor: Any,
    cache: Any,
    records: Sequence[Any],
    probs_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    writers: int = 8,
    on_recording: Callable[[str, np.ndarray], None] | None = None,
    hypotheses: HypothesisWriter | None = None,
    on_hypotheses: Callable[[str, EventArrays], None] | None = None,
    writer_processes: bool | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities of every window of ``records``, saved as ``probs_dir/<id>.npy``.

    Parameters
    ----------
    predictor : seizure.inference.engine.Predictor
    cache : Cache
        Windows are read memory-mapped, batch by batch.
    records : sequence of CacheRecord
    probs_dir : path, optional
        Where to save each recording's float32 probabilities.
    progress : callable, optional
        Called with the number of windows of each finished batch.
    writers : int
        Background workers that save files (and write the hypotheses, and run
        ``on_recording``) as soon as a recording is complete, so that writing overlaps
        inference.
    on_recording : callable, optional
        ``on_recording(recording_id, probs)``, run in a writer *thread* for every recording
        (an arbitrary callable: the writers are then threads of this process).
    hypotheses : HypothesisWriter, optional
        Post-processes each recording and writes its ``.csv_bi``/``.tsv`` files
        (:mod:`seizure.evaluation.hypotheses`), in a writer.
    on_hypotheses : callable, optional
        ``on_hypotheses(recording_id, events)`` with the events ``hypotheses`` wrote
        (:data:`~seizure.evaluation.hypotheses.EventArrays`), called in this thread after
        the last recording, in the order of ``records``.
    writer_processes : bool, optional
        Writers are worker processes (:class:`~seizure.utils.pool.PipeWorkers`,
        started on first use and kept for later calls) rather than threads, so that their
        Python does not take the GIL from the inference threads. None (default): processes
        unless ``on_recording`` is given. A worker that cannot start or dies is replaced by
        writing in this process.

    Returns
    -------
    dict of str to ndarray of float32, shape (n_windows,)

    Notes
    -----
    The writers' time is added to ``predictor.stats`` (``write_s``: summed over the writers;
    ``write_tail_s``: waited for them after the last recording was predicted).
    """
    import concurrent.futures

    from seizure.evaluation.hypotheses import finish_recording

    folder = None if probs_dir is None else Path(probs_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    if hypotheses is not None:
        Path(hypotheses.folder).mkdir(parents=True, exist_ok=True)
    durations = {r.recording_id: float(r.duration_s) for r in records}
    if writer_processes is None:
        writer_processes = on_recording is None
    if on_recording is not None and writer_processes:
        raise ValueError("on_recording runs in writer threads: use writer_processes=False")

    def job(rid: str, p: np.ndarray) -> tuple:
        stem = _file_stem(rid)
        path = None if folder is None else str(folder / f"{stem}.npy")
        return (path, hypotheses, rid, stem, durations[rid], p)

    def finish_thread(rid: str, p: np.ndarray) -> tuple[float, EventArrays | None]:
        seconds, arrays = finish_recording(*job(rid, p))
        if on_recording is not None:
            t0 = time.perf_counter()
            on_recording(rid, p)
            seconds += time.perf_counter() - t0
        return seconds, arrays

    out: dict[str, np.ndarray] = {}
    pending: list[tuple[str, Any]] = []
    # the windows are opened (np.load of a memory map, ~75 us each) by a helper thread a
    # few dozen recordings ahead, while the main thread waits for the readers or the device
    opener = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seizure-opener")
    stream = _opened_ahead(cache, [r.recording_id for r in records], opener)
    pool = _WriterPool(max(1, writers), processes=bool(writer_processes), work=finish_thread)
    try:
        for rid, p in predictor.predict(stream, progress=progress):
            out[rid] = p
            pending.append((rid, pool.submit(job(rid, p), rid, p)))
        t0 = time.perf_counter()
        results = [(rid, future.result()) for rid, future in pending]  # re-raises a failure
        tail = time.perf_counter() - t0
    finally:
        opener.shutdown(wait=True, cancel_futures=True)
        pool.shutdown([future for _, future in pending])
    stats = getattr(predictor, "stats", None)
    if stats is not None and hasattr(stats, "write_s"):
        stats.write_s, stats.write_tail_s = float(sum(r[0] for _, r in results)), tail
    if on_hypotheses is not None and hypotheses is not None:
        for rid, (_, arrays) in results:
            on_hypotheses(rid, arrays)
    return out


def _opened_ahead(
    cache: Any, ids: Sequence[str], pool: Any, ahead: int = 32
) -> Iterator[tuple[str, np.ndarray]]:
    """``(id, cache.windows(id))`` in order, each opened in ``pool`` up to ``ahead`` early."""
    import collections

    queued: collections.deque = collections.deque()
    todo = iter(ids)
    for rid in todo:
        queued.append((rid, pool.submit(cache.windows, rid)))
        if len(queued) >= ahead:
            break
    while queued:
        rid, future = queued.popleft()
        following = next(todo, None)
        if following is not None:
            queued.append((following, pool.submit(cache.windows, following)))
        yield rid, future.result()


class _WriterPool:
    """Writers of :func:`infer_records`: this process's
    :class:`~seizure.utils.pool.PipeWorkers` (kept between calls), or threads
    running ``work``."""

    def __init__(self, workers: int, processes: bool, work: Callable[..., Any]) -> None:
        import concurrent.futures

        from seizure.evaluation.hypotheses import shared_writer_processes

        self.work = work
        self.processes = processes
        if processes:
            self.pool: Any = shared_writer_processes(workers)
        else:
            self.pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="seizure-writer"
            )

    def submit(self, job: tuple, rid: str, p: np.ndarray) -> Any:
        if self.processes:
            return self.pool.submit(job)
        return self.pool.submit(self.work, rid, p)

    def shutdown(self, futures: Sequence[Any] = ()) -> None:
        if not self.processes:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        for future in futures:  # the shared pool goes on: drop what an error left queued
            future.cancel()


def _run_model(
    checkpoint: Path,
    config: Config,
    state: Mapping[str, Any],
    cache: Any,
    records: Sequence[Any],
    probs_dir: Path,
    sha: str,
    device: str,
    model_factory: Callable[..., Any] | None,
    say: Callable[[str], None],
    hypotheses: HypothesisWriter | None = None,
    on_hypotheses: Callable[[str, EventArrays], None] | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Run the model over ``records``; save and return their probabilities."""
    from seizure.inference.device import DeviceError, resolve_device

    try:
        dev = resolve_device(device)
    except DeviceError as err:
        raise EvaluationError(str(err)) from err
    model, _, window_shape = load_model_from_checkpoint(checkpoint, dev, model_factory, state=state)
    if tuple(window_shape) != tuple(cache.window_shape):
        raise EvaluationError(
            f"{checkpoint} expects windows of shape {tuple(window_shape)}, but {cache.path} "
            f"holds windows of shape {tuple(cache.window_shape)}"
        )
    predictor = make_predictor(model, config, dev)
    total = int(sum(r.n_windows for r in records))
    say(f"running {checkpoint.name} on {dev} over {len(records)} recordings ({total} windows)")
    probs_dir.mkdir(parents=True, exist_ok=True)
    (probs_dir / "index.json").unlink(missing_ok=True)  # invalid until rewritten below
    t0 = time.perf_counter()
    with progress(total=total, desc="inference", unit="win") as bar:
        out = infer_records(
            predictor,
            cache,
            records,
            probs_dir,
            progress=bar.update,
            hypotheses=hypotheses,
            on_hypotheses=on_hypotheses,
        )
    seconds = time.perf_counter() - t0
    index = {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha,
        "cache": str(cache.path),
        "cache_fingerprint": cache.fingerprint,
        "window_seconds": cache.window_seconds,
        "stride_seconds": cache.stride_seconds,
        **_inference_settings(config),
        "recordings": {
            r.recording_id: {
                "file": f"{_file_stem(r.recording_id)}.npy",
                "n_windows": int(r.n_windows),
                "duration_s": float(r.duration_s),
            }
            for r in records
        },
    }
    atomic_write_text(probs_dir / "index.json", json.dumps(index, indent=1) + "\n")
    st = predictor.stats
    say(
        f"inference: {total} windows in {seconds:.2f} s ({total / max(seconds, 1e-9):,.0f}/s; "
        f"waiting for input {st.wait_input_s:.2f} s, for the device {st.wait_output_s:.2f} s, "
        f"model {st.model_device_s:.2f} s, for the writers {st.write_tail_s:.2f} s)"
    )
    return out, seconds


def _write_references(
    folder: Path, refs: Mapping[str, Sequence[Event]], durations: Mapping[str, float]
) -> None:
    for rid, evs in refs.items():
        write_csv_bi(folder / f"{_file_stem(rid)}.csv_bi", evs, durations[rid], bname=rid)


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
