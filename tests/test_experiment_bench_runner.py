"""``benchmarks/run_all.py``: result-line convention, figure extraction, RESULTS.md."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_runner():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_last_json_line_is_the_result():
    R = load_runner()
    out = 'warming up\n{"a": 1}\nratio 2x\n{not json\n{"b": 2}\ndone\n'
    assert R.last_json_line(out) == {"b": 2}
    assert R.last_json_line("no json here\n") is None


def test_summarize_convention_and_known_scripts():
    R = load_runner()
    s = R.summarize("x", {"figure": 10.0, "unit": "h/s", "baseline": 4.0, "baseline_name": "b"})
    assert (s["figure"], s["baseline"], s["ratio"], s["unit"]) == (10.0, 4.0, 2.5, "h/s")
    inf = R.summarize("inference", {"windows_per_s": 900, "baseline_windows_per_s": 300,
                                    "speedup": 3.0})  # fmt: skip
    assert (inf["figure"], inf["baseline"], inf["ratio"]) == (900, 300, 3.0)
    tr = R.summarize("train", {"results": {"fast": {"windows_per_s": 8}, "plain": {
        "windows_per_s": 2}}, "fast_over_plain": 4.0})  # fmt: skip
    assert (tr["figure"], tr["baseline"], tr["ratio"]) == (8, 2, 4.0)
    assert R.summarize("synth", None)["figure"] is None


def test_commands_pass_quick_and_device_only_where_accepted():
    R = load_runner()
    scripts = {R.bench_name(p): p for p in R.discover()}
    assert "train" in scripts and "run_all" not in scripts
    cmd = R.command_for(scripts["train"], quick=True, gpu=True, python="py")
    assert cmd[:2] == ["py", str(scripts["train"])]
    assert "--quick" in cmd and cmd[-2:] == ["--device", "cuda"]
    if "score" in scripts and not R.accepts(scripts["score"], "--device"):
        assert "--device" not in R.command_for(scripts["score"], quick=False, gpu=False)


def test_main_runs_scripts_and_renders_results(tmp_path, monkeypatch):
    R = load_runner()
    bench = tmp_path / "bench_fake.py"
    bench.write_text(
        "import json, sys\n"
        "print('some text')\n"
        "print(json.dumps({'figure': 5.0, 'unit': 'x/s', 'baseline': 2.0, 'ratio': 2.5,"
        " 'quick': '--quick' in sys.argv}))\n"
        "# parser.add_argument('--quick')\n"
    )
    silent = tmp_path / "bench_silent.py"
    silent.write_text("print('only text')\n")
    monkeypatch.setattr(R, "discover", lambda folder=None: [bench, silent])
    out = tmp_path / "RESULTS.md"
    code = R.main(["--quick", "--results-dir", str(tmp_path / "res"), "--output", str(out)])
    assert code == 0
    md = out.read_text()
    assert "| fake | 5.00 | x/s | 2.00 |" in md and "| 2.50 |" in md
    assert "| silent |" in md and "no JSON result line" in md
    assert "machine: " in md and "date: " in md and "run_all.py --quick" in md
    saved = json.loads((tmp_path / "res" / "cpu-quick.json").read_text())
    assert saved["benchmarks"][0]["result"]["quick"] is True
    assert saved["machine"]["cores"] >= 1
    assert sys.executable in saved["benchmarks"][0]["command"]


def test_memory_runs_quick_and_its_measurements_are_rendered(tmp_path, monkeypatch):
    R = load_runner()
    bench = tmp_path / "bench_memory.py"
    rows = [("preprocess", "short", 1.0, 250.0, 4.0), ("preprocess", "long", 4.0, 260.0, 15.0),
            ("detect", "short", 1.0, 600.0, 9.0), ("detect", "long", 4.0, 630.0, 30.0)]  # fmt: skip
    lines = [
        {"benchmark": "memory", "command": c, "recording": r, "hours": h, "peak_rss_mb": mb,
         "wall_s": w}
        for c, r, h, mb, w in rows
    ]  # fmt: skip
    bench.write_text(
        "import json, sys\n"
        f"for line in {lines!r}:\n"
        "    print(json.dumps(line))\n"
        "print(json.dumps({'figure': 1.05, 'ratio': 1.05, 'baseline': 1.0, 'quick': '--quick' in"
        " sys.argv}))\n"
        "# parser.add_argument('--quick')\n"
        "# runs: seizure detect ... '--device', 'cpu'\n"
    )
    monkeypatch.setattr(R, "discover", lambda folder=None: [bench])
    out = tmp_path / "RESULTS.md"
    assert R.main(["--results-dir", str(tmp_path / "res"), "--output", str(out)]) == 0
    saved = json.loads((tmp_path / "res" / "cpu.json").read_text())
    assert saved["benchmarks"][0]["result"]["quick"] is True  # --quick without --quick
    assert "--device" not in saved["benchmarks"][0]["command"]  # named, but not an option
    assert len(saved["benchmarks"][0]["lines"]) == 5
    md = out.read_text()
    assert "### memory" in md and "| command | 1 h MB | 4 h MB | ratio |" in md
    assert "| preprocess | 250 | 260 | 1.04 | 4.00 / 15.00 |" in md
    assert "| detect | 600 | 630 | 1.05 | 9.00 / 30.00 |" in md
