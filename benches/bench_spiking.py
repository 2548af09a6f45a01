"""Spiking network: the Rust event-driven driver against the strongest exact NumPy loop.

N = 1024 LIF neurons (tau 20 ms, tau_syn 5 ms, t_ref 2 ms) storing 20 sparse
patterns (activity 0.1, covariance rule), B = 1000 cues (each a stored
pattern with 10 % of its neurons wrong), 1000 steps of dt = 0.1 ms (the cue
on for the first 200), from rest. The cued patterns are held as persistent
activity, about two spikes per cue and step.

The NumPy side is what a sceptic writes, and event-driven too: all cues at
once as ``(B, N)`` float64 arrays, the exact propagators of the leak and the
synaptic current applied in place, and each step's spikes delivered as rows
of ``Wᵀ/τ_s`` (a spike costs ``N`` additions, no ``N × N`` product), the k-th
spike of every cue in one fancy-indexed addition so that each cue's sums run
in neuron order. It computes the same arithmetic in the same order as the
Rust driver, and the bench checks that both give the same spikes (exactly)
before anything is timed; NumPy skips the readout of the overlaps (Rust
does it).

Run with ``python -m pytest benches/bench_spiking.py --benchmark-only``
(with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset for the process),
or ``--benchmark-disable`` to run each once.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

N, B, P, A, STEPS, CUE_STEPS, DT = 1024, 1000, 20, 0.1, 1000, 200, 0.1
LIF = {"tau": 20.0, "tau_syn": 5.0, "threshold": 1.0, "reset": 0.0, "refractory": 2.0}
CUE_CURRENT = 2.0


def numpy_spikes(w: np.ndarray, cues: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spikes ``(cue, neuron, step)`` of the cues, event-driven NumPy, in place."""
    b_, n = cues.shape
    out_rows = w.T / LIF["tau_syn"]
    leak, coupling, inp, decay, ref_steps = ref.lif_propagators(
        DT, LIF["tau"], LIF["tau_syn"], LIF["refractory"]
    )
    cue_input = 0.0 + CUE_CURRENT * cues
    u = np.zeros((b_, n))
    s = np.zeros((b_, n))
    nxt = np.empty((b_, n))
    tmp = np.empty((b_, n))
    held = np.empty((b_, n), dtype=bool)
    fire = np.empty((b_, n), dtype=bool)
    r = np.zeros((b_, n), dtype=np.int32)
    found = []
    for step in range(STEPS):
        np.multiply(u, leak, out=nxt)
        np.multiply(s, coupling, out=tmp)
        nxt += tmp
        if step < CUE_STEPS:
            np.multiply(cue_input, inp, out=tmp)
            nxt += tmp
        else:
            nxt += 0.0 * inp
        s *= decay
        np.greater(r, 0, out=held)
        np.subtract(r, 1, out=r, where=held)
        np.greater_equal(nxt, LIF["threshold"], out=fire)
        fire &= ~held
        np.copyto(u, nxt, where=~held)
        b, j = np.nonzero(fire)
        if b.size:
            u[b, j] = LIF["reset"]
            r[b, j] = ref_steps
            found.append((b, j, np.full(b.size, step)))
            rank = np.arange(b.size) - np.searchsorted(b, b)
            for k in range(int(rank.max()) + 1):
                sel = rank == k
                s[b[sel]] += out_rows[j[sel]]
    cue, neuron, when = (np.concatenate(x) for x in zip(*found, strict=True))
    order = np.lexsort((neuron, when, cue))
    return cue[order], neuron[order], when[order]


def _case() -> tuple[Callable[..., object], Callable[..., object]]:
    rng = np.random.default_rng(0)
    x = np.zeros((P, N), dtype=np.uint8)
    for row in x:
        row[rng.choice(N, int(A * N), replace=False)] = 1
    cues = x[np.arange(B) % P].astype(np.float64)
    for row in cues:
        wrong = rng.choice(N, N // 10, replace=False)
        row[wrong] = 1 - row[wrong]
    net = hf.SpikingHopfieldNetwork(N, **LIF)
    net.store(x)
    w = net.weights

    def rust(b: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        run = net.simulate(
            cues[:b],
            duration=STEPS * DT,
            cue_duration=CUE_STEPS * DT,
            dt=DT,
            cue_current=CUE_CURRENT,
            bin=10.0,
        )
        return run.cue, run.neuron, np.round(run.time / DT).astype(np.int64) - 1

    return rust, lambda b=B: numpy_spikes(w, cues[:b])


_CASE: list[tuple[Callable[..., object], Callable[..., object]]] = []


@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_spiking(benchmark, record_ratio, impl: str) -> None:
    if not _CASE:
        _CASE.append(_case())
        rust, numpy = _CASE[0]
        got, want = rust(16), numpy(16)
        assert got[0].size > 16 * STEPS  # persistent activity: spikes to deliver
        for g, e in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, e)
    rust, numpy = _CASE[0]
    benchmark.group = f"spiking N={N} B={B} steps={STEPS}"
    benchmark.extra_info.update(impl=impl, simd=hf.simd_level(), cpus=os.cpu_count())
    # Untimed (--benchmark-disable, as CI runs the benches) a slice of the
    # batch is enough; timed, one round of the NumPy loop (minutes at this
    # size) and three of Rust.
    b = 64 if benchmark.disabled else B
    benchmark.pedantic(
        (lambda: rust(b)) if impl == "rust" else (lambda: numpy(b)),
        rounds=3 if impl == "rust" else 1,
        iterations=1,
    )
    if benchmark.stats:
        record_ratio(benchmark.group, impl, benchmark.stats.stats.median / (B * STEPS))
    else:
        record_ratio(benchmark.group, impl, None)
