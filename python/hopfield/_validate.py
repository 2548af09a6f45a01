"""Argument checks shared by the public classes.

Every check raises ``TypeError`` or ``ValueError`` with a message that names
the argument and says what was expected, before any work is done.
"""

from __future__ import annotations

import numbers
import operator
import secrets
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .spins import as_spins, check_int

_SEED_LIMIT = 2**64


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an ``int`` of at least ``minimum``."""
    return check_int(value, name, minimum)


def seed(value: Any) -> int:
    """A 64-bit seed; ``None`` draws a fresh one from the OS."""
    if value is None:
        return secrets.randbits(64)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("seed must be an integer or None, not bool")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"seed must be an integer or None, got {type(value).__name__}") from None
    if not 0 <= result < _SEED_LIMIT:
        raise ValueError(f"seed must be in [0, 2**64), got {result}")
    return result


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    if not isinstance(value, str) or value not in options:
        expected = ", ".join(repr(o) for o in options)
        raise ValueError(f"{name} must be one of {expected}; got {value!r}")
    return value


def threshold(value: ArrayLike, n: int) -> np.ndarray:
    """A finite scalar or length-``n`` threshold as float64 ``(n,)``."""
    expected = "threshold must be a real number or an array of n real numbers"
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(expected) from None
    if raw.dtype.kind not in "biuf":  # None, strings, objects, complex
        raise TypeError(f"{expected}; got dtype {raw.dtype}")
    theta = raw.astype(np.float64)
    if theta.ndim == 0:
        theta = np.full(n, float(theta))
    elif theta.shape != (n,):
        raise ValueError(
            f"threshold must be a scalar or have shape ({n},), got shape {theta.shape}"
        )
    else:
        theta = np.array(theta, dtype=np.float64, order="C")
    if not np.all(np.isfinite(theta)):
        bad = int(np.argmax(~np.isfinite(theta)))
        raise ValueError(f"threshold must be finite; found {theta[bad]} at index {bad}")
    return theta


def as_batch(
    arr: np.ndarray, width: int, name: str, *, dim: str, what: str
) -> tuple[np.ndarray, bool]:
    """Check that ``arr`` is one row ``(width,)`` or a non-empty batch ``(B, width)``.

    ``dim`` names the width in messages (``"n"``, ``"d"``), ``what`` the
    entries (``"spins"``, ``"values"``). Returns the batch as 2-D and whether
    ``arr`` was a single row.
    """
    if arr.ndim == 1:
        if arr.shape[0] != width:
            raise ValueError(f"{name} must have length {dim} = {width}, got shape {arr.shape}")
        return arr.reshape(1, width), True
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D ({dim},) or 2-D (batch, {dim}), got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[1] != width:
        raise ValueError(f"{name} must have {dim} = {width} columns, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: expected at least one row of {dim} = {width} {what}")
    return arr, False


def spin_batch(x: ArrayLike, n: int, name: str) -> tuple[np.ndarray, bool]:
    """Coerce ``x`` to int8 ``(B, n)`` spins with ``B >= 1``.

    Returns the batch and whether ``x`` was a single ``(n,)`` state.
    """
    return as_batch(as_spins(x, name=name), n, name, dim="n", what="spins")


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real scalar (not bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def weight_matrix(value: ArrayLike, name: str) -> np.ndarray:
    """A real, finite, non-empty square matrix as C-ordered float32 ``(N, N)``.

    Always a new array (the caller's is never modified or aliased).
    """
    expected = f"{name} must be a real square (N, N) matrix"
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(expected) from None
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{expected}; got dtype {raw.dtype}")
    if raw.ndim != 2 or raw.shape[0] != raw.shape[1] or raw.shape[0] == 0:
        raise ValueError(f"{expected}; got shape {raw.shape}")
    if raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
        bad = np.argwhere(~np.isfinite(raw))[0]
        raise ValueError(
            f"{name} must be finite; found {raw[tuple(bad)]} at {tuple(int(b) for b in bad)}"
        )
    with np.errstate(over="ignore"):
        w = np.array(raw, dtype=np.float32, order="C")
    if not np.all(np.isfinite(w)):
        bad = np.argwhere(~np.isfinite(w))[0]
        raise ValueError(
            f"{name} must fit float32; {raw[tuple(bad)]} at {tuple(int(b) for b in bad)} "
            "overflows it"
        )
    return w


def mask(value: ArrayLike, n: int, rows: int, name: str) -> np.ndarray:
    """A boolean mask of shape ``(n,)`` or ``(rows, n)`` as bool ``(1, n)``
    or ``(rows, n)`` (a new array; the caller's is never aliased).

    ``rows`` is the number of queries the mask goes with.
    """
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a boolean mask of shape (n,) or (B, n)") from None
    if raw.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean mask (dtype bool, True = held), got dtype {raw.dtype}"
        )
    if raw.ndim == 1 and raw.shape == (n,):
        return np.array(raw.reshape(1, n), order="C")
    if raw.ndim == 2 and raw.shape[1] == n and raw.shape[0] in (1, rows):
        return np.array(raw, order="C")
    raise ValueError(
        f"{name} must have shape (n,) = ({n},) or (B, n) = ({rows}, {n}) "
        f"(one row per query), got shape {raw.shape}"
    )


def clamp_spins(value: ArrayLike | None, n: int, rows: int) -> np.ndarray | None:
    """``clamp=`` as the extension takes it: int8 ±1 ``(1, n)`` or
    ``(rows, n)``, +1 where the neuron is held; ``None`` when nothing is."""
    if value is None:
        return None
    m = mask(value, n, rows, "clamp")
    if not m.any():
        return None
    return np.where(m, np.int8(1), np.int8(-1))
