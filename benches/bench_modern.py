"""Modern Hopfield network: the fused Rust kernel against the NumPy reference.

One benchmark group per case, each timing the Rust path
(:meth:`hopfield.ModernHopfield.retrieve`, one step) and the strongest NumPy
float32 form (:func:`hopfield.reference.modern_update`: β folded into the
queries, two BLAS GEMMs, one in-place ``exp``, the division on the output;
OpenBLAS runs the products near the machine's GEMM peak). Both see the same
patterns and queries; before anything is timed both run once and must agree
within float32 tolerance.

Cases, at d = 1024, B = 1000 queries (20%-noise copies of stored patterns):

* ``beta=1/sqrt(d)`` at P = 1,000, 10,000 and 20,000: attention scaling;
  the skip rule zeroes many weights, but too few can be ruled out from
  8-bit bounds for screening to pay, so the kernel runs two full products;
* ``beta=0.05``: a retrieval β (every other weight is below ``exp(−40)``, so
  the kernel skips them), chosen so that NumPy's float32 ``exp`` does not
  reach its slow underflow path (below −88), which would flatter the ratio;
* ``B=1``, both β, P = 10,000: one query per call, memory-bound for NumPy;
* ``±1``: ±1 patterns and queries (20% of spins flipped) at a retrieval β,
  scored through XOR + popcount.

The floor of a query (``conftest.py``): the two products, ``2 · 2·P·d``
operations at the float32 GEMM peak, and for one query per call the
``4·P·d`` bytes of the keys read once (none for ±1: see
:mod:`hopfield.lab.machine` on the popcount rate).

``test_peak_memory`` measures, in a fresh process, the peak resident memory
a retrieval adds: O(B·d + tile) for the kernel, O(B·P) for NumPy.

Run with ``python -m pytest benches/bench_modern.py --benchmark-only`` for
timings (ratio table at the end) or ``--benchmark-disable`` to run each once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference
from hopfield.lab.machine import Work

D, B = 1024, 1000


@dataclass
class Case:
    name: str
    beta: float
    patterns: np.ndarray
    queries: np.ndarray
    net: hf.ModernHopfield
    expected: np.ndarray | None = None

    @property
    def p(self) -> int:
        return self.patterns.shape[0]

    def run_rust(self) -> np.ndarray:
        return self.net.retrieve(self.queries).states

    def run_reference(self) -> np.ndarray:
        if self.queries.shape[0] == 1:  # one query as a vector: BLAS's matrix-vector path
            q = self.queries[0]
            return reference.modern_update(self.patterns, q, self.beta, dtype=np.float32)[None]
        return reference.modern_update(self.patterns, self.queries, self.beta, dtype=np.float32)

    def work(self) -> Work:
        b = self.queries.shape[0]
        if self.net.binary:
            return Work()  # no measured popcount floor (see hopfield.lab.machine)
        return Work(flops32=2 * 2 * self.p * D, bytes=4 * self.p * D / b)

    def check(self) -> None:
        if self.expected is None:
            rust = self.run_rust()
            want = reference.modern_update(self.patterns, self.queries, self.beta)  # float64
            scale = np.abs(want).max()
            np.testing.assert_allclose(rust, want, rtol=0, atol=1e-4 * scale)
            np.testing.assert_allclose(self.run_reference(), want, rtol=0, atol=1e-4 * scale)
            self.expected = rust


_DATA: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, hf.ModernHopfield]] = {}


def _data(kind: str, p: int) -> tuple[np.ndarray, np.ndarray, hf.ModernHopfield]:
    if (kind, p) not in _DATA:
        _DATA.clear()  # one memory at a time (P = 20,000 holds 80 MB of keys)
        rng = np.random.default_rng(0)
        if kind == "float":
            x = rng.standard_normal((p, D), dtype=np.float32)
            noise = rng.standard_normal((B, D), dtype=np.float32)
            q = x[:B] + 0.2 * noise  # ‖noise‖ ≈ 0.2‖x‖
        else:
            x = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(p, D))
            flip = rng.random((B, D)) < 0.2
            q = np.where(flip, -x[:B], x[:B]).astype(np.float32)
        net = hf.ModernHopfield()
        net.store(x)
        _DATA[kind, p] = (x, q, net)
    return _DATA[kind, p]


#: name -> (kind, P, queries per call, beta); ordered so that cases sharing
#: a memory are adjacent.
CASES = {
    "P=1000 beta=1/sqrt(d)": ("float", 1000, B, 1 / np.sqrt(D)),
    "P=10000 beta=1/sqrt(d)": ("float", 10_000, B, 1 / np.sqrt(D)),
    "P=10000 beta=0.05": ("float", 10_000, B, 0.05),
    "P=10000 B=1 beta=1/sqrt(d)": ("float", 10_000, 1, 1 / np.sqrt(D)),
    "P=10000 B=1 beta=0.05": ("float", 10_000, 1, 0.05),
    "P=20000 beta=1/sqrt(d)": ("float", 20_000, B, 1 / np.sqrt(D)),
    "+-1 P=10000 beta=0.1": ("binary", 10_000, B, 0.1),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    kind, p, b, beta = CASES[request.param]
    x, q, net = _data(kind, p)
    net.beta = beta
    return Case(request.param, beta, x, q[:b], net)


@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_modern_retrieve(benchmark, record_ratio, case: Case, impl: str) -> None:
    case.check()
    target = case.run_rust if impl == "rust" else case.run_reference
    b = case.queries.shape[0]
    benchmark.group = f"modern d={D} {case.name}"
    benchmark.extra_info.update(
        impl=impl,
        d=D,
        patterns=case.p,
        queries=b,
        beta=case.beta,
        simd=hf.simd_level(),
        cpus=os.cpu_count(),
    )
    got = benchmark(target)
    scale = np.abs(case.expected).max()
    np.testing.assert_allclose(got, case.expected, rtol=0, atol=1e-4 * scale)
    if case.name.startswith("+-1"):
        assert case.net.binary
    if benchmark.stats:
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["us_per_query"] = seconds / b * 1e6
        record_ratio(benchmark.group, impl, seconds / b, case.work())
    else:
        record_ratio(benchmark.group, impl, None)


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import hopfield as hf
    from hopfield import reference
    d, p, b = 512, 20000, 2000
    rng = np.random.default_rng(0)
    x = rng.standard_normal((p, d), dtype=np.float32)
    q = rng.standard_normal((b, d), dtype=np.float32)
    net = hf.ModernHopfield(beta=d ** -0.5)
    net.store(x)
    net.retrieve(q[:8])
    def status(key):
        with open("/proc/self/status") as f:
            line = next(l for l in f if l.startswith(key + ":"))
        return int(line.split()[1]) * 1024
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak resident set size (VmHWM) to the current one
    before = status("VmRSS")
    if sys.argv[1] == "rust":
        out = net.retrieve(q).states
    else:
        out = reference.modern_update(x, q, d ** -0.5, dtype=np.float32)
    print(status("VmHWM") - before)
    """
)


def _extra_peak(impl: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, impl],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return int(proc.stdout.strip())


def test_peak_memory() -> None:
    """The kernel adds O(B·d + tile) memory; NumPy materialises the (B, P) scores."""
    p, d, b = 20_000, 512, 2000
    scores = b * p * 4
    rust = _extra_peak("rust")
    numpy = _extra_peak("reference")
    print(
        f"\npeak extra memory, B={b} d={d} P={p}: rust {rust / 2**20:.1f} MiB, "
        f"numpy {numpy / 2**20:.1f} MiB (scores alone {scores / 2**20:.0f} MiB)"
    )
    # output + query copy (8 MiB) + per-thread block state; far below B·P
    assert rust < 48 * 2**20, rust
    assert numpy > scores * 0.9, numpy
