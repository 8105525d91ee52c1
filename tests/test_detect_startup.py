"""``seizure detect`` reads its first recording while torch is imported and the model built,
and each next one while the model runs on the one before.

The first recording is read ahead on a thread with the preprocessing peeked from the
checkpoint; the results must be those of reading it in turn, a peek that disagrees with the
checkpoint's own read must not be used, and a first recording that fails fails alone.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from test_detect_cli import write_edf
from test_evaluate_pipeline import make_checkpoint, power_factory

import seizure.evaluation.detect as D
import seizure.training.peek as peek_module
from seizure.config import to_dict


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("startup")
    ckpt = make_checkpoint(root / "best.pt")
    write_edf(root / "edf" / "a.edf", 120, [(40, 70)])
    write_edf(root / "edf" / "b.edf", 90, [(10, 30)], seed=1)
    return ckpt, root / "edf"


@pytest.fixture
def reads(monkeypatch):
    """``(recording name, thread name, preprocess config)`` of every read, in order."""
    seen: list[tuple[str, str, object]] = []
    real = D._windows_of

    def spy(path, config):
        seen.append((path.stem, threading.current_thread().name, config))
        return real(path, config)

    monkeypatch.setattr(D, "_windows_of", spy)
    return seen


def _detect(ckpt, inputs, out):
    results = D.detect(ckpt, inputs, out, device="cpu", model_factory=power_factory)
    return [(r.name, r.error, r.n_windows, [(e.start, e.stop) for e in r.events]) for r in results]


def test_importing_detect_does_not_import_torch():
    code = "import sys, seizure.evaluation.detect; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_first_recording_is_read_ahead_with_the_same_results(corpus, tmp_path, reads):
    ckpt, data = corpus
    ahead = _detect(ckpt, [data], tmp_path / "ahead")
    assert [(name, thread.startswith("detect-read")) for name, thread, _ in reads] == [
        ("a", True),
        ("b", True),  # read while the model ran on a
    ]
    reads.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(peek_module, "peek_checkpoint", lambda path: None)  # no early first read
        mp.setattr(D, "_unique_names", lambda recordings: [])  # and none ahead
        in_turn = _detect(ckpt, [data], tmp_path / "in_turn")
    assert [thread.startswith("detect-read") for _, thread, _ in reads] == [False, False]
    assert ahead == in_turn and ahead[0][3]  # a seizure found in a.edf both ways


def test_the_next_recording_is_read_while_the_model_runs(corpus, tmp_path, reads, monkeypatch):
    ckpt, data = corpus
    for name, seed in (("c", 2), ("d", 3)):
        write_edf(tmp_path / "edf" / f"{name}.edf", 60, [(10, 20)], seed=seed)
    (tmp_path / "dup").mkdir()
    write_edf(tmp_path / "dup" / "c.edf", 60, [], seed=4)  # same output name: never read
    started = {name: threading.Event() for name in "abcd"}
    real_windows, real_detect = D._windows_of, D._detect_one  # the former: the reads spy
    overlapped: list[tuple[str, bool]] = []

    def windows_of(path, config):
        started[path.stem].set()
        return real_windows(path, config)

    def detect_one(res, *args):
        following = {"a": "b", "b": "c", "c": "d"}.get(res.name)
        if following is not None:  # the model's turn on res: the next read has begun
            overlapped.append((res.name, started[following].wait(timeout=30)))
        return real_detect(res, *args)

    monkeypatch.setattr(D, "_windows_of", windows_of)
    monkeypatch.setattr(D, "_detect_one", detect_one)
    inputs = [data / "a.edf", data / "b.edf", tmp_path / "edf" / "c.edf", tmp_path / "dup" /
              "c.edf", tmp_path / "edf" / "d.edf"]  # fmt: skip
    results = D.detect(ckpt, inputs, tmp_path / "out", device="cpu", model_factory=power_factory)
    assert overlapped == [("a", True), ("b", True), ("c", True)]
    assert [r.error is None for r in results] == [True, True, True, False, True]
    assert "same output name" in results[3].error
    # each recording read once (the duplicate never), every read on the reader thread
    assert [(n, th.startswith("detect-read")) for n, th, _ in reads] == [
        ("a", True), ("b", True), ("c", True), ("d", True)
    ]  # fmt: skip
    monkeypatch.undo()
    again = _detect(ckpt, inputs, tmp_path / "again")
    assert [r.n_windows for r in results] == [n for _, _, n, _ in again]


def test_a_peek_that_disagrees_with_the_checkpoint_is_not_used(corpus, tmp_path, reads):
    ckpt, data = corpus
    other = make_checkpoint(tmp_path / "other.pt")
    peeked = peek_module.peek_checkpoint(other)
    peeked["config"]["preprocess"]["bandpass_hz"] = [2.0, 12.0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(peek_module, "peek_checkpoint", lambda path: peeked)
        results = _detect(ckpt, [data / "a.edf"], tmp_path / "out")
    (ahead, again) = reads
    assert ahead[1].startswith("detect-read") and tuple(ahead[2].bandpass_hz) == (2.0, 12.0)
    assert not again[1].startswith("detect-read")
    stored = to_dict(D.load_model_from_checkpoint(ckpt, "cpu", power_factory)[1].preprocess)
    assert to_dict(again[2]) == stored
    assert results == _detect(ckpt, [data / "a.edf"], tmp_path / "again")


def test_a_first_recording_that_cannot_be_read_fails_alone(corpus, tmp_path, reads):
    ckpt, data = corpus
    broken = tmp_path / "broken.edf"
    broken.write_bytes(b"0       not an edf at all")
    results = _detect(ckpt, [tmp_path / "missing.edf", broken, data / "a.edf"], tmp_path / "o")
    assert reads[0][0] == "missing" and reads[0][1].startswith("detect-read")
    (missing, bad, good) = results
    assert missing[1] and "missing.edf" in missing[1]
    assert bad[1] and good[1] is None and good[3]


def test_a_damaged_checkpoint_is_refused_as_before(corpus, tmp_path):
    from seizure.training.checkpoint import CheckpointError

    _, data = corpus
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"PK\x03\x04 a zip header and nothing else")
    with pytest.raises(CheckpointError, match="damaged.pt"):
        D.detect(damaged, [data / "a.edf"], tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()
