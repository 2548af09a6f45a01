r"""Pure-NumPy reference of the Ising problem and its QUBO and max-cut
mappings: energies, the QUBO-to-Ising transform, cut values and the maximum
cut by enumeration. The oracle of :class:`hopfield.IsingProblem` and
:func:`hopfield.maxcut`. NumPy only; nothing is validated beyond what NumPy
does.

Ising energy ``E(s) = −½ sᵀJs − hᵀs``; QUBO value ``xᵀQx`` of 0/1 vectors,
``x = (1 + s)/2``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .glauber import all_states

__all__ = ["cut_value", "ising_energy", "maxcut_brute_force", "qubo_to_ising", "qubo_value"]


def ising_energy(J: ArrayLike, h: ArrayLike, S: ArrayLike) -> np.ndarray:
    """``-½ sᵀJs - hᵀs`` of one state ``(N,)`` or each row of ``(B, N)``."""
    Sf = np.asarray(S, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    return -0.5 * np.einsum("...i,ij,...j->...", Sf, J, Sf) - Sf @ np.asarray(h, np.float64)


def qubo_value(Q: ArrayLike, X: ArrayLike) -> np.ndarray:
    """``xᵀQx`` of one 0/1 vector ``(N,)`` or each row of ``(B, N)``."""
    Xf = np.asarray(X, dtype=np.float64)
    return np.einsum("...i,ij,...j->...", Xf, np.asarray(Q, np.float64), Xf)


def qubo_to_ising(Q: ArrayLike) -> tuple[np.ndarray, np.ndarray, float]:
    """The Ising form ``(J, h, offset)`` of the QUBO ``xᵀQx``, ``x = (1 + s)/2``.

    With ``Qs = (Q + Qᵀ)/2``: ``J = -Qs/2`` off the diagonal (zero diagonal),
    ``h = -Qs·1/2`` and ``offset = (Σ_ij Q_ij + Σ_i Q_ii)/4``, so that
    ``xᵀQx = -½ sᵀJs - hᵀs + offset`` for every state.
    """
    Q = np.asarray(Q, dtype=np.float64)
    Qs = 0.5 * (Q + Q.T)
    J = -0.5 * Qs
    np.fill_diagonal(J, 0.0)
    h = -0.5 * Qs.sum(axis=1)
    offset = 0.25 * (Q.sum() + np.trace(Q))
    return J, h, float(offset)


def cut_value(W: ArrayLike, sides: ArrayLike) -> np.ndarray:
    """Total weight of the edges ``{i, j}`` (``i < j``) of the symmetric
    adjacency ``W`` whose ends are on different sides (``sides`` ±1 or
    bool, ``(N,)`` or ``(B, N)``)."""
    W = np.asarray(W, dtype=np.float64)
    s = np.asarray(sides)
    s = np.where(s.astype(bool) if s.dtype == bool else s > 0, 1.0, -1.0)
    upper = np.triu(W, 1)
    return np.einsum("...i,ij,...j->...", s, upper, -s) * 0.5 + 0.5 * upper.sum()


def maxcut_brute_force(W: ArrayLike) -> tuple[float, np.ndarray]:
    """The maximum cut of ``W`` by enumeration (node 0 fixed on side -1):
    its value and every optimal side assignment (``int8`` ``(K, N)``)."""
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0]
    rest = all_states(n - 1) if n > 1 else np.zeros((1, 0), dtype=np.int8)
    S = np.concatenate([-np.ones((rest.shape[0], 1), dtype=np.int8), rest], axis=1)
    values = cut_value(W, S)
    best = float(values.max())
    return best, S[values >= best - 1e-9 * max(1.0, abs(best))]
