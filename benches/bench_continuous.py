"""Continuous-time models: the Rust engine against the strongest NumPy loop.

Each group integrates the same batch for the same number of exponential-Euler
steps (``tol=0``, so both do every step) and checks that both agree before
anything is timed. The NumPy side is what a sceptic writes: one float64 BLAS
product per population and step, in-place elementwise updates, no per-row
bookkeeping, and the factored Hebbian form ``W V = (V Xᵀ) X / N − diag·V``
where the weights come from patterns.

* ``graded hebbian``: N = 1024, P = 50, B = 1000 potentials, tanh;
* ``graded dense``: the same network over an explicit N × N matrix (one
  ``B × N × N`` GEMM per step on both sides);
* ``hidden lse``: the hidden-neuron memory, N = 1024 features, P = 1000
  hidden neurons, identity/log-sum-exp Lagrangians, B = 1000.

Run with ``python -m pytest benches/bench_continuous.py --benchmark-only``
(with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset for the process so
that OpenBLAS picks its fastest kernel), or ``--benchmark-disable`` to run
each once.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import hopfield as hf
import numpy as np
import pytest

N, B, STEPS, DT = 1024, 1000, 50, 0.1


def _graded_numpy(u0: np.ndarray, gain: float, w=None, x=None) -> np.ndarray:
    """The graded flow, ``STEPS`` exponential-Euler steps, in place."""
    u = u0.copy()
    v = np.empty_like(u)
    d = np.empty_like(u)
    a = np.exp(-DT)
    if x is not None:
        diag = (x * x).sum(axis=0) / x.shape[1]
        xt = np.ascontiguousarray(x.T)
    for _ in range(STEPS):
        np.multiply(u, gain, out=v)
        np.tanh(v, out=v)
        if x is not None:
            np.matmul(v @ xt, x, out=d)
            d *= 1.0 / x.shape[1]
            v *= diag
            d -= v
        else:
            np.matmul(v, w.T, out=d)
        u -= d
        u *= a
        u += d
    return u


def _hidden_numpy(s0: np.ndarray, x: np.ndarray, beta: float, tau_h: float) -> np.ndarray:
    """The hidden-neuron flow (identity features, log-sum-exp hidden), in place."""
    n = x.shape[1]
    s = s0.copy()
    feat, hid = s[:, :n], s[:, n:]
    xt = np.ascontiguousarray(x.T)
    af, ah = np.exp(-DT), np.exp(-DT / tau_h)
    f = np.empty_like(hid)
    for _ in range(STEPS):
        np.multiply(hid, beta, out=f)
        f -= f.max(axis=1, keepdims=True)
        np.exp(f, out=f)
        f /= f.sum(axis=1, keepdims=True)
        dh = feat @ xt
        dx = f @ x
        feat -= dx
        feat *= af
        feat += dx
        hid -= dh
        hid *= ah
        hid += dh
    return s


def _cases() -> dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]]:
    rng = np.random.default_rng(0)
    xs = hf.random_patterns(50, N, seed=1)
    u0 = rng.standard_normal((B, N))
    hebb = hf.GradedHopfieldNetwork(N, gain=2.0)
    hebb.store(xs)
    xf = xs.astype(np.float64)
    a = rng.standard_normal((N, N)) / N
    w = (a + a.T) / 2
    dense = hf.GradedHopfieldNetwork.from_weights(w, gain=2.0)
    t_max = STEPS * DT - 1e-9
    xp = rng.standard_normal((1000, N)) / np.sqrt(N)
    mem = hf.HiddenNeuronMemory(N, lagrangian="lse", beta=4.0, tau_f=1.0, tau_h=0.5)
    mem.store(xp)
    q = xp[:B] + 0.1 * rng.standard_normal((B, N)) / np.sqrt(N)
    s0 = np.concatenate([q, q @ xp.T], axis=1)
    # Each entry runs the first ``b`` rows of the batch (rows are independent).
    return {
        "graded hebbian": (
            lambda b=B: hebb.retrieve(u0[:b], dt=DT, t_max=t_max, tol=0.0).potentials,
            lambda b=B: _graded_numpy(u0[:b], 2.0, x=xf),
        ),
        "graded dense": (
            lambda b=B: dense.retrieve(u0[:b], dt=DT, t_max=t_max, tol=0.0).potentials,
            lambda b=B: _graded_numpy(u0[:b], 2.0, w=w),
        ),
        "hidden lse": (
            lambda b=B: np.hstack(
                [
                    (r := mem.retrieve(q[:b], dt=DT, t_max=t_max, tol=0.0)).features,
                    r.hidden,
                ]
            ),
            lambda b=B: _hidden_numpy(s0[:b], xp, 4.0, 0.5),
        ),
    }


_CASES: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]] = {}
_CHECKED: set[str] = set()


@pytest.mark.parametrize("impl", ["rust", "reference"])
@pytest.mark.parametrize("name", ["graded hebbian", "graded dense", "hidden lse"])
def test_continuous(benchmark, record_ratio, name: str, impl: str) -> None:
    if not _CASES:
        _CASES.update(_cases())
    rust, numpy = _CASES[name]
    if name not in _CHECKED:
        # Checked on 64 rows (each row's run is independent of the others).
        np.testing.assert_allclose(rust(64), numpy(64), rtol=1e-9, atol=1e-9)
        _CHECKED.add(name)
    benchmark.group = f"continuous N={N} B={B} steps={STEPS} {name}"
    benchmark.extra_info.update(impl=impl, simd=hf.simd_level(), cpus=os.cpu_count())
    benchmark.pedantic(rust if impl == "rust" else numpy, rounds=3, iterations=1)
    if benchmark.stats:
        seconds = benchmark.stats.stats.median
        record_ratio(benchmark.group, impl, seconds / (B * STEPS))
    else:
        record_ratio(benchmark.group, impl, None)
