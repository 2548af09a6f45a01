"""What every binary model (a set of ±1 patterns with an energy) does the
same way, written once: sizes, stored patterns, energies, overlaps and
retrieval, over an engine of :mod:`hopfield._core`.

A model's own class adds only what is its own: its constructor, its
learning (``store``), its parameters and its saved state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _forget, _validate
from ._core import RetrieveOptions
from .persist import Persistent
from .results import Retrieval


class SpinModel(Persistent):
    """Base of the binary models: ``_engine`` is the extension object
    (``Hebbian``, ``Dense``, ``Diluted`` or ``Weights``) that stores the
    patterns and runs the dynamics; ``retrieve``, ``sample`` and the queries
    below go straight to it."""

    _engine: Any

    @property
    def n(self) -> int:
        """Number of neurons."""
        return int(self._engine.n)

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns."""
        return int(self._engine.num_patterns)

    @property
    def nbytes(self) -> int:
        """Bytes of memory the model holds."""
        return int(self._engine.nbytes)

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns, a new ``int8`` array ``(P, N)``."""
        return self._engine.patterns()

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """Energy of one state ``(N,)`` (a float) or a batch ``(B, N)`` (float64 ``(B,)``)."""
        batch, single = _validate.spin_batch(states, self.n, "states")
        e = self._engine.energy(batch)
        return float(e[0]) if single else e

    def overlaps(self, states: ArrayLike) -> np.ndarray:
        """Overlaps ``ξ^μ·s / N`` with every stored pattern, ``(P,)`` or ``(B, P)``."""
        batch, single = _validate.spin_batch(states, self.n, "states")
        m = self._engine.overlaps(batch)
        return m[0] if single else m

    def forget(self, indices: ArrayLike | int) -> None:
        """Remove stored patterns exactly.

        Afterwards the model is, bit for bit, the model that the same
        ``store`` calls would have built without these patterns: it is
        rebuilt from its options, and the remaining patterns are learnt
        again in their original order and ``store`` batches. For the rules
        whose result does not depend on the order (Hebbian, covariance,
        pseudo-inverse, recomputed from the remaining patterns, and the
        dense memory) that is the model that stored only the remaining
        patterns, in any order and batches. Storkey's rule is sequential:
        after ``forget`` the network is the one that learnt the remaining
        patterns in their original order (the forgotten patterns' influence
        on later updates is undone by re-learning, not by subtraction).
        Cost: one ``store`` of the remaining patterns.

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
            Repeated indices, indices that are not integers
            (a network built :meth:`from_weights` stores none: every index
            is out of range).
        """
        _forget.forget(self, indices)

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
        first_row: int = 0,
        clamp: ArrayLike | None = None,
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
            sweep without a flip; the energy never increases (for a symmetric
            network).
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
            ``gap_i = E(s_i=-1) - E(s_i=+1)`` is the model's exact energy gap
            (``2 h_i`` for the classical network), for exactly ``sweeps``
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
        first_row : int
            The global index of the first query, in ``[0, 2**63)``: query ``r``
            draws the random streams of query ``first_row + r``, so the rows
            ``k:k+m`` of a batch retrieved with ``first_row=k`` get exactly the
            results they get in the whole batch (how
            :func:`hopfield.distributed.retrieve` splits a batch over machines).
        clamp : array_like of bool or None
            A partial cue: a boolean mask of shape ``(N,)`` (the same for
            every query) or ``(B, N)`` (one per query), True where a neuron
            is known. Clamped neurons keep their query values and are never
            updated; the others (the *free* neurons) evolve. Async sweeps
            draw the same random order as without a clamp and skip the
            clamped neurons; a sync step flips only free neurons; a
            stochastic sweep draws the same uniforms and leaves the clamped
            neurons' unused. ``converged`` then means that no *free* neuron
            would flip (a fixed point of the dynamics on the free neurons);
            ``energy`` is the model's energy of the whole state, which with
            the clamped neurons held differs from the energy of the free
            neurons (the terms that involve one) by a constant, so it never
            increases under async descent either. ``None`` (default): every
            neuron is free.

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

        Raises
        ------
        ValueError, TypeError
            For an option out of its range or of the wrong type, naming it
            (checked once, by :class:`hopfield._core.RetrieveOptions`); a
            ``clamp`` that is not a boolean array (``TypeError``) of shape
            ``(N,)`` or ``(B, N)`` (``ValueError``).
        """
        options = RetrieveOptions(
            update=update,
            max_sweeps=max_sweeps,
            order=order,
            seed=seed,
            threads=threads,
            track_energy=track_energy,
            temperature=temperature,
            sweeps=sweeps,
            schedule=schedule,
            first_row=first_row,
        )
        batch, single = _validate.spin_batch(queries, self.n, "queries")
        held = _validate.clamp_spins(clamp, self.n, batch.shape[0])
        if held is None:
            return Retrieval.from_outcomes(self._engine.retrieve(batch, options), single)
        return Retrieval.from_outcomes(self._engine.retrieve(batch, options, held), single)
