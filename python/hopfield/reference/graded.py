r"""Pure-NumPy reference of the graded-response network (Hopfield 1984), the
oracle of :class:`hopfield.GradedHopfieldNetwork` and the NumPy path its
benchmarks time. Everything is ``float64``.

Potentials ``U`` ``(B, N)`` (or one ``(N,)``), outputs ``V = g(U)`` with gain
``γ``: ``g(u) = tanh(γu)`` or ``1/(1 + e^{−γu})`` (``activation="sigmoid"``).
Weights are a dense ``W`` ``(N, N)`` or Hebbian patterns ``X`` ``(P, N)``
(``W = XᵀX/N`` without its diagonal, applied factored). Input currents ``I``::

    τ du/dt = −u + W g(u) + I
    E(V) = −½ VᵀWV − I·V + Σ_i ∫_0^{V_i} g⁻¹(v) dv

Integration is exponential Euler, ``u ← D + e^{−dt/τ}(u − D)`` with the drive
``D = W g(u) + I`` held over the step; a state stops once
``max_i |D_i − u_i| / τ ≤ tol``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._common import _held

__all__ = [
    "graded_drive",
    "graded_energy",
    "graded_integrate",
    "graded_output",
]


def graded_output(U: ArrayLike, gain: float, activation: str = "tanh") -> np.ndarray:
    """``V = g(U)``: ``tanh(γU)`` or the sigmoid ``1/(1 + e^{−γU})``."""
    U = np.asarray(U, dtype=np.float64)
    if activation == "tanh":
        return np.tanh(gain * U)
    return 1.0 / (1.0 + np.exp(-gain * U))


def _fields(V: np.ndarray, W: ArrayLike | None, X: ArrayLike | None) -> np.ndarray:
    """``W V`` of every row of ``V``."""
    if W is not None:
        return V @ np.asarray(W, dtype=np.float64).T
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    diagonal = (X * X).sum(axis=0) / n
    return (V @ X.T) @ X / n - diagonal * V


def graded_drive(
    U: ArrayLike,
    gain: float,
    *,
    W: ArrayLike | None = None,
    X: ArrayLike | None = None,
    I: ArrayLike | float = 0.0,  # noqa: E741 (the paper's name)
    activation: str = "tanh",
) -> np.ndarray:
    """The drive ``D = W g(U) + I`` (give ``W`` or Hebbian patterns ``X``)."""
    V = graded_output(U, gain, activation)
    return _fields(V, W, X) + np.asarray(I, dtype=np.float64)


def _integral(V: np.ndarray, gain: float, activation: str) -> np.ndarray:
    """``∫_0^V g⁻¹(v) dv`` elementwise (``0 ln 0 = 0``)."""

    def xlogx(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)

    if activation == "tanh":
        return (xlogx(1 + V) + xlogx(1 - V)) / (2 * gain)
    return (xlogx(V) + xlogx(1 - V)) / gain


def graded_energy(
    U: ArrayLike,
    gain: float,
    *,
    W: ArrayLike | None = None,
    X: ArrayLike | None = None,
    I: ArrayLike | float = 0.0,  # noqa: E741
    activation: str = "tanh",
) -> np.ndarray:
    """The 1984 energy of potentials ``U``: ``(B,)``, or a scalar array for one state."""
    V = graded_output(U, gain, activation)
    I = np.broadcast_to(np.asarray(I, dtype=np.float64), V.shape[-1:])  # noqa: E741
    WV = _fields(V, W, X)
    return (-0.5 * V * WV - I * V + _integral(V, gain, activation)).sum(axis=-1)


def graded_integrate(
    U0: ArrayLike,
    gain: float,
    *,
    W: ArrayLike | None = None,
    X: ArrayLike | None = None,
    I: ArrayLike | float = 0.0,  # noqa: E741
    activation: str = "tanh",
    tau: float = 1.0,
    dt: float = 0.1,
    max_steps: int = 1000,
    tol: float = 1e-6,
    clamp: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate every row of ``U0``; returns final potentials, steps, converged.

    Each row stops at the first step ``k`` (before updating) where
    ``max_i |D_i − u_i| / τ ≤ tol``, or at ``k = max_steps``.

    ``clamp`` (bool ``(N,)`` or ``(B, N)``, True = held): the held neurons
    keep their starting potentials (their drive is taken to be their
    potential, so ``du/dt = 0`` there and the step leaves them exactly as
    they are); the rate, and so convergence, is over the free neurons.
    """
    U = np.array(U0, dtype=np.float64, ndmin=2)
    B = U.shape[0]
    held = _held(clamp, B, U.shape[1])
    decay = np.exp(-dt / tau)
    steps = np.full(B, max_steps, dtype=np.int64)
    converged = np.zeros(B, dtype=bool)
    active = np.arange(B)
    for k in range(max_steps + 1):
        if active.size == 0:
            break
        Ua = U[active]
        D = graded_drive(Ua, gain, W=W, X=X, I=I, activation=activation)
        if held is not None:
            D = np.where(held[active], Ua, D)
        rate = np.abs(D - Ua).max(axis=1) / tau
        done = (rate <= tol) | (k == max_steps)
        steps[active[done]] = k
        converged[active[done]] = rate[done] <= tol
        keep = ~done
        U[active[keep]] = D[keep] + decay * (Ua[keep] - D[keep])
        active = active[keep]
    return U, steps, converged
