"""Seeds of ``seizure experiment``: mean and sd per cell, the "within the seed spread" mark."""

from __future__ import annotations

import csv
import math
import textwrap
from pathlib import Path

import pytest

from seizure.pipelines import experiment as X
from seizure.pipelines.results import (
    BASELINE_MODEL,
    aggregate_cells,
    mean_sd,
    results_csv,
    results_markdown,
    within_seed_spread,
)


def row(cell: str, seed: int, sens: float | None, fa: float | None, *, ref: str = "",
        status: str = "finished", model: str = "cnn_rnn", reason: str = "") -> dict:  # fmt: skip
    return {
        "run": f"{cell}__seed-{seed}", "grid_cell": cell, "seed": seed,
        "reference_cell": ref, "group": "g", "model_name": model, "init": cell, "status": status,
        "ovlp_sensitivity": sens, "ovlp_specificity": None, "ovlp_fa_per_24h": fa,
        "taes_sensitivity": None, "taes_specificity": None, "taes_fa_per_24h": None,
        "diverged": False, "stalled": False, "epochs": 2, "best_val_metric": None,
        "best_val_epoch": None, "reason": reason,
    }  # fmt: skip


def test_mean_sd_by_hand():
    assert mean_sd([0.5, 0.7, 0.9]) == pytest.approx((0.7, 0.2))  # sd = sqrt(0.08 / 2)
    assert mean_sd([0.5, None, math.nan]) == (0.5, None)
    assert mean_sd([]) == (None, None)


def test_within_seed_spread_uses_the_larger_sd():
    assert within_seed_spread(0.80, 0.05, 0.70, 0.12) is True  # 0.10 < 0.12
    assert within_seed_spread(0.80, 0.05, 0.70, 0.02) is False  # 0.10 >= 0.05
    assert within_seed_spread(0.80, None, 0.70, 0.11) is True
    assert within_seed_spread(0.80, None, 0.70, None) is None
    assert within_seed_spread(None, 0.1, 0.70, 0.1) is None


def test_cells_are_aggregated_and_compared_with_their_reference():
    rows = [
        # reference: sens 0.6, 0.8, 1.0 -> mean 0.8, sd 0.2; FA 3, 6, 9 -> 6, 3
        row("a", 0, 0.6, 3.0), row("a", 1, 0.8, 6.0), row("a", 2, 1.0, 9.0),
        # b: sens 0.9, 0.9, 0.9 (|0.9 - 0.8| < 0.2: ~); FA 20, 21, 22 (|21 - 6| > 3)
        row("b", 0, 0.9, 20.0, ref="a"), row("b", 1, 0.9, 21.0, ref="a"),
        row("b", 2, 0.9, 22.0, ref="a"),
        # c: one seed failed, the two others agree
        row("c", 0, 0.2, 1.0, ref="a"), row("c", 1, 0.2, 1.0, ref="a"),
        row("c", 2, None, None, ref="a", status="failed", reason="RuntimeError: boom"),
    ]  # fmt: skip
    cells = {c["grid_cell"]: c for c in aggregate_cells(rows)}
    a, b, c = cells["a"], cells["b"], cells["c"]
    assert (a["ovlp_sensitivity_mean"], a["ovlp_sensitivity_sd"]) == pytest.approx((0.8, 0.2))
    assert (a["ovlp_fa_per_24h_mean"], a["ovlp_fa_per_24h_sd"]) == pytest.approx((6.0, 3.0))
    assert a["ovlp_sensitivity_within_seed_spread"] is None  # the reference itself
    assert b["ovlp_sensitivity_within_seed_spread"] is True
    assert b["ovlp_fa_per_24h_within_seed_spread"] is False
    assert (c["runs"], c["finished"], c["reason"]) == (3, 2, "RuntimeError: boom")
    assert c["ovlp_sensitivity_sd"] == 0.0
    assert c["ovlp_sensitivity_within_seed_spread"] is False  # |0.2 - 0.8| >= 0.2
    assert c["taes_sensitivity_mean"] is None

    md = results_markdown(rows)
    assert "## Cells: mean ± sd over seeds" in md and "## Runs" in md
    assert "| `a` | a | 3/3 | 80.00 ± 20.00 |  | 6.00 ± 3.00 |" in md
    assert "| `b` | b | 3/3 | 90.00 ± 0.00 ~ |  | 21.00 ± 1.00 |" in md
    assert "| `c` | c | 2/3 | 20.00 ± 0.00 |  | 1.00 ± 0.00 |" in md
    assert "`a`; RuntimeError: boom |" in md

    table = list(csv.DictReader(results_csv(rows).splitlines()))
    assert [t["run"] for t in table] == [r["run"] for r in rows]  # one row per seed
    assert float(table[4]["ovlp_sensitivity_mean"]) == pytest.approx(0.9)
    assert table[4]["ovlp_sensitivity_within_seed_spread"] == "True"
    assert table[4]["ovlp_fa_per_24h_within_seed_spread"] == "False"
    assert table[0]["ovlp_sensitivity_within_seed_spread"] == ""


def test_one_seed_per_cell_keeps_the_per_run_table_only():
    md = results_markdown([row("a", 0, 0.5, 1.0), row("b", 0, 0.6, 2.0, ref="a")])
    assert "## Cells" not in md and "| `a__seed-0` | a | finished | 50.00 |" in md


def write_grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            seeds: 3
            quick: {seeds: 2, set: [train.epochs=1]}
            notes: [The initializer cells use encoder_norm=none.]
            grids:
              - name: g
                axes:
                  init:
                    orthogonal: [model.init.kernel=orthogonal]
                    he_normal: [model.init.kernel=he_normal]
            runs:
              baseline: [model.name=bandpower_logreg]
            """
        )
    )
    return path


def test_seeds_expand_every_cell_and_the_baseline_comes_first(tmp_path):
    grid = write_grid(tmp_path)
    runs = X.expand_grid(grid)
    assert [r.name for r in runs][:4] == [
        "init-orthogonal__seed-0", "init-orthogonal__seed-1", "init-orthogonal__seed-2",
        "init-he_normal__seed-0",
    ]  # fmt: skip
    assert [r.config.seed for r in runs[:3]] == [0, 1, 2]
    assert {r.reference for r in runs if r.cell != "init-orthogonal"} == {"init-orthogonal"}
    assert len(X.expand_grid(grid, quick=True)) == 3 * 2
    out = tmp_path / "out"
    # nothing ran (the baseline model may not exist on this branch): the table still renders
    for r in runs:
        if r.cell == "baseline":
            (out / "runs" / r.name).mkdir(parents=True)
            from seizure.pipelines.stages import StageStore

            StageStore(out / "runs" / r.name).fail(
                "run", "fp", reason="ValueError: unknown model 'bandpower_logreg'"
            )
    rows = X.collect_results(runs, out)
    assert [r["model_name"] for r in rows[:3]] == [BASELINE_MODEL] * 3
    assert [r["run"] for r in rows[3:]] == [r.name for r in runs if r.cell != "baseline"]
    md = results_markdown(rows, X.load_grid(grid))
    assert "- The initializer cells use encoder_norm=none." in md
    assert "feature baseline (`bandpower_logreg`)" in md
    cell_lines = [line for line in md.splitlines() if line.startswith("| `")]
    assert cell_lines[0].startswith("| `baseline` |  | 0/3 |")
    assert "unknown model 'bandpower_logreg'" in cell_lines[0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("seeds: 0\nruns: {a: []}\n", "seeds: expected a whole number >= 1"),
        ("seeds: two\nruns: {a: []}\n", "seeds: expected a whole number >= 1"),
        ("quick: {seeds: -1}\nruns: {a: []}\n", "quick.seeds"),
        ("reference: nope\nruns: {a: []}\n", "'nope' is not a cell of the grid"),
        ("notes: {a: 1}\nruns: {a: []}\n", "notes: expected a list of sentences"),
    ],
)
def test_malformed_seed_settings_are_refused(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(X.GridError, match=message):
        X.load_grid(path)
