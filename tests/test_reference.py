"""Tests for hopfield.reference, the NumPy oracle of the Hebbian network.

The oracle is checked against direct textbook formulas (explicit double sums,
``-½ sᵀWs + θ·s``), against naive per-query loops, and its fast batched
variants against its readable loops, by exact equality for spins.
"""

from __future__ import annotations

import numpy as np
import pytest
from hopfield import reference as ref
from hopfield.spins import corrupt, random_patterns
from hypothesis import given, settings
from hypothesis import strategies as st


def _random_orders(b: int, sweeps: int, n: int, seed: int) -> np.ndarray:
    """Independent random permutations, shape (b, sweeps, n)."""
    keys = np.random.default_rng(seed).random((b, sweeps, n))
    return np.argsort(keys, axis=2)


def _theta(n: int, seed: int, scale: float = 0.2) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, n)


def _naive_update(wi: np.ndarray, s: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """One synchronous step from integer weights ``Xᵀ X − P I``."""
    n = s.shape[0]
    h = (s.astype(np.int64) @ wi).astype(np.float64) / n - theta
    return np.where(h > 0, 1, np.where(h < 0, -1, s)).astype(np.int8)


def _naive_sync(
    x: np.ndarray, q: np.ndarray, theta: np.ndarray, max_sweeps: int
) -> tuple[np.ndarray, bool, bool, int]:
    """Plain per-query synchronous loop: (state, converged, cycled, sweeps)."""
    wi = x.T.astype(np.int64) @ x.astype(np.int64)
    np.fill_diagonal(wi, 0)
    hist = [q.astype(np.int8)]
    for t in range(1, max_sweeps + 1):
        new = _naive_update(wi, hist[-1], theta)
        if np.array_equal(new, hist[-1]):
            return new, True, False, t
        if t >= 2 and np.array_equal(new, hist[-2]):
            return new, False, True, t
        hist.append(new)
    return hist[-1], False, False, max_sweeps


def _assert_async_equal(a: ref.AsyncResult, b: ref.AsyncResult) -> None:
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.converged, b.converged)
    np.testing.assert_array_equal(a.sweeps, b.sweeps)
    np.testing.assert_array_equal(a.energy, b.energy)


# ---------------------------------------------------------------------------
# weights, overlaps, fields, energy


def test_hebbian_weights_explicit_double_sum() -> None:
    x = random_patterns(3, 7, seed=0)
    p, n = x.shape
    w = ref.hebbian_weights(x)
    assert w.shape == (n, n) and w.dtype == np.float64
    expected = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                expected[i, j] = sum(int(x[mu, i]) * int(x[mu, j]) for mu in range(p)) / n
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_array_equal(w, w.T)
    np.testing.assert_array_equal(np.diag(w), 0.0)


def test_integer_weights_is_n_times_w() -> None:
    x = random_patterns(9, 40, seed=1)
    wi = ref.integer_weights(x)
    assert wi.dtype == np.int64
    np.testing.assert_array_equal(wi, wi.T)
    np.testing.assert_array_equal(np.diag(wi), 0)
    np.testing.assert_allclose(wi / 40, ref.hebbian_weights(x), rtol=0, atol=0)


def test_overlaps() -> None:
    x = random_patterns(4, 30, seed=2)
    s = random_patterns(6, 30, seed=3)
    m = ref.overlaps(x, s)
    assert m.shape == (6, 4) and m.dtype == np.float64
    expected = np.array([[np.dot(si.astype(int), xm) / 30 for xm in x] for si in s])
    np.testing.assert_array_equal(m, expected)
    np.testing.assert_array_equal(ref.overlaps(x, x[1])[1], 1.0)


@pytest.mark.parametrize("theta_seed", [None, 4])
def test_fields_equal_w_s_minus_theta(theta_seed: int | None) -> None:
    n = 50
    x = random_patterns(8, n, seed=5)
    s = random_patterns(7, n, seed=6)
    theta = 0.0 if theta_seed is None else _theta(n, theta_seed)
    w = ref.hebbian_weights(x)
    h = ref.fields(x, s, theta)
    assert h.shape == (7, n) and h.dtype == np.float64
    np.testing.assert_allclose(h, s @ w - theta, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ref.fields(x, s[3], theta), h[3])


@pytest.mark.parametrize("theta_seed", [None, 7])
def test_energy_equals_quadratic_form(theta_seed: int | None) -> None:
    n = 45
    x = random_patterns(6, n, seed=8)
    s = random_patterns(9, n, seed=9)
    theta = np.zeros(n) if theta_seed is None else _theta(n, theta_seed)
    w = ref.hebbian_weights(x)
    e = ref.energy(x, s, theta)
    assert e.shape == (9,) and e.dtype == np.float64
    direct = np.array([-0.5 * si @ w @ si + theta @ si for si in s.astype(np.float64)])
    np.testing.assert_allclose(e, direct, rtol=1e-12, atol=1e-12)
    # a row's energy does not depend on the rest of the batch
    for i in range(len(s)):
        assert ref.energy(x, s[i], theta) == e[i]


def test_energy_scalar_theta_broadcasts() -> None:
    x = random_patterns(3, 20, seed=10)
    s = random_patterns(4, 20, seed=11)
    np.testing.assert_array_equal(ref.energy(x, s, 0.25), ref.energy(x, s, np.full(20, 0.25)))
    np.testing.assert_array_equal(ref.fields(x, s, 0.25), ref.fields(x, s, np.full(20, 0.25)))


def test_is_fixed_point_matches_fields() -> None:
    n = 30
    x = random_patterns(12, n, seed=12)
    s = random_patterns(40, n, seed=13)
    s[:12] = x  # high load: some stored patterns are not fixed points
    h = ref.fields(x, s)
    expected = np.array([np.all((h[b] == 0) | (np.sign(h[b]) == s[b])) for b in range(40)])
    got = ref.is_fixed_point(x, s)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, expected)
    assert ref.is_fixed_point(x, s[0]) == expected[0]


def test_stored_patterns_are_fixed_points_at_low_load() -> None:
    n = 400
    p = int(0.05 * n)
    x = random_patterns(p, n, seed=14)
    assert ref.is_fixed_point(x, x).all()
    assert ref.is_fixed_point(x, -x).all()  # the mirror images too
    res = ref.retrieve_sync(x, x)
    assert res.converged.all() and (res.sweeps == 1).all()
    np.testing.assert_array_equal(res.states, x)
    res = ref.retrieve_async(x, x, np.arange(n), max_sweeps=3)
    assert res.converged.all() and (res.sweeps == 1).all()
    np.testing.assert_array_equal(res.states, x)


# ---------------------------------------------------------------------------
# asynchronous dynamics


@pytest.mark.parametrize("theta_seed", [None, 15])
def test_async_energy_never_increases(theta_seed: int | None) -> None:
    n, p, b = 100, 12, 10
    x = random_patterns(p, n, seed=16)
    q = random_patterns(b, n, seed=17)
    theta = 0.0 if theta_seed is None else _theta(n, theta_seed, 0.05)
    orders = _random_orders(b, 50, n, seed=18)
    res = ref.retrieve_async(x, q, orders, theta=theta, max_sweeps=50, track_energy=True)
    tr = res.energy_trace
    assert tr is not None
    assert tr.shape == (b, res.sweeps.max() + 1)
    np.testing.assert_array_equal(tr[:, 0], ref.energy(x, q, theta))
    for i in range(b):
        k = res.sweeps[i]
        valid = tr[i, : k + 1]
        assert np.isfinite(valid).all()
        assert np.isnan(tr[i, k + 1 :]).all()
        assert (np.diff(valid) <= 1e-9).all()
        assert valid[-1] == res.energy[i]
    assert res.converged.all()
    assert ref.is_fixed_point(x, res.states, theta).all()
    np.testing.assert_array_equal(res.energy, ref.energy(x, res.states, theta))


def test_async_single_query_shapes() -> None:
    x = random_patterns(3, 16, seed=19)
    q = corrupt(x[0], flip=0.25, seed=20)
    res = ref.retrieve_async(x, q, np.arange(16), max_sweeps=10, track_energy=True)
    assert res.states.shape == (16,) and res.states.dtype == np.int8
    assert res.converged.shape == () and res.sweeps.shape == () and res.energy.shape == ()
    assert res.energy_trace is not None and res.energy_trace.shape == (res.sweeps + 1,)
    batch = ref.retrieve_async(x, q[None], np.arange(16), max_sweeps=10)
    np.testing.assert_array_equal(res.states, batch.states[0])
    assert res.sweeps == batch.sweeps[0]


def test_async_two_neuron_example() -> None:
    # X = [[1, -1]]: W = [[0, -1/2], [-1/2, 0]]. From s = (1, 1) in order (0, 1):
    # sweep 1: h_0 = -1/2 -> s = (-1, 1); h_1 = -1/2 * -1 = +1/2 -> keep: one flip.
    # sweep 2: h_0 = -1/2 (keep -1), h_1 = +1/2 (keep +1): no flip -> converged.
    x = np.array([[1, -1]], dtype=np.int8)
    res = ref.retrieve_async(x, [1, 1], [0, 1], max_sweeps=5, track_energy=True)
    np.testing.assert_array_equal(res.states, [-1, 1])
    assert res.converged and res.sweeps == 2
    # E(1, 1) = -1/2 * (2 * -1/2) = 1/2; E(-1, 1) = -1/2
    np.testing.assert_array_equal(res.energy_trace, [0.5, -0.5, -0.5])


def test_ties_keep_state() -> None:
    # X = [[1, 1], [1, -1]]: Σ_μ ξ_0 ξ_1 = 1 - 1 = 0, so W = 0 and every field is
    # exactly zero; with ties keeping the state every query is a fixed point.
    x = np.array([[1, 1], [1, -1]], dtype=np.int8)
    q = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.int8)
    np.testing.assert_array_equal(ref.fields(x, q), 0.0)
    assert ref.is_fixed_point(x, q).all()
    for res in (
        ref.retrieve_async(x, q, [1, 0], max_sweeps=4),
        ref.retrieve_async_batched(x, q, [1, 0], max_sweeps=4),
        ref.retrieve_sync(x, q, max_sweeps=4),
    ):
        np.testing.assert_array_equal(res.states, q)
        assert res.converged.all() and (res.sweeps == 1).all()


def test_async_max_sweeps_not_converged() -> None:
    n, b = 64, 20
    x = random_patterns(5, n, seed=21)
    q = corrupt(x[np.arange(b) % 5], flip=0.3, seed=22)
    res = ref.retrieve_async(x, q, _random_orders(b, 1, n, 23), max_sweeps=1)
    flipped_any = (res.states != q).any(axis=1)
    np.testing.assert_array_equal(res.converged, ~flipped_any)
    np.testing.assert_array_equal(res.sweeps, 1)
    assert flipped_any.any()


@pytest.mark.parametrize("theta_seed", [None, 24])
@pytest.mark.parametrize("max_sweeps", [1, 2, 30])
@pytest.mark.parametrize("flip", [None, 0.2])
def test_async_batched_equals_loop(
    theta_seed: int | None, max_sweeps: int, flip: float | None
) -> None:
    n, p, b = 64, 5, 20
    x = random_patterns(p, n, seed=25)
    if flip is None:
        q = random_patterns(b, n, seed=26)
    else:
        q = corrupt(x[np.arange(b) % p], flip=flip, seed=26)
    theta = 0.0 if theta_seed is None else _theta(n, theta_seed, 0.1)
    orders = _random_orders(b, max_sweeps, n, seed=27)
    loop = ref.retrieve_async(x, q, orders, theta=theta, max_sweeps=max_sweeps)
    fast = ref.retrieve_async_batched(x, q, orders, theta=theta, max_sweeps=max_sweeps)
    _assert_async_equal(loop, fast)
    assert fast.energy_trace is None
    if max_sweeps == 30:
        assert loop.converged.all()
        assert len(set(loop.sweeps.tolist())) > 1  # queries drop out at different sweeps


def test_async_batched_int64_overlaps(monkeypatch: pytest.MonkeyPatch) -> None:
    n, b = 48, 12
    x = random_patterns(6, n, seed=28)
    q = corrupt(x[np.arange(b) % 6], flip=0.3, seed=29)
    orders = _random_orders(b, 20, n, seed=30)
    expected = ref.retrieve_async_batched(x, q, orders, max_sweeps=20)
    monkeypatch.setattr(ref.hebbian, "INT32_LIMIT", 0)
    _assert_async_equal(ref.retrieve_async_batched(x, q, orders, max_sweeps=20), expected)


def test_async_order_broadcasting() -> None:
    n, b, sweeps = 32, 6, 8
    x = random_patterns(4, n, seed=31)
    q = random_patterns(b, n, seed=32)
    shared = _random_orders(1, sweeps, n, seed=33)[0]
    full = np.broadcast_to(shared, (b, sweeps, n))
    seq = np.arange(n)[::-1]
    for fn in (ref.retrieve_async, ref.retrieve_async_batched):
        _assert_async_equal(fn(x, q, shared, max_sweeps=sweeps), fn(x, q, full, max_sweeps=sweeps))
        _assert_async_equal(
            fn(x, q, seq, max_sweeps=sweeps),
            fn(x, q, np.broadcast_to(seq, (b, sweeps, n)), max_sweeps=sweeps),
        )


def test_async_bad_orders_shape() -> None:
    x = random_patterns(2, 8, seed=34)
    with pytest.raises(ValueError, match="orders must have shape"):
        ref.retrieve_async(x, x, np.zeros((3, 8), dtype=int), max_sweeps=4)
    with pytest.raises(ValueError, match="orders must have shape"):
        ref.retrieve_async_batched(x, x, np.zeros((3, 4, 8), dtype=int), max_sweeps=4)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 24),
    p=st.integers(1, 6),
    b=st.integers(1, 5),
    max_sweeps=st.integers(1, 6),
    use_theta=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_async_batched_equals_loop_property(
    n: int, p: int, b: int, max_sweeps: int, use_theta: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    x = random_patterns(p, n, seed=rng)
    q = random_patterns(b, n, seed=rng)
    # thresholds on the grid k/N make exact ties h == 0 possible
    theta = rng.integers(-2, 3, n) / n if use_theta else 0.0
    orders = rng.integers(0, n, (b, max_sweeps, n))  # any index sequence, repeats allowed
    loop = ref.retrieve_async(x, q, orders, theta=theta, max_sweeps=max_sweeps)
    fast = ref.retrieve_async_batched(x, q, orders, theta=theta, max_sweeps=max_sweeps)
    _assert_async_equal(loop, fast)


# ---------------------------------------------------------------------------
# synchronous dynamics


def test_sync_two_cycle() -> None:
    # X = [[1, -1]] gives W = [[0, -1/2], [-1/2, 0]] (N = 2, P = 1).
    # s_0 = (1, 1):   h = W s_0 = (-1/2, -1/2)  -> s_1 = (-1, -1)
    # s_1 = (-1, -1): h = W s_1 = (+1/2, +1/2)  -> s_2 = (1, 1) = s_0 != s_1
    # so the run stops at t = 2 on a 2-cycle, returning s_2 = (1, 1).
    # (1, -1) is the stored pattern and a fixed point: converged at t = 1.
    x = np.array([[1, -1]], dtype=np.int8)
    q = np.array([[1, 1], [1, -1], [-1, -1]], dtype=np.int8)
    res = ref.retrieve_sync(x, q, max_sweeps=10, track_energy=True)
    np.testing.assert_array_equal(res.states, q)
    np.testing.assert_array_equal(res.converged, [False, True, False])
    np.testing.assert_array_equal(res.cycled, [True, False, True])
    np.testing.assert_array_equal(res.sweeps, [2, 1, 2])
    # E(±(1, 1)) = 1/2, E(1, -1) = -1/2: the energy does not decrease on a cycle
    np.testing.assert_array_equal(
        res.energy_trace, [[0.5, 0.5, 0.5], [-0.5, -0.5, np.nan], [0.5, 0.5, 0.5]]
    )
    single = ref.retrieve_sync(x, [1, 1], max_sweeps=10)
    assert single.cycled and not single.converged and single.sweeps == 2
    # with one sweep only the cycle cannot be seen yet
    short = ref.retrieve_sync(x, q[:1], max_sweeps=1)
    np.testing.assert_array_equal(short.states, [[-1, -1]])
    assert not short.converged[0] and not short.cycled[0] and short.sweeps[0] == 1


@pytest.mark.parametrize("theta_seed", [None, 35])
@pytest.mark.parametrize("max_sweeps", [1, 3, 50])
def test_sync_equals_naive_loop(theta_seed: int | None, max_sweeps: int) -> None:
    n, p, b = 60, 18, 40  # high load: a mix of fixed points and 2-cycles
    x = random_patterns(p, n, seed=36)
    q = random_patterns(b, n, seed=37)
    theta = np.zeros(n) if theta_seed is None else _theta(n, theta_seed, 0.1)
    res = ref.retrieve_sync(x, q, theta=theta, max_sweeps=max_sweeps, track_energy=True)
    for i in range(b):
        state, conv, cyc, sweeps = _naive_sync(x, q[i], theta, max_sweeps)
        np.testing.assert_array_equal(res.states[i], state)
        assert res.converged[i] == conv and res.cycled[i] == cyc and res.sweeps[i] == sweeps
    np.testing.assert_array_equal(res.energy, ref.energy(x, res.states, theta))
    assert res.energy_trace is not None
    np.testing.assert_array_equal(res.energy_trace[:, 0], ref.energy(x, q, theta))
    last = res.energy_trace[np.arange(b), res.sweeps]
    np.testing.assert_array_equal(last, res.energy)
    fixed = ref.is_fixed_point(x, res.states, theta)
    assert fixed[res.converged].all()
    if max_sweeps == 50:  # a fixed point reached at the last sweep is only seen one sweep later
        np.testing.assert_array_equal(fixed, res.converged)
        assert res.converged.any() and res.cycled.any()
        assert (res.converged | res.cycled).all()


def test_sync_float64_path(monkeypatch: pytest.MonkeyPatch) -> None:
    n, b = 40, 25
    x = random_patterns(14, n, seed=38)
    q = random_patterns(b, n, seed=39)
    theta = _theta(n, 40, 0.1)
    expected = ref.retrieve_sync(x, q, theta=theta, max_sweeps=20)
    monkeypatch.setattr(ref.hebbian, "FLOAT32_EXACT_LIMIT", 0)
    got = ref.retrieve_sync(x, q, theta=theta, max_sweeps=20)
    for a, e in zip(got[:5], expected[:5], strict=True):
        np.testing.assert_array_equal(a, e)


def test_sync_single_query_shapes() -> None:
    x = random_patterns(3, 20, seed=41)
    res = ref.retrieve_sync(x, corrupt(x[1], flip=0.1, seed=42), track_energy=True)
    assert res.states.shape == (20,) and res.states.dtype == np.int8
    assert res.converged.shape == () and res.cycled.shape == () and res.sweeps.shape == ()
    assert res.energy_trace is not None and res.energy_trace.shape == (res.sweeps + 1,)
    np.testing.assert_array_equal(res.states, x[1])


def test_sync_and_async_retrieve_corrupted_patterns() -> None:
    n, p = 256, 10
    x = random_patterns(p, n, seed=43)
    q = corrupt(x, flip=0.1, seed=44)
    sync = ref.retrieve_sync(x, q)
    np.testing.assert_array_equal(sync.states, x)
    orders = _random_orders(p, 10, n, seed=45)
    asyn = ref.retrieve_async_batched(x, q, orders, max_sweeps=10)
    np.testing.assert_array_equal(asyn.states, x)
    assert sync.converged.all() and asyn.converged.all()
