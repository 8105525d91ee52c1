"""Bad scoring inputs and malformed files (issue 12, items 9-10): each is refused naming the
file, line or setting, or processed with a named warning; never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from battery import ELECTRODES, FAST, processed, processed_with_warning, refused, run, write_edf

from seizure.io.annotations import read_csv, read_lbl, write_csv_bi
from seizure.io.events import MAX_RECORDING_SECONDS, Event
from seizure.utils.errors import InputFileError

HEADER = "channel,start_time,stop_time,label,confidence\n"


def _csv_bi(path: Path, duration_lines: str, rows: str = "TERM,2.0,5.0,seiz,1.0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# version = csv_v1.0.0\n{duration_lines}{HEADER}{rows}")
    return path


def _pair(tmp_path: Path, name: str = "pa_r1", duration: float = 32.0) -> tuple[Path, Path]:
    ref = tmp_path / "ref" / f"{name}.csv_bi"
    hyp = tmp_path / "hyp" / f"{name}.csv_bi"
    write_csv_bi(ref, [Event(2.0, 5.0)], duration)
    write_csv_bi(hyp, [Event(3.0, 6.0)], duration)
    return ref, hyp


def _lists(tmp_path: Path, refs: list[Path], hyps: list[Path], bom: bool = False) -> tuple:
    ref_list, hyp_list = tmp_path / "ref.list", tmp_path / "hyp.list"
    prefix = "\ufeff" if bom else ""
    ref_list.write_text(prefix + "".join(f"{p}\n" for p in refs), encoding="utf-8")
    hyp_list.write_text(prefix + "".join(f"{p}\n" for p in hyps), encoding="utf-8")
    return ref_list, hyp_list


# ------------------------------------------------------------------ item 9: scoring inputs


def test_a_pair_listed_twice_is_scored_once_with_a_warning_also_in_json(tmp_path):
    ref, hyp = _pair(tmp_path)
    ref_list, hyp_list = _lists(tmp_path, [ref, ref], [hyp, hyp])
    result = processed_with_warning(
        run("score", ref_list, hyp_list, "--json", "-"), r"line 2 repeats line 1.*scored once"
    )
    data = json.loads(result.stdout)
    assert data["files"] == 1
    assert data["ovlp"]["total_duration_s"] == 32.0
    assert any("line 2 repeats line 1" in w for w in data["warnings"])


def test_a_reference_listed_again_with_another_hypothesis_is_refused(tmp_path):
    ref, hyp = _pair(tmp_path)
    other = tmp_path / "hyp2" / "pa_r1.csv_bi"
    write_csv_bi(other, [], 32.0)
    ref_list, hyp_list = _lists(tmp_path, [ref, ref], [hyp, other])
    refused(run("score", ref_list, hyp_list), 1, r"ref\.list: line 2 lists .* again.*hyp2")


def test_two_files_of_one_recording_in_a_list_are_refused(tmp_path):
    ref, hyp = _pair(tmp_path)
    twin = tmp_path / "elsewhere" / "pa_r1.csv_bi"
    write_csv_bi(twin, [], 32.0)
    ref_list = tmp_path / "ref.list"
    ref_list.write_text(f"{ref}\n# a comment\n{twin}\n")
    refused(
        run("score", ref_list, tmp_path / "hyp"),
        1,
        r"ref\.list: lines 1 and 3 name two files of recording 'pa_r1'",
    )


def test_contradicting_duration_lines_are_refused_naming_both_lines(tmp_path):
    ref = _csv_bi(tmp_path / "ref" / "pa_r1.csv_bi", "# duration = 32 secs\n# duration = 64 secs\n")
    refused(
        run("score", tmp_path / "ref", tmp_path / "ref"),
        1,
        r"pa_r1\.csv_bi: line 3: a second '# duration' \(64 s\) contradicts line 2 \(32 s\)",
    )
    # the same value twice says nothing contradictory
    _csv_bi(ref, "# duration = 32 secs\n# duration = 32.0000 secs\n")
    assert read_csv(ref).duration == 32.0


def test_an_annotation_longer_than_the_edf_beside_it_is_scored_over_the_edf(tmp_path):
    corpus = tmp_path / "corpus"
    write_edf(corpus / "pa_r1.edf", seconds=32, events=())
    ref = _csv_bi(corpus / "pa_r1.csv_bi", "# duration = 3600.0000 secs\n")
    hyp = tmp_path / "hyp" / "pa_r1.csv_bi"
    write_csv_bi(hyp, [Event(2.0, 5.0)], 32.0)
    result = processed_with_warning(
        run("score", corpus, tmp_path / "hyp", "--json", "-"),
        r"pa_r1\.csv_bi: states a duration of 3600 s but pa_r1\.edf beside it lasts 32 s",
    )
    data = json.loads(result.stdout)
    assert data["ovlp"]["total_duration_s"] == 32.0
    assert len(data["warnings"]) >= 1
    # within one second of the EDF: nothing to say
    _csv_bi(ref, "# duration = 32.5 secs\n")
    result = processed(run("score", corpus, tmp_path / "hyp", "--json", "-"))
    assert not any("beside it" in w for w in json.loads(result.stdout)["warnings"])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("evaluate.dpalign_penalties=[1, -1, 1]", "evaluate.dpalign_penalties"),
        ("evaluate.epoch_seconds=0", "evaluate.epoch_seconds"),
        ("evaluate.szcore_fs_hz=0", "evaluate.szcore_fs_hz"),
        ("evaluate.szcore_fs_hz=100000", "evaluate.szcore_fs_hz"),
        ("evaluate.patient_regex='('", "evaluate.patient_regex"),
    ],
)
def test_bad_scoring_settings_are_refused_naming_the_key(tmp_path, override, key):
    _pair(tmp_path)
    refused(
        run("score", tmp_path / "ref", tmp_path / "hyp", "--set", override),
        2,
        rf"Invalid value for '{key}'",
    )


def test_an_invalid_patient_regex_option_is_a_usage_error(tmp_path):
    _pair(tmp_path)
    refused(
        run("score", tmp_path / "ref", tmp_path / "hyp", "--patient-regex", "("),
        2,
        r"'patient_regex'.*missing \)",
    )


def test_a_list_file_with_a_byte_order_mark_reads_its_first_path(tmp_path):
    ref, hyp = _pair(tmp_path)
    ref_list, hyp_list = _lists(tmp_path, [ref], [hyp], bom=True)
    result = processed(run("score", ref_list, hyp_list, "--json", "-"))
    data = json.loads(result.stdout)
    assert data["files"] == 1
    assert data["warnings"] == []
    assert data["ovlp"]["hits"] == 1


# ------------------------------------------------------------ item 10: tracebacks -> errors


@pytest.mark.parametrize(
    ("value", "problem"), [("0", r"must be > 0"), ("1e300", r"exceeds"), ("1e10", r"exceeds")]
)
def test_absurd_reference_durations_are_refused_naming_file_and_line(tmp_path, value, problem):
    _csv_bi(tmp_path / "ref" / "pa_r1.csv_bi", f"# duration = {value} secs\n")
    refused(
        run("score", tmp_path / "ref", tmp_path / "ref"),
        1,
        rf"pa_r1\.csv_bi: line 2: duration '{value}' s {problem}",
    )


def test_a_duration_inferred_from_absurd_event_times_is_refused(tmp_path):
    tse = tmp_path / "ref" / "pa_r1.tse_bi"
    tse.parent.mkdir()
    tse.write_text("version = tse_v1.0.0\n\n0.0 1e10 bckg 1.0\n")
    refused(
        run("score", tmp_path / "ref", tmp_path / "ref"),
        1,
        r"pa_r1\.tse_bi: recording duration 1e\+10 s exceeds",
    )


def test_in_memory_scoring_refuses_an_absurd_duration():
    from seizure.scoring.score import score_recordings

    for duration in (0.0, MAX_RECORDING_SECONDS * 2):
        with pytest.raises(ValueError, match=r"rec: recording duration"):
            score_recordings([("rec", [(1.0, 2.0)], [], duration)], "ovlp")
    assert score_recordings([("rec", [(1.0, 2.0)], [], 10.0)], "ovlp").files == 1


@pytest.mark.parametrize("table", ["{[1]: 'x'}", "{'a': 'seiz'}", "{0: 3}", "[1, 2]", "{0: 'x'"])
def test_a_malformed_lbl_symbol_map_is_refused_naming_the_line(tmp_path, table):
    lbl = tmp_path / "ref" / "pa_r1.lbl_bi"
    lbl.parent.mkdir()
    lbl.write_text(
        "version = lbl_v1.0.0\nmontage = 0, FP1-F7: EEG FP1-REF -- EEG F7-REF\n"
        f"symbols[0] = {table}\nlabel = {{0, 0, 0.0, 10.0, 0, [0.0, 1.0]}}\n"
    )
    refused(
        run("score", tmp_path / "ref", tmp_path / "ref"),
        1,
        r"pa_r1\.lbl_bi: line 3: malformed symbols line",
    )
    lbl.write_text(lbl.read_text().replace(table, "{0: 'bckg', 1: 'seiz'}"))
    assert read_lbl(lbl).events[0].label == "seiz"


def test_a_symlink_loop_in_a_corpus_is_refused_naming_the_link(flat_corpus, tmp_path):
    os.symlink("b.edf", flat_corpus / "a.edf")
    os.symlink("a.edf", flat_corpus / "b.edf")
    refused(
        run("preprocess", flat_corpus, tmp_path / "c", *FAST),
        1,
        r"a\.edf: symbolic link loop",
    )


def test_a_dangling_link_fails_only_its_own_recording(flat_corpus, tmp_path):
    os.symlink("missing.edf", flat_corpus / "pc_r1.edf")
    refused(
        run("preprocess", flat_corpus, tmp_path / "c", *FAST),
        1,
        r"FAILED \S*pc_r1\.edf: .*No such file.*1 recording\(s\) failed",
    )
    from seizure.preprocessing.cache import Cache

    assert len(Cache(tmp_path / "c").records) == 3


@pytest.mark.parametrize("missing", [["window_shape"], ["fingerprint", "channels"]])
def test_a_cache_header_missing_keys_is_refused_naming_them(flat_corpus, tmp_path, missing):
    cache = tmp_path / "c"
    processed(run("preprocess", flat_corpus, cache, *FAST))
    header = json.loads((cache / "cache.json").read_text())
    for key in missing:
        del header[key]
    (cache / "cache.json").write_text(json.dumps(header))
    refused(
        run("info", cache),
        1,
        rf"cache\.json: damaged cache header \(missing {', '.join(missing)}\); rebuild",
    )


def _patch_header(path: Path, offset: int, width: int, text: str) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + width] = text.ljust(width).encode("ascii")
    path.write_bytes(bytes(raw))


#: Offsets of the fixed EDF header fields patched below.
N_RECORDS_AT, RECORD_DURATION_AT = 236, 244


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("1e30", r"'duration of a data record': 1e\+30 s exceeds the 604800 s"),
        ("1e-30", r"samples_per_record 128 in 1e-30 s records is 1\.28e\+32 Hz"),
    ],
)
def test_absurd_edf_record_durations_are_refused_naming_the_field(tmp_path, text, pattern):
    from seizure.io.edf import read_edf_header

    edf = write_edf(tmp_path / "corpus" / "pa_r1.edf")
    assert read_edf_header(edf).record_duration_s == 1.0  # the offset patches that field
    _patch_header(edf, RECORD_DURATION_AT, 8, text)
    with pytest.raises(InputFileError, match=pattern):
        read_edf_header(edf)
    result = run("preprocess", tmp_path / "corpus", tmp_path / "c", *FAST)
    refused(result, 1, r"pa_r1\.edf")


def test_records_adding_up_to_more_than_a_week_are_refused(tmp_path):
    from seizure.io.edf import read_edf_header

    edf = write_edf(tmp_path / "pa_r1.edf")
    assert read_edf_header(edf).n_records == 8
    records = 700_000  # 1 s records: 8.1 days
    _patch_header(edf, N_RECORDS_AT, 8, str(records))
    with edf.open("r+b") as fh:  # sparse: the file holds every record the header states
        fh.truncate(edf.stat().st_size + (records - 8) * len(ELECTRODES) * 128 * 2)
    with pytest.raises(InputFileError, match=r"700000 data records of 1 s make 700000 s, more"):
        read_edf_header(edf)
