"""The experiment grid's throughput: runs one after the other against ``--parallel K``.

Writes its own cache (random float16 windows of 22 x 256 samples with the project's cache
writer; train, dev and eval splits), then runs the same runs of ``experiments/paper`` at
the paper's batch (64 sequences of 7 windows, one epoch each, every run trained and
evaluated as ``seizure experiment`` does) twice in this process's run:

- ``sequential``: ``run_experiment(..., parallel=1)``, one run after the other;
- ``parallel``: ``run_experiment(..., parallel=K)``, K runs at once on the same device.

For each it prints the wall time and the aggregate training throughput (windows trained by
all runs over the wall time, start-up and evaluation included), the ratio of the two, and a
projection of the whole paper grid (every cell x 3 seeds, the feature baseline left out)
on the benchmark corpus (``synth/benchmark``: its train hours at one window per second, times
the grid's epochs) at the parallel rate. The projection is an upper bound: a 20-epoch run
spends a smaller share of its time starting and evaluating than these one-epoch runs do.
Goal (issue 15): >= 500k windows/s aggregate at the paper's batch on one H100/H200.

Usage (one GPU, a few minutes)::

    python benchmarks/bench_grid.py --parallel 8

and on a CPU, to check that it runs (tiny sizes, about a minute)::

    python benchmarks/bench_grid.py --quick

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Aggregate training windows/s of the grid at the paper's batch on one GPU (issue 15).
TARGET_WINDOWS_PER_S = 500_000

#: Cells of ``experiments/paper`` timed (the recurrent cells of ``--quick``, CNN only).
CELLS = (
    "init-orthogonal__cell-lstm",
    "init-glorot_uniform__cell-lstm",
    "init-orthogonal__cell-gru",
    "reg-dropout__cell-lstm",
    "minimal-timescale",
    "cnn-only",
)

#: The paper's regime: 64 sequences of 7 windows, one epoch, a short sweep in evaluation.
PAPER_SET = (
    "train.batch_size=64",
    "train.sequence_windows=7",
    "train.epochs=1",
    "train.patience=0",
    "evaluate.sweep_points=11",
)

#: A tiny model for ``--quick`` (a CPU check that the benchmark runs, not a figure).
QUICK_SET = (
    "model.hidden_size=8",
    "model.num_layers=1",
    "model.conv_channels=[4,4,4,4,4]",
    "train.batch_size=8",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs on a CPU")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--parallel", type=int, default=6, help="runs at once in the parallel pass")
    p.add_argument("--cells", type=int, default=len(CELLS), help="cells timed (1 seed each)")
    p.add_argument("--train-windows", type=int, default=120_000, help="windows in the train split")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[],
        help="extra KEY=VALUE for every run (e.g. train.cuda_graph=auto)",
    )  # fmt: skip
    p.add_argument("--keep", type=Path, default=None, help="keep the cache and runs here")
    args = p.parse_args(argv)
    if args.quick:
        args.train_windows = min(args.train_windows, 960)
        args.cells = min(args.cells, 2)
        args.parallel = min(args.parallel, 2)
    if args.parallel < 2:
        p.error("--parallel must be at least 2 (it is compared with one run at a time)")
    if not 1 <= args.cells <= len(CELLS):
        p.error(f"--cells must be in 1..{len(CELLS)}")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        # finished runs would be skipped: a second pass over the same folder times nothing
        p.error(f"--keep {args.keep}: not empty; give a new folder")
    return args


def make_cache(path: Path, train_windows: int, quick: bool) -> Any:
    """A random cache of the default preprocessing (``--quick``: tiny windows)."""
    from seizure.preprocessing.config import PreprocessConfig
    from seizure.training.fakes import tiny_preprocess, write_random_cache

    preprocess = tiny_preprocess() if quick else PreprocessConfig()
    per_recording = 120 if quick else 1800  # 30-minute recordings
    n_train = max(2, math.ceil(train_windows / per_recording))
    return write_random_cache(
        path,
        splits={"train": n_train, "dev": 2, "eval": 2},
        windows_per_recording=per_recording,
        preprocess=preprocess,
        ictal_fraction=0.08,
        chunk_windows=per_recording,
    )


def paper_projection(rate: float) -> dict[str, Any]:
    """Wall time of the whole paper grid x 3 seeds on the benchmark corpus at ``rate``."""
    from seizure.config import load_config, resolve_config_path
    from seizure.pipelines.grid import expand_grid

    bench = load_config(resolve_config_path("synth/benchmark")).synth
    train_windows = bench.hours * bench.split_fractions[0] * 3600.0  # 1 s windows, stride 1 s
    runs = [
        r for r in expand_grid(resolve_config_path("experiments/paper")) if "baseline" not in r.name
    ]
    epochs = [r.config.train.epochs for r in runs]
    windows = sum(train_windows * e for e in epochs)
    return {
        "paper_runs": len(runs),
        "benchmark_train_windows_per_epoch": round(train_windows),
        "epochs_per_run": sorted(set(epochs)),
        "windows_total": round(windows),
        "projected_hours": windows / rate / 3600.0 if rate > 0 else None,
    }


def timed_pass(name: str, cache: Path, out: Path, parallel: int, args: Any, log: Any) -> dict:
    """Run the timed cells with ``parallel`` at once; return wall time and windows trained."""
    from seizure.config import resolve_config_path
    from seizure.pipelines.experiment import run_experiment, trained_windows

    overrides = [*PAPER_SET, *(QUICK_SET if args.quick else ()), *args.overrides]
    t = time.perf_counter()
    result = run_experiment(
        resolve_config_path("experiments/paper"),
        cache,
        out,
        only=[f"{cell}__seed-0" for cell in CELLS[: args.cells]],
        overrides=overrides,
        device=args.device,
        parallel=parallel,
        log=lambda line: log(f"  [{name}] {line}"),
    )
    wall = time.perf_counter() - t
    windows = sum(trained_windows(out / "runs" / o.name) for o in result.outcomes)
    failed = [o.name for o in result.failed]
    return {
        "parallel": parallel,
        "runs": len(result.outcomes),
        "failed": failed,
        "wall_s": wall,
        "windows": windows,
        "windows_per_s": windows / wall if wall > 0 else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_grid_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        make_cache(root / "cache", args.train_windows, args.quick)
        log(f"wrote the cache ({args.train_windows:,} train windows) in "
            f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        seq = timed_pass("sequential", root / "cache", root / "seq", 1, args, log)
        par = timed_pass("parallel", root / "cache", root / "par", args.parallel, args, log)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    import torch

    device = (
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    ratio = par["windows_per_s"] / seq["windows_per_s"] if seq["windows_per_s"] else None
    projection = paper_projection(par["windows_per_s"])
    for row in (seq, par):
        print(f"{'sequential' if row['parallel'] == 1 else 'parallel ' + str(row['parallel']):<12} "
              f"{row['runs']} runs in {row['wall_s']:7.1f} s: "
              f"{row['windows_per_s']:>10,.0f} windows/s trained"
              + (f" (failed: {', '.join(row['failed'])})" if row["failed"] else ""))  # fmt: skip
    if ratio is not None:
        print(f"parallel / sequential: {ratio:.2f}x")
    if device == "cuda" and not args.quick:
        met = par["windows_per_s"] >= TARGET_WINDOWS_PER_S
        print(
            f"goal >= {TARGET_WINDOWS_PER_S:,} windows/s aggregate: {'met' if met else 'not met'}"
        )
    hours = projection["projected_hours"]
    if hours is not None:
        print(f"projection: the paper grid ({projection['paper_runs']} runs, epochs "
              f"{projection['epochs_per_run']}) on the benchmark corpus "
              f"({projection['benchmark_train_windows_per_epoch']:,} train windows per epoch) "
              f"at {par['windows_per_s']:,.0f} windows/s: {hours:.1f} h wall "
              "(upper bound)")  # fmt: skip
    summary = {
        "device": device,
        "quick": args.quick,
        "overrides": [*PAPER_SET, *(QUICK_SET if args.quick else ()), *args.overrides],
        "sequential": seq,
        "parallel": par,
        "parallel_over_sequential": ratio,
        "projection": projection,
    }
    print(json.dumps(summary))
    return 1 if seq["failed"] or par["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
