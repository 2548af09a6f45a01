"""The fixed cost of a call: one query on a small network (N = 64).

What a call costs beyond its arithmetic: checking and converting the input,
handing the work to a thread (or not: one query runs on the calling
thread), assembling the result. Each group times one call with one query,
for the classical network (async and sync), the dense memory and the modern
network, against the same step written in NumPy for one query (the
reference's one-query form: for the classical sync step, the factored
product; for async, :func:`hopfield.reference.retrieve_async` with the Rust
path's orders; for the modern network, the float32 update). Target: under
20 µs a call. Before timing, both must give the same states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference

N, P, SEED = 64, 6, 3


def _cases() -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    patterns = hf.random_patterns(P, N, seed=1)
    query = hf.corrupt(patterns[0], flip=0.1, seed=2)
    net = hf.HopfieldNetwork(N)
    net.store(patterns)
    dense = hf.DenseAssociativeMemory(N, degree=3)
    dense.store(patterns)
    keys = patterns.astype(np.float32)
    modern = hf.ModernHopfield(beta=0.5)
    modern.store(keys)
    q32 = query.astype(np.float32)
    first = net.retrieve(query, seed=SEED)
    orders = hf.sweep_orders(N, int(first.sweeps), seed=SEED, count=1)[0]
    return {
        "classical async": (
            lambda: net.retrieve(query, seed=SEED).states,
            lambda: (
                reference.retrieve_async(
                    patterns, query, orders, max_sweeps=int(first.sweeps)
                ).states
            ),
        ),
        "classical sync": (
            lambda: net.retrieve(query, update="sync").states,
            lambda: reference.retrieve_sync(patterns, query).states,
        ),
        "dense x^3 sync": (
            lambda: dense.retrieve(query, update="sync").states,
            lambda: reference.dense_retrieve_sync(patterns, query).states,
        ),
        "modern": (
            lambda: modern.retrieve(q32).states,
            lambda: reference.modern_update(keys, q32, 0.5, dtype=np.float32),
        ),
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_call_overhead(benchmark, record_ratio, name: str, impl: str) -> None:
    rust, ref = CASES[name]
    want, got_ref = rust(), ref()
    if name == "modern":
        np.testing.assert_allclose(want, got_ref, rtol=0, atol=1e-4)
    else:
        np.testing.assert_array_equal(want, got_ref)
    benchmark.group = f"one call N={N} {name}"
    benchmark.extra_info.update(impl=impl, n=N, patterns=P, queries=1)
    got = benchmark(rust if impl == "rust" else ref)
    assert np.shape(got) == np.shape(want)
    record_ratio(benchmark.group, impl, benchmark.stats.stats.median if benchmark.stats else None)
