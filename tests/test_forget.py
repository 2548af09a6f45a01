"""``forget(indices)``: a model that forgets patterns equals, bit for bit, the
model that never stored them (with the same ``store`` calls otherwise); for
Storkey's sequential rule, the network that learnt the remaining patterns in
their original order."""

from __future__ import annotations

from collections.abc import Callable

import hopfield as hf
import numpy as np
import pytest

N = 80


def spins(p: int, seed: int) -> np.ndarray:
    return hf.random_patterns(p, N, seed=seed)


def sparse(p: int, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random((p, N)) < 0.3, 1, -1).astype(np.int8)


BUILDERS: dict[str, tuple[Callable[[], object], Callable[[int, int], np.ndarray]]] = {
    "hebbian": (lambda: hf.HopfieldNetwork(N), spins),
    "storkey": (lambda: hf.HopfieldNetwork(N, rule="storkey"), spins),
    "pseudoinverse": (lambda: hf.HopfieldNetwork(N, rule="pseudoinverse"), spins),
    "covariance": (lambda: hf.HopfieldNetwork(N, rule="covariance", activity=0.3), sparse),
    "diluted": (lambda: hf.HopfieldNetwork(N, dilution=0.4, seed=3), spins),
    "dense": (lambda: hf.DenseAssociativeMemory(N, degree=4), spins),
    "dense-exp": (
        lambda: hf.DenseAssociativeMemory(N, interaction="exponential", beta=0.2),
        spins,
    ),
    "graded": (lambda: hf.GradedHopfieldNetwork(N, rule="storkey"), spins),
    "hidden": (lambda: hf.HiddenNeuronMemory(N), spins),
}


def same(a: object, b: object, queries: np.ndarray) -> None:
    """``a`` and ``b`` hold the same patterns, weights and answers."""
    np.testing.assert_array_equal(a.patterns, b.patterns)  # type: ignore[attr-defined]
    for name in ("weights", "_weights"):
        wa = getattr(a, name, None)
        if isinstance(wa, np.ndarray):
            np.testing.assert_array_equal(wa, getattr(b, name))
    if isinstance(a, hf.HopfieldNetwork | hf.DenseAssociativeMemory):
        np.testing.assert_array_equal(a.energy(queries), b.energy(queries))  # type: ignore[attr-defined]
        ra = a.retrieve(queries, seed=1)
        rb = b.retrieve(queries, seed=1)  # type: ignore[attr-defined]
        np.testing.assert_array_equal(ra.states, rb.states)
        np.testing.assert_array_equal(ra.energy, rb.energy)


@pytest.mark.parametrize("model", list(BUILDERS))
def test_forgetting_equals_never_storing(model: str) -> None:
    build, draw = BUILDERS[model]
    first, second = draw(5, 1), draw(4, 2)
    net = build()
    net.store(first)  # type: ignore[attr-defined]
    net.store(second)  # type: ignore[attr-defined]
    net.forget([1, 6, -1])  # type: ignore[attr-defined]
    fresh = build()
    fresh.store(np.delete(first, 1, axis=0))  # type: ignore[attr-defined]
    fresh.store(np.delete(second, [1, 3], axis=0))  # type: ignore[attr-defined]
    assert net.num_patterns == 6  # type: ignore[attr-defined]
    same(net, fresh, hf.corrupt(first, flip=0.2, seed=5))


@pytest.mark.parametrize("model", ["hebbian", "covariance", "pseudoinverse", "dense", "dense-exp"])
def test_order_independent_rules_equal_one_store_of_the_rest(model: str) -> None:
    build, draw = BUILDERS[model]
    x = draw(9, 4)
    net = build()
    for chunk in (x[:3], x[3:7], x[7:]):
        net.store(chunk)  # type: ignore[attr-defined]
    net.forget(np.array([0, 4, 8]))  # type: ignore[attr-defined]
    once = build()
    once.store(np.delete(x, [0, 4, 8], axis=0))  # type: ignore[attr-defined]
    same(net, once, hf.corrupt(x, flip=0.2, seed=6))


def test_storkey_forgetting_is_relearning_the_rest_in_order() -> None:
    x = spins(8, 5)
    net = hf.HopfieldNetwork(N, rule="storkey")
    net.store(x)
    net.forget(2)
    relearnt = hf.HopfieldNetwork(N, rule="storkey")
    relearnt.store(np.delete(x, 2, axis=0))
    np.testing.assert_array_equal(net.weights, relearnt.weights)
    # Storkey's rule is sequential: the same patterns in another order make
    # other weights, so "the rest, in their original order" is what holds.
    shuffled = hf.HopfieldNetwork(N, rule="storkey")
    shuffled.store(np.delete(x, 2, axis=0)[::-1])
    assert not np.array_equal(net.weights, shuffled.weights)


def test_modern_forgets_patterns_and_their_values() -> None:
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((6, 10)).astype(np.float32)
    values = rng.standard_normal((6, 3)).astype(np.float32)
    net = hf.ModernHopfield(beta=2.0)
    net.store(keys, values)
    net.forget([0, 5])
    fresh = hf.ModernHopfield(beta=2.0)
    fresh.store(keys[1:5], values[1:5])
    np.testing.assert_array_equal(net.patterns, fresh.patterns)
    np.testing.assert_array_equal(net.values, fresh.values)
    q = rng.standard_normal((4, 10)).astype(np.float32)
    np.testing.assert_array_equal(net.retrieve(q).states, fresh.retrieve(q).states)
    auto = hf.ModernHopfield()
    auto.store(keys)
    auto.forget(range(6))
    assert auto.num_patterns == 0


def test_forgetting_nothing_changes_nothing_and_state_survives_saving(tmp_path) -> None:
    x = spins(5, 7)
    net = hf.HopfieldNetwork(N, rule="storkey")
    net.store(x)
    before = net.weights
    net.forget([])
    np.testing.assert_array_equal(net.weights, before)
    net.forget(0)
    path = tmp_path / "net.npz"
    net.save(path)
    back = hf.load(path)
    np.testing.assert_array_equal(back.weights, net.weights)
    net.store(x[:1])  # storing again after forgetting appends as usual
    assert net.num_patterns == 5


@pytest.mark.parametrize(
    ("indices", "error", "match"),
    [
        (5, IndexError, r"indices must be in \[-5, 5\)"),
        ([0, -6], IndexError, "indices must be in"),
        ([1, 1], ValueError, "indices must be distinct"),
        ([[0, 1]], ValueError, "indices must be one integer or 1-D"),
        (True, TypeError, "indices must be an integer"),
        ([0.5], TypeError, "indices must be integers"),
        ("a", TypeError, "indices must be"),
    ],
)
def test_bad_indices_are_refused(indices, error, match) -> None:
    net = hf.HopfieldNetwork(N)
    net.store(spins(5, 8))
    with pytest.raises(error, match=match):
        net.forget(indices)
    assert net.num_patterns == 5


def test_a_network_built_from_weights_has_nothing_to_forget() -> None:
    net = hf.HopfieldNetwork.from_weights(np.zeros((4, 4)))
    net.forget([])
    with pytest.raises(IndexError, match="indices"):
        net.forget(0)
