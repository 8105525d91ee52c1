"""Generate the signals and annotations of one planned recording (no file I/O here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from seizure.io.events import BACKGROUND, SEIZURE, TERM, Event
from seizure.synth.config import SynthConfig
from seizure.synth.ictal import render_seizure
from seizure.synth.layout import CHANNELS, ELECTRODES, TCP_PAIRS, positions, weights
from seizure.synth.plan import RecordingSpec
from seizure.synth.signals import (
    coarse_noise,
    colored_noise,
    impulse_train,
    poisson_times,
    raised_cosine_window,
    upsample,
)

#: Physical range written to the EDF, in microvolts (0.1 uV per digital step).
PHYSICAL_RANGE_UV = (-3276.8, 3276.7)

_HOUR = 3600.0
_STEP_S = 0.25  # resolution of the slow state envelopes
_CH = {name: i for i, name in enumerate(CHANNELS)}
_EEG_ROWS = np.array([_CH[e] for e in ELECTRODES])
_N_CORTICAL = 10

_ALPHA_LEFT = {"O1": 1.0, "P3": 0.7, "T5": 0.55, "PZ": 0.45, "C3": 0.2, "T3": 0.15, "CZ": 0.1}
_ALPHA_RIGHT = {"O2": 1.0, "P4": 0.7, "T6": 0.55, "PZ": 0.45, "C4": 0.2, "T4": 0.15, "CZ": 0.1}
_BLINK = {"FP1": 1.0, "FP2": 1.0, "FZ": 0.4, "F3": 0.35, "F4": 0.35, "F7": 0.45, "F8": 0.45}
_BLINK |= {"LOC": 0.55, "ROC": 0.55, "T1": 0.15, "T2": 0.15, "C3": 0.08, "C4": 0.08}
_HEOG = {"F7": 1.0, "F8": -1.0, "LOC": 1.3, "ROC": -1.3, "T1": 0.45, "T2": -0.45}
_HEOG |= {"FP1": 0.35, "FP2": -0.35, "T3": 0.2, "T4": -0.2}
_CENTRAL = {"CZ": 1.0, "C3": 0.8, "C4": 0.8, "FZ": 0.7, "F3": 0.5, "F4": 0.5, "PZ": 0.5}
_CENTRAL |= {"P3": 0.35, "P4": 0.35}
_FRONTAL = {"FP1": 0.8, "FP2": 0.8, "F3": 1.0, "F4": 1.0, "FZ": 1.0, "F7": 0.7, "F8": 0.7}
_FRONTAL |= {"C3": 0.4, "C4": 0.4, "CZ": 0.4, "T1": 0.3, "T2": 0.3}
_POSTERIOR = {"O1": 1.0, "O2": 1.0, "P3": 0.6, "P4": 0.6, "PZ": 0.5, "T5": 0.5, "T6": 0.5}
_MUSCLE_GROUPS = (
    ("F7", "T3", "T5", "T1", "A1"),
    ("F8", "T4", "T6", "T2", "A2"),
    ("FP1", "FP2", "F7", "F8", "F3", "F4"),
)
_POP_WEIGHTS = {e: 1.0 for e in ELECTRODES} | {"T3": 2.0, "T4": 2.0, "A1": 3.0, "A2": 3.0}
_PHOTIC_HZ = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 24.0, 30.0)


@dataclass
class GeneratedRecording:
    """Signals and ground truth of one synthetic recording.

    Attributes
    ----------
    spec : RecordingSpec
    data : ndarray of float32, shape (len(CHANNELS), n_samples)
        Referential signals in microvolts, channel order :data:`layout.CHANNELS`.
    sfreq_hz : float
    term_events : list of Event
        ``TERM`` rows for the ``.csv_bi``: ``seiz`` events and the ``bckg`` gaps between.
    channel_events : list of Event
        Per-channel rows for the ``.csv``: for each TCP channel, seizure-type events where
        the channel is involved and ``bckg`` elsewhere.
    seizures : list of dict
        Per seizure: ``start_s``, ``stop_s``, ``label``, ``onset_channels`` (TCP channels
        involved within 1 s of onset), ``freq_hz`` (start and end of the discharge),
        ``lvfa_s``, ``pattern`` (see :data:`seizure.synth.ictal.PATTERNS`).
    """

    spec: RecordingSpec
    data: np.ndarray
    sfreq_hz: float
    term_events: list[Event] = field(default_factory=list)
    channel_events: list[Event] = field(default_factory=list)
    seizures: list[dict] = field(default_factory=list)


def _dwell_sequence(rng: np.random.Generator, m: int, mean_steps: float, draw_state) -> np.ndarray:
    """Piecewise-constant sequence of ``m`` values with exponential dwell times."""
    out = np.empty(m)
    i = 0
    while i < m:
        k = max(1, int(rng.exponential(mean_steps)))
        out[i : i + k] = draw_state()
        i += k
    return out


def _smooth(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return x
    pad = np.pad(x, (k // 2, k - 1 - k // 2), mode="edge")
    return np.convolve(pad, np.ones(k) / k, mode="valid")


def _fill_background(events: list[Event], duration: float, channel: str) -> list[Event]:
    """Insert ``bckg`` rows in the gaps between sorted events (TUSZ reference files do)."""
    out, t = [], 0.0
    for ev in sorted(events, key=lambda e: (e.start, e.stop)):
        if ev.start > t:
            out.append(Event(t, ev.start, BACKGROUND, channel))
        out.append(ev)
        t = max(t, ev.stop)
    if t < duration:
        out.append(Event(t, float(duration), BACKGROUND, channel))
    return out


def generate_recording(spec: RecordingSpec, config: SynthConfig) -> GeneratedRecording:
    """Generate one recording's signals and annotations from its plan.

    Parameters
    ----------
    spec : RecordingSpec
        From :func:`seizure.synth.plan.plan_corpus`.
    config : SynthConfig

    Returns
    -------
    GeneratedRecording
    """
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(1, spec.index)))
    tr = spec.patient_traits
    fs = float(spec.sfreq_hz)
    dur = float(spec.duration_s)
    n = int(round(dur * fs))
    n_ch = len(CHANNELS)
    art = config.artifact_rate * tr["artifact_proneness"]
    mim = config.mimic_rate * tr["mimic_proneness"]
    elec_xyz = positions(ELECTRODES)
    t_coarse = np.arange(int(math.ceil(dur / _STEP_S)) + 2) * _STEP_S

    # ---------------------------------------------------------------- slow states
    m = t_coarse.size
    q = config.sleep_fraction

    def draw_depth() -> float:
        if rng.random() >= q:
            return 0.0
        return float(rng.uniform(0.3, 0.5) if rng.random() < 0.5 else rng.uniform(0.7, 1.0))

    depth = _smooth(_dwell_sequence(rng, m, 240.0 / _STEP_S, draw_depth), int(30 / _STEP_S))
    is_open = _dwell_sequence(rng, m, 45.0 / _STEP_S, lambda: float(rng.random() < 0.6))
    eyes_open = _smooth(is_open, int(2 / _STEP_S)) * (depth < 0.25)
    alpha_env = (1 - depth) ** 2 * (1 - 0.75 * eyes_open)
    alpha_env *= np.clip(1 + 0.35 * _smooth(rng.standard_normal(m), 8) * np.sqrt(8), 0.2, None)
    for t0 in poisson_times(rng, 3.0 * mim / _HOUR, dur):  # mimic: high-amplitude alpha bursts
        i0, k = int(t0 / _STEP_S), int(rng.uniform(2.0, 20.0) / _STEP_S)
        alpha_env[i0 : i0 + k] *= rng.uniform(2.5, 4.0)
    depth_f = upsample(depth, _STEP_S, n, fs)
    alpha_f = upsample(alpha_env, _STEP_S, n, fs)

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []

    def add_source(row: np.ndarray, pattern: np.ndarray) -> None:
        rows.append(row)
        cols.append(pattern)

    # ---------------------------------------------------------------- background
    bg = tr["background_uv"]
    golden = np.pi * (3 - np.sqrt(5))
    k_idx = np.arange(_N_CORTICAL)
    z = 1.0 - 1.1 * (k_idx + 0.5) / _N_CORTICAL
    ring = np.sqrt(1 - z**2)
    src = np.stack([ring * np.cos(golden * k_idx), ring * np.sin(golden * k_idx), z], axis=1)
    src += rng.normal(0.0, 0.1, src.shape)
    src = 0.8 * src / np.linalg.norm(src, axis=1, keepdims=True)
    dist = np.linalg.norm(elec_xyz[:, None, :] - src[None, :, :], axis=2)
    mix = np.exp(-(dist**2) / (2 * 0.42**2)) * rng.uniform(0.6, 1.4, _N_CORTICAL)
    mix /= np.linalg.norm(mix, axis=1, keepdims=True)
    cortical = colored_noise(
        rng, _N_CORTICAL, n, fs, tr["slope"] + rng.uniform(-0.25, 0.25, _N_CORTICAL)
    )
    slow = colored_noise(rng, 3, n, fs, 1.0, band_hz=(0.5, 6.0)) * depth_f
    slow_src = np.array([[-0.5, 0.5, 0.7], [0.5, 0.5, 0.7], [0.0, 0.0, 1.0]])
    d_slow = np.linalg.norm(elec_xyz[:, None, :] - slow_src[None, :, :], axis=2)
    slow_mix = 1.3 * bg * np.exp(-(d_slow**2) / (2 * 0.6**2))

    # alpha: a phase-modulated rhythm whose frequency drifts and slows in drowsiness
    f_alpha = (
        tr["alpha_hz"]
        + 0.4 * coarse_noise(rng, n, fs, 60.0, smooth=3) / np.sqrt(3)
        + 0.25 * coarse_noise(rng, n, fs, 0.5)
        - 1.2 * depth_f
    )
    phase = np.cumsum(f_alpha, dtype=np.float64) * (2 * np.pi / fs)
    amp = tr["alpha_uv"] * alpha_f
    left = np.cos(phase).astype(np.float32) * amp
    right = np.cos(phase + 0.3 * coarse_noise(rng, n, fs, 10.0)).astype(np.float32) * amp
    del phase, f_alpha

    # sleep transients: spindles, K-complexes, vertex waves (normal, but sharp or rhythmic)
    t_sp = poisson_times(rng, 0.12, dur)
    t_sp = t_sp[depth[(t_sp / _STEP_S).astype(int)] > 0.6]
    t_k = poisson_times(rng, 0.03, dur)
    t_k = t_k[depth[(t_k / _STEP_S).astype(int)] > 0.7]
    t_v = poisson_times(rng, 0.05, dur)
    dv = depth[(t_v / _STEP_S).astype(int)]
    t_v = t_v[(dv > 0.3) & (dv < 0.6)]
    tk = np.arange(int(fs)) / fs
    spindle = np.sin(2 * np.pi * rng.uniform(12.0, 14.0) * tk) * np.hanning(tk.size)
    kcomplex = -np.exp(-(((tk - 0.25) / 0.08) ** 2)) + 0.6 * np.exp(-(((tk - 0.55) / 0.15) ** 2))
    vertex = -np.exp(-(((tk[: int(0.4 * fs)] - 0.12) / 0.04) ** 2))
    transients = impulse_train(t_sp, rng.uniform(15, 35, t_sp.size), n, fs, spindle)
    transients += impulse_train(t_k, rng.uniform(60, 150, t_k.size), n, fs, kcomplex)
    transients += impulse_train(t_v, rng.uniform(50, 130, t_v.size), n, fs, vertex)

    m_bg = np.zeros((n_ch, _N_CORTICAL + 6), dtype=np.float32)
    m_bg[_EEG_ROWS, :_N_CORTICAL] = bg * mix
    m_bg[_EEG_ROWS, _N_CORTICAL : _N_CORTICAL + 3] = slow_mix
    m_bg[:, _N_CORTICAL + 3] = weights(_ALPHA_LEFT)
    m_bg[:, _N_CORTICAL + 4] = weights(_ALPHA_RIGHT)
    m_bg[:, _N_CORTICAL + 5] = weights(_CENTRAL)
    x_bg = m_bg @ np.concatenate([cortical, slow, left[None], right[None], transients[None]])
    del cortical, slow, left, right, transients
    local = colored_noise(rng, len(ELECTRODES), n, fs, 1.8)
    x_bg[_EEG_ROWS] += (0.35 * bg) * local
    del local

    # ---------------------------------------------------------------- seizures
    sz_info: list[dict] = []
    channel_events: list[Event] = []
    lo, hi = config.seizure_snr_range
    for sz in spec.seizures:
        a = int(round(sz.start_s * fs))
        # per-seizure strength; no draw at [1, 1], so such corpora stay as they were
        snr = config.seizure_snr * (
            math.exp(rng.uniform(math.log(lo), math.log(hi))) if hi > lo else lo
        )
        ev = render_seizure(
            rng,
            sz.stop_s - sz.start_s,
            fs,
            tr,
            sz.generalizes,
            elec_xyz,
            tr["seizure_uv"] * snr * rng.uniform(0.8, 1.2),
        )
        b = min(a + ev.signal.shape[1], n)
        k = b - a
        label = "gnsz" if (sz.generalizes or ev.generalizes) else "fnsz"
        x_bg[_EEG_ROWS, a:b] *= 1.0 - 0.5 * ev.gain[:, :k]
        x_bg[_EEG_ROWS, a:b] += ev.signal[:, :k]
        # post-ictal: background attenuation and decaying delta slowing
        d_s = sz.stop_s - sz.start_s
        post_s = float(np.clip(rng.uniform(0.5, 1.5) * min(d_s, 120.0) + 20.0, 20.0, 180.0))
        post = min(int(post_s * fs), n - b)
        if post > int(fs):
            gmax = ev.gain.max(axis=1)
            tp = np.arange(post) / fs
            env = np.exp(-tp / (post / fs / 2.5)).astype(np.float32)
            delta = colored_noise(rng, 2, post, fs, 1.0, band_hz=(0.5, 3.0))
            wts = rng.uniform(0.5, 1.0, (len(ELECTRODES), 2)) * gmax[:, None]
            amp_pi = 0.45 * tr["seizure_uv"] * snr
            x_bg[_EEG_ROWS, b : b + post] *= 1.0 - 0.4 * gmax[:, None] * env[None, :]
            x_bg[_EEG_ROWS, b : b + post] += (amp_pi * wts) @ delta * env[None, :]
        if ev.pattern == "tonic_clonic":  # muscle through the tonic phase, bursts when clonic
            t0 = sz.start_s + rng.uniform(0.0, 0.1) * d_s
            amp_m = rng.uniform(30.0, 90.0) * snr
            _muscle(rng, x_bg, fs, t0, sz.stop_s - t0, (0, 1, 2), amp_m)
        elif sz.generalizes and rng.random() < 0.6:  # motor seizure: muscle artefact
            t0 = sz.start_s + rng.uniform(0.3, 0.6) * d_s
            amp_m = rng.uniform(20.0, 70.0) * snr
            _muscle(rng, x_bg, fs, t0, sz.stop_s - t0, (0, 1, 2), amp_m)
        onset = ev.onset_s
        e_index = {e: i for i, e in enumerate(ELECTRODES)}
        onset_channels = []
        for a_name, b_name in TCP_PAIRS:
            t_on = min(onset[e_index[a_name]], onset[e_index[b_name]])
            if not np.isfinite(t_on):
                continue
            start = round(sz.start_s + float(t_on), 4)
            if start >= sz.stop_s:
                continue
            channel_events.append(Event(start, sz.stop_s, label, f"{a_name}-{b_name}"))
            if t_on <= 1.0:
                onset_channels.append(f"{a_name}-{b_name}")
        sz_info.append(
            {
                "start_s": sz.start_s,
                "stop_s": sz.stop_s,
                "label": label,
                "onset_channels": onset_channels,
                "freq_hz": (float(ev.freq_hz[0]), float(ev.freq_hz[-1])),
                "lvfa_s": float(ev.lvfa_s),
                "pattern": ev.pattern,
            }
        )

    # ---------------------------------------------------------------- artefact sources
    # blinks (eyes open, awake)
    t_b = poisson_times(rng, 0.3 * art, dur)
    keep = rng.random(t_b.size) < eyes_open[(t_b / _STEP_S).astype(int)]
    t_b = t_b[keep]
    tb = np.arange(int(0.6 * fs)) / fs
    tau = rng.uniform(0.06, 0.09)
    blink_k = (tb / tau) ** 2 * np.exp(2 - tb / tau) / 4.0
    add_source(impulse_train(t_b, rng.uniform(80, 200, t_b.size), n, fs, blink_k), _BLINK)
    # horizontal eye movements: saccades between gaze targets, high-passed by the amplifier
    t_s = poisson_times(rng, 0.3 * art, dur)
    t_s = t_s[rng.random(t_s.size) < eyes_open[(t_s / _STEP_S).astype(int)]]
    gaze = np.zeros(n, dtype=np.float32)
    if t_s.size:
        targets = rng.normal(0.0, 1.0, t_s.size)
        jumps = np.diff(np.concatenate([[0.0], targets]))
        idx = np.minimum((t_s * fs).astype(np.int64), n - 1)
        np.add.at(gaze, idx, jumps.astype(np.float32))
        gaze = np.cumsum(gaze, dtype=np.float32)
        from scipy.signal import lfilter

        alpha_hp = 1.0 / (1.0 * fs)
        gaze -= lfilter([alpha_hp], [1.0, alpha_hp - 1.0], gaze).astype(np.float32)
    heog = gaze * rng.uniform(40.0, 90.0)
    rolling = np.clip(1 - np.abs(depth_f - 0.4) / 0.2, 0, 1) * min(art, 2.0)
    f_roll = rng.uniform(0.15, 0.4)
    heog += 60.0 * rolling * np.sin(2 * np.pi * f_roll * np.arange(n) / fs).astype(np.float32)
    add_source(heog, _HEOG)
    del gaze, heog, rolling
    # ECG on EKG1 and leaking into the ear and temporal electrodes
    rr = 60.0 / tr["heart_bpm"]
    n_beats = int(dur / rr * 1.2) + 2
    beats = np.cumsum(rr * (1 + 0.05 * rng.standard_normal(n_beats))) - rng.uniform(0, rr)
    beats = beats[(beats >= 0) & (beats < dur)]
    te = np.arange(int(0.7 * fs)) / fs

    def bump(c: float, w: float, h: float) -> np.ndarray:
        return h * np.exp(-(((te - c) / w) ** 2))

    ecg_k = (
        bump(0.08, 0.025, 0.1)
        + bump(0.18, 0.008, -0.15)
        + bump(0.2, 0.01, 1.0)
        + bump(0.225, 0.01, -0.25)
        + bump(0.45, 0.045, 0.3)
    )
    ecg = impulse_train(beats, np.ones(beats.size), n, fs, ecg_k)
    leak = tr["ecg_leak_uv"]
    ecg_w = {"EKG1": rng.uniform(400.0, 1500.0), "A1": leak, "A2": -0.8 * leak}
    ecg_w |= {"T3": 0.3 * leak, "T4": -0.3 * leak, "T5": 0.25 * leak, "T6": -0.25 * leak}
    add_source(ecg, ecg_w)
    # mains interference: a level per recording, picked up by the electrodes whose contact
    # is poor (a share that differs between recordings), with per-channel amplitude and phase
    if config.line_noise_uv > 0:
        tl = 2 * np.pi * config.line_freq_hz * np.arange(n) / fs
        poor = rng.random(n_ch) < rng.uniform(0.05, 0.5)
        g = config.line_noise_uv * rng.lognormal(0.0, 1.0) * rng.lognormal(0.0, 0.6, n_ch)
        g *= np.where(poor, 1.0, 0.03)
        ph = rng.uniform(0, 2 * np.pi, n_ch)
        rows.append(np.cos(tl).astype(np.float32))
        cols.append(g * np.cos(ph))
        rows.append(np.sin(tl).astype(np.float32))
        cols.append(-g * np.sin(ph))
    # photic stimulation and the posterior driving response (a rhythmic mimic)
    photic = 0.5 * rng.standard_normal(n).astype(np.float32)
    drive = np.zeros(n, dtype=np.float32)
    if rng.random() < min(1.0, 0.3 * config.mimic_rate) and dur > 300:
        t0 = rng.uniform(0.0, max(dur - 240.0, 1.0))
        for f_fl in _PHOTIC_HZ:
            a = int(t0 * fs)
            k = min(int(10.0 * fs), n - a)
            if k <= 0:
                break
            tt = np.arange(k) / fs
            photic[a : a + k] += 300.0 * ((tt * f_fl) % 1.0 < 0.01 * f_fl)
            gain = rng.uniform(5.0, 25.0) * math.exp(-(((f_fl - 10.0) / 8.0) ** 2)) * mim
            drive[a : a + k] += (
                gain
                * (np.sin(2 * np.pi * f_fl * tt) + 0.3 * np.sin(4 * np.pi * f_fl * tt)).astype(
                    np.float32
                )
                * raised_cosine_window(k, int(0.5 * fs))
            )
            t0 += 10.0 + rng.uniform(4.0, 8.0)
    add_source(photic, {"PHOTIC": 1.0})
    add_source(drive, _POSTERIOR)
    # mimic: frontal intermittent rhythmic delta
    firda = np.zeros(n, dtype=np.float32)
    for t0 in poisson_times(rng, 2.0 * mim / _HOUR, dur):
        a, k = int(t0 * fs), int(rng.uniform(3.0, 10.0) * fs)
        k = min(k, n - a)
        if k < int(fs):
            continue
        f_d = rng.uniform(1.5, 3.0)
        tt = np.arange(k) / fs
        wave = np.sin(2 * np.pi * f_d * tt) + 0.3 * np.sin(4 * np.pi * f_d * tt + rng.uniform(0, 6))
        firda[a : a + k] += (rng.uniform(40, 120) * wave).astype(np.float32) * (
            raised_cosine_window(k, int(fs))
        )
    add_source(firda, _FRONTAL)

    s_mat = np.stack(rows)
    m_mat = np.stack([weights(c) if isinstance(c, dict) else c for c in cols], axis=1)
    x = x_bg
    x += m_mat.astype(np.float32) @ s_mat
    del s_mat
    x[_CH["EKG1"]] += 5.0 * rng.standard_normal(n).astype(np.float32)

    # ---------------------------------------------------------------- local artefacts
    for t0 in poisson_times(rng, 40.0 * art / _HOUR, dur):  # muscle bursts
        if depth[int(t0 / _STEP_S)] > 0.5 and rng.random() < 0.8:
            continue
        groups = tuple(rng.choice(3, size=int(rng.integers(1, 3)), replace=False))
        length = math.exp(rng.uniform(math.log(0.5), math.log(8.0)))
        _muscle(rng, x, fs, t0, length, groups, rng.uniform(10.0, 60.0))
    for t0 in poisson_times(rng, 1.5 * mim / _HOUR, dur):  # mimic: rhythmic chewing
        _muscle(
            rng,
            x,
            fs,
            t0,
            rng.uniform(3.0, 20.0),
            (0, 1),
            rng.uniform(30.0, 100.0),
            rhythm_hz=rng.uniform(1.0, 2.0),
        )
    for t0 in poisson_times(rng, 1.0 * mim / _HOUR, dur):  # mimic: rhythmic movement
        a = int(t0 * fs)
        k = min(int(rng.uniform(5.0, 40.0) * fs), n - a)
        if k < int(fs):
            continue
        tt = np.arange(k) / fs
        f_m = rng.uniform(1.5, 5.0) * (1 + 0.15 * np.sin(2 * np.pi * tt / rng.uniform(5, 20)))
        ph = 2 * np.pi * np.cumsum(f_m) / fs
        wave = (np.sin(ph) + 0.4 * np.sin(2 * ph) + 0.2 * np.sin(3 * ph)).astype(np.float32)
        wave *= raised_cosine_window(k, int(fs))
        pattern = rng.normal(0.0, 1.0, len(ELECTRODES)) * rng.uniform(40.0, 150.0)
        x[_EEG_ROWS, a : a + k] += np.outer(pattern, wave).astype(np.float32)
    pop_names = list(_POP_WEIGHTS)
    pop_p = np.array([_POP_WEIGHTS[e] for e in pop_names])
    pop_p /= pop_p.sum()
    for t0 in poisson_times(rng, 6.0 * art / _HOUR, dur):  # electrode pops
        ch = _CH[pop_names[int(rng.choice(len(pop_names), p=pop_p))]]
        for _ in range(int(rng.integers(2, 5)) if rng.random() < 0.3 else 1):
            tau_p = rng.uniform(0.05, 0.4)
            a = int(t0 * fs)
            k = min(int(5 * tau_p * fs), n - a)
            if k > 0:
                amp_p = rng.choice([-1.0, 1.0]) * rng.uniform(50.0, 300.0)
                x[ch, a : a + k] += (amp_p * np.exp(-np.arange(k) / (tau_p * fs))).astype(
                    np.float32
                )
            t0 += rng.uniform(0.3, 1.5)
    for t0 in poisson_times(rng, 4.0 * art / _HOUR, dur):  # electrode drifts
        ch = _CH[ELECTRODES[int(rng.integers(0, len(ELECTRODES)))]]
        a = int(t0 * fs)
        k = min(int(rng.uniform(10.0, 90.0) * fs), n - a)
        if k < int(fs):
            continue
        wander = coarse_noise(rng, k, fs, rng.uniform(3.0, 10.0))
        x[ch, a : a + k] += rng.uniform(40.0, 200.0) * wander * raised_cosine_window(k, int(fs))

    np.clip(x, PHYSICAL_RANGE_UV[0], PHYSICAL_RANGE_UV[1], out=x)

    # ---------------------------------------------------------------- annotations
    term = [Event(s["start_s"], s["stop_s"], SEIZURE, TERM) for s in sz_info]
    term_events = _fill_background(term, dur, TERM)
    by_channel: list[Event] = []
    for a_name, b_name in TCP_PAIRS:
        name = f"{a_name}-{b_name}"
        evs = [e for e in channel_events if e.channel == name]
        by_channel += _fill_background(evs, dur, name)
    return GeneratedRecording(
        spec=spec,
        data=x,
        sfreq_hz=fs,
        term_events=term_events,
        channel_events=by_channel,
        seizures=sz_info,
    )


def _muscle(
    rng: np.random.Generator,
    x: np.ndarray,
    fs: float,
    t0: float,
    length_s: float,
    groups: tuple,
    amp_uv: float,
    rhythm_hz: float | None = None,
) -> None:
    """Add a broadband muscle burst (differenced white noise) to electrode groups, in place."""
    n = x.shape[1]
    a = int(t0 * fs)
    k = min(int(length_s * fs), n - a)
    if k < 4:
        return
    names = sorted({e for g in groups for e in _MUSCLE_GROUPS[int(g)]})
    idx = [_CH[e] for e in names]
    noise = rng.standard_normal((len(idx), k + 1)).astype(np.float32)
    burst = np.diff(noise, axis=1) * np.float32(amp_uv / np.sqrt(2))
    env = raised_cosine_window(k, int(0.1 * fs))
    if rhythm_hz is not None:
        tt = np.arange(k) / fs
        env = env * ((0.5 - 0.5 * np.cos(2 * np.pi * rhythm_hz * tt)) ** 3).astype(np.float32)
    burst *= env[None, :] * rng.uniform(0.5, 1.0, (len(idx), 1)).astype(np.float32)
    x[idx, a : a + k] += burst
