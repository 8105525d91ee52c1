"""The encoder without BatchNorm lets the conv initializer's scale reach the encoder output."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seizure.models.config import ModelConfig
from seizure.models.registry import build_model


def _encoded(conv_init: str, encoder_norm: str) -> torch.Tensor:
    cfg = ModelConfig(hidden_size=8, num_layers=1, encoder_norm=encoder_norm,
                      conv_channels=(8, 8, 8), conv_kernels=(5, 3, 3))  # fmt: skip
    cfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, conv=conv_init))
    torch.manual_seed(0)  # same seed: the uniform initializers draw proportional weights
    model = build_model(cfg, (4, 128)).train()
    x = 30.0 * torch.randn(16, 4, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model.encoder(x)


@pytest.mark.parametrize("other", ["he_uniform", "glorot_uniform", "random_uniform"])
def test_batchnorm_cancels_the_conv_scale_and_none_keeps_it(other):
    # With BatchNorm after every convolution, a rescaled initializer gives the same output.
    a, b = _encoded("lecun_uniform", "batch"), _encoded(other, "batch")
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-4)
    # Without it, the scale reaches the output.
    a, b = _encoded("lecun_uniform", "none"), _encoded(other, "none")
    ratio = float(b.abs().mean() / a.abs().mean())
    assert abs(ratio - 1.0) > 0.1, ratio  # against < 1e-3 with BatchNorm


def test_encoder_without_batchnorm_has_no_norm_layers_and_biased_convolutions():
    cfg = ModelConfig(encoder_norm="none", conv_channels=(8, 8), conv_kernels=(3, 3))
    encoder = build_model(cfg, (4, 64)).encoder
    convs = [m for m in encoder.blocks if isinstance(m, torch.nn.Conv1d)]
    assert convs and all(c.bias is not None for c in convs)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in encoder.blocks)
