"""Benchmark peak memory of ``seizure preprocess`` and ``seizure detect`` against recording length.

Usage::

    .venv/bin/python benchmarks/bench_memory.py                 # 24 h against 2 h
    .venv/bin/python benchmarks/bench_memory.py --quick         # 4 h against 1 h
    .venv/bin/python benchmarks/bench_memory.py --hours 48 --short-hours 2

Generates two TUSZ-style EDF files (the 19 electrodes of the TCP montage plus ``A1``, ``A2``,
``EKG1`` and ``ROC``, labelled ``EEG FP1-REF`` ..., 250 Hz, 1 s data records, 16-bit samples
of seeded noise, an empty ``.csv_bi`` beside each): a long one (``--hours``) and a short one
(``--short-hours``) as the baseline. The files are written a block of records at a time, so
generating them needs memory independent of their length (a 24 h file is 0.99 GB on disk).

Then runs, each as its own process, ``seizure preprocess`` (default settings: ``tcp_ar``,
250 -> 256 Hz, band-pass and notch, raw 1 s windows, float16) and ``seizure detect`` with a
tiny checkpoint made here (a small CNN-LSTM of random weights; what it detects does not
matter) on each file, and prints the peak resident memory of each command, measured as
``ru_maxrss`` of a wrapper process that runs only that command (``RUSAGE_CHILDREN``). The
ratio long / short is the figure: near 1 when memory does not grow with the recording.

Prints one JSON line per measurement and, last, a summary line (``figure``: the larger of the
two ratios, ``baseline`` 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
RATE_HZ = 250
BLOCK_RECORDS = 600  # records (seconds) generated and written at a time


def _field(text: str | int | float, width: int) -> bytes:
    data = str(text).encode("ascii")
    if len(data) > width:
        raise ValueError(f"EDF header field {text!r} is wider than {width} bytes")
    return data.ljust(width)


def write_long_edf(path: Path, seconds: int, seed: int = 0) -> Path:
    """Write a 250 Hz EDF of seeded noise a block of 1 s records at a time.

    Parameters
    ----------
    path : Path
        The file to write.
    seconds : int
        Duration in seconds (one data record per second).
    seed : int
        Seed of the noise.

    Returns
    -------
    Path
        ``path``.
    """
    n_sig = len(ELECTRODES)
    head = b"".join(
        [
            _field("0", 8),
            _field("X X X X", 80),
            _field("Startdate 01-JAN-2020 X X X", 80),
            _field("01.01.20", 8),
            _field("10.00.00", 8),
            _field(256 * (n_sig + 1), 8),
            _field("", 44),
            _field(seconds, 8),
            _field(1, 8),
            _field(n_sig, 4),
        ]
    )
    columns = [
        [_field(f"EEG {e}-REF", 16) for e in ELECTRODES],
        [_field("", 80)] * n_sig,
        [_field("uV", 8)] * n_sig,
        [_field(-3276.8, 8)] * n_sig,
        [_field(3276.7, 8)] * n_sig,
        [_field(-32768, 8)] * n_sig,
        [_field(32767, 8)] * n_sig,
        [_field("", 80)] * n_sig,
        [_field(RATE_HZ, 8)] * n_sig,
        [_field("", 32)] * n_sig,
    ]
    rng = np.random.default_rng(seed)
    with path.open("wb") as fh:
        fh.write(head + b"".join(b"".join(col) for col in columns))
        for start in range(0, seconds, BLOCK_RECORDS):
            count = min(BLOCK_RECORDS, seconds - start)
            # 50 uV noise at 0.1 uV per digital step: (records, signals, samples)
            block = rng.normal(0.0, 500.0, (count, n_sig, RATE_HZ)).clip(-32768, 32767)
            fh.write(block.astype("<i2").tobytes())
    return path


def make_checkpoint(path: Path) -> Path:
    """A checkpoint of a small CNN-LSTM with random weights and the default preprocessing."""
    import torch

    from seizure.config import Config, to_dict
    from seizure.models.config import ModelConfig
    from seizure.models.registry import build_model
    from seizure.preprocessing.pipeline import window_shape
    from seizure.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    config = Config(model=ModelConfig(hidden_size=16, num_layers=1, conv_channels=(8, 8, 8, 8, 8)))
    shape = window_shape(config.preprocess)
    model = build_model(config.model, shape)
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "config": to_dict(config),
            "window_shape": list(shape),
            "epoch": 0,
            "step": 0,
        },
    )
    return path


_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(rc, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` in a wrapper process; return (peak RSS in MB, wall seconds)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd], check=True, capture_output=True, text=True
    )
    rc, seconds, kib = out.stdout.split()
    if int(rc) != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {rc}:\n{out.stderr}")
    return int(kib) / 1024, float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0, help="long recording (h)")
    parser.add_argument("--short-hours", type=float, default=2.0, help="baseline recording (h)")
    parser.add_argument("--quick", action="store_true", help="4 h against 1 h")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder, keep it")
    args = parser.parse_args()
    if args.quick:
        args.hours, args.short_hours = 4.0, 1.0
    seizure = str(Path(sys.executable).with_name("seizure"))
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_memory_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        from seizure.io.annotations import write_csv_bi

        ckpt = make_checkpoint(root / "tiny.pt")
        peaks: dict[str, dict[str, float]] = {}
        for name, hours in (("short", args.short_hours), ("long", args.hours)):
            seconds = int(round(hours * 3600))
            corpus = root / f"corpus_{name}"
            shutil.rmtree(corpus, ignore_errors=True)
            corpus.mkdir()
            edf = write_long_edf(corpus / f"rec_{name}.edf", seconds, seed=len(name))
            write_csv_bi(edf.with_suffix(".csv_bi"), [], float(seconds), bname=edf.stem)
            peaks[name] = {}
            for command, cmd in (
                ("preprocess", [seizure, "preprocess", str(corpus), str(root / f"cache_{name}")]),
                (
                    "detect",
                    [seizure, "detect", str(ckpt), str(edf), "--out", str(root / f"det_{name}")],
                ),
            ):
                for folder in (root / f"cache_{name}", root / f"det_{name}"):
                    shutil.rmtree(folder, ignore_errors=True)
                mb, wall = peak_rss([*cmd, "--device", "cpu"] if command == "detect" else cmd)
                peaks[name][command] = mb
                line = {
                    "benchmark": "memory",
                    "command": command,
                    "recording": name,
                    "hours": hours,
                    "peak_rss_mb": round(mb, 1),
                    "wall_s": round(wall, 2),
                }
                print(json.dumps(line), flush=True)
            edf.unlink()
        ratios = {c: peaks["long"][c] / peaks["short"][c] for c in ("preprocess", "detect")}
        for c, r in ratios.items():
            print(
                f"{c}: peak RSS {peaks['short'][c]:.0f} MB ({args.short_hours:g} h), "
                f"{peaks['long'][c]:.0f} MB ({args.hours:g} h): ratio {r:.2f}"
            )
        print(
            json.dumps(
                {
                    "benchmark": "memory",
                    "figure": round(max(ratios.values()), 3),
                    "unit": f"peak RSS {args.hours:g} h / {args.short_hours:g} h",
                    "baseline": 1.0,
                    "baseline_name": "memory independent of length",
                    "ratio": round(max(ratios.values()), 3),
                    "ratios": {c: round(r, 3) for c, r in ratios.items()},
                    "peak_rss_mb": {
                        n: {c: round(v, 1) for c, v in p.items()} for n, p in peaks.items()
                    },
                    "hours": {"long": args.hours, "short": args.short_hours},
                    "cpus": os.cpu_count(),
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                }
            )
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
