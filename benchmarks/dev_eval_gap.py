"""How far the operating point chosen on dev carries to eval, and why.

Usage::

    python benchmarks/dev_eval_gap.py CACHE EVAL_DIR [EVAL_DIR ...] [--resamples 2000]

``EVAL_DIR`` is the output folder of a ``seizure evaluate`` that chose its operating point on
dev (``evaluate.choose_on: auto`` or ``dev``): it holds the dev probabilities
(``choice_probs/``), the eval probabilities (``probs/``) and the chosen threshold and
post-processing (``evaluation.json``). For the chosen setting, per split: hours, patients,
OVLP false alarms (count and per 24 h), how many patients raised any, the share raised by the
most prolific tenth of the patients, and a 95% interval of FA/24h from resampling the
split's patients with replacement (``--resamples`` draws, seed 0). Patients are the
``evaluate.patient_regex`` match of each recording id, as in ``seizure evaluate``'s report.

When the dev budget lies inside eval's interval, the gap between dev's and eval's false
alarms is what drawing another set of patients does, not a defect of the choice. The last
line is one JSON object per EVAL_DIR with the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def split_false_alarms(cache, eval_dir: Path, split: str, folder: str, op: dict, regex: str):
    """Per-patient OVLP false alarms and hours of one split at the chosen setting."""
    from seizure.preprocessing.cache import safe_id
    from seizure.scoring.postprocess import postprocess
    from seizure.scoring.score import score_events

    fa: dict[str, float] = defaultdict(float)
    hours: dict[str, float] = defaultdict(float)
    pattern = re.compile(regex)
    for rec in cache.split(split):
        probs = np.load(eval_dir / folder / f"{safe_id(rec.recording_id)}.npy")
        hyp = postprocess(
            probs,
            threshold=float(op["threshold"]),
            window_seconds=cache.window_seconds,
            stride_seconds=cache.stride_seconds,
            duration_s=rec.duration_s,
            smoothing_windows=int(op["smoothing_windows"]),
            min_event_seconds=float(op["min_event_seconds"]),
            merge_gap_seconds=float(op["merge_gap_seconds"]),
        )
        counts = score_events(cache.events(rec.recording_id), hyp, rec.duration_s, "ovlp")
        seiz = counts.metrics().per_label["seiz"]
        match = pattern.search(rec.recording_id)
        patient = match.group(0) if match else rec.recording_id
        fa[patient] += float(seiz["fa_per_24h"]) * rec.duration_s / 86400.0
        hours[patient] += rec.duration_s / 3600.0
    patients = sorted(hours)
    return np.array([round(fa[p]) for p in patients]), np.array([hours[p] for p in patients])


def summarise(fa: np.ndarray, hours: np.ndarray, resamples: int) -> dict:
    """Totals, concentration and the patient-bootstrap 95% interval of FA/24h."""
    from seizure.scoring.intervals import patient_intervals

    n = len(fa)
    zeros = np.zeros(n)
    bounds = patient_intervals(zeros, zeros, fa, hours * 3600.0, resamples=resamples)
    lo, hi = bounds.false_alarms_per_24h or (0.0, 0.0)
    top = max(1, round(n / 10))
    total = int(fa.sum())
    return {
        "hours": round(float(hours.sum()), 1),
        "patients": n,
        "false_alarms": total,
        "fa_per_24h": round(24.0 * total / float(hours.sum()), 2),
        "patients_with_false_alarms": int((fa > 0).sum()),
        "top_tenth_share": round(float(np.sort(fa)[::-1][:top].sum()) / total, 2) if total else 0.0,
        "fa_per_24h_95": [round(lo, 2), round(hi, 2)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("eval_dirs", type=Path, nargs="+")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)

    from seizure.config import load_config
    from seizure.preprocessing.cache import Cache

    cache = Cache(args.cache)
    results = []
    for eval_dir in args.eval_dirs:
        evaluation = json.loads((eval_dir / "evaluation.json").read_text())
        if evaluation.get("chosen_on") != "dev" or not (eval_dir / "choice_probs").is_dir():
            print(f"{eval_dir}: its operating point was not chosen on dev", file=sys.stderr)
            return 2
        op = evaluation["operating_point"]
        regex = load_config(eval_dir / "config.yaml").evaluate.patient_regex
        row = {"eval_dir": str(eval_dir), "threshold": op["threshold"]}
        for split, folder in (("dev", "choice_probs"), ("eval", "probs")):
            fa, hours = split_false_alarms(cache, eval_dir, split, folder, op, regex)
            row[split] = summarise(fa, hours, args.resamples)
        results.append(row)
        print(
            f"{eval_dir}: threshold {op['threshold']:g}, smoothing {op['smoothing_windows']}, "
            f"gap {op['merge_gap_seconds']:g} s, min {op['min_event_seconds']:g} s"
        )
        for split in ("dev", "eval"):
            s = row[split]
            lo, hi = s["fa_per_24h_95"]
            print(
                f"  {split:4s} {s['hours']:5.1f} h, {s['patients']} patients: "
                f"{s['false_alarms']} false alarms = {s['fa_per_24h']:.2f} FA/24h "
                f"(95% over patients {lo:.2f}-{hi:.2f}); {s['patients_with_false_alarms']} "
                f"patients raised them, the top tenth {100 * s['top_tenth_share']:.0f}%"
            )
    print(json.dumps({"benchmark": "dev_eval_gap", "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
