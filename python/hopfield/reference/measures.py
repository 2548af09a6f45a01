"""Pure-NumPy reference of the experiments' measurements.

Given the patterns, the queries and the neuron orders that a Rust retrieval
used (:func:`hopfield.sweep_orders`), these compute the same numbers as
:mod:`hopfield.experiments` with NumPy only, so tests can compare them
exactly and benchmarks can time the two.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .hebbian import is_fixed_point, retrieve_async_batched

__all__ = ["CapacityPoint", "capacity_point", "hamming_matrix", "similarity_matrix"]


class CapacityPoint(NamedTuple):
    """One load of a capacity curve: what :func:`capacity_point` measured."""

    mean_overlap: float
    exact_fraction: float
    fixed_fraction: float


def capacity_point(
    X: ArrayLike, queries: ArrayLike, orders: ArrayLike, *, max_sweeps: int
) -> CapacityPoint:
    """Hebbian network holding ``X``: retrieve ``queries[k]`` (a copy of
    ``X[k]``) asynchronously with ``orders`` and measure.

    Returns the mean final overlap ``ξ^k·s^k / N``, the fraction of queries
    that end exactly on their pattern, and the fraction of patterns that are
    fixed points (:func:`hopfield.reference.is_fixed_point`).
    """
    X = np.asarray(X)
    res = retrieve_async_batched(X, np.asarray(queries), orders, max_sweeps=max_sweeps)
    own = (res.states.astype(np.int64) * X).sum(axis=1) / X.shape[1]
    fixed = is_fixed_point(X, X)
    return CapacityPoint(float(own.mean()), float(np.mean(own == 1.0)), float(np.mean(fixed)))


def _dots(X: ArrayLike) -> np.ndarray:
    """``ξ^μ·ξ^ν`` as a float64 BLAS product: exact, every partial sum is an
    integer of magnitude at most ``N < 2**53``."""
    Xf = np.asarray(X).astype(np.float64)
    return Xf @ Xf.T


def similarity_matrix(X: ArrayLike) -> np.ndarray:
    """``ξ^μ·ξ^ν / N`` for all pairs, float64 ``(P, P)``."""
    return _dots(X) / np.shape(X)[1]


def hamming_matrix(X: ArrayLike) -> np.ndarray:
    """Number of differing spins ``(N − ξ^μ·ξ^ν) / 2`` for all pairs, int64 ``(P, P)``."""
    n = np.shape(X)[1]
    return ((n - _dots(X)) / 2).astype(np.int64)
