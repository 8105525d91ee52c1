"""Memory timescales of a detector's recurrent part (``seizure timescale``).

Four views of how long a network remembers, for a freshly initialized model or a checkpoint:

1. **Mean field** (vanilla and minimalRNN cells; Chen, Pennington and Schoenholz 2018): the
   mean squared gain of a small state perturbation per step, ``chi``, from the weight
   variances and the measured input variance (:func:`seizure.models.init.mean_field_vanilla`,
   :func:`~seizure.models.init.mean_field_minimal`), and the timescale ``xi = -1 / ln chi``
   (infinite when ``chi >= 1``).
2. **Gate timescales** (LSTM forget gate, GRU update gate ``z``, minimalRNN gate ``u``): with
   the bias alone, a gate value ``g = sigmoid(b)`` forgets as ``g^t``, i.e. over
   ``-1 / ln g`` steps; mean and max over units. Input and recurrent contributions to the
   gate are ignored (a bias-only reading).
3. **Lyapunov timescale** (any cell, cuDNN included): the top Lyapunov exponent
   ``lambda_1`` of the state dynamics driven by real or synthetic input, by Benettin's method
   (perturb the state by ``eps``, step both trajectories, measure the growth, renormalise
   the perturbation, average the log growth), and ``tau = -1 / lambda_1`` steps (infinite
   when ``lambda_1 >= 0``), and the **mean** exponent of the spectrum,
   ``(1/N) mean_t ln |det J_t|`` (``J_t`` the state-to-state Jacobian of step ``t``,
   ``N`` the state size). ``chi`` is the mean squared gain of a *random* direction, so
   ``1/2 ln chi`` predicts the mean exponent, not the top one: on the minimalRNN of
   ``models/minimal_critical`` the mean exponent matches it within a few percent while the
   top one is about 40% slower (the state remembers longest along its slowest direction).
4. **Dynamical isometry** (small networks): singular values of the state-to-state Jacobian
   ``d s_T / d s_0`` over ``T`` steps (product of the per-step Jacobians) of the first layer.

Mean field and measured state
-----------------------------
The mean-field closure assumes zero-mean inputs that are independent from step to step. The
report gives, per layer and direction, the closure's state second moment ``q_star`` next to
the one measured on the driven trajectory (``q_measured``, the mean of ``s_t^2`` after the
burn-in). A CNN encoder's features have a non-zero mean (ELU outputs, a global average), so
the minimalRNN's gate, which averages its latent input over ``~xi`` steps, keeps that mean:
the closure predicts ``q_h = 0.0002`` where the state holds ``0.023`` (see
``docs/mean_field.md`` for the command).

Every layer and direction is analysed separately, driven by the sequence it sees in the full
network (the output of the layer below); the reported ``lyapunov_tau_steps`` and ``chi`` are
the slowest (largest) over layers and directions. Computation is in float64 on the CPU.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from seizure.models.init import mean_field_minimal, mean_field_vanilla
from seizure.models.recurrent import MinimalLayer, RecurrentLayer, VanillaLayer

__all__ = [
    "gate_timescales",
    "jacobian_spectrum",
    "lyapunov_exponent",
    "mean_field_layer",
    "trajectory_statistics",
    "synthetic_windows",
    "timescale_report",
]


def _tau(rate: float) -> float:
    """``-1 / rate`` for a negative log-rate; infinity otherwise."""
    return -1.0 / rate if rate < 0 else math.inf


@torch.no_grad()
def lyapunov_exponent(
    layer: RecurrentLayer,
    inputs: torch.Tensor,
    direction: int = 0,
    burn_in: int = 100,
    n_perturbations: int = 4,
    eps: float = 1e-6,
    seed: int = 0,
) -> float:
    """Top Lyapunov exponent (per step) of one direction of a layer, by Benettin's method.

    Parameters
    ----------
    layer : RecurrentLayer
        Its :meth:`~RecurrentLayer.step` defines the dynamics ``s_t = f(x_t, s_{t-1})``.
    inputs : Tensor, shape (T, in)
        Driving sequence (in time order; the backward direction reads it reversed).
    direction : int
        0 forward, 1 backward.
    burn_in : int
        Steps run (with renormalisation) before log growth is accumulated; must be < T.
    n_perturbations : int
        Independent perturbations; their estimates are averaged.
    eps : float
        Perturbation size (finite differences in the dtype of ``layer``; use float64).
    seed : int
        Seed of the initial perturbation directions.

    Returns
    -------
    float
        ``lambda_1`` in nats per step: ``mean_t ln(|d s_t| / |d s_{t-1}|)`` after burn-in.
    """
    steps = inputs.shape[0]
    if not 0 <= burn_in < steps:
        raise ValueError(f"burn_in must be in [0, {steps}), got {burn_in}")
    x = inputs if direction == 0 else inputs.flip(0)
    p = next(layer.parameters())
    x = x.to(device=p.device, dtype=p.dtype)
    gen = torch.Generator().manual_seed(seed)
    k = n_perturbations
    s = torch.zeros(1, layer.state_size, dtype=p.dtype, device=p.device)
    d = torch.randn(k, layer.state_size, generator=gen, dtype=torch.float64).to(s)
    d = eps * d / d.norm(dim=1, keepdim=True)
    total = torch.zeros(k, dtype=torch.float64)
    for t in range(steps):
        xt = x[t : t + 1]
        s_next = layer.step(xt, s, direction)
        sp = layer.step(xt.expand(k, -1), s + d, direction)
        diff = sp - s_next
        norm = diff.norm(dim=1, keepdim=True).clamp_min(1e-300)
        if t >= burn_in:
            total += torch.log(norm[:, 0] / eps).double().cpu()
        d = eps * diff / norm
        s = s_next
    return float(total.mean() / (steps - burn_in))


def trajectory_statistics(
    layer: RecurrentLayer,
    inputs: torch.Tensor,
    direction: int = 0,
    burn_in: int = 100,
    max_steps: int = 500,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Mean Lyapunov exponent and state second moment of one direction on a driven trajectory.

    Parameters
    ----------
    layer : RecurrentLayer
    inputs : Tensor, shape (T, in)
        Driving sequence; the state starts at zero.
    direction : int
        0 forward, 1 backward (reads ``inputs`` reversed).
    burn_in : int
        Steps run before averaging; must be < T.
    max_steps : int
        At most this many steps after the burn-in enter the averages (one Jacobian each).
    eps : float
        Finite-difference step of the Jacobian (use float64 weights).

    Returns
    -------
    dict
        ``mean_exponent``: ``(1/N) mean_t ln |det J_t|`` in nats per step, the mean of the
        Lyapunov spectrum (``N`` the state size); ``q_measured``: ``mean_t mean_i s_{t,i}^2``.
    """
    steps = inputs.shape[0]
    if not 0 <= burn_in < steps:
        raise ValueError(f"burn_in must be in [0, {steps}), got {burn_in}")
    p = next(layer.parameters())
    x = (inputs if direction == 0 else inputs.flip(0)).to(device=p.device, dtype=p.dtype)
    n = layer.state_size
    s = torch.zeros(1, n, dtype=p.dtype, device=p.device)
    basis = eps * torch.eye(n, dtype=p.dtype, device=p.device)
    logdets, q = [], []
    with torch.no_grad():
        for t in range(min(steps, burn_in + max_steps)):
            xt = x[t : t + 1]
            s_next = layer.step(xt, s, direction)
            if t >= burn_in:  # J_t by forward differences, one batched step of N states
                jac = (layer.step(xt.expand(n, -1), s + basis, direction) - s_next) / eps
                logdets.append(float(torch.linalg.slogdet(jac.double())[1]))
                q.append(float(s_next.double().square().mean()))
            s = s_next
    return {
        "mean_exponent": float(np.mean(logdets)) / layer.state_size,
        "q_measured": float(np.mean(q)),
    }


def jacobian_spectrum(
    layer: RecurrentLayer, inputs: torch.Tensor, direction: int = 0, burn_in: int = 0
) -> dict[str, float]:
    """Singular values of ``d s_T / d s_0`` of one direction over ``T`` steps.

    Parameters
    ----------
    layer : RecurrentLayer
    inputs : Tensor, shape (burn_in + T, in)
        Driving sequence; the state starts at zero.
    direction : int
        0 forward, 1 backward (reads ``inputs`` reversed).
    burn_in : int
        Steps run before the product starts, so that the state has reached its stationary
        (mean-field fixed point) statistics; from a zero state the first steps of a near-
        critical tanh network are almost linear and expand by ``sigma_w`` per step.

    Returns
    -------
    dict
        ``steps``, ``median``, ``min``, ``max`` of the singular values and
        ``log10_spread = log10(max / min)`` (inf when the smallest underflows).
    """
    p = next(layer.parameters())
    x = (inputs if direction == 0 else inputs.flip(0)).to(device=p.device, dtype=p.dtype)
    s = torch.zeros(layer.state_size, dtype=p.dtype, device=p.device)
    prod = torch.eye(layer.state_size, dtype=p.dtype, device=p.device)
    with torch.no_grad():
        for t in range(burn_in):
            s = layer.step(x[t : t + 1], s[None], direction)[0]
    for t in range(burn_in, x.shape[0]):
        xt = x[t : t + 1]

        def f(state: torch.Tensor, xt: torch.Tensor = xt) -> torch.Tensor:
            return layer.step(xt, state[None], direction)[0]

        jac = torch.autograd.functional.jacobian(f, s, vectorize=True)
        prod = jac @ prod
        with torch.no_grad():
            s = f(s)
    sv = torch.linalg.svdvals(prod).double().cpu().numpy()
    smin, smax = float(sv.min()), float(sv.max())
    spread = math.log10(smax / smin) if smin > 0 else math.inf
    return {
        "steps": int(x.shape[0] - burn_in),
        "median": float(np.median(sv)),
        "min": smin,
        "max": smax,
        "log10_spread": spread,
    }


@torch.no_grad()
def mean_field_layer(
    layer: RecurrentLayer, inputs: torch.Tensor, direction: int = 0
) -> dict[str, float] | None:
    """Mean-field ``chi`` and ``xi`` of a vanilla or minimalRNN direction (None otherwise).

    Weight variances are read from the weights (``sigma^2 = N * mean(W^2)``) and the input
    variance from the pre-activations the driving sequence ``inputs`` (``(T, in)``) produces.
    """
    if not isinstance(layer, (VanillaLayer, MinimalLayer)):
        return None
    w = {k: v.double() for k, v in layer.recurrent_weights(direction).items()}
    x = inputs.to(w["weight_ih"])
    h = layer.hidden_size
    sigma_w2 = float(w["weight_hh"].square().sum() / h)
    pre = torch.nn.functional.linear(x, w["weight_ih"], w["bias_ih"])
    v_in = float(pre.square().mean())
    if isinstance(layer, VanillaLayer):
        q, chi = mean_field_vanilla(sigma_w2, v_in)
        out = {"chi": chi, "q_star": q}
    else:
        sigma_v2 = float(w["weight_zh"].square().sum() / h)
        mf = mean_field_minimal(sigma_w2, sigma_v2, w["bias_hh"].cpu().numpy(), v_in)
        out = {"chi": mf["chi"], "q_star": mf["q_h"], "mean_gate": mf["mean_u"]}
    out["xi_steps"] = _tau(math.log(out["chi"])) if out["chi"] > 0 else 0.0
    return out


@torch.no_grad()
def gate_timescales(rnn: nn.Module) -> dict[str, float] | None:
    """Bias-only gate timescales ``-1 / ln sigmoid(b)`` (mean, max over units and layers).

    LSTM: forget gate, effective bias ``b_ih + b_hh`` of block ``f`` (PyTorch order
    ``[i|f|g|o]``); GRU: update gate ``z`` (``[r|z|n]``, ``h_t = (1 - z) n + z h_{t-1}``);
    minimalRNN: gate ``u``. None for other cells.
    """
    taus = []
    for layer in getattr(rnn, "layers", []):
        for d in range(layer.num_directions):
            w = layer.recurrent_weights(d)
            h = layer.hidden_size
            if layer.cell in ("lstm", "gru"):
                b = (w["bias_ih"] + w["bias_hh"])[h : 2 * h]
            elif layer.cell == "minimal":
                b = w["bias_hh"]
            else:
                return None
            g = torch.sigmoid(b.double())
            taus.append(-1.0 / torch.log(g))
    if not taus:
        return None
    tau = torch.cat(taus)
    return {"mean": float(tau.mean()), "max": float(tau.max())}


def synthetic_windows(
    window_shape: tuple[int, ...], steps: int, seed: int = 0, amplitude_uv: float = 30.0
) -> torch.Tensor:
    """Return ``(steps, *window_shape)`` white Gaussian windows.

    ``amplitude_uv`` microvolts for raw windows, unit variance for feature windows.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, *window_shape, generator=gen)
    return x * amplitude_uv if len(window_shape) == 2 else x


@torch.no_grad()
def _features(model: nn.Module, windows: torch.Tensor, batch: int = 256) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        feats = [
            model.encoder(windows[i : i + batch].to(p.device)).float().cpu()
            for i in range(0, windows.shape[0], batch)
        ]
    finally:
        model.train(was_training)
    return torch.cat(feats).double()


def timescale_report(
    model: nn.Module,
    windows: torch.Tensor | None = None,
    steps: int = 2000,
    burn_in: int = 200,
    seconds_per_step: float = 1.0,
    jacobian_steps: int = 100,
    max_jacobian_state: int = 512,
    seed: int = 0,
) -> dict[str, Any]:
    """All timescales of a :class:`~seizure.models.registry.SeizureDetector`.

    Parameters
    ----------
    model : SeizureDetector
        Left unchanged (the recurrent part is copied to float64).
    windows : Tensor, shape (T, *window_shape), optional
        Consecutive windows (e.g. from a cache); synthetic white noise when None.
    steps : int
        Windows used when synthetic (and at most this many of ``windows``).
    burn_in : int
        Benettin burn-in steps (reduced to ``T // 5`` for short inputs).
    seconds_per_step : float
        Window stride in seconds, to express ``tau`` in seconds.
    jacobian_steps : int
        ``T`` of the Jacobian product, taken after the burn-in (0 to skip).
    max_jacobian_state : int
        Skip the Jacobian for layers with a larger state.
    seed : int
        Seed of the synthetic input and the perturbations.

    Returns
    -------
    dict
        JSON-serialisable (infinite values are None): ``cell``, ``chi``, ``xi_steps``,
        ``predicted_exponent`` (``1/2 ln chi``, or None), ``gate_tau_steps``
        (``{"mean", "max"}`` or None), ``lyapunov_exponent`` (the top one),
        ``mean_lyapunov_exponent`` (the mean of the spectrum), ``lyapunov_tau_steps``,
        ``lyapunov_tau_seconds``, ``jacobian`` (or None), ``layers`` (per layer and
        direction: the exponents, ``q_measured`` and, for vanilla and minimal cells, ``chi``,
        ``xi_steps``, ``predicted_exponent`` and the mean-field ``q_star``), ``steps``,
        ``seconds_per_step``, ``input``. The report-level exponents and ``chi`` are those of
        the slowest layer and direction (largest top exponent).
    """
    cell = model.config.cell
    window_shape = tuple(model.window_shape)
    source = "synthetic" if windows is None else "windows"
    if windows is None:
        windows = synthetic_windows(window_shape, steps, seed)
    windows = windows[:steps]
    n = int(windows.shape[0])
    report: dict[str, Any] = {
        "cell": cell,
        "input": source,
        "steps": n,
        "seconds_per_step": seconds_per_step,
        "chi": None,
        "xi_steps": None,
        "predicted_exponent": None,
        "gate_tau_steps": None,
        "lyapunov_exponent": None,
        "mean_lyapunov_exponent": None,
        "lyapunov_tau_steps": 0.0,
        "lyapunov_tau_seconds": 0.0,
        "jacobian": None,
        "layers": [],
    }
    if model.rnn is None:
        return report  # no recurrence: nothing is remembered across windows
    rnn = copy.deepcopy(model.rnn).cpu().double().eval()
    report["gate_tau_steps"] = gate_timescales(rnn)
    feats = _features(model, windows)
    inputs = [x[0] for x in rnn.layer_inputs(feats[None])]
    burn = min(burn_in, n // 5)
    entries = []
    for index, (layer, x) in enumerate(zip(rnn.layers, inputs)):
        for d in range(layer.num_directions):
            lam = lyapunov_exponent(layer, x, d, burn_in=burn, seed=seed)
            stats = trajectory_statistics(layer, x, d, burn_in=burn)
            entry: dict[str, Any] = {
                "layer": index,
                "direction": "forward" if d == 0 else "backward",
                "lyapunov_exponent": lam,
                "mean_lyapunov_exponent": stats["mean_exponent"],
                "lyapunov_tau_steps": _finite(_tau(lam)),
                "q_measured": stats["q_measured"],
            }
            mf = mean_field_layer(layer, x, d)
            if mf is not None:
                entry.update(
                    chi=mf["chi"],
                    xi_steps=_finite(mf["xi_steps"]),
                    predicted_exponent=0.5 * math.log(mf["chi"]) if mf["chi"] > 0 else None,
                    q_star=mf["q_star"],
                )
            entries.append(entry)
    report["layers"] = entries
    slowest = max(entries, key=lambda e: e["lyapunov_exponent"])
    lam = slowest["lyapunov_exponent"]
    report["lyapunov_exponent"] = lam
    report["mean_lyapunov_exponent"] = slowest["mean_lyapunov_exponent"]
    report["lyapunov_tau_steps"] = _finite(_tau(lam))
    report["lyapunov_tau_seconds"] = _finite(_tau(lam) * seconds_per_step)
    if "chi" in slowest:
        chi = slowest["chi"]
        report["chi"] = chi
        report["xi_steps"] = _finite(_tau(math.log(chi))) if chi > 0 else 0.0
        report["predicted_exponent"] = slowest["predicted_exponent"]
    first = rnn.layers[0]
    if jacobian_steps > 0 and first.state_size <= max_jacobian_state:
        j_burn = min(burn, max(0, n - jacobian_steps))
        report["jacobian"] = jacobian_spectrum(
            first, inputs[0][: j_burn + min(jacobian_steps, n)], burn_in=j_burn
        )
        report["jacobian"]["log10_spread"] = _finite(report["jacobian"]["log10_spread"])
    return report


def _finite(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else float(value)
