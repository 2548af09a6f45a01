"""Retrieval on a local Dask cluster against one in-process call.

* ``retrieve``: B queries (N = 1024, P = 102, 10% of spins flipped, async)
  through :func:`hopfield.distributed.retrieve` on a ``LocalCluster`` of 1 and
  2 worker processes (one thread each, ``threads=1`` in every chunk), against
  one in-process ``net.retrieve`` on 1 thread and on all cores. Chunks of
  50,000 rows. The workers read the queries from a ``.npy`` file
  (:func:`hopfield.distributed.load_npy`, memory-mapped, in the page cache
  here) and the states come back to this process, as to a client: that
  traffic is part of the time. Every path's states must equal the
  in-process ones before anything is reported.
* ``overhead``: 1,000 chunks of 2 queries each (100 of 20 under
  ``--benchmark-disable``) on one worker; the time per
  chunk beyond the in-process retrieval of the same queries is Dask's cost
  per task (scheduling, serialisation, the result's transfer).
* ``sharded``: a :class:`hopfield.distributed.ShardedModernHopfield` of
  P = 10⁶ patterns, d = 64, on 2 workers, against one in-process
  :class:`hopfield.ModernHopfield` (256 MB of keys fits here): the time of one
  step for 256 queries and the largest difference of the states.

Sizes: B = 10⁶ with ``--benchmark-only`` (or ``HOPFIELD_DASK_QUERIES=...``),
best of 3 rounds (``HOPFIELD_DASK_ROUNDS=...``);
under ``--benchmark-disable`` (the test run of CI) B = 20,000 and P = 20,000
for the sharded memory, so the checks run in seconds. The lines of results
are printed as they come (``-s`` not needed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import dask.array as da
import hopfield as hf
import numpy as np
import pytest
from distributed import Client, LocalCluster
from hopfield import distributed

N, P = 1024, 102
CHUNK = 50_000


def _full(config: pytest.Config) -> bool:
    return not config.getoption("benchmark_disable", False)


@pytest.fixture(scope="module")
def sizes(request: pytest.FixtureRequest) -> dict[str, int]:
    full = _full(request.config)
    b = int(os.environ.get("HOPFIELD_DASK_QUERIES", 1_000_000 if full else 20_000))
    return {
        "B": b,
        "P_modern": 1_000_000 if full else 20_000,
        "chunks": 1000 if full else 100,
        "rounds": int(os.environ.get("HOPFIELD_DASK_ROUNDS", 3 if full else 1)),
    }


@pytest.fixture(scope="module")
def problem(sizes: dict[str, int], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    net = hf.HopfieldNetwork(N)
    patterns = hf.random_patterns(P, N, seed=0)
    net.store(patterns)
    idx = np.random.default_rng(1).integers(0, P, sizes["B"])
    queries = hf.corrupt(patterns[idx], flip=0.1, seed=2)
    want = net.retrieve(queries, seed=3, threads=1).states
    path = tmp_path_factory.mktemp("dask") / "queries.npy"
    np.save(path, queries)
    return {"net": net, "queries": queries, "want": want, "path": path}


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=request.param,
            threads_per_worker=1,
            dashboard_address=":0",
            memory_limit=0,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n  dask bench: {line}", flush=True)


def _best(benchmark: Any, fn: Callable[[], Any], rounds: int) -> tuple[Any, float]:
    out: list[Any] = []
    times: list[float] = []

    def timed() -> None:
        t = time.perf_counter()
        out.append(fn())
        times.append(time.perf_counter() - t)

    benchmark.pedantic(timed, rounds=rounds, iterations=1)
    return out[-1], min(times)


@pytest.mark.parametrize("threads", [1, None], ids=["1-thread", "all-cores"])
def test_in_process(benchmark, problem, sizes, capsys, threads) -> None:
    benchmark.group = "dask retrieve"
    net, q = problem["net"], problem["queries"]
    states, t = _best(
        benchmark, lambda: net.retrieve(q, seed=3, threads=threads).states, sizes["rounds"]
    )
    np.testing.assert_array_equal(states, problem["want"])
    _report(
        capsys,
        f"in-process threads={threads}: B={len(q)}: {t:.2f} s, {len(q) / t:,.0f} queries/s",
    )


def test_on_workers(benchmark, problem, sizes, capsys, client) -> None:
    benchmark.group = "dask retrieve"
    net, q = problem["net"], problem["queries"]
    workers = len(client.scheduler_info()["workers"])

    def run() -> np.ndarray:
        dq = distributed.load_npy(problem["path"], rows=CHUNK)
        return distributed.retrieve(net, dq, seed=3, threads=1).states.compute()

    states, t = _best(benchmark, run, sizes["rounds"])
    np.testing.assert_array_equal(states, problem["want"])
    _report(
        capsys,
        f"{workers} worker(s): B={len(q)}, chunks of {min(CHUNK, len(q))}: {t:.2f} s, "
        f"{len(q) / t:,.0f} queries/s",
    )


def test_overhead_per_chunk(benchmark, problem, sizes, capsys) -> None:
    benchmark.group = "dask overhead"
    net = problem["net"]
    q = problem["queries"][:2000]
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address=":0", memory_limit=0
        ) as cluster,
        Client(cluster),
    ):
        chunks = sizes["chunks"]
        local = min(
            _timed(lambda: net.retrieve(q, seed=3, threads=1)) for _ in range(sizes["rounds"])
        )

        def run() -> np.ndarray:
            dq = da.from_array(q, chunks=(len(q) // chunks, -1))
            return distributed.retrieve(net, dq, seed=3, threads=1).states.compute()

        states, t = _best(benchmark, run, sizes["rounds"])
    np.testing.assert_array_equal(states, net.retrieve(q, seed=3, threads=1).states)
    _report(
        capsys,
        f"overhead: {chunks} chunks of {len(q) // chunks} queries on 1 worker: {t:.2f} s "
        f"against {local * 1e3:.1f} ms in process: {(t - local) / chunks * 1e3:.2f} ms per chunk",
    )


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def test_sharded_modern(benchmark, sizes, capsys) -> None:
    benchmark.group = "dask sharded modern"
    p, d, b = sizes["P_modern"], 64, 256
    rng = np.random.default_rng(4)
    keys = rng.standard_normal((p, d), dtype=np.float32)
    q = (keys[rng.integers(0, p, b)] + 0.3 * rng.standard_normal((b, d))).astype(np.float32)
    one = hf.ModernHopfield(beta=0.5)
    one.store(keys)
    want = one.retrieve(q).states
    local = min(_timed(lambda: one.retrieve(q)) for _ in range(sizes["rounds"]))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0", memory_limit=0
        ) as cluster,
        Client(cluster) as client,
    ):
        mem = distributed.ShardedModernHopfield(0.5, client, threads=1)
        t_store = _timed(lambda: mem.store(keys))
        states, t = _best(benchmark, lambda: mem.retrieve(q).states, sizes["rounds"])
    diff = float(np.abs(states - want).max())
    np.testing.assert_allclose(states, want, rtol=1e-5, atol=1e-5)
    _report(
        capsys,
        f"sharded modern P={p}, d={d}, B={b} on 2 workers: store {t_store:.2f} s, "
        f"one step {t * 1e3:.0f} ms against {local * 1e3:.0f} ms in process (all cores); "
        f"max |difference| {diff:.2e}",
    )
