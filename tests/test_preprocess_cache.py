"""The cache: contract of the reader, atomic and resumable writes, shards, jobs, failures.

Corpora are generated here: a few seconds of seeded noise per recording with real TUSZ channel
labels (``EEG FP1-REF`` ...), written with edfio in the TUSZ v2 layout with ``.csv_bi``
annotations.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from seizure.cli import main
from seizure.io.events import Event
from seizure.preprocessing import cache as cache_mod
from seizure.preprocessing.build import build_cache, parse_shard
from seizure.preprocessing.cache import Cache, CacheError
from seizure.preprocessing.config import PreprocessConfig

TUSZ_ELECTRODES = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ",
]  # fmt: skip


def write_tusz_recording(
    root: Path,
    split: str,
    patient: str,
    token: int,
    *,
    seconds: int = 6,
    rate: float = 250.0,
    events: tuple[tuple[float, float], ...] = ((2.2, 4.6),),
    drop: tuple[str, ...] = (),
    rate_of: dict[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """A TUSZ-style EDF (+ .csv_bi) of seeded noise; returns the EDF path."""
    from edfio import Edf, EdfSignal

    from seizure.io.annotations import write_csv_bi

    rng = np.random.default_rng(seed)
    folder = root / "edf" / split / patient / "s001_2020" / "01_tcp_ar"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{patient}_s001_t{token:03d}"
    signals = []
    for name in [e for e in TUSZ_ELECTRODES if e not in drop] + ["EKG1"]:
        fs = (rate_of or {}).get(name, rate)
        data = rng.standard_normal(int(seconds * fs)) * 30
        signals.append(
            EdfSignal(
                data,
                sampling_frequency=fs,
                label=f"EEG {name}-REF",
                physical_dimension="uV",
                physical_range=(-500, 500),
            )
        )
    signals.append(EdfSignal(np.zeros(seconds), sampling_frequency=1, label="IBI"))
    Edf(signals).write(folder / f"{stem}.edf")
    write_csv_bi(folder / f"{stem}.csv_bi", [Event(a, b) for a, b in events], float(seconds))
    return folder / f"{stem}.edf"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    write_tusz_recording(root, "train", "aaaaaaaa", 0, seed=1)
    write_tusz_recording(root, "train", "aaaaaaaa", 1, seed=2, events=())
    write_tusz_recording(root, "train", "aaaaaaab", 0, seed=3, rate=256.0, events=((0.0, 9.0),))
    write_tusz_recording(
        root, "dev", "aaaaaaac", 0, seed=4, rate_of={"FP1": 500.0, "O2": 512.0}, seconds=4
    )
    return root


def _fast(**kw) -> PreprocessConfig:
    return PreprocessConfig(**kw)


def test_cache_reader_contract(corpus: Path, tmp_path: Path):
    summary = build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    assert summary.count("done") == 4 and summary.count("failed") == 0
    cache = Cache(tmp_path / "cache")
    assert cache.window_shape == (22, 256)
    assert cache.window_seconds == 1.0 and cache.stride_seconds == 1.0
    assert cache.channels[:2] == ("FP1-F7", "F7-T3") and len(cache.channels) == 22
    assert cache.config == PreprocessConfig() and len(cache.fingerprint) == 16
    ids = [r.recording_id for r in cache.records]
    assert ids == sorted(ids) == [
        "aaaaaaaa_s001_t000", "aaaaaaaa_s001_t001", "aaaaaaab_s001_t000", "aaaaaaac_s001_t000"
    ]  # fmt: skip
    assert [r.recording_id for r in cache.split("dev")] == ["aaaaaaac_s001_t000"]
    assert cache.failed == []

    rec = cache.record("aaaaaaaa_s001_t000")
    assert (rec.patient, rec.session, rec.split) == ("aaaaaaaa", "s001", "train")
    assert rec.duration_s == 6.0 and rec.n_windows == 6 and rec.channels_filled == ()
    w = cache.windows(rec.recording_id)
    assert isinstance(w, np.memmap) and w.dtype == np.float16 and w.shape == (6, 22, 256)
    # seizure 2.2-4.6 s; window midpoints 0.5 .. 5.5 -> ictal windows 2, 3, 4
    np.testing.assert_array_equal(cache.labels(rec.recording_id), [0, 0, 1, 1, 1, 0])
    assert cache.labels(rec.recording_id).dtype == np.uint8
    assert cache.events(rec.recording_id) == [Event(2.2, 4.6)]

    mixed = cache.record("aaaaaaac_s001_t000")
    assert mixed.sfreq_hz["FP1"] == 500.0 and mixed.sfreq_hz["O2"] == 512.0 and mixed.resampled
    # the event 0-9 s of a 6 s file is clipped, and said so
    clipped = cache.record("aaaaaaab_s001_t000")
    assert clipped.events == (Event(0.0, 6.0),)
    assert any("runs past the end" in x for x in clipped.warnings)
    assert not cache.record("aaaaaaab_s001_t000").resampled


def test_cached_windows_equal_the_pipeline(corpus: Path, tmp_path: Path):
    from seizure.io.edf import read_edf
    from seizure.preprocessing.pipeline import preprocess_recording

    build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    cache = Cache(tmp_path / "cache")
    rec = cache.record("aaaaaaaa_s001_t000")
    signals = preprocess_recording(read_edf(rec.source), cache.config).signals()
    expected = signals[:, : 6 * 256].reshape(22, 6, 256).transpose(1, 0, 2)
    got = np.asarray(cache.windows(rec.recording_id), dtype=np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=0.02)  # float16 storage


def test_rerun_skips_fresh_and_redoes_stale(corpus: Path, tmp_path: Path):
    build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    again = build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    assert again.count("skipped") == 4 and again.count("done") == 0
    edf = next(corpus.rglob("aaaaaaab_s001_t000.edf"))
    st = edf.stat()
    os.utime(edf, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    third = build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    assert [r.recording_id for r in third.results if r.status == "done"] == ["aaaaaaab_s001_t000"]


def test_moved_patient_corrected_annotation_and_deleted_recording(corpus: Path, tmp_path: Path):
    # The cache mirrors the corpus: nothing stale may stay in a split.
    import shutil

    from seizure.io.annotations import write_csv_bi

    build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    # patient aaaaaaab moves from train to eval (its EDF untouched)
    shutil.move(corpus / "edf" / "train" / "aaaaaaab", corpus / "edf" / "eval" / "aaaaaaab")
    # a corrected annotation for aaaaaaaa_s001_t001 (no seizure before): EDF untouched
    csv = next(corpus.rglob("aaaaaaaa_s001_t001.csv_bi"))
    write_csv_bi(csv, [Event(1.0, 3.0)], 6.0)
    # the dev recording is deleted from the corpus
    shutil.rmtree(corpus / "edf" / "dev")
    again = build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    redone = sorted(r.recording_id for r in again.results if r.status == "done")
    assert redone == ["aaaaaaaa_s001_t001", "aaaaaaab_s001_t000"]
    assert again.removed == ["aaaaaaac_s001_t000"]
    cache = Cache(tmp_path / "cache")
    assert [r.recording_id for r in cache.records] == [
        "aaaaaaaa_s001_t000", "aaaaaaaa_s001_t001", "aaaaaaab_s001_t000"
    ]  # fmt: skip
    assert cache.record("aaaaaaab_s001_t000").split == "eval"
    assert cache.events("aaaaaaaa_s001_t001") == [Event(1.0, 3.0)]


def test_same_corpus_by_another_path_is_still_fresh(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(corpus.parent)
    build_cache(Path(corpus.name), tmp_path / "cache", _fast(), progress=False)
    again = build_cache(corpus.resolve(), tmp_path / "cache", _fast(), progress=False)
    assert again.count("skipped") == 4 and again.count("done") == 0 and again.removed == []


def test_split_file_overrides_the_layout(corpus: Path, tmp_path: Path):
    split_file = tmp_path / "splits.csv"
    split_file.write_text("patient,split\naaaaaaab,eval\n")
    args = ["preprocess", str(corpus), str(tmp_path / "cache"), "--split-file", str(split_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    cache = Cache(tmp_path / "cache")
    assert [r.recording_id for r in cache.split("eval")] == ["aaaaaaab_s001_t000"]
    assert cache.record("aaaaaaaa_s001_t000").split == "train"


def test_other_fingerprint_is_refused_unless_force(corpus: Path, tmp_path: Path):
    build_cache(corpus, tmp_path / "cache", _fast(), progress=False)
    other = _fast(sample_rate_hz=250.0)
    with pytest.raises(CacheError, match=r"other preprocessing.*sample_rate_hz.*--force"):
        build_cache(corpus, tmp_path / "cache", other, progress=False)
    build_cache(corpus, tmp_path / "cache", other, force=True, progress=False)
    cache = Cache(tmp_path / "cache")
    assert cache.config.sample_rate_hz == 250.0 and cache.window_shape == (22, 250)
    assert len(cache.records) == 4


def test_not_a_cache_is_refused(tmp_path: Path):
    with pytest.raises(CacheError, match="no such cache directory"):
        Cache(tmp_path / "nothing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(CacheError, match="not a seizure cache"):
        Cache(tmp_path / "other")
    with pytest.raises(CacheError, match="not empty and is not a seizure cache"):
        build_cache([], tmp_path / "other", _fast(), progress=False)


def test_killed_write_leaves_no_half_recording(corpus: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "cache"
    real = cache_mod._write_json

    def dying(path, data):  # killed after the arrays, before the metadata
        if path.parent.name == "records" and "aaaaaaab" in path.name:
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(cache_mod, "_write_json", dying)
    with pytest.raises(KeyboardInterrupt):
        build_cache(corpus, out, _fast(), progress=False)
    monkeypatch.setattr(cache_mod, "_write_json", real)
    assert (out / "records" / "aaaaaaab_s001_t000.npy").exists()  # arrays, but no metadata
    (out / "records" / ".junk.npy.999.tmp").write_bytes(b"half")  # a temp file from a kill
    assert "aaaaaaab_s001_t000" not in [r.recording_id for r in Cache(out).records]
    resumed = build_cache(corpus, out, _fast(), progress=False)
    done = sorted(r.recording_id for r in resumed.results if r.status == "done")
    assert "aaaaaaab_s001_t000" in done
    assert len(Cache(out).records) == 4


def test_shards_split_the_corpus_into_one_cache(corpus: Path, tmp_path: Path):
    assert parse_shard("1/3") == (1, 3)
    with pytest.raises(ValueError, match="0 <= i < N"):
        parse_shard("3/3")
    out = tmp_path / "cache"
    a = build_cache(corpus, out, _fast(), shard_index=0, shard_count=2, progress=False)
    b = build_cache(corpus, out, _fast(), shard_index=1, shard_count=2, progress=False)
    ids_a = {r.recording_id for r in a.results}
    ids_b = {r.recording_id for r in b.results}
    assert ids_a == {"aaaaaaaa_s001_t000", "aaaaaaab_s001_t000"}  # k = 0, 2 in id order
    assert not ids_a & ids_b and len(ids_a | ids_b) == 4
    assert len(b.manifest["records"]) == 4  # the manifest is rebuilt from the directory
    assert len(Cache(out).records) == 4


def test_jobs_give_the_same_cache(corpus: Path, tmp_path: Path):
    build_cache(corpus, tmp_path / "one", _fast(), jobs=1, progress=False)
    summary = build_cache(corpus, tmp_path / "two", _fast(), jobs=2, progress=False)
    assert summary.count("done") == 4
    one, two = Cache(tmp_path / "one"), Cache(tmp_path / "two")
    for rec in one.records:
        np.testing.assert_array_equal(one.windows(rec.recording_id), two.windows(rec.recording_id))


def test_lfcc_cache(corpus: Path, tmp_path: Path):
    root = Path(__file__).resolve().parents[1]
    result = CliRunner().invoke(
        main,
        ["preprocess", str(corpus), str(tmp_path / "lfcc"),
         "--config", str(root / "seizure/configs/preprocess/tcp_lfcc.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cache = Cache(tmp_path / "lfcc")
    assert cache.window_shape == (22, 10, 26)
    w = cache.windows("aaaaaaaa_s001_t000")
    assert w.shape == (6, 22, 10, 26) and np.isfinite(w).all()


def test_cli_records_failures_and_sets_exit_status(corpus: Path, tmp_path: Path):
    write_tusz_recording(corpus, "eval", "aaaaaaad", 0, drop=("A1", "A2", "CZ"))
    out = tmp_path / "cache"
    runner = CliRunner()
    result = runner.invoke(main, ["preprocess", str(corpus), str(out)])
    assert result.exit_code == 1
    assert "4 processed" in result.output and "1 failed" in result.output
    failures = json.loads((out / "failures.json").read_text())
    assert len(failures) == 1 and "needs A1, CZ, A2" in failures[0]["reason"]
    assert failures[0]["path"].endswith("aaaaaaad_s001_t000.edf")

    result = runner.invoke(main, ["preprocess", str(corpus), str(out), "--allow-failures"])
    assert result.exit_code == 0 and "4 already cached" in result.output

    info = json.loads(runner.invoke(main, ["info", str(out), "--json"]).output)
    assert info["recordings"] == 4 and info["hours"] == pytest.approx(22 / 3600)
    # events: 2.2-4.6 s; 0-9 s clipped to 0-6 s; 2.2-4.6 s clipped to 2.2-4 s
    assert info["seizure_events"] == 3 and info["seizure_seconds"] == pytest.approx(2.4 + 6 + 1.8)
    assert info["splits"]["train"] == {
        "recordings": 3, "patients": 2, "hours": pytest.approx(18 / 3600), "seizure_events": 2
    }  # fmt: skip
    assert info["failed"] == [{"path": failures[0]["path"], "reason": failures[0]["reason"]}]

    result = runner.invoke(
        main,
        ["preprocess", str(corpus), str(out), "--set", "preprocess.fill_missing=true"],
    )
    assert result.exit_code == 2 and "other preprocessing" in result.output
    result = runner.invoke(
        main,
        ["preprocess", str(corpus), str(tmp_path / "filled"),
         "--set", "preprocess.fill_missing=true"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = runner.invoke(main, ["info", str(tmp_path / "filled")]).output
    assert "aaaaaaad_s001_t000: A1-T3, C3-CZ, CZ-C4, T4-A2" in text
    assert "failed       0" in text


def test_cli_rejects_bad_options(corpus: Path, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(main, ["preprocess", str(corpus), str(tmp_path / "c"), "--shard", "2"])
    assert result.exit_code == 2 and "i/N" in result.output
    result = runner.invoke(
        main, ["preprocess", str(corpus), str(tmp_path / "c"), "--set", "preprocess.montage=x"]
    )
    assert result.exit_code == 2 and "'double_banana'" in result.output
    result = runner.invoke(main, ["info", str(corpus)])
    assert result.exit_code == 1 and "not a seizure cache" in result.output
