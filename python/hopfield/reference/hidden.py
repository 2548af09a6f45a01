r"""Pure-NumPy reference of the hidden-neuron memory (Krotov & Hopfield 2021),
the oracle of :class:`hopfield.HiddenNeuronMemory` and the NumPy path its
benchmarks time. Everything is ``float64``.

Patterns ``Ξ`` ``(P, N)``; a state is the row ``[x | h]`` (``N`` feature
neurons, ``P`` hidden neurons), ``S`` ``(B, N + P)``::

    τ_f dx/dt = Ξᵀ f(h) − x + I,    τ_h dh/dt = Ξ g(x) − h
    E = [Σ_i (x_i − I_i) g_i − L_x] + [Σ_μ h_μ f_μ − L_h] − f·Ξ g

with ``g = ∇L_x`` and ``f = ∇L_h``. Feature Lagrangians: ``"identity"``
(``½Σx²``), ``"tanh"`` (``(1/γ)Σ log cosh γx``), ``"layernorm"``
(``Nγ√(σ² + ε)``, ``σ² = Σ(x−x̄)²/N``: ``g`` is the layer norm); hidden:
``"lse"`` (``(1/β) log Σ e^{βh}``), ``"power"`` (``(1/n)Σh^n``),
``"rectified"`` (``(1/n)Σ[h]₊^n``).
Integration is exponential Euler, as :mod:`hopfield.reference.graded`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._common import _held

__all__ = [
    "hidden_drive",
    "hidden_energy",
    "hidden_features",
    "hidden_hiddens",
    "hidden_integrate",
]


def hidden_features(
    x: np.ndarray,
    feature: str = "identity",
    *,
    gain: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray]:
    """``(g, L_x)`` of feature rows ``x`` ``(B, N)``: outputs and Lagrangians ``(B,)``."""
    if feature == "identity":
        return x.copy(), 0.5 * (x * x).sum(axis=-1)
    if feature == "tanh":
        y = gain * x
        a = np.abs(y)
        log_cosh = a + np.log1p(np.exp(-2 * a)) - np.log(2.0)
        return np.tanh(y), log_cosh.sum(axis=-1) / gain
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    s = np.sqrt(var + eps)
    return gamma * (x - mean) / s, gamma * x.shape[-1] * s[..., 0]


def hidden_hiddens(
    h: np.ndarray, hidden: str = "lse", *, beta: float = 1.0, degree: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """``(f, L_h)`` of hidden rows ``h`` ``(B, P)``."""
    if hidden == "lse":
        m = h.max(axis=-1, keepdims=True)
        e = np.exp(beta * (h - m))
        z = e.sum(axis=-1, keepdims=True)
        return e / z, (m + np.log(z) / beta)[..., 0]
    v = np.maximum(h, 0.0) if hidden == "rectified" else h
    f = v ** (degree - 1)
    return f, (f * v).sum(axis=-1) / degree


def _split(S: ArrayLike, n: int) -> tuple[np.ndarray, np.ndarray]:
    S = np.asarray(S, dtype=np.float64)
    return S[..., :n], S[..., n:]


def hidden_drive(S: ArrayLike, X: ArrayLike, I: ArrayLike | float = 0.0, **kw) -> np.ndarray:  # noqa: E741
    """The drive ``[Ξᵀ f(h) + I | Ξ g(x)]`` of states ``S`` ``(B, N + P)``."""
    X = np.asarray(X, dtype=np.float64)
    x, h = _split(S, X.shape[1])
    g, _ = hidden_features(x, kw.get("feature", "identity"), **_feature_kw(kw))
    f, _ = hidden_hiddens(h, kw.get("hidden", "lse"), **_hidden_kw(kw))
    return np.concatenate([f @ X + np.asarray(I, dtype=np.float64), g @ X.T], axis=-1)


def _feature_kw(kw: dict) -> dict:
    return {k: kw[k] for k in ("gain", "gamma", "eps") if k in kw}


def _hidden_kw(kw: dict) -> dict:
    return {k: kw[k] for k in ("beta", "degree") if k in kw}


def hidden_energy(S: ArrayLike, X: ArrayLike, I: ArrayLike | float = 0.0, **kw) -> np.ndarray:  # noqa: E741
    """The energy of states ``S`` ``(B, N + P)`` → ``(B,)``."""
    X = np.asarray(X, dtype=np.float64)
    x, h = _split(S, X.shape[1])
    g, lx = hidden_features(x, kw.get("feature", "identity"), **_feature_kw(kw))
    f, lh = hidden_hiddens(h, kw.get("hidden", "lse"), **_hidden_kw(kw))
    inp = np.asarray(I, dtype=np.float64)
    return (
        ((x - inp) * g).sum(axis=-1) - lx + (h * f).sum(axis=-1) - lh - (f * (g @ X.T)).sum(axis=-1)
    )


def hidden_integrate(
    S0: ArrayLike,
    X: ArrayLike,
    *,
    tau_f: float = 1.0,
    tau_h: float = 0.1,
    dt: float = 0.01,
    max_steps: int = 1000,
    tol: float = 1e-6,
    I: ArrayLike | float = 0.0,  # noqa: E741
    clamp: ArrayLike | None = None,
    **kw,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate every row of ``S0``; returns final states, steps, converged.

    A row stops at the first step (before updating) where
    ``max_i |D_i − s_i| / τ_i ≤ tol``, or at ``max_steps``.

    ``clamp`` (bool ``(N,)`` or ``(B, N)`` over the *feature* neurons, True =
    held): the held features keep their starting values (their drive is
    taken to be their value: ``dx_i/dt = 0``); the hidden neurons are never
    held; the rate is over the free components.
    """
    X = np.asarray(X, dtype=np.float64)
    S = np.array(S0, dtype=np.float64, ndmin=2)
    n, p = X.shape[1], X.shape[0]
    tau = np.concatenate([np.full(n, tau_f), np.full(p, tau_h)])
    decay = np.exp(-dt / tau)
    B = S.shape[0]
    steps = np.full(B, max_steps, dtype=np.int64)
    converged = np.zeros(B, dtype=bool)
    held = _held(clamp, B, n)
    if held is not None:
        held = np.concatenate([held, np.zeros((B, p), dtype=bool)], axis=1)
    active = np.arange(B)
    for k in range(max_steps + 1):
        if active.size == 0:
            break
        Sa = S[active]
        D = hidden_drive(Sa, X, I, **kw)
        if held is not None:
            D = np.where(held[active], Sa, D)
        rate = (np.abs(D - Sa) / tau).max(axis=1)
        done = (rate <= tol) | (k == max_steps)
        steps[active[done]] = k
        converged[active[done]] = rate[done] <= tol
        keep = ~done
        S[active[keep]] = D[keep] + decay * (Sa[keep] - D[keep])
        active = active[keep]
    return S, steps, converged
