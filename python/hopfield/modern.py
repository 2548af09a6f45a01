"""The continuous modern Hopfield network (Ramsauer et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _forget, _validate
from ._core import Modern
from .persist import Persistent, State


@dataclass(frozen=True)
class ModernRetrieval:
    """What :meth:`ModernHopfield.retrieve` returned, per query.

    For a batch of ``B`` queries the fields are arrays with a leading ``B``
    axis; for a single ``(d,)`` query they are scalars and ``states`` has
    shape ``(d_v,)``.

    Attributes
    ----------
    states : numpy.ndarray
        Final states, ``(B, d_v)`` or ``(d_v,)``, of the network's dtype
        (``float32`` by default, or ``float64``).
    steps : numpy.ndarray or int
        Updates applied to each query.
    converged : numpy.ndarray or bool
        Whether the last update moved the query by at most ``tol``
        (max-abs); with ``tol=None`` by at most ``1e-6·(1 + max|ξ|)``
        (float32) or ``1e-12·(1 + max|ξ|)`` (float64).
    """

    states: np.ndarray
    steps: np.ndarray | int
    converged: np.ndarray | bool


def _floats(x: ArrayLike, name: str, dtype: type = np.float32) -> np.ndarray:
    """``x`` as a C-contiguous array of ``dtype`` with finite entries.

    Values converted from another dtype are checked to be finite here (so
    that a float64 too large for float32 is named as such); float32 input
    kept as float32 is checked by the engine, which raises the same
    ``ValueError`` naming the first non-finite or too large value and its index.
    """
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers") from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {raw.dtype}")
    if raw.dtype == np.float32 and dtype is np.float32:
        # Nothing converted, nothing can overflow: the engine checks every
        # value and names the first bad one (a Python pass over the values
        # would cost more than a small retrieval).
        return np.ascontiguousarray(raw)
    with np.errstate(over="ignore"):
        arr: np.ndarray = np.ascontiguousarray(raw, dtype=dtype)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        found = raw[idx] if raw.shape == arr.shape else arr[idx]
        raise ValueError(
            f"{name} must be finite {np.dtype(dtype).name} values; found {found} at index {idx}"
            + (" (too large for float32)" if np.isfinite(found) else "")
        )
    return arr


def _batch(x: ArrayLike, d: int, name: str, dtype: type = np.float32) -> tuple[np.ndarray, bool]:
    return _validate.as_batch(_floats(x, name, dtype), d, name, dim="d", what="values")


def _dtype(dtype: Any) -> type:
    """``dtype`` as numpy.float32 or numpy.float64, else a clear error."""
    try:
        kind = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}") from None
    if kind == np.float32:
        return np.float32
    if kind == np.float64:
        return np.float64
    raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")


class ModernHopfield(Persistent):
    """A modern (continuous) Hopfield network: softmax retrieval over stored patterns.

    With stored patterns ``X`` (rows ``x_μ``, ``(P, d)``) one update of a
    state ``ξ`` is ``ξ ← Xᵀ softmax(β X ξ)``, a descent step on the energy

    ``E(ξ) = −β⁻¹ log Σ_μ exp(β x_μ·ξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²``,
    ``M = max_μ ‖x_μ‖``.

    With separate values ``V`` (``store(keys, values)``) an update returns
    ``Vᵀ softmax(β K q)``: transformer attention, and with
    ``β = 1/√d`` exactly scaled dot-product attention.

    Small β averages all patterns (one global fixed point), large β returns
    the nearest pattern, intermediate β averages a cluster of similar
    patterns (a metastable state). Retrieval usually needs one step.

    ``dtype`` chooses how patterns are stored and updates computed; both
    run the same drivers (query blocks, chunks of patterns, steps, partial
    cues), batched and threaded, with results that never depend on the
    number of threads or on how a batch is split:

    * ``numpy.float32`` (the default): float32 patterns, queries and
      states; scores in float32, softmax sums and value accumulations
      float64 between tiles, weights below ``e^−20`` of the largest
      dropped. Accurate to float32 (about ``1e-6``), and the fastest.
    * ``numpy.float64``: patterns, queries, scores, softmax and states all
      float64, no weight dropped, for fixed points to ``1e-12``; the
      default convergence test of a fixed number of steps is then
      ``1e-12·(1 + max|ξ|)``. It holds twice the bytes.

    With either dtype, when every stored pattern and query is ±1 the scores
    take an exact popcount path (``d − 2·hamming``: the same results, less
    work), ``clamp=``/``known=`` give partial cues, and :meth:`energy` is
    computed in float64 from the stored numbers (exact products, float64
    sums and softmax), accurate to about ``1e-15·|E|``. Save/load keeps the
    dtype.

    Parameters
    ----------
    beta : float
        Inverse temperature β > 0. Can be changed later (``net.beta = ...``).
    threads : int or None
        Threads for the work; ``None`` uses all cores. Results never depend on it.
    dtype : {numpy.float32, numpy.float64}
        Storage and arithmetic of patterns, queries and states (default
        float32; float64 for fixed points to ``1e-12``, see above). Inputs
        of any real dtype are converted to it; results have it.

    Examples
    --------
    >>> import numpy as np, hopfield as hf
    >>> x = np.random.default_rng(0).standard_normal((100, 64)).astype(np.float32)
    >>> net = hf.ModernHopfield(beta=1.0)
    >>> net.store(x)
    >>> res = net.retrieve(x[3] + 0.1)
    >>> int(np.argmax(x @ res.states))
    3
    """

    def __init__(
        self, beta: float = 1.0, *, threads: int | None = None, dtype: Any = np.float32
    ) -> None:
        self._dtype = _dtype(dtype)
        self._engine = Modern(beta, threads, "float64" if self._dtype is np.float64 else "float32")

    def __repr__(self) -> str:
        kind = ", dtype=float64" if self._dtype is np.float64 else ""
        return (
            f"ModernHopfield(beta={self.beta!r}, num_patterns={self.num_patterns}, "
            f"dim={self.dim}, value_dim={self.value_dim}{kind})"
        )

    @property
    def dtype(self) -> np.dtype:
        """The float type of patterns and states (float32 or float64)."""
        return np.dtype(self._dtype)

    @property
    def beta(self) -> float:
        """Inverse temperature β (settable: a finite number > 0)."""
        return self._engine.beta

    @beta.setter
    def beta(self, value: float) -> None:
        self._engine.beta = value

    @property
    def threads(self) -> int | None:
        """Threads for the work (``None``: all cores)."""
        return self._engine.threads

    @property
    def dim(self) -> int:
        """Pattern (key) width d, 0 before the first store."""
        return self._engine.dim

    @property
    def value_dim(self) -> int:
        """Width of what retrieval returns (d without separate values)."""
        return self._engine.value_dim

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns P."""
        return self._engine.num_patterns

    @property
    def hetero(self) -> bool:
        """Whether separate values are stored (hetero-association)."""
        return self._engine.hetero

    @property
    def binary(self) -> bool:
        """Whether every stored pattern is ±1 (±1 queries then use popcount scores)."""
        return self._engine.binary

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored patterns and values, and by the 8-bit key
        codes that screened retrievals have made (float32, calls of 256 or more
        queries on AVX2 and up: a byte per feature, padded to 32, and 28 per
        pattern, kept until the next :meth:`store`)."""
        return self._engine.nbytes

    @property
    def patterns(self) -> np.ndarray:
        """A copy of the stored patterns (keys), ``(P, d)`` of :attr:`dtype`."""
        return self._engine.keys()

    @property
    def values(self) -> np.ndarray | None:
        """A copy of the stored values, ``(P, d_v)`` of :attr:`dtype`, or None."""
        return self._engine.values()

    def _get_state(self) -> State:
        arrays = {"patterns": self.patterns}
        values = self.values
        if values is not None:
            arrays["values"] = values
        params: dict[str, Any] = {"beta": self.beta, "threads": self.threads}
        if self._dtype is np.float64:
            params["dtype"] = "float64"
        return params, arrays

    @classmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> ModernHopfield:
        dtype = np.float64 if params.get("dtype") == "float64" else np.float32
        net = cls(params["beta"], threads=params["threads"], dtype=dtype)
        if arrays["patterns"].shape[0]:
            net.store(arrays["patterns"], arrays.get("values"))
        return net

    def store(self, patterns: ArrayLike, values: ArrayLike | None = None) -> None:
        """Append patterns (and, for hetero-association, their values).

        Parameters
        ----------
        patterns : array_like
            Real ``(P, d)`` (or one ``(d,)``) pattern(s); the first store fixes d.
        values : array_like, optional
            Real ``(P, d_v)`` values, one row per pattern. Either every store
            gives values or none does.
        """
        x = _floats(patterns, "patterns", self._dtype)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2:
            raise ValueError(f"patterns must be 2-D (P, d), got {x.ndim}-D shape {x.shape}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"patterns is empty: got shape {x.shape}")
        if self.num_patterns and x.shape[1] != self.dim:
            raise ValueError(f"patterns must have d = {self.dim} columns, got shape {x.shape}")
        v = None
        if values is not None:
            v = _floats(values, "values", self._dtype)
            if v.ndim == 1 and x.shape[0] == 1:
                v = v.reshape(1, -1)
            if v.ndim != 2 or v.shape[0] != x.shape[0] or v.shape[1] == 0:
                raise ValueError(
                    f"values must be 2-D with one row per pattern ({x.shape[0]}, d_v), "
                    f"got shape {v.shape}"
                )
        self._engine.store(x, v)

    def _check_stored(self) -> None:
        if self.num_patterns == 0:
            raise ValueError("no patterns stored: call store(patterns) first")

    def forget(self, indices: ArrayLike | int) -> None:
        """Remove stored patterns (and their values) exactly.

        Afterwards the memory is, bit for bit, the one that stored only the
        remaining patterns, in their original order: it is rebuilt from its
        options with them. Forgetting every pattern leaves an empty memory.

        Parameters
        ----------
        indices : int or array_like of int
            Rows of :attr:`patterns` to forget: distinct integers in
            ``[-P, P)`` (negative counts from the end). Empty: nothing changes.

        Raises
        ------
        IndexError
            An index out of range.
        ValueError, TypeError
            Repeated indices, indices that are not integers.
        """
        _forget.forget(self, indices)

    def retrieve(
        self,
        queries: ArrayLike,
        *,
        steps: int = 1,
        tol: float | None = None,
        max_steps: int = 100,
        clamp: ArrayLike | None = None,
        known: ArrayLike | None = None,
    ) -> ModernRetrieval:
        """Update queries with ``ξ ← Vᵀ softmax(β K ξ)``.

        Parameters
        ----------
        queries : array_like
            Real ``(B, d)`` queries or one ``(d,)`` query.
        steps : int
            Number of updates when ``tol`` is None (default 1: the paper's
            one-step retrieval).
        tol : float, optional
            Iterate each query until an update moves it by at most ``tol``
            (max-abs), at most ``max_steps`` updates. Give ``steps`` or
            ``tol``, not both.
        max_steps : int
            Cap on the updates with ``tol``.
        clamp : array_like of bool or None
            A partial cue: boolean mask ``(d,)`` (every query) or ``(B, d)``
            (one per query), True where a coordinate is known. After every
            update the clamped coordinates are reset to the query's values,
            so only the others evolve; convergence (``tol``) is then measured
            on the free coordinates (the clamped ones do not move).
            Auto-association only (no separate values).
        known : array_like of bool or None
            Boolean mask ``(d,)`` or ``(B, d)``: each update scores on the
            known coordinates only, ``β Σ_{i known} k_μi ξ_i``, so an unknown
            coordinate contributes nothing to the similarity (whatever value
            the query or the current state holds there). Often given with
            ``clamp`` (the same mask): score on what is known, keep it, and
            fill in the rest.

        Returns
        -------
        ModernRetrieval

        Raises
        ------
        TypeError, ValueError
            A ``clamp`` or ``known`` that is not a boolean array
            (``TypeError``) of shape ``(d,)`` or ``(B, d)`` (``ValueError``),
            or a ``clamp`` on a memory with separate values.
        """
        self._check_stored()
        q, single = _batch(queries, self.dim, "queries", self._dtype)
        masks = {}
        for name, value in (("clamp", clamp), ("known", known)):
            if value is not None:
                m = _validate.mask(value, self.dim, q.shape[0], name)
                masks[name] = np.ascontiguousarray(np.broadcast_to(m, q.shape))
        raw = self._engine.retrieve(q, steps=steps, tol=tol, max_steps=max_steps, **masks)
        states, done, converged = raw.states, raw.steps, raw.converged
        if single:
            return ModernRetrieval(
                states=states[0], steps=int(done[0]), converged=bool(converged[0])
            )
        return ModernRetrieval(states=states, steps=done, converged=converged)

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """``E(ξ)`` of ``(B, d)`` states (float64 ``(B,)``) or of one ``(d,)`` state (float).

        Computed in float64 (exact products of the stored numbers, float64
        sums and log-sum-exp), whatever the dtype: an exact descent step
        never shows a false increase.
        """
        self._check_stored()
        s, single = _batch(states, self.dim, "states", self._dtype)
        e = self._engine.energy(s)
        return float(e[0]) if single else e

    def attention(self, queries: ArrayLike) -> np.ndarray:
        """The softmax weights ``softmax(β K q)``, float64 ``(B, P)`` or ``(P,)``.

        Materialises ``B × P`` numbers: meant for inspection at small sizes.
        """
        self._check_stored()
        q, single = _batch(queries, self.dim, "queries", self._dtype)
        a = self._engine.attention(q)
        return a[0] if single else a
