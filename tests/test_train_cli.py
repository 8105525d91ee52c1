"""``seizure train`` from the command line: outputs, refusals, exit codes, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from seizure.cli import main
from seizure.training.checkpoint import load_checkpoint
from seizure.training.fakes import write_random_cache

SMALL = [
    "preprocess.sample_rate_hz=32",
    "preprocess.bandpass_hz=null",
    "preprocess.notch_hz=null",
    "model.hidden_size=8",
    "model.num_layers=1",
    "model.conv_channels=[8,8]",
    "model.conv_kernels=[3,3]",
    "train.batch_size=4",
    "train.sequence_windows=8",
    "train.num_workers=1",
    "train.cpu_threads=1",
]


def sets(*items):
    return [arg for item in (*SMALL, *items) for arg in ("--set", item)]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return write_random_cache(
        tmp_path_factory.mktemp("cache"), splits={"train": 4, "dev": 2}, windows_per_recording=48
    )


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_importing_the_command_does_not_import_torch():
    code = "import sys, seizure.cli.train; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_help_lists_the_options():
    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    for text in ("CACHE RUN_DIR", "--config", "--set", "--resume", "--device", "torchrun"):
        assert text in result.output


def test_train_then_resume_for_more_epochs(cache, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(cache.path), str(out), *sets("train.epochs=1")])
    assert result.exit_code == 0, result.output
    assert "completed: 1 epoch(s)" in result.output
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"

    result = CliRunner().invoke(main, ["train", str(cache.path), str(out), *sets("train.epochs=1")])
    assert result.exit_code == 2 and "not empty; pass --resume" in result.output

    result = CliRunner().invoke(
        main, ["train", str(cache.path), str(out), "--resume", "--set", "train.epochs=2"]
    )
    assert result.exit_code == 0, result.output
    assert load_checkpoint(out / "last.pt")["epoch"] == 2


def test_mismatched_cache_exits_1_naming_the_keys(cache, tmp_path):
    args = ["train", str(cache.path), str(tmp_path / "r"), *sets("preprocess.sample_rate_hz=64")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "sample_rate_hz: cache 32.0, config 64.0" in result.output


def test_folder_that_is_not_a_cache_exits_1_with_a_message(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["train", str(tmp_path / "empty"), str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "not a seizure cache" in result.output
    assert "Traceback" not in result.output


def test_bad_override_is_a_usage_error(cache, tmp_path):
    result = CliRunner().invoke(
        main, ["train", str(cache.path), str(tmp_path / "r"), "--set", "train.optimizer=lbfgs"]
    )
    assert result.exit_code == 2
    assert "allowed values are 'adam', 'adamw', 'sgd'" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-CUDA message")
def test_cuda_without_cuda_is_refused(cache, tmp_path):
    args = ["train", str(cache.path), str(tmp_path / "r"), "--device", "cuda", *sets()]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "--device cuda was asked but CUDA is not available" in result.output
    assert not (tmp_path / "r").exists()


def test_sigterm_saves_and_exits_143(cache, tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "seizure", "train", str(cache.path), str(out),
            *sets("train.epochs=1000")]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "metrics.jsonl").exists():  # wait for the first epoch to end
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no epoch finished within 60 s"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "SIGTERM: stopped after" in stderr and "--resume" in stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"
    assert load_checkpoint(out / "last.pt")["step"] >= 1


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.parametrize("name", ["slurm_train.sh", "slurm_array.sh"])
def test_slurm_scripts_parse(name):
    subprocess.run(["bash", "-n", str(SCRIPTS / name)], check=True)


def test_slurm_array_runs_the_task_line(tmp_path):
    grid = tmp_path / "grid.txt"
    grid.write_text(
        "# name then options\n\n"
        "first --set train.epochs=1\n"
        "second --config train/h100 --set model.cell=gru\n"
    )
    stub = tmp_path / "python"
    stub.write_text('#!/usr/bin/env bash\necho "ARGS $*"\n')
    stub.chmod(0o755)
    env = {**os.environ, "SEIZURE_PYTHON": str(stub), "SLURM_ARRAY_TASK_ID": "1"}
    env.pop("SLURM_JOB_ID", None)
    args = ["bash", str(SCRIPTS / "slurm_array.sh"), "CACHE", str(tmp_path / "runs"), str(grid)]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    expected = (
        f"ARGS -m seizure train CACHE {tmp_path / 'runs' / 'second'} --resume --device cuda "
        "--config train/h100 --set model.cell=gru"
    )
    assert expected in out
    env["SLURM_ARRAY_TASK_ID"] = "2"
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "has no line 3" in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
def test_gpu_present_but_unusable_is_reported(monkeypatch):
    from seizure.inference import device as devices
    from seizure.training import distributed

    monkeypatch.setattr(devices.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    device = devices.resolve_device("auto", local_rank=0)
    notes = distributed.device_notes("auto", device)
    assert device.type == "cpu"
    assert len(notes) == 1 and "NVIDIA GPU seems present but PyTorch" in notes[0]
    with pytest.raises(devices.DeviceError, match="install a CUDA build of PyTorch"):
        devices.resolve_device("cuda", local_rank=0)
