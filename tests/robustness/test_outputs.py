"""Models, checkpoints and output folders that are never silently wrong.

Issue 12, items 4 (model part), 6, 7, 8 and the checkpoint cases of 10: a model with
non-finite weights was saved and evaluated, an evaluation folder mixed two runs, the hash
recorded was not that of the weights used, ``detect`` dropped warnings and stopped at the
first unreadable input, and weights of another model gave a traceback.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from battery import FAST, processed, processed_with_warning, refused, run, write_edf

from seizure.config import load_config
from seizure.models import ModelStateError, build_model
from seizure.training.checkpoint import (
    CheckpointError,
    NonFiniteModelError,
    load_checkpoint,
    load_model_from_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from seizure.training.errors import NonFiniteLossError

TRAIN = [
    "--config",
    Path(__file__).resolve().parents[2] / "seizure" / "configs" / "train" / "tiny_cpu.yaml",
    *FAST,
    "--set",
    "train.sequence_windows=4",
    "--set",
    "train.batch_size=2",
    "--set",
    "train.epochs=1",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(corpus, cache, best.pt): 6 recordings of 16 s (4 train, 2 dev), one tiny epoch."""
    root = tmp_path_factory.mktemp("outputs")
    corpus = root / "corpus"
    for seed, rid in enumerate(["pa_r1", "pa_r2", "pb_r1", "pc_r1", "pd_r1", "pe_r1"]):
        write_edf(corpus / f"{rid}.edf", seed=seed, seconds=16)
    cache = root / "cache"
    processed(run("preprocess", corpus, cache, *FAST))
    processed(run("train", cache, root / "run", *TRAIN))
    return corpus, cache, root / "run" / "best.pt"


def _poisoned(checkpoint: Path, dest: Path, value: float = float("nan")) -> Path:
    """A copy of ``checkpoint`` whose first weight tensor holds ``value`` everywhere.

    Written with ``torch.save``: :func:`save_checkpoint` refuses such a model.
    """
    state = load_checkpoint(checkpoint)
    name = next(iter(state["model"]))
    state["model"][name] = torch.full_like(state["model"][name], value)
    torch.save(state, dest)
    return dest


def _other_size(checkpoint: Path, dest: Path) -> Path:
    """A copy of ``checkpoint`` holding the weights of a model with another hidden size."""
    state = load_checkpoint(checkpoint)
    config = load_config([], ["model.hidden_size=8"], base=state["config"])
    other = build_model(config.model, tuple(state["window_shape"]))
    state["model"] = other.state_dict()
    save_checkpoint(dest, state)
    return dest


# ---- item 4: a non-finite model is never saved, evaluated or analysed


def test_save_checkpoint_refuses_non_finite_weights_and_keeps_the_previous_file(tmp_path):
    model = torch.nn.Linear(3, 2)
    good = {"model": model.state_dict(), "config": {}, "window_shape": [3], "epoch": 0}
    path = tmp_path / "last.pt"
    save_checkpoint(path, {**good, "step": 4})
    before = path.read_bytes()
    with torch.no_grad():
        model.weight[0, :2] = float("inf")
        model.bias[1] = float("nan")
    with pytest.raises(NonFiniteModelError) as info:
        save_checkpoint(path, {**good, "model": model.state_dict(), "step": 7})
    message = str(info.value)
    assert message.startswith(f"{path}: not written: the model holds 3 non-finite")
    assert "of 8 after step 7 (first in weight)" in message
    assert isinstance(info.value, NonFiniteLossError)  # the loop reports both alike
    assert info.value.exit_code == 1
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_training_that_makes_the_weights_infinite_saves_no_checkpoint(trained, tmp_path):
    from seizure.training.loop import train

    _, cache, _ = trained
    config = load_config([TRAIN[1]], [*TRAIN[3::2], "train.checkpoint_every_steps=2"])

    def poison(step):  # an update that overflows, just before last.pt is written at step 2
        if step.step == 2:
            with torch.no_grad():
                next(step.model.parameters()).fill_(float("inf"))

    with pytest.raises(NonFiniteLossError, match=r"last\.pt: not written: .* after step 2"):
        train(config, cache, tmp_path / "run", device="cpu", callbacks=[poison])
    assert not (tmp_path / "run" / "best.pt").exists()
    assert not (tmp_path / "run" / "last.pt").exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "non-finite" in summary["error"]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_evaluate_refuses_a_checkpoint_with_non_finite_weights(trained, tmp_path, value):
    _, cache, best = trained
    bad = _poisoned(best, tmp_path / "bad.pt", value)
    with pytest.raises(CheckpointError, match=r"bad\.pt: the model's weights hold \d[\d,]* non"):
        load_model_from_checkpoint(bad)
    refused(
        run("evaluate", bad, cache, tmp_path / "o", "--split", "dev", "--device", "cpu"),
        1,
        r"Error: .*bad\.pt: the model's weights hold [\d,]+ non-finite values",
    )
    assert not (tmp_path / "o" / "scores.json").exists()


def test_timescale_refuses_non_finite_weights(trained, tmp_path):
    _, _, best = trained
    bad = _poisoned(best, tmp_path / "bad.pt")
    refused(
        run("timescale", "--checkpoint", bad, "--steps", 10, "--jacobian-steps", 0),
        1,
        r"bad\.pt: the model's weights hold [\d,]+ non-finite values",
    )


# ---- item 10: weights of another model, cell or size give a named error


def test_weights_of_another_size_are_refused_naming_the_file(trained, tmp_path):
    _, cache, best = trained
    other = _other_size(best, tmp_path / "other.pt")
    with pytest.raises(ModelStateError, match=r"other\.pt: the weights do not fit"):
        load_model_from_checkpoint(other)
    refused(
        run("timescale", "--checkpoint", other, "--steps", 10, "--jacobian-steps", 0),
        1,
        r"other\.pt: the weights do not fit.*shapes that differ",
    )
    refused(
        run("evaluate", other, cache, tmp_path / "o", "--split", "dev", "--device", "cpu"),
        1,
        r"other\.pt: the weights do not fit",
    )


def test_resume_from_weights_of_another_size_is_refused_naming_the_file(trained, tmp_path):
    _, cache, _ = trained
    run_dir = tmp_path / "run"
    processed(run("train", cache, run_dir, *TRAIN, "--set", "train.max_steps=2"))
    last = run_dir / "last.pt"
    _other_size(last, last)
    refused(
        run("train", cache, run_dir, *TRAIN, "--resume"),
        1,
        r"last\.pt: the weights do not fit.*shapes that differ",
    )


# ---- item 6: an evaluation folder describes one run


def _evaluate(best: Path, cache: Path, out: Path, split: str, *extra: str):
    return run("evaluate", best, cache, out, "--split", split, "--device", "cpu", *extra,
               "--set", "evaluate.sweep_points=3")  # fmt: skip


def test_a_second_evaluation_into_one_folder_replaces_the_first(trained, tmp_path):
    _, cache, best = trained
    out = tmp_path / "o"
    processed(_evaluate(best, cache, out, "train"))
    assert len(list((out / "hyp").glob("*.csv_bi"))) == 4
    (out / "notes.txt").write_text("mine")  # a file of the user's: never removed
    processed(_evaluate(best, cache, out, "dev"))
    scores = json.loads((out / "scores.json").read_text())
    hyps = sorted(p.stem for p in (out / "hyp").glob("*.csv_bi"))
    assert hyps == sorted(p.stem for p in (out / "ref").glob("*.csv_bi")) == ["pc_r1", "pe_r1"]
    assert scores["files"] == 2
    assert sorted(p.stem for p in (out / "probs").glob("*.npy")) == ["pc_r1", "pe_r1"]
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["complete"] is True and summary["split"] == "dev"
    assert (out / "notes.txt").read_text() == "mine"


def test_a_run_killed_during_the_report_leaves_an_incomplete_folder(trained, tmp_path, monkeypatch):
    import seizure.evaluation.evaluate as E
    from seizure.evaluation.evaluate import evaluate

    _, cache, best = trained
    out = tmp_path / "o"
    evaluate(best, cache, out, split="train", device="cpu", overrides=["evaluate.sweep_points=3"])

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # as a SIGTERM turned into an exception would

    monkeypatch.setattr(E, "write_report", killed)
    with pytest.raises(KeyboardInterrupt):
        evaluate(best, cache, out, split="dev", device="cpu", overrides=["evaluate.sweep_points=3"])
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["complete"] is False and summary["split"] == "dev"
    assert not (out / "report.md").exists()  # the first run's report is not left beside
    assert sorted(p.stem for p in (out / "hyp").glob("*.csv_bi")) == ["pc_r1", "pe_r1"]


def test_reuse_probs_keeps_matching_probabilities_only(trained, tmp_path):
    _, cache, best = trained
    out = tmp_path / "o"
    processed(_evaluate(best, cache, out, "dev"))
    stamp = {p.name: p.stat().st_mtime_ns for p in (out / "probs").iterdir()}
    result = processed(_evaluate(best, cache, out, "dev", "--reuse-probs"))
    assert "reusing probabilities" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in (out / "probs").iterdir()} == stamp
    # probabilities of another split are not reused, and not left beside the new ones
    result = processed(_evaluate(best, cache, out, "train", "--reuse-probs"))
    assert "reusing probabilities" not in result.output
    assert len(list((out / "probs").glob("*.npy"))) == 4


def test_evaluation_folder_must_be_ours_and_no_input(trained, tmp_path):
    _, cache, best = trained
    foreign = tmp_path / "papers"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    refused(_evaluate(best, cache, foreign, "dev"), 2, r"papers: this evaluation folder is not")
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]
    before = sorted(p.name for p in cache.rglob("*"))
    refused(_evaluate(best, cache, cache, "dev"), 2, r"would be the input")
    refused(_evaluate(best, cache, best.parent, "dev"), 2, r"would contain the input")
    assert sorted(p.name for p in cache.rglob("*")) == before


# ---- item 7: the hash recorded is that of the weights used


def test_the_recorded_hash_is_that_of_the_weights_used(trained, tmp_path, monkeypatch):
    import numpy as np

    import seizure.evaluation.evaluate as E

    _, cache, best = trained
    ckpt = tmp_path / "last.pt"
    shutil.copy(best, ckpt)
    sha_a = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    E.evaluate(best, cache, tmp_path / "a", split="dev", device="cpu",
               overrides=["evaluate.sweep_points=3"])  # fmt: skip
    # training replaces last.pt (a rename) just after evaluate has read it
    state = load_checkpoint(best)
    state["model"] = {k: v * 0.5 for k, v in state["model"].items()}
    real = E.resolve_evaluation_config

    def rewritten(*args, **kwargs):
        save_checkpoint(ckpt, state)
        return real(*args, **kwargs)

    monkeypatch.setattr(E, "resolve_evaluation_config", rewritten)
    E.evaluate(ckpt, cache, tmp_path / "b", split="dev", device="cpu",
               overrides=["evaluate.sweep_points=3"])  # fmt: skip
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() != sha_a  # it was replaced
    summary = json.loads((tmp_path / "b" / "evaluation.json").read_text())
    assert summary["checkpoint_sha256"] == sha_a
    for rid in ("pc_r1", "pe_r1"):  # and the weights are those of that file
        np.testing.assert_array_equal(
            np.load(tmp_path / "b" / "probs" / f"{rid}.npy"),
            np.load(tmp_path / "a" / "probs" / f"{rid}.npy"),
        )


def test_read_checkpoint_hashes_the_bytes_it_loads(trained):
    _, _, best = trained
    state, sha = read_checkpoint(best)
    assert sha == hashlib.sha256(best.read_bytes()).hexdigest()
    assert state["format"] == "seizure-checkpoint"


# ---- item 8: detect shows warnings, and processes every input


def _truncated(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(data) // 4])  # the last quarter of the records
    return path


def test_detect_shows_the_warnings_of_a_truncated_file(trained, tmp_path):
    _, _, best = trained
    edf = _truncated(write_edf(tmp_path / "in" / "cut.edf", seconds=16))
    out = tmp_path / "o"
    result = processed_with_warning(
        run("detect", best, edf, "--out", out, "--device", "cpu"),
        r"cut\.edf: \d+ seizures?, .*\(1 warning\)\n  warning: .*cut\.edf: .*"
        r"1 of 1 recordings processed; .*1 with warnings",
    )
    assert "Traceback" not in result.output
    (entry,) = json.loads((out / "detection.json").read_text())["results"]
    assert entry["ok"] and len(entry["warnings"]) == 1 and "cut.edf" in entry["warnings"][0]


def test_detect_processes_every_input_and_exits_1_at_the_end(trained, tmp_path):
    corpus, _, best = trained
    bad = tmp_path / "in" / "bad.edf"
    bad.parent.mkdir()
    bad.write_bytes(b"not an EDF")
    loop_a, loop_b = tmp_path / "in" / "a.edf", tmp_path / "in" / "b.edf"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    missing = tmp_path / "nowhere.edf"
    good = corpus / "pa_r1.edf"
    out = tmp_path / "o"
    result = refused(
        run("detect", best, missing, bad, loop_a, good, "--out", out, "--device", "cpu"),
        1,
        r"1 of 4 recordings processed.*3 failed",
    )
    for name in ("nowhere.edf", "bad.edf", "a.edf"):
        assert f"failed: {tmp_path}" in result.output and f"{name}:" in result.output
    assert (out / "pa_r1.csv_bi").is_file() and (out / "pa_r1.tsv").is_file()
    marker = json.loads((out / "detection.json").read_text())
    assert marker["complete"] is True and marker["failed"] == 3
    assert [r["ok"] for r in marker["results"]] == [False, False, False, True]


def test_detect_leaves_no_annotation_of_an_earlier_run(trained, tmp_path):
    _, _, best = trained
    edf = write_edf(tmp_path / "in" / "rec.edf", seconds=16)
    out = tmp_path / "o"
    processed(run("detect", best, edf, "--out", out, "--device", "cpu", "--save-probs"))
    assert (out / "rec.csv_bi").is_file() and (out / "rec.probs.npy").is_file()
    edf.write_bytes(b"broken since")
    refused(run("detect", best, edf, "--out", out, "--device", "cpu"), 1, r"1 failed")
    assert not list(out.glob("rec.*")), "an earlier run's annotation would pass for this one's"
    assert json.loads((out / "detection.json").read_text())["failed"] == 1


def test_detect_refuses_a_foreign_folder_and_its_inputs_folder(trained, tmp_path):
    corpus, _, best = trained
    before = sorted(p.name for p in corpus.iterdir())
    # the corpus's .csv_bi references would be overwritten by the detections
    refused(run("detect", best, corpus, "--out", corpus, "--device", "cpu"), 2, "would be")
    foreign = tmp_path / "papers"
    foreign.mkdir()
    (foreign / "a.tsv").write_text("my table")
    refused(
        run("detect", best, corpus / "pa_r1.edf", "--out", foreign, "--device", "cpu"),
        2,
        r"papers: this detection folder is not empty and was not written by seizure detect",
    )
    assert (foreign / "a.tsv").read_text() == "my table"
    assert sorted(p.name for p in corpus.iterdir()) == before
