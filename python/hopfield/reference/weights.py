r"""Pure-NumPy reference of weight-matrix Hopfield networks.

The oracle for :class:`hopfield.HopfieldNetwork` built from an explicit
weight matrix (``from_weights`` and the non-Hebbian rules), re-exported by
:mod:`hopfield.reference`. NumPy and the standard library only.

Exact fields
------------
Weights are ``float32``, rounded once onto a common fixed-point grid
(:func:`quantize_weights`)::

    k  = min(149, 50 − ⌈log₂ N⌉ − e),   max|W| < 2**e  (e from frexp)
    W' = round_half_even(W · 2**k) · 2**−k          (still float32)

Every partial sum ``Σ_j ±W'_ij`` is then a multiple of ``2**−k`` below
``2**(50−k)``, so ``float64`` holds it exactly: the sums ``S = s W'ᵀ`` are
the same whatever the order of summation (BLAS ``float64`` products,
incremental updates ``S += 2 s_j' W'_{:,j}``, the Rust kernels), and so is
the field ``h = S − θ`` (one rounded subtraction; ``h == 0`` exactly on a
tie). Decisions therefore agree bit for bit.

Energy ``E(s) = −½ sᵀW's + θ·s`` (a sum of many terms: compare with a
tolerance); NaN when ``W'`` is not symmetric, since an asymmetric network
has no energy function.

Update rule: ``s_i ← +1`` if ``h_i > 0``, ``−1`` if ``h_i < 0``, unchanged
on a tie; ``h_i`` includes the diagonal term ``W'_ii s_i``.

Integers times a common factor
------------------------------
Weights that are integers times one factor ``α`` up to float rounding
(:func:`common_factor`: Hebbian weights ``C/N`` computed in floating point
for ``N`` not a power of two, ``X.T @ X / N``) are taken as exactly
``α·C``: the sums are the exact integers ``C s`` times ``α`` (one
rounding), ``h = α·(C s) − θ``, so a tie is ``C s == 0`` exactly, as in
:class:`hopfield.HopfieldNetwork`'s Hebbian path. Weights that are small
integers times a power of two (already exact on the grid) are left as
they are. :func:`exact_form` gives the matrix and factor every function
here computes with.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    _as_batch,
    _batch_orders,
    _ensure_square_fits,
    _held,
    _theta,
    _trace_array,
    run_sync,
)

__all__ = [
    "COMMON_FACTOR_TOL",
    "WeightsAsyncResult",
    "WeightsSyncResult",
    "common_factor",
    "covariance_weights",
    "exact_form",
    "grid_exponent",
    "pseudoinverse_weights",
    "quantize_weights",
    "sequence_recall",
    "sequence_weights",
    "storkey_weights",
    "weight_energy",
    "weight_fields",
    "weights_retrieve_async",
    "weights_retrieve_async_batched",
    "weights_retrieve_sync",
]


class WeightsAsyncResult(NamedTuple):
    """Result of the asynchronous weight-matrix references (as ``AsyncResult``)."""

    states: np.ndarray
    converged: np.ndarray
    sweeps: np.ndarray
    energy: np.ndarray
    energy_trace: np.ndarray | None = None


class WeightsSyncResult(NamedTuple):
    """Result of :func:`weights_retrieve_sync` (as ``SyncResult``)."""

    states: np.ndarray
    converged: np.ndarray
    cycled: np.ndarray
    sweeps: np.ndarray
    energy: np.ndarray
    energy_trace: np.ndarray | None = None


def grid_exponent(W: ArrayLike) -> int:
    """The grid exponent ``k`` of a square weight matrix (see the module docs)."""
    W32 = np.asarray(W, dtype=np.float32)
    n = W32.shape[0]
    top = float(np.max(np.abs(W32))) if W32.size else 0.0
    if top == 0.0:
        return 149
    e = int(np.frexp(top)[1])
    return min(149, 50 - (n - 1).bit_length() - e)


def quantize_weights(W: ArrayLike) -> np.ndarray:
    """Round a square matrix onto the exact grid: ``float32`` ``(N, N)``.

    Parameters
    ----------
    W : array_like
        ``(N, N)`` real weights; converted to ``float32`` first.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(N, N)``: ``round_half_even(W·2**k)·2**−k`` with ``k``
        from :func:`grid_exponent`. Weights of magnitude at least
        ``max|W|·2**(⌈log₂N⌉−26)`` are unchanged.
    """
    W32 = np.asarray(W, dtype=np.float32)
    k = grid_exponent(W32)
    up, down = np.ldexp(1.0, k), np.ldexp(1.0, -k)
    return (np.rint(W32.astype(np.float64) * up) * down).astype(np.float32)


#: How far from an integer ``w/α`` may be (see :func:`common_factor`).
COMMON_FACTOR_TOL = 1e-4


def _small_power_of_two(Wq: np.ndarray) -> bool:
    """Whether grid weights are integers ``|c| ≤ 127`` times a power of two
    (the Rust model's ``i8`` form, which needs no common factor)."""
    n = Wq.shape[0]
    ints = np.rint(Wq.astype(np.float64) * np.ldexp(1.0, grid_exponent(Wq))).astype(np.int64)
    nz = ints[ints != 0]
    if nz.size == 0:
        return True
    shift = int(np.min(np.log2((nz & -nz).astype(np.float64))))
    c = nz >> shift
    top = int(np.max(np.abs(c)))
    return top <= 127 and n * top < 2**31 - 1


def common_factor(W: ArrayLike) -> tuple[np.ndarray, float] | None:
    """Integers ``C`` and a factor ``α`` with ``W ≈ α·C``, or ``None``.

    With ``m`` the smallest non-zero ``|w|`` of the quantised ``float32``
    weights (:func:`quantize_weights`), the first ``α = m/t``
    (``t = 1, 2, 3, 4``) for which every ``w/α`` is within
    :data:`COMMON_FACTOR_TOL` of an integer ``c`` with ``|c| ≤ 127`` (and
    ``N·max|c| < 2**31``); ``α`` is taken as ``1/K`` when ``1/α`` is within
    ``2**-20`` (relative) of an integer ``K``, so that Hebbian ``C/N`` is
    exactly ``C·(1/N)``. The Rust model finds the same ``C`` and ``α``.

    Parameters
    ----------
    W : array_like
        ``(N, N)`` weights.

    Returns
    -------
    (numpy.ndarray, float) or None
        ``int8`` ``C`` ``(N, N)`` and ``α``; ``None`` when there are none.
    """
    w = quantize_weights(W).astype(np.float64)
    nz = np.abs(w[w != 0])
    if nz.size == 0:
        return None
    m = float(nz.min())
    for t in range(1, 5):
        alpha = m / t
        inv = 1.0 / alpha
        k = float(np.rint(inv))
        if k >= 1.0 and abs(inv - k) <= k * 2.0**-20:
            alpha = 1.0 / k  # the reciprocal of an integer up to float32 rounding
        r = w / alpha
        c = np.rint(r)
        if np.all(np.abs(r - c) <= COMMON_FACTOR_TOL) and np.all(np.abs(c) <= 127):
            if w.shape[0] * int(np.max(np.abs(c))) >= 2**31 - 1:
                return None
            return c.astype(np.int8), alpha
    return None


def exact_form(W: ArrayLike) -> tuple[np.ndarray, float]:
    """The float64 matrix ``M`` and factor ``α`` the sums are computed with:
    ``S = α·(M s)``, ``M s`` exact.

    ``M`` is the quantised ``W'`` and ``α = 1`` unless the weights are
    integers times a common factor that is not already a power of two
    (:func:`common_factor`); then ``M = C`` and ``α`` is that factor.

    Parameters
    ----------
    W : array_like
        ``(N, N)`` weights.

    Returns
    -------
    (numpy.ndarray, float)
    """
    Wq = quantize_weights(W)
    if not _small_power_of_two(Wq):
        found = common_factor(Wq)
        if found is not None:
            return found[0].astype(np.float64), found[1]
    return Wq.astype(np.float64), 1.0


def weight_fields(W: ArrayLike, S: ArrayLike, theta: ArrayLike = 0.0) -> np.ndarray:
    """Local fields ``h = W's − θ`` (``float64``; exact sums, see the module docs).

    Parameters
    ----------
    W : array_like
        ``(N, N)`` weights (quantised here).
    S : array_like
        States, ``(B, N)`` or ``(N,)`` ±1.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(B, N)`` (or ``(N,)``).
    """
    Wq, scale = exact_form(W)
    S2, single = _as_batch(S)
    h = (S2.astype(np.float64) @ Wq.T) * scale - _theta(theta, Wq.shape[0])
    return h[0] if single else h


def _energy_q(Wq: np.ndarray, S: np.ndarray, theta: np.ndarray, scale: float) -> np.ndarray:
    Sf = S.astype(np.float64)
    if not np.array_equal(Wq, Wq.T):
        return np.full(S.shape[0], np.nan)
    return -0.5 * (np.einsum("bi,bi->b", Sf, Sf @ Wq.T) * scale) + Sf @ theta


def weight_energy(W: ArrayLike, S: ArrayLike, theta: ArrayLike = 0.0) -> np.ndarray:
    """Energy ``−½ sᵀW's + θ·s``; NaN for an asymmetric ``W'``.

    Parameters
    ----------
    W : array_like
        ``(N, N)`` weights (quantised here).
    S : array_like
        States, ``(B, N)`` or ``(N,)`` ±1.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(B,)`` (or a 0-d value for a single state).
    """
    Wq, scale = exact_form(W)
    S2, single = _as_batch(S)
    e = _energy_q(Wq, S2, _theta(theta, Wq.shape[0]), scale)
    return e[0] if single else e


def _decide(h: np.ndarray, cur: np.ndarray) -> np.ndarray:
    one = np.ones((), dtype=cur.dtype)
    return np.where(h > 0, one, np.where(h < 0, -one, cur))


def weights_retrieve_async(
    W: ArrayLike,
    queries: ArrayLike,
    orders: ArrayLike,
    *,
    theta: ArrayLike = 0.0,
    max_sweeps: int = 100,
    track_energy: bool = False,
    clamp: ArrayLike | None = None,
) -> WeightsAsyncResult:
    """Asynchronous retrieval, one query and one neuron at a time (the oracle).

    Neuron ``i`` takes the sign of ``h_i = S_i − θ_i``, with the exact sums
    ``S = W's`` kept incrementally (``S += 2 s_i' W'_{:,i}`` on a flip); ties
    keep the state. Sweep ``t`` of query ``q`` visits ``orders[q, t - 1]``.
    A sweep without a flip means converged.

    Parameters
    ----------
    W : array_like
        ``(N, N)`` weights (quantised here).
    queries : array_like
        Initial states, ``(B, N)`` or ``(N,)`` ±1.
    orders : array_like
        Neuron orders, ``(B, max_sweeps, N)``, ``(max_sweeps, N)`` or ``(N,)``.
    theta : array_like, optional
        Thresholds, ``(N,)`` or a scalar.
    max_sweeps : int, optional
        Maximum number of sweeps per query.
    track_energy : bool, optional
        Record the energy after every sweep.
    clamp : array_like or None, optional
        Bool ``(N,)`` or ``(B, N)``, True where a neuron is held at its query
        value: it is skipped wherever the order names it (async) or keeps
        its value (sync); converged means no free neuron changes.

    Returns
    -------
    WeightsAsyncResult
    """
    Wq, scale = exact_form(W)
    n = Wq.shape[0]
    Wt = np.ascontiguousarray(Wq.T)  # row j is column j of W'
    Q, single = _as_batch(queries)
    b = Q.shape[0]
    th = _theta(theta, n)
    th_list = [float(v) for v in th]
    ords = _batch_orders(orders, b, max_sweeps, n)
    held = _held(clamp, b, n)
    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    sweeps = np.zeros(b, dtype=np.int64)
    traces: list[list[float]] = []
    for q in range(b):
        s = states[q]
        sums = Wq @ s.astype(np.float64)
        trace = []
        if track_energy:
            trace.append(float(_energy_q(Wq, s[None], th, scale)[0]))
        for t in range(max_sweeps):
            flipped = False
            for i in ords[q, t].tolist():
                if held is not None and held[q, i]:
                    continue
                si = int(s[i])
                h = float(sums[i]) * scale - th_list[i]
                new = 1 if h > 0 else -1 if h < 0 else si
                if new != si:
                    s[i] = new
                    sums += (2.0 * new) * Wt[i]
                    flipped = True
            sweeps[q] = t + 1
            if track_energy:
                trace.append(float(_energy_q(Wq, s[None], th, scale)[0]))
            if not flipped:
                converged[q] = True
                break
        traces.append(trace)
    e = _energy_q(Wq, states, th, scale)
    tr = _trace_array(traces) if track_energy else None
    if single:
        return WeightsAsyncResult(
            states[0], converged[0], sweeps[0], e[0], None if tr is None else tr[0]
        )
    return WeightsAsyncResult(states, converged, sweeps, e, tr)


def weights_retrieve_async_batched(
    W: ArrayLike,
    queries: ArrayLike,
    orders: ArrayLike,
    *,
    theta: ArrayLike = 0.0,
    max_sweeps: int = 100,
) -> WeightsAsyncResult:
    """Asynchronous retrieval vectorised over the batch (the speed reference).

    Same results as :func:`weights_retrieve_async` (no energy trace). Keeps
    the exact sums ``S = Q W'ᵀ`` ``(B, N)`` (one ``float64`` BLAS product);
    for each position ``k`` of a sweep every active query ``q`` decides its
    own neuron ``i_q = orders[q, t, k]`` from ``S[q, i_q] − θ[i_q]``, and the
    queries that flipped add ``2 s' W'_{:,i_q}`` to their sums. Queries whose
    sweep flipped nothing leave the active set.

    Parameters
    ----------
    W, queries, orders, theta, max_sweeps
        As in :func:`weights_retrieve_async`.

    Returns
    -------
    WeightsAsyncResult
    """
    Wq, scale = exact_form(W)
    n = Wq.shape[0]
    Wt = np.ascontiguousarray(Wq.T)
    Q, single = _as_batch(queries)
    b = Q.shape[0]
    th = _theta(theta, n)
    ords = _batch_orders(orders, b, max_sweeps, n)
    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    sweeps = np.full(b, max_sweeps, dtype=np.int64)
    active = np.arange(b)
    S = states.copy()
    sums = S.astype(np.float64) @ Wt  # (B, N): S[q] W'ᵀ, exact
    for t in range(max_sweeps):
        if active.size == 0:
            break
        rows = np.arange(active.size)
        order_t = np.ascontiguousarray(ords[active, t].T)
        any_flip = np.zeros(active.size, dtype=bool)
        for k in range(n):
            i = order_t[k]
            cur = S[rows, i]
            new = _decide(sums[rows, i] * scale - th[i], cur)
            flip = new != cur
            if flip.any():
                fr = rows[flip]
                fi = i[flip]
                S[fr, fi] = new[flip]
                sums[fr] += (2.0 * new[flip])[:, None] * Wt[fi]
                any_flip |= flip
        done = ~any_flip
        if done.any():
            finished = active[done]
            states[finished] = S[done]
            converged[finished] = True
            sweeps[finished] = t + 1
            active, S, sums = active[any_flip], S[any_flip], sums[any_flip]
    states[active] = S
    e = _energy_q(Wq, states, th, scale)
    if single:
        return WeightsAsyncResult(states[0], converged[0], sweeps[0], e[0], None)
    return WeightsAsyncResult(states, converged, sweeps, e, None)


def weights_retrieve_sync(
    W: ArrayLike,
    queries: ArrayLike,
    *,
    theta: ArrayLike = 0.0,
    max_sweeps: int = 100,
    track_energy: bool = False,
    dtype: type = np.float64,
    clamp: ArrayLike | None = None,
) -> WeightsSyncResult:
    """Synchronous retrieval, batched (the oracle and the speed reference).

    ``h = s_{t−1} W'ᵀ − θ`` for all neurons from the same snapshot, ties keep
    the state; stops on a fixed point (``converged``) or a 2-cycle
    (``cycled``), exactly as :func:`hopfield.reference.retrieve_sync`.

    Parameters
    ----------
    W, queries, theta, max_sweeps, track_energy, clamp
        As in :func:`weights_retrieve_async`.
    dtype : {numpy.float64, numpy.float32}
        Arithmetic of the matrix product. ``float64`` is exact (see the
        module docs) and agrees bit for bit with the Rust path. ``float32``
        is the BLAS speed baseline: exact only while every partial sum
        ``Σ_j ±W'_ij`` fits 24 bits on the grid (e.g. Hebbian weights
        ``C/N`` with ``N`` a power of two and ``P·N < 2**24``); otherwise a
        field within rounding of zero may be decided differently.

    Returns
    -------
    WeightsSyncResult
    """
    Wq, scale = exact_form(W)
    n = Wq.shape[0]
    Wt: np.ndarray = np.ascontiguousarray(Wq.T, dtype=dtype)
    Q, single = _as_batch(queries)
    th = _theta(theta, n)
    th_nz = th if np.any(th != 0) else None

    def step(cur: np.ndarray) -> np.ndarray:
        sums = cur @ Wt
        if scale != 1.0:
            sums = sums.astype(np.float64) * scale
        h = sums if th_nz is None else sums.astype(np.float64) - th_nz
        return _decide(h, cur)

    states, converged, cycled, sweeps, tr = run_sync(
        Q,
        step,
        lambda S: _energy_q(Wq, S, th, scale),
        max_sweeps,
        track_energy,
        dtype=dtype,
        clamp=_held(clamp, Q.shape[0], n),
    )
    e = _energy_q(Wq, states, th, scale)
    if single:
        return WeightsSyncResult(
            states[0], converged[0], cycled[0], sweeps[0], e[0], None if tr is None else tr[0]
        )
    return WeightsSyncResult(states, converged, cycled, sweeps, e, tr)


# ---------------------------------------------------------------------------
# learning rules (float64; the network stores them as float32 on the grid)


def storkey_weights(X: ArrayLike) -> np.ndarray:
    """Storkey's incremental rule (Storkey 1997), zero diagonal.

    Starting from ``W = 0``, for each pattern ``ξ`` (row of ``X``) in order,
    with ``H = W ξ``::

        W_ij += (ξ_i ξ_j − ξ_i H_j − H_i ξ_j + 2 W_ij) / N     (i ≠ j)

    which is ``(ξ_i ξ_j − ξ_i h_ji − h_ij ξ_j) / N`` with the local fields
    ``h_ij = Σ_{k≠i,j} W_ik ξ_k = H_i − W_ij ξ_j``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(N, N)``, symmetric, zero diagonal.
    """
    Xf = np.asarray(X, dtype=np.float64)
    n = Xf.shape[1]
    _ensure_square_fits(n, 8 * 4)  # W and the three outer products
    W = np.zeros((n, n))
    for xi in Xf:
        H = W @ xi
        W = W + (np.outer(xi, xi) - np.outer(xi, H) - np.outer(H, xi) + 2 * W) / n
        np.fill_diagonal(W, 0.0)
    return W


def pseudoinverse_weights(X: ArrayLike, zero_diagonal: bool = True) -> np.ndarray:
    """The projection rule ``W = Xᵀ (X Xᵀ)⁻¹ X``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1, linearly independent.
    zero_diagonal : bool, optional
        Zero ``W_ii`` afterwards (default).

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(N, N)``, symmetric.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the patterns are linearly dependent.
    """
    Xf = np.asarray(X, dtype=np.float64)
    _ensure_square_fits(Xf.shape[1], 8 * 2)
    if Xf.shape[0] == 0:
        return np.zeros((Xf.shape[1], Xf.shape[1]))
    C = np.linalg.solve(Xf @ Xf.T, Xf)
    W = Xf.T @ C
    W = (W + W.T) / 2
    if zero_diagonal:
        np.fill_diagonal(W, 0.0)
    return W


def covariance_weights(X: ArrayLike, activity: float) -> np.ndarray:
    """The covariance rule (Tsodyks & Feigel'man 1988) for biased patterns.

    With the mean spin ``m = 2a − 1`` of patterns whose fraction of +1
    entries is ``a = activity``::

        W_ij = Σ_μ (ξ_i^μ − m)(ξ_j^μ − m) / (N (1 − m²)),   W_ii = 0

    and the stabilising threshold ``θ = −m = 1 − 2a``.

    Parameters
    ----------
    X : array_like
        Patterns, ``(P, N)`` ±1.
    activity : float
        ``a`` in (0, 1).

    Returns
    -------
    numpy.ndarray
        ``float64`` ``(N, N)``, symmetric, zero diagonal.
    """
    m = 2.0 * activity - 1.0
    Xc = np.asarray(X, dtype=np.float64) - m
    n = Xc.shape[1]
    _ensure_square_fits(n, 8 * 2)
    W = Xc.T @ Xc / (n * (1.0 - m * m))
    np.fill_diagonal(W, 0.0)
    return W


def sequence_weights(sequences: list[ArrayLike], cyclic: bool = False) -> np.ndarray:
    """The sequence rule ``W = (1/N) Σ_μ ξ^{μ+1} ξ^μᵀ`` over every sequence's
    transitions (with ``cyclic``, last → first too), float32 ``(N, N)`` of the
    exact integer count divided by ``N``.

    Parameters
    ----------
    sequences : list of array_like
        Sequences, each ``(L_k, N)`` ±1.
    cyclic : bool, optional
        Close every sequence into a loop.

    Returns
    -------
    numpy.ndarray
        ``float32`` ``(N, N)``.
    """
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    n = seqs[0].shape[1]
    _ensure_square_fits(n, 8)
    C = np.zeros((n, n), dtype=np.int64)
    for s in seqs:
        nxt = np.roll(s, -1, axis=0) if cyclic else s[1:]
        cur = s if cyclic else s[:-1]
        C += nxt.T @ cur
    return (C.astype(np.float64) / n).astype(np.float32)


def sequence_recall(
    W: ArrayLike, start: ArrayLike, steps: int, theta: ArrayLike = 0.0
) -> np.ndarray:
    """Synchronous replay ``s ← sign(W's − θ)`` (ties keep the state).

    Parameters
    ----------
    W : array_like
        ``(N, N)`` weights (quantised here; exact float64 fields).
    start : array_like
        ``(N,)`` ±1.
    steps : int
        Number of steps.
    theta : array_like, optional
        Thresholds.

    Returns
    -------
    numpy.ndarray
        ``int8`` ``(steps + 1, N)``: the trajectory.
    """
    Wq, scale = exact_form(W)
    th = _theta(theta, Wq.shape[0])
    s = np.array(start, dtype=np.int8)
    out = [s.copy()]
    for _ in range(steps):
        s = _decide((Wq @ s.astype(np.float64)) * scale - th, s)
        out.append(s.copy())
    return np.stack(out)
