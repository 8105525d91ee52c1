"""Spectral checks of the synthetic EEG: alpha, 1/f background, ictal rhythm at the focus."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.signal import welch

from seizure.synth.config import SynthConfig
from seizure.synth.generate import generate_recording
from seizure.synth.ictal import REGIMES, waveform_bank
from seizure.synth.layout import CHANNELS
from seizure.synth.plan import SeizureSpec, plan_corpus

CH = {c: i for i, c in enumerate(CHANNELS)}


def _spec(config: SynthConfig, seizures=(), **traits):
    spec = plan_corpus(config, seed=11)[0]
    spec = dataclasses.replace(
        spec,
        duration_s=300,
        sfreq_hz=256.0,
        seizures=tuple(seizures),
        patient_traits={**spec.patient_traits, **traits},
    )
    return spec


def _psd(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    return welch(x, fs=fs, nperseg=int(4 * fs))


@pytest.fixture(scope="module")
def quiet_background():
    """Five minutes awake, no artefacts or mimics, no seizure."""
    config = SynthConfig(
        hours=1.0, patients=1, sleep_fraction=0.0, artifact_rate=0.0, mimic_rate=0.0
    )
    return generate_recording(_spec(config, alpha_hz=10.0, alpha_uv=30.0), config)


def test_amplitudes_are_realistic_microvolts(quiet_background) -> None:
    eeg = quiet_background.data[[CH[c] for c in ("FP1", "C3", "O1", "T4", "PZ")]]
    std = eeg.std(axis=1)
    assert np.all((8.0 < std) & (std < 60.0)), std


def test_posterior_alpha_peak(quiet_background) -> None:
    rec = quiet_background
    f, p_o1 = _psd(rec.data[CH["O1"]], rec.sfreq_hz)
    _, p_f3 = _psd(rec.data[CH["F3"]], rec.sfreq_hz)
    band = (f >= 3.0) & (f <= 30.0)
    peak = f[band][np.argmax(p_o1[band])]
    assert 8.5 <= peak <= 11.5
    alpha = (f >= 8.0) & (f <= 12.0)
    assert p_o1[alpha].sum() > 3.0 * p_f3[alpha].sum()  # posterior dominance


def test_background_has_a_one_over_f_slope(quiet_background) -> None:
    rec = quiet_background
    f, p = _psd(rec.data[CH["FZ"]], rec.sfreq_hz)
    fit = ((f >= 2.0) & (f <= 7.0)) | ((f >= 14.0) & (f <= 40.0))  # skip the alpha band
    slope = np.polyfit(np.log(f[fit]), np.log(p[fit]), 1)[0]
    assert -2.6 < slope < -0.7


def test_line_noise_at_60_hz() -> None:
    config = SynthConfig(hours=1.0, patients=1, line_noise_uv=5.0, artifact_rate=0.0)
    rec = generate_recording(_spec(config), config)
    f, p = _psd(rec.data[CH["C3"]], rec.sfreq_hz)
    near = (f > 50.0) & (f < 70.0)
    assert abs(f[near][np.argmax(p[near])] - 60.0) < 0.5


def test_ictal_rhythm_on_the_onset_channels() -> None:
    config = SynthConfig(hours=1.0, patients=1, artifact_rate=0.0, mimic_rate=0.0)
    sz = SeizureSpec(120.0, 180.0, generalizes=False)
    spec = _spec(
        config, [sz], lvfa=False, focus="T3", focus_xyz=[-1.0, 0.0, 0.0], pattern="rhythmic"
    )
    rec = generate_recording(spec, config)
    (info,) = rec.seizures
    assert info["onset_channels"], info
    assert all("T3" in ch for ch in info["onset_channels"])
    f0, f1 = info["freq_hz"]
    assert f0 > f1
    fs = rec.sfreq_hz
    for name in info["onset_channels"]:
        a, b = name.split("-")
        bip = rec.data[CH[a]] - rec.data[CH[b]]
        ictal = bip[int(135 * fs) : int(175 * fs)]
        before = bip[int(60 * fs) : int(100 * fs)]
        f, p_ictal = _psd(ictal, fs)
        _, p_before = _psd(before, fs)
        band = (f >= 1.5) & (f <= 12.0)
        peak = f[band][np.argmax(p_ictal[band])]
        assert f1 - 0.75 <= peak <= f0 + 0.75, (name, peak, f0, f1)
        assert p_ictal[band].sum() > 4.0 * p_before[band].sum()
    # far from the focus the seizure is absent or much weaker
    far = rec.data[CH["FP2"]] - rec.data[CH["F8"]]
    f, p_far = _psd(far[int(135 * fs) : int(175 * fs)], fs)
    onset = info["onset_channels"][0].split("-")
    near = rec.data[CH[onset[0]]] - rec.data[CH[onset[1]]]
    _, p_near = _psd(near[int(135 * fs) : int(175 * fs)], fs)
    assert p_far[band].sum() < 0.5 * p_near[band].sum()
    # annotations: seizure term event and fnsz on the onset channels from the onset
    seiz = [e for e in rec.term_events if e.label == "seiz"]
    assert [(e.start, e.stop) for e in seiz] == [(120.0, 180.0)]
    starts = {e.channel: e.start for e in rec.channel_events if e.label == "fnsz"}
    assert all(starts[ch] == pytest.approx(120.0, abs=1.0) for ch in info["onset_channels"])


def test_wendling_bank_regimes() -> None:
    bank = waveform_bank()
    assert set(bank.waves) == set(REGIMES)
    assert 3.0 < bank.native_hz["spike"] < 6.0
    assert 8.0 < bank.native_hz["rhythmic"] < 13.0
    assert bank.native_hz["lvfa"] > bank.native_hz["rhythmic"]
    spikes = bank.waves["spike"].astype(np.float64)
    skew = np.mean(spikes**3) / np.mean(spikes**2) ** 1.5
    assert abs(skew) > 0.3  # asymmetric, spiky morphology
    for w in bank.waves.values():
        assert w.std(axis=1) == pytest.approx(np.ones(w.shape[0]), rel=1e-3)


def test_generation_is_deterministic() -> None:
    config = SynthConfig(hours=1.0, patients=1)
    spec = _spec(config, [SeizureSpec(50.0, 80.0, True)])
    a = generate_recording(spec, config)
    b = generate_recording(spec, config)
    assert np.array_equal(a.data, b.data)
    assert a.channel_events == b.channel_events
