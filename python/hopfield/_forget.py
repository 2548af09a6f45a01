"""Forgetting stored patterns, written once for every model that stores them.

A model forgets by being rebuilt from its own saved state (see
:mod:`hopfield.persist`) with the forgotten rows left out: the options, the
thresholds and, for the classical networks, the sizes of the ``store`` calls
are kept, and every remaining pattern is learnt again in its original order
and batch. So after ``forget`` a model is exactly (bit for bit) the model
that the same ``store`` calls would have built without those patterns. For an
order-independent rule (Hebbian, covariance, pseudo-inverse, the dense and
modern memories) that is also the model that stored the remaining patterns in
any order and batches; for Storkey's rule, which is sequential, it is the
network that learnt the remaining patterns in their original order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def kept(indices: ArrayLike | int, count: int, what: str = "stored patterns") -> np.ndarray:
    """The rows that remain when ``indices`` (of ``count`` rows) are forgotten.

    ``indices`` is one integer or a 1-D sequence of distinct integers in
    ``[-count, count)`` (negative counts from the end, as in NumPy); ``what``
    names the rows in messages.
    """
    if isinstance(indices, (bool, np.bool_)):
        raise TypeError("indices must be an integer or a 1-D sequence of integers, not bool")
    try:
        raw = np.asarray(indices)
    except (TypeError, ValueError):
        raise TypeError(
            "indices must be an integer or a 1-D sequence of integers, "
            f"got {type(indices).__name__}"
        ) from None
    if raw.size == 0:
        raw = raw.astype(np.int64)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {raw.dtype}")
    if raw.ndim > 1:
        raise ValueError(f"indices must be one integer or 1-D, got shape {raw.shape}")
    flat = raw.reshape(-1).astype(np.int64)
    bad = (flat < -count) | (flat >= count)
    if bad.any():
        raise IndexError(
            f"indices must be in [-{count}, {count}) (the {count} {what}); "
            f"found {int(flat[bad][0])}"
        )
    flat = np.where(flat < 0, flat + count, flat)
    if len(np.unique(flat)) != len(flat):
        raise ValueError(f"indices must be distinct, got {flat.tolist()}")
    keep = np.ones(count, dtype=bool)
    keep[flat] = False
    return np.flatnonzero(keep)


def _batches_after(batches: list[int], keep: np.ndarray) -> list[int]:
    """The sizes of the ``store`` calls once only the rows ``keep`` remain
    (calls left empty are dropped)."""
    bounds = np.cumsum([0, *batches])
    sizes = [
        int(np.count_nonzero((keep >= a) & (keep < b)))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return [s for s in sizes if s]


def forget(model: Any, indices: ArrayLike | int) -> None:
    """Remove the stored patterns ``indices`` from ``model`` in place (see
    the module docs): it becomes the model rebuilt from its saved state
    without those rows."""
    keep = kept(indices, model.num_patterns)
    if len(keep) == model.num_patterns:
        return
    params, arrays = model._get_state()
    for key in ("patterns", "values"):
        if key in arrays:
            arrays[key] = arrays[key][keep]
    options = params.get("network", params)
    if "batches" in options:
        options["batches"] = _batches_after(options["batches"], keep)
    fresh = type(model)._from_state(params, arrays)
    model.__dict__.clear()
    model.__dict__.update(fresh.__dict__)
