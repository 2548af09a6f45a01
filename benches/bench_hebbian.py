"""Classical Hebbian network: the Rust path against the NumPy reference.

One benchmark group per (update mode, size). Each group times the Rust path
(:meth:`hopfield.HopfieldNetwork.retrieve`) and the reference
(:func:`hopfield.reference.retrieve_async_batched` for async,
:func:`hopfield.reference.retrieve_sync` for sync) on the same patterns and
the same corrupted queries. Before anything is timed, both are run once and
must return identical states, sweeps and convergence flags: for async the
reference is given the neuron orders the Rust path draws
(:func:`hopfield.sweep_orders`), so the two follow the same trajectory.

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

#: (N, P, B): neurons, stored patterns (load 0.1), queries per call.
SIZES = {
    "N1024": (1024, 102, 1000),
    "N4096": (4096, 409, 200),
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
    patterns: np.ndarray
    queries: np.ndarray
    net: hf.HopfieldNetwork
    expected: dict[str, Any] = field(default_factory=dict)
    orders: np.ndarray | None = None

    def group(self, mode: str) -> str:
        return f"{mode} N={self.n} P={self.p} B={self.b}"

    def run_rust(self, mode: str) -> Any:
        return self.net.retrieve(self.queries, update=mode, max_sweeps=MAX_SWEEPS, seed=SEED)

    def run_reference(self, mode: str) -> Any:
        if mode == "async":
            return reference.retrieve_async_batched(
                self.patterns, self.queries, self.async_orders(), max_sweeps=MAX_SWEEPS
            )
        return reference.retrieve_sync(self.patterns, self.queries, max_sweeps=MAX_SWEEPS)

    def async_orders(self) -> np.ndarray:
        """The orders the Rust path uses under ``SEED`` (built once, input to the reference)."""
        if self.orders is None:
            self.orders = hf.sweep_orders(self.n, MAX_SWEEPS, seed=SEED, count=self.b)
        return self.orders

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
    """Identical states, sweeps and convergence flags."""
    np.testing.assert_array_equal(got.states, want.states)
    np.testing.assert_array_equal(got.sweeps, want.sweeps)
    np.testing.assert_array_equal(got.converged, want.converged)


@pytest.fixture(scope="module", params=list(SIZES))
def case(request: pytest.FixtureRequest) -> Case:
    n, p, b = SIZES[request.param]
    patterns = hf.random_patterns(p, n, seed=1)
    queries = hf.corrupt(patterns[np.arange(b) % p], flip=FLIP, seed=2)
    net = hf.HopfieldNetwork(n)
    net.store(patterns)
    return Case(n, p, b, patterns, queries, net)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_retrieve(benchmark, record_ratio, case: Case, mode: str, impl: str) -> None:
    expected = case.check(mode)
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
        queries=case.b,
        flip=FLIP,
        max_sweeps=MAX_SWEEPS,
        simd=hf.simd_level(),
        cpus=os.cpu_count(),
    )
    got = benchmark(target)
    assert_same(got, expected)

    if benchmark.stats:  # timed (not --benchmark-disable)
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["us_per_query"] = seconds / case.b * 1e6
        benchmark.extra_info["queries_per_s"] = case.b / seconds
        record_ratio(benchmark.group, impl, seconds / case.b)
    else:
        record_ratio(benchmark.group, impl, None)
