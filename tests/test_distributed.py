"""hopfield.distributed: Dask retrieval, the sharded modern memory and the
experiments on executors give the answers of one machine.

The clusters are real: a ``LocalCluster`` of two worker *processes* with one
thread each (started once for the module), and an in-process one
(``processes=False``) for the cheaper checks.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import dask
import dask.array as da
import hopfield as hf
import numpy as np
import pytest
from distributed import Client, LocalCluster
from hopfield import distributed
from hopfield.lab import cli

SPIN_MODELS = {
    "hebbian": lambda n: hf.HopfieldNetwork(n),
    "storkey": lambda n: hf.HopfieldNetwork(n, rule="storkey"),
    "dense": lambda n: hf.DenseAssociativeMemory(n, interaction="polynomial", degree=3),
}
CHUNKINGS = [(97,), (1, 96), (7,) * 13 + (6,), (50, 3, 44)]


def _model(kind: str, n: int = 80, p: int = 6) -> hf.HopfieldNetwork:
    net = SPIN_MODELS[kind](n)
    net.store(hf.random_patterns(p, n, seed=1))
    return net


def _queries(b: int = 97, n: int = 80) -> np.ndarray:
    return hf.corrupt(hf.random_patterns(b, n, seed=2), flip=0.3, seed=3)


def _same(got: hf.Retrieval, want: hf.Retrieval) -> None:
    for name in ("states", "converged", "sweeps", "energy", "cycled"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


@pytest.fixture(scope="module")
def threads_client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def process_client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


# ---------------------------------------------------------------------------
# first_row: the global index of a batch's first query


@pytest.mark.parametrize(
    "options",
    [
        {"update": "async"},
        {"update": "async", "temperature": 0.7, "sweeps": 5},
        {"update": "async", "schedule": ("geometric", 2.0, 0.1), "sweeps": 4},
        {"update": "sync"},
    ],
)
def test_first_row_makes_parts_of_a_batch_equal_the_whole(options: dict) -> None:
    net = _model("hebbian")
    q = _queries()
    whole = net.retrieve(q, seed=5, **options)
    for lo, hi in [(0, 40), (40, 41), (41, 97)]:
        part = net.retrieve(q[lo:hi], seed=5, first_row=lo, **options)
        np.testing.assert_array_equal(part.states, whole.states[lo:hi])
        np.testing.assert_array_equal(part.sweeps, whole.sweeps[lo:hi])
    if options["update"] == "async":
        # Without it, a part draws the streams of rows 0.. and ends elsewhere.
        shifted = net.retrieve(q[41:], seed=5, **options)
        assert not np.array_equal(shifted.states, whole.states[41:])


def test_first_row_is_checked() -> None:
    net = _model("hebbian")
    q = _queries(4)
    with pytest.raises(ValueError, match="first_row must be at least 0"):
        net.retrieve(q, first_row=-1)
    with pytest.raises(ValueError, match=r"first_row must be below 2\*\*63"):
        net.retrieve(q, first_row=2**63)
    with pytest.raises(TypeError, match="first_row must be an integer"):
        net.retrieve(q, first_row=1.5)
    opts = hf._core.RetrieveOptions(
        update="async",
        max_sweeps=3,
        order="random",
        seed=0,
        threads=None,
        track_energy=False,
        temperature=0.0,
        sweeps=None,
        schedule=None,
        first_row=12,
    )
    assert opts.first_row == 12


# ---------------------------------------------------------------------------
# retrieval over a Dask array


@pytest.mark.parametrize("kind", sorted(SPIN_MODELS))
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_retrieve_equals_one_call_for_any_chunking(kind: str, chunks: tuple) -> None:
    """Dask's local scheduler, the model in the graph as it is."""
    net = _model(kind)
    q = _queries()
    dq = da.from_array(q, chunks=(chunks, -1))
    for options in ({"seed": 9}, {"seed": 9, "temperature": 0.5, "sweeps": 3}):
        res = distributed.retrieve(net, dq, **options)
        assert isinstance(res.states, da.Array) and res.states.chunks[0] == chunks
        _same(res.compute(), net.retrieve(q, **options))


def test_retrieve_draws_one_seed_for_every_chunk() -> None:
    net = _model("hebbian")
    q = _queries()
    res = distributed.retrieve(net, da.from_array(q, chunks=(10, -1)), temperature=0.3)
    assert 0 <= res.seed < 2**64
    _same(res.compute(), net.retrieve(q, seed=res.seed, temperature=0.3))


@pytest.mark.parametrize("chunks", [(60,), (1, 59), (7,) * 8 + (4,)])
def test_modern_retrieve_equals_one_call(chunks: tuple) -> None:
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((300, 16)).astype(np.float32)
    net = hf.ModernHopfield(beta=2.0)
    net.store(keys)
    q = (keys[:60] + 0.3 * rng.standard_normal((60, 16))).astype(np.float32)
    dq = da.from_array(q, chunks=(chunks, -1))
    for options in ({}, {"steps": 3}, {"tol": 1e-4, "max_steps": 20}):
        got = distributed.retrieve(net, dq, **options).compute()
        want = net.retrieve(q, **options)
        np.testing.assert_array_equal(got.states, want.states)
        np.testing.assert_array_equal(got.steps, want.steps)
        np.testing.assert_array_equal(got.converged, want.converged)


@pytest.mark.parametrize("kind", sorted(SPIN_MODELS))
@pytest.mark.parametrize("chunks", [(97,), (7,) * 13 + (6,), (50, 3, 44)])
def test_retrieve_passes_clamp_on_for_any_chunking(kind: str, chunks: tuple) -> None:
    net = _model(kind)
    q = _queries()
    dq = da.from_array(q, chunks=(chunks, -1))
    rng = np.random.default_rng(4)
    shared = np.arange(80) < 30
    per_row = rng.random((97, 80)) < 0.4
    lazy = da.from_array(per_row, chunks=(40, 20))  # other chunks than the queries'
    for clamp, want_mask in ((shared, shared), (per_row, per_row), (lazy, per_row)):
        for options in (
            {"seed": 9},
            {"seed": 9, "update": "sync"},
            {"seed": 9, "sweeps": 2, "temperature": 0.5},
        ):
            got = distributed.retrieve(net, dq, clamp=clamp, **options).compute()
            want = net.retrieve(q, clamp=want_mask, **options)
            _same(got, want)
            held = np.broadcast_to(want_mask, q.shape)
            np.testing.assert_array_equal(got.states[held], q[held])
    free = distributed.retrieve(net, dq, seed=9).compute()
    assert not np.array_equal(free.states, net.retrieve(q, seed=9, clamp=per_row).states)


def test_modern_retrieve_passes_clamp_and_known_on() -> None:
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((200, 16)).astype(np.float32)
    net = hf.ModernHopfield(beta=2.0)
    net.store(keys)
    q = (keys[:30] + 0.3 * rng.standard_normal((30, 16))).astype(np.float32)
    dq = da.from_array(q, chunks=((7, 7, 7, 9), -1))
    known = rng.random((30, 16)) < 0.5
    for masks in ({"clamp": known}, {"known": known[0]}, {"clamp": known, "known": known}):
        got = distributed.retrieve(net, dq, steps=3, **masks).compute()
        want = net.retrieve(q, steps=3, **masks)
        np.testing.assert_array_equal(got.states, want.states)
        np.testing.assert_array_equal(got.steps, want.steps)
    lazy = da.from_array(known, chunks=(10, -1))
    got = distributed.retrieve(net, dq, steps=3, clamp=lazy).compute()
    np.testing.assert_array_equal(got.states, net.retrieve(q, steps=3, clamp=known).states)


def test_retrieve_checks_the_masks_at_once() -> None:
    net = _model("hebbian")
    dq = da.from_array(_queries(), chunks=(10, -1))
    with pytest.raises(TypeError, match="clamp must be a boolean mask"):
        distributed.retrieve(net, dq, clamp=np.ones(80, dtype=np.int8))
    with pytest.raises(ValueError, match=r"clamp must have shape \(n,\) = \(80,\)"):
        distributed.retrieve(net, dq, clamp=np.ones(79, dtype=bool))
    with pytest.raises(ValueError, match=r"clamp must have shape"):
        distributed.retrieve(net, dq, clamp=np.ones((96, 80), dtype=bool))
    with pytest.raises(TypeError, match="clamp must be a boolean mask"):
        distributed.retrieve(net, dq, clamp=da.ones((97, 80), chunks=(10, -1)))
    with pytest.raises(ValueError, match=r"clamp as a Dask array must have shape \(B, N\)"):
        distributed.retrieve(net, dq, clamp=da.ones(80, dtype=bool, chunks=10))
    modern = hf.ModernHopfield()
    modern.store(np.eye(3, dtype=np.float32))
    with pytest.raises(TypeError, match="known must be a boolean mask"):
        distributed.retrieve(modern, da.zeros((4, 3), chunks=(2, -1)), known=np.ones(3))


def test_retrieve_on_a_cluster_ships_the_model_once(threads_client: Client) -> None:
    net = _model("hebbian")
    q = _queries()
    res = distributed.retrieve(net, da.from_array(q, chunks=(10, -1)), seed=4)
    graph = dict(res.states.__dask_graph__())
    # The tasks refer to the scattered model; none carries a copy of it.
    assert not any(isinstance(v, hf.HopfieldNetwork) for v in graph.values())
    assert "HopfieldNetwork" in str(threads_client.has_what())
    held = [keys for keys in threads_client.has_what().values()]
    assert all(any("HopfieldNetwork" in k for k in keys) for keys in held)
    _same(res.compute(), net.retrieve(q, seed=4))


@pytest.mark.parametrize("chunks", [(97,), (13,) * 7 + (6,), (1, 95, 1)])
def test_retrieve_on_worker_processes_is_bit_identical(
    process_client: Client, chunks: tuple
) -> None:
    for kind in ("hebbian", "dense"):
        net = _model(kind)
        q = _queries()
        dq = da.from_array(q, chunks=(chunks, -1))
        options = {"seed": 11, "temperature": 0.4, "sweeps": 4}
        _same(distributed.retrieve(net, dq, **options).compute(), net.retrieve(q, **options))


def test_a_killed_worker_changes_nothing(process_client: Client) -> None:
    net = _model("hebbian", n=256, p=20)
    q = hf.corrupt(hf.random_patterns(4000, 256, seed=5), flip=0.2, seed=6)
    want = net.retrieve(q, seed=3)
    res = distributed.retrieve(net, da.from_array(q, chunks=(100, -1)), seed=3)
    futures = process_client.compute([res.states, res.sweeps, res.converged])
    pids = process_client.run(os.getpid)
    victim = next(iter(pids.values()))
    time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)  # its tasks and results are lost and redone
    states, sweeps, converged = process_client.gather(futures)
    np.testing.assert_array_equal(states, want.states)
    np.testing.assert_array_equal(sweeps, want.sweeps)
    np.testing.assert_array_equal(converged, want.converged)
    process_client.wait_for_workers(2, timeout=60)
    assert victim not in process_client.run(os.getpid).values()


def test_retrieve_rejects_bad_input() -> None:
    net = _model("hebbian")
    q = _queries()
    with pytest.raises(TypeError, match="queries must be a dask.array.Array"):
        distributed.retrieve(net, q)
    with pytest.raises(ValueError, match=r"split each row into 2 pieces.*rechunk"):
        distributed.retrieve(net, da.from_array(q, chunks=(10, 40)))
    with pytest.raises(ValueError, match="N = 80 columns"):
        distributed.retrieve(net, da.from_array(q[:, :79], chunks=(10, -1)))
    with pytest.raises(ValueError, match=r"2-D"):
        distributed.retrieve(net, da.from_array(q[0], chunks=10))
    with pytest.raises(ValueError, match="max_sweeps must be at least 1"):
        distributed.retrieve(net, da.from_array(q, chunks=(10, -1)), max_sweeps=0)
    with pytest.raises(ValueError, match="track_energy"):
        distributed.retrieve(net, da.from_array(q, chunks=(10, -1)), track_energy=True)
    with pytest.raises(TypeError, match="first_row"):
        distributed.retrieve(net, da.from_array(q, chunks=(10, -1)), first_row=3)
    with pytest.raises(TypeError, match="unexpected option 'steps'"):
        distributed.retrieve(net, da.from_array(q, chunks=(10, -1)), steps=3)
    with pytest.raises(TypeError, match="model must be"):
        distributed.retrieve(object(), da.from_array(q, chunks=(10, -1)))
    unknown = da.from_array(q, chunks=(10, -1))
    unknown = unknown[unknown[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown size"):
        distributed.retrieve(net, unknown)
    modern = hf.ModernHopfield()
    with pytest.raises(ValueError, match="no patterns stored"):
        distributed.retrieve(modern, da.zeros((4, 3), chunks=(2, -1)))
    modern.store(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="d = 3 columns"):
        distributed.retrieve(modern, da.zeros((4, 5), chunks=(2, -1)))
    with pytest.raises(TypeError, match="no option 'seed'"):
        distributed.retrieve(modern, da.zeros((4, 3), chunks=(2, -1)), seed=1)


# ---------------------------------------------------------------------------
# out of core


def test_memory_mapped_queries_stream_through_into_a_file(tmp_path) -> None:
    net = _model("hebbian")
    q = _queries()
    np.save(tmp_path / "q.npy", q)
    dq = distributed.load_npy(tmp_path / "q.npy", rows=16)
    assert dq.chunks[0] == (16,) * 6 + (1,)
    np.testing.assert_array_equal(dq.compute(), q)
    res = distributed.retrieve(net, dq, seed=8)
    distributed.store_npy(res.states, tmp_path / "states.npy")
    distributed.store_npy(res.sweeps, tmp_path / "sweeps.npy")
    want = net.retrieve(q, seed=8)
    np.testing.assert_array_equal(np.load(tmp_path / "states.npy"), want.states)
    np.testing.assert_array_equal(np.load(tmp_path / "sweeps.npy"), want.sweeps)
    with pytest.raises(ValueError, match="rows must be an integer >= 1"):
        distributed.load_npy(tmp_path / "q.npy", rows=0)
    np.save(tmp_path / "flat.npy", q[0])
    with pytest.raises(ValueError, match="2-D array"):
        distributed.load_npy(tmp_path / "flat.npy", rows=4)
    with pytest.raises(TypeError, match="dask.array.Array"):
        distributed.store_npy(q, tmp_path / "x.npy")


def test_out_of_core_on_worker_processes(process_client: Client, tmp_path) -> None:
    net = _model("dense")
    q = _queries()
    np.save(tmp_path / "q.npy", q)
    res = distributed.retrieve(net, distributed.load_npy(tmp_path / "q.npy", rows=20), seed=1)
    distributed.store_npy(res.states, tmp_path / "out.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), net.retrieve(q, seed=1).states)


# ---------------------------------------------------------------------------
# the sharded modern memory


def _keys(p: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((p, d)).astype(np.float32)


def test_sharded_memory_equals_one_memory(process_client: Client) -> None:
    keys = _keys(5000, 24, 0)
    more = _keys(1500, 24, 1)
    rng = np.random.default_rng(2)
    q = (keys[::250] + 0.2 * rng.standard_normal((20, 24))).astype(np.float32)
    one = hf.ModernHopfield(beta=0.8)
    one.store(keys)
    one.store(more)
    mem = distributed.ShardedModernHopfield(0.8, process_client)
    mem.store(keys)  # NumPy: one piece per worker
    mem.store(da.from_array(more, chunks=(400, -1)))  # Dask: one shard per chunk
    assert mem.num_patterns == 6500 and mem.shards == [2500, 2500, 400, 400, 400, 300]
    assert mem.dim == mem.value_dim == 24
    for options in ({}, {"steps": 3}, {"tol": 1e-5, "max_steps": 30}):
        got, want = mem.retrieve(q, **options), one.retrieve(q, **options)
        np.testing.assert_allclose(got.states, want.states, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got.steps, want.steps)
        np.testing.assert_array_equal(got.converged, want.converged)
    np.testing.assert_allclose(mem.energy(q), one.energy(q), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(mem.attention(q), one.attention(q), rtol=1e-6, atol=1e-12)
    single = mem.retrieve(q[3])
    assert single.states.shape == (24,) and isinstance(single.steps, int)
    assert isinstance(mem.energy(q[3]), float)
    mem.beta = 3.0
    one.beta = 3.0
    np.testing.assert_allclose(mem.retrieve(q).states, one.retrieve(q).states, rtol=1e-5, atol=1e-6)


def test_sharded_hetero_memory_is_attention(threads_client: Client) -> None:
    keys, values = _keys(3000, 16, 3), _keys(3000, 5, 4)
    q = _keys(9, 16, 5)
    d = 16
    one = hf.ModernHopfield(beta=1 / np.sqrt(d))
    one.store(keys, values)
    mem = distributed.ShardedModernHopfield(1 / np.sqrt(d), threads_client)
    mem.store(keys[:1000], values[:1000])
    mem.store(da.from_array(keys[1000:], chunks=(700, -1)), da.from_array(values[1000:]))
    np.testing.assert_allclose(mem.retrieve(q).states, one.retrieve(q).states, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="auto-association"):
        mem.retrieve(q, steps=2)
    with pytest.raises(ValueError, match="every store gives values or none"):
        mem.store(keys[:10])


def test_sharded_memory_rejects_bad_input(threads_client: Client) -> None:
    with pytest.raises(TypeError, match="distributed.Client"):
        distributed.ShardedModernHopfield(1.0, None)
    with pytest.raises(ValueError, match="beta"):
        distributed.ShardedModernHopfield(-1.0, threads_client)
    mem = distributed.ShardedModernHopfield(1.0, threads_client)
    with pytest.raises(ValueError, match="no patterns stored"):
        mem.retrieve(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="finite"):
        mem.store(np.array([[1.0, np.nan]]))
    mem.store(_keys(10, 4, 0))
    with pytest.raises(ValueError, match="d = 4 columns"):
        mem.store(_keys(10, 5, 0))
    with pytest.raises(ValueError, match="queries"):
        mem.retrieve(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="steps must be at least 1"):
        mem.retrieve(np.zeros((2, 4), np.float32), steps=0)


# ---------------------------------------------------------------------------
# experiments on executors


def _equal_results(a: object, b: object) -> None:
    assert json.dumps(a.as_dict(), sort_keys=True) == json.dumps(b.as_dict(), sort_keys=True)


def _experiments(executor: object) -> list:
    pats = hf.random_patterns(8, 100, seed=0)
    return [
        hf.experiments.capacity_curve(
            "hebbian", 100, [0.05, 0.1, 0.2], trials=3, noise=0.1, seed=1, executor=executor
        ),
        hf.experiments.noise_robustness(
            "dense-poly3", pats, [0.0, 0.2, 0.4], trials=3, seed=2, executor=executor
        ),
        hf.experiments.basin_size("hebbian", pats, trials=4, seed=3, executor=executor),
        hf.experiments.spurious_census("hebbian", 9000, patterns=pats, seed=4, executor=executor),
    ]


def test_experiments_on_executors_equal_the_serial_run(process_client: Client) -> None:
    serial = _experiments(None)
    with ThreadPoolExecutor(3) as pool:
        for got, want in zip(_experiments(pool), serial, strict=True):
            _equal_results(got, want)
    for got, want in zip(_experiments(process_client.get_executor()), serial, strict=True):
        _equal_results(got, want)


def test_experiments_on_a_process_pool() -> None:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        got = hf.experiments.capacity_curve(
            "hebbian", 100, [0.1, 0.3], trials=2, seed=5, executor=pool
        )
    want = hf.experiments.capacity_curve("hebbian", 100, [0.1, 0.3], trials=2, seed=5)
    _equal_results(got, want)


def test_experiments_reject_a_non_executor() -> None:
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        hf.experiments.capacity_curve("hebbian", 50, [0.1], executor=4)
    with pytest.raises(ValueError, match="model must be one of"):
        with ThreadPoolExecutor(1) as pool:
            hf.experiments.capacity_curve("nope", 50, [0.1], executor=pool)


def test_cli_runs_on_a_local_cluster(tmp_path, capsys) -> None:
    args = ["capacity", "--n", "60", "--loads", "0.05,0.2", "--trials", "2", "--no-progress"]
    assert cli.main([*args, "--json", str(tmp_path / "here.json")]) == 0
    assert cli.main([*args, "--workers", "2", "--json", str(tmp_path / "there.json")]) == 0
    here = json.loads((tmp_path / "here.json").read_text())
    there = json.loads((tmp_path / "there.json").read_text())
    assert here == there and here["command"] == "capacity"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main([*args, "--workers", "2", "--scheduler", "tcp://x:1"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_reports_an_unreachable_scheduler(capsys) -> None:
    args = ["robustness", "--n", "40", "--no-progress", "--scheduler", "tcp://127.0.0.1:9"]
    assert cli.main(args) == 2
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in capsys.readouterr().err


def test_distributed_is_a_module_of_the_face() -> None:
    import hopfield.lab.distributed as lab

    assert distributed is lab and hf.distributed is lab
    assert not isinstance(dask.config.get("scheduler", None), Client)
    # dask stays optional: ``import hopfield`` does not import it
    code = "import sys, hopfield; print(sorted(m for m in sys.modules if 'dask' in m))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip() == "[]"
