"""Helpers every NumPy reference module shares (batch shaping, thresholds,
update orders, energy traces). NumPy only."""

from __future__ import annotations

from collections.abc import Callable

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


def run_sync(
    Q: np.ndarray,
    step: Callable[[np.ndarray], np.ndarray],
    energies: Callable[[np.ndarray], np.ndarray],
    max_sweeps: int,
    track_energy: bool,
    dtype: type = np.int8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The synchronous loop every reference model shares.

    ``step(cur)`` maps the still-active states (``dtype``, ``(k, N)``) to
    their next states; ``energies(S)`` gives the energies of int8 states
    (for the trace). A query stops at a fixed point (converged) or a
    2-cycle ``s_t = s_{t-2}`` (cycled), else after ``max_sweeps`` steps.
    Returns ``states``, ``converged``, ``cycled``, ``sweeps`` and the
    NaN-padded energy trace (or None).
    """
    b = Q.shape[0]
    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    cycled = np.zeros(b, dtype=bool)
    sweeps = np.full(b, max_sweeps, dtype=np.int64)
    traces: list[list[float]] = [[] for _ in range(b)]

    def record(idx: np.ndarray, S: np.ndarray) -> None:
        for q, v in zip(idx.tolist(), energies(S).tolist(), strict=True):
            traces[q].append(v)

    active = np.arange(b)
    cur: np.ndarray = states.astype(dtype)  # s_{t-1} of the active queries
    old: np.ndarray | None = None  # s_{t-2} of the active queries
    if track_energy:
        record(active, states)
    for t in range(1, max_sweeps + 1):
        if active.size == 0:
            break
        new = step(cur)
        same = (new == cur).all(axis=1)
        cyc = np.zeros_like(same) if old is None else ~same & (new == old).all(axis=1)
        if track_energy:
            record(active, new.astype(np.int8))
        done = same | cyc
        if done.any():
            finished = active[done]
            states[finished] = new[done]
            converged[finished] = same[done]
            cycled[finished] = cyc[done]
            sweeps[finished] = t
            keep = ~done
            active, cur, new = active[keep], cur[keep], new[keep]
        old, cur = cur, new
    states[active] = cur
    return states, converged, cycled, sweeps, (_trace_array(traces) if track_energy else None)
