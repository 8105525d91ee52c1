"""Calibrate the benchmark corpus: the band-power baseline at window and at event level.

Usage::

    python benchmarks/calibrate_benchmark.py --seeds 0 1 2 [--jobs 2] [--work DIR]
    python benchmarks/calibrate_benchmark.py --corpus CORPUS     # a corpus already written
    python benchmarks/calibrate_benchmark.py --seeds 0 --set synth.hours=24  # a smaller one

For each seed: ``seizure synth`` with ``configs/synth/benchmark.yaml`` (and ``--set``
overrides), ``seizure preprocess`` with the default preprocessing, then the baseline as
``seizure train CACHE RUN --config demo --config bandpower_logreg`` and ``seizure evaluate
RUN/best.pt CACHE OUT`` fit and score it (:func:`seizure.training.loop.train`,
:func:`seizure.evaluation.evaluate.evaluate`): the threshold and post-processing are chosen
on dev at ``evaluate.choose_fa_per_24h`` (``choose_on: auto``) and applied unchanged to
eval. Printed per seed: eval window AUROC (label: the window's midpoint is ictal), OVLP
sensitivity and FA/24h at that operating point, the chosen settings, and the eval split's own
operating curve read at <= 10 FA/24h (the corpus's difficulty, the calibration target; not a
figure to report, since it is picked on eval). The corpus, cache
and runs of each seed are deleted afterwards unless ``--keep``.

The last lines are a table of mean +- sd over seeds and one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "seizure" / "configs" / "synth" / "benchmark.yaml"
#: The figures summarised over seeds, with their table headings.
FIGURES = {
    "window_auroc": "eval window AUROC",
    "ovlp_sensitivity": "OVLP sensitivity",
    "ovlp_fa_per_24h": "OVLP FA/24h",
    "curve_ovlp_sensitivity_at_10": "eval curve: OVLP sens. at <= 10 FA/24h",
}

#: Budget (FA/24h) at which the eval split's own operating curve is read: the corpus's
#: difficulty (the issue's target, 20-40% at <= 10 FA/24h), not a figure to report (it is
#: picked on the evaluated split; the dev-chosen point beside it is the reportable one).
CURVE_BUDGET = 10.0


def window_auroc(eval_dir: Path, cache) -> float:
    """Eval window AUROC of the probabilities ``seizure evaluate`` wrote to ``eval_dir/probs``."""
    from sklearn.metrics import roc_auc_score

    from seizure.preprocessing.cache import safe_id

    probs, labels = [], []
    for rec in cache.split("eval"):
        probs.append(np.load(eval_dir / "probs" / f"{safe_id(rec.recording_id)}.npy"))
        labels.append(np.asarray(cache.labels(rec.recording_id)))
    return float(roc_auc_score(np.concatenate(labels), np.concatenate(probs)))


def baseline_figures(cache_dir: Path, work: Path) -> dict:
    """Fit the baseline on train, evaluate it on eval with a dev-chosen operating point."""
    from seizure.config import load_config
    from seizure.evaluation.evaluate import evaluate
    from seizure.preprocessing.cache import Cache
    from seizure.training.loop import train

    cache = Cache(cache_dir)
    run, out = work / "baseline", work / "baseline-eval"
    result = train(load_config(["demo", "bandpower_logreg"], []), cache_dir, run, device="cpu")
    if result.exit_code:
        raise SystemExit(f"the baseline fit ended with {result.status}")
    evaluate(run / "best.pt", cache_dir, out, device="cpu", log=lambda _msg: None)
    scores = json.loads((out / "scores.json").read_text())
    summary = json.loads((out / "evaluation.json").read_text())
    op = summary.get("operating_point") or {}
    (at_budget,) = [
        p
        for p in summary["operating_points"]
        if p["method"] == "ovlp" and p["budget_fa_per_24h"] == CURVE_BUDGET
    ]
    eval_recs = cache.split("eval")
    return {
        "window_auroc": round(window_auroc(out, cache), 4),
        "ovlp_sensitivity": scores["ovlp"]["sensitivity"],
        "ovlp_fa_per_24h": scores["ovlp"]["false_alarms_per_24h"],
        "taes_sensitivity": scores["taes"]["sensitivity"],
        "taes_fa_per_24h": scores["taes"]["false_alarms_per_24h"],
        "curve_ovlp_sensitivity_at_10": at_budget["sensitivity"] or 0.0,
        "curve_ovlp_fa_at_10": at_budget["false_alarms_per_24h"],
        "curve_threshold_at_10": at_budget["threshold"],
        "chosen_on": summary.get("chosen_on"),
        "threshold": summary["threshold"],
        "smoothing_windows": op.get("smoothing_windows"),
        "merge_gap_seconds": op.get("merge_gap_seconds"),
        "min_event_seconds": op.get("min_event_seconds"),
        "dev_sensitivity": op.get("sensitivity"),
        "dev_fa_per_24h": op.get("false_alarms_per_24h"),
        "eval_hours": round(sum(r.duration_s for r in eval_recs) / 3600.0, 2),
        "eval_seizures": sum(len(cache.events(r.recording_id)) for r in eval_recs),
        "dev_patients": len({r.patient for r in cache.split("dev")}),
        "eval_ictal_fraction": round(
            float(np.mean(np.concatenate([cache.labels(r.recording_id) for r in eval_recs]))), 4
        ),
    }


def run_seed(seed: int, overrides: list[str], work: Path, jobs: int, keep: bool) -> dict:
    """Synthesize, preprocess and calibrate one seed's corpus."""
    from seizure.config import load_config
    from seizure.preprocessing.build import build_cache
    from seizure.synth.corpus import synthesize

    config = load_config(BENCHMARK, overrides)
    corpus, cache = work / f"corpus_{seed}", work / f"cache_{seed}"
    t0 = time.perf_counter()
    synthesize(corpus, config.synth, seed=seed, jobs=jobs, progress=False)
    t1 = time.perf_counter()
    summary = build_cache(corpus, cache, config.preprocess, jobs=jobs, progress=False)
    if summary.failures:
        raise SystemExit(f"preprocessing failed: {[r.reason for r in summary.failures]}")
    t2 = time.perf_counter()
    out = {"seed": seed, **baseline_figures(cache, work / f"runs_{seed}")}
    out["seconds"] = {
        "synth": round(t1 - t0, 1),
        "preprocess": round(t2 - t1, 1),
        "baseline": round(time.perf_counter() - t2, 1),
    }
    if not keep:
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(work / f"runs_{seed}", ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="folder for corpora and caches")
    parser.add_argument("--keep", action="store_true", help="keep corpora and caches")
    parser.add_argument("--corpus", type=Path, default=None, help="calibrate this corpus only")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="calibrate_"))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    try:
        if args.corpus is not None:
            from seizure.config import load_config
            from seizure.preprocessing.build import build_cache

            config = load_config(BENCHMARK, args.overrides)
            build_cache(args.corpus, work / "cache", config.preprocess, jobs=args.jobs)
            figures = baseline_figures(work / "cache", work / "runs")
            runs.append({"corpus": str(args.corpus), **figures})
        else:
            for seed in args.seeds:
                runs.append(run_seed(seed, args.overrides, work, args.jobs, args.keep))
                print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(runs)
    print(
        json.dumps(
            {
                "benchmark": "calibrate_benchmark",
                **summarize(runs),
                "overrides": args.overrides,
                "runs": runs,
            }
        )
    )


def summarize(runs: list[dict]) -> dict:
    """Mean and sample standard deviation (None for one run) of each of :data:`FIGURES`."""
    out: dict = {}
    for key in FIGURES:
        vals = np.array([r[key] for r in runs], dtype=float)
        out[f"{key}_mean"] = round(float(vals.mean()), 4)
        out[f"{key}_sd"] = round(float(vals.std(ddof=1)), 4) if vals.size > 1 else None
    return out


def print_table(runs: list[dict]) -> None:
    """A markdown table: one row per seed (or corpus), then mean +- sd."""
    print(
        "| synth seed | " + " | ".join(FIGURES.values()) + " | threshold (dev) | post-processing |"
    )
    print("|---|" + "---:|" * len(FIGURES) + "---:|---|")
    for r in runs:
        cells = [f"{r['window_auroc']:.3f}", f"{100 * r['ovlp_sensitivity']:.1f}%",
                 f"{r['ovlp_fa_per_24h']:.1f}",
                 f"{100 * r['curve_ovlp_sensitivity_at_10']:.1f}%"]  # fmt: skip
        post = (
            f"{r['smoothing_windows']} win, gap {r['merge_gap_seconds']:g} s, "
            f"min {r['min_event_seconds']:g} s"
        )
        print(
            f"| {r.get('seed', r.get('corpus'))} | "
            + " | ".join(cells)
            + f" | {r['threshold']:g} | {post} |"
        )
    if len(runs) > 1:
        m = summarize(runs)
        cells = [
            f"{m['window_auroc_mean']:.3f} +- {m['window_auroc_sd']:.3f}",
            f"{100 * m['ovlp_sensitivity_mean']:.1f} +- {100 * m['ovlp_sensitivity_sd']:.1f}%",
            f"{m['ovlp_fa_per_24h_mean']:.1f} +- {m['ovlp_fa_per_24h_sd']:.1f}",
            f"{100 * m['curve_ovlp_sensitivity_at_10_mean']:.1f} "
            f"+- {100 * m['curve_ovlp_sensitivity_at_10_sd']:.1f}%",
        ]
        print("| mean +- sd | " + " | ".join(cells) + " | | |")


if __name__ == "__main__":
    main()
