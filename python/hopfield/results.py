"""The result of a retrieval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._core import Outcomes, overlap_matrix
from .spins import as_spins


@dataclass(frozen=True)
class Retrieval:
    """What a retrieval returned, per query.

    For a batch of ``B`` queries every field is an array with a leading
    ``B`` axis; for a single ``(N,)`` query the fields are scalars and
    ``states`` has shape ``(N,)``.

    Attributes
    ----------
    states : numpy.ndarray
        Final states, ``int8`` ±1, ``(B, N)`` or ``(N,)``.
    converged : numpy.ndarray or bool
        Reached a state that one more sweep leaves unchanged. For a stochastic
        run (``temperature > 0`` or ``schedule=``): the final state is a fixed
        point of the deterministic dynamics (a local minimum).
    sweeps : numpy.ndarray or int
        Sweeps (async) or steps (sync) run, including the last, unchanged one.
        For a stochastic run: its fixed number of sweeps.
    energy : numpy.ndarray or float
        Energy of the final state (for a stochastic run, not the lowest visited).
    cycled : numpy.ndarray or bool
        Synchronous updates only: stopped on a 2-cycle ``s_t = s_{t-2}``.
    energy_trace : numpy.ndarray or None
        With ``track_energy=True``: the initial energy, then the energy after
        each sweep, ``(B, T)`` or ``(T,)``, padded with NaN after a query
        stopped. ``None`` otherwise.
    """

    states: np.ndarray
    converged: np.ndarray | bool
    sweeps: np.ndarray | int
    energy: np.ndarray | float
    cycled: np.ndarray | bool
    energy_trace: np.ndarray | None = None

    @classmethod
    def from_outcomes(cls, outcomes: Outcomes, single: bool) -> Retrieval:
        """The retrieval of the engine's ``outcomes`` (scalars and an ``(N,)``
        state for a ``single`` query)."""
        if single:
            states, converged, sweeps, energy, cycled, trace = outcomes.first()
            return cls(states, converged, sweeps, energy, cycled, trace)
        trace = outcomes.energy_trace
        return cls(
            states=outcomes.states,
            converged=outcomes.converged,
            sweeps=outcomes.sweeps,
            energy=outcomes.energy,
            cycled=outcomes.cycled,
            energy_trace=trace,
        )

    @property
    def single(self) -> bool:
        """Whether this is the result of a single ``(N,)`` query."""
        return self.states.ndim == 1

    def nearest(self, patterns: ArrayLike) -> tuple[np.ndarray | int, np.ndarray | float]:
        """Which pattern each final state is closest to.

        Parameters
        ----------
        patterns : array_like
            Spins ``(P, N)``, usually the stored patterns.

        Returns
        -------
        index : numpy.ndarray or int
            Per query, the pattern with the largest ``|overlap|`` (the first
            one on ties).
        overlap : numpy.ndarray or float
            That pattern's signed overlap ``ξ·s / N``: ``1.0`` is the pattern
            itself, ``-1.0`` its negation.
        """
        pats = as_spins(patterns, name="patterns")
        if pats.ndim == 1:
            pats = pats.reshape(1, -1)
        n = self.states.shape[-1]
        if pats.ndim != 2 or pats.shape[1] != n or pats.shape[0] == 0:
            raise ValueError(
                f"patterns must have shape (P, {n}) with P >= 1, got shape {pats.shape}"
            )
        states = self.states.reshape(-1, n)
        m = overlap_matrix(states, pats)
        index = np.argmax(np.abs(m), axis=1)
        overlap = m[np.arange(m.shape[0]), index]
        if self.single:
            return int(index[0]), float(overlap[0])
        return index, overlap
