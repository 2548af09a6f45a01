"""What the reference models share: the retrieval result types
(:class:`AsyncResult`, :class:`SyncResult`) and the helpers for batch shaping,
thresholds, update orders, energy traces and the synchronous loop. NumPy and
the standard library only."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["AsyncResult", "SyncResult"]

#: Requests from this size on are checked against the available memory.
_CHECKED_BYTES = 64 << 20


def _available_bytes() -> int | None:
    """RAM the kernel reports available plus free swap (Linux), else ``None``."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = dict(line.split(":", 1) for line in f if ":" in line)
        total = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    try:
        total += int(info["SwapFree"].split()[0]) * 1024
    except (KeyError, ValueError):
        pass
    return total


def _ensure_fits(nbytes: int, what: str) -> None:
    """Raise ``MemoryError`` before building ``what`` of ``nbytes`` bytes when
    the system cannot give them (on Linux NumPy's allocation would succeed and
    the process be killed later, when the pages are touched)."""
    if nbytes < _CHECKED_BYTES:
        return
    available = _available_bytes()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{what} would need {nbytes} bytes, but only {available} bytes of memory are available"
        )


def _ensure_square_fits(n: int, itemsize: int, what: str = "the weight matrix") -> None:
    """:func:`_ensure_fits` for an ``(n, n)`` array of ``itemsize``-byte entries."""
    _ensure_fits(n * n * itemsize, f"{what} ({n} × {n})")


class AsyncResult(NamedTuple):
    """Result of :func:`retrieve_async` and :func:`retrieve_async_batched`
    (and of their dense counterparts, :func:`dense_retrieve_async` and
    :func:`dense_retrieve_async_batched`).

    For a single query ``(N,)`` every field drops its batch axis.

    Attributes
    ----------
    states : numpy.ndarray
        Final states, ``int8`` ``(B, N)``.
    converged : numpy.ndarray
        ``bool`` ``(B,)``: the last sweep run flipped no neuron.
    sweeps : numpy.ndarray
        ``int64`` ``(B,)``: number of sweeps run, including the final sweep
        without a flip.
    energy : numpy.ndarray
        ``float64`` ``(B,)``: energy of the final states.
    energy_trace : numpy.ndarray or None
        ``float64`` ``(B, max(sweeps) + 1)`` when tracked, else ``None``.
        Column 0 is the energy of the query, column ``t`` the energy after
        sweep ``t``; entries after a query stopped are NaN.
    """

    states: np.ndarray
    converged: np.ndarray
    sweeps: np.ndarray
    energy: np.ndarray
    energy_trace: np.ndarray | None = None


class SyncResult(NamedTuple):
    """Result of :func:`retrieve_sync` (and of :func:`dense_retrieve_sync`).

    For a single query ``(N,)`` every field drops its batch axis.

    Attributes
    ----------
    states : numpy.ndarray
        Final states, ``int8`` ``(B, N)``.
    converged : numpy.ndarray
        ``bool`` ``(B,)``: the final state is a fixed point.
    cycled : numpy.ndarray
        ``bool`` ``(B,)``: the run stopped on a 2-cycle (``s_t == s_{t-2}``,
        ``s_t != s_{t-1}``); the state returned is ``s_t``.
    sweeps : numpy.ndarray
        ``int64`` ``(B,)``: number of synchronous steps run.
    energy : numpy.ndarray
        ``float64`` ``(B,)``: energy of the final states.
    energy_trace : numpy.ndarray or None
        As in :class:`AsyncResult`.
    """

    states: np.ndarray
    converged: np.ndarray
    cycled: np.ndarray
    sweeps: np.ndarray
    energy: np.ndarray
    energy_trace: np.ndarray | None = None


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


def _held(clamp: ArrayLike | None, b: int, n: int) -> np.ndarray | None:
    """A clamp mask (``(N,)`` or ``(B, N)`` bool, True = held at the query
    value) broadcast to ``(B, N)``, or ``None`` when nothing is held."""
    if clamp is None:
        return None
    c = np.asarray(clamp, dtype=bool)
    return np.broadcast_to(c.reshape(1, n) if c.ndim == 1 else c, (b, n))


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
    clamp: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The synchronous loop every reference model shares.

    ``step(cur)`` maps the still-active states (``dtype``, ``(k, N)``) to
    their next states; ``energies(S)`` gives the energies of int8 states
    (for the trace). A query stops at a fixed point (converged) or a
    2-cycle ``s_t = s_{t-2}`` (cycled), else after ``max_sweeps`` steps.
    ``clamp`` (bool ``(B, N)``, from :func:`_held`): the neurons that keep
    their query values; a step's new value of those is discarded, so a
    fixed point means no free neuron changes.
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
        if clamp is not None:
            new = np.where(clamp[active], cur, new)
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
