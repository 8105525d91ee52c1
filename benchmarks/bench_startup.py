"""Start-up where users wait: whole processes, from the interpreter's start to the exit.

Usage::

    .venv/bin/python benchmarks/bench_startup.py           # 3 x 1 h recordings, 3 repeats
    .venv/bin/python benchmarks/bench_startup.py --quick   # 3 x 10 min, 1 repeat

Measured, on generated TUSZ-style EDFs (23 channels ``EEG FP1-REF`` ... at 250 Hz, the
recordings of ``bench_preprocess.py``):

1. ``python -m seizure preprocess CORPUS CACHE --jobs J`` over three recordings, as a whole
   process (interpreter start, imports, worker pool, the work, the exit), for each ``J`` of
   ``--jobs`` (default 1 and 2), against a whole-process MNE chain doing the same work one
   recording after the other (the chain of ``bench_preprocess.py``: ``read_raw_edf``,
   ``set_bipolar_reference``, polyphase ``resample``, IIR band-pass and notch, 1 s epochs
   saved as float16). Target: ours >= 2.5x faster.
2. ``python -m seizure detect CHECKPOINT ONE.edf --out OUT --device D`` (default cpu): the
   seconds from the process's start to its first opening of the EDF (an audit hook on
   ``open`` in the measured process; nothing in the package is instrumented), and to its exit. The
   checkpoint holds the default model of ``Config()``. Target: first read within 1 s.
   Beside it, the start of a bare interpreter (``python -c pass``).

The machine may be shared: figures are medians, runs interleaved (the load average is
printed). One JSON line per measurement; the last line (``benchmarks/run_all.py``) has
``figure`` = ours in seconds for the three recordings (the fastest ``--jobs``), ``baseline``
the MNE chain's, ``ratio`` the speed-up, and the detect figures beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_preprocess import make_corpus, tusz_path, write_edf

N_RECORDINGS = 3

MNE_SCRIPT = """
import json, sys
import mne
import numpy as np

anodes, cathodes, channels = json.loads(sys.argv[1])
electrodes = sorted(set(anodes) | set(cathodes))
for k, edf in enumerate(sys.argv[3:]):
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    raw.rename_channels(lambda name: name.replace("EEG ", "").replace("-REF", ""))
    raw.pick(electrodes)
    raw = mne.set_bipolar_reference(
        raw, anodes, cathodes, ch_name=channels, drop_refs=True, verbose="error"
    )
    raw.pick(channels)
    raw.resample(256.0, method="polyphase", verbose="error")
    iir = {"order": 4, "ftype": "butter", "output": "sos"}
    raw.filter(1.0, 70.0, method="iir", iir_params=iir, verbose="error")
    raw.notch_filter(60.0, method="iir", verbose="error")
    epochs = mne.make_fixed_length_epochs(raw, duration=1.0, preload=True, verbose="error")
    np.save(f"{sys.argv[2]}/{k}.npy", epochs.get_data(copy=False).astype(np.float16))
"""

# Runs ``python -m seizure ARGS`` with an audit hook that prints the wall-clock time of the
# first ``open`` of an EDF file (``time.time()``: comparable with the parent's clock).
FIRST_READ_SCRIPT = """
import sys, time

def hook(event, args):
    if event == "open" and str(args[0]).lower().endswith(".edf") and not seen:
        seen.append(time.time())
        print(f"FIRST_EDF_OPEN {seen[0]!r}", file=sys.stderr, flush=True)

seen = []
sys.addaudithook(hook)
import runpy
sys.argv = ["seizure", *sys.argv[1:]]
runpy.run_module("seizure", run_name="__main__", alter_sys=True)
"""


def seizure_preprocess(corpus: Path, cache: Path, jobs: int) -> float:
    """Seconds of ``python -m seizure preprocess CORPUS CACHE --jobs J`` as a whole process."""
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, "-m", "seizure", "preprocess", str(corpus), str(cache)]
    cmd += ["--jobs", str(jobs), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    shutil.rmtree(cache, ignore_errors=True)
    return elapsed


def mne_process(script: Path, edfs: list[Path], out: Path) -> float:
    """Seconds of the MNE chain over ``edfs`` as a whole process (imports mne and numpy only)."""
    from seizure.preprocessing.montage import get_montage

    montage = get_montage("tcp_ar")
    pairs = [[a for a, _ in montage.pairs], [c for _, c in montage.pairs], list(montage.channels)]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, str(script), json.dumps(pairs), str(out), *map(str, edfs)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def make_checkpoint(path: Path) -> Path:
    """A checkpoint of the default model of ``Config()`` (untrained weights)."""
    from seizure.config import Config, fingerprint, to_dict
    from seizure.models.registry import build_model
    from seizure.preprocessing.pipeline import window_shape
    from seizure.training.checkpoint import save_checkpoint

    config = Config()
    shape = window_shape(config.preprocess)
    model = build_model(config.model, shape)
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "config": to_dict(config),
            "window_shape": list(shape),
            "cache_fingerprint": fingerprint(config.preprocess),
            "epoch": 0,
            "step": 0,
        },
    )
    return path


def detect_first_read(
    script: Path, checkpoint: Path, edf: Path, out: Path, device: str
) -> tuple[float, float]:
    """Seconds from the start of ``seizure detect`` on one EDF to its first opening of the
    EDF, and to its exit."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, str(script), "detect", str(checkpoint), str(edf), "--out", str(out)]
    cmd += ["--device", device]
    start_wall, start = time.time(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    opened = [ln for ln in proc.stderr.splitlines() if ln.startswith("FIRST_EDF_OPEN ")]
    if not opened:
        raise SystemExit(f"seizure detect never opened {edf}:\n{proc.stderr}")
    shutil.rmtree(out, ignore_errors=True)
    return float(opened[0].split()[1]) - start_wall, total


def bare_interpreter() -> float:
    """Seconds of ``python -c pass``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 x 10 min recordings, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--jobs", default="1,2", help="--jobs values to time (default 1,2)")
    parser.add_argument("--device", default="cpu", help="where detect runs the model (cpu)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    seconds = 600 if args.quick else 3600
    repeats = args.repeats or (1 if args.quick else 3)
    jobs_values = [int(j) for j in args.jobs.split(",")]

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_startup_"))
    try:
        corpus = make_corpus(work / "corpus", N_RECORDINGS, seconds)
        edfs = sorted(corpus.rglob("*.edf"))
        mne_script = work / "mne_chain.py"
        mne_script.write_text(MNE_SCRIPT)
        first_read_script = work / "first_read.py"
        first_read_script.write_text(FIRST_READ_SCRIPT)
        checkpoint = make_checkpoint(work / "best.pt")
        one = tusz_path(work / "one", "aaaaaaaa", 0)
        write_edf(one, 600)
        print(
            f"corpus: {N_RECORDINGS} recordings of {seconds} s (23 channels at 250 Hz); "
            f"{repeats} repeat(s), CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )

        seizure_preprocess(corpus, work / "cache_warm", 1)  # warm the page cache and .pyc files
        detect_first_read(first_read_script, checkpoint, one, work / "detect_warm", args.device)
        ours: dict[int, list[float]] = {j: [] for j in jobs_values}
        mne: list[float] = []
        first: list[float] = []
        whole: list[float] = []
        bare: list[float] = []
        for _ in range(repeats):  # interleaved, so that all see the same machine load
            for j in jobs_values:
                ours[j].append(seizure_preprocess(corpus, work / "cache", j))
            mne.append(mne_process(mne_script, edfs, work / "mne_out"))
            f, w = detect_first_read(
                first_read_script, checkpoint, one, work / "detect_out", args.device
            )
            first.append(f)
            whole.append(w)
            bare.append(bare_interpreter())

        t_mne = statistics.median(mne)
        medians = {j: statistics.median(ts) for j, ts in ours.items()}
        for j, t in medians.items():
            print(
                f"seizure preprocess --jobs {j}: {t:.2f} s; MNE chain {t_mne:.2f} s; "
                f"speed-up {t_mne / t:.2f}x (target >= 2.5x)"
            )
            emit(
                {
                    "measurement": "preprocess_whole_process",
                    "jobs": j,
                    "seconds": round(t, 3),
                    "runs": [round(t, 3) for t in ours[j]],
                    "mne_seconds": round(t_mne, 3),
                    "ratio": round(t_mne / t, 3),
                }
            )
        t_first, t_whole, t_bare = (statistics.median(v) for v in (first, whole, bare))
        print(
            f"seizure detect, one {600} s EDF: first read after {t_first:.2f} s (target < 1 s), "
            f"exit after {t_whole:.2f} s; bare interpreter {t_bare:.3f} s"
        )
        emit(
            {
                "measurement": "detect_first_read",
                "seconds": round(t_first, 3),
                "runs": [round(t, 3) for t in first],
                "whole_process_s": round(t_whole, 3),
                "bare_interpreter_s": round(t_bare, 3),
            }
        )
        best = min(medians, key=medians.__getitem__)
        emit(
            {
                "benchmark": "startup",
                "figure": round(medians[best], 3),
                "unit": f"s, preprocess {N_RECORDINGS} x {seconds} s (whole process, jobs {best})",
                "baseline": round(t_mne, 3),
                "baseline_name": "MNE chain (whole process)",
                "ratio": round(t_mne / medians[best], 3),
                "preprocess_s_by_jobs": {str(j): round(t, 3) for j, t in medians.items()},
                "detect_first_read_s": round(t_first, 3),
                "detect_whole_process_s": round(t_whole, 3),
                "bare_interpreter_s": round(t_bare, 3),
                "recording_s": seconds,
                "repeats": repeats,
                "cpus": os.cpu_count(),
                "load": round(os.getloadavg()[0], 2),
            }
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
