"""Bad inputs to the feature baseline (``model.name=bandpower_logreg``) from the command line."""

from __future__ import annotations

from battery import FAST, processed, refused, run

BASELINE = ["--config", "bandpower_logreg"]


def test_lfcc_cache_is_refused_by_name(flat_corpus, tmp_path):
    lfcc = [*FAST, "--set", "preprocess.features=lfcc"]
    processed(run("preprocess", flat_corpus, tmp_path / "cache", *lfcc))
    result = run("train", tmp_path / "cache", tmp_path / "run", *BASELINE, *lfcc)
    refused(result, 1, r"Error: model 'bandpower_logreg' computes band power from raw windows.*"
            r"lfcc features")  # fmt: skip
    assert not (tmp_path / "run" / "best.pt").exists()


def test_rate_without_a_gamma_bin_is_refused(flat_corpus, tmp_path):
    low = ["--set", "preprocess.sample_rate_hz=32", "--set", "preprocess.bandpass_hz=[1, 12]",
           "--set", "preprocess.notch_hz=null"]  # fmt: skip
    processed(run("preprocess", flat_corpus, tmp_path / "cache", *low))
    result = run("train", tmp_path / "cache", tmp_path / "run", *BASELINE, *low)
    refused(result, 1, r"gamma \(30.0, 70.0\) Hz have no frequency bin .* at 32 Hz")


def test_train_split_without_seizures_is_refused(flat_corpus, tmp_path):
    for edf in flat_corpus.glob("*.csv_bi"):
        text = edf.read_text().splitlines()
        edf.write_text("\n".join(line for line in text if ",seiz," not in line) + "\n")
    processed(run("preprocess", flat_corpus, tmp_path / "cache", *FAST))
    result = run("train", tmp_path / "cache", tmp_path / "run", *BASELINE, *FAST)
    refused(result, 1, r"the train split holds no ictal windows .* cannot be fitted")
