"""Partial cues: clamped retrieval costs no more than unclamped.

One benchmark group per update mode at N = 4096, P = 409 (load 0.1), with
half of the neurons clamped (``clamp=`` the first N/2). Each group times
three things on the same queries: the Rust path with the clamp (``rust``),
the Rust path without it (``unclamped``: the number to compare with, shown
in pytest-benchmark's table of the group), and the NumPy reference with the
same clamp (``reference``: :func:`hopfield.reference.retrieve_async_batched`
on the first ``b_ref`` queries for async, :func:`hopfield.reference.retrieve_sync`
for sync, both given the mask). Before anything is timed, the Rust and
reference results must be identical and the clamped neurons held.

The clamp is applied by the drivers (async sweeps skip the clamped neurons
of the order, sync steps flip only free neurons), so a clamped run does no
more work per sweep than a free one and often fewer sweeps.
"""

from __future__ import annotations

import os
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference
from hopfield.lab.machine import Work

N, P, B, B_REF = 4096, 409, 1000, 100
FLIP = 0.1
MAX_SWEEPS = 20
SEED = 7


@pytest.fixture(scope="module")
def case() -> dict[str, Any]:
    patterns = hf.random_patterns(P, N, seed=1)
    queries = hf.corrupt(patterns[np.arange(B) % P], flip=FLIP, seed=2)
    net = hf.HopfieldNetwork(N)
    net.store(patterns)
    clamp = np.arange(N) < N // 2
    orders = hf.sweep_orders(N, MAX_SWEEPS, seed=SEED, count=B_REF)
    return {"patterns": patterns, "queries": queries, "net": net, "clamp": clamp, "orders": orders}


def run(case: dict[str, Any], impl: str, mode: str) -> Any:
    q, clamp = case["queries"], case["clamp"]
    if impl == "reference":
        if mode == "async":
            return reference.retrieve_async_batched(
                case["patterns"], q[:B_REF], case["orders"], max_sweeps=MAX_SWEEPS, clamp=clamp
            )
        return reference.retrieve_sync(case["patterns"], q, max_sweeps=MAX_SWEEPS, clamp=clamp)
    held = clamp if impl == "rust" else None
    return case["net"].retrieve(q, update=mode, max_sweeps=MAX_SWEEPS, seed=SEED, clamp=held)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("impl", ["rust", "unclamped", "reference"])
def test_clamped_retrieve(benchmark, record_ratio, case, mode: str, impl: str) -> None:
    key = f"checked-{mode}"
    if key not in case:
        rust, ref = run(case, "rust", mode), run(case, "reference", mode)
        k = len(ref.states)
        np.testing.assert_array_equal(rust.states[:k], ref.states)
        np.testing.assert_array_equal(rust.sweeps[:k], ref.sweeps)
        np.testing.assert_array_equal(rust.converged[:k], ref.converged)
        held = case["clamp"]
        np.testing.assert_array_equal(rust.states[:, held], case["queries"][:, held])
        case[key] = True
    count = B_REF if (impl == "reference" and mode == "async") else B
    benchmark.group = f"clamp {mode} N={N} P={P} B={B} (half clamped)"
    benchmark.extra_info.update(impl=impl, mode=mode, queries=count, cpus=os.cpu_count())
    got = benchmark.pedantic(
        lambda: run(case, impl, mode), rounds=5 if impl != "reference" else 2, iterations=1
    )
    assert len(got.states) == count
    if benchmark.stats:
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["us_per_query"] = seconds / count * 1e6
        if impl != "unclamped":
            record_ratio(benchmark.group, impl, seconds / count, Work(flops32=4 * N * P))
    elif impl != "unclamped":
        record_ratio(benchmark.group, impl, None)
