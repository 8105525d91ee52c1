"""The annotation label map from the config and the command line (issue 13).

mne-bids ``events.tsv`` corpora (``trial_type``) and EDF+ files annotated in their own TAL
channel, with texts outside the built-in labels, through ``preprocess.label_map`` (preprocess,
and so the cache's references that evaluate scores against) and ``--label-map`` (score, plot).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from battery import FAST, processed, processed_with_warning, refused, run
from test_ecosystem_annotations import write_edf_plus

import seizure.evaluation.plot as plot_module
from seizure.config import fingerprint
from seizure.preprocessing.cache import Cache
from seizure.preprocessing.config import PreprocessConfig

MNE_BIDS_HEADER = "onset\tduration\ttrial_type\tvalue\tsample\n"
MAP = 'preprocess.label_map={"Crise": "seiz", "eyes closed": "bckg"}'


def mne_bids_corpus(root: Path) -> Path:
    """Two subjects: a 'Crise' at 2-5 s beside 'eyes closed', and 'eyes closed' only."""
    for sub, rows in (
        ("01", "0.5\t1.0\teyes closed\t2\t64\n2.0\t3.0\tCrise\t1\t256\n"),
        ("02", "1.0\t1.0\tEyes Closed\t2\t128\n"),
    ):
        eeg = root / f"sub-{sub}" / "ses-01" / "eeg"
        write_edf_plus(eeg / f"sub-{sub}_ses-01_task-rest_run-01_eeg.edf", [], seed=int(sub))
        (eeg / f"sub-{sub}_ses-01_task-rest_run-01_events.tsv").write_text(MNE_BIDS_HEADER + rows)
    return root


def seizures_by_record(cache_dir: Path) -> dict[str, list[tuple[float, float]]]:
    cache = Cache(cache_dir)
    return {
        r.recording_id: [(e.start, e.stop) for e in cache.events(r.recording_id)]
        for r in cache.records
    }


def test_mne_bids_corpus_needs_the_map_for_unknown_trial_types(tmp_path):
    corpus = mne_bids_corpus(tmp_path / "bids")
    refused(
        run("preprocess", corpus, tmp_path / "c0", *FAST),
        1,
        r"sub-01.*_events\.tsv.*line 2: trial_type 'eyes closed'.*label map",
    )
    processed(run("preprocess", corpus, tmp_path / "c", *FAST, "--set", MAP))
    assert sorted(seizures_by_record(tmp_path / "c").values()) == [[], [(2.0, 5.0)]]
    header = json.loads((tmp_path / "c" / "cache.json").read_text())
    assert header["preprocess"]["label_map"] == {"crise": "seiz", "eyes closed": "bckg"}
    assert header["fingerprint"] != fingerprint(PreprocessConfig())


def test_edf_plus_texts_are_mapped_from_a_config_file(tmp_path):
    corpus = tmp_path / "corpus"
    write_edf_plus(corpus / "pa_r1.edf", [(2.0, 3.0, "Crise"), (6.0, None, "Lights off")], seed=1)
    write_edf_plus(corpus / "pb_r1.edf", [(1.0, 2.0, "Seizure")], seed=2)
    # without a map, 'Crise' is a note left out with a warning (as before)
    processed_with_warning(run("preprocess", corpus, tmp_path / "c0", *FAST), r"1 warnings")
    assert seizures_by_record(tmp_path / "c0") == {"pa_r1": [], "pb_r1": [(1.0, 3.0)]}
    (warning,) = Cache(tmp_path / "c0").record("pa_r1").warnings
    assert "'Crise' (1)" in warning and "'Lights off' (1)" in warning
    config = tmp_path / "labels.yaml"
    config.write_text("preprocess:\n  label_map:\n    CRISE: seiz\n")
    processed(run("preprocess", corpus, tmp_path / "c", *FAST, "--config", config))
    assert seizures_by_record(tmp_path / "c") == {"pa_r1": [(2.0, 5.0)], "pb_r1": [(1.0, 3.0)]}
    (warning,) = Cache(tmp_path / "c").record("pa_r1").warnings
    assert "'Crise'" not in warning and "'Lights off' (1)" in warning


def test_a_label_map_to_an_unknown_label_is_refused(tmp_path, flat_corpus):
    refused(
        run("preprocess", flat_corpus, tmp_path / "c", *FAST, "--set", MAP.replace("bckg", "x")),
        2,
        r"Error: .*'preprocess\.label_map' \(text 'eyes closed'\).*got 'x'",
    )


@pytest.fixture
def score_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """An mne-bids reference ('Crise' at 10-20 s) and a SzCORE hypothesis that finds it."""
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.mkdir()
    hyp.mkdir()
    name = "sub-01_ses-01_task-rest_run-01_events.tsv"
    (ref / name).write_text(
        MNE_BIDS_HEADER + "0.0\t600.0\teyes closed\t2\t0\n10\t10\tCrise\t1\t0\n"
    )
    (hyp / name).write_text(
        "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
        "11.0\t8.0\tsz\t1\tn/a\tn/a\t600\n"
    )
    return ref, hyp


def test_score_reads_an_mne_bids_reference_through_the_map(tmp_path, score_dirs):
    ref, hyp = score_dirs
    refused(run("score", ref, hyp), 1, r"line 2: trial_type 'eyes closed'.*label map")
    out = tmp_path / "s.json"
    args = ("score", ref, hyp, "--method", "ovlp", "--json", out)
    processed(run(*args, "--label-map", "crise=seiz", "--label-map", "Eyes Closed=bckg"))
    assert json.loads(out.read_text())["ovlp"]["hits"] == 1
    yaml_map = tmp_path / "map.yaml"
    yaml_map.write_text("Crise: seiz\neyes closed: bckg\n")
    processed(run(*args, "--label-map", yaml_map))
    assert json.loads(out.read_text())["ovlp"]["hits"] == 1
    processed(run(*args, "--set", MAP))  # the config's map serves score too
    assert json.loads(out.read_text())["ovlp"]["hits"] == 1
    # --label-map wins over the config: 'Crise' read as background, nothing to hit
    processed(run(*args, "--set", MAP, "--label-map", "Crise=bckg"))
    assert json.loads(out.read_text())["ovlp"]["hits"] == 0


def test_score_refuses_a_bad_label_map(tmp_path, score_dirs):
    ref, hyp = score_dirs
    refused(
        run("score", ref, hyp, "--label-map", "Crise=seizure"),
        2,
        r"Error: Invalid value for '--label-map' \(text 'Crise'\): allowed labels are seiz, bckg",
    )
    refused(
        run("score", ref, hyp, "--label-map", tmp_path / "absent.yaml"),
        2,
        r"'--label-map'.*TEXT=LABEL or a YAML file.*no such file",
    )
    listed = tmp_path / "list.yaml"
    listed.write_text("- seiz\n")
    refused(run("score", ref, hyp, "--label-map", listed), 2, r"expected a mapping.*got list")


def test_plot_reads_edf_plus_references_through_the_map(tmp_path, monkeypatch):
    rec = write_edf_plus(tmp_path / "rec.edf", [(2.0, 3.0, "Crise")], seed=1)
    drawn: list[tuple] = []
    monkeypatch.setattr(plot_module, "plot_segment", lambda *a, **k: drawn.append(a[2]))
    args = ("plot", rec, "--ref", rec, "--out", tmp_path / "p.png", "--span", 8, *FAST)
    processed(run(*args))
    processed(run(*args, "--label-map", "Crise=seiz"))
    without, mapped = drawn
    assert without == [] and [(e.start, e.stop) for e in mapped] == [(2.0, 5.0)]
    refused(run(*args, "--label-map", "Crise=sz"), 2, r"'--label-map' \(text 'Crise'\)")
