"""Partial cues on the continuous-time models: ``retrieve(queries, clamp=mask)``
on :class:`hopfield.GradedHopfieldNetwork` and (over the feature neurons) on
:class:`hopfield.HiddenNeuronMemory`, against the NumPy references (which hold
a clamped component by taking its drive to be its value), to the tolerance of
those models' own reference tests; the clamped components exactly."""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

N, P, B = 48, 4, 9


def masks(n: int = N, b: int = B, seed: int = 0) -> dict[str, np.ndarray]:
    """One shared mask (the first third held) and one random mask per query."""
    shared = np.zeros(n, dtype=bool)
    shared[: n // 3] = True
    per_row = np.random.default_rng(seed).random((b, n)) < 0.4
    return {"shared": shared, "per_row": per_row}


def held(mask: np.ndarray, b: int) -> np.ndarray:
    return np.broadcast_to(mask, (b, mask.shape[-1]))


def potentials(b: int, n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal((b, n))


# --- the graded-response network -----------------------------------------------------


def graded(rule: str, activation: str, theta: np.ndarray | float = 0.0):
    x = hf.random_patterns(P, N, seed=3)
    net = hf.GradedHopfieldNetwork(
        N, gain=3.0, tau=2.0, rule=rule, threshold=theta, activation=activation
    )
    net.store(x)
    kw = {"W": None, "X": None, "I": -np.broadcast_to(theta, (N,)), "activation": activation}
    if rule == "hebbian":
        kw["X"] = x
    else:
        kw["W"] = net.weights
    return net, kw


@pytest.mark.parametrize("which", ["shared", "per_row"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("rule", ["hebbian", "storkey"])
def test_clamped_graded_matches_the_reference(rule: str, activation: str, which: str) -> None:
    theta = np.linspace(-0.1, 0.1, N)
    net, kw = graded(rule, activation, theta)
    u0 = potentials(B, N, 4)
    clamp = masks()[which]
    res = net.retrieve(u0, dt=0.2, t_max=300.0, tol=1e-7, record=5, clamp=clamp)
    u, steps, converged = ref.graded_integrate(
        u0, 3.0, tau=2.0, dt=0.2, max_steps=1500, tol=1e-7, clamp=clamp, **kw
    )
    np.testing.assert_array_equal(res.steps, steps)
    np.testing.assert_array_equal(res.converged, converged)
    np.testing.assert_allclose(res.potentials, u, rtol=1e-9, atol=1e-9)
    h = held(clamp, B)
    np.testing.assert_array_equal(res.potentials[h], u0[h])  # held exactly
    np.testing.assert_allclose(res.energy, ref.graded_energy(u, 3.0, **kw), rtol=1e-9, atol=1e-9)
    assert res.energy_trace is not None
    np.testing.assert_allclose(res.energy_trace[:, 0], ref.graded_energy(u0, 3.0, **kw))
    # The rate is the free neurons': below tol there, while clamped neurons
    # still disagree with their drive (so the clamp decided convergence).
    drive = ref.graded_drive(res.potentials, 3.0, **kw)
    gap = np.abs(drive - res.potentials) / 2.0
    free_rate = np.where(h, 0.0, gap).max(axis=1)
    np.testing.assert_allclose(res.rate, free_rate, rtol=1e-9, atol=1e-12)
    assert converged.sum() >= B - 2 and (res.rate[converged] <= 1e-7).all()
    assert (np.where(h, gap, 0.0).max(axis=1)[converged] > 1e-3).all()
    # And the clamp changed the answer.
    free = net.retrieve(u0, dt=0.2, t_max=300.0, tol=1e-7)
    assert not np.allclose(free.potentials, res.potentials)


def test_clamped_graded_from_weights_matches_the_reference() -> None:
    rng = np.random.default_rng(17)
    a = rng.standard_normal((20, 20))
    w = (a + a.T) / 10
    np.fill_diagonal(w, 0)
    net = hf.GradedHopfieldNetwork.from_weights(w, gain=3.0, threshold=0.05)
    u0 = potentials(5, 20, 18)
    clamp = masks(20, 5)["per_row"]
    res = net.retrieve(u0, dt=0.1, tol=1e-8, clamp=clamp)
    u, steps, _ = ref.graded_integrate(
        u0, 3.0, W=w, I=-0.05, dt=0.1, max_steps=1000, tol=1e-8, clamp=clamp
    )
    np.testing.assert_array_equal(res.steps, steps)
    np.testing.assert_allclose(res.potentials, u, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(res.potentials[clamp], u0[clamp])


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_the_energy_never_increases_under_a_clamp(activation: str) -> None:
    n = 64
    net = hf.GradedHopfieldNetwork(n, gain=4.0, rule="pseudoinverse", activation=activation)
    net.store(hf.random_patterns(6, n, seed=5))
    clamp = masks(n, 16, seed=3)["per_row"]
    res = net.retrieve(
        potentials(16, n, 6, 0.5), dt=0.02, t_max=20.0, tol=1e-9, record=1, clamp=clamp
    )
    assert res.energy_trace is not None
    for row, steps in zip(res.energy_trace, res.steps, strict=True):
        e = row[: steps + 1]
        assert np.all(np.diff(e) <= 1e-12 * (1 + np.abs(e[:-1]))), np.diff(e).max()
        assert e[-1] < e[0]


def test_clamping_recalls_from_a_known_half() -> None:
    # The unknown half starts at -1: free, it drags the state to another
    # memory or a mixture; held, the known half pulls the pattern out.
    n = 400
    x = hf.random_patterns(50, n, seed=21)  # load 0.125
    net = hf.GradedHopfieldNetwork(n, gain=20.0)
    net.store(x)
    known = np.arange(n) < n // 2
    half = np.where(known, x, -1.0)
    free = net.retrieve(half)
    clamped = net.retrieve(half, clamp=known)
    recalled = [(r.signs == x).all(axis=1).mean() for r in (free, clamped)]
    assert recalled[1] > recalled[0] + 0.15, recalled


def test_graded_results_with_a_clamp_do_not_depend_on_threads_or_batch_splits() -> None:
    n, b = 96, 150
    x = hf.random_patterns(7, n, seed=13)
    u0 = potentials(b, n, 14)
    clamp = masks(n, b, seed=9)["per_row"]
    out = []
    for threads in (1, 2, 3):
        net = hf.GradedHopfieldNetwork(n, gain=5.0, threads=threads)
        net.store(x)
        out.append(net.retrieve(u0, dt=0.1, t_max=30.0, tol=1e-6, record=7, clamp=clamp))
    for other in out[1:]:
        np.testing.assert_array_equal(other.potentials, out[0].potentials)
        np.testing.assert_array_equal(other.steps, out[0].steps)
        np.testing.assert_array_equal(other.energy_trace, out[0].energy_trace)
    net = hf.GradedHopfieldNetwork(n, gain=5.0)
    net.store(x)
    for r in (0, 63, 64, 149):
        one = net.retrieve(u0[r], dt=0.1, t_max=30.0, tol=1e-6, clamp=clamp[r])
        np.testing.assert_array_equal(one.potentials, out[0].potentials[r])
        assert one.steps == out[0].steps[r]
    part = net.retrieve(u0[60:90], dt=0.1, t_max=30.0, tol=1e-6, clamp=clamp[60:90])
    np.testing.assert_array_equal(part.potentials, out[0].potentials[60:90])


def test_an_empty_mask_is_no_clamp_and_a_full_one_holds_everything() -> None:
    net, _ = graded("hebbian", "tanh")
    u0 = potentials(B, N, 4)
    free = net.retrieve(u0, record=3)
    none = net.retrieve(u0, record=3, clamp=np.zeros((B, N), dtype=bool))
    np.testing.assert_array_equal(free.potentials, none.potentials)
    np.testing.assert_array_equal(free.energy_trace, none.energy_trace)
    full = net.retrieve(u0, clamp=np.ones(N, dtype=bool))
    np.testing.assert_array_equal(full.potentials, u0)
    assert full.converged.all() and (full.steps == 0).all() and (full.rate == 0).all()
    np.testing.assert_allclose(full.energy, net.energy(u0), rtol=1e-12)


BAD_MASKS = [
    (np.ones(N, dtype=np.int8), TypeError, "clamp must be a boolean mask"),
    ([0.0] * N, TypeError, "clamp must be a boolean mask"),
    (np.ones(N + 1, dtype=bool), ValueError, r"clamp must have shape \(n,\)"),
    (np.ones((B + 1, N), dtype=bool), ValueError, r"clamp must have shape"),
    (np.ones((2, 3, N), dtype=bool), ValueError, r"clamp must have shape"),
]


@pytest.mark.parametrize(("clamp", "error", "match"), BAD_MASKS)
def test_bad_masks_are_refused(clamp, error, match) -> None:
    net, _ = graded("hebbian", "tanh")
    with pytest.raises(error, match=match):
        net.retrieve(potentials(B, N, 1), clamp=clamp)


def test_the_users_mask_and_queries_are_not_modified() -> None:
    net, _ = graded("hebbian", "tanh")
    u0 = potentials(B, N, 4)
    clamp = masks()["per_row"]
    u_before, c_before = u0.copy(), clamp.copy()
    net.retrieve(u0, clamp=clamp)
    np.testing.assert_array_equal(u0, u_before)
    np.testing.assert_array_equal(clamp, c_before)


# --- the hidden-neuron memory --------------------------------------------------------

CASES = [
    {"lagrangian": "lse", "beta": 2.0, "feature": "identity"},
    {"lagrangian": "rectified", "degree": 3, "feature": "tanh", "gain": 0.5},
    {"lagrangian": "power", "degree": 2, "feature": "layernorm", "gamma": 2.0, "eps": 1e-3},
    {"lagrangian": "lse", "beta": 0.5, "feature": "layernorm"},
]
HN, HP, HB = 24, 6, 5


def hidden_memory(kw: dict) -> tuple[hf.HiddenNeuronMemory, np.ndarray, dict]:
    x = np.random.default_rng(1).standard_normal((HP, HN)) / np.sqrt(HN)
    mem = hf.HiddenNeuronMemory(HN, tau_f=1.0, tau_h=0.5, **kw)
    mem.store(x)
    rk = {"feature": mem.feature, "hidden": mem.lagrangian, "degree": mem.degree}
    rk.update({k: v for k, v in kw.items() if k in ("beta", "gain", "gamma", "eps")})
    return mem, x, rk


def hidden_cues(x: np.ndarray) -> np.ndarray:
    return x[np.arange(HB) % HP] + 0.3 * np.random.default_rng(2).standard_normal((HB, HN))


@pytest.mark.parametrize("which", ["shared", "per_row"])
@pytest.mark.parametrize("kw", CASES)
def test_clamped_hidden_matches_the_reference(kw: dict, which: str) -> None:
    mem, x, rk = hidden_memory(kw)
    q = hidden_cues(x)
    clamp = masks(HN, HB)[which]
    res = mem.retrieve(q, dt=0.05, t_max=30.0, tol=1e-7, record=10, clamp=clamp)
    fk = {k: v for k, v in kw.items() if k in ("gain", "gamma", "eps")}
    g, _ = ref.hidden_features(q, mem.feature, **fk)
    s0 = np.concatenate([q, g @ x.T], axis=1)
    s, steps, conv = ref.hidden_integrate(
        s0, x, tau_f=1.0, tau_h=0.5, dt=0.05, max_steps=600, tol=1e-7, clamp=clamp, **rk
    )
    np.testing.assert_array_equal(res.steps, steps)
    np.testing.assert_array_equal(res.converged, conv)
    np.testing.assert_allclose(res.features, s[:, :HN], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.hidden, s[:, HN:], rtol=1e-9, atol=1e-10)
    h = held(clamp, HB)
    np.testing.assert_array_equal(res.features[h], q[h])  # held exactly
    np.testing.assert_allclose(res.energy, ref.hidden_energy(s, x, **rk), rtol=1e-9, atol=1e-10)
    assert res.energy_trace is not None
    np.testing.assert_allclose(res.energy_trace[:, 0], ref.hidden_energy(s0, x, **rk), rtol=1e-9)
    # The hidden neurons are free: at the end they rest at Ξ g(x).
    if conv.all():
        g_end, _ = ref.hidden_features(res.features, mem.feature, **fk)
        np.testing.assert_allclose(res.hidden, g_end @ x.T, atol=1e-6)
    free = mem.retrieve(q, dt=0.05, t_max=30.0, tol=1e-7)
    assert not np.allclose(free.features, res.features)


@pytest.mark.parametrize("kw", CASES[:2])
def test_the_hidden_energy_never_increases_under_a_clamp(kw: dict) -> None:
    # Identity and tanh features are sums over features: the energy of the
    # whole state differs from the free components' by a constant.
    mem, x, _ = hidden_memory(kw)
    clamp = masks(HN, HB, seed=4)["per_row"]
    res = mem.retrieve(hidden_cues(x), dt=0.005, t_max=4.0, tol=1e-10, record=1, clamp=clamp)
    assert res.energy_trace is not None
    for row, steps in zip(res.energy_trace, res.steps, strict=True):
        e = row[: steps + 1]
        assert np.all(np.diff(e) <= 1e-9 * (1 + np.abs(e[:-1]))), np.diff(e).max()
        assert e[-1] < e[0]


def test_hidden_results_with_a_clamp_do_not_depend_on_threads_or_batch_splits() -> None:
    n, p, b = 40, 9, 140
    x = np.random.default_rng(3).standard_normal((p, n)) / np.sqrt(n)
    q = x[np.arange(b) % p] + 0.2 * np.random.default_rng(4).standard_normal((b, n))
    clamp = masks(n, b, seed=5)["per_row"]
    out = []
    for threads in (1, 2, 3):
        mem = hf.HiddenNeuronMemory(n, beta=3.0, threads=threads)
        mem.store(x)
        out.append(mem.retrieve(q, dt=0.01, t_max=5.0, clamp=clamp))
    for other in out[1:]:
        np.testing.assert_array_equal(other.features, out[0].features)
        np.testing.assert_array_equal(other.hidden, out[0].hidden)
        np.testing.assert_array_equal(other.steps, out[0].steps)
    for r in (0, 64, 139):
        one = mem.retrieve(q[r], dt=0.01, t_max=5.0, clamp=clamp[r])
        np.testing.assert_array_equal(one.features, out[0].features[r])
        np.testing.assert_array_equal(one.hidden, out[0].hidden[r])


def test_hidden_masks_are_over_the_features_only() -> None:
    mem, x, _ = hidden_memory(CASES[0])
    q = hidden_cues(x)
    with pytest.raises(ValueError, match=r"clamp must have shape \(n,\) = \(24,\)"):
        mem.retrieve(q, clamp=np.ones(HN + HP, dtype=bool))
    with pytest.raises(TypeError, match="clamp must be a boolean mask"):
        mem.retrieve(q, clamp=np.ones(HN))
    with pytest.raises(ValueError, match="clamp must have shape"):
        mem.retrieve(q, clamp=np.ones((HB + 1, HN), dtype=bool))
    full = mem.retrieve(q, clamp=np.ones(HN, dtype=bool), dt=0.05, tol=1e-9)
    np.testing.assert_array_equal(full.features, q)
    g, _ = ref.hidden_features(q, "identity")
    np.testing.assert_allclose(full.hidden, g @ x.T, atol=1e-8)  # already at rest
    clamp = masks(HN, HB)["per_row"]
    before_q, before_c = q.copy(), clamp.copy()
    mem.retrieve(q, clamp=clamp)
    np.testing.assert_array_equal(q, before_q)
    np.testing.assert_array_equal(clamp, before_c)
