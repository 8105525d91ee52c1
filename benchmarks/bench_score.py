"""Benchmark ``seizure score``'s scorers: hours of annotations scored per second.

Generates a seeded synthetic set of recordings (reference seizures and a detector's output:
jittered true detections, misses and false alarms), scores it with each method, and times
``timescoring`` (SzCORE's library) on the same data where a comparable scorer exists:
OVLP against ``EventScoring`` (both any-overlap event scoring) and EPOCH against
``SampleScoring`` (both sample-by-sample). The ratio printed is our speed over theirs.
The last line is one JSON object (``benchmarks/run_all.py``): ``figure`` is OVLP's hours per
second, ``baseline`` timescoring's ``EventScoring`` on the same data, and ``methods`` holds
every method's seconds, hours per second, sensitivity and ratio against timescoring. Times
are the best of ``--repeat`` runs (each run takes milliseconds; the machine may be shared).

Usage::

    python benchmarks/bench_score.py [--hours 1000] [--recording-hours 1] [--seed 0]
    python benchmarks/bench_score.py --quick      # best of 3 instead of 7
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from seizure.scoring.nedc import NEDC_METHODS
from seizure.scoring.score import METHODS, score_recordings


def synth(hours: float, recording_hours: float, seed: int) -> list:
    """Recordings ``(name, ref, hyp, duration_s)`` with about 1 seizure and 4 false alarms
    per hour; 80 % of seizures detected with onset/offset jitter of a few seconds."""
    rng = np.random.default_rng(seed)
    n_rec = max(1, round(hours / recording_hours))
    duration = recording_hours * 3600.0
    recs = []
    for i in range(n_rec):
        n_sz = rng.poisson(1.0 * recording_hours)
        starts = np.sort(rng.uniform(0, duration - 200, n_sz))
        ref = [(s, s + rng.uniform(10, 120)) for s in starts]
        hyp = []
        for a, b in ref:
            if rng.random() < 0.8:
                hyp.append((max(0.0, a + rng.normal(5, 5)), b + rng.normal(0, 10)))
        for s in rng.uniform(0, duration - 60, rng.poisson(4.0 * recording_hours)):
            hyp.append((s, s + rng.uniform(2, 30)))
        recs.append((f"p{i // 5:04d}_s001_t{i % 5:03d}", ref, hyp, duration))
    return recs


def bench_ours(recs: list, method: str, repeat: int = 1) -> tuple[float, dict]:
    """Best time of ``repeat`` runs of our scorer, and its summary."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = score_recordings(recs, [method])
        best = min(best, time.perf_counter() - t0)
    return best, report.results[method].summary()


def bench_timescoring(recs: list, kind: str, repeat: int = 1) -> float:
    """timescoring's own scorer per recording, fed as its README shows (events, 1 Hz);
    best time of ``repeat`` runs."""
    from timescoring import scoring
    from timescoring.annotations import Annotation

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _, ref, hyp, duration in recs:
            n = int(round(duration))
            r = Annotation(sorted(ref), 1, n)
            h = Annotation(sorted(hyp), 1, n)
            if kind == "event":
                scoring.EventScoring(r, h)
            else:
                scoring.SampleScoring(r, h)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1000.0, help="hours of recordings")
    parser.add_argument("--repeat", type=int, default=None, help="best of (default 7)")
    parser.add_argument("--quick", action="store_true", help="best of 3")
    parser.add_argument("--recording-hours", type=float, default=1.0, help="hours per file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 7)

    recs = synth(args.hours, args.recording_hours, args.seed)
    hours = sum(r[3] for r in recs) / 3600
    n_ref = sum(len(r[1]) for r in recs)
    n_hyp = sum(len(r[2]) for r in recs)
    print(
        f"{len(recs)} recordings, {hours:.0f} h, {n_ref} reference seizures, "
        f"{n_hyp} hypothesis events (seed {args.seed}); best of {repeat}"
    )
    comparable = {"ovlp": "event", "epoch": "sample"}
    methods: dict[str, dict] = {}
    print(f"{'method':<15}{'seconds':>9}{'hours/s':>11}{'sens %':>8}   vs timescoring")
    for method in args.methods.split(","):
        secs, summary = bench_ours(recs, method, repeat)
        line = f"{method:<15}{secs:9.3f}{hours / secs:11.0f}{100 * summary['sensitivity']:8.2f}"
        methods[method] = {
            "seconds": round(secs, 4),
            "hours_per_s": round(hours / secs, 1),
            "sensitivity": round(float(summary["sensitivity"]), 4),
        }
        if method in comparable:
            kind = comparable[method]
            ts = bench_timescoring(recs, kind, repeat)
            methods[method].update(
                timescoring=f"{kind.title()}Scoring",
                timescoring_seconds=round(ts, 4),
                timescoring_hours_per_s=round(hours / ts, 1),
                ratio=round(ts / secs, 3),
            )
            line += (
                f"   {kind.title()}Scoring {ts:.3f} s = {hours / ts:.0f} h/s; "
                f"ours {ts / secs:.1f}x faster"
            )
        elif method not in NEDC_METHODS:
            line += "   (runs timescoring itself)"
        print(line)
    head = methods.get("ovlp", {})
    print(
        json.dumps(
            {
                "benchmark": "score",
                "figure": head.get("hours_per_s"),
                "unit": "hours/s (OVLP)",
                "baseline": head.get("timescoring_hours_per_s"),
                "baseline_name": "timescoring EventScoring",
                "ratio": head.get("ratio"),
                "methods": methods,
                "hours": round(hours, 1),
                "recordings": len(recs),
                "reference_seizures": n_ref,
                "hypothesis_events": n_hyp,
                "seed": args.seed,
                "repeat": repeat,
                "load": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
