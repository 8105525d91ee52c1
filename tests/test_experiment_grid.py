"""Grid expansion of ``seizure experiment``: run names, resolved configs, selection, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seizure.models.config import KERAS_INITIALIZERS
from seizure.pipelines.experiment import GridError, expand_grid, load_grid, select_runs

PAPER = Path(__file__).resolve().parents[1] / "seizure" / "configs" / "experiments" / "paper.yaml"
REGULARIZERS = ("none", "l1", "l2", "l1_l2", "dropout", "gaussian_noise")
EXTRAS = ("baseline", "minimal-timescale", "lstm-chrono", "esn", "cnn-only")
#: variance_scaling (Keras 2 default) is lecun_normal: not a cell of the paper grid.
PAPER_INITS = tuple(i for i in KERAS_INITIALIZERS if i != "variance_scaling")
SEEDS = 3


def cells(runs):
    """One run per cell (its seed 0)."""
    return [r for r in runs if r.seed_index == 0]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ------------------------------------------------------------------------------ paper.yaml


def test_paper_grid_gives_exactly_the_papers_runs_in_order():
    runs = expand_grid(PAPER)
    expected = [f"init-{i}__cell-{c}" for i in PAPER_INITS for c in ("lstm", "gru")]
    expected += [f"reg-{r}__cell-{c}" for r in REGULARIZERS for c in ("lstm", "gru")]
    expected += list(EXTRAS)
    assert [r.cell for r in cells(runs)] == expected
    assert [r.name for r in runs] == [f"{c}__seed-{k}" for c in expected for k in range(SEEDS)]
    assert len(runs) == (9 * 2 + 6 * 2 + 5) * SEEDS
    assert [r.index for r in runs] == list(range(len(runs)))
    # the seeds of a cell differ in their seed only
    for k in range(0, len(runs), SEEDS):
        seeds = runs[k : k + SEEDS]
        assert [r.config.seed for r in seeds] == [0, 1, 2]
        assert len({(r.cell, r.config.model, r.config.train) for r in seeds}) == 1


def test_paper_initializer_cells_use_the_encoder_without_batchnorm():
    for run in cells(expand_grid(PAPER)):
        expected = "none" if run.group == "initializers" else "batch"
        assert run.config.model.encoder_norm == expected, run.name
    grid = load_grid(PAPER)
    assert any("encoder_norm=none" in n for n in grid.notes)
    assert any("variance_scaling" in n and "lecun_normal" in n for n in grid.notes)


@pytest.mark.parametrize("init", PAPER_INITS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_paper_initializer_runs_set_every_weight(init, cell):
    (run,) = [r for r in cells(expand_grid(PAPER)) if r.cell == f"init-{init}__cell-{cell}"]
    m = run.config.model
    assert run.axes == {"init": init, "cell": cell}
    assert run.group == "initializers"
    assert m.cell == cell
    assert (m.init.conv, m.init.kernel, m.init.recurrent, m.init.head) == (init,) * 4
    assert m.init.bias == "keras"
    reg = m.regularization
    assert (reg.l1, reg.l2, reg.dropout, reg.gaussian_noise) == (0.0, 0.0, 0.0, 0.0)
    assert run.config.train.epochs == 20


def test_paper_regularizer_runs():
    runs = {r.cell: r.config.model for r in cells(expand_grid(PAPER))}
    expect = {
        "none": (0.0, 0.0, 0.0, 0.0),
        "l1": (1e-5, 0.0, 0.0, 0.0),
        "l2": (0.0, 1e-4, 0.0, 0.0),
        "l1_l2": (1e-5, 1e-4, 0.0, 0.0),
        "dropout": (0.0, 0.0, 0.2, 0.0),
        "gaussian_noise": (0.0, 0.0, 0.0, 0.1),
    }
    for reg, values in expect.items():
        for cell in ("lstm", "gru"):
            m = runs[f"reg-{reg}__cell-{cell}"]
            r = m.regularization
            assert (r.l1, r.l2, r.dropout, r.gaussian_noise) == values, reg
            assert m.cell == cell
            assert (m.init.conv, m.init.kernel, m.init.recurrent, m.init.head) == (
                "orthogonal",
            ) * 4


def test_paper_extra_runs_use_the_model_configs():
    runs = {r.cell: r.config.model for r in cells(expand_grid(PAPER))}
    assert runs["baseline"].name == "bandpower_logreg"
    minimal = runs["minimal-timescale"]
    assert minimal.cell == "minimal"
    assert (minimal.init.kernel, minimal.init.recurrent, minimal.init.bias) == ("critical",) * 3
    assert runs["lstm-chrono"].cell == "lstm" and runs["lstm-chrono"].init.bias == "chrono"
    assert runs["esn"].cell == "esn" and "conv" in runs["esn"].freeze
    assert runs["cnn-only"].cell == "none"


QUICK_CELLS = (
    "init-orthogonal__cell-lstm",
    "init-glorot_uniform__cell-lstm",
    "init-orthogonal__cell-gru",
    "reg-dropout__cell-lstm",
    "baseline",
    "minimal-timescale",
    "cnn-only",
)


def test_paper_quick_shrinks_every_run_but_keeps_what_it_compares():
    full = {r.name: r.config for r in expand_grid(PAPER)}
    quick = expand_grid(PAPER, quick=True)
    # a subset of the cells, in the grid's order, 2 seeds each
    expected = [n for n in full if not n.endswith("__seed-2") and n.rsplit("__seed-", 1)[0]
                in QUICK_CELLS]  # fmt: skip
    assert [r.name for r in quick] == expected and len(expected) == 2 * len(QUICK_CELLS)
    assert [r.index for r in quick] == list(range(len(expected)))
    # the baseline and the reference every other cell is compared with are there
    assert {r.reference for r in quick} == {"", "init-orthogonal__cell-lstm"}
    for run in quick:
        c = run.config
        assert c.model.hidden_size == 16 and c.model.num_layers == 1
        assert c.train.epochs == 1
        assert c.model.cell == full[run.name].model.cell
        assert c.model.init == full[run.name].model.init
        assert c.model.regularization == full[run.name].model.regularization


def test_overrides_from_the_command_line_come_last():
    runs = expand_grid(PAPER, quick=True, overrides=["train.epochs=1", "seed=7"])
    assert {r.config.train.epochs for r in runs} == {1}
    assert {r.config.seed for r in runs if r.seed_index == 0} == {7}
    assert {r.config.seed for r in runs if r.seed_index == 1} == {8}


def test_base_config_dict_sets_the_preprocessing():
    runs = expand_grid(
        PAPER, base={"preprocess": {"sample_rate_hz": 128.0, "bandpass_hz": [1.0, 40.0]}}
    )
    assert {r.config.preprocess.sample_rate_hz for r in runs} == {128.0}


# ------------------------------------------------------------------------------ the format


def small_grid(tmp_path: Path) -> Path:
    write(tmp_path / "models" / "wide.yaml", "model:\n  hidden_size: 99\n  cell: gru\n")
    return write(
        tmp_path / "exp" / "grid.yaml",
        """\
        base:
          set: [train.epochs=5, model.hidden_size=10]
        quick:
          set: [train.epochs=1]
        grids:
          - name: g
            set: [train.batch_size=4]
            axes:
              a:
                x: [model.num_layers=1]
                y: {set: [model.num_layers=2, train.epochs=9]}
              b:
                p: []
                q: [train.learning_rate=0.5]
        runs:
          wide:
            config: [../models/wide.yaml]
            set: [train.batch_size=3]
        """,
    )


def test_axes_are_crossed_in_order_with_stable_names(tmp_path):
    runs = expand_grid(small_grid(tmp_path))
    assert [r.name for r in runs] == ["a-x__b-p", "a-x__b-q", "a-y__b-p", "a-y__b-q", "wide"]
    by = {r.name: r for r in runs}
    assert by["a-y__b-q"].axes == {"a": "y", "b": "q"}
    c = by["a-y__b-q"].config
    assert (c.model.num_layers, c.train.epochs, c.train.learning_rate) == (2, 9, 0.5)
    assert c.train.batch_size == 4 and c.model.hidden_size == 10
    c = by["a-x__b-p"].config
    assert (c.model.num_layers, c.train.epochs, c.train.learning_rate) == (1, 5, 1e-3)
    wide = by["wide"]
    assert wide.group == "runs" and wide.axes == {}
    # a value's config file is applied before every override: base's hidden_size=10 wins
    assert wide.config.model.cell == "gru" and wide.config.model.hidden_size == 10
    assert wide.config.train.batch_size == 3
    assert wide.config_files == ((tmp_path / "models" / "wide.yaml").resolve(),)


def test_quick_applies_after_each_runs_own_settings(tmp_path):
    runs = {r.name: r.config for r in expand_grid(small_grid(tmp_path), quick=True)}
    assert runs["a-y__b-p"].train.epochs == 1
    assert runs["a-x__b-p"].train.epochs == 1


def test_quick_only_keeps_the_cells_it_names_in_the_grids_order(tmp_path):
    grid = small_grid(tmp_path)
    text = grid.read_text().replace("quick:\n", "quick:\n  only: [wide, 'a-y__*']\n")
    grid.write_text(text)
    quick = expand_grid(grid, quick=True)
    assert [r.name for r in quick] == ["a-y__b-p", "a-y__b-q", "wide"]
    assert [r.index for r in quick] == [0, 1, 2]
    assert {r.config.train.epochs for r in quick} == {1}
    assert len(expand_grid(grid)) == 5  # without --quick: every cell


@pytest.mark.parametrize(
    "text, message",
    [
        ("grids: []\n", "no runs"),
        ("colour: red\nruns: {a: []}\n", "unknown key"),
        ("runs: {a: [notakeyvalue]}\n", "key=value"),
        ("runs: {a: {config: [missing.yaml]}}\n", "does not exist"),
        ("runs: {a: {sett: []}}\n", "unknown key"),
        ("runs: {'a b': []}\n", "names must be"),
        (
            "grids: [{axes: {a: {x: []}}}]\nruns: {a-x: []}\n",
            "duplicate run name",
        ),
        ("runs: {a: [model.cell=banana]}\n", "run 'a'"),
        ("quick: {only: [b]}\nruns: {a: []}\n", "quick.only: no cell matches 'b'"),
        ("quick: {only: []}\nruns: {a: []}\n", "quick.only: expected a non-empty list"),
        ("quick: {only: {a: 1}}\nruns: {a: []}\n", "quick.only: expected a non-empty list"),
    ],
)
def test_malformed_grids_are_refused_with_the_reason(tmp_path, text, message):
    path = write(tmp_path / "g.yaml", text)
    with pytest.raises(GridError, match=message):
        expand_grid(load_grid(path))


# ------------------------------------------------------------------------------ selection


def test_select_runs_by_name_pattern_and_index(tmp_path):
    runs = expand_grid(small_grid(tmp_path))
    names = lambda rs: [r.name for r in rs]  # noqa: E731
    assert names(select_runs(runs)) == names(runs)
    assert names(select_runs(runs, ["wide"])) == ["wide"]
    assert names(select_runs(runs, ["a-*__b-q"])) == ["a-x__b-q", "a-y__b-q"]
    assert names(select_runs(runs, ["wide,a-x__b-p"])) == ["a-x__b-p", "wide"]
    assert names(select_runs(runs, index=2)) == ["a-y__b-p"]
    assert names(select_runs(runs, ["a-*"], index=3)) == ["a-y__b-q"]
    with pytest.raises(GridError, match="no run matches 'nope'"):
        select_runs(runs, ["nope"])
    with pytest.raises(GridError, match="0 <= index < 5"):
        select_runs(runs, index=5)


def test_stored_config_missing_a_newer_field_still_matches(tmp_path):
    # A run folder written before a config field was added must not count as "another config".
    import yaml

    from seizure.config import load_config, to_dict
    from seizure.pipelines.experiment import _stored_config

    config = load_config()
    data = to_dict(config)
    del data["train"]["early_stopping_fa_per_24h"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    assert _stored_config(tmp_path) == to_dict(config)
    data["train"]["epochs"] = config.train.epochs + 1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    assert _stored_config(tmp_path) != to_dict(config)
