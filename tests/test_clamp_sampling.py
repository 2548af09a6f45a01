"""Conditional sampling: ``hf.sample(model, init=cue, clamp=mask)`` holds the
masked neurons at their values in ``init``; bit for bit against the NumPy
Glauber references (same orders and uniforms, the held neurons' uniforms
unused), and the conditional Boltzmann law on a small network."""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

N, P, CHAINS = 40, 3, 5


def hebbian(theta: float = 0.02) -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(N, threshold=theta)
    net.store(hf.random_patterns(P, N, seed=3))
    return net


def masks(n: int = N, chains: int = CHAINS, seed: int = 0) -> dict[str, np.ndarray]:
    shared = np.zeros(n, dtype=bool)
    shared[: n // 3] = True
    per_chain = np.random.default_rng(seed).random((chains, n)) < 0.4
    return {"shared": shared, "per_chain": per_chain}


def reference_run(glauber, model_args, init, clamp, seed, burn_in, n_samples, thin, t):
    """Samples (chains, n_samples, N) and energies by the reference, stage by stage."""
    b, n = init.shape
    total = burn_in + n_samples * thin
    orders = hf.sweep_orders(n, total, seed=seed, count=b)
    uniforms = hf.acceptance_uniforms(n, total, seed=seed, count=b)
    state, at = init, 0
    states, energies = [], []
    for length in [burn_in] + [thin] * n_samples:
        span = slice(at, at + length)
        state, energy = glauber(
            *model_args[:1],
            state,
            orders[:, span],
            uniforms[:, span],
            np.full(length, t),
            *model_args[1:],
            clamp=clamp,
        )
        at += length
        states.append(state)
        energies.append(energy)
    return np.stack(states[1:], axis=1), np.stack(energies[1:], axis=1)


@pytest.mark.parametrize("which", ["shared", "per_chain"])
def test_clamped_hebbian_sampling_matches_the_reference(which: str) -> None:
    net = hebbian()
    init = hf.random_patterns(CHAINS, N, seed=8)
    clamp = masks()[which]
    kw = {"temperature": 0.6, "n_samples": 4, "burn_in": 3, "thin": 2, "seed": 4}
    got = hf.sample(net, init=init, clamp=clamp, **kw)
    states, energies = reference_run(
        ref.glauber_hebbian, (net.patterns, 0.02), init, clamp, 4, 3, 4, 2, 0.6
    )
    np.testing.assert_array_equal(got.states, states)
    np.testing.assert_allclose(got.energy, energies, atol=1e-9)
    np.testing.assert_array_equal(got.final_states, states[:, -1])
    h = np.broadcast_to(clamp, (CHAINS, N))
    for k in range(4):
        np.testing.assert_array_equal(got.states[:, k][h], init[h])
    free = hf.sample(net, init=init, **kw)
    assert not np.array_equal(free.states, got.states)


def test_clamped_sampling_on_a_weight_matrix_matches_the_reference() -> None:
    rng = np.random.default_rng(8)
    j = rng.normal(0, 0.4, (30, 30))
    j = np.triu(j, 1) + np.triu(j, 1).T
    h = rng.normal(0, 0.2, 30)
    problem = hf.IsingProblem(j, h)
    init = hf.random_patterns(6, 30, seed=1)
    clamp = masks(30, 6, seed=2)["per_chain"]
    got = hf.sample(
        problem, temperature=0.7, n_samples=2, burn_in=3, thin=1, seed=5, init=init, clamp=clamp
    )
    states, energies = reference_run(ref.glauber_dense, (j, -h), init, clamp, 5, 3, 2, 1, 0.7)
    np.testing.assert_array_equal(got.states, states)
    np.testing.assert_allclose(got.energy, energies, atol=1e-9)


def test_one_init_for_every_chain_with_a_mask_per_chain() -> None:
    net = hebbian()
    cue = hf.random_patterns(1, N, seed=9)[0]
    clamp = masks(chains=4, seed=3)["per_chain"]
    got = hf.sample(net, temperature=0.5, n_samples=3, seed=2, init=cue, chains=4, clamp=clamp)
    whole = hf.sample(
        net, temperature=0.5, n_samples=3, seed=2, init=np.tile(cue, (4, 1)), clamp=clamp
    )
    np.testing.assert_array_equal(got.states, whole.states)
    for c in range(4):
        np.testing.assert_array_equal(got.states[c][:, clamp[c]], np.tile(cue[clamp[c]], (3, 1)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: hebbian(),
        lambda: _model(hf.HopfieldNetwork(N, rule="storkey")),
        lambda: _model(hf.HopfieldNetwork(N, dilution=0.5, seed=1)),
        lambda: _model(hf.DenseAssociativeMemory(N, degree=3)),
        lambda: _model(hf.DenseAssociativeMemory(N, interaction="exponential", beta=0.5)),
    ],
    ids=["hebbian", "storkey", "diluted", "dense", "exponential"],
)
def test_every_model_holds_the_clamp_whatever_the_threads(make) -> None:
    net = make()
    init = hf.random_patterns(9, N, seed=11)
    clamp = masks(chains=9, seed=5)["per_chain"]
    kw = {"temperature": 0.8, "n_samples": 3, "burn_in": 2, "seed": 7, "init": init}
    one = hf.sample(net, clamp=clamp, threads=1, **kw)
    two = hf.sample(net, clamp=clamp, threads=2, **kw)
    np.testing.assert_array_equal(one.states, two.states)
    for k in range(3):
        np.testing.assert_array_equal(one.states[:, k][clamp], init[clamp])
    assert (one.states[:, :, ~clamp[0]] != init[0, ~clamp[0]]).any()


def _model(net):
    net.store(hf.random_patterns(P, N, seed=6))
    return net


def test_samples_follow_the_conditional_boltzmann_distribution() -> None:
    """Chains with 2 of 8 neurons held sample ``P(s_free | s_held)``: the
    Boltzmann law over the 2^6 states that agree with the held values (the
    TV bound is derived in ``boltzmann_check``)."""
    from boltzmann_check import BURN_IN, empirical, tv_bound
    from boltzmann_check import CHAINS as MANY

    n, t = 8, 0.45
    theta = np.random.default_rng(3).normal(0.0, 0.3, n)
    net = hf.HopfieldNetwork(n, threshold=theta)
    net.store(hf.random_patterns(3, n, seed=21))
    clamp = np.zeros(n, dtype=bool)
    clamp[[1, 5]] = True
    cue = np.array([1, -1, 1, 1, -1, 1, -1, 1], dtype=np.int8)
    got = hf.sample(
        net, temperature=t, n_samples=1, burn_in=BURN_IN, chains=MANY, seed=5, init=cue, clamp=clamp
    )
    s = got.flat
    np.testing.assert_array_equal(s[:, clamp], np.tile(cue[clamp], (len(s), 1)))
    everything = ref.all_states(n)
    agree = (everything[:, clamp] == cue[clamp]).all(axis=1)
    exact = np.zeros(2**n)
    exact[agree] = ref.boltzmann_distribution(net.energy(everything[agree]), t)
    tv = ref.total_variation(empirical(s, n), exact)
    bound = tv_bound(2 ** (n - 2), MANY)
    assert tv < bound, f"TV {tv:.4f} >= bound {bound:.4f}"
    # The conditional law is not the unconditional one, so the check has teeth.
    whole = ref.boltzmann_distribution(net.energy(everything), t)
    assert ref.total_variation(whole, exact) > 3 * bound


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"clamp": np.ones(N, dtype=bool)}, ValueError, "clamp needs init"),
        ({"init": "cue", "clamp": np.ones(N, dtype=np.int8)}, TypeError, "clamp must be a boolean"),
        ({"init": "cue", "clamp": np.ones(N - 1, dtype=bool)}, ValueError, "clamp must have shape"),
        (
            {"init": "cue", "clamp": np.ones((CHAINS + 1, N), dtype=bool)},
            ValueError,
            r"clamp must have shape",
        ),
        (
            {"init": "one", "chains": 3, "clamp": np.ones((2, N), dtype=bool)},
            ValueError,
            r"clamp must have shape",
        ),
    ],
)
def test_bad_masks_are_refused(kw, error, match) -> None:
    net = hebbian()
    init = hf.random_patterns(CHAINS, N, seed=8)
    if kw.get("init") == "cue":
        kw = {**kw, "init": init}
    elif kw.get("init") == "one":
        kw = {**kw, "init": init[0]}
    with pytest.raises(error, match=match):
        hf.sample(net, temperature=1.0, n_samples=2, seed=0, **kw)


def test_the_users_init_and_mask_are_not_modified() -> None:
    net = hebbian()
    init = hf.random_patterns(CHAINS, N, seed=8)
    clamp = masks()["per_chain"]
    before = init.copy(), clamp.copy()
    hf.sample(net, temperature=1.0, n_samples=2, seed=0, init=init, clamp=clamp)
    np.testing.assert_array_equal(init, before[0])
    np.testing.assert_array_equal(clamp, before[1])
    all_false = hf.sample(
        net, temperature=1.0, n_samples=2, seed=0, init=init, clamp=np.zeros(N, dtype=bool)
    )
    free = hf.sample(net, temperature=1.0, n_samples=2, seed=0, init=init)
    np.testing.assert_array_equal(all_false.states, free.states)
