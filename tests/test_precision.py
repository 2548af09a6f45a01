"""Precision of the weight rules and the modern network (issue: weight rules
at large N, Hebbian weights computed in floating point, float64 modern
networks).

* The rules write their matrix once from rank-O(P) factors and keep no
  N × N float64 copy: weights within float rounding of the float64
  reference formulas, ``nbytes`` ``4·N² + O(P·N)``.
* ``from_weights`` takes a float ``X.T @ X / N`` as the integer matrix
  it is: retrieval equals :class:`hopfield.HopfieldNetwork`'s bit for bit.
* ``ModernHopfield.energy`` is float64-accurate; ``dtype=numpy.float64``
  networks agree with the float64 NumPy reference to ``1e-12``.
"""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal


# -- weight rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "kw"),
    [("storkey", {}), ("pseudoinverse", {}), ("covariance", {"activity": 0.37})],
)
def test_rules_hold_no_float64_matrix_and_match_the_reference(rule: str, kw: dict) -> None:
    n, p = 700, 30
    rng = np.random.default_rng(1)
    x = np.where(rng.random((p, n)) < kw.get("activity", 0.5), 1, -1).astype(np.int8)
    net = hf.HopfieldNetwork(n, rule=rule, **kw)
    net.store(x[:11])
    net.store(x[11:])
    packed = p * ((n + 63) // 64) * 8
    factors = 8 * p * n if rule == "storkey" else 0
    assert net.nbytes == 4 * n * n + 16 * n + packed + factors
    want = (
        ref.storkey_weights(x)
        if rule == "storkey"
        else ref.pseudoinverse_weights(x)
        if rule == "pseudoinverse"
        else ref.covariance_weights(x, **kw)
    )
    got = net.weights
    # One float32 rounding of a float64 value within a few float64 roundings
    # of the reference's: at most one float32 step apart.
    np.testing.assert_allclose(
        got, want.astype(np.float32), rtol=2**-22, atol=2**-24 * abs(want).max()
    )
    ASSERT_EQ(got, got.T)
    ASSERT_EQ(np.diag(got), 0)
    # The stored matrix is on the exact grid: quantising it again changes nothing.
    ASSERT_EQ(ref.quantize_weights(got), got)


def test_storkey_low_rank_matches_the_incremental_formula_at_high_load() -> None:
    n, p = 40, 60  # P > N: many rank terms, the factors (1 + 2/N)^P grow
    x = hf.random_patterns(p, n, seed=3)
    net = hf.HopfieldNetwork(n, rule="storkey")
    net.store(x)
    want = ref.storkey_weights(x)
    np.testing.assert_allclose(net.weights, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


# -- from_weights on float Hebbian weights ------------------------------------


def test_from_weights_takes_float_hebbian_weights_as_integers() -> None:
    n, p = 201, 41  # N not a power of two: C/N is not exact in float
    x = hf.random_patterns(p, n, seed=1)
    xf = x.astype(np.float64)
    w = xf.T @ xf / n
    np.fill_diagonal(w, 0.0)
    heb = hf.HopfieldNetwork(n)
    heb.store(x)
    net = hf.HopfieldNetwork.from_weights(w)
    found = ref.common_factor(w)
    assert found is not None
    c, alpha = found
    ASSERT_EQ(c, (xf.T @ xf - p * np.eye(n)).astype(np.int8))
    assert alpha == 1 / n
    q = hf.corrupt(x[np.arange(120) % p], flip=0.3, seed=2)
    for update in ("async", "sync"):
        kw = {"order": "sequential"} if update == "async" else {}
        a = heb.retrieve(q, update=update, max_sweeps=30, seed=5, **kw)
        b = net.retrieve(q, update=update, max_sweeps=30, seed=5, **kw)
        ASSERT_EQ(b.states, a.states)
        ASSERT_EQ(b.sweeps, a.sweeps)
        ASSERT_EQ(b.converged, a.converged)
        np.testing.assert_allclose(b.energy, a.energy, rtol=1e-12, atol=1e-12)
    # Exact ties (integer fields of zero) exist and are kept, as Hebbian does.
    assert np.any((q.astype(np.int64) @ c.T.astype(np.int64)) == 0)
    # The reference agrees bit for bit.
    orders = hf.sweep_orders(n, 30, seed=5, count=q.shape[0])
    r = ref.weights_retrieve_async_batched(w, q, orders, max_sweeps=30)
    ASSERT_EQ(net.retrieve(q, max_sweeps=30, seed=5).states, r.states)
    ASSERT_EQ(net.fields(q), ref.weight_fields(w, q))


def test_common_factor_is_found_only_for_integer_multiples() -> None:
    rng = np.random.default_rng(4)
    c = rng.integers(-6, 7, (30, 30))
    c = c + c.T
    for factor in (1 / 3, 0.1, 1 / 201):
        found = ref.common_factor(c * factor)
        assert found is not None
        np.testing.assert_allclose(found[0] * found[1], c * factor, rtol=1e-6)
    # No entry of the smallest magnitude divides the others: α = m / 2.
    two_three = np.array([[0.0, 2.0, 3.0], [2.0, 0.0, 3.0], [3.0, 3.0, 0.0]]) / 7
    c2, alpha = ref.common_factor(two_three)
    ASSERT_EQ(c2, two_three * 7)
    assert alpha == 1 / 7
    assert ref.common_factor(rng.standard_normal((30, 30))) is None
    assert ref.common_factor(c * 0.01 + 1e-3 * rng.standard_normal((30, 30))) is None
    # Integers beyond ±127 times a factor are left on the float path.
    assert ref.common_factor(np.diag(np.r_[1.0, 200.0, np.ones(28)]) / 3) is None
    # The network finds the same form: its fields are α·(C s), exact sums.
    s = hf.random_patterns(5, 3, seed=1)
    net = hf.HopfieldNetwork.from_weights(two_three)
    ASSERT_EQ(net.fields(s), (s @ c2.T.astype(np.float64)) * alpha)


# -- the modern network in float64 ---------------------------------------------


def test_modern_energy_is_float64_accurate() -> None:
    rng = np.random.default_rng(7)
    for p, d, beta in [(50, 16, 1.0), (300, 64, 8.0), (5000, 8, 40.0)]:
        x = rng.standard_normal((p, d)).astype(np.float32)
        s = rng.standard_normal((7, d)).astype(np.float32)
        net = hf.ModernHopfield(beta)
        net.store(x)
        np.testing.assert_allclose(net.energy(s), ref.modern_energy(x, s, beta), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_exact_step_never_increases_the_energy(dtype: type) -> None:
    # ±1 patterns at a large β: one step lands exactly on a stored pattern
    # (float32 and float64 alike), so E must not rise at all.
    x = hf.random_patterns(40, 64, seed=2).astype(dtype)
    q = hf.corrupt(x[:20].astype(np.int8), flip=0.1, seed=3).astype(dtype)
    net = hf.ModernHopfield(4.0, dtype=dtype)
    net.store(x)
    out = net.retrieve(q).states
    ASSERT_EQ(out, x[:20])
    e0, e1 = net.energy(q), net.energy(out)
    assert np.all(e1 <= e0), (e0, e1)
    # At a stored pattern the energy is its exact value.
    want = ref.modern_energy(x.astype(np.float64), out.astype(np.float64), 4.0)
    np.testing.assert_allclose(e1, want, rtol=1e-13, atol=1e-13)


def test_float64_network_agrees_with_the_float64_reference() -> None:
    rng = np.random.default_rng(8)
    p, d, b = 700, 24, 150  # several tiles and query blocks
    x = rng.standard_normal((p, d))
    q = x[rng.integers(0, p, b)] + 0.3 * rng.standard_normal((b, d))
    for beta in (0.2, 2.0, 30.0):
        net = hf.ModernHopfield(beta, dtype=np.float64)
        net.store(x)
        assert net.dtype == np.float64 and net.patterns.dtype == np.float64
        out = net.retrieve(q, steps=3)
        assert out.states.dtype == np.float64
        np.testing.assert_allclose(
            out.states, ref.modern_retrieve(x, q, beta, steps=3), rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(net.energy(q), ref.modern_energy(x, q, beta), rtol=1e-12)
        np.testing.assert_allclose(
            net.attention(q), ref.modern_attention(x, q, beta), rtol=1e-12, atol=1e-300
        )
    # Iterating to a fixed point reaches it to 1e-12.
    net = hf.ModernHopfield(3.0, dtype=np.float64)
    net.store(x)
    res = net.retrieve(q[:10], tol=1e-13, max_steps=200)
    assert np.all(res.converged)
    step = ref.modern_update(x, res.states, 3.0)
    assert np.max(np.abs(step - res.states)) < 1e-12


def test_float64_results_do_not_depend_on_threads_or_batches() -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal((530, 20))
    v = rng.standard_normal((530, 5))
    q = rng.standard_normal((200, 20))
    one = hf.ModernHopfield(1.5, threads=1, dtype=np.float64)
    many = hf.ModernHopfield(1.5, threads=2, dtype=np.float64)
    for net in (one, many):
        net.store(x[:300], v[:300])
        net.store(x[300:], v[300:])
    whole = one.retrieve(q).states
    ASSERT_EQ(many.retrieve(q).states, whole)
    ASSERT_EQ(np.concatenate([many.retrieve(q[:7]).states, many.retrieve(q[7:]).states]), whole)
    ASSERT_EQ(many.retrieve(q[13]).states, whole[13])
    ASSERT_EQ(one.energy(x[:65]), many.energy(x[:65]))
    np.testing.assert_allclose(whole, ref.modern_update(x, q, 1.5, V=v), rtol=1e-12, atol=1e-13)


def test_float64_network_saves_its_dtype_and_checks_input(tmp_path) -> None:
    x = np.random.default_rng(10).standard_normal((30, 6))
    net = hf.ModernHopfield(2.0, dtype=np.float64)
    net.store(x)
    assert "float64" in repr(net) and net.nbytes == 8 * x.size
    path = tmp_path / "m.npz"
    net.save(path)
    back = hf.load(path)
    assert back.dtype == np.float64
    ASSERT_EQ(back.patterns, x)
    ASSERT_EQ(back.retrieve(x[:4]).states, net.retrieve(x[:4]).states)
    with pytest.raises(TypeError, match="dtype must be numpy.float32 or numpy.float64"):
        hf.ModernHopfield(dtype=np.int8)
    with pytest.raises(ValueError, match="finite float64"):
        net.retrieve(np.full(6, np.nan))
    with pytest.raises(ValueError, match="d = 6"):
        net.energy(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="steps=1"):
        h = hf.ModernHopfield(dtype=np.float64)
        h.store(x, x[:, :2])
        h.retrieve(x[:2], steps=2)
    assert hf.ModernHopfield().dtype == np.float32
