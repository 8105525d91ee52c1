"""Benchmark ``seizure evaluate``'s inference path end to end: cache -> probabilities ->
post-processing -> hypothesis files, in windows per second.

It builds a cache with the real cache writer (default preprocessing: 22 x 256 float16
windows of 1 s; recordings of ``--windows-per-recording`` windows, of which ``--distinct``
are written and the others hard-linked to them so that a large workload needs little disk),
builds the default CNN/LSTM (``model`` section defaults, random weights: speed does not depend
on them) and times:

* ours: :func:`seizure.evaluation.evaluate.infer_records` as ``seizure evaluate`` runs it
  (streaming batches of sequences read by threads into pinned memory, bf16 autocast and a
  compiled encoder on CUDA), each recording's probabilities saved, post-processed and
  written as ``.csv_bi``/``.tsv`` by writer threads while inference goes on;
* baseline, in the same run: a plain loop over recordings and batches of windows, eager
  fp32, synchronous copies, then the same post-processing and files written one by one.

Compilation happens in a warm-up pass and is reported, not timed. Prints both speeds, their
ratio, the largest probability difference between the two (bf16 vs fp32) and one JSON line.

Usage::

    python benchmarks/bench_inference.py --device cuda      # H100: the full workload
    python benchmarks/bench_inference.py --quick            # 2-core CPU: a small workload
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def build_cache(root: Path, n_recordings: int, n_windows: int, distinct: int, seed: int):
    """A real cache of ``n_recordings`` recordings, ``distinct`` of them written."""
    from seizure.preprocessing.cache import Cache, open_or_create, rebuild_manifest, write_record
    from seizure.preprocessing.config import PreprocessConfig

    config = PreprocessConfig()
    header = open_or_create(root, config)
    rng = np.random.default_rng(seed)
    shape = (22, config.window_samples)
    distinct = max(1, min(distinct, n_recordings))
    base_ids = []
    for k in range(distinct):
        rid = f"bench{k:05d}_s001_t000"
        windows = np.empty((n_windows, *shape), dtype=np.float16)
        for a in range(0, n_windows, 512):
            b = min(n_windows, a + 512)
            windows[a:b] = rng.standard_normal((b - a, *shape), dtype=np.float32) * 20.0
        meta = {
            "recording_id": rid,
            "patient": f"bench{k:05d}",
            "session": "s001",
            "split": "eval",
            "duration_s": float(n_windows),
            "source": f"/synthetic/{rid}.edf",
            "events": [{"start": 100.0, "stop": 160.0, "label": "seiz"}],
            "fingerprint": header["fingerprint"],
        }
        write_record(root, meta, windows, np.zeros(n_windows, dtype=np.uint8), "float16")
        base_ids.append(rid)
    # The other recordings share the written arrays (hard links), each with its own metadata:
    # the layout documented in seizure.preprocessing.cache (records/<id>.npy, .labels.npy,
    # .json written last).
    records = root / "records"
    for k in range(distinct, n_recordings):
        rid = f"bench{k:05d}_s001_t000"
        base = base_ids[k % distinct]
        for suffix in (".npy", ".labels.npy"):
            os.link(records / f"{base}{suffix}", records / f"{rid}{suffix}")
        meta = json.loads((records / f"{base}.json").read_text())
        meta.update(
            recording_id=rid,
            patient=f"bench{k:05d}",
            windows_file=f"{rid}.npy",
            labels_file=f"{rid}.labels.npy",
        )
        (records / f"{rid}.json").write_text(json.dumps(meta))
    rebuild_manifest(root)
    cache = Cache(root)
    if len(cache.split("eval")) != n_recordings:
        raise RuntimeError(f"cache lists {len(cache.split('eval'))} recordings, not {n_recordings}")
    return cache


def run_ours(predictor, cache, records, out: Path, threshold: float) -> tuple[float, dict]:
    """What ``seizure evaluate`` does with a fixed threshold: each recording's probabilities
    are saved, post-processed and written as hypothesis files by writer threads as soon as
    the recording is complete."""
    from seizure.evaluation.evaluate import infer_records, write_hypotheses
    from seizure.evaluation.postprocess import postprocess

    durations = {r.recording_id: r.duration_s for r in records}

    def write(rid: str, p: np.ndarray) -> None:
        events = postprocess(
            p,
            threshold=threshold,
            window_seconds=cache.window_seconds,
            stride_seconds=cache.stride_seconds,
            duration_s=durations[rid],
        )
        write_hypotheses(out / "hyp", {rid: events}, durations, workers=1)

    t0 = time.perf_counter()
    probs = infer_records(predictor, cache, records, out / "probs", on_recording=write)
    return time.perf_counter() - t0, probs


@torch.inference_mode()
def run_baseline(model, cache, records, out: Path, device, batch: int, seq: int, threshold: float):
    """Plain eager fp32 loop: batch after batch of one recording, synchronous copies."""
    from seizure.evaluation.postprocess import postprocess
    from seizure.io.annotations import write_csv_bi, write_tsv

    (out / "probs").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    probs = {}
    for r in records:
        w = cache.windows(r.recording_id)
        parts = []
        for a in range(0, len(w), batch * seq):
            chunk = np.asarray(w[a : a + batch * seq], dtype=np.float32)
            k = len(chunk) // seq
            pieces = []
            if k:
                x = torch.from_numpy(chunk[: k * seq]).view(k, seq, *chunk.shape[1:]).to(device)
                pieces.append(torch.sigmoid(model(x)).reshape(-1))
            if len(chunk) > k * seq:
                x = torch.from_numpy(chunk[k * seq :]).unsqueeze(0).to(device)
                pieces.append(torch.sigmoid(model(x)).reshape(-1))
            parts.append(torch.cat(pieces).cpu().numpy())
        p = np.concatenate(parts)
        probs[r.recording_id] = p
        np.save(out / "probs" / f"{r.recording_id}.npy", p)
        events = postprocess(
            p,
            threshold=threshold,
            window_seconds=cache.window_seconds,
            stride_seconds=cache.stride_seconds,
            duration_s=r.duration_s,
        )
        write_csv_bi(out / "hyp" / f"{r.recording_id}.csv_bi", events, r.duration_s)
        write_tsv(out / "hyp" / f"{r.recording_id}.tsv", events, r.duration_s)
    return time.perf_counter() - t0, probs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    parser.add_argument("--quick", action="store_true", help="small workload (CPU, CI)")
    parser.add_argument("--recordings", type=int, help="recordings in the cache")
    parser.add_argument("--windows-per-recording", type=int, help="1 s windows per recording")
    parser.add_argument("--distinct", type=int, help="recordings actually written")
    parser.add_argument("--batch-sequences", type=int, help="sequences per batch (ours)")
    parser.add_argument("--sequence-windows", type=int, default=30)
    parser.add_argument(
        "--baseline-recordings", type=int, help="recordings the baseline runs over (default all)"
    )
    parser.add_argument("--compile", default="auto", choices=["auto", "always", "never"])
    parser.add_argument("--no-amp", action="store_true", help="fp32 on CUDA")
    parser.add_argument("--workdir", type=Path, help="where the cache and outputs go (temp)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from seizure.evaluation.inference import Predictor, resolve_device
    from seizure.models.config import ModelConfig
    from seizure.models.registry import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    big = cuda and not args.quick
    n_rec = args.recordings or (1000 if big else 8)
    n_win = args.windows_per_recording or (3600 if big else 900)
    distinct = args.distinct or (50 if big else 4)
    batch = args.batch_sequences or (1024 if cuda else 32)
    base_batch = 256 if cuda else 32
    n_base = min(n_rec, args.baseline_recordings or n_rec)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_inference_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        cache = build_cache(work / "cache", n_rec, n_win, distinct, args.seed)
        records = cache.split("eval")
        print(
            f"cache: {n_rec} recordings x {n_win} windows {cache.window_shape} float16 "
            f"({distinct} written) in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        torch.manual_seed(args.seed)
        model = build_model(ModelConfig(), cache.window_shape).eval()
        baseline_model = copy.deepcopy(model).to(device)
        predictor = Predictor(
            model,
            sequence_windows=args.sequence_windows,
            batch_sequences=batch,
            device=device,
            amp=not args.no_amp,
            compile=args.compile,
        )
        # warm-up: compilation, cuDNN plans, pinned-memory pool
        t0 = time.perf_counter()
        warm = records[
            : max(1, min(len(records), (2 * batch * args.sequence_windows) // n_win + 1))
        ]
        run_ours(predictor, cache, warm, work / "warm", 0.5)
        warm_s = time.perf_counter() - t0
        with torch.inference_mode():
            x = torch.zeros(1, args.sequence_windows, *cache.window_shape, device=device)
            baseline_model(x)
        total = sum(r.n_windows for r in records)
        ours_s, ours_probs = run_ours(predictor, cache, records, work / "ours", 0.5)
        base_total = sum(r.n_windows for r in records[:n_base])
        base_s, base_probs = run_baseline(
            baseline_model,
            cache,
            records[:n_base],
            work / "baseline",
            device,
            base_batch,
            args.sequence_windows,
            0.5,
        )
        diff = max(float(np.max(np.abs(ours_probs[k] - base_probs[k]))) for k in base_probs)
        ours_rate, base_rate = total / ours_s, base_total / base_s
        name = torch.cuda.get_device_name(device) if cuda else f"cpu x{torch.get_num_threads()}"
        print(f"device: {name}; warm-up (compile) {warm_s:.1f} s")
        print(f"ours:     {total:,} windows in {ours_s:.2f} s = {ours_rate:,.0f} windows/s")
        print(f"baseline: {base_total:,} windows in {base_s:.2f} s = {base_rate:,.0f} windows/s")
        print(f"speed-up: {ours_rate / base_rate:.2f}x; max |p_ours - p_baseline| = {diff:.2e}")
        print(
            json.dumps(
                {
                    "benchmark": "inference",
                    "device": name,
                    "windows": total,
                    "seconds": round(ours_s, 4),
                    "windows_per_s": round(ours_rate),
                    "baseline_windows": base_total,
                    "baseline_seconds": round(base_s, 4),
                    "baseline_windows_per_s": round(base_rate),
                    "speedup": round(ours_rate / base_rate, 3),
                    "max_abs_prob_diff": diff,
                    "batch_sequences": batch,
                    "sequence_windows": args.sequence_windows,
                    "recordings": n_rec,
                    "windows_per_recording": n_win,
                    "amp": predictor.amp,
                    "compiled": args.compile == "always" or (args.compile == "auto" and cuda),
                    "warmup_seconds": round(warm_s, 2),
                    "torch": torch.__version__,
                }
            )
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
