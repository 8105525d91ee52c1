"""Logging and machine-readable summaries: ``-v``/``-q``, the ``seizure`` loggers, ``--json``.

The library logs to ``seizure.*`` loggers instead of printing; the command group installs one
stderr handler whose level ``-q`` (WARNING) and ``-v`` (DEBUG) set. Results stay on stdout.
"""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from test_detect_cli import write_edf
from test_evaluate_pipeline import make_cache, make_checkpoint, power_factory
from test_train_cli import sets

from seizure.cli import main
from seizure.evaluation.detect import detect
from seizure.evaluation.evaluate import evaluate
from seizure.training.fakes import write_random_cache
from seizure.training.loop import train
from seizure.utils.log import (
    LOGGER_NAME,
    ShortFormatter,
    StderrHandler,
    Stopwatch,
    configure_logging,
    quiet_requested,
)
from seizure.utils.progress import progress


@pytest.fixture(autouse=True)
def restore_logging():
    """Leave the ``seizure`` logger as this module found it."""
    logger = logging.getLogger(LOGGER_NAME)
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture(scope="module")
def edfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logging")
    ckpt = make_checkpoint(root / "best.pt")
    write_edf(root / "edf" / "a.edf", 120, [(40, 70)])
    return root, ckpt, root / "edf" / "a.edf"


@pytest.fixture
def stand_in_model(monkeypatch):
    import seizure.evaluation.detect as detect_module
    import seizure.evaluation.probabilities as evaluate_module
    import seizure.training.checkpoint as checkpoint_module

    real = checkpoint_module.load_model_from_checkpoint

    def load(path, device="cpu", model_factory=None, **kw):
        return real(path, device, power_factory, **kw)

    monkeypatch.setattr(detect_module, "load_model_from_checkpoint", load)
    monkeypatch.setattr(evaluate_module, "load_model_from_checkpoint", load)


# ------------------------------------------------------------------ the logging module


def test_configure_logging_installs_one_handler_and_sets_the_level():
    logger = configure_logging(logging.WARNING)
    configure_logging(logging.DEBUG)
    assert logger is logging.getLogger("seizure")
    assert logger.level == logging.DEBUG
    assert sum(isinstance(h, StderrHandler) for h in logger.handlers) == 1
    assert logger.propagate  # an application's root handlers still see the records


def test_short_format_prefixes_every_level_but_info():
    fmt = ShortFormatter()

    def record(level):
        return logging.LogRecord("seizure.x", level, __file__, 1, "a %s", ("b",), None)

    assert fmt.format(record(logging.INFO)) == "a b"
    assert fmt.format(record(logging.DEBUG)) == "debug: a b"
    assert fmt.format(record(logging.WARNING)) == "warning: a b"


def test_stderr_handler_writes_to_the_current_stderr(capsys):
    configure_logging(logging.INFO)
    logging.getLogger("seizure.somewhere").info("hello")
    logging.getLogger("seizure.somewhere").debug("hidden")
    assert capsys.readouterr().err == "hello\n"


def test_stopwatch_logs_each_stage_at_debug(caplog):
    clock = Stopwatch(logging.getLogger("seizure.test"))
    with caplog.at_level(logging.DEBUG, logger="seizure"):
        seconds = clock.lap("stage one")
        clock.lap("stage two")
    assert seconds >= 0
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.DEBUG]
    assert caplog.records[0].getMessage().startswith("stage one: ")
    assert caplog.records[1].getMessage().endswith(" s")


def test_quiet_hides_progress_bars_even_when_forced_by_the_environment(monkeypatch):
    monkeypatch.setenv("SEIZURE_PROGRESS", "1")
    configure_logging(logging.INFO)
    assert not quiet_requested()
    with progress(total=3) as bar:
        assert not bar.disable
    configure_logging(logging.WARNING)
    assert quiet_requested()
    with progress(total=3) as bar:
        assert bar.disable
    with progress(total=3, disable=False) as bar:  # an explicit --progress still wins
        assert not bar.disable


# ------------------------------------------------------------------ the library logs


def test_detect_logs_each_recording_to_the_seizure_logger(edfs, tmp_path, caplog):
    _, ckpt, edf = edfs
    with caplog.at_level(logging.DEBUG, logger="seizure"):
        detect(ckpt, [edf], tmp_path / "out", device="cpu", model_factory=power_factory)
    lines = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert any(
        n == "seizure.evaluation.detect" and lv == logging.INFO and "1 seizure" in m
        for n, lv, m in lines
    ), lines
    stages = [m for n, lv, m in lines if lv == logging.DEBUG and m.startswith("a: ")]
    assert [s.split(":")[1].strip() for s in stages] == [
        "reading and preprocessing",
        "model",
        "post-processing and writing",
    ]


def test_evaluate_logs_its_stages_to_the_seizure_logger(tmp_path, caplog):
    cache = make_cache(tmp_path / "cache")
    ckpt = make_checkpoint(tmp_path / "best.pt")
    with caplog.at_level(logging.DEBUG, logger="seizure"):
        evaluate(ckpt, cache, tmp_path / "out", device="cpu", model_factory=power_factory)
    ours = [r for r in caplog.records if r.name == "seizure.evaluation.evaluate"]
    info = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in ours if r.levelno == logging.DEBUG]
    assert any(m.startswith("sweeping ") for m in info)
    assert any(m.startswith("wrote ") and m.endswith("report.md") for m in info)
    assert any(m.startswith("threshold sweep and operating points: ") for m in debug)
    assert any(m.startswith("curve plot and report: ") for m in debug)


def test_train_logs_its_epochs_to_the_seizure_logger(tmp_path, caplog):
    from seizure.cli.common import resolve_config

    cache = write_random_cache(tmp_path / "cache", splits={"train": 2}, windows_per_recording=48)
    config = resolve_config([], [a for a in sets("train.epochs=1") if a != "--set"])
    with caplog.at_level(logging.INFO, logger="seizure"):
        train(config, cache, tmp_path / "run", device="cpu")
    names = {r.name for r in caplog.records}
    assert "seizure.training.loop" in names
    assert any("no dev split" in r.getMessage() for r in caplog.records)


def test_a_callback_still_receives_the_lines(edfs, tmp_path, caplog):
    _, ckpt, edf = edfs
    got: list[str] = []
    with caplog.at_level(logging.INFO, logger="seizure"):
        detect(ckpt, [edf], tmp_path / "o", model_factory=power_factory, log=got.append)
    assert len(got) == 1 and "1 seizure" in got[0]
    assert not [r for r in caplog.records if r.levelno == logging.INFO]


# ------------------------------------------------------------------ -v, -q and --json


def test_quiet_keeps_only_the_results(edfs, tmp_path, stand_in_model, monkeypatch):
    _, ckpt, edf = edfs
    monkeypatch.setenv("SEIZURE_PROGRESS", "1")  # a bar would be drawn without -q
    args = ["detect", str(ckpt), str(edf), "--device", "cpu"]
    loud = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])
    assert loud.exit_code == 0, loud.output
    assert "1 seizure" in loud.stderr and "rec" in loud.stderr  # the line and the bar
    for quiet_args in (["-q", *args], [*args, "-q"], [*args, "--quiet"]):
        quiet = CliRunner().invoke(main, [*quiet_args, "--out", str(tmp_path / "b")])
        assert quiet.exit_code == 0, quiet.output
        assert quiet.stderr == ""
        assert quiet.stdout.startswith("1 of 1 recordings processed")


def test_verbose_adds_debug_lines(edfs, tmp_path, stand_in_model):
    _, ckpt, edf = edfs
    args = ["detect", str(ckpt), str(edf), "--device", "cpu", "--out", str(tmp_path / "o")]
    for verbose_args in (["-v", *args], [*args, "--verbose"]):
        result = CliRunner().invoke(main, verbose_args)
        assert result.exit_code == 0, result.output
        assert "debug: a: model: " in result.stderr
        assert "1 seizure" in result.stderr
    plain = CliRunner().invoke(main, args)
    assert "debug:" not in plain.output


def test_the_flag_after_the_command_wins(edfs, tmp_path, stand_in_model):
    _, ckpt, edf = edfs
    args = ["detect", str(ckpt), str(edf), "--device", "cpu", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, ["-v", *args, "-q"])
    assert result.exit_code == 0 and result.stderr == ""


def test_detect_json_summary(edfs, tmp_path, stand_in_model):
    _, ckpt, edf = edfs
    summary = tmp_path / "detect.json"
    out = tmp_path / "o"
    args = ["detect", str(ckpt), str(edf), str(tmp_path / "gone.edf"), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--device", "cpu", "--json", str(summary)])
    assert result.exit_code == 1
    data = json.loads(summary.read_text())
    assert data["command"] == "detect" and data["outcome"] == "failed" and data["exit_code"] == 1
    assert (data["recordings"], data["processed"], data["failed"]) == (2, 1, 1)
    assert data["seizures"] == 1
    assert data["outputs"]["detection_json"] == str(out / "detection.json")
    written = json.loads((out / "detection.json").read_text())
    assert data["results"] == written["results"]


def test_evaluate_json_summary(tmp_path, stand_in_model):
    cache = make_cache(tmp_path / "cache")
    ckpt = make_checkpoint(tmp_path / "best.pt")
    out, summary = tmp_path / "out", tmp_path / "eval.json"
    args = ["evaluate", str(ckpt), str(cache.path), str(out), "--device", "cpu"]
    args += ["--set", "evaluate.choose_on=none"]  # the fixed threshold the test reads back
    result = CliRunner().invoke(main, [*args, "--json", str(summary)])
    assert result.exit_code == 0, result.output
    data = json.loads(summary.read_text())
    scores = json.loads((out / "scores.json").read_text())
    assert data["command"] == "evaluate" and data["outcome"] == "ok"
    assert data["recordings"] == 5 and data["threshold"] == 0.5
    assert data["figures"]["ovlp"]["sensitivity"] == scores["ovlp"]["sensitivity"] == 1.0
    assert set(data["figures"]) >= {"ovlp", "taes", "szcore_event", "szcore_sample"}
    assert data["scores"] == scores
    assert data["evaluation"] == json.loads((out / "evaluation.json").read_text())
    assert data["outputs"]["report.md"] == str(out / "report.md")


def test_train_json_summary(tmp_path):
    cache = write_random_cache(
        tmp_path / "cache", splits={"train": 4, "dev": 2}, windows_per_recording=48
    )
    run_dir, summary = tmp_path / "run", tmp_path / "train.json"
    args = ["train", str(cache.path), str(run_dir), *sets("train.epochs=1")]
    result = CliRunner().invoke(main, [*args, "--json", str(summary)])
    assert result.exit_code == 0, result.output
    data = json.loads(summary.read_text())
    written = json.loads((run_dir / "summary.json").read_text())
    assert data["command"] == "train" and data["outcome"] == "completed" == written["status"]
    assert (data["exit_code"], data["epochs_completed"], data["best_epoch"]) == (0, 1, 1)
    assert data["best_metric"] == written["best"]["metric"]
    assert data["best_value"] == pytest.approx(written["best"]["value"])
    assert data["summary"] == written
    assert data["last_epoch"]["epoch"] == 1
    assert data["outputs"]["best.pt"] == str(run_dir / "best.pt")
