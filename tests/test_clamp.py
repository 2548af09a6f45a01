"""Partial cues: ``retrieve(queries, clamp=mask)`` on every binary model and
``clamp=``/``known=`` on the modern network, bit for bit against the NumPy
reference (which skips the clamped neurons in the same orders, keeps them in
synchronous steps, and leaves their uniforms unused in stochastic sweeps)."""

from __future__ import annotations

from collections.abc import Callable

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

N, P, B = 90, 7, 10


def masks(n: int = N, b: int = B, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One shared mask (the first third held) and one random mask per query."""
    shared = np.zeros(n, dtype=bool)
    shared[: n // 3] = True
    per_row = np.random.default_rng(seed).random((b, n)) < 0.4
    return shared, per_row


def cue(patterns: np.ndarray, seed: int = 1) -> np.ndarray:
    return hf.corrupt(patterns[np.arange(B) % len(patterns)], flip=0.3, seed=seed)


# --- the classical networks: every rule, diluted ------------------------------------


def hebbian_net() -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(N)
    net.store(hf.random_patterns(P, N, seed=3))
    return net


def rule_net(rule: str, **kw: object) -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(N, rule=rule, **kw)  # type: ignore[arg-type]
    x = hf.random_patterns(P, N, seed=4)
    if rule == "covariance":
        x = np.where(np.random.default_rng(5).random((P, N)) < 0.3, 1, -1).astype(np.int8)
    net.store(x)
    return net


NETWORKS: dict[str, Callable[[], hf.HopfieldNetwork]] = {
    "hebbian": hebbian_net,
    "storkey": lambda: rule_net("storkey"),
    "pseudoinverse": lambda: rule_net("pseudoinverse"),
    "covariance": lambda: rule_net("covariance", activity=0.3),
    "diluted": lambda: _diluted(),
}


def _diluted() -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(N, dilution=0.5, seed=2)
    net.store(hf.random_patterns(P, N, seed=6))
    return net


def weights_of(net: hf.HopfieldNetwork) -> tuple[np.ndarray, float]:
    """The weights the reference runs on, and the factor they are scaled by:
    a diluted network's ``C/N`` is not exact at N = 90, so the reference gets
    the integer counts ``C`` (same decisions at zero threshold, energies ×N)."""
    if net.dilution is not None:
        return np.rint(net.weights * N), float(N)
    return net.weights, 1.0


def reference_async(net: hf.HopfieldNetwork, q, orders, sweeps, clamp):
    if net.rule == "hebbian" and net.dilution is None:
        exp = ref.retrieve_async(
            net.patterns, q, orders, theta=net.threshold, max_sweeps=sweeps, clamp=clamp
        )
        return exp, 1.0
    w, scale = weights_of(net)
    exp = ref.weights_retrieve_async(
        w, q, orders, theta=net.threshold, max_sweeps=sweeps, clamp=clamp
    )
    return exp, scale


def reference_sync(net: hf.HopfieldNetwork, q, sweeps, clamp):
    if net.rule == "hebbian" and net.dilution is None:
        return ref.retrieve_sync(
            net.patterns, q, theta=net.threshold, max_sweeps=sweeps, clamp=clamp
        )
    w, _ = weights_of(net)
    return ref.weights_retrieve_sync(w, q, theta=net.threshold, max_sweeps=sweeps, clamp=clamp)


@pytest.mark.parametrize("model", list(NETWORKS))
@pytest.mark.parametrize("which", ["shared", "per_row"])
def test_clamped_async_matches_the_reference(model: str, which: str) -> None:
    net = NETWORKS[model]()
    q = cue(net.patterns)
    clamp = dict(zip(["shared", "per_row"], masks(), strict=True))[which]
    sweeps, seed = 30, 9
    res = net.retrieve(q, seed=seed, max_sweeps=sweeps, clamp=clamp, track_energy=True)
    orders = hf.sweep_orders(N, sweeps, seed=seed, count=B)
    exp, scale = reference_async(net, q, orders, sweeps, clamp)
    np.testing.assert_array_equal(res.states, exp.states)
    np.testing.assert_array_equal(res.converged, exp.converged)
    np.testing.assert_array_equal(res.sweeps, exp.sweeps)
    np.testing.assert_allclose(res.energy, exp.energy / scale, rtol=1e-12, atol=1e-9)
    held = np.broadcast_to(clamp, q.shape)
    np.testing.assert_array_equal(res.states[held], q[held])
    # The energy never rises with the clamped neurons held.
    trace = res.energy_trace
    steps = np.diff(trace, axis=1)
    assert np.all(steps[~np.isnan(steps)] <= 1e-9)


@pytest.mark.parametrize("model", list(NETWORKS))
@pytest.mark.parametrize("which", ["shared", "per_row"])
def test_clamped_sync_matches_the_reference(model: str, which: str) -> None:
    net = NETWORKS[model]()
    q = cue(net.patterns, seed=2)
    clamp = dict(zip(["shared", "per_row"], masks(seed=1), strict=True))[which]
    res = net.retrieve(q, update="sync", max_sweeps=40, clamp=clamp)
    exp = reference_sync(net, q, 40, clamp)
    np.testing.assert_array_equal(res.states, exp.states)
    np.testing.assert_array_equal(res.converged, exp.converged)
    np.testing.assert_array_equal(res.cycled, exp.cycled)
    np.testing.assert_array_equal(res.sweeps, exp.sweeps)
    held = np.broadcast_to(clamp, q.shape)
    np.testing.assert_array_equal(res.states[held], q[held])


def test_converged_means_no_free_neuron_would_flip() -> None:
    net = hebbian_net()
    q = cue(net.patterns, seed=3)
    shared, _ = masks()
    res = net.retrieve(q, seed=1, clamp=shared)
    assert res.converged.all()
    h = net.fields(res.states)
    unhappy = (h * res.states < 0) & ~shared
    assert not unhappy.any()
    # Some clamped neuron disagrees with its field (else the clamp did nothing).
    assert ((h * res.states < 0) & shared).any()


def test_an_empty_mask_is_no_clamp_and_a_full_one_holds_everything() -> None:
    net = hebbian_net()
    q = cue(net.patterns)
    free = net.retrieve(q, seed=4)
    none = net.retrieve(q, seed=4, clamp=np.zeros(N, dtype=bool))
    np.testing.assert_array_equal(free.states, none.states)
    np.testing.assert_array_equal(free.sweeps, none.sweeps)
    full = net.retrieve(q, seed=4, clamp=np.ones(N, dtype=bool), update="sync")
    np.testing.assert_array_equal(full.states, q)
    assert full.converged.all() and (full.sweeps == 1).all()


def test_clamped_stochastic_retrieval_matches_the_reference() -> None:
    net = hebbian_net()
    q = cue(net.patterns, seed=4)
    _, per_row = masks(seed=2)
    sweeps, seed = 6, 13
    res = net.retrieve(q, seed=seed, temperature=0.5, sweeps=sweeps, clamp=per_row)
    orders = hf.sweep_orders(N, sweeps, seed=seed, count=B)
    uniforms = hf.acceptance_uniforms(N, sweeps, seed=seed, count=B)
    states, energy = ref.glauber_hebbian(
        net.patterns, q, orders, uniforms, np.full(sweeps, 0.5), clamp=per_row
    )
    np.testing.assert_array_equal(res.states, states)
    np.testing.assert_allclose(res.energy, energy, atol=1e-9)
    np.testing.assert_array_equal(res.states[per_row], q[per_row])
    h = net.fields(states)
    fixed = ~((h * states < 0) & ~per_row).any(axis=1)
    np.testing.assert_array_equal(res.converged, fixed)


def test_clamped_stochastic_retrieval_on_a_weight_matrix_holds_the_clamp() -> None:
    net = rule_net("storkey")
    q = cue(net.patterns, seed=5)
    shared, _ = masks()
    res = net.retrieve(q, seed=3, temperature=0.3, sweeps=5, clamp=shared, threads=1)
    again = net.retrieve(q, seed=3, temperature=0.3, sweeps=5, clamp=shared, threads=2)
    np.testing.assert_array_equal(res.states[:, shared], q[:, shared])
    np.testing.assert_array_equal(res.states, again.states)


def test_clamping_recalls_from_a_known_half() -> None:
    # A half cue with the unknown half at -1: clamping the known half pulls
    # the memory out that the -1 half would drown.
    n = 400
    x = hf.random_patterns(50, n, seed=7)  # load 0.125
    net = hf.HopfieldNetwork(n)
    net.store(x)
    known = np.arange(n) < n // 2
    half = np.where(known, x, -1).astype(np.int8)
    free = net.retrieve(half, seed=1)
    held = net.retrieve(half, seed=1, clamp=known)
    recalled = [(r.states == x).all(axis=1).mean() for r in (free, held)]
    assert recalled[1] > recalled[0] + 0.2, recalled


# --- the dense associative memory ---------------------------------------------------

DENSE = [
    {"interaction": "polynomial", "degree": 3},
    {"interaction": "exponential", "beta": 0.3},
]


@pytest.mark.parametrize("kw", DENSE, ids=["poly3", "exp"])
def test_clamped_dense_matches_the_reference(kw: dict) -> None:
    n = 70
    mem = hf.DenseAssociativeMemory(n, **kw)
    x = hf.random_patterns(12, n, seed=8)
    mem.store(x)
    q = hf.corrupt(x[np.arange(B) % 12], flip=0.35, seed=9)
    _, per_row = masks(n, seed=3)
    res = mem.retrieve(q, seed=5, max_sweeps=30, clamp=per_row)
    exp = ref.dense_retrieve_async(
        x, q, hf.sweep_orders(n, 30, seed=5, count=B), max_sweeps=30, clamp=per_row, **kw
    )
    np.testing.assert_array_equal(res.states, exp.states)
    np.testing.assert_array_equal(res.converged, exp.converged)
    np.testing.assert_array_equal(res.sweeps, exp.sweeps)
    np.testing.assert_allclose(res.energy, exp.energy, rtol=1e-12)
    sync = mem.retrieve(q, update="sync", max_sweeps=30, clamp=per_row)
    exp_s = ref.dense_retrieve_sync(x, q, max_sweeps=30, clamp=per_row, **kw)
    np.testing.assert_array_equal(sync.states, exp_s.states)
    np.testing.assert_array_equal(sync.converged, exp_s.converged)
    np.testing.assert_array_equal(sync.cycled, exp_s.cycled)
    np.testing.assert_array_equal(sync.sweeps, exp_s.sweeps)
    np.testing.assert_array_equal(res.states[per_row], q[per_row])


def test_results_with_a_clamp_do_not_depend_on_threads_or_batch_splits() -> None:
    net = hebbian_net()
    q = cue(net.patterns)
    _, per_row = masks()
    for update in ("async", "sync"):
        one = net.retrieve(q, seed=2, update=update, clamp=per_row, threads=1)
        two = net.retrieve(q, seed=2, update=update, clamp=per_row, threads=3)
        np.testing.assert_array_equal(one.states, two.states)
        part = net.retrieve(q[4:7], seed=2, update=update, clamp=per_row[4:7], first_row=4)
        np.testing.assert_array_equal(part.states, one.states[4:7])
        row = net.retrieve(q[5], seed=2, update=update, clamp=per_row[5], first_row=5)
        np.testing.assert_array_equal(row.states, one.states[5])


# --- bad masks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clamp", "error", "match"),
    [
        (np.ones(N, dtype=np.int8), TypeError, "clamp must be a boolean mask"),
        ([1.0] * N, TypeError, "clamp must be a boolean mask"),
        (np.ones(N - 1, dtype=bool), ValueError, r"clamp must have shape \(n,\)"),
        (np.ones((3, N), dtype=bool), ValueError, r"clamp must have shape"),
        (np.ones((B, N, 1), dtype=bool), ValueError, r"clamp must have shape"),
    ],
)
def test_bad_masks_are_refused(clamp, error, match) -> None:
    net = hebbian_net()
    with pytest.raises(error, match=match):
        net.retrieve(cue(net.patterns), clamp=clamp)


def test_the_users_mask_and_queries_are_not_modified() -> None:
    net = hebbian_net()
    q = cue(net.patterns)
    shared, _ = masks()
    q0, m0 = q.copy(), shared.copy()
    net.retrieve(q, clamp=shared, seed=0)
    np.testing.assert_array_equal(q, q0)
    np.testing.assert_array_equal(shared, m0)


# --- the modern network -------------------------------------------------------------


def modern_reference(
    keys: np.ndarray, q: np.ndarray, beta: float, steps: int, clamp, known
) -> np.ndarray:
    """``steps`` updates scored on the known coordinates, the clamped ones reset."""
    x = q.astype(np.float64)
    held = None if clamp is None else np.broadcast_to(clamp, q.shape)
    seen = None if known is None else np.broadcast_to(known, q.shape)
    for _ in range(steps):
        scored = x if seen is None else np.where(seen, x, 0.0)
        x = ref.modern_update(keys, scored, beta)
        if held is not None:
            x = np.where(held, q, x)
    return x


@pytest.mark.parametrize("use", ["clamp", "known", "both"])
def test_modern_partial_cues_match_the_reference(use: str) -> None:
    d, p, b = 40, 9, 6
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((p, d)).astype(np.float32)
    q = (keys[np.arange(b) % p] + 0.8 * rng.standard_normal((b, d))).astype(np.float32)
    mask = rng.random((b, d)) < 0.5
    clamp = mask if use in ("clamp", "both") else None
    known = mask if use in ("known", "both") else None
    net = hf.ModernHopfield(beta=0.7)
    net.store(keys)
    res = net.retrieve(q, steps=4, clamp=clamp, known=known)
    exp = modern_reference(keys, q, 0.7, 4, clamp, known)
    np.testing.assert_allclose(res.states, exp, rtol=1e-4, atol=1e-4)
    if clamp is not None:
        np.testing.assert_array_equal(res.states[mask], q[mask])


def test_modern_known_ignores_the_unknown_values_and_clamp_converges_on_free() -> None:
    d = 32
    x = hf.random_patterns(5, d, seed=1).astype(np.float32)
    net = hf.ModernHopfield(beta=2.0)
    net.store(x)
    known = np.arange(d) < d // 2
    a = np.where(known, x[2], -1.0).astype(np.float32)
    b = np.where(known, x[2], 7.0).astype(np.float32)
    ra = net.retrieve(a, known=known)
    rb = net.retrieve(b, known=known)
    np.testing.assert_array_equal(ra.states, rb.states)
    both = net.retrieve(a, clamp=known, known=known, tol=1e-6, max_steps=20)
    assert both.converged
    np.testing.assert_allclose(both.states, x[2], atol=1e-5)


def test_modern_bad_masks_are_refused() -> None:
    net = hf.ModernHopfield()
    net.store(np.eye(4, dtype=np.float32))
    with pytest.raises(TypeError, match="known must be a boolean mask"):
        net.retrieve(np.ones(4), known=np.ones(4))
    with pytest.raises(ValueError, match=r"clamp must have shape"):
        net.retrieve(np.ones(4), clamp=np.ones(3, dtype=bool))
    hetero = hf.ModernHopfield()
    hetero.store(np.eye(4, dtype=np.float32), np.ones((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="auto-association"):
        hetero.retrieve(np.ones(4), clamp=np.ones(4, dtype=bool))
    out = hetero.retrieve(np.ones(4), known=np.arange(4) < 2)
    assert out.states.shape == (2,)
