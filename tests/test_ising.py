"""Ising problems, QUBO and max-cut on the weight-matrix engine.

Known results: brute-force optima of small problems, the exact Boltzmann
distribution of random symmetric couplings, the QUBO ↔ Ising identity on every
state, and bit-exact Glauber trajectories against the dense NumPy reference.
"""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from boltzmann_check import BURN_IN, CHAINS, empirical, numpy_chains, tv_bound
from hopfield import reference


def random_couplings(n: int, seed: int, scale: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric couplings and fields that are multiples of 1/scale (exact in float32)."""
    rng = np.random.default_rng(seed)
    J = np.triu(rng.integers(-scale, scale + 1, (n, n)), 1) / scale
    return J + J.T, rng.integers(-scale, scale + 1, n) / (2 * scale)


def random_graph(n: int, seed: int, weighted: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    edges = rng.random((n, n)) < 0.5
    weights = rng.integers(1, 10, (n, n)) if weighted else np.ones((n, n))
    a = np.triu(edges * weights, 1).astype(np.float64)
    return a + a.T


# --- max-cut ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 9, 12, 16])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_maxcut_equals_brute_force(n, weighted) -> None:
    for graph in range(3):
        a = random_graph(n, 100 * n + graph, weighted)
        best, optimal = reference.maxcut_brute_force(a)
        got = hf.maxcut(a, seed=graph)
        assert got.value == best
        assert hf.ising.cut_value(a, got.sides) == best
        assert reference.cut_value(a, got.sides) == best
        # The returned side assignment is one of the optima (up to swapping sides).
        canon = got.sides if got.sides[0] < 0 else -got.sides
        assert (optimal == canon).all(axis=1).any()
        assert got.values.shape == (32,) and got.values.max() == best


def test_maxcut_with_negative_weights_and_self_loops() -> None:
    rng = np.random.default_rng(4)
    a = np.triu(rng.integers(-5, 6, (10, 10)), 1).astype(float)
    a = a + a.T
    best, _ = reference.maxcut_brute_force(a)
    a_loops = a + np.diag(rng.integers(1, 9, 10))  # self-loops never count
    got = hf.maxcut(a_loops, seed=0, restarts=16)
    assert got.value == best


def test_cut_value_counts_crossing_edges() -> None:
    a = np.array([[0, 2, 0], [2, 0, 3], [0, 3, 0]], dtype=float)
    assert hf.ising.cut_value(a, [1, -1, 1]) == 5.0
    assert hf.ising.cut_value(a, [1, 1, -1]) == 3.0
    np.testing.assert_array_equal(hf.ising.cut_value(a, [[1, 1, 1], [-1, 1, 1]]), [0.0, 2.0])


# --- Ising and QUBO -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [6, 11, 14])
def test_minimize_finds_the_ground_state(n) -> None:
    J, h = random_couplings(n, n)
    problem = hf.IsingProblem(J, h)
    states = reference.all_states(n)
    ground = reference.ising_energy(J, h, states).min()
    res = problem.minimize(restarts=16, seed=1)
    assert res.best_energy == pytest.approx(ground, abs=1e-9)
    assert res.states.shape == (16, n) and res.energy.shape == (16,)
    assert res.converged.all()
    np.testing.assert_allclose(res.energy, reference.ising_energy(J, h, res.states), atol=1e-9)
    assert res.best_energy == res.energy.min()
    np.testing.assert_array_equal(res.best_state, res.states[np.argmin(res.energy)])
    # Every restart ends in a local minimum: no single flip lowers the energy.
    for s, e in zip(res.states, res.energy, strict=True):
        flipped = np.tile(s, (n, 1))
        flipped[np.arange(n), np.arange(n)] *= -1
        assert (problem.energy(flipped) >= e - 1e-9).all()


def test_ising_energy_matches_the_reference_on_every_state() -> None:
    J, h = random_couplings(7, 2)
    problem = hf.IsingProblem(J, h, offset=1.5)
    states = reference.all_states(7)
    np.testing.assert_allclose(
        problem.energy(states), reference.ising_energy(J, h, states) + 1.5, atol=1e-12
    )
    assert problem.energy(states[3]) == pytest.approx(float(problem.energy(states)[3]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qubo_and_ising_energies_agree_on_every_state(seed) -> None:
    rng = np.random.default_rng(seed)
    n = 9
    Q = rng.normal(size=(n, n))  # not symmetric, with a diagonal
    problem = hf.IsingProblem.from_qubo(Q)
    states = reference.all_states(n)
    x = hf.IsingProblem.to_binary(states)
    assert set(np.unique(x)) == {0, 1}
    np.testing.assert_allclose(problem.energy(states), reference.qubo_value(Q, x), atol=1e-9)
    J, h, offset = reference.qubo_to_ising(Q)
    np.testing.assert_array_equal(problem.couplings, J)
    np.testing.assert_array_equal(problem.fields, h)
    assert problem.offset == offset


def test_qubo_minimum_equals_brute_force() -> None:
    rng = np.random.default_rng(7)
    n = 12
    Q = rng.integers(-5, 6, (n, n)).astype(float)
    x_all = hf.IsingProblem.to_binary(reference.all_states(n))
    best = reference.qubo_value(Q, x_all).min()
    res = hf.IsingProblem.from_qubo(Q).minimize(restarts=16, seed=3)
    assert res.best_energy == best
    assert reference.qubo_value(Q, hf.IsingProblem.to_binary(res.best_state)) == best


def test_minimize_schedules_threads_and_init() -> None:
    J, h = random_couplings(40, 5)
    problem = hf.IsingProblem(J, h)
    a = problem.minimize(restarts=6, sweeps=30, seed=2, threads=1)
    b = problem.minimize(restarts=6, sweeps=30, seed=2, threads=2)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.energy, b.energy)
    lin = problem.minimize(restarts=6, schedule=("linear", 3.0, 0.0), sweeps=30, seed=2)
    arr = problem.minimize(restarts=6, schedule=np.linspace(3.0, 0.0, 30), seed=2)
    assert lin.converged.all() and arr.converged.all()
    start = hf.random_patterns(1, 40, seed=3)[0]
    one = problem.minimize(restarts=3, init=start, sweeps=10, seed=0)
    assert one.states.shape == (3, 40)


# --- sampling random symmetric couplings ----------------------------------------------------


@pytest.fixture(scope="module")
def small_ising():
    n, t = 8, 0.8
    J, h = random_couplings(n, 11, scale=8)
    exact = reference.boltzmann_distribution(
        reference.ising_energy(J, h, reference.all_states(n)), t
    )
    return hf.IsingProblem(J, h), J, h, t, exact


def test_ising_samples_match_the_exact_boltzmann_distribution(small_ising) -> None:
    """Random symmetric couplings, N = 8: independent chains, one sample each (the
    bound is derived in ``boltzmann_check``). These couplings mix slowly at this
    temperature: after 40 sweeps the chains are still measurably biased (TV ≈ 0.02
    against a sampling noise of ≈ 0.01), after 200 they are at the noise level, so
    the burn-in is 300."""
    problem, _, _, t, exact = small_ising
    got = hf.sample(problem, temperature=t, n_samples=1, burn_in=300, chains=CHAINS, seed=3)
    tv = reference.total_variation(empirical(got.flat, 8), exact)
    assert tv < tv_bound(256, CHAINS), tv
    assert reference.total_variation(exact, np.full(256, 1 / 256)) > 0.3
    np.testing.assert_allclose(got.flat.shape, (CHAINS, 8))


@pytest.mark.parametrize("rule", ["half-gap", "synchronous"])
def test_wrong_rules_fail_on_random_couplings(small_ising, rule) -> None:
    _, J, h, t, exact = small_ising
    s = numpy_chains(J, -h, t, rule, CHAINS, BURN_IN, seed=4)
    tv = reference.total_variation(empirical(s, 8), exact)
    assert tv > 3 * tv_bound(256, CHAINS), f"{rule}: {tv}"


def test_ising_sampling_follows_the_dense_reference_bit_for_bit() -> None:
    n, chains, seed, t, sweeps = 30, 6, 5, 0.7, 5
    J, h = random_couplings(n, 8)
    problem = hf.IsingProblem(J, h)
    init = hf.random_patterns(chains, n, seed=1)
    got = hf.sample(problem, temperature=t, n_samples=1, burn_in=sweeps - 1, seed=seed, init=init)
    orders = hf.sweep_orders(n, sweeps, seed=seed, count=chains)
    uniforms = hf.acceptance_uniforms(n, sweeps, seed=seed, count=chains)
    states, energy = reference.glauber_dense(J, init, orders, uniforms, np.full(sweeps, t), -h)
    np.testing.assert_array_equal(got.final_states, states)
    np.testing.assert_allclose(got.energy[:, 0], energy, atol=1e-9)
    np.testing.assert_allclose(got.energy[:, 0], problem.energy(states), atol=1e-9)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: hf.IsingProblem([[0, 1], [2, 0]]), ValueError, r"J must be symmetric; J\[0, 1\]"),
        (lambda: hf.IsingProblem([[1, 0], [0, 0]]), ValueError, "zero diagonal"),
        (lambda: hf.IsingProblem(np.zeros((2, 3))), ValueError, "square"),
        (lambda: hf.IsingProblem([[0, np.nan], [np.nan, 0]]), ValueError, "finite"),
        (lambda: hf.IsingProblem([["a", "b"], ["c", "d"]]), TypeError, "real square"),
        (lambda: hf.IsingProblem(np.zeros((2, 2)), h=[1.0]), ValueError, r"h must have shape"),
        (lambda: hf.IsingProblem(np.zeros((2, 2)), h=[1.0, np.inf]), ValueError, "h must be"),
        (lambda: hf.IsingProblem(np.zeros((2, 2)), offset=None), TypeError, "offset"),
        (lambda: hf.IsingProblem.from_qubo(np.zeros(3)), ValueError, "Q must be"),
        (lambda: hf.maxcut([[0, 1], [0, 0]]), ValueError, "adjacency must be symmetric"),
        (lambda: hf.maxcut(np.ones((2, 2)), restarts=0), ValueError, "restarts"),
        (lambda: hf.maxcut(np.ones((2, 2)), schedule=("x", 1, 1)), ValueError, "schedule"),
        (
            lambda: hf.IsingProblem(np.zeros((2, 2))).minimize(restarts=2, init=np.ones((3, 2))),
            ValueError,
            "init has 3 rows",
        ),
        (lambda: hf.IsingProblem(np.full((2, 2), 1e300) * (1 - np.eye(2))), ValueError, "float32"),
    ],
)
def test_bad_problems_are_refused(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_inputs_are_not_modified() -> None:
    J, h = random_couplings(6, 1)
    Jc, hc = J.copy(), h.copy()
    problem = hf.IsingProblem(J, h)
    problem.minimize(restarts=2, sweeps=5, seed=0)
    hf.maxcut(np.abs(J), seed=0, restarts=2, sweeps=5)
    np.testing.assert_array_equal(J, Jc)
    np.testing.assert_array_equal(h, hc)
    assert problem.couplings is not problem.couplings
