"""Tests for hopfield.DenseAssociativeMemory (polynomial and exponential).

Every dynamical result is compared with the NumPy oracle
(:mod:`hopfield.reference`, ``dense_*``) on the same neuron orders
(:func:`hopfield.sweep_orders`): spins, sweeps, ``converged`` and ``cycled``
by exact equality; polynomial energies exactly (exact integers rounded once),
exponential energies with a tolerance (their log-sum-exp is a float sum whose
order differs). The science tests print their figure on failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import _core
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal
SIMD_LEVELS = ("portable", "popcnt", "avx2", "avx512")
POLY = [(d, r) for d in (2, 3, 4, 5) for r in (True, False)]


def _dam(x: np.ndarray, **kw: Any) -> hf.DenseAssociativeMemory:
    dam = hf.DenseAssociativeMemory(x.shape[1], **kw)
    dam.store(x)
    return dam


def _queries(x: np.ndarray, b: int, flip: float, seed: int) -> np.ndarray:
    """``b`` corrupted patterns (cycling through them), the last quarter
    replaced by uniformly random states (the hard cases)."""
    p, n = x.shape
    q = hf.corrupt(x[np.arange(b) % p], flip=flip, seed=seed)
    extra = max(1, b // 4)
    q[-extra:] = hf.random_patterns(extra, n, seed=seed + 1000)
    return q


def _check_async(res: hf.Retrieval, exp: ref.AsyncResult, *, exact_energy: bool) -> None:
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)
    assert not np.any(res.cycled)
    _check_energy(res, exp, exact_energy)


def _check_sync(res: hf.Retrieval, exp: ref.SyncResult, *, exact_energy: bool) -> None:
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)
    ASSERT_EQ(res.cycled, exp.cycled)
    _check_energy(res, exp, exact_energy)


def _check_energy(res: hf.Retrieval, exp: Any, exact: bool) -> None:
    pairs = [(res.energy, exp.energy)]
    if exp.energy_trace is not None:
        assert res.energy_trace is not None
        assert res.energy_trace.shape == exp.energy_trace.shape
        pairs.append((res.energy_trace, exp.energy_trace))
    for got, want in pairs:
        if exact:
            ASSERT_EQ(got, want)
        else:
            ASSERT_EQ(np.isnan(got), np.isnan(want))
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.fixture
def restore_simd() -> Iterator[str]:
    before = _core.simd_level()
    try:
        yield _core.detected_simd()
    finally:
        _core.set_simd_level(before)


# ---------------------------------------------------------------------------
# agreement with the reference


@pytest.mark.parametrize(("degree", "rectified"), POLY)
def test_polynomial_async_matches_reference_on_the_same_orders(
    degree: int, rectified: bool
) -> None:
    x = hf.random_patterns(40, 70, seed=degree)
    q = _queries(x, 12, 0.25, seed=10 + degree)
    kw = dict(degree=degree, rectified=rectified)
    res = _dam(x, **kw).retrieve(q, seed=5, track_energy=True, max_sweeps=30)
    orders = hf.sweep_orders(70, 30, seed=5, count=12)
    exp = ref.dense_retrieve_async(x, q, orders, max_sweeps=30, track_energy=True, **kw)
    _check_async(res, exp, exact_energy=True)
    batched = ref.dense_retrieve_async_batched(x, q, orders, max_sweeps=30, **kw)
    _check_async(res, batched._replace(energy_trace=exp.energy_trace), exact_energy=True)
    seq = _dam(x, **kw).retrieve(q, order="sequential", max_sweeps=30)
    exp_seq = ref.dense_retrieve_async(x, q, np.arange(70), max_sweeps=30, **kw)
    _check_async(seq, exp_seq, exact_energy=True)


@pytest.mark.parametrize(("degree", "rectified"), POLY)
def test_polynomial_sync_matches_reference(degree: int, rectified: bool) -> None:
    x = hf.random_patterns(30, 65, seed=degree + 20)
    q = _queries(x, 24, 0.3, seed=degree)
    kw = dict(degree=degree, rectified=rectified)
    res = _dam(x, **kw).retrieve(q, update="sync", track_energy=True, max_sweeps=40)
    exp = ref.dense_retrieve_sync(x, q, max_sweeps=40, track_energy=True, **kw)
    _check_sync(res, exp, exact_energy=True)


@pytest.mark.parametrize("beta_n", [0.5, 16.0, 128.0, 1e4])
def test_exponential_matches_reference_including_large_beta_n(beta_n: float) -> None:
    n = 96
    beta = beta_n / n
    x = hf.random_patterns(300, n, seed=3)
    q = _queries(x, 16, 0.2, seed=4)
    dam = _dam(x, interaction="exponential", beta=beta)
    kw = dict(interaction="exponential", beta=beta)
    res = dam.retrieve(q, seed=9, track_energy=True, max_sweeps=30)
    orders = hf.sweep_orders(n, 30, seed=9, count=16)
    exp = ref.dense_retrieve_async(x, q, orders, max_sweeps=30, track_energy=True, **kw)
    _check_async(res, exp, exact_energy=False)
    batched = ref.dense_retrieve_async_batched(x, q, orders, max_sweeps=30, **kw)
    ASSERT_EQ(res.states, batched.states)
    ASSERT_EQ(res.sweeps, batched.sweeps)
    sync = dam.retrieve(q, update="sync", track_energy=True, max_sweeps=30)
    exp_sync = ref.dense_retrieve_sync(x, q, max_sweeps=30, track_energy=True, **kw)
    _check_sync(sync, exp_sync, exact_energy=False)
    assert np.all(np.isfinite(res.energy)) and np.all(np.isfinite(sync.energy))
    np.testing.assert_allclose(dam.energy(q), ref.dense_energy(x, q, **kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("n", "p"), [(1, 3), (63, 1), (64, 64), (65, 65), (130, 63)])
@pytest.mark.parametrize(
    "kw", [dict(degree=3), dict(degree=2, rectified=False), dict(interaction="exponential")]
)
def test_awkward_sizes_match_reference(n: int, p: int, kw: dict[str, Any]) -> None:
    x = hf.random_patterns(p, n, seed=n + p)
    q = hf.random_patterns(9, n, seed=n * p)
    dam = _dam(x, **kw)
    exact = kw.get("interaction") != "exponential"
    res = dam.retrieve(q, seed=2, track_energy=True, max_sweeps=20)
    orders = hf.sweep_orders(n, 20, seed=2, count=9)
    exp = ref.dense_retrieve_async(x, q, orders, max_sweeps=20, track_energy=True, **kw)
    _check_async(res, exp, exact_energy=exact)
    sync = dam.retrieve(q, update="sync", track_energy=True, max_sweeps=20)
    _check_sync(
        sync,
        ref.dense_retrieve_sync(x, q, max_sweeps=20, track_energy=True, **kw),
        exact_energy=exact,
    )


def test_wide_polynomial_path_matches_reference_with_python_integers() -> None:
    # 5·(1000+2)^7·P > 2^63: the kernel sums in i128, the reference in Python ints.
    x = hf.random_patterns(6, 1000, seed=1)
    q = _queries(x, 4, 0.3, seed=2)
    kw = dict(degree=7, rectified=False)
    dam = _dam(x, **kw)
    res = dam.retrieve(q, seed=3, track_energy=True, max_sweeps=10)
    exp = ref.dense_retrieve_async(
        x, q, hf.sweep_orders(1000, 10, seed=3, count=4), max_sweeps=10, track_energy=True, **kw
    )
    _check_async(res, exp, exact_energy=True)
    sync = dam.retrieve(q, update="sync", max_sweeps=10)
    _check_sync(sync, ref.dense_retrieve_sync(x, q, max_sweeps=10, **kw), exact_energy=True)
    assert abs(dam.energy(x[0])) > 2.0**63  # -(1000^7 + ...) needs more than 64 bits


def test_energy_and_overlaps_match_reference() -> None:
    x = hf.random_patterns(20, 130, seed=8)
    s = hf.random_patterns(7, 130, seed=9)
    for kw in (dict(degree=3), dict(degree=4, rectified=False), dict(degree=2)):
        dam = _dam(x, **kw)
        ASSERT_EQ(dam.energy(s), ref.dense_energy(x, s, **kw))
        assert dam.energy(s[0]) == float(ref.dense_energy(x, s[0], **kw))
        ASSERT_EQ(dam.overlaps(s), ref.overlaps(x, s))
        ASSERT_EQ(dam.overlaps(s[1]), ref.overlaps(x, s[1]))
    # Degree 3 rectified by its definition.
    m = s.astype(np.int64) @ x.T.astype(np.int64)
    ASSERT_EQ(_dam(x).energy(s), -(np.maximum(m, 0) ** 3).sum(axis=1).astype(np.float64))


def test_exponential_fixed_point_table_is_the_documented_one() -> None:
    x = hf.random_patterns(4096, 8, seed=0)
    dam = _dam(x, interaction="exponential")
    assert dam.fixed_point_bits == ref.dense_fixed_point_bits(4096) == 49
    assert ref.dense_fixed_point_bits(1) == 52
    t = ref.dense_fixed_table(8, 4096, 1.0)
    assert t[0] == 2**49 and t.shape == (10,) and np.all(np.diff(t) < 0)


def test_ties_keep_the_state() -> None:
    # Two patterns that differ only at neuron 0: for either value of neuron 0
    # the energies are equal (exact tie), so both patterns stay put.
    n = 64
    a = hf.random_patterns(1, n, seed=4)[0]
    b = a.copy()
    b[0] = -b[0]
    x = np.stack([a, b])
    for kw in (
        dict(degree=3),
        dict(degree=2, rectified=False),
        dict(interaction="exponential", beta=1.0),
        dict(interaction="exponential", beta=300.0),
    ):
        dam = _dam(x, **kw)
        for update in ("async", "sync"):
            res = dam.retrieve(x, update=update, seed=1)
            ASSERT_EQ(res.states, x, err_msg=f"{kw} {update}")
            assert np.all(res.converged) and np.all(res.sweeps == 1), (kw, update, res)
        orders = hf.sweep_orders(n, 5, seed=1, count=2)
        ASSERT_EQ(ref.dense_retrieve_async(x, x, orders, max_sweeps=5, **kw).states, x)


def test_large_beta_n_keeps_the_second_order_comparison() -> None:
    # β·N = 10^4. Neuron 0: the one pattern of maximal overlap M agrees with
    # the state there, two patterns of overlap M − 2 disagree. Then
    # ΔE ∝ e^{β(M−1)} − 2 e^{β(M−1)} < 0: the neuron must flip, although every
    # term is e^{−2β} ≈ 10^{−87} of what a frame shifted by the top overlap
    # alone would scale to 1 (where both sides would round to zero and tie).
    n, beta = 100, 100.0
    s = hf.random_patterns(1, n, seed=7)[0]

    def flipped(*idx: int) -> np.ndarray:
        x = s.copy()
        x[list(idx)] *= -1
        return x

    x = np.stack([flipped(1, 2), flipped(0, 3, 4), flipped(0, 5, 6)])
    dam = _dam(x, interaction="exponential", beta=beta)
    res = dam.retrieve(s, order="sequential", max_sweeps=1)
    assert res.states[0] == -s[0], "neuron 0 kept its state: the comparison was lost"
    exp = ref.dense_retrieve_async(
        x, s, np.arange(n), interaction="exponential", beta=beta, max_sweeps=1
    )
    ASSERT_EQ(res.states, exp.states)
    assert np.isfinite(res.energy)


def test_simd_levels_and_threads_give_identical_results(restore_simd: str) -> None:
    x = hf.random_patterns(150, 100, seed=2)
    q = _queries(x, 40, 0.2, seed=3)
    results = []
    for level in SIMD_LEVELS:
        _core.set_simd_level(level)
        for kw in (dict(degree=3), dict(interaction="exponential", beta=0.3)):
            dam = _dam(x, **kw)
            for update in ("async", "sync"):
                results.append(dam.retrieve(q, update=update, seed=4, threads=1))
                results.append(dam.retrieve(q, update=update, seed=4, threads=2))
    base = results[:8]
    for k, r in enumerate(results):
        b = base[k % 8]
        ASSERT_EQ(r.states, b.states)
        ASSERT_EQ(r.sweeps, b.sweeps)
        ASSERT_EQ(r.energy, b.energy)


# ---------------------------------------------------------------------------
# the science


@pytest.mark.parametrize("update", ["async", "sync"])
def test_degree_two_reproduces_the_classical_network(update: str) -> None:
    n, p, b = 200, 30, 60
    x = hf.random_patterns(p, n, seed=11)
    q = _queries(x, b, 0.3, seed=12)
    net = hf.HopfieldNetwork(n)
    net.store(x)
    dam = _dam(x, degree=2, rectified=False)
    for max_sweeps in (1, 2, 50):  # the same trajectory, step by step
        got = dam.retrieve(q, update=update, seed=13, max_sweeps=max_sweeps)
        want = net.retrieve(q, update=update, seed=13, max_sweeps=max_sweeps)
        same = (got.states == want.states).all(axis=1)
        assert same.all(), f"{update}: {int((~same).sum())} of {b} queries differ"
        ASSERT_EQ(got.sweeps, want.sweeps)
        ASSERT_EQ(got.converged, want.converged)
        ASSERT_EQ(got.cycled, want.cycled)
    # E_dense = −Σ m² = 2N·E_classical − P·N (same minima, same fixed points)
    ASSERT_EQ(dam.energy(q), 2 * n * net.energy(q) - p * n)


def _retrieved(res: hf.Retrieval, targets: np.ndarray) -> float:
    return float((res.states == targets).all(axis=1).mean())


def test_degree_three_stores_as_many_patterns_as_neurons() -> None:
    n = p = 100  # 7x the classical limit 0.138 N = 14
    x = hf.random_patterns(p, n, seed=21)
    targets = x[np.arange(500) % p]
    q = hf.corrupt(targets, flip=0.1, seed=22)
    frac = _retrieved(_dam(x, degree=3).retrieve(q, seed=23), targets)
    assert frac >= 0.99, f"degree 3, N = P = 100, 10% flips: {frac:.2%} retrieved exactly"
    # and the classical network does not (sanity: the test can fail)
    net = hf.HopfieldNetwork(n)
    net.store(x)
    classic = _retrieved(net.retrieve(q, seed=23), targets)
    assert classic < 0.5, f"classical network at P = N retrieved {classic:.2%}"


def test_exponential_stores_exponentially_many_patterns() -> None:
    n, p = 128, 4096  # 32 N
    x = hf.random_patterns(p, n, seed=31)
    idx = np.random.default_rng(32).choice(p, 1000, replace=False)
    q = hf.corrupt(x[idx], flip=0.1, seed=33)
    dam = _dam(x, interaction="exponential", beta=1.0)
    for update in ("async", "sync"):
        frac = _retrieved(dam.retrieve(q, update=update, seed=34), x[idx])
        assert frac >= 0.99, f"exponential N=128 P=4096 {update}: {frac:.2%} retrieved exactly"


@pytest.mark.parametrize(
    "kw",
    [
        dict(degree=3),
        dict(degree=4, rectified=False),
        dict(degree=5),
        dict(interaction="exponential", beta=0.2),
        dict(interaction="exponential", beta=50.0),
    ],
)
def test_energy_never_increases_under_async_updates(kw: dict[str, Any]) -> None:
    n = 80
    x = hf.random_patterns(120, n, seed=41)
    q = np.concatenate([hf.random_patterns(30, n, seed=42), hf.corrupt(x[:30], flip=0.3, seed=43)])
    res = _dam(x, **kw).retrieve(q, seed=44, track_energy=True)
    assert np.all(res.converged)
    tr = res.energy_trace
    steps = np.diff(tr, axis=1)
    rises = np.nan_to_num(steps, nan=-1.0) > 0
    assert not rises.any(), f"{kw}: energy rose, largest step {np.nanmax(steps)}"
    ASSERT_EQ(tr[np.arange(len(q)), res.sweeps], res.energy)


# ---------------------------------------------------------------------------
# the class


def test_store_is_appendable_and_repr_sizes() -> None:
    x = hf.random_patterns(70, 90, seed=1)
    one = _dam(x)
    two = hf.DenseAssociativeMemory(90)
    two.store(x[:30])
    two.store(x[30:] > 0)  # bool encoding
    ASSERT_EQ(two.patterns, x)
    assert two.num_patterns == 70 and two.n == 90
    assert two.nbytes == 70 * 2 * 8
    q = hf.corrupt(x, flip=0.2, seed=2)
    ASSERT_EQ(one.retrieve(q, seed=3).states, two.retrieve(q, seed=3).states)
    # the prepared memory is kept: bit planes (90 neurons x 2 words) and the
    # i64 h and b and i128 F tables (91 entries each)
    assert two.nbytes == 70 * 2 * 8 + 90 * 2 * 8 + 91 * (8 + 8 + 16)
    assert repr(two) == (
        "DenseAssociativeMemory(n=90, interaction='polynomial', degree=3, "
        "rectified=True, num_patterns=70)"
    )
    e = hf.DenseAssociativeMemory(5, interaction="exponential", beta=2.0)
    assert repr(e) == (
        "DenseAssociativeMemory(n=5, interaction='exponential', beta=2.0, num_patterns=0)"
    )
    assert e.energy(np.ones(5)) == np.inf
    assert e.retrieve(np.ones(5), seed=1).converged


def test_a_store_after_a_retrieval_prepares_the_memory_again() -> None:
    x = hf.random_patterns(40, 80, seed=7)
    q = hf.corrupt(x, flip=0.15, seed=8)
    for interaction in ("polynomial", "exponential"):
        grown = hf.DenseAssociativeMemory(80, interaction=interaction)
        grown.store(x[:10])
        before = grown.retrieve(q, seed=9, update="sync")
        grown.store(x[10:])
        assert grown.nbytes == 40 * 2 * 8  # the kept preparation was dropped
        whole = hf.DenseAssociativeMemory(80, interaction=interaction)
        whole.store(x)
        for update in ("sync", "async"):
            got = grown.retrieve(q, seed=9, update=update)
            ASSERT_EQ(got.states, whole.retrieve(q, seed=9, update=update).states)
        assert not np.array_equal(before.states, got.states)
        grown.forget(range(10, 40))
        ASSERT_EQ(grown.retrieve(q, seed=9, update="sync").states, before.states)


def test_single_query_and_inputs_not_modified() -> None:
    x = hf.random_patterns(20, 50, seed=5)
    dam = _dam(x, interaction="exponential", beta=2.0)
    q = hf.corrupt(x[3], flip=0.1, seed=6)
    keep = q.copy()
    res = dam.retrieve(q, seed=7)
    ASSERT_EQ(q, keep)
    assert res.states.shape == (50,) and isinstance(res.sweeps, int)
    ASSERT_EQ(res.states, x[3])
    assert isinstance(dam.energy(q), float)
    assert dam.overlaps(q).shape == (20,)


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        (dict(degree=0), ValueError, "degree must be at least 1"),
        (dict(degree=-2), ValueError, "degree must be at least 1"),
        (dict(degree=2.5), TypeError, "degree must be an integer"),
        (dict(degree=True), TypeError, "degree must be an integer"),
        (dict(degree=2**40), ValueError, "degree must be below"),
        (dict(beta=0.0), ValueError, "beta must be a finite number > 0"),
        (dict(beta=-1), ValueError, "beta must be a finite number > 0"),
        (dict(beta=float("nan")), ValueError, "beta must be a finite number > 0"),
        (dict(beta=float("inf")), ValueError, "beta must be a finite number > 0"),
        (dict(beta="1"), TypeError, "beta must be a real number"),
        (dict(interaction="cubic"), ValueError, "interaction must be one of"),
        (dict(interaction=None), ValueError, "interaction must be one of"),
        (dict(rectified="yes"), TypeError, "rectified must be True or False"),
    ],
)
def test_bad_parameters_are_refused(kw: dict[str, Any], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        hf.DenseAssociativeMemory(10, **kw)


def test_bad_sizes_shapes_and_overflow_are_refused() -> None:
    with pytest.raises(ValueError, match="n must be at least 1"):
        hf.DenseAssociativeMemory(0)
    with pytest.raises(TypeError, match="n must be an integer"):
        hf.DenseAssociativeMemory(3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be at most"):
        hf.DenseAssociativeMemory(_core.MAX_N + 1)
    # 5·(1000+2)^13 > 2^127: refused at once.
    with pytest.raises(ValueError, match="overflows exact 128-bit"):
        hf.DenseAssociativeMemory(1000, degree=13)
    dam = hf.DenseAssociativeMemory(1000, degree=12)
    x = hf.random_patterns(20, 1000, seed=1)
    dam.store(x)
    with pytest.raises(ValueError, match="overflows exact 128-bit"):
        dam.store(x)
    assert dam.num_patterns == 20
    dam = hf.DenseAssociativeMemory(16)
    with pytest.raises(ValueError, match="patterns must have n = 16 columns"):
        dam.store(np.ones((2, 15)))
    with pytest.raises(ValueError, match="spins"):
        dam.store(np.full((2, 16), 0.5))
    dam.store(np.ones((2, 16)))
    with pytest.raises(ValueError, match="queries must have n = 16 columns"):
        dam.retrieve(np.ones((3, 17)))
    with pytest.raises(ValueError, match="queries"):
        dam.retrieve(np.ones((2, 2, 16)))
    with pytest.raises(ValueError, match="states must have length n = 16"):
        dam.energy(np.ones(4))
    with pytest.raises(ValueError, match="update must be one of"):
        dam.retrieve(np.ones(16), update="glauber?")
    with pytest.raises(ValueError, match="max_sweeps must be at least 1"):
        dam.retrieve(np.ones(16), max_sweeps=0)


@pytest.mark.parametrize(
    ("interaction", "temperature"), [("polynomial", 150.0), ("exponential", 1.5)]
)
def test_glauber_samples_follow_the_boltzmann_distribution_of_the_reported_energy(
    interaction: str, temperature: float
) -> None:
    """Stochastic dynamics use the model's exact energy gap, so the chains
    sample ``P(s) ∝ exp(-E(s)/T)`` for the energy ``energy`` reports (over
    all 2^8 states; the TV bound is derived in ``boltzmann_check``)."""
    from boltzmann_check import BURN_IN, CHAINS, empirical, tv_bound

    n = 8
    net = hf.DenseAssociativeMemory(n, interaction=interaction, degree=3, beta=0.5)
    net.store(hf.random_patterns(5, n, seed=11))
    exact = ref.boltzmann_distribution(net.energy(ref.all_states(n)), temperature)
    uniform = np.full(2**n, 2.0**-n)
    assert ref.total_variation(exact, uniform) > 0.3, "the check needs a non-uniform law"
    got = hf.sample(
        net, temperature=temperature, n_samples=1, burn_in=BURN_IN, chains=CHAINS, seed=4
    )
    tv = ref.total_variation(empirical(got.flat, n), exact)
    bound = tv_bound(2**n, CHAINS)
    assert tv < bound, f"{interaction}: TV {tv:.4f} >= bound {bound:.4f}"
