"""``ModernHopfield(dtype=numpy.float64)`` on the same drivers as float32:
partial cues (``clamp=``/``known=``) and the ±1 popcount path, against the
float64 NumPy reference to ``1e-12``; independent of threads and batches;
save, load and forget keep the dtype and the results.
"""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import _core
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal


def _close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _memory(p: int = 300, d: int = 24, b: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((p, d))
    q = x[rng.integers(0, p, b)] + 0.6 * rng.standard_normal((b, d))
    mask = rng.random((b, d)) < 0.5
    return x, q, mask


@pytest.mark.parametrize("use", ["clamp", "known", "both"])
@pytest.mark.parametrize("beta", [0.3, 2.0])
def test_float64_partial_cues_match_the_reference(use: str, beta: float) -> None:
    x, q, mask = _memory()
    clamp = mask if use in ("clamp", "both") else None
    known = mask if use in ("known", "both") else None
    net = hf.ModernHopfield(beta, dtype=np.float64)
    net.store(x)
    res = net.retrieve(q, steps=4, clamp=clamp, known=known)
    assert res.states.dtype == np.float64
    _close(res.states, ref.modern_retrieve(x, q, beta, steps=4, clamp=clamp, known=known))
    if clamp is not None:
        ASSERT_EQ(res.states[mask], q[mask])  # the clamped values, bit for bit
    # One (d,) mask for every query, and one query alone.
    c1 = None if clamp is None else mask[0]
    k1 = None if known is None else mask[0]
    res = net.retrieve(q, steps=2, clamp=c1, known=k1)
    _close(res.states, ref.modern_retrieve(x, q, beta, steps=2, clamp=c1, known=k1))
    ASSERT_EQ(net.retrieve(q[5], steps=2, clamp=c1, known=k1).states, res.states[5])


def test_float64_known_ignores_unknown_values_and_clamp_converges_on_the_free_ones() -> None:
    d = 32
    x = hf.random_patterns(6, d, seed=1).astype(np.float64) * 0.75  # not ±1: the float path
    net = hf.ModernHopfield(4.0, dtype=np.float64)
    net.store(x)
    known = np.arange(d) < d // 2
    a = np.where(known, x[2], -1.0)
    b = np.where(known, x[2], 9.0)
    ASSERT_EQ(net.retrieve(a, known=known).states, net.retrieve(b, known=known).states)
    both = net.retrieve(a, clamp=known, known=known, tol=1e-13, max_steps=100)
    assert both.converged
    ASSERT_EQ(both.states[known], a[known])
    # A fixed point of the clamped dynamics to 1e-12: one more step moves nothing.
    step = ref.modern_retrieve(x, both.states, 4.0, clamp=known, known=known)
    assert np.max(np.abs(step - both.states)) < 1e-12
    np.testing.assert_allclose(both.states, x[2], atol=1e-9)


def test_float64_cues_do_not_depend_on_threads_or_batches() -> None:
    x, q, mask = _memory(p=530, d=20, b=90, seed=3)
    one = hf.ModernHopfield(1.5, threads=1, dtype=np.float64)
    many = hf.ModernHopfield(1.5, threads=2, dtype=np.float64)
    for net in (one, many):
        net.store(x[:200])
        net.store(x[200:])
    kw = {"clamp": mask, "known": mask, "tol": 1e-12, "max_steps": 50}
    whole = one.retrieve(q, **kw)
    split = [
        many.retrieve(q[s], clamp=mask[s], known=mask[s], tol=1e-12, max_steps=50)
        for s in (slice(0, 7), slice(7, None))
    ]
    ASSERT_EQ(many.retrieve(q, **kw).states, whole.states)
    ASSERT_EQ(np.concatenate([r.states for r in split]), whole.states)
    ASSERT_EQ(np.concatenate([r.steps for r in split]), whole.steps)


def test_float64_hetero_memory_refuses_clamp_and_steps_once_with_known() -> None:
    x, q, mask = _memory(p=50, d=8, b=4, seed=4)
    v = np.random.default_rng(5).standard_normal((50, 3))
    net = hf.ModernHopfield(1.0, dtype=np.float64)
    net.store(x, v)
    with pytest.raises(ValueError, match="auto-association"):
        net.retrieve(q, clamp=mask)
    out = net.retrieve(q, known=mask)
    assert out.states.shape == (4, 3)
    _close(out.states, ref.modern_update(x, np.where(mask, q, 0.0), 1.0, V=v))


def test_float64_popcount_path_matches_the_reference() -> None:
    p, d = 400, 200
    x = hf.random_patterns(p, d, seed=6).astype(np.float64)
    q = hf.corrupt(x[:50].astype(np.int8), flip=0.3, seed=7).astype(np.float64)
    net = hf.ModernHopfield(0.05, dtype=np.float64)
    net.store(x)
    assert net.binary
    packed = p * ((d + 63) // 64) * 8
    assert net.nbytes == 8 * p * d + packed
    for steps in (1, 3):
        out = net.retrieve(q, steps=steps).states
        _close(out, ref.modern_retrieve(x, q, 0.05, steps=steps))
    _close(net.energy(q), ref.modern_energy(x, q, 0.05))
    _close(net.attention(q[:3]), ref.modern_attention(x, q[:3], 0.05))
    # At a large β one step lands exactly on the stored pattern.
    sharp = hf.ModernHopfield(4.0, dtype=np.float64)
    sharp.store(x)
    ASSERT_EQ(sharp.retrieve(hf.corrupt(x[:20].astype(np.int8), flip=0.1, seed=8)).states, x[:20])
    # A pattern that is not ±1 ends the popcount path; forgetting it brings it back.
    sharp.store(np.full(d, 0.5))
    assert not sharp.binary
    sharp.forget(-1)
    assert sharp.binary


def test_float64_save_load_and_forget_keep_dtype_and_results(tmp_path) -> None:
    x, q, mask = _memory(p=60, d=10, b=12, seed=9)
    net = hf.ModernHopfield(2.5, dtype=np.float64)
    net.store(x[:25])
    net.store(x[25:])
    path = tmp_path / "m64.npz"
    net.save(path)
    back = hf.load(path)
    assert back.dtype == np.float64
    kw = {"steps": 3, "clamp": mask, "known": mask}
    ASSERT_EQ(back.retrieve(q, **kw).states, net.retrieve(q, **kw).states)
    net.forget([0, 30, 59])
    fresh = hf.ModernHopfield(2.5, dtype=np.float64)
    fresh.store(np.delete(x, [0, 30, 59], axis=0))
    assert net.dtype == np.float64 and net.num_patterns == 57
    ASSERT_EQ(net.patterns, fresh.patterns)
    ASSERT_EQ(net.retrieve(q, **kw).states, fresh.retrieve(q, **kw).states)
    ASSERT_EQ(net.energy(q), fresh.energy(q))


def test_the_engine_takes_one_dtype_and_says_so() -> None:
    for name in ("float32", "float64"):
        engine = _core.Modern(1.0, None, name)
        assert engine.dtype == name
    assert _core.Modern(1.0, None).dtype == "float32"
    with pytest.raises(TypeError, match="dtype must be"):
        _core.Modern(1.0, None, "int8")
    engine = _core.Modern(1.0, None, "float64")
    with pytest.raises(TypeError, match="patterns must be a 2-D numpy array of float64"):
        engine.store(np.zeros((2, 3), dtype=np.float32))
    engine.store(np.eye(3))
    with pytest.raises(TypeError, match="queries must be a 2-D numpy array of float64"):
        engine.attention(np.eye(3, dtype=np.float32))
    # The float32 memory keeps its float32 results and the same softmax state.
    net = hf.ModernHopfield(1.0)
    net.store(np.eye(3))
    assert net.retrieve(np.ones(3)).states.dtype == np.float32
    _, total, o = engine.softmax_state(np.ones((1, 3)))
    _close(o / total[:, None], ref.modern_update(np.eye(3), np.ones((1, 3)), 1.0))
