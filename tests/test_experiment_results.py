"""``seizure experiment``: the results table is built from run outputs; failures, resume."""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import signal
import textwrap
import time
from pathlib import Path

import pytest

from seizure.config import to_dict
from seizure.pipelines import experiment as X
from seizure.pipelines.stages import StageStore, stage_fingerprint


def write_grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            description: A test grid.
            base:
              set:
                - model.hidden_size=4
                - model.num_layers=1
                - model.conv_channels=[4,4]
                - model.conv_kernels=[3,3]
                - train.epochs=1
                - train.batch_size=2
                - train.sequence_windows=8
                - train.num_workers=0
                - train.progress=false
                - evaluate.sweep_points=3
            grids:
              - name: g
                axes:
                  init:
                    orthogonal: [model.init.kernel=orthogonal]
                    he_normal: [model.init.kernel=he_normal]
                  cell:
                    lstm: [model.cell=lstm]
                    gru: [model.cell=gru]
            runs:
              solo: [model.cell=none]
            """
        )
    )
    return path


def scores(sens: float, spec: float, fa: float) -> dict:
    entry = {"sensitivity": sens, "specificity": spec, "false_alarms_per_24h": fa}
    return {"ovlp": entry, "taes": {k: v / 2 for k, v in entry.items()}, "files": 3}


def fake_run(out: Path, name: str, *, score=None, metrics=(), status=None) -> None:
    run = out / "runs" / name
    (run / "train").mkdir(parents=True, exist_ok=True)
    if metrics:
        lines = [json.dumps(m) for m in metrics]
        (run / "train" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if score is not None:
        (run / "eval").mkdir(parents=True, exist_ok=True)
        (run / "eval" / "scores.json").write_text(json.dumps(score))
    if status is not None:
        store, status = StageStore(run), dict(status)
        state = status.pop("status")
        if state == "finished":
            store.finish("run", "fp", **status)
        else:
            store.fail("run", "fp", status=state, **status)


def test_table_is_built_from_run_outputs(tmp_path):
    runs = X.expand_grid(write_grid(tmp_path))
    out = tmp_path / "out"
    # a good run, a diverged one (NaN loss, scored from its last best.pt), a stalled one,
    # a failed one; "solo" never ran
    fake_run(
        out,
        "init-orthogonal__cell-lstm",
        score=scores(0.8, 0.9, 5.0),
        metrics=[
            {"epoch": 1, "train_loss": 0.5, "window_auroc": 0.7},
            {"epoch": 2, "train_loss": 0.3, "window_auroc": 0.9},
        ],
        status={"status": "finished", "diverged": False},
    )
    fake_run(
        out,
        "init-orthogonal__cell-gru",
        score=scores(0.1, 0.5, 50.0),
        metrics=[{"epoch": 1, "train_loss": math.nan, "window_auroc": 0.6}],
        status={"status": "finished", "diverged": True, "diverged_reason": "loss is nan"},
    )
    fake_run(
        out,
        "init-he_normal__cell-lstm",
        score=scores(0.0, 1.0, 0.0),
        metrics=[
            {"epoch": 1, "train_loss": 0.7, "window_auroc": 0.5},
            {"epoch": 2, "train_loss": 0.7, "window_auroc": 0.51},
        ],
    )
    fake_run(
        out,
        "init-he_normal__cell-gru",
        status={"status": "failed", "reason": "RuntimeError: out of memory\nmore"},
    )
    rows = X.collect_results(runs, out)
    by = {r["run"]: r for r in rows}
    assert [r["run"] for r in rows] == [r.name for r in runs]

    good = by["init-orthogonal__cell-lstm"]
    assert (good["init"], good["cell"], good["status"]) == ("orthogonal", "lstm", "finished")
    assert good["ovlp_sensitivity"] == 0.8 and good["ovlp_fa_per_24h"] == 5.0
    assert good["taes_sensitivity"] == 0.4 and good["taes_specificity"] == 0.45
    assert (good["diverged"], good["stalled"]) == (False, False)
    assert (good["best_val_metric"], good["best_val_epoch"], good["epochs"]) == (0.9, 2, 2)

    assert by["init-orthogonal__cell-gru"]["diverged"] is True
    assert "diverged" in by["init-orthogonal__cell-gru"]["reason"]
    assert by["init-he_normal__cell-lstm"]["stalled"] is True  # 0.51 <= 0.5 + 0.02
    failed = by["init-he_normal__cell-gru"]
    assert failed["status"] == "failed" and failed["reason"] == "RuntimeError: out of memory"
    assert failed["ovlp_sensitivity"] is None and failed["stalled"] is None
    solo = by["solo"]
    assert (solo["status"], solo["init"], solo["cell"]) == ("pending", "", "")
    assert (solo["diverged"], solo["stalled"], solo["epochs"]) == (None, None, None)

    grid = X.load_grid(tmp_path / "grid.yaml")
    md_path, csv_path = X.write_results(rows, out, grid)
    md = md_path.read_text()
    assert (
        "| `init-orthogonal__cell-lstm` | orthogonal | lstm | finished | 80.00 | 90.00 | 5.00 |"
        in md
    )
    assert "RuntimeError: out of memory |" in md
    assert "2 of 5" not in md and "3 of 5 runs finished" in md
    with open(csv_path, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [t["run"] for t in table] == [r.name for r in runs]
    assert float(table[0]["ovlp_sensitivity"]) == 0.8
    assert table[3]["ovlp_sensitivity"] == "" and table[3]["status"] == "failed"
    assert table[1]["diverged"] == "True"

    png = X.plot_validation_curves(runs, out, axis="init", metric="window_auroc")
    assert png == out / "validation_curves.png" and png.stat().st_size > 1000


def test_plot_is_skipped_without_metrics(tmp_path):
    runs = X.expand_grid(write_grid(tmp_path))
    assert X.plot_validation_curves(runs, tmp_path / "empty") is None


@pytest.fixture
def random_cache(tmp_path):
    from seizure.training.fakes import write_random_cache

    return write_random_cache(
        tmp_path / "cache",
        splits={"train": 3, "dev": 1, "eval": 2},
        windows_per_recording=40,
        ictal_fraction=0.25,
    )


def test_failures_are_recorded_and_resume_skips_finished_runs(tmp_path, random_cache, monkeypatch):
    """Real (tiny) training and evaluation; one run fails, the others go on; a second
    invocation only retries the failed run."""
    from seizure.training import loop

    grid = write_grid(tmp_path)
    out = tmp_path / "out"
    calls: list[str] = []
    fail = {"init-he_normal__cell-gru"}
    real_train = loop.train

    def train(config, cache, run_dir, **kwargs):
        name = Path(run_dir).parent.name
        calls.append(name)
        if name in fail:
            raise RuntimeError("simulated failure")
        return real_train(config, cache, run_dir, **kwargs)

    monkeypatch.setattr(loop, "train", train)
    logs: list[str] = []
    result = X.run_experiment(
        grid, random_cache.path, out, only=["init-*"], device="cpu", log=logs.append
    )
    assert calls == [
        "init-orthogonal__cell-lstm",
        "init-orthogonal__cell-gru",
        "init-he_normal__cell-lstm",
        "init-he_normal__cell-gru",
    ]
    assert [o.name for o in result.failed] == ["init-he_normal__cell-gru"]
    by = {r["run"]: r for r in result.rows}
    assert by["init-he_normal__cell-gru"]["status"] == "failed"
    assert by["init-he_normal__cell-gru"]["reason"] == "RuntimeError: simulated failure"
    assert by["solo"]["status"] == "pending"
    for name in calls[:3]:
        assert by[name]["status"] == "finished"
        assert by[name]["ovlp_sensitivity"] is not None
        assert (out / "runs" / name / "eval" / "report.md").is_file()
        assert (out / "runs" / name / "config.yaml").is_file()
    assert (out / "results.md").is_file() and (out / "results.csv").is_file()
    assert (out / "validation_curves.png").is_file()
    assert any("FAILED" in line for line in logs)

    calls.clear()
    fail.clear()
    result = X.run_experiment(grid, random_cache.path, out, only=["init-*"], device="cpu")
    assert calls == ["init-he_normal__cell-gru"]
    assert not result.failed
    assert {r["status"] for r in result.rows if r["run"] != "solo"} == {"finished"}


def test_index_runs_one_run_and_a_changed_config_is_not_reused(tmp_path, random_cache):
    grid = write_grid(tmp_path)
    out = tmp_path / "out"
    result = X.run_experiment(grid, random_cache.path, out, index=4, device="cpu")
    assert [o.name for o in result.outcomes] == ["solo"]
    assert [r["run"] for r in result.rows if r["status"] == "finished"] == ["solo"]
    record = StageStore(out / "runs" / "solo").get("run")
    assert (record["status"], record["complete"], record["diverged"]) == ("finished", True, False)
    config = X.expand_grid(grid, base={"preprocess": to_dict(random_cache.config)})[4].config
    assert record["fingerprint"] == stage_fingerprint(to_dict(config))
    again = X.run_experiment(grid, random_cache.path, out, index=4, device="cpu")
    assert [o.status for o in again.outcomes] == ["skipped"]
    changed = X.run_experiment(
        grid, random_cache.path, out, index=4, device="cpu", overrides=["train.epochs=2"]
    )
    assert changed.outcomes[0].status == "failed"
    assert "another config" in changed.outcomes[0].reason


def test_a_signal_in_the_evaluation_records_the_run_interrupted_and_the_rerun_only_evaluates(
    tmp_path, random_cache, monkeypatch
):
    from seizure.training import loop
    from seizure.utils.pool import Interrupted

    evaluation = importlib.import_module("seizure.evaluation.evaluate")
    real_evaluate = evaluation.evaluate

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
        raise AssertionError("the signal did not stop the evaluation")

    def unhandled(signum, frame):
        raise AssertionError("SIGTERM reached no handler of the experiment")

    grid, out = write_grid(tmp_path), tmp_path / "out"
    monkeypatch.setattr(evaluation, "evaluate", signalled)
    previous = signal.signal(signal.SIGTERM, unhandled)  # not pytest's death without the fix
    try:
        with pytest.raises(Interrupted, match="interrupted by SIGTERM") as caught:
            X.run_experiment(grid, random_cache.path, out, index=4, device="cpu")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert caught.value.exit_code == 143
    record = StageStore(out / "runs" / "solo").get("run")
    assert (record["status"], record["complete"]) == ("interrupted", False)
    summary = json.loads((out / "runs" / "solo" / "train" / "summary.json").read_text())
    assert summary["status"] == "completed"

    monkeypatch.setattr(evaluation, "evaluate", real_evaluate)
    trained: list[str] = []
    monkeypatch.setattr(loop, "train", lambda config, cache, run_dir, **k: trained.append(run_dir))
    again = X.run_experiment(grid, random_cache.path, out, index=4, device="cpu")
    assert trained == [] and [o.status for o in again.outcomes] == ["finished"]
    record = StageStore(out / "runs" / "solo").get("run")
    assert (record["status"], record["train_status"]) == ("finished", "completed")
    assert (out / "runs" / "solo" / "eval" / "scores.json").is_file()


def test_a_signal_in_the_training_ends_the_experiment_with_the_signals_status(
    tmp_path, random_cache, monkeypatch
):
    from seizure.training import loop
    from seizure.utils.pool import Interrupted

    real_train = loop.train

    def signalled_train(config, cache, run_dir, **kwargs):
        def at_step(info):
            if info.step == 1:
                os.kill(os.getpid(), signal.SIGTERM)

        return real_train(config, cache, run_dir, callbacks=[at_step], **kwargs)

    def unhandled(signum, frame):
        raise AssertionError("SIGTERM reached no handler of the experiment")

    grid, out = write_grid(tmp_path), tmp_path / "out"
    monkeypatch.setattr(loop, "train", signalled_train)
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        # formerly a bare KeyboardInterrupt: click's "Aborted!" with exit status 1
        with pytest.raises(Interrupted, match="interrupted by SIGTERM in a run's training") as c:
            X.run_experiment(grid, random_cache.path, out, index=4, device="cpu")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert c.value.exit_code == 143
    record = StageStore(out / "runs" / "solo").get("run")
    assert (record["status"], record["train_status"]) == ("interrupted", "interrupted")
    summary = json.loads((out / "runs" / "solo" / "train" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert (out / "runs" / "solo" / "train" / "last.pt").is_file()
