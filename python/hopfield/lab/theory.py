r"""Theory to draw beside measured curves: capacities of associative memories.

Everything here is computed from the published equations, with the standard
library only (no SciPy): the critical load ``alpha_c`` is *found* by
maximising the AGS storage curve, not typed in.

Amit–Gutfreund–Sompolinsky (1985/1987), zero temperature, replica symmetric
---------------------------------------------------------------------------
For a Hebbian network of ``N`` neurons holding ``P = αN`` random patterns,
the retrieval overlap ``m`` with the recalled pattern satisfies, at ``T = 0``::

    m = erf(y),    y = m / sqrt(2 α r)
    C = sqrt(2 / (π α r)) · exp(-y²),    r = 1 / (1 - C)²

Eliminating ``m``, ``C`` and ``r`` leaves one equation in ``y``::

    sqrt(2α) = erf(y) / y - (2/√π) exp(-y²)

whose right-hand side rises from 0, peaks and falls again. A retrieval state
exists only while ``α`` is below the peak, ``α_c = max_y ½(erf(y)/y -
(2/√π)e^{-y²})² ≈ 0.138``; on the retrieval branch (the larger root ``y``),
``m = erf(y)`` falls from 1 at ``α = 0`` to about 0.967 at ``α_c`` and the
state disappears beyond it.

Exact recall (McEliece, Posner, Rodemich & Venkatesh 1987)
----------------------------------------------------------
Requiring the stored patterns themselves to be fixed points with probability
tending to one gives ``P_max = N / (2 ln N)`` when almost every pattern must
be recalled exactly, and ``N / (4 ln N)`` when all of them must.

Dense associative memories
--------------------------
Krotov & Hopfield (2016), polynomial interaction ``F(x) = x^n``: error-free
recall up to ``K = N^{n-1} / (2 (2n-3)!! ln N)`` patterns (``n = 2`` gives
back ``N / (2 ln N)``). Demircigil et al. (2017), exponential interaction
``F(x) = e^x``: ``M = exp(αN)`` patterns with ``α < I(1 - 2ρ) / 2`` are
recalled from a fraction ``ρ`` of flipped spins, where ``I(x) = ½[(1+x)
ln(1+x) + (1-x) ln(1-x)]``; at ``ρ = 0`` that is ``α < ln(2)/2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "ags_alpha",
    "ags_alpha_c",
    "ags_error_fraction",
    "ags_overlap",
    "alpha_c",
    "dense_exponential_capacity",
    "dense_exponential_rate",
    "dense_polynomial_capacity",
    "mceliece_capacity",
]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _g(y: float) -> float:
    """``sqrt(2α)`` as a function of ``y``: ``erf(y)/y - (2/√π) e^{-y²}``."""
    if y < 1e-4:  # series: erf(y)/y = 2/√π (1 - y²/3 + ...), so g ≈ (4/(3√π)) y²
        return _TWO_OVER_SQRT_PI * (2.0 / 3.0) * y * y
    return math.erf(y) / y - _TWO_OVER_SQRT_PI * math.exp(-y * y)


def ags_alpha(y: float) -> float:
    """The load ``α(y) = ½ g(y)²`` at which ``y`` solves the AGS equations.

    ``g(y) = erf(y)/y - (2/√π) exp(-y²)``; on the retrieval branch ``y`` is
    the larger of the two roots of ``α(y) = α``.
    """
    return 0.5 * _g(float(y)) ** 2


def _golden_max(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-14) -> float:
    """Argmax of a unimodal ``f`` on ``[lo, hi]`` by golden-section search."""
    inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - inv_phi * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + inv_phi * (b - a)
            fd = f(d)
    return 0.5 * (a + b)


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """A root of ``f`` in ``[lo, hi]`` (``f(lo)`` and ``f(hi)`` of opposite signs)."""
    flo = f(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        fm = f(mid)
        if fm == 0.0 or hi - lo < 1e-15 * max(1.0, abs(mid)):
            return mid
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi)


@cache
def _critical() -> tuple[float, float]:
    """``(y_c, α_c)``: the peak of ``α(y)``."""
    y_c = _golden_max(ags_alpha, 0.1, 5.0)
    return y_c, ags_alpha(y_c)


def ags_alpha_c() -> float:
    """The critical load ``α_c`` of the AGS zero-temperature theory (≈ 0.1379).

    Computed as the maximum over ``y`` of ``½(erf(y)/y - (2/√π)e^{-y²})²``,
    the largest load at which a retrieval state exists.
    """
    return _critical()[1]


#: The AGS critical load (≈ 0.1379), computed from the equations at import.
alpha_c: float = ags_alpha_c()


def _overlap_one(alpha: float) -> float:
    if alpha < 0 or math.isnan(alpha):
        raise ValueError(f"alpha must be a load >= 0, got {alpha}")
    if alpha == 0.0:
        return 1.0
    y_c, a_c = _critical()
    if alpha > a_c:
        return 0.0
    target = math.sqrt(2.0 * alpha)
    # On the retrieval branch g falls from its peak at y_c towards 0 as y grows;
    # find a y with g(y) < target to bracket the root.
    hi = max(2.0 * y_c, 1.0)
    while _g(hi) > target:
        hi *= 2.0
    y = _bisect(lambda t: _g(t) - target, y_c, hi)
    return math.erf(y)


def ags_overlap(alpha: float | ArrayLike) -> float | np.ndarray:
    """The AGS retrieval overlap ``m(α)`` at zero temperature.

    Parameters
    ----------
    alpha : float or array_like
        Load ``α = P/N >= 0``.

    Returns
    -------
    float or numpy.ndarray
        ``m`` on the retrieval branch (``1`` at ``α = 0``, about ``0.967`` at
        :data:`alpha_c`), and ``0`` above ``alpha_c`` where no retrieval
        state exists. Same shape as ``alpha``.

    Raises
    ------
    ValueError
        If a load is negative or NaN.

    Examples
    --------
    >>> round(ags_overlap(0.1), 4)
    0.998
    >>> ags_overlap(0.2)
    0.0
    """
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim == 0:
        return _overlap_one(float(a))
    return np.vectorize(_overlap_one, otypes=[np.float64])(a)


def ags_error_fraction(alpha: float | ArrayLike) -> float | np.ndarray:
    """Fraction of wrong spins in the AGS retrieval state, ``(1 - m) / 2``.

    ``0.5`` above :data:`alpha_c` (no retrieval state).
    """
    m = ags_overlap(alpha)
    return (1.0 - m) / 2.0


def mceliece_capacity(n: int | ArrayLike, *, all_patterns: bool = False) -> float | np.ndarray:
    """Exact-recall capacity of the Hebbian network (McEliece et al. 1987).

    Parameters
    ----------
    n : int or array_like
        Number of neurons ``N >= 2``.
    all_patterns : bool
        ``False``: almost every stored pattern is a fixed point,
        ``P = N / (2 ln N)``. ``True``: every one is, ``P = N / (4 ln N)``.

    Returns
    -------
    float or numpy.ndarray
        The number of patterns (not rounded).
    """
    nn = _neurons(n)
    p = nn / ((4.0 if all_patterns else 2.0) * np.log(nn))
    return float(p) if p.ndim == 0 else p


def _neurons(n: int | ArrayLike) -> np.ndarray:
    try:
        nn = np.asarray(n, dtype=np.float64)
    except OverflowError:  # an integer beyond float64 (about 1.8e308)
        raise ValueError(f"n must be a finite number of neurons >= 2, got {n!r}") from None
    except (TypeError, ValueError):
        raise TypeError(f"n must be a number of neurons, got {type(n).__name__}") from None
    if np.any(~((nn >= 2) & np.isfinite(nn))):
        raise ValueError(f"n must be a finite number of neurons >= 2, got {n!r}")
    return nn


def _double_factorial(k: int) -> int:
    out = 1
    while k > 1:
        out *= k
        k -= 2
    return out


def dense_polynomial_capacity(n: int | ArrayLike, degree: int) -> float | np.ndarray:
    """Error-free capacity of a polynomial dense memory ``F(x) = x^degree``.

    Krotov & Hopfield (2016): ``K = N^{d-1} / (2 (2d-3)!! ln N)``. For
    ``degree = 2`` this is the classical ``N / (2 ln N)`` of
    :func:`mceliece_capacity`.

    Parameters
    ----------
    n : int or array_like
        Number of neurons ``N >= 2``.
    degree : int
        Interaction degree ``d >= 2``.
    """
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 2:
        raise ValueError(f"degree must be an integer >= 2, got {degree!r}")
    nn = _neurons(n)
    d = int(degree)
    if d <= _EXACT_DEGREE:
        with np.errstate(over="ignore"):  # N^{d-1} beyond float64: inf
            k = nn ** (d - 1) / (2.0 * _double_factorial(2 * d - 3) * np.log(nn))
    else:
        # In logarithms: (2d-3)!! = (2m)! / (2^m m!) with m = d - 1 would be
        # a huge integer (and N^{d-1} overflows); the result saturates to inf
        # (or 0) beyond float64 instead.
        m = d - 1
        log_df = math.lgamma(2 * m + 1) - m * math.log(2.0) - math.lgamma(m + 1)
        log_k = m * np.log(nn) - math.log(2.0) - log_df - np.log(np.log(nn))
        with np.errstate(over="ignore"):
            k = np.exp(log_k)
    return float(k) if k.ndim == 0 else k


#: Up to this degree the capacity is computed with the exact double factorial.
_EXACT_DEGREE = 100


def dense_exponential_rate(flip: float = 0.0) -> float:
    """The exponent bound ``α`` of an exponential dense memory (Demircigil et al. 2017).

    ``M = exp(αN)`` patterns can be recalled from a fraction ``flip`` of
    flipped spins while ``α < I(1 - 2·flip) / 2`` with ``I(x) = ½[(1+x) ln(1+x)
    + (1-x) ln(1-x)]``; returns that bound (``ln(2)/2 ≈ 0.347`` at ``flip = 0``).

    Parameters
    ----------
    flip : float
        Fraction of corrupted spins, ``0 <= flip < 0.5``.
    """
    if not 0.0 <= flip < 0.5:
        raise ValueError(f"flip must be in [0, 0.5), got {flip}")
    x = 1.0 - 2.0 * flip
    i = 0.5 * ((1 + x) * math.log1p(x) + ((1 - x) * math.log1p(-x) if x < 1 else 0.0))
    return i / 2.0


def dense_exponential_capacity(n: int | ArrayLike, flip: float = 0.0) -> float | np.ndarray:
    """Capacity bound ``exp(α N)`` of an exponential dense memory, with ``α`` from
    :func:`dense_exponential_rate`."""
    nn = _neurons(n)
    k = np.exp(dense_exponential_rate(flip) * nn)
    return float(k) if k.ndim == 0 else k
