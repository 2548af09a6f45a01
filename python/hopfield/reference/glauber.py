r"""Pure-NumPy reference of stochastic (Glauber) dynamics and of the
Boltzmann distribution they sample: the oracle of stochastic retrieval and of
:func:`hopfield.sample`. NumPy and the standard library only; nothing is
validated beyond what NumPy does.

Glauber (heat-bath) update of neuron ``i`` at temperature ``T``, with the
energy gap ``gap_i = E(s_i = -1) - E(s_i = +1)`` (``= 2 h_i`` for the
quadratic energy ``E = -½ sᵀWs + θᵀs``, ``h = Ws - θ``) and a uniform
``u`` in ``[0, 1)``::

    s_i ← +1  if  gap_i > T · ln(u / (1 - u))  else  -1

``ln(u/(1-u))`` is logistic, so ``P(s_i = +1) = 1 / (1 + exp(-gap_i / T))``.

At ``T = 0`` the update is the deterministic one (ties keep the state).
The functions below take the neuron orders and the uniforms as inputs
(:func:`hopfield.sweep_orders`, :func:`hopfield.acceptance_uniforms`), so
given the ones a Rust run drew they follow the same trajectory, and they are
vectorised over a batch of chains: each step updates one neuron of every
chain at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._common import _held

__all__ = [
    "all_states",
    "boltzmann_distribution",
    "glauber_dense",
    "glauber_hebbian",
    "total_variation",
]


def _decide(gap: np.ndarray, cur: np.ndarray, u: np.ndarray, t: float) -> np.ndarray:
    """New spins (int8) from gaps, current spins and uniforms at temperature ``t``."""
    if t > 0:
        with np.errstate(divide="ignore"):  # u = 0: threshold -inf
            threshold = t * np.log(u / (1.0 - u))
        return np.where(gap > threshold, 1, -1).astype(np.int8)
    return np.where(gap > 0, 1, np.where(gap < 0, -1, cur)).astype(np.int8)


def glauber_hebbian(
    X: ArrayLike,
    S: ArrayLike,
    orders: ArrayLike,
    uniforms: ArrayLike,
    temperatures: ArrayLike,
    theta: ArrayLike = 0.0,
    clamp: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Glauber sweeps of the Hebbian network, factored through the overlaps.

    Parameters
    ----------
    X : array_like
        Stored patterns ``(P, N)`` ±1.
    S : array_like
        Starting states ``(B, N)`` ±1.
    orders : array_like
        ``(B, sweeps, N)`` neuron orders (``hopfield.sweep_orders``).
    uniforms : array_like
        ``(B, sweeps, N)`` uniforms (``hopfield.acceptance_uniforms``).
    temperatures : array_like
        ``(sweeps,)`` temperature of each sweep (0: deterministic sweep).
    theta : array_like
        Thresholds, scalar or ``(N,)``.
    clamp : array_like or None
        Bool ``(N,)`` or ``(B, N)``: neurons held at their starting values.
        Their updates are skipped (the uniform at their position goes unused).

    Returns
    -------
    states : numpy.ndarray
        ``int8`` ``(B, N)`` after the sweeps.
    energy : numpy.ndarray
        ``float64`` ``(B,)``: ``-(Σ_μ m_μ² - P N) / (2N) + θ·s``.
    """
    X = np.asarray(X, dtype=np.int64)
    S = np.array(S, dtype=np.int8)
    p, n = X.shape
    b = S.shape[0]
    temps = np.asarray(temperatures, dtype=np.float64)
    orders = np.asarray(orders)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), (n,))
    XT = np.ascontiguousarray(X.T)  # (N, P)
    m = S.astype(np.int64) @ X.T  # (B, P)
    rows = np.arange(b)
    held = _held(clamp, b, n)
    for t, temp in enumerate(temps):
        for k in range(n):
            idx = orders[:, t, k]
            cols = XT[idx]  # (B, P)
            cur = S[rows, idx]
            a = np.einsum("bp,bp->b", m, cols) - p * cur.astype(np.int64)
            gap = 2.0 * (a / n - theta[idx])
            new = _decide(gap, cur, uniforms[:, t, k], float(temp))
            if held is not None:
                new = np.where(held[rows, idx], cur, new)
            step = (new.astype(np.int64) - cur) // 2 * 2  # 2·new where changed, else 0
            m += step[:, None] * cols
            S[rows, idx] = new
    squares = (m * m).sum(axis=1) - p * n
    energy = -squares / (2 * n) + S.astype(np.float64) @ theta
    return S, energy


def glauber_dense(
    W: ArrayLike,
    S: ArrayLike,
    orders: ArrayLike,
    uniforms: ArrayLike,
    temperatures: ArrayLike,
    theta: ArrayLike = 0.0,
    clamp: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Glauber sweeps of the quadratic energy ``E = -½ sᵀWs + θᵀs`` over an
    explicit symmetric weight matrix ``W`` (zero diagonal), e.g. an Ising
    problem (``W = J``, ``θ = -h``).

    The gap ``2 (W_i·s - θ_i)`` of each update is computed afresh from the
    current states. Arguments and results as in :func:`glauber_hebbian`.
    """
    W = np.asarray(W, dtype=np.float64)
    S = np.array(S, dtype=np.int8)
    n = W.shape[0]
    b = S.shape[0]
    temps = np.asarray(temperatures, dtype=np.float64)
    orders = np.asarray(orders)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), (n,))
    rows = np.arange(b)
    held = _held(clamp, b, n)
    for t, temp in enumerate(temps):
        for k in range(n):
            idx = orders[:, t, k]
            cur = S[rows, idx]
            h = np.einsum("bn,bn->b", W[idx], S) - theta[idx]
            new = _decide(2.0 * h, cur, uniforms[:, t, k], float(temp))
            if held is not None:
                new = np.where(held[rows, idx], cur, new)
            S[rows, idx] = new
    Sf = S.astype(np.float64)
    energy = -0.5 * np.einsum("bi,ij,bj->b", Sf, W, Sf) + Sf @ theta
    return S, energy


def all_states(n: int) -> np.ndarray:
    """All ``2**n`` states, ``int8`` ``(2**n, n)``; row ``r`` has ``s_j = +1``
    iff bit ``j`` of ``r`` is set."""
    r = np.arange(2**n, dtype=np.int64)[:, None]
    bits = (r >> np.arange(n, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.int8)


def boltzmann_distribution(energies: ArrayLike, temperature: float) -> np.ndarray:
    """``P(s) = exp(-E(s)/T) / Z`` over the given energies (e.g. of
    :func:`all_states`), computed stably."""
    e = np.asarray(energies, dtype=np.float64)
    w = np.exp(-(e - e.min()) / temperature)
    return w / w.sum()


def total_variation(p: ArrayLike, q: ArrayLike) -> float:
    """``½ Σ |p - q|``."""
    return 0.5 * float(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum())
