"""Refusing, before allocating, arrays that cannot fit in memory.

On Linux a too-large NumPy allocation usually succeeds (the kernel
overcommits) and the process is killed later, when the pages are touched;
no ``MemoryError`` is ever raised. Sizes are therefore checked first
against what the system reports available (the same check the Rust core
makes before its own large allocations).
"""

from __future__ import annotations

from ._core import available_memory

_CHECKED_BYTES = 64 << 20


def ensure_fits(nbytes: int, what: str) -> None:
    """Raise ``MemoryError`` if ``nbytes`` more bytes cannot be had."""
    if nbytes < _CHECKED_BYTES:
        return
    available = available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{what} would need {nbytes} bytes, but only {available} bytes of memory are available"
        )
