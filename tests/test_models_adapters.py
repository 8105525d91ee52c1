"""``seizure.models.adapters.WindowClassifier``: a detector as a skorch/braindecode classifier."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seizure.models import build_model
from seizure.models.adapters import WindowClassifier
from seizure.models.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
SMALL = ModelConfig(hidden_size=8, num_layers=1, conv_channels=(4, 4, 4, 4, 4))
RAW = (4, 64)  # (channels, samples)


def _small(window_shape=RAW, **changes) -> WindowClassifier:
    torch.manual_seed(0)
    return WindowClassifier.build(window_shape, dataclasses.replace(SMALL, **changes)).eval()


def test_windows_give_two_class_logits_whose_softmax_is_the_detector_probability():
    net = _small()
    x = 20 * torch.randn(6, *RAW)
    logits = net(x)
    assert logits.shape == (6, 2)
    assert torch.all(logits[:, 0] == 0)
    with torch.no_grad():
        z = net.model(x.unsqueeze(1))[:, 0]  # the detector on sequences of length one
    torch.testing.assert_close(torch.softmax(logits, -1)[:, 1], torch.sigmoid(z))


def test_sequences_give_class_logits_per_window_in_braindecode_layout():
    net = _small()
    x = 20 * torch.randn(3, 5, *RAW)
    logits = net(x)
    assert logits.shape == (3, 2, 5)
    with torch.no_grad():
        z = net.model(x)
    torch.testing.assert_close(logits[:, 1, :], z)
    targets = torch.randint(0, 2, (3, 5))
    loss = torch.nn.functional.cross_entropy(logits, targets)  # (B, C, T) with (B, T)
    assert torch.isfinite(loss)


def test_lfcc_windows_and_multiclass_heads_pass_through():
    lfcc = (4, 10, 26)  # (channels, frames, features)
    net = _small(lfcc, name="cnn2d_rnn", n_classes=3)
    assert net.n_classes == 3
    assert net(torch.randn(2, *lfcc)).shape == (2, 3)
    assert net(torch.randn(2, 7, *lfcc)).shape == (2, 3, 7)


def test_float64_input_is_cast_and_the_parameters_are_the_detector_s():
    net = _small()
    x = 20 * torch.randn(2, *RAW, dtype=torch.float64)
    torch.testing.assert_close(net(x), net(x.float()))
    assert [id(p) for p in net.parameters()] == [id(p) for p in net.model.parameters()]


@pytest.mark.parametrize("shape", [(2, 64), (2, 3, 64), (2, 4, 63), (1, 2, 3, 4, 64)])
def test_a_wrong_input_shape_is_refused_naming_both_layouts(shape):
    with pytest.raises(ValueError, match=r"Expected windows \(batch, 4, 64\) or sequences"):
        _small()(torch.zeros(shape))


def test_only_a_detector_can_be_wrapped():
    with pytest.raises(TypeError, match="has no 'window_shape' attribute"):
        WindowClassifier(torch.nn.Linear(3, 1))
    model = build_model(SMALL, RAW)
    assert WindowClassifier(model).model is model


def test_skorch_fits_and_predicts_on_random_windows():
    skorch = pytest.importorskip("skorch")
    rng = np.random.default_rng(0)
    windows = (20 * rng.standard_normal((16, *RAW))).astype(np.float32)
    labels = np.arange(16) % 2
    torch.manual_seed(0)
    net = skorch.NeuralNetClassifier(
        WindowClassifier.build(RAW, SMALL),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=1,
        batch_size=4,
        train_split=None,
    )
    net.fit(windows, labels)
    assert len(net.history) == 1 and np.isfinite(net.history[-1, "train_loss"])
    proba = net.predict_proba(windows)
    assert proba.shape == (16, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(net.predict(windows)) <= {0, 1}


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (example,) = [b for b in blocks if "NeuralNetClassifier" in b]
    return example


def test_the_readme_skorch_example_runs():
    pytest.importorskip("skorch")
    namespace: dict[str, object] = {}
    exec(compile(_readme_example(), "README.md (skorch example)", "exec"), namespace)
    p_seizure = namespace["p_seizure"]
    assert isinstance(p_seizure, np.ndarray) and p_seizure.shape == (32,)
    assert np.all((p_seizure >= 0) & (p_seizure <= 1))
    assert len(namespace["net"].history) == 1


def test_the_adapter_imports_neither_skorch_nor_braindecode():
    code = (
        "import sys, seizure.models.adapters\n"
        "print(sorted(m for m in ('skorch', 'braindecode', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
