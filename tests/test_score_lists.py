"""Pairing reference and hypothesis annotation files: NEDC list files and folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from seizure.scoring.lists import pair_inputs, read_list, recording_name, scan_folder
from seizure.utils.errors import InputFileError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def test_recording_name() -> None:
    assert recording_name("a/aaaaaasf_s001_t000.csv_bi") == "aaaaaasf_s001_t000"
    assert recording_name("x.tse") == "x"
    assert recording_name("sub-01_ses-01_task-szMonitoring_run-00_events.tsv") == (
        "sub-01_ses-01_task-szMonitoring_run-00"
    )


def test_read_list_resolves_relative_paths_vars_and_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SZ_DATA", str(tmp_path / "data"))
    lst = tmp_path / "lists" / "ref.list"
    lst.parent.mkdir()
    lst.write_text(
        "# a comment\n\nref/a.csv_bi\n  $SZ_DATA/b.csv_bi  \n${SZ_DATA}/c.csv_bi\n/abs/d.csv_bi\n"
    )
    assert read_list(lst) == [
        tmp_path / "lists" / "ref" / "a.csv_bi",
        tmp_path / "data" / "b.csv_bi",
        tmp_path / "data" / "c.csv_bi",
        Path("/abs/d.csv_bi"),
    ]


def test_read_list_undefined_variable(tmp_path: Path) -> None:
    lst = tmp_path / "ref.list"
    lst.write_text("x.csv_bi\n$SZ_SURELY_UNDEFINED_VAR/a.csv_bi\n")
    with pytest.raises(InputFileError, match="line 2: undefined environment variable"):
        read_list(lst)


def test_scan_folder_prefers_csv_bi_and_recurses(tmp_path: Path) -> None:
    touch(tmp_path / "p1" / "r1.csv")
    touch(tmp_path / "p1" / "r1.csv_bi")
    touch(tmp_path / "p2" / "r2.tse_bi")
    touch(tmp_path / "p2" / "notes.txt")
    found = scan_folder(tmp_path)
    assert found == {"r1": tmp_path / "p1" / "r1.csv_bi", "r2": tmp_path / "p2" / "r2.tse_bi"}


def test_scan_folder_same_name_in_two_folders(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "r1.csv_bi")
    touch(tmp_path / "b" / "r1.csv_bi")
    with pytest.raises(InputFileError, match="two folders"):
        scan_folder(tmp_path)


def test_pair_folders_by_name(tmp_path: Path) -> None:
    touch(tmp_path / "ref" / "r1.csv_bi")
    touch(tmp_path / "ref" / "r2.csv_bi")
    touch(tmp_path / "hyp" / "r2.csv_bi")
    touch(tmp_path / "hyp" / "r3.csv_bi")
    p = pair_inputs(tmp_path / "ref", tmp_path / "hyp")
    assert [(x.name, x.hyp) for x in p.pairs] == [
        ("r1", None),
        ("r2", tmp_path / "hyp" / "r2.csv_bi"),
    ]
    assert any("r3.csv_bi: hypothesis without reference" in w for w in p.warnings)


def test_pair_lists_by_position(tmp_path: Path) -> None:
    (tmp_path / "ref.list").write_text("ref/a.csv_bi\nref/b.csv_bi\n")
    (tmp_path / "hyp.list").write_text("hyp/a.csv_bi\nhyp/x.csv_bi\n")
    p = pair_inputs(tmp_path / "ref.list", tmp_path / "hyp.list")
    assert [x.hyp for x in p.pairs] == [
        tmp_path / "hyp" / "a.csv_bi",
        tmp_path / "hyp" / "x.csv_bi",
    ]
    assert any("line 2 names 'x'" in w for w in p.warnings)


def test_pair_lists_of_different_length(tmp_path: Path) -> None:
    (tmp_path / "ref.list").write_text("a.csv_bi\nb.csv_bi\n")
    (tmp_path / "hyp.list").write_text("a.csv_bi\n")
    p = pair_inputs(tmp_path / "ref.list", tmp_path / "hyp.list")
    assert p.pairs[1].hyp is None
    assert any("1 hypothesis entries for 2 references" in w for w in p.warnings)


def test_pair_list_with_folder(tmp_path: Path) -> None:
    (tmp_path / "ref.list").write_text("ref/b.csv_bi\nref/a.csv_bi\n")
    touch(tmp_path / "hyp" / "a.csv_bi")
    p = pair_inputs(tmp_path / "ref.list", tmp_path / "hyp")
    assert [(x.name, x.hyp is not None) for x in p.pairs] == [("b", False), ("a", True)]


def test_missing_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="reference list or folder does not exist"):
        pair_inputs(tmp_path / "nope", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no reference annotation files"):
        pair_inputs(tmp_path / "empty", tmp_path)


@pytest.mark.shared_data
def test_nedc_lists(shared_data: Path) -> None:
    root = shared_data / "nedc_v6"
    p = pair_inputs(root / "ref.list", root / "hyp.list")
    assert len(p.pairs) == 30 and not p.warnings
    assert all(x.ref.is_file() and x.hyp is not None and x.hyp.is_file() for x in p.pairs)
