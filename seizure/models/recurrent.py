"""Recurrent parts: cuDNN LSTM/GRU layers and the custom minimalRNN, vanilla and ESN cells.

Every layer maps ``(B, T, in)`` to ``(B, T, D * h)`` (``D = 2`` when bidirectional) and also
exposes its one-step dynamics (:meth:`RecurrentLayer.step`) on a flat state, which
:mod:`seizure.models.timescale` uses for Lyapunov exponents and Jacobians.

Speed
-----
``lstm`` and ``gru`` are :class:`torch.nn.LSTM` / :class:`torch.nn.GRU` (cuDNN on a GPU), one
module per layer so that variational dropout can sit between layers. The custom cells
(``minimal``, ``vanilla``, ``esn``) compute their input projections for all time steps in one
matrix product and then loop over time in eager PyTorch (no TorchScript): one small matmul
and a few element-wise kernels per step, acceptable for the ~30-step sequences used here.

Recurrent dropout
-----------------
``regularization.recurrent_dropout`` is DropConnect on the hidden-to-hidden matrix: one
Bernoulli mask on ``W_hh`` (scaled by ``1 / (1 - p)``) per forward pass in training, as in
AWD-LSTM. For ``nn.LSTM``/``nn.GRU`` the masked matrix is passed with
:func:`torch.func.functional_call`, so cuDNN is still used (cuDNN then works on a weight copy
that is not one contiguous block; the warning about it is silenced).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from seizure.models.init import (
    chrono_bias,
    esn_scale,
    solve_critical_vanilla,
    weight_init_,
)
from seizure.models.regularization import LockedDropout
from seizure.utils.errors import invalid_value

if TYPE_CHECKING:
    from seizure.models.config import ESNConfig, InitConfig, ModelConfig

__all__ = [
    "ESNLayer",
    "MinimalLayer",
    "RecurrentLayer",
    "RecurrentStack",
    "TorchRNNLayer",
    "VanillaLayer",
    "build_recurrent",
    "recurrent_cells",
]


def _drop_connect(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0.0:
        return weight
    return F.dropout(weight, p, training=True)


class RecurrentLayer(nn.Module):
    """One recurrent layer, one or two directions.

    Attributes
    ----------
    cell : str
        Cell name.
    hidden_size : int
        Units per direction.
    num_directions : int
        1 (causal) or 2 (bidirectional).
    n_gates : int
        Gate blocks stacked in the input and recurrent matrices.
    state_size : int
        Size of the flat state of one direction (``2h`` for LSTM: ``[h, c]``).
    """

    cell: str = ""
    n_gates: int = 1

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_directions = 2 if bidirectional else 1
        self.state_size = hidden_size

    @property
    def output_size(self) -> int:
        """Features per time step of the output, ``num_directions * hidden_size``."""
        return self.num_directions * self.hidden_size

    def step(self, x: torch.Tensor, state: torch.Tensor, direction: int = 0) -> torch.Tensor:
        """One time step of one direction: ``(B, in), (B, state_size) -> (B, state_size)``."""
        raise NotImplementedError

    def hidden(self, state: torch.Tensor) -> torch.Tensor:
        """Return the output ``h`` of a flat state ``(B, state_size) -> (B, hidden_size)``."""
        return state[..., : self.hidden_size]

    def recurrent_weights(self, direction: int = 0) -> dict[str, torch.Tensor]:
        """Named weights of one direction (for the mean-field and gate analyses)."""
        raise NotImplementedError

    def initialize_(self, init: InitConfig) -> None:
        """Apply ``init.kernel``, ``init.recurrent`` and ``init.bias``."""
        raise NotImplementedError


# --------------------------------------------------------------------------- cuDNN


class TorchRNNLayer(RecurrentLayer):
    """One :class:`torch.nn.LSTM` or :class:`torch.nn.GRU` layer (batch first).

    Gate order is PyTorch's: LSTM ``[i | f | g | o]``, GRU ``[r | z | n]``. Keras-style
    biases are placed in ``bias_ih`` with ``bias_hh`` zero (filling both would double them).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        bidirectional: bool,
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__(input_size, hidden_size, bidirectional)
        self.cell = cell
        cls = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.n_gates = 4 if cell == "lstm" else 3
        self.state_size = 2 * hidden_size if cell == "lstm" else hidden_size
        self.rnn = cls(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.recurrent_dropout = recurrent_dropout

    def _suffixes(self) -> list[str]:
        return ["", "_reverse"][: self.num_directions]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, in) -> (B, T, D * h)``."""
        if self.training and self.recurrent_dropout > 0:
            p = self.recurrent_dropout
            weights = {
                f"weight_hh_l0{s}": _drop_connect(getattr(self.rnn, f"weight_hh_l0{s}"), p, True)
                for s in self._suffixes()
            }
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
                out, _ = torch.func.functional_call(self.rnn, weights, (x,))
            return out
        out, _ = self.rnn(x)
        return out

    def recurrent_weights(self, direction: int = 0) -> dict[str, torch.Tensor]:
        """Return the weights of ``direction`` (see :meth:`RecurrentLayer.recurrent_weights`)."""
        s = self._suffixes()[direction]
        return {
            "weight_ih": getattr(self.rnn, f"weight_ih_l0{s}"),
            "weight_hh": getattr(self.rnn, f"weight_hh_l0{s}"),
            "bias_ih": getattr(self.rnn, f"bias_ih_l0{s}"),
            "bias_hh": getattr(self.rnn, f"bias_hh_l0{s}"),
        }

    def step(self, x: torch.Tensor, state: torch.Tensor, direction: int = 0) -> torch.Tensor:
        """Advance one time step (see :meth:`RecurrentLayer.step`)."""
        w = self.recurrent_weights(direction)
        h = state[..., : self.hidden_size]
        gi = F.linear(x, w["weight_ih"], w["bias_ih"])
        gh = F.linear(h, w["weight_hh"], w["bias_hh"])
        if self.cell == "lstm":
            c = state[..., self.hidden_size :]
            i, f, g, o = (gi + gh).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            return torch.cat([h, c], dim=-1)
        ir, iz, in_ = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        return (1.0 - z) * n + z * h

    @torch.no_grad()
    def initialize_(self, init: InitConfig) -> None:
        """Apply ``init`` to the weights of every direction, gate block by gate block."""
        h = self.hidden_size
        for s in self._suffixes():
            w_ih = getattr(self.rnn, f"weight_ih_l0{s}")
            w_hh = getattr(self.rnn, f"weight_hh_l0{s}")
            b_ih = getattr(self.rnn, f"bias_ih_l0{s}")
            b_hh = getattr(self.rnn, f"bias_hh_l0{s}")
            weight_init_(w_ih, init.kernel, init.keras_variant, self.n_gates, 2.0 / h)
            weight_init_(w_hh, init.recurrent, init.keras_variant, self.n_gates, 2.0 / h)
            if init.bias == "pytorch":
                continue
            b_ih.zero_()
            b_hh.zero_()
            if init.bias == "keras" and self.cell == "lstm":
                b_ih[h : 2 * h] = 1.0
            elif init.bias == "chrono":
                b = chrono_bias(h, init.chrono_t_max).to(b_ih)
                b_ih[h : 2 * h] = b  # LSTM forget gate, GRU update gate z
                if self.cell == "lstm":
                    b_ih[:h] = -b  # input gate


# --------------------------------------------------------------------------- custom cells


def _pytorch_default_(module: nn.Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


class _Cell(nn.Module):
    """Parameters of one direction of a custom cell."""


class _LoopLayer(RecurrentLayer):
    """A custom cell run by a Python loop over time, one :class:`_Cell` per direction."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bidirectional: bool,
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__(input_size, hidden_size, bidirectional)
        self.recurrent_dropout = recurrent_dropout
        self.cells = nn.ModuleList(
            [self._make_cell(input_size, hidden_size) for _ in range(self.num_directions)]
        )
        for cell in self.cells:
            _pytorch_default_(cell, hidden_size)

    def _make_cell(self, input_size: int, hidden_size: int) -> _Cell:
        raise NotImplementedError

    def _run(self, cell: _Cell, x: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, in) -> (B, T, D * h)``; the backward direction runs on ``x`` reversed."""
        outs = []
        for d, cell in enumerate(self.cells):
            w_hh = _drop_connect(cell.weight_hh, self.recurrent_dropout, self.training)
            xd = x if d == 0 else x.flip(1)
            y = self._run(cell, xd, w_hh)
            outs.append(y if d == 0 else y.flip(1))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)

    def recurrent_weights(self, direction: int = 0) -> dict[str, torch.Tensor]:
        return dict(self.cells[direction].named_parameters())


class VanillaLayer(_LoopLayer):
    """Tanh RNN ``h_t = tanh(W_ih x_t + b + W_hh h_{t-1})``.

    Parameters per direction: ``weight_ih (h, in)``, ``weight_hh (h, h)``, ``bias_ih (h,)``.
    ``init.recurrent = critical`` sets ``W_hh = sigma_w Q`` with ``sigma_w`` solving the
    mean-field ``chi = 1`` for the input variance ``init.critical_input_variance``
    (:func:`~seizure.models.init.solve_critical_vanilla`), ``Q`` orthogonal or Gaussian
    ``N(0, 1/h)`` (``init.critical_weights``).
    """

    cell = "vanilla"

    def _make_cell(self, input_size: int, hidden_size: int) -> _Cell:
        cell = _Cell()
        cell.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        cell.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        cell.bias_ih = nn.Parameter(torch.empty(hidden_size))
        return cell

    def _run(self, cell: _Cell, x: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        pre = F.linear(x, cell.weight_ih, cell.bias_ih)  # (B, T, h), all steps at once
        h = pre.new_zeros(pre.shape[0], self.hidden_size)
        out = []
        for t in range(pre.shape[1]):
            h = torch.tanh(pre[:, t] + F.linear(h, w_hh))
            out.append(h)
        return torch.stack(out, dim=1)

    def step(self, x: torch.Tensor, state: torch.Tensor, direction: int = 0) -> torch.Tensor:
        """Advance one time step (see :meth:`RecurrentLayer.step`)."""
        c = self.cells[direction]
        return torch.tanh(F.linear(x, c.weight_ih, c.bias_ih) + F.linear(state, c.weight_hh))

    @torch.no_grad()
    def initialize_(self, init: InitConfig) -> None:
        """Apply ``init`` to the layer's weights (``critical`` included)."""
        h = self.hidden_size
        for cell in self.cells:
            if init.kernel == "critical":
                cell.weight_ih.normal_(
                    0.0, math.sqrt(init.critical_input_variance / cell.weight_ih.shape[1])
                )
            else:
                weight_init_(cell.weight_ih, init.kernel, init.keras_variant, 1, 2.0 / h)
            if init.recurrent == "critical":
                sigma_w = init.critical_sigma_w
                if sigma_w is None:
                    sigma_w = solve_critical_vanilla(init.critical_input_variance)[0]
                _critical_matrix_(cell.weight_hh, sigma_w, init.critical_weights)
            else:
                weight_init_(cell.weight_hh, init.recurrent, init.keras_variant, 1, 2.0 / h)
            if init.bias != "pytorch":
                cell.bias_ih.zero_()


def _critical_matrix_(weight: torch.Tensor, sigma_w: float, kind: str) -> None:
    if kind == "orthogonal":
        nn.init.orthogonal_(weight, gain=sigma_w)
    else:
        weight.normal_(0.0, sigma_w / math.sqrt(weight.shape[1]))


class MinimalLayer(_LoopLayer):
    """minimalRNN (Chen, Pennington and Schoenholz 2018).

    ``z_t = tanh(W_x x_t + b_z)``, ``u_t = sigmoid(W h_{t-1} + V z_t + b)``,
    ``h_t = u_t * h_{t-1} + (1 - u_t) * z_t``.

    Parameters per direction: ``weight_ih`` = ``W_x (h, in)``, ``bias_ih`` = ``b_z``,
    ``weight_zh`` = ``V (h, h)``, ``weight_hh`` = ``W (h, h)``, ``bias_hh`` = ``b`` (the gate
    bias). ``W_x`` and ``V`` count as ``kernel`` weights. Critical initialization
    (``kernel/recurrent/bias: critical``): ``W_x ~ N(0, 1 / fan_in)`` (unit gain, so signal
    survives a stack of layers), ``V ~ N(0, v / fan_in)`` with
    ``v = init.critical_input_variance`` (the gate stays near its bias), ``W = sigma_w Q``
    (``sigma_w = 1`` unless ``init.critical_sigma_w``), ``b = ln(2 xi - 1)`` with
    ``xi = init.critical_xi`` so that the gate sits at ``u = 1 - 1 / (2 xi)`` and
    ``-1 / ln E[u^2] ~ xi``.

    Implementation differences
    --------------------------
    Chen et al. map the input to the latent space with a fixed or learned ``Phi(x)``; we use
    one dense layer with tanh. ``sigma_b = 0`` (all units share the gate bias).
    """

    cell = "minimal"

    def _make_cell(self, input_size: int, hidden_size: int) -> _Cell:
        cell = _Cell()
        cell.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        cell.bias_ih = nn.Parameter(torch.empty(hidden_size))
        cell.weight_zh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        cell.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        cell.bias_hh = nn.Parameter(torch.empty(hidden_size))
        return cell

    def _run(self, cell: _Cell, x: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        z = torch.tanh(F.linear(x, cell.weight_ih, cell.bias_ih))  # (B, T, h)
        gate_in = F.linear(z, cell.weight_zh, cell.bias_hh)
        h = z.new_zeros(z.shape[0], self.hidden_size)
        out = []
        for t in range(z.shape[1]):
            u = torch.sigmoid(F.linear(h, w_hh) + gate_in[:, t])
            h = u * h + (1.0 - u) * z[:, t]
            out.append(h)
        return torch.stack(out, dim=1)

    def step(self, x: torch.Tensor, state: torch.Tensor, direction: int = 0) -> torch.Tensor:
        """Advance one time step (see :meth:`RecurrentLayer.step`)."""
        c = self.cells[direction]
        z = torch.tanh(F.linear(x, c.weight_ih, c.bias_ih))
        u = torch.sigmoid(F.linear(state, c.weight_hh) + F.linear(z, c.weight_zh, c.bias_hh))
        return u * state + (1.0 - u) * z

    @torch.no_grad()
    def initialize_(self, init: InitConfig) -> None:
        """Apply ``init`` to the layer's weights."""
        h = self.hidden_size
        for cell in self.cells:
            for w in (cell.weight_ih, cell.weight_zh):
                if init.kernel == "critical":
                    # Only the gate's input V is kept small (the gate stays at the timescale
                    # its bias sets). W_x keeps unit gain (N(0, 1 / fan_in)): with the small
                    # variance too, the latent z and so h shrank ~100x per layer, and a
                    # 2-layer stack passed ~1e-7 of its input at initialization.
                    variance = (
                        init.critical_input_variance if w is cell.weight_zh else 1.0
                    ) / w.shape[1]
                    w.normal_(0.0, math.sqrt(variance))
                else:
                    weight_init_(w, init.kernel, init.keras_variant, 1, 2.0 / h)
            if init.recurrent == "critical":
                sigma_w = 1.0 if init.critical_sigma_w is None else init.critical_sigma_w
                _critical_matrix_(cell.weight_hh, sigma_w, init.critical_weights)
            else:
                weight_init_(cell.weight_hh, init.recurrent, init.keras_variant, 1, 2.0 / h)
            if init.bias == "pytorch":
                continue
            cell.bias_ih.zero_()
            cell.bias_hh.zero_()
            if init.bias == "chrono":
                cell.bias_hh.copy_(chrono_bias(h, init.chrono_t_max))
            elif init.bias == "critical":
                cell.bias_hh.fill_(math.log(2.0 * init.critical_xi - 1.0))


class ESNLayer(_LoopLayer):
    """Leaky echo-state reservoir ``h_t = (1 - a) h_{t-1} + a tanh(W_in x_t + b + W h_{t-1})``.

    All parameters are fixed (``requires_grad=False``); only the readout is trained. ``W``
    has a fraction ``sparsity`` of zeros (plus one forced non-zero entry per row, on a random
    cycle through all units), the other entries uniform in [-1, 1] before
    rescaling so that ``(1 - a) I + a W`` has spectral radius ``rho``
    (:func:`~seizure.models.init.esn_scale`); ``W_in`` is uniform in
    ``[-s, s] / sqrt(fan_in)`` with ``s = input_scaling``; ``b`` uniform in
    ``[-bias_scaling, bias_scaling]``.

    Implementation differences
    --------------------------
    Gallicchio and Scardapane scale ``W_in`` by ``input_scaling`` alone; we also divide by
    ``sqrt(fan_in)`` so that the scaling does not depend on the encoder's width. The readout
    is trained by gradient descent with the rest of the pipeline (logistic regression on the
    states) rather than by ridge regression.
    """

    cell = "esn"

    def __init__(
        self, input_size: int, hidden_size: int, bidirectional: bool, esn: ESNConfig
    ) -> None:
        self.leak = esn.leak
        super().__init__(input_size, hidden_size, bidirectional)
        if not self.cells[0].weight_hh.is_meta:  # on meta (loading a checkpoint): no draw
            self.reset_reservoir(esn)

    def _make_cell(self, input_size: int, hidden_size: int) -> _Cell:
        cell = _Cell()
        cell.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size), requires_grad=False)
        cell.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size), requires_grad=False)
        cell.bias_ih = nn.Parameter(torch.empty(hidden_size), requires_grad=False)
        return cell

    @torch.no_grad()
    def reset_reservoir(self, esn: ESNConfig) -> None:
        """Draw the reservoir (uses torch's global generator)."""
        h = self.hidden_size
        for cell in self.cells:
            w = torch.empty(h, h, dtype=torch.float64).uniform_(-1.0, 1.0)
            keep = torch.rand(h, h) >= esn.sparsity
            # One entry per row on a random n-cycle: no row is empty and small, very sparse
            # reservoirs are not nilpotent (a zero spectral radius cannot be rescaled).
            perm = torch.randperm(h)
            keep[perm, perm.roll(1)] = True
            w *= keep.to(w.dtype)
            w = torch.from_numpy(esn_scale(w.numpy(), esn.leak, esn.spectral_radius))
            cell.weight_hh.copy_(w)
            bound = esn.input_scaling / math.sqrt(cell.weight_ih.shape[1])
            cell.weight_ih.uniform_(-bound, bound)
            cell.bias_ih.uniform_(-esn.bias_scaling, esn.bias_scaling)

    def _run(self, cell: _Cell, x: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        pre = F.linear(x, cell.weight_ih, cell.bias_ih)
        h = pre.new_zeros(pre.shape[0], self.hidden_size)
        a = self.leak
        out = []
        for t in range(pre.shape[1]):
            h = (1.0 - a) * h + a * torch.tanh(pre[:, t] + F.linear(h, w_hh))
            out.append(h)
        return torch.stack(out, dim=1)

    def step(self, x: torch.Tensor, state: torch.Tensor, direction: int = 0) -> torch.Tensor:
        """Advance one time step with leak ``leak`` (see :meth:`RecurrentLayer.step`)."""
        c = self.cells[direction]
        a = self.leak
        pre = F.linear(x, c.weight_ih, c.bias_ih) + F.linear(state, c.weight_hh)
        return (1.0 - a) * state + a * torch.tanh(pre)

    def initialize_(self, init: InitConfig) -> None:  # the reservoir has its own scaling
        """Leave the reservoir as built: it has its own scaling."""
        return None


# --------------------------------------------------------------------------- stack


class RecurrentStack(nn.Module):
    """Stacked recurrent layers with (variational) dropout between them.

    Parameters
    ----------
    layers : list of RecurrentLayer
    dropout : float
        Dropout between layers (on each layer's output except the last).
    variational : bool
        One mask per sequence over time.
    concat_layers : bool
        Output the concatenation of every layer's output (deep ESN readout) instead of the
        last layer's.

    Notes
    -----
    ``forward``: ``(B, T, in) -> (B, T, out_features)``.
    """

    def __init__(
        self,
        layers: list[RecurrentLayer],
        dropout: float = 0.0,
        variational: bool = True,
        concat_layers: bool = False,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.dropout = LockedDropout(dropout, variational)
        self.concat_layers = concat_layers
        sizes = [layer.output_size for layer in layers]
        self.out_features = sum(sizes) if concat_layers else sizes[-1]

    @property
    def cell(self) -> str:
        """Cell name of the layers."""
        return self.layers[0].cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the layers over ``x`` ``(B, T, features)``; return ``(B, T, output_size)``."""
        outs = []
        for k, layer in enumerate(self.layers):
            if k > 0:
                x = self.dropout(x)
            x = layer(x)
            outs.append(x)
        return torch.cat(outs, dim=-1) if self.concat_layers else x

    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the input sequence of every layer (no dropout).

        ``[x, y_0, y_1, ...]`` minus the last output, each ``(B, T, features)``.
        """
        inputs = []
        for layer in self.layers:
            inputs.append(x)
            x = layer(x)
        return inputs


def _torch_layer(config: ModelConfig, input_size: int) -> RecurrentLayer:
    reg = config.regularization
    return TorchRNNLayer(
        config.cell, input_size, config.hidden_size, config.bidirectional, reg.recurrent_dropout
    )


def _loop_layer(cls: type[_LoopLayer]) -> Callable[[ModelConfig, int], RecurrentLayer]:
    def make(config: ModelConfig, input_size: int) -> RecurrentLayer:
        reg = config.regularization
        return cls(input_size, config.hidden_size, config.bidirectional, reg.recurrent_dropout)

    return make


def _esn_layer(config: ModelConfig, input_size: int) -> RecurrentLayer:
    return ESNLayer(input_size, config.hidden_size, config.bidirectional, config.esn)


#: ``make(config, input_size) -> RecurrentLayer`` of one layer, by cell name.
_LAYERS: dict[str, Callable[[ModelConfig, int], RecurrentLayer]] = {
    "lstm": _torch_layer,
    "gru": _torch_layer,
    "minimal": _loop_layer(MinimalLayer),
    "vanilla": _loop_layer(VanillaLayer),
    "esn": _esn_layer,
}


def recurrent_cells() -> tuple[str, ...]:
    """Names of the cells :func:`build_recurrent` builds, in definition order (not ``none``)."""
    return tuple(_LAYERS)


def build_recurrent(config: ModelConfig, input_size: int) -> RecurrentStack | None:
    """Return the recurrent part described by ``config`` (None for ``cell: none``).

    Parameters
    ----------
    config : ModelConfig
        ``cell``, ``hidden_size``, ``num_layers``, ``bidirectional``, ``regularization``
        and ``esn`` are used.
    input_size : int
        Features per time step of the input (the encoder's ``out_features``).

    Returns
    -------
    RecurrentStack or None
        ``(B, T, input_size) -> (B, T, out_features)``.
    """
    cell = config.cell
    if cell == "none":
        return None
    if cell not in _LAYERS:  # pragma: no cover - ModelConfig's Literal rejects it first
        raise invalid_value("model.cell", cell, (*_LAYERS, "none"))
    reg = config.regularization
    layers: list[RecurrentLayer] = []
    size = input_size
    for _ in range(config.num_layers):
        layer = _LAYERS[cell](config, size)
        layers.append(layer)
        size = layer.output_size
    return RecurrentStack(
        layers,
        dropout=0.0 if cell == "esn" else reg.dropout,
        variational=reg.variational,
        concat_layers=cell == "esn",
    )
