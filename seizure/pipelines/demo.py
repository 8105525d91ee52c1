"""``seizure demo``: the whole pipeline on a small synthetic corpus, in four stages.

1. **synthesize** a TUSZ-like corpus with known seizures (:func:`seizure.synth.corpus.synthesize`)
   into ``OUT/corpus``;
2. **preprocess** it into a window cache (:func:`seizure.preprocessing.build.build_cache`),
   ``OUT/cache``;
3. **train** the CNN/LSTM on the train split, validating on dev
   (:func:`seizure.training.loop.train`), ``OUT/run``;
4. **evaluate** ``best.pt`` on the held-out patients of the eval split
   (:func:`seizure.evaluation.evaluate.evaluate`), ``OUT/eval`` (``report.md``, ``curve.png``,
   ``scores.json``).

Re-running reuses what is already built: each stage is skipped when its output is complete and
was made with the same configuration (recorded in ``OUT/stages.json``, see
:mod:`seizure.pipelines.stages`); an interrupted stage resumes (the corpus and the cache skip
finished recordings, training continues from ``last.pt``); a stage whose configuration changed
is rebuilt together with every stage after it. Raising ``train.epochs`` continues training.

The defaults (:data:`DEMO_CONFIG_YAML`, spelled out in the shipped config ``demo``,
``seizure/configs/demo.yaml``) are tuned so that the demo finishes in a few minutes on two
CPU cores and the detector is genuinely useful on its held-out synthetic patients.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seizure.config import Config, load_config, save_config, to_dict
from seizure.evaluation.evaluate import evaluate, file_sha256
from seizure.pipelines.stages import StageStore, stage_fingerprint
from seizure.preprocessing.build import build_cache, default_jobs
from seizure.preprocessing.cache import Cache
from seizure.synth.corpus import synthesize
from seizure.training.config import RESUMABLE_KEYS
from seizure.training.loop import train
from seizure.utils.errors import SeizureError

__all__ = [
    "DEMO_CONFIG_YAML",
    "DEMO_STAGES",
    "DemoError",
    "DemoInterrupted",
    "DemoResult",
    "StageOutcome",
    "demo_config",
    "demo_defaults",
    "evaluate_overrides",
    "run_demo",
]

#: The four stages, in order.
DEMO_STAGES: tuple[str, ...] = ("synthesize", "preprocess", "train", "evaluate")

#: The demo's embedded default configuration (``seizure/configs/demo.yaml`` holds the same values).
DEMO_CONFIG_YAML = """\
# `seizure demo`: a small synthetic corpus and a small CNN/LSTM, tuned to finish in about five
# minutes on two CPU cores (no GPU) with a detector that is useful on held-out patients.
# `seizure demo --config demo` is the same as `seizure demo`; change any value
# with --set (e.g. --set train.epochs=12) and re-run: only the stages affected are redone.
seed: 0
synth:
  hours: 10.0                     # 40 patients: half train, 10% dev, 40% eval (held out)
  patients: 40
  recording_minutes: [8.0, 25.0]
  seizure_seconds: [20.0, 120.0]
  ictal_fraction: 0.08
  seizure_free_fraction: 0.3
  split_fractions: [0.5, 0.1, 0.4]
  seizure_snr: 0.35               # weak seizures, frequent artefacts and mimics: a band-power
  artifact_rate: 1.5              # logistic regression reaches eval window AUROC about 0.89
  mimic_rate: 1.5                 # (0.99 at the defaults); the benchmark corpus is harder
preprocess:                       # the default: TCP montage, 256 Hz, 1-70 Hz, raw 1 s windows
  montage: tcp_ar
  sample_rate_hz: 256.0
  features: raw
  window_seconds: 1.0
  stride_seconds: 1.0
model:                            # a smaller CNN/LSTM than models/cnn_lstm
  name: cnn_rnn
  cell: lstm
  hidden_size: 64
  num_layers: 1
  bidirectional: true
  conv_channels: [16, 32, 32, 64, 64]
  conv_kernels: [7, 5, 5, 3, 3]
  regularization:
    dropout: 0.2
train:
  epochs: 10
  batch_size: 16
  sequence_windows: 30
  learning_rate: 0.002
  patience: 0                     # run every epoch; best.pt is the best dev window AUROC
  num_workers: 1
evaluate:                         # smooth over 5 s, join events < 10 s apart, drop < 5 s
  threshold: 0.5
  smoothing_windows: 5
  merge_gap_seconds: 10.0
  min_event_seconds: 5.0
"""


class DemoError(SeizureError):
    """A demo stage could not produce its output (the message says which and why)."""


class DemoInterrupted(SeizureError):
    """Training was interrupted (SIGINT/SIGTERM) after saving ``last.pt``; re-run to resume."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class StageOutcome:
    """What one stage did: ``action`` is ``built``, ``resumed`` or ``skipped``."""

    index: int
    name: str
    action: str
    seconds: float
    detail: str = ""


@dataclass
class DemoResult:
    """Where the demo put its outputs, and the held-out figures.

    Attributes
    ----------
    out_dir, corpus_dir, cache_dir, run_dir, eval_dir : Path
    scores : dict
        ``OUT/eval/scores.json`` (the ``seizure score --json`` schema: fractions, FA per 24 h).
    threshold : float
        Threshold of the scores.
    n_recordings, n_patients : int
        Held-out (eval split) recordings and patients.
    hours : float
        Held-out hours.
    stages : list of StageOutcome
    wall_s : float
    """

    out_dir: Path
    corpus_dir: Path
    cache_dir: Path
    run_dir: Path
    eval_dir: Path
    scores: dict[str, Any]
    threshold: float
    n_recordings: int
    n_patients: int
    hours: float
    stages: list[StageOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def report_path(self) -> Path:
        """``OUT/eval/report.md``."""
        return self.eval_dir / "report.md"

    @property
    def curve_path(self) -> Path:
        """``OUT/eval/curve.png``."""
        return self.eval_dir / "curve.png"

    @property
    def scores_path(self) -> Path:
        """``OUT/eval/scores.json``."""
        return self.eval_dir / "scores.json"

    def summary_lines(self) -> list[str]:
        """Return the figures and paths printed at the end of ``seizure demo``."""
        lines = [
            f"held-out patients: {self.n_patients} ({self.n_recordings} recordings, "
            f"{self.hours:.2f} h), threshold {self.threshold:g}"
        ]
        for method, label in (("ovlp", "OVLP"), ("taes", "TAES")):
            m = self.scores.get(method, {})
            lines.append(
                f"  {label:<5} sensitivity {_pct(m.get('sensitivity'))}, "
                f"specificity {_pct(m.get('specificity'))}, "
                f"{_num(m.get('false_alarms_per_24h'))} false alarms per 24 h "
                f"({_num(m.get('hits'), 4)} of {_num(m.get('targets'), 0)} seizures, "
                f"{_num(m.get('false_alarms'), 4)} false alarms)"
            )
        lines += [
            f"report: {self.report_path}",
            f"curve:  {self.curve_path}",
            f"scores: {self.scores_path}",
            f"wall time {self.wall_s:.1f} s",
        ]
        return lines


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100.0 * float(value):.2f}%"


def _num(value: Any, digits: int = 2) -> str:
    """Format with ``digits`` decimals.

    Whole numbers without decimals when ``digits`` is 0 or they are counts (``12``, but
    ``11.86`` for a TAES fractional count).
    """
    if value is None:
        return "n/a"
    v = float(value)
    if digits == 0 or (digits > 2 and v.is_integer()):
        return f"{v:.0f}"
    return f"{v:.{min(digits, 2)}f}"


# ------------------------------------------------------------------------------ config


def demo_defaults() -> dict[str, Any]:
    """Return the demo's default configuration, :data:`DEMO_CONFIG_YAML` parsed to a dict."""
    return yaml.safe_load(DEMO_CONFIG_YAML)


def demo_config(
    config_files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    hours: float | None = None,
) -> Config:
    """Resolve the demo's config: demo defaults -> ``config_files`` -> ``overrides``.

    Parameters
    ----------
    config_files : sequence of path
        YAML files merged over the demo defaults.
    overrides : sequence of str
        ``key=value`` strings applied last.
    hours : float, optional
        Shorthand for ``synth.hours`` (applied before ``overrides``).

    Returns
    -------
    Config

    Raises
    ------
    seizure.config.ConfigError
        Unknown keys or bad values.
    """
    extra = [f"synth.hours={float(hours)!r}"] if hours is not None else []
    return load_config(list(config_files), extra + list(overrides), base=demo_defaults())


def evaluate_overrides(config: Config) -> list[str]:
    """Return the ``evaluate`` section of ``config`` as ``evaluate.key=value`` override strings.

    :func:`seizure.evaluation.evaluate.evaluate` starts from the checkpoint's stored config and
    accepts changes to ``evaluate.*`` as overrides; this passes the current ones through.
    """
    return [
        f"evaluate.{key}={json.dumps(value)}" for key, value in to_dict(config.evaluate).items()
    ]


# ------------------------------------------------------------------------------ the demo


def _default_log(message: str) -> None:
    logging.getLogger(__name__).info(message)


def _train_fingerprints(config: Config, upstream: str) -> tuple[str, str]:
    """(fingerprint that allows resuming, exact fingerprint) of the training stage."""
    train = to_dict(config.train)
    fixed = {k: v for k, v in train.items() if k not in RESUMABLE_KEYS}
    fp = stage_fingerprint("train", upstream, config.seed, to_dict(config.model), fixed)
    return fp, stage_fingerprint(fp, train)


def run_demo(
    out_dir: str | Path,
    config: Config | None = None,
    *,
    device: str = "auto",
    jobs: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run (or resume) the four demo stages into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Output folder: ``corpus/``, ``cache/``, ``run/``, ``eval/``, ``config.yaml`` (the
        resolved config) and ``stages.json`` (what is complete).
    config : Config, optional
        Defaults to :func:`demo_config` ``()``.
    device : {'auto', 'cpu', 'cuda'}
        Training and inference device; ``auto`` uses a CUDA GPU when there is one.
    jobs : int, optional
        Worker processes for synthesis and preprocessing (default: the usable CPUs).
    progress : bool, optional
        Progress bars inside the stages (default: when stderr is a terminal).
    log : callable, optional
        Receives the stage lines (default: this module's logger, INFO).

    Returns
    -------
    DemoResult

    Raises
    ------
    DemoError
        A stage failed (e.g. recordings that could not be preprocessed).
    DemoInterrupted
        Training was interrupted after saving ``last.pt``.
    seizure.pipelines.stages.StageError
        A stage folder holds something the demo did not make.
    """
    say = log or _default_log
    config = config or demo_config()
    jobs = jobs or default_jobs()
    out = Path(out_dir)
    corpus_dir, cache_dir, run_dir, eval_dir = (out / n for n in ("corpus", "cache", "run", "eval"))
    store = StageStore(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    t_start = time.perf_counter()
    outcomes: list[StageOutcome] = []
    n = len(DEMO_STAGES)

    def begin(k: int, name: str, action: str, what: str) -> float:
        verb = {"skip": "up to date, skipped", "resume": "resuming", "fresh": "starting"}[action]
        say(f"[{k}/{n}] {name}: {verb} ({what})")
        return time.perf_counter()

    def end(k: int, name: str, action: str, t0: float, detail: str) -> None:
        seconds = time.perf_counter() - t0
        done = {"skip": "skipped", "resume": "resumed", "fresh": "built"}[action]
        outcomes.append(StageOutcome(k, name, done, seconds, detail))
        elapsed = time.perf_counter() - t_start
        if action != "skip":
            say(f"[{k}/{n}] {name}: done in {seconds:.1f} s, {elapsed:.0f} s elapsed; {detail}")

    def sub(message: str) -> None:
        say(f"      {message}")

    # ---- 1. synthesize ------------------------------------------------------------------

    fp_synth = stage_fingerprint("synth", config.seed, to_dict(config.synth))
    action = store.prepare("synthesize", corpus_dir, fp_synth)
    t0 = begin(
        1,
        "synthesize",
        action,
        f"{config.synth.hours:g} h of EEG, {config.synth.patients} patients -> {corpus_dir}",
    )
    if action == "skip":
        detail = str(store.get("synthesize").get("detail", ""))
    else:
        store.start("synthesize", fp_synth)
        res = synthesize(corpus_dir, config.synth, seed=config.seed, jobs=jobs, progress=progress)
        n_sz = sum(len(r.seizures) for r in res.recordings)
        detail = (
            f"{len(res.recordings)} recordings, {res.total_seconds / 3600:.2f} h, {n_sz} seizures"
        )
        store.finish("synthesize", fp_synth, detail=detail)
    end(1, "synthesize", action, t0, detail)

    # ---- 2. preprocess -------------------------------------------------------------------

    fp_prep = stage_fingerprint("preprocess", fp_synth, to_dict(config.preprocess))
    action = store.prepare("preprocess", cache_dir, fp_prep)
    t0 = begin(2, "preprocess", action, f"{corpus_dir} -> {cache_dir}")
    if action == "skip":
        detail = str(store.get("preprocess").get("detail", ""))
    else:
        store.start("preprocess", fp_prep)
        summary = build_cache(
            corpus_dir, cache_dir, config.preprocess, jobs=jobs, progress=progress
        )
        failures = summary.failures
        if failures:
            listing = "; ".join(f"{f.path}: {f.reason}" for f in failures[:5])
            raise DemoError(
                f"preprocess: {len(failures)} recording(s) of {corpus_dir} could not be "
                f"processed ({listing})"
            )
        detail = (
            f"{summary.count('done')} recordings processed, {summary.count('skipped')} "
            "already cached"
        )
        store.finish("preprocess", fp_prep, detail=detail)
    end(2, "preprocess", action, t0, detail)

    cache = Cache(cache_dir)

    # ---- 3. train ------------------------------------------------------------------------

    fp_train, exact_train = _train_fingerprints(config, fp_prep)
    action = store.prepare("train", run_dir, fp_train, exact_train)
    n_train = len(cache.split("train"))
    t0 = begin(
        3,
        "train",
        action,
        f"{config.model.cell} model, {config.train.epochs} epochs on {n_train} train "
        f"recordings -> {run_dir}",
    )
    if action == "skip":
        detail = str(store.get("train").get("detail", ""))
    else:
        store.start("train", fp_train, exact_train)
        result = train(config, cache, run_dir, resume=True, device=device, log=sub)
        if result.status == "interrupted":
            raise DemoInterrupted(
                f"training interrupted; {run_dir / 'last.pt'} saved: run the same command "
                "again to resume",
                result.exit_code or 130,
            )
        best = "n/a" if result.best_value is None else f"{result.best_value:.4f}"
        detail = (
            f"{result.status}, {result.epochs_completed} epochs, best {result.best_metric} "
            f"{best} at epoch {result.best_epoch}"
        )
        store.finish("train", fp_train, exact_train, detail=detail)
    end(3, "train", action, t0, detail)

    # ---- 4. evaluate ---------------------------------------------------------------------

    checkpoint = run_dir / "best.pt"
    if not checkpoint.is_file():
        raise DemoError(f"train: {checkpoint} was not written")
    split = "eval"
    fp_eval = stage_fingerprint("evaluate", exact_train, file_sha256(checkpoint), split)
    exact_eval = stage_fingerprint(fp_eval, to_dict(config.evaluate))
    action = store.prepare("evaluate", eval_dir, fp_eval, exact_eval)
    records = cache.split(split)
    hours = sum(r.duration_s for r in records) / 3600.0
    n_patients = len({r.patient for r in records})
    t0 = begin(
        4,
        "evaluate",
        action,
        f"{checkpoint.name} on {n_patients} held-out patients ({hours:.2f} h) -> {eval_dir}",
    )
    if action == "skip":
        detail = str(store.get("evaluate").get("detail", ""))
    else:
        store.start("evaluate", fp_eval, exact_eval)
        ev = evaluate(
            checkpoint,
            cache,
            eval_dir,
            split=split,
            overrides=evaluate_overrides(config),
            device=device,
            reuse_probs=True,
            log=sub,
        )
        detail = f"threshold {ev.threshold:g}, {ev.n_recordings} recordings scored"
        store.finish("evaluate", fp_eval, exact_eval, detail=detail)
    end(4, "evaluate", action, t0, detail)

    scores = json.loads((eval_dir / "scores.json").read_text())
    evaluation = json.loads((eval_dir / "evaluation.json").read_text())
    return DemoResult(
        out_dir=out,
        corpus_dir=corpus_dir,
        cache_dir=cache_dir,
        run_dir=run_dir,
        eval_dir=eval_dir,
        scores=scores,
        threshold=float(evaluation.get("threshold", config.evaluate.threshold)),
        n_recordings=len(records),
        n_patients=n_patients,
        hours=hours,
        stages=outcomes,
        wall_s=time.perf_counter() - t_start,
    )
