"""Weight-matrix network: the Rust path against the NumPy reference.

N = 1024 neurons, B = 10,000 queries (10% corrupted copies of P = 102 random
patterns) on an explicit float32 weight matrix (``HopfieldNetwork.from_weights``
of the Hebbian weights ``C/N``: every partial sum is then exact even in
float32, so the float32 BLAS reference decides exactly like the exact paths).

* async: Rust (fields cached per query, caches of four queries built per
  pass over W, O(N) per flip) against
  :func:`hopfield.reference.weights_retrieve_async_batched` (float64 BLAS for
  the first fields, then one vectorised step per neuron position) on the
  neuron orders the Rust path draws.
* sync: Rust (first fields by a blocked product, then one column per flip)
  against :func:`hopfield.reference.weights_retrieve_sync` with
  ``dtype=np.float32`` (one float32 BLAS GEMM per step).

Both are run once and must agree (states, sweeps, flags) before timing.
"""

from __future__ import annotations

import os
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference

N, P, B = 1024, 102, 10_000
FLIP = 0.1
MAX_SWEEPS = 20
SEED = 7
ROUNDS = 3


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    patterns = hf.random_patterns(P, N, seed=1)
    weights = reference.hebbian_weights(patterns).astype(np.float32)
    queries = hf.corrupt(patterns[np.arange(B) % P], flip=FLIP, seed=2)
    net = hf.HopfieldNetwork.from_weights(weights)
    return {
        "patterns": patterns,
        "weights": weights,
        "queries": queries,
        "net": net,
        "orders": hf.sweep_orders(N, MAX_SWEEPS, seed=SEED, count=B),
        "expected": {},
    }


def _rust(case: dict[str, Any], mode: str) -> Any:
    return case["net"].retrieve(case["queries"], update=mode, max_sweeps=MAX_SWEEPS, seed=SEED)


def _reference(case: dict[str, Any], mode: str) -> Any:
    if mode == "async":
        return reference.weights_retrieve_async_batched(
            case["weights"], case["queries"], case["orders"], max_sweeps=MAX_SWEEPS
        )
    return reference.weights_retrieve_sync(
        case["weights"], case["queries"], max_sweeps=MAX_SWEEPS, dtype=np.float32
    )


def _assert_same(got: Any, want: Any) -> None:
    np.testing.assert_array_equal(got.states, want.states)
    np.testing.assert_array_equal(got.sweeps, want.sweeps)
    np.testing.assert_array_equal(got.converged, want.converged)


def _expected(case: dict[str, Any], mode: str) -> Any:
    if mode not in case["expected"]:
        rust = _rust(case, mode)
        _assert_same(rust, _reference(case, mode))
        idx, ov = rust.nearest(case["patterns"])
        hit = (idx == np.arange(B) % P) & (ov > 0.9)
        assert hit.mean() > 0.95, f"{mode}: only {hit.mean():.1%} retrieved"
        case["expected"][mode] = rust
    return case["expected"][mode]


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_weights_retrieve(benchmark, record_ratio, case: dict, mode: str, impl: str) -> None:
    expected = _expected(case, mode)
    run = _rust if impl == "rust" else _reference
    benchmark.group = f"weights {mode} N={N} B={B}"
    benchmark.extra_info.update(
        impl=impl, mode=mode, n=N, patterns=P, queries=B, simd=hf.simd_level(), cpus=os.cpu_count()
    )
    got = benchmark.pedantic(run, args=(case, mode), rounds=ROUNDS, iterations=1)
    _assert_same(got, expected)
    if benchmark.stats:
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["us_per_query"] = seconds / B * 1e6
        record_ratio(benchmark.group, impl, seconds / B)
    else:
        record_ratio(benchmark.group, impl, None)
