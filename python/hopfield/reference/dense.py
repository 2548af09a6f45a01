r"""Pure-NumPy reference of the dense associative memory: the oracle of
:class:`hopfield.DenseAssociativeMemory`.

Krotov & Hopfield (2016), Demircigil et al. (2017): patterns ``X`` ``(P, N)``
±1, states ``s`` ±1, overlaps ``m_μ = ξ^μ·s`` (exact integers) and

    E(s) = −Σ_μ F(m_μ)

with ``F(x) = x**d`` (``rectified``: 0 for ``x < 0``) or ``F(x) = exp(βx)``.

Decision of neuron ``i``
------------------------
Let ``t_μ = +1`` where pattern ``μ`` agrees with ``s`` at ``i``
(``ξ^μ_i = s_i``), else ``−1``. Flipping ``s_i`` turns ``m_μ`` into
``m_μ − 2t_μ``, so ``ΔE_i = E(flipped) − E(s)`` is::

    ΔE_i = Σ_{t=+1} [F(m) − F(m−2)] − Σ_{t=−1} [F(m+2) − F(m)]

and the neuron flips when ``ΔE_i < 0`` and keeps its state when
``ΔE_i = 0`` (ties keep the state). This is the comparison of
``Σ_μ F(ξ^μ_i + r_μ)`` with ``Σ_μ F(−ξ^μ_i + r_μ)``,
``r_μ = Σ_{j≠i} ξ^μ_j s_j``.

* **Polynomial**: ``ΔE_i`` is computed exactly, in ``int64`` while
  ``P·5·(N+2)**d < 2**63`` and with Python integers otherwise.
* **Exponential**: ``ΔE_i`` is decided in fixed point. With
  ``M = max_μ m_μ``, ``u_μ = (M − m_μ)/2`` (an integer: all overlaps have
  the parity of ``N``), ``S = min(52, 62 − P.bit_length())`` and the table
  ``T[u] = floor(2**S · exp(−2βu))`` (``math.exp``, the C library's, the
  same function the Rust kernel calls), for ``u = 0 .. N + 1``::

      if some pattern with m_μ = M disagrees with s at i   ("high" frame, c = M + 1)
          D = Σ_{t=+1} T[u_μ + 1] − Σ_{t=−1} T[u_μ]
      else                                                   ("low" frame, c = M − 1)
          D = Σ_{t=+1} T[u_μ] − Σ_{t=−1} T[u_μ − 1]

  ``D`` is ``ΔE_i · 2**S e^{−βc} / (2 sinh β)`` up to truncation of each
  term; the largest term on the larger side is exactly ``2**S``, so no
  ``β·N`` overflows and decisions are resolved to ``P·2**−S`` of the
  dominant term. ``D`` is an exact integer sum: ties (``D = 0``) are exact
  and keep the state, and the order of summation does not matter.

The GEMM form (speed)
---------------------
With ``a_μ = F(m_μ) − F(m_μ − 2)`` (what pattern μ loses when ``s_i`` flips
away from it) and ``b_μ = F(m_μ + 2) − F(m_μ)`` (what it gains when ``s_i``
flips towards it), ``ΔE_i = Σ_{agree} a − Σ_{disagree} b`` becomes one
matrix product for every neuron of a batch::

    2 ΔE = s ⊙ (C X) + Σ_μ (a_μ − b_μ),     C = a + b    ((B, P) @ (P, N))

* **Polynomial**: ``a``, ``b`` are integers, so the product runs as a
  ``float64`` BLAS GEMM, exactly, while ``P · max|a ± b| < 2**53`` (every
  partial sum is then an exactly representable integer); beyond that bound
  the ``int64`` (or Python integer) masked sums above are used.
* **Exponential** (``exact=False`` only): max-shifted, ``w_μ = e^{β(m_μ − M)}``,
  ``C = 2 w sinh 2β`` and ``a − b = −2 w (cosh 2β − 1)``, so the neuron flips
  when ``s_i (w·ξ_i) < tanh(β) Σ_μ w_μ``, in ``float64``. This is the form a
  NumPy user would write; its decisions can differ from the fixed-point
  decision above only when ``|ΔE|`` is within float64 rounding (about
  ``P · 2**−52``) of the dominant term ``e^{βM}``, a near-tie that the
  fixed-point form resolves to ``P · 2**−S`` instead. With the default
  ``exact=True`` the exponential keeps the fixed-point decision, bit for bit
  with the Rust kernel.

Energies: the polynomial ``−Σ_μ F(m_μ)`` exactly, then rounded to float64;
the exponential as ``−(1/β) log Σ_μ exp(β m_μ) = −M − log Σ_μ e^{−β(M−m_μ)}/β``
(``inf`` with no patterns), compared with a tolerance (summation order).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    AsyncResult,
    SyncResult,
    _as_batch,
    _batch_orders,
    _held,
    _trace_array,
    run_sync,
)

__all__ = [
    "dense_energy",
    "dense_fixed_point_bits",
    "dense_fixed_table",
    "dense_retrieve_async",
    "dense_retrieve_async_batched",
    "dense_retrieve_sync",
]

_I64_MAX = 2**63 - 1


def dense_fixed_point_bits(p: int) -> int:
    """``S = min(52, 62 − p.bit_length())``: the fixed-point scale of exponential decisions."""
    return min(52, 62 - min(int(p).bit_length(), 62))


def dense_fixed_table(n: int, p: int, beta: float) -> np.ndarray:
    """``T[u] = floor(2**S · exp(−2βu))`` for ``u = 0 .. n + 1``, ``int64``."""
    s = dense_fixed_point_bits(p)
    return np.array(
        [int(math.ldexp(math.exp(-2.0 * beta * u), s)) for u in range(n + 2)], dtype=np.int64
    )


class _Model:
    """Tables of one (interaction, N, P): everything a decision needs."""

    def __init__(
        self, X: np.ndarray, interaction: str, degree: int, rectified: bool, beta: float
    ) -> None:
        if interaction not in ("polynomial", "exponential"):
            raise ValueError(
                f"interaction must be 'polynomial' or 'exponential', got {interaction!r}"
            )
        self.X = np.asarray(X)
        self._x64: np.ndarray | None = None
        self.p, self.n = self.X.shape
        self.f64_tab: np.ndarray | None = None
        self.exponential = interaction == "exponential"
        self.beta = float(beta)
        n = self.n
        if self.exponential:
            self.T = dense_fixed_table(n, self.p, self.beta)
            self.dtype: Any = np.int64
        else:

            def f(x: int) -> int:
                return 0 if rectified and x < 0 else x**degree

            wide = max(self.p, 1) * 5 * (n + 2) ** degree > _I64_MAX
            self.dtype = object if wide else np.int64
            ms = range(-n, n + 1, 2)
            self.h_tab = np.array([f(m + 2) - f(m - 2) for m in ms], dtype=self.dtype)
            self.b_tab = np.array([f(m + 2) - f(m) for m in ms], dtype=self.dtype)
            self.f_tab = np.array([f(m) for m in ms], dtype=object)
            amb = [f(m) - f(m - 2) - (f(m + 2) - f(m)) for m in ms]  # a − b
            bound = max(self.p, 1) * max(max(abs(int(x)) for x in self.h_tab), *map(abs, amb))
            # The GEMM form's tables, when every partial sum is exact in float64.
            self.gemm_exact = bound < 2**53
            if self.gemm_exact:
                self.c_tab = np.array([int(x) for x in self.h_tab], dtype=np.float64)
                self.amb_tab = np.array(amb, dtype=np.float64)
            # Energies as float64 sums, when every partial sum is an exact integer.
            if max(self.p, 1) * max(abs(int(x)) for x in self.f_tab) < 2**53:
                self.f64_tab = np.array([int(x) for x in self.f_tab], dtype=np.float64)

    def x64(self) -> np.ndarray:
        """The patterns as float64 (no copy when given so), for BLAS products:
        overlaps of ±1 rows are integers of magnitude at most N, exact."""
        if self._x64 is None:
            self._x64 = np.asarray(self.X, dtype=np.float64)
        return self._x64

    # -- one query, readable -------------------------------------------------

    def delta(self, m: np.ndarray, agree: np.ndarray) -> int:
        """``ΔE`` (polynomial) or ``D`` (exponential) of one neuron, exactly."""
        if self.exponential:
            if self.p == 0:
                return 0
            top = m.max()
            u = (top - m) // 2
            T = self.T
            if np.any((m == top) & ~agree):  # high frame, c = M + 1
                return int(T[u[agree] + 1].sum()) - int(T[u[~agree]].sum())
            return int(T[u[agree]].sum()) - int(T[u[~agree] - 1].sum())  # low frame
        v = (m + self.n) // 2
        return int(self.h_tab[v][agree].sum()) - int(self.b_tab[v].sum())

    def energy_one(self, m: np.ndarray) -> float:
        if self.exponential:
            if self.p == 0:
                return math.inf
            top = int(m.max())
            z = float(np.exp(-self.beta * (top - m).astype(np.float64)).sum())
            return -(top + math.log(z) / self.beta)
        return float(-sum(self.f_tab[(m + self.n) // 2].tolist()))

    # -- many queries ---------------------------------------------------------

    def tables(self, M: np.ndarray) -> dict[str, np.ndarray]:
        """Per-query arrays for overlaps ``M`` ``(B, P)``: the masked-sum
        weights and totals of the decision (see :meth:`decide`)."""
        if self.exponential:
            T = self.T
            top = M.max(axis=1, keepdims=True) if self.p else np.zeros((M.shape[0], 1), M.dtype)
            U = (top - M) // 2
            before = np.where(U >= 1, T[np.maximum(U - 1, 0)], 0)
            return {
                "hi": T[U] + T[U + 1],
                "hi_total": T[U].sum(axis=1),
                "lo": T[U] + before,
                "lo_total": before.sum(axis=1),
                "top": U == 0,
            }
        V = (M + self.n) // 2
        return {"h": self.h_tab[V], "total": self.b_tab[V].sum(axis=1)}

    def decide(self, tab: dict[str, np.ndarray], agree: np.ndarray) -> np.ndarray:
        """``ΔE`` / ``D`` of one neuron per query, given ``agree`` ``(B, P)``:
        ``Σ_{agree} (a + b) − Σ_all b`` (the same integer as :meth:`delta`)."""
        if self.exponential:
            high = (tab["top"] & ~agree).any(axis=1)
            hsel = np.where(high[:, None], tab["hi"], tab["lo"])
            total = np.where(high, tab["hi_total"], tab["lo_total"])
            return np.where(agree, hsel, 0).sum(axis=1) - total
        return np.where(agree, tab["h"], 0).sum(axis=1) - tab["total"]

    # -- the GEMM form --------------------------------------------------------

    def gemm_ok(self, exact: bool) -> bool:
        """Whether the float64 GEMM form decides as this model must."""
        if self.exponential:
            return not exact
        return self.gemm_exact

    def gemm_terms(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``C`` ``(B, P)`` and ``e`` ``(B,)`` of overlaps ``M`` (float64):
        the neuron flips when ``s_i (C ξ_i) + e < 0`` (see the module docstring)."""
        if self.exponential:
            if self.p == 0:
                return np.zeros(M.shape), np.zeros(M.shape[0])
            W = M - M.max(axis=1, keepdims=True)
            W *= self.beta
            np.exp(W, out=W)
            return W, -math.tanh(self.beta) * W.sum(axis=1)
        V = ((M + self.n) // 2).astype(np.intp)
        return self.c_tab[V], self.amb_tab[V].sum(axis=1)

    def energies(self, S: np.ndarray) -> np.ndarray:
        """The energy of every row of ``S``, as :meth:`energy_one` gives it
        (overlaps from one exact float64 product; the polynomial's sums in
        float64 while exact, the exponential's log-sum-exp row by row)."""
        M = np.asarray(S).astype(np.float64) @ self.x64().T
        if self.exponential:
            if self.p == 0:
                return np.full(M.shape[0], math.inf)
            top = M.max(axis=1, keepdims=True)
            z = np.exp(-self.beta * (top - M)).sum(axis=1)
            return -(top[:, 0] + np.log(z) / self.beta)
        if self.f64_tab is not None:
            return -self.f64_tab[((M + self.n) // 2).astype(np.intp)].sum(axis=1)
        return np.array([self.energy_one(m) for m in M.astype(np.int64)], dtype=np.float64)


def _model(X: ArrayLike, kw: dict[str, Any]) -> _Model:
    return _Model(np.asarray(X), **kw)


def dense_energy(
    X: ArrayLike,
    S: ArrayLike,
    *,
    interaction: str = "polynomial",
    degree: int = 3,
    rectified: bool = True,
    beta: float = 1.0,
) -> np.ndarray:
    """Energy of states ``(B, N)`` → ``(B,)`` (a 0-d value for one state ``(N,)``).

    ``−Σ_μ F(ξ^μ·s)`` exactly (then float64) for the polynomial,
    ``−(1/β) log Σ_μ exp(β ξ^μ·s)`` (max-shifted) for the exponential.
    """
    model = _model(X, dict(interaction=interaction, degree=degree, rectified=rectified, beta=beta))
    S2, single = _as_batch(S)
    e = model.energies(S2)
    return e[0] if single else e


def dense_retrieve_async(
    X: ArrayLike,
    queries: ArrayLike,
    orders: ArrayLike,
    *,
    interaction: str = "polynomial",
    degree: int = 3,
    rectified: bool = True,
    beta: float = 1.0,
    max_sweeps: int = 100,
    track_energy: bool = False,
    clamp: ArrayLike | None = None,
) -> AsyncResult:
    """Asynchronous retrieval, one query and one neuron at a time (the readable oracle).

    Sweep ``t`` of query ``q`` visits ``orders[q, t - 1]`` (shapes as in
    :func:`hopfield.reference.retrieve_async`); neuron ``i`` takes the
    decision of the module docstring from the overlaps ``m`` kept exact
    (``m += 2 s_i' ξ_i`` on a flip). A sweep without a flip means converged.
    ``clamp`` (bool ``(N,)`` or ``(B, N)``): neurons held at their query
    values, skipped wherever the order names them.
    """
    model = _model(X, dict(interaction=interaction, degree=degree, rectified=rectified, beta=beta))
    p, n = model.p, model.n
    Q, single = _as_batch(queries)
    b = Q.shape[0]
    ords = _batch_orders(orders, b, max_sweeps, n)
    held = _held(clamp, b, n)
    Xt = np.ascontiguousarray(model.X.T, dtype=np.int64)  # (N, P)

    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    sweeps = np.zeros(b, dtype=np.int64)
    traces: list[list[float]] = []
    for q in range(b):
        s = states[q]
        m = Xt.T @ s.astype(np.int64) if p else np.zeros(0, dtype=np.int64)
        trace = [model.energy_one(m)] if track_energy else []
        for t in range(max_sweeps):
            flipped = False
            for i in ords[q, t].tolist():
                if held is not None and held[q, i]:
                    continue
                si = int(s[i])
                if model.delta(m, Xt[i] == si) < 0:
                    s[i] = -si
                    m += (-2 * si) * Xt[i]
                    flipped = True
            sweeps[q] = t + 1
            if track_energy:
                trace.append(model.energy_one(m))
            if not flipped:
                converged[q] = True
                break
        traces.append(trace)

    e = model.energies(states)
    tr = _trace_array(traces) if track_energy else None
    if single:
        return AsyncResult(states[0], converged[0], sweeps[0], e[0], None if tr is None else tr[0])
    return AsyncResult(states, converged, sweeps, e, tr)


def dense_retrieve_async_batched(
    X: ArrayLike,
    queries: ArrayLike,
    orders: ArrayLike,
    *,
    interaction: str = "polynomial",
    degree: int = 3,
    rectified: bool = True,
    beta: float = 1.0,
    max_sweeps: int = 100,
    exact: bool = True,
) -> AsyncResult:
    """Asynchronous retrieval vectorised over the batch (the speed reference).

    Same decisions and results as :func:`dense_retrieve_async` (no energy
    trace). Keeps exact overlaps ``M`` ``(B, P)`` and the per-query decision
    arrays (:meth:`_Model.tables`); for each position of a sweep every
    active query decides its own neuron with one masked sum over ``P``, and
    the queries that flipped update ``M`` and their arrays. Queries whose
    sweep flipped nothing leave the active set.

    Where the GEMM form applies (the polynomial within its exact bound; the
    exponential with ``exact=False``, see the module docstring) a decision
    is one float64 dot product per query instead: ``s_i (c·ξ_i) + e < 0``
    with ``c``, ``e`` kept per query and rebuilt for the queries that flipped.
    """
    model = _model(X, dict(interaction=interaction, degree=degree, rectified=rectified, beta=beta))
    n = model.n
    Q, single = _as_batch(queries)
    b = Q.shape[0]
    ords = _batch_orders(orders, b, max_sweeps, n)
    if model.gemm_ok(exact):
        states, converged, sweeps = _async_batched(model, Q, ords, max_sweeps, _GemmDecisions())
    else:
        states, converged, sweeps = _async_batched(model, Q, ords, max_sweeps, _MaskedDecisions())

    e = model.energies(states)
    if single:
        return AsyncResult(states[0], converged[0], sweeps[0], e[0], None)
    return AsyncResult(states, converged, sweeps, e, None)


class _MaskedDecisions:
    """Exact decisions: one masked integer sum over P per query (:meth:`_Model.decide`)."""

    dtype: Any = np.int8

    def start(self, model: _Model, S: np.ndarray, Xt: np.ndarray) -> dict[str, np.ndarray]:
        M = S.astype(np.int64) @ Xt.astype(np.int64)  # (B, P)
        return {"M": M, **model.tables(M)}

    def flips(
        self, model: _Model, a: dict[str, np.ndarray], Xi: np.ndarray, cur: np.ndarray
    ) -> np.ndarray:
        return model.decide(a, Xi == cur[:, None]) < 0

    def refresh(self, model: _Model, a: dict[str, np.ndarray], fr: np.ndarray) -> None:
        for key, value in model.tables(a["M"][fr]).items():
            a[key][fr] = value


class _GemmDecisions:
    """The GEMM form's decisions: one float64 dot per query, ``s_i (c·ξ_i) + e < 0``."""

    dtype: Any = np.float64

    def start(self, model: _Model, S: np.ndarray, Xt: np.ndarray) -> dict[str, np.ndarray]:
        M = S @ Xt  # (B, P), exact
        C, e = model.gemm_terms(M)
        return {"M": M, "C": C, "e": e}

    def flips(
        self, model: _Model, a: dict[str, np.ndarray], Xi: np.ndarray, cur: np.ndarray
    ) -> np.ndarray:
        return cur * np.einsum("bp,bp->b", a["C"], Xi) + a["e"] < 0

    def refresh(self, model: _Model, a: dict[str, np.ndarray], fr: np.ndarray) -> None:
        a["C"][fr], a["e"][fr] = model.gemm_terms(a["M"][fr])


def _async_batched(
    model: _Model,
    Q: np.ndarray,
    ords: np.ndarray,
    max_sweeps: int,
    form: _MaskedDecisions | _GemmDecisions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batched async loop: for each position of a sweep every active
    query decides its own neuron (``form``); the queries that flipped update
    their overlaps ``M`` and the form's per-query arrays; queries whose sweep
    flipped nothing leave the active set."""
    n, b = model.n, Q.shape[0]
    Xt = np.ascontiguousarray(model.X.T, dtype=form.dtype)  # (N, P)
    states = np.array(Q, dtype=np.int8, order="C")
    converged = np.zeros(b, dtype=bool)
    sweeps = np.full(b, max_sweeps, dtype=np.int64)
    active = np.arange(b)
    S = states.astype(form.dtype)
    arrays = form.start(model, S, Xt)
    for t in range(max_sweeps):
        if active.size == 0:
            break
        rows = np.arange(active.size)
        order_t = np.ascontiguousarray(ords[active, t].T)  # (N, B_active)
        any_flip = np.zeros(active.size, dtype=bool)
        for k in range(n):
            i = order_t[k]
            Xi = Xt[i]  # (B_active, P)
            cur = S[rows, i]
            flip = form.flips(model, arrays, Xi, cur)
            if flip.any():
                fr = rows[flip]
                new = -cur[flip]
                S[fr, i[flip]] = new
                arrays["M"][fr] += 2 * new.astype(arrays["M"].dtype)[:, None] * Xi[flip]
                form.refresh(model, arrays, fr)
                any_flip |= flip
        done = ~any_flip
        if done.any():
            finished = active[done]
            states[finished] = S[done]
            converged[finished] = True
            sweeps[finished] = t + 1
            keep = any_flip
            active, S = active[keep], S[keep]
            arrays = {key: value[keep] for key, value in arrays.items()}
    states[active] = S
    return states, converged, sweeps


def dense_retrieve_sync(
    X: ArrayLike,
    queries: ArrayLike,
    *,
    interaction: str = "polynomial",
    degree: int = 3,
    rectified: bool = True,
    beta: float = 1.0,
    max_sweeps: int = 100,
    track_energy: bool = False,
    exact: bool = True,
    clamp: ArrayLike | None = None,
) -> SyncResult:
    """Synchronous retrieval, batched (the oracle and the speed reference).

    Every neuron of ``s_t`` takes the decision of the module docstring from
    the snapshot ``s_{t-1}``; stopping rules as in
    :func:`hopfield.reference.retrieve_sync` (fixed point → converged;
    ``s_t == s_{t-2}`` → cycled). Each step is matrix-shaped: exact overlaps
    ``M = S Xᵀ``, the per-query arrays, then every masked sum at once as an
    exact integer product with the 0/1 matrix ``[ξ^μ_i = +1]``
    (``Σ_{agree} h = h·X⁺`` for ``s_i = +1``, ``Σ h − h·X⁺`` for ``s_i = −1``).

    Where the GEMM form applies (the polynomial within its exact bound; the
    exponential with ``exact=False``, see the module docstring) a step is
    instead two float64 BLAS products, ``M = S Xᵀ`` and ``C X``, and the
    decision ``s ⊙ (C X) + e < 0``. ``clamp`` (bool ``(N,)`` or ``(B, N)``):
    neurons that keep their query values.
    """
    model = _model(X, dict(interaction=interaction, degree=degree, rectified=rectified, beta=beta))
    Q, single = _as_batch(queries)
    held = _held(clamp, Q.shape[0], model.n)
    if model.gemm_ok(exact):
        Xf = model.x64()  # (P, N); BLAS takes the transpose as it is

        def gemm_step(cur: np.ndarray) -> np.ndarray:
            C, e = model.gemm_terms(cur @ Xf.T)
            D = C @ Xf
            D *= cur
            D += e[:, None]
            return np.where(D < 0, -cur, cur)

        states, converged, cycled, sweeps, tr = run_sync(
            Q, gemm_step, model.energies, max_sweeps, track_energy, dtype=np.float64, clamp=held
        )
        e = model.energies(states)
        if single:
            return SyncResult(
                states[0], converged[0], cycled[0], sweeps[0], e[0], None if tr is None else tr[0]
            )
        return SyncResult(states, converged, cycled, sweeps, e, tr)
    Xi64 = model.X.astype(np.int64)
    plus = (model.X > 0).astype(model.dtype)  # (P, N)

    def masked(h: np.ndarray, pos: np.ndarray) -> np.ndarray:
        hp = h @ plus  # (B, N): Σ over ξ_i = +1
        return np.where(pos, hp, h.sum(axis=1, keepdims=True) - hp)

    def step(cur: np.ndarray) -> np.ndarray:
        M = cur.astype(np.int64) @ Xi64.T
        tab = model.tables(M)
        pos = cur > 0
        if model.exponential:
            top = tab["top"].astype(np.int64)
            top_plus = top @ plus.astype(np.int64)  # top patterns with ξ_i = +1
            top_dis = np.where(pos, top.sum(axis=1, keepdims=True) - top_plus, top_plus)
            high = top_dis > 0
            d = np.where(
                high,
                masked(tab["hi"], pos) - tab["hi_total"][:, None],
                masked(tab["lo"], pos) - tab["lo_total"][:, None],
            )
        else:
            d = masked(tab["h"], pos) - tab["total"][:, None]
        return np.where(d < 0, -cur, cur).astype(np.int8)

    states, converged, cycled, sweeps, tr = run_sync(
        Q, step, model.energies, max_sweeps, track_energy, clamp=held
    )
    e = model.energies(states)
    if single:
        return SyncResult(
            states[0], converged[0], cycled[0], sweeps[0], e[0], None if tr is None else tr[0]
        )
    return SyncResult(states, converged, cycled, sweeps, e, tr)
