"""Training throughput, end to end from a cache: the plain way against ``seizure train``'s.

Writes its own cache (random float16 windows of 22 x 256 samples, with the project's cache
writer), builds the default CNN/LSTM (``seizure.models.build_model`` with the default model
config) and measures optimizer steps per second, feeding included, for:

- ``plain``: fp32, eager, a per-sequence ``Dataset`` over the memory-mapped cache and a
  ``DataLoader`` with worker processes (pinned), batch B x T (``plain_256``: batch 256 x T,
  where REFERENCE section 6 measured the plain way);
- ``fast``: ``seizure train``'s fast path (the shipped config train/h100): bf16 autocast, the
  encoder under ``torch.compile``, the split resident on the GPU (``feeder: auto``);
- ``fast_threads``: the same with batches gathered from the memory-mapped cache into pinned
  buffers by a background thread (what ``feeder: auto`` picks when the split does not fit);
- ``paper_plain`` / ``paper_fast``: the paper's small-batch regime (64 sequences of 7 windows);
- ``paper_graph``: the paper's regime with the whole step replayed as one captured CUDA graph
  (:class:`seizure.training.graphstep.GraphTrainStep`, ``train.cuda_graph``), the shipped
  GPU config without ``torch.compile`` (the graph removes the launches compile would fuse);
  on a CPU its emulation (a ratio near 1 there: nothing to save).

Every configuration runs ``--warmup`` steps (compilation happens there), then ``--steps``
timed steps between two device synchronisations; windows/s = steps x B x T / seconds.
Each step is :class:`seizure.training.step.TrainStep`, the step ``seizure train`` runs
(``paper_graph``: its captured form).

Usage (one H100, about 3-5 minutes)::

    .venv/bin/python benchmarks/bench_train.py

the paper's regime only, the plain way against the captured step (goal: >= 4x on one GPU)::

    .venv/bin/python benchmarks/bench_train.py --paper --cache-gb 0.5

and on a CPU, to check that it runs (a few seconds of tiny sizes)::

    .venv/bin/python benchmarks/bench_train.py --quick [--paper]

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

from seizure.config import resolve_config_path

TARGET_WINDOWS_PER_S = 600_000
#: Goal of the captured step over the plain way at the paper's batch (one GPU).
TARGET_PAPER_GRAPH_RATIO = 4.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check it runs on a CPU")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--cache-gb", type=float, default=2.0, help="size of the generated cache")
    p.add_argument("--cache-dir", type=Path, default=None, help="reuse/keep the cache here")
    p.add_argument("--batch", type=int, default=1024, help="sequences per batch")
    p.add_argument("--seq", type=int, default=30, help="windows per sequence")
    p.add_argument("--steps", type=int, default=30, help="timed steps (large batch)")
    p.add_argument("--warmup", type=int, default=8, help="untimed steps first (compilation)")
    p.add_argument("--paper-steps", type=int, default=300, help="timed steps at 64 x 7")
    p.add_argument("--workers", type=int, default=8, help="DataLoader workers / copy threads")
    p.add_argument(
        "--config", type=resolve_config_path, default="train/h100",
        help="the fast path's config: a YAML file or a shipped config name",
    )  # fmt: skip
    p.add_argument(
        "--only", default="plain,plain_256,fast,fast_threads,paper_plain,paper_fast",
        help="comma-separated subset of the measurements (also: paper_graph)",
    )  # fmt: skip
    p.add_argument(
        "--paper", action="store_true",
        help="only the paper's regime: paper_plain against paper_graph (same as --only)",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.paper:
        args.only = "paper_plain,paper_graph"
    if args.quick:
        args.cache_gb = 0.02
        args.batch, args.steps, args.warmup, args.paper_steps = 4, 3, 1, 4
        args.workers = 1
    return args


def make_cache(args: argparse.Namespace, log: Any) -> tuple[Any, Path, bool]:
    """The benchmark's cache: reuse ``--cache-dir`` when it holds one, else write it."""
    from seizure.preprocessing.cache import Cache
    from seizure.preprocessing.config import PreprocessConfig
    from seizure.training.fakes import write_random_cache

    preprocess = PreprocessConfig()  # 22 x 256 float16 windows (tcp_ar, 256 Hz, 1 s)
    if args.cache_dir is not None and (args.cache_dir / "cache.json").is_file():
        cache = Cache(args.cache_dir)
        if cache.fingerprint == __import__("seizure.config").config.fingerprint(preprocess):
            log(f"reusing the cache in {args.cache_dir}")
            return cache, args.cache_dir, False
    path = args.cache_dir or Path(tempfile.mkdtemp(prefix="bench_train_cache_"))
    bytes_per_window = 22 * 256 * 2
    per_recording = 1800 if not args.quick else 120  # 30-minute recordings
    n_rec = max(2, math.ceil(args.cache_gb * 1e9 / bytes_per_window / per_recording))
    t = time.perf_counter()
    cache = write_random_cache(
        path,
        splits={"train": n_rec},
        windows_per_recording=per_recording,
        preprocess=preprocess,
        ictal_fraction=0.08,
        learnable=False,
        chunk_windows=per_recording,
    )
    log(f"wrote a {n_rec * per_recording * bytes_per_window / 1e9:.2f} GB cache "
        f"({n_rec} recordings) in {time.perf_counter() - t:.1f} s")  # fmt: skip
    return cache, path, args.cache_dir is None


def measure(
    name: str,
    config: Any,
    data: Any,
    device: Any,
    steps: int,
    warmup: int,
    workers: int,
    graph: bool = False,
) -> dict[str, Any]:
    """Time ``steps`` training steps (after ``warmup``) of ``config`` on ``data``.

    With ``graph``, full batches replay the captured step (captured in the first warm-up
    step; on a CPU the emulation).
    """
    import numpy as np
    import torch

    from seizure.training.data import Plan, make_feeder, train_plan
    from seizure.training.step import TrainStep, build_optimizer, resolve_precision, setup_model

    cfg = config.train
    T, B = cfg.sequence_windows, cfg.batch_size
    precision = resolve_precision(cfg.precision, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark
        torch.set_float32_matmul_precision("high" if cfg.precision != "fp32" else "highest")
    t_setup = time.perf_counter()
    torch.manual_seed(0)
    model, net, regularizer, registry = setup_model(config, data.window_shape, device)
    optimizer = build_optimizer(model, config, device, registry)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    step: Any = TrainStep(model, net, optimizer, None, scaler, config, 12.0, device, precision,
                          regularizer)  # fmt: skip
    if graph:
        from seizure.training.graphstep import CudaCapture, EmulatedCapture, GraphTrainStep

        capture = CudaCapture(device) if device.type == "cuda" else EmulatedCapture()
        step = GraphTrainStep(step, capture, device)
    feeder, kind = make_feeder(
        cfg.feeder, data, device, T, B, workers, cfg.prefetch_batches, cfg.gpu_resident_fraction
    )
    # one long plan (consecutive epochs) so that a DataLoader starts its workers only once
    need, rec, start, epoch = (warmup + steps) * B, [], [], 0
    while sum(len(r) for r in rec) < need:
        p = train_plan(data, T, B, seed=0, epoch=epoch)
        rec.append(p.rec)
        start.append(p.start)
        epoch += 1
    plan = Plan(np.concatenate(rec)[:need], np.concatenate(start)[:need], B)
    batches = feeder.iterate(plan)
    setup_s = time.perf_counter() - t_setup

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    t0 = time.perf_counter()
    for _ in range(warmup):
        loss = step(*next(batches))
    sync()
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step(*next(batches))
    final = float(loss)  # synchronises
    sync()
    seconds = time.perf_counter() - t0
    for _ in batches:  # drain, so that worker processes and threads stop
        pass
    feeder.close()
    result = {
        "windows_per_s": steps * B * T / seconds,
        "batch": B,
        "sequence_windows": T,
        "steps": steps,
        "seconds": seconds,
        "precision": precision,
        "compile": cfg.compile,
        "feeder": kind,
        "workers": workers,
        "setup_s": setup_s,
        "warmup_s": warmup_s,
        "loss_finite": math.isfinite(final),
    }
    if graph:
        result["cuda_graph"] = step.captured
        result["graph_failed"] = step.failed
    if device.type == "cuda":
        result["max_memory_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        torch.cuda.reset_peak_memory_stats(device)
    del model, net, optimizer, step, feeder
    if device.type == "cuda":
        torch.cuda.empty_cache()
    captured = f", graph={result['cuda_graph']}" if graph else ""
    print(f"{name:>13}: {result['windows_per_s']:>11,.0f} windows/s  (batch {B} x {T}, "
          f"{precision}, compile={cfg.compile}{captured}, feeder={kind}; setup {setup_s:.1f} s, "
          f"warmup {warmup_s:.1f} s)", flush=True)  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import torch

    from seizure.config import load_config
    from seizure.inference.device import resolve_device
    from seizure.training.data import SplitData
    from seizure.training.distributed import device_notes

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    device = resolve_device(args.device, local_rank=0)
    for note in device_notes(args.device, device):
        log(note)
    if device.type == "cpu":
        torch.set_num_threads(1 if args.quick else torch.get_num_threads())
    shm = shutil.disk_usage("/dev/shm") if Path("/dev/shm").is_dir() else None
    log(f"device {device}; /dev/shm free {shm.free / 1e9:.1f} GB" if shm else f"device {device}")
    cache, path, remove = make_cache(args, log)
    try:
        data = SplitData.from_cache(cache, "train")
        # the fast settings are the shipped GPU config; on a CPU fp32 eager (no compiler)
        fast_files = [args.config]
        common = [f"train.num_workers={args.workers}", "train.grad_clip_norm=5.0"]
        if device.type == "cpu":
            common += ["train.precision=fp32", "train.compile=none"]
        plain = ["train.precision=fp32", "train.compile=none", "train.feeder=dataloader",
                 "train.cudnn_benchmark=false"]  # fmt: skip
        big = [f"train.batch_size={args.batch}", f"train.sequence_windows={args.seq}"]
        paper = ["train.batch_size=64" if not args.quick else "train.batch_size=4",
                 "train.sequence_windows=7"]  # fmt: skip
        runs = {
            "plain": (load_config(overrides=common + big + plain), args.steps),
            "plain_256": (
                load_config(
                    overrides=common
                    + plain
                    + [
                        "train.batch_size=256" if not args.quick else "train.batch_size=2",
                        f"train.sequence_windows={args.seq}",
                    ]
                ),
                4 * args.steps,
            ),
            "fast": (load_config(fast_files, common + big), args.steps),
            "fast_threads": (
                load_config(fast_files, common + big + ["train.feeder=threads"]),
                args.steps,
            ),  # fmt: skip
            "paper_plain": (load_config(overrides=common + paper + plain), args.paper_steps),
            "paper_fast": (load_config(fast_files, common + paper), args.paper_steps),
            "paper_graph": (
                load_config(fast_files, common + paper + ["train.compile=none"]),
                args.paper_steps,
            ),
        }
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(runs))
        if unknown:
            raise SystemExit(f"--only: unknown measurement(s) {unknown}; known: {list(runs)}")
        results: dict[str, Any] = {}
        for name in wanted:
            config, steps = runs[name]
            try:
                results[name] = measure(
                    name, config, data, device, steps, args.warmup, args.workers,
                    graph=name == "paper_graph",
                )  # fmt: skip
            except Exception as err:  # keep measuring the others; the error is reported
                log(f"{name}: failed: {type(err).__name__}: {err}")
                results[name] = {"error": f"{type(err).__name__}: {err}"}
                if name == "plain" and args.batch > 256:
                    # e.g. a small /dev/shm: DataLoader workers cannot pass 0.7 GB batches
                    log("plain: retrying at batch 256 (REFERENCE section 6 measured it there)")
                    retry = load_config(
                        overrides=common
                        + plain
                        + ["train.batch_size=256", f"train.sequence_windows={args.seq}"]
                    )
                    try:
                        results[name] = measure(
                            name, retry, data, device, steps, args.warmup, args.workers
                        )
                        results[name]["note"] = "retried at batch 256 after an error"
                    except Exception as err2:
                        results[name]["retry_error"] = f"{type(err2).__name__}: {err2}"
                elif config.train.compile != "none":
                    # e.g. no C compiler for Triton's launcher: measure the eager fast path
                    log(f"{name}: retrying without torch.compile")
                    retry = load_config(
                        fast_files,
                        common
                        + ["train.compile=none"]
                        + (paper if name.startswith("paper") else big)
                        + (["train.feeder=threads"] if name == "fast_threads" else []),
                    )
                    try:
                        results[name] = measure(
                            name, retry, data, device, steps, args.warmup, args.workers
                        )
                        results[name]["note"] = "compile failed; measured eager"
                        results[name]["compile_error"] = f"{type(err).__name__}: {err}"
                    except Exception as err2:
                        results[name]["retry_error"] = f"{type(err2).__name__}: {err2}"
            if device.type == "cuda":
                torch.cuda.empty_cache()
    finally:
        if remove:
            shutil.rmtree(path, ignore_errors=True)
    summary: dict[str, Any] = {
        "benchmark": "bench_train",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": str(torch.__version__),
        "cuda": torch.version.cuda,
        "cpu_threads": torch.get_num_threads(),
        "model": "default ModelConfig (cnn_rnn: Conv1d encoder + 2-layer BiLSTM(128))",
        "window_shape": list(data.window_shape),
        "cache_windows": data.n_windows(),
        "cache_gb": data.nbytes / 1e9,
        "cache_dtype": str(data.dtype),
        "quick": args.quick,
        "dev_shm_free_gb": shm.free / 1e9 if shm else None,
        "results": results,
    }
    ok = [n for n in ("plain", "fast") if "windows_per_s" in results.get(n, {})]
    if ok == ["plain", "fast"]:
        fast = results["fast"]["windows_per_s"]
        summary["fast_over_plain"] = fast / results["plain"]["windows_per_s"]
        if "windows_per_s" in results.get("plain_256", {}):
            summary["fast_over_plain_256"] = fast / results["plain_256"]["windows_per_s"]
        summary["target_windows_per_s"] = TARGET_WINDOWS_PER_S
        summary["meets_target"] = bool(
            fast >= TARGET_WINDOWS_PER_S and summary["fast_over_plain"] >= 2.0
        )
        print(f"fast / plain: {summary['fast_over_plain']:.2f}x; fast path "
              f"{'meets' if summary['meets_target'] else 'misses'} the target "
              f"(>= {TARGET_WINDOWS_PER_S:,} windows/s and >= 2x plain)", flush=True)  # fmt: skip
    if all("windows_per_s" in results.get(n, {}) for n in ("paper_plain", "paper_graph")):
        ratio = results["paper_graph"]["windows_per_s"] / results["paper_plain"]["windows_per_s"]
        summary["paper_graph_over_plain"] = ratio
        summary["paper_graph_meets_goal"] = bool(
            device.type == "cuda" and ratio >= TARGET_PAPER_GRAPH_RATIO
        )
        print(f"paper regime, captured step / plain: {ratio:.2f}x (goal >= "
              f"{TARGET_PAPER_GRAPH_RATIO:g}x on one GPU"
              f"{'' if device.type == 'cuda' else '; not the goal on a CPU'}; graph "
              f"{'replayed' if results['paper_graph']['cuda_graph'] else 'not used'})",
              flush=True)  # fmt: skip
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()
