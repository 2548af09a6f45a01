"""Learning rules at N = 16,384: storing P = 14 patterns, Rust against
NumPy's float64 formula for the same rule.

The Rust path keeps the patterns (and, for Storkey, ``O(P·N)`` factors) and
writes the float32 ``N × N`` weights once from a rank-``O(P)`` product
(:mod:`hopfield` ``rules``); NumPy computes the float64 matrix as a sceptic
would write it, then converts it to float32 (what the network holds):

* ``covariance``: ``Xc.T @ Xc / (N (1 − m²))`` (one BLAS product);
* ``pseudoinverse``: ``X.T @ solve(X X.T, X)`` (one solve, one product);
* ``storkey``: ``W ← (1 + 2/N) W + (ξ (ξ − H)ᵀ − H ξᵀ)/N`` in place per
  pattern, ``H = Wξ`` (two outer products per pattern).

Also timed: writing the float32 ``N × N`` matrix once (``np.ones``), the
memory's floor. Every case is timed after one untimed round (``WARMUP``).
Both sides agree (every weight within one float32 step) before timing. Run
with ``--benchmark-only`` for timings at N = 16,384 (about 3 GiB of memory
for the NumPy Storkey formula); with ``--benchmark-disable`` (the benches as
tests, as CI runs them) the same code runs once at N = 1,024.
"""

from __future__ import annotations

import os
from typing import Any

import hopfield as hf
import numpy as np
import pytest

P = 14
ACTIVITY = 0.3
# Every case, Rust, NumPy and the write floor alike, is timed after one
# untimed round: on a virtual machine the first touches of guest memory
# not used since boot can be slow and erratic (``np.ones`` of 1 GiB took
# 1.4 s the first two times in a process here, 0.14 s after).
WARMUP = 1


def _size(config: pytest.Config) -> int:
    timing = bool(getattr(config.option, "benchmark_enable", False)) or not getattr(
        config.option, "benchmark_disable", True
    )
    return 16_384 if timing else 1024


@pytest.fixture(scope="module")
def case(request: pytest.FixtureRequest) -> dict[str, Any]:
    n = _size(request.config)
    return {"n": n, "patterns": hf.random_patterns(P, n, seed=1), "checked": set()}


def _rust(case: dict[str, Any], rule: str) -> hf.HopfieldNetwork:
    kw = {"activity": ACTIVITY} if rule == "covariance" else {}
    net = hf.HopfieldNetwork(case["n"], rule=rule, **kw)
    net.store(case["patterns"])
    return net


def _numpy(case: dict[str, Any], rule: str) -> np.ndarray:
    x = case["patterns"].astype(np.float64)
    n = case["n"]
    if rule == "covariance":
        m = 2 * ACTIVITY - 1
        xc = x - m
        w = xc.T @ xc / (n * (1 - m * m))
    elif rule == "pseudoinverse":
        w = x.T @ np.linalg.solve(x @ x.T, x)
    else:
        w = np.zeros((n, n))
        for xi in x:
            h = w @ xi
            w *= 1 + 2 / n
            w += np.outer(xi / n, xi - h)
            w -= np.outer(h / n, xi)
            np.fill_diagonal(w, 0.0)
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32)


def _check(case: dict[str, Any], rule: str) -> None:
    if rule in case["checked"]:
        return
    got = _rust(case, rule)
    want = _numpy(case, rule)
    n = case["n"]
    assert got.nbytes <= 4 * n * n + 16 * n + 8 * P * n + P * n // 8 + 64
    np.testing.assert_allclose(
        got.weights, want, rtol=2**-21, atol=2**-23 * float(np.abs(want).max())
    )
    case["checked"].add(rule)


@pytest.mark.parametrize("rule", ["storkey", "pseudoinverse", "covariance"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_store(benchmark, record_ratio, case: dict, rule: str, impl: str) -> None:
    _check(case, rule)
    n = case["n"]
    benchmark.group = f"store {rule} N={n} P={P}"
    benchmark.extra_info.update(impl=impl, rule=rule, n=n, patterns=P, cpus=os.cpu_count())
    run = _rust if impl == "rust" else _numpy
    benchmark.pedantic(run, args=(case, rule), rounds=2, warmup_rounds=WARMUP, iterations=1)
    seconds = benchmark.stats.stats.median if benchmark.stats else None
    record_ratio(benchmark.group, impl, seconds)


def test_write_floor(benchmark, case: dict) -> None:
    n = case["n"]
    benchmark.group = f"write float32 N²  N={n}"
    out = benchmark.pedantic(
        lambda: np.ones((n, n), np.float32), rounds=2, warmup_rounds=WARMUP, iterations=1
    )
    assert out.shape == (n, n)
