"""Kills and permissions (issue 12, items 11 and 12).

- SIGTERM, SIGINT or SIGKILL of ``preprocess --jobs 2`` leaves no process behind: on SIGTERM
  and SIGINT the run terminates its workers and exits 143 / 130 with one ``Error:`` line; on
  SIGKILL the workers notice that their parent is gone and exit, and the forkserver and the
  resource tracker follow.
- A rerun removes the temporary files that killed runs left in the cache, never those of a
  live writer.
- Every file we write follows the umask (``0o666 & ~umask``), so a cache or a run made by
  one user can be read by colleagues.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import psutil
import pytest
from battery import FAST, processed, run, write_edf

from seizure.preprocessing.cache import Cache
from seizure.utils.fsio import (
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    remove_temporary_files,
)
from seizure.utils.locks import FolderLock
from seizure.utils.pool import Interrupted, process_pool, stop_on_signals

needs_forkserver = pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver"
)


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 4-hour recordings (one EDF written once, hard-linked): seconds of work each."""
    root = tmp_path_factory.mktemp("long") / "corpus"
    first = write_edf(root / "p0_r1.edf", seconds=4 * 3600, events=((600.0, 660.0),))
    for k in range(1, 4):
        os.link(first, root / f"p{k}_r1.edf")
        shutil.copy(first.with_suffix(".csv_bi"), root / f"p{k}_r1.csv_bi")
    return root


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    """The pool's workers: descendants that are not children (children of the forkserver)."""
    return [p for p in parent.children(recursive=True) if p.ppid() != parent.pid]


def _start_preprocess(corpus: Path, cache: Path, log: Path) -> subprocess.Popen:
    # output to a file, not a pipe: a leaked worker would hold a pipe open forever
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "seizure", "preprocess", corpus, cache, "--jobs", "2"]
            + [*FAST, "--no-progress"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@needs_forkserver
@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 143), (signal.SIGINT, 130)],
    ids=["SIGKILL", "SIGTERM", "SIGINT"],
)
def test_a_killed_preprocess_leaves_no_process_behind(
    long_corpus: Path, tmp_path: Path, signum: int, status: int
):
    cache, log = tmp_path / "cache", tmp_path / "log.txt"
    proc = _start_preprocess(long_corpus, cache, log)
    main = psutil.Process(proc.pid)
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while len(_workers(main)) < 2:  # both workers started (then busy with a recording)
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        time.sleep(0.5)
        descendants = main.children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in descendants)
        # what must go: the resource tracker, the forkserver and both workers
        assert len(descendants) == 4 and "resource_tracker" in names, names
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == status, log.read_text()
        _, alive = psutil.wait_procs(descendants, timeout=10)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:
        for p in [main, *descendants]:  # never leak into the rest of the suite
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
    text = log.read_text()
    assert "Traceback" not in text, text
    if signum != signal.SIGKILL:
        name = signal.Signals(signum).name
        assert f"Error: preprocess interrupted by {name}; the recordings finished" in text
        # nothing half-written was recorded: every recording listed is whole
        done = Cache(cache)
        for record in done.records:
            assert len(done.windows(record.recording_id)) == record.n_windows


def _plant_temporary_files(cache: Path) -> list[Path]:
    planted = [
        cache / "records" / ".p_r.labels.npy.4242.tmp",  # the old writer's naming
        cache / "records" / ".p_r.npy.0a1b2c3d4e5f.tmp",
        cache / "failed" / ".p_r.json.0a1b2c3d4e5f.tmp",
        cache / ".manifest.json.0a1b2c3d4e5f.tmp",
    ]
    for path in planted:
        path.write_bytes(b"half written")
    return planted


def test_a_rerun_removes_temporary_files_of_killed_runs_not_of_live_ones(flat_corpus, tmp_path):
    cache = tmp_path / "cache"
    processed(run("preprocess", flat_corpus, cache, *FAST))
    planted = _plant_temporary_files(cache)
    foreign = [cache / "records" / "notes.tmp", cache / ".hidden"]  # not our temporary names
    for path in foreign:
        path.write_text("keep me")
    live = FolderLock(cache, ".writing", "cache")
    assert live.try_acquire(shared=True)  # another preprocess run is writing
    try:
        processed(run("preprocess", flat_corpus, cache, *FAST))
        assert all(p.exists() for p in planted)  # may be the live writer's
    finally:
        live.release()
    result = processed(run("preprocess", flat_corpus, cache, *FAST))
    assert "3 already cached" in result.output
    assert not any(p.exists() for p in planted)
    assert all(p.read_text() == "keep me" for p in foreign)


def test_remove_temporary_files_skips_folders_links_and_missing_folders(tmp_path):
    (tmp_path / ".a.tmp").write_bytes(b"")
    (tmp_path / ".dir.tmp").mkdir()
    (tmp_path / ".link.tmp").symlink_to(tmp_path / ".a.tmp")
    (tmp_path / "..tmp").write_bytes(b"")  # no name inside: not one of ours
    removed = remove_temporary_files([tmp_path, tmp_path / "missing"])
    assert removed == [tmp_path / ".a.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["..tmp", ".dir.tmp", ".link.tmp"]


def test_stop_on_signals_unwinds_the_block_then_refuses_with_the_shell_status():
    before = signal.getsignal(signal.SIGINT)
    unwound = []
    with pytest.raises(Interrupted, match=r"^job interrupted by SIGINT; run it again$") as info:
        with stop_on_signals("job", "run it again"):
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # interrupted
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # a second signal while unwinding: ignored
                unwound.append(True)
    assert unwound == [True]
    assert info.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(Interrupted) as info:
        with stop_on_signals("job", "again"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert info.value.exit_code == 143


@needs_forkserver
def test_a_pool_left_by_an_exception_terminates_its_busy_workers():
    with pytest.raises(KeyError), process_pool(2) as pool:
        assert pool.submit(os.getpid).result(timeout=30) > 0  # the workers are up
        futures = [pool.submit(time.sleep, 60) for _ in range(3)]
        time.sleep(0.5)  # two workers are sleeping, one job is queued
        pids = list(pool._processes)  # the executor's workers, to check on
        started = time.monotonic()
        raise KeyError("stop")
    assert time.monotonic() - started < 10  # not the 60 s of the jobs
    assert not [pid for pid in pids if psutil.pid_exists(pid)]  # ended and reaped
    for future in futures:  # none ran to its end
        with pytest.raises((CancelledError, BrokenProcessPool)):
            future.result(timeout=10)


# --------------------------------------------------------------------------- permissions


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o077], ids=["umask022", "umask077"])
def umask(request: pytest.FixtureRequest):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_atomic_writers_follow_the_umask(tmp_path, umask):
    expected = 0o666 & ~umask
    with atomic_open(tmp_path / "a.txt") as handle:
        handle.write("a")
    with atomic_open(tmp_path / "b.bin", "wb") as handle:
        handle.write(b"b")
    atomic_write_bytes(tmp_path / "c.bin", b"c")
    atomic_write_text(tmp_path / "sub" / "d.txt", "d")
    with atomic_path(tmp_path / "e.npy") as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int64, shape=(3,))
        out[:] = np.arange(3)
        out.flush()
        del out
    files = [tmp_path / n for n in ("a.txt", "b.bin", "c.bin", "sub/d.txt", "e.npy")]
    assert {p: _mode(p) for p in files} == {p: expected for p in files}
    assert np.load(tmp_path / "e.npy").tolist() == [0, 1, 2]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_a_checkpoint_follows_the_umask(tmp_path, umask):
    from seizure.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "best.pt", {"model": {}, "epoch": 0, "step": 0})
    assert _mode(tmp_path / "best.pt") == 0o666 & ~umask


def test_a_cache_follows_the_umask(flat_corpus, tmp_path, umask):
    cache = tmp_path / "cache"
    processed(run("preprocess", flat_corpus, cache, *FAST))
    files = [p for p in cache.rglob("*") if p.is_file()]
    names = {p.relative_to(cache).as_posix() for p in files}
    assert {"cache.json", "config.yaml", "manifest.json", "records/pa_r1.json"} <= names
    assert {"records/pa_r1.npy", "records/pa_r1.labels.npy"} <= names
    assert {n: _mode(cache / n) for n in names} == {n: 0o666 & ~umask for n in names}
    assert _mode(cache / "records") == 0o777 & ~umask
    bad = tmp_path / "bad"
    write_edf(bad / "pz_r1.edf")
    (bad / "pz_r1.edf").write_bytes(b"not an EDF")  # a recorded failure
    run("preprocess", bad, tmp_path / "cache2", *FAST)
    failure = tmp_path / "cache2" / "failed" / "pz_r1.json"
    assert _mode(failure) == 0o666 & ~umask
