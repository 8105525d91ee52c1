"""Run every ``benchmarks/bench_*.py`` and write ``benchmarks/RESULTS.md``.

Usage::

    .venv/bin/python benchmarks/run_all.py              # CPU figures (full workloads)
    .venv/bin/python benchmarks/run_all.py --quick      # small workloads (minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py --gpu        # on a GPU machine (e.g. one H100)
    .venv/bin/python benchmarks/run_all.py --only train --only inference

Each script runs as a subprocess (``--quick`` is passed to the scripts that accept it, and
always to those in :data:`ALWAYS_QUICK`; ``--device cuda`` with ``--gpu``, else
``--device cpu``, to those that accept ``--device``).

Result convention: a script's result is the **last line of its standard output that starts
with** ``{`` (one JSON object). Its figure, baseline and ratio are read from the keys
``figure``, ``unit``, ``baseline``, ``baseline_name`` and ``ratio`` when present; the
result lines the existing scripts print are also understood (see :func:`summarize`). A
script that prints no JSON line is recorded with the last lines of its output, so that the
table says what is missing instead of leaving the script out. Every JSON line a script prints
is kept (``lines``); a script with a table of its own (:data:`DETAIL_TABLES`:
``bench_memory.py``'s peak memory per command and recording length) gets it rendered below
the run's table, so no section of ``RESULTS.md`` is kept by hand.

The results of one invocation go to ``benchmarks/results/<label>.json`` (``label`` is
``cpu``, ``cpu-quick``, ``gpu`` or ``gpu-quick``) with the machine (CPU model, cores, memory,
GPU name from ``torch.cuda.get_device_name()``), the date, the git commit and the commands;
``RESULTS.md`` is then rendered from every results file present, so a GPU run on an H100 and
a CPU run on a laptop sit side by side, each under its own machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"


# ------------------------------------------------------------------------------ discovery


def discover(folder: Path = HERE) -> list[Path]:
    """The ``bench_*.py`` scripts of ``folder``, sorted by name."""
    return sorted(folder.glob("bench_*.py"))


def bench_name(script: Path) -> str:
    """``bench_train.py`` -> ``train``."""
    return script.stem.removeprefix("bench_")


def accepts(script: Path, option: str) -> bool:
    """Whether the script's source declares the command-line ``option`` (e.g. ``--quick``).

    Declared means ``add_argument("--option"``: the option's name elsewhere (a command the
    script runs, as ``bench_memory.py`` passes ``--device`` to ``seizure detect``) is not.
    """
    pattern = rf"""add_argument\(\s*["']{re.escape(option)}["']"""
    return re.search(pattern, script.read_text()) is not None


#: Benchmarks always run with ``--quick``: ``memory`` compares 4 h against 1 h (the ratio is
#: the figure; ``bench_memory.py --hours 24`` by hand writes a 1 GB EDF and takes minutes).
ALWAYS_QUICK = frozenset({"memory"})


def command_for(script: Path, *, quick: bool, gpu: bool, python: str = sys.executable) -> list[str]:
    """The command line that runs ``script`` for this invocation."""
    cmd = [python, str(script)]
    if (quick or bench_name(script) in ALWAYS_QUICK) and accepts(script, "--quick"):
        cmd.append("--quick")
    if accepts(script, "--device"):
        cmd += ["--device", "cuda" if gpu else "cpu"]
    return cmd


# ------------------------------------------------------------------------------ results


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line starting with ``{`` that parses as a JSON object, in order."""
    found = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def last_json_line(stdout: str) -> dict[str, Any] | None:
    """The last stdout line starting with ``{`` that parses as a JSON object, or None."""
    found = json_lines(stdout)
    return found[-1] if found else None


def _get(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


#: Known result lines: benchmark name -> (figure key, unit, baseline key, baseline name,
#: ratio key). Used when a result has no ``figure``/``baseline``/``ratio`` keys.
KNOWN: dict[str, tuple[str, str, str, str, str]] = {
    "inference": (
        "windows_per_s",
        "windows/s",
        "baseline_windows_per_s",
        "plain PyTorch loop",
        "speedup",
    ),
    "train": (
        "results.fast.windows_per_s",
        "windows/s",
        "results.plain.windows_per_s",
        "plain DataLoader loop",
        "fast_over_plain",
    ),
}


def summarize(name: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """Figure, unit, baseline, baseline name and ratio of one result (None where unknown)."""
    out: dict[str, Any] = {
        "figure": None,
        "unit": "",
        "baseline": None,
        "baseline_name": "",
        "ratio": None,
    }
    if not result:
        return out
    if "figure" in result or "ratio" in result:
        for key in out:
            if key in result:
                out[key] = result[key]
        if out["ratio"] is None and out["figure"] and out["baseline"]:
            out["ratio"] = float(out["figure"]) / float(out["baseline"])
        return out
    if name in KNOWN:
        fig, unit, base, base_name, ratio = KNOWN[name]
        out.update(
            figure=_get(result, fig),
            unit=unit,
            baseline=_get(result, base),
            baseline_name=base_name,
            ratio=_get(result, ratio),
        )
    return out


# ------------------------------------------------------------------------------ machine


def machine_info(gpu: bool) -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python, and (with ``gpu``) the CUDA device's name."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (macOS)
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 1e9, 1)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
            info["cuda"] = torch.version.cuda
    except ImportError:  # pragma: no cover
        pass
    if gpu and not info.get("gpu"):
        raise SystemExit("--gpu was given but torch sees no CUDA device; run without --gpu")
    return info


def git_commit() -> str | None:
    """The checkout's commit (read-only), or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# ------------------------------------------------------------------------------ running


def run_script(cmd: list[str], timeout_s: float) -> dict[str, Any]:
    """Run one benchmark; return its exit code, wall time, JSON result and output tail."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as err:
        code = None
        stdout = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        stderr = f"timed out after {timeout_s:g} s"
    wall = time.perf_counter() - t0
    lines = json_lines(stdout)
    tail = [ln for ln in stdout.splitlines() if ln.strip() and not ln.startswith("{")][-8:]
    return {
        "command": " ".join(cmd),
        "exit_code": code,
        "wall_s": round(wall, 2),
        "result": lines[-1] if lines else None,
        "lines": lines,
        "output_tail": tail,
        "stderr_tail": [ln for ln in stderr.splitlines() if ln.strip()][-5:],
    }


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        v = float(value)
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-2):
            return f"{v:.3g}"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
    return str(value)


def memory_table(lines: list[dict[str, Any]]) -> list[str]:
    """``bench_memory.py``'s measurements as a table: peak RSS per command and length.

    Parameters
    ----------
    lines : list of dict
        The script's JSON lines; those with ``command``, ``recording`` (``short`` or
        ``long``), ``hours``, ``peak_rss_mb`` and ``wall_s`` are measurements.

    Returns
    -------
    list of str
        Markdown lines (none when there is no measurement).
    """
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    hours: dict[str, Any] = {}
    for line in lines:
        if {"command", "recording", "peak_rss_mb"} <= line.keys():
            rows.setdefault(line["command"], {})[line["recording"]] = line
            hours[line["recording"]] = line.get("hours")
    if not rows:
        return []
    short, long = (f"{hours.get(n):g} h" if hours.get(n) else "?" for n in ("short", "long"))
    out = [
        f"Peak memory (`ru_maxrss` of a wrapper running only the command), {short} against {long}:",
        "",
        f"| command | {short} MB | {long} MB | ratio | wall s {short} / {long} |",
        "|---|---:|---:|---:|---:|",
    ]
    for command, by in rows.items():
        s, g = by.get("short", {}), by.get("long", {})
        ratio = (
            g["peak_rss_mb"] / s["peak_rss_mb"]
            if s.get("peak_rss_mb") and g.get("peak_rss_mb")
            else None
        )
        out.append(
            f"| {command} | {_fmt(s.get('peak_rss_mb'))} | {_fmt(g.get('peak_rss_mb'))} "
            f"| {_fmt(ratio)} | {_fmt(s.get('wall_s'))} / {_fmt(g.get('wall_s'))} |"
        )
    return [*out, ""]


#: Benchmark name -> renderer of a table of its own from its JSON lines.
DETAIL_TABLES = {"memory": memory_table}


def render(runs: list[dict[str, Any]]) -> str:
    """``RESULTS.md`` from the results of one or more invocations."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run_all.py` (do not edit by hand; re-run it). Each section is",
        "one invocation on one machine; *figure* is ours, *baseline* the reference measured",
        "in the same run on the same machine, *ratio* figure / baseline (higher is better",
        "unless the unit is a time). GPU figures come from a run with `--gpu` and name the GPU.",
        "",
    ]
    for run in runs:
        m = run["machine"]
        where = f"{m.get('cpu')}, {m.get('usable_cores')} of {m.get('cores')} cores"
        if m.get("memory_gb"):
            where += f", {m['memory_gb']} GB"
        gpu = m.get("gpu") if run.get("gpu") else None
        lines += [
            f"## {run['label']}: {'GPU ' + gpu if gpu else 'CPU'}",
            "",
            f"- machine: {where}" + (f"; GPU: {gpu} (x{m.get('gpu_count')})" if gpu else ""),
            f"- software: Python {m.get('python')}, torch {m.get('torch', '?')}, {m.get('os')}",
            f"- date: {run['date']}; commit: {run.get('commit') or 'unknown'}",
            f"- command: `{run['command']}`",
            "",
            "| benchmark | figure | unit | baseline | baseline is | ratio | wall s | status |",
            "|---|---:|---|---:|---|---:|---:|---|",
        ]
        for b in run["benchmarks"]:
            s = summarize(b["name"], b["result"])
            if b["exit_code"] == 0 and b["result"] is not None:
                status = "ok"
            elif b["exit_code"] == 0:
                status = "no JSON result line"
            elif b["exit_code"] is None:
                status = "timed out"
            else:
                status = f"exit {b['exit_code']}"
            lines.append(
                f"| {b['name']} | {_fmt(s['figure'])} | {s['unit']} | {_fmt(s['baseline'])} "
                f"| {s['baseline_name']} | {_fmt(s['ratio'])} | {_fmt(b['wall_s'])} | {status} |"
            )
        lines.append("")
        for b in run["benchmarks"]:
            table = DETAIL_TABLES.get(b["name"], lambda _: [])(b.get("lines") or [])
            if table:
                lines += [f"### {b['name']}", "", *table]
        lines += ["<details><summary>commands and output</summary>", ""]
        for b in run["benchmarks"]:
            lines += [f"**{b['name']}**: `{b['command']}`", "", "```"]
            lines += b["output_tail"] or ["(no output)"]
            if b["exit_code"] != 0:
                lines += ["--- stderr ---", *b["stderr_tail"]]
            if b["result"] is not None:
                lines.append(json.dumps(b["result"])[:2000])
            lines += ["```", ""]
        lines += ["</details>", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads (--quick)")
    parser.add_argument("--gpu", action="store_true", help="run on the CUDA GPU (--device cuda)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="e.g. train (repeatable)"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per script")
    parser.add_argument("--label", default=None, help="results name (default cpu/gpu[-quick])")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--output", type=Path, default=RESULTS_MD, help="the Markdown file")
    args = parser.parse_args(argv)

    scripts = discover()
    if args.only:
        known = {bench_name(s): s for s in scripts}
        missing = [n for n in args.only if n not in known]
        if missing:
            parser.error(f"--only: unknown benchmark(s) {missing}; known: {sorted(known)}")
        scripts = [known[n] for n in args.only]
    label = args.label or ("gpu" if args.gpu else "cpu") + ("-quick" if args.quick else "")
    machine = machine_info(args.gpu)
    where = f"GPU {machine['gpu']}" if args.gpu else f"CPU {machine['cpu']}"
    print(f"{len(scripts)} benchmark(s) on {where} -> {args.output}", file=sys.stderr)
    benchmarks = []
    for k, script in enumerate(scripts, 1):
        cmd = command_for(script, quick=args.quick, gpu=args.gpu)
        print(f"[{k}/{len(scripts)}] {' '.join(cmd)}", file=sys.stderr, flush=True)
        res = run_script(cmd, args.timeout)
        res["name"] = bench_name(script)
        s = summarize(res["name"], res["result"])
        print(
            f"[{k}/{len(scripts)}] {res['name']}: exit {res['exit_code']} in {res['wall_s']} s; "
            f"figure {_fmt(s['figure'])} {s['unit']}, baseline {_fmt(s['baseline'])}, "
            f"ratio {_fmt(s['ratio'])}",
            file=sys.stderr,
            flush=True,
        )
        benchmarks.append(res)
    run = {
        "label": label,
        "gpu": args.gpu,
        "quick": args.quick,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": " ".join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])]),
        "machine": machine,
        "benchmarks": benchmarks,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{label}.json").write_text(json.dumps(run, indent=1) + "\n")
    runs = []
    for path in sorted(args.results_dir.glob("*.json")):
        try:
            runs.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            print(f"skipping unreadable {path}", file=sys.stderr)
    runs.sort(key=lambda r: (not r.get("gpu"), r.get("label", "")))
    args.output.write_text(render(runs))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0 if all(b["exit_code"] == 0 for b in benchmarks) else 1


if __name__ == "__main__":
    sys.exit(main())
