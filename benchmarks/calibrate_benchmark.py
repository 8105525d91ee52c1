"""Calibrate the benchmark corpus: eval window AUROC of a band-power logistic regression.

Usage::

    python benchmarks/calibrate_benchmark.py --seeds 0 1 2 [--jobs 2] [--work DIR]
    python benchmarks/calibrate_benchmark.py --corpus CORPUS     # a corpus already written
    python benchmarks/calibrate_benchmark.py --seeds 0 --set synth.hours=16  # a smaller one

For each seed: ``seizure synth`` with ``configs/synth/benchmark.yaml`` (and ``--set``
overrides), ``seizure preprocess`` with the default preprocessing, then per-window features
(:func:`seizure.preprocessing.bandpower.band_power_features`: log band power in delta,
theta, alpha, beta and gamma, mean and max over the TCP channels), a standardised
scikit-learn ``LogisticRegression`` fitted on the train split's windows, and the window AUROC
on the eval split. The corpus and cache of each seed are deleted afterwards unless ``--keep``.

The last line is one JSON object: ``auroc`` per seed, their mean and standard deviation,
the corpus figures (eval hours, eval seizures, dev patients) and the seconds each stage took.
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


def split_features(cache, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Band-power features and window labels of every cached recording of one split.

    Returns
    -------
    features : ndarray, shape (n_windows, 10)
    labels : ndarray of uint8, shape (n_windows,)
    """
    from seizure.preprocessing.bandpower import band_power_features

    rate = cache.config.sample_rate_hz
    feats, labels = [], []
    for rec in cache.split(split):
        feats.append(band_power_features(cache.windows(rec.recording_id), rate))
        labels.append(np.asarray(cache.labels(rec.recording_id)))
    if not feats:
        raise SystemExit(f"the cache holds no {split} recording")
    return np.concatenate(feats), np.concatenate(labels)


def baseline_auroc(cache_dir: Path) -> dict:
    """Fit the logistic regression on train, score eval windows; figures of the corpus too."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from seizure.preprocessing.cache import Cache

    cache = Cache(cache_dir)
    x_tr, y_tr = split_features(cache, "train")
    x_ev, y_ev = split_features(cache, "eval")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_tr, y_tr)
    score = model.predict_proba(x_ev)[:, 1]
    eval_recs = cache.split("eval")
    return {
        "auroc": float(roc_auc_score(y_ev, score)),
        "eval_hours": round(sum(r.duration_s for r in eval_recs) / 3600.0, 2),
        "eval_seizures": sum(len(cache.events(r.recording_id)) for r in eval_recs),
        "dev_patients": len({r.patient for r in cache.split("dev")}),
        "train_windows": int(y_tr.size),
        "eval_windows": int(y_ev.size),
        "eval_ictal_fraction": round(float(y_ev.mean()), 4),
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
    out = {"seed": seed, **baseline_auroc(cache)}
    out["seconds"] = {
        "synth": round(t1 - t0, 1),
        "preprocess": round(t2 - t1, 1),
        "baseline": round(time.perf_counter() - t2, 1),
    }
    if not keep:
        shutil.rmtree(corpus, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
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
            runs.append({"corpus": str(args.corpus), **baseline_auroc(work / "cache")})
        else:
            for seed in args.seeds:
                runs.append(run_seed(seed, args.overrides, work, args.jobs, args.keep))
                print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    aurocs = np.array([r["auroc"] for r in runs])
    print(
        json.dumps(
            {
                "benchmark": "calibrate_benchmark",
                "auroc_mean": round(float(aurocs.mean()), 4),
                "auroc_sd": round(float(aurocs.std(ddof=1)), 4) if aurocs.size > 1 else None,
                "auroc": [round(float(a), 4) for a in aurocs],
                "overrides": args.overrides,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    main()
