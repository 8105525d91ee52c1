"""A synthetic TUSZ-like corpus with known seizures (``seizure synth``).

Real seizure corpora cannot be shipped, so :func:`synthesize` writes one that has TUSZ v2's
form exactly (``edf/{train,dev,eval}/<patient>/<session>/01_tcp_ar/<patient>_<session>_<token>
.edf`` with ``.csv`` and ``.csv_bi`` beside each; 27 referential channels ``EEG FP1-REF`` ...
``EEG A1-REF``, ``EEG T1-REF``, ``EEG ROC-REF``, ``EEG LOC-REF``, ``EEG EKG1-REF``,
``PHOTIC-REF``; 250, 256 or 400 Hz; microvolts at 0.1 uV resolution) and EEG in which
finding the seizures takes more than an amplitude threshold.

The model
---------
Background
    Ten cortical sources with ``1/f**beta`` spectra (``beta`` 2.4-3.0 per patient, built by
    shaping Gaussian noise in the frequency domain) placed under the scalp and mixed into
    the electrodes with Gaussian weights of their distance on an approximate 10-20 sphere,
    plus weaker independent ``1/f**1.8`` noise per electrode. On the TCP channels the
    background slope over 2-30 Hz is about -1.9 to -2.3 (scalp EEG: about -2.5 to -1.8;
    :mod:`seizure.synth.realism` measures it). Amplitude 12-28 uV per source
    mixture (electrode standard deviation about 20-40 uV).
Alpha
    A posterior rhythm (O1/O2 strongest, then P3/P4, T5/T6, Pz) at 8.5-11.5 Hz per patient
    whose frequency drifts over minutes and jitters over seconds, and whose amplitude
    (12-35 uV) waxes and wanes, drops with eyes open and in drowsiness.
States
    Awake (eyes open or closed), drowsy and asleep stretches (``sleep_fraction``): alpha
    fades and slows, frontal-central delta/theta rises, sleep spindles, K-complexes and
    vertex waves appear, slow rolling eye movements in drowsiness.
Artefacts (``artifact_rate``)
    Blinks (FP1/FP2 80-200 uV, smaller on F and eye channels), saccades (F7/F8 and LOC/ROC of
    opposite sign), temporal and frontal muscle bursts (broadband), electrode pops and slow
    drifts on single electrodes, ECG on EKG1 leaking into A1/A2 and the temporal
    electrodes, 60 Hz mains (``line_noise_uv``: a level per recording, on the electrodes with
    poor contact only, per-channel amplitude and phase).
Mimics (``mimic_rate``)
    Rhythmic chewing (1-2 Hz temporal muscle bursts), rhythmic head or body movement
    (1.5-5 Hz, large, broad), high-amplitude alpha bursts, frontal intermittent rhythmic
    delta, photic stimulation with posterior driving at the flash rate.
Seizures
    Each patient has a seizure pattern (``seizure_mix``): *rhythmic* (described below),
    *fast* (sustained 12-30 Hz activity that raises beta and gamma power), *spike_wave*
    (generalised 2.5-4 Hz spike-and-wave from the first second, frontal maximum) or
    *tonic_clonic* (generalised: fast tonic activity, then clonic spikes slowing from 4 to
    1.5 Hz, with muscle artefact throughout). Ictal dynamics come from the Wendling et al.
    (2002) neural-mass model (Jansen-Rit with
    an added fast somatic inhibitory loop), simulated once per process in three regimes
    (low-voltage fast activity, quasi-sinusoidal rhythm, sustained spikes; see
    :mod:`seizure.synth.ictal`) and time-warped so that each seizure's discharge follows its
    own frequency trajectory, e.g. 8 Hz -> 3 Hz, while its morphology moves from sinusoidal
    to spike-and-wave (earlier for "sharp" patients). Some patients (``lvfa_probability``)
    start with a few seconds of low-voltage fast activity. Each patient has a focus (mostly
    temporal or frontal); the discharge appears first on the electrodes nearest it and
    spreads to neighbours over seconds, with small propagation lags; some seizures
    (``generalize_probability``) generalise to every electrode part-way through, sometimes
    with muscle artefact. Background on involved electrodes is attenuated; post-ictal
    attenuation and delta slowing follow for 20-180 s. Durations are drawn per patient in
    ``seizure_seconds`` (10-300 s by default); the ictal amplitude at the focus is 45-110 uV
    standard deviation per patient times ``seizure_snr``, times a per-seizure factor drawn
    log-uniformly in ``seizure_snr_range`` (``[1, 1]`` by default: none).
Annotations
    ``.csv_bi``: ``TERM`` rows, ``seiz`` events and ``bckg`` in between. ``.csv``: for each of
    the 22 TCP channels, ``fnsz`` (or ``gnsz`` when the seizure generalises, as spike-wave
    and tonic-clonic seizures always do) from the time
    one of its electrodes becomes involved to the end of the seizure, ``bckg`` elsewhere.

Harder or easier
----------------
Lower ``synth.seizure_snr`` (0.5: ictal rhythm near the background level), widen
``synth.seizure_snr_range`` (a few clear seizures and many faint ones), raise
``synth.artifact_rate`` and ``synth.mimic_rate`` (2-3), ``synth.lvfa_probability`` and
``synth.sleep_fraction``, shorten ``synth.seizure_seconds``, or lower
``synth.ictal_fraction`` for fewer positives. The shipped configs ``synth/easy`` and ``synth/hard``
are examples; ``synth/tiny`` makes minutes-long recordings for tests and demos;
``synth/benchmark`` is the calibrated benchmark corpus (``docs/benchmark.md``).

Determinism: the corpus plan comes from ``SeedSequence(seed)`` and each recording from
``SeedSequence(seed, spawn_key=(1, index))``; EDF header fields come from the plan, never
the clock. The same seed and options give byte-identical files whatever ``jobs`` is.

This module imports nothing heavy; :func:`synthesize` imports the generator when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from seizure.synth.config import SynthConfig
    from seizure.synth.corpus import SynthResult

__all__ = ["synthesize"]


def synthesize(
    out_dir: str | Path,
    config: SynthConfig | None = None,
    seed: int = 0,
    jobs: int = 1,
    progress: bool | None = None,
) -> SynthResult:
    """Write a synthetic TUSZ v2-like corpus into ``out_dir``.

    See :func:`seizure.synth.corpus.synthesize` for the parameters.
    """
    # seizure.config imports seizure.synth.config, so this package stays free of numpy
    from seizure.synth.corpus import synthesize as _synthesize

    return _synthesize(out_dir, config, seed=seed, jobs=jobs, progress=progress)
