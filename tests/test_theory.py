"""hopfield.theory against published values and an independent solution of the
original AGS equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hopfield import theory


def test_alpha_c_matches_published_value() -> None:
    # Amit, Gutfreund & Sompolinsky (1985, 1987): alpha_c = 0.138 (0.1379).
    assert 0.1375 < theory.alpha_c < 0.1385
    assert theory.ags_alpha_c() == theory.alpha_c
    # It is the peak of alpha(y): a little either side is lower.
    y_c = theory._critical()[0]
    assert theory.ags_alpha(y_c * 0.99) < theory.alpha_c
    assert theory.ags_alpha(y_c * 1.01) < theory.alpha_c


def test_overlap_at_alpha_c_matches_published_value() -> None:
    # The retrieval state just below alpha_c has m ~ 0.967 (about 1.6% wrong spins).
    m_c = theory.ags_overlap(theory.alpha_c * (1 - 1e-9))
    assert m_c == pytest.approx(0.967, abs=0.002)
    err = theory.ags_error_fraction(theory.alpha_c * (1 - 1e-9))
    assert err == pytest.approx(0.0165, abs=0.001)


def _solve_original(alpha: float) -> float:
    """Damped fixed-point iteration of the AGS system in (m, C, r), from m = 1."""
    m, c = 1.0, 0.0
    for _ in range(20000):
        r = 1.0 / (1.0 - c) ** 2
        q = math.sqrt(2.0 * alpha * r)
        m_new = math.erf(m / q)
        c_new = math.sqrt(2.0 / (math.pi * alpha * r)) * math.exp(-((m / q) ** 2))
        m, c = 0.5 * (m + m_new), 0.5 * (c + c_new)
    return m


@pytest.mark.parametrize("alpha", [0.02, 0.05, 0.1, 0.12, 0.13])
def test_overlap_solves_the_original_equations(alpha: float) -> None:
    assert theory.ags_overlap(alpha) == pytest.approx(_solve_original(alpha), abs=1e-7)


def test_overlap_shape_and_branches() -> None:
    alphas = np.array([0.0, 0.05, 0.1, 0.13, 0.137, 0.14, 0.5])
    m = theory.ags_overlap(alphas)
    assert isinstance(m, np.ndarray) and m.shape == alphas.shape
    assert m[0] == 1.0
    assert np.all(np.diff(m[:5]) < 0)  # falls on the retrieval branch
    assert m[4] > 0.96  # still high just below alpha_c: a first-order drop
    assert np.all(m[5:] == 0.0)
    assert theory.ags_overlap(0.1) == pytest.approx(0.998, abs=5e-4)
    assert isinstance(theory.ags_overlap(0.1), float)


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_bad_alpha(bad: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        theory.ags_overlap(bad)


def test_mceliece_capacity() -> None:
    assert theory.mceliece_capacity(1000) == pytest.approx(1000 / (2 * math.log(1000)))
    assert theory.mceliece_capacity(1000, all_patterns=True) == pytest.approx(
        1000 / (4 * math.log(1000))
    )
    # Exact recall is far below the AGS load: 72 patterns of 1000 vs 138.
    assert theory.mceliece_capacity(1000) < theory.alpha_c * 1000
    arr = theory.mceliece_capacity([100, 1000])
    assert arr.shape == (2,)
    with pytest.raises(ValueError, match="n must"):
        theory.mceliece_capacity(1)


def test_dense_polynomial_capacity() -> None:
    # Degree 2 is the classical network: N / (2 ln N).
    assert theory.dense_polynomial_capacity(500, 2) == pytest.approx(theory.mceliece_capacity(500))
    # Krotov & Hopfield 2016: N^(n-1) / (2 (2n-3)!! ln N); (2*3-3)!! = 3, (2*4-3)!! = 15.
    n = 100
    assert theory.dense_polynomial_capacity(n, 3) == pytest.approx(n**2 / (6 * math.log(n)))
    assert theory.dense_polynomial_capacity(n, 4) == pytest.approx(n**3 / (30 * math.log(n)))
    with pytest.raises(ValueError, match="degree"):
        theory.dense_polynomial_capacity(100, 1)


def test_dense_exponential_rate() -> None:
    # Demircigil et al. 2017: alpha < I(1 - 2 rho) / 2, ln(2)/2 at rho = 0.
    assert theory.dense_exponential_rate() == pytest.approx(math.log(2) / 2)
    rates = [theory.dense_exponential_rate(f) for f in (0.0, 0.1, 0.2, 0.3, 0.49)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    x = 1 - 2 * 0.1
    expected = 0.25 * ((1 + x) * math.log(1 + x) + (1 - x) * math.log(1 - x))
    assert theory.dense_exponential_rate(0.1) == pytest.approx(expected)
    assert theory.dense_exponential_capacity(10) == pytest.approx(2**5)
    with pytest.raises(ValueError, match="flip"):
        theory.dense_exponential_rate(0.5)
