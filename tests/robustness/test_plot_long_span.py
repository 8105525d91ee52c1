"""``seizure plot`` of a long EDF reads the stretch asked for, not the recording (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from battery import processed, run

import seizure.evaluation.plot as plot_module
from seizure.io.edf import EdfSampleReader, read_edf_header
from seizure.preprocessing.config import PreprocessConfig
from seizure.preprocessing.pipeline import preprocess_recording, read_for_montage
from seizure.preprocessing.signal import design_filters, filter_padding

RATE = 64.0
HOURS = 2
# A few electrodes at a low rate keep the file small (4 MB); the other montage channels are
# zero-filled. 64 Hz, 1-20 Hz band-pass and a 25 Hz notch (Q 30): slow poles, a long margin.
ELECTRODES = ("FP1", "F7", "T3", "T5", "O1")
SETTINGS = {
    "sample_rate_hz": RATE,
    "bandpass_hz": (1.0, 20.0),
    "notch_hz": 25.0,
    "fill_missing": True,
}
SETS = [
    "--set", f"preprocess.sample_rate_hz={RATE:g}",
    "--set", "preprocess.bandpass_hz=[1, 20]",
    "--set", "preprocess.notch_hz=25",
    "--set", "preprocess.fill_missing=true",
]  # fmt: skip


@pytest.fixture(scope="module")
def long_edf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of seeded noise with a 5 Hz burst at 3600-3620 s, 1 s records."""
    from edfio import Edf, EdfSignal

    n = int(HOURS * 3600 * RATE)
    rng = np.random.default_rng(0)
    t = np.arange(n) / RATE
    burst = np.where((t >= 3600) & (t < 3620), 150 * np.sin(2 * np.pi * 5 * t), 0.0)
    signals = [
        EdfSignal(
            rng.standard_normal(n) * 20 + burst * (k + 1) / len(ELECTRODES),
            sampling_frequency=RATE,
            label=f"EEG {name}-REF",
            physical_dimension="uV",
            physical_range=(-500, 500),
        )
        for k, name in enumerate(ELECTRODES)
    ]
    path = tmp_path_factory.mktemp("long") / "long.edf"
    Edf(signals).write(path)
    return path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every ``[start, stop)`` of records read through :class:`EdfSampleReader`.

    Reading the whole file any other way (``read_edf``) fails the test.
    """
    seen: list[tuple[int, int]] = []
    original = EdfSampleReader.read

    def spy(self: EdfSampleReader, start: int, stop: int) -> list[np.ndarray]:
        seen.append((max(0, start), min(self.header.n_records, stop)))
        return original(self, start, stop)

    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("the whole recording was read")

    monkeypatch.setattr(EdfSampleReader, "read", spy)
    monkeypatch.setattr("seizure.preprocessing.pipeline.read_edf", whole)
    return seen


def test_plot_reads_only_the_span_and_the_filter_margins(long_edf, reads, tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(plot_module, "plot_segment", lambda *a, **k: drawn.append(a[1]))
    at, span = 3590.0, 40.0
    processed(run("plot", long_edf, "--at", at, "--span", span, "--out", tmp_path / "p.png", *SETS))
    (segment,) = drawn
    config = PreprocessConfig(**SETTINGS)
    pad = filter_padding(design_filters(RATE, (1.0, 20.0), 25.0, 4, 30.0))
    # the margin is the filters' settling length: between 1 and 20 s at these settings
    assert RATE < pad < 20 * RATE
    header = read_edf_header(long_edf)
    spr = header.signals[0].samples_per_record
    # records touching [at - pad, at + span + pad] (one whole record more on each side at most;
    # no resampling at 64 Hz, so the resampler reaches no further)
    budget = int(span * RATE) + 2 * pad + 2 * spr
    read = sum(stop - start for start, stop in reads) * spr
    assert 0 < read <= budget, (read, budget, reads)
    assert read < header.n_records * spr / 50  # under 2% of the two hours

    # The drawn traces equal the whole recording preprocessed, then cut (float32 rounding).
    monkeypatch.undo()
    recording, _ = read_for_montage(long_edf, config)
    whole = preprocess_recording(recording, config, release=True)
    a = int(at * RATE)
    expected = whole.signals(a, a + int(span * RATE))
    assert segment.start_s == at and segment.signals.shape == expected.shape
    assert segment.channels == whole.channels
    scale = float(np.abs(expected).max())
    assert scale > 100  # the burst is in the stretch
    np.testing.assert_allclose(segment.signals, expected, rtol=0, atol=1e-5 * scale)


def test_plot_at_the_recording_end_reads_the_end_only(long_edf, reads, tmp_path):
    end = HOURS * 3600.0
    processed(
        run("plot", long_edf, "--at", end - 10, "--span", 30, "--out", tmp_path / "e.png", *SETS)
    )
    header = read_edf_header(long_edf)
    assert min(start for start, _ in reads) > header.n_records - 60
    assert max(stop for _, stop in reads) == header.n_records


def test_plot_of_a_long_edf_draws_its_picture(long_edf, tmp_path):
    out = tmp_path / "burst.png"
    processed(run("plot", long_edf, "--at", 3595, "--span", 30, "--out", out, *SETS))
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
