"""Weight-matrix networks (``HopfieldNetwork.from_weights``) against the NumPy
reference (:mod:`hopfield.reference`, ``weights_*`` functions).

Weights are rounded once onto an exact fixed-point grid, so every field is an
exact float64 sum: fields are compared by exact equality, retrievals (states,
sweeps, flags) bit for bit on the same neuron orders, energies with a
tolerance (a sum of many terms).
"""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal


def _symmetric(n: int, seed: int, *, diag: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) / np.sqrt(n)
    w = (a + a.T) / 2
    np.fill_diagonal(w, diag)
    return w


def _queries(b: int, n: int, seed: int) -> np.ndarray:
    return hf.random_patterns(b, n, seed=seed)


def _orders(n: int, sweeps: int, seed: int, b: int) -> np.ndarray:
    return hf.sweep_orders(n, sweeps, seed=seed, count=b)


def test_stored_weights_are_the_reference_grid() -> None:
    w = _symmetric(70, 1)
    w[0, 1] = w[1, 0] = 1e-14  # far below the grid: rounds to zero
    net = hf.HopfieldNetwork.from_weights(w)
    q = ref.quantize_weights(w)
    got = net.weights
    assert got.dtype == np.float32
    ASSERT_EQ(got, q)
    assert got[0, 1] == 0.0
    big = np.abs(w) > 1e-3
    ASSERT_EQ(got[big], w.astype(np.float32)[big])  # ordinary weights unchanged
    k = ref.grid_exponent(w)
    scaled = got.astype(np.float64) * 2.0**k
    ASSERT_EQ(scaled, np.rint(scaled))
    # Rounding is idempotent: rebuilding from the stored weights changes nothing.
    ASSERT_EQ(hf.HopfieldNetwork.from_weights(got).weights, got)
    assert net.rule is None and net.num_patterns == 0 and net.symmetric


@pytest.mark.parametrize("n", [1, 7, 64, 65, 130])
def test_fields_are_exact_and_energy_matches(n: int) -> None:
    w = _symmetric(n, n)
    theta = np.linspace(-0.2, 0.2, n)
    net = hf.HopfieldNetwork.from_weights(w, threshold=theta)
    s = _queries(9, n, seed=n + 1)
    ASSERT_EQ(net.fields(s), ref.weight_fields(w, s, theta))
    ASSERT_EQ(net.fields(s[0]), ref.weight_fields(w, s[0], theta))
    np.testing.assert_allclose(
        net.energy(s), ref.weight_energy(w, s, theta), rtol=1e-12, atol=1e-12
    )
    assert isinstance(net.energy(s[0]), float)


@pytest.mark.parametrize("theta", [0.0, 0.03])
@pytest.mark.parametrize("order", ["random", "sequential"])
def test_async_agrees_bit_for_bit(theta: float, order: str) -> None:
    n, b, sweeps = 97, 12, 30
    w = _symmetric(n, 3)
    net = hf.HopfieldNetwork.from_weights(w, threshold=theta)
    q = _queries(b, n, seed=4)
    res = net.retrieve(q, update="async", order=order, seed=5, max_sweeps=sweeps, track_energy=True)
    orders = _orders(n, sweeps, 5, b) if order == "random" else np.arange(n)
    exp = ref.weights_retrieve_async(
        w, q, orders, theta=theta, max_sweeps=sweeps, track_energy=True
    )
    fast = ref.weights_retrieve_async_batched(w, q, orders, theta=theta, max_sweeps=sweeps)
    for e in (exp, fast):
        ASSERT_EQ(res.states, e.states)
        ASSERT_EQ(res.sweeps, e.sweeps)
        ASSERT_EQ(res.converged, e.converged)
        np.testing.assert_allclose(res.energy, e.energy, rtol=1e-12, atol=1e-12)
    assert res.converged.all()
    np.testing.assert_allclose(res.energy_trace, exp.energy_trace, rtol=1e-12, atol=1e-12)
    trace = res.energy_trace
    assert trace is not None
    steps = np.diff(trace, axis=1)
    assert np.all(steps[~np.isnan(steps)] <= 1e-12), "async energy rose"


@pytest.mark.parametrize("theta", [0.0, 0.05])
def test_sync_agrees_bit_for_bit(theta: float) -> None:
    n, b = 80, 40
    w = _symmetric(n, 6)
    net = hf.HopfieldNetwork.from_weights(w, threshold=theta)
    q = _queries(b, n, seed=7)
    res = net.retrieve(q, update="sync", max_sweeps=50, track_energy=True)
    exp = ref.weights_retrieve_sync(w, q, theta=theta, max_sweeps=50, track_energy=True)
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)
    ASSERT_EQ(res.cycled, exp.cycled)
    assert res.cycled.any() or res.converged.all()
    np.testing.assert_allclose(res.energy_trace, exp.energy_trace, rtol=1e-12, atol=1e-12)


def test_hebbian_weights_retrieve_like_the_hebbian_network() -> None:
    # N a power of two: C/N is exact in float32, so both networks see the same fields.
    n, p = 256, 20
    x = hf.random_patterns(p, n, seed=8)
    heb = hf.HopfieldNetwork(n)
    heb.store(x)
    net = hf.HopfieldNetwork.from_weights(ref.hebbian_weights(x))
    q = hf.corrupt(x, flip=0.2, seed=9)
    ASSERT_EQ(net.fields(q), heb.fields(q))
    for update in ("async", "sync"):
        a = net.retrieve(q, update=update, seed=10)
        h = heb.retrieve(q, update=update, seed=10)
        ASSERT_EQ(a.states, h.states)
        ASSERT_EQ(a.sweeps, h.sweeps)
        ASSERT_EQ(a.energy, h.energy)
    # The same gaps at a temperature: Glauber chains agree too.
    a = net.retrieve(q, temperature=0.3, sweeps=4, seed=10)
    h = heb.retrieve(q, temperature=0.3, sweeps=4, seed=10)
    ASSERT_EQ(a.states, h.states)


def test_ties_keep_the_state() -> None:
    # Neuron 0 sees x·s1 − x·s2: an exact zero whenever s1 == s2.
    x = np.float32(1 / 3)
    w = np.zeros((3, 3), dtype=np.float32)
    w[0, 1] = w[1, 0] = x
    w[0, 2] = w[2, 0] = -x
    net = hf.HopfieldNetwork.from_weights(w)
    for s0 in (1, -1):
        s = np.array([s0, 1, 1])
        assert net.fields(s)[0] == 0.0
        for update in ("async", "sync"):
            res = net.retrieve(s, update=update, order="sequential", seed=0)
            assert res.states[0] == s0


def test_nonzero_diagonal_energy_and_descent() -> None:
    n = 60
    w = _symmetric(n, 11, diag=0.5)
    net = hf.HopfieldNetwork.from_weights(w)
    assert net.symmetric
    q = _queries(10, n, seed=12)
    np.testing.assert_allclose(net.energy(q), ref.weight_energy(w, q), rtol=1e-12)
    res = net.retrieve(q, update="async", seed=1, track_energy=True)
    trace = res.energy_trace
    assert trace is not None
    steps = np.diff(trace, axis=1)
    assert np.all(steps[~np.isnan(steps)] <= 1e-12), "non-negative diagonal: energy must not rise"
    exp = ref.weights_retrieve_async(w, q, _orders(n, 100, 1, 10))
    ASSERT_EQ(res.states, exp.states)


def test_asymmetric_weights_run_but_have_no_energy() -> None:
    n, b = 50, 16
    rng = np.random.default_rng(13)
    w = rng.normal(size=(n, n))
    net = hf.HopfieldNetwork.from_weights(w)
    assert not net.symmetric
    ASSERT_EQ(net.weights, w.astype(np.float32))  # unchanged by the grid here
    q = _queries(b, n, seed=14)
    with pytest.raises(ValueError, match="not symmetric"):
        net.energy(q)
    res = net.retrieve(q, update="sync", max_sweeps=40)
    exp = ref.weights_retrieve_sync(w, q, max_sweeps=40)
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.cycled, exp.cycled)
    assert np.all(np.isnan(res.energy)) and np.all(np.isnan(exp.energy))
    res = net.retrieve(q, update="async", max_sweeps=5, seed=2)
    exp_a = ref.weights_retrieve_async(w, q, _orders(n, 5, 2, b), max_sweeps=5)
    ASSERT_EQ(res.states, exp_a.states)
    ASSERT_EQ(res.converged, exp_a.converged)
    ASSERT_EQ(net.fields(q), ref.weight_fields(w, q))


def test_results_do_not_depend_on_threads() -> None:
    n, b = 64, 30
    net = hf.HopfieldNetwork.from_weights(_symmetric(n, 15))
    q = _queries(b, n, seed=16)
    for update in ("async", "sync"):
        one = net.retrieve(q, update=update, seed=3, threads=1)
        two = net.retrieve(q, update=update, seed=3, threads=2)
        ASSERT_EQ(one.states, two.states)
        ASSERT_EQ(one.sweeps, two.sweeps)


def test_inputs_are_never_modified_and_store_is_refused() -> None:
    w = _symmetric(20, 17)
    before = w.copy()
    net = hf.HopfieldNetwork.from_weights(w)
    ASSERT_EQ(w, before)
    w[0, 1] = 99.0  # the network keeps its own copy
    assert net.weights[0, 1] == np.float32(before[0, 1])
    with pytest.raises(ValueError, match="no learning rule"):
        net.store(hf.random_patterns(1, 20, seed=0))
    assert net.patterns.shape == (0, 20)
    assert net.overlaps(hf.random_patterns(3, 20, seed=0)).shape == (3, 0)


@pytest.mark.parametrize(
    ("weights", "exc", "match"),
    [
        (np.zeros((3, 4)), ValueError, r"square \(N, N\).*\(3, 4\)"),
        (np.zeros((0, 0)), ValueError, "square"),
        (np.zeros(3), ValueError, "square"),
        (np.zeros((2, 2, 2)), ValueError, "square"),
        (np.array([[0.0, np.nan], [0.0, 0.0]]), ValueError, r"finite.*nan.*\(0, 1\)"),
        (np.array([[0.0, np.inf], [0.0, 0.0]]), ValueError, "finite"),
        (np.array([[0.0, 1e39], [0.0, 0.0]]), ValueError, "float32"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "real square"),
        (np.zeros((2, 2), dtype=complex), TypeError, "real square"),
    ],
)
def test_bad_weights_are_refused(weights: np.ndarray, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        hf.HopfieldNetwork.from_weights(weights)


def test_bad_threshold_and_states_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        hf.HopfieldNetwork.from_weights(np.zeros((3, 3)), threshold=[0.0, 1.0])
    net = hf.HopfieldNetwork.from_weights(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="states"):
        net.fields(np.ones(4))
    with pytest.raises(ValueError, match="queries"):
        net.retrieve(np.full(3, 0.5))


def _small_integer_weights(n: int, seed: int, largest: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = np.triu(rng.integers(-largest, largest + 1, size=(n, n)), 1)
    return ((c + c.T) * scale).astype(np.float32)


@pytest.mark.parametrize("kind", ["float", "hebbian", "clipped", "small-integers"])
@pytest.mark.parametrize("theta", [0.0, 0.04])
def test_large_batches_agree_bit_for_bit(kind: str, theta: float) -> None:
    # Batches large enough for the table-lookup fields (many queries per
    # block), on float weights and on weights with an exact int8 form.
    n, b, sweeps = 130, 300, 20
    x = hf.random_patterns(12, n, seed=11)
    w = {
        "float": _symmetric(n, 12),
        "hebbian": ref.hebbian_weights(x),
        "clipped": np.sign(ref.hebbian_weights(x)) * 0.1,
        "small-integers": _small_integer_weights(n, 13, 127, 3 / 1024),
    }[kind]
    net = hf.HopfieldNetwork.from_weights(w, threshold=theta)
    q = hf.corrupt(x[np.arange(b) % 12], flip=0.2, seed=14)
    res = net.retrieve(q, update="async", seed=15, max_sweeps=sweeps)
    exp = ref.weights_retrieve_async_batched(
        w, q, _orders(n, sweeps, 15, b), theta=theta, max_sweeps=sweeps
    )
    sync = net.retrieve(q, update="sync", max_sweeps=sweeps)
    sync_exp = ref.weights_retrieve_sync(w, q, theta=theta, max_sweeps=sweeps)
    for got, want in ((res, exp), (sync, sync_exp)):
        ASSERT_EQ(got.states, want.states)
        ASSERT_EQ(got.sweeps, want.sweeps)
        ASSERT_EQ(got.converged, want.converged)
        np.testing.assert_allclose(got.energy, want.energy, rtol=1e-12, atol=1e-12)
    ASSERT_EQ(net.fields(q), ref.weight_fields(w, q, theta))
    np.testing.assert_allclose(net.energy(q), ref.weight_energy(w, q, theta), rtol=1e-12)
