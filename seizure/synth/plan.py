"""The corpus plan: patients, splits, sessions, recordings, and where every seizure lies.

Everything that must be consistent across recordings (the ictal fraction, the split of
patients, each patient's traits) is decided here, from ``SeedSequence(seed, spawn_key=(0,))``
for the corpus and ``(2, patient)`` for each patient. Each recording is then generated on
its own from ``SeedSequence(seed, spawn_key=(1, index))``, so the output does not depend on
how recordings are spread across processes.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

import numpy as np

from seizure.synth.config import SynthConfig
from seizure.synth.ictal import GENERALIZED_PATTERNS, PATTERNS
from seizure.synth.layout import ELECTRODES, FOCUS_WEIGHTS, positions

SPLITS: tuple[str, ...] = ("train", "dev", "eval")
MONTAGE_DIR = "01_tcp_ar"
_MIN_GAP_S = 60.0  # wanted gap between seizures of one recording (post-ictal period)
_MARGIN_S = 5.0  # no seizure closer than this to either end of a recording


@dataclass(frozen=True)
class SeizureSpec:
    """One planned seizure: onset and offset in seconds, and whether it generalises."""

    start_s: float
    stop_s: float
    generalizes: bool

    @property
    def label(self) -> str:
        """TUSZ seizure type: ``gnsz`` when it generalises, else ``fnsz``."""
        return "gnsz" if self.generalizes else "fnsz"


@dataclass(frozen=True)
class RecordingSpec:
    """Everything needed to generate and write one recording (picklable, plain values).

    Attributes
    ----------
    index : int
        Position in the corpus; the recording's random stream is ``(seed, 1, index)``.
    seed : int
        Corpus seed.
    split, patient, session, token : str
        ``train``, ``aaaaaool``, ``s001_2013``, ``t000``.
    duration_s : int
        Length in whole seconds.
    sfreq_hz : float
        Sampling rate of every EEG channel in Hz.
    start : datetime.datetime
        Start date and time written to the EDF header.
    seizures : tuple of SeizureSpec
    patient_traits : dict
        The patient's traits (see :func:`patient_traits`).
    """

    index: int
    seed: int
    split: str
    patient: str
    session: str
    token: str
    duration_s: int
    sfreq_hz: float
    start: datetime.datetime
    seizures: tuple[SeizureSpec, ...]
    patient_traits: dict = field(hash=False, compare=False)

    @property
    def name(self) -> str:
        """File stem, ``aaaaaool_s001_t000``."""
        return f"{self.patient}_{self.session.split('_')[0]}_{self.token}"

    @property
    def relative_dir(self) -> str:
        """``edf/<split>/<patient>/<session>/01_tcp_ar``."""
        return f"edf/{self.split}/{self.patient}/{self.session}/{MONTAGE_DIR}"


def patient_traits(rng: np.random.Generator, config: SynthConfig) -> dict:
    """Draw one patient's traits (background, alpha, seizure style, artefact proneness).

    Returns
    -------
    dict
        Plain floats, bools and lists (so specs pickle and hash cheaply).
    """
    focus_names = list(FOCUS_WEIGHTS)
    w = np.array([FOCUS_WEIGHTS[n] for n in focus_names])
    focus = focus_names[int(rng.choice(len(focus_names), p=w / w.sum()))]
    xyz = positions((focus,))[0] + rng.normal(0.0, 0.08, 3)
    xyz /= np.linalg.norm(xyz)
    lo, hi = config.seizure_seconds
    mix = np.asarray(config.seizure_mix, dtype=np.float64)
    return {
        "background_uv": float(rng.uniform(12.0, 28.0)),
        "slope": float(rng.uniform(2.4, 3.0)),
        "alpha_hz": float(rng.uniform(8.5, 11.5)),
        "alpha_uv": float(rng.uniform(12.0, 35.0)),
        "ecg_leak_uv": float(rng.uniform(0.0, 12.0)),
        "heart_bpm": float(rng.uniform(55.0, 95.0)),
        "artifact_proneness": float(rng.uniform(0.5, 1.5)),
        "mimic_proneness": float(rng.uniform(0.5, 1.5)),
        "focus": focus,
        "focus_xyz": [float(v) for v in xyz],
        "f_start_hz": float(rng.uniform(5.0, 9.0)),
        "f_end_hz": float(rng.uniform(2.0, 3.5)),
        "lvfa": bool(rng.random() < config.lvfa_probability),
        "sharpness": float(rng.random()),
        "polarity": float(rng.choice([-1.0, 1.0])),
        "seizure_uv": float(rng.uniform(45.0, 110.0)),
        "sigma0": float(rng.uniform(0.22, 0.32)),
        "sigma1": float(rng.uniform(0.45, 0.75)),
        "spread_s": float(rng.uniform(3.0, 20.0)),
        "typical_seizure_s": float(math.exp(rng.uniform(math.log(lo), math.log(hi)))),
        "pattern": PATTERNS[int(rng.choice(len(PATTERNS), p=mix / mix.sum()))],
    }


def _durations(rng: np.random.Generator, config: SynthConfig) -> np.ndarray:
    """Draw recording lengths in whole seconds summing to ``hours`` (each in the range)."""
    total = int(round(config.hours * 3600.0))
    lo, hi = (60.0 * m for m in config.recording_minutes)
    need = config.patients * lo
    if total < need:
        raise ValueError(
            f"Invalid value for 'synth.hours': {config.hours:g} h cannot give {config.patients} "
            f"patients one recording of at least {lo / 60:g} min each (needs at least "
            f"{need / 3600:.3f} h); raise --hours, lower --patients or "
            "synth.recording_minutes"
        )
    draws: list[float] = []
    while sum(draws) < total:
        draws.append(float(rng.uniform(lo, hi)))
    n = min(max(len(draws), config.patients, math.ceil(total / hi)), int(total // lo))
    while len(draws) < n:
        draws.append(float(rng.uniform(lo, hi)))
    u = np.array(draws[:n])
    # scale so that the clipped lengths sum to the total (bisection on the scale)
    s_lo, s_hi = 0.0, 2.0 * hi / u.min()
    for _ in range(100):
        s = 0.5 * (s_lo + s_hi)
        if np.clip(s * u, lo, hi).sum() < total:
            s_lo = s
        else:
            s_hi = s
    d = np.clip(s_hi * u, lo, hi)
    out = np.floor(d).astype(np.int64)
    short = total - int(out.sum())
    order = np.argsort(-(d - out), kind="stable")
    for i in range(abs(short)):
        out[order[i % n]] += 1 if short > 0 else -1
    return out


def _split_counts(n: int, fractions: tuple[float, float, float]) -> list[int]:
    share = np.array(fractions, dtype=np.float64) / sum(fractions)
    if n < 3:
        order = [0, 2, 1]  # train first, then eval, then dev
        counts = [0, 0, 0]
        for k in range(n):
            counts[order[k]] += 1
        return counts
    counts = [0, 0, 0]
    for k in (1, 2):
        if share[k] > 0:
            counts[k] = max(1, int(round(n * share[k])))
    while n - counts[1] - counts[2] < 1:
        k = 1 if counts[1] >= counts[2] else 2
        counts[k] -= 1
    counts[0] = n - counts[1] - counts[2]
    return counts


def _patient_ids(rng: np.random.Generator, n: int) -> list[str]:
    codes = np.sort(rng.choice(26**4, size=n, replace=False))
    ids = []
    for code in codes:
        letters = []
        c = int(code)
        for _ in range(4):
            c, rem = divmod(c, 26)
            letters.append(chr(ord("a") + rem))
        ids.append("aaaa" + "".join(reversed(letters)))
    return ids


def _place(
    rng: np.random.Generator, durations: list[float], length: float
) -> list[tuple[float, float]]:
    """Place the given durations as non-overlapping (start, stop) in ``length`` seconds.

    They go in random order, at least :data:`_MARGIN_S` from both ends of the recording.
    """
    k = len(durations)
    slack = length - sum(durations) - 2 * _MARGIN_S
    gap = min(_MIN_GAP_S, max(slack, 0.0) / max(k - 1, 1) * 0.5) if k > 1 else 0.0
    free = slack - gap * (k - 1)
    parts = rng.dirichlet(np.ones(k + 1)) * max(free, 0.0)
    out = []
    t = _MARGIN_S + parts[0]
    for i, dur in enumerate(durations):
        start = round(t, 4)
        stop = round(t + dur, 4)
        out.append((start, stop))
        t = t + dur + gap + parts[i + 1]
    return out


def plan_corpus(config: SynthConfig, seed: int) -> list[RecordingSpec]:
    """Plan the whole corpus.

    Parameters
    ----------
    config : SynthConfig
    seed : int
        Corpus seed.

    Returns
    -------
    list of RecordingSpec
        Ordered by split, patient, session and token; ``index`` is the position.

    Raises
    ------
    ValueError
        When ``hours`` is too short for one recording per patient.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    durations = _durations(rng, config)
    n_rec, n_pat = len(durations), config.patients
    traits = [
        patient_traits(
            np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, p))), config
        )
        for p in range(n_pat)
    ]
    ids = _patient_ids(rng, n_pat)
    counts = _split_counts(n_pat, config.split_fractions)
    perm = rng.permutation(n_pat)
    split_of = {}
    k = 0
    for split, c in zip(SPLITS, counts):
        for p in perm[k : k + c]:
            split_of[int(p)] = split
        k += c
    # recordings -> patients: one each, the rest by random weights
    owner = np.empty(n_rec, dtype=np.int64)
    order = rng.permutation(n_rec)
    owner[order[:n_pat]] = np.arange(n_pat)
    weights = rng.gamma(1.0, size=n_pat)
    owner[order[n_pat:]] = rng.choice(n_pat, size=n_rec - n_pat, p=weights / weights.sum())

    # which recordings hold seizures, and the seizures themselves
    budget = config.ictal_fraction * float(durations.sum())
    has_sz = np.zeros(n_rec, dtype=bool)
    if budget > 0:
        n_free = int(round(n_rec * config.seizure_free_fraction))
        if config.seizure_free_fraction > 0 and n_rec >= 2:
            n_free = max(n_free, 1)
        n_free = min(n_free, n_rec - 1)
        has_sz[rng.permutation(n_rec)[n_free:]] = True
    lo, hi = config.seizure_seconds
    sz_durs: dict[int, list[float]] = {int(r): [] for r in np.flatnonzero(has_sz)}
    remaining = budget
    while remaining > 1e-6 and sz_durs:
        progressed = False
        for r in rng.permutation(sorted(sz_durs)):
            r = int(r)
            if remaining <= 1e-6:
                break
            typical = traits[owner[r]]["typical_seizure_s"]
            dur = float(np.clip(typical * math.exp(rng.normal(0.0, 0.4)), lo, hi))
            dur = max(lo, min(dur, remaining)) if remaining >= lo else lo
            used = sum(sz_durs[r])
            k = len(sz_durs[r])
            room = durations[r] - 2 * _MARGIN_S - used - 5.0 * k
            if used + dur > 0.5 * durations[r] or dur > room:
                continue
            sz_durs[r].append(round(dur, 4))
            remaining -= dur
            progressed = True
        if not progressed:
            break

    # sessions and tokens per patient
    specs_raw = []
    for p in range(n_pat):
        recs = [int(r) for r in np.flatnonzero(owner == p)]
        prng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3, p)))
        n_sess = int(prng.integers(1, min(len(recs), 3) + 1))
        cuts = sorted(prng.choice(np.arange(1, len(recs)), size=n_sess - 1, replace=False))
        groups = np.split(np.array(recs), cuts)
        year = int(prng.integers(2003, 2016))
        for s, group in enumerate(groups):
            year += int(prng.integers(0, 2)) if s else 0
            session = f"s{s + 1:03d}_{year}"
            start = datetime.datetime(year, 1, 1, 8, 0, 0) + datetime.timedelta(
                days=int(prng.integers(0, 365)), seconds=int(prng.integers(0, 8 * 3600))
            )
            sfreq = float(config.sfreq_hz[int(prng.integers(0, len(config.sfreq_hz)))])
            for tok, r in enumerate(group):
                specs_raw.append(
                    (split_of[p], ids[p], session, f"t{tok:03d}", int(r), p, start, sfreq)
                )
                start = start + datetime.timedelta(
                    seconds=int(durations[r]) + int(prng.integers(5, 600))
                )

    specs_raw.sort(key=lambda x: (SPLITS.index(x[0]), x[1], x[2], x[3]))
    specs = []
    for index, (split, pid, session, token, r, p, start, sfreq) in enumerate(specs_raw):
        srng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4, index)))
        durs = list(sz_durs.get(r, []))
        placed = _place(srng, durs, float(durations[r])) if durs else []
        generalized = traits[p]["pattern"] in GENERALIZED_PATTERNS
        seizures = tuple(
            SeizureSpec(a, b, bool(srng.random() < config.generalize_probability) or generalized)
            for a, b in placed
        )
        specs.append(
            RecordingSpec(
                index=index,
                seed=seed,
                split=split,
                patient=pid,
                session=session,
                token=token,
                duration_s=int(durations[r]),
                sfreq_hz=sfreq,
                start=start,
                seizures=seizures,
                patient_traits=traits[p],
            )
        )
    return specs


def electrode_positions() -> np.ndarray:
    """Positions of :data:`seizure.synth.layout.ELECTRODES`, shape (25, 3)."""
    return positions(ELECTRODES)
