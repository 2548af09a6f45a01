"""Throughput against threads, per model.

Each model runs the same batch with ``threads=`` 1, 2, 4, ... up to the
machine's cores (at most 16); the end of the session prints queries per
second and the parallel efficiency (speed-up over one thread divided by
the threads). Every thread count must give the same states (results do not
depend on threads).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import hopfield as hf
import numpy as np
import pytest

THREADS = [t for t in (1, 2, 4, 8, 16) if t <= max(os.cpu_count() or 1, 2)]


def _models() -> dict[str, tuple[int, Callable[[int], Any]]]:
    n, p, b = 1024, 102, 4000
    patterns = hf.random_patterns(p, n, seed=1)
    queries = hf.corrupt(patterns[np.arange(b) % p], flip=0.1, seed=2)
    net = hf.HopfieldNetwork(n)
    net.store(patterns)
    dense_patterns = hf.random_patterns(2000, 256, seed=3)
    dense_queries = hf.corrupt(dense_patterns[np.arange(400) % 2000], flip=0.1, seed=4)
    dense = hf.DenseAssociativeMemory(256, degree=3)
    dense.store(dense_patterns)
    rng = np.random.default_rng(5)
    keys = rng.standard_normal((4000, 256), dtype=np.float32)
    mq = keys[:400] + 0.2 * rng.standard_normal((400, 256), dtype=np.float32)
    moderns = {}
    for t in THREADS:
        moderns[t] = hf.ModernHopfield(beta=1 / 16, threads=t)
        moderns[t].store(keys)
    return {
        f"classical async N={n} B={b}": (b, lambda t: net.retrieve(queries, seed=7, threads=t)),
        f"classical sync N={n} B={b}": (
            b,
            lambda t: net.retrieve(queries, update="sync", threads=t),
        ),
        "dense x^3 sync N=256 P=2000 B=400": (
            400,
            lambda t: dense.retrieve(dense_queries, update="sync", threads=t),
        ),
        "modern d=256 P=4000 B=400": (400, lambda t: moderns[t].retrieve(mq)),
    }


MODELS = _models()
_FIRST: dict[str, np.ndarray] = {}


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("model", list(MODELS))
def test_scaling(benchmark, record_scaling, model: str, threads: int) -> None:
    count, run = MODELS[model]
    states = np.asarray(run(threads).states)
    first = _FIRST.setdefault(model, states)
    np.testing.assert_array_equal(states, first)  # independent of threads
    benchmark.group = f"scaling {model}"
    benchmark.extra_info.update(threads=threads, queries=count)
    benchmark.pedantic(lambda: run(threads), rounds=3, iterations=1)
    seconds = benchmark.stats.stats.median / count if benchmark.stats else None
    record_scaling(model, threads, seconds)
