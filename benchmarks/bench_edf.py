"""Benchmark EDF reading: ``seizure.io.edf.read_edf`` against pyedflib and MNE, in MB/s.

Usage::

    .venv/bin/python benchmarks/bench_edf.py             # 1-hour recording, 7 repeats
    .venv/bin/python benchmarks/bench_edf.py --quick     # 1-hour recording, 3 repeats

Generates one TUSZ-style EDF (23 channels ``EEG FP1-REF`` ... at 250 Hz, 1 s data records,
16-bit samples of seeded noise; 1 hour = 41.4 MB) and times reading every channel into
memory, the file already in the page cache (one untimed read first):

* ours: :func:`seizure.io.edf.read_edf` (header checked, float32 microvolts);
* pyedflib: ``EdfReader`` then ``readSignal`` per channel (float64 physical values);
* MNE: ``mne.io.read_raw_edf(preload=True)`` (float64 volts).

Speed is the EDF file size over the median wall time. Prints a table, the ratios, and one
JSON line (``figure`` ours MB/s, ``baseline`` pyedflib MB/s; MNE under ``mne_mb_per_s``).
The machine may be shared: figures are medians, but expect noise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ELECTRODES = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ", "EKG1", "ROC",
]  # fmt: skip
RATE_HZ = 250


def write_edf(path: Path, seconds: int, seed: int = 0) -> Path:
    """A 23-channel 250 Hz EDF of seeded smoothed noise (16-bit digital, +-2000 uV)."""
    from edfio import Edf, EdfSignal

    rng = np.random.default_rng(seed)
    n = seconds * RATE_HZ
    signals = []
    for name in ELECTRODES:
        x = np.cumsum(rng.integers(-300, 301, n, dtype=np.int64))
        x -= np.convolve(x, np.ones(250, dtype=np.int64), mode="same") // 250
        digital = np.clip(x, -32768, 32767).astype(np.int16)
        signals.append(
            EdfSignal.from_digital(
                digital,
                RATE_HZ,
                label=f"EEG {name}-REF",
                physical_dimension="uV",
                physical_range=(-2000, 2000),
                digital_range=(-32768, 32767),
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Edf(signals, data_record_duration=1.0).write(path)
    return path


def read_ours(path: Path) -> int:
    from seizure.io.edf import read_edf

    rec = read_edf(path)
    return sum(x.size for x in rec.data)


def read_pyedflib(path: Path) -> int:
    import pyedflib

    with pyedflib.EdfReader(str(path)) as reader:
        data = [reader.readSignal(i) for i in range(reader.signals_in_file)]
    return sum(x.size for x in data)


def read_mne(path: Path) -> int:
    import mne

    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    return raw.get_data().size


READERS = {"ours": read_ours, "pyedflib": read_pyedflib, "mne": read_mne}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--seconds", type=int, default=3600, help="recording length")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)

    work = Path(tempfile.mkdtemp(prefix="bench_edf_"))
    try:
        edf = write_edf(work / "aaaaaaaa_s001_t000.edf", args.seconds)
        mb = edf.stat().st_size / 1e6
        samples = len(ELECTRODES) * args.seconds * RATE_HZ
        print(
            f"EDF: {len(ELECTRODES)} channels x {args.seconds} s at {RATE_HZ} Hz, {mb:.1f} MB; "
            f"{repeats} repeat(s), CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.2f}"
        )
        for read in READERS.values():  # warm the imports and the page cache
            assert read(edf) == samples
        times: dict[str, list[float]] = {name: [] for name in READERS}
        for _ in range(repeats):  # interleaved, so all see the same machine load
            for name, read in READERS.items():
                start = time.perf_counter()
                read(edf)
                times[name].append(time.perf_counter() - start)
        median = {name: statistics.median(t) for name, t in times.items()}
        speed = {name: mb / t for name, t in median.items()}
        print(f"{'reader':<10}{'median s':>10}{'MB/s':>10}")
        for name in READERS:
            print(f"{name:<10}{median[name]:10.3f}{speed[name]:10.0f}")
        print(
            f"ours {speed['ours'] / speed['pyedflib']:.2f}x pyedflib, "
            f"{speed['ours'] / speed['mne']:.2f}x mne.io.read_raw_edf"
        )
        print(
            json.dumps(
                {
                    "benchmark": "edf",
                    "figure": round(speed["ours"], 1),
                    "unit": "MB/s",
                    "baseline": round(speed["pyedflib"], 1),
                    "baseline_name": "pyedflib EdfReader.readSignal",
                    "ratio": round(speed["ours"] / speed["pyedflib"], 3),
                    "mne_mb_per_s": round(speed["mne"], 1),
                    "ratio_vs_mne": round(speed["ours"] / speed["mne"], 3),
                    "median_s": {k: round(v, 4) for k, v in median.items()},
                    "file_mb": round(mb, 2),
                    "seconds": args.seconds,
                    "channels": len(ELECTRODES),
                    "sfreq_hz": RATE_HZ,
                    "repeats": repeats,
                    "load": round(os.getloadavg()[0], 2),
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
