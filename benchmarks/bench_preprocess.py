"""Speed and memory of ``seizure preprocess`` against an MNE-based chain doing the same work.

Usage::

    .venv/bin/python benchmarks/bench_preprocess.py          # 1 h, 3 repeats; --jobs: 8 x 1 h
    .venv/bin/python benchmarks/bench_preprocess.py --quick  # 5 min, 1 repeat; --jobs: 6 x 30 min

Measured, on one generated TUSZ-style EDF (23 channels ``EEG FP1-REF`` ... at 250 Hz):

1. end to end, side by side: read -> TCP montage -> resample to 256 Hz -> band-pass 1-70 Hz
   and notch 60 Hz -> 1 s windows -> written to disk; ours (``process_entry``, the code
   ``seizure preprocess`` runs per recording) against MNE (``read_raw_edf``,
   ``set_bipolar_reference``, polyphase ``resample``, IIR ``filter`` and ``notch_filter``,
   ``make_fixed_length_epochs``, saved as float16). Target: ours >= 2.5x faster.
2. peak memory of ours, in a fresh subprocess: the tracemalloc peak (numpy reports its
   buffers to it) and the growth of the peak RSS, against the recording's float32 size.
   Target: under 3x.
3. ``--jobs 2`` against ``--jobs 1``: the wall time of ``build_cache`` (what ``seizure
   preprocess`` calls) over a corpus of several one-hour recordings (copies of one generated
   file; the work does not depend on the content), each call in a fresh Python process that
   times only the call, so jobs 2 pays starting its worker pool (also printed apart) but
   neither pays the interpreter's start. Target: close to 2x.

The machine may be shared: figures are medians, but expect noise (the load average is
printed). The last line is one JSON object (``benchmarks/run_all.py``): ``figure`` is ours in
times real time, ``baseline`` the MNE chain's, ``ratio`` the speed-up; the memory and
``--jobs`` figures are beside them.
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

import numpy as np

ELECTRODES = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ", "EKG1", "ROC",
]  # fmt: skip
RATE_HZ = 250.0


def write_edf(path: Path, seconds: int, seed: int = 0) -> Path:
    """A TUSZ-style EDF of seeded pink-ish noise plus 60 Hz line noise (23 channels, 250 Hz)."""
    from edfio import Edf, EdfSignal

    from seizure.io.annotations import write_csv_bi
    from seizure.io.events import Event

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    line = 10 * np.sin(2 * np.pi * 60 * t)
    signals = []
    for name in ELECTRODES:
        x = np.cumsum(rng.standard_normal(n)) * 0.5
        x = x - np.convolve(x, np.ones(250) / 250, mode="same") + rng.standard_normal(n) * 20
        signals.append(
            EdfSignal(
                x + line,
                sampling_frequency=RATE_HZ,
                label=f"EEG {name}-REF",
                physical_dimension="uV",
                physical_range=(-2000, 2000),
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Edf(signals).write(path)
    write_csv_bi(path.with_suffix(".csv_bi"), [Event(seconds / 3, seconds / 3 + 60)], seconds)
    return path


def tusz_path(root: Path, patient: str, token: int) -> Path:
    return (
        root
        / "edf"
        / "train"
        / patient
        / "s001_2020"
        / "01_tcp_ar"
        / (f"{patient}_s001_t{token:03d}.edf")
    )


def ours(corpus: Path, cache: Path) -> float:
    from seizure.io.discovery import discover
    from seizure.preprocessing.build import process_entry
    from seizure.preprocessing.cache import open_or_create
    from seizure.preprocessing.config import PreprocessConfig

    config = PreprocessConfig()
    shutil.rmtree(cache, ignore_errors=True)
    open_or_create(cache, config)
    (entry,) = discover(corpus)
    start = time.perf_counter()
    result = process_entry(entry, cache, config)
    elapsed = time.perf_counter() - start
    assert result.status == "done", result.reason
    return elapsed


def mne_chain(edf: Path, out: Path) -> float:
    import mne

    from seizure.preprocessing.montage import get_montage

    montage = get_montage("tcp_ar")
    anodes = [a for a, _ in montage.pairs]
    cathodes = [c for _, c in montage.pairs]
    start = time.perf_counter()
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    raw.rename_channels(lambda name: name.replace("EEG ", "").replace("-REF", ""))
    raw.pick(list(montage.electrodes))
    raw = mne.set_bipolar_reference(
        raw, anodes, cathodes, ch_name=list(montage.channels), drop_refs=True, verbose="error"
    )
    raw.pick(list(montage.channels))
    raw.resample(256.0, method="polyphase", verbose="error")
    iir = {"order": 4, "ftype": "butter", "output": "sos"}
    raw.filter(1.0, 70.0, method="iir", iir_params=iir, verbose="error")
    raw.notch_filter(60.0, method="iir", verbose="error")
    epochs = mne.make_fixed_length_epochs(raw, duration=1.0, preload=True, verbose="error")
    data = epochs.get_data(copy=False).astype(np.float16)  # (n_windows, 22, 256)
    np.save(out, data)
    return time.perf_counter() - start


MEMORY_SCRIPT = """
import json, sys, tracemalloc
from pathlib import Path
import numpy as np, scipy.signal, scipy.fft, edfio  # imports are not part of the peak
from seizure.io.discovery import discover, load_annotation
from seizure.io.edf import read_edf
from seizure.preprocessing.build import process_entry
from seizure.preprocessing.cache import open_or_create
from seizure.preprocessing.config import PreprocessConfig
import seizure.preprocessing.pipeline

def status(key):  # VmRSS / VmHWM of this process image, bytes (ru_maxrss would include the
    # parent's peak: Linux carries it over fork and exec)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
corpus, cache = Path(sys.argv[1]), Path(sys.argv[2])
config = PreprocessConfig()
open_or_create(cache, config)
(entry,) = discover(corpus)
rss_before, hwm_before = status("VmRSS"), status("VmHWM")
tracemalloc.start()
result = process_entry(entry, cache, config)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
assert result.status == "done", result.reason
print(json.dumps({"tracemalloc_peak": peak, "rss_before": rss_before,
                  "hwm_before": hwm_before, "maxrss_growth": status("VmHWM") - rss_before}))
"""


def memory(corpus: Path, cache: Path) -> dict:
    shutil.rmtree(cache, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(corpus), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


POOL_SCRIPT = """
import time
from concurrent.futures import ProcessPoolExecutor
from seizure.preprocessing.build import _pool_context
if __name__ == "__main__":
    start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=_pool_context()) as pool:
        list(pool.map(abs, range(2)))
        print(time.perf_counter() - start)
"""


def pool_startup() -> float:
    """Seconds a fresh process takes to start the worker pool of ``--jobs 2``."""
    out = subprocess.run(
        [sys.executable, "-c", POOL_SCRIPT], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


JOBS_SCRIPT = """
import sys, time
from pathlib import Path
from seizure.preprocessing.build import build_cache
from seizure.preprocessing.config import PreprocessConfig
if __name__ == "__main__":
    corpus, cache, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    start = time.perf_counter()
    summary = build_cache(corpus, cache, PreprocessConfig(), jobs=jobs, progress=False)
    elapsed = time.perf_counter() - start
    assert not summary.failures, summary.failures
    print(elapsed)
"""


def jobs_run(corpus: Path, cache: Path, jobs: int) -> float:
    """Seconds ``build_cache(CORPUS, CACHE, jobs=N)`` takes in a fresh process (the call
    only: imports and the interpreter's start are not timed; the worker pool's start is).

    The script runs from a file, as ``seizure preprocess`` does (its workers then import
    the main module too; ``python -c`` would spare them that and hid a slowdown).
    """
    shutil.rmtree(cache, ignore_errors=True)
    script = cache.with_name("jobs_script.py")
    script.write_text(JOBS_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(corpus), str(cache), str(jobs)],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(cache, ignore_errors=True)
    return float(proc.stdout.strip().splitlines()[-1])


def make_corpus(root: Path, count: int, seconds: int, source: Path | None = None) -> Path:
    """``count`` recordings of ``seconds``: copies of ``source`` (generated if None)."""
    first = tusz_path(root, "aaaaaab0", 0)
    if source is None:
        source = write_edf(first, seconds, seed=1)
    for k in range(count):
        edf = tusz_path(root, f"aaaaaab{k}", 0)
        if edf != source:
            edf.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, edf)
            shutil.copyfile(source.with_suffix(".csv_bi"), edf.with_suffix(".csv_bi"))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5-minute recording, 1 repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--corpus-recordings", type=int, default=None, help="8 (quick: 6)")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    seconds = 300 if args.quick else 3600
    repeats = args.repeats or (1 if args.quick else 3)
    corpus_seconds = 1800 if args.quick else 3600
    n_corpus = args.corpus_recordings or (6 if args.quick else 8)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_preprocess_"))
    try:
        one = work / "one"
        edf = write_edf(tusz_path(one, "aaaaaaaa", 0), seconds)
        f32_bytes = len(ELECTRODES) * seconds * RATE_HZ * 4
        print(
            f"recording: {len(ELECTRODES)} channels x {seconds} s at {RATE_HZ:g} Hz, "
            f"EDF {edf.stat().st_size / 1e6:.1f} MB, float32 {f32_bytes / 1e6:.1f} MB; "
            f"{repeats} repeat(s), CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.2f}"
        )

        ours(one, work / "warm")  # warm imports and the page cache
        t_ours, t_mne = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine load
            t_ours.append(ours(one, work / "cache_ours"))
            t_mne.append(mne_chain(edf, work / "mne.npy"))
        a, b = statistics.median(t_ours), statistics.median(t_mne)
        print(
            f"end to end: ours {a:.2f} s ({seconds / a:,.0f}x real time), "
            f"MNE {b:.2f} s ({seconds / b:,.0f}x); speed-up {b / a:.2f}x (target >= 2.5x)"
        )

        mem = memory(one, work / "cache_mem")
        print(
            f"peak memory (ours, one recording): tracemalloc {mem['tracemalloc_peak'] / 1e6:.0f} "
            f"MB = {mem['tracemalloc_peak'] / f32_bytes:.2f}x the float32 recording; peak RSS "
            f"growth {mem['maxrss_growth'] / 1e6:.0f} MB = "
            f"{mem['maxrss_growth'] / f32_bytes:.2f}x (target < 3x; RSS after imports "
            f"{mem['rss_before'] / 1e6:.0f} MB)"
        )

        many = make_corpus(
            work / "many", n_corpus, corpus_seconds, edf if corpus_seconds == seconds else None
        )
        t1s, t2s = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine load
            t1s.append(jobs_run(many, work / "cache_j1", 1))
            t2s.append(jobs_run(many, work / "cache_j2", 2))
        t1, t2 = statistics.median(t1s), statistics.median(t2s)
        pool_s = pool_startup()
        print(
            f"--jobs: {n_corpus} recordings of {corpus_seconds} s: jobs 1 {t1:.2f} s, jobs 2 "
            f"{t2:.2f} s (build_cache calls, of which starting the worker pool about "
            f"{pool_s:.2f} s); speed-up {t1 / t2:.2f}x (target close to 2x; load "
            f"{os.getloadavg()[0]:.2f})"
        )
        print(
            json.dumps(
                {
                    "benchmark": "preprocess",
                    "figure": round(seconds / a, 1),
                    "unit": "x real time",
                    "baseline": round(seconds / b, 1),
                    "baseline_name": "MNE chain",
                    "ratio": round(b / a, 3),
                    "recording_s": seconds,
                    "ours_s": round(a, 3),
                    "mne_s": round(b, 3),
                    "float32_mb": round(f32_bytes / 1e6, 1),
                    "tracemalloc_peak_mb": round(mem["tracemalloc_peak"] / 1e6, 1),
                    "tracemalloc_peak_over_float32": round(mem["tracemalloc_peak"] / f32_bytes, 3),
                    "rss_growth_mb": round(mem["maxrss_growth"] / 1e6, 1),
                    "rss_growth_over_float32": round(mem["maxrss_growth"] / f32_bytes, 3),
                    "jobs_corpus": f"{n_corpus} x {corpus_seconds} s",
                    "jobs1_s": round(t1, 3),
                    "jobs2_s": round(t2, 3),
                    "jobs2_over_jobs1": round(t1 / t2, 3),
                    "pool_startup_s": round(pool_s, 3),
                    "repeats": repeats,
                    "cpus": os.cpu_count(),
                    "load": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
