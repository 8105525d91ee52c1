"""Benchmark ``seizure synth``: times real time per core, and the --jobs 2 / --jobs 1 ratio.

Usage::

    python benchmarks/bench_synth.py [--hours 8] [--repeat 3]
    python benchmarks/bench_synth.py --quick      # 4-hour corpus, fewer repeats
    python benchmarks/bench_synth.py --realism CORPUS [--max-recordings N]

``--realism`` measures a corpus folder instead (:mod:`seizure.synth.realism`: background
slope, line noise, ictal/background band-power ratios per seizure type) beside the real
recording ``../shared/data/real/malow`` when it is there, and prints a Markdown table and
then the figures as one JSON line.

Prints, for one-hour recordings at 250 Hz (27 channels): generation alone and generation plus
EDF and annotation writing, in wall and CPU seconds per hour and times real time (the
Wendling bank is simulated once beforehand; its one-off cost is printed apart). Then the
wall time of ``synthesize()`` writing a whole corpus with ``jobs=1`` and ``jobs=2``, each
call in a fresh Python process that times only the call: both pay the Wendling bank once
per process (jobs 2: once per worker, in parallel) and jobs 2 pays starting its worker
pool, as ``seizure synth`` does, but not the interpreter's start. The machine may be
shared: take the best of several repeats (the load average is printed).

The last line is one JSON object (``benchmarks/run_all.py``): ``figure`` is the corpus
speed with ``--jobs 2`` in times real time, ``baseline`` the same with ``--jobs 1``,
``ratio`` their quotient; the one-hour figures (times real time per core) are beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOBS_SCRIPT = """
import sys, time
from pathlib import Path
from seizure.synth.config import SynthConfig
from seizure.synth.corpus import synthesize
if __name__ == "__main__":
    out, hours, jobs = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    config = SynthConfig(hours=hours, patients=4, recording_minutes=(20.0, 40.0))
    start = time.perf_counter()
    synthesize(out, config, seed=0, jobs=jobs, progress=False)
    print(time.perf_counter() - start)
"""


def jobs_run(out: Path, hours: float, jobs: int) -> float:
    """Seconds ``synthesize(out, jobs=jobs)`` takes in a fresh process (the call only)."""
    shutil.rmtree(out, ignore_errors=True)
    script = out.with_name("jobs_script.py")  # a file, as the `seizure` command is
    script.write_text(JOBS_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(out), str(hours), str(jobs)],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    return float(proc.stdout.strip().splitlines()[-1])


MALOW = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "malow"


def _fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def realism_table(corpus: Path, max_recordings: int | None) -> None:
    """Print the realism statistics of ``corpus`` (and of malow) as Markdown, then JSON."""
    from seizure.io.events import Event
    from seizure.synth.realism import BANDS_HZ, measure_corpus, measure_corpus_dir

    columns = {"synthetic": measure_corpus_dir(corpus, max_recordings=max_recordings).to_dict()}
    edf = MALOW / "malow_michigan_19ch_100Hz_500s.edf"
    if edf.is_file():
        columns["real (malow)"] = measure_corpus([(edf, [Event(350.0, 500.0, "seiz")])]).to_dict()
    names = list(columns)
    print("| statistic | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))

    def row(label: str, get) -> None:
        print(f"| {label} | " + " | ".join(get(columns[n]) for n in names) + " |")

    row("recordings / seizures", lambda d: f"{d['recordings']} / {d['seizures']}")
    row(
        "background slope 2-30 Hz, median channel (range over recordings)",
        lambda d: (
            f"{_fmt(d['slope_median'], '.2f')} ({_fmt(d['slope_range'][0], '.2f')} to "
            f"{_fmt(d['slope_range'][1], '.2f')})"
        ),
    )
    row("line noise, median channel (dB above floor)", lambda d: _fmt(d["line_db_median"], ".1f"))
    row("line noise, worst channel (dB)", lambda d: _fmt(d["line_db_max"], ".1f"))
    row("channels with line noise > 6 dB", lambda d: _fmt(d["line_channels_above_6db"], ".0%"))
    for band, (lo, hi) in BANDS_HZ.items():
        row(
            f"ictal/background {band} {lo:g}-{hi:g} Hz, all seizures",
            lambda d, b=band: "x" + _fmt(d["band_ratios"][b], ".1f"),
        )
    labels = sorted({lab for d in columns.values() for lab in d["band_ratios_by_label"]})
    for label in labels:
        row(
            f"ictal/background, {label} (delta/theta/alpha/beta/gamma)",
            lambda d, lab=label: (
                " / ".join(
                    "x" + _fmt(v, ".1f") for v in d["band_ratios_by_label"].get(lab, {}).values()
                )
                or "-"
            ),
        )
    print(json.dumps({"benchmark": "synth_realism", "corpus": str(corpus), **columns}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=None, help="corpus for --jobs (8)")
    parser.add_argument("--repeat", type=int, default=None, help="best of (3)")
    parser.add_argument("--quick", action="store_true", help="4-hour corpus, best of 2")
    parser.add_argument("--realism", type=Path, default=None, help="measure this corpus")
    parser.add_argument("--max-recordings", type=int, default=None, help="with --realism")
    args = parser.parse_args()
    if args.realism is not None:
        realism_table(args.realism, args.max_recordings)
        return
    hours = args.hours or (4.0 if args.quick else 8.0)
    repeat = args.repeat or (2 if args.quick else 3)

    from seizure.synth.config import SynthConfig
    from seizure.synth.corpus import write_recording
    from seizure.synth.generate import generate_recording
    from seizure.synth.ictal import waveform_bank
    from seizure.synth.plan import plan_corpus

    print(f"CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; best of {repeat}")
    t0 = time.perf_counter()
    waveform_bank()
    bank_s = time.perf_counter() - t0
    print(f"Wendling bank (once per process): {bank_s:.2f} s")

    config = SynthConfig(hours=2.0, patients=2, recording_minutes=(60.0, 60.0))
    spec = next(s for s in plan_corpus(config, seed=0) if s.seizures)
    spec = dataclasses.replace(spec, sfreq_hz=250.0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        gen, full, cpu = [], [], []
        for _ in range(repeat):
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
        walls: dict[int, float] = {}
        runs: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(repeat):  # interleaved, so both see the same machine load
            for jobs in (1, 2):
                runs[jobs].append(jobs_run(tmp / f"jobs{jobs}", hours, jobs))
        for jobs in (1, 2):
            walls[jobs] = min(runs[jobs])
            print(
                f"{hours:g} h corpus, --jobs {jobs}: {walls[jobs]:.2f} s "
                f"({hours * 3600 / walls[jobs]:,.0f}x real time; runs "
                f"{', '.join(f'{t:.2f}' for t in runs[jobs])} s)"
            )
        speedup = walls[1] / walls[2]
        print(f"speed-up --jobs 2 / --jobs 1: {speedup:.2f}x (load {os.getloadavg()[0]:.2f})")
        print(
            json.dumps(
                {
                    "benchmark": "synth",
                    "figure": round(hours * 3600 / walls[2], 1),
                    "unit": "x real time (--jobs 2)",
                    "baseline": round(hours * 3600 / walls[1], 1),
                    "baseline_name": "--jobs 1",
                    "ratio": round(speedup, 3),
                    "corpus_hours": hours,
                    "jobs1_s": round(walls[1], 3),
                    "jobs2_s": round(walls[2], 3),
                    "jobs_runs_s": {str(j): [round(t, 3) for t in v] for j, v in runs.items()},
                    "hour_generate_s": round(min(gen), 3),
                    "hour_generate_write_s": round(min(full), 3),
                    "hour_cpu_s": round(min(cpu), 3),
                    "x_real_time": round(3600 / min(full), 1),
                    "x_real_time_per_core": round(3600 / min(cpu), 1),
                    "bank_s": round(bank_s, 3),
                    "repeat": repeat,
                    "cpus": os.cpu_count(),
                    "load": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
