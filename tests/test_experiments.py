"""hopfield.experiments: the science checks of the issue and the mechanics."""

from __future__ import annotations

import json
import sys
import warnings

import hopfield as hf
import numpy as np
import pytest
from hopfield import experiments as ex
from hopfield import reference

# ---------------------------------------------------------------------------
# science


def test_hebbian_capacity_curve_at_n_1000() -> None:
    loads = np.round(np.arange(0.10, 0.205, 0.01), 2)
    r = ex.capacity_curve("hebbian", 1000, loads, trials=2, seed=0)
    table = "\n".join(f"{a:.2f} {m:.4f}" for a, m in zip(r.loads, r.mean_overlap, strict=True))
    assert np.allclose(r.loads, loads), table
    assert r.mean_overlap[0] >= 0.99, table
    first_below = r.loads[np.argmax(r.mean_overlap < 0.9)]
    assert np.any(r.mean_overlap < 0.9), table
    assert 0.13 <= first_below <= 0.17, table
    assert r.mean_overlap[-1] < 0.5, table
    # From itself, async retrieval ends on the pattern exactly when it is a fixed
    # point (every flip strictly lowers the energy, so it can never come back).
    assert np.array_equal(r.exact_fraction, r.fixed_fraction)
    assert np.all(np.diff(r.fixed_fraction) <= 0.05)


def test_symmetric_three_mixtures_are_fixed_points_at_low_load() -> None:
    patterns = hf.random_patterns(5, 1000, seed=3)
    net = hf.HopfieldNetwork(1000)
    net.store(patterns)
    mixes = np.array(
        [np.sign(patterns[a] + patterns[b] + patterns[c]) for a, b, c in [(0, 1, 2), (1, 3, 4)]],
        dtype=np.int8,
    )
    res = net.retrieve(mixes, max_sweeps=1, seed=0)
    assert np.array_equal(res.states, mixes)
    assert bool(np.all(reference.is_fixed_point(patterns, mixes)))
    # Their overlaps with the three components are +-1/2 (exactly 0.5 in expectation).
    m = net.overlaps(mixes)[0, :3]
    assert np.all(np.abs(m - 0.5) < 0.1)


def test_census_at_low_load_finds_stored_and_mixtures() -> None:
    patterns = hf.random_patterns(5, 400, seed=4)
    net = hf.HopfieldNetwork(400)
    net.store(patterns)
    c = ex.spurious_census(net, 2000, seed=1)
    assert c.counts["stored"] == 5 and c.counts["reversed"] == 5
    assert c.counts["mixture"] > 0
    assert sum(c.counts.values()) == len(c.visits) == len(c.states)
    assert int(c.visits.sum()) == c.converged <= c.n_starts
    assert np.all(np.diff(c.visits) <= 0)
    for state, cat, comp in zip(c.states, c.category, c.components, strict=True):
        if cat == "stored":
            ((mu, sign),) = comp
            assert sign == 1 and np.array_equal(state, patterns[mu])
        elif cat == "reversed":
            ((mu, sign),) = comp
            assert sign == -1 and np.array_equal(state, -patterns[mu])
        elif cat == "mixture":
            assert len(comp) >= 3 and len(comp) % 2 == 1
            total = sum(s * patterns[mu].astype(np.int64) for mu, s in comp)
            assert np.array_equal(state, np.where(total > 0, 1, -1))
        # every state counted is a fixed point
    assert bool(np.all(reference.is_fixed_point(patterns, c.states)))
    three = c.examples("mixture", 2)
    assert three.shape[1] == 400 and len(three) >= 1


def test_census_accepts_a_class_as_factory() -> None:
    patterns = hf.random_patterns(3, 64, seed=9)
    c = ex.spurious_census(hf.HopfieldNetwork, 50, patterns=patterns, seed=0)
    assert c.num_patterns == 3 and c.converged == 50


def test_census_at_high_load_finds_non_stored_attractors() -> None:
    patterns = hf.random_patterns(40, 200, seed=5)  # alpha = 0.2
    c = ex.spurious_census("hebbian", 500, patterns=patterns, seed=2)
    non_stored = c.counts["other"] + c.counts["mixture"] + c.counts["near-stored"]
    assert non_stored > 0
    assert c.counts["stored"] == 0  # above capacity no pattern is an attractor here
    json.dumps(c.as_dict())


def test_basins_shrink_with_load_and_follow_the_definition() -> None:
    small = ex.basin_size("hebbian", hf.random_patterns(5, 200, seed=6), trials=10, seed=0)
    large = ex.basin_size("hebbian", hf.random_patterns(25, 200, seed=6), trials=10, seed=0)
    assert small.success_rate.shape == (5, 26)
    assert np.nanmean(small.basin) > np.nanmean(large.basin)
    assert np.all(small.basin >= 0.3)
    for res in (small, large):
        for rate, b in zip(res.success_rate, res.basin, strict=True):
            ok = rate >= res.success
            if not ok[0]:
                assert np.isnan(b)
                continue
            k = len(ok) if ok.all() else int(np.argmin(ok))
            assert b == res.flip_levels[k - 1]


def test_basin_is_nan_for_patterns_that_are_not_fixed_points() -> None:
    patterns = hf.random_patterns(30, 100, seed=7)  # alpha = 0.3: many unstable
    res = ex.basin_size("hebbian", patterns, trials=2, flip_levels=[0.0, 0.1], seed=1)
    fixed = reference.is_fixed_point(patterns, patterns)
    assert not fixed.all()
    assert np.array_equal(np.isnan(res.basin), ~fixed)


def test_noise_robustness() -> None:
    patterns = hf.random_patterns(10, 300, seed=8)
    r = ex.noise_robustness("hebbian", patterns, [0.0, 0.1, 0.2, 0.45, 1.0], trials=5, seed=0)
    assert r.mean_overlap[0] == 1.0 and r.exact_fraction[0] == 1.0
    assert r.mean_overlap[1] > 0.99
    assert r.mean_overlap[3] < r.mean_overlap[1]
    # Flipping every spin gives the reversed pattern, itself a fixed point.
    assert r.mean_overlap[4] == -1.0 and r.recalled_fraction[4] == 0.0
    assert json.loads(json.dumps(r.as_dict()))["noise_levels"][1] == 0.1


# ---------------------------------------------------------------------------
# mechanics


class Recording(hf.HopfieldNetwork):
    """A model built by a factory, recording what it was asked to store."""

    stored: list[np.ndarray] = []

    def store(self, patterns):  # type: ignore[no-untyped-def]
        Recording.stored.append(np.array(patterns))
        super().store(patterns)


def test_callable_model_and_fixed_fraction_against_reference() -> None:
    Recording.stored = []
    r = ex.capacity_curve(Recording, 120, [0.1, 0.2], trials=2, seed=9)
    assert r.model == "Recording"
    assert len(Recording.stored) == 4
    expected = [
        np.concatenate([reference.is_fixed_point(p, p) for p in Recording.stored[i : i + 2]]).mean()
        for i in (0, 2)
    ]
    assert np.allclose(r.fixed_fraction, expected)
    assert list(r.num_patterns) == [12, 24]


class Recorder(hf.HopfieldNetwork):
    """Records every store and full retrieval (queries, seed, result)."""

    log: list[tuple[np.ndarray, np.ndarray, int, hf.Retrieval]] = []

    def store(self, patterns):  # type: ignore[no-untyped-def]
        self._stored = np.array(patterns)
        super().store(patterns)

    def retrieve(self, queries, **kw):  # type: ignore[no-untyped-def]
        res = super().retrieve(queries, **kw)
        if kw["max_sweeps"] > 1:
            Recorder.log.append((self._stored, np.array(queries), kw["seed"], res))
        return res


@pytest.mark.parametrize("noise", [0.0, 0.15])
def test_capacity_curve_equals_the_numpy_reference(noise: float) -> None:
    Recorder.log = []
    n, loads, trials = 150, [0.05, 0.12, 0.2], 2
    r = ex.capacity_curve(Recorder, n, loads, noise=noise, trials=trials, seed=11)
    assert len(Recorder.log) == len(loads) * trials
    for i in range(len(loads)):
        points = []
        for patterns, queries, seed, res in Recorder.log[i * trials : (i + 1) * trials]:
            sweeps = int(res.sweeps.max())
            orders = hf.sweep_orders(n, sweeps, seed=seed, count=len(queries))
            points.append(reference.capacity_point(patterns, queries, orders, max_sweeps=sweeps))
            if noise == 0:
                assert np.array_equal(queries, patterns)
            else:
                assert np.all((queries != patterns).sum(axis=1) == round(noise * n))
        assert r.mean_overlap[i] == pytest.approx(np.mean([p.mean_overlap for p in points]))
        assert r.exact_fraction[i] == pytest.approx(np.mean([p.exact_fraction for p in points]))
        assert r.fixed_fraction[i] == pytest.approx(np.mean([p.fixed_fraction for p in points]))


def test_results_are_reproducible_and_depend_on_seed() -> None:
    a = ex.capacity_curve("hebbian", 200, [0.1, 0.15, 0.2], noise=0.1, trials=2, seed=1)
    b = ex.capacity_curve("hebbian", 200, [0.1, 0.15, 0.2], noise=0.1, trials=2, seed=1)
    c = ex.capacity_curve("hebbian", 200, [0.1, 0.15, 0.2], noise=0.1, trials=2, seed=2)
    for f in ("mean_overlap", "exact_fraction", "fixed_fraction"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.mean_overlap, c.mean_overlap)


def test_registry() -> None:
    assert "hebbian" in ex.MODELS
    calls = []

    def factory(n: int) -> hf.HopfieldNetwork:
        calls.append(n)
        return hf.HopfieldNetwork(n)

    ex.register_model("test-kind", factory)
    try:
        ex.capacity_curve("test-kind", 64, [0.1], seed=0)
        assert calls == [64]
    finally:
        del ex.MODELS["test-kind"]
    with pytest.raises(TypeError, match="factory must be callable"):
        ex.register_model("x", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ex.capacity_curve("nope", 10, [0.1]), ValueError, "model must be one of"),
        (lambda: ex.capacity_curve(3, 10, [0.1]), TypeError, "model must be a kind name"),
        (
            lambda: ex.capacity_curve(lambda n: hf.HopfieldNetwork(n + 1), 10, [0.1]),
            ValueError,
            "expected 10",
        ),
        (lambda: ex.capacity_curve(lambda n: object(), 10, [0.1]), TypeError, "without store"),
        (lambda: ex.capacity_curve("hebbian", 10, [-0.1]), ValueError, "loads must"),
        (lambda: ex.capacity_curve("hebbian", 10, []), ValueError, "loads must"),
        (lambda: ex.capacity_curve("hebbian", 10, [0.1], noise=2.0), ValueError, "noise"),
        (lambda: ex.capacity_curve("hebbian", 0, [0.1]), ValueError, "n must"),
        (lambda: ex.capacity_curve("hebbian", 10, [0.1], trials=0), ValueError, "trials"),
        (
            lambda: ex.noise_robustness("hebbian", np.ones((2, 4)), [1.5]),
            ValueError,
            "noise_levels",
        ),
        (lambda: ex.noise_robustness("hebbian", [[0.5, 1]], [0.1]), ValueError, "patterns"),
        (
            lambda: ex.basin_size("hebbian", np.ones((2, 4)), flip_levels=[0.2, 0.1]),
            ValueError,
            "increasing",
        ),
        (lambda: ex.basin_size("hebbian", np.ones((2, 4)), success=0), ValueError, "success"),
        (lambda: ex.spurious_census("hebbian", 10), ValueError, "patterns are needed"),
        (
            lambda: ex.spurious_census(hf.HopfieldNetwork(8), 10, patterns=np.ones((1, 4))),
            ValueError,
            "n = 8",
        ),
        (lambda: ex.similarity_matrix(np.ones(4)), ValueError, "2-D"),
    ],
)
def test_bad_arguments(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_similarity_and_hamming_matrices() -> None:
    patterns = hf.random_patterns(7, 130, seed=10)
    s = ex.similarity_matrix(patterns)
    p64 = patterns.astype(np.int64)
    assert np.allclose(s, p64 @ p64.T / 130)
    assert np.array_equal(s, reference.similarity_matrix(patterns))
    h = ex.hamming_matrix(patterns)
    assert h.dtype == np.int64
    assert np.array_equal(h, reference.hamming_matrix(patterns))
    # bool and {0,1} inputs are spins too
    assert np.array_equal(ex.hamming_matrix(patterns > 0), h)


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    ex.capacity_curve("hebbian", 64, [0.1, 0.2], seed=0, progress=True)
    assert "capacity" in capsys.readouterr().err


def test_progress_without_tqdm_warns_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.warns(RuntimeWarning, match="needs tqdm"):
        r = ex.noise_robustness("hebbian", np.ones((1, 16)), [0.0], seed=0, progress=True)
    assert r.mean_overlap[0] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex.noise_robustness("hebbian", np.ones((1, 16)), [0.0], seed=0, progress=False)


def test_results_do_not_depend_on_thread_count() -> None:
    kw = {"noise": 0.1, "trials": 2, "seed": 5}
    one = ex.capacity_curve("hebbian", 300, [0.1, 0.2], threads=1, **kw)
    two = ex.capacity_curve("hebbian", 300, [0.1, 0.2], threads=2, **kw)
    assert np.array_equal(one.mean_overlap, two.mean_overlap)
    pats = hf.random_patterns(20, 200, seed=6)
    c1 = ex.spurious_census("hebbian", 300, patterns=pats, seed=7, threads=1)
    c2 = ex.spurious_census("hebbian", 300, patterns=pats, seed=7, threads=2)
    assert np.array_equal(c1.states, c2.states) and np.array_equal(c1.visits, c2.visits)


def test_classify_state_names_one_state_as_the_census_does() -> None:
    pats = hf.random_patterns(5, 200, seed=11)
    assert ex.classify_state(pats[2], pats) == ("stored", ((2, 1),))
    assert ex.classify_state(-pats[4], pats) == ("reversed", ((4, -1),))
    mix = np.where(pats[0].astype(int) - pats[1] + pats[3] > 0, 1, -1)
    category, parts = ex.classify_state(mix, pats)
    assert category == "mixture" and sorted(parts) == [(0, 1), (1, -1), (3, 1)]
    near = pats[1].copy()
    near[:5] *= -1
    assert ex.classify_state(near, pats) == ("near-stored", ((1, 1),))
    other = hf.random_patterns(1, 200, seed=12)[0]
    assert ex.classify_state(other, pats) == ("other", ())
    with pytest.raises(ValueError, match=r"state must have shape \(200,\)"):
        ex.classify_state(pats[:2], pats)
