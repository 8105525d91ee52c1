"""Agreement with ``szcore-evaluation`` (SzCORE's own scorer) on BIDS trees made here.

Every SzCORE figure (event and sample scoring; sensitivity, precision, F1, FP/24h; pooled
over recordings and averaged over subjects, with the std) of ``seizure score REF HYP`` must
equal what ``szcore_evaluation.evaluate_dataset`` computes on the same two trees. Event times
have fractional seconds and durations are not whole seconds, so rounding times to samples
(instead of truncating them as epilepsy2bids does) changes the figures.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from seizure.scoring.score import score_files

HEADER = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"


def _write_events(path: Path, events: list[tuple[float, float]], duration_s: float) -> None:
    """An epilepsy2bids events file (2 decimals, as ``Annotations.saveTsv`` writes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [(on, length, "sz") for on, length in events] or [(0.0, duration_s, "bckg")]
    lines = [
        f"{on:.2f}\t{length:.2f}\t{kind}\tn/a\tn/a\t2000-01-01 00:00:00\t{duration_s:.2f}\n"
        for on, length, kind in rows
    ]
    path.write_text(HEADER + "".join(lines))


def _random_events(rng: random.Random, duration_s: float, n: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(n):
        length = round(rng.uniform(0.3, 400.0), 2)
        onset = round(rng.uniform(0.0, duration_s - length), 2)
        out.append((onset, length))
    return sorted(out)


def _make_trees(root: Path, seed: int) -> tuple[Path, Path]:
    """A reference and a hypothesis BIDS tree: 4 subjects, 7 runs; one hypothesis
    missing, one recording without seizure, hypotheses near and far from the seizures."""
    rng = random.Random(seed)
    ref_root, hyp_root = root / f"ref{seed}", root / f"hyp{seed}"
    missing = (2, 0)
    for s in range(4):
        for r in range(1 + s % 3):
            sub, ses = f"sub-{s + 1:02d}", "ses-01"
            name = f"{sub}_{ses}_task-szMonitoring_run-{r:02d}_events.tsv"
            rel = Path(sub, ses, "eeg", name)
            duration = round(rng.uniform(1800.0, 7200.0), 2) + 0.37
            ref = [] if (s, r) == (1, 1) else _random_events(rng, duration, rng.randint(1, 4))
            hyp = [
                (round(min(on + rng.uniform(-40, 40), duration - 5) if on > 40 else on, 2),
                 round(min(length * rng.uniform(0.2, 1.5), 5.0 + length), 2))
                for on, length in ref
                if rng.random() < 0.8
            ] + _random_events(rng, duration, rng.randint(0, 5))  # fmt: skip
            hyp = sorted((on, min(length, duration - on)) for on, length in hyp)
            _write_events(ref_root / rel, ref, duration)
            if (s, r) != missing:
                _write_events(hyp_root / rel, hyp, duration)
    return ref_root, hyp_root


def _close(ours: float | None, theirs: float) -> bool:
    if ours is None or (isinstance(ours, float) and math.isnan(ours)):
        return math.isnan(theirs)
    return ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_szcore_figure_equals_szcore_evaluation(tmp_path: Path, seed: int) -> None:
    szcore = pytest.importorskip("szcore_evaluation.evaluate")
    ref_root, hyp_root = _make_trees(tmp_path, seed)

    pooled = szcore.evaluate_dataset(ref_root, hyp_root, tmp_path / "p.json", avg_per_subject=False)
    averaged = szcore.evaluate_dataset(ref_root, hyp_root, tmp_path / "a.json")
    report = score_files(ref_root, hyp_root, ["szcore_event", "szcore_sample"])
    assert report.files == 7

    for ours_name, theirs_name in (("szcore_event", "event_results"),
                                   ("szcore_sample", "sample_results")):  # fmt: skip
        summary = report.results[ours_name].summary()
        avg = summary["patient_average"]
        assert avg["patients"] == 4
        for ours_key, theirs_key in (
            ("sensitivity", "sensitivity"),
            ("precision", "precision"),
            ("f1", "f1"),
            ("false_alarms_per_24h", "fpRate"),
        ):
            theirs = pooled[theirs_name][theirs_key]
            assert _close(summary[ours_key], theirs), (ours_name, ours_key, summary, theirs)
            key = "fp_per_24h" if ours_key == "false_alarms_per_24h" else ours_key
            for suffix in ("", "_std"):
                theirs = averaged[theirs_name][theirs_key + suffix]
                assert _close(avg[key + suffix], theirs), (ours_name, key + suffix, avg, theirs)


def test_truncation_not_rounding_decides_the_samples(tmp_path: Path) -> None:
    # 1 Hz samples, recording 10.9 s -> int(10.9) = 10 samples
    # ref  0.6-3.6 s  -> samples [0, 3)   (round() would give [1, 4))
    # hyp  3.5-5.5 s  -> samples [3, 5)   (round() would give [4, 6)): no overlap
    #   t  0 1 2 3 4 5 6 7 8 9
    # ref  # # # . . . . . . .
    # hyp  . . . # # . . . . .
    rel = Path("sub-01", "ses-01", "eeg", "sub-01_ses-01_task-szMonitoring_run-00_events.tsv")
    _write_events(tmp_path / "ref" / rel, [(0.6, 3.0)], 10.9)
    _write_events(tmp_path / "hyp" / rel, [(3.5, 2.0)], 10.9)
    report = score_files(tmp_path / "ref", tmp_path / "hyp", ["szcore_sample"])
    counts = report.results["szcore_sample"].counts
    assert (counts.ref_true, counts.tp, counts.fp, counts.n_samples) == (3, 0, 2, 10)
    assert counts.duration_s == 10.0
