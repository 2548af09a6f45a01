"""Spin arrays: coercion, random patterns, corruption and text art.

Every model in :mod:`hopfield` works on *spins*: ``int8`` arrays whose values
are ``-1`` or ``+1``. Patterns and queries are rows, ``(P, N)`` and ``(B, N)``.
This module turns user input into such arrays and checks it, draws random
patterns, corrupts patterns by flipping a fixed number of bits, and draws a
state as text art. The built-in letter bitmaps are data and live with the data
sets, in :mod:`hopfield.lab.letters`.

The module depends on NumPy and the standard library only.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._alloc import ensure_fits

__all__ = [
    "as_spins",
    "corrupt",
    "random_patterns",
    "to_text",
]

_SPIN_DOMAIN = "values in {-1, +1} or {0, 1}"

#: int8 arrays up to this size take the byte check in `as_spins` (beyond it,
#: the NumPy reductions are faster).
_SMALL = 2048
#: The bytes of int8 -1 and +1.
_PLUS_MINUS_ONE_BYTES = np.array([-1, 1], dtype=np.int8).tobytes()


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    """Return the C-order multi-index of the first ``True`` in ``mask``."""
    flat = int(np.argmax(mask.ravel()))
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _found(a: np.ndarray, mask: np.ndarray) -> str:
    """Describe the first element of ``a`` flagged by ``mask``."""
    idx = _first_index(mask)
    return f"found {a[idx]!s} at index {idx}"


def as_spins(x: ArrayLike, *, name: str = "x") -> np.ndarray:
    """Convert an array-like of spins to a new C-contiguous ``int8`` array of ±1.

    Two encodings are accepted, and an array must use exactly one of them:

    * ``{-1, +1}``: kept as is;
    * ``{0, 1}``: ``0`` means ``-1`` and ``1`` means ``+1``.

    An array of ones only is valid under both and gives all ``+1``. Booleans
    follow the second encoding (``True`` is ``+1``). Integer and floating
    dtypes of any width are accepted, in any memory order (Fortran order,
    strided or negatively strided views, read-only arrays).

    Parameters
    ----------
    x : array_like
        Spins of any shape, of dtype ``bool``, integer or floating. Empty
        arrays are allowed.
    name : str, optional
        The argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        A new C-contiguous ``int8`` array with the shape of ``x`` and values
        ``-1`` and ``+1``. It never shares memory with ``x``, and ``x`` is
        never modified.

    Raises
    ------
    TypeError
        If the dtype is not boolean, integer or floating (for example
        ``object``, ``str`` or ``complex``).
    ValueError
        If a value is outside ``{-1, 0, 1}`` (including NaN and infinities), or
        if the array mixes ``-1`` and ``0``. The message names the argument and
        gives the offending value and its index.

    Examples
    --------
    >>> as_spins([[0, 1], [1, 0]])
    array([[-1,  1],
           [ 1, -1]], dtype=int8)
    >>> as_spins([True, False, True])
    array([ 1, -1,  1], dtype=int8)
    """
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{name} must be an array of spins with a boolean, integer or "
            f"floating dtype; got dtype {a.dtype}"
        )
    # A broadcast (zero-stride) view can describe far more elements than
    # exist: the int8 copy (and the checks below) would materialise them all.
    ensure_fits(a.size, f"{name} as int8 spins")
    if kind == "i" and a.itemsize == 1 and a.size <= _SMALL:
        # A small int8 array (one query, a small network): checking its bytes
        # with `bytes.translate` costs under a microsecond, where the two
        # NumPy reductions below cost several, a large part of a one-query call.
        if not a.tobytes().translate(None, _PLUS_MINUS_ONE_BYTES):
            return a.copy(order="C")
    if kind == "b":
        out = a.astype(np.int8, order="C")
        out *= 2
        out -= 1
        return out
    if a.size == 0:
        return np.empty(a.shape, dtype=np.int8)

    if kind == "f":
        # NaN compares unequal to everything, so it lands in `bad` as well.
        bad = ~((a == 1) | (a == -1) | (a == 0))
        if bad.any():
            raise ValueError(f"{name} must hold spins ({_SPIN_DOMAIN}); {_found(a, bad)}")
    lo, hi = a.min(), a.max()
    if lo < -1 or hi > 1:
        bad = (a > 1) if kind == "u" else (a < -1) | (a > 1)
        raise ValueError(f"{name} must hold spins ({_SPIN_DOMAIN}); {_found(a, bad)}")

    if lo < 0:  # {-1, +1} encoding: no zero allowed
        if np.count_nonzero(a) != a.size:
            zero = _first_index(a == 0)
            neg = _first_index(a == -1)
            raise ValueError(
                f"{name} must hold spins ({_SPIN_DOMAIN}) but it mixes -1 and 0: "
                f"found 0 at index {zero} and -1 at index {neg}"
            )
        return a.astype(np.int8, order="C")
    # {0, 1} encoding (an all-ones array maps to itself either way).
    out = a.astype(np.int8, order="C")
    out *= 2
    out -= 1
    return out


def check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` as an ``int`` no smaller than ``minimum``.

    ``bool`` and non-integers are a ``TypeError``, smaller values a
    ``ValueError``; both messages name the argument.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not bool")
    try:
        ivalue = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if ivalue < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {ivalue}")
    return ivalue


def random_patterns(
    count: int,
    n: int,
    *,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
) -> np.ndarray:
    """Draw uniform random ±1 patterns.

    Every entry is ``+1`` or ``-1`` with probability ½, independently.

    Parameters
    ----------
    count : int
        Number of patterns ``P >= 0``.
    n : int
        Number of neurons ``N >= 1``.
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Passed to :func:`numpy.random.default_rng`. The same integer seed
        always gives the same patterns.

    Returns
    -------
    numpy.ndarray
        ``int8`` array of shape ``(count, n)`` with values ±1.

    Raises
    ------
    TypeError
        If ``count`` or ``n`` is not an integer (``bool`` included).
    ValueError
        If ``count < 0`` or ``n < 1``.
    MemoryError
        If the patterns cannot fit in the available memory.
    """
    count = check_int(count, "count", 0)
    n = check_int(n, "n", 1)
    ensure_fits(count * n, f"{count} patterns of {n} neurons")
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 2, size=(count, n), dtype=np.int8)
    out *= 2
    out -= 1
    return out


def corrupt(
    patterns: ArrayLike,
    *,
    flip: float,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
) -> np.ndarray:
    """Flip a fixed number of distinct, uniformly chosen spins in every row.

    In each row of length ``N`` exactly ``k = round(flip * N)`` distinct
    positions are flipped, chosen uniformly among all ``k``-subsets. ``round``
    is Python's built-in, which rounds halves to even (``round(2.5) == 2``).
    Each row is at Hamming distance exactly ``k`` from its input.

    Parameters
    ----------
    patterns : array_like
        Spins of shape ``(N,)`` or ``(P, N)``, in any encoding accepted by
        :func:`as_spins`.
    flip : float
        Fraction of each row to flip, ``0 <= flip <= 1``.
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Passed to :func:`numpy.random.default_rng`; the result is a
        deterministic function of the input and an integer seed. A 1-D input
        gives the same result as the same row passed as a ``(1, N)`` array.

    Returns
    -------
    numpy.ndarray
        New ``int8`` ±1 array with the shape of ``patterns``.

    Raises
    ------
    TypeError
        If ``flip`` is not a real number, or ``patterns`` has a non-numeric
        dtype.
    ValueError
        If ``flip`` is NaN or outside ``[0, 1]``, if ``patterns`` is not 1-D
        or 2-D, or if it does not hold spins.
    """
    spins = as_spins(patterns, name="patterns")
    if spins.ndim not in (1, 2):
        raise ValueError(f"patterns must be 1-D (N,) or 2-D (P, N); got shape {spins.shape}")
    if isinstance(flip, (bool, np.bool_)) or not isinstance(flip, numbers.Real):
        raise TypeError(f"flip must be a real number; got {type(flip).__name__}")
    flip = float(flip)
    if math.isnan(flip) or not 0.0 <= flip <= 1.0:
        raise ValueError(f"flip must be in [0, 1]; got {flip}")

    n = spins.shape[-1]
    k = round(flip * n)
    rows = spins.reshape(-1, n)  # a view of our own fresh copy
    if k == 0 or rows.shape[0] == 0:
        return spins
    if k == n:
        rows *= -1
        return spins
    rng = np.random.default_rng(seed)
    keys = rng.random(rows.shape)
    # The k smallest of N i.i.d. uniform keys are a uniform random k-subset.
    cols = np.argpartition(keys, k - 1, axis=1)[:, :k]
    rows[np.arange(rows.shape[0])[:, None], cols] *= -1
    return spins


def to_text(state: ArrayLike, shape: tuple[int, int], *, on: str = "#", off: str = ".") -> str:
    """Render a spin vector as lines of text art.

    Parameters
    ----------
    state : array_like
        Spins of size ``h * w`` (shape ``(h * w,)`` or ``(h, w)``), in any
        encoding accepted by :func:`as_spins`.
    shape : tuple of int
        ``(h, w)``: the number of lines and the width of each line; the state
        is read in row-major order.
    on, off : str, optional
        Text for ``+1`` and ``-1`` spins.

    Returns
    -------
    str
        ``h`` lines of ``w`` symbols joined by ``"\\n"`` (no trailing newline).

    Raises
    ------
    ValueError
        If the size of ``state`` is not ``h * w`` or it does not hold spins.
    """
    s = as_spins(state, name="state")
    h, w = (operator.index(d) for d in shape)
    if s.size != h * w:
        raise ValueError(f"state has {s.size} spins but shape {(h, w)} needs {h * w}")
    grid = s.reshape(h, w)
    return "\n".join("".join(on if v > 0 else off for v in row) for row in grid)
