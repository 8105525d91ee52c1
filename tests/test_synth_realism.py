"""Realism statistics: the measures themselves, a real recording, and a generated corpus.

The corpus checks use a small generated corpus (a few recordings of a few minutes): background
slope on the median bipolar channel in the range reported for scalp EEG, line noise on some
channels but not all, and seizure patterns whose ictal/background band-power ratios differ as
real seizure types do.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from seizure.io.events import Event
from seizure.synth.config import SynthConfig
from seizure.synth.generate import generate_recording
from seizure.synth.ictal import PATTERNS
from seizure.synth.plan import SeizureSpec, plan_corpus
from seizure.synth.realism import (
    BANDS_HZ,
    RealismSummary,
    band_power,
    line_noise_db,
    measure_corpus_dir,
    measure_generated,
    measure_recording,
    measure_signals,
    spectral_slopes,
)

MALOW = "real/malow/malow_michigan_19ch_100Hz_500s.edf"  # under ../shared/data


def test_slope_of_an_exact_power_law() -> None:
    f = np.arange(0.0, 50.0, 0.25)
    psd = np.stack([np.where(f > 0, f, 1.0) ** -2.3, 7.0 * np.where(f > 0, f, 1.0) ** -1.1])
    assert spectral_slopes(f, psd) == pytest.approx([-2.3, -1.1], abs=1e-9)


def test_line_noise_and_band_power_of_a_sinusoid_in_white_noise() -> None:
    fs, n = 256.0, 256 * 120
    rng = np.random.default_rng(0)
    t = np.arange(n) / fs
    # channel 0: white noise of 1 uV^2/Hz one-sided (variance 128) plus 10 uV at 60 Hz;
    # channel 1: the same noise alone
    noise = rng.standard_normal((2, n)) * np.sqrt(fs / 2)
    x = noise + np.stack([10.0 * np.sin(2 * np.pi * 60.0 * t), np.zeros(n)])
    rec = measure_signals("x", ["a", "b"], x, fs, [])
    # a 10 uV sinusoid has power 50 uV^2, spread by the Hann window over bins of 0.25 Hz:
    # peak bin = 50 / (1.5 * 0.25) = 133 uV^2/Hz over a floor of 1, i.e. 21 dB
    assert rec.line_db[0] == pytest.approx(21.2, abs=1.0)
    assert abs(rec.line_db[1]) < 1.5
    f = np.arange(0.0, 128.25, 0.25)
    power = band_power(f, np.ones((1, f.size)))
    for name, (lo, hi) in BANDS_HZ.items():
        assert power[name][0] == pytest.approx(hi - lo)


def test_line_noise_is_not_measured_above_the_nyquist_limit() -> None:
    f = np.arange(0.0, 50.25, 0.25)
    assert np.isnan(line_noise_db(f, np.ones((3, f.size)), 60.0, 100.0)).all()


def test_ictal_ratios_of_a_seizure_that_doubles_the_amplitude() -> None:
    fs = 200.0
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, int(600 * fs)))
    a, b = int(100 * fs), int(200 * fs)
    x[:, a:b] *= 2.0  # four times the power in every band
    rec = measure_signals("x", ["a", "b", "c"], x, fs, [Event(100.0, 200.0, "fnsz")])
    ((row),) = rec.seizures
    assert row["label"] == "fnsz"
    for band in BANDS_HZ:
        assert row["ratios"][band] == pytest.approx(4.0, rel=0.1)
    # post-ictal time is not background: 200-320 s left out, 0-100 and 320-600 used
    assert rec.background_seconds == pytest.approx(100 + 280, abs=6)


@pytest.mark.shared_data
def test_real_recording_figures(shared_data: Path) -> None:
    rec = measure_recording(shared_data / MALOW, [Event(350.0, 500.0, "seiz")])
    assert len(rec.channels) == 20  # TCP without A1/A2
    assert -2.4 < rec.median_slope < -2.1
    assert np.isnan(rec.line_db).all()  # 100 Hz: 60 Hz is above Nyquist
    ratios = rec.seizures[0]["ratios"]
    assert 3.0 < ratios["delta"] < 5.5
    assert 8.0 < ratios["theta"] < 13.0
    assert 15.0 < ratios["beta"] < 25.0
    assert 50.0 < ratios["gamma"] < 90.0


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    from seizure.synth.corpus import synthesize

    out = tmp_path_factory.mktemp("realism") / "corpus"
    config = SynthConfig(
        hours=0.5,
        patients=5,
        recording_minutes=(5.0, 7.0),
        seizure_seconds=(20.0, 60.0),
        ictal_fraction=0.1,
        seizure_free_fraction=0.0,
    )
    synthesize(out, config, seed=3, progress=False)
    return out


def test_generated_corpus_background_and_line_noise(small_corpus: Path) -> None:
    summary = measure_corpus_dir(small_corpus)
    assert len(summary.recordings) >= 5
    slopes = summary.median_slopes()
    assert np.all((-2.5 <= slopes) & (slopes <= -1.8)), slopes
    line = summary.line_db()
    assert line.size == 22 * len(summary.recordings)  # every TCP channel, A1/A2 included
    above = np.mean(line > 6.0)
    assert 0.05 < above < 0.8, above  # on some channels, not on every one
    assert np.median(line) < 6.0
    figures = summary.to_dict()
    assert figures["seizures"] >= 3
    assert set(figures["band_ratios_by_label"]) <= {"fnsz", "gnsz"}
    assert figures["band_ratios"]["theta"] > 1.5


def _one_seizure(pattern: str) -> dict:
    config = SynthConfig(
        hours=1.0, patients=1, artifact_rate=0.0, mimic_rate=0.0, sleep_fraction=0.0
    )
    base = plan_corpus(config, seed=11)[0]
    spec = dataclasses.replace(
        base,
        duration_s=300,
        sfreq_hz=256.0,
        seizures=(SeizureSpec(100.0, 160.0, False),),
        patient_traits={**base.patient_traits, "pattern": pattern, "lvfa": False},
    )
    rec = generate_recording(spec, config)
    (row,) = measure_generated(rec).seizures
    assert row["label"] == pattern
    return {"ratios": row["ratios"], "info": rec.seizures[0], "rec": rec}


@pytest.fixture(scope="module")
def patterns() -> dict[str, dict]:
    return {p: _one_seizure(p) for p in PATTERNS}


def test_seizure_patterns_have_their_own_spectra(patterns: dict[str, dict]) -> None:
    r = {p: v["ratios"] for p, v in patterns.items()}
    # rhythmic theta/delta discharge: theta rises most, fast bands little
    assert r["rhythmic"]["theta"] > 2.0 * r["rhythmic"]["beta"]
    assert r["rhythmic"]["gamma"] < 2.0
    # fast activity: beta and gamma rise, theta little
    assert r["fast"]["beta"] > 2.0 * r["fast"]["theta"]
    assert r["fast"]["gamma"] > 3.0
    # spike-and-wave: slow bands, not the fast ones
    assert r["spike_wave"]["delta"] > 3.0 and r["spike_wave"]["theta"] > 5.0
    assert r["spike_wave"]["gamma"] < 2.0
    # tonic-clonic: broadband, with muscle power far above the background in gamma
    assert min(r["tonic_clonic"].values()) > 2.0
    assert r["tonic_clonic"]["gamma"] > 10.0 * r["rhythmic"]["gamma"]


def test_generalised_patterns_are_labelled_and_involve_most_channels(
    patterns: dict[str, dict],
) -> None:
    for pattern in ("spike_wave", "tonic_clonic"):
        rec = patterns[pattern]["rec"]
        assert patterns[pattern]["info"]["label"] == "gnsz"
        typed = {e.channel for e in rec.channel_events if e.label == "gnsz"}
        assert len(typed) >= 15, (pattern, len(typed))  # of 22
    rec = patterns["rhythmic"]["rec"]
    assert {e.label for e in rec.channel_events} == {"fnsz", "bckg"}


def test_summary_of_nothing_and_unknown_pattern() -> None:
    summary = RealismSummary([])
    assert np.isnan(summary.band_ratios()["theta"])
    assert summary.to_dict()["recordings"] == 0
    with pytest.raises(ValueError, match="seizure_mix"):
        SynthConfig(seizure_mix=(0.0, 0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="unknown seizure pattern"):
        _one_seizure("myoclonic")
