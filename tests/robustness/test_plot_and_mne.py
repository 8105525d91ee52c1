"""``seizure plot``, the report's snippets and curve, and the MNE interop (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from battery import write_edf
from click.testing import CliRunner
from test_evaluate_pipeline import make_cache, make_checkpoint, power_factory

from seizure.cli import main
from seizure.evaluation.plot import (
    PlotError,
    ProbabilityTrace,
    Segment,
    cache_segment,
    plot_segment,
    segment_bounds,
)
from seizure.evaluation.report import ReportInputs, operating_curve, plot_curve, render_report
from seizure.io.events import Event
from seizure.scoring.curve import OperatingPoint

PNG = b"\x89PNG\r\n\x1a\n"


def test_segment_bounds():
    assert segment_bounds(10, 30, 100) == (10.0, 40.0)
    assert segment_bounds(90, 30, 100) == (90.0, 100.0)  # cut at the end
    with pytest.raises(PlotError, match="'--at'"):
        segment_bounds(100, 5, 100)
    with pytest.raises(PlotError, match="'--span'"):
        segment_bounds(0, 0, 100)


def test_probability_staircase_centres_windows():
    # window 4 s, stride 1 s: window k spans [k, k + 4), drawn over [k + 1.5, k + 2.5)
    edges, values = ProbabilityTrace(np.array([0.1, 0.9]), 4.0, 1.0).steps()
    assert np.allclose(edges, [1.5, 2.5, 3.5]) and np.allclose(values, [0.1, 0.9])


def test_cache_segment_lays_windows_end_to_end(tmp_path):
    cache = make_cache(tmp_path / "cache")
    rid = "pat1_s001_t000"
    seg = cache_segment(cache, rid, 3.25, 2.0)
    fs = cache.sample_rate_hz
    windows = np.asarray(cache.windows(rid), dtype=np.float32)
    # 1 s windows, 1 s stride: sample t of the recording is window t // fs, offset t % fs
    t0 = int(3.25 * fs)
    assert seg.start_s == t0 / fs and seg.signals.shape == (22, int(2 * fs))
    assert np.array_equal(seg.signals[:, 0], windows[3, :, t0 % int(fs)])
    assert np.array_equal(seg.signals[:, -1], windows[5, :, (t0 + int(2 * fs) - 1) % int(fs)])
    with pytest.raises(PlotError, match="no record 'nope'"):
        cache_segment(cache, "nope", 0, 1)


def test_plot_segment_writes_png_and_svg_and_refuses_other_suffixes(tmp_path):
    rng = np.random.default_rng(0)
    seg = Segment(rng.standard_normal((3, 640)).astype(np.float32), ("A", "B", "C"), 64, 10, 60)
    trace = ProbabilityTrace(rng.uniform(size=60), 1.0, 1.0, threshold=0.5)
    plot_segment(tmp_path / "a.png", seg, [Event(12, 14)], [Event(13, 18)], trace)
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG
    plot_segment(tmp_path / "a.svg", seg, probs=None)
    svg = (tmp_path / "a.svg").read_text()
    assert "<svg" in svg and "time (s from the start of the recording)" in svg
    with pytest.raises(PlotError, match=r"\.png or \.svg"):
        plot_segment(tmp_path / "a.jpg", seg)


def test_plot_command_on_an_edf(tmp_path):
    edf = write_edf(tmp_path / "rec.edf", seconds=20, events=((4.0, 9.0),))
    fast = ["--set", "preprocess.sample_rate_hz=128", "--set", "preprocess.bandpass_hz=[1, 40]"]
    out = tmp_path / "p.png"
    result = CliRunner().invoke(
        main,
        ["plot", str(edf), "--ref", str(edf.with_suffix(".csv_bi")), "--at", "2", "--span",
         "10", "--out", str(out), *fast],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG and f"wrote {out}" in result.output
    bad = CliRunner().invoke(main, ["plot", str(edf), "--at", "50", "--out", str(out), *fast])
    assert bad.exit_code == 2 and "Invalid value for '--at'" in bad.output
    assert "Traceback" not in bad.output


def test_plot_command_on_a_cache_with_probs_and_checkpoint(tmp_path):
    cache = make_cache(tmp_path / "cache")
    rid = "pat1_s001_t000"
    n = cache.record(rid).n_windows
    probs = tmp_path / "p.npy"
    np.save(probs, np.linspace(0, 1, n, dtype=np.float32))
    out = tmp_path / "c.svg"
    args = ["plot", str(cache.path), "--record", rid, "--at", "30", "--span", "50"]
    result = CliRunner().invoke(main, [*args, "--probs", str(probs), "--out", str(out)])
    assert result.exit_code == 0, result.output and out.read_text().startswith("<?xml")
    np.save(probs, np.zeros(n + 1, dtype=np.float32))
    result = CliRunner().invoke(main, [*args, "--probs", str(probs), "--out", str(out)])
    assert result.exit_code == 1 and f"holds {n + 1} probabilities" in result.output
    result = CliRunner().invoke(main, ["plot", str(cache.path), "--out", str(out)])
    assert result.exit_code == 2 and "--record" in result.output
    # probabilities computed by a checkpoint: the loud seizure windows come out near 1
    from seizure.evaluation.mne_detect import load_detector

    det = load_detector(make_checkpoint(tmp_path / "b.pt"), device="cpu",
                        model_factory=power_factory)  # fmt: skip
    p = det.probabilities(cache.windows(rid))
    assert p.shape == (n,) and p[45] > 0.9 and p[100] < 0.1


def test_operating_curve_is_monotone_whatever_the_threshold_order():
    # threshold order folds back: (0.1: 10 FA, 90 %), (0.5: 2 FA, 95 %), (0.9: 0 FA, 50 %)
    rows = [
        {"method": "taes", "threshold": t, "sensitivity": s, "false_alarms_per_24h": f}
        for t, s, f in ((0.1, 0.9, 10.0), (0.5, 0.95, 2.0), (0.9, 0.5, 0.0), (0.7, 0.5, 1.0))
    ]
    fa, sens = operating_curve(rows, "taes")
    assert fa.tolist() == [0.0, 2.0] and sens.tolist() == [0.5, 0.95]


def _inputs(**kw):
    base = dict(
        checkpoint=Path("best.pt"), checkpoint_sha256="0" * 64, checkpoint_epoch=1,
        cache_path=Path("cache"), cache_fingerprint="f", split="eval", config={},
        threshold=0.5, threshold_source="evaluate.threshold", scores={}, points=[],
        refs={"r": [Event(10, 20), Event(50, 90)]}, hyps={"r": [Event(100, 103)]},
        durations={"r": 200.0},
    )  # fmt: skip
    base.update(kw)
    return ReportInputs(**base)


def test_unmet_budgets_give_the_lowest_false_alarm_rate_reached(tmp_path):
    curve = [
        {"method": "ovlp", "threshold": t, "sensitivity": s, "false_alarms_per_24h": f}
        for t, s, f in ((0.2, 0.9, 40.0), (0.8, 0.6, 12.5), (0.9, 0.6, 12.5))
    ]
    points = [OperatingPoint("ovlp", b, None, None, None) for b in (1.0, 6.75, 10.0)]
    text = render_report(_inputs(points=points, curve=curve))
    assert "none meets the budget" not in text
    assert "| NEDC OVLP | 1, 6.75, 10 | not met; lowest FA/24h at 0.9 | 60.00 | 12.50 |" in text
    plot_curve(tmp_path / "c.png", curve, points)
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG


def test_report_snippets_worst_first(tmp_path):
    text = render_report(
        _inputs(), {("r", Event(50, 90)): "snippets/miss_01.png", ("r", Event(10, 20)): "x.png"}
    )
    first, second = text.index("snippets/miss_01.png"), text.index("](x.png)")
    assert first < second  # the 40 s miss before the 10 s one


def test_evaluate_report_embeds_snippets(tmp_path):
    from seizure.evaluation.evaluate import evaluate

    cache = make_cache(tmp_path / "cache")
    # a high threshold misses the shorter seizures; the loud artefacts stay false alarms
    evaluate(make_checkpoint(tmp_path / "b.pt"), cache.path, tmp_path / "out", device="cpu",
             overrides=["evaluate.sweep_points=5", "evaluate.threshold=0.5"],
             model_factory=power_factory)  # fmt: skip
    out = tmp_path / "out"
    text = (out / "report.md").read_text()
    pictures = sorted(p.name for p in (out / "snippets").iterdir())
    assert pictures and all(f"](snippets/{name})" in text for name in pictures)
    assert all((out / "snippets" / n).read_bytes()[:8] == PNG for n in pictures)
    assert "fa_01.png" in pictures


# --------------------------------------------------------------------------- MNE


def test_read_annotations_csv_bi_and_tsv(tmp_path):
    from seizure.io.annotations import write_csv_bi, write_tsv
    from seizure.io.mne_interop import read_annotations

    events = [Event(1.5, 4.0), Event(10.0, 12.25)]
    write_csv_bi(tmp_path / "a.csv_bi", events, 30.0)
    write_tsv(tmp_path / "a.tsv", events, 30.0)
    for name in ("a.csv_bi", "a.tsv"):
        ann = read_annotations(tmp_path / name)
        assert list(ann.onset) == [1.5, 10.0] and list(ann.duration) == [2.5, 2.25]
        assert list(ann.description) == ["seiz", "seiz"]
    write_tsv(tmp_path / "none.tsv", [], 30.0)  # one bckg row
    assert len(read_annotations(tmp_path / "none.tsv")) == 0
    assert list(read_annotations(tmp_path / "none.tsv", background=True).description) == ["bckg"]


def test_write_edf_with_annotations_is_read_back_by_mne(tmp_path):
    import mne

    from seizure.io.mne_interop import read_annotations, write_edf_with_annotations
    from seizure.utils.errors import InputFileError

    edf = write_edf(tmp_path / "rec.edf", seconds=20)
    out = tmp_path / "annotated.edf"
    write_edf_with_annotations(edf, read_annotations(edf.with_suffix(".csv_bi")), out)
    raw = mne.io.read_raw_edf(out, preload=False, verbose="error")
    assert list(raw.annotations.description) == ["seiz"]
    assert raw.annotations.onset[0] == pytest.approx(2.0)
    assert raw.annotations.duration[0] == pytest.approx(3.0)
    assert len(raw.ch_names) == 21  # the signals are all there, the TAL channel is not one
    with pytest.raises(InputFileError, match="outside the recording"):
        write_edf_with_annotations(edf, [Event(15, 25)], tmp_path / "x.edf")
    with pytest.raises(InputFileError, match="overwrite the input"):
        write_edf_with_annotations(edf, [], edf)


def test_detect_raw_finds_the_loud_stretch(tmp_path):
    import mne
    from test_evaluate_pipeline import PowerModel

    from seizure.config import Config, to_dict
    from seizure.evaluation.mne_detect import detect_raw
    from seizure.io.channels import normalize_labels
    from seizure.preprocessing.config import PreprocessConfig
    from seizure.preprocessing.montage import get_montage
    from seizure.training.checkpoint import save_checkpoint

    pre = PreprocessConfig(sample_rate_hz=32.0, bandpass_hz=(0.5, 12.0), notch_hz=None)
    montage = get_montage(pre.montage)
    data = to_dict(Config(preprocess=pre))
    ckpt = tmp_path / "b.pt"
    save_checkpoint(ckpt, {"model": PowerModel().state_dict(), "config": data,
                           "window_shape": [montage.n_channels, int(pre.window_samples)],
                           "epoch": 1, "step": 1})  # fmt: skip
    names = [f"EEG {e}-REF" for e in montage.electrodes]
    assert len(set(normalize_labels(names))) == len(names)
    rng = np.random.default_rng(0)
    fs, seconds = 64.0, 120
    x = rng.standard_normal((len(names), int(fs * seconds))) * 10e-6  # volts
    x[:, int(60 * fs) : int(80 * fs)] *= 6  # a loud "seizure" from 60 to 80 s
    raw = mne.io.RawArray(x, mne.create_info(names, fs, "eeg"), verbose="error")
    ann = detect_raw(raw, ckpt, device="cpu", model_factory=power_factory)
    assert isinstance(ann, mne.Annotations) and list(ann.description) == ["seiz"]
    assert abs(ann.onset[0] - 60) <= 2 and abs(ann.onset[0] + ann.duration[0] - 80) <= 2
    raw.set_annotations(ann)  # placed on the Raw without complaint


def test_mne_modules_import_no_mne_or_torch():
    code = (
        "import sys, seizure.io.mne_interop, seizure.evaluation.plot, seizure.cli.plot;"
        "print(','.join(m for m in ('mne', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
