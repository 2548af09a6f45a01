"""Classical Hebbian network: the Rust path against the NumPy reference.

One benchmark group per (update mode, size). Each group times the Rust path
(:meth:`hopfield.HopfieldNetwork.retrieve`) and the strongest exact NumPy
formulation we know (:func:`hopfield.reference.retrieve_async_batched` for
async: integer overlaps kept per query, one vectorised decision per position
over the whole batch; :func:`hopfield.reference.retrieve_sync` for sync: the
factored form, two BLAS GEMMs per step on the active queries, ties kept by
``sign(2A + s)``) on the same patterns and the same corrupted queries. The
async reference runs a Python loop over the neurons, so it is timed on the
first ``b_ref`` queries of the batch (per query it no longer improves with
the batch size there). Before anything is timed, both are run once and must
return identical states, sweeps and convergence flags: for async the
reference is given the neuron orders the Rust path draws
(:func:`hopfield.sweep_orders`), so the two follow the same trajectory.

The floor of a query (see ``conftest.py``) is two evaluations of every
field, ``2 · 2·N·P`` operations at the machine's float32 GEMM peak: one step
that moves, one that confirms the fixed point.

Run with ``python -m pytest benches --benchmark-only`` for timings (a ratio
table is printed at the end, see ``conftest.py``) or with
``--benchmark-disable`` to run each benchmark once as a test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference
from hopfield.lab.machine import Work

#: (N, P, B, b_ref): neurons, stored patterns (load 0.1), queries per call,
#: queries the async reference is timed on.
SIZES = {
    "N1024": (1024, 102, 10_000, 1000),
    "N4096": (4096, 409, 1000, 100),
}
FLIP = 0.1
MAX_SWEEPS = 20
SEED = 7  # retrieval seed (Rust async orders)


@dataclass
class Case:
    """Inputs shared by every benchmark of one size."""

    n: int
    p: int
    b: int
    b_ref: int
    patterns: np.ndarray
    queries: np.ndarray
    net: hf.HopfieldNetwork
    expected: dict[str, Any] = field(default_factory=dict)
    orders: np.ndarray | None = None

    def group(self, mode: str) -> str:
        return f"{mode} N={self.n} P={self.p} B={self.b}"

    def run_rust(self, mode: str) -> Any:
        return self.net.retrieve(self.queries, update=mode, max_sweeps=MAX_SWEEPS, seed=SEED)

    def reference_count(self, mode: str) -> int:
        return self.b_ref if mode == "async" else self.b

    def run_reference(self, mode: str) -> Any:
        if mode == "async":
            return reference.retrieve_async_batched(
                self.patterns,
                self.queries[: self.b_ref],
                self.async_orders(),
                max_sweeps=MAX_SWEEPS,
            )
        return reference.retrieve_sync(self.patterns, self.queries, max_sweeps=MAX_SWEEPS)

    def async_orders(self) -> np.ndarray:
        """The orders the Rust path uses under ``SEED`` (built once, input to the reference)."""
        if self.orders is None:
            self.orders = hf.sweep_orders(self.n, MAX_SWEEPS, seed=SEED, count=self.b_ref)
        return self.orders

    def work(self) -> Work:
        return Work(flops32=2 * 2 * self.n * self.p)

    def check(self, mode: str) -> Any:
        """Run both paths once, assert they agree, and return the Rust result."""
        if mode not in self.expected:
            rust = self.run_rust(mode)
            ref = self.run_reference(mode)
            assert_same(rust, ref)
            # Sanity: at load 0.1 with 10% flips nearly every query ends next
            # to its own memory (overlap ~0.99: a few neurons stay wrong at this load).
            idx, ov = rust.nearest(self.patterns)
            hit = (idx == np.arange(self.b) % self.p) & (ov > 0.9)
            assert hit.mean() > 0.95, f"{mode}: only {hit.mean():.1%} retrieved"
            self.expected[mode] = rust
        return self.expected[mode]


def assert_same(got: Any, want: Any) -> None:
    """Identical states, sweeps and convergence flags on the rows both ran."""
    k = min(len(got.states), len(want.states))
    np.testing.assert_array_equal(got.states[:k], want.states[:k])
    np.testing.assert_array_equal(got.sweeps[:k], want.sweeps[:k])
    np.testing.assert_array_equal(got.converged[:k], want.converged[:k])


@pytest.fixture(scope="module", params=list(SIZES))
def case(request: pytest.FixtureRequest) -> Case:
    n, p, b, b_ref = SIZES[request.param]
    patterns = hf.random_patterns(p, n, seed=1)
    queries = hf.corrupt(patterns[np.arange(b) % p], flip=FLIP, seed=2)
    net = hf.HopfieldNetwork(n)
    net.store(patterns)
    return Case(n, p, b, b_ref, patterns, queries, net)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_retrieve(benchmark, record_ratio, case: Case, mode: str, impl: str) -> None:
    expected = case.check(mode)
    count = case.b if impl == "rust" else case.reference_count(mode)
    if impl == "rust":

        def target() -> Any:
            return case.run_rust(mode)
    else:
        if mode == "async":
            case.async_orders()  # built outside the timed region

        def target() -> Any:
            return case.run_reference(mode)

    benchmark.group = case.group(mode)
    benchmark.extra_info.update(
        impl=impl,
        mode=mode,
        n=case.n,
        patterns=case.p,
        queries=count,
        flip=FLIP,
        max_sweeps=MAX_SWEEPS,
        simd=hf.simd_level(),
        cpus=os.cpu_count(),
    )
    got = benchmark.pedantic(target, rounds=5 if impl == "rust" else 2, iterations=1)
    assert_same(got, expected)

    if benchmark.stats:  # timed (not --benchmark-disable)
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["us_per_query"] = seconds / count * 1e6
        benchmark.extra_info["queries_per_s"] = count / seconds
        record_ratio(benchmark.group, impl, seconds / count, case.work())
    else:
        record_ratio(benchmark.group, impl, None)
