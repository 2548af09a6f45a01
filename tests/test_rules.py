"""Learning rules (Storkey, pseudo-inverse, covariance) against the NumPy
reference, and their behaviour on correlated and biased data.

Weights are compared with the float64 reference to float32 tolerance;
retrieval is compared bit for bit with the reference run on the network's
own (float32, grid-rounded) weights and the same neuron orders.
"""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal


def _biased(p: int, n: int, activity: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random((p, n)) < activity, 1, -1).astype(np.int8)


def _reference_weights(rule: str, x: np.ndarray, **kw: float) -> np.ndarray:
    if rule == "storkey":
        return ref.storkey_weights(x)
    if rule == "pseudoinverse":
        return ref.pseudoinverse_weights(x, **kw)
    return ref.covariance_weights(x, **kw)


CASES = [
    ("storkey", {}),
    ("pseudoinverse", {}),
    ("pseudoinverse", {"zero_diagonal": False}),
    ("covariance", {"activity": 0.3}),
]


@pytest.mark.parametrize(("rule", "kw"), CASES)
def test_weights_match_the_reference(rule: str, kw: dict) -> None:
    n, p = 90, 14
    x = _biased(p, n, kw.get("activity", 0.5), seed=1)
    net = hf.HopfieldNetwork(n, rule=rule, **kw)
    net.store(x)
    want = _reference_weights(rule, x, **kw)
    got = net.weights
    assert got.dtype == np.float32 and got.shape == (n, n)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())
    ASSERT_EQ(got, got.T)
    assert net.symmetric and net.rule == rule and net.num_patterns == p
    ASSERT_EQ(net.patterns, x)
    if kw.get("zero_diagonal", True):
        ASSERT_EQ(np.diag(got), 0)


@pytest.mark.parametrize(("rule", "kw"), CASES)
@pytest.mark.parametrize("update", ["async", "sync"])
def test_retrieval_agrees_bit_for_bit(rule: str, kw: dict, update: str) -> None:
    n, p, b, sweeps = 80, 10, 24, 40
    x = _biased(p, n, kw.get("activity", 0.5), seed=2)
    net = hf.HopfieldNetwork(n, rule=rule, **kw)
    net.store(x)
    q = hf.corrupt(x[np.arange(b) % p], flip=0.2, seed=3)
    w, theta = net.weights, net.threshold
    res = net.retrieve(q, update=update, seed=4, max_sweeps=sweeps)
    if update == "async":
        orders = hf.sweep_orders(n, sweeps, seed=4, count=b)
        exp = ref.weights_retrieve_async_batched(w, q, orders, theta=theta, max_sweeps=sweeps)
    else:
        exp = ref.weights_retrieve_sync(w, q, theta=theta, max_sweeps=sweeps)
        ASSERT_EQ(res.cycled, exp.cycled)
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)
    np.testing.assert_allclose(res.energy, exp.energy, rtol=1e-12, atol=1e-12)
    ASSERT_EQ(net.fields(q), ref.weight_fields(w, q, theta))


@pytest.mark.parametrize(("rule", "kw"), [c for c in CASES if c[0] != "pseudoinverse"])
def test_incremental_rules_append(rule: str, kw: dict) -> None:
    n = 50
    x = _biased(9, n, kw.get("activity", 0.5), seed=5)
    whole = hf.HopfieldNetwork(n, rule=rule, **kw)
    whole.store(x)
    parts = hf.HopfieldNetwork(n, rule=rule, **kw)
    parts.store(x[:4])
    parts.store(x[4])
    parts.store(x[5:])
    ASSERT_EQ(parts.weights, whole.weights)
    ASSERT_EQ(parts.patterns, x)


def test_pseudoinverse_recomputes_and_refuses_dependent_patterns() -> None:
    n = 40
    x = hf.random_patterns(6, n, seed=6)
    net = hf.HopfieldNetwork(n, rule="pseudoinverse", zero_diagonal=False)
    net.store(x[:3])
    net.store(x[3:])
    np.testing.assert_allclose(net.weights, ref.pseudoinverse_weights(x, False), atol=1e-6)
    # The projector leaves every stored pattern where it is.
    np.testing.assert_allclose(net.fields(x), x, atol=1e-5)
    before = net.weights
    with pytest.raises(ValueError, match="linearly dependent: pattern 7"):
        net.store(np.stack([hf.random_patterns(1, n, seed=7)[0], -x[2]]))
    assert net.num_patterns == 6
    ASSERT_EQ(net.weights, before)
    assert np.all(np.isfinite(net.weights))
    with pytest.raises(ValueError, match="linearly dependent"):
        hf.HopfieldNetwork(n, rule="pseudoinverse").store(np.stack([x[0], x[0]]))


def test_pseudoinverse_recalls_correlated_letters_where_hebbian_fails() -> None:
    letters, _ = hf.letter_patterns("ABCHTX")
    n = letters.shape[1]
    hebbian = hf.HopfieldNetwork(n)
    pinv = hf.HopfieldNetwork(n, rule="pseudoinverse")
    for net in (hebbian, pinv):
        net.store(letters)
    hits = {"hebbian": [], "pseudoinverse": []}
    for trial in range(20):
        q = hf.corrupt(letters, flip=0.1, seed=trial)
        for update in ("async", "sync"):
            for name, net in (("hebbian", hebbian), ("pseudoinverse", pinv)):
                res = net.retrieve(q, update=update, seed=trial)
                hits[name].append((res.states == letters).all(axis=1))
    assert np.all(hits["pseudoinverse"]), "pseudo-inverse must recall every letter"
    assert np.mean(hits["hebbian"]) < 0.6, "Hebbian should fail on correlated letters"


def _capacity(rule: str, n: int, sizes: range) -> int:
    """Largest P for which every stored pattern is recalled from 5% noise
    (async, fixed seeds): measured by storing P random patterns."""
    best = 0
    for p in sizes:
        x = hf.random_patterns(p, n, seed=100 + p)
        net = hf.HopfieldNetwork(n, rule=rule)
        net.store(x)
        res = net.retrieve(hf.corrupt(x, flip=0.05, seed=p), seed=p)
        if not (res.states == x).all():
            break
        best = p
    return best


def test_storkey_capacity_exceeds_hebbian() -> None:
    n = 200
    sizes = range(4, 120, 4)
    hebbian = _capacity("hebbian", n, sizes)
    storkey = _capacity("storkey", n, sizes)
    assert hebbian >= 8, "sanity: Hebbian stores a few patterns"
    assert storkey >= 1.4 * hebbian, f"Storkey {storkey} vs Hebbian {hebbian}"


def test_covariance_stores_sparse_patterns_where_hebbian_fails() -> None:
    # Exactly a·N active units per pattern: a pattern whose own activity
    # fluctuates adds a coherent term to every field (see the rule's docs).
    n, p, a = 400, 40, 0.1
    rng = np.random.default_rng(8)
    x = -np.ones((p, n), dtype=np.int8)
    for row in x:
        row[rng.permutation(n)[: int(a * n)]] = 1
    q = hf.corrupt(x, flip=0.02, seed=9)
    cov = hf.HopfieldNetwork(n, rule="covariance", activity=a)
    np.testing.assert_allclose(cov.threshold, 1 - 2 * a)
    cov.store(x)
    heb = hf.HopfieldNetwork(n)
    heb.store(x)
    got = cov.retrieve(q, seed=1).states
    assert (got == x).all(axis=1).mean() == 1.0
    assert (heb.retrieve(q, seed=1).states == x).all(axis=1).mean() < 0.2


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"rule": "oja"}, ValueError, "rule must be one of"),
        ({"rule": "covariance"}, ValueError, "needs activity"),
        ({"rule": "storkey", "activity": 0.2}, ValueError, "only used by rule='covariance'"),
        ({"rule": "covariance", "activity": 1.0}, ValueError, "strictly between 0 and 1"),
        ({"rule": "covariance", "activity": "a"}, ValueError, "strictly between 0 and 1"),
        ({"rule": "storkey", "zero_diagonal": False}, ValueError, "only meaningful"),
        ({"rule": "pseudoinverse", "zero_diagonal": 1}, TypeError, "zero_diagonal"),
        ({"rule": "storkey", "threshold": [0.0, 1.0]}, ValueError, "threshold"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        hf.HopfieldNetwork(10, **kwargs)


def test_store_checks_patterns() -> None:
    net = hf.HopfieldNetwork(10, rule="storkey")
    with pytest.raises(ValueError, match="patterns"):
        net.store(np.ones((2, 11)))
    with pytest.raises(ValueError, match="patterns"):
        net.store(np.full((2, 10), 0.5))
    assert net.num_patterns == 0


@pytest.mark.parametrize("rule", ["storkey", "pseudoinverse", "covariance"])
def test_impossible_matrices_are_memory_errors(rule: str) -> None:
    kw = {"activity": 0.2} if rule == "covariance" else {}
    with pytest.raises(MemoryError):
        hf.HopfieldNetwork(2**31, rule=rule, **kw)
    with pytest.raises(MemoryError):
        hf.HopfieldNetwork(3_000_000, rule=rule, **kw)


def test_nbytes_counts_the_matrices() -> None:
    n = 64
    storkey = hf.HopfieldNetwork(n, rule="storkey")
    # The float32 matrix, O(n) more, and O(P·n) for the patterns and factors:
    # no float64 copy.
    assert 4 * n * n <= storkey.nbytes < 5 * n * n
    storkey.store(hf.random_patterns(5, n, seed=0))
    assert storkey.nbytes == 4 * n * n + 16 * n + 5 * 8 + 8 * 5 * n
    pinv = hf.HopfieldNetwork(n, rule="pseudoinverse")
    pinv.store(hf.random_patterns(3, n, seed=0))
    # Float weights: the float32 matrix and O(n) more.
    assert 4 * n * n <= pinv.nbytes < 5 * n * n
    # Small-integer weights (Hebbian C/N) also keep an int8 copy.
    hebbian = ref.hebbian_weights(hf.random_patterns(3, n, seed=0))
    user = hf.HopfieldNetwork.from_weights(hebbian.astype(np.float32))
    assert 5 * n * n <= user.nbytes < 6 * n * n
