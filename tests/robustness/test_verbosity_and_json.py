"""``-v``/``-q`` and ``--json FILE`` given wrongly, and runs that fail with ``--json``.

Issue 13 ("Installed like a library", logging): a pipeline reads the ``--json`` file instead
of parsing text, so a failed run must leave a file saying so (never an earlier run's), and
a file the command would itself clear or refuse is rejected up front.
"""

from __future__ import annotations

import json
import logging

import pytest
from battery import refused, run

from seizure.utils.log import LOGGER_NAME


@pytest.fixture(autouse=True)
def restore_logging():
    logger = logging.getLogger(LOGGER_NAME)
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.fixture
def not_a_checkpoint(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"not a checkpoint")
    return path


def test_verbose_and_quiet_together_are_a_usage_error(tmp_path):
    refused(run("-v", "-q", "info", tmp_path), 2, r"-v/--verbose and -q/--quiet exclude")


@pytest.mark.parametrize("command", ["detect", "evaluate", "train"])
def test_json_file_inside_the_output_folder_is_refused(command, tmp_path, not_a_checkpoint):
    out = tmp_path / "out"
    inside = out / "summary.json"
    args = {
        "detect": ["detect", not_a_checkpoint, tmp_path, "--out", out],
        "evaluate": ["evaluate", not_a_checkpoint, tmp_path, out],
        "train": ["train", tmp_path, out],
    }[command]
    refused(run(*args, "--json", inside), 2, r"Invalid value for '--json'.*inside")
    assert not out.exists()  # refused before anything was written


def test_a_run_that_fails_writes_the_error_and_replaces_an_old_summary(tmp_path, not_a_checkpoint):
    summary = tmp_path / "detect.json"
    summary.write_text('{"outcome": "ok"}\n')  # an earlier run's
    edf = tmp_path / "a.edf"
    edf.write_bytes(b"0")
    result = run("detect", not_a_checkpoint, edf, "--out", tmp_path / "o", "--json", summary)
    refused(result, 1, r"Error: .*best\.pt")
    data = json.loads(summary.read_text())
    assert data["command"] == "detect" and data["outcome"] == "error"
    assert data["exit_code"] == 1 and "best.pt" in data["error"]


def test_a_config_error_is_written_with_exit_status_2(tmp_path):
    summary = tmp_path / "train.json"
    result = run("train", tmp_path, tmp_path / "run", "--set", "train.epochs=-1", "--json", summary)
    refused(result, 2, r"train\.epochs")
    data = json.loads(summary.read_text())
    assert data["outcome"] == "error" and data["exit_code"] == 2 and "train.epochs" in data["error"]
