"""SpikingHopfieldNetwork: LIF rates, persistent activity, the reference, invariance."""

from __future__ import annotations

import pickle

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

LIF = {"tau": 20.0, "tau_syn": 5.0, "threshold": 1.0, "reset": 0.0, "refractory": 2.0}


def sparse_patterns(p: int, n: int, a: float, seed: int) -> np.ndarray:
    """``p`` 0/1 patterns with exactly ``a·n`` active neurons each."""
    rng = np.random.default_rng(seed)
    x = np.zeros((p, n), dtype=np.uint8)
    for row in x:
        row[rng.choice(n, int(a * n), replace=False)] = 1
    return x


def flip(x: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """``x`` with ``fraction`` of each row's neurons flipped (0 ↔ 1)."""
    rng = np.random.default_rng(seed)
    y = np.atleast_2d(x).copy()
    for row in y:
        idx = rng.choice(row.size, int(fraction * row.size), replace=False)
        row[idx] = 1 - row[idx]
    return y.reshape(x.shape)


@pytest.fixture(scope="module")
def memory() -> tuple[hf.SpikingHopfieldNetwork, np.ndarray]:
    x = sparse_patterns(5, 800, 0.1, seed=0)
    net = hf.SpikingHopfieldNetwork(800)
    net.store(x)
    return net, x


@pytest.mark.parametrize("current", [1.2, 1.5, 3.0, 8.0])
def test_single_neuron_fires_at_the_analytic_lif_rate(current: float) -> None:
    net = hf.SpikingHopfieldNetwork.from_weights(np.zeros((1, 1)), **LIF)
    run = net.simulate([1.0], duration=3000.0, cue_duration=3000.0, dt=0.01, cue_current=current)
    t = run.time
    measured = (len(t) - 1) / (t[-1] - t[0])
    analytic = ref.lif_rate(current, tau=20.0, threshold=1.0, refractory=2.0)
    assert len(t) > 20
    assert abs(measured / analytic - 1) < 0.01


def test_below_threshold_a_neuron_stays_silent() -> None:
    net = hf.SpikingHopfieldNetwork.from_weights(np.zeros((1, 1)), **LIF)
    run = net.simulate([1.0], duration=500.0, cue_duration=500.0, cue_current=0.99)
    assert run.time.size == 0


def test_a_cue_with_ten_percent_wrong_is_held_after_it_ends(memory) -> None:
    net, x = memory
    cues = np.stack([flip(x[k], 0.1, seed=10 + k) for k in range(3)])
    run = net.simulate(cues, duration=400.0, cue_duration=50.0, bin=10.0)
    after = run.times > 100.0  # from 50 time units after the cue ended
    for k in range(3):
        held = run.overlaps[k, after, k]
        others = np.delete(run.overlaps[k, after], k, axis=1)
        assert held.min() >= 0.9, held
        assert np.abs(others).max() < 0.3
    # Persistent: the pattern's neurons still fire at the end, the others do not.
    rates = run.rates(300.0, 400.0)
    for k in range(3):
        assert rates[k, x[k] == 1].mean() > 0.05
        assert rates[k, x[k] == 0].max() == 0.0


def test_without_a_cue_no_pattern_is_retrieved(memory) -> None:
    net, x = memory
    run = net.simulate(np.zeros(800), duration=300.0)
    assert run.time.size == 0
    assert (run.overlaps == 0).all()
    noisy = hf.SpikingHopfieldNetwork(800, noise=0.1, bias=0.5)
    noisy.store(x)
    run = noisy.simulate(np.zeros((2, 800)), duration=300.0, seed=3)
    assert run.time.size > 0  # the noise makes neurons fire now and then
    assert np.abs(run.overlaps).max() < 0.3


@pytest.mark.parametrize("noise", [0.0, 0.15])
def test_spike_times_equal_the_reference(noise: float) -> None:
    x = sparse_patterns(3, 60, 0.2, seed=1)
    params = {**LIF, "noise": noise, "bias": 0.3 if noise else 0.0}
    net = hf.SpikingHopfieldNetwork(60, strength=60.0, **params)
    net.store(x)
    cues = np.concatenate([flip(x, 0.1, seed=2), np.zeros((1, 60))])
    dt, steps = 0.1, 1500
    run = net.simulate(
        cues, duration=steps * dt, cue_duration=30.0, dt=dt, cue_current=1.5, bin=5.0, seed=7
    )
    uniforms = hf.acceptance_uniforms(60, steps, seed=7, count=len(cues)) if noise else None
    expected = ref.spiking_simulate(
        net.weights,
        cues,
        patterns=x,
        **params,
        dt=dt,
        steps=steps,
        cue_steps=300,
        bin_steps=50,
        cue_current=1.5,
        uniforms=uniforms,
    )
    assert run.time.size > 100
    np.testing.assert_array_equal(run.cue, expected.cue)
    np.testing.assert_array_equal(run.neuron, expected.neuron)
    np.testing.assert_array_equal(run.time, (expected.step + 1) * dt)
    np.testing.assert_allclose(run.overlaps, expected.overlaps, atol=1e-12)


def test_covariance_weights_equal_the_reference(memory) -> None:
    net, x = memory
    np.testing.assert_allclose(
        net.weights, ref.sparse_covariance_weights(x, 0.1, 50.0), rtol=1e-12, atol=1e-15
    )
    assert net.activity == pytest.approx(0.1)
    fixed = hf.SpikingHopfieldNetwork(800, activity=0.2, strength=10.0)
    fixed.store(x[:2])
    fixed.store(x[2:])
    np.testing.assert_allclose(
        fixed.weights, ref.sparse_covariance_weights(x, 0.2, 10.0), rtol=1e-12, atol=1e-15
    )


def test_results_do_not_depend_on_threads_or_batch_split() -> None:
    x = sparse_patterns(3, 200, 0.1, seed=4)
    cues = np.concatenate([flip(x, 0.1, seed=5), flip(x, 0.2, seed=6)])
    runs = []
    for threads in (1, 3):
        net = hf.SpikingHopfieldNetwork(200, noise=0.1, bias=0.4, threads=threads)
        net.store(x)
        runs.append(net.simulate(cues, duration=100.0, seed=11))
    a, b = runs
    for field in ("cue", "neuron", "time", "overlaps"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.time.size > 0
    # A cue's spikes depend on its index in the batch (its stream), not on the batch:
    # the first rows of a batch are the same run as the batch of those rows.
    part = net.simulate(cues[:2], duration=100.0, seed=11)
    keep = a.cue < 2
    np.testing.assert_array_equal(part.time, a.time[keep])
    np.testing.assert_array_equal(part.neuron, a.neuron[keep])
    np.testing.assert_array_equal(part.overlaps, a.overlaps[:2])
    other = net.simulate(cues[:2], duration=100.0, seed=12)
    assert not np.array_equal(other.time, part.time)


def test_one_cue_drops_the_batch_axis(memory) -> None:
    net, x = memory
    run = net.simulate(x[1], duration=100.0)
    assert run.overlaps.shape == (10, 5)
    assert run.num_cues == 1 and (run.cue == 0).all()
    np.testing.assert_allclose(run.times, np.arange(1, 11) * 10.0)
    t, neuron = run.raster()
    assert t.shape == neuron.shape == run.time.shape


def test_readout_and_from_weights(memory) -> None:
    net, x = memory
    other = hf.SpikingHopfieldNetwork.from_weights(net.weights)
    assert other.num_patterns == 0 and other.patterns.shape == (0, 800)
    a = net.simulate(x[2], duration=150.0)
    b = other.simulate(x[2], duration=150.0, readout=x)
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.overlaps, b.overlaps)
    assert other.simulate(x[2], duration=150.0).overlaps.shape == (15, 0)
    with pytest.raises(ValueError, match="from_weights"):
        other.store(x)


def test_save_load_and_pickle(tmp_path, memory) -> None:
    net, x = memory
    cue = flip(x[0], 0.1, seed=1)
    for copy in (
        pickle.loads(pickle.dumps(net)),
        hf.SpikingHopfieldNetwork.from_weights(net.weights),
    ):
        path = tmp_path / "net.hopfield"
        copy.save(path)
        back = hf.load(path)
        assert type(back) is hf.SpikingHopfieldNetwork
        np.testing.assert_array_equal(back.weights, net.weights)
        a = back.simulate(cue, duration=100.0, readout=x)
        b = net.simulate(cue, duration=100.0)
        np.testing.assert_array_equal(a.time, b.time)
    back = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(back.patterns, x)
    assert back.strength == net.strength and back.tau == net.tau
    noisy = hf.SpikingHopfieldNetwork(5, noise=0.2, refractory=1.0, bias=0.1, threads=2)
    back = pickle.loads(pickle.dumps(noisy))
    assert (back.noise, back.refractory, back.bias, back.threads) == (0.2, 1.0, 0.1, 2)


def test_bad_input_is_refused_clearly(memory) -> None:
    net, x = memory
    with pytest.raises(ValueError, match="tau must be"):
        hf.SpikingHopfieldNetwork(10, tau=-1.0)
    with pytest.raises(ValueError, match="tau_syn must be"):
        hf.SpikingHopfieldNetwork(10, tau_syn=0.0)
    with pytest.raises(ValueError, match="refractory must be"):
        hf.SpikingHopfieldNetwork(10, refractory=-2.0)
    with pytest.raises(ValueError, match="noise must be"):
        hf.SpikingHopfieldNetwork(10, noise=float("nan"))
    with pytest.raises(ValueError, match="reset must be below"):
        hf.SpikingHopfieldNetwork(10, reset=1.0)
    with pytest.raises(TypeError, match="threshold must be a real"):
        hf.SpikingHopfieldNetwork(10, threshold="high")
    with pytest.raises(ValueError, match="activity must be in"):
        hf.SpikingHopfieldNetwork(10, activity=1.0)
    with pytest.raises(ValueError, match="0/1"):
        hf.SpikingHopfieldNetwork(10).store(np.where(np.eye(10) > 0, 1, -1))
    with pytest.raises(ValueError, match="activity must be in"):
        hf.SpikingHopfieldNetwork(10).store(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="patterns must have"):
        hf.SpikingHopfieldNetwork(10).store(np.zeros((2, 11)))
    with pytest.raises(ValueError, match="weights must be finite"):
        hf.SpikingHopfieldNetwork.from_weights(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="square"):
        hf.SpikingHopfieldNetwork.from_weights(np.zeros((3, 4)))
    cue = x[0].astype(float)
    with pytest.raises(ValueError, match="dt must be at most"):
        net.simulate(cue, dt=0.6)
    with pytest.raises(ValueError, match="dt must be"):
        net.simulate(cue, dt=-0.1)
    with pytest.raises(ValueError, match="cues must be finite"):
        net.simulate(np.where(np.arange(800) == 3, np.nan, cue))
    with pytest.raises(ValueError, match="cues must have"):
        net.simulate(np.zeros((2, 799)))
    with pytest.raises(ValueError, match="cue_duration must be at most"):
        net.simulate(cue, duration=10.0, cue_duration=20.0)
    with pytest.raises(ValueError, match="duration must be"):
        net.simulate(cue, duration=0.0)
    with pytest.raises(ValueError, match="bin must be"):
        net.simulate(cue, bin=-1.0)
    with pytest.raises(ValueError, match="cue_current must be"):
        net.simulate(cue, cue_current=float("inf"))
    with pytest.raises(ValueError, match="seed must be"):
        net.simulate(cue, seed=-1)
    with pytest.raises(ValueError, match="readout must have"):
        net.simulate(cue, readout=np.zeros((2, 5)))
    before = cue.copy()
    net.simulate(cue, duration=20.0, cue_duration=10.0)
    np.testing.assert_array_equal(cue, before)
