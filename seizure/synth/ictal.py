"""Ictal dynamics: a Wendling et al. (2002) neural-mass waveform bank, time-warped into
evolving seizures that start at a focus and spread.

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


INVOLVED_GAIN = 0.4


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
        ``spread_s``.
    generalizes : bool
        Spread to all electrodes part-way through.
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
    # -- frequency trajectory: fast start slowing to the end (e.g. 8 Hz -> 3 Hz)
    f0 = patient["f_start_hz"] * rng.uniform(0.9, 1.1)
    f1 = min(patient["f_end_hz"] * rng.uniform(0.9, 1.1), 0.9 * f0)
    coarse_t = np.arange(0.0, d + 1.0, 0.5)
    jitter = np.interp(t, coarse_t, rng.normal(0.0, 0.06, coarse_t.size))
    freq = (f1 + (f0 - f1) * np.exp(-t / (0.35 * d))) * (1.0 + jitter)
    lvfa_s = min(rng.uniform(2.0, 6.0), 0.3 * d) if patient["lvfa"] else 0.0
    # -- regime weights
    sharp = patient["sharpness"]
    m_start, m_stop = (0.0, 0.3) if sharp > 0.5 else (0.25, 0.8)
    spike_w = smoothstep((t / d - m_start) / (m_stop - m_start)) * (0.5 + 0.5 * sharp)
    lv_w = 1.0 - smoothstep((t - lvfa_s) / 1.0) if lvfa_s > 0 else np.zeros(n)
    rest = 1.0 - lv_w
    f_fast = rng.uniform(14.0, 24.0)

    def composite() -> np.ndarray:
        w = (rest * (1 - spike_w)).astype(np.float32) * read_warped(rng, "rhythmic", freq, fs)
        w += (rest * spike_w).astype(np.float32) * read_warped(rng, "spike", freq, fs)
        if lvfa_s > 0:
            k = min(n, int((lvfa_s + 1.5) * fs))
            fast = read_warped(rng, "lvfa", np.full(k, f_fast), fs)
            w[:k] += lv_w[:k].astype(np.float32) * fast
        return w

    # two realisations with the same rhythm: electrodes mix them in proportions that change
    # with distance from the focus, so the field is not uniform and bipolar pairs see it
    waves = np.stack([composite(), composite()])
    # -- amplitude envelope: low-voltage or ramping onset, growth as it slows, abrupt end
    ramp_s = rng.uniform(2.0, 6.0)
    onset_level = 0.25 if lvfa_s > 0 else 0.35
    env = onset_level + (1 - onset_level) * smoothstep((t - lvfa_s) / ramp_s)
    env *= (f0 / freq) ** 0.3
    env *= 1.0 + np.interp(t, coarse_t, rng.normal(0.0, 0.12, coarse_t.size))
    end_s = min(rng.uniform(1.0, 4.0), 0.2 * d)
    env *= 1.0 - smoothstep((t - (d - end_s)) / end_s)
    waves *= (patient["polarity"] * amplitude_uv * env).astype(np.float32)
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
        t_gen = rng.uniform(0.2, 0.5) * d
        level = smoothstep((grid - t_gen) / rng.uniform(2.0, 8.0)) * rng.uniform(0.7, 0.95)
        hetero = rng.uniform(0.6, 1.0, dist.size)
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
    )
