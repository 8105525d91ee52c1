"""Fast hypothesis writing (seizure.evaluation.hypotheses) against the reference chain
(postprocess -> write_hypotheses), and infer_records' writer processes."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from seizure.evaluation.evaluate import infer_records, write_hypotheses
from seizure.evaluation.hypotheses import (
    HypothesisWriter,
    PostprocessParams,
    csv_bi_text,
    event_arrays,
    events_from_arrays,
    finish_recording,
    tsv_text,
)
from seizure.preprocessing.cache import safe_id
from seizure.scoring.postprocess import postprocess
from seizure.utils.fsio import atomic_open, atomic_write_bytes, atomic_write_text


def random_case(rng: np.random.Generator, it: int):
    n = int(rng.integers(0, 200))
    if it % 3 == 0:  # long runs, exact 0/1 values
        probs = (rng.random(n) > 0.6).astype(np.float32)
    else:
        probs = rng.random(n).astype(np.float32)
    window = float(rng.choice([1.0, 2.0, 4.0]))
    stride = float(rng.choice([0.5, 1.0, window]))
    params = PostprocessParams(
        threshold=float(rng.choice([0.0, 0.3, 0.5, 0.9, 1.0])),
        window_seconds=window,
        stride_seconds=stride,
        smoothing_windows=int(rng.integers(1, 6)),
        min_event_seconds=float(rng.choice([0.0, 1.0, 2.5, 5.0])),
        merge_gap_seconds=float(rng.choice([0.0, 0.5, 1.0, 3.0, 10.0])),
    )
    duration = float(rng.choice([n * stride * 0.8, n * stride + window, n * stride + 0.37, 0.0]))
    return probs, params, duration


def reference(probs, params: PostprocessParams, duration):
    return postprocess(
        probs,
        threshold=params.threshold,
        window_seconds=params.window_seconds,
        stride_seconds=params.stride_seconds,
        duration_s=duration,
        smoothing_windows=params.smoothing_windows,
        min_event_seconds=params.min_event_seconds,
        merge_gap_seconds=params.merge_gap_seconds,
    )


def test_event_arrays_equal_postprocess_on_random_inputs():
    rng = np.random.default_rng(7)
    total = 0
    for it in range(1500):
        probs, params, duration = random_case(rng, it)
        expected = reference(probs, params, duration)
        assert events_from_arrays(event_arrays(probs, params, duration)) == expected, it
        total += len(expected)
    assert total > 1000  # the cases hold many events (merged, dropped, clipped)


def test_event_arrays_without_duration_and_empty_input():
    params = PostprocessParams(0.5, 1.0, 1.0, merge_gap_seconds=2.0)
    probs = np.array([0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9], dtype=np.float32)
    assert events_from_arrays(event_arrays(probs, params)) == reference(probs, params, None)
    starts, stops, conf = event_arrays(np.zeros(0, dtype=np.float32), params, 10.0)
    assert starts.size == stops.size == conf.size == 0


def test_writer_files_are_byte_identical_to_write_hypotheses(tmp_path):
    rng = np.random.default_rng(3)
    cases = [random_case(rng, it) for it in range(150)]
    # a recording without events (the single bckg row) and awkward ids
    cases.append((np.zeros(50, dtype=np.float32), PostprocessParams(0.5, 1.0, 1.0), 50.5))
    for k, (probs, params, duration) in enumerate(cases):
        rid = f"pat{k}_s001_t000" if k % 2 else f"odd id/{k}"
        stem = safe_id(rid)
        events = reference(probs, params, duration)
        write_hypotheses(tmp_path / "ref", {rid: events}, {rid: duration}, workers=1)
        got = HypothesisWriter(str(tmp_path / "new"), params)(rid, stem, duration, probs)
        assert events_from_arrays(got) == events
        for suffix in (".csv_bi", ".tsv"):
            ref = (tmp_path / "ref" / f"{stem}{suffix}").read_bytes()
            assert (tmp_path / "new" / f"{stem}{suffix}").read_bytes() == ref, (k, suffix)
    assert not [p for p in (tmp_path / "new").iterdir() if p.name.endswith(".tmp")]


def test_text_formatters_match_the_annotation_writers(tmp_path):
    from seizure.io.annotations import write_csv_bi, write_tsv

    arrays = (np.array([0.0, 10.5]), np.array([3.25, 20.0]), np.array([0.51234, 1.0]))
    events = events_from_arrays(arrays)
    write_csv_bi(tmp_path / "a.csv_bi", events, 30.0, bname="rec")
    write_tsv(tmp_path / "a.tsv", events, 30.0)
    assert csv_bi_text(arrays, 30.0, "rec") == (tmp_path / "a.csv_bi").read_text()
    assert tsv_text(arrays, 30.0) == (tmp_path / "a.tsv").read_text()


def test_invalid_duration_raises_as_the_annotation_writers_do(tmp_path):
    writer = HypothesisWriter(str(tmp_path), PostprocessParams(0.5, 1.0, 1.0))
    with pytest.raises(ValueError, match="duration_s"):
        writer("rec", "rec", float("nan"), np.full(10, 0.9, dtype=np.float32))


def test_atomic_write_bytes_matches_atomic_open(tmp_path):
    with atomic_open(tmp_path / "a", "wb") as handle:
        handle.write(b"hello\n")
    atomic_write_bytes(tmp_path / "b", b"hello\n")
    atomic_write_bytes(tmp_path / "b", b"hello\n")  # replaces
    assert (tmp_path / "b").read_bytes() == b"hello\n"
    mode = stat.S_IMODE(os.stat(tmp_path / "a").st_mode)
    assert stat.S_IMODE(os.stat(tmp_path / "b").st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    atomic_write_text(tmp_path / "new" / "c", "h\u00e9\n")  # the folder is made
    assert (tmp_path / "new" / "c").read_bytes() == "h\u00e9\n".encode()
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path / "new", b"x")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["c"]  # no temporary left


def test_finish_recording_saves_the_probabilities_as_np_save(tmp_path):
    probs = np.random.default_rng(0).random(37).astype(np.float32)
    seconds, arrays = finish_recording(str(tmp_path / "p.npy"), None, "r", "r", 37.0, probs)
    assert arrays is None and seconds >= 0
    np.save(tmp_path / "q.npy", probs)
    assert (tmp_path / "p.npy").read_bytes() == (tmp_path / "q.npy").read_bytes()


# ---------------------------------------------------------------- infer_records writers


class _Record:
    def __init__(self, rid: str, n: int, duration: float) -> None:
        self.recording_id, self.n_windows, self.duration_s = rid, n, duration


class _Cache:
    def __init__(self, windows: dict[str, np.ndarray]) -> None:
        self._windows = windows

    def windows(self, rid: str) -> np.ndarray:
        return self._windows[rid]


class _Predictor:
    """Probabilities from the windows' first value (no model): deterministic, fast."""

    def predict(self, stream, progress=None):
        for rid, windows in stream:
            yield rid, np.asarray(windows[:, 0], dtype=np.float32)


def _workload(n_records: int = 12):
    rng = np.random.default_rng(1)
    windows, records = {}, []
    for k in range(n_records):
        n = int(rng.integers(1, 300))
        rid = f"rec{k:02d}_s001_t000"
        windows[rid] = rng.random((n, 3)).astype(np.float32)
        records.append(_Record(rid, n, n + 0.5))
    return _Cache(windows), records


@pytest.mark.parametrize("processes", [True, False])
def test_infer_records_writers_write_what_the_reference_chain_writes(tmp_path, processes):
    cache, records = _workload()
    params = PostprocessParams(0.6, 1.0, 1.0, smoothing_windows=3, merge_gap_seconds=2.0)
    seen: list[str] = []
    events: dict[str, list] = {}
    probs = infer_records(
        _Predictor(),
        cache,
        records,
        tmp_path / "probs",
        hypotheses=HypothesisWriter(str(tmp_path / "hyp"), params),
        on_hypotheses=lambda rid, arrays: (
            seen.append(rid),
            events.__setitem__(rid, events_from_arrays(arrays)),
        ),
        writer_processes=processes,
    )
    assert seen == [r.recording_id for r in records]
    durations = {r.recording_id: r.duration_s for r in records}
    for r in records:
        rid = r.recording_id
        p = probs[rid]
        np.testing.assert_array_equal(np.load(tmp_path / "probs" / f"{rid}.npy"), p)
        expected = reference(p, params, r.duration_s)
        assert events[rid] == expected
        write_hypotheses(tmp_path / "ref", {rid: expected}, durations, workers=1)
        for suffix in (".csv_bi", ".tsv"):
            assert (tmp_path / "hyp" / f"{rid}{suffix}").read_bytes() == (
                tmp_path / "ref" / f"{rid}{suffix}"
            ).read_bytes()


def test_writer_processes_survive_dead_workers(tmp_path):
    from seizure.evaluation.hypotheses import FINISH_RECORDING
    from seizure.utils.pool import PipeWorkers

    pool = PipeWorkers(2, FINISH_RECORDING)
    try:
        params = PostprocessParams(0.5, 1.0, 1.0)
        writer = HypothesisWriter(str(tmp_path / "hyp"), params)
        probs = np.array([0.2, 0.9, 0.9, 0.1], dtype=np.float32)
        job = (str(tmp_path / "a.npy"), writer, "a", "a", 4.0, probs)
        assert events_from_arrays(pool.submit(job).result()[1]) == reference(probs, params, 4.0)
        for proc in pool._procs:
            proc.kill()
            proc.wait()
        assert not pool.alive()
        futures = [pool.submit((None, writer, f"r{k}", f"r{k}", 4.0, probs)) for k in range(4)]
        assert all(f.result()[1][0].tolist() == [1.0] for f in futures)  # written here
        failing = pool.submit((str(tmp_path / "hyp"), None, "x", "x", 4.0, probs))
        with pytest.raises(IsADirectoryError):
            failing.result()
    finally:
        pool.close()
    assert sorted(p.name for p in (tmp_path / "hyp").iterdir()) == sorted(
        f"{s}.{x}" for s in ("a", "r0", "r1", "r2", "r3") for x in ("csv_bi", "tsv")
    )


def test_shared_writer_processes_are_kept_between_calls():
    from seizure.evaluation.hypotheses import shared_writer_processes

    first = shared_writer_processes(2)
    assert shared_writer_processes(2) is first and first.alive()


def test_infer_records_on_recording_needs_writer_threads(tmp_path):
    cache, records = _workload(2)
    with pytest.raises(ValueError, match="writer threads"):
        infer_records(
            _Predictor(), cache, records, on_recording=lambda r, p: None, writer_processes=True
        )


@pytest.mark.parametrize("processes", [True, False])
def test_infer_records_reraises_a_failed_write(tmp_path, processes):
    cache, records = _workload(3)
    (tmp_path / "probs" / f"{records[1].recording_id}.npy").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        infer_records(
            _Predictor(),
            cache,
            records,
            tmp_path / "probs",
            hypotheses=HypothesisWriter(str(tmp_path / "hyp"), PostprocessParams(0.5, 1, 1)),
            writer_processes=processes,
        )
