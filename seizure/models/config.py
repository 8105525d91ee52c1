"""Configuration of the models (section ``model``). Imports nothing heavy.

The section is one :class:`ModelConfig` with three nested parts: :class:`InitConfig`
(initialization per part of the network), :class:`RegularizationConfig` (penalties, dropout,
noise, weight decay) and :class:`ESNConfig` (reservoir scaling, used by ``cell: esn``).
Every field can be overridden from the command line, e.g. ``--set model.cell=gru``,
``--set model.init.recurrent=orthogonal_per_gate``, ``--set model.regularization.l2=1e-4``.

Parts of a network
------------------
The same five part names are used for initialization, penalties and freezing:

``conv``
    Convolution kernels of the encoder.
``kernel``
    Input-to-hidden weights of the recurrent layers (Keras ``kernel``; PyTorch ``weight_ih``;
    also the minimalRNN's latent-to-gate matrix ``V``).
``recurrent``
    Hidden-to-hidden weights (Keras ``recurrent_kernel``; PyTorch ``weight_hh``).
``bias``
    Every bias (convolutions, recurrent layers, head).
``dense``
    The output layer (the "head"; its initializer is ``init.head``).

Normalisation layers (``norm``) are never penalised or decayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, get_args

#: Initializers with Keras semantics (fans of the stacked gate matrices).
KerasInit = Literal[
    "orthogonal",
    "lecun_uniform",
    "glorot_uniform",
    "glorot_normal",
    "variance_scaling",
    "lecun_normal",
    "he_normal",
    "random_uniform",
    "truncated_normal",
    "he_uniform",
]
KERAS_INITIALIZERS: tuple[str, ...] = get_args(KerasInit)

Part = Literal["conv", "kernel", "recurrent", "bias", "dense"]
FreezePart = Literal["conv", "norm", "kernel", "recurrent", "bias", "dense"]

# a nested Literal is flattened: the Keras names plus the project's own
WeightInit = Literal[KerasInit, "orthogonal_per_gate", "pytorch", "rai", "allen_zhu_li", "critical"]
BiasInit = Literal["keras", "zeros", "pytorch", "chrono", "critical"]

#: Recurrent cells (``none``: no recurrence); :mod:`seizure.models.recurrent` builds each.
Cell = Literal["lstm", "gru", "minimal", "vanilla", "esn", "none"]
CELLS: tuple[str, ...] = get_args(Cell)


@dataclass(frozen=True)
class InitConfig:
    """Initialization of each part of the network.

    Which names apply where is given by :func:`seizure.models.init.applicable_initializers`;
    an initializer that does not apply to the chosen cell is refused when the model is built.

    Parameters
    ----------
    conv : str
        Convolution kernels: a Keras initializer, ``pytorch`` (PyTorch's default, kept as
        built) or ``rai`` (randomized asymmetric initialization of Lu et al. 2019, which also
        sets the convolution's bias when it has one).
    kernel : str
        Input-to-hidden weights: a Keras initializer, ``orthogonal_per_gate``, ``pytorch``,
        ``allen_zhu_li`` (N(0, 2/m), m = hidden units) or ``critical`` (vanilla/minimal:
        N(0, input_variance / fan_in)).
    recurrent : str
        Hidden-to-hidden weights: a Keras initializer (``orthogonal`` on the stacked
        ``(4h, h)`` matrix), ``orthogonal_per_gate``, ``pytorch``, ``allen_zhu_li`` or
        ``critical`` (vanilla/minimal: ``sigma_w`` times an orthogonal or Gaussian matrix).
    bias : {'keras', 'zeros', 'pytorch', 'chrono', 'critical'}
        ``keras``: zeros with a unit forget-gate bias for LSTM (zeros for other cells);
        ``chrono``: Tallec and Ollivier's chrono initialization (LSTM forget and input gates,
        GRU update gate, minimalRNN gate); ``critical``: minimalRNN gate bias
        ``ln(2 xi - 1)``, zeros elsewhere. Recurrent biases live in ``bias_ih``;
        ``bias_hh`` is zero (except ``pytorch``, which keeps PyTorch's two biases).
    head : str
        Output layer: a Keras initializer, ``pytorch`` or ``allen_zhu_li`` (N(0, 1/d), d the
        number of outputs).
    keras_variant : {'keras2', 'keras2017'}
        ``keras2``: Keras >= 2.2 truncated normals, whose standard deviation is corrected by
        1/0.87962566 so that the truncated draw has the nominal std. ``keras2017``: Keras
        2.0.6-2.1.x (the paper's era), no correction (actual std 0.8796 of nominal).
    chrono_t_max : float
        Largest expected dependency range in steps for ``bias: chrono``.
    critical_xi : float or 'auto'
        Target timescale in steps (windows) of the minimalRNN gate bias (``bias: critical``):
        the gate bias is ``ln(2 xi - 1)``. ``auto``: the training sequence length,
        ``train.sequence_windows`` (resolved when the whole config is read, see
        :meth:`ModelConfig.resolve_timescale`), so that the state's timescale follows the task.
    critical_xi_auto : float or None
        Bookkeeping, not a setting (never saved, never read from a config): the value
        ``critical_xi: auto`` was resolved to, None when ``critical_xi`` was given as a number.
    critical_input_variance : float
        Variance of the input contribution to the pre-activations (the inputs are assumed to
        have unit second moment) used by ``kernel: critical`` and the mean-field solve. It
        must be small for dynamical isometry: the fixed point ``q*`` (and with it the spread
        of ``tanh'``) grows with it (``q* = 0.05`` at 1e-4, 0.27 at 1e-2).
    critical_sigma_w : float or None
        Recurrent gain of ``recurrent: critical``; None solves ``chi = 1`` numerically
        (vanilla) or uses 1 (minimal).
    critical_weights : {'orthogonal', 'gaussian'}
        Random matrix scaled by ``sigma_w`` for ``recurrent: critical``.
    """

    conv: WeightInit = "glorot_uniform"
    kernel: WeightInit = "glorot_uniform"
    recurrent: WeightInit = "orthogonal"
    bias: BiasInit = "keras"
    head: WeightInit = "glorot_uniform"
    keras_variant: Literal["keras2", "keras2017"] = "keras2"
    chrono_t_max: float = 1000.0
    critical_xi: float | Literal["auto"] = 100.0
    # the sequence length `critical_xi: auto` was resolved to, so that a config rebuilt with
    # another train section resolves it again; internal: see seizure.config.INTERNAL
    critical_xi_auto: float | None = field(
        default=None, compare=False, repr=False, metadata={"internal": True}
    )
    critical_input_variance: float = 1e-4
    critical_sigma_w: float | None = None
    critical_weights: Literal["orthogonal", "gaussian"] = "orthogonal"

    def __post_init__(self) -> None:
        if self.chrono_t_max <= 2.0:
            raise ValueError(f"model.init.chrono_t_max must be > 2, got {self.chrono_t_max}")
        if self.critical_xi != "auto" and self.critical_xi <= 1.0:
            raise ValueError(f"model.init.critical_xi must be > 1, got {self.critical_xi}")
        if self.critical_input_variance < 0:
            raise ValueError(
                "model.init.critical_input_variance must be >= 0, got "
                f"{self.critical_input_variance}"
            )
        if self.critical_sigma_w is not None and self.critical_sigma_w <= 0:
            raise ValueError(
                f"model.init.critical_sigma_w must be > 0 or null, got {self.critical_sigma_w}"
            )


@dataclass(frozen=True)
class RegularizationConfig:
    """Penalties, dropout, noise and weight decay.

    Parameters
    ----------
    l1, l2 : float
        Keras ``l1(c)`` / ``l2(c)`` / ``l1_l2``: ``c * sum(|w|)`` and ``c * sum(w**2)`` (no
        one-half), summed over the parameters of every part in ``targets`` and added to the
        batch-mean loss by the trainer (:func:`seizure.models.regularization_loss`).
    targets : tuple of part names
        Parts penalised by ``l1``/``l2``: ``conv``, ``kernel``, ``recurrent``, ``bias``,
        ``dense``. Frozen parameters (an ESN reservoir) are never penalised.
    input_dropout : float
        Dropout on the normalised input samples (each sample of each window independently).
    dropout : float
        Dropout on the encoder's features, between recurrent layers and before the head.
    variational : bool
        Use one dropout mask per sequence for all time steps (locked dropout, Gal and
        Ghahramani 2016) for ``dropout``; keeps cuDNN.
    recurrent_dropout : float
        DropConnect on the hidden-to-hidden weights (Wan et al. 2013; AWD-LSTM): one mask on
        the recurrent matrix per forward pass in training. Unlike Keras' recurrent dropout
        (a mask on ``h``, which needs a Python cell loop), this keeps cuDNN.
    gaussian_noise : float
        Standard deviation of additive Gaussian noise on the normalised input, in training
        only (Keras ``GaussianNoise``).
    weight_decay : float
        Decay for the optimizer, applied by :func:`seizure.models.parameter_groups` to
        trainable weights (not to biases or normalisation parameters). Passed by the trainer
        in addition to ``train.weight_decay`` (the larger of the two is used).
    """

    l1: float = 0.0
    l2: float = 0.0
    targets: tuple[Part, ...] = ("conv", "kernel", "recurrent", "dense")
    input_dropout: float = 0.0
    dropout: float = 0.2
    variational: bool = True
    recurrent_dropout: float = 0.0
    gaussian_noise: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("input_dropout", "dropout", "recurrent_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"model.regularization.{name} must be in [0, 1), got {value}")
        for name in ("l1", "l2", "gaussian_noise", "weight_decay"):
            value = getattr(self, name)
            if value < 0.0:
                raise ValueError(f"model.regularization.{name} must be >= 0, got {value}")


@dataclass(frozen=True)
class ESNConfig:
    """Echo state network reservoir (``cell: esn``), after Gallicchio and Scardapane 2020.

    The state update is ``h_t = (1 - a) h_{t-1} + a tanh(W_in x_t + W h_{t-1} + b)``.

    Parameters
    ----------
    spectral_radius : float
        Spectral radius of the effective linearised matrix ``(1 - a) I + a W``.
    leak : float
        Leak rate ``a`` in (0, 1].
    input_scaling : float
        ``W_in`` entries are uniform in ``[-input_scaling, input_scaling] / sqrt(fan_in)``.
    bias_scaling : float
        ``b`` entries are uniform in ``[-bias_scaling, bias_scaling]``.
    sparsity : float
        Fraction of zero entries in ``W`` (0 = dense).
    """

    spectral_radius: float = 0.9
    leak: float = 0.5
    input_scaling: float = 1.0
    bias_scaling: float = 0.1
    sparsity: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 < self.leak <= 1.0:
            raise ValueError(f"model.esn.leak must be in (0, 1], got {self.leak}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"model.esn.sparsity must be in [0, 1), got {self.sparsity}")
        if self.spectral_radius <= 0:
            raise ValueError(f"model.esn.spectral_radius must be > 0, got {self.spectral_radius}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture, initialization and regularization of a detector.

    Parameters
    ----------
    name : str
        Registry name of the architecture: ``cnn_rnn`` (Conv1d encoder, the default) or
        ``cnn2d_rnn`` (2D then 1D convolutions, closer to the paper). See
        :func:`seizure.models.registry.available_models`.
    cell : {'lstm', 'gru', 'minimal', 'vanilla', 'esn', 'none'}
        Recurrent part; ``none`` classifies each window from the encoder alone.
    hidden_size : int
        Units per recurrent layer (per direction).
    num_layers : int
        Stacked recurrent layers.
    bidirectional : bool
        Bidirectional (offline) or causal (online) recurrence.
    n_classes : int
        1: one seizure logit per window, output ``(B, T)``; > 1: ``(B, T, n_classes)``.
    input_norm : {'batch', 'scale', 'window'}
        How the model normalises its input (after dividing raw samples by
        ``input_scale_uv``): ``batch``: a BatchNorm without affine parameters over channels
        (raw) or channel x feature (LFCC), whose running statistics are kept in the
        checkpoint; ``scale``: the fixed scale only; ``window``: each channel of each window
        standardised over time (discards absolute amplitude).
    input_scale_uv : float
        Fixed divisor of raw microvolt input (ignored for LFCC features).
    conv_channels : tuple of int
        Output channels of the 1D convolution blocks.
    conv_kernels : tuple of int
        Kernel size of each 1D block (same length as ``conv_channels``).
    conv_pool : int
        Max-pooling factor after each block (skipped once the time axis is too short).
    conv2d_channels : tuple of int
        ``cnn2d_rnn`` only: output channels of the 2D blocks before the 1D blocks.
    encoder_norm : {'batch', 'none'}
        BatchNorm after each convolution (convolutions then have no bias) or none.
    freeze : tuple of part names
        Parts whose parameters are not trained (``requires_grad=False``), e.g.
        ``[conv, norm, kernel, dense, bias]`` for Allen-Zhu and Li's "train W only", or
        ``[conv]`` for a random-feature ESN. An ESN reservoir is always frozen.
    init, regularization, esn
        See :class:`InitConfig`, :class:`RegularizationConfig`, :class:`ESNConfig`.
    """

    name: str = "cnn_rnn"
    cell: Cell = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    n_classes: int = 1
    input_norm: Literal["batch", "scale", "window"] = "batch"
    input_scale_uv: float = 100.0
    conv_channels: tuple[int, ...] = (32, 64, 64, 128, 128)
    conv_kernels: tuple[int, ...] = (7, 5, 5, 3, 3)
    conv_pool: int = 2
    conv2d_channels: tuple[int, ...] = (8, 16)
    encoder_norm: Literal["batch", "none"] = "batch"
    freeze: tuple[FreezePart, ...] = ()
    init: InitConfig = field(default_factory=InitConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    esn: ESNConfig = field(default_factory=ESNConfig)

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "n_classes", "conv_pool"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"model.{name} must be >= 1, got {value}")
        if not self.conv_channels:
            raise ValueError("model.conv_channels must hold at least one block")
        if len(self.conv_kernels) != len(self.conv_channels):
            raise ValueError(
                f"model.conv_kernels must have one entry per conv block "
                f"({len(self.conv_channels)}), got {len(self.conv_kernels)}"
            )
        if any(c < 1 for c in self.conv_channels + self.conv2d_channels) or any(
            k < 1 for k in self.conv_kernels
        ):
            raise ValueError("model.conv_channels, conv2d_channels and conv_kernels must be >= 1")
        if self.input_scale_uv <= 0:
            raise ValueError(f"model.input_scale_uv must be > 0, got {self.input_scale_uv}")

    def resolve_timescale(self, sequence_windows: int) -> ModelConfig:
        """Return this config with ``init.critical_xi: auto`` set to the sequence length.

        Parameters
        ----------
        sequence_windows : int
            Windows per training sequence (``train.sequence_windows``): the minimalRNN gate
            bias becomes ``ln(2 * sequence_windows - 1)``.

        Returns
        -------
        ModelConfig
            ``self`` when ``critical_xi`` is a number, else a copy with
            ``critical_xi = float(sequence_windows)`` (which records that it came from
            ``auto``: see :meth:`unresolve_timescale`).

        Raises
        ------
        ValueError
            ``critical_xi`` is ``auto`` and ``sequence_windows < 2`` (the timescale must be
            above one step).
        """
        if self.init.critical_xi != "auto":
            return self
        if sequence_windows < 2:
            raise ValueError(
                "model.init.critical_xi: auto takes the timescale from train.sequence_windows, "
                f"which must then be >= 2, got {sequence_windows}"
            )
        xi = float(sequence_windows)
        return replace(self, init=replace(self.init, critical_xi=xi, critical_xi_auto=xi))

    def unresolve_timescale(self) -> ModelConfig:
        """Return this config with a ``critical_xi`` resolved from ``auto`` set back to ``auto``.

        Returns
        -------
        ModelConfig
            A copy with ``init.critical_xi = 'auto'`` when :meth:`resolve_timescale` set
            ``critical_xi`` and it was not replaced by another number since, else ``self``.
        """
        resolved = self.init.critical_xi_auto
        if resolved is None or self.init.critical_xi != resolved:
            return self
        return replace(self, init=replace(self.init, critical_xi="auto", critical_xi_auto=None))
