"""The feature baseline as a detector: band power, standardisation, logistic regression.

:class:`BandPowerLogReg` (registry name ``bandpower_logreg``) is a torch module with the
contract of every detector, ``(B, T, channels, samples)`` raw windows in microvolts ->
``(B, T)`` logits, so that its checkpoints load with ``weights_only=True`` and the inference
engine runs it as any other model. It holds no trained network: its weights are set once by
:func:`seizure.training.baseline.fit_baseline` (scikit-learn's ``LogisticRegression`` on the
train split) and stored in its state dict:

==========================  ======================================================
entry                       content
==========================  ======================================================
``sample_rate_hz``          rate of the windows in Hz (float64, shape ``()``)
``context_windows``         ``k``: features averaged over windows ``t-k .. t+k``
``feature_mean``            mean of the train features, shape ``(10,)``
``feature_std``             their standard deviation, shape ``(10,)``
``head.weight``, ``.bias``  the regression's coefficients ``(1, 10)`` and intercept ``(1,)``
==========================  ======================================================

The ten features per window are those of
:func:`seizure.preprocessing.bandpower.band_power_features` (log band power of a Hann
periodogram, mean and max over channels), computed here in torch in float32 whatever the
autocast setting. With ``context_windows = k > 0`` each feature is replaced by its mean over
the windows ``t-k .. t+k`` of the same sequence (fewer at the sequence's ends).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from seizure.models.config import ModelConfig
from seizure.preprocessing.bandpower import FEATURE_BANDS_HZ, feature_names
from seizure.preprocessing.config import PreprocessConfig

__all__ = ["BandPowerLogReg", "N_FEATURES"]

#: Features per window: mean and max over channels of each band's log power.
N_FEATURES = 2 * len(FEATURE_BANDS_HZ)
_EPS_UV2 = 1e-6  # as band_power_features: log(power + eps), power in uV^2


class BandPowerLogReg(nn.Module):
    """Logistic regression on per-window band-power features, as a detector.

    Parameters
    ----------
    config : ModelConfig
        Only ``n_classes`` (must be 1) is used; the architecture fields do not apply.
    window_shape : tuple of int
        ``(channels, samples)``: raw windows.

    Raises
    ------
    ValueError
        For a window shape that is not ``(channels, samples)`` or ``n_classes != 1``.

    Notes
    -----
    Built, the module computes with the default preprocessing rate
    (``PreprocessConfig.sample_rate_hz``), no context, identity standardisation and the head
    as ``model.init.head`` draws it; loading a fitted state dict sets all of them.
    """

    def __init__(self, config: ModelConfig, window_shape: tuple[int, ...]) -> None:
        super().__init__()
        if len(window_shape) != 2:
            raise ValueError(
                "Invalid value for 'window_shape': model bandpower_logreg takes raw windows "
                f"(channels, samples), got {tuple(window_shape)} instead"
            )
        if config.n_classes != 1:
            raise ValueError(
                "Invalid value for 'model.n_classes': model bandpower_logreg gives one "
                f"seizure logit per window (1), got {config.n_classes} instead"
            )
        self.config = config
        self.window_shape = tuple(int(s) for s in window_shape)
        self.n_classes = 1
        n_samples = self.window_shape[1]
        rate = PreprocessConfig().sample_rate_hz
        self.register_buffer("sample_rate_hz", torch.tensor(rate, dtype=torch.float64))
        self.register_buffer("context_windows", torch.tensor(0, dtype=torch.int64))
        self.register_buffer("feature_mean", torch.zeros(N_FEATURES))
        self.register_buffer("feature_std", torch.ones(N_FEATURES))
        taper = torch.from_numpy(np.hanning(n_samples).astype(np.float32))
        self.register_buffer("taper", taper, persistent=False)
        self.head = nn.Linear(N_FEATURES, 1)

    @staticmethod
    def feature_names() -> list[str]:
        """Names of the ten features, in order (``mean_delta`` ... ``max_gamma``)."""
        return feature_names()

    def empty_bands(self) -> list[str]:
        """Names of the bands with no frequency bin at this rate and window length.

        Their features are constant (``log(1e-6)``); :func:`band_power_features` refuses
        such windows, and so does fitting.
        """
        empty = self._band_matrix().sum(dim=0) == 0
        return [name for name, e in zip(FEATURE_BANDS_HZ, empty.tolist()) if e]

    def _band_matrix(self) -> torch.Tensor:
        """Return the ``(n_freq, n_bands)`` float32 matrix that sums a periodogram into bands.

        Each band's bins are weighted by the bin width times the periodogram's one-sided scale
        (the frequencies as ``numpy.fft.rfftfreq`` gives them).
        """
        n = self.window_shape[1]
        rate = self.sample_rate_hz
        step = 1.0 / (n * (1.0 / rate))  # numpy.fft.rfftfreq's bin width, float64
        f = torch.arange(n // 2 + 1, dtype=torch.float64, device=rate.device) * step
        lo = torch.tensor([b[0] for b in FEATURE_BANDS_HZ.values()], dtype=torch.float64,
                          device=rate.device)  # fmt: skip
        hi = torch.tensor([b[1] for b in FEATURE_BANDS_HZ.values()], dtype=torch.float64,
                          device=rate.device)  # fmt: skip
        masks = ((f[:, None] >= lo) & (f[:, None] < hi)).to(torch.float64)
        scale = 2.0 / (rate * self.taper.square().sum().to(torch.float64))
        return (masks * (step if n > 1 else 1.0) * scale).to(torch.float32)

    def window_features(self, x: torch.Tensor) -> torch.Tensor:
        """Band-power features of each window, no context.

        Parameters
        ----------
        x : Tensor, shape (N, channels, samples)
            Raw windows in microvolts (any float dtype).

        Returns
        -------
        Tensor of float32, shape (N, 10)
            ``log(power / uV^2)`` per band, mean over channels then max over channels, equal
            to :func:`~seizure.preprocessing.bandpower.band_power_features` (to float32
            rounding).
        """
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            x = (x - x.mean(dim=-1, keepdim=True)) * self.taper
            psd = torch.fft.rfft(x, dim=-1).abs().square()
            logp = torch.log(psd @ self._band_matrix() + _EPS_UV2)
            return torch.cat([logp.mean(dim=1), logp.amax(dim=1)], dim=-1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Features of a batch of sequences with context, ``(B, T, C, S) -> (B, T, 10)``."""
        b, t = x.shape[:2]
        if tuple(x.shape[2:]) != self.window_shape:
            raise ValueError(
                f"Expected windows of shape {self.window_shape}, got input of shape "
                f"{tuple(x.shape)} (batch, T, *window)"
            )
        f = self.window_features(x.reshape(b * t, *self.window_shape)).view(b, t, -1)
        return self.context_mean(f)

    def context_mean(self, f: torch.Tensor) -> torch.Tensor:
        """Mean of ``f`` over windows ``t-k .. t+k`` of each sequence (``k = context_windows``).

        Parameters
        ----------
        f : Tensor, shape (B, T, F)

        Returns
        -------
        Tensor of float32, shape (B, T, F)
            ``f`` itself when ``k = 0``; near the ends of a sequence the mean is over the
            windows that exist.
        """
        t = torch.arange(f.shape[1], device=f.device)
        hi = torch.clamp(t + self.context_windows, max=f.shape[1] - 1)
        lo = torch.clamp(t - self.context_windows, min=0)
        zero = torch.zeros_like(f[:, :1], dtype=torch.float64)
        cum = torch.cat([zero, torch.cumsum(f.to(torch.float64), dim=1)], dim=1)
        total = cum[:, hi + 1] - cum[:, lo]
        mean = (total / (hi - lo + 1).to(torch.float64)[None, :, None]).to(torch.float32)
        return torch.where(self.context_windows > 0, mean, f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return one logit per window, ``(B, T, channels, samples) -> (B, T)``."""
        f = self.features(x)
        with torch.autocast(device_type=f.device.type, enabled=False):
            z = (f - self.feature_mean) / self.feature_std
            return self.head(z).squeeze(-1)
