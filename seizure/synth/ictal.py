"""Ictal dynamics: a Wendling et al. (2002) neural-mass waveform bank.

Its waveforms are time-warped into evolving seizures that start at a focus and spread.

The Wendling model is the Jansen-Rit cortical column (pyramidal cells, excitatory
interneurons, slow dendritic inhibition) plus a fast somatic inhibitory population. Three
parameter sets give the activities a scalp seizure moves through (Wendling et al., 2002,
Fig. 3; A, B, G are the excitatory, slow and fast inhibitory synaptic gains in mV):

============  ===  ===  ===  =========================================
regime         A    B    G   activity (native frequency, measured)
============  ===  ===  ===  =========================================
``lvfa``        5    5   25   low-voltage fast activity (broad, ~15 Hz)
``rhythmic``    5   15    0   quasi-sinusoidal rhythm (~10 Hz)
``spike``       5   25   15   sustained spikes / spike-and-wave (~4.5 Hz)
============  ===  ===  ===  =========================================

The model is integrated once per process (Euler, 1 ms step, Gaussian input of mean 90 and
s.d. 30 pulses/s, two 24 s realisations per regime: about 0.5 s of CPU), each output
high-passed and scaled to unit variance. A seizure of any length is then read from the bank
through a time warp that makes its instantaneous frequency follow the seizure's trajectory
(e.g. 8 Hz -> 3 Hz), in chunks taken from random bank offsets and cross-faded, so no
per-sample Python loop runs per seizure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

#: (A, B, G) of each regime of the bank.
REGIMES: dict[str, tuple[float, float, float]] = {
    "lvfa": (5.0, 5.0, 25.0),
    "rhythmic": (5.0, 15.0, 0.0),
    "spike": (5.0, 25.0, 15.0),
}
BANK_FS_HZ = 1000.0
_BANK_SECONDS = 15.0
_BANK_TRANSIENT_S = 1.0
_CHUNK_S = 6.0
_FADE_S = 0.5


def simulate_wendling(
    a_gain: np.ndarray,
    b_gain: np.ndarray,
    g_gain: np.ndarray,
    seconds: float,
    seed: int = 0,
    dt: float = 1e-3,
) -> np.ndarray:
    """Integrate the Wendling et al. (2002) model for several parameter sets at once.

    Parameters
    ----------
    a_gain, b_gain, g_gain : ndarray, shape (k,)
        Excitatory, slow inhibitory and fast inhibitory synaptic gains in mV.
    seconds : float
        Simulated time in seconds.
    seed : int
        Seed of the Gaussian input p(t) (mean 90, s.d. 30 pulses/s).
    dt : float
        Euler step in seconds (the fast inhibitory rate g = 500/s needs dt <= 1 ms).

    Returns
    -------
    ndarray, shape (round(seconds / dt), k)
        The pyramidal membrane potential y1 - y2 - y3 in mV (the simulated LFP/EEG).
    """
    a_gain, b_gain, g_gain = (np.asarray(v, dtype=np.float64) for v in (a_gain, b_gain, g_gain))
    k = a_gain.size
    rng = np.random.default_rng(seed)
    a, b, g = 100.0, 50.0, 500.0
    c = 135.0
    c1, c2, c3, c4, c5, c6, c7 = c, 0.8 * c, 0.25 * c, 0.25 * c, 0.3 * c, 0.1 * c, 0.8 * c
    e0, v0, r = 2.5, 6.0, 0.56
    n = int(round(seconds / dt))
    p = 90.0 + 30.0 * rng.standard_normal((n, k))
    # state: PSPs y0..y4 and their derivatives y5..y9, one column per parameter set
    y = np.zeros((5, k))
    dy = np.zeros((5, k))
    v = np.empty((4, k))
    out = np.empty((n, k))
    drive = np.stack([a_gain * a, a_gain * a, b_gain * b * c4, g_gain * g * c7, b_gain * b])
    rate = np.array([a, a, b, g, b])[:, None]
    for i in range(n):
        # firing rates of the four populations (one vectorised sigmoid)
        v[0] = y[1] - y[2] - y[3]
        v[1] = c1 * y[0]
        v[2] = c3 * y[0]
        v[3] = c5 * y[0] - c6 * y[4]
        s = 2.0 * e0 / (1.0 + np.exp(r * (v0 - v)))
        inp = np.stack([s[0], p[i] + c2 * s[1], s[2], s[3], s[2]])
        acc = drive * inp - 2.0 * rate * dy - rate * rate * y
        y += dt * dy
        dy += dt * acc
        out[i] = y[1] - y[2] - y[3]
    return out


@dataclass(frozen=True)
class WaveformBank:
    """Unit-variance Wendling waveforms per regime.

    Attributes
    ----------
    waves : dict of str to ndarray, shape (n_realisations, n_samples)
        Sampled at :data:`BANK_FS_HZ`.
    native_hz : dict of str to float
        Peak frequency of each regime in Hz (from a Welch spectrum).
    """

    waves: dict[str, np.ndarray]
    native_hz: dict[str, float]


@functools.lru_cache(maxsize=1)
def waveform_bank() -> WaveformBank:
    """Simulate (once per process) and return the :class:`WaveformBank`."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import welch

    names = list(REGIMES)
    params = np.array([REGIMES[n] for n in names for _ in range(2)])
    raw = simulate_wendling(params[:, 0], params[:, 1], params[:, 2], _BANK_SECONDS, seed=2002)
    raw = raw[int(_BANK_TRANSIENT_S * BANK_FS_HZ) :].T
    raw = raw - uniform_filter1d(raw, size=int(BANK_FS_HZ), axis=1, mode="reflect")
    raw /= raw.std(axis=1, keepdims=True)
    waves, native = {}, {}
    for i, name in enumerate(names):
        block = raw[2 * i : 2 * i + 2]
        f, pxx = welch(block, fs=BANK_FS_HZ, nperseg=4096, axis=1)
        spec = pxx.mean(axis=0)
        if name == "lvfa":  # broadband: use the power-weighted mean frequency in 5-40 Hz
            band = (f > 5.0) & (f < 40.0)
            native[name] = float((f[band] * spec[band]).sum() / spec[band].sum())
        else:
            band = (f > 1.0) & (f < 40.0)
            native[name] = float(f[band][np.argmax(spec[band])])
        waves[name] = block.astype(np.float32)
    return WaveformBank(waves=waves, native_hz=native)


def read_warped(
    rng: np.random.Generator, regime: str, freq_hz: np.ndarray, fs: float
) -> np.ndarray:
    """Read a bank regime so that its rhythm follows ``freq_hz``.

    Parameters
    ----------
    rng : Generator
        Picks the bank realisation and offset of each chunk.
    regime : str
        A key of :data:`REGIMES`.
    freq_hz : ndarray, shape (n,)
        Wanted instantaneous frequency at each output sample, in Hz.
    fs : float
        Output sampling rate in Hz.

    Returns
    -------
    ndarray of float32, shape (n,)
        Unit-variance waveform.
    """
    bank = waveform_bank()
    waves = bank.waves[regime]
    n_real, n_bank = waves.shape
    # bank time (seconds) advanced at each output sample
    tau = np.cumsum(freq_hz / bank.native_hz[regime]) / fs
    chunk = np.floor(tau / _CHUNK_S).astype(np.int64)
    n_chunks = int(chunk[-1]) + 2 if len(chunk) else 1
    max_off = n_bank / BANK_FS_HZ - _CHUNK_S - _FADE_S - 0.1
    offsets = rng.uniform(0.0, max_off, n_chunks)
    which = rng.integers(0, n_real, n_chunks)
    flat = waves.reshape(-1)
    local = tau - chunk * _CHUNK_S

    def read(idx: np.ndarray, pos_s: np.ndarray) -> np.ndarray:
        pos = (offsets[idx] + pos_s) * BANK_FS_HZ
        i0 = np.floor(pos).astype(np.int64)
        frac = (pos - i0).astype(np.float32)
        base = which[idx] * n_bank + i0
        return flat[base] * (1 - frac) + flat[base + 1] * frac

    out = read(chunk, local)
    # cross-fade: the previous chunk continues through the first _FADE_S of each chunk
    fade = (local < _FADE_S) & (chunk > 0)
    if fade.any():
        prev = read(chunk[fade] - 1, local[fade] + _CHUNK_S)
        w = (0.5 - 0.5 * np.cos(np.pi * local[fade] / _FADE_S)).astype(np.float32)
        out[fade] = w * out[fade] + (1 - w) * prev
    return out.astype(np.float32)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a cosine ramp between."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


@dataclass
class IctalEvent:
    """One rendered seizure.

    Attributes
    ----------
    signal : ndarray of float32, shape (n_electrodes, n)
        Ictal activity per electrode (``layout.ELECTRODES`` order) in microvolts.
    gain : ndarray of float32, shape (n_electrodes, n)
        Spatial involvement of each electrode over time, in [0, 1].
    onset_s : ndarray, shape (n_electrodes,)
        Seconds from seizure onset at which each electrode becomes involved (gain >= 0.4);
        ``inf`` for electrodes never involved.
    freq_hz : ndarray, shape (n,)
        Instantaneous frequency of the main discharge (after the fast onset, if any).
    pattern : str
        One of :data:`PATTERNS`.
    lvfa_s : float
        Length of the low-voltage fast onset in seconds (0 when none).
    generalizes : bool
        Whether the seizure generalised.
    """

    signal: np.ndarray
    gain: np.ndarray
    onset_s: np.ndarray
    freq_hz: np.ndarray
    lvfa_s: float
    generalizes: bool
    pattern: str = "rhythmic"


INVOLVED_GAIN = 0.4

#: Seizure patterns (electrographic types), see :func:`render_seizure`.
PATTERNS: tuple[str, ...] = ("rhythmic", "fast", "spike_wave", "tonic_clonic")
#: Patterns that involve both hemispheres (labelled ``gnsz``).
GENERALIZED_PATTERNS: frozenset[str] = frozenset({"spike_wave", "tonic_clonic"})


def _lvfa_onset(rng: np.random.Generator, t: np.ndarray, d: float, patient: dict):
    """Length of a low-voltage fast onset (s), its weight over time, and its frequency."""
    lvfa_s = min(rng.uniform(2.0, 6.0), 0.3 * d) if patient["lvfa"] else 0.0
    lv_w = 1.0 - smoothstep((t - lvfa_s) / 1.0) if lvfa_s > 0 else np.zeros(t.size)
    return lvfa_s, lv_w, rng.uniform(14.0, 24.0)


def _two(rng: np.random.Generator, make) -> np.ndarray:
    """Two realisations of one rhythm (electrodes mix them, so bipolar pairs see a field)."""
    return np.stack([make(), make()])


def _rhythmic(rng, t, d, patient, jitter, fs):
    """Make a rhythmic theta/delta discharge slowing over the seizure (e.g. 8 Hz -> 3 Hz).

    Its morphology moves from sinusoidal to spike-and-wave; optional low-voltage fast onset.
    """
    n = t.size
    f0 = patient["f_start_hz"] * rng.uniform(0.9, 1.1)
    f1 = min(patient["f_end_hz"] * rng.uniform(0.9, 1.1), 0.9 * f0)
    freq = (f1 + (f0 - f1) * np.exp(-t / (0.35 * d))) * (1.0 + jitter)
    lvfa_s, lv_w, f_fast = _lvfa_onset(rng, t, d, patient)
    sharp = patient["sharpness"]
    m_start, m_stop = (0.0, 0.3) if sharp > 0.5 else (0.25, 0.8)
    spike_w = smoothstep((t / d - m_start) / (m_stop - m_start)) * (0.5 + 0.5 * sharp)
    rest = 1.0 - lv_w

    def composite() -> np.ndarray:
        w = (rest * (1 - spike_w)).astype(np.float32) * read_warped(rng, "rhythmic", freq, fs)
        w += (rest * spike_w).astype(np.float32) * read_warped(rng, "spike", freq, fs)
        if lvfa_s > 0:
            k = min(n, int((lvfa_s + 1.5) * fs))
            fast = read_warped(rng, "lvfa", np.full(k, f_fast), fs)
            w[:k] += lv_w[:k].astype(np.float32) * fast
        return w

    waves = _two(rng, composite)
    ramp_s = rng.uniform(2.0, 6.0)
    onset_level = 0.25 if lvfa_s > 0 else 0.35
    env = onset_level + (1 - onset_level) * smoothstep((t - lvfa_s) / ramp_s)
    env *= (f0 / freq) ** 0.3
    return waves, freq, lvfa_s, env


def _fast(rng, t, d, patient, jitter, fs):
    """Make sustained beta/low-gamma activity (20-30 Hz slowing to 12-16 Hz).

    It raises beta and gamma power, lower in voltage than a rhythmic discharge, and turns
    rhythmic at the end.
    """
    f0, f1 = rng.uniform(20.0, 30.0), rng.uniform(12.0, 16.0)
    fast_f = (f1 + (f0 - f1) * np.exp(-t / (0.5 * d))) * (1.0 + jitter)
    slow_f = np.full(t.size, patient["f_end_hz"] * 1.5) * (1.0 + jitter)
    late = 0.6 * smoothstep((t / d - 0.6) / 0.3)

    def composite() -> np.ndarray:
        w = (1 - late).astype(np.float32) * read_warped(rng, "lvfa", fast_f, fs)
        w += late.astype(np.float32) * read_warped(rng, "rhythmic", slow_f, fs)
        return w

    waves = _two(rng, composite)
    env = (0.3 + 0.3 * smoothstep(t / rng.uniform(2.0, 6.0))) * (1.0 + 1.2 * late)
    return waves, fast_f, 0.0, env


def _spike_wave(rng, t, d, patient, jitter, fs):
    """Generalised 2.5-4 Hz spike-and-wave from the first second, slowing a little."""
    f0 = rng.uniform(3.0, 4.0)
    freq = f0 * (1.0 - 0.2 * t / d) * (1.0 + 0.5 * jitter)
    waves = _two(rng, lambda: read_warped(rng, "spike", freq, fs))
    env = 0.5 + 0.5 * smoothstep(t / rng.uniform(0.5, 1.5))
    return waves, freq, 0.0, env * 1.3


def _tonic_clonic(rng, t, d, patient, jitter, fs):
    """Make a tonic phase of fast activity (15-25 Hz) growing in voltage, then clonic bursts.

    The clonic spikes slow from 4 to 1.5 Hz (muscle artefact is added by the recording).
    """
    t_tonic = rng.uniform(0.25, 0.45) * d
    f_tonic = rng.uniform(15.0, 25.0)
    clonic_f = 1.5 + 2.5 * np.exp(-np.clip(t - t_tonic, 0.0, None) / (0.4 * d))
    freq = np.where(t < t_tonic, f_tonic, clonic_f) * (1.0 + jitter)
    clonic = smoothstep((t - t_tonic) / 2.0)

    def composite() -> np.ndarray:
        w = (1 - clonic).astype(np.float32) * read_warped(rng, "lvfa", np.full(t.size, f_tonic), fs)
        w += clonic.astype(np.float32) * read_warped(rng, "spike", clonic_f, fs)
        return w

    waves = _two(rng, composite)
    env = (0.35 + 0.45 * smoothstep(t / max(t_tonic, 1.0))) * (1.0 + 0.5 * clonic)
    return waves, freq, 0.0, env


_PATTERN_RENDERERS = {
    "rhythmic": _rhythmic,
    "fast": _fast,
    "spike_wave": _spike_wave,
    "tonic_clonic": _tonic_clonic,
}


def render_seizure(
    rng: np.random.Generator,
    duration_s: float,
    fs: float,
    patient: dict,
    generalizes: bool,
    electrode_xyz: np.ndarray,
    amplitude_uv: float,
) -> IctalEvent:
    """Render one seizure: evolving rhythm, focal onset, spread, optional generalisation.

    Parameters
    ----------
    rng : Generator
    duration_s : float
        Seizure length in seconds.
    fs : float
        Sampling rate in Hz.
    patient : dict
        Patient traits: ``focus_xyz`` (3,), ``f_start_hz``, ``f_end_hz``, ``lvfa`` (bool),
        ``sharpness`` in [0, 1] (how early spikes replace the sinusoidal rhythm),
        ``polarity`` (+1/-1), ``sigma0``, ``sigma1`` (spatial spread, chord units),
        ``spread_s``, and ``pattern`` (one of :data:`PATTERNS`; ``rhythmic`` when absent).
    generalizes : bool
        Spread to all electrodes part-way through (always, for the generalised patterns).
    electrode_xyz : ndarray, shape (n_electrodes, 3)
    amplitude_uv : float
        Peak ictal amplitude scale (standard deviation at the focus) in microvolts.

    Returns
    -------
    IctalEvent
    """
    n = max(int(round(duration_s * fs)), 2)
    t = np.arange(n) / fs
    d = duration_s
    pattern = patient.get("pattern", "rhythmic")
    if pattern not in PATTERNS:
        raise ValueError(f"unknown seizure pattern {pattern!r}; expected one of {PATTERNS}")
    coarse_t = np.arange(0.0, d + 1.0, 0.5)
    jitter = np.interp(t, coarse_t, rng.normal(0.0, 0.06, coarse_t.size))
    waves, freq, lvfa_s, env = _PATTERN_RENDERERS[pattern](rng, t, d, patient, jitter, fs)
    env = env * (1.0 + np.interp(t, coarse_t, rng.normal(0.0, 0.12, coarse_t.size)))
    end_s = min(rng.uniform(1.0, 4.0), 0.2 * d)
    env *= 1.0 - smoothstep((t - (d - end_s)) / end_s)
    waves *= (patient["polarity"] * amplitude_uv * env).astype(np.float32)
    if pattern in GENERALIZED_PATTERNS:
        generalizes = True
    # -- spatial spread on a coarse grid
    dist = np.linalg.norm(electrode_xyz - np.asarray(patient["focus_xyz"])[None, :], axis=1)
    grid = np.arange(0.0, d + 0.1, 0.1)
    sigma = patient["sigma0"] + (patient["sigma1"] - patient["sigma0"]) * smoothstep(
        grid / patient["spread_s"]
    )
    # relative to the electrode nearest the focus, which is involved from the first sample
    rel = dist**2 - (dist**2).min()
    gain = np.exp(-rel[:, None] / (2 * sigma[None, :] ** 2))
    if generalizes:
        if pattern == "spike_wave":  # generalised from the start, frontal maximum
            t_gen, rise = 0.0, rng.uniform(0.3, 1.0)
        elif pattern == "tonic_clonic":
            t_gen, rise = rng.uniform(0.0, 0.1) * d, rng.uniform(1.0, 3.0)
        else:
            t_gen, rise = rng.uniform(0.2, 0.5) * d, rng.uniform(2.0, 8.0)
        level = smoothstep((grid - t_gen) / rise) * rng.uniform(0.7, 0.95)
        hetero = rng.uniform(0.6, 1.0, dist.size)
        if pattern == "spike_wave":
            hetero *= np.clip(0.75 + 0.35 * electrode_xyz[:, 1], 0.4, 1.0)
        gain = np.maximum(gain, level[None, :] * hetero[:, None])
    gain *= rng.uniform(0.85, 1.15, dist.size)[:, None]
    gain = np.clip(gain, 0.0, 1.0)
    gain[np.argmin(dist)] = np.maximum(gain[np.argmin(dist)], 0.9)
    involved = gain >= INVOLVED_GAIN
    onset = np.where(involved.any(axis=1), grid[np.argmax(involved, axis=1)], np.inf)
    # -- per-electrode propagation lag, read by interpolation
    lag_s = dist * rng.uniform(0.04, 0.12) + rng.uniform(0.0, 0.02, dist.size)
    theta = dist * rng.uniform(1.5, 3.0) + rng.normal(0.0, 0.3, dist.size)
    signal = np.empty((dist.size, n), dtype=np.float32)
    gain_full = np.empty((dist.size, n), dtype=np.float32)
    for e in range(dist.size):
        gain_full[e] = np.interp(t, grid, gain[e])
        wave = np.cos(theta[e]) * waves[0] + np.sin(theta[e]) * waves[1]
        signal[e] = np.interp(t - lag_s[e], t, wave, left=0.0) * gain_full[e]
    return IctalEvent(
        signal=signal,
        gain=gain_full,
        onset_s=onset,
        freq_hz=freq,
        lvfa_s=lvfa_s,
        generalizes=generalizes,
        pattern=pattern,
    )
