"""Conformance with NEDC EEG Eval v6.0.0's published output on its 30 TUSZ sample files.

``../shared/data/nedc_v6/expected/summary.txt`` is what NEDC printed for ``ref.list`` /
``hyp.list``; ``summary_{ovlp,taes,dpalign}.txt`` are its per-file results. Every figure of
the per-label (SEIZ and BCKG) and SUMMARY blocks of every method must match to the printed
digit, and so must the per-file counts and label sequences.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from seizure.scoring import nedc
from seizure.scoring.nedc import NEDC_METHODS, NedcCounts, report_lines
from seizure.scoring.score import ScoreReport, score_files

TITLES = {
    "ovlp": "NEDC OVERLAP SCORING SUMMARY",
    "taes": "NEDC TAES SCORING SUMMARY",
    "epoch": "NEDC EPOCH SCORING SUMMARY",
    "dpalign": "NEDC DP ALIGNMENT SCORING SUMMARY",
}


def _blocks(lines: list[str]) -> dict[str, list[str]]:
    """Non-empty lines from 'PER LABEL RESULTS:' to the end of each method's block."""
    out: dict[str, list[str]] = {}
    current = None
    keep = False
    for line in lines:
        m = re.match(r"(NEDC .* SUMMARY) \(v6\.0\.0\):", line)
        if m:
            current, keep = m.group(1), False
            out[current] = []
            continue
        if line.startswith("=") or line.startswith("NEDC INTER-RATER"):
            current = None
            continue
        if current is None:
            continue
        if line.startswith("PER LABEL RESULTS"):
            keep = True
        if keep and line.strip():
            out[current].append(line.rstrip())
    return out


@pytest.fixture
def nedc_dir(shared_data: Path) -> Path:
    root = shared_data / "nedc_v6"
    if not (root / "expected" / "summary.txt").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the NEDC v6 conformance data is missing at {root}")
        pytest.skip(f"NEDC v6 conformance data not found at {root}")
    return root


@pytest.fixture
def report(nedc_dir: Path) -> ScoreReport:
    return score_files(nedc_dir / "ref.list", nedc_dir / "hyp.list", "nedc", keep_per_file=True)


@pytest.mark.shared_data
@pytest.mark.parametrize("method", NEDC_METHODS)
def test_summary_matches_nedc_to_the_printed_digit(
    nedc_dir: Path, report: ScoreReport, method: str
) -> None:
    expected = _blocks((nedc_dir / "expected" / "summary.txt").read_text().splitlines())
    ours = _blocks(report_lines(report.results[method].counts.metrics()))
    title = TITLES[method]
    # headings + 2 labels x (heading + 24 figures) + 18 summary figures
    assert len(expected[title]) == 70
    assert ours[title] == expected[title]


@pytest.mark.shared_data
def test_json_figures_match_nedc(report: ScoreReport) -> None:
    """The headline SEIZ figures, as fractions, against the printed percentages."""
    data = report.to_dict()
    assert data["files"] == 30
    printed = {  # sensitivity %, specificity %, FA/24h, hits, misses, false alarms
        "ovlp": (86.1626, 98.9130, 3.8165, 604, 97, 2),
        "taes": (6.6199, 62.7991, 91.5814, 46.41, 654.59, 47.99),
        "epoch": (89.1678, 54.7665, 22590.8607, 68142, 8278, 47354),
        "dpalign": (8.2739, 100.0, 0.0, 58, 643, 0),
    }
    for method, (sens, spec, fa, hits, misses, fas) in printed.items():
        r = data[method]
        assert f"{100 * r['sensitivity']:.4f}" == f"{sens:.4f}"
        assert f"{100 * r['specificity']:.4f}" == f"{spec:.4f}"
        assert f"{r['false_alarms_per_24h']:.4f}" == f"{fa:.4f}"
        assert f"{r['hits']:.2f}" == f"{hits:.2f}"
        assert f"{r['misses']:.2f}" == f"{misses:.2f}"
        assert f"{r['false_alarms']:.2f}" == f"{fas:.2f}"
        assert r["total_duration_s"] == 45277.0


def _per_file(path: Path) -> list[dict[str, str]]:
    """Per-file records of summary_<method>.txt: names, Ref/Hyp lines and the counts."""
    records: list[dict[str, str]] = []
    for line in path.read_text().splitlines():
        m = re.match(r"\s*\d+: (\S+)$", line)
        if m:
            records.append({"ref": Path(m.group(1)).name})
        elif line.startswith("  Ref:"):
            records[-1]["Ref"] = line[6:].strip()
        elif line.startswith("  Hyp:"):
            records[-1]["Hyp"] = line[6:].strip()
        elif line.strip().startswith("(Hit:"):
            records[-1].update(re.findall(r"([A-Za-z ]+): ([-\d.]+)", line.strip()[1:-1]))
    return records


@pytest.mark.shared_data
def test_per_file_ovlp_and_label_sequences(nedc_dir: Path, report: ScoreReport) -> None:
    records = _per_file(nedc_dir / "expected" / "summary_ovlp.txt")
    assert len(records) == 30
    from seizure.io.annotations import read_annotation

    for rec in records:
        name = rec["ref"].removesuffix(".csv_bi")
        c: NedcCounts = report.per_file[name]["ovlp"]
        got = {
            "Hit": f"{c.hits.sum():.0f}",
            "Miss": f"{c.misses.sum():.0f}",
            "False Alarms": f"{c.false_alarms.sum():.0f}",
            "Total": f"{c.hits.sum() + c.misses.sum() + c.false_alarms.sum():.0f}",
        }
        assert got == {k.strip(): v for k, v in rec.items() if k.strip() in got}, name
        # the timelines NEDC built: every interval's label, background included
        for side, folder in (("Ref", "ref"), ("Hyp", "hyp")):
            ann = read_annotation(nedc_dir / folder / rec["ref"])
            ref_ann = read_annotation(nedc_dir / "ref" / rec["ref"])
            tl = nedc.build_timeline(
                nedc.as_intervals(ann.events, ref_ann.duration), ref_ann.duration
            )
            assert " ".join(nedc.LABELS[x] for x in tl.labels) == rec[side], (name, side)


@pytest.mark.shared_data
def test_per_file_taes(nedc_dir: Path, report: ScoreReport) -> None:
    records = _per_file(nedc_dir / "expected" / "summary_taes.txt")
    assert len(records) == 30
    for rec in records:
        name = rec["ref"].removesuffix(".csv_bi")
        c: NedcCounts = report.per_file[name]["taes"]
        hit, mis, fal = c.hits.sum(), c.misses.sum(), c.false_alarms.sum()
        got = {
            "Hit": f"{hit:.4f}",
            "Miss": f"{mis:.4f}",
            "False Alarms": f"{fal:.4f}",
            "Total": f"{mis + fal:.4f}",  # NEDC prints misses + false alarms as the total
        }
        assert got == {k.strip(): v for k, v in rec.items() if k.strip() in got}, name


@pytest.mark.shared_data
def test_per_file_dpalign(nedc_dir: Path, report: ScoreReport) -> None:
    records = _per_file(nedc_dir / "expected" / "summary_dpalign.txt")
    assert len(records) == 30
    for rec in records:
        name = rec["ref"].removesuffix(".csv_bi")
        c: NedcCounts = report.per_file[name]["dpalign"]
        subs = c.confusion.sum() - c.confusion.trace()
        got = {
            "Hit": f"{c.hits.sum():.0f}",
            "Sub": f"{subs:.0f}",
            "Ins": f"{c.insertions.sum():.0f}",
            "Del": f"{c.deletions.sum():.0f}",
            "Total": f"{subs + c.insertions.sum() + c.deletions.sum():.0f}",
        }
        assert got == {k.strip(): v for k, v in rec.items() if k.strip() in got}, name
