"""``hopfield bench``: every model's Rust path against its NumPy reference.

:data:`BENCHES` maps a name to a function ``(quick, seed, threads) -> Bench``;
adding a model to the table is one entry. Each bench first checks that the
Rust path and the reference agree on the same inputs, then times both (best
of ``repeats``) and reports the time per query.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import reference
from ..dense import DenseAssociativeMemory
from ..modern import ModernHopfield
from ..network import HopfieldNetwork, sweep_orders
from ..sampling import acceptance_uniforms
from ..spins import corrupt, random_patterns

__all__ = ["BENCHES", "Bench", "BenchRow", "run_bench"]


@dataclass
class Bench:
    """One comparison: two callables on the same inputs and how to compare them.

    ``rust()`` and ``reference()`` return results; ``agree(rust_result,
    reference_result)`` says whether they match. ``rust_queries`` and
    ``reference_queries`` are the batch sizes each call handles (the
    reference may run on a prefix when it is slow).
    """

    size: str
    rust: Callable[[], Any]
    reference: Callable[[], Any]
    agree: Callable[[Any, Any], bool]
    rust_queries: int
    reference_queries: int


@dataclass(frozen=True)
class BenchRow:
    """A line of the ratio table (times in seconds per query)."""

    name: str
    size: str
    rust_per_query: float
    reference_per_query: float
    speedup: float
    agree: bool


def _hebbian_case(quick: bool, seed: int) -> tuple[HopfieldNetwork, np.ndarray, np.ndarray]:
    n, b = (256, 400) if quick else (1024, 4000)
    p = round(0.1 * n)
    rng = np.random.default_rng(seed)
    patterns = random_patterns(p, n, seed=rng)
    queries = corrupt(patterns[np.arange(b) % p], flip=0.1, seed=rng)
    net = HopfieldNetwork(n)
    net.store(patterns)
    return net, patterns, queries


def _hebbian_async(quick: bool, seed: int, threads: int | None) -> Bench:
    net, patterns, queries = _hebbian_case(quick, seed)
    n, b = net.n, len(queries)
    m = min(b, 200 if quick else 1000)
    first = net.retrieve(queries[:m], seed=seed, threads=threads)
    sweeps = int(np.max(first.sweeps))
    orders = sweep_orders(n, sweeps, seed=seed, count=m)
    return Bench(
        size=f"N={n} P={patterns.shape[0]} B={b}",
        rust=lambda: net.retrieve(queries, seed=seed, threads=threads).states,
        reference=lambda: (
            reference.retrieve_async_batched(
                patterns, queries[:m], orders, max_sweeps=sweeps
            ).states
        ),
        agree=lambda r, f: bool(np.array_equal(r[:m], f)),
        rust_queries=b,
        reference_queries=m,
    )


def _hebbian_sync(quick: bool, seed: int, threads: int | None) -> Bench:
    net, patterns, queries = _hebbian_case(quick, seed)
    return Bench(
        size=f"N={net.n} P={patterns.shape[0]} B={len(queries)}",
        rust=lambda: net.retrieve(queries, update="sync", seed=seed, threads=threads).states,
        reference=lambda: reference.retrieve_sync(patterns, queries).states,
        agree=lambda r, f: bool(np.array_equal(r, f)),
        rust_queries=len(queries),
        reference_queries=len(queries),
    )


def _modern(quick: bool, seed: int, threads: int | None) -> Bench:
    d, p, b = (128, 2000, 200) if quick else (512, 20_000, 2000)
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((p, d), dtype=np.float32)
    queries = keys[:b] + 0.2 * rng.standard_normal((b, d), dtype=np.float32)
    beta = 1.0 / math.sqrt(d)
    net = ModernHopfield(beta, threads=threads)
    net.store(keys)

    def agree(r: np.ndarray, f: np.ndarray) -> bool:
        want = reference.modern_update(keys, queries, beta)
        return bool(np.allclose(r, want, rtol=0, atol=1e-4 * np.abs(want).max()))

    return Bench(
        size=f"d={d} P={p} B={b}",
        rust=lambda: net.retrieve(queries).states,
        reference=lambda: reference.modern_update(keys, queries, beta, dtype=np.float32),
        agree=agree,
        rust_queries=b,
        reference_queries=b,
    )


def _dense_case(
    quick: bool, seed: int, interaction: str
) -> tuple[DenseAssociativeMemory, np.ndarray, np.ndarray, dict[str, Any]]:
    n, p, b = (128, 512, 400) if quick else (256, 2048, 2000)
    rng = np.random.default_rng(seed)
    patterns = random_patterns(p, n, seed=rng)
    queries = corrupt(patterns[np.arange(b) % p], flip=0.1, seed=rng)
    kw: dict[str, Any] = {"interaction": interaction, "degree": 3, "rectified": True, "beta": 0.5}
    net = DenseAssociativeMemory(n, **kw)
    net.store(patterns)
    return net, patterns, queries, kw


def _dense(interaction: str, update: str) -> Callable[[bool, int, int | None], Bench]:
    """Dense associative memory, async or sync, against the batched reference
    (which runs on a prefix of the queries: it is slow)."""

    def build(quick: bool, seed: int, threads: int | None) -> Bench:
        net, patterns, queries, kw = _dense_case(quick, seed, interaction)
        n, b = net.n, len(queries)
        m = min(b, 40 if quick else 100)
        if update == "sync":

            def ref() -> Any:
                return reference.dense_retrieve_sync(patterns, queries[:m], **kw).states

        else:
            first = net.retrieve(queries[:m], seed=seed, threads=threads)
            sweeps = int(np.max(first.sweeps))
            orders = sweep_orders(n, sweeps, seed=seed, count=m)

            def ref() -> Any:
                return reference.dense_retrieve_async_batched(
                    patterns, queries[:m], orders, max_sweeps=sweeps, **kw
                ).states

        return Bench(
            size=f"N={n} P={patterns.shape[0]} B={b}",
            rust=lambda: net.retrieve(queries, update=update, seed=seed, threads=threads).states,
            reference=ref,
            agree=lambda r, f: bool(np.array_equal(r[:m], f)),
            rust_queries=b,
            reference_queries=m,
        )

    return build


def _glauber(quick: bool, seed: int, threads: int | None) -> Bench:
    """Stochastic (Glauber) sweeps of the Hebbian network at T = 0.5, per
    chain, against the reference replaying the same orders and uniforms."""
    net, patterns, queries = _hebbian_case(quick, seed)
    n, sweeps, t = net.n, 5, 0.5
    b = min(len(queries), 256)
    chains = queries[:b]
    orders = sweep_orders(n, sweeps, seed=seed, count=b)
    uniforms = acceptance_uniforms(n, sweeps, seed=seed, count=b)
    temps = np.full(sweeps, t)
    return Bench(
        size=f"N={n} P={patterns.shape[0]} chains={b} sweeps={sweeps}",
        rust=lambda: (
            net.retrieve(chains, temperature=t, sweeps=sweeps, seed=seed, threads=threads).states
        ),
        reference=lambda: reference.glauber_hebbian(patterns, chains, orders, uniforms, temps)[0],
        agree=lambda r, f: bool(np.array_equal(r, f)),
        rust_queries=b,
        reference_queries=b,
    )


#: Bench name -> builder ``(quick, seed, threads) -> Bench``.
BENCHES: dict[str, Callable[[bool, int, int | None], Bench]] = {
    "hebbian-async": _hebbian_async,
    "hebbian-sync": _hebbian_sync,
    "modern": _modern,
    "dense-poly3-async": _dense("polynomial", "async"),
    "dense-poly3-sync": _dense("polynomial", "sync"),
    "dense-exp-async": _dense("exponential", "async"),
    "dense-exp-sync": _dense("exponential", "sync"),
    "hebbian-glauber": _glauber,
}


def _best(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def run_bench(name: str, *, quick: bool, seed: int, threads: int | None, repeats: int) -> BenchRow:
    """Build, check and time one entry of :data:`BENCHES`."""
    case = BENCHES[name](quick, seed, threads)
    case.rust()  # warm up (thread pool, caches)
    r, t_rust = _best(case.rust, repeats)
    f, t_ref = _best(case.reference, repeats)
    rust_q = t_rust / case.rust_queries
    ref_q = t_ref / case.reference_queries
    return BenchRow(name, case.size, rust_q, ref_q, ref_q / rust_q, case.agree(r, f))
