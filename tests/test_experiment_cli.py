"""``seizure experiment`` and ``seizure demo`` on the command line (cheap paths)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from seizure.cli import main
from seizure.models.config import KERAS_INITIALIZERS

ROOT = Path(__file__).resolve().parents[1]
PAPER = str(ROOT / "seizure" / "configs" / "experiments" / "paper.yaml")


def test_list_prints_index_and_name_of_every_run():
    result = CliRunner().invoke(main, ["experiment", PAPER, "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 35 * 3  # 3 seeds per cell; variance_scaling is not a cell
    assert lines[0] == "0\tinit-orthogonal__cell-lstm__seed-0"
    assert lines[-1] == "104\tcnn-only__seed-2"
    n_inits = len(KERAS_INITIALIZERS) - 1
    assert f"{2 * n_inits * 3 - 1}\tinit-he_uniform__cell-gru__seed-2" in lines


def test_list_with_only_renumbers_for_array_indices():
    result = CliRunner().invoke(main, ["experiment", PAPER, "--list", "--only", "*__cell-gru"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 15 * 3  # a cell's pattern selects its seeds
    assert lines[0] == "0\tinit-orthogonal__cell-gru__seed-0"


def test_usage_errors_exit_2_with_the_reason(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["experiment", PAPER, "--list", "--only", "nope"])
    assert result.exit_code == 2 and "no run matches 'nope'" in result.output
    result = runner.invoke(main, ["experiment", PAPER])
    assert result.exit_code == 2 and "CACHE and OUT are required" in result.output
    result = runner.invoke(main, ["experiment", PAPER, "--list", "--set", "model.cell=oak"])
    assert result.exit_code == 2 and "model.cell" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("runs: {a: [nokey]}\n")
    result = runner.invoke(main, ["experiment", str(bad), "--list"])
    assert result.exit_code == 2 and "key=value" in result.output
    result = runner.invoke(main, ["demo", "--set", "train.epochs=0"])
    assert result.exit_code == 2 and "train.epochs" in result.output


def test_help_of_both_commands_imports_nothing_heavy():
    code = (
        "import sys; from click.testing import CliRunner; from seizure.cli import main;"
        "r1 = CliRunner().invoke(main, ['demo', '--help']);"
        "r2 = CliRunner().invoke(main, ['experiment', '--help']);"
        "assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output);"
        "assert 'stage' in r1.output.lower() and '--index' in r2.output;"
        "heavy = [m for m in ('torch', 'numpy', 'scipy', 'matplotlib') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_slurm_script_is_valid_bash_and_uses_index():
    script = ROOT / "scripts" / "slurm_experiment.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert '--index "$SLURM_ARRAY_TASK_ID"' in text and "--collect" in text
