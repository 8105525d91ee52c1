"""Initializers: the ten Keras initializers and the seed papers' schemes.

Everything here fills tensors in place from torch's global generator (seed it with
:func:`seizure.utils.seeding.seed_everything` or ``torch.manual_seed``), except the mean-field
solvers, which are deterministic numpy.

Keras fans
----------
Keras stores kernels as ``(in, out)``; PyTorch as ``(out, in, *kernel)``. For a PyTorch tensor
of shape ``(out, in, *k)`` we use ``fan_in = in * prod(k)`` and ``fan_out = out * prod(k)``,
exactly Keras' fans of the transposed kernel. Recurrent matrices are initialized as the whole
stacked gate matrix (``weight_ih`` of an LSTM is ``(4h, in)``, so ``fan_out = 4h``; ``3h`` for a
GRU), which reproduces Keras. ``orthogonal`` on the stacked ``(4h, h)`` recurrent matrix gives
orthonormal columns (``W.T @ W = I``) but no gate block is orthogonal; ``orthogonal_per_gate``
makes each ``(h, h)`` block orthogonal.

=====================  ===============================================================
name                   distribution (``keras2`` variant, Keras >= 2.2)
=====================  ===============================================================
glorot_uniform         U(+-sqrt(6 / (fan_in + fan_out)))
glorot_normal          truncated normal (redraw beyond 2 sigma), std sqrt(2 / (fi + fo))
lecun_uniform          U(+-sqrt(3 / fan_in))
lecun_normal           truncated normal, std sqrt(1 / fan_in)
variance_scaling       Keras' default VarianceScaling(1, fan_in, normal) = lecun_normal
he_uniform             U(+-sqrt(6 / fan_in))
he_normal              truncated normal, std sqrt(2 / fan_in)
random_uniform         U(-0.05, 0.05)
truncated_normal       N(0, 0.05) cut at +-0.1 (actual std 0.0440)
orthogonal             QR of a Gaussian matrix with the sign of diag(R) fixed
=====================  ===============================================================

The truncated normals draw from N(0, s / 0.87962566) cut at two of those standard deviations,
so that the result has standard deviation ``s``. The ``keras2017`` variant (Keras 2.0.6 to
2.1.x, the paper's era) draws from N(0, s) cut at 2 s: the actual standard deviation is
``0.8796 s``.

Seed-paper schemes
------------------
- ``rai`` (Lu, Shin, Su and Karniadakis 2019): for each output neuron, weights and bias from
  N(0, 0.6007^2 / fan_in), then one uniformly chosen entry of the row ``[w, b]`` replaced by a
  Beta(2, 1) draw (asymmetric, positive) so that no neuron starts dead.
- ``allen_zhu_li`` (Allen-Zhu and Li 2019): input and recurrent matrices N(0, 2 / m) with ``m``
  the hidden units, readout N(0, 1 / d) with ``d`` the outputs.
- ``critical`` (Chen, Pennington and Schoenholz 2018): see :func:`solve_critical_vanilla` and
  :func:`mean_field_minimal`.
- ``chrono`` (Tallec and Ollivier 2018): :func:`chrono_bias`.
- ESN reservoir scaling (Gallicchio and Scardapane 2020): :func:`esn_scale`.

Applying a config
-----------------
:func:`initialize_` walks a built model: the encoder's convolutions, then every submodule
that initializes itself (:class:`SelfInitializing`: the recurrent layers of
:mod:`seizure.models.recurrent`, which keep their cell-specific schemes beside the cell and
call the primitives here), then the head. This module imports no layer or model class, so the
recurrent cells depend on it and not the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from seizure.models.config import KERAS_INITIALIZERS
from seizure.utils.errors import invalid_value

if TYPE_CHECKING:
    from seizure.models.config import InitConfig, ModelConfig

__all__ = [
    "TRUNCATION_CORRECTION",
    "RAI_STD",
    "SelfInitializing",
    "applicable_initializers",
    "allen_zhu_li_",
    "chrono_bias",
    "esn_scale",
    "gauss_expect",
    "initialize_",
    "keras_fans",
    "keras_init_",
    "keras_std",
    "mean_field_minimal",
    "mean_field_vanilla",
    "orthogonal_",
    "orthogonal_per_gate_",
    "rai_",
    "solve_critical_vanilla",
    "weight_init_",
]

#: Standard deviation of a unit normal truncated at +-2 (Keras' correction factor).
TRUNCATION_CORRECTION = 0.87962566103423978
#: RAI's standard deviation factor (``std = RAI_STD / sqrt(fan_in)``).
RAI_STD = 0.6007

_WEIGHT_COMMON = (*KERAS_INITIALIZERS, "pytorch")
_RNN_WEIGHT = (*_WEIGHT_COMMON, "orthogonal_per_gate", "allen_zhu_li")


def applicable_initializers(cell: str, part: str) -> tuple[str, ...]:
    """Return the initializer names that apply to one part of a model with the given cell.

    Parameters
    ----------
    cell : str
        ``lstm``, ``gru``, ``minimal``, ``vanilla``, ``esn`` or ``none``.
    part : {'conv', 'kernel', 'recurrent', 'bias', 'head'}
        Part of the network (the field of :class:`~seizure.models.config.InitConfig`).

    Returns
    -------
    tuple of str
        Allowed names. An empty tuple means the part does not exist for this cell (``esn``
        reservoirs have their own scaling, ``none`` has no recurrence) and the setting is
        ignored.
    """
    if part == "conv":
        return (*_WEIGHT_COMMON, "rai")
    if part == "head":
        return (*_WEIGHT_COMMON, "allen_zhu_li")
    if part in ("kernel", "recurrent"):
        if cell in ("lstm", "gru"):
            return _RNN_WEIGHT
        if cell in ("minimal", "vanilla"):
            return (*_RNN_WEIGHT, "critical")
        return ()
    if part == "bias":
        return {
            "lstm": ("keras", "zeros", "pytorch", "chrono"),
            "gru": ("keras", "zeros", "pytorch", "chrono"),
            "minimal": ("keras", "zeros", "pytorch", "chrono", "critical"),
            "vanilla": ("keras", "zeros", "pytorch", "critical"),
        }.get(cell, ("keras", "zeros", "pytorch"))
    raise invalid_value("part", part, ("conv", "kernel", "recurrent", "bias", "head"))


# --------------------------------------------------------------------------- Keras


def keras_fans(shape: Sequence[int]) -> tuple[int, int]:
    """Keras ``(fan_in, fan_out)`` of a PyTorch weight of shape ``(out, in, *kernel)``.

    A 1-D shape ``(n,)`` gives ``(n, n)`` (Keras' convention for vectors).
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def keras_std(name: str, fan_in: int, fan_out: int) -> float:
    """Return the nominal scale of a variance-scaling initializer.

    The bound of a uniform one, the standard deviation of a normal one (before any truncation
    correction).
    """
    table = {
        "glorot_uniform": math.sqrt(6.0 / (fan_in + fan_out)),
        "glorot_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "lecun_uniform": math.sqrt(3.0 / fan_in),
        "lecun_normal": math.sqrt(1.0 / fan_in),
        "variance_scaling": math.sqrt(1.0 / fan_in),
        "he_uniform": math.sqrt(6.0 / fan_in),
        "he_normal": math.sqrt(2.0 / fan_in),
        "random_uniform": 0.05,
        "truncated_normal": 0.05,
    }
    return table[name]


def _truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    # trunc_normal_ takes absolute cut-offs; it resamples by inverse CDF (equivalent in law to
    # TensorFlow's redraw beyond two standard deviations).
    return nn.init.trunc_normal_(tensor, 0.0, std, -2.0 * std, 2.0 * std)


@torch.no_grad()
def keras_init_(
    tensor: torch.Tensor, name: str, variant: str = "keras2", gain: float = 1.0
) -> torch.Tensor:
    """Fill ``tensor`` in place with a Keras initializer.

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
        PyTorch layout; stacked gate matrices are treated as one matrix (Keras fans).
    name : str
        One of :data:`seizure.models.config.KERAS_INITIALIZERS`.
    variant : {'keras2', 'keras2017'}
        Whether the truncated normals are corrected by 1/0.87962566 (Keras >= 2.2) or not.
    gain : float
        Multiplier of ``orthogonal`` (Keras ``gain``); ignored by the others.

    Returns
    -------
    Tensor
        ``tensor``, for chaining.
    """
    if name == "orthogonal":
        return orthogonal_(tensor, gain)
    if name not in KERAS_INITIALIZERS:
        raise ValueError(
            f"Invalid value for 'initializer': allowed values are "
            f"{', '.join(KERAS_INITIALIZERS)}, got {name!r} instead"
        )
    if variant not in ("keras2", "keras2017"):
        raise invalid_value("keras_variant", variant, ("keras2", "keras2017"))
    fan_in, fan_out = keras_fans(tensor.shape)
    scale = keras_std(name, fan_in, fan_out)
    if name.endswith("_uniform"):
        return tensor.uniform_(-scale, scale)
    if name == "truncated_normal":  # TruncatedNormal(stddev=0.05): never corrected
        return _truncated_normal_(tensor, scale)
    if variant == "keras2":
        scale = scale / TRUNCATION_CORRECTION
    return _truncated_normal_(tensor, scale)


@torch.no_grad()
def orthogonal_(tensor: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Orthogonal initialization of the flattened ``(out, in * prod(kernel))`` matrix.

    QR decomposition of a standard Gaussian matrix with the signs of ``diag(R)`` absorbed
    into ``Q`` (so that ``Q`` is Haar distributed), as in Keras >= 2.2 and
    :func:`torch.nn.init.orthogonal_`. Rows are orthonormal when ``out <= in``, columns
    otherwise; the result is multiplied by ``gain``.
    """
    return nn.init.orthogonal_(tensor, gain=gain)


@torch.no_grad()
def orthogonal_per_gate_(tensor: torch.Tensor, n_gates: int, gain: float = 1.0) -> torch.Tensor:
    """Initialize each gate block of a stacked matrix orthogonally.

    Each ``(h, in)`` block of a ``(n_gates * h, in)`` matrix is initialized separately (each
    square recurrent block is then orthogonal).
    """
    if tensor.shape[0] % n_gates:
        raise ValueError(
            f"Cannot split a matrix of {tensor.shape[0]} rows into {n_gates} gate blocks"
        )
    for block in tensor.chunk(n_gates, dim=0):
        nn.init.orthogonal_(block, gain=gain)
    return tensor


@torch.no_grad()
def rai_(weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Randomized asymmetric initialization (Lu et al. 2019) of a ReLU-like layer.

    Each output neuron's row ``v = [w, b]`` (``fan_in + 1`` entries with a bias, ``fan_in``
    without) is drawn from ``N(0, 0.6007^2 / fan_in)``, then one entry chosen uniformly is
    replaced by a ``Beta(2, 1)`` draw (density ``2x`` on [0, 1], sampled as ``sqrt(U)``).

    Parameters
    ----------
    weight : Tensor, shape (out, in, *kernel)
    bias : Tensor, shape (out,), optional

    Returns
    -------
    LongTensor, shape (out,)
        Column of the Beta(2, 1) entry in each row of ``[w.reshape(out, -1), b]`` (the value
        ``fan_in`` designates the bias).

    Implementation differences
    --------------------------
    Lu et al. derive the factor 0.6007 for fully connected ReLU networks; we also apply it to
    convolutions (rows of the flattened kernel) and ELU activations.
    """
    out = weight.shape[0]
    fan_in = weight[0].numel()
    width = fan_in + (1 if bias is not None else 0)
    rows = torch.randn(out, width, dtype=torch.float64) * (RAI_STD / math.sqrt(fan_in))
    index = torch.randint(0, width, (out,))
    rows[torch.arange(out), index] = torch.rand(out, dtype=torch.float64).sqrt()
    weight.copy_(rows[:, :fan_in].reshape(weight.shape).to(weight.dtype))
    if bias is not None:
        bias.copy_(rows[:, fan_in].to(bias.dtype))
    return index


@torch.no_grad()
def allen_zhu_li_(tensor: torch.Tensor, variance: float) -> torch.Tensor:
    """Fill from a Gaussian ``N(0, variance)``.

    ``2 / m`` for the input and recurrent matrices and ``1 / d`` for the readout in Allen-Zhu
    and Li (2019).
    """
    return tensor.normal_(0.0, math.sqrt(variance))


@torch.no_grad()
def chrono_bias(n: int, t_max: float) -> torch.Tensor:
    """Return the chrono forget-gate bias ``log(U(1, T_max - 1))`` of ``n`` units.

    Tallec and Ollivier (2018); the LSTM input gate gets the negative of it.
    """
    return torch.empty(n).uniform_(1.0, t_max - 1.0).log_()


# --------------------------------------------------------------------------- mean field

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(101)
_GH_WEIGHTS = _GH_WEIGHTS / math.sqrt(2.0 * math.pi)


def gauss_expect(f, var: float | np.ndarray = 1.0, mean: float | np.ndarray = 0.0):
    """``E[f(mean + sqrt(var) z)]`` for ``z ~ N(0, 1)`` by 101-point Gauss-Hermite quadrature.

    ``mean`` and ``var`` may be arrays (broadcast against each other); the expectation is
    taken along a new last axis.
    """
    mean = np.asarray(mean, dtype=np.float64)[..., None]
    std = np.sqrt(np.asarray(var, dtype=np.float64))[..., None]
    return (f(mean + std * _GH_NODES) * _GH_WEIGHTS).sum(-1)


def _dtanh2(x: np.ndarray) -> np.ndarray:
    return (1.0 - np.tanh(x) ** 2) ** 2


def mean_field_vanilla(sigma_w2: float, input_variance: float) -> tuple[float, float]:
    """Return fixed point ``q*`` and ``chi`` of a tanh RNN ``h_t = tanh(W h_{t-1} + u_t)``.

    With ``W_ij ~ (0, sigma_w^2 / N)`` and pre-activation input variance ``v``::

        q* = sigma_w^2 E[tanh(sqrt(q*) z)^2] + v
        chi = sigma_w^2 E[tanh'(sqrt(q*) z)^2]

    ``chi`` is the mean squared gain of a small perturbation per step; the top Lyapunov
    exponent is ``lambda = 1/2 ln chi`` and the timescale of the squared perturbation is
    ``xi = -1 / ln chi``.

    Returns
    -------
    (q_star, chi) : (float, float)
    """
    q = max(input_variance, 1e-3)
    for _ in range(2000):
        q_new = sigma_w2 * gauss_expect(lambda x: np.tanh(x) ** 2, q) + input_variance
        if abs(q_new - q) < 1e-14:
            break
        q = float(q_new)
    q = float(q)
    chi = float(sigma_w2 * gauss_expect(_dtanh2, q)) if q > 0 else float(sigma_w2)
    return q, chi


def solve_critical_vanilla(input_variance: float) -> tuple[float, float]:
    """``sigma_w`` of a tanh RNN at the edge of chaos (``chi = 1``) for a given input variance.

    Solved by Brent's method on :func:`mean_field_vanilla`; with no input ``sigma_w = 1``.

    Returns
    -------
    (sigma_w, q_star) : (float, float)
    """
    from scipy.optimize import brentq

    if input_variance <= 0:
        return 1.0, 0.0

    def gap(sigma_w: float) -> float:
        return mean_field_vanilla(sigma_w**2, input_variance)[1] - 1.0

    hi = 1.5
    while gap(hi) < 0:
        hi *= 1.5
        if hi > 50:
            raise ValueError(
                f"No critical sigma_w for input variance {input_variance}: chi stays below 1"
            )
    sigma_w = float(brentq(gap, 1.0, hi, xtol=1e-12))
    return sigma_w, mean_field_vanilla(sigma_w**2, input_variance)[0]


def mean_field_minimal(
    sigma_w2: float,
    sigma_v2: float,
    gate_bias: np.ndarray | float,
    latent_variance: float,
) -> dict[str, float]:
    """Mean-field ``chi`` of the minimalRNN (Chen, Pennington and Schoenholz 2018).

    The cell is ``z_t = tanh(W_x x_t + b_z)``, ``u_t = sigmoid(W h_{t-1} + V z_t + b)``,
    ``h_t = u_t h_{t-1} + (1 - u_t) z_t``. Its state Jacobian is
    ``diag(u) + diag((h - z) u (1 - u)) W``, so with ``W_ij ~ (0, sigma_w^2 / N)``::

        chi = E[u^2] + sigma_w^2 E[(u (1 - u))^2] (q_h + q_z)

    where ``q_z = E[tanh(sqrt(v_z) z)^2]``, the gate pre-activation is
    ``N(b, sigma_w^2 q_h + sigma_v^2 q_z)`` (``b`` averaged over units) and ``q_h`` solves
    ``q_h = E[u^2] q_h + E[(1 - u)^2] q_z``.

    Parameters
    ----------
    sigma_w2, sigma_v2 : float
        ``N * Var(W_ij)`` and ``N * Var(V_ij)``.
    gate_bias : array or float
        Gate biases ``b`` (one per unit).
    latent_variance : float
        Variance ``v_z`` of the latent pre-activation ``W_x x + b_z``.

    Returns
    -------
    dict
        ``chi``, ``q_h``, ``q_z``, ``mean_u`` (the mean gate value).

    Implementation differences
    --------------------------
    We treat ``u``, ``h`` and ``z`` as independent (the paper's mean-field closure is more
    careful about the ``h``-``u`` correlation); the approximation is tight when the gate
    pre-activation variance is small compared to the spread of the biases, which is the
    critical regime.
    """
    b = np.atleast_1d(np.asarray(gate_bias, dtype=np.float64))
    q_z = float(gauss_expect(lambda x: np.tanh(x) ** 2, latent_variance))

    def sig(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-x))

    q_h = q_z
    for _ in range(500):
        var = sigma_w2 * q_h + sigma_v2 * q_z
        eu2 = float(gauss_expect(lambda x: sig(x) ** 2, var, b).mean())
        e1mu2 = float(gauss_expect(lambda x: (1.0 - sig(x)) ** 2, var, b).mean())
        q_new = e1mu2 * q_z / max(1.0 - eu2, 1e-300)
        if abs(q_new - q_h) < 1e-14 * max(1.0, q_h):
            q_h = q_new
            break
        q_h = q_new
    var = sigma_w2 * q_h + sigma_v2 * q_z
    eu2 = float(gauss_expect(lambda x: sig(x) ** 2, var, b).mean())
    eg2 = float(gauss_expect(lambda x: (sig(x) * (1.0 - sig(x))) ** 2, var, b).mean())
    mean_u = float(gauss_expect(sig, var, b).mean())
    chi = eu2 + sigma_w2 * eg2 * (q_h + q_z)
    return {"chi": chi, "q_h": q_h, "q_z": q_z, "mean_u": mean_u}


# --------------------------------------------------------------------------- ESN


def esn_scale(weight: np.ndarray, leak: float, spectral_radius: float) -> np.ndarray:
    """Rescale a reservoir so that ``(1 - a) I + a W`` has the given spectral radius.

    Finds the positive ``s`` with ``max_i |1 - a + a s lambda_i| = rho`` (the largest root;
    the left side is convex in ``s``) by Brent's method on the eigenvalues ``lambda_i`` of
    ``weight``.

    Parameters
    ----------
    weight : ndarray, shape (n, n)
        Unscaled reservoir.
    leak : float
        Leak rate ``a`` in (0, 1].
    spectral_radius : float
        Target ``rho``; must exceed the smallest radius reachable (``1 - a`` at most).

    Returns
    -------
    ndarray, shape (n, n), float64
        ``s * weight``.
    """
    from scipy.optimize import brentq, minimize_scalar

    w = np.asarray(weight, dtype=np.float64)
    lam = np.linalg.eigvals(w)
    if np.max(np.abs(lam)) == 0:
        raise ValueError("The reservoir matrix is nilpotent; cannot set its spectral radius")

    def radius(s: float) -> float:
        return float(np.max(np.abs(1.0 - leak + leak * s * lam)))

    hi = 1.0
    while radius(hi) < spectral_radius:
        hi *= 2.0
    lo = float(minimize_scalar(radius, bounds=(0.0, hi), method="bounded").x)
    if radius(lo) > spectral_radius:
        raise ValueError(
            f"Spectral radius {spectral_radius} is below the smallest reachable "
            f"{radius(lo):.4f} for leak {leak}"
        )
    s = float(brentq(lambda v: radius(v) - spectral_radius, lo, hi, xtol=1e-14, rtol=1e-14))
    return s * w


# --------------------------------------------------------------------------- model walk


@runtime_checkable
class SelfInitializing(Protocol):
    """A part of a model that initializes its own weights.

    It applies ``init.kernel``, ``init.recurrent`` and ``init.bias`` itself (every
    :class:`~seizure.models.recurrent.RecurrentLayer`).
    """

    def initialize_(self, init: InitConfig) -> None:
        """Initialize the part's weights in place from torch's global generator."""
        ...


@torch.no_grad()
def weight_init_(
    tensor: torch.Tensor,
    name: str,
    variant: str = "keras2",
    n_gates: int = 1,
    allen_zhu_variance: float | None = None,
) -> None:
    """Fill one weight in place with the initializer ``name`` of a model config.

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
        PyTorch layout; a stacked ``(n_gates * h, in)`` gate matrix is one matrix except
        for ``orthogonal_per_gate``.
    name : str
        A Keras initializer (:func:`keras_init_`), ``orthogonal_per_gate``,
        ``allen_zhu_li`` or ``pytorch`` (leaves the tensor as it is).
    variant : {'keras2', 'keras2017'}
        Truncated-normal variant of the Keras initializers.
    n_gates : int
        Gate blocks stacked along the first axis (``orthogonal_per_gate``).
    allen_zhu_variance : float, optional
        Variance of ``allen_zhu_li`` (required for it, ignored otherwise).
    """
    if name == "pytorch":
        return
    if name == "orthogonal_per_gate":
        orthogonal_per_gate_(tensor, n_gates)
    elif name == "allen_zhu_li":
        if allen_zhu_variance is None:
            raise ValueError("The 'allen_zhu_li' initializer needs 'allen_zhu_variance'")
        allen_zhu_li_(tensor, allen_zhu_variance)
    else:
        keras_init_(tensor, name, variant)


@torch.no_grad()
def initialize_(model: nn.Module, config: ModelConfig) -> None:
    """Apply ``config.init`` to a model built by :func:`seizure.models.build_model`.

    Walks the encoder's convolutions (``init.conv``), then every :class:`SelfInitializing`
    submodule of ``model.rnn`` in module order (the recurrent layers: ``init.kernel``,
    ``init.recurrent``, ``init.bias``; ESN reservoirs are left to their own scaling), then
    the head (``init.head``). Biases of convolutions and the head are zero unless
    ``init.bias`` is ``pytorch`` (or ``init.conv`` is ``rai``, which draws the convolution
    bias). The order of the walk fixes the random draws: same seed, same weights.

    Parameters
    ----------
    model : nn.Module
        With optional ``encoder``, ``rnn`` and ``head`` attributes (a
        :class:`~seizure.models.registry.SeizureDetector`).
    config : ModelConfig
        Its ``init`` section is applied.

    Raises
    ------
    ValueError
        ``init.critical_xi`` is still ``auto``: it is resolved from the training sequence
        length when the whole config is read (:meth:`ModelConfig.resolve_timescale`).
    """
    init = config.init
    if init.critical_xi == "auto":
        raise ValueError("model.init.critical_xi is 'auto' but was never resolved from "
                         "train.sequence_windows: call ModelConfig.resolve_timescale")  # fmt: skip
    variant = init.keras_variant
    encoder = getattr(model, "encoder", None)
    if encoder is not None:
        for module in encoder.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d)):
                if init.conv == "rai":
                    rai_(module.weight, module.bias)
                    continue
                weight_init_(module.weight, init.conv, variant)
                if module.bias is not None and init.bias != "pytorch":
                    module.bias.zero_()
    rnn = getattr(model, "rnn", None)
    if isinstance(rnn, nn.Module):
        for module in rnn.modules():
            if isinstance(module, SelfInitializing):
                module.initialize_(init)
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        weight_init_(head.weight, init.head, variant, allen_zhu_variance=1.0 / head.out_features)
        if head.bias is not None and init.bias != "pytorch":
            head.bias.zero_()
