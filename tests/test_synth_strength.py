"""Per-seizure strength of the synthetic corpus (``synth.seizure_snr_range``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import seizure.synth.generate as G
from seizure.synth.config import SynthConfig
from seizure.synth.plan import SeizureSpec, plan_corpus


def _amplitudes(config: SynthConfig, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """Ictal amplitude of each of 10 seizures over ``seizure_uv * seizure_snr``."""
    seen: list[float] = []
    real = G.render_seizure

    def spy(*args, **kwargs):
        seen.append(float(args[6]))
        return real(*args, **kwargs)

    monkeypatch.setattr(G, "render_seizure", spy)
    spec = plan_corpus(config, seed=5)[0]
    seizures = tuple(SeizureSpec(20.0 + 25.0 * k, 30.0 + 25.0 * k, False) for k in range(10))
    spec = dataclasses.replace(spec, duration_s=300, sfreq_hz=256.0, seizures=seizures)
    rec = G.generate_recording(spec, config)
    assert len(rec.seizures) == len(seen) == 10
    return np.array(seen) / (spec.patient_traits["seizure_uv"] * config.seizure_snr)


def test_every_seizure_at_seizure_snr_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SynthConfig(hours=1.0, patients=1, artifact_rate=0.0, mimic_rate=0.0)
    assert config.seizure_snr_range == (1.0, 1.0)
    amp = _amplitudes(config, monkeypatch)
    assert np.all((amp >= 0.8) & (amp <= 1.2))  # the per-seizure jitter alone


def test_a_range_spreads_the_seizures_strength(monkeypatch: pytest.MonkeyPatch) -> None:
    config = SynthConfig(
        hours=1.0, patients=1, artifact_rate=0.0, mimic_rate=0.0, seizure_snr=0.5,
        seizure_snr_range=(0.25, 4.0),
    )  # fmt: skip
    amp = _amplitudes(config, monkeypatch)
    assert np.all((amp >= 0.25 * 0.8) & (amp <= 4.0 * 1.2))
    assert amp.max() / amp.min() > 3.0
    assert (amp < 0.8).any() and (amp > 1.2).any()


@pytest.mark.parametrize("pair", [(2.0, 1.0), (0.0, 1.0), (1.0, 1000.0)])
def test_a_bad_range_is_refused(pair: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="synth.seizure_snr_range"):
        SynthConfig(seizure_snr_range=pair)
