"""What a benchmark ran on, and the machine's floors to measure it against.

* :func:`blas_description`: NumPy's BLAS as threadpoolctl sees it (library,
  kernel architecture, threads), the line every bench prints.
* :data:`SLOWING_VARIABLES` and :func:`full_speed_environment`: some hosts set
  ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` for old OpenBLAS builds; they
  make a current NumPy run older, slower GEMM kernels (about half speed on
  an AVX2 machine). Benchmark processes run without them; tests do not
  change them.
* :func:`measure_floors`: the rates no kernel can beat on this machine,
  measured, each with its arithmetic: the GEMM peak (float32 and float64
  matrix products through NumPy's BLAS) and the memory bandwidth (a large
  copy). :class:`Work` turns a workload into its floor time. The rate of the
  library's own XOR + popcount overlap kernel is printed beside them as a
  reference point, not as a floor: no independent kernel measures the
  machine's popcount limit from Python (NumPy's ``bitwise_count`` runs
  scalar ``popcnt``, which the library's AVX2 kernels already beat).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .._core import overlap_matrix, simd_level

__all__ = [
    "SLOWING_VARIABLES",
    "Floors",
    "Work",
    "blas_description",
    "full_speed_environment",
    "measure_floors",
    "slowing_variables_set",
]

#: Environment variables that slow a current NumPy's OpenBLAS when set.
SLOWING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def slowing_variables_set(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The :data:`SLOWING_VARIABLES` set in ``env`` (default: this process's)."""
    env = os.environ if env is None else env
    return {k: env[k] for k in SLOWING_VARIABLES if k in env}


def full_speed_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's) without :data:`SLOWING_VARIABLES`,
    for starting a benchmark process."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k not in SLOWING_VARIABLES}


def blas_description() -> str:
    """NumPy's BLAS: library, version, kernel architecture and threads.

    Reads threadpoolctl (the ``bench`` and ``test`` extras install it); says
    so when it is missing rather than guessing.
    """
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped]
    except ImportError:
        return "BLAS: unknown (pip install threadpoolctl to see the kernel)"
    parts = []
    for pool in threadpool_info():
        if pool.get("user_api") != "blas":
            continue
        parts.append(
            f"{pool.get('internal_api')} {pool.get('version')} "
            f"kernel={pool.get('architecture')} threads={pool.get('num_threads')}"
        )
    slowed = slowing_variables_set()
    note = f" [slowed by {', '.join(f'{k}={v}' for k, v in slowed.items())}]" if slowed else ""
    return "BLAS: " + ("; ".join(parts) or "none found") + note


@dataclass(frozen=True)
class Floors:
    """Measured best rates of this machine (all threads the call was given).

    ``gemm32`` and ``gemm64``: floating-point operations per second of a
    square float32 / float64 matrix product (``2 n³`` operations);
    ``popcount``: 64-bit words XORed and counted per second by
    :func:`hopfield.overlap_matrix` (the library's kernel: a reference
    point, not a floor);
    ``bandwidth``: bytes per second of a large copy (read + write).
    ``arithmetic`` says how each was obtained.
    """

    gemm32: float
    gemm64: float
    popcount: float
    bandwidth: float
    arithmetic: tuple[str, ...]

    def lines(self) -> list[str]:
        """The floors as printable lines."""
        return [
            f"GEMM float32 peak {self.gemm32 / 1e9:.1f} GFLOP/s",
            f"GEMM float64 peak {self.gemm64 / 1e9:.1f} GFLOP/s",
            f"XOR+popcount {self.popcount / 1e9:.2f} G words/s (library kernel, not a floor)",
            f"memory bandwidth {self.bandwidth / 1e9:.1f} GB/s",
            *self.arithmetic,
        ]


@dataclass(frozen=True)
class Work:
    """The unavoidable work of one query: floating-point operations (as a
    float32 or float64 GEMM would do them) and bytes that must cross the
    memory bus. Its floor is the slower of the two at the machine's
    measured rates (0 when no work is given)."""

    flops32: float = 0.0
    flops64: float = 0.0
    bytes: float = 0.0

    def floor(self, f: Floors) -> float:
        """Seconds per query no implementation can beat on this machine."""
        return max(
            self.flops32 / f.gemm32,
            self.flops64 / f.gemm64,
            self.bytes / f.bandwidth,
        )


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_floors(*, quick: bool = False) -> Floors:
    """Measure :class:`Floors` (about a second; ``quick``: smaller sizes)."""
    rng = np.random.default_rng(0)
    n = 1024 if quick else 2048
    a32 = rng.standard_normal((n, n), dtype=np.float32)
    a64 = a32.astype(np.float64)
    t32 = _best(lambda: a32 @ a32, 3)
    t64 = _best(lambda: a64 @ a64, 3)
    rows, words = (128, 64) if quick else (256, 128)
    bits = rng.integers(0, 2, size=(rows, 64 * words), dtype=np.int8) * 2 - 1
    tpop = _best(lambda: overlap_matrix(bits, bits), 3)
    mib = 64 if quick else 256
    src = np.ones(mib << 17)  # mib MiB of float64
    dst = np.empty_like(src)
    tcopy = _best(lambda: np.copyto(dst, src), 3)
    return Floors(
        gemm32=2 * n**3 / t32,
        gemm64=2 * n**3 / t64,
        popcount=rows * rows * words / tpop,
        bandwidth=2 * src.nbytes / tcopy,
        arithmetic=(
            f"  GEMM: 2·{n}³ operations / best of 3"
            f" ({t32 * 1e3:.1f} ms float32, {t64 * 1e3:.1f} ms float64)",
            f"  popcount: hopfield.overlap_matrix of {rows}×{64 * words} ±1 rows with themselves,"
            f" {rows}²·{words} words / {tpop * 1e3:.2f} ms (SIMD level {simd_level()})",
            f"  bandwidth: np.copyto of {mib} MiB, 2·{mib} MiB / {tcopy * 1e3:.1f} ms (one thread)",
        ),
    )
