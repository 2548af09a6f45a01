r"""Pure-NumPy reference of the classical Hebbian Hopfield network.

The oracle of :class:`hopfield.HopfieldNetwork` with the Hebbian rule: weights,
fields, energies, fixed points and asynchronous and synchronous retrieval,
following the exact integer arithmetic below literally so that results can be
compared bit for bit.

Exact arithmetic
----------------
All Hebbian quantities are computed from exact integers. With the overlaps
``m = S Xᵀ`` (``int64``, ``(B, P)``) the *integer field* is::

    A = (S Xᵀ) X − P S = N · W S      (int64, exact, because W_ii = 0)

and the local field and the energy are::

    h = A / N − θ                                      (float64, in that order)
    E = −(Σ_μ m_μ² − P N) / (2N) + θ·s  =  −½ sᵀ W s + θ·s

where the integer part ``Σ_μ m_μ² − P N`` is exact in ``int64`` and only the
final division and the ``θ·s`` sum are floating point. With ``θ = 0`` every
energy is therefore exact; with ``θ ≠ 0`` the ``θ·s`` sum depends on the
summation order, so other implementations should be compared with a tolerance.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    AsyncResult,
    SyncResult,
    _as_batch,
    _batch_orders,
    _ensure_square_fits,
    _held,
    _theta,
    _trace_array,
    run_sync,
)

__all__ = [
    "FLOAT32_EXACT_LIMIT",
    "INT32_LIMIT",
    "energy",
    "fields",
    "hebbian_weights",
    "integer_weights",
    "is_fixed_point",
    "overlaps",
    "retrieve_async",
    "retrieve_async_batched",
    "retrieve_sync",
]

#: ``retrieve_sync`` multiplies in ``float32`` while ``2 P N`` is below this
#: bound (every integer it forms then fits the 24-bit significand exactly).
FLOAT32_EXACT_LIMIT = 2**24
#: ``retrieve_async_batched`` keeps overlaps in ``int32`` while ``N P`` is below
#: this bound (every integer field then fits in ``int32``).
INT32_LIMIT = 2**31

# ---------------------------------------------------------------------------
# helpers


def _overlaps_int(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Integer overlaps ``S Xᵀ``, ``int64`` ``(B, P)``."""
    return S.astype(np.int64) @ X.astype(np.int64).T


def _energy_from_overlaps(m: np.ndarray, S: np.ndarray, theta: np.ndarray, n: int) -> np.ndarray:
    """Energy ``−(Σ m² − P N) / (2N) + θ·s`` for ``(B, P)`` overlaps ``m``.

    The ``θ·s`` term is a row-wise NumPy sum, so a row's energy does not
    depend on the other rows of the batch.
    """
    p = m.shape[1]
    int_part = np.einsum("bp,bp->b", m, m) - p * n  # exact in int64
    e = -int_part.astype(np.float64) / (2 * n)
    return e + (S.astype(np.float64) * theta).sum(axis=1)


def _update(A: np.ndarray, cur: np.ndarray, theta: np.ndarray | None, n: int) -> np.ndarray:
    """Apply the update rule to integer fields ``A`` (ties keep ``cur``).

    ``theta=None`` means all thresholds are zero; then ``sign(A / N)`` is
    ``sign(A)`` exactly (the quotient of a nonzero integer by ``N`` cannot
    round to zero), so the division is skipped.
    """
    h = A if theta is None else A.astype(np.float64) / n - theta
    one = np.ones((), dtype=cur.dtype)
    return np.where(h > 0, one, np.where(h < 0, -one, cur))


def _nonzero_theta(theta: np.ndarray) -> np.ndarray | None:
    """Return ``theta``, or ``None`` when every threshold is zero."""
    return theta if np.any(theta != 0) else None


# ---------------------------------------------------------------------------
# the network


def integer_weights(X: ArrayLike) -> np.ndarray:
    """Integer weight matrix ``Xᵀ X − P I`` (``= N W``).

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.

    Returns
    -------
    numpy.ndarray
        ``int64`` ``(N, N)``, symmetric, zero diagonal.
    """
    Xi = np.asarray(X)
    _ensure_square_fits(Xi.shape[-1], 8)
    Xi = Xi.astype(np.int64)
    C = Xi.T @ Xi
    np.fill_diagonal(C, 0)  # the diagonal of XᵀX is exactly P
    return C


def hebbian_weights(X: ArrayLike) -> np.ndarray:
    """Hebbian weight matrix ``W = (1/N) Σ_μ ξ^μ ξ^μᵀ`` with ``W_ii = 0``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(N, N)``: the exact integer ``Σ_μ ξ^μ_i ξ^μ_j`` divided
        by ``N``; symmetric with a zero diagonal.
    """
    C = integer_weights(X)
    return C.astype(np.float64) / C.shape[0]


def overlaps(X: ArrayLike, S: ArrayLike) -> np.ndarray:
    """Normalised overlaps ``m_μ / N = (ξ^μ · s) / N``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    S : array_like
        States, ``(B, N)`` or ``(N,)`` ±1.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(B, P)`` (or ``(P,)``): the exact ``int64`` products
        ``S Xᵀ`` divided by ``N``.
    """
    X = np.asarray(X)
    S2, single = _as_batch(S)
    out = _overlaps_int(X, S2).astype(np.float64) / X.shape[1]
    return out[0] if single else out


def fields(X: ArrayLike, S: ArrayLike, theta: ArrayLike = 0.0) -> np.ndarray:
    """Local fields ``h = W s − θ``.

    Computed as ``A.astype(float64) / N − θ`` with the exact integer field
    ``A = (S Xᵀ) X − P S`` (``int64``).

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    S : array_like
        States, ``(B, N)`` or ``(N,)`` ±1.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(B, N)`` (or ``(N,)``).
    """
    X = np.asarray(X)
    p, n = X.shape
    S2, single = _as_batch(S)
    Si = S2.astype(np.int64)
    A = (Si @ X.astype(np.int64).T) @ X.astype(np.int64) - p * Si
    h = A.astype(np.float64) / n - _theta(theta, n)
    return h[0] if single else h


def energy(X: ArrayLike, S: ArrayLike, theta: ArrayLike = 0.0) -> np.ndarray:
    """Energy ``E(s) = −½ sᵀ W s + θ·s``.

    Computed as ``−(Σ_μ m_μ² − P N) / (2N) + θ·s`` with ``m = S Xᵀ``: the
    integer part is exact in ``int64``, then divided in ``float64``, then the
    row sum ``Σ_i θ_i s_i`` is added.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    S : array_like
        States, ``(B, N)`` or ``(N,)`` ±1.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(B,)`` (or a 0-d value for a single state).
    """
    X = np.asarray(X)
    n = X.shape[1]
    S2, single = _as_batch(S)
    e = _energy_from_overlaps(_overlaps_int(X, S2), S2, _theta(theta, n), n)
    return e[0] if single else e


def is_fixed_point(X: ArrayLike, S: ArrayLike, theta: ArrayLike = 0.0) -> np.ndarray:
    """Whether no neuron of ``s`` would change under the update rule.

    ``s`` is a fixed point when, for every ``i``, ``h_i > 0`` and ``s_i = +1``,
    or ``h_i < 0`` and ``s_i = −1``, or ``h_i == 0``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    S : array_like
        States, ``(B, N)`` or ``(N,)`` ±1.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.

    Returns
    -------
    numpy.ndarray
        ``bool`` ``(B,)`` (or a 0-d value for a single state).
    """
    S2, single = _as_batch(S)
    h = fields(X, S2, theta)
    ok = ((h > 0) & (S2 > 0)) | ((h < 0) & (S2 < 0)) | (h == 0)
    out = ok.all(axis=1)
    return out[0] if single else out


# ---------------------------------------------------------------------------
# dynamics


def retrieve_async(
    X: ArrayLike,
    queries: ArrayLike,
    orders: ArrayLike,
    *,
    theta: ArrayLike = 0.0,
    max_sweeps: int = 100,
    track_energy: bool = False,
    clamp: ArrayLike | None = None,
) -> AsyncResult:
    """Asynchronous retrieval, one query at a time (the readable oracle).

    Sweep ``t`` (1-based) of query ``q`` visits the neurons
    ``orders[q, t - 1, 0], orders[q, t - 1, 1], ...`` one at a time; each
    update sees every earlier one. Neuron ``i`` gets
    ``A_i = Σ_μ m_μ ξ^μ_i − P s_i`` from an incremental overlap cache ``m``
    (``O(P)`` per neuron, ``m += 2 s_i' ξ_i`` on a flip), then
    ``h_i = A_i / N − θ_i`` and the update rule (ties keep the state).

    A sweep without a flip means converged: the query stops with ``sweeps``
    equal to that sweep's number. If ``max_sweeps`` sweeps run and the last
    one flipped a neuron, ``converged`` is False and ``sweeps == max_sweeps``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    queries : array_like
        Initial states, ``(B, N)`` or ``(N,)`` ±1.
    orders : array_like
        Integer neuron indices, ``(B, max_sweeps, N)``; or ``(max_sweeps, N)``
        shared by all queries; or ``(N,)`` used for every sweep of every query.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.
    max_sweeps : int, optional
        Maximum number of sweeps per query.
    track_energy : bool, optional
        Record the energy after every sweep in ``energy_trace``.
    clamp : array_like or None, optional
        Bool ``(N,)`` or ``(B, N)``, True where a neuron is held at its query
        value: it is skipped wherever the order names it (async) or keeps
        its value (sync); converged means no free neuron changes.

    Returns
    -------
    AsyncResult
        ``states``, ``converged``, ``sweeps``, ``energy``, ``energy_trace``.
    """
    X = np.asarray(X)
    p, n = X.shape
    Q, single = _as_batch(queries)
    b = Q.shape[0]
    th = _theta(theta, n)
    th_list = [float(v) for v in th]
    ords = _batch_orders(orders, b, max_sweeps, n)
    held = _held(clamp, b, n)
    Xt = np.ascontiguousarray(X.T, dtype=np.int64)  # (N, P): row i is ξ_i

    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    sweeps = np.zeros(b, dtype=np.int64)
    traces: list[list[float]] = []
    for q in range(b):
        s = states[q]
        m = Xt.T @ s.astype(np.int64)  # (P,) overlaps, kept exact
        trace = []
        if track_energy:
            trace.append(float(_energy_from_overlaps(m[None], s[None], th, n)[0]))
        for t in range(max_sweeps):
            flipped = False
            for i in ords[q, t].tolist():
                if held is not None and held[q, i]:
                    continue
                si = int(s[i])
                a = int(m @ Xt[i]) - p * si
                h = float(a) / n - th_list[i]
                new = 1 if h > 0 else -1 if h < 0 else si
                if new != si:
                    s[i] = new
                    m += (2 * new) * Xt[i]
                    flipped = True
            sweeps[q] = t + 1
            if track_energy:
                trace.append(float(_energy_from_overlaps(m[None], s[None], th, n)[0]))
            if not flipped:
                converged[q] = True
                break
        traces.append(trace)

    e = energy(X, states, th)
    tr = _trace_array(traces) if track_energy else None
    if single:
        return AsyncResult(states[0], converged[0], sweeps[0], e[0], None if tr is None else tr[0])
    return AsyncResult(states, converged, sweeps, e, tr)


def retrieve_async_batched(
    X: ArrayLike,
    queries: ArrayLike,
    orders: ArrayLike,
    *,
    theta: ArrayLike = 0.0,
    max_sweeps: int = 100,
    clamp: ArrayLike | None = None,
) -> AsyncResult:
    """Asynchronous retrieval vectorised over the batch (the speed reference).

    Same semantics and results as :func:`retrieve_async` (without the energy
    trace). Keeps integer overlaps ``M = S Xᵀ`` (``(B, P)``; ``int32`` when
    ``N P < 2**31``, else ``int64``) and ``Xt = Xᵀ`` ``(N, P)``. For each
    position ``k`` of a sweep ``t``, every active query ``q`` updates its own
    neuron ``i_q = orders[q, t, k]``::

        A_q = Σ_μ M[q, μ] Xt[i_q, μ] − P s_q[i_q]
        h_q = A_q / N − θ[i_q]           → update rule, ties keep s_q[i_q]
        M[q] += 2 s_q[i_q]' Xt[i_q]      for the queries that flipped

    One Python loop runs over the ``N`` positions of a sweep; queries whose
    sweep flipped nothing are dropped from the active set between sweeps.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    queries : array_like
        Initial states, ``(B, N)`` or ``(N,)`` ±1.
    orders : array_like
        As in :func:`retrieve_async`.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.
    max_sweeps : int, optional
        Maximum number of sweeps per query.
    clamp : array_like or None, optional
        As in :func:`retrieve_async`: a held neuron keeps its value where the
        order names it.

    Returns
    -------
    AsyncResult
        ``states``, ``converged``, ``sweeps``, ``energy``;
        ``energy_trace`` is None.
    """
    X = np.asarray(X)
    p, n = X.shape
    Q, single = _as_batch(queries)
    b = Q.shape[0]
    th = _theta(theta, n)
    th_nz = _nonzero_theta(th)
    ords = _batch_orders(orders, b, max_sweeps, n)
    held = _held(clamp, b, n)
    dt: type[np.signedinteger] = np.int32 if n * p < INT32_LIMIT else np.int64
    Xt = np.ascontiguousarray(X.T, dtype=dt)  # (N, P)

    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    sweeps = np.full(b, max_sweeps, dtype=np.int64)

    active = np.arange(b)
    S = states.copy()  # states of the active queries, compacted
    M = S.astype(dt) @ Xt  # (B, P) exact overlaps
    for t in range(max_sweeps):
        if active.size == 0:
            break
        rows = np.arange(active.size)
        order_t = np.ascontiguousarray(ords[active, t].T)  # (N, B_active)
        any_flip = np.zeros(active.size, dtype=bool)
        for k in range(n):
            i = order_t[k]
            Xi = Xt[i]  # (B_active, P) gather
            cur = S[rows, i]
            A = np.einsum("bp,bp->b", M, Xi) - p * cur.astype(dt)
            new = _update(A, cur, None if th_nz is None else th_nz[i], n)
            if held is not None:
                new = np.where(held[active, i], cur, new)
            flip = new != cur
            if flip.any():
                fr = rows[flip]
                S[fr, i[flip]] = new[flip]
                M[fr] += (2 * new[flip].astype(dt))[:, None] * Xi[flip]
                any_flip |= flip
        done = ~any_flip
        if done.any():
            finished = active[done]
            states[finished] = S[done]
            converged[finished] = True
            sweeps[finished] = t + 1
            keep = any_flip
            active, S, M = active[keep], S[keep], M[keep]
    states[active] = S

    e = energy(X, states, th)
    if single:
        return AsyncResult(states[0], converged[0], sweeps[0], e[0], None)
    return AsyncResult(states, converged, sweeps, e, None)


def retrieve_sync(
    X: ArrayLike,
    queries: ArrayLike,
    *,
    theta: ArrayLike = 0.0,
    max_sweeps: int = 100,
    track_energy: bool = False,
    clamp: ArrayLike | None = None,
) -> SyncResult:
    """Synchronous retrieval, batched (the oracle and the speed reference).

    ``s_0`` is the query; for ``t = 1 .. max_sweeps`` every neuron of ``s_t``
    is updated from the snapshot ``s_{t-1}`` (ties keep ``s_{t-1,i}``)::

        A = s_{t-1} (Xᵀ X − P I),   h = A / N − θ

    Then, in this order: if ``s_t == s_{t-1}`` the query converged and stops
    (``sweeps = t``); elif ``t >= 2`` and ``s_t == s_{t-2}`` it is on a
    2-cycle and stops with state ``s_t`` (``cycled``, ``sweeps = t``). A query
    that runs out of sweeps has ``converged = cycled = False`` and
    ``sweeps = max_sweeps``.

    Each step is the factored form a NumPy user would write, on the
    still-active queries only: overlaps ``M = S Xᵀ`` and projections
    ``M X`` (two BLAS GEMMs of ``B·N·P`` multiply-adds each, instead of
    ``B·N²`` with the N×N weights), then the integer field
    ``A = M X − P S`` and the decision with exact tie-keeping as one sign,
    ``s' = sign(2A + s)`` (``2A + s`` is odd, so never zero: ``A = 0``
    keeps ``s``). Every quantity is an integer below ``2 P N + 1`` in
    magnitude, so the products run in ``float32`` while ``2 P N < 2**24``
    (:data:`FLOAT32_EXACT_LIMIT`; exact, every partial sum representable) and
    in ``float64`` beyond. With nonzero thresholds the decision is
    ``h = A / N − θ`` in ``float64``, as everywhere else.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    queries : array_like
        Initial states, ``(B, N)`` or ``(N,)`` ±1.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.
    max_sweeps : int, optional
        Maximum number of synchronous steps.
    track_energy : bool, optional
        Record the energy after every step in ``energy_trace``.
    clamp : array_like or None, optional
        Bool ``(N,)`` or ``(B, N)``, True where a neuron is held at its query
        value: it is skipped wherever the order names it (async) or keeps
        its value (sync); converged means no free neuron changes.

    Returns
    -------
    SyncResult
        ``states``, ``converged``, ``cycled``, ``sweeps``, ``energy``,
        ``energy_trace``.
    """
    X = np.asarray(X)
    p, n = X.shape
    Q, single = _as_batch(queries)
    th = _theta(theta, n)
    th_nz = _nonzero_theta(th)
    ft: type[np.floating] = np.float32 if 2 * p * n < FLOAT32_EXACT_LIMIT else np.float64
    Xf = X.astype(ft)  # (P, N)
    XfT = np.ascontiguousarray(Xf.T)  # (N, P)

    def step(cur: np.ndarray) -> np.ndarray:
        A = (cur @ XfT) @ Xf  # Σ_μ m_μ ξ^μ_i, exact integers
        A -= p * cur  # the integer field (W_ii = 0)
        if th_nz is not None:
            return _update(A, cur, th_nz, n)
        A *= 2
        A += cur  # 2A + s: odd, its sign is the decision with ties kept
        return np.sign(A, out=A)

    states, converged, cycled, sweeps, tr = run_sync(
        Q,
        step,
        lambda S: _energy_from_overlaps(_overlaps_int(X, S), S, th, n),
        max_sweeps,
        track_energy,
        dtype=ft,
        clamp=_held(clamp, Q.shape[0], n),
    )

    e = energy(X, states, th)
    if single:
        return SyncResult(
            states[0],
            converged[0],
            cycled[0],
            sweeps[0],
            e[0],
            None if tr is None else tr[0],
        )
    return SyncResult(states, converged, cycled, sweeps, e, tr)
