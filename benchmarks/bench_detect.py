"""``seizure detect`` over a folder: reading one recording ahead against reading in turn.

Usage::

    .venv/bin/python benchmarks/bench_detect.py              # 6 x 10 min recordings, 3 repeats
    .venv/bin/python benchmarks/bench_detect.py --recordings 4 --seconds 300 --repeats 1

:func:`seizure.evaluation.detect.detect` (the library behind ``seizure detect``) on generated
TUSZ-style EDFs (23 channels at 250 Hz, ``bench_preprocess.py``'s recordings) with a
checkpoint of the default model of ``Config()`` (untrained weights), in this process, twice
per repeat, alternating: as shipped (recording k + 1 is read and preprocessed on a thread
while the model runs on recording k) and with that read-ahead turned off (each recording
read when its turn comes; the first recording's early read, during the model's loading, is
kept in both). The outputs of the two must be identical. The gain needs a core that the
model leaves free (or a GPU running the model): on a machine whose cores are all busy it
shrinks to nothing.

The last line is one JSON object: ``figure`` = seconds with the read-ahead, ``baseline`` =
without, ``ratio`` = baseline / figure (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_preprocess import make_corpus
from bench_startup import make_checkpoint


def run_detect(checkpoint: Path, corpus: Path, out: Path, device: str, ahead: bool) -> float:
    """Seconds of one :func:`detect` over ``corpus`` (the read-ahead on or off)."""
    import shutil

    import seizure.evaluation.detect as D

    shutil.rmtree(out, ignore_errors=True)
    real = D._unique_names
    if not ahead:
        D._unique_names = lambda recordings: []  # nothing to read ahead
    try:
        t0 = time.perf_counter()
        results = D.detect(checkpoint, [corpus], out, device=device, log=lambda _m: None)
        seconds = time.perf_counter() - t0
    finally:
        D._unique_names = real
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(f"detect failed: {failed[0]}")
    return seconds


def outputs(out: Path) -> dict[str, bytes]:
    """The hypothesis files of a detection folder, by name."""
    kept = (".csv_bi", ".tsv")
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix in kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=600, help="length of each recording")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_detect_"))
    corpus = make_corpus(work / "corpus", args.recordings, args.seconds)
    checkpoint = make_checkpoint(work / "best.pt")
    print(
        f"{args.recordings} recordings of {args.seconds} s (23 channels at 250 Hz), device "
        f"{args.device}; {args.repeats} repeat(s), CPUs {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    run_detect(checkpoint, corpus, work / "warm", args.device, True)  # imports, page cache
    with_ahead: list[float] = []
    in_turn: list[float] = []
    for _ in range(args.repeats):  # alternating, so that both see the same machine load
        with_ahead.append(run_detect(checkpoint, corpus, work / "ahead", args.device, True))
        in_turn.append(run_detect(checkpoint, corpus, work / "in_turn", args.device, False))
    if outputs(work / "ahead") != outputs(work / "in_turn"):
        raise SystemExit("the outputs with and without the read-ahead differ")
    a, b = statistics.median(with_ahead), statistics.median(in_turn)
    print(
        f"seizure detect over {args.recordings} recordings: {a:.2f} s reading ahead, {b:.2f} s "
        f"reading in turn: {b / a:.2f}x (outputs identical); load {os.getloadavg()[0]:.2f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "detect_read_ahead",
                "figure": round(a, 3),
                "baseline": round(b, 3),
                "ratio": round(b / a, 3),
                "runs_ahead": [round(t, 3) for t in with_ahead],
                "runs_in_turn": [round(t, 3) for t in in_turn],
                "recordings": args.recordings,
                "seconds_each": args.seconds,
                "device": args.device,
            }
        )
    )


if __name__ == "__main__":
    main()
