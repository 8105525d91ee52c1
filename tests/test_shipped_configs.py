"""The configs shipped as package data and ``--config NAME``: name resolution, the refusals,
the wheel's contents and an installed (non-editable) package run outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from seizure.cli import main
from seizure.config import (
    SHIPPED_CONFIG_DIR,
    ConfigError,
    load_config,
    resolve_config_path,
    shipped_configs,
    to_dict,
)
from seizure.pipelines.experiment import expand_grid, load_grid

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "seizure" / "configs"
ON_DISK = sorted(p.relative_to(CONFIG_DIR).as_posix() for p in CONFIG_DIR.rglob("*.yaml"))


def test_shipped_configs_are_the_yaml_files_of_seizure_configs():
    assert SHIPPED_CONFIG_DIR == CONFIG_DIR
    assert len(ON_DISK) >= 20
    assert shipped_configs() == sorted(name.removesuffix(".yaml") for name in ON_DISK)
    for name in ("demo", "preprocess/tcp_lfcc", "train/h100", "experiments/paper"):
        assert name in shipped_configs()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("tcp_lfcc", "preprocess/tcp_lfcc.yaml"),  # a bare name, found in its section
        ("tcp_lfcc.yaml", "preprocess/tcp_lfcc.yaml"),
        ("h100", "train/h100.yaml"),
        ("demo", "demo.yaml"),  # the one config at the top
        ("train/h100", "train/h100.yaml"),  # section/name
        ("preprocess/tcp_lfcc.yaml", "preprocess/tcp_lfcc.yaml"),
        ("configs/train/h100.yaml", "train/h100.yaml"),  # the documented repository path
        ("./configs/models/cnn_lstm.yaml", "models/cnn_lstm.yaml"),
        ("configs/demo.yaml", "demo.yaml"),
        ("experiments/paper", "experiments/paper.yaml"),
    ],
)
def test_names_resolve_to_shipped_files(spec, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the repository: nothing on disk by these names
    assert resolve_config_path(spec) == CONFIG_DIR / expected


def test_a_file_on_disk_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = tmp_path / "configs" / "train" / "h100.yaml"
    local.parent.mkdir(parents=True)
    local.write_text("train: {epochs: 3}\n")
    assert resolve_config_path("configs/train/h100.yaml") == Path("configs/train/h100.yaml")
    assert load_config(["configs/train/h100.yaml"]).train.epochs == 3
    assert resolve_config_path(local) == local
    # the shipped one is still there by name
    assert resolve_config_path("train/h100") == CONFIG_DIR / "train" / "h100.yaml"


def test_an_ambiguous_bare_name_lists_the_candidates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        resolve_config_path("default")
    message = str(err.value)
    assert "ambiguous" in message
    for candidate in ("evaluate/default", "synth/default", "train/default"):
        assert candidate in message


@pytest.mark.parametrize(
    "spec",
    [
        "nope",
        "train/nope",
        "configs/train/nope.yaml",
        "../configs/train/h100.yaml",
        "/no/such.yaml",
    ],
)
def test_an_unknown_name_lists_the_shipped_configs(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        resolve_config_path(spec)
    message = str(err.value)
    assert f"{spec!r} does not exist" in message
    assert "shipped configs: " in message
    assert all(name in message for name in shipped_configs())


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        resolve_config_path(tmp_path)


def test_load_config_takes_names_and_paths_alike(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_path = load_config([CONFIG_DIR / "train" / "tiny_cpu.yaml"], ["train.epochs=2"])
    for spec in ("tiny_cpu", "train/tiny_cpu", "configs/train/tiny_cpu.yaml"):
        assert to_dict(load_config([spec], ["train.epochs=2"])) == to_dict(by_path)
    assert load_config("tcp_lfcc").preprocess.features == "lfcc"


@pytest.mark.parametrize("name", [n for n in shipped_configs() if not n.startswith("experiments/")])
def test_every_shipped_config_loads_by_name(name):
    load_config([name])


@pytest.mark.parametrize("name", [n for n in shipped_configs() if n.startswith("experiments/")])
def test_every_shipped_grid_expands(name):
    runs = expand_grid(load_grid(resolve_config_path(name)))
    assert runs and len({r.name for r in runs}) == len(runs)


def test_cli_config_by_name_and_the_refusals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["timescale", "--config", "minimal_critical", "--json"])
    assert result.exit_code == 0, result.output
    assert '"minimal' in result.output

    result = runner.invoke(main, ["timescale", "--config", "no_such_config"])
    assert result.exit_code == 2
    assert "Invalid value for '--config'" in result.output
    assert "shipped configs: demo, evaluate/default" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(main, ["timescale", "--config", "default"])
    assert result.exit_code == 2
    assert "ambiguous" in result.output and "train/default" in result.output


def test_experiment_takes_a_shipped_grid_by_name_or_repository_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    listed = [
        runner.invoke(main, ["experiment", spec, "--list"])
        for spec in ("experiments/paper", "paper", "configs/experiments/paper.yaml")
    ]
    for result in listed:
        assert result.exit_code == 0, result.output
    assert listed[0].output == listed[1].output == listed[2].output
    assert "init-orthogonal__cell-lstm" in listed[0].output
    bad = runner.invoke(main, ["experiment", "experiments/nope", "--list"])
    assert bad.exit_code == 2 and "shipped configs" in bad.output


def test_help_says_how_to_name_a_shipped_config():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"]).output
    assert "--config tcp_lfcc" in top and "--config train/h100" in top
    for command in ("preprocess", "train", "evaluate", "synth", "timescale"):
        text = " ".join(runner.invoke(main, [command, "--help"]).output.split())
        assert "--config FILE|NAME" in text, command
        assert "shipped with the package by name" in text, command


# ---------------------------------------------------------------------------- the wheel


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources (no build/ or egg-info in the checkout)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "seizure", src / "seizure", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheel"
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation"]
    proc = subprocess.run([*cmd, "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("seizure_pipeline-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("build"))


def test_the_wheel_ships_every_config(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.removeprefix("seizure/configs/") for n in names if n.endswith(".yaml"))
    assert shipped == ON_DISK
    assert all(f"seizure/configs/{n}" in names for n in ON_DISK)
    assert "seizure/py.typed" in names
    assert not any(n.startswith(("tests/", "configs/")) for n in names)


@pytest.mark.slow
def test_an_installed_wheel_runs_synth_preprocess_and_plot_outside_the_repository(wheel, tmp_path):
    """A fresh venv holding only the wheel (not editable); its dependencies come from this
    interpreter's site-packages through a ``.pth`` file, which does not run the ``.pth`` files
    there (so the editable install of the checkout stays out of sight)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    proc = subprocess.run([*install, str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    seizure = [str(venv / "bin" / "seizure")]

    def run(*args: str) -> str:
        proc = subprocess.run(
            [*seizure, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    where = subprocess.run(
        [str(python), "-c", "import seizure.config as c; print(c.SHIPPED_CONFIG_DIR)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where) == Path(site) / "seizure" / "configs"  # the installed copy

    run("synth", "corpus", "--hours", "0.1", "--patients", "3", "--seed", "7", "--config", "tiny")
    out = run("preprocess", "corpus", "cache", "--config", "tcp_lfcc")
    assert "lfcc windows" in out
    assert (work / "cache" / "cache.json").is_file()
    assert "features: lfcc" in (work / "cache" / "config.yaml").read_text()
    # the repository path of the documentation works too
    run("preprocess", "corpus", "cache", "--config", "configs/preprocess/tcp_lfcc.yaml")
    # and a picture of a recording with its reference annotations
    edf = sorted((work / "corpus").rglob("*.edf"))[0]
    run("plot", str(edf), "--ref", str(edf.with_suffix(".csv_bi")), "--span", "20", "--out",
        "snap.png")  # fmt: skip
    assert (work / "snap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
