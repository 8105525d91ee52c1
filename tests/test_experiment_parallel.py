"""``seizure experiment --parallel K``: runs in processes of their own, isolated, on one device."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from seizure.cli import main
from seizure.pipelines import experiment as X
from seizure.pipelines.grid import run_record
from seizure.utils.pool import pool_context

ROOT = Path(__file__).resolve().parents[1]


def write_grid(tmp_path: Path, epochs: int = 1) -> Path:
    """Two cells x two seeds of a tiny CNN/RNN."""
    path = tmp_path / "grid.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            base:
              set:
                - model.hidden_size=4
                - model.num_layers=1
                - model.conv_channels=[4,4]
                - model.conv_kernels=[3,3]
                - train.epochs={epochs}
                - train.batch_size=4
                - train.sequence_windows=4
                - train.patience=0
                - train.num_workers=0
                - evaluate.sweep_points=5
            seeds: 2
            grids:
              - name: g
                axes:
                  cell:
                    lstm: [model.cell=lstm]
                    gru: [model.cell=gru]
            """
        )
    )
    return path


@pytest.fixture
def random_cache(tmp_path):
    from seizure.training.fakes import write_random_cache

    return write_random_cache(
        tmp_path / "cache",
        splits={"train": 3, "dev": 1, "eval": 2},
        windows_per_recording=40,
        ictal_fraction=0.25,
    )


def _figures(out: Path, name: str) -> dict[str, float]:
    run = out / "runs" / name
    scores = json.loads((run / "eval" / "scores.json").read_text())
    rows = [json.loads(line) for line in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    figures = {f"train_loss_{r['epoch']}": r["train_loss"] for r in rows}
    figures.update({f"val_loss_{r['epoch']}": r["val_loss"] for r in rows})
    for method in ("ovlp", "taes"):
        for key, value in scores[method].items():
            if isinstance(value, (int, float)):
                figures[f"{method}_{key}"] = float(value)
    return figures


def test_two_at_once_give_the_same_runs_as_one_at_a_time(tmp_path, random_cache):
    grid = write_grid(tmp_path, epochs=2)
    only = ["cell-lstm"]  # the cell's two seeds
    one = X.run_experiment(grid, random_cache.path, tmp_path / "k1", only=only, device="cpu")
    logs: list[str] = []
    two = X.run_experiment(
        grid, random_cache.path, tmp_path / "k2", only=only, device="cpu", parallel=2,
        log=logs.append,
    )  # fmt: skip
    names = [o.name for o in one.outcomes]
    assert names == ["cell-lstm__seed-0", "cell-lstm__seed-1"]
    assert not one.failed and not two.failed
    assert sorted(o.name for o in two.outcomes) == sorted(names)
    assert {o.status for o in two.outcomes} == {"finished"}
    for name in names:
        a, b = _figures(tmp_path / "k1", name), _figures(tmp_path / "k2", name)
        assert a.keys() == b.keys() and "train_loss_2" in a
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (name, key)
        # each run saw its own seed: the grid's seed + N, recorded in its own run folder
        saved = (tmp_path / "k2" / "runs" / name / "config.yaml").read_text()
        assert f"seed: {name.endswith('seed-1'):d}" in saved
    # the two seeds of a cell trained differently (no run reused another's checkpoint)
    s0 = _figures(tmp_path / "k2", "cell-lstm__seed-0")
    s1 = _figures(tmp_path / "k2", "cell-lstm__seed-1")
    assert s0["train_loss_1"] != s1["train_loss_1"]
    started = [line for line in logs if ": started; in flight: " in line]
    assert len(started) == 2
    assert any(", " in line.split("in flight: ")[1] for line in started)  # two at once
    assert any("windows/s trained over all runs" in line for line in logs)
    projection = [line for line in logs if "projection:" in line]
    assert projection and "the whole grid (2 cells, 4 runs)" in projection[-1]
    for name in names:
        assert (tmp_path / "k2" / "runs" / name / "experiment.log").stat().st_size > 0


def test_a_failing_run_leaves_the_others_finished_and_exits_1(tmp_path, random_cache):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"
    bad = out / "runs" / "cell-gru__seed-0"
    bad.mkdir(parents=True)
    (bad / "train").write_text("a file where the run's training folder goes")
    result = CliRunner().invoke(
        main,
        ["experiment", str(grid), str(random_cache.path), str(out), "--parallel", "2",
         "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "1 run(s) failed: cell-gru__seed-0" in result.output
    assert "3 of 4 runs finished" in result.output
    assert run_record(bad)["status"] == "failed"
    table = (out / "results.csv").read_text().splitlines()
    status = {line.split(",")[0]: line for line in table[1:]}
    assert ",failed," in status["cell-gru__seed-0"]
    for name in ("cell-lstm__seed-0", "cell-lstm__seed-1", "cell-gru__seed-1"):
        assert ",finished," in status[name]
        assert (out / "runs" / name / "eval" / "scores.json").is_file()


def test_a_run_whose_process_dies_is_recorded_as_failed(tmp_path):
    spec = X.expand_grid(write_grid(tmp_path))[0]
    process = X._RunProcess(spec, pool_context(), (3,), os._exit)
    outcome = X._outcome_of(process, tmp_path / "out")
    process.close()
    assert outcome.status == "failed" and "ended without a result" in outcome.reason
    assert run_record(tmp_path / "out" / "runs" / spec.name)["status"] == "failed"


def test_parallel_below_one_is_refused(tmp_path, random_cache):
    with pytest.raises(X.GridError, match="--parallel 0"):
        X.run_experiment(write_grid(tmp_path), random_cache.path, tmp_path / "o", parallel=0)
    result = CliRunner().invoke(main, ["experiment", "--help"])
    assert "--parallel K" in result.output


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not count)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_sigterm_ends_every_run_and_exits_143(tmp_path, random_cache):
    grid = write_grid(tmp_path, epochs=200)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "seizure", "experiment", str(grid), str(random_cache.path),
           str(out), "--parallel", "2", "--device", "cpu"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)  # fmt: skip
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if "[2/4]" in line and "in flight: " in line:
            break
    # both runs are training (their metrics files appear after their first epoch)
    while time.monotonic() < deadline and len(list(out.glob("runs/*/train/metrics.jsonl"))) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 143, "".join(seen) + err
    assert "interrupted by SIGTERM" in err
    for name in ("cell-lstm__seed-0", "cell-lstm__seed-1"):
        log = (out / "runs" / name / "experiment.log").read_text()
        pid = int(log.split(": process ")[1].split(",")[0])
        assert not _alive(pid), f"the process of {name} outlived the experiment"
        record = run_record(out / "runs" / name)
        assert record["status"] in {"interrupted", "running"}, record
        assert not (out / "runs" / name / "eval" / "scores.json").exists()
