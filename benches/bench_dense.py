"""Dense associative memory: the Rust path against the NumPy reference.

N = 1024 neurons, P = 10,000 patterns (about 10 N, far above the classical
0.138 N), B = 1,000 queries (stored patterns with 10% of their spins
flipped), for the cubic (``degree=3``, rectified) and the exponential
(``beta=0.05``) interaction, asynchronous and synchronous. The reference is
the strongest NumPy form we know, vectorised over the batch: for sync the
GEMM form of :func:`hopfield.reference.dense_retrieve_sync` (two float64
BLAS products per step, ``2ΔE = s ⊙ (C X) + Σ(a − b)``; exact for the cubic;
for the exponential the max-shifted log-domain form, ``exact=False``); for
async :func:`hopfield.reference.dense_retrieve_async_batched`, one float64
dot product per query and position. They are slow, so they are timed on
the first ``B_REF`` queries of the same batch and the ratio is taken per
query. Before anything is timed both run once and must return identical
states, sweeps and convergence flags on those queries (for async the
reference gets the neuron orders the Rust path draws, from
:func:`hopfield.sweep_orders`). The exponential's float form could in
principle decide a near-tie differently from the kernel's exact fixed-point
decision (see :mod:`hopfield.reference.dense`); on these inputs it does not.

The floor of a query (``conftest.py``) is two steps of the GEMM form,
``2 · 2 · 2·N·P`` operations at the machine's float32 GEMM peak.

Run with ``python -m pytest benches/bench_dense.py`` for timings (a ratio
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

N, P, B = 1024, 10_000, 1000
#: Queries each reference is timed on (the first of the batch).
B_REF = {"sync": 100, "async": 40}
FLIP = 0.1
MAX_SWEEPS = 20
SEED = 7
INTERACTIONS: dict[str, dict[str, Any]] = {
    "degree3": dict(interaction="polynomial", degree=3, rectified=True),
    "exponential": dict(interaction="exponential", beta=0.05),
}


@dataclass
class Case:
    """Inputs shared by every benchmark of one interaction."""

    name: str
    kw: dict[str, Any]
    patterns: np.ndarray
    queries: np.ndarray
    targets: np.ndarray
    dam: hf.DenseAssociativeMemory
    expected: dict[str, Any] = field(default_factory=dict)
    orders: np.ndarray | None = None
    patterns64: np.ndarray | None = None

    def group(self, mode: str) -> str:
        return f"dense {self.name} {mode} N={N} P={P}"

    def run_rust(self, mode: str) -> Any:
        return self.dam.retrieve(self.queries, update=mode, max_sweeps=MAX_SWEEPS, seed=SEED)

    def run_reference(self, mode: str) -> Any:
        q = self.queries[: B_REF[mode]]
        if self.patterns64 is None:  # kept as float64 once, as a NumPy user would keep them
            self.patterns64 = self.patterns.astype(np.float64)
        if mode == "async":
            orders = self.async_orders()
            return reference.dense_retrieve_async_batched(
                self.patterns64, q, orders, max_sweeps=MAX_SWEEPS, exact=False, **self.kw
            )
        return reference.dense_retrieve_sync(
            self.patterns64, q, max_sweeps=MAX_SWEEPS, exact=False, **self.kw
        )

    def async_orders(self) -> np.ndarray:
        if self.orders is None:
            self.orders = hf.sweep_orders(N, MAX_SWEEPS, seed=SEED, count=B_REF["async"])
        return self.orders

    def check(self, mode: str) -> Any:
        """Run both once, assert they agree on the shared queries, return the Rust result."""
        if mode not in self.expected:
            rust = self.run_rust(mode)
            assert_same(rust, self.run_reference(mode))
            hit = (rust.states == self.targets).all(axis=1).mean()
            assert hit > 0.95, f"{self.name} {mode}: only {hit:.1%} retrieved exactly"
            self.expected[mode] = rust
        return self.expected[mode]


def assert_same(got: Any, want: Any) -> None:
    """Identical states, sweeps and convergence flags on the reference's rows."""
    k = len(want.states)
    np.testing.assert_array_equal(got.states[:k], want.states)
    np.testing.assert_array_equal(got.sweeps[:k], want.sweeps)
    np.testing.assert_array_equal(got.converged[:k], want.converged)


@pytest.fixture(scope="module", params=list(INTERACTIONS))
def case(request: pytest.FixtureRequest) -> Case:
    kw = INTERACTIONS[request.param]
    patterns = hf.random_patterns(P, N, seed=1)
    targets = patterns[np.arange(B) % P]
    queries = hf.corrupt(targets, flip=FLIP, seed=2)
    dam = hf.DenseAssociativeMemory(N, **kw)
    dam.store(patterns)
    return Case(request.param, kw, patterns, queries, targets, dam)


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_dense_retrieve(benchmark, record_ratio, case: Case, mode: str, impl: str) -> None:
    expected = case.check(mode)
    if impl == "rust":
        count = B

        def target() -> Any:
            return case.run_rust(mode)
    else:
        count = B_REF[mode]
        if mode == "async":
            case.async_orders()  # built outside the timed region

        def target() -> Any:
            return case.run_reference(mode)

    benchmark.group = case.group(mode)
    benchmark.extra_info.update(
        impl=impl,
        mode=mode,
        n=N,
        patterns=P,
        queries=count,
        flip=FLIP,
        max_sweeps=MAX_SWEEPS,
        simd=hf.simd_level(),
        cpus=os.cpu_count(),
        **case.kw,
    )
    got = benchmark.pedantic(target, rounds=3, iterations=1)
    assert_same(expected, got)  # every row for Rust, the reference's rows for it

    if benchmark.stats:  # timed (not --benchmark-disable)
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["us_per_query"] = seconds / count * 1e6
        record_ratio(benchmark.group, impl, seconds / count, Work(flops32=8 * N * P))
    else:
        record_ratio(benchmark.group, impl, None)
