"""Tests for hopfield.ModernHopfield, the fused softmax kernel in Rust.

Every result is compared with the float64 NumPy oracle
(:mod:`hopfield.reference`, ``modern_*``) within float32 tolerance; the
kernel's own invariances (threads, batch splits, instruction sets, the ±1
popcount path) are checked by exact equality.
"""

from __future__ import annotations

from collections.abc import Iterator

import hopfield as hf
import numpy as np
import pytest
from hopfield import _core
from hopfield import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

SIMD_LEVELS = ("portable", "popcnt", "avx2", "avx512")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _net(x: np.ndarray, beta: float, values: np.ndarray | None = None, **kw) -> hf.ModernHopfield:
    net = hf.ModernHopfield(beta=beta, **kw)
    net.store(x, values)
    return net


def _rel_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5) -> None:
    """Within ``rtol`` relative to the largest magnitude of ``expected``."""
    scale = max(float(np.abs(expected).max()), 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.fixture
def simd_level() -> Iterator[None]:
    before = _core.simd_level()
    yield
    _core.set_simd_level(before)


# -- parity with NumPy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "d", "dv", "b"),
    [
        (1, 1, None, 1),
        (1, 5, None, 3),
        (7, 1, None, 2),
        (3, 4, 2, 1),
        (300, 33, None, 50),
        (5000, 64, 10, 7),
        (3500, 130, None, 200),
    ],
)
@pytest.mark.parametrize("beta", [0.05, 1.0, 6.0])
def test_update_equals_numpy_softmax(p: int, d: int, dv: int | None, b: int, beta: float) -> None:
    rng = _rng(p * 1000 + d)
    k = rng.standard_normal((p, d)).astype(np.float32)
    v = None if dv is None else rng.standard_normal((p, dv)).astype(np.float32)
    q = rng.standard_normal((b, d)).astype(np.float32) / np.sqrt(d)
    net = _net(k, beta, v)
    out = net.retrieve(q).states
    assert out.dtype == np.float32 and out.shape == (b, dv or d)
    _rel_close(out, ref.modern_update(k, q, beta, v))
    # a single (d,) query returns (d_v,)
    one = net.retrieve(q[0])
    assert one.states.shape == (dv or d,) and one.steps == 1
    np.testing.assert_array_equal(one.states, out[0])


@settings(max_examples=40, deadline=None)
@given(
    p=st.integers(1, 40),
    d=st.integers(1, 40),
    b=st.integers(1, 9),
    beta=st.floats(0.01, 20.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_update_property(p: int, d: int, b: int, beta: float, seed: int) -> None:
    rng = _rng(seed)
    k = rng.uniform(-1, 1, (p, d)).astype(np.float32)
    q = rng.uniform(-1, 1, (b, d)).astype(np.float32)
    out = _net(k, beta).retrieve(q).states
    _rel_close(out, ref.modern_update(k, q, beta), rtol=1e-5)


def test_scaled_dot_product_attention() -> None:
    rng = _rng(1)
    n, d, dv, b = 500, 48, 24, 30
    keys = rng.standard_normal((n, d)).astype(np.float32)
    vals = rng.standard_normal((n, dv)).astype(np.float32)
    q = rng.standard_normal((b, d)).astype(np.float32)
    # Attention(Q, K, V) = softmax(Q Kᵀ / √d) V, written out in float64
    s = q.astype(np.float64) @ keys.T.astype(np.float64) / np.sqrt(d)
    a = np.exp(s - s.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    net = _net(keys, 1 / np.sqrt(d), vals)
    _rel_close(net.retrieve(q).states, a @ vals)
    np.testing.assert_allclose(net.attention(q), a, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(net.attention(q).sum(axis=1), 1.0, rtol=1e-12)


def test_energy_matches_reference_and_never_increases() -> None:
    rng = _rng(2)
    for trial in range(6):
        p, d = int(rng.integers(2, 300)), int(rng.integers(1, 80))
        x = rng.standard_normal((p, d)).astype(np.float32)
        beta = float(rng.choice([0.1, 1.0, 5.0, 40.0]))
        net = _net(x, beta)
        s = rng.standard_normal((5, d)).astype(np.float32)
        np.testing.assert_allclose(net.energy(s), ref.modern_energy(x, s, beta), rtol=1e-5)
        e = net.energy(s)
        for _ in range(6):
            s = net.retrieve(s).states
            e_next = net.energy(s)
            assert np.all(e_next <= e + 1e-5 * (1 + np.abs(e))), (trial, e, e_next)
            e = e_next
        assert np.all(e >= -1e-4 * (1 + np.abs(e))), "E is bounded below by 0"


# -- the three regimes ------------------------------------------------------------


def test_small_beta_returns_the_mean() -> None:
    x = _rng(3).standard_normal((200, 32)).astype(np.float32)
    q = _rng(4).standard_normal((10, 32)).astype(np.float32)
    out = _net(x, 1e-6).retrieve(q).states
    np.testing.assert_allclose(out, np.broadcast_to(x.mean(axis=0), out.shape), atol=1e-3)


def test_large_beta_returns_the_nearest_pattern() -> None:
    rng = _rng(5)
    x = rng.standard_normal((300, 32)).astype(np.float32)
    q = x[:50] + 0.3 * rng.standard_normal((50, 32)).astype(np.float32)
    out = _net(x, 50.0).retrieve(q).states
    np.testing.assert_allclose(out, x[:50], atol=1e-5)


def test_intermediate_beta_gives_a_metastable_cluster_average() -> None:
    rng = _rng(6)
    d = 64
    centre = rng.standard_normal(d)
    centre *= 6 / np.linalg.norm(centre)
    cluster = centre + 0.1 * rng.standard_normal((10, d))
    others = rng.standard_normal((200, d))
    others *= 6 / np.linalg.norm(others, axis=1, keepdims=True)
    x = np.vstack([cluster, others]).astype(np.float32)
    net = _net(x, 0.5)
    res = net.retrieve(cluster[0] + 0.05 * rng.standard_normal(d), tol=1e-6)
    assert res.converged
    mean = cluster.mean(axis=0)
    # the fixed point is near the cluster mean, far from every single member
    assert np.linalg.norm(res.states - mean) < 0.05 * np.linalg.norm(mean)
    assert np.linalg.norm(cluster - res.states, axis=1).min() > 0.15
    w = net.attention(res.states)
    assert w[:10].sum() > 0.99 and w[:10].max() < 0.5


def test_one_step_retrieval_of_10000_patterns() -> None:
    rng = _rng(7)
    p, d = 10_000, 64
    x = rng.standard_normal((p, d)).astype(np.float32)
    noise = rng.standard_normal((p, d)).astype(np.float32)
    noise *= (
        0.2
        * np.linalg.norm(x, axis=1, keepdims=True)
        / np.linalg.norm(noise, axis=1, keepdims=True)
    )
    net = _net(x, 1.0)
    out = net.retrieve(x + noise).states
    # nearest stored pattern (Euclidean) of each retrieved state
    d2 = (out * out).sum(1)[:, None] - 2 * out @ x.T + (x * x).sum(1)[None, :]
    correct = (d2.argmin(axis=1) == np.arange(p)).mean()
    assert correct >= 0.99, correct


# -- numerical safety -----------------------------------------------------------


def test_extreme_inputs_give_no_nan_or_inf() -> None:
    rng = _rng(8)
    x = rng.standard_normal((1_000_000, 4)).astype(np.float32)
    net = _net(x, 1e4)
    q = rng.standard_normal((3, 4)).astype(np.float32)
    res = net.retrieve(q)
    assert np.isfinite(res.states).all() and np.isfinite(net.energy(q)).all()
    # float32 scores are off by ~1e-7·|k||q|, i.e. ~4e-3 in β·score: weights to ~1%
    np.testing.assert_allclose(res.states, ref.modern_update(x, q, 1e4), atol=0.05)
    # all-equal scores: zero query, and identical patterns
    zero = net.retrieve(np.zeros(4, dtype=np.float32)).states
    np.testing.assert_allclose(zero, x.astype(np.float64).mean(axis=0), atol=1e-5)
    same = _net(np.ones((1000, 8)), 1e4)
    np.testing.assert_array_equal(same.retrieve(np.ones((2, 8))).states, np.ones((2, 8)))
    zeros = _net(np.zeros((10, 3)), 1e4)
    np.testing.assert_array_equal(zeros.retrieve(np.zeros(3)).states, np.zeros(3))
    assert np.isfinite(zeros.energy(np.zeros(3)))


# -- iteration --------------------------------------------------------------------


def test_iteration_reaches_fixed_points_and_counts_steps() -> None:
    rng = _rng(9)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    q = rng.standard_normal((8, 16)).astype(np.float32)
    net = _net(x, 0.3)
    res = net.retrieve(q, tol=1e-6, max_steps=200)
    assert res.converged.all() and (res.steps >= 2).all()
    again = net.retrieve(res.states)
    np.testing.assert_allclose(again.states, res.states, atol=1e-5)
    fixed = net.retrieve(q, steps=3)
    assert (fixed.steps == 3).all()
    _rel_close(fixed.states, ref.modern_retrieve(x, q, 0.3, steps=3), rtol=1e-5)
    capped = net.retrieve(q, tol=0.0, max_steps=2)
    assert (capped.steps == 2).all()
    # per-query stopping: a query's result does not depend on its batch
    for i in range(3):
        alone = net.retrieve(q[i], tol=1e-6, max_steps=200)
        np.testing.assert_array_equal(alone.states, res.states[i])
        assert alone.steps == res.steps[i]


# -- invariances ------------------------------------------------------------------


def test_threads_batches_and_simd_levels_give_identical_bits(simd_level: None) -> None:
    rng = _rng(10)
    x = rng.standard_normal((7000, 40)).astype(np.float32)
    q = rng.standard_normal((450, 40)).astype(np.float32)
    base = _net(x, 2.0).retrieve(q).states
    np.testing.assert_array_equal(_net(x, 2.0, threads=1).retrieve(q).states, base)
    net = _net(x, 2.0)
    parts = np.vstack([net.retrieve(q[i : i + 37]).states for i in range(0, 450, 37)])
    np.testing.assert_array_equal(parts, base)
    for level in SIMD_LEVELS:
        _core.set_simd_level(level)
        np.testing.assert_array_equal(net.retrieve(q[:40]).states, base[:40], err_msg=level)


def test_binary_patterns_take_the_popcount_path_with_the_same_result() -> None:
    rng = _rng(11)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(600, 128))
    q = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(20, 128))
    net = _net(x, 0.05)
    assert net.binary
    out = net.retrieve(q).states
    _rel_close(out, ref.modern_update(x, q, 0.05))
    # a non-binary query (float path) agrees bit for bit on the ±1 rows
    mixed = np.vstack([q, np.full((1, 128), 0.5, np.float32)])
    np.testing.assert_array_equal(net.retrieve(mixed).states[:20], out)
    net.store(np.full((1, 128), 0.5))
    assert not net.binary


def test_store_appends_and_strided_inputs() -> None:
    rng = _rng(12)
    k = rng.standard_normal((40, 10))
    v = rng.standard_normal((40, 3))
    net = hf.ModernHopfield(beta=2.0)
    net.store(k[:25], v[:25])
    net.store(k[25:], v[25:])
    assert (net.num_patterns, net.dim, net.value_dim, net.hetero) == (40, 10, 3, True)
    np.testing.assert_array_equal(net.patterns, k.astype(np.float32))
    np.testing.assert_array_equal(net.values, v.astype(np.float32))
    assert net.nbytes == 4 * 40 * 13
    q = np.asfortranarray(rng.standard_normal((12, 20)))[:, ::2]
    _rel_close(net.retrieve(q).states, ref.modern_update(k, q, 2.0, v))
    net.beta = 0.5
    _rel_close(net.retrieve(q).states, ref.modern_update(k, q, 0.5, v))
    assert "num_patterns=40" in repr(net)


def test_screening_codes_are_kept_and_counted_in_nbytes(simd_level: None) -> None:
    # A call of 256+ queries at a retrieval beta screens its scores with
    # 8-bit codes of the keys (AVX2 and up): made as tiles need them, kept
    # for later calls (nbytes counts them: a byte per feature, padded to
    # 32, and 28 bytes per key), dropped by the next store; same bits.
    rng = _rng(13)
    p, d = 4000, 64
    x = rng.uniform(-1, 1, (p, d)).astype(np.float32)
    q = x[:300] + 0.2 * rng.uniform(-1, 1, (300, d)).astype(np.float32)
    net = _net(x, 4.0)
    assert net.nbytes == 4 * p * d
    first = net.retrieve(q).states
    coded = net.nbytes - 4 * p * d
    if _core.simd_level() in ("avx2", "avx512"):
        assert coded == p * (d + 28)
    else:
        assert coded == 0
    np.testing.assert_array_equal(net.retrieve(q).states, first)
    assert net.nbytes == 4 * p * d + coded
    _core.set_simd_level("portable")  # never screens
    np.testing.assert_array_equal(net.retrieve(q).states, first)
    _rel_close(first[:5], ref.modern_update(x, q[:5], 4.0))
    net.store(x[:2])
    assert net.nbytes == 4 * (p + 2) * d


# -- bad input --------------------------------------------------------------------


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="beta must be a finite number > 0"):
        hf.ModernHopfield(beta=0)
    with pytest.raises(ValueError, match="beta"):
        hf.ModernHopfield(beta=float("nan"))
    with pytest.raises(TypeError, match="beta must be a real number"):
        hf.ModernHopfield(beta="1")
    net = hf.ModernHopfield()
    with pytest.raises(ValueError, match="no patterns stored"):
        net.retrieve(np.zeros(3))
    with pytest.raises(TypeError, match="patterns must be an array of real numbers"):
        net.store(np.array([["a"]]))
    with pytest.raises(ValueError, match=r"patterns must be finite .* at index \(1, 0\)"):
        net.store(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="too large for float32"):
        net.store(np.array([[1e300]]))
    with pytest.raises(ValueError, match="magnitude at most 1e30"):
        net.store(np.array([[1e35]], dtype=np.float32))
    with pytest.raises(ValueError, match="patterns is empty"):
        net.store(np.zeros((0, 3)))
    net.store(np.eye(3))
    with pytest.raises(ValueError, match="patterns must have d = 3 columns"):
        net.store(np.eye(4))
    with pytest.raises(ValueError, match="values given, but the stored patterns have none"):
        net.store(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="queries must have d = 3 columns"):
        net.retrieve(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="queries must have length d = 3"):
        net.retrieve(np.zeros(4))
    with pytest.raises(ValueError, match="queries is empty"):
        net.retrieve(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"queries must be finite .* at index \(0, 2\)"):
        net.retrieve(np.array([[0, 0, np.inf]]))
    # float32 input goes to the engine unconverted; it names the bad value too.
    for bad in (np.nan, np.inf, 1e35):
        for q in (
            np.array([0, 0, bad], dtype=np.float32),
            np.array([[0, 1, 0], [0, 0, bad]], dtype=np.float32),
        ):
            row = 0 if q.ndim == 1 else 1
            with pytest.raises(
                ValueError, match=rf"queries must be finite .* at index \({row}, 2\)"
            ):
                net.retrieve(q)
            with pytest.raises(
                ValueError, match=rf"states must be finite .* at index \({row}, 2\)"
            ):
                net.energy(q)
            with pytest.raises(
                ValueError, match=rf"queries must be finite .* at index \({row}, 2\)"
            ):
                net.attention(q)
    with pytest.raises(ValueError, match=r"patterns must be finite .* at index \(0, 1\)"):
        hf.ModernHopfield().store(np.array([[1, np.nan]], dtype=np.float32))
    with pytest.raises(ValueError, match="states must be 1-D"):
        net.energy(np.zeros((1, 1, 3)))
    with pytest.raises(ValueError, match="steps must be at least 1"):
        net.retrieve(np.zeros(3), steps=0)
    with pytest.raises(ValueError, match="give steps or tol, not both"):
        net.retrieve(np.zeros(3), steps=2, tol=1e-3)
    with pytest.raises(ValueError, match="tol must be a real number >= 0"):
        net.retrieve(np.zeros(3), tol=-1.0)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        hf.ModernHopfield(threads=0)
    big = hf.ModernHopfield(beta=1e10)
    big.store(np.full((1, 2), 1e14))
    with pytest.raises(ValueError, match="beyond float32 scores"):
        big.retrieve(np.full(2, 1e14))
    hetero = _net(np.eye(3), 1.0, np.ones((3, 2)))
    with pytest.raises(ValueError, match="iterating needs auto-association"):
        hetero.retrieve(np.zeros(3), steps=2)
    with pytest.raises(ValueError, match="values must be 2-D with one row per pattern"):
        hetero.store(np.eye(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="values missing"):
        hetero.store(np.eye(3))
