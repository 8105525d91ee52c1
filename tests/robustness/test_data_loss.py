"""Nothing we did not write is ever deleted; ids never collide; one writer per folder.

Issue 12, items 1-3: ``--force`` deleted the corpus it was given as the cache, two ids mapped
to one cache file, and concurrent runs into one cache or run folder both "succeeded".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from battery import FAST, processed, refused, run, write_edf

from seizure.config import load_config
from seizure.preprocessing.build import build_cache
from seizure.preprocessing.cache import Cache, CacheError, safe_id
from seizure.utils.errors import OutputFolderError
from seizure.utils.locks import FolderBusyError, FolderLock


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _pre(*overrides: str):
    return load_config(
        [], ["preprocess.sample_rate_hz=128", "preprocess.bandpass_hz=[1, 40]", *overrides]
    ).preprocess


# ---- 1. --force deletes nothing foreign


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_the_corpus_given_as_its_own_cache_is_refused_and_untouched(flat_corpus, force):
    before = _files(flat_corpus)
    result = refused(
        run("preprocess", flat_corpus, flat_corpus, *FAST, *force), 2, r"would be the input"
    )
    assert "--force to" not in result.output  # the refusal never suggests deleting it
    assert _files(flat_corpus) == before


def test_a_parent_of_the_corpus_is_refused_as_a_cache(flat_corpus):
    before = _files(flat_corpus)
    refused(
        run("preprocess", flat_corpus, flat_corpus.parent, *FAST, "--force"),
        2,
        r"would contain the input",
    )
    assert _files(flat_corpus) == before


def test_force_never_clears_a_folder_that_is_not_a_cache(flat_corpus, tmp_path):
    folder = tmp_path / "papers"
    (folder / "records").mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work")
    (folder / "records" / "notes.json").write_text("{}")
    before = _files(folder)
    result = refused(
        run("preprocess", flat_corpus, folder, *FAST, "--force"), 2, r"not a seizure cache"
    )
    assert "pass --force" not in result.output
    assert _files(folder) == before


def test_force_refuses_a_cache_json_that_is_not_ours(flat_corpus, tmp_path):
    folder = tmp_path / "webapp"
    (folder / "records").mkdir(parents=True)
    (folder / "cache.json").write_text(json.dumps({"format": "browser-cache"}))
    (folder / "records" / "db.json").write_text("{}")
    before = _files(folder)
    refused(run("preprocess", flat_corpus, folder, *FAST, "--force"), 2, r"not a seizure cache")
    assert _files(folder) == before


def test_force_replaces_a_cache_but_leaves_files_it_did_not_write(flat_corpus, tmp_path):
    cache = tmp_path / "cache"
    processed(run("preprocess", flat_corpus, cache, *FAST))
    (cache / "records" / "README.txt").write_text("mine")
    (cache / "NOTES.md").write_text("mine too")
    refused(
        run("preprocess", flat_corpus, cache, *FAST, "--set", "preprocess.window_seconds=2"),
        2,
        r"other preprocessing.*window_seconds.*--force",
    )
    processed(
        run(
            "preprocess",
            flat_corpus,
            cache,
            *FAST,
            "--set",
            "preprocess.window_seconds=2",
            "--force",
        )
    )
    assert (cache / "records" / "README.txt").read_text() == "mine"
    assert (cache / "NOTES.md").read_text() == "mine too"
    opened = Cache(cache)
    assert opened.window_seconds == 2 and len(opened.records) == 3
    assert {p.suffix for p in (cache / "records").iterdir()} == {".npy", ".json", ".txt"}


def test_a_cache_inside_the_corpus_given_as_entries_is_refused(flat_corpus):
    from seizure.io.discovery import discover

    with pytest.raises(OutputFolderError, match="would contain the input"):
        build_cache(discover(flat_corpus), flat_corpus.parent, _pre(), progress=False)


# ---- 2. ids never collide


def test_ids_that_differ_only_in_unsafe_characters_get_their_own_files(tmp_path):
    corpus = tmp_path / "corpus"
    write_edf(corpus / "p_r 1.edf", seconds=8, seed=1)
    write_edf(corpus / "p_r_1.edf", seconds=16, seed=2)
    write_edf(corpus / "p_r.1.edf", seconds=12, seed=3)
    result = processed(run("preprocess", corpus, tmp_path / "cache", *FAST, "--jobs", "2"))
    assert "3 processed" in result.output and "holds 3 recordings" in result.output
    cache = Cache(tmp_path / "cache")
    n = {r.recording_id: r.n_windows for r in cache.records}
    assert n == {"p_r 1": 8, "p_r_1": 16, "p_r.1": 12}
    for rid, windows in n.items():  # the pair (array, metadata) agrees for every id
        assert cache.windows(rid).shape[0] == windows == cache.labels(rid).shape[0]


def test_safe_id_is_one_to_one_and_never_hidden():
    ids = ["p_r 1", "p_r_1", "p_r%201", "x", "x.labels", ".", "..", "", "é", "e", "a/b", "a_b"]
    names = [safe_id(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert not any(n.startswith(".") for n in names)
    assert all("/" not in n for n in names)
    assert safe_id("aaaaaool_s004_t001") == "aaaaaool_s004_t001"  # TUSZ ids unchanged
    assert safe_id("PN00-1") == "PN00-1"  # Siena ids unchanged
    # the labels file of "x" is not the windows file of "x.labels"
    assert f"{safe_id('x')}.labels.npy" != f"{safe_id('x.labels')}.npy"


def test_ids_that_differ_only_in_case_are_refused_naming_both_files(tmp_path):
    corpus = tmp_path / "corpus"
    write_edf(corpus / "PA_r1.edf", seed=1)
    write_edf(corpus / "pa_r1.edf", seed=2)
    refused(
        run("preprocess", corpus, tmp_path / "cache", *FAST),
        1,
        r"differ only in letter case.*PA_r1\.edf.*pa_r1\.edf",
    )


@pytest.mark.parametrize("damage", ["truncate", "shorter", "pickle"])
def test_a_damaged_array_is_refused_by_the_reader_and_rewritten_by_a_rerun(
    flat_corpus, tmp_path, damage
):
    cache_dir = tmp_path / "cache"
    processed(run("preprocess", flat_corpus, cache_dir, *FAST))
    path = cache_dir / "records" / "pa_r1.npy"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "shorter":
        np.save(path, np.zeros((3, 22, 128), dtype=np.float16))
    else:
        np.save(path, np.array([{"payload": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CacheError, match=r"pa_r1\.npy.*damaged.*seizure preprocess"):
        Cache(cache_dir).windows("pa_r1")
    again = processed(run("preprocess", flat_corpus, cache_dir, *FAST))
    assert "1 processed" in again.output and "2 already cached" in again.output
    assert Cache(cache_dir).windows("pa_r1").shape == (8, 22, 128)


# ---- 3. one writer per folder

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from seizure.config import load_config
    from seizure.preprocessing.cache import open_for_writing
    rate = "preprocess.sample_rate_hz=" + sys.argv[2]
    pre = load_config([], [rate, "preprocess.bandpass_hz=[1, 40]"]).preprocess
    with open_for_writing(Path(sys.argv[1]), pre):
        print("holding", flush=True)
        time.sleep(60)
    """
)


def _holder(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def test_a_second_writer_with_other_settings_is_refused_and_a_killed_one_blocks_nothing(
    flat_corpus, tmp_path
):
    cache = tmp_path / "cache"
    other = _holder(str(cache), "256")  # a run with other settings is writing the new cache
    try:
        refused(run("preprocess", flat_corpus, cache, *FAST), 2, r"other preprocessing")
        refused(
            run("preprocess", flat_corpus, cache, *FAST, "--force"),
            1,
            r"another preprocess run is writing into this cache",
        )
        assert (cache / "cache.json").is_file()  # its header was not cleared
    finally:
        _kill(other)
    # the killed writer's lock died with it
    processed(run("preprocess", flat_corpus, cache, *FAST, "--force"))
    assert len(Cache(cache).records) == 3


def test_shards_with_the_same_settings_write_side_by_side(flat_corpus, tmp_path):
    cache = tmp_path / "cache"
    other = _holder(str(cache), "128")  # shard 0 of 2 is still running
    try:
        processed(run("preprocess", flat_corpus, cache, *FAST, "--shard", "1/2"))
    finally:
        _kill(other)
    assert len(Cache(cache).records) == 1


def test_the_header_lock_is_waited_for_then_refused_naming_the_holder(flat_corpus, tmp_path):
    cache = tmp_path / "cache"
    lock = FolderLock(cache, ".lock", "cache").acquire()
    try:
        t0 = time.monotonic()
        with pytest.raises(FolderBusyError, match=rf"pid {os.getpid()}.*choose another cache"):
            from seizure.preprocessing.cache import open_for_writing

            with open_for_writing(cache, _pre(), wait_s=0.3):
                pass
        assert time.monotonic() - t0 >= 0.3
    finally:
        lock.release()
    assert not (cache / ".lock").exists()  # the last holder removes the file


TRAIN = [
    "--config",
    Path(__file__).resolve().parents[2] / "seizure" / "configs" / "train" / "tiny_cpu.yaml",
    *FAST,
    "--set",
    "train.sequence_windows=4",
    "--set",
    "train.batch_size=2",
]


@pytest.fixture
def small_cache(flat_corpus, tmp_path) -> Path:
    cache = tmp_path / "cache"
    processed(run("preprocess", flat_corpus, cache, *FAST))
    return cache


def test_a_second_train_into_one_run_folder_is_refused(small_cache, tmp_path):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from seizure.utils.locks import FolderLock; "
            "FolderLock(sys.argv[1], '.lock', 'run folder').acquire(); "
            "print('holding', flush=True); time.sleep(60)",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        result = refused(
            run("train", small_cache, run_dir, *TRAIN), 1, r"run folder is being written by pid"
        )
        assert str(holder.pid) in result.output
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing written
    finally:
        _kill(holder)
    processed(run("train", small_cache, run_dir, *TRAIN, "--set", "train.epochs=1"))
    assert (run_dir / "best.pt").is_file() and not (run_dir / ".lock").exists()


def test_a_run_folder_holding_the_cache_is_refused(small_cache):
    refused(run("train", small_cache, small_cache.parent, *TRAIN), 2, r"would contain the input")
    refused(run("train", small_cache, small_cache, *TRAIN), 2, r"would be the input")


def test_an_evaluation_into_a_users_folder_of_references_is_refused_and_untouched(tmp_path):
    from seizure.evaluation.outputs import (
        EVALUATION_FOLDER,
        OutputFolderError,
        claim_output_folder,
        is_our_folder,
    )

    folder = tmp_path / "results"
    (folder / "ref").mkdir(parents=True)
    (folder / "ref" / "rec.csv_bi").write_text("my reference")
    (folder / "report.md").write_text("my notes")
    before = _files(folder)
    assert not is_our_folder(folder, EVALUATION_FOLDER)
    with pytest.raises(OutputFolderError, match="not written by seizure evaluate"):
        with claim_output_folder(folder, EVALUATION_FOLDER, [], {}):
            pass
    assert _files(folder) == before
    # saved probabilities alone (for --reuse-probs) are accepted
    only_probs = tmp_path / "reuse"
    (only_probs / "probs").mkdir(parents=True)
    assert is_our_folder(only_probs, EVALUATION_FOLDER)
