"""Fuzzing every public entry point with generated bad and edge inputs.

Each call must either succeed with a result equal to the NumPy reference or
raise ``ValueError``, ``TypeError`` or ``MemoryError`` with a message; it must
never crash the interpreter, hang, or modify the caller's arrays. Together
the tests below run more than 10,000 generated calls (derandomised, so CI
sees the same inputs every run).
"""

from __future__ import annotations

import math
import os
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 1200
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ALLOWED = (ValueError, TypeError, MemoryError)

N = 24  # the networks under test have N = 24 neurons (d = 6 for modern)
D = 6

# ---------------------------------------------------------------- strategies

_DTYPES = [np.bool_, np.int8, np.int16, np.int64, np.uint8, np.float16, np.float32, np.float64]
_SPECIAL = [0.0, 1.0, -1.0, 0.5, 2.0, -3.0, math.nan, math.inf, -math.inf, 1e300, -1e-300]
_NON_INTEGERS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(_SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from([[1, 2], (3,), {"a": 1}, b"x", 1j, object()]),
)
# Sizes: small, negative, or far beyond any memory (never merely large: a
# 10 GB request that fits is legitimate and would only be slow).
_SIZES = st.integers(-3, 6) | st.integers(2**40, 2**70) | st.integers(-(2**70), -(2**40))
_SCALARS = _NON_INTEGERS | _SIZES


@st.composite
def arrays(draw: st.DrawFn, width: int, spins: bool = True) -> Any:
    """Arrays around the expected ``(B, width)`` shape: right and wrong
    shapes, every dtype, spin and non-spin values, non-contiguous, read-only,
    and plain Python lists and scalars."""
    kind = draw(st.sampled_from(["good", "good", "values", "shape", "other"]))
    if kind == "other":
        return draw(_SCALARS)
    rows = draw(st.integers(0, 5))
    cols = width
    if kind == "shape":
        shape: tuple[int, ...] = draw(
            st.sampled_from(
                [(), (cols,), (rows, cols + 1), (rows, max(cols - 1, 0)), (rows, 0), (2, 2, cols)]
            )
        )
    else:
        shape = draw(st.sampled_from([(cols,), (rows, cols), (max(rows, 1), cols)]))
    dtype = draw(st.sampled_from(_DTYPES))
    size = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "values":
        values = rng.choice(np.array(_SPECIAL + [0.0, 1.0]), size)
    elif spins:
        values = rng.choice(np.array([-1.0, 1.0] if dtype != np.uint8 else [0.0, 1.0]), size)
    else:
        values = rng.standard_normal(size) * draw(st.sampled_from([1.0, 1e-3, 30.0]))
    with np.errstate(all="ignore"):
        a = values.astype(dtype).reshape(shape)
    layout = draw(st.sampled_from(["c", "f", "strided", "readonly", "list"]))
    if layout == "f":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif layout == "readonly":
        a.setflags(write=False)
    elif layout == "list":
        return a.tolist()
    return a


def _snapshot(x: Any) -> Any:
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else None


def _unchanged(before: Any, after: Any) -> None:
    if before is not None:
        assert np.array_equal(before, after, equal_nan=True), "an input array was modified"


def _call(f: Callable[[], Any], *inputs: Any) -> Any:
    """Run ``f``; a refusal must be one of the allowed exceptions with a
    message. Returns the result, or None when refused."""
    before = [_snapshot(x) for x in inputs]
    try:
        result = f()
    except ALLOWED as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        result = None
    for b, x in zip(before, inputs, strict=True):
        _unchanged(b, x)
    return result


def _spins(x: Any) -> np.ndarray:
    return np.asarray(hf.as_spins(x)).reshape(-1, N)


# --------------------------------------------------------------- fixtures

_PATTERNS = hf.random_patterns(5, N, seed=0)
_THETA = np.linspace(-0.1, 0.1, N)


def _net() -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(N, threshold=_THETA)
    net.store(_PATTERNS)
    return net


_KEYS = np.random.default_rng(1).standard_normal((7, D)).astype(np.float32)


def _modern(beta: float = 1.5) -> hf.ModernHopfield:
    m = hf.ModernHopfield(beta)
    m.store(_KEYS)
    return m


# -------------------------------------------------------------- the tests


@FUZZ
@given(n=_SCALARS | st.integers(-3, 100), threshold=_SCALARS | arrays(N, spins=False))
def test_fuzz_network_constructor(n: Any, threshold: Any) -> None:
    net = _call(lambda: hf.HopfieldNetwork(n, threshold=threshold), threshold)
    if net is not None:
        assert net.n == n and net.num_patterns == 0


@FUZZ
@given(patterns=arrays(N))
def test_fuzz_store(patterns: Any) -> None:
    net = hf.HopfieldNetwork(N)
    if _call(lambda: net.store(patterns), patterns) is None and net.num_patterns == 0:
        return
    assert np.array_equal(net.patterns, _spins(patterns))


@FUZZ
@given(
    states=arrays(N),
    method=st.sampled_from(["energy", "fields", "overlaps"]),
)
def test_fuzz_network_queries(states: Any, method: str) -> None:
    net = _net()
    out = _call(lambda: getattr(net, method)(states), states)
    if out is None:
        return
    s = _spins(states)
    want = {
        "energy": lambda: ref.energy(_PATTERNS, s, _THETA),
        "fields": lambda: ref.fields(_PATTERNS, s, _THETA),
        "overlaps": lambda: ref.overlaps(_PATTERNS, s),
    }[method]()
    np.testing.assert_allclose(np.reshape(out, np.shape(want)), want, rtol=1e-12, atol=1e-12)


@FUZZ
@given(
    queries=arrays(N),
    update=st.sampled_from(["async", "sync"]) | _SCALARS,
    order=st.sampled_from(["random", "sequential"]) | _SCALARS,
    max_sweeps=st.integers(-2, 6) | _SCALARS,
    seed=st.integers(-1, 2**64) | _SCALARS,
    threads=st.sampled_from([None, 1, 2, 3]) | _SCALARS,
)
def test_fuzz_retrieve(
    queries: Any, update: Any, order: Any, max_sweeps: Any, seed: Any, threads: Any
) -> None:
    net = _net()

    def run() -> hf.Retrieval:
        return net.retrieve(
            queries, update=update, order=order, max_sweeps=max_sweeps, seed=seed, threads=threads
        )

    res = _call(run, queries)
    if res is None:
        return
    s = _spins(queries)
    if update == "async":
        if order == "random":
            orders = hf.sweep_orders(N, max_sweeps, seed=seed, count=len(s))
        else:
            orders = np.broadcast_to(np.arange(N), (len(s), max_sweeps, N))
        want = ref.retrieve_async(_PATTERNS, s, orders, theta=_THETA, max_sweeps=max_sweeps)
    else:
        want = ref.retrieve_sync(_PATTERNS, s, theta=_THETA, max_sweeps=max_sweeps)
    assert np.array_equal(np.reshape(res.states, (-1, N)), want.states)


@FUZZ
@given(
    x=arrays(N) | arrays(7),
    flip=st.floats(-0.5, 1.5) | _SCALARS,
    seed=st.integers(-1, 2**64) | _SCALARS,
    p=_SCALARS,
)
def test_fuzz_spin_helpers(x: Any, flip: Any, seed: Any, p: Any) -> None:
    s = _call(lambda: hf.as_spins(x), x)
    if s is not None:
        assert s.dtype == np.int8 and set(np.unique(s)) <= {-1, 1}
    c = _call(lambda: hf.corrupt(x, flip=flip, seed=seed), x)
    if c is not None:
        assert c.shape == np.shape(x)
        assert s is not None
        changed = (c != s).sum(axis=-1)
        assert np.all(changed == round(flip * np.shape(x)[-1]))
    r = _call(lambda: hf.random_patterns(p, N, seed=seed))
    if r is not None:
        assert r.shape == (p, N) and set(np.unique(r)) <= {-1, 1}
    o = _call(lambda: hf.sweep_orders(N, p, seed=seed, count=2))
    if o is not None:
        assert o.shape == (2, p, N)
        assert np.all(np.sort(o, axis=-1) == np.arange(N))


@FUZZ
@given(
    patterns=arrays(D, spins=False),
    values=st.none() | arrays(3, spins=False),
    beta=st.floats(-1, 1e5) | _SCALARS,
)
def test_fuzz_modern_store(patterns: Any, values: Any, beta: Any) -> None:
    m = _call(lambda: hf.ModernHopfield(beta))
    if m is None:
        return
    if _call(lambda: m.store(patterns, values), patterns, values) is None:
        return
    want = np.asarray(patterns, dtype=np.float32).reshape(-1, D)
    assert np.array_equal(m.patterns, want)


@FUZZ
@given(
    queries=arrays(D, spins=False),
    steps=st.integers(-1, 4) | _SCALARS,
    tol=st.none() | st.floats(-1, 1) | _SCALARS,
    method=st.sampled_from(["retrieve", "energy", "attention"]),
    beta=st.sampled_from([1e-3, 1.5, 1e4]),
)
def test_fuzz_modern_queries(queries: Any, steps: Any, tol: Any, method: str, beta: float) -> None:
    m = _modern(beta)
    if method == "retrieve":
        res = _call(lambda: m.retrieve(queries, steps=steps, tol=tol), queries)
        if res is None:
            return
        out = np.reshape(res.states, (-1, D))
        assert np.all(np.isfinite(out))
        if tol is None:
            q = np.asarray(queries, dtype=np.float32).reshape(-1, D)
            want = ref.modern_retrieve(_KEYS, q, beta, steps)
            np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
        return
    out = _call(lambda: getattr(m, method)(queries), queries)
    if out is None:
        return
    q = np.asarray(queries, dtype=np.float32).reshape(-1, D)
    if method == "energy":
        want = ref.modern_energy(_KEYS, q, beta)
        np.testing.assert_allclose(np.reshape(out, -1), want, rtol=1e-4, atol=1e-3)
    else:
        want = ref.modern_attention(_KEYS, q, beta)
        np.testing.assert_allclose(np.reshape(out, (-1, len(_KEYS))), want, atol=1e-5)


@FUZZ
@given(
    n=_SCALARS | st.integers(1, 40),
    interaction=st.sampled_from(["polynomial", "exponential"]) | _SCALARS,
    degree=st.integers(-1, 9) | _SCALARS,
    rectified=st.booleans() | _SCALARS,
    beta=st.floats(-1, 1e5) | _SCALARS,
)
def test_fuzz_dense_constructor(
    n: Any, interaction: Any, degree: Any, rectified: Any, beta: Any
) -> None:
    def build() -> hf.DenseAssociativeMemory:
        return hf.DenseAssociativeMemory(
            n, interaction=interaction, degree=degree, rectified=rectified, beta=beta
        )

    net = _call(build)
    if net is not None:
        assert net.n == n and net.num_patterns == 0


@FUZZ
@given(
    states=arrays(N),
    method=st.sampled_from(["store", "energy", "retrieve"]),
    interaction=st.sampled_from(["polynomial", "exponential"]),
)
def test_fuzz_dense_methods(states: Any, method: str, interaction: str) -> None:
    net = hf.DenseAssociativeMemory(N, interaction=interaction, degree=3, beta=0.5)
    net.store(_PATTERNS)
    if method == "store":
        _call(lambda: net.store(states), states)
        if net.num_patterns > 5:  # accepted: exactly these rows were appended
            assert np.array_equal(net.patterns[5:], _spins(states))
        return
    out = _call(lambda: getattr(net, method)(states), states)
    if out is None:
        return
    s = _spins(states)
    kw: dict[str, Any] = {"interaction": interaction, "degree": 3, "rectified": True, "beta": 0.5}
    if method == "energy":
        want = ref.dense_energy(_PATTERNS, s, **kw)
        np.testing.assert_allclose(np.reshape(out, -1), want, rtol=1e-12)
    else:
        assert out.states.shape == np.shape(states)
        assert set(np.unique(out.states)) <= {-1, 1}


@st.composite
def matrices(draw: st.DrawFn) -> Any:
    """Square matrices: symmetric with zero diagonal (valid couplings),
    asymmetric, non-zero diagonal, non-finite, wrong shapes, or not arrays."""
    kind = draw(st.sampled_from(["valid", "valid", "asym", "diag", "bad", "shape", "other"]))
    if kind == "other":
        return draw(_SCALARS)
    n = draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal((n, n)) * draw(st.sampled_from([1.0, 1e-20, 1e20]))
    a = a + a.T
    np.fill_diagonal(a, 0.0)
    if kind == "asym" and n > 1:
        a[0, 1] += 1.0
    elif kind == "diag":
        a[0, 0] = 1.0
    elif kind == "bad":
        a[0, 0] = draw(st.sampled_from([math.nan, math.inf]))
    elif kind == "shape":
        a = a[:, :-1] if n > 1 else a.reshape(-1)
    with np.errstate(all="ignore"):
        return a.astype(draw(st.sampled_from([np.float64, np.float32, np.int64, np.int8])))


@FUZZ
@given(
    J=matrices(),
    h=st.none() | arrays(7, spins=False) | _SCALARS,
    restarts=st.integers(-1, 3) | _SCALARS,
    sweeps=st.none() | st.integers(-1, 8) | _SCALARS,
    seed=st.integers(-1, 2**64) | _SCALARS,
)
def test_fuzz_ising(J: Any, h: Any, restarts: Any, sweeps: Any, seed: Any) -> None:
    for build in (lambda: hf.IsingProblem(J, h), lambda: hf.IsingProblem.from_qubo(J)):
        problem = _call(build, J, h)
        if problem is None:
            continue
        res = _call(lambda: problem.minimize(restarts=restarts, sweeps=sweeps, seed=seed))  # noqa: B023
        if res is not None:
            np.testing.assert_allclose(res.energy, problem.energy(res.states), rtol=1e-9)
    cut = _call(lambda: hf.maxcut(J, restarts=restarts, sweeps=sweeps, seed=seed), J)
    if cut is not None:
        assert set(np.unique(cut.sides)) <= {-1, 1}


@FUZZ
@given(
    temperature=st.floats(-1, 10) | _SCALARS,
    n_samples=st.integers(-1, 4) | _SCALARS,
    burn_in=st.integers(-1, 4) | _SCALARS,
    thin=st.integers(-1, 3) | _SCALARS,
    chains=st.none() | st.integers(-1, 4) | _SCALARS,
    init=st.none() | arrays(N),
    which=st.sampled_from(["hebbian", "dense", "modern", "other"]),
)
def test_fuzz_sample(
    temperature: Any, n_samples: Any, burn_in: Any, thin: Any, chains: Any, init: Any, which: str
) -> None:
    model: Any = {
        "hebbian": _net,
        "dense": lambda: hf.DenseAssociativeMemory(N),
        "modern": _modern,
        "other": lambda: "not a model",
    }[which]()

    def run() -> Any:
        return hf.sample(
            model,
            temperature=temperature,
            n_samples=n_samples,
            burn_in=burn_in,
            thin=thin,
            chains=chains,
            init=init,
            seed=1,
        )

    out = _call(run, init)
    if out is not None:
        assert out.states.shape[1:] == (n_samples, N)
        assert set(np.unique(out.states)) <= {-1, 1}
        np.testing.assert_allclose(out.energy, np.reshape(model.energy(out.flat), out.energy.shape))


@FUZZ
@given(
    rule=st.sampled_from(["hebbian", "storkey", "pseudoinverse", "covariance"]) | _SCALARS,
    activity=st.none() | st.floats(-0.5, 1.5) | _SCALARS,
    dilution=st.none() | st.floats(-0.5, 1.5) | _SCALARS,
    zero_diagonal=st.booleans() | _SCALARS,
    patterns=arrays(N),
    states=arrays(N),
)
def test_fuzz_rules(
    rule: Any, activity: Any, dilution: Any, zero_diagonal: Any, patterns: Any, states: Any
) -> None:
    def build() -> hf.HopfieldNetwork:
        return hf.HopfieldNetwork(
            N,
            rule=rule,
            activity=activity,
            dilution=dilution,
            seed=0 if dilution is not None else None,
            zero_diagonal=zero_diagonal,
        )

    net = _call(build)
    if net is None:
        return
    _call(lambda: net.store(patterns), patterns)
    if net.num_patterns == 0:
        return
    for method in ("energy", "fields"):
        out = _call(lambda: getattr(net, method)(states), states)  # noqa: B023
        if out is not None and method == "fields":
            s = _spins(states).astype(np.float64)
            want = s @ net.weights.T.astype(np.float64) - net.threshold
            np.testing.assert_allclose(np.reshape(out, want.shape), want, atol=1e-9)
    res = _call(lambda: net.retrieve(states, seed=1, max_sweeps=5), states)
    if res is not None:
        assert set(np.unique(res.states)) <= {-1, 1}


@FUZZ
@given(W=matrices(), threshold=_SCALARS | arrays(7, spins=False), states=arrays(7))
def test_fuzz_from_weights_and_sequences(W: Any, threshold: Any, states: Any) -> None:
    net = _call(lambda: hf.HopfieldNetwork.from_weights(W, threshold=threshold), W, threshold)
    if net is not None:
        out = _call(lambda: net.retrieve(states, update="sync", max_sweeps=4), states)
        if out is not None:
            assert out.states.shape == np.shape(states)
    memory = hf.SequenceMemory(7, cyclic=True)
    _call(lambda: memory.store(states), states)
    rec = _call(lambda: memory.recall(states, 3), states)
    if rec is not None:
        assert rec.trajectory.shape[-2:] == (4, 7)


@FUZZ
@given(patterns=arrays(N))
def test_fuzz_nearest(patterns: Any) -> None:
    res = _net().retrieve(_PATTERNS[:2], seed=0)
    out = _call(lambda: res.nearest(patterns), patterns)
    if out is None:
        return
    idx, overlap = out
    m = ref.overlaps(_spins(patterns), res.states)
    assert np.array_equal(idx, np.argmax(np.abs(m), axis=1))


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=0, max_size=4),
    cut=st.none() | st.integers(0, 10**6),
)
def test_fuzz_load(edits: list[tuple[int, int]], cut: int | None, tmp_path_factory: Any) -> None:
    """Damaged files load as the saved model or raise ValueError; never
    anything else."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    net = _net()
    net.save(path)
    data = bytearray(path.read_bytes())
    for at, byte in edits:
        data[at % len(data)] = byte
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path.write_bytes(bytes(data))
    try:
        loaded = hf.load(path)
    except ValueError as exc:
        assert "not a readable hopfield model file" in str(exc)
        return
    assert np.array_equal(loaded.patterns, net.patterns)
    assert np.array_equal(loaded.threshold, net.threshold)


# ------------------------------------- the parameters that found issue 17

# Tiny and huge floats for every rate-like parameter: below the resolution of
# 1.0 (1 − c rounds to 1), subnormal, around 1, huge, infinite, NaN.
_RATES = (
    st.sampled_from(
        [5e-324, 2.2e-308, 1e-300, 1e-30, 1e-17, 1.1e-16, 2.3e-16, 1 - 1e-16, 1.0]
        + [1 + 2.3e-16, 1e16, 1e300, 1.7e308, math.inf, math.nan, -0.0, -5e-324]
    )
    | st.floats(min_value=0.0, max_value=1e-15, allow_subnormal=True)
    | st.floats(min_value=1e15, allow_infinity=True)
)
# Integers past 2**63 (and just below it) for every count.
_HUGE_COUNTS = st.integers(2**63 - 2, 2**63 + 2) | st.integers(2**64 - 2, 2**64 + 2)
_HUGE_COUNTS = _HUGE_COUNTS | st.integers(2**64, 2**200)


@FUZZ
@given(
    rate=_RATES,
    which=st.sampled_from(
        [
            "dilution hebbian",
            "dilution storkey",
            "dilution covariance",
            "activity",
            "flip",
            "temperature",
            "sample",
            "modern beta",
            "dense beta",
            "theory",
        ]
    ),
)
def test_fuzz_rate_like_parameters(rate: float, which: str) -> None:
    """Each rate-like parameter at tiny and huge values: a result or a clear
    refusal, promptly (a dilution of 1e-17 used to loop forever)."""
    q = _PATTERNS[:3]

    def run() -> Any:
        kind, _, rule = which.partition(" ")
        if kind == "dilution":
            kw = {"activity": 0.5} if rule == "covariance" else {}
            net = hf.HopfieldNetwork(N, rule=rule, dilution=rate, seed=0, **kw)
            net.store(_PATTERNS)
            return net.retrieve(q, seed=0, max_sweeps=5).states
        if kind == "activity":
            net = hf.HopfieldNetwork(N, rule="covariance", activity=rate)
            net.store(_PATTERNS)
            return net.retrieve(q, seed=0, max_sweeps=5).states
        if kind == "flip":
            return hf.corrupt(_PATTERNS, flip=rate, seed=0)
        if kind == "temperature":
            return _net().retrieve(q, temperature=rate, max_sweeps=3, seed=0).states
        if kind == "sample":
            return hf.sample(_net(), temperature=rate, n_samples=2, chains=2, seed=0).states
        if kind == "modern":
            m = hf.ModernHopfield(rate)
            m.store(np.random.default_rng(0).standard_normal((5, D)))
            return m.retrieve(np.ones((2, D)), steps=2).states
        if kind == "dense":
            d = hf.DenseAssociativeMemory(N, interaction="exponential", beta=rate)
            d.store(_PATTERNS)
            return d.retrieve(q, seed=0, max_sweeps=3).states
        return hf.theory.dense_exponential_rate(rate), hf.theory.ags_overlap(rate)

    out = _call(run)
    if out is not None and which != "theory" and which != "modern beta":
        assert set(np.unique(out)) <= {-1, 1}


@FUZZ
@given(
    count=_HUGE_COUNTS,
    which=st.sampled_from(
        [
            "threads retrieve",
            "threads sample",
            "threads modern",
            "threads minimize",
            "n hebbian",
            "n storkey",
            "n pseudoinverse",
            "n dense",
            "uniforms count",
            "uniforms first",
            "uniforms sweeps",
            "orders count",
            "orders first",
            "random_patterns",
            "letters scale",
            "mceliece",
            "steps",
        ]
    ),
)
def test_fuzz_counts_past_2_to_the_63(count: int, which: str) -> None:
    """Every count at and past 2**63: refused with ``ValueError`` or
    ``MemoryError`` at once, never an ``OverflowError``, an abort or a run
    that first builds that many threads."""
    q = _PATTERNS[:2]
    calls: dict[str, Callable[[], Any]] = {
        "threads retrieve": lambda: _net().retrieve(q, seed=0, threads=count),
        "threads sample": lambda: hf.sample(_net(), temperature=1.0, n_samples=1, threads=count),
        "threads modern": lambda: hf.ModernHopfield(threads=count),
        "threads minimize": lambda: hf.IsingProblem(np.zeros((3, 3))).minimize(threads=count),
        "n hebbian": lambda: hf.HopfieldNetwork(count),
        "n storkey": lambda: hf.HopfieldNetwork(count, rule="storkey"),
        "n pseudoinverse": lambda: hf.HopfieldNetwork(count, rule="pseudoinverse"),
        "n dense": lambda: hf.DenseAssociativeMemory(count),
        "uniforms count": lambda: hf.acceptance_uniforms(4, 1, seed=0, count=count),
        "uniforms first": lambda: hf.acceptance_uniforms(4, 1, seed=0, first=count, count=2),
        "uniforms sweeps": lambda: hf.acceptance_uniforms(4, count, seed=0),
        "orders count": lambda: hf.sweep_orders(4, 1, seed=0, count=count),
        "orders first": lambda: hf.sweep_orders(4, 1, seed=0, first=count, count=2),
        "random_patterns": lambda: hf.random_patterns(count, 4, seed=0),
        "letters scale": lambda: hf.letter_patterns("AB", scale=count),
        "mceliece": lambda: hf.theory.mceliece_capacity(count),
        "steps": lambda: _modern().retrieve(np.ones((1, D)), steps=count),
    }
    # Where such a count is legitimate: a query index up to 2**64 - 2 (two
    # queries), and a number of neurons that a float64 holds.
    valid = {
        "uniforms first": count + 2 <= 2**64,
        "orders first": count + 2 <= 2**64,
        "mceliece": count < 2**1023,
    }.get(which, False)
    try:
        out = calls[which]()
    except (ValueError, MemoryError) as exc:
        assert str(exc)
        assert not valid, f"{which}: {count} refused: {exc}"
    except TypeError as exc:  # only where the count is not an integer at all
        raise AssertionError(f"{which}: TypeError for the integer {count}: {exc}") from None
    else:
        assert valid, f"{which}: {count} accepted"
        if which != "mceliece":
            assert out.shape == (2, 1, 4)


@FUZZ
@given(
    rows=st.integers(10**10, 10**16),
    value=st.sampled_from([np.int8(1), np.int8(-1), np.float64(1.0), np.bool_(True), np.uint8(0)]),
    which=st.sampled_from(
        ["store", "retrieve", "energy", "fields", "as_spins", "corrupt", "dense", "sample", "seq"]
    ),
)
def test_fuzz_zero_stride_views_of_impossible_sizes(rows: int, value: Any, which: str) -> None:
    """A broadcast view describes more elements than exist: it is refused
    with ``MemoryError`` before anything is materialised."""
    huge = np.broadcast_to(value, (rows, N))
    net = _net()
    calls: dict[str, Callable[[], Any]] = {
        "store": lambda: hf.HopfieldNetwork(N).store(huge),
        "retrieve": lambda: net.retrieve(huge, seed=0),
        "energy": lambda: net.energy(huge),
        "fields": lambda: net.fields(huge),
        "as_spins": lambda: hf.as_spins(huge),
        "corrupt": lambda: hf.corrupt(huge, flip=0.1, seed=0),
        "dense": lambda: hf.DenseAssociativeMemory(N).store(huge),
        "sample": lambda: hf.sample(net, temperature=1.0, n_samples=1, init=huge, seed=0),
        "seq": lambda: hf.SequenceMemory(N).store(huge),
    }
    with pytest.raises(MemoryError, match="bytes"):
        calls[which]()
    assert net.num_patterns == len(_PATTERNS)


def _non_regular(kind: str, folder: Path) -> Path:
    """A path of ``kind`` in ``folder``."""
    path = folder / kind.replace(" ", "-")
    target = folder / "target"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "directory":
        path.mkdir()
    elif kind == "link to fifo":
        os.mkfifo(target)
        path.symlink_to(target)
    elif kind == "link to directory":
        target.mkdir()
        path.symlink_to(target)
    elif kind == "link to device":
        path.symlink_to(os.devnull)
    elif kind == "device":
        path = Path(os.devnull)
    return path


@FUZZ
@given(
    kind=st.sampled_from(
        [
            "fifo",
            "socket",
            "directory",
            "link to fifo",
            "link to directory",
            "link to device",
            "device",
        ]
    ),
    op=st.sampled_from(["save", "load", "hf.save"]),
    model=st.sampled_from(["hebbian", "storkey", "modern", "dense"]),
)
def test_fuzz_non_regular_files(kind: str, op: str, model: str) -> None:
    """Every path argument at a FIFO, socket, directory or device (directly
    or through a link): ``ValueError`` naming it, without blocking, and the
    thing at the path is left as it was."""
    if kind == "device":
        # Saving to /dev/null itself is never attempted: a regression would
        # replace the device (as root). Links to it stand in for saves.
        op = "load"
    with tempfile.TemporaryDirectory() as tmp:
        path = _non_regular(kind, Path(tmp))
        before = os.stat(path)
        m: Any = {
            "hebbian": _net,
            "storkey": lambda: hf.HopfieldNetwork(N, rule="storkey"),
            "modern": _modern,
            "dense": lambda: hf.DenseAssociativeMemory(N),
        }[model]()
        call: Callable[[], Any] = {
            "save": lambda: m.save(path),
            "hf.save": lambda: hf.save(m, path),
            "load": lambda: hf.load(path),
        }[op]
        with pytest.raises(ValueError, match="not a regular file"):
            call()
        after = os.stat(path)
        assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
        assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev)
        assert not [p for p in os.listdir(tmp) if p.startswith(".hopfield-")]


def test_the_suite_makes_at_least_ten_thousand_calls() -> None:
    fuzzed = [v for k, v in globals().items() if k.startswith("test_fuzz_")]
    assert all(hasattr(t, "hypothesis") for t in fuzzed)
    assert len(fuzzed) * EXAMPLES >= 10_000, (len(fuzzed), EXAMPLES)


@pytest.mark.parametrize("n", [0, -1, 2**31, 2**64])
def test_huge_or_negative_sizes(n: int) -> None:
    with pytest.raises(ALLOWED):
        hf.HopfieldNetwork(n)
    with pytest.raises(ALLOWED):
        hf.random_patterns(3, n if n < 2**31 else 2**62, seed=0)
    with pytest.raises(ALLOWED):
        hf.random_patterns(-1 if n < 2**31 else 2**62, 3, seed=0)
