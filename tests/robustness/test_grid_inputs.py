"""Bad inputs to ``seizure experiment`` (--parallel, quick.only) and critical_xi: auto."""

from __future__ import annotations

from pathlib import Path

from battery import FAST, processed, refused, run

GRID = "base:\n  set: [train.epochs=1]\nruns:\n  a: []\n  b: [model.cell=gru]\n"


def _cache(flat_corpus: Path, tmp_path: Path) -> Path:
    processed(run("preprocess", flat_corpus, tmp_path / "cache", *FAST))
    return tmp_path / "cache"


def test_parallel_zero_is_refused_before_any_run(flat_corpus, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    cache = _cache(flat_corpus, tmp_path)
    refused(run("experiment", grid, cache, tmp_path / "out", "--parallel", 0), 2,
            r"--parallel.*0")  # fmt: skip
    refused(run("experiment", grid, cache, tmp_path / "out", "--parallel", "two"), 2,
            r"--parallel.*two")  # fmt: skip
    assert not (tmp_path / "out" / "runs").exists()


def test_quick_only_naming_no_cell_is_refused_with_the_cells(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID + "quick:\n  only: [c]\n")
    refused(run("experiment", grid, "--list", "--quick"), 2,
            r"quick\.only: no cell matches 'c'; the cells are a, b")  # fmt: skip


def test_auto_timescale_with_a_one_window_sequence_is_refused(tmp_path):
    result = run("timescale", "--config", "models/minimal_critical", "--set",
                 "train.sequence_windows=1")  # fmt: skip
    refused(result, 2, r"critical_xi: auto.*train\.sequence_windows.*>= 2, got 1")
