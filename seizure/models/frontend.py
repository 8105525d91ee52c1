"""Convolutional encoders: one window in, one feature vector out.

Window layouts
--------------
A raw window is ``(C, L)`` (channels, samples; microvolts); an LFCC window is ``(C, F, D)``
(channels, frames, features). Both are viewed as ``(P, C, W)``: ``P`` values per channel and
time point (1 for raw, ``D`` for LFCC), ``C`` EEG channels and ``W`` time points (samples or
frames). The encoders convolve along ``W`` and derive every size from the window shape.

Input normalisation (``model.input_norm``)
------------------------------------------
Raw samples are first divided by ``model.input_scale_uv`` (100 uV: typical EEG becomes
O(1), which also keeps bf16 well conditioned); LFCC features are not scaled. Then:

- ``batch`` (default): ``BatchNorm1d(P * C, affine=False)`` over the ``P * C`` rows, i.e.
  per-channel statistics for raw input and per channel-and-feature statistics for LFCC
  (whose energies and cepstra have very different scales). Running statistics are learned
  in training and stored in the checkpoint, so evaluation and detection need no external
  normalisation.
- ``scale``: the fixed scale only.
- ``window``: each row of each window standardised over ``W`` (mean 0, std 1, eps 1e-5);
  removes absolute amplitude, which carries seizure information, so it is not the default.

Gaussian noise (``regularization.gaussian_noise``) and input dropout
(``regularization.input_dropout``) act on the normalised input in training only.

Encoders
--------
``Conv1dEncoder`` (registry name ``cnn_rnn``, the default): blocks of
``Conv1d(k, padding='same') -> BatchNorm1d -> ELU -> MaxPool1d(pool)`` over ``W`` with the
``P * C`` rows as input channels, then a global average over the remaining time points. With
the defaults on a 22 x 256 window: 22 -> 32 -> 64 -> 64 -> 128 -> 128 channels, lengths 256 ->
128 -> 64 -> 32 -> 16 -> 8, about 5.5 M multiply-adds per window. Pooling is skipped once the
time axis is shorter than the pooling factor (LFCC windows have only 10 frames).

``Conv2dEncoder`` (``cnn2d_rnn``): first 2D blocks over (EEG channel, time) with ``P`` input
planes, kernel ``(3, 5)`` (``(3, 3)`` for LFCC), ``MaxPool2d`` of 2 over channels and
``pool`` over time, then the channel axis is folded into features and the 1D blocks follow.

Implementation differences
--------------------------
Golmohammadi et al. apply 2D convolutions to per-frame (channel x feature) LFCC images and
then 1D convolutions across frames, with layer sizes we could not verify (REFERENCE section 1).
Our default is a pure 1D encoder on raw samples (cheaper, channels-last friendly, and the
measured reference design); ``cnn2d_rnn`` keeps the paper's 2D-then-1D structure. We add
BatchNorm after every convolution and a global average pool instead of flattening, so that the
encoder works for any window size. ELU activations as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from seizure.models.regularization import GaussianNoise

__all__ = ["Conv1dEncoder", "Conv2dEncoder", "InputNorm", "canonical_layout"]


def canonical_layout(window_shape: Sequence[int]) -> tuple[int, int, int]:
    """``(P, C, W)`` of a raw ``(C, L)`` or LFCC ``(C, F, D)`` window shape."""
    shape = tuple(int(s) for s in window_shape)
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    if len(shape) == 3:
        return shape[2], shape[0], shape[1]
    raise ValueError(
        f"Invalid value for 'window_shape': expected (channels, samples) or "
        f"(channels, frames, features), got {shape} instead"
    )


class InputNorm(nn.Module):
    """Bring a batch of windows to the ``(N, P * C, W)`` layout, normalise, add noise/dropout.

    Parameters
    ----------
    window_shape : sequence of int
        ``(C, L)`` raw or ``(C, F, D)`` LFCC.
    mode : {'batch', 'scale', 'window'}
        See the module docstring.
    scale_uv : float
        Divisor of raw input (microvolts).
    noise : float
        Gaussian noise standard deviation (training only).
    dropout : float
        Element-wise input dropout (training only).

    Notes
    -----
    ``forward``: ``(N, *window_shape) -> (N, P * C, W)`` float32 (integer input is cast).
    """

    def __init__(
        self,
        window_shape: Sequence[int],
        mode: str = "batch",
        scale_uv: float = 100.0,
        noise: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_shape = tuple(int(s) for s in window_shape)
        self.p, self.c, self.w = canonical_layout(self.window_shape)
        self.mode = mode
        self.is_raw = len(self.window_shape) == 2
        self.scale = 1.0 / scale_uv if self.is_raw else 1.0
        self.norm = nn.BatchNorm1d(self.p * self.c, affine=False) if mode == "batch" else None
        self.noise = GaussianNoise(noise)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize windows ``(N, C, W)`` or features ``(N, C, F, D)`` to float32."""
        if not x.is_floating_point():
            x = x.float()
        if not self.is_raw:  # (N, C, F, D) -> (N, D, C, F)
            x = x.permute(0, 3, 1, 2)
        x = x.reshape(x.shape[0], self.p * self.c, self.w)
        if self.scale != 1.0:
            x = x * self.scale
        if self.norm is not None:
            x = self.norm(x)
        elif self.mode == "window":
            x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-5)
        return self.dropout(self.noise(x))


def _conv1d_blocks(
    in_channels: int,
    length: int,
    channels: Sequence[int],
    kernels: Sequence[int],
    pool: int,
    norm: bool,
) -> tuple[nn.Sequential, int, int]:
    layers: list[nn.Module] = []
    c = in_channels
    for out, k in zip(channels, kernels):
        layers.append(nn.Conv1d(c, out, k, padding="same", bias=not norm))
        if norm:
            layers.append(nn.BatchNorm1d(out))
        layers.append(nn.ELU())
        if pool > 1 and length >= pool:
            layers.append(nn.MaxPool1d(pool))
            length //= pool
        c = out
    return nn.Sequential(*layers), c, length


class Conv1dEncoder(nn.Module):
    """1D convolution blocks over time, then a global average (see module docstring).

    Parameters
    ----------
    window_shape : sequence of int
    channels, kernels : sequence of int
        Output channels and kernel size of each block.
    pool : int
        Max-pooling factor per block.
    norm : bool
        BatchNorm after each convolution.
    input_norm : InputNorm
        Input normalisation module (applied first).

    Notes
    -----
    ``forward``: ``(N, *window_shape) -> (N, out_features)``. ``out_features`` is the last
    block's channel count; ``macs`` is the multiply-adds of the convolutions per window.
    """

    def __init__(
        self,
        window_shape: Sequence[int],
        channels: Sequence[int],
        kernels: Sequence[int],
        pool: int,
        norm: bool,
        input_norm: InputNorm,
    ) -> None:
        super().__init__()
        self.input_norm = input_norm
        p, c, w = canonical_layout(window_shape)
        self.blocks, self.out_features, self.out_length = _conv1d_blocks(
            p * c, w, channels, kernels, pool, norm
        )
        self.macs = _conv_macs(self.blocks, (p * c, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode windows ``(N, C, W)`` into features ``(N, F)``."""
        return self.blocks(self.input_norm(x)).mean(-1)


class Conv2dEncoder(nn.Module):
    """2D blocks over (EEG channel, time), then 1D blocks over time, then a global average.

    Parameters
    ----------
    window_shape : sequence of int
    channels2d : sequence of int
        Output channels of the 2D blocks (kernel ``(3, 5)`` raw, ``(3, 3)`` LFCC).
    channels, kernels, pool, norm, input_norm
        As :class:`Conv1dEncoder` (for the 1D blocks).
    """

    def __init__(
        self,
        window_shape: Sequence[int],
        channels2d: Sequence[int],
        channels: Sequence[int],
        kernels: Sequence[int],
        pool: int,
        norm: bool,
        input_norm: InputNorm,
    ) -> None:
        super().__init__()
        self.input_norm = input_norm
        p, h, w = canonical_layout(window_shape)
        self.p, self.h = p, h
        kt = 5 if len(tuple(window_shape)) == 2 else 3
        layers: list[nn.Module] = []
        c = p
        for out in channels2d:
            layers.append(nn.Conv2d(c, out, (3, kt), padding="same", bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ELU())
            ph = 2 if h >= 2 else 1
            pw = pool if pool > 1 and w >= pool else 1
            if ph > 1 or pw > 1:
                layers.append(nn.MaxPool2d((ph, pw)))
                h, w = h // ph, w // pw
            c = out
        self.blocks2d = nn.Sequential(*layers)
        self.blocks, self.out_features, self.out_length = _conv1d_blocks(
            c * h, w, channels, kernels, pool, norm
        )
        self.macs = _conv_macs(self.blocks2d, (p, self.h, canonical_layout(window_shape)[2]))
        self.macs += _conv_macs(self.blocks, (c * h, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode windows ``(N, P * C, W)`` into features ``(N, F)``."""
        x = self.input_norm(x)  # (N, P * C, W)
        x = x.view(x.shape[0], self.p, self.h, x.shape[-1])
        x = self.blocks2d(x)  # (N, c, h', w')
        x = x.flatten(1, 2)
        return self.blocks(x).mean(-1)


def _conv_macs(blocks: nn.Sequential, shape: tuple[int, ...]) -> int:
    """Multiply-adds of the convolutions of ``blocks`` for one input of ``shape``."""
    macs = 0
    spatial = list(shape[1:])
    for layer in blocks:
        if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
            k = math.prod(layer.kernel_size)
            macs += math.prod(spatial) * layer.out_channels * layer.in_channels * k
        elif isinstance(layer, (nn.MaxPool1d, nn.MaxPool2d)):
            ks = layer.kernel_size
            ks = (ks,) * len(spatial) if isinstance(ks, int) else tuple(ks)
            spatial = [s // q for s, q in zip(spatial, ks)]
    return int(macs)
