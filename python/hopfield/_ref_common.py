"""Helpers every NumPy reference module shares (batch shaping, thresholds,
update orders, energy traces). NumPy only."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _as_batch(S: ArrayLike) -> tuple[np.ndarray, bool]:
    """Return ``S`` as a 2-D array and whether it was a single state."""
    S = np.asarray(S)
    return (S[None, :], True) if S.ndim == 1 else (S, False)


def _theta(theta: ArrayLike, n: int) -> np.ndarray:
    """Broadcast thresholds to a ``float64`` ``(N,)`` array."""
    return np.broadcast_to(np.asarray(theta, dtype=np.float64), (n,))


def _batch_orders(orders: ArrayLike, b: int, max_sweeps: int, n: int) -> np.ndarray:
    """Broadcast update orders to ``(B, max_sweeps, N)`` ``intp``."""
    o = np.asarray(orders, dtype=np.intp)
    if o.ndim == 1:
        o = o[None, None, :]
        ok = o.shape[2] == n
    else:
        if o.ndim == 2:
            o = o[None]
        ok = o.ndim == 3 and o.shape[1:] == (max_sweeps, n) and o.shape[0] in (1, b)
    if not ok:
        raise ValueError(
            f"orders must have shape (N,), (max_sweeps, N) or (B, max_sweeps, N) "
            f"= {(b, max_sweeps, n)}; got {np.shape(orders)}"
        )
    return np.broadcast_to(o, (b, max_sweeps, n))


def _trace_array(traces: list[list[float]]) -> np.ndarray:
    """Pack per-query energy lists into a NaN-padded ``(B, T)`` array."""
    width = max((len(t) for t in traces), default=1)
    out = np.full((len(traces), width), np.nan)
    for row, t in zip(out, traces, strict=True):
        row[: len(t)] = t
    return out
