"""A tiny real demo: a few minutes of synthetic EEG through all four stages, then re-runs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from seizure.cli import main
from seizure.pipelines.demo import DEMO_STAGES, demo_config, run_demo

TINY = [
    "synth.hours=0.25",
    "synth.patients=5",
    "synth.recording_minutes=[2.0,4.0]",
    "synth.seizure_seconds=[15.0,40.0]",
    "synth.ictal_fraction=0.15",
    "synth.sfreq_hz=[256.0]",
    "synth.split_fractions=[0.6,0.2,0.2]",
    "model.hidden_size=8",
    "model.conv_channels=[8,8]",
    "model.conv_kernels=[5,3]",
    "train.epochs=1",
    "train.batch_size=4",
    "train.sequence_windows=10",
    "train.num_workers=0",
    "train.progress=false",
    "evaluate.sweep_points=5",
]


def actions(result):
    return [s.action for s in result.stages]


@pytest.mark.slow
def test_tiny_demo_runs_and_reruns_only_what_changed(tmp_path):
    out = tmp_path / "demo"
    lines: list[str] = []
    first = run_demo(out, demo_config(overrides=TINY), device="cpu", jobs=1, log=lines.append)
    assert actions(first) == ["built"] * 4
    assert [s.name for s in first.stages] == list(DEMO_STAGES)
    for k, name in enumerate(DEMO_STAGES, 1):
        assert any(line.startswith(f"[{k}/4] {name}: done in") for line in lines), lines
    for path in (first.report_path, first.curve_path, first.scores_path):
        assert path.is_file()
    report = first.report_path.read_text()
    assert "## Missed seizures" in report and "## False alarms" in report
    scores = json.loads(first.scores_path.read_text())
    assert first.scores == scores
    assert 0.0 <= scores["ovlp"]["sensitivity"] <= 1.0
    assert first.n_patients >= 1 and first.hours > 0
    text = "\n".join(first.summary_lines())
    assert "OVLP" in text and "TAES" in text and "false alarms per 24 h" in text

    # nothing changed: every stage is skipped
    again = run_demo(out, demo_config(overrides=TINY), device="cpu", jobs=1, log=lambda m: None)
    assert actions(again) == ["skipped"] * 4
    assert again.scores == scores

    # post-processing only: the probabilities are reused, only evaluate runs
    rescored = run_demo(
        out,
        demo_config(overrides=[*TINY, "evaluate.threshold=0.9"]),
        device="cpu",
        jobs=1,
        log=lambda m: None,
    )
    assert actions(rescored) == ["skipped", "skipped", "skipped", "resumed"]
    assert rescored.threshold == 0.9

    # one more epoch: training continues from last.pt, then evaluation is redone
    longer = run_demo(
        out,
        demo_config(overrides=[*TINY, "train.epochs=2"]),
        device="cpu",
        jobs=1,
        log=lambda m: None,
    )
    assert actions(longer) == ["skipped", "skipped", "resumed", "built"]
    history = (out / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(h)["epoch"] for h in history] == [1, 2]

    # the command prints the figures and the paths
    args = ["demo", "--out", str(out), "--device", "cpu", "--jobs", "1"]
    args += [a for o in TINY for a in ("--set", o)] + ["--set", "train.epochs=2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "OVLP  sensitivity" in result.output and "TAES  sensitivity" in result.output
    assert f"report: {out / 'eval' / 'report.md'}" in result.output
    assert "scores: " in result.output and "curve:  " in result.output


def test_a_foreign_output_folder_is_refused(tmp_path):
    out = tmp_path / "demo"
    (out / "corpus").mkdir(parents=True)
    (out / "corpus" / "mine.txt").write_text("x")
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 1
    assert "was not made by this pipeline" in result.output
    assert (out / "corpus" / "mine.txt").is_file()
