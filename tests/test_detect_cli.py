"""``seizure detect`` on small generated EDF files, through the library and the CLI.

Each EDF holds the 19 electrodes of the TCP montage (``EEG FP1-REF`` ...) at 32 Hz: noise of
20 uV with one loud stretch of 60 uV, the "seizure" the stand-in power model detects.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_evaluate_pipeline import make_checkpoint, power_factory

from seizure.cli import main
from seizure.evaluation.detect import detect, find_recordings
from seizure.io.annotations import read_annotation
from seizure.preprocessing.montage import get_montage

FS = 32


def write_edf(path: Path, seconds: int, loud: list[tuple[int, int]], electrodes=None, seed=0):
    import edfio

    rng = np.random.default_rng(seed)
    electrodes = electrodes or get_montage("tcp_ar").electrodes
    n = seconds * FS
    amp = np.full(n, 20.0)
    for a, b in loud:
        amp[a * FS : b * FS] = 60.0
    signals = [
        edfio.EdfSignal(
            rng.standard_normal(n) * amp,
            sampling_frequency=FS,
            label=f"EEG {name}-REF",
            physical_dimension="uV",
            physical_range=(-2000.0, 2000.0),
        )
        for name in electrodes
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    edfio.Edf(signals, starttime=dt.time(10, 30, 0)).write(path)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    ckpt = make_checkpoint(root / "best.pt")
    data = root / "edf"
    write_edf(data / "a.edf", 120, [(40, 70)])
    write_edf(data / "sub" / "b.edf", 90, [], seed=1)
    electrodes = [e for e in get_montage("tcp_ar").electrodes if e not in ("T3", "CZ")]
    write_edf(data / "sub" / "no_t3.edf", 60, [], electrodes=electrodes, seed=2)
    (data / "broken.edf").write_bytes(b"0       not an edf at all")
    return root, ckpt, data


def test_find_recordings_names(corpus):
    _, _, data = corpus
    found = find_recordings([data, data / "a.edf"])
    names = [name for _, name in found]
    assert names == ["a", "broken", "sub/b", "sub/no_t3"]  # a.edf given twice: listed once
    with pytest.raises(FileNotFoundError, match="nope"):
        find_recordings([data / "nope.edf"])


def test_detect_library(corpus, tmp_path):
    _, ckpt, data = corpus
    lines = []
    results = detect(
        ckpt,
        [data],
        tmp_path,
        device="cpu",
        model_factory=power_factory,
        log=lines.append,
        save_probs=True,
    )
    by_name = {r.name: r for r in results}
    a = by_name["a"]
    assert a.ok and a.duration_s == 120 and a.n_windows == 120
    assert len(a.events) == 1
    ev = a.events[0]
    assert abs(ev.start - 40) <= 2 and abs(ev.stop - 70) <= 2  # filter edges blur by a window
    assert by_name["sub/b"].ok and by_name["sub/b"].events == []
    # failures carry their reasons and write nothing
    assert not by_name["broken"].ok and "broken.edf" in str(by_name["broken"].path)
    assert not by_name["sub/no_t3"].ok and "T3" in by_name["sub/no_t3"].error
    assert not (tmp_path / "broken.csv_bi").exists()
    # outputs
    ann = read_annotation(tmp_path / "a.csv_bi")
    assert ann.duration == 120 and [(e.start, e.stop) for e in ann.seizures()] == [
        (ev.start, ev.stop)
    ]
    tsv = (tmp_path / "sub" / "b.tsv").read_text().splitlines()
    assert tsv[1].split("\t")[2] == "bckg"  # no seizure: SzCORE's single background row
    assert np.load(tmp_path / "a.probs.npy").shape == (120,)
    assert any(line.startswith(f"{data / 'a.edf'}: 1 seizure, ") for line in lines)
    assert any("sub/b.edf: 0 seizures, 0.0 s in total (of 90.0 s)" in line for line in lines)


def test_threshold_override_changes_detections(corpus, tmp_path):
    _, ckpt, data = corpus
    (res,) = detect(
        ckpt,
        [data / "a.edf"],
        tmp_path,
        overrides=["evaluate.threshold=1.0"],
        model_factory=power_factory,
    )
    assert res.ok and res.events == []


def test_cli_exit_status_and_summary(corpus, tmp_path, monkeypatch):
    _, ckpt, data = corpus
    import seizure.evaluation.detect as detect_module
    import seizure.training.checkpoint as checkpoint_module

    real = checkpoint_module.load_model_from_checkpoint
    monkeypatch.setattr(
        detect_module,  # where detect looks the function up
        "load_model_from_checkpoint",
        lambda path, device="cpu", model_factory=None, **kw: real(
            path, device, power_factory, **kw
        ),
    )
    runner = CliRunner()
    ok = runner.invoke(
        main, ["detect", str(ckpt), str(data / "a.edf"), "--out", str(tmp_path), "--device", "cpu"]
    )
    assert ok.exit_code == 0, ok.output
    assert "1 seizure" in ok.output and "1 of 1 recordings processed" in ok.output
    bad = runner.invoke(main, ["detect", str(ckpt), str(data), "--out", str(tmp_path / "all")])
    assert bad.exit_code == 1
    assert "2 of 4 recordings processed" in bad.output and "2 failed" in bad.output
    assert (tmp_path / "all" / "a.csv_bi").is_file()  # the good ones were still processed
    usage = runner.invoke(
        main, ["detect", str(ckpt), str(data), "--out", str(tmp_path), "--set", "model.cell=gru"]
    )
    assert usage.exit_code == 2 and "only 'evaluate.*'" in usage.output


def test_huge_artifact_is_clipped_like_the_cache_not_turned_into_nan(corpus, tmp_path):
    # A 150 mV transient overflows float16 (max 65,504): the cache writer clips it with a
    # warning, and detect must feed the model the same clipped windows, not inf.
    import edfio

    _, ckpt, _ = corpus
    rng = np.random.default_rng(3)
    n = 60 * FS
    signals = []
    for name in get_montage("tcp_ar").electrodes:
        x = rng.standard_normal(n) * 20.0
        if name == "FP1":
            x[30 * FS : 31 * FS] = 150_000.0
        signals.append(
            edfio.EdfSignal(
                x,
                sampling_frequency=FS,
                label=f"EEG {name}-REF",
                physical_dimension="uV",
                physical_range=(-200_000.0, 200_000.0),
            )
        )
    path = tmp_path / "edf" / "artifact.edf"
    path.parent.mkdir()
    edfio.Edf(signals, starttime=dt.time(10, 30, 0)).write(path)
    results = detect(
        ckpt, [path], tmp_path / "out", device="cpu", model_factory=power_factory, save_probs=True
    )
    (res,) = results
    assert res.error is None
    probs = np.load(tmp_path / "out" / "artifact.probs.npy")
    assert np.isfinite(probs).all()
    assert any("were clipped" in w for w in res.warnings)
