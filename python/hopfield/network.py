"""The classical Hopfield network."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _dynamics, _validate
from .results import Retrieval


class HopfieldNetwork:
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

    def __init__(self, n: int, *, threshold: float | ArrayLike = 0.0) -> None:
        n = _validate.positive_int(n, "n")
        if n > _core.MAX_N:
            raise ValueError(f"n must be at most {_core.MAX_N}, got {n}")
        self._memory = _core.Hebbian(n, _validate.threshold(threshold, n))

    def __repr__(self) -> str:
        return f"HopfieldNetwork(n={self.n}, num_patterns={self.num_patterns})"

    @property
    def n(self) -> int:
        """Number of neurons."""
        return self._memory.n

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
        return self._memory.num_patterns

    @property
    def nbytes(self) -> int:
        """Bytes of memory the network holds: ``P·⌈N/64⌉·8`` for the packed
        patterns plus ``8·N`` for the thresholds."""
        return self._memory.nbytes

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns, a new ``int8`` array ``(P, N)``."""
        return self._memory.patterns()

    @property
    def threshold(self) -> np.ndarray:
        """The thresholds θ, a new float64 array ``(N,)``."""
        return self._memory.threshold()

    @property
    def weights(self) -> np.ndarray:
        """The materialised weights ``W`` (float64 ``(N, N)``, zero diagonal).

        Retrieval never needs this matrix; it is built on request. Raises
        ``MemoryError`` when it cannot fit.
        """
        return self._memory.weights()

    def store(self, patterns: ArrayLike) -> None:
        """Store patterns, adding to those already stored.

        Parameters
        ----------
        patterns : array_like
            One pattern ``(N,)`` or several ``(P, N)``, as spins (bool, {0, 1}
            or {-1, +1}, any numeric dtype).
        """
        batch, _ = _validate.spin_batch(patterns, self.n, "patterns")
        self._memory.store(batch)

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """Energy ``E(s) = -½ sᵀWs + θᵀs`` of one state ``(N,)`` or a batch ``(B, N)``."""
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
        m = self._memory.overlaps(batch)
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
    return _core.sweep_orders(n, sweeps, _validate.seed(seed), count, first)
