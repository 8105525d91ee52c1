"""Benchmark ``seizure evaluate``'s inference path end to end: cache -> probabilities ->
post-processing -> hypothesis files, in windows per second.

It builds a cache with the real cache writer (default preprocessing: 22 x 256 float16
windows of 1 s; recordings of ``--windows-per-recording`` windows, of which ``--distinct``
are written and the others hard-linked to them so that a large workload needs little disk
and little time: the written recordings are shuffles of a pool of random windows),
builds the default CNN/LSTM (``model`` section defaults, random weights: speed does not depend
on them) and times:

* ours: :func:`seizure.evaluation.evaluate.infer_records` as ``seizure evaluate`` runs it
  (:class:`seizure.inference.engine.Predictor`: reader threads filling a ring of pinned
  buffers, side-stream copies, bf16 autocast and a compiled encoder on CUDA), each
  recording's probabilities saved, post-processed and written as ``.csv_bi``/``.tsv`` by
  writer processes while inference goes on. If the engine fails, the error is printed with
  a JSON line saying so, and the exit status is 1;
* where the time went (:class:`seizure.inference.stats.InferenceStats`: waiting for
  input, reading, H2D, model, copy back, scattering, writing; on CUDA the device timeline)
  and ceilings: the model alone on data already on the device, reading alone (page cache
  to host buffers, all reader threads and half of them), host-to-device copies alone, and
  the pipeline with a model that does nothing (feeding, copies and writing only);
* with ``--sweep``, the pipeline again under each variant of its knobs (:data:`SWEEP`);
* baseline, in the same run: a plain loop over recordings and batches of windows, eager
  fp32, synchronous copies, then the same post-processing and files written one by one
  (over the first ``--baseline-recordings``: 50 on the full CUDA workload).

Compilation happens in a warm-up pass and is reported, not timed. Prints both speeds, their
ratio, the largest probability difference between the two (bf16 vs fp32) and one JSON line.

Usage::

    python benchmarks/bench_inference.py --device cuda --recordings 500   # H100, < 1 min
    python benchmarks/bench_inference.py --device cuda --recordings 500 --sweep   # + knobs
    python benchmarks/bench_inference.py --quick            # 2-core CPU: a small workload
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import faulthandler
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
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
    # Recordings are shuffles of a pool of random windows: drawing a recording's 20M normal
    # values took 0.45 s on a 2-core dev machine (most of the 27 s that 50 recordings cost on
    # the H100 machine, with writing), gathering its windows from the pool 13 ms.
    pool = (rng.standard_normal((1024, *shape), dtype=np.float32) * 20.0).astype(np.float16)
    base_ids = []
    for k in range(distinct):
        rid = f"bench{k:05d}_s001_t000"
        windows = pool[rng.integers(0, len(pool), size=n_windows)]
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
    are saved, post-processed and written as hypothesis files by writer processes as soon as
    the recording is complete, and its events come back to this process."""
    from seizure.evaluation.evaluate import infer_records
    from seizure.evaluation.hypotheses import HypothesisWriter, PostprocessParams

    writer = HypothesisWriter(
        str(out / "hyp"),
        PostprocessParams(threshold, cache.window_seconds, cache.stride_seconds),
    )
    events = {}
    t0 = time.perf_counter()
    probs = infer_records(
        predictor,
        cache,
        records,
        out / "probs",
        hypotheses=writer,
        on_hypotheses=events.__setitem__,
    )
    return time.perf_counter() - t0, probs


@torch.inference_mode()
def run_baseline(model, cache, records, out: Path, device, batch: int, seq: int, threshold: float):
    """Plain eager fp32 loop: batch after batch of one recording, synchronous copies."""
    from seizure.io.annotations import write_csv_bi, write_tsv
    from seizure.scoring.postprocess import postprocess

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


#: Variants timed by ``--sweep``: Predictor attributes (``reader_threads``, ``cuda_graphs``)
#: or :class:`~seizure.inference.engine.EngineTuning` fields set before a run, restored after.
SWEEP = [
    ("default", {}),
    ("copy_ahead=1 (copy right before model)", {"copy_ahead": 1}),
    ("copy_ahead=2", {"copy_ahead": 2}),
    ("max_launched=1", {"max_launched": 1}),
    ("max_launched=2", {"max_launched": 2}),
    ("reader_threads=4", {"reader_threads": 4}),
    ("reader_threads=8", {"reader_threads": 8}),
    ("reader_threads=12", {"reader_threads": 12}),
    ("prefetch=4", {"prefetch": 4}),
    ("cuda_graphs", {"cuda_graphs": True}),
    ("cuda_graphs, max_launched=1", {"cuda_graphs": True, "max_launched": 1}),
]


TUNING_FIELDS = ("prefetch", "copy_ahead", "max_launched")


def run_sweep(predictor, cache, records, work: Path, total: int) -> list[dict]:
    """Time each :data:`SWEEP` variant on the same (compiled) predictor."""
    rows = []
    for i, (variant, settings) in enumerate(SWEEP):
        tuned = {k: v for k, v in settings.items() if k in TUNING_FIELDS}
        direct = {k: v for k, v in settings.items() if k not in tuned}
        saved = {k: getattr(predictor, k) for k in direct}
        saved_tuning = predictor.tuning
        try:
            for k, v in direct.items():
                setattr(predictor, k, v)
            predictor.tuning = dataclasses.replace(predictor.tuning, **tuned)
            seconds, _ = run_ours(predictor, cache, records, work / f"sweep{i}", 0.5)
            graphs = bool(predictor.cuda_graphs and predictor._graph is not None)
        finally:
            for k, v in saved.items():
                setattr(predictor, k, v)
            predictor.tuning = saved_tuning
        st = predictor.stats
        rows.append(
            {
                "variant": variant + ("" if graphs or "cuda_graphs" not in settings else " (off)"),
                "windows_per_s": round(total / seconds),
                "wall_s": round(seconds, 4),
                **{
                    k: round(getattr(st, k), 4)
                    for k in (
                        "device_busy_s",
                        "h2d_device_s",
                        "h2d_hidden_s",
                        "model_device_s",
                        "launch_s",
                        "wait_input_s",
                    )
                },
            }
        )
        shutil.rmtree(work / f"sweep{i}", ignore_errors=True)
    return rows


class NullModel(torch.nn.Module):
    """Logits 0 for every window: the pipeline without the model (feeding ceiling)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[:2])


def model_only_rate(predictor, window_shape, seq: int, batches: int) -> float:
    """Windows/s of the predictor's model alone, on float16 windows already on the device."""
    device = predictor.device
    x = torch.randn(predictor.batch_sequences, seq, *window_shape, device=device).half()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)
    with torch.inference_mode():
        predictor._forward(predictor.model, x)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(batches):
            predictor._forward(predictor.model, x)
        sync(device)
    return batches * x.shape[0] * seq / (time.perf_counter() - t0)


def read_rate(cache, records, threads: int, pinned: bool) -> float:
    """Windows/s of reading the recordings' windows from the page cache into a ring of
    (pinned) host buffers with ``threads`` threads and ``os.preadv``, nothing else: the host's
    read ceiling."""
    import concurrent.futures

    from seizure.inference.reading import Recording, copy_windows

    chunk = 4096  # windows per task (45 MB of 22 x 256 float16; one buffer per thread)
    shape = cache.window_shape
    bufs = [
        torch.empty((chunk, *shape), dtype=torch.float16, pin_memory=pinned).numpy()
        for _ in range(threads)
    ]
    tasks = []
    for r in records:
        w = cache.windows(r.recording_id)
        rec = Recording(r.recording_id, w, np.zeros(0, np.float32), 0)
        tasks += [(rec, a, min(a + chunk, len(w))) for a in range(0, len(w), chunk)]

    def run(i: int) -> int:
        count = 0
        for rec, a, b in tasks[i::threads]:
            copy_windows(rec, a, b, bufs[i][: b - a])
            count += b - a
        return count

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(run, range(threads)))
    seconds = time.perf_counter() - t0
    for rec, _, _ in tasks:
        rec.close()
    return total / seconds


def h2d_rate(window_shape, windows: int, device, repeats: int = 10) -> float:
    """Windows/s of host-to-device copies of float16 windows from pinned memory, alone."""
    host = torch.empty((windows, *window_shape), dtype=torch.float16, pin_memory=True)
    dev = torch.empty_like(host, device=device)
    dev.copy_(host, non_blocking=True)
    torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        dev.copy_(host, non_blocking=True)
    torch.cuda.synchronize(device)
    return repeats * windows / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default auto)")
    parser.add_argument("--quick", action="store_true", help="small workload (CPU, CI)")
    parser.add_argument("--recordings", type=int, help="recordings in the cache")
    parser.add_argument("--windows-per-recording", type=int, help="1 s windows per recording")
    parser.add_argument("--distinct", type=int, help="recordings actually written")
    parser.add_argument("--batch-sequences", type=int, help="sequences per batch (ours)")
    parser.add_argument("--reader-threads", type=int, help="reader threads (ours; default auto)")
    parser.add_argument("--prefetch", type=int, help="host buffers of the engine")
    parser.add_argument("--sequence-windows", type=int, default=30)
    parser.add_argument(
        "--emulate-device",
        action="store_true",
        help="on the CPU, run the CUDA code path (device buffers, queues, events) emulated",
    )
    parser.add_argument(
        "--baseline-recordings",
        type=int,
        help="recordings the baseline runs over (default 50 on the full CUDA workload, else all)",
    )
    parser.add_argument(
        "--no-ceilings", action="store_true", help="skip the model-only and feed-only passes"
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="also time variants of the pipeline's knobs on the same compiled model (copies "
        "queued ahead or not, reader threads, host buffers): one row each",
    )
    parser.add_argument("--compile", default="auto", choices=["auto", "always", "never"])
    parser.add_argument(
        "--cuda-graphs", action="store_true", help="the model of full batches as a CUDA graph"
    )
    parser.add_argument("--no-amp", action="store_true", help="fp32 on CUDA")
    parser.add_argument("--workdir", type=Path, help="where the cache and outputs go (temp)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--watchdog",
        type=float,
        help="after this many seconds print every thread's stack and exit, so that a stuck "
        "run says where it is stuck (default 200 on CUDA, where a full run takes < 1 min; "
        "0: never)",
    )
    args = parser.parse_args(argv)

    from seizure.inference.device import default_batch_sequences, resolve_device
    from seizure.inference.engine import EngineTuning, Predictor
    from seizure.models.config import ModelConfig
    from seizure.models.registry import build_model

    t_begin = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    watchdog = args.watchdog if args.watchdog is not None else (200.0 if cuda else 0.0)
    if watchdog > 0:
        faulthandler.dump_traceback_later(watchdog, exit=True)
    big = cuda and not args.quick
    n_rec = args.recordings or (1000 if big else 8)
    n_win = args.windows_per_recording or (3600 if big else 900)
    # 16 written recordings (640 MB) are more than any CPU cache, so reads come from memory
    distinct = args.distinct or (16 if big else 4)
    batch = args.batch_sequences or default_batch_sequences(device)
    base_batch = 256 if cuda else 32
    n_base = min(n_rec, args.baseline_recordings or (50 if big else n_rec))
    seq = args.sequence_windows

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
        total = sum(r.n_windows for r in records)
        warm = records[: max(1, min(len(records), (2 * batch * seq) // n_win + 1))]

        tuning = EngineTuning(prefetch=args.prefetch, emulate_device=args.emulate_device)

        def measure():
            predictor = Predictor(
                model,
                sequence_windows=seq,
                batch_sequences=batch,
                device=device,
                amp=not args.no_amp,
                compile=args.compile,
                reader_threads=args.reader_threads,
                cuda_graphs=args.cuda_graphs,
                tuning=tuning,
            )
            # warm-up: compilation, cuDNN plans, the pinned buffers
            t0 = time.perf_counter()
            run_ours(predictor, cache, warm, work / "warm", 0.5)
            warm_s = time.perf_counter() - t0
            seconds, probs = run_ours(predictor, cache, records, work / "ours", 0.5)
            return predictor, warm_s, seconds, probs

        try:
            predictor, warm_s, ours_s, ours_probs = measure()
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            traceback.print_exc()
            print(f"ERROR: the inference engine failed ({error})", file=sys.stderr, flush=True)
            print(
                json.dumps(
                    {
                        "benchmark": "inference",
                        "device": str(device),
                        "error": error,
                        "torch": torch.__version__,
                    }
                )
            )
            return 1
        stats = predictor.stats
        sweep = run_sweep(predictor, cache, records, work, total) if args.sweep else []
        model_rate = feed_rate = feed_stats = h2d = None
        read_rates: dict[int, float] = {}
        if not args.no_ceilings:
            try:
                model_rate = model_only_rate(predictor, cache.window_shape, seq, 10 if cuda else 3)
                predictor.close()  # free the pinned buffers before the feed-only pass
                read_rates = {
                    t: read_rate(cache, records, t, cuda)
                    for t in sorted(
                        {predictor.reader_threads, max(1, predictor.reader_threads // 2)}
                    )
                }
                if cuda:
                    h2d = h2d_rate(cache.window_shape, batch * seq, device)
                null = Predictor(
                    NullModel(),
                    sequence_windows=seq,
                    batch_sequences=batch,
                    device=device,
                    amp=False,
                    compile="never",
                    reader_threads=args.reader_threads,
                    tuning=tuning,
                )
                run_ours(null, cache, warm[:1], work / "warm_null", 0.5)
                feed_s, _ = run_ours(null, cache, records, work / "null", 0.5)
                feed_rate = total / feed_s
                feed_stats = null.stats
                null.close()
            except Exception as err:  # a diagnostic: report, go on
                traceback.print_exc()
                print(f"ERROR: ceiling passes failed: {type(err).__name__}: {err}", file=sys.stderr)
        with torch.inference_mode():
            x = torch.zeros(1, seq, *cache.window_shape, device=device)
            baseline_model(x)
        base_total = sum(r.n_windows for r in records[:n_base])
        base_s, base_probs = run_baseline(
            baseline_model,
            cache,
            records[:n_base],
            work / "baseline",
            device,
            base_batch,
            seq,
            0.5,
        )
        diff = max(float(np.max(np.abs(ours_probs[k] - base_probs[k]))) for k in base_probs)
        # every recording is a hard link of one of the first `distinct`: its probabilities
        # must match that one's (checks all recordings, not only the baseline's)
        ids = [r.recording_id for r in records]
        copies = max(
            float(np.max(np.abs(ours_probs[rid] - ours_probs[ids[k % distinct]])))
            for k, rid in enumerate(ids)
        )
        ours_rate, base_rate = total / ours_s, base_total / base_s
        name = torch.cuda.get_device_name(device) if cuda else f"cpu x{torch.get_num_threads()}"
        print(f"device: {name}; warm-up (compile) {warm_s:.1f} s")
        print(stats.summary())
        if stats.timeline:
            print(
                "device timeline of the first batches (ms): copy start-end, model start-end, done"
            )
            for i, row in enumerate(stats.timeline[:8]):
                print(f"  batch {i}: " + "  ".join(f"{v:9.2f}" for v in row))
        for row in sweep:
            print(
                f"sweep {row['variant']:<40} {row['windows_per_s']:>12,.0f} windows/s  "
                f"busy {row['device_busy_s']:.3f} s of {row['wall_s']:.3f} s, "
                f"H2D hidden {row['h2d_hidden_s']:.3f} of {row['h2d_device_s']:.3f} s, "
                f"launch {row['launch_s']:.3f} s, wait input {row['wait_input_s']:.3f} s"
            )
        if model_rate is not None:
            print(f"model only (data on the device): {model_rate:,.0f} windows/s")
        for t, rate in read_rates.items():
            print(f"reading alone (page cache -> host buffers, {t} threads): {rate:,.0f} windows/s")
        if h2d is not None:
            print(f"host-to-device copies alone (pinned, one stream): {h2d:,.0f} windows/s")
        if feed_rate is not None:
            print(f"pipeline without the model (feeding + writing): {feed_rate:,.0f} windows/s")
            print("  its " + feed_stats.summary().replace("\n", "\n  "))
        print(f"ours:     {total:,} windows in {ours_s:.2f} s = {ours_rate:,.0f} windows/s")
        print(f"baseline: {base_total:,} windows in {base_s:.2f} s = {base_rate:,.0f} windows/s")
        print(f"speed-up: {ours_rate / base_rate:.2f}x; max |p_ours - p_baseline| = {diff:.2e}")
        print(f"consistency: max |p(copy) - p(original)| over all recordings = {copies:.2e}")
        if diff > 1e-2 or copies > 1e-2:
            print("ERROR: the probabilities differ more than bf16 rounding explains")
        print(f"benchmark total {time.perf_counter() - t_begin:.1f} s", file=sys.stderr)
        print(
            json.dumps(
                {
                    "benchmark": "inference",
                    "device": name,
                    "windows": total,
                    "seconds": round(ours_s, 4),
                    "windows_per_s": round(ours_rate),
                    "error": None,
                    "baseline_windows": base_total,
                    "baseline_seconds": round(base_s, 4),
                    "baseline_windows_per_s": round(base_rate),
                    "speedup": round(ours_rate / base_rate, 3),
                    "max_abs_prob_diff": diff,
                    "max_abs_prob_diff_copies": copies,
                    "model_only_windows_per_s": None if model_rate is None else round(model_rate),
                    "feed_only_windows_per_s": None if feed_rate is None else round(feed_rate),
                    "read_only_windows_per_s": {str(t): round(v) for t, v in read_rates.items()},
                    "h2d_only_windows_per_s": None if h2d is None else round(h2d),
                    "batch_sequences": batch,
                    "reader_threads": predictor.reader_threads,
                    "sequence_windows": seq,
                    "recordings": n_rec,
                    "windows_per_recording": n_win,
                    "distinct_recordings": distinct,
                    "amp": predictor.amp,
                    "compiled": args.compile == "always" or (args.compile == "auto" and cuda),
                    "cuda_graphs": predictor.cuda_graphs,
                    "warmup_seconds": round(warm_s, 2),
                    "stages": stats.as_dict(),
                    "feed_only_stages": None if feed_stats is None else feed_stats.as_dict(),
                    "sweep": sweep,
                    "total_seconds": round(time.perf_counter() - t_begin, 1),
                    "torch": torch.__version__,
                }
            )
        )
    finally:
        if watchdog > 0:
            faulthandler.cancel_dump_traceback_later()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
