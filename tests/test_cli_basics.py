from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from seizure.cli import main


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "Usage: seizure" in result.output


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys; from click.testing import CliRunner; from seizure.cli import main;"
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0;"
        "heavy = [m for m in ('torch', 'scipy', 'mne', 'matplotlib', 'numpy') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_subcommands_let_idle_blas_threads_sleep_unless_the_user_says_otherwise():
    code = (
        "import os; from click.testing import CliRunner; from seizure.cli import main;"
        "CliRunner().invoke(main, ['info', '--help']); print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "4"
    env["OPENBLAS_THREAD_TIMEOUT"] = "1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "1"


def test_a_seizure_error_is_one_error_line_with_its_exit_status(tmp_path):
    """The command group maps every SeizureError: exit_code 2 (usage) or 1 (run failed)."""
    runner = CliRunner()
    usage = runner.invoke(main, ["score", str(tmp_path), str(tmp_path), "--set", "evaluate.x=1"])
    assert usage.exit_code == 2
    assert usage.output.startswith("Error: Unknown config key(s) 'x' in 'evaluate'")
    assert "Usage:" not in usage.output and len(usage.output.strip().splitlines()) == 1
    failed = runner.invoke(main, ["info", str(tmp_path)])
    assert failed.exit_code == 1
    assert failed.output.startswith("Error: ") and str(tmp_path) in failed.output
    assert len(failed.output.strip().splitlines()) == 1
