"""Configuration of ``seizure synth`` (section ``synth``). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass


def _check_range(name: str, pair: tuple[float, float], low: float, high: float) -> None:
    a, b = pair
    if not (low <= a <= b <= high):
        raise ValueError(
            f"Invalid value for 'synth.{name}': expected [min, max] with {low:g} <= min <= max "
            f"<= {high:g}, got [{a:g}, {b:g}] instead"
        )


def _check_fraction(name: str, value: float, high: float = 1.0) -> None:
    if not 0.0 <= value <= high:
        raise ValueError(
            f"Invalid value for 'synth.{name}': expected a number in [0, {high:g}], "
            f"got {value!r} instead"
        )


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of the synthetic corpus (see :mod:`seizure.synth` for the model).

    The knobs that set how hard detection is are ``seizure_snr`` (lower: harder),
    ``artifact_rate`` and ``mimic_rate`` (higher: harder), ``lvfa_probability`` (higher:
    harder, low-voltage onsets), ``sleep_fraction`` and ``line_noise_uv``.

    Parameters
    ----------
    hours : float
        Total hours of EEG to write (> 0).
    patients : int
        Number of patients, split across train/dev/eval (>= 1).
    ictal_fraction : float
        Target fraction of time that is ictal over the whole corpus, in [0, 0.5].
    recording_minutes : (float, float)
        Range of recording lengths in minutes; lengths are drawn uniformly in it.
    seizure_seconds : (float, float)
        Range of seizure durations in seconds (each patient has its own typical duration
        inside this range).
    seizure_free_fraction : float
        Fraction of recordings that hold no seizure at all (at least one recording holds a
        seizure whenever ``ictal_fraction > 0``, and at least one holds none when there are
        two or more recordings and this is > 0).
    split_fractions : (float, float, float)
        Share of patients in train, dev and eval. Every split gets at least one patient when
        there are three or more.
    sfreq_hz : tuple of float
        Sampling rates drawn from, one per recording, in Hz.
    generalize_probability : float
        Probability that a seizure generalises (labelled ``gnsz`` instead of ``fnsz``).
    lvfa_probability : float
        Probability that a patient's rhythmic seizures start with low-voltage fast activity.
    seizure_mix : (float, float, float, float)
        Relative weights of the patients' seizure patterns: rhythmic theta/delta evolving in
        frequency, sustained fast (beta/gamma) activity, generalised spike-and-wave, and
        generalised tonic-clonic with muscle artefact (see :mod:`seizure.synth.ictal`).
    seizure_snr : float
        Multiplier of the ictal amplitude (1.0: ictal rhythm about 2-6 times the background
        standard deviation at the focus once established).
    seizure_snr_range : (float, float)
        Range of a per-seizure factor on ``seizure_snr``, drawn log-uniformly (``[1, 1]``:
        every seizure at ``seizure_snr``). A wide range makes a few seizures clear and many
        faint, as in real recordings.
    artifact_rate : float
        Multiplier of the rates of blinks, eye movements, muscle bursts, electrode pops and
        drifts (0 disables them).
    mimic_rate : float
        Multiplier of the rate of seizure mimics: rhythmic chewing and head movement,
        high-amplitude alpha bursts, frontal rhythmic delta, photic driving (0 disables them).
    sleep_fraction : float
        Expected fraction of time in drowsiness or sleep (alpha drops out, delta rises).
    line_noise_uv : float
        Typical amplitude of the mains interference in microvolts on the electrodes that
        pick it up (0 disables it); a recording's level varies about it tenfold, and each
        electrode picks it up with its own probability (poor contact), so many channels are
        free of it.
    line_freq_hz : float
        Mains frequency in Hz.
    """

    hours: float = 2.0
    patients: int = 10
    ictal_fraction: float = 0.08
    recording_minutes: tuple[float, float] = (5.0, 60.0)
    seizure_seconds: tuple[float, float] = (10.0, 300.0)
    seizure_free_fraction: float = 0.4
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    sfreq_hz: tuple[float, ...] = (250.0, 256.0, 400.0)
    generalize_probability: float = 0.3
    lvfa_probability: float = 0.4
    seizure_mix: tuple[float, float, float, float] = (0.45, 0.2, 0.15, 0.2)
    seizure_snr: float = 1.0
    seizure_snr_range: tuple[float, float] = (1.0, 1.0)
    artifact_rate: float = 1.0
    mimic_rate: float = 1.0
    sleep_fraction: float = 0.25
    line_noise_uv: float = 1.0
    line_freq_hz: float = 60.0

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError(f"Invalid value for 'synth.hours': expected > 0, got {self.hours}")
        if self.patients < 1:
            raise ValueError(
                f"Invalid value for 'synth.patients': expected >= 1, got {self.patients}"
            )
        _check_fraction("ictal_fraction", self.ictal_fraction, 0.5)
        _check_range("recording_minutes", self.recording_minutes, 0.1, 24 * 60.0)
        _check_range("seizure_seconds", self.seizure_seconds, 1.0, 3600.0)
        if self.seizure_seconds[0] > 0.5 * 60.0 * self.recording_minutes[0]:
            raise ValueError(
                "Invalid value for 'synth.seizure_seconds': the shortest seizure "
                f"({self.seizure_seconds[0]:g} s) must fit in half the shortest recording "
                f"({self.recording_minutes[0]:g} min)"
            )
        _check_fraction("seizure_free_fraction", self.seizure_free_fraction)
        if len(self.split_fractions) != 3 or min(self.split_fractions) < 0:
            raise ValueError(
                "Invalid value for 'synth.split_fractions': expected three shares >= 0 "
                f"(train, dev, eval), got {list(self.split_fractions)} instead"
            )
        if sum(self.split_fractions) <= 0 or self.split_fractions[0] <= 0:
            raise ValueError(
                "Invalid value for 'synth.split_fractions': the train share must be > 0, "
                f"got {list(self.split_fractions)} instead"
            )
        if not self.sfreq_hz or any(not 100.0 <= f <= 2048.0 for f in self.sfreq_hz):
            raise ValueError(
                "Invalid value for 'synth.sfreq_hz': expected rates in [100, 2048] Hz, "
                f"got {list(self.sfreq_hz)} instead"
            )
        if any(float(f) != int(f) for f in self.sfreq_hz):
            raise ValueError(
                "Invalid value for 'synth.sfreq_hz': rates must be whole numbers of Hz "
                f"(one-second EDF records), got {list(self.sfreq_hz)} instead"
            )
        _check_fraction("generalize_probability", self.generalize_probability)
        _check_fraction("lvfa_probability", self.lvfa_probability)
        if len(self.seizure_mix) != 4 or min(self.seizure_mix) < 0 or sum(self.seizure_mix) <= 0:
            raise ValueError(
                "Invalid value for 'synth.seizure_mix': expected four weights >= 0 with a "
                "positive sum (rhythmic, fast, spike_wave, tonic_clonic), got "
                f"{list(self.seizure_mix)} instead"
            )
        _check_range("seizure_snr_range", self.seizure_snr_range, 0.01, 100.0)
        _check_fraction("sleep_fraction", self.sleep_fraction)
        for name in ("seizure_snr", "artifact_rate", "mimic_rate", "line_noise_uv"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"Invalid value for 'synth.{name}': expected >= 0, got {getattr(self, name)}"
                )
        if not 0 < self.line_freq_hz < min(self.sfreq_hz) / 2:
            raise ValueError(
                "Invalid value for 'synth.line_freq_hz': expected 0 < f < the lowest Nyquist "
                f"frequency ({min(self.sfreq_hz) / 2:g} Hz), got {self.line_freq_hz}"
            )
