"""Stochastic (Glauber) retrieval, annealing and Boltzmann sampling.

The Rust runs are checked three ways: bit for bit against the NumPy
reference given the same neuron orders and acceptance uniforms; in
distribution against the exact Boltzmann distribution of small models
(with a bound on the total-variation distance derived from the sample
size, which wrong acceptance rules exceed); and for the usual contracts
(threads, validation, the unchanged T = 0 path).
"""

from __future__ import annotations

import math

import hopfield as hf
import numpy as np
import pytest
from boltzmann_check import BURN_IN, CHAINS, empirical, numpy_chains, tv_bound
from hopfield import _core, reference
from hopfield.sampling import random_states


def hebbian(p: int, n: int, seed: int, theta: float | np.ndarray = 0.0) -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(n, threshold=theta)
    net.store(hf.random_patterns(p, n, seed=seed))
    return net


def temperatures(**kw) -> np.ndarray:
    """The per-sweep temperatures the engine uses for these retrieve options."""
    options = {"temperature": 0.0, "sweeps": None, "schedule": None} | kw
    plan = _core.RetrieveOptions(
        update="async",
        max_sweeps=1,
        order="random",
        seed=0,
        threads=None,
        track_energy=False,
        **options,
    )
    return plan.temperatures()


# --- bit-exact agreement with the reference -------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0.4, "sweeps": 6},
        {"schedule": ("geometric", 3.0, 0.05), "sweeps": 7},
        {"schedule": ("linear", 1.0, 0.0), "sweeps": 5},
        {"schedule": [2.0, 0.0, 0.5, 0.0, 0.1]},
    ],
    ids=["constant", "geometric", "linear-to-zero", "array"],
)
@pytest.mark.parametrize("theta", [0.0, 0.05], ids=["theta0", "theta"])
def test_stochastic_retrieve_equals_reference_bit_for_bit(options, theta) -> None:
    n, p, b, seed = 70, 6, 9, 11
    net = hebbian(p, n, 1, theta)
    queries = hf.corrupt(net.patterns[np.arange(b) % p], flip=0.3, seed=2)
    res = net.retrieve(queries, seed=seed, track_energy=True, **options)
    temps = temperatures(**options)
    sweeps = temps.size
    orders = hf.sweep_orders(n, sweeps, seed=seed, count=b)
    uniforms = hf.acceptance_uniforms(n, sweeps, seed=seed, count=b)
    states, energy = reference.glauber_hebbian(
        net.patterns, queries, orders, uniforms, temps, theta
    )
    np.testing.assert_array_equal(res.states, states)
    np.testing.assert_allclose(res.energy, energy, rtol=0, atol=1e-9)
    assert (res.sweeps == sweeps).all()
    assert not res.cycled.any()
    np.testing.assert_array_equal(
        res.converged, reference.is_fixed_point(net.patterns, states, theta)
    )
    assert res.energy_trace.shape == (b, sweeps + 1)
    np.testing.assert_array_equal(res.energy_trace[:, -1], res.energy)
    np.testing.assert_allclose(res.energy_trace[:, 0], net.energy(queries), atol=1e-9)


def test_sampling_records_the_reference_trajectory() -> None:
    n, p, chains, seed = 40, 3, 5, 4
    burn_in, n_samples, thin, t = 3, 4, 2, 0.6
    net = hebbian(p, n, 3, 0.02)
    init = hf.random_patterns(chains, n, seed=8)
    got = hf.sample(
        net,
        temperature=t,
        n_samples=n_samples,
        burn_in=burn_in,
        thin=thin,
        seed=seed,
        init=init,
    )
    assert got.states.shape == (chains, n_samples, n)
    assert got.states.dtype == np.int8
    total = burn_in + n_samples * thin
    orders = hf.sweep_orders(n, total, seed=seed, count=chains)
    uniforms = hf.acceptance_uniforms(n, total, seed=seed, count=chains)
    state = init
    at = 0
    expected, energies = [], []
    for length in [burn_in] + [thin] * n_samples:
        span = slice(at, at + length)
        state, energy = reference.glauber_hebbian(
            net.patterns, state, orders[:, span], uniforms[:, span], np.full(length, t), 0.02
        )
        at += length
        expected.append(state)
        energies.append(energy)
    np.testing.assert_array_equal(got.states, np.stack(expected[1:], axis=1))
    np.testing.assert_allclose(got.energy, np.stack(energies[1:], axis=1), atol=1e-9)
    np.testing.assert_array_equal(got.final_states, expected[-1])
    np.testing.assert_array_equal(got.flat, got.states.reshape(-1, n))


def test_sampling_starts_from_the_documented_random_states() -> None:
    net = hebbian(2, 30, 5)
    seed = 12
    a = hf.sample(net, temperature=1.0, n_samples=2, burn_in=1, chains=3, seed=seed)
    b = hf.sample(
        net,
        temperature=1.0,
        n_samples=2,
        burn_in=1,
        seed=seed,
        init=random_states(3, 30, seed=seed),
    )
    np.testing.assert_array_equal(a.states, b.states)
    # The starting states are not the patterns hf.random_patterns gives for the same seed.
    assert not np.array_equal(random_states(3, 30, seed=seed), hf.random_patterns(3, 30, seed=seed))


# --- the exact Boltzmann distribution ---------------------------------------------------


@pytest.fixture(scope="module")
def small_hebbian():
    n, t = 8, 0.45
    theta = np.random.default_rng(3).normal(0.0, 0.3, n)
    net = hebbian(3, n, 21, theta)
    exact = reference.boltzmann_distribution(net.energy(reference.all_states(n)), t)
    return net, theta, t, exact


def test_hebbian_samples_match_the_exact_boltzmann_distribution(small_hebbian) -> None:
    net, _, t, exact = small_hebbian
    n = net.n
    got = hf.sample(net, temperature=t, n_samples=1, burn_in=BURN_IN, chains=CHAINS, seed=5)
    tv = reference.total_variation(empirical(got.flat, n), exact)
    bound = tv_bound(2**n, CHAINS)
    assert tv < bound, f"TV {tv:.4f} >= bound {bound:.4f}"
    # The distribution is far from uniform, so the check has teeth.
    assert reference.total_variation(exact, np.full(2**n, 2.0**-n)) > 0.5


@pytest.mark.parametrize("rule", ["heat-bath", "half-gap", "synchronous"])
def test_the_bound_separates_the_right_rule_from_wrong_ones(small_hebbian, rule) -> None:
    net, theta, t, exact = small_hebbian
    n = net.n
    s = numpy_chains(net.weights, theta, t, rule, CHAINS, BURN_IN, seed=9)
    tv = reference.total_variation(empirical(s, n), exact)
    bound = tv_bound(2**n, CHAINS)
    if rule == "heat-bath":
        assert tv < bound
    else:
        assert tv > 3 * bound, f"{rule}: TV {tv:.4f} is not far above {bound:.4f}"


def test_long_chains_have_the_right_mean_energy(small_hebbian) -> None:
    """Many thinned samples from few chains: the mean energy agrees with the
    exact one within 6 standard errors, the error estimated from the spread of
    the per-chain means (independent chains, so no autocorrelation model)."""
    net, _, t, exact = small_hebbian
    energies = net.energy(reference.all_states(net.n))
    got = hf.sample(net, temperature=t, n_samples=2000, burn_in=50, thin=3, chains=32, seed=6)
    per_chain = got.energy.mean(axis=1)
    err = per_chain.std(ddof=1) / math.sqrt(per_chain.size)
    assert abs(per_chain.mean() - exact @ energies) < 6 * err + 1e-12
    np.testing.assert_allclose(got.energy, net.energy(got.flat).reshape(got.energy.shape))


# --- contracts ----------------------------------------------------------------------------


def test_results_do_not_depend_on_threads() -> None:
    net = hebbian(5, 100, 2)
    q = hf.corrupt(net.patterns, flip=0.2, seed=1)
    kw = {"schedule": ("geometric", 2.0, 0.1), "sweeps": 15, "seed": 3}
    a = net.retrieve(q, threads=1, **kw)
    b = net.retrieve(q, threads=2, **kw)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.energy, b.energy)
    s1 = hf.sample(net, temperature=0.5, n_samples=7, chains=5, seed=1, threads=1)
    s2 = hf.sample(net, temperature=0.5, n_samples=7, chains=5, seed=1, threads=2)
    np.testing.assert_array_equal(s1.states, s2.states)


def test_zero_temperature_is_the_deterministic_path() -> None:
    net = hebbian(10, 120, 4)
    q = hf.corrupt(net.patterns, flip=0.2, seed=1)
    a = net.retrieve(q, seed=3, track_energy=True)
    b = net.retrieve(q, seed=3, track_energy=True, temperature=0.0)
    for field in ("states", "converged", "sweeps", "energy", "cycled", "energy_trace"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    # An all-zero schedule makes the same decisions as descent (same streams).
    c = net.retrieve(q, seed=3, schedule=np.zeros(a.sweeps.max()))
    np.testing.assert_array_equal(c.states, a.states)
    assert c.converged.all()


def test_annealing_reaches_stored_memories_from_random_states() -> None:
    net = hebbian(3, 200, 6)
    starts = random_states(20, 200, seed=2)
    res = net.retrieve(starts, schedule=("geometric", 1.0, 0.02), sweeps=60, seed=1)
    assert res.converged.all()
    _, overlap = res.nearest(net.patterns)
    assert (np.abs(overlap) == 1.0).mean() > 0.9
    hot = net.retrieve(net.patterns, temperature=50.0, sweeps=3, seed=1)
    assert (np.abs(net.overlaps(hot.states)).max(axis=1) < 0.4).all()


def test_single_query_gives_scalars() -> None:
    net = hebbian(2, 50, 1)
    res = net.retrieve(net.patterns[0], temperature=0.1, sweeps=3, seed=0)
    assert res.states.shape == (50,)
    assert isinstance(res.converged, bool) and res.sweeps == 3
    assert isinstance(res.energy, float)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"temperature": -1.0}, ValueError, "temperature must be a finite temperature >= 0"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature must be a real number"),
        ({"temperature": 1.0, "update": "sync"}, ValueError, "asynchronous"),
        ({"sweeps": 5}, ValueError, "sweeps= sets the length of a stochastic run"),
        ({"temperature": 1.0, "sweeps": 0}, ValueError, "sweeps"),
        ({"temperature": 1.0, "schedule": [1.0]}, ValueError, "either temperature= or schedule="),
        ({"schedule": ("cosine", 1.0, 0.1)}, ValueError, "schedule must be"),
        ({"schedule": ("geometric", 1.0, 0.0)}, ValueError, "schedule's T1 must be"),
        ({"schedule": ("linear", -1.0, 0.0)}, ValueError, "schedule's T0 must be"),
        ({"schedule": [1.0, -0.5]}, ValueError, r"found -0.5 at 1"),
        ({"schedule": [[1.0]]}, ValueError, "1-D"),
        ({"schedule": []}, ValueError, "non-empty"),
        ({"schedule": ["a", "b"]}, ValueError, "schedule must be"),
        ({"schedule": [1.0, 2.0], "sweeps": 3}, ValueError, "disagrees"),
    ],
)
def test_bad_stochastic_options_are_refused(options, error, match) -> None:
    net = hebbian(2, 20, 1)
    with pytest.raises(error, match=match):
        net.retrieve(net.patterns, seed=0, **options)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"temperature": 0.0}, ValueError, "temperature must be a finite number > 0"),
        ({"temperature": None}, TypeError, "temperature must be a real number"),
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"thin": 0}, ValueError, "thin"),
        ({"burn_in": -1}, ValueError, "burn_in"),
        ({"chains": 0}, ValueError, "chains"),
        ({"init": np.ones((2, 20)), "chains": 3}, ValueError, "disagrees"),
        ({"init": np.ones(19)}, ValueError, "init"),
        ({"order": "backwards"}, ValueError, "order"),
    ],
)
def test_bad_sampling_options_are_refused(kw, error, match) -> None:
    net = hebbian(2, 20, 1)
    args = {"temperature": 1.0, "n_samples": 3, "seed": 0} | kw
    with pytest.raises(error, match=match):
        hf.sample(net, **args)


def test_sample_needs_a_binary_model() -> None:
    with pytest.raises(TypeError, match="binary energy model"):
        hf.sample(np.zeros((3, 3)), temperature=1.0, n_samples=1)


def test_sample_refuses_impossible_sizes_before_allocating() -> None:
    net = hebbian(1, 64, 1)
    with pytest.raises(MemoryError, match="cannot be allocated"):
        hf.sample(net, temperature=1.0, n_samples=2**31, chains=2**31 // 64 + 1, seed=0)


def test_user_arrays_are_not_modified() -> None:
    net = hebbian(2, 30, 1)
    init = hf.random_patterns(3, 30, seed=2)
    before = init.copy()
    sched = np.array([1.0, 0.5])
    hf.sample(net, temperature=1.0, n_samples=2, init=init, seed=0)
    net.retrieve(init, schedule=sched, seed=0)
    np.testing.assert_array_equal(init, before)
    np.testing.assert_array_equal(sched, [1.0, 0.5])


def test_acceptance_uniforms_are_uniform_and_reproducible() -> None:
    u = hf.acceptance_uniforms(50, 4, seed=1, count=3)
    assert u.shape == (3, 4, 50) and u.dtype == np.float64
    assert ((u >= 0) & (u < 1)).all()
    np.testing.assert_array_equal(u[2], hf.acceptance_uniforms(50, 4, seed=1, first=2)[0])
    with pytest.raises(TypeError, match="seed"):
        hf.acceptance_uniforms(5, 1, seed=None)


def test_ctrl_c_interrupts_a_long_sampling_run() -> None:
    """A run of ~10⁹ updates is stopped by KeyboardInterrupt between chunks
    (the GIL is released while the chains run, so the timer thread gets to
    raise it)."""
    import _thread
    import threading

    net = hebbian(4, 256, 1)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            hf.sample(net, temperature=1.0, n_samples=1, burn_in=2_000_000, chains=2, seed=0)
    finally:
        timer.cancel()


def test_sequential_order_follows_the_reference() -> None:
    n, b, sweeps, seed = 33, 4, 4, 2
    net = hebbian(3, n, 7)
    queries = hf.random_patterns(b, n, seed=3)
    res = net.retrieve(queries, temperature=0.8, sweeps=sweeps, order="sequential", seed=seed)
    orders = np.broadcast_to(np.arange(n), (b, sweeps, n))
    uniforms = hf.acceptance_uniforms(n, sweeps, seed=seed, count=b)
    states, _ = reference.glauber_hebbian(
        net.patterns, queries, orders, uniforms, np.full(sweeps, 0.8)
    )
    np.testing.assert_array_equal(res.states, states)
