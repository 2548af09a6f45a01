"""Tests for hopfield.HopfieldNetwork, the Rust-backed classical network.

Every dynamical result is compared with the NumPy oracle
(:mod:`hopfield.reference`): spins, sweeps, ``converged`` and ``cycled`` by
exact equality, and energies exactly too while the thresholds are zero (the
Hebbian arithmetic is then integer up to one division). With nonzero
thresholds the ``θ·s`` sum depends on the summation order, so energies are
compared with ``assert_allclose``. The random asynchronous order is reproduced
in NumPy through :func:`hopfield.sweep_orders`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import hopfield as hf
import numpy as np
import pytest
from hopfield import _core
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal  # NaN == NaN, shapes and values
SIMD_LEVELS = ("portable", "popcnt", "avx2", "avx512")


def _network(x: np.ndarray, threshold: float | np.ndarray = 0.0) -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(x.shape[1], threshold=threshold)
    net.store(x)
    return net


def _queries(x: np.ndarray, b: int, flip: float, seed: int) -> np.ndarray:
    """``b`` corrupted copies of the patterns (cycling through them) plus,
    as the last rows, a couple of uniformly random states."""
    p, n = x.shape
    rows = x[np.arange(b) % p]
    q = hf.corrupt(rows, flip=flip, seed=seed)
    extra = max(1, b // 4)
    q[-extra:] = hf.random_patterns(extra, n, seed=seed + 1000)
    return q


def _assert_async_equal(res: hf.Retrieval, exp: ref.AsyncResult, *, exact_energy: bool) -> None:
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)
    assert not np.any(res.cycled), "async dynamics never report a cycle"
    if exact_energy:
        ASSERT_EQ(res.energy, exp.energy)
        if exp.energy_trace is not None:
            ASSERT_EQ(res.energy_trace, exp.energy_trace)
    else:
        np.testing.assert_allclose(res.energy, exp.energy, rtol=1e-12, atol=1e-9)
        if exp.energy_trace is not None:
            assert res.energy_trace is not None
            assert res.energy_trace.shape == exp.energy_trace.shape
            ASSERT_EQ(np.isnan(res.energy_trace), np.isnan(exp.energy_trace))
            np.testing.assert_allclose(res.energy_trace, exp.energy_trace, rtol=1e-12, atol=1e-9)


def _assert_sync_equal(res: hf.Retrieval, exp: ref.SyncResult, *, exact_energy: bool) -> None:
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)
    ASSERT_EQ(res.cycled, exp.cycled)
    if exact_energy:
        ASSERT_EQ(res.energy, exp.energy)
        if exp.energy_trace is not None:
            ASSERT_EQ(res.energy_trace, exp.energy_trace)
    else:
        np.testing.assert_allclose(res.energy, exp.energy, rtol=1e-12, atol=1e-9)
        if exp.energy_trace is not None:
            assert res.energy_trace is not None
            ASSERT_EQ(np.isnan(res.energy_trace), np.isnan(exp.energy_trace))
            np.testing.assert_allclose(res.energy_trace, exp.energy_trace, rtol=1e-12, atol=1e-9)


@pytest.fixture
def restore_simd() -> Iterator[str]:
    """Yields the detected SIMD level and puts the level in force back afterwards."""
    before = _core.simd_level()
    try:
        yield _core.detected_simd()
    finally:
        _core.set_simd_level(before)
        assert _core.simd_level() == before


# ---------------------------------------------------------------------------
# parity with the NumPy reference: asynchronous dynamics

# (P, N): N across the 64-bit word boundaries, loads from tiny to beyond
# capacity (α = 0.14 and 0.2 give spurious states and long descents).
SIZES = [
    (1, 1),
    (3, 1),
    (2, 63),
    (6, 63),
    (1, 64),
    (9, 64),
    (4, 65),
    (13, 65),
    (3, 130),
    (18, 130),
    (26, 130),
    (50, 1000),
    (140, 1000),
]


@pytest.mark.parametrize(("p", "n"), SIZES)
@pytest.mark.parametrize("flip", [0.1, 0.3])
def test_async_random_matches_reference(p: int, n: int, flip: float) -> None:
    x = hf.random_patterns(p, n, seed=p * 1000 + n)
    b = 4 if n >= 1000 else 8
    q = _queries(x, b, flip, seed=n + p)
    net = _network(x)
    max_sweeps, seed = 40, 12345 + n
    res = net.retrieve(q, seed=seed, max_sweeps=max_sweeps, track_energy=True)
    orders = hf.sweep_orders(n, max_sweeps, seed=seed, count=b)
    exp = ref.retrieve_async(x, q, orders, max_sweeps=max_sweeps, track_energy=True)
    _assert_async_equal(res, exp, exact_energy=True)
    assert res.states.dtype == np.int8 and res.states.shape == (b, n)
    assert res.converged.dtype == np.bool_ and res.cycled.dtype == np.bool_
    assert res.sweeps.dtype == np.int64 and res.energy.dtype == np.float64
    assert res.energy_trace is not None and res.energy_trace.dtype == np.float64
    assert res.energy_trace.shape == (b, int(res.sweeps.max()) + 1)


@pytest.mark.parametrize(("p", "n"), [(26, 130), (140, 1000)])
def test_async_out_of_sweeps_matches_reference(p: int, n: int) -> None:
    """Queries cut off by max_sweeps: converged False, sweeps == max_sweeps."""
    x = hf.random_patterns(p, n, seed=7)
    q = hf.random_patterns(6, n, seed=8)
    net = _network(x)
    res = net.retrieve(q, seed=3, max_sweeps=1, track_energy=True)
    exp = ref.retrieve_async(
        x, q, hf.sweep_orders(n, 1, seed=3, count=6), max_sweeps=1, track_energy=True
    )
    _assert_async_equal(res, exp, exact_energy=True)
    assert not res.converged.all(), "random states should need more than one sweep"
    ASSERT_EQ(res.sweeps, 1)
    assert res.energy_trace is not None and res.energy_trace.shape == (6, 2)


def test_async_random_at_32_bit_lanes() -> None:
    """N = 32768 is past the 16-bit overlap lanes: the wide kernel agrees too."""
    p, n = 5, 32768
    x = hf.random_patterns(p, n, seed=0)
    q = hf.corrupt(x[:2], flip=0.2, seed=1)
    res = _network(x).retrieve(q, seed=9, max_sweeps=5, track_energy=True)
    orders = hf.sweep_orders(n, 5, seed=9, count=2)
    exp = ref.retrieve_async(x, q, orders, max_sweeps=5, track_energy=True)
    _assert_async_equal(res, exp, exact_energy=True)
    ASSERT_EQ(res.states, x[:2])


@pytest.mark.parametrize(("p", "n"), [(1, 1), (6, 63), (9, 64), (13, 65), (26, 130), (140, 1000)])
def test_async_sequential_matches_reference(p: int, n: int) -> None:
    x = hf.random_patterns(p, n, seed=p + n)
    b = 4 if n >= 1000 else 8
    q = _queries(x, b, 0.25, seed=1)
    res = _network(x).retrieve(q, order="sequential", seed=0, max_sweeps=40, track_energy=True)
    exp = ref.retrieve_async(x, q, np.arange(n), max_sweeps=40, track_energy=True)
    _assert_async_equal(res, exp, exact_energy=True)


def test_sequential_order_ignores_the_seed() -> None:
    x = hf.random_patterns(18, 130, seed=1)
    q = _queries(x, 8, 0.3, seed=2)
    net = _network(x)
    a = net.retrieve(q, order="sequential", seed=1)
    b = net.retrieve(q, order="sequential", seed=2**64 - 1)
    ASSERT_EQ(a.states, b.states)
    ASSERT_EQ(a.sweeps, b.sweeps)


@pytest.mark.parametrize("n", [4, 6, 9])
@pytest.mark.parametrize("p", [0, 1, 2, 3, 4])
def test_every_state_of_a_small_network(n: int, p: int) -> None:
    """All 2**N queries, async sequential and one sync step: ties (zero
    fields, frequent at small even P) keep their state exactly as the
    reference does."""
    x = hf.random_patterns(p, n, seed=p * 10 + n)
    if p >= 2:  # two distinct patterns, orthogonal for even N: ties are common
        x[1] = x[0] * np.where(np.arange(n) % 2 == 0, 1, -1)
    grid = np.array(np.meshgrid(*[[-1, 1]] * n, indexing="ij"), dtype=np.int8)
    states = grid.reshape(n, -1).T.copy()
    net = hf.HopfieldNetwork(n)
    if p:
        net.store(x)
    res = net.retrieve(states, order="sequential", max_sweeps=20)
    exp = ref.retrieve_async(x, states, np.arange(n), max_sweeps=20)
    _assert_async_equal(res, exp, exact_energy=True)
    one = net.retrieve(states, update="sync", max_sweeps=1)
    exp1 = ref.retrieve_sync(x, states, max_sweeps=1)
    _assert_sync_equal(one, exp1, exact_energy=True)
    if p == 0:  # every field is zero: nothing moves
        ASSERT_EQ(res.states, states)
        ASSERT_EQ(res.sweeps, 1)
        assert res.converged.all()
    # The integer field A = Σ_μ m_μ ξ^μ_i − P s_i has the parity of P(N − 1):
    # zero fields need that even; these cases must really contain them.
    if p and p * (n - 1) % 2 == 0 and n > 4:
        assert (ref.fields(x, states) == 0).any()


# ---------------------------------------------------------------------------
# parity with the NumPy reference: synchronous dynamics


@pytest.mark.parametrize(("p", "n"), SIZES)
def test_sync_matches_reference(p: int, n: int) -> None:
    x = hf.random_patterns(p, n, seed=p * 7 + n)
    q = _queries(x, 16, 0.2, seed=n)
    res = _network(x).retrieve(q, update="sync", max_sweeps=50, track_energy=True, seed=1)
    exp = ref.retrieve_sync(x, q, max_sweeps=50, track_energy=True)
    _assert_sync_equal(res, exp, exact_energy=True)


def test_kept_layout_follows_store_and_forget() -> None:
    """The memory keeps its retrieval layout between calls, and from the
    64th query on tracks fields by byte-weight rows: batches past that
    point, before and after ``store`` and ``forget``, still equal the
    reference exactly, in both dynamics."""
    n = 300
    x = hf.random_patterns(40, n, seed=77)
    net = _network(x[:30])
    for stored in (x[:30], x, x[:30]):
        if stored.shape[0] == 40 and net.num_patterns == 30:
            net.store(x[30:])
        elif stored.shape[0] == 30 and net.num_patterns == 40:
            net.forget(np.arange(30, 40))
        assert net.num_patterns == stored.shape[0]
        q = _queries(stored, 150, 0.15, seed=stored.shape[0])
        for _ in range(2):
            res = net.retrieve(q, update="sync", max_sweeps=30, track_energy=True)
            exp_s = ref.retrieve_sync(stored, q, max_sweeps=30, track_energy=True)
            _assert_sync_equal(res, exp_s, exact_energy=True)
            res = net.retrieve(q, seed=5, max_sweeps=30, track_energy=True)
            orders = hf.sweep_orders(n, 30, seed=5, count=q.shape[0])
            exp_a = ref.retrieve_async(stored, q, orders, max_sweeps=30, track_energy=True)
            _assert_async_equal(res, exp_a, exact_energy=True)


def test_sync_out_of_sweeps_matches_reference() -> None:
    x = hf.random_patterns(140, 1000, seed=1)
    q = hf.random_patterns(8, 1000, seed=2)
    for max_sweeps in (1, 2, 3):
        res = _network(x).retrieve(q, update="sync", max_sweeps=max_sweeps, track_energy=True)
        exp = ref.retrieve_sync(x, q, max_sweeps=max_sweeps, track_energy=True)
        _assert_sync_equal(res, exp, exact_energy=True)
    assert not res.converged.all()


def test_sync_reports_a_two_cycle() -> None:
    """One all-ones pattern and a balanced query: the overlap is 0, every
    field is −s_i/N, so each step negates the state: s, −s, s."""
    n = 130
    x = np.ones((1, n), dtype=np.int8)
    balanced = np.where(np.arange(n) % 2 == 0, 1, -1).astype(np.int8)
    q = np.stack([balanced, hf.corrupt(x[0], flip=0.2, seed=0), -balanced])
    res = _network(x).retrieve(q, update="sync", max_sweeps=100, track_energy=True)
    exp = ref.retrieve_sync(x, q, max_sweeps=100, track_energy=True)
    _assert_sync_equal(res, exp, exact_energy=True)
    ASSERT_EQ(res.cycled, [True, False, True])
    ASSERT_EQ(res.converged, [False, True, False])
    ASSERT_EQ(res.sweeps[[0, 2]], [2, 2])
    ASSERT_EQ(res.states[0], balanced)  # s_2 == s_0
    ASSERT_EQ(res.states[1], x[0])
    # the same query alone, as a single (N,) query
    one = _network(x).retrieve(balanced, update="sync")
    assert one.cycled is True and one.converged is False and one.sweeps == 2
    # async descends from it instead (the energy never increases)
    down = _network(x).retrieve(balanced, seed=0)
    assert down.converged is True and down.cycled is False
    assert abs(int(down.states.astype(np.int64).sum())) == n


def test_sync_two_cycle_in_tiny_network() -> None:
    x = np.array([[1, 1]], dtype=np.int8)
    res = _network(x).retrieve([1, -1], update="sync", track_energy=True)
    exp = ref.retrieve_sync(x, np.array([1, -1], dtype=np.int8), track_energy=True)
    assert (res.cycled, res.converged, res.sweeps) == (True, False, 2)
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.energy_trace, exp.energy_trace)


# ---------------------------------------------------------------------------
# thresholds


def _thresholds(n: int) -> list[float | np.ndarray]:
    rng = np.random.default_rng(n)
    return [
        0.15,
        -0.3,
        rng.normal(0.0, 0.2, n),
        # multiples of 1/N: fields of exactly zero again (ties with θ ≠ 0)
        rng.integers(-3, 4, n) / n,
    ]


@pytest.mark.parametrize(("p", "n"), [(1, 1), (6, 63), (9, 64), (13, 65), (26, 130), (140, 1000)])
def test_thresholds_match_reference(p: int, n: int) -> None:
    x = hf.random_patterns(p, n, seed=n + 1)
    b = 4 if n >= 1000 else 8
    q = _queries(x, b, 0.2, seed=3)
    for theta in _thresholds(n):
        net = _network(x, theta)
        ASSERT_EQ(net.threshold, np.broadcast_to(np.asarray(theta, dtype=np.float64), (n,)))
        res = net.retrieve(q, seed=5, max_sweeps=30, track_energy=True)
        orders = hf.sweep_orders(n, 30, seed=5, count=b)
        exp = ref.retrieve_async(x, q, orders, theta=theta, max_sweeps=30, track_energy=True)
        _assert_async_equal(res, exp, exact_energy=False)
        res = net.retrieve(q, order="sequential", max_sweeps=30)
        exp = ref.retrieve_async(x, q, np.arange(n), theta=theta, max_sweeps=30)
        _assert_async_equal(res, exp, exact_energy=False)
        res = net.retrieve(q, update="sync", max_sweeps=30, track_energy=True)
        exp_s = ref.retrieve_sync(x, q, theta=theta, max_sweeps=30, track_energy=True)
        _assert_sync_equal(res, exp_s, exact_energy=False)
        np.testing.assert_allclose(net.energy(q), ref.energy(x, q, theta), rtol=1e-12, atol=1e-9)
        ASSERT_EQ(net.fields(q), ref.fields(x, q, theta))


def test_large_threshold_dominates() -> None:
    """θ_i far beyond any field: every neuron ends at −sign(θ_i)."""
    n = 100
    x = hf.random_patterns(5, n, seed=0)
    theta = np.where(np.arange(n) < 50, 10.0, -10.0)
    res = _network(x, theta).retrieve(hf.random_patterns(3, n, seed=1), seed=0)
    ASSERT_EQ(res.states, np.broadcast_to(-np.sign(theta).astype(np.int8), (3, n)))
    assert res.converged.all()


# ---------------------------------------------------------------------------
# energy, fields, overlaps, weights


@pytest.mark.parametrize(("p", "n"), [(1, 1), (6, 63), (9, 64), (13, 65), (26, 130), (140, 1000)])
def test_async_energy_never_increases(p: int, n: int) -> None:
    x = hf.random_patterns(p, n, seed=4)
    q = _queries(x, 8, 0.4, seed=5)
    for theta in (0.0, np.random.default_rng(0).normal(0, 0.1, n)):
        res = _network(x, theta).retrieve(q, seed=6, track_energy=True)
        tr = res.energy_trace
        assert tr is not None
        for row, sweeps in zip(tr, res.sweeps, strict=True):
            valid = row[: sweeps + 1]
            assert not np.isnan(valid).any()
            assert np.isnan(row[sweeps + 1 :]).all()
            steps = np.diff(valid)
            tol = 0.0 if np.isscalar(theta) else 1e-9
            assert (steps <= tol).all(), f"energy increased along {valid}"
            if res.converged.all():
                assert steps[-1] == 0.0 or abs(steps[-1]) <= tol
        np.testing.assert_allclose(tr[np.arange(8), res.sweeps], res.energy, rtol=0, atol=1e-12)
        np.testing.assert_allclose(tr[:, 0], ref.energy(x, q, theta), rtol=0, atol=1e-9)


@pytest.mark.parametrize(("p", "n"), [(1, 1), (2, 63), (9, 64), (13, 65), (26, 130), (60, 1000)])
def test_fields_overlaps_energy_weights_match_reference(p: int, n: int) -> None:
    x = hf.random_patterns(p, n, seed=p + 2 * n)
    s = hf.random_patterns(7, n, seed=3)
    net = _network(x)
    ASSERT_EQ(net.fields(s), ref.fields(x, s))
    ASSERT_EQ(net.overlaps(s), ref.overlaps(x, s))
    ASSERT_EQ(net.energy(s), ref.energy(x, s))
    w = net.weights
    assert w.dtype == np.float64 and w.shape == (n, n)
    ASSERT_EQ(w, ref.hebbian_weights(x))
    ASSERT_EQ(np.diag(w), 0.0)
    ASSERT_EQ(w, w.T)
    # the textbook formulas, from the materialised matrix
    sf = s.astype(np.float64)
    np.testing.assert_allclose(net.fields(s), sf @ w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        net.energy(s), -0.5 * np.einsum("bi,ij,bj->b", sf, w, sf), rtol=1e-12, atol=1e-12
    )
    # single states drop the batch axis
    assert isinstance(net.energy(s[0]), float)
    assert net.energy(s[0]) == ref.energy(x, s[0])
    assert net.fields(s[0]).shape == (n,)
    assert net.overlaps(s[0]).shape == (p,)
    ASSERT_EQ(net.overlaps(x), ref.overlaps(x, x))
    ASSERT_EQ(np.diag(net.overlaps(x)), 1.0)


def test_fields_energy_at_32_bit_lanes() -> None:
    x = hf.random_patterns(3, 40000, seed=1)
    s = hf.random_patterns(3, 40000, seed=2)
    net = _network(x)
    ASSERT_EQ(net.fields(s), ref.fields(x, s))
    ASSERT_EQ(net.energy(s), ref.energy(x, s))
    ASSERT_EQ(net.overlaps(s), ref.overlaps(x, s))


def test_empty_network() -> None:
    net = hf.HopfieldNetwork(70)
    s = hf.random_patterns(3, 70, seed=0)
    assert net.num_patterns == 0
    assert net.patterns.shape == (0, 70) and net.patterns.dtype == np.int8
    assert net.overlaps(s).shape == (3, 0)
    ASSERT_EQ(net.energy(s), 0.0)
    ASSERT_EQ(net.fields(s), 0.0)
    ASSERT_EQ(net.weights, np.zeros((70, 70)))
    for update in ("async", "sync"):
        res = net.retrieve(s, update=update, seed=0)
        ASSERT_EQ(res.states, s)
        assert res.converged.all() and (res.sweeps == 1).all()


# ---------------------------------------------------------------------------
# memory behaviour


def _fixed_point_patterns() -> np.ndarray:
    """50 random patterns of 1000 neurons that are all fixed points.

    At α = 0.05 a given bit is unstable with probability ~4e-6, so most seeds
    give only fixed points; this one is checked with the reference."""
    x = hf.random_patterns(50, 1000, seed=0)
    assert ref.is_fixed_point(x, x).all()
    return x


@pytest.mark.parametrize("update", ["async", "sync"])
@pytest.mark.parametrize("order", ["random", "sequential"])
def test_stored_patterns_are_fixed_points(update: str, order: str) -> None:
    x = _fixed_point_patterns()
    net = _network(x)
    res = net.retrieve(x, update=update, order=order, seed=1)
    ASSERT_EQ(res.states, x)
    assert res.converged.all()
    assert not res.cycled.any()
    ASSERT_EQ(res.sweeps, 1)
    ASSERT_EQ(res.energy, ref.energy(x, x))
    # and their negations (the Hebbian energy is even)
    neg = net.retrieve(-x, update=update, order=order, seed=1)
    ASSERT_EQ(neg.states, -x)
    ASSERT_EQ(neg.sweeps, 1)


@pytest.mark.parametrize("update", ["async", "sync"])
def test_retrieval_rate_at_low_load(update: str) -> None:
    """N = 1000, P = 50, 10% of the bits flipped: 99% come back exactly."""
    x = _fixed_point_patterns()
    idx = np.arange(1000) % 50
    q = hf.corrupt(x[idx], flip=0.1, seed=1)
    assert ((q != x[idx]).sum(axis=1) == 100).all()
    res = _network(x).retrieve(q, update=update, seed=2)
    exact = (res.states == x[idx]).all(axis=1)
    rate = float(exact.mean())
    assert rate >= 0.99, f"{update}: only {rate:.1%} of 1000 queries retrieved their pattern"
    index, overlap = res.nearest(x)
    ASSERT_EQ(index[exact], idx[exact])
    ASSERT_EQ(overlap[exact], 1.0)


# ---------------------------------------------------------------------------
# determinism: threads, SIMD levels, other rows


def _big_case() -> tuple[np.ndarray, np.ndarray]:
    x = hf.random_patterns(130, 1000, seed=11)  # α = 0.13: long, varied descents
    q = _queries(x, 200, 0.3, seed=12)
    return x, q


def _all_results(net: hf.HopfieldNetwork, q: np.ndarray) -> list[hf.Retrieval]:
    return [
        net.retrieve(q, seed=77, track_energy=True),
        net.retrieve(q, order="sequential", track_energy=True),
        net.retrieve(q, update="sync", track_energy=True),
    ]


def _assert_same(a: hf.Retrieval, b: hf.Retrieval) -> None:
    ASSERT_EQ(a.states, b.states)
    ASSERT_EQ(a.sweeps, b.sweeps)
    ASSERT_EQ(a.converged, b.converged)
    ASSERT_EQ(a.cycled, b.cycled)
    ASSERT_EQ(a.energy, b.energy)
    ASSERT_EQ(a.energy_trace, b.energy_trace)


def test_results_do_not_depend_on_threads() -> None:
    x, q = _big_case()
    net = _network(x)
    base = [net.retrieve(q, seed=77, threads=1, track_energy=True)]
    for threads in (2, 3, None):
        other = net.retrieve(q, seed=77, threads=threads, track_energy=True)
        _assert_same(base[0], other)
    for update in ("async", "sync"):
        one = net.retrieve(q, update=update, order="sequential", threads=1)
        two = net.retrieve(q, update=update, order="sequential", threads=2)
        _assert_same(one, two)


def test_same_seed_same_result_and_seeds_matter() -> None:
    x, q = _big_case()
    net = _network(x)
    a = net.retrieve(q, seed=5, track_energy=True)
    b = net.retrieve(q, seed=5, track_energy=True)
    _assert_same(a, b)
    c = net.retrieve(q, seed=6)
    assert not np.array_equal(a.sweeps, c.sweeps) or not np.array_equal(a.states, c.states)
    # the largest seed is accepted and reproducible
    d = net.retrieve(q[:5], seed=2**64 - 1)
    e = net.retrieve(q[:5], seed=2**64 - 1)
    _assert_same(d, e)
    # seed=None draws a fresh seed at each call: still a valid descent to fixed points
    options = dict(update="async", max_sweeps=1, order="random", threads=None)
    options.update(track_energy=False, temperature=0.0, sweeps=None, schedule=None)
    fresh = {_core.RetrieveOptions(seed=None, **options).seed for _ in range(1000)}
    assert len(fresh) == 1000
    f = net.retrieve(q[:20], seed=None, max_sweeps=1000)
    assert f.converged.all()
    assert ref.is_fixed_point(x, f.states).all()


def test_row_results_do_not_depend_on_other_rows() -> None:
    """Row q draws from the stream (seed, q): changing or dropping the other
    rows, or running the first rows alone, leaves it unchanged."""
    x, q = _big_case()
    net = _network(x)
    full = net.retrieve(q, seed=3, track_energy=True)
    head = net.retrieve(q[:37], seed=3, track_energy=True)
    ASSERT_EQ(head.states, full.states[:37])
    ASSERT_EQ(head.sweeps, full.sweeps[:37])
    ASSERT_EQ(head.energy, full.energy[:37])
    assert head.energy_trace is not None and full.energy_trace is not None
    width = head.energy_trace.shape[1]
    ASSERT_EQ(head.energy_trace, full.energy_trace[:37, :width])
    changed = q.copy()
    changed[::2] = hf.random_patterns(100, 1000, seed=99)
    other = net.retrieve(changed, seed=3)
    ASSERT_EQ(other.states[1::2], full.states[1::2])
    ASSERT_EQ(other.sweeps[1::2], full.sweeps[1::2])
    # a larger max_sweeps does not change queries that converged anyway
    longer = net.retrieve(q, seed=3, max_sweeps=500)
    done = full.converged
    ASSERT_EQ(longer.states[done], full.states[done])
    ASSERT_EQ(longer.sweeps[done], full.sweeps[done])


def test_simd_levels_give_identical_results(restore_simd: str) -> None:
    detected = restore_simd
    assert detected in SIMD_LEVELS
    assert _core.simd_level() in SIMD_LEVELS
    x, q = _big_case()
    x_odd = hf.random_patterns(9, 65, seed=1)
    q_odd = _queries(x_odd, 40, 0.3, seed=2)
    s = hf.random_patterns(5, 1000, seed=3)
    outcomes = {}
    for level in SIMD_LEVELS:
        got = _core.set_simd_level(level)
        expected = SIMD_LEVELS[min(SIMD_LEVELS.index(level), SIMD_LEVELS.index(detected))]
        assert got == expected == _core.simd_level()
        net, net_odd = _network(x), _network(x_odd)
        outcomes[level] = (
            _all_results(net, q),
            _all_results(net_odd, q_odd),
            net.fields(s),
            net.energy(s),
            net.overlaps(s),
            net.weights,
            hf.Retrieval(s, True, 1, 0.0, False).nearest(x),
        )
    base = outcomes["portable"]
    for level in SIMD_LEVELS[1:]:
        other = outcomes[level]
        for a, b in zip(base[0] + base[1], other[0] + other[1], strict=True):
            _assert_same(a, b)
        for a, b in zip(base[2:6], other[2:6], strict=True):
            ASSERT_EQ(a, b)
        ASSERT_EQ(base[6][0], other[6][0])
        ASSERT_EQ(base[6][1], other[6][1])
    # one level still agrees with the reference
    _core.set_simd_level("portable")
    res = _network(x_odd).retrieve(q_odd, seed=77, track_energy=True)
    orders = hf.sweep_orders(65, 100, seed=77, count=40)
    exp = ref.retrieve_async(x_odd, q_odd, orders, track_energy=True)
    _assert_async_equal(res, exp, exact_energy=True)
    with pytest.raises(ValueError, match="level must be"):
        _core.set_simd_level("sse9")


# ---------------------------------------------------------------------------
# sweep_orders


def test_sweep_orders() -> None:
    o = hf.sweep_orders(50, 6, seed=3, count=4)
    assert o.dtype == np.int64 and o.shape == (4, 6, 50)
    ASSERT_EQ(np.sort(o, axis=2), np.broadcast_to(np.arange(50), o.shape))
    assert len({tuple(r) for r in o.reshape(-1, 50)}) == 24, "orders should all differ"
    ASSERT_EQ(o[2:], hf.sweep_orders(50, 6, seed=3, count=2, first=2))
    ASSERT_EQ(o[:, :3], hf.sweep_orders(50, 3, seed=3, count=4))
    ASSERT_EQ(o, hf.sweep_orders(50, 6, seed=3, count=4))
    assert not np.array_equal(o, hf.sweep_orders(50, 6, seed=4, count=4))
    assert hf.sweep_orders(5, 0, seed=1).shape == (1, 0, 5)
    assert hf.sweep_orders(5, 2, seed=1, count=0).shape == (0, 2, 5)
    ASSERT_EQ(hf.sweep_orders(1, 3, seed=1), np.zeros((1, 3, 1)))
    with pytest.raises(TypeError, match="seed must be an integer"):
        hf.sweep_orders(5, 2, seed=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        hf.sweep_orders(5, 2, seed=-1)
    with pytest.raises(ValueError, match="n must be at least 1"):
        hf.sweep_orders(0, 2, seed=1)


# ---------------------------------------------------------------------------
# single queries, result types, nearest


def test_single_query_gives_scalars() -> None:
    x = hf.random_patterns(5, 100, seed=0)
    net = _network(x)
    q = hf.corrupt(x[2], flip=0.1, seed=1)
    for update in ("async", "sync"):
        res = net.retrieve(q, update=update, seed=4, track_energy=True)
        batch = net.retrieve(q[None], update=update, seed=4, track_energy=True)
        assert res.single and not batch.single
        assert res.states.shape == (100,) and res.states.dtype == np.int8
        assert type(res.converged) is bool and type(res.cycled) is bool
        assert type(res.sweeps) is int and type(res.energy) is float
        assert res.energy_trace is not None and res.energy_trace.ndim == 1
        ASSERT_EQ(res.states, batch.states[0])
        assert res.sweeps == batch.sweeps[0] and res.energy == batch.energy[0]
        ASSERT_EQ(res.energy_trace, batch.energy_trace[0])
        assert net.retrieve(q, update=update, seed=4).energy_trace is None
        index, overlap = res.nearest(x)
        assert type(index) is int and type(overlap) is float
        assert (index, overlap) == (2, 1.0)
    # a negated pattern is its own fixed point, with overlap −1
    neg = net.retrieve(-x[3], seed=0)
    ASSERT_EQ(neg.states, -x[3])
    assert neg.nearest(x) == (3, -1.0)
    assert neg.nearest(x[3]) == (0, -1.0)


def test_nearest_on_a_batch() -> None:
    x = _fixed_point_patterns()
    net = _network(x)
    res = net.retrieve(np.concatenate([x[:5], -x[5:10]]), seed=0)
    index, overlap = res.nearest(x)
    assert index.dtype.kind == "i" and overlap.dtype == np.float64
    ASSERT_EQ(index, np.arange(10))
    ASSERT_EQ(overlap, [1.0] * 5 + [-1.0] * 5)
    with pytest.raises(ValueError, match=r"patterns must have shape \(P, 1000\)"):
        res.nearest(np.ones((2, 999)))
    with pytest.raises(ValueError, match="P >= 1"):
        res.nearest(np.ones((0, 1000)))


# ---------------------------------------------------------------------------
# storing


def test_store_appends_and_round_trips() -> None:
    n = 130
    x = hf.random_patterns(9, n, seed=0)
    one = _network(x)
    two = hf.HopfieldNetwork(n)
    two.store(x[:4])
    assert two.num_patterns == 4
    two.store(x[4:])
    three = hf.HopfieldNetwork(n)
    for row in x:
        three.store(row)  # one (N,) pattern at a time
    for net in (one, two, three):
        assert net.n == n and net.num_patterns == 9
        assert repr(net) == "HopfieldNetwork(n=130, num_patterns=9)"
        pats = net.patterns
        assert pats.dtype == np.int8 and pats.flags.c_contiguous
        ASSERT_EQ(pats, x)
        assert net.nbytes == 9 * 3 * 8 + 8 * n
    q = _queries(x, 8, 0.2, seed=1)
    _assert_same(
        one.retrieve(q, seed=1, track_energy=True), two.retrieve(q, seed=1, track_energy=True)
    )
    ASSERT_EQ(one.weights, two.weights)
    # the returned arrays are copies
    p = one.patterns
    p[:] = 1
    ASSERT_EQ(one.patterns, x)
    t = one.threshold
    t[:] = 5.0
    ASSERT_EQ(one.threshold, 0.0)
    # other encodings store the same patterns
    four = hf.HopfieldNetwork(n)
    four.store(x > 0)
    ASSERT_EQ(four.patterns, x)


@pytest.mark.parametrize(("p", "n"), [(0, 1), (1, 1), (3, 63), (3, 64), (3, 65), (7, 1000)])
def test_nbytes(p: int, n: int) -> None:
    net = hf.HopfieldNetwork(n)
    if p:
        net.store(hf.random_patterns(p, n, seed=0))
    assert net.nbytes == p * -(-n // 64) * 8 + 8 * n


@pytest.mark.parametrize(("p", "n"), [(3, 65), (9, 130), (130, 70)])
def test_nbytes_counts_what_retrieval_keeps(p: int, n: int) -> None:
    """A retrieval's kept layout counts in nbytes, and the int8 weights once
    built (after 64 queries, where P <= 127); a store drops both."""
    net = hf.HopfieldNetwork(n)
    x = hf.random_patterns(p, n, seed=2)
    net.store(x)
    packed = p * -(-n // 64) * 8
    own = packed + 8 * n
    words = -(-p // 64)
    layout = packed + 2 * n * 64 * words + 8 * n * words + 64 * -(-n // 16) * -(-p // 2)
    assert net.nbytes == own
    net.retrieve(x[0], seed=0)
    assert net.nbytes == own + layout
    net.retrieve(np.repeat(x[:1], 64, axis=0), seed=0)
    assert net.nbytes == own + layout + (n * n if p <= 127 else 0)
    net.store(x[0])
    assert net.nbytes == own + -(-n // 64) * 8


# ---------------------------------------------------------------------------
# input forms


def _variants(q: np.ndarray) -> dict[str, np.ndarray]:
    """The same ±1 spins in other dtypes, encodings and memory layouts."""
    ro = q.copy()
    ro.flags.writeable = False
    wide = np.zeros((q.shape[0], 2 * q.shape[1]), dtype=np.int8)
    wide[:, ::2] = q
    rev = np.ascontiguousarray(q[::-1, ::-1])
    return {
        "int64": q.astype(np.int64),
        "int16": q.astype(np.int16),
        "float32": q.astype(np.float32),
        "float64": q.astype(np.float64),
        "bool": q > 0,
        "zero-one": (q > 0).astype(np.uint8),
        "zero-one float": (q > 0).astype(np.float64),
        "fortran": np.asfortranarray(q),
        "strided": wide[:, ::2],
        "negative stride": rev[::-1, ::-1],
        "read-only": ro,
        "list": q.tolist(),
    }


def test_input_forms_give_the_int8_result() -> None:
    x = hf.random_patterns(13, 130, seed=0)
    q = _queries(x, 8, 0.3, seed=1)
    net = _network(x)
    base = net.retrieve(q, seed=3, track_energy=True)
    base_sync = net.retrieve(q, update="sync")
    for name, v in _variants(q).items():
        snapshot = np.array(v, copy=True)
        res = net.retrieve(v, seed=3, track_energy=True)
        _assert_same(res, base)
        _assert_same(net.retrieve(v, update="sync"), base_sync)
        ASSERT_EQ(net.energy(v), net.energy(q), err_msg=name)
        ASSERT_EQ(net.fields(v), net.fields(q), err_msg=name)
        ASSERT_EQ(net.overlaps(v), net.overlaps(q), err_msg=name)
        ASSERT_EQ(np.asarray(v), snapshot, err_msg=f"{name} input was modified")
        other = hf.HopfieldNetwork(130)
        other.store(v if name != "list" else np.asarray(v))
        ASSERT_EQ(other.patterns, q, err_msg=name)


def test_queries_are_not_modified() -> None:
    x = hf.random_patterns(13, 130, seed=0)
    q = _queries(x, 8, 0.3, seed=1)
    keep = q.copy()
    net = _network(x)
    for update in ("async", "sync"):
        res = net.retrieve(q, update=update, seed=0)
        ASSERT_EQ(q, keep)
        assert not np.shares_memory(res.states, q)
        one = net.retrieve(q[0], update=update, seed=0)
        ASSERT_EQ(q, keep)
        assert not np.shares_memory(one.states, q)
    assert not np.array_equal(res.states, q), "the test needs queries that move"


def test_threshold_inputs() -> None:
    n = 10
    for theta in (0, 1, 0.5, np.float32(0.25), [0.1] * n, np.arange(n, dtype=np.int64), np.ones(n)):
        net = hf.HopfieldNetwork(n, threshold=theta)
        t = net.threshold
        assert t.dtype == np.float64 and t.shape == (n,)
        ASSERT_EQ(t, np.broadcast_to(np.asarray(theta, dtype=np.float64), (n,)))
    hf.HopfieldNetwork(np.int64(5))  # numpy integers are integers
    assert hf.HopfieldNetwork(np.int32(5)).n == 5


# ---------------------------------------------------------------------------
# errors


@pytest.fixture
def net8() -> hf.HopfieldNetwork:
    return _network(hf.random_patterns(2, 8, seed=0))


@pytest.mark.parametrize(
    ("queries", "match"),
    [
        (np.ones(9), r"queries must have length n = 8, got shape \(9,\)"),
        (np.ones((2, 7)), r"queries must have n = 8 columns, got shape \(2, 7\)"),
        (np.ones(0), r"queries must have length n = 8"),
        (np.full(8, np.nan), r"queries must hold spins .*found nan at index \(0,\)"),
        (np.r_[np.ones(3), np.nan, np.ones(4)], r"found nan at index \(3,\)"),
        (np.full((2, 8), 0.5), r"queries must hold spins .*found 0.5 at index \(0, 0\)"),
        (np.r_[np.ones(5), 2, np.ones(2)], r"found 2.0 at index \(5,\)"),
        (np.array([1, -1, 0, 1, 1, 1, 1, 1]), r"mixes -1 and 0: found 0 at index \(2,\)"),
        (np.ones((0, 8)), r"queries is empty"),
        (np.ones((2, 2, 8)), r"queries must be 1-D \(n,\) or 2-D \(batch, n\), got 3-D"),
        (np.array(1), r"queries must have length n = 8|queries must be 1-D"),
        (np.full(8, np.inf), r"found inf"),
    ],
)
def test_bad_queries(net8: hf.HopfieldNetwork, queries: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        net8.retrieve(queries, seed=0)
    for method in (net8.energy, net8.fields, net8.overlaps, net8.store):
        with pytest.raises(ValueError, match=match.replace("queries", r"(states|patterns)")):
            method(queries)


def test_bad_query_dtypes(net8: hf.HopfieldNetwork) -> None:
    for bad in (np.array(["1"] * 8), np.ones(8, dtype=complex), np.array([None] * 8)):
        with pytest.raises(TypeError, match="boolean, integer or floating dtype"):
            net8.retrieve(bad)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"max_sweeps": 0}, ValueError, "max_sweeps must be at least 1, got 0"),
        ({"max_sweeps": -5}, ValueError, "max_sweeps must be at least 1"),
        ({"max_sweeps": 2**32}, ValueError, "max_sweeps must be below 2\\*\\*32"),
        ({"max_sweeps": 2.0}, TypeError, "max_sweeps must be an integer, got float"),
        ({"max_sweeps": True}, TypeError, "max_sweeps must be an integer, not bool"),
        ({"update": "asynchronous"}, ValueError, "update must be one of 'async', 'sync'"),
        ({"update": "ASYNC"}, ValueError, "update must be one of"),
        ({"update": None}, ValueError, "update must be one of"),
        ({"order": "reverse"}, ValueError, "order must be one of 'random', 'sequential'"),
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\), got -1"),
        ({"seed": 2**64}, ValueError, r"seed must be in \[0, 2\*\*64\), got 18446744073709551616"),
        ({"seed": 1.0}, TypeError, "seed must be an integer or None, got float"),
        ({"seed": True}, TypeError, "seed must be an integer or None, not bool"),
        ({"threads": 0}, ValueError, "threads must be at least 1, got 0"),
        ({"threads": -2}, ValueError, "threads must be at least 1"),
        ({"threads": 1.5}, TypeError, "threads must be an integer"),
    ],
)
def test_bad_retrieve_arguments(
    net8: hf.HopfieldNetwork, kwargs: dict[str, object], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        net8.retrieve(np.ones(8), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "exc", "match"),
    [
        (0, ValueError, "n must be at least 1, got 0"),
        (-3, ValueError, "n must be at least 1, got -3"),
        (2.0, TypeError, "n must be an integer, got float"),
        (8.5, TypeError, "n must be an integer, got float"),
        ("8", TypeError, "n must be an integer, got str"),
        (None, TypeError, "n must be an integer, got NoneType"),
        (True, TypeError, "n must be an integer, not bool"),
        (np.bool_(True), TypeError, "n must be an integer, not bool"),
    ],
)
def test_bad_n(n: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        hf.HopfieldNetwork(n)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("threshold", "exc", "match"),
    [
        (
            np.zeros(9),
            ValueError,
            r"threshold must be a scalar or have shape \(8,\), got shape \(9,\)",
        ),
        (np.zeros(7), ValueError, r"got shape \(7,\)"),
        (np.zeros((8, 1)), ValueError, r"got shape \(8, 1\)"),
        (np.zeros(0), ValueError, r"got shape \(0,\)"),
        (np.nan, ValueError, "threshold must be finite; found nan at index 0"),
        (np.r_[np.zeros(6), np.nan, 0.0], ValueError, "found nan at index 6"),
        (np.r_[np.zeros(7), -np.inf], ValueError, "found -inf at index 7"),
        ("abc", TypeError, "threshold must be a real number or an array of n real numbers"),
        (None, TypeError, "threshold must be a real number"),
    ],
)
def test_bad_threshold(threshold: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        hf.HopfieldNetwork(8, threshold=threshold)  # type: ignore[arg-type]


def test_store_of_wrong_width(net8: hf.HopfieldNetwork) -> None:
    with pytest.raises(ValueError, match=r"patterns must have n = 8 columns, got shape \(2, 9\)"):
        net8.store(np.ones((2, 9)))
    with pytest.raises(ValueError, match=r"patterns must have length n = 8, got shape \(7,\)"):
        net8.store(np.ones(7))
    with pytest.raises(ValueError, match="patterns is empty"):
        net8.store(np.ones((0, 8)))
    assert net8.num_patterns == 2, "a refused store must leave the memory unchanged"


@pytest.mark.parametrize("flip", [-0.1, 1.1, float("nan"), -1e-300])
def test_corrupt_bad_flip(flip: float) -> None:
    with pytest.raises(ValueError, match=r"flip must be in \[0, 1\]"):
        hf.corrupt(np.ones(8), flip=flip)


def test_core_refuses_what_python_would_not_pass() -> None:
    """The extension checks its own arguments: the options are parsed and
    checked once, by ``_core.RetrieveOptions``, whoever builds it."""
    mem = _core.Hebbian(8, np.zeros(8))
    q = np.ones((1, 8), dtype=np.int8)
    kw = {
        "update": "async",
        "order": "random",
        "max_sweeps": 5,
        "seed": 0,
        "threads": None,
        "track_energy": False,
        "temperature": 0.0,
        "sweeps": None,
        "schedule": None,
    }
    with pytest.raises(ValueError, match="update must be one of 'async', 'sync'"):
        _core.RetrieveOptions(**{**kw, "update": "x"})
    with pytest.raises(ValueError, match="order must be one of 'random', 'sequential'"):
        _core.RetrieveOptions(**{**kw, "order": "x"})
    with pytest.raises(ValueError, match="max_sweeps must be at least 1"):
        _core.RetrieveOptions(**{**kw, "max_sweeps": 0})
    with pytest.raises(ValueError, match="threads must be at least 1"):
        _core.RetrieveOptions(**{**kw, "threads": 0})
    plan = _core.RetrieveOptions(**kw)
    with pytest.raises(ValueError, match="queries must have n = 8 columns"):
        mem.retrieve(np.ones((1, 9), np.int8), plan)
    with pytest.raises(TypeError):
        mem.retrieve(q, kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mem.store(np.zeros((1, 8), np.int8))  # 0 is not a spin at this level
    with pytest.raises(ValueError, match="threshold must have length n = 8"):
        _core.Hebbian(8, np.zeros(3))
    with pytest.raises(ValueError, match="threshold must be finite"):
        _core.Hebbian(2, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="n must be at most 1073741823"):
        _core.Hebbian(2**31, np.zeros(1))
    with pytest.raises(ValueError):
        _core.Hebbian(0, np.zeros(0))


def test_weights_too_large_is_memory_error() -> None:
    """N = 2,000,000 needs a 32 TB weight matrix: MemoryError, no crash.

    Run in a child process, since an allocation failure in Rust aborts the
    interpreter rather than raising."""
    code = textwrap.dedent(
        """
        import numpy as np
        import hopfield as hf
        net = hf.HopfieldNetwork(2_000_000)
        net.store(np.ones(2_000_000, dtype=np.int8))
        try:
            net.weights
        except MemoryError as exc:
            print("MemoryError:", exc)
        else:
            print("no error")
        # the network is still usable afterwards
        print(net.retrieve(np.ones(2_000_000), seed=0).converged)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, (
        f"weights of a 2,000,000-neuron network crashed the interpreter "
        f"(exit status {proc.returncode}) instead of raising MemoryError:\n{proc.stderr[-2000:]}"
    )
    assert proc.stdout.startswith("MemoryError:"), proc.stdout
    assert proc.stdout.rstrip().endswith("True")


def test_n_beyond_the_limit_names_n() -> None:
    with pytest.raises(ValueError) as info:
        hf.HopfieldNetwork(2**62)  # NumPy refuses this size before allocating anything
    assert "n must be at most" in str(info.value), str(info.value)
