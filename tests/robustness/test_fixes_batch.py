"""Small defects fixed together: each case is one row of the battery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from battery import FAST, processed, refused, run

EVENTS_TSV = "sub-01_ses-01_task-rest_run-01_events.tsv"


@pytest.fixture
def crise_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """An mne-bids reference ('Crise' at 10-20 s) and a SzCORE hypothesis that finds it."""
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.mkdir()
    hyp.mkdir()
    (ref / EVENTS_TSV).write_text(
        "onset\tduration\ttrial_type\tvalue\tsample\n"
        "0.0\t600.0\teyes closed\t2\t0\n10\t10\tCrise\t1\t0\n"
    )
    (hyp / EVENTS_TSV).write_text(
        "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
        "11.0\t8.0\tsz\t1\tn/a\tn/a\t600\n"
    )
    return ref, hyp


def test_label_map_file_with_an_equals_sign_in_its_path_is_read_as_a_file(tmp_path, crise_dirs):
    ref, hyp = crise_dirs
    out = tmp_path / "s.json"
    args = ("score", ref, hyp, "--method", "ovlp", "--json", out)
    yaml_map = tmp_path / "maps" / "a=b.yaml"
    yaml_map.parent.mkdir()
    yaml_map.write_text("Crise: seiz\neyes closed: bckg\n")
    processed(run(*args, "--label-map", yaml_map))
    assert json.loads(out.read_text())["ovlp"]["hits"] == 1
    # a value with '=' that names no file is TEXT=LABEL (the text may hold '=' before the last)
    processed(run(*args, "--label-map", yaml_map, "--label-map", "Crise=bckg"))
    assert json.loads(out.read_text())["ovlp"]["hits"] == 0
    refused(
        run(*args, "--label-map", tmp_path / "maps" / "absent=x.yaml"),
        2,
        r"Invalid value for '--label-map' \(text '.*absent'\): allowed labels are seiz, bckg",
    )
    refused(
        run(*args, "--label-map", tmp_path / "maps" / "absent.yaml"),
        2,
        r"'--label-map'.*TEXT=LABEL or a YAML file.*no such file",
    )


def test_plot_an_explicit_reference_without_seizures_shades_none(tmp_path, flat_corpus,
                                                                monkeypatch):  # fmt: skip
    import seizure.evaluation.plot as plot_module
    from seizure.io.annotations import write_csv_bi

    processed(run("preprocess", flat_corpus, tmp_path / "cache", *FAST))
    empty = tmp_path / "none.csv_bi"
    write_csv_bi(empty, [], 8.0)
    drawn: list[list] = []
    monkeypatch.setattr(plot_module, "plot_segment", lambda *a, **k: drawn.append(a[2]))
    args = ("plot", tmp_path / "cache", "--record", "pa_r1", "--span", 8,
            "--out", tmp_path / "p.png")  # fmt: skip
    processed(run(*args))
    processed(run(*args, "--ref", empty))
    own, given = drawn
    assert [(e.start, e.stop) for e in own] == [(2.0, 5.0)]
    assert given == []
