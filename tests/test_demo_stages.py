"""The demo's configuration and its record of complete stages (no training here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seizure.config import load_config, to_dict
from seizure.pipelines.demo import DEMO_CONFIG_YAML, demo_config, demo_defaults, evaluate_overrides
from seizure.pipelines.stages import StageError, StageStore, stage_fingerprint

ROOT = Path(__file__).resolve().parents[1]


def test_configs_demo_yaml_spells_out_the_embedded_defaults():
    on_disk = yaml.safe_load((ROOT / "seizure" / "configs" / "demo.yaml").read_text())
    assert on_disk == demo_defaults()
    assert to_dict(load_config(ROOT / "seizure" / "configs" / "demo.yaml")) == to_dict(
        demo_config()
    )


def test_demo_config_layers_hours_files_and_overrides(tmp_path):
    default = demo_config()
    assert default.model.cell == "lstm"
    assert default.synth.hours == yaml.safe_load(DEMO_CONFIG_YAML)["synth"]["hours"]
    extra = tmp_path / "extra.yaml"
    extra.write_text("train:\n  epochs: 3\nsynth:\n  hours: 5\n")
    config = demo_config([extra], ["train.learning_rate=0.01"], hours=0.5)
    assert config.train.epochs == 3
    assert config.train.learning_rate == 0.01
    assert config.synth.hours == 0.5  # --hours beats the files
    assert demo_config([extra], ["synth.hours=2"], hours=0.5).synth.hours == 2.0  # --set last
    assert config.synth.patients == default.synth.patients


def test_evaluate_overrides_reproduce_the_evaluate_section():
    config = demo_config(
        overrides=[
            "evaluate.threshold=0.7",
            "evaluate.select_fa_per_24h=5",
            "evaluate.patient_regex=^(sub-[0-9]+)",
            "evaluate.fa_budgets_per_24h=[2, 3]",
        ]
    )
    stored = to_dict(demo_config())  # what a checkpoint trained with the defaults holds
    again = load_config(overrides=evaluate_overrides(config), base=stored)
    assert again.evaluate == config.evaluate
    assert again.model == config.model


def test_stage_fingerprint_is_stable_and_order_free():
    a = stage_fingerprint("x", {"a": 1, "b": [1, 2]})
    assert a == stage_fingerprint("x", {"b": [1, 2], "a": 1})
    assert a != stage_fingerprint("x", {"a": 2, "b": [1, 2]})
    assert len(a) == 16


def test_stage_store_skip_resume_and_rebuild(tmp_path):
    store = StageStore(tmp_path)
    folder = tmp_path / "stage"
    assert store.prepare("s", folder, "fp1", "e1") == "fresh"
    store.start("s", "fp1", "e1")
    folder.mkdir()
    (folder / "part").write_text("x")
    # interrupted: same fingerprints, not complete
    assert store.prepare("s", folder, "fp1", "e1") == "resume"
    store.finish("s", "fp1", "e1", detail="done")
    assert store.get("s")["detail"] == "done"
    assert store.prepare("s", folder, "fp1", "e1") == "skip"
    # a resumable change (e.g. more epochs): continue in place
    assert store.prepare("s", folder, "fp1", "e2") == "resume"
    assert (folder / "part").is_file()
    # an incompatible change: the folder is deleted and rebuilt
    assert store.prepare("s", folder, "fp2", "e2") == "fresh"
    assert not folder.exists()


def test_stage_store_never_deletes_what_it_did_not_make(tmp_path):
    store = StageStore(tmp_path)
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "precious.edf").write_text("x")
    with pytest.raises(StageError, match="was not made by this pipeline"):
        store.prepare("synthesize", folder, "fp")
    assert (folder / "precious.edf").is_file()
    with pytest.raises(StageError, match="must lie inside"):
        store.prepare("x", tmp_path.parent / "elsewhere", "fp")
