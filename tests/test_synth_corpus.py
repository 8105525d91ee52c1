"""The synthetic corpus on disk: layout, formats, round trip, determinism, splits, re-runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from seizure.cli import main
from seizure.config import load_config
from seizure.synth.config import SynthConfig
from seizure.synth.layout import CHANNELS, TCP_CHANNELS, edf_label
from seizure.synth.plan import plan_corpus

TINY = Path(__file__).resolve().parents[1] / "seizure" / "configs" / "synth" / "tiny.yaml"
ARGS = ["--hours", "0.1", "--patients", "3", "--seed", "7", "--config", str(TINY)]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    result = CliRunner().invoke(main, ["synth", str(out), *ARGS, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "3 patients" in result.output
    return out


def test_layout_and_names(corpus: Path) -> None:
    edfs = sorted(corpus.glob("edf/*/*/*/01_tcp_ar/*.edf"))
    assert edfs
    for edf in edfs:
        split, patient, session = edf.parts[-5], edf.parts[-4], edf.parts[-3]
        assert split in ("train", "dev", "eval")
        assert re.fullmatch(r"[a-z]{8}", patient)
        assert re.fullmatch(r"s\d{3}_\d{4}", session)
        assert re.fullmatch(rf"{patient}_{session[:4]}_t\d{{3}}\.edf", edf.name)
        assert edf.with_suffix(".csv").is_file() and edf.with_suffix(".csv_bi").is_file()
    assert "with seed 7." in (corpus / "README.md").read_text()
    assert not list(corpus.rglob("*.tmp"))


def test_round_trip_through_project_loaders(corpus: Path) -> None:
    from seizure.io.annotations import KEEP_SEIZURE_TYPES, read_annotation
    from seizure.io.edf import read_edf

    n_seizures = 0
    for edf in sorted(corpus.glob("edf/*/*/*/01_tcp_ar/*.edf")):
        rec = read_edf(edf)
        assert rec.warnings == []
        assert rec.raw_labels == [edf_label(c) for c in CHANNELS]
        assert set(rec.sfreq_hz) <= {250.0, 256.0, 400.0} and len(set(rec.sfreq_hz)) == 1
        assert rec.duration_s == pytest.approx(rec.data[0].size / rec.sfreq_hz[0])
        eeg = rec.data[rec.index("O1")]
        assert 3.0 < float(eeg.std()) < 300.0  # microvolts
        term = read_annotation(edf.with_suffix(".csv_bi"))
        per_channel = read_annotation(edf.with_suffix(".csv"), label_map=KEEP_SEIZURE_TYPES)
        assert term.duration == rec.duration_s and term.warnings == []
        assert per_channel.warnings == []
        seiz = term.seizures()
        n_seizures += len(seiz)
        assert {e.channel for e in per_channel.events} == set(TCP_CHANNELS)
        typed = [e for e in per_channel.events if e.label != "bckg"]
        assert {e.label for e in typed} <= {"fnsz", "gnsz"}
        # every channel event lies in a term event, and each term event starts on a channel
        for ev in typed:
            assert any(s.start <= ev.start and ev.stop <= s.stop for s in seiz)
        for s in seiz:
            assert any(abs(ev.start - s.start) < 1e-3 for ev in typed)
        # bckg rows tile the recording around the seizures
        tiles = sorted((e.start, e.stop) for e in term.events)
        assert tiles[0][0] == 0.0 and tiles[-1][1] == rec.duration_s
        assert all(a[1] == b[0] for a, b in zip(tiles, tiles[1:]))
    assert n_seizures >= 1


def test_same_seed_is_byte_identical_across_jobs(corpus: Path, tmp_path: Path) -> None:
    from seizure.synth.corpus import synthesize

    config = load_config(TINY, ["synth.hours=0.1", "synth.patients=3"]).synth
    again = synthesize(tmp_path / "j2", config, seed=7, jobs=2, progress=False)
    assert again.written == len(again.recordings)
    assert _files(tmp_path / "j2") == _files(corpus)


def test_rerun_skips_complete_and_refuses_other_options(corpus: Path) -> None:
    edf = sorted(corpus.glob("edf/*/*/*/01_tcp_ar/*.edf"))[0]
    edf.write_bytes(edf.read_bytes()[:1000])  # an interrupted write left a short file
    result = CliRunner().invoke(main, ["synth", str(corpus), *ARGS, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "(1 written" in result.output
    result = CliRunner().invoke(main, ["synth", str(corpus), *ARGS[:-2], "--seed", "8"])
    assert result.exit_code != 0
    assert "other options" in result.output


def test_splits_are_disjoint_and_all_present() -> None:
    for patients in (3, 4, 10):
        specs = plan_corpus(SynthConfig(hours=patients * 0.2, patients=patients), seed=1)
        split_of: dict[str, set[str]] = {}
        for s in specs:
            split_of.setdefault(s.patient, set()).add(s.split)
        assert len(split_of) == patients
        assert all(len(v) == 1 for v in split_of.values())
        assert {next(iter(v)) for v in split_of.values()} == {"train", "dev", "eval"}


def test_plan_meets_ictal_fraction_and_ranges() -> None:
    config = SynthConfig(hours=30.0, patients=15, ictal_fraction=0.08)
    specs = plan_corpus(config, seed=3)
    total = sum(s.duration_s for s in specs)
    assert total == 30 * 3600
    ictal = sum(z.stop_s - z.start_s for s in specs for z in s.seizures)
    assert ictal / total == pytest.approx(0.08, rel=0.05)
    assert any(not s.seizures for s in specs)
    labels = set()
    for s in specs:
        assert 5 * 60 - 1 <= s.duration_s <= 60 * 60 + 1
        assert s.sfreq_hz in (250.0, 256.0, 400.0)
        last = 0.0
        for z in s.seizures:
            assert 10.0 - 1e-6 <= z.stop_s - z.start_s <= 300.0 + 1e-6
            assert last <= z.start_s < z.stop_s <= s.duration_s
            last = z.stop_s
            labels.add(z.label)
    assert labels == {"fnsz", "gnsz"}
    assert plan_corpus(config, seed=3) == specs  # deterministic


def test_too_few_hours_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["synth", str(tmp_path), "--hours", "0.1", "--patients", "5"])
    assert result.exit_code == 2
    assert "lower --patients" in result.output


def test_bad_config_value_is_rejected(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["synth", str(tmp_path), "--set", "synth.recording_minutes=[10,5]"]
    )
    assert result.exit_code == 2
    assert "synth.recording_minutes" in result.output


def test_preprocess_reads_the_corpus_without_warnings(corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("seizure.cli.preprocess")
    cache = tmp_path / "cache"
    result = CliRunner().invoke(
        main, ["preprocess", str(corpus), str(cache), "--no-progress"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 warnings" in result.output


BENCHMARK = Path(__file__).resolve().parents[1] / "seizure" / "configs" / "synth" / "benchmark.yaml"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_benchmark_corpus_plan_resolves_the_paper_operating_point(seed: int) -> None:
    config = load_config(BENCHMARK).synth
    specs = plan_corpus(config, seed=seed)
    by_split = {split: [s for s in specs if s.split == split] for split in ("train", "dev", "eval")}
    eval_hours = sum(s.duration_s for s in by_split["eval"]) / 3600.0
    assert eval_hours >= 24.0  # one false alarm is at most 1 FA/24h
    assert sum(len(s.seizures) for s in by_split["eval"]) >= 100
    assert len({s.patient for s in by_split["dev"]}) >= 20
    patients = [{s.patient for s in v} for v in by_split.values()]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    assert {s.patient_traits["pattern"] for s in specs} == {
        "rhythmic",
        "fast",
        "spike_wave",
        "tonic_clonic",
    }
