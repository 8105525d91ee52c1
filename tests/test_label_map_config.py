"""``preprocess.label_map``: the annotation label map as a config setting (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seizure.config import ConfigError, fingerprint, load_config, save_config, to_dict
from seizure.io.annotations import DEFAULT_LABELS, SEIZURE_TYPES
from seizure.io.events import BACKGROUND, SEIZURE
from seizure.preprocessing.config import ANNOTATION_LABELS, PreprocessConfig, check_label_map

#: Fingerprints computed on main before the setting existed (commit be85b2d): caches,
#: checkpoints and run folders made then must still match.
DEFAULT_FINGERPRINT = "254ef21cae195684"
TCP_LFCC_FINGERPRINT = "7b5f6a5b3d69e665"


def test_fingerprints_without_a_label_map_are_unchanged() -> None:
    assert fingerprint(PreprocessConfig()) == DEFAULT_FINGERPRINT
    assert fingerprint(load_config([]).preprocess) == DEFAULT_FINGERPRINT
    assert fingerprint(load_config(["tcp_lfcc"]).preprocess) == TCP_LFCC_FINGERPRINT
    assert fingerprint(load_config([], ["preprocess.label_map={}"]).preprocess) == (
        DEFAULT_FINGERPRINT
    )
    assert "label_map" not in to_dict(PreprocessConfig())


def test_a_label_map_enters_the_fingerprint_when_set(tmp_path: Path) -> None:
    config = load_config([], ["preprocess.label_map={Crise: SEIZ, eyes closed: bckg}"])
    assert config.preprocess.label_map == {"crise": "seiz", "eyes closed": "bckg"}
    fp = fingerprint(config.preprocess)
    assert fp != DEFAULT_FINGERPRINT
    # texts are case-insensitive, so letter case does not change the identity
    same = load_config([], ['preprocess.label_map={"crise": "seiz", "EYES CLOSED": "bckg"}'])
    assert fingerprint(same.preprocess) == fp
    assert fingerprint(PreprocessConfig(label_map={"crise": "bckg"})) != fp
    # saved and read back whole
    save_config(config, tmp_path / "config.yaml")
    assert load_config([tmp_path / "config.yaml"]) == config
    assert hash(config.preprocess) == hash(same.preprocess)


def test_unknown_target_label_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"'preprocess\.label_map' \(text 'Crise'\).*seiz, bckg"):
        load_config([], ["preprocess.label_map={Crise: seizure}"])
    with pytest.raises(ConfigError, match=r"'preprocess\.label_map'.*map to both"):
        load_config([], ["preprocess.label_map={Crise: seiz, CRISE: bckg}"])
    with pytest.raises(ConfigError, match=r"preprocess\.label_map.*expected a mapping"):
        load_config([], ["preprocess.label_map=[seiz]"])
    with pytest.raises(ValueError, match=r"'--label-map'.*non-empty string"):
        check_label_map({" ": "seiz"}, "--label-map")


def test_the_map_targets_are_the_labels_the_readers_know() -> None:
    assert ANNOTATION_LABELS == (SEIZURE, BACKGROUND, *SEIZURE_TYPES)
    assert set(DEFAULT_LABELS.values()) <= set(ANNOTATION_LABELS)
