"""Montages as data: the TCP table, the +-1 matrix, bipolar inputs, missing channels, MNE."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest

from seizure.io.recording import Recording
from seizure.preprocessing.config import MontageName, PreprocessConfig
from seizure.preprocessing.montage import (
    MONTAGES,
    MissingChannelsError,
    get_montage,
    montage_matrix,
    plan_montage,
)
from seizure.preprocessing.pipeline import preprocess_recording, resample_sources

# REFERENCE.md section 2, in order.
TCP_22 = [
    "FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP2-F8", "F8-T4", "T4-T6", "T6-O2",
    "A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2",
    "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
]  # fmt: skip
TUSZ_ELECTRODES = [
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ",
]  # fmt: skip


def _recording(labels, n=1000, fs=250.0, seed=0):
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal(n).astype(np.float32) * 50 for _ in labels]
    return Recording(Path("test.edf"), list(labels), list(labels), [fs] * len(labels), data, n / fs)


def test_montage_names_match_config_literal():
    assert set(MONTAGES) == set(typing.get_args(MontageName))


def test_tcp_order_is_the_tusz_table():
    assert list(get_montage("tcp_ar").channels) == TCP_22
    assert get_montage("tcp_le").channels == get_montage("tcp_ar").channels
    ar_a = get_montage("tcp_ar_a").channels
    assert len(ar_a) == 20 and "A1-T3" not in ar_a and "T4-A2" not in ar_a
    assert list(ar_a) == [c for c in TCP_22 if "A1" not in c and "A2" not in c]
    db = get_montage("double_banana")
    assert db.n_channels == 18 and db.channels[:4] == ("FP1-F3", "F3-C3", "C3-P3", "P3-O1")
    assert "A1" not in db.electrodes


def test_unknown_montage_lists_the_known_ones():
    with pytest.raises(ValueError, match="allowed.*'double_banana'.*got 'banana'"):
        get_montage("banana")


@pytest.mark.parametrize("name", ["tcp_ar", "tcp_ar_a", "double_banana"])
def test_bipolar_matrix_is_plus_minus_one(name):
    m = montage_matrix(get_montage(name))
    assert set(np.unique(m)) == {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(m.sum(axis=1), 0)  # each row: one +1 and one -1
    np.testing.assert_array_equal((m == 1).sum(axis=1), 1)


def test_bipolar_channel_is_anode_minus_cathode():
    rec = _recording(TUSZ_ELECTRODES + ["ROC", "EKG1"])
    cfg = PreprocessConfig(sample_rate_hz=250.0, bandpass_hz=None, notch_hz=None)
    y = preprocess_recording(rec, cfg).signals()
    for row, name in enumerate(TCP_22):
        a, b = name.split("-")
        expected = rec.data[rec.index(a)] - rec.data[rec.index(b)]
        np.testing.assert_allclose(y[row], expected, rtol=0, atol=1e-4)


def test_average_montage_rows_sum_to_zero():
    rec = _recording(TUSZ_ELECTRODES)
    cfg = PreprocessConfig(montage="average", sample_rate_hz=250.0, bandpass_hz=None, notch_hz=None)
    y = preprocess_recording(rec, cfg).signals()
    assert y.shape[0] == 19
    np.testing.assert_allclose(y.sum(axis=0), 0, atol=1e-3)
    x = np.stack([rec.data[rec.index(e)] for e in get_montage("average").electrodes])
    np.testing.assert_allclose(y[0], x[0] - x.mean(axis=0), atol=1e-4)


def test_referential_montage_is_the_electrodes():
    rec = _recording(TUSZ_ELECTRODES)
    cfg = PreprocessConfig(
        montage="referential", sample_rate_hz=250.0, bandpass_hz=None, notch_hz=None
    )
    y = preprocess_recording(rec, cfg).signals()
    np.testing.assert_array_equal(y[0], rec.data[rec.index("FP1")])


def test_missing_electrodes_are_all_reported_at_once():
    labels = [e for e in TUSZ_ELECTRODES if e not in ("A1", "A2", "CZ")]
    with pytest.raises(MissingChannelsError) as info:
        plan_montage(get_montage("tcp_ar"), labels)
    assert info.value.missing == ["A1", "CZ", "A2"]
    assert "A1, CZ, A2" in str(info.value) and "fill_missing" in str(info.value)


def test_fill_missing_gives_zero_channels_and_names_them():
    labels = [e for e in TUSZ_ELECTRODES if e not in ("A1", "A2")]
    rec = _recording(labels)
    cfg = PreprocessConfig(sample_rate_hz=250.0, bandpass_hz=None, notch_hz=None, fill_missing=True)
    pre = preprocess_recording(rec, cfg)
    assert pre.filled == ("A1-T3", "T4-A2")
    y = pre.signals()
    assert not y[TCP_22.index("A1-T3")].any() and not y[TCP_22.index("T4-A2")].any()
    assert y[TCP_22.index("T3-C3")].any()
    assert any("filled with zeros" in w for w in pre.warnings)


def test_tcp_ar_a_needs_no_ear_electrodes():
    labels = [e for e in TUSZ_ELECTRODES if e not in ("A1", "A2")]
    plan = plan_montage(get_montage("tcp_ar_a"), labels)
    assert plan.filled == () and plan.missing == ()


def test_chbmit_bipolar_labels_map_directly_with_sign():
    # CHB-MIT labels after normalisation: T7 -> T3, P7 -> T5, ...; one pair given reversed.
    labels = ["FP1-F7", "F7-T3", "T5-T3", "T5-O1", "FZ-CZ", "CZ-PZ", "T4-T6", "T4-T6#2"]
    rec = _recording(labels)
    montage = get_montage("double_banana")
    cfg = PreprocessConfig(
        montage="double_banana",
        sample_rate_hz=250.0,
        bandpass_hz=None,
        notch_hz=None,
        fill_missing=True,
    )
    pre = preprocess_recording(rec, cfg)
    assert pre.source_rates_hz.keys() == {
        "FP1-F7", "F7-T3", "T5-T3", "T5-O1", "FZ-CZ", "CZ-PZ", "T4-T6"
    }  # fmt: skip
    y = pre.signals()
    ch = list(montage.channels)
    np.testing.assert_array_equal(y[ch.index("FP1-F7")], rec.data[0])
    np.testing.assert_array_equal(y[ch.index("T3-T5")], -rec.data[2])
    np.testing.assert_array_equal(y[ch.index("T4-T6")], rec.data[6])  # the first T4-T6
    assert "FP1-F3" in pre.filled and "T3-T5" not in pre.filled


def test_bipolar_recording_cannot_give_a_referential_montage():
    with pytest.raises(MissingChannelsError, match="'average' needs FP1"):
        plan_montage(get_montage("average"), ["FP1-F7", "F7-T3"], fill_missing=True)


def test_chbmit_with_tcp_lists_every_missing_pair():
    chb = ["FP1-F7", "F7-T3", "T3-T5", "T5-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1",
           "FP2-F4", "F4-C4", "C4-P4", "P4-O2", "FP2-F8", "F8-T4", "T4-T6", "T6-O2",
           "FZ-CZ", "CZ-PZ", "T5-T3", "T3-FT9", "FT9-FT10", "FT10-T4", "T4-T6#2"]  # fmt: skip
    with pytest.raises(MissingChannelsError) as info:
        plan_montage(get_montage("tcp_ar"), chb)
    assert info.value.missing == ["A1-T3", "T3-C3", "C3-CZ", "CZ-C4", "C4-T4", "T4-A2"]
    assert plan_montage(get_montage("double_banana"), chb).missing == ()


def test_tcp_agrees_with_mne_set_bipolar_reference():
    mne = pytest.importorskip("mne")
    rec = _recording(TUSZ_ELECTRODES, n=500)
    info = mne.create_info(TUSZ_ELECTRODES, 250.0, "eeg")
    raw = mne.io.RawArray(np.stack(rec.data).astype(np.float64) * 1e-6, info, verbose="error")
    anodes = [c.split("-")[0] for c in TCP_22]
    cathodes = [c.split("-")[1] for c in TCP_22]
    bip = mne.set_bipolar_reference(
        raw, anodes, cathodes, ch_name=TCP_22, drop_refs=True, copy=True, verbose="error"
    )
    expected = bip.get_data(picks=TCP_22) * 1e6
    cfg = PreprocessConfig(sample_rate_hz=250.0, bandpass_hz=None, notch_hz=None)
    got = resample_sources(rec, cfg).signals()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
