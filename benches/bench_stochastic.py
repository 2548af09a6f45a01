"""Stochastic (Glauber) sweeps: the Rust path against the vectorised NumPy reference.

One group per model. Each group times ``sweeps`` Glauber sweeps at a fixed
temperature of a batch of chains, in Rust (``retrieve(temperature=...)``) and
in the NumPy reference (:func:`hopfield.reference.glauber_hebbian` /
:func:`hopfield.reference.glauber_dense`, vectorised over the chains: each
step updates one neuron of every chain). The reference is given the neuron
orders and acceptance uniforms the Rust run draws
(:func:`hopfield.sweep_orders`, :func:`hopfield.acceptance_uniforms`, built
outside the timed region), so before anything is timed both must end in
identical states. The chains start from states already equilibrated at the
temperature (a Rust burn-in), so the timed sweeps are typical of sampling.

Models: the Hebbian network (N = 1024, P = 102) and a dense Ising problem
(N = 2000, Sherrington–Kirkpatrick couplings) sampled with
:func:`hopfield.sample`; the Rust timing includes building each chain's
field cache (one pass over the couplings per four chains).

The ratio table (``conftest.py``) reports time per chain-sweep (its
``us/query`` column); ``extra_info`` has ``sweeps_per_s`` (chain-sweeps per
second). Target: the Rust path at least 50× the reference.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference

SEED = 7


@dataclass
class Case:
    """One model, its equilibrated starting states and the reference's inputs."""

    name: str
    n: int
    chains: int
    sweeps: int
    temperature: float
    retrieve: Callable[..., Any]
    run_reference: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    starts: np.ndarray
    orders: np.ndarray | None = None
    uniforms: np.ndarray | None = None
    expected: np.ndarray | None = None

    @property
    def group(self) -> str:
        return f"glauber {self.name} N={self.n} chains={self.chains} sweeps={self.sweeps}"

    def run_rust(self) -> np.ndarray:
        return self.retrieve(
            self.starts, temperature=self.temperature, sweeps=self.sweeps, seed=SEED
        ).states

    def reference_inputs(self) -> None:
        if self.orders is None:
            self.orders = hf.sweep_orders(self.n, self.sweeps, seed=SEED, count=self.chains)
            self.uniforms = hf.acceptance_uniforms(
                self.n, self.sweeps, seed=SEED, count=self.chains
            )

    def run_ref(self) -> np.ndarray:
        temps = np.full(self.sweeps, self.temperature)
        return self.run_reference(self.orders, self.uniforms, temps)[0]

    def check(self) -> np.ndarray:
        if self.expected is None:
            self.reference_inputs()
            rust = self.run_rust()
            np.testing.assert_array_equal(rust, self.run_ref())
            # The chains move: a sweep at this temperature changes the states.
            assert (rust != self.starts).any(axis=1).mean() > 0.5
            self.expected = rust
        return self.expected


def equilibrated(retrieve: Callable[..., Any], n: int, chains: int, t: float) -> np.ndarray:
    starts = hf.sampling.random_states(chains, n, seed=1)
    return retrieve(starts, temperature=t, sweeps=30, seed=2).states


def hebbian_case() -> Case:
    n, p, chains, sweeps, t = 1024, 102, 64, 3, 0.5
    patterns = hf.random_patterns(p, n, seed=1)
    net = hf.HopfieldNetwork(n)
    net.store(patterns)
    starts = equilibrated(net.retrieve, n, chains, t)
    return Case(
        f"hebbian P={p} T={t}",
        n,
        chains,
        sweeps,
        t,
        net.retrieve,
        lambda o, u, ts: reference.glauber_hebbian(patterns, starts, o, u, ts),
        starts,
    )


def ising_case() -> Case:
    """A dense Sherrington–Kirkpatrick problem, ``J_ij ~ N(0, 1/N)``, below its
    critical temperature 1, through :func:`hopfield.sample` on an IsingProblem."""
    n, chains, sweeps, t = 2000, 8, 8, 0.5
    rng = np.random.default_rng(3)
    upper = np.triu(rng.normal(0.0, 1.0 / np.sqrt(n), (n, n)), 1)
    J = upper + upper.T
    problem = hf.IsingProblem(J)
    stored = reference.quantize_weights(J).astype(np.float64)  # what the engine holds

    def run(starts: np.ndarray, *, temperature: float, sweeps: int, seed: int) -> Any:
        return hf.sample(
            problem,
            temperature=temperature,
            n_samples=1,
            burn_in=sweeps - 1,
            seed=seed,
            init=starts,
        )

    class _Result:
        def __init__(self, samples: Any) -> None:
            self.states = samples.final_states

    def retrieve(starts: np.ndarray, **kw: Any) -> Any:
        return _Result(run(starts, **kw))

    starts = equilibrated(retrieve, n, chains, t)
    return Case(
        f"ising SK T={t}",
        n,
        chains,
        sweeps,
        t,
        retrieve,
        lambda o, u, ts: reference.glauber_dense(stored, starts, o, u, ts),
        starts,
    )


CASES = {"hebbian": hebbian_case, "ising": ising_case}


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]()


@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_glauber_sweeps(benchmark, record_ratio, case: Case, impl: str) -> None:
    expected = case.check()
    target = case.run_rust if impl == "rust" else case.run_ref
    benchmark.group = case.group
    benchmark.extra_info.update(
        impl=impl,
        n=case.n,
        chains=case.chains,
        sweeps=case.sweeps,
        temperature=case.temperature,
        simd=hf.simd_level(),
        cpus=os.cpu_count(),
    )
    if impl == "reference":  # seconds per call: two rounds are enough
        got = benchmark.pedantic(target, rounds=2, iterations=1)
    else:
        got = benchmark(target)
    np.testing.assert_array_equal(got, expected)
    if benchmark.stats:
        seconds = benchmark.stats.stats.median / (case.chains * case.sweeps)
        benchmark.extra_info["sweeps_per_s"] = 1.0 / seconds
        record_ratio(case.group, impl, seconds)
    else:
        record_ratio(case.group, impl, None)
