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
