"""IsingProblem.minimize(method="mean-field"): mean-field annealing of the gain."""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref


def random_graph(n: int, p: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = np.triu((rng.random((n, n)) < p).astype(np.float64), 1)
    return w + w.T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_the_brute_forced_maximum_cut(seed: int) -> None:
    w = random_graph(14, 0.5, seed)
    best, _ = ref.maxcut_brute_force(w)
    cut = hf.maxcut(w, method="mean-field", restarts=8, seed=seed)
    assert cut.value == best
    assert ref.cut_value(w, cut.sides) == best


def test_ferromagnet_ends_aligned_with_the_field() -> None:
    n = 30
    J = np.ones((n, n)) - np.eye(n)
    h = np.full(n, 0.05)
    result = hf.IsingProblem(J, h).minimize(method="mean-field", restarts=4, seed=3)
    assert (result.states == 1).all()
    assert result.best_energy == pytest.approx(-0.5 * n * (n - 1) - 0.05 * n)
    # Without a field either ground state (all +1 or all -1) is optimal.
    plain = hf.IsingProblem(J).minimize(method="mean-field", restarts=4, seed=4)
    assert all(abs(int(s.sum())) == n for s in plain.states)


def test_weighted_random_problem_matches_enumeration() -> None:
    rng = np.random.default_rng(5)
    n = 12
    J = np.triu(rng.standard_normal((n, n)), 1)
    J = J + J.T
    h = rng.standard_normal(n) * 0.3
    states = ref.all_states(n)
    exact = ref.ising_energy(J, h, states).min()
    result = hf.IsingProblem(J, h).minimize(method="mean-field", restarts=16, seed=6)
    assert result.best_energy == pytest.approx(exact, abs=1e-9)
    assert result.converged.all()
    np.testing.assert_allclose(result.energy, ref.ising_energy(J, h, result.states), atol=1e-9)


def test_schedules_init_and_determinism() -> None:
    w = random_graph(12, 0.5, 7)
    problem = hf.IsingProblem(-w)
    a = problem.minimize(method="mean-field", restarts=3, seed=8, threads=1)
    b = problem.minimize(method="mean-field", restarts=3, seed=8, threads=2)
    np.testing.assert_array_equal(a.states, b.states)
    kind, g0, g1 = problem.default_gains()
    assert kind == "geometric" and 0 < g0 < g1
    lam = np.linalg.eigvalsh(-w).max()
    assert g0 == pytest.approx(0.5 / lam)
    arr = problem.minimize(
        method="mean-field", restarts=2, seed=8, schedule=np.geomspace(g0, g1, 10)
    )
    lin = problem.minimize(
        method="mean-field", restarts=2, seed=8, schedule=("linear", g0, g1), sweeps=10
    )
    assert arr.states.shape == lin.states.shape == (2, 12)
    start = np.where(np.arange(12) % 2 == 0, 1, -1)
    fixed = problem.minimize(method="mean-field", restarts=2, init=start)
    np.testing.assert_array_equal(fixed.states[0], fixed.states[1])


def test_bad_arguments() -> None:
    problem = hf.IsingProblem(-random_graph(6, 0.5, 0))
    with pytest.raises(ValueError, match="method"):
        problem.minimize(method="tabu")
    with pytest.raises(ValueError, match="gains must be"):
        problem.minimize(method="mean-field", schedule=[1.0, -2.0])
    with pytest.raises(ValueError, match="gains must be"):
        problem.minimize(method="mean-field", schedule=("geometric", 0.0, 1.0))
    with pytest.raises(ValueError, match="sweeps="):
        problem.minimize(method="mean-field", schedule=[1.0, 2.0], sweeps=3)
    with pytest.raises(ValueError, match="init has"):
        problem.minimize(method="mean-field", restarts=2, init=np.ones((3, 6)))
