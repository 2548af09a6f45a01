r"""Pure-NumPy reference of the modern (continuous) Hopfield network,
Ramsauer et al. (2020): softmax attention, one update, iterated retrieval and
the energy, in ``float64`` unless a dtype is passed. The oracle of
:class:`hopfield.ModernHopfield` and the plain NumPy path its benchmarks time.

Keys ``K`` ``(P, d)``, values ``V`` ``(P, d_v)`` (``V = K`` for
auto-association), queries ``Q`` ``(B, d)`` or one ``(d,)``::

    A = softmax(β Q Kᵀ)            (row-wise, max subtracted first)
    update(Q) = A V
    E(ξ) = −β⁻¹ log Σ_μ exp(β k_μ·ξ) + ½ ξ·ξ + β⁻¹ log P + ½ max_μ ‖k_μ‖²
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._common import _ensure_fits

__all__ = ["modern_attention", "modern_energy", "modern_retrieve", "modern_update"]


def modern_attention(
    K: ArrayLike, Q: ArrayLike, beta: float, dtype: type = np.float64
) -> np.ndarray:
    """Softmax weights ``softmax(β Q Kᵀ)``, ``(B, P)`` (or ``(P,)`` for one query)."""
    K = np.asarray(K, dtype=dtype)
    Q = np.asarray(Q, dtype=dtype)
    rows = Q.shape[0] if Q.ndim == 2 else 1
    _ensure_fits(rows * K.shape[0] * np.dtype(dtype).itemsize, "the (B, P) scores")
    S = Q @ K.T
    S *= dtype(beta)
    S -= S.max(axis=-1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=-1, keepdims=True)
    return S


def modern_update(
    K: ArrayLike,
    Q: ArrayLike,
    beta: float,
    V: ArrayLike | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """One update ``softmax(β Q Kᵀ) V`` (``V = K`` when not given).

    Written as a sceptic would write it for speed: β folded into the queries
    (``B·d`` multiplies, not ``B·P``), the scores shifted and exponentiated
    in place, the value product taken on the unnormalised weights and the
    ``(B, d_v)`` result divided by the row sums (not the ``(B, P)`` weights).
    With ``dtype=np.float32`` this is the NumPy float32 path the benchmarks
    time: two BLAS GEMMs and one pass of ``exp``.
    """
    K = np.asarray(K, dtype=dtype)
    Qs = np.asarray(Q, dtype=dtype) * dtype(beta)
    S = Qs @ K.T
    S -= S.max(axis=-1, keepdims=True)
    np.exp(S, out=S)
    out = S @ (K if V is None else np.asarray(V, dtype=dtype))
    out /= S.sum(axis=-1, keepdims=True)
    return out


def modern_retrieve(
    K: ArrayLike,
    Q: ArrayLike,
    beta: float,
    steps: int = 1,
    clamp: ArrayLike | None = None,
    known: ArrayLike | None = None,
) -> np.ndarray:
    """``steps`` updates ``ξ ← Kᵀ softmax(β K ξ)`` of every query, float64.

    A partial cue, as :meth:`hopfield.ModernHopfield.retrieve` takes it:
    ``known`` (bool ``(d,)`` or ``(B, d)``): each update scores the state
    with its unknown coordinates set to zero; ``clamp`` (the same shapes):
    after each update the clamped coordinates are reset to the query's.
    """
    Q0 = np.asarray(Q, dtype=np.float64)
    held = None if clamp is None else np.broadcast_to(np.asarray(clamp, dtype=bool), Q0.shape)
    seen = None if known is None else np.broadcast_to(np.asarray(known, dtype=bool), Q0.shape)
    X = Q0
    for _ in range(steps):
        X = modern_update(K, X if seen is None else np.where(seen, X, 0.0), beta)
        if held is not None:
            X = np.where(held, Q0, X)
    return X


def modern_energy(K: ArrayLike, S: ArrayLike, beta: float) -> np.ndarray:
    """``E(ξ)`` of states ``(B, d)`` → ``(B,)`` (or a scalar array for one state)."""
    K = np.asarray(K, dtype=np.float64)
    S = np.asarray(S, dtype=np.float64)
    rows = S.shape[0] if S.ndim == 2 else 1
    _ensure_fits(rows * K.shape[0] * 8 * 2, "the (B, P) scores")
    Z = beta * (S @ K.T)
    m = Z.max(axis=-1)
    lse = m + np.log(np.exp(Z - m[..., None]).sum(axis=-1))
    M2 = float((K * K).sum(axis=1).max())
    return -lse / beta + 0.5 * (S * S).sum(axis=-1) + np.log(K.shape[0]) / beta + 0.5 * M2
