"""End to end on ../shared/data: real headers (CHB-MIT, Siena, TUSZ) and a real recording."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seizure.cli import main
from seizure.io.events import Event
from seizure.preprocessing.cache import Cache

CONFIGS = Path(__file__).resolve().parents[1] / "seizure" / "configs" / "preprocess"
MALOW_EDF = "malow_michigan_19ch_100Hz_500s.edf"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def _info(cache: Path) -> dict:
    code, out = _run("info", cache, "--json")
    assert code == 0, out
    return json.loads(out)


def test_fixtures_default_tcp_refuses_what_lacks_a1_a2(shared_data: Path, tmp_path: Path):
    code, out = _run("preprocess", shared_data / "fixtures", tmp_path / "c")
    assert code == 1
    info = _info(tmp_path / "c")
    assert info["recordings"] == 2 and info["splits"] == {
        "dev": {"recordings": 2, "patients": 1, "hours": pytest.approx(4 / 3600),
                "seizure_events": 0}
    }  # fmt: skip
    reasons = {Path(f["path"]).name: f["reason"] for f in info["failed"]}
    assert set(reasons) == {"chb05_06.edf", "chb05_13.edf", "PN00-1.edf"}
    # CHB-MIT is bipolar: the missing pairs are listed all at once; Siena lacks A1/A2
    assert "needs A1-T3, T3-C3, C3-CZ, CZ-C4, C4-T4, T4-A2" in reasons["chb05_06.edf"]
    assert "needs A1, A2" in reasons["PN00-1.edf"]
    # the real annotations run past these 2 s files: recorded, not dropped silently
    assert sum("runs past the end" in w for w in info["warnings"]) == 3


def test_fixtures_double_banana_takes_every_corpus(shared_data: Path, tmp_path: Path):
    cfg = CONFIGS / "double_banana_raw_256hz.yaml"
    code, out = _run("preprocess", shared_data / "fixtures", tmp_path / "c", "--config", cfg)
    assert code == 0, out
    info = _info(tmp_path / "c")
    assert info["recordings"] == 5 and info["failed"] == []
    assert info["window_shape"] == [18, 256] and info["seizure_events"] == 0
    assert info["hours"] == pytest.approx(10 / 3600)
    assert sum(s["recordings"] for s in info["splits"].values()) == 5
    assert len([w for w in info["warnings"] if "runs past the end" in w]) == 6
    cache = Cache(tmp_path / "c")
    siena = cache.record("PN00-1")
    assert siena.sfreq_hz["FP1"] == 512.0 and siena.resampled
    chb = cache.record("chb05_06")
    assert chb.sfreq_hz == {k: 256.0 for k in chb.sfreq_hz} and not chb.resampled
    assert cache.windows("chb05_06").shape == (2, 18, 256)


@pytest.fixture
def malow(shared_data: Path, tmp_path: Path) -> Path:
    """The real 19-channel 100 Hz recording with its one event as a ``.csv_bi`` sidecar."""
    from seizure.io.annotations import write_csv_bi

    src = shared_data / "real" / "malow"
    with open(src / "malow_michigan_events.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    events = [Event(float(r["onset_s"]), float(r["offset_s"])) for r in rows]
    corpus = tmp_path / "malow"
    corpus.mkdir()
    shutil.copy(src / MALOW_EDF, corpus / MALOW_EDF)
    write_csv_bi(corpus / (Path(MALOW_EDF).stem + ".csv_bi"), events, 500.0)
    return corpus


def test_malow_tcp_ar_refused_then_filled(malow: Path, tmp_path: Path):
    code, out = _run("preprocess", malow, tmp_path / "ar")
    assert code == 1 and "needs A1, A2" in out
    code, out = _run(
        "preprocess", malow, tmp_path / "fill", "--set", "preprocess.fill_missing=true"
    )
    assert code == 0, out
    info = _info(tmp_path / "fill")
    assert info["channels_filled"] == [
        {"recording_id": "malow_michigan_19ch_100Hz_500s", "channels": ["A1-T3", "T4-A2"]}
    ]
    w = Cache(tmp_path / "fill").windows("malow_michigan_19ch_100Hz_500s")
    assert not np.any(w[:, 8]) and not np.any(w[:, 13]) and np.any(w[:, 9])


@pytest.mark.parametrize(
    ("config", "n_channels"),
    [("double_banana_raw_256hz.yaml", 18), ("tcp_ar_a_raw_256hz.yaml", 20)],
)
def test_malow_without_ear_electrodes(malow: Path, tmp_path: Path, config: str, n_channels: int):
    code, out = _run("preprocess", malow, tmp_path / "c", "--config", CONFIGS / config)
    assert code == 0, out
    info = _info(tmp_path / "c")
    assert info["recordings"] == 1 and info["hours"] == pytest.approx(500 / 3600)
    assert info["seizure_events"] == 1 and info["seizure_seconds"] == pytest.approx(150.0)
    cache = Cache(tmp_path / "c")
    rid = "malow_michigan_19ch_100Hz_500s"
    rec = cache.record(rid)
    assert rec.sfreq_hz["FP1"] == 100.0 and rec.resampled and rec.n_windows == 500
    labels = cache.labels(rid)
    assert labels[:350].sum() == 0 and labels[350:].all()  # seizure 350-500 s
    assert cache.windows(rid).shape == (500, n_channels, 256)
    assert any("nothing above 50 Hz" in w for w in rec.warnings)


def test_malow_folder_as_shipped(shared_data: Path, tmp_path: Path):
    """The folder's events file is in its own format (onset_s,offset_s,label,note): unless
    discovery learns it, the recording fails with a reason instead of being read as
    seizure-free."""
    from seizure.io.discovery import discover

    corpus = shared_data / "real" / "malow"
    cfg = CONFIGS / "double_banana_raw_256hz.yaml"
    code, out = _run("preprocess", corpus, tmp_path / "c", "--config", cfg)
    info = _info(tmp_path / "c")
    if discover(corpus)[0].annotation_path is None:
        assert code == 1 and info["recordings"] == 0
        assert "annotation" in info["failed"][0]["reason"]
    else:
        assert code == 0 and info["seizure_events"] == 1
