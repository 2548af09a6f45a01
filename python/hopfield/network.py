"""The classical Hopfield network."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _dynamics, _validate
from ._memory import ensure_fits
from .persist import Persistent, State, pack_spins, unpack_spins
from .results import Retrieval


class HopfieldNetwork(Persistent):
    """A classical Hopfield network of ``n`` binary neurons (Hebbian rule).

    Patterns are kept bit-packed (one bit per neuron per pattern) and the
    local fields are computed through them, so no ``N × N`` matrix is ever
    needed to retrieve:

    * weights ``W = (1/N) Σ_μ ξ^μ ξ^μᵀ`` with ``W_ii = 0``;
    * energy ``E(s) = -½ sᵀWs + θᵀs``;
    * local field ``h_i = Σ_j W_ij s_j - θ_i``; a neuron takes the sign of
      its field and keeps its state when the field is exactly zero.

    All of this is exact integer arithmetic up to the final division by N.

    Parameters
    ----------
    n : int
        Number of neurons, at least 1.
    threshold : float or array_like, optional
        The thresholds θ: a scalar for every neuron or an array of ``n``
        finite values. Default 0.

    Examples
    --------
    >>> import hopfield as hf
    >>> patterns = hf.random_patterns(10, 256, seed=0)
    >>> net = hf.HopfieldNetwork(256)
    >>> net.store(patterns)
    >>> res = net.retrieve(hf.corrupt(patterns, flip=0.1, seed=1), seed=2)
    >>> bool((res.states == patterns).all())
    True
    """

    _memory: _core.Hebbian | _core.Weights
    _rule: str | None
    _stored: np.ndarray | None

    def __init__(self, n: int, *, threshold: float | ArrayLike = 0.0) -> None:
        n = _validate.positive_int(n, "n")
        if n > _core.MAX_N:
            raise ValueError(f"n must be at most {_core.MAX_N}, got {n}")
        self._memory = _core.Hebbian(n, _validate.threshold(threshold, n))
        self._rule = "hebbian"
        self._stored = None

    @classmethod
    def from_weights(
        cls, weights: ArrayLike, *, threshold: float | ArrayLike = 0.0
    ) -> HopfieldNetwork:
        """A network over a weight matrix you bring.

        Any real square matrix is accepted. It is converted to ``float32``
        and rounded once onto a fixed-point grid fine enough that every
        weight of magnitude at least ``max|W|·2**(⌈log₂N⌉−26)`` is unchanged
        (:func:`hopfield.reference.quantize_weights`); on that grid every
        field is an exact ``float64`` sum, so retrieval decisions (and ties)
        do not depend on the order of summation and agree bit for bit with
        :mod:`hopfield.reference`. The field ``h_i = Σ_j W_ij s_j − θ_i``
        includes the diagonal term.

        * Symmetric with a zero diagonal: the energy ``E(s) = −½ sᵀWs + θᵀs``
          never increases under async updates (the classical guarantee).
        * Symmetric with a non-zero diagonal: the energy is defined; async
          descent is still monotone while the diagonal is non-negative.
        * Asymmetric: accepted, and both update modes run (sync is the usual
          choice; convergence is not guaranteed, ``max_sweeps`` bounds the
          run). There is no energy function: :meth:`energy` raises
          ``ValueError`` and ``Retrieval.energy`` is NaN.

        Parameters
        ----------
        weights : array_like
            ``(N, N)`` real, finite weights. Never modified.
        threshold : float or array_like, optional
            The thresholds θ: a scalar or ``N`` finite values. Default 0.

        Returns
        -------
        HopfieldNetwork
            A network with ``rule=None``; it has no stored patterns and
            :meth:`store` is not available.

        Examples
        --------
        >>> import numpy as np, hopfield as hf
        >>> net = hf.HopfieldNetwork.from_weights(np.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> net.retrieve([1, -1], update="async", order="sequential", seed=0).states
        array([-1, -1], dtype=int8)
        """
        w = _validate.weight_matrix(weights, "weights")
        n = w.shape[0]
        net = cls.__new__(cls)
        net._memory = _core.Weights(w, _validate.threshold(threshold, n))
        net._rule = None
        net._stored = None
        return net

    def __repr__(self) -> str:
        rule = "" if self._rule == "hebbian" else f", rule={self._rule!r}"
        return f"HopfieldNetwork(n={self.n}{rule}, num_patterns={self.num_patterns})"

    @property
    def rule(self) -> str | None:
        """The learning rule (``"hebbian"``, ...), or ``None`` for :meth:`from_weights`."""
        return self._rule

    @property
    def symmetric(self) -> bool:
        """Whether the weight matrix is symmetric (always true for learnt rules
        other than sequences; checked exactly for :meth:`from_weights`)."""
        return isinstance(self._memory, _core.Hebbian) or self._memory.symmetric

    @property
    def n(self) -> int:
        """Number of neurons."""
        return self._memory.n

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
        if isinstance(self._memory, _core.Hebbian):
            return self._memory.num_patterns
        return 0 if self._stored is None else self._stored.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes of memory the network holds: ``P·⌈N/64⌉·8`` for the packed
        patterns plus ``8·N`` for the thresholds."""
        return self._memory.nbytes

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns, a new ``int8`` array ``(P, N)``."""
        if isinstance(self._memory, _core.Hebbian):
            return self._memory.patterns()
        if self._stored is None:
            return np.empty((0, self.n), dtype=np.int8)
        return self._stored.copy()

    @property
    def threshold(self) -> np.ndarray:
        """The thresholds θ, a new float64 array ``(N,)``."""
        return self._memory.threshold()

    @property
    def weights(self) -> np.ndarray:
        """The weights ``W``, a new ``(N, N)`` array.

        Hebbian: float64, zero diagonal, materialised on request (retrieval
        never needs it). Other rules and :meth:`from_weights`: the stored
        float32 matrix (rounded onto the exact grid). Raises ``MemoryError``
        when a copy cannot fit.
        """
        return self._memory.weights()

    def _get_state(self) -> State:
        return {"n": self.n}, {"patterns": pack_spins(self.patterns), "threshold": self.threshold}

    @classmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> HopfieldNetwork:
        net = cls(params["n"], threshold=arrays["threshold"])
        patterns = unpack_spins(arrays["patterns"], net.n)
        if len(patterns):
            net.store(patterns)
        return net

    def store(self, patterns: ArrayLike) -> None:
        """Store patterns, adding to those already stored.

        Parameters
        ----------
        patterns : array_like
            One pattern ``(N,)`` or several ``(P, N)``, as spins (bool, {0, 1}
            or {-1, +1}, any numeric dtype).
        """
        if self._rule is None:
            raise ValueError(
                "store: this network was built from_weights and has no learning rule; "
                "build HopfieldNetwork(n, rule=...) to learn patterns"
            )
        batch, _ = _validate.spin_batch(patterns, self.n, "patterns")
        assert isinstance(self._memory, _core.Hebbian)
        self._memory.store(batch)

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """Energy ``E(s) = -½ sᵀWs + θᵀs`` of one state ``(N,)`` or a batch ``(B, N)``.

        Raises ``ValueError`` for an asymmetric weight matrix, which has no
        energy function.
        """
        if not self.symmetric:
            raise ValueError(
                "energy: the weight matrix is not symmetric, so the network has no energy "
                "function (the dynamics descend nothing); fields and retrieve still work"
            )
        batch, single = _validate.spin_batch(states, self.n, "states")
        e = self._memory.energy(batch)
        return float(e[0]) if single else e

    def fields(self, states: ArrayLike) -> np.ndarray:
        """Local fields ``h = W s - θ``, shape ``(N,)`` or ``(B, N)``."""
        batch, single = _validate.spin_batch(states, self.n, "states")
        h = self._memory.fields(batch)
        return h[0] if single else h

    def overlaps(self, states: ArrayLike) -> np.ndarray:
        """Overlaps ``ξ^μ·s / N`` with every stored pattern, ``(P,)`` or ``(B, P)``."""
        batch, single = _validate.spin_batch(states, self.n, "states")
        if isinstance(self._memory, _core.Hebbian):
            m = self._memory.overlaps(batch)
        else:
            m = _core.overlaps(batch, self.patterns)
        return m[0] if single else m

    def retrieve(
        self,
        queries: ArrayLike,
        *,
        update: str = "async",
        max_sweeps: int = 100,
        order: str = "random",
        seed: int | None = None,
        threads: int | None = None,
        track_energy: bool = False,
        temperature: float = 0.0,
        sweeps: int | None = None,
        schedule: ArrayLike | tuple[str, float, float] | None = None,
    ) -> Retrieval:
        """Run the dynamics from each query: descent until it converges, or
        a fixed number of stochastic (Glauber) sweeps at a temperature.

        Parameters
        ----------
        queries : array_like
            One query ``(N,)`` or a batch ``(B, N)`` of spins. Never modified.
        update : {"async", "sync"}
            ``"async"``: one neuron at a time, each update seeing the earlier
            ones; a sweep updates every neuron once. Converged means a whole
            sweep without a flip; the energy never increases.
            ``"sync"``: every neuron from the same snapshot; converged means a
            fixed point, and a 2-cycle is detected and reported (``cycled``).
        max_sweeps : int
            Most sweeps (async) or steps (sync), at least 1.
        order : {"random", "sequential"}
            Async neuron order: a fresh random permutation per sweep drawn
            from the query's own stream (see :func:`hopfield.sweep_orders`),
            or ``0..N-1`` every sweep.
        seed : int or None
            Seed in ``[0, 2**64)``. Results depend only on the inputs and the
            seed, never on ``threads``. ``None`` draws a fresh seed.
        threads : int or None
            ``None`` uses all cores; an int runs on a pool of that many threads.
        track_energy : bool
            Record the energy after every sweep in ``energy_trace``.
        temperature : float
            ``0`` (default): deterministic descent as above. ``T > 0``:
            stochastic (Glauber) dynamics, asynchronous only: each update sets
            ``s_i = +1`` with probability ``1 / (1 + exp(-gap_i / T))``, where
            ``gap_i = E(s_i=-1) - E(s_i=+1) = 2 h_i``, for exactly ``sweeps``
            sweeps. Each update draws one uniform from the query's own stream
            (:func:`hopfield.acceptance_uniforms`), so results depend only on
            the inputs and ``seed``.
        sweeps : int or None
            Number of stochastic sweeps (default 100, or the length of an
            array ``schedule``). Only for stochastic runs; deterministic runs
            use ``max_sweeps``.
        schedule : tuple or array_like or None
            Annealing instead of a constant ``temperature``:
            ``("geometric", T0, T1)`` (``T_k = T0 (T1/T0)^(k/(sweeps-1))``,
            both > 0), ``("linear", T0, T1)`` (both >= 0; sweeps at ``T = 0``
            are deterministic) or a 1-D array with one temperature per sweep.

        Returns
        -------
        Retrieval
            Final states and, per query, ``converged``, ``sweeps``, ``energy``,
            ``cycled`` and optionally ``energy_trace``. For a stochastic run,
            ``sweeps`` is the number of sweeps run (always ``sweeps``),
            ``converged`` says whether the final state is a fixed point of the
            deterministic dynamics (no neuron's field disagrees with it: a
            local minimum of the energy), ``energy`` is the energy of the
            final state (not the lowest one visited), ``cycled`` is False and
            ``energy_trace`` has the energy after every sweep.
        """
        plan = _dynamics.schedule(
            update=update,
            max_sweeps=max_sweeps,
            order=order,
            seed=seed,
            threads=threads,
            track_energy=track_energy,
            temperature=temperature,
            sweeps=sweeps,
            schedule=schedule,
        )
        batch, single = _validate.spin_batch(queries, self.n, "queries")
        return _dynamics.retrieval(self._memory.retrieve(batch, plan), single)


def sweep_orders(n: int, sweeps: int, *, seed: int, count: int = 1, first: int = 0) -> np.ndarray:
    """The neuron orders that ``order="random"`` uses.

    Query number ``q`` of a batch (its row index) under ``seed`` updates its
    neurons in sweep ``t`` in the order ``sweep_orders(n, sweeps, seed=seed,
    count=B)[q, t]``. Pass these to :func:`hopfield.reference.retrieve_async`
    to reproduce a Rust retrieval exactly in NumPy.

    Parameters
    ----------
    n : int
        Number of neurons.
    sweeps : int
        Number of sweeps.
    seed : int
        The seed given to ``retrieve``.
    count : int
        Number of queries.
    first : int
        Index of the first query.

    Returns
    -------
    numpy.ndarray
        ``int64`` array ``(count, sweeps, n)``.
    """
    n = _validate.positive_int(n, "n")
    sweeps = _validate.positive_int(sweeps, "sweeps", minimum=0)
    count = _validate.positive_int(count, "count", minimum=0)
    first = _validate.positive_int(first, "first", minimum=0)
    if seed is None:
        raise TypeError("seed must be an integer: orders are only reproducible for a given seed")
    if first + count > 2**64:
        raise ValueError(f"first + count must be at most 2**64, got {first + count}")
    ensure_fits(8 * n * sweeps * count, "the requested orders")
    return _core.sweep_orders(n, sweeps, _validate.seed(seed), count, first)
