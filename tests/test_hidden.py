"""The hidden-neuron memory (Krotov & Hopfield 2021) against its NumPy
reference and its limits: the modern Hopfield network and the dense memory."""

from __future__ import annotations

import pickle

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

CASES = [
    ({"lagrangian": "lse", "beta": 2.0, "feature": "identity"}, {}),
    ({"lagrangian": "rectified", "degree": 3, "feature": "tanh", "gain": 0.5}, {}),
    ({"lagrangian": "power", "degree": 2, "feature": "layernorm", "gamma": 2.0, "eps": 1e-3}, {}),
    ({"lagrangian": "lse", "beta": 0.5, "feature": "layernorm"}, {}),
]


def _ref_kw(mem: hf.HiddenNeuronMemory, kw: dict) -> dict:
    out = {"feature": mem.feature, "hidden": mem.lagrangian, "degree": mem.degree}
    out.update({k: v for k, v in kw.items() if k in ("beta", "gain", "gamma", "eps")})
    return out


@pytest.mark.parametrize(("kw", "_"), CASES)
def test_matches_the_reference(kw: dict, _: dict) -> None:
    n, p = 24, 6
    x = np.random.default_rng(1).standard_normal((p, n)) / np.sqrt(n)
    mem = hf.HiddenNeuronMemory(n, tau_f=1.0, tau_h=0.5, **kw)
    mem.store(x)
    q = x[:4] + 0.05 * np.random.default_rng(2).standard_normal((4, n))
    res = mem.retrieve(q, dt=0.05, t_max=30.0, tol=1e-7, record=10)
    rk = _ref_kw(mem, kw)
    g, _l = ref.hidden_features(
        q, mem.feature, **{k: v for k, v in kw.items() if k in ("gain", "gamma", "eps")}
    )
    s0 = np.concatenate([q, g @ x.T], axis=1)
    s, steps, conv = ref.hidden_integrate(
        s0, x, tau_f=1.0, tau_h=0.5, dt=0.05, max_steps=600, tol=1e-7, **rk
    )
    np.testing.assert_array_equal(res.steps, steps)
    np.testing.assert_array_equal(res.converged, conv)
    np.testing.assert_allclose(res.features, s[:, :n], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.hidden, s[:, n:], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.energy, ref.hidden_energy(s, x, **rk), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(res.energy_trace[:, 0], ref.hidden_energy(s0, x, **rk), rtol=1e-9)
    np.testing.assert_allclose(mem.energy(q), ref.hidden_energy(s0, x, **rk), rtol=1e-9)


@pytest.mark.parametrize(("kw", "_"), CASES)
def test_the_energy_never_increases(kw: dict, _: dict) -> None:
    n, p = 32, 8
    x = np.sign(np.random.default_rng(3).standard_normal((p, n))) / np.sqrt(n)
    mem = hf.HiddenNeuronMemory(n, tau_f=1.0, tau_h=0.2, **kw)
    mem.store(x)
    q = np.random.default_rng(4).standard_normal((10, n))
    h0 = np.random.default_rng(5).standard_normal((10, p))  # hidden neurons out of rest too
    res = mem.retrieve(q, hidden=h0, dt=0.005, t_max=5.0, tol=1e-10, record=1)
    for row, steps in zip(res.energy_trace, res.steps, strict=True):
        e = row[: steps + 1]
        assert np.all(np.diff(e) <= 1e-10 * (1 + np.abs(e[:-1]))), np.diff(e).max()
        assert e[-1] < e[0]


def test_log_sum_exp_fixed_points_are_the_modern_networks() -> None:
    d, p, beta = 40, 30, 4.0
    x = np.random.default_rng(6).standard_normal((p, d)) / np.sqrt(d) * 1.5
    queries = x[:10] + 0.3 * np.random.default_rng(7).standard_normal((10, d)) / np.sqrt(d)
    # a metastable regime too: a small beta averages patterns
    for b in (beta, 0.3):
        modern = hf.ModernHopfield(beta=b)
        modern.store(x.astype(np.float32))
        want = modern.retrieve(queries.astype(np.float32), tol=1e-7, max_steps=1000)
        assert want.converged.all()
        mem = hf.HiddenNeuronMemory(d, lagrangian="lse", beta=b, tau_f=1.0, tau_h=0.1)
        mem.store(x)
        got = mem.retrieve(queries, dt=0.05, t_max=400.0, tol=1e-9)
        assert got.converged.all()
        np.testing.assert_allclose(got.features, want.states, atol=2e-5)
        np.testing.assert_allclose(got.hidden, got.features @ x.T, atol=1e-8)


def test_power_fixed_points_are_the_dense_memorys_retrieval() -> None:
    n, p, degree = 64, 40, 3
    xi = hf.random_patterns(p, n, seed=8)
    cues = hf.corrupt(xi[:20], flip=0.2, seed=9)
    dense = hf.DenseAssociativeMemory(n, degree=degree, rectified=True)
    dense.store(xi)
    want = dense.retrieve(cues, update="sync").states
    mem = hf.HiddenNeuronMemory(n, lagrangian="rectified", degree=degree, feature="tanh")
    mem.store(xi)
    got = mem.retrieve(cues.astype(np.float64), dt=0.05, t_max=200.0, tol=1e-8)
    assert got.converged.all()
    np.testing.assert_array_equal(got.signs, want)
    np.testing.assert_array_equal(got.signs, xi[:20])  # and those are the stored patterns


def test_results_do_not_depend_on_threads_or_batch_split() -> None:
    n, p = 50, 9
    x = np.random.default_rng(10).standard_normal((p, n))
    q = np.random.default_rng(11).standard_normal((130, n))
    out = []
    for threads in (1, 2, 3):
        mem = hf.HiddenNeuronMemory(n, beta=0.5, threads=threads)
        mem.store(x)
        out.append(mem.retrieve(q, dt=0.02, t_max=5.0))
    for other in out[1:]:
        np.testing.assert_array_equal(other.features, out[0].features)
        np.testing.assert_array_equal(other.hidden, out[0].hidden)
        np.testing.assert_array_equal(other.steps, out[0].steps)
    for r in (0, 64, 129):
        one = out[0]
        mem = hf.HiddenNeuronMemory(n, beta=0.5)
        mem.store(x)
        single = mem.retrieve(q[r], dt=0.02, t_max=5.0)
        np.testing.assert_array_equal(single.features, one.features[r])


def test_trajectory_and_persistence(tmp_path) -> None:
    n = 16
    mem = hf.HiddenNeuronMemory(n, lagrangian="rectified", degree=4, feature="tanh", gain=2.0)
    mem.store(hf.random_patterns(3, n, seed=12) / n)
    q = hf.random_patterns(2, n, seed=13).astype(float)
    res = mem.retrieve(q, dt=0.01, t_max=1.0, tol=0.0, record=25, trajectory=True)
    assert res.trajectory.shape == (2, 5, n + 3)
    np.testing.assert_array_equal(res.trajectory[:, 0, :n], q)
    np.testing.assert_array_equal(res.trajectory[:, -1, n:], res.hidden)
    path = tmp_path / "hidden.hopfield"
    mem.save(path)
    for copy in (hf.load(path), pickle.loads(pickle.dumps(mem))):
        assert type(copy) is hf.HiddenNeuronMemory
        assert (copy.lagrangian, copy.degree, copy.feature) == ("rectified", 4, "tanh")
        again = copy.retrieve(q, dt=0.01, t_max=1.0, tol=0.0)
        np.testing.assert_array_equal(again.features, res.features)


def test_bad_input_is_refused_and_nothing_is_modified() -> None:
    n = 8
    mem = hf.HiddenNeuronMemory(n)
    with pytest.raises(ValueError, match="no patterns stored"):
        mem.retrieve(np.zeros(n))
    x = np.random.default_rng(14).standard_normal((3, n))
    before = x.copy()
    mem.store(x)
    x[0, 0] = 100.0  # the memory keeps its own copy
    np.testing.assert_array_equal(mem.patterns, before)
    q = np.ones((2, n))
    mem.retrieve(q)
    np.testing.assert_array_equal(q, np.ones((2, n)))
    bad = q.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="queries must be finite; found inf at row 1, column 2"):
        mem.retrieve(bad)
    with pytest.raises(ValueError, match="patterns must have n = 8 columns"):
        mem.store(np.zeros((2, 7)))
    with pytest.raises(ValueError, match="patterns must be finite"):
        mem.store(np.full((1, n), np.nan))
    with pytest.raises(ValueError, match="hidden must have P = 3 columns"):
        mem.retrieve(q, hidden=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"dt must be at most min\(tau_f, tau_h\)"):
        mem.retrieve(q, dt=0.5)
    with pytest.raises(ValueError, match="trajectory=True needs record"):
        mem.retrieve(q, trajectory=True)
    for kw, match in (
        ({"tau_f": -1.0}, "tau_f must be a finite number > 0"),
        ({"tau_h": 0.0}, "tau_h must be a finite number > 0"),
        ({"beta": np.nan}, "beta must be a finite number > 0"),
        ({"lagrangian": "power", "degree": 3}, "needs an even degree"),
        ({"lagrangian": "softmax"}, "lagrangian must be one of"),
        ({"feature": "relu"}, "feature must be one of"),
    ):
        with pytest.raises(ValueError, match=match):
            hf.HiddenNeuronMemory(n, **kw)
    with pytest.raises(ValueError, match="degree must be"):
        hf.HiddenNeuronMemory(n, degree=1)
