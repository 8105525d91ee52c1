"""Silently wrong numbers (issue 12, items 4-5): non-finite settings, NaN caches, wrong units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from battery import FAST, processed, processed_with_warning, refused, run, write_edf

from seizure.config import ConfigError, load_config
from seizure.preprocessing.cache import Cache


@pytest.mark.parametrize(
    "override",
    [
        "train.learning_rate=.inf",
        "train.weight_decay=.nan",
        "preprocess.sample_rate_hz=.inf",
        "train.learning_rate=-.inf",
    ],
)
def test_non_finite_settings_are_refused(override):
    key = override.split("=")[0]
    with pytest.raises(ConfigError, match=rf"'{key}': expected a finite number"):
        load_config([], [override])


def test_integers_past_int64_are_refused_with_a_usage_error(flat_corpus, tmp_path):
    with pytest.raises(ConfigError, match=r"'seed': expected an integer of magnitude below"):
        load_config([], ["seed=100000000000000000000000"])
    refused(
        run("preprocess", flat_corpus, tmp_path / "c", "--set", "seed=100000000000000000000000"),
        2,
        r"'seed'",
    )


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"train:\n  epochs: \xff\xfe\n", r"not UTF-8 text"),
        (b"- a list\n- not a mapping\n", r"must hold a mapping of sections"),
        (b"train: 5\n", r"'train': expected a mapping"),
        (b"train: [1, 2\n", r"not valid YAML"),
    ],
)
def test_bad_config_files_are_refused_naming_the_file(flat_corpus, tmp_path, content, pattern):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    refused(run("preprocess", flat_corpus, tmp_path / "c", "--config", path), 2, pattern)


def test_an_unstable_filter_is_refused_before_anything_is_written(flat_corpus, tmp_path):
    refused(
        run(
            "preprocess",
            flat_corpus,
            tmp_path / "c",
            *FAST,
            "--set",
            "preprocess.bandpass_order=400",
        ),
        2,
        r"'preprocess\.bandpass_order'.*order 400.*unstable",
    )
    assert not (tmp_path / "c").exists()


def test_non_finite_filter_output_refuses_the_recording_naming_the_setting(tmp_path):
    from seizure.preprocessing.quality import UnusableRecordingError, check_filtered

    pre = load_config([], ["preprocess.bandpass_order=6"]).preprocess
    x = np.zeros((3, 1000), dtype=np.float32)
    check_filtered(x, pre, "r.edf", chunk=64)  # finite: nothing to say
    x[2, 999] = np.nan
    with pytest.raises(UnusableRecordingError, match=r"r\.edf: filtering produced 1 non-finite"):
        check_filtered(x, pre, "r.edf", chunk=64)


def test_a_channel_in_degrees_is_refused_naming_it(tmp_path):
    corpus = tmp_path / "corpus"
    write_edf(corpus / "pa_r1.edf", unit="degC")
    write_edf(corpus / "pb_r1.edf")
    result = refused(
        run("preprocess", corpus, tmp_path / "c", *FAST),
        1,
        r"pa_r1\.edf.*FP1 \(degC\).*not voltages",
    )
    assert "1 processed" in result.output


def _write_signals(path: Path, rows: list[np.ndarray], rate: float = 128.0) -> None:
    from battery import ELECTRODES
    from edfio import Edf, EdfSignal

    from seizure.io.annotations import write_csv_bi

    signals = [
        EdfSignal(x, sampling_frequency=rate, label=f"EEG {name}-REF", physical_range=(-500, 500))
        for name, x in zip(ELECTRODES, rows)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    Edf(signals).write(path)
    write_csv_bi(path.with_suffix(".csv_bi"), [], len(rows[0]) / rate)


def test_a_fully_clipped_recording_is_refused_and_a_clipped_channel_named(tmp_path):
    rng = np.random.default_rng(0)
    n = 128 * 8
    rail = np.where(rng.random(n) < 0.5, -500.0, 500.0)  # a saturated amplifier
    live = [rng.standard_normal(n) * 30 for _ in range(21)]
    corpus = tmp_path / "corpus"
    _write_signals(corpus / "pa_r1.edf", [rail] * 21)
    _write_signals(corpus / "pb_r1.edf", [rail, *live[1:]])
    result = run("preprocess", corpus, tmp_path / "c", *FAST)
    refused(result, 1, r"pa_r1\.edf: no channel the montage reads holds a signal")
    warned = Cache(tmp_path / "c").record("pb_r1").warnings
    assert any("channel FP1 is clipped (100% of its samples" in w for w in warned), warned


def test_a_clean_recording_is_processed_without_warnings(flat_corpus, tmp_path):
    processed(run("preprocess", flat_corpus, tmp_path / "c", *FAST))
    assert all(not r.warnings for r in Cache(tmp_path / "c").records)
    processed_with_warning(run("info", tmp_path / "c"), r"3 recordings")
