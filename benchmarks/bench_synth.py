"""Benchmark ``seizure synth``: times real time per core, and the --jobs 2 / --jobs 1 ratio.

Usage::

    python benchmarks/bench_synth.py [--hours 4] [--repeat 3]

Prints, for one-hour recordings at 250 Hz (27 channels): generation alone and generation plus
EDF and annotation writing, in wall and CPU seconds per hour and times real time (the
Wendling bank is simulated once beforehand; its one-off cost is printed apart). Then the
wall time of a whole corpus with --jobs 1 and --jobs 2 (each job pays its own bank). The
machine may be shared: take the best of several repeats.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0, help="corpus size for --jobs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from seizure.synth.config import SynthConfig
    from seizure.synth.corpus import synthesize, write_recording
    from seizure.synth.generate import generate_recording
    from seizure.synth.ictal import waveform_bank
    from seizure.synth.plan import plan_corpus

    t0 = time.perf_counter()
    waveform_bank()
    print(f"Wendling bank (once per process): {time.perf_counter() - t0:.2f} s")

    config = SynthConfig(hours=2.0, patients=2, recording_minutes=(60.0, 60.0))
    spec = next(s for s in plan_corpus(config, seed=0) if s.seizures)
    spec = dataclasses.replace(spec, sfreq_hz=250.0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        gen, full, cpu = [], [], []
        for _ in range(args.repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            rec = generate_recording(spec, config)
            t1 = time.perf_counter()
            write_recording(tmp / "one", rec)
            t2, c2 = time.perf_counter(), time.process_time()
            gen.append(t1 - t0)
            full.append(t2 - t0)
            cpu.append(c2 - c0)
            del rec
        print(
            f"1 h x 27 ch @ 250 Hz: generate {min(gen):.2f} s wall, generate + write "
            f"{min(full):.2f} s wall ({3600 / min(full):,.0f}x real time), "
            f"{min(cpu):.2f} s CPU ({3600 / min(cpu):,.0f}x real time per core)"
        )
        corpus = SynthConfig(hours=args.hours, patients=4, recording_minutes=(20.0, 40.0))
        walls = {}
        for jobs in (1, 2):
            best = float("inf")
            for r in range(max(1, args.repeat - 1)):
                out = tmp / f"jobs{jobs}_{r}"
                t0 = time.perf_counter()
                synthesize(out, corpus, seed=0, jobs=jobs, progress=False)
                best = min(best, time.perf_counter() - t0)
                shutil.rmtree(out)
            walls[jobs] = best
            print(
                f"{args.hours:g} h corpus, --jobs {jobs}: {best:.2f} s "
                f"({args.hours * 3600 / best:,.0f}x real time)"
            )
        print(f"speed-up --jobs 2 / --jobs 1: {walls[1] / walls[2]:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
