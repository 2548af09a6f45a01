"""Diluted Hebbian networks: seeded symmetric sparse connectivity, exact
integer weights, agreement with the dense network at c = 1 and with the
NumPy reference on the masked weights, capacity that scales with c·N."""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal


def test_full_connectivity_equals_the_dense_network() -> None:
    n = 130
    x = hf.random_patterns(12, n, seed=1)
    theta = np.linspace(-0.05, 0.05, n)
    dense = hf.HopfieldNetwork(n, threshold=theta)
    full = hf.HopfieldNetwork(n, threshold=theta, dilution=1.0, seed=5)
    for net in (dense, full):
        net.store(x)
    q = hf.corrupt(x[np.arange(30) % 12], flip=0.2, seed=2)
    ASSERT_EQ(full.fields(q), dense.fields(q))
    np.testing.assert_allclose(full.energy(q), dense.energy(q), rtol=1e-12, atol=1e-12)
    ASSERT_EQ(full.weights, dense.weights)
    for update in ("async", "sync"):
        a = full.retrieve(q, update=update, seed=3)
        b = dense.retrieve(q, update=update, seed=3)
        ASSERT_EQ(a.states, b.states)
        ASSERT_EQ(a.sweeps, b.sweeps)
        ASSERT_EQ(a.converged, b.converged)


@pytest.mark.parametrize("update", ["async", "sync"])
def test_diluted_agrees_with_the_reference_on_the_masked_weights(update: str) -> None:
    n, p, b, sweeps = 256, 10, 20, 30  # N a power of two: C/N is exact everywhere
    x = hf.random_patterns(p, n, seed=4)
    net = hf.HopfieldNetwork(n, dilution=0.3, seed=11)
    net.store(x)
    conn = net.connections
    assert conn is not None
    pairs, values = conn
    mask = np.zeros((n, n), dtype=bool)
    mask[pairs[:, 0], pairs[:, 1]] = True
    ASSERT_EQ(mask, mask.T)
    assert not mask.diagonal().any()
    assert abs(mask.sum() / (n * (n - 1)) - 0.3) < 0.02
    w = np.where(mask, ref.hebbian_weights(x), 0.0)
    ASSERT_EQ(net.weights, w)
    q = hf.corrupt(x[np.arange(b) % p], flip=0.15, seed=5)
    ASSERT_EQ(net.fields(q), ref.weight_fields(w, q))
    np.testing.assert_allclose(net.energy(q), ref.weight_energy(w, q), rtol=1e-12, atol=1e-12)
    res = net.retrieve(q, update=update, seed=6, max_sweeps=sweeps)
    if update == "async":
        orders = hf.sweep_orders(n, sweeps, seed=6, count=b)
        exp = ref.weights_retrieve_async_batched(w, q, orders, max_sweeps=sweeps)
    else:
        exp = ref.weights_retrieve_sync(w, q, max_sweeps=sweeps)
    ASSERT_EQ(res.states, exp.states)
    ASSERT_EQ(res.sweeps, exp.sweeps)
    ASSERT_EQ(res.converged, exp.converged)


def test_connectivity_is_seeded() -> None:
    a = hf.HopfieldNetwork(300, dilution=0.1, seed=1).connections
    b = hf.HopfieldNetwork(300, dilution=0.1, seed=1).connections
    c = hf.HopfieldNetwork(300, dilution=0.1, seed=2).connections
    assert a is not None and b is not None and c is not None
    ASSERT_EQ(a[0], b[0])
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def _recall(n: int, p: int, dilution: float | None) -> float:
    x = hf.random_patterns(p, n, seed=20 + p)
    kw = {} if dilution is None else {"dilution": dilution, "seed": 3}
    net = hf.HopfieldNetwork(n, **kw)
    net.store(x)
    res = net.retrieve(hf.corrupt(x, flip=0.05, seed=p), seed=p)
    return float((res.states == x).all(axis=1).mean())


def test_capacity_scales_with_the_connections() -> None:
    n = 400
    assert _recall(n, 16, None) == 1.0  # dense: load 0.04 is easy
    assert _recall(n, 16, 1.0) == 1.0
    assert _recall(n, 16, 0.1) < 0.5  # 40 connections per neuron: overloaded
    assert _recall(n, 2, 0.1) == 1.0  # a load of 0.05 per connection is fine


def test_hundred_thousand_neurons_with_a_hundred_connections() -> None:
    n = 100_000
    net = hf.HopfieldNetwork(n, dilution=100 / n, seed=7)
    x = hf.random_patterns(3, n, seed=8)
    net.store(x)
    assert 90 * n < net._engine.connections < 110 * n
    assert net.nbytes < 200 * 2**20
    res = net.retrieve(hf.corrupt(x, flip=0.1, seed=9), seed=1)
    ASSERT_EQ(res.states, x)
    assert res.converged.all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rule": "storkey", "dilution": 0.0}, r"\(0, 1\]"),
        ({"dilution": 0.0}, r"dilution must be a number in \(0, 1\]"),
        ({"dilution": 1.5}, r"\(0, 1\]"),
        ({"dilution": "a"}, r"\(0, 1\]"),
        ({"seed": 3}, "seed is only used with dilution"),
    ],
)
def test_bad_dilution_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hf.HopfieldNetwork(50, **kwargs)


@pytest.mark.parametrize(("rule", "kw"), [("storkey", {}), ("pseudoinverse", {})])
def test_other_rules_are_diluted_on_the_same_graph(rule: str, kw: dict) -> None:
    n, p = 128, 6
    x = hf.random_patterns(p, n, seed=12)
    hebbian = hf.HopfieldNetwork(n, dilution=0.4, seed=13)
    conn = hebbian.connections
    assert conn is not None
    mask = np.zeros((n, n), dtype=bool)
    mask[conn[0][:, 0], conn[0][:, 1]] = True
    net = hf.HopfieldNetwork(n, rule=rule, dilution=0.4, seed=13, **kw)
    net.store(x)
    full = ref.storkey_weights(x) if rule == "storkey" else ref.pseudoinverse_weights(x)
    np.testing.assert_allclose(net.weights, np.where(mask, full, 0.0), atol=1e-6)
    ASSERT_EQ(net.weights[~mask], 0)
    q = hf.corrupt(x, flip=0.1, seed=14)
    res = net.retrieve(q, update="sync", max_sweeps=30)
    exp = ref.weights_retrieve_sync(net.weights, q, max_sweeps=30)
    ASSERT_EQ(res.states, exp.states)
    assert net.dilution == 0.4
