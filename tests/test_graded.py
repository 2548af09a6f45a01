"""The graded-response network (Hopfield 1984) against its NumPy reference
and the known results: energy descent, the high-gain limit, the critical gain."""

from __future__ import annotations

import pickle

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref


def _potentials(b: int, n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal((b, n))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("rule", ["hebbian", "storkey"])
def test_matches_the_reference(rule: str, activation: str) -> None:
    n, p = 48, 4
    x = hf.random_patterns(p, n, seed=3)
    theta = np.linspace(-0.1, 0.1, n)
    net = hf.GradedHopfieldNetwork(
        n, gain=3.0, tau=2.0, rule=rule, threshold=theta, activation=activation
    )
    net.store(x)
    u0 = _potentials(7, n, 4)
    res = net.retrieve(u0, dt=0.2, t_max=60.0, tol=1e-7, record=5)
    kw = {"W": None, "X": None, "I": -theta, "activation": activation}
    if rule == "hebbian":
        kw["X"] = x
    else:
        kw["W"] = net.weights
    u, steps, converged = ref.graded_integrate(
        u0, 3.0, tau=2.0, dt=0.2, max_steps=300, tol=1e-7, **kw
    )
    np.testing.assert_array_equal(res.steps, steps)
    np.testing.assert_array_equal(res.converged, converged)
    np.testing.assert_allclose(res.potentials, u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.energy, ref.graded_energy(u, 3.0, **kw), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(net.energy(u0), ref.graded_energy(u0, 3.0, **kw), rtol=1e-12)
    np.testing.assert_allclose(res.outputs, ref.graded_output(res.potentials, 3.0, activation))
    assert res.energy_trace is not None and res.times is not None
    np.testing.assert_allclose(res.energy_trace[:, 0], ref.graded_energy(u0, 3.0, **kw))
    np.testing.assert_allclose(res.times[:3], [0.0, 1.0, 2.0])


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("rule", ["hebbian", "pseudoinverse"])
def test_the_energy_never_increases(rule: str, activation: str) -> None:
    n = 64
    net = hf.GradedHopfieldNetwork(n, gain=4.0, rule=rule, activation=activation)
    net.store(hf.random_patterns(6, n, seed=5))
    res = net.retrieve(_potentials(16, n, 6, 0.5), dt=0.02, t_max=20.0, tol=1e-9, record=1)
    trace = res.energy_trace
    assert trace is not None
    for row, steps in zip(trace, res.steps, strict=True):
        e = row[: steps + 1]
        assert np.all(np.isfinite(e)) and np.all(np.isnan(row[steps + 1 :]))
        assert np.all(np.diff(e) <= 1e-12 * (1 + np.abs(e[:-1]))), np.diff(e).max()
        assert e[-1] < e[0]


def test_at_high_gain_the_signs_are_binary_fixed_points() -> None:
    n, p = 100, 5
    x = hf.random_patterns(p, n, seed=7)
    net = hf.GradedHopfieldNetwork(n, gain=200.0)
    net.store(x)
    starts = hf.random_patterns(40, n, seed=8).astype(np.float64)
    res = net.retrieve(starts, dt=0.05, t_max=400.0, tol=1e-10)
    assert res.converged.all()
    binary = hf.HopfieldNetwork(n)
    binary.store(x)
    fields = res.signs @ binary.weights.T
    assert np.all(fields * res.signs > 0)  # every neuron agrees with its field: a fixed point
    # and the binary network's own retrieval leaves them where they are
    np.testing.assert_array_equal(binary.retrieve(res.signs, update="sync").states, res.signs)


def test_below_the_critical_gain_every_state_decays_to_the_origin() -> None:
    n = 80
    x = hf.random_patterns(8, n, seed=9)
    net = hf.GradedHopfieldNetwork(n)
    net.store(x)
    lam = np.linalg.eigvalsh(net.weights).max()
    assert net.critical_gain() == pytest.approx(1 / lam)
    u0 = _potentials(20, n, 10, 2.0)
    net.gain = 0.9 * net.critical_gain()
    below = net.retrieve(u0, dt=0.5, t_max=2000.0, tol=1e-9)
    assert np.abs(below.potentials).max() < 1e-6
    net.gain = 2.0 * net.critical_gain()
    above = net.retrieve(u0, dt=0.5, t_max=2000.0, tol=1e-9)
    assert np.abs(above.potentials).max(axis=1).min() > 0.1


def test_a_corrupted_pattern_is_retrieved() -> None:
    n = 200
    x = hf.random_patterns(10, n, seed=11)
    net = hf.GradedHopfieldNetwork(n, gain=10.0)
    net.store(x)
    res = net.retrieve(hf.corrupt(x, flip=0.15, seed=12))
    np.testing.assert_array_equal(res.signs, x)
    one = net.retrieve(x[0])
    assert one.signs.shape == (n,) and isinstance(one.steps, int)


def test_results_do_not_depend_on_threads_or_batch_split() -> None:
    n = 96
    x = hf.random_patterns(7, n, seed=13)
    u0 = _potentials(150, n, 14)
    out = []
    for threads in (1, 2, 3):
        net = hf.GradedHopfieldNetwork(n, gain=5.0, threads=threads)
        net.store(x)
        out.append(net.retrieve(u0, dt=0.1, t_max=30.0, tol=1e-6, record=7))
    for other in out[1:]:
        np.testing.assert_array_equal(other.potentials, out[0].potentials)
        np.testing.assert_array_equal(other.steps, out[0].steps)
        np.testing.assert_array_equal(other.energy_trace, out[0].energy_trace)
    net = hf.GradedHopfieldNetwork(n, gain=5.0)
    net.store(x)
    for r in (0, 63, 64, 149):
        one = net.retrieve(u0[r], dt=0.1, t_max=30.0, tol=1e-6)
        np.testing.assert_array_equal(one.potentials, out[0].potentials[r])


def test_trajectory_is_recorded() -> None:
    n = 30
    net = hf.GradedHopfieldNetwork(n, gain=2.0)
    net.store(hf.random_patterns(2, n, seed=15))
    u0 = _potentials(3, n, 16)
    res = net.retrieve(u0, dt=0.1, t_max=5.0, tol=0.0, record=10, trajectory=True)
    assert res.trajectory is not None and res.trajectory.shape == (3, 6, n)
    np.testing.assert_array_equal(res.trajectory[:, 0], u0)
    np.testing.assert_array_equal(res.trajectory[:, -1], res.potentials)
    np.testing.assert_allclose(res.energy_trace[:, -1], res.energy)


def test_from_weights_and_persistence(tmp_path) -> None:
    rng = np.random.default_rng(17)
    a = rng.standard_normal((20, 20))
    w = (a + a.T) / 10
    np.fill_diagonal(w, 0)
    net = hf.GradedHopfieldNetwork.from_weights(w, gain=3.0, threshold=0.05)
    u0 = _potentials(5, 20, 18)
    res = net.retrieve(u0, dt=0.1, tol=1e-8)
    u, _, _ = ref.graded_integrate(u0, 3.0, W=w, I=-0.05, dt=0.1, max_steps=1000, tol=1e-8)
    np.testing.assert_allclose(res.potentials, u, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="from_weights"):
        net.store(np.ones((1, 20)))
    hebb = hf.GradedHopfieldNetwork(20, gain=7.0, tau=0.5, activation="sigmoid")
    hebb.store(hf.random_patterns(3, 20, seed=19))
    for model in (net, hebb):
        want = model.retrieve(u0, dt=0.05, t_max=10.0)
        for copy in (pickle.loads(pickle.dumps(model)), _saved(model, tmp_path)):
            assert type(copy) is hf.GradedHopfieldNetwork
            assert (copy.gain, copy.tau, copy.activation) == (
                model.gain,
                model.tau,
                model.activation,
            )
            got = copy.retrieve(u0, dt=0.05, t_max=10.0)
            np.testing.assert_array_equal(got.potentials, want.potentials)


def _saved(model: hf.GradedHopfieldNetwork, tmp_path) -> hf.GradedHopfieldNetwork:
    path = tmp_path / "graded.hopfield"
    model.save(path)
    return hf.load(path)


def test_bad_input_is_refused_and_nothing_is_modified() -> None:
    n = 10
    net = hf.GradedHopfieldNetwork(n)
    net.store(hf.random_patterns(2, n, seed=20))
    u0 = _potentials(2, n, 21)
    before = u0.copy()
    net.retrieve(u0)
    np.testing.assert_array_equal(u0, before)
    bad = u0.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"queries must be finite; found nan at row 1, column 3"):
        net.retrieve(bad)
    with pytest.raises(ValueError, match="queries must have n = 10 columns"):
        net.retrieve(np.zeros((2, 9)))
    with pytest.raises(TypeError, match="queries must be an array of real numbers"):
        net.retrieve(np.array(["a"] * n))
    with pytest.raises(ValueError, match="dt must be at most tau"):
        net.retrieve(u0, dt=1.5)
    for name, value in (("dt", 0.0), ("dt", np.nan), ("t_max", -1.0)):
        with pytest.raises(ValueError, match=f"{name} must be a finite number > 0"):
            net.retrieve(u0, **{name: value})
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        net.retrieve(u0, tol=-1.0)
    with pytest.raises(ValueError, match="record must be at least 1"):
        net.retrieve(u0, record=0)
    with pytest.raises(ValueError, match="trajectory=True needs record"):
        net.retrieve(u0, trajectory=True)
    for kw, match in (
        ({"tau": -1.0}, "tau must be a finite number > 0"),
        ({"gain": 0.0}, "gain must be a finite number > 0"),
        ({"gain": np.inf}, "gain must be a finite number > 0"),
        ({"activation": "relu"}, "activation must be one of"),
        ({"rule": "nope"}, "rule must be one of"),
    ):
        with pytest.raises(ValueError, match=match):
            hf.GradedHopfieldNetwork(n, **kw)
    with pytest.raises(TypeError, match="gain must be a real number"):
        hf.GradedHopfieldNetwork(n, gain="1")
    with pytest.raises(ValueError, match="gain must be a finite number > 0"):
        net.gain = -2.0
    with pytest.raises(ValueError, match="weights must be a real square"):
        hf.GradedHopfieldNetwork.from_weights(np.zeros((3, 4)))
    w = np.zeros((3, 3))
    w[0, 1] = np.inf
    with pytest.raises(ValueError, match="weights must be finite"):
        hf.GradedHopfieldNetwork.from_weights(w)
    with pytest.raises(ValueError, match="potentials must be finite"):
        net.energy(np.full(n, np.nan))
