"""``seizure score`` through click's CliRunner: output, JSON, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seizure.cli import main

ALL_KEYS = {
    "ovlp", "taes", "epoch", "dpalign", "szcore_event", "szcore_sample", "files", "warnings"
}  # fmt: skip
ENTRY_KEYS = {
    "sensitivity",
    "specificity",
    "false_alarms_per_24h",
    "hits",
    "misses",
    "false_alarms",
    "total_duration_s",
}


def write_csv_bi(path: Path, events: list[tuple[float, float]], duration: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"TERM,{a:.4f},{b:.4f},seiz,1.0000\n" for a, b in events)
    path.write_text(
        "# version = csv_v1.0.0\n"
        f"# bname = {path.name.split('.')[0]}\n"
        f"# duration = {duration:.4f} secs\n"
        "# montage_file = nedc_eas_default_montage.txt\n#\n"
        "channel,start_time,stop_time,label,confidence\n" + rows
    )
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    # two patients; pat1: a seizure detected, one false alarm; pat2: a seizure missed
    write_csv_bi(tmp_path / "ref" / "pat1_s001_t000.csv_bi", [(100, 150)], 3600)
    write_csv_bi(tmp_path / "hyp" / "pat1_s001_t000.csv_bi", [(110, 140), (2000, 2010)], 3600)
    write_csv_bi(tmp_path / "ref" / "pat2_s001_t000.csv_bi", [(500, 600)], 1800)
    write_csv_bi(tmp_path / "hyp" / "pat2_s001_t000.csv_bi", [], 1800)
    return tmp_path


def run(*args: str) -> object:
    return CliRunner().invoke(main, ["score", *args])


def test_table_output(corpus: Path) -> None:
    r = run(str(corpus / "ref"), str(corpus / "hyp"))
    assert r.exit_code == 0, r.output
    assert "Scored 2 recording pairs (5400.0 s = 1.50 h)" in r.output
    for method in ("ovlp", "taes", "epoch", "dpalign", "szcore_event", "szcore_sample"):
        assert f"\n{method} " in r.output
    # OVLP: 1 of 2 seizures; 4 bckg events hit, 1 false alarm in 1.5 h -> 16 per 24 h
    ovlp = next(line for line in r.output.splitlines() if line.startswith("ovlp"))
    assert ovlp.split()[1:4] == ["50.00", "80.00", "16.00"]


def test_json_file(corpus: Path) -> None:
    out = corpus / "scores.json"
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--json", str(out))
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert set(data) == ALL_KEYS
    assert data["files"] == 2
    assert data["warnings"] == []
    for method in ALL_KEYS - {"files", "warnings"}:
        assert ENTRY_KEYS <= set(data[method])
        assert 0 <= data[method]["sensitivity"] <= 1
        assert data[method]["total_duration_s"] == 5400
    assert data["ovlp"]["hits"] == 1 and data["ovlp"]["misses"] == 1
    assert data["ovlp"]["false_alarms"] == 1
    # bckg events: pat1 0-100 and 150-3600, pat2 0-500 and 600-1800, all hit; 1 FA
    assert data["ovlp"]["specificity"] == pytest.approx(4 / 5)
    assert data["szcore_event"]["specificity"] is None
    assert data["szcore_event"]["patient_average"]["patients"] == 2


def test_json_to_stdout_and_method_selection(corpus: Path) -> None:
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--json", "-", "--method", "taes,ovlp")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"ovlp", "taes", "files", "warnings"}
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--json", "-", "--method", "szcore")
    assert set(json.loads(r.stdout)) == {"szcore_event", "szcore_sample", "files", "warnings"}


def test_list_files(corpus: Path) -> None:
    (corpus / "ref.list").write_text("ref/pat1_s001_t000.csv_bi\nref/pat2_s001_t000.csv_bi\n")
    (corpus / "hyp.list").write_text("hyp/pat1_s001_t000.csv_bi\nhyp/pat2_s001_t000.csv_bi\n")
    r = run(str(corpus / "ref.list"), str(corpus / "hyp.list"), "--json", "-", "--method", "ovlp")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["ovlp"]["hits"] == 1


def test_unknown_method_is_a_usage_error(corpus: Path) -> None:
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--method", "bogus")
    assert r.exit_code == 2
    assert "Invalid value for '--method'" in r.output
    assert "'bogus'" in r.output


def test_missing_argument_path_is_a_usage_error(corpus: Path) -> None:
    r = run(str(corpus / "nope"), str(corpus / "hyp"))
    assert r.exit_code == 2
    assert "does not exist" in r.output


def test_malformed_file_names_file_and_line(corpus: Path) -> None:
    bad = corpus / "hyp" / "pat1_s001_t000.csv_bi"
    bad.write_text(
        "# version = csv_v1.0.0\n# duration = 3600.0000 secs\n"
        "channel,start_time,stop_time,label,confidence\nTERM,10.0,abc,seiz,1.0\n"
    )
    r = run(str(corpus / "ref"), str(corpus / "hyp"))
    assert r.exit_code == 1
    assert "Error:" in r.output
    assert "pat1_s001_t000.csv_bi" in r.output and "line 4" in r.output


def test_missing_hypothesis_counts_as_no_detections(corpus: Path) -> None:
    (corpus / "hyp" / "pat1_s001_t000.csv_bi").unlink()
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--json", "-", "--method", "ovlp")
    assert r.exit_code == 0
    assert "pat1_s001_t000: no hypothesis file; scored as no detections" in r.stderr
    assert json.loads(r.stdout)["ovlp"]["hits"] == 0


def test_missing_hypothesis_in_list(corpus: Path) -> None:
    (corpus / "ref.list").write_text("ref/pat1_s001_t000.csv_bi\n")
    (corpus / "hyp.list").write_text("hyp/gone_s001_t000.csv_bi\n")
    r = run(str(corpus / "ref.list"), str(corpus / "hyp.list"), "--method", "ovlp")
    assert r.exit_code == 0
    assert "hypothesis file does not exist; scored as no detections" in r.stderr
    assert "names 'gone_s001_t000'" in r.stderr


def test_duration_mismatch_is_reported(corpus: Path) -> None:
    write_csv_bi(corpus / "hyp" / "pat2_s001_t000.csv_bi", [(1700, 1900)], 1900)
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--method", "ovlp")
    assert r.exit_code == 0
    assert (
        "pat2_s001_t000: hypothesis duration 1900 s differs from the reference duration "
        "1800 s" in r.stderr
    )
    assert "runs past the end of the recording" in r.stderr  # the clipped event


def test_nedc_report_file(corpus: Path) -> None:
    out = corpus / "summary.txt"
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--method", "nedc", "--nedc-report", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "NEDC OVERLAP SCORING SUMMARY (v6.0.0):" in text
    assert "Total Duration:    5400.0000 secs" in text


def test_bad_patient_regex_is_a_usage_error(corpus: Path) -> None:
    r = run(str(corpus / "ref"), str(corpus / "hyp"), "--patient-regex", "(")
    assert r.exit_code == 2
    assert "patient_regex" in r.output


def test_config_override_epoch(corpus: Path) -> None:
    r = run(
        str(corpus / "ref"), str(corpus / "hyp"), "--json", "-", "--method", "epoch",
        "--set", "evaluate.epoch_seconds=1.0",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)["epoch"]
    assert data["hits"] + data["misses"] == 150  # 50 + 100 one-second epochs of seizure


@pytest.mark.shared_data
def test_cli_reproduces_nedc_summary(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "nedc_v6"
    out = tmp_path / "summary.txt"
    r = run(str(root / "ref.list"), str(root / "hyp.list"), "--nedc-report", str(out))
    assert r.exit_code == 0, r.output
    expected = (root / "expected" / "summary.txt").read_text()
    for line in out.read_text().splitlines():
        if ":" in line and line.strip() and not line.startswith(("NEDC", "PER", "SUMMARY")):
            assert line in expected


def test_module_import_is_light() -> None:
    code = (
        "import sys, seizure.cli.score;"
        "print(','.join(m for m in ('numpy', 'scipy', 'torch', 'timescoring') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
