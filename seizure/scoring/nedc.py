"""NEDC EEG Eval v6.0.0 scoring: OVLP, TAES, EPOCH and DPALIGN for two classes (seiz, bckg).

This is our own implementation of the rules of Temple University's ``nedc_eeg_eval`` v6.0.0
(Shah et al. 2021, "Objective Evaluation Metrics for Automatic Classification of EEG Events"),
written to reproduce its printed figures to the last digit. The conventions that decide the
numbers, all taken from NEDC's source (``nedc_eeg_eval_{ovlp,taes,epoch,dpalign}.py``,
``nedc_eeg_eval_common.parse_files`` and ``nedc_eeg_ann_tools.augment_annotation``):

Timeline
    Each file becomes a sequence of labelled intervals covering ``[0, duration]``: the seizure
    events in time order, the gaps filled with ``bckg`` (gap boundaries rounded to 4 decimals,
    event times kept as given), consecutive events of one label joined. Both classes are
    scored, and background *events* count: a file with 3 seizures has 3 ``seiz`` targets and
    up to 4 ``bckg`` targets. The total duration is the sum over files of the last interval's
    stop time, i.e. of the ``# duration`` headers.
OVLP
    A reference interval is a hit when a hypothesis interval of the same label overlaps it
    (``h.stop > r.start and h.start < r.stop``), else a miss; a hypothesis interval that
    overlaps no reference interval of its label is a false alarm. TP = hits, FN = misses,
    FP = false alarms, and TN of ``seiz`` = hits of ``bckg`` (so specificity counts background
    events, not time). FA/24h = FP / total duration x 86400.
TAES
    Fractional hits, misses and false alarms per overlapping pair, normalised by the reference
    interval's duration and accumulated in NEDC's order, with NEDC's quirks kept on purpose:
    "overlap" for pairing is tested on whole seconds (``int(start)..int(stop)`` inclusive, so
    intervals that merely share a second pair up, which can produce negative partial hits), a
    hypothesis running past its reference charges every further reference it touches as one
    full miss, and unpaired intervals count one full miss or false alarm each. TP/TN/FP/FN as
    in OVLP.
EPOCH
    Both timelines are sampled at ``epoch/2 + k * epoch`` for every such time ``<= duration``
    (the first interval whose closed span contains the time gives the label); a 2 x 2
    confusion matrix of epochs. FA/24h = FP x epoch / total duration x 86400.
DPALIGN
    Edit-distance alignment of the two label sequences (times ignored) with NEDC's tie
    breaking (substitution, then insertion, then deletion, each only when strictly cheaper)
    and back-trace; insertion = false alarm, deletion or substitution = miss. TN of ``seiz`` =
    ``bckg`` aligned to ``bckg``.
Summary
    Per-label figures and NEDC's "SUMMARY" block (sums over labels), including its F1 quirk:
    the summary F1 divides by the *last label's* (``bckg``) precision + sensitivity.

Implementation differences (documented, deliberate): events are sorted, overlaps merged and
clipped to the reference duration before scoring (NEDC would build a broken timeline or stop
with an error); a hypothesis whose duration differs from its reference is scored over the
reference duration (NEDC refuses the file).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from seizure.io.events import Event

#: Label order of NEDC's two-class parameter file: index 0 is ``seiz``, index 1 is ``bckg``.
LABELS: tuple[str, str] = ("seiz", "bckg")
SEIZ = 0
BCKG = 1
_NULL = -1  # NEDC's "***" dummy symbol in DPALIGN
NEDC_METHODS: tuple[str, ...] = ("ovlp", "taes", "epoch", "dpalign")
#: NEDC rounds gap boundaries and durations to this many decimals (``ndt.MIN_PRECISION``).
ROUND_DIGITS = 4
SECONDS_PER_DAY = 86400.0

Intervals = Sequence[Event] | Sequence[tuple[float, float]] | np.ndarray


@dataclass(frozen=True)
class Timeline:
    """A file as NEDC scores it: contiguous labelled intervals covering the recording.

    Attributes
    ----------
    starts, stops : list of float
        Interval bounds in seconds, in time order.
    labels : list of int
        :data:`SEIZ` (0) or :data:`BCKG` (1) per interval; consecutive labels differ.
    """

    starts: list[float]
    stops: list[float]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def end(self) -> float:
        """The last interval's stop time in seconds (NEDC's file duration)."""
        return self.stops[-1]


def as_intervals(
    events: Intervals | None, duration_s: float | None = None
) -> list[tuple[float, float]]:
    """Sorted, disjoint ``(start, stop)`` seizure intervals in seconds.

    Accepts :class:`~seizure.io.events.Event` objects (every non-``bckg`` label is a seizure),
    ``(start, stop)`` pairs or an array of shape ``(n, 2)``. Overlapping or touching intervals
    are merged, empty ones dropped, and everything is clipped to ``[0, duration_s]``.
    """
    if events is None:
        return []
    if isinstance(events, np.ndarray):
        pairs = [(float(a), float(b)) for a, b in np.asarray(events, dtype=float).reshape(-1, 2)]
    else:
        pairs = []
        for ev in events:
            if isinstance(ev, Event):
                if ev.label != "bckg":
                    pairs.append((float(ev.start), float(ev.stop)))
            else:
                pairs.append((float(ev[0]), float(ev[1])))
    pairs.sort()
    out: list[tuple[float, float]] = []
    for start, stop in pairs:
        start = max(0.0, start)
        if duration_s is not None:
            stop = min(stop, duration_s)
        if stop <= start:
            continue
        if out and start <= out[-1][1]:
            if stop > out[-1][1]:
                out[-1] = (out[-1][0], stop)
        else:
            out.append((start, stop))
    return out


def build_timeline(seizures: Iterable[tuple[float, float]], duration_s: float) -> Timeline:
    """Fill the gaps between seizure intervals with background, as NEDC does.

    Parameters
    ----------
    seizures : iterable of (float, float)
        Sorted, disjoint seizure intervals in seconds (see :func:`as_intervals`).
    duration_s : float
        Recording duration in seconds.

    Returns
    -------
    Timeline
        Gap boundaries are rounded to 4 decimals (NEDC's ``augment_annotation``); seizure
        bounds are kept; consecutive intervals of one label are joined
        (``remove_repeated_events``).
    """
    dur = round(duration_s, ROUND_DIGITS)
    raw: list[tuple[float, float, int]] = []
    cur = 0.0
    for start, stop in seizures:
        start_r = round(start, ROUND_DIGITS)
        if cur != start_r:
            raw.append((cur, start_r, BCKG))
        raw.append((start, stop, SEIZ))
        cur = round(stop, ROUND_DIGITS)
    if cur != dur:
        raw.append((cur, dur, BCKG))
    starts: list[float] = []
    stops: list[float] = []
    labels: list[int] = []
    for start, stop, lab in raw:
        if labels and labels[-1] == lab:
            stops[-1] = stop
        else:
            starts.append(start)
            stops.append(stop)
            labels.append(lab)
    return Timeline(starts, stops, labels)


# --------------------------------------------------------------------------------------------
# per-file counts
# --------------------------------------------------------------------------------------------


@dataclass
class NedcCounts:
    """Additive NEDC counts for one method, over one file or summed over many.

    Attributes
    ----------
    method : str
        ``ovlp``, ``taes``, ``epoch`` or ``dpalign``.
    targets, hits, misses, false_alarms, insertions, deletions : ndarray, shape (2,)
        Per label in :data:`LABELS` order (``seiz``, ``bckg``); fractional for TAES, epochs
        for EPOCH, events otherwise.
    confusion : ndarray, shape (2, 2)
        Reference x hypothesis counts (EPOCH: epochs; DPALIGN: aligned label pairs; zeros for
        OVLP and TAES, which have none).
    duration_s : float
        Total duration in seconds (sum of the files' durations).
    files : int
        Number of files summed.
    epoch_s : float
        Epoch length in seconds (EPOCH only; scales its false-alarm rate).
    """

    method: str
    targets: np.ndarray = field(default_factory=lambda: np.zeros(2))
    hits: np.ndarray = field(default_factory=lambda: np.zeros(2))
    misses: np.ndarray = field(default_factory=lambda: np.zeros(2))
    false_alarms: np.ndarray = field(default_factory=lambda: np.zeros(2))
    insertions: np.ndarray = field(default_factory=lambda: np.zeros(2))
    deletions: np.ndarray = field(default_factory=lambda: np.zeros(2))
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((2, 2)))
    duration_s: float = 0.0
    files: int = 0
    epoch_s: float = 0.25

    def __add__(self, other: NedcCounts) -> NedcCounts:
        if other.method != self.method:
            raise ValueError(f"cannot add {other.method} counts to {self.method} counts")
        return NedcCounts(
            self.method,
            self.targets + other.targets,
            self.hits + other.hits,
            self.misses + other.misses,
            self.false_alarms + other.false_alarms,
            self.insertions + other.insertions,
            self.deletions + other.deletions,
            self.confusion + other.confusion,
            self.duration_s + other.duration_s,
            self.files + other.files,
            self.epoch_s,
        )

    def metrics(self) -> NedcMetrics:
        """Return the derived figures exactly as NEDC computes them (see :func:`nedc_metrics`)."""
        return nedc_metrics(self)


def _any_strict_overlap(
    a_starts: Sequence[float],
    a_stops: Sequence[float],
    b_starts: Sequence[float],
    b_stops: Sequence[float],
) -> np.ndarray:
    """Tell for each ``a_i`` whether a ``b_j`` has ``b.stop > a.start and b.start < a.stop``.

    ``b`` must be sorted with nondecreasing starts and stops (true of a timeline's intervals of
    one label).
    """
    if len(a_starts) == 0:
        return np.zeros(0, dtype=bool)
    if len(b_starts) == 0:
        return np.zeros(len(a_starts), dtype=bool)
    b_stop = np.asarray(b_stops, dtype=float)
    b_start = np.asarray(b_starts, dtype=float)
    a_start = np.asarray(a_starts, dtype=float)
    a_stop = np.asarray(a_stops, dtype=float)
    k = np.searchsorted(b_stop, a_start, side="right")  # first b with stop > a.start
    ok = k < len(b_stop)
    out = np.zeros(len(a_start), dtype=bool)
    out[ok] = b_start[k[ok]] < a_stop[ok]
    return out


def _split(tl: Timeline, lab: int) -> tuple[list[float], list[float]]:
    idx = [i for i, x in enumerate(tl.labels) if x == lab]
    return [tl.starts[i] for i in idx], [tl.stops[i] for i in idx]


def ovlp_counts(ref: Timeline, hyp: Timeline) -> NedcCounts:
    """NEDC OVLP (any-overlap) counts for one file.

    Every reference interval (``seiz`` and ``bckg``) is a target; it is a hit when a
    hypothesis interval of its label overlaps it. A hypothesis interval overlapping no
    reference interval of its label is a false alarm.
    """
    out = NedcCounts("ovlp", duration_s=ref.end, files=1)
    for lab in (SEIZ, BCKG):
        rs, re_ = _split(ref, lab)
        hs, he = _split(hyp, lab)
        hit = int(_any_strict_overlap(rs, re_, hs, he).sum())
        fal = len(hs) - int(_any_strict_overlap(hs, he, rs, re_).sum())
        out.targets[lab] = len(rs)
        out.hits[lab] = hit
        out.misses[lab] = len(rs) - hit
        out.false_alarms[lab] = fal
    out.insertions[:] = out.false_alarms
    out.deletions[:] = out.misses
    return out


def _calc_hf(r0: float, r1: float, h0: float, h1: float) -> tuple[float, float]:
    """TAES partial hit and false alarm of one pair, normalised by the reference duration.

    The four cases and their floating-point expressions follow NEDC's ``calc_hf`` exactly::

        (1) hyp starts early   ref:     |-------|        hit = (h1 - r0) / dur
                               hyp:  |------|            fa  = min(1, (r0 - h0) / dur)
        (2) hyp ends late      ref:  |-------|           hit = (r1 - h0) / dur
                               hyp:      |-------|       fa  = min(1, (h1 - r1) / dur)
        (3) hyp covers ref     ref:    |---|             hit = 1
                               hyp:  |-------|           fa  = min(1, ((h1 - r1) + (r0 - h0)) / dur)
        (4) hyp inside ref     ref:  |-------|           hit = (h1 - h0) / dur, fa = 0
                               hyp:    |--|
    """
    dur = r1 - r0
    if h0 <= r0 and h1 <= r1:
        hit = (h1 - r0) / dur
        x = (r0 - h0) / dur
        fa = x if x < 1.0 else 1.0
    elif h0 >= r0 and h1 >= r1:
        hit = (r1 - h0) / dur
        x = (h1 - r1) / dur
        fa = x if x < 1.0 else 1.0
    elif h0 < r0 and h1 > r1:
        hit = 1.0
        fa = ((h1 - r1) + (r0 - h0)) / dur
        if fa > 1.0:
            fa = 1.0
    else:
        hit = (h1 - h0) / dur
        fa = 0.0
    return hit, fa


def taes_counts(ref: Timeline, hyp: Timeline) -> NedcCounts:
    """NEDC TAES (time-aligned event scoring) counts for one file.

    Follows ``NedcTAES.compute`` step by step (reference intervals in order; for each one that
    strictly overlaps a same-label hypothesis and is still unused, every unused same-label
    hypothesis sharing a whole second with it is scored by ``compute_partial``), with the
    pairing loops restricted to the contiguous ranges of intervals that can share a second,
    which gives the same result in near-linear time.
    """
    nr, nh = len(ref), len(hyp)
    r0s, r1s, rl = ref.starts, ref.stops, ref.labels
    h0s, h1s, hl = hyp.starts, hyp.stops, hyp.labels
    # whole-second bounds used by NEDC's anyovlp(): set(range(int(start), int(stop) + 1))
    rlo = [int(x) for x in r0s]
    rhi = [int(x) for x in r1s]
    hlo = [int(x) for x in h0s]
    hhi = [int(x) for x in h1s]
    # strict-overlap test per reference interval (NEDC's get_events), any flag state
    strict = np.zeros(nr, dtype=bool)
    for lab in (SEIZ, BCKG):
        ri = [i for i in range(nr) if rl[i] == lab]
        hs, he = _split(hyp, lab)
        strict[ri] = _any_strict_overlap([r0s[i] for i in ri], [r1s[i] for i in ri], hs, he)

    rflags = [True] * nr
    hflags = [True] * nh
    hit = [0.0, 0.0]
    mis = [0.0, 0.0]
    fal = [0.0, 0.0]
    tgt = [0, 0]

    for i in range(nr):
        lab = rl[i]
        tgt[lab] += 1
        if not (strict[i] and rflags[i]):
            continue
        r0, r1 = r0s[i], r1s[i]
        # hypotheses sharing a second with ref i: hhi[j] >= rlo[i] and hlo[j] <= rhi[i]
        j_first = bisect_left(hhi, rlo[i])
        j_last = bisect_right(hlo, rhi[i])
        for j in range(j_first, j_last):
            if hl[j] != lab or not hflags[j]:
                continue
            h0, h1 = h0s[j], h1s[j]
            p_hit, p_fa = _calc_hf(r0, r1, h0, h1)
            p_mis = 1.0 - p_hit
            hflags[j] = False
            rflags[i] = False
            if h1 >= r1:
                # ovlp_ref_seqs: every later same-label reference sharing a second with this
                # hypothesis is one full miss (flags are not consulted)
                k_first = max(i + 1, bisect_left(rhi, hlo[j]))
                k_last = bisect_right(rlo, hhi[j])
                for k in range(k_first, k_last):
                    if rl[k] == lab:
                        rflags[k] = False
                        p_mis += 1
            else:
                # ovlp_hyp_seqs: later same-label hypotheses sharing a second with ref i add
                # their partial hits and false alarms (flags are not consulted)
                for k in range(j + 1, j_last):
                    if hl[k] == lab:
                        hflags[k] = False
                        o_hit, o_fa = _calc_hf(r0, r1, h0s[k], h1s[k])
                        p_hit += o_hit
                        p_mis -= o_hit
                        p_fa += o_fa
            hit[lab] += p_hit
            mis[lab] += p_mis
            fal[lab] += p_fa

    for i in range(nr):
        if rflags[i]:
            mis[rl[i]] += 1
    for j in range(nh):
        if hflags[j]:
            fal[hl[j]] += 1

    out = NedcCounts("taes", duration_s=ref.end, files=1)
    out.targets[:] = tgt
    out.hits[:] = hit
    out.misses[:] = mis
    out.false_alarms[:] = fal
    out.insertions[:] = fal
    out.deletions[:] = mis
    return out


def _labels_at(tl: Timeline, times: np.ndarray) -> np.ndarray:
    """Label of the first interval whose closed span ``[start, stop]`` contains each time.

    A time in no interval gets the last interval's label (NEDC's ``time_to_index`` returns
    -1, which Python reads as the last element).
    """
    stops = np.asarray(tl.stops, dtype=float)
    starts = np.asarray(tl.starts, dtype=float)
    labels = np.asarray(tl.labels, dtype=np.int8)
    k = np.searchsorted(stops, times, side="left")  # first interval with stop >= t
    inside = k < len(stops)
    kk = np.where(inside, k, len(stops) - 1)
    inside &= starts[kk] <= times
    return np.where(inside, labels[kk], labels[-1])


def _count_le(x: float, half: float, epoch_s: float, n: int) -> int:
    """How many ``k`` in ``[0, n)`` have ``half + k * epoch_s <= x``.

    Estimated with a floor, then corrected with the very float expression NEDC evaluates.
    """
    c = min(max(math.floor((x - half) / epoch_s) + 1, 0), n)
    while c > 0 and half + (c - 1) * epoch_s > x:
        c -= 1
    while c < n and half + c * epoch_s <= x:
        c += 1
    return c


def _count_lt(x: float, half: float, epoch_s: float, n: int) -> int:
    """How many ``k`` in ``[0, n)`` have ``half + k * epoch_s < x``."""
    c = min(max(math.ceil((x - half) / epoch_s), 0), n)
    while c > 0 and half + (c - 1) * epoch_s >= x:
        c -= 1
    while c < n and half + c * epoch_s < x:
        c += 1
    return c


def _n_epochs(stop: float, epoch_s: float) -> int:
    """Count the samples ``epoch_s / 2 + k * epoch_s <= stop`` (NEDC's loop bound)."""
    return _count_le(stop, epoch_s / 2.0, epoch_s, 2**62)


def _epoch_runs(tl: Timeline, half: float, epoch_s: float, n: int) -> list[tuple[int, int]]:
    """Sample labels of a timeline as runs ``(first_sample, label)`` covering ``[0, n)``.

    Sample ``k`` (time ``t = half + k * epoch_s``) takes the label of the first interval with
    ``start <= t <= stop``, or the last interval's label when none contains it (NEDC's
    ``time_to_index`` returning -1). Interval ``j`` therefore owns samples
    ``[max(S_j, E_(j-1)), E_j)`` with ``S_j = #{t < start_j}`` and ``E_j = #{t <= stop_j}``.
    """
    last = tl.labels[-1]
    runs: list[tuple[int, int]] = []
    e_prev = 0

    def add(first: int, label: int) -> None:
        if runs and runs[-1][0] == first:
            runs[-1] = (first, label)
        elif not runs or runs[-1][1] != label:
            runs.append((first, label))

    for start, stop, label in zip(tl.starts, tl.stops, tl.labels):
        e = max(e_prev, _count_le(stop, half, epoch_s, n))
        own_from = max(_count_lt(start, half, epoch_s, n), e_prev)
        if own_from > e_prev:
            add(e_prev, last)  # samples in a gap between intervals
        if e > own_from:
            add(own_from, label)
        e_prev = e
    if e_prev < n or not runs:
        add(e_prev, last)
    return runs


def epoch_counts(ref: Timeline, hyp: Timeline, epoch_s: float = 0.25) -> NedcCounts:
    """NEDC EPOCH counts for one file: both timelines sampled every ``epoch_s`` seconds.

    Samples sit at ``epoch_s / 2 + k * epoch_s`` for every such time not after the end of the
    reference; the result's :attr:`NedcCounts.confusion` holds reference x hypothesis epochs.
    The samples are counted per run of constant labels (no per-epoch array), which gives
    NEDC's counts exactly (:func:`epoch_labels` is the direct, per-sample version).
    """
    half = epoch_s / 2.0
    n = _n_epochs(ref.end, epoch_s)
    conf = [[0, 0], [0, 0]]
    if n > 0:
        rr = _epoch_runs(ref, half, epoch_s, n) + [(n, -1)]
        hr = _epoch_runs(hyp, half, epoch_s, n) + [(n, -1)]
        i = j = 0
        pos = 0
        while pos < n:
            nxt = min(rr[i + 1][0], hr[j + 1][0])
            conf[rr[i][1]][hr[j][1]] += nxt - pos
            pos = nxt
            if rr[i + 1][0] == pos:
                i += 1
            if hr[j + 1][0] == pos:
                j += 1
    out = NedcCounts("epoch", duration_s=ref.end, files=1, epoch_s=epoch_s)
    out.confusion[:] = conf
    out.targets[:] = out.confusion.sum(axis=1)
    out.hits[:] = np.diag(out.confusion)
    out.misses[:] = out.targets - out.hits
    # false alarms, insertions and deletions relative to the null class (bckg)
    out.false_alarms[SEIZ] = conf[BCKG][SEIZ]
    out.insertions[SEIZ] = conf[BCKG][SEIZ]
    out.deletions[SEIZ] = conf[SEIZ][BCKG]
    return out


def epoch_labels(tl: Timeline, duration_s: float, epoch_s: float = 0.25) -> np.ndarray:
    """Per-epoch labels of a timeline, sampled one by one as NEDC does (reference version).

    Returns
    -------
    ndarray of int, shape (n_epochs,)
        :data:`SEIZ` or :data:`BCKG` at ``epoch_s / 2 + k * epoch_s <= duration_s``.
    """
    n = _n_epochs(duration_s, epoch_s)
    return _labels_at(tl, epoch_s / 2.0 + np.arange(n, dtype=float) * epoch_s)


def align(
    ref_labels: Sequence[int],
    hyp_labels: Sequence[int],
    penalties: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> tuple[list[int], list[int]]:
    """NEDC's DP string alignment of two label sequences.

    Parameters
    ----------
    ref_labels, hyp_labels : sequence of int
        Label codes; the dummy symbol ``-1`` is added at both ends, as NEDC does.
    penalties : (float, float, float)
        Deletion, insertion and substitution penalties.

    Returns
    -------
    (list of int, list of int)
        The aligned reference and hypothesis, ``-1`` marking the dummies and gaps.
    """
    p_del, p_ins, p_sub = penalties
    refi = [_NULL, *ref_labels, _NULL]
    hypi = [_NULL, *hyp_labels, _NULL]
    m, n = len(refi), len(hypi)
    SUB, INS, DEL = 0, 1, 2
    # d[i][j], column j (hyp) outer, row i (ref) inner, like NEDC
    d = [[0.0] * n for _ in range(m)]
    et = [[SUB] * n for _ in range(m)]
    for j in range(1, n):
        d[0][j] = d[0][j - 1] + p_ins
        et[0][j] = INS
    for i in range(1, m):
        d[i][0] = d[i - 1][0] + p_del
        et[i][0] = DEL
    for j in range(1, n):
        hj = hypi[j]
        for i in range(1, m):
            d_del = d[i - 1][j] + p_del
            d_ins = d[i][j - 1] + p_ins
            d_sub = d[i - 1][j - 1]
            if refi[i] != hj:
                d_sub += p_sub
            best, kind = d_sub, SUB
            if d_ins < best:
                best, kind = d_ins, INS
            if d_del < best:
                best, kind = d_del, DEL
            d[i][j] = best
            et[i][j] = kind
    i, j = m - 1, n - 1
    reft: list[int] = []
    hypt: list[int] = []
    while True:
        kind = et[i][j]
        if kind == DEL:
            reft.append(refi[i])
            hypt.append(_NULL)
            i -= 1
        elif kind == INS:
            reft.append(_NULL)
            hypt.append(hypi[j])
            j -= 1
        else:
            reft.append(refi[i])
            hypt.append(hypi[j])
            i -= 1
            j -= 1
        if i < 0 and j < 0:
            break
        if i < 0 or j < 0:  # NEDC would index from the end here; cannot happen with m, n >= 2
            raise RuntimeError("DP alignment back-trace left the matrix")
    return reft[::-1], hypt[::-1]


def dpalign_counts(
    ref: Timeline, hyp: Timeline, penalties: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> NedcCounts:
    """NEDC DPALIGN counts for one file: align the label sequences, ignore times.

    Insertions are false alarms of the inserted label; deletions and substitutions are misses
    of the reference label; aligned pairs fill :attr:`NedcCounts.confusion`.
    """
    refo, hypo = align(ref.labels, hyp.labels, penalties)
    out = NedcCounts("dpalign", duration_s=ref.end, files=1)
    for r, h in zip(refo[1:-1], hypo[1:-1]):
        if r == _NULL:
            if h != _NULL:
                out.insertions[h] += 1
                out.false_alarms[h] += 1
        elif h == _NULL:
            out.targets[r] += 1
            out.deletions[r] += 1
            out.misses[r] += 1
        else:
            out.targets[r] += 1
            out.confusion[r, h] += 1
            if r == h:
                out.hits[r] += 1
            else:
                out.misses[r] += 1
    return out


def score_timelines(
    ref: Timeline,
    hyp: Timeline,
    method: str,
    epoch_s: float = 0.25,
    penalties: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> NedcCounts:
    """Score one file's timelines with one method: ``ovlp``, ``taes``, ``epoch`` or ``dpalign``."""
    if method == "ovlp":
        return ovlp_counts(ref, hyp)
    if method == "taes":
        return taes_counts(ref, hyp)
    if method == "epoch":
        return epoch_counts(ref, hyp, epoch_s)
    if method == "dpalign":
        return dpalign_counts(ref, hyp, penalties)
    raise ValueError(
        f"Invalid value for 'method': allowed {', '.join(map(repr, NEDC_METHODS))}, "
        f"got {method!r} instead"
    )


# --------------------------------------------------------------------------------------------
# derived figures
# --------------------------------------------------------------------------------------------

#: Names of the per-label figures in :class:`NedcMetrics`, in NEDC's printing order.
PER_LABEL_FIELDS: tuple[str, ...] = (
    "targets", "hits", "misses", "false_alarms", "insertions", "deletions",
    "tp", "tn", "fp", "fn",
    "sensitivity", "specificity", "precision", "npv", "miss_rate", "fpr", "fdr", "for_",
    "accuracy", "misclassification", "prevalence", "f1", "mcc", "fa_per_24h",
)  # fmt: skip


@dataclass
class NedcMetrics:
    """NEDC's printed figures for one method.

    Attributes
    ----------
    method : str
    per_label : dict of str to dict of str to float
        ``per_label["seiz"]["sensitivity"]`` etc., keys in :data:`PER_LABEL_FIELDS`; rates are
        fractions (NEDC prints them x 100), ``fa_per_24h`` is false alarms per 24 hours.
    summary : dict of str to float
        NEDC's SUMMARY block: ``total``, ``hits``, ``misses``, ``false_alarms``,
        ``insertions``, ``deletions``, ``tp``, ``fp``, ``sensitivity``, ``miss_rate``,
        ``accuracy``, ``misclassification``, ``prevalence``, ``f1``, ``mcc``,
        ``duration_s``, ``total_false_alarms``, ``fa_per_24h``.
    """

    method: str
    per_label: dict[str, dict[str, float]]
    summary: dict[str, float]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den != 0 else 0.0


def nedc_metrics(counts: NedcCounts) -> NedcMetrics:
    """Derive sensitivity, specificity, FA/24h etc. from counts, with NEDC's formulas.

    TP/TN/FP/FN per label: OVLP and TAES take TP = hits, TN = hits of the other label,
    FP = false alarms, FN = misses. EPOCH takes them from the confusion matrix (FP = the
    label's column off the diagonal). DPALIGN takes TP = hits, TN = the confusion matrix
    without the label's row and column, FP = insertions, FN = misses. FA/24h = FP / total
    duration x 86400 (EPOCH: FP x epoch / total duration x 86400). Divisions by zero give 0,
    as in NEDC.
    """
    c = counts
    tdur = c.duration_s
    fa_scale = c.epoch_s if c.method == "epoch" else 1.0
    per_label: dict[str, dict[str, float]] = {}
    f1_denom = 0.0
    for a in (SEIZ, BCKG):
        b = 1 - a
        if c.method in ("ovlp", "taes"):
            tp, tn, fp, fn = c.hits[a], c.hits[b], c.false_alarms[a], c.misses[a]
        elif c.method == "epoch":
            tp, tn = c.confusion[a, a], c.confusion[b, b]
            fp, fn = c.confusion[b, a], c.confusion[a, b]
        else:  # dpalign
            tp, tn, fp, fn = c.hits[a], c.confusion[b, b], c.insertions[a], c.misses[a]
        tp, tn, fp, fn = float(tp), float(tn), float(fp), float(fn)
        tpr = _ratio(tp, tp + fn)
        tnr = _ratio(tn, tn + fp)
        ppv = _ratio(tp, tp + fp)
        npv = _ratio(tn, tn + fn)
        total = tp + tn + fp + fn
        acc = _ratio(tp + tn, total)
        prv = _ratio(tp + fn, total)
        f1_denom = ppv + tpr
        f1 = 2.0 * ppv * tpr / f1_denom if round(f1_denom, 10) != 0 else 0.0
        mcc_den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
        mcc = ((tp * tn) - (fp * fn)) / math.sqrt(mcc_den) if round(mcc_den, 10) != 0 else 0.0
        flr = fp * fa_scale / tdur * SECONDS_PER_DAY if round(tdur, 10) != 0 else 0.0
        per_label[LABELS[a]] = {
            "targets": float(c.targets[a]),
            "hits": float(c.hits[a]),
            "misses": float(c.misses[a]),
            "false_alarms": float(c.false_alarms[a]),
            "insertions": float(c.insertions[a]),
            "deletions": float(c.deletions[a]),
            "tp": tp,
            "tn": tn,
            "fp": fp,
            "fn": fn,
            "sensitivity": tpr,
            "specificity": tnr,
            "precision": ppv,
            "npv": npv,
            "miss_rate": 1 - tpr,
            "fpr": 1 - tnr,
            "fdr": 1 - ppv,
            "for_": 1 - npv,
            "accuracy": acc,
            "misclassification": 1 - acc,
            "prevalence": prv,
            "f1": f1,
            "mcc": mcc,
            "fa_per_24h": flr,
        }
    lab = per_label.values()
    s_tp = sum(x["tp"] for x in lab)
    s_tn = sum(x["tn"] for x in lab)
    s_fp = sum(x["fp"] for x in lab)
    s_fn = sum(x["fn"] for x in lab)
    s_tpr = _ratio(s_tp, s_tp + s_fn)
    s_ppv = _ratio(s_tp, s_tp + s_fp)
    s_total = s_tp + s_tn + s_fp + s_fn
    s_acc = _ratio(s_tp + s_tn, s_total)
    # NEDC quirk: the summary F1 reuses the last label's denominator (bckg's ppv + tpr)
    s_f1 = 2.0 * s_ppv * s_tpr / f1_denom if round(f1_denom, 10) != 0 else 0.0
    s_mcc_den = (s_tp + s_fp) * (s_tp + s_fn) * (s_tn + s_fp) * (s_tn + s_fn)
    s_mcc = (s_tp * s_tn - s_fp * s_fn) / math.sqrt(s_mcc_den) if round(s_mcc_den, 10) != 0 else 0.0
    summary = {
        "total": float(c.targets.sum()),
        "hits": float(c.hits.sum()),
        "misses": float(c.misses.sum()),
        "false_alarms": float(c.false_alarms.sum()),
        "insertions": float(c.insertions.sum()),
        "deletions": float(c.deletions.sum()),
        "tp": s_tp,
        "fp": s_fp,
        "sensitivity": s_tpr,
        "miss_rate": 1 - s_tpr,
        "accuracy": s_acc,
        "misclassification": 1 - s_acc,
        "prevalence": _ratio(s_tp + s_fn, s_total),
        "f1": s_f1,
        "mcc": s_mcc,
        "duration_s": tdur,
        "total_false_alarms": s_fp,
        "fa_per_24h": s_fp * fa_scale / tdur * SECONDS_PER_DAY if round(tdur, 10) != 0 else 0.0,
    }
    return NedcMetrics(c.method, per_label, summary)


# --------------------------------------------------------------------------------------------
# NEDC-style report text
# --------------------------------------------------------------------------------------------

_TITLES = {
    "ovlp": "NEDC OVERLAP SCORING SUMMARY",
    "taes": "NEDC TAES SCORING SUMMARY",
    "epoch": "NEDC EPOCH SCORING SUMMARY",
    "dpalign": "NEDC DP ALIGNMENT SCORING SUMMARY",
}

# (printed name, key, kind) in NEDC's order; kind: c = count, p = percent, r = ratio
_LABEL_ROWS = (
    ("Targets", "targets", "c"), ("Hits", "hits", "c"), ("Misses", "misses", "c"),
    ("False Alarms", "false_alarms", "c"), ("Insertions", "insertions", "c"),
    ("Deletions", "deletions", "c"), None,
    ("True Positives (TP)", "tp", "c"), ("True Negatives (TN)", "tn", "c"),
    ("False Positives (FP)", "fp", "c"), ("False Negatives (FN)", "fn", "c"), None,
    ("Sensitivity (TPR, Recall)", "sensitivity", "p"), ("Specificity (TNR)", "specificity", "p"),
    ("Precision (PPV)", "precision", "p"), ("Negative Pred. Value (NPV)", "npv", "p"),
    ("Miss Rate (FNR)", "miss_rate", "p"), ("False Positive Rate (FPR)", "fpr", "p"),
    ("False Discovery Rate (FDR)", "fdr", "p"), ("False Omission Rate (FOR)", "for_", "p"),
    ("Accuracy", "accuracy", "p"), ("Misclassification Rate", "misclassification", "p"),
    ("Prevalence", "prevalence", "p"), ("F1 Score (F Ratio)", "f1", "r"),
    ("Matthews (MCC)", "mcc", "r"), ("False Alarm Rate", "fa_per_24h", "f"),
)  # fmt: skip
_SUMMARY_ROWS = (
    ("Total", "total", "c"), ("Hits", "hits", "c"), ("Misses", "misses", "c"),
    ("False Alarms", "false_alarms", "c"), ("Insertions", "insertions", "c"),
    ("Deletions", "deletions", "c"), None,
    ("True Positives(TP)", "tp", "c"), ("False Positives (FP)", "fp", "c"), None,
    ("Sensitivity (TPR, Recall)", "sensitivity", "p"), ("Miss Rate (FNR)", "miss_rate", "p"),
    ("Accuracy", "accuracy", "p"), ("Misclassification Rate", "misclassification", "p"),
    ("Prevalence", "prevalence", "p"), ("F1 Score", "f1", "r"), ("Matthews (MCC)", "mcc", "r"),
    None,
    ("Total Duration", "duration_s", "s"), ("Total False Alarms", "total_false_alarms", "e"),
    ("Total False Alarm Rate", "fa_per_24h", "f"),
)  # fmt: skip
# NEDC marks these rows with "   <**" (the figures each method "owns")
_MARKED = {
    "ovlp": {"targets", "hits", "misses", "false_alarms", "total"},
    "taes": {"targets", "hits", "misses", "false_alarms", "total"},
    "epoch": set(),
    "dpalign": {"insertions", "deletions"},
}


def _fmt(method: str, kind: str, value: float) -> str:
    if kind == "c":
        return f"{value:12.2f}" if method == "taes" else f"{value:12.0f}"
    if kind == "p":
        return f"{value * 100.0:12.4f}%"
    if kind == "r":
        return f"{value:12.4f}"
    if kind == "f":
        return f"{value:12.4f} per 24 hours"
    if kind == "s":
        return f"{value:12.4f} secs"
    return f"{value:12.4f} events"


def report_lines(metrics: NedcMetrics) -> list[str]:
    """Format the PER LABEL RESULTS and SUMMARY blocks as NEDC v6.0.0 prints them.

    The confusion table is not printed.

    Counts print with ``%12.0f`` (OVLP's ``%12d`` for whole numbers) except TAES (``%12.2f``);
    rates as percentages with four decimals.
    """
    m = metrics.method
    marked = _MARKED[m]
    lines = [f"{_TITLES[m]} (v6.0.0):", "", "PER LABEL RESULTS:", ""]

    def row(spec: tuple[str, str, str] | None, values: dict[str, float]) -> str:
        if spec is None:
            return ""
        name, key, kind = spec
        text = f"   {name:>30s}: {_fmt(m, kind, values[key])}"
        if key in marked and kind == "c":
            text += "   <**"
        return text

    for label in LABELS:
        lines += [f" LABEL: {label.upper()}", ""]
        lines += [row(s, metrics.per_label[label]) for s in _LABEL_ROWS]
        lines.append("")
    lines += ["SUMMARY:", ""]
    lines += [row(s, metrics.summary) for s in _SUMMARY_ROWS]
    lines.append("")
    return lines
