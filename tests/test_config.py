from __future__ import annotations

import pytest

from seizure.config import Config, ConfigError, fingerprint, load_config, save_config


def test_defaults_round_trip(tmp_path):
    cfg = load_config()
    assert isinstance(cfg, Config)
    save_config(cfg, tmp_path / "c.yaml")
    again = load_config([tmp_path / "c.yaml"])
    assert again == cfg
    assert fingerprint(again.preprocess) == fingerprint(cfg.preprocess)


def test_file_then_overrides(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("seed: 3\ntrain:\n  epochs: 4\npreprocess:\n  bandpass_hz: [0.5, 40]\n")
    cfg = load_config([path], ["train.epochs=7", "preprocess.notch_hz=null"])
    assert cfg.seed == 3
    assert cfg.train.epochs == 7
    assert cfg.preprocess.bandpass_hz == (0.5, 40.0)
    assert cfg.preprocess.notch_hz is None


def test_fingerprint_changes_with_value():
    a = load_config().preprocess
    b = load_config(overrides=["preprocess.sample_rate_hz=250"]).preprocess
    assert fingerprint(a) != fingerprint(b)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epochz=3", "Unknown config key(s) 'epochz' in 'train'"),
        ("train.epochs=three", "Invalid value for 'train.epochs': expected an integer"),
        ("preprocess.features=mfcc", "allowed values are 'raw', 'lfcc', got 'mfcc'"),
        ("nonsense", "expected key=value"),
        ("preprocess.bandpass_hz=[1]", "expected 2 items"),
        ("model.bidirectional=3", "expected true/false"),
    ],
)
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert message in str(err.value)


def test_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config([tmp_path / "nope.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config([bad])
