"""Dense associative memory (Krotov & Hopfield 2016; Demircigil et al. 2017)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _validate
from ._core import MAX_N, Dense
from ._spin_model import SpinModel
from .persist import State, pack_spins, unpack_spins

INTERACTIONS = ("polynomial", "exponential")


def _beta(value: Any) -> float:
    if not _validate.is_real(value):
        raise TypeError(f"beta must be a real number, got {type(value).__name__}")
    beta = float(value)
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got {value!r}")
    return beta


def _degree(value: Any) -> int:
    degree = _validate.positive_int(value, "degree")
    if degree >= 2**32:
        raise ValueError(f"degree must be below 2**32, got {degree}")
    return degree


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


class DenseAssociativeMemory(SpinModel):
    r"""A dense associative memory of ``n`` binary neurons.

    The energy of a state ``σ`` is ``E(σ) = −Σ_μ F(ξ^μ·σ)`` over the stored
    patterns ``ξ^μ``, with

    * ``interaction="polynomial"``: ``F(x) = x**degree``; with
      ``rectified=True`` (the default) ``F(x) = 0`` for ``x < 0``
      (Krotov & Hopfield 2016). Degree 2, not rectified, is the classical
      Hopfield network (same dynamics as :class:`HopfieldNetwork`); higher
      degrees store about ``N**(degree-1)`` patterns.
    * ``interaction="exponential"``: ``F(x) = exp(beta·x)`` (Demircigil et
      al. 2017), which stores exponentially many patterns. Its energy is
      reported as ``−(1/β) log Σ_μ exp(β ξ^μ·σ)`` (same minima, finite for
      any ``β·N``).

    A neuron takes the value of lower energy given the others (it compares
    ``Σ_μ F(±ξ^μ_i + Σ_{j≠i} ξ^μ_j σ_j)``); on a tie it keeps its state.
    Polynomial decisions are exact integer arithmetic (64-bit while it fits,
    else 128-bit; a memory whose sums would overflow 128 bits is refused
    with ``ValueError``). Exponential decisions are made in a max-shifted
    frame in fixed point with ``2**S`` for the largest term
    (:attr:`fixed_point_bits`), so they never overflow and are resolved to
    about ``P·2**-S`` of the dominant term; see
    :mod:`hopfield.reference` (``dense_*``) for the exact rule.

    Patterns are kept bit-packed (one bit per neuron per pattern); each
    query keeps its overlaps with every pattern, so an asynchronous update
    and a flip each cost ``O(P)``.

    Parameters
    ----------
    n : int
        Number of neurons, at least 1.
    interaction : {"polynomial", "exponential"}
        The interaction function ``F``.
    degree : int
        Polynomial power, at least 1 (polynomial only).
    rectified : bool
        Polynomial only: ``F(x) = 0`` for negative overlaps.
    beta : float
        Exponential only: ``β > 0``.

    Examples
    --------
    >>> import hopfield as hf
    >>> patterns = hf.random_patterns(100, 100, seed=0)   # P = N: 7x 0.138N
    >>> dam = hf.DenseAssociativeMemory(100, degree=3)
    >>> dam.store(patterns)
    >>> res = dam.retrieve(hf.corrupt(patterns, flip=0.1, seed=1), seed=2)
    >>> bool((res.states == patterns).all(axis=1).mean() > 0.95)
    True
    """

    def __init__(
        self,
        n: int,
        *,
        interaction: str = "polynomial",
        degree: int = 3,
        rectified: bool = True,
        beta: float = 1.0,
    ) -> None:
        n = _validate.positive_int(n, "n")
        if n > MAX_N:
            raise ValueError(f"n must be at most {MAX_N}, got {n}")
        self._interaction = _validate.choice(interaction, "interaction", INTERACTIONS)
        self._degree = _degree(degree)
        self._rectified = _flag(rectified, "rectified")
        self._beta = _beta(beta)
        self._engine = Dense(
            n,
            interaction=self._interaction,
            degree=self._degree,
            rectified=self._rectified,
            beta=self._beta,
        )

    def __repr__(self) -> str:
        if self._interaction == "exponential":
            detail = f"beta={self._beta!r}"
        else:
            detail = f"degree={self._degree}, rectified={self._rectified}"
        return (
            f"DenseAssociativeMemory(n={self.n}, interaction={self._interaction!r}, "
            f"{detail}, num_patterns={self.num_patterns})"
        )

    @property
    def interaction(self) -> str:
        """``"polynomial"`` or ``"exponential"``."""
        return self._interaction

    @property
    def degree(self) -> int:
        """The polynomial power (unused by the exponential)."""
        return self._degree

    @property
    def rectified(self) -> bool:
        """Whether the polynomial is rectified (unused by the exponential)."""
        return self._rectified

    @property
    def beta(self) -> float:
        """β of the exponential (unused by the polynomial)."""
        return self._beta

    @property
    def nbytes(self) -> int:
        """Bytes of memory held: ``P·⌈N/64⌉·8`` for the packed patterns and,
        once a call has prepared the memory for the engine, as many again for
        its bit planes by neuron (``N·⌈P/64⌉·8``) plus tables of ``O(N)``.
        The prepared memory is kept until the next ``store``: preparing costs
        ``O(P·N)``, as much as a one-query retrieval or more."""
        return self._engine.nbytes

    @property
    def fixed_point_bits(self) -> int:
        """``S``: exponential decisions are made with ``2**S`` for the
        largest term, ``S = min(52, 62 − P.bit_length())``."""
        return self._engine.fixed_point_bits

    def _get_state(self) -> State:
        params = {
            "n": self.n,
            "interaction": self._interaction,
            "degree": self._degree,
            "rectified": self._rectified,
            "beta": self._beta,
        }
        return params, {"patterns": pack_spins(self.patterns)}

    @classmethod
    def _from_state(
        cls, params: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> DenseAssociativeMemory:
        net = cls(
            params["n"],
            interaction=params["interaction"],
            degree=params["degree"],
            rectified=params["rectified"],
            beta=params["beta"],
        )
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

        Raises
        ------
        ValueError
            For a polynomial whose exact sums would overflow 128 bits with
            this many patterns (nothing is stored then).
        """
        batch, _ = _validate.spin_batch(patterns, self.n, "patterns")
        self._engine.store(batch)

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """Energy of one state ``(N,)`` or a batch ``(B, N)``.

        ``−Σ_μ F(ξ^μ·σ)`` for the polynomial (exact integer, rounded once to
        float64), ``−(1/β) log Σ_μ exp(β ξ^μ·σ)`` for the exponential (``inf``
        with no patterns).
        """
        return super().energy(states)
