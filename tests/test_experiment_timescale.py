"""The minimalRNN's timescale target follows the training sequence length (critical_xi: auto)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from seizure.config import Config, ConfigError, fingerprint, from_dict, load_config, to_dict
from seizure.models import build_model
from seizure.models.config import InitConfig, ModelConfig
from seizure.models.init import initialize_
from seizure.pipelines.grid import expand_grid

ROOT = Path(__file__).resolve().parents[1] / "seizure" / "configs"
PAPER = ROOT / "experiments" / "paper.yaml"
SMALL = ["model.hidden_size=8", "model.num_layers=1", "model.conv_channels=[4,4]",
         "model.conv_kernels=[3,3]"]  # fmt: skip


def gate_biases(config) -> list[torch.Tensor]:
    model = build_model(config.model, (4, 32))
    return [p.detach() for n, p in model.named_parameters() if n.endswith("bias_hh")]


@pytest.mark.parametrize("windows", [7, 30, 64])
def test_gate_bias_is_ln_2xi_minus_1_with_xi_the_sequence_length(windows):
    config = load_config(["models/minimal_critical"], [*SMALL, f"train.sequence_windows={windows}"])
    assert config.model.init.critical_xi == float(windows)
    biases = gate_biases(config)
    assert len(biases) == 2  # one per direction
    for b in biases:
        assert torch.allclose(b, torch.full_like(b, math.log(2 * windows - 1)), atol=1e-6)


def test_changing_the_sequence_length_changes_the_gate_bias():
    short, long = (
        load_config(["models/minimal_critical"], [*SMALL, f"train.sequence_windows={t}"])
        for t in (10, 40)
    )
    b_short, b_long = gate_biases(short)[0][0].item(), gate_biases(long)[0][0].item()
    assert b_short == pytest.approx(math.log(19)) and b_long == pytest.approx(math.log(79))


def test_a_number_fixes_the_timescale_whatever_the_sequence_length():
    config = load_config(
        ["models/minimal_critical"],
        [*SMALL, "model.init.critical_xi=30", "train.sequence_windows=7"],
    )
    assert config.model.init.critical_xi == 30.0
    assert gate_biases(config)[0][0].item() == pytest.approx(math.log(59))


def test_auto_needs_a_sequence_of_two_windows_or_more():
    with pytest.raises(ConfigError, match="train.sequence_windows"):
        load_config(["models/minimal_critical"], ["train.sequence_windows=1"])
    with pytest.raises(ConfigError, match="critical_xi"):
        load_config(overrides=["model.init.critical_xi=fast"])


def test_an_unresolved_auto_is_refused_where_the_model_is_initialized():
    model_config = ModelConfig(
        name="cnn_rnn",
        cell="minimal",
        hidden_size=4,
        num_layers=1,
        conv_channels=(4,),
        conv_kernels=(3,),
        init=InitConfig(kernel="critical", recurrent="critical", bias="critical",
                        critical_xi="auto"),
    )  # fmt: skip
    with pytest.raises(ValueError, match="never resolved"):
        build_model(model_config, (4, 32))
    resolved = model_config.resolve_timescale(12)
    assert resolved.init.critical_xi == 12.0
    assert resolved.resolve_timescale(99) is resolved  # a number stays
    model = build_model(resolved, (4, 32))
    initialize_(model, resolved)


def test_the_paper_grid_minimal_cell_follows_the_sequence_length():
    for windows in (7, 30):
        runs = expand_grid(PAPER, overrides=[f"train.sequence_windows={windows}"])
        minimal = [r for r in runs if r.cell == "minimal-timescale"]
        assert len(minimal) == 3
        assert {r.config.model.init.critical_xi for r in minimal} == {float(windows)}


def test_auto_follows_a_train_section_replaced_afterwards():
    config = load_config(["models/minimal_critical"], [*SMALL, "train.sequence_windows=30"])
    longer = replace(config, train=replace(config.train, sequence_windows=64))
    assert longer.model.init.critical_xi == 64.0
    for b in gate_biases(longer):
        assert torch.allclose(b, torch.full_like(b, math.log(2 * 64 - 1)), atol=1e-6)
    # the bookkeeping is in no saved config: the same dict, fingerprint and key set as a number
    fixed = load_config(
        ["models/minimal_critical"],
        [*SMALL, "train.sequence_windows=64", "model.init.critical_xi=64"],
    )
    assert to_dict(longer) == to_dict(fixed) and fingerprint(longer) == fingerprint(fixed)
    assert "critical_xi_auto" not in to_dict(longer)["model"]["init"]
    with pytest.raises(ConfigError, match="Unknown config key.*critical_xi_auto"):
        load_config(overrides=["model.init.critical_xi_auto=3"])
    # a number stays a number: given as such, read back from a saved config, or replaced
    assert replace(fixed, train=replace(fixed.train, sequence_windows=7)).model == fixed.model
    saved = from_dict(Config, to_dict(longer))
    assert replace(saved, train=replace(saved.train, sequence_windows=7)).model == saved.model
    init = replace(longer.model.init, critical_xi=50.0)
    pinned = replace(longer, model=replace(longer.model, init=init))
    assert replace(pinned, train=replace(pinned.train, sequence_windows=7)).model == pinned.model
