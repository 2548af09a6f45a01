"""Experiments: the Rust-backed measurements against their NumPy reference.

* ``capacity N=1000 P=138``: one load of :func:`hopfield.experiments.capacity_curve`
  (store, fixed-point check, retrieval of every pattern from itself) against
  :func:`hopfield.reference.capacity_point` on the same patterns, with the
  neuron orders the Rust run drew, so both measure the same numbers;
* ``similarity`` and ``hamming`` of P = 500 patterns of N = 1024: the
  XOR + popcount kernel against integer matrix products / comparisons.

Times are per pattern. Run with ``python -m pytest benches/bench_experiments.py``
(the ratio table is printed at the end, see ``conftest.py``).
"""

from __future__ import annotations

from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import experiments as ex
from hopfield import reference

N, LOAD, SEED = 1000, 0.138, 3


class Recorder(hf.HopfieldNetwork):
    """Keeps what the capacity run stored and retrieved, for the reference."""

    last: dict[str, Any] = {}

    def store(self, patterns):  # type: ignore[no-untyped-def]
        Recorder.last["patterns"] = np.array(patterns)
        super().store(patterns)

    def retrieve(self, queries, **kw):  # type: ignore[no-untyped-def]
        res = super().retrieve(queries, **kw)
        if kw["max_sweeps"] > 1:
            Recorder.last.update(queries=np.array(queries), seed=kw["seed"], result=res)
        return res


@pytest.fixture(scope="module")
def capacity_case() -> dict[str, Any]:
    r = ex.capacity_curve(Recorder, N, [LOAD], seed=SEED)
    last = dict(Recorder.last)
    sweeps = int(last["result"].sweeps.max())
    orders = hf.sweep_orders(N, sweeps, seed=last["seed"], count=len(last["queries"]))
    point = reference.capacity_point(last["patterns"], last["queries"], orders, max_sweeps=sweeps)
    assert r.mean_overlap[0] == pytest.approx(point.mean_overlap)
    assert r.exact_fraction[0] == pytest.approx(point.exact_fraction)
    assert r.fixed_fraction[0] == pytest.approx(point.fixed_fraction)
    return {**last, "orders": orders, "sweeps": sweeps, "point": point}


@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_capacity(benchmark, record_ratio, capacity_case: dict[str, Any], impl: str) -> None:
    c = capacity_case
    p = len(c["patterns"])
    if impl == "rust":

        def target() -> Any:
            r = ex.capacity_curve("hebbian", N, [LOAD], seed=SEED)
            return r.mean_overlap[0], r.exact_fraction[0], r.fixed_fraction[0]
    else:

        def target() -> Any:
            return tuple(
                reference.capacity_point(
                    c["patterns"], c["queries"], c["orders"], max_sweeps=c["sweeps"]
                )
            )

    benchmark.group = f"capacity N={N} P={p}"
    got = benchmark(target)
    assert np.allclose(got, tuple(c["point"]))
    record_ratio(
        benchmark.group, impl, benchmark.stats.stats.median / p if benchmark.stats else None
    )


@pytest.fixture(scope="module")
def many() -> np.ndarray:
    return hf.random_patterns(500, 1024, seed=4)


@pytest.mark.parametrize("what", ["similarity", "hamming"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_pattern_matrices(benchmark, record_ratio, many: np.ndarray, what: str, impl: str) -> None:
    fn = {
        ("similarity", "rust"): ex.similarity_matrix,
        ("similarity", "reference"): reference.similarity_matrix,
        ("hamming", "rust"): ex.hamming_matrix,
        ("hamming", "reference"): reference.hamming_matrix,
    }[what, impl]
    want = (reference.similarity_matrix if what == "similarity" else reference.hamming_matrix)(many)
    benchmark.group = f"{what} P=500 N=1024"
    got = benchmark(fn, many)
    assert np.array_equal(got, want)
    record_ratio(
        benchmark.group, impl, benchmark.stats.stats.median / 500 if benchmark.stats else None
    )
